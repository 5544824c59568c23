/*  runs.c — runs as the store keeps them (orcs/runs.h): views built from
    the records, lists, and the offline changes of `orcs approve` and
    `orcs runs cancel|pause|resume`.
    SPDX-License-Identifier: MPL-2.0

    Everything stored is outside data here: records and documents are
    decoded with their own checks, and a damaged one gives ORCS_EPROTO (with
    a WARN naming it), never a crash. Changes are compare-and-set: each
    batch checks the bytes it read, so a change made meanwhile makes it
    fail with ORCS_EEXIST and the change is tried again on fresh bytes. */
#include "orcs/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"
#include "records.pb.h"

#define S_TRIES     3 // compare-and-set attempts of a change
#define S_EV_RUN    1 // CheckpointRecord.event: the run's status changed
#define S_CANCELLED "cancelled on request"

// ---------------------------------------------------------------------------
// Keys and names

size_t
orcs_runs_key(
    char *buf, size_t size, const char *run_id, char part, const char *name)
{
    bool output = part == ORCS_RUNS_PART_OUTPUT && name;
    size_t n = strlen(run_id);
    size_t m = name ? strlen(name) : 0;
    size_t need = n + 2 + (name ? 1 + m : 0) + (output ? 2 : 0);
    if (need > size || need > ORCS_STORE_KEY_MAX)
        return 0;
    memcpy(buf, run_id, n);
    buf[n] = 0;
    buf[n + 1] = output ? ORCS_RUNS_PART_TASK : part;
    if (name) {
        buf[n + 2] = 0;
        memcpy(buf + n + 3, name, m);
    }
    if (output) { // beside the task's record: RUN \0 t \0 TASK \0 o
        buf[n + 3 + m] = 0;
        buf[n + 4 + m] = ORCS_RUNS_PART_OUTPUT;
    }
    return need;
}

size_t
orcs_runs_checkpoint_key(char *buf,
                         size_t size,
                         const char *run_id,
                         const char *task_id,
                         uint64_t seq)
{
    bool task = task_id && *task_id;
    size_t n =
        task
            ? orcs_runs_key(buf, size, run_id, ORCS_RUNS_PART_TASK, task_id)
            : orcs_runs_key(buf, size, run_id, ORCS_RUNS_PART_CHECKPOINT, NULL);
    size_t need = n + (task ? 10 : 8);
    if (!n || need > size || need > ORCS_STORE_KEY_MAX)
        return 0;
    if (task) { // RUN \0 t \0 TASK \0 c SEQ; else RUN \0 c SEQ
        buf[n++] = 0;
        buf[n++] = ORCS_RUNS_PART_CHECKPOINT;
    }
    for (int i = 0; i < 8; i++)
        buf[n++] = (char) (seq >> (56 - 8 * i));
    return n;
}

uint64_t
orcs_runs_checkpoint_seq(const void *key, size_t key_size)
{
    if (key_size < 8)
        return 0;
    const uint8_t *k = (const uint8_t *) key + key_size - 8;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | k[i];
    return seq;
}

orcs_status
orcs_runs_key_split(const void *key,
                    size_t key_size,
                    size_t prefix,
                    char *part_p,
                    const char **name_p,
                    size_t *name_size_p)
{
    const char *k = key;
    *part_p = 0;
    *name_p = NULL;
    *name_size_p = 0;
    if (key_size <= prefix)
        return ORCS_ENOTFOUND;
    char part = k[prefix];
    size_t rest = key_size - prefix - 1; // bytes after the part
    if (part == ORCS_RUNS_PART_CHECKPOINT && rest == 8) {
        *part_p = part; // the run's own: RUN \0 c SEQ
        return ORCS_OK;
    }
    if (rest == 0) {
        *part_p = part;
        return ORCS_OK;
    }
    if (rest < 2 || k[prefix + 1] != 0)
        return ORCS_ENOTFOUND;
    const char *name = k + prefix + 2;
    size_t size = rest - 1;
    // A task's checkpoint first: its SEQ may end in the bytes \0 o.
    if (part == ORCS_RUNS_PART_TASK && size > 10 && name[size - 10] == 0
        && name[size - 9] == ORCS_RUNS_PART_CHECKPOINT) {
        part = ORCS_RUNS_PART_CHECKPOINT;
        size -= 10;
    } else if (part == ORCS_RUNS_PART_TASK && size > 2 && name[size - 2] == 0
               && name[size - 1] == ORCS_RUNS_PART_OUTPUT) {
        part = ORCS_RUNS_PART_OUTPUT;
        size -= 2;
    }
    if (memchr(name, 0, size))
        return ORCS_EPROTO;
    *part_p = part;
    *name_p = name;
    *name_size_p = size;
    return ORCS_OK;
}

typedef struct {
    orcs_record_status status;
    const char *run;  // name for a run (NULL: none)
    const char *task; // name for a task (NULL: none)
} s_name_t;

static const s_name_t s_names[] = {
    {ORCS_RECORD_PENDING, "queued", "pending"},
    {ORCS_RECORD_RUNNING, "running", "running"},
    {ORCS_RECORD_PAUSED, "paused", NULL},
    {ORCS_RECORD_WAITING, "waiting_approval", "waiting"},
    {ORCS_RECORD_SUCCEEDED, "completed", "completed"},
    {ORCS_RECORD_FAILED, "failed", "failed"},
    {ORCS_RECORD_CANCELED, "cancelled", "cancelled"},
    {ORCS_RECORD_SKIPPED, NULL, "skipped"},
    {ORCS_RECORD_INDETERMINATE, NULL, "indeterminate"},
};

#define S_NAMES_COUNT (sizeof s_names / sizeof s_names[0])

const char *
orcs_runs_status_name(orcs_record_status status, bool is_run)
{
    for (size_t i = 0; i < S_NAMES_COUNT; i++)
        if (s_names[i].status == status)
            return is_run ? s_names[i].run : s_names[i].task;
    return NULL;
}

orcs_status
orcs_runs_status_parse(const char *name,
                       bool is_run,
                       orcs_record_status *status_p)
{
    *status_p = ORCS_RECORD_UNSET;
    for (size_t i = 0; name && i < S_NAMES_COUNT; i++) {
        const char *candidate = is_run ? s_names[i].run : s_names[i].task;
        if (candidate && strcmp(candidate, name) == 0) {
            *status_p = s_names[i].status;
            return ORCS_OK;
        }
    }
    return ORCS_EINVAL;
}

bool
orcs_runs_status_is_final(orcs_record_status status)
{
    return status == ORCS_RECORD_SUCCEEDED || status == ORCS_RECORD_FAILED
           || status == ORCS_RECORD_CANCELED || status == ORCS_RECORD_SKIPPED;
}

static bool
s_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= ORCS_RUNS_ID_MAX;
}

// A name for logs: the status's, or its number.
static const char *
s_status_text(uint32_t status, bool is_run, char *buf, size_t size)
{
    const char *name =
        status <= ORCS_RECORD_PAUSED
            ? orcs_runs_status_name((orcs_record_status) status, is_run)
            : NULL;
    if (name)
        return name;
    snprintf(buf, size, "status-%u", (unsigned) status);
    return buf;
}

// ---------------------------------------------------------------------------
// The view

// A record's string as JSON; bytes that are not UTF-8 (damage) become '?'.
static json_t *
s_text(const char *text)
{
    json_t *string = json_string(text);
    if (string)
        return string;
    char copy[ORCS_STORE_KEY_MAX + 1];
    snprintf(copy, sizeof copy, "%s", text);
    for (char *c = copy; *c; c++)
        if ((unsigned char) *c >= 0x80)
            *c = '?';
    return json_string(copy);
}

typedef struct {
    const char *run; // run id
    size_t prefix;   // bytes of RUN\0
    json_t *def;     // RUN\0d
    json_t *tasks;   // task id -> entry (records decoded into view entries)
    json_t *items;   // parent id -> {"total", "done"}
    json_t *approvals;
    json_t *result; // RUN\0r
    orcs_status rc; // ORCS_EPROTO once something is damaged
} s_view_t;

static void
s_damaged(s_view_t *view, const char *what, const char *name)
{
    orcs_log_warn("runs", "run=%s damaged %s%s%s", view->run, what,
                  name ? " id=" : "", name ? name : "");
    view->rc = ORCS_EPROTO;
}

// The view entry of one task record.
static json_t *
s_task_entry(const TaskRecord *record)
{
    char buf[32];
    return json_pack("{s:s, s:o, s:I, s:I, s:I, s:o}", "status",
                     s_status_text(record->status, false, buf, sizeof buf),
                     "kind", s_text(record->actor), "attempts",
                     (json_int_t) record->attempt, "started_us",
                     (json_int_t) record->started_us, "finished_us",
                     (json_int_t) record->finished_us, "error",
                     record->error ? s_text(record->detail) : json_null());
}

// A map item ("ID[N]") or loop round ("ID#N") counts into its parent.
static bool
s_count_child(s_view_t *view, const char *id, const TaskRecord *record)
{
    size_t n = strcspn(id, "[#");
    if (id[n] == 0 || n == 0)
        return false;
    char parent[ORCS_STORE_KEY_MAX + 1]; // id is a key's part
    memcpy(parent, id, n);
    parent[n] = 0;
    json_t *items = json_object_get(view->items, parent);
    if (!items) {
        items = json_pack("{s:i, s:i}", "total", 0, "done", 0);
        if (json_object_set_new(view->items, parent, items) != 0)
            return true; // a name that is not UTF-8: not shown
    }
    json_object_set_new(
        items, "total",
        json_integer(json_integer_value(json_object_get(items, "total")) + 1));
    if (orcs_runs_status_is_final((orcs_record_status) record->status))
        json_object_set_new(
            items, "done",
            json_integer(json_integer_value(json_object_get(items, "done"))
                         + 1));
    return true;
}

static void
s_view_task(s_view_t *view, const char *name, const void *value, size_t size)
{
    TaskRecord record;
    if (orcs_task_record_decode(value, size, &record) != ORCS_OK) {
        s_damaged(view, "task record", name);
        return;
    }
    if (!s_count_child(view, name, &record))
        json_object_set_new(view->tasks, name, s_task_entry(&record));
}

static json_t *
s_view_doc(s_view_t *view,
           const char *what,
           const char *name,
           const void *v,
           size_t size)
{
    json_t *doc = NULL;
    if (orcs_doc_decode(v, size, NULL, &doc) != ORCS_OK) {
        s_damaged(view, what, name);
        return NULL;
    }
    return doc;
}

// One key of RUN\0... in `tasks`.
static bool
s_view_entry(const void *key,
             size_t key_size,
             const void *value,
             size_t value_size,
             void *arg)
{
    s_view_t *view = arg;
    char part;
    const char *at;
    size_t size;
    orcs_status rc =
        orcs_runs_key_split(key, key_size, view->prefix, &part, &at, &size);
    if (rc == ORCS_ENOTFOUND)
        return true; // not a key of the layout: not ours to judge
    if (rc != ORCS_OK) {
        s_damaged(view, "key", NULL);
        return false;
    }
    if (!at) {
        if (part == ORCS_RUNS_PART_DEF && !view->def)
            view->def = s_view_doc(view, "definition", NULL, value, value_size);
        else if (part == ORCS_RUNS_PART_RESULT && !view->result)
            view->result = s_view_doc(view, "result", NULL, value, value_size);
        return view->rc == ORCS_OK;
    }
    char name[ORCS_STORE_KEY_MAX + 1];
    memcpy(name, at, size);
    name[size] = 0;
    if (part == ORCS_RUNS_PART_TASK)
        s_view_task(view, name, value, value_size);
    else if (part == ORCS_RUNS_PART_APPROVAL) {
        json_t *doc = s_view_doc(view, "approval", name, value, value_size);
        if (doc && !json_is_object(doc))
            s_damaged(view, "approval", name);
        if (view->rc == ORCS_OK)
            json_array_append(view->approvals, doc);
        json_decref(doc);
    }
    return view->rc == ORCS_OK;
}

// The nodes of the stored workflow, each "pending" until a record says
// otherwise, then the records (of nodes the workflow may not have, e.g.
// before a plan was made).
static json_t *
s_view_nodes(s_view_t *view)
{
    json_t *nodes = json_object();
    const char *id;
    json_t *node;
    json_object_foreach(
        json_object_get(json_object_get(view->def, "workflow"), "nodes"), id,
        node)
    {
        const char *kind = json_string_value(json_object_get(node, "kind"));
        json_t *entry = json_pack("{s:s, s:s?, s:i, s:i, s:i, s:n}", "status",
                                  "pending", "kind", kind, "attempts", 0,
                                  "started_us", 0, "finished_us", 0, "error");
        json_object_set_new(nodes, id, entry);
    }
    json_t *entry;
    json_object_foreach(view->tasks, id, entry)
        json_object_set(nodes, id, entry);
    json_object_foreach(view->items, id, entry)
    {
        json_t *target = json_object_get(nodes, id);
        if (target)
            json_object_set(target, "items", entry);
    }
    return nodes;
}

static json_t *
s_view_build(s_view_t *view, const RunRecord *record)
{
    const json_t *usage = json_object_get(view->result, "usage");
    const json_t *output = json_object_get(view->result, "output");
    char buf[32];
    json_t *result = json_pack(
        "{s:o, s:o, s:s, s:o, s:O, s:O, s:o, s:{s:I, s:I, s:I, s:f}, s:I, "
        "s:I, s:I, s:I, s:o}",
        "id", s_text(record->id), "workflow", s_text(record->workflow),
        "status", s_status_text(record->status, true, buf, sizeof buf), "nodes",
        s_view_nodes(view), "approvals", view->approvals, "output",
        output && record->status == ORCS_RECORD_SUCCEEDED ? output
                                                          : json_null(),
        "error", record->error ? s_text(record->detail) : json_null(), "usage",
        "prompt_tokens",
        json_integer_value(json_object_get(usage, "prompt_tokens")),
        "completion_tokens",
        json_integer_value(json_object_get(usage, "completion_tokens")),
        "requests", json_integer_value(json_object_get(usage, "requests")),
        "cost", json_number_value(json_object_get(usage, "cost")), "created_us",
        (json_int_t) record->created_us, "updated_us",
        (json_int_t) record->updated_us, "finished_us",
        (json_int_t) record->finished_us, "attempt",
        (json_int_t) record->attempt, "node", s_text(record->node));
    return result;
}

orcs_status
orcs_runs_view(orcs_store_t *store, const char *run_id, json_t **view_p)
{
    *view_p = NULL;
    if (!s_id_ok(run_id))
        return ORCS_EINVAL;
    size_t n = strlen(run_id);
    char prefix[ORCS_RUNS_ID_MAX + 2];
    memcpy(prefix, run_id, n);
    prefix[n] = 0;
    s_view_t view = {.run = run_id,
                     .prefix = n + 1,
                     .tasks = json_object(),
                     .items = json_object(),
                     .approvals = json_array()};
    RunRecord record;
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(store, &txn);
    if (rc == ORCS_OK) {
        const void *value = NULL;
        size_t size = 0;
        rc = orcs_store_txn_get(txn, ORCS_DB_RUNS, run_id, n, &value, &size);
        if (rc == ORCS_OK
            && orcs_run_record_decode(value, size, &record) != ORCS_OK) {
            s_damaged(&view, "run record", NULL);
            rc = ORCS_EPROTO;
        }
        if (rc == ORCS_OK)
            rc = orcs_store_txn_scan(txn, ORCS_DB_TASKS, prefix, n + 1,
                                     s_view_entry, &view);
        orcs_store_txn_end(&txn);
    }
    if (rc == ORCS_OK)
        rc = view.rc;
    if (rc == ORCS_OK)
        *view_p = s_view_build(&view, &record);
    json_decref(view.def);
    json_decref(view.tasks);
    json_decref(view.items);
    json_decref(view.approvals);
    json_decref(view.result);
    return rc;
}

// ---------------------------------------------------------------------------
// The list

typedef struct {
    int64_t created_us;
    json_t *entry;
} s_listed_t;

typedef struct {
    orcs_record_status want; // UNSET = every status
    s_listed_t *runs;
    size_t count, size;
    size_t damaged;
} s_list_t;

static bool
s_list_entry(const void *key,
             size_t key_size,
             const void *value,
             size_t value_size,
             void *arg)
{
    s_list_t *list = arg;
    if (key_size == 0 || key_size > ORCS_RUNS_ID_MAX
        || memchr(key, 0, key_size))
        return true; // not a run id of the layout
    RunRecord record;
    if (orcs_run_record_decode(value, value_size, &record) != ORCS_OK) {
        orcs_log_warn("runs", "damaged run record (key of %zu bytes)",
                      key_size);
        list->damaged++;
        return true;
    }
    if (list->want != ORCS_RECORD_UNSET && record.status != list->want)
        return true;
    if (list->count == list->size) {
        list->size = list->size ? list->size * 2 : 64;
        list->runs = orcs_realloc(list->runs, list->size * sizeof *list->runs);
    }
    char buf[32];
    json_t *entry =
        json_pack("{s:s%, s:s, s:s, s:I, s:I}", "id", (const char *) key,
                  key_size, "workflow", record.workflow, "status",
                  s_status_text(record.status, true, buf, sizeof buf),
                  "created_us", (json_int_t) record.created_us, "updated_us",
                  (json_int_t) record.updated_us);
    if (!entry) { // a key that is not UTF-8
        list->damaged++;
        return true;
    }
    list->runs[list->count].created_us = record.created_us;
    list->runs[list->count++].entry = entry;
    return true;
}

static int
s_newest_first(const void *a, const void *b)
{
    const s_listed_t *x = a, *y = b;
    if (x->created_us != y->created_us)
        return x->created_us < y->created_us ? 1 : -1;
    return strcmp(json_string_value(json_object_get(y->entry, "id")),
                  json_string_value(json_object_get(x->entry, "id")));
}

orcs_status
orcs_runs_list(orcs_store_t *store,
               const char *status,
               size_t limit,
               json_t **list_p)
{
    *list_p = NULL;
    s_list_t list = {0};
    if (status && orcs_runs_status_parse(status, true, &list.want) != ORCS_OK)
        return ORCS_EINVAL;
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(store, &txn);
    if (rc == ORCS_OK) {
        rc = orcs_store_txn_scan(txn, ORCS_DB_RUNS, NULL, 0, s_list_entry,
                                 &list);
        orcs_store_txn_end(&txn);
    }
    if (list.count)
        qsort(list.runs, list.count, sizeof *list.runs, s_newest_first);
    json_t *runs = json_array();
    for (size_t i = 0; i < list.count; i++) {
        if (rc == ORCS_OK && (limit == 0 || i < limit))
            json_array_append(runs, list.runs[i].entry);
        json_decref(list.runs[i].entry);
    }
    free(list.runs);
    if (rc == ORCS_OK)
        *list_p = json_pack("{s:o, s:I}", "runs", runs, "damaged",
                            (json_int_t) list.damaged);
    else
        json_decref(runs);
    return rc;
}

// ---------------------------------------------------------------------------
// Offline changes

// A value read in a snapshot, copied out.
typedef struct {
    void *data;
    size_t size;
} s_bytes_t;

static orcs_status
s_read(orcs_store_txn_t *txn,
       orcs_db db,
       const void *key,
       size_t key_size,
       s_bytes_t *out)
{
    const void *value = NULL;
    size_t size = 0;
    orcs_status rc = orcs_store_txn_get(txn, db, key, key_size, &value, &size);
    if (rc != ORCS_OK)
        return rc;
    out->data = orcs_malloc(size ? size : 1);
    memcpy(out->data, value, size);
    out->size = size;
    return ORCS_OK;
}

// Puts doc at key if the key still holds old (compare-and-set).
static orcs_status
s_swap_doc(orcs_batch_t *batch,
           const char *key,
           size_t key_size,
           const s_bytes_t *old,
           const json_t *doc)
{
    uint8_t *data = NULL;
    size_t size = 0;
    orcs_status rc = orcs_doc_encode(doc, &data, &size);
    if (rc == ORCS_OK)
        rc = orcs_batch_check(batch, ORCS_DB_TASKS, key, key_size,
                              old ? old->data : NULL, old ? old->size : 0);
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_TASKS, key, key_size, data, size);
    free(data);
    return rc;
}

// True for NULL or a UTF-8 string (what a document may hold).
static bool
s_utf8(const char *text)
{
    json_t *string = text ? json_string(text) : NULL;
    bool ok = !text || string;
    json_decref(string);
    return ok;
}

// One try of orcs_runs_decide: builds the batch from a snapshot.
static orcs_status
s_decide_batch(orcs_store_t *store,
               const char *run_id,
               const char *approval_id,
               bool approve,
               const char *reason,
               const char *by,
               orcs_batch_t *batch)
{
    char key[ORCS_STORE_KEY_MAX + 1];
    size_t key_size = orcs_runs_key(key, sizeof key, run_id,
                                    ORCS_RUNS_PART_APPROVAL, approval_id);
    if (!key_size)
        return ORCS_EINVAL;
    s_bytes_t old = {0};
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(store, &txn);
    if (rc == ORCS_OK) {
        const void *value = NULL;
        size_t size = 0;
        rc = orcs_store_txn_get(txn, ORCS_DB_RUNS, run_id, strlen(run_id),
                                &value, &size);
        if (rc == ORCS_OK)
            rc = s_read(txn, ORCS_DB_TASKS, key, key_size, &old);
        orcs_store_txn_end(&txn);
    }
    json_t *doc = NULL;
    if (rc == ORCS_OK
        && (orcs_doc_decode(old.data, old.size, NULL, &doc) != ORCS_OK
            || !json_is_object(doc))) {
        orcs_log_warn("runs", "run=%s damaged approval id=%s", run_id,
                      approval_id);
        rc = ORCS_EPROTO;
    }
    if (rc == ORCS_OK) {
        const char *state = json_string_value(json_object_get(doc, "state"));
        if (!state || strcmp(state, "pending") != 0)
            rc = ORCS_EEXIST;
    }
    if (rc == ORCS_OK) {
        orcs_runs_approval_mark(doc, approve, by, reason);
        rc = s_swap_doc(batch, key, key_size, &old, doc);
        if (rc != ORCS_OK) // by, reason not UTF-8, or too big
            rc = ORCS_EINVAL;
    }
    json_decref(doc);
    free(old.data);
    return rc;
}

void
orcs_runs_approval_mark(json_t *approval,
                        bool approve,
                        const char *by,
                        const char *reason)
{
    orcs_assert(approval);
    json_object_set_new(approval, "state",
                        json_string(approve ? "approved" : "rejected"));
    json_object_set_new(approval, "by", json_string(by ? by : "cli"));
    json_object_set_new(approval, "reason", json_string(reason ? reason : ""));
    json_object_set_new(approval, "decided_us",
                        json_integer(orcs_clock_wall_us()));
}

orcs_status
orcs_runs_decide(orcs_store_t *store,
                 const char *run_id,
                 const char *approval_id,
                 bool approve,
                 const char *reason,
                 const char *by)
{
    if (!s_id_ok(run_id) || !approval_id || !approval_id[0])
        return ORCS_EINVAL;
    if (!s_utf8(reason) || !s_utf8(by))
        return ORCS_EINVAL;
    orcs_status rc = ORCS_EEXIST;
    for (int i = 0; i < S_TRIES && rc == ORCS_EEXIST; i++) {
        orcs_batch_t *batch = orcs_batch_new();
        rc = s_decide_batch(store, run_id, approval_id, approve, reason, by,
                            batch);
        if (rc != ORCS_OK) {
            orcs_batch_destroy(&batch);
            return rc; // EEXIST here: no longer pending
        }
        rc = orcs_store_write(store, &batch); // EEXIST: changed meanwhile
    }
    return rc;
}

typedef struct {
    const char *run;
    size_t prefix;
    int64_t now;
    orcs_batch_t *batch;
    orcs_status rc;
    json_t *usage; // the usage so far (RUN\0r), or NULL
} s_cancel_t;

// Cancels an unfinished task record or a pending approval of the run.
static bool
s_cancel_entry(const void *key,
               size_t key_size,
               const void *value,
               size_t value_size,
               void *arg)
{
    s_cancel_t *c = arg;
    const char *k = key;
    if (key_size == c->prefix + 1 && k[c->prefix] == ORCS_RUNS_PART_RESULT) {
        json_t *result = NULL; // a damaged one only loses the usage
        if (orcs_doc_decode(value, value_size, NULL, &result) == ORCS_OK)
            c->usage = json_incref(json_object_get(result, "usage"));
        json_decref(result);
        return true;
    }
    char part;
    const char *name;
    size_t name_size;
    if (orcs_runs_key_split(key, key_size, c->prefix, &part, &name, &name_size)
            != ORCS_OK
        || !name)
        return true;
    s_bytes_t old = {(void *) value, value_size};
    if (part == ORCS_RUNS_PART_TASK) {
        TaskRecord record;
        if (orcs_task_record_decode(value, value_size, &record) != ORCS_OK) {
            c->rc = ORCS_EPROTO;
            orcs_log_warn("runs", "run=%s damaged task record", c->run);
            return false;
        }
        if (orcs_runs_status_is_final((orcs_record_status) record.status))
            return true;
        record.status = ORCS_RECORD_CANCELED;
        record.finished_us = c->now;
        uint8_t *data = NULL;
        size_t size = 0;
        c->rc = orcs_task_record_encode(&record, &data, &size);
        if (c->rc == ORCS_OK)
            c->rc = orcs_batch_check(c->batch, ORCS_DB_TASKS, key, key_size,
                                     value, value_size);
        if (c->rc == ORCS_OK)
            c->rc = orcs_batch_put(c->batch, ORCS_DB_TASKS, key, key_size, data,
                                   size);
        free(data);
    } else if (part == ORCS_RUNS_PART_APPROVAL) {
        json_t *doc = NULL;
        if (orcs_doc_decode(value, value_size, NULL, &doc) != ORCS_OK) {
            c->rc = ORCS_EPROTO;
            orcs_log_warn("runs", "run=%s damaged approval", c->run);
            return false;
        }
        const char *state = json_string_value(json_object_get(doc, "state"));
        if (json_is_object(doc) && state && strcmp(state, "pending") == 0) {
            json_object_set_new(doc, "state", json_string("cancelled"));
            c->rc = s_swap_doc(c->batch, key, key_size, &old, doc);
        }
        json_decref(doc);
    }
    return c->rc == ORCS_OK;
}

// The run's result as the orchestrator writes it when a run finishes,
// with the usage so far (usage NULL: none).
static orcs_status
s_put_cancel_result(orcs_batch_t *batch,
                    const char *run_id,
                    const json_t *usage)
{
    char key[ORCS_STORE_KEY_MAX + 1];
    size_t key_size =
        orcs_runs_key(key, sizeof key, run_id, ORCS_RUNS_PART_RESULT, NULL);
    json_t *result = json_pack(
        "{s:n, s:s, s:{s:I, s:I, s:I, s:f}}", "output", "error", S_CANCELLED,
        "usage", "prompt_tokens",
        json_integer_value(json_object_get(usage, "prompt_tokens")),
        "completion_tokens",
        json_integer_value(json_object_get(usage, "completion_tokens")),
        "requests", json_integer_value(json_object_get(usage, "requests")),
        "cost", json_number_value(json_object_get(usage, "cost")));
    uint8_t *data = NULL;
    size_t size = 0;
    orcs_status rc = orcs_doc_encode(result, &data, &size);
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_TASKS, key, key_size, data, size);
    free(data);
    json_decref(result);
    return rc;
}

// Appends the checkpoint of a status change (key RUN\0SEQ big-endian).
static orcs_status
s_put_checkpoint(orcs_batch_t *batch, const RunRecord *run)
{
    CheckpointRecord record = CheckpointRecord_init_zero;
    snprintf(record.run_id, sizeof record.run_id, "%s", run->id);
    record.seq = run->checkpoint_seq;
    record.time_us = run->updated_us;
    record.event = S_EV_RUN;
    record.status = run->status;
    record.actor[0] = 0;
    snprintf(record.detail, sizeof record.detail, "%s offline",
             orcs_runs_status_name((orcs_record_status) run->status, true));
    char key[ORCS_RUNS_ID_MAX + 16];
    size_t n = orcs_runs_checkpoint_key(key, sizeof key, run->id, NULL,
                                        run->checkpoint_seq);
    uint8_t *data = NULL;
    size_t size = 0;
    orcs_status rc =
        n ? orcs_checkpoint_record_encode(&record, &data, &size) : ORCS_EINVAL;
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_TASKS, key, n, data, size);
    free(data);
    return rc;
}

typedef struct {
    size_t prefix; // bytes of RUN \0
    bool legacy;   // scanning `checkpoints`, not `tasks`
    uint64_t last; // the highest checkpoint seq seen
} s_last_t;

// The highest checkpoint seq of a run: among its keys in `tasks`, and in
// `checkpoints` (RUN \0 SEQ: stores written before checkpoints moved).
static bool
s_last_seq(const void *key,
           size_t key_size,
           const void *value,
           size_t value_size,
           void *arg)
{
    (void) value, (void) value_size;
    s_last_t *last = arg;
    char part = ORCS_RUNS_PART_CHECKPOINT;
    const char *name;
    size_t size;
    if (last->legacy ? key_size != last->prefix + 8
                     : orcs_runs_key_split(key, key_size, last->prefix, &part,
                                           &name, &size)
                               != ORCS_OK
                           || part != ORCS_RUNS_PART_CHECKPOINT)
        return true;
    uint64_t seq = orcs_runs_checkpoint_seq(key, key_size);
    if (seq > last->last)
        last->last = seq;
    return true;
}

// A cancel's one pass over the run's keys in `tasks`: the last checkpoint
// seq, and the task records and approvals to cancel.
typedef struct {
    s_last_t *last;
    s_cancel_t *cancel;
} s_cancel_scan_t;

static bool
s_cancel_scan(const void *key,
              size_t key_size,
              const void *value,
              size_t value_size,
              void *arg)
{
    s_cancel_scan_t *scan = arg;
    s_last_seq(key, key_size, value, value_size, scan->last);
    return s_cancel_entry(key, key_size, value, value_size, scan->cancel);
}

// One try of orcs_runs_set_status. *done_p is set when nothing is to do.
static orcs_status
s_status_batch(orcs_store_t *store,
               const char *run_id,
               orcs_record_status status,
               orcs_batch_t *batch,
               bool *done_p)
{
    size_t n = strlen(run_id);
    char prefix[ORCS_RUNS_ID_MAX + 2];
    memcpy(prefix, run_id, n);
    prefix[n] = 0;
    s_bytes_t old = {0};
    RunRecord record;
    s_cancel_t cancel = {.run = run_id,
                         .prefix = n + 1,
                         .now = orcs_clock_wall_us(),
                         .batch = batch};
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(store, &txn);
    if (rc == ORCS_OK)
        rc = s_read(txn, ORCS_DB_RUNS, run_id, n, &old);
    if (rc == ORCS_OK
        && orcs_run_record_decode(old.data, old.size, &record) != ORCS_OK) {
        orcs_log_warn("runs", "run=%s damaged run record", run_id);
        rc = ORCS_EPROTO;
    }
    if (rc == ORCS_OK
        && orcs_runs_status_is_final((orcs_record_status) record.status))
        rc = ORCS_EINVAL;
    *done_p = rc == ORCS_OK && record.status == status;
    // The run record holds the sequence as of its last status change; the
    // steps since then appended checkpoints after it.
    s_last_t last = {.prefix = n + 1, .legacy = true};
    if (rc == ORCS_OK && !*done_p)
        rc = orcs_store_txn_scan(txn, ORCS_DB_CHECKPOINTS, prefix, n + 1,
                                 s_last_seq, &last);
    last.legacy = false;
    if (rc == ORCS_OK && !*done_p && status == ORCS_RECORD_CANCELED) {
        s_cancel_scan_t scan = {&last, &cancel};
        rc = orcs_store_txn_scan(txn, ORCS_DB_TASKS, prefix, n + 1,
                                 s_cancel_scan, &scan);
        if (rc == ORCS_OK)
            rc = cancel.rc;
        if (rc == ORCS_OK)
            rc = s_put_cancel_result(batch, run_id, cancel.usage);
    } else if (rc == ORCS_OK && !*done_p)
        rc = orcs_store_txn_scan(txn, ORCS_DB_TASKS, prefix, n + 1, s_last_seq,
                                 &last);
    uint64_t last_seq = last.last;
    json_decref(cancel.usage);
    orcs_store_txn_end(&txn);
    if (rc == ORCS_OK && !*done_p) {
        record.status = status;
        record.updated_us = cancel.now;
        if (last_seq > record.checkpoint_seq)
            record.checkpoint_seq = last_seq;
        record.checkpoint_seq++;
        if (status == ORCS_RECORD_CANCELED) {
            record.finished_us = cancel.now;
            record.error = ORCS_ECANCELED;
            snprintf(record.detail, sizeof record.detail, "%s", S_CANCELLED);
        }
        uint8_t *data = NULL;
        size_t size = 0;
        rc = orcs_run_record_encode(&record, &data, &size);
        if (rc == ORCS_OK)
            rc = orcs_batch_check(batch, ORCS_DB_RUNS, run_id, n, old.data,
                                  old.size);
        if (rc == ORCS_OK)
            rc = orcs_batch_put(batch, ORCS_DB_RUNS, run_id, n, data, size);
        if (rc == ORCS_OK)
            rc = s_put_checkpoint(batch, &record);
        free(data);
    }
    free(old.data);
    return rc;
}

orcs_status
orcs_runs_set_status(orcs_store_t *store,
                     const char *run_id,
                     orcs_record_status status)
{
    if (!s_id_ok(run_id)
        || (status != ORCS_RECORD_CANCELED && status != ORCS_RECORD_PAUSED
            && status != ORCS_RECORD_RUNNING))
        return ORCS_EINVAL;
    orcs_status rc = ORCS_EEXIST;
    for (int i = 0; i < S_TRIES && rc == ORCS_EEXIST; i++) {
        orcs_batch_t *batch = orcs_batch_new();
        bool done = false;
        rc = s_status_batch(store, run_id, status, batch, &done);
        if (rc != ORCS_OK || done) {
            orcs_batch_destroy(&batch);
            return rc;
        }
        rc = orcs_store_write(store, &batch);
    }
    return rc;
}
