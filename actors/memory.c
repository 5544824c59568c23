/*  memory.c — the `memory` actor kind: memory scopes (orcs/memory.h) for
    other actors, over asks. The caller identity the access rules see is
    the asker's name (orcs_msg_from). Rules and versions_kept come from
    the node config's `memory` mapping.
    SPDX-License-Identifier: MPL-2.0

    Asks (JSON bodies; the reply's status is the operation's):
      get       {scope, key, version?}        -> entry {key, version, value,
                                                 updated_us, expires_us, ...}
      put       {scope, key, value, ttl_ms?}  -> {version}
      cas       {scope, key, value, expect_version, ttl_ms?} -> {version};
                EEXIST with {error, version: current} on a conflict
      delete    {scope, key}                  -> {deleted: true}
      list      {scope, prefix?, limit?}      -> {keys: [entries]}
      history   {scope, key}                  -> {versions: [entries]}
      snapshot  {scope, name}                 -> {keys: N}
      restore   {scope, name}                 -> {keys: N}
      snapshots {scope}                       -> {snapshots: [...]}
    An error reply carries {error: "<status description>"}.
    Config: {sweep_ms: 60000 (0 = never sweep expired keys),
             tenant_separator: "" (e.g. "." makes "acme.bot" tenant "acme")}

    Reads run on the actor's thread in short read transactions. Writes are
    prepared there and applied with orcs_store_write_async; the store
    calls back on its writer thread, which must not touch the actor. So the
    callback only appends the result to a queue shared with the actor and
    writes to an eventfd that the actor watches (orcs_actor_watch); the
    actor drains the queue on its own thread and replies. The queue is
    reference-counted (the actor plus each write in flight), so a write
    that finishes after the actor stopped just frees its entry. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "orcs/memory.h"

#define S_SWEEP_MS 60000 // default period of the expired-key sweep
#define S_RETRIES  64    // writes retried after concurrent changes

typedef struct s_done_t s_done_t;

// Results of writes, shared by the actor and the store's writer thread.
typedef struct {
    pthread_mutex_t lock; // guards closed, head, tail
    atomic_int refs;      // the actor + one per write in flight
    int fd;               // eventfd the actor watches
    bool closed;          // the actor stopped: drop results
    s_done_t *head;       // finished writes, oldest first
    s_done_t *tail;       // last of them
} s_queue_t;

struct s_done_t {
    s_queue_t *queue;   // where to report
    uint64_t id;        // pending request, 0 for a sweep
    orcs_status status; // the write's result
    s_done_t *next;     // queue link
};

// An ask waiting for its write.
typedef struct {
    orcs_msg_t *request; // the ask (owned)
    uint64_t version;    // put/cas: the version written
    size_t count;        // snapshot/restore: keys
    int attempts;        // retries after concurrent changes
} s_pending_t;

typedef struct {
    orcs_actor_t *actor;   // this actor
    orcs_store_t *store;   // the node's store
    orcs_memory_t *memory; // configured from the node config
    s_queue_t *queue;      // write results
    zhashx_t *pending;     // "id" -> s_pending_t
    uint64_t next_id;      // request ids
    char separator;        // tenant separator, or 0
    bool sweeping;         // a sweep batch is in flight
} s_state_t;

// ---------------------------------------------------------------------------
// The shared queue

static void
s_queue_unref(s_queue_t *queue)
{
    if (atomic_fetch_sub(&queue->refs, 1) != 1)
        return;
    s_done_t *done = queue->head;
    while (done) {
        s_done_t *next = done->next;
        free(done);
        done = next;
    }
    if (queue->fd >= 0)
        close(queue->fd);
    pthread_mutex_destroy(&queue->lock);
    free(queue);
}

// The store's writer thread calls this: touch nothing of the actor.
static void
s_on_written(orcs_status status, void *arg)
{
    s_done_t *done = arg;
    s_queue_t *queue = done->queue;
    done->status = status;
    pthread_mutex_lock(&queue->lock);
    bool closed = queue->closed;
    if (!closed) {
        if (queue->tail)
            queue->tail->next = done;
        else
            queue->head = done;
        queue->tail = done;
        uint64_t one = 1;
        ssize_t n = write(queue->fd, &one, sizeof one);
        (void) n; // a full counter still wakes the actor
    }
    pthread_mutex_unlock(&queue->lock);
    if (closed)
        free(done);
    s_queue_unref(queue);
}

// Hands a batch to the writer; the result comes back for request id.
static orcs_status
s_submit(s_state_t *self, orcs_batch_t **batch_p, uint64_t id)
{
    s_done_t *done = orcs_calloc(1, sizeof *done);
    done->queue = self->queue;
    done->id = id;
    atomic_fetch_add(&self->queue->refs, 1);
    orcs_status rc =
        orcs_store_write_async(self->store, batch_p, s_on_written, done);
    if (rc != ORCS_OK) { // the callback will not run
        atomic_fetch_sub(&self->queue->refs, 1);
        free(done);
    }
    return rc;
}

// ---------------------------------------------------------------------------
// Replies

static orcs_status
s_reply(s_state_t *self,
        const orcs_msg_t *request,
        orcs_status status,
        json_t *body)
{
    if (orcs_msg_kind_of(request) != ORCS_MSG_ASK) {
        json_decref(body);
        return ORCS_OK;
    }
    if (status != ORCS_OK && !body)
        body = json_object();
    if (status != ORCS_OK)
        json_object_set_new(body, "error",
                            json_string(orcs_status_str(status)));
    orcs_msg_t *reply = orcs_msg_new(orcs_msg_type(request));
    orcs_msg_set_body(reply, &body);
    orcs_msg_set_status(reply, status);
    orcs_status rc = orcs_actor_reply(self->actor, request, &reply);
    orcs_msg_destroy(&reply);
    // An asker that went away is not our failure.
    return rc == ORCS_ENOTFOUND || rc == ORCS_EFULL ? ORCS_OK : rc;
}

// The current version of key for a cas conflict reply (0 = absent).
static json_t *
s_conflict_body(s_state_t *self, const char *caller, const json_t *body)
{
    json_t *value = NULL;
    uint64_t version = 0;
    orcs_memory_get(
        self->memory, caller, json_string_value(json_object_get(body, "scope")),
        json_string_value(json_object_get(body, "key")), &value, &version);
    json_decref(value);
    return json_pack("{s:I}", "version", (json_int_t) version);
}

// ---------------------------------------------------------------------------
// Operations

static const char *
s_str(const json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

static json_int_t
s_int(const json_t *body, const char *key, json_int_t fallback)
{
    json_t *value = json_object_get(body, key);
    return json_is_integer(value) ? json_integer_value(value) : fallback;
}

// Prepares the write of a put/cas/delete/snapshot/restore request.
static orcs_status
s_prepare(s_state_t *self,
          orcs_msg_t *request,
          orcs_batch_t **batch_p,
          s_pending_t *pending)
{
    const json_t *body = NULL;
    orcs_status rc = orcs_msg_body(request, &body);
    if (rc != ORCS_OK)
        return rc;
    const char *type = orcs_msg_type(request);
    const char *caller = orcs_msg_from(request);
    const char *scope = s_str(body, "scope");
    if (strcmp(type, "put") == 0 || strcmp(type, "cas") == 0) {
        json_t *expect = json_object_get(body, "expect_version");
        bool cas = strcmp(type, "cas") == 0;
        if (cas && (!json_is_integer(expect) || json_integer_value(expect) < 0))
            return ORCS_EINVAL;
        orcs_memory_put_opts_t opts = {
            s_int(body, "ttl_ms", 0), cas,
            cas ? (uint64_t) json_integer_value(expect) : 0};
        return orcs_memory_prepare_put(
            self->memory, caller, scope, s_str(body, "key"),
            json_object_get(body, "value"), &opts, batch_p, &pending->version);
    }
    if (strcmp(type, "delete") == 0)
        return orcs_memory_prepare_delete(self->memory, caller, scope,
                                          s_str(body, "key"), batch_p);
    if (strcmp(type, "snapshot") == 0)
        return orcs_memory_prepare_snapshot(self->memory, caller, scope,
                                            s_str(body, "name"), batch_p,
                                            &pending->count);
    return orcs_memory_prepare_restore(self->memory, caller, scope,
                                       s_str(body, "name"), batch_p,
                                       &pending->count);
}

static json_t *
s_written_body(const char *type, const s_pending_t *pending)
{
    if (strcmp(type, "put") == 0 || strcmp(type, "cas") == 0)
        return json_pack("{s:I}", "version", (json_int_t) pending->version);
    if (strcmp(type, "delete") == 0)
        return json_pack("{s:b}", "deleted", 1);
    return json_pack("{s:I}", "keys", (json_int_t) pending->count);
}

// Prepares and submits a write; on failure replies at once and frees
// pending. Takes ownership of pending.
static orcs_status
s_start_write(s_state_t *self, s_pending_t *pending, uint64_t id)
{
    orcs_batch_t *batch = NULL;
    orcs_status rc = s_prepare(self, pending->request, &batch, pending);
    if (rc == ORCS_OK)
        rc = s_submit(self, &batch, id);
    orcs_batch_destroy(&batch);
    if (rc == ORCS_OK) {
        char key[32];
        snprintf(key, sizeof key, "%" PRIu64, id);
        zhashx_update(self->pending, key, pending);
        return ORCS_OK;
    }
    json_t *body = NULL;
    if (rc == ORCS_EEXIST
        && strcmp(orcs_msg_type(pending->request), "cas") == 0) {
        const json_t *request_body = NULL;
        orcs_msg_body(pending->request, &request_body);
        body = s_conflict_body(self, orcs_msg_from(pending->request),
                               request_body);
    }
    orcs_status reply_rc = s_reply(self, pending->request, rc, body);
    orcs_msg_destroy(&pending->request);
    free(pending);
    return reply_rc;
}

// A write finished: reply, or retry a put/delete/restore that met a
// concurrent change.
static orcs_status
s_finish_write(s_state_t *self, uint64_t id, orcs_status status)
{
    char key[32];
    snprintf(key, sizeof key, "%" PRIu64, id);
    s_pending_t *pending = zhashx_lookup(self->pending, key);
    if (!pending)
        return ORCS_OK;
    zhashx_delete(self->pending, key);
    const char *type = orcs_msg_type(pending->request);
    bool retry = status == ORCS_EEXIST && strcmp(type, "cas") != 0
                 && strcmp(type, "snapshot") != 0;
    if (retry && ++pending->attempts < S_RETRIES)
        return s_start_write(self, pending, id);
    if (retry)
        status = ORCS_EAGAIN;
    json_t *body = NULL;
    if (status == ORCS_OK)
        body = s_written_body(type, pending);
    else if (status == ORCS_EEXIST && strcmp(type, "cas") == 0) {
        const json_t *request_body = NULL;
        orcs_msg_body(pending->request, &request_body);
        body = s_conflict_body(self, orcs_msg_from(pending->request),
                               request_body);
    }
    orcs_status rc = s_reply(self, pending->request, status, body);
    orcs_msg_destroy(&pending->request);
    free(pending);
    return rc;
}

// Answers a read at once.
static orcs_status
s_read(s_state_t *self, orcs_msg_t *request)
{
    const json_t *body = NULL;
    orcs_status rc = orcs_msg_body(request, &body);
    const char *type = orcs_msg_type(request);
    const char *caller = orcs_msg_from(request);
    const char *scope = s_str(body, "scope");
    json_t *result = NULL, *out = NULL;
    if (rc != ORCS_OK)
        ;
    else if (strcmp(type, "get") == 0) {
        json_int_t version = s_int(body, "version", 0);
        rc = version < 0 ? ORCS_EINVAL
                         : orcs_memory_get_entry(self->memory, caller, scope,
                                                 s_str(body, "key"),
                                                 (uint64_t) version, &out);
    } else if (strcmp(type, "list") == 0) {
        json_int_t limit = s_int(body, "limit", 0);
        rc =
            orcs_memory_list(self->memory, caller, scope, s_str(body, "prefix"),
                             limit > 0 ? (size_t) limit : 0, &result);
        if (rc == ORCS_OK)
            out = json_pack("{s:o}", "keys", result);
    } else if (strcmp(type, "history") == 0) {
        rc = orcs_memory_history(self->memory, caller, scope,
                                 s_str(body, "key"), &result);
        if (rc == ORCS_OK)
            out = json_pack("{s:o}", "versions", result);
    } else {
        rc = orcs_memory_snapshots(self->memory, caller, scope, &result);
        if (rc == ORCS_OK)
            out = json_pack("{s:o}", "snapshots", result);
    }
    return s_reply(self, request, rc, out);
}

// ---------------------------------------------------------------------------
// Callbacks

static orcs_status
s_on_wakeup(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) actor;
    (void) events;
    (void) arg;
    s_state_t *self = state;
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof count);
    (void) n; // EAGAIN: another wakeup already drained it
    pthread_mutex_lock(&self->queue->lock);
    s_done_t *done = self->queue->head;
    self->queue->head = self->queue->tail = NULL;
    pthread_mutex_unlock(&self->queue->lock);
    orcs_status rc = ORCS_OK;
    while (done) {
        s_done_t *next = done->next;
        if (done->id == 0) {
            self->sweeping = false;
            if (done->status != ORCS_OK && done->status != ORCS_EEXIST)
                orcs_log_warn("memory", "sweep failed status=%s",
                              orcs_status_name(done->status));
        } else if (rc == ORCS_OK) {
            rc = s_finish_write(self, done->id, done->status);
        }
        free(done);
        done = next;
    }
    return rc;
}

static orcs_status
s_on_timer(orcs_actor_t *actor, void *state, uint64_t timer_id, void *arg)
{
    (void) actor;
    (void) timer_id;
    (void) arg;
    s_state_t *self = state;
    if (self->sweeping)
        return ORCS_OK;
    orcs_batch_t *batch = NULL;
    size_t count = 0;
    orcs_status rc = orcs_memory_prepare_sweep(self->memory, &batch, &count);
    if (rc == ORCS_OK && batch && s_submit(self, &batch, 0) == ORCS_OK)
        self->sweeping = true;
    orcs_batch_destroy(&batch);
    if (rc != ORCS_OK)
        orcs_log_warn("memory", "sweep failed status=%s", orcs_status_name(rc));
    return ORCS_OK;
}

// Tenants: the caller's name up to the separator ("" without one).
static orcs_status
s_tenant(const char *caller, char *prefix, size_t size, void *arg)
{
    const s_state_t *self = arg;
    const char *end = caller ? strchr(caller, self->separator) : NULL;
    size_t n = end ? (size_t) (end - caller) : 0;
    snprintf(prefix, size, "%.*s", (int) n, caller ? caller : "");
    return ORCS_OK;
}

static orcs_status
s_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    s_state_t *self = state;
    orcs_msg_t *msg = *msg_p;
    orcs_msg_kind kind = orcs_msg_kind_of(msg);
    if (kind != ORCS_MSG_SEND && kind != ORCS_MSG_ASK)
        return ORCS_OK;
    static const char *const writes[] = {"put",      "cas",     "delete",
                                         "snapshot", "restore", NULL};
    static const char *const reads[] = {"get", "list", "history", "snapshots",
                                        NULL};
    const char *type = orcs_msg_type(msg);
    for (size_t i = 0; reads[i]; i++)
        if (strcmp(type, reads[i]) == 0)
            return s_read(self, msg);
    for (size_t i = 0; writes[i]; i++) {
        if (strcmp(type, writes[i]) == 0) {
            s_pending_t *pending = orcs_calloc(1, sizeof *pending);
            pending->request = msg;
            *msg_p = NULL; // kept until the write is durable
            return s_start_write(self, pending, ++self->next_id);
        }
    }
    return s_reply(self, msg, ORCS_EUNSUPPORTED, NULL);
}

static orcs_status
s_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    orcs_node_t *node = orcs_actor_node(actor);
    orcs_store_t *store = orcs_node_store(node);
    const char *separator =
        json_string_value(json_object_get(config, "tenant_"
                                                  "separator"));
    json_t *sweep = json_object_get(config, "sweep_ms");
    if (!store) {
        orcs_actor_fail(actor, ORCS_ECONFIG,
                        "the memory actor needs the node's store (it cannot "
                        "run with process: true)");
        return ORCS_ECONFIG;
    }
    if ((separator && strlen(separator) != 1)
        || (sweep
            && (!json_is_integer(sweep) || json_integer_value(sweep) < 0
                || json_integer_value(sweep) > INT32_MAX))) {
        orcs_actor_fail(actor, ORCS_ECONFIG,
                        "config: tenant_separator is one character, sweep_ms "
                        "an integer >= 0");
        return ORCS_ECONFIG;
    }
    s_state_t *self = orcs_calloc(1, sizeof *self);
    self->actor = actor;
    self->store = store;
    self->memory = orcs_memory_new(store);
    char err[256];
    orcs_status rc = orcs_memory_configure(
        self->memory, json_object_get(orcs__node_config(node), "memory"), err,
        sizeof err);
    if (rc != ORCS_OK)
        orcs_actor_fail(actor, rc, err);
    if (separator) {
        self->separator = separator[0];
        orcs_memory_set_isolation(self->memory, s_tenant, self);
    }
    self->pending = zhashx_new(); // items freed by hand: see s_finish_write
    self->queue = orcs_calloc(1, sizeof *self->queue);
    pthread_mutex_init(&self->queue->lock, NULL);
    atomic_init(&self->queue->refs, 1);
    self->queue->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rc == ORCS_OK && self->queue->fd < 0)
        rc = ORCS_EIO;
    if (rc == ORCS_OK)
        rc = orcs_actor_watch(actor, self->queue->fd, ZMQ_POLLIN, s_on_wakeup,
                              NULL);
    int sweep_ms = sweep ? (int) json_integer_value(sweep) : S_SWEEP_MS;
    if (rc == ORCS_OK && sweep_ms > 0)
        rc = orcs_actor_timer_start(actor, sweep_ms, sweep_ms, NULL, NULL);
    *state_p = self;
    return rc;
}

static void
s_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) reason;
    s_state_t *self = state;
    if (!self)
        return;
    if (self->queue->fd >= 0)
        orcs_actor_unwatch(actor, self->queue->fd);
    pthread_mutex_lock(&self->queue->lock);
    self->queue->closed = true; // writes still in flight free themselves
    pthread_mutex_unlock(&self->queue->lock);
    s_queue_unref(self->queue);
    for (s_pending_t *pending = zhashx_first(self->pending); pending;
         pending = zhashx_next(self->pending)) {
        orcs_msg_destroy(&pending->request); // its asker times out
        free(pending);
    }
    zhashx_destroy(&self->pending);
    orcs_memory_destroy(&self->memory);
    free(self);
}

const orcs_actor_def_t orcs__memory_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "memory",
    .init = s_init,
    .receive = s_receive,
    .timer = s_on_timer,
    .terminate = s_terminate,
};
