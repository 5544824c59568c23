/*  schema.c — the JSON Schema subset of orcs/schema.h: orcs_schema_check
    refuses what the validator would not understand, orcs_schema_validate
    walks a value and reports the first mismatch with its JSON path.
    SPDX-License-Identifier: MPL-2.0

    Patterns are compiled by schema_pattern.c. */
#include "orcs/schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "tools/tools_internal.h"

#define S_SEGS_MAX  (3 * ORCS_SCHEMA_DEPTH_MAX + 8) // path segments
#define S_QUOTE_MAX 40  // bytes of a string quoted in a message
#define S_SUB_ERR   256 // bytes of a branch's message (anyOf)

typedef struct {
    const char *key; // NULL for an array index
    size_t index;    // the index when key is NULL
} s_seg_t;

typedef struct {
    s_seg_t segs[S_SEGS_MAX]; // path of the node being looked at
    size_t nsegs;             // segments in use
    unsigned depth;           // schemas entered
    char *err;                // the caller's buffer
    size_t err_size;          // its size
    char *path;               // check_at: yaml path of the bad node
    size_t path_size;         // its size (0 = write "$path: " into err)
} s_ctx_t;

typedef struct {
    char *buf;   // output, always NUL-terminated when size > 0
    size_t size; // bytes of buf
    size_t len;  // bytes written (capped at size - 1)
} s_out_t;

static const char *const s_types[] = {"object", "array",   "string", "integer",
                                      "number", "boolean", "null",   NULL};

// ---------------------------------------------------------------------------
// Messages

static void
s_put(s_out_t *o, const char *s, size_t n)
{
    if (o->size == 0)
        return;
    size_t room = o->size - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void s_putf(s_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_putf(s_out_t *o, const char *fmt, ...)
{
    if (o->size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    o->len += strlen(o->buf + o->len);
}

static bool
s_is_plain_key(const char *key)
{
    if (!*key)
        return false;
    for (const char *s = key; *s; s++) {
        char ch = *s;
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
                  || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'
                  || ch == '$';
        if (!ok)
            return false;
    }
    return true;
}

// "$.a[2]['odd key']"
static void
s_display_path(const s_ctx_t *c, s_out_t *o)
{
    s_put(o, "$", 1);
    for (size_t i = 0; i < c->nsegs; i++) {
        const s_seg_t *seg = &c->segs[i];
        if (!seg->key) {
            s_putf(o, "[%zu]", seg->index);
        } else if (s_is_plain_key(seg->key)) {
            s_put(o, ".", 1);
            s_put(o, seg->key, strlen(seg->key));
        } else {
            s_put(o, "['", 2);
            for (const char *s = seg->key; *s; s++) {
                unsigned char ch = (unsigned char) *s;
                if (ch == '\'' || ch == '\\')
                    s_put(o, "\\", 1);
                char out = (char) (ch < 0x20 || ch == 0x7f ? '?' : ch);
                s_put(o, &out, 1);
            }
            s_put(o, "']", 2);
        }
    }
}

// "a.b\.c[2]" as orcs_yaml_line wants it.
static void
s_yaml_path(const s_ctx_t *c, s_out_t *o)
{
    for (size_t i = 0; i < c->nsegs; i++) {
        const s_seg_t *seg = &c->segs[i];
        if (!seg->key) {
            s_putf(o, "[%zu]", seg->index);
            continue;
        }
        if (o->len > 0)
            s_put(o, ".", 1);
        for (const char *s = seg->key; *s; s++) {
            if (*s == '.' || *s == '[' || *s == '\\')
                s_put(o, "\\", 1);
            s_put(o, s, 1);
        }
    }
}

static orcs_status s_fail(s_ctx_t *c, orcs_status rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static orcs_status
s_fail(s_ctx_t *c, orcs_status rc, const char *fmt, ...)
{
    s_out_t o = {c->err, c->err_size, 0};
    if (c->path_size > 0) {
        s_out_t p = {c->path, c->path_size, 0};
        p.buf[0] = '\0';
        s_yaml_path(c, &p);
    } else {
        s_display_path(c, &o);
        s_put(&o, ": ", 2);
    }
    if (o.size > o.len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o.buf + o.len, o.size - o.len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool
s_push_key(s_ctx_t *c, const char *key)
{
    if (c->nsegs >= S_SEGS_MAX)
        return false;
    c->segs[c->nsegs].key = key;
    c->segs[c->nsegs].index = 0;
    c->nsegs++;
    return true;
}

static bool
s_push_index(s_ctx_t *c, size_t index)
{
    if (c->nsegs >= S_SEGS_MAX)
        return false;
    c->segs[c->nsegs].key = NULL;
    c->segs[c->nsegs].index = index;
    c->nsegs++;
    return true;
}

static void
s_pop(s_ctx_t *c)
{
    if (c->nsegs > 0)
        c->nsegs--;
}

static void
s_format_number(char *buf, size_t size, const json_t *v)
{
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    double d = json_real_value(v);
    snprintf(buf, size, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, size, "%.17g", d);
}

const char *
orcs__json_describe(char *buf, size_t buf_size, const json_t *v)
{
    switch (json_typeof(v)) {
        case JSON_STRING: {
            const char *s = json_string_value(v);
            size_t len = json_string_length(v);
            size_t n = len < S_QUOTE_MAX ? len : S_QUOTE_MAX;
            while (n < len && n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--; // do not cut a UTF-8 sequence
            s_out_t o = {buf, buf_size, 0};
            s_put(&o, "'", 1);
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) s[i];
                char out = (char) (ch < 0x20 || ch == 0x7f ? '?' : ch);
                s_put(&o, &out, 1);
            }
            s_put(&o, n < len ? "...'" : "'", n < len ? 4 : 1);
            return buf;
        }
        case JSON_INTEGER:
        case JSON_REAL:
            s_format_number(buf, buf_size, v);
            return buf;
        case JSON_TRUE:
            return "true";
        case JSON_FALSE:
            return "false";
        case JSON_NULL:
            return "null";
        case JSON_ARRAY:
            return "an array";
        case JSON_OBJECT:
            return "an object";
    }
    return "?";
}

static bool
s_is_whole(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

// The type name of a value: a real is "number" even when whole.
static const char *
s_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
        case JSON_OBJECT:
            return "object";
        case JSON_ARRAY:
            return "array";
        case JSON_STRING:
            return "string";
        case JSON_INTEGER:
            return "integer";
        case JSON_REAL:
            return "number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "boolean";
        case JSON_NULL:
            return "null";
    }
    return "?";
}

// ---------------------------------------------------------------------------
// Checking a schema

static orcs_status s_check(s_ctx_t *c, const json_t *schema);

static bool
s_is_type_name(const json_t *v)
{
    if (!json_is_string(v))
        return false;
    for (size_t i = 0; s_types[i]; i++)
        if (strcmp(json_string_value(v), s_types[i]) == 0)
            return true;
    return false;
}

static orcs_status
s_check_type(s_ctx_t *c, const json_t *type)
{
    char got[64];
    if (json_is_string(type)) {
        if (!s_is_type_name(type))
            return s_fail(c, ORCS_EINVAL,
                          "unknown type %s (expected object, array, string, "
                          "integer, number, boolean or null)",
                          orcs__json_describe(got, sizeof got, type));
        return ORCS_OK;
    }
    if (!json_is_array(type) || json_array_size(type) == 0)
        return s_fail(c, ORCS_EINVAL,
                      "must be a type name or a non-empty list of them");
    size_t i;
    const json_t *item;
    json_array_foreach(type, i, item)
    {
        if (!s_is_type_name(item)) {
            s_push_index(c, i);
            return s_fail(c, ORCS_EINVAL, "unknown type %s",
                          orcs__json_describe(got, sizeof got, item));
        }
    }
    return ORCS_OK;
}

static orcs_status
s_check_schema_list(s_ctx_t *c, const json_t *list)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return s_fail(c, ORCS_EINVAL, "must be a non-empty list of schemas");
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (!s_push_index(c, i))
            return s_fail(c, ORCS_EINVAL, "nested too deep");
        orcs_status rc = s_check(c, item);
        if (rc != ORCS_OK)
            return rc;
        s_pop(c);
    }
    return ORCS_OK;
}

static orcs_status
s_check_properties(s_ctx_t *c, const json_t *properties)
{
    if (!json_is_object(properties))
        return s_fail(c, ORCS_EINVAL, "must be an object of schemas");
    const char *name;
    const json_t *sub;
    json_object_foreach((json_t *) properties, name, sub)
    {
        if (!s_push_key(c, name))
            return s_fail(c, ORCS_EINVAL, "nested too deep");
        orcs_status rc = s_check(c, sub);
        if (rc != ORCS_OK)
            return rc;
        s_pop(c);
    }
    return ORCS_OK;
}

static orcs_status
s_check_required(s_ctx_t *c, const json_t *required)
{
    if (!json_is_array(required))
        return s_fail(c, ORCS_EINVAL, "must be a list of property names");
    size_t i;
    const json_t *item;
    json_array_foreach(required, i, item)
    {
        if (!json_is_string(item)) {
            s_push_index(c, i);
            return s_fail(c, ORCS_EINVAL, "must be a property name, got %s",
                          s_type_of(item));
        }
    }
    return ORCS_OK;
}

static bool
s_is_count(const json_t *v)
{
    return s_is_whole(v) && json_number_value(v) >= 0;
}

static bool
s_is_one_of(const char *s, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    return false;
}

static const char *const s_counts[] = {"minItems", "maxItems", "minLength",
                                       "maxLength", NULL};
static const char *const s_bounds[] = {"minimum", "maximum", "exclusiveMinimum",
                                       "exclusiveMaximum", NULL};
static const char *const s_texts[] = {"description", "title", "$schema",
                                      "format", NULL};

// One keyword of a schema; the path already names it.
static orcs_status
s_check_keyword(s_ctx_t *c, const char *key, const json_t *v)
{
    if (strcmp(key, "type") == 0)
        return s_check_type(c, v);
    if (strcmp(key, "properties") == 0)
        return s_check_properties(c, v);
    if (strcmp(key, "required") == 0)
        return s_check_required(c, v);
    if (strcmp(key, "additionalProperties") == 0 || strcmp(key, "items") == 0)
        return s_check(c, v);
    if (strcmp(key, "anyOf") == 0 || strcmp(key, "oneOf") == 0
        || strcmp(key, "allOf") == 0)
        return s_check_schema_list(c, v);
    if (strcmp(key, "enum") == 0) {
        if (!json_is_array(v) || json_array_size(v) == 0)
            return s_fail(c, ORCS_EINVAL, "must be a non-empty list");
        return ORCS_OK;
    }
    if (strcmp(key, "const") == 0 || strcmp(key, "default") == 0)
        return ORCS_OK;
    if (strcmp(key, "examples") == 0) {
        if (!json_is_array(v))
            return s_fail(c, ORCS_EINVAL, "must be a list");
        return ORCS_OK;
    }
    if (s_is_one_of(key, s_counts)) {
        if (!s_is_count(v))
            return s_fail(c, ORCS_EINVAL,
                          "must be a non-negative integer, got %s",
                          s_type_of(v));
        return ORCS_OK;
    }
    if (s_is_one_of(key, s_bounds)) {
        if (!json_is_number(v))
            return s_fail(c, ORCS_EINVAL, "must be a number, got %s",
                          s_type_of(v));
        return ORCS_OK;
    }
    if (s_is_one_of(key, s_texts)) {
        if (!json_is_string(v))
            return s_fail(c, ORCS_EINVAL, "must be a string, got %s",
                          s_type_of(v));
        return ORCS_OK;
    }
    if (strcmp(key, "pattern") == 0) {
        if (!json_is_string(v))
            return s_fail(c, ORCS_EINVAL, "must be a string, got %s",
                          s_type_of(v));
        regex_t re;
        char msg[192];
        if (!orcs__schema_pattern_compile(v, &re, msg, sizeof msg))
            return s_fail(c, ORCS_EINVAL, "%s", msg);
        regfree(&re);
        return ORCS_OK;
    }
    s_pop(c); // an unknown keyword is reported at its schema
    return s_fail(c, ORCS_EINVAL, "unknown keyword '%s'", key);
}

static orcs_status
s_check(s_ctx_t *c, const json_t *schema)
{
    if (json_is_boolean(schema))
        return ORCS_OK;
    if (!json_is_object(schema))
        return s_fail(c, ORCS_EINVAL,
                      "a schema must be an object or a boolean, got %s",
                      s_type_of(schema));
    if (c->depth >= ORCS_SCHEMA_DEPTH_MAX)
        return s_fail(c, ORCS_EINVAL, "schemas nested deeper than %u",
                      ORCS_SCHEMA_DEPTH_MAX);
    c->depth++;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *) schema, key, v)
    {
        if (!s_push_key(c, key))
            return s_fail(c, ORCS_EINVAL, "nested too deep");
        orcs_status rc = s_check_keyword(c, key, v);
        if (rc != ORCS_OK)
            return rc;
        s_pop(c);
    }
    c->depth--;
    return ORCS_OK;
}

orcs_status
orcs__schema_check_at(const json_t *schema,
                      char *path,
                      size_t path_size,
                      char *msg,
                      size_t msg_size)
{
    orcs_assert(path && path_size > 0);
    s_ctx_t *c = orcs_calloc(1, sizeof *c);
    c->err = msg;
    c->err_size = msg_size;
    c->path = path;
    c->path_size = path_size;
    path[0] = '\0';
    if (msg_size > 0)
        msg[0] = '\0';
    orcs_status rc = schema ? s_check(c, schema) : ORCS_EINVAL;
    if (!schema && msg_size > 0)
        snprintf(msg, msg_size, "no schema");
    free(c);
    return rc;
}

orcs_status
orcs_schema_check(const json_t *schema, char *err, size_t err_size)
{
    s_ctx_t *c = orcs_calloc(1, sizeof *c);
    c->err = err;
    c->err_size = err_size;
    if (err_size > 0)
        err[0] = '\0';
    orcs_status rc =
        schema ? s_check(c, schema) : s_fail(c, ORCS_EINVAL, "no schema");
    free(c);
    return rc;
}

// ---------------------------------------------------------------------------
// Validating a value

static orcs_status
s_validate(s_ctx_t *c, const json_t *schema, const json_t *value);

// Numbers by value (1 equals 1.0), the rest as jansson compares them.
static bool
s_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!s_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *) a, key, v)
        {
            const json_t *w = json_object_get(b, key);
            if (!w || !s_equal(v, w))
                return false;
        }
        return true;
    }
    return json_equal(a, b);
}

// -1, 0 or 1 as number a is below, at or above number b.
static int
s_compare(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static bool
s_type_matches(const char *name, const json_t *v)
{
    if (strcmp(name, "integer") == 0)
        return s_is_whole(v);
    if (strcmp(name, "number") == 0)
        return json_is_number(v);
    if (strcmp(name, "boolean") == 0)
        return json_is_boolean(v);
    return strcmp(name, s_type_of(v)) == 0;
}

static orcs_status
s_validate_type(s_ctx_t *c, const json_t *type, const json_t *v)
{
    if (json_is_string(type)) {
        if (s_type_matches(json_string_value(type), v))
            return ORCS_OK;
        return s_fail(c, ORCS_EINVAL, "expected %s, got %s",
                      json_string_value(type), s_type_of(v));
    }
    if (!json_is_array(type))
        return ORCS_OK;
    char expected[160];
    s_out_t o = {expected, sizeof expected, 0};
    expected[0] = '\0';
    size_t i;
    const json_t *item;
    json_array_foreach(type, i, item)
    {
        if (!json_is_string(item))
            continue;
        if (s_type_matches(json_string_value(item), v))
            return ORCS_OK;
        if (o.len > 0)
            s_put(&o, " or ", 4);
        s_put(&o, json_string_value(item), json_string_length(item));
    }
    return s_fail(c, ORCS_EINVAL, "expected %s, got %s", expected,
                  s_type_of(v));
}

static orcs_status
s_validate_enum(s_ctx_t *c, const json_t *list, const json_t *v)
{
    if (!json_is_array(list))
        return ORCS_OK;
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (s_equal(item, v))
            return ORCS_OK;
    }
    char got[64];
    char *text = json_dumps(list, JSON_ENCODE_ANY);
    orcs_status rc = s_fail(c, ORCS_EINVAL, "%s is not one of %s",
                            orcs__json_describe(got, sizeof got, v),
                            text ? text : "the listed values");
    free(text);
    return rc;
}

static orcs_status
s_validate_const(s_ctx_t *c, const json_t *want, const json_t *v)
{
    if (s_equal(want, v))
        return ORCS_OK;
    char got[64];
    char *text = json_dumps(want, JSON_ENCODE_ANY);
    orcs_status rc =
        s_fail(c, ORCS_EINVAL, "%s is not the constant %s",
               orcs__json_describe(got, sizeof got, v), text ? text : "value");
    free(text);
    return rc;
}

static size_t
s_code_points(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char) s[i] & 0xc0) != 0x80)
            n++;
    return n;
}

static orcs_status
s_validate_string(s_ctx_t *c, const json_t *schema, const json_t *v)
{
    const json_t *min = json_object_get(schema, "minLength");
    const json_t *max = json_object_get(schema, "maxLength");
    const json_t *pattern = json_object_get(schema, "pattern");
    char got[64];
    size_t n = (min || max) ? s_code_points(v) : 0;
    if (s_is_count(min) && (double) n < json_number_value(min))
        return s_fail(c, ORCS_EINVAL,
                      "%s is shorter than minLength %.0f (%zu characters)",
                      orcs__json_describe(got, sizeof got, v),
                      json_number_value(min), n);
    if (s_is_count(max) && (double) n > json_number_value(max))
        return s_fail(
            c, ORCS_EINVAL, "%s is longer than maxLength %.0f (%zu characters)",
            orcs__json_describe(got, sizeof got, v), json_number_value(max), n);
    if (json_is_string(pattern)) {
        regex_t re;
        char msg[192];
        if (!orcs__schema_pattern_compile(pattern, &re, msg, sizeof msg))
            return s_fail(c, ORCS_EINVAL, "schema: %s", msg);
        int rc = regexec(&re, json_string_value(v), 0, NULL, 0);
        regfree(&re);
        if (rc != 0)
            return s_fail(c, ORCS_EINVAL, "%s does not match pattern '%s'",
                          orcs__json_describe(got, sizeof got, v),
                          json_string_value(pattern));
    }
    return ORCS_OK;
}

static orcs_status
s_validate_number(s_ctx_t *c, const json_t *schema, const json_t *v)
{
    static const struct {
        const char *keyword; // the bound
        int fails_when;      // s_compare(v, bound) result that fails
        bool or_equal;       // also fails when equal
        const char *text;    // what the message says
    } bounds[] = {
        {"minimum", -1, false, "is less than minimum"},
        {"maximum", 1, false, "is greater than maximum"},
        {"exclusiveMinimum", -1, true, "is not greater than exclusiveMinimum"},
        {"exclusiveMaximum", 1, true, "is not less than exclusiveMaximum"},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        const json_t *bound = json_object_get(schema, bounds[i].keyword);
        if (!json_is_number(bound))
            continue;
        int cmp = s_compare(v, bound);
        if (cmp == bounds[i].fails_when || (bounds[i].or_equal && cmp == 0)) {
            char got[64], limit[64];
            s_format_number(got, sizeof got, v);
            s_format_number(limit, sizeof limit, bound);
            return s_fail(c, ORCS_EINVAL, "%s %s %s", got, bounds[i].text,
                          limit);
        }
    }
    return ORCS_OK;
}

static orcs_status
s_validate_array(s_ctx_t *c, const json_t *schema, const json_t *v)
{
    const json_t *min = json_object_get(schema, "minItems");
    const json_t *max = json_object_get(schema, "maxItems");
    size_t n = json_array_size(v);
    if (s_is_count(min) && (double) n < json_number_value(min))
        return s_fail(c, ORCS_EINVAL, "has %zu items, fewer than minItems %.0f",
                      n, json_number_value(min));
    if (s_is_count(max) && (double) n > json_number_value(max))
        return s_fail(c, ORCS_EINVAL, "has %zu items, more than maxItems %.0f",
                      n, json_number_value(max));
    const json_t *items = json_object_get(schema, "items");
    if (!items)
        return ORCS_OK;
    for (size_t i = 0; i < n; i++) {
        if (!s_push_index(c, i))
            return s_fail(c, ORCS_ETOOBIG, "nested too deep");
        orcs_status rc = s_validate(c, items, json_array_get(v, i));
        if (rc != ORCS_OK)
            return rc;
        s_pop(c);
    }
    return ORCS_OK;
}

static orcs_status
s_validate_object(s_ctx_t *c, const json_t *schema, const json_t *v)
{
    const json_t *required = json_object_get(schema, "required");
    size_t i;
    const json_t *item;
    json_array_foreach(required, i, item)
    {
        if (json_is_string(item)
            && !json_object_get(v, json_string_value(item)))
            return s_fail(c, ORCS_EINVAL, "missing required property '%s'",
                          json_string_value(item));
    }
    const json_t *properties = json_object_get(schema, "properties");
    const json_t *additional = json_object_get(schema, "additionalProperties");
    const char *key;
    const json_t *sub;
    json_object_foreach((json_t *) v, key, sub)
    {
        const json_t *rule = json_object_get(properties, key);
        if (!rule && json_is_false(additional))
            return s_fail(c, ORCS_EINVAL,
                          "additional property '%s' is not allowed", key);
        if (!rule)
            rule = additional;
        if (!rule)
            continue;
        if (!s_push_key(c, key))
            return s_fail(c, ORCS_ETOOBIG, "nested too deep");
        orcs_status rc = s_validate(c, rule, sub);
        if (rc != ORCS_OK)
            return rc;
        s_pop(c);
    }
    return ORCS_OK;
}

// Validates v against one branch with the message going to sub.
static orcs_status
s_validate_branch(s_ctx_t *c,
                  const json_t *branch,
                  const json_t *v,
                  char *sub,
                  size_t sub_size)
{
    char *err = c->err;
    size_t err_size = c->err_size;
    size_t nsegs = c->nsegs;
    unsigned depth = c->depth;
    c->err = sub;
    c->err_size = sub_size;
    orcs_status rc = s_validate(c, branch, v);
    c->err = err;
    c->err_size = err_size;
    c->nsegs = nsegs;
    c->depth = depth;
    return rc;
}

static orcs_status
s_validate_any(s_ctx_t *c,
               const char *keyword,
               const json_t *list,
               const json_t *v)
{
    if (!json_is_array(list))
        return ORCS_OK;
    bool one = strcmp(keyword, "oneOf") == 0;
    char first[S_SUB_ERR] = "", sub[S_SUB_ERR];
    size_t matched = 0, at[2] = {0, 0};
    size_t i;
    const json_t *branch;
    json_array_foreach(list, i, branch)
    {
        orcs_status rc =
            s_validate_branch(c, branch, v, i ? sub : first, sizeof sub);
        if (rc == ORCS_ETOOBIG) {
            snprintf(c->err, c->err_size, "%s", i ? sub : first);
            return rc;
        }
        if (rc == ORCS_OK) {
            if (!one)
                return ORCS_OK;
            if (matched < 2)
                at[matched] = i;
            matched++;
        }
    }
    if (matched == 1)
        return ORCS_OK;
    if (matched > 1)
        return s_fail(c, ORCS_EINVAL,
                      "matches oneOf schemas %zu and %zu; exactly one must "
                      "match",
                      at[0], at[1]);
    return s_fail(c, ORCS_EINVAL,
                  "matches none of the %zu %s schemas (%s[0]: %s)",
                  json_array_size(list), keyword, keyword, first);
}

static orcs_status
s_validate(s_ctx_t *c, const json_t *schema, const json_t *v)
{
    if (json_is_false(schema))
        return s_fail(c, ORCS_EINVAL, "no value is allowed here");
    if (!json_is_object(schema))
        return ORCS_OK;
    if (c->depth >= ORCS_SCHEMA_DEPTH_MAX)
        return s_fail(c, ORCS_ETOOBIG, "nested deeper than %u",
                      ORCS_SCHEMA_DEPTH_MAX);
    c->depth++;
    orcs_status rc = ORCS_OK;
    const json_t *type = json_object_get(schema, "type");
    if (type)
        rc = s_validate_type(c, type, v);
    const json_t *list = json_object_get(schema, "enum");
    if (rc == ORCS_OK && list)
        rc = s_validate_enum(c, list, v);
    const json_t *want = json_object_get(schema, "const");
    if (rc == ORCS_OK && want)
        rc = s_validate_const(c, want, v);
    if (rc == ORCS_OK && json_is_string(v))
        rc = s_validate_string(c, schema, v);
    if (rc == ORCS_OK && json_is_number(v))
        rc = s_validate_number(c, schema, v);
    if (rc == ORCS_OK && json_is_array(v))
        rc = s_validate_array(c, schema, v);
    if (rc == ORCS_OK && json_is_object(v))
        rc = s_validate_object(c, schema, v);
    const json_t *all = json_object_get(schema, "allOf");
    for (size_t i = 0; rc == ORCS_OK && i < json_array_size(all); i++)
        rc = s_validate(c, json_array_get(all, i), v);
    if (rc == ORCS_OK && json_object_get(schema, "anyOf"))
        rc = s_validate_any(c, "anyOf", json_object_get(schema, "anyOf"), v);
    if (rc == ORCS_OK && json_object_get(schema, "oneOf"))
        rc = s_validate_any(c, "oneOf", json_object_get(schema, "oneOf"), v);
    if (rc == ORCS_OK)
        c->depth--;
    return rc;
}

orcs_status
orcs_schema_validate(const json_t *schema,
                     const json_t *value,
                     char *err,
                     size_t err_size)
{
    s_ctx_t *c = orcs_calloc(1, sizeof *c);
    c->err = err;
    c->err_size = err_size;
    if (err_size > 0)
        err[0] = '\0';
    orcs_status rc;
    if (!schema || !value)
        rc = s_fail(c, ORCS_EINVAL, "no %s", schema ? "value" : "schema");
    else
        rc = s_validate(c, schema, value);
    free(c);
    return rc;
}
