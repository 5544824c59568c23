/*  actors/orchestrator/persist.c — write-ahead: a run's changes go into
    one batch per round, and their effects (calls, replies, events) run
    only when the batch is durable (docs/workflows.md "Durable runs").
    SPDX-License-Identifier: MPL-2.0

    Nothing is rewritten: a round puts the records of the tasks that
    changed, their outputs, the run record (a fixed-size record, on status
    changes only), and appends checkpoints: a task's beside its record
    (RUN\0t\0TASK\0c SEQ), the run's own under RUN\0c SEQ. */
#include <stdio.h>
#include <string.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/node.h"
#include "orcs/runs.h"
#include "orcs/sys.h"
#include "records.pb.h"
#include "runtime/internal.h"

#define S_KEEP_FINISHED 1024 // finished runs kept in memory for run.get

// ---------------------------------------------------------------------------
// Keys

static orcs_batch_t *
s_batch(o_run_t *run)
{
    if (!run->durable)
        return NULL;
    if (!run->batch)
        run->batch = orcs_batch_new();
    return run->batch;
}

static void
s_put_doc(o_run_t *run, const char *key, size_t key_size, const json_t *doc)
{
    orcs_batch_t *batch = s_batch(run);
    if (!batch || !key_size)
        return;
    uint8_t *data = NULL;
    size_t size = 0;
    if (orcs_doc_encode(doc ? doc : json_null(), &data, &size) == ORCS_OK)
        orcs_batch_put(batch, ORCS_DB_TASKS, key, key_size, data, size);
    else
        orcs_log_warn("orchestrator", "run=%s cannot encode a document",
                      run->id);
    free(data);
}

// ---------------------------------------------------------------------------
// Records

void
o_put_run(o_state_t *self, o_run_t *run)
{
    orcs_batch_t *batch = s_batch(run);
    if (!batch)
        return;
    RunRecord record = RunRecord_init_zero;
    o_copy(record.id, sizeof record.id, run->id);
    o_copy(record.workflow, sizeof record.workflow,
           run->wf ? run->wf->name : "(planning)");
    o_copy(record.node, sizeof record.node, orcs_node_name(self->node));
    record.status = run->status;
    record.attempt = run->attempt;
    record.created_us = run->created_us;
    record.updated_us = run->updated_us;
    record.finished_us = run->finished_us;
    record.error = run->error;
    o_copy(record.detail, sizeof record.detail, run->detail);
    record.checkpoint_seq = run->seq;
    uint8_t *data = NULL;
    size_t size = 0;
    if (orcs_run_record_encode(&record, &data, &size) == ORCS_OK)
        orcs_batch_put(batch, ORCS_DB_RUNS, run->id, strlen(run->id), data,
                       size);
    free(data);
}

void
o_put_task(o_state_t *self, o_task_t *task)
{
    (void) self;
    o_run_t *run = task->run;
    orcs_batch_t *batch = s_batch(run);
    if (!batch)
        return;
    TaskRecord record = TaskRecord_init_zero;
    o_copy(record.run_id, sizeof record.run_id, run->id);
    o_copy(record.id, sizeof record.id, task->id);
    o_copy(record.name, sizeof record.name, task->node->id);
    record.status = task->status;
    o_copy(record.actor, sizeof record.actor,
           orcs_wf_kind_name(task->node->kind));
    record.attempt = task->attempt;
    record.max_attempts = (uint32_t) task->node->retries + 1;
    o_fmt(record.idempotency_key, sizeof record.idempotency_key, "%s/0/%s",
          run->id, task->id);
    record.created_us = task->created_us;
    record.started_us = task->started_us;
    record.finished_us = task->finished_us;
    record.error = task->error;
    o_copy(record.detail, sizeof record.detail, o_task_detail(task));
    uint8_t *data = NULL;
    size_t size = 0;
    char key[ORCS_MSG_RUN_ID_MAX + O_TASK_ID_MAX + 8];
    size_t key_size = orcs_runs_key(key, sizeof key, run->id, 't', task->id);
    if (key_size && orcs_task_record_encode(&record, &data, &size) == ORCS_OK)
        orcs_batch_put(batch, ORCS_DB_TASKS, key, key_size, data, size);
    free(data);
}

void
o_put_output(o_state_t *self, o_task_t *task)
{
    (void) self;
    char key[ORCS_MSG_RUN_ID_MAX + O_TASK_ID_MAX + 8];
    size_t key_size =
        orcs_runs_key(key, sizeof key, task->run->id, 'o', task->id);
    s_put_doc(task->run, key, key_size, task->output);
}

void
o_put_def(o_state_t *self, o_run_t *run)
{
    (void) self;
    char key[ORCS_MSG_RUN_ID_MAX + 8];
    size_t key_size = orcs_runs_key(key, sizeof key, run->id, 'd', NULL);
    s_put_doc(run, key, key_size, run->def);
}

void
o_put_approval(o_state_t *self, o_run_t *run, const json_t *approval)
{
    (void) self;
    char key[ORCS_MSG_RUN_ID_MAX + 64];
    size_t key_size =
        orcs_runs_key(key, sizeof key, run->id, 'a',
                      json_string_value(json_object_get(approval, "id")));
    s_put_doc(run, key, key_size, approval);
}

void
o_put_result(o_state_t *self, o_run_t *run)
{
    (void) self;
    char key[ORCS_MSG_RUN_ID_MAX + 8];
    size_t key_size = orcs_runs_key(key, sizeof key, run->id, 'r', NULL);
    json_t *result = json_pack(
        "{s:O, s:o, s:{s:I, s:I, s:I, s:f}}", "output",
        run->output ? run->output : json_null(), "error",
        run->error ? json_string(run->detail) : json_null(), "usage",
        "prompt_tokens", run->prompt_tokens, "completion_tokens",
        run->completion_tokens, "requests", run->requests, "cost", run->cost);
    s_put_doc(run, key, key_size, result);
    json_decref(result);
}

void
o_checkpoint(o_state_t *self,
             o_run_t *run,
             o_event event,
             const o_task_t *task,
             orcs_record_status status,
             const char *detail)
{
    (void) self;
    run->seq++;
    run->updated_us = orcs_clock_wall_us();
    orcs_batch_t *batch = s_batch(run);
    if (!batch)
        return;
    CheckpointRecord record = CheckpointRecord_init_zero;
    o_copy(record.run_id, sizeof record.run_id, run->id);
    record.seq = run->seq;
    record.time_us = run->updated_us;
    record.event = event;
    if (task) {
        o_copy(record.task_id, sizeof record.task_id, task->id);
        record.attempt = task->attempt;
        record.error = task->error;
    }
    record.status = status;
    o_copy(record.detail, sizeof record.detail, detail ? detail : "");
    uint8_t *data = NULL;
    size_t size = 0;
    // beside the task's record (one leaf for the step), or the run's own
    char key[ORCS_MSG_RUN_ID_MAX + O_TASK_ID_MAX + 16];
    size_t n = orcs_runs_checkpoint_key(key, sizeof key, run->id,
                                        task ? task->id : NULL, run->seq);
    if (n && orcs_checkpoint_record_encode(&record, &data, &size) == ORCS_OK)
        orcs_batch_put(batch, ORCS_DB_TASKS, key, n, data, size);
    free(data);
}

// ---------------------------------------------------------------------------
// Effects

void
o_effect(o_run_t *run, o_fx_kind kind, o_task_t *task)
{
    o_effect_t *fx = orcs_calloc(1, sizeof *fx);
    fx->kind = kind;
    fx->task = task;
    zlist_append(run->effects, fx);
}

void
o_effect_reply(o_run_t *run,
               const orcs_msg_t *request,
               orcs_status status,
               json_t *body)
{
    o_effect_t *fx = orcs_calloc(1, sizeof *fx);
    fx->kind = O_FX_REPLY;
    fx->request = orcs_msg_dup(request);
    fx->status = status;
    fx->body = body;
    zlist_append(run->effects, fx);
}

void
o_effect_reply_take(o_run_t *run,
                    orcs_msg_t **request_p,
                    orcs_status status,
                    json_t *body)
{
    o_effect_t *fx = orcs_calloc(1, sizeof *fx);
    fx->kind = O_FX_REPLY;
    fx->request = *request_p; // no copy of a big request
    *request_p = NULL;
    fx->status = status;
    fx->body = body;
    zlist_append(run->effects, fx);
}

bool
o_watched(o_run_t *run)
{
    o_state_t *self = run->owner;
    if (run->watch_round != self->round) { // once per round
        char topic[ORCS_MSG_TOPIC_MAX + 1];
        o_fmt(topic, sizeof topic, "run.%s.node.status", run->id);
        run->watched = orcs__node_has_subscriber(self->node, topic);
        run->watch_round = self->round;
    }
    return run->watched;
}

void
o_effect_publish(o_run_t *run, const char *event, json_t *body)
{
    if (!o_watched(run)) {
        json_decref(body);
        return;
    }
    o_effect_t *fx = orcs_calloc(1, sizeof *fx);
    fx->kind = O_FX_PUBLISH;
    o_copy(fx->topic, sizeof fx->topic, event);
    json_object_set_new(body, "time_us", json_integer(orcs_clock_wall_us()));
    fx->body = body;
    zlist_append(run->effects, fx);
}

static bool
s_settled(const o_run_t *run)
{
    return run->finished || run->status == ORCS_RECORD_WAITING
           || run->status == ORCS_RECORD_PAUSED;
}

static void
s_answer_waiters(o_state_t *self, o_run_t *run)
{
    if (!s_settled(run) || zlist_size(run->waiters) == 0)
        return;
    uint8_t *view = NULL; // one for every waiter
    size_t size = 0;
    o_run_view_encode(run, &view, &size);
    orcs_reply_to_t *to;
    while ((to = zlist_pop(run->waiters))) {
        orcs_msg_t *reply = orcs_msg_new("run.wait");
        orcs_msg_set_body_raw(reply, view, size);
        orcs_msg_set_status(reply, ORCS_OK);
        if (orcs_actor_reply_to(self->actor, to, &reply) != ORCS_OK)
            orcs_msg_destroy(&reply); // the asker went away
        orcs_reply_to_destroy(&to);
    }
    free(view);
}

static void
s_run_effects(o_state_t *self, o_run_t *run, zlist_t *list)
{
    o_effect_t *fx;
    while ((fx = zlist_pop(list))) {
        switch (fx->kind) {
            case O_FX_DISPATCH:
                o_dispatch(self, fx->task);
                break;
            case O_FX_CANCEL:
                o_cancel_call(self, fx->task);
                break;
            case O_FX_REPLY:
                o_reply(self, fx->request, fx->status, fx->body);
                fx->body = NULL;
                break;
            case O_FX_PUBLISH: {
                char topic[ORCS_MSG_TOPIC_MAX + 1];
                o_fmt(topic, sizeof topic, "run.%s.%s", run->id, fx->topic);
                orcs_actor_publish(self->actor, topic, &fx->body);
                break;
            }
            case O_FX_WAITERS:
                s_answer_waiters(self, run);
                break;
        }
        orcs_msg_destroy(&fx->request);
        json_decref(fx->body);
        free(fx);
    }
}

void
o_flush(o_state_t *self, o_run_t *run)
{
    for (;;) {
        if (run->writing)
            return; // o_written flushes again
        if (run->durable && run->batch && orcs_batch_size(run->batch) > 0) {
            if (run->record_dirty) // the checkpoints hold the rest
                o_put_run(self, run);
            run->record_dirty = false;
            uint64_t id = ++self->next_write;
            zhashx_insert(self->writes, (void *) (uintptr_t) id,
                          orcs_strdup(run->id));
            zlist_t *swap = run->committing;
            run->committing = run->effects;
            run->effects = swap;
            run->writing = true;
            orcs_status rc =
                orcs__wq_write(self->wq, self->store, &run->batch, id);
            if (rc != ORCS_OK) {
                zhashx_delete(self->writes, (void *) (uintptr_t) id);
                o_written(self, 0, rc);
                // o_written ran the effects; the run is failed in memory
            }
            return;
        }
        orcs_batch_destroy(&run->batch);
        if (zlist_size(run->effects) == 0)
            break;
        zlist_t *swap = run->committing;
        run->committing = run->effects;
        run->effects = swap;
        s_run_effects(self, run, run->committing);
        o_run_advance(self, run);
    }
    s_answer_waiters(self, run);
    o_maybe_release(self, run);
}

void
o_written(void *state, uint64_t id, orcs_status status)
{
    o_state_t *self = state;
    self->round++;
    o_run_t *run = NULL;
    if (id) {
        char *run_id = zhashx_lookup(self->writes, (void *) (uintptr_t) id);
        run = run_id ? o_run_get(self, run_id) : NULL;
        zhashx_delete(self->writes, (void *) (uintptr_t) id);
    } else {
        for (o_run_t *r = self->list; r; r = r->next)
            if (r->writing && !r->batch) {
                run = r;
                break;
            }
    }
    if (!run)
        return;
    run->writing = false;
    if (status != ORCS_OK) {
        // The store refused the write: the run cannot stay durable.
        orcs_log_error("orchestrator",
                       "run=%s store write failed: %s; the run fails", run->id,
                       orcs_status_str(status));
        run->durable = false;
        if (!run->finished)
            o_run_finish(self, run, ORCS_RECORD_FAILED, status,
                         "the store refused the run's state");
    }
    s_run_effects(self, run, run->committing);
    o_run_advance(self, run);
    o_flush(self, run);
}

void
o_maybe_release(o_state_t *self, o_run_t *run)
{
    if (!run->finished || run->writing || zlist_size(run->effects)
        || zlist_size(run->waiters) || run->released)
        return;
    // Keep the newest finished runs for run.get, at most S_KEEP_FINISHED
    // of them and limits.finished_tasks of their tasks; drop the oldest,
    // never this one (a durable run is then read from the store).
    run->released = true;
    self->finished_held++;
    self->finished_tasks += run->wf ? run->wf->count : 0;
    while (self->finished_held > S_KEEP_FINISHED
           || self->finished_tasks > self->keep_tasks) {
        o_run_t *oldest = NULL;
        for (o_run_t *r = self->list; r; r = r->next)
            if (r->released && r != run)
                oldest = r; // the list is newest first
        if (!oldest)
            return;
        self->finished_held--;
        self->finished_tasks -= oldest->wf ? oldest->wf->count : 0;
        o_run_free(self, oldest);
    }
}
