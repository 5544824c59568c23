/*  actors/orchestrator/resume.c — after a crash: load every unfinished run
    from the store and go on (docs/workflows.md "Durable runs").
    SPDX-License-Identifier: MPL-2.0

    Completed tasks keep their outputs and are not run again. A task found
    `running` was in flight: when it is idempotent it runs again with the
    same idempotency key; otherwise it is `indeterminate` and its
    on_indeterminate policy applies. Approvals decided while no node ran
    (`orcs approve` on the store) are applied. */
#include <stdio.h>
#include <string.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/runs.h"
#include "orcs/sys.h"
#include "orcs/tools.h"
#include "records.pb.h"

typedef struct {
    json_t *ids; // unfinished run ids
} s_scan_t;

static bool
s_collect(const void *key,
          size_t key_size,
          const void *value,
          size_t value_size,
          void *arg)
{
    s_scan_t *scan = arg;
    RunRecord record;
    if (orcs_run_record_decode(value, value_size, &record) != ORCS_OK) {
        orcs_log_warn("orchestrator",
                      "a damaged run record (%zu bytes) "
                      "is skipped",
                      key_size);
        return true;
    }
    if (!o_final(record.status) && memchr(key, 0, key_size) == NULL)
        json_array_append_new(scan->ids, json_stringn(key, key_size));
    return true;
}

typedef struct {
    json_t *tasks;     // id -> {"record": bytes}
    json_t *outputs;   // id -> output
    json_t *approvals; // id -> approval
    json_t *def;
    json_t *usage;     // from RUN\0r: the usage so far
    uint64_t last_seq; // the highest checkpoint seq among the keys
    size_t prefix;     // bytes of RUN\0
    bool damaged;
} s_load_t;

static bool
s_load_entry(const void *key,
             size_t key_size,
             const void *value,
             size_t value_size,
             void *arg)
{
    s_load_t *load = arg;
    char part;
    const char *at;
    size_t size;
    orcs_status rc =
        orcs_runs_key_split(key, key_size, load->prefix, &part, &at, &size);
    if (rc != ORCS_OK) {
        load->damaged = load->damaged || rc == ORCS_EPROTO;
        return true;
    }
    if (part == ORCS_RUNS_PART_CHECKPOINT) {
        uint64_t seq = orcs_runs_checkpoint_seq(key, key_size);
        if (seq > load->last_seq)
            load->last_seq = seq;
        return true;
    }
    if (!at && part == ORCS_RUNS_PART_DEF) {
        if (orcs_doc_decode(value, value_size, NULL, &load->def) != ORCS_OK)
            load->damaged = true;
        return true;
    }
    if (!at && part == ORCS_RUNS_PART_RESULT) {
        json_t *result = NULL;
        if (orcs_doc_decode(value, value_size, NULL, &result) == ORCS_OK)
            load->usage = json_incref(json_object_get(result, "usage"));
        else
            load->damaged = true;
        json_decref(result);
        return true;
    }
    if (!at)
        return true;
    json_t *name = json_stringn(at, size);
    const char *id = json_string_value(name);
    bool doc_part =
        part == ORCS_RUNS_PART_OUTPUT || part == ORCS_RUNS_PART_APPROVAL;
    json_t *doc = NULL;
    if (!id)
        load->damaged = true; // not UTF-8: no task of ours
    else if (part == ORCS_RUNS_PART_TASK)
        json_object_set_new(load->tasks, id,
                            orcs_doc_binary_new(value, value_size));
    else if (doc_part
             && orcs_doc_decode(value, value_size, NULL, &doc) == ORCS_OK)
        json_object_set_new(part == ORCS_RUNS_PART_OUTPUT ? load->outputs
                                                          : load->approvals,
                            id, doc);
    else if (doc_part)
        load->damaged = true;
    json_decref(name);
    return true;
}

// Keeps the sequence of the last checkpoint key in `checkpoints` (RUN \0
// SEQ, big-endian), where stores written before checkpoints moved beside
// their tasks keep them.
static bool
s_legacy_last_seq(const void *key,
                  size_t key_size,
                  const void *value,
                  size_t value_size,
                  void *arg)
{
    (void) value, (void) value_size;
    if (key_size >= 8) // keys sort by seq: the last one wins
        *(uint64_t *) arg = orcs_runs_checkpoint_seq(key, key_size);
    return true;
}

// Whether the task may run again after a crash.
static bool
s_idempotent(o_state_t *self, const o_task_t *task)
{
    const orcs_wf_node_t *node = task->node;
    if (node->idempotent_set || node->kind != ORCS_WF_TOOL)
        return node->idempotent;
    orcs_tools_t *tools = orcs_node_tools(self->node);
    orcs_toolset_t *set = tools ? orcs_tools_acquire(tools) : NULL;
    const orcs_tool_t *tool = set ? orcs_toolset_find(set, node->tool) : NULL;
    bool idempotent = tool && tool->idempotent;
    orcs_toolset_release(&set);
    return idempotent;
}

// Sets a task from its record (and output); returns false for damage.
static bool
s_apply_record(o_task_t *task, const json_t *bytes, const json_t *outputs)
{
    size_t size = 0;
    const uint8_t *data = orcs_doc_binary_data(bytes, &size);
    TaskRecord record;
    if (!data || orcs_task_record_decode(data, size, &record) != ORCS_OK)
        return false;
    task->status = record.status;
    task->attempt = record.attempt;
    task->created_us = record.created_us;
    task->started_us = record.started_us;
    task->finished_us = record.finished_us;
    task->error = record.error;
    o_task_set_detail(task, "%s", record.detail);
    if (record.status == ORCS_RECORD_PENDING
        && strcmp(record.detail, "routed") == 0)
        task->chosen = true;
    if (record.status == ORCS_RECORD_SUCCEEDED) {
        json_t *output = json_object_get(outputs, task->id);
        task->output = json_incref(output ? output : json_null());
    }
    return true;
}

// A task found running or waiting: decide what happens now.
static void
s_reawaken(o_state_t *self, o_task_t *task)
{
    o_run_t *run = task->run;
    if (task->status == ORCS_RECORD_WAITING) {
        // Parked on an approval: still pending, or decided meanwhile. A
        // task asked before (an indeterminate call approved, then parked
        // again) has older decided approvals: a pending one wins, else the
        // newest.
        json_t *approval = NULL;
        bool approval_pending = false;
        json_int_t approval_us = 0;
        const char *key;
        json_t *candidate;
        json_object_foreach(run->approvals, key, candidate)
        {
            const char *node =
                json_string_value(json_object_get(candidate, "node"));
            const char *state =
                json_string_value(json_object_get(candidate, "state"));
            if (!node || strcmp(node, task->id) != 0 || !state)
                continue;
            bool pending = strcmp(state, "pending") == 0;
            json_int_t created =
                json_integer_value(json_object_get(candidate, "created_us"));
            if (approval && approval_pending && !pending)
                continue;
            if (approval && pending == approval_pending
                && created < approval_us)
                continue;
            approval = candidate;
            approval_pending = pending;
            approval_us = created;
        }
        run->active++;
        if (!approval) { // the approval never became durable: ask again
            task->status = ORCS_RECORD_PENDING;
            run->active--;
            o_task_make_ready(self, task);
            return;
        }
        o_copy(task->approval, sizeof task->approval,
               json_string_value(json_object_get(approval, "id")));
        const char *state =
            json_string_value(json_object_get(approval, "state"));
        if (strcmp(state, "pending") == 0) {
            json_int_t deadline =
                json_integer_value(json_object_get(approval, "deadline_us"));
            if (deadline > 0) {
                int64_t left = (deadline - orcs_clock_wall_us()) / 1000;
                task->timer_id = o_timer(self, O_TIMER_APPROVAL, run, task,
                                         left > 0 ? left : 0);
            }
            if (run->auto_approve)
                o_approval_decide(self, run, task->approval, true,
                                  "--auto-approve", "auto");
            return;
        }
        o_checkpoint(self, run, O_EV_DECIDED, task, task->status, state);
        o_apply_decision(self, task, approval);
        return;
    }
    // running when the node stopped
    if (s_idempotent(self, task)
        || task->node->on_indeterminate == ORCS_WF_INDET_RETRY) {
        task->status = ORCS_RECORD_PENDING;
        o_checkpoint(self, run, O_EV_RETRY, task, task->status,
                     "in flight at a restart: run again, same key");
        o_task_make_ready(self, task);
        return;
    }
    o_task_set_detail(task, "in flight when the node stopped; not idempotent");
    o_task_set(self, task, ORCS_RECORD_INDETERMINATE, O_EV_INDETERMINATE);
    run->active++;
    if (task->node->on_indeterminate == ORCS_WF_INDET_FAIL) {
        task->error = ORCS_EINTERNAL;
        task->status = ORCS_RECORD_RUNNING; // o_failed finishes it
        o_failed(self, task);
        return;
    }
    char prompt[O_DETAIL_MAX + 1];
    o_fmt(prompt, sizeof prompt,
          "Node %s was running when the node stopped and is not "
          "idempotent. Approve to run it again, reject to fail it.",
          task->id);
    o_ask_human(self, task, "indeterminate", prompt);
}

// Rebuilds a map's items or a loop's rounds from their records.
static void
s_children(o_state_t *self, o_task_t *parent, s_load_t *load)
{
    o_run_t *run = parent->run;
    const orcs_wf_node_t *node = parent->node;
    size_t count = 0;
    if (node->kind == ORCS_WF_MAP) {
        char err[O_ERR_MAX];
        json_t *items = NULL;
        if (orcs_template_render(node->over, run->ctx, &items, err, sizeof err)
                != ORCS_OK
            || !json_is_array(items)) {
            json_decref(items);
            parent->error = ORCS_EINVAL;
            o_task_set_detail(parent,
                              "over: cannot be rebuilt after a restart");
            run->active++;
            o_failed(self, parent);
            return;
        }
        parent->items = items;
        count = json_array_size(items);
    } else { // loop: rounds recorded so far, at least one
        for (;; count++) {
            char id[O_TASK_ID_MAX + 1];
            o_fmt(id, sizeof id, "%s#%zu", parent->id, count);
            if (!json_object_get(load->tasks, id))
                break;
        }
        if (count == 0)
            count = 1;
    }
    run->active++; // the parent runs
    if (count == 0) {
        parent->status = ORCS_RECORD_RUNNING;
        return;
    }
    parent->children = orcs_calloc(count, sizeof *parent->children);
    parent->children_count = count;
    for (size_t i = 0; i < count; i++) {
        o_task_t *child = orcs_calloc(1, sizeof *child);
        child->run = run;
        child->node = node->body;
        child->parent = parent;
        child->index = (int) i;
        child->status = ORCS_RECORD_PENDING;
        o_fmt(child->id, sizeof child->id,
              node->kind == ORCS_WF_MAP ? "%s[%zu]" : "%s#%zu", parent->id, i);
        parent->children[i] = child;
        json_t *bytes = json_object_get(load->tasks, child->id);
        if (bytes && !s_apply_record(child, bytes, load->outputs))
            load->damaged = true;
    }
    // settle what finished, wake what was in flight, start the rest
    for (size_t i = 0; i < count; i++) {
        o_task_t *child = parent->children[i];
        if (o_final(child->status))
            parent->done_children++;
        else if (child->status == ORCS_RECORD_RUNNING
                 || child->status == ORCS_RECORD_WAITING) {
            parent->running_children++;
            s_reawaken(self, child);
        }
    }
    if (node->kind == ORCS_WF_MAP) {
        if (parent->done_children == count) {
            // every item finished before the crash: complete the map
            parent->done_children--;
            parent->running_children++;
            o_child_done(self, parent, parent->children[count - 1]);
            return;
        }
        for (size_t i = 0; i < count; i++) {
            o_task_t *child = parent->children[i];
            if (child->status == ORCS_RECORD_PENDING && !child->ready
                && parent->running_children < (size_t) node->concurrency) {
                parent->running_children++;
                o_task_make_ready(self, child);
            }
            if (child->status != ORCS_RECORD_PENDING || child->ready)
                parent->next_child = i + 1;
        }
        return;
    }
    o_task_t *last = parent->children[count - 1];
    if (last->status == ORCS_RECORD_SUCCEEDED) {
        parent->done_children--;
        parent->running_children++;
        o_child_done(self, parent, last);
    } else if (last->status == ORCS_RECORD_PENDING && !last->ready) {
        parent->running_children++;
        o_task_make_ready(self, last);
    }
}

static void
s_resume(o_state_t *self, const char *id)
{
    size_t n = strlen(id);
    char prefix[ORCS_MSG_RUN_ID_MAX + 2];
    memcpy(prefix, id, n);
    prefix[n] = 0;
    s_load_t load = {.tasks = json_object(),
                     .outputs = json_object(),
                     .approvals = json_object(),
                     .prefix = n + 1};
    RunRecord record;
    uint64_t last_seq = 0;
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK) {
        const void *value = NULL;
        size_t size = 0;
        rc = orcs_store_txn_get(txn, ORCS_DB_RUNS, id, n, &value, &size);
        if (rc == ORCS_OK)
            rc = orcs_run_record_decode(value, size, &record);
        if (rc == ORCS_OK)
            rc = orcs_store_txn_scan(txn, ORCS_DB_TASKS, prefix, n + 1,
                                     s_load_entry, &load);
        // The run record is written when its status changes; the last
        // checkpoint's key holds the sequence to go on from.
        if (rc == ORCS_OK)
            rc = orcs_store_txn_scan(txn, ORCS_DB_CHECKPOINTS, prefix, n + 1,
                                     s_legacy_last_seq, &last_seq);
        orcs_store_txn_end(&txn);
    }
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    const json_t *doc = json_object_get(load.def, "workflow");
    if (rc == ORCS_OK && !load.def)
        rc = ORCS_EPROTO;
    if (rc == ORCS_OK && json_is_object(doc))
        rc = orcs_workflow_from_doc(
            doc, json_string_value(json_object_get(load.def, "dir")), &wf,
            &errors);
    if (rc != ORCS_OK) {
        orcs_log_error("orchestrator", "run=%s cannot be resumed: %s%s%s", id,
                       orcs_status_str(rc), errors ? ": " : "",
                       errors ? json_string_value(json_array_get(errors, 0))
                              : "");
        json_decref(errors);
        json_decref(load.tasks);
        json_decref(load.outputs);
        json_decref(load.approvals);
        json_decref(load.def);
        json_decref(load.usage);
        return;
    }
    json_decref(errors);
    json_t *inputs = json_incref(json_object_get(load.def, "inputs"));
    o_run_t *run = o_run_new(self, id, wf, inputs, load.def);
    run->created_us = record.created_us;
    if (load.last_seq > last_seq)
        last_seq = load.last_seq;
    run->seq =
        last_seq > record.checkpoint_seq ? last_seq : record.checkpoint_seq;
    run->attempt = record.attempt + 1;
    run->auto_approve = json_is_true(json_object_get(load.def, "auto_approve"));
    // the usage so far: budgets count what was spent before the restart
    run->prompt_tokens =
        json_integer_value(json_object_get(load.usage, "prompt_tokens"));
    run->completion_tokens =
        json_integer_value(json_object_get(load.usage, "completion_tokens"));
    run->requests = json_integer_value(json_object_get(load.usage, "requests"));
    run->cost = json_number_value(json_object_get(load.usage, "cost"));
    run->status = record.status == ORCS_RECORD_PAUSED ? ORCS_RECORD_PAUSED
                                                      : ORCS_RECORD_RUNNING;
    json_object_update(run->approvals, load.approvals);
    if (json_object_get(load.def, "plan"))
        run->plan = json_deep_copy(json_object_get(load.def, "plan"));
    self->resumed++;
    o_checkpoint(self, run, O_EV_RUN, NULL, run->status, "resumed");
    o_effect_publish(run, "run.status",
                     json_pack("{s:s, s:b}", "status",
                               o_run_status_name(run->status), "resumed", 1));
    if (!wf) { // the plan was not made yet
        o_plan_ask(self, run);
        goto done;
    }
    // 1. top-level tasks
    json_t *nodes = json_object_get(run->ctx, "nodes");
    for (size_t i = 0; i < wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        json_t *bytes = json_object_get(load.tasks, task->id);
        if (bytes && !s_apply_record(task, bytes, load.outputs))
            load.damaged = true;
        if (bytes)
            json_object_set_new(
                nodes, task->id,
                json_pack("{s:O, s:s}", "output",
                          task->output ? task->output : json_null(), "status",
                          o_task_status_name(task->status)));
    }
    // 2. maps and loops in progress, in-flight calls, approvals
    for (size_t i = 0; i < wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        bool parent =
            task->node->kind == ORCS_WF_MAP || task->node->kind == ORCS_WF_LOOP;
        if (task->status == ORCS_RECORD_RUNNING && parent)
            s_children(self, task, &load);
        else if (task->status == ORCS_RECORD_RUNNING
                 || task->status == ORCS_RECORD_WAITING)
            s_reawaken(self, task);
        else if (task->status == ORCS_RECORD_INDETERMINATE) {
            task->status = ORCS_RECORD_WAITING;
            s_reawaken(self, task);
        }
    }
    // 3. what waits on what
    o_run_restart(self, run);
    if (load.damaged)
        orcs_log_warn("orchestrator", "run=%s: damaged records were skipped",
                      id);
    orcs_log_info("orchestrator", "resumed run=%s attempt=%u", id,
                  run->attempt);
done:
    json_decref(load.usage);
    json_decref(load.tasks);
    json_decref(load.outputs);
    json_decref(load.approvals);
    o_run_advance(self, run);
    o_flush(self, run);
}

void
o_resume_all(o_state_t *self)
{
    s_scan_t scan = {.ids = json_array()};
    orcs_store_txn_t *txn = NULL;
    if (orcs_store_txn_begin(self->store, &txn) == ORCS_OK) {
        orcs_store_txn_scan(txn, ORCS_DB_RUNS, NULL, 0, s_collect, &scan);
        orcs_store_txn_end(&txn);
    }
    size_t i;
    json_t *id;
    json_array_foreach(scan.ids, i, id) s_resume(self, json_string_value(id));
    json_decref(scan.ids);
}
