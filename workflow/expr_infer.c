/*  expr_infer.c — static types of expressions (orcs_expr_infer): what a
    value can be, from literals, operators, functions and a caller's idea
    of what each path holds. Only definite mismatches are errors: an
    operand of type "any" never is.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "workflow/expr_internal.h"

#define S_ANY ORCS_EXPR_ANY

typedef struct {
    orcs_expr_typeof_fn *typeof_fn; // may be NULL
    void *arg;
    char *err;
    size_t err_size;
} s_infer_t;

static orcs_status s_fail_at(s_infer_t *in, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Writes "column N: what" and returns ORCS_EINVAL.
static orcs_status
s_fail_at(s_infer_t *in, unsigned col, const char *fmt, ...)
{
    if (!in->err || in->err_size == 0)
        return ORCS_EINVAL;
    int n = snprintf(in->err, in->err_size, "column %u: ", col);
    if (n >= 0 && (size_t) n < in->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(in->err + n, in->err_size - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return ORCS_EINVAL;
}

// Operators fail at their own column, arguments where they start.
#define s_fail(in, node, ...)     s_fail_at(in, (node)->col, __VA_ARGS__)
#define s_fail_arg(in, node, ...) s_fail_at(in, (node)->start, __VA_ARGS__)

static const char *
s_name(orcs_expr_type type)
{
    return orcs_expr_type_name(type);
}

static const char *
s_article(orcs_expr_type type)
{
    return type == ORCS_EXPR_ARRAY || type == ORCS_EXPR_OBJECT ? "an" : "a";
}

// The segments of a path made only of names and literal integer indexes;
// NULL for anything else. Caller owns the result.
static json_t *
s_segments(const orcs__node_t *node)
{
    if (node->kind == ORCS__NODE_ROOT) {
        json_t *segments = json_array();
        json_array_append_new(segments, json_string(node->name));
        return segments;
    }
    if (node->kind != ORCS__NODE_MEMBER && node->kind != ORCS__NODE_INDEX)
        return NULL;
    if (node->kind == ORCS__NODE_INDEX
        && (node->kids[1]->kind != ORCS__NODE_LITERAL
            || !json_is_integer(node->kids[1]->lit)))
        return NULL;
    json_t *segments = s_segments(node->kids[0]);
    if (segments && node->kind == ORCS__NODE_MEMBER)
        json_array_append_new(segments, json_string(node->name));
    else if (segments)
        json_array_append(segments, node->kids[1]->lit);
    return segments;
}

static orcs_expr_type
s_typeof(s_infer_t *in, const orcs__node_t *node)
{
    if (!in->typeof_fn)
        return S_ANY;
    json_t *segments = s_segments(node);
    if (!segments)
        return S_ANY;
    orcs_expr_type type = in->typeof_fn(segments, in->arg);
    json_decref(segments);
    return (unsigned) type <= ORCS_EXPR_OBJECT ? type : S_ANY;
}

static orcs_status
s_infer(s_infer_t *in, const orcs__node_t *node, orcs_expr_type *type_p);

static orcs_status
s_path(s_infer_t *in, const orcs__node_t *node, orcs_expr_type *type_p)
{
    orcs_expr_type base = S_ANY, index = S_ANY;
    orcs_status rc = s_infer(in, node->kids[0], &base);
    if (rc == ORCS_OK && node->kind == ORCS__NODE_INDEX)
        rc = s_infer(in, node->kids[1], &index);
    if (rc != ORCS_OK)
        return rc;
    if (node->kind == ORCS__NODE_MEMBER && base != S_ANY
        && base != ORCS_EXPR_OBJECT && base != ORCS_EXPR_NULL)
        return s_fail(in, node, "cannot take member '%.40s' of %s %s",
                      node->name, s_article(base), s_name(base));
    if (node->kind == ORCS__NODE_INDEX && base != S_ANY
        && base != ORCS_EXPR_NULL) {
        if (base != ORCS_EXPR_ARRAY && base != ORCS_EXPR_OBJECT)
            return s_fail(in, node, "cannot index %s %s", s_article(base),
                          s_name(base));
        orcs_expr_type want =
            base == ORCS_EXPR_ARRAY ? ORCS_EXPR_NUMBER : ORCS_EXPR_STRING;
        if (index != S_ANY && index != want)
            return s_fail(in, node, "cannot index %s %s with %s %s",
                          s_article(base), s_name(base), s_article(index),
                          s_name(index));
    }
    *type_p = s_typeof(in, node);
    return ORCS_OK;
}

static bool
s_known_not(orcs_expr_type type, unsigned mask)
{
    return type != S_ANY && !(mask & ORCS__T(type));
}

static orcs_status
s_binary(s_infer_t *in,
         const orcs__node_t *node,
         orcs_expr_type a,
         orcs_expr_type b,
         orcs_expr_type *type_p)
{
    static const char *const ops[] = {
        "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"};
    const char *op = ops[node->op];
    unsigned num = ORCS__T(ORCS_EXPR_NUMBER);
    unsigned str = ORCS__T(ORCS_EXPR_STRING);
    unsigned arr = ORCS__T(ORCS_EXPR_ARRAY);
    switch (node->op) {
        case ORCS__OP_EQ:
        case ORCS__OP_NE:
            *type_p = ORCS_EXPR_BOOLEAN;
            return ORCS_OK;
        case ORCS__OP_LT:
        case ORCS__OP_LE:
        case ORCS__OP_GT:
        case ORCS__OP_GE:
            if (s_known_not(a, num | str) || s_known_not(b, num | str)
                || (a != S_ANY && b != S_ANY && a != b))
                return s_fail(in, node,
                              "cannot compare %s with %s ('%s' takes two "
                              "numbers or two strings)",
                              s_name(a), s_name(b), op);
            *type_p = ORCS_EXPR_BOOLEAN;
            return ORCS_OK;
        case ORCS__OP_ADD:
            if (s_known_not(a, num | str | arr)
                || s_known_not(b, num | str | arr)
                || (a != S_ANY && b != S_ANY && a != b))
                return s_fail(in, node,
                              "cannot add %s and %s ('+' takes two numbers, "
                              "two strings or two arrays)",
                              s_name(a), s_name(b));
            *type_p = a != S_ANY ? a : b;
            return ORCS_OK;
        default:
            if (s_known_not(a, num) || s_known_not(b, num))
                return s_fail(in, node, "'%s' takes two numbers, got %s and %s",
                              op, s_name(a), s_name(b));
            *type_p = ORCS_EXPR_NUMBER;
            return ORCS_OK;
    }
}

static orcs_status
s_call(s_infer_t *in, const orcs__node_t *node, orcs_expr_type *type_p)
{
    const orcs__fn_info_t *info = &orcs__expr_fns[node->fn];
    orcs_expr_type args[2] = {S_ANY, S_ANY};
    for (size_t i = 0; i < node->nkids && i < 2; i++) {
        orcs_status rc = s_infer(in, node->kids[i], &args[i]);
        if (rc != ORCS_OK)
            return rc;
        if (s_known_not(args[i], info->args[i])) {
            char what[160];
            orcs__expr_fn_mismatch(node->fn, i, args[i], what, sizeof what);
            return s_fail_arg(in, node->kids[i], "%s", what);
        }
    }
    *type_p = info->result;
    if (node->fn == ORCS__FN_CONTAINS
        && (args[0] == ORCS_EXPR_STRING || args[0] == ORCS_EXPR_OBJECT)
        && s_known_not(args[1], ORCS__T(ORCS_EXPR_STRING)))
        return s_fail_arg(in, node->kids[1],
                          "contains() takes a string needle when the haystack "
                          "is %s, got %s",
                          args[0] == ORCS_EXPR_STRING ? "a string"
                                                      : "an object",
                          s_name(args[1]));
    if (node->fn == ORCS__FN_DEFAULT)
        *type_p = args[0] == ORCS_EXPR_NULL ? args[1]
                  : args[0] != S_ANY        ? args[0]
                  : args[0] == args[1]      ? args[0]
                                            : S_ANY;
    return ORCS_OK;
}

static orcs_status
s_infer(s_infer_t *in, const orcs__node_t *node, orcs_expr_type *type_p)
{
    orcs_expr_type kids[2] = {S_ANY, S_ANY};
    orcs_status rc = ORCS_OK;
    *type_p = S_ANY;
    switch (node->kind) {
        case ORCS__NODE_LITERAL:
            *type_p = orcs__expr_type_of(node->lit);
            return ORCS_OK;
        case ORCS__NODE_ROOT:
            *type_p = s_typeof(in, node);
            return ORCS_OK;
        case ORCS__NODE_MEMBER:
        case ORCS__NODE_INDEX:
            return s_path(in, node, type_p);
        case ORCS__NODE_CALL:
            return s_call(in, node, type_p);
        case ORCS__NODE_ARRAY:
        case ORCS__NODE_OBJECT:
            for (size_t i = 0; i < node->nkids && rc == ORCS_OK; i++)
                rc = s_infer(in, node->kids[i], &kids[0]);
            *type_p = node->kind == ORCS__NODE_ARRAY ? ORCS_EXPR_ARRAY
                                                     : ORCS_EXPR_OBJECT;
            return rc;
        default:
            break;
    }
    for (size_t i = 0; i < node->nkids && i < 2 && rc == ORCS_OK; i++)
        rc = s_infer(in, node->kids[i], &kids[i]);
    if (rc != ORCS_OK)
        return rc;
    switch (node->kind) {
        case ORCS__NODE_NEG:
            if (s_known_not(kids[0], ORCS__T(ORCS_EXPR_NUMBER)))
                return s_fail(in, node, "'-' takes a number, got %s",
                              s_name(kids[0]));
            *type_p = ORCS_EXPR_NUMBER;
            return ORCS_OK;
        case ORCS__NODE_BINARY:
            return s_binary(in, node, kids[0], kids[1], type_p);
        default: // not, and, or
            *type_p = ORCS_EXPR_BOOLEAN;
            return ORCS_OK;
    }
}

orcs_status
orcs_expr_infer(const orcs_expr_t *self,
                orcs_expr_typeof_fn *typeof_fn,
                void *arg,
                orcs_expr_type *type_p,
                char *err,
                size_t err_size)
{
    orcs_assert(self);
    orcs_assert(type_p);
    if (err && err_size > 0)
        err[0] = '\0';
    s_infer_t in = {
        .typeof_fn = typeof_fn, .arg = arg, .err = err, .err_size = err_size};
    orcs_expr_type type = S_ANY;
    orcs_status rc = s_infer(&in, self->root, &type);
    if (rc == ORCS_OK)
        *type_p = type;
    return rc;
}
