/*  builtins.c — the tools every registry holds: memory.get, memory.put,
    memory.list (C functions in builtin_memory.c), http.request and exec
    (run by the toolexec actor).
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "tools/tools_internal.h"

#define S_SCOPE                                                               \
    "\"scope\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 127," \
    " \"pattern\": \"^(global|(workflow|task|agent|thread):.+)$\","           \
    " \"description\": \"Memory scope: global, workflow:ID, task:ID,"         \
    " agent:ID or thread:ID.\"}"
#define S_KEY                                                               \
    "\"key\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 250," \
    " \"description\": \"Key within the scope.\"}"
#define S_TIMEOUT                                                       \
    "\"timeout_ms\": {\"type\": \"integer\", \"minimum\": 1,"           \
    " \"maximum\": 86400000, \"description\": \"Time limit of the call" \
    " in milliseconds.\"}"

// In name order (orcs__tool_builtin_find and the registry rely on it).
static const orcs__builtin_t s_builtins[] = {
    {"exec",
     "Run a program with arguments (no shell) in a sandbox and return its "
     "exit code, stdout and stderr.",
     "{\"type\": \"object\", \"properties\": {"
     "\"command\": {\"type\": \"array\", \"minItems\": 1, \"items\":"
     " {\"type\": \"string\"}, \"description\": \"Program and its"
     " arguments, e.g. [\\\"ls\\\", \\\"-l\\\"].\"},"
     "\"stdin\": {\"type\": \"string\", \"description\": \"Text written to"
     " the program's standard input.\"}, " S_TIMEOUT "},"
     " \"required\": [\"command\"], \"additionalProperties\": false}",
     false, NULL},
    {"http.request",
     "Send an HTTP request and return the status, headers and body of the "
     "response.",
     "{\"type\": \"object\", \"properties\": {"
     "\"method\": {\"type\": \"string\", \"enum\": [\"GET\", \"POST\","
     " \"PUT\", \"PATCH\", \"DELETE\", \"HEAD\"], \"default\": \"GET\"},"
     "\"url\": {\"type\": \"string\", \"minLength\": 1, \"description\":"
     " \"Absolute http or https URL.\"},"
     "\"headers\": {\"type\": \"object\", \"additionalProperties\":"
     " {\"type\": \"string\"}, \"description\": \"Request headers.\"},"
     "\"body\": {\"type\": [\"string\", \"object\"], \"description\":"
     " \"Request body: text, or an object sent as JSON.\"}, " S_TIMEOUT "},"
     " \"required\": [\"url\"], \"additionalProperties\": false}",
     false, NULL},
    {"memory.get",
     "Read the current value of a key from agent memory, with its version.",
     "{\"type\": \"object\", \"properties\": {" S_SCOPE ", " S_KEY "},"
     " \"required\": [\"scope\", \"key\"], \"additionalProperties\": false}",
     true, orcs__tool_memory_get},
    {"memory.list",
     "List the keys of a memory scope (optionally those starting with a "
     "prefix), in key order, with versions and timestamps but no values.",
     "{\"type\": \"object\", \"properties\": {" S_SCOPE ","
     " \"prefix\": {\"type\": \"string\", \"maxLength\": 250,"
     " \"description\": \"Only keys starting with this.\"},"
     " \"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000,"
     " \"description\": \"Most keys returned (default 100).\"}},"
     " \"required\": [\"scope\"], \"additionalProperties\": false}",
     true, orcs__tool_memory_list},
    {"memory.put",
     "Store a JSON value under a key in agent memory; returns the new "
     "version. Optionally expires after ttl_s seconds.",
     "{\"type\": \"object\", \"properties\": {" S_SCOPE ", " S_KEY ","
     " \"value\": {\"description\": \"Any JSON value.\"},"
     " \"ttl_s\": {\"type\": \"integer\", \"minimum\": 0,"
     " \"maximum\": 1000000000000, \"description\": \"Seconds until the"
     " key expires; 0 or absent = never.\"}},"
     " \"required\": [\"scope\", \"key\", \"value\"],"
     " \"additionalProperties\": false}",
     false, orcs__tool_memory_put},
};

const orcs__builtin_t *
orcs__tool_builtins(size_t *count_p)
{
    *count_p = sizeof s_builtins / sizeof s_builtins[0];
    return s_builtins;
}

const orcs__builtin_t *
orcs__tool_builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof s_builtins / sizeof s_builtins[0]; i++)
        if (name && strcmp(s_builtins[i].name, name) == 0)
            return &s_builtins[i];
    return NULL;
}
