/*  actors/agent/agent_file.c — agent files: load, check, fill defaults.
    SPDX-License-Identifier: MPL-2.0

    Keys (FORMATS.md "Agent"; config/schemas/agent.schema.json): agent,
    description, model, fallbacks, instructions, tools, subagents,
    max_steps, output_schema, stream, temperature, options, budget. An
    unknown key or a bad value is refused with file:line. */
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "orcs/agent.h"
#include "orcs/schema.h"
#include "orcs/sys.h"
#include "orcs/yaml.h"

#define S_MAX_STEPS_MAX 100000

static const char *const s_keys[] = {
    "agent",         "description", "model",       "fallbacks",
    "instructions",  "tools",       "subagents",   "max_steps",
    "output_schema", "stream",      "temperature", "options",
    "budget",        NULL};
static const char *const s_budget_keys[] = {"max_tokens", "max_cost",
                                            "max_requests", NULL};

typedef struct {
    const orcs_yaml_t *yaml; // for lines; NULL without a file
    const char *filename;    // for messages
    char *err;
    size_t err_size;
} s_check_t;

static orcs_status
s_fail(s_check_t *c, const char *path, bool at_key, const char *fmt, ...)
{
    if (c->err_size == 0)
        return ORCS_EINVAL;
    int line = 0;
    if (c->yaml)
        line = at_key ? orcs_yaml_key_line(c->yaml, path)
                      : orcs_yaml_line(c->yaml, path);
    int n = snprintf(c->err, c->err_size, "%s:%d: %s%s", c->filename, line,
                     path, *path ? ": " : "");
    if (n >= 0 && (size_t) n < c->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->err_size - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return ORCS_EINVAL;
}

static bool
s_one_of(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

static bool
s_is_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'
              || *s == '-'))
            return false;
    return true;
}

static orcs_status
s_string_list(s_check_t *c, json_t *doc, const char *key)
{
    json_t *list = json_object_get(doc, key);
    if (!list || json_is_null(list)) {
        json_object_set_new(doc, key, json_array());
        return ORCS_OK;
    }
    if (!json_is_array(list))
        return s_fail(c, key, false, "must be a list of strings");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_array_get(list, i);
        if (!json_is_string(item) || json_string_length(item) == 0) {
            char path[64];
            snprintf(path, sizeof path, "%s[%zu]", key, i);
            return s_fail(c, path, false, "must be a non-empty string");
        }
    }
    return ORCS_OK;
}

static orcs_status
s_budget(s_check_t *c, json_t *doc)
{
    json_t *budget = json_object_get(doc, "budget");
    if (!budget || json_is_null(budget)) {
        json_object_del(doc, "budget");
        return ORCS_OK;
    }
    if (!json_is_object(budget))
        return s_fail(c, "budget", false, "must be a mapping");
    const char *key;
    json_t *value;
    json_object_foreach(budget, key, value)
    {
        char path[128];
        snprintf(path, sizeof path, "budget.%s", key);
        if (!s_one_of(key, s_budget_keys))
            return s_fail(c, path, true,
                          "unknown key (max_tokens, max_cost, max_requests)");
        if (!json_is_number(value) || json_number_value(value) < 0
            || (strcmp(key, "max_cost") != 0 && !json_is_integer(value)))
            return s_fail(c, path, false, "must be a %s >= 0",
                          strcmp(key, "max_cost") == 0 ? "number" : "integer");
    }
    return ORCS_OK;
}

// Makes relative sub-agent paths absolute from base_dir.
static void
s_resolve(json_t *doc, const char *base_dir)
{
    json_t *list = json_object_get(doc, "subagents");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *path = json_string_value(json_array_get(list, i));
        if (path[0] == '/' || !base_dir)
            continue;
        char joined[PATH_MAX];
        snprintf(joined, sizeof joined, "%s/%s", base_dir, path);
        json_array_set_new(list, i, json_string(joined));
    }
}

static orcs_status
s_check(s_check_t *c, json_t *doc)
{
    if (!json_is_object(doc))
        return s_fail(c, "", false, "an agent file must be a mapping");
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        if (!s_one_of(key, s_keys))
            return s_fail(c, key, true, "unknown key");
    }
    json_t *name = json_object_get(doc, "agent");
    if (!json_is_string(name) || !s_is_name(json_string_value(name)))
        return s_fail(c, "agent", !name,
                      name ? "must be a name of [A-Za-z0-9_.-]{1,63}"
                           : "missing key 'agent' (the agent's name)");
    static const char *const strings[] = {"description", "model",
                                          "instructions", NULL};
    static const char *const fallback[] = {"", "default", ""};
    for (size_t i = 0; strings[i]; i++) {
        value = json_object_get(doc, strings[i]);
        if (!value || json_is_null(value))
            json_object_set_new(doc, strings[i], json_string(fallback[i]));
        else if (!json_is_string(value))
            return s_fail(c, strings[i], false, "must be a string");
    }
    if (json_string_length(json_object_get(doc, "model")) == 0)
        return s_fail(c, "model", false, "must name a provider");
    orcs_status rc = s_string_list(c, doc, "fallbacks");
    if (rc == ORCS_OK)
        rc = s_string_list(c, doc, "tools");
    if (rc == ORCS_OK)
        rc = s_string_list(c, doc, "subagents");
    if (rc != ORCS_OK)
        return rc;
    value = json_object_get(doc, "max_steps");
    if (!value || json_is_null(value))
        json_object_set_new(doc, "max_steps", json_integer(12));
    else if (!json_is_integer(value) || json_integer_value(value) < 1
             || json_integer_value(value) > S_MAX_STEPS_MAX)
        return s_fail(c, "max_steps", false, "must be an integer from 1 to %d",
                      S_MAX_STEPS_MAX);
    value = json_object_get(doc, "stream");
    if (!value || json_is_null(value))
        json_object_set_new(doc, "stream", json_false());
    else if (!json_is_boolean(value))
        return s_fail(c, "stream", false, "must be true or false");
    value = json_object_get(doc, "temperature");
    if (value && !json_is_null(value)
        && (!json_is_number(value) || json_number_value(value) < 0
            || json_number_value(value) > 2))
        return s_fail(c, "temperature", false, "must be a number from 0 to 2");
    value = json_object_get(doc, "options");
    if (value && !json_is_null(value) && !json_is_object(value))
        return s_fail(c, "options", false, "must be a mapping");
    value = json_object_get(doc, "output_schema");
    if (value && !json_is_null(value)) {
        char why[256];
        if (!json_is_object(value)
            || orcs_schema_check(value, why, sizeof why) != ORCS_OK)
            return s_fail(c, "output_schema", false, "%s",
                          json_is_object(value) ? why : "must be a mapping");
    } else
        json_object_del(doc, "output_schema");
    return s_budget(c, doc);
}

orcs_status
orcs_agent_parse(const char *text,
                 size_t size,
                 const char *filename,
                 const char *base_dir,
                 json_t **agent_p,
                 char *err,
                 size_t err_size)
{
    *agent_p = NULL;
    if (err_size)
        err[0] = 0;
    const char *name = filename ? filename : "<text>";
    if (size > ORCS_AGENT_FILE_MAX) {
        snprintf(err, err_size, "%s: agent file over %u bytes", name,
                 ORCS_AGENT_FILE_MAX);
        return ORCS_ETOOBIG;
    }
    orcs_yaml_t *yaml = NULL;
    orcs_status rc = orcs_yaml_parse(text, size, name, &yaml, err, err_size);
    if (rc != ORCS_OK)
        return rc == ORCS_ETOOBIG ? rc : ORCS_EINVAL;
    json_t *doc = json_incref(orcs_yaml_doc(yaml));
    s_check_t c = {yaml, name, err, err_size};
    rc = s_check(&c, doc);
    orcs_yaml_destroy(&yaml);
    if (rc != ORCS_OK) {
        json_decref(doc);
        return rc;
    }
    s_resolve(doc, base_dir);
    *agent_p = doc;
    return ORCS_OK;
}

orcs_status
orcs_agent_load(const char *path, json_t **agent_p, char *err, size_t err_size)
{
    *agent_p = NULL;
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(err, err_size, "%s: cannot open agent file", path);
        return ORCS_ENOTFOUND;
    }
    char *text = orcs_malloc(ORCS_AGENT_FILE_MAX + 1);
    size_t size = fread(text, 1, ORCS_AGENT_FILE_MAX + 1, file);
    bool failed = ferror(file) != 0;
    fclose(file);
    orcs_status rc = ORCS_EIO;
    if (failed)
        snprintf(err, err_size, "%s: cannot read agent file", path);
    else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        rc = orcs_agent_parse(text, size, path, dirname(dir), agent_p, err,
                              err_size);
    }
    free(text);
    return rc;
}
