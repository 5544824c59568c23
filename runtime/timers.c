/*  timers.c — an actor's timers and ask deadlines: a binary min-heap on the
    due time, plus an open-addressing table from id to timer so a reply can
    cancel its deadline in O(1) + O(log n).
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "internal.h"

struct orcs__timers_t {
    orcs__timer_t **heap;  // min-heap on due_us
    size_t count;          // timers in the heap
    size_t alloc;          // heap slots
    orcs__timer_t **table; // id -> timer, linear probing; NULL = empty
    size_t table_size;     // power of two
    size_t table_used;     // live + tombstones
};

// Marks a deleted slot so probing continues past it.
static orcs__timer_t s_tombstone;

static size_t
s_hash(uint64_t id, size_t size)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t) id & (size - 1);
}

orcs__timers_t *
orcs__timers_new(void)
{
    orcs__timers_t *self = orcs_calloc(1, sizeof *self);
    self->table_size = 64;
    self->table = orcs_calloc(self->table_size, sizeof *self->table);
    return self;
}

void
orcs__timers_destroy(orcs__timers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs__timers_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free(self->heap[i]);
    free(self->heap);
    free(self->table);
    free(self);
    *self_p = NULL;
}

static void s_table_put(orcs__timers_t *self, orcs__timer_t *timer);

static void
s_table_grow(orcs__timers_t *self)
{
    orcs__timer_t **old = self->table;
    size_t old_size = self->table_size;
    // Grow only when live entries need it; otherwise just drop tombstones.
    if (self->count * 2 >= old_size)
        self->table_size *= 2;
    self->table = orcs_calloc(self->table_size, sizeof *self->table);
    self->table_used = 0;
    for (size_t i = 0; i < old_size; i++)
        if (old[i] && old[i] != &s_tombstone)
            s_table_put(self, old[i]);
    free(old);
}

static void
s_table_put(orcs__timers_t *self, orcs__timer_t *timer)
{
    if ((self->table_used + 1) * 4 >= self->table_size * 3)
        s_table_grow(self);
    size_t mask = self->table_size - 1;
    size_t i = s_hash(timer->id, self->table_size);
    while (self->table[i] && self->table[i] != &s_tombstone)
        i = (i + 1) & mask;
    if (!self->table[i])
        self->table_used++;
    self->table[i] = timer;
}

static size_t
s_table_slot(orcs__timers_t *self, uint64_t id)
{
    size_t mask = self->table_size - 1;
    size_t i = s_hash(id, self->table_size);
    while (self->table[i]) {
        if (self->table[i] != &s_tombstone && self->table[i]->id == id)
            return i;
        i = (i + 1) & mask;
    }
    return SIZE_MAX;
}

orcs__timer_t *
orcs__timers_find(orcs__timers_t *self, uint64_t id)
{
    size_t slot = s_table_slot(self, id);
    return slot == SIZE_MAX ? NULL : self->table[slot];
}

static void
s_swap(orcs__timers_t *self, size_t a, size_t b)
{
    orcs__timer_t *t = self->heap[a];
    self->heap[a] = self->heap[b];
    self->heap[b] = t;
    self->heap[a]->heap_index = a;
    self->heap[b]->heap_index = b;
}

static void
s_up(orcs__timers_t *self, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->heap[parent]->due_us <= self->heap[i]->due_us)
            break;
        s_swap(self, parent, i);
        i = parent;
    }
}

static void
s_down(orcs__timers_t *self, size_t i)
{
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, least = i;
        if (left < self->count
            && self->heap[left]->due_us < self->heap[least]->due_us)
            least = left;
        if (right < self->count
            && self->heap[right]->due_us < self->heap[least]->due_us)
            least = right;
        if (least == i)
            break;
        s_swap(self, i, least);
        i = least;
    }
}

orcs__timer_t *
orcs__timers_add(orcs__timers_t *self,
                 uint64_t id,
                 int64_t due_us,
                 int64_t interval_us)
{
    orcs__timer_t *timer = orcs_calloc(1, sizeof *timer);
    timer->id = id;
    timer->due_us = due_us;
    timer->interval_us = interval_us;
    if (self->count == self->alloc) {
        self->alloc = self->alloc ? self->alloc * 2 : 16;
        self->heap = orcs_realloc(self->heap, self->alloc * sizeof *self->heap);
    }
    timer->heap_index = self->count;
    self->heap[self->count++] = timer;
    s_up(self, timer->heap_index);
    s_table_put(self, timer);
    return timer;
}

void
orcs__timers_remove(orcs__timers_t *self, orcs__timer_t *timer)
{
    size_t slot = s_table_slot(self, timer->id);
    if (slot != SIZE_MAX)
        self->table[slot] = &s_tombstone;
    size_t i = timer->heap_index;
    self->count--;
    if (i != self->count) {
        self->heap[i] = self->heap[self->count];
        self->heap[i]->heap_index = i;
        s_down(self, i);
        s_up(self, i);
    }
    free(timer);
}

orcs__timer_t *
orcs__timers_first(orcs__timers_t *self)
{
    return self->count ? self->heap[0] : NULL;
}

void
orcs__timers_reschedule(orcs__timers_t *self,
                        orcs__timer_t *timer,
                        int64_t due_us)
{
    timer->due_us = due_us;
    s_down(self, timer->heap_index);
    s_up(self, timer->heap_index);
}

size_t
orcs__timers_size(orcs__timers_t *self)
{
    return self->count;
}
