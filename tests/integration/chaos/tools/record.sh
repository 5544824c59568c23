#!/bin/sh
# record.sh MODE — the tool of the workflow crash test
# (tests/integration/workflow_chaos.c). It runs with the test's work
# directory as its working directory (the manifests say cwd: ..).
#
# Every real invocation appends "KEY START_NS MODE" to log/invocations
# (KEY: $ORCS_IDEMPOTENCY_KEY, the same on every attempt and after every
# restart), then sleeps 50-200 ms so that kills land while it runs, then
# makes its effect: MODE idem appends KEY to log/effects only when KEY is
# not there yet (an idempotent API), MODE once appends it every time. A
# tool orphaned by a SIGKILLed node finishes all the same, as a real
# remote call would. The files are updated under flock.
set -eu
mode=$1
key=${ORCS_IDEMPOTENCY_KEY:?the idempotency key is not set}
cat > /dev/null # the arguments
now=$(date +%s%N)
{
    flock 9
    printf '%s %s %s\n' "$key" "$now" "$mode" >> log/invocations
} 9> log/lock
sleep "$(printf '0.%03d' $(( (now / 1000) % 151 + 50 )))"
{
    flock 9
    if [ "$mode" = once ] || ! grep -qxF -- "$key" log/effects; then
        printf '%s\n' "$key" >> log/effects
    fi
} 9> log/lock
printf '{"key": "%s", "mode": "%s"}\n' "$key" "$mode"
