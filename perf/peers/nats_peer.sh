#!/usr/bin/env bash
# NATS JetStream peer (perf/README.md): starts nats-server -js on
# 127.0.0.1 at a free port with its store (file storage) in a scratch
# directory under --dir, runs nats_peer once per --modes value and
# --sizes value (each run creates its own stream and deletes it), and
# stops the server by its PID. Everything it started or made is gone
# when it exits. Prints one JSON object on stdout and a one-line summary
# on stderr.
#
# Durability: nats-server 2.9 writes each message to its file store
# before the PubAck but does not fsync it then (it syncs the store
# periodically); there is no per-message fsync setting before 2.10.
set -euo pipefail
me=nats_peer
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=peer_lib.sh
. "$here/peer_lib.sh"

usage() {
	cat <<EOF
Usage: nats_peer.sh [options]
  --build D        meson build directory holding perf/peers/nats_peer
                   (default: build, relative to the repository root)
  --dir D          filesystem for the JetStream store (default .)
  --sizes "S..."   event (message) bytes (default "64 256")
  --modes "M..."   sync, async (default both)
  --max-pending P  async publishes in flight (default 256)
  --seconds T      per case, (0, 600] (default 3)
  --count C        at most C messages per case (default 1000000)
  --server-cpu C   pin nats-server (default -1, unpinned)
  --client-cpu C   pin nats_peer (default -1, unpinned)
Prints one JSON object on stdout, a summary line on stderr.
EOF
}

build=build dir=. sizes="64 256" modes="sync async" max_pending=256
seconds=3 count=1000000 server_cpu=-1 client_cpu=-1
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--build | --dir | --sizes | --modes | --max-pending | --seconds | --count | --server-cpu | --client-cpu)
		(($# >= 2)) || { echo "$me: $1 needs a value" >&2; exit 2; }
		v=$2
		case $1 in
		--build) build=$v ;;
		--dir) dir=$v ;;
		--sizes) sizes=$v ;;
		--modes) modes=$v ;;
		--max-pending) peer_check_uint $me "$1" "$v"; max_pending=$v ;;
		--seconds) peer_check_seconds $me "$1" "$v"; seconds=$v ;;
		--count) peer_check_uint $me "$1" "$v"; count=$v ;;
		--server-cpu) peer_check_cpu $me "$1" "$v"; server_cpu=$v ;;
		--client-cpu) peer_check_cpu $me "$1" "$v"; client_cpu=$v ;;
		esac
		shift 2
		;;
	*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
for s in $sizes; do peer_check_uint $me --sizes "$s"; done
peer_check_words $me --modes "$modes" sync async
[[ $build = /* ]] || build="$here/../../$build"
client="$build/perf/peers/nats_peer"
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
limit=$(peer_limit "$seconds")
n=0
for mode in $modes; do
	for size in $sizes; do
		peer_run_case $me "$n" "$limit" "$client" \
			--url "nats://127.0.0.1:$port" --mode "$mode" \
			--size "$size" --seconds "$seconds" --count "$count" \
			--max-pending "$max_pending" --stream "EVGPEER$n" \
			"${pin[@]}"
		n=$((n + 1))
	done
done
peer_stop "$peer_server"

python3 - "$peer_tmp" "$n" "$(peer_fs_json "$dir")" "$server_cpu" \
	"$client_cpu" "$(nats-server --version)" <<'EOF'
import json, sys

tmp, n, fs, scpu, ccpu, version = sys.argv[1:]
results = []
for i in range(int(n)):
    with open(f"{tmp}/{i}.json") as f:
        results.append(json.load(f))
out = {"bench": "nats_peer", "nats_server": version.split()[-1].lstrip("v"),
       **json.loads(fs), "cpus": {"server": int(scpu), "client": int(ccpu)},
       "storage": "file", "fsync": "server default (periodic, not per message)",
       "results": results}
print(json.dumps(out, indent=1))
print("nats JetStream on %s: " % out["fs"] + "; ".join(
    "%s %d B %.0f ev/s p50 %.0f p99 %.0f us" % (
        r["mode"], r["event_bytes"], r["events_per_s"],
        r["latency_us"]["p50"], r["latency_us"]["p99"]) for r in results)
    + " (server CPU %s, client CPU %s)" % (scpu, ccpu), file=sys.stderr)
EOF
