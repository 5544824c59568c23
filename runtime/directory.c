/*  directory.c — the node's names: one entry per actor, pool, supervisor
    and client, with the endpoint of its mailbox and its live counters.
    Thread-safe: a mutex guards the table and the string fields; counters
    are atomics written by their owner thread.
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "internal.h"

struct orcs__dir_t {
    pthread_mutex_t lock;    // guards everything below
    zhashx_t *by_name;       // name -> orcs__entry_t (owned by entries)
    orcs__entry_t **entries; // every entry ever made, in creation order
    size_t count;            // used slots of entries
    size_t alloc;            // allocated slots of entries
    char uplink[160];        // endpoint for names not known here
    int next_order;          // start order counter
    orcs__entry_t **spare;   // entries of destroyed clients, for reuse
    size_t spare_count;      // used slots of spare
    size_t spare_alloc;      // allocated slots of spare
};

static const char *const s_state_names[] = {
    "starting", "running", "restarting", "stopping",
    "stopped",  "failed",  "hung",
};

const char *
orcs__state_name(orcs__state state)
{
    if ((unsigned) state < sizeof s_state_names / sizeof *s_state_names)
        return s_state_names[state];
    return "unknown";
}

orcs__dir_t *
orcs__dir_new(void)
{
    orcs__dir_t *self = orcs_calloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    self->by_name = zhashx_new();
    return self;
}

void
orcs__dir_destroy(orcs__dir_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs__dir_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        orcs__local_fini(self->entries[i]);
        free(self->entries[i]);
    }
    free(self->entries);
    free(self->spare);
    zhashx_destroy(&self->by_name);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

// orcs__dir_get; queue: a new entry gets a local queue (not a client's).
static orcs__entry_t *
s_get(orcs__dir_t *self, const char *name, bool create, bool queue)
{
    pthread_mutex_lock(&self->lock);
    orcs__entry_t *entry = zhashx_lookup(self->by_name, name);
    if (entry && entry->removed && create) {
        entry->removed = false;
        entry->order = self->next_order++;
        atomic_store(&entry->state, ORCS__STATE_STARTING);
    }
    if (!entry && create && strlen(name) <= ORCS_ACTOR_NAME_MAX) {
        entry = orcs_calloc(1, sizeof *entry);
        snprintf(entry->name, sizeof entry->name, "%s", name);
        entry->order = self->next_order++;
        entry->mailbox_bound = 1000;
        orcs__local_init(entry, queue);
        atomic_init(&entry->state, ORCS__STATE_STARTING);
        if (self->count == self->alloc) {
            self->alloc = self->alloc ? self->alloc * 2 : 64;
            self->entries = orcs_realloc(self->entries,
                                         self->alloc * sizeof *self->entries);
        }
        self->entries[self->count++] = entry;
        zhashx_insert(self->by_name, entry->name, entry);
    }
    pthread_mutex_unlock(&self->lock);
    return entry;
}

orcs__entry_t *
orcs__dir_get(orcs__dir_t *self, const char *name, bool create)
{
    return s_get(self, name, create, true);
}

orcs__entry_t *
orcs__dir_client(orcs__dir_t *self, const char *name)
{
    orcs__entry_t *entry = NULL;
    pthread_mutex_lock(&self->lock);
    if (self->spare_count > 0 && strlen(name) <= ORCS_ACTOR_NAME_MAX
        && !zhashx_lookup(self->by_name, name)) {
        // A destroyed client's entry under the new name: routes still
        // pointing at it see the generation move and look the name up
        // again, which finds nothing.
        entry = self->spare[--self->spare_count];
        zhashx_delete(self->by_name, entry->name);
        snprintf(entry->name, sizeof entry->name, "%s", name);
        entry->removed = false;
        entry->endpoint[0] = 0;
        entry->last_error[0] = 0;
        entry->order = self->next_order++;
        atomic_store(&entry->msgs_in, 0);
        atomic_store(&entry->msgs_out, 0);
        atomic_store(&entry->malformed, 0);
        atomic_store(&entry->queued, 0);
        atomic_store(&entry->state, ORCS__STATE_STARTING);
        atomic_fetch_add(&entry->generation, 1);
        zhashx_insert(self->by_name, entry->name, entry);
    }
    pthread_mutex_unlock(&self->lock);
    if (!entry)
        entry = s_get(self, name, true, false);
    if (entry)
        entry->is_client = true;
    return entry;
}

void
orcs__dir_client_release(orcs__dir_t *self, orcs__entry_t *entry)
{
    orcs__dir_remove(self, entry);
    pthread_mutex_lock(&self->lock);
    if (self->spare_count == self->spare_alloc) {
        self->spare_alloc = self->spare_alloc ? 2 * self->spare_alloc : 16;
        self->spare =
            orcs_realloc(self->spare, self->spare_alloc * sizeof *self->spare);
    }
    self->spare[self->spare_count++] = entry;
    pthread_mutex_unlock(&self->lock);
}

size_t
orcs__dir_count(orcs__dir_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t count = self->count;
    pthread_mutex_unlock(&self->lock);
    return count;
}

void
orcs__dir_set_endpoint(orcs__dir_t *self,
                       orcs__entry_t *entry,
                       const char *endpoint)
{
    pthread_mutex_lock(&self->lock);
    snprintf(entry->endpoint, sizeof entry->endpoint, "%s",
             endpoint ? endpoint : "");
    atomic_fetch_add(&entry->generation, 1);
    if (entry->pool)
        atomic_fetch_add(&entry->pool->generation, 1);
    pthread_mutex_unlock(&self->lock);
}

unsigned
orcs__dir_endpoints(orcs__dir_t *self,
                    orcs__entry_t *entry,
                    zlist_t **endpoints_p)
{
    zlist_t *list = zlist_new();
    zlist_autofree(list);
    pthread_mutex_lock(&self->lock);
    unsigned generation = atomic_load(&entry->generation);
    if (entry->is_pool) {
        for (size_t i = 0; i < self->count; i++) {
            orcs__entry_t *member = self->entries[i];
            if (member->pool == entry && !member->removed
                && member->endpoint[0])
                zlist_append(list, member->endpoint);
        }
    } else if (entry->endpoint[0]) {
        zlist_append(list, entry->endpoint);
    }
    pthread_mutex_unlock(&self->lock);
    *endpoints_p = list;
    return generation;
}

void
orcs__dir_set_error(orcs__dir_t *self, orcs__entry_t *entry, const char *text)
{
    pthread_mutex_lock(&self->lock);
    snprintf(entry->last_error, sizeof entry->last_error, "%s", text);
    pthread_mutex_unlock(&self->lock);
}

void
orcs__dir_remove(orcs__dir_t *self, orcs__entry_t *entry)
{
    pthread_mutex_lock(&self->lock);
    entry->removed = true;
    entry->endpoint[0] = 0;
    atomic_store(&entry->state, ORCS__STATE_STOPPED);
    atomic_fetch_add(&entry->generation, 1);
    if (entry->pool)
        atomic_fetch_add(&entry->pool->generation, 1);
    pthread_mutex_unlock(&self->lock);
}

void
orcs__dir_remove_tree(orcs__dir_t *self, const char *supervisor)
{
    zlist_t *names = zlist_new();
    zlist_autofree(names);
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->count; i++) {
        orcs__entry_t *e = self->entries[i];
        if (!e->removed && strcmp(e->supervisor, supervisor) == 0) {
            e->removed = true;
            e->endpoint[0] = 0;
            atomic_store(&e->state, ORCS__STATE_STOPPED);
            atomic_fetch_add(&e->generation, 1);
            zlist_append(names, e->name);
        }
    }
    pthread_mutex_unlock(&self->lock);
    for (char *name = zlist_first(names); name; name = zlist_next(names))
        orcs__dir_remove_tree(self, name);
    zlist_destroy(&names);
}

static int
s_by_order(const void *a, const void *b)
{
    const orcs__entry_t *x = *(orcs__entry_t *const *) a;
    const orcs__entry_t *y = *(orcs__entry_t *const *) b;
    return (x->order > y->order) - (x->order < y->order);
}

json_t *
orcs__dir_status(orcs__dir_t *self)
{
    json_t *list = json_array();
    pthread_mutex_lock(&self->lock);
    orcs__entry_t **sorted = orcs_malloc((self->count + 1) * sizeof *sorted);
    memcpy(sorted, self->entries, self->count * sizeof *sorted);
    qsort(sorted, self->count, sizeof *sorted, s_by_order);
    for (size_t i = 0; i < self->count; i++) {
        orcs__entry_t *e = sorted[i];
        if (e->is_client || e->removed)
            continue;
        int64_t queued = atomic_load(&e->queued);
        json_t *item = json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:s}",
            "name", e->name, "supervisor", e->supervisor, "kind", e->kind,
            "state", orcs__state_name(atomic_load(&e->state)), "incarnation",
            (json_int_t) atomic_load(&e->incarnation), "restarts",
            (json_int_t) atomic_load(&e->restarts), "msgs_in",
            (json_int_t) atomic_load(&e->msgs_in), "msgs_out",
            (json_int_t) atomic_load(&e->msgs_out), "mailbox_depth",
            (json_int_t) (queued > 0 ? queued : 0), "mailbox_bound",
            e->mailbox_bound, "malformed",
            (json_int_t) atomic_load(&e->malformed), "last_error",
            e->last_error);
        json_object_set_new(item, "type",
                            json_string(e->is_supervisor ? "supervisor"
                                        : e->is_pool     ? "pool"
                                                         : "actor"));
        if (e->pool)
            json_object_set_new(item, "pool", json_string(e->pool->name));
        if (atomic_load(&e->pid) > 0)
            json_object_set_new(item, "pid",
                                json_integer(atomic_load(&e->pid)));
        json_array_append_new(list, item);
    }
    free(sorted);
    pthread_mutex_unlock(&self->lock);
    return list;
}

void
orcs__dir_set_uplink(orcs__dir_t *self, const char *endpoint)
{
    pthread_mutex_lock(&self->lock);
    snprintf(self->uplink, sizeof self->uplink, "%s", endpoint);
    pthread_mutex_unlock(&self->lock);
}

bool
orcs__dir_uplink(orcs__dir_t *self, char *buf, size_t size)
{
    pthread_mutex_lock(&self->lock);
    snprintf(buf, size, "%s", self->uplink);
    pthread_mutex_unlock(&self->lock);
    return buf[0] != 0;
}
