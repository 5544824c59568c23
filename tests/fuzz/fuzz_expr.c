/*  fuzz_expr.c — libFuzzer target for orcs_expr_parse, orcs_expr_eval,
    orcs_expr_test, orcs_expr_infer and orcs_expr_paths. The input is an
    expression on the first line and, after the first newline, an optional
    context (a JSON object); without one a fixed context is used.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "orcs/expr.h"

static const char s_ctx[] =
    "{\"inputs\": {\"n\": 3, \"s\": \"Hello\", \"list\": [1, 2.5, \"x\"],"
    " \"obj\": {\"a\": 1, \"x y\": [null]}, \"big\": 9223372036854775807},"
    " \"nodes\": {\"plan\": {\"output\": {\"topics\": [\"a\", \"b\"]}}},"
    " \"item\": \"\\u00e9t\\u00e9\"}";

// A deterministic but varied type for each path.
static orcs_expr_type
s_typeof(const json_t *segments, void *arg)
{
    (void) arg;
    size_t n = json_array_size(segments);
    return (orcs_expr_type) (n % 7);
}

static bool
s_on_path(const json_t *segments, void *arg)
{
    size_t *count = arg;
    if (!json_is_array(segments) || json_array_size(segments) == 0
        || !json_is_string(json_array_get(segments, 0)))
        __builtin_trap(); // contract: segments start with the root name
    return ++*count < 1000;
}

static bool
s_starts_with_column(const char *err)
{
    return strncmp(err, "column ", 7) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    const char *newline = memchr(text, '\n', size);
    size_t src_size = newline ? (size_t) (newline - text) : size;
    json_t *ctx = NULL;
    if (newline)
        ctx = json_loadb(newline + 1, size - src_size - 1, 0, NULL);
    if (!ctx)
        ctx = json_loads(s_ctx, 0, NULL);
    char err[256];
    err[0] = '\0';
    orcs_expr_t *expr = NULL;
    orcs_status rc = orcs_expr_parse(text, src_size, &expr, err, sizeof err);
    if (rc != ORCS_OK) {
        if ((rc != ORCS_EPROTO && rc != ORCS_ETOOBIG) || expr
            || !s_starts_with_column(err))
            __builtin_trap(); // contract: listed statuses, "column N: what"
        json_decref(ctx);
        return 0;
    }
    json_t *value = NULL;
    rc = orcs_expr_eval(expr, ctx, &value, err, sizeof err);
    if (rc == ORCS_OK ? value == NULL
                      : (value != NULL || err[0] == '\0'
                         || (rc != ORCS_EINVAL && rc != ORCS_ETOOBIG)))
        __builtin_trap(); // contract: a value, or a status and a message
    bool truth = false;
    orcs_status test_rc = orcs_expr_test(expr, ctx, &truth, NULL, 0);
    if (test_rc != rc)
        __builtin_trap(); // evaluation is deterministic
    orcs_expr_type type = ORCS_EXPR_ANY;
    orcs_status infer_rc =
        orcs_expr_infer(expr, NULL, NULL, &type, err, sizeof err);
    if (infer_rc != ORCS_OK
        && (infer_rc != ORCS_EINVAL || !s_starts_with_column(err)))
        __builtin_trap();
    // Without typeof, a definite type must be what evaluation gives.
    if (infer_rc == ORCS_OK && rc == ORCS_OK && type != ORCS_EXPR_ANY) {
        json_type jt = json_typeof(value);
        orcs_expr_type got =
            jt == JSON_NULL                         ? ORCS_EXPR_NULL
            : jt == JSON_TRUE || jt == JSON_FALSE   ? ORCS_EXPR_BOOLEAN
            : jt == JSON_INTEGER || jt == JSON_REAL ? ORCS_EXPR_NUMBER
            : jt == JSON_STRING                     ? ORCS_EXPR_STRING
            : jt == JSON_ARRAY                      ? ORCS_EXPR_ARRAY
                                                    : ORCS_EXPR_OBJECT;
        if (got != type)
            __builtin_trap();
    }
    infer_rc = orcs_expr_infer(expr, s_typeof, NULL, &type, err, sizeof err);
    if (infer_rc != ORCS_OK
        && (infer_rc != ORCS_EINVAL || !s_starts_with_column(err)))
        __builtin_trap();
    size_t count = 0;
    orcs_expr_paths(expr, s_on_path, &count);
    json_decref(value);
    orcs_expr_destroy(&expr);
    json_decref(ctx);
    return 0;
}
