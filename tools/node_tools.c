/*  tools/node_tools.c — the node's tool registry, made on first use.
    SPDX-License-Identifier: MPL-2.0 */
#include "orcs/log.h"
#include "orcs/node.h"
#include "orcs/tools.h"
#include "runtime/internal.h"

#define S_EXT "tools"

static void
s_destroy(void *object)
{
    orcs_tools_t *tools = object;
    orcs_tools_destroy(&tools);
}

static void
s_log_errors(const json_t *errors)
{
    for (size_t i = 0; i < json_array_size(errors); i++)
        orcs_log_warn("tools", "%s",
                      json_string_value(json_array_get(errors, i)));
}

static json_t *
s_reload(orcs_node_t *node, void *arg)
{
    (void) node;
    orcs_tools_t *tools = arg;
    json_t *errors = NULL;
    orcs_tools_reload(tools, &errors);
    s_log_errors(errors);
    orcs_toolset_t *set = orcs_tools_acquire(tools);
    json_t *report = json_pack("{s:I, s:I, s:o}", "generation",
                               (json_int_t) orcs_toolset_generation(set),
                               "tools", (json_int_t) orcs_toolset_count(set),
                               "errors", errors ? errors : json_array());
    orcs_toolset_release(&set);
    return report;
}

orcs_tools_t *
orcs_node_tools(orcs_node_t *node)
{
    orcs_tools_t *tools = orcs_node_ext(node, S_EXT);
    if (tools)
        return tools;
    tools = orcs_tools_new();
    const json_t *dirs = json_object_get(orcs__node_config(node), "tools");
    json_t *empty = json_array();
    json_t *errors = NULL;
    orcs_tools_load(tools, json_is_array(dirs) ? dirs : empty,
                    orcs__node_config_dir(node), &errors);
    json_decref(empty);
    if (orcs_node_ext_set(node, S_EXT, tools, s_destroy) != ORCS_OK) {
        orcs_tools_destroy(&tools); // another thread was first
        json_decref(errors);
        return orcs_node_ext(node, S_EXT);
    }
    s_log_errors(errors);
    json_decref(errors);
    orcs_node_on_reload(node, S_EXT, s_reload, tools);
    return tools;
}
