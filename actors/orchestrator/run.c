/*  actors/orchestrator/run.c — a run's state in memory: creating,
    re-planning and freeing runs and their tasks, finding tasks, recording
    status changes, status names and the run's view (docs/workflows.md).
    SPDX-License-Identifier: MPL-2.0

    Every change goes through o_task_set / o_run_set_status, which record
    it in the run's current batch (persist.c); calls are dispatched only
    as effects, after the batch is durable. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/runs.h"
#include "orcs/sys.h"

int
o_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(buf, size, fmt, args);
    va_end(args);
    return n;
}

void
o_copy(char *buf, size_t size, const char *text)
{
    if (!size)
        return;
    size_t n = text ? strnlen(text, size - 1) : 0;
    memcpy(buf, text ? text : "", n);
    buf[n] = '\0';
}

void
o_task_set_detail(o_task_t *task, const char *fmt, ...)
{
    char text[O_DETAIL_MAX + 1];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    free(task->detail);
    task->detail = text[0] ? orcs_strdup(text) : NULL;
}

const char *
o_task_detail(const o_task_t *task)
{
    return task->detail ? task->detail : "";
}

bool
o_final(orcs_record_status status)
{
    return status == ORCS_RECORD_SUCCEEDED || status == ORCS_RECORD_FAILED
           || status == ORCS_RECORD_CANCELED || status == ORCS_RECORD_SKIPPED;
}

const char *
o_task_status_name(orcs_record_status status)
{
    const char *name = orcs_runs_status_name(status, false);
    return name ? name : "pending";
}

const char *
o_run_status_name(orcs_record_status status)
{
    const char *name = orcs_runs_status_name(status, true);
    return name ? name : "queued";
}

// ---------------------------------------------------------------------------
// Run state

void
o_task_init(o_run_t *run, o_task_t *task, const orcs_wf_node_t *node)
{
    task->run = run;
    task->node = node;
    task->status = ORCS_RECORD_PENDING;
    task->created_us = orcs_clock_wall_us();
}

static void
s_tasks_make(o_run_t *run)
{
    orcs_workflow_t *wf = run->wf;
    run->tasks = orcs_calloc(wf->count ? wf->count : 1, sizeof *run->tasks);
    for (size_t i = 0; i < wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        o_task_init(run, task, &wf->nodes[i]);
        task->index = (int) i;
        o_copy(task->id, sizeof task->id, wf->nodes[i].id);
        task->unmet = (int) wf->nodes[i].needs_count;
    }
}

o_run_t *
o_run_new(o_state_t *self,
          const char *id,
          orcs_workflow_t *wf,
          json_t *inputs,
          json_t *def)
{
    o_run_t *run = orcs_calloc(1, sizeof *run);
    o_copy(run->id, sizeof run->id, id);
    run->wf = wf;
    run->inputs = inputs ? inputs : json_object();
    run->def = def;
    run->ctx = json_pack("{s:O, s:{}}", "inputs", run->inputs, "nodes");
    run->status = ORCS_RECORD_PENDING;
    run->created_us = run->updated_us = orcs_clock_wall_us();
    run->attempt = 1;
    run->durable = wf ? wf->durable : true;
    run->approvals = json_object();
    run->owner = self;
    run->record_dirty = true;
    run->waiters = zlist_new();
    run->effects = zlist_new();
    run->committing = zlist_new();
    if (wf)
        s_tasks_make(run);
    zhashx_insert(self->runs, run->id, run);
    run->next = self->list;
    if (self->list)
        self->list->prev = run;
    self->list = run;
    return run;
}

static void
s_task_release(o_state_t *self, o_task_t *task)
{
    if (task->ask_id)
        zhashx_delete(self->calls, (void *) (uintptr_t) task->ask_id);
    o_timer_cancel(self, &task->timer_id);
    json_decref(task->output);
    json_decref(task->error_ctx);
    json_decref(task->items);
    free(task->detail);
    free(task->question);
    task->detail = task->question = NULL;
    for (size_t i = 0; i < task->children_count; i++)
        if (task->children[i]) {
            s_task_release(self, task->children[i]);
            free(task->children[i]);
        }
    free(task->children);
    task->output = task->error_ctx = task->items = NULL;
    task->children = NULL;
    task->children_count = 0;
}

static void
s_effects_free(zlist_t *list)
{
    o_effect_t *fx;
    while ((fx = zlist_pop(list))) {
        orcs_msg_destroy(&fx->request);
        json_decref(fx->body);
        free(fx);
    }
}

void
o_run_free(o_state_t *self, o_run_t *run)
{
    if (run->prev)
        run->prev->next = run->next;
    else if (self->list == run)
        self->list = run->next;
    if (run->next)
        run->next->prev = run->prev;
    zhashx_delete(self->runs, run->id);
    if (run->plan_ask)
        zhashx_delete(self->calls, (void *) (uintptr_t) run->plan_ask);
    o_timer_cancel(self, &run->deadline_timer);
    if (run->wf)
        for (size_t i = 0; i < run->wf->count; i++)
            s_task_release(self, &run->tasks[i]);
    free(run->tasks);
    free(run->ready);
    orcs_reply_to_t *to;
    while ((to = zlist_pop(run->waiters)))
        orcs_reply_to_destroy(&to);
    zlist_destroy(&run->waiters);
    s_effects_free(run->effects);
    s_effects_free(run->committing);
    zlist_destroy(&run->effects);
    zlist_destroy(&run->committing);
    orcs_batch_destroy(&run->batch);
    orcs_workflow_destroy(&run->wf);
    json_decref(run->inputs);
    json_decref(run->ctx);
    json_decref(run->def);
    json_decref(run->approvals);
    json_decref(run->output);
    json_decref(run->plan);
    zhashx_destroy(&run->held);
    free(run);
}

void
o_run_replace_wf(o_state_t *self, o_run_t *run, orcs_workflow_t *wf)
{
    // Keep what finished (by id); everything else starts over.
    o_task_t *old = run->tasks;
    size_t old_count = run->wf ? run->wf->count : 0;
    orcs_workflow_t *old_wf = run->wf;
    run->wf = wf;
    run->ready_head = run->ready_count = 0;
    run->active = run->running = 0;
    s_tasks_make(run);
    json_object_set_new(run->ctx, "nodes", json_object());
    for (size_t i = 0; i < old_count; i++) {
        o_task_t *was = &old[i];
        int at = orcs_workflow_find(wf, was->id);
        if (at >= 0 && was->status == ORCS_RECORD_SUCCEEDED) {
            o_task_t *task = &run->tasks[at];
            task->status = was->status;
            task->attempt = was->attempt;
            task->started_us = was->started_us;
            task->finished_us = was->finished_us;
            task->output = json_incref(was->output);
            json_object_set_new(
                json_object_get(run->ctx, "nodes"), task->id,
                json_pack("{s:O, s:s}", "output",
                          task->output ? task->output : json_null(), "status",
                          "completed"));
        }
        s_task_release(self, was);
    }
    free(old);
    orcs_workflow_destroy(&old_wf);
}

o_task_t *
o_task_find(o_run_t *run, const char *id)
{
    if (!run->wf)
        return NULL;
    int at = orcs_workflow_find(run->wf, id);
    if (at >= 0)
        return &run->tasks[at];
    // an item "map[3]" or a round "loop#2"
    const char *mark = strpbrk(id, "[#");
    if (!mark)
        return NULL;
    char parent[O_TASK_ID_MAX + 1];
    size_t n = (size_t) (mark - id);
    if (n >= sizeof parent)
        return NULL;
    memcpy(parent, id, n);
    parent[n] = 0;
    at = orcs_workflow_find(run->wf, parent);
    if (at < 0)
        return NULL;
    o_task_t *owner = &run->tasks[at];
    long index = strtol(mark + 1, NULL, 10);
    if (index < 0 || (size_t) index >= owner->children_count)
        return NULL;
    return owner->children[index];
}

void
o_run_set_status(o_state_t *self, o_run_t *run, orcs_record_status status)
{
    if (run->status == status)
        return;
    run->status = status;
    run->updated_us = orcs_clock_wall_us();
    run->record_dirty = true;
    o_checkpoint(self, run, O_EV_RUN, NULL, status, run->detail);
    o_effect_publish(run, "run.status",
                     json_pack("{s:s}", "status", o_run_status_name(status)));
}

void
o_task_set(o_state_t *self,
           o_task_t *task,
           orcs_record_status status,
           o_event event)
{
    o_run_t *run = task->run;
    task->status = status;
    if (o_final(status) || status == ORCS_RECORD_INDETERMINATE)
        task->finished_us = orcs_clock_wall_us();
    o_put_task(self, task);
    // A start is in the task record (started_us, attempt); a checkpoint
    // records every other transition.
    if (event != O_EV_STARTED)
        o_checkpoint(self, run, event, task, status, o_task_detail(task));
    // The template context holds only what some template or condition
    // reads: a wide graph of nodes nobody names costs no entries.
    if (!task->parent && (run->wf->reads_any_node || task->node->read)) {
        json_t *nodes = json_object_get(run->ctx, "nodes");
        json_t *entry = json_object_get(nodes, task->id);
        if (!entry) {
            entry = json_object();
            json_object_set_new(nodes, task->id, entry);
        }
        json_object_set_new(entry, "status",
                            json_string(o_task_status_name(status)));
        if (status == ORCS_RECORD_SUCCEEDED)
            json_object_set(entry, "output",
                            task->output ? task->output : json_null());
    }
    if (!o_watched(run))
        return; // nobody listens: build no event
    json_t *body = json_pack("{s:s, s:s, s:I}", "node", task->id, "status",
                             o_task_status_name(status), "attempt",
                             (json_int_t) task->attempt);
    if (task->error)
        json_object_set_new(body, "error", json_string(o_task_detail(task)));
    if (o_final(status) && task->started_us)
        json_object_set_new(
            body, "ms",
            json_integer((task->finished_us - task->started_us) / 1000));
    o_effect_publish(run, "node.status", body);
}

// ---------------------------------------------------------------------------
// The view

static void
s_pack_str(msgpack_packer *pk, const char *text)
{
    size_t len = strlen(text);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text, len);
}

// Text from outside (an error's detail may quote a tool's output): packed
// when it is valid UTF-8, else null, as json_string would refuse it.
static void
s_pack_text(msgpack_packer *pk, const char *text)
{
    json_t *checked = text ? json_string(text) : NULL;
    if (checked)
        s_pack_str(pk, text);
    else
        msgpack_pack_nil(pk);
    json_decref(checked);
}

// A document, as orcs_doc_encode writes it (null when it cannot).
static void
s_pack_doc(msgpack_packer *pk, msgpack_sbuffer *sbuf, const json_t *doc)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (doc && orcs_doc_encode(doc, &data, &size) == ORCS_OK)
        msgpack_sbuffer_write(sbuf, (const char *) data, size);
    else
        msgpack_pack_nil(pk);
    free(data);
}

static void
s_pack_int(msgpack_packer *pk, const char *key, int64_t value)
{
    s_pack_str(pk, key);
    msgpack_pack_int64(pk, value);
}

void
o_run_view_encode(o_run_t *run, uint8_t **data_p, size_t *size_p)
{
    // A view of 100,000 nodes is written at every run.wait and run.get:
    // straight to MessagePack, not built as 700,000 json_t values first.
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 11);
    s_pack_str(&pk, "id");
    s_pack_str(&pk, run->id);
    s_pack_str(&pk, "workflow");
    s_pack_str(&pk, run->wf && run->wf->name ? run->wf->name : "(planning)");
    s_pack_str(&pk, "status");
    s_pack_str(&pk, o_run_status_name(run->status));
    s_pack_str(&pk, "nodes");
    size_t count = run->wf ? run->wf->count : 0;
    msgpack_pack_map(&pk, count);
    for (size_t i = 0; i < count; i++) {
        const o_task_t *task = &run->tasks[i];
        const char *kind = orcs_wf_kind_name(task->node->kind);
        s_pack_str(&pk, task->id);
        msgpack_pack_map(&pk, 6 + (task->clarifying ? 1 : 0)
                                  + (task->children_count ? 1 : 0));
        s_pack_str(&pk, "status");
        s_pack_str(&pk, o_task_status_name(task->status));
        s_pack_str(&pk, "kind");
        if (kind)
            s_pack_str(&pk, kind);
        else
            msgpack_pack_nil(&pk);
        s_pack_int(&pk, "attempts", task->attempt);
        s_pack_int(&pk, "started_us", task->started_us);
        s_pack_int(&pk, "finished_us", task->finished_us);
        s_pack_str(&pk, "error");
        if (task->error)
            s_pack_text(&pk, o_task_detail(task));
        else
            msgpack_pack_nil(&pk);
        if (task->clarifying) {
            s_pack_str(&pk, "question");
            s_pack_text(&pk, task->question ? task->question : "");
        }
        if (task->children_count) {
            s_pack_str(&pk, "items");
            msgpack_pack_map(&pk, 2);
            s_pack_int(&pk, "total", (int64_t) task->children_count);
            s_pack_int(&pk, "done", (int64_t) task->done_children);
        }
    }
    s_pack_str(&pk, "approvals");
    msgpack_pack_array(&pk, json_object_size(run->approvals));
    const char *key;
    json_t *approval;
    json_object_foreach(run->approvals, key, approval)
        s_pack_doc(&pk, &sbuf, approval);
    s_pack_str(&pk, "output");
    s_pack_doc(&pk, &sbuf,
               run->output && run->status == ORCS_RECORD_SUCCEEDED ? run->output
                                                                   : NULL);
    s_pack_str(&pk, "error");
    if (run->error)
        s_pack_text(&pk, run->detail);
    else
        msgpack_pack_nil(&pk);
    s_pack_str(&pk, "usage");
    msgpack_pack_map(&pk, 4);
    s_pack_int(&pk, "prompt_tokens", run->prompt_tokens);
    s_pack_int(&pk, "completion_tokens", run->completion_tokens);
    s_pack_int(&pk, "requests", run->requests);
    s_pack_str(&pk, "cost");
    msgpack_pack_double(&pk, run->cost);
    s_pack_int(&pk, "created_us", run->created_us);
    s_pack_int(&pk, "updated_us", run->updated_us);
    s_pack_int(&pk, "attempt", run->attempt);
    *data_p = (uint8_t *) sbuf.data;
    *size_p = sbuf.size;
}

orcs_msg_t *
o_run_view_reply(o_run_t *run, const char *type)
{
    uint8_t *data = NULL;
    size_t size = 0;
    o_run_view_encode(run, &data, &size);
    orcs_msg_t *reply = orcs_msg_new(type);
    orcs_msg_set_body_raw(reply, data, size);
    orcs_msg_set_status(reply, ORCS_OK);
    free(data);
    return reply;
}
