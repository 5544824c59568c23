/*  fuzz_template.c — libFuzzer target for orcs_template_compile,
    orcs_template_render and orcs_template_exprs. The input's first line is
    the template: a JSON value, or else the line itself as one string. After
    the first newline comes an optional context (a JSON object); without
    one a fixed context is used.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "orcs/expr.h"

static const char s_ctx[] =
    "{\"inputs\": {\"n\": 3, \"s\": \"Hello\", \"list\": [1, 2.5, \"x\"],"
    " \"obj\": {\"a\": 1, \"x y\": [null]}},"
    " \"nodes\": {\"plan\": {\"output\": {\"topics\": [\"a\", \"b\"]}}},"
    " \"item\": null}";

static bool
s_on_expr(const orcs_expr_t *expr, const char *json_path, bool whole, void *arg)
{
    (void) whole;
    size_t *count = arg;
    if (!expr || json_path[0] != '$')
        __builtin_trap(); // contract: every expression has its JSON path
    return ++*count < 1000;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    const char *newline = memchr(text, '\n', size);
    size_t line = newline ? (size_t) (newline - text) : size;
    json_t *source = json_loadb(text, line, JSON_DECODE_ANY, NULL);
    if (!source)
        source = json_stringn(text, line); // NULL when not UTF-8
    if (!source)
        return 0;
    json_t *ctx = NULL;
    if (newline)
        ctx = json_loadb(newline + 1, size - line - 1, 0, NULL);
    if (!ctx)
        ctx = json_loads(s_ctx, 0, NULL);
    char err[256];
    err[0] = '\0';
    orcs_template_t *tpl = NULL;
    orcs_status rc = orcs_template_compile(source, &tpl, err, sizeof err);
    if (rc != ORCS_OK) {
        if ((rc != ORCS_EPROTO && rc != ORCS_ETOOBIG) || tpl || err[0] != '$')
            __builtin_trap(); // contract: listed statuses, "$path: what"
        goto cleanup;
    }
    size_t count = 0;
    orcs_template_exprs(tpl, s_on_expr, &count);
    if (orcs_template_is_constant(tpl) != (count == 0))
        __builtin_trap();
    json_t *value = NULL;
    err[0] = '\0';
    rc = orcs_template_render(tpl, ctx, &value, err, sizeof err);
    if (rc == ORCS_OK ? value == NULL
                      : (value != NULL || err[0] != '$'
                         || (rc != ORCS_EINVAL && rc != ORCS_ETOOBIG)))
        __builtin_trap(); // contract: a value, or a status and "$path: "
    json_decref(value);
    orcs_template_destroy(&tpl);
cleanup:
    json_decref(ctx);
    json_decref(source);
    return 0;
}
