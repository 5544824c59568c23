/*  tool_plugin.c — a tool plug-in for test_tools: `plugin.echo` returns its
    arguments with the caller added; `plugin.bad_abi` has a wrong ABI.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>

#include "orcs/tools.h"

#define S_EXPORT __attribute__((visibility("default")))

static orcs_status
s_echo(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t size)
{
    (void) err;
    (void) size;
    json_t *result = json_deep_copy(ctx->args);
    json_object_set_new(result, "tool", json_string(ctx->tool));
    *result_p = result;
    return ORCS_OK;
}

static const orcs_tool_entry_t s_entries[] = {
    {ORCS_TOOL_ABI, "plugin.echo", s_echo},
    {ORCS_TOOL_ABI + 1, "plugin.bad_abi", s_echo},
    {0, NULL, NULL},
};

S_EXPORT const orcs_tool_entry_t *orcs_tool_plugin(void);

S_EXPORT const orcs_tool_entry_t *
orcs_tool_plugin(void)
{
    return s_entries;
}
