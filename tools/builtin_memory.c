/*  builtin_memory.c — the memory.get, memory.put and memory.list tools:
    agent memory (orcs/memory.h) with the calling agent as the caller, so
    the node's access rules apply to what a model asks for.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>

#include "orcs/memory.h"
#include "tools/tools_internal.h"

#define S_LIST_DEFAULT 100 // keys memory.list returns without a limit

// Writes the message for a failed access and returns rc.
static orcs_status
s_failed(const orcs_tool_ctx_t *ctx,
         orcs_status rc,
         const char *scope,
         const char *key,
         bool write,
         char *err,
         size_t err_size)
{
    if (err_size == 0)
        return rc;
    if (rc == ORCS_ENOTFOUND && key)
        snprintf(err, err_size, "no key '%s' in scope '%s'", key, scope);
    else if (rc == ORCS_EDENIED)
        snprintf(err, err_size, "access denied: '%s' may not %s scope '%s'",
                 ctx->caller ? ctx->caller : "(node)", write ? "write" : "read",
                 scope);
    else if (rc == ORCS_EEXIST || rc == ORCS_EAGAIN)
        snprintf(err, err_size, "key '%s' in scope '%s' changed meanwhile",
                 key ? key : "", scope);
    else
        snprintf(err, err_size, "%s failed: %s", ctx->tool,
                 orcs_status_str(rc));
    return rc;
}

static orcs_status
s_no_memory(const orcs_tool_ctx_t *ctx, char *err, size_t err_size)
{
    if (err_size > 0)
        snprintf(err, err_size, "%s: no memory is configured on this node",
                 ctx->tool);
    return ORCS_EUNSUPPORTED;
}

// The string argument name, or NULL (the schema makes it one).
static const char *
s_arg(const orcs_tool_ctx_t *ctx, const char *name)
{
    return json_string_value(json_object_get(ctx->args, name));
}

orcs_status
orcs__tool_memory_get(const orcs_tool_ctx_t *ctx,
                      json_t **result_p,
                      char *err,
                      size_t err_size)
{
    *result_p = NULL;
    if (!ctx->memory)
        return s_no_memory(ctx, err, err_size);
    const char *scope = s_arg(ctx, "scope"), *key = s_arg(ctx, "key");
    if (!scope || !key) {
        snprintf(err, err_size, "scope and key must be strings");
        return ORCS_EINVAL;
    }
    json_t *value = NULL;
    uint64_t version = 0;
    orcs_status rc =
        orcs_memory_get(ctx->memory, ctx->caller, scope, key, &value, &version);
    if (rc != ORCS_OK)
        return s_failed(ctx, rc, scope, key, false, err, err_size);
    *result_p = json_pack("{s:o, s:I}", "value", value, "version",
                          (json_int_t) version);
    return ORCS_OK;
}

orcs_status
orcs__tool_memory_put(const orcs_tool_ctx_t *ctx,
                      json_t **result_p,
                      char *err,
                      size_t err_size)
{
    *result_p = NULL;
    if (!ctx->memory)
        return s_no_memory(ctx, err, err_size);
    const char *scope = s_arg(ctx, "scope"), *key = s_arg(ctx, "key");
    const json_t *value = json_object_get(ctx->args, "value");
    const json_t *ttl = json_object_get(ctx->args, "ttl_s");
    if (!scope || !key || !value) {
        snprintf(err, err_size, "scope, key and value are required");
        return ORCS_EINVAL;
    }
    orcs_memory_put_opts_t opts = {0};
    if (ttl) {
        json_int_t s = json_is_integer(ttl)
                           ? json_integer_value(ttl)
                           : (json_int_t) json_number_value(ttl);
        if (s < 0 || s > ORCS_MEMORY_TTL_MAX_MS / 1000) {
            snprintf(err, err_size, "ttl_s is out of range");
            return ORCS_EINVAL;
        }
        opts.ttl_ms = (int64_t) s * 1000;
    }
    uint64_t version = 0;
    orcs_status rc = orcs_memory_put(ctx->memory, ctx->caller, scope, key,
                                     value, &opts, &version);
    if (rc != ORCS_OK)
        return s_failed(ctx, rc, scope, key, true, err, err_size);
    *result_p = json_pack("{s:I}", "version", (json_int_t) version);
    return ORCS_OK;
}

orcs_status
orcs__tool_memory_list(const orcs_tool_ctx_t *ctx,
                       json_t **result_p,
                       char *err,
                       size_t err_size)
{
    *result_p = NULL;
    if (!ctx->memory)
        return s_no_memory(ctx, err, err_size);
    const char *scope = s_arg(ctx, "scope");
    const json_t *limit = json_object_get(ctx->args, "limit");
    if (!scope) {
        snprintf(err, err_size, "scope must be a string");
        return ORCS_EINVAL;
    }
    size_t n = S_LIST_DEFAULT;
    if (limit) {
        double d = json_number_value(limit);
        if (!(d >= 1 && d <= ORCS_MEMORY_LIST_MAX)) {
            snprintf(err, err_size, "limit is out of range");
            return ORCS_EINVAL;
        }
        n = (size_t) d;
    }
    json_t *entries = NULL;
    orcs_status rc = orcs_memory_list(ctx->memory, ctx->caller, scope,
                                      s_arg(ctx, "prefix"), n, &entries);
    if (rc != ORCS_OK)
        return s_failed(ctx, rc, scope, NULL, false, err, err_size);
    *result_p = entries;
    return ORCS_OK;
}
