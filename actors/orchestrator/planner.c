/*  actors/orchestrator/planner.c — runs whose graph a planner agent makes
    (docs/workflows.md "Planner").
    SPDX-License-Identifier: MPL-2.0

    run.start with "plan": {"request", "planner": agent file, "roles":
    {ROLE: agent file}, "attempts" (3), "replans" (1), "only" (false)}.
    The planner is asked for a task list; orcs_plan_compile checks it and
    a refused plan goes back to the planner with the errors, at most
    `attempts` times. The accepted graph is stored with the run (so a
    restart does not plan again) and runs. When a task fails beyond its
    retries, the planner is asked to plan the rest (at most `replans`
    times), and completed tasks are kept. */
#include <stdio.h>
#include <string.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/log.h"
#include "orcs/sys.h"

#define S_INPUT_MAX 65536

static json_int_t
s_int(const json_t *obj, const char *key, json_int_t fallback)
{
    const json_t *value = json_object_get(obj, key);
    return json_is_integer(value) ? json_integer_value(value) : fallback;
}

// Completed tasks a re-plan keeps: id -> node document.
static json_t *
s_keep(o_run_t *run)
{
    if (!run->wf)
        return NULL;
    json_t *keep = json_object();
    const json_t *nodes = json_object_get(run->wf->doc, "nodes");
    for (size_t i = 0; i < run->wf->count; i++) {
        o_task_t *task = &run->tasks[i];
        if (task->status == ORCS_RECORD_SUCCEEDED
            && task->node->kind == ORCS_WF_AGENT)
            json_object_set(keep, task->id, json_object_get(nodes, task->id));
    }
    return keep;
}

void
o_plan_ask(o_state_t *self, o_run_t *run)
{
    const json_t *plan = run->plan;
    char *input = orcs_malloc(S_INPUT_MAX);
    int used =
        o_fmt(input, S_INPUT_MAX, "%s\n\nPlan this as tasks for these roles:",
              json_string_value(json_object_get(plan, "request")));
    const char *role;
    json_t *path;
    json_object_foreach(json_object_get(plan, "roles"), role, path)
    {
        if (used > 0 && used < S_INPUT_MAX)
            used +=
                o_fmt(input + used, (size_t) (S_INPUT_MAX - used), " %s", role);
    }
    if (used > 0 && used < S_INPUT_MAX)
        used += o_fmt(
            input + used, (size_t) (S_INPUT_MAX - used),
            ".\nAnswer with only a JSON object: {\"tasks\": [{\"id\", "
            "\"title\", \"description\", \"role\", \"needs\": [task ids], "
            "\"needs_approval\": false}], \"output\": \"the id of the task "
            "whose output answers the request\"}. Tasks without a "
            "dependency between them run in parallel.");
    json_t *keep = run->replans ? s_keep(run) : NULL;
    const char *id;
    json_t *node;
    if (keep && json_object_size(keep) && used > 0 && used < S_INPUT_MAX)
        used += o_fmt(input + used, (size_t) (S_INPUT_MAX - used),
                      "\nThese tasks are done; do not plan them again, "
                      "but tasks may need them:");
    json_object_foreach(keep, id, node)
    {
        if (used > 0 && used < S_INPUT_MAX)
            used +=
                o_fmt(input + used, (size_t) (S_INPUT_MAX - used), " %s", id);
    }
    json_decref(keep);
    if (run->plan_error[0] && used > 0 && used < S_INPUT_MAX)
        o_fmt(input + used, (size_t) (S_INPUT_MAX - used), "\n\n%s",
              run->plan_error);
    run->plan_rounds++;
    char key[ORCS_MSG_RUN_ID_MAX + 32];
    o_fmt(key, sizeof key, "%s/planner/%d", run->id,
          run->plan_rounds + 100 * run->replans);
    json_t *body = json_pack("{s:s, s:s, s:s, s:O, s:s}", "run", run->id, "key",
                             key, "node", "planner", "agent",
                             json_object_get(plan, "planner"), "input", input);
    free(input);
    o_checkpoint(self, run, O_EV_PLAN, NULL, run->status, "planning");
    o_effect_publish(run, "plan.started",
                     json_pack("{s:i, s:i}", "round", run->plan_rounds,
                               "replan", run->replans));
    orcs_status rc = o_ask(self, self->agents, "agent.run", body, run->id,
                           O_ASK_MS, O_CALL_PLAN, NULL);
    if (rc != ORCS_OK)
        o_run_finish(self, run, ORCS_RECORD_FAILED, rc,
                     "cannot reach the planner");
}

// The planner's answer as a plan object (a JSON object, or text holding
// one, maybe in a ``` fence).
static json_t *
s_parse(const json_t *output, char *err, size_t size)
{
    if (json_is_object(output))
        return json_incref((json_t *) output);
    const char *text = json_string_value(output);
    if (!text) {
        o_fmt(err, size, "the plan must be a JSON object");
        return NULL;
    }
    const char *start = strchr(text, '{');
    const char *end = strrchr(text, '}');
    if (!start || !end || end < start) {
        o_fmt(err, size, "the answer holds no JSON object");
        return NULL;
    }
    json_error_t jerr;
    json_t *plan = json_loadb(start, (size_t) (end - start + 1), 0, &jerr);
    if (!plan)
        o_fmt(err, size, "the plan is not valid JSON: %s (line %d)", jerr.text,
              jerr.line);
    return plan;
}

static void
s_refused(o_state_t *self, o_run_t *run, const char *why)
{
    o_fmt(run->plan_error, sizeof run->plan_error,
          "Your previous plan was refused:\n%s\nFix it and answer again.", why);
    o_effect_publish(
        run, "plan.refused",
        json_pack("{s:s, s:i}", "error", why, "round", run->plan_rounds));
    if (run->plan_rounds < s_int(run->plan, "attempts", 3)) {
        o_plan_ask(self, run);
        return;
    }
    char detail[O_DETAIL_MAX + 1];
    o_fmt(detail, sizeof detail, "no valid plan after %d attempts: %s",
          run->plan_rounds, why);
    o_run_finish(self, run, ORCS_RECORD_FAILED, ORCS_EINVAL, detail);
}

void
o_plan_reply(o_state_t *self, o_run_t *run, orcs_msg_t *msg)
{
    if (run->finished)
        return;
    json_t *body = NULL;
    orcs_status status = orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT
                             ? ORCS_ETIMEDOUT
                             : orcs_msg_status(msg);
    if (orcs_msg_take_body(msg, &body) != ORCS_OK)
        status = ORCS_EPROTO;
    if (status != ORCS_OK) {
        char detail[O_DETAIL_MAX + 1];
        o_fmt(detail, sizeof detail, "the planner failed: %s",
              json_string_value(json_object_get(body, "error"))
                  ? json_string_value(json_object_get(body, "error"))
                  : orcs_status_str(status));
        json_decref(body);
        o_run_finish(self, run, ORCS_RECORD_FAILED, status, detail);
        return;
    }
    const json_t *usage = json_object_get(body, "usage");
    run->prompt_tokens +=
        json_integer_value(json_object_get(usage, "prompt_tokens"));
    run->completion_tokens +=
        json_integer_value(json_object_get(usage, "completion_tokens"));
    run->cost += json_number_value(json_object_get(body, "cost"));
    run->requests++;
    o_put_result(self, run); // the usage so far
    char err[O_ERR_MAX] = "";
    json_t *plan = s_parse(json_object_get(body, "output"), err, sizeof err);
    json_decref(body);
    if (!plan) {
        s_refused(self, run, err);
        return;
    }
    json_t *keep = run->replans ? s_keep(run) : NULL;
    json_t *doc = NULL;
    const char *name = run->wf ? run->wf->name : "plan";
    orcs_status rc =
        orcs_plan_compile(plan, json_object_get(run->plan, "roles"), keep, name,
                          &doc, err, sizeof err);
    json_decref(keep);
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    if (rc == ORCS_OK)
        rc = orcs_workflow_from_doc(doc, "/", &wf, &errors);
    if (rc != ORCS_OK) {
        if (errors && json_array_size(errors) && !err[0])
            o_copy(err, sizeof err,
                   json_string_value(json_array_get(errors, 0)));
        json_decref(errors);
        json_decref(doc);
        json_decref(plan);
        s_refused(self, run, err[0] ? err : "the plan does not compile");
        return;
    }
    json_decref(errors);
    run->plan_error[0] = 0;
    json_object_set_new(run->def, "workflow", doc);
    json_object_set_new(run->def, "planned", plan);
    o_put_def(self, run);
    o_checkpoint(self, run, O_EV_PLAN, NULL, run->status, "plan accepted");
    o_effect_publish(run, "plan.accepted",
                     json_pack("{s:I}", "nodes", (json_int_t) wf->count));
    if (json_is_true(json_object_get(run->plan, "only"))) {
        json_decref(run->output);
        run->output = json_pack("{s:O, s:O}", "plan", plan, "workflow", doc);
        orcs_workflow_destroy(&wf);
        o_run_finish(self, run, ORCS_RECORD_SUCCEEDED, ORCS_OK, "");
        return;
    }
    o_run_replace_wf(self, run, wf); // keeps completed tasks on a re-plan
    o_run_restart(self, run);
}

bool
o_plan_replan(o_state_t *self, o_run_t *run, o_task_t *failed)
{
    if (!run->plan || run->replans >= s_int(run->plan, "replans", 1))
        return false;
    run->replans++;
    run->plan_rounds = 0;
    o_fmt(run->plan_error, sizeof run->plan_error,
          "Task %s failed: %s\nPlan the remaining work again.", failed->id,
          o_task_detail(failed));
    o_plan_ask(self, run);
    return !run->finished;
}
