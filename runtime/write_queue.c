/*  runtime/write_queue.c — results of asynchronous store writes delivered
    on an actor's thread (write_queue.h).
    SPDX-License-Identifier: MPL-2.0 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <czmq.h>

#include "internal.h"
#include "orcs/log.h"
#include "orcs/sys.h"
#include "write_queue.h"

typedef struct s_done_t s_done_t;

// The part shared with the store's writer thread.
typedef struct {
    pthread_mutex_t lock;         // guards closed, head, tail
    atomic_int refs;              // the actor + one per write in flight
    int fd;                       // eventfd the actor watches
    atomic_uint_fast64_t *nudges; // the actor's counter (outlives us)
    bool closed;                  // the actor stopped: drop results
    s_done_t *head;               // finished writes, oldest first
    s_done_t *tail;
} s_shared_t;

struct s_done_t {
    s_shared_t *shared;
    uint64_t id;
    orcs_status status;
    s_done_t *next;
};

struct orcs__wq_t {
    orcs_actor_t *actor;
    s_shared_t *shared;
    orcs__wq_fn *fn;
    void *state;
};

static void
s_unref(s_shared_t *shared)
{
    if (atomic_fetch_sub(&shared->refs, 1) != 1)
        return;
    s_done_t *done = shared->head;
    while (done) {
        s_done_t *next = done->next;
        free(done);
        done = next;
    }
    if (shared->fd >= 0)
        close(shared->fd);
    pthread_mutex_destroy(&shared->lock);
    free(shared);
}

// The store's writer thread: queue the result, wake the actor.
static void
s_on_written(orcs_status status, void *arg)
{
    s_done_t *done = arg;
    s_shared_t *shared = done->shared;
    done->status = status;
    pthread_mutex_lock(&shared->lock);
    bool closed = shared->closed;
    if (!closed) {
        if (shared->tail)
            shared->tail->next = done;
        else
            shared->head = done;
        shared->tail = done;
        uint64_t one = 1;
        atomic_fetch_add_explicit(shared->nudges, 1, memory_order_release);
        ssize_t n = write(shared->fd, &one, sizeof one);
        (void) n; // a full counter still wakes the actor
    }
    pthread_mutex_unlock(&shared->lock);
    if (closed)
        free(done);
    s_unref(shared);
}

// The actor's thread: hand every queued result to fn.
static orcs_status
s_on_ready(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) actor, (void) state, (void) events;
    orcs__wq_t *self = arg;
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof count);
    (void) n;
    pthread_mutex_lock(&self->shared->lock);
    s_done_t *done = self->shared->head;
    self->shared->head = self->shared->tail = NULL;
    pthread_mutex_unlock(&self->shared->lock);
    while (done) {
        s_done_t *next = done->next;
        orcs__actor_awaiting_add(self->actor, -1);
        self->fn(self->state, done->id, done->status);
        free(done);
        done = next;
    }
    return ORCS_OK;
}

orcs__wq_t *
orcs__wq_new(orcs_actor_t *actor, orcs__wq_fn *fn, void *state)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        orcs_log_error("store", "eventfd failed for %s",
                       orcs_actor_name(actor));
        return NULL;
    }
    s_shared_t *shared = orcs_calloc(1, sizeof *shared);
    pthread_mutex_init(&shared->lock, NULL);
    atomic_init(&shared->refs, 1);
    shared->fd = fd;
    shared->nudges = orcs__actor_nudges(actor);
    orcs__wq_t *self = orcs_calloc(1, sizeof *self);
    self->actor = actor;
    self->shared = shared;
    self->fn = fn;
    self->state = state;
    if (orcs_actor_watch(actor, fd, ZMQ_POLLIN, s_on_ready, self) != ORCS_OK) {
        s_unref(shared);
        free(self);
        return NULL;
    }
    return self;
}

void
orcs__wq_destroy(orcs__wq_t **self_p)
{
    orcs__wq_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    orcs_actor_unwatch(self->actor, self->shared->fd);
    pthread_mutex_lock(&self->shared->lock);
    self->shared->closed = true;
    pthread_mutex_unlock(&self->shared->lock);
    s_unref(self->shared);
    free(self);
}

orcs_status
orcs__wq_write(orcs__wq_t *self,
               orcs_store_t *store,
               orcs_batch_t **batch_p,
               uint64_t id)
{
    s_done_t *done = orcs_calloc(1, sizeof *done);
    done->shared = self->shared;
    done->id = id;
    atomic_fetch_add(&self->shared->refs, 1);
    orcs_status rc = orcs_store_write_async(store, batch_p, s_on_written, done);
    if (rc != ORCS_OK) { // the callback will not run
        atomic_fetch_sub(&self->shared->refs, 1);
        free(done);
    } else
        orcs__actor_awaiting_add(self->actor, 1);
    return rc;
}
