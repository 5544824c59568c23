/*  test_msg.c — messages and the wire: header round trips, field limits,
    lazy bodies, frames over a real socket pair, malformed frames, local
    queues; status names; the timer heap.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "internal.h"

static void
test_msg_destroy_nulls_reference(void **state)
{
    (void) state;
    orcs_msg_t *msg = orcs_msg_new("x");
    orcs_msg_destroy(&msg);
    assert_null(msg);
    orcs_msg_destroy(&msg); // idempotent
}

static void
test_msg_setters_refuse_oversized_fields(void **state)
{
    (void) state;
    orcs_msg_t *msg = orcs_msg_new("short");
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(orcs_msg_set_type(msg, big), ORCS_ETOOBIG);
    assert_string_equal(orcs_msg_type(msg), "short");
    assert_int_equal(orcs_msg_set_run_id(msg, big), ORCS_ETOOBIG);
    assert_int_equal(orcs_msg_set_topic(msg, big), ORCS_ETOOBIG);
    big[ORCS_MSG_TYPE_MAX] = 0;
    assert_int_equal(orcs_msg_set_type(msg, big), ORCS_OK);
    assert_int_equal(strlen(orcs_msg_type(msg)), ORCS_MSG_TYPE_MAX);
    orcs_msg_destroy(&msg);
}

static void
test_msg_run_topic(void **state)
{
    (void) state;
    char topic[ORCS_MSG_TOPIC_MAX + 1];
    assert_true(orcs_msg_run_topic(topic, "r-42", "model.finished"));
    assert_string_equal(topic, "run.r-42.model.finished");
    // No run: no topic.
    assert_false(orcs_msg_run_topic(topic, "", "model.finished"));
    assert_string_equal(topic, "");
    // One byte over the longest topic is refused, the longest is not.
    char event[ORCS_MSG_TOPIC_MAX + 2];
    size_t fits = ORCS_MSG_TOPIC_MAX - strlen("run.r.");
    memset(event, 'e', fits);
    event[fits] = '\0';
    assert_true(orcs_msg_run_topic(topic, "r", event));
    assert_int_equal(strlen(topic), ORCS_MSG_TOPIC_MAX);
    event[fits] = 'e';
    event[fits + 1] = '\0';
    assert_false(orcs_msg_run_topic(topic, "r", event));
    assert_string_equal(topic, "");
}

static void
test_msg_header_round_trip(void **state)
{
    (void) state;
    Envelope env = {0};
    env.version = ORCS_WIRE_VERSION;
    env.kind = ORCS_MSG_ASK;
    strcpy(env.type, "greet");
    strcpy(env.from, "a@n");
    strcpy(env.to, "b");
    strcpy(env.run_id, "r-1");
    env.correlation_id = UINT64_MAX;
    env.deadline_us = INT64_MIN;
    env.status = ORCS_ETIMEDOUT;
    env.trace_id.size = 16;
    memset(env.trace_id.bytes, 7, 16);
    uint8_t buf[ORCS_MSG_HEADER_MAX];
    size_t n = orcs__envelope_encode(&env, buf, sizeof buf);
    assert_true(n > 0);
    Envelope out;
    assert_int_equal(orcs__envelope_decode(buf, n, &out), ORCS_OK);
    assert_memory_equal(&env, &out, sizeof env);
}

static void
test_msg_header_decode_rejects_garbage(void **state)
{
    (void) state;
    Envelope out;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(orcs__envelope_decode(garbage, sizeof garbage, &out),
                     ORCS_EPROTO);
    static const uint8_t no_version[] = {0x1a, 0x01, 'x'};
    assert_int_equal(orcs__envelope_decode(no_version, sizeof no_version, &out),
                     ORCS_EPROTO);
    static const uint8_t too_long[] = {0x08, 0x01, 0x1a, 0x7f, 'a'};
    assert_int_equal(orcs__envelope_decode(too_long, sizeof too_long, &out),
                     ORCS_EPROTO);
    uint8_t huge[ORCS_MSG_HEADER_MAX + 1] = {0x08, 0x01};
    assert_int_equal(orcs__envelope_decode(huge, sizeof huge, &out),
                     ORCS_EPROTO);
    // Unknown fields are skipped.
    static const uint8_t unknown[] = {0x08, 0x01, 0xf8, 0x07,
                                      0x05, 0x1a, 0x01, 'p'};
    assert_int_equal(orcs__envelope_decode(unknown, sizeof unknown, &out),
                     ORCS_OK);
    assert_string_equal(out.type, "p");
}

static void
test_msg_body_is_lazy_and_checked(void **state)
{
    (void) state;
    orcs_msg_t *msg = orcs_msg_new("x");
    const json_t *body = NULL;
    assert_int_equal(orcs_msg_body(msg, &body), ORCS_OK);
    assert_true(json_is_null(body));
    json_t *doc = json_pack("{s:i}", "n", 5);
    orcs_msg_set_body(msg, &doc);
    assert_null(doc);
    size_t size = 0;
    const uint8_t *raw = orcs_msg_body_raw(msg, &size);
    assert_true(size > 0);
    orcs_msg_t *copy = orcs_msg_new("y");
    orcs_msg_set_body_raw(copy, raw, size);
    assert_int_equal(orcs_msg_body(copy, &body), ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(body, "n")), 5);
    orcs_msg_t *dup = orcs_msg_dup(copy);
    json_t *taken = NULL;
    assert_int_equal(orcs_msg_take_body(dup, &taken), ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(taken, "n")), 5);
    json_decref(taken);
    orcs_msg_set_body_raw(copy, "\xdd\xff\xff\xff\xff", 5);
    assert_int_equal(orcs_msg_body(copy, &body), ORCS_EPROTO);
    assert_null(body);
    orcs_msg_destroy(&dup);
    orcs_msg_destroy(&copy);
    orcs_msg_destroy(&msg);
}

static void
test_msg_frames_over_sockets(void **state)
{
    (void) state;
    orcs_runtime_init();
    zsock_t *pull = zsock_new_pull("inproc://test-msg-frames");
    zsock_t *push = zsock_new_push("inproc://test-msg-frames");
    void *in = zsock_resolve(pull), *out = zsock_resolve(push);
    json_t *doc = json_pack("[s, i]", "x", 1);
    orcs_msg_t *msg = orcs_msg_new_json("hello", doc); // copies doc
    json_decref(doc);
    uint8_t trace[16] = {1}, span[8] = {2};
    orcs_msg_set_trace(msg, trace, span);
    assert_int_equal(orcs__msg_send(msg, out, 0), ORCS_OK);
    orcs_msg_t *got = NULL;
    assert_int_equal(orcs__msg_recv(in, 0, &got), ORCS_OK);
    assert_string_equal(orcs_msg_type(got), "hello");
    uint8_t t2[16], s2[8];
    assert_true(orcs_msg_trace(got, t2, s2));
    assert_memory_equal(t2, trace, 16);
    const json_t *body = NULL;
    assert_int_equal(orcs_msg_body(got, &body), ORCS_OK);
    assert_string_equal(json_string_value(json_array_get(body, 0)), "x");
    orcs_msg_destroy(&got);
    // One frame, three frames, a bad header: each refused, none left over.
    zstr_send(push, "lonely");
    zstr_sendx(push, "a", "b", "c", NULL);
    zstr_sendx(push, "\xff\xff", "\xc0", NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(orcs__msg_recv(in, 0, &got), ORCS_EPROTO);
    assert_null(got);
    assert_int_equal(orcs__msg_recv(in, ZMQ_DONTWAIT, &got), ORCS_EAGAIN);
    // The good one after them still arrives.
    assert_int_equal(orcs__msg_send(msg, out, 0), ORCS_OK);
    assert_int_equal(orcs__msg_recv(in, 0, &got), ORCS_OK);
    orcs_msg_destroy(&got);
    orcs_msg_destroy(&msg);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

// Messages that differ only in run id (an agent serving many runs) share
// the sender's cached header; each arrives with its own run id, an empty
// one after a set one included.
static void
test_msg_run_ids_ride_with_a_cached_header(void **state)
{
    (void) state;
    orcs_runtime_init();
    static const char *const runs[] = {"r-1", "r-2", "", "r-4"};
    orcs__batch_t batch = {0};
    orcs__header_cache_t tx = {0};
    size_t cached = 0;
    for (int i = 0; i < 4; i++) {
        orcs_msg_t *msg = orcs_msg_new("model.chat");
        snprintf(msg->env.run_id, sizeof msg->env.run_id, "%s", runs[i]);
        msg->env.correlation_id = (uint64_t) i + 1;
        assert_int_equal(orcs__batch_add(&batch, msg, &tx), ORCS_OK);
        orcs_msg_destroy(&msg);
        if (i == 0)
            cached = tx.size;
        // The cache was not rewritten, and holds no run id.
        assert_int_equal(tx.size, cached);
        assert_string_equal(tx.env.run_id, "");
    }
    zmq_msg_t frame;
    assert_int_equal(orcs__batch_frame(&batch, &frame), ORCS_OK);
    orcs__rx_batch_t rx = {0};
    orcs__header_cache_t rx_cache = {0};
    orcs_msg_t *got = NULL;
    for (int i = 0; i < 4; i++) {
        if (i == 0)
            assert_int_equal(
                orcs__msg_recv_frame(&frame, &rx_cache, NULL, &rx, &got),
                ORCS_OK);
        else
            assert_int_equal(
                orcs__msg_recv_cached(NULL, 0, &rx_cache, NULL, &rx, &got),
                ORCS_OK);
        assert_string_equal(orcs_msg_type(got), "model.chat");
        assert_string_equal(got->env.run_id, runs[i]);
        assert_int_equal(orcs_msg_correlation_id(got), (uint64_t) i + 1);
        orcs_msg_destroy(&got);
    }
    zmq_msg_close(&frame);
    orcs__batch_free(&batch);
}

static void
test_msg_batches_split_in_order(void **state)
{
    (void) state;
    orcs_runtime_init();
    zsock_t *pull = zsock_new_pull("inproc://test-msg-batches");
    zsock_t *push = zsock_new_push("inproc://test-msg-batches");
    void *in = zsock_resolve(pull), *out = zsock_resolve(push);
    orcs__batch_t batch = {0};
    orcs__header_cache_t tx = {0}, rx_cache = {0};
    orcs__rx_batch_t rx = {0};
    orcs_msg_t *spare = NULL;
    // Three messages (one with a large body) go as one frame.
    for (int i = 0; i < 3; i++) {
        orcs_msg_t *msg = orcs_msg_new(i == 1 ? "other" : "item");
        json_t *doc = json_pack("{s:i}", "i", i);
        if (i == 2) {
            char *text = calloc(1, 5001);
            memset(text, 'x', 5000);
            json_object_set_new(doc, "big", json_string(text));
            free(text);
        }
        orcs_msg_set_body(msg, &doc);
        msg->env.correlation_id = (uint64_t) i + 7;
        assert_int_equal(orcs__batch_add(&batch, msg, &tx), ORCS_OK);
        orcs_msg_destroy(&msg);
    }
    assert_int_equal(batch.count, 3);
    assert_int_equal(orcs__batch_send(&batch, out, 0), ORCS_OK);
    assert_int_equal(batch.count, 0);
    // One frame that starts with a zero byte. A reader without batch
    // state refuses it; send it again for a batch reader.
    zmq_msg_t again, copy;
    zmq_msg_init(&again);
    zmq_msg_init(&copy);
    assert_true(zmq_msg_recv(&again, in, 0) > 0);
    assert_int_equal(((uint8_t *) zmq_msg_data(&again))[0], 0);
    zmq_msg_copy(&copy, &again);
    assert_true(zmq_msg_send(&again, out, 0) > 0);
    orcs_msg_t *got = NULL;
    assert_int_equal(orcs__msg_recv(in, 0, &got), ORCS_EPROTO);
    assert_true(zmq_msg_send(&copy, out, 0) > 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            orcs__msg_recv_cached(in, 0, &rx_cache, &spare, &rx, &got),
            ORCS_OK);
        assert_string_equal(orcs_msg_type(got), i == 1 ? "other" : "item");
        assert_int_equal(orcs_msg_correlation_id(got), (uint64_t) i + 7);
        assert_int_equal(rx.active, i < 2);
        const json_t *body = NULL;
        assert_int_equal(orcs_msg_body(got, &body), ORCS_OK);
        if (i == 2)
            assert_int_equal(
                strlen(json_string_value(json_object_get(body, "big"))), 5000);
        else
            assert_int_equal(json_integer_value(json_object_get(body, "i")), i);
        // A copy outlives the batch frame's other messages.
        orcs_msg_t *dup = orcs_msg_dup(got);
        orcs__msg_recycle(&got, &spare);
        assert_int_equal(orcs_msg_body(dup, &body), ORCS_OK);
        orcs_msg_destroy(&dup);
    }
    // A lone message in a batch goes as a plain frame.
    orcs_msg_t *one = orcs_msg_new("one");
    assert_int_equal(orcs__batch_add(&batch, one, &tx), ORCS_OK);
    assert_int_equal(orcs__batch_send(&batch, out, 0), ORCS_OK);
    assert_int_equal(orcs__msg_recv(in, 0, &got), ORCS_OK);
    assert_string_equal(orcs_msg_type(got), "one");
    orcs_msg_destroy(&got);
    // Damaged batches: a length past the end, a zero length, a batch in a
    // batch, a bad message then a good one (the good one still arrives).
    uint8_t frame[ORCS_MSG_HEADER_MAX + 16];
    size_t n = orcs__envelope_encode(&one->env, frame + 3, sizeof frame - 3);
    frame[2] = (uint8_t) n; // varint(header size), header, no body
    frame[1] = (uint8_t) (n + 1);
    frame[0] = 0;
    uint8_t past[] = {0, 0x7f, 1, 2};
    uint8_t zero[] = {0, 0};
    uint8_t nested[] = {0, 3, 0, 1, 1};
    zmq_send(out, past, sizeof past, 0);
    zmq_send(out, zero, sizeof zero, 0);
    zmq_send(out, nested, sizeof nested, 0);
    uint8_t mixed[sizeof frame + 8];
    mixed[0] = 0;
    mixed[1] = 2;
    mixed[2] = 1;
    mixed[3] = 0x08; // a header cut inside its first field
    memcpy(mixed + 4, frame + 1, n + 2);
    zmq_send(out, mixed, 4 + n + 2, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            orcs__msg_recv_cached(in, 0, &rx_cache, &spare, &rx, &got),
            ORCS_EPROTO);
        assert_false(rx.active && i < 2);
    }
    assert_int_equal(orcs__msg_recv_cached(in, 0, &rx_cache, &spare, &rx, &got),
                     ORCS_OK);
    assert_string_equal(orcs_msg_type(got), "one");
    assert_false(rx.active);
    orcs_msg_destroy(&got);
    assert_int_equal(
        orcs__msg_recv_cached(in, ZMQ_DONTWAIT, &rx_cache, &spare, &rx, &got),
        ORCS_EAGAIN);
    orcs__rx_batch_close(&rx);
    orcs_msg_destroy(&one);
    orcs_msg_destroy(&spare);
    orcs__batch_free(&batch);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

// Puts a frame of count messages typed `type`, correlation ids from
// first, on entry's local queue.
static void
s_push_frame(orcs__entry_t *entry, const char *type, int count, uint64_t first)
{
    orcs__batch_t batch = {0};
    orcs__header_cache_t tx = {0};
    for (int i = 0; i < count; i++) {
        orcs_msg_t *msg = orcs_msg_new(type);
        json_t *doc = json_pack("{s:i}", "i", (int) first + i);
        orcs_msg_set_body(msg, &doc);
        msg->env.correlation_id = first + (uint64_t) i;
        assert_int_equal(orcs__batch_add(&batch, msg, &tx), ORCS_OK);
        orcs_msg_destroy(&msg);
    }
    zmq_msg_t frame;
    assert_int_equal(orcs__batch_frame(&batch, &frame), ORCS_OK);
    zmq_msg_t none; // an empty batch gives no frame
    assert_int_equal(orcs__batch_frame(&batch, &none), ORCS_EAGAIN);
    orcs__local_push(entry, &frame);
    assert_int_equal(zmq_msg_size(&frame), 0); // taken
    zmq_msg_close(&frame);
    orcs__batch_free(&batch);
}

static bool
s_fd_readable(int fd, int timeout_ms)
{
    struct pollfd item = {fd, POLLIN, 0};
    return poll(&item, 1, timeout_ms) == 1 && (item.revents & POLLIN);
}

// Takes the next message off entry's queue (splitting batches in rx).
static orcs_msg_t *
s_next_local(orcs__entry_t *entry, orcs__rx_batch_t *rx)
{
    orcs__header_cache_t cache = {0};
    orcs_msg_t *msg = NULL;
    if (rx->active) {
        assert_int_equal(orcs__msg_recv_cached(NULL, 0, &cache, NULL, rx, &msg),
                         ORCS_OK);
        return msg;
    }
    zmq_msg_t frame;
    if (!orcs__local_pop(entry, &frame))
        return NULL;
    assert_int_equal(orcs__msg_recv_frame(&frame, &cache, NULL, rx, &msg),
                     ORCS_OK);
    zmq_msg_close(&frame);
    return msg;
}

static void
test_local_queue_hands_frames_over(void **state)
{
    (void) state;
    orcs_runtime_init();
    orcs__entry_t *entry = calloc(1, sizeof *entry);
    orcs__local_init(entry, true);
    assert_true(entry->local_fd >= 0);
    assert_true(orcs__local_eligible(entry));
    entry->is_pool = true; // pools, clients, child processes: ZeroMQ
    assert_false(orcs__local_eligible(entry));
    entry->is_pool = false;
    // Empty: the receiver may sleep, and the next push wakes it once.
    assert_false(orcs__local_arm(entry));
    assert_false(s_fd_readable(entry->local_fd, 0));
    s_push_frame(entry, "item", 3, 10);
    assert_true(s_fd_readable(entry->local_fd, 0));
    orcs__local_clear_wakeup(entry);
    assert_false(s_fd_readable(entry->local_fd, 0));
    // Not marked asleep: a push writes nothing.
    s_push_frame(entry, "one", 1, 20);
    assert_false(s_fd_readable(entry->local_fd, 0));
    assert_true(orcs__local_arm(entry)); // frames wait: do not sleep
    s_push_frame(entry, "two", 2, 30);
    assert_false(s_fd_readable(entry->local_fd, 0));
    // Out in order: the batch split, the lone message, the next batch.
    const char *types[] = {"item", "item", "item", "one", "two", "two"};
    uint64_t ids[] = {10, 11, 12, 20, 30, 31};
    orcs__rx_batch_t rx = {0};
    for (int i = 0; i < 6; i++) {
        orcs_msg_t *msg = s_next_local(entry, &rx);
        assert_non_null(msg);
        assert_string_equal(orcs_msg_type(msg), types[i]);
        assert_int_equal(orcs_msg_correlation_id(msg), ids[i]);
        const json_t *body = NULL;
        assert_int_equal(orcs_msg_body(msg, &body), ORCS_OK);
        assert_int_equal(json_integer_value(json_object_get(body, "i")),
                         (json_int_t) ids[i]);
        orcs_msg_destroy(&msg);
    }
    assert_null(s_next_local(entry, &rx));
    // Dropped frames come off the depth counter, each message of a batch.
    atomic_store(&entry->queued, 5);
    s_push_frame(entry, "item", 4, 40);
    s_push_frame(entry, "one", 1, 50);
    orcs__local_drop(entry);
    assert_int_equal(atomic_load(&entry->queued), 0);
    assert_null(s_next_local(entry, &rx));
    s_push_frame(entry, "left", 2, 60); // the directory's end frees these
    orcs__local_fini(entry);
    assert_int_equal(entry->local_fd, -1);
    free(entry);
    // A client's entry has no queue.
    entry = calloc(1, sizeof *entry);
    orcs__local_init(entry, false);
    assert_false(orcs__local_eligible(entry));
    orcs__local_fini(entry);
    free(entry);
}

#define S_LOCAL_FRAMES 20000

static void *
s_local_producer(void *arg)
{
    orcs__entry_t *entry = arg;
    for (int i = 0; i < S_LOCAL_FRAMES; i++) {
        s_push_frame(entry, "n", 1, (uint64_t) i);
        if (i % 7 == 0)
            sched_yield(); // let the consumer catch up and fall asleep
    }
    return NULL;
}

static void
test_local_queue_wakes_a_sleeping_receiver(void **state)
{
    // The receiver arms, sleeps in poll and is woken by the next push,
    // over and over while a producer pushes: no wake-up is lost (a lost
    // one shows as a poll that waits its whole 5 s) and nothing is
    // reordered.
    (void) state;
    orcs_runtime_init();
    orcs__entry_t *entry = calloc(1, sizeof *entry);
    orcs__local_init(entry, true);
    pthread_t thread;
    pthread_create(&thread, NULL, s_local_producer, entry);
    orcs__rx_batch_t rx = {0};
    int got = 0, sleeps = 0;
    while (got < S_LOCAL_FRAMES) {
        orcs_msg_t *msg = s_next_local(entry, &rx);
        if (msg) {
            assert_int_equal(orcs_msg_correlation_id(msg), (uint64_t) got);
            got++;
            orcs_msg_destroy(&msg);
            continue;
        }
        if (orcs__local_arm(entry))
            continue;
        sleeps++;
        assert_true(s_fd_readable(entry->local_fd, 5000));
        orcs__local_clear_wakeup(entry);
    }
    pthread_join(thread, NULL);
    assert_true(sleeps > 0);
    orcs__local_fini(entry);
    free(entry);
}

static void
test_status_names_round_trip(void **state)
{
    (void) state;
    orcs_status status;
    assert_string_equal(orcs_status_name(ORCS_ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(orcs_status_str(ORCS_EFULL), "mailbox full");
    assert_int_equal(orcs_status_from_name("EHUNG", &status), ORCS_OK);
    assert_int_equal(status, ORCS_EHUNG);
    assert_int_equal(orcs_status_from_name("ENOPE", &status), ORCS_ENOTFOUND);
    assert_string_equal(orcs_status_name((orcs_status) -999), "EUNKNOWN");
}

static void
test_timers_fire_in_order_and_cancel(void **state)
{
    (void) state;
    orcs__timers_t *timers = orcs__timers_new();
    // Many timers, inserted out of order, some removed.
    for (uint64_t i = 1; i <= 1000; i++)
        orcs__timers_add(timers, i, (int64_t) ((i * 7919) % 1000), 0);
    for (uint64_t i = 2; i <= 1000; i += 2)
        orcs__timers_remove(timers, orcs__timers_find(timers, i));
    assert_int_equal(orcs__timers_size(timers), 500);
    assert_null(orcs__timers_find(timers, 2));
    int64_t last = -1;
    orcs__timer_t *t;
    size_t popped = 0;
    while ((t = orcs__timers_first(timers))) {
        assert_true(t->due_us >= last);
        assert_true(t->id % 2 == 1);
        last = t->due_us;
        orcs__timers_remove(timers, t);
        popped++;
    }
    assert_int_equal(popped, 500);
    orcs__timer_t *r = orcs__timers_add(timers, 7, 10, 5);
    orcs__timers_add(timers, 8, 12, 0);
    orcs__timers_reschedule(timers, r, 20);
    assert_int_equal(orcs__timers_first(timers)->id, 8);
    orcs__timers_destroy(&timers);
    assert_null(timers);
    orcs__timers_destroy(&timers);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_destroy_nulls_reference),
        cmocka_unit_test(test_msg_setters_refuse_oversized_fields),
        cmocka_unit_test(test_msg_run_topic),
        cmocka_unit_test(test_msg_header_round_trip),
        cmocka_unit_test(test_msg_header_decode_rejects_garbage),
        cmocka_unit_test(test_msg_body_is_lazy_and_checked),
        cmocka_unit_test(test_msg_frames_over_sockets),
        cmocka_unit_test(test_msg_run_ids_ride_with_a_cached_header),
        cmocka_unit_test(test_msg_batches_split_in_order),
        cmocka_unit_test(test_local_queue_hands_frames_over),
        cmocka_unit_test(test_local_queue_wakes_a_sleeping_receiver),
        cmocka_unit_test(test_status_names_round_trip),
        cmocka_unit_test(test_timers_fire_in_order_and_cancel),
    };
    int failed = cmocka_run_group_tests_name("orcs_msg", tests, NULL, NULL);
    orcs_runtime_shutdown();
    return failed;
}
