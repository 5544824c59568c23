#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR for RUNS executions on a copy of
# its corpus, and prints the execution counts. New findings land in
# tests/fuzz/corpus/<target>/ only when you copy them there.
set -eu
build=${1:-build-fuzz}
runs=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
for bin in "$build"/tests/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin" | sed 's/^fuzz_//')
    work=$(mktemp -d)
    cp -r "$here/corpus/$name/." "$work/" 2>/dev/null || true
    echo "fuzz: $name runs=$runs"
    "$bin" -runs="$runs" -max_len=65536 -print_final_stats=1 "$work" 2>&1 \
        | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
    rm -rf "$work"
done
