/*  bench_agent_step.c — what orcs adds to one agent step.
    SPDX-License-Identifier: MPL-2.0

    An agent runs against the model actor's `fake` provider (in process, no
    HTTP), which answers every turn with one call of a no-op C tool; the
    toolexec actor runs the tool. A step is one model turn plus one tool
    call: agent -> model -> agent -> toolexec -> agent, two asks. Nothing is
    persisted. Only what is new travels between the actors, so the cost of
    a step must not grow with the length of the run.

    Figures:
      us_per_step_100     one run of 100 steps; baseline: two raw libzmq
                          inproc PAIR round trips (the hops a step makes)
      us_per_step_10000   one run of 10,000 steps; baseline: the 100-step
                          figure (ratio target <= 1.2)
      steps_per_s_100_runs  100 runs of 200 steps at once; baseline: one
                          run's steps per second */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"
#include "orcs/tools.h"

#define S_BENCH   "agent_step"
#define S_REPEATS 5
#define S_RUN_MS  600000

static orcs_status
s_noop(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t size)
{
    (void) ctx;
    (void) err;
    (void) size;
    *result_p = json_string("ok");
    return ORCS_OK;
}

// ---- the baseline: raw libzmq PAIR round trips

typedef struct {
    void *ctx;
    long count;
} s_echo_t;

static void *
s_echo(void *arg)
{
    s_echo_t *echo = arg;
    void *pair = zmq_socket(echo->ctx, ZMQ_PAIR);
    zmq_connect(pair, "inproc://bench-agent-step");
    char buf[256];
    for (long i = 0; i < echo->count; i++) {
        int n = zmq_recv(pair, buf, sizeof buf, 0);
        zmq_send(pair, buf, (size_t) (n > 0 ? n : 0), 0);
    }
    zmq_close(pair);
    return NULL;
}

// Microseconds per two round trips of a 200-byte frame.
static double
s_baseline(long steps)
{
    void *ctx = zmq_ctx_new();
    void *pair = zmq_socket(ctx, ZMQ_PAIR);
    zmq_bind(pair, "inproc://bench-agent-step");
    s_echo_t echo = {ctx, steps * 2};
    pthread_t thread;
    pthread_create(&thread, NULL, s_echo, &echo);
    char buf[256] = {0};
    int64_t start = bench_now_ns();
    for (long i = 0; i < steps * 2; i++) {
        zmq_send(pair, buf, 200, 0);
        zmq_recv(pair, buf, sizeof buf, 0);
    }
    double us = (double) (bench_now_ns() - start) / 1e3 / (double) steps;
    pthread_join(thread, NULL);
    zmq_close(pair);
    zmq_ctx_term(ctx);
    return us;
}

// ---- orcs

typedef struct {
    orcs_node_t *node;
    const char *agent;
    int index;
    long steps; // of the finished run
    orcs_status status;
} s_runner_t;

static void *
s_runner(void *arg)
{
    s_runner_t *runner = arg;
    orcs_client_t *client = orcs_client_new(runner->node);
    orcs_msg_t *ask = orcs_msg_new("agent.run");
    json_t *body = json_pack("{s:s}", "input", "go");
    orcs_msg_set_body(ask, &body);
    orcs_msg_t *reply = NULL;
    runner->status =
        orcs_client_ask(client, runner->agent, &ask, S_RUN_MS, &reply);
    orcs_msg_destroy(&ask);
    if (runner->status == ORCS_OK)
        runner->status = orcs_msg_status(reply);
    const json_t *result = NULL;
    if (runner->status == ORCS_OK && orcs_msg_body(reply, &result) == ORCS_OK)
        runner->steps =
            (long) json_integer_value(json_object_get(result, "steps"));
    if (runner->status != ORCS_OK && orcs_msg_body(reply, &result) == ORCS_OK)
        fprintf(stderr, "bench: run failed: %s\n",
                json_string_value(json_object_get(result, "error")));
    orcs_msg_destroy(&reply);
    orcs_client_destroy(&client);
    return NULL;
}

// Runs `runs` runs of agent at once; returns the wall time in us.
static double
s_measure(orcs_node_t *node, const char *agent, int runs, long want_steps)
{
    s_runner_t *runners = calloc((size_t) runs, sizeof *runners);
    pthread_t *threads = calloc((size_t) runs, sizeof *threads);
    int64_t start = bench_now_ns();
    for (int i = 0; i < runs; i++) {
        runners[i] = (s_runner_t){node, agent, i, 0, ORCS_OK};
        pthread_create(&threads[i], NULL, s_runner, &runners[i]);
    }
    for (int i = 0; i < runs; i++)
        pthread_join(threads[i], NULL);
    double us = (double) (bench_now_ns() - start) / 1e3;
    for (int i = 0; i < runs; i++)
        if (runners[i].status != ORCS_OK || runners[i].steps != want_steps) {
            fprintf(stderr, "bench: run %d: %s, %ld steps (want %ld)\n", i,
                    orcs_status_name(runners[i].status), runners[i].steps,
                    want_steps);
            exit(1);
        }
    free(runners);
    free(threads);
    return us;
}

static void
s_agent(orcs_node_t *node, const char *name, const char *provider, long steps)
{
    json_t *config = json_pack("{s:{s:s, s:s, s:[s], s:I}}", "agent", "agent",
                               name, "model", provider, "tools", "noop",
                               "max_steps", (json_int_t) steps + 1);
    bench_start_child(node, name, "agent", config, 100000);
    json_decref(config);
}

int
main(void)
{
    long short_steps = 100;
    long long_steps = bench_scaled(10000, 1000);
    long many_steps = bench_scaled(200, 20);
    int many_runs = 100;
    // A fake provider answers its first `turns` turns with a tool call
    // and the next with text: a run of N steps with tool calls takes N + 1
    // turns, the last one the answer.
    json_t *extra = json_pack(
        "{s:{s:{s:{s:s, s:I}}, s:{s:{s:s, s:I}}, s:{s:{s:s, s:I}}}}", "models",
        "short", "fake", "tool", "noop", "turns", (json_int_t) short_steps,
        "long", "fake", "tool", "noop", "turns", (json_int_t) long_steps,
        "many", "fake", "tool", "noop", "turns", (json_int_t) many_steps);
    orcs_node_t *node = bench_node_new_with(NULL, 0, extra);
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
    s_agent(node, "short", "short", short_steps);
    s_agent(node, "long", "long", long_steps);
    s_agent(node, "many", "many", many_steps);

    double samples[S_REPEATS], base[S_REPEATS];
    s_measure(node, "short", 1, short_steps + 1); // warm up
    for (int i = 0; i < S_REPEATS; i++) {
        base[i] = s_baseline(short_steps * 10);
        samples[i] =
            s_measure(node, "short", 1, short_steps + 1) / (double) short_steps;
    }
    double per_step_100 = bench_median(samples, S_REPEATS);
    bench_print(S_BENCH, "us_per_step_100", per_step_100, "us",
                bench_median(base, S_REPEATS));

    bench_cpu_t cpu_before, cpu_after;
    bench_cpu_read(&cpu_before, 0);
    double long_us = 0;
    for (int i = 0; i < 3; i++) {
        double us = s_measure(node, "long", 1, long_steps + 1);
        samples[i] = us / (double) long_steps;
        long_us += us;
    }
    bench_cpu_read(&cpu_after, 0);
    bench_print(S_BENCH, "us_per_step_10000", bench_median(samples, 3), "us",
                per_step_100);
    bench_cpu_print(S_BENCH, "the long runs", &cpu_before, &cpu_after,
                    long_us / 1e6);

    bench_cpu_read(&cpu_before, 0);
    double many_us = 0;
    for (int i = 0; i < 3; i++) {
        double us = s_measure(node, "many", many_runs, many_steps + 1);
        samples[i] = (double) many_runs * (double) many_steps / (us / 1e6);
        many_us += us;
    }
    bench_cpu_read(&cpu_after, 0);
    bench_print(S_BENCH, "steps_per_s_100_runs", bench_median(samples, 3),
                "steps/s", 1e6 / per_step_100);
    bench_cpu_print(S_BENCH, "the 100-run rounds", &cpu_before, &cpu_after,
                    many_us / 1e6);
    bench_node_destroy(&node);
    return 0;
}
