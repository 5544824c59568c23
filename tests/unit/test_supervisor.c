/*  test_supervisor.c — OTP supervision in a real node: every strategy x
    restart type x exit kind, restart intensity and escalation, shutdown
    order, shutdown timeouts, dynamic children, start failures.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

static const char *const s_strategies[] = {
    "one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"};
static const char *const s_restarts[] = {"permanent", "transient", "temporary"};
// Exit kinds, as echo commands: a normal stop, a callback returning an
// error, orcs_actor_fail, and a callback that misses its heartbeat.
static const char *const s_exits[] = {"stop", "fail", "fail_call", "hang"};

static fixture_t s_fixture;

static int
s_setup(void **state)
{
    if (fixture_start(&s_fixture,
                      "{\"strategy\": \"one_for_one\", \"intensity\": 1000,"
                      " \"period_s\": 1, \"children\": []}",
                      NULL)
        != ORCS_OK)
        return -1;
    *state = &s_fixture;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_stop(*state);
    return 0;
}

// The which_children entry of `name` (new reference) or NULL.
static json_t *
s_which(fixture_t *f, const char *sup, const char *name)
{
    json_t *reply = fixture_ask(f, sup, "$which_children", NULL, NULL);
    json_t *found = NULL;
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(reply, "children"), i, child)
    {
        if (strcmp(json_string_value(json_object_get(child, "name")), name)
            == 0)
            found = json_incref(child);
    }
    json_decref(reply);
    return found;
}

static int
s_incarnation(fixture_t *f, const char *sup, const char *name)
{
    json_t *child = s_which(f, sup, name);
    int value =
        child ? (int) json_integer_value(json_object_get(child, "incarnation"))
              : 0;
    if (child && !json_is_true(json_object_get(child, "running")))
        value = -value; // stopped
    json_decref(child);
    return value;
}

static void
s_run_case(fixture_t *f, int strategy, int restart, int exit_kind)
{
    char sup[32], a[40], b[40], c[40];
    snprintf(sup, sizeof sup, "s%d%d%d", strategy, restart, exit_kind);
    snprintf(a, sizeof a, "%s.a", sup);
    snprintf(b, sizeof b, "%s.b", sup);
    snprintf(c, sizeof c, "%s.c", sup);
    bool simple = strategy == 3;
    json_t *child = json_pack("{s:s, s:s, s:s, s:i, s:i}", "name", "tmpl",
                              "actor", "echo", "restart", s_restarts[restart],
                              "heartbeat_ms", 50, "shutdown_ms", 2000);
    json_t *children = json_array();
    if (simple) {
        json_array_append(children, child);
    } else {
        const char *names[] = {a, b, c};
        for (int i = 0; i < 3; i++) {
            json_t *copy = json_deep_copy(child);
            json_object_set_new(copy, "name", json_string(names[i]));
            json_array_append_new(children, copy);
        }
    }
    json_decref(child);
    json_t *spec =
        json_pack("{s:s, s:s, s:{s:s, s:i, s:i, s:o}}", "name", sup, "restart",
                  "permanent", "supervisor", "strategy", s_strategies[strategy],
                  "intensity", 10, "period_s", 10, "children", children);
    assert_int_equal(orcs_node_start_child(f->node, "root", sup, spec),
                     ORCS_OK);
    json_decref(spec);
    if (simple) {
        assert_int_equal(orcs_node_start_child(f->node, sup, a, NULL), ORCS_OK);
        assert_int_equal(orcs_node_start_child(f->node, sup, b, NULL), ORCS_OK);
        assert_int_equal(orcs_node_start_child(f->node, sup, c, NULL), ORCS_OK);
    }
    assert_int_equal(s_incarnation(f, sup, b), 1);

    json_t *body = json_pack("{s:i}", "ms", 400);
    assert_int_equal(fixture_send(f, b, s_exits[exit_kind], body), ORCS_OK);

    bool abnormal = exit_kind != 0;
    bool restarted = restart == 0 || (restart == 1 && abnormal);
    bool deleted = !restarted && (restart == 2 || simple);
    int expect_b = restarted ? 2 : deleted ? 0 : -1;
    int got_b = 99;
    for (int i = 0; i < FIXTURE_WAIT_MS / 5; i++) {
        got_b = s_incarnation(f, sup, b);
        if (got_b == expect_b)
            break;
        usleep(5000);
    }
    char where[96];
    snprintf(where, sizeof where, "%s restart=%s exit=%s",
             s_strategies[strategy], s_restarts[restart], s_exits[exit_kind]);
    if (got_b != expect_b)
        fail_msg("%s: b incarnation %d, expected %d", where, got_b, expect_b);
    int expect_a = restarted && strategy == 1 ? 2 : 1;
    int expect_c = restarted && (strategy == 1 || strategy == 2) ? 2 : 1;
    int got_a = s_incarnation(f, sup, a), got_c = s_incarnation(f, sup, c);
    if (got_a != expect_a || got_c != expect_c)
        fail_msg("%s: a=%d c=%d, expected a=%d c=%d", where, got_a, got_c,
                 expect_a, expect_c);
    if (restarted) {
        assert_int_equal(fixture_ping(f, b), 2);
        json_t *actor = fixture_actor(f, b);
        assert_true(json_integer_value(json_object_get(actor, "restarts"))
                    >= 1);
        if (abnormal)
            assert_true(
                strlen(json_string_value(json_object_get(actor, "last_error")))
                > 0);
        json_decref(actor);
    }
    assert_int_equal(orcs_node_stop_child(f->node, "root", sup), ORCS_OK);
    assert_null(fixture_actor(f, a));
}

static void
test_supervisor_table(void **state)
{
    fixture_t *f = *state;
    for (int s = 0; s < 4; s++)
        for (int r = 0; r < 3; r++)
            for (int e = 0; e < 4; e++)
                s_run_case(f, s, r, e);
}

static void
test_supervisor_intensity_escalates_to_parent(void **state)
{
    fixture_t *f = *state;
    json_t *spec = json_pack("{s:s, s:{s:s, s:i, s:i, s:[{s:s, s:s}]}}", "name",
                             "weak", "supervisor", "strategy", "one_for_one",
                             "intensity", 2, "period_s", 60, "children", "name",
                             "weak.w", "actor", "echo");
    assert_int_equal(orcs_node_start_child(f->node, "root", "weak", spec),
                     ORCS_OK);
    json_decref(spec);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(fixture_ping(f, "weak.w"), i);
        assert_int_equal(fixture_send(f, "weak.w", "fail", NULL), ORCS_OK);
        if (i < 3)
            assert_true(fixture_wait_field(f, "weak.w", "incarnation", i + 1));
    }
    // The third failure in the window: "weak" gives up, fails to root, and
    // root restarts it with a fresh child.
    assert_true(fixture_wait_field(f, "weak", "restarts", 1));
    json_t *weak = fixture_actor(f, "weak");
    assert_non_null(
        strstr(json_string_value(json_object_get(weak, "last_error")),
               "reached max restart intensity"));
    json_decref(weak);
    assert_true(fixture_wait_field(f, "weak", "incarnation", 2));
    assert_int_equal(fixture_ping(f, "weak.w"), 1);
    assert_int_equal(orcs_node_stop_child(f->node, "root", "weak"), ORCS_OK);
}

static void
test_supervisor_start_errors(void **state)
{
    fixture_t *f = *state;
    json_t *spec = json_pack("{s:s, s:s, s:{s:b}}", "name", "bad", "actor",
                             "echo", "config", "fail_init", 1);
    assert_int_equal(orcs_node_start_child(f->node, "root", "bad", spec),
                     ORCS_EFAILED);
    assert_null(fixture_actor(f, "bad"));
    json_decref(spec);
    spec = json_pack("{s:s, s:s}", "name", "ghost", "actor", "no-such-kind");
    assert_int_equal(orcs_node_start_child(f->node, "root", "ghost", spec),
                     ORCS_ECONFIG);
    json_decref(spec);
    spec = json_pack("{s:s, s:s}", "name", "status", "actor", "echo");
    assert_int_equal(orcs_node_start_child(f->node, "root", "status", spec),
                     ORCS_EEXIST);
    json_decref(spec);
    assert_int_equal(orcs_node_start_child(f->node, "nobody", "x", NULL),
                     ORCS_ENOTFOUND);
    assert_int_equal(orcs_node_stop_child(f->node, "root", "nobody"),
                     ORCS_ENOTFOUND);
}

static void
test_supervisor_shutdown_timeout_abandons_hung_child(void **state)
{
    fixture_t *f = *state;
    json_t *spec = json_pack("{s:s, s:s, s:i}", "name", "sleepy", "actor",
                             "echo", "shutdown_ms", 20);
    assert_int_equal(orcs_node_start_child(f->node, "root", "sleepy", spec),
                     ORCS_OK);
    json_decref(spec);
    assert_int_equal(
        fixture_send(f, "sleepy", "hang", json_pack("{s:i}", "ms", 300)),
        ORCS_OK);
    assert_true(fixture_wait_field(f, "sleepy", "msgs_in", 1));
    // stop_child returns after shutdown_ms even though the thread is busy.
    assert_int_equal(orcs_node_stop_child(f->node, "root", "sleepy"), ORCS_OK);
    assert_null(fixture_actor(f, "sleepy"));
}

// ---- shutdown order, on a node of its own

static orcs_status
s_recorder_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    *state_p = strdup(json_string_value(json_object_get(config, "log")));
    return ORCS_OK;
}

static orcs_status
s_recorder_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    (void) state;
    (void) msg_p;
    return ORCS_OK;
}

static void
s_recorder_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    FILE *log = fopen(state, "a");
    fprintf(log, "%s:%s\n", orcs_actor_name(actor), orcs_status_name(reason));
    fclose(log);
    free(state);
}

static const orcs_actor_def_t s_recorder_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "recorder",
    .init = s_recorder_init,
    .receive = s_recorder_receive,
    .terminate = s_recorder_terminate,
};

static void
test_supervisor_shutdown_in_reverse_start_order(void **state)
{
    (void) state;
    char log[] = "/tmp/orcs-order-XXXXXX";
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    close(fd);
    char tree[1024];
    snprintf(tree, sizeof tree,
             "{\"children\": ["
             " {\"name\": \"r1\", \"actor\": \"recorder\", \"config\": "
             "{\"log\": \"%s\"}},"
             " {\"name\": \"r2\", \"actor\": \"recorder\", \"config\": "
             "{\"log\": \"%s\"}},"
             " {\"name\": \"mid\", \"supervisor\": {\"children\": ["
             "   {\"name\": \"r3\", \"actor\": \"recorder\", \"config\": "
             "{\"log\": \"%s\"}},"
             "   {\"name\": \"r4\", \"actor\": \"recorder\", \"config\": "
             "{\"log\": \"%s\"}}]}},"
             " {\"name\": \"r5\", \"actor\": \"recorder\", \"config\": "
             "{\"log\": \"%s\"}}]}",
             log, log, log, log, log);
    const orcs_actor_def_t *kinds[] = {&s_recorder_def, NULL};
    fixture_t f;
    assert_int_equal(fixture_start(&f, tree, kinds), ORCS_OK);
    fixture_stop(&f);
    FILE *file = fopen(log, "r");
    char text[256] = "";
    size_t n = fread(text, 1, sizeof text - 1, file);
    text[n] = 0;
    fclose(file);
    unlink(log);
    assert_string_equal(text, "r5:ESHUTDOWN\nr4:ESHUTDOWN\nr3:ESHUTDOWN\n"
                              "r2:ESHUTDOWN\nr1:ESHUTDOWN\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supervisor_table),
        cmocka_unit_test(test_supervisor_intensity_escalates_to_parent),
        cmocka_unit_test(test_supervisor_start_errors),
        cmocka_unit_test(test_supervisor_shutdown_timeout_abandons_hung_child),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_supervisor_shutdown_in_reverse_start_order),
    };
    int failed = cmocka_run_group_tests_name("orcs_supervisor", tests, s_setup,
                                             s_teardown);
    failed +=
        cmocka_run_group_tests_name("orcs_supervisor_order", alone, NULL, NULL);
    orcs_runtime_shutdown();
    return failed;
}
