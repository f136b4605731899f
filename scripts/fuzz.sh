#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time or number of executions.
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags...]
#   scripts/fuzz.sh TARGET runs=N [extra libFuzzer flags...]   (N: 500k, 10M)
# TARGET is a tests/fuzz/fuzz_TARGET.c (evf, journal, cfg). Builds
# $FUZZ_BUILD (default build-fuzz) with clang + ASan + UBSan, fuzzes a
# scratch copy of tests/fuzz/corpus/TARGET on one core, and copies any
# crashing input to tests/fuzz/regressions/TARGET/ so the replay test keeps
# it fixed. Prints executions, exec/s and coverage; exits non-zero on a
# crash.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/fuzz.sh TARGET SECONDS|runs=N [libFuzzer flags...]"
target=${1:?$usage}
limit=${2:?$usage}
shift 2
build=${FUZZ_BUILD:-build-fuzz}
[[ -f tests/fuzz/fuzz_$target.c ]] || { echo "fuzz.sh: no target tests/fuzz/fuzz_$target.c" >&2; exit 2; }
if [[ $limit =~ ^runs=([0-9]+)([kM]?)$ ]]; then
	runs=${BASH_REMATCH[1]}
	case ${BASH_REMATCH[2]} in k) runs=$((runs * 1000)) ;; M) runs=$((runs * 1000000)) ;; esac
	bound=(-runs="$runs")
	what="$runs executions"
elif [[ $limit =~ ^[0-9]+$ && $limit -gt 0 ]]; then
	bound=(-max_total_time="$limit")
	what="${limit}s"
else
	echo "fuzz.sh: expected SECONDS (a positive integer) or runs=N (e.g. runs=10M), got '$limit'" >&2
	exit 2
fi
# Journal inputs hold whole 4 KiB blocks; the others are frames and lines.
case $target in journal) max_len=16384 ;; *) max_len=9000 ;; esac

CC=clang scripts/build.sh "$build" -Db_sanitize=address,undefined -Db_lundef=false \
	-Dfuzz=true -Dfuzz_smoke_runs=0 >/dev/null
work=$(mktemp -d /tmp/evg-fuzz-"$target".XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts" "tests/fuzz/regressions/$target"
cp tests/fuzz/corpus/"$target"/* "$work/corpus/"

echo "fuzz.sh: fuzzing $target for $what"
set +e
# A small ASan quarantine reuses freed memory sooner (fewer fresh pages
# to fault in): the journal target allocates whole journals per input.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16} \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$build"/tests/fuzz/fuzz_"$target" "${bound[@]}" -max_len="$max_len" \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" \
	"$work/corpus" 2>"$work/log"
rc=$?
set -e
grep -E '^(#[0-9]+.*DONE|stat::|==[0-9]+==ERROR|SUMMARY|fuzz_.*invariant)' "$work/log" || tail -20 "$work/log"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/log" | tail -1)
# crash-, leak-, timeout-, oom-: findings, kept as regressions. slow-unit-
# (over -report_slow_units seconds) is said, not kept: a paused or
# starved fuzzer makes any input slow.
crashes=$(find "$work/artifacts" -type f ! -name 'slow-unit-*' | wc -l)
if ((crashes > 0)); then
	find "$work/artifacts" -type f ! -name 'slow-unit-*' \
		-exec cp {} "tests/fuzz/regressions/$target/" \;
	echo "fuzz.sh: $crashes crashing input(s) saved to tests/fuzz/regressions/$target/"
fi
slow=$(find "$work/artifacts" -type f -name 'slow-unit-*' | wc -l)
((slow > 0)) && echo "fuzz.sh: $slow slow input(s) reported (not kept): $(ls "$work/artifacts" | grep slow-unit | head -3)"
echo "fuzz.sh: target=$target limit=$limit executions=${execs:-unknown} exec/s=${rate:-unknown} ${cov:-cov: unknown} crashes=$crashes rc=$rc"
exit $rc
