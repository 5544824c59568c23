/*  actors/orchestrator/approval.c — approvals: parking a task on one,
    holding approval.request asks until it is decided, deciding it and
    applying the decision to its task (docs/workflows.md).
    SPDX-License-Identifier: MPL-2.0 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/runs.h"
#include "orcs/sys.h"

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
void
o_answer_held(o_state_t *self, o_run_t *run, const json_t *approval)
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
        o_answer_held(self, run, approval);
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
            o_complete(self, task,
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
    orcs_runs_approval_mark(approval, approve, by, reason);
    o_put_approval(self, run, approval);
    o_checkpoint(self, run, O_EV_DECIDED, task, task->status,
                 approve ? "approved" : "rejected");
    o_effect_publish(run, "approval", json_deep_copy(approval));
    if (agent_tool) // the agent asked and waits
        o_answer_held(self, run, approval);
    else
        o_apply_decision(self, task, approval);
    return ORCS_OK;
}
