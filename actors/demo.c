/*  demo.c — two small built-in actor kinds for demos, tests and
    benchmarks:
    - `echo` answers asks and obeys commands by message type: "ping"
      (reply {incarnation, pid, t_us}), "fail" (the callback returns
      EFAILED), "fail_call" (orcs_actor_fail), "stop" (normal stop),
      "crash" (segfault: run it with `process: true`), "hang" (blocks for
      body.ms, to trip a heartbeat), "die" (replies {t_us} then fails),
      "publish" (publishes its body on body.topic);
      anything else is echoed back. Config: {"fail_init": true} makes init
      fail.
    - `flaky` ticks every `tick_ms` (200) and fails after `fail_every` (10)
      ticks, so a supervisor has something to restart.
    SPDX-License-Identifier: MPL-2.0 */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static orcs_status
s_echo_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) state_p;
    if (json_is_true(json_object_get(config, "fail_init")))
        return ORCS_EFAILED;
    return ORCS_OK;
}

static orcs_status
s_reply(orcs_actor_t *actor, orcs_msg_t *msg, json_t *body)
{
    if (orcs_msg_kind_of(msg) != ORCS_MSG_ASK) {
        json_decref(body);
        return ORCS_OK;
    }
    orcs_msg_t *reply = orcs_msg_new(orcs_msg_type(msg));
    orcs_msg_set_body(reply, &body);
    orcs_status rc = orcs_actor_reply(actor, msg, &reply);
    orcs_msg_destroy(&reply);
    return rc == ORCS_OK || rc == ORCS_ENOTFOUND ? ORCS_OK : rc;
}

static orcs_status
s_echo_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    (void) state;
    orcs_msg_t *msg = *msg_p;
    const char *type = orcs_msg_type(msg);
    orcs_msg_kind kind = orcs_msg_kind_of(msg);
    if (kind != ORCS_MSG_SEND && kind != ORCS_MSG_ASK)
        return ORCS_OK;
    if (strcmp(type, "ping") == 0)
        return s_reply(actor, msg,
                       json_pack("{s:i, s:i, s:I}", "incarnation",
                                 (int) orcs_actor_incarnation(actor), "pid",
                                 (int) getpid(), "t_us",
                                 (json_int_t) orcs_clock_mono_us()));
    if (strcmp(type, "fail") == 0)
        return ORCS_EFAILED;
    if (strcmp(type, "fail_call") == 0) {
        orcs_actor_fail(actor, ORCS_EFAILED, "asked to fail");
        return ORCS_OK;
    }
    if (strcmp(type, "stop") == 0) {
        orcs_actor_stop(actor);
        return ORCS_OK;
    }
    if (strcmp(type, "crash") == 0) {
        raise(SIGSEGV); // what a bad pointer would do, without UB
        return ORCS_EINTERNAL;
    }
    if (strcmp(type, "hang") == 0) {
        const json_t *body = NULL;
        json_int_t ms = 1000;
        if (orcs_msg_body(msg, &body) == ORCS_OK
            && json_is_integer(json_object_get(body, "ms")))
            ms = json_integer_value(json_object_get(body, "ms"));
        struct timespec ts = {(time_t) (ms / 1000),
                              (long) (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        return ORCS_OK;
    }
    if (strcmp(type, "publish") == 0) {
        const json_t *body = NULL;
        if (orcs_msg_body(msg, &body) != ORCS_OK)
            return ORCS_OK;
        const char *topic = json_string_value(json_object_get(body, "topic"));
        const char *run = json_string_value(json_object_get(body, "run"));
        json_t *event = json_deep_copy(body);
        if (run) { // a run's event, "run.<run>.<event>"
            const char *name =
                json_string_value(json_object_get(body, "event"));
            bool heard = orcs_actor_run_heard(actor, run, name ? name : "echo");
            orcs_status rc = orcs_actor_run_publish(
                actor, run, name ? name : "echo", &event);
            return s_reply(actor, msg,
                           json_pack("{s:s, s:b}", "published",
                                     orcs_status_name(rc), "heard", heard));
        }
        orcs_status rc =
            orcs_actor_publish(actor, topic ? topic : "echo", &event);
        return s_reply(actor, msg,
                       json_pack("{s:s}", "published", orcs_status_name(rc)));
    }
    if (strcmp(type, "die") == 0) {
        s_reply(actor, msg,
                json_pack("{s:I}", "t_us", (json_int_t) orcs_clock_mono_us()));
        return ORCS_EFAILED;
    }
    const json_t *body = NULL;
    if (orcs_msg_body(msg, &body) != ORCS_OK)
        return ORCS_OK; // a bad body is the sender's problem, not ours
    return s_reply(actor, msg, json_deep_copy(body));
}

const orcs_actor_def_t orcs__echo_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "echo",
    .init = s_echo_init,
    .receive = s_echo_receive,
};

typedef struct {
    int ticks;      // ticks so far in this incarnation
    int fail_every; // fail at this tick
} s_flaky_t;

static orcs_status
s_flaky_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    s_flaky_t *self = orcs_calloc(1, sizeof *self);
    json_t *every = json_object_get(config, "fail_every");
    json_t *tick = json_object_get(config, "tick_ms");
    self->fail_every =
        json_is_integer(every) ? (int) json_integer_value(every) : 10;
    *state_p = self;
    return orcs_actor_timer_start(
        actor, 0, json_is_integer(tick) ? (int) json_integer_value(tick) : 200,
        NULL, NULL);
}

static orcs_status
s_flaky_timer(orcs_actor_t *actor, void *state, uint64_t timer_id, void *arg)
{
    (void) timer_id;
    (void) arg;
    s_flaky_t *self = state;
    if (++self->ticks >= self->fail_every && self->fail_every > 0) {
        char reason[96];
        snprintf(reason, sizeof reason, "simulated failure after %d ticks",
                 self->ticks);
        orcs_actor_fail(actor, ORCS_EFAILED, reason);
    }
    return ORCS_OK;
}

static void
s_flaky_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    free(state);
}

const orcs_actor_def_t orcs__flaky_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "flaky",
    .init = s_flaky_init,
    .receive = s_echo_receive,
    .timer = s_flaky_timer,
    .terminate = s_flaky_terminate,
};
