/*  status.c — the status actor: answers the node's control endpoint
    (`orcs status`) with the live supervision tree and every actor's
    counters, and keeps the recent restarts it hears on `status.`.
    Control requests are envelope + MessagePack frames on a ROUTER socket;
    malformed ones are counted and dropped. Requests: `status`, `stop`,
    `reload` (runs the node's reload hooks), and `ask` {to, type, body,
    timeout_ms}: forwarded as an ask to the actor `to`, whose reply (or
    timeout) goes back to the caller with its status.
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "internal.h"

#define S_RECENT_MAX   64     // restarts remembered
#define S_FORWARDS_MAX 1024   // control asks in flight
#define S_FORWARD_MS   600000 // longest forwarded ask

// A control ask forwarded to an actor, waiting for its reply.
typedef struct {
    uint64_t ours;      // correlation id of our ask
    uint64_t theirs;    // correlation id of the control request
    zframe_t *identity; // the caller on the router
} s_forward_t;

typedef struct {
    zsock_t *router;   // bound at the control endpoint
    json_t *recent;    // last restarts heard on status.restart
    zlistx_t *forward; // s_forward_t
} s_status_t;

static void
s_send_control(s_status_t *self,
               zframe_t **identity_p,
               uint64_t correlation_id,
               const char *type,
               orcs_status status,
               json_t **body_p)
{
    orcs_msg_t *reply = orcs_msg_new(type);
    reply->env.kind = ORCS_MSG_REPLY;
    reply->env.correlation_id = correlation_id;
    orcs_msg_set_status(reply, status);
    orcs_msg_set_body(reply, body_p);
    void *raw = zsock_resolve(self->router);
    if (zframe_send(identity_p, self->router, ZFRAME_MORE) == 0)
        orcs__msg_send(reply, raw, ZMQ_DONTWAIT);
    zframe_destroy(identity_p);
    orcs_msg_destroy(&reply);
}

// Forwards a control `ask` to its actor. Returns false with an error body
// when it cannot.
static bool
s_forward(s_status_t *self,
          orcs_actor_t *actor,
          zframe_t *identity,
          orcs_msg_t *request,
          json_t **error_p,
          orcs_status *status_p)
{
    const json_t *body = NULL;
    const char *to = NULL;
    const char *type = NULL;
    if (orcs_msg_body(request, &body) == ORCS_OK) {
        to = json_string_value(json_object_get(body, "to"));
        type = json_string_value(json_object_get(body, "type"));
    }
    if (!to || !type || !to[0] || !type[0]) {
        *status_p = ORCS_EINVAL;
        *error_p = json_pack("{s:s}", "error", "ask needs 'to' and 'type'");
        return false;
    }
    if (zlistx_size(self->forward) >= S_FORWARDS_MAX) {
        *status_p = ORCS_EAGAIN;
        *error_p = json_pack("{s:s}", "error", "too many control asks");
        return false;
    }
    json_int_t timeout =
        json_integer_value(json_object_get(body, "timeout_ms"));
    if (timeout <= 0 || timeout > S_FORWARD_MS)
        timeout = 30000;
    orcs_msg_t *ask = orcs_msg_new_json(type, json_object_get(body, "body"));
    uint64_t ours = 0;
    orcs_status rc = orcs_actor_ask(actor, to, &ask, (int) timeout, &ours);
    if (rc != ORCS_OK) {
        orcs_msg_destroy(&ask);
        *status_p = rc;
        *error_p =
            json_pack("{s:s, s:s}", "error", "cannot reach actor", "to", to);
        return false;
    }
    s_forward_t *entry = orcs_calloc(1, sizeof *entry);
    entry->ours = ours;
    entry->theirs = request->env.correlation_id;
    entry->identity = zframe_dup(identity);
    zlistx_add_end(self->forward, entry);
    return true;
}

// Sends a forwarded ask's reply (or timeout) back to its caller.
static void
s_forward_done(s_status_t *self, orcs_msg_t *msg)
{
    uint64_t id = orcs_msg_correlation_id(msg);
    for (s_forward_t *entry = zlistx_first(self->forward); entry;
         entry = zlistx_next(self->forward)) {
        if (entry->ours != id)
            continue;
        zlistx_detach_cur(self->forward);
        json_t *body = NULL;
        orcs_status status = orcs_msg_status(msg);
        if (orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT) {
            status = ORCS_ETIMEDOUT;
            body = json_pack("{s:s}", "error", "the actor did not answer");
        } else if (orcs_msg_take_body(msg, &body) != ORCS_OK) {
            status = ORCS_EPROTO;
            body = json_pack("{s:s}", "error", "malformed reply");
        }
        s_send_control(self, &entry->identity, entry->theirs, "ask", status,
                       &body);
        free(entry);
        return;
    }
}

static void
s_answer(s_status_t *self,
         orcs_actor_t *actor,
         zframe_t *identity,
         orcs_msg_t *request)
{
    orcs_node_t *node = orcs_actor_node(actor);
    json_t *body = NULL;
    orcs_status status = ORCS_OK;
    if (strcmp(orcs_msg_type(request), "status") == 0) {
        body = orcs_node_status(node);
        json_object_set(body, "recent_restarts", self->recent);
    } else if (strcmp(orcs_msg_type(request), "reload") == 0) {
        body = orcs_node_reload(node);
    } else if (strcmp(orcs_msg_type(request), "ask") == 0) {
        if (s_forward(self, actor, identity, request, &body, &status))
            return; // the actor's reply goes back in s_forward_done
    } else if (strcmp(orcs_msg_type(request), "stop") == 0) {
        body = json_pack("{s:b}", "stopping", 1);
        orcs_node_request_stop(node);
    } else {
        status = ORCS_ENOTFOUND;
        body = json_pack("{s:s}", "error", "unknown control request");
    }
    zframe_t *to = zframe_dup(identity);
    s_send_control(self, &to, request->env.correlation_id,
                   orcs_msg_type(request), status, &body);
}

static orcs_status
s_control_ready(
    orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) fd;
    (void) events;
    (void) arg;
    s_status_t *self = state;
    orcs__dir_t *dir = orcs__node_dir(orcs_actor_node(actor));
    void *raw = zsock_resolve(self->router);
    for (int i = 0; i < 64; i++) {
        zframe_t *identity = zframe_recv_nowait(self->router);
        if (!identity)
            break;
        orcs_msg_t *request = NULL;
        orcs_status rc = zframe_more(identity)
                             ? orcs__msg_recv(raw, 0, &request)
                             : ORCS_EPROTO;
        if (rc == ORCS_OK && request->env.kind != ORCS_MSG_ASK)
            rc = ORCS_EPROTO;
        if (rc != ORCS_OK)
            orcs__malformed(orcs_actor_node(actor),
                            orcs__dir_get(dir, orcs_actor_name(actor), false),
                            "control", rc);
        else
            s_answer(self, actor, identity, request);
        orcs_msg_destroy(&request);
        zframe_destroy(&identity);
    }
    return ORCS_OK;
}

static orcs_status
s_status_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) config;
    orcs_node_t *node = orcs_actor_node(actor);
    s_status_t *self = orcs_calloc(1, sizeof *self);
    *state_p = self;
    self->recent = json_array();
    self->forward = zlistx_new();
    self->router = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(self->router, 0);
    zsock_set_maxmsgsize(self->router, 1024 * 1024);
    const char *endpoint = orcs_node_control_endpoint(node);
    if (zsock_bind(self->router, "%s", endpoint) < 0) {
        char reason[512];
        snprintf(reason, sizeof reason, "cannot bind control endpoint %s",
                 endpoint);
        orcs_actor_fail(actor, ORCS_EIO, reason);
        return ORCS_OK;
    }
    orcs_actor_subscribe(actor, "status.");
    return orcs__actor_watch_socket(actor, zsock_resolve(self->router),
                                    s_control_ready, NULL);
}

static orcs_status
s_status_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    s_status_t *self = state;
    orcs_msg_t *msg = *msg_p;
    if (orcs_msg_kind_of(msg) == ORCS_MSG_REPLY
        || orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT) {
        s_forward_done(self, msg);
        return ORCS_OK;
    }
    if (orcs_msg_kind_of(msg) != ORCS_MSG_EVENT
        || strcmp(orcs_msg_topic(msg), "status.restart") != 0)
        return ORCS_OK;
    json_t *event = NULL;
    if (orcs_msg_take_body(msg, &event) != ORCS_OK)
        return ORCS_OK;
    json_object_set_new(event, "at", json_real(orcs_clock_wall_us() / 1e6));
    json_array_append_new(self->recent, event);
    if (json_array_size(self->recent) > S_RECENT_MAX)
        json_array_remove(self->recent, 0);
    return ORCS_OK;
}

static void
s_status_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_status_t *self = state;
    zsock_destroy(&self->router);
    json_decref(self->recent);
    s_forward_t *entry;
    while ((entry = zlistx_detach(self->forward, NULL))) {
        zframe_destroy(&entry->identity);
        free(entry);
    }
    zlistx_destroy(&self->forward);
    free(self);
}

const orcs_actor_def_t orcs__status_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "status",
    .init = s_status_init,
    .receive = s_status_receive,
    .terminate = s_status_terminate,
};
