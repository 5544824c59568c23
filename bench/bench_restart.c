/*  bench_restart.c — time from an actor's failure to its replacement
    handling messages.
    SPDX-License-Identifier: MPL-2.0

    The built-in `echo` actor runs under the root one_for_one supervisor
    (intensity 1000000 per second). A client sends it an ask "die" (the
    reply carries t_us, the monotonic time at the failure; then the actor
    fails) and, without waiting, an ask "ping", which waits in the mailbox
    (mailboxes survive restarts) until the new incarnation answers it with
    its own t_us. One sample is ping.t_us - die.t_us.

    Baseline: the floor of any thread restart, zactor_new + zactor_destroy
    of a trivial czmq actor, measured in blocks alternating with the
    restart samples; p50 is compared with p50 and p99 with p99. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "bench.h"
#include "internal.h"

#define S_BENCH   "restart"
#define S_SAMPLES 2000
#define S_BLOCK   100 // samples per block before switching to the baseline
#define S_WARMUP  50
#define S_ASK_MS  5000

// Sends an ask without waiting for its reply (the client's own actor does
// the send; replies are collected with orcs_client_recv).
static uint64_t
s_ask(orcs_node_t *node, orcs_client_t *client, const char *type)
{
    orcs_msg_t *msg = orcs_msg_new(type);
    uint64_t id = 0;
    orcs_status rc =
        orcs_actor_ask(&client->actor, "echo", &msg, S_ASK_MS, &id);
    orcs_msg_destroy(&msg);
    if (rc != ORCS_OK)
        bench_die(node, type, rc);
    return id;
}

static json_int_t
s_field(orcs_msg_t *msg, const char *key)
{
    const json_t *body = NULL;
    if (orcs_msg_body(msg, &body) != ORCS_OK)
        return -1;
    json_t *value = json_object_get(body, key);
    return json_is_integer(value) ? json_integer_value(value) : -1;
}

// One restart: µs from the failure to the new incarnation's reply.
static double
s_restart_sample(orcs_node_t *node,
                 orcs_client_t *client,
                 json_int_t *incarnation_p)
{
    uint64_t die_id = s_ask(node, client, "die");
    uint64_t ping_id = s_ask(node, client, "ping");
    json_int_t died_us = -1;
    json_int_t pinged_us = -1;
    while (died_us < 0 || pinged_us < 0) {
        orcs_msg_t *reply = NULL;
        orcs_status rc = orcs_client_recv(client, S_ASK_MS, &reply);
        if (rc != ORCS_OK)
            bench_die(node, "waiting for echo", rc);
        uint64_t id = orcs_msg_correlation_id(reply);
        if (orcs_msg_kind_of(reply) != ORCS_MSG_REPLY)
            bench_die(node, "echo", orcs_msg_status(reply));
        if (id == die_id) {
            died_us = s_field(reply, "t_us");
        } else if (id == ping_id) {
            pinged_us = s_field(reply, "t_us");
            json_int_t incarnation = s_field(reply, "incarnation");
            if (incarnation <= *incarnation_p) {
                fprintf(stderr,
                        "bench: %s: ping answered by incarnation "
                        "%lld, not a new one\n",
                        S_BENCH, (long long) incarnation);
                exit(1);
            }
            *incarnation_p = incarnation;
        }
        orcs_msg_destroy(&reply);
    }
    return (double) (pinged_us - died_us);
}

// ---- baseline: a trivial czmq actor created and destroyed

static void
s_trivial(zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal(pipe, 0);
    for (;;) {
        char *command = zstr_recv(pipe);
        bool term = !command || strcmp(command, "$TERM") == 0;
        zstr_free(&command);
        if (term)
            break;
    }
}

static double
s_zactor_sample(void)
{
    int64_t start = bench_now_ns();
    zactor_t *actor = zactor_new(s_trivial, NULL);
    zactor_destroy(&actor);
    return (double) (bench_now_ns() - start) / 1000.0;
}

int
main(void)
{
    long samples = bench_scaled(S_SAMPLES, 200);
    orcs_node_t *node = bench_node_new(NULL, 0);
    bench_start_child(node, "echo", "echo", NULL, 0);
    orcs_client_t *client = orcs_client_new(node);
    double *restart_us = calloc((size_t) samples, sizeof *restart_us);
    double *zactor_us = calloc((size_t) samples, sizeof *zactor_us);
    if (!restart_us || !zactor_us)
        return 1;

    json_int_t incarnation = 0;
    for (int i = 0; i < S_WARMUP; i++) {
        s_restart_sample(node, client, &incarnation);
        s_zactor_sample();
    }
    for (long done = 0; done < samples;) {
        long block = samples - done < S_BLOCK ? samples - done : S_BLOCK;
        for (long i = 0; i < block; i++)
            restart_us[done + i] = s_restart_sample(node, client, &incarnation);
        for (long i = 0; i < block; i++)
            zactor_us[done + i] = s_zactor_sample();
        done += block;
    }
    double p50 = bench_percentile(restart_us, (size_t) samples, 50);
    double p99 = bench_percentile(restart_us, (size_t) samples, 99);
    double max = restart_us[samples - 1];
    double base50 = bench_percentile(zactor_us, (size_t) samples, 50);
    double base99 = bench_percentile(zactor_us, (size_t) samples, 99);
    bench_print(S_BENCH, "p50_us", p50, "us", base50);
    bench_print(S_BENCH, "p99_us", p99, "us", base99);
    fprintf(stderr,
            "%s: p50 %.0f us from failure to the replacement handling a "
            "message (%ld restarts, max %.0f us); zactor new+destroy p50 "
            "%.0f us; ratio %.2f\n",
            S_BENCH, p50, samples, max, base50, p50 / base50);
    fprintf(stderr,
            "%s: p99 %.0f us from failure to the replacement handling a "
            "message; zactor new+destroy p99 %.0f us; ratio %.2f (target "
            "p99 <= 1000 us)\n",
            S_BENCH, p99, base99, p99 / base99);
    free(restart_us);
    free(zactor_us);
    orcs_client_destroy(&client);
    bench_node_destroy(&node);
    return 0;
}
