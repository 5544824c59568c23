/*  expr_fn.c — the built-in functions of expressions (orcs/expr.h): len,
    keys, contains, lower, upper, trim, startswith, endswith, join, split,
    json, from_json, default, int, float, str, bool.
    SPDX-License-Identifier: MPL-2.0

    lower, upper and trim work on ASCII only; other characters pass through
    unchanged. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "workflow/expr_internal.h"

#define S_NUMBER_TEXT_MAX 512 // longest string int() and float() read

const orcs__fn_info_t orcs__expr_fns[ORCS__FN_COUNT] = {
#define S_STR  ORCS__T(ORCS_EXPR_STRING)
#define S_ARR  ORCS__T(ORCS_EXPR_ARRAY)
#define S_OBJ  ORCS__T(ORCS_EXPR_OBJECT)
#define S_NUM  ORCS__T(ORCS_EXPR_NUMBER)
#define S_BOOL ORCS__T(ORCS_EXPR_BOOLEAN)
    [ORCS__FN_LEN] = {"len", 1, {S_STR | S_ARR | S_OBJ, 0}, ORCS_EXPR_NUMBER},
    [ORCS__FN_KEYS] = {"keys", 1, {S_OBJ, 0}, ORCS_EXPR_ARRAY},
    [ORCS__FN_CONTAINS] = {"contains",
                           2,
                           {S_STR | S_ARR | S_OBJ, ORCS__T_ANYTHING},
                           ORCS_EXPR_BOOLEAN},
    [ORCS__FN_LOWER] = {"lower", 1, {S_STR, 0}, ORCS_EXPR_STRING},
    [ORCS__FN_UPPER] = {"upper", 1, {S_STR, 0}, ORCS_EXPR_STRING},
    [ORCS__FN_TRIM] = {"trim", 1, {S_STR, 0}, ORCS_EXPR_STRING},
    [ORCS__FN_STARTSWITH] = {"startswith",
                             2,
                             {S_STR, S_STR},
                             ORCS_EXPR_BOOLEAN},
    [ORCS__FN_ENDSWITH] = {"endswith", 2, {S_STR, S_STR}, ORCS_EXPR_BOOLEAN},
    [ORCS__FN_JOIN] = {"join", 2, {S_ARR, S_STR}, ORCS_EXPR_STRING},
    [ORCS__FN_SPLIT] = {"split", 2, {S_STR, S_STR}, ORCS_EXPR_ARRAY},
    [ORCS__FN_JSON] = {"json", 1, {ORCS__T_ANYTHING, 0}, ORCS_EXPR_STRING},
    [ORCS__FN_FROM_JSON] = {"from_json", 1, {S_STR, 0}, ORCS_EXPR_ANY},
    [ORCS__FN_DEFAULT] = {"default",
                          2,
                          {ORCS__T_ANYTHING, ORCS__T_ANYTHING},
                          ORCS_EXPR_ANY},
    [ORCS__FN_INT] = {"int", 1, {S_NUM | S_STR | S_BOOL, 0}, ORCS_EXPR_NUMBER},
    [ORCS__FN_FLOAT] = {"float",
                        1,
                        {S_NUM | S_STR | S_BOOL, 0},
                        ORCS_EXPR_NUMBER},
    [ORCS__FN_STR] = {"str", 1, {ORCS__T_ANYTHING, 0}, ORCS_EXPR_STRING},
    [ORCS__FN_BOOL] = {"bool", 1, {ORCS__T_ANYTHING, 0}, ORCS_EXPR_BOOLEAN},
#undef S_STR
#undef S_ARR
#undef S_OBJ
#undef S_NUM
#undef S_BOOL
};

void
orcs__expr_mask_desc(unsigned mask, char *out, size_t out_size)
{
    static const orcs_expr_type order[] = {ORCS_EXPR_STRING,  ORCS_EXPR_ARRAY,
                                           ORCS_EXPR_OBJECT,  ORCS_EXPR_NUMBER,
                                           ORCS_EXPR_BOOLEAN, ORCS_EXPR_NULL};
    size_t total = 0;
    for (size_t i = 0; i < 6; i++)
        if (mask & ORCS__T(order[i]))
            total++;
    if (out_size == 0)
        return;
    out[0] = '\0';
    if (total == 6) {
        snprintf(out, out_size, "any value");
        return;
    }
    size_t seen = 0;
    for (size_t i = 0; i < 6; i++) {
        if (!(mask & ORCS__T(order[i])))
            continue;
        const char *name = orcs_expr_type_name(order[i]);
        const char *sep =
            seen == 0 ? (name[0] == 'a' || name[0] == 'o' ? "an " : "a ")
            : seen + 1 == total ? " or "
                                : ", ";
        size_t len = strlen(out);
        snprintf(out + len, out_size - len, "%s%s", sep, name);
        seen++;
    }
}

void
orcs__expr_fn_mismatch(
    orcs__fn fn, size_t i, orcs_expr_type got, char *out, size_t out_size)
{
    const orcs__fn_info_t *info = &orcs__expr_fns[fn];
    char want[80];
    orcs__expr_mask_desc(info->args[i], want, sizeof want);
    if (info->nargs == 1)
        snprintf(out, out_size, "%s() takes %s, got %s", info->name, want,
                 orcs_expr_type_name(got));
    else
        snprintf(out, out_size, "%s() takes %s as argument %zu, got %s",
                 info->name, want, i + 1, orcs_expr_type_name(got));
}

// ---------------------------------------------------------------------------
// Helpers

static orcs_status
s_mismatch(orcs__eval_t *e, orcs__fn fn, size_t i, const json_t *got)
{
    char what[160];
    orcs__expr_fn_mismatch(fn, i, orcs__expr_type_of(got), what, sizeof what);
    return orcs__expr_fail(e, ORCS_EINVAL, "%s", what);
}

static orcs_status
s_too_big(orcs__eval_t *e, const char *fn)
{
    return orcs__expr_fail(e, ORCS_ETOOBIG,
                           "%s(): result would be larger than %u bytes", fn,
                           ORCS_EXPR_MAX_RESULT);
}

static json_t *
s_string(const char *s, size_t n)
{
    return json_stringn_nocheck(s, n);
}

static bool
s_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}

// Reads a number written in JSON style (surrounding spaces allowed).
static bool
s_number_text(const char *s, size_t n, json_t **value_p)
{
    while (n > 0 && s_is_space(*s))
        s++, n--;
    while (n > 0 && s_is_space(s[n - 1]))
        n--;
    if (n == 0 || n > S_NUMBER_TEXT_MAX)
        return false;
    size_t i = 0;
    bool integer = true;
    if (s[i] == '-' || s[i] == '+')
        i++;
    size_t digits = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == digits)
        return false;
    if (i < n && s[i] == '.') {
        integer = false;
        size_t frac = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == frac)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integer = false;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t exp = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == exp)
            return false;
    }
    if (i != n)
        return false;
    char buf[S_NUMBER_TEXT_MAX + 1];
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (integer) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == 0) {
            *value_p = json_integer(v);
            return true;
        }
    }
    double d = strtod(buf, NULL);
    if (!isfinite(d))
        return false;
    *value_p = json_real(d);
    return true;
}

// ---------------------------------------------------------------------------
// Functions of strings

static orcs_status
s_len(orcs__eval_t *e, json_t *x, json_t **out)
{
    if (json_is_string(x))
        *out = json_integer((json_int_t) orcs__utf8_count(
            json_string_value(x), json_string_length(x)));
    else if (json_is_array(x))
        *out = json_integer((json_int_t) json_array_size(x));
    else if (json_is_object(x))
        *out = json_integer((json_int_t) json_object_size(x));
    else
        return s_mismatch(e, ORCS__FN_LEN, 0, x);
    return ORCS_OK;
}

static orcs_status
s_case(orcs__eval_t *e, orcs__fn fn, json_t *x, json_t **out)
{
    if (!json_is_string(x))
        return s_mismatch(e, fn, 0, x);
    size_t n = json_string_length(x);
    char *s = orcs_malloc(n + 1);
    memcpy(s, json_string_value(x), n + 1);
    for (size_t i = 0; i < n; i++) {
        if (fn == ORCS__FN_LOWER && s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char) (s[i] - 'A' + 'a');
        else if (fn == ORCS__FN_UPPER && s[i] >= 'a' && s[i] <= 'z')
            s[i] = (char) (s[i] - 'a' + 'A');
    }
    *out = s_string(s, n);
    free(s);
    return ORCS_OK;
}

static orcs_status
s_trim(orcs__eval_t *e, json_t *x, json_t **out)
{
    if (!json_is_string(x))
        return s_mismatch(e, ORCS__FN_TRIM, 0, x);
    const char *s = json_string_value(x);
    size_t n = json_string_length(x);
    while (n > 0 && s_is_space(*s))
        s++, n--;
    while (n > 0 && s_is_space(s[n - 1]))
        n--;
    *out = s_string(s, n);
    return ORCS_OK;
}

static orcs_status
s_affix(orcs__eval_t *e, orcs__fn fn, json_t *s, json_t *p, json_t **out)
{
    if (!json_is_string(s))
        return s_mismatch(e, fn, 0, s);
    if (!json_is_string(p))
        return s_mismatch(e, fn, 1, p);
    size_t ns = json_string_length(s), np = json_string_length(p);
    const char *at = json_string_value(s);
    if (fn == ORCS__FN_ENDSWITH && np <= ns)
        at += ns - np;
    *out = json_boolean(np <= ns && memcmp(at, json_string_value(p), np) == 0);
    return ORCS_OK;
}

static orcs_status
s_contains(orcs__eval_t *e, json_t *h, json_t *needle, json_t **out)
{
    if (json_is_array(h)) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(h) && !found; i++)
            found = orcs__expr_equal(json_array_get(h, i), needle);
        *out = json_boolean(found);
        return ORCS_OK;
    }
    if (!json_is_string(h) && !json_is_object(h))
        return s_mismatch(e, ORCS__FN_CONTAINS, 0, h);
    if (!json_is_string(needle))
        return orcs__expr_fail(e, ORCS_EINVAL,
                               "contains() takes a string needle when the "
                               "haystack is %s, got %s",
                               json_is_string(h) ? "a string" : "an object",
                               orcs_expr_type_name(orcs__expr_type_of(needle)));
    if (json_is_object(h)) {
        *out =
            json_boolean(json_object_get(h, json_string_value(needle)) != NULL);
        return ORCS_OK;
    }
    size_t nh = json_string_length(h), nn = json_string_length(needle);
    *out = json_boolean(
        nn == 0
        || memmem(json_string_value(h), nh, json_string_value(needle), nn)
               != NULL);
    return ORCS_OK;
}

static orcs_status
s_join(orcs__eval_t *e, json_t *list, json_t *sep, json_t **out)
{
    if (!json_is_array(list))
        return s_mismatch(e, ORCS__FN_JOIN, 0, list);
    if (!json_is_string(sep))
        return s_mismatch(e, ORCS__FN_JOIN, 1, sep);
    orcs__buf_t buf = {0};
    orcs_status rc = orcs__buf_put(&buf, "", 0);
    for (size_t i = 0; rc == ORCS_OK && i < json_array_size(list); i++) {
        if (i > 0)
            rc = orcs__buf_put(&buf, json_string_value(sep),
                               json_string_length(sep));
        if (rc == ORCS_OK)
            rc = orcs__buf_put_text(&buf, json_array_get(list, i));
    }
    if (rc == ORCS_OK)
        *out = s_string(buf.data, buf.len);
    orcs__buf_free(&buf);
    if (rc == ORCS_ETOOBIG)
        return s_too_big(e, "join");
    if (rc != ORCS_OK)
        return orcs__expr_fail(e, rc, "join(): an item is nested too deeply");
    return ORCS_OK;
}

// Length of the UTF-8 sequence that starts with byte c.
static size_t
s_utf8_len(unsigned char c)
{
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static orcs_status
s_split(orcs__eval_t *e, json_t *str, json_t *sep, json_t **out)
{
    if (!json_is_string(str))
        return s_mismatch(e, ORCS__FN_SPLIT, 0, str);
    if (!json_is_string(sep))
        return s_mismatch(e, ORCS__FN_SPLIT, 1, sep);
    const char *s = json_string_value(str);
    size_t n = json_string_length(str);
    const char *p = json_string_value(sep);
    size_t np = json_string_length(sep);
    // Count the pieces before building anything.
    size_t count = np == 0 ? orcs__utf8_count(s, n) : 1;
    for (const char *at = s; np > 0;) {
        const char *hit = memmem(at, n - (size_t) (at - s), p, np);
        if (!hit)
            break;
        count++;
        at = hit + np;
    }
    if (count > ORCS__EXPR_MAX_ITEMS)
        return orcs__expr_fail(e, ORCS_ETOOBIG, "split(): more than %u pieces",
                               ORCS__EXPR_MAX_ITEMS);
    json_t *list = json_array();
    const char *at = s;
    const char *end = s + n;
    while (np == 0 && at < end) { // code points
        size_t len = s_utf8_len((unsigned char) *at);
        if (len > (size_t) (end - at))
            len = (size_t) (end - at);
        json_array_append_new(list, s_string(at, len));
        at += len;
    }
    while (np > 0) {
        const char *hit = memmem(at, (size_t) (end - at), p, np);
        const char *stop = hit ? hit : end;
        json_array_append_new(list, s_string(at, (size_t) (stop - at)));
        if (!hit)
            break;
        at = hit + np;
    }
    *out = list;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Conversions

static orcs_status
s_text(orcs__eval_t *e, orcs__fn fn, json_t *x, json_t **out)
{
    orcs__buf_t buf = {0};
    orcs_status rc = orcs__buf_put(&buf, "", 0);
    if (rc == ORCS_OK)
        rc = fn == ORCS__FN_JSON ? orcs__buf_put_json(&buf, x)
                                 : orcs__buf_put_text(&buf, x);
    if (rc == ORCS_OK)
        *out = s_string(buf.data, buf.len);
    orcs__buf_free(&buf);
    const char *name = orcs__expr_fns[fn].name;
    if (rc == ORCS_ETOOBIG)
        return s_too_big(e, name);
    if (rc != ORCS_OK)
        return orcs__expr_fail(e, rc, "%s(): value nested too deeply", name);
    return ORCS_OK;
}

static orcs_status
s_from_json(orcs__eval_t *e, json_t *x, json_t **out)
{
    if (!json_is_string(x))
        return s_mismatch(e, ORCS__FN_FROM_JSON, 0, x);
    json_error_t error;
    *out = json_loadb(json_string_value(x), json_string_length(x),
                      JSON_DECODE_ANY, &error);
    if (!*out)
        return orcs__expr_fail(e, ORCS_EINVAL,
                               "from_json(): invalid JSON at position %d: %s",
                               error.position, error.text);
    return ORCS_OK;
}

static orcs_status
s_number(orcs__eval_t *e, orcs__fn fn, json_t *x, json_t **out)
{
    json_t *num = NULL;
    if (json_is_boolean(x))
        num = json_integer(json_is_true(x));
    else if (json_is_number(x))
        num = json_incref(x);
    else if (json_is_string(x)) {
        if (!s_number_text(json_string_value(x), json_string_length(x), &num))
            return orcs__expr_fail(
                e, ORCS_EINVAL, "%s() cannot read a number from \"%.40s\"",
                orcs__expr_fns[fn].name, json_string_value(x));
    } else
        return s_mismatch(e, fn, 0, x);
    if (fn == ORCS__FN_FLOAT) {
        *out = json_real(json_number_value(num));
        json_decref(num);
        return ORCS_OK;
    }
    if (json_is_integer(num)) {
        *out = num;
        return ORCS_OK;
    }
    double d = trunc(json_real_value(num));
    json_decref(num);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return orcs__expr_fail(e, ORCS_EINVAL,
                               "int(): %g is out of range (int64)", d);
    *out = json_integer((json_int_t) d);
    return ORCS_OK;
}

static orcs_status
s_keys(orcs__eval_t *e, json_t *x, json_t **out)
{
    if (!json_is_object(x))
        return s_mismatch(e, ORCS__FN_KEYS, 0, x);
    json_t *list = json_array();
    const char *key;
    json_t *member;
    json_object_foreach(x, key, member)
        json_array_append_new(list, json_string_nocheck(key));
    *out = list;
    return ORCS_OK;
}

orcs_status
orcs__expr_call(orcs__eval_t *e, const orcs__node_t *node, json_t **value_p)
{
    json_t *args[2] = {NULL, NULL};
    orcs_status rc = orcs__expr_eval_node(e, node->kids[0], &args[0]);
    if (rc != ORCS_OK)
        return rc;
    if (node->fn == ORCS__FN_DEFAULT) { // y only when x is null
        if (!json_is_null(args[0])) {
            *value_p = args[0];
            return ORCS_OK;
        }
        json_decref(args[0]);
        return orcs__expr_eval_node(e, node->kids[1], value_p);
    }
    if (node->nkids > 1)
        rc = orcs__expr_eval_node(e, node->kids[1], &args[1]);
    if (rc != ORCS_OK)
        goto cleanup;
    json_t *x = args[0];
    switch (node->fn) {
        case ORCS__FN_LEN:
            rc = s_len(e, x, value_p);
            break;
        case ORCS__FN_KEYS:
            rc = s_keys(e, x, value_p);
            break;
        case ORCS__FN_CONTAINS:
            rc = s_contains(e, x, args[1], value_p);
            break;
        case ORCS__FN_LOWER:
        case ORCS__FN_UPPER:
            rc = s_case(e, node->fn, x, value_p);
            break;
        case ORCS__FN_TRIM:
            rc = s_trim(e, x, value_p);
            break;
        case ORCS__FN_STARTSWITH:
        case ORCS__FN_ENDSWITH:
            rc = s_affix(e, node->fn, x, args[1], value_p);
            break;
        case ORCS__FN_JOIN:
            rc = s_join(e, x, args[1], value_p);
            break;
        case ORCS__FN_SPLIT:
            rc = s_split(e, x, args[1], value_p);
            break;
        case ORCS__FN_JSON:
        case ORCS__FN_STR:
            rc = s_text(e, node->fn, x, value_p);
            break;
        case ORCS__FN_FROM_JSON:
            rc = s_from_json(e, x, value_p);
            break;
        case ORCS__FN_INT:
        case ORCS__FN_FLOAT:
            rc = s_number(e, node->fn, x, value_p);
            break;
        case ORCS__FN_BOOL:
            *value_p = json_boolean(orcs__expr_truthy(x));
            break;
        default:
            rc = orcs__expr_fail(e, ORCS_EINTERNAL, "unknown function");
    }
cleanup:
    json_decref(args[0]);
    json_decref(args[1]);
    return rc;
}
