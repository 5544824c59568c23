/*  orcs/agent.h — agents: definitions, guardrails, and the `agent` actor.
    SPDX-License-Identifier: MPL-2.0

    An agent is a YAML file (FORMATS.md "Agent", schema in
    config/schemas/agent.schema.json) run by an `agent` actor: the loop
    model -> tool calls in parallel -> model ... until a final answer or
    max_steps. docs/agents.md describes the messages. Guardrails are C
    callbacks registered on the node that see every run's input, every
    tool call and every final output, and may block them with a reason. */
#ifndef ORCS_AGENT_H_INCLUDED
#define ORCS_AGENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "orcs/node.h"
#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_AGENT_FILE_MAX (1u << 20) // bytes of one agent file

// Where a guardrail is called.
typedef enum {
    ORCS_GUARD_INPUT = 1,     // subject: the run's input
    ORCS_GUARD_TOOL_CALL = 2, // subject: {"tool", "args"}
    ORCS_GUARD_OUTPUT = 3     // subject: the final output
} orcs_guard_point;

// What a guardrail sees. Borrowed for the call.
typedef struct {
    orcs_guard_point point;
    const char *agent;     // agent name
    const char *run;       // run id
    const json_t *subject; // see orcs_guard_point
} orcs_guard_ctx_t;

// A guardrail. Runs on the agent actor's thread (must be quick and
// thread-safe: several agents may call it at once). Returns true to let
// the subject pass, false to block it with a reason written into reason.
// A blocked input or output fails the run with ORCS_EDENIED; a blocked
// tool call is not made and the model is told why.
typedef bool(orcs_guardrail_fn)(const orcs_guard_ctx_t *ctx,
                                void *arg,
                                char *reason,
                                size_t reason_size);

// Registers a guardrail on the node under name (copied). Guardrails run
// in registration order; the first that blocks wins. Returns ORCS_OK or
// ORCS_EEXIST when name is taken.
ORCS_EXPORT orcs_status orcs_agent_guardrail_add(orcs_node_t *node,
                                                 const char *name,
                                                 orcs_guardrail_fn *fn,
                                                 void *arg);

// Loads and checks an agent file. Sets *agent_p (caller owns) to the
// document with defaults filled in and paths of sub-agents made absolute.
// On error writes "file:line: what is wrong" into err. Returns ORCS_OK,
// ORCS_ENOTFOUND, ORCS_EIO, ORCS_EINVAL, ORCS_ETOOBIG.
ORCS_EXPORT orcs_status orcs_agent_load(const char *path,
                                        json_t **agent_p,
                                        char *err,
                                        size_t err_size);

// As orcs_agent_load, from text (size bytes; filename for messages and
// base_dir for relative paths, both may be NULL).
ORCS_EXPORT orcs_status orcs_agent_parse(const char *text,
                                         size_t size,
                                         const char *filename,
                                         const char *base_dir,
                                         json_t **agent_p,
                                         char *err,
                                         size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
