/*  memory_internal.h — what memory.c (names, keys, records, reads),
    memory_write.c (put, delete), memory_snapshot.c (snapshots, restore,
    sweep) and memory_rules.c (configuration, access rules, audit entries)
    share.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_MEMORY_INTERNAL_H_INCLUDED
#define ORCS_MEMORY_INTERNAL_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/memory.h"
#include "orcs/store.h"

// Blocking writes are retried this often when a concurrent writer changed
// what they read (ORCS_EEXIST from a batch check), then give ORCS_EAGAIN.
#define ORCS__MEMORY_RETRIES 64

// Sleeps a random while, longer with each attempt (up to ~2 ms), so that
// writers racing for one key do not keep colliding in the same commit.
void orcs__memory_backoff(int attempt);

struct orcs_memory_t {
    orcs_store_t *store;                 // borrowed
    unsigned versions_kept;              // versions readable per key (>= 1)
    json_t *rules;                       // checked `rules` array (owned)
    orcs_memory_isolation_fn *isolation; // tenant prefix hook, or NULL
    void *isolation_arg;                 // its argument
    orcs_memory_clock_fn *clock;         // wall clock (us)
    void *clock_arg;                     // its argument
    atomic_uint audit_seq;               // low half of audit keys
};

// One access: who, where, and the caller's isolation prefix.
typedef struct {
    char prefix[ORCS_MEMORY_PREFIX_MAX + 1]; // from the isolation hook
    const char *caller;                      // NULL = the node itself
    const char *scope;                       // checked scope
    const char *key;                         // key, or NULL (list, snapshot)
} orcs__memory_ctx_t;

// An LMDB key of the sub-database `memory` (layout in memory.c).
typedef struct {
    uint8_t data[ORCS_STORE_KEY_MAX]; // bytes
    size_t size;                      // used
} orcs__memory_key_t;

// A decoded value record.
typedef struct {
    json_t *doc;        // orcs_memory_record_decode's object (owned)
    uint64_t version;   // its version
    int64_t expires_us; // 0 = never
} orcs__memory_rec_t;

// The memory object's clock, in wall-clock microseconds.
int64_t orcs__memory_now(const orcs_memory_t *self);

// Checks scope, asks the isolation hook and the rules. A denied access
// writes an audit entry (waiting for it when wait is set) and returns
// ORCS_EDENIED. op names the operation in the audit entry.
orcs_status orcs__memory_begin(orcs_memory_t *self,
                               const char *caller,
                               const char *scope,
                               const char *key,
                               const char *op,
                               bool write,
                               bool wait,
                               orcs__memory_ctx_t *ctx);

// Appends a "memory.denied" audit entry for ctx.
void orcs__memory_audit_denied(orcs_memory_t *self,
                               const orcs__memory_ctx_t *ctx,
                               const char *op,
                               bool write,
                               bool wait);

// Starts k as TAG PREFIX 0 SCOPE 0.
void orcs__memory_key_init(orcs__memory_key_t *k,
                           char tag,
                           const orcs__memory_ctx_t *ctx);
// Appends bytes to k (sizes are checked before: asserts they fit).
void orcs__memory_key_add(orcs__memory_key_t *k, const void *data, size_t size);

// Key and scope checks: ORCS_OK, ORCS_EINVAL, ORCS_ETOOBIG. A NULL key is
// fine when may_be_empty (a list prefix), as is "".
orcs_status orcs__memory_check_key(const char *key, bool may_be_empty);

// 'k' ... KEY: the current record of key.
void orcs__memory_key_item(orcs__memory_key_t *k,
                           char tag,
                           const orcs__memory_ctx_t *ctx,
                           const char *key);
// 'h' ... KEY 0 (the prefix of key's versions), then VERSION (8 bytes
// big-endian) unless version is 0.
void orcs__memory_key_history(orcs__memory_key_t *k,
                              const orcs__memory_ctx_t *ctx,
                              const char *key,
                              uint64_t version);

// Encodes a record. Caller frees *data_p. ORCS_EINVAL when the codec
// refuses value (or writer is not UTF-8), ORCS_ETOOBIG over
// ORCS_MEMORY_VALUE_MAX.
orcs_status orcs__memory_record_encode(const json_t *value,
                                       uint64_t version,
                                       int64_t updated_us,
                                       int64_t expires_us,
                                       const char *writer,
                                       uint8_t **data_p,
                                       size_t *size_p);

// Reads the current record of key into rec, and its bytes into *bytes_p
// when not NULL (borrowed: valid until the txn ends; set even when the
// record is damaged). ORCS_OK, ORCS_ENOTFOUND, ORCS_EPROTO, ORCS_EIO.
orcs_status orcs__memory_read_current(orcs_store_txn_t *txn,
                                      const orcs__memory_ctx_t *ctx,
                                      const char *key,
                                      orcs__memory_rec_t *rec,
                                      const void **bytes_p,
                                      size_t *size_p);

// An entry for callers: a copy of record with "key" (and without "value"
// unless value is set).
json_t *orcs__memory_entry(const char *key,
                           size_t key_size,
                           const json_t *record,
                           bool value);

// Decodes a record into rec (rec->doc owned). ORCS_OK or ORCS_EPROTO.
orcs_status orcs__memory_record_read(const void *data,
                                     size_t size,
                                     orcs__memory_rec_t *rec);
bool orcs__memory_rec_expired(const orcs__memory_rec_t *rec, int64_t now);

// Validates a snapshot name: ORCS_OK or ORCS_EINVAL.
orcs_status orcs__memory_check_name(const char *name);

// Stages into batch a new version of key holding value (expires_us 0 =
// never), given its current record's bytes (NULL = absent), which the
// batch checks are unchanged when it applies. *version_p gets the version.
orcs_status orcs__memory_stage_put(orcs_memory_t *self,
                                   orcs_store_txn_t *txn,
                                   orcs_batch_t *batch,
                                   const orcs__memory_ctx_t *ctx,
                                   const char *key,
                                   const json_t *value,
                                   int64_t expires_us,
                                   const void *cur_bytes,
                                   size_t cur_size,
                                   uint64_t *version_p);

// Stages the deletion of key (whose current bytes the batch checks) and
// of all its versions.
orcs_status orcs__memory_stage_delete(orcs_store_txn_t *txn,
                                      orcs_batch_t *batch,
                                      const orcs__memory_ctx_t *ctx,
                                      const char *key,
                                      const void *cur_bytes,
                                      size_t cur_size);

// Stages the deletion of every key under prefix in ORCS_DB_MEMORY.
orcs_status orcs__memory_stage_del_prefix(orcs_store_txn_t *txn,
                                          orcs_batch_t *batch,
                                          const orcs__memory_key_t *prefix);

#endif
