#!/bin/sh
# agent_cli.sh ORCS SOURCE_DIR — `orcs run --agent` and `orcs tools` with
# the real program: the offline example, bad input, and reload on a running
# node.
set -u
orcs=$1
src=$2
work=$(mktemp -d /tmp/orcs-agent-cli-XXXXXX)
node_pid=
cleanup() {
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid"
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ex=$src/examples/agent
out=$("$orcs" run --agent "$ex/calc.yaml" --config "$ex/node.yaml" \
      --data "$work/d1" --quiet "What are 2 + 3 and 10 + 20?") \
    || fail "run exited $?"
[ "$out" = "2 + 3 = 5 and 10 + 20 = 30." ] || fail "output: $out"

json=$("$orcs" run --agent "$ex/calc.yaml" --config "$ex/node.yaml" \
       --data "$work/d1" --json "sum") || fail "run --json exited $?"
echo "$json" | grep -q '"steps": 2' || fail "json: $json"
echo "$json" | grep -q '"prompt_tokens": 252' || fail "json usage: $json"

# --replay overrides the config's provider; a cassette that matches
# nothing fails the run with exit 1 and names the cassette.
printf '{"match": {"contains": "never"}, "response": {"content": "x"}}\n' \
    > "$work/miss.jsonl"
"$orcs" run --agent "$ex/calc.yaml" --config "$ex/node.yaml" \
    --data "$work/d2" --replay "$work/miss.jsonl" --quiet "hello" \
    2> "$work/err" && fail "unmatched cassette succeeded"
grep -q "miss.jsonl" "$work/err" || fail "error does not name the cassette: $(cat "$work/err")"

# A bad agent file: exit 2 with file:line.
printf 'agent: x\ncolour: red\n' > "$work/bad.yaml"
"$orcs" run --agent "$work/bad.yaml" "hi" 2> "$work/err"
[ $? -eq 2 ] || fail "bad agent file did not exit 2"
grep -q "bad.yaml:2: colour: unknown key" "$work/err" || fail "message: $(cat "$work/err")"
"$orcs" run "hi" 2> /dev/null
[ $? -eq 2 ] || fail "missing --agent did not exit 2"
"$orcs" run --help | grep -q -- "--agent FILE" || fail "run --help"

# orcs tools: ls, nearest, check.
"$orcs" tools ls --config "$ex/node.yaml" | grep -q "^add " || fail "tools ls"
"$orcs" tools ls --config "$ex/node.yaml" --json | grep -q '"wire_name": "memory_get"' \
    || fail "tools ls --json"
top=$("$orcs" tools nearest "sum two integers" --config "$ex/node.yaml" | head -n 1)
echo "$top" | grep -q " add$" || fail "nearest: $top"
"$orcs" tools check "$ex/tools/add.tool.yaml" > /dev/null || fail "check good"
printf 'tool: t\nkind: exec\nexec: {command: []}\ncolor: 1\n' > "$work/bad.tool.yaml"
"$orcs" tools check "$work/bad.tool.yaml" 2> "$work/err"
[ $? -eq 2 ] || fail "check bad did not exit 2"
grep -q "bad.tool.yaml:" "$work/err" || fail "check message: $(cat "$work/err")"

# Reload on a running node: a new manifest appears, a bad one is reported.
mkdir -p "$work/tools"
cp "$ex/tools/add.tool.yaml" "$work/tools/"
printf 'node: reload\ntools: [%s]\n' "$work/tools" > "$work/node.yaml"
"$orcs" node --config "$work/node.yaml" --data "$work/d3" --log error &
node_pid=$!
i=0
until "$orcs" status --data "$work/d3" --timeout 200 > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "node did not start"; sleep 0.05
done
sed 's/^tool: add/tool: add2/' "$ex/tools/add.tool.yaml" > "$work/tools/add2.tool.yaml"
printf 'tool: broken\n' > "$work/tools/broken.tool.yaml"
"$orcs" tools reload --data "$work/d3" > "$work/reload"
[ $? -eq 1 ] || fail "reload with a bad manifest should exit 1"
grep -q "broken.tool.yaml:" "$work/reload" || fail "reload: $(cat "$work/reload")"
grep -q ", 7 tools," "$work/reload" || fail "tools: $(cat "$work/reload")"
rm "$work/tools/broken.tool.yaml"
kill -HUP "$node_pid"
sleep 0.3
"$orcs" tools reload --data "$work/d3" > "$work/reload" || fail "clean reload"
grep -q "0 errors" "$work/reload" || fail "reload: $(cat "$work/reload")"
kill "$node_pid"
wait "$node_pid" || fail "node exit code $?"
node_pid=
echo "agent_cli: ok"
