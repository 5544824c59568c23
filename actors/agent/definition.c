/*  actors/agent/definition.c — agent definitions, and the agent actor's
    cache of agent files by path.
    SPDX-License-Identifier: MPL-2.0

    An agent actor without an agent of its own (the orchestrator's) runs
    the agent file each agent.run names. Files are loaded once and cached
    by path; a file whose mtime (or size, or inode) changed, or any file
    after a reload of the node (orcs_node_reload, SIGHUP), is loaded again
    on its next use. Runs hold a reference on their definition, so a
    reload never frees one a run still uses. Sub-agent files are read with
    their parent and follow its reloads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "actors/agent/agent_internal.h"
#include "orcs/log.h"
#include "orcs/sys.h"

#define S_DEPTH_MAX 8 // nesting of sub-agents
#define S_EXT       "agent.files"

typedef orcs__agent_definition_t s_def_t;

// A cached agent file.
typedef struct {
    s_def_t *def;        // one reference
    struct stat st;      // the file when it was loaded
    uint64_t generation; // the node's reload generation then
} s_file_t;

// On the node: counts reloads (the hook may run on any thread).
typedef struct {
    atomic_uint_fast64_t generation;
} s_reloads_t;

static pthread_mutex_t s_create_lock = PTHREAD_MUTEX_INITIALIZER;

// ---------------------------------------------------------------------------
// Definitions

static void
s_def_destroy(s_def_t **def_p)
{
    s_def_t *def = *def_p;
    if (!def)
        return;
    for (size_t i = 0; i < def->sub_count; i++)
        s_def_destroy(&def->subs[i]);
    free(def->subs);
    json_decref(def->tools);
    json_decref(def->openai);
    json_decref(def->doc);
    free(def);
    *def_p = NULL;
}

orcs_status
orcs__agent_definition_new(
    json_t *doc, int depth, s_def_t **def_p, char *err, size_t err_size)
{
    s_def_t *def = orcs_calloc(1, sizeof *def);
    def->refs = 1;
    def->doc = doc;
    def->name = json_string_value(json_object_get(doc, "agent"));
    orcs_tool_wire_name(def->name, def->wire);
    json_t *subs = json_object_get(doc, "subagents");
    def->subs = orcs_calloc(json_array_size(subs) + 1, sizeof *def->subs);
    for (size_t i = 0; i < json_array_size(subs); i++) {
        const char *path = json_string_value(json_array_get(subs, i));
        if (depth >= S_DEPTH_MAX) {
            snprintf(err, err_size, "%s: sub-agents nest deeper than %d", path,
                     S_DEPTH_MAX);
            s_def_destroy(&def);
            return ORCS_EINVAL;
        }
        json_t *sub_doc = NULL;
        orcs_status rc = orcs_agent_load(path, &sub_doc, err, err_size);
        if (rc == ORCS_OK)
            rc = orcs__agent_definition_new(
                sub_doc, depth + 1, &def->subs[def->sub_count], err, err_size);
        if (rc != ORCS_OK) {
            s_def_destroy(&def);
            return rc;
        }
        def->sub_count++;
    }
    *def_p = def;
    return ORCS_OK;
}

s_def_t *
orcs__agent_definition_ref(s_def_t *def)
{
    if (def)
        def->refs++;
    return def;
}

void
orcs__agent_definition_unref(s_def_t **def_p)
{
    s_def_t *def = *def_p;
    *def_p = NULL;
    if (def && --def->refs <= 0)
        s_def_destroy(&def);
}

// ---------------------------------------------------------------------------
// The cache

static void
s_file_free(void **item_p)
{
    s_file_t *file = *item_p;
    if (file) {
        orcs__agent_definition_unref(&file->def);
        free(file);
    }
    *item_p = NULL;
}

zhashx_t *
orcs__agent_files_new(void)
{
    zhashx_t *files = zhashx_new();
    zhashx_set_destructor(files, s_file_free);
    return files;
}

static void
s_reloads_destroy(void *object)
{
    free(object);
}

static json_t *
s_on_reload(orcs_node_t *node, void *arg)
{
    (void) node;
    s_reloads_t *reloads = arg;
    uint64_t generation = atomic_fetch_add(&reloads->generation, 1) + 1;
    return json_pack("{s:I}", "generation", (json_int_t) generation);
}

// The node's reload counter, made (with its hook) by the first caller.
static uint64_t
s_generation(orcs_node_t *node)
{
    s_reloads_t *reloads = orcs_node_ext(node, S_EXT);
    if (!reloads) {
        pthread_mutex_lock(&s_create_lock);
        reloads = orcs_node_ext(node, S_EXT);
        if (!reloads) {
            reloads = orcs_calloc(1, sizeof *reloads);
            atomic_init(&reloads->generation, 0);
            orcs_node_ext_set(node, S_EXT, reloads, s_reloads_destroy);
            orcs_node_on_reload(node, S_EXT, s_on_reload, reloads);
        }
        pthread_mutex_unlock(&s_create_lock);
    }
    return atomic_load(&reloads->generation);
}

static bool
s_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev
           && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec
           && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

orcs_status
orcs__agent_definition_get(orcs__agent_t *self,
                           const char *path,
                           s_def_t **def_p,
                           char *err,
                           size_t err_size)
{
    *def_p = NULL;
    if (path[0] != '/') {
        snprintf(err, err_size, "%s: the agent file must be an absolute path",
                 path);
        return ORCS_EINVAL;
    }
    uint64_t generation = s_generation(self->node);
    struct stat st;
    if (stat(path, &st) != 0) {
        zhashx_delete(self->files, path);
        snprintf(err, err_size, "%s: cannot open agent file", path);
        return ORCS_ENOTFOUND;
    }
    s_file_t *file = zhashx_lookup(self->files, path);
    if (file && file->generation == generation && s_same_file(&file->st, &st)) {
        *def_p = file->def;
        return ORCS_OK;
    }
    json_t *doc = NULL;
    s_def_t *def = NULL;
    orcs_status rc = orcs_agent_load(path, &doc, err, err_size);
    if (rc == ORCS_OK)
        rc = orcs__agent_definition_new(doc, 0, &def, err, err_size);
    if (rc != ORCS_OK) {
        zhashx_delete(self->files, path);
        orcs_log_debug("agent", "%s: %s", orcs_actor_name(self->actor), err);
        return rc;
    }
    file = orcs_calloc(1, sizeof *file);
    file->def = def;
    file->st = st;
    file->generation = generation;
    zhashx_update(self->files, path, file); // frees the old entry
    *def_p = def;
    return ORCS_OK;
}
