/*  actor.c — an actor's thread: its poll loop, sending, asks, timers,
    events and watched descriptors; and the blocking client for code that
    runs outside actors.
    SPDX-License-Identifier: MPL-2.0 */
#include "orcs/actor.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

// A cached connection to one address.
typedef struct {
    orcs__entry_t *entry;          // target (NULL: the uplink)
    unsigned generation;           // directory generation it was built for
    zsock_t *push;                 // PUSH connected to the target's endpoints
    orcs__header_cache_t tx_cache; // last header sent on this route
    orcs__batch_t batch;           // sent in this callback, not yet out
    bool dirty;                    // listed in the actor's dirty routes
} s_route_t;

#define S_DRAIN_BATCH   256 // messages handled per wake-up before polling
#define S_BATCH_WAIT_US 200 // a batch waits for later callbacks this long
#define S_AWAIT_SPIN    5   // spin_us times this while writes are pending

static void
s_route_destroy(void **item)
{
    s_route_t *route = *item;
    if (route) {
        zsock_destroy(&route->push);
        orcs__batch_free(&route->batch);
        free(route);
        *item = NULL;
    }
}

static void
s_sleep_us(int64_t us)
{
    struct timespec ts = {(time_t) (us / 1000000),
                          (long) (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

// Waits a little while a send cannot proceed: yields first, then sleeps
// longer the longer it has waited.
static void
s_backoff(int round)
{
    // A full mailbox usually drains within microseconds: yield (the
    // receiver may share this core) for about a millisecond before
    // sleeping, so a fast consumer is not slowed down by our naps.
    if (round < 2000)
        sched_yield();
    else
        s_sleep_us(round < 4000 ? 20 : 200);
}

// ---- batches
//
// Messages to a local actor's mailbox are gathered per route and go out
// as one frame before the actor sleeps, once the oldest has waited
// S_BATCH_WAIT_US while later callbacks ran, when a batch is full, or
// before the actor waits on a full mailbox (docs/architecture.md). Their
// mailbox places are reserved when they are sent, so bounds hold.

// Sends route's batch, waiting up to the send timeout when the socket
// would block. Messages that cannot go are logged and their places freed.
static void
s_batch_flush(orcs_actor_t *self, s_route_t *route)
{
    if (orcs__local_eligible(route->entry)) {
        zmq_msg_t frame;
        if (orcs__batch_frame(&route->batch, &frame) == ORCS_OK)
            orcs__local_push(route->entry, &frame);
        return;
    }
    unsigned count = route->batch.count;
    if (count == 0)
        return;
    void *socket = zsock_resolve(route->push);
    orcs_status rc = orcs__batch_send(&route->batch, socket, ZMQ_DONTWAIT);
    int64_t deadline = 0;
    for (int round = 0; rc == ORCS_EAGAIN; round++) {
        int64_t now = orcs_clock_mono_us();
        if (deadline == 0)
            deadline = now + (int64_t) self->send_timeout_ms * 1000;
        if (now >= deadline)
            break;
        s_backoff(round);
        rc = orcs__batch_send(&route->batch, socket, ZMQ_DONTWAIT);
    }
    if (rc == ORCS_OK)
        return;
    route->batch.size = 0;
    route->batch.count = 0;
    atomic_fetch_sub_explicit(&route->entry->queued, (int_fast64_t) count,
                              memory_order_relaxed);
    orcs_log_error("actor", "batch lost actor=%s to=%s messages=%u status=%s",
                   self->name, route->entry->name, count, orcs_status_name(rc));
}

// Sends every batch gathered in this callback.
static void
s_flush(orcs_actor_t *self)
{
    for (size_t i = 0; i < self->dirty_count; i++) {
        s_route_t *route = self->dirty[i];
        route->dirty = false;
        s_batch_flush(self, route);
    }
    self->dirty_count = 0;
}

// Sends the batches when the oldest has waited S_BATCH_WAIT_US: callbacks
// run back to back while messages are queued, and their sends share
// frames without holding an answer back for long.
static void
s_flush_late(orcs_actor_t *self)
{
    if (self->dirty_count
        && orcs_clock_mono_us() - self->dirty_since_us >= S_BATCH_WAIT_US)
        s_flush(self);
}

// Sends route's batch now and takes it off the dirty list (before the
// route is destroyed).
static void
s_route_flush(orcs_actor_t *self, s_route_t *route)
{
    if (!route->dirty)
        return;
    s_batch_flush(self, route);
    route->dirty = false;
    for (size_t i = 0; i < self->dirty_count; i++)
        if (self->dirty[i] == route) {
            self->dirty[i] = self->dirty[--self->dirty_count];
            break;
        }
}

// Adds msg to route's batch; sends the batch when it is full, at once from
// a client (it has no loop to send it later), and at once in a chain of
// asks to a local queue.
static orcs_status
s_batch_add(orcs_actor_t *self, s_route_t *route, orcs_msg_t *msg)
{
    orcs_status rc = orcs__batch_add(&route->batch, msg, &route->tx_cache);
    if (rc != ORCS_OK)
        return rc;
    if (!self->batching) {
        s_batch_flush(self, route);
        return ORCS_OK;
    }
    // In a chain of asks (neither side has anything else queued) the
    // message goes at once, and the receiver starts while this callback
    // goes on; with a backlog on either side, batches save the pushes.
    if (route->batch.count == 1 && orcs__local_eligible(route->entry)
        && atomic_load_explicit(&route->entry->queued, memory_order_relaxed)
               <= 1
        && (!self->entry
            || atomic_load_explicit(&self->entry->queued, memory_order_relaxed)
                   <= 0)) {
        s_batch_flush(self, route);
        return ORCS_OK;
    }
    if (!route->dirty) {
        if (self->dirty_count == self->dirty_alloc) {
            self->dirty_alloc = self->dirty_alloc ? 2 * self->dirty_alloc : 8;
            self->dirty = orcs_realloc(self->dirty,
                                       self->dirty_alloc * sizeof *self->dirty);
        }
        if (self->dirty_count == 0)
            self->dirty_since_us = orcs_clock_mono_us();
        self->dirty[self->dirty_count++] = route;
        route->dirty = true;
    }
    if (route->batch.count >= ORCS__BATCH_MAX
        || route->batch.size >= ORCS__BATCH_BYTES)
        s_route_flush(self, route);
    return ORCS_OK;
}

// True when msg may wait in a batch on route: a mailbox in this process
// that an actor thread reads, and a body that is not large.
static bool
s_batchable(orcs_actor_t *self, s_route_t *route, orcs_msg_t *msg)
{
    orcs__entry_t *entry = route->entry;
    if (!self->batching || !entry || entry->remote || entry->is_client
        || entry->is_pool)
        return false;
    size_t size = 0;
    orcs_msg_body_raw(msg, &size);
    return size <= ORCS__BATCH_BYTES / 4;
}

// ---- routing

static orcs_status
s_local_name(orcs_actor_t *self, const char *to, char *name, size_t size)
{
    const char *at = strchr(to, '@');
    size_t len = at ? (size_t) (at - to) : strlen(to);
    if (len == 0 || len >= size)
        return ORCS_EINVAL;
    if (at && strcmp(at + 1, orcs_node_name(self->node)) != 0) {
        // Links between nodes come with the distribution issue.
        return ORCS_EUNSUPPORTED;
    }
    memcpy(name, to, len);
    name[len] = 0;
    return ORCS_OK;
}

// Drops the routes whose target changed since they were built (a client
// that went away, an actor that restarted elsewhere): they are rebuilt on
// demand, and an actor that answers many short-lived clients does not keep
// a socket for each. Runs when the table has doubled since the last sweep.
static void
s_routes_sweep(orcs_actor_t *self)
{
    zlist_t *stale = zlist_new();
    zlist_autofree(stale);
    for (s_route_t *route = zhashx_first(self->routes); route;
         route = zhashx_next(self->routes))
        if (route->entry
            && atomic_load_explicit(&route->entry->generation,
                                    memory_order_acquire)
                   != route->generation)
            zlist_append(stale, (void *) zhashx_cursor(self->routes));
    for (char *name = zlist_first(stale); name; name = zlist_next(stale)) {
        s_route_t *route = zhashx_lookup(self->routes, name);
        s_route_flush(self, route);
        if (route == self->last_route)
            self->last_route = NULL;
        zhashx_delete(self->routes, name);
    }
    zlist_destroy(&stale);
    size_t size = zhashx_size(self->routes);
    self->routes_sweep_at = size < 32 ? 64 : 2 * size;
}

size_t
orcs__actor_route_count(orcs_actor_t *actor)
{
    return actor->routes ? zhashx_size(actor->routes) : 0;
}

static orcs_status
s_route_build(orcs_actor_t *self, const char *name, s_route_t **route_p)
{
    if (zhashx_size(self->routes) >= self->routes_sweep_at)
        s_routes_sweep(self);
    orcs__dir_t *dir = orcs__node_dir(self->node);
    orcs__entry_t *entry = orcs__dir_get(dir, name, false);
    zlist_t *endpoints = NULL;
    unsigned generation = 0;
    char uplink[160];
    if (!entry || entry->removed) {
        if (!orcs__dir_uplink(dir, uplink, sizeof uplink))
            return ORCS_ENOTFOUND;
        endpoints = zlist_new();
        zlist_autofree(endpoints);
        zlist_append(endpoints, uplink);
        entry = NULL;
    } else {
        generation = orcs__dir_endpoints(dir, entry, &endpoints);
        if (zlist_size(endpoints) == 0) {
            zlist_destroy(&endpoints);
            int state = atomic_load(&entry->state);
            if (state == ORCS__STATE_STOPPED && !entry->is_pool)
                return ORCS_ENOTFOUND;
            return ORCS_EAGAIN; // starting or restarting: wait for it
        }
    }
    s_route_t *route = orcs_calloc(1, sizeof *route);
    route->entry = entry;
    route->generation = generation;
    route->push = zsock_new(ZMQ_PUSH);
    zsock_set_linger(route->push, 0);
    zsock_set_sndhwm(route->push, entry ? entry->mailbox_bound : 1000);
    zsock_set_reconnect_ivl(route->push, 10);
    for (char *ep = zlist_first(endpoints); ep; ep = zlist_next(endpoints))
        zsock_connect(route->push, "%s", ep);
    zlist_destroy(&endpoints);
    zhashx_update(self->routes, name, route);
    *route_p = route;
    return ORCS_OK;
}

static orcs_status
s_route(orcs_actor_t *self, const char *name, s_route_t **route_p)
{
    // Most actors talk to the same peer many times in a row.
    s_route_t *route = self->last_route;
    if (!route || strcmp(self->last_route_name, name) != 0)
        route = zhashx_lookup(self->routes, name);
    if (route) {
        if (!route->entry
            || atomic_load_explicit(&route->entry->generation,
                                    memory_order_acquire)
                   == route->generation) {
            if (route != self->last_route) {
                self->last_route = route;
                snprintf(self->last_route_name, sizeof self->last_route_name,
                         "%s", name);
            }
            *route_p = route;
            return ORCS_OK;
        }
        self->last_route = NULL;
        s_route_flush(self, route);
        zhashx_delete(self->routes, name);
    }
    orcs_status rc = s_route_build(self, name, route_p);
    if (rc == ORCS_OK) {
        self->last_route = *route_p;
        snprintf(self->last_route_name, sizeof self->last_route_name, "%s",
                 name);
    }
    return rc;
}

// The depth counter of the mailbox a message is addressed to; NULL for
// mailboxes in other processes (their receivers cannot count down here).
static atomic_int_fast64_t *
s_queue_counter(orcs__entry_t *entry)
{
    return entry && !entry->remote ? &entry->queued : NULL;
}

static orcs_status
s_deliver(orcs_actor_t *self,
          const char *to,
          orcs_msg_t **msg_p,
          int timeout_ms,
          bool forward)
{
    orcs_msg_t *msg = *msg_p;
    char name[ORCS_MSG_ADDRESS_MAX + 1];
    orcs_status rc = s_local_name(self, to, name, sizeof name);
    if (rc != ORCS_OK)
        return rc;
    if (!forward) {
        if (orcs__field_set(msg->env.to, sizeof msg->env.to, to) != ORCS_OK)
            return ORCS_EINVAL;
        memcpy(msg->env.from, self->name, strlen(self->name) + 1);
        msg->env.incarnation = self->incarnation;
    }
    msg->env.version = ORCS_WIRE_VERSION;
    int64_t deadline = 0;
    bool full = false;
    for (int round = 0;; round++) {
        s_route_t *route = NULL;
        rc = s_route(self, name, &route);
        if (rc == ORCS_OK) {
            // Reserve a place first (one atomic add), so concurrent senders
            // never push the mailbox past its bound.
            atomic_int_fast64_t *queued = s_queue_counter(route->entry);
            if (queued
                && atomic_fetch_add_explicit(queued, 1, memory_order_relaxed)
                       >= route->entry->mailbox_bound)
                rc = ORCS_EAGAIN;
            else if (orcs__local_eligible(route->entry)
                     || s_batchable(self, route, msg))
                rc = s_batch_add(self, route, msg);
            else {
                s_route_flush(self, route); // keep the order
                rc = orcs__msg_send_cached(msg, zsock_resolve(route->push),
                                           ZMQ_DONTWAIT, &route->tx_cache);
            }
            if (rc == ORCS_OK) {
                if (self->entry)
                    atomic_store_explicit(
                        &self->entry->msgs_out,
                        atomic_load_explicit(&self->entry->msgs_out,
                                             memory_order_relaxed)
                            + 1,
                        memory_order_relaxed);
                orcs_msg_destroy(msg_p);
                return ORCS_OK;
            }
            if (queued)
                atomic_fetch_sub_explicit(queued, 1, memory_order_relaxed);
            full = true;
        }
        if (rc != ORCS_EAGAIN)
            return rc;
        int64_t now = orcs_clock_mono_us();
        if (deadline == 0) {
            int64_t wait_us = (int64_t) timeout_ms * 1000;
            if (msg->env.deadline_us > 0) {
                int64_t left = msg->env.deadline_us - orcs_clock_wall_us();
                wait_us = left > 0 ? left : 0;
            }
            deadline = now + wait_us;
        }
        if (now >= deadline)
            return full ? ORCS_EFULL : ORCS_ETIMEDOUT;
        s_flush(self); // our own batches may be what fills the mailbox
        s_backoff(round);
    }
}

static orcs_status
s_send(orcs_actor_t *self, const char *to, orcs_msg_t **msg_p, int timeout_ms)
{
    return s_deliver(self, to, msg_p, timeout_ms, false);
}

orcs_status
orcs__actor_forward(orcs_actor_t *self, orcs_msg_t **msg_p)
{
    char to[sizeof(*msg_p)->env.to];
    memcpy(to, (*msg_p)->env.to, sizeof to);
    return s_deliver(self, to, msg_p, self->send_timeout_ms, true);
}

orcs_status
orcs_actor_send(orcs_actor_t *self, const char *to, orcs_msg_t **msg_p)
{
    orcs_assert(self && to && msg_p && *msg_p);
    (*msg_p)->env.kind = ORCS_MSG_SEND;
    (*msg_p)->env.correlation_id = 0;
    return s_send(self, to, msg_p, self->send_timeout_ms);
}

orcs_status
orcs_actor_ask(orcs_actor_t *self,
               const char *to,
               orcs_msg_t **msg_p,
               int timeout_ms,
               uint64_t *correlation_id_p)
{
    orcs_assert(self && to && msg_p && *msg_p);
    orcs_msg_t *msg = *msg_p;
    uint64_t id = ++self->next_id;
    msg->env.kind = ORCS_MSG_ASK;
    msg->env.correlation_id = id;
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (msg->env.deadline_us == 0)
        msg->env.deadline_us =
            orcs_clock_wall_us() + (int64_t) timeout_ms * 1000;
    char type[ORCS_MSG_TYPE_MAX + 1];
    memcpy(type, msg->env.type, sizeof type);
    orcs_status rc = s_send(self, to, msg_p, timeout_ms);
    if (rc != ORCS_OK)
        return rc;
    if (!self->is_client) {
        orcs__timer_t *timer = orcs__timers_add(
            self->timers, id,
            orcs_clock_mono_us() + (int64_t) timeout_ms * 1000, 0);
        timer->is_ask = true;
        memcpy(timer->type, type, sizeof timer->type);
    }
    if (correlation_id_p)
        *correlation_id_p = id;
    return ORCS_OK;
}

// Sends *reply_p as the answer to an ask from `from`.
static orcs_status
s_reply(orcs_actor_t *self,
        const char *from,
        uint64_t correlation_id,
        const char *type,
        const char *run_id,
        int64_t deadline_us,
        orcs_msg_t **reply_p)
{
    orcs_msg_t *reply = *reply_p;
    reply->env.kind = ORCS_MSG_REPLY;
    reply->env.correlation_id = correlation_id;
    if (!reply->env.type[0])
        snprintf(reply->env.type, sizeof reply->env.type, "%s", type);
    if (!reply->env.run_id[0])
        snprintf(reply->env.run_id, sizeof reply->env.run_id, "%s", run_id);
    reply->env.deadline_us = deadline_us;
    return s_send(self, from, reply_p, self->send_timeout_ms);
}

orcs_status
orcs_actor_reply(orcs_actor_t *self,
                 const orcs_msg_t *request,
                 orcs_msg_t **reply_p)
{
    orcs_assert(self && request && reply_p && *reply_p);
    if (request->env.kind != ORCS_MSG_ASK || !request->env.from[0])
        return ORCS_EINVAL;
    return s_reply(self, request->env.from, request->env.correlation_id,
                   request->env.type, request->env.run_id,
                   request->env.deadline_us, reply_p);
}

struct orcs_reply_to_t {
    uint64_t correlation_id; // of the ask
    int64_t deadline_us;     // the ask's deadline (0 = none)
    const char *type;        // the ask's type (in the same allocation)
    const char *run_id;      // the ask's run id (likewise)
    char from[];             // the asker's address, then type and run id
};

orcs_reply_to_t *
orcs_reply_to_new(const orcs_msg_t *msg)
{
    orcs_assert(msg);
    if (msg->env.kind != ORCS_MSG_ASK || !msg->env.from[0])
        return NULL;
    size_t from = strlen(msg->env.from) + 1;
    size_t type = strlen(msg->env.type) + 1;
    size_t run_id = strlen(msg->env.run_id) + 1;
    orcs_reply_to_t *self = orcs_malloc(sizeof *self + from + type + run_id);
    self->correlation_id = msg->env.correlation_id;
    self->deadline_us = msg->env.deadline_us;
    memcpy(self->from, msg->env.from, from);
    char *at = self->from + from;
    memcpy(at, msg->env.type, type);
    self->type = at;
    memcpy(at + type, msg->env.run_id, run_id);
    self->run_id = at + type;
    return self;
}

void
orcs_reply_to_destroy(orcs_reply_to_t **self_p)
{
    if (self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

const char *
orcs_reply_to_address(const orcs_reply_to_t *self)
{
    return self->from;
}

orcs_status
orcs_actor_reply_to(orcs_actor_t *self,
                    const orcs_reply_to_t *to,
                    orcs_msg_t **reply_p)
{
    orcs_assert(self && to && reply_p && *reply_p);
    return s_reply(self, to->from, to->correlation_id, to->type, to->run_id,
                   to->deadline_us, reply_p);
}

// ---- timers

orcs_status
orcs_actor_timer_start(orcs_actor_t *self,
                       int delay_ms,
                       int interval_ms,
                       void *arg,
                       uint64_t *timer_id_p)
{
    orcs_assert(self && !self->is_client);
    if (delay_ms < 0 || interval_ms < 0)
        return ORCS_EINVAL;
    uint64_t id = ++self->next_id;
    orcs__timer_t *timer = orcs__timers_add(
        self->timers, id, orcs_clock_mono_us() + (int64_t) delay_ms * 1000,
        (int64_t) interval_ms * 1000);
    timer->arg = arg;
    if (timer_id_p)
        *timer_id_p = id;
    return ORCS_OK;
}

orcs_status
orcs_actor_timer_cancel(orcs_actor_t *self, uint64_t timer_id)
{
    orcs__timer_t *timer = orcs__timers_find(self->timers, timer_id);
    if (!timer || timer->is_ask)
        return ORCS_ENOTFOUND;
    orcs__timers_remove(self->timers, timer);
    return ORCS_OK;
}

// ---- events

// Connects the actor's PUB socket to the bus. A PUB drops what it sends
// before the bus's subscriptions reach it, so actors connect when they
// start, long before their first event, not at that event.
static void
s_pub_open(orcs_actor_t *self)
{
    if (!self->pub) {
        self->pub = zsock_new(ZMQ_PUB);
        zsock_set_linger(self->pub, 0);
        zsock_connect(self->pub, "%s", orcs__node_bus_in(self->node));
    }
}

// The type of the event orcs_client_subscribe publishes to learn that its
// subscription is live; receivers drop it (s_recv_event).
#define S_PROBE_TYPE    "$subscribed"
#define S_PROBE_WAIT_MS 2000 // then events may still be lost, as before

static orcs_status
s_publish(orcs_actor_t *self,
          const char *topic,
          const char *type,
          json_t **body_p)
{
    s_pub_open(self);
    orcs_msg_t *msg = orcs_msg_new(type);
    msg->env.kind = ORCS_MSG_EVENT;
    orcs_msg_set_topic(msg, topic);
    memcpy(msg->env.from, self->name, strlen(self->name) + 1);
    msg->env.incarnation = self->incarnation;
    orcs_msg_set_body(msg, body_p);
    void *pub = zsock_resolve(self->pub);
    // Take in the subscriptions that came since the last send first: a
    // send handles the socket's commands only every so often (libzmq
    // throttles that), and a subscription not yet taken in drops the
    // event. Asking for ZMQ_EVENTS handles them at once.
    int events = 0;
    size_t events_size = sizeof events;
    zmq_getsockopt(pub, ZMQ_EVENTS, &events, &events_size);
    orcs_status rc = ORCS_OK;
    if (zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        rc = orcs__msg_send(msg, pub, 0);
    orcs_msg_destroy(&msg);
    return rc == ORCS_EAGAIN ? ORCS_OK : rc; // pub/sub drops under load
}

orcs_status
orcs_actor_publish(orcs_actor_t *self, const char *topic, json_t **body_p)
{
    orcs_assert(self && topic);
    if (strlen(topic) > ORCS_MSG_TOPIC_MAX) {
        if (body_p) {
            json_decref(*body_p);
            *body_p = NULL;
        }
        return ORCS_ETOOBIG;
    }
    if (!orcs__node_has_subscriber(self->node, topic)) {
        if (body_p) {
            json_decref(*body_p); // nobody listens: skip the encoding
            *body_p = NULL;
        }
        return ORCS_OK;
    }
    return s_publish(self, topic, "event", body_p);
}

bool
orcs_actor_heard(const orcs_actor_t *self, const char *topic)
{
    orcs_assert(self && topic);
    return orcs__node_has_subscriber(self->node, topic);
}

bool
orcs_actor_run_heard(const orcs_actor_t *self,
                     const char *run,
                     const char *event)
{
    char topic[ORCS_MSG_TOPIC_MAX + 1];
    return orcs_msg_run_topic(topic, run, event)
           && orcs_actor_heard(self, topic);
}

orcs_status
orcs_actor_run_publish(orcs_actor_t *self,
                       const char *run,
                       const char *event,
                       json_t **body_p)
{
    char topic[ORCS_MSG_TOPIC_MAX + 1];
    if (orcs_msg_run_topic(topic, run, event))
        return orcs_actor_publish(self, topic, body_p);
    if (body_p) {
        json_decref(*body_p);
        *body_p = NULL;
    }
    return run[0] ? ORCS_ETOOBIG : ORCS_OK;
}

orcs_status
orcs_actor_subscribe(orcs_actor_t *self, const char *prefix)
{
    orcs_assert(self && prefix);
    if (!self->sub) {
        self->sub = zsock_new(ZMQ_SUB);
        zsock_set_linger(self->sub, 0);
        zsock_set_rcvhwm(self->sub, 100000);
        zsock_connect(self->sub, "%s", orcs__node_bus_out(self->node));
    }
    zsock_set_subscribe(self->sub, prefix);
    if (!self->sub_prefixes)
        self->sub_prefixes = zlist_new();
    zlist_append(self->sub_prefixes, orcs_strdup(prefix));
    orcs__node_sub_add(self->node, prefix);
    return ORCS_OK;
}

// The next event, or ORCS_EAGAIN. Subscription probes are dropped here; a
// client's own marks its subscription live.
static orcs_status
s_recv_event(orcs_actor_t *self, orcs_msg_t **msg_p)
{
    void *sub = zsock_resolve(self->sub);
    for (;;) {
        zmq_msg_t topic;
        zmq_msg_init(&topic);
        *msg_p = NULL;
        if (zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return ORCS_EAGAIN;
        }
        bool more = zmq_msg_more(&topic);
        zmq_msg_close(&topic);
        if (!more)
            return ORCS_EPROTO;
        orcs_status rc = orcs__msg_recv(sub, 0, msg_p);
        if (rc != ORCS_OK || strcmp((*msg_p)->env.type, S_PROBE_TYPE) != 0)
            return rc;
        if (strcmp((*msg_p)->env.from, self->name) == 0)
            self->probe_seen = true;
        orcs_msg_destroy(msg_p);
    }
}

// ---- watched descriptors

static orcs_status
s_watch_add(orcs_actor_t *self,
            int fd,
            void *socket,
            short events,
            orcs_actor_watch_fn *fn,
            void *arg)
{
    for (size_t i = 0; i < self->watch_count; i++)
        if (self->watches[i].fd == fd && self->watches[i].socket == socket)
            return ORCS_EEXIST;
    if (self->watch_count == self->watch_alloc) {
        self->watch_alloc = self->watch_alloc ? self->watch_alloc * 2 : 8;
        self->watches = orcs_realloc(self->watches,
                                     self->watch_alloc * sizeof *self->watches);
    }
    self->watches[self->watch_count++] =
        (orcs__watch_t){fd, socket, events, fn, arg};
    return ORCS_OK;
}

orcs_status
orcs_actor_watch(orcs_actor_t *self,
                 int fd,
                 short events,
                 orcs_actor_watch_fn *fn,
                 void *arg)
{
    orcs_assert(self && fn && fd >= 0);
    return s_watch_add(self, fd, NULL, events, fn, arg);
}

orcs_status
orcs__actor_watch_socket(orcs_actor_t *self,
                         void *socket,
                         orcs_actor_watch_fn *fn,
                         void *arg)
{
    return s_watch_add(self, -1, socket, ZMQ_POLLIN, fn, arg);
}

orcs_status
orcs_actor_unwatch(orcs_actor_t *self, int fd)
{
    for (size_t i = 0; i < self->watch_count; i++) {
        if (self->watches[i].fd == fd && !self->watches[i].socket) {
            self->watches[i] = self->watches[--self->watch_count];
            return ORCS_OK;
        }
    }
    return ORCS_ENOTFOUND;
}

// ---- lifecycle inside the thread

void
orcs_actor_fail(orcs_actor_t *self, orcs_status status, const char *reason)
{
    orcs_assert(self && status != ORCS_OK);
    if (self->stop && self->exit_status != ORCS_OK)
        return; // keep the first failure
    self->stop = true;
    self->exit_status = status;
    snprintf(self->exit_reason, sizeof self->exit_reason, "%s",
             reason ? reason : orcs_status_str(status));
}

void
orcs_actor_stop(orcs_actor_t *self)
{
    orcs_assert(self);
    if (!self->stop) {
        self->stop = true;
        self->exit_status = ORCS_OK;
    }
}

const char *
orcs_actor_name(const orcs_actor_t *self)
{
    return self->name;
}

orcs_node_t *
orcs_actor_node(const orcs_actor_t *self)
{
    return self->node;
}

uint32_t
orcs_actor_incarnation(const orcs_actor_t *self)
{
    return self->incarnation;
}

static void
s_busy(orcs_actor_t *self)
{
    uint64_t seq = atomic_load_explicit(&self->busy_seq, memory_order_relaxed);
    atomic_store_explicit(&self->busy_seq, seq + 1, memory_order_relaxed);
}

static void
s_callback_failed(orcs_actor_t *self, const char *what, orcs_status rc)
{
    char reason[128];
    snprintf(reason, sizeof reason, "%s callback returned %s", what,
             orcs_status_name(rc));
    orcs_actor_fail(self, rc, reason);
}

static void
s_dispatch(orcs_actor_t *self, orcs_msg_t *msg)
{
    if (msg->env.kind == ORCS_MSG_REPLY) {
        orcs__timer_t *pending =
            orcs__timers_find(self->timers, msg->env.correlation_id);
        if (!pending || !pending->is_ask) {
            orcs_log_debug("actor", "late reply dropped actor=%s id=%llu",
                           self->name,
                           (unsigned long long) msg->env.correlation_id);
            orcs_msg_destroy(&msg);
            return;
        }
        orcs__timers_remove(self->timers, pending);
    }
    s_busy(self);
    orcs_status rc = self->def->receive(self, self->state, &msg);
    s_busy(self);
    s_flush_late(self);
    orcs__msg_recycle(&msg, &self->spare);
    if (rc != ORCS_OK)
        s_callback_failed(self, "receive", rc);
}

static void
s_count_in(orcs_actor_t *self, orcs_msg_t *msg, uint64_t *msgs_in)
{
    orcs__entry_t *entry = self->entry;
    orcs__entry_t *target = entry;
    if (entry->pool) {
        // Addressed to the pool, or to this member (with or without
        // "@node"): the place was reserved on what the name resolved to.
        const char *to = msg->env.to;
        const char *at = strchr(to, '@');
        size_t len = at ? (size_t) (at - to) : strlen(to);
        if (len != strlen(self->name) || memcmp(to, self->name, len) != 0)
            target = entry->pool;
    }
    atomic_fetch_sub_explicit(&target->queued, 1, memory_order_relaxed);
    atomic_store_explicit(&entry->msgs_in, ++*msgs_in, memory_order_relaxed);
}

// Handles one message taken from the mailbox or the local queue (rc what
// taking it returned): a bad one is counted, a good one dispatched.
static void
s_take(orcs_actor_t *self, orcs_status rc, orcs_msg_t *msg, uint64_t *msgs_in)
{
    if (rc != ORCS_OK) {
        orcs__malformed(self->node, self->entry, self->name, rc);
        return;
    }
    s_count_in(self, msg, msgs_in);
    s_dispatch(self, msg);
}

// Returns true when the mailbox was read to EAGAIN (it is idle: its
// ZMQ_FD fires on the next message).
static bool
s_drain_mailbox(orcs_actor_t *self, uint64_t *msgs_in)
{
    bool idle = false;
    for (int i = 0; i < S_DRAIN_BATCH && !self->stop; i++) {
        orcs_msg_t *msg = NULL;
        orcs_status rc = orcs__msg_recv_cached(self->mailbox_raw, ZMQ_DONTWAIT,
                                               &self->rx_cache, &self->spare,
                                               self->rx_batch, &msg);
        if (rc == ORCS_EAGAIN || rc == ORCS_ECLOSED) {
            idle = true;
            break;
        }
        s_take(self, rc, msg, msgs_in);
    }
    // A batch half read is not visible to the socket's poll: keep going.
    return idle && !self->rx_batch->active;
}

// Handles what waits on the actor's local queue (local.c): its frames
// are split and decoded as the mailbox's are. Returns true when it
// handled something. An incarnation that was given up on leaves the
// queue to the next one.
static bool
s_drain_local(orcs_actor_t *self, uint64_t *msgs_in)
{
    orcs__entry_t *entry = self->entry;
    if (atomic_load_explicit(&entry->incarnation, memory_order_relaxed)
        != self->incarnation)
        return false;
    bool any = false;
    for (int i = 0; i < S_DRAIN_BATCH && !self->stop; i++) {
        orcs_msg_t *msg = NULL;
        orcs_status rc;
        if (self->rx_batch->active) // a batch is split first
            rc = orcs__msg_recv_cached(self->mailbox_raw, ZMQ_DONTWAIT,
                                       &self->rx_cache, &self->spare,
                                       self->rx_batch, &msg);
        else {
            zmq_msg_t frame;
            if (!orcs__local_pop(entry, &frame))
                break;
            rc = orcs__msg_recv_frame(&frame, &self->rx_cache, &self->spare,
                                      self->rx_batch, &msg);
            zmq_msg_close(&frame);
        }
        any = true;
        s_take(self, rc, msg, msgs_in);
    }
    return any;
}

static void
s_drain_events(orcs_actor_t *self)
{
    for (int i = 0; i < S_DRAIN_BATCH && !self->stop; i++) {
        orcs_msg_t *msg = NULL;
        orcs_status rc = s_recv_event(self, &msg);
        if (rc == ORCS_EAGAIN)
            return;
        if (rc != ORCS_OK) {
            orcs__malformed(self->node, self->entry, "bus", rc);
            continue;
        }
        s_dispatch(self, msg);
    }
}

static void
s_fire_timers(orcs_actor_t *self)
{
    int64_t now = orcs_clock_mono_us();
    orcs__timer_t *timer;
    while (!self->stop && (timer = orcs__timers_first(self->timers))
           && timer->due_us <= now) {
        uint64_t id = timer->id;
        if (timer->is_ask) {
            orcs_msg_t *msg = orcs_msg_new(timer->type);
            msg->env.kind = ORCS_MSG_TIMEOUT;
            msg->env.correlation_id = id;
            msg->env.status = ORCS_ETIMEDOUT;
            orcs__timers_remove(self->timers, timer);
            s_dispatch(self, msg);
            continue;
        }
        void *arg = timer->arg;
        if (timer->interval_us > 0)
            orcs__timers_reschedule(self->timers, timer,
                                    now + timer->interval_us);
        else
            orcs__timers_remove(self->timers, timer);
        if (!self->def->timer)
            continue;
        s_busy(self);
        orcs_status rc = self->def->timer(self, self->state, id, arg);
        s_busy(self);
        s_flush_late(self);
        if (rc != ORCS_OK)
            s_callback_failed(self, "timer", rc);
    }
}

static long
s_poll_timeout_ms(orcs_actor_t *self)
{
    orcs__timer_t *timer = orcs__timers_first(self->timers);
    if (!timer)
        return -1;
    int64_t left = timer->due_us - orcs_clock_mono_us();
    if (left <= 0)
        return 0;
    return (long) ((left + 999) / 1000);
}

// zmq_poll without its extra system calls. zmq_poll makes a zero-timeout
// pass first and asks every socket for ZMQ_EVENTS before and after
// sleeping; each ZMQ_EVENTS is a poll(2) inside libzmq. Here a socket known
// to be idle (read to EAGAIN, so its edge-triggered ZMQ_FD fires on the
// next activation) is not asked before sleeping, and sockets in [1, lazy)
// whose fd fired are reported readable without asking: their drain reads
// them with ZMQ_DONTWAIT and finds out. idle[i] is updated.
static int
s_wait(zmq_pollitem_t *items, bool *idle, int lazy, int count, long timeout_ms)
{
    struct pollfd fds[count];
    int ready = 0;
    for (int i = 0; i < count; i++) {
        items[i].revents = 0;
        fds[i] = (struct pollfd){items[i].fd, 0, 0};
        if (!items[i].socket) {
            if (items[i].events & ZMQ_POLLIN)
                fds[i].events |= POLLIN;
            if (items[i].events & ZMQ_POLLOUT)
                fds[i].events |= POLLOUT;
            continue;
        }
        size_t size = sizeof fds[i].fd;
        zmq_getsockopt(items[i].socket, ZMQ_FD, &fds[i].fd, &size);
        fds[i].events = POLLIN;
        if (idle[i])
            continue;
        uint32_t events = 0;
        size = sizeof events;
        zmq_getsockopt(items[i].socket, ZMQ_EVENTS, &events, &size);
        items[i].revents = (short) (events & (uint32_t) items[i].events);
        if (items[i].revents)
            ready++;
        else
            idle[i] = true;
    }
    if (ready)
        return ready;
    int rc = poll(fds, (nfds_t) count, (int) timeout_ms);
    if (rc <= 0)
        return rc;
    for (int i = 0; i < count; i++) {
        if (!fds[i].revents)
            continue;
        if (items[i].socket && i >= 1 && i < lazy) {
            idle[i] = false;
            items[i].revents = ZMQ_POLLIN;
        } else if (items[i].socket) {
            uint32_t events = 0;
            size_t size = sizeof events;
            zmq_getsockopt(items[i].socket, ZMQ_EVENTS, &events, &size);
            items[i].revents = (short) (events & (uint32_t) items[i].events);
            idle[i] = !items[i].revents;
            if (!items[i].revents)
                continue;
        } else {
            if (fds[i].revents & POLLIN)
                items[i].revents |= ZMQ_POLLIN;
            if (fds[i].revents & POLLOUT)
                items[i].revents |= ZMQ_POLLOUT;
            if (fds[i].revents & ~(POLLIN | POLLOUT))
                items[i].revents |= ZMQ_POLLERR;
        }
        ready++;
    }
    return ready;
}

// True when a local sender has put a message in the actor's mailbox (or
// its pool's) that it has not handled yet.
static bool
s_mail_waiting(orcs_actor_t *self)
{
    orcs__entry_t *entry = self->entry;
    return atomic_load_explicit(&entry->queued, memory_order_relaxed) > 0
           || (entry->pool
               && atomic_load_explicit(&entry->pool->queued,
                                       memory_order_relaxed)
                      > 0);
}

// Before sleeping right after work, watches the mailbox's counter for up
// to limits.spin_us (yielding the CPU to anyone who wants it). In a chain of
// asks the answer usually comes back within microseconds, and taking it
// without going to sleep saves the wake-up, which costs more than the
// message on a virtual machine. An idle actor does not spin.
static void
s_spin(orcs_actor_t *self, const zmq_pollitem_t *items, size_t base, size_t n)
{
    if (self->spin_us <= 0)
        return;
    int64_t now = orcs_clock_mono_us();
    // Waiting for its own store writes, the actor knows a wake-up is
    // coming: it watches longer (a synced commit takes a few hundred us).
    int64_t window = self->spin_us;
    if (self->awaiting > 0)
        window *= S_AWAIT_SPIN;
    int64_t until = self->active_at_us + window;
    if (now >= until)
        return;
    orcs__timer_t *timer = orcs__timers_first(self->timers);
    if (timer && timer->due_us < until)
        until = timer->due_us;
    // A thread that wakes us through a watched fd bumps nudges first: a
    // change ends the watch. One look at the fds covers what came before.
    atomic_uint_fast64_t *nudges = &self->entry->nudges;
    uint_fast64_t seen = atomic_load_explicit(nudges, memory_order_acquire);
    if (n > base) {
        struct pollfd fds[n - base];
        for (size_t i = base; i < n; i++) {
            short events = 0;
            if (items[i].events & ZMQ_POLLIN)
                events |= POLLIN;
            if (items[i].events & ZMQ_POLLOUT)
                events |= POLLOUT;
            fds[i - base] = (struct pollfd){items[i].fd, events, 0};
            if (items[i].socket) {
                size_t size = sizeof fds[i - base].fd;
                zmq_getsockopt(items[i].socket, ZMQ_FD, &fds[i - base].fd,
                               &size);
            }
        }
        if (poll(fds, (nfds_t) (n - base), 0) != 0)
            return;
    }
    while (now < until && !s_mail_waiting(self)
           && atomic_load_explicit(nudges, memory_order_acquire) == seen) {
        sched_yield();
        now = orcs_clock_mono_us();
    }
}

atomic_uint_fast64_t *
orcs__actor_nudges(orcs_actor_t *actor)
{
    return &actor->entry->nudges;
}

void
orcs__actor_awaiting_add(orcs_actor_t *actor, int delta)
{
    actor->awaiting += delta;
}

// Runs the loop until the actor stops or $TERM arrives. Returns true when
// $TERM ended it.
static bool
s_loop(orcs_actor_t *self, zsock_t *pipe)
{
    zmq_pollitem_t *items = NULL;
    size_t items_alloc = 0;
    uint64_t msgs_in = atomic_load(&self->entry->msgs_in);
    bool terminated = false;
    bool pipe_idle = false, mailbox_idle = false, sub_idle = false;
    bool local = self->entry->local_fd >= 0;
    while (!self->stop && !terminated) {
        size_t n =
            2 + (local ? 1 : 0) + (self->sub ? 1 : 0) + self->watch_count;
        if (n > items_alloc) {
            items_alloc = n + 8;
            items = orcs_realloc(items, items_alloc * sizeof *items);
        }
        items[0] = (zmq_pollitem_t){zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
        items[1] = (zmq_pollitem_t){self->mailbox_raw, 0, ZMQ_POLLIN, 0};
        size_t base = 2;
        size_t local_at = base;
        if (local)
            items[base++] =
                (zmq_pollitem_t){NULL, self->entry->local_fd, ZMQ_POLLIN, 0};
        size_t sub_at = base;
        if (self->sub)
            items[base++] =
                (zmq_pollitem_t){zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0};
        size_t watch_count = self->watch_count;
        for (size_t i = 0; i < watch_count; i++) {
            orcs__watch_t *w = &self->watches[i];
            items[base + i] = (zmq_pollitem_t){w->socket, w->fd, w->events, 0};
        }
        bool idle[n];
        idle[0] = pipe_idle;
        idle[1] = mailbox_idle;
        if (local)
            idle[local_at] = false;
        if (self->sub)
            idle[sub_at] = sub_idle;
        for (size_t i = base; i < n; i++)
            idle[i] = false;
        s_flush(self); // before sleeping, everything goes out
        // Messages left in a batch are not seen by the socket's poll.
        bool batch_left = self->rx_batch->active;
        if (!batch_left && mailbox_idle)
            s_spin(self, items, base, n);
        long timeout = batch_left ? 0 : s_poll_timeout_ms(self);
        // Marked asleep, the actor is woken by the next local push.
        if (local && timeout != 0 && orcs__local_arm(self->entry))
            timeout = 0;
        int rc = s_wait(items, idle, (int) base, (int) (base + watch_count),
                        timeout);
        if (batch_left && rc >= 0) {
            if (!items[1].revents)
                rc++;
            items[1].revents |= ZMQ_POLLIN;
        }
        pipe_idle = idle[0];
        mailbox_idle = idle[1];
        sub_idle = self->sub ? idle[sub_at] : true;
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue;
            orcs_actor_fail(self, ORCS_EINTERNAL, "poll failed");
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            if (!command || strcmp(command, "$TERM") == 0)
                terminated = true;
            zstr_free(&command);
            if (terminated)
                break;
            pipe_idle = false;
        }
        if (items[1].revents & ZMQ_POLLIN)
            mailbox_idle = s_drain_mailbox(self, &msgs_in);
        if (local) {
            if (items[local_at].revents & ZMQ_POLLIN)
                orcs__local_clear_wakeup(self->entry);
            if (!self->stop && s_drain_local(self, &msgs_in) && rc == 0)
                rc = 1;
        }
        if (self->sub && !self->stop && (items[sub_at].revents & ZMQ_POLLIN)) {
            s_drain_events(self);
            sub_idle = false;
        }
        // Watches may change inside callbacks: match by fd and socket.
        for (size_t i = 0; i < watch_count && !self->stop; i++) {
            short revents = items[base + i].revents;
            if (!revents)
                continue;
            for (size_t j = 0; j < self->watch_count; j++) {
                orcs__watch_t w = self->watches[j];
                if (w.fd != items[base + i].fd
                    || w.socket != items[base + i].socket)
                    continue;
                s_busy(self);
                orcs_status status =
                    w.fn(self, self->state, w.fd, revents, w.arg);
                s_busy(self);
                s_flush_late(self);
                if (status != ORCS_OK)
                    s_callback_failed(self, "watch", status);
                break;
            }
        }
        s_fire_timers(self);
        if (rc > 0)
            self->active_at_us = orcs_clock_mono_us();
        if (atomic_load(&self->abandoned))
            break;
    }
    free(items);
    return terminated;
}

static void
s_release(orcs_actor_t **self_p)
{
    orcs_actor_t *self = *self_p;
    *self_p = NULL;
    if (atomic_fetch_sub(&self->refs, 1) != 1)
        return;
    if (self->rx_batch_own) {
        orcs__rx_batch_close(self->rx_batch);
        free(self->rx_batch);
    }
    json_decref(self->config);
    free(self);
}

static void
s_close_sockets(orcs_actor_t *self)
{
    s_flush(self);
    free(self->dirty);
    self->dirty = NULL;
    self->dirty_alloc = 0;
    zhashx_destroy(&self->routes);
    self->last_route = NULL;
    orcs_msg_destroy(&self->spare);
    zsock_destroy(&self->pub);
    zsock_destroy(&self->sub);
    char *prefix;
    while (self->sub_prefixes && (prefix = zlist_pop(self->sub_prefixes))) {
        orcs__node_sub_remove(self->node, prefix);
        free(prefix);
    }
    zlist_destroy(&self->sub_prefixes);
    orcs__timers_destroy(&self->timers);
    free(self->watches);
    self->watches = NULL;
    self->watch_count = self->watch_alloc = 0;
}

static void
s_wait_term(zsock_t *pipe)
{
    for (;;) {
        char *command = zstr_recv(pipe);
        bool term = !command || strcmp(command, "$TERM") == 0;
        zstr_free(&command);
        if (term)
            return;
    }
}

static void
s_tell_parent(orcs_actor_t *self)
{
    if (!self->parent[0])
        return;
    orcs_msg_t *msg = orcs_msg_new("$exit");
    msg->env.kind = ORCS_MSG_EXIT;
    msg->env.status = self->exit_status;
    json_t *body = json_pack("{s:s, s:I}", "reason", self->exit_reason,
                             "incarnation", (json_int_t) self->incarnation);
    orcs_msg_set_body(msg, &body);
    msg->env.kind = ORCS_MSG_EXIT;
    s_send(self, self->parent, &msg, 5000);
    orcs_msg_destroy(&msg);
}

static void
s_actor_main(zsock_t *pipe, void *args)
{
    orcs_actor_t *self = args;
    // The actor's name on its thread (15 bytes at most), for top -H, perf
    // and debuggers.
    char thread_name[16];
    size_t n = strnlen(self->name, sizeof thread_name - 1);
    memcpy(thread_name, self->name, n);
    thread_name[n] = 0;
    pthread_setname_np(pthread_self(), thread_name);
    self->batching = true;
    self->routes = zhashx_new();
    zhashx_set_destructor(self->routes, s_route_destroy);
    self->timers = orcs__timers_new();
    self->mailbox_raw = zsock_resolve(self->mailbox);
    s_pub_open(self);
    void *state = NULL;
    orcs_status rc = ORCS_OK;
    if (self->def->init) {
        s_busy(self);
        rc = self->def->init(self, self->config, &state);
        s_busy(self);
        s_flush(self);
    }
    self->state = state;
    if (rc == ORCS_OK && self->stop && self->exit_status != ORCS_OK)
        rc = self->exit_status;
    atomic_store(&self->init_status, rc);
    if (rc != ORCS_OK) {
        if (self->def->terminate && state)
            self->def->terminate(self, state, rc);
        s_close_sockets(self);
        atomic_store(&self->abandoned,
                     true); // the mailbox stays with the caller
        zsock_signal(pipe, 0);
        s_wait_term(pipe);
        s_release(&self);
        return;
    }
    atomic_store(&self->entry->state, ORCS__STATE_RUNNING);
    zsock_signal(pipe, 0);

    bool terminated = s_loop(self, pipe);
    bool abandoned = atomic_load(&self->abandoned);
    if (abandoned)
        terminated = true; // no one waits for this incarnation any more
    orcs_status reason = terminated ? ORCS_ESHUTDOWN : self->exit_status;
    if (self->def->terminate)
        self->def->terminate(self, self->state, reason);
    if (!terminated && !abandoned) {
        atomic_store(&self->entry->state, reason == ORCS_OK
                                              ? ORCS__STATE_STOPPED
                                              : ORCS__STATE_FAILED);
        if (reason != ORCS_OK)
            orcs__dir_set_error(orcs__node_dir(self->node), self->entry,
                                self->exit_reason);
        s_tell_parent(self);
    }
    s_close_sockets(self);
    if (!terminated)
        s_wait_term(pipe);
    // See orcs__actor_halt: if the supervisor gave up first, the mailbox
    // is ours to close.
    if (atomic_exchange(&self->abandoned, true)) {
        zsock_destroy(&self->mailbox);
        if (!self->rx_batch_own) {
            orcs__rx_batch_close(self->rx_batch);
            free(self->rx_batch);
        }
        orcs__sys_abandoned_add(-1);
    }
    s_release(&self);
}

orcs_status
orcs__actor_spawn(orcs_node_t *node,
                  const orcs__spawn_opts_t *opts,
                  orcs_actor_t **actor_p,
                  char *err,
                  size_t err_size)
{
    *actor_p = NULL;
    orcs_actor_t *self = orcs_calloc(1, sizeof *self);
    self->node = node;
    self->def = opts->def;
    self->config = opts->config ? json_deep_copy(opts->config) : json_object();
    self->entry = opts->entry;
    snprintf(self->name, sizeof self->name, "%s", opts->name);
    snprintf(self->parent, sizeof self->parent, "%s",
             opts->parent ? opts->parent : "");
    self->incarnation = opts->incarnation;
    self->mailbox = opts->mailbox;
    self->rx_batch = opts->rx_batch;
    if (!self->rx_batch) {
        self->rx_batch = orcs_calloc(1, sizeof *self->rx_batch);
        self->rx_batch_own = true;
    }
    self->send_timeout_ms = orcs__node_send_timeout_ms(node);
    self->spin_us = orcs__node_spin_us(node);
    atomic_init(&self->refs, 2);
    atomic_store(&opts->entry->incarnation, opts->incarnation);
    self->zactor = zactor_new(s_actor_main, self);
    orcs_status rc = (orcs_status) atomic_load(&self->init_status);
    if (rc != ORCS_OK) {
        snprintf(err, err_size, "%s",
                 self->exit_reason[0] ? self->exit_reason
                                      : orcs_status_str(rc));
        zactor_destroy(&self->zactor);
        s_release(&self);
        return rc;
    }
    *actor_p = self;
    return ORCS_OK;
}

orcs_status
orcs__actor_halt(orcs_actor_t **actor_p, int timeout_ms)
{
    orcs_actor_t *self = *actor_p;
    if (!self)
        return ORCS_OK;
    *actor_p = NULL;
    // zactor_destroy sends $TERM and waits for the thread's last signal for
    // at most the pipe's receive timeout.
    zsock_set_rcvtimeo(zactor_sock(self->zactor), timeout_ms);
    zactor_destroy(&self->zactor);
    // Whoever sets `abandoned` first hands the mailbox to the other: when
    // the thread finished, it set it and the mailbox is ours again.
    bool finished = atomic_exchange(&self->abandoned, true);
    if (!finished)
        orcs__sys_abandoned_add(1);
    if (!finished)
        orcs_log_error("actor",
                       "thread did not stop in time and is abandoned "
                       "name=%s wait_ms=%d",
                       self->name, timeout_ms);
    s_release(&self);
    return finished ? ORCS_OK : ORCS_ETIMEDOUT;
}

uint64_t
orcs__actor_busy_seq(orcs_actor_t *actor)
{
    return atomic_load_explicit(&actor->busy_seq, memory_order_relaxed);
}

orcs_status
orcs__mailbox_new(orcs_node_t *node,
                  const char *name,
                  int bound,
                  bool ipc,
                  zsock_t **mailbox_p,
                  char *endpoint,
                  size_t size)
{
    zsock_t *sock = zsock_new(ZMQ_PULL);
    zsock_set_linger(sock, 0);
    zsock_set_rcvhwm(sock, bound > 0 ? bound : 1000);
    if (ipc) {
        zsock_set_maxmsgsize(sock, orcs__node_max_message_bytes(node));
        snprintf(endpoint, size, "ipc://@orcs.%d.%s.%u", (int) getpid(), name,
                 orcs__sys_next_id());
    } else {
        snprintf(endpoint, size, "inproc://orcs.%s.%u", name,
                 orcs__sys_next_id());
    }
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        zsock_destroy(&sock);
        return ORCS_EIO;
    }
    *mailbox_p = sock;
    return ORCS_OK;
}

// ---- the blocking client

orcs_client_t *
orcs_client_new(orcs_node_t *node)
{
    // Names must not repeat across the processes of a node (children in
    // their own processes route replies by name).
    char name[ORCS_ACTOR_NAME_MAX + 1];
    snprintf(name, sizeof name, "client.%d.%llu", (int) getpid(),
             (unsigned long long) orcs__node_unique(node));
    return orcs__client_new_named(node, name);
}

orcs_client_t *
orcs__client_new_named(orcs_node_t *node, const char *name)
{
    orcs_client_t *self = orcs_calloc(1, sizeof *self);
    orcs_actor_t *a = &self->actor;
    a->node = node;
    a->is_client = true;
    a->send_timeout_ms = orcs__node_send_timeout_ms(node);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->entry = orcs__dir_client(orcs__node_dir(node), a->name);
    orcs_assert(a->entry);
    a->entry->mailbox_bound = 100000;
    char endpoint[160];
    orcs_status rc = orcs__mailbox_new(node, a->name, 100000, false,
                                       &a->mailbox, endpoint, sizeof endpoint);
    orcs_assert(rc == ORCS_OK); // inproc names are unique in the process
    a->mailbox_raw = zsock_resolve(a->mailbox);
    a->routes = zhashx_new();
    zhashx_set_destructor(a->routes, s_route_destroy);
    a->timers = orcs__timers_new();
    a->inbox = zlist_new();
    atomic_store(&a->entry->state, ORCS__STATE_RUNNING);
    orcs__dir_set_endpoint(orcs__node_dir(node), a->entry, endpoint);
    return self;
}

void
orcs_client_destroy(orcs_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs_client_t *self = *self_p;
    orcs_actor_t *a = &self->actor;
    orcs__dir_t *dir = orcs__node_dir(a->node);
    orcs__dir_remove(dir, a->entry); // senders stop finding it
    orcs_msg_t *msg;
    while ((msg = zlist_pop(a->inbox)))
        orcs_msg_destroy(&msg);
    zlist_destroy(&a->inbox);
    s_close_sockets(a);
    zsock_destroy(&a->mailbox);
    orcs__dir_client_release(dir, a->entry); // for the next client
    free(self);
    *self_p = NULL;
}

const char *
orcs_client_name(const orcs_client_t *self)
{
    return self->actor.name;
}

orcs_status
orcs_client_send(orcs_client_t *self,
                 const char *to,
                 orcs_msg_t **msg_p,
                 int timeout_ms)
{
    orcs_assert(self && to && msg_p && *msg_p);
    (*msg_p)->env.kind = ORCS_MSG_SEND;
    return s_send(&self->actor, to, msg_p, timeout_ms);
}

// Receives from the mailbox or the event socket, waiting up to timeout_ms.
static orcs_status
s_client_wait(orcs_client_t *self, int timeout_ms, orcs_msg_t **msg_p)
{
    orcs_actor_t *a = &self->actor;
    int64_t deadline = timeout_ms < 0
                           ? INT64_MAX
                           : orcs_clock_mono_us() + (int64_t) timeout_ms * 1000;
    uint64_t msgs_in = atomic_load(&a->entry->msgs_in);
    for (;;) {
        zmq_pollitem_t items[2] = {
            {a->mailbox_raw, 0, ZMQ_POLLIN, 0},
            {a->sub ? zsock_resolve(a->sub) : NULL, 0, ZMQ_POLLIN, 0}};
        int64_t left = deadline - orcs_clock_mono_us();
        if (left < 0)
            left = 0;
        long wait = deadline == INT64_MAX ? -1 : (long) ((left + 999) / 1000);
        int rc = zmq_poll(items, a->sub ? 2 : 1, wait);
        if (rc < 0 && zmq_errno() != EINTR)
            return ORCS_ECLOSED;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            orcs_status status =
                orcs__msg_recv(a->mailbox_raw, ZMQ_DONTWAIT, msg_p);
            if (status == ORCS_OK) {
                s_count_in(a, *msg_p, &msgs_in);
                return ORCS_OK;
            }
            if (status != ORCS_EAGAIN)
                orcs__malformed(a->node, a->entry, a->name, status);
        }
        if (rc > 0 && a->sub && (items[1].revents & ZMQ_POLLIN)) {
            orcs_status status = s_recv_event(a, msg_p);
            if (status == ORCS_OK)
                return ORCS_OK;
        }
        if (orcs_clock_mono_us() >= deadline)
            return ORCS_ETIMEDOUT;
    }
}

orcs_status
orcs_client_ask(orcs_client_t *self,
                const char *to,
                orcs_msg_t **msg_p,
                int timeout_ms,
                orcs_msg_t **reply_p)
{
    orcs_assert(self && reply_p);
    *reply_p = NULL;
    uint64_t id = 0;
    int64_t start = orcs_clock_mono_us();
    orcs_status rc = orcs_actor_ask(&self->actor, to, msg_p, timeout_ms, &id);
    if (rc != ORCS_OK)
        return rc;
    for (;;) {
        int64_t left_ms = timeout_ms - (orcs_clock_mono_us() - start) / 1000;
        orcs_msg_t *msg = NULL;
        rc = s_client_wait(self, left_ms > 0 ? (int) left_ms : 0, &msg);
        if (rc != ORCS_OK)
            return rc;
        if (msg->env.kind == ORCS_MSG_REPLY && msg->env.correlation_id == id) {
            *reply_p = msg;
            return ORCS_OK;
        }
        if (msg->env.kind == ORCS_MSG_REPLY)
            orcs_msg_destroy(&msg); // a late reply to an earlier ask
        else
            zlist_append(self->actor.inbox, msg);
    }
}

orcs_status
orcs_client_recv(orcs_client_t *self, int timeout_ms, orcs_msg_t **msg_p)
{
    orcs_assert(self && msg_p);
    *msg_p = zlist_pop(self->actor.inbox);
    if (*msg_p)
        return ORCS_OK;
    return s_client_wait(self, timeout_ms, msg_p);
}

orcs_status
orcs_client_subscribe(orcs_client_t *self, const char *prefix)
{
    orcs_actor_t *a = &self->actor;
    orcs_status rc = orcs_actor_subscribe(a, prefix);
    if (rc != ORCS_OK || strlen(prefix) > ORCS_MSG_TOPIC_MAX)
        return rc;
    // A new subscription reaches the publishers through the node's bus a
    // moment later, and until then what they publish is dropped (ZeroMQ's
    // slow joiner). Probes published on the prefix until one comes back
    // make events published after this returns reach the client; events
    // that come meanwhile are kept for orcs_client_recv.
    a->probe_seen = false;
    int64_t deadline = orcs_clock_mono_us() + S_PROBE_WAIT_MS * 1000;
    while (!a->probe_seen && orcs_clock_mono_us() < deadline) {
        json_t *body = NULL;
        s_publish(a, prefix, S_PROBE_TYPE, &body);
        zmq_pollitem_t item = {zsock_resolve(a->sub), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 5) <= 0)
            continue;
        orcs_msg_t *msg = NULL;
        while (s_recv_event(a, &msg) == ORCS_OK)
            zlist_append(a->inbox, msg);
    }
    return ORCS_OK;
}
