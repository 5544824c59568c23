/*  link.c — the node's link endpoint for its child processes: a PULL
    socket on an abstract ipc:// address whose messages are forwarded, as
    they are, to the local actor named in their header. Frames that do not
    parse are counted against the link and dropped.
    SPDX-License-Identifier: MPL-2.0 */
#include "internal.h"

typedef struct {
    zsock_t *pull; // bound at the node's link endpoint
    void *raw;     // zsock_resolve(pull)
} s_link_t;

static orcs_status
s_link_ready(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) fd;
    (void) events;
    (void) arg;
    s_link_t *link = state;
    orcs__dir_t *dir = orcs__node_dir(orcs_actor_node(actor));
    for (int i = 0; i < 256; i++) {
        orcs_msg_t *msg = NULL;
        orcs_status rc = orcs__msg_recv(link->raw, ZMQ_DONTWAIT, &msg);
        if (rc == ORCS_EAGAIN || rc == ORCS_ECLOSED)
            break;
        if (rc != ORCS_OK) {
            orcs__malformed(orcs_actor_node(actor),
                            orcs__dir_get(dir, orcs_actor_name(actor), false),
                            "link", rc);
            continue;
        }
        rc = orcs__actor_forward(actor, &msg);
        if (rc != ORCS_OK)
            orcs_log_debug("link", "cannot forward to=%s status=%s",
                           orcs_msg_to(msg), orcs_status_name(rc));
        orcs_msg_destroy(&msg);
    }
    return ORCS_OK;
}

static orcs_status
s_link_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) config;
    orcs_node_t *node = orcs_actor_node(actor);
    s_link_t *link = orcs_calloc(1, sizeof *link);
    *state_p = link;
    link->pull = zsock_new(ZMQ_PULL);
    zsock_set_linger(link->pull, 0);
    zsock_set_rcvhwm(link->pull, 100000);
    zsock_set_maxmsgsize(link->pull, orcs__node_max_message_bytes(node));
    if (zsock_bind(link->pull, "%s", orcs__node_link_endpoint(node)) < 0) {
        orcs_actor_fail(actor, ORCS_EIO, "cannot bind the link endpoint");
        return ORCS_OK;
    }
    link->raw = zsock_resolve(link->pull);
    return orcs__actor_watch_socket(actor, link->raw, s_link_ready, NULL);
}

static orcs_status
s_link_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) actor;
    (void) state;
    (void) msg_p;
    return ORCS_OK;
}

static void
s_link_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_link_t *link = state;
    zsock_destroy(&link->pull);
    free(link);
}

const orcs_actor_def_t orcs__link_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "link",
    .init = s_link_init,
    .receive = s_link_receive,
    .terminate = s_link_terminate,
};
