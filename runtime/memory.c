/*  memory.c — scoped key-value memory on the store: the object, names,
    LMDB keys, value records and reads. Writes are in memory_write.c,
    snapshots and the sweep in memory_snapshot.c, access rules and the
    audit log in memory_rules.c. Design notes: docs/memory.md.
    SPDX-License-Identifier: MPL-2.0

    LMDB keys in the sub-database `memory` (TAG PREFIX 0 SCOPE 0 ...):
      'k' PREFIX 0 SCOPE 0 KEY              current record of a key
      'h' PREFIX 0 SCOPE 0 KEY 0 VERSION    an older version (8 bytes BE)
      'S' PREFIX 0 SCOPE 0 NAME             a snapshot's description
      's' PREFIX 0 SCOPE 0 NAME 0 KEY       a key's record in a snapshot
    PREFIX (the isolation prefix), SCOPE, KEY and NAME never hold a NUL, so
    a tenant's keys are exactly those under its 'k' PREFIX 0, and no prefix
    of one tenant, scope or key can reach into another's. Every value is a
    record (orcs_memory_record_decode); a snapshot's description is a
    MessagePack map {"schema", "created_us", "keys", "writer"}. */
#include "orcs/memory.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "memory_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"

// ---------------------------------------------------------------------------
// Lifecycle

static int64_t
s_system_clock(void *arg)
{
    (void) arg;
    return orcs_clock_wall_us();
}

orcs_memory_t *
orcs_memory_new(orcs_store_t *store)
{
    orcs_assert(store);
    if (sodium_init() < 0)
        orcs_panic("libsodium failed to initialise");
    orcs_memory_t *self = orcs_calloc(1, sizeof *self);
    self->store = store;
    self->versions_kept = ORCS_MEMORY_VERSIONS;
    self->rules = json_array();
    self->clock = s_system_clock;
    atomic_init(&self->audit_seq, randombytes_random());
    return self;
}

void
orcs_memory_destroy(orcs_memory_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs_memory_t *self = *self_p;
    json_decref(self->rules);
    free(self);
    *self_p = NULL;
}

void
orcs_memory_set_isolation(orcs_memory_t *self,
                          orcs_memory_isolation_fn *fn,
                          void *arg)
{
    orcs_assert(self);
    self->isolation = fn;
    self->isolation_arg = arg;
}

void
orcs_memory_set_clock(orcs_memory_t *self, orcs_memory_clock_fn *fn, void *arg)
{
    orcs_assert(self);
    self->clock = fn ? fn : s_system_clock;
    self->clock_arg = fn ? arg : NULL;
}

void
orcs__memory_backoff(int attempt)
{
    uint32_t ceiling_us = 2000;
    if (attempt < 11)
        ceiling_us = 1u << attempt;
    uint32_t us = randombytes_uniform(ceiling_us) + 1;
    struct timespec ts = {0, (long) us * 1000};
    nanosleep(&ts, NULL);
}

int64_t
orcs__memory_now(const orcs_memory_t *self)
{
    return self->clock(self->clock_arg);
}

// ---------------------------------------------------------------------------
// Names

static bool
s_is_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

// jansson checks UTF-8 for us; keys come back as JSON strings.
static bool
s_is_utf8(const char *s)
{
    json_t *text = json_string(s);
    json_decref(text);
    return text != NULL;
}

bool
orcs_memory_scope_is_valid(const char *scope)
{
    static const char *const kinds[] = {
        "workflow:", "task:", "agent:", "thread:", NULL};
    if (!scope || strlen(scope) > ORCS_MEMORY_SCOPE_MAX)
        return false;
    if (strcmp(scope, "global") == 0)
        return true;
    for (size_t i = 0; kinds[i]; i++) {
        size_t n = strlen(kinds[i]);
        if (strncmp(scope, kinds[i], n) == 0)
            return scope[n] != '\0' && s_is_printable(scope + n)
                   && s_is_utf8(scope + n);
    }
    return false;
}

static orcs_status
s_check_scope(const char *scope)
{
    if (scope && strlen(scope) > ORCS_MEMORY_SCOPE_MAX)
        return ORCS_ETOOBIG;
    return orcs_memory_scope_is_valid(scope) ? ORCS_OK : ORCS_EINVAL;
}

orcs_status
orcs__memory_check_key(const char *key, bool may_be_empty)
{
    if (!key)
        return may_be_empty ? ORCS_OK : ORCS_EINVAL;
    if (strlen(key) > ORCS_MEMORY_KEY_MAX)
        return ORCS_ETOOBIG;
    if ((!key[0] && !may_be_empty) || !s_is_printable(key) || !s_is_utf8(key))
        return ORCS_EINVAL;
    return ORCS_OK;
}

orcs_status
orcs__memory_check_name(const char *name)
{
    if (!name || !name[0] || strlen(name) > ORCS_MEMORY_NAME_MAX)
        return ORCS_EINVAL;
    for (const char *s = name; *s; s++) {
        char ch = *s;
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
                  || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
                  || ch == '-';
        if (!ok)
            return ORCS_EINVAL;
    }
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// LMDB keys

void
orcs__memory_key_init(orcs__memory_key_t *k,
                      char tag,
                      const orcs__memory_ctx_t *ctx)
{
    k->size = 0;
    k->data[k->size++] = (uint8_t) tag;
    orcs__memory_key_add(k, ctx->prefix, strlen(ctx->prefix) + 1);
    orcs__memory_key_add(k, ctx->scope, strlen(ctx->scope) + 1);
}

void
orcs__memory_key_add(orcs__memory_key_t *k, const void *data, size_t size)
{
    // Lengths are checked against the ORCS_MEMORY_*_MAX limits first, and
    // those add up to less than ORCS_STORE_KEY_MAX.
    orcs_assert(k->size + size <= ORCS_STORE_KEY_MAX);
    memcpy(k->data + k->size, data, size);
    k->size += size;
}

void
orcs__memory_key_item(orcs__memory_key_t *k,
                      char tag,
                      const orcs__memory_ctx_t *ctx,
                      const char *key)
{
    orcs__memory_key_init(k, tag, ctx);
    orcs__memory_key_add(k, key, strlen(key));
}

// 'h' ... KEY 0 (the prefix of a key's versions), then VERSION if not 0.
void
orcs__memory_key_history(orcs__memory_key_t *k,
                         const orcs__memory_ctx_t *ctx,
                         const char *key,
                         uint64_t version)
{
    orcs__memory_key_item(k, 'h', ctx, key);
    orcs__memory_key_add(k, "", 1);
    if (version) {
        uint8_t be[8];
        for (int i = 0; i < 8; i++)
            be[i] = (uint8_t) (version >> (56 - 8 * i));
        orcs__memory_key_add(k, be, sizeof be);
    }
}

// ---------------------------------------------------------------------------
// Records

orcs_status
orcs_memory_record_decode(const uint8_t *data, size_t size, json_t **record_p)
{
    orcs_assert(record_p);
    *record_p = NULL;
    orcs_doc_limits_t limits = {ORCS_MEMORY_VALUE_MAX + 4096, 0, 0};
    json_t *doc = NULL;
    orcs_status rc = orcs_doc_decode(data, size, &limits, &doc);
    if (rc != ORCS_OK)
        return rc;
    json_t *schema = json_object_get(doc, "schema");
    json_t *version = json_object_get(doc, "version");
    json_t *value = json_object_get(doc, "value");
    json_t *updated = json_object_get(doc, "updated_us");
    json_t *expires = json_object_get(doc, "expires_us");
    json_t *writer = json_object_get(doc, "writer");
    bool ok = json_is_object(doc) && json_is_integer(schema)
              && json_integer_value(schema) >= 1
              && json_integer_value(schema) <= ORCS_MEMORY_SCHEMA
              && json_is_integer(version) && json_integer_value(version) >= 1
              && value && json_is_integer(updated) && json_is_integer(expires)
              && json_integer_value(expires) >= 0
              && (!writer || json_is_string(writer));
    if (ok)
        *record_p = json_pack(
            "{s:O, s:O, s:O, s:O, s:O, s:s}", "schema", schema, "version",
            version, "value", value, "updated_us", updated, "expires_us",
            expires, "writer", writer ? json_string_value(writer) : "");
    json_decref(doc);
    return ok ? ORCS_OK : ORCS_EPROTO;
}

orcs_status
orcs__memory_record_read(const void *data, size_t size, orcs__memory_rec_t *rec)
{
    memset(rec, 0, sizeof *rec);
    orcs_status rc = orcs_memory_record_decode(data, size, &rec->doc);
    if (rc != ORCS_OK) {
        orcs_log_debug("memory", "damaged record status=%s",
                       orcs_status_name(rc));
        return ORCS_EPROTO;
    }
    rec->version =
        (uint64_t) json_integer_value(json_object_get(rec->doc, "version"));
    rec->expires_us =
        json_integer_value(json_object_get(rec->doc, "expires_us"));
    return ORCS_OK;
}

bool
orcs__memory_rec_expired(const orcs__memory_rec_t *rec, int64_t now)
{
    return rec->expires_us > 0 && rec->expires_us <= now;
}

// Encodes a record; ORCS_EINVAL when the codec refuses value, ORCS_ETOOBIG
// over ORCS_MEMORY_VALUE_MAX.
orcs_status
orcs__memory_record_encode(const json_t *value,
                           uint64_t version,
                           int64_t updated_us,
                           int64_t expires_us,
                           const char *writer,
                           uint8_t **data_p,
                           size_t *size_p)
{
    json_t *doc = json_pack(
        "{s:i, s:I, s:O, s:I, s:I, s:s}", "schema", (int) ORCS_MEMORY_SCHEMA,
        "version", (json_int_t) version, "value", value, "updated_us",
        (json_int_t) updated_us, "expires_us", (json_int_t) expires_us,
        "writer", writer ? writer : "");
    if (!doc) // value NULL, or a writer that is not UTF-8
        return ORCS_EINVAL;
    orcs_status rc = orcs_doc_encode(doc, data_p, size_p);
    json_decref(doc);
    if (rc == ORCS_OK && *size_p > ORCS_MEMORY_VALUE_MAX) {
        free(*data_p);
        *data_p = NULL;
        rc = ORCS_ETOOBIG;
    }
    return rc;
}

// An entry for callers: the record with its key.
json_t *
orcs__memory_entry(const char *key,
                   size_t key_size,
                   const json_t *record,
                   bool value)
{
    json_t *entry = json_deep_copy(record);
    json_t *text = json_stringn(key, key_size);
    json_object_set_new(entry, "key", text ? text : json_string("?"));
    if (!value)
        json_object_del(entry, "value");
    return entry;
}

// ---------------------------------------------------------------------------
// Starting an access

orcs_status
orcs__memory_begin(orcs_memory_t *self,
                   const char *caller,
                   const char *scope,
                   const char *key,
                   const char *op,
                   bool write,
                   bool wait,
                   orcs__memory_ctx_t *ctx)
{
    orcs_assert(self);
    memset(ctx, 0, sizeof *ctx);
    orcs_status rc = s_check_scope(scope);
    if (rc != ORCS_OK)
        return rc;
    ctx->caller = caller;
    ctx->scope = scope;
    ctx->key = key;
    if (self->isolation) {
        rc = self->isolation(caller, ctx->prefix, sizeof ctx->prefix,
                             self->isolation_arg);
        if (rc != ORCS_OK)
            return rc;
        ctx->prefix[sizeof ctx->prefix - 1] = '\0';
    }
    if (!orcs_memory_allowed(self, caller, scope, write)) {
        orcs__memory_audit_denied(self, ctx, op, write, wait);
        return ORCS_EDENIED;
    }
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Reading

// Reads the current record of ctx->key into rec (with its bytes when
// bytes_p is not NULL: borrowed, valid until the txn ends). ENOTFOUND when
// absent; EPROTO when damaged.
orcs_status
orcs__memory_read_current(orcs_store_txn_t *txn,
                          const orcs__memory_ctx_t *ctx,
                          const char *key,
                          orcs__memory_rec_t *rec,
                          const void **bytes_p,
                          size_t *size_p)
{
    memset(rec, 0, sizeof *rec);
    orcs__memory_key_t k;
    orcs__memory_key_item(&k, 'k', ctx, key);
    const void *data = NULL;
    size_t size = 0;
    orcs_status rc =
        orcs_store_txn_get(txn, ORCS_DB_MEMORY, k.data, k.size, &data, &size);
    if (rc == ORCS_OK)
        rc = orcs__memory_record_read(data, size, rec);
    if (bytes_p) {
        *bytes_p = data;
        *size_p = size;
    }
    return rc;
}

orcs_status
orcs_memory_get_entry(orcs_memory_t *self,
                      const char *caller,
                      const char *scope,
                      const char *key,
                      uint64_t version,
                      json_t **entry_p)
{
    orcs_assert(entry_p);
    *entry_p = NULL;
    orcs__memory_ctx_t ctx;
    orcs_status rc = orcs__memory_check_key(key, false);
    if (rc == ORCS_OK)
        rc = orcs__memory_begin(self, caller, scope, key, "get", false, true,
                                &ctx);
    if (rc != ORCS_OK)
        return rc;
    orcs_store_txn_t *txn = NULL;
    orcs__memory_rec_t cur = {0}, old = {0};
    rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = orcs__memory_read_current(txn, &ctx, key, &cur, NULL, NULL);
    if (rc == ORCS_OK && orcs__memory_rec_expired(&cur, orcs__memory_now(self)))
        rc = ORCS_ENOTFOUND;
    if (rc == ORCS_OK && version != 0 && version != cur.version) {
        orcs__memory_key_t k;
        orcs__memory_key_history(&k, &ctx, key, version);
        const void *data = NULL;
        size_t size = 0;
        rc = version > cur.version
                 ? ORCS_ENOTFOUND
                 : orcs_store_txn_get(txn, ORCS_DB_MEMORY, k.data, k.size,
                                      &data, &size);
        if (rc == ORCS_OK)
            rc = orcs__memory_record_read(data, size, &old);
    }
    if (rc == ORCS_OK)
        *entry_p = orcs__memory_entry(key, strlen(key),
                                      old.doc ? old.doc : cur.doc, true);
    orcs_store_txn_end(&txn);
    json_decref(cur.doc);
    json_decref(old.doc);
    return rc;
}

orcs_status
orcs_memory_get(orcs_memory_t *self,
                const char *caller,
                const char *scope,
                const char *key,
                json_t **value_p,
                uint64_t *version_p)
{
    orcs_assert(value_p);
    *value_p = NULL;
    json_t *entry = NULL;
    orcs_status rc = orcs_memory_get_entry(self, caller, scope, key, 0, &entry);
    if (rc != ORCS_OK)
        return rc;
    *value_p = json_incref(json_object_get(entry, "value"));
    if (version_p)
        *version_p =
            (uint64_t) json_integer_value(json_object_get(entry, "version"));
    json_decref(entry);
    return ORCS_OK;
}

typedef struct {
    size_t skip;        // bytes of the LMDB key before the memory key
    json_t *entries;    // array being filled
    size_t limit;       // stop after this many
    int64_t now;        // for expiry
    bool values;        // include "value"
    bool with_versions; // history scan: keys end with an 8-byte version
} s_collect_t;

static bool
s_collect(const void *key,
          size_t key_size,
          const void *value,
          size_t value_size,
          void *arg)
{
    s_collect_t *c = arg;
    orcs__memory_rec_t rec;
    if (orcs__memory_record_read(value, value_size, &rec) != ORCS_OK)
        return true; // damaged: skipped (logged at debug)
    if (!c->with_versions && !orcs__memory_rec_expired(&rec, c->now)) {
        json_array_append_new(c->entries,
                              orcs__memory_entry((const char *) key + c->skip,
                                                 key_size - c->skip, rec.doc,
                                                 c->values));
    } else if (c->with_versions) {
        json_array_insert_new(c->entries, 0, json_deep_copy(rec.doc));
    }
    json_decref(rec.doc);
    return json_array_size(c->entries) < c->limit;
}

orcs_status
orcs_memory_history(orcs_memory_t *self,
                    const char *caller,
                    const char *scope,
                    const char *key,
                    json_t **entries_p)
{
    orcs_assert(entries_p);
    *entries_p = NULL;
    json_t *current = NULL;
    orcs_status rc =
        orcs_memory_get_entry(self, caller, scope, key, 0, &current);
    if (rc != ORCS_OK)
        return rc;
    orcs__memory_ctx_t ctx;
    // Same caller and scope as the access just granted: cannot be denied.
    rc = orcs__memory_begin(self, caller, scope, key, "get", false, true, &ctx);
    orcs_store_txn_t *txn = NULL;
    if (rc == ORCS_OK)
        rc = orcs_store_txn_begin(self->store, &txn);
    s_collect_t c = {0, json_array(), SIZE_MAX, 0, true, true};
    if (rc == ORCS_OK) {
        orcs__memory_key_t k;
        orcs__memory_key_history(&k, &ctx, key, 0);
        rc = orcs_store_txn_scan(txn, ORCS_DB_MEMORY, k.data, k.size, s_collect,
                                 &c);
    }
    orcs_store_txn_end(&txn);
    if (rc == ORCS_OK) {
        // Versions older than the current one only (a racing put may have
        // added one since the read above).
        json_int_t top =
            json_integer_value(json_object_get(current, "version"));
        json_t *all = json_array();
        json_array_append(all, current);
        size_t i;
        json_t *rec;
        json_array_foreach(c.entries, i, rec)
        {
            if (json_integer_value(json_object_get(rec, "version")) < top)
                json_array_append_new(
                    all, orcs__memory_entry(key, strlen(key), rec, true));
        }
        *entries_p = all;
    }
    json_decref(c.entries);
    json_decref(current);
    return rc;
}

orcs_status
orcs_memory_list(orcs_memory_t *self,
                 const char *caller,
                 const char *scope,
                 const char *prefix,
                 size_t limit,
                 json_t **entries_p)
{
    orcs_assert(entries_p);
    *entries_p = NULL;
    orcs__memory_ctx_t ctx;
    orcs_status rc = orcs__memory_check_key(prefix, true);
    if (rc == ORCS_OK)
        rc = orcs__memory_begin(self, caller, scope, NULL, "list", false, true,
                                &ctx);
    if (rc != ORCS_OK)
        return rc;
    orcs__memory_key_t k;
    orcs__memory_key_init(&k, 'k', &ctx);
    size_t skip = k.size;
    if (prefix)
        orcs__memory_key_add(&k, prefix, strlen(prefix));
    if (limit == 0 || limit > ORCS_MEMORY_LIST_MAX)
        limit = ORCS_MEMORY_LIST_MAX;
    s_collect_t c = {skip,  json_array(), limit, orcs__memory_now(self),
                     false, false};
    orcs_store_txn_t *txn = NULL;
    rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = orcs_store_txn_scan(txn, ORCS_DB_MEMORY, k.data, k.size, s_collect,
                                 &c);
    orcs_store_txn_end(&txn);
    if (rc == ORCS_OK)
        *entries_p = json_incref(c.entries);
    json_decref(c.entries);
    return rc;
}
