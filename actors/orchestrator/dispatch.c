/*  actors/orchestrator/dispatch.c — the calls tasks make (agents, model,
    tools), their replies, and the planner.
    SPDX-License-Identifier: MPL-2.0

    Idempotency: a tool task's call is `tool.call {run, step: 0, call_id:
    TASK}`, so toolexec's key RUN/0/TASK is the same on every attempt and
    after a restart. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"

// ---------------------------------------------------------------------------
// Rendering a task's templates

// Puts item/index, loop and error into the context for a task's render.
static void
s_ctx_enter(o_task_t *task)
{
    json_t *ctx = task->run->ctx;
    o_task_t *parent = task->parent;
    if (parent && parent->node->kind == ORCS_WF_MAP) {
        json_object_set(ctx, "item",
                        json_array_get(parent->items, (size_t) task->index));
        json_object_set_new(ctx, "index", json_integer(task->index));
    } else if (parent && parent->node->kind == ORCS_WF_LOOP) {
        o_task_t *prev =
            task->index > 0 ? parent->children[task->index - 1] : NULL;
        json_object_set_new(
            ctx, "loop",
            json_pack("{s:i, s:O}", "index", task->index, "output",
                      prev && prev->output ? prev->output : json_null()));
    }
    o_task_t *routed = parent ? parent : task;
    if (routed->error_ctx)
        json_object_set(ctx, "error", routed->error_ctx);
}

static void
s_ctx_leave(o_task_t *task)
{
    json_t *ctx = task->run->ctx;
    json_object_del(ctx, "item");
    json_object_del(ctx, "index");
    json_object_del(ctx, "loop");
    json_object_del(ctx, "error");
}

static orcs_status
s_render(o_task_t *task,
         const orcs_template_t *tpl,
         json_t **value_p,
         char *err,
         size_t err_size)
{
    if (!tpl) {
        *value_p = json_null();
        return ORCS_OK;
    }
    s_ctx_enter(task);
    orcs_status rc =
        orcs_template_render(tpl, task->run->ctx, value_p, err, err_size);
    s_ctx_leave(task);
    return rc;
}

// A value as text for a model: strings as they are, the rest as JSON.
static char *
s_text(const json_t *value)
{
    if (json_is_string(value))
        return orcs_strdup(json_string_value(value));
    if (!value || json_is_null(value))
        return orcs_strdup("");
    return orcs_doc_to_text(value, JSON_COMPACT);
}

// ---------------------------------------------------------------------------
// Dispatch

static void
s_key(const o_task_t *task, char *key, size_t size)
{
    o_fmt(key, size, "%s/%s", task->run->id, task->id);
}

void
o_dispatch(o_state_t *self, o_task_t *task)
{
    o_run_t *run = task->run;
    if (task->status != ORCS_RECORD_RUNNING || run->finished)
        return;
    const orcs_wf_node_t *node = task->node;
    char err[O_ERR_MAX] = "";
    json_t *input = NULL;
    orcs_status rc = s_render(task, node->input, &input, err, sizeof err);
    if (rc != ORCS_OK) {
        o_task_done(self, task, rc, NULL, err);
        return;
    }
    char key[ORCS_MSG_RUN_ID_MAX + O_TASK_ID_MAX + 16];
    s_key(task, key, sizeof key);
    json_t *body = NULL;
    const char *to = NULL, *type = NULL;
    int timeout = node->timeout_ms > 0 ? node->timeout_ms + 5000 : O_ASK_MS;
    switch (node->kind) {
        case ORCS_WF_AGENT: {
            char *text = s_text(input);
            body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "run", run->id,
                             "key", key, "node", task->id, "agent", node->agent,
                             "input", text, "clarify", 1);
            free(text);
            if (node->thread) {
                json_t *thread = NULL;
                if (s_render(task, node->thread, &thread, err, sizeof err)
                        == ORCS_OK
                    && json_is_string(thread))
                    json_object_set(body, "thread", thread);
                json_decref(thread);
            }
            to = self->agents;
            type = "agent.run";
            break;
        }
        case ORCS_WF_PROMPT: {
            char *text = s_text(input);
            json_t *messages = json_array();
            if (node->system) {
                json_t *system = NULL;
                if (s_render(task, node->system, &system, err, sizeof err)
                    == ORCS_OK) {
                    char *sys = s_text(system);
                    json_array_append_new(messages,
                                          json_pack("{s:s, s:s}", "role",
                                                    "system", "content", sys));
                    free(sys);
                }
                json_decref(system);
            }
            char session[sizeof key + 16];
            o_fmt(session, sizeof session, "%s/%" PRIu32, key, task->attempt);
            json_t *setup = json_pack("{s:o}", "messages", messages);
            if (node->model)
                json_object_set_new(setup, "provider",
                                    json_string(node->model));
            body = json_pack("{s:s, s:s, s:i, s:[{s:s, s:s}], s:o}", "session",
                             session, "run", run->id, "step", 1, "append",
                             "role", "user", "content", text, "setup", setup);
            free(text);
            to = self->model;
            type = "model.chat";
            break;
        }
        case ORCS_WF_TOOL:
        case ORCS_WF_HTTP:
            body = json_pack(
                "{s:s, s:i, s:s, s:s, s:O, s:s, s:b}", "run", run->id, "step",
                0, "call_id", task->id, "tool", node->tool, "args",
                json_is_object(input) ? input : json_null(), "caller",
                orcs_actor_name(self->actor), "approved", task->approved);
            if (!json_is_object(input) && !json_is_null(input)) {
                json_decref(body);
                json_decref(input);
                o_task_done(self, task, ORCS_EINVAL, NULL,
                            "args must be an object");
                return;
            }
            to = self->toolexec;
            type = "tool.call";
            break;
        default:
            json_decref(input);
            o_task_done(self, task, ORCS_EINTERNAL, NULL, "not a call");
            return;
    }
    json_decref(input);
    rc = o_ask(self, to, type, body, run->id, timeout, O_CALL_TASK, task);
    if (rc != ORCS_OK) {
        o_fmt(err, sizeof err, "cannot reach %s: %s", to, orcs_status_str(rc));
        o_task_done(self, task, rc == ORCS_EFULL ? ORCS_EAGAIN : rc, NULL, err);
    }
}

void
o_cancel_call(o_state_t *self, o_task_t *task)
{
    if (task->ask_id) {
        zhashx_delete(self->calls, (void *) (uintptr_t) task->ask_id);
        task->ask_id = 0;
    }
    char key[ORCS_MSG_RUN_ID_MAX + O_TASK_ID_MAX + 16];
    s_key(task, key, sizeof key);
    const char *to = NULL, *type = NULL;
    json_t *body = NULL;
    switch (task->node->kind) {
        case ORCS_WF_AGENT:
            to = self->agents;
            type = "agent.cancel";
            body = json_pack("{s:s}", "key", key);
            break;
        case ORCS_WF_PROMPT: {
            char session[sizeof key + 16];
            o_fmt(session, sizeof session, "%s/%" PRIu32, key, task->attempt);
            to = self->model;
            type = "model.close";
            body = json_pack("{s:s}", "session", session);
            break;
        }
        case ORCS_WF_TOOL:
        case ORCS_WF_HTTP:
            to = self->toolexec;
            type = "tool.cancel";
            body = json_pack("{s:s, s:s}", "run", task->run->id, "call_id",
                             task->id);
            break;
        default:
            return;
    }
    orcs_msg_t *msg = orcs_msg_new(type);
    orcs_msg_set_body(msg, &body);
    orcs_msg_set_run_id(msg, task->run->id);
    if (orcs_actor_send(self->actor, to, &msg) != ORCS_OK)
        orcs_msg_destroy(&msg);
}

// ---------------------------------------------------------------------------
// Replies

static void
s_usage(o_run_t *run, const json_t *body)
{
    const json_t *usage = json_object_get(body, "usage");
    run->prompt_tokens +=
        json_integer_value(json_object_get(usage, "prompt_tokens"));
    run->completion_tokens +=
        json_integer_value(json_object_get(usage, "completion_tokens"));
    run->requests += json_integer_value(json_object_get(body, "steps"))
                         ? json_integer_value(json_object_get(body, "steps"))
                         : 1;
    run->cost += json_number_value(json_object_get(body, "cost"));
    o_put_result(run->owner, run); // the usage so far, durable with the step
}

// The run's budget was exceeded: say how, else NULL.
static bool
s_over_budget(const o_run_t *run, char *why, size_t size)
{
    const json_t *budget = run->wf ? run->wf->budget : NULL;
    if (!budget)
        return false;
    json_int_t max_tokens =
        json_integer_value(json_object_get(budget, "max_tokens"));
    json_int_t max_requests =
        json_integer_value(json_object_get(budget, "max_requests"));
    double max_cost = json_number_value(json_object_get(budget, "max_cost"));
    json_int_t tokens = run->prompt_tokens + run->completion_tokens;
    if (max_tokens > 0 && tokens > max_tokens)
        o_fmt(why, size, "budget exceeded: %lld tokens > max_tokens %lld",
              (long long) tokens, (long long) max_tokens);
    else if (max_requests > 0 && run->requests > max_requests)
        o_fmt(why, size, "budget exceeded: %lld requests > max_requests %lld",
              (long long) run->requests, (long long) max_requests);
    else if (max_cost > 0 && run->cost > max_cost)
        o_fmt(why, size, "budget exceeded: cost %.4f > max_cost %.4f",
              run->cost, max_cost);
    else
        return false;
    return true;
}

static void
s_task_reply(o_state_t *self, o_task_t *task, orcs_msg_t *msg)
{
    orcs_status status = orcs_msg_status(msg);
    json_t *body = NULL;
    if (orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT)
        status = ORCS_ETIMEDOUT;
    else if (orcs_msg_take_body(msg, &body) != ORCS_OK)
        status = ORCS_EPROTO;
    const orcs_wf_node_t *node = task->node;
    o_run_t *run = task->run;
    char detail[O_ERR_MAX] = "";
    const char *error = json_string_value(json_object_get(body, "error"));
    json_t *output = NULL;
    // What a model-using node spent counts, also when it failed (an agent
    // over its step limit has paid for its steps).
    if ((node->kind == ORCS_WF_AGENT || node->kind == ORCS_WF_PROMPT)
        && (status == ORCS_OK
            || json_is_object(json_object_get(body, "usage"))))
        s_usage(run, body);
    if (status == ORCS_OK && node->kind == ORCS_WF_AGENT) {
        output = json_incref(json_object_get(body, "output"));
    } else if (status == ORCS_OK && node->kind == ORCS_WF_PROMPT) {
        const char *text = json_string_value(
            json_object_get(json_object_get(body, "message"), "content"));
        if (node->json_output) {
            json_error_t jerr;
            output = text ? json_loads(text, JSON_DECODE_ANY, &jerr) : NULL;
            if (!output) {
                status = ORCS_EPROTO;
                o_fmt(detail, sizeof detail, "the answer is not JSON: %.200s",
                      text ? text : "");
            }
        } else
            output = json_string(text ? text : "");
        char key[ORCS_MSG_RUN_ID_MAX + O_TASK_ID_MAX + 16];
        s_key(task, key, sizeof key);
        char session[sizeof key + 16];
        o_fmt(session, sizeof session, "%s/%" PRIu32, key, task->attempt);
        json_t *close = json_pack("{s:s}", "session", session);
        orcs_msg_t *bye = orcs_msg_new("model.close");
        orcs_msg_set_body(bye, &close);
        if (orcs_actor_send(self->actor, self->model, &bye) != ORCS_OK)
            orcs_msg_destroy(&bye);
    } else if (status == ORCS_OK) { // tool, http
        if (json_is_true(json_object_get(body, "ok")))
            output = json_incref(json_object_get(body, "result"));
        else {
            const char *reason =
                json_string_value(json_object_get(body, "reason"));
            status = reason && strcmp(reason, "denied") == 0    ? ORCS_EDENIED
                     : reason && strcmp(reason, "timeout") == 0 ? ORCS_ETIMEDOUT
                                                                : ORCS_EREMOTE;
            o_copy(detail, sizeof detail, error ? error : "failed");
        }
    }
    if (status != ORCS_OK && !detail[0])
        o_copy(detail, sizeof detail, error ? error : orcs_status_str(status));
    json_decref(body);
    char why[256];
    if (status == ORCS_OK && s_over_budget(run, why, sizeof why)) {
        o_task_done(self, task, ORCS_OK, output, NULL);
        o_run_finish(self, run, ORCS_RECORD_FAILED, ORCS_EDENIED, why);
        return;
    }
    o_task_done(self, task, status, output, detail);
}

void
o_on_reply(o_state_t *self, orcs_msg_t *msg)
{
    uint64_t id = orcs_msg_correlation_id(msg);
    o_call_t *call = zhashx_lookup(self->calls, (void *) (uintptr_t) id);
    if (!call)
        return; // cancelled, timed out, or its run is gone
    o_run_t *run = o_run_get(self, call->run);
    o_call_t copy = *call;
    zhashx_delete(self->calls, (void *) (uintptr_t) id);
    if (!run)
        return;
    if (copy.kind == O_CALL_PLAN) {
        run->plan_ask = 0;
        o_plan_reply(self, run, msg);
    } else if (copy.task->ask_id == id) {
        copy.task->ask_id = 0;
        s_task_reply(self, copy.task, msg);
    }
    o_run_advance(self, run);
    o_flush(self, run);
}
