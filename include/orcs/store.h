/*  orcs/store.h — the node's durable store: one LMDB environment with named
    sub-databases, one group-commit writer, read transactions from any
    thread.
    SPDX-License-Identifier: MPL-2.0

    Writes are batches of operations applied atomically. Every batch goes
    through the node's single writer thread, which applies all batches
    waiting at that moment in one LMDB write transaction (each batch in its
    own nested transaction, so one failing batch does not fail the others)
    and commits them with one sync: many writers share one fsync, and each
    learns its batch is durable before it is told OK. */
#ifndef ORCS_STORE_H_INCLUDED
#define ORCS_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

// The named sub-databases. Values are never renumbered.
typedef enum {
    ORCS_DB_MEMORY = 0,      // scoped key-value memory
    ORCS_DB_ARTIFACTS = 1,   // content-addressed blobs and their metadata
    ORCS_DB_RUNS = 2,        // workflow runs
    ORCS_DB_TASKS = 3,       // tasks of runs
    ORCS_DB_CHECKPOINTS = 4, // append-only run history
    ORCS_DB_THREADS = 5,     // conversation threads
    ORCS_DB_CACHE = 6,       // tool results with a TTL
    ORCS_DB_SPANS = 7,       // traces
    ORCS_DB_AUDIT = 8,       // audit log (append-only)
    ORCS_DB_META = 9,        // the store's own bookkeeping
    ORCS_DB_COUNT = 10
} orcs_db;

// Returns the sub-database's name ("memory", ...), or NULL.
ORCS_EXPORT const char *orcs_db_name(orcs_db db);

#define ORCS_STORE_KEY_MAX 511u // LMDB's default key size limit

typedef struct {
    size_t map_size; // initial map size in bytes; 0 = 64 MiB
    size_t map_max;  // the map never grows past this; 0 = 64 GiB
    bool relaxed;    // true: no fsync per commit (MDB_NOSYNC) and a
                     // background sync every sync_ms: a crash of the
                     // machine (not the process) may lose the last
                     // sync_ms of acknowledged writes (docs/store.md)
    int sync_ms;     // relaxed only; 0 = 100
    int max_readers; // LMDB reader slots; 0 = 1024
    int spin_us;     // after a commit the writer watches for more work
                     // this long (yielding the CPU) before it sleeps;
                     // 0 = never (the node passes limits.spin_us)
} orcs_store_opts_t;

typedef struct orcs_store_t orcs_store_t;
typedef struct orcs_batch_t orcs_batch_t;
typedef struct orcs_store_txn_t orcs_store_txn_t;

// Creates a store object (not open). Caller owns the result; destroy with
// orcs_store_destroy().
ORCS_EXPORT orcs_store_t *orcs_store_new(void);

// Closes the store if open (waits for the writer to finish what it has)
// and frees it; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_store_destroy(orcs_store_t **self_p);

// Opens (creating when absent) the environment in directory `dir` (created
// if needed) and starts the writer thread. opts may be NULL for defaults.
// Returns ORCS_OK; ORCS_EIO when the directory or environment cannot be
// used (the log says why); ORCS_EPROTO when the files are not an orcs
// store or were written by a newer schema.
ORCS_EXPORT orcs_status orcs_store_open(orcs_store_t *self,
                                        const char *dir,
                                        const orcs_store_opts_t *opts);

// ---- writing

// Creates an empty batch. Caller owns the result; destroy with
// orcs_batch_destroy() (or hand it to orcs_store_write*).
ORCS_EXPORT orcs_batch_t *orcs_batch_new(void);

// Destroys a batch; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_batch_destroy(orcs_batch_t **self_p);

// Adds a put (key and value are copied; value may be NULL when value_size
// is 0). Returns ORCS_OK, ORCS_EINVAL for an empty key or one over
// ORCS_STORE_KEY_MAX (or a NULL value with a size), ORCS_ETOOBIG for a
// value over 4 GiB - 1 (LMDB's limit).
ORCS_EXPORT orcs_status orcs_batch_put(orcs_batch_t *self,
                                       orcs_db db,
                                       const void *key,
                                       size_t key_size,
                                       const void *value,
                                       size_t value_size);

// Adds a delete (absent keys are fine). Statuses as orcs_batch_put.
ORCS_EXPORT orcs_status orcs_batch_del(orcs_batch_t *self,
                                       orcs_db db,
                                       const void *key,
                                       size_t key_size);

// Adds a precondition checked when the batch is applied: the current value
// of key must equal [expect, expect+expect_size), or be absent when expect
// is NULL. If any check fails, nothing of the batch is applied and the
// write returns ORCS_EEXIST (compare-and-set conflict).
ORCS_EXPORT orcs_status orcs_batch_check(orcs_batch_t *self,
                                         orcs_db db,
                                         const void *key,
                                         size_t key_size,
                                         const void *expect,
                                         size_t expect_size);

// Number of operations in the batch.
ORCS_EXPORT size_t orcs_batch_size(const orcs_batch_t *self);

// Applies a batch durably and waits until it is (blocking: for code that
// may block, not for actors). Takes ownership of *batch_p and sets it to
// NULL, whatever the result. Returns ORCS_OK once committed and synced;
// ORCS_EEXIST when a check failed (nothing applied); ORCS_ETOOBIG when the
// map is at map_max; ORCS_ECLOSED when the store is closing; ORCS_EIO.
ORCS_EXPORT orcs_status orcs_store_write(orcs_store_t *self,
                                         orcs_batch_t **batch_p);

// Called on the writer thread when a batch is durable (or failed). Must be
// quick and must not write to the store: send a message and return.
typedef void(orcs_store_done_fn)(orcs_status status, void *arg);

// Like orcs_store_write, but returns at once; done(status, arg) is called
// later on the writer thread with the statuses of orcs_store_write (never
// when this returns an error). Takes ownership of *batch_p and sets it to
// NULL, whatever the result. Returns ORCS_OK (queued) or ORCS_ECLOSED.
ORCS_EXPORT orcs_status orcs_store_write_async(orcs_store_t *self,
                                               orcs_batch_t **batch_p,
                                               orcs_store_done_fn *done,
                                               void *arg);

// ---- reading (any thread; read transactions are cheap and must be short)

// Starts a read-only snapshot of an open store. Caller owns it; end with
// orcs_store_txn_end() on the same thread. Do not wait for a write
// (orcs_store_write) while holding one: growing the map waits until no read
// transaction is active. Returns ORCS_OK, ORCS_EAGAIN when every reader slot
// is taken (max_readers), or ORCS_EIO.
ORCS_EXPORT orcs_status orcs_store_txn_begin(orcs_store_t *self,
                                             orcs_store_txn_t **txn_p);

// Ends a read transaction; safe with *txn_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_store_txn_end(orcs_store_txn_t **txn_p);

// Looks a key up in the snapshot. Borrowed: *value_p is valid until
// orcs_store_txn_end(). Returns ORCS_OK or ORCS_ENOTFOUND.
ORCS_EXPORT orcs_status orcs_store_txn_get(orcs_store_txn_t *txn,
                                           orcs_db db,
                                           const void *key,
                                           size_t key_size,
                                           const void **value_p,
                                           size_t *value_size_p);

// Called for each key in order; return false to stop. Borrowed data, valid
// for the call.
typedef bool(orcs_store_scan_fn)(const void *key,
                                 size_t key_size,
                                 const void *value,
                                 size_t value_size,
                                 void *arg);

// Visits every key starting with prefix (prefix_size 0 = all) in key
// order, in the snapshot. Returns ORCS_OK or ORCS_EIO.
ORCS_EXPORT orcs_status orcs_store_txn_scan(orcs_store_txn_t *txn,
                                            orcs_db db,
                                            const void *prefix,
                                            size_t prefix_size,
                                            orcs_store_scan_fn *fn,
                                            void *arg);

// Convenience: one get in its own read transaction, copying the value out.
// Caller owns *value_p; free() it. Returns ORCS_OK, ORCS_ENOTFOUND,
// ORCS_EAGAIN (as orcs_store_txn_begin), ORCS_EIO.
ORCS_EXPORT orcs_status orcs_store_get(orcs_store_t *self,
                                       orcs_db db,
                                       const void *key,
                                       size_t key_size,
                                       void **value_p,
                                       size_t *value_size_p);

// Statistics as JSON: {"path", "open", "map_size", "map_max", "relaxed",
// "sync_ms", "commits" (write transactions), "batches" (applied), "failed"
// (batches refused), "grows", "syncs" (background syncs, relaxed); when
// open also "map_used", "readers" and "dbs": {"memory": {"entries",
// "depth", "bytes"}, ...}}. Caller owns the result; destroy with
// json_decref().
ORCS_EXPORT json_t *orcs_store_stats(orcs_store_t *self);

#ifdef __cplusplus
}
#endif
#endif
