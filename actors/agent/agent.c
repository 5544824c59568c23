/*  actors/agent/agent.c — the `agent` actor: requests, start and stop.
    SPDX-License-Identifier: MPL-2.0

    One actor serves many runs at once; each run's state lives here (the
    loop is in run.c). Config: {"file": agent.yaml} (relative to the node
    config's directory) or {"agent": {...the document...}}: the actor's own
    agent; or {} / null: an actor without one, whose runs each name their
    agent file (the orchestrator's `agents`). Optional "model_actor" and
    "toolexec_actor" names (default "model" and "toolexec").

    Asks: agent.run {"run"?, "input", "agent"?: PATH, "key"?, "node"?,
    "thread"?, "clarify"?} -> {"run", "key", "node"?, "output", "steps",
    "usage", "cost", "thread"?, "thread_messages"?}; an error reply has
    {"error", "run", "key", "steps", ...}. Sent (not asked), agent.run
    starts a run whose result only the events tell. Sends:
    agent.interrupt {"key", "input"}, agent.cancel {"key"}. Asks:
    agent.stats. Events on run.<run>.: agent.started, agent.step,
    agent.output, agent.error, agent.clarify (docs/agents.md). */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "actors/agent/agent_internal.h"
#include "orcs/log.h"
#include "orcs/sys.h"
#include "runtime/internal.h"

typedef orcs__agent_t s_agent_t;
typedef orcs__agent_run_t s_run_t;
typedef orcs__agent_definition_t s_def_t;

// Keys of the pending and writes maps are ids stored in the pointer.
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

static zhashx_t *
s_id_map(void)
{
    zhashx_t *map = zhashx_new();
    zhashx_set_key_destructor(map, NULL);
    zhashx_set_key_duplicator(map, NULL);
    zhashx_set_key_comparator(map, s_key_compare);
    zhashx_set_key_hasher(map, s_key_hash);
    return map;
}

// ---------------------------------------------------------------------------
// Requests

// Refuses an agent.run (or ignores it when it was sent).
static void
s_refuse(s_agent_t *self,
         const orcs_msg_t *msg,
         orcs_status status,
         const char *error,
         const json_t *body)
{
    orcs_log_debug("agent", "%s: agent.run refused: %s",
                   orcs_actor_name(self->actor), error);
    self->runs_failed++;
    if (orcs_msg_kind_of(msg) != ORCS_MSG_ASK)
        return;
    orcs_msg_t *reply = orcs_msg_new("agent.run");
    orcs_msg_set_status(reply, status);
    json_t *doc = json_pack("{s:s}", "error", error);
    static const char *const echo[] = {"run", "key", "node", NULL};
    for (size_t i = 0; echo[i]; i++) {
        json_t *value = json_object_get(body, echo[i]);
        if (json_is_string(value))
            json_object_set(doc, echo[i], value);
    }
    orcs_msg_set_body(reply, &doc);
    if (orcs_actor_reply(self->actor, msg, &reply) != ORCS_OK)
        orcs_msg_destroy(&reply);
}

// An optional string field: NULL when absent, null or ""; false when it
// is there but not a string of at most max bytes.
static bool
s_field(const json_t *body, const char *name, size_t max, const char **out)
{
    json_t *value = json_object_get(body, name);
    *out = NULL;
    if (!value || json_is_null(value)
        || (json_is_string(value) && json_string_length(value) == 0))
        return true;
    if (!json_is_string(value) || json_string_length(value) > max)
        return false;
    *out = json_string_value(value);
    return strlen(*out) == json_string_length(value); // no NUL inside
}

static void
s_on_run(s_agent_t *self, orcs_msg_t **msg_p)
{
    orcs_msg_t *msg = *msg_p;
    const json_t *body = NULL;
    char err[ORCS__AGENT_ERROR_MAX];
    if (orcs_msg_body(msg, &body) != ORCS_OK || !json_is_object(body)
        || !json_object_get(body, "input")) {
        s_refuse(self, msg, ORCS_EINVAL, "agent.run needs {\"input\": ...}",
                 NULL);
        return;
    }
    orcs__agent_start_t opts = {0};
    const char *path = NULL;
    if (!s_field(body, "run", ORCS_MSG_RUN_ID_MAX, &opts.id)
        || !s_field(body, "key", ORCS__AGENT_KEY_MAX, &opts.key)
        || !s_field(body, "node", ORCS__AGENT_KEY_MAX, &opts.node)
        || !s_field(body, "agent", PATH_MAX - 1, &path)) {
        s_refuse(self, msg, ORCS_EINVAL,
                 "agent.run: run, key, node and agent must be strings (run "
                 "up to 63 bytes, key and node up to 191)",
                 body);
        return;
    }
    if (!s_field(body, "thread", ORCS__AGENT_THREAD_MAX, &opts.thread)
        || (opts.thread && !orcs__agent_thread_id_is_valid(opts.thread))) {
        s_refuse(self, msg, ORCS_EINVAL,
                 "agent.run: a thread id is [A-Za-z0-9_.:-]{1,128}", body);
        return;
    }
    json_t *clarify = json_object_get(body, "clarify");
    if (clarify && !json_is_boolean(clarify) && !json_is_null(clarify)) {
        s_refuse(self, msg, ORCS_EINVAL, "agent.run: clarify must be a bool",
                 body);
        return;
    }
    opts.clarify = json_is_true(clarify);
    if (!opts.id)
        opts.id = orcs_msg_run_id(msg);
    if (opts.key && zhashx_lookup(self->keys, opts.key)) {
        snprintf(err, sizeof err, "a run with key %s is in progress", opts.key);
        s_refuse(self, msg, ORCS_EEXIST, err, body);
        return;
    }
    s_def_t *def = self->def;
    if (path) {
        orcs_status rc =
            orcs__agent_definition_get(self, path, &def, err, sizeof err);
        if (rc != ORCS_OK) {
            s_refuse(self, msg, rc, err, body);
            return;
        }
    } else if (!def) {
        s_refuse(self, msg, ORCS_EINVAL,
                 "this agent actor has no agent of its own: agent.run needs "
                 "\"agent\": the path of an agent file",
                 body);
        return;
    }
    opts.from = orcs_msg_from(msg);
    orcs__agent_run_start(self, def, &opts, json_object_get(body, "input"),
                          NULL, 0, msg_p);
}

// The run with key, or NULL (counted and logged in *unknown).
static s_run_t *
s_keyed(s_agent_t *self, orcs_msg_t *msg, const char **key_p, uint64_t *unknown)
{
    const json_t *body = NULL;
    orcs_msg_body(msg, &body);
    const char *key = json_string_value(json_object_get(body, "key"));
    s_run_t *run = key ? zhashx_lookup(self->keys, key) : NULL;
    if (!run || run->finished) {
        (*unknown)++;
        orcs_log_debug("agent", "%s: %s for unknown key %s",
                       orcs_actor_name(self->actor), orcs_msg_type(msg),
                       key ? key : "(none)");
        return NULL;
    }
    *key_p = key;
    return run;
}

static void
s_on_interrupt(s_agent_t *self, orcs_msg_t *msg)
{
    const char *key = NULL;
    s_run_t *run = s_keyed(self, msg, &key, &self->interrupts_unknown);
    if (!run)
        return;
    const json_t *body = NULL;
    orcs_msg_body(msg, &body);
    json_t *input = json_object_get(body, "input");
    if (!input) {
        orcs_log_debug("agent", "%s: agent.interrupt for %s has no input",
                       orcs_actor_name(self->actor), key);
        return;
    }
    self->interrupts++;
    orcs__agent_run_interrupt(self, run, input);
}

static void
s_on_cancel(s_agent_t *self, orcs_msg_t *msg)
{
    const char *key = NULL;
    s_run_t *run = s_keyed(self, msg, &key, &self->cancels_unknown);
    if (!run)
        return;
    // Tool calls of the run still running: toolexec may stop them.
    orcs_msg_t *cancel = orcs_msg_new("tool.cancel");
    orcs_msg_set_run_id(cancel, run->id);
    json_t *body = json_pack("{s:s, s:s}", "run", run->id, "key", run->key);
    orcs_msg_set_body(cancel, &body);
    if (orcs_actor_send(self->actor, self->toolexec, &cancel) != ORCS_OK)
        orcs_msg_destroy(&cancel);
    orcs__agent_run_cancel(self, run);
}

static void
s_on_stats(s_agent_t *self, orcs_msg_t *msg)
{
    size_t runs = 0, held = 0;
    for (s_run_t *run = self->runs; run; run = run->next) {
        runs += !run->finished;
        held++;
    }
    orcs_msg_t *reply = orcs_msg_new("agent.stats");
    json_t *body = json_pack(
        "{s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "agent",
        self->def ? self->def->name : NULL, "runs", (json_int_t) runs, "held",
        (json_int_t) held, "done", (json_int_t) self->runs_done, "failed",
        (json_int_t) self->runs_failed, "cancelled",
        (json_int_t) self->runs_cancelled, "files",
        (json_int_t) zhashx_size(self->files), "interrupts",
        (json_int_t) self->interrupts, "interrupts_unknown",
        (json_int_t) self->interrupts_unknown, "cancels_unknown",
        (json_int_t) self->cancels_unknown);
    orcs_msg_set_body(reply, &body);
    if (orcs_actor_reply(self->actor, msg, &reply) != ORCS_OK)
        orcs_msg_destroy(&reply);
}

// ---------------------------------------------------------------------------
// The actor

// The actor's own agent from config; *def_p NULL for {} or null.
static orcs_status
s_own_agent(orcs_node_t *node,
            const json_t *config,
            s_def_t **def_p,
            char *err,
            size_t err_size)
{
    *def_p = NULL;
    json_t *doc = NULL;
    orcs_status rc = ORCS_OK;
    const char *file = json_string_value(json_object_get(config, "file"));
    json_t *inline_doc = json_object_get(config, "agent");
    if (file) {
        char path[PATH_MAX];
        if (file[0] == '/')
            snprintf(path, sizeof path, "%s", file);
        else
            snprintf(path, sizeof path, "%s/%s", orcs__node_config_dir(node),
                     file);
        rc = orcs_agent_load(path, &doc, err, err_size);
    } else if (json_is_object(inline_doc)) {
        char *text = orcs_doc_to_text(inline_doc, JSON_COMPACT);
        rc = orcs_agent_parse(text, strlen(text), "<config>",
                              orcs__node_config_dir(node), &doc, err, err_size);
        free(text);
    } else if (json_object_get(config, "file")
               || (inline_doc && !json_is_null(inline_doc))) {
        snprintf(err, err_size,
                 "an agent actor needs config {file: agent.yaml}, {agent: "
                 "{...}}, or {} for one whose runs name their agent");
        return ORCS_ECONFIG;
    } else
        return ORCS_OK; // no agent of its own
    if (rc == ORCS_OK)
        rc = orcs__agent_definition_new(doc, 0, def_p, err, err_size);
    return rc;
}

static orcs_status
s_agent_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    orcs_node_t *node = orcs_actor_node(actor);
    char err[ORCS__AGENT_ERROR_MAX] = "";
    s_def_t *def = NULL;
    orcs_status rc = s_own_agent(node, config, &def, err, sizeof err);
    if (rc != ORCS_OK) {
        orcs_log_error("agent", "%s: %s", orcs_actor_name(actor), err);
        orcs_actor_fail(actor, ORCS_ECONFIG, err);
        return ORCS_ECONFIG;
    }
    s_agent_t *self = orcs_calloc(1, sizeof *self);
    self->actor = actor;
    self->node = node;
    self->def = def;
    self->files = orcs__agent_files_new();
    self->pending = s_id_map();
    zhashx_set_destructor(self->pending, orcs__agent_pending_free);
    self->writes = s_id_map();
    self->keys = zhashx_new(); // keys are copied; values not owned
    const char *model =
        json_string_value(json_object_get(config, "model_actor"));
    const char *toolexec =
        json_string_value(json_object_get(config, "toolexec_actor"));
    snprintf(self->model, sizeof self->model, "%s", model ? model : "model");
    snprintf(self->toolexec, sizeof self->toolexec, "%s",
             toolexec ? toolexec : "toolexec");
    *state_p = self;
    return ORCS_OK;
}

static orcs_status
s_agent_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    s_agent_t *self = state;
    orcs_msg_t *msg = *msg_p;
    orcs_msg_kind kind = orcs_msg_kind_of(msg);
    if (kind == ORCS_MSG_REPLY || kind == ORCS_MSG_TIMEOUT) {
        orcs__agent_on_reply(self, msg);
        return ORCS_OK;
    }
    if (kind != ORCS_MSG_ASK && kind != ORCS_MSG_SEND)
        return ORCS_OK;
    const char *type = orcs_msg_type(msg);
    if (strcmp(type, "agent.run") == 0)
        s_on_run(self, msg_p);
    else if (strcmp(type, "agent.interrupt") == 0)
        s_on_interrupt(self, msg);
    else if (strcmp(type, "agent.cancel") == 0)
        s_on_cancel(self, msg);
    else if (kind == ORCS_MSG_ASK && strcmp(type, "agent.stats") == 0)
        s_on_stats(self, msg);
    return ORCS_OK;
}

static void
s_agent_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_agent_t *self = state;
    if (!self)
        return;
    // Thread writes still in flight drop their results.
    orcs__wq_destroy(&self->wq);
    while (self->runs) {
        s_run_t *run = self->runs;
        if (!run->finished && run->reply_to) {
            orcs_msg_t *reply = orcs_msg_new("agent.run");
            orcs_msg_set_status(reply, ORCS_ESHUTDOWN);
            json_t *body =
                json_pack("{s:s, s:s, s:s}", "error", "the agent stopped",
                          "run", run->id, "key", run->key);
            orcs_msg_set_body(reply, &body);
            if (orcs_actor_reply_to(self->actor, run->reply_to, &reply)
                != ORCS_OK)
                orcs_msg_destroy(&reply);
        }
        orcs__agent_run_free(self, run);
    }
    zhashx_destroy(&self->pending);
    zhashx_destroy(&self->writes);
    zhashx_destroy(&self->keys);
    zhashx_destroy(&self->files);
    orcs__agent_definition_unref(&self->def);
    free(self);
}

const orcs_actor_def_t orcs__agent_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "agent",
    .init = s_agent_init,
    .receive = s_agent_receive,
    .terminate = s_agent_terminate,
};
