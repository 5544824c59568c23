#!/bin/sh
# demo.sh ORCS — the runtime-core demo: start a node with a small
# supervision tree in which one actor fails every second, watch `orcs
# status` count the restarts, then stop the node cleanly with SIGTERM;
# then run an agent offline (a replay cassette) with live progress.
set -eu
orcs=${1:-build/orcs}
here=$(cd "$(dirname "$0")" && pwd)
data=$(mktemp -d /tmp/orcs-demo-XXXXXX)
trap 'rm -rf "$data"' EXIT

echo "== starting: $orcs node --config examples/demo/node.yaml --data $data"
"$orcs" node --config "$here/demo/node.yaml" --data "$data" --log warn \
    2> "$data/node.log" &
pid=$!
for i in $(seq 1 100); do
    "$orcs" status --data "$data" --timeout 200 > /dev/null 2>&1 && break
    sleep 0.05
done
for round in 1 2; do
    sleep 1.5
    echo
    echo "== orcs status (after $round x 1.5 s): flaky fails every second"
    "$orcs" status --data "$data"
done
iso=$("$orcs" status --data "$data" --json | python3 -c '
import json, sys
for a in json.load(sys.stdin)["actors"]:
    if a["name"] == "isolated": print(a.get("pid", ""))')
echo
echo "== kill -9 $iso (the child process hosting 'isolated'); its supervisor restarts it"
kill -9 "$iso"
sleep 1
"$orcs" status --data "$data" | grep -E "NAME|services|greeter|isolated" 
echo
echo "== the same as JSON, for scripts (orcs status --json), first actors:"
"$orcs" status --data "$data" --json | head -n 24
echo "   ..."
echo
echo "== stopping the node with SIGTERM (children stop in reverse start order)"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
echo "== node log (last lines):"
tail -n 5 "$data/node.log"
if [ "$code" -ne 0 ]; then
    echo "demo: node exited with $code" >&2
    exit 1
fi
echo
echo "== an agent, offline: orcs run --agent examples/agent/calc.yaml (replay cassette)"
"$orcs" run --agent "$here/agent/calc.yaml" --config "$here/agent/node.yaml" \
    --data "$data/agent" --progress "What are 2 + 3 and 10 + 20?"
echo
echo "== a team, offline: orcs plan --run (examples/research_planner, replay cassette)"
echo "   a planner splits the question into research, data and writing tasks;"
echo "   the cassette's first plan names an unknown role, orcs refuses it and"
echo "   the planner corrects it; research and"
echo "   data run in parallel; writing waits for an approval (--auto-approve)"
"$orcs" plan "How do heat pumps compare to gas boilers?" \
    --planner "$here/research_planner/plan.yaml" \
    --config "$here/research_planner/node.yaml" \
    --data "$data/team" --id demo-team --run --auto-approve --progress
echo
echo "== the run's summary: orcs runs show demo-team"
"$orcs" runs show demo-team --data "$data/team"
echo "== demo done: node exited 0, the agent answered, the team's run completed"
