/*  actors/orchestrator/orchestrator.c — the `orchestrator` actor: runs many
    workflow runs at once, durably (docs/workflows.md).
    SPDX-License-Identifier: MPL-2.0

    Config (the child's config, all optional): "agents", "model",
    "toolexec" (actor names; defaults "agents", "model", "toolexec").

    Asks: run.start, run.get, run.list, run.wait, run.cancel, run.pause,
    run.resume, run.interrupt, run.approve, orchestrator.stats. Sends from
    agents: run.clarify. At start it resumes every unfinished run found in
    the store. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/node.h"
#include "orcs/runs.h"
#include "orcs/sys.h"
#include "runtime/internal.h"

// ---------------------------------------------------------------------------
// Helpers the other files use

void
o_reply(o_state_t *self,
        const orcs_msg_t *request,
        orcs_status status,
        json_t *body)
{
    if (orcs_msg_kind_of(request) != ORCS_MSG_ASK) {
        json_decref(body);
        return;
    }
    if (status != ORCS_OK && !body)
        body = json_pack("{s:s}", "error", orcs_status_str(status));
    orcs_msg_t *reply = orcs_msg_new(orcs_msg_type(request));
    orcs_msg_set_body(reply, &body);
    orcs_msg_set_status(reply, status);
    if (orcs_actor_reply(self->actor, request, &reply) != ORCS_OK)
        orcs_msg_destroy(&reply); // the asker went away
}

static void s_error(o_state_t *self,
                    const orcs_msg_t *request,
                    orcs_status status,
                    const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void
s_error(o_state_t *self,
        const orcs_msg_t *request,
        orcs_status status,
        const char *fmt,
        ...)
{
    char text[O_ERR_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    o_reply(self, request, status, json_pack("{s:s}", "error", text));
}

o_run_t *
o_run_get(o_state_t *self, const char *id)
{
    return id ? zhashx_lookup(self->runs, id) : NULL;
}

orcs_status
o_ask(o_state_t *self,
      const char *to,
      const char *type,
      json_t *body,
      const char *run,
      int timeout_ms,
      o_call_kind kind,
      o_task_t *task)
{
    orcs_msg_t *msg = orcs_msg_new(type);
    orcs_msg_set_body(msg, &body);
    orcs_msg_set_run_id(msg, run);
    uint64_t id = 0;
    orcs_status rc = orcs_actor_ask(self->actor, to, &msg, timeout_ms, &id);
    if (rc != ORCS_OK) {
        orcs_msg_destroy(&msg);
        return rc;
    }
    o_call_t *call = orcs_calloc(1, sizeof *call);
    call->kind = kind;
    o_copy(call->run, sizeof call->run, run);
    call->task = task;
    call->attempt = task ? task->attempt : 0;
    zhashx_insert(self->calls, (void *) (uintptr_t) id, call);
    if (task)
        task->ask_id = id;
    else {
        o_run_t *owner = o_run_get(self, run);
        if (owner)
            owner->plan_ask = id;
    }
    return ORCS_OK;
}

uint64_t
o_timer(o_state_t *self,
        o_timer_kind kind,
        o_run_t *run,
        o_task_t *task,
        int64_t delay_ms)
{
    o_timer_t *timer = orcs_calloc(1, sizeof *timer);
    timer->kind = kind;
    o_copy(timer->run, sizeof timer->run, run->id);
    timer->task = task;
    timer->attempt = task ? task->attempt : 0;
    if (delay_ms > INT32_MAX)
        delay_ms = INT32_MAX;
    uint64_t id = 0;
    if (orcs_actor_timer_start(self->actor, (int) delay_ms, 0, timer, &id)
        != ORCS_OK) {
        free(timer);
        return 0;
    }
    zhashx_insert(self->timers, (void *) (uintptr_t) id, timer);
    return id;
}

void
o_timer_cancel(o_state_t *self, uint64_t *timer_id)
{
    if (!*timer_id)
        return;
    orcs_actor_timer_cancel(self->actor, *timer_id);
    zhashx_delete(self->timers, (void *) (uintptr_t) *timer_id);
    *timer_id = 0;
}

// ---------------------------------------------------------------------------
// Requests

static bool
s_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool
s_exists(o_state_t *self, const char *id)
{
    if (o_run_get(self, id))
        return true;
    void *value = NULL;
    size_t size = 0;
    orcs_status rc = orcs_store_get(self->store, ORCS_DB_RUNS, id, strlen(id),
                                    &value, &size);
    free(value);
    return rc == ORCS_OK;
}

// Starts a run. cached: the compiled workflow of the body's "doc" (one
// reference, taken over), which the body then lacks (s_start_raw), or
// NULL.
static void
s_start(o_state_t *self,
        orcs_msg_t **msg_p,
        const json_t *body,
        orcs_workflow_t *cached)
{
    orcs_msg_t *msg = *msg_p;
    const char *path = json_string_value(json_object_get(body, "workflow"));
    const json_t *doc = json_object_get(body, "doc");
    const json_t *plan = json_object_get(body, "plan");
    const json_t *given = json_object_get(body, "inputs");
    const char *id = json_string_value(json_object_get(body, "run"));
    if (!path && !cached && !json_is_object(doc) && !json_is_object(plan)) {
        self->bad_requests++;
        s_error(self, msg, ORCS_EINVAL,
                "run.start needs \"workflow\" (a path), \"doc\" or \"plan\"");
        return;
    }
    char generated[32];
    if (!id) {
        uint8_t bytes[6];
        randombytes_buf(bytes, sizeof bytes);
        char hex[13];
        sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
        o_fmt(generated, sizeof generated, "r-%s", hex);
        id = generated;
    }
    if (!s_id_ok(id)) {
        self->bad_requests++;
        s_error(self, msg, ORCS_EINVAL,
                "run id '%.64s': use 1-48 of [A-Za-z0-9._-]", id);
        orcs_workflow_destroy(&cached);
        return;
    }
    if (s_exists(self, id)) {
        s_error(self, msg, ORCS_EEXIST, "run %s already exists", id);
        orcs_workflow_destroy(&cached);
        return;
    }
    orcs_workflow_t *wf = cached;
    json_t *errors = NULL;
    orcs_status rc = ORCS_OK;
    if (!wf && (path || doc))
        rc = o_compile(self, path, doc,
                       json_string_value(json_object_get(body, "dir")), &wf,
                       &errors);
    if (rc != ORCS_OK) {
        json_t *reply =
            json_pack("{s:s, s:O}", "error",
                      errors && json_array_size(errors)
                          ? json_string_value(json_array_get(errors, 0))
                          : orcs_status_str(rc),
                      "errors", errors ? errors : json_array());
        json_decref(errors);
        o_reply(self, msg, rc, reply);
        return;
    }
    json_decref(errors);
    json_t *inputs = NULL;
    if (wf) {
        char err[O_ERR_MAX];
        rc = orcs_workflow_inputs(wf, given, &inputs, err, sizeof err);
        if (rc != ORCS_OK) {
            orcs_workflow_destroy(&wf);
            s_error(self, msg, rc, "%s", err);
            return;
        }
    } else
        inputs = json_is_object(given) ? json_deep_copy(given) : json_object();
    json_t *def = json_pack(
        "{s:O, s:s, s:O, s:b}", "workflow", wf ? wf->doc : json_null(), "dir",
        wf && wf->dir ? wf->dir : "/", "inputs", inputs, "auto_approve",
        json_is_true(json_object_get(body, "auto_approve")));
    if (plan)
        json_object_set(def, "plan", (json_t *) plan);
    o_run_t *run = o_run_new(self, id, wf, inputs, def);
    run->auto_approve = json_is_true(json_object_get(body, "auto_approve"));
    if (plan) {
        run->plan = json_deep_copy(plan);
        json_t *request = json_object_get(plan, "request");
        if (!json_is_string(request)
            || !json_is_string(json_object_get(plan, "planner"))
            || !json_is_object(json_object_get(plan, "roles"))) {
            self->bad_requests++;
            o_run_free(self, run);
            s_error(self, msg, ORCS_EINVAL,
                    "plan needs \"request\", \"planner\" and \"roles\"");
            return;
        }
    }
    self->started++;
    o_put_def(self, run);
    o_checkpoint(self, run, O_EV_RUN, NULL, ORCS_RECORD_PENDING, "created");
    if (wf)
        o_run_begin(self, run);
    else {
        o_run_set_status(self, run, ORCS_RECORD_RUNNING);
        o_plan_ask(self, run);
    }
    o_effect_reply_take(run, msg_p, ORCS_OK,
                        json_pack("{s:s, s:s}", "run", run->id, "status",
                                  o_run_status_name(run->status)));
    o_run_advance(self, run);
    o_flush(self, run);
}

// run.start read from the body's bytes: a cached inline document is found
// by its hash without being decoded (orcs_doc_decode_hashing), and a body
// without one is decoded once here. False when the body names a document
// the cache does not hold, or cannot be read: the ordinary path then
// decodes it (and says what is wrong).
static bool
s_start_raw(o_state_t *self, orcs_msg_t **msg_p)
{
    size_t size = 0;
    const uint8_t *raw = orcs_msg_body_raw(*msg_p, &size);
    if (!raw || size == 0)
        return false;
    json_t *rest = NULL;
    uint8_t hash[ORCS_DOC_HASH_SIZE];
    bool found = false;
    if (orcs_doc_decode_hashing(raw, size, NULL, "doc", &rest, hash, &found)
        != ORCS_OK)
        return false;
    orcs_workflow_t *wf = NULL;
    if (found && !json_string_value(json_object_get(rest, "workflow")))
        wf = o_compile_cached_doc(
            self, hash, json_string_value(json_object_get(rest, "dir")));
    bool handled = !found || wf;
    if (handled) // without "doc", rest is the whole body
        s_start(self, msg_p, rest, wf);
    json_decref(rest);
    return handled;
}

// The run a request names, or an error reply (NULL).
static o_run_t *
s_named(o_state_t *self, orcs_msg_t *msg, const json_t *body)
{
    const char *id = json_string_value(json_object_get(body, "run"));
    o_run_t *run = o_run_get(self, id);
    if (!run) {
        if (!id)
            self->bad_requests++;
        s_error(self, msg, ORCS_ENOTFOUND, "no run %s%s",
                id ? id : "(none given)",
                id ? " in this node (finished runs: orcs runs show)" : "");
    }
    return run;
}

static void
s_get(o_state_t *self, orcs_msg_t *msg, const json_t *body, bool wait)
{
    const char *id = json_string_value(json_object_get(body, "run"));
    o_run_t *run = o_run_get(self, id);
    if (!run && id) { // finished and freed, or held by no node: the store
        json_t *view = NULL;
        if (orcs_runs_view(self->store, id, &view) == ORCS_OK) {
            o_reply(self, msg, ORCS_OK, view);
            return;
        }
    }
    run = s_named(self, msg, body);
    if (!run)
        return;
    bool settled = run->finished || run->status == ORCS_RECORD_WAITING
                   || run->status == ORCS_RECORD_PAUSED;
    // run.wait answers with a state that is on disk: while its write is in
    // flight (or not yet sent) the answer waits for it, like every effect.
    bool durable =
        !run->writing && !(run->batch && orcs_batch_size(run->batch) > 0);
    if (wait && (!settled || !durable)) {
        orcs_reply_to_t *to = orcs_reply_to_new(msg);
        if (to) // a send expects no answer
            zlist_append(run->waiters, to);
        return;
    }
    if (orcs_msg_kind_of(msg) != ORCS_MSG_ASK)
        return;
    orcs_msg_t *reply = o_run_view_reply(run, orcs_msg_type(msg));
    if (orcs_actor_reply(self->actor, msg, &reply) != ORCS_OK)
        orcs_msg_destroy(&reply); // the asker went away
}

static void
s_list(o_state_t *self, orcs_msg_t *msg, const json_t *body)
{
    const char *status = json_string_value(json_object_get(body, "status"));
    json_int_t limit = json_integer_value(json_object_get(body, "limit"));
    json_t *list = NULL;
    orcs_status rc = orcs_runs_list(self->store, status,
                                    limit > 0 ? (size_t) limit : 0, &list);
    if (rc != ORCS_OK) {
        s_error(self, msg, rc, "cannot list runs: %s", orcs_status_str(rc));
        return;
    }
    // runs held in memory only (durable: false) are not in the store
    json_t *runs = json_object_get(list, "runs");
    for (o_run_t *run = self->list; run; run = run->next) {
        if (run->durable)
            continue;
        const char *name = o_run_status_name(run->status);
        if (status && strcmp(status, name) != 0)
            continue;
        json_array_append_new(
            runs,
            json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", run->id, "workflow",
                      run->wf ? run->wf->name : "(planning)", "status", name,
                      "created_us", (json_int_t) run->created_us, "updated_us",
                      (json_int_t) run->updated_us));
    }
    o_reply(self, msg, ORCS_OK, list);
}

static void
s_control(o_state_t *self, orcs_msg_t *msg, const json_t *body, int what)
{
    o_run_t *run = s_named(self, msg, body);
    if (!run)
        return;
    if (run->finished) {
        s_error(self, msg, ORCS_EINVAL, "run %s is %s", run->id,
                o_run_status_name(run->status));
        return;
    }
    if (what == 0) // cancel
        o_run_finish(self, run, ORCS_RECORD_CANCELED, ORCS_ECANCELED,
                     "cancelled on request");
    else if (what == 1) // pause
        o_run_set_status(self, run, ORCS_RECORD_PAUSED);
    else if (run->status == ORCS_RECORD_PAUSED) // resume
        o_run_set_status(self, run, ORCS_RECORD_RUNNING);
    o_effect_reply(run, msg, ORCS_OK, NULL);
    o_run_advance(self, run);
    // the reply carries the status after this round
    o_effect_t *fx = zlist_last(run->effects);
    if (fx && fx->kind == O_FX_REPLY && !fx->body)
        fx->body = json_pack("{s:s, s:s}", "run", run->id, "status",
                             o_run_status_name(run->status));
    o_flush(self, run);
}

static void
s_approve(o_state_t *self, orcs_msg_t *msg, const json_t *body)
{
    o_run_t *run = s_named(self, msg, body);
    if (!run)
        return;
    const char *id = json_string_value(json_object_get(body, "approval"));
    const json_t *approve = json_object_get(body, "approve");
    if (!id || !json_is_boolean(approve)) {
        self->bad_requests++;
        s_error(self, msg, ORCS_EINVAL,
                "run.approve needs \"approval\" and \"approve\": bool");
        return;
    }
    orcs_status rc =
        o_approval_decide(self, run, id, json_is_true(approve),
                          json_string_value(json_object_get(body, "reason")),
                          json_string_value(json_object_get(body, "by")));
    if (rc == ORCS_ENOTFOUND) {
        s_error(self, msg, rc, "run %s has no approval %s", run->id, id);
        return;
    }
    if (rc == ORCS_EEXIST) {
        s_error(self, msg, rc, "approval %s was already decided (%s)", id,
                json_string_value(json_object_get(
                    json_object_get(run->approvals, id), "state")));
        return;
    }
    o_effect_reply(run, msg, ORCS_OK,
                   json_pack("{s:s, s:s, s:s}", "run", run->id, "approval", id,
                             "state",
                             json_is_true(approve) ? "approved" : "rejected"));
    o_run_advance(self, run);
    o_flush(self, run);
}

static void
s_interrupt(o_state_t *self, orcs_msg_t *msg, const json_t *body)
{
    o_run_t *run = s_named(self, msg, body);
    if (!run)
        return;
    const char *input = json_string_value(json_object_get(body, "input"));
    const char *node = json_string_value(json_object_get(body, "node"));
    if (!input) {
        self->bad_requests++;
        s_error(self, msg, ORCS_EINVAL, "run.interrupt needs \"input\"");
        return;
    }
    o_task_t *target = node ? o_task_find(run, node) : NULL;
    if (!node && run->wf) // the agent that asked, else the one running
        for (size_t i = 0; i < run->wf->count && !target; i++)
            if (run->tasks[i].clarifying)
                target = &run->tasks[i];
    if (!node && run->wf)
        for (size_t i = 0; i < run->wf->count && !target; i++)
            if (run->tasks[i].status == ORCS_RECORD_RUNNING
                && run->tasks[i].node->kind == ORCS_WF_AGENT)
                target = &run->tasks[i];
    if (!target || target->status != ORCS_RECORD_RUNNING
        || target->node->kind != ORCS_WF_AGENT) {
        s_error(self, msg, ORCS_ENOTFOUND,
                "run %s has no running agent node%s%s", run->id,
                node ? " named " : "", node ? node : "");
        return;
    }
    char key[ORCS_MSG_RUN_ID_MAX + O_TASK_ID_MAX + 16];
    o_fmt(key, sizeof key, "%s/%s", run->id, target->id);
    json_t *fwd = json_pack("{s:s, s:s}", "key", key, "input", input);
    orcs_msg_t *out = orcs_msg_new("agent.interrupt");
    orcs_msg_set_body(out, &fwd);
    orcs_msg_set_run_id(out, run->id);
    if (orcs_actor_send(self->actor, self->agents, &out) != ORCS_OK)
        orcs_msg_destroy(&out);
    target->clarifying = false;
    o_checkpoint(self, run, O_EV_INTERRUPT, target, target->status, input);
    o_effect_publish(
        run, "node.interrupt",
        json_pack("{s:s, s:s}", "node", target->id, "input", input));
    o_effect_reply(run, msg, ORCS_OK,
                   json_pack("{s:s, s:s}", "run", run->id, "node", target->id));
    o_flush(self, run);
}

static void
s_clarify(o_state_t *self, const json_t *body)
{
    o_run_t *run =
        o_run_get(self, json_string_value(json_object_get(body, "run")));
    const char *node = json_string_value(json_object_get(body, "node"));
    o_task_t *task = run && node ? o_task_find(run, node) : NULL;
    if (!task)
        return;
    task->clarifying = true;
    const char *question = json_string_value(json_object_get(body, "question"));
    char text[256];
    o_copy(text, sizeof text, question ? question : "");
    free(task->question);
    task->question = orcs_strdup(text);
    o_checkpoint(self, run, O_EV_INTERRUPT, task, task->status,
                 question ? question : "");
    o_effect_publish(run, "node.question",
                     json_pack("{s:s, s:s}", "node", task->id, "question",
                               question ? question : ""));
    o_flush(self, run);
}

// An agent of a node wants to call a tool that needs a human's approval.
// The approval's id comes from the node, the tool and its arguments, so an
// agent that runs again after a restart asks for the same approval (and
// gets a decision made meanwhile at once).
static void
s_approval_request(o_state_t *self, orcs_msg_t *msg, const json_t *body)
{
    o_run_t *run = s_named(self, msg, body);
    if (!run)
        return;
    const char *node = json_string_value(json_object_get(body, "node"));
    const char *tool = json_string_value(json_object_get(body, "tool"));
    o_task_t *task = node ? o_task_find(run, node) : NULL;
    if (!task || !tool || run->finished) {
        self->bad_requests++;
        s_error(self, msg, ORCS_ENOTFOUND, "run %s has no running node %s",
                run->id, node ? node : "(none given)");
        return;
    }
    char *args = orcs_doc_to_text(json_object_get(body, "args"),
                                  JSON_COMPACT | JSON_SORT_KEYS);
    crypto_generichash_state hash;
    uint8_t digest[8];
    crypto_generichash_init(&hash, NULL, 0, sizeof digest);
    crypto_generichash_update(&hash, (const uint8_t *) task->id,
                              strlen(task->id) + 1);
    crypto_generichash_update(&hash, (const uint8_t *) tool, strlen(tool) + 1);
    if (args)
        crypto_generichash_update(&hash, (const uint8_t *) args, strlen(args));
    crypto_generichash_final(&hash, digest, sizeof digest);
    char hex[sizeof digest * 2 + 1], id[24];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    o_fmt(id, sizeof id, "a-%s", hex);
    json_t *approval = json_object_get(run->approvals, id);
    if (!approval) {
        char prompt[O_DETAIL_MAX + 1];
        o_fmt(prompt, sizeof prompt, "Allow node %s to call %s with %s?",
              task->id, tool, args ? args : "{}");
        approval = o_approval_new(self, run, task, id, "agent_tool", prompt);
    }
    free(args);
    o_approval_hold(self, run, approval, msg);
    if (run->auto_approve)
        o_approval_decide(self, run, id, true, "--auto-approve", "auto");
    o_run_advance(self, run);
    o_flush(self, run);
}

static json_t *
s_stats(o_state_t *self)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}}",
                     "held", (json_int_t) zhashx_size(self->runs), "started",
                     (json_int_t) self->started, "completed",
                     (json_int_t) self->completed, "failed",
                     (json_int_t) self->failed, "resumed",
                     (json_int_t) self->resumed, "bad_requests",
                     (json_int_t) self->bad_requests, "calls",
                     (json_int_t) zhashx_size(self->calls), "workflow_cache",
                     "hits", (json_int_t) self->cache_hits, "misses",
                     (json_int_t) self->cache_misses);
}

// ---------------------------------------------------------------------------
// The actor

static int
s_key_compare(const void *a, const void *b)
{
    return (uintptr_t) a < (uintptr_t) b ? -1 : (uintptr_t) a > (uintptr_t) b;
}

static size_t
s_key_hash(const void *key)
{
    uint64_t x = (uint64_t) (uintptr_t) key;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t) x;
}

static void
s_free_item(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

static zhashx_t *
s_id_map(void)
{
    zhashx_t *map = zhashx_new();
    zhashx_set_key_comparator(map, s_key_compare);
    zhashx_set_key_hasher(map, s_key_hash);
    zhashx_set_key_duplicator(map, NULL);
    zhashx_set_key_destructor(map, NULL);
    zhashx_set_destructor(map, s_free_item);
    return map;
}

static void
s_name(char *out, const json_t *config, const char *key, const char *fallback)
{
    const char *value = json_string_value(json_object_get(config, key));
    o_fmt(out, ORCS_MSG_ADDRESS_MAX + 1, "%s", value ? value : fallback);
}

static orcs_status
s_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    o_state_t *self = orcs_calloc(1, sizeof *self);
    self->actor = actor;
    self->node = orcs_actor_node(actor);
    self->store = orcs_node_store(self->node);
    self->runs = zhashx_new();
    self->calls = s_id_map();
    self->timers = s_id_map();
    self->writes = s_id_map();
    s_name(self->agents, config, "agents", "agents");
    s_name(self->model, config, "model", "model");
    s_name(self->toolexec, config, "toolexec", "toolexec");
    int keep = orcs__node_finished_tasks(self->node);
    self->keep_tasks = keep > 0 ? (size_t) keep : 0;
    *state_p = self;
    if (!self->store) {
        orcs_log_error("orchestrator", "the node has no store");
        return ORCS_ECONFIG;
    }
    self->wq = orcs__wq_new(actor, o_written, self);
    if (!self->wq)
        return ORCS_EIO;
    o_resume_all(self);
    return ORCS_OK;
}

static orcs_status
s_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    o_state_t *self = state;
    orcs_msg_t *msg = *msg_p;
    orcs_msg_kind kind = orcs_msg_kind_of(msg);
    self->round++;
    if (kind == ORCS_MSG_REPLY || kind == ORCS_MSG_TIMEOUT) {
        o_on_reply(self, msg);
        return ORCS_OK;
    }
    const char *type = orcs_msg_type(msg);
    if (strcmp(type, "run.start") == 0 && s_start_raw(self, msg_p))
        return ORCS_OK;
    const json_t *body = NULL;
    if (orcs_msg_body(msg, &body) != ORCS_OK || !json_is_object(body)) {
        self->bad_requests++;
        s_error(self, msg, ORCS_EPROTO, "%s needs a map body", type);
        return ORCS_OK;
    }
    if (strcmp(type, "run.start") == 0)
        s_start(self, msg_p, body, NULL);
    else if (strcmp(type, "run.get") == 0)
        s_get(self, msg, body, false);
    else if (strcmp(type, "run.wait") == 0)
        s_get(self, msg, body, true);
    else if (strcmp(type, "run.list") == 0)
        s_list(self, msg, body);
    else if (strcmp(type, "run.cancel") == 0)
        s_control(self, msg, body, 0);
    else if (strcmp(type, "run.pause") == 0)
        s_control(self, msg, body, 1);
    else if (strcmp(type, "run.resume") == 0)
        s_control(self, msg, body, 2);
    else if (strcmp(type, "run.approve") == 0)
        s_approve(self, msg, body);
    else if (strcmp(type, "run.interrupt") == 0)
        s_interrupt(self, msg, body);
    else if (strcmp(type, "run.clarify") == 0)
        s_clarify(self, body);
    else if (strcmp(type, "approval.request") == 0)
        s_approval_request(self, msg, body);
    else if (strcmp(type, "orchestrator.stats") == 0)
        o_reply(self, msg, ORCS_OK, s_stats(self));
    else {
        self->bad_requests++;
        s_error(self, msg, ORCS_EUNSUPPORTED, "unknown request %s", type);
    }
    return ORCS_OK;
}

static orcs_status
s_on_timer(orcs_actor_t *actor, void *state, uint64_t timer_id, void *arg)
{
    (void) actor, (void) arg;
    o_state_t *self = state;
    self->round++;
    o_timer_t *timer =
        zhashx_lookup(self->timers, (void *) (uintptr_t) timer_id);
    if (!timer)
        return ORCS_OK;
    o_timer_t copy = *timer;
    zhashx_delete(self->timers, (void *) (uintptr_t) timer_id);
    o_run_t *run = o_run_get(self, copy.run);
    if (!run)
        return ORCS_OK;
    if (copy.task)
        copy.task->timer_id = 0;
    else
        run->deadline_timer = 0;
    o_timer_fired(self, &copy);
    o_run_advance(self, run);
    o_flush(self, run);
    return ORCS_OK;
}

static void
s_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor, (void) reason;
    o_state_t *self = state;
    if (!self)
        return;
    orcs__wq_destroy(&self->wq);
    while (self->list)
        o_run_free(self, self->list);
    zhashx_destroy(&self->runs);
    zhashx_destroy(&self->calls);
    zhashx_destroy(&self->timers);
    zhashx_destroy(&self->writes);
    o_compile_cache_free(self);
    free(self);
}

const orcs_actor_def_t orcs__orchestrator_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "orchestrator",
    .init = s_init,
    .receive = s_receive,
    .timer = s_on_timer,
    .terminate = s_terminate,
};
