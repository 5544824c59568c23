/*  actors/model/model_fake.c — the fake provider: in process, no HTTP, no
    JSON text. The first `turns` turns answer one call of the tool (id
    "call_<k>", k from 0, arguments "{}"); every later turn answers "done".
    Used by the agent-step benchmark, so it builds the few small objects
    of the answer and nothing else.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>

#include "actors/model/model_internal.h"

void
orcs__model_fake_message(const orcs__model_provider_t *provider,
                         size_t turn,
                         json_t **message_p,
                         const char **finish_p)
{
    json_t *message = json_object();
    json_object_set_new_nocheck(message, "role",
                                json_string_nocheck("assistant"));
    if (turn >= (size_t) provider->fake_turns) {
        json_object_set_new_nocheck(message, "content",
                                    json_string_nocheck("done"));
        *message_p = message;
        *finish_p = "stop";
        return;
    }
    char id[32];
    snprintf(id, sizeof id, "call_%zu", turn);
    json_t *function = json_object();
    json_object_set_new_nocheck(function, "name",
                                json_string_nocheck(provider->fake_tool));
    json_object_set_new_nocheck(function, "arguments",
                                json_string_nocheck("{}"));
    json_t *call = json_object();
    json_object_set_new_nocheck(call, "id", json_string_nocheck(id));
    json_object_set_new_nocheck(call, "type", json_string_nocheck("function"));
    json_object_set_new_nocheck(call, "function", function);
    json_object_set_new_nocheck(message, "content", json_null());
    json_object_set_new_nocheck(message, "tool_calls", json_pack("[o]", call));
    *message_p = message;
    *finish_p = "tool_calls";
}
