#!/usr/bin/env bash
# The README's main command. For now: installs what is missing, builds
# evgate and shows its version and help. (The end-to-end demo arrives
# with the data path.)
set -euo pipefail
cd "$(dirname "$0")/.."
EVG_HUGEPAGES=${EVG_HUGEPAGES:-512} scripts/setup-deps.sh
scripts/build.sh build >/dev/null
echo "\$ build/app/evgate/evgate --version"
build/app/evgate/evgate --version
echo
echo "\$ build/app/evgate/evgate --help"
build/app/evgate/evgate --help
