/*  timers.c — an actor's timers and ask deadlines: a binary min-heap on the
    due time, plus an open-addressing table from id to timer so a reply can
    cancel its deadline in O(1) + O(log n).
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "internal.h"

// A heap slot keeps its deadline beside the pointer, and a table slot its
// id: sifting and probing compare without touching the timers themselves,
// which are scattered in memory (an actor with a few hundred asks in
// flight spent a sixth of its time in cache misses here).
typedef struct {
    int64_t due_us;
    orcs__timer_t *timer;
} s_slot_t;

typedef struct {
    uint64_t id;
    orcs__timer_t *timer; // NULL = empty, &s_tombstone = deleted
} s_entry_t;

#define S_SPARE_MAX 256 // freed timers kept for reuse

struct orcs__timers_t {
    s_slot_t *heap;        // min-heap on due_us
    size_t count;          // timers in the heap
    size_t alloc;          // heap slots
    s_entry_t *table;      // id -> timer, linear probing
    size_t table_size;     // power of two
    size_t table_used;     // live + tombstones
    orcs__timer_t **spare; // freed timers for reuse
    size_t spare_count;
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
    self->spare = orcs_calloc(S_SPARE_MAX, sizeof *self->spare);
    return self;
}

void
orcs__timers_destroy(orcs__timers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs__timers_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free(self->heap[i].timer);
    for (size_t i = 0; i < self->spare_count; i++)
        free(self->spare[i]);
    free(self->spare);
    free(self->heap);
    free(self->table);
    free(self);
    *self_p = NULL;
}

static void s_table_put(orcs__timers_t *self, orcs__timer_t *timer);

static void
s_table_grow(orcs__timers_t *self)
{
    s_entry_t *old = self->table;
    size_t old_size = self->table_size;
    // Grow only when live entries need it; otherwise just drop tombstones.
    if (self->count * 2 >= old_size)
        self->table_size *= 2;
    self->table = orcs_calloc(self->table_size, sizeof *self->table);
    self->table_used = 0;
    for (size_t i = 0; i < old_size; i++)
        if (old[i].timer && old[i].timer != &s_tombstone)
            s_table_put(self, old[i].timer);
    free(old);
}

static void
s_table_put(orcs__timers_t *self, orcs__timer_t *timer)
{
    if ((self->table_used + 1) * 4 >= self->table_size * 3)
        s_table_grow(self);
    size_t mask = self->table_size - 1;
    size_t i = s_hash(timer->id, self->table_size);
    while (self->table[i].timer && self->table[i].timer != &s_tombstone)
        i = (i + 1) & mask;
    if (!self->table[i].timer)
        self->table_used++;
    self->table[i] = (s_entry_t){timer->id, timer};
}

static size_t
s_table_slot(orcs__timers_t *self, uint64_t id)
{
    size_t mask = self->table_size - 1;
    size_t i = s_hash(id, self->table_size);
    while (self->table[i].timer) {
        if (self->table[i].id == id && self->table[i].timer != &s_tombstone)
            return i;
        i = (i + 1) & mask;
    }
    return SIZE_MAX;
}

orcs__timer_t *
orcs__timers_find(orcs__timers_t *self, uint64_t id)
{
    size_t slot = s_table_slot(self, id);
    return slot == SIZE_MAX ? NULL : self->table[slot].timer;
}

// Puts slot into heap position i.
static void
s_place(orcs__timers_t *self, size_t i, s_slot_t slot)
{
    self->heap[i] = slot;
    slot.timer->heap_index = i;
}

static void
s_up(orcs__timers_t *self, size_t i)
{
    s_slot_t moving = self->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->heap[parent].due_us <= moving.due_us)
            break;
        s_place(self, i, self->heap[parent]);
        i = parent;
    }
    s_place(self, i, moving);
}

static void
s_down(orcs__timers_t *self, size_t i)
{
    s_slot_t moving = self->heap[i];
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, least = left;
        if (left >= self->count)
            break;
        if (right < self->count
            && self->heap[right].due_us < self->heap[left].due_us)
            least = right;
        if (self->heap[least].due_us >= moving.due_us)
            break;
        s_place(self, i, self->heap[least]);
        i = least;
    }
    s_place(self, i, moving);
}

orcs__timer_t *
orcs__timers_add(orcs__timers_t *self,
                 uint64_t id,
                 int64_t due_us,
                 int64_t interval_us)
{
    orcs__timer_t *timer;
    if (self->spare_count) {
        timer = self->spare[--self->spare_count];
        memset(timer, 0, sizeof *timer);
    } else
        timer = orcs_calloc(1, sizeof *timer);
    timer->id = id;
    timer->due_us = due_us;
    timer->interval_us = interval_us;
    if (self->count == self->alloc) {
        self->alloc = self->alloc ? self->alloc * 2 : 16;
        self->heap = orcs_realloc(self->heap, self->alloc * sizeof *self->heap);
    }
    size_t i = self->count++;
    s_place(self, i, (s_slot_t){due_us, timer});
    s_up(self, i);
    s_table_put(self, timer);
    return timer;
}

void
orcs__timers_remove(orcs__timers_t *self, orcs__timer_t *timer)
{
    size_t slot = s_table_slot(self, timer->id);
    if (slot != SIZE_MAX)
        self->table[slot].timer = &s_tombstone;
    size_t i = timer->heap_index;
    self->count--;
    if (i != self->count) {
        s_place(self, i, self->heap[self->count]);
        s_down(self, i);
        s_up(self, i);
    }
    if (self->spare_count < S_SPARE_MAX)
        self->spare[self->spare_count++] = timer;
    else
        free(timer);
}

orcs__timer_t *
orcs__timers_first(orcs__timers_t *self)
{
    return self->count ? self->heap[0].timer : NULL;
}

void
orcs__timers_reschedule(orcs__timers_t *self,
                        orcs__timer_t *timer,
                        int64_t due_us)
{
    timer->due_us = due_us;
    self->heap[timer->heap_index].due_us = due_us;
    s_down(self, timer->heap_index);
    s_up(self, timer->heap_index);
}

size_t
orcs__timers_size(orcs__timers_t *self)
{
    return self->count;
}
