#!/usr/bin/env bash
# Redis Streams peer (perf/README.md): for each --fsync policy and each
# --sizes value, starts a fresh redis-server on 127.0.0.1 at a free port
# with its data in a scratch directory under --dir (appendonly yes,
# appendfsync POLICY, no RDB snapshots), runs redis_load (pipelined
# XADD <stream> * k <S-byte value>, --pipeline in flight), and stops the
# server by its PID. Everything it started or made is gone when it exits.
# Prints one JSON object on stdout and a one-line summary on stderr.
set -euo pipefail
me=redis_peer
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=peer_lib.sh
. "$here/peer_lib.sh"

usage() {
	cat <<EOF
Usage: redis_peer.sh [options]
  --build D       meson build directory holding perf/peers/redis_load
                  (default: build, relative to the repository root)
  --dir D         filesystem for the append-only file (default .)
  --sizes "S..."  event (value) bytes (default "64 256")
  --fsync "P..."  appendfsync policies: always, everysec (default both)
  --pipeline N    XADDs in flight (default 64)
  --seconds T     per case, (0, 600] (default 3)
  --count C       at most C XADDs per case (default 2000000)
  --server-cpu C  pin redis-server (default -1, unpinned)
  --client-cpu C  pin redis_load (default -1, unpinned)
Prints one JSON object on stdout, a summary line on stderr.
EOF
}

build=build dir=. sizes="64 256" fsyncs="always everysec" pipeline=64
seconds=3 count=2000000 server_cpu=-1 client_cpu=-1
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--build | --dir | --sizes | --fsync | --pipeline | --seconds | --count | --server-cpu | --client-cpu)
		(($# >= 2)) || { echo "$me: $1 needs a value" >&2; exit 2; }
		v=$2
		case $1 in
		--build) build=$v ;;
		--dir) dir=$v ;;
		--sizes) sizes=$v ;;
		--fsync) fsyncs=$v ;;
		--pipeline) peer_check_uint $me "$1" "$v"; pipeline=$v ;;
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
peer_check_words $me --fsync "$fsyncs" always everysec
[[ $build = /* ]] || build="$here/../../$build"
load="$build/perf/peers/redis_load"
[[ -x $load ]] || { echo "$me: $load: not built (ninja -C $build)" >&2; exit 2; }
[[ -d $dir ]] || { echo "$me: --dir '$dir': not a directory" >&2; exit 2; }
peer_need redis-server $me
peer_need python3 $me
peer_init $me "$dir"

# run_case POLICY SIZE: one server, one load run; JSON in $peer_tmp/N.json
run_case() {
	local policy=$1 size=$2 n=$3 port data client
	port=$(peer_free_port)
	data="$peer_tmp/data.$n"
	mkdir "$data"
	peer_start_server $me "$port" "$data/redis.log" "$server_cpu" \
		redis-server --bind 127.0.0.1 --port "$port" --dir "$data" \
		--appendonly yes --appendfsync "$policy" --save '' \
		--protected-mode yes --logfile "$data/redis.log" \
		--daemonize no
	client=()
	[[ $client_cpu == -1 ]] || client=(--cpu "$client_cpu")
	peer_run_case $me "$n" "$limit" "$load" --port "$port" \
		--size "$size" --pipeline "$pipeline" --seconds "$seconds" \
		--count "$count" "${client[@]}"
	echo "$policy" >"$peer_tmp/$n.policy"
	peer_stop "$peer_server"
	rm -rf -- "$data"
}

limit=$(peer_limit "$seconds")
n=0
for policy in $fsyncs; do
	for size in $sizes; do
		run_case "$policy" "$size" $n
		n=$((n + 1))
	done
done

python3 - "$peer_tmp" "$n" "$(peer_fs_json "$dir")" "$server_cpu" \
	"$client_cpu" "$(redis-server --version)" <<'EOF'
import json, sys

tmp, n, fs, scpu, ccpu, version = sys.argv[1:]
results = []
for i in range(int(n)):
    with open(f"{tmp}/{i}.json") as f:
        r = json.load(f)
    with open(f"{tmp}/{i}.policy") as f:
        r["appendfsync"] = f.read().strip()
    results.append(r)
out = {"bench": "redis_peer",
       "redis_version": version.split()[2].removeprefix("v="),
       **json.loads(fs), "cpus": {"server": int(scpu), "client": int(ccpu)},
       "appendonly": "yes", "results": results}
print(json.dumps(out, indent=1))
print("redis XADD on %s: " % out["fs"] + "; ".join(
    "%s %d B %.0f ev/s p50 %.0f p99 %.0f us" % (
        r["appendfsync"], r["event_bytes"], r["events_per_s"],
        r["latency_us"]["p50"], r["latency_us"]["p99"]) for r in results)
    + " (server CPU %s, client CPU %s)" % (scpu, ccpu), file=sys.stderr)
EOF
