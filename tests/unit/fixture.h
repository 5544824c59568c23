/*  fixture.h — shared set-up for tests that run a real node: a fresh data
    directory, a started node, a client, and waits on conditions (never
    sleeps as synchronisation; every wait has a deadline that fails the
    test).
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_TEST_FIXTURE_H_INCLUDED
#define ORCS_TEST_FIXTURE_H_INCLUDED

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orcs/orcs.h"

#ifndef ORCS_TEST_BINARY_DIR
#define ORCS_TEST_BINARY_DIR "."
#endif
#ifndef ORCS_TEST_SOURCE_DIR
#define ORCS_TEST_SOURCE_DIR "."
#endif

#define FIXTURE_WAIT_MS 20000 // generous: the box is small and noisy

typedef struct {
    orcs_node_t *node;     // the node under test
    orcs_client_t *client; // a client on it
    char data[64];         // its data directory
} fixture_t;

static inline int
fixture_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

// Starts a node whose root supervisor is `supervisor` (JSON text), after
// registering `kinds` (NULL-terminated, may be NULL). Returns the status of
// orcs_node_start; on success f->node and f->client are ready.
static inline orcs_status
fixture_start_with(fixture_t *f,
                   const char *supervisor,
                   const orcs_actor_def_t *const *kinds,
                   json_t *extra);

static inline orcs_status
fixture_start(fixture_t *f,
              const char *supervisor,
              const orcs_actor_def_t *const *kinds)
{
    return fixture_start_with(f, supervisor, kinds, NULL);
}

// As fixture_start, with the members of extra (consumed; may be NULL)
// added to the node config (models, tools, toolexec, memory...).
static inline orcs_status
fixture_start_with(fixture_t *f,
                   const char *supervisor,
                   const orcs_actor_def_t *const *kinds,
                   json_t *extra)
{
    memset(f, 0, sizeof *f);
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    snprintf(f->data, sizeof f->data, "/tmp/orcs-test-XXXXXX");
    if (!mkdtemp(f->data)) {
        json_decref(extra);
        return ORCS_EIO;
    }
    json_error_t error;
    json_t *spec = json_loads(supervisor, 0, &error);
    if (!spec) {
        fprintf(stderr, "fixture: bad JSON: %s\n", error.text);
        json_decref(extra);
        return ORCS_EINVAL;
    }
    json_t *config = json_pack("{s:s, s:s, s:o}", "node", "test", "data",
                               f->data, "supervisor", spec);
    if (extra) {
        json_object_update(config, extra);
        json_decref(extra);
    }
    f->node = orcs_node_new();
    orcs_node_set_child_program(f->node, ORCS_TEST_BINARY_DIR "/orcs");
    for (size_t i = 0; kinds && kinds[i]; i++)
        orcs_node_register_kind(f->node, kinds[i]);
    orcs_status rc = orcs_node_configure(f->node, config, NULL);
    json_decref(config);
    if (rc == ORCS_OK)
        rc = orcs_node_start(f->node);
    if (rc == ORCS_OK)
        f->client = orcs_client_new(f->node);
    return rc;
}

static inline void
fixture_stop(fixture_t *f)
{
    orcs_client_destroy(&f->client);
    orcs_node_destroy(&f->node);
    if (f->data[0])
        nftw(f->data, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
    f->data[0] = 0;
}

// The status object of one actor (a new reference), or NULL.
static inline json_t *
fixture_actor(fixture_t *f, const char *name)
{
    json_t *status = orcs_node_status(f->node);
    json_t *found = NULL;
    size_t i;
    json_t *actor;
    json_array_foreach(json_object_get(status, "actors"), i, actor)
    {
        if (strcmp(json_string_value(json_object_get(actor, "name")), name)
            == 0)
            found = json_incref(actor);
    }
    json_decref(status);
    return found;
}

static inline json_int_t
fixture_field(fixture_t *f, const char *name, const char *field)
{
    json_t *actor = fixture_actor(f, name);
    json_int_t value =
        actor ? json_integer_value(json_object_get(actor, field)) : -1;
    json_decref(actor);
    return value;
}

static inline bool
fixture_state_is(fixture_t *f, const char *name, const char *state)
{
    json_t *actor = fixture_actor(f, name);
    bool is =
        actor
        && strcmp(json_string_value(json_object_get(actor, "state")), state)
               == 0;
    json_decref(actor);
    return is;
}

// Polls until field of actor `name` is at least `value`.
static inline bool
fixture_wait_field(fixture_t *f,
                   const char *name,
                   const char *field,
                   json_int_t value)
{
    for (int i = 0; i < FIXTURE_WAIT_MS; i++) {
        if (fixture_field(f, name, field) >= value)
            return true;
        usleep(1000);
    }
    return false;
}

static inline bool
fixture_wait_state(fixture_t *f, const char *name, const char *state)
{
    for (int i = 0; i < FIXTURE_WAIT_MS; i++) {
        if (fixture_state_is(f, name, state))
            return true;
        usleep(1000);
    }
    return false;
}

// Asks `to` and returns the reply's body (new reference) or NULL; the
// reply's status goes to *status_p when not NULL.
static inline json_t *
fixture_ask(fixture_t *f,
            const char *to,
            const char *type,
            json_t *body,
            orcs_status *status_p)
{
    orcs_msg_t *msg = orcs_msg_new(type);
    orcs_msg_set_body(msg, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc =
        orcs_client_ask(f->client, to, &msg, FIXTURE_WAIT_MS, &reply);
    orcs_msg_destroy(&msg);
    json_t *doc = NULL;
    if (rc == ORCS_OK) {
        rc = orcs_msg_status(reply);
        orcs_msg_take_body(reply, &doc);
    }
    orcs_msg_destroy(&reply);
    if (status_p)
        *status_p = rc;
    return doc;
}

// Sends a plain message; returns the send status.
static inline orcs_status
fixture_send(fixture_t *f, const char *to, const char *type, json_t *body)
{
    orcs_msg_t *msg = orcs_msg_new(type);
    orcs_msg_set_body(msg, &body);
    orcs_status rc = orcs_client_send(f->client, to, &msg, FIXTURE_WAIT_MS);
    orcs_msg_destroy(&msg);
    return rc;
}

// Pings an echo actor; returns its incarnation, or -1.
static inline int
fixture_ping(fixture_t *f, const char *to)
{
    json_t *reply = fixture_ask(f, to, "ping", NULL, NULL);
    int incarnation =
        reply ? (int) json_integer_value(json_object_get(reply, "incarnation"))
              : -1;
    json_decref(reply);
    return incarnation;
}

#endif
