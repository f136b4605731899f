#!/usr/bin/env bash
# Storage scenario (issue 7, item 3; perf/README.md): the journal against
# fio on the same filesystem (--dir).
#   1. perf/peers/fio_baseline.sh: O_DIRECT sequential write bandwidth
#      (over its 1 GiB file, and into a fresh preallocated one), 4 KiB
#      write+fdatasync and 4 KiB O_DSYNC latency;
#   2. bench_journal --mode append, uring store, events of --size bytes,
#      flushed only when a batch is full, for each batch size (--batches,
#      KiB) and level (written, synced with dsync, synced with
#      fdatasync): MB/s handed to the store, and its ratios to fio's
#      sequential MB/s (overwrite and fresh file);
#   3. bench_journal --mode latency: one event per batch, append+flush
#      until durable, p50/p99/p99.9, for synced dsync and synced
#      fdatasync; the ratio of its p99 to fio's (O_DSYNC write clat p99,
#      resp. fdatasync latency p99).
# Prints one JSON object on stdout and a one-line summary on stderr.
set -euo pipefail
me=storage
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../peers/peer_lib.sh
. "$root/perf/peers/peer_lib.sh"

usage() {
	cat <<EOF
Usage: storage.sh [options]
  --build B      meson build directory (default build; release builds
                 give the figures worth keeping)
  --dir D        filesystem to measure (default /var/tmp)
  --seconds T    per fio job and per journal case, (0, 600] (default 3)
  --batches L    journal batch sizes in KiB (default "256 1024")
  --size S       event value bytes (default 1024)
  --reps R       repetitions per bandwidth case (default 3; median)
  --cpu C        pin fio and the journal to CPU C (default -1, unpinned)
Prints one JSON object on stdout, a summary line on stderr.
EOF
}

build=build dir=/var/tmp seconds=3 batches="256 1024" size=1024 reps=3 cpu=-1
while (($#)); do
	case $1 in
	--build | --dir | --seconds | --batches | --size | --reps | --cpu)
		(($# >= 2)) || { echo "$me: $1 needs a value" >&2; exit 2; }
		v=$2
		case $1 in
		--build) build=$v ;;
		--dir) dir=$v ;;
		--seconds) peer_check_seconds $me "$1" "$v"; seconds=$v ;;
		--batches)
			[[ $v =~ ^[0-9]+( [0-9]+)*$ ]] || {
				echo "$me: --batches '$v': expected KiB sizes, e.g. \"256 1024\"" >&2
				exit 2
			}
			batches=$v
			;;
		--size) peer_check_uint $me "$1" "$v"; size=$v ;;
		--reps) peer_check_uint $me "$1" "$v"; reps=$v ;;
		--cpu) peer_check_cpu $me "$1" "$v"; cpu=$v ;;
		esac
		shift 2
		;;
	-h | --help) usage; exit 0 ;;
	*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
[[ -d $dir ]] || { echo "$me: --dir '$dir': not a directory" >&2; exit 2; }
bj=$build/perf/micro/bench_journal
[[ -x $bj ]] || { echo "$me: $bj not found: build with ninja -C $build" >&2; exit 2; }
peer_need python3 $me
peer_init $me "$dir"

# step NAME CMD...: CMD's JSON in $peer_tmp/NAME.json; its summary line
# is echoed to stderr.
step() {
	local name=$1
	shift
	if ! peer_run "$peer_tmp/$name.json" "$peer_tmp/$name.err" "$@"; then
		echo "$me: $name failed:" "$(tail -n 3 "$peer_tmp/$name.err")" >&2
		exit 1
	fi
	tail -n 1 "$peer_tmp/$name.err" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
step fio "$root/perf/peers/fio_baseline.sh" --dir "$dir" --seconds "$seconds" \
	--cpu "$cpu"
levels=("written" "synced dsync" "synced fdatasync")
for b in $batches; do
	for l in "${levels[@]}"; do
		read -r level sync <<<"$l"
		step "bw_${b}_${level}_${sync:-none}" "$bj" --mode append \
			--store uring --dir "$peer_tmp" --sizes "$size" --flush 0 \
			--batch-kib "$b" --level "$level" --sync "${sync:-dsync}" \
			--seconds "$seconds" --reps "$reps" --cpu "$cpu"
	done
done
for sync in dsync fdatasync; do
	step "lat_$sync" "$bj" --mode latency --store uring --dir "$peer_tmp" \
		--sizes "$size" --lat-events 1 --level synced --sync "$sync" \
		--seconds "$seconds" --cpu "$cpu"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$peer_tmp" "$(peer_fs_json "$dir")" "$load_before" "$load_after" \
	"$size" <<'EOF'
import glob, json, os, sys

tmp, fs, load0, load1, size = sys.argv[1:]
fio = json.load(open(f"{tmp}/fio.json"))
seq = fio["seq_write"]["mb_per_s"]
fresh = fio.get("seq_write_fresh", {}).get("mb_per_s")
out = {"bench": "storage", **json.loads(fs), "event_bytes": int(size),
       "loadavg_before": load0, "loadavg_after": load1,
       "cpus_online": os.cpu_count(), "fio": fio,
       "bandwidth": [], "synced_latency": []}
for p in sorted(glob.glob(f"{tmp}/bw_*.json")):
    j = json.load(open(p))
    r = j["results"][0]
    mb = r["store_mb_per_s_median"]
    out["bandwidth"].append({
        "level": j["level"], "batch_bytes": j["batch_bytes"],
        "store_mb_per_s": mb, "payload_mb_per_s": r["payload_mb_per_s_median"],
        "mevents_per_s": r["mevents_per_s_median"],
        "ratio_to_fio_seq": round(mb / seq, 3) if seq else None,
        "ratio_to_fio_fresh": round(mb / fresh, 3) if fresh else None,
        "cpu_ran": j["cpu_ran"]})
fio_p99 = {"synced_dsync": fio["write_dsync_4k"]["clat_us"]["p99"],
           "synced_fdatasync": fio["write_fdatasync_4k"]["fdatasync_lat_us"]["p99"]}
for p in sorted(glob.glob(f"{tmp}/lat_*.json")):
    j = json.load(open(p))
    lat = j["results"]["latency_us"]
    ref = fio_p99[j["level"]]
    out["synced_latency"].append({
        "level": j["level"], "batches_per_s": j["results"]["batches_per_s"],
        "latency_us": lat, "fio_p99_us": ref,
        "ratio_p99_to_fio": round(lat["p99"] / ref, 3) if ref else None,
        "cpu_ran": j["cpu_ran"]})
print(json.dumps(out, indent=1))
bw = ", ".join(f"{b['level']} {b['batch_bytes'] >> 10}K "
               f"{b['store_mb_per_s']:.0f} MB/s ({b['ratio_to_fio_seq']}x)"
               for b in out["bandwidth"])
lt = ", ".join(f"{l['level']} p99 {l['latency_us']['p99']} us "
               f"({l['ratio_p99_to_fio']}x fio)" for l in out["synced_latency"])
print(f"storage on {out['fs']} ({out['device']}): fio seq {seq} MB/s "
      f"(fresh file {fresh} MB/s); "
      f"journal {bw}; {lt}; load {load0} -> {load1}", file=sys.stderr)
EOF
