#!/usr/bin/env bash
# The README's test command and what .ci/run calls. Installs what is
# missing, then builds and runs every test suite twice:
#   1. gcc, -Werror                                 (build-test-gcc)
#   2. clang, -Werror, ASan + UBSan, libFuzzer smoke (build-test-asan)
# Exits non-zero on any failure and ends with the test summary.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup-deps.sh || exit 1

failed=0
builds=()
run() {
	local dir=$1 cc=$2
	shift 2
	echo "=== $dir: CC=$cc $*"
	rm -f "$dir/meson-logs/testlog.json" # a failed build must not report old results
	builds+=("$dir")
	if ! CC=$cc scripts/build.sh "$dir" -Dwerror=true "$@"; then
		echo "=== $dir: BUILD FAILED"
		failed=1
		return
	fi
	if ! meson test -C "$dir" --print-errorlogs --num-processes 2; then
		failed=1
	fi
}

run build-test-gcc gcc
run build-test-asan clang -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true

echo
python3 scripts/test-summary.py "${builds[@]}" || failed=1
exit $failed
