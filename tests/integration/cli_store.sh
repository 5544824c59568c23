#!/bin/sh
# cli_store.sh ORCS SOURCE_DIR — `orcs store` as a user meets it: help and
# exit codes, memory keys (put/get/ls/rm, versions, compare-and-set, TTL,
# tenants), snapshots, artifacts (dedup, verification, signatures,
# lineage), and use of the store while a node runs on the same data
# directory.
set -u
orcs=$1
work=$(mktemp -d /tmp/orcs-cli-store-XXXXXX)
data="$work/data"
mkdir "$data"
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
lacks() { # lacks NAME FILE TEXT
    if grep -q -- "$3" "$2"; then
        echo "FAIL $1: '$3' in:"; cat "$2"; fails=$((fails + 1))
    else echo "ok   $1"; fi
}
st() { "$orcs" store --data "$data" "$@"; }

# Help and usage errors.
"$orcs" --help > "$work/out" 2>&1; check "orcs --help" 0 $?
contains "help lists store" "$work/out" "store"
"$orcs" store --help > "$work/out" 2>&1; check "store --help" 0 $?
contains "store help lists lineage" "$work/out" "lineage"
for c in stats get put ls rm snapshot restore artifacts lineage; do
    "$orcs" store "$c" --help > "$work/out" 2>&1; check "store $c --help" 0 $?
    contains "store $c help" "$work/out" "usage: orcs store $c"
done
"$orcs" store > /dev/null 2>&1; check "store without command" 2 $?
st frobnicate > /dev/null 2>&1; check "unknown store command" 2 $?
st get --bogus > /dev/null 2>&1; check "unknown option" 2 $?
st get global > /dev/null 2>&1; check "get without key" 2 $?
st put bogus k 1 > "$work/out" 2>&1; check "bad scope" 2 $?
contains "bad scope named" "$work/out" "bogus"
st put global k '{oops' > "$work/out" 2>&1; check "value not JSON" 2 $?
st ls global --limit x > /dev/null 2>&1; check "bad number" 2 $?
"$orcs" store --data "$work/missing" stats > /dev/null 2>&1
check "missing data directory" 1 $?

# Memory keys.
st put global greeting '{"text": "hello"}' > "$work/out"; check "put" 0 $?
contains "put prints version 1" "$work/out" "version 1"
st put global greeting '"again"' --json > "$work/out"; check "put again" 0 $?
contains "put json version 2" "$work/out" '"version": 2'
st get global greeting > "$work/out"; check "get" 0 $?
contains "get prints the value" "$work/out" '"again"'
st get global greeting --version 1 > "$work/out"; check "get --version" 0 $?
contains "old version kept" "$work/out" '"text": "hello"'
st get global greeting --json > "$work/out"; check "get --json" 0 $?
contains "entry has version" "$work/out" '"version": 2'
st get global greeting --history > "$work/out"; check "get --history" 0 $?
contains "history has version 1" "$work/out" '"version": 1'
st get global absent > /dev/null 2>&1; check "get of a missing key" 1 $?
st put global greeting '3' --expect-version 1 > /dev/null 2>&1
check "cas on a stale version" 1 $?
st put global greeting '3' --expect-version 2 > /dev/null; check "cas" 0 $?
st put global fresh '1' --expect-version 0 > /dev/null
check "cas create-if-absent" 0 $?
st put 'workflow:w-1' step '{"n": 1}' > /dev/null; check "put in a workflow" 0 $?
st ls global > "$work/out"; check "ls" 0 $?
contains "ls lists greeting" "$work/out" "greeting"
lacks "ls keeps scopes apart" "$work/out" "step"
st ls global gr --json > "$work/out"; check "ls prefix --json" 0 $?
contains "ls json key" "$work/out" '"key": "greeting"'
lacks "ls prefix filters" "$work/out" "fresh"

# TTL: wait (bounded) for the key to expire; no timing assertion.
st put 'thread:t1' tmp '"soon gone"' --ttl 1 > /dev/null; check "put --ttl" 0 $?
gone=
for i in $(seq 1 200); do
    if ! st get 'thread:t1' tmp > /dev/null 2>&1; then gone=1; break; fi
    sleep 0.05
done
check "ttl key expires" 1 "${gone:-0}"

# Tenants: the isolation prefix keeps keys apart, list included.
st --tenant acme put global secret '"acme only"' > /dev/null
check "tenant put" 0 $?
st --tenant globex get global secret > /dev/null 2>&1
check "other tenant cannot get" 1 $?
st --tenant globex ls global > "$work/out"; check "other tenant ls" 0 $?
lacks "other tenant cannot list" "$work/out" "secret"
st ls global > "$work/out"
lacks "no tenant cannot list" "$work/out" "secret"
st --tenant acme get global secret > "$work/out"; check "tenant get" 0 $?
contains "tenant reads its key" "$work/out" "acme only"

# Snapshots.
st snapshot global before > "$work/out"; check "snapshot" 0 $?
contains "snapshot count" "$work/out" "2 keys saved"
st rm global greeting > /dev/null; check "rm" 0 $?
st rm global greeting > /dev/null 2>&1; check "rm of a missing key" 1 $?
st put global extra 1 > /dev/null
st snapshot global > "$work/out"; check "snapshot list" 0 $?
contains "snapshot listed" "$work/out" "before"
st restore global before > "$work/out"; check "restore" 0 $?
contains "restore count" "$work/out" "2 keys restored"
st get global greeting > "$work/out"; check "restored key" 0 $?
contains "restored value" "$work/out" "3"
st get global extra > /dev/null 2>&1; check "restore removed a later key" 1 $?
st restore global nope > /dev/null 2>&1; check "restore of no snapshot" 1 $?

# Artifacts.
printf 'raw reads\n' > "$work/a.txt"
a=$(st artifacts --add "$work/a.txt" --type text/plain --actor cli --sign)
check "artifacts --add" 0 $?
again=$(st artifacts --add "$work/a.txt")
[ "$a" = "$again" ]; check "same bytes, same id" 0 $?
b=$(printf 'report' | st artifacts --add - --input "$a" --run r-1)
check "artifacts --add from stdin with input" 0 $?
mode=$(stat -c %a "$data/node.key")
[ "$mode" = 600 ]; check "node.key is mode 0600" 0 $?
st artifacts > "$work/out"; check "artifacts list" 0 $?
contains "list has a" "$work/out" "$a"
[ "$(grep -c . "$work/out")" = 2 ]; check "stored once" 0 $?
st artifacts "$a" > "$work/out"; check "artifact show" 0 $?
contains "signature verified" "$work/out" "signature verified"
st artifacts "$a" --json > "$work/out"; check "artifact show --json" 0 $?
contains "json media type" "$work/out" '"media_type": "text/plain"'
st artifacts "$a" --output "$work/copy.txt"; check "artifact --output" 0 $?
cmp -s "$work/a.txt" "$work/copy.txt"; check "bytes round trip" 0 $?
st artifacts 0000000000000000000000000000000000000000000000000000000000000000 \
    > /dev/null 2>&1; check "unknown artifact" 1 $?
st artifacts nothex > /dev/null 2>&1; check "bad artifact id" 2 $?
st artifacts --add "$work/a.txt" --input nothex > /dev/null 2>&1
check "bad input id" 2 $?
st lineage "$b" --json > "$work/out"; check "lineage" 0 $?
contains "lineage has the input" "$work/out" "$a"
contains "lineage edge" "$work/out" '"from"'
st lineage "$a" --direction outputs > "$work/out"; check "lineage outputs" 0 $?
contains "lineage outputs has b" "$work/out" "$b"
st lineage "$a" --direction sideways > /dev/null 2>&1
check "bad lineage direction" 2 $?
st stats --json > "$work/out"; check "stats --json" 0 $?
contains "stats has memory" "$work/out" '"memory"'
st stats > "$work/out"; check "stats" 0 $?
contains "stats lists artifacts" "$work/out" "artifacts"

# A node running on the same data directory: the CLI reads and writes
# alongside it (LMDB's lock file serialises the two writers).
cat > "$work/node.yaml" <<YAML
node: store-cli
memory:
  versions_kept: 3
  rules:
    - agent: '*'
      read: [global]
supervisor:
  children:
    - name: mem
      actor: memory
YAML
"$orcs" node --config "$work/node.yaml" --data "$data" --log error \
    > "$work/node.out" 2>&1 &
node_pid=$!
up=
for i in $(seq 1 200); do
    if "$orcs" status --data "$data" > /dev/null 2>&1; then up=1; break; fi
    sleep 0.05
done
check "node runs" 1 "${up:-0}"
for i in 1 2 3 4 5; do st put global during "$i" > /dev/null || break; done
check "put while the node runs" 0 $?
st get global during > "$work/out"; check "get while the node runs" 0 $?
contains "last write wins" "$work/out" "5"
st stats > /dev/null; check "stats while the node runs" 0 $?
"$orcs" status --data "$data" > "$work/out" 2>&1; check "node still answers" 0 $?
contains "memory actor runs" "$work/out" "mem"
kill -TERM "$node_pid"
wait "$node_pid"; code=$?
node_pid=
check "node stops cleanly" 0 $code
st get global during > "$work/out"; check "writes kept after the node" 0 $?

[ $fails -eq 0 ] && echo "cli_store: all checks passed" || echo "cli_store: $fails failed"
exit $fails
