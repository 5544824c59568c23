/*  bench_dag.c — how fast the orchestrator schedules a wide graph of
    no-op tool nodes held in memory.
    SPDX-License-Identifier: MPL-2.0

    The workflow (built in C, submitted as run.start {"doc": ...}) is one
    fan-out then one fan-in: a root tool node, N-2 tool nodes that each
    need the root, and a `join` (wait: all) that needs all of them;
    `durable: false`, `concurrency: 64` (the default, written out). Every
    tool node calls `noop`, a C tool registered on the node's tool table
    that returns {}: the toolexec actor runs it, so a node costs one ask
    orchestrator -> toolexec and its reply, plus the scheduling.

    A figure is the wall time from sending run.start until run.wait's
    answer (the view, which lists every node) reaches the client:
    decoding, validating and compiling the document, the schedule, the
    join and the view are all in it. The client's own work on either side
    is not: it encodes run.start's body to MessagePack before the clock
    starts, and decodes the answer into a JSON tree (to check it says
    completed, with every node) after it stops. With jansson, those cost
    about 0.2 and 0.5 us per node at 1,000 nodes and 0.5 and 1-1.5 us at
    100,000, where the trees no longer fit the caches: the client's
    growth, not the orchestrator's.
    The summary on stderr also says when run.start answered (the document
    compiled and the run started), what a run.get of the finished run
    takes (the view alone) and what the decoding took.

    Figures:
      nodes_1000_s, nodes_10000_s, nodes_100000_s  seconds for a run of N
          nodes (medians of 21, 5 and 3 runs: a 1,000-node run takes
          about 10 ms, and one burst of the machine's noise moves a median
          of few). Before them, one run of 100 nodes and one of 100,000
          are not measured: the first run of a size faults its memory in,
          which at 100,000 nodes doubles its time. Baseline: the ideal
          schedule, N raw libzmq inproc round trips (DEALER -> ROUTER echo
          on another thread, 200-byte frames) pipelined with the same
          window as the run's concurrency (64 in flight), measured in the
          same run. Target (the issue): 10,000 nodes <= 1 s.
      linear  nodes_100000_s against 100 x nodes_1000_s: about 1 when the
          time grows linearly with the nodes (the target), above
          1 when it grows faster
    ORCS_BENCH_SCALE scales the largest N (100,000, at least 10,000) and
    the repeats; the metric names carry the N actually run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"
#include "orcs/tools.h"

#define S_BENCH       "dag"
#define S_CONCURRENCY 64
#define S_FRAME       200
#define S_ASK_MS      (3600 * 1000)
#define S_SLOW_S      60.0 // a run slower than this is said so
#define S_REPEATS_MAX 21

static orcs_status
s_noop(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t size)
{
    (void) ctx;
    (void) err;
    (void) size;
    *result_p = json_object();
    return ORCS_OK;
}

// ---- the baseline: pipelined raw libzmq inproc round trips

typedef struct {
    void *ctx;
    long count;
} s_echo_t;

static void *
s_echo(void *arg)
{
    s_echo_t *echo = arg;
    bench_pin(1);
    void *router = zmq_socket(echo->ctx, ZMQ_ROUTER);
    zmq_connect(router, "inproc://bench-dag");
    char id[256], buf[S_FRAME + 56];
    for (long i = 0; i < echo->count; i++) {
        int idn = zmq_recv(router, id, sizeof id, 0);
        int n = zmq_recv(router, buf, sizeof buf, 0);
        zmq_send(router, id, (size_t) (idn > 0 ? idn : 0), ZMQ_SNDMORE);
        zmq_send(router, buf, (size_t) (n > 0 ? n : 0), 0);
    }
    zmq_close(router);
    return NULL;
}

// Seconds for count round trips with S_CONCURRENCY of them in flight.
static double
s_baseline(long count)
{
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int hwm = 0; // no limit: the window bounds what is queued
    zmq_setsockopt(dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "d", 1);
    zmq_bind(dealer, "inproc://bench-dag");
    s_echo_t echo = {ctx, count};
    pthread_t thread;
    pthread_create(&thread, NULL, s_echo, &echo);
    bench_pin(0);
    char buf[S_FRAME + 56] = {0};
    long sent = 0, received = 0;
    int64_t start = bench_now_ns();
    while (received < count) {
        while (sent < count && sent - received < S_CONCURRENCY) {
            zmq_send(dealer, buf, S_FRAME, 0);
            sent++;
        }
        zmq_recv(dealer, buf, sizeof buf, 0);
        received++;
    }
    double s = (double) (bench_now_ns() - start) / 1e9;
    bench_unpin();
    pthread_join(thread, NULL);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    return s;
}

// ---- orcs

// The fan-out/fan-in document of count nodes (count >= 3).
static json_t *
s_doc(long count)
{
    json_t *nodes = json_object();
    json_object_set_new(
        nodes, "root", json_pack("{s:s, s:s}", "kind", "tool", "tool", "noop"));
    json_t *all = json_array();
    char id[32];
    for (long i = 1; i <= count - 2; i++) {
        snprintf(id, sizeof id, "n%ld", i);
        json_object_set_new(nodes, id,
                            json_pack("{s:s, s:s, s:[s]}", "kind", "tool",
                                      "tool", "noop", "needs", "root"));
        json_array_append_new(all, json_string(id));
    }
    json_object_set_new(nodes, "join",
                        json_pack("{s:s, s:s, s:o}", "kind", "join", "wait",
                                  "all", "needs", all));
    return json_pack("{s:s, s:b, s:i, s:o}", "workflow", "dag", "durable", 0,
                     "concurrency", S_CONCURRENCY, "nodes", nodes);
}

// An ask of type with body (taken), already encoded to MessagePack.
static orcs_msg_t *
s_encoded(const char *type, json_t *body)
{
    orcs_msg_t *ask = orcs_msg_new(type);
    orcs_msg_set_body(ask, &body);
    size_t size = 0;
    orcs_msg_body_raw(ask, &size);
    return ask;
}

// Sends an ask (taken) to the orchestrator; returns the reply, its body
// not yet decoded (orcs_msg_take_body decodes it), or exits.
static orcs_msg_t *
s_send(orcs_client_t *client, orcs_msg_t *ask)
{
    const char *type = orcs_msg_type(ask);
    orcs_msg_t *reply = NULL;
    orcs_status rc =
        orcs_client_ask(client, "orchestrator", &ask, S_ASK_MS, &reply);
    if (rc != ORCS_OK) {
        fprintf(stderr, "bench: %s: %s\n", type, orcs_status_str(rc));
        exit(1);
    }
    orcs_msg_destroy(&ask);
    return reply;
}

static orcs_msg_t *
s_ask_msg(orcs_client_t *client, const char *type, json_t *body)
{
    return s_send(client, s_encoded(type, body));
}

// The body of a reply (caller owns), decoded; exits when the reply or
// its body says an error.
static json_t *
s_body(orcs_msg_t **reply_p, const char *type)
{
    orcs_status rc = orcs_msg_status(*reply_p);
    json_t *result = NULL;
    orcs_status decoded = orcs_msg_take_body(*reply_p, &result);
    orcs_msg_destroy(reply_p);
    if (rc != ORCS_OK || decoded != ORCS_OK) {
        fprintf(stderr, "bench: %s: %s: %s\n", type,
                orcs_status_str(rc != ORCS_OK ? rc : decoded),
                result ? json_string_value(json_object_get(result, "error"))
                       : "");
        exit(1);
    }
    return result;
}

typedef struct {
    double total;  // run.start sent .. run.wait answered
    double start;  // run.start sent .. answered (compiling the document)
    double view;   // one run.get of the finished run (the view alone)
    double decode; // the client decoding run.wait's answer (not in total)
} s_times_t;

// Runs the document (consumed); returns the seconds from sending
// run.start (encoded beforehand) until run.wait's answer arrived with the
// run completed.
static s_times_t
s_run(orcs_client_t *client, json_t *doc, long count)
{
    s_times_t times;
    orcs_msg_t *ask =
        s_encoded("run.start", json_pack("{s:o, s:{}}", "doc", doc, "inputs"));
    int64_t start = bench_now_ns();
    orcs_msg_t *started = s_send(client, ask);
    json_t *reply = s_body(&started, "run.start");
    times.start = (double) (bench_now_ns() - start) / 1e9;
    orcs_msg_t *answer =
        s_ask_msg(client, "run.wait",
                  json_pack("{s:O}", "run", json_object_get(reply, "run")));
    int64_t answered = bench_now_ns();
    times.total = (double) (answered - start) / 1e9;
    json_t *view = s_body(&answer, "run.wait");
    times.decode = (double) (bench_now_ns() - answered) / 1e9;
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
    json_decref(view);
    int64_t get = bench_now_ns();
    answer =
        s_ask_msg(client, "run.get",
                  json_pack("{s:O}", "run", json_object_get(reply, "run")));
    times.view = (double) (bench_now_ns() - get) / 1e9;
    view = s_body(&answer, "run.get");
    json_decref(reply);
    json_decref(view);
    return times;
}

// Measures repeats runs of count nodes and as many baselines; prints the
// figure and returns the median seconds of a run.
static double
s_measure(orcs_client_t *client, long count, int repeats)
{
    double mine[S_REPEATS_MAX], theirs[S_REPEATS_MAX], starts[S_REPEATS_MAX],
        views[S_REPEATS_MAX], decodes[S_REPEATS_MAX];
    for (int i = 0; i < repeats; i++)
        theirs[i] = s_baseline(count);
    bench_cpu_t cpu_before, cpu_after;
    bench_cpu_read(&cpu_before, 0);
    double wall = 0;
    for (int i = 0; i < repeats; i++) {
        int64_t start = bench_now_ns();
        s_times_t times = s_run(client, s_doc(count), count);
        wall += (double) (bench_now_ns() - start) / 1e9;
        mine[i] = times.total;
        starts[i] = times.start;
        views[i] = times.view;
        decodes[i] = times.decode;
        if (mine[i] > S_SLOW_S)
            fprintf(stderr,
                    "%s: a run of %ld nodes took %.1f s (more than %.0f s)\n",
                    S_BENCH, count, mine[i], S_SLOW_S);
    }
    bench_cpu_read(&cpu_after, 0);
    double value = bench_median(mine, (size_t) repeats);
    double baseline = bench_median(theirs, (size_t) repeats);
    char metric[48];
    snprintf(metric, sizeof metric, "nodes_%ld_s", count);
    bench_print(S_BENCH, metric, value, "s", baseline);
    fprintf(stderr,
            "%s: %ld nodes: %.3f s (%.1f us/node, min %.3f max %.3f of %d); "
            "ideal schedule (raw pipelined round trips) %.3f s; ratio %.1f%s; "
            "of which run.start answered after %.3f s; a run.get of the "
            "finished run takes %.3f s, and decoding the answer into JSON "
            "(not in the figure) %.3f s\n",
            S_BENCH, count, value, value * 1e6 / (double) count, mine[0],
            mine[repeats - 1], repeats, baseline, value / baseline,
            count == 10000 ? " (target: 10,000 nodes <= 1 s)" : "",
            bench_median(starts, (size_t) repeats),
            bench_median(views, (size_t) repeats),
            bench_median(decodes, (size_t) repeats));
    char what[64];
    snprintf(what, sizeof what, "the %d runs of %ld nodes", repeats, count);
    bench_cpu_print(S_BENCH, what, &cpu_before, &cpu_after, wall);
    return value;
}

int
main(void)
{
    long big = bench_scaled(100000, 10000);
    int repeats_small = (int) bench_scaled(21, 1);
    int repeats_mid = (int) bench_scaled(5, 1);
    if (repeats_small > S_REPEATS_MAX)
        repeats_small = S_REPEATS_MAX;
    if (repeats_mid > S_REPEATS_MAX)
        repeats_mid = S_REPEATS_MAX;

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

    s_run(client, s_doc(100), 100); // warm up
    double small = s_measure(client, 1000, repeats_small);
    double mid = s_measure(client, 10000, repeats_mid);
    double large = mid;
    if (big > 10000) {
        // The first run of big nodes faults its memory in (about twice
        // the others): run it once unmeasured, as the small ones are.
        s_times_t first = s_run(client, s_doc(big), big);
        fprintf(stderr, "%s: %ld nodes: the first run (not measured) %.3f s\n",
                S_BENCH, big, first.total);
        large = s_measure(client, big, 3);
    }
    double scale = (double) big / 1000.0;
    bench_print(S_BENCH, "linear", large, "s", scale * small);
    fprintf(stderr,
            "%s: linear: %ld nodes %.3f s vs %.0f x 1000 nodes %.3f s; "
            "ratio %.2f (target: about 1, linear growth)\n",
            S_BENCH, big, large, scale, scale * small, large / (scale * small));

    orcs_client_destroy(&client);
    bench_node_destroy(&node);
    return 0;
}
