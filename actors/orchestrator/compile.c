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
    of its values in their order (s_hash_json) and the directory its
    relative paths resolve in. It holds the O_CACHE_MAX most recently used; the
   least recently used goes first. Failed compilations are not cached: their
   errors are reported again each time. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "actors/orchestrator/orch_internal.h"
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

// Feeds a document to a hash without serialising it: a tag per value,
// lengths before bytes, object members in their order. Two documents that
// differ only in the order of their keys get two keys, which costs one
// more compilation and nothing else; sorting 100,000 node ids for every
// run.start cost more than the run's scheduling.
typedef struct {
    crypto_generichash_state state;
    uint8_t buf[4096];
    size_t used;
} s_hasher_t;

static void
s_hash_put(s_hasher_t *h, const void *data, size_t size)
{
    if (h->used + size > sizeof h->buf) {
        crypto_generichash_update(&h->state, h->buf, h->used);
        h->used = 0;
    }
    if (size > sizeof h->buf) {
        crypto_generichash_update(&h->state, data, size);
        return;
    }
    memcpy(h->buf + h->used, data, size);
    h->used += size;
}

static void
s_hash_bytes(s_hasher_t *h, char tag, const char *bytes, size_t size)
{
    uint64_t n = size;
    s_hash_put(h, &tag, 1);
    s_hash_put(h, &n, sizeof n);
    s_hash_put(h, bytes, size);
}

static void
s_hash_count(s_hasher_t *h, char tag, size_t count)
{
    uint64_t n = count;
    s_hash_put(h, &tag, 1);
    s_hash_put(h, &n, sizeof n);
}

static bool
s_hash_json(s_hasher_t *h, const json_t *value, int depth)
{
    if (depth > 1000)
        return false; // the decoder's own limit is far lower
    switch (json_typeof(value)) {
        case JSON_OBJECT: {
            s_hash_count(h, 'o', json_object_size(value));
            const char *key;
            json_t *member;
            json_object_foreach((json_t *) value, key, member)
            {
                s_hash_bytes(h, 'k', key, strlen(key));
                if (!s_hash_json(h, member, depth + 1))
                    return false;
            }
            return true;
        }
        case JSON_ARRAY: {
            s_hash_count(h, 'a', json_array_size(value));
            for (size_t i = 0; i < json_array_size(value); i++)
                if (!s_hash_json(h, json_array_get(value, i), depth + 1))
                    return false;
            return true;
        }
        case JSON_STRING:
            s_hash_bytes(h, 's', json_string_value(value),
                         json_string_length(value));
            return true;
        case JSON_INTEGER: {
            json_int_t n = json_integer_value(value);
            s_hash_bytes(h, 'i', (const char *) &n, sizeof n);
            return true;
        }
        case JSON_REAL: {
            double d = json_real_value(value);
            s_hash_bytes(h, 'r', (const char *) &d, sizeof d);
            return true;
        }
        case JSON_TRUE:
            s_hash_count(h, 't', 0);
            return true;
        case JSON_FALSE:
            s_hash_count(h, 'f', 0);
            return true;
        default:
            s_hash_count(h, 'n', 0);
            return true;
    }
}

// The key of a document, or false when it cannot be hashed.
static bool
s_doc_key(const json_t *doc, const char *dir, char *key, size_t size)
{
    s_hasher_t *h = orcs_calloc(1, sizeof *h);
    crypto_generichash_init(&h->state, NULL, 0, 16);
    bool ok = s_hash_json(h, doc, 0);
    crypto_generichash_update(&h->state, h->buf, h->used);
    uint8_t hash[16];
    crypto_generichash_final(&h->state, hash, sizeof hash);
    free(h);
    if (!ok)
        return false;
    char hex[sizeof hash * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    int n = snprintf(key, size, "d:%s:%s", hex, dir ? dir : "");
    return n > 0 && (size_t) n < size;
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
