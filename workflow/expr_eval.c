/*  expr_eval.c — running an expression over a context object: paths,
    operators, truthiness, and the text and JSON forms of values that
    str(), json(), join() and templates share. The built-in functions are in
    expr_fn.c.
    SPDX-License-Identifier: MPL-2.0

    Integer arithmetic that would overflow int64 gives a real instead (so
    INT64_MIN / -1 is 9.223372036854776e18); a real result that is not
    finite is an error, as are division and modulo by zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "workflow/expr_internal.h"

#define S_JSON_DEPTH_MAX 4096 // nesting of a value dumped or compared

// ---------------------------------------------------------------------------
// Buffers and text

orcs_status
orcs__buf_put(orcs__buf_t *buf, const char *s, size_t n)
{
    if (n > ORCS_EXPR_MAX_RESULT - buf->len)
        return ORCS_ETOOBIG;
    if (buf->len + n + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 64;
        while (cap < buf->len + n + 1)
            cap *= 2;
        if (cap > ORCS_EXPR_MAX_RESULT + 1)
            cap = ORCS_EXPR_MAX_RESULT + 1;
        buf->data = orcs_realloc(buf->data, cap);
        buf->cap = cap;
    }
    if (n > 0 && s) // s NULL: reserve n bytes for the caller to fill
        memcpy(buf->data + buf->len, s, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return ORCS_OK;
}

void
orcs__buf_free(orcs__buf_t *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

// Shortest of %.15g, %.16g, %.17g that reads back as d; always looks
// like a real ("1.0", not "1").
static void
s_format_real(double d, char *out, size_t out_size)
{
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(out, out_size, "%.*g", precision, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".eEn")) // n: "inf", "nan" (never given here)
        strncat(out, ".0", out_size - strlen(out) - 1);
}

// Bytes of the JSON escape of c (1 when it needs none).
static size_t
s_escape_len(unsigned char c)
{
    if (c >= 0x20 && c != '"' && c != '\\')
        return 1;
    switch (c) {
        case '"':
        case '\\':
        case '\n':
        case '\t':
        case '\r':
        case '\b':
        case '\f':
            return 2;
        default:
            return 6;
    }
}

// Appends s as a JSON string. Measures first, so a string too big is
// refused before anything is written.
static orcs_status
s_put_string_json(orcs__buf_t *buf, const char *s, size_t n)
{
    size_t len = 2;
    for (size_t i = 0; i < n; i++)
        len += s_escape_len((unsigned char) s[i]);
    size_t at = buf->len;
    orcs_status rc = orcs__buf_put(buf, NULL, len); // reserves len bytes
    if (rc != ORCS_OK)
        return rc;
    char *out = buf->data + at;
    *out++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        size_t esc = s_escape_len(c);
        if (esc == 1)
            *out++ = (char) c;
        else if (esc == 2) {
            *out++ = '\\';
            *out++ = c == '"'    ? '"'
                     : c == '\\' ? '\\'
                     : c == '\n' ? 'n'
                     : c == '\t' ? 't'
                     : c == '\r' ? 'r'
                     : c == '\b' ? 'b'
                                 : 'f';
        } else {
            static const char hex[] = "0123456789abcdef";
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 15];
            out += 6;
        }
    }
    *out = '"';
    return ORCS_OK;
}

static orcs_status
s_put_json(orcs__buf_t *buf, const json_t *value, unsigned depth)
{
    char num[40];
    orcs_status rc = ORCS_OK;
    if (depth > S_JSON_DEPTH_MAX)
        return ORCS_EINVAL;
    switch (json_typeof(value)) {
        case JSON_NULL:
            return orcs__buf_put(buf, "null", 4);
        case JSON_TRUE:
            return orcs__buf_put(buf, "true", 4);
        case JSON_FALSE:
            return orcs__buf_put(buf, "false", 5);
        case JSON_INTEGER:
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(value));
            return orcs__buf_put(buf, num, strlen(num));
        case JSON_REAL:
            s_format_real(json_real_value(value), num, sizeof num);
            return orcs__buf_put(buf, num, strlen(num));
        case JSON_STRING:
            return s_put_string_json(buf, json_string_value(value),
                                     json_string_length(value));
        case JSON_ARRAY: {
            rc = orcs__buf_put(buf, "[", 1);
            for (size_t i = 0; rc == ORCS_OK && i < json_array_size(value);
                 i++) {
                if (i > 0)
                    rc = orcs__buf_put(buf, ",", 1);
                if (rc == ORCS_OK)
                    rc = s_put_json(buf, json_array_get(value, i), depth + 1);
            }
            return rc == ORCS_OK ? orcs__buf_put(buf, "]", 1) : rc;
        }
        case JSON_OBJECT: {
            rc = orcs__buf_put(buf, "{", 1);
            const char *key;
            json_t *member;
            bool first = true;
            json_object_foreach((json_t *) value, key, member)
            {
                if (rc != ORCS_OK)
                    break;
                if (!first)
                    rc = orcs__buf_put(buf, ",", 1);
                first = false;
                if (rc == ORCS_OK)
                    rc = s_put_string_json(buf, key, strlen(key));
                if (rc == ORCS_OK)
                    rc = orcs__buf_put(buf, ":", 1);
                if (rc == ORCS_OK)
                    rc = s_put_json(buf, member, depth + 1);
            }
            return rc == ORCS_OK ? orcs__buf_put(buf, "}", 1) : rc;
        }
    }
    return ORCS_EINVAL;
}

orcs_status
orcs__buf_put_json(orcs__buf_t *buf, const json_t *value)
{
    return s_put_json(buf, value, 0);
}

orcs_status
orcs__buf_put_text(orcs__buf_t *buf, const json_t *value)
{
    if (json_is_string(value))
        return orcs__buf_put(buf, json_string_value(value),
                             json_string_length(value));
    if (json_is_null(value))
        return orcs__buf_put(buf, "", 0);
    return s_put_json(buf, value, 0);
}

// ---------------------------------------------------------------------------
// Values

bool
orcs__expr_truthy(const json_t *value)
{
    switch (json_typeof(value)) {
        case JSON_NULL:
        case JSON_FALSE:
            return false;
        case JSON_TRUE:
            return true;
        case JSON_INTEGER:
            return json_integer_value(value) != 0;
        case JSON_REAL:
            return json_real_value(value) != 0.0;
        case JSON_STRING:
            return json_string_length(value) > 0;
        case JSON_ARRAY:
            return json_array_size(value) > 0;
        case JSON_OBJECT:
            return json_object_size(value) > 0;
    }
    return false;
}

static bool
s_equal(const json_t *a, const json_t *b, unsigned depth)
{
    if (depth > S_JSON_DEPTH_MAX)
        return false;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        if (json_is_real(a) && json_is_real(b))
            return json_real_value(a) == json_real_value(b);
        const json_t *i = json_is_integer(a) ? a : b;
        double r = json_real_value(json_is_real(a) ? a : b);
        // Exact: the real must be integral and inside int64.
        return r == trunc(r) && r >= -9223372036854775808.0
               && r < 9223372036854775808.0
               && (json_int_t) r == json_integer_value(i);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
        case JSON_STRING:
            return json_string_length(a) == json_string_length(b)
                   && memcmp(json_string_value(a), json_string_value(b),
                             json_string_length(a))
                          == 0;
        case JSON_ARRAY:
            if (json_array_size(a) != json_array_size(b))
                return false;
            for (size_t i = 0; i < json_array_size(a); i++)
                if (!s_equal(json_array_get(a, i), json_array_get(b, i),
                             depth + 1))
                    return false;
            return true;
        case JSON_OBJECT: {
            if (json_object_size(a) != json_object_size(b))
                return false;
            const char *key;
            json_t *member;
            json_object_foreach((json_t *) a, key, member)
            {
                json_t *other = json_object_get(b, key);
                if (!other || !s_equal(member, other, depth + 1))
                    return false;
            }
            return true;
        }
        default:
            return true; // null, true, false
    }
}

bool
orcs__expr_equal(const json_t *a, const json_t *b)
{
    return s_equal(a, b, 0);
}

orcs_status
orcs__expr_fail(orcs__eval_t *e, orcs_status rc, const char *fmt, ...)
{
    if (e->err && e->err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, e->err_size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const char *
s_type(const json_t *value)
{
    return orcs_expr_type_name(orcs__expr_type_of(value));
}

// "a" or "an" for a type name.
static const char *
s_article(const json_t *value)
{
    json_type t = json_typeof(value);
    return t == JSON_ARRAY || t == JSON_OBJECT ? "an" : "a";
}

static orcs_status
s_real(orcs__eval_t *e, double d, json_t **value_p)
{
    if (!isfinite(d))
        return orcs__expr_fail(e, ORCS_EINVAL,
                               "number out of range (the result is not "
                               "finite)");
    *value_p = json_real(d);
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Paths

static orcs_status
s_root(orcs__eval_t *e, const orcs__node_t *node, json_t **value_p)
{
    json_t *value =
        json_is_object(e->ctx) ? json_object_get(e->ctx, node->name) : NULL;
    if (value) {
        *value_p = json_incref(value);
        return ORCS_OK;
    }
    char known[160] = "";
    size_t len = 0;
    const char *key;
    json_t *member;
    if (json_is_object(e->ctx))
        json_object_foreach((json_t *) e->ctx, key, member)
        {
            int n = snprintf(known + len, sizeof known - len, "%s%s",
                             len ? ", " : "", key);
            if (n < 0 || (size_t) n >= sizeof known - len) {
                snprintf(known + sizeof known - 5, 5, "...");
                break;
            }
            len += (size_t) n;
        }
    return orcs__expr_fail(e, ORCS_EINVAL, "unknown root '%.40s' (known: %s)",
                           node->name, len ? known : "none");
}

static orcs_status
s_member(orcs__eval_t *e, const orcs__node_t *node, json_t **value_p)
{
    json_t *base = NULL;
    orcs_status rc = orcs__expr_eval_node(e, node->kids[0], &base);
    if (rc != ORCS_OK)
        return rc;
    if (json_is_object(base) || json_is_null(base)) {
        json_t *value =
            json_is_object(base) ? json_object_get(base, node->name) : NULL;
        *value_p = value ? json_incref(value) : json_null();
    } else
        rc = orcs__expr_fail(e, ORCS_EINVAL,
                             "cannot take member '%.40s' of %s %s", node->name,
                             s_article(base), s_type(base));
    json_decref(base);
    return rc;
}

static orcs_status
s_index(orcs__eval_t *e, const orcs__node_t *node, json_t **value_p)
{
    json_t *base = NULL;
    json_t *index = NULL;
    orcs_status rc = orcs__expr_eval_node(e, node->kids[0], &base);
    if (rc == ORCS_OK)
        rc = orcs__expr_eval_node(e, node->kids[1], &index);
    if (rc != ORCS_OK)
        goto cleanup;
    json_t *value = NULL;
    if (json_is_null(base))
        ;
    else if (json_is_array(base) && json_is_integer(index)) {
        json_int_t i = json_integer_value(index);
        if (i >= 0 && (uint64_t) i < json_array_size(base))
            value = json_array_get(base, (size_t) i);
    } else if (json_is_object(base) && json_is_string(index))
        value = json_object_get(base, json_string_value(index));
    else if (json_is_array(base) || json_is_object(base)) {
        rc = orcs__expr_fail(e, ORCS_EINVAL, "cannot index %s %s with %s %s",
                             s_article(base), s_type(base), s_article(index),
                             s_type(index));
        goto cleanup;
    } else {
        rc = orcs__expr_fail(e, ORCS_EINVAL, "cannot index %s %s",
                             s_article(base), s_type(base));
        goto cleanup;
    }
    *value_p = value ? json_incref(value) : json_null();
cleanup:
    json_decref(base);
    json_decref(index);
    return rc;
}

// ---------------------------------------------------------------------------
// Operators

static const char *const s_op_names[] = {
    "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"};

static orcs_status
s_compare(orcs__eval_t *e, orcs__op op, json_t *a, json_t *b, json_t **out)
{
    int cmp;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            json_int_t x = json_integer_value(a), y = json_integer_value(b);
            cmp = (x > y) - (x < y);
        } else {
            double x = json_number_value(a), y = json_number_value(b);
            cmp = (x > y) - (x < y);
        }
    } else if (json_is_string(a) && json_is_string(b)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        cmp = memcmp(json_string_value(a), json_string_value(b),
                     la < lb ? la : lb);
        if (cmp == 0)
            cmp = (la > lb) - (la < lb);
    } else
        return orcs__expr_fail(e, ORCS_EINVAL,
                               "cannot compare %s with %s ('%s' takes two "
                               "numbers or two strings)",
                               s_type(a), s_type(b), s_op_names[op]);
    bool truth = op == ORCS__OP_LT   ? cmp < 0
                 : op == ORCS__OP_LE ? cmp <= 0
                 : op == ORCS__OP_GT ? cmp > 0
                                     : cmp >= 0;
    *out = json_boolean(truth);
    return ORCS_OK;
}

static orcs_status
s_join(orcs__eval_t *e, json_t *a, json_t *b, json_t **out)
{
    if (json_is_string(a)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        if (la > ORCS_EXPR_MAX_RESULT - lb)
            return orcs__expr_fail(e, ORCS_ETOOBIG,
                                   "string would be longer than %u bytes",
                                   ORCS_EXPR_MAX_RESULT);
        char *s = orcs_malloc(la + lb + 1);
        memcpy(s, json_string_value(a), la);
        memcpy(s + la, json_string_value(b), lb);
        s[la + lb] = '\0';
        *out = json_stringn_nocheck(s, la + lb);
        free(s);
        return ORCS_OK;
    }
    size_t na = json_array_size(a), nb = json_array_size(b);
    if (na > ORCS__EXPR_MAX_ITEMS - nb)
        return orcs__expr_fail(e, ORCS_ETOOBIG,
                               "array would have more than %u items",
                               ORCS__EXPR_MAX_ITEMS);
    *out = json_copy(a);
    json_array_extend(*out, b);
    return ORCS_OK;
}

static orcs_status
s_int_arith(
    orcs__eval_t *e, orcs__op op, json_int_t x, json_int_t y, json_t **out)
{
    json_int_t r = 0;
    bool overflow = false;
    switch (op) {
        case ORCS__OP_ADD:
            overflow = __builtin_add_overflow(x, y, &r);
            break;
        case ORCS__OP_SUB:
            overflow = __builtin_sub_overflow(x, y, &r);
            break;
        case ORCS__OP_MUL:
            overflow = __builtin_mul_overflow(x, y, &r);
            break;
        case ORCS__OP_DIV:
            if (y == 0)
                return orcs__expr_fail(e, ORCS_EINVAL, "division by zero");
            if (y == -1 && x == INT64_MIN)
                overflow = true;
            else if (x % y != 0)
                return s_real(e, (double) x / (double) y, out);
            else
                r = x / y;
            break;
        default: // MOD
            if (y == 0)
                return orcs__expr_fail(e, ORCS_EINVAL, "modulo by zero");
            r = y == -1 ? 0 : x % y;
            break;
    }
    if (!overflow) {
        *out = json_integer(r);
        return ORCS_OK;
    }
    double dx = (double) x, dy = (double) y;
    double d = op == ORCS__OP_ADD   ? dx + dy
               : op == ORCS__OP_SUB ? dx - dy
               : op == ORCS__OP_MUL ? dx * dy
                                    : dx / dy;
    return s_real(e, d, out);
}

static orcs_status
s_arith(orcs__eval_t *e, orcs__op op, json_t *a, json_t *b, json_t **out)
{
    if (op == ORCS__OP_ADD
        && ((json_is_string(a) && json_is_string(b))
            || (json_is_array(a) && json_is_array(b))))
        return s_join(e, a, b, out);
    if (!json_is_number(a) || !json_is_number(b)) {
        if (op == ORCS__OP_ADD)
            return orcs__expr_fail(e, ORCS_EINVAL,
                                   "cannot add %s and %s ('+' takes two "
                                   "numbers, two strings or two arrays)",
                                   s_type(a), s_type(b));
        return orcs__expr_fail(e, ORCS_EINVAL,
                               "'%s' takes two numbers, got %s and %s",
                               s_op_names[op], s_type(a), s_type(b));
    }
    if (json_is_integer(a) && json_is_integer(b))
        return s_int_arith(e, op, json_integer_value(a), json_integer_value(b),
                           out);
    double x = json_number_value(a), y = json_number_value(b);
    switch (op) {
        case ORCS__OP_ADD:
            return s_real(e, x + y, out);
        case ORCS__OP_SUB:
            return s_real(e, x - y, out);
        case ORCS__OP_MUL:
            return s_real(e, x * y, out);
        case ORCS__OP_DIV:
            if (y == 0.0)
                return orcs__expr_fail(e, ORCS_EINVAL, "division by zero");
            return s_real(e, x / y, out);
        default:
            if (y == 0.0)
                return orcs__expr_fail(e, ORCS_EINVAL, "modulo by zero");
            return s_real(e, fmod(x, y), out);
    }
}

static orcs_status
s_binary(orcs__eval_t *e, const orcs__node_t *node, json_t **out)
{
    json_t *a = NULL;
    json_t *b = NULL;
    orcs_status rc = orcs__expr_eval_node(e, node->kids[0], &a);
    if (rc == ORCS_OK)
        rc = orcs__expr_eval_node(e, node->kids[1], &b);
    if (rc != ORCS_OK)
        goto cleanup;
    switch (node->op) {
        case ORCS__OP_EQ:
        case ORCS__OP_NE: {
            bool equal = orcs__expr_equal(a, b);
            *out = json_boolean(node->op == ORCS__OP_EQ ? equal : !equal);
            break;
        }
        case ORCS__OP_LT:
        case ORCS__OP_LE:
        case ORCS__OP_GT:
        case ORCS__OP_GE:
            rc = s_compare(e, node->op, a, b, out);
            break;
        default:
            rc = s_arith(e, node->op, a, b, out);
    }
cleanup:
    json_decref(a);
    json_decref(b);
    return rc;
}

static orcs_status
s_negate(orcs__eval_t *e, const orcs__node_t *node, json_t **out)
{
    json_t *a = NULL;
    orcs_status rc = orcs__expr_eval_node(e, node->kids[0], &a);
    if (rc != ORCS_OK)
        return rc;
    if (json_is_integer(a) && json_integer_value(a) != INT64_MIN)
        *out = json_integer(-json_integer_value(a));
    else if (json_is_number(a))
        rc = s_real(e, -json_number_value(a), out);
    else
        rc = orcs__expr_fail(e, ORCS_EINVAL, "'-' takes a number, got %s",
                             s_type(a));
    json_decref(a);
    return rc;
}

// and, or: short-circuit, always a boolean.
static orcs_status
s_logic(orcs__eval_t *e, const orcs__node_t *node, json_t **out)
{
    bool is_and = node->kind == ORCS__NODE_AND;
    for (size_t i = 0; i < 2; i++) {
        json_t *a = NULL;
        orcs_status rc = orcs__expr_eval_node(e, node->kids[i], &a);
        if (rc != ORCS_OK)
            return rc;
        bool truth = orcs__expr_truthy(a);
        json_decref(a);
        if (truth != is_and || i == 1) {
            *out = json_boolean(truth);
            return ORCS_OK;
        }
    }
    return ORCS_EINTERNAL; // not reached
}

static orcs_status
s_list(orcs__eval_t *e, const orcs__node_t *node, json_t **out)
{
    bool object = node->kind == ORCS__NODE_OBJECT;
    json_t *list = object ? json_object() : json_array();
    for (size_t i = 0; i < node->nkids; i++) {
        json_t *item = NULL;
        orcs_status rc = orcs__expr_eval_node(e, node->kids[i], &item);
        if (rc != ORCS_OK) {
            json_decref(list);
            return rc;
        }
        if (object)
            json_object_set_new_nocheck(list, node->keys[i], item);
        else
            json_array_append_new(list, item);
    }
    *out = list;
    return ORCS_OK;
}

orcs_status
orcs__expr_eval_node(orcs__eval_t *e,
                     const orcs__node_t *node,
                     json_t **value_p)
{
    *value_p = NULL;
    if (e->depth > ORCS_EXPR_MAX_DEPTH + 1)
        return orcs__expr_fail(e, ORCS_ETOOBIG, "expression nested too deeply");
    e->depth++;
    orcs_status rc = ORCS_OK;
    switch (node->kind) {
        case ORCS__NODE_LITERAL: // a copy: callers may change what they get
            *value_p = json_copy(node->lit);
            break;
        case ORCS__NODE_ROOT:
            rc = s_root(e, node, value_p);
            break;
        case ORCS__NODE_MEMBER:
            rc = s_member(e, node, value_p);
            break;
        case ORCS__NODE_INDEX:
            rc = s_index(e, node, value_p);
            break;
        case ORCS__NODE_ARRAY:
        case ORCS__NODE_OBJECT:
            rc = s_list(e, node, value_p);
            break;
        case ORCS__NODE_NEG:
            rc = s_negate(e, node, value_p);
            break;
        case ORCS__NODE_NOT: {
            json_t *a = NULL;
            rc = orcs__expr_eval_node(e, node->kids[0], &a);
            if (rc == ORCS_OK)
                *value_p = json_boolean(!orcs__expr_truthy(a));
            json_decref(a);
            break;
        }
        case ORCS__NODE_AND:
        case ORCS__NODE_OR:
            rc = s_logic(e, node, value_p);
            break;
        case ORCS__NODE_BINARY:
            rc = s_binary(e, node, value_p);
            break;
        case ORCS__NODE_CALL:
            rc = orcs__expr_call(e, node, value_p);
            break;
    }
    e->depth--;
    if (rc != ORCS_OK) {
        json_decref(*value_p);
        *value_p = NULL;
    }
    return rc;
}

orcs_status
orcs_expr_eval(const orcs_expr_t *self,
               const json_t *ctx,
               json_t **value_p,
               char *err,
               size_t err_size)
{
    orcs_assert(self);
    orcs_assert(value_p);
    if (err && err_size > 0)
        err[0] = '\0';
    orcs__eval_t e = {.ctx = ctx, .err = err, .err_size = err_size};
    return orcs__expr_eval_node(&e, self->root, value_p);
}

orcs_status
orcs_expr_test(const orcs_expr_t *self,
               const json_t *ctx,
               bool *truth_p,
               char *err,
               size_t err_size)
{
    orcs_assert(truth_p);
    json_t *value = NULL;
    orcs_status rc = orcs_expr_eval(self, ctx, &value, err, err_size);
    if (rc == ORCS_OK)
        *truth_p = orcs__expr_truthy(value);
    json_decref(value);
    return rc;
}
