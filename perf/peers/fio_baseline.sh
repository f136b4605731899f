#!/usr/bin/env bash
# Host storage baseline for the journal (perf/README.md): what fio gets
# from the filesystem under --dir, in three jobs of --seconds each:
#   seq_write           O_DIRECT sequential writes of --bs (1 MiB) through
#                       --ioengine (io_uring) at --iodepth (4): bandwidth,
#                       to compare with journal append bandwidth;
#   seq_write_fresh     the same into a new file, preallocated (fallocate)
#                       and larger than the job can write: every write
#                       lands on space never written, as a journal's
#                       appends do (unwritten extents are converted as
#                       they are written); the 1 GiB file above is
#                       overwritten after its first pass. Skipped (said)
#                       when --dir lacks the room;
#   write_fdatasync_4k  4 KiB buffered writes, fdatasync after each
#                       (fdatasync=1): write clat and fdatasync latency
#                       percentiles and ops/s, to compare with the synced
#                       ACK latency (mode fdatasync);
#   write_dsync_4k      4 KiB O_DSYNC writes: the whole write+sync in one
#                       latency (mode dsync).
# The test file lives in a scratch directory under --dir, removed on exit.
# Prints one JSON object on stdout and a one-line summary on stderr.
set -euo pipefail
me=fio_baseline
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=peer_lib.sh
. "$here/peer_lib.sh"

usage() {
	cat <<EOF
Usage: fio_baseline.sh [options]
  --dir D        filesystem to measure (default .)
  --seconds T    per job, (0, 600] (default 3)
  --bs B         sequential write block, fio syntax (default 1M)
  --iodepth N    sequential write queue depth (default 4)
  --ioengine E   sequential write engine (default io_uring)
  --file-mb M    test file size (default 1024)
  --cpu C        pin fio to CPU C (default -1, unpinned)
Prints one JSON object on stdout, a summary line on stderr.
EOF
}

dir=. seconds=3 bs=1M iodepth=4 ioengine=io_uring file_mb=1024 cpu=-1
while (($#)); do
	case $1 in
	--dir | --seconds | --bs | --iodepth | --ioengine | --file-mb | --cpu)
		(($# >= 2)) || { echo "$me: $1 needs a value" >&2; exit 2; }
		v=$2
		case $1 in
		--dir) dir=$v ;;
		--seconds) peer_check_seconds $me "$1" "$v"; seconds=$v ;;
		--bs) [[ $v =~ ^[0-9]+[kKmM]?$ ]] || { echo "$me: --bs '$v': expected e.g. 1M or 128k" >&2; exit 2; }; bs=$v ;;
		--iodepth) peer_check_uint $me "$1" "$v"; iodepth=$v ;;
		--ioengine) ioengine=$v ;;
		--file-mb) peer_check_uint $me "$1" "$v"; file_mb=$v ;;
		--cpu) peer_check_cpu $me "$1" "$v"; cpu=$v ;;
		esac
		shift 2
		;;
	-h | --help) usage; exit 0 ;;
	*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
[[ -d $dir ]] || { echo "$me: --dir '$dir': not a directory" >&2; exit 2; }
peer_need fio $me
peer_need python3 $me
peer_init $me "$dir"

pin=$(peer_taskset "$cpu")
runtime_ms=$(python3 -c 'import sys, math; print(max(1, math.ceil(float(sys.argv[1]) * 1000)))' "$seconds")
common=(--filename="$peer_tmp/fio.dat" --size="${file_mb}M" --time_based
	--runtime="${runtime_ms}ms" --percentile_list=50:99:99.9 --output-format=json)

# run_job NAME fio-options...: fio's JSON in $peer_tmp/NAME.json
run_job() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	if ! peer_run "$peer_tmp/$name.out" "$peer_tmp/$name.err" \
		timeout --kill-after=5 $((runtime_ms / 1000 + 60)) $pin fio \
		--name="$name" "${common[@]}" "$@" \
		--output="$peer_tmp/$name.json"; then
		echo "$me: fio job $name failed:" "$(tail -n 3 "$peer_tmp/$name.err")" >&2
		exit 1
	fi
}

run_job seq_write --rw=write --bs="$bs" --direct=1 --ioengine="$ioengine" \
	--iodepth="$iodepth"
# 3 GB/s for the whole runtime, at least 2 GiB; fio lays it out with
# fallocate, at no write cost.
fresh_mb=$(((runtime_ms * 3 + 999) / 1000))
((fresh_mb < 2048)) && fresh_mb=2048
free_mb=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')
if ((free_mb > fresh_mb + 1024)); then
	run_job seq_write_fresh --rw=write --bs="$bs" --direct=1 \
		--ioengine="$ioengine" --iodepth="$iodepth" \
		--filename="$peer_tmp/fresh.dat" --size="${fresh_mb}M" --fallocate=native
	rm -f "$peer_tmp/fresh.dat"
else
	echo "{\"skipped\": \"$free_mb MB free under $dir, the job needs $fresh_mb\"}" \
		>"$peer_tmp/seq_write_fresh.skip"
fi
run_job write_fdatasync_4k --rw=write --bs=4k --ioengine=psync --fdatasync=1
run_job write_dsync_4k --rw=write --bs=4k --ioengine=psync --sync=dsync

python3 - "$peer_tmp" "$(peer_fs_json "$dir")" "$cpu" "$bs" "$iodepth" \
	"$ioengine" "$file_mb" <<'EOF'
import json, sys

tmp, fs, cpu, bs, iodepth, engine, file_mb = sys.argv[1:]


def job(name):
    with open(f"{tmp}/{name}.json") as f:
        j = json.load(f)
    return j["fio version"], j["jobs"][0]


def pct_us(lat):
    p = lat.get("percentile", {})
    return {k: round(p.get(v, 0) / 1e3, 1)
            for k, v in (("p50", "50.000000"), ("p99", "99.000000"),
                         ("p99_9", "99.900000"))} | {
        "mean": round(lat.get("mean", 0) / 1e3, 1)}


version, seq = job("seq_write")
try:
    _, fresh = job("seq_write_fresh")
    fw = fresh["write"]
    fresh = {"file_mb": int(fresh["job options"]["size"].rstrip("M")),
             "seconds": fw["runtime"] / 1e3,
             "mb_per_s": round(fw["bw_bytes"] / 1e6, 1),
             "clat_us": pct_us(fw["clat_ns"])}
except FileNotFoundError:
    with open(f"{tmp}/seq_write_fresh.skip") as f:
        fresh = json.load(f)
_, fds = job("write_fdatasync_4k")
_, dsy = job("write_dsync_4k")
w = seq["write"]
out = {
    "bench": "fio_baseline", "fio_version": version,
    **json.loads(fs), "cpus": {"fio": int(cpu)},
    "seq_write": {
        "bs": bs, "iodepth": int(iodepth), "ioengine": engine, "direct": 1,
        "file_mb": int(file_mb), "seconds": w["runtime"] / 1e3,
        "mb_per_s": round(w["bw_bytes"] / 1e6, 1),
        "iops": round(w["iops"], 1),
        "clat_us": pct_us(w["clat_ns"])},
    "seq_write_fresh": fresh,
    "write_fdatasync_4k": {
        "seconds": fds["write"]["runtime"] / 1e3,
        "ops_per_s": round(fds["write"]["iops"], 1),
        "op_mean_us": round(1e6 / fds["write"]["iops"], 1)
        if fds["write"]["iops"] else 0,
        "write_clat_us": pct_us(fds["write"]["clat_ns"]),
        "fdatasync_lat_us": pct_us(fds["sync"]["lat_ns"])},
    "write_dsync_4k": {
        "seconds": dsy["write"]["runtime"] / 1e3,
        "ops_per_s": round(dsy["write"]["iops"], 1),
        "clat_us": pct_us(dsy["write"]["clat_ns"])},
}
print(json.dumps(out, indent=1))
s, f, d = out["seq_write"], out["write_fdatasync_4k"], out["write_dsync_4k"]
print(f"fio on {out['fs']} ({out['device']}): O_DIRECT seq {bs} "
      f"{s['mb_per_s']} MB/s (fresh file "
      f"{fresh.get('mb_per_s', fresh.get('skipped'))} MB/s); "
      f"4k write+fdatasync {f['ops_per_s']:.0f}/s, "
      f"fdatasync p50 {f['fdatasync_lat_us']['p50']} "
      f"p99 {f['fdatasync_lat_us']['p99']} us; 4k O_DSYNC p50 "
      f"{d['clat_us']['p50']} p99 {d['clat_us']['p99']} "
      f"p99.9 {d['clat_us']['p99_9']} us (fio CPU {cpu})", file=sys.stderr)
EOF
