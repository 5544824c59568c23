/*  actors/agent/agent.c — the `agent` actor: the loop model -> tool calls
    in parallel -> model ... until a final answer or max_steps.
    SPDX-License-Identifier: MPL-2.0

    One actor serves many runs at once; each run's state lives here. The
    conversation lives in a session of the model actor: a turn sends only
    what is new (the tool results), never the history (docs/agents.md). The
    agent keeps its own copy of the history to resync a session the model
    actor lost, and for the output.

    Config: {"file": agent.yaml} (relative to the node config's directory)
    or {"agent": {...the document...}}; optional "model_actor" and
    "toolexec_actor" names (default "model" and "toolexec").

    Sub-agents (the agent file's `subagents`) are offered to the model as
    tools taking {"input": string}; a call runs the sub-agent's loop as a
    child run inside this same actor, and its output is the tool result.

    Asks: agent.run {"run"?, "input"} -> {"run", "output", "steps",
    "usage", "cost"}; an error reply has {"error", "run", "steps"}. Sent
    (not asked), agent.run starts a run whose result only the events tell.
    Events on run.<run>.: agent.started, agent.step, agent.output,
    agent.error. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "actors/agent/agent_internal.h"
#include "orcs/log.h"
#include "orcs/schema.h"
#include "orcs/sys.h"
#include "orcs/tools.h"
#include "runtime/internal.h"

#define S_DEPTH_MAX     8 // nesting of sub-agents
#define S_MODEL_ASK_MS  (15 * 60 * 1000)
#define S_TOOL_SLACK_MS 10000 // over the tool's own timeouts
#define S_ERROR_MAX     1024

typedef struct s_def_t s_def_t;

// One agent definition: the actor's own, or a sub-agent's.
struct s_def_t {
    json_t *doc;                       // the checked agent document
    const char *name;                  // doc.agent
    s_def_t **subs;                    // sub-agents
    size_t sub_count;                  // entries of subs
    char wire[ORCS_TOOL_NAME_MAX + 1]; // name offered as a tool
    uint64_t generation; // tool set the caches below were built from
    json_t *tools;       // cached run->tools (read-only, shared by runs)
    json_t *openai;      // cached run->openai (read-only, shared by runs)
};

typedef struct s_run_t s_run_t;

// A run in progress (or a sub-agent's child run).
struct s_run_t {
    char id[ORCS_MSG_RUN_ID_MAX + 1];
    char session[ORCS_MSG_ADDRESS_MAX + 32];
    s_def_t *def;
    orcs_msg_t *request; // the agent.run ask to answer (top-level runs)
    s_run_t *parent;     // a sub-agent's parent run
    size_t parent_index; // which of the parent's calls this answers
    json_t *history;     // every message of the conversation so far
    json_t *tools;       // wire name -> {"name", "timeout_ms"} or {"sub"}
    json_t *openai;      // the tools offered to the model
    json_t *calls;       // the current step's tool calls
    json_t *results;     // one tool message per call
    size_t outstanding;  // calls without a result yet
    size_t asks;         // asks in flight for this run
    int step;            // model turns so far
    int max_steps;
    bool opened;   // the model actor has the session
    bool repaired; // the output schema repair round was used
    bool resynced; // this turn already resent a lost session
    bool finished; // answered; freed when asks reaches 0
    json_int_t prompt_tokens, completion_tokens, cached_tokens;
    double cost;
    int64_t started_us;
    s_run_t *next; // all runs, a doubly linked list
    s_run_t *prev;
};

// What an ask in flight is for.
typedef struct {
    s_run_t *run;
    size_t index;  // tool call index
    bool is_model; // model.chat, else tool.call
} s_pending_t;

typedef struct {
    orcs_actor_t *actor;
    orcs_node_t *node;
    s_def_t *def;      // this actor's agent
    zhashx_t *pending; // correlation id -> s_pending_t
    s_run_t *runs;     // every run held
    uint64_t next_session;
    char model[ORCS_MSG_ADDRESS_MAX + 1];
    char toolexec[ORCS_MSG_ADDRESS_MAX + 1];
    uint64_t runs_done, runs_failed;
} s_agent_t;

// Keys of the pending map are correlation ids stored in the pointer.
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

static void s_fail_run(s_agent_t *self,
                       s_run_t *run,
                       orcs_status status,
                       const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

// ---------------------------------------------------------------------------
// Definitions

static void
s_def_destroy(s_def_t **def_p)
{
    s_def_t *def = *def_p;
    if (!def)
        return;
    for (size_t i = 0; i < def->sub_count; i++)
        s_def_destroy(&def->subs[i]);
    free(def->subs);
    json_decref(def->tools);
    json_decref(def->openai);
    json_decref(def->doc);
    free(def);
    *def_p = NULL;
}

// Makes a definition of doc (consumed), loading sub-agents from files.
static orcs_status
s_def_new(json_t *doc, int depth, s_def_t **def_p, char *err, size_t err_size)
{
    s_def_t *def = orcs_calloc(1, sizeof *def);
    def->doc = doc;
    def->name = json_string_value(json_object_get(doc, "agent"));
    orcs_tool_wire_name(def->name, def->wire);
    json_t *subs = json_object_get(doc, "subagents");
    def->subs = orcs_calloc(json_array_size(subs) + 1, sizeof *def->subs);
    for (size_t i = 0; i < json_array_size(subs); i++) {
        const char *path = json_string_value(json_array_get(subs, i));
        if (depth >= S_DEPTH_MAX) {
            snprintf(err, err_size, "%s: sub-agents nest deeper than %d", path,
                     S_DEPTH_MAX);
            s_def_destroy(&def);
            return ORCS_EINVAL;
        }
        json_t *sub_doc = NULL;
        orcs_status rc = orcs_agent_load(path, &sub_doc, err, err_size);
        if (rc == ORCS_OK)
            rc = s_def_new(sub_doc, depth + 1, &def->subs[def->sub_count], err,
                           err_size);
        if (rc != ORCS_OK) {
            s_def_destroy(&def);
            return rc;
        }
        def->sub_count++;
    }
    *def_p = def;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Runs

static void
s_publish(s_agent_t *self, s_run_t *run, const char *event, json_t *body)
{
    char topic[ORCS_MSG_TOPIC_MAX + 1];
    snprintf(topic, sizeof topic, "run.%s.%s", run->id, event);
    json_object_set_new(body, "agent", json_string(run->def->name));
    json_object_set_new(body, "session", json_string(run->session));
    orcs_actor_publish(self->actor, topic, &body);
}

static json_t *
s_usage(const s_run_t *run)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", run->prompt_tokens,
                     "completion_tokens", run->completion_tokens,
                     "cached_tokens", run->cached_tokens);
}

static void
s_run_free(s_agent_t *self, s_run_t *run)
{
    if (run->prev)
        run->prev->next = run->next;
    else
        self->runs = run->next;
    if (run->next)
        run->next->prev = run->prev;
    orcs_msg_destroy(&run->request);
    json_decref(run->history);
    json_decref(run->tools);
    json_decref(run->openai);
    json_decref(run->calls);
    json_decref(run->results);
    free(run);
}

// Tells the model actor to drop the session; frees the run when no ask
// of it is in flight.
static void
s_run_release(s_agent_t *self, s_run_t *run)
{
    run->finished = true;
    if (run->opened) {
        orcs_msg_t *close = orcs_msg_new("model.close");
        json_t *body = json_pack("{s:s}", "session", run->session);
        orcs_msg_set_body(close, &body);
        if (orcs_actor_send(self->actor, self->model, &close) != ORCS_OK)
            orcs_msg_destroy(&close);
        run->opened = false;
    }
    if (run->asks == 0)
        s_run_free(self, run);
}

static void s_sub_done(s_agent_t *self,
                       s_run_t *sub,
                       bool ok,
                       const json_t *output,
                       const char *error);

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
    self->runs_failed++;
    s_publish(self, run, "agent.error",
              json_pack("{s:s, s:s, s:i}", "error", error, "status",
                        orcs_status_name(status), "steps", run->step));
    if (run->parent)
        s_sub_done(self, run, false, NULL, error);
    else if (run->request) {
        orcs_msg_t *reply = orcs_msg_new("agent.run");
        orcs_msg_set_status(reply, status);
        orcs_msg_set_run_id(reply, run->id);
        json_t *body = json_pack("{s:s, s:s, s:i, s:o, s:f}", "error", error,
                                 "run", run->id, "steps", run->step, "usage",
                                 s_usage(run), "cost", run->cost);
        orcs_msg_set_body(reply, &body);
        if (orcs_actor_reply(self->actor, run->request, &reply) != ORCS_OK)
            orcs_msg_destroy(&reply);
    }
    s_run_release(self, run);
}

static void
s_finish_run(s_agent_t *self, s_run_t *run, json_t *output)
{
    self->runs_done++;
    s_publish(self, run, "agent.output",
              json_pack("{s:O, s:i, s:o, s:f}", "output", output, "steps",
                        run->step, "usage", s_usage(run), "cost", run->cost));
    if (run->parent)
        s_sub_done(self, run, true, output, NULL);
    else if (run->request) {
        orcs_msg_t *reply = orcs_msg_new("agent.run");
        orcs_msg_set_run_id(reply, run->id);
        json_t *body = json_pack("{s:s, s:O, s:i, s:o, s:f}", "run", run->id,
                                 "output", output, "steps", run->step, "usage",
                                 s_usage(run), "cost", run->cost);
        orcs_msg_set_body(reply, &body);
        if (orcs_actor_reply(self->actor, run->request, &reply) != ORCS_OK)
            orcs_msg_destroy(&reply);
    }
    json_decref(output);
    s_run_release(self, run);
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

static s_run_t *
s_run_new(s_agent_t *self, s_def_t *def, const char *id, s_run_t *parent)
{
    s_run_t *run = orcs_calloc(1, sizeof *run);
    if (id && id[0])
        snprintf(run->id, sizeof run->id, "%s", id);
    else
        snprintf(run->id, sizeof run->id, "r-%" PRIx64 "%04" PRIx64,
                 (uint64_t) orcs_clock_wall_us(), self->next_session & 0xffff);
    snprintf(run->session, sizeof run->session, "%s/%" PRIu64,
             orcs_actor_name(self->actor), ++self->next_session);
    run->def = def;
    run->parent = parent;
    run->history = json_array();
    run->calls = json_array();
    run->results = json_array();
    run->max_steps =
        (int) json_integer_value(json_object_get(def->doc, "max_steps"));
    run->started_us = orcs_clock_mono_us();
    run->next = self->runs;
    if (self->runs)
        self->runs->prev = run;
    self->runs = run;
    return run;
}

static bool
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
        return false;
    }
    s_pending_t *pending = orcs_calloc(1, sizeof *pending);
    pending->run = run;
    pending->index = index;
    pending->is_model = is_model;
    zhashx_insert(self->pending, (void *) (uintptr_t) id, pending);
    run->asks++;
    return true;
}

// Sends the next model turn: append (consumed) holds the new messages.
static void
s_model_turn(s_agent_t *self, s_run_t *run, json_t *append)
{
    json_t *body =
        json_pack("{s:s, s:s, s:i, s:o}", "session", run->session, "run",
                  run->id, "step", run->step + 1, "append", append);
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

// Starts a run of def with input (borrowed).
static s_run_t *
s_start(s_agent_t *self,
        s_def_t *def,
        const char *id,
        const json_t *input,
        s_run_t *parent,
        size_t parent_index,
        orcs_msg_t **request_p)
{
    s_run_t *run = s_run_new(self, def, id, parent);
    run->parent_index = parent_index;
    if (request_p && orcs_msg_kind_of(*request_p) == ORCS_MSG_ASK) {
        run->request = *request_p;
        *request_p = NULL;
    }
    s_publish(self, run, "agent.started",
              json_pack("{s:O}", "input", (json_t *) input));
    char reason[512] = "";
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
    json_t *append = json_array();
    const char *instructions =
        json_string_value(json_object_get(def->doc, "instructions"));
    if (instructions && instructions[0])
        json_array_append_new(append, json_pack("{s:s, s:s}", "role", "system",
                                                "content", instructions));
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
    s_model_turn(self, run, append);
    return run;
}

// ---------------------------------------------------------------------------
// Tool calls

static void
s_tool_result(s_agent_t *self, s_run_t *run, size_t index, const char *content)
{
    json_t *call = json_array_get(run->calls, index);
    json_array_set_new(run->results, index,
                       json_pack("{s:s, s:O, s:s}", "role", "tool",
                                 "tool_call_id", json_object_get(call, "id"),
                                 "content", content));
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
            s_run_free(self, parent);
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
    json_t *subject =
        json_pack("{s:s, s:O}", "tool", name ? name : wire, "args", args);
    char reason[512] = "";
    orcs_guard_ctx_t ctx = {ORCS_GUARD_TOOL_CALL, run->def->name, run->id,
                            subject};
    bool pass = orcs__agent_guard(self->node, &ctx, reason, sizeof reason);
    json_decref(subject);
    if (!pass) {
        s_guard_reason(reason, sizeof reason);
        snprintf(text, sizeof text, "error: the call was blocked: %s", reason);
        json_decref(args);
        s_tool_result(self, run, index, text);
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
        s_start(self, run->def->subs[at], run->id, input, run, index, NULL);
        json_decref(args);
        return;
    }
    json_int_t timeout =
        json_integer_value(json_object_get(tool, "timeout_ms"));
    json_t *body =
        json_pack("{s:s, s:i, s:O, s:s, s:o, s:s}", "run", run->id, "step",
                  run->step, "call_id", json_object_get(call, "id"), "tool",
                  name, "args", args, "caller", orcs_actor_name(self->actor));
    s_ask(self, run, self->toolexec, "tool.call", body,
          timeout > INT_MAX ? INT_MAX : (int) timeout, false, index);
}

// A tool.call reply (or timeout) for call index.
static void
s_on_tool(s_agent_t *self, s_run_t *run, size_t index, orcs_msg_t *msg)
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
    s_publish(self, run, "agent.step",
              json_pack("{s:i, s:I, s:O, s:f}", "step", run->step, "tool_calls",
                        (json_int_t) json_array_size(calls), "usage",
                        usage ? usage : json_null(), "cost",
                        json_number_value(json_object_get(body, "cost"))));
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
// The actor

static void
s_on_run(s_agent_t *self, orcs_msg_t **msg_p)
{
    orcs_msg_t *msg = *msg_p;
    const json_t *body = NULL;
    if (orcs_msg_body(msg, &body) != ORCS_OK || !json_is_object(body)
        || !json_object_get(body, "input")) {
        orcs_msg_t *reply = orcs_msg_new("agent.run");
        orcs_msg_set_status(reply, ORCS_EINVAL);
        json_t *error =
            json_pack("{s:s}", "error", "agent.run needs {\"input\": ...}");
        orcs_msg_set_body(reply, &error);
        if (orcs_actor_reply(self->actor, msg, &reply) != ORCS_OK)
            orcs_msg_destroy(&reply);
        return;
    }
    const char *id = json_string_value(json_object_get(body, "run"));
    if (!id || !id[0])
        id = orcs_msg_run_id(msg);
    json_t *input = json_incref(json_object_get(body, "input"));
    char run_id[ORCS_MSG_RUN_ID_MAX + 1];
    snprintf(run_id, sizeof run_id, "%s", id ? id : "");
    s_start(self, self->def, run_id, input, NULL, 0, msg_p);
    json_decref(input);
}

static orcs_status
s_agent_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    orcs_node_t *node = orcs_actor_node(actor);
    char err[1024] = "";
    json_t *doc = NULL;
    orcs_status rc = ORCS_OK;
    const char *file = json_string_value(json_object_get(config, "file"));
    if (file) {
        char path[PATH_MAX];
        if (file[0] == '/')
            snprintf(path, sizeof path, "%s", file);
        else
            snprintf(path, sizeof path, "%s/%s", orcs__node_config_dir(node),
                     file);
        rc = orcs_agent_load(path, &doc, err, sizeof err);
    } else if (json_is_object(json_object_get(config, "agent"))) {
        char *text =
            orcs_doc_to_text(json_object_get(config, "agent"), JSON_COMPACT);
        rc = orcs_agent_parse(text, strlen(text), "<config>",
                              orcs__node_config_dir(node), &doc, err,
                              sizeof err);
        free(text);
    } else {
        rc = ORCS_ECONFIG;
        snprintf(err, sizeof err,
                 "an agent actor needs config {file: agent.yaml} or "
                 "{agent: {...}}");
    }
    s_def_t *def = NULL;
    if (rc == ORCS_OK)
        rc = s_def_new(doc, 0, &def, err, sizeof err);
    if (rc != ORCS_OK) {
        orcs_log_error("agent", "%s: %s", orcs_actor_name(actor), err);
        orcs_actor_fail(actor, ORCS_ECONFIG, err);
        return ORCS_ECONFIG;
    }
    s_agent_t *self = orcs_calloc(1, sizeof *self);
    self->actor = actor;
    self->node = node;
    self->def = def;
    self->pending = zhashx_new();
    zhashx_set_key_destructor(self->pending, NULL);
    zhashx_set_key_duplicator(self->pending, NULL);
    zhashx_set_key_comparator(self->pending, s_key_compare);
    zhashx_set_key_hasher(self->pending, s_key_hash);
    zhashx_set_destructor(self->pending, s_free_item);
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
        void *key = (void *) (uintptr_t) orcs_msg_correlation_id(msg);
        s_pending_t *pending = zhashx_lookup(self->pending, key);
        if (!pending)
            return ORCS_OK; // a late reply
        s_run_t *run = pending->run;
        size_t index = pending->index;
        bool is_model = pending->is_model;
        zhashx_delete(self->pending, key);
        run->asks--;
        if (run->finished) {
            if (run->asks == 0)
                s_run_free(self, run);
            return ORCS_OK;
        }
        if (is_model)
            s_on_model(self, run, msg);
        else
            s_on_tool(self, run, index, msg);
        return ORCS_OK;
    }
    if ((kind == ORCS_MSG_ASK || kind == ORCS_MSG_SEND)
        && strcmp(orcs_msg_type(msg), "agent.run") == 0) {
        s_on_run(self, msg_p);
        return ORCS_OK;
    }
    if (kind == ORCS_MSG_ASK
        && strcmp(orcs_msg_type(msg), "agent.stats") == 0) {
        size_t runs = 0;
        for (s_run_t *run = self->runs; run; run = run->next)
            runs += !run->finished;
        orcs_msg_t *reply = orcs_msg_new("agent.stats");
        json_t *body =
            json_pack("{s:s, s:I, s:I, s:I}", "agent", self->def->name, "runs",
                      (json_int_t) runs, "done", (json_int_t) self->runs_done,
                      "failed", (json_int_t) self->runs_failed);
        orcs_msg_set_body(reply, &body);
        if (orcs_actor_reply(actor, msg, &reply) != ORCS_OK)
            orcs_msg_destroy(&reply);
    }
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
    while (self->runs) {
        s_run_t *run = self->runs;
        if (!run->finished && run->request) {
            orcs_msg_t *reply = orcs_msg_new("agent.run");
            orcs_msg_set_status(reply, ORCS_ESHUTDOWN);
            json_t *body = json_pack("{s:s, s:s}", "error", "the agent stopped",
                                     "run", run->id);
            orcs_msg_set_body(reply, &body);
            if (orcs_actor_reply(self->actor, run->request, &reply) != ORCS_OK)
                orcs_msg_destroy(&reply);
        }
        s_run_free(self, run);
    }
    zhashx_destroy(&self->pending);
    s_def_destroy(&self->def);
    free(self);
}

const orcs_actor_def_t orcs__agent_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "agent",
    .init = s_agent_init,
    .receive = s_agent_receive,
    .terminate = s_agent_terminate,
};
