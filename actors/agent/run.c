/*  actors/agent/run.c — the loop of an agent run: model -> tool calls in
    parallel -> model ... until a final answer or max_steps.
    SPDX-License-Identifier: MPL-2.0

    The conversation lives in a session of the model actor: a turn sends
    only what is new (the tool results), never the history
    (docs/agents.md). The run keeps its own copy of the history to resync
    a session the model actor lost, for threads, and for the output.

    Sub-agents (the agent file's `subagents`) are offered to the model as
    tools taking {"input": string}; a call runs the sub-agent's loop as a
    child run inside this same actor, and its output is the tool result.

    A run started with clarify offers the built-in tool `clarify`: its
    call publishes agent.clarify, tells the requester (run.clarify) and
    waits until agent.interrupt answers it.

    A run is freed when it is finished and no ask of it is in flight
    (asks counts model and tool asks, sub-agent runs and thread writes), so
    late replies after a failure or a cancel find it and are dropped. */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "actors/agent/agent_internal.h"
#include "orcs/log.h"
#include "orcs/schema.h"
#include "orcs/sys.h"
#include "orcs/tools.h"
#include "runtime/internal.h"

#define S_MODEL_ASK_MS  (15 * 60 * 1000)
#define S_TOOL_SLACK_MS 10000 // over the tool's own timeouts
#define S_ERROR_MAX     ORCS__AGENT_ERROR_MAX
#define S_CLARIFY       "clarify"

typedef orcs__agent_t s_agent_t;
typedef orcs__agent_run_t s_run_t;
typedef orcs__agent_definition_t s_def_t;

// What an ask in flight is for.
typedef struct {
    s_run_t *run;
    size_t index;     // tool call index
    bool is_model;    // model.chat, else tool.call
    bool is_approval; // approval.request to the workflow engine
    json_t *call;     // tool.call: its body, to send again once approved
} s_pending_t;

void
orcs__agent_pending_free(void **item_p)
{
    s_pending_t *pending = *item_p;
    if (pending)
        json_decref(pending->call);
    free(pending);
    *item_p = NULL;
}

static void s_fail_run(s_agent_t *self,
                       s_run_t *run,
                       orcs_status status,
                       const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static void s_model_turn(s_agent_t *self, s_run_t *run, json_t *append);
static void s_call(s_agent_t *self, s_run_t *run, size_t index);

// ---------------------------------------------------------------------------
// Runs

static void
s_publish(s_agent_t *self, s_run_t *run, const char *event, json_t *body)
{
    json_object_set_new(body, "agent", json_string(run->def->name));
    json_object_set_new(body, "session", json_string(run->session));
    if (run->node[0])
        json_object_set_new(body, "node", json_string(run->node));
    orcs_actor_run_publish(self->actor, run->id, event, &body);
}

static json_t *
s_usage(const s_run_t *run)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", run->prompt_tokens,
                     "completion_tokens", run->completion_tokens,
                     "cached_tokens", run->cached_tokens);
}

// Removes the run from the actor's map of keys.
static void
s_unkey(s_agent_t *self, s_run_t *run)
{
    if (run->keyed && zhashx_lookup(self->keys, run->key) == run)
        zhashx_delete(self->keys, run->key);
    run->keyed = false;
}

void
orcs__agent_run_free(s_agent_t *self, s_run_t *run)
{
    s_unkey(self, run);
    if (run->prev)
        run->prev->next = run->next;
    else
        self->runs = run->next;
    if (run->next)
        run->next->prev = run->prev;
    orcs_reply_to_destroy(&run->reply_to);
    json_decref(run->history);
    json_decref(run->tools);
    json_decref(run->openai);
    json_decref(run->calls);
    json_decref(run->results);
    json_decref(run->asking);
    json_decref(run->queued);
    json_decref(run->output);
    orcs__agent_definition_unref(&run->root);
    free(run->names);
    free(run);
}

// Tells the model actor to drop the session; frees the run when no ask
// of it is in flight.
static void
s_run_release(s_agent_t *self, s_run_t *run)
{
    run->finished = true;
    s_unkey(self, run);
    if (run->opened) {
        orcs_msg_t *close = orcs_msg_new("model.close");
        json_t *body = json_pack("{s:s}", "session", run->session);
        orcs_msg_set_body(close, &body);
        if (orcs_actor_send(self->actor, self->model, &close) != ORCS_OK)
            orcs_msg_destroy(&close);
        run->opened = false;
    }
    if (run->asks == 0)
        orcs__agent_run_free(self, run);
}

static void s_sub_done(s_agent_t *self,
                       s_run_t *sub,
                       bool ok,
                       const json_t *output,
                       const char *error);

// Answers the run's agent.run ask with status and body (consumed); adds
// what every reply carries.
static void
s_reply(s_agent_t *self, s_run_t *run, orcs_status status, json_t *body)
{
    if (!run->reply_to) {
        json_decref(body);
        return;
    }
    json_object_set_new(body, "run", json_string(run->id));
    json_object_set_new(body, "key", json_string(run->key));
    if (run->node[0])
        json_object_set_new(body, "node", json_string(run->node));
    json_object_set_new(body, "steps", json_integer(run->step));
    json_object_set_new(body, "usage", s_usage(run));
    json_object_set_new(body, "cost", json_real(run->cost));
    orcs_msg_t *reply = orcs_msg_new("agent.run");
    orcs_msg_set_status(reply, status);
    orcs_msg_set_run_id(reply, run->id);
    orcs_msg_set_body(reply, &body);
    if (orcs_actor_reply_to(self->actor, run->reply_to, &reply) != ORCS_OK) {
        orcs_log_debug("agent", "%s: reply for key %s dropped",
                       orcs_actor_name(self->actor), run->key);
        orcs_msg_destroy(&reply);
    }
}

static void
s_fail_run(
    s_agent_t *self, s_run_t *run, orcs_status status, const char *fmt, ...)
{
    if (run->finished)
        return;
    char error[S_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, sizeof error, fmt, ap);
    va_end(ap);
    if (status == ORCS_ECANCELED)
        self->runs_cancelled++;
    else
        self->runs_failed++;
    if (orcs_actor_run_heard(self->actor, run->id, "agent.error"))
        s_publish(self, run, "agent.error",
                  json_pack("{s:s, s:s, s:i}", "error", error, "status",
                            orcs_status_name(status), "steps", run->step));
    if (run->parent)
        s_sub_done(self, run, false, NULL, error);
    else
        s_reply(self, run, status, json_pack("{s:s}", "error", error));
    s_run_release(self, run);
}

// Answers the run with its output (consumed).
static void
s_complete(s_agent_t *self, s_run_t *run, json_t *output)
{
    self->runs_done++;
    if (orcs_actor_run_heard(self->actor, run->id, "agent.output"))
        s_publish(self, run, "agent.output",
                  json_pack("{s:O, s:i, s:o, s:f}", "output", output, "steps",
                            run->step, "usage", s_usage(run), "cost",
                            run->cost));
    if (run->parent)
        s_sub_done(self, run, true, output, NULL);
    else {
        json_t *body = json_pack("{s:O}", "output", output);
        if (run->thread[0]) {
            json_object_set_new(body, "thread", json_string(run->thread));
            json_object_set_new(body, "thread_messages",
                                json_integer((json_int_t) run->thread_seq));
        }
        s_reply(self, run, ORCS_OK, body);
    }
    json_decref(output);
    s_run_release(self, run);
}

// The run succeeded with output (consumed): append to its thread first,
// if it has one, and answer once that is durable.
static void
s_finish_run(s_agent_t *self, s_run_t *run, json_t *output)
{
    if (!run->thread[0] || run->parent) {
        s_complete(self, run, output);
        return;
    }
    run->output = output;
    orcs_status rc = orcs__agent_thread_append(self, run);
    if (rc != ORCS_OK)
        orcs__agent_run_written(self, run, rc);
}

void
orcs__agent_run_written(s_agent_t *self, s_run_t *run, orcs_status status)
{
    if (run->finished)
        return;
    if (status != ORCS_OK) {
        s_fail_run(self, run, status, "cannot append to thread %s: %s",
                   run->thread, orcs_status_str(status));
        return;
    }
    run->thread_seq +=
        json_array_size(run->history) - (size_t) run->thread_base;
    json_t *output = run->output;
    run->output = NULL;
    s_complete(self, run, output);
}

// Builds the tools a run offers: the agent's registry tools and its
// sub-agents. Returns false with a message for an unknown tool.
static bool
s_run_tools(s_agent_t *self, s_run_t *run, char *err, size_t err_size)
{
    orcs_tools_t *registry = orcs_node_tools(self->node);
    orcs_toolset_t *set = orcs_tools_acquire(registry);
    // Runs of one agent offer the same tools until the set is reloaded:
    // share one copy (it is never changed) instead of one per run.
    uint64_t generation = orcs_toolset_generation(set);
    if (run->def->tools && run->def->generation == generation) {
        orcs_toolset_release(&set);
        run->tools = json_incref(run->def->tools);
        run->openai = json_incref(run->def->openai);
        return true;
    }
    run->tools = json_object();
    run->openai = json_array();
    json_t *names = json_object_get(run->def->doc, "tools");
    bool ok = true;
    for (size_t i = 0; ok && i < json_array_size(names); i++) {
        const char *name = json_string_value(json_array_get(names, i));
        const orcs_tool_t *tool = orcs_toolset_find(set, name);
        if (!tool) {
            snprintf(err, err_size, "agent %s lists unknown tool '%s'",
                     run->def->name, name);
            ok = false;
            break;
        }
        json_int_t timeout = (json_int_t) tool->timeout_ms
                                 * (tool->idempotent ? tool->retries + 1 : 1)
                             + S_TOOL_SLACK_MS;
        if (tool->needs_approval)
            timeout = S_MODEL_ASK_MS;
        json_object_set_new(
            run->tools, tool->wire_name,
            json_pack("{s:s, s:I}", "name", tool->name, "timeout_ms", timeout));
        json_array_append_new(run->openai, orcs_tool_openai(tool));
    }
    orcs_toolset_release(&set);
    for (size_t i = 0; ok && i < run->def->sub_count; i++) {
        s_def_t *sub = run->def->subs[i];
        const char *description =
            json_string_value(json_object_get(sub->doc, "description"));
        char fallback[128];
        if (!description || !description[0]) {
            snprintf(fallback, sizeof fallback, "Ask the agent %s.", sub->name);
            description = fallback;
        }
        json_object_set_new(
            run->tools, sub->wire,
            json_pack("{s:s, s:I}", "sub", sub->name, "index", (json_int_t) i));
        json_array_append_new(
            run->openai,
            json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}}, s:[s], "
                      "s:b}}}",
                      "type", "function", "function", "name", sub->wire,
                      "description", description, "parameters", "type",
                      "object", "properties", "input", "type", "string",
                      "description", "what to ask the agent", "required",
                      "input", "additionalProperties", 0));
    }
    if (ok) {
        json_decref(run->def->tools);
        json_decref(run->def->openai);
        run->def->tools = json_incref(run->tools);
        run->def->openai = json_incref(run->openai);
        run->def->generation = generation;
    }
    return ok;
}

// Adds the built-in clarify tool to the run's tools (copies: the shared
// ones are read-only). It takes the place of a registry tool of that name.
static void
s_offer_clarify(s_run_t *run)
{
    json_t *tools = json_copy(run->tools);
    json_t *openai = json_array();
    size_t i;
    json_t *tool;
    json_array_foreach(run->openai, i, tool)
    {
        const char *name = json_string_value(
            json_object_get(json_object_get(tool, "function"), "name"));
        if (!name || strcmp(name, S_CLARIFY) != 0)
            json_array_append(openai, tool);
    }
    json_object_set_new(tools, S_CLARIFY, json_pack("{s:b}", "clarify", 1));
    json_array_append_new(
        openai,
        json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}}, s:[s], s:b}}}",
                  "type", "function", "function", "name", S_CLARIFY,
                  "description",
                  "Ask the human who started the run a question and wait for "
                  "the answer",
                  "parameters", "type", "object", "properties", "question",
                  "type", "string", "description", "the question to ask",
                  "required", "question", "additionalProperties", 0));
    json_decref(run->tools);
    json_decref(run->openai);
    run->tools = tools;
    run->openai = openai;
}

// Copies the run's names into one block, each cut to its limit.
static void
s_names(s_run_t *run,
        const char *key,
        const char *node,
        const char *from,
        const char *thread,
        const char *session)
{
    const char *text[5] = {key, node, from, thread, session};
    const size_t max[5] = {ORCS__AGENT_KEY_MAX, ORCS__AGENT_KEY_MAX,
                           ORCS_MSG_ADDRESS_MAX, ORCS__AGENT_THREAD_MAX,
                           ORCS_MSG_ADDRESS_MAX + 31};
    size_t len[5], total = 0;
    for (int i = 0; i < 5; i++) {
        len[i] = strnlen(text[i], max[i]);
        total += len[i] + 1;
    }
    char *block = orcs_malloc(total);
    char *at = block;
    char **field[5] = {&run->key, &run->node, &run->from, &run->thread,
                       &run->session};
    for (int i = 0; i < 5; i++) {
        memcpy(at, text[i], len[i]);
        at[len[i]] = '\0';
        *field[i] = at;
        at += len[i] + 1;
    }
    run->names = block;
}

static s_run_t *
s_run_new(s_agent_t *self,
          s_def_t *def,
          const orcs__agent_start_t *opts,
          s_run_t *parent)
{
    s_run_t *run = orcs_calloc(1, sizeof *run);
    if (opts->id && opts->id[0])
        snprintf(run->id, sizeof run->id, "%s", opts->id);
    else
        snprintf(run->id, sizeof run->id, "r-%" PRIx64 "%04" PRIx64,
                 (uint64_t) orcs_clock_wall_us(), self->next_session & 0xffff);
    char session[ORCS_MSG_ADDRESS_MAX + 32];
    snprintf(session, sizeof session, "%s/%" PRIu32 ".%" PRIu64,
             orcs_actor_name(self->actor), orcs_actor_incarnation(self->actor),
             ++self->next_session);
    const char *key = "", *node = "", *from = "", *thread = "";
    if (parent) {
        node = parent->node;
        run->root = orcs__agent_definition_ref(parent->root);
    } else {
        key = opts->key && opts->key[0] ? opts->key : run->id;
        node = opts->node ? opts->node : "";
        from = opts->from ? opts->from : "";
        thread = opts->thread ? opts->thread : "";
        run->clarify = opts->clarify;
        run->root = orcs__agent_definition_ref(def);
    }
    s_names(run, key, node, from, thread, session);
    run->def = def;
    run->parent = parent;
    run->history = json_array();
    run->calls = json_array();
    run->results = json_array();
    run->asking = json_array();
    run->queued = json_array();
    run->max_steps =
        (int) json_integer_value(json_object_get(def->doc, "max_steps"));
    run->started_us = orcs_clock_mono_us();
    run->next = self->runs;
    if (self->runs)
        self->runs->prev = run;
    self->runs = run;
    if (!parent && !zhashx_lookup(self->keys, run->key)) {
        zhashx_insert(self->keys, run->key, run);
        run->keyed = true;
    }
    return run;
}

// Returns what the ask is for (NULL when it could not be sent: the run
// failed).
static s_pending_t *
s_ask(s_agent_t *self,
      s_run_t *run,
      const char *to,
      const char *type,
      json_t *body,
      int timeout_ms,
      bool is_model,
      size_t index)
{
    orcs_msg_t *msg = orcs_msg_new(type);
    orcs_msg_set_run_id(msg, run->id);
    orcs_msg_set_body(msg, &body);
    uint64_t id = 0;
    orcs_status rc = orcs_actor_ask(self->actor, to, &msg, timeout_ms, &id);
    if (rc != ORCS_OK) {
        orcs_msg_destroy(&msg);
        s_fail_run(self, run, rc, "cannot reach %s: %s", to,
                   orcs_status_str(rc));
        return NULL;
    }
    s_pending_t *pending = orcs_calloc(1, sizeof *pending);
    pending->run = run;
    pending->index = index;
    pending->is_model = is_model;
    zhashx_insert(self->pending, (void *) (uintptr_t) id, pending);
    run->asks++;
    return pending;
}

// Sends the next model turn: append (consumed) holds the new messages.
static void
s_model_turn(s_agent_t *self, s_run_t *run, json_t *append)
{
    if (json_array_size(run->queued) > 0) {
        // Input that agent.interrupt queued goes just before this turn.
        json_array_extend(append, run->queued);
        json_array_extend(run->history, run->queued);
        json_array_clear(run->queued);
    }
    json_t *body = json_object();
    json_object_set_new_nocheck(body, "session", json_string(run->session));
    json_object_set_new_nocheck(body, "run", json_string(run->id));
    json_object_set_new_nocheck(body, "step", json_integer(run->step + 1));
    json_object_set_new_nocheck(body, "append", append);
    if (!run->opened) {
        json_t *doc = run->def->doc;
        json_t *setup = json_pack(
            "{s:O, s:O, s:O, s:O}", "provider", json_object_get(doc, "model"),
            "fallbacks", json_object_get(doc, "fallbacks"), "tools",
            run->openai, "stream", json_object_get(doc, "stream"));
        json_t *options = json_deep_copy(json_object_get(doc, "options"));
        if (!options)
            options = json_object();
        json_t *temperature = json_object_get(doc, "temperature");
        if (temperature && !json_is_null(temperature))
            json_object_set(options, "temperature", temperature);
        json_object_set_new(setup, "options", options);
        json_t *budget = json_object_get(doc, "budget");
        if (budget)
            json_object_set(setup, "budget", budget);
        // Resync after a lost session: the whole history goes first.
        size_t sent = json_array_size(run->history) - json_array_size(append);
        if (sent > 0) {
            json_t *before = json_array();
            for (size_t i = 0; i < sent; i++)
                json_array_append(before, json_array_get(run->history, i));
            json_object_set_new(setup, "messages", before);
        }
        json_object_set_new(body, "setup", setup);
        run->opened = true;
    }
    s_ask(self, run, self->model, "model.chat", body, S_MODEL_ASK_MS, true, 0);
}

static void
s_guard_reason(char *reason, size_t size)
{
    if (!reason[0])
        snprintf(reason, size, "blocked by a guardrail");
}

s_run_t *
orcs__agent_run_start(s_agent_t *self,
                      s_def_t *def,
                      const orcs__agent_start_t *opts,
                      const json_t *input,
                      s_run_t *parent,
                      size_t parent_index,
                      orcs_msg_t **request_p)
{
    s_run_t *run = s_run_new(self, def, opts, parent);
    run->parent_index = parent_index;
    if (request_p && *request_p)
        run->reply_to = orcs_reply_to_new(*request_p); // NULL for a send
    if (orcs_actor_run_heard(self->actor, run->id, "agent.started"))
        s_publish(self, run, "agent.started",
                  json_pack("{s:O}", "input", (json_t *) input));
    char reason[S_ERROR_MAX] = "";
    orcs_guard_ctx_t ctx = {ORCS_GUARD_INPUT, def->name, run->id, input};
    if (!orcs__agent_guard(self->node, &ctx, reason, sizeof reason)) {
        s_guard_reason(reason, sizeof reason);
        s_fail_run(self, run, ORCS_EDENIED, "input blocked: %s", reason);
        return NULL;
    }
    if (!s_run_tools(self, run, reason, sizeof reason)) {
        s_fail_run(self, run, ORCS_ECONFIG, "%s", reason);
        return NULL;
    }
    if (run->clarify && !parent)
        s_offer_clarify(run);
    json_t *append = json_array();
    const char *instructions =
        json_string_value(json_object_get(def->doc, "instructions"));
    if (instructions && instructions[0])
        json_array_append_new(append, json_pack("{s:s, s:s}", "role", "system",
                                                "content", instructions));
    if (run->thread[0] && !parent) {
        // History = system + the thread's messages + the new input.
        json_array_extend(run->history, append);
        json_array_clear(append);
        orcs_status rc =
            orcs__agent_thread_load(self, run, reason, sizeof reason);
        if (rc != ORCS_OK) {
            json_decref(append);
            s_fail_run(self, run, rc, "%s", reason);
            return NULL;
        }
        json_array_extend(append, run->history);
        json_array_clear(run->history);
    }
    json_t *content = NULL;
    if (json_is_string(input))
        content = json_incref((json_t *) input);
    else {
        char *text = orcs_doc_to_text(input, JSON_COMPACT);
        content = json_string(text ? text : "null");
        free(text);
    }
    json_array_append_new(
        append, json_pack("{s:s, s:o}", "role", "user", "content", content));
    json_array_extend(run->history, append);
    run->thread_base = json_array_size(run->history) - 1;
    s_model_turn(self, run, append);
    return run;
}

// ---------------------------------------------------------------------------
// Tool calls

static void
s_tool_result(s_agent_t *self, s_run_t *run, size_t index, const char *content)
{
    json_t *call = json_array_get(run->calls, index);
    json_t *call_id = json_object_get(call, "id");
    json_t *result = json_object();
    json_object_set_new_nocheck(result, "role", json_string_nocheck("tool"));
    json_object_set_new_nocheck(result, "tool_call_id",
                                call_id ? json_incref(call_id) : json_null());
    json_t *text = json_string(content);
    json_object_set_new_nocheck(
        result, "content",
        text ? text
             : json_string("error: the tool's result is not valid UTF-8"));
    json_array_set_new(run->results, index, result);
    if (run->outstanding > 0 && --run->outstanding == 0) {
        json_t *append = json_incref(run->results);
        json_array_extend(run->history, append);
        json_decref(run->results);
        run->results = json_array();
        s_model_turn(self, run, append);
    }
}

static void
s_sub_done(s_agent_t *self,
           s_run_t *sub,
           bool ok,
           const json_t *output,
           const char *error)
{
    s_run_t *parent = sub->parent;
    sub->parent = NULL;
    if (!parent)
        return;
    parent->asks--;
    if (parent->finished) {
        // The parent failed while its sub-agent ran: it waited only for
        // this to be freed.
        if (parent->asks == 0)
            orcs__agent_run_free(self, parent);
        return;
    }
    parent->prompt_tokens += sub->prompt_tokens;
    parent->completion_tokens += sub->completion_tokens;
    parent->cached_tokens += sub->cached_tokens;
    parent->cost += sub->cost;
    char *text = NULL;
    if (ok)
        text = json_is_string(output) ? orcs_strdup(json_string_value(output))
                                      : orcs_doc_to_text(output, JSON_COMPACT);
    else {
        size_t size = strlen(error) + 64;
        text = orcs_malloc(size);
        snprintf(text, size, "error: the agent failed: %s", error);
    }
    s_tool_result(self, parent, sub->parent_index, text ? text : "null");
    free(text);
}

// A call of the clarify tool: tell the requester and wait for
// agent.interrupt (orcs__agent_run_interrupt) to answer it.
static void
s_clarify(s_agent_t *self, s_run_t *run, size_t index, const json_t *args)
{
    const char *question = json_string_value(json_object_get(args, "question"));
    if (!question || !question[0]) {
        s_tool_result(self, run, index,
                      "error: give the question as {\"question\": \"...\"}");
        return;
    }
    json_array_append_new(run->asking, json_integer((json_int_t) index));
    if (orcs_actor_run_heard(self->actor, run->id, "agent.clarify"))
        s_publish(self, run, "agent.clarify",
                  json_pack("{s:s, s:s, s:s}", "node", run->node, "key",
                            run->key, "question", question));
    if (!run->from[0])
        return;
    orcs_msg_t *msg = orcs_msg_new("run.clarify");
    orcs_msg_set_run_id(msg, run->id);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "run", run->id, "key",
                             run->key, "node", run->node, "question", question);
    orcs_msg_set_body(msg, &body);
    orcs_status rc = orcs_actor_send(self->actor, run->from, &msg);
    if (rc != ORCS_OK) {
        orcs_log_debug("agent", "%s: run.clarify to %s not sent: %s",
                       orcs_actor_name(self->actor), run->from,
                       orcs_status_name(rc));
        orcs_msg_destroy(&msg);
    }
}

// Starts call index of the current step.
static void
s_call(s_agent_t *self, s_run_t *run, size_t index)
{
    json_t *call = json_array_get(run->calls, index);
    json_t *function = json_object_get(call, "function");
    const char *wire = json_string_value(json_object_get(function, "name"));
    const char *arguments =
        json_string_value(json_object_get(function, "arguments"));
    json_t *tool = wire ? json_object_get(run->tools, wire) : NULL;
    char text[S_ERROR_MAX];
    if (!tool) {
        snprintf(text, sizeof text,
                 "error: there is no tool named '%s'; use one of the tools "
                 "offered",
                 wire ? wire : "");
        s_tool_result(self, run, index, text);
        return;
    }
    json_error_t jerr;
    json_t *args = arguments && arguments[0]
                       ? json_loads(arguments, JSON_DECODE_ANY, &jerr)
                       : json_object();
    if (!args) {
        snprintf(text, sizeof text,
                 "error: the arguments are not valid JSON (%s at position %d)",
                 jerr.text, jerr.position);
        s_tool_result(self, run, index, text);
        return;
    }
    const char *name = json_string_value(json_object_get(tool, "name"));
    char reason[512] = "";
    bool pass = true;
    if (orcs__agent_guarded(self->node)) {
        json_t *subject =
            json_pack("{s:s, s:O}", "tool", name ? name : wire, "args", args);
        orcs_guard_ctx_t ctx = {ORCS_GUARD_TOOL_CALL, run->def->name, run->id,
                                subject};
        pass = orcs__agent_guard(self->node, &ctx, reason, sizeof reason);
        json_decref(subject);
    }
    if (!pass) {
        s_guard_reason(reason, sizeof reason);
        snprintf(text, sizeof text, "error: the call was blocked: %s", reason);
        json_decref(args);
        s_tool_result(self, run, index, text);
        return;
    }
    if (json_is_true(json_object_get(tool, "clarify"))) {
        s_clarify(self, run, index, args);
        json_decref(args);
        return;
    }
    json_t *sub = json_object_get(tool, "sub");
    if (sub) {
        size_t at = (size_t) json_integer_value(json_object_get(tool, "index"));
        json_t *input = json_object_get(args, "input");
        if (!json_is_string(input)) {
            json_decref(args);
            s_tool_result(self, run, index,
                          "error: give the agent its question as "
                          "{\"input\": \"...\"}");
            return;
        }
        run->asks++; // released in s_sub_done
        orcs__agent_start_t opts = {.id = run->id};
        orcs__agent_run_start(self, run->def->subs[at], &opts, input, run,
                              index, NULL);
        json_decref(args);
        return;
    }
    json_int_t timeout =
        json_integer_value(json_object_get(tool, "timeout_ms"));
    // Built by hand, not with json_pack: this runs for every call.
    json_t *call_id = json_object_get(call, "id");
    json_t *body = json_object();
    json_object_set_new_nocheck(body, "run", json_string(run->id));
    json_object_set_new_nocheck(body, "step", json_integer(run->step));
    json_object_set_new_nocheck(body, "call_id",
                                call_id ? json_incref(call_id) : json_null());
    json_object_set_new_nocheck(body, "tool", json_string(name));
    json_object_set_new_nocheck(body, "args", args);
    json_object_set_new_nocheck(body, "caller",
                                json_string(orcs_actor_name(self->actor)));
    json_t *keep = json_incref(body);
    s_pending_t *pending =
        s_ask(self, run, self->toolexec, "tool.call", body,
              timeout > INT_MAX ? INT_MAX : (int) timeout, false, index);
    if (pending)
        pending->call = json_incref(keep);
    json_decref(keep);
}

// A tool that needs a human's approval was refused by toolexec: a run of
// a workflow asks the workflow engine (which parks the run on a durable
// approval) and sends the call again, approved, once a human said yes.
static bool
s_ask_approval(s_agent_t *self, s_run_t *run, size_t index, json_t *call)
{
    s_run_t *top = run;
    while (top->parent)
        top = top->parent;
    if (!call || !top->node[0] || !top->from[0])
        return false;
    json_t *body = json_pack(
        "{s:s, s:s, s:O, s:O, s:O}", "run", top->id, "node", top->node, "tool",
        json_object_get(call, "tool"), "args", json_object_get(call, "args"),
        "call_id", json_object_get(call, "call_id"));
    s_pending_t *pending = s_ask(self, run, top->from, "approval.request", body,
                                 INT_MAX, false, index);
    if (pending) { // else the run failed
        pending->is_approval = true;
        pending->call = json_incref(call);
    }
    return true;
}

// The workflow engine's answer to approval.request.
static void
s_on_approval(
    s_agent_t *self, s_run_t *run, size_t index, json_t *call, orcs_msg_t *msg)
{
    json_t *body = NULL;
    bool approved = false;
    if (orcs_msg_kind_of(msg) != ORCS_MSG_TIMEOUT
        && orcs_msg_take_body(msg, &body) == ORCS_OK
        && orcs_msg_status(msg) == ORCS_OK)
        approved = json_is_true(json_object_get(body, "approved"));
    if (!approved) {
        char text[S_ERROR_MAX];
        const char *reason = json_string_value(json_object_get(body, "reason"));
        const char *error = json_string_value(json_object_get(body, "error"));
        snprintf(text, sizeof text,
                 "error: a human did not approve this "
                 "call%s%s",
                 reason || error ? ": " : "",
                 reason  ? reason
                 : error ? error
                         : "");
        json_decref(body);
        s_tool_result(self, run, index, text);
        return;
    }
    json_decref(body);
    json_t *again = json_deep_copy(call);
    json_object_set_new(again, "approved", json_true());
    json_t *keep = json_incref(again);
    s_pending_t *pending = s_ask(self, run, self->toolexec, "tool.call", again,
                                 INT_MAX, false, index);
    if (pending)
        pending->call = json_incref(keep);
    json_decref(keep);
}

// A tool.call reply (or timeout) for call index.
static void
s_on_tool(
    s_agent_t *self, s_run_t *run, size_t index, json_t *call, orcs_msg_t *msg)
{
    char text[S_ERROR_MAX];
    if (orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT) {
        s_tool_result(self, run, index,
                      "error: the tool did not answer in time");
        return;
    }
    json_t *body = NULL;
    if (orcs_msg_take_body(msg, &body) != ORCS_OK
        || orcs_msg_status(msg) != ORCS_OK) {
        const char *error = json_string_value(json_object_get(body, "error"));
        snprintf(text, sizeof text, "error: %s",
                 error ? error : orcs_status_str(orcs_msg_status(msg)));
        json_decref(body);
        s_tool_result(self, run, index, text);
        return;
    }
    char *content = NULL;
    if (json_is_true(json_object_get(body, "ok"))) {
        json_t *result = json_object_get(body, "result");
        content = json_is_string(result)
                      ? orcs_strdup(json_string_value(result))
                      : orcs_doc_to_text(result, JSON_COMPACT);
    } else {
        const char *error = json_string_value(json_object_get(body, "error"));
        const char *reason = json_string_value(json_object_get(body, "reason"));
        if (reason && strcmp(reason, "approval_required") == 0
            && !json_is_true(json_object_get(call, "approved"))
            && s_ask_approval(self, run, index, call)) {
            json_decref(body);
            return;
        }
        snprintf(text, sizeof text, "error: %s",
                 error ? error : "the tool failed");
        content = orcs_strdup(text);
    }
    json_decref(body);
    s_tool_result(self, run, index, content ? content : "null");
    free(content);
}

// ---------------------------------------------------------------------------
// Model turns

// Strips a ```json fence around a final answer.
static json_t *
s_parse_output(const char *content, json_error_t *jerr)
{
    const char *start = content;
    while (*start == ' ' || *start == '\n' || *start == '\r' || *start == '\t')
        start++;
    size_t len = strlen(start);
    if (strncmp(start, "```", 3) == 0) {
        const char *nl = strchr(start, '\n');
        const char *end = len >= 3 ? strstr(start + 3, "```") : NULL;
        if (nl && end && end > nl) {
            start = nl + 1;
            len = (size_t) (end - start);
        }
    }
    return json_loadb(start, len, JSON_DECODE_ANY, jerr);
}

static void
s_final(s_agent_t *self, s_run_t *run, json_t *message)
{
    const char *content =
        json_string_value(json_object_get(message, "content"));
    if (!content)
        content = "";
    json_t *schema = json_object_get(run->def->doc, "output_schema");
    json_t *output = NULL;
    char why[512];
    if (schema) {
        json_error_t jerr;
        output = s_parse_output(content, &jerr);
        if (!output)
            snprintf(why, sizeof why, "the answer is not JSON (%s)", jerr.text);
        else if (orcs_schema_validate(schema, output, why, sizeof why)
                 != ORCS_OK) {
            json_decref(output);
            output = NULL;
        }
        if (!output) {
            if (run->repaired) {
                s_fail_run(self, run, ORCS_EPROTO,
                           "the output does not match the output schema "
                           "after a repair round: %s",
                           why);
                return;
            }
            run->repaired = true;
            char *schema_text = orcs_doc_to_text(schema, JSON_COMPACT);
            size_t size = strlen(why) + strlen(schema_text) + 256;
            char *text = orcs_malloc(size);
            snprintf(text, size,
                     "Your answer does not match the required output schema: "
                     "%s. Answer again with only a JSON value matching this "
                     "schema: %s",
                     why, schema_text);
            free(schema_text);
            json_t *append =
                json_pack("[{s:s, s:s}]", "role", "user", "content", text);
            free(text);
            json_array_extend(run->history, append);
            s_model_turn(self, run, append);
            return;
        }
    } else
        output = json_string(content);
    char reason[512] = "";
    orcs_guard_ctx_t ctx = {ORCS_GUARD_OUTPUT, run->def->name, run->id, output};
    if (!orcs__agent_guard(self->node, &ctx, reason, sizeof reason)) {
        json_decref(output);
        s_guard_reason(reason, sizeof reason);
        s_fail_run(self, run, ORCS_EDENIED, "output blocked: %s", reason);
        return;
    }
    s_finish_run(self, run, output);
}

static void
s_on_model(s_agent_t *self, s_run_t *run, orcs_msg_t *msg)
{
    if (orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT) {
        s_fail_run(self, run, ORCS_ETIMEDOUT, "the model did not answer");
        return;
    }
    json_t *body = NULL;
    orcs_status status = orcs_msg_status(msg);
    if (orcs_msg_take_body(msg, &body) != ORCS_OK) {
        s_fail_run(self, run, ORCS_EPROTO, "malformed reply from the model");
        return;
    }
    if (status == ORCS_ENOTFOUND && run->step > 0 && !run->resynced) {
        // The model actor lost the session (it restarted, or the session
        // idled out): send the whole history once.
        json_decref(body);
        run->opened = false;
        run->resynced = true;
        json_t *append = json_array();
        s_model_turn(self, run, append);
        return;
    }
    if (status != ORCS_OK) {
        const char *error = json_string_value(json_object_get(body, "error"));
        s_fail_run(self, run, status, "model call failed: %s",
                   error ? error : orcs_status_str(status));
        json_decref(body);
        return;
    }
    run->step++;
    run->resynced = false;
    json_t *usage = json_object_get(body, "usage");
    run->prompt_tokens +=
        json_integer_value(json_object_get(usage, "prompt_tokens"));
    run->completion_tokens +=
        json_integer_value(json_object_get(usage, "completion_tokens"));
    run->cached_tokens +=
        json_integer_value(json_object_get(usage, "cached_tokens"));
    run->cost += json_number_value(json_object_get(body, "cost"));
    json_t *message = json_object_get(body, "message");
    json_t *calls = json_object_get(message, "tool_calls");
    if (!json_is_object(message)) {
        json_decref(body);
        s_fail_run(self, run, ORCS_EPROTO, "the model's reply has no message");
        return;
    }
    json_array_append(run->history, message);
    if (orcs_actor_run_heard(self->actor, run->id, "agent.step"))
        s_publish(self, run, "agent.step",
                  json_pack("{s:i, s:I, s:O, s:f}", "step", run->step,
                            "tool_calls", (json_int_t) json_array_size(calls),
                            "usage", usage ? usage : json_null(), "cost",
                            json_number_value(json_object_get(body, "cost"))));
    if (json_array_size(calls) == 0 && json_array_size(run->queued) > 0
        && run->step < run->max_steps) {
        // New input arrived while the model answered: it has the last word.
        json_decref(body);
        s_model_turn(self, run, json_array());
        return;
    }
    if (json_array_size(calls) == 0) {
        s_final(self, run, message);
        json_decref(body);
        return;
    }
    if (run->step >= run->max_steps) {
        json_decref(body);
        s_fail_run(self, run, ORCS_EDENIED,
                   "step limit reached: max_steps is %d and the model still "
                   "calls tools",
                   run->max_steps);
        return;
    }
    json_decref(run->calls);
    run->calls = json_incref(calls);
    json_decref(body);
    size_t count = json_array_size(calls);
    json_array_clear(run->results);
    for (size_t i = 0; i < count; i++)
        json_array_append_new(run->results, json_null());
    run->outstanding = count;
    for (size_t i = 0; i < count && !run->finished; i++)
        s_call(self, run, i);
}

// ---------------------------------------------------------------------------
// Replies, interrupts, cancels

void
orcs__agent_on_reply(s_agent_t *self, orcs_msg_t *msg)
{
    void *key = (void *) (uintptr_t) orcs_msg_correlation_id(msg);
    s_pending_t *pending = zhashx_lookup(self->pending, key);
    if (!pending)
        return; // a late reply
    s_run_t *run = pending->run;
    size_t index = pending->index;
    bool is_model = pending->is_model;
    bool is_approval = pending->is_approval;
    json_t *call = json_incref(pending->call);
    zhashx_delete(self->pending, key);
    run->asks--;
    if (run->finished) { // failed or cancelled while the ask ran
        json_decref(call);
        if (run->asks == 0)
            orcs__agent_run_free(self, run);
        return;
    }
    if (is_model)
        s_on_model(self, run, msg);
    else if (is_approval)
        s_on_approval(self, run, index, call, msg);
    else
        s_on_tool(self, run, index, call, msg);
    json_decref(call);
}

void
orcs__agent_run_interrupt(s_agent_t *self, s_run_t *run, const json_t *input)
{
    char *text = json_is_string(input) ? orcs_strdup(json_string_value(input))
                                       : orcs_doc_to_text(input, JSON_COMPACT);
    if (json_array_size(run->asking) > 0) {
        size_t index =
            (size_t) json_integer_value(json_array_get(run->asking, 0));
        json_array_remove(run->asking, 0);
        s_tool_result(self, run, index, text ? text : "null");
    } else
        json_array_append_new(run->queued,
                              json_pack("{s:s, s:s}", "role", "user", "content",
                                        text ? text : "null"));
    free(text);
}

// Appends run and its sub-agent runs, parents first, to list.
static void
s_collect(s_agent_t *self, s_run_t *run, zlistx_t *list)
{
    zlistx_add_end(list, run);
    for (s_run_t *child = self->runs; child; child = child->next)
        if (child->parent == run && !child->finished)
            s_collect(self, child, list);
}

void
orcs__agent_run_cancel(s_agent_t *self, s_run_t *run)
{
    // Every run of the tree is held while they fail (parents first, so a
    // child's s_sub_done finds its parent finished), then released.
    zlistx_t *list = zlistx_new();
    s_collect(self, run, list);
    for (s_run_t *r = zlistx_first(list); r; r = zlistx_next(list))
        r->asks++;
    for (s_run_t *r = zlistx_first(list); r; r = zlistx_next(list))
        s_fail_run(self, r, ORCS_ECANCELED, "cancelled");
    for (s_run_t *r = zlistx_first(list); r; r = zlistx_next(list))
        if (--r->asks == 0)
            orcs__agent_run_free(self, r);
    zlistx_destroy(&list);
}
