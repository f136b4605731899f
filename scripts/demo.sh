#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, then runs
# evgate end to end on its built-in default configuration:
#
#   1. evgate --version and --help;
#   2. a testbed (scripts/testbed.sh): a veth pair into a network namespace;
#   3. evgate on the host end (DPDK net_af_packet) as 10.74.0.2/24;
#   4. from the namespace: ping, a producer sending a few thousand events
#      (scripts/evf.py), and malformed datagrams that must go unanswered;
#   5. the counters (telemetry), then SIGINT and evgate's final counters.
#
# Everything it starts is stopped and removed on exit, however it exits.
# Needs root. Names are overridable, as for scripts/testbed.sh:
# EVG_TB_NS (evgdemo), EVG_TB_HOST_IF (evgd0), EVG_TB_NS_IF (evgd1).
set -euo pipefail
cd "$(dirname "$0")/.."

EVG_HUGEPAGES=${EVG_HUGEPAGES:-512} scripts/setup-deps.sh
scripts/build.sh build >/dev/null
evgate=build/app/evgate/evgate

echo "\$ $evgate --version"
"$evgate" --version
echo
echo "\$ $evgate --help"
"$evgate" --help
echo

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: the end-to-end part needs root (network namespace, veth, DPDK); stopping here" >&2
	exit 1
fi

export EVG_TB_NS=${EVG_TB_NS:-evgdemo}
export EVG_TB_HOST_IF=${EVG_TB_HOST_IF:-evgd0}
export EVG_TB_NS_IF=${EVG_TB_NS_IF:-evgd1}
prefix=evgdemo$$
gate_ip=10.74.0.2
events=${EVG_DEMO_EVENTS:-5000}
work=$(mktemp -d /tmp/evg-demo.XXXXXX)
log=$work/evgate.log
mkdir -p "$work/log"
gate_pid=

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	if [[ -n $gate_pid ]] && kill -0 "$gate_pid" 2>/dev/null; then
		echo "demo: stopping evgate (pid $gate_pid)"
		kill -TERM "$gate_pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$gate_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$gate_pid" 2>/dev/null || true
		wait "$gate_pid" 2>/dev/null || true
	fi
	scripts/testbed.sh down >/dev/null || echo "demo: testbed down failed" >&2
	rm -rf "$work" "/var/run/dpdk/$prefix"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

in_ns() {
	echo "\$ $*"
	ip netns exec "$EVG_TB_NS" "$@"
}

# Bounded wait for a line in evgate's log; fails if evgate exits first.
wait_for() {
	local text=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$text" "$log" && return 0
		kill -0 "$gate_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

echo "== testbed"
scripts/testbed.sh up
echo

echo "== evgate"
mem=(--in-memory)
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if ((free < 200)); then
	# --no-huge implies --legacy-mem, which EAL refuses with --in-memory.
	echo "demo: only $free free 2 MiB hugepages: running with --no-huge -m 512"
	mem=(--no-huge -m 512 --no-shconf)
fi
cmd=("$evgate" -l 0-1 "${mem[@]}" --no-pci --file-prefix "$prefix"
	"--vdev=net_af_packet0,iface=$EVG_TB_HOST_IF,framecnt=4096"
	--log-level=user1:info
	-- --ip "$gate_ip/24" --stats 1 --log-dir "$work/log")
echo "\$ ${cmd[*]} &"
"${cmd[@]}" >"$log" 2>&1 &
gate_pid=$!
if ! wait_for "evgate: ready" 30; then
	echo "demo: evgate did not get ready within 30 s; its output:" >&2
	cat "$log" >&2
	exit 1
fi
grep -- "evgate: ready" "$log"
echo

echo "== reachability from the namespace (ARP and ICMP answered by evgate)"
in_ns ping -c 3 -i 0.2 -W 1 "$gate_ip"
echo

echo "== a producer: $events events in frames of 16, each ACKed"
evf=(python3 scripts/evf.py)
in_ns "${evf[@]}" ping --to "$gate_ip" --producer 7 --stream 1 --session 1
in_ns "${evf[@]}" send --to "$gate_ip" --producer 7 --stream 1 --session 1 \
	--events "$events" --batch 16
echo "   (the same events again: every one a duplicate, re-ACKed, none stored twice)"
in_ns "${evf[@]}" send --to "$gate_ip" --producer 7 --stream 1 --session 1 \
	--events "$events" --batch 16
echo

echo "== junk: malformed datagrams are counted and never answered"
in_ns "${evf[@]}" junk --to "$gate_ip" --count 20 --timeout 1
echo

echo "== counters"
sleep 1.2 # one more --stats line
echo "evgate's latest --stats line:"
grep -- "evgate: stats" "$log" | tail -1
if [[ -S /var/run/dpdk/$prefix/dpdk_telemetry.v2 ]]; then
	echo "telemetry /evgate/stats (non-zero counters):"
	python3 - "/var/run/dpdk/$prefix/dpdk_telemetry.v2" <<'EOF' || true
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(3)
s.connect(sys.argv[1])
s.recv(4096)  # greeting
s.send(b"/evgate/stats")
stats = json.loads(s.recv(1 << 20))["/evgate/stats"]
shown = [(k, v) for k, v in stats.items() if v and "polls" not in k]
for k, v in shown:
    print(f"  {k:28} {v}")
if not shown:
    print("  (none returned)")
EOF
fi
echo

echo "== SIGINT: evgate drains and prints its final counters"
kill -INT "$gate_pid"
for ((i = 0; i < 100; i++)); do
	kill -0 "$gate_pid" 2>/dev/null || break
	sleep 0.1
done
rc=0
if kill -0 "$gate_pid" 2>/dev/null; then
	echo "demo: evgate still running 10 s after SIGINT" >&2
	rc=1
else
	wait "$gate_pid" || rc=$?
	gate_pid=
	echo "evgate exited with status $rc"
fi
sed -n '/evgate: signal/,$p' "$log" | grep -v '_polls ' || true
echo

echo "== testbed down"
scripts/testbed.sh down
exit "$rc"
