/*  store_internal.h — what store.c (environment, batches, reads) and
    store_writer.c (the group-commit writer thread) share.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_STORE_INTERNAL_H_INCLUDED
#define ORCS_STORE_INTERNAL_H_INCLUDED

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "orcs/store.h"

// Version of the store's layout, kept in ORCS_DB_META under "schema".
// 2: workflow outputs and checkpoints beside their task's record in
// `tasks` (docs/workflows.md); this code still reads schema 1's keys, and
// opening a schema 1 store marks it 2, so an older orcs refuses it rather
// than misreading the new keys.
#define ORCS__STORE_SCHEMA 2u

typedef enum {
    ORCS__OP_PUT = 0,  // put key = value
    ORCS__OP_DEL = 1,  // delete key (absent is fine)
    ORCS__OP_CHECK = 2 // key must hold value (or be absent: !has_value)
} orcs__store_op_kind;

typedef struct {
    orcs__store_op_kind kind; // what to do
    orcs_db db;               // in which sub-database
    bool has_value;           // check: a value is expected (else absence)
    size_t key_size;          // bytes of key
    size_t value_size;        // bytes of value
    uint8_t *data;            // key then value, one allocation (owned)
} orcs__store_op_t;

struct orcs_batch_t {
    orcs__store_op_t *ops; // operations in the order they were added
    size_t count;          // used entries of ops
    size_t alloc;          // allocated entries of ops
    size_t checks;         // how many ops are checks
    size_t bytes;          // keys and values, for the writer's group cap
};

// One queued write. A blocking writer keeps it on its stack and waits on
// finished; an async one is malloc'd and freed by the writer after done().
typedef struct orcs__store_req_t orcs__store_req_t;
struct orcs__store_req_t {
    orcs_batch_t *batch;      // owned by the request
    orcs_store_done_fn *done; // async callback, or NULL for a blocking one
    void *arg;                // its argument
    sem_t finished;           // blocking: posted once status is final
    orcs_status status;       // the batch's result
    orcs__store_req_t *next;  // queue link
};

struct orcs_store_t {
    MDB_env *env;                  // the environment (NULL until open)
    MDB_dbi dbi[ORCS_DB_COUNT];    // named sub-databases
    char *path;                    // directory
    size_t map_max;                // the map never grows past this
    size_t page_size;              // LMDB page size
    bool relaxed;                  // MDB_NOSYNC + periodic sync
    int sync_ms;                   // relaxed: period of mdb_env_sync
    int spin_us;                   // writer: watch for work before sleeping
    atomic_uint_fast64_t enqueued; // requests queued so far (spin watch)
    bool is_open;                  // open succeeded, not closed yet
    pthread_rwlock_t grow_lock;    // read txns shared; map growth exclusive
    pthread_mutex_t lock;          // the queue and completions
    pthread_cond_t wake;           // wakes the writer
    orcs__store_req_t *head;       // queued requests, oldest first
    orcs__store_req_t *tail;       // last queued request
    bool closing;                  // no new requests; writer drains and exits
    pthread_t writer;              // the writer thread
    atomic_size_t map_size;        // current map size (changed by the writer)
    atomic_uint_fast64_t commits;  // write transactions committed
    atomic_uint_fast64_t batches;  // batches applied
    atomic_uint_fast64_t failed;   // batches refused (check, size, error)
    atomic_uint_fast64_t grows;    // map growths
    atomic_uint_fast64_t syncs;    // relaxed: background syncs
};

// Translates an LMDB (or errno) result into a status, logging LMDB's text
// at DEBUG with what was being done.
orcs_status orcs__store_from_mdb(int rc, const char *what);

// Adopts the map size another process grew the map to (after
// MDB_MAP_RESIZED), holding grow_lock exclusively: waiting for it when
// wait, else only if no read transaction is active. Returns MDB_SUCCESS,
// MDB_MAP_RESIZED when it could not take the lock, or LMDB's error.
int orcs__store_adopt_map(orcs_store_t *self, bool wait);

// The writer thread's body (arg is the store). Returns when the store is
// closing and its queue is empty.
void *orcs__store_writer_main(void *arg);

#endif
