/*  bench_oneway.c — one-way throughput between two actors.
    SPDX-License-Identifier: MPL-2.0

    `sender`, asked "run" {n} by the client, sends n "data" messages with a
    64-byte MessagePack body (pre-encoded: orcs_msg_set_body_raw) to `sink`
    in a tight loop inside that one callback; orcs_actor_send waits when
    the sink's mailbox (1000, the default bound) is full. Then it asks
    `sink` "flush", which queues behind the data (one sender, FIFO), and
    when the reply comes back it answers the client with the elapsed time
    and the count the sink saw.

    Baseline: raw libzmq, one thread sending n 64-byte frames over inproc
    PUSH to a thread that receives them on PULL, HWM 1000 on both ends.
    Runs alternate and the medians are compared. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"

#define S_BENCH    "oneway"
#define S_MESSAGES 1000000
#define S_REPEATS  5
#define S_BODY     64
#define S_HWM      1000
#define S_RUN_MS   600000

// 64 bytes of MessagePack: a bin 8 of 62 bytes (c4 3e, then 02 .. 3f).
static const uint8_t s_body[S_BODY] = {
    0xc4, 0x3e, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
    0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f};

// ---- the two actors

typedef struct {
    orcs_msg_t *run;    // the client's pending "run" ask
    long sent;          // data messages sent in this run
    int64_t started_ns; // when the run began
} s_sender_t;

static orcs_status
s_sender_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) config;
    bench_pin(0);
    *state_p = calloc(1, sizeof(s_sender_t));
    return *state_p ? ORCS_OK : ORCS_EINTERNAL;
}

static void
s_sender_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_sender_t *self = state;
    orcs_msg_destroy(&self->run);
    free(self);
}

// Answers the client's "run" ask: {"elapsed_ns", "sent", "received"}.
static orcs_status
s_finish(orcs_actor_t *actor,
         s_sender_t *self,
         long received,
         orcs_status status)
{
    orcs_msg_t *reply = orcs_msg_new("run");
    json_t *body =
        json_pack("{s:I, s:I, s:I}", "elapsed_ns",
                  (json_int_t) (bench_now_ns() - self->started_ns), "sent",
                  (json_int_t) self->sent, "received", (json_int_t) received);
    orcs_msg_set_body(reply, &body);
    orcs_msg_set_status(reply, status);
    orcs_status rc = orcs_actor_reply(actor, self->run, &reply);
    orcs_msg_destroy(&reply);
    orcs_msg_destroy(&self->run);
    return rc;
}

static orcs_status
s_burst(orcs_actor_t *actor, s_sender_t *self, long n)
{
    self->sent = 0;
    self->started_ns = bench_now_ns();
    for (long i = 0; i < n; i++) {
        orcs_msg_t *msg = orcs_msg_new("data");
        orcs_msg_set_body_raw(msg, s_body, sizeof s_body);
        orcs_status rc = orcs_actor_send(actor, "sink", &msg);
        orcs_msg_destroy(&msg);
        if (rc != ORCS_OK)
            return s_finish(actor, self, 0, rc);
        self->sent++;
    }
    orcs_msg_t *flush = orcs_msg_new("flush");
    orcs_status rc = orcs_actor_ask(actor, "sink", &flush, S_RUN_MS, NULL);
    orcs_msg_destroy(&flush);
    return rc == ORCS_OK ? ORCS_OK : s_finish(actor, self, 0, rc);
}

static orcs_status
s_sender_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    s_sender_t *self = state;
    orcs_msg_t *msg = *msg_p;
    orcs_msg_kind kind = orcs_msg_kind_of(msg);
    if (kind == ORCS_MSG_ASK && strcmp(orcs_msg_type(msg), "run") == 0) {
        const json_t *body = NULL;
        if (self->run || orcs_msg_body(msg, &body) != ORCS_OK)
            return ORCS_EPROTO;
        self->run = msg;
        *msg_p = NULL;
        return s_burst(actor, self,
                       (long) json_integer_value(json_object_get(body, "n")));
    }
    if (!self->run || (kind != ORCS_MSG_REPLY && kind != ORCS_MSG_TIMEOUT))
        return ORCS_OK;
    const json_t *body = NULL;
    long received = 0;
    if (kind == ORCS_MSG_REPLY && orcs_msg_body(msg, &body) == ORCS_OK)
        received = (long) json_integer_value(json_object_get(body, "count"));
    return s_finish(actor, self, received,
                    kind == ORCS_MSG_REPLY ? ORCS_OK : ORCS_ETIMEDOUT);
}

static const orcs_actor_def_t s_sender_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "bench_sender",
    .init = s_sender_init,
    .receive = s_sender_receive,
    .terminate = s_sender_terminate,
};

typedef struct {
    long count; // data messages since the last flush
} s_sink_t;

static orcs_status
s_sink_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) config;
    bench_pin(1);
    *state_p = calloc(1, sizeof(s_sink_t));
    return *state_p ? ORCS_OK : ORCS_EINTERNAL;
}

static void
s_sink_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    free(state);
}

static orcs_status
s_sink_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    s_sink_t *self = state;
    orcs_msg_t *msg = *msg_p;
    orcs_msg_kind kind = orcs_msg_kind_of(msg);
    if (kind == ORCS_MSG_SEND) {
        self->count++;
        return ORCS_OK;
    }
    if (kind != ORCS_MSG_ASK)
        return ORCS_OK;
    orcs_msg_t *reply = orcs_msg_new(NULL);
    json_t *body = json_pack("{s:I}", "count", (json_int_t) self->count);
    orcs_msg_set_body(reply, &body);
    self->count = 0;
    orcs_status rc = orcs_actor_reply(actor, msg, &reply);
    orcs_msg_destroy(&reply);
    return rc;
}

static const orcs_actor_def_t s_sink_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "bench_sink",
    .init = s_sink_init,
    .receive = s_sink_receive,
    .terminate = s_sink_terminate,
};

// One run through the runtime: messages per second.
static double
s_orcs_run(orcs_node_t *node, orcs_client_t *client, long n)
{
    orcs_msg_t *msg = orcs_msg_new("run");
    json_t *body = json_pack("{s:I}", "n", (json_int_t) n);
    orcs_msg_set_body(msg, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc = orcs_client_ask(client, "sender", &msg, S_RUN_MS, &reply);
    orcs_msg_destroy(&msg);
    if (rc == ORCS_OK)
        rc = orcs_msg_status(reply);
    const json_t *result = NULL;
    if (rc == ORCS_OK)
        rc = orcs_msg_body(reply, &result);
    double rate = -1;
    if (rc == ORCS_OK) {
        long received =
            (long) json_integer_value(json_object_get(result, "received"));
        double ns =
            (double) json_integer_value(json_object_get(result, "elapsed_ns"));
        if (received != n) {
            fprintf(stderr, "bench: %s: sink saw %ld of %ld messages\n",
                    S_BENCH, received, n);
            exit(1);
        }
        rate = (double) n / (ns / 1e9);
    }
    orcs_msg_destroy(&reply);
    if (rc != ORCS_OK)
        bench_die(node, "ask run", rc);
    return rate;
}

// ---- baseline: raw libzmq PUSH/PULL

typedef struct {
    void *socket; // PUSH end
    long n;       // frames to send
} s_push_args_t;

static void *
s_push_thread(void *arg)
{
    s_push_args_t *args = arg;
    bench_pin(0);
    for (long i = 0; i < args->n; i++)
        if (zmq_send(args->socket, s_body, sizeof s_body, 0) < 0)
            break;
    return NULL;
}

// One baseline run (number run: its endpoint's name): messages per second.
static double
s_zmq_run(void *context, long n, int run)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://bench-push-%d", run);
    int hwm = S_HWM;
    void *pull = zmq_socket(context, ZMQ_PULL);
    void *push = zmq_socket(context, ZMQ_PUSH);
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_bind(pull, endpoint) != 0 || zmq_connect(push, endpoint) != 0) {
        fprintf(stderr, "bench: %s: zmq: %s\n", S_BENCH, zmq_strerror(errno));
        exit(1);
    }
    s_push_args_t args = {push, n};
    pthread_t thread;
    uint8_t buf[S_BODY];
    bench_pin(1);
    int64_t start = bench_now_ns();
    pthread_create(&thread, NULL, s_push_thread, &args);
    long received = 0;
    while (received < n && zmq_recv(pull, buf, sizeof buf, 0) >= 0)
        received++;
    int64_t elapsed = bench_now_ns() - start;
    bench_unpin();
    pthread_join(thread, NULL);
    zmq_close(push);
    zmq_close(pull);
    return (double) received / ((double) elapsed / 1e9);
}

int
main(void)
{
    long n = bench_scaled(S_MESSAGES, 10000);
    const orcs_actor_def_t *kinds[] = {&s_sender_def, &s_sink_def};
    orcs_node_t *node = bench_node_new(kinds, 2);
    bench_start_child(node, "sink", "bench_sink", NULL, S_HWM);
    bench_start_child(node, "sender", "bench_sender", NULL, 0);
    orcs_client_t *client = orcs_client_new(node);
    void *context = zmq_ctx_new();

    s_orcs_run(node, client, n / 10 + 1);
    s_zmq_run(context, n / 10 + 1, S_REPEATS);
    double orcs_rate[S_REPEATS];
    double zmq_rate[S_REPEATS];
    for (int i = 0; i < S_REPEATS; i++) {
        orcs_rate[i] = s_orcs_run(node, client, n);
        zmq_rate[i] = s_zmq_run(context, n, i);
    }
    double value = bench_median(orcs_rate, S_REPEATS);
    double baseline = bench_median(zmq_rate, S_REPEATS);
    bench_print(S_BENCH, "msgs_per_s", value, "msg/s", baseline);
    fprintf(stderr,
            "%s: %.2fM msg/s actor to actor, %d B bodies (median of %d x "
            "%ld); raw zmq PUSH/PULL HWM %d: %.2fM msg/s; ratio %.2f "
            "(targets >= 2.5M msg/s, ratio >= 0.5)\n",
            S_BENCH, value / 1e6, S_BODY, S_REPEATS, n, S_HWM, baseline / 1e6,
            value / baseline);
    zmq_ctx_term(context);
    orcs_client_destroy(&client);
    bench_node_destroy(&node);
    return 0;
}
