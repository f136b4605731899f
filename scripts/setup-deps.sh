#!/usr/bin/env bash
# Installs what building, testing, the demo and the benchmarks need on
# Debian 12, then reserves 2 MiB hugepages. Idempotent: packages already
# installed are left alone, and `apt-get update` runs only when something
# is missing. Run as root (or with nothing missing).
#
#   scripts/setup-deps.sh             packages + hugepages
#   EVG_HUGEPAGES=0 scripts/setup-deps.sh   packages only
#   scripts/setup-deps.sh --perf      also the peers of perf/peers/:
#                                     redis-server, nats-server, libnats-dev,
#                                     fio, and gnuplot-nox for plots (unless
#                                     python3-matplotlib is there already)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

perf=0
for arg in "$@"; do
	case $arg in
	--perf) perf=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*)
		echo "setup-deps: unknown option '$arg' (expected --perf or --help)" >&2
		exit 2
		;;
	esac
done

pkgs=(
	# toolchains: gcc (default build), clang + its runtime (sanitizers, libFuzzer)
	build-essential gcc clang libclang-rt-14-dev
	meson ninja-build pkg-config python3 git clang-format
	# libraries
	libdpdk-dev dpdk liburing-dev libhugetlbfs-dev libhugetlbfs-bin libcriterion-dev
	libisal-dev
	# testbed, demo and benchmarks (dpdk-dev: dpdk-telemetry.py, dpdk-testpmd)
	iproute2 iputils-ping arping ethtool fio dpdk-dev
	# the consumer side: cookies (SipHash), and loss on the wire in its test
	libsodium-dev nftables
)

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

if ((perf)); then
	# benchmark peers only (perf/peers/); not needed to build or test
	pkgs+=(redis-server nats-server libnats-dev) # fio: in the list above
	if ! installed python3-matplotlib; then
		pkgs+=(gnuplot-nox)
	fi
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! installed "$p"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup-deps: missing packages: ${missing[*]}" >&2
		echo "setup-deps: run as root to install them" >&2
		exit 1
	fi
	echo "setup-deps: installing ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
	echo "setup-deps: all ${#pkgs[@]} packages present"
fi

if [[ ${EVG_HUGEPAGES:-512} != 0 ]]; then
	if ! "$here/hugepages.sh" "${EVG_HUGEPAGES:-512}"; then
		echo "setup-deps: WARNING: hugepages not reserved (see above);" \
			"unit and EAL tests still run with --no-huge, the demo and" \
			"benchmarks need them" >&2
	fi
fi
