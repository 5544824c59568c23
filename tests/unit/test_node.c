/*  test_node.c — nodes: plug-in actors, children in their own processes
    (segfault and kill -9), start errors, one node per data directory,
    root failure, requested stop.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>

#include "fixture.h"
#include "internal.h"

#define PLUGIN ORCS_TEST_BINARY_DIR "/examples/custom_actor/libgreeter.so"

static void
test_node_loads_plugin_actor(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(
        fixture_start(
            &f,
            "{\"children\": [{\"name\": \"greeter\", \"actor\": \"" PLUGIN
            "\", \"config\": {\"greeting\": \"hi\"}}]}",
            NULL),
        ORCS_OK);
    json_t *reply = fixture_ask(&f, "greeter", "greet",
                                json_pack("{s:s}", "name", "Ada"), NULL);
    assert_non_null(reply);
    assert_string_equal(json_string_value(json_object_get(reply, "text")),
                        "hi, Ada");
    json_decref(reply);
    json_t *actor = fixture_actor(&f, "greeter");
    assert_string_equal(json_string_value(json_object_get(actor, "kind")),
                        PLUGIN);
    json_decref(actor);
    fixture_stop(&f);
}

static void
test_node_refuses_bad_plugin(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(
        fixture_start(&f,
                      "{\"children\": [{\"name\": \"x\", \"actor\": "
                      "\"/nonexistent/libnothing.so\"}]}",
                      NULL),
        ORCS_ECONFIG);
    char err[512];
    assert_non_null(
        strstr(orcs_node_error(f.node, err, sizeof err), "libnothing.so"));
    fixture_stop(&f);
    // A shared object without the entry point.
    assert_int_equal(
        fixture_start(&f,
                      "{\"children\": [{\"name\": \"x\", \"actor\": "
                      "\"libm.so.6\"}]}",
                      NULL),
        ORCS_ECONFIG);
    fixture_stop(&f);
}

static void
test_node_unknown_kind_is_a_config_error(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(fixture_start(&f,
                                   "{\"children\": [{\"name\": \"x\", "
                                   "\"actor\": \"no-such-kind\"}]}",
                                   NULL),
                     ORCS_ECONFIG);
    char err[512];
    orcs_node_error(f.node, err, sizeof err);
    assert_non_null(strstr(err, "no-such-kind"));
    assert_non_null(strstr(err, "child x"));
    fixture_stop(&f);
}

static void
test_node_init_failure_stops_start(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(fixture_start(&f,
                                   "{\"children\": [{\"name\": \"x\", "
                                   "\"actor\": \"echo\", \"config\": "
                                   "{\"fail_init\": true}}]}",
                                   NULL),
                     ORCS_EFAILED);
    fixture_stop(&f);
}

static void
test_node_one_node_per_data_dir(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(fixture_start(&f, "{\"children\": []}", NULL), ORCS_OK);
    orcs_node_t *second = orcs_node_new();
    json_t *config = json_pack("{s:s, s:s}", "node", "second", "data", f.data);
    assert_int_equal(orcs_node_configure(second, config, NULL), ORCS_OK);
    json_decref(config);
    assert_int_equal(orcs_node_start(second), ORCS_EIO);
    char err[512];
    assert_non_null(
        strstr(orcs_node_error(second, err, sizeof err), "another node"));
    orcs_node_destroy(&second);
    assert_null(second);
    orcs_node_destroy(&second); // idempotent
    fixture_stop(&f);
}

// Pings a child process that may have just been restarted. A message sent
// while the old process's connection is still being torn down is lost
// with it (as messages to any dead process are), so retry a few times.
static int
s_ping_process(fixture_t *f, const char *name)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        orcs_msg_t *msg = orcs_msg_new("ping");
        orcs_msg_t *reply = NULL;
        orcs_status rc = orcs_client_ask(f->client, name, &msg, 2000, &reply);
        orcs_msg_destroy(&msg);
        const json_t *body = NULL;
        int incarnation = -1;
        if (rc == ORCS_OK && orcs_msg_body(reply, &body) == ORCS_OK)
            incarnation =
                (int) json_integer_value(json_object_get(body, "incarnation"));
        orcs_msg_destroy(&reply);
        if (incarnation > 0)
            return incarnation;
    }
    return -1;
}

static int
s_pid_of(fixture_t *f, const char *name)
{
    json_t *reply = fixture_ask(f, name, "ping", NULL, NULL);
    int pid =
        reply ? (int) json_integer_value(json_object_get(reply, "pid")) : -1;
    json_decref(reply);
    return pid;
}

static void
test_node_process_child_restarts_after_segfault_and_kill(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(fixture_start(&f,
                                   "{\"intensity\": 10, \"children\": ["
                                   " {\"name\": \"iso\", \"actor\": \"echo\","
                                   "  \"process\": true},"
                                   " {\"name\": \"plug\", \"actor\": \"" PLUGIN
                                   "\", \"process\": true}]}",
                                   NULL),
                     ORCS_OK);
    int pid = s_pid_of(&f, "iso");
    assert_true(pid > 0);
    assert_int_not_equal(pid, getpid());
    assert_int_equal(fixture_ping(&f, "iso"), 1);
    // Segfault on command: only the child process dies.
    assert_int_equal(fixture_send(&f, "iso", "crash", NULL), ORCS_OK);
    assert_true(fixture_wait_field(&f, "iso", "restarts", 1));
    assert_int_equal(s_ping_process(&f, "iso"), 2);
    int pid2 = s_pid_of(&f, "iso");
    assert_true(pid2 > 0 && pid2 != pid);
    json_t *actor = fixture_actor(&f, "iso");
    const char *why = json_string_value(json_object_get(actor, "last_error"));
    assert_true(strstr(why, "signal") || strstr(why, "exited with code"));
    json_decref(actor);
    // kill -9 from outside.
    assert_int_equal(kill(pid2, SIGKILL), 0);
    assert_true(fixture_wait_field(&f, "iso", "restarts", 2));
    assert_int_equal(s_ping_process(&f, "iso"), 3);
    actor = fixture_actor(&f, "iso");
    assert_non_null(strstr(
        json_string_value(json_object_get(actor, "last_error")), "signal 9"));
    json_decref(actor);
    // A plug-in actor in a child process answers too.
    json_t *reply = fixture_ask(&f, "plug", "greet",
                                json_pack("{s:s}", "name", "Bo"), NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "text")),
                        "hello, Bo");
    json_decref(reply);
    fixture_stop(&f);
}

static void *
s_stop_later(void *arg)
{
    fixture_t *f = arg;
    assert_int_equal(fixture_ping(f, "echo"), 1);
    orcs_node_request_stop(f->node);
    return NULL;
}

static void
test_node_run_returns_ok_on_requested_stop(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(fixture_start(&f,
                                   "{\"children\": [{\"name\": \"echo\", "
                                   "\"actor\": \"echo\"}]}",
                                   NULL),
                     ORCS_OK);
    pthread_t thread;
    pthread_create(&thread, NULL, s_stop_later, &f);
    assert_int_equal(orcs_node_run(f.node), ORCS_OK);
    pthread_join(thread, NULL);
    fixture_stop(&f);
}

static void
test_node_run_fails_when_root_gives_up(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(fixture_start(&f,
                                   "{\"intensity\": 1, \"period_s\": 60, "
                                   "\"children\": [{\"name\": \"flaky\", "
                                   "\"actor\": \"flaky\", \"config\": "
                                   "{\"tick_ms\": 1, \"fail_every\": 2}}]}",
                                   NULL),
                     ORCS_OK);
    assert_int_equal(orcs_node_run(f.node), ORCS_EFAILED);
    char err[512];
    orcs_node_error(f.node, err, sizeof err);
    assert_non_null(strstr(err, "root supervisor failed"));
    assert_non_null(strstr(err, "reached max restart intensity"));
    fixture_stop(&f);
}

// Whether an event has a subscriber: a subscribed prefix of its topic,
// with a few subscriptions (compared one by one) and with many (each
// prefix of the topic looked up).
static void
test_node_knows_subscribers_by_prefix(void **state)
{
    (void) state;
    orcs_runtime_init();
    orcs_node_t *node = orcs_node_new();
    assert_false(orcs__node_has_subscriber(node, "run.a.node.status"));
    orcs__node_sub_add(node, "run.a.");
    assert_true(orcs__node_has_subscriber(node, "run.a.node.status"));
    assert_true(orcs__node_has_subscriber(node, "run.a."));
    assert_false(orcs__node_has_subscriber(node, "run.a"));
    assert_false(orcs__node_has_subscriber(node, "run.b.node.status"));
    orcs__node_sub_add(node, ""); // everything
    assert_true(orcs__node_has_subscriber(node, "status.x"));
    orcs__node_sub_remove(node, "");
    assert_false(orcs__node_has_subscriber(node, "status.x"));
    // more subscriptions than a topic has bytes
    char prefix[32];
    for (int i = 0; i < 100; i++) {
        snprintf(prefix, sizeof prefix, "x.%d.", i);
        orcs__node_sub_add(node, prefix);
    }
    assert_true(orcs__node_has_subscriber(node, "x.57.y"));
    assert_true(orcs__node_has_subscriber(node, "run.a.z"));
    assert_false(orcs__node_has_subscriber(node, "x.100.y"));
    assert_false(orcs__node_has_subscriber(node, "y"));
    for (int i = 0; i < 100; i++) {
        snprintf(prefix, sizeof prefix, "x.%d.", i);
        orcs__node_sub_remove(node, prefix);
    }
    orcs__node_sub_remove(node, "run.a.");
    assert_false(orcs__node_has_subscriber(node, "run.a.node.status"));
    orcs_node_destroy(&node);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_loads_plugin_actor),
        cmocka_unit_test(test_node_refuses_bad_plugin),
        cmocka_unit_test(test_node_unknown_kind_is_a_config_error),
        cmocka_unit_test(test_node_init_failure_stops_start),
        cmocka_unit_test(test_node_one_node_per_data_dir),
        cmocka_unit_test(
            test_node_process_child_restarts_after_segfault_and_kill),
        cmocka_unit_test(test_node_run_returns_ok_on_requested_stop),
        cmocka_unit_test(test_node_run_fails_when_root_gives_up),
        cmocka_unit_test(test_node_knows_subscribers_by_prefix),
    };
    int failed = cmocka_run_group_tests_name("orcs_node", tests, NULL, NULL);
    orcs_runtime_shutdown();
    return failed;
}
