#!/bin/sh
# run.sh BUILD_DIR [ONLY] — runs every benchmark program built in
# BUILD_DIR/bench (bench_<name>), or only the one named ONLY (its <name>,
# e.g. ask_roundtrip). stdout carries only their JSON lines; summaries and
# errors go to stderr. Exits 1 when a benchmark failed, 2 on a usage error.
# Environment: ORCS_BENCH_SCALE=0.1 scales iteration counts (quick runs);
# ORCS_BENCH_PIN=same|split pins each measured pair of threads, runtime
# and baseline alike, to one CPU or to two (default: unpinned). See
# bench/bench.h.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [ONLY]" >&2
    exit 2
fi
dir=$1/bench
ORCS_BENCH_BUILD=$(cd "$1" && pwd)
export ORCS_BENCH_BUILD
only=${2:-}

found=0
failed=0
for program in "$dir"/bench_*; do
    [ -f "$program" ] && [ -x "$program" ] || continue
    name=${program##*/bench_}
    if [ -n "$only" ] && [ "$only" != "$name" ]; then
        continue
    fi
    found=1
    if ! "$program"; then
        echo "run.sh: $name failed" >&2
        failed=1
    fi
done

if [ "$found" = 0 ]; then
    if [ -n "$only" ]; then
        echo "run.sh: no benchmark named '$only' in $dir" >&2
    else
        echo "run.sh: no benchmark programs in $dir (build first)" >&2
    fi
    exit 2
fi
exit "$failed"
