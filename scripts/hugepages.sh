#!/usr/bin/env bash
# Reserves N 2 MiB hugepages (default 512 = 1 GiB) and mounts hugetlbfs on
# /dev/hugepages if nothing is mounted there. Never lowers an existing
# reservation. Exits 0 when at least N pages are reserved and mounted,
# 1 with a message saying why not.
set -euo pipefail
want=${1:-512}
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

if [[ ! -e $nr ]]; then
	echo "hugepages: this kernel has no 2 MiB hugepage support ($nr missing)" >&2
	exit 1
fi
have=$(cat "$nr")
if ((have < want)); then
	if ! echo "$want" > "$nr" 2>/dev/null; then
		echo "hugepages: cannot write $nr (need root, or a container without" \
			"access to /sys); $have of $want pages reserved" >&2
		exit 1
	fi
	have=$(cat "$nr")
fi
if ((have < want)); then
	echo "hugepages: asked the kernel for $want 2 MiB pages, got $have" \
		"(not enough free contiguous memory; try again after freeing memory)" >&2
	exit 1
fi
if ! mountpoint -q /dev/hugepages; then
	mkdir -p /dev/hugepages
	if ! mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages; then
		echo "hugepages: cannot mount hugetlbfs on /dev/hugepages" >&2
		exit 1
	fi
fi
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
echo "hugepages: $have 2 MiB pages reserved ($free free), hugetlbfs on /dev/hugepages"
