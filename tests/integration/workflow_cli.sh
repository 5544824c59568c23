#!/bin/sh
# workflow_cli.sh ORCS SOURCE_DIR — `orcs validate`, `orcs run FLOW.yaml`,
# `orcs runs`, `orcs approve` with the real program: in a node started by
# the command, offline on the store, and against a running node. Tools are
# exec manifests in a temp tools directory (no model needed).
set -u
orcs=$1
work=$(mktemp -d /tmp/orcs-workflow-cli-XXXXXX)
node_pid=
cleanup() {
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid"
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work" || fail "cd $work"

# ---- fixtures
mkdir tools
cat > tools/echo.tool.yaml <<'EOF'
tool: echo
description: Return the arguments.
kind: exec
input_schema: {type: object}
timeout_ms: 10000
idempotent: true
exec:
  command: [cat]
EOF
printf 'node: wfcli\ntools: [./tools]\n' > node.yaml
cat > small.yaml <<'EOF'
workflow: small
durable: true
inputs:
  n: {type: integer, default: 1}
  s: {type: string, default: x}
  o: {type: object, default: {}}
nodes:
  first:
    kind: tool
    tool: echo
    args: {n: "${{ inputs.n }}", s: "${{ inputs.s }}"}
  second:
    kind: tool
    tool: echo
    needs: [first]
    args: {prev: "${{ nodes.first.output }}", o: "${{ inputs.o }}"}
  end:
    kind: end
    needs: [second]
    output: "${{ nodes.second.output }}"
EOF
cat > approval.yaml <<'EOF'
workflow: gated
durable: true
inputs:
  who: {type: string}
nodes:
  first:
    kind: tool
    tool: echo
    args: {who: "${{ inputs.who }}"}
  review:
    kind: approval
    needs: [first]
    prompt: "Publish for ${{ inputs.who }}?"
  end:
    kind: end
    needs: [review]
    output: "done ${{ nodes.first.output.who }} by ${{ nodes.review.output.by }}"
EOF
cat > bad.yaml <<'EOF'
workflow: bad
nodes:
  a: {kind: tool, tool: echo, needs: [nowhere]}
  b: {kind: bogus}
EOF

# ---- validate
out=$("$orcs" validate small.yaml) || fail "validate small.yaml exited $?"
[ "$out" = "small.yaml: ok (3 nodes)" ] || fail "validate: $out"
"$orcs" validate bad.yaml > out 2> err
[ $? -eq 2 ] || fail "validate bad.yaml did not exit 2"
grep -q "^bad.yaml:3: .*nowhere" err || fail "validate error for a: $(cat err)"
grep -q "^bad.yaml:4: .*bogus" err || fail "validate error for b: $(cat err)"
"$orcs" validate bad.yaml --json > out 2> /dev/null
grep -q '"ok": false' out || fail "validate --json ok: $(cat out)"
grep -q '"errors": \[' out || fail "validate --json errors: $(cat out)"
"$orcs" validate small.yaml --json | grep -q '"nodes": 3' \
    || fail "validate --json nodes"
"$orcs" validate missing.yaml 2> /dev/null
[ $? -eq 2 ] || fail "validate of a missing file did not exit 2"
"$orcs" validate 2> /dev/null
[ $? -eq 2 ] || fail "validate without a file did not exit 2"

# ---- help and usage
for cmd in "run" "plan" "validate" "runs" "runs ls" "runs show" \
    "runs resume" "approve"; do
    # shellcheck disable=SC2086
    "$orcs" $cmd --help > out 2>&1 || fail "$cmd --help exited $?"
    grep -q "^usage: orcs" out || fail "$cmd --help: $(head -n 2 out)"
done
"$orcs" run --help | grep -q -- "--agent FILE" || fail "run --help names --agent"
"$orcs" runs bogus 2> /dev/null
[ $? -eq 2 ] || fail "runs bogus did not exit 2"
"$orcs" run small.yaml --input nonsense 2> err
[ $? -eq 2 ] || fail "--input without = did not exit 2"
"$orcs" run small.yaml --data d0 --input n=abc 2> err
[ $? -eq 2 ] || fail "a string for an integer input did not exit 2"
grep -q "input n" err || fail "input error: $(cat err)"
"$orcs" run bad.yaml --data d0 2> err
[ $? -eq 2 ] || fail "run of an invalid workflow did not exit 2"
grep -q "^bad.yaml:3:" err || fail "run bad.yaml: $(cat err)"

# ---- an empty data directory
out=$("$orcs" runs ls --data empty) || fail "runs ls on nothing exited $?"
[ -z "$out" ] || fail "runs ls on nothing printed: $out"
"$orcs" runs ls --data empty --json | grep -q '"runs": \[\]' \
    || fail "runs ls --json on nothing"
"$orcs" runs show r-none --data empty 2> err
[ $? -eq 1 ] || fail "runs show of an unknown run did not exit 1"
grep -q "r-none" err || fail "runs show error: $(cat err)"
"$orcs" approve r-none a-1 --data empty 2> /dev/null
[ $? -eq 1 ] || fail "approve of an unknown run did not exit 1"
"$orcs" runs ls --status nonsense --data empty 2> /dev/null
[ $? -eq 2 ] || fail "runs ls --status nonsense did not exit 2"

# ---- a run in a node started by the command
out=$("$orcs" run small.yaml --config node.yaml --data d1 --quiet \
      --input s=hello) || fail "run small.yaml exited $?"
echo "$out" | grep -q '"s": "hello"' || fail "run output: $out"
"$orcs" run small.yaml --config node.yaml --data d1 --run r-json --json \
    --input n=42 --input 's={not json' --input o=@in.json > out 2> err
[ $? -eq 2 ] || fail "--input o=@missing did not exit 2"
printf '{"k": [1, 2, {"z": true}]}\n' > in.json
printf 'text from a file' > in.txt
"$orcs" run small.yaml --config node.yaml --data d1 --run r-json --json \
    --input n=42 --input 's=@in.txt' --input o=@in.json > out \
    || fail "run --json exited $?: $(cat out)"
for want in '"id": "r-json"' '"workflow": "small"' '"status": "completed"' \
    '"approvals": \[\]' '"error": null' '"prompt_tokens": 0' \
    '"n": 42' '"s": "text from a file"' '"z": true' '"attempts": 1'; do
    grep -q "$want" out || fail "run --json lacks $want: $(cat out)"
done
[ "$(grep -c '"status": "completed"' out)" -ge 4 ] \
    || fail "run --json: not every node completed: $(cat out)"
"$orcs" run small.yaml --config node.yaml --data d1 --run r-str --json \
    --input 's={not json' --input 'n=7' > out || fail "run r-str exited $?"
grep -q '"s": "{not json"' out || fail "a value that is not JSON is a string"
"$orcs" run small.yaml --config node.yaml --data d1 --run r-str 2> err
[ $? -eq 2 ] || fail "a run id that exists did not exit 2"
"$orcs" runs show r-json --data d1 > out || fail "runs show exited $?"
grep -q "^run r-json (small): completed" out || fail "runs show: $(cat out)"
grep -q "^second .*completed" out || fail "runs show nodes: $(cat out)"
"$orcs" runs show r-json --data d1 --json | grep -q '"id": "r-json"' \
    || fail "runs show --json"
out=$("$orcs" runs ls --data d1) || fail "runs ls exited $?"
echo "$out" | grep -q "^r-json .*small .*completed" || fail "runs ls: $out"
[ "$(echo "$out" | grep -c completed)" -eq 3 ] || fail "runs ls count: $out"
[ "$("$orcs" runs ls --data d1 --limit 1 --json | grep -c '"id"')" -eq 1 ] \
    || fail "runs ls --limit 1"
"$orcs" runs cancel r-json --data d1 2> err
[ $? -eq 1 ] || fail "cancel of a completed run did not exit 1"

# ---- an approval: exit 3, approve offline, resume
"$orcs" run approval.yaml --config node.yaml --data d2 --run r-gate \
    --input who=ada > out 2> err
[ $? -eq 3 ] || fail "an approval run did not exit 3: $(cat err)"
grep -q "orcs approve r-gate a-" err || fail "no approve hint: $(cat err)"
"$orcs" runs show r-gate --data d2 --json > out
grep -q '"status": "waiting_approval"' out || fail "not waiting: $(cat out)"
grep -q '"state": "pending"' out || fail "no pending approval: $(cat out)"
grep -q '"prompt": "Publish for ada?"' out || fail "approval prompt: $(cat out)"
approval=$(sed -n 's/.*"id": "\(a-[0-9a-f]*\)".*/\1/p' out | head -n 1)
[ -n "$approval" ] || fail "no approval id in $(cat out)"
"$orcs" approve r-gate "$approval" --data d2 --by grace --reason fine \
    > out 2> err || fail "offline approve exited $?: $(cat err)"
grep -q "approved" out || fail "approve: $(cat out)"
"$orcs" approve r-gate "$approval" --data d2 2> err
[ $? -eq 1 ] || fail "a second approve did not exit 1"
"$orcs" runs show r-gate --data d2 --json | grep -q '"by": "grace"' \
    || fail "the decision is not in the store"
out=$("$orcs" runs resume r-gate --follow --config node.yaml --data d2 \
      --quiet) || fail "resume --follow exited $?"
[ "$out" = "done ada by grace" ] || fail "resumed output: $out"
"$orcs" runs show r-gate --data d2 | grep -q "^run r-gate (gated): completed" \
    || fail "the resumed run did not complete"

# rejected offline (the one pending approval is found without its id):
# the run fails
"$orcs" run approval.yaml --config node.yaml --data d2 --run r-no \
    --input who=bob > /dev/null 2>&1
[ $? -eq 3 ] || fail "second approval run did not exit 3"
"$orcs" approve r-no --reject --reason "not now" --data d2 > /dev/null 2>&1 \
    || fail "reject exited $?"
"$orcs" runs resume r-no --follow --config node.yaml --data d2 2> err
[ $? -eq 1 ] || fail "a rejected run did not exit 1"
grep -q "not now" err || fail "rejection reason: $(cat err)"

# pause, resume and cancel offline
"$orcs" run approval.yaml --config node.yaml --data d2 --run r-p \
    --input who=cy > /dev/null 2>&1
"$orcs" runs pause r-p --data d2 > out 2> /dev/null || fail "pause exited $?"
grep -q "r-p: paused" out || fail "pause: $(cat out)"
"$orcs" runs ls --data d2 --status paused | grep -q "^r-p " \
    || fail "runs ls --status paused"
"$orcs" runs resume r-p --data d2 > out 2> /dev/null || fail "resume $?"
grep -q "r-p: running" out || fail "resume: $(cat out)"
"$orcs" runs cancel r-p --data d2 > out || fail "cancel exited $?"
"$orcs" runs show r-p --data d2 --json > out
grep -q '"status": "cancelled"' out || fail "not cancelled: $(cat out)"
grep -q '"state": "cancelled"' out || fail "approval not cancelled: $(cat out)"
"$orcs" runs pause r-p --data d2 2> /dev/null
[ $? -eq 1 ] || fail "pause of a cancelled run did not exit 1"

# ---- against a running node
"$orcs" node --config node.yaml --data d3 --log error 2> node.err &
node_pid=$!
i=0
until "$orcs" status --data d3 --timeout 200 > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "node did not start"; sleep 0.05
done
run=$("$orcs" run approval.yaml --data d3 --input who=node) \
    || fail "submit to a running node exited $?"
case "$run" in r-*) ;; *) fail "submit printed '$run', not a run id" ;; esac
"$orcs" runs ls --data d3 | grep -q "^$run " || fail "runs ls lacks $run"
i=0
until "$orcs" runs show "$run" --data d3 --json | grep -q waiting_approval; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "$run never waited"; sleep 0.05
done
"$orcs" approve "$run" --data d3 --by node-admin > out \
    || fail "approve through the node exited $?"
i=0
until "$orcs" runs show "$run" --data d3 --json | grep -q '"completed"'; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "$run did not complete"; sleep 0.05
done
"$orcs" runs show "$run" --data d3 --json \
    | grep -q '"output": "done node by node-admin"' || fail "output via node"
out=$("$orcs" run small.yaml --data d3 --follow --input n=5 --json) \
    || fail "run --follow exited $?"
echo "$out" | grep -q '"status": "completed"' || fail "follow: $out"
"$orcs" run approval.yaml --data d3 --run r-wait --follow --input who=w \
    > /dev/null 2>&1
[ $? -eq 3 ] || fail "--follow on an approval did not exit 3"
"$orcs" runs cancel r-wait --data d3 > /dev/null || fail "cancel via node"
"$orcs" runs show r-wait --data d3 --json | grep -q '"status": "cancelled"' \
    || fail "not cancelled via node"
[ "$("$orcs" runs ls --data d3 --json | grep -c '"id"')" -eq 3 ] \
    || fail "runs ls via node: $("$orcs" runs ls --data d3)"
kill "$node_pid"
wait "$node_pid" || fail "node exit code $?"
node_pid=
# the runs are in the store after the node stopped
"$orcs" runs show "$run" --data d3 | grep -q "completed" \
    || fail "runs show after the node stopped"
echo "workflow_cli: ok"
