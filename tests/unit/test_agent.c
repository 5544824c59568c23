/*  test_agent.c — agent runs end to end: a real node with the model and
    toolexec actors, real tool processes, replay cassettes and the fake
    OpenAI server over HTTP on loopback.
    SPDX-License-Identifier: MPL-2.0 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "fixture.h"
#include "orcs/agent.h"
#include "orcs/artifact.h"
#include "orcs/doc.h"
#include "orcs/store.h"
#include "orcs/tools.h"

typedef struct {
    fixture_t f;
    char dir[64]; // scratch: agent files, tools, cassettes, counters
    pid_t server; // fake_openai, when started
    int port;
} s_ctx_t;

static void
s_write(const char *dir, const char *name, const char *fmt, ...)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(file, fmt, ap);
    va_end(ap);
    fclose(file);
}

static char *
s_read(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, file);
    text[n] = 0;
    fclose(file);
    return text;
}

static int
s_lines(const char *dir, const char *name)
{
    char *text = s_read(dir, name);
    int count = 0;
    for (char *p = text; p && *p; p++)
        count += *p == '\n';
    free(text);
    return count;
}

// The tools every test can use: add (exec, validated), slow (exec that
// records start and end), counted (cached, counts invocations), big
// (prints 40 KB), gone (to be removed by a reload).
static void
s_tools(const char *dir)
{
    char tools[128];
    snprintf(tools, sizeof tools, "%s/tools", dir);
    mkdir(tools, 0700);
    s_write(tools, "add.sh",
            "tr -d '\" ' | sed 's/.*a:\\([-0-9]*\\).*b:\\([-0-9]*\\).*/\\1 "
            "\\2/' | { read a b; echo $((a + b)); }\n");
    s_write(tools, "add.tool.yaml",
            "tool: add\n"
            "description: Add two integers and return the sum.\n"
            "kind: exec\n"
            "input_schema:\n"
            "  type: object\n"
            "  properties: {a: {type: integer}, b: {type: integer}}\n"
            "  required: [a, b]\n"
            "  additionalProperties: false\n"
            "idempotent: true\n"
            "exec:\n"
            "  command: [sh, %s/add.sh]\n",
            tools);
    s_write(tools, "slow.tool.yaml",
            "tool: slow\n"
            "description: Waits a little and says done.\n"
            "kind: exec\n"
            "input_schema: {type: object, properties: {tag: {type: string}}}\n"
            "exec:\n"
            "  command: [sh, -c, 'echo start >> %s/slow.log; sleep 0.3; "
            "echo end >> %s/slow.log; echo done']\n",
            dir, dir);
    s_write(tools, "counted.tool.yaml",
            "tool: counted\n"
            "description: Counts its invocations.\n"
            "kind: exec\n"
            "idempotent: true\n"
            "cache_ttl_s: 600\n"
            "input_schema: {type: object, properties: {q: {type: string}}}\n"
            "exec:\n"
            "  command: [sh, -c, 'echo x >> %s/counted.log; echo counted']\n",
            dir);
    s_write(tools, "big.tool.yaml",
            "tool: big\n"
            "description: Prints a large result.\n"
            "kind: exec\n"
            "exec:\n"
            "  command: [sh, -c, 'i=0; while [ $i -lt 800 ]; do echo "
            "0123456789012345678901234567890123456789012345678; "
            "i=$((i+1)); done']\n");
}

// Makes the scratch directory with the tools.
static void
s_prepare(s_ctx_t *ctx)
{
    snprintf(ctx->dir, sizeof ctx->dir, "/tmp/orcs-agent-XXXXXX");
    assert_non_null(mkdtemp(ctx->dir));
    s_tools(ctx->dir);
}

// Starts the node on the prepared directory.
static void
s_boot(s_ctx_t *ctx, const char *models_json, const char *children_json)
{
    char tools[128];
    snprintf(tools, sizeof tools, "%s/tools", ctx->dir);
    json_error_t jerr;
    json_t *models = json_loads(models_json, 0, &jerr);
    assert_non_null(models);
    json_t *extra =
        json_pack("{s:o, s:[s], s:{s:{s:[s]}}}", "models", models, "tools",
                  tools, "toolexec", "http", "allow_hosts", "127.0.0.1");
    char supervisor[4096];
    snprintf(supervisor, sizeof supervisor,
             "{\"strategy\": \"one_for_one\", \"intensity\": 10, "
             "\"period_s\": 1, \"children\": %s}",
             children_json);
    assert_int_equal(fixture_start_with(&ctx->f, supervisor, NULL, extra),
                     ORCS_OK);
}

static void
s_start(s_ctx_t *ctx, const char *models_json, const char *children_json)
{
    s_prepare(ctx);
    s_boot(ctx, models_json, children_json);
}

static void
s_stop(s_ctx_t *ctx)
{
    fixture_stop(&ctx->f);
    if (ctx->server > 0) {
        kill(ctx->server, SIGTERM);
        waitpid(ctx->server, NULL, 0);
        ctx->server = 0;
    }
    nftw(ctx->dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

// Starts fake_openai with a cassette and a request log; sets ctx->port.
static void
s_server(s_ctx_t *ctx, const char *cassette)
{
    char cassette_path[256], log_path[256];
    snprintf(cassette_path, sizeof cassette_path, "%s/%s", ctx->dir, cassette);
    snprintf(log_path, sizeof log_path, "%s/requests.log", ctx->dir);
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(ORCS_TEST_BINARY_DIR "/tests/fake_openai", "fake_openai",
              "--port", "0", "--cassette", cassette_path, "--log", log_path,
              (char *) NULL);
        _exit(127);
    }
    close(out[1]);
    char line[64] = "";
    FILE *from = fdopen(out[0], "r");
    assert_non_null(fgets(line, sizeof line, from));
    fclose(from);
    assert_int_equal(sscanf(line, "port %d", &ctx->port), 1);
    ctx->server = pid;
}

// Runs agent `name` on input; returns the reply body, status in *rc_p.
static json_t *
s_run(s_ctx_t *ctx, const char *name, const char *input, orcs_status *rc_p)
{
    return fixture_ask(&ctx->f, name, "agent.run",
                       json_pack("{s:s}", "input", input), rc_p);
}

static char *
s_child(const char *name, const char *file)
{
    char *text = malloc(512);
    snprintf(text, 512,
             "{\"name\": \"%s\", \"actor\": \"agent\", \"config\": "
             "{\"file\": \"%s\"}}",
             name, file);
    return text;
}

// ---------------------------------------------------------------------------

static void
test_agent_parallel_tools_over_http(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    s_prepare(&ctx);
    s_write(
        ctx.dir, "cassette.jsonl",
        "{\"match\": {\"turn\": 1}, \"response\": {\"tool_calls\": ["
        "{\"id\": \"c1\", \"name\": \"add\", \"arguments\": {\"a\": 1, "
        "\"b\": 2}},"
        "{\"id\": \"c2\", \"name\": \"add\", \"arguments\": {\"a\": "
        "\"x\"}},"
        "{\"id\": \"c3\", \"name\": \"slow\", \"arguments\": {\"tag\": "
        "\"one\"}},"
        "{\"id\": \"c4\", \"name\": \"slow\", \"arguments\": {\"tag\": "
        "\"two\"}}],"
        " \"usage\": {\"prompt_tokens\": 100, \"completion_tokens\": 20}}}\n"
        "{\"match\": {\"turn\": 2}, \"response\": {\"content\": \"the sum "
        "is 3\", \"usage\": {\"prompt_tokens\": 150, "
        "\"completion_tokens\": 5}}}\n");
    s_server(&ctx, "cassette.jsonl");
    s_write(ctx.dir, "adder.yaml",
            "agent: adder\n"
            "model: default\n"
            "instructions: You add numbers.\n"
            "tools: [add, slow]\n"
            "max_steps: 4\n");
    char models[256], agent[128];
    snprintf(models, sizeof models,
             "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\", "
             "\"model\": \"m\", \"retries\": 0}}",
             ctx.port);
    snprintf(agent, sizeof agent, "%s/adder.yaml", ctx.dir);
    char *child = s_child("adder", agent);
    char children[600];
    snprintf(children, sizeof children, "[%s]", child);
    free(child);
    s_boot(&ctx, models, children);

    orcs_status rc = ORCS_EINTERNAL;
    json_t *reply = s_run(&ctx, "adder", "what is 1 + 2?", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "the sum is 3");
    assert_int_equal(json_integer_value(json_object_get(reply, "steps")), 2);
    json_t *usage = json_object_get(reply, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "prompt_tokens")), 250);
    json_decref(reply);

    // What the server saw on the second turn: the four tool results, one
    // of them the validation error, and the first turn's history.
    char *log = s_read(ctx.dir, "requests.log");
    assert_non_null(log);
    char *second = strchr(log, '\n');
    assert_non_null(second);
    json_t *request = json_loads(second + 1, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(request);
    json_t *messages =
        json_object_get(json_object_get(request, "body"), "messages");
    size_t tool_messages = 0;
    bool saw_sum = false, saw_validation = false;
    size_t i;
    json_t *message;
    json_array_foreach(messages, i, message)
    {
        if (strcmp(json_string_value(json_object_get(message, "role")), "tool"))
            continue;
        tool_messages++;
        const char *content =
            json_string_value(json_object_get(message, "content"));
        const char *id =
            json_string_value(json_object_get(message, "tool_call_id"));
        if (strcmp(id, "c1") == 0)
            saw_sum = strcmp(content, "3") == 0;
        if (getenv("TEST_DEBUG"))
            fprintf(stderr, "tool %s: %s\n", id, content);
        if (strcmp(id, "c2") == 0)
            saw_validation = strstr(content, "invalid arguments") != NULL;
    }
    assert_int_equal(tool_messages, 4);
    assert_true(saw_sum);
    assert_true(saw_validation);
    // The tools were offered to the model under their wire names.
    json_t *offered =
        json_object_get(json_object_get(request, "body"), "tools");
    assert_int_equal(json_array_size(offered), 2);
    json_decref(request);
    free(log);
    // The two slow calls overlapped: the second started before the first
    // ended.
    char *slow = s_read(ctx.dir, "slow.log");
    assert_non_null(slow);
    assert_true(strncmp(slow, "start\nstart\n", 12) == 0);
    free(slow);
    s_stop(&ctx);
}

static void
test_agent_schema_repair(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    s_prepare(&ctx);
    s_write(ctx.dir, "repair.jsonl",
            "{\"match\": {\"contains\": \"fail twice\", \"turn\": 1}, "
            "\"response\": {\"content\": \"not json\"}}\n"
            "{\"match\": {\"contains\": \"fail twice\"}, "
            "\"response\": {\"content\": \"{\\\"answer\\\": 7}\"}}\n"
            "{\"match\": {\"turn\": 1}, \"response\": {\"content\": \"sure: "
            "{\\\"answer\\\": 1}\"}}\n"
            "{\"match\": {\"turn\": 2}, \"response\": {\"content\": "
            "\"```json\\n{\\\"answer\\\": \\\"ok\\\"}\\n```\"}}\n");
    s_write(ctx.dir, "typed.yaml",
            "agent: typed\n"
            "output_schema:\n"
            "  type: object\n"
            "  properties: {answer: {type: string}}\n"
            "  required: [answer]\n");
    char models[256], agent[128];
    snprintf(models, sizeof models, "{\"default\": {\"replay\": \"%s/%s\"}}",
             ctx.dir, "repair.jsonl");
    snprintf(agent, sizeof agent, "%s/typed.yaml", ctx.dir);
    char *child = s_child("typed", agent);
    char children[600];
    snprintf(children, sizeof children, "[%s]", child);
    free(child);
    s_boot(&ctx, models, children);

    orcs_status rc = ORCS_EINTERNAL;
    json_t *reply = s_run(&ctx, "typed", "answer please", &rc);
    assert_int_equal(rc, ORCS_OK);
    json_t *want = json_pack("{s:s}", "answer", "ok");
    assert_true(json_equal(json_object_get(reply, "output"), want));
    json_decref(want);
    assert_int_equal(json_integer_value(json_object_get(reply, "steps")), 2);
    json_decref(reply);

    reply = s_run(&ctx, "typed", "fail twice", &rc);
    assert_int_equal(rc, ORCS_EPROTO);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "error")),
                           "after a repair round"));
    json_decref(reply);
    s_stop(&ctx);
}

// Replays a cassette in a scratch dir of its own (s_start makes the one
// with the tools); returns the cassette's path in path.
static void
s_cassette(char *path, size_t size, const char *text)
{
    snprintf(path, size, "/tmp/orcs-cassette-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
}

static void
s_agent_file(char *path, size_t size, const char *text)
{
    snprintf(path, size, "/tmp/orcs-agentfile-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
}

// Starts a node whose default provider replays cassette, with one agent.
static void
s_start_replay(s_ctx_t *ctx,
               const char *cassette,
               const char *name,
               const char *agent_file)
{
    char models[512];
    snprintf(models, sizeof models, "{\"default\": {\"replay\": \"%s\"}}",
             cassette);
    char *child = s_child(name, agent_file);
    char children[600];
    snprintf(children, sizeof children, "[%s]", child);
    free(child);
    s_start(ctx, models, children);
}

static void
test_agent_step_limit_and_budget(void **state)
{
    (void) state;
    char cassette[64], limited[64], budgeted[64];
    s_cassette(cassette, sizeof cassette,
               "{\"match\": {}, \"response\": {\"tool_calls\": [{\"name\": "
               "\"add\", \"arguments\": {\"a\": 1, \"b\": 1}}], \"usage\": "
               "{\"prompt_tokens\": 600, \"completion_tokens\": 10}}}\n");
    s_agent_file(limited, sizeof limited,
                 "agent: looper\ntools: [add]\nmax_steps: 3\n");
    s_agent_file(budgeted, sizeof budgeted,
                 "agent: spender\ntools: [add]\nmax_steps: 50\n"
                 "budget: {max_tokens: 1000}\n");
    s_ctx_t ctx = {0};
    char models[512];
    snprintf(models, sizeof models, "{\"default\": {\"replay\": \"%s\"}}",
             cassette);
    char *a = s_child("looper", limited);
    char *b = s_child("spender", budgeted);
    char children[1200];
    snprintf(children, sizeof children, "[%s, %s]", a, b);
    free(a);
    free(b);
    s_start(&ctx, models, children);

    orcs_status rc = ORCS_OK;
    json_t *reply = s_run(&ctx, "looper", "loop forever", &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "error")),
                           "max_steps is 3"));
    assert_int_equal(json_integer_value(json_object_get(reply, "steps")), 3);
    json_decref(reply);

    reply = s_run(&ctx, "spender", "spend", &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    assert_non_null(
        strstr(json_string_value(json_object_get(reply, "error")), "budget"));
    assert_int_equal(json_integer_value(json_object_get(reply, "steps")), 2);
    json_decref(reply);
    s_stop(&ctx);
    unlink(cassette);
    unlink(limited);
    unlink(budgeted);
}

static bool
s_guard(const orcs_guard_ctx_t *ctx, void *arg, char *reason, size_t size)
{
    (void) arg;
    if (ctx->point == ORCS_GUARD_INPUT && json_is_string(ctx->subject)
        && strstr(json_string_value(ctx->subject), "forbidden")) {
        snprintf(reason, size, "no forbidden topics");
        return false;
    }
    if (ctx->point == ORCS_GUARD_TOOL_CALL
        && json_integer_value(
               json_object_get(json_object_get(ctx->subject, "args"), "a"))
               == 666) {
        snprintf(reason, size, "666 is not allowed");
        return false;
    }
    return true;
}

static void
test_agent_guardrails(void **state)
{
    (void) state;
    char cassette[64], file[64];
    s_cassette(
        cassette, sizeof cassette,
        "{\"match\": {\"turn\": 1}, \"response\": {\"tool_calls\": "
        "[{\"name\": \"add\", \"arguments\": {\"a\": 666, \"b\": 1}}]}}\n"
        "{\"match\": {\"turn\": 2}, \"response\": {\"content\": "
        "\"blocked, giving up\"}}\n");
    s_agent_file(file, sizeof file, "agent: guarded\ntools: [add]\n");
    s_ctx_t ctx = {0};
    s_start_replay(&ctx, cassette, "guarded", file);
    assert_int_equal(
        orcs_agent_guardrail_add(ctx.f.node, "test", s_guard, NULL), ORCS_OK);
    assert_int_equal(
        orcs_agent_guardrail_add(ctx.f.node, "test", s_guard, NULL),
        ORCS_EEXIST);

    orcs_status rc = ORCS_OK;
    json_t *reply = s_run(&ctx, "guarded", "something forbidden", &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "error")),
                           "no forbidden topics"));
    json_decref(reply);

    // The blocked call never ran (the add tool would have printed 667);
    // the run went on and answered.
    reply = s_run(&ctx, "guarded", "add 666 and 1", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "blocked, giving up");
    json_decref(reply);
    s_stop(&ctx);
    unlink(cassette);
    unlink(file);
}

static void
test_agent_subagent(void **state)
{
    (void) state;
    char cassette[64], child_file[64], parent_file[96];
    s_cassette(cassette, sizeof cassette,
               "{\"match\": {\"after_tool\": \"helper\"}, \"response\": "
               "{\"content\": \"parent done\", \"usage\": {\"prompt_tokens\": "
               "1, \"completion_tokens\": 1}}}\n"
               "{\"match\": {\"contains\": \"child question\"}, \"response\": "
               "{\"content\": \"child answer\", \"usage\": {\"prompt_tokens\": "
               "10, \"completion_tokens\": 10}}}\n"
               "{\"match\": {\"turn\": 1}, \"response\": {\"tool_calls\": "
               "[{\"name\": \"helper\", \"arguments\": {\"input\": \"child "
               "question\"}}], \"usage\": {\"prompt_tokens\": 100, "
               "\"completion_tokens\": 100}}}\n");
    s_agent_file(child_file, sizeof child_file,
                 "agent: helper\ndescription: Answers sub-questions.\n");
    char text[256];
    snprintf(text, sizeof text, "agent: boss\nsubagents: [%s]\n", child_file);
    s_agent_file(parent_file, sizeof parent_file, text);
    s_ctx_t ctx = {0};
    s_start_replay(&ctx, cassette, "boss", parent_file);

    orcs_status rc = ORCS_EINTERNAL;
    json_t *reply = s_run(&ctx, "boss", "delegate this", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "parent done");
    // The sub-agent's usage is summed into the parent's.
    json_t *usage = json_object_get(reply, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "prompt_tokens")), 111);
    json_decref(reply);
    s_stop(&ctx);
    unlink(cassette);
    unlink(child_file);
    unlink(parent_file);
}

static void
test_agent_cache_offload_and_reload(void **state)
{
    (void) state;
    char cassette[64], file[64];
    s_cassette(cassette, sizeof cassette,
               "{\"match\": {\"contains\": \"big\", \"turn\": 1}, "
               "\"response\": {\"tool_calls\": [{\"name\": \"big\", "
               "\"arguments\": {}}]}}\n"
               "{\"match\": {\"contains\": \"slow\", \"turn\": 1}, "
               "\"response\": {\"tool_calls\": [{\"name\": \"slow\", "
               "\"arguments\": {}}]}}\n"
               "{\"match\": {\"turn\": 1}, \"response\": {\"tool_calls\": "
               "[{\"name\": \"counted\", \"arguments\": {\"q\": \"same\"}}]}}\n"
               "{\"match\": {\"turn\": 2}, \"response\": {\"content\": "
               "\"finished\"}}\n");
    s_agent_file(file, sizeof file,
                 "agent: worker\ntools: [counted, big, slow]\n");
    s_ctx_t ctx = {0};
    s_start_replay(&ctx, cassette, "worker", file);

    // The cached tool runs once for two runs with the same arguments.
    orcs_status rc = ORCS_EINTERNAL;
    for (int i = 0; i < 2; i++) {
        json_t *reply = s_run(&ctx, "worker", "count", &rc);
        assert_int_equal(rc, ORCS_OK);
        json_decref(reply);
    }
    assert_int_equal(s_lines(ctx.dir, "counted.log"), 1);

    // A big result goes to the artifact store.
    json_t *reply = s_run(&ctx, "worker", "big", &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    orcs_artifacts_t *artifacts = orcs_artifacts_new(
        orcs_node_store(ctx.f.node), orcs_node_data_dir(ctx.f.node));
    json_t *list = NULL;
    assert_int_equal(orcs_artifacts_list(artifacts, 0, &list), ORCS_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    orcs_artifacts_destroy(&artifacts);

    // A reload that removes the tool while a call of it runs: the run
    // still finishes.
    orcs_msg_t *ask = orcs_msg_new("agent.run");
    json_t *body = json_pack("{s:s}", "input", "slow please");
    orcs_msg_set_body(ask, &body);
    assert_int_equal(orcs_client_send(ctx.f.client, "worker", &ask, 5000),
                     ORCS_OK); // a send: no reply expected
    for (int i = 0; i < 2000 && s_lines(ctx.dir, "slow.log") < 1; i++)
        usleep(5000);
    if (getenv("TEST_DEBUG")) {
        json_t *st =
            fixture_ask(&ctx.f, "toolexec", "toolexec.stats", NULL, NULL);
        char *t = json_dumps(st, 0);
        fprintf(stderr, "toolexec: %s\n", t);
        free(t);
        json_decref(st);
        st = fixture_ask(&ctx.f, "worker", "agent.stats", NULL, NULL);
        t = json_dumps(st, 0);
        fprintf(stderr, "agent: %s\n", t);
        free(t);
        json_decref(st);
    }
    char path[256];
    snprintf(path, sizeof path, "%s/tools/slow.tool.yaml", ctx.dir);
    assert_int_equal(unlink(path), 0);
    json_t *report = orcs_node_reload(ctx.f.node);
    assert_non_null(json_object_get(report, "tools"));
    json_decref(report);
    for (int i = 0; i < 2000 && s_lines(ctx.dir, "slow.log") < 2; i++)
        usleep(5000);
    assert_int_equal(s_lines(ctx.dir, "slow.log"), 2); // start and end
    // New runs no longer find it.
    reply = s_run(&ctx, "worker", "slow again", &rc);
    assert_int_equal(rc, ORCS_ECONFIG);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "error")),
                           "unknown tool 'slow'"));
    json_decref(reply);
    s_stop(&ctx);
    unlink(cassette);
    unlink(file);
}

static void
test_agent_bad_input(void **state)
{
    (void) state;
    char cassette[64], file[64];
    s_cassette(cassette, sizeof cassette,
               "{\"match\": {}, \"response\": {\"content\": \"hi\"}}\n");
    s_agent_file(file, sizeof file, "agent: plain\n");
    s_ctx_t ctx = {0};
    s_start_replay(&ctx, cassette, "plain", file);
    orcs_status rc = ORCS_OK;
    json_t *reply = fixture_ask(&ctx.f, "plain", "agent.run",
                                json_pack("{s:i}", "x", 1), &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    json_decref(reply);
    reply = s_run(&ctx, "plain", "hello", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "hi");
    json_decref(reply);
    // The control endpoint forwards asks to actors: what `orcs` commands
    // in other processes use to reach the agent.
    json_t *answer = NULL;
    json_t *ask = json_pack("{s:s, s:s, s:{s:s}, s:i}", "to", "plain", "type",
                            "agent.run", "body", "input", "via control",
                            "timeout_ms", 20000);
    assert_int_equal(
        orcs_control_request(orcs_node_control_endpoint(ctx.f.node), "ask", ask,
                             20000, &answer),
        ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(answer, "output")),
                        "hi");
    json_decref(answer);
    answer = NULL;
    json_object_set_new(ask, "to", json_string("nobody"));
    assert_int_equal(
        orcs_control_request(orcs_node_control_endpoint(ctx.f.node), "ask", ask,
                             20000, &answer),
        ORCS_ENOTFOUND);
    json_decref(answer);
    json_decref(ask);
    s_stop(&ctx);
    unlink(cassette);
    unlink(file);
}

static void
test_agent_file_errors(void **state)
{
    (void) state;
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"agent: a\ncolour: red\n", "<t>:2: colour: unknown key"},
        {"model: x\n", "missing key 'agent'"},
        {"agent: a\nmax_steps: 0\n", "<t>:2: max_steps: must be an integer"},
        {"agent: a\ntools: add\n", "<t>:2: tools: must be a list"},
        {"agent: a\noutput_schema: {type: strange}\n", "<t>:2: output_schema"},
        {"agent: a\nbudget: {max_dollars: 1}\n", "budget.max_dollars: unknown"},
        {"agent: 'a b'\n", "must be a name"},
        {"- a\n", "must be a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = NULL;
        char err[512];
        assert_int_not_equal(orcs_agent_parse(cases[i].text,
                                              strlen(cases[i].text), "<t>",
                                              NULL, &doc, err, sizeof err),
                             ORCS_OK);
        assert_null(doc);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
    }
    json_t *doc = NULL;
    char err[512];
    const char *good = "agent: ok\ntools: [add]\n";
    assert_int_equal(orcs_agent_parse(good, strlen(good), "<t>", NULL, &doc,
                                      err, sizeof err),
                     ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(doc, "max_steps")), 12);
    assert_string_equal(json_string_value(json_object_get(doc, "model")),
                        "default");
    json_decref(doc);
}

// ---------------------------------------------------------------------------
// The orchestrator's use: an actor without an agent of its own, keys,
// threads, clarify, interrupts, cancels.

// The node's own `agents` actor (no agent of its own) serves these tests.

// An ask of its own client on a thread of its own, as the orchestrator
// asks while other things happen.
typedef struct {
    orcs_client_t *client;
    json_t *body;
    json_t *reply;
    orcs_status rc;
    pthread_t thread;
} s_asker_t;

static void *
s_asker_main(void *arg)
{
    s_asker_t *a = arg;
    orcs_msg_t *msg = orcs_msg_new("agent.run");
    orcs_msg_set_body(msg, &a->body);
    orcs_msg_t *reply = NULL;
    a->rc = orcs_client_ask(a->client, "agents", &msg, FIXTURE_WAIT_MS, &reply);
    orcs_msg_destroy(&msg);
    if (a->rc == ORCS_OK) {
        a->rc = orcs_msg_status(reply);
        orcs_msg_take_body(reply, &a->reply);
    }
    orcs_msg_destroy(&reply);
    return NULL;
}

static void
s_asker_start(s_asker_t *a, s_ctx_t *ctx, json_t *body)
{
    memset(a, 0, sizeof *a);
    a->client = orcs_client_new(ctx->f.node);
    a->body = body;
    a->rc = ORCS_EINTERNAL;
    assert_int_equal(pthread_create(&a->thread, NULL, s_asker_main, a), 0);
}

static void
s_asker_join(s_asker_t *a)
{
    pthread_join(a->thread, NULL);
}

static void
s_asker_destroy(s_asker_t *a)
{
    json_decref(a->reply);
    orcs_client_destroy(&a->client);
}

// The next event whose topic ends with suffix (others are skipped).
static json_t *
s_event(s_ctx_t *ctx, const char *suffix)
{
    for (int i = 0; i < 400; i++) {
        orcs_msg_t *msg = NULL;
        if (orcs_client_recv(ctx->f.client, 50, &msg) != ORCS_OK)
            continue;
        const char *topic = orcs_msg_topic(msg);
        size_t n = strlen(topic), m = strlen(suffix);
        json_t *body = NULL;
        if (orcs_msg_kind_of(msg) == ORCS_MSG_EVENT && n >= m
            && strcmp(topic + n - m, suffix) == 0)
            orcs_msg_take_body(msg, &body);
        orcs_msg_destroy(&msg);
        if (body)
            return body;
    }
    fail_msg("no event *%s", suffix);
    return NULL;
}

static json_int_t
s_stat(s_ctx_t *ctx, const char *field)
{
    json_t *stats = fixture_ask(&ctx->f, "agents", "agent.stats", NULL, NULL);
    json_int_t value = json_integer_value(json_object_get(stats, field));
    json_decref(stats);
    return value;
}

// Starts a node with the generic agent actor whose default provider
// replays cassette (text).
static void
s_start_generic(s_ctx_t *ctx, const char *cassette_text)
{
    s_prepare(ctx);
    s_write(ctx->dir, "cassette.jsonl", "%s", cassette_text);
    char models[256];
    snprintf(models, sizeof models,
             "{\"default\": {\"replay\": \"%s/cassette.jsonl\"}}", ctx->dir);
    s_boot(ctx, models, "[]");
}

// Starts fake_openai on cassette_text and a node with the generic actor
// using it.
static void
s_start_generic_http(s_ctx_t *ctx, const char *cassette_text)
{
    s_prepare(ctx);
    s_write(ctx->dir, "cassette.jsonl", "%s", cassette_text);
    s_server(ctx, "cassette.jsonl");
    char models[256];
    snprintf(models, sizeof models,
             "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\", "
             "\"model\": \"m\", \"retries\": 0}}",
             ctx->port);
    s_boot(ctx, models, "[]");
}

static json_t *
s_agent_run(s_ctx_t *ctx, json_t *body, orcs_status *rc_p)
{
    return fixture_ask(&ctx->f, "agents", "agent.run", body, rc_p);
}

// The n-th (0-based) request fake_openai logged: its messages.
static json_t *
s_request_messages(s_ctx_t *ctx, int n)
{
    char *log = s_read(ctx->dir, "requests.log");
    assert_non_null(log);
    char *line = log;
    for (int i = 0; i < n && line; i++) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    assert_non_null(line);
    json_t *request = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
    free(log);
    assert_non_null(request);
    json_t *messages = json_incref(
        json_object_get(json_object_get(request, "body"), "messages"));
    json_decref(request);
    return messages;
}

static void
test_agent_generic_two_agents_at_once(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    s_start_generic(
        &ctx, "{\"match\": {\"contains\": \"You are alpha\"}, \"response\": "
              "{\"content\": \"alpha answer\", \"delay_ms\": 400}}\n"
              "{\"match\": {\"contains\": \"You are beta\"}, \"response\": "
              "{\"content\": \"beta answer\", \"delay_ms\": 400}}\n");
    s_write(ctx.dir, "alpha.yaml",
            "agent: alpha\ninstructions: You are alpha\n");
    s_write(ctx.dir, "beta.yaml", "agent: beta\ninstructions: You are beta\n");
    char alpha[128], beta[128];
    snprintf(alpha, sizeof alpha, "%s/alpha.yaml", ctx.dir);
    snprintf(beta, sizeof beta, "%s/beta.yaml", ctx.dir);
    assert_int_equal(orcs_client_subscribe(ctx.f.client, "run.wf-1."), ORCS_OK);

    s_asker_t a, b;
    s_asker_start(&a, &ctx,
                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "run", "wf-1", "key",
                            "wf-1/a", "node", "a", "agent", alpha, "input",
                            "go"));
    s_asker_start(&b, &ctx,
                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "run", "wf-1", "key",
                            "wf-1/b", "node", "b", "agent", beta, "input",
                            "go"));
    // Both started before either finished: they ran at once. Every event
    // names its node.
    int started = 0, finished = 0, started_before_output = 0;
    bool nodes_ok = true;
    while (finished < 2) {
        orcs_msg_t *msg = NULL;
        assert_int_equal(orcs_client_recv(ctx.f.client, FIXTURE_WAIT_MS, &msg),
                         ORCS_OK);
        const char *topic = orcs_msg_topic(msg);
        const json_t *body = NULL;
        orcs_msg_body(msg, &body);
        bool is_agent = strstr(topic, ".agent.") != NULL;
        const char *node = json_string_value(json_object_get(body, "node"));
        if (is_agent && (!node || (strcmp(node, "a") && strcmp(node, "b"))))
            nodes_ok = false;
        if (strstr(topic, "agent.started"))
            started++;
        if (strstr(topic, "agent.output")) {
            if (finished == 0)
                started_before_output = started;
            finished++;
        }
        orcs_msg_destroy(&msg);
    }
    assert_true(nodes_ok);
    assert_int_equal(started_before_output, 2);
    s_asker_join(&a);
    s_asker_join(&b);
    assert_int_equal(a.rc, ORCS_OK);
    assert_int_equal(b.rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(a.reply, "output")),
                        "alpha answer");
    assert_string_equal(json_string_value(json_object_get(b.reply, "output")),
                        "beta answer");
    assert_string_equal(json_string_value(json_object_get(b.reply, "key")),
                        "wf-1/b");
    s_asker_destroy(&a);
    s_asker_destroy(&b);
    // Usage is per run: it sums over both agents.
    json_t *usage = fixture_ask(&ctx.f, "model", "model.usage",
                                json_pack("{s:s}", "run", "wf-1"), NULL);
    assert_int_equal(json_integer_value(json_object_get(usage, "requests")), 2);
    json_decref(usage);
    assert_int_equal(s_stat(&ctx, "files"), 2);
    s_stop(&ctx);
}

static void
test_agent_generic_files(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    s_start_generic(
        &ctx, "{\"match\": {\"contains\": \"You are alpha\"}, \"response\": "
              "{\"content\": \"alpha answer\"}}\n"
              "{\"match\": {\"contains\": \"You are beta\"}, \"response\": "
              "{\"content\": \"beta answer\"}}\n");
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/agent.yaml", ctx.dir);
    snprintf(bad, sizeof bad, "%s/bad.yaml", ctx.dir);
    s_write(ctx.dir, "bad.yaml", "agent: x\ncolour: red\n");
    orcs_status rc = ORCS_OK;

    // A bad file: its file:line message.
    json_t *reply = s_agent_run(
        &ctx,
        json_pack("{s:s, s:s, s:s}", "agent", bad, "input", "x", "key", "k1"),
        &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "error")),
                           "bad.yaml:2: colour: unknown key"));
    assert_string_equal(json_string_value(json_object_get(reply, "key")), "k1");
    json_decref(reply);
    // A missing file, a relative path, no agent at all, a bad thread id.
    reply = s_agent_run(
        &ctx,
        json_pack("{s:s, s:s}", "agent", "/nonexistent/a.yaml", "input", "x"),
        &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    json_decref(reply);
    reply = s_agent_run(
        &ctx, json_pack("{s:s, s:s}", "agent", "a.yaml", "input", "x"), &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    assert_non_null(
        strstr(json_string_value(json_object_get(reply, "error")), "absolute"));
    json_decref(reply);
    reply = s_agent_run(&ctx, json_pack("{s:s}", "input", "x"), &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "error")),
                           "no agent of its own"));
    json_decref(reply);
    s_write(ctx.dir, "agent.yaml", "agent: a\ninstructions: You are alpha\n");
    reply = s_agent_run(&ctx,
                        json_pack("{s:s, s:s, s:s}", "agent", path, "input",
                                  "x", "thread", "no spaces allowed"),
                        &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    json_decref(reply);

    // Cached by path; a changed file is loaded again.
    reply = s_agent_run(
        &ctx, json_pack("{s:s, s:s}", "agent", path, "input", "x"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "alpha answer");
    json_decref(reply);
    s_write(ctx.dir, "agent.yaml",
            "agent: a\ninstructions: You are beta, really\n");
    reply = s_agent_run(
        &ctx, json_pack("{s:s, s:s}", "agent", path, "input", "x"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "beta answer");
    json_decref(reply);
    // A reload of the node reloads it too (same size and mtime restored).
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    s_write(ctx.dir, "agent.yaml",
            "agent: a\ninstructions: You are alpha really\n");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    reply = s_agent_run(
        &ctx, json_pack("{s:s, s:s}", "agent", path, "input", "x"), &rc);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "beta answer"); // still cached: nothing changed
    json_decref(reply);
    json_t *report = orcs_node_reload(ctx.f.node);
    assert_non_null(json_object_get(report, "agent.files"));
    json_decref(report);
    reply = s_agent_run(
        &ctx, json_pack("{s:s, s:s}", "agent", path, "input", "x"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "alpha answer");
    json_decref(reply);
    assert_int_equal(fixture_field(&ctx.f, "agents", "restarts"), 0);
    s_stop(&ctx);
}

typedef struct {
    json_t *entries; // [{seq, message, raw}]
    size_t prefix;
} s_thread_scan_t;

static bool
s_thread_entry(const void *key,
               size_t key_size,
               const void *value,
               size_t value_size,
               void *arg)
{
    s_thread_scan_t *scan = arg;
    assert_int_equal(key_size, scan->prefix + 8);
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = (seq << 8) | ((const uint8_t *) key)[scan->prefix + (size_t) i];
    json_t *message = NULL;
    assert_int_equal(orcs_doc_decode(value, value_size, NULL, &message),
                     ORCS_OK);
    char *raw = calloc(1, value_size * 2 + 1);
    for (size_t i = 0; i < value_size; i++)
        snprintf(raw + 2 * i, 3, "%02x", ((const uint8_t *) value)[i]);
    json_array_append_new(scan->entries,
                          json_pack("{s:I, s:o, s:s}", "seq", (json_int_t) seq,
                                    "message", message, "raw", raw));
    free(raw);
    return true;
}

// The stored entries of thread id.
static json_t *
s_thread(s_ctx_t *ctx, const char *id)
{
    orcs_store_txn_t *txn = NULL;
    assert_int_equal(orcs_store_txn_begin(orcs_node_store(ctx->f.node), &txn),
                     ORCS_OK);
    s_thread_scan_t scan = {json_array(), strlen(id) + 1};
    assert_int_equal(orcs_store_txn_scan(txn, ORCS_DB_THREADS, id,
                                         strlen(id) + 1, s_thread_entry, &scan),
                     ORCS_OK);
    orcs_store_txn_end(&txn);
    return scan.entries;
}

static const char *
s_entry(const json_t *entries, size_t i, const char *field)
{
    return json_string_value(json_object_get(
        json_object_get(json_array_get(entries, i), "message"), field));
}

static void
test_agent_thread(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    // Run 2 matches only with run 1's messages in its history (turn 2 =
    // one assistant message before).
    s_start_generic(
        &ctx, "{\"match\": {\"contains\": \"my name is Zed\", \"turn\": 2}, "
              "\"response\": {\"content\": \"You are Zed\"}}\n"
              "{\"match\": {\"contains\": \"my name is Zed\"}, \"response\": "
              "{\"content\": \"Nice to meet you\"}}\n"
              "{\"match\": {\"contains\": \"together\"}, \"response\": "
              "{\"content\": \"ok\", \"delay_ms\": 300}}\n");
    s_write(ctx.dir, "chat.yaml", "agent: chat\ninstructions: Be brief.\n");
    char path[128];
    snprintf(path, sizeof path, "%s/chat.yaml", ctx.dir);
    orcs_status rc = ORCS_EINTERNAL;

    // Without the thread, run 2's question matches nothing.
    json_t *reply = s_agent_run(
        &ctx,
        json_pack("{s:s, s:s}", "agent", path, "input", "what is my name?"),
        &rc);
    assert_int_equal(rc, ORCS_EREMOTE);
    json_decref(reply);

    reply = s_agent_run(&ctx,
                        json_pack("{s:s, s:s, s:s}", "agent", path, "thread",
                                  "T1", "input", "my name is Zed"),
                        &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "thread")),
                        "T1");
    assert_int_equal(
        json_integer_value(json_object_get(reply, "thread_messages")), 2);
    json_decref(reply);
    json_t *before = s_thread(&ctx, "T1");
    assert_int_equal(json_array_size(before), 2);

    reply = s_agent_run(&ctx,
                        json_pack("{s:s, s:s, s:s}", "agent", path, "thread",
                                  "T1", "input", "what is my name?"),
                        &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "You are Zed");
    assert_int_equal(
        json_integer_value(json_object_get(reply, "thread_messages")), 4);
    json_decref(reply);

    // In order, without the system prompt; the first two untouched.
    json_t *after = s_thread(&ctx, "T1");
    assert_int_equal(json_array_size(after), 4);
    static const char *const want[][2] = {{"user", "my name is Zed"},
                                          {"assistant", "Nice to meet you"},
                                          {"user", "what is my name?"},
                                          {"assistant", "You are Zed"}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(json_integer_value(
                             json_object_get(json_array_get(after, i), "seq")),
                         (json_int_t) i + 1);
        assert_string_equal(s_entry(after, i, "role"), want[i][0]);
        assert_string_equal(s_entry(after, i, "content"), want[i][1]);
    }
    for (size_t i = 0; i < 2; i++)
        assert_true(
            json_equal(json_array_get(before, i), json_array_get(after, i)));
    json_decref(before);
    json_decref(after);

    // Two runs appending to one thread at once: both kept, none lost.
    s_asker_t a, b;
    s_asker_start(&a, &ctx,
                  json_pack("{s:s, s:s, s:s, s:s}", "agent", path, "thread",
                            "T2", "input", "together one", "key", "k-a"));
    s_asker_start(&b, &ctx,
                  json_pack("{s:s, s:s, s:s, s:s}", "agent", path, "thread",
                            "T2", "input", "together two", "key", "k-b"));
    s_asker_join(&a);
    s_asker_join(&b);
    assert_int_equal(a.rc, ORCS_OK);
    assert_int_equal(b.rc, ORCS_OK);
    json_int_t na =
        json_integer_value(json_object_get(a.reply, "thread_messages"));
    json_int_t nb =
        json_integer_value(json_object_get(b.reply, "thread_messages"));
    assert_true((na == 2 && nb == 4) || (na == 4 && nb == 2));
    s_asker_destroy(&a);
    s_asker_destroy(&b);
    json_t *both = s_thread(&ctx, "T2");
    assert_int_equal(json_array_size(both), 4);
    assert_string_equal(s_entry(both, 0, "role"), "user");
    assert_string_equal(s_entry(both, 1, "role"), "assistant");
    assert_string_equal(s_entry(both, 2, "role"), "user");
    assert_string_equal(s_entry(both, 3, "role"), "assistant");
    assert_string_not_equal(s_entry(both, 0, "content"),
                            s_entry(both, 2, "content"));
    json_decref(both);
    s_stop(&ctx);
}

static void
test_agent_clarify(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    s_start_generic_http(
        &ctx, "{\"match\": {\"after_tool\": \"clarify\"}, \"response\": "
              "{\"content\": \"off to Paris\"}}\n"
              "{\"match\": {\"turn\": 1}, \"response\": {\"tool_calls\": "
              "[{\"id\": \"q1\", \"name\": \"clarify\", \"arguments\": "
              "{\"question\": \"Which city?\"}}]}}\n");
    s_write(ctx.dir, "trip.yaml", "agent: trip\ntools: [add]\n");
    char path[128];
    snprintf(path, sizeof path, "%s/trip.yaml", ctx.dir);
    assert_int_equal(orcs_client_subscribe(ctx.f.client, "run.wf-c."), ORCS_OK);
    s_asker_t a;
    s_asker_start(&a, &ctx,
                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "run", "wf-c",
                            "key", "wf-c/trip", "node", "trip", "agent", path,
                            "input", "plan a trip", "clarify", 1));
    json_t *event = s_event(&ctx, ".agent.clarify");
    assert_string_equal(json_string_value(json_object_get(event, "question")),
                        "Which city?");
    assert_string_equal(json_string_value(json_object_get(event, "node")),
                        "trip");
    assert_string_equal(json_string_value(json_object_get(event, "key")),
                        "wf-c/trip");
    json_decref(event);
    assert_int_equal(fixture_send(&ctx.f, "agents", "agent.interrupt",
                                  json_pack("{s:s, s:s}", "key", "wf-c/trip",
                                            "input", "Paris")),
                     ORCS_OK);
    s_asker_join(&a);
    assert_int_equal(a.rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(a.reply, "output")),
                        "off to Paris");
    // The requester was told too (run.clarify, waiting in its inbox).
    orcs_msg_t *told = NULL;
    assert_int_equal(orcs_client_recv(a.client, 1000, &told), ORCS_OK);
    assert_string_equal(orcs_msg_type(told), "run.clarify");
    const json_t *body = NULL;
    assert_int_equal(orcs_msg_body(told, &body), ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(body, "question")),
                        "Which city?");
    assert_string_equal(json_string_value(json_object_get(body, "run")),
                        "wf-c");
    orcs_msg_destroy(&told);
    s_asker_destroy(&a);
    // The model was offered clarify and then got the answer as its result.
    json_t *messages = s_request_messages(&ctx, 1);
    json_t *last = json_array_get(messages, json_array_size(messages) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "role")),
                        "tool");
    assert_string_equal(
        json_string_value(json_object_get(last, "tool_call_id")), "q1");
    assert_string_equal(json_string_value(json_object_get(last, "content")),
                        "Paris");
    json_decref(messages);
    // An interrupt for a key nobody has is counted, not fatal.
    assert_int_equal(
        fixture_send(&ctx.f, "agents", "agent.interrupt",
                     json_pack("{s:s, s:s}", "key", "nope", "input", "x")),
        ORCS_OK);
    assert_int_equal(s_stat(&ctx, "interrupts_unknown"), 1);
    assert_int_equal(s_stat(&ctx, "interrupts"), 1);
    s_stop(&ctx);
}

static void
test_agent_interrupt_queued(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    s_start_generic_http(
        &ctx, "{\"match\": {\"contains\": \"also mention cats\"}, "
              "\"response\": {\"content\": \"cats included\"}}\n"
              "{\"match\": {}, \"response\": {\"content\": \"first answer\", "
              "\"delay_ms\": 700}}\n");
    s_write(ctx.dir, "poet.yaml", "agent: poet\n");
    char path[128];
    snprintf(path, sizeof path, "%s/poet.yaml", ctx.dir);
    assert_int_equal(orcs_client_subscribe(ctx.f.client, "run.wf-i."), ORCS_OK);
    s_asker_t a;
    s_asker_start(&a, &ctx,
                  json_pack("{s:s, s:s, s:s, s:s}", "run", "wf-i", "key",
                            "wf-i/poet", "agent", path, "input",
                            "write a poem"));
    json_decref(s_event(&ctx, ".agent.started"));
    // The model is still thinking: the input waits for the next turn.
    assert_int_equal(fixture_send(&ctx.f, "agents", "agent.interrupt",
                                  json_pack("{s:s, s:s}", "key", "wf-i/poet",
                                            "input", "also mention cats")),
                     ORCS_OK);
    s_asker_join(&a);
    assert_int_equal(a.rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(a.reply, "output")),
                        "cats included");
    assert_int_equal(json_integer_value(json_object_get(a.reply, "steps")), 2);
    s_asker_destroy(&a);
    json_t *messages = s_request_messages(&ctx, 1);
    json_t *last = json_array_get(messages, json_array_size(messages) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "role")),
                        "user");
    assert_string_equal(json_string_value(json_object_get(last, "content")),
                        "also mention cats");
    json_decref(messages);
    s_stop(&ctx);
}

static void
test_agent_cancel(void **state)
{
    (void) state;
    s_ctx_t ctx = {0};
    s_start_generic(
        &ctx, "{\"match\": {\"contains\": \"take forever\"}, \"response\": "
              "{\"content\": \"too late\", \"delay_ms\": 1500}}\n"
              "{\"match\": {}, \"response\": {\"content\": \"quick\"}}\n");
    s_write(ctx.dir, "slowpoke.yaml", "agent: slowpoke\n");
    char path[128];
    snprintf(path, sizeof path, "%s/slowpoke.yaml", ctx.dir);
    assert_int_equal(orcs_client_subscribe(ctx.f.client, "run.wf-x."), ORCS_OK);
    s_asker_t a;
    s_asker_start(&a, &ctx,
                  json_pack("{s:s, s:s, s:s, s:s}", "run", "wf-x", "key",
                            "wf-x/slow", "agent", path, "input",
                            "take forever"));
    json_decref(s_event(&ctx, ".agent.started"));
    assert_int_equal(fixture_send(&ctx.f, "agents", "agent.cancel",
                                  json_pack("{s:s}", "key", "wf-x/slow")),
                     ORCS_OK);
    s_asker_join(&a);
    assert_int_equal(a.rc, ORCS_ECANCELED);
    assert_string_equal(json_string_value(json_object_get(a.reply, "error")),
                        "cancelled");
    s_asker_destroy(&a);
    assert_int_equal(s_stat(&ctx, "cancelled"), 1);
    // The cancelled run's model answer still arrives later and is dropped;
    // then the run is gone.
    int i = 0;
    while (s_stat(&ctx, "held") > 0 && i++ < 400)
        usleep(10000);
    assert_int_equal(s_stat(&ctx, "held"), 0);
    // The actor (and toolexec, sent tool.cancel) live on and serve.
    orcs_status rc = ORCS_EINTERNAL;
    json_t *reply = s_agent_run(&ctx,
                                json_pack("{s:s, s:s, s:s}", "agent", path,
                                          "input", "hi", "key", "wf-x/slow"),
                                &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "output")),
                        "quick");
    json_decref(reply);
    assert_int_equal(fixture_field(&ctx.f, "agents", "restarts"), 0);
    assert_int_equal(fixture_field(&ctx.f, "toolexec", "restarts"), 0);
    s_stop(&ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_file_errors),
        cmocka_unit_test(test_agent_bad_input),
        cmocka_unit_test(test_agent_parallel_tools_over_http),
        cmocka_unit_test(test_agent_schema_repair),
        cmocka_unit_test(test_agent_step_limit_and_budget),
        cmocka_unit_test(test_agent_guardrails),
        cmocka_unit_test(test_agent_subagent),
        cmocka_unit_test(test_agent_cache_offload_and_reload),
        cmocka_unit_test(test_agent_generic_two_agents_at_once),
        cmocka_unit_test(test_agent_generic_files),
        cmocka_unit_test(test_agent_thread),
        cmocka_unit_test(test_agent_clarify),
        cmocka_unit_test(test_agent_interrupt_queued),
        cmocka_unit_test(test_agent_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
