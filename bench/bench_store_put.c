/*  bench_store_put.c — durable puts through the store's writer (group
    commit), with 1, 10 and 100 writer threads.
    SPDX-License-Identifier: MPL-2.0

    Every put is one orcs_store_write of a one-put batch (32-byte key,
    100-byte value) in sync mode: it returns once its commit is synced.

    Baseline: raw LMDB in the same run and on the same filesystem, one
    thread, one put per write transaction, each committed synced (LMDB's
    default): what a program gets without a group-commit writer.
    - writers_1_us: median latency of one put, store vs raw, measured in
      alternating blocks (target ratio <= 1.3).
    - writers_10_per_s, writers_100_per_s: total puts/s of N threads each
      doing blocking puts for a fixed time, vs the raw single-put-per-
      synced-commit rate, in alternating windows, medians compared (target
      ratio >= 6 at 100). Each writer has its own key range (as actors
      do), so a commit of N puts writes about N leaf pages.
    The scratch directory is in /tmp (TMPDIR): on tmpfs a sync costs
    nothing and these figures say little. */
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "bench.h"

#define S_BENCH   "store_put"
#define S_SAMPLES 2000 // writers_1: puts of each side
#define S_BLOCK   100  // samples per block before switching sides
#define S_WARMUP  50
#define S_RUN_MS  5000 // writers_N: how long the threads write, in all
#define S_ROUNDS  5    // writers_N: alternating store and raw windows
#define S_VALUE   100
#define S_KEY     32

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
    long next; // key counter
} s_raw_t;

static void
s_check(int rc, const char *what)
{
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "bench: %s: %s: %s\n", S_BENCH, what, mdb_strerror(rc));
        exit(1);
    }
}

static void
s_raw_open(s_raw_t *raw, const char *dir)
{
    s_check(mdb_env_create(&raw->env), "mdb_env_create");
    s_check(mdb_env_set_maxdbs(raw->env, 2), "mdb_env_set_maxdbs");
    s_check(mdb_env_set_mapsize(raw->env, 1ull << 30), "mdb_env_set_mapsize");
    s_check(mdb_env_open(raw->env, dir, 0, 0600), "mdb_env_open");
    MDB_txn *txn = NULL;
    s_check(mdb_txn_begin(raw->env, NULL, 0, &txn), "mdb_txn_begin");
    s_check(mdb_dbi_open(txn, "memory", MDB_CREATE, &raw->dbi), "mdb_dbi_open");
    s_check(mdb_txn_commit(txn), "mdb_txn_commit");
}

// One put in its own synced write transaction.
static void
s_raw_put(s_raw_t *raw, const uint8_t *value)
{
    char key[S_KEY + 1];
    snprintf(key, sizeof key, "raw/%027ld", raw->next++);
    MDB_val k = {S_KEY, key};
    MDB_val v = {S_VALUE, (void *) value};
    MDB_txn *txn = NULL;
    s_check(mdb_txn_begin(raw->env, NULL, 0, &txn), "mdb_txn_begin");
    s_check(mdb_put(txn, raw->dbi, &k, &v, 0), "mdb_put");
    s_check(mdb_txn_commit(txn), "mdb_txn_commit");
}

static void
s_store_put(orcs_store_t *store, int thread, long seq, const uint8_t *value)
{
    char key[S_KEY + 1];
    snprintf(key, sizeof key, "w%03d/%027ld", thread, seq);
    orcs_batch_t *batch = orcs_batch_new();
    orcs_batch_put(batch, ORCS_DB_MEMORY, key, S_KEY, value, S_VALUE);
    orcs_status rc = orcs_store_write(store, &batch);
    if (rc != ORCS_OK)
        bench_die(NULL, "orcs_store_write", rc);
}

// ---- one writer: latency

static double
s_writers_1(orcs_store_t *store, s_raw_t *raw, const uint8_t *value)
{
    long samples = bench_scaled(S_SAMPLES, 2 * S_BLOCK);
    double *mine = calloc((size_t) samples, sizeof *mine);
    double *theirs = calloc((size_t) samples, sizeof *theirs);
    for (int i = 0; i < S_WARMUP; i++) {
        s_store_put(store, 0, -1 - i, value);
        s_raw_put(raw, value);
    }
    long seq = 0;
    for (long done = 0; done < samples; done += S_BLOCK) {
        long block = samples - done < S_BLOCK ? samples - done : S_BLOCK;
        for (long i = 0; i < block; i++) {
            int64_t start = bench_now_ns();
            s_store_put(store, 0, seq++, value);
            mine[done + i] = (double) (bench_now_ns() - start) / 1e3;
        }
        for (long i = 0; i < block; i++) {
            int64_t start = bench_now_ns();
            s_raw_put(raw, value);
            theirs[done + i] = (double) (bench_now_ns() - start) / 1e3;
        }
    }
    double value_us = bench_median(mine, (size_t) samples);
    double baseline_us = bench_median(theirs, (size_t) samples);
    double p99 = bench_percentile(mine, (size_t) samples, 99);
    double raw_p99 = bench_percentile(theirs, (size_t) samples, 99);
    bench_print(S_BENCH, "writers_1_us", value_us, "us", baseline_us);
    fprintf(stderr,
            "%s: 1 writer: %.0f us per durable put (p99 %.0f), raw LMDB "
            "synced commit %.0f us (p99 %.0f); ratio %.2f (target <= 1.3)\n",
            S_BENCH, value_us, p99, baseline_us, raw_p99,
            value_us / baseline_us);
    free(mine);
    free(theirs);
    return baseline_us;
}

// ---- many writers: throughput

typedef struct {
    orcs_store_t *store;
    const uint8_t *value;
    int thread;
    atomic_bool *go;   // all threads start together
    atomic_bool *stop; // and stop together
    atomic_int *ready;
    long puts; // read after the join
} s_writer_t;

static void *
s_writer(void *arg)
{
    s_writer_t *w = arg;
    atomic_fetch_add(w->ready, 1);
    while (!atomic_load(w->go))
        sched_yield();
    while (!atomic_load(w->stop))
        s_store_put(w->store, w->thread, w->puts++, w->value);
    return NULL;
}

// Raw single-put synced commits per second, for run_ms.
static double
s_raw_rate(s_raw_t *raw, const uint8_t *value, int run_ms)
{
    int64_t start = bench_now_ns();
    int64_t end = start + (int64_t) run_ms * 1000000;
    long puts = 0;
    int64_t now;
    do {
        s_raw_put(raw, value);
        puts++;
        now = bench_now_ns();
    } while (now < end);
    return (double) puts / ((double) (now - start) / 1e9);
}

// count threads doing blocking puts for run_ms; returns puts/s and adds
// the puts and commits to *puts_p and *commits_p.
static double
s_store_rate(orcs_store_t *store,
             const uint8_t *value,
             int count,
             int run_ms,
             long *puts_p,
             long *commits_p)
{
    atomic_bool go = false;
    atomic_bool stop = false;
    atomic_int ready = 0;
    s_writer_t *writers = calloc((size_t) count, sizeof *writers);
    pthread_t *threads = calloc((size_t) count, sizeof *threads);
    for (int i = 0; i < count; i++) {
        writers[i] = (s_writer_t){store, value, 1 + i, &go, &stop, &ready, 0};
        pthread_create(&threads[i], NULL, s_writer, &writers[i]);
    }
    while (atomic_load(&ready) < count)
        sched_yield();
    json_t *stats = orcs_store_stats(store);
    json_int_t commits = json_integer_value(json_object_get(stats, "commits"));
    json_decref(stats);
    int64_t start = bench_now_ns();
    atomic_store(&go, true);
    struct timespec pause = {run_ms / 1000, (long) (run_ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
    atomic_store(&stop, true);
    long puts = 0;
    for (int i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
        puts += writers[i].puts;
    }
    // Until the last put in flight at the stop is durable.
    int64_t elapsed = bench_now_ns() - start;
    stats = orcs_store_stats(store);
    *commits_p +=
        json_integer_value(json_object_get(stats, "commits")) - commits;
    json_decref(stats);
    *puts_p += puts;
    free(writers);
    free(threads);
    return (double) puts / ((double) elapsed / 1e9);
}

// The disk's speed drifts: store and raw windows alternate and their
// medians are compared.
static void
s_writers_n(orcs_store_t *store,
            s_raw_t *raw,
            const uint8_t *value,
            int count,
            const char *metric)
{
    int run_ms = (int) bench_scaled(S_RUN_MS, 300) / S_ROUNDS;
    double mine[S_ROUNDS];
    double theirs[S_ROUNDS];
    long puts = 0;
    long commits = 0;
    for (int r = 0; r < S_ROUNDS; r++) {
        theirs[r] = s_raw_rate(raw, value, run_ms);
        mine[r] = s_store_rate(store, value, count, run_ms, &puts, &commits);
    }
    double rate = bench_median(mine, S_ROUNDS);
    double baseline = bench_median(theirs, S_ROUNDS);
    bench_print(S_BENCH, metric, rate, "put/s", baseline);
    fprintf(stderr,
            "%s: %d writers: %.0f durable puts/s; raw LMDB one put per "
            "synced commit: %.0f/s; ratio %.1f%s; %.1f puts per commit "
            "(medians of %d x %d ms)\n",
            S_BENCH, count, rate, baseline, rate / baseline,
            count == 100 ? " (target >= 6)" : "",
            commits ? (double) puts / (double) commits : 0.0, S_ROUNDS, run_ms);
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
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/raw", dir);
    mkdir(path, 0700);
    s_raw_t raw = {0};
    s_raw_open(&raw, path);
    snprintf(path, sizeof path, "%s/store", dir);
    orcs_store_t *store = orcs_store_new();
    orcs_store_opts_t opts = {.map_size = 1ull << 30}; // no growth inside
    orcs_status rc = orcs_store_open(store, path, &opts);
    if (rc != ORCS_OK)
        bench_die(NULL, "orcs_store_open", rc);
    uint8_t value[S_VALUE];
    for (int i = 0; i < S_VALUE; i++)
        value[i] = (uint8_t) (i * 31 + 7);

    s_writers_1(store, &raw, value);
    s_writers_n(store, &raw, value, 10, "writers_10_per_s");
    s_writers_n(store, &raw, value, 100, "writers_100_per_s");

    orcs_store_destroy(&store);
    mdb_env_close(raw.env);
    nftw(dir, s_remove, 8, FTW_DEPTH | FTW_PHYS);
    orcs_runtime_shutdown();
    return 0;
}
