/*  internal.h — private types shared by the runtime's modules.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_INTERNAL_H_INCLUDED
#define ORCS_INTERNAL_H_INCLUDED

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <czmq.h>

#include "envelope.pb.h"
#include "orcs/orcs.h"

// ---- messages on the wire (msg.c)

struct orcs_msg_t {
    Envelope env;        // decoded header
    json_t *body;        // decoded or set body; NULL = not decoded / null
    uint8_t *raw;        // encoded body owned by us (malloc), or NULL
    size_t raw_size;     // bytes in raw
    zmq_msg_t frame;     // received body frame (zero copy)
    bool has_frame;      // frame holds the body bytes
    size_t frame_offset; // where the body starts in frame
    size_t frame_end;    // where it ends (0: at the frame's end)
    bool body_is_null;   // no body at all (null)
};

// Sends msg (header then body frame) on a raw zmq socket with zmq flags
// (ZMQ_DONTWAIT). Does not take ownership. Returns ORCS_OK, ORCS_EAGAIN
// when the socket would block, ORCS_ETOOBIG for an oversized field,
// ORCS_ECLOSED when the socket is gone.
orcs_status orcs__msg_send(orcs_msg_t *msg, void *socket, int flags);

// The last header encoded or decoded on a path, so a stream of messages
// with the same header costs a comparison instead of a nanopb pass. The
// sender caches the header without its per-message fields (correlation id,
// run id, deadline, status), which it appends as an EnvelopeDelta: protobuf
// merges concatenated encodings, last value wins. (An agent actor serves
// thousands of runs: with the run id in the cached part, every message to
// the model missed the cache.)
typedef struct {
    Envelope env;                       // what bytes encode
    uint8_t bytes[ORCS_MSG_HEADER_MAX]; // the encoding
    size_t size;                        // its length; 0 = empty cache
    uint32_t last_tag; // receiver: the field number bytes end with
} orcs__header_cache_t;

// orcs__msg_send with a header cache (see orcs__header_cache_t).
orcs_status orcs__msg_send_cached(orcs_msg_t *msg,
                                  void *socket,
                                  int flags,
                                  orcs__header_cache_t *cache);

// Messages that one actor sends to one local mailbox during a callback,
// gathered into one batch frame (docs/architecture.md, "Batches"): a zero
// byte (a header size no message has), then varint(frame size) and the
// message frame, once per message. One batch costs one zmq send.
typedef struct {
    uint8_t *data;  // 0x00, then the framed messages
    size_t size;    // bytes used
    size_t alloc;   // bytes allocated
    unsigned count; // messages in it
    size_t first;   // where the first message's frame starts
} orcs__batch_t;

#define ORCS__BATCH_BYTES 32768 // a batch is sent once it holds this much
#define ORCS__BATCH_MAX   512   // or this many messages

// Appends msg's frame to batch (header through cache). Returns ORCS_OK, or
// ORCS_ETOOBIG for an oversized header. Does not take msg.
orcs_status orcs__batch_add(orcs__batch_t *batch,
                            orcs_msg_t *msg,
                            orcs__header_cache_t *cache);

// Sends what batch holds as one frame (a lone message goes as a plain
// frame) and empties it. Returns ORCS_OK (also when empty), ORCS_EAGAIN
// when the socket would block (batch kept), ORCS_ECLOSED.
orcs_status orcs__batch_send(orcs__batch_t *batch, void *socket, int flags);

// Frees a batch's buffer.
void orcs__batch_free(orcs__batch_t *batch);

// Moves batch's messages into a new frame (*frame initialised here), as
// orcs__batch_send would send it: one message alone as itself. Returns
// ORCS_OK, or ORCS_EAGAIN when the batch is empty.
orcs_status orcs__batch_frame(orcs__batch_t *batch, zmq_msg_t *frame);

// Where a receiver is inside a batch frame it is splitting.
typedef struct {
    zmq_msg_t frame; // the batch (open while active)
    size_t pos;      // next message's varint
    bool active;     // messages left in frame
} orcs__rx_batch_t;

// orcs__msg_recv with a header cache.
// spare_p (may be NULL) lends an emptied message to fill instead of
// allocating one (see orcs__msg_recycle). With rx (may be NULL) batch
// frames are split, one message per call, the messages sharing the
// frame's bytes; without it a batch frame is refused with ORCS_EPROTO.
orcs_status orcs__msg_recv_cached(void *socket,
                                  int flags,
                                  orcs__header_cache_t *cache,
                                  orcs_msg_t **spare_p,
                                  orcs__rx_batch_t *rx,
                                  orcs_msg_t **msg_p);

// orcs__msg_recv_cached for a frame taken from a local queue (local.c)
// instead of a socket: *frame is moved into the message (or rx), which
// must not be splitting a batch still.
orcs_status orcs__msg_recv_frame(zmq_msg_t *frame,
                                 orcs__header_cache_t *cache,
                                 orcs_msg_t **spare_p,
                                 orcs__rx_batch_t *rx,
                                 orcs_msg_t **msg_p);

// The number of messages in a frame: 1, or those of a batch frame up to
// a damaged length, which ends it as it ends splitting it.
int64_t orcs__frame_count(const uint8_t *data, size_t size);

// Closes what rx still holds (messages left unread are dropped).
void orcs__rx_batch_close(orcs__rx_batch_t *rx);

// Empties *msg_p and keeps it in *spare_p for the next receive (or destroys
// it when a spare is already kept). *msg_p is NULL afterwards.
void orcs__msg_recycle(orcs_msg_t **msg_p, orcs_msg_t **spare_p);

// Parses a message frame: varint(header size), header, body. Sets *env and
// the body's offset. Returns ORCS_OK or ORCS_EPROTO (also for a batch
// frame: header size 0).
orcs_status orcs__frame_decode(const uint8_t *data,
                               size_t size,
                               orcs__header_cache_t *cache,
                               Envelope *env,
                               size_t *body_offset_p);

// Receives one message from a raw zmq socket. A message that is not exactly
// one frame, whose header does not decode, or whose version is unknown is
// drained and refused with ORCS_EPROTO. Returns ORCS_EAGAIN with
// ZMQ_DONTWAIT when nothing is there. Caller owns *msg_p.
orcs_status orcs__msg_recv(void *socket, int flags, orcs_msg_t **msg_p);

// Decodes a header frame. Returns ORCS_OK or ORCS_EPROTO.
orcs_status
orcs__envelope_decode(const uint8_t *data, size_t size, Envelope *env);

// Encodes a header into buf. Returns the size, or 0 when it does not fit.
size_t orcs__envelope_encode(const Envelope *env, uint8_t *buf, size_t size);

// Copies a C string into a fixed header field. Returns ORCS_ETOOBIG when it
// does not fit (field unchanged).
orcs_status orcs__field_set(char *field, size_t size, const char *value);

// ---- the directory of names (directory.c)

typedef enum {
    ORCS__STATE_STARTING = 0,
    ORCS__STATE_RUNNING,
    ORCS__STATE_RESTARTING,
    ORCS__STATE_STOPPING,
    ORCS__STATE_STOPPED,
    ORCS__STATE_FAILED,
    ORCS__STATE_HUNG
} orcs__state;

const char *orcs__state_name(orcs__state state);

typedef struct orcs__local_frame_t orcs__local_frame_t;
typedef struct orcs__entry_t orcs__entry_t;
struct orcs__entry_t {
    char name[ORCS_ACTOR_NAME_MAX + 1];       // unique name in the node
    char supervisor[ORCS_ACTOR_NAME_MAX + 1]; // parent supervisor ("" = node)
    char kind[128];                           // actor kind or plug-in path
    orcs__entry_t *pool;                      // pool entry of a member
    bool is_pool;                             // routes to its members
    bool is_supervisor;                       // a supervisor actor
    bool is_client;                           // an orcs_client_t mailbox
    bool removed;                             // deleted; not listed
    bool remote;                              // mailbox in another process
    int order;                                // start order, for listings
    int mailbox_bound;                        // messages queued at most
    atomic_uint generation;                   // bumps when endpoints change
    atomic_int state;                         // orcs__state
    atomic_uint incarnation;                  // 1 on first start
    atomic_uint restarts;                     // restarts so far
    atomic_uint_fast64_t msgs_in;             // handled by the actor
    atomic_uint_fast64_t msgs_out;            // sent by the actor
    atomic_uint_fast64_t malformed;           // frames refused by its sockets
    atomic_int_fast64_t queued;  // in its mailbox now (local senders)
    atomic_uint_fast64_t nudges; // bumped by threads that wake it through
                                 // a watched fd (the store's write queue)
    atomic_int pid;              // process of an out-of-process child
    // The local queue: frames from threads of this process, handed over
    // without ZeroMQ (local.c; docs/architecture.md, "Local delivery").
    pthread_mutex_t local_lock;
    orcs__local_frame_t *local_head; // oldest
    orcs__local_frame_t *local_tail; // newest
    bool local_sleeping;             // its actor sleeps in poll: wake it
    int local_fd;                    // eventfd that wakes it (-1: no queue)
    // under the directory mutex:
    char endpoint[160];   // mailbox endpoint ("" = none)
    char last_error[256]; // last failure, for status
};

// True when a thread of this process may put frames for entry on its
// local queue (local.c): an in-process actor (not a client, a pool or a
// child process).
bool orcs__local_eligible(const orcs__entry_t *entry);

// Appends frame (a message or a batch, as it would go to the mailbox;
// taken: left empty) to entry's local queue, waking its actor when it
// sleeps.
void orcs__local_push(orcs__entry_t *entry, zmq_msg_t *frame);

// Takes the oldest frame of entry's local queue into *frame (initialised
// here); false when there is none.
bool orcs__local_pop(orcs__entry_t *entry, zmq_msg_t *frame);

// Before its actor sleeps: returns false (and marks it sleeping, so the
// next push wakes it through local_fd) when the queue is empty; true when
// a frame waits.
bool orcs__local_arm(orcs__entry_t *entry);

// Reads entry's eventfd after it woke the actor.
void orcs__local_clear_wakeup(orcs__entry_t *entry);

// Destroys the frames left on entry's queue and takes their messages off
// its depth counter (the actor went away for good).
void orcs__local_drop(orcs__entry_t *entry);

// Sets up a new entry's queue; queue false (a client's entry) gives it
// none, and its messages go through ZeroMQ.
void orcs__local_init(orcs__entry_t *entry, bool queue);

// Drops what is left and closes the queue (the directory is destroyed).
void orcs__local_fini(orcs__entry_t *entry);

typedef struct orcs__dir_t orcs__dir_t;

orcs__dir_t *orcs__dir_new(void);
void orcs__dir_destroy(orcs__dir_t **self_p);

// Returns the entry for name, creating it when create is set (a removed
// entry is revived). NULL when absent and !create. Entries live as long as
// the directory.
orcs__entry_t *orcs__dir_get(orcs__dir_t *self, const char *name, bool create);

// Sets an entry's endpoint and bumps the generation (and its pool's).
void orcs__dir_set_endpoint(orcs__dir_t *self,
                            orcs__entry_t *entry,
                            const char *endpoint);

// Copies the endpoints of an entry (one, or each member of a pool) into a
// new zlist of strings and returns the generation read with them.
unsigned orcs__dir_endpoints(orcs__dir_t *self,
                             orcs__entry_t *entry,
                             zlist_t **endpoints_p);

// Records a failure text for status.
void
orcs__dir_set_error(orcs__dir_t *self, orcs__entry_t *entry, const char *text);

// Marks an entry removed (its name may be reused).
void orcs__dir_remove(orcs__dir_t *self, orcs__entry_t *entry);

// The entry of a new client named name (a new name): the entry of a
// destroyed client when there is one (so a process that makes a client per
// request keeps a bounded directory), else a new one. NULL when the name
// is too long.
orcs__entry_t *orcs__dir_client(orcs__dir_t *self, const char *name);

// Removes a destroyed client's entry and keeps it for orcs__dir_client.
void orcs__dir_client_release(orcs__dir_t *self, orcs__entry_t *entry);

// Entries ever made (live, removed and spare).
size_t orcs__dir_count(orcs__dir_t *self);

// Marks every entry under a supervisor removed, recursively.
void orcs__dir_remove_tree(orcs__dir_t *self, const char *supervisor);

// JSON array of entries in start order (no clients, no removed ones).
json_t *orcs__dir_status(orcs__dir_t *self);

// Sets/gets the uplink: where names unknown here are sent (child processes
// route everything but themselves to their node).
void orcs__dir_set_uplink(orcs__dir_t *self, const char *endpoint);
bool orcs__dir_uplink(orcs__dir_t *self, char *buf, size_t size);

// ---- actors (actor.c, timers.c)

typedef struct orcs__timers_t orcs__timers_t;

typedef struct orcs__watch_t {
    int fd;                  // watched descriptor, or -1 for a zmq socket
    void *socket;            // watched raw zmq socket, or NULL
    short events;            // ZMQ_POLLIN/ZMQ_POLLOUT
    orcs_actor_watch_fn *fn; // callback
    void *arg;               // its argument
} orcs__watch_t;

struct orcs_actor_t {
    orcs_node_t *node;                    // the node it runs in
    const orcs_actor_def_t *def;          // callbacks
    void *state;                          // the actor's own state
    json_t *config;                       // its config (owned)
    orcs__entry_t *entry;                 // directory record
    char name[ORCS_ACTOR_NAME_MAX + 1];   // unique name
    char parent[ORCS_ACTOR_NAME_MAX + 1]; // supervisor to tell on exit
    uint32_t incarnation;                 // 1, 2, ...
    zsock_t *mailbox;                     // PULL; owned by the supervisor
    void *mailbox_raw;                    // zsock_resolve(mailbox)
    zsock_t *pub;                         // PUB to the bus, made on demand
    zsock_t *sub;                         // SUB from the bus, made on demand
    zlist_t *sub_prefixes;                // its subscriptions (strings)
    zhashx_t *routes;                     // address -> orcs__route_t
    size_t routes_sweep_at;               // sweep stale routes at this size
    void *last_route;                     // the route used last (cache)
    orcs_msg_t *spare;                    // an emptied message to reuse
    char last_route_name[ORCS_MSG_ADDRESS_MAX + 1]; // its address
    orcs__timers_t *timers;                         // timers and pending asks
    orcs__watch_t *watches;                         // watched fds and sockets
    size_t watch_count;                             // used entries of watches
    size_t watch_alloc;            // allocated entries of watches
    uint64_t next_id;              // timer and correlation ids
    bool stop;                     // leave the loop after this callback
    orcs_status exit_status;       // why it stops
    char exit_reason[256];         // failure text
    bool is_client;                // a blocking client, no thread
    int send_timeout_ms;           // default wait on a full mailbox
    atomic_uint_fast64_t busy_seq; // odd while a callback runs
    atomic_bool abandoned;         // handshake: see orcs__actor_halt
    atomic_int refs;               // thread + supervisor
    atomic_int init_status;        // result of init, read after start
    zactor_t *zactor;              // the thread (supervisor side)
    orcs__header_cache_t rx_cache; // last header received
    orcs__rx_batch_t *rx_batch;    // batch being split, kept with mailbox
    bool rx_batch_own;             // rx_batch is ours to free
    bool batching;                 // gather sends per callback (threads)
    void **dirty;                  // routes with a batch to send
    size_t dirty_count;            // used entries of dirty
    size_t dirty_alloc;            // allocated entries of dirty
    int64_t dirty_since_us;        // when the oldest batch began
    int64_t active_at_us;          // when it last took mail (spin window)
    int spin_us;                   // the node's limits.spin_us
    int awaiting;                  // its store writes not answered yet
    zlist_t *inbox;                // client: messages kept aside
    bool probe_seen;               // client: its subscription probe is back
};

// Counts store writes the actor waits for (+1 sent, -1 answered); while
// some are pending it watches for mail longer before sleeping. Actor
// thread only.
void orcs__actor_awaiting_add(orcs_actor_t *actor, int delta);

// Routes (cached sockets to other actors) the actor holds now.
size_t orcs__actor_route_count(orcs_actor_t *actor);

// The counter that threads bump before they wake actor through a watched
// fd (it ends the actor's watch for mail; see limits.spin_us).
atomic_uint_fast64_t *orcs__actor_nudges(orcs_actor_t *actor);

// Options to start one incarnation of an in-process actor.
typedef struct {
    const orcs_actor_def_t *def; // callbacks
    const char *name;            // unique name
    const char *parent;          // supervisor name
    const json_t *config;        // config (copied)
    orcs__entry_t *entry;        // directory record
    zsock_t *mailbox;            // bound mailbox, lent to the incarnation
    orcs__rx_batch_t *rx_batch;  // its split state, lent likewise (NULL:
                                 // the incarnation keeps its own)
    uint32_t incarnation;        // incarnation number
} orcs__spawn_opts_t;

// Starts an incarnation on a new thread and waits for its init. On success
// *actor_p is the handle (stop it with orcs__actor_halt). On init failure
// returns its status and writes the reason into err.
orcs_status orcs__actor_spawn(orcs_node_t *node,
                              const orcs__spawn_opts_t *opts,
                              orcs_actor_t **actor_p,
                              char *err,
                              size_t err_size);

// Stops an incarnation: $TERM, then waits up to timeout_ms for its thread
// (0 = do not wait: abandon a hung one). Returns ORCS_OK when the thread
// finished (the mailbox is the caller's again), or ORCS_ETIMEDOUT when it
// did not: the thread is abandoned, keeps the mailbox and frees everything
// itself if its callback ever returns. *actor_p is NULL afterwards.
orcs_status orcs__actor_halt(orcs_actor_t **actor_p, int timeout_ms);

// The callback sequence number: odd while a callback runs. A supervisor
// that sees the same odd value for longer than heartbeat_ms has a hung
// child.
uint64_t orcs__actor_busy_seq(orcs_actor_t *actor);

// Creates a bound mailbox socket for name (endpoint written into buf).
orcs_status orcs__mailbox_new(orcs_node_t *node,
                              const char *name,
                              int bound,
                              bool ipc,
                              zsock_t **mailbox_p,
                              char *endpoint,
                              size_t size);

// Watches a zmq socket in the actor's loop (control endpoints).
orcs_status orcs__actor_watch_socket(orcs_actor_t *self,
                                     void *socket,
                                     orcs_actor_watch_fn *fn,
                                     void *arg);

// Forwards a message as it is (from and incarnation kept) to its `to`.
// Ownership and statuses as orcs_actor_send.
orcs_status orcs__actor_forward(orcs_actor_t *self, orcs_msg_t **msg_p);

// The blocking client is a thread-less actor.
struct orcs_client_t {
    orcs_actor_t actor; // routes, mailbox, entry; no thread
};

// Creates a client with a fixed name (the node's own inbox).
orcs_client_t *orcs__client_new_named(orcs_node_t *node, const char *name);

// Counts and logs (at most once per interval) a malformed frame.
void orcs__malformed(orcs_node_t *node,
                     orcs__entry_t *entry,
                     const char *where,
                     orcs_status status);

// ---- timers (timers.c): a heap of deadlines, with ids for cancellation

typedef struct {
    uint64_t id;                      // timer or correlation id
    int64_t due_us;                   // monotonic deadline
    int64_t interval_us;              // 0 = one shot
    void *arg;                        // user argument
    bool is_ask;                      // a pending ask's deadline
    char type[ORCS_MSG_TYPE_MAX + 1]; // ask: the request's type
    size_t heap_index;                // position in the heap
} orcs__timer_t;

orcs__timers_t *orcs__timers_new(void);
void orcs__timers_destroy(orcs__timers_t **self_p);
orcs__timer_t *orcs__timers_add(orcs__timers_t *self,
                                uint64_t id,
                                int64_t due_us,
                                int64_t interval_us);
orcs__timer_t *orcs__timers_find(orcs__timers_t *self, uint64_t id);
// Removes and frees a timer.
void orcs__timers_remove(orcs__timers_t *self, orcs__timer_t *timer);
// The earliest timer, or NULL.
orcs__timer_t *orcs__timers_first(orcs__timers_t *self);
// Moves a repeating timer to its next deadline.
void orcs__timers_reschedule(orcs__timers_t *self,
                             orcs__timer_t *timer,
                             int64_t due_us);
size_t orcs__timers_size(orcs__timers_t *self);

// ---- process-wide signals (sys.c)

// While a node runs, SIGINT and SIGTERM write one byte to fd.
void orcs__sys_catch_signals(int fd);
// Restores the default handlers.
void orcs__sys_release_signals(void);
// Sets czmq's socket limit; only a change reaches czmq (which aborts when
// sockets already exist), so set it from config before the first node.
void orcs__sys_set_max_sockets(size_t count);
// A process-wide counter, for endpoint names that must not repeat.
unsigned orcs__sys_next_id(void);
// Counts abandoned (hung) actor threads that have not returned yet.
void orcs__sys_abandoned_add(int delta);
int orcs__sys_abandoned(void);

// ---- node internals (node.c)

orcs__dir_t *orcs__node_dir(orcs_node_t *node);
const char *orcs__node_bus_in(orcs_node_t *node);
const char *orcs__node_bus_out(orcs_node_t *node);
uint64_t orcs__node_unique(orcs_node_t *node);
int orcs__node_send_timeout_ms(orcs_node_t *node);

// How long an actor watches its mailbox after work before it sleeps
// (limits.spin_us; 0 = never).
int orcs__node_spin_us(orcs_node_t *node);
// How many tasks of finished runs the orchestrator keeps in memory
// (limits.finished_tasks).
int orcs__node_finished_tasks(orcs_node_t *node);
int orcs__node_max_message_bytes(orcs_node_t *node);
// Resolves a kind name or plug-in path. err says why on failure.
orcs_status orcs__node_kind(orcs_node_t *node,
                            const char *kind,
                            const orcs_actor_def_t **def_p,
                            char *err,
                            size_t err_size);
const char *orcs__node_child_program(orcs_node_t *node);
const char *orcs__node_link_endpoint(orcs_node_t *node);
// The node config with defaults filled in (read-only; valid while the
// node lives and is not reconfigured).
const json_t *orcs__node_config(orcs_node_t *node);
// The node's subscriptions, so publishers skip events nobody hears:
// add and remove a prefix (counted), and whether any prefix of topic is
// subscribed. Thread-safe; has_subscriber is lock-free when nothing is
// subscribed.
void orcs__node_sub_add(orcs_node_t *node, const char *prefix);
void orcs__node_sub_remove(orcs_node_t *node, const char *prefix);
bool orcs__node_has_subscriber(orcs_node_t *node, const char *topic);
// The directory of the node's config file: relative paths in it resolve
// from there ("." when the config did not come from a file).
const char *orcs__node_config_dir(orcs_node_t *node);
void orcs__node_set_error(orcs_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Where a top-level supervisor reports its exit.
#define ORCS__NODE_INBOX "orcs.node"

// ---- supervision (supervisor.c)

extern const orcs_actor_def_t orcs__supervisor_def;
extern const orcs_actor_def_t orcs__link_def;

// ---- out-of-process children (process.c)

typedef struct {
    pid_t pid; // child process, or 0
    int pidfd; // pollable handle, or -1
} orcs__proc_t;

// Starts a child process hosting one actor that joins this node.
orcs_status orcs__proc_spawn(orcs_node_t *node,
                             const char *name,
                             const char *kind,
                             const json_t *config,
                             const char *parent,
                             const char *endpoint,
                             uint32_t incarnation,
                             orcs__proc_t *proc);
// Stops it: SIGTERM, wait up to timeout_ms, then SIGKILL. Reaps it.
void orcs__proc_stop(orcs__proc_t *proc, int timeout_ms);
// Reaps an exited child; returns its exit as a status and a reason.
orcs_status orcs__proc_reap(orcs__proc_t *proc, char *reason, size_t size);

// The `orcs child` entry point (argv after "child"). Returns an exit code.
ORCS_EXPORT int orcs_child_main(int argc, char **argv);

// ---- built-in actors (actors/)

extern const orcs_actor_def_t orcs__status_def;

#endif
