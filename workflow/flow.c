/*  flow.c — workflow files: loading, the top-level keys, the node table,
    and run inputs (docs/workflows.md; schema in
    config/schemas/workflow.schema.json).
    SPDX-License-Identifier: MPL-2.0

    Loading copies the document, checks it key by key and writes defaults
    and absolute paths into the copy (the normalised `doc`), so the copy
    loads again into the same graph without its file or directory. Nodes
    are parsed in flow_node.c and the graph and expressions are checked in
    flow_check.c; every error is collected, none stops the others. A null
    value counts as absent. */
#include "orcs/workflow.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orcs/sys.h"
#include "orcs/yaml.h"
#include "tools/tools_internal.h"
#include "workflow/flow_internal.h"

#define S_CONCURRENCY_MAX 100000
#define S_DEADLINE_S_MAX  (10LL * 366 * 24 * 3600) // ten years
#define S_TYPES           "string, number, integer, boolean, array, object"

static const char *const s_top_keys[] = {"workflow",    "description", "inputs",
                                         "concurrency", "deadline_s",  "budget",
                                         "durable",     "nodes",       NULL};
static const char *const s_input_keys[] = {"type", "default", "description",
                                           NULL};
static const char *const s_budget_keys[] = {"max_tokens", "max_cost",
                                            "max_requests", NULL};
static const char *const s_types[] = {"string", "number", "integer", "boolean",
                                      "array",  "object", NULL};
static const char *const s_kind_names[ORCS_WF_KIND_COUNT] = {
    "agent", "prompt", "tool", "http",     "branch",
    "join",  "map",    "loop", "approval", "end"};

// ---------------------------------------------------------------------------
// Messages and paths (shared with flow_node.c and flow_check.c)

bool
orcs__wf_full(const orcs__wf_ctx_t *ctx)
{
    return json_array_size(ctx->errors) > ORCS__WF_ERRORS_MAX;
}

void
orcs__wf_error(
    orcs__wf_ctx_t *ctx, const char *path, bool at_key, const char *fmt, ...)
{
    size_t count = json_array_size(ctx->errors);
    if (count > ORCS__WF_ERRORS_MAX)
        return;
    if (count == ORCS__WF_ERRORS_MAX) {
        json_array_append_new(ctx->errors,
                              json_string("too many errors; fix these first"));
        return;
    }
    char msg[1024];
    int n;
    if (ctx->yaml) {
        int line = at_key ? orcs_yaml_key_line(ctx->yaml, path)
                          : orcs_yaml_line(ctx->yaml, path);
        n = snprintf(msg, sizeof msg, "%s:%d: %s%s", ctx->file, line, path,
                     *path ? ": " : "");
    } else
        n = snprintf(msg, sizeof msg, "$%s%s: ", *path ? "." : "", path);
    if (n >= 0 && (size_t) n < sizeof msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t) n, fmt, ap);
        va_end(ap);
    }
    json_t *text = json_string(msg);
    if (!text) // cut inside a UTF-8 sequence: keep the valid part
        text = json_stringn_nocheck(msg, strlen(msg));
    json_array_append_new(ctx->errors, text);
}

char *
orcs__wf_path(char *buf, size_t size, const char *parent, const char *key)
{
    size_t n = 0;
    buf[0] = '\0';
    if (parent && *parent) {
        n = (size_t) snprintf(buf, size, "%s", parent);
        if (n >= size)
            return buf;
        if (key && n + 1 < size)
            buf[n++] = '.';
    }
    for (const char *s = key; s && *s && n + 3 < size; s++) {
        if (*s == '.' || *s == '[' || *s == '\\')
            buf[n++] = '\\';
        buf[n++] = *s;
    }
    buf[n] = '\0';
    return buf;
}

char *
orcs__wf_item(char *buf, size_t size, const char *parent, size_t index)
{
    int n = snprintf(buf, size, "%s[%zu]", parent, index);
    if (n < 0 || (size_t) n >= size)
        buf[size - 1] = '\0'; // cut: the line falls back to an ancestor
    return buf;
}

size_t
orcs__wf_json_path(char *buf,
                   size_t size,
                   const char *base,
                   const char *json_path)
{
    snprintf(buf, size, "%s", base);
    const char *s = json_path;
    if (*s != '$')
        return 0;
    s++;
    for (;;) {
        char tmp[ORCS__WF_PATH_MAX];
        if (*s == '.') {
            size_t n = strcspn(s + 1, ".[: ");
            char key[ORCS__WF_PATH_MAX];
            snprintf(key, sizeof key, "%.*s", (int) n, s + 1);
            snprintf(tmp, sizeof tmp, "%s", buf);
            orcs__wf_path(buf, size, tmp, key);
            s += 1 + n;
        } else if (s[0] == '[' && s[1] >= '0' && s[1] <= '9') {
            char *end = NULL;
            unsigned long long index = strtoull(s + 1, &end, 10);
            if (*end != ']')
                break;
            snprintf(tmp, sizeof tmp, "%s", buf);
            orcs__wf_item(buf, size, tmp, (size_t) index);
            s = end + 1;
        } else if (s[0] == '[' && s[1] == '"') {
            const char *q = s + 2;
            while (*q && *q != '"')
                q += *q == '\\' && q[1] ? 2 : 1;
            if (*q != '"' || q[1] != ']')
                break;
            json_t *key =
                json_loadb(s + 1, (size_t) (q - s), JSON_DECODE_ANY, NULL);
            if (json_is_string(key)) {
                snprintf(tmp, sizeof tmp, "%s", buf);
                orcs__wf_path(buf, size, tmp, json_string_value(key));
            }
            json_decref(key);
            s = q + 2;
        } else
            break;
    }
    return (size_t) (s - json_path);
}

bool
orcs__wf_is_id(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return n >= 1 && n <= max;
}

static bool
s_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

// obj[key], a null counting as absent (and removed).
static json_t *
s_get(json_t *obj, const char *key)
{
    json_t *value = json_object_get(obj, key);
    if (value && json_is_null(value)) {
        json_object_del(obj, key);
        value = NULL;
    }
    return value;
}

static void
s_unknown_keys(orcs__wf_ctx_t *ctx,
               json_t *obj,
               const char *parent,
               const char *const *allowed,
               const char *listed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        if (s_one_of(key, allowed))
            continue;
        char path[ORCS__WF_PATH_MAX];
        orcs__wf_error(ctx, orcs__wf_path(path, sizeof path, parent, key), true,
                       "unknown key (keys: %s)", listed);
    }
}

// An integer from min to max under obj[key]; fallback is written in when
// absent. Returns the value (fallback on error).
static int64_t
s_int(orcs__wf_ctx_t *ctx,
      json_t *obj,
      const char *key,
      int64_t min,
      int64_t max,
      int64_t fallback)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        json_object_set_new(obj, key, json_integer(fallback));
        return fallback;
    }
    if (json_is_integer(value) && json_integer_value(value) >= min
        && json_integer_value(value) <= max)
        return json_integer_value(value);
    char got[64];
    orcs__wf_error(ctx, key, false,
                   "must be an integer from %lld to %lld (got %s)",
                   (long long) min, (long long) max,
                   orcs__json_describe(got, sizeof got, value));
    return fallback;
}

// ---------------------------------------------------------------------------
// Top level

static bool
s_has_type(const json_t *value, const char *type)
{
    if (strcmp(type, "string") == 0)
        return json_is_string(value);
    if (strcmp(type, "number") == 0)
        return json_is_number(value);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(value);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(value);
    if (strcmp(type, "array") == 0)
        return json_is_array(value);
    return json_is_object(value);
}

static void
s_inputs(orcs__wf_ctx_t *ctx, json_t *doc)
{
    json_t *inputs = s_get(doc, "inputs");
    if (!inputs) {
        json_object_set_new(doc, "inputs", json_object());
        return;
    }
    if (!json_is_object(inputs)) {
        orcs__wf_error(ctx, "inputs", false,
                       "must be a mapping of input names to {type, default, "
                       "description}");
        json_object_set_new(doc, "inputs", json_object());
        return;
    }
    const char *name;
    json_t *decl;
    json_object_foreach(inputs, name, decl)
    {
        char path[ORCS__WF_PATH_MAX], sub[ORCS__WF_PATH_MAX];
        orcs__wf_path(path, sizeof path, "inputs", name);
        if (!orcs__wf_is_id(name, ORCS_WF_ID_MAX))
            orcs__wf_error(ctx, path, true,
                           "an input name must be 1 to 63 of A-Z a-z 0-9 _ -");
        if (json_is_null(decl)) {
            json_object_set_new(inputs, name, json_object());
            continue;
        }
        if (!json_is_object(decl)) {
            orcs__wf_error(ctx, path, false,
                           "must be a mapping {type, default, description}");
            continue;
        }
        s_unknown_keys(ctx, decl, path, s_input_keys,
                       "type, default, description");
        json_t *type = s_get(decl, "type");
        if (type
            && (!json_is_string(type)
                || !s_one_of(json_string_value(type), s_types))) {
            orcs__wf_error(ctx, orcs__wf_path(sub, sizeof sub, path, "type"),
                           false, "must be one of " S_TYPES);
            continue;
        }
        json_t *dflt = json_object_get(decl, "default");
        json_t *text = s_get(decl, "description");
        if (text && !json_is_string(text))
            orcs__wf_error(ctx,
                           orcs__wf_path(sub, sizeof sub, path, "description"),
                           false, "must be a string");
        if (dflt && !json_is_null(dflt) && type
            && !s_has_type(dflt, json_string_value(type)))
            orcs__wf_error(ctx, orcs__wf_path(sub, sizeof sub, path, "default"),
                           false, "does not match type %s",
                           json_string_value(type));
    }
}

static void
s_budget(orcs__wf_ctx_t *ctx, json_t *doc)
{
    json_t *budget = s_get(doc, "budget");
    if (!budget)
        return;
    if (!json_is_object(budget)) {
        orcs__wf_error(ctx, "budget", false,
                       "must be a mapping {max_tokens, max_cost, "
                       "max_requests}");
        return;
    }
    s_unknown_keys(ctx, budget, "budget", s_budget_keys,
                   "max_tokens, max_cost, max_requests");
    const char *key;
    json_t *value;
    json_object_foreach(budget, key, value)
    {
        if (!s_one_of(key, s_budget_keys))
            continue;
        bool cost = strcmp(key, "max_cost") == 0;
        if (!json_is_number(value) || json_number_value(value) < 0
            || (!cost && !json_is_integer(value))) {
            char path[ORCS__WF_PATH_MAX];
            orcs__wf_error(ctx, orcs__wf_path(path, sizeof path, "budget", key),
                           false, "must be %s >= 0",
                           cost ? "a number" : "an integer");
        }
    }
}

static void
s_top(orcs__wf_ctx_t *ctx, orcs__wf_t *w)
{
    orcs_workflow_t *wf = &w->pub;
    json_t *doc = wf->doc;
    s_unknown_keys(ctx, doc, "", s_top_keys,
                   "workflow, description, inputs, concurrency, deadline_s, "
                   "budget, durable, nodes");
    json_t *name = s_get(doc, "workflow");
    if (!name)
        orcs__wf_error(ctx, "", false, "missing key 'workflow' (its name)");
    else if (!json_is_string(name)
             || !orcs__wf_is_id(json_string_value(name), ORCS_WF_ID_MAX))
        orcs__wf_error(ctx, "workflow", false,
                       "must be a name of 1 to 63 of A-Z a-z 0-9 _ -");
    else
        wf->name = orcs_strdup(json_string_value(name));
    if (!wf->name)
        wf->name = orcs_strdup("workflow");
    json_t *text = s_get(doc, "description");
    if (text && !json_is_string(text))
        orcs__wf_error(ctx, "description", false, "must be a string");
    s_inputs(ctx, doc);
    wf->inputs = json_object_get(doc, "inputs");
    wf->concurrency =
        (int) s_int(ctx, doc, "concurrency", 1, S_CONCURRENCY_MAX, 64);
    wf->deadline_ms =
        s_int(ctx, doc, "deadline_s", 0, S_DEADLINE_S_MAX, 0) * 1000;
    s_budget(ctx, doc);
    wf->budget = json_object_get(doc, "budget");
    json_t *durable = s_get(doc, "durable");
    if (!durable)
        json_object_set_new(doc, "durable", json_true());
    else if (!json_is_boolean(durable))
        orcs__wf_error(ctx, "durable", false, "must be true or false");
    wf->durable =
        !durable || json_is_true(durable) || !json_is_boolean(durable);
}

// Sets every node's id and kind, and the id index.
static void
s_node_table(orcs__wf_ctx_t *ctx, orcs__wf_t *w, json_t *nodes)
{
    orcs_workflow_t *wf = &w->pub;
    size_t count = json_object_size(nodes);
    wf->nodes = orcs_calloc(count ? count : 1, sizeof *wf->nodes);
    wf->count = count;
    const char *id;
    json_t *spec;
    size_t i = 0;
    json_object_foreach(nodes, id, spec)
    {
        orcs_wf_node_t *node = &wf->nodes[i];
        char path[ORCS__WF_PATH_MAX];
        orcs__wf_path(path, sizeof path, "nodes", id);
        node->id = orcs_strdup(id);
        node->kind = ORCS_WF_KIND_COUNT;
        node->on_error = ORCS_WF_ROUTE_FAIL; // until parsed
        node->on_timeout = node->default_to = ORCS_WF_ROUTE_NONE;
        node->line = ctx->yaml ? orcs_yaml_key_line(ctx->yaml, path) : 0;
        node->spec = spec;
        if (!orcs__wf_is_id(id, ORCS_WF_ID_MAX))
            orcs__wf_error(ctx, path, true,
                           "a node id must be 1 to 63 of A-Z a-z 0-9 _ -");
        else if (strcmp(id, "fail") == 0)
            orcs__wf_error(ctx, path, true,
                           "'fail' is reserved (on_error: fail fails the run)");
        json_object_set_new(w->index, id, json_integer((json_int_t) i));
        if (json_is_object(spec)) {
            json_t *kind = json_object_get(spec, "kind");
            const char *name = json_string_value(kind);
            for (int k = 0; name && k < ORCS_WF_KIND_COUNT; k++)
                if (strcmp(name, s_kind_names[k]) == 0)
                    node->kind = (orcs_wf_kind) k;
        }
        i++;
    }
}

static void
s_nodes(orcs__wf_ctx_t *ctx, orcs__wf_t *w)
{
    json_t *nodes = s_get(w->pub.doc, "nodes");
    if (!nodes) {
        orcs__wf_error(ctx, "", false, "missing key 'nodes' (a mapping)");
        return;
    }
    if (!json_is_object(nodes) || json_object_size(nodes) == 0) {
        orcs__wf_error(ctx, "nodes", false,
                       "must be a mapping of node ids to nodes, not empty");
        return;
    }
    if (json_object_size(nodes) > ORCS_WF_NODES_MAX) {
        orcs__wf_error(ctx, "nodes", false, "more than %u nodes",
                       ORCS_WF_NODES_MAX);
        return;
    }
    s_node_table(ctx, w, nodes);
    for (size_t i = 0; i < w->pub.count && !orcs__wf_full(ctx); i++) {
        orcs_wf_node_t *node = &w->pub.nodes[i];
        char path[ORCS__WF_PATH_MAX];
        orcs__wf_path(path, sizeof path, "nodes", node->id);
        orcs__wf_node_parse(ctx, w, node, (json_t *) node->spec, path);
    }
}

// ---------------------------------------------------------------------------
// Graph indexes

// Adds need to node's needs unless there; true when added.
static bool
s_add_need(orcs_wf_node_t *node, int need)
{
    for (size_t i = 0; i < node->needs_count; i++)
        if (node->needs[i] == need)
            return false;
    node->needs = orcs_realloc(node->needs,
                               (node->needs_count + 1) * sizeof *node->needs);
    node->needs[node->needs_count++] = need;
    return true;
}

// Branch targets need their branch (in the struct and in the document);
// marks routed nodes; fills dependents.
static void
s_graph(orcs__wf_t *w)
{
    orcs_workflow_t *wf = &w->pub;
    for (size_t i = 0; i < wf->count; i++) {
        orcs_wf_node_t *node = &wf->nodes[i];
        for (size_t c = 0; c <= node->cases_count; c++) {
            int to =
                c < node->cases_count ? node->cases[c].to : node->default_to;
            if (node->kind != ORCS_WF_BRANCH || to < 0)
                continue;
            orcs_wf_node_t *target = &wf->nodes[to];
            target->routed = true;
            json_t *list = json_object_get((json_t *) target->spec, "needs");
            if (s_add_need(target, (int) i) && json_is_array(list))
                json_array_append_new(list, json_string(node->id));
        }
        if (node->on_error >= 0)
            wf->nodes[node->on_error].routed = true;
        if (node->on_timeout >= 0)
            wf->nodes[node->on_timeout].routed = true;
    }
    for (size_t i = 0; i < wf->count; i++)
        for (size_t n = 0; n < wf->nodes[i].needs_count; n++)
            wf->nodes[wf->nodes[i].needs[n]].dependents_count++;
    for (size_t i = 0; i < wf->count; i++) {
        orcs_wf_node_t *node = &wf->nodes[i];
        if (node->dependents_count)
            node->dependents = orcs_calloc(node->dependents_count, sizeof(int));
        node->dependents_count = 0;
    }
    for (size_t i = 0; i < wf->count; i++)
        for (size_t n = 0; n < wf->nodes[i].needs_count; n++) {
            orcs_wf_node_t *need = &wf->nodes[wf->nodes[i].needs[n]];
            need->dependents[need->dependents_count++] = (int) i;
        }
}

// ---------------------------------------------------------------------------
// Loading

// Absolute form of dir (NULL = the current directory) into buf.
static void
s_absolute_dir(const char *dir, char *buf, size_t size)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "/");
    if (!dir || !*dir)
        snprintf(buf, size, "%s", cwd);
    else if (!realpath(dir, buf)) {
        size_t c = dir[0] == '/' ? 0 : strlen(cwd), d = strlen(dir);
        if (c + d + 2 > size) { // does not fit: keep what was given
            snprintf(buf, size, "%s", dir);
            return;
        }
        memcpy(buf, cwd, c);
        if (c)
            buf[c++] = '/';
        memcpy(buf + c, dir, d + 1);
    }
}

typedef struct {
    long line;    // from "FILE:LINE: "
    size_t index; // order found, for a stable sort
    json_t *text;
} s_message_t;

static int
s_by_line(const void *a, const void *b)
{
    const s_message_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

// Sorts "FILE:LINE: what" messages by line, as a compiler lists them.
static void
s_sort_errors(orcs__wf_ctx_t *ctx)
{
    size_t count = json_array_size(ctx->errors);
    size_t prefix = strlen(ctx->file);
    s_message_t *list = orcs_calloc(count, sizeof *list);
    for (size_t i = 0; i < count; i++) {
        json_t *text = json_array_get(ctx->errors, i);
        const char *msg = json_string_value(text);
        list[i].line = LONG_MAX; // "too many errors" stays last
        if (strncmp(msg, ctx->file, prefix) == 0 && msg[prefix] == ':')
            list[i].line = strtol(msg + prefix + 1, NULL, 10);
        list[i].index = i;
        list[i].text = json_incref(text);
    }
    qsort(list, count, sizeof *list, s_by_line);
    json_array_clear(ctx->errors);
    for (size_t i = 0; i < count; i++)
        json_array_append_new(ctx->errors, list[i].text);
    free(list);
}

// Checks doc (taken over) and builds the workflow.
static orcs_status
s_build(orcs__wf_ctx_t *ctx,
        json_t *doc,
        const char *file,
        const char *dir,
        orcs_workflow_t **wf_p)
{
    orcs__wf_t *w = orcs_calloc(1, sizeof *w);
    atomic_init(&w->refs, 1);
    orcs_workflow_t *wf = &w->pub;
    char abs_dir[PATH_MAX];
    s_absolute_dir(dir, abs_dir, sizeof abs_dir);
    wf->doc = doc;
    wf->file = orcs_strdup(file);
    wf->dir = orcs_strdup(abs_dir);
    w->index = json_object();
    ctx->dir = wf->dir;
    if (!json_is_object(doc))
        orcs__wf_error(ctx, "", false, "a workflow must be a mapping");
    else {
        s_top(ctx, w);
        s_nodes(ctx, w);
        // Nodes with errors keep what was valid, so the graph and the
        // expressions are checked too; reachability only when all is well
        // (a bad route would make its target look unreachable).
        if (wf->count > 0 && !orcs__wf_full(ctx)) {
            bool clean = json_array_size(ctx->errors) == 0;
            s_graph(w);
            orcs__wf_check(ctx, w, clean);
        }
    }
    if (json_array_size(ctx->errors) > 0) {
        if (ctx->yaml)
            s_sort_errors(ctx);
        orcs_workflow_destroy(&wf);
        return ORCS_ECONFIG;
    }
    *wf_p = wf;
    return ORCS_OK;
}

orcs_status
orcs_workflow_parse(const char *text,
                    size_t size,
                    const char *filename,
                    const char *dir,
                    orcs_workflow_t **wf_p,
                    json_t **errors_p)
{
    orcs_assert(wf_p);
    *wf_p = NULL;
    json_t *errors = json_array();
    const char *file = filename ? filename : "<text>";
    char err[1024];
    orcs_yaml_t *yaml = NULL;
    orcs_status rc = orcs_yaml_parse(text, size, file, &yaml, err, sizeof err);
    if (rc != ORCS_OK)
        json_array_append_new(errors, json_string(err));
    else {
        orcs__wf_ctx_t ctx = {yaml, file, errors, NULL};
        rc =
            s_build(&ctx, json_deep_copy(orcs_yaml_doc(yaml)), file, dir, wf_p);
    }
    orcs_yaml_destroy(&yaml);
    if (errors_p)
        *errors_p = errors;
    else
        json_decref(errors);
    return rc;
}

orcs_status
orcs_workflow_load(const char *path, orcs_workflow_t **wf_p, json_t **errors_p)
{
    orcs_assert(path && wf_p);
    *wf_p = NULL;
    json_t *errors = json_array();
    char err[1024];
    orcs_yaml_t *yaml = NULL;
    orcs_status rc = orcs_yaml_load(path, &yaml, err, sizeof err);
    if (rc != ORCS_OK)
        json_array_append_new(errors, json_string(err));
    else {
        char copy[PATH_MAX];
        snprintf(copy, sizeof copy, "%s", path);
        orcs__wf_ctx_t ctx = {yaml, path, errors, NULL};
        rc = s_build(&ctx, json_deep_copy(orcs_yaml_doc(yaml)), path,
                     dirname(copy), wf_p);
    }
    orcs_yaml_destroy(&yaml);
    if (errors_p)
        *errors_p = errors;
    else
        json_decref(errors);
    return rc;
}

orcs_status
orcs_workflow_from_doc(const json_t *doc,
                       const char *dir,
                       orcs_workflow_t **wf_p,
                       json_t **errors_p)
{
    orcs_assert(wf_p);
    *wf_p = NULL;
    json_t *errors = json_array();
    orcs__wf_ctx_t ctx = {NULL, "<doc>", errors, NULL};
    orcs_status rc;
    if (!doc) {
        orcs__wf_error(&ctx, "", false, "a workflow must be a mapping");
        rc = ORCS_ECONFIG;
    } else
        rc = s_build(&ctx, json_deep_copy(doc), "<doc>", dir, wf_p);
    if (errors_p)
        *errors_p = errors;
    else
        json_decref(errors);
    return rc;
}

void
orcs_workflow_destroy(orcs_workflow_t **self_p)
{
    orcs_assert(self_p);
    orcs_workflow_t *wf = *self_p;
    if (!wf)
        return;
    orcs__wf_t *w = (orcs__wf_t *) wf;
    *self_p = NULL;
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return; // another holder frees it
    for (size_t i = wf->count; i-- > 0;)
        orcs__wf_node_clear(&wf->nodes[i]);
    free(wf->nodes);
    json_decref(w->index);
    json_decref(wf->doc);
    free((char *) wf->dir);
    free((char *) wf->file);
    free((char *) wf->name);
    free(w);
    *self_p = NULL;
}

orcs_workflow_t *
orcs_workflow_ref(orcs_workflow_t *self)
{
    orcs_assert(self);
    atomic_fetch_add(&((orcs__wf_t *) self)->refs, 1);
    return self;
}

int
orcs_workflow_find(const orcs_workflow_t *self, const char *id)
{
    orcs_assert(self);
    if (!id)
        return -1;
    const orcs__wf_t *w = (const orcs__wf_t *) self;
    json_t *index = json_object_get(w->index, id);
    return index ? (int) json_integer_value(index) : -1;
}

const char *
orcs_wf_kind_name(orcs_wf_kind kind)
{
    if ((int) kind < 0 || kind >= ORCS_WF_KIND_COUNT)
        return NULL;
    return s_kind_names[kind];
}

// ---------------------------------------------------------------------------
// Run inputs

static orcs_status
s_input_fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static orcs_status
s_input_fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return ORCS_EINVAL;
}

orcs_status
orcs_workflow_inputs(const orcs_workflow_t *self,
                     const json_t *given,
                     json_t **inputs_p,
                     char *err,
                     size_t err_size)
{
    orcs_assert(self && inputs_p);
    *inputs_p = NULL;
    if (err_size)
        err[0] = '\0';
    if (given && !json_is_object(given) && !json_is_null(given))
        return s_input_fail(err, err_size, "inputs must be an object");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *) given, name, value)
    {
        json_t *decl = json_object_get(self->inputs, name);
        if (!decl)
            return s_input_fail(err, err_size, "input %s: not declared", name);
        const char *type = json_string_value(json_object_get(decl, "type"));
        char got[64];
        if (type && !s_has_type(value, type))
            return s_input_fail(err, err_size, "input %s: expected %s, got %s",
                                name, type,
                                orcs__json_describe(got, sizeof got, value));
    }
    json_t *out = json_object();
    json_object_foreach((json_t *) self->inputs, name, value)
    {
        json_t *have = json_object_get(given, name);
        json_t *dflt = json_object_get(value, "default");
        if (have)
            json_object_set(out, name, have);
        else if (dflt)
            json_object_set_new(out, name, json_deep_copy(dflt));
        else {
            json_decref(out);
            return s_input_fail(err, err_size, "input %s: missing (required)",
                                name);
        }
    }
    *inputs_p = out;
    return ORCS_OK;
}
