/*  actors/agent/agent_internal.h — shared by the agent actor's files.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_ACTORS_AGENT_INTERNAL_H_INCLUDED
#define ORCS_ACTORS_AGENT_INTERNAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "orcs/actor.h"
#include "orcs/agent.h"

// Runs the node's guardrails on ctx. Returns true when all let it pass;
// else false with the first blocking reason in reason.
bool orcs__agent_guard(orcs_node_t *node,
                       const orcs_guard_ctx_t *ctx,
                       char *reason,
                       size_t reason_size);

// The `agent` actor kind.
extern const orcs_actor_def_t orcs__agent_def;

#endif
