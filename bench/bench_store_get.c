/*  bench_store_get.c — reads through the store's API.
    SPDX-License-Identifier: MPL-2.0

    100000 keys (32 bytes, 100-byte values) are loaded into the store and,
    the same way, into a raw LMDB environment next to it. One thread then
    looks keys up in a fixed random order, S_PER_TXN gets per read
    transaction: orcs_store_txn_begin + orcs_store_txn_get + txn_end on
    one side, mdb_txn_begin(MDB_RDONLY) + mdb_get + mdb_txn_abort on the
    other, in alternating blocks; gets_per_s compares the medians (target
    ratio >= 0.8). orcs_store_get (a transaction and a copy per get) is
    measured too and shown on stderr only. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "bench.h"

#define S_BENCH   "store_get"
#define S_KEYS    100000
#define S_GETS    4000000 // per side, in all
#define S_ROUNDS  9       // alternating blocks per side
#define S_PER_TXN 1000    // gets per read transaction
#define S_VALUE   100
#define S_KEY     32

static void
s_check(int rc, const char *what)
{
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "bench: %s: %s: %s\n", S_BENCH, what, mdb_strerror(rc));
        exit(1);
    }
}

static void
s_key(char *key, long i)
{
    char text[S_KEY + 1];
    snprintf(text, sizeof text, "key/%028ld", i);
    memcpy(key, text, S_KEY);
}

static void
s_value(uint8_t *value, long i)
{
    for (int j = 0; j < S_VALUE; j++)
        value[j] = (uint8_t) (i * 131 + j);
}

static void
s_load_store(orcs_store_t *store, long keys)
{
    char key[S_KEY];
    uint8_t value[S_VALUE];
    for (long i = 0; i < keys;) {
        orcs_batch_t *batch = orcs_batch_new();
        for (int n = 0; n < 1000 && i < keys; n++, i++) {
            s_key(key, i);
            s_value(value, i);
            orcs_batch_put(batch, ORCS_DB_MEMORY, key, S_KEY, value, S_VALUE);
        }
        orcs_status rc = orcs_store_write(store, &batch);
        if (rc != ORCS_OK)
            bench_die(NULL, "orcs_store_write", rc);
    }
}

static MDB_env *
s_load_raw(const char *dir, long keys, MDB_dbi *dbi_p)
{
    MDB_env *env = NULL;
    s_check(mdb_env_create(&env), "mdb_env_create");
    s_check(mdb_env_set_maxdbs(env, 2), "mdb_env_set_maxdbs");
    s_check(mdb_env_set_mapsize(env, 1ull << 30), "mdb_env_set_mapsize");
    s_check(mdb_env_open(env, dir, MDB_NOTLS, 0600), "mdb_env_open");
    char key[S_KEY];
    uint8_t value[S_VALUE];
    for (long i = 0; i < keys;) {
        MDB_txn *txn = NULL;
        s_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        s_check(mdb_dbi_open(txn, "memory", MDB_CREATE, dbi_p), "mdb_dbi_open");
        for (int n = 0; n < 1000 && i < keys; n++, i++) {
            s_key(key, i);
            s_value(value, i);
            MDB_val k = {S_KEY, key};
            MDB_val v = {S_VALUE, value};
            s_check(mdb_put(txn, *dbi_p, &k, &v, 0), "mdb_put");
        }
        s_check(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    return env;
}

// gets lookups in order[], through the store; returns gets/s.
static double
s_store_gets(orcs_store_t *store, const long *order, long count, long gets)
{
    char key[S_KEY];
    unsigned sum = 0;
    int64_t start = bench_now_ns();
    for (long done = 0; done < gets;) {
        orcs_store_txn_t *txn = NULL;
        orcs_status rc = orcs_store_txn_begin(store, &txn);
        if (rc != ORCS_OK)
            bench_die(NULL, "orcs_store_txn_begin", rc);
        for (int n = 0; n < S_PER_TXN && done < gets; n++, done++) {
            s_key(key, order[done % count]);
            const void *value = NULL;
            size_t size = 0;
            rc = orcs_store_txn_get(txn, ORCS_DB_MEMORY, key, S_KEY, &value,
                                    &size);
            if (rc != ORCS_OK)
                bench_die(NULL, "orcs_store_txn_get", rc);
            sum += ((const uint8_t *) value)[size - 1];
        }
        orcs_store_txn_end(&txn);
    }
    double rate = (double) gets / ((double) (bench_now_ns() - start) / 1e9);
    return sum == 1 ? 0 : rate; // sum keeps the reads from being dropped
}

static double
s_raw_gets(MDB_env *env, MDB_dbi dbi, const long *order, long count, long gets)
{
    char key[S_KEY];
    unsigned sum = 0;
    int64_t start = bench_now_ns();
    for (long done = 0; done < gets;) {
        MDB_txn *txn = NULL;
        s_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
        for (int n = 0; n < S_PER_TXN && done < gets; n++, done++) {
            s_key(key, order[done % count]);
            MDB_val k = {S_KEY, key};
            MDB_val v;
            s_check(mdb_get(txn, dbi, &k, &v), "mdb_get");
            sum += ((const uint8_t *) v.mv_data)[v.mv_size - 1];
        }
        mdb_txn_abort(txn);
    }
    double rate = (double) gets / ((double) (bench_now_ns() - start) / 1e9);
    return sum == 1 ? 0 : rate;
}

// orcs_store_get: one read transaction and a malloc'd copy per get.
static double
s_store_single_gets(orcs_store_t *store, const long *order, long gets)
{
    char key[S_KEY];
    unsigned sum = 0;
    int64_t start = bench_now_ns();
    for (long i = 0; i < gets; i++) {
        s_key(key, order[i]);
        void *value = NULL;
        size_t size = 0;
        orcs_status rc =
            orcs_store_get(store, ORCS_DB_MEMORY, key, S_KEY, &value, &size);
        if (rc != ORCS_OK)
            bench_die(NULL, "orcs_store_get", rc);
        sum += ((const uint8_t *) value)[size - 1];
        free(value);
    }
    double rate = (double) gets / ((double) (bench_now_ns() - start) / 1e9);
    return sum == 1 ? 0 : rate;
}

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

int
main(void)
{
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    char dir[] = "/tmp/orcs-bench-store.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench: mkdtemp");
        return 1;
    }
    long keys = bench_scaled(S_KEYS, 1000);
    long gets = bench_scaled(S_GETS, 100000) / S_ROUNDS;
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/store", dir);
    orcs_store_t *store = orcs_store_new();
    orcs_status rc = orcs_store_open(store, path, NULL);
    if (rc != ORCS_OK)
        bench_die(NULL, "orcs_store_open", rc);
    s_load_store(store, keys);
    snprintf(path, sizeof path, "%s/raw", dir);
    mkdir(path, 0700);
    MDB_dbi dbi;
    MDB_env *env = s_load_raw(path, keys, &dbi);

    long *order = malloc((size_t) keys * sizeof *order);
    for (long i = 0; i < keys; i++)
        order[i] = i;
    srand(7);
    for (long i = keys - 1; i > 0; i--) {
        long j = rand() % (i + 1);
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    s_store_gets(store, order, keys, gets / 4); // warm up both
    s_raw_gets(env, dbi, order, keys, gets / 4);
    double mine[S_ROUNDS];
    double theirs[S_ROUNDS];
    for (int r = 0; r < S_ROUNDS; r++) {
        mine[r] = s_store_gets(store, order, keys, gets);
        theirs[r] = s_raw_gets(env, dbi, order, keys, gets);
    }
    double value = bench_median(mine, S_ROUNDS);
    double baseline = bench_median(theirs, S_ROUNDS);
    double single = s_store_single_gets(store, order, keys);
    bench_print(S_BENCH, "gets_per_s", value, "get/s", baseline);
    fprintf(stderr,
            "%s: %.2fM gets/s through orcs_store_txn_get (%d per read "
            "transaction), raw mdb_get %.2fM/s; ratio %.2f (target >= 0.8); "
            "orcs_store_get (a transaction and a copy each): %.2fM/s\n",
            S_BENCH, value / 1e6, S_PER_TXN, baseline / 1e6, value / baseline,
            single / 1e6);

    free(order);
    orcs_store_destroy(&store);
    mdb_env_close(env);
    nftw(dir, s_remove, 8, FTW_DEPTH | FTW_PHYS);
    orcs_runtime_shutdown();
    return 0;
}
