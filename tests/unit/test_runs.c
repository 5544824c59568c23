/*  test_runs.c — runs as the store keeps them (orcs/runs.h): keys, status
    names, views, lists, offline decisions and status changes, on a store
    filled the way the orchestrator fills it.
    SPDX-License-Identifier: MPL-2.0 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"
#include "orcs/orcs.h"
#include "orcs/runs.h"
#include "records.pb.h"

typedef struct {
    char dir[64];
    orcs_store_t *store;
} s_env_t;

static int
s_setup(void **state)
{
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    s_env_t *env = calloc(1, sizeof *env);
    snprintf(env->dir, sizeof env->dir, "/tmp/orcs-runs-XXXXXX");
    if (!mkdtemp(env->dir))
        return -1;
    orcs_store_opts_t opts = {.relaxed = true};
    env->store = orcs_store_new();
    if (orcs_store_open(env->store, env->dir, &opts) != ORCS_OK)
        return -1;
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    orcs_store_destroy(&env->store);
    nftw(env->dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(env);
    return 0;
}

// ---- filling the store as the orchestrator does

static void
s_put(orcs_store_t *store,
      orcs_db db,
      const void *key,
      size_t key_size,
      const void *value,
      size_t size)
{
    orcs_batch_t *batch = orcs_batch_new();
    assert_int_equal(orcs_batch_put(batch, db, key, key_size, value, size),
                     ORCS_OK);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
}

static void
s_put_run(orcs_store_t *store,
          const char *id,
          orcs_record_status status,
          int64_t created_us)
{
    RunRecord run = RunRecord_init_zero;
    snprintf(run.id, sizeof run.id, "%s", id);
    snprintf(run.workflow, sizeof run.workflow, "flow");
    run.status = status;
    run.created_us = created_us;
    run.updated_us = created_us + 1;
    run.checkpoint_seq = 2;
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_run_record_encode(&run, &data, &size), ORCS_OK);
    s_put(store, ORCS_DB_RUNS, id, strlen(id), data, size);
    free(data);
}

static void
s_put_doc(orcs_store_t *store,
          const char *run,
          char part,
          const char *name,
          const char *json)
{
    char key[256];
    size_t key_size = orcs_runs_key(key, sizeof key, run, part, name);
    assert_true(key_size > 0);
    json_t *doc = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(doc);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_OK);
    s_put(store, ORCS_DB_TASKS, key, key_size, data, size);
    free(data);
    json_decref(doc);
}

static void
s_put_task(orcs_store_t *store,
           const char *run,
           const char *id,
           orcs_record_status status,
           const char *kind)
{
    TaskRecord task = TaskRecord_init_zero;
    snprintf(task.run_id, sizeof task.run_id, "%s", run);
    snprintf(task.id, sizeof task.id, "%s", id);
    snprintf(task.actor, sizeof task.actor, "%s", kind);
    task.status = status;
    task.attempt = 2;
    task.started_us = 100;
    task.finished_us = status == ORCS_RECORD_RUNNING ? 0 : 300;
    if (status == ORCS_RECORD_FAILED) {
        task.error = ORCS_ETIMEDOUT;
        snprintf(task.detail, sizeof task.detail, "timed out");
    }
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_task_record_encode(&task, &data, &size), ORCS_OK);
    char key[256];
    size_t key_size =
        orcs_runs_key(key, sizeof key, run, ORCS_RUNS_PART_TASK, id);
    s_put(store, ORCS_DB_TASKS, key, key_size, data, size);
    free(data);
}

// A run waiting on approval a-1 of node ok: a completed, m a map with two
// items (one done), ok waiting.
static void
s_waiting_run(orcs_store_t *store, const char *id)
{
    s_put_run(store, id, ORCS_RECORD_WAITING, 1000);
    s_put_doc(store, id, ORCS_RUNS_PART_DEF, NULL,
              "{\"workflow\": {\"workflow\": \"flow\", \"nodes\": {\"a\": "
              "{\"kind\": \"tool\"}, \"m\": {\"kind\": \"map\"}, \"ok\": "
              "{\"kind\": \"approval\"}, \"end\": {\"kind\": \"end\"}}}, "
              "\"dir\": \"/\", \"inputs\": {}}");
    s_put_task(store, id, "a", ORCS_RECORD_SUCCEEDED, "tool");
    s_put_task(store, id, "m", ORCS_RECORD_RUNNING, "map");
    s_put_task(store, id, "m[0]", ORCS_RECORD_SUCCEEDED, "tool");
    s_put_task(store, id, "m[1]", ORCS_RECORD_RUNNING, "tool");
    s_put_task(store, id, "ok", ORCS_RECORD_WAITING, "approval");
    s_put_doc(store, id, ORCS_RUNS_PART_OUTPUT, "a", "{\"x\": 1}");
    s_put_doc(store, id, ORCS_RUNS_PART_APPROVAL, "a-1",
              "{\"id\": \"a-1\", \"node\": \"ok\", \"kind\": \"node\", "
              "\"prompt\": \"go?\", \"state\": \"pending\", \"created_us\": "
              "5}");
}

static const char *
s_at(const json_t *view, const char *node, const char *key)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(view, "nodes"), node), key));
}

// ---- tests

static void
test_runs_key_follows_the_layout(void **state)
{
    (void) state;
    char key[64];
    assert_int_equal(orcs_runs_key(key, sizeof key, "r-1", 't', "a"), 7);
    assert_memory_equal(key, "r-1\0t\0a", 7);
    assert_int_equal(orcs_runs_key(key, sizeof key, "r-1", 'd', NULL), 5);
    assert_memory_equal(key, "r-1\0d", 5);
    assert_int_equal(orcs_runs_key(key, 6, "r-1", 't', "a"), 0);
    // an output sits beside its task's record
    assert_int_equal(orcs_runs_key(key, sizeof key, "r-1", 'o', "a"), 9);
    assert_memory_equal(key, "r-1\0t\0a\0o", 9);
    assert_int_equal(orcs_runs_key(key, 8, "r-1", 'o', "a"), 0);

    // splitting: both output layouts, names, parts without one
    char part;
    const char *name;
    size_t size;
    assert_int_equal(
        orcs_runs_key_split("r-1\0t\0a\0o", 9, 4, &part, &name, &size),
        ORCS_OK);
    assert_int_equal(part, 'o');
    assert_int_equal(size, 1);
    assert_memory_equal(name, "a", 1);
    assert_int_equal(
        orcs_runs_key_split("r-1\0o\0map[2]", 12, 4, &part, &name, &size),
        ORCS_OK);
    assert_int_equal(part, 'o');
    assert_int_equal(size, 6);
    assert_memory_equal(name, "map[2]", 6);
    assert_int_equal(
        orcs_runs_key_split("r-1\0t\0ab", 8, 4, &part, &name, &size), ORCS_OK);
    assert_int_equal(part, 't');
    assert_int_equal(size, 2);
    assert_int_equal(orcs_runs_key_split("r-1\0r", 5, 4, &part, &name, &size),
                     ORCS_OK);
    assert_int_equal(part, 'r');
    assert_null(name);
    // checkpoints: a task's beside its record (its seq may end in \0 o),
    // the run's own
    assert_int_equal(
        orcs_runs_checkpoint_key(key, sizeof key, "r-1", "a", 0x006f), 17);
    assert_memory_equal(key, "r-1\0t\0a\0c\0\0\0\0\0\0\0o", 17);
    assert_int_equal(orcs_runs_key_split(key, 17, 4, &part, &name, &size),
                     ORCS_OK);
    assert_int_equal(part, 'c');
    assert_int_equal(size, 1);
    assert_memory_equal(name, "a", 1);
    assert_int_equal(orcs_runs_checkpoint_seq(key, 17), 0x6f);
    assert_int_equal(
        orcs_runs_checkpoint_key(key, sizeof key, "r-1", NULL, 258), 13);
    assert_int_equal(orcs_runs_key_split(key, 13, 4, &part, &name, &size),
                     ORCS_OK);
    assert_int_equal(part, 'c');
    assert_null(name);
    assert_int_equal(orcs_runs_checkpoint_seq(key, 13), 258);
    assert_int_equal(orcs_runs_checkpoint_key(key, 12, "r-1", NULL, 1), 0);
    // not of the layout; a name holding a \0 other than an output's
    assert_int_equal(orcs_runs_key_split("r-1\0", 4, 4, &part, &name, &size),
                     ORCS_ENOTFOUND);
    assert_int_equal(orcs_runs_key_split("r-1\0tx", 6, 4, &part, &name, &size),
                     ORCS_ENOTFOUND);
    assert_int_equal(
        orcs_runs_key_split("r-1\0t\0a\0x", 9, 4, &part, &name, &size),
        ORCS_EPROTO);
    assert_int_equal(
        orcs_runs_key_split("r-1\0a\0a\0o", 9, 4, &part, &name, &size),
        ORCS_EPROTO);
}

static void
test_runs_status_names_round_trip(void **state)
{
    (void) state;
    assert_string_equal(orcs_runs_status_name(ORCS_RECORD_PENDING, true),
                        "queued");
    assert_string_equal(orcs_runs_status_name(ORCS_RECORD_WAITING, true),
                        "waiting_approval");
    assert_string_equal(orcs_runs_status_name(ORCS_RECORD_CANCELED, true),
                        "cancelled");
    assert_string_equal(orcs_runs_status_name(ORCS_RECORD_PENDING, false),
                        "pending");
    assert_string_equal(orcs_runs_status_name(ORCS_RECORD_WAITING, false),
                        "waiting");
    assert_string_equal(orcs_runs_status_name(ORCS_RECORD_INDETERMINATE, false),
                        "indeterminate");
    assert_null(orcs_runs_status_name(ORCS_RECORD_SKIPPED, true));
    assert_null(orcs_runs_status_name(ORCS_RECORD_PAUSED, false));
    assert_null(orcs_runs_status_name(ORCS_RECORD_UNSET, true));
    for (int s = ORCS_RECORD_PENDING; s <= ORCS_RECORD_PAUSED; s++)
        for (int is_run = 0; is_run < 2; is_run++) {
            const char *name =
                orcs_runs_status_name((orcs_record_status) s, is_run);
            orcs_record_status back = ORCS_RECORD_UNSET;
            if (!name)
                continue;
            assert_int_equal(orcs_runs_status_parse(name, is_run, &back),
                             ORCS_OK);
            assert_int_equal(back, s);
        }
    orcs_record_status back = ORCS_RECORD_RUNNING;
    assert_int_equal(orcs_runs_status_parse("waiting", true, &back),
                     ORCS_EINVAL);
    assert_int_equal(back, ORCS_RECORD_UNSET);
    assert_int_equal(orcs_runs_status_parse(NULL, false, &back), ORCS_EINVAL);
    assert_true(orcs_runs_status_is_final(ORCS_RECORD_SKIPPED));
    assert_false(orcs_runs_status_is_final(ORCS_RECORD_PAUSED));
}

static void
test_runs_view_builds_from_records(void **state)
{
    s_env_t *env = *state;
    s_waiting_run(env->store, "r-w");
    json_t *view = NULL;
    assert_int_equal(orcs_runs_view(env->store, "r-w", &view), ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(view, "status")),
                        "waiting_approval");
    assert_string_equal(json_string_value(json_object_get(view, "workflow")),
                        "flow");
    assert_string_equal(s_at(view, "a", "status"), "completed");
    assert_string_equal(s_at(view, "ok", "status"), "waiting");
    assert_string_equal(s_at(view, "end", "status"), "pending");
    assert_string_equal(s_at(view, "end", "kind"), "end");
    const json_t *m = json_object_get(json_object_get(view, "nodes"), "m");
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(m, "items"), "total")),
                     2);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(m, "items"), "done")),
                     1);
    assert_null(json_object_get(json_object_get(view, "nodes"), "m[0]"));
    assert_int_equal(json_array_size(json_object_get(view, "approvals")), 1);
    assert_true(json_is_null(json_object_get(view, "output")));
    assert_non_null(json_object_get(json_object_get(view, "usage"), "cost"));
    json_decref(view);
}

static void
test_runs_view_refuses_damage_and_unknown_runs(void **state)
{
    s_env_t *env = *state;
    json_t *dummy = json_object(); // the out-param is set to NULL on error
    json_t *view = dummy;
    assert_int_equal(orcs_runs_view(env->store, "r-none", &view),
                     ORCS_ENOTFOUND);
    assert_null(view);
    json_decref(dummy);
    assert_int_equal(orcs_runs_view(env->store, "", &view), ORCS_EINVAL);
    s_put(env->store, ORCS_DB_RUNS, "r-bad", 5, "\xff\xff", 2);
    assert_int_equal(orcs_runs_view(env->store, "r-bad", &view), ORCS_EPROTO);
    assert_null(view);
    s_waiting_run(env->store, "r-dt");
    char key[64];
    size_t n = orcs_runs_key(key, sizeof key, "r-dt", 't', "a");
    s_put(env->store, ORCS_DB_TASKS, key, n, "\x0a\xff\x01", 3);
    assert_int_equal(orcs_runs_view(env->store, "r-dt", &view), ORCS_EPROTO);
    s_waiting_run(env->store, "r-da");
    n = orcs_runs_key(key, sizeof key, "r-da", 'a', "a-1");
    s_put(env->store, ORCS_DB_TASKS, key, n, "\xc1", 1);
    assert_int_equal(orcs_runs_view(env->store, "r-da", &view), ORCS_EPROTO);
    assert_null(view);
}

static void
test_runs_list_is_newest_first_and_filters(void **state)
{
    s_env_t *env = *state;
    s_put_run(env->store, "r-old", ORCS_RECORD_SUCCEEDED, 10);
    s_put_run(env->store, "r-new", ORCS_RECORD_RUNNING, 30);
    s_put_run(env->store, "r-mid", ORCS_RECORD_SUCCEEDED, 20);
    s_put(env->store, ORCS_DB_RUNS, "r-bad", 5, "\xff", 1);
    json_t *list = NULL;
    assert_int_equal(orcs_runs_list(env->store, NULL, 0, &list), ORCS_OK);
    const json_t *runs = json_object_get(list, "runs");
    assert_int_equal(json_array_size(runs), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(runs, 0), "id")),
        "r-new");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(runs, 2), "id")),
        "r-old");
    assert_int_equal(json_integer_value(json_object_get(list, "damaged")), 1);
    json_decref(list);
    assert_int_equal(orcs_runs_list(env->store, "completed", 1, &list),
                     ORCS_OK);
    runs = json_object_get(list, "runs");
    assert_int_equal(json_array_size(runs), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(runs, 0), "id")),
        "r-mid");
    json_decref(list);
    assert_int_equal(orcs_runs_list(env->store, "done", 0, &list), ORCS_EINVAL);
    assert_null(list);
}

static void
test_runs_decide_once(void **state)
{
    s_env_t *env = *state;
    s_waiting_run(env->store, "r-d");
    assert_int_equal(
        orcs_runs_decide(env->store, "r-d", "a-1", false, "no", "ada"),
        ORCS_OK);
    assert_int_equal(
        orcs_runs_decide(env->store, "r-d", "a-1", true, NULL, NULL),
        ORCS_EEXIST);
    assert_int_equal(
        orcs_runs_decide(env->store, "r-d", "a-9", true, NULL, NULL),
        ORCS_ENOTFOUND);
    assert_int_equal(
        orcs_runs_decide(env->store, "r-x", "a-1", true, NULL, NULL),
        ORCS_ENOTFOUND);
    assert_int_equal(orcs_runs_decide(env->store, "r-d", "", true, NULL, NULL),
                     ORCS_EINVAL);
    assert_int_equal(
        orcs_runs_decide(env->store, "r-d", "a-1", true, "\xff", NULL),
        ORCS_EINVAL);
    json_t *view = NULL;
    assert_int_equal(orcs_runs_view(env->store, "r-d", &view), ORCS_OK);
    const json_t *approval =
        json_array_get(json_object_get(view, "approvals"), 0);
    assert_string_equal(json_string_value(json_object_get(approval, "state")),
                        "rejected");
    assert_string_equal(json_string_value(json_object_get(approval, "by")),
                        "ada");
    assert_string_equal(json_string_value(json_object_get(approval, "reason")),
                        "no");
    assert_true(json_integer_value(json_object_get(approval, "decided_us"))
                > 0);
    json_decref(view);
}

static void
test_runs_set_status_pauses_resumes_and_cancels(void **state)
{
    s_env_t *env = *state;
    s_waiting_run(env->store, "r-s");
    // steps since the run record was written appended checkpoints 3 to 6:
    // 3 and 4 in the layout of older stores, 5 and 6 beside task ok
    for (uint8_t seq = 3; seq <= 6; seq++) {
        char cp_key[64];
        size_t cp_size = 12;
        memcpy(cp_key, "r-s\0\0\0\0\0\0\0\0", 11);
        cp_key[11] = (char) seq;
        if (seq >= 5)
            cp_size = orcs_runs_checkpoint_key(cp_key, sizeof cp_key, "r-s",
                                               "ok", seq);
        s_put(env->store, seq >= 5 ? ORCS_DB_TASKS : ORCS_DB_CHECKPOINTS,
              cp_key, cp_size, "step", 4);
    }
    // what the run spent so far, as the orchestrator keeps it
    s_put_doc(env->store, "r-s", ORCS_RUNS_PART_RESULT, NULL,
              "{\"output\": null, \"error\": null, \"usage\": "
              "{\"prompt_tokens\": 7, \"completion_tokens\": 5, "
              "\"requests\": 2, \"cost\": 0.5}}");
    assert_int_equal(
        orcs_runs_set_status(env->store, "r-s", ORCS_RECORD_PAUSED), ORCS_OK);
    json_t *view = NULL;
    assert_int_equal(orcs_runs_view(env->store, "r-s", &view), ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(view, "status")),
                        "paused");
    json_decref(view);
    assert_int_equal(
        orcs_runs_set_status(env->store, "r-s", ORCS_RECORD_PAUSED), ORCS_OK);
    assert_int_equal(
        orcs_runs_set_status(env->store, "r-s", ORCS_RECORD_RUNNING), ORCS_OK);
    assert_int_equal(
        orcs_runs_set_status(env->store, "r-s", ORCS_RECORD_SUCCEEDED),
        ORCS_EINVAL);
    // steps after the resume appended checkpoints 9 and 10 beside task ok
    // (the cancel finds them in the pass that cancels the tasks)
    char cp_key[64];
    for (uint8_t seq = 9; seq <= 10; seq++) {
        size_t cp_size =
            orcs_runs_checkpoint_key(cp_key, sizeof cp_key, "r-s", "ok", seq);
        s_put(env->store, ORCS_DB_TASKS, cp_key, cp_size, "step", 4);
    }
    assert_int_equal(
        orcs_runs_set_status(env->store, "r-s", ORCS_RECORD_CANCELED), ORCS_OK);
    assert_int_equal(orcs_runs_view(env->store, "r-s", &view), ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(view, "status")),
                        "cancelled");
    assert_string_equal(json_string_value(json_object_get(view, "error")),
                        "cancelled on request");
    // cancelling keeps what was spent
    const json_t *usage = json_object_get(view, "usage");
    assert_int_equal(
        json_integer_value(json_object_get(usage, "prompt_tokens")), 7);
    assert_int_equal(json_integer_value(json_object_get(usage, "requests")), 2);
    assert_string_equal(s_at(view, "a", "status"), "completed");
    assert_string_equal(s_at(view, "ok", "status"), "cancelled");
    assert_string_equal(s_at(view, "m", "status"), "cancelled");
    const json_t *approval =
        json_array_get(json_object_get(view, "approvals"), 0);
    assert_string_equal(json_string_value(json_object_get(approval, "state")),
                        "cancelled");
    json_decref(view);
    // final: no way out, and no decision either
    assert_int_equal(
        orcs_runs_set_status(env->store, "r-s", ORCS_RECORD_RUNNING),
        ORCS_EINVAL);
    assert_int_equal(
        orcs_runs_decide(env->store, "r-s", "a-1", true, NULL, NULL),
        ORCS_EEXIST);
    assert_int_equal(
        orcs_runs_set_status(env->store, "r-none", ORCS_RECORD_PAUSED),
        ORCS_ENOTFOUND);
    // the status changes appended checkpoints 7, 8 and 11 after the
    // steps' (the run record said 2); those are untouched
    char key[64];
    size_t key_size =
        orcs_runs_checkpoint_key(key, sizeof key, "r-s", "ok", 10);
    void *value = NULL;
    size_t size = 0;
    assert_int_equal(
        orcs_store_get(env->store, ORCS_DB_TASKS, key, key_size, &value, &size),
        ORCS_OK);
    assert_int_equal(size, 4);
    assert_memory_equal(value, "step", 4);
    free(value);
    key_size = orcs_runs_checkpoint_key(key, sizeof key, "r-s", NULL, 11);
    assert_memory_equal(key, "r-s\0c\0\0\0\0\0\0\0\x0b", 13);
    assert_int_equal(
        orcs_store_get(env->store, ORCS_DB_TASKS, key, key_size, &value, &size),
        ORCS_OK);
    CheckpointRecord cp;
    assert_int_equal(orcs_checkpoint_record_decode(value, size, &cp), ORCS_OK);
    assert_int_equal(cp.event, 1);
    assert_int_equal(cp.status, ORCS_RECORD_CANCELED);
    free(value);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_key_follows_the_layout),
        cmocka_unit_test(test_runs_status_names_round_trip),
        cmocka_unit_test_setup_teardown(test_runs_view_builds_from_records,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_runs_view_refuses_damage_and_unknown_runs, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_runs_list_is_newest_first_and_filters, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_runs_decide_once, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_runs_set_status_pauses_resumes_and_cancels, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests_name("orcs_runs", tests, NULL, NULL);
}
