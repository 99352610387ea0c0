#!/usr/bin/env bash
# Runs one workload of BENCHMARKS.md on the BEAM (system "beam"):
#   bench/beam/run.sh W2        # QUICK=1 divides every N by 10
# Installs erlang-base with apt-get when erl is missing, compiles bench.erl
# with erlc into bench/out/beam (again only when the source is newer), and
# prints RESULT lines on stdout (notes on stderr).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 W1..W8 (QUICK=1 divides every N by 10)" >&2
	exit 2
fi

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
if [ ! -f "$out/bench.beam" ] || [ "$here/bench.erl" -nt "$out/bench.beam" ]; then
	tmp="$(mktemp -d "$out/build.XXXXXX")"
	erlc -o "$tmp" "$here/bench.erl" >&2
	mv -f "$tmp/bench.beam" "$out/bench.beam"
	rmdir "$tmp"
fi

exec erl -noshell -noinput -pa "$out" -run bench main "$1"
