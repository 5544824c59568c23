/*  supervisor.c — Erlang/OTP supervision as an actor kind: strategies
    one_for_one, one_for_all, rest_for_one and simple_one_for_one; restart
    types permanent, transient and temporary; restart intensity over a
    period; shutdown timeouts; heartbeat deadlines; children in threads or
    in their own processes. See docs/supervision.md.
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef enum {
    S_ONE_FOR_ONE,
    S_ONE_FOR_ALL,
    S_REST_FOR_ONE,
    S_SIMPLE_ONE_FOR_ONE
} s_strategy;

typedef enum { S_PERMANENT, S_TRANSIENT, S_TEMPORARY } s_restart;

typedef struct s_child_t s_child_t;

// One running unit: the child itself, or one member of its pool.
typedef struct {
    s_child_t *child;                   // the child it belongs to
    char name[ORCS_ACTOR_NAME_MAX + 1]; // "worker" or "worker#2"
    orcs__entry_t *entry;               // directory record
    zsock_t *mailbox;                   // kept across incarnations
    orcs__rx_batch_t *rx_batch;         // the mailbox's batch being split
    char endpoint[160];                 // mailbox endpoint
    orcs_actor_t *actor;                // running in-process incarnation
    orcs__proc_t proc;                  // running out-of-process one
    uint32_t incarnation;               // last started incarnation
    bool running;                       // an incarnation is up
    uint64_t seen_seq;                  // heartbeat: last busy_seq seen
    int64_t seen_at;                    // when it was first seen
} s_member_t;

struct s_child_t {
    char name[ORCS_ACTOR_NAME_MAX + 1]; // child name
    json_t *spec;                       // its spec (owned)
    json_t *config;                     // its actor config (borrowed)
    const orcs_actor_def_t *def;        // resolved kind
    char kind[128];                     // kind name or path
    s_restart restart;                  // restart type
    int shutdown_ms;                    // wait for a stop before giving up
    int heartbeat_ms;                   // 0 = no heartbeat deadline
    int mailbox_bound;                  // mailbox size
    bool process;                       // run in a child process
    bool is_supervisor;                 // a nested supervisor
    orcs__entry_t *entry;               // the pool's entry, or the member's
    s_member_t *members;                // pool members (1 when no pool)
    size_t member_count;                // pool size
};

typedef struct {
    orcs_actor_t *self;       // the supervisor's own actor
    orcs_node_t *node;        // its node
    s_strategy strategy;      // restart strategy
    int intensity;            // restarts allowed in period_s
    int period_s;             // the window
    s_child_t **children;     // in start order
    size_t count;             // children
    size_t alloc;             // allocated slots
    json_t *template_spec;    // simple_one_for_one: the template child
    int64_t *restarts;        // monotonic times of recent restarts (ring)
    size_t restart_count;     // entries used in restarts
    size_t restart_alloc;     // entries allocated
    uint64_t heartbeat_timer; // 0 when no child has a heartbeat
} s_sup_t;

static const char *const s_strategy_names[] = {
    "one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"};
static const char *const s_restart_names[] = {"permanent", "transient",
                                              "temporary"};

static int
s_lookup(const char *const *names, int count, const char *value, int dflt)
{
    for (int i = 0; value && i < count; i++)
        if (strcmp(names[i], value) == 0)
            return i;
    return dflt;
}

static int
s_int(const json_t *spec, const char *key, int dflt)
{
    json_t *value = json_object_get(spec, key);
    return json_is_integer(value) ? (int) json_integer_value(value) : dflt;
}

// ---- children

static void
s_child_destroy(s_child_t **child_p)
{
    s_child_t *child = *child_p;
    if (!child)
        return;
    for (size_t i = 0; i < child->member_count; i++) {
        zsock_destroy(&child->members[i].mailbox);
        orcs__local_drop(child->members[i].entry);
        orcs__rx_batch_close(child->members[i].rx_batch);
        free(child->members[i].rx_batch);
    }
    free(child->members);
    json_decref(child->spec);
    free(child);
    *child_p = NULL;
}

static orcs_status
s_child_new(s_sup_t *sup,
            const json_t *spec,
            s_child_t **child_p,
            char *err,
            size_t err_size)
{
    *child_p = NULL;
    const char *name = json_string_value(json_object_get(spec, "name"));
    if (!name || !name[0] || strlen(name) > ORCS_ACTOR_NAME_MAX - 6) {
        snprintf(err, err_size, "child without a valid name");
        return ORCS_ECONFIG;
    }
    s_child_t *child = orcs_calloc(1, sizeof *child);
    snprintf(child->name, sizeof child->name, "%s", name);
    child->spec = json_deep_copy(spec);
    child->restart = s_lookup(
        s_restart_names, 3, json_string_value(json_object_get(spec, "restart")),
        S_PERMANENT);
    child->shutdown_ms = s_int(spec, "shutdown_ms", 5000);
    child->heartbeat_ms = s_int(spec, "heartbeat_ms", 0);
    child->mailbox_bound = s_int(spec, "mailbox", 1000);
    child->process = json_is_true(json_object_get(spec, "process"));
    int pool = s_int(spec, "pool", 1);
    json_t *nested = json_object_get(child->spec, "supervisor");
    orcs_status rc = ORCS_OK;
    if (json_is_object(nested)) {
        child->is_supervisor = true;
        child->def = &orcs__supervisor_def;
        child->config = nested;
        snprintf(child->kind, sizeof child->kind, "supervisor");
        pool = 1;
        child->process = false;
    } else {
        const char *kind = json_string_value(json_object_get(spec, "actor"));
        snprintf(child->kind, sizeof child->kind, "%s", kind ? kind : "");
        child->config = json_object_get(child->spec, "config");
        rc =
            orcs__node_kind(sup->node, child->kind, &child->def, err, err_size);
    }
    if (rc != ORCS_OK) {
        s_child_destroy(&child);
        return rc;
    }
    orcs__dir_t *dir = orcs__node_dir(sup->node);
    // A name is free when nobody has it, or when it is one of this
    // supervisor's own children from an earlier incarnation.
    orcs__entry_t *existing = orcs__dir_get(dir, name, false);
    if (existing && !existing->removed
        && (strcmp(existing->supervisor, orcs_actor_name(sup->self)) != 0
            || atomic_load(&existing->state) == ORCS__STATE_RUNNING)) {
        snprintf(err, err_size, "name '%s' is already taken", name);
        s_child_destroy(&child);
        return ORCS_EEXIST;
    }
    child->entry = orcs__dir_get(dir, name, true);
    child->entry->is_pool = pool > 1;
    child->entry->is_supervisor = child->is_supervisor;
    child->entry->remote = child->process;
    child->entry->mailbox_bound = child->mailbox_bound;
    snprintf(child->entry->supervisor, sizeof child->entry->supervisor, "%s",
             orcs_actor_name(sup->self));
    snprintf(child->entry->kind, sizeof child->entry->kind, "%s", child->kind);
    child->member_count = (size_t) (pool > 1 ? pool : 1);
    child->members = orcs_calloc(child->member_count, sizeof *child->members);
    for (size_t i = 0; i < child->member_count; i++) {
        s_member_t *m = &child->members[i];
        m->child = child;
        m->proc.pidfd = -1;
        if (pool > 1) {
            snprintf(m->name, sizeof m->name, "%s#%zu", name, i + 1);
            m->entry = orcs__dir_get(dir, m->name, true);
            m->entry->pool = child->entry;
            m->entry->remote = child->process;
            m->entry->mailbox_bound = child->mailbox_bound;
            snprintf(m->entry->supervisor, sizeof m->entry->supervisor, "%s",
                     name);
            snprintf(m->entry->kind, sizeof m->entry->kind, "%s", child->kind);
        } else {
            snprintf(m->name, sizeof m->name, "%s", name);
            m->entry = child->entry;
        }
    }
    *child_p = child;
    return ORCS_OK;
}

static orcs_status s_proc_exited(
    orcs_actor_t *actor, void *state, int fd, short events, void *arg);

static orcs_status
s_member_start(s_sup_t *sup, s_member_t *m, char *err, size_t err_size)
{
    s_child_t *child = m->child;
    orcs__dir_t *dir = orcs__node_dir(sup->node);
    orcs_status rc;
    atomic_store(&m->entry->state, ORCS__STATE_STARTING);
    m->incarnation++;
    m->seen_seq = 0;
    m->seen_at = 0;
    if (child->process) {
        if (!m->endpoint[0]) {
            snprintf(m->endpoint, sizeof m->endpoint, "ipc://@orcs.%d.%s.%u",
                     (int) getpid(), m->name, orcs__sys_next_id());
            orcs__dir_set_endpoint(dir, m->entry, m->endpoint);
        }
        rc = orcs__proc_spawn(sup->node, m->name, child->kind, child->config,
                              orcs_actor_name(sup->self), m->endpoint,
                              m->incarnation, &m->proc);
        if (rc != ORCS_OK) {
            snprintf(err, err_size, "cannot start child process");
            return rc;
        }
        atomic_store(&m->entry->pid, (int) m->proc.pid);
        atomic_store(&m->entry->incarnation, m->incarnation);
        orcs_actor_watch(sup->self, m->proc.pidfd, ZMQ_POLLIN, s_proc_exited,
                         m);
        atomic_store(&m->entry->state, ORCS__STATE_RUNNING);
        m->running = true;
        return ORCS_OK;
    }
    if (!m->mailbox) {
        rc = orcs__mailbox_new(sup->node, m->name, child->mailbox_bound, false,
                               &m->mailbox, m->endpoint, sizeof m->endpoint);
        if (rc != ORCS_OK) {
            snprintf(err, err_size, "cannot bind mailbox %s", m->endpoint);
            return rc;
        }
        orcs__dir_set_endpoint(dir, m->entry, m->endpoint);
        m->rx_batch = orcs_calloc(1, sizeof *m->rx_batch);
    }
    orcs__spawn_opts_t opts = {
        .def = child->def,
        .name = m->name,
        .parent = orcs_actor_name(sup->self),
        .config = child->config,
        .entry = m->entry,
        .mailbox = m->mailbox,
        .rx_batch = m->rx_batch,
        .incarnation = m->incarnation,
    };
    rc = orcs__actor_spawn(sup->node, &opts, &m->actor, err, err_size);
    if (rc != ORCS_OK) {
        atomic_store(&m->entry->state, ORCS__STATE_FAILED);
        orcs__dir_set_error(dir, m->entry, err);
        return rc;
    }
    m->running = true;
    return ORCS_OK;
}

static void
s_member_stop(s_sup_t *sup, s_member_t *m)
{
    if (!m->running)
        return;
    atomic_store(&m->entry->state, ORCS__STATE_STOPPING);
    if (m->child->process) {
        orcs_actor_unwatch(sup->self, m->proc.pidfd);
        orcs__proc_stop(&m->proc, m->child->shutdown_ms);
        atomic_store(&m->entry->pid, 0);
    } else if (orcs__actor_halt(&m->actor, m->child->shutdown_ms) != ORCS_OK) {
        m->mailbox = NULL; // the abandoned thread closes it
        m->rx_batch = NULL;
        m->endpoint[0] = 0;
    }
    m->running = false;
    atomic_store(&m->entry->state, ORCS__STATE_STOPPED);
}

static orcs_status
s_child_start(s_sup_t *sup, s_child_t *child, char *err, size_t err_size)
{
    for (size_t i = 0; i < child->member_count; i++) {
        orcs_status rc = s_member_start(sup, &child->members[i], err, err_size);
        if (rc != ORCS_OK)
            return rc;
    }
    if (child->entry->is_pool) {
        atomic_store(&child->entry->state, ORCS__STATE_RUNNING);
        atomic_fetch_add(&child->entry->incarnation, 1);
    }
    return ORCS_OK;
}

static void
s_child_stop(s_sup_t *sup, s_child_t *child)
{
    for (size_t i = child->member_count; i-- > 0;)
        s_member_stop(sup, &child->members[i]);
    atomic_store(&child->entry->state, ORCS__STATE_STOPPED);
}

// Stops a child for good: its mailboxes close and its names are freed.
static void
s_child_delete(s_sup_t *sup, size_t index)
{
    s_child_t *child = sup->children[index];
    s_child_stop(sup, child);
    orcs__dir_t *dir = orcs__node_dir(sup->node);
    orcs__dir_remove_tree(dir, child->name); // pool members, or a subtree
    orcs__dir_remove(dir, child->entry);
    s_child_destroy(&child);
    memmove(&sup->children[index], &sup->children[index + 1],
            (sup->count - index - 1) * sizeof *sup->children);
    sup->count--;
}

static void
s_stop_all(s_sup_t *sup, size_t from)
{
    for (size_t i = sup->count; i-- > from;)
        s_child_stop(sup, sup->children[i]);
}

static void
s_append(s_sup_t *sup, s_child_t *child)
{
    if (sup->count == sup->alloc) {
        sup->alloc = sup->alloc ? sup->alloc * 2 : 8;
        sup->children =
            orcs_realloc(sup->children, sup->alloc * sizeof *sup->children);
    }
    sup->children[sup->count++] = child;
}

// ---- restart intensity

// Records a restart; false when it makes more than `intensity` restarts in
// the last `period_s` seconds (OTP: the supervisor gives up).
static bool
s_restart_allowed(s_sup_t *sup)
{
    int64_t now = orcs_clock_mono_us();
    int64_t window = (int64_t) sup->period_s * 1000000;
    size_t kept = 0;
    for (size_t i = 0; i < sup->restart_count; i++)
        if (now - sup->restarts[i] < window)
            sup->restarts[kept++] = sup->restarts[i];
    sup->restart_count = kept;
    if (sup->restart_count == sup->restart_alloc) {
        sup->restart_alloc = sup->restart_alloc ? sup->restart_alloc * 2 : 8;
        sup->restarts = orcs_realloc(
            sup->restarts, sup->restart_alloc * sizeof *sup->restarts);
    }
    sup->restarts[sup->restart_count++] = now;
    return (int) sup->restart_count <= sup->intensity;
}

static void
s_give_up(s_sup_t *sup, const char *child, const char *reason)
{
    char text[256];
    snprintf(text, sizeof text,
             "reached max restart intensity (%d in %d s); last: %s: %s",
             sup->intensity, sup->period_s, child, reason);
    orcs_log_error("supervisor", "giving up supervisor=%s %s",
                   orcs_actor_name(sup->self), text);
    s_stop_all(sup, 0);
    orcs_actor_fail(sup->self, ORCS_EFAILED, text);
}

static size_t
s_index_of(s_sup_t *sup, s_child_t *child)
{
    for (size_t i = 0; i < sup->count; i++)
        if (sup->children[i] == child)
            return i;
    return SIZE_MAX;
}

static void
s_publish_restart(s_sup_t *sup,
                  const char *name,
                  orcs_status status,
                  const char *reason)
{
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:s}", "actor", name, "supervisor",
                  orcs_actor_name(sup->self), "status",
                  orcs_status_name(status), "reason", reason);
    orcs_actor_publish(sup->self, "status.restart", &event);
}

// Starts again what the strategy says after member m stopped.
static void
s_restart_member(s_sup_t *sup, s_member_t *m)
{
    char err[256] = "";
    size_t index = s_index_of(sup, m->child);
    orcs_status rc = ORCS_OK;
    switch (sup->strategy) {
        case S_ONE_FOR_ONE:
        case S_SIMPLE_ONE_FOR_ONE:
            atomic_fetch_add(&m->entry->restarts, 1);
            rc = s_member_start(sup, m, err, sizeof err);
            break;
        case S_ONE_FOR_ALL:
        case S_REST_FOR_ONE: {
            size_t from = sup->strategy == S_ONE_FOR_ALL ? 0 : index;
            s_stop_all(sup, from);
            for (size_t i = from; i < sup->count && rc == ORCS_OK; i++) {
                s_child_t *child = sup->children[i];
                for (size_t j = 0; j < child->member_count; j++)
                    atomic_fetch_add(&child->members[j].entry->restarts, 1);
                rc = s_child_start(sup, child, err, sizeof err);
            }
            break;
        }
    }
    if (rc != ORCS_OK) {
        // A start that fails is one more failure: count it and try again.
        orcs_log_warn("supervisor", "restart failed child=%s status=%s %s",
                      m->name, orcs_status_name(rc), err);
        if (!s_restart_allowed(sup)) {
            s_give_up(sup, m->name, err);
            return;
        }
        s_restart_member(sup, m);
    }
}

// Handles the end of an incarnation of member m.
static void
s_member_exited(s_sup_t *sup,
                s_member_t *m,
                orcs_status status,
                const char *reason)
{
    s_child_t *child = m->child;
    orcs__dir_t *dir = orcs__node_dir(sup->node);
    m->running = false;
    bool abnormal = status != ORCS_OK && status != ORCS_ESHUTDOWN;
    if (abnormal) {
        orcs__dir_set_error(dir, m->entry, reason);
        orcs_log_warn("supervisor",
                      "child failed supervisor=%s child=%s incarnation=%u "
                      "status=%s reason=\"%s\"",
                      orcs_actor_name(sup->self), m->name, m->incarnation,
                      orcs_status_name(status), reason);
    }
    bool restart = child->restart == S_PERMANENT
                   || (child->restart == S_TRANSIENT && abnormal);
    if (!restart) {
        atomic_store(&m->entry->state,
                     abnormal ? ORCS__STATE_FAILED : ORCS__STATE_STOPPED);
        bool all_down = true;
        for (size_t i = 0; i < child->member_count; i++)
            all_down = all_down && !child->members[i].running;
        if (all_down
            && (child->restart == S_TEMPORARY
                || sup->strategy == S_SIMPLE_ONE_FOR_ONE))
            s_child_delete(sup, s_index_of(sup, child));
        return;
    }
    atomic_store(&m->entry->state, ORCS__STATE_RESTARTING);
    if (!s_restart_allowed(sup)) {
        s_give_up(sup, m->name, reason);
        return;
    }
    char name[sizeof m->name];
    memcpy(name, m->name, sizeof name);
    s_restart_member(sup, m);
    s_publish_restart(sup, name, status, reason);
}

static s_member_t *
s_find_member(s_sup_t *sup, const char *name)
{
    for (size_t i = 0; i < sup->count; i++) {
        s_child_t *child = sup->children[i];
        for (size_t j = 0; j < child->member_count; j++)
            if (strcmp(child->members[j].name, name) == 0)
                return &child->members[j];
    }
    return NULL;
}

static orcs_status
s_proc_exited(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) events;
    s_sup_t *sup = state;
    s_member_t *m = arg;
    orcs_actor_unwatch(actor, fd);
    char reason[128];
    orcs_status status = orcs__proc_reap(&m->proc, reason, sizeof reason);
    atomic_store(&m->entry->pid, 0);
    s_member_exited(sup, m, status, reason);
    return ORCS_OK;
}

// ---- heartbeat deadlines

static orcs_status
s_check_heartbeats(s_sup_t *sup)
{
    int64_t now = orcs_clock_mono_us();
    for (size_t i = 0; i < sup->count; i++) {
        s_child_t *child = sup->children[i];
        if (child->heartbeat_ms <= 0 || child->process)
            continue;
        for (size_t j = 0; j < child->member_count; j++) {
            s_member_t *m = &child->members[j];
            if (!m->running || !m->actor)
                continue;
            uint64_t seq = orcs__actor_busy_seq(m->actor);
            if (!(seq & 1) || seq != m->seen_seq) {
                m->seen_seq = seq;
                m->seen_at = now;
                continue;
            }
            if (now - m->seen_at < (int64_t) child->heartbeat_ms * 1000)
                continue;
            char reason[128];
            snprintf(reason, sizeof reason,
                     "missed its heartbeat deadline (heartbeat_ms=%d)",
                     child->heartbeat_ms);
            atomic_store(&m->entry->state, ORCS__STATE_HUNG);
            if (orcs__actor_halt(&m->actor, 0) != ORCS_OK) {
                // The thread keeps its mailbox; the next incarnation gets a
                // new one and senders follow the directory.
                m->mailbox = NULL;
                m->rx_batch = NULL;
                m->endpoint[0] = 0;
            }
            s_member_exited(sup, m, ORCS_EHUNG, reason);
            return ORCS_OK; // the children may have changed
        }
    }
    return ORCS_OK;
}

static void
s_arm_heartbeat(s_sup_t *sup)
{
    int shortest = 0;
    for (size_t i = 0; i < sup->count; i++) {
        int hb = sup->children[i]->heartbeat_ms;
        if (hb > 0 && !sup->children[i]->process
            && (shortest == 0 || hb < shortest))
            shortest = hb;
    }
    if (shortest == 0 || sup->heartbeat_timer)
        return;
    int every = shortest / 4 > 1 ? shortest / 4 : 1;
    orcs_actor_timer_start(sup->self, every, every, NULL,
                           &sup->heartbeat_timer);
}

// ---- the actor callbacks

static orcs_status
s_sup_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    s_sup_t *sup = orcs_calloc(1, sizeof *sup);
    sup->self = actor;
    sup->node = orcs_actor_node(actor);
    *state_p = sup;
    char err[512] = "";
    if (orcs_config_check_supervisor(config, err, sizeof err) != ORCS_OK) {
        orcs_actor_fail(actor, ORCS_ECONFIG, err);
        return ORCS_OK;
    }
    sup->strategy = s_lookup(
        s_strategy_names, 4,
        json_string_value(json_object_get(config, "strategy")), S_ONE_FOR_ONE);
    sup->intensity = s_int(config, "intensity", 3);
    sup->period_s = s_int(config, "period_s", 5);
    json_t *children = json_object_get(config, "children");
    if (sup->strategy == S_SIMPLE_ONE_FOR_ONE) {
        sup->template_spec = json_deep_copy(json_array_get(children, 0));
        return ORCS_OK;
    }
    size_t i;
    json_t *spec;
    json_array_foreach(children, i, spec)
    {
        s_child_t *child = NULL;
        orcs_status rc = s_child_new(sup, spec, &child, err, sizeof err);
        if (rc == ORCS_OK) {
            s_append(sup, child);
            rc = s_child_start(sup, child, err, sizeof err);
        }
        if (rc != ORCS_OK) {
            char text[700];
            snprintf(text, sizeof text, "child %s failed to start: %s",
                     json_string_value(json_object_get(spec, "name")), err);
            orcs__node_set_error(sup->node, "%s", text);
            s_stop_all(sup, 0);
            orcs_actor_fail(actor, rc, text);
            return ORCS_OK;
        }
    }
    s_arm_heartbeat(sup);
    return ORCS_OK;
}

// Answers $which_children (OTP which_children): every member with its
// incarnation, state and restarts.
static orcs_status
s_which_children(s_sup_t *sup, orcs_msg_t *msg)
{
    json_t *list = json_array();
    for (size_t i = 0; i < sup->count; i++) {
        s_child_t *child = sup->children[i];
        for (size_t j = 0; j < child->member_count; j++) {
            s_member_t *m = &child->members[j];
            json_array_append_new(
                list,
                json_pack("{s:s, s:s, s:i, s:b, s:s, s:i}", "name", m->name,
                          "child", child->name, "incarnation",
                          (int) m->incarnation, "running", m->running, "state",
                          orcs__state_name(atomic_load(&m->entry->state)),
                          "restarts", (int) atomic_load(&m->entry->restarts)));
        }
    }
    json_t *body = json_pack("{s:o}", "children", list);
    orcs_msg_t *reply = orcs_msg_new(NULL);
    orcs_msg_set_body(reply, &body);
    orcs_actor_reply(sup->self, msg, &reply);
    orcs_msg_destroy(&reply);
    return ORCS_OK;
}

// Handles $start_child and $stop_child asks (orcs_node_start_child).
static orcs_status
s_sup_request(s_sup_t *sup, orcs_msg_t *msg)
{
    if (strcmp(orcs_msg_type(msg), "$which_children") == 0)
        return s_which_children(sup, msg);
    const json_t *body = NULL;
    orcs_status rc = orcs_msg_body(msg, &body);
    char err[512] = "";
    const char *name = json_string_value(json_object_get(body, "name"));
    if (rc == ORCS_OK && !name)
        rc = ORCS_EINVAL;
    if (rc == ORCS_OK && strcmp(orcs_msg_type(msg), "$start_child") == 0) {
        json_t *spec = NULL;
        json_t *config = json_object_get(body, "config");
        if (sup->template_spec) {
            spec = json_deep_copy(sup->template_spec);
            json_object_set(spec, "name", json_object_get(body, "name"));
            if (config && !json_is_null(config))
                json_object_set(spec, "config", config);
        } else {
            spec = json_deep_copy(config);
        }
        s_child_t *child = NULL;
        rc = s_child_new(sup, spec, &child, err, sizeof err);
        json_decref(spec);
        if (rc == ORCS_OK) {
            s_append(sup, child);
            rc = s_child_start(sup, child, err, sizeof err);
            if (rc != ORCS_OK)
                s_child_delete(sup, sup->count - 1);
            else
                s_arm_heartbeat(sup);
        }
    } else if (rc == ORCS_OK) {
        s_member_t *m = s_find_member(sup, name);
        if (!m)
            rc = ORCS_ENOTFOUND;
        else
            s_child_delete(sup, s_index_of(sup, m->child));
    }
    orcs_msg_t *reply = orcs_msg_new(NULL);
    orcs_msg_set_status(reply, rc);
    if (err[0]) {
        json_t *detail = json_pack("{s:s}", "error", err);
        orcs_msg_set_body(reply, &detail);
    }
    orcs_actor_reply(sup->self, msg, &reply);
    orcs_msg_destroy(&reply);
    return ORCS_OK;
}

static orcs_status
s_sup_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    s_sup_t *sup = state;
    orcs_msg_t *msg = *msg_p;
    if (orcs_msg_kind_of(msg) == ORCS_MSG_ASK)
        return s_sup_request(sup, msg);
    if (orcs_msg_kind_of(msg) != ORCS_MSG_EXIT)
        return ORCS_OK;
    s_member_t *m = s_find_member(sup, orcs_msg_from(msg));
    if (!m || !m->running || m->child->process
        || orcs_msg_incarnation(msg) != m->incarnation)
        return ORCS_OK; // stale: an incarnation already handled
    const json_t *body = NULL;
    const char *reason = "";
    if (orcs_msg_body(msg, &body) == ORCS_OK)
        reason = json_string_value(json_object_get(body, "reason"));
    char text[256];
    snprintf(text, sizeof text, "%s", reason ? reason : "");
    // The old incarnation has left its loop and no longer reads the
    // mailbox: start the next one first, reap the old thread after (m may
    // be freed by s_member_exited: read what is needed first).
    orcs_actor_t *old = m->actor;
    int shutdown_ms = m->child->shutdown_ms;
    m->actor = NULL;
    s_member_exited(sup, m, orcs_msg_status(msg), text);
    orcs__actor_halt(&old, shutdown_ms);
    (void) actor;
    return ORCS_OK;
}

static orcs_status
s_sup_timer(orcs_actor_t *actor, void *state, uint64_t timer_id, void *arg)
{
    (void) actor;
    (void) timer_id;
    (void) arg;
    return s_check_heartbeats(state);
}

static void
s_sup_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_sup_t *sup = state;
    s_stop_all(sup, 0);
    for (size_t i = 0; i < sup->count; i++)
        s_child_destroy(&sup->children[i]);
    free(sup->children);
    free(sup->restarts);
    json_decref(sup->template_spec);
    free(sup);
}

const orcs_actor_def_t orcs__supervisor_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "supervisor",
    .init = s_sup_init,
    .receive = s_sup_receive,
    .timer = s_sup_timer,
    .terminate = s_sup_terminate,
};
