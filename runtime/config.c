/*  config.c — the node config file (FORMATS.md "Node config"): every key is
    checked against what it may hold, and defaults are written into the
    document so the runtime reads any key without testing for it.
    SPDX-License-Identifier: MPL-2.0

    A null value (`key:` with nothing after it) counts as absent: keys with a
    default get the default, optional keys without one (listen, control, a
    child's actor or supervisor) are removed. Paths in messages use
    orcs_yaml_line's syntax, so a key holding '.', '[' or '\' shows escaped
    ("models.gpt-4\.1"). */
#include "orcs/config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/memory.h"
#include "orcs/sys.h"
#include "orcs/yaml.h"

#define S_INT_MAX     2147483647 // ceiling of open-ended integers
#define S_MAILBOX     1000       // default mailbox of an actor
#define S_NESTING_MAX 64         // supervisors within supervisors
#define S_NAME_MAX    63         // node and child names
#define S_QUOTE_MAX   40         // bytes of a value quoted in a message
#define S_STRATEGIES \
    "one_for_one, one_for_all, rest_for_one, simple_one_for_one"
#define S_RESTARTS   "permanent, transient, temporary"
#define S_LOG_LEVELS "error, warn, info, debug"
#define S_NAME_RULE  "1 to 63 of A-Z a-z 0-9 _ . -"

struct orcs_config_t {
    json_t *doc; // the config with defaults filled in
    char *dir;   // directory of the file; "." for text and defaults
};

typedef struct {
    const orcs_yaml_t *yaml; // lines for messages; NULL for a built spec
    char *err;               // the caller's buffer
    size_t err_size;         // its size
    char *path;              // the path being checked, escaped as yaml.h says
    size_t path_len;         // its length
    size_t path_cap;         // bytes allocated
    json_t *names;           // every child name seen -> path of its first use
    json_int_t mailbox;      // default mailbox of children (limits.mailbox)
} s_check_t;

static const char *const s_top_keys[] = {
    "node",   "data",     "listen",    "control",    "models",
    "tools",  "limits",   "log_level", "supervisor", "store",
    "memory", "toolexec", NULL};
static const char *const s_limits_keys[] = {
    "max_sockets", "max_message_bytes", "mailbox", "send_timeout_ms",
    "spin_us",     "finished_tasks",    NULL};
static const char *const s_store_keys[] = {"map_size_mb", "map_max_mb",
                                           "durability", "sync_ms", NULL};
static const char *const s_durabilities[] = {"sync", "relaxed", NULL};
static const char *const s_spec_keys[] = {"strategy", "intensity", "period_s",
                                          "children", NULL};
static const char *const s_child_keys[] = {
    "name", "actor",   "supervisor",   "restart", "shutdown_ms", "config",
    "pool", "process", "heartbeat_ms", "mailbox", NULL};
static const char *const s_strategies[] = {
    "one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one", NULL};
static const char *const s_restarts[] = {"permanent", "transient", "temporary",
                                         NULL};
static const char *const s_log_levels[] = {"error", "warn", "info", "debug",
                                           NULL};

// ---------------------------------------------------------------------------
// Paths and messages

static void
s_path_append(s_check_t *c, const char *s, size_t n)
{
    if (c->path_len + n + 1 > c->path_cap) {
        size_t cap = c->path_cap ? c->path_cap : 128;
        while (cap < c->path_len + n + 1)
            cap *= 2;
        c->path = orcs_realloc(c->path, cap);
        c->path_cap = cap;
    }
    memcpy(c->path + c->path_len, s, n);
    c->path_len += n;
    c->path[c->path_len] = '\0';
}

// Appends ".key" (just "key" at the root), escaping '.', '[' and '\'.
// Returns the length to give s_pop.
static size_t
s_push_key(s_check_t *c, const char *key)
{
    size_t saved = c->path_len;
    if (c->path_len > 0)
        s_path_append(c, ".", 1);
    for (const char *s = key; *s; s++) {
        if (*s == '.' || *s == '[' || *s == '\\')
            s_path_append(c, "\\", 1);
        s_path_append(c, s, 1);
    }
    return saved;
}

static size_t
s_push_index(s_check_t *c, size_t index)
{
    size_t saved = c->path_len;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "[%zu]", index);
    s_path_append(c, buf, (size_t) n);
    return saved;
}

static void
s_pop(s_check_t *c, size_t saved)
{
    c->path_len = saved;
    if (c->path)
        c->path[saved] = '\0';
}

// Writes "FILE:LINE: PATH: what" (or "PATH: what" for a built spec) into
// c->err. at_key picks the line of the key rather than of the value.
static orcs_status s_fail(s_check_t *c, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static orcs_status
s_fail(s_check_t *c, bool at_key, const char *fmt, ...)
{
    if (c->err_size == 0)
        return ORCS_ECONFIG;
    const char *path = c->path ? c->path : "";
    int n = 0;
    if (c->yaml) {
        int line = at_key ? orcs_yaml_key_line(c->yaml, path)
                          : orcs_yaml_line(c->yaml, path);
        n = snprintf(c->err, c->err_size,
                     "%s:%d: ", orcs_yaml_filename(c->yaml), line);
    }
    if (n >= 0 && (size_t) n < c->err_size && *path)
        n += snprintf(c->err + n, c->err_size - (size_t) n, "%s: ", path);
    if (n >= 0 && (size_t) n < c->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->err_size - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return ORCS_ECONFIG;
}

// Describes a value for a message: strings quoted (cut at S_QUOTE_MAX bytes,
// control bytes as '?'), numbers and booleans as written, else the type.
static const char *
s_got(char *buf, size_t buf_size, const json_t *value)
{
    switch (json_typeof(value)) {
        case JSON_STRING: {
            const char *s = json_string_value(value);
            size_t len = json_string_length(value);
            size_t n = len < S_QUOTE_MAX ? len : S_QUOTE_MAX;
            while (n < len && n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--; // do not cut a UTF-8 sequence
            size_t at = 0;
            buf[at++] = '\'';
            for (size_t i = 0; i < n && at + 6 < buf_size; i++) {
                unsigned char ch = (unsigned char) s[i];
                buf[at++] = (char) (ch < 0x20 || ch == 0x7f ? '?' : ch);
            }
            snprintf(buf + at, buf_size - at, "%s'", n < len ? "..." : "");
            return buf;
        }
        case JSON_INTEGER:
            snprintf(buf, buf_size, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(value));
            return buf;
        case JSON_REAL:
            snprintf(buf, buf_size, "%g", json_real_value(value));
            return buf;
        case JSON_TRUE:
            return "true";
        case JSON_FALSE:
            return "false";
        case JSON_NULL:
            return "null";
        case JSON_ARRAY:
            return "a list";
        case JSON_OBJECT:
            return "a mapping";
    }
    return "?";
}

// ---------------------------------------------------------------------------
// Values

// Returns obj[key], treating a null as absent (and removing it).
static json_t *
s_get(json_t *obj, const char *key)
{
    json_t *value = json_object_get(obj, key);
    if (value && json_is_null(value)) {
        json_object_del(obj, key);
        value = NULL;
    }
    return value;
}

static bool
s_is_one_of(const char *s, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    return false;
}

// Refuses the first key of obj (in document order) not in allowed.
static orcs_status
s_check_keys(s_check_t *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        if (!s_is_one_of(key, allowed)) {
            s_push_key(c, key);
            return s_fail(c, true, "unknown key");
        }
    }
    return ORCS_OK;
}

static orcs_status
s_check_int(s_check_t *c,
            json_t *obj,
            const char *key,
            json_int_t min,
            json_int_t max,
            json_int_t fallback,
            json_int_t *value_p)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        json_object_set_new(obj, key, json_integer(fallback));
        if (value_p)
            *value_p = fallback;
        return ORCS_OK;
    }
    size_t saved = s_push_key(c, key);
    char got[64];
    if (!json_is_integer(value))
        return s_fail(c, false, "must be an integer (got %s)",
                      s_got(got, sizeof got, value));
    json_int_t i = json_integer_value(value);
    if (i < min || i > max)
        return s_fail(c, false,
                      "must be an integer from %" JSON_INTEGER_FORMAT
                      " to %" JSON_INTEGER_FORMAT " (got %s)",
                      min, max, s_got(got, sizeof got, value));
    s_pop(c, saved);
    if (value_p)
        *value_p = i;
    return ORCS_OK;
}

static orcs_status
s_check_bool(s_check_t *c, json_t *obj, const char *key, bool fallback)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        json_object_set_new(obj, key, json_boolean(fallback));
        return ORCS_OK;
    }
    if (!json_is_boolean(value)) {
        char got[64];
        s_push_key(c, key);
        return s_fail(c, false, "must be true or false (got %s)",
                      s_got(got, sizeof got, value));
    }
    return ORCS_OK;
}

// The first word of words is the default; listed is them joined by ", ".
static orcs_status
s_check_enum(s_check_t *c,
             json_t *obj,
             const char *key,
             const char *const *words,
             const char *fallback,
             const char *listed)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        json_object_set_new(obj, key, json_string(fallback));
        return ORCS_OK;
    }
    if (!json_is_string(value)
        || !s_is_one_of(json_string_value(value), words)) {
        char got[64];
        s_push_key(c, key);
        return s_fail(c, false, "must be one of %s (got %s)", listed,
                      s_got(got, sizeof got, value));
    }
    return ORCS_OK;
}

static bool
s_is_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > S_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
                  || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
                  || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool
s_is_endpoint(const char *s)
{
    const char *sep = strstr(s, "://");
    return sep && sep > s && sep[3] != '\0';
}

static bool
s_is_nonempty(const char *s)
{
    return s[0] != '\0';
}

// A string key. fallback NULL makes it optional (absent stays absent).
// valid (may be NULL) checks the text; rule says what it wants.
static orcs_status
s_check_string(s_check_t *c,
               json_t *obj,
               const char *key,
               const char *fallback,
               bool (*valid)(const char *),
               const char *rule)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        if (fallback)
            json_object_set_new(obj, key, json_string(fallback));
        return ORCS_OK;
    }
    char got[64];
    if (!json_is_string(value)) {
        s_push_key(c, key);
        return s_fail(c, false, "must be a string (got %s)",
                      s_got(got, sizeof got, value));
    }
    if (valid && !valid(json_string_value(value))) {
        s_push_key(c, key);
        return s_fail(c, false, "must be %s (got %s)", rule,
                      s_got(got, sizeof got, value));
    }
    return ORCS_OK;
}

// A mapping key; absent gets an empty mapping. *value_p is the mapping.
static orcs_status
s_check_mapping(s_check_t *c, json_t *obj, const char *key, json_t **value_p)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        value = json_object();
        json_object_set_new(obj, key, value);
    }
    if (!json_is_object(value)) {
        char got[64];
        s_push_key(c, key);
        return s_fail(c, false, "must be a mapping (got %s)",
                      s_got(got, sizeof got, value));
    }
    *value_p = value;
    return ORCS_OK;
}

// A list key; absent gets an empty list. *value_p is the list.
static orcs_status
s_check_list(s_check_t *c, json_t *obj, const char *key, json_t **value_p)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        value = json_array();
        json_object_set_new(obj, key, value);
    }
    if (!json_is_array(value)) {
        char got[64];
        s_push_key(c, key);
        return s_fail(c, false, "must be a list (got %s)",
                      s_got(got, sizeof got, value));
    }
    *value_p = value;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Supervision tree

static orcs_status s_check_spec(s_check_t *c, json_t *spec, unsigned nesting);

static orcs_status
s_check_name(s_check_t *c, json_t *child)
{
    json_t *name = s_get(child, "name");
    if (!name)
        return s_fail(c, false, "missing required key 'name'");
    orcs_status rc =
        s_check_string(c, child, "name", NULL, s_is_name, S_NAME_RULE);
    if (rc != ORCS_OK)
        return rc;
    const char *text = json_string_value(name);
    size_t saved = s_push_key(c, "name");
    json_t *first = json_object_get(c->names, text);
    if (first) {
        char got[64];
        return s_fail(c, false, "duplicate name %s (also at %s)",
                      s_got(got, sizeof got, name), json_string_value(first));
    }
    s_pop(c, saved);
    json_object_set_new(c->names, text, json_string(c->path));
    return ORCS_OK;
}

// Checks that a child has exactly one of actor and supervisor.
static orcs_status
s_check_kind(s_check_t *c, json_t *child)
{
    json_t *actor = s_get(child, "actor");
    json_t *supervisor = s_get(child, "supervisor");
    if (actor && supervisor) {
        // Point at whichever of the two comes second in the file.
        const char *key = "supervisor";
        const char *k;
        json_t *v;
        json_object_foreach(child, k, v)
        {
            if (strcmp(k, "actor") == 0 || strcmp(k, "supervisor") == 0)
                key = strcmp(k, "actor") == 0 ? "actor" : "supervisor";
        }
        s_push_key(c, key);
        return s_fail(c, true,
                      "a child has either actor or supervisor, not both");
    }
    if (!actor && !supervisor)
        return s_fail(c, false,
                      "needs either actor (a role or plug-in) or supervisor "
                      "(a nested tree)");
    if (actor)
        return s_check_string(c, child, "actor", NULL, s_is_nonempty,
                              "a role name or a plug-in path");
    if (!json_is_object(supervisor)) {
        char got[64];
        s_push_key(c, "supervisor");
        return s_fail(c, false, "must be a mapping (got %s)",
                      s_got(got, sizeof got, supervisor));
    }
    return ORCS_OK;
}

static orcs_status
s_check_child(s_check_t *c, json_t *child, unsigned nesting)
{
    if (!json_is_object(child)) {
        char got[64];
        return s_fail(c, false, "must be a mapping (got %s)",
                      s_got(got, sizeof got, child));
    }
    orcs_status rc = s_check_keys(c, child, s_child_keys);
    if (rc == ORCS_OK)
        rc = s_check_name(c, child);
    if (rc == ORCS_OK)
        rc = s_check_kind(c, child);
    if (rc == ORCS_OK)
        rc = s_check_enum(c, child, "restart", s_restarts, "permanent",
                          S_RESTARTS);
    if (rc == ORCS_OK)
        rc = s_check_int(c, child, "shutdown_ms", 0, S_INT_MAX, 5000, NULL);
    if (rc == ORCS_OK && !s_get(child, "config"))
        json_object_set_new(child, "config", json_object());
    if (rc == ORCS_OK)
        rc = s_check_int(c, child, "pool", 1, 1024, 1, NULL);
    if (rc == ORCS_OK)
        rc = s_check_bool(c, child, "process", false);
    if (rc == ORCS_OK)
        rc = s_check_int(c, child, "heartbeat_ms", 0, S_INT_MAX, 0, NULL);
    if (rc == ORCS_OK)
        rc = s_check_int(c, child, "mailbox", 1, 1000000, c->mailbox, NULL);
    json_t *supervisor = json_object_get(child, "supervisor");
    if (rc == ORCS_OK && supervisor) {
        size_t saved = s_push_key(c, "supervisor");
        rc = s_check_spec(c, supervisor, nesting + 1);
        if (rc == ORCS_OK)
            s_pop(c, saved);
    }
    return rc;
}

static orcs_status
s_check_children(s_check_t *c, json_t *spec, unsigned nesting)
{
    json_t *children = NULL;
    orcs_status rc = s_check_list(c, spec, "children", &children);
    if (rc != ORCS_OK)
        return rc;
    const char *strategy = json_string_value(json_object_get(spec, "strategy"));
    bool simple = strcmp(strategy, "simple_one_for_one") == 0;
    size_t saved = s_push_key(c, "children");
    if (simple && json_array_size(children) != 1)
        return s_fail(c, false,
                      "simple_one_for_one needs exactly one child, the "
                      "template (got %zu)",
                      json_array_size(children));
    for (size_t i = 0; i < json_array_size(children); i++) {
        size_t item = s_push_index(c, i);
        json_t *child = json_array_get(children, i);
        rc = s_check_child(c, child, nesting);
        if (rc != ORCS_OK)
            return rc;
        if (simple && json_object_get(child, "supervisor")) {
            s_push_key(c, "supervisor");
            return s_fail(c, true,
                          "the simple_one_for_one template must be an "
                          "actor, not a supervisor");
        }
        s_pop(c, item);
    }
    s_pop(c, saved);
    return ORCS_OK;
}

static orcs_status
s_check_spec(s_check_t *c, json_t *spec, unsigned nesting)
{
    if (!json_is_object(spec)) {
        char got[64];
        return s_fail(c, false, "must be a mapping (got %s)",
                      s_got(got, sizeof got, spec));
    }
    if (nesting > S_NESTING_MAX)
        return s_fail(c, false, "supervisors nested deeper than %d",
                      S_NESTING_MAX);
    orcs_status rc = s_check_keys(c, spec, s_spec_keys);
    if (rc == ORCS_OK)
        rc = s_check_enum(c, spec, "strategy", s_strategies, "one_for_one",
                          S_STRATEGIES);
    if (rc == ORCS_OK)
        rc = s_check_int(c, spec, "intensity", 0, S_INT_MAX, 3, NULL);
    if (rc == ORCS_OK)
        rc = s_check_int(c, spec, "period_s", 1, S_INT_MAX, 5, NULL);
    if (rc == ORCS_OK)
        rc = s_check_children(c, spec, nesting);
    return rc;
}

// ---------------------------------------------------------------------------
// The whole file

static orcs_status
s_check_limits(s_check_t *c, json_t *doc)
{
    json_t *limits = NULL;
    orcs_status rc = s_check_mapping(c, doc, "limits", &limits);
    if (rc != ORCS_OK)
        return rc;
    size_t saved = s_push_key(c, "limits");
    rc = s_check_keys(c, limits, s_limits_keys);
    if (rc == ORCS_OK)
        rc = s_check_int(c, limits, "max_sockets", 64, 65536, 16384, NULL);
    if (rc == ORCS_OK)
        rc = s_check_int(c, limits, "max_message_bytes", 1024, 1073741824,
                         16777216, NULL);
    if (rc == ORCS_OK)
        rc = s_check_int(c, limits, "mailbox", 1, 1000000, S_MAILBOX,
                         &c->mailbox);
    if (rc == ORCS_OK)
        rc = s_check_int(c, limits, "send_timeout_ms", 0, 3600000, 5000, NULL);
    if (rc == ORCS_OK)
        rc = s_check_int(c, limits, "spin_us", 0, 100000, 200, NULL);
    if (rc == ORCS_OK)
        rc = s_check_int(c, limits, "finished_tasks", 0, 100000000, 200000,
                         NULL);
    if (rc == ORCS_OK)
        s_pop(c, saved);
    return rc;
}

// store: the LMDB map (MiB; it grows from map_size_mb up to map_max_mb)
// and durability (sync: fsync per commit; relaxed: every sync_ms).
static orcs_status
s_check_store(s_check_t *c, json_t *doc)
{
    json_t *store = NULL;
    orcs_status rc = s_check_mapping(c, doc, "store", &store);
    if (rc != ORCS_OK)
        return rc;
    size_t saved = s_push_key(c, "store");
    json_int_t map_size = 0;
    json_int_t map_max = 0;
    rc = s_check_keys(c, store, s_store_keys);
    if (rc == ORCS_OK)
        rc = s_check_int(c, store, "map_size_mb", 1, 16777216, 64, &map_size);
    if (rc == ORCS_OK)
        rc = s_check_int(c, store, "map_max_mb", 1, 16777216, 65536, &map_max);
    if (rc == ORCS_OK && map_max < map_size) {
        s_push_key(c, "map_max_mb");
        return s_fail(c, false,
                      "must be at least map_size_mb (%" JSON_INTEGER_FORMAT
                      ") (got %" JSON_INTEGER_FORMAT ")",
                      map_size, map_max);
    }
    if (rc == ORCS_OK)
        rc = s_check_enum(c, store, "durability", s_durabilities, "sync",
                          "sync, relaxed");
    if (rc == ORCS_OK)
        rc = s_check_int(c, store, "sync_ms", 1, 3600000, 100, NULL);
    if (rc == ORCS_OK)
        s_pop(c, saved);
    return rc;
}

// memory (optional; runtime/memory_rules.c applies it, docs/memory.md):
// versions_kept and access rules {agent: glob, read: [scope patterns],
// write: [scope patterns]}.
static const char *const s_memory_keys[] = {"versions_kept", "rules", NULL};
static const char *const s_rule_keys[] = {"agent", "read", "write", NULL};

static orcs_status
s_check_patterns(s_check_t *c, json_t *rule, const char *key)
{
    json_t *list = NULL;
    orcs_status rc = s_check_list(c, rule, key, &list);
    for (size_t i = 0; rc == ORCS_OK && i < json_array_size(list); i++) {
        json_t *pattern = json_array_get(list, i);
        if (!json_is_string(pattern)
            || !orcs_memory_pattern_is_valid(json_string_value(pattern))) {
            char got[64];
            s_push_key(c, key);
            s_push_index(c, i);
            return s_fail(c, false,
                          "must be *, global, or workflow:, task:, agent: "
                          "or thread: and an id glob or self (got %s)",
                          s_got(got, sizeof got, pattern));
        }
    }
    return rc;
}

static orcs_status
s_check_rule(s_check_t *c, json_t *rule)
{
    if (!json_is_object(rule)) {
        char got[64];
        return s_fail(c, false, "must be a mapping (got %s)",
                      s_got(got, sizeof got, rule));
    }
    orcs_status rc = s_check_keys(c, rule, s_rule_keys);
    if (rc == ORCS_OK && !s_get(rule, "agent"))
        return s_fail(c, false, "missing required key 'agent'");
    if (rc == ORCS_OK)
        rc = s_check_string(c, rule, "agent", NULL, s_is_nonempty,
                            "an actor name or glob");
    if (rc == ORCS_OK)
        rc = s_check_patterns(c, rule, "read");
    if (rc == ORCS_OK)
        rc = s_check_patterns(c, rule, "write");
    return rc;
}

static orcs_status
s_check_memory(s_check_t *c, json_t *doc)
{
    json_t *memory = s_get(doc, "memory");
    if (!memory)
        return ORCS_OK; // optional: the defaults live in runtime/memory.c
    size_t saved = s_push_key(c, "memory");
    if (!json_is_object(memory)) {
        char got[64];
        return s_fail(c, false, "must be a mapping (got %s)",
                      s_got(got, sizeof got, memory));
    }
    json_t *rules = NULL;
    orcs_status rc = s_check_keys(c, memory, s_memory_keys);
    if (rc == ORCS_OK)
        rc = s_check_int(c, memory, "versions_kept", 1,
                         ORCS_MEMORY_VERSIONS_MAX, ORCS_MEMORY_VERSIONS, NULL);
    if (rc == ORCS_OK)
        rc = s_check_list(c, memory, "rules", &rules);
    if (rc == ORCS_OK && json_array_size(rules) > ORCS_MEMORY_RULES_MAX) {
        s_push_key(c, "rules");
        return s_fail(c, false, "at most %u rules (got %zu)",
                      ORCS_MEMORY_RULES_MAX, json_array_size(rules));
    }
    size_t at = s_push_key(c, "rules");
    for (size_t i = 0; rc == ORCS_OK && i < json_array_size(rules); i++) {
        size_t item = s_push_index(c, i);
        rc = s_check_rule(c, json_array_get(rules, i));
        if (rc == ORCS_OK)
            s_pop(c, item);
    }
    if (rc == ORCS_OK)
        s_pop(c, at);
    if (rc == ORCS_OK)
        s_pop(c, saved);
    return rc;
}

// models: providers by name (FORMATS.md "Node config", docs/agents.md).
// Keys and types are checked here; the model actor checks the rest.
static const char *const s_provider_keys[] = {"base_url",
                                              "api_key_env",
                                              "api_key_file",
                                              "model",
                                              "timeout_ms",
                                              "retries",
                                              "connect_timeout_ms",
                                              "idle_timeout_ms",
                                              "backoff_ms",
                                              "backoff_max_ms",
                                              "fallbacks",
                                              "rpm",
                                              "stream",
                                              "prices",
                                              "headers",
                                              "replay",
                                              "record",
                                              "fake",
                                              "burst",
                                              "events",
                                              NULL};
static const char *const s_provider_strings[] = {
    "base_url", "api_key_env", "api_key_file", "model", "replay",
    "record",   NULL};
static const char *const s_provider_ints[] = {"timeout_ms",
                                              "retries",
                                              "connect_timeout_ms",
                                              "idle_timeout_ms",
                                              "backoff_ms",
                                              "backoff_max_ms",
                                              "rpm",
                                              "burst",
                                              NULL};
static const char *const s_price_keys[] = {"input_per_mtok", "output_per_mtok",
                                           "cached_input_per_mtok", NULL};

static orcs_status
s_check_provider(s_check_t *c, json_t *provider)
{
    char got[64];
    if (!json_is_object(provider))
        return s_fail(c, false, "a model provider must be a mapping (got %s)",
                      s_got(got, sizeof got, provider));
    if (json_object_get(provider, "api_key")) {
        s_push_key(c, "api_key");
        return s_fail(c, true,
                      "never put an API key in the config: use api_key_env "
                      "(an environment variable) or api_key_file");
    }
    orcs_status rc = s_check_keys(c, provider, s_provider_keys);
    for (size_t i = 0; rc == ORCS_OK && s_provider_strings[i]; i++) {
        json_t *value = s_get(provider, s_provider_strings[i]);
        if (value && (!json_is_string(value) || !json_string_length(value))) {
            s_push_key(c, s_provider_strings[i]);
            return s_fail(c, false, "must be a non-empty string (got %s)",
                          s_got(got, sizeof got, value));
        }
    }
    for (size_t i = 0; rc == ORCS_OK && s_provider_ints[i]; i++) {
        json_t *value = s_get(provider, s_provider_ints[i]);
        if (value
            && (!json_is_integer(value) || json_integer_value(value) < 0)) {
            s_push_key(c, s_provider_ints[i]);
            return s_fail(c, false, "must be an integer >= 0 (got %s)",
                          s_got(got, sizeof got, value));
        }
    }
    json_t *value = NULL;
    static const char *const flags[] = {"stream", "events", NULL};
    for (size_t i = 0; rc == ORCS_OK && flags[i]; i++) {
        value = s_get(provider, flags[i]);
        if (value && !json_is_boolean(value)) {
            s_push_key(c, flags[i]);
            return s_fail(c, false, "must be true or false (got %s)",
                          s_got(got, sizeof got, value));
        }
    }
    value = s_get(provider, "prices");
    if (rc == ORCS_OK && value) {
        size_t saved = s_push_key(c, "prices");
        if (!json_is_object(value))
            return s_fail(c, false, "must be a mapping (got %s)",
                          s_got(got, sizeof got, value));
        rc = s_check_keys(c, value, s_price_keys);
        const char *key;
        json_t *price;
        json_object_foreach(value, key, price)
        {
            if (rc == ORCS_OK
                && (!json_is_number(price) || json_number_value(price) < 0)) {
                s_push_key(c, key);
                return s_fail(c, false, "must be a number >= 0 (got %s)",
                              s_got(got, sizeof got, price));
            }
        }
        if (rc == ORCS_OK)
            s_pop(c, saved);
    }
    static const char *const maps[] = {"headers", "fake", NULL};
    for (size_t i = 0; rc == ORCS_OK && maps[i]; i++) {
        value = s_get(provider, maps[i]);
        if (value && !json_is_object(value)) {
            s_push_key(c, maps[i]);
            return s_fail(c, false, "must be a mapping (got %s)",
                          s_got(got, sizeof got, value));
        }
    }
    value = s_get(provider, "fallbacks");
    if (rc == ORCS_OK && value && !json_is_array(value)) {
        s_push_key(c, "fallbacks");
        return s_fail(c, false, "must be a list of provider names (got %s)",
                      s_got(got, sizeof got, value));
    }
    if (rc == ORCS_OK && !s_get(provider, "base_url")
        && !s_get(provider, "replay") && !s_get(provider, "fake"))
        return s_fail(c, false, "a provider needs base_url, replay or fake");
    return rc;
}

static orcs_status
s_check_models(s_check_t *c, json_t *doc)
{
    json_t *models = NULL;
    orcs_status rc = s_check_mapping(c, doc, "models", &models);
    if (rc != ORCS_OK)
        return rc;
    size_t saved = s_push_key(c, "models");
    const char *name;
    json_t *provider;
    json_object_foreach(models, name, provider)
    {
        size_t at = s_push_key(c, name);
        if (!s_is_name(name))
            return s_fail(c, true, "a provider name must be %s", S_NAME_RULE);
        rc = s_check_provider(c, provider);
        if (rc != ORCS_OK)
            return rc;
        s_pop(c, at);
    }
    s_pop(c, saved);
    return ORCS_OK;
}

// toolexec: the tool runner's limits (docs/agents.md).
static const char *const s_toolexec_keys[] = {
    "concurrency", "offload_bytes", "preview_bytes", "http", "exec", NULL};
static const char *const s_http_keys[] = {"allow_hosts", "max_response_bytes",
                                          "timeout_ms", NULL};
static const char *const s_exec_keys[] = {
    "cpu_s",      "memory_mb", "processes", "files", "max_output_bytes",
    "timeout_ms", "network",   NULL};

static orcs_status
s_check_toolexec(s_check_t *c, json_t *doc)
{
    json_t *toolexec = NULL;
    orcs_status rc = s_check_mapping(c, doc, "toolexec", &toolexec);
    if (rc != ORCS_OK)
        return rc;
    size_t saved = s_push_key(c, "toolexec");
    rc = s_check_keys(c, toolexec, s_toolexec_keys);
    if (rc == ORCS_OK)
        rc = s_check_int(c, toolexec, "concurrency", 1, 100000, 256, NULL);
    if (rc == ORCS_OK)
        rc =
            s_check_int(c, toolexec, "offload_bytes", 64, 1 << 30, 16384, NULL);
    if (rc == ORCS_OK)
        rc = s_check_int(c, toolexec, "preview_bytes", 0, 1 << 20, 512, NULL);
    json_t *http = NULL;
    if (rc == ORCS_OK)
        rc = s_check_mapping(c, toolexec, "http", &http);
    if (rc == ORCS_OK) {
        size_t at = s_push_key(c, "http");
        rc = s_check_keys(c, http, s_http_keys);
        json_t *hosts = NULL;
        if (rc == ORCS_OK)
            rc = s_check_list(c, http, "allow_hosts", &hosts);
        for (size_t i = 0; rc == ORCS_OK && i < json_array_size(hosts); i++)
            if (!json_is_string(json_array_get(hosts, i))) {
                s_push_key(c, "allow_hosts");
                s_push_index(c, i);
                return s_fail(c, false, "must be a host name or address");
            }
        if (rc == ORCS_OK)
            rc = s_check_int(c, http, "max_response_bytes", 1, 1 << 30, 1 << 20,
                             NULL);
        if (rc == ORCS_OK)
            rc = s_check_int(c, http, "timeout_ms", 1, 3600000, 30000, NULL);
        if (rc == ORCS_OK)
            s_pop(c, at);
    }
    json_t *exec = NULL;
    if (rc == ORCS_OK)
        rc = s_check_mapping(c, toolexec, "exec", &exec);
    if (rc == ORCS_OK) {
        size_t at = s_push_key(c, "exec");
        rc = s_check_keys(c, exec, s_exec_keys);
        if (rc == ORCS_OK)
            rc = s_check_int(c, exec, "cpu_s", 1, 86400, 10, NULL);
        if (rc == ORCS_OK)
            rc = s_check_int(c, exec, "memory_mb", 16, 1 << 20, 512, NULL);
        if (rc == ORCS_OK)
            rc = s_check_int(c, exec, "processes", 1, 100000, 64, NULL);
        if (rc == ORCS_OK)
            rc = s_check_int(c, exec, "files", 8, 1 << 20, 256, NULL);
        if (rc == ORCS_OK)
            rc = s_check_int(c, exec, "max_output_bytes", 1, 1 << 30, 1 << 20,
                             NULL);
        if (rc == ORCS_OK)
            rc = s_check_int(c, exec, "timeout_ms", 1, 86400000, 30000, NULL);
        if (rc == ORCS_OK)
            rc = s_check_bool(c, exec, "network", false);
        if (rc == ORCS_OK)
            s_pop(c, at);
    }
    if (rc == ORCS_OK)
        s_pop(c, saved);
    return rc;
}

static orcs_status
s_check_tools(s_check_t *c, json_t *doc)
{
    json_t *tools = NULL;
    orcs_status rc = s_check_list(c, doc, "tools", &tools);
    if (rc != ORCS_OK)
        return rc;
    for (size_t i = 0; i < json_array_size(tools); i++) {
        json_t *tool = json_array_get(tools, i);
        if (!json_is_string(tool) || json_string_length(tool) == 0) {
            char got[64];
            s_push_key(c, "tools");
            s_push_index(c, i);
            return s_fail(c, false, "must be a directory path (got %s)",
                          s_got(got, sizeof got, tool));
        }
    }
    return ORCS_OK;
}

static orcs_status
s_check_doc(s_check_t *c, json_t *doc)
{
    if (!json_is_object(doc)) {
        char got[64];
        return s_fail(c, false, "a node config must be a mapping (got %s)",
                      s_got(got, sizeof got, doc));
    }
    json_t *supervisor = NULL;
    orcs_status rc = s_check_keys(c, doc, s_top_keys);
    if (rc == ORCS_OK)
        rc = s_check_string(c, doc, "node", "local", s_is_name, S_NAME_RULE);
    if (rc == ORCS_OK)
        rc = s_check_string(c, doc, "data", "./orcs-data", s_is_nonempty,
                            "a directory path");
    if (rc == ORCS_OK)
        rc = s_check_string(c, doc, "listen", NULL, s_is_endpoint,
                            "an endpoint such as tcp://127.0.0.1:7700");
    if (rc == ORCS_OK)
        rc = s_check_string(c, doc, "control", NULL, s_is_endpoint,
                            "an endpoint such as ipc:///tmp/orcs.ctl");
    if (rc == ORCS_OK)
        rc = s_check_models(c, doc);
    if (rc == ORCS_OK)
        rc = s_check_tools(c, doc);
    if (rc == ORCS_OK)
        rc = s_check_toolexec(c, doc);
    if (rc == ORCS_OK)
        rc = s_check_enum(c, doc, "log_level", s_log_levels, "warn",
                          S_LOG_LEVELS);
    if (rc == ORCS_OK)
        rc = s_check_limits(c, doc);
    if (rc == ORCS_OK)
        rc = s_check_store(c, doc);
    if (rc == ORCS_OK)
        rc = s_check_memory(c, doc);
    if (rc == ORCS_OK)
        rc = s_check_mapping(c, doc, "supervisor", &supervisor);
    if (rc == ORCS_OK) {
        s_push_key(c, "supervisor");
        rc = s_check_spec(c, supervisor, 1);
    }
    return rc;
}

// Checks doc (consumed) and on success makes *self_p of it.
static orcs_status
s_build(const orcs_yaml_t *yaml,
        json_t *doc,
        const char *dir,
        orcs_config_t **self_p,
        char *err,
        size_t err_size)
{
    s_check_t c = {yaml, err, err_size, NULL, 0, 0, json_object(), S_MAILBOX};
    orcs_status rc = s_check_doc(&c, doc);
    free(c.path);
    json_decref(c.names);
    if (rc != ORCS_OK) {
        json_decref(doc);
        return rc;
    }
    orcs_config_t *self = orcs_calloc(1, sizeof *self);
    self->doc = doc;
    self->dir = orcs_strdup(dir);
    *self_p = self;
    return ORCS_OK;
}

// The document of a parsed file, as a new reference; an empty file (null)
// becomes an empty mapping so that it means "all defaults".
static json_t *
s_take_doc(const orcs_yaml_t *yaml)
{
    json_t *doc = orcs_yaml_doc(yaml);
    return json_is_null(doc) ? json_object() : json_incref(doc);
}

// ---------------------------------------------------------------------------
// API

orcs_status
orcs_config_parse(const char *text,
                  size_t size,
                  const char *filename,
                  orcs_config_t **self_p,
                  char *err,
                  size_t err_size)
{
    orcs_assert(self_p);
    *self_p = NULL;
    orcs_yaml_t *yaml = NULL;
    orcs_status rc =
        orcs_yaml_parse(text, size, filename, &yaml, err, err_size);
    if (rc == ORCS_OK)
        rc = s_build(yaml, s_take_doc(yaml), ".", self_p, err, err_size);
    orcs_yaml_destroy(&yaml);
    return rc;
}

// Returns the directory part of path: "." when it has none.
static char *
s_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return orcs_strdup(".");
    while (slash > path && slash[-1] == '/')
        slash--;
    if (slash == path)
        return orcs_strdup("/");
    size_t n = (size_t) (slash - path);
    char *dir = orcs_malloc(n + 1);
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

orcs_status
orcs_config_load(const char *path,
                 orcs_config_t **self_p,
                 char *err,
                 size_t err_size)
{
    orcs_assert(path);
    orcs_assert(self_p);
    *self_p = NULL;
    orcs_yaml_t *yaml = NULL;
    orcs_status rc = orcs_yaml_load(path, &yaml, err, err_size);
    if (rc == ORCS_OK) {
        char *dir = s_dirname(path);
        rc = s_build(yaml, s_take_doc(yaml), dir, self_p, err, err_size);
        free(dir);
    }
    orcs_yaml_destroy(&yaml);
    return rc;
}

orcs_config_t *
orcs_config_new_default(void)
{
    orcs_config_t *self = NULL;
    char err[256];
    orcs_status rc = s_build(NULL, json_object(), ".", &self, err, sizeof err);
    if (rc != ORCS_OK)
        orcs_panic("default config refused: %s", err);
    return self;
}

void
orcs_config_destroy(orcs_config_t **self_p)
{
    orcs_assert(self_p);
    orcs_config_t *self = *self_p;
    if (!self)
        return;
    free(self->dir);
    json_decref(self->doc);
    free(self);
    *self_p = NULL;
}

json_t *
orcs_config_doc(const orcs_config_t *self)
{
    orcs_assert(self);
    return self->doc;
}

const char *
orcs_config_dir(const orcs_config_t *self)
{
    orcs_assert(self);
    return self->dir;
}

orcs_status
orcs_config_check_supervisor(const json_t *spec, char *err, size_t err_size)
{
    orcs_assert(spec);
    if (err_size > 0)
        err[0] = '\0';
    // Defaults are filled on a copy: spec is the caller's, and const.
    json_t *copy = json_deep_copy(spec);
    if (!copy)
        orcs_panic("out of memory copying a supervisor spec");
    s_check_t c = {NULL, err, err_size, NULL, 0, 0, json_object(), S_MAILBOX};
    orcs_status rc = s_check_spec(&c, copy, 1);
    free(c.path);
    json_decref(c.names);
    json_decref(copy);
    return rc;
}
