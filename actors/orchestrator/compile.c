/*  actors/orchestrator/compile.c — the orchestrator's cache of compiled
    workflows.
    SPDX-License-Identifier: MPL-2.0

    A service starts the same workflow again and again; parsing,
    validating and compiling it each time costs more than running a short
    one. A loaded workflow is immutable and reference-counted, so runs of
    the same workflow share one. The cache knows a file by its path and the
    BLAKE2b of its bytes (a changed file is a new entry; reading and
    hashing a few kilobytes costs microseconds, and modification times are
    too coarse to trust), and a document given in run.start by the BLAKE2b
    of its values in their order (orcs_doc_hash) and the directory its
    relative paths resolve in. run.start finds a cached document from the
    body's bytes (o_compile_cached_doc after orcs_doc_decode_hashing)
    without decoding it: a 100,000-node document took longer to decode
    and free than to run. It holds the O_CACHE_MAX most recently used; the
   least recently used goes first. Failed compilations are not cached: their
   errors are reported again each time. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "actors/orchestrator/orch_internal.h"
#include "orcs/doc.h"
#include "orcs/sys.h"
#include "orcs/yaml.h"

#define O_CACHE_MAX 64                 // compiled workflows kept
#define S_FILE_MAX  ORCS_YAML_MAX_SIZE // bytes of a file hashed for its key

typedef struct {
    orcs_workflow_t *wf; // one reference held by the cache
    uint64_t used;       // self->cache_tick at the last use
} s_entry_t;

static void
s_entry_free(void **item_p)
{
    s_entry_t *entry = *item_p;
    if (!entry)
        return;
    orcs_workflow_destroy(&entry->wf);
    free(entry);
    *item_p = NULL;
}

// The key of a file: its path and the BLAKE2b of its bytes (a file
// rewritten within one tick of the clock, at the same size, is still a new
// text). False when it cannot be read or is over ORCS_YAML_MAX_SIZE: the
// loader then says why.
static bool
s_file_key(const char *path, char *key, size_t size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return false;
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, 16);
    uint8_t buf[16384];
    size_t total = 0, got;
    while ((got = fread(buf, 1, sizeof buf, file)) > 0 && total <= S_FILE_MAX) {
        crypto_generichash_update(&state, buf, got);
        total += got;
    }
    bool ok = !ferror(file) && total <= S_FILE_MAX;
    fclose(file);
    uint8_t hash[16];
    crypto_generichash_final(&state, hash, sizeof hash);
    char hex[sizeof hash * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    int n = snprintf(key, size, "f:%s:%s", hex, path);
    return ok && n > 0 && (size_t) n < size;
}

// The key of a document from its hash (orcs_doc_hash, or
// orcs_doc_decode_hashing on a run.start body) and the directory.
static bool
s_hash_key(const uint8_t hash[ORCS_DOC_HASH_SIZE],
           const char *dir,
           char *key,
           size_t size)
{
    char hex[ORCS_DOC_HASH_SIZE * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, hash, ORCS_DOC_HASH_SIZE);
    int n = snprintf(key, size, "d:%s:%s", hex, dir ? dir : "");
    return n > 0 && (size_t) n < size;
}

// The key of a document, or false when it cannot be hashed.
static bool
s_doc_key(const json_t *doc, const char *dir, char *key, size_t size)
{
    uint8_t hash[ORCS_DOC_HASH_SIZE];
    return orcs_doc_hash(doc, hash) && s_hash_key(hash, dir, key, size);
}

static void
s_evict(o_state_t *self)
{
    while (zhashx_size(self->wf_cache) > O_CACHE_MAX) {
        const char *oldest = NULL;
        uint64_t used = UINT64_MAX;
        for (s_entry_t *entry = zhashx_first(self->wf_cache); entry;
             entry = zhashx_next(self->wf_cache))
            if (entry->used < used) {
                used = entry->used;
                oldest = zhashx_cursor(self->wf_cache);
            }
        if (!oldest)
            return;
        zhashx_delete(self->wf_cache, oldest);
    }
}

orcs_workflow_t *
o_compile_cached_doc(o_state_t *self,
                     const uint8_t hash[ORCS_DOC_HASH_SIZE],
                     const char *dir)
{
    char key[PATH_MAX + 128];
    s_entry_t *entry = self->wf_cache && s_hash_key(hash, dir, key, sizeof key)
                           ? zhashx_lookup(self->wf_cache, key)
                           : NULL;
    if (!entry)
        return NULL; // o_compile counts the miss
    self->cache_hits++;
    entry->used = ++self->cache_tick;
    return orcs_workflow_ref(entry->wf);
}

orcs_status
o_compile(o_state_t *self,
          const char *path,
          const json_t *doc,
          const char *dir,
          orcs_workflow_t **wf_p,
          json_t **errors_p)
{
    *wf_p = NULL;
    if (errors_p)
        *errors_p = NULL;
    if (!self->wf_cache) {
        self->wf_cache = zhashx_new();
        zhashx_set_destructor(self->wf_cache, s_entry_free);
    }
    char key[PATH_MAX + 128];
    bool keyed = path ? s_file_key(path, key, sizeof key)
                      : s_doc_key(doc, dir, key, sizeof key);
    s_entry_t *entry = keyed ? zhashx_lookup(self->wf_cache, key) : NULL;
    if (entry) {
        self->cache_hits++;
        entry->used = ++self->cache_tick;
        *wf_p = orcs_workflow_ref(entry->wf);
        if (errors_p)
            *errors_p = json_array();
        return ORCS_OK;
    }
    self->cache_misses++;
    orcs_status rc = path ? orcs_workflow_load(path, wf_p, errors_p)
                          : orcs_workflow_from_doc(doc, dir, wf_p, errors_p);
    if (rc != ORCS_OK || !keyed)
        return rc;
    entry = orcs_calloc(1, sizeof *entry);
    entry->wf = orcs_workflow_ref(*wf_p);
    entry->used = ++self->cache_tick;
    zhashx_update(self->wf_cache, key, entry);
    s_evict(self);
    return ORCS_OK;
}

void
o_compile_cache_free(o_state_t *self)
{
    zhashx_destroy(&self->wf_cache);
}
