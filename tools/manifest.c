/*  manifest.c — tool manifests (FORMATS.md "Tool manifest"): parsing with
    the YAML loader and checking every key, with "file:line: key: what"
    messages as runtime/config.c gives them.
    SPDX-License-Identifier: MPL-2.0

    A null value counts as absent. Defaults are written into the document
    (input_schema, timeout_ms, retries, idempotent, needs_approval,
    cache_ttl_s, exec.stdin, http.method), except in a `kind: builtin`
    manifest, which holds only what it changes in the built-in. Nothing
    here touches the file system: plug-ins are opened by the registry. */
#include "orcs/tools.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/schema.h"
#include "orcs/sys.h"
#include "orcs/yaml.h"
#include "tools/tools_internal.h"

#define S_PATH_MAX 512 // bytes of a path in a message

#define S_NAME_RULE "1 to 64 of A-Z a-z 0-9 _ . -"
#define S_KINDS     "builtin, exec, http, mcp, plugin"
#define S_METHODS   "GET, POST, PUT, PATCH, DELETE, HEAD"

typedef struct {
    const orcs_yaml_t *yaml; // lines for messages; NULL for a C tool
    char *err;               // the caller's buffer
    size_t err_size;         // its size
    char path[S_PATH_MAX];   // path of the bad value, as yaml.h wants it
} s_check_t;

static const char *const s_top_keys[] = {
    "tool",         "description",   "kind",
    "input_schema", "output_schema", "timeout_ms",
    "retries",      "idempotent",    "needs_approval",
    "cache_ttl_s",  "exec",          "http",
    "mcp",          "plugin",        NULL};
static const char *const s_kinds[] = {"builtin", "exec",   "http",
                                      "mcp",     "plugin", NULL};
static const char *const s_sections[] = {"exec", "http", "mcp", "plugin", NULL};
static const char *const s_exec_keys[] = {"command", "env", "cwd", "stdin",
                                          NULL};
static const char *const s_http_keys[] = {"method", "url", "headers", NULL};
static const char *const s_mcp_keys[] = {"command", "url", NULL};
static const char *const s_methods[] = {"GET",    "POST", "PUT", "PATCH",
                                        "DELETE", "HEAD", NULL};
static const char *const s_stdins[] = {"json", "none", NULL};

// ---------------------------------------------------------------------------
// Paths and messages

// Sets the path to key (escaped as yaml.h says), under parent when given.
static void
s_at(s_check_t *c, const char *parent, const char *key)
{
    size_t n = 0;
    c->path[0] = '\0';
    if (parent) {
        n = (size_t) snprintf(c->path, sizeof c->path, "%s", parent);
        if (n >= sizeof c->path)
            return;
    }
    if (!key)
        return;
    if (n > 0 && n + 1 < sizeof c->path)
        c->path[n++] = '.';
    for (const char *s = key; *s && n + 3 < sizeof c->path; s++) {
        if (*s == '.' || *s == '[' || *s == '\\')
            c->path[n++] = '\\';
        c->path[n++] = *s;
    }
    c->path[n] = '\0';
}

static orcs_status s_fail(s_check_t *c, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// "FILE:LINE: PATH: what" (or "PATH: what" without YAML).
static orcs_status
s_fail(s_check_t *c, bool at_key, const char *fmt, ...)
{
    if (c->err_size == 0)
        return ORCS_EINVAL;
    int n = 0;
    if (c->yaml) {
        int line = at_key ? orcs_yaml_key_line(c->yaml, c->path)
                          : orcs_yaml_line(c->yaml, c->path);
        n = snprintf(c->err, c->err_size,
                     "%s:%d: ", orcs_yaml_filename(c->yaml), line);
    }
    if (n >= 0 && (size_t) n < c->err_size && c->path[0])
        n += snprintf(c->err + n, c->err_size - (size_t) n, "%s: ", c->path);
    if (n >= 0 && (size_t) n < c->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->err_size - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return ORCS_EINVAL;
}

// ---------------------------------------------------------------------------
// Values

// obj[key], treating a null as absent (and removing it).
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

static orcs_status
s_check_keys(s_check_t *c,
             const char *parent,
             json_t *obj,
             const char *const *allowed)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(obj, tmp, key, value)
    {
        if (json_is_null(value)) {
            json_object_del(obj, key);
            continue;
        }
        if (!s_is_one_of(key, allowed)) {
            s_at(c, parent, key);
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
            bool defaults)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        if (defaults)
            json_object_set_new(obj, key, json_integer(fallback));
        return ORCS_OK;
    }
    char got[64];
    if (!json_is_integer(value) || json_integer_value(value) < min
        || json_integer_value(value) > max) {
        s_at(c, NULL, key);
        return s_fail(c, false,
                      "must be an integer from %" JSON_INTEGER_FORMAT
                      " to %" JSON_INTEGER_FORMAT " (got %s)",
                      min, max, orcs__json_describe(got, sizeof got, value));
    }
    return ORCS_OK;
}

static orcs_status
s_check_bool(s_check_t *c, json_t *obj, const char *key, bool defaults)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        if (defaults)
            json_object_set_new(obj, key, json_false());
        return ORCS_OK;
    }
    if (!json_is_boolean(value)) {
        char got[64];
        s_at(c, NULL, key);
        return s_fail(c, false, "must be true or false (got %s)",
                      orcs__json_describe(got, sizeof got, value));
    }
    return ORCS_OK;
}

// A string under parent.key; required, or optional (may be absent).
static orcs_status
s_check_string(s_check_t *c,
               const char *parent,
               json_t *obj,
               const char *key,
               bool required,
               bool nonempty)
{
    json_t *value = s_get(obj, key);
    char got[64];
    if (!value) {
        if (!required)
            return ORCS_OK;
        s_at(c, parent, NULL);
        return s_fail(c, false, "missing required key '%s'", key);
    }
    if (!json_is_string(value) || (nonempty && json_string_length(value) == 0)
        || strlen(json_string_value(value)) != json_string_length(value)) {
        s_at(c, parent, key);
        return s_fail(c, false, "must be a %sstring (got %s)",
                      nonempty ? "non-empty " : "",
                      orcs__json_describe(got, sizeof got, value));
    }
    return ORCS_OK;
}

// A word of words under parent.key; fallback (may be NULL) when absent.
static orcs_status
s_check_enum(s_check_t *c,
             const char *parent,
             json_t *obj,
             const char *key,
             const char *const *words,
             const char *listed,
             const char *fallback)
{
    json_t *value = s_get(obj, key);
    if (!value) {
        if (fallback)
            json_object_set_new(obj, key, json_string(fallback));
        return ORCS_OK;
    }
    if (!json_is_string(value)
        || !s_is_one_of(json_string_value(value), words)) {
        char got[64];
        s_at(c, parent, key);
        return s_fail(c, false, "must be one of %s (got %s)", listed,
                      orcs__json_describe(got, sizeof got, value));
    }
    return ORCS_OK;
}

// A list of strings (at least one) under parent.key.
static orcs_status
s_check_argv(s_check_t *c, const char *parent, json_t *obj, const char *key)
{
    json_t *value = s_get(obj, key);
    s_at(c, parent, key);
    if (!json_is_array(value) || json_array_size(value) == 0) {
        char got[64];
        return s_fail(c, false, "must be a non-empty list of strings (got %s)",
                      value ? orcs__json_describe(got, sizeof got, value)
                            : "nothing");
    }
    size_t i;
    json_t *item;
    json_array_foreach(value, i, item)
    {
        if (!json_is_string(item) || (i == 0 && json_string_length(item) == 0)
            || strlen(json_string_value(item)) != json_string_length(item)) {
            char got[64];
            size_t n = strlen(c->path);
            snprintf(c->path + n, sizeof c->path - n, "[%zu]", i);
            return s_fail(c, false, "must be a%s string (got %s)",
                          i == 0 ? " non-empty" : "",
                          orcs__json_describe(got, sizeof got, item));
        }
    }
    return ORCS_OK;
}

// A mapping of strings to strings under parent.key (optional).
static orcs_status
s_check_string_map(s_check_t *c,
                   const char *parent,
                   json_t *obj,
                   const char *key)
{
    json_t *value = s_get(obj, key);
    if (!value)
        return ORCS_OK;
    char got[64];
    if (!json_is_object(value)) {
        s_at(c, parent, key);
        return s_fail(c, false, "must be a mapping of strings (got %s)",
                      orcs__json_describe(got, sizeof got, value));
    }
    const char *name;
    json_t *item;
    json_object_foreach(value, name, item)
    {
        if (!json_is_string(item)
            || strlen(json_string_value(item)) != json_string_length(item)) {
            char where[S_PATH_MAX];
            s_at(c, parent, key);
            snprintf(where, sizeof where, "%s", c->path);
            s_at(c, where, name);
            return s_fail(c, false, "must be a string (got %s)",
                          orcs__json_describe(got, sizeof got, item));
        }
    }
    return ORCS_OK;
}

static bool
s_is_tool_name(const char *s, size_t len)
{
    if (len < 1 || len > ORCS_TOOL_NAME_MAX || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
                  || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
                  || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static orcs_status
s_check_schema(s_check_t *c, json_t *doc, const char *key, bool is_input)
{
    json_t *schema = s_get(doc, key);
    if (!schema)
        return ORCS_OK;
    char where[S_PATH_MAX], msg[256];
    if (orcs__schema_check_at(schema, where, sizeof where, msg, sizeof msg)
        != ORCS_OK) {
        s_at(c, key, NULL);
        if (where[0]) {
            size_t n = strlen(c->path);
            snprintf(c->path + n, sizeof c->path - n, "%s%s",
                     where[0] == '[' ? "" : ".", where);
        }
        return s_fail(c, false, "%s", msg);
    }
    if (!is_input)
        return ORCS_OK;
    const json_t *type = json_object_get(schema, "type");
    if (!json_is_object(schema)
        || (type
            && (!json_is_string(type)
                || strcmp(json_string_value(type), "object") != 0))) {
        s_at(c, key, json_is_object(schema) ? "type" : NULL);
        return s_fail(c, false,
                      "a tool's arguments are an object: the schema must "
                      "have type object");
    }
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// The kind sections

static orcs_status
s_check_exec(s_check_t *c, json_t *section)
{
    orcs_status rc = s_check_keys(c, "exec", section, s_exec_keys);
    if (rc == ORCS_OK)
        rc = s_check_argv(c, "exec", section, "command");
    if (rc == ORCS_OK)
        rc = s_check_string_map(c, "exec", section, "env");
    if (rc == ORCS_OK)
        rc = s_check_string(c, "exec", section, "cwd", false, true);
    if (rc == ORCS_OK)
        rc = s_check_enum(c, "exec", section, "stdin", s_stdins, "json, none",
                          "json");
    return rc;
}

static orcs_status
s_check_http(s_check_t *c, json_t *section)
{
    orcs_status rc = s_check_keys(c, "http", section, s_http_keys);
    if (rc == ORCS_OK)
        rc = s_check_enum(c, "http", section, "method", s_methods, S_METHODS,
                          "GET");
    if (rc == ORCS_OK)
        rc = s_check_string(c, "http", section, "url", true, true);
    if (rc == ORCS_OK)
        rc = s_check_string_map(c, "http", section, "headers");
    return rc;
}

static orcs_status
s_check_mcp(s_check_t *c, json_t *section)
{
    orcs_status rc = s_check_keys(c, "mcp", section, s_mcp_keys);
    if (rc != ORCS_OK)
        return rc;
    bool has_command = s_get(section, "command") != NULL;
    bool has_url = s_get(section, "url") != NULL;
    if (has_command == has_url) {
        s_at(c, "mcp", NULL);
        return s_fail(c, false, "needs exactly one of 'command' or 'url'");
    }
    if (has_command)
        return s_check_argv(c, "mcp", section, "command");
    return s_check_string(c, "mcp", section, "url", true, true);
}

// The section of kind must be there (a mapping; plugin: a path) and no
// other kind's section may be.
static orcs_status
s_check_section(s_check_t *c, json_t *doc, const char *kind)
{
    for (size_t i = 0; s_sections[i]; i++) {
        if (strcmp(s_sections[i], kind) != 0 && s_get(doc, s_sections[i])) {
            s_at(c, NULL, s_sections[i]);
            return s_fail(c, true, "not allowed with kind %s", kind);
        }
    }
    if (!s_is_one_of(kind, s_sections))
        return ORCS_OK;
    json_t *section = s_get(doc, kind);
    if (!section) {
        s_at(c, NULL, NULL);
        return s_fail(c, false, "kind %s needs the key '%s'", kind, kind);
    }
    if (strcmp(kind, "plugin") == 0)
        return s_check_string(c, NULL, doc, "plugin", true, true);
    if (!json_is_object(section)) {
        char got[64];
        s_at(c, NULL, kind);
        return s_fail(c, false, "must be a mapping (got %s)",
                      orcs__json_describe(got, sizeof got, section));
    }
    if (strcmp(kind, "exec") == 0)
        return s_check_exec(c, section);
    if (strcmp(kind, "http") == 0)
        return s_check_http(c, section);
    return s_check_mcp(c, section);
}

// ---------------------------------------------------------------------------
// The whole manifest

static orcs_status
s_check_name(s_check_t *c, json_t *doc)
{
    json_t *name = s_get(doc, "tool");
    char got[64];
    if (!name) {
        s_at(c, NULL, NULL);
        return s_fail(c, false, "missing required key 'tool'");
    }
    if (!json_is_string(name)
        || !s_is_tool_name(json_string_value(name), json_string_length(name))) {
        s_at(c, NULL, "tool");
        return s_fail(c, false, "must be %s (got %s)", S_NAME_RULE,
                      orcs__json_describe(got, sizeof got, name));
    }
    return ORCS_OK;
}

// kind is "c" for a C tool (no kind key, no section).
static orcs_status
s_check_doc(s_check_t *c, json_t *doc, bool c_tool)
{
    char got[64];
    c->path[0] = '\0';
    if (!json_is_object(doc))
        return s_fail(c, false, "a manifest must be a mapping (got %s)",
                      orcs__json_describe(got, sizeof got, doc));
    orcs_status rc = s_check_keys(c, NULL, doc, s_top_keys);
    if (rc == ORCS_OK)
        rc = s_check_name(c, doc);
    if (rc != ORCS_OK)
        return rc;
    const char *kind = "c";
    if (!c_tool) {
        json_t *value = s_get(doc, "kind");
        if (!value) {
            s_at(c, NULL, NULL);
            return s_fail(c, false, "missing required key 'kind' (one of %s)",
                          S_KINDS);
        }
        rc = s_check_enum(c, NULL, doc, "kind", s_kinds, S_KINDS, NULL);
        if (rc != ORCS_OK)
            return rc;
        kind = json_string_value(value);
    } else if (s_get(doc, "kind")) {
        json_t *value = json_object_get(doc, "kind");
        if (!json_is_string(value) || strcmp(json_string_value(value), "c")) {
            s_at(c, NULL, "kind");
            return s_fail(c, false, "must be c for a C tool (got %s)",
                          orcs__json_describe(got, sizeof got, value));
        }
    }
    bool builtin = strcmp(kind, "builtin") == 0;
    if (builtin) {
        const char *name = json_string_value(json_object_get(doc, "tool"));
        if (!orcs__tool_builtin_find(name)) {
            s_at(c, NULL, "tool");
            return s_fail(c, false,
                          "'%s' is not a built-in (memory.get, memory.put, "
                          "memory.list, http.request, exec)",
                          name);
        }
        if (s_get(doc, "input_schema")) {
            s_at(c, NULL, "input_schema");
            return s_fail(c, true,
                          "a built-in's input schema cannot be changed");
        }
    }
    bool defaults = !builtin;
    rc = s_check_string(c, NULL, doc, "description", false, false);
    if (rc == ORCS_OK)
        rc = s_check_schema(c, doc, "input_schema", true);
    if (rc == ORCS_OK)
        rc = s_check_schema(c, doc, "output_schema", false);
    if (rc == ORCS_OK)
        rc = s_check_int(c, doc, "timeout_ms", 1, 86400000, 30000, defaults);
    if (rc == ORCS_OK)
        rc = s_check_int(c, doc, "retries", 0, 100, 0, defaults);
    if (rc == ORCS_OK)
        rc = s_check_bool(c, doc, "idempotent", defaults);
    if (rc == ORCS_OK)
        rc = s_check_bool(c, doc, "needs_approval", defaults);
    if (rc == ORCS_OK)
        rc = s_check_int(c, doc, "cache_ttl_s", 0, 31536000, 0, defaults);
    if (rc == ORCS_OK)
        rc = s_check_section(c, doc, kind);
    if (rc == ORCS_OK && defaults && !json_object_get(doc, "input_schema"))
        json_object_set_new(doc, "input_schema",
                            json_pack("{s:s}", "type", "object"));
    if (rc == ORCS_OK && c_tool)
        json_object_set_new(doc, "kind", json_string("c"));
    return rc;
}

orcs_status
orcs__tool_manifest_check_c(json_t *doc, char *err, size_t err_size)
{
    s_check_t c = {.yaml = NULL, .err = err, .err_size = err_size};
    if (err_size > 0)
        err[0] = '\0';
    return s_check_doc(&c, doc, true);
}

orcs_status
orcs__tool_manifest_parse(const char *text,
                          size_t size,
                          const char *filename,
                          json_t **manifest_p,
                          orcs_yaml_t **yaml_p,
                          char *err,
                          size_t err_size)
{
    orcs_assert(manifest_p);
    *manifest_p = NULL;
    if (yaml_p)
        *yaml_p = NULL;
    if (err_size > 0)
        err[0] = '\0';
    if (!filename)
        filename = "<text>";
    if (size > ORCS_TOOL_MANIFEST_MAX) {
        if (err_size > 0)
            snprintf(err, err_size, "%s:1: manifest is over %u bytes", filename,
                     ORCS_TOOL_MANIFEST_MAX);
        return ORCS_ETOOBIG;
    }
    if (!text && size > 0) {
        if (err_size > 0)
            snprintf(err, err_size, "%s:1: no text", filename);
        return ORCS_EINVAL;
    }
    orcs_yaml_t *yaml = NULL;
    orcs_status rc =
        orcs_yaml_parse(text ? text : "", size, filename, &yaml, err, err_size);
    if (rc != ORCS_OK)
        return rc == ORCS_ETOOBIG ? ORCS_ETOOBIG : ORCS_EINVAL;
    json_t *doc = json_incref(orcs_yaml_doc(yaml));
    s_check_t c = {.yaml = yaml, .err = err, .err_size = err_size};
    rc = s_check_doc(&c, doc, false);
    if (rc != ORCS_OK) {
        json_decref(doc);
        orcs_yaml_destroy(&yaml);
        return rc;
    }
    *manifest_p = doc;
    if (yaml_p)
        *yaml_p = yaml;
    else
        orcs_yaml_destroy(&yaml);
    return ORCS_OK;
}

orcs_status
orcs_tool_manifest_parse(const char *text,
                         size_t size,
                         const char *filename,
                         json_t **manifest_p,
                         char *err,
                         size_t err_size)
{
    return orcs__tool_manifest_parse(text, size, filename, manifest_p, NULL,
                                     err, err_size);
}
