/*  test_store.c — the durable store: batches, checks, group commit, reads
    from many threads, map growth, durability modes, schema, records, and
    the node's store.
    SPDX-License-Identifier: MPL-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <lmdb.h>

#include "fixture.h"
#include "orcs/orcs.h"
#include "records.pb.h"

#define S_WAIT_US (20 * 1000000LL) // every wait fails the test past this

// ---- helpers

typedef struct {
    char dir[64];        // scratch directory of the store
    orcs_store_t *store; // open store
} s_env_t;

static void
s_rmrf(const char *dir)
{
    nftw(dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static int
s_setup(void **state)
{
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    s_env_t *env = calloc(1, sizeof *env);
    snprintf(env->dir, sizeof env->dir, "/tmp/orcs-store-XXXXXX");
    if (!mkdtemp(env->dir))
        return -1;
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    orcs_store_destroy(&env->store);
    s_rmrf(env->dir);
    free(env);
    return 0;
}

static orcs_store_t *
s_open(s_env_t *env, const orcs_store_opts_t *opts)
{
    orcs_store_destroy(&env->store);
    env->store = orcs_store_new();
    assert_int_equal(orcs_store_open(env->store, env->dir, opts), ORCS_OK);
    return env->store;
}

static orcs_status
s_put(orcs_store_t *store, orcs_db db, const char *key, const char *value)
{
    orcs_batch_t *batch = orcs_batch_new();
    assert_int_equal(
        orcs_batch_put(batch, db, key, strlen(key), value, strlen(value)),
        ORCS_OK);
    return orcs_store_write(store, &batch);
}

// The value of key as a C string ("" when absent); caller frees.
static char *
s_get(orcs_store_t *store, orcs_db db, const char *key)
{
    void *value = NULL;
    size_t size = 0;
    orcs_status rc = orcs_store_get(store, db, key, strlen(key), &value, &size);
    if (rc == ORCS_ENOTFOUND)
        return strdup("");
    assert_int_equal(rc, ORCS_OK);
    char *text = malloc(size + 1);
    memcpy(text, value, size);
    text[size] = 0;
    free(value);
    return text;
}

static void
s_assert_value(orcs_store_t *store,
               orcs_db db,
               const char *key,
               const char *want)
{
    char *got = s_get(store, db, key);
    assert_string_equal(got, want);
    free(got);
}

static json_int_t
s_stat(orcs_store_t *store, const char *key)
{
    json_t *stats = orcs_store_stats(store);
    json_int_t value = json_integer_value(json_object_get(stats, key));
    json_decref(stats);
    return value;
}

// FNV-1a: values that carry their own checksum.
static uint64_t
s_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

// Fills buf with a value of size bytes (>= 8) whose first 8 bytes are the
// checksum of the rest, which depends on seed.
static void
s_make_value(uint8_t *buf, size_t size, uint64_t seed)
{
    for (size_t i = 8; i < size; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t) (seed >> 56);
    }
    uint64_t h = s_hash(buf + 8, size - 8);
    memcpy(buf, &h, 8);
}

static bool
s_value_ok(const uint8_t *buf, size_t size)
{
    if (size < 8)
        return false;
    uint64_t h;
    memcpy(&h, buf, 8);
    return h == s_hash(buf + 8, size - 8);
}

// ---- lifecycle

static void
test_store_destroy_nulls_reference(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = orcs_store_new();
    orcs_store_destroy(&store);
    assert_null(store);
    orcs_store_destroy(&store); // idempotent
    orcs_store_destroy(NULL);
    store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, env->dir, NULL), ORCS_OK);
    orcs_store_destroy(&store);
    assert_null(store);
    orcs_store_destroy(&store);
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_destroy(&batch);
    assert_null(batch);
    orcs_batch_destroy(&batch);
}

static void
test_db_names_are_fixed(void **state)
{
    (void) state;
    assert_string_equal(orcs_db_name(ORCS_DB_MEMORY), "memory");
    assert_string_equal(orcs_db_name(ORCS_DB_CHECKPOINTS), "checkpoints");
    assert_string_equal(orcs_db_name(ORCS_DB_META), "meta");
    assert_null(orcs_db_name(ORCS_DB_COUNT));
    assert_null(orcs_db_name((orcs_db) -1));
}

static void
test_store_open_creates_every_db(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    json_t *stats = orcs_store_stats(store);
    json_t *dbs = json_object_get(stats, "dbs");
    for (int db = 0; db < ORCS_DB_COUNT; db++)
        assert_non_null(json_object_get(dbs, orcs_db_name((orcs_db) db)));
    assert_int_equal(json_integer_value(json_object_get(stats, "map_size")),
                     64 * 1024 * 1024);
    assert_true(json_is_false(json_object_get(stats, "relaxed")));
    assert_string_equal(json_string_value(json_object_get(stats, "path")),
                        env->dir);
    assert_true(json_integer_value(json_object_get(stats, "map_used")) > 0);
    // The meta database holds the schema record from the start.
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(dbs, "meta"), "entries")),
                     2);
    json_decref(stats);
}

static void
test_store_open_fails_on_unusable_dir(void **state)
{
    s_env_t *env = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/file", env->dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(path, sizeof path, "%s/file/store", env->dir);
    orcs_store_t *store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, path, NULL), ORCS_EIO);
    orcs_store_destroy(&store);
}

// ---- batches and reads

static void
test_batch_rejects_bad_keys(void **state)
{
    (void) state;
    orcs_batch_t *batch = orcs_batch_new();
    char key[ORCS_STORE_KEY_MAX + 1];
    memset(key, 'k', sizeof key);
    assert_int_equal(orcs_batch_put(batch, ORCS_DB_MEMORY, key, 0, "v", 1),
                     ORCS_EINVAL);
    assert_int_equal(orcs_batch_put(batch, ORCS_DB_MEMORY, key,
                                    ORCS_STORE_KEY_MAX + 1, "v", 1),
                     ORCS_EINVAL);
    assert_int_equal(orcs_batch_del(batch, ORCS_DB_MEMORY, NULL, 3),
                     ORCS_EINVAL);
    assert_int_equal(orcs_batch_check(batch, ORCS_DB_COUNT, "k", 1, NULL, 0),
                     ORCS_EINVAL);
    assert_int_equal(orcs_batch_put(batch, ORCS_DB_MEMORY, "k", 1, NULL, 4),
                     ORCS_EINVAL);
    assert_int_equal(orcs_batch_size(batch), 0);
    assert_int_equal(
        orcs_batch_put(batch, ORCS_DB_MEMORY, key, ORCS_STORE_KEY_MAX, "v", 1),
        ORCS_OK);
    assert_int_equal(orcs_batch_put(batch, ORCS_DB_MEMORY, "e", 1, NULL, 0),
                     ORCS_OK);
    assert_int_equal(orcs_batch_size(batch), 2);
    orcs_batch_destroy(&batch);
}

static void
test_store_put_get_del(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    assert_int_equal(s_put(store, ORCS_DB_MEMORY, "alpha", "one"), ORCS_OK);
    s_assert_value(store, ORCS_DB_MEMORY, "alpha", "one");
    s_assert_value(store, ORCS_DB_RUNS, "alpha", ""); // other database
    assert_int_equal(s_put(store, ORCS_DB_MEMORY, "alpha", "two"), ORCS_OK);
    s_assert_value(store, ORCS_DB_MEMORY, "alpha", "two");

    // An empty value is a value.
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "empty", 5, NULL, 0);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    assert_null(batch);
    void *value = NULL;
    size_t size = 7;
    assert_int_equal(
        orcs_store_get(store, ORCS_DB_MEMORY, "empty", 5, &value, &size),
        ORCS_OK);
    assert_non_null(value);
    assert_int_equal(size, 0);
    free(value);

    // Reads inside a transaction borrow LMDB's memory.
    orcs_store_txn_t *txn = NULL;
    assert_int_equal(orcs_store_txn_begin(store, &txn), ORCS_OK);
    const void *borrowed = NULL;
    assert_int_equal(
        orcs_store_txn_get(txn, ORCS_DB_MEMORY, "alpha", 5, &borrowed, &size),
        ORCS_OK);
    assert_int_equal(size, 3);
    assert_memory_equal(borrowed, "two", 3);
    assert_int_equal(
        orcs_store_txn_get(txn, ORCS_DB_MEMORY, "beta", 4, &borrowed, &size),
        ORCS_ENOTFOUND);
    assert_null(borrowed);
    assert_int_equal(
        orcs_store_txn_get(txn, ORCS_DB_MEMORY, "", 0, &borrowed, &size),
        ORCS_ENOTFOUND);
    orcs_store_txn_end(&txn);
    assert_null(txn);
    orcs_store_txn_end(&txn); // idempotent

    batch = orcs_batch_new();
    orcs_batch_del(batch, ORCS_DB_MEMORY, "alpha", 5);
    orcs_batch_del(batch, ORCS_DB_MEMORY, "never", 5); // absent is fine
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    value = (void *) 1;
    assert_int_equal(
        orcs_store_get(store, ORCS_DB_MEMORY, "alpha", 5, &value, &size),
        ORCS_ENOTFOUND);
    assert_null(value);
    assert_int_equal(size, 0);
}

static void
test_store_batch_applies_in_order(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_TASKS, "k", 1, "1", 1);
    orcs_batch_del(batch, ORCS_DB_TASKS, "k", 1);
    orcs_batch_put(batch, ORCS_DB_TASKS, "j", 1, "1", 1);
    orcs_batch_put(batch, ORCS_DB_TASKS, "j", 1, "2", 1);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    s_assert_value(store, ORCS_DB_TASKS, "k", "");
    s_assert_value(store, ORCS_DB_TASKS, "j", "2");
}

typedef struct {
    char keys[16][32]; // keys seen, in order
    char values[16][32];
    int count;
    int stop_after; // return false after this many (0 = never)
} s_scan_t;

static bool
s_scan_collect(const void *key,
               size_t key_size,
               const void *value,
               size_t value_size,
               void *arg)
{
    s_scan_t *scan = arg;
    assert_true(scan->count < 16);
    snprintf(scan->keys[scan->count], 32, "%.*s", (int) key_size,
             (const char *) key);
    snprintf(scan->values[scan->count], 32, "%.*s", (int) value_size,
             (const char *) value);
    scan->count++;
    return scan->stop_after == 0 || scan->count < scan->stop_after;
}

static void
test_store_scan_by_prefix(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    const char *keys[] = {"b/2", "a", "b/1", "b", "c/1", "b/10", "ba"};
    orcs_batch_t *batch = orcs_batch_new();
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        orcs_batch_put(batch, ORCS_DB_MEMORY, keys[i], strlen(keys[i]), keys[i],
                       strlen(keys[i]));
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);

    orcs_store_txn_t *txn = NULL;
    assert_int_equal(orcs_store_txn_begin(store, &txn), ORCS_OK);
    s_scan_t scan = {0};
    assert_int_equal(orcs_store_txn_scan(txn, ORCS_DB_MEMORY, "b/", 2,
                                         s_scan_collect, &scan),
                     ORCS_OK);
    assert_int_equal(scan.count, 3);
    assert_string_equal(scan.keys[0], "b/1");
    assert_string_equal(scan.keys[1], "b/10");
    assert_string_equal(scan.keys[2], "b/2");
    assert_string_equal(scan.values[2], "b/2");

    memset(&scan, 0, sizeof scan);
    assert_int_equal(orcs_store_txn_scan(txn, ORCS_DB_MEMORY, NULL, 0,
                                         s_scan_collect, &scan),
                     ORCS_OK);
    assert_int_equal(scan.count, 7);
    assert_string_equal(scan.keys[0], "a");
    assert_string_equal(scan.keys[6], "c/1");

    memset(&scan, 0, sizeof scan);
    scan.stop_after = 2;
    assert_int_equal(
        orcs_store_txn_scan(txn, ORCS_DB_MEMORY, "b", 1, s_scan_collect, &scan),
        ORCS_OK);
    assert_int_equal(scan.count, 2);
    assert_string_equal(scan.keys[1], "b/1");

    memset(&scan, 0, sizeof scan);
    assert_int_equal(
        orcs_store_txn_scan(txn, ORCS_DB_MEMORY, "d", 1, s_scan_collect, &scan),
        ORCS_OK);
    assert_int_equal(scan.count, 0);
    assert_int_equal(
        orcs_store_txn_scan(txn, ORCS_DB_AUDIT, NULL, 0, s_scan_collect, &scan),
        ORCS_OK);
    assert_int_equal(scan.count, 0);
    orcs_store_txn_end(&txn);
}

// ---- compare-and-set

static void
test_store_check_guards_a_batch(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    // Create only when absent.
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_check(batch, ORCS_DB_MEMORY, "v", 1, NULL, 0);
    orcs_batch_put(batch, ORCS_DB_MEMORY, "v", 1, "1", 1);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);

    // The same again conflicts, and nothing of the batch is applied, even
    // the put written before the check.
    batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "other", 5, "x", 1);
    orcs_batch_check(batch, ORCS_DB_MEMORY, "v", 1, NULL, 0);
    orcs_batch_put(batch, ORCS_DB_MEMORY, "v", 1, "9", 1);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_EEXIST);
    assert_null(batch);
    s_assert_value(store, ORCS_DB_MEMORY, "v", "1");
    s_assert_value(store, ORCS_DB_MEMORY, "other", "");

    // Compare with the current value: a wrong one conflicts...
    batch = orcs_batch_new();
    orcs_batch_check(batch, ORCS_DB_MEMORY, "v", 1, "2", 1);
    orcs_batch_put(batch, ORCS_DB_MEMORY, "v", 1, "3", 1);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_EEXIST);
    batch = orcs_batch_new();
    orcs_batch_check(batch, ORCS_DB_MEMORY, "v", 1, "11", 2); // longer
    orcs_batch_put(batch, ORCS_DB_MEMORY, "v", 1, "3", 1);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_EEXIST);
    // ...the right one applies.
    batch = orcs_batch_new();
    orcs_batch_check(batch, ORCS_DB_MEMORY, "v", 1, "1", 1);
    orcs_batch_put(batch, ORCS_DB_MEMORY, "v", 1, "2", 1);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    s_assert_value(store, ORCS_DB_MEMORY, "v", "2");

    // Expecting a value of an absent key conflicts; an empty value is not
    // absence.
    batch = orcs_batch_new();
    orcs_batch_check(batch, ORCS_DB_MEMORY, "none", 4, "", 0);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_EEXIST);
    batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "empty", 5, NULL, 0);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    batch = orcs_batch_new();
    orcs_batch_check(batch, ORCS_DB_MEMORY, "empty", 5, "", 0);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    batch = orcs_batch_new();
    orcs_batch_check(batch, ORCS_DB_MEMORY, "empty", 5, NULL, 0);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_EEXIST);
    assert_true(s_stat(store, "failed") >= 5);
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;                  // callbacks so far
    orcs_status statuses[256]; // by index
    sem_t entered;             // gate: the first callback is running
    sem_t gate;                // gate: it may return
} s_async_t;

typedef struct {
    s_async_t *async;
    int index;
    bool hold; // wait on the gate (keeps the writer busy)
} s_async_arg_t;

static void
s_async_done(orcs_status status, void *arg)
{
    s_async_arg_t *a = arg;
    if (a->hold) {
        sem_post(&a->async->entered);
        sem_wait(&a->async->gate);
    }
    pthread_mutex_lock(&a->async->lock);
    a->async->statuses[a->index] = status;
    a->async->done++;
    pthread_cond_broadcast(&a->async->cond);
    pthread_mutex_unlock(&a->async->lock);
}

static void
s_async_init(s_async_t *async)
{
    memset(async, 0, sizeof *async);
    pthread_mutex_init(&async->lock, NULL);
    pthread_cond_init(&async->cond, NULL);
    sem_init(&async->entered, 0, 0);
    sem_init(&async->gate, 0, 0);
}

static void
s_async_fini(s_async_t *async)
{
    pthread_mutex_destroy(&async->lock);
    pthread_cond_destroy(&async->cond);
    sem_destroy(&async->entered);
    sem_destroy(&async->gate);
}

static void
s_async_wait(s_async_t *async, int count)
{
    int64_t deadline = orcs_clock_mono_us() + S_WAIT_US;
    pthread_mutex_lock(&async->lock);
    while (async->done < count && orcs_clock_mono_us() < deadline) {
        pthread_mutex_unlock(&async->lock);
        usleep(1000);
        pthread_mutex_lock(&async->lock);
    }
    int done = async->done;
    pthread_mutex_unlock(&async->lock);
    assert_int_equal(done, count);
}

// Batches queued together share one transaction; a failing check fails
// only its own batch.
static void
test_store_group_fails_only_the_conflicting_batch(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    assert_int_equal(s_put(store, ORCS_DB_MEMORY, "taken", "1"), ORCS_OK);
    s_async_t async;
    s_async_init(&async);
    s_async_arg_t args[4] = {{&async, 0, true},
                             {&async, 1, false},
                             {&async, 2, false},
                             {&async, 3, false}};
    // The first batch's callback holds the writer until the others are
    // queued, so they are taken as one group.
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "first", 5, "1", 1);
    assert_int_equal(
        orcs_store_write_async(store, &batch, s_async_done, &args[0]), ORCS_OK);
    assert_null(batch);
    sem_wait(&async.entered);
    json_int_t commits = s_stat(store, "commits");

    batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "a", 1, "1", 1);
    orcs_batch_put(batch, ORCS_DB_MEMORY, "a2", 2, "1", 2);
    orcs_store_write_async(store, &batch, s_async_done, &args[1]);
    batch = orcs_batch_new(); // conflicts: "taken" exists
    orcs_batch_put(batch, ORCS_DB_MEMORY, "b", 1, "1", 1);
    orcs_batch_check(batch, ORCS_DB_MEMORY, "taken", 5, NULL, 0);
    orcs_batch_del(batch, ORCS_DB_MEMORY, "a", 1);
    orcs_store_write_async(store, &batch, s_async_done, &args[2]);
    batch = orcs_batch_new(); // sees the first batch of its group
    orcs_batch_check(batch, ORCS_DB_MEMORY, "a", 1, "1", 1);
    orcs_batch_put(batch, ORCS_DB_MEMORY, "c", 1, "1", 1);
    orcs_store_write_async(store, &batch, s_async_done, &args[3]);
    sem_post(&async.gate);
    s_async_wait(&async, 4);

    assert_int_equal(async.statuses[0], ORCS_OK);
    assert_int_equal(async.statuses[1], ORCS_OK);
    assert_int_equal(async.statuses[2], ORCS_EEXIST);
    assert_int_equal(async.statuses[3], ORCS_OK);
    assert_int_equal(s_stat(store, "commits"), commits + 1); // one group
    s_assert_value(store, ORCS_DB_MEMORY, "a", "1");
    s_assert_value(store, ORCS_DB_MEMORY, "a2", "1");
    s_assert_value(store, ORCS_DB_MEMORY, "b", "");
    s_assert_value(store, ORCS_DB_MEMORY, "c", "1");
    s_async_fini(&async);
}

static void
test_store_async_writes_call_back(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    s_async_t async;
    s_async_init(&async);
    s_async_arg_t args[200];
    for (int i = 0; i < 200; i++) {
        args[i] = (s_async_arg_t){&async, i, false};
        char key[32];
        int n = snprintf(key, sizeof key, "async/%03d", i);
        orcs_batch_t *batch = orcs_batch_new();
        orcs_batch_put(batch, ORCS_DB_CACHE, key, (size_t) n, key, (size_t) n);
        if (i % 10 == 9) // every tenth conflicts with an earlier key
            orcs_batch_check(batch, ORCS_DB_CACHE, "async/000", 9, NULL, 0);
        assert_int_equal(
            orcs_store_write_async(store, &batch, s_async_done, &args[i]),
            ORCS_OK);
        assert_null(batch);
    }
    s_async_wait(&async, 200);
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof key, "async/%03d", i);
        if (i % 10 == 9 && i > 0) {
            assert_int_equal(async.statuses[i], ORCS_EEXIST);
            s_assert_value(store, ORCS_DB_CACHE, key, "");
        } else {
            assert_int_equal(async.statuses[i], ORCS_OK);
            s_assert_value(store, ORCS_DB_CACHE, key, key);
        }
    }
    assert_true(s_stat(store, "commits") <= 200 - 20);
    s_async_fini(&async);
}

static void
test_store_write_refused_when_not_open(void **state)
{
    (void) state;
    orcs_store_t *store = orcs_store_new();
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "k", 1, "v", 1);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_ECLOSED);
    assert_null(batch); // taken whatever the result
    batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "k", 1, "v", 1);
    s_async_t async;
    s_async_init(&async);
    s_async_arg_t arg = {&async, 0, false};
    assert_int_equal(orcs_store_write_async(store, &batch, s_async_done, &arg),
                     ORCS_ECLOSED);
    assert_null(batch);
    assert_int_equal(async.done, 0); // never called after an error
    json_t *stats = orcs_store_stats(store);
    assert_true(json_is_false(json_object_get(stats, "open")));
    json_decref(stats);
    s_async_fini(&async);
    orcs_store_destroy(&store);
}

// ---- many threads

#define S_WRITERS       8
#define S_READERS       4
#define S_WRITES_EACH   150
#define S_VALUE_MAX_LEN 600

typedef struct {
    orcs_store_t *store;
    int id;
    atomic_bool *stop;
    long checked; // reader: values verified
    int failures; // reader: torn or missing values seen
} s_worker_t;

// Writer: each batch puts w<id>/<i>/a and w<id>/<i>/b (same value, which
// carries its checksum) and moves w<id>/last from the previous i with a
// check, so a lost or reordered write shows as a conflict.
static void *
s_writer(void *arg)
{
    s_worker_t *w = arg;
    uint8_t value[S_VALUE_MAX_LEN];
    char prev[16] = "";
    for (int i = 0; i < S_WRITES_EACH; i++) {
        size_t size = 8 + (size_t) ((i * 37 + w->id * 11) % 500);
        s_make_value(value, size, (uint64_t) w->id << 32 | (uint64_t) i);
        char key[64];
        char last[16];
        int n = snprintf(last, sizeof last, "w%d/last", w->id);
        orcs_batch_t *batch = orcs_batch_new();
        orcs_batch_check(batch, ORCS_DB_MEMORY, last, (size_t) n,
                         prev[0] ? prev : NULL, strlen(prev));
        for (int part = 0; part < 2; part++) {
            int k = snprintf(key, sizeof key, "w%d/%04d/%c", w->id, i,
                             part ? 'b' : 'a');
            orcs_batch_put(batch, ORCS_DB_MEMORY, key, (size_t) k, value, size);
        }
        snprintf(prev, sizeof prev, "%04d", i);
        orcs_batch_put(batch, ORCS_DB_MEMORY, last, (size_t) n, prev,
                       strlen(prev));
        if (orcs_store_write(w->store, &batch) != ORCS_OK)
            w->failures++;
    }
    return NULL;
}

typedef struct {
    orcs_store_txn_t *txn;
    s_worker_t *w;
} s_verify_t;

static bool
s_verify_entry(const void *key,
               size_t key_size,
               const void *value,
               size_t value_size,
               void *arg)
{
    s_verify_t *v = arg;
    const char *k = key;
    if (key_size < 2 || k[key_size - 2] != '/' || k[key_size - 1] != 'a')
        return true;
    // Its twin must be in the same snapshot with the same bytes.
    char twin[64];
    snprintf(twin, sizeof twin, "%.*sb", (int) key_size - 1, k);
    const void *other = NULL;
    size_t other_size = 0;
    if (!s_value_ok(value, value_size)
        || orcs_store_txn_get(v->txn, ORCS_DB_MEMORY, twin, key_size, &other,
                              &other_size)
               != ORCS_OK
        || other_size != value_size || memcmp(other, value, value_size) != 0)
        v->w->failures++;
    v->w->checked++;
    return true;
}

static void *
s_reader(void *arg)
{
    s_worker_t *w = arg;
    while (!atomic_load(w->stop)) {
        s_verify_t v = {NULL, w};
        if (orcs_store_txn_begin(w->store, &v.txn) != ORCS_OK) {
            w->failures++;
            break;
        }
        char prefix[8];
        int n = snprintf(prefix, sizeof prefix, "w%d/", w->id % S_WRITERS);
        if (orcs_store_txn_scan(v.txn, ORCS_DB_MEMORY, prefix, (size_t) n,
                                s_verify_entry, &v)
            != ORCS_OK)
            w->failures++;
        orcs_store_txn_end(&v.txn);
        w->id++;
    }
    return NULL;
}

static void
test_store_many_readers_and_writers(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    atomic_bool stop = false;
    s_worker_t writers[S_WRITERS];
    s_worker_t readers[S_READERS];
    pthread_t writer_threads[S_WRITERS];
    pthread_t reader_threads[S_READERS];
    for (int i = 0; i < S_READERS; i++) {
        readers[i] = (s_worker_t){store, i, &stop, 0, 0};
        pthread_create(&reader_threads[i], NULL, s_reader, &readers[i]);
    }
    for (int i = 0; i < S_WRITERS; i++) {
        writers[i] = (s_worker_t){store, i, &stop, 0, 0};
        pthread_create(&writer_threads[i], NULL, s_writer, &writers[i]);
    }
    for (int i = 0; i < S_WRITERS; i++)
        pthread_join(writer_threads[i], NULL);
    atomic_store(&stop, true);
    long checked = 0;
    for (int i = 0; i < S_READERS; i++) {
        pthread_join(reader_threads[i], NULL);
        assert_int_equal(readers[i].failures, 0);
        checked += readers[i].checked;
    }
    assert_true(checked > 0);
    for (int i = 0; i < S_WRITERS; i++)
        assert_int_equal(writers[i].failures, 0);

    // Nothing lost: every pair is there, and every last is the final one.
    s_worker_t final = {store, 0, &stop, 0, 0};
    s_verify_t v = {NULL, &final};
    assert_int_equal(orcs_store_txn_begin(store, &v.txn), ORCS_OK);
    assert_int_equal(
        orcs_store_txn_scan(v.txn, ORCS_DB_MEMORY, "w", 1, s_verify_entry, &v),
        ORCS_OK);
    orcs_store_txn_end(&v.txn);
    assert_int_equal(final.failures, 0);
    assert_int_equal(final.checked, S_WRITERS * S_WRITES_EACH);
    for (int i = 0; i < S_WRITERS; i++) {
        char last[16];
        char want[16];
        snprintf(last, sizeof last, "w%d/last", i);
        snprintf(want, sizeof want, "%04d", S_WRITES_EACH - 1);
        s_assert_value(store, ORCS_DB_MEMORY, last, want);
    }
    // Group commit: fewer commits than batches.
    json_int_t commits = s_stat(store, "commits");
    json_int_t batches = s_stat(store, "batches");
    assert_int_equal(batches, S_WRITERS * S_WRITES_EACH);
    assert_true(commits < batches);
}

// ---- the map

static void *
s_grow_reader(void *arg)
{
    s_worker_t *w = arg;
    while (!atomic_load(w->stop)) {
        void *value = NULL;
        size_t size = 0;
        orcs_status rc = orcs_store_get(w->store, ORCS_DB_ARTIFACTS, "blob/0",
                                        6, &value, &size);
        if (rc == ORCS_OK) {
            if (!s_value_ok(value, size))
                w->failures++;
            w->checked++;
        } else if (rc != ORCS_ENOTFOUND) {
            w->failures++;
        }
        free(value);
    }
    return NULL;
}

static void
test_store_map_grows_then_refuses(void **state)
{
    s_env_t *env = *state;
    orcs_store_opts_t opts = {.map_size = 256 * 1024,
                              .map_max = 2 * 1024 * 1024};
    orcs_store_t *store = s_open(env, &opts);
    atomic_bool stop = false;
    s_worker_t reader = {store, 0, &stop, 0, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, s_grow_reader, &reader);

    size_t size = 100 * 1024;
    uint8_t *value = malloc(size);
    int stored = 0;
    orcs_status rc = ORCS_OK;
    for (int i = 0; i < 64; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "blob/%d", i);
        s_make_value(value, size, (uint64_t) i);
        orcs_batch_t *batch = orcs_batch_new();
        orcs_batch_put(batch, ORCS_DB_ARTIFACTS, key, (size_t) n, value, size);
        rc = orcs_store_write(store, &batch);
        if (rc != ORCS_OK)
            break;
        stored++;
    }
    assert_int_equal(rc, ORCS_ETOOBIG);
    assert_true(stored >= 10); // 2 MiB holds well over 10 of 100 KiB
    assert_true(s_stat(store, "grows") >= 3);
    assert_int_equal(s_stat(store, "map_size"), 2 * 1024 * 1024);
    atomic_store(&stop, true);
    pthread_join(thread, NULL);
    assert_int_equal(reader.failures, 0);

    // Room for small writes whatever the loop left (it depends on how
    // long the reader held old pages): take the last blob out again.
    stored--;
    {
        char key[32];
        int n = snprintf(key, sizeof key, "blob/%d", stored);
        orcs_batch_t *del = orcs_batch_new();
        orcs_batch_del(del, ORCS_DB_ARTIFACTS, key, (size_t) n);
        assert_int_equal(orcs_store_write(store, &del), ORCS_OK);
    }

    // What was stored stays readable; small writes fit; a group that
    // mixes a batch too big for the whole map with small ones fails only
    // the big one.
    size_t huge_size = 3 * 1024 * 1024;
    uint8_t *huge = calloc(1, huge_size);
    s_async_t async;
    s_async_init(&async);
    s_async_arg_t args[3] = {
        {&async, 0, true}, {&async, 1, false}, {&async, 2, false}};
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "hold", 4, "x", 1);
    orcs_store_write_async(store, &batch, s_async_done, &args[0]);
    sem_wait(&async.entered);
    batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_ARTIFACTS, "too/big", 7, huge, huge_size);
    orcs_store_write_async(store, &batch, s_async_done, &args[1]);
    batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, "small", 5, "y", 1);
    orcs_store_write_async(store, &batch, s_async_done, &args[2]);
    sem_post(&async.gate);
    s_async_wait(&async, 3);
    assert_int_equal(async.statuses[0], ORCS_OK);
    assert_int_equal(async.statuses[1], ORCS_ETOOBIG);
    assert_int_equal(async.statuses[2], ORCS_OK);
    s_async_fini(&async);
    free(huge);
    s_assert_value(store, ORCS_DB_MEMORY, "small", "y");

    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < stored; i++) {
            char key[32];
            int n = snprintf(key, sizeof key, "blob/%d", i);
            void *got = NULL;
            size_t got_size = 0;
            assert_int_equal(orcs_store_get(store, ORCS_DB_ARTIFACTS, key,
                                            (size_t) n, &got, &got_size),
                             ORCS_OK);
            s_make_value(value, size, (uint64_t) i);
            assert_int_equal(got_size, size);
            assert_memory_equal(got, value, size);
            free(got);
        }
        store = s_open(env, &opts); // and after a reopen
    }
    free(value);
}

// ---- durability modes and reopening

static void
test_store_relaxed_mode_syncs_in_background(void **state)
{
    s_env_t *env = *state;
    orcs_store_opts_t opts = {.relaxed = true, .sync_ms = 5};
    orcs_store_t *store = s_open(env, &opts);
    json_t *stats = orcs_store_stats(store);
    assert_true(json_is_true(json_object_get(stats, "relaxed")));
    assert_int_equal(json_integer_value(json_object_get(stats, "sync_ms")), 5);
    json_decref(stats);
    assert_int_equal(s_put(store, ORCS_DB_THREADS, "t", "1"), ORCS_OK);
    int64_t deadline = orcs_clock_mono_us() + S_WAIT_US;
    while (s_stat(store, "syncs") < 1 && orcs_clock_mono_us() < deadline)
        usleep(1000);
    assert_true(s_stat(store, "syncs") >= 1);
    assert_int_equal(s_put(store, ORCS_DB_THREADS, "t", "2"), ORCS_OK);
    store = s_open(env, &opts); // the close syncs what is left
    s_assert_value(store, ORCS_DB_THREADS, "t", "2");
    store = s_open(env, NULL); // a relaxed store opens in sync mode too
    s_assert_value(store, ORCS_DB_THREADS, "t", "2");
}

static void
test_store_reopen_keeps_data(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    for (int db = 0; db < ORCS_DB_COUNT; db++) {
        if (db == ORCS_DB_META)
            continue;
        assert_int_equal(s_put(store, (orcs_db) db, "k", orcs_db_name(db)),
                         ORCS_OK);
    }
    orcs_store_opts_t bigger = {.map_size = 128 * 1024 * 1024};
    store = s_open(env, &bigger);
    for (int db = 0; db < ORCS_DB_COUNT; db++)
        if (db != ORCS_DB_META)
            s_assert_value(store, (orcs_db) db, "k", orcs_db_name(db));
    // A smaller map than the data never loses it either.
    orcs_store_opts_t smaller = {.map_size = 64 * 1024};
    store = s_open(env, &smaller);
    s_assert_value(store, ORCS_DB_SPANS, "k", "spans");
}

static void
test_store_refuses_newer_schema(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    const uint8_t newer[4] = {0, 0, 0, 3};
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_META, "schema", 6, newer, 4);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    orcs_store_destroy(&env->store);
    store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, env->dir, NULL), ORCS_EPROTO);
    orcs_store_destroy(&store);
}

// A store of the previous schema opens and is marked with the current one,
// so an orcs that only knows the previous cannot misread it.
static void
test_store_marks_an_older_schema(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    const uint8_t older[4] = {0, 0, 0, 1};
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_META, "schema", 6, older, 4);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    orcs_store_destroy(&env->store);
    env->store = orcs_store_new();
    assert_int_equal(orcs_store_open(env->store, env->dir, NULL), ORCS_OK);
    void *value = NULL;
    size_t size = 0;
    assert_int_equal(
        orcs_store_get(env->store, ORCS_DB_META, "schema", 6, &value, &size),
        ORCS_OK);
    assert_int_equal(size, 4);
    assert_memory_equal(value, "\0\0\0\2", 4);
    free(value);
}

static void
test_store_refuses_other_files(void **state)
{
    s_env_t *env = *state;
    // An LMDB environment that is not an orcs store.
    MDB_env *raw = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&raw), 0);
    assert_int_equal(mdb_env_open(raw, env->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(raw, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val key = {3, "key"};
    MDB_val value = {5, "value"};
    assert_int_equal(mdb_put(txn, dbi, &key, &value, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(raw);
    orcs_store_t *store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, env->dir, NULL), ORCS_EPROTO);
    orcs_store_destroy(&store);

    // Not LMDB at all.
    char path[128];
    snprintf(path, sizeof path, "%s/garbage", env->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/garbage/data.mdb", env->dir);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    for (int i = 0; i < 4096; i++)
        fputc(i * 7, file);
    fclose(file);
    snprintf(path, sizeof path, "%s/garbage", env->dir);
    store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, path, NULL), ORCS_EPROTO);
    orcs_store_destroy(&store);
}

// ---- records

static void
test_record_round_trips(void **state)
{
    (void) state;
    RunRecord run = RunRecord_init_zero;
    snprintf(run.id, sizeof run.id, "run-1");
    snprintf(run.workflow, sizeof run.workflow, "review");
    run.status = ORCS_RECORD_RUNNING;
    run.attempt = 2;
    run.created_us = 1700000000000000;
    run.error = ORCS_ETIMEDOUT;
    snprintf(run.detail, sizeof run.detail, "waiting for the model");
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_run_record_encode(&run, &data, &size), ORCS_OK);
    RunRecord back;
    assert_int_equal(orcs_run_record_decode(data, size, &back), ORCS_OK);
    free(data);
    assert_int_equal(back.schema, ORCS_RUN_RECORD_SCHEMA);
    assert_string_equal(back.id, "run-1");
    assert_string_equal(back.workflow, "review");
    assert_int_equal(back.status, ORCS_RECORD_RUNNING);
    assert_int_equal(back.attempt, 2);
    assert_int_equal(back.created_us, 1700000000000000);
    assert_int_equal(back.error, ORCS_ETIMEDOUT);
    assert_string_equal(back.detail, "waiting for the model");

    TaskRecord task = TaskRecord_init_zero;
    snprintf(task.run_id, sizeof task.run_id, "run-1");
    snprintf(task.id, sizeof task.id, "t1");
    snprintf(task.idempotency_key, sizeof task.idempotency_key, "k-1");
    task.depends_on_count = 2;
    snprintf(task.depends_on[0], sizeof task.depends_on[0], "t0");
    snprintf(task.depends_on[1], sizeof task.depends_on[1], "t00");
    task.output_digest.size = 32;
    memset(task.output_digest.bytes, 0xab, 32);
    task.max_attempts = 3;
    assert_int_equal(orcs_task_record_encode(&task, &data, &size), ORCS_OK);
    TaskRecord task_back;
    assert_int_equal(orcs_task_record_decode(data, size, &task_back), ORCS_OK);
    free(data);
    assert_int_equal(task_back.schema, ORCS_TASK_RECORD_SCHEMA);
    assert_string_equal(task_back.idempotency_key, "k-1");
    assert_int_equal(task_back.depends_on_count, 2);
    assert_string_equal(task_back.depends_on[1], "t00");
    assert_int_equal(task_back.output_digest.size, 32);
    assert_int_equal(task_back.max_attempts, 3);

    CheckpointRecord checkpoint = CheckpointRecord_init_zero;
    checkpoint.seq = 42;
    checkpoint.event = 7;
    snprintf(checkpoint.actor, sizeof checkpoint.actor, "planner");
    assert_int_equal(orcs_checkpoint_record_encode(&checkpoint, &data, &size),
                     ORCS_OK);
    CheckpointRecord checkpoint_back;
    assert_int_equal(
        orcs_checkpoint_record_decode(data, size, &checkpoint_back), ORCS_OK);
    free(data);
    assert_int_equal(checkpoint_back.seq, 42);
    assert_string_equal(checkpoint_back.actor, "planner");

    SpanRecord span = SpanRecord_init_zero;
    span.trace_id.size = 16;
    memset(span.trace_id.bytes, 1, 16);
    span.span_id.size = 8;
    snprintf(span.name, sizeof span.name, "llm.chat");
    span.end_us = -1; // negative numbers survive
    assert_int_equal(orcs_span_record_encode(&span, &data, &size), ORCS_OK);
    SpanRecord span_back;
    assert_int_equal(orcs_span_record_decode(data, size, &span_back), ORCS_OK);
    free(data);
    assert_int_equal(span_back.trace_id.size, 16);
    assert_int_equal(span_back.end_us, -1);
    assert_string_equal(span_back.name, "llm.chat");

    AuditEntry audit = AuditEntry_init_zero;
    audit.seq = 9;
    audit.outcome = ORCS_AUDIT_DENIED;
    audit.status = ORCS_EDENIED;
    snprintf(audit.action, sizeof audit.action, "memory.get");
    snprintf(audit.target, sizeof audit.target, "agent:b/notes");
    assert_int_equal(orcs_audit_entry_encode(&audit, &data, &size), ORCS_OK);
    AuditEntry audit_back;
    assert_int_equal(orcs_audit_entry_decode(data, size, &audit_back), ORCS_OK);
    free(data);
    assert_int_equal(audit_back.outcome, ORCS_AUDIT_DENIED);
    assert_int_equal(audit_back.status, ORCS_EDENIED);
    assert_string_equal(audit_back.target, "agent:b/notes");
}

static bool
s_all_zero(const void *p, size_t size)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < size; i++)
        if (b[i])
            return false;
    return true;
}

static void
test_record_decode_refuses_damage_and_newer_schema(void **state)
{
    (void) state;
    RunRecord run = RunRecord_init_zero;
    snprintf(run.id, sizeof run.id, "run-2");
    snprintf(run.detail, sizeof run.detail, "some detail text");
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_run_record_encode(&run, &data, &size), ORCS_OK);
    RunRecord back;
    // Truncated.
    assert_int_equal(orcs_run_record_decode(data, size - 3, &back),
                     ORCS_EPROTO);
    assert_true(s_all_zero(&back, sizeof back));
    // Garbage.
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(orcs_run_record_decode(garbage, sizeof garbage, &back),
                     ORCS_EPROTO);
    // Empty: no schema version.
    assert_int_equal(orcs_run_record_decode("", 0, &back), ORCS_EPROTO);
    // A string longer than its bound (field 2, id, 80 bytes).
    uint8_t long_id[2 + 2 + 80] = {0x08, 0x01, 0x12, 80};
    memset(long_id + 4, 'x', 80);
    assert_int_equal(orcs_run_record_decode(long_id, sizeof long_id, &back),
                     ORCS_EPROTO);
    // Too big a value.
    uint8_t *huge = calloc(1, ORCS_RECORD_MAX_SIZE + 1);
    assert_int_equal(
        orcs_run_record_decode(huge, ORCS_RECORD_MAX_SIZE + 1, &back),
        ORCS_EPROTO);
    free(huge);
    // Written by a newer schema: field 1 is 2.
    assert_int_equal(data[0], 0x08);
    assert_int_equal(data[1], ORCS_RUN_RECORD_SCHEMA);
    data[1] = ORCS_RUN_RECORD_SCHEMA + 1;
    assert_int_equal(orcs_run_record_decode(data, size, &back), ORCS_EPROTO);
    assert_true(s_all_zero(&back, sizeof back));
    free(data);
    // Unknown fields from a later version of the same schema are skipped.
    const uint8_t extra[] = {0x08, 0x01, 0xf8, 0x06, 0x05}; // field 111 = 5
    assert_int_equal(orcs_run_record_decode(extra, sizeof extra, &back),
                     ORCS_OK);
    assert_int_equal(back.schema, 1);

    TaskRecord task_back;
    assert_int_equal(orcs_task_record_decode(garbage, 3, &task_back),
                     ORCS_EPROTO);
    CheckpointRecord checkpoint_back;
    assert_int_equal(orcs_checkpoint_record_decode("", 0, &checkpoint_back),
                     ORCS_EPROTO);
    SpanRecord span_back;
    const uint8_t newer[] = {0x08, 0x63};
    assert_int_equal(orcs_span_record_decode(newer, 2, &span_back),
                     ORCS_EPROTO);
    AuditEntry audit_back;
    assert_int_equal(orcs_audit_entry_decode(garbage, 1, &audit_back),
                     ORCS_EPROTO);

    // Encoding refuses a string that fills its array without a NUL.
    RunRecord bad = RunRecord_init_zero;
    memset(bad.id, 'x', sizeof bad.id);
    data = (uint8_t *) 1;
    assert_int_equal(orcs_run_record_encode(&bad, &data, &size), ORCS_EINVAL);
    assert_null(data);
    assert_int_equal(size, 0);
}

static void
test_record_stored_and_read_back(void **state)
{
    s_env_t *env = *state;
    orcs_store_t *store = s_open(env, NULL);
    AuditEntry entry = AuditEntry_init_zero;
    entry.seq = 1;
    snprintf(entry.actor, sizeof entry.actor, "agent.a");
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_audit_entry_encode(&entry, &data, &size), ORCS_OK);
    const uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_AUDIT, key, 8, data, size);
    free(data);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    void *value = NULL;
    assert_int_equal(
        orcs_store_get(store, ORCS_DB_AUDIT, key, 8, &value, &size), ORCS_OK);
    AuditEntry back;
    assert_int_equal(orcs_audit_entry_decode(value, size, &back), ORCS_OK);
    free(value);
    assert_string_equal(back.actor, "agent.a");
    // A document value next to it (MessagePack).
    json_t *doc = json_pack("{s:s, s:[i, i]}", "note", "hi", "list", 1, 2);
    assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_OK);
    batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_THREADS, "thread/1", 8, data, size);
    free(data);
    assert_int_equal(orcs_store_write(store, &batch), ORCS_OK);
    assert_int_equal(
        orcs_store_get(store, ORCS_DB_THREADS, "thread/1", 8, &value, &size),
        ORCS_OK);
    json_t *doc_back = NULL;
    assert_int_equal(orcs_doc_decode(value, size, NULL, &doc_back), ORCS_OK);
    free(value);
    assert_true(json_equal(doc, doc_back));
    json_decref(doc);
    json_decref(doc_back);
}

// ---- the node's store

static void
test_node_opens_its_store(void **state)
{
    (void) state;
    fixture_t f;
    assert_int_equal(fixture_start(&f, "{\"children\": []}", NULL), ORCS_OK);
    orcs_store_t *store = orcs_node_store(f.node);
    assert_non_null(store);
    assert_int_equal(s_put(store, ORCS_DB_RUNS, "run", "1"), ORCS_OK);
    json_t *stats = orcs_store_stats(store);
    char want[128];
    snprintf(want, sizeof want, "%s/store", f.data);
    assert_string_equal(json_string_value(json_object_get(stats, "path")),
                        want);
    json_decref(stats);
    orcs_client_destroy(&f.client);
    orcs_node_stop(f.node);
    assert_null(orcs_node_store(f.node));
    fixture_stop(&f);
}

static void
test_node_store_config_is_checked(void **state)
{
    (void) state;
    orcs_config_t *config = NULL;
    char err[256] = "";
    const char *text = "store:\n  map_size_mb: 32\n  map_max_mb: 16\n";
    assert_int_equal(orcs_config_parse(text, strlen(text), "node.yaml", &config,
                                       err, sizeof err),
                     ORCS_ECONFIG);
    assert_non_null(strstr(err, "store.map_max_mb"));
    text = "store:\n  durability: fast\n";
    assert_int_equal(orcs_config_parse(text, strlen(text), "node.yaml", &config,
                                       err, sizeof err),
                     ORCS_ECONFIG);
    assert_non_null(strstr(err, "node.yaml:2: store.durability"));
    text = "store:\n  durability: relaxed\n  sync_ms: 20\n"
           "limits:\n  send_timeout_ms: 0\n";
    assert_int_equal(orcs_config_parse(text, strlen(text), "node.yaml", &config,
                                       err, sizeof err),
                     ORCS_OK);
    json_t *store = json_object_get(orcs_config_doc(config), "store");
    assert_int_equal(json_integer_value(json_object_get(store, "map_size_mb")),
                     64);
    assert_int_equal(json_integer_value(json_object_get(store, "sync_ms")), 20);
    orcs_config_destroy(&config);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_store_destroy_nulls_reference),
        T(test_db_names_are_fixed),
        T(test_store_open_creates_every_db),
        T(test_store_open_fails_on_unusable_dir),
        T(test_batch_rejects_bad_keys),
        T(test_store_put_get_del),
        T(test_store_batch_applies_in_order),
        T(test_store_scan_by_prefix),
        T(test_store_check_guards_a_batch),
        T(test_store_group_fails_only_the_conflicting_batch),
        T(test_store_async_writes_call_back),
        T(test_store_write_refused_when_not_open),
        T(test_store_many_readers_and_writers),
        T(test_store_map_grows_then_refuses),
        T(test_store_relaxed_mode_syncs_in_background),
        T(test_store_reopen_keeps_data),
        T(test_store_refuses_newer_schema),
        T(test_store_marks_an_older_schema),
        T(test_store_refuses_other_files),
        T(test_record_round_trips),
        T(test_record_decode_refuses_damage_and_newer_schema),
        T(test_record_stored_and_read_back),
        T(test_node_opens_its_store),
        T(test_node_store_config_is_checked),
    };
#undef T
    int failed = cmocka_run_group_tests_name("orcs_store", tests, NULL, NULL);
    orcs_runtime_shutdown();
    return failed;
}
