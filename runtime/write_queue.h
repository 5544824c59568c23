/*  runtime/write_queue.h — results of an actor's asynchronous store
    writes, delivered on the actor's own thread.
    SPDX-License-Identifier: MPL-2.0

    orcs_store_write_async calls its done callback on the store's writer
    thread, where an actor's state must not be touched. A write queue
    collects those results under a mutex and wakes the actor through an
    eventfd it watches; the actor's callback then gets (id, status) for
    each finished write, in commit order. Results of writes that finish
    after the queue was destroyed are dropped safely. */
#ifndef ORCS_WRITE_QUEUE_H_INCLUDED
#define ORCS_WRITE_QUEUE_H_INCLUDED

#include <stdint.h>

#include "orcs/actor.h"
#include "orcs/store.h"

typedef struct orcs__wq_t orcs__wq_t;

// Called on the actor's thread for each finished write.
typedef void(orcs__wq_fn)(void *state, uint64_t id, orcs_status status);

// Creates a queue for the calling actor (call from init) and watches its
// eventfd. Returns NULL when no eventfd could be made (logged).
orcs__wq_t *orcs__wq_new(orcs_actor_t *actor, orcs__wq_fn *fn, void *state);

// Stops watching and releases the actor's reference; writes still in
// flight free their entries when they finish. Safe with *self_p NULL.
void orcs__wq_destroy(orcs__wq_t **self_p);

// Hands *batch_p (taken, set to NULL) to the store's writer; fn gets id
// and the write's status later. Returns ORCS_OK or what
// orcs_store_write_async returns (then fn is not called).
orcs_status orcs__wq_write(orcs__wq_t *self,
                           orcs_store_t *store,
                           orcs_batch_t **batch_p,
                           uint64_t id);

#endif
