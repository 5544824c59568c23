/*  memory_write.c — memory writes: staging new versions and deletions into
    batches (history kept and pruned, CAS checks), put and delete. Key
    layout in memory.c.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"
#include "orcs/log.h"
#include "orcs/sys.h"

// ---------------------------------------------------------------------------
// Staging writes into a batch (inside a read transaction)

typedef struct {
    orcs__memory_key_t *keys; // collected LMDB keys
    size_t count;             // used
    size_t alloc;             // allocated
} s_keys_t;

static bool
s_keys_add(const void *key,
           size_t key_size,
           const void *value,
           size_t value_size,
           void *arg)
{
    (void) value;
    (void) value_size;
    s_keys_t *keys = arg;
    if (keys->count == keys->alloc) {
        keys->alloc = keys->alloc ? keys->alloc * 2 : 8;
        keys->keys = orcs_realloc(keys->keys, keys->alloc * sizeof *keys->keys);
    }
    orcs__memory_key_t *k = &keys->keys[keys->count++];
    k->size = key_size;
    memcpy(k->data, key, key_size);
    return true;
}

// Deletes the versions of key older than keep_from (0 = all of them).
static orcs_status
s_stage_prune(orcs_store_txn_t *txn,
              orcs_batch_t *batch,
              const orcs__memory_ctx_t *ctx,
              const char *key,
              uint64_t keep_from)
{
    orcs__memory_key_t k;
    orcs__memory_key_history(&k, ctx, key, 0);
    s_keys_t found = {0};
    orcs_status rc = orcs_store_txn_scan(txn, ORCS_DB_MEMORY, k.data, k.size,
                                         s_keys_add, &found);
    for (size_t i = 0; rc == ORCS_OK && i < found.count; i++) {
        const orcs__memory_key_t *h = &found.keys[i];
        uint64_t version = 0;
        if (h->size == k.size + 8)
            for (size_t b = 0; b < 8; b++)
                version = (version << 8) | h->data[k.size + b];
        if (keep_from == 0 || version < keep_from)
            rc = orcs_batch_del(batch, ORCS_DB_MEMORY, h->data, h->size);
    }
    free(found.keys);
    return rc;
}

orcs_status
orcs__memory_stage_del_prefix(orcs_store_txn_t *txn,
                              orcs_batch_t *batch,
                              const orcs__memory_key_t *prefix)
{
    s_keys_t found = {0};
    orcs_status rc = orcs_store_txn_scan(txn, ORCS_DB_MEMORY, prefix->data,
                                         prefix->size, s_keys_add, &found);
    for (size_t i = 0; rc == ORCS_OK && i < found.count; i++)
        rc = orcs_batch_del(batch, ORCS_DB_MEMORY, found.keys[i].data,
                            found.keys[i].size);
    free(found.keys);
    return rc;
}

// Stages a new version of key holding value, given the current record
// (cur_bytes NULL when absent). *version_p gets the new version.
orcs_status
orcs__memory_stage_put(orcs_memory_t *self,
                       orcs_store_txn_t *txn,
                       orcs_batch_t *batch,
                       const orcs__memory_ctx_t *ctx,
                       const char *key,
                       const json_t *value,
                       int64_t expires_us,
                       const void *cur_bytes,
                       size_t cur_size,
                       uint64_t *version_p)
{
    int64_t now = orcs__memory_now(self);
    orcs__memory_rec_t cur = {0};
    bool live = false;
    if (cur_bytes) {
        // A damaged current record is replaced, as an absent one would be.
        live = orcs__memory_record_read(cur_bytes, cur_size, &cur) == ORCS_OK
               && !orcs__memory_rec_expired(&cur, now);
        json_decref(cur.doc);
    }
    uint64_t version = live ? cur.version + 1 : 1;
    uint8_t *data = NULL;
    size_t size = 0;
    orcs_status rc = orcs__memory_record_encode(value, version, now, expires_us,
                                                ctx->caller, &data, &size);
    orcs__memory_key_t k;
    orcs__memory_key_item(&k, 'k', ctx, key);
    if (rc == ORCS_OK)
        rc = orcs_batch_check(batch, ORCS_DB_MEMORY, k.data, k.size, cur_bytes,
                              cur_size);
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_MEMORY, k.data, k.size, data, size);
    if (rc == ORCS_OK && live && self->versions_kept > 1) {
        orcs__memory_key_t h;
        orcs__memory_key_history(&h, ctx, key, cur.version);
        rc = orcs_batch_put(batch, ORCS_DB_MEMORY, h.data, h.size, cur_bytes,
                            cur_size);
    }
    // Keep versions [version - versions_kept + 1, version]; a key that
    // starts again at 1 drops whatever versions it had.
    if (rc == ORCS_OK && (!live || self->versions_kept == 1))
        rc = s_stage_prune(txn, batch, ctx, key, 0);
    else if (rc == ORCS_OK && version > self->versions_kept)
        rc = s_stage_prune(txn, batch, ctx, key,
                           version - self->versions_kept + 1);
    free(data);
    if (rc == ORCS_OK && version_p)
        *version_p = version;
    return rc;
}

// Stages the deletion of key (current record cur_bytes) and its versions.
orcs_status
orcs__memory_stage_delete(orcs_store_txn_t *txn,
                          orcs_batch_t *batch,
                          const orcs__memory_ctx_t *ctx,
                          const char *key,
                          const void *cur_bytes,
                          size_t cur_size)
{
    orcs__memory_key_t k;
    orcs__memory_key_item(&k, 'k', ctx, key);
    orcs_status rc = orcs_batch_check(batch, ORCS_DB_MEMORY, k.data, k.size,
                                      cur_bytes, cur_size);
    if (rc == ORCS_OK)
        rc = orcs_batch_del(batch, ORCS_DB_MEMORY, k.data, k.size);
    if (rc == ORCS_OK)
        rc = s_stage_prune(txn, batch, ctx, key, 0);
    return rc;
}

// ---------------------------------------------------------------------------
// Put and delete

static orcs_status
s_prepare_put(orcs_memory_t *self,
              const char *caller,
              const char *scope,
              const char *key,
              const json_t *value,
              const orcs_memory_put_opts_t *opts,
              bool wait,
              orcs_batch_t **batch_p,
              uint64_t *version_p)
{
    orcs_assert(batch_p);
    *batch_p = NULL;
    orcs_memory_put_opts_t none = {0, false, 0};
    if (!opts)
        opts = &none;
    orcs__memory_ctx_t ctx;
    orcs_status rc = orcs__memory_check_key(key, false);
    if (rc == ORCS_OK
        && (!value || opts->ttl_ms < 0
            || opts->ttl_ms > ORCS_MEMORY_TTL_MAX_MS))
        rc = ORCS_EINVAL;
    if (rc == ORCS_OK)
        rc = orcs__memory_begin(self, caller, scope, key,
                                opts->cas ? "cas" : "put", true, wait, &ctx);
    if (rc != ORCS_OK)
        return rc;
    orcs_store_txn_t *txn = NULL;
    rc = orcs_store_txn_begin(self->store, &txn);
    orcs__memory_rec_t cur = {0};
    const void *bytes = NULL;
    size_t size = 0;
    if (rc == ORCS_OK) {
        rc = orcs__memory_read_current(txn, &ctx, key, &cur, &bytes, &size);
        bool live = rc == ORCS_OK
                    && !orcs__memory_rec_expired(&cur, orcs__memory_now(self));
        if (rc == ORCS_ENOTFOUND || rc == ORCS_OK)
            rc = ORCS_OK;
        else if (rc == ORCS_EPROTO && !opts->cas)
            rc = ORCS_OK; // a damaged record is overwritten
        if (rc == ORCS_OK && opts->cas
            && opts->expect_version != (live ? cur.version : 0))
            rc = ORCS_EEXIST;
    }
    orcs_batch_t *batch = orcs_batch_new();
    int64_t expires_us =
        opts->ttl_ms > 0 ? orcs__memory_now(self) + opts->ttl_ms * 1000 : 0;
    if (rc == ORCS_OK)
        rc = orcs__memory_stage_put(self, txn, batch, &ctx, key, value,
                                    expires_us, bytes, size, version_p);
    orcs_store_txn_end(&txn);
    json_decref(cur.doc);
    if (rc == ORCS_OK)
        *batch_p = batch;
    else
        orcs_batch_destroy(&batch);
    return rc;
}

orcs_status
orcs_memory_prepare_put(orcs_memory_t *self,
                        const char *caller,
                        const char *scope,
                        const char *key,
                        const json_t *value,
                        const orcs_memory_put_opts_t *opts,
                        orcs_batch_t **batch_p,
                        uint64_t *version_p)
{
    return s_prepare_put(self, caller, scope, key, value, opts, false, batch_p,
                         version_p);
}

orcs_status
orcs_memory_put(orcs_memory_t *self,
                const char *caller,
                const char *scope,
                const char *key,
                const json_t *value,
                const orcs_memory_put_opts_t *opts,
                uint64_t *version_p)
{
    bool cas = opts && opts->cas;
    for (int attempt = 0; attempt < ORCS__MEMORY_RETRIES; attempt++) {
        orcs_batch_t *batch = NULL;
        uint64_t version = 0;
        orcs_status rc = s_prepare_put(self, caller, scope, key, value, opts,
                                       true, &batch, &version);
        if (rc == ORCS_OK)
            rc = orcs_store_write(self->store, &batch);
        if (rc == ORCS_OK && version_p)
            *version_p = version;
        if (rc != ORCS_EEXIST || cas)
            return rc;
        orcs__memory_backoff(attempt);
    }
    return ORCS_EAGAIN;
}

orcs_status
orcs_memory_cas(orcs_memory_t *self,
                const char *caller,
                const char *scope,
                const char *key,
                const json_t *value,
                uint64_t expect_version,
                uint64_t *version_p)
{
    orcs_memory_put_opts_t opts = {0, true, expect_version};
    return orcs_memory_put(self, caller, scope, key, value, &opts, version_p);
}

static orcs_status
s_prepare_delete(orcs_memory_t *self,
                 const char *caller,
                 const char *scope,
                 const char *key,
                 bool wait,
                 orcs_batch_t **batch_p)
{
    orcs_assert(batch_p);
    *batch_p = NULL;
    orcs__memory_ctx_t ctx;
    orcs_status rc = orcs__memory_check_key(key, false);
    if (rc == ORCS_OK)
        rc = orcs__memory_begin(self, caller, scope, key, "delete", true, wait,
                                &ctx);
    if (rc != ORCS_OK)
        return rc;
    orcs_store_txn_t *txn = NULL;
    rc = orcs_store_txn_begin(self->store, &txn);
    orcs__memory_rec_t cur = {0};
    const void *bytes = NULL;
    size_t size = 0;
    if (rc == ORCS_OK)
        rc = orcs__memory_read_current(txn, &ctx, key, &cur, &bytes, &size);
    if (rc == ORCS_OK && orcs__memory_rec_expired(&cur, orcs__memory_now(self)))
        rc = ORCS_ENOTFOUND;
    if (rc == ORCS_EPROTO && bytes)
        rc = ORCS_OK; // a damaged record can still be deleted
    orcs_batch_t *batch = orcs_batch_new();
    if (rc == ORCS_OK)
        rc = orcs__memory_stage_delete(txn, batch, &ctx, key, bytes, size);
    orcs_store_txn_end(&txn);
    json_decref(cur.doc);
    if (rc == ORCS_OK)
        *batch_p = batch;
    else
        orcs_batch_destroy(&batch);
    return rc;
}

orcs_status
orcs_memory_prepare_delete(orcs_memory_t *self,
                           const char *caller,
                           const char *scope,
                           const char *key,
                           orcs_batch_t **batch_p)
{
    return s_prepare_delete(self, caller, scope, key, false, batch_p);
}

orcs_status
orcs_memory_delete(orcs_memory_t *self,
                   const char *caller,
                   const char *scope,
                   const char *key)
{
    for (int attempt = 0; attempt < ORCS__MEMORY_RETRIES; attempt++) {
        orcs_batch_t *batch = NULL;
        orcs_status rc =
            s_prepare_delete(self, caller, scope, key, true, &batch);
        if (rc == ORCS_OK)
            rc = orcs_store_write(self->store, &batch);
        if (rc != ORCS_EEXIST)
            return rc;
        orcs__memory_backoff(attempt);
    }
    return ORCS_EAGAIN;
}
