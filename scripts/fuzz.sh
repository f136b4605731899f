#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time.
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags...]
# TARGET is a tests/fuzz/fuzz_TARGET.c (e.g. evf). Builds build-fuzz with
# clang + ASan + UBSan, fuzzes a scratch copy of tests/fuzz/corpus/TARGET
# on one core, and copies any crashing input to
# tests/fuzz/regressions/TARGET/ so the replay test keeps it fixed.
# Prints the execution count; exits non-zero on a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
secs=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
shift 2
[[ -f tests/fuzz/fuzz_$target.c ]] || { echo "fuzz.sh: no target tests/fuzz/fuzz_$target.c" >&2; exit 2; }
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive integer, got '$secs'" >&2; exit 2; }

CC=clang scripts/build.sh build-fuzz -Db_sanitize=address,undefined -Db_lundef=false \
	-Dfuzz=true -Dfuzz_smoke_runs=0 >/dev/null
work=$(mktemp -d /tmp/evg-fuzz-"$target".XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts" "tests/fuzz/regressions/$target"
cp tests/fuzz/corpus/"$target"/* "$work/corpus/"

echo "fuzz.sh: fuzzing $target for ${secs}s"
set +e
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	build-fuzz/tests/fuzz/fuzz_"$target" -max_total_time="$secs" -max_len=9000 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" \
	"$work/corpus" 2>"$work/log"
rc=$?
set -e
grep -E '^(#[0-9]+.*DONE|stat::|==[0-9]+==ERROR|SUMMARY)' "$work/log" || tail -20 "$work/log"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
crashes=$(find "$work/artifacts" -type f | wc -l)
if ((crashes > 0)); then
	cp "$work"/artifacts/* "tests/fuzz/regressions/$target/"
	echo "fuzz.sh: $crashes crashing input(s) saved to tests/fuzz/regressions/$target/"
fi
echo "fuzz.sh: target=$target seconds=$secs executions=${execs:-unknown} crashes=$crashes rc=$rc"
exit $rc
