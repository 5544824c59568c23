/*  actors/model/sse.c — incremental server-sent events parser.
    SPDX-License-Identifier: MPL-2.0

    Follows the WHATWG event-stream rules: lines end with \n, \r\n or \r
    (a "\r\n" may straddle two feeds), a blank line dispatches the event,
    ':' starts a comment, data lines join with '\n', a leading UTF-8 BOM is
    dropped. Every buffer is capped by max_event. */
#include "openai.h"

#include <string.h>

#include "orcs/sys.h"

struct orcs__sse_t {
    size_t max_event;  // cap on one line and on one event's data
    char *line;        // the line being assembled (not NUL-terminated)
    size_t line_size;  // bytes in line
    size_t line_cap;   // allocated bytes of line
    char *data;        // data lines joined, each followed by '\n'
    size_t data_size;  // bytes in data
    size_t data_cap;   // allocated bytes of data
    bool has_data;     // a data field was seen in this event
    char *event;       // the event field, NULL when none
    bool after_cr;     // the last byte fed was '\r'
    bool started;      // some byte was fed (BOM check done)
    size_t bom_seen;   // bytes of a leading BOM matched so far
    orcs_status error; // sticky: once a feed failed, every later one does
};

orcs__sse_t *
orcs__sse_new(size_t max_event)
{
    orcs__sse_t *self = orcs_calloc(1, sizeof *self);
    self->max_event = max_event ? max_event : ORCS_OPENAI_EVENT_MAX;
    return self;
}

void
orcs__sse_destroy(orcs__sse_t **self_p)
{
    orcs_assert(self_p);
    orcs__sse_t *self = *self_p;
    if (!self)
        return;
    free(self->line);
    free(self->data);
    free(self->event);
    free(self);
    *self_p = NULL;
}

// Grows *buf to hold need bytes (need <= cap limit checked by the caller).
static void
s_reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t next = *cap ? *cap : 256;
    while (next < need)
        next *= 2;
    *buf = orcs_realloc(*buf, next);
    *cap = next;
}

static void
s_reset_event(orcs__sse_t *self)
{
    self->data_size = 0;
    self->has_data = false;
    free(self->event);
    self->event = NULL;
}

static orcs_status
s_dispatch(orcs__sse_t *self, orcs__sse_event_fn *fn, void *arg)
{
    if (!self->has_data) {
        s_reset_event(self);
        return ORCS_OK;
    }
    // Drop the '\n' after the last data line; NUL-terminate in its place.
    size_t size = self->data_size ? self->data_size - 1 : 0;
    s_reserve(&self->data, &self->data_cap, size + 1);
    self->data[size] = '\0';
    char *event = self->event;
    self->event = NULL;
    orcs_status rc = fn(arg, event ? event : "", self->data, size);
    free(event);
    s_reset_event(self);
    return rc;
}

static orcs_status
s_field(orcs__sse_t *self, const char *line, size_t size)
{
    const char *colon = memchr(line, ':', size);
    size_t name_size = colon ? (size_t) (colon - line) : size;
    const char *value = colon ? colon + 1 : line + size;
    size_t value_size = size - (size_t) (value - line);
    if (value_size > 0 && value[0] == ' ') {
        value++;
        value_size--;
    }
    if (name_size == 4 && memcmp(line, "data", 4) == 0) {
        if (self->data_size + value_size + 1 > self->max_event)
            return ORCS_ETOOBIG;
        s_reserve(&self->data, &self->data_cap,
                  self->data_size + value_size + 1);
        memcpy(self->data + self->data_size, value, value_size);
        self->data_size += value_size;
        self->data[self->data_size++] = '\n';
        self->has_data = true;
    } else if (name_size == 5 && memcmp(line, "event", 5) == 0) {
        free(self->event);
        self->event = orcs_malloc(value_size + 1);
        memcpy(self->event, value, value_size);
        self->event[value_size] = '\0';
    }
    // id, retry and unknown fields carry nothing orcs uses.
    return ORCS_OK;
}

static orcs_status
s_line(orcs__sse_t *self, orcs__sse_event_fn *fn, void *arg)
{
    size_t size = self->line_size;
    self->line_size = 0;
    if (size == 0)
        return s_dispatch(self, fn, arg);
    if (self->line[0] == ':')
        return ORCS_OK; // comment, e.g. ": keep-alive"
    return s_field(self, self->line, size);
}

// Appends bytes to the current line.
static orcs_status
s_append(orcs__sse_t *self, const char *bytes, size_t size)
{
    if (size == 0)
        return ORCS_OK;
    if (self->line_size + size > self->max_event)
        return ORCS_ETOOBIG;
    s_reserve(&self->line, &self->line_cap, self->line_size + size);
    memcpy(self->line + self->line_size, bytes, size);
    self->line_size += size;
    return ORCS_OK;
}

// Skips a leading UTF-8 byte order mark, even one split across feeds.
static size_t
s_skip_bom(orcs__sse_t *self, const char *bytes, size_t size)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    size_t used = 0;
    while (!self->started && used < size) {
        if ((unsigned char) bytes[used] != bom[self->bom_seen]) {
            // Not a BOM after all: give back what was held.
            self->started = true;
            if (self->bom_seen > 0)
                (void) s_append(self, (const char *) bom, self->bom_seen);
            return used;
        }
        used++;
        if (++self->bom_seen == 3)
            self->started = true;
    }
    return used;
}

orcs_status
orcs__sse_feed(orcs__sse_t *self,
               const char *bytes,
               size_t size,
               orcs__sse_event_fn *fn,
               void *arg)
{
    orcs_assert(self);
    orcs_assert(fn);
    if (self->error != ORCS_OK)
        return self->error;
    orcs_status rc = ORCS_OK;
    size_t at = s_skip_bom(self, bytes, size);
    while (at < size && rc == ORCS_OK) {
        if (self->after_cr && bytes[at] == '\n') {
            self->after_cr = false; // second half of a "\r\n"
            at++;
            continue;
        }
        self->after_cr = false;
        size_t end = at;
        while (end < size && bytes[end] != '\n' && bytes[end] != '\r')
            end++;
        rc = s_append(self, bytes + at, end - at);
        if (rc != ORCS_OK || end == size)
            break;
        self->after_cr = bytes[end] == '\r';
        at = end + 1;
        rc = s_line(self, fn, arg);
    }
    self->error = rc;
    return rc;
}

orcs_status
orcs__sse_end(orcs__sse_t *self, orcs__sse_event_fn *fn, void *arg)
{
    orcs_assert(self);
    orcs_assert(fn);
    if (self->error != ORCS_OK)
        return self->error;
    // The body is over, so a last line without its line end is whole, and
    // lines still waiting for their blank line form a whole event.
    orcs_status rc = ORCS_OK;
    if (self->line_size > 0)
        rc = s_line(self, fn, arg);
    if (rc == ORCS_OK)
        rc = s_dispatch(self, fn, arg);
    self->error = rc;
    return rc;
}
