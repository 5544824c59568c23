/*  bench_ask_roundtrip.c — the round trip of an ask between two actors.
    SPDX-License-Identifier: MPL-2.0

    `pinger` asks `ponger` "ping" with a small MessagePack body; `ponger`
    replies with the same body; `pinger` asks again as soon as the reply
    arrives, N times, and reports the elapsed time to the client that
    started the run. Everything between the first ask and the last reply
    happens inside the two actors (orcs_actor_ask / orcs_actor_reply).

    Baseline: raw libzmq, two threads ping-ponging one frame over an inproc
    PAIR pair, the frame as large as the orcs message (header + body).
    Runs alternate (orcs, baseline, orcs, ...) and the medians are
    compared. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"
#include "internal.h"

#define S_BENCH       "ask_roundtrip"
#define S_ROUND_TRIPS 200000
#define S_REPEATS     5
#define S_ASK_MS      10000 // one ask's timeout
#define S_RUN_MS      600000

// A msgpack fixstr of 15 bytes: the body of every ping and reply.
static const uint8_t s_body[16] = {0xaf, 'o', 'r', 'c', 's', '-', 'b', 'e',
                                   'n',  'c', 'h', '-', 'p', 'i', 'n', 'g'};

// ---- the two actors

typedef struct {
    orcs_msg_t *run;    // the client's pending "run" ask
    long left;          // round trips still to do
    long done;          // round trips done in this run
    int64_t started_ns; // when the run began
} s_pinger_t;

static orcs_status
s_pinger_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) config;
    bench_pin(0);
    *state_p = calloc(1, sizeof(s_pinger_t));
    return *state_p ? ORCS_OK : ORCS_EINTERNAL;
}

static void
s_pinger_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_pinger_t *self = state;
    orcs_msg_destroy(&self->run);
    free(self);
}

static orcs_status
s_ping(orcs_actor_t *actor)
{
    orcs_msg_t *msg = orcs_msg_new("ping");
    orcs_msg_set_body_raw(msg, s_body, sizeof s_body);
    orcs_status rc = orcs_actor_ask(actor, "ponger", &msg, S_ASK_MS, NULL);
    orcs_msg_destroy(&msg);
    return rc;
}

// Answers the client's "run" ask: {"elapsed_ns", "round_trips"}, or the
// failure status.
static orcs_status
s_finish(orcs_actor_t *actor, s_pinger_t *self, orcs_status status)
{
    orcs_msg_t *reply = orcs_msg_new("run");
    json_t *body = json_pack("{s:I, s:I}", "elapsed_ns",
                             (json_int_t) (bench_now_ns() - self->started_ns),
                             "round_trips", (json_int_t) self->done);
    orcs_msg_set_body(reply, &body);
    orcs_msg_set_status(reply, status);
    orcs_status rc = orcs_actor_reply(actor, self->run, &reply);
    orcs_msg_destroy(&reply);
    orcs_msg_destroy(&self->run);
    return rc;
}

static orcs_status
s_pinger_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    s_pinger_t *self = state;
    orcs_msg_t *msg = *msg_p;
    orcs_msg_kind kind = orcs_msg_kind_of(msg);
    if (kind == ORCS_MSG_ASK && strcmp(orcs_msg_type(msg), "run") == 0) {
        const json_t *body = NULL;
        if (self->run || orcs_msg_body(msg, &body) != ORCS_OK)
            return ORCS_EPROTO;
        self->left = (long) json_integer_value(json_object_get(body, "n"));
        self->done = 0;
        self->run = msg;
        *msg_p = NULL;
        self->started_ns = bench_now_ns();
        return s_ping(actor);
    }
    if (!self->run)
        return ORCS_OK;
    if (kind == ORCS_MSG_TIMEOUT || orcs_msg_status(msg) != ORCS_OK)
        return s_finish(actor, self, ORCS_ETIMEDOUT);
    if (kind != ORCS_MSG_REPLY)
        return ORCS_OK;
    self->done++;
    if (--self->left > 0)
        return s_ping(actor);
    return s_finish(actor, self, ORCS_OK);
}

static const orcs_actor_def_t s_pinger_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "bench_pinger",
    .init = s_pinger_init,
    .receive = s_pinger_receive,
    .terminate = s_pinger_terminate,
};

static orcs_status
s_ponger_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) state;
    orcs_msg_t *msg = *msg_p;
    if (orcs_msg_kind_of(msg) != ORCS_MSG_ASK)
        return ORCS_OK;
    size_t size = 0;
    const uint8_t *body = orcs_msg_body_raw(msg, &size);
    orcs_msg_t *reply = orcs_msg_new(NULL);
    orcs_msg_set_body_raw(reply, body, size);
    orcs_status rc = orcs_actor_reply(actor, msg, &reply);
    orcs_msg_destroy(&reply);
    return rc;
}

static orcs_status
s_ponger_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) config;
    (void) state_p;
    bench_pin(1);
    return ORCS_OK;
}

static const orcs_actor_def_t s_ponger_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "bench_ponger",
    .init = s_ponger_init,
    .receive = s_ponger_receive,
};

// One run through the runtime: µs per round trip, or a negative value.
static double
s_orcs_run(orcs_node_t *node, orcs_client_t *client, long n)
{
    orcs_msg_t *msg = orcs_msg_new("run");
    json_t *body = json_pack("{s:I}", "n", (json_int_t) n);
    orcs_msg_set_body(msg, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc = orcs_client_ask(client, "pinger", &msg, S_RUN_MS, &reply);
    orcs_msg_destroy(&msg);
    if (rc == ORCS_OK)
        rc = orcs_msg_status(reply);
    const json_t *result = NULL;
    if (rc == ORCS_OK)
        rc = orcs_msg_body(reply, &result);
    double us = -1;
    if (rc == ORCS_OK)
        us = (double) json_integer_value(json_object_get(result, "elapsed_ns"))
             / 1000.0 / (double) n;
    orcs_msg_destroy(&reply);
    if (rc != ORCS_OK)
        bench_die(node, "ask run", rc);
    return us;
}

// The bytes an orcs ping puts on the wire: header frame + body frame.
static size_t
s_orcs_message_size(void)
{
    orcs_msg_t *msg = orcs_msg_new("ping");
    msg->env.kind = ORCS_MSG_ASK;
    snprintf(msg->env.from, sizeof msg->env.from, "pinger");
    snprintf(msg->env.to, sizeof msg->env.to, "ponger");
    msg->env.correlation_id = S_ROUND_TRIPS;
    msg->env.deadline_us = orcs_clock_wall_us() + S_ASK_MS * 1000;
    msg->env.incarnation = 1;
    uint8_t header[ORCS_MSG_HEADER_MAX];
    size_t size = orcs__envelope_encode(&msg->env, header, sizeof header);
    orcs_msg_destroy(&msg);
    return size + sizeof s_body;
}

// ---- baseline: raw libzmq PAIR ping-pong

typedef struct {
    void *socket; // the echoing end
    size_t size;  // frame size
    long n;       // frames to echo
} s_echo_args_t;

static void *
s_echo_thread(void *arg)
{
    s_echo_args_t *args = arg;
    bench_pin(1);
    char buf[256];
    for (long i = 0; i < args->n; i++) {
        int got = zmq_recv(args->socket, buf, sizeof buf, 0);
        if (got < 0 || zmq_send(args->socket, buf, (size_t) got, 0) < 0)
            break;
    }
    return NULL;
}

// One baseline run (number run: its endpoint's name): µs per round trip.
static double
s_zmq_run(void *context, size_t size, long n, int run)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://bench-pair-%d", run);
    void *near = zmq_socket(context, ZMQ_PAIR);
    void *far = zmq_socket(context, ZMQ_PAIR);
    if (zmq_bind(near, endpoint) != 0 || zmq_connect(far, endpoint) != 0) {
        fprintf(stderr, "bench: %s: zmq: %s\n", S_BENCH, zmq_strerror(errno));
        exit(1);
    }
    s_echo_args_t args = {far, size, n};
    pthread_t thread;
    pthread_create(&thread, NULL, s_echo_thread, &args);
    char buf[256];
    memset(buf, 'x', sizeof buf);
    bench_pin(0);
    int64_t start = bench_now_ns();
    for (long i = 0; i < n; i++) {
        if (zmq_send(near, buf, size, 0) < 0
            || zmq_recv(near, buf, sizeof buf, 0) < 0)
            break;
    }
    int64_t elapsed = bench_now_ns() - start;
    bench_unpin();
    pthread_join(thread, NULL);
    zmq_close(near);
    zmq_close(far);
    return (double) elapsed / 1000.0 / (double) n;
}

int
main(void)
{
    long n = bench_scaled(S_ROUND_TRIPS, 1000);
    const orcs_actor_def_t *kinds[] = {&s_pinger_def, &s_ponger_def};
    orcs_node_t *node = bench_node_new(kinds, 2);
    bench_start_child(node, "ponger", "bench_ponger", NULL, 0);
    bench_start_child(node, "pinger", "bench_pinger", NULL, 0);
    orcs_client_t *client = orcs_client_new(node);
    void *context = zmq_ctx_new();
    size_t size = s_orcs_message_size();

    // Warm up both (routes, allocator, caches).
    s_orcs_run(node, client, n / 10 + 1);
    s_zmq_run(context, size, n / 10 + 1, S_REPEATS);
    double orcs_us[S_REPEATS];
    double zmq_us[S_REPEATS];
    for (int i = 0; i < S_REPEATS; i++) {
        orcs_us[i] = s_orcs_run(node, client, n);
        zmq_us[i] = s_zmq_run(context, size, n, i);
    }
    double value = bench_median(orcs_us, S_REPEATS);
    double baseline = bench_median(zmq_us, S_REPEATS);
    bench_print(S_BENCH, "us", value, "us", baseline);
    fprintf(stderr,
            "%s: %.2f us per ask round trip (median of %d x %ld); raw zmq "
            "PAIR ping-pong of %zu B: %.2f us; ratio %.2f (target <= 1.3)\n",
            S_BENCH, value, S_REPEATS, n, size, baseline, value / baseline);
    zmq_ctx_term(context);
    orcs_client_destroy(&client);
    bench_node_destroy(&node);
    return 0;
}
