/*  tools_internal.h — what the files of tools/ share: the schema checker
    with a path for line lookups, manifest checking with the parsed YAML
    kept, the built-in tools and the BM25 index.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_TOOLS_INTERNAL_H_INCLUDED
#define ORCS_TOOLS_INTERNAL_H_INCLUDED

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "orcs/schema.h"
#include "orcs/tools.h"
#include "orcs/yaml.h"

// ---- schema.c

// orcs_schema_check, but the path of the bad node goes to path (in
// orcs_yaml_line's syntax, relative to the schema: "properties.a.type",
// "" for the schema itself) and the message without a path to msg.
orcs_status orcs__schema_check_at(const json_t *schema,
                                  char *path,
                                  size_t path_size,
                                  char *msg,
                                  size_t msg_size);

// ---- schema_pattern.c

// Compiles a schema's pattern (a JSON string) into re with REG_EXTENDED |
// REG_NOSUB after checking it is tame (see schema_pattern.c); on failure
// writes why into msg and returns false (re is then not to be freed).
bool orcs__schema_pattern_compile(const json_t *pattern,
                                  regex_t *re,
                                  char *msg,
                                  size_t msg_size);

// ---- manifest.c

// Parses and checks a manifest as orcs_tool_manifest_parse does, and also
// hands back the parsed YAML (for the lines of later messages) in *yaml_p
// (caller owns; destroy with orcs_yaml_destroy()). On error both are NULL.
orcs_status orcs__tool_manifest_parse(const char *text,
                                      size_t size,
                                      const char *filename,
                                      json_t **manifest_p,
                                      orcs_yaml_t **yaml_p,
                                      char *err,
                                      size_t err_size);

// Checks a C tool's manifest (kind "c" implied, no kind section) and fills
// its defaults in (doc is modified). Messages are "path: what". Returns
// ORCS_OK or ORCS_EINVAL.
orcs_status
orcs__tool_manifest_check_c(json_t *doc, char *err, size_t err_size);

// Describes a value for a message: strings quoted (cut at 40 bytes),
// numbers and booleans as written, else "an object"/"an array". Returns
// buf or a static string.
const char *orcs__json_describe(char *buf, size_t buf_size, const json_t *v);

// ---- builtins.c, builtin_memory.c

typedef struct {
    const char *name;        // registry name
    const char *description; // for models
    const char *schema;      // input schema, JSON text
    bool idempotent;         // safe to retry
    orcs_tool_fn *fn;        // NULL when toolexec runs it
} orcs__builtin_t;

// The built-ins, in name order; *count_p gets their number.
const orcs__builtin_t *orcs__tool_builtins(size_t *count_p);

// The built-in named name, or NULL.
const orcs__builtin_t *orcs__tool_builtin_find(const char *name);

orcs_status orcs__tool_memory_get(const orcs_tool_ctx_t *ctx,
                                  json_t **result_p,
                                  char *err,
                                  size_t err_size);
orcs_status orcs__tool_memory_put(const orcs_tool_ctx_t *ctx,
                                  json_t **result_p,
                                  char *err,
                                  size_t err_size);
orcs_status orcs__tool_memory_list(const orcs_tool_ctx_t *ctx,
                                   json_t **result_p,
                                   char *err,
                                   size_t err_size);

// ---- bm25.c

#define ORCS_BM25_K1 1.2
#define ORCS_BM25_B  0.75

typedef struct orcs__bm25_t orcs__bm25_t;

// An empty index for ndocs documents. Destroy with orcs__bm25_destroy().
orcs__bm25_t *orcs__bm25_new(size_t ndocs);
void orcs__bm25_destroy(orcs__bm25_t **self_p);

// Adds the tokens of text to document doc (< ndocs). Before finish only.
void orcs__bm25_add(orcs__bm25_t *self, size_t doc, const char *text);

// Builds the inverted index; after this the index is read-only and may be
// queried from any number of threads.
void orcs__bm25_finish(orcs__bm25_t *self);

// Scores every document for query into scores (ndocs entries).
void
orcs__bm25_score(const orcs__bm25_t *self, const char *query, double *scores);

// Splits text into lowercased tokens (at non-alphanumerics and at a lower
// case letter followed by an upper case one) and calls fn for each, except
// one-letter tokens and common English stop words.
void orcs__bm25_tokenize(const char *text,
                         void (*fn)(const char *token, size_t len, void *arg),
                         void *arg);

// ---- registry.c, toolset.c

// A dlopen handle shared by the tool sets whose tools came from it; the
// last unref closes it.
typedef struct orcs__plugin_t orcs__plugin_t;
orcs__plugin_t *orcs__plugin_ref(orcs__plugin_t *plugin);
void orcs__plugin_unref(orcs__plugin_t **plugin_p);

// Where a tool of a set comes from: a checked manifest (defaults filled
// in) plus what a build needs besides it.
typedef struct {
    json_t *manifest;       // owned by whoever holds the source
    char *file;             // manifest path; NULL for C tools
    int line;               // line of its `tool` key (0 for C tools)
    orcs_tool_fn *fn;       // C tools and plug-ins; else NULL
    void *fn_arg;           // C tools: handed to fn
    orcs__plugin_t *plugin; // plug-ins: a counted handle; else NULL
} orcs__tool_source_t;

// Builds a set (reference count 1, generation 0) from the built-ins, the
// C tools and the manifests, in that order; a manifest that collides with
// a tool already in (by name or wire name) is left out with a message
// added to errors (may be NULL). Sources are borrowed (copied).
orcs_toolset_t *orcs__toolset_build(const orcs__tool_source_t *ctools,
                                    size_t nctools,
                                    const orcs__tool_source_t *files,
                                    size_t nfiles,
                                    json_t *errors);

void orcs__toolset_set_generation(orcs_toolset_t *set, uint64_t generation);

// Takes one more reference to set.
orcs_toolset_t *orcs__toolset_ref(orcs_toolset_t *set);

#endif
