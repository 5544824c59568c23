/*  actors/agent/agent_internal.h — shared by the agent actor's files.
    SPDX-License-Identifier: MPL-2.0

    agent.c       the actor: requests (agent.run, agent.interrupt,
                  agent.cancel, agent.stats), replies, start and stop
    run.c         the loop of a run: model turns, tool calls, clarify
    definition.c  agent definitions and the actor's cache of agent files
    thread.c      conversation threads in the store
    agent_file.c  agent files: load and check
    guardrail.c   guardrails kept on the node */
#ifndef ORCS_ACTORS_AGENT_INTERNAL_H_INCLUDED
#define ORCS_ACTORS_AGENT_INTERNAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "orcs/actor.h"
#include "orcs/agent.h"
#include "orcs/tools.h"
#include "runtime/write_queue.h"

#define ORCS__AGENT_KEY_MAX    191u // longest run key
#define ORCS__AGENT_THREAD_MAX 128u // longest thread id
#define ORCS__AGENT_ERROR_MAX  1024u

typedef struct orcs__agent_definition_t orcs__agent_definition_t;
typedef struct orcs__agent_run_t orcs__agent_run_t;
typedef struct orcs__agent_t orcs__agent_t;

// One agent definition: the actor's own, one loaded by path, or a
// sub-agent's. Reference-counted (top-level ones): runs hold their root.
struct orcs__agent_definition_t {
    json_t *doc;                       // the checked agent document
    const char *name;                  // doc.agent
    orcs__agent_definition_t **subs;   // sub-agents
    size_t sub_count;                  // entries of subs
    char wire[ORCS_TOOL_NAME_MAX + 1]; // name offered as a tool
    uint64_t generation; // tool set the caches below were built from
    json_t *tools;       // cached run->tools (read-only, shared by runs)
    json_t *openai;      // cached run->openai (read-only, shared by runs)
    int refs;            // holders of a top-level definition
};

// A run in progress (or a sub-agent's child run).
struct orcs__agent_run_t {
    char id[ORCS_MSG_RUN_ID_MAX + 1];
    // The run's names, at most ORCS__AGENT_KEY_MAX (key, node),
    // ORCS_MSG_ADDRESS_MAX (from), ORCS__AGENT_THREAD_MAX (thread) bytes:
    // never NULL, all in one allocation (`names`) owned by the run. Ten
    // thousand runs in flight would otherwise carry 800 bytes each of
    // mostly empty arrays.
    char *key;     // unique in the actor ("" for a child)
    char *node;    // the request's "node", or ""
    char *from;    // who sent agent.run, or ""
    char *thread;  // conversation thread, or ""
    char *session; // the model session: actor/incarnation.seq
    char *names;   // the block the five point into
    orcs__agent_definition_t *def;
    orcs__agent_definition_t *root; // the top-level definition (a ref)
    orcs_reply_to_t *reply_to;      // who waits for agent.run (top-level runs)
    orcs__agent_run_t *parent;      // a sub-agent's parent run
    size_t parent_index;            // which of the parent's calls this answers
    json_t *history;                // every message of the conversation so far
    json_t *tools;       // wire name -> {"name", "timeout_ms"}, {"sub"}, or
                         // {"clarify": true}
    json_t *openai;      // the tools offered to the model
    json_t *calls;       // the current step's tool calls
    json_t *results;     // one tool message per call
    json_t *asking;      // indexes of clarify calls waiting for an answer
    json_t *queued;      // user messages for the next model turn
    json_t *output;      // the output while the thread is being written
    size_t outstanding;  // calls without a result yet
    size_t asks;         // asks (and thread writes) in flight for this run
    size_t thread_base;  // index in history of this run's first new message
    uint64_t thread_seq; // last seq of the thread as loaded (or written)
    uint64_t write_id;   // the thread write in flight, or 0
    int write_tries;     // thread writes tried
    int step;            // model turns so far
    int max_steps;
    bool clarify;  // the model is offered the clarify tool
    bool keyed;    // registered under key in the actor's map
    bool opened;   // the model actor has the session
    bool repaired; // the output schema repair round was used
    bool resynced; // this turn already resent a lost session
    bool finished; // answered; freed when asks reaches 0
    json_int_t prompt_tokens, completion_tokens, cached_tokens;
    double cost;
    int64_t started_us;
    orcs__agent_run_t *next; // all runs, a doubly linked list
    orcs__agent_run_t *prev;
};

// The actor's state.
struct orcs__agent_t {
    orcs_actor_t *actor;
    orcs_node_t *node;
    orcs__agent_definition_t *def; // this actor's agent, or NULL
    zhashx_t *files;               // agent file path -> cached definition
    zhashx_t *pending;             // correlation id -> what the ask is for
    zhashx_t *keys;                // run key -> orcs__agent_run_t (not owned)
    zhashx_t *writes;        // thread write id -> orcs__agent_run_t (not owned)
    orcs__wq_t *wq;          // thread write results (NULL until first used)
    orcs__agent_run_t *runs; // every run held
    uint64_t next_session;
    uint64_t next_write;
    char model[ORCS_MSG_ADDRESS_MAX + 1];
    char toolexec[ORCS_MSG_ADDRESS_MAX + 1];
    uint64_t runs_done, runs_failed, runs_cancelled;
    uint64_t interrupts, interrupts_unknown, cancels_unknown;
};

// ---- definition.c

// Makes a definition of doc (consumed), loading sub-agents from files;
// the result has one reference. Returns ORCS_OK or the load's error with
// a message in err.
orcs_status orcs__agent_definition_new(json_t *doc,
                                       int depth,
                                       orcs__agent_definition_t **def_p,
                                       char *err,
                                       size_t err_size);

orcs__agent_definition_t *
orcs__agent_definition_ref(orcs__agent_definition_t *def);

// Drops a reference; frees at zero. Safe with *def_p NULL; sets it NULL.
void orcs__agent_definition_unref(orcs__agent_definition_t **def_p);

// The definition of the agent file at path (absolute), from the cache
// unless the file's mtime changed or the node was reloaded. Borrowed (the
// cache holds it; take a reference to keep it). Returns ORCS_OK; else the
// status of orcs_agent_load with "file:line: ..." in err.
orcs_status orcs__agent_definition_get(orcs__agent_t *self,
                                       const char *path,
                                       orcs__agent_definition_t **def_p,
                                       char *err,
                                       size_t err_size);

// The cache of agent files (a zhashx_t owning its definitions).
zhashx_t *orcs__agent_files_new(void);

// ---- thread.c

// True when id is a thread id: [A-Za-z0-9_.:-]{1,128}.
bool orcs__agent_thread_id_is_valid(const char *id);

// Appends the thread's stored messages to run->history and sets
// run->thread_seq. Returns ORCS_OK; ORCS_ECONFIG without a store;
// ORCS_EPROTO for a damaged entry, ORCS_EAGAIN, ORCS_EIO (err says).
orcs_status orcs__agent_thread_load(orcs__agent_t *self,
                                    orcs__agent_run_t *run,
                                    char *err,
                                    size_t err_size);

// Starts the append of the run's new messages (history from
// run->thread_base) after run->thread_seq; orcs__agent_run_written is
// called when it is durable or failed. Returns ORCS_OK or an error (then
// nothing was started).
orcs_status orcs__agent_thread_append(orcs__agent_t *self,
                                      orcs__agent_run_t *run);

// ---- run.c

// Starts a run of def (top-level when parent is NULL) on input
// (borrowed). Keeps the reply address of *request_p when it is an ask (the
// message stays the caller's). Returns the run (it may
// already be finished: a refused input), or NULL when it failed at once.
typedef struct {
    const char *id;     // run id ("" or NULL: a new one)
    const char *key;    // top-level: unique key ("" = the run id)
    const char *node;   // the request's node, or NULL
    const char *from;   // the requester's address, or NULL
    const char *thread; // thread id, or NULL
    bool clarify;       // offer the clarify tool
} orcs__agent_start_t;

orcs__agent_run_t *orcs__agent_run_start(orcs__agent_t *self,
                                         orcs__agent_definition_t *def,
                                         const orcs__agent_start_t *opts,
                                         const json_t *input,
                                         orcs__agent_run_t *parent,
                                         size_t parent_index,
                                         orcs_msg_t **request_p);

// A reply (or timeout) of one of the actor's asks.
void orcs__agent_on_reply(orcs__agent_t *self, orcs_msg_t *msg);

// The thread write of run finished with status.
void orcs__agent_run_written(orcs__agent_t *self,
                             orcs__agent_run_t *run,
                             orcs_status status);

// agent.interrupt for run: answers a waiting clarify call, else queues a
// user message for the next model turn.
void orcs__agent_run_interrupt(orcs__agent_t *self,
                               orcs__agent_run_t *run,
                               const json_t *input);

// agent.cancel: answers the run ECANCELED now, with its sub-agent runs.
void orcs__agent_run_cancel(orcs__agent_t *self, orcs__agent_run_t *run);

// Frees a run (unlinks it, releases what it holds).
void orcs__agent_run_free(orcs__agent_t *self, orcs__agent_run_t *run);

// Frees the pending-ask entries (zhashx item destructor).
void orcs__agent_pending_free(void **item_p);

// ---- guardrail.c

// Runs the node's guardrails on ctx. Returns true when all let it pass;
// else false with the first blocking reason in reason.
bool orcs__agent_guard(orcs_node_t *node,
                       const orcs_guard_ctx_t *ctx,
                       char *reason,
                       size_t reason_size);

// Whether the node has any guardrail (so that a caller can skip building
// what it would show them).
bool orcs__agent_guarded(orcs_node_t *node);

// The `agent` actor kind.
extern const orcs_actor_def_t orcs__agent_def;

#endif
