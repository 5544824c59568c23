/*  test_orchestrator.c — the workflow engine in a real node: every node
    kind, routes, retries, timeouts, approvals (also across a restart),
    pause/resume/cancel, and what the store holds.
    SPDX-License-Identifier: MPL-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/orchestrator/orch_internal.h"
#include "fixture.h"
#include "orcs/doc.h"
#include "orcs/runs.h"
#include "orcs/store.h"
#include "orcs/tools.h"

// ---------------------------------------------------------------------------
// Tools that count their invocations per idempotency key

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *s_calls; // key -> count

static int
s_calls_of(const char *key)
{
    pthread_mutex_lock(&s_lock);
    int n = (int) json_integer_value(json_object_get(s_calls, key));
    pthread_mutex_unlock(&s_lock);
    return n;
}

static int
s_count(const orcs_tool_ctx_t *ctx)
{
    pthread_mutex_lock(&s_lock);
    int n =
        (int) json_integer_value(json_object_get(s_calls, ctx->idempotency_key))
        + 1;
    json_object_set_new(s_calls, ctx->idempotency_key, json_integer(n));
    pthread_mutex_unlock(&s_lock);
    return n;
}

static orcs_status
s_echo(const orcs_tool_ctx_t *ctx,
       json_t **result_p,
       char *err,
       size_t err_size)
{
    (void) err, (void) err_size;
    s_count(ctx);
    *result_p = json_deep_copy(ctx->args);
    return ORCS_OK;
}

// Fails the first args.fail calls of a key.
static orcs_status
s_flaky(const orcs_tool_ctx_t *ctx,
        json_t **result_p,
        char *err,
        size_t err_size)
{
    int n = s_count(ctx);
    if (n <= json_integer_value(json_object_get(ctx->args, "fail"))) {
        snprintf(err, err_size, "flaky failure %d", n);
        return ORCS_EREMOTE;
    }
    *result_p = json_pack("{s:i}", "calls", n);
    return ORCS_OK;
}

static void
s_register(orcs_node_t *node, const char *manifest, orcs_tool_fn *fn)
{
    json_t *doc = json_loads(manifest, 0, NULL);
    assert_non_null(doc);
    char err[256];
    orcs_status rc = orcs_tools_register(orcs_node_tools(node), doc, fn, NULL,
                                         err, sizeof err);
    if (rc != ORCS_OK)
        fprintf(stderr, "register: %s\n", err);
    assert_int_equal(rc, ORCS_OK);
    json_decref(doc);
}

// ---------------------------------------------------------------------------
// Set-up

typedef struct {
    fixture_t f;
    char work[40]; // workflow files and tool manifests
    char tools[96];
    int finished_tasks; // limits.finished_tasks, 0 = the default
} s_env_t;

static s_env_t s_env;

static orcs_status
s_node_start(void)
{
    fixture_t *f = &s_env.f;
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    char cassette[128];
    snprintf(cassette, sizeof cassette, "%s/cassette.jsonl", s_env.work);
    json_t *config =
        json_pack("{s:s, s:s, s:[s], s:{s:[]}, s:{s:{s:s}}}", "node", "test",
                  "data", f->data, "tools", s_env.tools, "supervisor",
                  "children", "models", "default", "replay", cassette);
    if (s_env.finished_tasks)
        json_object_set_new(
            config, "limits",
            json_pack("{s:i}", "finished_tasks", s_env.finished_tasks));
    f->node = orcs_node_new();
    orcs_status rc = orcs_node_configure(f->node, config, NULL);
    json_decref(config);
    if (rc == ORCS_OK)
        rc = orcs_node_start(f->node);
    if (rc != ORCS_OK)
        return rc;
    f->client = orcs_client_new(f->node);
    s_register(f->node, "{\"tool\": \"t.echo\", \"description\": \"echo\"}",
               s_echo);
    s_register(f->node,
               "{\"tool\": \"t.idem\", \"description\": \"echo\", "
               "\"idempotent\": true}",
               s_echo);
    s_register(f->node, "{\"tool\": \"t.flaky\", \"description\": \"fails\"}",
               s_flaky);
    s_register(f->node,
               "{\"tool\": \"t.guarded\", \"description\": \"needs a human\", "
               "\"needs_approval\": true}",
               s_echo);
    return ORCS_OK;
}

static void
s_node_stop(void)
{
    orcs_client_destroy(&s_env.f.client);
    orcs_node_destroy(&s_env.f.node);
}

static void
s_write(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_env.work, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

// What the replay provider answers, by what the conversation holds.
static const char s_cassette[] =
    "{\"match\": {\"contains\": \"You are the guarded\", \"after_tool\": "
    "\"t.guarded\"}, \"response\": {\"content\": \"used it\"}}\n"
    "{\"match\": {\"contains\": \"You are the guarded\"}, \"response\": "
    "{\"tool_calls\": [{\"id\": \"c1\", \"name\": \"t_guarded\", "
    "\"arguments\": {\"x\": 1}}]}}\n"
    ""
    "{\"match\": {\"contains\": \"Plan the remaining work again\"}, "
    "\"response\": {\"content\": \"{\\\"tasks\\\": [{\\\"id\\\": "
    "\\\"recover\\\", \\\"title\\\": \\\"Recover\\\", \\\"description\\\": "
    "\\\"Go on.\\\", \\\"role\\\": \\\"writer\\\", \\\"needs\\\": "
    "[\\\"good\\\"]}], \\\"output\\\": \\\"recover\\\"}\"}}\n"
    "{\"match\": {\"contains\": \"previous plan was refused\"}, \"response\": "
    "{\"content\": \"Here it is:\\n```json\\n{\\\"tasks\\\": [{\\\"id\\\": "
    "\\\"good\\\", \\\"title\\\": \\\"Write it\\\", \\\"description\\\": "
    "\\\"Write.\\\", \\\"role\\\": \\\"writer\\\", \\\"needs\\\": []}, "
    "{\\\"id\\\": \\\"broken\\\", \\\"title\\\": \\\"Break\\\", "
    "\\\"description\\\": \\\"Fails.\\\", \\\"role\\\": \\\"breaker\\\", "
    "\\\"needs\\\": [\\\"good\\\"]}], \\\"output\\\": "
    "\\\"broken\\\"}\\n```\"}}\n"
    "{\"match\": {\"contains\": \"You are the test planner\"}, \"response\": "
    "{\"content\": \"{\\\"tasks\\\": [{\\\"id\\\": \\\"x\\\", \\\"title\\\": "
    "\\\"X\\\", \\\"description\\\": \\\"x\\\", \\\"role\\\": \\\"ghost\\\", "
    "\\\"needs\\\": [\\\"nowhere\\\"]}]}\"}}\n"
    "{\"match\": {\"contains\": \"You are the spender\"}, \"response\": "
    "{\"tool_calls\": [{\"id\": \"s1\", \"name\": \"t_echo\", "
    "\"arguments\": {\"x\": 1}}], \"usage\": {\"prompt_tokens\": 5, "
    "\"completion_tokens\": 3, \"total_tokens\": 8}}}\n"
    "{\"match\": {\"contains\": \"You are the counter\"}, \"response\": "
    "{\"content\": \"counted\", \"usage\": {\"prompt_tokens\": 30, "
    "\"completion_tokens\": 12, \"total_tokens\": 42}}}\n"
    "{\"match\": {\"contains\": \"You are the writer\"}, \"response\": "
    "{\"content\": \"written\"}}\n"
    "{\"match\": {\"contains\": \"You are the asker\", \"after_tool\": "
    "\"clarify\"}, \"response\": {\"content\": \"got it\"}}\n"
    "{\"match\": {\"contains\": \"You are the asker\"}, \"response\": "
    "{\"tool_calls\": [{\"id\": \"q1\", \"name\": \"clarify\", \"arguments\": "
    "{\"question\": \"which city?\"}}]}}\n"
    "{\"match\": {\"contains\": \"You are the chatter\", \"turn\": 2}, "
    "\"response\": {\"content\": \"second answer (remembered)\"}}\n"
    "{\"match\": {\"contains\": \"You are the chatter\"}, \"response\": "
    "{\"content\": \"first answer\"}}\n"
    "";

static void s_write(const char *name, const char *text);

static int
s_setup(void **state)
{
    (void) state;
    memset(&s_env, 0, sizeof s_env);
    s_calls = json_object();
    snprintf(s_env.work, sizeof s_env.work, "/tmp/orcs-orch-XXXXXX");
    assert_non_null(mkdtemp(s_env.work));
    snprintf(s_env.tools, sizeof s_env.tools, "%s/tools", s_env.work);
    assert_int_equal(mkdir(s_env.tools, 0700), 0);
    snprintf(s_env.f.data, sizeof s_env.f.data, "%s/data", s_env.work);
    // a slow exec tool for timeouts and cancels
    char path[256];
    snprintf(path, sizeof path, "%s/sleep.tool.yaml", s_env.tools);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("tool: t.sleep\ndescription: sleeps\nkind: exec\n"
          "timeout_ms: 60000\nexec:\n  command: [sh, -c, 'sleep 30']\n",
          file);
    fclose(file);
    s_write("cassette.jsonl", s_cassette);
    const char *agents[][2] = {
        {"planner.yaml", "agent: planner\ninstructions: You are the test "
                         "planner.\nmax_steps: 2\n"},
        {"writer.yaml", "agent: writer\ninstructions: You are the writer.\n"
                        "max_steps: 2\n"},
        {"breaker.yaml", "agent: breaker\ninstructions: You are the breaker."
                         "\nmax_steps: 2\n"},
        {"asker.yaml", "agent: asker\ninstructions: You are the asker.\n"
                       "max_steps: 4\n"},
        {"guarded.yaml", "agent: guarded\ninstructions: You are the "
                         "guarded.\ntools: [t.guarded]\nmax_steps: 3\n"},
        {"chatter.yaml", "agent: chatter\ninstructions: You are the "
                         "chatter.\nmax_steps: 2\n"},
        {"counter.yaml", "agent: counter\ninstructions: You are the "
                         "counter.\nmax_steps: 2\n"},
        {"spender.yaml", "agent: spender\ninstructions: You are the "
                         "spender.\ntools: [t.echo]\nmax_steps: 1\n"},
    };
    for (size_t i = 0; i < sizeof agents / sizeof agents[0]; i++)
        s_write(agents[i][0], agents[i][1]);
    assert_int_equal(s_node_start(), ORCS_OK);
    return 0;
}

static int
s_teardown(void **state)
{
    (void) state;
    s_node_stop();
    nftw(s_env.work, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
    json_decref(s_calls);
    return 0;
}

// ---------------------------------------------------------------------------
// Helpers

// Starts the workflow file `name` as run `id`; returns the reply status.
static orcs_status
s_start(const char *name, const char *id, json_t *inputs)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_env.work, name);
    orcs_status rc;
    json_t *reply =
        fixture_ask(&s_env.f, "orchestrator", "run.start",
                    json_pack("{s:s, s:s, s:o}", "workflow", path, "run", id,
                              "inputs", inputs ? inputs : json_object()),
                    &rc);
    if (rc != ORCS_OK)
        fprintf(stderr, "run.start: %s\n",
                json_string_value(json_object_get(reply, "error")));
    json_decref(reply);
    return rc;
}

// Waits until run id finishes or waits for a human; returns the view.
static json_t *
s_wait(const char *id)
{
    orcs_status rc;
    json_t *view = fixture_ask(&s_env.f, "orchestrator", "run.wait",
                               json_pack("{s:s}", "run", id), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_non_null(view);
    const char *error = json_string_value(json_object_get(view, "error"));
    if (error) // shown when a test fails on it
        fprintf(stderr, "run %s: %s\n", id, error);
    return view;
}

static const char *s_node_status(const json_t *view, const char *node);

// Polls run.get until node reaches status (a deadline fails the test).
static json_t *
s_wait_node(const char *id, const char *node, const char *status)
{
    for (int i = 0; i < FIXTURE_WAIT_MS / 10; i++) {
        orcs_status rc;
        json_t *view = fixture_ask(&s_env.f, "orchestrator", "run.get",
                                   json_pack("{s:s}", "run", id), &rc);
        assert_int_equal(rc, ORCS_OK);
        const char *now = s_node_status(view, node);
        if (now && strcmp(now, status) == 0)
            return view;
        json_decref(view);
        usleep(10000);
    }
    fail_msg("run %s: node %s never became %s", id, node, status);
    return NULL;
}

static const char *
s_status(const json_t *view)
{
    return json_string_value(json_object_get(view, "status"));
}

static const char *
s_node_status(const json_t *view, const char *node)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(view, "nodes"), node), "status"));
}

static json_int_t
s_attempts(const json_t *view, const char *node)
{
    return json_integer_value(json_object_get(
        json_object_get(json_object_get(view, "nodes"), node), "attempts"));
}

// The id of the first pending approval of a view (static buffer).
static const char *
s_pending(const json_t *view, const char *node)
{
    static char id[64];
    size_t i;
    json_t *approval;
    json_array_foreach(json_object_get(view, "approvals"), i, approval)
    {
        const char *state =
            json_string_value(json_object_get(approval, "state"));
        const char *of = json_string_value(json_object_get(approval, "node"));
        if (strcmp(state, "pending") == 0 && (!node || strcmp(of, node) == 0)) {
            snprintf(id, sizeof id, "%s",
                     json_string_value(json_object_get(approval, "id")));
            return id;
        }
    }
    return NULL;
}

static orcs_status
s_decide(const char *run, const char *approval, bool approve)
{
    orcs_status rc;
    json_t *reply =
        fixture_ask(&s_env.f, "orchestrator", "run.approve",
                    json_pack("{s:s, s:s, s:b, s:s}", "run", run, "approval",
                              approval, "approve", approve, "reason", "test"),
                    &rc);
    json_decref(reply);
    return rc;
}

// ---------------------------------------------------------------------------
// Tests

static void
test_graph_and_end(void **state)
{
    (void) state;
    s_write("graph.yaml",
            "workflow: graph\n"
            "inputs:\n  name: {type: string}\n"
            "nodes:\n"
            "  a: {kind: tool, tool: t.echo, args: {v: '${{ inputs.name }}'}}\n"
            "  b: {kind: tool, tool: t.echo, needs: [a],\n"
            "      args: {v: '${{ nodes.a.output.v }}-b'}}\n"
            "  c: {kind: tool, tool: t.echo, needs: [a], args: {n: 2}}\n"
            "  j: {kind: join, needs: [b, c]}\n"
            "  end: {kind: end, needs: [j],\n"
            "        output: {b: '${{ nodes.b.output.v }}', "
            "c: '${{ nodes.j.output.c.n }}'}}\n");
    assert_int_equal(
        s_start("graph.yaml", "g-1", json_pack("{s:s}", "name", "orcs")),
        ORCS_OK);
    json_t *view = s_wait("g-1");
    assert_string_equal(s_status(view), "completed");
    json_t *output = json_object_get(view, "output");
    assert_string_equal(json_string_value(json_object_get(output, "b")),
                        "orcs-b");
    assert_int_equal(json_integer_value(json_object_get(output, "c")), 2);
    assert_string_equal(s_node_status(view, "j"), "completed");
    assert_int_equal(s_calls_of("g-1/0/a"), 1);
    json_decref(view);
    // the same id again is refused
    assert_int_equal(
        s_start("graph.yaml", "g-1", json_pack("{s:s}", "name", "x")),
        ORCS_EEXIST);
    // a missing input is refused before anything runs
    assert_int_equal(s_start("graph.yaml", "g-2", NULL), ORCS_EINVAL);
}

static void
test_branch_map_loop(void **state)
{
    (void) state;
    s_write("flow.yaml",
            "workflow: flow\n"
            "inputs:\n  n: {type: integer}\n"
            "nodes:\n"
            "  pick:\n    kind: branch\n"
            "    cases: [{when: '${{ inputs.n > 2 }}', to: big}]\n"
            "    default: small\n"
            "  big: {kind: tool, tool: t.echo, args: {size: big}}\n"
            "  small: {kind: tool, tool: t.echo, args: {size: small}}\n"
            "  each:\n    kind: map\n    needs: [big]\n"
            "    over: [1, 2, 3, 4, 5]\n    concurrency: 2\n"
            "    do: {kind: tool, tool: t.echo, args: {x: '${{ item }}', "
            "i: '${{ index }}'}}\n"
            "  again:\n    kind: loop\n    needs: [each]\n"
            "    max_iterations: 10\n"
            "    until: '${{ loop.index >= 2 }}'\n"
            "    do: {kind: tool, tool: t.echo, args: {round: 1}}\n");
    assert_int_equal(s_start("flow.yaml", "b-1", json_pack("{s:i}", "n", 5)),
                     ORCS_OK);
    json_t *view = s_wait("b-1");
    assert_string_equal(s_status(view), "completed");
    assert_string_equal(s_node_status(view, "big"), "completed");
    assert_string_equal(s_node_status(view, "small"), "skipped");
    assert_string_equal(s_node_status(view, "each"), "completed");
    json_t *output = json_object_get(view, "output");
    // the sinks: the loop (its last round) and the skipped small is absent
    assert_non_null(json_object_get(output, "again"));
    assert_null(json_object_get(output, "small"));
    // every item ran once, in order in the output
    for (int i = 0; i < 5; i++) {
        char key[64];
        snprintf(key, sizeof key, "b-1/0/each[%d]", i);
        assert_int_equal(s_calls_of(key), 1);
    }
    // three rounds (index 0, 1, 2)
    assert_int_equal(s_calls_of("b-1/0/again#2"), 1);
    assert_int_equal(s_calls_of("b-1/0/again#3"), 0);
    json_decref(view);
    // the other way
    assert_int_equal(s_start("flow.yaml", "b-2", json_pack("{s:i}", "n", 1)),
                     ORCS_OK);
    view = s_wait("b-2");
    assert_string_equal(s_status(view), "completed");
    assert_string_equal(s_node_status(view, "big"), "skipped");
    assert_string_equal(s_node_status(view, "small"), "completed");
    assert_string_equal(s_node_status(view, "each"), "skipped");
    json_decref(view);
}

static void
test_map_output(void **state)
{
    (void) state;
    s_write(
        "map.yaml",
        "workflow: mapper\n"
        "nodes:\n"
        "  m:\n    kind: map\n    over: [a, b, c]\n    concurrency: 1\n"
        "    do: {kind: tool, tool: t.echo, args: {x: '${{ item }}'}}\n"
        "  end: {kind: end, needs: [m], output: '${{ nodes.m.output }}'}\n");
    assert_int_equal(s_start("map.yaml", "m-1", NULL), ORCS_OK);
    json_t *view = s_wait("m-1");
    assert_string_equal(s_status(view), "completed");
    json_t *output = json_object_get(view, "output");
    assert_int_equal(json_array_size(output), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(output, 2), "x")),
        "c");
    json_decref(view);
}

static void
test_retries_and_error_route(void **state)
{
    (void) state;
    s_write("retry.yaml",
            "workflow: retry\n"
            "nodes:\n"
            "  ok: {kind: tool, tool: t.flaky, args: {fail: 2}, retries: 2,\n"
            "       backoff_ms: 10}\n"
            "  bad: {kind: tool, tool: t.flaky, args: {fail: 9}, retries: 1,\n"
            "        backoff_ms: 10, needs: [ok], on_error: handle}\n"
            "  after: {kind: tool, tool: t.echo, needs: [bad], args: {}}\n"
            "  handle: {kind: tool, tool: t.echo,\n"
            "           args: {why: '${{ error.message }}', "
            "who: '${{ error.node }}'}}\n");
    assert_int_equal(s_start("retry.yaml", "r-1", NULL), ORCS_OK);
    json_t *view = s_wait("r-1");
    assert_string_equal(s_status(view), "completed");
    assert_string_equal(s_node_status(view, "ok"), "completed");
    assert_int_equal(s_attempts(view, "ok"), 3);
    assert_int_equal(s_calls_of("r-1/0/ok"), 3);
    assert_string_equal(s_node_status(view, "bad"), "failed");
    assert_int_equal(s_calls_of("r-1/0/bad"), 2);
    assert_string_equal(s_node_status(view, "after"), "skipped");
    assert_string_equal(s_node_status(view, "handle"), "completed");
    json_t *handled =
        json_object_get(json_object_get(view, "output"), "handle");
    assert_string_equal(json_string_value(json_object_get(handled, "who")),
                        "bad");
    assert_non_null(
        strstr(json_string_value(json_object_get(handled, "why")), "flaky"));
    json_decref(view);
    // without a route the run fails and says which node
    s_write("fail.yaml", "workflow: fail\nnodes:\n"
                         "  x: {kind: tool, tool: t.flaky, args: {fail: 9}}\n"
                         "  y: {kind: tool, tool: t.echo, needs: [x]}\n");
    assert_int_equal(s_start("fail.yaml", "r-2", NULL), ORCS_OK);
    view = s_wait("r-2");
    assert_string_equal(s_status(view), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(view, "error")),
                           "node x failed"));
    assert_int_equal(s_calls_of("r-2/0/y"), 0);
    json_decref(view);
}

static void
test_timeout_and_cancel(void **state)
{
    (void) state;
    s_write("slow.yaml", "workflow: slow\nnodes:\n"
                         "  s: {kind: tool, tool: t.sleep, timeout_ms: 300}\n");
    assert_int_equal(s_start("slow.yaml", "t-1", NULL), ORCS_OK);
    json_t *view = s_wait("t-1");
    assert_string_equal(s_status(view), "failed");
    assert_non_null(
        strstr(json_string_value(json_object_get(view, "error")), "timed out"));
    json_decref(view);
    // cancel while it runs
    s_write("long.yaml", "workflow: long\nnodes:\n"
                         "  s: {kind: tool, tool: t.sleep}\n"
                         "  t: {kind: tool, tool: t.echo, needs: [s]}\n");
    assert_int_equal(s_start("long.yaml", "c-1", NULL), ORCS_OK);
    orcs_status rc;
    json_t *reply = fixture_ask(&s_env.f, "orchestrator", "run.cancel",
                                json_pack("{s:s}", "run", "c-1"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_status(reply), "cancelled");
    json_decref(reply);
    view = s_wait("c-1");
    assert_string_equal(s_status(view), "cancelled");
    assert_string_equal(s_node_status(view, "s"), "cancelled");
    assert_int_equal(s_calls_of("c-1/0/t"), 0);
    json_decref(view);
}

// A run.wait from another client thread: the view it got back.
typedef struct {
    const char *run;
    json_t *view;
} s_waiter_t;

static void *
s_waiter(void *arg)
{
    s_waiter_t *w = arg;
    orcs_client_t *client = orcs_client_new(s_env.f.node);
    orcs_msg_t *ask = orcs_msg_new("run.wait");
    json_t *body = json_pack("{s:s}", "run", w->run);
    orcs_msg_set_body(ask, &body);
    orcs_msg_t *reply = NULL;
    if (orcs_client_ask(client, "orchestrator", &ask, FIXTURE_WAIT_MS, &reply)
            == ORCS_OK
        && orcs_msg_status(reply) == ORCS_OK)
        orcs_msg_take_body(reply, &w->view);
    orcs_msg_destroy(&ask);
    orcs_msg_destroy(&reply);
    orcs_client_destroy(&client);
    return NULL;
}

// Several askers wait on one run; each gets the settled view once.
static void
test_several_waiters_get_the_view(void **state)
{
    (void) state;
    s_write("long2.yaml", "workflow: long2\nnodes:\n"
                          "  s: {kind: tool, tool: t.sleep}\n");
    assert_int_equal(s_start("long2.yaml", "w-1", NULL), ORCS_OK);
    enum { N = 3 };
    s_waiter_t waiters[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        waiters[i] = (s_waiter_t){"w-1", NULL};
        assert_int_equal(
            pthread_create(&threads[i], NULL, s_waiter, &waiters[i]), 0);
    }
    // The waiters park while the tool sleeps (or, if slower than this,
    // find the run settled): either way each gets the cancelled view.
    usleep(200 * 1000);
    orcs_status rc;
    json_t *reply = fixture_ask(&s_env.f, "orchestrator", "run.cancel",
                                json_pack("{s:s}", "run", "w-1"), &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        assert_non_null(waiters[i].view);
        assert_string_equal(s_status(waiters[i].view), "cancelled");
        assert_string_equal(s_node_status(waiters[i].view, "s"), "cancelled");
        json_decref(waiters[i].view);
    }
}

// The view written straight to MessagePack decodes to the documented
// shape; text that is not UTF-8 (a tool's output quoted in an error)
// becomes null instead of spoiling the whole answer.
static void
test_view_encodes_every_field(void **state)
{
    (void) state;
    const char *text = "workflow: shape\nnodes:\n"
                       "  a: {kind: tool, tool: t.echo}\n"
                       "  b: {kind: tool, tool: t.echo, needs: [a]}\n";
    orcs_workflow_t *wf = NULL;
    assert_int_equal(
        orcs_workflow_parse(text, strlen(text), "v.yaml", NULL, &wf, NULL),
        ORCS_OK);
    o_run_t run = {.wf = wf, .status = ORCS_RECORD_FAILED, .error = 1};
    snprintf(run.id, sizeof run.id, "v-1");
    snprintf(run.detail, sizeof run.detail, "node b failed: \xff\xfe");
    run.tasks = calloc(2, sizeof *run.tasks);
    run.approvals = json_pack("{s:{s:s}}", "a-1", "id", "a-1");
    run.prompt_tokens = 7;
    run.cost = 0.25;
    for (int i = 0; i < 2; i++) {
        run.tasks[i].node = &wf->nodes[i];
        snprintf(run.tasks[i].id, sizeof run.tasks[i].id, "%s",
                 wf->nodes[i].id);
    }
    run.tasks[0].status = ORCS_RECORD_SUCCEEDED;
    run.tasks[0].attempt = 2;
    run.tasks[0].clarifying = true;
    run.tasks[0].question = strdup("which one?");
    run.tasks[0].children_count = 3;
    run.tasks[0].done_children = 1;
    run.tasks[1].status = ORCS_RECORD_FAILED;
    run.tasks[1].error = 1;
    run.tasks[1].detail = strdup("bad \xc3\x28 bytes");
    uint8_t *data = NULL;
    size_t size = 0;
    o_run_view_encode(&run, &data, &size);
    json_t *view = NULL;
    assert_int_equal(orcs_doc_decode(data, size, NULL, &view), ORCS_OK);
    assert_string_equal(s_status(view), "failed");
    assert_string_equal(json_string_value(json_object_get(view, "id")), "v-1");
    assert_string_equal(json_string_value(json_object_get(view, "workflow")),
                        "shape");
    assert_true(json_is_null(json_object_get(view, "error")));
    assert_int_equal(json_array_size(json_object_get(view, "approvals")), 1);
    json_t *usage = json_object_get(view, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "prompt_tokens")), 7);
    assert_true(json_real_value(json_object_get(usage, "cost")) == 0.25);
    json_t *a = json_object_get(json_object_get(view, "nodes"), "a");
    assert_string_equal(json_string_value(json_object_get(a, "status")),
                        "completed");
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "tool");
    assert_int_equal(json_integer_value(json_object_get(a, "attempts")), 2);
    assert_string_equal(json_string_value(json_object_get(a, "question")),
                        "which one?");
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(a, "items"), "total")),
                     3);
    assert_true(json_is_null(json_object_get(a, "error")));
    json_t *b = json_object_get(json_object_get(view, "nodes"), "b");
    assert_string_equal(json_string_value(json_object_get(b, "status")),
                        "failed");
    assert_true(json_is_null(json_object_get(b, "error")));
    assert_null(json_object_get(b, "items"));
    assert_int_equal(json_object_size(b), 6);
    json_decref(view);
    free(data);
    free(run.tasks[0].question);
    free(run.tasks[1].detail);
    free(run.tasks);
    json_decref(run.approvals);
    orcs_workflow_destroy(&wf);
}

// Finished runs are kept in memory up to limits.finished_tasks of their
// tasks: past that the oldest go (a run with durable: false is then gone,
// a durable one is read from the store); the newest always stays.
static void
test_finished_runs_kept_up_to_a_task_limit(void **state)
{
    (void) state;
    s_node_stop();
    s_env.finished_tasks = 3;
    assert_int_equal(s_node_start(), ORCS_OK);
    s_write("mem.yaml", "workflow: mem\ndurable: false\nnodes:\n"
                        "  a: {kind: tool, tool: t.echo}\n"
                        "  b: {kind: tool, tool: t.echo, needs: [a]}\n");
    s_write("kept.yaml", "workflow: kept\nnodes:\n"
                         "  a: {kind: tool, tool: t.echo}\n"
                         "  b: {kind: tool, tool: t.echo, needs: [a]}\n");
    const char *ids[] = {"fk-m1", "fk-k1", "fk-m2"};
    const char *files[] = {"mem.yaml", "kept.yaml", "mem.yaml"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s_start(files[i], ids[i], NULL), ORCS_OK);
        json_t *view = s_wait(ids[i]);
        assert_string_equal(s_status(view), "completed");
        json_decref(view);
    }
    // 6 tasks finished, 3 kept: fk-m1 and fk-k1 went, fk-m2 (the newest)
    // stayed
    orcs_status rc;
    json_t *view = fixture_ask(&s_env.f, "orchestrator", "run.get",
                               json_pack("{s:s}", "run", "fk-m1"), &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    json_decref(view);
    view = fixture_ask(&s_env.f, "orchestrator", "run.get",
                       json_pack("{s:s}", "run", "fk-k1"), &rc);
    assert_int_equal(rc, ORCS_OK); // from the store
    assert_string_equal(s_status(view), "completed");
    json_decref(view);
    view = fixture_ask(&s_env.f, "orchestrator", "run.get",
                       json_pack("{s:s}", "run", "fk-m2"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_status(view), "completed");
    json_decref(view);
    json_t *stats = fixture_ask(&s_env.f, "orchestrator", "orchestrator.stats",
                                json_object(), &rc);
    assert_int_equal(json_integer_value(json_object_get(stats, "held")), 1);
    json_decref(stats);
    s_node_stop();
    s_env.finished_tasks = 0;
    assert_int_equal(s_node_start(), ORCS_OK);
}

static void
test_pause_resume(void **state)
{
    (void) state;
    s_write("pause.yaml", "workflow: pause\nnodes:\n"
                          "  gate: {kind: approval, prompt: go?}\n"
                          "  a: {kind: tool, tool: t.echo, needs: [gate]}\n");
    assert_int_equal(s_start("pause.yaml", "p-1", NULL), ORCS_OK);
    json_t *view = s_wait("p-1");
    assert_string_equal(s_status(view), "waiting_approval");
    char approval[64];
    snprintf(approval, sizeof approval, "%s", s_pending(view, "gate"));
    json_decref(view);
    orcs_status rc;
    json_t *reply = fixture_ask(&s_env.f, "orchestrator", "run.pause",
                                json_pack("{s:s}", "run", "p-1"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_status(reply), "paused");
    json_decref(reply);
    // approved while paused: nothing new starts
    assert_int_equal(s_decide("p-1", approval, true), ORCS_OK);
    view = s_wait("p-1");
    assert_string_equal(s_status(view), "paused");
    assert_int_equal(s_calls_of("p-1/0/a"), 0);
    json_decref(view);
    reply = fixture_ask(&s_env.f, "orchestrator", "run.resume",
                        json_pack("{s:s}", "run", "p-1"), &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    view = s_wait("p-1");
    assert_string_equal(s_status(view), "completed");
    assert_int_equal(s_calls_of("p-1/0/a"), 1);
    json_decref(view);
}

static void
test_approvals(void **state)
{
    (void) state;
    s_write("two.yaml",
            "workflow: two\nnodes:\n"
            "  left: {kind: approval, prompt: 'left ${{ inputs.x }}?'}\n"
            "  right: {kind: approval, prompt: right?, on_error: fix}\n"
            "  l2: {kind: tool, tool: t.echo, needs: [left]}\n"
            "  r2: {kind: tool, tool: t.echo, needs: [right]}\n"
            "  fix: {kind: tool, tool: t.echo, args: {fixed: true}}\n"
            "inputs:\n  x: {type: string, default: one}\n");
    assert_int_equal(s_start("two.yaml", "a-1", NULL), ORCS_OK);
    json_t *view = s_wait("a-1");
    assert_string_equal(s_status(view), "waiting_approval");
    assert_int_equal(json_array_size(json_object_get(view, "approvals")), 2);
    char left[64], right[64];
    snprintf(left, sizeof left, "%s", s_pending(view, "left"));
    snprintf(right, sizeof right, "%s", s_pending(view, "right"));
    assert_string_not_equal(left, right);
    json_decref(view);
    assert_int_equal(s_decide("a-1", left, true), ORCS_OK);
    assert_int_equal(s_decide("a-1", left, true), ORCS_EEXIST);
    assert_int_equal(s_decide("a-1", "a-nope", true), ORCS_ENOTFOUND);
    view = s_wait_node("a-1", "l2", "completed");
    assert_string_equal(s_status(view), "waiting_approval");
    assert_string_equal(s_node_status(view, "l2"), "completed");
    json_decref(view);
    assert_int_equal(s_decide("a-1", right, false), ORCS_OK);
    view = s_wait("a-1");
    assert_string_equal(s_status(view), "completed");
    assert_string_equal(s_node_status(view, "right"), "failed");
    assert_string_equal(s_node_status(view, "r2"), "skipped");
    assert_string_equal(s_node_status(view, "fix"), "completed");
    json_decref(view);
}

static void
test_approval_timeout_escalates(void **state)
{
    (void) state;
    s_write("esc.yaml",
            "workflow: esc\nnodes:\n"
            "  ask: {kind: approval, prompt: quick?, timeout_s: 1,\n"
            "        on_timeout: escalate}\n"
            "  go: {kind: tool, tool: t.echo, needs: [ask]}\n"
            "  escalate: {kind: tool, tool: t.echo, args: {to: boss}}\n");
    assert_int_equal(s_start("esc.yaml", "e-1", NULL), ORCS_OK);
    json_t *view = s_wait("e-1"); // waiting
    json_decref(view);
    for (int i = 0; i < 200; i++) { // the timeout is 1 s
        view = s_wait("e-1");
        if (strcmp(s_status(view), "completed") == 0)
            break;
        json_decref(view);
        view = NULL;
        usleep(50000);
    }
    assert_non_null(view);
    assert_string_equal(s_node_status(view, "ask"), "failed");
    assert_string_equal(s_node_status(view, "go"), "skipped");
    assert_string_equal(s_node_status(view, "escalate"), "completed");
    json_t *approval = json_array_get(json_object_get(view, "approvals"), 0);
    assert_string_equal(json_string_value(json_object_get(approval, "state")),
                        "timed_out");
    json_decref(view);
}

static void
test_tool_needs_approval(void **state)
{
    (void) state;
    s_write("guard.yaml", "workflow: guard\nnodes:\n"
                          "  g: {kind: tool, tool: t.guarded, args: {x: 1}}\n");
    assert_int_equal(s_start("guard.yaml", "n-1", NULL), ORCS_OK);
    json_t *view = s_wait("n-1");
    assert_string_equal(s_status(view), "waiting_approval");
    assert_int_equal(s_calls_of("n-1/0/g"), 0);
    char id[64];
    snprintf(id, sizeof id, "%s", s_pending(view, "g"));
    json_decref(view);
    assert_int_equal(s_decide("n-1", id, true), ORCS_OK);
    view = s_wait("n-1");
    assert_string_equal(s_status(view), "completed");
    assert_int_equal(s_calls_of("n-1/0/g"), 1);
    json_decref(view);
}

static void
test_approval_survives_restart(void **state)
{
    (void) state;
    s_write("restart.yaml",
            "workflow: restart\nnodes:\n"
            "  first: {kind: tool, tool: t.echo, args: {n: 1}}\n"
            "  gate: {kind: approval, needs: [first], prompt: 'go on?'}\n"
            "  last: {kind: tool, tool: t.echo, needs: [gate],\n"
            "         args: {n: '${{ nodes.first.output.n }}'}}\n");
    assert_int_equal(s_start("restart.yaml", "s-1", NULL), ORCS_OK);
    json_t *view = s_wait("s-1");
    assert_string_equal(s_status(view), "waiting_approval");
    char id[64];
    snprintf(id, sizeof id, "%s", s_pending(view, "gate"));
    json_decref(view);
    assert_int_equal(s_calls_of("s-1/0/first"), 1);
    // a new node on the same data directory resumes the run
    s_node_stop();
    assert_int_equal(s_node_start(), ORCS_OK);
    view = s_wait("s-1");
    assert_string_equal(s_status(view), "waiting_approval");
    assert_string_equal(s_pending(view, "gate"), id);
    assert_int_equal(json_integer_value(json_object_get(view, "attempt")), 2);
    json_decref(view);
    assert_int_equal(s_decide("s-1", id, true), ORCS_OK);
    view = s_wait("s-1");
    assert_string_equal(s_status(view), "completed");
    // first ran once in all; last saw its output
    assert_int_equal(s_calls_of("s-1/0/first"), 1);
    assert_int_equal(s_calls_of("s-1/0/last"), 1);
    json_decref(view);
    // the checkpoints are in order and the run record is final
    orcs_store_t *store = orcs_node_store(s_env.f.node);
    void *value = NULL;
    size_t size = 0;
    assert_int_equal(
        orcs_store_get(store, ORCS_DB_RUNS, "s-1", 3, &value, &size), ORCS_OK);
    free(value);
}

// A store written before outputs moved beside their task records (RUN \0
// o \0 TASK) still resumes: the next node sees the stored output.
static void
test_resume_reads_the_old_output_layout(void **state)
{
    (void) state;
    s_write("oldout.yaml",
            "workflow: oldout\nnodes:\n"
            "  first: {kind: tool, tool: t.echo, args: {n: 7}}\n"
            "  gate: {kind: approval, needs: [first]}\n"
            "  last: {kind: tool, tool: t.echo, needs: [gate],\n"
            "         args: {n: '${{ nodes.first.output.n }}'}}\n");
    assert_int_equal(s_start("oldout.yaml", "l-1", NULL), ORCS_OK);
    json_t *view = s_wait("l-1");
    assert_string_equal(s_status(view), "waiting_approval");
    char id[64];
    snprintf(id, sizeof id, "%s", s_pending(view, "gate"));
    json_decref(view);
    // move first's output to the old key
    orcs_store_t *store = orcs_node_store(s_env.f.node);
    char key[64];
    size_t n = orcs_runs_key(key, sizeof key, "l-1", 'o', "first");
    void *value = NULL;
    size_t size = 0;
    assert_int_equal(
        orcs_store_get(store, ORCS_DB_TASKS, key, n, &value, &size), ORCS_OK);
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_del(batch, ORCS_DB_TASKS, key, n);
    assert_int_equal(
        orcs_batch_put(batch, ORCS_DB_TASKS, "l-1\0o\0first", 11, value, size),
        ORCS_OK);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    free(value);
    s_node_stop();
    assert_int_equal(s_node_start(), ORCS_OK);
    assert_int_equal(s_decide("l-1", id, true), ORCS_OK);
    view = s_wait("l-1");
    assert_string_equal(s_status(view), "completed");
    json_t *last = json_object_get(json_object_get(view, "output"), "last");
    assert_int_equal(json_integer_value(json_object_get(last, "n")), 7);
    assert_int_equal(s_calls_of("l-1/0/first"), 1);
    json_decref(view);
}

// A task asked twice (here: an older approval already decided "approved")
// whose newer approval is rejected offline, on the store, while no node
// runs: the next node applies the newest decision, the rejection.
static void
test_offline_reject_newest_wins(void **state)
{
    (void) state;
    s_write(
        "offline.yaml",
        "workflow: offline\nnodes:\n"
        "  gate: {kind: approval, prompt: 'go on?'}\n"
        "  last: {kind: tool, tool: t.echo, needs: [gate], args: {n: 1}}\n");
    assert_int_equal(s_start("offline.yaml", "o-1", NULL), ORCS_OK);
    json_t *view = s_wait("o-1");
    assert_string_equal(s_status(view), "waiting_approval");
    char id[64];
    snprintf(id, sizeof id, "%s", s_pending(view, "gate"));
    json_decref(view);
    // an earlier approval of the same task, approved; its id sorts
    // before and after the real one's in turn so key order cannot decide
    orcs_store_t *store = orcs_node_store(s_env.f.node);
    const char *olds[] = {"a-000000000000", "a-ffffffffffff"};
    for (size_t i = 0; i < 2; i++) {
        json_t *old = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", olds[i], "node",
            "gate", "kind", "node", "prompt", "earlier", "state", "approved",
            "created_us", (json_int_t) 1, "decided_us", (json_int_t) 2);
        char key[128];
        size_t key_size = orcs_runs_key(key, sizeof key, "o-1", 'a', olds[i]);
        assert_true(key_size > 0);
        uint8_t *data = NULL;
        size_t size = 0;
        assert_int_equal(orcs_doc_encode(old, &data, &size), ORCS_OK);
        orcs_batch_t *batch = orcs_batch_new();
        assert_int_equal(
            orcs_batch_put(batch, ORCS_DB_TASKS, key, key_size, data, size),
            ORCS_OK);
        assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
        free(data);
        json_decref(old);
    }
    s_node_stop();
    char path[256];
    snprintf(path, sizeof path, "%s/store", s_env.f.data);
    store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, path, NULL), ORCS_OK);
    assert_int_equal(orcs_runs_decide(store, "o-1", id, false, "no", "test"),
                     ORCS_OK);
    orcs_store_destroy(&store);
    assert_int_equal(s_node_start(), ORCS_OK);
    view = s_wait("o-1");
    assert_string_equal(s_status(view), "failed");
    assert_string_equal(s_node_status(view, "gate"), "failed");
    assert_int_equal(s_calls_of("o-1/0/last"), 0);
    json_decref(view);
}

// The tokens a run spent before a restart stay in its usage (and so in
// its budget) after it.
static void
test_usage_survives_restart(void **state)
{
    (void) state;
    s_write("usage.yaml", "workflow: usage\nnodes:\n"
                          "  count: {kind: agent, agent: counter.yaml, "
                          "input: 'go'}\n"
                          "  gate: {kind: approval, needs: [count]}\n");
    assert_int_equal(s_start("usage.yaml", "u-1", NULL), ORCS_OK);
    json_t *view = s_wait("u-1");
    assert_string_equal(s_status(view), "waiting_approval");
    json_t *usage = json_object_get(view, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "prompt_tokens")), 30);
    char id[64];
    snprintf(id, sizeof id, "%s", s_pending(view, "gate"));
    json_decref(view);
    s_node_stop();
    // the store's view of the parked run has it
    char path[256];
    snprintf(path, sizeof path, "%s/store", s_env.f.data);
    orcs_store_t *store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, path, NULL), ORCS_OK);
    assert_int_equal(orcs_runs_view(store, "u-1", &view), ORCS_OK);
    usage = json_object_get(view, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "completion_tokens")), 12);
    json_decref(view);
    orcs_store_destroy(&store);
    assert_int_equal(s_node_start(), ORCS_OK);
    assert_int_equal(s_decide("u-1", id, true), ORCS_OK);
    view = s_wait("u-1");
    assert_string_equal(s_status(view), "completed");
    usage = json_object_get(view, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "prompt_tokens")), 30);
    assert_int_equal(
        json_integer_value(json_object_get(usage, "completion_tokens")), 12);
    json_decref(view);
}

// An agent that fails (here: over its step limit) still spent its tokens:
// they count in the run's usage.
static void
test_failed_agent_usage_counts(void **state)
{
    (void) state;
    s_write("spend.yaml", "workflow: spend\nnodes:\n"
                          "  spend: {kind: agent, agent: spender.yaml, "
                          "input: 'go'}\n");
    assert_int_equal(s_start("spend.yaml", "sp-1", NULL), ORCS_OK);
    json_t *view = s_wait("sp-1");
    assert_string_equal(s_status(view), "failed");
    json_t *usage = json_object_get(view, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "prompt_tokens")), 5);
    assert_int_equal(
        json_integer_value(json_object_get(usage, "completion_tokens")), 3);
    json_decref(view);
}

static json_int_t
s_cache_stat(const char *key)
{
    orcs_status rc;
    json_t *stats = fixture_ask(&s_env.f, "orchestrator", "orchestrator.stats",
                                json_object(), &rc);
    assert_int_equal(rc, ORCS_OK);
    json_int_t value = json_integer_value(
        json_object_get(json_object_get(stats, "workflow_cache"), key));
    json_decref(stats);
    return value;
}

static const char *
s_end_output(const char *run)
{
    static char text[32];
    json_t *view = s_wait(run);
    assert_string_equal(s_status(view), "completed");
    snprintf(text, sizeof text, "%s",
             json_string_value(json_object_get(view, "output")));
    json_decref(view);
    return text;
}

// Runs of one unchanged file share its compiled workflow; a changed file
// is compiled again; inline documents are cached by their values in
// order.
static void
test_compiled_workflow_cache(void **state)
{
    (void) state;
    s_write("cached.yaml", "workflow: cached\nnodes:\n"
                           "  end: {kind: end, output: one}\n");
    json_int_t hits = s_cache_stat("hits");
    assert_int_equal(s_start("cached.yaml", "k-1", NULL), ORCS_OK);
    assert_string_equal(s_end_output("k-1"), "one");
    assert_int_equal(s_start("cached.yaml", "k-2", NULL), ORCS_OK);
    assert_string_equal(s_end_output("k-2"), "one");
    assert_int_equal(s_cache_stat("hits"), hits + 1);
    // a new text is a new workflow, even at the same size and time
    s_write("cached.yaml", "workflow: cached\nnodes:\n"
                           "  end: {kind: end, output: two}\n");
    assert_int_equal(s_start("cached.yaml", "k-3", NULL), ORCS_OK);
    assert_string_equal(s_end_output("k-3"), "two");
    assert_int_equal(s_cache_stat("hits"), hits + 1);
    // the same document twice: one compilation; its keys in another order
    // are another key (compiled again, same result)
    const char *docs[] = {
        "{\"workflow\": \"inline\", \"nodes\": {\"end\": "
        "{\"kind\": \"end\", \"output\": \"three\"}}}",
        "{\"workflow\": \"inline\", \"nodes\": {\"end\": "
        "{\"kind\": \"end\", \"output\": \"three\"}}}",
        "{\"nodes\": {\"end\": {\"output\": \"three\", \"kind\": "
        "\"end\"}}, \"workflow\": \"inline\"}"};
    json_int_t misses_before = s_cache_stat("misses");
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "k-d%d", i);
        orcs_status rc;
        json_t *reply =
            fixture_ask(&s_env.f, "orchestrator", "run.start",
                        json_pack("{s:o, s:s}", "doc",
                                  json_loads(docs[i], 0, NULL), "run", id),
                        &rc);
        assert_int_equal(rc, ORCS_OK);
        json_decref(reply);
        assert_string_equal(s_end_output(id), "three");
    }
    assert_int_equal(s_cache_stat("hits"), hits + 2);
    assert_int_equal(s_cache_stat("misses"), misses_before + 2);
    // an invalid workflow is not cached: its errors come back each time
    s_write("broken.yaml", "workflow: broken\nnodes:\n"
                           "  a: {kind: tool, tool: t.echo, needs: [ghost]}\n");
    json_int_t misses = s_cache_stat("misses");
    assert_int_equal(s_start("broken.yaml", "k-b1", NULL), ORCS_ECONFIG);
    assert_int_equal(s_start("broken.yaml", "k-b2", NULL), ORCS_ECONFIG);
    assert_int_equal(s_cache_stat("misses"), misses + 2);
}

static void
test_bad_requests(void **state)
{
    (void) state;
    orcs_status rc;
    json_t *reply = fixture_ask(&s_env.f, "orchestrator", "run.start",
                                json_pack("{s:i}", "workflow", 3), &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    json_decref(reply);
    reply = fixture_ask(
        &s_env.f, "orchestrator", "run.start",
        json_pack("{s:s, s:s}", "workflow", "/nonexistent.yaml", "run", "x-1"),
        &rc);
    assert_int_not_equal(rc, ORCS_OK);
    assert_non_null(json_string_value(json_object_get(reply, "error")));
    json_decref(reply);
    reply = fixture_ask(
        &s_env.f, "orchestrator", "run.start",
        json_pack("{s:s, s:s}", "workflow", "/x.yaml", "run", "bad id!"), &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    json_decref(reply);
    reply = fixture_ask(&s_env.f, "orchestrator", "run.get",
                        json_pack("{s:s}", "run", "nope"), &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    json_decref(reply);
    reply =
        fixture_ask(&s_env.f, "orchestrator", "run.fly", json_object(), &rc);
    assert_int_equal(rc, ORCS_EUNSUPPORTED);
    json_decref(reply);
    reply = fixture_ask(&s_env.f, "orchestrator", "orchestrator.stats",
                        json_object(), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_true(json_integer_value(json_object_get(reply, "bad_requests"))
                >= 3);
    json_decref(reply);
}

static void
test_agent_node_thread(void **state)
{
    (void) state;
    s_write("chat.yaml",
            "workflow: chat\ninputs:\n  q: {type: string}\n"
            "nodes:\n"
            "  talk: {kind: agent, agent: chatter.yaml,\n"
            "         input: '${{ inputs.q }}', thread: chat-1}\n");
    assert_int_equal(s_start("chat.yaml", "h-1", json_pack("{s:s}", "q", "hi")),
                     ORCS_OK);
    json_t *view = s_wait("h-1");
    assert_string_equal(s_status(view), "completed");
    json_t *talk = json_object_get(json_object_get(view, "output"), "talk");
    assert_string_equal(json_string_value(talk), "first answer");
    assert_true(json_integer_value(
                    json_object_get(json_object_get(view, "usage"), "requests"))
                >= 1);
    json_decref(view);
    // a later run on the same thread sees the conversation so far
    assert_int_equal(
        s_start("chat.yaml", "h-2", json_pack("{s:s}", "q", "and then?")),
        ORCS_OK);
    view = s_wait("h-2");
    assert_string_equal(s_status(view), "completed");
    talk = json_object_get(json_object_get(view, "output"), "talk");
    assert_string_equal(json_string_value(talk), "second answer (remembered)");
    json_decref(view);
}

static void
test_interrupt_answers_question(void **state)
{
    (void) state;
    s_write("ask.yaml",
            "workflow: ask\nnodes:\n"
            "  ask: {kind: agent, agent: asker.yaml, input: plan a trip}\n");
    assert_int_equal(s_start("ask.yaml", "i-1", NULL), ORCS_OK);
    const char *question = NULL;
    json_t *view = NULL;
    for (int i = 0; i < 400 && !question; i++) {
        json_decref(view);
        orcs_status rc;
        view = fixture_ask(&s_env.f, "orchestrator", "run.get",
                           json_pack("{s:s}", "run", "i-1"), &rc);
        assert_int_equal(rc, ORCS_OK);
        question = json_string_value(json_object_get(
            json_object_get(json_object_get(view, "nodes"), "ask"),
            "question"));
        if (!question)
            usleep(20000);
    }
    assert_non_null(question);
    assert_string_equal(question, "which city?");
    json_decref(view);
    orcs_status rc;
    json_t *reply = fixture_ask(
        &s_env.f, "orchestrator", "run.interrupt",
        json_pack("{s:s, s:s}", "run", "i-1", "input", "Paris"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "node")),
                        "ask");
    json_decref(reply);
    view = s_wait("i-1");
    assert_string_equal(s_status(view), "completed");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(view, "output"), "ask")),
                        "got it");
    json_decref(view);
    // nothing left to interrupt
    reply =
        fixture_ask(&s_env.f, "orchestrator", "run.interrupt",
                    json_pack("{s:s, s:s}", "run", "i-1", "input", "x"), &rc);
    assert_int_not_equal(rc, ORCS_OK);
    json_decref(reply);
}

// The planner's first plan is refused (unknown role, unknown need), the
// second runs; its `broken` task fails (no model answer for it), and a
// re-plan keeps `good` and adds `recover`.
static void
test_planner_corrects_and_replans(void **state)
{
    (void) state;
    char planner[128], writer[128], breaker[128];
    snprintf(planner, sizeof planner, "%s/planner.yaml", s_env.work);
    snprintf(writer, sizeof writer, "%s/writer.yaml", s_env.work);
    snprintf(breaker, sizeof breaker, "%s/breaker.yaml", s_env.work);
    orcs_status rc;
    json_t *reply = fixture_ask(
        &s_env.f, "orchestrator", "run.start",
        json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:s}, s:i, s:i}}", "run",
                  "plan-1", "plan", "request", "do the thing", "planner",
                  planner, "roles", "writer", writer, "breaker", breaker,
                  "attempts", 3, "replans", 1),
        &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    json_t *view = s_wait("plan-1");
    assert_string_equal(s_status(view), "completed");
    json_t *nodes = json_object_get(view, "nodes");
    assert_string_equal(s_node_status(view, "good"), "completed");
    assert_string_equal(s_node_status(view, "recover"), "completed");
    assert_null(json_object_get(nodes, "broken")); // re-planned away
    assert_int_equal(s_attempts(view, "good"), 1); // kept, not run again
    assert_true(json_integer_value(
                    json_object_get(json_object_get(view, "usage"), "requests"))
                >= 4);
    json_decref(view);
    // plan only: the output is the compiled workflow
    reply = fixture_ask(
        &s_env.f, "orchestrator", "run.start",
        json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:s}, s:b}}", "run", "plan-2",
                  "plan", "request", "do the thing", "planner", planner,
                  "roles", "writer", writer, "breaker", breaker, "only", 1),
        &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    view = s_wait("plan-2");
    assert_string_equal(s_status(view), "completed");
    json_t *doc = json_object_get(json_object_get(view, "output"), "workflow");
    assert_non_null(json_object_get(json_object_get(doc, "nodes"), "broken"));
    json_decref(view);
    // a planner that never makes a valid plan fails the run, bounded
    reply = fixture_ask(&s_env.f, "orchestrator", "run.start",
                        json_pack("{s:s, s:{s:s, s:s, s:{s:s}, s:i}}", "run",
                                  "plan-3", "plan", "request", "do the thing",
                                  "planner", planner, "roles", "writer", writer,
                                  "attempts", 1),
                        &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    view = s_wait("plan-3");
    assert_string_equal(s_status(view), "failed");
    assert_non_null(
        strstr(json_string_value(json_object_get(view, "error")), "ghost"));
    json_decref(view);
}

// An agent's call of a tool that needs approval parks the run until a
// human approves; then the call runs (once) and the agent goes on.
static void
test_agent_tool_approval(void **state)
{
    (void) state;
    s_write("agtool.yaml", "workflow: agtool\nnodes:\n"
                           "  use: {kind: agent, agent: guarded.yaml, "
                           "input: go}\n");
    assert_int_equal(s_start("agtool.yaml", "ag-1", NULL), ORCS_OK);
    json_t *view = s_wait("ag-1");
    assert_string_equal(s_status(view), "waiting_approval");
    json_t *approval = json_array_get(json_object_get(view, "approvals"), 0);
    assert_string_equal(json_string_value(json_object_get(approval, "kind")),
                        "agent_tool");
    assert_string_equal(json_string_value(json_object_get(approval, "node")),
                        "use");
    char id[64];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(approval, "id")));
    json_decref(view);
    assert_int_equal(s_calls_of("ag-1/1/c1"), 0);
    assert_int_equal(s_decide("ag-1", id, true), ORCS_OK);
    view = s_wait("ag-1");
    assert_string_equal(s_status(view), "completed");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(view, "output"), "use")),
                        "used it");
    assert_int_equal(s_calls_of("ag-1/1/c1"), 1);
    json_decref(view);
    // rejected: the agent is told and the tool never runs
    assert_int_equal(s_start("agtool.yaml", "ag-2", NULL), ORCS_OK);
    view = s_wait("ag-2");
    assert_string_equal(s_status(view), "waiting_approval");
    snprintf(id, sizeof id, "%s", s_pending(view, "use"));
    json_decref(view);
    assert_int_equal(s_decide("ag-2", id, false), ORCS_OK);
    view = s_wait("ag-2");
    assert_string_equal(s_status(view), "completed");
    assert_int_equal(s_calls_of("ag-2/1/c1"), 0);
    json_decref(view);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_and_end),
        cmocka_unit_test(test_branch_map_loop),
        cmocka_unit_test(test_map_output),
        cmocka_unit_test(test_retries_and_error_route),
        cmocka_unit_test(test_timeout_and_cancel),
        cmocka_unit_test(test_several_waiters_get_the_view),
        cmocka_unit_test(test_view_encodes_every_field),
        cmocka_unit_test(test_finished_runs_kept_up_to_a_task_limit),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_approvals),
        cmocka_unit_test(test_approval_timeout_escalates),
        cmocka_unit_test(test_tool_needs_approval),
        cmocka_unit_test(test_approval_survives_restart),
        cmocka_unit_test(test_offline_reject_newest_wins),
        cmocka_unit_test(test_resume_reads_the_old_output_layout),
        cmocka_unit_test(test_usage_survives_restart),
        cmocka_unit_test(test_failed_agent_usage_counts),
        cmocka_unit_test(test_compiled_workflow_cache),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_agent_node_thread),
        cmocka_unit_test(test_interrupt_answers_question),
        cmocka_unit_test(test_planner_corrects_and_replans),
        cmocka_unit_test(test_agent_tool_approval),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
