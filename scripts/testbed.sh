#!/usr/bin/env bash
# The network-namespace testbed: a veth pair between the root namespace,
# where evgate owns one end through DPDK's net_af_packet, and a namespace
# that plays the producer host.
#
#   scripts/testbed.sh up|down|status
#
#   root namespace                        namespace $EVG_TB_NS (evgns)
#   evgate --vdev=net_af_packet0,iface=evg0   evg1 10.74.0.1/24
#   evg0 (no address; evgate is 10.74.0.2) <-veth->  producers, ping
#
# Environment (defaults in brackets), so that several testbeds can coexist:
#   EVG_TB_NS       namespace              [evgns]
#   EVG_TB_HOST_IF  root-namespace end     [evg0]  (evgate's port)
#   EVG_TB_NS_IF    namespace end          [evg1]
# Interface names are at most 15 characters. The subnet is always
# 10.74.0.0/24: it exists only inside the namespace, so testbeds with
# different names do not collide.
#
# up      creates what is missing and (re)applies every setting; idempotent.
# down    removes the namespace and the veth pair; no error if already gone.
# status  prints the state; exits 0 when the testbed is fully up, 1 if not.
#
# Needs root, `ip` (iproute2) and `ethtool`; scripts/setup-deps.sh installs
# both.
set -euo pipefail

ns=${EVG_TB_NS:-evgns}
host_if=${EVG_TB_HOST_IF:-evg0}
ns_if=${EVG_TB_NS_IF:-evg1}
ns_ip=10.74.0.1/24
gate_ip=10.74.0.2/24
evf_port=7470
framecnt=4096

me=testbed

die() {
	echo "$me: $*" >&2
	exit 1
}

usage() {
	echo "usage: scripts/testbed.sh up|down|status" >&2
	echo "  (names from EVG_TB_NS, EVG_TB_HOST_IF, EVG_TB_NS_IF;" \
		"defaults evgns, evg0, evg1)" >&2
	exit 2
}

check_name() {
	local what=$1 name=$2 max=$3
	[[ -n $name ]] || die "$what is empty"
	((${#name} <= max)) ||
		die "$what '$name' is ${#name} characters long, expected at most $max"
	[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] ||
		die "$what '$name': expected letters, digits, '_', '.' or '-'"
}

check_tools() {
	local missing=()
	command -v ip >/dev/null || missing+=("ip (package iproute2)")
	command -v ethtool >/dev/null || missing+=("ethtool (package ethtool)")
	if ((${#missing[@]} > 0)); then
		die "missing: ${missing[*]}; scripts/setup-deps.sh installs them"
	fi
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "'$1' needs root (network namespaces and veth)"
}

ns_exists() {
	[[ -e /run/netns/$ns ]] || ip netns list 2>/dev/null |
		awk '{print $1}' | grep -qxF -- "$ns"
}

host_link_exists() {
	ip link show dev "$host_if" >/dev/null 2>&1
}

ns_link_exists() {
	ns_exists && ip -n "$ns" link show dev "$ns_if" >/dev/null 2>&1
}

# Turns IPv6 off on an interface so that it sends no router solicitations
# or DAD probes: evgate would count each as a drop. No-op without IPv6.
ipv6_off() {
	local where=$1 ifname=$2
	local key=net.ipv6.conf.$ifname.disable_ipv6
	if [[ $where == root ]]; then
		[[ -e /proc/sys/net/ipv6/conf/$ifname ]] || return 0
		sysctl -qw "$key=1" >/dev/null
	else
		ip netns exec "$ns" test -e "/proc/sys/net/ipv6/conf/$ifname" || return 0
		ip netns exec "$ns" sysctl -qw "$key=1" >/dev/null
	fi
}

cmd_up() {
	need_root up
	check_tools
	ip netns list >/dev/null 2>&1 ||
		die "'ip netns' does not work here (no network namespace support?)"

	# The host end must be our veth if it exists, never some other link.
	if host_link_exists; then
		local kind
		kind=$(ip -details -o link show dev "$host_if" | grep -o 'veth' | head -1 || true)
		[[ $kind == veth ]] ||
			die "$host_if exists and is not a veth; pick another EVG_TB_HOST_IF"
	fi

	if ! ns_exists; then
		ip netns add "$ns" || die "cannot create network namespace $ns"
		echo "$me: created namespace $ns"
	fi

	if host_link_exists && ! ns_link_exists; then
		# A veth whose peer is elsewhere (half-built or foreign): rebuild it.
		echo "$me: $host_if exists but $ns_if is not in $ns; recreating the pair"
		ip link del dev "$host_if"
	fi
	if ! host_link_exists; then
		# A stray namespace end from an earlier half-built run goes first.
		if ns_link_exists; then
			ip -n "$ns" link del dev "$ns_if"
		fi
		if ip link show dev "$ns_if" >/dev/null 2>&1; then
			die "$ns_if exists in the root namespace; pick another EVG_TB_NS_IF"
		fi
		ip link add "$host_if" type veth peer name "$ns_if" netns "$ns" ||
			die "cannot create veth pair $host_if/$ns_if (veth module missing?)"
		echo "$me: created veth pair $host_if (root) <-> $ns_if ($ns)"
	fi

	# IPv6 off before the links come up, so no IPv6 packet ever leaves.
	ipv6_off root "$host_if"
	ipv6_off ns "$ns_if"
	ipv6_off ns lo

	# Host end: up, no address of its own (evgate answers for 10.74.0.2).
	ip addr flush dev "$host_if"
	ip link set dev "$host_if" up
	# af_packet sees frames as the veth passes them; offloads would hand it
	# unfinished checksums. Not every kernel lets both be changed.
	ethtool -K "$host_if" rx off tx off >/dev/null 2>&1 ||
		echo "$me: note: 'ethtool -K $host_if rx off tx off' failed; continuing" >&2

	# Namespace end: the producer host.
	ip -n "$ns" link set dev lo up
	ip -n "$ns" addr replace "$ns_ip" dev "$ns_if"
	ip -n "$ns" link set dev "$ns_if" up
	# Without this the kernel leaves UDP checksums for a NIC to fill in,
	# and evgate (behind af_packet) would see them unfinished.
	ip netns exec "$ns" ethtool -K "$ns_if" tx off >/dev/null ||
		die "'ethtool -K $ns_if tx off' failed in $ns"

	echo "$me: up: $ns_if ${ns_ip} in namespace $ns; $host_if (no address) for evgate as ${gate_ip}"
	echo "$me: evgate EAL option: --vdev=net_af_packet0,iface=$host_if,framecnt=$framecnt"
	echo "$me: e.g. build/app/evgate/evgate -l 0-1 --in-memory --vdev=net_af_packet0,iface=$host_if,framecnt=$framecnt -- --ip $gate_ip"
	echo "$me: producers: ip netns exec $ns python3 scripts/evf.py send --to ${gate_ip%/*} --port $evf_port ..."
}

cmd_down() {
	need_root down
	check_tools
	local did=0
	if host_link_exists; then
		ip link del dev "$host_if" # takes its peer with it
		echo "$me: removed veth pair $host_if/$ns_if"
		did=1
	fi
	if ns_exists; then
		ip netns del "$ns" # takes anything still inside with it
		echo "$me: removed namespace $ns"
		did=1
	fi
	((did)) || echo "$me: nothing to remove ($ns, $host_if already gone)"
	# Deleting a namespace is asynchronous in the kernel; the veth end that
	# lived in it may linger a moment. Wait for it, bounded.
	local i
	for ((i = 0; i < 50; i++)); do
		host_link_exists || break
		sleep 0.1
	done
	host_link_exists && die "$host_if still exists after down"
	return 0
}

cmd_status() {
	check_tools
	local ok=1
	echo "$me: namespace $ns, host end $host_if, namespace end $ns_if"
	if ns_exists; then
		echo "  namespace $ns: present"
	else
		echo "  namespace $ns: absent"
		ok=0
	fi
	if host_link_exists; then
		local state addrs
		state=$(ip -o link show dev "$host_if" | grep -o 'state [A-Z]*' || true)
		addrs=$(ip -o addr show dev "$host_if" | awk '{print $4}' | tr '\n' ' ')
		echo "  $host_if (root): ${state:-state ?}, addresses: ${addrs:-none}"
		[[ -z $addrs ]] || echo "  warning: $host_if has an address; evgate's port should have none"
	else
		echo "  $host_if (root): absent"
		ok=0
	fi
	if ns_link_exists; then
		local state addrs tx
		state=$(ip -n "$ns" -o link show dev "$ns_if" | grep -o 'state [A-Z]*' || true)
		addrs=$(ip -n "$ns" -o -4 addr show dev "$ns_if" | awk '{print $4}' | tr '\n' ' ')
		tx=$(ip netns exec "$ns" ethtool -k "$ns_if" 2>/dev/null |
			awk -F': ' '/^tx-checksumming:/ {print $2}')
		echo "  $ns_if ($ns): ${state:-state ?}, addresses: ${addrs:-none}, tx-checksumming: ${tx:-?}"
		[[ $addrs == *"${ns_ip}"* ]] || ok=0
	else
		echo "  $ns_if ($ns): absent"
		ok=0
	fi
	if ((ok)); then
		echo "$me: up; evgate EAL option: --vdev=net_af_packet0,iface=$host_if,framecnt=$framecnt"
		return 0
	fi
	echo "$me: not up (scripts/testbed.sh up)"
	return 1
}

check_name "EVG_TB_NS" "$ns" 64
check_name "EVG_TB_HOST_IF" "$host_if" 15
check_name "EVG_TB_NS_IF" "$ns_if" 15
[[ $host_if != "$ns_if" ]] || die "EVG_TB_HOST_IF and EVG_TB_NS_IF are both '$host_if'"

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*) usage ;;
esac
