/*  store.c — the durable store: the LMDB environment and its named
    sub-databases, batches, the queue to the writer thread (store_writer.c),
    read transactions and statistics. Design notes: docs/store.md.
    SPDX-License-Identifier: MPL-2.0

    Read transactions hold store->grow_lock shared for their whole life:
    mdb_env_set_mapsize needs that no transaction is active in the process,
    so the writer takes it exclusively to grow the map. */
#include "orcs/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "orcs/log.h"
#include "orcs/sys.h"
#include "store_internal.h"

#define S_MIB              (1024ull * 1024)
#define S_MAP_SIZE_DEFAULT (64 * S_MIB)
#define S_MAP_MAX_DEFAULT  (64 * 1024 * S_MIB)
#define S_SYNC_MS_DEFAULT  100
#define S_READERS_DEFAULT  1024
#define S_VALUE_MAX        0xffffffffull // LMDB's limit on one value

static const char *const s_db_names[ORCS_DB_COUNT] = {
    "memory",  "artifacts", "runs",  "tasks", "checkpoints",
    "threads", "cache",     "spans", "audit", "meta"};

struct orcs_store_txn_t {
    orcs_store_t *store; // whose grow_lock we hold shared
    MDB_txn *txn;        // read-only LMDB transaction
};

const char *
orcs_db_name(orcs_db db)
{
    if ((int) db < 0 || db >= ORCS_DB_COUNT)
        return NULL;
    return s_db_names[db];
}

orcs_status
orcs__store_from_mdb(int rc, const char *what)
{
    orcs_status status;
    switch (rc) {
        case MDB_SUCCESS:
            return ORCS_OK;
        case MDB_NOTFOUND:
            return ORCS_ENOTFOUND;
        case MDB_KEYEXIST:
            status = ORCS_EEXIST;
            break;
        case MDB_MAP_FULL:
        case MDB_TXN_FULL:
            status = ORCS_ETOOBIG;
            break;
        case MDB_BAD_VALSIZE:
            status = ORCS_EINVAL;
            break;
        case MDB_READERS_FULL:
            status = ORCS_EAGAIN;
            break;
        case MDB_INVALID:
        case MDB_VERSION_MISMATCH:
        case MDB_INCOMPATIBLE:
            status = ORCS_EPROTO;
            break;
        case MDB_DBS_FULL:
        case MDB_BAD_TXN:
        case MDB_BAD_DBI:
        case MDB_BAD_RSLOT:
            status = ORCS_EINTERNAL;
            break;
        default: // MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_PANIC, errno values
            status = ORCS_EIO;
            break;
    }
    orcs_log_debug("store", "%s failed: %s status=%s", what, mdb_strerror(rc),
                   orcs_status_name(status));
    return status;
}

// ---- lifecycle

orcs_store_t *
orcs_store_new(void)
{
    orcs_store_t *self = orcs_calloc(1, sizeof *self);
    pthread_rwlock_init(&self->grow_lock, NULL);
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr; // the writer's sync deadline is monotonic
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&self->map_size, 0);
    atomic_init(&self->commits, 0);
    atomic_init(&self->batches, 0);
    atomic_init(&self->failed, 0);
    atomic_init(&self->grows, 0);
    atomic_init(&self->syncs, 0);
    return self;
}

// Stops the writer after it drained the queue, syncs and closes the
// environment.
static void
s_close(orcs_store_t *self)
{
    if (!self->is_open)
        return;
    pthread_mutex_lock(&self->lock);
    self->closing = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->writer, NULL);
    if (self->relaxed) {
        int rc = mdb_env_sync(self->env, 1);
        if (rc != MDB_SUCCESS)
            orcs_log_warn("store", "final sync failed path=%s: %s", self->path,
                          mdb_strerror(rc));
    }
    mdb_env_close(self->env);
    self->env = NULL;
    self->is_open = false;
}

void
orcs_store_destroy(orcs_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs_store_t *self = *self_p;
    s_close(self);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    pthread_rwlock_destroy(&self->grow_lock);
    free(self->path);
    free(self);
    *self_p = NULL;
}

static int
s_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
        return ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

static size_t
s_round_up(size_t size, size_t unit)
{
    return (size + unit - 1) / unit * unit;
}

// Writes the current schema into meta.
static int
s_put_schema(MDB_txn *txn, MDB_dbi meta)
{
    uint8_t schema[4] = {0, 0, 0, ORCS__STORE_SCHEMA};
    MDB_val key = {6, "schema"};
    MDB_val value = {sizeof schema, schema};
    return mdb_put(txn, meta, &key, &value, 0);
}

// Writes the meta records of a new store and creates every sub-database.
static int
s_create_layout(orcs_store_t *self, MDB_txn *txn)
{
    for (int db = 0; db < ORCS_DB_COUNT; db++) {
        int rc = mdb_dbi_open(txn, s_db_names[db], MDB_CREATE, &self->dbi[db]);
        if (rc != MDB_SUCCESS)
            return rc;
    }
    int rc = s_put_schema(txn, self->dbi[ORCS_DB_META]);
    if (rc != MDB_SUCCESS)
        return rc;
    uint64_t now = (uint64_t) orcs_clock_wall_us();
    uint8_t created[8];
    for (int i = 0; i < 8; i++)
        created[i] = (uint8_t) (now >> (56 - 8 * i));
    MDB_val key = {10, "created_us"};
    MDB_val value = {sizeof created, created};
    return mdb_put(txn, self->dbi[ORCS_DB_META], &key, &value, 0);
}

// Reads the schema of an existing store into *schema_p: ORCS_OK when this
// code can use it, ORCS_EPROTO (logged) when it is not an orcs store or a
// newer one.
static orcs_status
s_check_schema(orcs_store_t *self,
               MDB_txn *txn,
               MDB_dbi meta,
               uint32_t *schema_p)
{
    MDB_val key = {6, "schema"};
    MDB_val value;
    int rc = mdb_get(txn, meta, &key, &value);
    if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS && value.mv_size != 4)) {
        orcs_log_warn("store", "not an orcs store (no valid schema) path=%s",
                      self->path);
        return ORCS_EPROTO;
    }
    if (rc != MDB_SUCCESS)
        return orcs__store_from_mdb(rc, "reading the schema");
    const uint8_t *b = value.mv_data;
    uint32_t schema = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16
                      | (uint32_t) b[2] << 8 | b[3];
    if (schema == 0 || schema > ORCS__STORE_SCHEMA) {
        orcs_log_warn("store",
                      "store schema %u is not one this orcs reads (%u or "
                      "older); refusing it path=%s",
                      schema, ORCS__STORE_SCHEMA, self->path);
        return ORCS_EPROTO;
    }
    *schema_p = schema;
    return ORCS_OK;
}

// Opens every sub-database, creating the layout of a new store, in one
// write transaction.
static orcs_status
s_open_dbs(orcs_store_t *self)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS)
        return orcs__store_from_mdb(rc, "opening the layout");
    MDB_dbi meta;
    rc = mdb_dbi_open(txn, s_db_names[ORCS_DB_META], 0, &meta);
    if (rc == MDB_NOTFOUND) {
        MDB_dbi main_db;
        MDB_stat st = {0};
        rc = mdb_dbi_open(txn, NULL, 0, &main_db);
        if (rc == MDB_SUCCESS)
            rc = mdb_stat(txn, main_db, &st);
        if (rc == MDB_SUCCESS && st.ms_entries > 0) {
            mdb_txn_abort(txn);
            orcs_log_warn("store", "not an orcs store (no meta) path=%s",
                          self->path);
            return ORCS_EPROTO;
        }
        if (rc == MDB_SUCCESS)
            rc = s_create_layout(self, txn);
    } else if (rc == MDB_SUCCESS) {
        uint32_t schema = 0;
        orcs_status status = s_check_schema(self, txn, meta, &schema);
        if (status != ORCS_OK) {
            mdb_txn_abort(txn);
            return status;
        }
        // Sub-databases added by a later schema are created here.
        for (int db = 0; db < ORCS_DB_COUNT && rc == MDB_SUCCESS; db++)
            rc = mdb_dbi_open(txn, s_db_names[db], MDB_CREATE, &self->dbi[db]);
        // An older layout is read as it is; the mark keeps older code out.
        if (rc == MDB_SUCCESS && schema < ORCS__STORE_SCHEMA) {
            rc = s_put_schema(txn, meta);
            if (rc == MDB_SUCCESS)
                orcs_log_info("store", "store schema %u marked %u path=%s",
                              schema, ORCS__STORE_SCHEMA, self->path);
        }
    }
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return orcs__store_from_mdb(rc, "opening the layout");
    }
    rc = mdb_txn_commit(txn);
    return orcs__store_from_mdb(rc, "committing the layout");
}

// Creates and opens the LMDB environment in self->path.
static orcs_status
s_open_env(orcs_store_t *self, size_t map_size, int max_readers)
{
    int rc = mdb_env_create(&self->env);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_maxdbs(self->env, ORCS_DB_COUNT);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_maxreaders(self->env, (unsigned) max_readers);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_mapsize(self->env, map_size);
    if (rc != MDB_SUCCESS)
        return orcs__store_from_mdb(rc, "creating the environment");
    unsigned flags = MDB_NOTLS | (self->relaxed ? MDB_NOSYNC : 0);
    rc = mdb_env_open(self->env, self->path, flags, 0600);
    if (rc != MDB_SUCCESS) {
        orcs_status status = orcs__store_from_mdb(rc, "mdb_env_open");
        orcs_log_warn("store", "cannot open store path=%s: %s", self->path,
                      mdb_strerror(rc));
        return status;
    }
    int dead = 0;
    mdb_reader_check(self->env, &dead); // slots of crashed processes
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(self->env, &info);
    mdb_env_stat(self->env, &st);
    self->page_size = st.ms_psize;
    atomic_store(&self->map_size, info.me_mapsize);
    if (info.me_mapsize > self->map_max)
        self->map_max = info.me_mapsize; // an earlier run grew it further
    return ORCS_OK;
}

orcs_status
orcs_store_open(orcs_store_t *self,
                const char *dir,
                const orcs_store_opts_t *opts)
{
    orcs_assert(self && dir && !self->is_open);
    orcs_store_opts_t o = opts ? *opts : (orcs_store_opts_t){0};
    size_t map_size = o.map_size ? o.map_size : S_MAP_SIZE_DEFAULT;
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    map_size = s_round_up(map_size, page);
    self->map_max = s_round_up(o.map_max ? o.map_max : S_MAP_MAX_DEFAULT, page);
    if (self->map_max < map_size)
        self->map_max = map_size;
    self->relaxed = o.relaxed;
    self->sync_ms = o.sync_ms > 0 ? o.sync_ms : S_SYNC_MS_DEFAULT;
    self->spin_us = o.spin_us > 0 ? o.spin_us : 0;
    free(self->path);
    self->path = orcs_strdup(dir);
    self->closing = false;
    int err = s_mkdirs(dir);
    if (err != 0) {
        orcs_log_warn("store", "cannot create directory path=%s: %s", dir,
                      strerror(err));
        return ORCS_EIO;
    }
    orcs_status rc = s_open_env(
        self, map_size, o.max_readers > 0 ? o.max_readers : S_READERS_DEFAULT);
    if (rc == ORCS_OK)
        rc = s_open_dbs(self);
    if (rc == ORCS_OK
        && pthread_create(&self->writer, NULL, orcs__store_writer_main, self)
               != 0)
        rc = ORCS_EIO;
    if (rc != ORCS_OK) {
        if (self->env)
            mdb_env_close(self->env);
        self->env = NULL;
        return rc;
    }
    self->is_open = true;
    orcs_log_info("store", "opened path=%s map_size=%zu map_max=%zu mode=%s",
                  dir, atomic_load(&self->map_size), self->map_max,
                  self->relaxed ? "relaxed" : "sync");
    return ORCS_OK;
}

// ---- batches

orcs_batch_t *
orcs_batch_new(void)
{
    return orcs_calloc(1, sizeof(orcs_batch_t));
}

void
orcs_batch_destroy(orcs_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs_batch_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free(self->ops[i].data);
    free(self->ops);
    free(self);
    *self_p = NULL;
}

static orcs_status
s_add(orcs_batch_t *self,
      orcs__store_op_kind kind,
      orcs_db db,
      const void *key,
      size_t key_size,
      const void *value,
      size_t value_size)
{
    orcs_assert(self);
    if ((int) db < 0 || db >= ORCS_DB_COUNT || !key || key_size == 0
        || key_size > ORCS_STORE_KEY_MAX || (value_size && !value))
        return ORCS_EINVAL;
    if (value_size > S_VALUE_MAX)
        return ORCS_ETOOBIG;
    if (self->count == self->alloc) {
        self->alloc = self->alloc ? self->alloc * 2 : 4;
        self->ops = orcs_realloc(self->ops, self->alloc * sizeof *self->ops);
    }
    orcs__store_op_t *op = &self->ops[self->count++];
    op->kind = kind;
    op->db = db;
    op->has_value = value != NULL;
    op->key_size = key_size;
    op->value_size = value_size;
    op->data = orcs_malloc(key_size + value_size);
    memcpy(op->data, key, key_size);
    if (value_size)
        memcpy(op->data + key_size, value, value_size);
    self->bytes += key_size + value_size;
    if (kind == ORCS__OP_CHECK)
        self->checks++;
    return ORCS_OK;
}

orcs_status
orcs_batch_put(orcs_batch_t *self,
               orcs_db db,
               const void *key,
               size_t key_size,
               const void *value,
               size_t value_size)
{
    static const uint8_t empty = 0;
    if (!value && value_size)
        return ORCS_EINVAL;
    return s_add(self, ORCS__OP_PUT, db, key, key_size, value ? value : &empty,
                 value_size);
}

orcs_status
orcs_batch_del(orcs_batch_t *self, orcs_db db, const void *key, size_t key_size)
{
    return s_add(self, ORCS__OP_DEL, db, key, key_size, NULL, 0);
}

orcs_status
orcs_batch_check(orcs_batch_t *self,
                 orcs_db db,
                 const void *key,
                 size_t key_size,
                 const void *expect,
                 size_t expect_size)
{
    static const uint8_t empty = 0;
    // A non-NULL expect of size 0 expects an empty value; keep it non-NULL.
    const void *value = expect ? (expect_size ? expect : &empty) : NULL;
    return s_add(self, ORCS__OP_CHECK, db, key, key_size, value,
                 expect ? expect_size : 0);
}

size_t
orcs_batch_size(const orcs_batch_t *self)
{
    orcs_assert(self);
    return self->count;
}

// ---- the queue to the writer

// Queues req; false when the store is closed or closing.
static bool
s_enqueue(orcs_store_t *self, orcs__store_req_t *req)
{
    if (self->closing || !self->is_open)
        return false;
    req->next = NULL;
    if (self->tail)
        self->tail->next = req;
    else
        self->head = req;
    self->tail = req;
    atomic_fetch_add_explicit(&self->enqueued, 1, memory_order_release);
    pthread_cond_signal(&self->wake);
    return true;
}

orcs_status
orcs_store_write(orcs_store_t *self, orcs_batch_t **batch_p)
{
    orcs_assert(self && batch_p && *batch_p);
    // The writer completes batches; waiting on itself would never end.
    orcs_assert(!self->is_open || !pthread_equal(pthread_self(), self->writer));
    orcs__store_req_t req = {.batch = *batch_p};
    *batch_p = NULL;
    // A semaphore rather than a condition variable: the writer wakes us
    // without holding the store's lock, so we do not wake up only to wait
    // for that lock (it matters with many writers).
    sem_init(&req.finished, 0, 0);
    pthread_mutex_lock(&self->lock);
    bool queued = s_enqueue(self, &req);
    pthread_mutex_unlock(&self->lock);
    while (queued && sem_wait(&req.finished) != 0)
        ; // EINTR
    sem_destroy(&req.finished);
    if (!queued) {
        orcs_batch_destroy(&req.batch);
        return ORCS_ECLOSED;
    }
    return req.status;
}

orcs_status
orcs_store_write_async(orcs_store_t *self,
                       orcs_batch_t **batch_p,
                       orcs_store_done_fn *done,
                       void *arg)
{
    orcs_assert(self && batch_p && *batch_p && done);
    orcs__store_req_t *req = orcs_calloc(1, sizeof *req);
    req->batch = *batch_p;
    req->done = done;
    req->arg = arg;
    *batch_p = NULL;
    pthread_mutex_lock(&self->lock);
    bool queued = s_enqueue(self, req);
    pthread_mutex_unlock(&self->lock);
    if (!queued) {
        orcs_batch_destroy(&req->batch);
        free(req);
        return ORCS_ECLOSED;
    }
    return ORCS_OK;
}

// ---- reading

int
orcs__store_adopt_map(orcs_store_t *self, bool wait)
{
    if (wait)
        pthread_rwlock_wrlock(&self->grow_lock);
    else if (pthread_rwlock_trywrlock(&self->grow_lock) != 0)
        return MDB_MAP_RESIZED; // a read transaction is active
    int rc = mdb_env_set_mapsize(self->env, 0);
    MDB_envinfo info;
    if (rc == MDB_SUCCESS && mdb_env_info(self->env, &info) == MDB_SUCCESS)
        atomic_store(&self->map_size, info.me_mapsize);
    pthread_rwlock_unlock(&self->grow_lock);
    if (rc == MDB_SUCCESS)
        orcs_log_info("store",
                      "map grown by another process path=%s "
                      "map_size=%zu",
                      self->path, atomic_load(&self->map_size));
    return rc;
}

orcs_status
orcs_store_txn_begin(orcs_store_t *self, orcs_store_txn_t **txn_p)
{
    orcs_assert(self && self->is_open && txn_p);
    *txn_p = NULL;
    pthread_rwlock_rdlock(&self->grow_lock);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    for (int i = 0; rc == MDB_MAP_RESIZED && i < 100; i++) {
        // Another process grew the map. Adopting its size needs that no
        // transaction is active here; a thread that holds another read
        // transaction cannot wait for that, so only try, a few times.
        pthread_rwlock_unlock(&self->grow_lock);
        if (orcs__store_adopt_map(self, false) != MDB_SUCCESS)
            usleep(1000);
        pthread_rwlock_rdlock(&self->grow_lock);
        rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    }
    if (rc != MDB_SUCCESS) {
        pthread_rwlock_unlock(&self->grow_lock);
        return orcs__store_from_mdb(rc, "beginning a read transaction");
    }
    orcs_store_txn_t *self_txn = orcs_malloc(sizeof *self_txn);
    self_txn->store = self;
    self_txn->txn = txn;
    *txn_p = self_txn;
    return ORCS_OK;
}

void
orcs_store_txn_end(orcs_store_txn_t **txn_p)
{
    if (!txn_p || !*txn_p)
        return;
    orcs_store_txn_t *txn = *txn_p;
    mdb_txn_abort(txn->txn);
    pthread_rwlock_unlock(&txn->store->grow_lock);
    free(txn);
    *txn_p = NULL;
}

orcs_status
orcs_store_txn_get(orcs_store_txn_t *txn,
                   orcs_db db,
                   const void *key,
                   size_t key_size,
                   const void **value_p,
                   size_t *value_size_p)
{
    orcs_assert(txn && value_p && value_size_p);
    orcs_assert((int) db >= 0 && db < ORCS_DB_COUNT);
    *value_p = NULL;
    *value_size_p = 0;
    if (!key || key_size == 0 || key_size > ORCS_STORE_KEY_MAX)
        return ORCS_ENOTFOUND; // no such key can be stored
    MDB_val k = {key_size, (void *) key};
    MDB_val v;
    int rc = mdb_get(txn->txn, txn->store->dbi[db], &k, &v);
    if (rc != MDB_SUCCESS)
        return orcs__store_from_mdb(rc, "mdb_get");
    *value_p = v.mv_data;
    *value_size_p = v.mv_size;
    return ORCS_OK;
}

orcs_status
orcs_store_txn_scan(orcs_store_txn_t *txn,
                    orcs_db db,
                    const void *prefix,
                    size_t prefix_size,
                    orcs_store_scan_fn *fn,
                    void *arg)
{
    orcs_assert(txn && fn && (prefix || prefix_size == 0));
    orcs_assert((int) db >= 0 && db < ORCS_DB_COUNT);
    if (prefix_size > ORCS_STORE_KEY_MAX)
        return ORCS_OK; // no key is that long
    MDB_cursor *cursor = NULL;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cursor);
    if (rc != MDB_SUCCESS)
        return orcs__store_from_mdb(rc, "mdb_cursor_open");
    MDB_val k = {prefix_size, (void *) prefix};
    MDB_val v;
    rc =
        mdb_cursor_get(cursor, &k, &v, prefix_size ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        if (prefix_size
            && (k.mv_size < prefix_size
                || memcmp(k.mv_data, prefix, prefix_size) != 0))
            break;
        if (!fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg))
            break;
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    if (rc == MDB_NOTFOUND)
        rc = MDB_SUCCESS; // the end of the database
    return orcs__store_from_mdb(rc, "scanning");
}

orcs_status
orcs_store_get(orcs_store_t *self,
               orcs_db db,
               const void *key,
               size_t key_size,
               void **value_p,
               size_t *value_size_p)
{
    orcs_assert(value_p && value_size_p);
    *value_p = NULL;
    *value_size_p = 0;
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(self, &txn);
    const void *value = NULL;
    size_t size = 0;
    if (rc == ORCS_OK)
        rc = orcs_store_txn_get(txn, db, key, key_size, &value, &size);
    if (rc == ORCS_OK) {
        *value_p = orcs_malloc(size ? size : 1);
        memcpy(*value_p, value, size);
        *value_size_p = size;
    }
    orcs_store_txn_end(&txn);
    return rc;
}

// ---- statistics

static json_t *
s_db_stats(orcs_store_t *self, MDB_txn *txn)
{
    json_t *dbs = json_object();
    for (int db = 0; db < ORCS_DB_COUNT; db++) {
        MDB_stat st;
        if (mdb_stat(txn, self->dbi[db], &st) != MDB_SUCCESS)
            continue;
        size_t pages =
            st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        json_object_set_new(dbs, s_db_names[db],
                            json_pack("{s:I, s:I, s:I}", "entries",
                                      (json_int_t) st.ms_entries, "depth",
                                      (json_int_t) st.ms_depth, "bytes",
                                      (json_int_t) (pages * st.ms_psize)));
    }
    return dbs;
}

json_t *
orcs_store_stats(orcs_store_t *self)
{
    orcs_assert(self);
    json_t *stats =
        json_pack("{s:s?, s:b, s:I, s:I, s:b, s:i, s:I, s:I, s:I, s:I, s:I}",
                  "path", self->path, "open", self->is_open, "map_size",
                  (json_int_t) atomic_load(&self->map_size), "map_max",
                  (json_int_t) self->map_max, "relaxed", self->relaxed,
                  "sync_ms", self->relaxed ? self->sync_ms : 0, "commits",
                  (json_int_t) atomic_load(&self->commits), "batches",
                  (json_int_t) atomic_load(&self->batches), "failed",
                  (json_int_t) atomic_load(&self->failed), "grows",
                  (json_int_t) atomic_load(&self->grows), "syncs",
                  (json_int_t) atomic_load(&self->syncs));
    if (!self->is_open)
        return stats;
    orcs_store_txn_t *txn = NULL;
    if (orcs_store_txn_begin(self, &txn) != ORCS_OK)
        return stats;
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    json_object_set_new(
        stats, "map_used",
        json_integer((json_int_t) ((info.me_last_pgno + 1) * self->page_size)));
    json_object_set_new(stats, "readers",
                        json_integer((json_int_t) info.me_numreaders));
    json_object_set_new(stats, "dbs", s_db_stats(self, txn->txn));
    orcs_store_txn_end(&txn);
    return stats;
}
