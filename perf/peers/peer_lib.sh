# shellcheck shell=bash
# Shared by the perf/peers/*.sh drivers (sourced, never run): a scratch
# directory and the servers a driver starts, both removed on exit by
# what the driver recorded (PIDs, one path), a free loopback port, a
# description of the filesystem under a directory as JSON, option checks,
# and the start of a server and the run of a client case.

peer_pids=()
peer_tmp=
peer_server=

# peer_stop PID: SIGTERM, SIGKILL after 5 s, reaped and taken off
# peer_pids.
peer_stop() {
	local keep=() p i
	if kill -TERM "$1" 2>/dev/null; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$1" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
	for p in "${peer_pids[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	peer_pids=("${keep[@]}")
}

# Stops every server still in peer_pids and removes peer_tmp. Installed
# as the EXIT trap by peer_init.
peer_cleanup() {
	local pid
	for pid in "${peer_pids[@]}"; do
		peer_stop "$pid"
	done
	if [[ -n $peer_tmp && -d $peer_tmp ]]; then
		rm -rf -- "$peer_tmp"
	fi
}

# peer_init NAME DIR: makes peer_tmp under DIR, sets the traps.
peer_init() {
	peer_tmp=$(mktemp -d "$2/$1.XXXXXX") || {
		echo "$1: --dir $2: cannot make a scratch directory" >&2
		exit 2
	}
	trap peer_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# peer_need CMD NAME: exits 2 with a hint when CMD is not installed.
peer_need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "$2: '$1' not found; install it with scripts/setup-deps.sh --perf" >&2
	exit 2
}

# A TCP port on 127.0.0.1 that was free a moment ago.
peer_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# peer_wait_port PORT PID: waits up to 10 s for 127.0.0.1:PORT to accept
# a connection while PID lives; 1 if it never does.
peer_wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$2" 2>/dev/null || return 1
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# peer_fs_json DIR: {"dir":..., "fs":..., "device":...} as findmnt sees it
# (stat -f when findmnt is missing).
peer_fs_json() {
	local fs dev
	fs=$(findmnt -n -o FSTYPE --target "$1" 2>/dev/null | head -n1)
	dev=$(findmnt -n -o SOURCE --target "$1" 2>/dev/null | head -n1)
	[[ -n $fs ]] || fs=$(stat -f -c %T "$1" 2>/dev/null || echo unknown)
	python3 -c 'import json, sys
print(json.dumps({"dir": sys.argv[1], "fs": sys.argv[2], "device": sys.argv[3]}))' \
		"$(realpath "$1")" "$fs" "${dev:-unknown}"
}

# peer_taskset CPU: the prefix that pins a command to CPU ("" for -1).
peer_taskset() {
	if [[ $1 == -1 ]]; then
		echo ""
	else
		echo "taskset -c $1"
	fi
}

# peer_check_uint NAME OPT VALUE: exits 2 unless VALUE is a whole number.
peer_check_uint() {
	[[ $3 =~ ^[0-9]+$ ]] && return 0
	echo "$1: $2 '$3': expected a whole number" >&2
	exit 2
}

# peer_check_seconds NAME OPT VALUE: exits 2 unless VALUE is in (0, 600].
peer_check_seconds() {
	if [[ $3 =~ ^[0-9]+(\.[0-9]+)?$ ]] &&
		python3 -c 'import sys; v = float(sys.argv[1]); sys.exit(0 if 0 < v <= 600 else 1)' "$3"; then
		return 0
	fi
	echo "$1: $2 '$3': expected a number of seconds in (0, 600]" >&2
	exit 2
}

# peer_check_cpu NAME OPT VALUE: exits 2 unless VALUE is -1 or an online CPU.
peer_check_cpu() {
	if [[ $3 == -1 ]] || { [[ $3 =~ ^[0-9]+$ ]] && (($3 < $(nproc --all))); }; then
		return 0
	fi
	echo "$1: $2 '$3': expected -1 or a CPU number below $(nproc --all)" >&2
	exit 2
}

# peer_run OUT ERR CMD...: runs CMD with stdout in OUT and stderr in ERR,
# in the background so that a signal to this script is handled at once
# (the EXIT trap then stops CMD by its PID too); CMD's exit status.
peer_run() {
	local out=$1 err=$2 pid rc=0 keep=() p
	shift 2
	"$@" >"$out" 2>"$err" &
	pid=$!
	peer_pids+=("$pid")
	wait "$pid" || rc=$?
	for p in "${peer_pids[@]}"; do
		[[ $p == "$pid" ]] || keep+=("$p")
	done
	peer_pids=("${keep[@]}")
	return "$rc"
}

# peer_check_words NAME OPT WORDS ALLOWED...: exits 2 unless every word of
# WORDS is one of ALLOWED.
peer_check_words() {
	local me=$1 opt=$2 words=$3 w a ok
	shift 3
	for w in $words; do
		ok=0
		for a in "$@"; do
			[[ $w == "$a" ]] && ok=1
		done
		((ok)) || {
			local IFS='|'
			local want="$*"
			echo "$me: $opt '$w': expected ${want//|/ or }" >&2
			exit 2
		}
	done
}

# peer_limit SECONDS: the timeout for one client run of SECONDS (+30 s).
peer_limit() {
	python3 -c 'import sys; print(int(float(sys.argv[1])) + 30)' "$1"
}

# peer_start_server NAME PORT LOG CPU CMD...: starts CMD in the background,
# pinned to CPU (-1: unpinned), records it in peer_pids and its PID in
# peer_server, and waits until it accepts on 127.0.0.1:PORT; exits 1 with
# the end of LOG when it never does.
peer_start_server() {
	local me=$1 port=$2 log=$3 cpu=$4
	shift 4
	# shellcheck disable=SC2046
	$(peer_taskset "$cpu") "$@" &
	peer_server=$!
	peer_pids+=("$peer_server")
	if ! peer_wait_port "$port" "$peer_server"; then
		echo "$me: $1 did not start:" "$(tail -n 3 "$log")" >&2
		exit 1
	fi
}

# peer_run_case NAME N LIMIT CMD...: runs the client CMD under a LIMIT s
# timeout with stdout in $peer_tmp/N.json, stderr in $peer_tmp/N.err;
# exits 1 with the end of its stderr when it fails.
peer_run_case() {
	local me=$1 n=$2 limit=$3
	shift 3
	if ! peer_run "$peer_tmp/$n.json" "$peer_tmp/$n.err" \
		timeout --kill-after=5 "$limit" "$@"; then
		echo "$me: ${1##*/} failed:" "$(tail -n 2 "$peer_tmp/$n.err")" >&2
		exit 1
	fi
}
