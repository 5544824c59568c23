/*  flow_internal.h — what the workflow loader's files share: the error
    collector, paths in messages, node parsing and the checks.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_FLOW_INTERNAL_H_INCLUDED
#define ORCS_FLOW_INTERNAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <stdatomic.h>

#include "orcs/workflow.h"
#include "orcs/yaml.h"

#define ORCS__WF_PATH_MAX   512 // bytes of a path in a message
#define ORCS__WF_ERRORS_MAX 100 // messages kept; then one "more errors"

// A workflow with what only the loader needs. `pub` comes first so a
// pointer to it is a pointer to the whole.
typedef struct {
    orcs_workflow_t pub; // what the header shows
    json_t *index;       // node id -> index (integer)
    atomic_int refs;     // orcs_workflow_ref / orcs_workflow_destroy
} orcs__wf_t;

// Where messages go while a workflow is loaded.
typedef struct {
    const orcs_yaml_t *yaml; // lines; NULL for a document (JSON paths)
    const char *file;        // the file name in messages
    json_t *errors;          // the messages (array of strings)
    const char *dir;         // absolute directory for relative paths
} orcs__wf_ctx_t;

// Appends "FILE:LINE: PATH: what" (or "$.PATH: what" without YAML) to the
// errors; at_key points the line at the key rather than the value. Stops
// at ORCS__WF_ERRORS_MAX with one last "too many errors" message.
void orcs__wf_error(orcs__wf_ctx_t *ctx,
                    const char *path,
                    bool at_key,
                    const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

// True when nothing more should be checked (the error cap was reached).
bool orcs__wf_full(const orcs__wf_ctx_t *ctx);

// Writes parent.key into buf (key escaped as orcs_yaml_line wants: '.',
// '[' and '\' get a '\'); parent may be NULL or "". Returns buf.
char *
orcs__wf_path(char *buf, size_t size, const char *parent, const char *key);

// Writes parent[index] into buf. Returns buf.
char *orcs__wf_item(char *buf, size_t size, const char *parent, size_t index);

// Writes base followed by the JSON path json_path ("$.args.url",
// "$[0]", "$[\"a.b\"]") in orcs_yaml_line's syntax into buf. Returns the
// bytes of json_path read (it stops at the first byte not part of a path).
size_t orcs__wf_json_path(char *buf,
                          size_t size,
                          const char *base,
                          const char *json_path);

// True for [A-Za-z0-9_-]{1,max}.
bool orcs__wf_is_id(const char *s, size_t max);

// ---- flow_node.c

// Checks one node's document (spec, at path "nodes.ID"), fills its
// defaults in and sets *node (its id and kind already set; kind is
// ORCS_WF_KIND_COUNT when missing or unknown). Routes and needs are node
// indexes of w. Errors go to ctx.
void orcs__wf_node_parse(orcs__wf_ctx_t *ctx,
                         orcs__wf_t *w,
                         orcs_wf_node_t *node,
                         json_t *spec,
                         const char *path);

// Releases what a node holds (not the node itself).
void orcs__wf_node_clear(orcs_wf_node_t *node);

// The key holding the template in node->input for a kind ("input",
// "prompt", "args", "output"), "" for http (built from the node's keys),
// NULL when the kind has none.
const char *orcs__wf_input_key(orcs_wf_kind kind);

// ---- flow_check.c

// Checks the graph (cycles; unreachable nodes when reach) and every
// expression (roots, node references, upstream data, static types). Errors
// go to ctx.
void orcs__wf_check(orcs__wf_ctx_t *ctx, orcs__wf_t *w, bool reach);

#endif
