/*  test_toolexec.c — the toolexec actor on a real node: a registry loaded
    from manifests in a temporary directory, real child processes (sh,
    cat, sleep, python3 when present), and a real HTTP server on 127.0.0.1
    (libmicrohttpd, in this process).
    SPDX-License-Identifier: MPL-2.0

    Nothing here asserts on timing: concurrency is shown by the order of
    start and end lines that calls append to one file, and every wait is a
    handshake with a generous deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "fixture.h"
#include "orcs/artifact.h"
#include "orcs/orcs.h"
#include "orcs/tools.h"

extern const orcs_actor_def_t orcs__toolexec_def;

#define S_PARALLEL 10 // calls in the concurrency test

typedef struct {
    fixture_t f;             // the node, its client and data directory
    char work[64];           // scratch directory (counters, logs)
    char tools[128];         // manifest directory (work/tools)
    struct MHD_Daemon *http; // the test server
    unsigned port;           // its port on 127.0.0.1
} s_env_t;

static s_env_t s_env;

// ---------------------------------------------------------------------------
// The HTTP server

static enum MHD_Result
s_add_header(void *cls,
             enum MHD_ValueKind kind,
             const char *key,
             const char *value)
{
    (void) kind;
    json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static enum MHD_Result
s_respond(struct MHD_Connection *connection,
          unsigned status,
          const char *type,
          const char *body,
          size_t size)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        size, (void *) body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result
s_serve(void *cls,
        struct MHD_Connection *connection,
        const char *url,
        const char *method,
        const char *version,
        const char *upload_data,
        size_t *upload_data_size,
        void **con_cls)
{
    (void) cls;
    (void) version;
    (void) upload_data;
    static int started;
    if (!*con_cls) { // first call: headers only
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_data_size) { // request body: not needed
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/json") == 0)
        return s_respond(connection, 200, "application/json",
                         "{\"hello\": \"world\"}", 18);
    if (strcmp(url, "/text") == 0)
        return s_respond(connection, 200, "text/plain", "plain text", 10);
    if (strcmp(url, "/fail") == 0)
        return s_respond(connection, 500, "text/plain", "server exploded", 15);
    if (strcmp(url, "/big") == 0) {
        size_t size = 200000;
        char *big = malloc(size);
        memset(big, 'x', size);
        enum MHD_Result rc =
            s_respond(connection, 200, "text/plain", big, size);
        free(big);
        return rc;
    }
    if (strcmp(url, "/slow") == 0) {
        sleep(2);
        return s_respond(connection, 200, "text/plain", "late", 4);
    }
    // /echo and anything else: what the request looked like.
    json_t *headers = json_object();
    MHD_get_connection_values(connection, MHD_HEADER_KIND, s_add_header,
                              headers);
    const char *q =
        MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "q");
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o}", "method", method, "path",
                            url, "q", q ? q : "", "headers", headers);
    char *text = json_dumps(doc, JSON_COMPACT);
    enum MHD_Result rc =
        s_respond(connection, 200, "application/json", text, strlen(text));
    free(text);
    json_decref(doc);
    return rc;
}

static void
s_http_start(void)
{
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    s_env.http = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
        NULL, NULL, s_serve, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
    assert_non_null(s_env.http);
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s_env.http, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    s_env.port = info->port;
    assert_true(s_env.port > 0);
}

// ---------------------------------------------------------------------------
// Manifests and the node

// Writes work/tools/<name>.tool.json from a JSON document (owned).
static void
s_manifest(const char *name, json_t *doc)
{
    assert_non_null(doc);
    char path[256];
    snprintf(path, sizeof path, "%s/%s.tool.json", s_env.tools, name);
    assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2)), 0);
    json_decref(doc);
}

// An exec manifest running `sh -c script`.
static json_t *
s_sh_tool(const char *name, const char *script)
{
    return json_pack("{s:s, s:s, s:s, s:{s:[s, s, s]}}", "tool", name,
                     "description", "test tool", "kind", "exec", "exec",
                     "command", "sh", "-c", script);
}

static json_t *
s_sh_tool_with(const char *name, const char *script, const char *extra)
{
    json_t *doc = s_sh_tool(name, script);
    json_t *more = json_loads(extra, 0, NULL);
    assert_non_null(more);
    json_object_update(doc, more);
    json_decref(more);
    return doc;
}

static void
s_write_manifests(void)
{
    char script[1024];
    s_manifest("echo", s_sh_tool("echo", "cat"));
    s_manifest("fail", s_sh_tool("fail", "echo oops >&2; exit 3"));
    s_manifest("garble", s_sh_tool("garble", "printf 'x\\377\\300y bad' >&2; "
                                             "exit 1"));
    s_manifest("slow", s_sh_tool_with("slow", "exec sleep 30",
                                      "{\"timeout_ms\": 200}"));
    s_manifest("burn", s_sh_tool("burn", "while :; do :; done"));
    s_manifest("spew", s_sh_tool("spew", "while :; do echo "
                                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
                                         "done"));
    s_manifest("key",
               s_sh_tool("key", "printf '%s' \"$ORCS_IDEMPOTENCY_KEY\""));
    // Fails the first time it runs, then succeeds: counts runs in a file.
    snprintf(script, sizeof script,
             "f=%s/$0.count; n=$(cat $f 2>/dev/null || echo 0); n=$((n+1)); "
             "echo $n > $f; [ $n -ge 2 ] || { echo first run fails >&2; "
             "exit 1; }; echo \"{\\\"runs\\\": $n}\"",
             s_env.work);
    json_t *idem = s_sh_tool_with("flaky_idem", script,
                                  "{\"idempotent\": true, \"retries\": 2}");
    json_array_append_new(
        json_object_get(json_object_get(idem, "exec"), "command"),
        json_string("idem"));
    s_manifest("flaky_idem", idem);
    json_t *once = s_sh_tool_with("flaky_once", script,
                                  "{\"idempotent\": false, \"retries\": 2}");
    json_array_append_new(
        json_object_get(json_object_get(once, "exec"), "command"),
        json_string("once"));
    s_manifest("flaky_once", once);
    snprintf(script, sizeof script,
             "echo start >> %s/parallel.log; sleep 0.3; "
             "echo end >> %s/parallel.log",
             s_env.work, s_env.work);
    s_manifest("parallel",
               s_sh_tool_with("parallel", script, "{\"timeout_ms\": 60000}"));
    snprintf(script, sizeof script,
             "f=%s/cached.count; n=$(cat $f 2>/dev/null || echo 0); "
             "n=$((n+1)); echo $n > $f; echo \"{\\\"runs\\\": $n}\"",
             s_env.work);
    s_manifest("cached",
               s_sh_tool_with("cached", script, "{\"cache_ttl_s\": 1}"));
    s_manifest("big", s_sh_tool("big", "i=0; while [ $i -lt 300 ]; do echo "
                                       "\"line $i of a big result\"; "
                                       "i=$((i+1)); done"));
    snprintf(script, sizeof script,
             "while [ ! -f %s/go ]; do sleep 0.05; done; echo done",
             s_env.work);
    s_manifest("waiter",
               s_sh_tool_with("waiter", script, "{\"timeout_ms\": 60000}"));
    snprintf(script, sizeof script,
             "while [ ! -f %s/gate.go ]; do sleep 0.05; done; echo open",
             s_env.work);
    s_manifest("gate",
               s_sh_tool_with("gate", script, "{\"timeout_ms\": 60000}"));
    s_manifest("remote",
               json_pack("{s:s, s:s, s:{s:[s]}}", "tool", "remote", "kind",
                         "mcp", "mcp", "command", "some-mcp-server"));
    s_manifest("approve",
               s_sh_tool_with("approve", "cat", "{\"needs_approval\": true}"));
    if (access("/usr/bin/python3", X_OK) == 0) {
        s_manifest("inet", json_pack("{s:s, s:s, s:{s:[s, s, s]}}", "tool",
                                     "inet", "kind", "exec", "exec", "command",
                                     "/usr/bin/python3", "-c",
                                     "import socket; "
                                     "socket.socket(socket.AF_INET)"));
        s_manifest("unix", json_pack("{s:s, s:s, s:{s:[s, s, s]}}", "tool",
                                     "unix", "kind", "exec", "exec", "command",
                                     "/usr/bin/python3", "-c",
                                     "import socket; "
                                     "socket.socket(socket.AF_UNIX); "
                                     "print('unix ok')"));
    }
    char url[256];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%u/echo?q=${{ args.q }}&n=${{args.n}}",
             s_env.port);
    s_manifest("lookup",
               json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}}", "tool", "lookup",
                         "kind", "http", "http", "method", "GET", "url", url,
                         "headers", "X-Tag", "tag-${{ args.tag }}"));
}

// A C tool: adds a and b.
static orcs_status
s_add(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t err_size)
{
    (void) err;
    (void) err_size;
    json_int_t a = json_integer_value(json_object_get(ctx->args, "a"));
    json_int_t b = json_integer_value(json_object_get(ctx->args, "b"));
    *result_p = json_pack("{s:I}", "sum", a + b);
    return ORCS_OK;
}

// A C tool: tells what its context held.
static orcs_status
s_whoami(const orcs_tool_ctx_t *ctx,
         json_t **result_p,
         char *err,
         size_t err_size)
{
    (void) err;
    (void) err_size;
    *result_p = json_pack("{s:s, s:s, s:s, s:s, s:b}", "tool", ctx->tool, "run",
                          ctx->run, "caller", ctx->caller, "key",
                          ctx->idempotency_key, "memory", ctx->memory != NULL);
    return ORCS_OK;
}

static void
s_register(orcs_tools_t *tools, const char *manifest, orcs_tool_fn *fn)
{
    json_t *doc = json_loads(manifest, 0, NULL);
    assert_non_null(doc);
    char err[256];
    orcs_status rc = orcs_tools_register(tools, doc, fn, NULL, err, sizeof err);
    if (rc != ORCS_OK)
        fprintf(stderr, "register: %s\n", err);
    assert_int_equal(rc, ORCS_OK);
    json_decref(doc);
}

static const char *const s_toolexec_config =
    "{\"concurrency\": 64, \"offload_bytes\": 2048, \"preview_bytes\": 64,"
    " \"http\": {\"allow_hosts\": [\"127.0.0.1\"],"
    " \"max_response_bytes\": 65536, \"timeout_ms\": 20000},"
    " \"exec\": {\"cpu_s\": 1, \"max_output_bytes\": 65536,"
    " \"timeout_ms\": 60000}}";

// Starts a node whose toolexec child has the given config (JSON text).
static orcs_status
s_start_node(fixture_t *f, const char *toolexec_config)
{
    memset(f, 0, sizeof *f);
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    snprintf(f->data, sizeof f->data, "/tmp/orcs-test-XXXXXX");
    assert_non_null(mkdtemp(f->data));
    json_t *config = json_pack(
        "{s:s, s:s, s:[s], s:{s:[{s:s, s:s, s:o}]}}", "node", "test", "data",
        f->data, "tools", s_env.tools, "supervisor", "children", "name", "tx",
        "actor", "toolexec", "config", json_loads(toolexec_config, 0, NULL));
    assert_non_null(config);
    f->node = orcs_node_new();
    orcs_node_register_kind(f->node, &orcs__toolexec_def); // may exist
    orcs_status rc = orcs_node_configure(f->node, config, NULL);
    json_decref(config);
    if (rc == ORCS_OK)
        rc = orcs_node_start(f->node);
    if (rc == ORCS_OK)
        f->client = orcs_client_new(f->node);
    return rc;
}

static int
s_setup(void **state)
{
    (void) state;
    memset(&s_env, 0, sizeof s_env);
    snprintf(s_env.work, sizeof s_env.work, "/tmp/orcs-toolexec-XXXXXX");
    assert_non_null(mkdtemp(s_env.work));
    snprintf(s_env.tools, sizeof s_env.tools, "%s/tools", s_env.work);
    assert_int_equal(mkdir(s_env.tools, 0700), 0);
    s_http_start();
    s_write_manifests();
    assert_int_equal(s_start_node(&s_env.f, s_toolexec_config), ORCS_OK);
    orcs_tools_t *tools = orcs_node_tools(s_env.f.node);
    s_register(tools,
               "{\"tool\": \"add\", \"description\": \"Add two integers.\","
               " \"input_schema\": {\"type\": \"object\", \"properties\":"
               " {\"a\": {\"type\": \"integer\"}, \"b\": {\"type\":"
               " \"integer\"}}, \"required\": [\"a\", \"b\"],"
               " \"additionalProperties\": false}}",
               s_add);
    s_register(tools, "{\"tool\": \"whoami\", \"description\": \"Context.\"}",
               s_whoami);
    return 0;
}

static int
s_teardown(void **state)
{
    (void) state;
    fixture_stop(&s_env.f);
    MHD_stop_daemon(s_env.http);
    nftw(s_env.work, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

// ---------------------------------------------------------------------------
// Calling

// Asks toolexec with client for tool with args (JSON text) in run r/step
// 1/call_id; returns the reply body and checks the reply status is OK.
static json_t *
s_call_with(orcs_client_t *client,
            const char *tool,
            const char *args,
            const char *run,
            const char *call_id)
{
    json_t *doc = json_loads(args, JSON_DECODE_ANY, NULL);
    assert_non_null(doc);
    json_t *body = json_pack("{s:s, s:I, s:s, s:s, s:o}", "run", run, "step",
                             (json_int_t) 1, "call_id", call_id, "tool", tool,
                             "args", doc);
    orcs_msg_t *msg = orcs_msg_new("tool.call");
    orcs_msg_set_body(msg, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc =
        orcs_client_ask(client, "tx", &msg, FIXTURE_WAIT_MS * 3, &reply);
    orcs_msg_destroy(&msg);
    json_t *out = NULL;
    if (rc == ORCS_OK) {
        rc = orcs_msg_status(reply);
        orcs_msg_take_body(reply, &out);
    }
    orcs_msg_destroy(&reply);
    if (rc != ORCS_OK)
        fprintf(stderr, "tool.call %s: %s\n", tool, orcs_status_name(rc));
    return out;
}

static json_t *
s_call(const char *tool, const char *args)
{
    return s_call_with(s_env.f.client, tool, args, "r", "c1");
}

static bool
s_ok(const json_t *reply)
{
    if (!json_is_true(json_object_get(reply, "ok"))) {
        char *text = json_dumps(reply, JSON_COMPACT);
        fprintf(stderr, "not ok: %s\n", text ? text : "(null)");
        free(text);
        return false;
    }
    return true;
}

static const char *
s_str(const json_t *doc, const char *key)
{
    const char *value = json_string_value(json_object_get(doc, key));
    return value ? value : "";
}

static json_int_t
s_int(const json_t *doc, const char *key)
{
    return json_integer_value(json_object_get(doc, key));
}

// Asserts a failed call with reason and an error containing text.
static void
s_assert_failed(const json_t *reply, const char *reason, const char *text)
{
    assert_non_null(reply);
    assert_false(json_is_true(json_object_get(reply, "ok")));
    if (strcmp(s_str(reply, "reason"), reason) != 0
        || !strstr(s_str(reply, "error"), text))
        fprintf(stderr, "reason=%s error=%s\n", s_str(reply, "reason"),
                s_str(reply, "error"));
    assert_string_equal(s_str(reply, "reason"), reason);
    assert_non_null(strstr(s_str(reply, "error"), text));
}

static json_t *
s_stats(void)
{
    orcs_status rc;
    json_t *stats = fixture_ask(&s_env.f, "tx", "toolexec.stats", NULL, &rc);
    assert_int_equal(rc, ORCS_OK);
    return stats;
}

static int
s_count_in_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_env.work, name);
    FILE *file = fopen(path, "r");
    int n = 0;
    if (file) {
        if (fscanf(file, "%d", &n) != 1)
            n = 0;
        fclose(file);
    }
    return n;
}

// ---------------------------------------------------------------------------
// C tools, validation, lookup

static void
test_toolexec_calls_a_c_tool(void **state)
{
    (void) state;
    json_t *reply = s_call("add", "{\"a\": 2, \"b\": 40}");
    assert_true(s_ok(reply));
    assert_int_equal(s_int(json_object_get(reply, "result"), "sum"), 42);
    assert_false(json_is_true(json_object_get(reply, "cached")));
    assert_int_equal(s_int(reply, "attempts"), 1);
    assert_true(json_is_integer(json_object_get(reply, "ms")));
    json_decref(reply);

    // The context: run, caller (the asker), key run/step/call_id, memory.
    reply = s_call_with(s_env.f.client, "whoami", "{}", "run-7", "call-3");
    assert_true(s_ok(reply));
    json_t *result = json_object_get(reply, "result");
    assert_string_equal(s_str(result, "tool"), "whoami");
    assert_string_equal(s_str(result, "run"), "run-7");
    assert_string_equal(s_str(result, "caller"),
                        orcs_client_name(s_env.f.client));
    assert_string_equal(s_str(result, "key"), "run-7/1/call-3");
    assert_true(json_is_true(json_object_get(result, "memory")));
    json_decref(reply);
}

static void
test_toolexec_names_the_invalid_argument(void **state)
{
    (void) state;
    json_t *reply = s_call("add", "{\"a\": \"two\", \"b\": 1}");
    s_assert_failed(reply, "validation", "invalid arguments for add: $.a");
    assert_non_null(strstr(s_str(reply, "error"), "integer"));
    json_decref(reply);
}

static void
test_toolexec_suggests_a_name_for_an_unknown_tool(void **state)
{
    (void) state;
    json_t *reply = s_call("ad", "{}");
    s_assert_failed(reply, "unknown_tool", "no tool 'ad'");
    assert_non_null(strstr(s_str(reply, "error"), "did you mean add"));
    json_decref(reply);
}

static void
test_toolexec_refuses_a_malformed_request(void **state)
{
    (void) state;
    orcs_status rc;
    json_t *reply = fixture_ask(&s_env.f, "tx", "tool.call",
                                json_pack("{s:i}", "tool", 3), &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    assert_non_null(strstr(s_str(reply, "error"), "tool"));
    json_decref(reply);
}

static void
test_toolexec_refuses_tools_that_need_approval(void **state)
{
    (void) state;
    json_t *reply = s_call("approve", "{}");
    s_assert_failed(reply, "approval_required", "approval");
    json_decref(reply);
}

// ---------------------------------------------------------------------------
// exec

static void
test_toolexec_exec_reads_args_on_stdin(void **state)
{
    (void) state;
    json_t *reply = s_call("echo", "{\"x\": [1, 2], \"s\": \"hé\"}");
    assert_true(s_ok(reply));
    json_t *result = json_object_get(reply, "result");
    assert_true(json_is_object(result));
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(result, "x"), 1)), 2);
    assert_string_equal(s_str(result, "s"), "hé");
    json_decref(reply);

    // The built-in exec runs argv directly, with its own stdin.
    reply = s_call("exec", "{\"command\": [\"sed\", \"s/a/o/\"], "
                           "\"stdin\": \"cat\\n\"}");
    assert_true(s_ok(reply));
    assert_string_equal(json_string_value(json_object_get(reply, "result")),
                        "cot");
    json_decref(reply);
}

static void
test_toolexec_exec_failure_carries_stderr(void **state)
{
    (void) state;
    json_t *reply = s_call("fail", "{}");
    s_assert_failed(reply, "failed", "exit 3: oops");
    json_decref(reply);

    // Bytes that are not UTF-8 in stderr still make a readable error.
    reply = s_call("garble", "{}");
    s_assert_failed(reply, "failed", "exit 1: x??y bad");
    json_decref(reply);

    reply = s_call("exec", "{\"command\": [\"no-such-program-here\"]}");
    s_assert_failed(reply, "failed", "not found");
    json_decref(reply);
}

static void
test_toolexec_exec_timeout_kills_the_child(void **state)
{
    (void) state;
    json_t *reply = s_call("slow", "{}");
    s_assert_failed(reply, "timeout", "timed out after 200 ms");
    json_decref(reply);
}

static void
test_toolexec_exec_cpu_limit_kills_a_busy_loop(void **state)
{
    (void) state;
    json_t *reply = s_call("burn", "{}");
    assert_non_null(reply);
    assert_false(json_is_true(json_object_get(reply, "ok")));
    const char *error = s_str(reply, "error");
    if (!strstr(error, "SIGXCPU") && !strstr(error, "SIGKILL"))
        fprintf(stderr, "burn: %s\n", error);
    assert_true(strstr(error, "SIGXCPU") || strstr(error, "SIGKILL"));
    json_decref(reply);
}

static void
test_toolexec_exec_output_cap_kills(void **state)
{
    (void) state;
    json_t *reply = s_call("spew", "{}");
    s_assert_failed(reply, "failed", "output over 65536 bytes");
    json_decref(reply);
}

static void
test_toolexec_exec_has_no_network(void **state)
{
    (void) state;
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "skipped: no /usr/bin/python3\n");
        return;
    }
    json_t *reply = s_call("inet", "{}");
    assert_non_null(reply);
    if (strstr(s_str(reply, "error"), "seccomp")) {
        fprintf(stderr, "skipped: seccomp unavailable: %s\n",
                s_str(reply, "error"));
        json_decref(reply);
        return;
    }
    s_assert_failed(reply, "failed", "Permission denied");
    json_decref(reply);

    reply = s_call("unix", "{}");
    assert_true(s_ok(reply));
    assert_string_equal(json_string_value(json_object_get(reply, "result")),
                        "unix ok");
    json_decref(reply);
}

static void
test_toolexec_exec_sees_the_idempotency_key(void **state)
{
    (void) state;
    json_t *reply = s_call_with(s_env.f.client, "key", "{}", "run-1", "c-9");
    assert_true(s_ok(reply));
    assert_string_equal(json_string_value(json_object_get(reply, "result")),
                        "run-1/1/c-9");
    json_decref(reply);
}

static void
test_toolexec_retries_only_idempotent_tools(void **state)
{
    (void) state;
    json_t *reply = s_call("flaky_idem", "{}");
    assert_true(s_ok(reply));
    assert_int_equal(s_int(reply, "attempts"), 2);
    assert_int_equal(s_int(json_object_get(reply, "result"), "runs"), 2);
    json_decref(reply);
    assert_int_equal(s_count_in_file("idem.count"), 2);

    reply = s_call("flaky_once", "{}");
    s_assert_failed(reply, "failed", "first run fails");
    assert_int_equal(s_int(reply, "attempts"), 1);
    json_decref(reply);
    assert_int_equal(s_count_in_file("once.count"), 1);
}

typedef struct {
    orcs_node_t *node; // where to call
    const char *tool;  // what
    char call_id[32];  // its id
    json_t *reply;     // the answer
} s_caller_t;

static void *
s_caller_main(void *arg)
{
    s_caller_t *caller = arg;
    orcs_client_t *client = orcs_client_new(caller->node);
    caller->reply =
        s_call_with(client, caller->tool, "{}", "r-par", caller->call_id);
    orcs_client_destroy(&client);
    return NULL;
}

static void
test_toolexec_runs_calls_concurrently(void **state)
{
    (void) state;
    s_caller_t callers[S_PARALLEL];
    pthread_t threads[S_PARALLEL];
    for (int i = 0; i < S_PARALLEL; i++) {
        callers[i] = (s_caller_t){s_env.f.node, "parallel", "", NULL};
        snprintf(callers[i].call_id, sizeof callers[i].call_id, "p%d", i);
        assert_int_equal(
            pthread_create(&threads[i], NULL, s_caller_main, &callers[i]), 0);
    }
    for (int i = 0; i < S_PARALLEL; i++) {
        pthread_join(threads[i], NULL);
        assert_true(s_ok(callers[i].reply));
        json_decref(callers[i].reply);
    }
    // Overlap: a second call started before the first one ended.
    char path[256], line[64];
    snprintf(path, sizeof path, "%s/parallel.log", s_env.work);
    FILE *log = fopen(path, "r");
    assert_non_null(log);
    int starts_before_first_end = 0;
    while (fgets(line, sizeof line, log) && strncmp(line, "end", 3) != 0)
        starts_before_first_end++;
    fclose(log);
    assert_true(starts_before_first_end >= 2);
}

static void
test_toolexec_caches_results_until_they_expire(void **state)
{
    (void) state;
    json_t *reply = s_call("cached", "{\"a\": 1, \"b\": [true]}");
    assert_true(s_ok(reply));
    assert_false(json_is_true(json_object_get(reply, "cached")));
    assert_int_equal(s_int(json_object_get(reply, "result"), "runs"), 1);
    json_decref(reply);

    // Same arguments in another order: the same canonical key.
    reply = s_call("cached", "{\"b\": [true], \"a\": 1}");
    assert_true(s_ok(reply));
    assert_true(json_is_true(json_object_get(reply, "cached")));
    assert_int_equal(s_int(json_object_get(reply, "result"), "runs"), 1);
    json_decref(reply);
    assert_int_equal(s_count_in_file("cached.count"), 1);

    // Other arguments miss.
    reply = s_call("cached", "{\"a\": 2}");
    assert_false(json_is_true(json_object_get(reply, "cached")));
    json_decref(reply);
    assert_int_equal(s_count_in_file("cached.count"), 2);

    // After the TTL (1 s) the entry is ignored and the tool runs again.
    bool expired = false;
    for (int i = 0; i < 200 && !expired; i++) {
        reply = s_call("cached", "{\"a\": 1, \"b\": [true]}");
        assert_true(s_ok(reply));
        expired = !json_is_true(json_object_get(reply, "cached"));
        if (expired)
            assert_int_equal(s_int(json_object_get(reply, "result"), "runs"),
                             3);
        json_decref(reply);
        if (!expired)
            usleep(100 * 1000);
    }
    assert_true(expired);
    json_t *stats = s_stats();
    assert_true(s_int(json_object_get(stats, "cache"), "hits") >= 1);
    assert_true(s_int(json_object_get(stats, "cache"), "misses") >= 3);
    json_decref(stats);
}

static void
test_toolexec_offloads_a_big_result_to_an_artifact(void **state)
{
    (void) state;
    json_t *reply = s_call_with(s_env.f.client, "big", "{}", "run-big", "b1");
    assert_true(s_ok(reply));
    json_t *result = json_object_get(reply, "result");
    const char *id = s_str(result, "artifact");
    assert_true(orcs_artifacts_id_is_valid(id));
    assert_string_equal(s_str(result, "media_type"), "application/json");
    assert_true(s_int(result, "size") > 2048);
    assert_true(strlen(s_str(result, "preview")) <= 64);
    assert_true(strncmp(s_str(result, "preview"), "\"line 0 of", 10) == 0);

    orcs_artifacts_t *artifacts =
        orcs_artifacts_new(orcs_node_store(s_env.f.node), s_env.f.data);
    void *data = NULL;
    size_t size = 0;
    json_t *meta = NULL;
    assert_int_equal(orcs_artifacts_get(artifacts, id, &data, &size, &meta),
                     ORCS_OK);
    assert_int_equal((json_int_t) size, s_int(result, "size"));
    json_t *full = json_loadb(data, size, JSON_DECODE_ANY, NULL);
    assert_true(json_is_string(full));
    assert_non_null(strstr(json_string_value(full), "line 299 of"));
    assert_string_equal(s_str(json_object_get(meta, "producer"), "run"),
                        "run-big");
    json_decref(full);
    json_decref(meta);
    free(data);
    orcs_artifacts_destroy(&artifacts);
    json_decref(reply);
}

// ---------------------------------------------------------------------------
// http

static void
test_toolexec_http_obeys_the_allow_list(void **state)
{
    (void) state;
    json_t *reply =
        s_call("http.request", "{\"url\": \"http://example.com/x\"}");
    s_assert_failed(reply, "denied",
                    "host example.com is not in toolexec.http.allow_hosts");
    json_decref(reply);

    reply = s_call("http.request", "{\"url\": \"file:///etc/passwd\"}");
    assert_false(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
}

static void
test_toolexec_http_request_reaches_the_server(void **state)
{
    (void) state;
    char args[256];
    snprintf(args, sizeof args,
             "{\"url\": \"http://127.0.0.1:%u/echo\", \"method\": \"POST\","
             " \"headers\": {\"X-One\": \"1\"}, \"body\": {\"k\": 1}}",
             s_env.port);
    json_t *reply =
        s_call_with(s_env.f.client, "http.request", args, "run-h", "h1");
    assert_true(s_ok(reply));
    json_t *result = json_object_get(reply, "result");
    assert_int_equal(s_int(result, "status"), 200);
    assert_non_null(strstr(
        s_str(json_object_get(result, "headers"), "content-type"), "json"));
    json_t *echo = json_object_get(result, "body");
    assert_string_equal(s_str(echo, "method"), "POST");
    json_t *headers = json_object_get(echo, "headers");
    assert_string_equal(s_str(headers, "Idempotency-Key"), "run-h/1/h1");
    assert_string_equal(s_str(headers, "X-One"), "1");
    assert_non_null(strstr(s_str(headers, "Content-Type"), "json"));
    json_decref(reply);

    snprintf(args, sizeof args, "{\"url\": \"http://127.0.0.1:%u/text\"}",
             s_env.port);
    reply = s_call("http.request", args);
    assert_true(s_ok(reply));
    assert_string_equal(s_str(json_object_get(reply, "result"), "body"),
                        "plain text");
    json_decref(reply);

    snprintf(args, sizeof args, "{\"url\": \"http://127.0.0.1:%u/fail\"}",
             s_env.port);
    reply = s_call("http.request", args);
    s_assert_failed(reply, "failed", "HTTP 500: server exploded");
    json_decref(reply);

    snprintf(args, sizeof args, "{\"url\": \"http://127.0.0.1:%u/big\"}",
             s_env.port);
    reply = s_call("http.request", args);
    s_assert_failed(reply, "failed", "response over 65536 bytes");
    json_decref(reply);

    snprintf(args, sizeof args,
             "{\"url\": \"http://127.0.0.1:%u/slow\", \"timeout_ms\": 300}",
             s_env.port);
    reply = s_call("http.request", args);
    s_assert_failed(reply, "timeout", "timed out");
    json_decref(reply);
}

static void
test_toolexec_http_manifest_fills_its_template(void **state)
{
    (void) state;
    json_t *reply = s_call("lookup", "{\"q\": \"a b&c\", \"n\": 7, "
                                     "\"tag\": \"blue\"}");
    assert_true(s_ok(reply));
    json_t *echo = json_object_get(json_object_get(reply, "result"), "body");
    assert_string_equal(s_str(echo, "method"), "GET");
    assert_string_equal(s_str(echo, "q"), "a b&c");
    assert_string_equal(s_str(json_object_get(echo, "headers"), "X-Tag"),
                        "tag-blue");
    json_decref(reply);
}

// ---------------------------------------------------------------------------
// memory built-ins, events, reload, stats, config

static void
test_toolexec_memory_builtins_follow_the_rules(void **state)
{
    (void) state;
    json_t *doc = json_pack("{s:s, s:I, s:s, s:s, s:s, s:{s:s, s:s, s:i}}",
                            "run", "r-mem", "step", (json_int_t) 1, "call_id",
                            "m1", "tool", "memory.put", "caller", "bob", "args",
                            "scope", "agent:bob", "key", "k", "value", 5);
    orcs_status rc;
    json_t *reply = fixture_ask(&s_env.f, "tx", "tool.call", doc, &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_true(s_ok(reply));
    json_decref(reply);

    doc = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "call_id", "m2", "tool",
                    "memory.get", "caller", "bob", "args", "scope", "agent:bob",
                    "key", "k");
    reply = fixture_ask(&s_env.f, "tx", "tool.call", doc, &rc);
    assert_true(s_ok(reply));
    assert_int_equal(s_int(json_object_get(reply, "result"), "value"), 5);
    json_decref(reply);

    // bob may not write the global scope: no rule allows it.
    doc = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:i}}", "call_id", "m3",
                    "tool", "memory.put", "caller", "bob", "args", "scope",
                    "global", "key", "k", "value", 1);
    reply = fixture_ask(&s_env.f, "tx", "tool.call", doc, &rc);
    s_assert_failed(reply, "denied", "denied");
    json_decref(reply);
}

static void
test_toolexec_publishes_run_events(void **state)
{
    (void) state;
    orcs_client_t *listener = orcs_client_new(s_env.f.node);
    assert_int_equal(orcs_client_subscribe(listener, "run.r-ev."), ORCS_OK);
    // Subscriptions reach the bus asynchronously: call until one arrives.
    bool started = false, finished = false;
    for (int i = 0; i < 100 && !(started && finished); i++) {
        json_t *reply = s_call_with(s_env.f.client, "add",
                                    "{\"a\": 1, \"b\": 1}", "r-ev", "e1");
        json_decref(reply);
        orcs_msg_t *event = NULL;
        while (orcs_client_recv(listener, 100, &event) == ORCS_OK) {
            const json_t *body = NULL;
            orcs_msg_body(event, &body);
            if (strcmp(orcs_msg_topic(event), "run.r-ev.tool.started") == 0) {
                started = true;
                assert_string_equal(s_str(body, "tool"), "add");
                assert_string_equal(s_str(body, "call_id"), "e1");
            } else if (strcmp(orcs_msg_topic(event), "run.r-ev.tool.finished")
                       == 0) {
                finished = true;
                assert_true(json_is_true(json_object_get(body, "ok")));
                assert_int_equal(s_int(body, "attempts"), 1);
            }
            orcs_msg_destroy(&event);
        }
    }
    assert_true(started && finished);
    orcs_client_destroy(&listener);
}

static void
test_toolexec_reload_spares_calls_in_flight(void **state)
{
    (void) state;
    s_caller_t caller = {s_env.f.node, "waiter", "w1", NULL};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_caller_main, &caller), 0);
    // Handshake: the call is running.
    bool running = false;
    for (int i = 0; i < FIXTURE_WAIT_MS && !running; i++) {
        json_t *stats = s_stats();
        running = s_int(stats, "in_flight") >= 1;
        json_decref(stats);
        if (!running)
            usleep(1000);
    }
    assert_true(running);

    char path[256];
    snprintf(path, sizeof path, "%s/waiter.tool.json", s_env.tools);
    assert_int_equal(unlink(path), 0);
    orcs_status rc;
    json_t *reload = fixture_ask(&s_env.f, "tx", "tools.reload", NULL, &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_true(s_int(reload, "generation") >= 2);
    assert_true(s_int(reload, "tools") > 0);
    assert_true(json_is_array(json_object_get(reload, "errors")));
    json_decref(reload);

    json_t *reply = s_call("waiter", "{}");
    s_assert_failed(reply, "unknown_tool", "no tool 'waiter'");
    json_decref(reply);

    // Let the old call finish: it still has its tool.
    snprintf(path, sizeof path, "%s/go", s_env.work);
    FILE *go = fopen(path, "w");
    assert_non_null(go);
    fclose(go);
    pthread_join(thread, NULL);
    assert_true(s_ok(caller.reply));
    assert_string_equal(
        json_string_value(json_object_get(caller.reply, "result")), "done");
    json_decref(caller.reply);
}

static void
test_toolexec_refuses_mcp_tools_for_now(void **state)
{
    (void) state;
    json_t *reply = s_call("remote", "{}");
    s_assert_failed(reply, "failed", "mcp tools are not supported yet");
    json_decref(reply);
}

// Asks the gate tool on node f and gives up waiting after 300 ms: the
// call goes on inside toolexec.
static void
s_call_gate_async(fixture_t *f, const char *call_id)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:{}}", "run", "r-q", "call_id",
                             call_id, "tool", "gate", "args");
    orcs_msg_t *msg = orcs_msg_new("tool.call");
    orcs_msg_set_body(msg, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc = orcs_client_ask(f->client, "tx", &msg, 300, &reply);
    orcs_msg_destroy(&msg);
    orcs_msg_destroy(&reply);
    assert_int_equal(rc, ORCS_ETIMEDOUT); // the gate is closed
}

// Polls the stats of f's toolexec until field >= value.
static bool
s_wait_stat(fixture_t *f, const char *field, json_int_t value)
{
    for (int i = 0; i < FIXTURE_WAIT_MS; i++) {
        orcs_status rc;
        json_t *stats = fixture_ask(f, "tx", "toolexec.stats", NULL, &rc);
        json_int_t got = s_int(stats, field);
        json_decref(stats);
        if (rc == ORCS_OK && got >= value)
            return true;
        usleep(1000);
    }
    return false;
}

static void
test_toolexec_queues_calls_beyond_its_concurrency(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(s_start_node(&f, "{\"concurrency\": 1}"), ORCS_OK);
    s_call_gate_async(&f, "g1");
    s_call_gate_async(&f, "g2");
    assert_true(s_wait_stat(&f, "queued", 1));
    assert_true(s_wait_stat(&f, "in_flight", 1));

    // Open the gate: the first call ends, then the queued one runs.
    char path[256];
    snprintf(path, sizeof path, "%s/gate.go", s_env.work);
    FILE *go = fopen(path, "w");
    assert_non_null(go);
    fclose(go);
    assert_true(s_wait_stat(&f, "ok", 2));

    // A call still running when the node stops is killed and freed.
    assert_int_equal(unlink(path), 0);
    s_call_gate_async(&f, "g3");
    assert_true(s_wait_stat(&f, "in_flight", 1));
    fixture_stop(&f);
}

static void
test_toolexec_counts_errors_by_kind(void **state)
{
    (void) state;
    json_t *stats = s_stats();
    json_t *errors = json_object_get(stats, "errors");
    assert_true(s_int(stats, "calls") >= 10);
    assert_true(s_int(stats, "ok") >= 5);
    assert_true(s_int(errors, "validation") >= 1);
    assert_true(s_int(errors, "unknown_tool") >= 1);
    assert_true(s_int(errors, "timeout") >= 1);
    assert_true(s_int(errors, "failed") >= 1);
    assert_true(s_int(errors, "denied") >= 1);
    assert_true(s_int(errors, "approval_required") >= 1);
    assert_true(s_int(stats, "retries") >= 1);
    assert_int_equal(s_int(stats, "queued"), 0);
    json_decref(stats);
}

static void
test_toolexec_refuses_a_bad_config(void **state)
{
    (void) state;
    fixture_t f;
    orcs_status rc = s_start_node(&f, "{\"exec\": {\"cpu_s\": -1}}");
    assert_int_not_equal(rc, ORCS_OK);
    char error[512];
    orcs_node_error(f.node, error, sizeof error);
    if (!strstr(error, "toolexec.exec.cpu_s"))
        fprintf(stderr, "node error: %s\n", error);
    assert_non_null(strstr(error, "toolexec.exec.cpu_s"));
    fixture_stop(&f);

    rc = s_start_node(&f, "{\"concurency\": 4}");
    assert_int_not_equal(rc, ORCS_OK);
    orcs_node_error(f.node, error, sizeof error);
    assert_non_null(strstr(error, "toolexec.concurency: unknown key"));
    fixture_stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toolexec_calls_a_c_tool),
        cmocka_unit_test(test_toolexec_names_the_invalid_argument),
        cmocka_unit_test(test_toolexec_suggests_a_name_for_an_unknown_tool),
        cmocka_unit_test(test_toolexec_refuses_a_malformed_request),
        cmocka_unit_test(test_toolexec_refuses_tools_that_need_approval),
        cmocka_unit_test(test_toolexec_exec_reads_args_on_stdin),
        cmocka_unit_test(test_toolexec_exec_failure_carries_stderr),
        cmocka_unit_test(test_toolexec_exec_timeout_kills_the_child),
        cmocka_unit_test(test_toolexec_exec_cpu_limit_kills_a_busy_loop),
        cmocka_unit_test(test_toolexec_exec_output_cap_kills),
        cmocka_unit_test(test_toolexec_exec_has_no_network),
        cmocka_unit_test(test_toolexec_exec_sees_the_idempotency_key),
        cmocka_unit_test(test_toolexec_retries_only_idempotent_tools),
        cmocka_unit_test(test_toolexec_runs_calls_concurrently),
        cmocka_unit_test(test_toolexec_caches_results_until_they_expire),
        cmocka_unit_test(test_toolexec_offloads_a_big_result_to_an_artifact),
        cmocka_unit_test(test_toolexec_http_obeys_the_allow_list),
        cmocka_unit_test(test_toolexec_http_request_reaches_the_server),
        cmocka_unit_test(test_toolexec_http_manifest_fills_its_template),
        cmocka_unit_test(test_toolexec_memory_builtins_follow_the_rules),
        cmocka_unit_test(test_toolexec_publishes_run_events),
        cmocka_unit_test(test_toolexec_reload_spares_calls_in_flight),
        cmocka_unit_test(test_toolexec_refuses_mcp_tools_for_now),
        cmocka_unit_test(test_toolexec_queues_calls_beyond_its_concurrency),
        cmocka_unit_test(test_toolexec_counts_errors_by_kind),
        cmocka_unit_test(test_toolexec_refuses_a_bad_config),
    };
    return cmocka_run_group_tests_name("orcs_toolexec", tests, s_setup,
                                       s_teardown);
}
