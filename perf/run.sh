#!/usr/bin/env bash
# Runs every benchmark of issue 7 (perf/README.md) on this host, bounded
# (full: at most 15 minutes on a 2-core host; --quick: about 2), writes
# perf/results/<host>-<date>.json, the PNG plots beside it, and the table
# in README.md between its perf-table markers (perf/report.py). Each
# benchmark prints one JSON object on stdout and a summary line on stderr;
# one that is not built says "not available", one that fails or overruns
# its time limit is recorded as such, and the others still run.
set -euo pipefail
me=run.sh
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

usage() {
	cat <<EOF
Usage: perf/run.sh [options]
  --quick         about 2 minutes: fewer cases, 1 s each
  --build D       release build directory (default build-perf; configured
                  with -Dbuildtype=release when missing, else rebuilt)
  --dir D         filesystem for the logs and peers' data (default /var/tmp)
  --out F         results file (default perf/results/<host>-<date>.json)
  --no-readme     do not rewrite README.md's table
  --no-setup      skip scripts/setup-deps.sh --perf
EOF
}

quick=0 build=build-perf dir=/var/tmp out= readme=1 setup=1
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--quick) quick=1; shift ;;
	--no-readme) readme=0; shift ;;
	--no-setup) setup=0; shift ;;
	--build | --dir | --out)
		(($# >= 2)) || { echo "$me: $1 needs a value" >&2; exit 2; }
		case $1 in
		--build) build=$2 ;;
		--dir) dir=$2 ;;
		--out) out=$2 ;;
		esac
		shift 2
		;;
	*) echo "$me: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
cd "$root"
[[ -d $dir ]] || { echo "$me: --dir '$dir': not a directory" >&2; exit 2; }
[[ -n $out ]] || out=perf/results/$(hostname -s)-$(date +%Y%m%d-%H%M).json
mkdir -p "$(dirname "$out")"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evg-run.XXXXXX")
child=
cleanup() {
	if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((setup)); then
	EVG_HUGEPAGES=${EVG_HUGEPAGES:-0} scripts/setup-deps.sh --perf >&2 ||
		echo "$me: WARNING: setup-deps.sh --perf failed; missing peers" \
			"will be 'not available'" >&2
fi
if [[ ! -f $build/build.ninja ]]; then
	CC=${CC:-gcc} meson setup "$build" -Dbuildtype=release >&2
fi
# Only what the benchmarks run; one that does not build is "not available".
all_targets=$(ninja -C "$build" -t targets all 2>/dev/null | cut -d: -f1)
for t in app/evgate/evgate app/evgen/evgen perf/peers/kudp_bench \
	perf/peers/redis_load perf/peers/nats_peer perf/peers/nats_consumer \
	perf/micro/bench_micro \
	perf/micro/bench_evf perf/micro/bench_journal perf/micro/bench_hiccup; do
	grep -qx "$t" <<<"$all_targets" || continue
	ninja -C "$build" -j"$(nproc)" "$t" >"$tmp/ninja.log" 2>&1 || {
		tail -n 5 "$tmp/ninja.log" >&2
		echo "$me: WARNING: $t does not build" >&2
	}
done

read -r cpu0 cpu1 < <(python3 -c 'import os
c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
start=$(date +%s)
: >"$tmp/index"

# bench NAME LIMIT_S CMD...: runs CMD under timeout (SIGTERM, SIGKILL 10 s
# later) in the background, so that a signal to this script reaches it;
# records NAME, exit status and seconds in the index.
bench() {
	local name=$1 limit=$2 t0 rc=0
	shift 2
	t0=$(date +%s.%N)
	echo "$me: $name (at most ${limit} s)" >&2
	timeout --kill-after=10 "$limit" "$@" >"$tmp/$name.json" \
		2>"$tmp/$name.err" &
	child=$!
	wait "$child" || rc=$?
	child=
	tail -n 1 "$tmp/$name.err" >&2 || true
	printf '%s\t%s\t%s\t%s\n' "$name" "$rc" \
		"$(python3 -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 1))" "$t0")" \
		"$limit" >>"$tmp/index"
}

# unavailable NAME WHY
unavailable() {
	printf '%s\tna\t0\t0\t%s\n' "$1" "$2" >>"$tmp/index"
	echo "$me: $1: not available ($2)" >&2
}

# have PATH NAME: true when PATH is executable, else records NAME as not
# available.
have() {
	[[ -x $1 ]] && return 0
	unavailable "$2" "$1 not built"
	return 1
}

S=perf/scenarios
if ((quick)); then
	sec=1 tsizes=64 tbatches="1 32" tacks="received synced"
	lacks="received synced" psizes=64 kevents=32
	fio_s=1 micro_s=1 micro_reps=1 st_batches=256 st_reps=1
else
	sec=5 tsizes="64 256 1024" tbatches="1 8 32" tacks="received written synced"
	lacks="received written synced" psizes="64 256 1024" kevents="1 8 32"
	fio_s=5 micro_s=3 micro_reps=3 st_batches="256 1024" st_reps=3
fi
tlimit=$((quick ? 90 : 420))

# First, on idle CPUs: the gaps a spinning thread sees (the floor).
if have "$build/perf/micro/bench_hiccup" hiccup; then
	bench hiccup 30 "$build/perf/micro/bench_hiccup" --seconds "$sec"
fi
bench throughput "$tlimit" $S/throughput.py --build "$build" --dir "$dir" \
	--seconds "$sec" --sizes "$tsizes" --batches "$tbatches" \
	--acks "$tacks" --paths "memif pcap"
bench latency $((quick ? 60 : 150)) $S/latency.py --build "$build" \
	--dir "$dir" --seconds "$sec" --probe-seconds "$sec" --acks "$lacks"
bench scaling $((quick ? 40 : 60)) $S/scaling.py --build "$build" \
	--dir "$dir" --seconds "$sec"
# Delivery to subscribers, beside a NATS JetStream push consumer (it
# says so in its JSON when nats_consumer or nats-server is missing).
if ((quick)); then
	bench subscribers 120 $S/subscribers.py --build "$build" --dir "$dir" \
		--seconds "$sec" --events 200000 --subs "1 4 16" --live-subs 1
else
	bench subscribers 300 $S/subscribers.py --build "$build" --dir "$dir" \
		--seconds "$sec" --events 1000000 --subs "1 4 16" \
		--live-subs "1 4"
fi

if [[ -x $S/storage.sh ]]; then
	bench storage $((quick ? 40 : 150)) $S/storage.sh --build "$build" \
		--dir "$dir" --seconds "$fio_s" --batches "$st_batches" \
		--reps "$st_reps" --cpu "$cpu1"
else
	unavailable storage "$S/storage.sh not present"
fi
for m in bench_micro bench_evf bench_journal; do
	bin=$build/perf/micro/$m
	[[ -x $bin ]] || bin=$build/perf/$m
	have "$bin" "micro_$m" || continue
	args=(--cpu "$cpu1" --seconds "$micro_s")
	case $m in
	bench_micro) args+=(--peer-cpu "$cpu0" --reps "$micro_reps") ;;
	bench_journal) args+=(--store null) ;;
	esac
	bench "micro_$m" $((quick ? 30 : 90)) "$bin" "${args[@]}"
done

if have "$build/perf/peers/redis_load" redis && command -v redis-server >/dev/null; then
	bench redis $((quick ? 30 : 90)) perf/peers/redis_peer.sh --build "$build" \
		--dir "$dir" --sizes "$psizes" --fsync "always everysec" \
		--seconds "$sec" --server-cpu "$cpu1" --client-cpu "$cpu0"
fi
if have "$build/perf/peers/nats_peer" nats && command -v nats-server >/dev/null; then
	bench nats $((quick ? 30 : 90)) perf/peers/nats_peer.sh --build "$build" \
		--dir "$dir" --sizes "$psizes" --modes "sync async" \
		--seconds "$sec" --server-cpu "$cpu1" --client-cpu "$cpu0"
fi
if have "$build/perf/peers/kudp_bench" kudp; then
	for mode in write fdatasync; do
		for s in $psizes; do
			for e in $kevents; do
				bench "kudp_${mode}_${s}x$e" 30 \
					"$build/perf/peers/kudp_bench" --mode "$mode" \
					--events "$e" --size "$s" --seconds "$sec" \
					--dir "$dir" --send-cpu "$cpu0" --sink-cpu "$cpu1"
			done
		done
	done
fi

python3 perf/report.py collect --tmp "$tmp" --mode "$([[ $quick == 1 ]] && echo quick || echo full)" \
	--build "$build" --dir "$dir" --seconds-total $(($(date +%s) - start)) \
	--out "$out"
report=(python3 perf/report.py render "$out")
((readme)) && report+=(--readme README.md)
"${report[@]}"
echo "$me: $out ($(($(date +%s) - start)) s)" >&2
