/*  orcs/node.h — a node: one per process. It owns the ZeroMQ context, the
    directory of actor names, the event bus, the root supervisor and the
    control endpoint.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_NODE_H_INCLUDED
#define ORCS_NODE_H_INCLUDED

#include <stdbool.h>

#include <jansson.h>

#include "orcs/actor.h"
#include "orcs/msg.h"
#include "orcs/status.h"
#include "orcs/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct orcs_client_t orcs_client_t;

// Creates a node with the default config (see orcs_config_new_default).
// Call orcs_runtime_init() first. Caller owns the result; destroy with
// orcs_node_destroy().
ORCS_EXPORT orcs_node_t *orcs_node_new(void);

// Stops the node if it runs, then frees it; safe with *self_p NULL; sets it
// to NULL.
ORCS_EXPORT void orcs_node_destroy(orcs_node_t **self_p);

// Uses a node config document (orcs_config_doc() of a loaded config; it is
// copied). config_dir resolves relative plug-in paths (may be NULL). Call
// before orcs_node_start. Returns ORCS_OK, ORCS_ECONFIG when the document
// is not a valid node config (orcs_node_error says why), ORCS_EINVAL when
// the node already started.
ORCS_EXPORT orcs_status orcs_node_configure(orcs_node_t *self,
                                            const json_t *config,
                                            const char *config_dir);

// Registers a built-in actor kind under def->kind; def must outlive the
// node (a static table). Returns ORCS_OK, ORCS_EEXIST when the kind is
// taken, ORCS_EINVAL for a def without receive or with a wrong abi.
ORCS_EXPORT orcs_status orcs_node_register_kind(orcs_node_t *self,
                                                const orcs_actor_def_t *def);

// Sets the program started for out-of-process children (`process: true`);
// it must accept `child` as `orcs` does. Default: this process's own
// executable. Returns ORCS_OK.
ORCS_EXPORT orcs_status orcs_node_set_child_program(orcs_node_t *self,
                                                    const char *path);

// Starts the node: creates the data directory, opens the store in
// DATA/store, binds the control endpoint (ipc://DATA/control.sock unless
// `control` is set), starts the event bus, the status actor and the
// supervision tree, in that order. Returns ORCS_OK; ORCS_ECONFIG when an
// actor kind is unknown or a plug-in does not load; ORCS_EFAILED when an
// actor's init failed; ORCS_EIO when the data directory, the store or an
// endpoint cannot be used; ORCS_EPROTO when DATA/store is not an orcs store
// or was written by a newer orcs. orcs_node_error tells which.
ORCS_EXPORT orcs_status orcs_node_start(orcs_node_t *self);

// Runs until SIGINT or SIGTERM (the node installs handlers while it runs),
// orcs_node_request_stop(), or a failure of the root supervisor; then stops
// the node. Returns ORCS_OK for a requested stop or the root failure's
// status (orcs_node_error says what failed).
ORCS_EXPORT orcs_status orcs_node_run(orcs_node_t *self);

// Asks a running node to stop; safe from any thread and from a signal
// handler.
ORCS_EXPORT void orcs_node_request_stop(orcs_node_t *self);

// Stops the supervision tree (children in reverse start order), the status
// actor and the bus. Safe to call twice. Returns ORCS_OK.
ORCS_EXPORT orcs_status orcs_node_stop(orcs_node_t *self);

// Starts a child under a running supervisor: for simple_one_for_one, an
// instance of the template child named `name` with `config` (NULL = the
// template's); for other strategies a full child spec (JSON object as in
// the node config) is expected in config and name is its name. Blocks until
// the child runs. Not for use inside actors. Returns ORCS_OK, ORCS_ENOTFOUND
// (no such supervisor), ORCS_EEXIST (name taken), ORCS_EFAILED (init
// failed), ORCS_ETIMEDOUT.
ORCS_EXPORT orcs_status orcs_node_start_child(orcs_node_t *self,
                                              const char *supervisor,
                                              const char *name,
                                              const json_t *config);

// Stops and removes a child of a supervisor (OTP terminate_child +
// delete_child). Returns ORCS_OK, ORCS_ENOTFOUND, ORCS_ETIMEDOUT.
ORCS_EXPORT orcs_status orcs_node_stop_child(orcs_node_t *self,
                                             const char *supervisor,
                                             const char *name);

// A snapshot of the node as JSON: {"node", "pid", "uptime_s", "malformed",
// "actors": [{"name", "supervisor", "kind", "state", "incarnation",
// "restarts", "msgs_in", "msgs_out", "mailbox_depth", "mailbox_bound",
// "malformed", "last_error", "pid"}]} in start order. Thread-safe. Caller
// owns the result; destroy with json_decref().
ORCS_EXPORT json_t *orcs_node_status(orcs_node_t *self);

// Accessors. Strings are borrowed: valid while the node lives.
ORCS_EXPORT const char *orcs_node_name(const orcs_node_t *self);
ORCS_EXPORT const char *orcs_node_data_dir(const orcs_node_t *self);
ORCS_EXPORT const char *orcs_node_control_endpoint(const orcs_node_t *self);
// The node's store (thread-safe, see orcs/store.h); NULL unless the node
// has started and not stopped. Borrowed: valid until orcs_node_stop().
ORCS_EXPORT orcs_store_t *orcs_node_store(orcs_node_t *self);
// The last error message ("" when none). Thread-safe copy into buf.
ORCS_EXPORT const char *
orcs_node_error(orcs_node_t *self, char *buf, size_t size);

// ---- Extensions: objects and hooks other layers keep on the node

// Destroys an extension object when the node is destroyed.
typedef void(orcs_node_ext_destroy_fn)(void *object);

// Keeps object on the node under name (copied), e.g. the tool registry
// ("tools"); destroy (may be NULL) runs when the node is destroyed, newest
// extension first. Thread-safe. Returns ORCS_OK or ORCS_EEXIST when name
// is taken (object is then not kept: the caller still owns it).
ORCS_EXPORT orcs_status orcs_node_ext_set(orcs_node_t *self,
                                          const char *name,
                                          void *object,
                                          orcs_node_ext_destroy_fn *destroy);

// The object kept under name, or NULL. Borrowed: valid until the node is
// destroyed. Thread-safe.
ORCS_EXPORT void *orcs_node_ext(orcs_node_t *self, const char *name);

// A reload hook: reloads what it owns (it may run on any thread, one at a
// time) and returns a report (owned by the caller; NULL = null).
typedef json_t *(orcs_node_reload_fn) (orcs_node_t *node, void *arg);

// Registers a reload hook under name (copied). Hooks run on SIGHUP (in
// orcs_node_run) and on orcs_node_reload. Returns ORCS_OK or ORCS_EEXIST.
ORCS_EXPORT orcs_status orcs_node_on_reload(orcs_node_t *self,
                                            const char *name,
                                            orcs_node_reload_fn *fn,
                                            void *arg);

// Runs every reload hook in registration order and returns {name:
// report}. Caller owns the result. Thread-safe.
ORCS_EXPORT json_t *orcs_node_reload(orcs_node_t *self);

// ---- Blocking helpers for code outside actors (CLI, tests, embedding).

// Creates a client: a mailbox registered in the node under a unique name
// ("client.PID.N"), usable from one thread. Caller owns the result; destroy
// with orcs_client_destroy() before the node.
ORCS_EXPORT orcs_client_t *orcs_client_new(orcs_node_t *node);

// Destroys a client; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_client_destroy(orcs_client_t **self_p);

// The client's address. Borrowed: valid while the client lives.
ORCS_EXPORT const char *orcs_client_name(const orcs_client_t *self);

// Sends as orcs_actor_send does, waiting at most timeout_ms on a full
// mailbox. Takes ownership of *msg_p on success and sets it to NULL; on
// error the caller keeps it. Statuses as orcs_actor_send.
ORCS_EXPORT orcs_status orcs_client_send(orcs_client_t *self,
                                         const char *to,
                                         orcs_msg_t **msg_p,
                                         int timeout_ms);

// Sends an ask and waits up to timeout_ms for its reply, which the caller
// owns (*reply_p). Other messages that arrive meanwhile are kept for
// orcs_client_recv. Returns ORCS_OK (the reply's own status says whether
// the callee succeeded), ORCS_ETIMEDOUT, or a send status.
ORCS_EXPORT orcs_status orcs_client_ask(orcs_client_t *self,
                                        const char *to,
                                        orcs_msg_t **msg_p,
                                        int timeout_ms,
                                        orcs_msg_t **reply_p);

// Receives the next message or subscribed event, waiting up to timeout_ms
// (-1 = forever). Caller owns *msg_p. Returns ORCS_OK or ORCS_ETIMEDOUT.
ORCS_EXPORT orcs_status orcs_client_recv(orcs_client_t *self,
                                         int timeout_ms,
                                         orcs_msg_t **msg_p);

// Subscribes the client to events whose topic starts with prefix, and
// waits (up to 2 s) until the subscription has reached the node's bus, so
// that events published after it returns are delivered; events that
// arrive meanwhile are kept for orcs_client_recv. Returns ORCS_OK.
ORCS_EXPORT orcs_status orcs_client_subscribe(orcs_client_t *self,
                                              const char *prefix);

// Sends a request to a node's control endpoint (ipc:// or tcp://) from any
// process and waits up to timeout_ms for the answer. type is the request
// ("status"). Caller owns *reply_p (the answer's body). Returns ORCS_OK,
// ORCS_ETIMEDOUT (no node answered), ORCS_EPROTO (bad answer), or the
// status the node answered with.
ORCS_EXPORT orcs_status orcs_control_request(const char *endpoint,
                                             const char *type,
                                             const json_t *body,
                                             int timeout_ms,
                                             json_t **reply_p);

#ifdef __cplusplus
}
#endif
#endif
