/*  actors/orchestrator/orch_internal.h — what the orchestrator's files
    share (docs/workflows.md).
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_ORCH_INTERNAL_H_INCLUDED
#define ORCS_ORCH_INTERNAL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>
#include <jansson.h>

#include "orcs/actor.h"
#include "orcs/doc.h"
#include "orcs/record.h"
#include "orcs/store.h"
#include "orcs/workflow.h"
#include "runtime/write_queue.h"

#define O_TASK_ID_MAX  63u  // TaskRecord.id holds 64 bytes
#define O_DETAIL_MAX   511u // TaskRecord.detail holds 512 bytes
#define O_ERR_MAX      1024u
#define O_ASK_MS       (24 * 3600 * 1000) // calls without a timeout
#define O_APPROVAL_MAX 64u                // approvals kept per run

// What a checkpoint records (CheckpointRecord.event). Never renumbered.
typedef enum {
    O_EV_RUN = 1,            // the run's status changed
    O_EV_READY = 2,          // a task became ready (or was routed to)
    O_EV_STARTED = 3,        // a task's attempt was dispatched
    O_EV_COMPLETED = 4,      // a task completed
    O_EV_FAILED = 5,         // a task failed for good
    O_EV_RETRY = 6,          // a task failed and waits for its retry
    O_EV_SKIPPED = 7,        // a task was skipped
    O_EV_APPROVAL = 8,       // an approval was requested
    O_EV_DECIDED = 9,        // an approval was decided
    O_EV_INDETERMINATE = 10, // in flight at a crash, not idempotent
    O_EV_CANCELED = 11,      // a task was cancelled
    O_EV_INTERRUPT = 12,     // new input was sent to a task
    O_EV_PLAN = 13           // a plan was made (or re-made)
} o_event;

typedef struct o_run_t o_run_t;
typedef struct o_state_t o_state_t;
typedef struct o_task_t o_task_t;

// One unit of work: a top-level node, an item of a map, a round of a loop.
struct o_task_t {
    char id[O_TASK_ID_MAX + 1];
    o_run_t *run;
    const orcs_wf_node_t *node; // what it runs (a body for items/rounds)
    int index;                  // top-level: node index; else item/round
    o_task_t *parent;           // the map or loop of an item or round
    orcs_record_status status;
    uint32_t attempt;
    int64_t created_us, started_us, finished_us;
    json_t *output; // completed: its output
    orcs_status error;
    char *detail; // why it failed or was routed (NULL = none; see
                  // o_task_detail)
    // scheduling
    int unmet; // needs not finished yet
    int completed_needs;
    int skipped_needs;
    bool chosen;        // a route chose it (routed nodes)
    bool ready;         // in the ready queue
    bool pending_retry; // waiting for its backoff timer
    json_t *error_ctx;  // `error` for a node an on_error routed to
    // in flight
    uint64_t ask_id;   // correlation id of the call, 0 = none
    uint64_t timer_id; // backoff, attempt timeout or approval timeout
    char approval[24]; // pending approval id ("" = none)
    bool approved;     // its tool's approval was given
    bool clarifying;   // its agent asked a question
    char *question;    // ... this one (NULL = none)
    // map and loop
    json_t *items;       // map: the list
    o_task_t **children; // map items / loop rounds (by index)
    size_t children_count;
    size_t next_child; // map: next item to start
    size_t running_children;
    size_t done_children;
};

// A workflow run held in memory.
struct o_run_t {
    char id[ORCS_MSG_RUN_ID_MAX + 1];
    orcs_workflow_t *wf;
    json_t *inputs;
    json_t *ctx; // template context: inputs, nodes.<id>.{output,status}
    json_t *def; // what is stored under RUN\0d
    orcs_record_status status;
    orcs_status error;
    char detail[O_DETAIL_MAX + 1];
    int64_t created_us, updated_us, finished_us;
    uint64_t seq;     // last checkpoint
    uint32_t attempt; // 1 + resumes
    bool durable;
    bool auto_approve;
    o_task_t *tasks;  // one per top-level node
    o_task_t **ready; // ready queue (FIFO)
    size_t ready_head, ready_count, ready_size;
    int running;       // tasks dispatched (or waiting on a human)
    int active;        // ready + running + retrying + waiting tasks
    json_t *approvals; // id -> approval document
    zhashx_t *held;    // approval id -> zlist of approval.request asks
    json_t *output;
    json_int_t prompt_tokens, completion_tokens, requests;
    double cost;
    uint64_t deadline_timer;
    zlist_t *waiters; // run.wait asks (orcs_reply_to_t *)
    // the planner
    json_t *plan;      // {request, planner, roles, attempts, replans,
                       // only}, NULL for plain workflows
    int plan_rounds;   // planner asks made for the current plan
    int replans;       // re-plans done
    uint64_t plan_ask; // planner call in flight
    char plan_error[O_ERR_MAX];
    // durability: changes of the current round go to `batch` and their
    // effects to `effects`; they run once the batch is durable. One write
    // per run is in flight at a time.
    orcs_batch_t *batch;
    zlist_t *effects;    // o_effect_t *, this round
    zlist_t *committing; // effects of the write in flight
    bool writing;
    bool finished;     // final status reached and recorded
    bool released;     // finished and idle: may be freed
    bool record_dirty; // the RunRecord must be written this round
    bool watched;      // someone subscribes to run.<id>. (this round)
    uint64_t watch_round;
    o_state_t *owner;
    o_run_t *next, *prev;
};

// What waits for a write to be durable.
typedef enum {
    O_FX_DISPATCH, // start the task's call
    O_FX_REPLY,    // answer an ask
    O_FX_PUBLISH,  // publish an event
    O_FX_CANCEL,   // cancel the task's call
    O_FX_WAITERS   // answer run.wait asks if the run is settled
} o_fx_kind;

typedef struct {
    o_fx_kind kind;
    o_task_t *task;
    orcs_msg_t *request; // REPLY: the ask (owned)
    orcs_status status;  // REPLY
    json_t *body;        // REPLY, PUBLISH (owned)
    char topic[64];      // PUBLISH: the event name after run.<id>.
} o_effect_t;

// What an ask in flight is for.
typedef enum { O_CALL_TASK, O_CALL_PLAN } o_call_kind;

typedef struct {
    o_call_kind kind;
    char run[ORCS_MSG_RUN_ID_MAX + 1];
    o_task_t *task; // valid while the run lives (entries die with it)
    uint32_t attempt;
} o_call_t;

// A timer's purpose.
typedef enum {
    O_TIMER_RETRY,
    O_TIMER_TIMEOUT,
    O_TIMER_APPROVAL,
    O_TIMER_DEADLINE
} o_timer_kind;

typedef struct {
    o_timer_kind kind;
    char run[ORCS_MSG_RUN_ID_MAX + 1];
    o_task_t *task;
    uint32_t attempt;
} o_timer_t;

struct o_state_t {
    orcs_actor_t *actor;
    orcs_node_t *node;
    orcs_store_t *store;
    orcs__wq_t *wq;
    zhashx_t *runs;   // id -> o_run_t (runs held in memory)
    o_run_t *list;    // the same, linked
    zhashx_t *calls;  // correlation id -> o_call_t
    zhashx_t *timers; // timer id -> o_timer_t
    uint64_t next_write;
    size_t finished_held;                    // released runs still in memory
    size_t finished_tasks;                   // ... and their tasks
    size_t keep_tasks;                       // limits.finished_tasks
    zhashx_t *writes;                        // write id -> run id (char *)
    char agents[ORCS_MSG_ADDRESS_MAX + 1];   // agent actor
    char model[ORCS_MSG_ADDRESS_MAX + 1];    // model actor
    char toolexec[ORCS_MSG_ADDRESS_MAX + 1]; // toolexec actor
    uint64_t started, completed, failed, resumed, bad_requests;
    uint64_t round;     // messages and timers handled (o_watched)
    zhashx_t *wf_cache; // compiled workflows (compile.c)
    uint64_t cache_tick, cache_hits, cache_misses;
};

// ---- compile.c

// Loads the workflow file path, or builds one from doc (dir: where its
// relative paths resolve; NULL = the current directory), as
// orcs_workflow_load and orcs_workflow_from_doc do, reusing a compiled
// workflow of the same file (path and bytes) or document (orcs_doc_hash,
// and dir) when the cache has one. Caller owns one
// reference to *wf_p (orcs_workflow_destroy).
orcs_status o_compile(o_state_t *self,
                      const char *path,
                      const json_t *doc,
                      const char *dir,
                      orcs_workflow_t **wf_p,
                      json_t **errors_p);
// The cached workflow of the document whose orcs_doc_hash is hash (with
// dir), with one more reference for the caller, or NULL (then o_compile).
orcs_workflow_t *o_compile_cached_doc(o_state_t *self,
                                      const uint8_t hash[ORCS_DOC_HASH_SIZE],
                                      const char *dir);
// Frees the cache (the workflows runs hold stay theirs).
void o_compile_cache_free(o_state_t *self);

// ---- run.c

// snprintf that may truncate (ids, details) without the compiler's
// truncation warnings.
int o_fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Copies text into buf of size bytes, cutting it to fit, always
// terminated: o_fmt(buf, size, "%s", text) without the formatting (a
// durable step fills a dozen record fields this way).
void o_copy(char *buf, size_t size, const char *text);

// Sets a task's detail (at most O_DETAIL_MAX bytes; "" clears it).
void o_task_set_detail(o_task_t *task, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// A task's detail, "" when it has none.
const char *o_task_detail(const o_task_t *task);

bool o_final(orcs_record_status status);
const char *o_task_status_name(orcs_record_status status);
const char *o_run_status_name(orcs_record_status status);
// Initialises a new task of run that runs node, as pending (no id yet).
void o_task_init(o_run_t *run, o_task_t *task, const orcs_wf_node_t *node);
// Creates run state for a loaded workflow (tasks, ctx). Takes wf.
o_run_t *o_run_new(o_state_t *self,
                   const char *id,
                   orcs_workflow_t *wf,
                   json_t *inputs,
                   json_t *def);
void o_run_free(o_state_t *self, o_run_t *run);
// Swaps in a new workflow (a re-plan), keeping tasks with the same ids.
void o_run_replace_wf(o_state_t *self, o_run_t *run, orcs_workflow_t *wf);
o_task_t *o_task_find(o_run_t *run, const char *id);
void o_run_set_status(o_state_t *self, o_run_t *run, orcs_record_status st);
void o_task_set(o_state_t *self,
                o_task_t *task,
                orcs_record_status status,
                o_event event);
// The run's view (docs/workflows.md) as a MessagePack map in a new
// malloc'd buffer the caller frees.
void o_run_view_encode(o_run_t *run, uint8_t **data_p, size_t *size_p);
// A reply of type holding the run's view, with status OK. Caller owns it.
orcs_msg_t *o_run_view_reply(o_run_t *run, const char *type);

// ---- approval.c

// Records a new approval (no task state changes: an agent's tool call).
json_t *o_approval_new(o_state_t *self,
                       o_run_t *run,
                       o_task_t *task,
                       const char *id,
                       const char *kind,
                       const char *prompt);
// Answers the approval.request asks held for a decided approval.
void o_answer_held(o_state_t *self, o_run_t *run, const json_t *approval);
// Keeps an approval.request ask until its approval is decided (answers at
// once when it already is).
void o_approval_hold(o_state_t *self,
                     o_run_t *run,
                     const json_t *approval,
                     const orcs_msg_t *request);
// Parks task on a new approval of kind "node", "tool" or
// "indeterminate" (decided at once with auto_approve).
void o_ask_human(o_state_t *self,
                 o_task_t *task,
                 const char *kind,
                 const char *prompt);
// Applies a decided (or timed out) approval to its task.
void o_apply_decision(o_state_t *self, o_task_t *task, json_t *approval);
// Decide an approval: approve or reject (reason, by may be NULL).
orcs_status o_approval_decide(o_state_t *self,
                              o_run_t *run,
                              const char *id,
                              bool approve,
                              const char *reason,
                              const char *by);

// ---- engine.c

void o_task_make_ready(o_state_t *self, o_task_t *task);
void o_task_skip(o_state_t *self, o_task_t *task);
// A map item or loop round finished: the parent goes on or completes.
void o_child_done(o_state_t *self, o_task_t *parent, o_task_t *child);
// The task finished with output (taken): its parent or dependents go on.
void o_complete(o_state_t *self, o_task_t *task, json_t *output);
// The task failed for good: its route, a re-plan, or the run fails.
void o_failed(o_state_t *self, o_task_t *task);
// A task's call ended.
void o_task_done(o_state_t *self,
                 o_task_t *task,
                 orcs_status status,
                 json_t *output,
                 const char *detail);
// Starts a new run: every root becomes ready.
void o_run_begin(o_state_t *self, o_run_t *run);
// Recounts needs from the tasks' statuses and makes ready what can run (a
// resumed run, a re-plan).
void o_run_restart(o_state_t *self, o_run_t *run);
// Starts what is ready, finishes the run when nothing is left.
void o_run_advance(o_state_t *self, o_run_t *run);
// The run reaches a final status (cancels what runs).
void o_run_finish(o_state_t *self,
                  o_run_t *run,
                  orcs_record_status status,
                  orcs_status error,
                  const char *detail);
void o_timer_fired(o_state_t *self, o_timer_t *timer);

// ---- planner.c

// The planner: ask for (another) plan.
void o_plan_ask(o_state_t *self, o_run_t *run);
// The planner answered (or its call failed).
void o_plan_reply(o_state_t *self, o_run_t *run, orcs_msg_t *msg);
// A task failed for good and the run has a planner with re-plans left:
// returns true when a re-plan was started.
bool o_plan_replan(o_state_t *self, o_run_t *run, o_task_t *failed);

// ---- dispatch.c

// Sends the task's call (agent, prompt, tool, http).
void o_dispatch(o_state_t *self, o_task_t *task);
// Cancels the task's call in flight.
void o_cancel_call(o_state_t *self, o_task_t *task);
// A reply (or timeout) to one of our asks.
void o_on_reply(o_state_t *self, orcs_msg_t *msg);
// ---- persist.c

// Record changes (added to the run's current batch when durable).
void o_put_run(o_state_t *self, o_run_t *run);
void o_put_task(o_state_t *self, o_task_t *task);
void o_put_output(o_state_t *self, o_task_t *task);
void o_put_def(o_state_t *self, o_run_t *run);
void o_put_approval(o_state_t *self, o_run_t *run, const json_t *approval);
void o_put_result(o_state_t *self, o_run_t *run);
void o_checkpoint(o_state_t *self,
                  o_run_t *run,
                  o_event event,
                  const o_task_t *task,
                  orcs_record_status status,
                  const char *detail);
// Queue an effect for after the current round is durable.
void o_effect(o_run_t *run, o_fx_kind kind, o_task_t *task);
void o_effect_reply(o_run_t *run,
                    const orcs_msg_t *request,
                    orcs_status status,
                    json_t *body);
// As o_effect_reply, taking the request (*request_p set to NULL).
void o_effect_reply_take(o_run_t *run,
                         orcs_msg_t **request_p,
                         orcs_status status,
                         json_t *body);
void o_effect_publish(o_run_t *run, const char *event, json_t *body);
// Whether anyone subscribes to the run's events (checked once a round).
bool o_watched(o_run_t *run);
// Ends a round: write the batch (or run the effects at once when not
// durable or nothing changed).
void o_flush(o_state_t *self, o_run_t *run);
// The write queue's callback.
void o_written(void *state, uint64_t id, orcs_status status);
// Loads and resumes every unfinished run in the store.
void o_resume_all(o_state_t *self);
// Frees a finished run from memory when nothing of it is pending.
void o_maybe_release(o_state_t *self, o_run_t *run);

// ---- orchestrator.c

// Replies to an ask now (errors carry {"error": text}).
void o_reply(o_state_t *self,
             const orcs_msg_t *request,
             orcs_status status,
             json_t *body);
o_run_t *o_run_get(o_state_t *self, const char *id);
// Sends an ask and remembers what it is for.
orcs_status o_ask(o_state_t *self,
                  const char *to,
                  const char *type,
                  json_t *body,
                  const char *run,
                  int timeout_ms,
                  o_call_kind kind,
                  o_task_t *task);
uint64_t o_timer(o_state_t *self,
                 o_timer_kind kind,
                 o_run_t *run,
                 o_task_t *task,
                 int64_t delay_ms);
void o_timer_cancel(o_state_t *self, uint64_t *timer_id);

#endif
