/*  orcs/actor.h — writing actors: a table of callbacks and a state pointer.
    SPDX-License-Identifier: MPL-2.0

    An actor is a thread that owns its state and a bounded mailbox. The
    runtime calls the callbacks one at a time on that thread; nothing else
    ever touches the state. Callbacks must not block: slow work is driven by
    timers, asks, or file descriptors the actor watches (orcs_actor_watch).

    Lifecycle: init (once per incarnation) -> receive/timer/watch callbacks ->
    terminate (once, with the reason). A callback that returns an error, or
    that calls orcs_actor_fail(), makes the actor fail: terminate runs, the
    supervisor is told, and it restarts the actor per its restart type and
    strategy. An actor whose callback runs longer than its heartbeat_ms is
    hung; see docs/supervision.md for what happens to its thread.

    Every function here except the orcs_actor_def_t callbacks' own
    arguments must be called on the actor's own thread, from inside one of
    its callbacks. */
#ifndef ORCS_ACTOR_H_INCLUDED
#define ORCS_ACTOR_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/msg.h"
#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_ACTOR_NAME_MAX 63u // longest actor name
#define ORCS_ACTOR_ABI      1u  // bump when orcs_actor_def_t changes

typedef struct orcs_actor_t orcs_actor_t;
typedef struct orcs_node_t orcs_node_t;

// Called once when an incarnation starts, before any message. config is the
// child's `config` from the node config (borrowed for the call). Set
// *state_p to the actor's state. Returning an error fails the start.
typedef orcs_status(orcs_actor_init_fn)(orcs_actor_t *actor,
                                        const json_t *config,
                                        void **state_p);

// Called for every message. The message belongs to the receiver: take it
// (set *msg_p to NULL) to keep or forward it; otherwise the runtime destroys
// it after the call. Asks' replies and timeouts arrive here too (kinds
// ORCS_MSG_REPLY and ORCS_MSG_TIMEOUT), as do subscribed events.
typedef orcs_status(orcs_actor_receive_fn)(orcs_actor_t *actor,
                                           void *state,
                                           orcs_msg_t **msg_p);

// Called when a timer started with orcs_actor_timer_start fires.
typedef orcs_status(orcs_actor_timer_fn)(orcs_actor_t *actor,
                                         void *state,
                                         uint64_t timer_id,
                                         void *arg);

// Called once when the incarnation ends; reason is ORCS_OK for a normal
// stop, ORCS_ESHUTDOWN when the supervisor stops it, else the failure.
// Release the state here.
typedef void(orcs_actor_terminate_fn)(orcs_actor_t *actor,
                                      void *state,
                                      orcs_status reason);

// The definition of an actor kind. Plug-ins export one as
// `const orcs_actor_def_t *orcs_actor_plugin(void)`.
typedef struct {
    unsigned abi;                       // ORCS_ACTOR_ABI
    const char *kind;                   // kind name ("greeter")
    orcs_actor_init_fn *init;           // may be NULL (state stays NULL)
    orcs_actor_receive_fn *receive;     // required
    orcs_actor_timer_fn *timer;         // may be NULL if no timers are used
    orcs_actor_terminate_fn *terminate; // may be NULL
} orcs_actor_def_t;

// The symbol a plug-in .so exports, and the attribute that exports it
// even when the plug-in is built with -fvisibility=hidden:
//   ORCS_PLUGIN_EXPORT const orcs_actor_def_t *orcs_actor_plugin(void);
#define ORCS_ACTOR_PLUGIN_SYMBOL "orcs_actor_plugin"
#define ORCS_PLUGIN_EXPORT       __attribute__((visibility("default")))
typedef const orcs_actor_def_t *(orcs_actor_plugin_fn) (void);

// Called when a watched file descriptor is ready (events: ZMQ_POLLIN,
// ZMQ_POLLOUT, ZMQ_POLLERR bits).
typedef orcs_status(orcs_actor_watch_fn)(
    orcs_actor_t *actor, void *state, int fd, short events, void *arg);

// Sends *msg_p to address `to` ("name" or "name@node"), fire and forget.
// When the mailbox is full, waits until the message's deadline (or the
// node's send timeout when it has none) and then fails. Takes ownership of
// *msg_p on success and sets it to NULL; on error the caller keeps it.
// Returns ORCS_OK; ORCS_ENOTFOUND when no actor has that name;
// ORCS_EFULL when the mailbox stayed full until the deadline;
// ORCS_EUNSUPPORTED for name@node of another node (remote links come
// later); ORCS_EINVAL for an address that is too long or empty.
ORCS_EXPORT orcs_status orcs_actor_send(orcs_actor_t *self,
                                        const char *to,
                                        orcs_msg_t **msg_p);

// Sends *msg_p as an ask. The reply arrives later as a message of kind
// ORCS_MSG_REPLY with the same correlation id; if none arrives within
// timeout_ms, a message of kind ORCS_MSG_TIMEOUT (status ORCS_ETIMEDOUT)
// with that id arrives instead, and a late reply is dropped. Sets
// *correlation_id_p when it is not NULL. Ownership and statuses as
// orcs_actor_send.
ORCS_EXPORT orcs_status orcs_actor_ask(orcs_actor_t *self,
                                       const char *to,
                                       orcs_msg_t **msg_p,
                                       int timeout_ms,
                                       uint64_t *correlation_id_p);

// Replies to an ask: sends *reply_p to the asker with the ask's correlation
// id and kind ORCS_MSG_REPLY (set its status with orcs_msg_set_status to
// report a failure). Ownership and statuses as orcs_actor_send; ORCS_EINVAL
// when request is not an ask.
ORCS_EXPORT orcs_status orcs_actor_reply(orcs_actor_t *self,
                                         const orcs_msg_t *request,
                                         orcs_msg_t **reply_p);

// What answering an ask needs, kept apart from the ask: the asker's
// address, the correlation id, the type, the run id and the deadline (about
// a hundred bytes, where a held message is about seven hundred). An actor
// that answers long after the ask came (a model call, an agent run) keeps
// this instead of the message.
typedef struct orcs_reply_to_t orcs_reply_to_t;

// Returns the reply address of msg, or NULL when msg is not an ask (nobody
// waits for an answer). Caller owns the result; free it with
// orcs_reply_to_destroy().
ORCS_EXPORT orcs_reply_to_t *orcs_reply_to_new(const orcs_msg_t *msg);

// Frees a reply address; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_reply_to_destroy(orcs_reply_to_t **self_p);

// The asker's address (for logs).
ORCS_EXPORT const char *orcs_reply_to_address(const orcs_reply_to_t *self);

// As orcs_actor_reply, to a kept reply address.
ORCS_EXPORT orcs_status orcs_actor_reply_to(orcs_actor_t *self,
                                            const orcs_reply_to_t *to,
                                            orcs_msg_t **reply_p);

// Starts a timer that fires after delay_ms and then every interval_ms
// (0 = once). Sets *timer_id_p (never 0) when not NULL. Returns ORCS_OK or
// ORCS_EINVAL for a negative delay or interval.
ORCS_EXPORT orcs_status orcs_actor_timer_start(orcs_actor_t *self,
                                               int delay_ms,
                                               int interval_ms,
                                               void *arg,
                                               uint64_t *timer_id_p);

// Cancels a timer. Returns ORCS_OK or ORCS_ENOTFOUND when it already fired
// (one-shot) or was never started.
ORCS_EXPORT orcs_status orcs_actor_timer_cancel(orcs_actor_t *self,
                                                uint64_t timer_id);

// Publishes an event on the node's bus under topic (e.g. "status.restart",
// "run.r-42.step"). Takes ownership of *body_p (NULL = null body) and sets
// it to NULL. Events may be dropped under load (pub/sub). Returns ORCS_OK or
// ORCS_ETOOBIG for a topic over ORCS_MSG_TOPIC_MAX.
ORCS_EXPORT orcs_status orcs_actor_publish(orcs_actor_t *self,
                                           const char *topic,
                                           json_t **body_p);

// Whether anyone on the node subscribes to a prefix of topic, so that a
// publish would deliver it (publish drops what nobody hears). Lets an actor
// skip building an event nobody will read. Lock-free when nothing is
// subscribed.
ORCS_EXPORT bool orcs_actor_heard(const orcs_actor_t *self, const char *topic);

// orcs_actor_heard for a run's event, topic "run.<run>.<event>"
// (orcs_msg_run_topic): false when run is "" or the topic is too long.
ORCS_EXPORT bool orcs_actor_run_heard(const orcs_actor_t *self,
                                      const char *run,
                                      const char *event);

// orcs_actor_publish under a run's event topic, "run.<run>.<event>". Takes
// *body_p as publish does. Returns ORCS_OK (also when run is "": outside a
// run there is nothing to publish), or ORCS_ETOOBIG for a topic over
// ORCS_MSG_TOPIC_MAX.
ORCS_EXPORT orcs_status orcs_actor_run_publish(orcs_actor_t *self,
                                               const char *run,
                                               const char *event,
                                               json_t **body_p);

// Subscribes to events whose topic starts with prefix ("" = all). Events
// arrive in receive as kind ORCS_MSG_EVENT. Returns ORCS_OK.
ORCS_EXPORT orcs_status orcs_actor_subscribe(orcs_actor_t *self,
                                             const char *prefix);

// Watches a file descriptor in the actor's poll loop; fn is called on the
// actor's thread when it is ready. One watch per fd. Returns ORCS_OK,
// ORCS_EEXIST when fd is already watched.
ORCS_EXPORT orcs_status orcs_actor_watch(orcs_actor_t *self,
                                         int fd,
                                         short events,
                                         orcs_actor_watch_fn *fn,
                                         void *arg);

// Stops watching fd. Returns ORCS_OK or ORCS_ENOTFOUND.
ORCS_EXPORT orcs_status orcs_actor_unwatch(orcs_actor_t *self, int fd);

// Marks the actor failed with status and a reason (copied, for `orcs
// status`). When the current callback returns, the actor stops and its
// supervisor handles the failure. status must be an error.
ORCS_EXPORT void
orcs_actor_fail(orcs_actor_t *self, orcs_status status, const char *reason);

// Asks the actor to stop normally after the current callback (exit reason
// ORCS_OK: a transient child is then not restarted).
ORCS_EXPORT void orcs_actor_stop(orcs_actor_t *self);

// The actor's unique name (a pool member's name is "pool#N"). Borrowed:
// valid for the incarnation.
ORCS_EXPORT const char *orcs_actor_name(const orcs_actor_t *self);

// The node the actor runs in.
ORCS_EXPORT orcs_node_t *orcs_actor_node(const orcs_actor_t *self);

// The incarnation number: 1 for the first start, +1 per restart.
ORCS_EXPORT uint32_t orcs_actor_incarnation(const orcs_actor_t *self);

#ifdef __cplusplus
}
#endif
#endif
