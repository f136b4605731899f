#!/usr/bin/env bash
# The chaos suite (tests/chaos/chaos.py, docs/reliability.md): crashes and
# power loss, a full disk, overload and malformed floods against the real
# binaries on a netns testbed. Bounded: iterations and durations are
# parameters and the whole run has a wall-clock limit.
#
#   scripts/chaos.sh [--short | --long] [--iterations N] [--duration S]
#                    [--scenarios crash,disk,overload,malformed,consumer] [--seed N]
#                    [--build DIR] [--timeout S] [--figures PATH]
#
# --short (default): 5 crash iterations, 5 s phases (the `chaos` test of
# meson's integration suite runs the same); --long: 100 iterations, 30 s.
# Exit status: 0 when every check passed, 1 otherwise, 2 on a usage error.
set -uo pipefail
cd "$(dirname "$0")/.."

usage() {
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

iterations=5 duration=5 scenarios=crash,disk,overload,malformed,consumer
seed= build=build limit=900 figures=
while [[ $# -gt 0 ]]; do
	case $1 in
	--short) iterations=5 duration=5 limit=900 ;;
	--long) iterations=100 duration=30 limit=3600 ;;
	--iterations) iterations=${2:?--iterations needs a number}; shift ;;
	--duration) duration=${2:?--duration needs seconds}; shift ;;
	--scenarios) scenarios=${2:?--scenarios needs a list}; shift ;;
	--seed) seed=${2:?--seed needs a number}; shift ;;
	--build) build=${2:?--build needs a directory}; shift ;;
	--timeout) limit=${2:?--timeout needs seconds}; shift ;;
	--figures) figures=${2:?--figures needs a path}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "chaos.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
for tool in evgate/evgate evtail/evtail evpub/evpub evsub/evsub; do
	if [[ ! -x $build/app/$tool ]]; then
		echo "chaos.sh: $build/app/$tool not built (scripts/build.sh $build)" >&2
		exit 2
	fi
done
args=(--evgate "$build/app/evgate/evgate" --evtail "$build/app/evtail/evtail"
	--evpub "$build/app/evpub/evpub" --evsub "$build/app/evsub/evsub"
	--iterations "$iterations"
	--duration "$duration" --scenarios "$scenarios")
[[ -n $seed ]] && args+=(--seed "$seed")
[[ -n $figures ]] && args+=(--figures "$figures")
# SIGTERM at the limit: chaos.py cleans up (by PID) and exits; SIGKILL 60 s later.
timeout --kill-after=60 "$limit" python3 tests/chaos/chaos.py "${args[@]}" &
child=$!
trap 'kill -INT "$child" 2>/dev/null' INT TERM
wait "$child"
rc=$?
while kill -0 "$child" 2>/dev/null; do # a signal cut the wait short
	wait "$child"
	rc=$?
done
[[ $rc -eq 124 ]] && echo "chaos.sh: stopped after the $limit s limit" >&2
[[ $rc -eq 0 ]] && exit 0
[[ $rc -eq 2 ]] && exit 2
exit 1
