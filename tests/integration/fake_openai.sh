#!/bin/sh
# fake_openai.sh — drives the fake OpenAI server (tests/fakes/fake_openai.c)
# over loopback with curl: plain and streamed answers, faults, auth,
# cassettes, the request log, and a clean exit on SIGTERM.
# Usage: fake_openai.sh FAKE_OPENAI_BINARY
set -u
FAKE=$1
DIR=$(mktemp -d /tmp/fake_openai_test.XXXXXX)
PID=
fail() {
    echo "FAIL: $*" >&2
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null
    exit 1
}
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT

# start ARGS...: runs the server on port 0, waits for its port file.
start() {
    rm -f "$DIR/port"
    "$FAKE" --port 0 --port-file "$DIR/port" "$@" >"$DIR/stdout" 2>"$DIR/stderr" &
    PID=$!
    i=0
    while [ ! -s "$DIR/port" ]; do
        i=$((i + 1))
        [ $i -gt 200 ] && fail "server did not start: $(cat "$DIR/stderr")"
        sleep 0.05
    done
    PORT=$(cat "$DIR/port")
    URL="http://127.0.0.1:$PORT/v1/chat/completions"
    head -1 "$DIR/stdout" | grep -qx "port $PORT" || fail "stdout: $(cat "$DIR/stdout")"
}

stop() {
    kill -TERM "$PID" || fail "server died early"
    wait "$PID"
    rc=$?
    PID=
    [ $rc -eq 0 ] || fail "server exited $rc on SIGTERM: $(cat "$DIR/stderr")"
}

# post BODY [curl args...]: prints "HTTP_CODE" on the last line of $DIR/out.
post() {
    body=$1
    shift
    curl -s -S -m 20 -o "$DIR/out" -D "$DIR/headers" -w '%{http_code}' \
        -H 'Content-Type: application/json' "$@" -d "$body" "$URL" \
        >"$DIR/code" 2>"$DIR/curl_err"
    CURL_RC=$?
    CODE=$(cat "$DIR/code")
}

expect() { # expect CODE TEXT: the last answer had CODE and contains TEXT
    [ "$CODE" = "$1" ] || fail "wanted HTTP $1, got $CODE: $(cat "$DIR/out")"
    grep -qF -- "$2" "$DIR/out" || fail "answer lacks $2: $(cat "$DIR/out")"
}

"$FAKE" --help | grep -q "fault-429-N" || fail "--help"
"$FAKE" --bogus 2>/dev/null
[ $? -eq 2 ] || fail "a bad option must exit 2"

# ---- defaults, streaming, faults, log
start --log "$DIR/log.jsonl"
post '{"model":"m","messages":[{"role":"user","content":"hello world!"}]}' \
    -H 'Idempotency-Key: run/1/a'
expect 200 '"content":"ok"'
expect 200 '"prompt_tokens":4,"completion_tokens":5'
expect 200 '"cached_tokens":0'
post '{"model":"m","tools":[{"type":"function","function":{"name":"add"}}],
       "messages":[{"role":"user","content":"add"}]}'
expect 200 '"name":"add","arguments":"{}"'
expect 200 '"finish_reason":"tool_calls"'
post '{"model":"m","tools":[{"type":"function","function":{"name":"add"}}],
       "messages":[{"role":"user","content":"add"},{"role":"assistant",
       "tool_calls":[{"id":"c","type":"function","function":{"name":"add",
       "arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"3"}]}'
expect 200 '"content":"ok"'
post '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
expect 200 'data: [DONE]'
expect 200 '"chat.completion.chunk"'
grep -qi '^content-type: text/event-stream' "$DIR/headers" || fail "stream type"

post '{"model":"fault-429-2","messages":[]}'
expect 429 '"error"'
grep -qi '^retry-after: 1' "$DIR/headers" || fail "Retry-After: 1"
post '{"model":"fault-429-2","messages":[]}'
expect 429 'Rate limit'
post '{"model":"fault-429-2","messages":[]}'
expect 200 '"content":"ok"'
post '{"model":"fault-500-1","messages":[]}'
expect 500 '"error"'
post '{"model":"fault-500-1","messages":[]}'
expect 200 '"content":"ok"'
post '{"model":"fault-retry-after-date","messages":[]}'
expect 429 '"error"'
grep -qi '^retry-after: [A-Z][a-z][a-z], ' "$DIR/headers" || fail "HTTP-date"
post '{"model":"fault-retry-after-date","messages":[]}'
expect 200 '"content":"ok"'
post '{"model":"fault-malformed","messages":[]}'
expect 200 'not json'
post '{"model":"fault-shape","messages":[]}'
expect 200 'chat.completion'
grep -q choices "$DIR/out" && fail "fault-shape has choices"
post '{"model":"fault-disconnect","messages":[]}'
[ "$CURL_RC" -ne 0 ] || fail "fault-disconnect: curl succeeded"
grep -q 'DONE' "$DIR/out" && fail "fault-disconnect sent [DONE]"
grep -q 'data: {' "$DIR/out" || fail "fault-disconnect sent nothing"
start_s=$(date +%s%N)
post '{"model":"fault-slow-300","messages":[]}'
expect 200 '"content":"ok"'
ms=$((($(date +%s%N) - start_s) / 1000000))
[ $ms -ge 290 ] || fail "fault-slow-300 took $ms ms"
post 'not json'
expect 400 'not a JSON object'
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope" >"$DIR/code"
[ "$(cat "$DIR/code")" = 404 ] || fail "unknown path"
post '{}' -H 'Content-Length: 70000000'
expect 413 'over'
stop
[ "$(wc -l <"$DIR/log.jsonl")" -ge 17 ] || fail "log lines"
grep -q '"idempotency_key":"run/1/a"' "$DIR/log.jsonl" || fail "log key"
grep -q '"body":{"model":"m","messages":\[{"role":"user","content":"hello' \
    "$DIR/log.jsonl" || fail "log body"

# ---- API key
start --key sekrit
post '{"model":"m","messages":[]}'
expect 401 'API key'
post '{"model":"m","messages":[]}' -H 'Authorization: Bearer wrong'
expect 401 'API key'
post '{"model":"m","messages":[]}' -H 'Authorization: Bearer sekrit'
expect 200 '"content":"ok"'
stop

# ---- cassette, delays (concurrent requests wait together, not in turn)
cat >"$DIR/c.jsonl" <<'EOF'
# a cassette
{"match":{"contains":"weather","turn":1},"response":{"content":null,"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}}
{"match":{"after_tool":"get_weather"},"response":{"content":"Sunny.","stream":true,"usage":{"prompt_tokens":7,"completion_tokens":2}}}
{"match":{"contains":"slow"},"response":{"content":"late","delay_ms":3000}}
EOF
start --cassette "$DIR/c.jsonl" --delay-ms 50
post '{"model":"m","messages":[{"role":"user","content":"weather?"}]}'
expect 200 '"arguments":"{\"city\":\"Paris\"}"'
post '{"model":"m","messages":[{"role":"user","content":"weather?"},
       {"role":"assistant","content":null,"tool_calls":[{"id":"c1",
       "type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
       {"role":"tool","tool_call_id":"c1","content":"sun"}]}'
expect 200 'data: [DONE]'
expect 200 '"prompt_tokens":7'
post '{"model":"m","messages":[{"role":"user","content":"unknown"}]}'
expect 400 'no exchange in'
expect 400 'c.jsonl'
# Eight answers delayed 3 s each: served one after the other they would
# take 24 s, past curl's 20 s limit; meanwhile a quick request is answered
# while all eight still wait (an order, not a speed, is checked).
start_s=$(date +%s%N)
pids=
for i in 1 2 3 4 5 6 7 8; do
    curl -s -m 20 -d '{"model":"m","messages":[{"role":"user","content":"slow"}]}' \
        "$URL" >"$DIR/slow$i" &
    pids="$pids $!"
done
post '{"model":"m","messages":[{"role":"user","content":"weather?"}]}'
expect 200 '"arguments":"{\"city\":\"Paris\"}"'
waiting=0
for i in 1 2 3 4 5 6 7 8; do
    [ -s "$DIR/slow$i" ] || waiting=$((waiting + 1))
done
[ $waiting -eq 8 ] || fail "only $waiting of 8 delayed answers still waited"
for p in $pids; do wait "$p"; done
ms=$((($(date +%s%N) - start_s) / 1000000))
for i in 1 2 3 4 5 6 7 8; do
    grep -q '"content":"late"' "$DIR/slow$i" || fail "slow answer $i"
done
[ $ms -ge 2990 ] || fail "8 answers delayed 3 s came after $ms ms"
stop

# --epoll serves the same answers, delayed ones too, from an epoll loop.
start --epoll --delay-ms 100
pids=
for i in 1 2 3 4; do
    curl -s -m 10 -d '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
        -H 'Content-Type: application/json' "$URL" >"$DIR/epoll$i" &
    pids="$pids $!"
done
for p in $pids; do wait "$p"; done
for i in 1 2 3 4; do
    grep -q '"content":"ok"' "$DIR/epoll$i" || fail "--epoll answer $i"
done
stop

# A bad cassette is refused with path:line.
echo '{"match":{"bogus":1},"response":{}}' >"$DIR/bad.jsonl"
"$FAKE" --port 0 --cassette "$DIR/bad.jsonl" 2>"$DIR/err" && fail "bad cassette"
grep -q "bad.jsonl:1:" "$DIR/err" || fail "bad cassette message: $(cat "$DIR/err")"
echo "fake_openai: all checks passed"
