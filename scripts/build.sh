#!/usr/bin/env bash
# Configures (or reconfigures) and builds a meson build directory.
#   scripts/build.sh DIR [meson options...]
# CC in the environment picks the compiler of a new DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/build.sh DIR [meson options]}
shift
if [[ -f $dir/build.ninja ]]; then
	meson setup --reconfigure "$dir" "$@" >/dev/null
else
	meson setup "$dir" "$@"
fi
ninja -C "$dir"
