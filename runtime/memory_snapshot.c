/*  memory_snapshot.c — named snapshots of a memory scope, restore, and the
    sweep of expired keys. Key layout in memory.c.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"

#define S_SWEEP_BATCH  512  // expired keys removed per batch by a sweep
#define S_SWEEP_PASSES 64   // batches at most per sweep call
#define S_META_MAX     4096 // bytes of a snapshot's description

// A key (the part after a scan prefix) and its value, copied out of a txn.
typedef struct {
    char *key;       // NUL-terminated (a memory key holds no NUL)
    size_t key_size; // bytes of key (the sweep's hold NULs)
    uint8_t *data;   // value bytes
    size_t size;     // value size
} s_item_t;

typedef struct {
    s_item_t *items; // in key order
    size_t count;    // used
    size_t alloc;    // allocated
    size_t skip;     // bytes of the scan prefix
    size_t max;      // stop after this many (0 = no limit)
    int64_t now;     // sweep: keep only expired records
    bool expired;    // sweep: collect expired records only
} s_items_t;

static bool
s_items_add(const void *key,
            size_t key_size,
            const void *value,
            size_t value_size,
            void *arg)
{
    s_items_t *items = arg;
    if (items->expired) {
        orcs__memory_rec_t rec;
        bool gone = orcs__memory_record_read(value, value_size, &rec) == ORCS_OK
                    && orcs__memory_rec_expired(&rec, items->now);
        json_decref(rec.doc);
        if (!gone)
            return true;
    }
    // Keys this module did not write (too long to rebuild) are left alone.
    size_t n = key_size - items->skip;
    if (items->expired ? key_size + 2 > ORCS_STORE_KEY_MAX
                       : n > ORCS_MEMORY_KEY_MAX)
        return true;
    if (items->count == items->alloc) {
        items->alloc = items->alloc ? items->alloc * 2 : 16;
        items->items =
            orcs_realloc(items->items, items->alloc * sizeof *items->items);
    }
    s_item_t *item = &items->items[items->count++];
    item->key = orcs_malloc(n + 1);
    memcpy(item->key, (const uint8_t *) key + items->skip, n);
    item->key[n] = '\0';
    item->key_size = n;
    item->data = orcs_malloc(value_size ? value_size : 1);
    memcpy(item->data, value, value_size);
    item->size = value_size;
    return items->max == 0 || items->count < items->max;
}

static void
s_items_free(s_items_t *items)
{
    for (size_t i = 0; i < items->count; i++) {
        free(items->items[i].key);
        free(items->items[i].data);
    }
    free(items->items);
    memset(items, 0, sizeof *items);
}

static orcs_status
s_scan(orcs_store_txn_t *txn,
       const orcs__memory_key_t *prefix,
       s_items_t *items)
{
    items->skip = prefix->size;
    return orcs_store_txn_scan(txn, ORCS_DB_MEMORY, prefix->data, prefix->size,
                               s_items_add, items);
}

// 'S' ... NAME: a snapshot's description.
static void
s_key_meta(orcs__memory_key_t *k,
           const orcs__memory_ctx_t *ctx,
           const char *name)
{
    orcs__memory_key_init(k, 'S', ctx);
    orcs__memory_key_add(k, name, strlen(name));
}

// 's' ... NAME 0: the prefix of a snapshot's entries.
static void
s_key_entries(orcs__memory_key_t *k,
              const orcs__memory_ctx_t *ctx,
              const char *name)
{
    orcs__memory_key_init(k, 's', ctx);
    orcs__memory_key_add(k, name, strlen(name) + 1);
}

// Reads a snapshot description; borrowed bytes as orcs_store_txn_get.
static orcs_status
s_get_meta(orcs_store_txn_t *txn,
           const orcs__memory_ctx_t *ctx,
           const char *name,
           const void **data_p,
           size_t *size_p)
{
    orcs__memory_key_t k;
    s_key_meta(&k, ctx, name);
    *data_p = NULL;
    *size_p = 0;
    return orcs_store_txn_get(txn, ORCS_DB_MEMORY, k.data, k.size, data_p,
                              size_p);
}

typedef orcs_status(s_stage_fn)(orcs_memory_t *self,
                                orcs_store_txn_t *txn,
                                const orcs__memory_ctx_t *ctx,
                                const char *name,
                                orcs_batch_t *batch,
                                size_t *count_p);

// Checks the name and access, then runs stage inside a read transaction.
static orcs_status
s_prepare(orcs_memory_t *self,
          const char *caller,
          const char *scope,
          const char *name,
          const char *op,
          bool wait,
          s_stage_fn *stage,
          orcs_batch_t **batch_p,
          size_t *count_p)
{
    orcs_assert(batch_p);
    *batch_p = NULL;
    orcs__memory_ctx_t ctx;
    orcs_status rc = orcs__memory_check_name(name);
    if (rc == ORCS_OK)
        rc =
            orcs__memory_begin(self, caller, scope, NULL, op, true, wait, &ctx);
    if (rc != ORCS_OK)
        return rc;
    orcs_store_txn_t *txn = NULL;
    orcs_batch_t *batch = orcs_batch_new();
    size_t count = 0;
    rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = stage(self, txn, &ctx, name, batch, &count);
    orcs_store_txn_end(&txn);
    if (rc != ORCS_OK) {
        orcs_batch_destroy(&batch);
        return rc;
    }
    *batch_p = batch;
    if (count_p)
        *count_p = count;
    return ORCS_OK;
}

// Prepares, then writes with retries on concurrent changes.
static orcs_status
s_run(orcs_memory_t *self,
      const char *caller,
      const char *scope,
      const char *name,
      const char *op,
      s_stage_fn *stage,
      size_t *count_p)
{
    for (int attempt = 0; attempt < ORCS__MEMORY_RETRIES; attempt++) {
        orcs_batch_t *batch = NULL;
        size_t count = 0;
        orcs_status rc = s_prepare(self, caller, scope, name, op, true, stage,
                                   &batch, &count);
        if (rc == ORCS_OK)
            rc = orcs_store_write(self->store, &batch);
        if (rc == ORCS_OK && count_p)
            *count_p = count;
        if (rc != ORCS_EEXIST)
            return rc;
        orcs__memory_backoff(attempt);
    }
    return ORCS_EAGAIN;
}

// ---------------------------------------------------------------------------
// Snapshot

static orcs_status
s_stage_snapshot(orcs_memory_t *self,
                 orcs_store_txn_t *txn,
                 const orcs__memory_ctx_t *ctx,
                 const char *name,
                 orcs_batch_t *batch,
                 size_t *count_p)
{
    const void *meta = NULL;
    size_t meta_size = 0;
    orcs_status rc = s_get_meta(txn, ctx, name, &meta, &meta_size);
    orcs__memory_key_t k, entries;
    s_key_meta(&k, ctx, name);
    s_key_entries(&entries, ctx, name);
    if (rc == ORCS_OK || rc == ORCS_ENOTFOUND)
        rc = orcs_batch_check(batch, ORCS_DB_MEMORY, k.data, k.size, meta,
                              meta_size);
    if (rc == ORCS_OK)
        rc = orcs__memory_stage_del_prefix(txn, batch, &entries);
    orcs__memory_key_t current;
    orcs__memory_key_init(&current, 'k', ctx);
    s_items_t items = {0};
    if (rc == ORCS_OK)
        rc = s_scan(txn, &current, &items);
    int64_t now = orcs__memory_now(self);
    size_t count = 0;
    for (size_t i = 0; rc == ORCS_OK && i < items.count; i++) {
        orcs__memory_rec_t rec;
        if (orcs__memory_record_read(items.items[i].data, items.items[i].size,
                                     &rec)
                != ORCS_OK
            || orcs__memory_rec_expired(&rec, now)) {
            json_decref(rec.doc);
            continue;
        }
        json_decref(rec.doc);
        orcs__memory_key_t e = entries;
        orcs__memory_key_add(&e, items.items[i].key,
                             strlen(items.items[i].key));
        rc = orcs_batch_put(batch, ORCS_DB_MEMORY, e.data, e.size,
                            items.items[i].data, items.items[i].size);
        count++;
    }
    s_items_free(&items);
    json_t *doc =
        json_pack("{s:i, s:I, s:I, s:s}", "schema", (int) ORCS_MEMORY_SCHEMA,
                  "created_us", (json_int_t) now, "keys", (json_int_t) count,
                  "writer", ctx->caller ? ctx->caller : "");
    uint8_t *data = NULL;
    size_t size = 0;
    if (rc == ORCS_OK)
        rc = doc ? orcs_doc_encode(doc, &data, &size) : ORCS_EINVAL;
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_MEMORY, k.data, k.size, data, size);
    free(data);
    json_decref(doc);
    *count_p = count;
    return rc;
}

orcs_status
orcs_memory_prepare_snapshot(orcs_memory_t *self,
                             const char *caller,
                             const char *scope,
                             const char *name,
                             orcs_batch_t **batch_p,
                             size_t *count_p)
{
    return s_prepare(self, caller, scope, name, "snapshot", false,
                     s_stage_snapshot, batch_p, count_p);
}

orcs_status
orcs_memory_snapshot(orcs_memory_t *self,
                     const char *caller,
                     const char *scope,
                     const char *name,
                     size_t *count_p)
{
    return s_run(self, caller, scope, name, "snapshot", s_stage_snapshot,
                 count_p);
}

// ---------------------------------------------------------------------------
// Restore

// Stages one key of the merge: snap (may be NULL) is its snapshot record,
// cur (may be NULL) its current one.
static orcs_status
s_stage_restore_key(orcs_memory_t *self,
                    orcs_store_txn_t *txn,
                    const orcs__memory_ctx_t *ctx,
                    orcs_batch_t *batch,
                    const s_item_t *snap,
                    const s_item_t *cur,
                    size_t *count_p)
{
    const char *key = snap ? snap->key : cur->key;
    orcs__memory_rec_t rec = {0};
    bool keep =
        snap
        && orcs__memory_record_read(snap->data, snap->size, &rec) == ORCS_OK
        && !orcs__memory_rec_expired(&rec, orcs__memory_now(self));
    orcs_status rc = ORCS_OK;
    if (keep) {
        rc = orcs__memory_stage_put(
            self, txn, batch, ctx, key, json_object_get(rec.doc, "value"),
            rec.expires_us, cur ? cur->data : NULL, cur ? cur->size : 0, NULL);
        (*count_p)++;
    } else if (cur) {
        rc = orcs__memory_stage_delete(txn, batch, ctx, key, cur->data,
                                       cur->size);
    }
    json_decref(rec.doc);
    return rc;
}

static orcs_status
s_stage_restore(orcs_memory_t *self,
                orcs_store_txn_t *txn,
                const orcs__memory_ctx_t *ctx,
                const char *name,
                orcs_batch_t *batch,
                size_t *count_p)
{
    const void *meta = NULL;
    size_t meta_size = 0;
    orcs_status rc = s_get_meta(txn, ctx, name, &meta, &meta_size);
    orcs__memory_key_t k, entries, current;
    s_key_meta(&k, ctx, name);
    s_key_entries(&entries, ctx, name);
    orcs__memory_key_init(&current, 'k', ctx);
    if (rc == ORCS_OK) // the snapshot must not change under us
        rc = orcs_batch_check(batch, ORCS_DB_MEMORY, k.data, k.size, meta,
                              meta_size);
    s_items_t snap = {0}, cur = {0};
    if (rc == ORCS_OK)
        rc = s_scan(txn, &entries, &snap);
    if (rc == ORCS_OK)
        rc = s_scan(txn, &current, &cur);
    // Both lists are in key order (LMDB's bytewise order is strcmp's).
    size_t i = 0, j = 0;
    while (rc == ORCS_OK && (i < snap.count || j < cur.count)) {
        int order = i == snap.count ? 1
                    : j == cur.count
                        ? -1
                        : strcmp(snap.items[i].key, cur.items[j].key);
        const s_item_t *s = order <= 0 ? &snap.items[i++] : NULL;
        const s_item_t *c = order >= 0 ? &cur.items[j++] : NULL;
        rc = s_stage_restore_key(self, txn, ctx, batch, s, c, count_p);
    }
    s_items_free(&snap);
    s_items_free(&cur);
    return rc;
}

orcs_status
orcs_memory_prepare_restore(orcs_memory_t *self,
                            const char *caller,
                            const char *scope,
                            const char *name,
                            orcs_batch_t **batch_p,
                            size_t *count_p)
{
    return s_prepare(self, caller, scope, name, "restore", false,
                     s_stage_restore, batch_p, count_p);
}

orcs_status
orcs_memory_restore(orcs_memory_t *self,
                    const char *caller,
                    const char *scope,
                    const char *name,
                    size_t *count_p)
{
    return s_run(self, caller, scope, name, "restore", s_stage_restore,
                 count_p);
}

// ---------------------------------------------------------------------------
// Drop and list

static orcs_status
s_stage_drop(orcs_memory_t *self,
             orcs_store_txn_t *txn,
             const orcs__memory_ctx_t *ctx,
             const char *name,
             orcs_batch_t *batch,
             size_t *count_p)
{
    (void) self;
    (void) count_p;
    const void *meta = NULL;
    size_t meta_size = 0;
    orcs_status rc = s_get_meta(txn, ctx, name, &meta, &meta_size);
    orcs__memory_key_t k, entries;
    s_key_meta(&k, ctx, name);
    s_key_entries(&entries, ctx, name);
    if (rc == ORCS_OK)
        rc = orcs_batch_check(batch, ORCS_DB_MEMORY, k.data, k.size, meta,
                              meta_size);
    if (rc == ORCS_OK)
        rc = orcs_batch_del(batch, ORCS_DB_MEMORY, k.data, k.size);
    if (rc == ORCS_OK)
        rc = orcs__memory_stage_del_prefix(txn, batch, &entries);
    return rc;
}

orcs_status
orcs_memory_snapshot_drop(orcs_memory_t *self,
                          const char *caller,
                          const char *scope,
                          const char *name)
{
    return s_run(self, caller, scope, name, "snapshot_drop", s_stage_drop,
                 NULL);
}

// Turns a description into {"name", "created_us", "keys", "writer"}, or
// NULL when it is damaged.
static json_t *
s_meta_entry(const s_item_t *item)
{
    orcs_doc_limits_t limits = {S_META_MAX, 4, 64};
    json_t *doc = NULL;
    if (orcs_doc_decode(item->data, item->size, &limits, &doc) != ORCS_OK)
        return NULL;
    json_t *created = json_object_get(doc, "created_us");
    json_t *keys = json_object_get(doc, "keys");
    json_t *writer = json_object_get(doc, "writer");
    json_t *name = json_string(item->key);
    json_t *entry = NULL;
    if (json_is_integer(created) && json_is_integer(keys)
        && json_is_string(writer) && name)
        entry = json_pack("{s:O, s:O, s:O, s:O}", "name", name, "created_us",
                          created, "keys", keys, "writer", writer);
    json_decref(name);
    json_decref(doc);
    return entry;
}

orcs_status
orcs_memory_snapshots(orcs_memory_t *self,
                      const char *caller,
                      const char *scope,
                      json_t **snapshots_p)
{
    orcs_assert(snapshots_p);
    *snapshots_p = NULL;
    orcs__memory_ctx_t ctx;
    orcs_status rc = orcs__memory_begin(self, caller, scope, NULL, "snapshots",
                                        false, true, &ctx);
    if (rc != ORCS_OK)
        return rc;
    orcs__memory_key_t k;
    orcs__memory_key_init(&k, 'S', &ctx);
    s_items_t items = {0};
    orcs_store_txn_t *txn = NULL;
    rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = s_scan(txn, &k, &items);
    orcs_store_txn_end(&txn);
    json_t *list = json_array();
    for (size_t i = 0; rc == ORCS_OK && i < items.count; i++) {
        json_t *entry = s_meta_entry(&items.items[i]);
        if (entry)
            json_array_append_new(list, entry);
        else
            orcs_log_debug("memory", "damaged snapshot description name=%s",
                           items.items[i].key);
    }
    s_items_free(&items);
    if (rc == ORCS_OK)
        *snapshots_p = json_incref(list);
    json_decref(list);
    return rc;
}

// ---------------------------------------------------------------------------
// Sweep

orcs_status
orcs_memory_prepare_sweep(orcs_memory_t *self,
                          orcs_batch_t **batch_p,
                          size_t *count_p)
{
    orcs_assert(self && batch_p);
    *batch_p = NULL;
    s_items_t items = {0};
    items.max = S_SWEEP_BATCH;
    items.expired = true;
    items.now = orcs__memory_now(self);
    orcs__memory_key_t all = {.data = {'k'}, .size = 1};
    orcs_store_txn_t *txn = NULL;
    orcs_batch_t *batch = orcs_batch_new();
    orcs_status rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = s_scan(txn, &all, &items);
    // items.skip is 1: an item's key is PREFIX 0 SCOPE 0 KEY.
    for (size_t i = 0; rc == ORCS_OK && i < items.count; i++) {
        const s_item_t *item = &items.items[i];
        orcs__memory_key_t k = {.data = {'k'}, .size = 1};
        orcs__memory_key_t h = {.data = {'h'}, .size = 1};
        orcs__memory_key_add(&k, item->key, item->key_size);
        orcs__memory_key_add(&h, item->key, item->key_size + 1);
        rc = orcs_batch_check(batch, ORCS_DB_MEMORY, k.data, k.size, item->data,
                              item->size);
        if (rc == ORCS_OK)
            rc = orcs_batch_del(batch, ORCS_DB_MEMORY, k.data, k.size);
        if (rc == ORCS_OK)
            rc = orcs__memory_stage_del_prefix(txn, batch, &h);
    }
    orcs_store_txn_end(&txn);
    size_t found = items.count;
    s_items_free(&items);
    if (rc == ORCS_OK && found > 0)
        *batch_p = batch;
    else
        orcs_batch_destroy(&batch);
    if (count_p)
        *count_p = rc == ORCS_OK ? found : 0;
    return rc;
}

orcs_status
orcs_memory_sweep(orcs_memory_t *self, size_t *removed_p)
{
    orcs_assert(self);
    size_t removed = 0;
    orcs_status rc = ORCS_OK;
    for (int pass = 0; pass < S_SWEEP_PASSES; pass++) {
        size_t found = 0;
        orcs_batch_t *batch = NULL;
        rc = orcs_memory_prepare_sweep(self, &batch, &found);
        if (rc == ORCS_OK && batch)
            rc = orcs_store_write(self->store, &batch);
        if (rc == ORCS_EEXIST)
            continue; // a key changed meanwhile: look again
        if (rc != ORCS_OK)
            break;
        removed += found;
        if (found < S_SWEEP_BATCH)
            break;
    }
    if (removed_p)
        *removed_p = removed;
    return rc == ORCS_EEXIST ? ORCS_OK : rc;
}
