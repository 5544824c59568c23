/*  actors/orchestrator/engine.c — the state machine of a run: which tasks
    are ready, skipped, running, finished; routes, maps, loops, approvals
    (docs/workflows.md "When a node runs").
    SPDX-License-Identifier: MPL-2.0

    Every change goes through o_task_set / o_run_set_status, which record
    it in the run's current batch (persist.c); calls are dispatched only
    as effects, after the batch is durable. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"
#include "orcs/tools.h"

static void s_complete(o_state_t *self, o_task_t *task, json_t *output);
void o_failed(o_state_t *self, o_task_t *task);
static void s_start(o_state_t *self, o_task_t *task);

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
    switch (status) {
        case ORCS_RECORD_RUNNING:
            return "running";
        case ORCS_RECORD_WAITING:
            return "waiting";
        case ORCS_RECORD_SUCCEEDED:
            return "completed";
        case ORCS_RECORD_FAILED:
            return "failed";
        case ORCS_RECORD_CANCELED:
            return "cancelled";
        case ORCS_RECORD_SKIPPED:
            return "skipped";
        case ORCS_RECORD_INDETERMINATE:
            return "indeterminate";
        default:
            return "pending";
    }
}

const char *
o_run_status_name(orcs_record_status status)
{
    switch (status) {
        case ORCS_RECORD_RUNNING:
            return "running";
        case ORCS_RECORD_PAUSED:
            return "paused";
        case ORCS_RECORD_WAITING:
            return "waiting_approval";
        case ORCS_RECORD_SUCCEEDED:
            return "completed";
        case ORCS_RECORD_FAILED:
            return "failed";
        case ORCS_RECORD_CANCELED:
            return "cancelled";
        default:
            return "queued";
    }
}

// ---------------------------------------------------------------------------
// Run state

static void
s_task_init(o_run_t *run, o_task_t *task, const orcs_wf_node_t *node)
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
        s_task_init(run, task, &wf->nodes[i]);
        task->index = (int) i;
        o_fmt(task->id, sizeof task->id, "%s", wf->nodes[i].id);
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
    o_fmt(run->id, sizeof run->id, "%s", id);
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
    orcs_msg_t *msg;
    while ((msg = zlist_pop(run->waiters)))
        orcs_msg_destroy(&msg);
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
// The ready queue

static void
s_push_ready(o_run_t *run, o_task_t *task)
{
    if (run->ready_count == run->ready_size) {
        size_t size = run->ready_size ? run->ready_size * 2 : 16;
        o_task_t **ready = orcs_calloc(size, sizeof *ready);
        for (size_t i = 0; i < run->ready_count; i++)
            ready[i] = run->ready[(run->ready_head + i) % run->ready_size];
        free(run->ready);
        run->ready = ready;
        run->ready_size = size;
        run->ready_head = 0;
    }
    run->ready[(run->ready_head + run->ready_count) % run->ready_size] = task;
    run->ready_count++;
}

static o_task_t *
s_pop_ready(o_run_t *run)
{
    while (run->ready_count) {
        o_task_t *task = run->ready[run->ready_head];
        run->ready_head = (run->ready_head + 1) % run->ready_size;
        run->ready_count--;
        if (task->ready) { // not cancelled meanwhile
            task->ready = false;
            return task;
        }
    }
    return NULL;
}

void
o_task_make_ready(o_state_t *self, o_task_t *task)
{
    if (task->ready || o_final(task->status)
        || task->status == ORCS_RECORD_RUNNING
        || task->status == ORCS_RECORD_WAITING)
        return;
    task->ready = true;
    task->run->active++;
    if (task->chosen && !task->parent) {
        // A route chose it: only the record tells a resumed run.
        o_task_set_detail(task, "routed");
        o_task_set(self, task, ORCS_RECORD_PENDING, O_EV_READY);
    }
    s_push_ready(task->run, task);
}

// ---------------------------------------------------------------------------
// Readiness

static bool
s_is_case_target(const orcs_wf_node_t *branch, int index)
{
    for (size_t i = 0; i < branch->cases_count; i++)
        if (branch->cases[i].to == index)
            return true;
    return branch->default_to == index;
}

// Every need of task is finished: run it, skip it, or leave it for a
// route.
static void
s_evaluate(o_state_t *self, o_task_t *task)
{
    if (o_final(task->status) || task->ready
        || task->status != ORCS_RECORD_PENDING)
        return;
    const orcs_wf_node_t *node = task->node;
    if (node->kind == ORCS_WF_JOIN && !node->any) {
        if (task->completed_needs == 0 && node->needs_count > 0)
            o_task_skip(self, task);
        else if (!node->routed || task->chosen)
            o_task_make_ready(self, task);
        return;
    }
    if (node->kind == ORCS_WF_JOIN && node->any) {
        if (task->completed_needs == 0 && node->needs_count > 0)
            o_task_skip(self, task);
        return; // started by the first completed need
    }
    if (task->skipped_needs > 0) {
        o_task_skip(self, task);
        return;
    }
    if (!node->routed || task->chosen)
        o_task_make_ready(self, task);
}

// One of task's needs finished (completed, or skipped/failed).
static void
s_need_finished(o_state_t *self, o_task_t *task, bool completed)
{
    task->unmet--;
    if (completed)
        task->completed_needs++;
    else
        task->skipped_needs++;
    if (task->node->kind == ORCS_WF_JOIN && task->node->any && completed
        && task->status == ORCS_RECORD_PENDING && !task->ready) {
        o_task_make_ready(self, task);
        return;
    }
    if (task->unmet <= 0)
        s_evaluate(self, task);
}

static void
s_notify_dependents(o_state_t *self, o_task_t *task, bool completed)
{
    o_run_t *run = task->run;
    const orcs_wf_node_t *node = task->node;
    for (size_t i = 0; i < node->dependents_count; i++) {
        o_task_t *dep = &run->tasks[node->dependents[i]];
        if (node->kind == ORCS_WF_BRANCH && completed
            && s_is_case_target(node, node->dependents[i]) && !dep->chosen) {
            dep->unmet--;
            o_task_skip(self, dep);
            continue;
        }
        s_need_finished(self, dep, completed);
    }
}

void
o_task_skip(o_state_t *self, o_task_t *task)
{
    if (o_final(task->status) || task->status == ORCS_RECORD_RUNNING)
        return;
    if (task->ready) {
        task->ready = false;
        task->run->active--;
    }
    o_task_set(self, task, ORCS_RECORD_SKIPPED, O_EV_SKIPPED);
    if (!task->parent)
        s_notify_dependents(self, task, false);
}

// ---------------------------------------------------------------------------
// Finishing tasks

static void
s_route(o_state_t *self, o_task_t *from, int to)
{
    o_task_t *target = &from->run->tasks[to];
    target->chosen = true;
    json_decref(target->error_ctx);
    target->error_ctx =
        json_pack("{s:s, s:s, s:s}", "node", from->id, "message",
                  o_task_detail(from), "status", orcs_status_name(from->error));
    if (target->unmet <= 0)
        s_evaluate(self, target);
}

void
o_child_done(o_state_t *self, o_task_t *parent, o_task_t *child)
{
    parent->running_children--;
    parent->done_children++;
    o_run_t *run = parent->run;
    if (parent->node->kind == ORCS_WF_MAP) {
        if (parent->done_children == parent->children_count) {
            json_t *outputs = json_array();
            for (size_t i = 0; i < parent->children_count; i++)
                json_array_append(outputs, parent->children[i]->output
                                               ? parent->children[i]->output
                                               : json_null());
            s_complete(self, parent, outputs);
            return;
        }
        while (parent->next_child < parent->children_count
               && parent->running_children
                      < (size_t) parent->node->concurrency) {
            o_task_t *next = parent->children[parent->next_child++];
            parent->running_children++;
            o_task_make_ready(self, next);
        }
        return;
    }
    // a loop round
    json_t *loop = json_pack("{s:i, s:O}", "index", child->index, "output",
                             child->output ? child->output : json_null());
    json_object_set_new(run->ctx, "loop", loop);
    bool stop = false;
    char err[O_ERR_MAX] = "";
    orcs_status rc = parent->node->until ? orcs_expr_test(
                         parent->node->until, run->ctx, &stop, err, sizeof err)
                                         : ORCS_OK;
    json_object_del(run->ctx, "loop");
    if (rc != ORCS_OK) {
        parent->error = rc;
        o_task_set_detail(parent, "until: %s", err);
        o_failed(self, parent);
        return;
    }
    if (stop || child->index + 1 >= parent->node->max_iterations) {
        s_complete(self, parent,
                   json_incref(child->output ? child->output : json_null()));
        return;
    }
    size_t next = parent->children_count;
    parent->children =
        orcs_realloc(parent->children, (next + 1) * sizeof *parent->children);
    o_task_t *round = orcs_calloc(1, sizeof *round);
    s_task_init(run, round, parent->node->body);
    round->parent = parent;
    round->index = (int) next;
    o_fmt(round->id, sizeof round->id, "%s#%zu", parent->id, next);
    parent->children[next] = round;
    parent->children_count = next + 1;
    parent->running_children++;
    o_task_make_ready(self, round);
}

// The task finished with output (taken).
static void
s_complete(o_state_t *self, o_task_t *task, json_t *output)
{
    o_run_t *run = task->run;
    json_decref(task->output);
    task->output = output ? output : json_null();
    task->error = ORCS_OK;
    o_task_set_detail(task, "%s", "");
    run->active--;
    o_put_output(self, task);
    o_task_set(self, task, ORCS_RECORD_SUCCEEDED, O_EV_COMPLETED);
    if (task->parent) {
        o_child_done(self, task->parent, task);
        return;
    }
    s_notify_dependents(self, task, true);
}

// The task failed for good (retries used): its route, or the run fails.
void
o_failed(o_state_t *self, o_task_t *task)
{
    o_run_t *run = task->run;
    if (o_final(task->status))
        return;
    run->active--;
    o_task_set(self, task, ORCS_RECORD_FAILED, O_EV_FAILED);
    if (task->parent) {
        o_task_t *parent = task->parent;
        for (size_t i = 0; i < parent->children_count; i++) {
            o_task_t *other = parent->children[i];
            if (other == task || o_final(other->status))
                continue;
            if (other->status == ORCS_RECORD_RUNNING) {
                o_effect(run, O_FX_CANCEL, other);
                run->running--;
            }
            if (other->ready || other->status == ORCS_RECORD_RUNNING
                || other->pending_retry)
                run->active--;
            other->ready = false;
            other->pending_retry = false;
            o_timer_cancel(self, &other->timer_id);
            o_task_set(self, other, ORCS_RECORD_CANCELED, O_EV_CANCELED);
        }
        parent->error = task->error;
        o_task_set_detail(parent, "%s: %s", task->id, o_task_detail(task));
        o_failed(self, parent);
        return;
    }
    int route = task->node->on_error;
    if (task->node->kind == ORCS_WF_APPROVAL && task->error == ORCS_ETIMEDOUT
        && task->node->on_timeout != ORCS_WF_ROUTE_NONE)
        route = task->node->on_timeout;
    if (route >= 0) {
        s_notify_dependents(self, task, false);
        s_route(self, task, route);
        return;
    }
    if (o_plan_replan(self, run, task))
        return;
    char detail[O_DETAIL_MAX + 1];
    o_fmt(detail, sizeof detail, "node %s failed: %s", task->id,
          o_task_detail(task));
    o_run_finish(self, run, ORCS_RECORD_FAILED, task->error, detail);
}

void
o_task_done(o_state_t *self,
            o_task_t *task,
            orcs_status status,
            json_t *output,
            const char *detail)
{
    o_run_t *run = task->run;
    if (task->status != ORCS_RECORD_RUNNING || run->finished) {
        json_decref(output);
        return;
    }
    o_timer_cancel(self, &task->timer_id);
    task->clarifying = false;
    run->running--;
    if (status == ORCS_OK) {
        s_complete(self, task, output);
        return;
    }
    json_decref(output);
    task->error = status;
    o_task_set_detail(task, "%s", detail ? detail : orcs_status_str(status));
    const orcs_wf_node_t *node = task->node;
    if (status != ORCS_EDENIED && status != ORCS_ECANCELED
        && (int) task->attempt <= node->retries) {
        // back off: base * 2^(attempt-1), capped, with full jitter
        int64_t delay = node->backoff_ms;
        for (uint32_t i = 1; i < task->attempt && delay < node->backoff_max_ms;
             i++)
            delay *= 2;
        if (delay > node->backoff_max_ms)
            delay = node->backoff_max_ms;
        delay =
            delay > 0 ? (int64_t) randombytes_uniform((uint32_t) delay + 1) : 0;
        task->pending_retry = true;
        o_task_set(self, task, ORCS_RECORD_PENDING, O_EV_RETRY);
        task->timer_id = o_timer(self, O_TIMER_RETRY, run, task, delay);
        return;
    }
    o_failed(self, task);
}

// ---------------------------------------------------------------------------
// Approvals

static void
s_held_free(zlist_t **held_p)
{
    orcs_msg_t *request;
    while (*held_p && (request = zlist_pop(*held_p)))
        orcs_msg_destroy(&request);
    zlist_destroy(held_p);
}

static json_t *
s_approval_new(o_state_t *self,
               o_task_t *task,
               const char *kind,
               const char *prompt)
{
    o_run_t *run = task->run;
    uint8_t bytes[6];
    randombytes_buf(bytes, sizeof bytes);
    char hex[sizeof bytes * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
    o_fmt(task->approval, sizeof task->approval, "a-%s", hex);
    int64_t now = orcs_clock_wall_us();
    json_t *approval = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id",
                                 task->approval, "node", task->id, "kind", kind,
                                 "prompt", prompt ? prompt : "", "state",
                                 "pending", "created_us", (json_int_t) now);
    int64_t timeout = task->node->kind == ORCS_WF_APPROVAL
                          ? task->node->approval_timeout_ms
                          : 0;
    if (timeout > 0)
        json_object_set_new(approval, "deadline_us",
                            json_integer(now + timeout * 1000));
    json_object_set(run->approvals, task->approval, approval);
    o_put_approval(self, run, approval);
    o_task_set(self, task, ORCS_RECORD_WAITING, O_EV_APPROVAL);
    o_effect_publish(run, "approval", json_deep_copy(approval));
    if (timeout > 0)
        task->timer_id = o_timer(self, O_TIMER_APPROVAL, run, task, timeout);
    return approval;
}

json_t *
o_approval_new(o_state_t *self,
               o_run_t *run,
               o_task_t *task,
               const char *id,
               const char *kind,
               const char *prompt)
{
    json_t *approval =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "node", task->id,
                  "kind", kind, "prompt", prompt ? prompt : "", "state",
                  "pending", "created_us", (json_int_t) orcs_clock_wall_us());
    json_object_set_new(run->approvals, id, approval);
    o_put_approval(self, run, approval);
    o_checkpoint(self, run, O_EV_APPROVAL, task, task->status, kind);
    o_effect_publish(run, "approval", json_deep_copy(approval));
    return approval;
}

// Answers the held approval.request asks of an approval.
static void
s_answer_held(o_state_t *self, o_run_t *run, const json_t *approval)
{
    const char *id = json_string_value(json_object_get(approval, "id"));
    zlist_t *held = run->held ? zhashx_lookup(run->held, id) : NULL;
    if (!held)
        return;
    const char *state = json_string_value(json_object_get(approval, "state"));
    orcs_msg_t *request;
    while ((request = zlist_pop(held))) {
        o_reply(self, request, ORCS_OK,
                json_pack("{s:s, s:b, s:s, s:O}", "approval", id, "approved",
                          state && strcmp(state, "approved") == 0, "state",
                          state ? state : "", "reason",
                          json_object_get(approval, "reason")
                              ? json_object_get(approval, "reason")
                              : json_null()));
        orcs_msg_destroy(&request);
    }
    zhashx_delete(run->held, id);
}

void
o_approval_hold(o_state_t *self,
                o_run_t *run,
                const json_t *approval,
                const orcs_msg_t *request)
{
    const char *id = json_string_value(json_object_get(approval, "id"));
    if (!run->held) {
        run->held = zhashx_new();
        zhashx_set_destructor(run->held, (zhashx_destructor_fn *) s_held_free);
    }
    zlist_t *held = zhashx_lookup(run->held, id);
    if (!held) {
        held = zlist_new();
        zhashx_insert(run->held, id, held);
    }
    zlist_append(held, orcs_msg_dup(request));
    const char *state = json_string_value(json_object_get(approval, "state"));
    if (!state || strcmp(state, "pending") != 0)
        s_answer_held(self, run, approval);
}

// Parks task on a new approval (or decides it at once with auto_approve).
void
o_ask_human(o_state_t *self,
            o_task_t *task,
            const char *kind,
            const char *prompt)
{
    json_t *approval = s_approval_new(self, task, kind, prompt);
    json_decref(approval);
    if (task->run->auto_approve)
        o_approval_decide(self, task->run, task->approval, true,
                          "--auto-approve", "auto");
}

void
o_apply_decision(o_state_t *self, o_task_t *task, json_t *approval)
{
    const char *state = json_string_value(json_object_get(approval, "state"));
    const char *kind = json_string_value(json_object_get(approval, "kind"));
    const char *reason = json_string_value(json_object_get(approval, "reason"));
    bool approved = state && strcmp(state, "approved") == 0;
    task->approval[0] = 0;
    o_timer_cancel(self, &task->timer_id);
    if (kind && strcmp(kind, "node") == 0) {
        if (approved) {
            s_complete(self, task,
                       json_pack("{s:b, s:O, s:s}", "approved", 1, "by",
                                 json_object_get(approval, "by")
                                     ? json_object_get(approval, "by")
                                     : json_null(),
                                 "reason", reason ? reason : ""));
            return;
        }
    } else if (approved) {
        // a tool's approval, or a retry after a crash
        task->approved = kind && strcmp(kind, "tool") == 0;
        task->status = ORCS_RECORD_PENDING;
        task->run->active--;
        o_task_make_ready(self, task);
        return;
    }
    bool timed_out = state && strcmp(state, "timed_out") == 0;
    task->error = timed_out ? ORCS_ETIMEDOUT : ORCS_EDENIED;
    o_task_set_detail(task, "%s%s%s",
                      timed_out ? "approval timed out" : "rejected",
                      reason && *reason ? ": " : "", reason ? reason : "");
    o_failed(self, task);
}

orcs_status
o_approval_decide(o_state_t *self,
                  o_run_t *run,
                  const char *id,
                  bool approve,
                  const char *reason,
                  const char *by)
{
    json_t *approval = json_object_get(run->approvals, id);
    if (!approval)
        return ORCS_ENOTFOUND;
    const char *state = json_string_value(json_object_get(approval, "state"));
    if (!state || strcmp(state, "pending") != 0)
        return ORCS_EEXIST;
    o_task_t *task =
        o_task_find(run, json_string_value(json_object_get(approval, "node")));
    const char *kind = json_string_value(json_object_get(approval, "kind"));
    bool agent_tool = kind && strcmp(kind, "agent_tool") == 0;
    if (!task || (!agent_tool && strcmp(task->approval, id) != 0))
        return ORCS_ENOTFOUND;
    json_object_set_new(approval, "state",
                        json_string(approve ? "approved" : "rejected"));
    json_object_set_new(approval, "by", json_string(by ? by : "cli"));
    json_object_set_new(approval, "reason", json_string(reason ? reason : ""));
    json_object_set_new(approval, "decided_us",
                        json_integer(orcs_clock_wall_us()));
    o_put_approval(self, run, approval);
    o_checkpoint(self, run, O_EV_DECIDED, task, task->status,
                 approve ? "approved" : "rejected");
    o_effect_publish(run, "approval", json_deep_copy(approval));
    if (agent_tool) // the agent asked and waits
        s_answer_held(self, run, approval);
    else
        o_apply_decision(self, task, approval);
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Starting tasks

static void
s_fail_now(o_state_t *self,
           o_task_t *task,
           orcs_status error,
           const char *detail)
{
    task->error = error;
    o_task_set_detail(task, "%s", detail);
    o_failed(self, task);
}

static bool
s_needs_approval(o_state_t *self, o_task_t *task)
{
    const orcs_wf_node_t *node = task->node;
    if (task->approved || (node->kind != ORCS_WF_TOOL))
        return false;
    orcs_tools_t *tools = orcs_node_tools(self->node);
    orcs_toolset_t *set = tools ? orcs_tools_acquire(tools) : NULL;
    const orcs_tool_t *tool = set ? orcs_toolset_find(set, node->tool) : NULL;
    bool needs = tool && tool->needs_approval;
    orcs_toolset_release(&set);
    return needs;
}

static void
s_start_map(o_state_t *self, o_task_t *task)
{
    o_run_t *run = task->run;
    json_t *items = NULL;
    char err[O_ERR_MAX] = "";
    orcs_status rc = orcs_template_render(task->node->over, run->ctx, &items,
                                          err, sizeof err);
    if (rc != ORCS_OK || !json_is_array(items)) {
        if (rc == ORCS_OK)
            o_fmt(err, sizeof err, "over: expected a list, got %s",
                  json_is_object(items)   ? "an object"
                  : json_is_string(items) ? "a string"
                                          : "a scalar");
        json_decref(items);
        s_fail_now(self, task, rc == ORCS_OK ? ORCS_EINVAL : rc, err);
        return;
    }
    task->attempt++;
    task->started_us = orcs_clock_wall_us();
    task->items = items;
    size_t count = json_array_size(items);
    if (count == 0) {
        s_complete(self, task, json_array());
        return;
    }
    task->children = orcs_calloc(count, sizeof *task->children);
    task->children_count = count;
    for (size_t i = 0; i < count; i++) {
        o_task_t *item = orcs_calloc(1, sizeof *item);
        s_task_init(run, item, task->node->body);
        item->parent = task;
        item->index = (int) i;
        o_fmt(item->id, sizeof item->id, "%s[%zu]", task->id, i);
        task->children[i] = item;
    }
    o_task_set(self, task, ORCS_RECORD_RUNNING, O_EV_STARTED);
    while (task->next_child < count
           && task->running_children < (size_t) task->node->concurrency) {
        task->running_children++;
        o_task_make_ready(self, task->children[task->next_child++]);
    }
}

static void
s_start_loop(o_state_t *self, o_task_t *task)
{
    task->attempt++;
    task->started_us = orcs_clock_wall_us();
    task->children = orcs_calloc(1, sizeof *task->children);
    o_task_t *round = orcs_calloc(1, sizeof *round);
    s_task_init(task->run, round, task->node->body);
    round->parent = task;
    o_fmt(round->id, sizeof round->id, "%s#0", task->id);
    task->children[0] = round;
    task->children_count = 1;
    task->running_children = 1;
    o_task_set(self, task, ORCS_RECORD_RUNNING, O_EV_STARTED);
    o_task_make_ready(self, round);
}

static void
s_start_branch(o_state_t *self, o_task_t *task)
{
    const orcs_wf_node_t *node = task->node;
    int to = node->default_to;
    for (size_t i = 0; i < node->cases_count; i++) {
        bool yes = false;
        char err[O_ERR_MAX] = "";
        orcs_status rc = orcs_expr_test(node->cases[i].when, task->run->ctx,
                                        &yes, err, sizeof err);
        if (rc != ORCS_OK) {
            char detail[O_ERR_MAX + 32];
            o_fmt(detail, sizeof detail, "case %zu: %s", i + 1, err);
            s_fail_now(self, task, rc, detail);
            return;
        }
        if (yes) {
            to = node->cases[i].to;
            break;
        }
    }
    if (to < 0) {
        s_fail_now(self, task, ORCS_ENOTFOUND,
                   "no case matched and there is no default");
        return;
    }
    task->attempt = 1;
    task->started_us = orcs_clock_wall_us();
    task->run->tasks[to].chosen = true;
    s_complete(self, task,
               json_pack("{s:s}", "to", task->run->wf->nodes[to].id));
}

static void
s_start_join(o_state_t *self, o_task_t *task)
{
    json_t *out = json_object();
    const orcs_wf_node_t *node = task->node;
    for (size_t i = 0; i < node->needs_count; i++) {
        o_task_t *need = &task->run->tasks[node->needs[i]];
        if (need->status == ORCS_RECORD_SUCCEEDED)
            json_object_set(out, need->id,
                            need->output ? need->output : json_null());
    }
    task->attempt = 1;
    task->started_us = orcs_clock_wall_us();
    s_complete(self, task, out);
}

static void
s_start_end(o_state_t *self, o_task_t *task)
{
    o_run_t *run = task->run;
    json_t *output = NULL;
    char err[O_ERR_MAX] = "";
    if (task->node->input) {
        orcs_status rc = orcs_template_render(task->node->input, run->ctx,
                                              &output, err, sizeof err);
        if (rc != ORCS_OK) {
            s_fail_now(self, task, rc, err);
            return;
        }
    }
    task->attempt = 1;
    task->started_us = orcs_clock_wall_us();
    json_decref(run->output);
    run->output = json_incref(output ? output : json_null());
    s_complete(self, task, output);
    if (!run->finished)
        o_run_finish(self, run, ORCS_RECORD_SUCCEEDED, ORCS_OK, "");
}

static void
s_start_approval(o_state_t *self, o_task_t *task)
{
    json_t *prompt = NULL;
    char err[O_ERR_MAX] = "";
    if (task->node->input
        && orcs_template_render(task->node->input, task->run->ctx, &prompt, err,
                                sizeof err)
               != ORCS_OK) {
        s_fail_now(self, task, ORCS_EINVAL, err);
        return;
    }
    task->attempt = 1;
    task->started_us = orcs_clock_wall_us();
    char *text = json_is_string(prompt) ? NULL
                 : prompt               ? orcs_doc_to_text(prompt, JSON_COMPACT)
                                        : NULL;
    o_ask_human(self, task, "node", text ? text : json_string_value(prompt));
    free(text);
    json_decref(prompt);
}

static void
s_start(o_state_t *self, o_task_t *task)
{
    switch (task->node->kind) {
        case ORCS_WF_BRANCH:
            s_start_branch(self, task);
            return;
        case ORCS_WF_JOIN:
            s_start_join(self, task);
            return;
        case ORCS_WF_END:
            s_start_end(self, task);
            return;
        case ORCS_WF_APPROVAL:
            s_start_approval(self, task);
            return;
        case ORCS_WF_MAP:
            s_start_map(self, task);
            return;
        case ORCS_WF_LOOP:
            s_start_loop(self, task);
            return;
        default:
            break;
    }
    if (s_needs_approval(self, task)) {
        char prompt[256];
        o_fmt(prompt, sizeof prompt, "Allow the call of %s in node %s?",
              task->node->tool, task->id);
        o_ask_human(self, task, "tool", prompt);
        return;
    }
    task->attempt++;
    task->pending_retry = false;
    task->started_us = orcs_clock_wall_us();
    task->run->running++;
    o_task_set(self, task, ORCS_RECORD_RUNNING, O_EV_STARTED);
    o_effect(task->run, O_FX_DISPATCH, task);
    if (task->node->timeout_ms > 0)
        task->timer_id = o_timer(self, O_TIMER_TIMEOUT, task->run, task,
                                 task->node->timeout_ms);
}

// ---------------------------------------------------------------------------
// The run

void
o_run_begin(o_state_t *self, o_run_t *run)
{
    o_run_set_status(self, run, ORCS_RECORD_RUNNING);
    for (size_t i = 0; i < run->wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        if (task->node->needs_count == 0 && !task->node->routed)
            o_task_make_ready(self, task);
    }
    if (run->wf->deadline_ms > 0 && !run->deadline_timer)
        run->deadline_timer =
            o_timer(self, O_TIMER_DEADLINE, run, NULL, run->wf->deadline_ms);
}

void
o_run_restart(o_state_t *self, o_run_t *run)
{
    // Count what every task still waits for, from the statuses held.
    for (size_t i = 0; i < run->wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        task->unmet = task->completed_needs = task->skipped_needs = 0;
        for (size_t n = 0; n < task->node->needs_count; n++) {
            o_task_t *need = &run->tasks[task->node->needs[n]];
            if (!o_final(need->status))
                task->unmet++;
            else if (need->status == ORCS_RECORD_SUCCEEDED)
                task->completed_needs++;
            else
                task->skipped_needs++;
        }
    }
    for (size_t i = 0; i < run->wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        if (task->status != ORCS_RECORD_PENDING || task->ready)
            continue;
        if (task->node->kind == ORCS_WF_JOIN && task->node->any
            && task->completed_needs > 0)
            o_task_make_ready(self, task);
        else if (task->unmet <= 0)
            s_evaluate(self, task);
    }
    if (run->wf->deadline_ms > 0 && !run->deadline_timer)
        run->deadline_timer =
            o_timer(self, O_TIMER_DEADLINE, run, NULL, run->wf->deadline_ms);
}

// The output of a run without an end node: the outputs of the nodes
// nobody needs.
static json_t *
s_sink_outputs(o_run_t *run)
{
    json_t *out = json_object();
    for (size_t i = 0; i < run->wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        if (task->node->dependents_count == 0
            && task->status == ORCS_RECORD_SUCCEEDED)
            json_object_set(out, task->id,
                            task->output ? task->output : json_null());
    }
    return out;
}

void
o_run_advance(o_state_t *self, o_run_t *run)
{
    if (run->finished || !run->wf || run->plan_ask)
        return; // planning: nothing runs, nothing finishes
    if (run->status == ORCS_RECORD_RUNNING
        || run->status == ORCS_RECORD_WAITING) {
        o_task_t *task;
        while (run->running < run->wf->concurrency && !run->finished
               && (task = s_pop_ready(run))) {
            run->active--; // s_start counts it again as it goes on
            run->active++;
            s_start(self, task);
        }
    }
    if (run->finished)
        return;
    if (run->active <= 0 && run->status != ORCS_RECORD_PAUSED) {
        // Nothing can happen any more: what never ran is skipped.
        for (size_t i = 0; i < run->wf->count; i++)
            if (!o_final(run->tasks[i].status))
                o_task_skip(self, &run->tasks[i]);
        if (!run->finished) {
            json_decref(run->output);
            run->output = s_sink_outputs(run);
            o_run_finish(self, run, ORCS_RECORD_SUCCEEDED, ORCS_OK, "");
        }
        return;
    }
    // waiting_approval while some approval is pending
    bool pending = false;
    const char *key;
    json_t *approval;
    json_object_foreach(run->approvals, key, approval)
    {
        const char *state =
            json_string_value(json_object_get(approval, "state"));
        if (state && strcmp(state, "pending") == 0)
            pending = true;
    }
    if (pending && run->status == ORCS_RECORD_RUNNING)
        o_run_set_status(self, run, ORCS_RECORD_WAITING);
    else if (!pending && run->status == ORCS_RECORD_WAITING)
        o_run_set_status(self, run, ORCS_RECORD_RUNNING);
}

static void
s_cancel_task(o_state_t *self, o_task_t *task)
{
    for (size_t i = 0; i < task->children_count; i++)
        s_cancel_task(self, task->children[i]);
    if (o_final(task->status))
        return;
    if (task->status == ORCS_RECORD_RUNNING && task->node->kind != ORCS_WF_MAP
        && task->node->kind != ORCS_WF_LOOP) {
        o_effect(task->run, O_FX_CANCEL, task);
        task->run->running--;
    }
    bool touched = task->ready || task->status == ORCS_RECORD_RUNNING
                   || task->status == ORCS_RECORD_WAITING
                   || task->pending_retry;
    task->ready = false;
    task->pending_retry = false;
    o_timer_cancel(self, &task->timer_id);
    if (touched)
        o_task_set(self, task, ORCS_RECORD_CANCELED, O_EV_CANCELED);
}

void
o_run_finish(o_state_t *self,
             o_run_t *run,
             orcs_record_status status,
             orcs_status error,
             const char *detail)
{
    if (run->finished)
        return;
    run->finished = true;
    if (run->wf)
        for (size_t i = 0; i < run->wf->count; i++)
            s_cancel_task(self, &run->tasks[i]);
    const char *key;
    json_t *approval;
    json_object_foreach(run->approvals, key, approval)
    {
        const char *state =
            json_string_value(json_object_get(approval, "state"));
        if (state && strcmp(state, "pending") == 0) {
            json_object_set_new(approval, "state", json_string("cancelled"));
            o_put_approval(self, run, approval);
            s_answer_held(self, run, approval);
        }
    }
    o_timer_cancel(self, &run->deadline_timer);
    run->error = error;
    o_fmt(run->detail, sizeof run->detail, "%s", detail ? detail : "");
    run->finished_us = orcs_clock_wall_us();
    o_run_set_status(self, run, status);
    o_put_result(self, run);
    if (status == ORCS_RECORD_SUCCEEDED)
        self->completed++;
    else
        self->failed++;
    o_effect(run, O_FX_WAITERS, NULL);
}

// ---------------------------------------------------------------------------
// Timers

void
o_timer_fired(o_state_t *self, o_timer_t *timer)
{
    o_run_t *run = o_run_get(self, timer->run);
    if (!run || run->finished)
        return;
    o_task_t *task = timer->task;
    switch (timer->kind) {
        case O_TIMER_DEADLINE:
            run->deadline_timer = 0;
            o_run_finish(self, run, ORCS_RECORD_FAILED, ORCS_ETIMEDOUT,
                         "the run's deadline passed");
            break;
        case O_TIMER_RETRY:
            task->timer_id = 0;
            if (!task->pending_retry)
                return;
            task->pending_retry = false;
            run->active--;
            task->status = ORCS_RECORD_PENDING;
            o_task_make_ready(self, task);
            break;
        case O_TIMER_TIMEOUT: {
            task->timer_id = 0;
            if (task->status != ORCS_RECORD_RUNNING
                || task->attempt != timer->attempt)
                return;
            o_cancel_call(self, task);
            char detail[96];
            o_fmt(detail, sizeof detail, "timed out after %d ms",
                  task->node->timeout_ms);
            o_task_done(self, task, ORCS_ETIMEDOUT, NULL, detail);
            break;
        }
        case O_TIMER_APPROVAL: {
            task->timer_id = 0;
            json_t *approval = json_object_get(run->approvals, task->approval);
            if (!approval)
                return;
            json_object_set_new(approval, "state", json_string("timed_out"));
            json_object_set_new(approval, "decided_us",
                                json_integer(orcs_clock_wall_us()));
            o_put_approval(self, run, approval);
            o_checkpoint(self, run, O_EV_DECIDED, task, task->status,
                         "timed out");
            o_effect_publish(run, "approval", json_deep_copy(approval));
            o_apply_decision(self, task, approval);
            break;
        }
    }
}

// ---------------------------------------------------------------------------
// The view

json_t *
o_run_view(o_state_t *self, o_run_t *run)
{
    (void) self;
    json_t *nodes = json_object();
    if (run->wf)
        for (size_t i = 0; i < run->wf->count; i++) {
            o_task_t *task = &run->tasks[i];
            json_t *entry =
                json_pack("{s:s, s:s, s:I, s:I, s:I}", "status",
                          o_task_status_name(task->status), "kind",
                          orcs_wf_kind_name(task->node->kind), "attempts",
                          (json_int_t) task->attempt, "started_us",
                          (json_int_t) task->started_us, "finished_us",
                          (json_int_t) task->finished_us);
            json_object_set_new(entry, "error",
                                task->error ? json_string(o_task_detail(task))
                                            : json_null());
            if (task->clarifying)
                json_object_set_new(
                    entry, "question",
                    json_string(task->question ? task->question : ""));
            if (task->children_count)
                json_object_set_new(
                    entry, "items",
                    json_pack("{s:I, s:I}", "total",
                              (json_int_t) task->children_count, "done",
                              (json_int_t) task->done_children));
            json_object_set_new(nodes, task->id, entry);
        }
    json_t *approvals = json_array();
    const char *key;
    json_t *approval;
    json_object_foreach(run->approvals, key, approval)
        json_array_append(approvals, approval);
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:O, s:o, s:{s:I, s:I, s:I, s:f}, s:I, "
        "s:I, s:I}",
        "id", run->id, "workflow", run->wf ? run->wf->name : "(planning)",
        "status", o_run_status_name(run->status), "nodes", nodes, "approvals",
        approvals, "output",
        run->output && run->status == ORCS_RECORD_SUCCEEDED ? run->output
                                                            : json_null(),
        "error", run->error ? json_string(run->detail) : json_null(), "usage",
        "prompt_tokens", run->prompt_tokens, "completion_tokens",
        run->completion_tokens, "requests", run->requests, "cost", run->cost,
        "created_us", (json_int_t) run->created_us, "updated_us",
        (json_int_t) run->updated_us, "attempt", (json_int_t) run->attempt);
}
