/*  bench_durable_step.c — what a durable workflow step costs against the
    synced commit it cannot avoid.
    SPDX-License-Identifier: MPL-2.0

    A run is a chain of M no-op tool nodes (each needs the previous one),
    built in C and submitted as run.start {"doc": ...} with `durable:
    true`; the node's store is in its default sync mode. The tool `noop`
    is a C tool on the node's tool table returning {}. The orchestrator
    commits completing node K and starting node K+1 as one batch, so a
    step costs one synced commit plus the messages (docs/workflows.md).

    Baseline: raw LMDB in the same run, in a directory inside the node's
    data directory (same filesystem; /tmp, not tmpfs: on tmpfs a sync
    costs nothing and these figures say little), default flags (synced
    commits), one 100-byte put per write transaction; blocks of raw
    commits alternate with the runs. A block's figure is its mean commit
    time, as a run's is its mean time per node: a synced commit's time
    has a long tail, and the median of the raw commits against the mean
    of the nodes would charge orcs for the disk's tail (0-8% here). The
    summary on stderr also gives the raw commits' median.

    Figures:
      us_per_node  one run of 500 nodes: the wall time from run.start
          until run.wait answers, divided by 500 (median of 3 runs; the
          start's own commit and the view are in it); baseline: one raw
          synced commit, in us (ratio target <= 1.3). The summary on
          stderr also gives the steady step from the view's finished_us
          (first to last node).
      nodes_per_s_100_runs  100 runs of 50 nodes at once (one client
          thread each: run.start then run.wait): total nodes/s (median of
          3 rounds); baseline: the raw single-commit rate, 1e6 /
          raw_commit_us, measured beside each round (ratio target >= 6).
    ORCS_BENCH_SCALE scales M and the repeats. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "bench.h"
#include "orcs/tools.h"

#define S_BENCH   "durable_step"
#define S_ASK_MS  (3600 * 1000)
#define S_RAW     200 // raw commits per block
#define S_RUNS    100 // runs at once
#define S_REPEATS 3
#define S_KEY     32
#define S_VALUE   100

static orcs_status
s_noop(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t size)
{
    (void) ctx;
    (void) err;
    (void) size;
    *result_p = json_object();
    return ORCS_OK;
}

// ---- the baseline: raw LMDB, one put per synced commit

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
    long next; // key counter
    uint8_t value[S_VALUE];
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
    if (mkdir(dir, 0700) != 0) {
        perror("bench: mkdir");
        exit(1);
    }
    s_check(mdb_env_create(&raw->env), "mdb_env_create");
    s_check(mdb_env_set_maxdbs(raw->env, 2), "mdb_env_set_maxdbs");
    s_check(mdb_env_set_mapsize(raw->env, 1ull << 30), "mdb_env_set_mapsize");
    s_check(mdb_env_open(raw->env, dir, 0, 0600), "mdb_env_open");
    MDB_txn *txn = NULL;
    s_check(mdb_txn_begin(raw->env, NULL, 0, &txn), "mdb_txn_begin");
    s_check(mdb_dbi_open(txn, "raw", MDB_CREATE, &raw->dbi), "mdb_dbi_open");
    s_check(mdb_txn_commit(txn), "mdb_txn_commit");
    for (int i = 0; i < S_VALUE; i++)
        raw->value[i] = (uint8_t) (i * 31 + 7);
}

// One put in its own synced write transaction.
static void
s_raw_put(s_raw_t *raw)
{
    char key[S_KEY + 1];
    snprintf(key, sizeof key, "raw/%027ld", raw->next++);
    MDB_val k = {S_KEY, key};
    MDB_val v = {S_VALUE, raw->value};
    MDB_txn *txn = NULL;
    s_check(mdb_txn_begin(raw->env, NULL, 0, &txn), "mdb_txn_begin");
    s_check(mdb_put(txn, raw->dbi, &k, &v, 0), "mdb_put");
    s_check(mdb_txn_commit(txn), "mdb_txn_commit");
}

// The mean us of a block of S_RAW synced commits; *median_p gets their
// median.
static double
s_raw_block(s_raw_t *raw, double *median_p)
{
    double samples[S_RAW];
    for (int i = 0; i < S_RAW; i++) {
        int64_t start = bench_now_ns();
        s_raw_put(raw);
        samples[i] = (double) (bench_now_ns() - start) / 1e3;
    }
    double sum = 0;
    for (int i = 0; i < S_RAW; i++)
        sum += samples[i];
    *median_p = bench_median(samples, S_RAW);
    return sum / S_RAW;
}

// ---- orcs

// A chain of count tool nodes n0 <- n1 <- ...
static json_t *
s_doc(long count)
{
    json_t *nodes = json_object();
    char id[32], prev[32];
    for (long i = 0; i < count; i++) {
        snprintf(id, sizeof id, "n%ld", i);
        json_t *node = json_pack("{s:s, s:s}", "kind", "tool", "tool", "noop");
        if (i > 0)
            json_object_set_new(node, "needs", json_pack("[s]", prev));
        json_object_set_new(nodes, id, node);
        memcpy(prev, id, sizeof id);
    }
    return json_pack("{s:s, s:b, s:o}", "workflow", "chain", "durable", 1,
                     "nodes", nodes);
}

// Sends an ask to the orchestrator; returns the reply's body (caller owns),
// or NULL with the reason on stderr.
static json_t *
s_ask(orcs_client_t *client, const char *type, json_t *body)
{
    orcs_msg_t *ask = orcs_msg_new(type);
    orcs_msg_set_body(ask, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc =
        orcs_client_ask(client, "orchestrator", &ask, S_ASK_MS, &reply);
    orcs_msg_destroy(&ask);
    if (rc == ORCS_OK)
        rc = orcs_msg_status(reply);
    json_t *result = NULL;
    if (reply)
        orcs_msg_take_body(reply, &result);
    orcs_msg_destroy(&reply);
    if (rc != ORCS_OK) {
        fprintf(stderr, "bench: %s: %s: %s\n", type, orcs_status_str(rc),
                result ? json_string_value(json_object_get(result, "error"))
                       : "");
        json_decref(result);
        return NULL;
    }
    return result;
}

// Runs the document (consumed) to its end; returns the view when the run
// completed with count nodes, else NULL.
static json_t *
s_run(orcs_client_t *client, json_t *doc, long count)
{
    json_t *reply = s_ask(client, "run.start",
                          json_pack("{s:o, s:{}}", "doc", doc, "inputs"));
    if (!reply)
        return NULL;
    json_t *view =
        s_ask(client, "run.wait",
              json_pack("{s:O}", "run", json_object_get(reply, "run")));
    const char *status = json_string_value(json_object_get(view, "status"));
    size_t nodes = json_object_size(json_object_get(view, "nodes"));
    if (!status || strcmp(status, "completed") != 0
        || nodes != (size_t) count) {
        char *error =
            json_dumps(json_object_get(view, "error"), JSON_ENCODE_ANY);
        fprintf(stderr, "bench: run %s of %ld nodes: %s (%zu nodes), %s\n",
                json_string_value(json_object_get(reply, "run")), count,
                status ? status : "?", nodes, error ? error : "");
        free(error);
        json_decref(view);
        view = NULL;
    }
    json_decref(reply);
    return view;
}

static int64_t
s_finished_us(const json_t *view, long index)
{
    char id[32];
    snprintf(id, sizeof id, "n%ld", index);
    return json_integer_value(json_object_get(
        json_object_get(json_object_get(view, "nodes"), id), "finished_us"));
}

// ---- one run

static double
s_one_run(orcs_node_t *node, s_raw_t *raw, long count)
{
    orcs_client_t *client = orcs_client_new(node);
    double mine[S_REPEATS], theirs[S_REPEATS], steady[S_REPEATS];
    double medians[S_REPEATS];
    json_decref(s_run(client, s_doc(20), 20)); // warm up
    for (int i = 0; i < S_REPEATS; i++) {
        theirs[i] = s_raw_block(raw, &medians[i]);
        int64_t start = bench_now_ns();
        json_t *view = s_run(client, s_doc(count), count);
        double us = (double) (bench_now_ns() - start) / 1e3;
        if (!view)
            exit(1);
        mine[i] = us / (double) count;
        steady[i] =
            (double) (s_finished_us(view, count - 1) - s_finished_us(view, 0))
            / (double) (count - 1);
        json_decref(view);
    }
    orcs_client_destroy(&client);
    double value = bench_median(mine, S_REPEATS);
    double baseline = bench_median(theirs, S_REPEATS);
    double step = bench_median(steady, S_REPEATS);
    bench_print(S_BENCH, "us_per_node", value, "us", baseline);
    fprintf(stderr,
            "%s: 1 run of %ld nodes: %.0f us per node (steady step from the "
            "view %.0f us; min %.0f max %.0f of %d runs); raw LMDB synced "
            "commit %.0f us (mean; median %.0f us); ratio %.2f (target <= "
            "1.3)\n",
            S_BENCH, count, value, step, mine[0], mine[S_REPEATS - 1],
            S_REPEATS, baseline, bench_median(medians, S_REPEATS),
            value / baseline);
    return baseline;
}

// ---- many runs at once

typedef struct {
    orcs_node_t *node;
    long count;
    pthread_barrier_t *go;
    bool ok;
} s_runner_t;

static void *
s_runner(void *arg)
{
    s_runner_t *runner = arg;
    orcs_client_t *client = orcs_client_new(runner->node);
    json_t *doc = s_doc(runner->count);
    pthread_barrier_wait(runner->go);
    json_t *view = s_run(client, doc, runner->count);
    runner->ok = view != NULL;
    json_decref(view);
    orcs_client_destroy(&client);
    return NULL;
}

// Runs S_RUNS runs of count nodes at once; returns the nodes per second.
static double
s_many(orcs_node_t *node, long count, long *commits_p)
{
    s_runner_t runners[S_RUNS];
    pthread_t threads[S_RUNS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, S_RUNS + 1);
    for (int i = 0; i < S_RUNS; i++) {
        runners[i] = (s_runner_t){node, count, &go, false};
        pthread_create(&threads[i], NULL, s_runner, &runners[i]);
    }
    json_t *stats = orcs_store_stats(orcs_node_store(node));
    json_int_t commits = json_integer_value(json_object_get(stats, "commits"));
    json_decref(stats);
    pthread_barrier_wait(&go);
    int64_t start = bench_now_ns();
    for (int i = 0; i < S_RUNS; i++)
        pthread_join(threads[i], NULL);
    double s = (double) (bench_now_ns() - start) / 1e9;
    stats = orcs_store_stats(orcs_node_store(node));
    *commits_p += (long) (json_integer_value(json_object_get(stats, "commits"))
                          - commits);
    json_decref(stats);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < S_RUNS; i++)
        if (!runners[i].ok) {
            fprintf(stderr, "bench: %s: run %d of %d failed\n", S_BENCH, i,
                    S_RUNS);
            exit(1);
        }
    return (double) S_RUNS * (double) count / s;
}

static void
s_many_runs(orcs_node_t *node, s_raw_t *raw, long count)
{
    double mine[S_REPEATS], theirs[S_REPEATS];
    long commits = 0;
    for (int i = 0; i < S_REPEATS; i++) {
        double median = 0;
        theirs[i] = 1e6 / s_raw_block(raw, &median);
        mine[i] = s_many(node, count, &commits);
    }
    double value = bench_median(mine, S_REPEATS);
    double baseline = bench_median(theirs, S_REPEATS);
    double nodes = (double) S_REPEATS * S_RUNS * (double) count;
    bench_print(S_BENCH, "nodes_per_s_100_runs", value, "node/s", baseline);
    fprintf(stderr,
            "%s: %d runs of %ld nodes at once: %.0f nodes/s (min %.0f max "
            "%.0f of %d); raw LMDB single-commit rate %.0f/s; ratio %.1f "
            "(target >= 6); %.1f nodes per store commit (the runs' starts "
            "and ends included)\n",
            S_BENCH, S_RUNS, count, value, mine[0], mine[S_REPEATS - 1],
            S_REPEATS, baseline, value / baseline,
            commits > 0 ? nodes / (double) commits : 0.0);
}

int
main(void)
{
    long one = bench_scaled(500, 50);
    long each = bench_scaled(50, 10);
    orcs_node_t *node = bench_node_new(NULL, 0);
    json_t *manifest =
        json_pack("{s:s, s:s, s:b}", "tool", "noop", "description",
                  "Does nothing.", "idempotent", 1);
    char err[256];
    if (orcs_tools_register(orcs_node_tools(node), manifest, s_noop, NULL, err,
                            sizeof err)
        != ORCS_OK) {
        fprintf(stderr, "bench: register noop: %s\n", err);
        return 1;
    }
    json_decref(manifest);
    char path[4096];
    snprintf(path, sizeof path, "%s/raw-lmdb", orcs_node_data_dir(node));
    s_raw_t raw = {0};
    s_raw_open(&raw, path);
    for (int i = 0; i < 20; i++) // warm up
        s_raw_put(&raw);

    s_one_run(node, &raw, one);
    s_many_runs(node, &raw, each);

    mdb_env_close(raw.env);
    bench_node_destroy(&node);
    return 0;
}
