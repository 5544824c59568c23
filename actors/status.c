/*  status.c — the status actor: answers the node's control endpoint
    (`orcs status`) with the live supervision tree and every actor's
    counters, and keeps the recent restarts it hears on `status.`.
    Control requests are envelope + MessagePack frames on a ROUTER socket;
    malformed ones are counted and dropped.
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "internal.h"

#define S_RECENT_MAX 64 // restarts remembered

typedef struct {
    zsock_t *router; // bound at the control endpoint
    json_t *recent;  // last restarts heard on status.restart
} s_status_t;

static void
s_answer(s_status_t *self,
         orcs_actor_t *actor,
         zframe_t *identity,
         orcs_msg_t *request)
{
    orcs_node_t *node = orcs_actor_node(actor);
    orcs_msg_t *reply = orcs_msg_new(orcs_msg_type(request));
    reply->env.kind = ORCS_MSG_REPLY;
    reply->env.correlation_id = request->env.correlation_id;
    json_t *body = NULL;
    if (strcmp(orcs_msg_type(request), "status") == 0) {
        body = orcs_node_status(node);
        json_object_set(body, "recent_restarts", self->recent);
    } else if (strcmp(orcs_msg_type(request), "stop") == 0) {
        body = json_pack("{s:b}", "stopping", 1);
        orcs_node_request_stop(node);
    } else {
        orcs_msg_set_status(reply, ORCS_ENOTFOUND);
        body = json_pack("{s:s}", "error", "unknown control request");
    }
    orcs_msg_set_body(reply, &body);
    void *raw = zsock_resolve(self->router);
    if (zframe_send(&identity, self->router, ZFRAME_MORE | ZFRAME_REUSE) == 0)
        orcs__msg_send(reply, raw, ZMQ_DONTWAIT);
    orcs_msg_destroy(&reply);
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
    free(self);
}

const orcs_actor_def_t orcs__status_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "status",
    .init = s_status_init,
    .receive = s_status_receive,
    .terminate = s_status_terminate,
};
