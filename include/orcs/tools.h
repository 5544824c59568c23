/*  orcs/tools.h — the tool registry: manifests, built-ins, C tools.
    SPDX-License-Identifier: MPL-2.0

    A registry holds the tools agents may call. It is loaded from
    directories of manifest files (`*.tool.yaml`, `*.tool.yml`,
    `*.tool.json`; FORMATS.md "Tool manifest", schema in
    config/schemas/tool.schema.json) plus the built-ins (memory.get,
    memory.put, memory.list, http.request, exec) and C tools registered by
    the embedding program. A load builds a new immutable tool set and swaps
    it in atomically: calls in flight keep the set they started with (a
    counted reference), new calls see the new one. A bad manifest is
    refused with "file:line: what is wrong" and the others still load.

    Tool names are [A-Za-z0-9_.-]{1,64}; the name sent to a model (its wire
    name) replaces every '.' with '_' (`memory.get` -> `memory_get`), since
    OpenAI function names may not contain dots; two tools whose wire names
    collide are refused at load.

    A registry may be used from any number of threads at once. */
#ifndef ORCS_TOOLS_H_INCLUDED
#define ORCS_TOOLS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/memory.h"
#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_TOOL_NAME_MAX     64u        // longest tool name
#define ORCS_TOOL_MANIFEST_MAX (1u << 20) // bytes of one manifest file
#define ORCS_TOOL_ABI          1u         // bump when orcs_tool_entry_t changes

typedef struct orcs_tools_t orcs_tools_t;
typedef struct orcs_toolset_t orcs_toolset_t;

// What a C tool gets for one call. Everything is borrowed for the call.
typedef struct {
    const json_t *args;          // arguments, already validated
    const char *tool;            // registry name
    const char *run;             // run id ("" outside a run)
    const char *caller;          // calling agent's actor name (for ACLs)
    const char *idempotency_key; // "run/step/call": same on every retry
    orcs_memory_t *memory;       // the node's memory scopes (may be NULL)
    void *arg;                   // as given to orcs_tools_register
} orcs_tool_ctx_t;

// A C tool. Runs on the toolexec actor's thread: it must be quick (slow
// work belongs in an exec or http tool). Sets *result_p (owned by the
// caller; NULL = null) and returns ORCS_OK, or returns an error with a
// message in err (err_size bytes) that the model is shown.
typedef orcs_status(orcs_tool_fn)(const orcs_tool_ctx_t *ctx,
                                  json_t **result_p,
                                  char *err,
                                  size_t err_size);

// One tool of a plug-in .so. A plug-in exports
//   ORCS_PLUGIN_EXPORT const orcs_tool_entry_t *orcs_tool_plugin(void);
// returning an array ended by an entry whose name is NULL. A manifest of
// kind plugin (`plugin: path/to/lib.so`) takes the entry whose name is the
// manifest's `tool`, or the only entry when there is one.
typedef struct {
    unsigned abi;     // ORCS_TOOL_ABI
    const char *name; // NULL ends the array
    orcs_tool_fn *fn;
} orcs_tool_entry_t;
#define ORCS_TOOL_PLUGIN_SYMBOL "orcs_tool_plugin"
typedef const orcs_tool_entry_t *(orcs_tool_plugin_fn) (void);

// A tool as the registry holds it. Read-only; valid while the tool set
// that returned it is held.
typedef struct {
    const char *name;            // registry name ("memory.get")
    const char *wire_name;       // name for models ("memory_get")
    const char *description;     // "" when none
    const char *kind;            // builtin | exec | http | mcp | plugin | c
    const json_t *input_schema;  // never NULL ({"type":"object"} default)
    const json_t *output_schema; // NULL when none
    const json_t *manifest;      // the whole manifest document
    const char *file;            // manifest path, NULL for built-ins
    int timeout_ms;              // per attempt (default 30000)
    int retries;                 // extra attempts, only if idempotent
    bool idempotent;             // safe to retry with the same key
    bool needs_approval;         // a human must approve each call
    int64_t cache_ttl_s;         // result cache lifetime; 0 = no cache
    orcs_tool_fn *fn;            // C tools, plug-ins and memory.*; else NULL
    void *fn_arg;                // handed to fn as ctx->arg
} orcs_tool_t;

// Creates a registry holding only the built-ins. Caller owns the result;
// destroy with orcs_tools_destroy().
ORCS_EXPORT orcs_tools_t *orcs_tools_new(void);

// Destroys the registry; tool sets still held stay valid until released.
// Safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_tools_destroy(orcs_tools_t **self_p);

// Registers a C tool from a manifest document (as a manifest file, with
// kind "c" implied and no kind-specific section) and a function. It stays
// registered across loads. Returns ORCS_OK; ORCS_EINVAL for a bad
// manifest (message in err); ORCS_EEXIST when the name or wire name is
// taken.
ORCS_EXPORT orcs_status orcs_tools_register(orcs_tools_t *self,
                                            const json_t *manifest,
                                            orcs_tool_fn *fn,
                                            void *arg,
                                            char *err,
                                            size_t err_size);

// Loads every manifest in the directories dirs (a JSON array of paths;
// relative paths are taken from base_dir, which may be NULL for the
// current directory), builds a new tool set with the built-ins and the
// registered C tools, and swaps it in. Bad manifests and unreadable
// directories are skipped; each adds "file:line: what is wrong" to
// *errors_p (a new array, owned by the caller; may be NULL when not
// wanted). Returns ORCS_OK (also with errors) or ORCS_EINVAL when dirs is
// not an array of strings.
ORCS_EXPORT orcs_status orcs_tools_load(orcs_tools_t *self,
                                        const json_t *dirs,
                                        const char *base_dir,
                                        json_t **errors_p);

// Reloads from the directories of the last orcs_tools_load. Same results.
ORCS_EXPORT orcs_status orcs_tools_reload(orcs_tools_t *self,
                                          json_t **errors_p);

// Returns the current tool set with a reference the caller must release
// with orcs_toolset_release(). Never NULL.
ORCS_EXPORT orcs_toolset_t *orcs_tools_acquire(orcs_tools_t *self);

// Releases a reference; safe with *set_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_toolset_release(orcs_toolset_t **set_p);

// The set's generation: 1 for the first, +1 per load, reload or
// registration (each builds and swaps in a new set).
ORCS_EXPORT uint64_t orcs_toolset_generation(const orcs_toolset_t *set);

// Number of tools in the set, and the i-th in name order.
ORCS_EXPORT size_t orcs_toolset_count(const orcs_toolset_t *set);
ORCS_EXPORT const orcs_tool_t *orcs_toolset_at(const orcs_toolset_t *set,
                                               size_t i);

// Finds a tool by registry name or wire name; NULL when absent.
ORCS_EXPORT const orcs_tool_t *orcs_toolset_find(const orcs_toolset_t *set,
                                                 const char *name);

// Ranks the set's tools for query with BM25 over name, description and
// parameter names (names split at . _ - and case changes, lowercased;
// one-letter words and common English stop words are ignored).
// Sets *result_p to [{"name", "score"}] best first, at most k entries
// (k 0 = 10), only tools with a score above 0. Caller owns it. Returns
// ORCS_OK or ORCS_EINVAL for a NULL query.
ORCS_EXPORT orcs_status orcs_toolset_nearest(const orcs_toolset_t *set,
                                             const char *query,
                                             size_t k,
                                             json_t **result_p);

// The tool as an OpenAI chat-completions tool: {"type": "function",
// "function": {"name": wire name, "description", "parameters"}}. Caller
// owns the result.
ORCS_EXPORT json_t *orcs_tool_openai(const orcs_tool_t *tool);

// The tools as a JSON array for `orcs tools ls --json`: name, wire_name,
// kind, description, file, timeout_ms, retries, idempotent,
// needs_approval, cache_ttl_s. Caller owns the result.
ORCS_EXPORT json_t *orcs_toolset_describe(const orcs_toolset_t *set);

// Writes the wire name of name into out (ORCS_TOOL_NAME_MAX + 1 bytes).
ORCS_EXPORT void orcs_tool_wire_name(const char *name,
                                     char out[ORCS_TOOL_NAME_MAX + 1]);

// Parses one manifest (YAML or JSON text, size bytes; filename for
// messages) and checks it against the manifest format, including that its
// schemas pass orcs_schema_check. Sets *manifest_p (caller owns) on
// success, with defaults filled in (input_schema, timeout_ms, retries,
// idempotent, needs_approval, cache_ttl_s, exec.stdin "json", http.method
// "GET"; a `kind: builtin` manifest keeps only what it changes) and null
// values removed. On error writes "file:line: what is wrong" into err.
// Returns ORCS_OK, ORCS_EINVAL, ORCS_ETOOBIG (over ORCS_TOOL_MANIFEST_MAX).
ORCS_EXPORT orcs_status orcs_tool_manifest_parse(const char *text,
                                                 size_t size,
                                                 const char *filename,
                                                 json_t **manifest_p,
                                                 char *err,
                                                 size_t err_size);

// ---- the node's registry

typedef struct orcs_node_t orcs_node_t;

// The node's registry, created on first use from the node config's `tools`
// directories (relative to the config file's directory) and kept on the
// node (extension "tools"); it registers a reload hook "tools" so SIGHUP
// and `orcs tools reload` reload it. Load errors are logged. Borrowed:
// valid until the node is destroyed. Thread-safe.
ORCS_EXPORT orcs_tools_t *orcs_node_tools(orcs_node_t *node);

#ifdef __cplusplus
}
#endif

#endif
