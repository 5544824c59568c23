#!/bin/sh
# cli.sh ORCS SOURCE_DIR — the orcs command as a user meets it: help,
# version, exit codes, config errors with file:line, a node in the
# foreground with live status over its control endpoint, plug-ins, root
# failure, and a clean stop on SIGTERM.
set -u
orcs=$1
src=$2
work=$(mktemp -d /tmp/orcs-cli-XXXXXX)
node_pid=
cleanup() {
    [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() { # check NAME EXPECTED_CODE ACTUAL_CODE
    if [ "$2" != "$3" ]; then
        echo "FAIL $1: exit $3, expected $2"; fails=$((fails + 1))
    else
        echo "ok   $1"
    fi
}
contains() { # contains NAME FILE TEXT
    if grep -q -- "$3" "$2"; then echo "ok   $1"; else
        echo "FAIL $1: '$3' not in:"; cat "$2"; fails=$((fails + 1)); fi
}

"$orcs" --help > "$work/out" 2>&1; check "orcs --help" 0 $?
contains "help lists node" "$work/out" "node"
"$orcs" --version > "$work/out" 2>&1; check "orcs --version" 0 $?
contains "version" "$work/out" "orcs 0."
"$orcs" node --help > "$work/out" 2>&1; check "orcs node --help" 0 $?
contains "node help" "$work/out" "\-\-config FILE"
"$orcs" status --help > "$work/out" 2>&1; check "orcs status --help" 0 $?
"$orcs" child --help > "$work/out" 2>&1; check "orcs child --help" 0 $?
"$orcs" child > "$work/out" 2>&1; check "orcs child without arguments" 2 $?
"$orcs" > /dev/null 2>&1; check "no command" 2 $?
"$orcs" frobnicate > /dev/null 2>&1; check "unknown command" 2 $?
"$orcs" node --bogus > /dev/null 2>&1; check "unknown option" 2 $?

# An invalid config names file:line and the bad key, exit 2.
cat > "$work/bad.yaml" <<YAML
node: t
supervisor:
  children:
    - name: a
      actor: echo
      restrat: permanent
YAML
"$orcs" node --config "$work/bad.yaml" --data "$work/d0" > "$work/out" 2>&1
check "bad config exit code" 2 $?
contains "bad config file:line" "$work/out" "bad.yaml:6"
contains "bad config key" "$work/out" "restrat"
"$orcs" node --config "$work/missing.yaml" > "$work/out" 2>&1
check "missing config" 2 $?
printf 'supervisor:\n  children:\n    - name: a\n      actor: nope\n' > "$work/kind.yaml"
"$orcs" node --config "$work/kind.yaml" --data "$work/d1" > "$work/out" 2>&1
check "unknown actor kind" 2 $?
contains "unknown kind named" "$work/out" "nope"

# A node in the foreground, asked for its status, stopped by SIGTERM.
cat > "$work/node.yaml" <<YAML
node: cli
supervisor:
  strategy: one_for_one
  intensity: 1000
  period_s: 1
  children:
    - name: flaky
      actor: flaky
      config: {tick_ms: 5, fail_every: 3}
    - name: greeter
      actor: $(pwd)/examples/custom_actor/libgreeter.so
    - name: iso
      actor: echo
      process: true
YAML
"$orcs" node --config "$work/node.yaml" --data "$work/data" --log error \
    > "$work/node.out" 2>&1 &
node_pid=$!
ok=
for i in $(seq 1 200); do
    if "$orcs" status --data "$work/data" --json > "$work/status.json" 2>/dev/null \
        && grep -q '"restarts": [1-9]' "$work/status.json"; then ok=1; break; fi
    sleep 0.05
done
check "status answers with restarts" 1 "${ok:-0}"
contains "status json has actors" "$work/status.json" '"actors"'
contains "status json names flaky" "$work/status.json" '"name": "flaky"'
contains "status json has supervisor" "$work/status.json" '"supervisor": "root"'
contains "status json has state" "$work/status.json" '"state"'
"$orcs" status --data "$work/data" > "$work/status.txt" 2>&1
check "status text" 0 $?
contains "status tree" "$work/status.txt" "RESTARTS"
contains "plug-in child runs" "$work/status.txt" "greeter"
"$orcs" status --node "$(grep -o 'ipc://[^"]*' "$work/status.json" | head -1)" \
    --json > /dev/null 2>&1
check "status --node endpoint" 0 $?
kill -TERM "$node_pid"
wait "$node_pid"; code=$?
node_pid=
check "SIGTERM stops cleanly" 0 $code
contains "clean stop message" "$work/node.out" "stopped cleanly"
"$orcs" status --data "$work/data" --timeout 200 > /dev/null 2>&1
check "status with no node" 1 $?

# The root supervisor gives up: exit 1 and a clear message.
cat > "$work/fail.yaml" <<YAML
supervisor:
  intensity: 1
  period_s: 60
  children:
    - name: flaky
      actor: flaky
      config: {tick_ms: 1, fail_every: 1}
YAML
"$orcs" node --config "$work/fail.yaml" --data "$work/d2" --log error \
    > "$work/out" 2>&1
check "root failure exit code" 1 $?
contains "root failure message" "$work/out" "root supervisor failed"

[ $fails -eq 0 ] && echo "cli: all checks passed" || echo "cli: $fails failed"
exit $fails
