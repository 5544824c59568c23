/*  config.c — the toolexec actor's config (docs/agents.md): defaults,
    ranges, and a clear message for anything else.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>
#include <string.h>

#include "actors/toolexec/toolexec_internal.h"
#include "orcs/artifact.h"

typedef struct {
    const char *key; // name in its section
    int64_t min;     // smallest accepted
    int64_t max;     // largest accepted
    int64_t def;     // default
} s_int_key_t;

// Top level, then http, then exec; the order of the fields below. The
// same ranges and defaults as the node config check (runtime/config.c).
static const s_int_key_t s_top[] = {
    {"concurrency", 1, 100000, 256},
    {"offload_bytes", 64, 1 << 30, 16384},
    {"preview_bytes", 0, 1 << 20, 512},
};
static const s_int_key_t s_http[] = {
    {"max_response_bytes", 1, 1 << 30, 1 << 20},
    {"timeout_ms", 1, 3600000, 30000},
};
static const s_int_key_t s_exec[] = {
    {"cpu_s", 1, 86400, 10},
    {"memory_mb", 16, 1 << 20, 512},
    {"processes", 1, 100000, 64},
    {"files", 8, 1 << 20, 256},
    {"max_output_bytes", 1, 1 << 30, 1 << 20},
    {"timeout_ms", 1, 86400000, 30000},
};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

// Checks that every key of section is one of keys (NULL-terminated).
static orcs_status
s_known_keys(const json_t *section,
             const char *where,
             const char *const *keys,
             char *err,
             size_t err_size)
{
    const char *name;
    json_t *value;
    json_object_foreach((json_t *) section, name, value)
    {
        (void) value;
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++)
            known = strcmp(keys[i], name) == 0;
        if (!known) {
            snprintf(err, err_size, "%s.%s: unknown key", where, name);
            return ORCS_ECONFIG;
        }
    }
    return ORCS_OK;
}

// Reads the integer keys of section into values (defaults when absent).
static orcs_status
s_ints(const json_t *section,
       const char *where,
       const s_int_key_t *keys,
       size_t count,
       int64_t *values,
       char *err,
       size_t err_size)
{
    for (size_t i = 0; i < count; i++) {
        const json_t *value = json_object_get(section, keys[i].key);
        values[i] = keys[i].def;
        if (!value || json_is_null(value))
            continue;
        if (!json_is_integer(value) || json_integer_value(value) < keys[i].min
            || json_integer_value(value) > keys[i].max) {
            snprintf(err, err_size,
                     "%s.%s: expected an integer from %lld to %lld", where,
                     keys[i].key, (long long) keys[i].min,
                     (long long) keys[i].max);
            return ORCS_ECONFIG;
        }
        values[i] = json_integer_value(value);
    }
    return ORCS_OK;
}

// A section that must be an object when present.
static orcs_status
s_section(const json_t *doc,
          const char *name,
          const json_t **section_p,
          char *err,
          size_t err_size)
{
    const json_t *section = json_object_get(doc, name);
    *section_p = NULL;
    if (!section || json_is_null(section))
        return ORCS_OK;
    if (!json_is_object(section)) {
        snprintf(err, err_size, "toolexec.%s: expected a mapping", name);
        return ORCS_ECONFIG;
    }
    *section_p = section;
    return ORCS_OK;
}

static orcs_status
s_allow_hosts(const json_t *http, json_t **hosts_p, char *err, size_t err_size)
{
    const json_t *hosts = json_object_get(http, "allow_hosts");
    *hosts_p = NULL;
    if (!hosts || json_is_null(hosts)) {
        *hosts_p = json_array();
        return ORCS_OK;
    }
    bool ok = json_is_array(hosts);
    for (size_t i = 0; ok && i < json_array_size(hosts); i++) {
        const char *host = json_string_value(json_array_get(hosts, i));
        ok = host && *host && strlen(host) < 256 && !strpbrk(host, "/ \t");
    }
    if (!ok) {
        snprintf(err, err_size,
                 "toolexec.http.allow_hosts: expected a list "
                 "of host names or IPs (\"*\" = any host)");
        return ORCS_ECONFIG;
    }
    *hosts_p = json_deep_copy(hosts);
    return ORCS_OK;
}

orcs_status
orcs__toolexec_config_parse(const json_t *doc,
                            orcs__toolexec_config_t *config,
                            char *err,
                            size_t err_size)
{
    static const char *const top_keys[] = {
        "concurrency", "offload_bytes", "preview_bytes", "http", "exec", NULL};
    static const char *const http_keys[] = {"allow_hosts", "max_response_bytes",
                                            "timeout_ms", NULL};
    static const char *const exec_keys[] = {
        "cpu_s",      "memory_mb", "processes", "files", "max_output_bytes",
        "timeout_ms", "network",   NULL};
    memset(config, 0, sizeof *config);
    if (doc && !json_is_null(doc) && !json_is_object(doc)) {
        snprintf(err, err_size, "toolexec: expected a mapping");
        return ORCS_ECONFIG;
    }
    const json_t *http = NULL, *exec = NULL;
    int64_t top[S_COUNT(s_top)], h[S_COUNT(s_http)], e[S_COUNT(s_exec)];
    orcs_status rc = s_known_keys(doc, "toolexec", top_keys, err, err_size);
    if (rc == ORCS_OK)
        rc = s_section(doc, "http", &http, err, err_size);
    if (rc == ORCS_OK)
        rc = s_section(doc, "exec", &exec, err, err_size);
    if (rc == ORCS_OK)
        rc = s_known_keys(http, "toolexec.http", http_keys, err, err_size);
    if (rc == ORCS_OK)
        rc = s_known_keys(exec, "toolexec.exec", exec_keys, err, err_size);
    if (rc == ORCS_OK)
        rc = s_ints(doc, "toolexec", s_top, S_COUNT(s_top), top, err, err_size);
    if (rc == ORCS_OK)
        rc = s_ints(http, "toolexec.http", s_http, S_COUNT(s_http), h, err,
                    err_size);
    if (rc == ORCS_OK)
        rc = s_ints(exec, "toolexec.exec", s_exec, S_COUNT(s_exec), e, err,
                    err_size);
    const json_t *network = json_object_get(exec, "network");
    if (rc == ORCS_OK && network && !json_is_null(network)
        && !json_is_boolean(network)) {
        snprintf(err, err_size,
                 "toolexec.exec.network: expected true or "
                 "false");
        rc = ORCS_ECONFIG;
    }
    if (rc == ORCS_OK)
        rc = s_allow_hosts(http, &config->allow_hosts, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    config->concurrency = (int) top[0];
    config->offload_bytes = (size_t) top[1];
    config->preview_bytes = (size_t) top[2];
    config->max_response_bytes = (size_t) h[0];
    config->http_timeout_ms = (int) h[1];
    config->cpu_s = (int) e[0];
    config->memory_mb = (int) e[1];
    config->processes = (int) e[2];
    config->files = (int) e[3];
    config->max_output_bytes = (size_t) e[4];
    config->exec_timeout_ms = (int) e[5];
    config->network = json_is_true(network);
    return ORCS_OK;
}

void
orcs__toolexec_config_clear(orcs__toolexec_config_t *config)
{
    json_decref(config->allow_hosts);
    config->allow_hosts = NULL;
}
