/*  orcs/runs.h — workflow runs as the store keeps them: keys of the
    layout, views built from the records, and the changes `orcs approve` and
    `orcs runs cancel|pause|resume` make while no node runs.
    SPDX-License-Identifier: MPL-2.0

    The layout is that of docs/workflows.md "Durable runs": `runs` holds
    one RunRecord per run id; `tasks` holds under RUN\0d the run's
    definition, RUN\0t\0TASK its TaskRecords, RUN\0o\0TASK their outputs,
    RUN\0a\0APPROVAL its approvals and RUN\0r its result (MessagePack).
    Everything here reads a snapshot of the store; the changes are
    compare-and-set batches, so they fail with ORCS_EEXIST rather than
    overwrite a change made at the same time. While a node runs the run,
    ask its orchestrator instead: the node holds the run in memory and
    would not see (and may overwrite) a change made beneath it. */
#ifndef ORCS_RUNS_H_INCLUDED
#define ORCS_RUNS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "orcs/record.h"
#include "orcs/status.h"
#include "orcs/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_RUNS_ID_MAX 63u // longest run id (RunRecord.id holds 64 bytes)

// The parts of a run's keys in the `tasks` database.
#define ORCS_RUNS_PART_DEF      'd' // RUN\0d: {workflow, dir, inputs, ...}
#define ORCS_RUNS_PART_TASK     't' // RUN\0t\0TASK: TaskRecord
#define ORCS_RUNS_PART_OUTPUT   'o' // RUN\0t\0TASK\0o: a task's output
#define ORCS_RUNS_PART_APPROVAL 'a' // RUN\0a\0ID: an approval
#define ORCS_RUNS_PART_RESULT   'r' // RUN\0r: {output, error, usage}
// RUN\0t\0TASK\0c SEQ (a task's transition) or RUN\0c SEQ (the run's own):
// a CheckpointRecord, SEQ 8 bytes big-endian, numbered per run
#define ORCS_RUNS_PART_CHECKPOINT 'c'

// Writes the key of checkpoint seq of a run into buf and returns its size,
// or 0 when it does not fit: RUN \0 t \0 TASK \0 c SEQ for a transition
// of task_id (beside the task's record, so a step dirties one B-tree leaf
// for its record, output and checkpoint), RUN \0 c SEQ for the run's own
// (task_id NULL or ""). SEQ is 8 bytes big-endian. Stores written before
// this layout keep their checkpoints in `checkpoints` under RUN \0 SEQ.
ORCS_EXPORT size_t orcs_runs_checkpoint_key(char *buf,
                                            size_t size,
                                            const char *run_id,
                                            const char *task_id,
                                            uint64_t seq);

// The sequence number at the end of a checkpoint key (its last 8 bytes,
// big-endian), in either layout; 0 for a key under 8 bytes.
ORCS_EXPORT uint64_t orcs_runs_checkpoint_seq(const void *key, size_t key_size);

// Writes the key RUN \0 part [\0 name] (name NULL for the parts without
// one) into buf and returns its size, or 0 when it does not fit in size
// bytes (or is over ORCS_STORE_KEY_MAX). An output's key is RUN \0 t \0
// TASK \0 o: beside its task's record, so the step that completes a task
// dirties one B-tree leaf for both (stores written before this layout
// have RUN \0 o \0 TASK, which orcs_runs_key_split still reads).
ORCS_EXPORT size_t orcs_runs_key(
    char *buf, size_t size, const char *run_id, char part, const char *name);

// Splits a key of a run's records in `tasks`, whose first prefix bytes are
// RUN \0: sets *part_p (ORCS_RUNS_PART_OUTPUT for an output, in either
// layout; ORCS_RUNS_PART_CHECKPOINT for a checkpoint, its task in *name_p
// or NULL for the run's own), *name_p (in key, not terminated; NULL for
// the parts without a name) and *name_size_p. Returns ORCS_OK; ORCS_ENOTFOUND
// for a key that is not of the layout (no part, no \0 after it); ORCS_EPROTO
// for a name holding a \0 (a damaged key).
ORCS_EXPORT orcs_status orcs_runs_key_split(const void *key,
                                            size_t key_size,
                                            size_t prefix,
                                            char *part_p,
                                            const char **name_p,
                                            size_t *name_size_p);

// The name of a status in views and events (docs/workflows.md). Runs:
// PENDING "queued", RUNNING "running", PAUSED "paused", WAITING
// "waiting_approval", SUCCEEDED "completed", FAILED "failed", CANCELED
// "cancelled". Tasks: PENDING "pending", RUNNING "running", WAITING
// "waiting", SUCCEEDED "completed", FAILED "failed", CANCELED "cancelled",
// SKIPPED "skipped", INDETERMINATE "indeterminate". Returns NULL for a
// status that has no name for its kind (UNSET, a task PAUSED, a run
// SKIPPED...). Borrowed: a static string.
ORCS_EXPORT const char *orcs_runs_status_name(orcs_record_status status,
                                              bool is_run);

// The reverse of orcs_runs_status_name: sets *status_p and returns
// ORCS_OK, or ORCS_EINVAL (and *status_p UNSET) for a name that is not
// one of its kind.
ORCS_EXPORT orcs_status orcs_runs_status_parse(const char *name,
                                               bool is_run,
                                               orcs_record_status *status_p);

// True for the statuses a run or task never leaves: SUCCEEDED, FAILED,
// CANCELED, SKIPPED.
ORCS_EXPORT bool orcs_runs_status_is_final(orcs_record_status status);

// Builds the view of a run from the store (docs/workflows.md, as run.get
// answers it): {"id", "workflow", "status", "nodes": {ID: {"status",
// "kind", "attempts", "started_us", "finished_us", "error", "items"?:
// {"total", "done"}}}, "approvals": [...], "output", "error", "usage":
// {"prompt_tokens", "completion_tokens", "requests", "cost"},
// "created_us", "updated_us", "finished_us", "attempt", "node"}. Nodes
// come from the stored workflow, in file order (a node without a record
// is "pending"); map items and loop rounds count into their node's
// "items" (total: the items that have a record). "output" is set only
// for a completed run. Caller owns *view_p; destroy with json_decref().
// Returns ORCS_OK; ORCS_EINVAL for an empty or too long run id;
// ORCS_ENOTFOUND when there is no such run; ORCS_EPROTO when one of its
// records or documents is damaged (the log says which); ORCS_EAGAIN or
// ORCS_EIO from the store. On error *view_p is NULL.
ORCS_EXPORT orcs_status orcs_runs_view(orcs_store_t *store,
                                       const char *run_id,
                                       json_t **view_p);

// Lists the runs of the store, newest (created_us) first: {"runs": [{"id",
// "workflow", "status", "created_us", "updated_us"}], "damaged": N} with
// only those in status (a run status name; NULL = all), at most limit (0 =
// all). Runs whose record is damaged are left out and counted in
// "damaged". Caller owns *list_p; destroy with json_decref(). Returns
// ORCS_OK; ORCS_EINVAL for an unknown status name; ORCS_EAGAIN or
// ORCS_EIO from the store. On error *list_p is NULL.
ORCS_EXPORT orcs_status orcs_runs_list(orcs_store_t *store,
                                       const char *status,
                                       size_t limit,
                                       json_t **list_p);

// Writes a decision into an approval document: "state" "approved" or
// "rejected", "by" (NULL = "cli"), "reason" (NULL = "") and "decided_us"
// (now). The orchestrator and orcs_runs_decide both use it.
ORCS_EXPORT void orcs_runs_approval_mark(json_t *approval,
                                         bool approve,
                                         const char *by,
                                         const char *reason);

// Decides a pending approval of a run in the store: its document becomes
// state "approved" or "rejected", with "by" (NULL = "cli"), "reason"
// (NULL = "") and "decided_us". The next node to start on the store
// applies the decision when it resumes the run. Blocks until the change
// is durable. Returns ORCS_OK; ORCS_EINVAL for a bad run or approval id;
// ORCS_ENOTFOUND when the run or the approval does not exist; ORCS_EEXIST
// when the approval is no longer pending (decided, timed out, cancelled);
// ORCS_EPROTO when the approval document is damaged; the statuses of
// orcs_store_write.
ORCS_EXPORT orcs_status orcs_runs_decide(orcs_store_t *store,
                                         const char *run_id,
                                         const char *approval_id,
                                         bool approve,
                                         const char *reason,
                                         const char *by);

// Changes a run's status in the store, as run.cancel, run.pause and
// run.resume do on a node: to CANCELED (the run finishes with
// ORCS_ECANCELED "cancelled on request"; its unfinished tasks are
// cancelled and its pending approvals become "cancelled"), PAUSED (a node
// that starts keeps it paused) or RUNNING (a node that starts goes on with
// it). Appends a checkpoint (event 1, run status). Setting the status the
// run already has changes nothing. Blocks until the change is durable.
// Returns ORCS_OK; ORCS_EINVAL for a bad run id, a status other than
// those three, or a run in a final status; ORCS_ENOTFOUND; ORCS_EPROTO
// when the run record is damaged; ORCS_EEXIST when the run changed
// meanwhile (again and again); the statuses of orcs_store_write.
ORCS_EXPORT orcs_status orcs_runs_set_status(orcs_store_t *store,
                                             const char *run_id,
                                             orcs_record_status status);

#ifdef __cplusplus
}
#endif
#endif
