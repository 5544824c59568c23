/*  orcs/workflow.h — workflow files: loading, validation, the compiled
    graph the orchestrator runs, and compiling a planner's task list.
    SPDX-License-Identifier: MPL-2.0

    A workflow file (FORMATS.md, docs/workflows.md, schema in
    config/schemas/workflow.schema.json) is YAML or JSON. Loading checks
    everything that can be checked before a run: unknown keys, bad values,
    unknown node, agent or field references, cycles, unreachable nodes,
    templates and conditions that do not parse, and type mismatches seen
    statically (a map over a string input, len() of a number...). It
    reports every error, each as "FILE:LINE: what is wrong".

    The compiled workflow is immutable after loading and may be shared
    between threads; the orchestrator keeps one per run. Its `doc` is the
    normalised document (relative paths made absolute, defaults filled
    in): storing it with a run lets the run resume after a restart with
    the same graph even when the file changed. */
#ifndef ORCS_WORKFLOW_H_INCLUDED
#define ORCS_WORKFLOW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/expr.h"
#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_WF_NODES_MAX 1000000u // nodes in one workflow
#define ORCS_WF_ID_MAX    63u      // longest node id ([A-Za-z0-9_-])

typedef enum {
    ORCS_WF_AGENT = 0, // run an agent file with an input
    ORCS_WF_PROMPT,    // one model call with a templated prompt
    ORCS_WF_TOOL,      // one tool call through toolexec
    ORCS_WF_HTTP,      // one HTTP request (the http.request tool)
    ORCS_WF_BRANCH,    // route on conditions to one of its targets
    ORCS_WF_JOIN,      // wait for all (or any) of its needs
    ORCS_WF_MAP,       // run `do` over each item of a list
    ORCS_WF_LOOP,      // run `do` until a condition or a limit
    ORCS_WF_APPROVAL,  // wait for a human
    ORCS_WF_END,       // finish the run with an output
    ORCS_WF_KIND_COUNT
} orcs_wf_kind;

// Route targets besides a node index.
#define ORCS_WF_ROUTE_FAIL (-1) // fail the run (the default on_error)
#define ORCS_WF_ROUTE_NONE (-2) // not set

// What to do with a node found in flight after a crash when it is not
// idempotent (`on_indeterminate`).
typedef enum {
    ORCS_WF_INDET_ASK = 0, // park the run with an approval: approve = retry,
                           // reject = fail the node (default)
    ORCS_WF_INDET_RETRY,   // run it again (same idempotency key)
    ORCS_WF_INDET_FAIL     // fail the node (its on_error route applies)
} orcs_wf_indet;

typedef struct orcs_wf_case_t {
    orcs_expr_t *when; // condition
    int to;            // node index
} orcs_wf_case_t;

typedef struct orcs_wf_node_t orcs_wf_node_t;
struct orcs_wf_node_t {
    const char *id;     // node id (for a `do` body: "<parent>.do")
    orcs_wf_kind kind;  // kind
    int line;           // line of the node in its file (0 when unknown)
    const json_t *spec; // the node's normalised document (borrowed from doc)

    // graph (top-level nodes only; indexes into orcs_workflow_t.nodes)
    int *needs; // nodes that must finish first
    size_t needs_count;
    int *dependents; // nodes that list this one in needs
    size_t dependents_count;
    bool routed; // starts only when a branch, on_error or on_timeout
                 // routes to it (besides its needs)
    bool read;   // a template or condition names nodes.<id> (top-level
                 // nodes; see also orcs_workflow_t.reads_any_node)

    // policy (every kind that does work: agent, prompt, tool, http, map
    // and loop bodies)
    int retries;         // extra attempts after a failure (default 0)
    int backoff_ms;      // first retry delay, doubled per attempt, with
                         // full jitter (default 1000)
    int backoff_max_ms;  // cap of the delay (default 60000)
    int timeout_ms;      // per attempt; 0 = none (default 0)
    int on_error;        // node index, ORCS_WF_ROUTE_FAIL (default)
    bool idempotent;     // may be run again after a crash with the same
                         // key: tool nodes take the manifest's value when
                         // the file does not say (resolved at run time,
                         // see idempotent_set), http nodes true for GET,
                         // HEAD, PUT, DELETE, OPTIONS; prompt and agent
                         // nodes true
    bool idempotent_set; // the file said `idempotent:`
    orcs_wf_indet on_indeterminate;

    // what to do, by kind (NULL or 0 when not used)
    const char *agent;       // agent: absolute path of the agent file
    const char *tool;        // tool: tool name; http: "http.request"
    orcs_template_t *input;  // agent: `input`; prompt: `prompt`; tool:
                             // `args`; http: {method, url, headers,
                             // body}; approval: `prompt`; end: `output`
                             // (never NULL for these kinds: a missing
                             // output renders null)
    orcs_template_t *system; // prompt: `system` (may be NULL)
    orcs_template_t *thread; // agent: `thread` (conversation id)
    const char *model;       // prompt: provider name (NULL = default)
    bool json_output;        // prompt: parse the answer as JSON
    orcs_template_t *over;   // map: the list
    int concurrency;         // map: items at once (default 4)
    orcs_wf_node_t *body;    // map, loop: the `do` node (owned)
    orcs_expr_t *until;      // loop: stop when true (after a round);
                             // NULL: run max_iterations rounds
    int max_iterations;      // loop: limit (default 10)
    orcs_wf_case_t *cases;   // branch
    size_t cases_count;
    int default_to;              // branch: node index or ORCS_WF_ROUTE_NONE
                                 // (no case true and no default: the
                                 // branch fails)
    bool any;                    // join: `wait: any`
    int64_t approval_timeout_ms; // approval: `timeout_s` * 1000; 0 = none
    int on_timeout;              // approval: node index, or
                                 // ORCS_WF_ROUTE_FAIL (default)
};

typedef struct orcs_workflow_t {
    const char *name;      // `workflow:`
    const char *file;      // path it was loaded from ("<doc>" otherwise)
    const char *dir;       // directory relative paths were resolved in
    json_t *doc;           // the normalised document (owned)
    const json_t *inputs;  // `inputs` declarations (borrowed from doc)
    orcs_wf_node_t *nodes; // in file order
    size_t count;
    int concurrency;      // nodes running at once per run (default 64)
    int64_t deadline_ms;  // per run; 0 = none
    const json_t *budget; // {max_tokens, max_cost, max_requests} or NULL
    bool durable;         // false: run state is kept in memory only
                          // (`durable: false`; for tests and benchmarks)
    bool reads_any_node;  // a template or condition reads `nodes` as a
                          // whole or by a computed id: every node's
                          // output and status may be read
} orcs_workflow_t;

// Loads and validates a workflow file. On any error appends "FILE:LINE:
// what" strings to *errors_p (a new array the caller owns when not NULL;
// set even on success, then empty) and returns ORCS_ECONFIG (ORCS_EIO when
// the file cannot be read, ORCS_EPROTO when it is not YAML, ORCS_ETOOBIG
// over ORCS_YAML_MAX_SIZE) with *wf_p NULL. Messages are sorted by line;
// after 100 comes one "too many errors". Caller owns *wf_p; destroy with
// orcs_workflow_destroy().
ORCS_EXPORT orcs_status orcs_workflow_load(const char *path,
                                           orcs_workflow_t **wf_p,
                                           json_t **errors_p);

// Same from text already read; filename is used in messages, dir resolves
// relative paths (NULL = the current directory).
ORCS_EXPORT orcs_status orcs_workflow_parse(const char *text,
                                            size_t size,
                                            const char *filename,
                                            const char *dir,
                                            orcs_workflow_t **wf_p,
                                            json_t **errors_p);

// Same from a document (a normalised `doc` kept with a run, or one built
// by orcs_plan_compile); lines are then 0 and messages name JSON paths.
ORCS_EXPORT orcs_status orcs_workflow_from_doc(const json_t *doc,
                                               const char *dir,
                                               orcs_workflow_t **wf_p,
                                               json_t **errors_p);

// Drops a reference to a workflow and frees it with the last one; safe
// with *self_p NULL; sets it to NULL. A loaded workflow has one reference.
ORCS_EXPORT void orcs_workflow_destroy(orcs_workflow_t **self_p);

// Takes one more reference to a workflow (a loaded workflow is immutable:
// many runs may share it) and returns it. Each reference is dropped with
// orcs_workflow_destroy(). Safe from any thread.
ORCS_EXPORT orcs_workflow_t *orcs_workflow_ref(orcs_workflow_t *self);

// Returns the index of node id, or -1.
ORCS_EXPORT int orcs_workflow_find(const orcs_workflow_t *self, const char *id);

// Returns the kind's name ("agent", ...), or NULL.
ORCS_EXPORT const char *orcs_wf_kind_name(orcs_wf_kind kind);

// Checks run inputs against the declarations and fills defaults: returns a
// new object in *inputs_p (caller owns) or ORCS_EINVAL with "input NAME:
// what" in err (missing required input, wrong type, undeclared input).
ORCS_EXPORT orcs_status orcs_workflow_inputs(const orcs_workflow_t *self,
                                             const json_t *given,
                                             json_t **inputs_p,
                                             char *err,
                                             size_t err_size);

// ---- plans

// Compiles a planner's plan into a workflow document.
// plan: {"tasks": [{"id", "title", "description", "role", "needs": [ids],
// "needs_approval"?: bool}], "output"?: task id}. roles: {"ROLE": "path of
// an agent file", ...} (absolute paths). Each task becomes an agent node
// whose input is its title and description followed by the outputs of the
// tasks it needs; a task with needs_approval gets an approval node before
// it; an end node collects the output task's output (or every sink's).
// keep (may be NULL): nodes of an earlier plan to keep as they are
// (completed tasks when re-planning), an object id -> node document;
// new tasks may need them. name is the workflow's name.
// On error writes every problem (unknown role, unknown or duplicate task
// id, a cycle, a missing field) into err as lines a planner can read and
// returns ORCS_EINVAL. Caller owns *doc_p.
ORCS_EXPORT orcs_status orcs_plan_compile(const json_t *plan,
                                          const json_t *roles,
                                          const json_t *keep,
                                          const char *name,
                                          json_t **doc_p,
                                          char *err,
                                          size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
