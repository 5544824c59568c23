/*  test_actor.c — actors in a real node: send, ask, reply, ask timeouts,
    timers, backpressure, events, pools, addresses and bad frames.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"
#include "internal.h"

// ---- a test actor kind: "prober" does what its messages say and reports
// what it saw to the asker.

typedef struct {
    orcs_msg_t *pending;    // the client's ask waiting for an outcome
    int one_shot;           // one-shot timer firings
    int repeats;            // repeating timer firings
    uint64_t repeat_id;     // the repeating timer
    uint64_t ask_id;        // correlation id of our ask
    orcs_reply_to_t *later; // an ask answered from a timer
} s_prober_t;

static orcs_status
s_prober_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) config;
    *state_p = calloc(1, sizeof(s_prober_t));
    return ORCS_OK;
}

static void
s_answer(orcs_actor_t *actor, s_prober_t *self, json_t *body)
{
    orcs_msg_t *reply = orcs_msg_new("outcome");
    orcs_msg_set_body(reply, &body);
    orcs_actor_reply(actor, self->pending, &reply);
    orcs_msg_destroy(&reply);
    orcs_msg_destroy(&self->pending);
}

static orcs_status
s_prober_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    s_prober_t *self = state;
    orcs_msg_t *msg = *msg_p;
    const char *type = orcs_msg_type(msg);
    if (orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT) {
        s_answer(actor, self,
                 json_pack("{s:s, s:s, s:b, s:s}", "kind", "timeout", "status",
                           orcs_status_name(orcs_msg_status(msg)), "same_id",
                           orcs_msg_correlation_id(msg) == self->ask_id, "type",
                           orcs_msg_type(msg)));
        return ORCS_OK;
    }
    if (orcs_msg_kind_of(msg) == ORCS_MSG_REPLY) {
        s_answer(actor, self,
                 json_pack("{s:s, s:b}", "kind", "reply", "same_id",
                           orcs_msg_correlation_id(msg) == self->ask_id));
        return ORCS_OK;
    }
    self->pending = msg; // keep the client's ask: we answer later
    *msg_p = NULL;
    if (strcmp(type, "ask_silent") == 0) {
        orcs_msg_t *ask = orcs_msg_new("are_you_there");
        orcs_status rc =
            orcs_actor_ask(actor, "silent", &ask, 50, &self->ask_id);
        orcs_msg_destroy(&ask);
        return rc;
    }
    if (strcmp(type, "ask_echo") == 0) {
        orcs_msg_t *ask = orcs_msg_new("ping");
        orcs_status rc =
            orcs_actor_ask(actor, "echo", &ask, 10000, &self->ask_id);
        orcs_msg_destroy(&ask);
        return rc;
    }
    if (strcmp(type, "reply_later") == 0) {
        // Keep only the reply address; answer from a timer.
        self->later = orcs_reply_to_new(self->pending);
        assert_non_null(self->later);
        assert_string_equal(orcs_reply_to_address(self->later),
                            orcs_msg_from(self->pending));
        orcs_msg_destroy(&self->pending);
        return orcs_actor_timer_start(actor, 1, 0, (void *) 4, NULL);
    }
    if (strcmp(type, "routes") == 0) {
        s_answer(actor, self,
                 json_pack("{s:I}", "routes",
                           (json_int_t) orcs__actor_route_count(actor)));
        return ORCS_OK;
    }
    if (strcmp(type, "burst") == 0) {
        // n numbered "seq" messages to one actor, all in this callback:
        // they travel in batches (docs/architecture.md).
        const json_t *body = NULL;
        assert_int_equal(orcs_msg_body(self->pending, &body), ORCS_OK);
        const char *to = json_string_value(json_object_get(body, "to"));
        json_int_t n = json_integer_value(json_object_get(body, "n"));
        orcs_status rc = ORCS_OK;
        for (json_int_t i = 0; i < n && rc == ORCS_OK; i++) {
            orcs_msg_t *seq = orcs_msg_new("seq");
            json_t *doc = json_pack("{s:I}", "i", i);
            orcs_msg_set_body(seq, &doc);
            rc = orcs_actor_send(actor, to, &seq);
            orcs_msg_destroy(&seq);
        }
        s_answer(actor, self,
                 json_pack("{s:s}", "status", orcs_status_name(rc)));
        return ORCS_OK;
    }
    if (strcmp(type, "timers") == 0) {
        uint64_t once = 0;
        orcs_actor_timer_start(actor, 5, 0, (void *) 1, &once);
        orcs_actor_timer_start(actor, 1, 2, (void *) 2, &self->repeat_id);
        assert_true(once != 0 && self->repeat_id != 0
                    && once != self->repeat_id);
        assert_int_equal(orcs_actor_timer_start(actor, -1, 0, NULL, NULL),
                         ORCS_EINVAL);
        return ORCS_OK;
    }
    orcs_msg_destroy(&self->pending);
    return ORCS_OK;
}

static orcs_status
s_prober_timer(orcs_actor_t *actor, void *state, uint64_t id, void *arg)
{
    s_prober_t *self = state;
    if (arg == (void *) 4) {
        orcs_msg_t *reply = orcs_msg_new(NULL); // the ask's type
        json_t *body = json_pack("{s:b}", "later", 1);
        orcs_msg_set_body(reply, &body);
        orcs_status rc = orcs_actor_reply_to(actor, self->later, &reply);
        orcs_msg_destroy(&reply);
        orcs_reply_to_destroy(&self->later);
        return rc;
    }
    if (arg == (void *) 3) {
        s_answer(actor, self,
                 json_pack("{s:i, s:i}", "one_shot", self->one_shot, "repeats",
                           self->repeats));
        return ORCS_OK;
    }
    if (arg == (void *) 1) {
        self->one_shot++;
        assert_int_equal(orcs_actor_timer_cancel(actor, id), ORCS_ENOTFOUND);
    } else if (++self->repeats == 5) {
        assert_int_equal(orcs_actor_timer_cancel(actor, id), ORCS_OK);
        assert_int_equal(orcs_actor_timer_cancel(actor, id), ORCS_ENOTFOUND);
        // Report from a fresh one-shot so a late repeat would show.
        orcs_actor_timer_start(actor, 20, 0, (void *) 3, NULL);
    }
    return ORCS_OK;
}

static void
s_prober_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_prober_t *self = state;
    orcs_msg_destroy(&self->pending);
    orcs_reply_to_destroy(&self->later);
    free(self);
}

static const orcs_actor_def_t s_prober_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "prober",
    .init = s_prober_init,
    .receive = s_prober_receive,
    .timer = s_prober_timer,
    .terminate = s_prober_terminate,
};

// "silent" never answers.
static orcs_status
s_silent_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    (void) state;
    (void) msg_p;
    return ORCS_OK;
}

static const orcs_actor_def_t s_silent_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "silent",
    .receive = s_silent_receive,
};

// "tally" records the numbers of the "seq" messages it gets, across its
// restarts, and fails once on the number in s_tally_fail_at.
#define S_TALLY_MAX 4096
static int s_tally[S_TALLY_MAX];
static atomic_int s_tally_count;
static atomic_int s_tally_fail_at = -1;

static orcs_status
s_tally_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    (void) state;
    if (strcmp(orcs_msg_type(*msg_p), "seq") != 0)
        return ORCS_OK;
    const json_t *body = NULL;
    if (orcs_msg_body(*msg_p, &body) != ORCS_OK)
        return ORCS_EPROTO;
    int i = (int) json_integer_value(json_object_get(body, "i"));
    int at = atomic_load(&s_tally_count);
    if (at < S_TALLY_MAX)
        s_tally[at] = i;
    atomic_store(&s_tally_count, at + 1);
    int fail_at = i;
    if (atomic_compare_exchange_strong(&s_tally_fail_at, &fail_at, -1))
        return ORCS_EINTERNAL;
    return ORCS_OK;
}

static const orcs_actor_def_t s_tally_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "tally",
    .receive = s_tally_receive,
};

static const orcs_actor_def_t *const s_kinds[] = {&s_prober_def, &s_silent_def,
                                                  &s_tally_def, NULL};

static const char s_tree[] =
    "{\"strategy\": \"one_for_one\", \"intensity\": 100, \"period_s\": 5,"
    " \"children\": ["
    "  {\"name\": \"echo\", \"actor\": \"echo\"},"
    "  {\"name\": \"prober\", \"actor\": \"prober\"},"
    "  {\"name\": \"silent\", \"actor\": \"silent\"},"
    "  {\"name\": \"small\", \"actor\": \"echo\", \"mailbox\": 4},"
    "  {\"name\": \"tally\", \"actor\": \"tally\", \"mailbox\": 4},"
    "  {\"name\": \"pool\", \"actor\": \"echo\", \"pool\": 3}]}";

static int
s_setup(void **state)
{
    static fixture_t f;
    if (fixture_start(&f, s_tree, s_kinds) != ORCS_OK)
        return -1;
    *state = &f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_stop(*state);
    return 0;
}

static void
test_actor_ask_gets_reply_with_body(void **state)
{
    fixture_t *f = *state;
    orcs_status rc;
    json_t *body =
        json_pack("{s:s, s:[i, f, n, b]}", "text", "héllo", "list", 1, 2.5, 0);
    json_t *reply = fixture_ask(f, "echo", "anything", json_incref(body), &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_true(json_equal(reply, body));
    json_decref(reply);
    json_decref(body);
}

static void
test_actor_ask_inside_actor_gets_reply(void **state)
{
    fixture_t *f = *state;
    json_t *outcome = fixture_ask(f, "prober", "ask_echo", NULL, NULL);
    assert_non_null(outcome);
    assert_string_equal(json_string_value(json_object_get(outcome, "kind")),
                        "reply");
    assert_true(json_is_true(json_object_get(outcome, "same_id")));
    json_decref(outcome);
}

static void
test_actor_ask_timeout_arrives_as_message(void **state)
{
    fixture_t *f = *state;
    json_t *outcome = fixture_ask(f, "prober", "ask_silent", NULL, NULL);
    assert_non_null(outcome);
    assert_string_equal(json_string_value(json_object_get(outcome, "kind")),
                        "timeout");
    assert_string_equal(json_string_value(json_object_get(outcome, "status")),
                        "ETIMEDOUT");
    assert_string_equal(json_string_value(json_object_get(outcome, "type")),
                        "are_you_there");
    assert_true(json_is_true(json_object_get(outcome, "same_id")));
    json_decref(outcome);
}

static void
test_actor_client_ask_times_out(void **state)
{
    fixture_t *f = *state;
    orcs_msg_t *msg = orcs_msg_new("hello");
    orcs_msg_t *reply = NULL;
    assert_int_equal(orcs_client_ask(f->client, "silent", &msg, 30, &reply),
                     ORCS_ETIMEDOUT);
    assert_null(msg);
    assert_null(reply);
}

static void
test_actor_reply_to_a_kept_address(void **state)
{
    fixture_t *f = *state;
    orcs_msg_t *msg = orcs_msg_new("reply_later");
    orcs_msg_t *reply = NULL;
    assert_int_equal(orcs_client_ask(f->client, "prober", &msg, 10000, &reply),
                     ORCS_OK);
    assert_string_equal(orcs_msg_type(reply), "reply_later");
    assert_int_equal(orcs_msg_kind_of(reply), ORCS_MSG_REPLY);
    const json_t *body = NULL;
    assert_int_equal(orcs_msg_body(reply, &body), ORCS_OK);
    assert_true(json_is_true(json_object_get(body, "later")));
    orcs_msg_destroy(&reply);
    // A send wants no answer: no address.
    msg = orcs_msg_new("note");
    assert_null(orcs_reply_to_new(msg));
    orcs_msg_destroy(&msg);
}

// The timer heap and its id table against a plain array: random adds,
// removals by id, reschedules and pops of the earliest, with ties.
static void
test_actor_timer_heap_matches_a_model(void **state)
{
    (void) state;
    enum { N = 4000 };
    static int64_t due[N]; // by id; 0 = not in the heap
    orcs__timers_t *timers = orcs__timers_new();
    uint64_t seed = 42;
    size_t live = 0;
    for (int round = 0; round < 40000; round++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t r = seed >> 33;
        uint64_t id = 1 + r % (N - 1);
        int op = (int) ((r >> 12) % 4);
        orcs__timer_t *found = orcs__timers_find(timers, id);
        assert_true((found != NULL) == (due[id] != 0));
        if (op <= 1 && !found) { // add (ties are common: % 500)
            due[id] = 1 + (int64_t) ((r >> 20) % 500);
            orcs__timer_t *t = orcs__timers_add(timers, id, due[id], 0);
            assert_int_equal(t->id, id);
            live++;
        } else if (op == 2 && found) { // remove
            orcs__timers_remove(timers, found);
            due[id] = 0;
            live--;
        } else if (op == 3 && found) { // reschedule
            due[id] = 1 + (int64_t) ((r >> 20) % 500);
            orcs__timers_reschedule(timers, found, due[id]);
            assert_int_equal(found->due_us, due[id]);
        } else if (live > 0) { // pop the earliest
            orcs__timer_t *first = orcs__timers_first(timers);
            assert_non_null(first);
            for (size_t k = 1; k < N; k++)
                assert_false(due[k] && due[k] < first->due_us);
            assert_int_equal(due[first->id], first->due_us);
            due[first->id] = 0;
            orcs__timers_remove(timers, first);
            live--;
        }
        assert_int_equal(orcs__timers_size(timers), live);
    }
    orcs__timers_destroy(&timers);
    assert_null(timers);
}

static void
test_actor_timers_fire_and_cancel(void **state)
{
    fixture_t *f = *state;
    json_t *outcome = fixture_ask(f, "prober", "timers", NULL, NULL);
    assert_non_null(outcome);
    assert_int_equal(json_integer_value(json_object_get(outcome, "one_shot")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(outcome, "repeats")),
                     5);
    json_decref(outcome);
}

static void
test_actor_send_to_full_mailbox_fails_after_deadline(void **state)
{
    fixture_t *f = *state;
    // Keep "small" busy, then fill its 4-message mailbox.
    assert_int_equal(
        fixture_send(f, "small", "hang", json_pack("{s:i}", "ms", 1500)),
        ORCS_OK);
    assert_true(fixture_wait_field(f, "small", "msgs_in", 1));
    int sent = 0;
    orcs_status rc = ORCS_OK;
    orcs_msg_t *msg = NULL;
    for (int i = 0; i < 100 && rc == ORCS_OK; i++) {
        msg = orcs_msg_new("note");
        rc = orcs_client_send(f->client, "small", &msg, 50);
        if (rc == ORCS_OK)
            sent++;
    }
    assert_int_equal(rc, ORCS_EFULL);
    assert_non_null(msg); // the caller keeps what was not sent
    orcs_msg_destroy(&msg);
    assert_int_equal(sent, 4);
    assert_int_equal(fixture_field(f, "small", "mailbox_depth"), 4);
    // Nothing is lost: all four are handled once the actor is free.
    assert_true(fixture_wait_field(f, "small", "msgs_in", 5));
    assert_int_equal(fixture_ping(f, "small"), 1);
}

// Sends a burst of n from prober to tally and checks tally saw 0..n-1 in
// order.
static void
s_burst_arrives_in_order(fixture_t *f, int n)
{
    atomic_store(&s_tally_count, 0);
    json_t *outcome =
        fixture_ask(f, "prober", "burst",
                    json_pack("{s:s, s:i}", "to", "tally", "n", n), NULL);
    assert_non_null(outcome);
    assert_string_equal(json_string_value(json_object_get(outcome, "status")),
                        "OK");
    json_decref(outcome);
    for (int tries = 0; tries < 2000 && atomic_load(&s_tally_count) < n;
         tries++)
        zclock_sleep(5);
    assert_int_equal(atomic_load(&s_tally_count), n);
    for (int i = 0; i < n; i++)
        assert_int_equal(s_tally[i], i);
}

static void
test_actor_burst_through_small_mailbox_arrives_in_order(void **state)
{
    // 2,000 messages in one callback to a 4-message mailbox: the sender's
    // batches wait for places; nothing is lost, nothing reordered.
    s_burst_arrives_in_order(*state, 2000);
}

static void
test_actor_restart_keeps_rest_of_batch(void **state)
{
    // tally fails on message 2 of a batch: the restarted incarnation
    // gets 3 and the rest from the same batch (a mailbox and what was
    // taken from it outlive an incarnation).
    fixture_t *f = *state;
    json_int_t restarts = fixture_field(f, "tally", "restarts");
    atomic_store(&s_tally_fail_at, 2);
    s_burst_arrives_in_order(f, 4);
    assert_true(fixture_wait_field(f, "tally", "restarts", restarts + 1));
    assert_int_equal(atomic_load(&s_tally_fail_at), -1);
}

static void
test_actor_short_lived_clients_leave_little_behind(void **state)
{
    // Each client has its own name; an actor answering 300 of them, one
    // after the other, drops the routes of those that went away.
    fixture_t *f = *state;
    json_int_t most = 0;
    for (int i = 0; i < 300; i++) {
        orcs_client_t *client = orcs_client_new(f->node);
        orcs_msg_t *msg = orcs_msg_new("routes");
        orcs_msg_t *reply = NULL;
        assert_int_equal(orcs_client_ask(client, "prober", &msg, 10000, &reply),
                         ORCS_OK);
        const json_t *body = NULL;
        assert_int_equal(orcs_msg_body(reply, &body), ORCS_OK);
        json_int_t routes = json_integer_value(json_object_get(body, "routes"));
        if (routes > most)
            most = routes;
        orcs_msg_destroy(&reply);
        orcs_client_destroy(&client);
    }
    assert_true(most >= 1);
    assert_true(most <= 128);
    // Their directory entries were reused: one client at a time, one
    // entry more at most.
    size_t entries = orcs__dir_count(orcs__node_dir(f->node));
    for (int i = 0; i < 100; i++) {
        orcs_client_t *client = orcs_client_new(f->node);
        orcs_msg_t *msg = orcs_msg_new("ping");
        orcs_msg_t *reply = NULL;
        assert_int_equal(orcs_client_ask(client, "echo", &msg, 10000, &reply),
                         ORCS_OK);
        orcs_msg_destroy(&reply);
        orcs_client_destroy(&client);
    }
    assert_true(orcs__dir_count(orcs__node_dir(f->node)) <= entries + 1);
}

static void
test_actor_works_without_spinning(void **state)
{
    // limits.spin_us: 0: actors sleep as soon as they are idle; asks,
    // bursts and replies still arrive.
    (void) state;
    fixture_t g;
    assert_int_equal(
        fixture_start_with(&g, s_tree, s_kinds,
                           json_pack("{s:{s:i}}", "limits", "spin_us", 0)),
        ORCS_OK);
    json_t *outcome = fixture_ask(&g, "prober", "ask_echo", NULL, NULL);
    assert_non_null(outcome);
    assert_string_equal(json_string_value(json_object_get(outcome, "kind")),
                        "reply");
    json_decref(outcome);
    s_burst_arrives_in_order(&g, 500);
    fixture_stop(&g);
}

static void
test_actor_addresses(void **state)
{
    fixture_t *f = *state;
    orcs_msg_t *msg = orcs_msg_new("x");
    assert_int_equal(orcs_client_send(f->client, "nobody", &msg, 10),
                     ORCS_ENOTFOUND);
    assert_int_equal(orcs_client_send(f->client, "echo@elsewhere", &msg, 10),
                     ORCS_EUNSUPPORTED);
    assert_int_equal(orcs_client_send(f->client, "", &msg, 10), ORCS_EINVAL);
    assert_int_equal(orcs_client_send(f->client, "@test", &msg, 10),
                     ORCS_EINVAL);
    assert_non_null(msg);
    orcs_msg_destroy(&msg);
    assert_int_equal(fixture_ping(f, "echo@test"), 1);
}

static void
test_actor_pool_spreads_messages(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 30; i++)
        assert_int_equal(fixture_ping(f, "pool"), 1);
    int busy = 0;
    for (int i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "pool#%d", i);
        busy += fixture_field(f, name, "msgs_in") > 0;
    }
    assert_true(busy >= 2);
    assert_int_equal(fixture_ping(f, "pool#2"), 1);
    // A member named with its node: its own place is reserved and given
    // back (the pool's depth counter is not touched).
    for (int i = 0; i < 3; i++)
        assert_int_equal(fixture_ping(f, "pool#2@test"), 1);
    assert_int_equal(fixture_field(f, "pool#2", "mailbox_depth"), 0);
    assert_int_equal(fixture_field(f, "pool", "mailbox_depth"), 0);
    assert_int_equal(fixture_ping(f, "pool"), 1);
}

static void
test_actor_events_reach_subscribers(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(orcs_client_subscribe(f->client, "test."), ORCS_OK);
    // Subscriptions propagate asynchronously: publish until one arrives.
    orcs_msg_t *event = NULL;
    for (int i = 0; i < 200 && !event; i++) {
        json_t *reply = fixture_ask(
            f, "echo", "publish",
            json_pack("{s:s, s:i}", "topic", "test.hello", "n", i), NULL);
        json_decref(reply);
        orcs_msg_t *msg = NULL;
        while (!event && orcs_client_recv(f->client, 10, &msg) == ORCS_OK) {
            if (orcs_msg_kind_of(msg) == ORCS_MSG_EVENT)
                event = msg;
            else
                orcs_msg_destroy(&msg);
        }
    }
    assert_non_null(event);
    assert_string_equal(orcs_msg_topic(event), "test.hello");
    assert_string_equal(orcs_msg_from(event), "echo");
    const json_t *body = NULL;
    assert_int_equal(orcs_msg_body(event, &body), ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(body, "topic")),
                        "test.hello");
    orcs_msg_destroy(&event);
}

// Once orcs_client_subscribe returns, the very first event published on
// the prefix arrives (no retries), and its probes never show.
static void
test_actor_subscribe_returns_once_live(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 10; i++) {
        orcs_client_t *client = orcs_client_new(f->node);
        char prefix[32], topic[40];
        snprintf(prefix, sizeof prefix, "live.%d.", i);
        snprintf(topic, sizeof topic, "%sx", prefix);
        assert_int_equal(orcs_client_subscribe(client, prefix), ORCS_OK);
        json_t *reply = fixture_ask(f, "echo", "publish",
                                    json_pack("{s:s}", "topic", topic), NULL);
        json_decref(reply);
        orcs_msg_t *msg = NULL;
        assert_int_equal(orcs_client_recv(client, FIXTURE_WAIT_MS, &msg),
                         ORCS_OK);
        assert_int_equal(orcs_msg_kind_of(msg), ORCS_MSG_EVENT);
        assert_string_equal(orcs_msg_type(msg), "event");
        assert_string_equal(orcs_msg_topic(msg), topic);
        orcs_msg_destroy(&msg);
        orcs_client_destroy(&client);
    }
}

// A run's event goes out under "run.<run>.<event>"; whether anyone hears
// it follows the subscriptions; no run or a topic too long publishes
// nothing.
static void
test_actor_run_events(void **state)
{
    fixture_t *f = *state;
    orcs_client_t *client = orcs_client_new(f->node);
    assert_int_equal(orcs_client_subscribe(client, "run.r-7."), ORCS_OK);
    json_t *reply = fixture_ask(
        f, "echo", "publish",
        json_pack("{s:s, s:s}", "run", "r-7", "event", "x.done"), NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "published")),
                        "OK");
    assert_true(json_is_true(json_object_get(reply, "heard")));
    json_decref(reply);
    orcs_msg_t *msg = NULL;
    assert_int_equal(orcs_client_recv(client, FIXTURE_WAIT_MS, &msg), ORCS_OK);
    assert_string_equal(orcs_msg_topic(msg), "run.r-7.x.done");
    orcs_msg_destroy(&msg);
    // Another run: nobody listens.
    reply =
        fixture_ask(f, "echo", "publish",
                    json_pack("{s:s, s:s}", "run", "r-8", "event", "x"), NULL);
    assert_true(json_is_false(json_object_get(reply, "heard")));
    json_decref(reply);
    // No run: nothing to publish, and that is not an error.
    reply = fixture_ask(f, "echo", "publish",
                        json_pack("{s:s, s:s}", "run", "", "event", "x"), NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "published")),
                        "OK");
    assert_true(json_is_false(json_object_get(reply, "heard")));
    json_decref(reply);
    // A topic over ORCS_MSG_TOPIC_MAX.
    char event[ORCS_MSG_TOPIC_MAX + 1];
    memset(event, 'e', ORCS_MSG_TOPIC_MAX);
    event[ORCS_MSG_TOPIC_MAX] = '\0';
    reply = fixture_ask(f, "echo", "publish",
                        json_pack("{s:s, s:s}", "run", "r-7", "event", event),
                        NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "published")),
                        "ETOOBIG");
    assert_true(json_is_false(json_object_get(reply, "heard")));
    json_decref(reply);
    orcs_client_destroy(&client);
}

static void
s_send_frames(void *sock,
              const char *const *frames,
              const size_t *sizes,
              int count)
{
    for (int i = 0; i < count; i++)
        zmq_send(sock, frames[i], sizes[i], i + 1 < count ? ZMQ_SNDMORE : 0);
}

static void
test_actor_malformed_frames_are_counted_and_dropped(void **state)
{
    fixture_t *f = *state;
    json_int_t before = fixture_field(f, "link", "malformed");
    zsock_t *push = zsock_new_push(orcs__node_link_endpoint(f->node));
    assert_non_null(push);
    void *raw = zsock_resolve(push);
    static const char *const one[] = {"lonely frame"};
    static const size_t one_size[] = {12};
    s_send_frames(raw, one, one_size, 1);
    static const char *const garbage[] = {"\xff\xff\xff\xff", "\x93"};
    static const size_t garbage_size[] = {4, 1};
    s_send_frames(raw, garbage, garbage_size, 2);
    // A good header followed by two bodies.
    orcs_msg_t *msg = orcs_msg_new("ping");
    uint8_t header[ORCS_MSG_HEADER_MAX];
    snprintf(msg->env.to, sizeof msg->env.to, "echo");
    size_t n = orcs__envelope_encode(&msg->env, header, sizeof header);
    const char *three[] = {(const char *) header, "\xc0", "\xc0"};
    const size_t three_size[] = {n, 1, 1};
    s_send_frames(raw, three, three_size, 3);
    // A header of a future wire version.
    msg->env.version = 99;
    n = orcs__envelope_encode(&msg->env, header, sizeof header);
    const char *future[] = {(const char *) header, "\xc0"};
    const size_t future_size[] = {n, 1};
    s_send_frames(raw, future, future_size, 2);
    orcs_msg_destroy(&msg);
    assert_true(fixture_wait_field(f, "link", "malformed", before + 4));
    json_t *status = orcs_node_status(f->node);
    assert_true(json_integer_value(json_object_get(status, "malformed")) >= 4);
    json_decref(status);
    // A well-formed message through the same link still arrives.
    msg = orcs_msg_new("note");
    snprintf(msg->env.to, sizeof msg->env.to, "echo");
    snprintf(msg->env.from, sizeof msg->env.from, "outsider");
    json_int_t handled = fixture_field(f, "echo", "msgs_in");
    assert_int_equal(orcs__msg_send(msg, raw, 0), ORCS_OK);
    orcs_msg_destroy(&msg);
    assert_true(fixture_wait_field(f, "echo", "msgs_in", handled + 1));
    zsock_destroy(&push);
    assert_int_equal(fixture_ping(f, "echo"), 1);
}

static void
test_actor_control_endpoint_refuses_garbage(void **state)
{
    fixture_t *f = *state;
    json_int_t before = fixture_field(f, "status", "malformed");
    zsock_t *dealer = zsock_new_dealer(orcs_node_control_endpoint(f->node));
    assert_non_null(dealer);
    zstr_send(dealer, "not an envelope");
    assert_true(fixture_wait_field(f, "status", "malformed", before + 1));
    zsock_destroy(&dealer);
    json_t *reply = NULL;
    assert_int_equal(orcs_control_request(orcs_node_control_endpoint(f->node),
                                          "status", NULL, 5000, &reply),
                     ORCS_OK);
    assert_true(json_is_array(json_object_get(reply, "actors")));
    json_decref(reply);
    assert_int_equal(orcs_control_request(orcs_node_control_endpoint(f->node),
                                          "no-such-request", NULL, 5000,
                                          &reply),
                     ORCS_ENOTFOUND);
    json_decref(reply);
}

static void
test_actor_bad_body_reaches_receiver_as_error(void **state)
{
    fixture_t *f = *state;
    orcs_msg_t *msg = orcs_msg_new("anything");
    orcs_msg_set_body_raw(msg, "\xdd\xff\xff\xff\xff", 5); // array32 huge
    orcs_msg_t *reply = NULL;
    // echo cannot decode the body, so it does not answer; it stays alive.
    assert_int_equal(orcs_client_ask(f->client, "echo", &msg, 100, &reply),
                     ORCS_ETIMEDOUT);
    assert_null(reply);
    assert_int_equal(fixture_ping(f, "echo"), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actor_ask_gets_reply_with_body),
        cmocka_unit_test(test_actor_ask_inside_actor_gets_reply),
        cmocka_unit_test(test_actor_ask_timeout_arrives_as_message),
        cmocka_unit_test(test_actor_client_ask_times_out),
        cmocka_unit_test(test_actor_timers_fire_and_cancel),
        cmocka_unit_test(test_actor_timer_heap_matches_a_model),
        cmocka_unit_test(test_actor_reply_to_a_kept_address),
        cmocka_unit_test(test_actor_send_to_full_mailbox_fails_after_deadline),
        cmocka_unit_test(
            test_actor_burst_through_small_mailbox_arrives_in_order),
        cmocka_unit_test(test_actor_restart_keeps_rest_of_batch),
        cmocka_unit_test(test_actor_short_lived_clients_leave_little_behind),
        cmocka_unit_test(test_actor_works_without_spinning),
        cmocka_unit_test(test_actor_addresses),
        cmocka_unit_test(test_actor_pool_spreads_messages),
        cmocka_unit_test(test_actor_events_reach_subscribers),
        cmocka_unit_test(test_actor_subscribe_returns_once_live),
        cmocka_unit_test(test_actor_run_events),
        cmocka_unit_test(test_actor_malformed_frames_are_counted_and_dropped),
        cmocka_unit_test(test_actor_control_endpoint_refuses_garbage),
        cmocka_unit_test(test_actor_bad_body_reaches_receiver_as_error),
    };
    int failed =
        cmocka_run_group_tests_name("orcs_actor", tests, s_setup, s_teardown);
    orcs_runtime_shutdown();
    return failed;
}
