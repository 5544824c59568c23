/*  toolexec.c — the `toolexec` actor kind: runs agents' tool calls from
    the node's registry (docs/agents.md, "The toolexec actor").
    SPDX-License-Identifier: MPL-2.0

    Asks (MessagePack map bodies):
      tool.call       {run, step, call_id, tool, args, caller, approved}
                      -> {ok: true, result, cached, attempts, ms} or
                         {ok: false, error, reason, attempts, ms}
      tools.reload    -> {generation, tools, errors}
      toolexec.stats  -> {calls, ok, errors: {REASON: N}, retries,
                          in_flight, queued, cache: {hits, misses}}
    Tool failures are normal replies (status OK): the model is shown them.
    Only a malformed request gets an error reply (ORCS_EINVAL, {error}).

    Calls run concurrently up to `concurrency`; the rest wait in a FIFO
    queue. Nothing blocks the actor's thread except C tools (which must be
    quick), the offload of a large result to an artifact (a durable
    commit), cache reads (a short read transaction) and tools.reload
    (reads the manifest directories).

    Each attempt has the tool's timeout_ms as its deadline, capped by
    toolexec.exec.timeout_ms (exec tools) or toolexec.http.timeout_ms
    (http tools), and by a built-in's own timeout_ms argument. C tools run
    inline and have no deadline.

    Needs-approval tools are refused with reason approval_required: the
    workflow engine is where calls will wait for a human.

    The memory rules see `caller` from the request, or else the asker's
    name: actors inside the node are trusted to name the agent they act
    for. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "actors/toolexec/toolexec_internal.h"
#include "internal.h"
#include "orcs/log.h"
#include "orcs/node.h"
#include "orcs/sys.h"

#define S_ERR_MAX 512 // bytes of a config or request error

// ---------------------------------------------------------------------------
// The queue and the slots

static void
s_unlink(orcs__call_t **head, orcs__call_t **tail, orcs__call_t *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        *head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else if (tail)
        *tail = call->prev;
    call->prev = call->next = NULL;
}

static void
s_pump(orcs__toolexec_t *self)
{
    if (self->pumping)
        return; // the loop below picks the next one up
    self->pumping = true;
    while (self->queue_head
           && self->running_count < (size_t) self->config.concurrency) {
        orcs__call_t *call = self->queue_head;
        s_unlink(&self->queue_head, &self->queue_tail, call);
        call->queued = false;
        self->queued_count--;
        call->next = self->running;
        if (self->running)
            self->running->prev = call;
        self->running = call;
        call->has_slot = true;
        self->running_count++;
        orcs__call_start(call); // may finish the call at once
    }
    self->pumping = false;
}

void
orcs__toolexec_enqueue(orcs__toolexec_t *self, orcs__call_t *call)
{
    if (self->queued_count >= ORCS_TOOLEXEC_QUEUE_MAX) {
        char err[128];
        snprintf(err, sizeof err, "too many calls waiting (%u)",
                 ORCS_TOOLEXEC_QUEUE_MAX);
        orcs__call_fail(call, "failed", err);
        return;
    }
    call->prev = self->queue_tail;
    if (self->queue_tail)
        self->queue_tail->next = call;
    else
        self->queue_head = call;
    self->queue_tail = call;
    call->queued = true;
    self->queued_count++;
    s_pump(self);
}

void
orcs__toolexec_release(orcs__toolexec_t *self, orcs__call_t *call)
{
    if (call->queued) {
        s_unlink(&self->queue_head, &self->queue_tail, call);
        call->queued = false;
        self->queued_count--;
    }
    if (call->has_slot) {
        s_unlink(&self->running, NULL, call);
        call->has_slot = false;
        self->running_count--;
        s_pump(self);
    }
}

void
orcs__toolexec_event(orcs__toolexec_t *self,
                     const char *run,
                     const char *name,
                     json_t *body)
{
    orcs_actor_run_publish(self->actor, run, name, &body);
}

// ---------------------------------------------------------------------------
// Requests

static orcs_status
s_reply(orcs__toolexec_t *self,
        const orcs_msg_t *request,
        orcs_status status,
        json_t *body)
{
    orcs_msg_t *reply = orcs_msg_new(orcs_msg_type(request));
    orcs_msg_set_body(reply, &body);
    orcs_msg_set_status(reply, status);
    orcs_status rc = orcs_actor_reply(self->actor, request, &reply);
    orcs_msg_destroy(&reply);
    if (rc != ORCS_OK)
        orcs_log_debug("toolexec", "reply dropped status=%s",
                       orcs_status_name(rc));
    return ORCS_OK; // an asker that went away is not our failure
}

static orcs_status
s_bad_request(orcs__toolexec_t *self,
              const orcs_msg_t *request,
              const char *why)
{
    return s_reply(self, request, ORCS_EINVAL,
                   json_pack("{s:s}", "error", why));
}

static bool
s_text_is_clean(const char *text, size_t max)
{
    size_t n = strlen(text);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) text[i] < 0x20)
            return false;
    return true;
}

static orcs_status
s_tool_call(orcs__toolexec_t *self, orcs_msg_t **msg_p)
{
    orcs_msg_t *msg = *msg_p;
    const json_t *body = NULL;
    if (orcs_msg_body(msg, &body) != ORCS_OK || !json_is_object(body))
        return s_bad_request(self, msg, "tool.call needs a map body");
    const char *tool = json_string_value(json_object_get(body, "tool"));
    json_t *args = json_object_get(body, "args");
    json_t *run = json_object_get(body, "run");
    json_t *step = json_object_get(body, "step");
    json_t *call_id = json_object_get(body, "call_id");
    json_t *caller = json_object_get(body, "caller");
    if (!tool || !*tool || strlen(tool) > 255)
        return s_bad_request(self, msg, "tool.call: tool must be a name");
    if (run && !json_is_null(run)
        && (!json_is_string(run)
            || !s_text_is_clean(json_string_value(run), ORCS_MSG_RUN_ID_MAX)))
        return s_bad_request(self, msg, "tool.call: run must be a run id");
    if (step && !json_is_null(step)
        && (!json_is_integer(step) || json_integer_value(step) < 0))
        return s_bad_request(self, msg,
                             "tool.call: step must be an integer "
                             ">= 0");
    char id[64];
    if (json_is_integer(call_id))
        snprintf(id, sizeof id, "%lld",
                 (long long) json_integer_value(call_id));
    else if (json_is_string(call_id)
             && s_text_is_clean(json_string_value(call_id), 255)
             && json_string_length(call_id) > 0)
        ; // used as it is below
    else if (!call_id || json_is_null(call_id))
        snprintf(id, sizeof id, "toolexec-%llu",
                 (unsigned long long) (self->stats.calls + 1));
    else
        return s_bad_request(self, msg,
                             "tool.call: call_id must be a "
                             "string");
    if (caller && !json_is_null(caller) && !json_is_string(caller))
        return s_bad_request(self, msg, "tool.call: caller must be a string");
    json_t *empty = json_object();
    orcs__call_t *call = orcs__call_new(
        self, msg_p, args && !json_is_null(args) ? args : empty, tool,
        json_is_string(run) ? json_string_value(run) : "",
        json_is_integer(step) ? json_integer_value(step) : 0,
        json_is_string(call_id) ? json_string_value(call_id) : id,
        json_is_string(caller) ? json_string_value(caller)
                               : orcs_msg_from(msg));
    json_decref(empty);
    // Only the workflow engine sets this, after a human approved the call
    // (a model never writes tool.call bodies: agents build them).
    call->approved = json_is_true(json_object_get(body, "approved"));
    orcs__call_begin(call);
    return ORCS_OK;
}

static orcs_status
s_reload(orcs__toolexec_t *self, const orcs_msg_t *request)
{
    json_t *errors = NULL;
    orcs_status rc = orcs_tools_reload(self->tools, &errors);
    if (rc != ORCS_OK) {
        json_decref(errors);
        return s_reply(self, request, rc,
                       json_pack("{s:s}", "error", orcs_status_str(rc)));
    }
    orcs_toolset_t *set = orcs_tools_acquire(self->tools);
    json_t *body = json_pack("{s:I, s:I, s:o}", "generation",
                             (json_int_t) orcs_toolset_generation(set), "tools",
                             (json_int_t) orcs_toolset_count(set), "errors",
                             errors ? errors : json_array());
    orcs_toolset_release(&set);
    return s_reply(self, request, ORCS_OK, body);
}

static orcs_status
s_stats(orcs__toolexec_t *self, const orcs_msg_t *request)
{
    const orcs__toolexec_stats_t *s = &self->stats;
    json_t *body = json_pack(
        "{s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, "
        "s:{s:I, s:I}}",
        "calls", (json_int_t) s->calls, "ok", (json_int_t) s->ok, "errors",
        "validation", (json_int_t) s->validation, "unknown_tool",
        (json_int_t) s->unknown, "timeout", (json_int_t) s->timeouts, "failed",
        (json_int_t) s->failures, "denied", (json_int_t) s->denied,
        "approval_required", (json_int_t) s->approval, "retries",
        (json_int_t) s->retries, "in_flight", (json_int_t) self->running_count,
        "queued", (json_int_t) self->queued_count, "cache", "hits",
        (json_int_t) s->hits, "misses", (json_int_t) s->misses);
    return s_reply(self, request, ORCS_OK, body);
}

static orcs_status
s_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    orcs__toolexec_t *self = state;
    orcs_msg_t *msg = *msg_p;
    if (orcs_msg_kind_of(msg) != ORCS_MSG_ASK)
        return ORCS_OK; // every request wants an answer
    const char *type = orcs_msg_type(msg);
    if (strcmp(type, "tool.call") == 0)
        return s_tool_call(self, msg_p);
    if (strcmp(type, "tools.reload") == 0)
        return s_reload(self, msg);
    if (strcmp(type, "toolexec.stats") == 0)
        return s_stats(self, msg);
    char why[128];
    snprintf(why, sizeof why, "unknown request '%.64s'", type);
    return s_reply(self, msg, ORCS_EUNSUPPORTED,
                   json_pack("{s:s}", "error", why));
}

static orcs_status
s_timer(orcs_actor_t *actor, void *state, uint64_t timer_id, void *arg)
{
    (void) actor;
    orcs__toolexec_t *self = state;
    if (arg == self->http)
        return orcs__http_on_timer(self->http, timer_id);
    orcs__call_on_timer(arg, timer_id);
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Start and stop

static orcs_status
s_fail_init(orcs_actor_t *actor, orcs_status rc, const char *why)
{
    orcs_actor_fail(actor, rc, why);
    return rc;
}

static orcs_status
s_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    orcs_node_t *node = orcs_actor_node(actor);
    orcs_store_t *store = orcs_node_store(node);
    if (!store)
        return s_fail_init(actor, ORCS_ECONFIG,
                           "the toolexec actor needs the node's store (it "
                           "cannot run with process: true)");
    // The child's own config wins; else the node config's `toolexec`.
    const json_t *doc = config;
    if (!json_is_object(config) || json_object_size(config) == 0)
        doc = json_object_get(orcs__node_config(node), "toolexec");
    if (sodium_init() < 0) // retry jitter uses its random numbers
        return s_fail_init(actor, ORCS_EINTERNAL, "libsodium did not start");
    char err[S_ERR_MAX];
    orcs__toolexec_t *self = orcs_calloc(1, sizeof *self);
    *state_p = self;
    self->actor = actor;
    self->store = store;
    self->pending_writes = zhashx_new(); // values freed by cache.c
    orcs_status rc =
        orcs__toolexec_config_parse(doc, &self->config, err, sizeof err);
    if (rc != ORCS_OK)
        return s_fail_init(actor, rc, err);
    self->tools = orcs_node_tools(node);
    self->memory = orcs_memory_new(store);
    rc = orcs_memory_configure(
        self->memory, json_object_get(orcs__node_config(node), "memory"), err,
        sizeof err);
    if (rc != ORCS_OK)
        return s_fail_init(actor, rc, err);
    self->artifacts = orcs_artifacts_new(store, orcs_node_data_dir(node));
    orcs__http_opts_t http = {self->config.allow_hosts,
                              self->config.max_response_bytes,
                              self->config.http_timeout_ms};
    rc = orcs__http_new(actor, &http, &self->http);
    if (rc != ORCS_OK)
        return s_fail_init(actor, rc, "cannot set up curl for the http tool");
    if (!self->config.network
        && orcs__exec_filter_new(&self->filter) != ORCS_OK)
        orcs_log_warn("toolexec", "no seccomp network filter: exec tools "
                                  "will fail unless toolexec.exec.network is "
                                  "true");
    return ORCS_OK;
}

static void
s_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    orcs__toolexec_t *self = state;
    if (!self)
        return;
    // Calls in flight are dropped: their askers time out.
    while (self->running) {
        orcs__call_t *call = self->running;
        s_unlink(&self->running, NULL, call);
        orcs__call_destroy(&call);
    }
    while (self->queue_head) {
        orcs__call_t *call = self->queue_head;
        s_unlink(&self->queue_head, &self->queue_tail, call);
        orcs__call_destroy(&call);
    }
    orcs__http_destroy(&self->http);
    orcs__exec_filter_destroy(&self->filter);
    orcs__cache_clear(self);
    zhashx_destroy(&self->pending_writes);
    orcs_artifacts_destroy(&self->artifacts);
    orcs_memory_destroy(&self->memory);
    orcs__toolexec_config_clear(&self->config);
    free(self);
}

const orcs_actor_def_t orcs__toolexec_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "toolexec",
    .init = s_init,
    .receive = s_receive,
    .timer = s_timer,
    .terminate = s_terminate,
};
