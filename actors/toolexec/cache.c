/*  cache.c — the tool result cache in the store's `cache` sub-database.
    SPDX-License-Identifier: MPL-2.0

    Key: the tool's name, a 0 byte, then the BLAKE2b-256 of the canonical
    JSON of the arguments (keys sorted, compact), so the same arguments in
    any key order hit the same entry. Value: MessagePack {result,
    expires_us} (wall clock). Expired entries are ignored and overwritten
    by the next result; nothing sweeps them yet.

    Writes go through orcs_store_write_async so the actor never waits on
    an fsync. Until a write is durable its value stays in a map of writes
    in flight, which lookups read first: a second identical call right
    after the first hits the cache even when the commit is still on its
    way. The writer thread's callback only flags the entry done and drops
    its reference; the actor removes done entries when it next meets
    them. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "actors/toolexec/toolexec_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"

#define S_HEX_SIZE (2 * ORCS_TOOLEXEC_CACHE_KEY + 1)

static void
s_unref(orcs__cache_write_t *write)
{
    if (atomic_fetch_sub(&write->refs, 1) != 1)
        return;
    free(write->value);
    free(write);
}

// The store's writer thread: touch nothing but the entry.
static void
s_on_written(orcs_status status, void *arg)
{
    (void) status; // a failed write just leaves the entry out of the cache
    orcs__cache_write_t *write = arg;
    atomic_store(&write->done, true);
    s_unref(write);
}

static void
s_hex(const orcs__call_t *call, char hex[S_HEX_SIZE])
{
    sodium_bin2hex(hex, S_HEX_SIZE, call->cache_key, call->cache_key_size);
}

orcs_status
orcs__cache_key(orcs__call_t *call)
{
    call->cache_key_size = 0;
    size_t name_size = strlen(call->tool->name);
    char *text = orcs_doc_to_text(call->args, JSON_SORT_KEYS | JSON_COMPACT);
    if (!text || name_size > ORCS_TOOL_NAME_MAX) {
        free(text);
        return ORCS_EINVAL;
    }
    memcpy(call->cache_key, call->tool->name, name_size);
    call->cache_key[name_size] = 0;
    crypto_generichash(call->cache_key + name_size + 1, 32,
                       (const unsigned char *) text, strlen(text), NULL, 0);
    free(text);
    call->cache_key_size = name_size + 1 + 32;
    return ORCS_OK;
}

// Decodes a value; a live one gives its result.
static orcs_status
s_decode(const void *data, size_t size, json_t **result_p)
{
    json_t *doc = NULL;
    if (orcs_doc_decode(data, size, NULL, &doc) != ORCS_OK)
        return ORCS_ENOTFOUND;
    json_t *expires = json_object_get(doc, "expires_us");
    json_t *result = json_object_get(doc, "result");
    orcs_status rc = ORCS_ENOTFOUND;
    if (json_is_integer(expires) && result
        && json_integer_value(expires) > orcs_clock_wall_us()) {
        *result_p = json_incref(result);
        rc = ORCS_OK;
    }
    json_decref(doc);
    return rc;
}

orcs_status
orcs__cache_get(orcs__toolexec_t *self,
                const orcs__call_t *call,
                json_t **result_p)
{
    *result_p = NULL;
    if (call->cache_key_size == 0)
        return ORCS_ENOTFOUND;
    char hex[S_HEX_SIZE];
    s_hex(call, hex);
    orcs__cache_write_t *write = zhashx_lookup(self->pending_writes, hex);
    if (write && !atomic_load(&write->done))
        return s_decode(write->value, write->size, result_p);
    if (write) { // durable now: the store has it
        zhashx_delete(self->pending_writes, hex);
        s_unref(write);
    }
    void *value = NULL;
    size_t size = 0;
    if (orcs_store_get(self->store, ORCS_DB_CACHE, call->cache_key,
                       call->cache_key_size, &value, &size)
        != ORCS_OK)
        return ORCS_ENOTFOUND;
    orcs_status rc = s_decode(value, size, result_p);
    free(value);
    return rc;
}

// Forgets writes that are durable (the store answers for them now).
static void
s_sweep(orcs__toolexec_t *self)
{
    zlistx_t *keys = zhashx_keys(self->pending_writes);
    for (const char *hex = zlistx_first(keys); hex; hex = zlistx_next(keys)) {
        orcs__cache_write_t *write = zhashx_lookup(self->pending_writes, hex);
        if (write && atomic_load(&write->done)) {
            zhashx_delete(self->pending_writes, hex);
            s_unref(write);
        }
    }
    zlistx_destroy(&keys);
}

void
orcs__cache_put(orcs__toolexec_t *self,
                const orcs__call_t *call,
                const json_t *result,
                int64_t ttl_s)
{
    if (call->cache_key_size == 0 || ttl_s <= 0)
        return;
    int64_t ttl_us =
        ttl_s > INT64_MAX / 2000000 ? INT64_MAX / 2 : ttl_s * 1000000;
    json_t *doc = json_pack("{s:O, s:I}", "result", result, "expires_us",
                            (json_int_t) (orcs_clock_wall_us() + ttl_us));
    uint8_t *value = NULL;
    size_t size = 0;
    orcs_status rc = orcs_doc_encode(doc, &value, &size);
    json_decref(doc);
    orcs_batch_t *batch = NULL;
    if (rc == ORCS_OK) {
        batch = orcs_batch_new();
        rc = orcs_batch_put(batch, ORCS_DB_CACHE, call->cache_key,
                            call->cache_key_size, value, size);
    }
    if (rc != ORCS_OK) {
        orcs_log_debug("toolexec", "result not cached tool=%s status=%s",
                       call->tool->name, orcs_status_name(rc));
        orcs_batch_destroy(&batch);
        free(value);
        return;
    }
    orcs__cache_write_t *write = orcs_calloc(1, sizeof *write);
    atomic_init(&write->done, false);
    atomic_init(&write->refs, 2); // the map and the writer
    write->value = value;
    write->size = size;
    rc = orcs_store_write_async(self->store, &batch, s_on_written, write);
    if (rc != ORCS_OK) { // the callback will not run
        orcs_log_debug("toolexec", "result not cached tool=%s status=%s",
                       call->tool->name, orcs_status_name(rc));
        free(value);
        free(write);
        return;
    }
    s_sweep(self);
    char hex[S_HEX_SIZE];
    s_hex(call, hex);
    orcs__cache_write_t *old = zhashx_lookup(self->pending_writes, hex);
    if (old) {
        zhashx_delete(self->pending_writes, hex);
        s_unref(old);
    }
    zhashx_insert(self->pending_writes, hex, write);
}

void
orcs__cache_clear(orcs__toolexec_t *self)
{
    if (!self->pending_writes)
        return;
    for (orcs__cache_write_t *write = zhashx_first(self->pending_writes); write;
         write = zhashx_next(self->pending_writes))
        s_unref(write);
    zhashx_purge(self->pending_writes);
}
