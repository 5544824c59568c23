/*  fuzz_run_view.c — run views, lists and offline changes built from
    damaged store contents (orcs/runs.h). The input is one stored value
    beside an otherwise valid run: the first byte picks what it is (run
    record, definition, task record, approval, result, output), for keys
    with a name the next byte gives the name's length (the name may hold
    any byte), the rest is the value. The view must be built or refused
    with ORCS_EPROTO, never crash; offline decide and cancel must cope too.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/record.h"
#include "orcs/runs.h"
#include "orcs/store.h"
#include "orcs/sys.h"
#include "records.pb.h"

#define S_RUN "r-fuzz"

// The store is opened once per process: an LMDB environment per input
// would make the target a benchmark of mkdir and mmap.
static orcs_store_t *s_store;
static char s_dir[64];

static void
s_close(void)
{
    orcs_store_destroy(&s_store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", s_dir);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", s_dir);
}

static bool
s_open(void)
{
    if (s_store)
        return true;
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR); // damaged records log warnings
    snprintf(s_dir, sizeof s_dir, "/tmp/orcs-fuzz-run-view-XXXXXX");
    if (!mkdtemp(s_dir))
        return false;
    orcs_store_opts_t opts = {.relaxed = true, .sync_ms = 10000};
    s_store = orcs_store_new();
    if (orcs_store_open(s_store, s_dir, &opts) != ORCS_OK) {
        orcs_store_destroy(&s_store);
        return false;
    }
    atexit(s_close);
    return true;
}

static void
s_put(orcs_batch_t *batch,
      orcs_db db,
      const void *key,
      size_t key_size,
      const void *value,
      size_t size)
{
    orcs_batch_put(batch, db, key, key_size, value, size);
}

static void
s_put_doc(orcs_batch_t *batch, char part, const char *name, const char *json)
{
    char key[256];
    size_t key_size = orcs_runs_key(key, sizeof key, S_RUN, part, name);
    json_t *doc = json_loads(json, 0, NULL);
    uint8_t *data = NULL;
    size_t size = 0;
    if (doc && orcs_doc_encode(doc, &data, &size) == ORCS_OK)
        s_put(batch, ORCS_DB_TASKS, key, key_size, data, size);
    free(data);
    json_decref(doc);
}

// A valid run around the fuzzed value (what the value does not replace).
static void
s_put_run(orcs_batch_t *batch, int replaced)
{
    if (replaced != 0) {
        RunRecord run = RunRecord_init_zero;
        snprintf(run.id, sizeof run.id, "%s", S_RUN);
        snprintf(run.workflow, sizeof run.workflow, "fuzz");
        run.status = ORCS_RECORD_WAITING;
        run.created_us = 1;
        run.checkpoint_seq = 3;
        uint8_t *data = NULL;
        size_t size = 0;
        if (orcs_run_record_encode(&run, &data, &size) == ORCS_OK)
            s_put(batch, ORCS_DB_RUNS, S_RUN, strlen(S_RUN), data, size);
        free(data);
    }
    if (replaced != 1)
        s_put_doc(batch, ORCS_RUNS_PART_DEF, NULL,
                  "{\"workflow\": {\"workflow\": \"fuzz\", \"nodes\": "
                  "{\"a\": {\"kind\": \"tool\"}, \"m\": {\"kind\": "
                  "\"map\"}, \"ok\": {\"kind\": \"approval\"}}}, \"dir\": "
                  "\"/\", \"inputs\": {}}");
    if (replaced != 3)
        s_put_doc(batch, ORCS_RUNS_PART_APPROVAL, "a-1",
                  "{\"id\": \"a-1\", \"node\": \"ok\", \"kind\": \"node\", "
                  "\"prompt\": \"go?\", \"state\": \"pending\"}");
    TaskRecord task = TaskRecord_init_zero;
    snprintf(task.id, sizeof task.id, "m[0]");
    task.status = ORCS_RECORD_RUNNING;
    task.attempt = 1;
    uint8_t *data = NULL;
    size_t size = 0;
    char key[64];
    size_t key_size =
        orcs_runs_key(key, sizeof key, S_RUN, ORCS_RUNS_PART_TASK, task.id);
    if (orcs_task_record_encode(&task, &data, &size) == ORCS_OK)
        s_put(batch, ORCS_DB_TASKS, key, key_size, data, size);
    free(data);
}

typedef struct {
    orcs_batch_t *batch;
    orcs_db db;
} s_wipe_t;

static bool
s_wipe_key(const void *key,
           size_t key_size,
           const void *value,
           size_t value_size,
           void *arg)
{
    (void) value, (void) value_size;
    s_wipe_t *wipe = arg;
    orcs_batch_del(wipe->batch, wipe->db, key, key_size);
    return true;
}

// Empties the databases a run uses, for the next input.
static void
s_wipe(void)
{
    orcs_batch_t *batch = orcs_batch_new();
    orcs_store_txn_t *txn = NULL;
    if (orcs_store_txn_begin(s_store, &txn) == ORCS_OK) {
        orcs_db dbs[] = {ORCS_DB_RUNS, ORCS_DB_TASKS, ORCS_DB_CHECKPOINTS};
        for (size_t i = 0; i < 3; i++) {
            s_wipe_t wipe = {batch, dbs[i]};
            orcs_store_txn_scan(txn, dbs[i], NULL, 0, s_wipe_key, &wipe);
        }
        orcs_store_txn_end(&txn);
    }
    if (orcs_batch_size(batch) > 0)
        orcs_store_write(s_store, &batch);
    orcs_batch_destroy(&batch);
}

static void
s_check_view(void)
{
    json_t *view = NULL;
    orcs_status rc = orcs_runs_view(s_store, S_RUN, &view);
    if (rc == ORCS_OK) {
        if (!json_is_object(json_object_get(view, "nodes"))
            || !json_is_array(json_object_get(view, "approvals"))
            || !json_is_string(json_object_get(view, "status")))
            abort();
        char *text = orcs_doc_to_text(view, 0);
        free(text);
    } else if (rc != ORCS_EPROTO && rc != ORCS_ENOTFOUND) {
        abort();
    } else if (view) {
        abort();
    }
    json_decref(view);
    json_t *list = NULL;
    if (orcs_runs_list(s_store, NULL, 0, &list) != ORCS_OK)
        abort();
    json_decref(list);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || !s_open())
        return 0;
    static const char parts[] = {0,
                                 ORCS_RUNS_PART_DEF,
                                 ORCS_RUNS_PART_TASK,
                                 ORCS_RUNS_PART_APPROVAL,
                                 ORCS_RUNS_PART_RESULT,
                                 ORCS_RUNS_PART_OUTPUT};
    int which = data[0] % 6;
    data++, size--;
    orcs_batch_t *batch = orcs_batch_new();
    s_put_run(batch, which);
    if (which == 0) {
        s_put(batch, ORCS_DB_RUNS, S_RUN, strlen(S_RUN), data, size);
    } else if (which == 1 || which == 4) {
        char key[16];
        size_t key_size =
            orcs_runs_key(key, sizeof key, S_RUN, parts[which], NULL);
        s_put(batch, ORCS_DB_TASKS, key, key_size, data, size);
    } else {
        size_t n = size > 0 ? data[0] % 64 : 0;
        if (size < 1 + n) {
            orcs_batch_destroy(&batch);
            return 0;
        }
        char key[128];
        size_t key_size = strlen(S_RUN) + 3 + n;
        memcpy(key, S_RUN, strlen(S_RUN) + 1);
        key[strlen(S_RUN) + 1] = parts[which];
        key[strlen(S_RUN) + 2] = 0;
        memcpy(key + strlen(S_RUN) + 3, data + 1, n);
        s_put(batch, ORCS_DB_TASKS, key, key_size, data + 1 + n, size - 1 - n);
    }
    if (orcs_store_write(s_store, &batch) == ORCS_OK) {
        s_check_view();
        orcs_status rc =
            orcs_runs_decide(s_store, S_RUN, "a-1", true, "fuzz", NULL);
        if (rc == ORCS_EINVAL)
            abort(); // the ids are good
        orcs_runs_set_status(s_store, S_RUN, ORCS_RECORD_CANCELED);
        s_check_view();
    }
    orcs_batch_destroy(&batch);
    s_wipe();
    return 0;
}
