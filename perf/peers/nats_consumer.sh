#!/usr/bin/env bash
# NATS JetStream push consumer peer (perf/README.md, "Delivery to
# subscribers"): starts nats-server -js on 127.0.0.1 at a free port with
# its store (file storage) in a scratch directory under --dir, runs
# nats_consumer once per --modes value (replay: fill a stream with
# --count messages, then read them back from the start through a push
# consumer with --ack acknowledgements; live: publish at --rate for
# --seconds to a push consumer and time publish -> delivery), each with
# a stream of its own, and stops the server by its PID. Everything it
# started or made is gone when it exits. Prints one JSON object on stdout
# and a one-line summary on stderr.
set -euo pipefail
me=nats_consumer
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=peer_lib.sh
. "$here/peer_lib.sh"

usage() {
	cat <<EOF2
Usage: nats_consumer.sh [options]
  --build D        meson build directory holding perf/peers/nats_consumer
                   (default: build, relative to the repository root)
  --dir D          filesystem for the JetStream store (default .)
  --size S         message bytes (default 64)
  --modes "M..."   replay, live (default both)
  --count C        replay: messages in the stream (default 1000000)
  --ack A          explicit, all or none (default explicit)
  --rate R         live: messages/s (default 10000)
  --seconds T      live: publishing time (default 3)
  --limit T        replay: reading time at most (default 120)
  --server-cpu C   pin nats-server (default -1, unpinned)
  --client-cpu C   pin nats_consumer (default -1, unpinned)
Prints one JSON object on stdout, a summary line on stderr.
EOF2
}

build=build dir=. size=64 modes="replay live" count=1000000 ack=explicit
rate=10000 seconds=3 limit=120 server_cpu=-1 client_cpu=-1
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--build | --dir | --size | --modes | --count | --ack | --rate | --seconds | --limit | --server-cpu | --client-cpu)
		(($# >= 2)) || { echo "$me: $1 needs a value" >&2; exit 2; }
		v=$2
		case $1 in
		--build) build=$v ;;
		--dir) dir=$v ;;
		--size) peer_check_uint $me "$1" "$v"; size=$v ;;
		--modes) modes=$v ;;
		--count) peer_check_uint $me "$1" "$v"; count=$v ;;
		--ack) peer_check_words $me "$1" "$v" explicit all none; ack=$v ;;
		--rate) peer_check_uint $me "$1" "$v"; rate=$v ;;
		--seconds) peer_check_seconds $me "$1" "$v"; seconds=$v ;;
		--limit) peer_check_seconds $me "$1" "$v"; limit=$v ;;
		--server-cpu) peer_check_cpu $me "$1" "$v"; server_cpu=$v ;;
		--client-cpu) peer_check_cpu $me "$1" "$v"; client_cpu=$v ;;
		esac
		shift 2
		;;
	*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
peer_check_words $me --modes "$modes" replay live
[[ $build = /* ]] || build="$here/../../$build"
client="$build/perf/peers/nats_consumer"
[[ -x $client ]] || {
	echo "$me: $client: not built (needs libnats-dev:" \
		"scripts/setup-deps.sh --perf, then ninja -C $build)" >&2
	exit 2
}
[[ -d $dir ]] || { echo "$me: --dir '$dir': not a directory" >&2; exit 2; }
peer_need nats-server $me
peer_need python3 $me
peer_init $me "$dir"

port=$(peer_free_port)
mkdir "$peer_tmp/store"
peer_start_server $me "$port" "$peer_tmp/nats.log" "$server_cpu" \
	nats-server -js -a 127.0.0.1 -p "$port" -sd "$peer_tmp/store" \
	-l "$peer_tmp/nats.log"

pin=()
[[ $client_cpu == -1 ]] || pin=(--cpu "$client_cpu")
# replay fills first (PubAcks awaited up to 60 s), then reads for up to
# --limit; live publishes for --seconds and waits up to 15 s more
cap=$(($(peer_limit "$seconds") + $(peer_limit "$limit") + 60))
n=0
for mode in $modes; do
	peer_run_case $me "$n" "$cap" "$client" \
		--url "nats://127.0.0.1:$port" --mode "$mode" --size "$size" \
		--count "$count" --ack "$ack" --rate "$rate" \
		--seconds "$seconds" --limit "$limit" --stream "EVGSUB$n" \
		"${pin[@]}"
	n=$((n + 1))
done
peer_stop "$peer_server"

python3 - "$peer_tmp" "$n" "$(peer_fs_json "$dir")" "$server_cpu" \
	"$client_cpu" "$(nats-server --version)" <<'EOF2'
import json, sys

tmp, n, fs, scpu, ccpu, version = sys.argv[1:]
results = []
for i in range(int(n)):
    with open(f"{tmp}/{i}.json") as f:
        results.append(json.load(f))
out = {"bench": "nats_consumer", "nats_server": version.split()[-1].lstrip("v"),
       **json.loads(fs), "cpus": {"server": int(scpu), "client": int(ccpu)},
       "storage": "file", "consumer": "push", "results": results}
print(json.dumps(out, indent=1))
print("nats JetStream push consumer on %s: " % out["fs"] + "; ".join(
    "%s (ack %s) %d B %.0f msgs/s p50 %.0f p99 %.0f us" % (
        r["mode"], r["ack"], r["event_bytes"], r["events_per_s"],
        r["latency_us"]["p50"], r["latency_us"]["p99"]) for r in results)
    + " (server CPU %s, client CPU %s)" % (scpu, ccpu), file=sys.stderr)
EOF2
