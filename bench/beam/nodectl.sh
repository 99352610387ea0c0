#!/usr/bin/env bash
# The measuring node's helper for the distribution workloads (bench_dist.erl
# opens it as a port; run.sh passes its path in BENCH_NODECTL). It reads
# commands on stdin, one a line, and answers on stdout:
#
#   start <name>   starts a peer node <name> (bench_dist:peer/1) in the
#                  background; answers "started <pid>"
#   kill <ospid>   sends SIGKILL to a peer's OS process; answers
#                  "killed <seconds.microseconds>", the wall-clock time
#                  ($EPOCHREALTIME) taken just before kill(2)
#
# A peer's output goes to this helper's stderr (the measuring node's), so
# that its errors show; the shell's own notes on killed jobs are discarded.
# At the end of its input the helper waits for its peers, so that it reaps
# them.
#
# Environment: BENCH_ERL (erl), BENCH_A (the measuring node, which the peer
# connects to), BENCH_COOKIE, BENCH_PA (where the .beam files are); the
# peers inherit ERL_EPMD_PORT and BENCH_PID_DIR.
set -f
export LC_ALL=C # $EPOCHREALTIME with a decimal point
exec 3>&2 2>/dev/null
while IFS=' ' read -r cmd arg; do
	case "$cmd" in
	start)
		"$BENCH_ERL" -sname "$arg" -setcookie "$BENCH_COOKIE" -noshell -noinput +Bd \
			-start_epmd false -kernel inet_dist_use_interface '{127,0,0,1}' \
			-pa "$BENCH_PA" -run bench_dist peer "$BENCH_A" </dev/null >&3 2>&3 3>&- &
		echo "started $!"
		;;
	kill)
		t=$EPOCHREALTIME
		kill -9 "$arg"
		echo "killed $t"
		;;
	*)
		echo "unknown $cmd"
		;;
	esac
done
wait
