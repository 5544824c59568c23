/*  greeter.c — a custom actor written in C, as a plug-in or linked in.

    It answers asks of type "greet" ({"name": "Ada"}) with
    {"text": "<greeting>, Ada", "count": N} where greeting comes from its
    config ({greeting: hello}) and N counts greetings in this incarnation.
    An ask of type "boom" makes it fail, so you can watch its supervisor
    restart it (`orcs status`).
    SPDX-License-Identifier: MPL-2.0 */
#include <stdlib.h>
#include <string.h>

#include <orcs/orcs.h>

typedef struct {
    char *greeting; // from config, default "hello"
    int count;      // greetings so far in this incarnation
} greeter_t;

static orcs_status
s_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    greeter_t *self = calloc(1, sizeof *self);
    if (!self)
        return ORCS_EINTERNAL;
    const char *greeting =
        json_string_value(json_object_get(config, "greeting"));
    self->greeting = strdup(greeting ? greeting : "hello");
    *state_p = self;
    return ORCS_OK;
}

static orcs_status
s_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    greeter_t *self = state;
    orcs_msg_t *msg = *msg_p;
    if (orcs_msg_kind_of(msg) != ORCS_MSG_ASK)
        return ORCS_OK;
    if (strcmp(orcs_msg_type(msg), "boom") == 0) {
        orcs_actor_fail(actor, ORCS_EFAILED, "asked to go boom");
        return ORCS_OK;
    }
    const json_t *body = NULL;
    orcs_msg_t *reply = orcs_msg_new("greeting");
    if (strcmp(orcs_msg_type(msg), "greet") != 0
        || orcs_msg_body(msg, &body) != ORCS_OK
        || !json_is_string(json_object_get(body, "name"))) {
        orcs_msg_set_status(reply, ORCS_EINVAL);
    } else {
        json_t *answer =
            json_pack("{s:s++, s:i}", "text", self->greeting, ", ",
                      json_string_value(json_object_get(body, "name")), "count",
                      ++self->count);
        orcs_msg_set_body(reply, &answer);
    }
    orcs_status rc = orcs_actor_reply(actor, msg, &reply);
    orcs_msg_destroy(&reply); // still ours if the reply could not be sent
    return rc == ORCS_OK || rc == ORCS_ENOTFOUND ? ORCS_OK : rc;
}

static void
s_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    greeter_t *self = state;
    free(self->greeting);
    free(self);
}

static const orcs_actor_def_t s_greeter = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "greeter",
    .init = s_init,
    .receive = s_receive,
    .terminate = s_terminate,
};

// The plug-in entry point the node looks up with dlsym.
ORCS_PLUGIN_EXPORT const orcs_actor_def_t *
orcs_actor_plugin(void)
{
    return &s_greeter;
}
