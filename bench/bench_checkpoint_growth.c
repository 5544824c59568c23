/*  bench_checkpoint_growth.c — whether a durable step costs more as the
    run grows.
    SPDX-License-Identifier: MPL-2.0

    One long durable run: a chain of 10,050 no-op tool nodes (node nK needs
    n(K-1)), built in C and submitted as run.start {"doc": ...} with
    `durable: true`, the store in its default sync mode. The tool `noop` is
    a C tool on the node's tool table returning {}. Each step commits the
    completion of node K, the start of node K+1 and their checkpoint
    records; docs/workflows.md promises that nothing is rewritten, so the
    step must not grow with the run's length.

    How a step is timed: from the run's view (run.wait's answer), whose
    nodes carry `finished_us`, the wall clock the orchestrator read when it
    took the node's completion in (before the commit of the batch that
    records it). In a chain, finished_us[K] - finished_us[K-1] is exactly
    one step: the synced commit, dispatching the next call, the tool call
    through toolexec and back, and the bookkeeping. The cost around node
    K is the mean step over a window of 100 nodes, (finished_us[K+50] -
    finished_us[K-50]) / 100: nodes 50-150 and 9,900-10,000 (the chain goes
    on 50 nodes past the second window so the run's end is not in it).
    Reading the view costs the run nothing and, unlike events (pub/sub
    drops under load), loses no sample; timing the store's commits would
    leave out the messages, which could grow too.

    Figure:
      us_at_10000  mean step around node 10,000, median of 3 runs (one
          after the other in the same node); baseline: us_at_100, the
          mean step around node 100 of the same runs (ratio target <=
          1.2). The summary on stderr gives each run, the medians of the
          steps in each window, and a window around the middle.
    ORCS_BENCH_SCALE scales the length (10,000, at least 1,000; the metric
    name carries the node actually measured) and the runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "orcs/tools.h"

#define S_BENCH   "checkpoint_growth"
#define S_ASK_MS  (3600 * 1000)
#define S_HALF    50 // half a window
#define S_FIRST   100
#define S_TAIL    50 // nodes after the last window
#define S_REPEATS 3

static orcs_status
s_noop(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t size)
{
    (void) ctx;
    (void) err;
    (void) size;
    *result_p = json_object();
    return ORCS_OK;
}

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

// Sends an ask to the orchestrator; returns the reply's body (caller owns)
// or exits.
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
        exit(1);
    }
    return result;
}

// Runs a chain of count nodes to its end; returns the view (exits unless
// the run completed).
static json_t *
s_run(orcs_client_t *client, long count)
{
    json_t *reply =
        s_ask(client, "run.start",
              json_pack("{s:o, s:{}}", "doc", s_doc(count), "inputs"));
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
        exit(1);
    }
    json_decref(reply);
    return view;
}

// finished_us of every node of a chain's view (caller frees).
static int64_t *
s_finished(const json_t *view, long count)
{
    int64_t *finished = calloc((size_t) count, sizeof *finished);
    const json_t *nodes = json_object_get(view, "nodes");
    char id[32];
    for (long i = 0; i < count; i++) {
        snprintf(id, sizeof id, "n%ld", i);
        finished[i] = json_integer_value(
            json_object_get(json_object_get(nodes, id), "finished_us"));
        if (finished[i] <= 0) {
            fprintf(stderr, "bench: node %s has no finished_us\n", id);
            exit(1);
        }
    }
    return finished;
}

// Mean step (us) around node at: nodes at-S_HALF .. at+S_HALF.
static double
s_mean(const int64_t *finished, long at)
{
    return (double) (finished[at + S_HALF] - finished[at - S_HALF])
           / (2.0 * S_HALF);
}

// Median step (us) in the same window.
static double
s_median(const int64_t *finished, long at)
{
    double steps[2 * S_HALF];
    for (long i = 0; i < 2 * S_HALF; i++)
        steps[i] = (double) (finished[at - S_HALF + i + 1]
                             - finished[at - S_HALF + i]);
    return bench_median(steps, 2 * S_HALF);
}

int
main(void)
{
    long last = bench_scaled(10000, 1000);
    long count = last + S_TAIL + 1;
    long middle = last / 2;
    int repeats = (int) bench_scaled(S_REPEATS, 1);
    if (repeats > S_REPEATS)
        repeats = S_REPEATS;

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
    orcs_client_t *client = orcs_client_new(node);
    json_decref(s_run(client, 20)); // warm up

    double first[S_REPEATS], end[S_REPEATS];
    for (int i = 0; i < repeats; i++) {
        int64_t start = bench_now_ns();
        json_t *view = s_run(client, count);
        double s = (double) (bench_now_ns() - start) / 1e9;
        int64_t *finished = s_finished(view, count);
        json_decref(view);
        first[i] = s_mean(finished, S_FIRST);
        end[i] = s_mean(finished, last);
        fprintf(stderr,
                "%s: run %d: %ld nodes in %.1f s: mean step around node %d "
                "%.0f us (median %.0f), node %ld %.0f us (median %.0f), "
                "node %ld %.0f us (median %.0f)\n",
                S_BENCH, i + 1, count, s, S_FIRST, first[i],
                s_median(finished, S_FIRST), middle, s_mean(finished, middle),
                s_median(finished, middle), last, end[i],
                s_median(finished, last));
        free(finished);
    }
    double value = bench_median(end, (size_t) repeats);
    double baseline = bench_median(first, (size_t) repeats);
    char metric[48];
    snprintf(metric, sizeof metric, "us_at_%ld", last);
    bench_print(S_BENCH, metric, value, "us", baseline);
    fprintf(stderr,
            "%s: step around node %ld %.0f us vs around node %d %.0f us "
            "(medians of %d runs); ratio %.2f (target <= 1.2)\n",
            S_BENCH, last, value, S_FIRST, baseline, repeats, value / baseline);

    orcs_client_destroy(&client);
    bench_node_destroy(&node);
    return 0;
}
