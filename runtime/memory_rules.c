/*  memory_rules.c — the memory config (versions kept, access rules), the
    access check, and audit entries for denied accesses.
    SPDX-License-Identifier: MPL-2.0

    An access is allowed when the caller is the node itself (NULL), when
    the scope is the caller's own `agent:<caller>`, or when a rule whose
    `agent` glob matches the caller lists a pattern matching the scope
    under `read` (reads) or `write` (writes). Everything else is denied.

    Audit entries (sub-database `audit`) are orcs/record.h AuditEntry
    records (action "memory.OP", target "SCOPE/KEY", outcome DENIED,
    status EDENIED, the tenant in detail) under the key BE64(wall-clock us)
    BE32(sequence), so they sort by time. The sequence starts at a random
    number per memory object; the batch checks the key is absent, so an
    entry is never overwritten (append-only) even when two processes
    write in the same microsecond. */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"
#include "orcs/log.h"
#include "orcs/record.h"
#include "orcs/sys.h"
#include "records.pb.h"

#define S_AUDIT_RETRIES 4   // new sequence numbers tried on a key clash
#define S_PATTERN_MAX   256 // bytes of a rule's glob

// ---------------------------------------------------------------------------
// Config

static orcs_status s_fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static orcs_status
s_fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return ORCS_ECONFIG;
}

bool
orcs_memory_pattern_is_valid(const char *s)
{
    static const char *const kinds[] = {
        "workflow:", "task:", "agent:", "thread:", NULL};
    if (!s)
        return false;
    if (strcmp(s, "*") == 0 || strcmp(s, "global") == 0)
        return true;
    for (size_t i = 0; kinds[i]; i++) {
        size_t n = strlen(kinds[i]);
        if (strncmp(s, kinds[i], n) == 0 && s[n] != '\0')
            return strlen(s) <= S_PATTERN_MAX;
    }
    return false;
}

static orcs_status
s_check_patterns(const json_t *rule,
                 const char *key,
                 size_t index,
                 char *err,
                 size_t err_size)
{
    json_t *list = json_object_get(rule, key);
    if (!list || json_is_null(list))
        return ORCS_OK;
    if (!json_is_array(list))
        return s_fail(err, err_size, "rules[%zu].%s: must be a list", index,
                      key);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        if (!json_is_string(item)
            || !orcs_memory_pattern_is_valid(json_string_value(item)))
            return s_fail(err, err_size,
                          "rules[%zu].%s[%zu]: must be *, global or "
                          "workflow:|task:|agent:|thread: followed by an id "
                          "glob or self",
                          index, key, i);
    }
    return ORCS_OK;
}

static orcs_status
s_check_rule(const json_t *rule, size_t index, char *err, size_t err_size)
{
    if (!json_is_object(rule))
        return s_fail(err, err_size, "rules[%zu]: must be a mapping", index);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) rule, key, value)
    {
        if (strcmp(key, "agent") != 0 && strcmp(key, "read") != 0
            && strcmp(key, "write") != 0)
            return s_fail(err, err_size, "rules[%zu].%s: unknown key", index,
                          key);
    }
    json_t *agent = json_object_get(rule, "agent");
    if (!json_is_string(agent) || json_string_length(agent) == 0
        || json_string_length(agent) > S_PATTERN_MAX)
        return s_fail(err, err_size,
                      "rules[%zu].agent: must be an actor name or glob", index);
    orcs_status rc = s_check_patterns(rule, "read", index, err, err_size);
    if (rc == ORCS_OK)
        rc = s_check_patterns(rule, "write", index, err, err_size);
    return rc;
}

orcs_status
orcs_memory_configure(orcs_memory_t *self,
                      const json_t *config,
                      char *err,
                      size_t err_size)
{
    orcs_assert(self);
    if (err && err_size > 0)
        err[0] = '\0';
    if (!config || json_is_null(config)) {
        self->versions_kept = ORCS_MEMORY_VERSIONS;
        json_decref(self->rules);
        self->rules = json_array();
        return ORCS_OK;
    }
    if (!json_is_object(config))
        return s_fail(err, err_size, "must be a mapping");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) config, key, value)
    {
        if (strcmp(key, "versions_kept") != 0 && strcmp(key, "rules") != 0)
            return s_fail(err, err_size, "%s: unknown key", key);
    }
    json_t *versions = json_object_get(config, "versions_kept");
    json_int_t kept = ORCS_MEMORY_VERSIONS;
    if (versions && !json_is_null(versions)) {
        kept = json_is_integer(versions) ? json_integer_value(versions) : 0;
        if (kept < 1 || kept > ORCS_MEMORY_VERSIONS_MAX)
            return s_fail(err, err_size,
                          "versions_kept: must be an integer from 1 to %u",
                          ORCS_MEMORY_VERSIONS_MAX);
    }
    json_t *rules = json_object_get(config, "rules");
    if (rules && !json_is_null(rules)) {
        if (!json_is_array(rules)
            || json_array_size(rules) > ORCS_MEMORY_RULES_MAX)
            return s_fail(err, err_size, "rules: must be a list of at most %u",
                          ORCS_MEMORY_RULES_MAX);
        size_t i;
        json_t *rule;
        json_array_foreach(rules, i, rule)
        {
            orcs_status rc = s_check_rule(rule, i, err, err_size);
            if (rc != ORCS_OK)
                return rc;
        }
    }
    self->versions_kept = (unsigned) kept;
    json_decref(self->rules);
    self->rules =
        rules && json_is_array(rules) ? json_deep_copy(rules) : json_array();
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Access check

// Matches a scope pattern. KIND:self and KIND:self/GLOB stand for the
// caller's own id (compared literally, so names need no escaping).
static bool
s_scope_matches(const char *pattern, const char *scope, const char *caller)
{
    const char *colon = strchr(pattern, ':');
    if (colon && strncmp(colon + 1, "self", 4) == 0
        && (colon[5] == '\0' || colon[5] == '/')) {
        size_t kind = (size_t) (colon - pattern) + 1; // "agent:"
        size_t n = strlen(caller);
        if (strncmp(scope, pattern, kind) != 0
            || strncmp(scope + kind, caller, n) != 0)
            return false;
        const char *rest = scope + kind + n;
        return colon[5] == '\0' ? rest[0] == '\0'
                                : fnmatch(colon + 5, rest, 0) == 0;
    }
    return fnmatch(pattern, scope, 0) == 0;
}

bool
orcs_memory_allowed(const orcs_memory_t *self,
                    const char *caller,
                    const char *scope,
                    bool write)
{
    orcs_assert(self && scope);
    if (!caller)
        return true; // the node itself
    if (strncmp(scope, "agent:", 6) == 0 && strcmp(scope + 6, caller) == 0)
        return true; // an agent's own scope
    size_t i;
    json_t *rule;
    json_array_foreach(self->rules, i, rule)
    {
        const char *agent = json_string_value(json_object_get(rule, "agent"));
        if (!agent || fnmatch(agent, caller, 0) != 0)
            continue;
        size_t j;
        json_t *pattern;
        json_array_foreach(json_object_get(rule, write ? "write" : "read"), j,
                           pattern)
        {
            if (s_scope_matches(json_string_value(pattern), scope, caller))
                return true;
        }
    }
    return false;
}

// ---------------------------------------------------------------------------
// Audit

static void
s_audit_done(orcs_status status, void *arg)
{
    (void) arg;
    if (status != ORCS_OK)
        orcs_log_error("memory", "audit entry lost status=%s",
                       orcs_status_name(status));
}

// Builds the batch appending one entry (key absent checked).
static orcs_batch_t *
s_audit_batch(orcs_memory_t *self, orcs_audit_entry_t *entry)
{
    uint8_t key[12];
    uint64_t t = (uint64_t) entry->time_us;
    uint32_t seq = atomic_fetch_add(&self->audit_seq, 1);
    entry->seq = seq;
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t) (t >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        key[8 + i] = (uint8_t) (seq >> (24 - 8 * i));
    uint8_t *data = NULL;
    size_t size = 0;
    if (orcs_audit_entry_encode(entry, &data, &size) != ORCS_OK)
        return NULL;
    orcs_batch_t *batch = orcs_batch_new();
    if (orcs_batch_check(batch, ORCS_DB_AUDIT, key, sizeof key, NULL, 0)
            != ORCS_OK
        || orcs_batch_put(batch, ORCS_DB_AUDIT, key, sizeof key, data, size)
               != ORCS_OK)
        orcs_batch_destroy(&batch);
    free(data);
    return batch;
}

void
orcs__memory_audit_denied(orcs_memory_t *self,
                          const orcs__memory_ctx_t *ctx,
                          const char *op,
                          bool write,
                          bool wait)
{
    orcs_audit_entry_t entry = AuditEntry_init_zero;
    entry.schema = ORCS_AUDIT_ENTRY_SCHEMA;
    entry.time_us = orcs__memory_now(self);
    entry.outcome = ORCS_AUDIT_DENIED;
    entry.status = ORCS_EDENIED;
    // Fields are bounded (msgs/records.options): long names are cut.
    snprintf(entry.actor, sizeof entry.actor, "%s",
             ctx->caller ? ctx->caller : "");
    snprintf(entry.action, sizeof entry.action, "memory.%s", op);
    snprintf(entry.target, sizeof entry.target, "%s%s%s", ctx->scope,
             ctx->key ? "/" : "", ctx->key ? ctx->key : "");
    snprintf(entry.detail, sizeof entry.detail,
             "%s access denied by the memory rules; tenant '%s'",
             write ? "write" : "read", ctx->prefix);
    orcs_log_debug("memory", "denied caller=%s op=%s scope=%s", entry.actor, op,
                   ctx->scope);
    orcs_status rc = ORCS_EINVAL;
    for (int attempt = 0; attempt < S_AUDIT_RETRIES; attempt++) {
        orcs_batch_t *batch = s_audit_batch(self, &entry);
        if (!batch)
            break;
        if (!wait) {
            rc =
                orcs_store_write_async(self->store, &batch, s_audit_done, NULL);
            break;
        }
        rc = orcs_store_write(self->store, &batch);
        if (rc != ORCS_EEXIST)
            break;
    }
    if (rc != ORCS_OK)
        orcs_log_error("memory", "audit entry lost status=%s",
                       orcs_status_name(rc));
}
