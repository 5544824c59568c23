/*  actors/orchestrator/engine.c — the state machine of a run: which tasks
    are ready, skipped, running, finished; routes, maps, loops, timers
    (docs/workflows.md "When a node runs").
    SPDX-License-Identifier: MPL-2.0

    Every change goes through o_task_set / o_run_set_status (run.c), which
    record it in the run's current batch (persist.c); calls are dispatched
    only as effects, after the batch is durable. */
#include <string.h>

#include <sodium.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/sys.h"
#include "orcs/tools.h"

static void s_start(o_state_t *self, o_task_t *task);

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
            o_complete(self, parent, outputs);
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
        o_complete(self, parent,
                   json_incref(child->output ? child->output : json_null()));
        return;
    }
    size_t next = parent->children_count;
    parent->children =
        orcs_realloc(parent->children, (next + 1) * sizeof *parent->children);
    o_task_t *round = orcs_calloc(1, sizeof *round);
    o_task_init(run, round, parent->node->body);
    round->parent = parent;
    round->index = (int) next;
    o_fmt(round->id, sizeof round->id, "%s#%zu", parent->id, next);
    parent->children[next] = round;
    parent->children_count = next + 1;
    parent->running_children++;
    o_task_make_ready(self, round);
}

// The task finished with output (taken).
void
o_complete(o_state_t *self, o_task_t *task, json_t *output)
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
        o_complete(self, task, output);
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
        o_complete(self, task, json_array());
        return;
    }
    task->children = orcs_calloc(count, sizeof *task->children);
    task->children_count = count;
    for (size_t i = 0; i < count; i++) {
        o_task_t *item = orcs_calloc(1, sizeof *item);
        o_task_init(run, item, task->node->body);
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
    o_task_init(task->run, round, task->node->body);
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
    o_complete(self, task,
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
    o_complete(self, task, out);
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
    o_complete(self, task, output);
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
            o_answer_held(self, run, approval);
        }
    }
    o_timer_cancel(self, &run->deadline_timer);
    run->error = error;
    o_copy(run->detail, sizeof run->detail, detail ? detail : "");
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
