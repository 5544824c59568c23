/*  toolset.c — immutable, reference-counted tool sets: building one from
    the built-ins, C tools and manifests, and reading it (find, nearest,
    describe, OpenAI form).
    SPDX-License-Identifier: MPL-2.0

    A set owns its own copy of every document, so sets never share a
    json_t and any number of threads may read one (jansson is not asked to
    change a reference count another set could be changing). */
#include "orcs/tools.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "tools/tools_internal.h"

#define S_NEAREST_DEFAULT 10 // k when 0

typedef struct {
    orcs_tool_t tool;                  // what callers see (first member)
    char name[ORCS_TOOL_NAME_MAX + 1]; // tool.name
    char wire[ORCS_TOOL_NAME_MAX + 1]; // tool.wire_name
    json_t *manifest;                  // owned; schemas point into it
    char *file;                        // owned; NULL for built-ins, C tools
    int line;                          // line of `tool` in file
    orcs__plugin_t *plugin;            // counted handle, or NULL
} s_entry_t;

struct orcs_toolset_t {
    atomic_size_t refs;  // references; the last release frees
    uint64_t generation; // 1 for a registry's first set
    s_entry_t *entries;  // sorted by name
    size_t count;        // entries in use
    size_t cap;          // entries allocated
    orcs__bm25_t *index; // over name, description, parameter names
};

// ---------------------------------------------------------------------------
// Building

void
orcs_tool_wire_name(const char *name, char out[ORCS_TOOL_NAME_MAX + 1])
{
    size_t i = 0;
    for (; name && name[i] && i < ORCS_TOOL_NAME_MAX; i++)
        out[i] = name[i] == '.' ? '_' : name[i];
    out[i] = '\0';
}

static const char *
s_kind(const char *kind)
{
    static const char *const kinds[] = {"builtin", "exec", "http", "mcp",
                                        "plugin",  "c",    NULL};
    for (size_t i = 0; kind && kinds[i]; i++)
        if (strcmp(kinds[i], kind) == 0)
            return kinds[i];
    return "c";
}

// Points the entry's tool at its manifest's values.
static void
s_entry_fill(s_entry_t *e)
{
    const json_t *m = e->manifest;
    orcs_tool_t *t = &e->tool;
    const char *description =
        json_string_value(json_object_get(m, "description"));
    t->name = e->name;
    t->wire_name = e->wire;
    t->description = description ? description : "";
    t->kind = s_kind(json_string_value(json_object_get(m, "kind")));
    t->input_schema = json_object_get(m, "input_schema");
    t->output_schema = json_object_get(m, "output_schema");
    t->manifest = m;
    t->file = e->file;
    t->timeout_ms = (int) json_integer_value(json_object_get(m, "timeout_ms"));
    t->retries = (int) json_integer_value(json_object_get(m, "retries"));
    t->idempotent = json_is_true(json_object_get(m, "idempotent"));
    t->needs_approval = json_is_true(json_object_get(m, "needs_approval"));
    t->cache_ttl_s = json_integer_value(json_object_get(m, "cache_ttl_s"));
}

static s_entry_t *
s_append(orcs_toolset_t *set, json_t *manifest)
{
    if (set->count == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->entries =
            orcs_realloc(set->entries, set->cap * sizeof *set->entries);
    }
    s_entry_t *e = &set->entries[set->count++];
    memset(e, 0, sizeof *e);
    e->manifest = manifest;
    const char *name = json_string_value(json_object_get(manifest, "tool"));
    snprintf(e->name, sizeof e->name, "%s", name ? name : "");
    orcs_tool_wire_name(e->name, e->wire);
    return e;
}

static s_entry_t *
s_find_entry(orcs_toolset_t *set, const char *name, const char *wire)
{
    for (size_t i = 0; i < set->count; i++) {
        s_entry_t *e = &set->entries[i];
        if (strcmp(e->name, name) == 0 || strcmp(e->wire, wire) == 0)
            return e;
    }
    return NULL;
}

static void
s_add_builtins(orcs_toolset_t *set)
{
    size_t count = 0;
    const orcs__builtin_t *builtins = orcs__tool_builtins(&count);
    for (size_t i = 0; i < count; i++) {
        const orcs__builtin_t *b = &builtins[i];
        json_t *schema = json_loads(b->schema, 0, NULL);
        orcs_assert(schema); // a static string: checked by the tests
        json_t *manifest = json_pack(
            "{s:s, s:s, s:s, s:o, s:i, s:i, s:b, s:b, s:i}", "tool", b->name,
            "description", b->description, "kind", "builtin", "input_schema",
            schema, "timeout_ms", 30000, "retries", 0, "idempotent",
            b->idempotent, "needs_approval", 0, "cache_ttl_s", 0);
        s_entry_t *e = s_append(set, manifest);
        e->tool.fn = b->fn;
    }
}

static void
s_error(json_t *errors, const orcs__tool_source_t *src, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_error(json_t *errors, const orcs__tool_source_t *src, const char *fmt, ...)
{
    if (!errors)
        return;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s:%d: tool: ", src->file, src->line);
    if (n >= 0 && (size_t) n < sizeof msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t) n, fmt, ap);
        va_end(ap);
    }
    json_array_append_new(errors, json_string(msg));
}

// The kind in the entry's manifest (its tool is filled in at the end).
static const char *
s_entry_kind(const s_entry_t *e)
{
    return s_kind(json_string_value(json_object_get(e->manifest, "kind")));
}

static const char *
s_origin(const s_entry_t *e)
{
    if (e->file)
        return e->file;
    return strcmp(s_entry_kind(e), "c") == 0 ? "a C tool" : "a built-in";
}

// A `kind: builtin` manifest: its keys replace the built-in's.
static void
s_override(orcs_toolset_t *set, const orcs__tool_source_t *src, json_t *errors)
{
    const char *name =
        json_string_value(json_object_get(src->manifest, "tool"));
    char wire[ORCS_TOOL_NAME_MAX + 1];
    orcs_tool_wire_name(name, wire);
    s_entry_t *e = s_find_entry(set, name ? name : "", wire);
    if (!e || strcmp(s_entry_kind(e), "builtin") != 0) {
        s_error(errors, src, "'%s' is not a built-in", name ? name : "");
        return;
    }
    if (e->file) {
        s_error(errors, src, "built-in '%s' is already changed by %s", e->name,
                e->file);
        return;
    }
    json_object_update(e->manifest, src->manifest);
    json_object_set_new(e->manifest, "kind", json_string("builtin"));
    e->file = orcs_strdup(src->file);
    e->line = src->line;
}

static void
s_add_source(orcs_toolset_t *set,
             const orcs__tool_source_t *src,
             json_t *errors)
{
    const char *name =
        json_string_value(json_object_get(src->manifest, "tool"));
    char wire[ORCS_TOOL_NAME_MAX + 1];
    orcs_tool_wire_name(name, wire);
    const s_entry_t *other = s_find_entry(set, name ? name : "", wire);
    if (other && strcmp(other->name, name) == 0) {
        s_error(errors, src, "'%s' is already defined by %s", name,
                s_origin(other));
        return;
    }
    if (other) {
        s_error(errors, src, "wire name '%s' of '%s' collides with '%s' (%s)",
                wire, name, other->name, s_origin(other));
        return;
    }
    s_entry_t *e = s_append(set, json_deep_copy(src->manifest));
    e->file = src->file ? orcs_strdup(src->file) : NULL;
    e->line = src->line;
    e->tool.fn = src->fn;
    e->tool.fn_arg = src->fn_arg;
    e->plugin = src->plugin ? orcs__plugin_ref(src->plugin) : NULL;
}

static int
s_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const s_entry_t *) a)->name, ((const s_entry_t *) b)->name);
}

// Adds the property names of schema (and one level of nested objects).
static void
s_index_properties(orcs__bm25_t *index,
                   size_t doc,
                   const json_t *schema,
                   int levels)
{
    const char *key;
    json_t *sub;
    json_object_foreach(json_object_get(schema, "properties"), key, sub)
    {
        orcs__bm25_add(index, doc, key);
        if (levels > 0) {
            s_index_properties(index, doc, sub, levels - 1);
            s_index_properties(index, doc, json_object_get(sub, "items"),
                               levels - 1);
        }
    }
}

orcs_toolset_t *
orcs__toolset_build(const orcs__tool_source_t *ctools,
                    size_t nctools,
                    const orcs__tool_source_t *files,
                    size_t nfiles,
                    json_t *errors)
{
    orcs_toolset_t *set = orcs_calloc(1, sizeof *set);
    atomic_init(&set->refs, 1);
    s_add_builtins(set);
    for (size_t i = 0; i < nctools; i++)
        s_add_source(set, &ctools[i], errors);
    for (size_t i = 0; i < nfiles; i++) {
        const char *kind =
            json_string_value(json_object_get(files[i].manifest, "kind"));
        if (kind && strcmp(kind, "builtin") == 0)
            s_override(set, &files[i], errors);
        else
            s_add_source(set, &files[i], errors);
    }
    qsort(set->entries, set->count, sizeof *set->entries, s_entry_cmp);
    set->index = orcs__bm25_new(set->count);
    for (size_t i = 0; i < set->count; i++) {
        s_entry_t *e = &set->entries[i];
        s_entry_fill(e);
        orcs__bm25_add(set->index, i, e->name);
        orcs__bm25_add(set->index, i, e->tool.description);
        s_index_properties(set->index, i, e->tool.input_schema, 1);
    }
    orcs__bm25_finish(set->index);
    return set;
}

void
orcs__toolset_set_generation(orcs_toolset_t *set, uint64_t generation)
{
    set->generation = generation;
}

orcs_toolset_t *
orcs__toolset_ref(orcs_toolset_t *set)
{
    atomic_fetch_add(&set->refs, 1);
    return set;
}

void
orcs_toolset_release(orcs_toolset_t **set_p)
{
    orcs_assert(set_p);
    orcs_toolset_t *set = *set_p;
    *set_p = NULL;
    if (!set || atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    for (size_t i = set->count; i-- > 0;) {
        s_entry_t *e = &set->entries[i];
        json_decref(e->manifest);
        free(e->file);
        orcs__plugin_unref(&e->plugin);
    }
    orcs__bm25_destroy(&set->index);
    free(set->entries);
    free(set);
}

// ---------------------------------------------------------------------------
// Reading

uint64_t
orcs_toolset_generation(const orcs_toolset_t *set)
{
    orcs_assert(set);
    return set->generation;
}

size_t
orcs_toolset_count(const orcs_toolset_t *set)
{
    orcs_assert(set);
    return set->count;
}

const orcs_tool_t *
orcs_toolset_at(const orcs_toolset_t *set, size_t i)
{
    orcs_assert(set);
    return i < set->count ? &set->entries[i].tool : NULL;
}

static int
s_name_cmp(const void *key, const void *item)
{
    return strcmp(key, ((const s_entry_t *) item)->name);
}

const orcs_tool_t *
orcs_toolset_find(const orcs_toolset_t *set, const char *name)
{
    orcs_assert(set);
    if (!name)
        return NULL;
    const s_entry_t *e = bsearch(name, set->entries, set->count,
                                 sizeof *set->entries, s_name_cmp);
    if (e)
        return &e->tool;
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->entries[i].wire, name) == 0)
            return &set->entries[i].tool;
    return NULL;
}

typedef struct {
    size_t index; // entry
    double score; // its BM25 score
} s_ranked_t;

static int
s_ranked_cmp(const void *a, const void *b)
{
    const s_ranked_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

orcs_status
orcs_toolset_nearest(const orcs_toolset_t *set,
                     const char *query,
                     size_t k,
                     json_t **result_p)
{
    orcs_assert(set && result_p);
    *result_p = NULL;
    if (!query)
        return ORCS_EINVAL;
    if (k == 0)
        k = S_NEAREST_DEFAULT;
    size_t n = set->count;
    double *scores = orcs_calloc(n ? n : 1, sizeof *scores);
    s_ranked_t *ranked = orcs_calloc(n ? n : 1, sizeof *ranked);
    orcs__bm25_score(set->index, query, scores);
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (scores[i] > 0)
            ranked[count++] = (s_ranked_t){i, scores[i]};
    qsort(ranked, count, sizeof *ranked, s_ranked_cmp);
    json_t *result = json_array();
    for (size_t i = 0; i < count && i < k; i++)
        json_array_append_new(result,
                              json_pack("{s:s, s:f}", "name",
                                        set->entries[ranked[i].index].name,
                                        "score", ranked[i].score));
    free(ranked);
    free(scores);
    *result_p = result;
    return ORCS_OK;
}

json_t *
orcs_tool_openai(const orcs_tool_t *tool)
{
    orcs_assert(tool);
    return json_pack("{s:s, s:{s:s, s:s, s:o}}", "type", "function", "function",
                     "name", tool->wire_name, "description", tool->description,
                     "parameters", json_deep_copy(tool->input_schema));
}

json_t *
orcs_toolset_describe(const orcs_toolset_t *set)
{
    orcs_assert(set);
    json_t *list = json_array();
    for (size_t i = 0; i < set->count; i++) {
        const orcs_tool_t *t = &set->entries[i].tool;
        json_array_append_new(
            list,
            json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i, s:i, s:b, s:b, s:I}",
                      "name", t->name, "wire_name", t->wire_name, "kind",
                      t->kind, "description", t->description, "file", t->file,
                      "timeout_ms", t->timeout_ms, "retries", t->retries,
                      "idempotent", t->idempotent, "needs_approval",
                      t->needs_approval, "cache_ttl_s",
                      (json_int_t) t->cache_ttl_s));
    }
    return list;
}
