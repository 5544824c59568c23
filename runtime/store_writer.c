/*  store_writer.c — the store's single writer thread: group commit.
    SPDX-License-Identifier: MPL-2.0

    The writer takes every batch queued at that moment (up to a cap), opens
    one LMDB write transaction, applies each batch (its checks first, then
    its puts and deletes), commits once (one sync for all of them), and only
    then tells each writer its result. A failed check undoes nothing: checks
    run before a batch's first put. A put or delete that fails half-way
    through a batch (anything but a full map, which grows) would leave part
    of it in the transaction: the group is then aborted and applied again
    with each batch in a nested transaction, so only that batch fails.
    Nested transactions are not the first choice because LMDB allocates
    megabytes for each and merges its dirty pages into the parent's on
    commit: a group of a hundred batches would pay that a hundred times.

    A full map aborts everything, grows the map (doubling, up to map_max)
    while holding grow_lock exclusively, so no read transaction is active as
    mdb_env_set_mapsize requires, and applies the group again. At map_max
    the batches that do not fit get ORCS_ETOOBIG. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orcs/log.h"
#include "orcs/sys.h"
#include "store_internal.h"

#define S_GROUP_BATCHES 1024                // batches in one transaction
#define S_GROUP_BYTES   (64u * 1024 * 1024) // keys and values in one
#define S_APPLIED       1 // status placeholder: applied, parent not committed

// Applies one batch in txn: every check first, then puts and deletes in
// the order they were added. Returns MDB_SUCCESS, MDB_KEYEXIST when a check
// failed, or LMDB's error.
static int
s_apply_batch(orcs_store_t *self, MDB_txn *txn, const orcs_batch_t *batch)
{
    for (size_t i = 0; batch->checks && i < batch->count; i++) {
        const orcs__store_op_t *op = &batch->ops[i];
        if (op->kind != ORCS__OP_CHECK)
            continue;
        MDB_val key = {op->key_size, op->data};
        MDB_val value;
        int rc = mdb_get(txn, self->dbi[op->db], &key, &value);
        if (rc == MDB_NOTFOUND) {
            if (op->has_value)
                return MDB_KEYEXIST;
        } else if (rc != MDB_SUCCESS) {
            return rc;
        } else if (!op->has_value || value.mv_size != op->value_size
                   || memcmp(value.mv_data, op->data + op->key_size,
                             op->value_size)
                          != 0) {
            return MDB_KEYEXIST;
        }
    }
    for (size_t i = 0; i < batch->count; i++) {
        const orcs__store_op_t *op = &batch->ops[i];
        MDB_val key = {op->key_size, op->data};
        int rc = MDB_SUCCESS;
        if (op->kind == ORCS__OP_PUT) {
            MDB_val value = {op->value_size, op->data + op->key_size};
            rc = mdb_put(txn, self->dbi[op->db], &key, &value, 0);
        } else if (op->kind == ORCS__OP_DEL) {
            rc = mdb_del(txn, self->dbi[op->db], &key, NULL);
            if (rc == MDB_NOTFOUND)
                rc = MDB_SUCCESS;
        }
        if (rc != MDB_SUCCESS)
            return rc;
    }
    return MDB_SUCCESS;
}

static orcs_status
s_batch_status(int rc)
{
    if (rc == MDB_KEYEXIST)
        return ORCS_EEXIST; // a check failed: not an LMDB error
    return orcs__store_from_mdb(rc, "applying a batch");
}

// Applies one batch of a group in its own nested transaction, or in the
// parent when not nested. Returns MDB_SUCCESS or the batch's error;
// MDB_MAP_FULL is returned only when can_grow, after every transaction was
// aborted (the caller grows the map and starts again).
static int
s_apply_one(orcs_store_t *self,
            MDB_txn *parent,
            orcs__store_req_t *req,
            bool nested,
            bool can_grow)
{
    MDB_txn *txn = parent;
    int rc = MDB_SUCCESS;
    if (nested)
        rc = mdb_txn_begin(self->env, parent, 0, &txn);
    if (rc == MDB_SUCCESS)
        rc = s_apply_batch(self, txn, req->batch);
    if (rc == MDB_SUCCESS && nested)
        rc = mdb_txn_commit(txn); // frees txn, also on failure
    else if (rc != MDB_SUCCESS && nested && txn != parent)
        mdb_txn_abort(txn);
    if (rc == MDB_SUCCESS) {
        req->status = (orcs_status) S_APPLIED;
        return rc;
    }
    if (rc == MDB_MAP_FULL && can_grow) {
        mdb_txn_abort(parent);
        return rc;
    }
    req->status = s_batch_status(rc);
    return rc;
}

typedef enum {
    S_DONE,   // every request has its final status
    S_GROW,   // the map must grow first; nothing was committed
    S_NESTED, // a batch failed half-way: apply again, nested
} s_try_t;

// One attempt at a group, each batch nested or not. Not nested, a batch
// whose put or delete fails (other than a full map that can grow) aborts
// the whole attempt with S_NESTED.
static s_try_t
s_try_group(orcs_store_t *self,
            orcs__store_req_t **reqs,
            size_t count,
            bool nested,
            bool can_grow)
{
    MDB_txn *parent = NULL;
    int rc = mdb_txn_begin(self->env, NULL, 0, &parent);
    if (rc == MDB_MAP_RESIZED) { // grown by another process
        rc = orcs__store_adopt_map(self, true);
        if (rc == MDB_SUCCESS)
            rc = mdb_txn_begin(self->env, NULL, 0, &parent);
    }
    if (rc != MDB_SUCCESS) {
        orcs_status status = orcs__store_from_mdb(rc, "mdb_txn_begin");
        for (size_t i = 0; i < count; i++)
            reqs[i]->status = status;
        return S_DONE;
    }
    size_t applied = 0;
    for (size_t i = 0; i < count; i++) {
        rc = s_apply_one(self, parent, reqs[i], nested, can_grow);
        if (rc == MDB_MAP_FULL && can_grow)
            return S_GROW; // parent aborted
        if (rc != MDB_SUCCESS && rc != MDB_KEYEXIST && !nested) {
            mdb_txn_abort(parent);
            if (count > 1)
                return S_NESTED;
            return S_DONE; // alone: its status is set, nothing applied
        }
        if (rc == MDB_SUCCESS)
            applied++;
    }
    rc = applied ? mdb_txn_commit(parent) : (mdb_txn_abort(parent), 0);
    if (rc == MDB_MAP_FULL && can_grow)
        return S_GROW; // the commit's own pages did not fit; txn is freed
    orcs_status status = rc == MDB_SUCCESS
                             ? ORCS_OK
                             : orcs__store_from_mdb(rc, "mdb_txn_commit");
    for (size_t i = 0; i < count; i++)
        if (reqs[i]->status == (orcs_status) S_APPLIED)
            reqs[i]->status = status;
    if (rc == MDB_SUCCESS && applied)
        atomic_fetch_add(&self->commits, 1);
    return S_DONE;
}

// Doubles the map (up to map_max). Returns false when it cannot grow.
static bool
s_grow(orcs_store_t *self)
{
    size_t size = atomic_load(&self->map_size);
    if (size >= self->map_max)
        return false;
    size_t next = size > self->map_max / 2 ? self->map_max : size * 2;
    // No read transaction may be active while the map changes.
    pthread_rwlock_wrlock(&self->grow_lock);
    int rc = mdb_env_set_mapsize(self->env, next);
    pthread_rwlock_unlock(&self->grow_lock);
    if (rc != MDB_SUCCESS) {
        orcs_log_warn("store", "cannot grow the map to %zu bytes: %s", next,
                      mdb_strerror(rc));
        return false;
    }
    atomic_store(&self->map_size, next);
    atomic_fetch_add(&self->grows, 1);
    orcs_log_info("store", "map grown path=%s map_size=%zu map_max=%zu",
                  self->path, next, self->map_max);
    return true;
}

static void
s_apply_group(orcs_store_t *self, orcs__store_req_t **reqs, size_t count)
{
    bool can_grow = true;
    bool nested = false;
    for (;;) {
        for (size_t i = 0; i < count; i++)
            reqs[i]->status = ORCS_OK;
        can_grow = can_grow && atomic_load(&self->map_size) < self->map_max;
        s_try_t result = s_try_group(self, reqs, count, nested, can_grow);
        if (result == S_DONE)
            break;
        if (result == S_NESTED)
            nested = true; // one batch failed half-way: isolate each
        else if (!s_grow(self))
            can_grow = false; // apply again: what does not fit fails
    }
    for (size_t i = 0; i < count; i++) {
        if (reqs[i]->status == ORCS_OK)
            atomic_fetch_add(&self->batches, 1);
        else
            atomic_fetch_add(&self->failed, 1);
        orcs_batch_destroy(&reqs[i]->batch);
    }
}

// Takes queued requests (under the lock) up to the group caps.
static size_t
s_take(orcs_store_t *self, orcs__store_req_t **reqs)
{
    size_t count = 0;
    size_t bytes = 0;
    while (
        self->head && count < S_GROUP_BATCHES
        && (count == 0 || bytes + self->head->batch->bytes <= S_GROUP_BYTES)) {
        orcs__store_req_t *req = self->head;
        self->head = req->next;
        bytes += req->batch->bytes;
        reqs[count++] = req;
    }
    if (!self->head)
        self->tail = NULL;
    return count;
}

// Tells every writer of the group its result, without the store's lock.
// A blocking writer's request lives on its stack: it is not touched once
// it is posted.
static void
s_finish(orcs__store_req_t **reqs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        orcs__store_req_t *req = reqs[i];
        if (req->done) {
            req->done(req->status, req->arg);
            free(req);
        } else {
            sem_post(&req->finished);
        }
    }
}

static void
s_sync(orcs_store_t *self)
{
    int rc = mdb_env_sync(self->env, 1);
    if (rc != MDB_SUCCESS)
        orcs_log_warn("store", "background sync failed path=%s: %s", self->path,
                      mdb_strerror(rc));
    else
        atomic_fetch_add(&self->syncs, 1);
}

static struct timespec
s_deadline(int64_t due_us)
{
    struct timespec ts = {(time_t) (due_us / 1000000),
                          (long) (due_us % 1000000) * 1000};
    return ts;
}

// After a commit, watches for the next request for up to spin_us before
// the writer sleeps on its condition variable: a run that writes once per
// step sends its next batch within microseconds of hearing that the last
// one is durable, and finding it without a wake-up saves more than the
// watching costs (docs/store.md). seen: the request count when the queue
// was last emptied. Called without the lock.
static void
s_spin(orcs_store_t *self, uint_fast64_t seen)
{
    if (self->spin_us <= 0)
        return;
    int64_t until = orcs_clock_mono_us() + self->spin_us;
    while (atomic_load_explicit(&self->enqueued, memory_order_acquire) == seen
           && orcs_clock_mono_us() < until)
        sched_yield();
}

void *
orcs__store_writer_main(void *arg)
{
    orcs_store_t *self = arg;
    pthread_setname_np(pthread_self(), "orcs-store");
    orcs__store_req_t **reqs = orcs_malloc(S_GROUP_BATCHES * sizeof *reqs);
    bool dirty = false; // relaxed: commits not synced yet
    int64_t sync_due_us = 0;
    pthread_mutex_lock(&self->lock);
    for (;;) {
        while (!self->head && !self->closing) {
            if (!dirty) {
                pthread_cond_wait(&self->wake, &self->lock);
                continue;
            }
            struct timespec due = s_deadline(sync_due_us);
            if (pthread_cond_timedwait(&self->wake, &self->lock, &due)
                == ETIMEDOUT)
                break;
        }
        if (dirty && orcs_clock_mono_us() >= sync_due_us) {
            pthread_mutex_unlock(&self->lock);
            s_sync(self);
            dirty = false;
            pthread_mutex_lock(&self->lock);
            continue;
        }
        if (!self->head) {
            if (self->closing)
                break; // the closer syncs a relaxed store
            continue;
        }
        size_t count = s_take(self, reqs);
        uint_fast64_t seen =
            self->head
                ? 0 // more than a group: no spinning
                : atomic_load_explicit(&self->enqueued, memory_order_relaxed);
        pthread_mutex_unlock(&self->lock);
        s_apply_group(self, reqs, count);
        if (self->relaxed && !dirty) {
            dirty = true;
            sync_due_us = orcs_clock_mono_us() + self->sync_ms * 1000LL;
        }
        s_finish(reqs, count);
        s_spin(self, seen);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    free(reqs);
    return NULL;
}
