/*  test_agent.c — agent runs end to end: a real node with the model and
    toolexec actors, real tool processes, replay cassettes and the fake
    OpenAI server over HTTP on loopback.
    SPDX-License-Identifier: MPL-2.0 */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
