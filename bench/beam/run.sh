#!/usr/bin/env bash
# Runs one workload of BENCHMARKS.md on the BEAM (system "beam"):
#   bench/beam/run.sh W2        # QUICK=1 divides every N by 10
# Installs erlang-base with apt-get when erl is missing, compiles bench.erl
# and bench_dist.erl with erlc into bench/out/beam (again only when a source
# is newer), and prints RESULT lines on stdout (notes on stderr).
#
# W1..W8 run on one node (bench.erl). The distribution workloads W9..W13
# (bench_dist.erl) run on two or three nodes, each its own OS process, on a
# private epmd bound to 127.0.0.1 and with distribution listening on
# 127.0.0.1 only. W9 and W10 are measured twice: once unpinned, and once with
# every node pinned to CPU 0 (taskset -c 0), whose figures carry the suffix
# "pinned". Every node and the epmd started here are stopped on exit, on
# failure too.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 W1..W13 (QUICK=1 divides every N by 10)" >&2
	exit 2
fi
workload="${1^^}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${BEAM_OUT:-$here/../out/beam}"

if ! command -v erl >/dev/null 2>&1 || ! command -v erlc >/dev/null 2>&1; then
	echo "run.sh: erl not found, installing erlang-base" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq erlang-base >&2
	if ! command -v erl >/dev/null 2>&1 || ! command -v erlc >/dev/null 2>&1; then
		echo "run.sh: erl and erlc still not found after installing erlang-base" >&2
		exit 1
	fi
fi

mkdir -p "$out"
for mod in bench bench_dist; do
	if [ ! -f "$out/$mod.beam" ] || [ "$here/$mod.erl" -nt "$out/$mod.beam" ]; then
		tmp="$(mktemp -d "$out/build.XXXXXX")"
		erlc -o "$tmp" "$here/$mod.erl" >&2
		mv -f "$tmp/$mod.beam" "$out/$mod.beam"
		rmdir "$tmp"
	fi
done

case "$workload" in
W9 | W10 | W11 | W12 | W13) ;;
*) exec erl -noshell -noinput -pa "$out" -run bench main "$workload" ;;
esac

# ---- distribution workloads ----

command -v epmd >/dev/null 2>&1 || {
	echo "run.sh: epmd not found" >&2
	exit 1
}
if [ "$workload" = W9 ] || [ "$workload" = W10 ]; then
	command -v taskset >/dev/null 2>&1 || {
		echo "run.sh: taskset not found (util-linux), needed to pin the nodes" >&2
		exit 1
	}
fi

# tag makes this run's node names, cookie and epmd its own.
tag="$$_$RANDOM"
run_dir="$(mktemp -d "${TMPDIR:-/tmp}/bench-beam-dist.XXXXXX")"
mkdir "$run_dir/pids"
epmd_pid=""
a_pid=""

# cleanup stops the measuring node, every peer node that wrote its OS pid
# into run_dir/pids (only if that process still runs this tag's node), and
# the epmd.
cleanup() {
	local rc=$? f pid
	trap - EXIT INT TERM
	if [ -n "$a_pid" ] && kill -0 "$a_pid" 2>/dev/null; then
		kill -9 "$a_pid" 2>/dev/null || true
		wait "$a_pid" 2>/dev/null || true
	fi
	for f in "$run_dir"/pids/*; do
		[ -e "$f" ] || continue
		pid="${f##*/}"
		if grep -qa -- "$tag" "/proc/$pid/cmdline" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
	if [ -n "$epmd_pid" ]; then
		kill "$epmd_pid" 2>/dev/null || true
		wait "$epmd_pid" 2>/dev/null || true
	fi
	rm -rf "$run_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private epmd on a free port of 127.0.0.1, so that no other node on the
# machine is disturbed and nothing listens beyond loopback.
started=""
for _ in $(seq 1 20); do
	port=$((20000 + RANDOM % 20000))
	epmd -port "$port" -address 127.0.0.1 &
	epmd_pid=$!
	for _ in $(seq 1 50); do
		if ! kill -0 "$epmd_pid" 2>/dev/null; then break; fi
		if epmd -port "$port" -names >/dev/null 2>&1; then
			sleep 0.2 # an epmd already on that port makes ours exit
			if kill -0 "$epmd_pid" 2>/dev/null; then started=1; fi
			break
		fi
		sleep 0.1
	done
	if [ -n "$started" ]; then break; fi
	kill "$epmd_pid" 2>/dev/null || true
	wait "$epmd_pid" 2>/dev/null || true
	epmd_pid=""
done
if [ -z "$started" ]; then
	echo "run.sh: could not start epmd on a free port" >&2
	exit 1
fi

export ERL_EPMD_PORT="$port"
export BENCH_PID_DIR="$run_dir/pids"
BENCH_ERL="$(command -v erl)"
export BENCH_ERL
export BENCH_NODECTL="$here/nodectl.sh"

# node_a runs the measuring node A for one placement; A starts its peers,
# which inherit its CPU affinity.
session=0
node_a() {
	local placement=$1 pin=()
	session=$((session + 1))
	if [ "$placement" = pinned ]; then pin=(taskset -c 0); fi
	"${pin[@]}" erl -sname "bench_a${session}_$tag" -setcookie "bench_$tag" \
		-noshell -noinput +Bd -start_epmd false \
		-kernel inet_dist_use_interface '{127,0,0,1}' \
		-pa "$out" -run bench_dist main "$workload" "$placement" &
	a_pid=$!
	local rc=0
	wait "$a_pid" || rc=$?
	a_pid=""
	return "$rc"
}

case "$workload" in
W9 | W10)
	node_a unpinned
	node_a pinned
	;;
*) node_a unpinned ;;
esac
