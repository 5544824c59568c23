/*  fuzz_agent_parse.c — libFuzzer target for orcs_agent_parse (agent
    files).
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>

#include "orcs/agent.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *agent = NULL;
    char err[256];
    err[0] = '\0';
    orcs_status rc = orcs_agent_parse((const char *) data, size, "fuzz.yaml",
                                      "/base", &agent, err, sizeof err);
    if ((rc == ORCS_OK) != (agent != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (rc != ORCS_OK && err[0] == '\0')
        __builtin_trap(); // contract: every error says why
    if (agent
        && (!json_is_string(json_object_get(agent, "agent"))
            || !json_is_integer(json_object_get(agent, "max_steps"))
            || !json_is_array(json_object_get(agent, "tools"))))
        __builtin_trap(); // contract: defaults are filled in
    json_decref(agent);
    return 0;
}
