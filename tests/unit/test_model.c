/*  test_model.c — the model actor (the LLM gateway) against the real fake
    OpenAI server (tests/fakes/fake_openai.c, a child process on loopback):
    plain and streamed answers, parallel tool calls, retries on 429 and
    5xx, fallbacks, cut streams, malformed answers, timeouts, 200 chats at
    once, usage and budgets, rate limits, replay and record cassettes, the
    fake provider, API keys, sessions and events. No timing assertions:
    outcomes only, with generous deadlines.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "orcs/orcs.h"

extern const orcs_actor_def_t orcs__model_def;

#define S_FAKE_OPENAI ORCS_TEST_BINARY_DIR "/tests/fake_openai"

// ---------------------------------------------------------------------------
// The fake server

typedef struct {
    pid_t pid; // the server process
    int port;  // where it listens
    FILE *out; // its stdout (kept open: it may print more)
} s_server_t;

// Starts fake_openai with extra arguments (NULL-terminated, may be NULL).
static void
s_server_start(s_server_t *server, const char *const *extra)
{
    memset(server, 0, sizeof *server);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char *argv[24] = {S_FAKE_OPENAI, "--port", "0"};
    size_t argc = 3;
    for (size_t i = 0; extra && extra[i] && argc < 23; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    // fork + exec rather than posix_spawn: the server must die with us
    // even when a failed assertion skips s_server_stop.
    server->pid = fork();
    assert_true(server->pid >= 0);
    if (server->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(S_FAKE_OPENAI, (char *const *) argv);
        _exit(127);
    }
    close(fds[1]);
    server->out = fdopen(fds[0], "r");
    char line[128] = "";
    assert_non_null(fgets(line, sizeof line, server->out));
    assert_int_equal(sscanf(line, "port %d", &server->port), 1);
    assert_true(server->port > 0);
}

static void
s_server_stop(s_server_t *server)
{
    if (server->pid > 0) {
        kill(server->pid, SIGTERM);
        waitpid(server->pid, NULL, 0);
    }
    if (server->out)
        fclose(server->out);
    memset(server, 0, sizeof *server);
}

// ---------------------------------------------------------------------------
// A driver actor: fires N model.chat asks at once and counts the replies.

typedef struct {
    orcs_msg_t *pending; // the drive ask
    int left;            // replies still due
    int ok;              // replies with status OK
    int failed;          // other replies
} s_driver_t;

static orcs_status
s_driver_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) config;
    *state_p = calloc(1, sizeof(s_driver_t));
    return ORCS_OK;
}

static void
s_driver_drive(orcs_actor_t *actor, s_driver_t *self, orcs_msg_t **msg_p)
{
    const json_t *body = NULL;
    orcs_msg_body(*msg_p, &body);
    int count = (int) json_integer_value(json_object_get(body, "n"));
    const char *provider = json_string_value(json_object_get(body, "provider"));
    for (int i = 0; i < count; i++) {
        char session[64], text[64];
        snprintf(session, sizeof session, "drive-%d", i);
        snprintf(text, sizeof text, "hello %d", i);
        json_t *chat =
            json_pack("{s:s, s:s, s:i, s:{s:s, s:[{s:s, s:s}]}}", "session",
                      session, "run", "r-drive", "step", 1, "setup", "provider",
                      provider, "messages", "role", "user", "content", text);
        orcs_msg_t *msg = orcs_msg_new("model.chat");
        orcs_msg_set_body(msg, &chat);
        if (orcs_actor_ask(actor, "gw", &msg, 60000, NULL) == ORCS_OK)
            self->left++;
        else
            self->failed++;
        orcs_msg_destroy(&msg);
    }
    self->pending = *msg_p;
    *msg_p = NULL;
}

static orcs_status
s_driver_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    s_driver_t *self = state;
    orcs_msg_kind kind = orcs_msg_kind_of(*msg_p);
    if (kind == ORCS_MSG_ASK || kind == ORCS_MSG_SEND) {
        orcs_msg_destroy(&self->pending);
        self->ok = self->failed = self->left = 0;
        s_driver_drive(actor, self, msg_p);
    } else if (kind == ORCS_MSG_REPLY || kind == ORCS_MSG_TIMEOUT) {
        if (orcs_msg_status(*msg_p) == ORCS_OK)
            self->ok++;
        else
            self->failed++;
        self->left--;
    }
    if (self->pending && self->left == 0) {
        json_t *body =
            json_pack("{s:i, s:i}", "ok", self->ok, "failed", self->failed);
        orcs_msg_t *reply = orcs_msg_new("drive");
        orcs_msg_set_body(reply, &body);
        orcs_actor_reply(actor, self->pending, &reply);
        orcs_msg_destroy(&reply);
        orcs_msg_destroy(&self->pending);
    }
    return ORCS_OK;
}

static void
s_driver_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_driver_t *self = state;
    orcs_msg_destroy(&self->pending);
    free(self);
}

static const orcs_actor_def_t s_driver_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "model_driver",
    .init = s_driver_init,
    .receive = s_driver_receive,
    .terminate = s_driver_terminate,
};

static const orcs_actor_def_t *const s_kinds[] = {&orcs__model_def,
                                                  &s_driver_def, NULL};

// ---------------------------------------------------------------------------
// Helpers

// Starts a node with the model actor configured with models (JSON text,
// printf-style) and the driver. Returns the start status.
static orcs_status
s_start(fixture_t *f, const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static orcs_status
s_start(fixture_t *f, const char *extra, const char *fmt, ...)
{
    char models[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(models, sizeof models, fmt, args);
    va_end(args);
    char tree[8192];
    snprintf(tree, sizeof tree,
             "{\"children\": [{\"name\": \"gw\", \"actor\": \"model\","
             " \"config\": {\"models\": %s%s}},"
             " {\"name\": \"driver\", \"actor\": \"model_driver\"}]}",
             models, extra ? extra : "");
    return fixture_start(f, tree, s_kinds);
}

// A model.chat; returns the reply body (new reference), status in *rc_p.
static json_t *
s_chat(fixture_t *f, json_t *body, orcs_status *rc_p)
{
    return fixture_ask(f, "gw", "model.chat", body, rc_p);
}

// model.chat opening session id with one user message.
static json_t *
s_chat_setup(fixture_t *f,
             const char *session,
             const char *provider,
             const char *text,
             orcs_status *rc_p)
{
    return s_chat(f,
                  json_pack("{s:s, s:s, s:i, s:{s:s, s:[{s:s, s:s}]}}",
                            "session", session, "run", "r-1", "step", 1,
                            "setup", "provider", provider, "messages", "role",
                            "user", "content", text),
                  rc_p);
}

static const char *
s_str(const json_t *doc, const char *path)
{
    // "a.b" or "a.0.b": walks objects and arrays.
    char copy[128];
    snprintf(copy, sizeof copy, "%s", path);
    const json_t *at = doc;
    for (char *part = strtok(copy, "."); part && at; part = strtok(NULL, "."))
        at = json_is_array(at) ? json_array_get(at, (size_t) atoi(part))
                               : json_object_get(at, part);
    return json_string_value(at);
}

static json_int_t
s_int(const json_t *doc, const char *key)
{
    return json_integer_value(json_object_get(doc, key));
}

static json_t *
s_stats(fixture_t *f)
{
    orcs_status rc;
    json_t *stats = fixture_ask(f, "gw", "model.stats", NULL, &rc);
    assert_int_equal(rc, ORCS_OK);
    return stats;
}

// Has the driver fire n chats on provider at once; all must succeed.
static void
s_drive_all_ok(fixture_t *f, int n, const char *provider)
{
    orcs_status rc;
    json_t *outcome =
        fixture_ask(f, "driver", "drive",
                    json_pack("{s:i, s:s}", "n", n, "provider", provider), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(s_int(outcome, "ok"), n);
    assert_int_equal(s_int(outcome, "failed"), 0);
    json_decref(outcome);
}

// A temporary directory for cassettes; removed by s_rmdir.
static void
s_mkdir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/orcs-model-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void
s_rmdir(const char *dir)
{
    nftw(dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void
s_write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

// Starts fake_openai logging every request to log, a file in the new
// directory dir (remove it with s_rmdir).
static void
s_server_start_logged(s_server_t *server, char dir[64], char log[128])
{
    s_mkdir(dir, 64);
    snprintf(log, 128, "%s/requests.log", dir);
    s_server_start(server, (const char *[]){"--log", log, NULL});
}

// The request bodies the server logged (--log path), in order.
static json_t *
s_logged_bodies(const char *path)
{
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    json_t *bodies = json_array();
    char line[65536];
    while (fgets(line, sizeof line, file)) {
        json_t *entry = json_loads(line, 0, NULL);
        assert_non_null(entry);
        json_array_append(bodies, json_object_get(entry, "body"));
        json_decref(entry);
    }
    fclose(file);
    return bodies;
}

// The "content" of each message of a logged request, joined by "|".
static void
s_contents(const json_t *body, char *out, size_t size)
{
    out[0] = '\0';
    size_t i;
    json_t *message;
    json_array_foreach(json_object_get(body, "messages"), i, message)
    {
        const char *text =
            json_string_value(json_object_get(message, "content"));
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? "|" : "",
                 text ? text : "-");
    }
}

// ---------------------------------------------------------------------------
// Tests: answers

static void
test_model_answers_plain_and_keeps_history(void **state)
{
    (void) state;
    char dir[64], log[128];
    s_server_t server;
    s_server_start_logged(&server, dir, log);
    fixture_t f;
    assert_int_equal(s_start(&f, NULL,
                             "{\"default\": {\"base_url\": "
                             "\"http://127.0.0.1:%d/v1\", \"model\": \"m1\"}}",
                             server.port),
                     ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "ok");
    assert_string_equal(s_str(reply, "message.role"), "assistant");
    assert_string_equal(s_str(reply, "finish_reason"), "stop");
    assert_string_equal(s_str(reply, "provider"), "default");
    assert_int_equal(s_int(reply, "attempts"), 1);
    json_decref(reply);
    // The next turn sends only what is new.
    reply =
        s_chat(&f,
               json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "session", "s1", "run",
                         "r-1", "append", "role", "user", "content", "again"),
               &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "ok");
    json_decref(reply);
    json_t *stats = s_stats(&f);
    assert_int_equal(s_int(stats, "sessions"), 1);
    assert_int_equal(s_int(stats, "requests"), 2);
    assert_int_equal(s_int(stats, "in_flight"), 0);
    json_decref(stats);
    fixture_stop(&f);
    s_server_stop(&server);
    // The server got the whole history each time, written from the
    // session's kept JSON plus what was new.
    json_t *bodies = s_logged_bodies(log);
    assert_int_equal(json_array_size(bodies), 2);
    char contents[256];
    s_contents(json_array_get(bodies, 0), contents, sizeof contents);
    assert_string_equal(contents, "hi");
    s_contents(json_array_get(bodies, 1), contents, sizeof contents);
    assert_string_equal(contents, "hi|ok|again");
    assert_string_equal(s_str(json_array_get(bodies, 1), "messages.1.role"),
                        "assistant");
    assert_string_equal(s_str(json_array_get(bodies, 1), "model"), "m1");
    assert_true(
        json_is_false(json_object_get(json_array_get(bodies, 1), "stream")));
    json_decref(bodies);
    s_rmdir(dir);
}

// Sessions offering the same tools share one copy of them, and every
// request still carries them.
static void
test_model_sessions_share_tools(void **state)
{
    (void) state;
    char dir[64], log[128];
    s_server_t server;
    s_server_start_logged(&server, dir, log);
    fixture_t f;
    assert_int_equal(s_start(&f, NULL,
                             "{\"default\": {\"base_url\": "
                             "\"http://127.0.0.1:%d/v1\", \"model\": \"m1\"}}",
                             server.port),
                     ORCS_OK);
    const char *names[] = {"add", "add", "add", "mul"};
    for (int i = 0; i < 4; i++) {
        char session[16];
        snprintf(session, sizeof session, "s%d", i);
        orcs_status rc;
        json_t *reply = s_chat(
            &f,
            json_pack("{s:s, s:s, s:{s:s, s:[{s:s, s:s}], s:[{s:s, s:{s:s, "
                      "s:{s:s}}}]}}",
                      "session", session, "run", "r-1", "setup", "provider",
                      "default", "messages", "role", "user", "content", "hi",
                      "tools", "type", "function", "function", "name", names[i],
                      "parameters", "type", "object"),
            &rc);
        assert_int_equal(rc, ORCS_OK);
        json_decref(reply);
    }
    json_t *stats = s_stats(&f);
    assert_int_equal(s_int(stats, "sessions"), 4);
    assert_int_equal(s_int(stats, "tool_lists"), 2);
    json_decref(stats);
    for (int i = 0; i < 4; i++) {
        char session[16];
        snprintf(session, sizeof session, "s%d", i);
        fixture_send(&f, "gw", "model.close",
                     json_pack("{s:s}", "session", session));
    }
    stats = s_stats(&f); // after the closes: the mailbox keeps order
    assert_int_equal(s_int(stats, "sessions"), 0);
    assert_int_equal(s_int(stats, "tool_lists"), 0);
    json_decref(stats);
    fixture_stop(&f);
    s_server_stop(&server);
    json_t *bodies = s_logged_bodies(log);
    assert_int_equal(json_array_size(bodies), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(
            s_str(json_array_get(bodies, i), "tools.0.function.name"),
            names[i]);
    json_decref(bodies);
    s_rmdir(dir);
}

static void
test_model_answers_streamed(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(s_start(&f, NULL,
                             "{\"default\": {\"base_url\": "
                             "\"http://127.0.0.1:%d/v1\", \"model\": \"m1\","
                             " \"stream\": true}}",
                             server.port),
                     ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "ok");
    json_decref(reply);
    // A tool call, streamed: the server calls the first tool.
    reply = s_chat(
        &f,
        json_pack("{s:s, s:{s:[{s:s, s:s}], s:[{s:s, s:{s:s, s:{s:s}}}]}}",
                  "session", "s2", "setup", "messages", "role", "user",
                  "content", "add please", "tools", "type", "function",
                  "function", "name", "add", "parameters", "type", "object"),
        &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "finish_reason"), "tool_calls");
    assert_string_equal(s_str(reply, "message.tool_calls.0.function.name"),
                        "add");
    json_decref(reply);
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_answers_parallel_tool_calls(void **state)
{
    (void) state;
    char dir[64], path[128];
    s_mkdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/calls.jsonl", dir);
    s_write_file(
        path, "{\"match\": {}, \"response\": {\"tool_calls\": ["
              "{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}},"
              "{\"name\": \"mul\", \"arguments\": {\"a\": 3, \"b\": 4}}]}}\n");
    const char *args[] = {"--cassette", path, NULL};
    s_server_t server;
    s_server_start(&server, args);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"plain\": {\"base_url\": \"http://127.0.0.1:%d/v1\"},"
                " \"streamed\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"stream\": true}}",
                server.port, server.port),
        ORCS_OK);
    const char *providers[] = {"plain", "streamed"};
    for (int i = 0; i < 2; i++) {
        orcs_status rc;
        json_t *reply =
            s_chat_setup(&f, providers[i], providers[i], "compute", &rc);
        assert_int_equal(rc, ORCS_OK);
        json_t *calls =
            json_object_get(json_object_get(reply, "message"), "tool_calls");
        assert_int_equal(json_array_size(calls), 2);
        assert_string_equal(s_str(calls, "0.function.name"), "add");
        assert_string_equal(s_str(calls, "1.function.name"), "mul");
        json_t *arguments =
            json_loads(s_str(calls, "1.function.arguments"), 0, NULL);
        assert_int_equal(s_int(arguments, "b"), 4);
        json_decref(arguments);
        assert_non_null(s_str(calls, "0.id"));
        assert_string_not_equal(s_str(calls, "0.id"), s_str(calls, "1.id"));
        assert_string_equal(s_str(reply, "finish_reason"), "tool_calls");
        json_decref(reply);
    }
    fixture_stop(&f);
    s_server_stop(&server);
    s_rmdir(dir);
}

// ---------------------------------------------------------------------------
// Tests: failures

static void
test_model_retries_429_then_succeeds(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-429-2\", \"retries\": 2,"
                " \"backoff_ms\": 10, \"backoff_max_ms\": 2000},"
                " \"dated\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-retry-after-date\", \"retries\": 2,"
                " \"backoff_ms\": 10, \"backoff_max_ms\": 3000}}",
                server.port, server.port),
        ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(s_int(reply, "attempts"), 3);
    assert_string_equal(s_str(reply, "message.content"), "ok");
    json_decref(reply);
    // Retry-After as an HTTP-date.
    reply = s_chat_setup(&f, "s2", "dated", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(s_int(reply, "attempts"), 2);
    json_decref(reply);
    json_t *stats = s_stats(&f);
    assert_int_equal(s_int(stats, "retries"), 3);
    json_decref(stats);
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_500s_exhaust_retries(void **state)
{
    (void) state;
    char dir[64], log[128];
    s_server_t server;
    s_server_start_logged(&server, dir, log);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-500-99\", \"retries\": 2,"
                " \"backoff_ms\": 5}}",
                server.port),
        ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_EREMOTE);
    assert_non_null(strstr(s_str(reply, "error"), "HTTP 500"));
    assert_non_null(strstr(s_str(reply, "error"), "3 attempts"));
    assert_int_equal(s_int(reply, "attempts"), 3);
    json_decref(reply);
    json_t *stats = s_stats(&f);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(stats, "errors"), "EREMOTE")),
                     1);
    json_decref(stats);
    // The failed call left the session as it was: the same turn again
    // sends the same history (still one user message).
    const char *texts[] = {"again", "third"};
    for (size_t i = 0; i < 2; i++) {
        reply = s_chat(&f,
                       json_pack("{s:s, s:[{s:s, s:s}]}", "session", "s1",
                                 "append", "role", "user", "content", texts[i]),
                       &rc);
        assert_int_equal(rc, ORCS_EREMOTE);
        json_decref(reply);
    }
    fixture_stop(&f);
    s_server_stop(&server);
    // Each failed turn was taken back out of the history, also out of the
    // JSON the session keeps of it: three attempts of each turn.
    json_t *bodies = s_logged_bodies(log);
    assert_int_equal(json_array_size(bodies), 9);
    const char *expect[] = {"hi", "hi|again", "hi|third"};
    for (size_t i = 0; i < 9; i++) {
        char contents[256];
        s_contents(json_array_get(bodies, i), contents, sizeof contents);
        assert_string_equal(contents, expect[i / 3]);
    }
    json_decref(bodies);
    s_rmdir(dir);
}

static void
test_model_falls_back_to_second_provider(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"primary\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-500-99\", \"retries\": 1,"
                " \"backoff_ms\": 5, \"fallbacks\": [\"backup\"]},"
                " \"backup\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"good\"}}",
                server.port, server.port),
        ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "primary", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "provider"), "backup");
    assert_int_equal(s_int(reply, "attempts"), 3);
    assert_string_equal(s_str(reply, "message.content"), "ok");
    json_decref(reply);
    // A fallback named in the setup, with a model.
    reply =
        s_chat(&f,
               json_pack("{s:s, s:{s:s, s:s, s:[s], s:[{s:s, s:s}]}}",
                         "session", "s2", "setup", "provider", "backup",
                         "model", "fault-500-99", "fallbacks", "backup/other",
                         "messages", "role", "user", "content", "hi"),
               &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "provider"), "backup");
    json_decref(reply);
    // Every target fails: the error names the last and what came before.
    reply = s_chat(&f,
                   json_pack("{s:s, s:{s:s, s:s, s:[s], s:[{s:s, s:s}]}}",
                             "session", "s3", "setup", "provider", "backup",
                             "model", "fault-500-99", "fallbacks",
                             "primary/fault-500-98", "messages", "role", "user",
                             "content", "hi"),
                   &rc);
    assert_int_not_equal(rc, ORCS_OK);
    const char *error = s_str(reply, "error");
    assert_non_null(error);
    if (!strstr(error, "on primary/fault-500-98")
        || !strstr(error, "; before: backup/fault-500-99: "))
        fail_msg("error \"%s\" does not name both targets", error);
    json_decref(reply);
    json_t *stats = s_stats(&f);
    assert_int_equal(s_int(stats, "fallbacks"), 3);
    json_decref(stats);
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_cut_stream_is_retried_then_fails(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-disconnect\", \"stream\": true,"
                " \"retries\": 1, \"backoff_ms\": 5,"
                " \"idle_timeout_ms\": 500}}",
                server.port),
        ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    // Closed (ENET) or stalled (ETIMEDOUT, caught by idle_timeout_ms).
    assert_true(rc == ORCS_ENET || rc == ORCS_ETIMEDOUT);
    assert_int_equal(s_int(reply, "attempts"), 2);
    json_decref(reply);
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_malformed_answer_is_eproto(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"bad\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-malformed\"},"
                " \"shape\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-shape\"},"
                " \"bad_stream\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-malformed\", \"stream\": true}}",
                server.port, server.port, server.port),
        ORCS_OK);
    const char *providers[] = {"bad", "shape", "bad_stream"};
    for (int i = 0; i < 3; i++) {
        orcs_status rc;
        json_t *reply = s_chat_setup(&f, providers[i], providers[i], "hi", &rc);
        assert_int_equal(rc, ORCS_EPROTO);
        assert_true(strlen(s_str(reply, "error")) > 0);
        json_decref(reply);
    }
    // The actor is fine afterwards.
    json_t *stats = s_stats(&f);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(stats, "errors"), "EPROTO")),
                     3);
    json_decref(stats);
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_slow_answer_times_out(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-slow-5000\", \"timeout_ms\": 300,"
                " \"retries\": 0},"
                " \"idle\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-slow-5000\", \"stream\": true,"
                " \"idle_timeout_ms\": 500, \"retries\": 0}}",
                server.port, server.port),
        ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_ETIMEDOUT);
    json_decref(reply);
    reply = s_chat_setup(&f, "s2", "idle", "hi", &rc);
    assert_int_equal(rc, ORCS_ETIMEDOUT);
    json_decref(reply);
    fixture_stop(&f);
    s_server_stop(&server);
}

// ---------------------------------------------------------------------------
// Tests: load, usage, budgets, rate limits

static void
test_model_answers_200_concurrent_chats(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\", \"stream\": true}}",
                server.port),
        ORCS_OK);
    s_drive_all_ok(&f, 200, "default");
    json_t *stats = s_stats(&f);
    assert_int_equal(s_int(stats, "in_flight"), 0);
    assert_int_equal(s_int(stats, "sessions"), 200);
    json_decref(stats);
    orcs_status rc;
    json_t *usage = fixture_ask(&f, "gw", "model.usage",
                                json_pack("{s:s}", "run", "r-drive"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(s_int(usage, "requests"), 200);
    json_decref(usage);
    fixture_stop(&f);
    s_server_stop(&server);
}

// The server goes away with every kept-alive connection, and comes back
// on the same port: the dead sockets (parked in the model's epoll set) are
// dropped, and new sockets, often with the same numbers, are watched
// afresh; a socket that inherited a stale registration would never see
// its answer and the chats would fail.
static void
test_model_reconnects_after_the_server_restarts(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, (const char *[]){"--delay-ms", "200", NULL});
    int port = server.port;
    int last_opened = 0;
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\"}}",
                port),
        ORCS_OK);
    for (int round = 0; round < 4; round++) {
        if (round > 1) {
            s_server_stop(&server);
            char arg[16];
            snprintf(arg, sizeof arg, "%d", port);
            s_server_start(
                &server,
                (const char *[]){"--port", arg, "--delay-ms", "200", NULL});
            assert_int_equal(server.port, port);
        }
        s_drive_all_ok(&f, 20, "default");
        json_t *stats = s_stats(&f);
        assert_int_equal(s_int(stats, "in_flight"), 0);
        json_t *connections = json_object_get(stats, "connections");
        int opened = (int) s_int(connections, "opened");
        int closed = (int) s_int(connections, "closed");
        if (round == 0) // 20 answers held back at once: 20 connections
            assert_int_equal(opened, 20);
        if (round <= 1) // nothing died yet
            assert_int_equal(closed, 0);
        else { // the dead ones were found and closed, new ones opened
            assert_true(closed > 0);
            assert_true(opened > last_opened);
        }
        last_opened = opened;
        json_decref(stats);
    }
    fixture_stop(&f);
    s_server_stop(&server);
}

// A host name goes through curl's threaded resolver, whose socket pair
// curl watches through the same epoll set as the connections but opens
// and closes itself (such sockets are never parked). Chats by name work,
// round after round over kept-alive connections.
static void
test_model_resolves_a_host_name(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, (const char *[]){"--delay-ms", "50", NULL});
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://localhost:%d/v1\","
                " \"model\": \"m\"}}",
                server.port),
        ORCS_OK);
    for (int round = 0; round < 3; round++)
        s_drive_all_ok(&f, 40, "default");
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_stops_with_calls_in_flight(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-slow-60000\", \"stream\": true},"
                " \"limited\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\", \"rpm\": 1, \"burst\": 1}}",
                server.port, server.port),
        ORCS_OK);
    assert_int_equal(
        fixture_send(&f, "driver", "drive",
                     json_pack("{s:i, s:s}", "n", 20, "provider", "default")),
        ORCS_OK);
    bool busy = false;
    for (int i = 0; i < FIXTURE_WAIT_MS / 10 && !busy; i++) {
        json_t *stats = s_stats(&f);
        busy = s_int(stats, "in_flight") == 20;
        json_decref(stats);
        if (!busy)
            usleep(10000);
    }
    assert_true(busy);
    // Calls waiting for a rate bucket too.
    assert_int_equal(
        fixture_send(&f, "driver", "drive",
                     json_pack("{s:i, s:s}", "n", 5, "provider", "limited")),
        ORCS_OK);
    busy = false;
    for (int i = 0; i < FIXTURE_WAIT_MS / 10 && !busy; i++) {
        json_t *stats = s_stats(&f);
        busy = s_int(stats, "rate_limited") >= 4;
        json_decref(stats);
        if (!busy)
            usleep(10000);
    }
    assert_true(busy);
    // Teardown cancels the transfers and frees everything (ASan checks).
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_sums_usage_and_cost_per_run(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\", \"prices\": {\"input_per_mtok\": 1000,"
                " \"output_per_mtok\": 3000}}}",
                server.port),
        ORCS_OK);
    json_int_t prompt = 0, completion = 0;
    double cost = 0;
    for (int i = 0; i < 3; i++) {
        orcs_status rc;
        char session[16];
        snprintf(session, sizeof session, "s%d", i);
        json_t *reply = s_chat_setup(&f, session, "default", "hi", &rc);
        assert_int_equal(rc, ORCS_OK);
        json_t *usage = json_object_get(reply, "usage");
        json_int_t p = s_int(usage, "prompt_tokens");
        json_int_t c = s_int(usage, "completion_tokens");
        double expect = p * 1000 / 1e6 + c * 3000 / 1e6;
        assert_true(
            fabs(json_number_value(json_object_get(reply, "cost")) - expect)
            < 1e-9);
        prompt += p;
        completion += c;
        cost += expect;
        json_decref(reply);
    }
    orcs_status rc;
    json_t *usage = fixture_ask(&f, "gw", "model.usage",
                                json_pack("{s:s}", "run", "r-1"), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(s_int(usage, "prompt_tokens"), prompt);
    assert_int_equal(s_int(usage, "completion_tokens"), completion);
    assert_int_equal(s_int(usage, "requests"), 3);
    assert_true(fabs(json_number_value(json_object_get(usage, "cost")) - cost)
                < 1e-9);
    json_decref(usage);
    // An unknown run has zeros.
    usage = fixture_ask(&f, "gw", "model.usage",
                        json_pack("{s:s}", "run", "nope"), &rc);
    assert_int_equal(s_int(usage, "requests"), 0);
    json_decref(usage);
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_budget_exceeded_is_denied(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\"}}",
                server.port),
        ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat(
        &f,
        json_pack("{s:s, s:s, s:{s:{s:i}, s:[{s:s, s:s}]}}", "session", "s1",
                  "run", "r-budget", "setup", "budget", "max_tokens", 1,
                  "messages", "role", "user", "content", "hi"),
        &rc);
    assert_int_equal(rc, ORCS_OK); // under budget when it started
    assert_non_null(s_str(reply, "message.content"));
    json_decref(reply);
    reply = s_chat(&f,
                   json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "session", "s1",
                             "run", "r-budget", "append", "role", "user",
                             "content", "more"),
                   &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    assert_non_null(strstr(s_str(reply, "error"), "budget exceeded"));
    assert_non_null(strstr(s_str(reply, "error"), "max_tokens 1"));
    json_decref(reply);
    // max_requests too.
    reply = s_chat(&f,
                   json_pack("{s:s, s:s, s:{s:{s:i}, s:[{s:s, s:s}]}}",
                             "session", "s2", "run", "r-requests", "setup",
                             "budget", "max_requests", 1, "messages", "role",
                             "user", "content", "hi"),
                   &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    reply = s_chat(
        &f, json_pack("{s:s, s:s}", "session", "s2", "run", "r-requests"), &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    assert_non_null(strstr(s_str(reply, "error"), "max_requests"));
    json_decref(reply);
    fixture_stop(&f);
    s_server_stop(&server);
}

static void
test_model_rpm_limit_queues_not_fails(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\", \"rpm\": 1200, \"burst\": 1}}",
                server.port),
        ORCS_OK);
    s_drive_all_ok(&f, 6, "default");
    json_t *stats = s_stats(&f);
    assert_true(s_int(stats, "rate_limited") >= 1);
    assert_int_equal(json_object_size(json_object_get(stats, "errors")), 0);
    json_decref(stats);
    fixture_stop(&f);
    s_server_stop(&server);
}

// ---------------------------------------------------------------------------
// Tests: replay, record, fake

static void
test_model_replays_cassette(void **state)
{
    (void) state;
    char dir[64], path[128];
    s_mkdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/tape.jsonl", dir);
    s_write_file(
        path,
        "# a comment\n"
        "{\"match\": {\"contains\": \"capital\"}, \"response\": {\"content\":"
        " \"Paris\", \"usage\": {\"prompt_tokens\": 7, \"completion_tokens\":"
        " 1}}}\n"
        "{\"match\": {\"contains\": \"stream me\"}, \"response\": {\"content\":"
        " \"streamed words here\", \"stream\": true}}\n"
        "{\"match\": {\"contains\": \"slowly\"}, \"response\": {\"content\":"
        " \"late\", \"delay_ms\": 50}}\n"
        "{\"match\": {\"contains\": \"tools\"}, \"response\": {\"tool_calls\":"
        " [{\"name\": \"add\", \"arguments\": {\"a\": 1}}], \"stream\": "
        "true}}\n");
    fixture_t f;
    char extra[128];
    snprintf(extra, sizeof extra, ", \"config_dir\": \"%s\"", dir);
    assert_int_equal(
        s_start(&f, extra, "{\"offline\": {\"replay\": \"tape.jsonl\"}}"),
        ORCS_OK);
    orcs_status rc;
    json_t *reply =
        s_chat_setup(&f, "a", "offline", "the capital of France?", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "Paris");
    assert_int_equal(s_int(json_object_get(reply, "usage"), "prompt_tokens"),
                     7);
    json_decref(reply);
    reply = s_chat_setup(&f, "b", "offline", "please stream me", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "streamed words here");
    json_decref(reply);
    reply = s_chat_setup(&f, "c", "offline", "answer slowly", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "late");
    json_decref(reply);
    reply = s_chat_setup(&f, "d", "offline", "use tools", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.tool_calls.0.function.name"),
                        "add");
    json_decref(reply);
    reply = s_chat_setup(&f, "e", "offline", "something else", &rc);
    assert_int_not_equal(rc, ORCS_OK);
    assert_int_not_equal(rc, ORCS_ENOTFOUND); // that would mean "resync"
    assert_non_null(strstr(s_str(reply, "error"), "tape.jsonl"));
    json_decref(reply);
    fixture_stop(&f);
    s_rmdir(dir);
}

static void
test_model_records_a_cassette_that_replays(void **state)
{
    (void) state;
    char dir[64];
    s_mkdir(dir, sizeof dir);
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    char extra[128];
    snprintf(extra, sizeof extra, ", \"config_dir\": \"%s\"", dir);
    assert_int_equal(
        s_start(&f, extra,
                "{\"live\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\", \"record\": \"out.jsonl\"}}",
                server.port),
        ORCS_OK);
    // Turn 1: a tool call; turn 2 (after the tool result): text.
    const char *tools = "[{\"type\": \"function\", \"function\": {\"name\":"
                        " \"add\", \"parameters\": {\"type\": \"object\"}}}]";
    json_t *recorded[2] = {NULL, NULL};
    orcs_status rc;
    recorded[0] =
        s_chat(&f,
               json_pack("{s:s, s:{s:s, s:o, s:[{s:s, s:s}]}}", "session", "s1",
                         "setup", "provider", "live", "tools",
                         json_loads(tools, 0, NULL), "messages", "role", "user",
                         "content", "add two numbers"),
               &rc);
    assert_int_equal(rc, ORCS_OK);
    const char *call_id = s_str(recorded[0], "message.tool_calls.0.id");
    assert_non_null(call_id);
    recorded[1] = s_chat(&f,
                         json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "session",
                                   "s1", "append", "role", "tool",
                                   "tool_call_id", call_id, "content", "3"),
                         &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(recorded[1], "message.content"), "ok");
    fixture_stop(&f);
    s_server_stop(&server);
    // The same conversation, replayed without a server.
    assert_int_equal(
        s_start(&f, extra, "{\"tape\": {\"replay\": \"out.jsonl\"}}"), ORCS_OK);
    json_t *reply =
        s_chat(&f,
               json_pack("{s:s, s:{s:s, s:o, s:[{s:s, s:s}]}}", "session", "s1",
                         "setup", "provider", "tape", "tools",
                         json_loads(tools, 0, NULL), "messages", "role", "user",
                         "content", "add two numbers"),
               &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_true(json_equal(json_object_get(reply, "message"),
                           json_object_get(recorded[0], "message")));
    json_decref(reply);
    reply = s_chat(&f,
                   json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "session", "s1",
                             "append", "role", "tool", "tool_call_id", call_id,
                             "content", "3"),
                   &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "ok");
    json_decref(reply);
    json_decref(recorded[0]);
    json_decref(recorded[1]);
    fixture_stop(&f);
    s_rmdir(dir);
}

static void
test_model_fake_provider_calls_then_finishes(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"bench\": {\"fake\": {\"tool\": \"memory.get\","
                " \"turns\": 2}, \"prices\": {\"input_per_mtok\": 1e6}}}"),
        ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "bench", "go", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.tool_calls.0.function.name"),
                        "memory_get");
    assert_string_equal(s_str(reply, "message.tool_calls.0.id"), "call_0");
    assert_string_equal(s_str(reply, "message.tool_calls.0.function.arguments"),
                        "{}");
    assert_int_equal(s_int(json_object_get(reply, "usage"), "prompt_tokens"),
                     10);
    assert_int_equal(
        s_int(json_object_get(reply, "usage"), "completion_tokens"), 5);
    assert_true(fabs(json_number_value(json_object_get(reply, "cost")) - 10)
                < 1e-9);
    json_decref(reply);
    json_t *append =
        json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "session", "s1", "append",
                  "role", "tool", "tool_call_id", "call_0", "content", "1");
    reply = s_chat(&f, append, &rc);
    assert_string_equal(s_str(reply, "message.tool_calls.0.id"), "call_1");
    json_decref(reply);
    append =
        json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "session", "s1", "append",
                  "role", "tool", "tool_call_id", "call_1", "content", "2");
    reply = s_chat(&f, append, &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "message.content"), "done");
    assert_string_equal(s_str(reply, "finish_reason"), "stop");
    json_decref(reply);
    json_t *usage = fixture_ask(&f, "gw", "model.usage",
                                json_pack("{s:s}", "run", "r-1"), &rc);
    assert_int_equal(s_int(usage, "prompt_tokens"), 30);
    assert_int_equal(s_int(usage, "requests"), 3);
    json_decref(usage);
    fixture_stop(&f);
}

// ---------------------------------------------------------------------------
// Tests: keys and config

static pthread_mutex_t s_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_log_text[1 << 16];
static size_t s_log_size;

static void
s_log_sink(orcs_log_level level,
           const char *component,
           const char *line,
           void *arg)
{
    (void) level;
    (void) arg;
    pthread_mutex_lock(&s_log_lock);
    int n = snprintf(s_log_text + s_log_size, sizeof s_log_text - s_log_size,
                     "%s %s\n", component, line);
    if (n > 0 && s_log_size + (size_t) n < sizeof s_log_text)
        s_log_size += (size_t) n;
    pthread_mutex_unlock(&s_log_lock);
}

static void
test_model_sends_key_from_env_and_never_logs_it(void **state)
{
    (void) state;
    const char *key = "sk-test-0123456789-secret";
    setenv("ORCS_TEST_MODEL_KEY", key, 1);
    setenv("ORCS_TEST_WRONG_KEY", "sk-wrong", 1);
    const char *args[] = {"--key", key, NULL};
    s_server_t server;
    s_server_start(&server, args);
    s_log_size = 0;
    s_log_text[0] = 0;
    orcs_log_set_sink(s_log_sink, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\", \"api_key_env\": \"ORCS_TEST_MODEL_KEY\"},"
                " \"wrong\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"m\", \"api_key_env\": \"ORCS_TEST_WRONG_KEY\"},"
                " \"unset\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"api_key_env\": \"ORCS_TEST_UNSET_KEY\"}}",
                server.port, server.port, server.port),
        ORCS_OK);
    orcs_log_level_set(ORCS_LOG_DEBUG);
    orcs_status rc;
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    reply = s_chat_setup(&f, "s2", "wrong", "hi", &rc);
    assert_int_equal(rc, ORCS_EREMOTE);
    assert_non_null(strstr(s_str(reply, "error"), "HTTP 401"));
    json_decref(reply);
    reply = s_chat_setup(&f, "s3", "unset", "hi", &rc);
    assert_int_equal(rc, ORCS_ECONFIG);
    assert_non_null(strstr(s_str(reply, "error"), "ORCS_TEST_UNSET_KEY"));
    json_decref(reply);
    fixture_stop(&f);
    orcs_log_level_set(ORCS_LOG_ERROR);
    orcs_log_set_sink(NULL, NULL);
    pthread_mutex_lock(&s_log_lock);
    assert_true(s_log_size > 0); // the debug lines were there
    assert_null(strstr(s_log_text, key));
    assert_null(strstr(s_log_text, "sk-wrong"));
    pthread_mutex_unlock(&s_log_lock);
    s_server_stop(&server);
    unsetenv("ORCS_TEST_MODEL_KEY");
    unsetenv("ORCS_TEST_WRONG_KEY");
}

static void
test_model_refuses_bad_config(void **state)
{
    (void) state;
    const char *bad[] = {
        "{\"default\": {\"base_url\": \"http://127.0.0.1:1/v1\","
        " \"api_key\": \"sk-inline\"}}",
        "{\"default\": {\"base_url\": \"http://127.0.0.1:1/v1\","
        " \"colour\": \"blue\"}}",
        "{\"default\": {\"base_url\": \"http://127.0.0.1:1/v1\","
        " \"retries\": \"many\"}}",
        "{\"default\": {\"base_url\": \"ftp://127.0.0.1:1/v1\"}}",
        "{\"default\": {\"base_url\": \"http://127.0.0.1:1/v1\","
        " \"fallbacks\": [\"nowhere\"]}}",
        "{\"default\": {\"replay\": \"/nonexistent/tape.jsonl\"}}",
        "{\"default\": {\"fake\": {\"tool\": \"x\"}}}",
        "{\"default\": {}}",
    };
    const char *says[] = {"api_key_env", "colour", "retries", "base_url",
                          "nowhere",     "replay", "fake",    "base_url"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fixture_t f;
        orcs_status rc = s_start(&f, NULL, "%s", bad[i]);
        assert_int_not_equal(rc, ORCS_OK);
        char err[1024];
        orcs_node_error(f.node, err, sizeof err);
        if (!strstr(err, says[i]))
            fail_msg("config %zu: error \"%s\" does not name %s", i, err,
                     says[i]);
        fixture_stop(&f);
    }
}

static void
test_model_env_sets_default_provider(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", server.port);
    setenv("ORCS_MODEL_URL", url, 1);
    setenv("ORCS_MODEL", "env-model", 1);
    fixture_t f;
    assert_int_equal(s_start(&f, NULL, "{}"), ORCS_OK);
    orcs_status rc;
    json_t *reply =
        s_chat(&f,
               json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "session", "s1", "setup",
                         "messages", "role", "user", "content", "hi"),
               &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_string_equal(s_str(reply, "provider"), "default");
    json_decref(reply);
    fixture_stop(&f);
    unsetenv("ORCS_MODEL_URL");
    unsetenv("ORCS_MODEL");
    s_server_stop(&server);
}

// ---------------------------------------------------------------------------
// Tests: sessions and events

static void
test_model_unknown_session_needs_setup(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(s_start(&f, ", \"session_idle_ms\": 200",
                             "{\"default\": {\"fake\": {\"tool\": \"t\","
                             " \"turns\": 0}}}"),
                     ORCS_OK);
    orcs_status rc;
    json_t *reply = s_chat(&f,
                           json_pack("{s:s, s:[{s:s, s:s}]}", "session", "nope",
                                     "append", "role", "user", "content", "hi"),
                           &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    assert_non_null(strstr(s_str(reply, "error"), "setup"));
    json_decref(reply);
    // Setup with the whole history resyncs.
    reply =
        s_chat(&f,
               json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "session", "nope",
                         "setup", "messages", "role", "user", "content", "hi"),
               &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    reply = s_chat(&f, json_pack("{s:s}", "session", "nope"), &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    // model.close drops it.
    assert_int_equal(fixture_send(&f, "gw", "model.close",
                                  json_pack("{s:s}", "session", "nope")),
                     ORCS_OK);
    reply = s_chat(&f, json_pack("{s:s}", "session", "nope"), &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    json_decref(reply);
    // An idle session is dropped by the sweep.
    reply = s_chat_setup(&f, "idle", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    bool dropped = false;
    for (int i = 0; i < FIXTURE_WAIT_MS / 50 && !dropped; i++) {
        json_t *stats = s_stats(&f);
        dropped = s_int(stats, "sessions") == 0;
        json_decref(stats);
        if (!dropped)
            usleep(50000);
    }
    assert_true(dropped);
    // A bad request is refused, not fatal.
    reply = s_chat(&f, json_pack("{s:i}", "session", 5), &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    json_decref(reply);
    reply = s_chat(&f,
                   json_pack("{s:s, s:{s:s}}", "session", "x", "setup",
                             "provider", "nowhere"),
                   &rc);
    assert_int_equal(rc, ORCS_ECONFIG);
    assert_non_null(strstr(s_str(reply, "error"), "nowhere"));
    json_decref(reply);
    fixture_stop(&f);
}

static void
test_model_publishes_run_events(void **state)
{
    (void) state;
    s_server_t server;
    s_server_start(&server, NULL);
    fixture_t f;
    assert_int_equal(
        s_start(&f, NULL,
                "{\"default\": {\"base_url\": \"http://127.0.0.1:%d/v1\","
                " \"model\": \"fault-429-1\", \"backoff_ms\": 5},"
                " \"warm\": {\"fake\": {\"tool\": \"t\", \"turns\": 0},"
                " \"events\": true}}",
                server.port),
        ORCS_OK);
    assert_int_equal(orcs_client_subscribe(f.client, "run.r-"), ORCS_OK);
    // A new subscriber misses events until the subscription has reached
    // the publisher (pub/sub): chat on a warm-up run until one arrives.
    orcs_status rc;
    bool warm = false;
    for (int i = 0; i < 200 && !warm; i++) {
        json_t *reply =
            s_chat(&f,
                   json_pack("{s:s, s:s, s:{s:s, s:[{s:s, s:s}]}}", "session",
                             "w", "run", "r-warm", "setup", "provider", "warm",
                             "messages", "role", "user", "content", "hi"),
                   &rc);
        json_decref(reply);
        orcs_msg_t *event = NULL;
        warm = orcs_client_recv(f.client, 100, &event) == ORCS_OK;
        orcs_msg_destroy(&event);
    }
    assert_true(warm);
    json_t *reply = s_chat_setup(&f, "s1", "default", "hi", &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    bool started = false, retry = false, finished = false;
    for (int i = 0; i < 1000 && !finished; i++) {
        orcs_msg_t *event = NULL;
        if (orcs_client_recv(f.client, FIXTURE_WAIT_MS, &event) != ORCS_OK)
            break;
        const char *topic = orcs_msg_topic(event);
        if (strncmp(topic, "run.r-1.", 8) == 0) {
            const json_t *body = NULL;
            orcs_msg_body(event, &body);
            assert_string_equal(s_str(body, "session"), "s1");
        }
        started = started || strcmp(topic, "run.r-1.model.started") == 0;
        if (strcmp(topic, "run.r-1.model.retry") == 0) {
            const json_t *body = NULL;
            orcs_msg_body(event, &body);
            // Retry-After: 1 wins over the 5 ms backoff.
            assert_int_equal(s_int(body, "wait_ms"), 1000);
            assert_int_equal(s_int(body, "attempt"), 2);
            retry = true;
        }
        finished = finished || strcmp(topic, "run.r-1.model.finished") == 0;
        orcs_msg_destroy(&event);
    }
    assert_true(started);
    assert_true(retry);
    assert_true(finished);
    fixture_stop(&f);
    s_server_stop(&server);
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1) // a test name pattern, for debugging one test
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_answers_plain_and_keeps_history),
        cmocka_unit_test(test_model_sessions_share_tools),
        cmocka_unit_test(test_model_answers_streamed),
        cmocka_unit_test(test_model_answers_parallel_tool_calls),
        cmocka_unit_test(test_model_retries_429_then_succeeds),
        cmocka_unit_test(test_model_500s_exhaust_retries),
        cmocka_unit_test(test_model_falls_back_to_second_provider),
        cmocka_unit_test(test_model_cut_stream_is_retried_then_fails),
        cmocka_unit_test(test_model_malformed_answer_is_eproto),
        cmocka_unit_test(test_model_slow_answer_times_out),
        cmocka_unit_test(test_model_answers_200_concurrent_chats),
        cmocka_unit_test(test_model_reconnects_after_the_server_restarts),
        cmocka_unit_test(test_model_resolves_a_host_name),
        cmocka_unit_test(test_model_stops_with_calls_in_flight),
        cmocka_unit_test(test_model_sums_usage_and_cost_per_run),
        cmocka_unit_test(test_model_budget_exceeded_is_denied),
        cmocka_unit_test(test_model_rpm_limit_queues_not_fails),
        cmocka_unit_test(test_model_replays_cassette),
        cmocka_unit_test(test_model_records_a_cassette_that_replays),
        cmocka_unit_test(test_model_fake_provider_calls_then_finishes),
        cmocka_unit_test(test_model_sends_key_from_env_and_never_logs_it),
        cmocka_unit_test(test_model_refuses_bad_config),
        cmocka_unit_test(test_model_env_sets_default_provider),
        cmocka_unit_test(test_model_unknown_session_needs_setup),
        cmocka_unit_test(test_model_publishes_run_events),
    };
    return cmocka_run_group_tests_name("orcs_model", tests, NULL, NULL);
}
