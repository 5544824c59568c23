/*  actors/model/model.c — the `model` actor kind, the LLM gateway
    (docs/agents.md "The model actor"): sessions whose history lives here,
    runs with their usage, cost and budget, and the asks model.chat,
    model.close, model.usage and model.stats. Calls in flight are in
    model_call.c, HTTP in model_http.c, providers in model_config.c.
    SPDX-License-Identifier: MPL-2.0

    Config: {"models": {...providers...} (default: the node config's
    `models`), "config_dir": DIR (relative cassette and key paths; default
    the node config's directory), "session_idle_ms": 1800000,
    "max_connections": N (default: the open-files limit less 1024)}.

    Providers take the keys of docs/agents.md plus `burst` (rate bucket
    size, default a second's worth of rpm) and `events` (publish model.*
    events; default true, false for the fake provider, which serves
    benchmarks). The fake provider answers in the receive callback itself
    and publishes only model.finished when events are on.

    A model.chat whose transfer fails leaves the session as it was before
    the call (its `append` is taken back out), so the agent can send the
    same messages again. Sessions idle for session_idle_ms are dropped
    (the agent then gets ENOTFOUND and sends setup again); runs idle for
    two hours are dropped with their usage. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/model/model_internal.h"
#include "internal.h"

#define S_SWEEP_MS       60000 // longest period of the idle sweep
#define S_SESSION_ID_MAX 255u  // bytes of a session id
#define S_RUN_ID_MAX     255u  // bytes of a run id

static const char *const s_config_keys[] = {
    "models", "config_dir", "session_idle_ms", "max_connections", NULL};

// ---------------------------------------------------------------------------
// Runs, routes, sessions

orcs__model_run_t *
orcs__model_run(orcs__model_t *self, const char *id, bool create)
{
    if (!id || !id[0])
        return NULL;
    orcs__model_run_t *run = zhashx_lookup(self->runs, id);
    if (!run && create) {
        run = orcs_calloc(1, sizeof *run);
        zhashx_insert(self->runs, id, run);
    }
    if (run)
        run->used_us = orcs_clock_mono_us();
    return run;
}

static void
s_run_destroy(void **item)
{
    free(*item);
    *item = NULL;
}

void
orcs__model_publish(orcs__model_t *self,
                    const char *run,
                    const char *event,
                    json_t *body)
{
    orcs_actor_run_publish(self->actor, run, event, &body);
}

void
orcs__model_route_release(orcs__model_route_t **route_p)
{
    orcs__model_route_t *route = *route_p;
    *route_p = NULL;
    if (!route || --route->refs > 0)
        return;
    for (size_t i = 0; i < route->count; i++)
        free(route->targets[i].model);
    free(route);
}

// The shared copy of tools (json_dumps gives the same text for the same
// tools, as the agent sends them); NULL when they cannot be written.
static orcs__model_tools_t *
s_tools_share(orcs__model_t *self, json_t *tools)
{
    char *text = json_dumps(tools, JSON_COMPACT);
    if (!text)
        return NULL;
    orcs__model_tools_t *shared = zhashx_lookup(self->tools, text);
    if (shared) {
        free(text);
        shared->refs++;
        return shared;
    }
    shared = orcs_calloc(1, sizeof *shared);
    shared->text = text;
    shared->tools = json_incref(tools);
    shared->refs = 1;
    shared->table = self->tools;
    zhashx_insert(self->tools, text, shared);
    return shared;
}

static void
s_tools_release(orcs__model_tools_t **shared_p)
{
    orcs__model_tools_t *shared = *shared_p;
    *shared_p = NULL;
    if (!shared || --shared->refs > 0)
        return;
    zhashx_delete(shared->table, shared->text);
    json_decref(shared->tools);
    free(shared->text);
    free(shared);
}

static void
s_session_destroy(void **item)
{
    orcs__model_session_t *session = *item;
    if (!session)
        return;
    json_decref(session->messages);
    json_decref(session->tools);
    s_tools_release(&session->shared);
    free(session->sent);
    free(session->rest);
    json_decref(session->options);
    orcs__model_route_release(&session->route);
    free(session->id);
    free(session->run);
    free(session);
    *item = NULL;
}

bool
orcs__model_session_encode(orcs__model_session_t *session, size_t count)
{
    if (session->sent_count > count
        || count > json_array_size(session->messages))
        orcs__model_session_unsent(session);
    if (session->sent_count == count)
        return true;
    // One write for all the new messages: "[a,b]", brackets dropped.
    json_t *fresh = json_array();
    for (size_t i = session->sent_count; i < count; i++)
        json_array_append(fresh, json_array_get(session->messages, i));
    char *text = json_dumps(fresh, JSON_COMPACT);
    json_decref(fresh);
    if (!text)
        return false;
    size_t size = strlen(text) - 2;
    size_t need = session->sent_len + 1 + size + 1;
    if (need > session->sent_alloc) {
        // Grown once a turn: to what it holds, not to a power of two
        // (10,000 sessions in flight keep 10,000 of these).
        size_t alloc = (need + 255) & ~(size_t) 255;
        session->sent = orcs_realloc(session->sent, alloc);
        session->sent_alloc = alloc;
    }
    if (session->sent_count > 0)
        session->sent[session->sent_len++] = ',';
    memcpy(session->sent + session->sent_len, text + 1, size);
    session->sent_len += size;
    session->sent[session->sent_len] = '\0';
    session->sent_count = count;
    free(text);
    return true;
}

void
orcs__model_session_unsent(orcs__model_session_t *session)
{
    session->sent_len = 0;
    session->sent_count = 0;
    if (session->sent)
        session->sent[0] = '\0';
}

// Adds a target "name" or "name/model" (model overrides); err on unknown.
static orcs_status
s_route_add(orcs__model_t *self,
            orcs__model_route_t *route,
            const char *spec,
            const char *model,
            char *err,
            size_t err_size)
{
    if (route->count >= ORCS__MODEL_TARGETS_MAX)
        return ORCS_OK; // the rest is never reached anyway
    char *spec_model = NULL;
    orcs__model_provider_t *provider =
        orcs__model_provider_find(self, spec, &spec_model);
    if (!provider) {
        int n = snprintf(err, err_size,
                         "unknown provider %.100s (configured:", spec);
        for (orcs__model_provider_t *p = zhashx_first(self->providers);
             p && n > 0 && (size_t) n < err_size;
             p = zhashx_next(self->providers))
            n += snprintf(err + n, err_size - (size_t) n, " %s", p->name);
        if (n > 0 && (size_t) n < err_size)
            snprintf(err + n, err_size - (size_t) n, "%s)",
                     zhashx_size(self->providers) ? "" : " none");
        return ORCS_ECONFIG;
    }
    orcs__model_target_t *target = &route->targets[route->count++];
    target->provider = provider;
    if (model) {
        free(spec_model);
        spec_model = orcs_strdup(model);
    }
    target->model = spec_model;
    return ORCS_OK;
}

// The route of a setup: provider (+ model), then fallbacks (the setup's,
// else the provider's).
static orcs_status
s_route_new(orcs__model_t *self,
            const json_t *setup,
            orcs__model_route_t **route_p,
            char *err,
            size_t err_size)
{
    orcs__model_route_t *route = orcs_calloc(1, sizeof *route);
    route->refs = 1;
    *route_p = route;
    json_t *provider = json_object_get(setup, "provider");
    json_t *model = json_object_get(setup, "model");
    json_t *fallbacks = json_object_get(setup, "fallbacks");
    if ((provider && !json_is_string(provider))
        || (model && !json_is_string(model))
        || (fallbacks && !json_is_array(fallbacks))) {
        snprintf(err, err_size,
                 "setup: provider and model must be strings, "
                 "fallbacks a list of strings");
        return ORCS_EINVAL;
    }
    orcs_status rc = s_route_add(
        self, route, provider ? json_string_value(provider) : "default",
        json_string_value(model), err, err_size);
    if (rc != ORCS_OK)
        return rc;
    if (!fallbacks)
        fallbacks = route->targets[0].provider->fallbacks;
    size_t i;
    json_t *value;
    json_array_foreach(fallbacks, i, value)
    {
        if (!json_is_string(value)) {
            snprintf(err, err_size, "setup: fallbacks must be strings");
            return ORCS_EINVAL;
        }
        rc = s_route_add(self, route, json_string_value(value), NULL, err,
                         err_size);
        if (rc != ORCS_OK)
            return rc;
    }
    return ORCS_OK;
}

// Sets the run's budget from setup.budget.
static orcs_status
s_budget(orcs__model_t *self,
         const char *run_id,
         const json_t *budget,
         char *err,
         size_t err_size)
{
    if (!budget)
        return ORCS_OK;
    json_t *tokens = json_object_get(budget, "max_tokens");
    json_t *cost = json_object_get(budget, "max_cost");
    json_t *requests = json_object_get(budget, "max_requests");
    if (!json_is_object(budget) || (tokens && !json_is_integer(tokens))
        || (cost && !json_is_number(cost))
        || (requests && !json_is_integer(requests))) {
        snprintf(err, err_size,
                 "setup.budget: max_tokens and max_requests "
                 "must be integers, max_cost a number");
        return ORCS_EINVAL;
    }
    orcs__model_run_t *run = orcs__model_run(self, run_id, true);
    if (!run) {
        snprintf(err, err_size, "setup.budget needs a run id (\"run\")");
        return ORCS_EINVAL;
    }
    run->max_tokens = json_integer_value(tokens);
    run->max_cost = cost ? json_number_value(cost) : 0;
    run->max_requests = json_integer_value(requests);
    return ORCS_OK;
}

static size_t
s_count_assistant(const json_t *messages)
{
    size_t count = 0, i;
    json_t *message;
    json_array_foreach(messages, i, message)
    {
        const char *role = json_string_value(json_object_get(message, "role"));
        if (role && strcmp(role, "assistant") == 0)
            count++;
    }
    return count;
}

// Creates (or replaces) a session from setup.
static orcs_status
s_setup(orcs__model_t *self,
        const char *id,
        const char *run,
        json_t *setup,
        orcs__model_session_t **session_p,
        char *err,
        size_t err_size)
{
    json_t *messages = json_object_get(setup, "messages");
    json_t *tools = json_object_get(setup, "tools");
    json_t *options = json_object_get(setup, "options");
    json_t *stream = json_object_get(setup, "stream");
    if (!json_is_object(setup) || (messages && !json_is_array(messages))
        || (tools && !json_is_array(tools) && !json_is_null(tools))
        || (options && !json_is_object(options) && !json_is_null(options))
        || (stream && !json_is_boolean(stream))) {
        snprintf(err, err_size,
                 "setup: messages and tools must be lists, "
                 "options a mapping, stream a boolean");
        return ORCS_EINVAL;
    }
    orcs__model_route_t *route = NULL;
    orcs_status rc = s_route_new(self, setup, &route, err, err_size);
    if (rc == ORCS_OK)
        rc = s_budget(self, run, json_object_get(setup, "budget"), err,
                      err_size);
    if (rc != ORCS_OK) {
        orcs__model_route_release(&route);
        return rc;
    }
    orcs__model_session_t *session = orcs_calloc(1, sizeof *session);
    session->id = orcs_strdup(id);
    session->run = orcs_strdup(run);
    session->messages = messages ? json_incref(messages) : json_array();
    if (json_is_array(tools) && json_array_size(tools)) {
        session->shared = s_tools_share(self, tools);
        session->tools =
            json_incref(session->shared ? session->shared->tools : tools);
    }
    session->options = json_is_object(options) ? json_incref(options) : NULL;
    session->stream = stream ? json_is_true(stream) : -1;
    session->route = route;
    session->turns = s_count_assistant(session->messages);
    session->used_us = orcs_clock_mono_us();
    zhashx_update(self->sessions, id, session); // replaces: destructor
    *session_p = session;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// model.chat

// Fails with EDENIED when the run is already over a budget.
static orcs_status
s_check_budget(orcs__model_t *self,
               const char *run_id,
               char *err,
               size_t err_size)
{
    orcs__model_run_t *run = zhashx_lookup(self->runs, run_id);
    if (!run)
        return ORCS_OK;
    json_int_t tokens = run->prompt_tokens + run->completion_tokens;
    if (run->max_tokens > 0 && tokens >= run->max_tokens)
        snprintf(
            err, err_size, "budget exceeded: %lld tokens %s max_tokens %lld",
            (long long) tokens,
            tokens > run->max_tokens ? ">" : ">=", (long long) run->max_tokens);
    else if (run->max_cost > 0 && run->cost >= run->max_cost)
        snprintf(err, err_size, "budget exceeded: cost %.6g %s max_cost %.6g",
                 run->cost,
                 run->cost > run->max_cost ? ">" : ">=", run->max_cost);
    else if (run->max_requests > 0 && run->requests >= run->max_requests)
        snprintf(err, err_size,
                 "budget exceeded: %lld requests >= max_requests %lld",
                 (long long) run->requests, (long long) run->max_requests);
    else
        return ORCS_OK;
    return ORCS_EDENIED;
}

static void
s_set(json_t *object, const char *key, json_t *value)
{
    json_object_set_new_nocheck(object, key, value);
}

// The fake provider answers at once, without a call record or JSON text.
static orcs_status
s_chat_fake(orcs__model_t *self,
            orcs__model_session_t *session,
            const orcs_msg_t *request,
            const char *run_id,
            json_int_t step)
{
    const orcs__model_target_t *target = &session->route->targets[0];
    const orcs__model_provider_t *provider = target->provider;
    json_t *message = NULL;
    const char *finish = NULL;
    orcs__model_fake_message(provider, session->turns, &message, &finish);
    json_array_append(session->messages, message);
    session->turns++;
    double cost = orcs__model_cost(provider, 10, 5, 0);
    orcs__model_run_t *run = orcs__model_run(self, run_id, true);
    if (run) {
        run->prompt_tokens += 10;
        run->completion_tokens += 5;
        run->cost += cost;
        run->requests++;
    }
    self->attempts++;
    json_t *usage = json_object();
    s_set(usage, "prompt_tokens", json_integer(10));
    s_set(usage, "completion_tokens", json_integer(5));
    s_set(usage, "cached_tokens", json_integer(0));
    const char *model = target->model     ? target->model
                        : provider->model ? provider->model
                                          : "fake";
    json_t *body = json_object();
    s_set(body, "message", message);
    s_set(body, "finish_reason", json_string_nocheck(finish));
    s_set(body, "usage", usage);
    s_set(body, "cost", json_real(cost));
    s_set(body, "model", json_string(model));
    s_set(body, "provider", json_string(provider->name));
    s_set(body, "attempts", json_integer(1));
    s_set(body, "ms", json_integer(0));
    if (provider->events
        && orcs_actor_run_heard(self->actor, run_id, "model.finished"))
        orcs__model_publish(
            self, run_id, "model.finished",
            json_pack("{s:s, s:I, s:{s:i, s:i, s:i}, s:f, s:i, s:i}", "session",
                      session->id, "step", step, "usage", "prompt_tokens", 10,
                      "completion_tokens", 5, "cached_tokens", 0, "cost", cost,
                      "ms", 0, "attempts", 1));
    return orcs__model_reply(self, request, body);
}

// Appends the request's messages (borrowed from body) to the session.
static orcs_status
s_append(orcs__model_session_t *session, const json_t *append, size_t *count_p)
{
    *count_p = 0;
    if (!append || json_is_null(append))
        return ORCS_OK;
    if (!json_is_array(append))
        return ORCS_EINVAL;
    size_t i;
    json_t *message;
    json_array_foreach(append, i, message)
    {
        if (!json_is_object(message))
            return ORCS_EINVAL;
    }
    json_array_extend(session->messages, (json_t *) append);
    *count_p = json_array_size(append);
    return ORCS_OK;
}

// Reads the session and run ids of a chat; err on bad ones.
static orcs_status
s_chat_ids(const orcs_msg_t *request,
           const json_t *body,
           const char **id_p,
           const char **run_p,
           char *err,
           size_t err_size)
{
    json_t *id = json_object_get(body, "session");
    json_t *run = json_object_get(body, "run");
    if (!json_is_string(id) || json_string_length(id) == 0
        || json_string_length(id) > S_SESSION_ID_MAX) {
        snprintf(err, err_size,
                 "model.chat needs a session id (a string of "
                 "1 to 255 bytes)");
        return ORCS_EINVAL;
    }
    if (run
        && (!json_is_string(run) || json_string_length(run) > S_RUN_ID_MAX
            || strlen(json_string_value(run)) != json_string_length(run))) {
        snprintf(err, err_size, "model.chat: run must be a string");
        return ORCS_EINVAL;
    }
    *id_p = json_string_value(id);
    *run_p = run ? json_string_value(run) : orcs_msg_run_id(request);
    if (!*run_p)
        *run_p = "";
    return ORCS_OK;
}

static orcs_status
s_chat(orcs__model_t *self, orcs_msg_t **msg_p)
{
    orcs_msg_t *request = *msg_p;
    self->requests++;
    json_t *body = NULL;
    char err[ORCS__MODEL_ERROR_MAX];
    const char *id = NULL, *run = NULL;
    orcs_status rc = orcs_msg_take_body(request, &body);
    if (rc != ORCS_OK)
        snprintf(err, sizeof err, "model.chat: the body does not decode");
    else if (!json_is_object(body)) {
        snprintf(err, sizeof err, "model.chat: the body must be a mapping");
        rc = ORCS_EINVAL;
    }
    if (rc == ORCS_OK)
        rc = s_chat_ids(request, body, &id, &run, err, sizeof err);
    orcs__model_session_t *session = NULL;
    json_t *setup = rc == ORCS_OK ? json_object_get(body, "setup") : NULL;
    if (rc == ORCS_OK && setup)
        rc = s_setup(self, id, run, setup, &session, err, sizeof err);
    else if (rc == ORCS_OK) {
        session = zhashx_lookup(self->sessions, id);
        if (!session) {
            snprintf(err, sizeof err,
                     "unknown session %s: send setup with the whole history",
                     id);
            rc = ORCS_ENOTFOUND;
        }
    }
    if (rc == ORCS_OK && !run[0])
        run = session->run; // the run named at setup
    if (rc == ORCS_OK)
        rc = s_check_budget(self, run, err, sizeof err);
    size_t appended = 0;
    if (rc == ORCS_OK
        && s_append(session, json_object_get(body, "append"), &appended)
               != ORCS_OK) {
        snprintf(err, sizeof err,
                 "model.chat: append must be a list of "
                 "message mappings");
        rc = ORCS_EINVAL;
    }
    if (rc != ORCS_OK) {
        json_decref(body);
        return orcs__model_reply_error(self, request, rc, err, 0);
    }
    session->used_us = orcs_clock_mono_us();
    json_int_t step = json_integer_value(json_object_get(body, "step"));
    if (session->route->targets[0].provider->kind == ORCS__MODEL_FAKE) {
        rc = s_chat_fake(self, session, request, run, step);
        json_decref(body);
        return rc;
    }
    orcs__model_call_t *call = orcs_calloc(1, sizeof *call);
    call->reply_to = orcs_reply_to_new(request); // not the whole ask
    call->session_id = orcs_strdup(id);
    call->run = orcs_strdup(run);
    call->step = step;
    call->messages = json_incref(session->messages);
    call->count = json_array_size(session->messages);
    call->appended = appended;
    call->tools = json_incref(session->tools);
    call->options = json_incref(session->options);
    call->stream = session->stream;
    call->turn = session->turns;
    call->route = session->route;
    call->route->refs++;
    session->pending = call;
    json_decref(body);
    return orcs__model_call_start(self, call);
}

// ---------------------------------------------------------------------------
// The other asks

static orcs_status
s_close(orcs__model_t *self, orcs_msg_t *request)
{
    const json_t *body = NULL;
    orcs_msg_body(request, &body);
    const char *id = json_string_value(json_object_get(body, "session"));
    if (id)
        zhashx_delete(self->sessions, id);
    if (orcs_msg_kind_of(request) != ORCS_MSG_ASK)
        return ORCS_OK;
    return orcs__model_reply(self, request,
                             json_pack("{s:b}", "closed", id != NULL));
}

static orcs_status
s_usage(orcs__model_t *self, orcs_msg_t *request)
{
    const json_t *body = NULL;
    orcs_msg_body(request, &body);
    const char *id = json_string_value(json_object_get(body, "run"));
    orcs__model_run_t zero = {0};
    orcs__model_run_t *run = id ? zhashx_lookup(self->runs, id) : NULL;
    if (!run)
        run = &zero;
    return orcs__model_reply(
        self, request,
        json_pack("{s:I, s:I, s:I, s:f, s:I}", "prompt_tokens",
                  run->prompt_tokens, "completion_tokens",
                  run->completion_tokens, "cached_tokens", run->cached_tokens,
                  "cost", run->cost, "requests", run->requests));
}

static orcs_status
s_stats(orcs__model_t *self, orcs_msg_t *request)
{
    json_t *errors = json_object();
    for (unsigned i = 1; i < ORCS__MODEL_STATUS_COUNT; i++)
        if (self->errors[i])
            json_object_set_new(errors,
                                orcs_status_name((orcs_status) - (int) i),
                                json_integer((json_int_t) self->errors[i]));
    return orcs__model_reply(
        self, request,
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, "
                  "s:{s:I, s:I}}",
                  "requests", (json_int_t) self->requests, "attempts",
                  (json_int_t) self->attempts, "retries",
                  (json_int_t) self->retries, "fallbacks",
                  (json_int_t) self->fallbacks, "rate_limited",
                  (json_int_t) self->rate_limited, "errors", errors,
                  "in_flight", (json_int_t) self->in_flight, "sessions",
                  (json_int_t) zhashx_size(self->sessions), "runs",
                  (json_int_t) zhashx_size(self->runs), "providers",
                  (json_int_t) zhashx_size(self->providers), "tool_lists",
                  (json_int_t) zhashx_size(self->tools), "connections",
                  "opened", (json_int_t) self->sockets_opened, "closed",
                  (json_int_t) self->sockets_closed));
}

// Drops idle sessions and runs.
static orcs_status
s_sweep(orcs__model_t *self)
{
    int64_t now = orcs_clock_mono_us();
    zlist_t *expired = zlist_new();
    for (orcs__model_session_t *s = zhashx_first(self->sessions); s;
         s = zhashx_next(self->sessions))
        if (now - s->used_us > self->session_idle_us)
            zlist_append(expired, (void *) zhashx_cursor(self->sessions));
    for (const char *key = zlist_first(expired); key; key = zlist_next(expired))
        zhashx_delete(self->sessions, key);
    zlist_purge(expired);
    for (orcs__model_run_t *r = zhashx_first(self->runs); r;
         r = zhashx_next(self->runs))
        if (now - r->used_us > self->run_idle_us)
            zlist_append(expired, (void *) zhashx_cursor(self->runs));
    for (const char *key = zlist_first(expired); key; key = zlist_next(expired))
        zhashx_delete(self->runs, key);
    zlist_destroy(&expired);
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Callbacks

static orcs_status
s_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    orcs__model_t *self = state;
    orcs_msg_kind kind = orcs_msg_kind_of(*msg_p);
    if (kind != ORCS_MSG_ASK && kind != ORCS_MSG_SEND)
        return ORCS_OK;
    const char *type = orcs_msg_type(*msg_p);
    if (strcmp(type, "model.chat") == 0)
        return s_chat(self, msg_p);
    if (strcmp(type, "model.close") == 0)
        return s_close(self, *msg_p);
    if (strcmp(type, "model.usage") == 0)
        return s_usage(self, *msg_p);
    if (strcmp(type, "model.stats") == 0)
        return s_stats(self, *msg_p);
    char err[160];
    snprintf(err, sizeof err, "unknown request %.64s", type);
    return orcs__model_reply_error(self, *msg_p, ORCS_EINVAL, err, 0);
}

static orcs_status
s_timer(orcs_actor_t *actor, void *state, uint64_t timer_id, void *arg)
{
    (void) actor;
    orcs__model_t *self = state;
    orcs__model_tag *tag = arg;
    switch (*tag) {
        case ORCS__MODEL_TAG_CURL:
            return orcs__model_http_on_timer(self, arg);
        case ORCS__MODEL_TAG_SWEEP:
            return s_sweep(self);
        case ORCS__MODEL_TAG_CALL:
            return orcs__model_call_on_timer(self, arg, timer_id);
        case ORCS__MODEL_TAG_PROVIDER:
            return orcs__model_provider_on_timer(self, arg, timer_id);
    }
    return ORCS_OK;
}

static orcs_status
s_read_config(orcs__model_t *self,
              const json_t *config,
              char *err,
              size_t err_size)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) config, key, value)
    {
        bool known = false;
        for (size_t i = 0; s_config_keys[i]; i++)
            known = known || strcmp(s_config_keys[i], key) == 0;
        if (!known) {
            snprintf(err, err_size,
                     "model: unknown key %.64s (known: models, config_dir, "
                     "session_idle_ms, max_connections)",
                     key);
            return ORCS_ECONFIG;
        }
    }
    json_t *dir = json_object_get(config, "config_dir");
    json_t *idle = json_object_get(config, "session_idle_ms");
    json_t *connections = json_object_get(config, "max_connections");
    if ((dir && !json_is_string(dir))
        || (idle && (!json_is_integer(idle) || json_integer_value(idle) < 1))
        || (connections
            && (!json_is_integer(connections)
                || json_integer_value(connections) < 1))) {
        snprintf(err, err_size,
                 "model: config_dir must be a path, "
                 "session_idle_ms and max_connections "
                 "positive integers");
        return ORCS_ECONFIG;
    }
    if (dir)
        self->config_dir = orcs_strdup(json_string_value(dir));
    else
        self->config_dir =
            orcs_strdup(orcs__node_config_dir(orcs_actor_node(self->actor)));
    if (idle)
        self->session_idle_us = json_integer_value(idle) * 1000;
    self->max_connections = (long) json_integer_value(connections);
    return ORCS_OK;
}

static orcs_status
s_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    orcs__model_t *self = orcs_calloc(1, sizeof *self);
    *state_p = self; // terminate frees it, also after a failed init
    self->actor = actor;
    self->epoll_fd = -1;
    self->sweep_tag = ORCS__MODEL_TAG_SWEEP;
    self->session_idle_us = (int64_t) ORCS__MODEL_IDLE_MS * 1000;
    self->run_idle_us = (int64_t) ORCS__MODEL_RUN_IDLE_MS * 1000;
    self->rng = (uint64_t) orcs_clock_wall_us() ^ (uintptr_t) self;
    if (!self->rng)
        self->rng = 1;
    self->providers = zhashx_new();
    zhashx_set_destructor(self->providers, orcs__model_provider_destroy);
    self->sessions = zhashx_new();
    zhashx_set_destructor(self->sessions, s_session_destroy);
    self->tools = zhashx_new(); // keys are the entries' own text
    zhashx_set_key_duplicator(self->tools, NULL);
    zhashx_set_key_destructor(self->tools, NULL);
    self->runs = zhashx_new();
    zhashx_set_destructor(self->runs, s_run_destroy);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[768];
    orcs_status rc = s_read_config(self, config, err, sizeof err);
    if (rc == ORCS_OK)
        rc = orcs__model_config_load(self, config, err, sizeof err);
    if (rc == ORCS_OK && orcs__model_http_open(self) != ORCS_OK) {
        snprintf(err, sizeof err, "model: cannot set up curl and epoll");
        rc = ORCS_EIO;
    }
    if (rc != ORCS_OK) {
        orcs_actor_fail(actor, rc, err);
        return rc;
    }
    int64_t period_ms = self->session_idle_us / 2000;
    if (period_ms > S_SWEEP_MS)
        period_ms = S_SWEEP_MS;
    if (period_ms < 1)
        period_ms = 1;
    orcs_actor_timer_start(actor, (int) period_ms, (int) period_ms,
                           &self->sweep_tag, NULL);
    for (orcs__model_provider_t *p = zhashx_first(self->providers); p;
         p = zhashx_next(self->providers))
        orcs_log_info("model", "provider name=%s url=%s", p->name,
                      p->url                          ? p->url
                      : p->kind == ORCS__MODEL_REPLAY ? "(replay)"
                                                      : "(fake)");
    return ORCS_OK;
}

static void
s_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    orcs__model_t *self = state;
    if (!self)
        return;
    self->closing = true;
    while (self->calls) {
        orcs__model_call_t *call = self->calls;
        orcs__model_call_destroy(self, &call);
    }
    orcs__model_http_close(self);
    zhashx_destroy(&self->sessions); // releases the shared tools
    zhashx_destroy(&self->tools);
    zhashx_destroy(&self->runs);
    zhashx_destroy(&self->providers);
    curl_global_cleanup();
    free(self->config_dir);
    free(self);
}

const orcs_actor_def_t orcs__model_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "model",
    .init = s_init,
    .receive = s_receive,
    .timer = s_timer,
    .terminate = s_terminate,
};
