/*  registry.c — the tool registry: C tools registered by the program,
    manifests read from directories, plug-ins opened, and the current tool
    set swapped atomically.
    SPDX-License-Identifier: MPL-2.0

    Two locks: `lock` guards only the current set pointer and the
    generation (held for a few instructions by acquire and swap), and
    `load_lock` makes loads and registrations run one at a time, so the
    generations follow the order of the swaps. A set holds counted
    references to the plug-ins its tools came from; a plug-in is closed
    when the last set using it is released. */
#include "orcs/tools.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orcs/sys.h"
#include "orcs/yaml.h"
#include "tools/tools_internal.h"

#define S_ERR_MAX    1024   // bytes of one error message
#define S_PLUGIN_MAX 1024   // entries of a plug-in's array looked at
#define S_DIR_FILES  100000 // manifests read from one directory

struct orcs__plugin_t {
    atomic_uint refs; // sets (and sources) using the handle
    void *handle;     // from dlopen
};

typedef struct {
    orcs__tool_source_t *items; // sources
    size_t count;               // in use
    size_t cap;                 // allocated
} s_sources_t;

struct orcs_tools_t {
    pthread_mutex_t lock;      // guards current and generation
    pthread_mutex_t load_lock; // one load or register at a time
    orcs_toolset_t *current;   // the set new calls get
    uint64_t generation;       // of current
    s_sources_t ctools;        // registered C tools (load_lock)
    s_sources_t files;         // manifests of the last load (load_lock)
    json_t *dirs;              // directories of the last load, or NULL
    char *base_dir;            // its base_dir, or NULL
};

// ---------------------------------------------------------------------------
// Plug-ins

orcs__plugin_t *
orcs__plugin_ref(orcs__plugin_t *plugin)
{
    atomic_fetch_add(&plugin->refs, 1);
    return plugin;
}

void
orcs__plugin_unref(orcs__plugin_t **plugin_p)
{
    orcs__plugin_t *plugin = *plugin_p;
    *plugin_p = NULL;
    if (!plugin || atomic_fetch_sub(&plugin->refs, 1) != 1)
        return;
    dlclose(plugin->handle);
    free(plugin);
}

// The plug-in path of a manifest, relative to the manifest's directory.
static char *
s_plugin_path(const char *file, const char *rel)
{
    if (rel[0] == '/')
        return orcs_strdup(rel);
    const char *slash = strrchr(file, '/');
    size_t dir_len = slash ? (size_t) (slash - file) : 1;
    const char *dir = slash ? file : ".";
    size_t size = dir_len + 1 + strlen(rel) + 1;
    char *path = orcs_malloc(size);
    snprintf(path, size, "%.*s/%s", (int) dir_len, dir, rel);
    return path;
}

// Picks the entry of the plug-in for tool: the one of that name, or the
// only one. Writes why not into why.
static const orcs_tool_entry_t *
s_plugin_pick(const orcs_tool_entry_t *entries,
              const char *tool,
              char *why,
              size_t why_size)
{
    size_t count = 0;
    const orcs_tool_entry_t *named = NULL;
    while (count < S_PLUGIN_MAX && entries[count].name) {
        if (strcmp(entries[count].name, tool) == 0)
            named = &entries[count];
        count++;
    }
    const orcs_tool_entry_t *entry = named        ? named
                                     : count == 1 ? &entries[0]
                                                  : NULL;
    if (!entry) {
        snprintf(why, why_size, "has %zu tools and none is named '%s'", count,
                 tool);
        return NULL;
    }
    if (entry->abi != ORCS_TOOL_ABI) {
        snprintf(why, why_size, "tool '%s' has ABI %u, expected %u",
                 entry->name, entry->abi, ORCS_TOOL_ABI);
        return NULL;
    }
    if (!entry->fn) {
        snprintf(why, why_size, "tool '%s' has no function", entry->name);
        return NULL;
    }
    return entry;
}

// Opens the plug-in of a manifest and sets src->fn and src->plugin.
static orcs_status
s_plugin_open(const orcs_yaml_t *yaml,
              orcs__tool_source_t *src,
              char *err,
              size_t err_size)
{
    const char *file = orcs_yaml_filename(yaml);
    int line = orcs_yaml_line(yaml, "plugin");
    const char *tool =
        json_string_value(json_object_get(src->manifest, "tool"));
    char *path = s_plugin_path(
        file, json_string_value(json_object_get(src->manifest, "plugin")));
    char why[512];
    orcs_status rc = ORCS_EINVAL;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *dl = dlerror();
        snprintf(err, err_size, "%s:%d: plugin: cannot load '%s': %s", file,
                 line, path, dl ? dl : "unknown error");
        goto cleanup;
    }
    void *sym = dlsym(handle, ORCS_TOOL_PLUGIN_SYMBOL);
    orcs_tool_plugin_fn *entry_fn = NULL;
    if (sym)
        memcpy(&entry_fn, &sym, sizeof entry_fn);
    const orcs_tool_entry_t *entries = entry_fn ? entry_fn() : NULL;
    const orcs_tool_entry_t *entry =
        entries ? s_plugin_pick(entries, tool, why, sizeof why) : NULL;
    if (!entry_fn)
        snprintf(why, sizeof why, "has no symbol %s", ORCS_TOOL_PLUGIN_SYMBOL);
    else if (!entries)
        snprintf(why, sizeof why, "%s() returned no tools",
                 ORCS_TOOL_PLUGIN_SYMBOL);
    if (!entry) {
        snprintf(err, err_size, "%s:%d: plugin: '%s' %s", file, line, path,
                 why);
        dlclose(handle);
        goto cleanup;
    }
    src->fn = entry->fn;
    src->plugin = orcs_calloc(1, sizeof *src->plugin);
    atomic_init(&src->plugin->refs, 1);
    src->plugin->handle = handle;
    rc = ORCS_OK;
cleanup:
    free(path);
    return rc;
}

// ---------------------------------------------------------------------------
// Sources

static orcs__tool_source_t *
s_sources_add(s_sources_t *list)
{
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->items =
            orcs_realloc(list->items, list->cap * sizeof *list->items);
    }
    orcs__tool_source_t *src = &list->items[list->count++];
    memset(src, 0, sizeof *src);
    return src;
}

static void
s_sources_clear(s_sources_t *list)
{
    for (size_t i = 0; i < list->count; i++) {
        json_decref(list->items[i].manifest);
        free(list->items[i].file);
        orcs__plugin_unref(&list->items[i].plugin);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

static void
s_add_error(json_t *errors, const char *text)
{
    if (errors)
        json_array_append_new(errors, json_string(text));
}

// Reads a whole file (at most ORCS_TOOL_MANIFEST_MAX + 1 bytes, so the
// parser can say it is too big). Caller frees *text_p.
static orcs_status
s_read_file(
    const char *path, char **text_p, size_t *size_p, char *err, size_t err_size)
{
    *text_p = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ORCS_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "%s: not a regular file", path);
        close(fd);
        return ORCS_EIO;
    }
    size_t cap = (size_t) st.st_size > ORCS_TOOL_MANIFEST_MAX
                     ? ORCS_TOOL_MANIFEST_MAX + 1
                     : (size_t) st.st_size;
    char *text = orcs_malloc(cap + 1);
    size_t size = 0;
    while (size < cap) {
        ssize_t n = read(fd, text + size, cap - size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "%s: cannot read: %s", path,
                     strerror(errno));
            free(text);
            close(fd);
            return ORCS_EIO;
        }
        if (n == 0)
            break;
        size += (size_t) n;
    }
    close(fd);
    text[size] = '\0';
    *text_p = text;
    *size_p = size;
    return ORCS_OK;
}

// Reads, parses and checks one manifest file; on success adds a source.
static void
s_load_file(const char *path, s_sources_t *files, json_t *errors)
{
    char err[S_ERR_MAX];
    char *text = NULL;
    size_t size = 0;
    json_t *manifest = NULL;
    orcs_yaml_t *yaml = NULL;
    if (s_read_file(path, &text, &size, err, sizeof err) != ORCS_OK
        || orcs__tool_manifest_parse(text, size, path, &manifest, &yaml, err,
                                     sizeof err)
               != ORCS_OK) {
        s_add_error(errors, err);
        goto cleanup;
    }
    orcs__tool_source_t src = {.manifest = manifest,
                               .line = orcs_yaml_line(yaml, "tool")};
    const char *kind = json_string_value(json_object_get(manifest, "kind"));
    if (strcmp(kind, "plugin") == 0
        && s_plugin_open(yaml, &src, err, sizeof err) != ORCS_OK) {
        s_add_error(errors, err);
        goto cleanup;
    }
    src.file = orcs_strdup(path);
    *s_sources_add(files) = src;
    manifest = NULL;
cleanup:
    json_decref(manifest);
    orcs_yaml_destroy(&yaml);
    free(text);
}

static bool
s_is_manifest_name(const char *name)
{
    static const char *const suffixes[] = {".tool.yaml", ".tool.yml",
                                           ".tool.json", NULL};
    size_t len = strlen(name);
    if (name[0] == '.')
        return false;
    for (size_t i = 0; suffixes[i]; i++) {
        size_t n = strlen(suffixes[i]);
        if (len > n && strcmp(name + len - n, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static int
s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

// Loads every manifest of one directory, in name order.
static void
s_load_dir(const char *dir, s_sources_t *files, json_t *errors)
{
    char err[S_ERR_MAX];
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, sizeof err, "%s: cannot read directory: %s", dir,
                 strerror(errno));
        s_add_error(errors, err);
        return;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) && count < S_DIR_FILES) {
        if (!s_is_manifest_name(entry->d_name))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 32;
            names = orcs_realloc(names, cap * sizeof *names);
        }
        names[count++] = orcs_strdup(entry->d_name);
    }
    closedir(d);
    if (count > 0)
        qsort(names, count, sizeof *names, s_str_cmp);
    for (size_t i = 0; i < count; i++) {
        size_t size = strlen(dir) + 1 + strlen(names[i]) + 1;
        char *path = orcs_malloc(size);
        snprintf(path, size, "%s/%s", dir, names[i]);
        s_load_file(path, files, errors);
        free(path);
        free(names[i]);
    }
    free(names);
}

// ---------------------------------------------------------------------------
// The registry

// Builds a set from the C tools and the last load's manifests and makes it
// current. Called with load_lock held.
static void
s_rebuild(orcs_tools_t *self, json_t *errors)
{
    orcs_toolset_t *set =
        orcs__toolset_build(self->ctools.items, self->ctools.count,
                            self->files.items, self->files.count, errors);
    pthread_mutex_lock(&self->lock);
    orcs__toolset_set_generation(set, ++self->generation);
    orcs_toolset_t *old = self->current;
    self->current = set;
    pthread_mutex_unlock(&self->lock);
    orcs_toolset_release(&old);
}

orcs_tools_t *
orcs_tools_new(void)
{
    orcs_tools_t *self = orcs_calloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    pthread_mutex_init(&self->load_lock, NULL);
    s_rebuild(self, NULL);
    return self;
}

void
orcs_tools_destroy(orcs_tools_t **self_p)
{
    orcs_assert(self_p);
    orcs_tools_t *self = *self_p;
    if (!self)
        return;
    orcs_toolset_release(&self->current);
    s_sources_clear(&self->files);
    s_sources_clear(&self->ctools);
    json_decref(self->dirs);
    free(self->base_dir);
    pthread_mutex_destroy(&self->load_lock);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

orcs_toolset_t *
orcs_tools_acquire(orcs_tools_t *self)
{
    orcs_assert(self);
    pthread_mutex_lock(&self->lock);
    orcs_toolset_t *set = orcs__toolset_ref(self->current);
    pthread_mutex_unlock(&self->lock);
    return set;
}

orcs_status
orcs_tools_register(orcs_tools_t *self,
                    const json_t *manifest,
                    orcs_tool_fn *fn,
                    void *arg,
                    char *err,
                    size_t err_size)
{
    orcs_assert(self);
    if (err_size > 0)
        err[0] = '\0';
    if (!manifest || !fn) {
        if (err_size > 0)
            snprintf(err, err_size, "a C tool needs a manifest and a function");
        return ORCS_EINVAL;
    }
    json_t *doc = json_deep_copy(manifest);
    orcs_status rc = orcs__tool_manifest_check_c(doc, err, err_size);
    if (rc != ORCS_OK) {
        json_decref(doc);
        return rc;
    }
    pthread_mutex_lock(&self->load_lock);
    const char *name = json_string_value(json_object_get(doc, "tool"));
    char wire[ORCS_TOOL_NAME_MAX + 1];
    orcs_tool_wire_name(name, wire);
    orcs_toolset_t *set = orcs_tools_acquire(self);
    const orcs_tool_t *taken = orcs_toolset_find(set, name);
    if (!taken)
        taken = orcs_toolset_find(set, wire);
    if (taken) {
        if (err_size > 0)
            snprintf(err, err_size, "tool: '%s' collides with '%s' (%s)", name,
                     taken->name, taken->file ? taken->file : taken->kind);
        rc = ORCS_EEXIST;
    } else {
        orcs__tool_source_t *src = s_sources_add(&self->ctools);
        src->manifest = doc;
        src->fn = fn;
        src->fn_arg = arg;
        doc = NULL;
        s_rebuild(self, NULL);
    }
    orcs_toolset_release(&set);
    pthread_mutex_unlock(&self->load_lock);
    json_decref(doc);
    return rc;
}

// Reads the directories into a new list of sources and rebuilds.
static void
s_load(orcs_tools_t *self, json_t *errors)
{
    s_sources_t files = {0};
    size_t i;
    json_t *dir;
    json_array_foreach(self->dirs, i, dir)
    {
        const char *path = json_string_value(dir);
        if (path[0] == '/' || !self->base_dir) {
            s_load_dir(path, &files, errors);
            continue;
        }
        size_t size = strlen(self->base_dir) + 1 + strlen(path) + 1;
        char *full = orcs_malloc(size);
        snprintf(full, size, "%s/%s", self->base_dir, path);
        s_load_dir(full, &files, errors);
        free(full);
    }
    s_sources_clear(&self->files);
    self->files = files;
    s_rebuild(self, errors);
}

orcs_status
orcs_tools_load(orcs_tools_t *self,
                const json_t *dirs,
                const char *base_dir,
                json_t **errors_p)
{
    orcs_assert(self);
    if (errors_p)
        *errors_p = NULL;
    bool ok = json_is_array(dirs);
    size_t i;
    const json_t *dir;
    json_array_foreach(dirs, i, dir)
    {
        if (!json_is_string(dir) || json_string_length(dir) == 0
            || strlen(json_string_value(dir)) != json_string_length(dir))
            ok = false;
    }
    if (!ok)
        return ORCS_EINVAL;
    json_t *errors = json_array();
    pthread_mutex_lock(&self->load_lock);
    json_decref(self->dirs);
    self->dirs = json_deep_copy(dirs);
    free(self->base_dir);
    self->base_dir = base_dir ? orcs_strdup(base_dir) : NULL;
    s_load(self, errors);
    pthread_mutex_unlock(&self->load_lock);
    if (errors_p)
        *errors_p = errors;
    else
        json_decref(errors);
    return ORCS_OK;
}

orcs_status
orcs_tools_reload(orcs_tools_t *self, json_t **errors_p)
{
    orcs_assert(self);
    json_t *errors = json_array();
    pthread_mutex_lock(&self->load_lock);
    s_load(self, errors);
    pthread_mutex_unlock(&self->load_lock);
    if (errors_p)
        *errors_p = errors;
    else
        json_decref(errors);
    return ORCS_OK;
}
