/*  yaml.c — YAML text into jansson documents through libyaml's event API,
    keeping the line of every value (and of every mapping key) so errors can
    name file:line.
    SPDX-License-Identifier: MPL-2.0

    Lines are kept as a tree of marks, one per value: a mark names its
    container's mark and either its key or its array index, and an
    open-addressing table finds a mark from (container, key or index). Paths
    are never stored whole, so memory stays linear in the input however long
    the keys (a 2 MiB key over 300k children would otherwise cost 600 GB). The
    same table finds duplicate keys. */
#include "orcs/yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "orcs/sys.h"

#define S_NONE UINT32_MAX

#define S_TAG_PREFIX "tag:yaml.org,2002:"

typedef struct {
    uint32_t parent;  // mark of the container; S_NONE for the root
    uint32_t index;   // index in an array; S_NONE for a mapping entry
    uint32_t key_off; // mapping entries: offset of the key in self->keys
    uint32_t key_len; // its length in bytes
    int line;         // 1-based line of the value
    int key_line;     // 1-based line of the key; line when not an entry
} s_mark_t;

struct orcs_yaml_t {
    json_t *doc;       // the document
    char *filename;    // as given, for messages
    s_mark_t *marks;   // one per value, in document order; [0] is the root
    size_t mark_count; // marks in use
    size_t mark_cap;   // marks allocated
    uint32_t *slots;   // open addressing: index into marks, or S_NONE
    size_t slot_cap;   // a power of two, at least twice mark_count
    char *keys;        // every mapping key, each followed by a NUL
    size_t keys_len;   // bytes in use
    size_t keys_cap;   // bytes allocated
};

typedef struct {
    json_t *container; // the array or object being filled
    uint32_t mark;     // its mark
    uint32_t count;    // arrays: items so far
    bool has_key;      // objects: a key waits for its value
    uint32_t key_off;  // that key, already in self->keys
    uint32_t key_len;  // its length
    int key_line;      // its line
} s_frame_t;

typedef struct {
    orcs_yaml_t *self;                        // what is being built
    const char *text;                         // the input, for error lines
    size_t size;                              // its length
    s_frame_t stack[ORCS_YAML_MAX_DEPTH + 1]; // open containers
    unsigned depth;                           // entries used in stack
    unsigned documents;                       // documents started
    char *err;                                // the caller's buffer
    size_t err_size;                          // its size
} s_parser_t;

// ---------------------------------------------------------------------------
// Marks

static uint32_t
s_hash(uint32_t parent, uint32_t index, const char *key, size_t key_len)
{
    uint32_t h = 2166136261u; // FNV-1a
    const uint32_t words[2] = {parent, index};
    const unsigned char *bytes = (const unsigned char *) words;
    for (size_t i = 0; i < sizeof words; i++)
        h = (h ^ bytes[i]) * 16777619u;
    for (size_t i = 0; i < key_len; i++)
        h = (h ^ (unsigned char) key[i]) * 16777619u;
    // FNV's low bits barely change between neighbouring indices, and the
    // table masks to low bits: mix (murmur3's finaliser) or probes cluster.
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

// The key of a mapping entry ("" for others; keys is NULL until one is added).
static const char *
s_mark_key(const orcs_yaml_t *self, const s_mark_t *mark)
{
    return mark->key_len > 0 ? self->keys + mark->key_off : "";
}

static bool
s_mark_is(const orcs_yaml_t *self,
          const s_mark_t *mark,
          uint32_t parent,
          uint32_t index,
          const char *key,
          size_t key_len)
{
    if (mark->parent != parent || mark->index != index)
        return false;
    if (index != S_NONE)
        return true;
    return mark->key_len == key_len
           && (key_len == 0
               || memcmp(s_mark_key(self, mark), key, key_len) == 0);
}

// Finds the mark of (parent, index) or (parent, key); S_NONE when absent.
static uint32_t
s_find(const orcs_yaml_t *self,
       uint32_t parent,
       uint32_t index,
       const char *key,
       size_t key_len)
{
    if (self->slot_cap == 0)
        return S_NONE;
    size_t mask = self->slot_cap - 1;
    size_t at = s_hash(parent, index, key, key_len) & mask;
    while (self->slots[at] != S_NONE) {
        const s_mark_t *mark = &self->marks[self->slots[at]];
        if (s_mark_is(self, mark, parent, index, key, key_len))
            return self->slots[at];
        at = (at + 1) & mask;
    }
    return S_NONE;
}

static void
s_slot_insert(orcs_yaml_t *self, uint32_t id)
{
    const s_mark_t *mark = &self->marks[id];
    const char *key = s_mark_key(self, mark);
    size_t mask = self->slot_cap - 1;
    size_t at = s_hash(mark->parent, mark->index, key, mark->key_len) & mask;
    while (self->slots[at] != S_NONE)
        at = (at + 1) & mask;
    self->slots[at] = id;
}

static void
s_slots_grow(orcs_yaml_t *self)
{
    size_t cap = self->slot_cap ? self->slot_cap * 2 : 64;
    free(self->slots);
    self->slots = orcs_malloc(cap * sizeof *self->slots);
    memset(self->slots, 0xff, cap * sizeof *self->slots); // all S_NONE
    self->slot_cap = cap;
    for (size_t i = 0; i < self->mark_count; i++)
        s_slot_insert(self, (uint32_t) i);
}

// Adds a mark the caller knows is absent and returns its id. A key must
// already be in self->keys (key_off, key_len).
static uint32_t
s_mark_add(orcs_yaml_t *self, const s_mark_t *mark)
{
    if (self->mark_count == self->mark_cap) {
        self->mark_cap = self->mark_cap ? self->mark_cap * 2 : 64;
        self->marks =
            orcs_realloc(self->marks, self->mark_cap * sizeof *self->marks);
    }
    uint32_t id = (uint32_t) self->mark_count++;
    self->marks[id] = *mark;
    if (self->mark_count * 2 > self->slot_cap)
        s_slots_grow(self); // also inserts the new mark
    else
        s_slot_insert(self, id);
    return id;
}

// Stores a key (without NUL bytes) and a NUL after it; returns its offset.
static uint32_t
s_key_add(orcs_yaml_t *self, const char *key, size_t key_len)
{
    if (self->keys_len + key_len + 1 > self->keys_cap) {
        size_t cap = self->keys_cap ? self->keys_cap : 256;
        while (cap < self->keys_len + key_len + 1)
            cap *= 2;
        self->keys = orcs_realloc(self->keys, cap);
        self->keys_cap = cap;
    }
    char *at = self->keys + self->keys_len;
    if (key_len > 0)
        memcpy(at, key, key_len);
    at[key_len] = '\0';
    uint32_t off = (uint32_t) self->keys_len;
    self->keys_len += key_len + 1;
    return off;
}

// ---------------------------------------------------------------------------
// Errors

// Copies at most 40 bytes of s (never cutting a UTF-8 sequence) into buf,
// with control bytes shown as '?', for quoting input in messages.
static const char *
s_quote(char *buf, size_t buf_size, const char *s, size_t len)
{
    size_t limit = buf_size - 4; // room for "..." and NUL
    if (limit > 40)
        limit = 40;
    size_t n = len < limit ? len : limit;
    while (n < len && n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
        n--; // back to the start of a sequence
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        buf[i] = (char) (c < 0x20 || c == 0x7f ? '?' : c);
    }
    strcpy(buf + n, n < len ? "..." : "");
    return buf;
}

static orcs_status
s_fail(s_parser_t *p, orcs_status rc, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static orcs_status
s_fail(s_parser_t *p, orcs_status rc, size_t line, const char *fmt, ...)
{
    if (p->err_size == 0)
        return rc;
    int n = snprintf(p->err, p->err_size, "%s:%zu: ", p->self->filename, line);
    if (n >= 0 && (size_t) n < p->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->err_size - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static orcs_status
s_fail_libyaml(s_parser_t *p, const yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        orcs_panic("out of memory in libyaml");
    const char *problem = parser->problem ? parser->problem : "syntax error";
    size_t line = parser->problem_mark.line + 1;
    if (parser->error == YAML_READER_ERROR) {
        size_t end = parser->problem_offset;
        line = 1;
        for (size_t i = 0; i < end && i < p->size; i++)
            line += p->text[i] == '\n';
        if (parser->problem_value != -1)
            return s_fail(p, ORCS_EPROTO, line, "%s (byte 0x%02x)", problem,
                          (unsigned) parser->problem_value & 0xffu);
        return s_fail(p, ORCS_EPROTO, line, "%s", problem);
    }
    if (parser->context)
        return s_fail(p, ORCS_EPROTO, line, "%s %s (line %zu)", problem,
                      parser->context, parser->context_mark.line + 1);
    return s_fail(p, ORCS_EPROTO, line, "%s", problem);
}

// ---------------------------------------------------------------------------
// Scalars (YAML 1.2 core schema)

static bool
s_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

static bool
s_is_null(const char *s, size_t n)
{
    return n == 0 || s_is(s, n, "~") || s_is(s, n, "null") || s_is(s, n, "Null")
           || s_is(s, n, "NULL");
}

// Returns 1 for true, 0 for false, -1 when s is not a bool.
static int
s_bool(const char *s, size_t n)
{
    if (s_is(s, n, "true") || s_is(s, n, "True") || s_is(s, n, "TRUE"))
        return 1;
    if (s_is(s, n, "false") || s_is(s, n, "False") || s_is(s, n, "FALSE"))
        return 0;
    return -1;
}

static int
s_digit(char c, unsigned base)
{
    int d = -1;
    if (c >= '0' && c <= '9')
        d = c - '0';
    else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
    return d >= 0 && (unsigned) d < base ? d : -1;
}

// Whether s is an integer of the core schema: [-+]?[0-9]+, 0o[0-7]+ or
// 0x[0-9a-fA-F]+. Sets *overflow when it does not fit in json_int_t.
static bool
s_int(const char *s, size_t n, json_int_t *value, bool *overflow)
{
    unsigned base = 10;
    bool negative = false;
    size_t i = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        i = 2;
    } else if (n > 1 && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    // Magnitude up to 2^63 (the most negative value); larger overflows.
    const unsigned long long limit = (unsigned long long) LLONG_MAX + 1;
    unsigned long long magnitude = 0;
    *overflow = false;
    for (; i < n; i++) {
        int d = s_digit(s[i], base);
        if (d < 0)
            return false;
        if (magnitude > (limit - (unsigned) d) / base)
            *overflow = true;
        else
            magnitude = magnitude * base + (unsigned) d;
    }
    if (!negative && magnitude == limit)
        *overflow = true;
    if (*overflow)
        return true;
    if (negative)
        *value = magnitude == limit ? LLONG_MIN : -(json_int_t) magnitude;
    else
        *value = (json_int_t) magnitude;
    return true;
}

static size_t
s_digits(const char *s, size_t n, size_t i)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

// Whether s is a float of the core schema:
// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
static bool
s_is_float(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i < n && s[i] == '.') {
        size_t j = s_digits(s, n, i + 1);
        if (j == i + 1)
            return false;
        i = j;
    } else {
        size_t j = s_digits(s, n, i);
        if (j == i)
            return false;
        i = j;
        if (i < n && s[i] == '.')
            i = s_digits(s, n, i + 1);
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t j = s_digits(s, n, i);
        if (j == i)
            return false;
        i = j;
    }
    return i == n;
}

static bool
s_is_special_float(const char *s, size_t n)
{
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    return s_is(s, n, ".inf") || s_is(s, n, ".Inf") || s_is(s, n, ".INF")
           || s_is(s, n, ".nan") || s_is(s, n, ".NaN") || s_is(s, n, ".NAN");
}

// Resolves a plain scalar. *value is NULL when it is none of null, bool,
// int or float (then it is a string) and on error.
static orcs_status
s_resolve(s_parser_t *p, const char *s, size_t n, size_t line, json_t **value)
{
    char quoted[64];
    *value = NULL;
    if (s_is_null(s, n)) {
        *value = json_null();
        return ORCS_OK;
    }
    int b = s_bool(s, n);
    if (b >= 0) {
        *value = json_boolean(b);
        return ORCS_OK;
    }
    json_int_t i = 0;
    bool overflow = false;
    if (s_int(s, n, &i, &overflow)) {
        if (overflow)
            return s_fail(p, ORCS_EPROTO, line,
                          "integer %s does not fit in 64 bits",
                          s_quote(quoted, sizeof quoted, s, n));
        *value = json_integer(i);
        return ORCS_OK;
    }
    if (s_is_special_float(s, n))
        return s_fail(p, ORCS_EPROTO, line,
                      "%s has no JSON form (write a number or a string)",
                      s_quote(quoted, sizeof quoted, s, n));
    if (s_is_float(s, n)) {
        // s is NUL-terminated (libyaml adds one) and all ASCII digits here;
        // orcs never calls setlocale, so strtod reads '.' as the point.
        double d = strtod(s, NULL);
        if (!isfinite(d))
            return s_fail(p, ORCS_EPROTO, line, "number %s is out of range",
                          s_quote(quoted, sizeof quoted, s, n));
        *value = json_real(d);
    }
    return ORCS_OK;
}

static orcs_status
s_scalar(s_parser_t *p, const yaml_event_t *event, json_t **value_p)
{
    const char *s = (const char *) event->data.scalar.value;
    size_t n = event->data.scalar.length;
    size_t line = event->start_mark.line + 1;
    const char *tag = (const char *) event->data.scalar.tag;
    bool plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    const char *kind = NULL; // the core tag asked for, if any
    char quoted[64];
    *value_p = NULL;
    if (tag && strcmp(tag, "!") != 0) {
        if (strncmp(tag, S_TAG_PREFIX, strlen(S_TAG_PREFIX)) != 0)
            return s_fail(p, ORCS_EPROTO, line, "unsupported tag '%s'",
                          s_quote(quoted, sizeof quoted, tag, strlen(tag)));
        kind = tag + strlen(S_TAG_PREFIX);
        if (strcmp(kind, "str") == 0) {
            kind = NULL;
            plain = false;
        } else if (strcmp(kind, "null") == 0 || strcmp(kind, "bool") == 0
                   || strcmp(kind, "int") == 0 || strcmp(kind, "float") == 0) {
            plain = true; // resolve as plain, then check the kind below
        } else {
            return s_fail(p, ORCS_EPROTO, line, "unsupported tag '!!%s'",
                          s_quote(quoted, sizeof quoted, kind, strlen(kind)));
        }
    } else if (tag) {
        plain = false; // the non-specific tag "!" makes a string
    }
    json_t *value = NULL;
    if (plain) {
        orcs_status rc = s_resolve(p, s, n, line, &value);
        if (rc != ORCS_OK)
            return rc;
    }
    if (kind) {
        bool ok = value
                  && ((strcmp(kind, "null") == 0 && json_is_null(value))
                      || (strcmp(kind, "bool") == 0 && json_is_boolean(value))
                      || (strcmp(kind, "int") == 0 && json_is_integer(value))
                      || (strcmp(kind, "float") == 0 && json_is_number(value)));
        if (!ok) {
            json_decref(value);
            return s_fail(p, ORCS_EPROTO, line, "'%s' is not a valid !!%s",
                          s_quote(quoted, sizeof quoted, s, n), kind);
        }
        if (strcmp(kind, "float") == 0 && json_is_integer(value)) {
            json_t *real = json_real((double) json_integer_value(value));
            json_decref(value);
            value = real;
        }
    }
    if (!value)
        value = json_stringn(s, n);
    if (!value) // jansson refuses invalid UTF-8
        return s_fail(p, ORCS_EPROTO, line, "string is not valid UTF-8");
    *value_p = value;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Events

// Places value (a new reference, consumed) in the open container or as the
// document, and records its mark. Returns the mark's id.
static uint32_t
s_place(s_parser_t *p, json_t *value, size_t line)
{
    orcs_yaml_t *self = p->self;
    int l = line > INT_MAX ? INT_MAX : (int) line;
    s_mark_t mark = {S_NONE, S_NONE, 0, 0, l, l};
    if (p->depth == 0) {
        self->doc = value;
        return s_mark_add(self, &mark);
    }
    s_frame_t *top = &p->stack[p->depth - 1];
    mark.parent = top->mark;
    if (json_is_array(top->container)) {
        mark.index = top->count++;
        json_array_append_new(top->container, value);
    } else {
        orcs_assert(top->has_key);
        mark.key_off = top->key_off;
        mark.key_len = top->key_len;
        mark.key_line = top->key_line;
        top->has_key = false;
        // The key was checked for NUL bytes and UTF-8 when it was read.
        json_object_set_new_nocheck(top->container, self->keys + top->key_off,
                                    value);
    }
    return s_mark_add(self, &mark);
}

static orcs_status
s_key(s_parser_t *p, const yaml_event_t *event)
{
    s_frame_t *top = &p->stack[p->depth - 1];
    size_t line = event->start_mark.line + 1;
    char quoted[64];
    if (event->type != YAML_SCALAR_EVENT)
        return s_fail(
            p, ORCS_EPROTO, line, "mapping keys must be scalars, not %s",
            event->type == YAML_MAPPING_START_EVENT ? "mappings" : "sequences");
    const char *tag = (const char *) event->data.scalar.tag;
    if (tag && strcmp(tag, "!") != 0 && strcmp(tag, S_TAG_PREFIX "str") != 0)
        return s_fail(p, ORCS_EPROTO, line, "mapping keys must be strings");
    const char *key = (const char *) event->data.scalar.value;
    size_t key_len = event->data.scalar.length;
    if (memchr(key, '\0', key_len))
        return s_fail(p, ORCS_EPROTO, line, "mapping key contains NUL");
    json_t *check = json_stringn(key, key_len); // jansson's UTF-8 check
    if (!check)
        return s_fail(p, ORCS_EPROTO, line, "mapping key is not valid UTF-8");
    json_decref(check);
    if (s_find(p->self, top->mark, S_NONE, key, key_len) != S_NONE)
        return s_fail(p, ORCS_EPROTO, line, "duplicate key '%s'",
                      s_quote(quoted, sizeof quoted, key, key_len));
    top->key_off = s_key_add(p->self, key, key_len);
    top->key_len = (uint32_t) key_len;
    top->key_line = line > INT_MAX ? INT_MAX : (int) line;
    top->has_key = true;
    return ORCS_OK;
}

static orcs_status
s_container(s_parser_t *p, const yaml_event_t *event)
{
    bool mapping = event->type == YAML_MAPPING_START_EVENT;
    size_t line = event->start_mark.line + 1;
    const char *tag = (const char *) (mapping ? event->data.mapping_start.tag
                                              : event->data.sequence_start.tag);
    char quoted[64];
    if (tag && strcmp(tag, "!") != 0
        && strcmp(tag, mapping ? S_TAG_PREFIX "map" : S_TAG_PREFIX "seq") != 0)
        return s_fail(p, ORCS_EPROTO, line, "unsupported tag '%s'",
                      s_quote(quoted, sizeof quoted, tag, strlen(tag)));
    if (p->depth == ORCS_YAML_MAX_DEPTH)
        return s_fail(p, ORCS_ETOOBIG, line, "nesting deeper than %u levels",
                      ORCS_YAML_MAX_DEPTH);
    json_t *container = mapping ? json_object() : json_array();
    uint32_t mark = s_place(p, container, line);
    p->stack[p->depth++] = (s_frame_t){container, mark, 0, false, 0, 0, 0};
    return ORCS_OK;
}

static orcs_status
s_event(s_parser_t *p, const yaml_event_t *event)
{
    size_t line = event->start_mark.line + 1;
    const yaml_char_t *anchor = NULL;
    if (event->type == YAML_SCALAR_EVENT)
        anchor = event->data.scalar.anchor;
    else if (event->type == YAML_SEQUENCE_START_EVENT)
        anchor = event->data.sequence_start.anchor;
    else if (event->type == YAML_MAPPING_START_EVENT)
        anchor = event->data.mapping_start.anchor;
    if (anchor || event->type == YAML_ALIAS_EVENT)
        return s_fail(p, ORCS_EPROTO, line,
                      "anchors and aliases (&, *) are not supported");
    bool wants_key = p->depth > 0
                     && json_is_object(p->stack[p->depth - 1].container)
                     && !p->stack[p->depth - 1].has_key;
    switch (event->type) {
        case YAML_DOCUMENT_START_EVENT:
            if (p->documents++ > 0)
                return s_fail(p, ORCS_EPROTO, line,
                              "more than one document (only one is read)");
            return ORCS_OK;
        case YAML_SCALAR_EVENT: {
            if (wants_key)
                return s_key(p, event);
            json_t *value = NULL;
            orcs_status rc = s_scalar(p, event, &value);
            if (rc == ORCS_OK)
                s_place(p, value, line);
            return rc;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (wants_key)
                return s_key(p, event);
            return s_container(p, event);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            orcs_assert(p->depth > 0);
            p->depth--;
            return ORCS_OK;
        case YAML_STREAM_END_EVENT:
            if (p->documents == 0) // empty or only comments: null
                s_place(p, json_null(), 1);
            return ORCS_OK;
        default:
            return ORCS_OK;
    }
}

// ---------------------------------------------------------------------------
// API

static orcs_yaml_t *
s_new(const char *filename)
{
    orcs_yaml_t *self = orcs_calloc(1, sizeof *self);
    self->filename = orcs_strdup(filename ? filename : "<text>");
    return self;
}

// Feeds libyaml's events to s_event until the stream ends or one fails.
static orcs_status
s_run(s_parser_t *p)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        orcs_panic("out of memory in libyaml");
    yaml_parser_set_input_string(
        &parser, (const unsigned char *) (p->text ? p->text : ""), p->size);
    orcs_status rc = ORCS_OK;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            rc = s_fail_libyaml(p, &parser);
            break;
        }
        rc = s_event(p, &event);
        yaml_event_type_t type = event.type;
        yaml_event_delete(&event);
        if (rc != ORCS_OK || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

orcs_status
orcs_yaml_parse(const char *text,
                size_t size,
                const char *filename,
                orcs_yaml_t **self_p,
                char *err,
                size_t err_size)
{
    orcs_assert(self_p);
    orcs_assert(text || size == 0);
    *self_p = NULL;
    if (err_size > 0)
        err[0] = '\0';
    s_parser_t *p = orcs_calloc(1, sizeof *p);
    p->self = s_new(filename);
    p->text = text;
    p->size = size;
    p->err = err;
    p->err_size = err_size;
    orcs_status rc = ORCS_OK;
    if (size > ORCS_YAML_MAX_SIZE)
        rc = s_fail(p, ORCS_ETOOBIG, 1, "text is over the limit of %u bytes",
                    ORCS_YAML_MAX_SIZE);
    else
        rc = s_run(p);
    if (rc == ORCS_OK)
        *self_p = p->self;
    else
        orcs_yaml_destroy(&p->self);
    free(p);
    return rc;
}

orcs_status
orcs_yaml_load(const char *path,
               orcs_yaml_t **self_p,
               char *err,
               size_t err_size)
{
    orcs_assert(path);
    orcs_assert(self_p);
    *self_p = NULL;
    if (err_size > 0)
        err[0] = '\0';
    FILE *file = fopen(path, "rb");
    if (!file) {
        if (err_size > 0)
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return ORCS_EIO;
    }
    // Read at most one byte past the limit: enough to refuse, never more.
    size_t cap = 16384;
    size_t size = 0;
    char *text = orcs_malloc(cap);
    for (;;) {
        size += fread(text + size, 1, cap - size, file);
        if (size < cap || cap == ORCS_YAML_MAX_SIZE + 1)
            break; // end of file, error or over the limit
        cap = cap * 2 > ORCS_YAML_MAX_SIZE ? ORCS_YAML_MAX_SIZE + 1 : cap * 2;
        text = orcs_realloc(text, cap);
    }
    bool failed = ferror(file) != 0;
    int saved = errno;
    fclose(file);
    orcs_status rc = ORCS_EIO;
    if (failed) {
        if (err_size > 0)
            snprintf(err, err_size, "%s: %s", path, strerror(saved));
    } else {
        rc = orcs_yaml_parse(text, size, path, self_p, err, err_size);
    }
    free(text);
    return rc;
}

void
orcs_yaml_destroy(orcs_yaml_t **self_p)
{
    orcs_assert(self_p);
    orcs_yaml_t *self = *self_p;
    if (!self)
        return;
    free(self->keys);
    free(self->slots);
    free(self->marks);
    free(self->filename);
    json_decref(self->doc);
    free(self);
    *self_p = NULL;
}

json_t *
orcs_yaml_doc(const orcs_yaml_t *self)
{
    orcs_assert(self);
    return self->doc;
}

const char *
orcs_yaml_filename(const orcs_yaml_t *self)
{
    orcs_assert(self);
    return self->filename;
}

// Reads one key of a path into buf (unescaping "\x" to "x") up to an
// unescaped '.' or '['. Returns the length; *end_p is where it stopped.
static size_t
s_path_key(const char *path, char *buf, const char **end_p)
{
    size_t n = 0;
    const char *s = path;
    while (*s && *s != '.' && *s != '[') {
        if (*s == '\\' && s[1])
            s++;
        buf[n++] = *s++;
    }
    *end_p = s;
    return n;
}

// Follows path from the root as far as it exists; returns that mark's id,
// or S_NONE when there are no marks.
static uint32_t
s_walk(const orcs_yaml_t *self, const char *path)
{
    if (self->mark_count == 0)
        return S_NONE;
    uint32_t at = 0;
    char *buf = orcs_malloc(strlen(path) + 1);
    const char *s = path;
    while (*s) {
        uint32_t next = S_NONE;
        if (*s == '[') {
            char *end = NULL;
            errno = 0;
            unsigned long index = strtoul(s + 1, &end, 10);
            if (end == s + 1 || *end != ']' || errno || index >= S_NONE
                || s[1] < '0' || s[1] > '9')
                break;
            next = s_find(self, at, (uint32_t) index, NULL, 0);
            s = end + 1;
        } else {
            if (*s == '.')
                s++;
            size_t n = s_path_key(s, buf, &s);
            next = s_find(self, at, S_NONE, buf, n);
        }
        if (next == S_NONE)
            break;
        at = next;
    }
    free(buf);
    return at;
}

int
orcs_yaml_line(const orcs_yaml_t *self, const char *path)
{
    orcs_assert(self);
    orcs_assert(path);
    uint32_t at = s_walk(self, path);
    return at == S_NONE ? 0 : self->marks[at].line;
}

int
orcs_yaml_key_line(const orcs_yaml_t *self, const char *path)
{
    orcs_assert(self);
    orcs_assert(path);
    uint32_t at = s_walk(self, path);
    return at == S_NONE ? 0 : self->marks[at].key_line;
}
