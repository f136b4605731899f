#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, then runs
# evgate end to end on its built-in default configuration:
#
#   1. a testbed (scripts/testbed.sh): a veth pair into a network namespace;
#   2. evgate on the host end (DPDK net_af_packet) as 10.74.0.2/24, with
#      only what the defaults cannot know: the address, the port, the
#      lcores, a log directory in a temporary directory, and ACK level
#      synced (an ACK means the event is on stable storage);
#   3. from the namespace: ping; a consumer group of two evsub members
#      tailing stream 1; evpub sending 20000 generated events, with its
#      rate and ACK latency; scripts/evf.py resending events (all
#      duplicates) and sending junk; evpub sending key<TAB>value lines
#      from stdin;
#   4. evtail: the last events of the log (those lines), and --verify;
#      the two members' share of every event, each delivered once, and
#      their latency (producer timestamp to delivery);
#   5. evgate's counters (telemetry), then SIGINT and its final counters.
#
# Everything it starts is stopped and removed on exit, however it exits
# (Ctrl-C included): processes by PID, the testbed, the EAL runtime
# directory and the temporary directory. Needs root.
#
# Environment (defaults in brackets):
#   EVG_DEMO_BUILD   build directory [build] (configured with CC, default gcc)
#   EVG_DEMO_EVENTS  generated events sent by evpub [20000]
#   EVG_TB_NS, EVG_TB_HOST_IF, EVG_TB_NS_IF  testbed names [evgdemo, evgd0, evgd1]
set -euo pipefail
cd "$(dirname "$0")/.."

build=${EVG_DEMO_BUILD:-build}
events=${EVG_DEMO_EVENTS:-20000}
[[ $events =~ ^[1-9][0-9]{0,6}$ ]] ||
	{ echo "demo: EVG_DEMO_EVENTS=$events: expected an integer 1-9999999" >&2; exit 2; }
export EVG_TB_NS=${EVG_TB_NS:-evgdemo}
export EVG_TB_HOST_IF=${EVG_TB_HOST_IF:-evgd0}
export EVG_TB_NS_IF=${EVG_TB_NS_IF:-evgd1}
prefix=evgdemo$$
gate_ip=10.74.0.2
# What cleanup() undoes; set as each comes into being.
work=
tb_up=0
gate_pid=
child=
sub_pids=()
t0=$SECONDS

# Stops a process by PID: SIGTERM, up to 5 s, then SIGKILL; reaps it.
# shellcheck disable=SC2317 # reached through the trap
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local rc=$?
	trap - EXIT
	trap '' INT TERM HUP # a second Ctrl-C cannot cut the cleanup short
	echo
	echo "== cleanup"
	if [[ -n $child ]]; then
		stop_pid "$child"
	fi
	for pid in "${sub_pids[@]}"; do
		stop_pid "$pid"
	done
	if [[ -n $gate_pid ]] && kill -0 "$gate_pid" 2>/dev/null; then
		echo "demo: stopping evgate (pid $gate_pid)"
		stop_pid "$gate_pid"
	fi
	if ((tb_up)); then
		scripts/testbed.sh down || echo "demo: testbed down failed" >&2
	fi
	rm -rf "/var/run/dpdk/$prefix"
	if [[ -n $work ]]; then
		rm -rf "$work"
		echo "demo: removed $work"
	fi
	if ((rc == 0)); then
		echo "demo: done in $((SECONDS - t0)) s after the build"
	else
		echo "demo: FAILED (exit status $rc)" >&2
	fi
	exit "$rc"
}
# Set before anything is made. A SIGINT sent to this script alone (not a
# terminal's Ctrl-C, which reaches its children too) takes effect when the
# command in the foreground ends: short ones, or wait_on() below.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

EVG_HUGEPAGES=${EVG_HUGEPAGES:-512} scripts/setup-deps.sh
echo "demo: building $build"
if ! built=$(CC=${CC:-gcc} scripts/build.sh "$build" 2>&1); then
	printf '%s\n' "$built" | tail -n 30 >&2
	echo "demo: the build failed (above)" >&2
	exit 1
fi
evgate=$build/app/evgate/evgate
evpub=$build/app/evpub/evpub
evtail=$build/app/evtail/evtail
evsub=$build/app/evsub/evsub
"$evgate" --version
t0=$SECONDS

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: the end-to-end part needs root (network namespace, veth, DPDK); stopping here" >&2
	exit 1
fi
work=$(mktemp -d /tmp/evg-demo.XXXXXX)
out=$work/evgate.out
logdir=$work/log
mkdir "$logdir"

# Runs a command in the background and waits for it, so that a signal to
# this script is handled at once (the trap kills it by PID) instead of
# after the command ends. The command's exit status.
wait_on() {
	"$@" <&0 & # <&0: a background job would read /dev/null otherwise
	child=$!
	local rc=0
	wait "$child" || rc=$?
	child=
	return "$rc"
}

in_ns() {
	echo "\$ ip netns exec $EVG_TB_NS $*"
	wait_on ip netns exec "$EVG_TB_NS" "$@"
}

# Bounded wait for a line in evgate's output; fails if evgate exits first.
wait_for() {
	local text=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$text" "$out" && return 0
		kill -0 "$gate_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# A selection of evgate's counters over its telemetry socket.
counters() {
	wait_on python3 - "/var/run/dpdk/$prefix/dpdk_telemetry.v2" <<'EOF'
import json, socket, sys

def ask(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(3)
    s.connect(sys.argv[1])
    s.recv(4096)  # greeting
    s.send(cmd.encode())
    reply = json.loads(s.recv(1 << 20))[cmd]
    s.close()
    return reply

stats, drops = ask("/evgate/stats"), ask("/evgate/drops")
shown = ["rx_packets", "rx_icmp_replies", "rx_arp_replies",
         "seq_events_accepted", "seq_events_duplicate", "ack_acks",
         "ack_naks_gap", "log_records", "log_batches", "log_bytes",
         "log_writes", "sub_subscribed", "sub_events", "sub_frames",
         "sub_commits_durable", "tx_packets"]
for k in shown:
    print(f"  {k:24} {stats.get(k, 0)}")
print(f"  {'drops (all kinds)':24} {sum(drops.values())}")
for k, v in sorted(drops.items()):
    if v:
        print(f"    {k:22} {v}")
EOF
}

echo
echo "== testbed: namespace $EVG_TB_NS, veth $EVG_TB_HOST_IF (evgate) <-> $EVG_TB_NS_IF (10.74.0.1)"
tb_up=1
scripts/testbed.sh up
echo

echo "== evgate on the built-in defaults, log in $logdir"
mem=(--in-memory)
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if ((free < 200)); then
	# --no-huge implies --legacy-mem, which EAL refuses with --in-memory.
	echo "demo: only $free free 2 MiB hugepages: running with --no-huge -m 512"
	mem=(--no-huge -m 512 --no-shconf)
fi
cmd=("$evgate" -l 0-1 "${mem[@]}" --no-pci --file-prefix "$prefix"
	"--vdev=net_af_packet0,iface=$EVG_TB_HOST_IF,framecnt=4096"
	-- --ip "$gate_ip/24" --ack synced --log-dir "$logdir")
echo "\$ ${cmd[*]} &"
"${cmd[@]}" >"$out" 2>&1 &
gate_pid=$!
if ! wait_for "evgate: ready" 30; then
	echo "demo: evgate did not get ready within 30 s; its output:" >&2
	cat "$out" >&2
	exit 1
fi
grep -- "evgate: ready" "$out"
echo

echo "== ping from the namespace (evgate answers ARP and ICMP itself)"
in_ns ping -c 3 -i 0.2 -W 1 "$gate_ip"
echo

echo "== evsub: a consumer group 'demo' of two members tailing stream 1 (round-robin)"
for m in 1 2; do
	echo "\$ ip netns exec $EVG_TB_NS $evsub --server $gate_ip --consumer 90$m --group demo --policy round-robin --stream 1 --from-end --json > sub$m.json &"
	ip netns exec "$EVG_TB_NS" "$evsub" --server "$gate_ip" --consumer "90$m" \
		--group demo --policy round-robin --stream 1 --from-end --json \
		>"$work/sub$m.json" 2>"$work/sub$m.err" &
	sub_pids+=($!)
done
for ((i = 0; i < 100; i++)); do
	(($(cat "$work"/sub?.err 2>/dev/null | grep -c 'subscribed:') >= 2)) && break
	sleep 0.1
done
grep -h 'subscribed:' "$work"/sub?.err ||
	{ echo "demo: the consumers did not subscribe:" >&2; cat "$work"/sub?.err >&2; exit 1; }
echo

echo "== evpub: $events generated events of 64 bytes, as fast as the window allows, ACKed once synced"
in_ns "$evpub" --server "$gate_ip" --producer 8 --stream 1 \
	--count "$events" --size 64 --timeout 20
echo

echo "== scripts/evf.py: 160 events sent twice (the second time all duplicates), then junk"
evf=(python3 scripts/evf.py)
in_ns "${evf[@]}" send --to "$gate_ip" --producer 9 --stream 1 --session 1 \
	--events 160 --batch 16
in_ns "${evf[@]}" send --to "$gate_ip" --producer 9 --stream 1 --session 1 \
	--events 160 --batch 16
in_ns "${evf[@]}" junk --to "$gate_ip" --count 10 --timeout 1
echo

echo "== evpub: key<TAB>value lines from stdin"
lines=$(printf '%s\t%s\n' \
	order-1001 '{"item":"disk","qty":2}' \
	order-1002 '{"item":"fan","qty":1}' \
	order-1003 '{"item":"psu","qty":4}' \
	order-1004 '{"item":"nic","qty":1}' \
	order-1005 '{"item":"ssd","qty":8}')
printf '%s\n' "$lines"
in_ns "$evpub" --server "$gate_ip" --producer 7 --stream 1 <<<"$lines"
echo

# Stream 1 is in partition 1 (stream % 4 partitions); offsets start at 0.
echo "== evtail: the last 5 events of partition 1 (the lines just sent)"
records=$("$evtail" --verify --partition 1 "$logdir" |
	sed -n 's/^.*: partition 1: .*records \([0-9]*\),.*/\1/p')
[[ -n $records ]] || { echo "demo: no record count from evtail --verify" >&2; exit 1; }
from=$((records > 5 ? records - 5 : 0))
echo "\$ $evtail --partition 1 --from $from --count 5 $logdir"
"$evtail" --partition 1 --from "$from" --count 5 "$logdir"
echo
echo "\$ $evtail --verify $logdir"
"$evtail" --verify "$logdir" | tail -n 1
echo

echo "== the consumer group: every event of stream 1 delivered once, shared by its two members"
for ((i = 0; i < 100; i++)); do
	n=$(cat "$work"/sub?.json | grep -c '"offset"' || true)
	((n >= records)) && break
	sleep 0.1
done
for pid in "${sub_pids[@]}"; do
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
sub_pids=()
for m in 1 2; do
	echo "member 90$m: $(grep -c '"offset"' "$work/sub$m.json") events"
	grep -h -v 'subscribed:' "$work/sub$m.err" | sed 's/^/  /'
done
wait_on python3 - "$work/sub1.json" "$work/sub2.json" "$records" <<'EOF'
import json, sys
offs = []
for path in sys.argv[1:3]:
    for ln in open(path):
        d = json.loads(ln)
        if "offset" in d:
            offs.append(d["offset"])
want = int(sys.argv[3])
ok = sorted(offs) == list(range(want))
print(f"demo: the group received {len(offs)} events, offsets 0..{want - 1} "
      f"each {'exactly once' if ok else 'NOT exactly once'}")
sys.exit(0 if ok else 1)
EOF
echo

echo "== evgate's counters (telemetry /evgate/stats, /evgate/drops)"
counters
echo

echo "== SIGINT: evgate drains, closes the log and prints its final counters"
kill -INT "$gate_pid"
for ((i = 0; i < 100; i++)); do
	kill -0 "$gate_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$gate_pid" 2>/dev/null; then
	echo "demo: evgate still running 10 s after SIGINT" >&2
	exit 1
fi
rc=0
wait "$gate_pid" || rc=$?
gate_pid=
echo "evgate exited with status $rc"
# A selection; evgate prints every non-zero counter.
sed -n '/evgate: final counters/,$p' "$out" |
	grep -E 'final counters|^ +(rx_packets|seq_events_[a-z]+|journal_events|log_(records|batches|bytes)|ack_acks|tx_packets) ' || true
exit "$rc"
