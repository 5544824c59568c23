/*  actors/model/model_config.c — the model actor's providers: read from the
    `models` map (the actor config's, else the node config's), checked key
    by key (unknown keys and bad types are errors), with the environment's
    default provider (FORMATS.md "Node config") and API keys from the
    environment or a file. A key written in the config itself is refused:
    configs get committed and shared.
    SPDX-License-Identifier: MPL-2.0 */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/model/model_internal.h"
#include "internal.h"

#define S_DEFAULT_URL   "https://api.openai.com/v1" // env default, no URL
#define S_DEFAULT_MODEL "gpt-4o-mini"               // env default, no model

static const char *const s_keys[] = {"base_url",
                                     "api_key_env",
                                     "api_key_file",
                                     "api_key",
                                     "model",
                                     "timeout_ms",
                                     "connect_timeout_ms",
                                     "idle_timeout_ms",
                                     "retries",
                                     "backoff_ms",
                                     "backoff_max_ms",
                                     "fallbacks",
                                     "rpm",
                                     "burst",
                                     "stream",
                                     "prices",
                                     "headers",
                                     "replay",
                                     "record",
                                     "fake",
                                     "events",
                                     NULL};

static const char *const s_price_keys[] = {"input_per_mtok", "output_per_mtok",
                                           "cached_input_per_mtok", NULL};

// Writes "models.NAME.KEY: what" into err; returns ORCS_ECONFIG.
static orcs_status s_fail(char *err,
                          size_t err_size,
                          const char *name,
                          const char *key,
                          const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));

static orcs_status
s_fail(char *err,
       size_t err_size,
       const char *name,
       const char *key,
       const char *fmt,
       ...)
{
    int n = snprintf(err, err_size, "models.%s%s%s: ", name, key ? "." : "",
                     key ? key : "");
    if (n >= 0 && (size_t) n < err_size) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(err + n, err_size - (size_t) n, fmt, args);
        va_end(args);
    }
    return ORCS_ECONFIG;
}

static const char *
s_type(const json_t *value)
{
    switch (json_typeof(value)) {
        case JSON_OBJECT:
            return "a mapping";
        case JSON_ARRAY:
            return "a list";
        case JSON_STRING:
            return "a string";
        case JSON_INTEGER:
            return "an integer";
        case JSON_REAL:
            return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "a boolean";
        default:
            return "null";
    }
}

static bool
s_known(const char *const *keys, const char *key)
{
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

// A text without control characters (header injection) of 1..max bytes.
static bool
s_is_clean(const char *text, size_t max)
{
    size_t size = strlen(text);
    if (size == 0 || size > max)
        return false;
    for (size_t i = 0; i < size; i++)
        if ((unsigned char) text[i] < 0x20 || text[i] == 0x7f)
            return false;
    return true;
}

// Reads an optional string member into *out (borrowed).
static orcs_status
s_string(const json_t *spec,
         const char *name,
         const char *key,
         const char **out,
         char *err,
         size_t err_size)
{
    json_t *value = json_object_get(spec, key);
    if (!value)
        return ORCS_OK;
    if (!json_is_string(value) || !s_is_clean(json_string_value(value), 4096))
        return s_fail(err, err_size, name, key,
                      "must be a non-empty one-line string (got %s)",
                      s_type(value));
    *out = json_string_value(value);
    return ORCS_OK;
}

// Reads an optional integer member in [min, max] into *out.
static orcs_status
s_int(const json_t *spec,
      const char *name,
      const char *key,
      json_int_t min,
      json_int_t max,
      int *out,
      char *err,
      size_t err_size)
{
    json_t *value = json_object_get(spec, key);
    if (!value)
        return ORCS_OK;
    if (!json_is_integer(value) || json_integer_value(value) < min
        || json_integer_value(value) > max)
        return s_fail(err, err_size, name, key,
                      "must be an integer from %lld to %lld (got %s)",
                      (long long) min, (long long) max, s_type(value));
    *out = (int) json_integer_value(value);
    return ORCS_OK;
}

// Reads an optional number >= 0 into *out.
static orcs_status
s_number(const json_t *spec,
         const char *name,
         const char *key,
         double *out,
         char *err,
         size_t err_size)
{
    json_t *value = json_object_get(spec, key);
    if (!value)
        return ORCS_OK;
    if (!json_is_number(value) || json_number_value(value) < 0)
        return s_fail(err, err_size, name, key,
                      "must be a number >= 0 (got %s)", s_type(value));
    *out = json_number_value(value);
    return ORCS_OK;
}

// A path relative to the config directory. Caller owns the result.
static char *
s_path(const orcs__model_t *self, const char *path)
{
    if (path[0] == '/' || !self->config_dir)
        return orcs_strdup(path);
    size_t size = strlen(self->config_dir) + strlen(path) + 2;
    char *out = orcs_malloc(size);
    snprintf(out, size, "%s/%s", self->config_dir, path);
    return out;
}

// The first line of a key file, trimmed, into key (ORCS__MODEL_KEY_MAX+1).
static bool
s_read_key_file(const char *path, char *key, char *why, size_t why_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_size, "cannot open api_key_file %s", path);
        return false;
    }
    ssize_t n = read(fd, key, ORCS__MODEL_KEY_MAX);
    close(fd);
    key[n > 0 ? n : 0] = 0;
    key[strcspn(key, "\r\n")] = 0;
    char *start = key;
    while (isspace((unsigned char) *start))
        start++;
    size_t size = strlen(start);
    while (size > 0 && isspace((unsigned char) start[size - 1]))
        size--;
    memmove(key, start, size);
    key[size] = 0;
    if (size == 0) {
        snprintf(why, why_size, "api_key_file %s is empty", path);
        return false;
    }
    return true;
}

// Adds "Authorization: Bearer KEY" (never logged) to the headers.
static void
s_add_key(orcs__model_provider_t *provider, const char *key)
{
    if (!s_is_clean(key, ORCS__MODEL_KEY_MAX)) {
        snprintf(provider->key_error, sizeof provider->key_error,
                 "provider %s: the API key is empty or has control "
                 "characters",
                 provider->name);
        return;
    }
    size_t size = strlen(key) + 32;
    char *line = orcs_malloc(size);
    snprintf(line, size, "Authorization: Bearer %s", key);
    provider->headers = curl_slist_append(provider->headers, line);
    explicit_bzero(line, size);
    free(line);
}

// api_key_env / api_key_file: a missing key makes calls fail with
// ECONFIG, not the start (the provider may never be used).
static orcs_status
s_load_key(orcs__model_t *self,
           orcs__model_provider_t *provider,
           const json_t *spec,
           char *err,
           size_t err_size)
{
    const char *name = provider->name;
    if (json_object_get(spec, "api_key"))
        return s_fail(err, err_size, name, "api_key",
                      "a key in the config is refused: put it in an "
                      "environment variable and name it in api_key_env "
                      "(or use api_key_file)");
    const char *env = NULL, *file = NULL;
    orcs_status rc = s_string(spec, name, "api_key_env", &env, err, err_size);
    if (rc == ORCS_OK)
        rc = s_string(spec, name, "api_key_file", &file, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    if (env && file)
        return s_fail(err, err_size, name, "api_key_file",
                      "give api_key_env or api_key_file, not both");
    if (env) {
        const char *key = getenv(env);
        if (key && key[0])
            s_add_key(provider, key);
        else
            snprintf(provider->key_error, sizeof provider->key_error,
                     "provider %s: environment variable %s is not set", name,
                     env);
    } else if (file) {
        char *path = s_path(self, file);
        char *key = orcs_malloc(ORCS__MODEL_KEY_MAX + 1);
        char why[sizeof provider->key_error - 32];
        if (s_read_key_file(path, key, why, sizeof why))
            s_add_key(provider, key);
        else
            snprintf(provider->key_error, sizeof provider->key_error,
                     "provider %s: %s", name, why);
        explicit_bzero(key, ORCS__MODEL_KEY_MAX + 1);
        free(key);
        free(path);
    }
    return ORCS_OK;
}

static orcs_status
s_load_prices(orcs__model_provider_t *provider,
              const json_t *spec,
              char *err,
              size_t err_size)
{
    json_t *prices = json_object_get(spec, "prices");
    if (!prices)
        return ORCS_OK;
    const char *name = provider->name;
    if (!json_is_object(prices))
        return s_fail(err, err_size, name, "prices",
                      "must be a mapping (got %s)", s_type(prices));
    const char *key;
    json_t *value;
    json_object_foreach(prices, key, value)
    {
        if (!s_known(s_price_keys, key))
            return s_fail(err, err_size, name, "prices",
                          "unknown key %s (known: input_per_mtok, "
                          "output_per_mtok, cached_input_per_mtok)",
                          key);
    }
    char where[64];
    snprintf(where, sizeof where, "%.40s.prices", name);
    orcs_status rc = s_number(prices, where, "input_per_mtok",
                              &provider->price_input, err, err_size);
    if (rc == ORCS_OK)
        rc = s_number(prices, where, "output_per_mtok", &provider->price_output,
                      err, err_size);
    if (rc == ORCS_OK && json_object_get(prices, "cached_input_per_mtok")) {
        rc = s_number(prices, where, "cached_input_per_mtok",
                      &provider->price_cached, err, err_size);
        provider->has_cached_price = true;
    }
    return rc;
}

static orcs_status
s_load_headers(orcs__model_provider_t *provider,
               const json_t *spec,
               char *err,
               size_t err_size)
{
    // No "Expect: 100-continue": it costs a round trip (or a second).
    provider->headers =
        curl_slist_append(provider->headers, "Content-Type: application/json");
    provider->headers = curl_slist_append(provider->headers, "Expect:");
    json_t *headers = json_object_get(spec, "headers");
    if (!headers)
        return ORCS_OK;
    if (!json_is_object(headers))
        return s_fail(err, err_size, provider->name, "headers",
                      "must be a mapping of header names to strings (got %s)",
                      s_type(headers));
    const char *key;
    json_t *value;
    json_object_foreach(headers, key, value)
    {
        bool name_ok = s_is_clean(key, 256) && !strpbrk(key, ": ");
        if (!name_ok || !json_is_string(value)
            || !s_is_clean(json_string_value(value), 4096))
            return s_fail(err, err_size, provider->name, "headers",
                          "%.64s must be a header name with a one-line "
                          "string value",
                          key);
        size_t size = strlen(key) + json_string_length(value) + 3;
        char *line = orcs_malloc(size);
        snprintf(line, size, "%s: %s", key, json_string_value(value));
        provider->headers = curl_slist_append(provider->headers, line);
        free(line);
    }
    return ORCS_OK;
}

static orcs_status
s_load_fake(orcs__model_provider_t *provider,
            const json_t *fake,
            char *err,
            size_t err_size)
{
    const char *name = provider->name;
    json_t *tool = json_object_get(fake, "tool");
    json_t *turns = json_object_get(fake, "turns");
    if (!json_is_object(fake) || json_object_size(fake) != 2
        || !json_is_string(tool) || !json_is_integer(turns)
        || json_integer_value(turns) < 0
        || json_integer_value(turns) > 1000000000
        || !s_is_clean(json_string_value(tool), ORCS__MODEL_NAME_MAX))
        return s_fail(err, err_size, name, "fake",
                      "must be {tool: NAME, turns: N >= 0}");
    provider->kind = ORCS__MODEL_FAKE;
    // The wire name: OpenAI function names may not hold dots.
    snprintf(provider->fake_tool, sizeof provider->fake_tool, "%s",
             json_string_value(tool));
    for (char *c = provider->fake_tool; *c; c++)
        if (*c == '.')
            *c = '_';
    provider->fake_turns = (int) json_integer_value(turns);
    return ORCS_OK;
}

static orcs_status
s_load_modes(orcs__model_t *self,
             orcs__model_provider_t *provider,
             const json_t *spec,
             char *err,
             size_t err_size)
{
    const char *name = provider->name;
    const char *replay = NULL, *record = NULL, *base_url = NULL;
    orcs_status rc = s_string(spec, name, "replay", &replay, err, err_size);
    if (rc == ORCS_OK)
        rc = s_string(spec, name, "record", &record, err, err_size);
    if (rc == ORCS_OK)
        rc = s_string(spec, name, "base_url", &base_url, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    json_t *fake = json_object_get(spec, "fake");
    int modes = (replay != NULL) + (fake != NULL) + (base_url != NULL);
    if (modes != 1)
        return s_fail(err, err_size, name, NULL,
                      "give exactly one of base_url (a server), replay "
                      "(a cassette) or fake");
    if (record && !base_url)
        return s_fail(err, err_size, name, "record",
                      "record needs base_url (the server to record)");
    if (fake)
        return s_load_fake(provider, fake, err, err_size);
    if (replay) {
        provider->kind = ORCS__MODEL_REPLAY;
        char *path = s_path(self, replay);
        char why[384];
        rc = orcs__cassette_load(path, &provider->cassette, why, sizeof why);
        free(path);
        if (rc != ORCS_OK)
            return s_fail(err, err_size, name, "replay", "%s", why);
        return ORCS_OK;
    }
    if (strncmp(base_url, "http://", 7) != 0
        && strncmp(base_url, "https://", 8) != 0)
        return s_fail(err, err_size, name, "base_url",
                      "must start with http:// or https:// (got %.100s)",
                      base_url);
    size_t size = strlen(base_url) + sizeof "/chat/completions";
    provider->url = orcs_malloc(size);
    snprintf(provider->url, size, "%s%s", base_url,
             base_url[strlen(base_url) - 1] == '/' ? "chat/completions"
                                                   : "/chat/completions");
    if (record) {
        char *path = s_path(self, record);
        provider->record_fd =
            open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (provider->record_fd < 0) {
            rc = s_fail(err, err_size, name, "record", "cannot open %s", path);
        }
        free(path);
    }
    return rc;
}

static orcs_status
s_load_numbers(orcs__model_provider_t *p,
               const json_t *spec,
               char *err,
               size_t err_size)
{
    const char *n = p->name;
    orcs_status rc = s_int(spec, n, "timeout_ms", 1, 86400000, &p->timeout_ms,
                           err, err_size);
    if (rc == ORCS_OK)
        rc = s_int(spec, n, "connect_timeout_ms", 1, 86400000,
                   &p->connect_timeout_ms, err, err_size);
    if (rc == ORCS_OK)
        rc = s_int(spec, n, "idle_timeout_ms", 0, 86400000, &p->idle_timeout_ms,
                   err, err_size);
    if (rc == ORCS_OK)
        rc = s_int(spec, n, "retries", 0, 100, &p->retries, err, err_size);
    if (rc == ORCS_OK)
        rc = s_int(spec, n, "backoff_ms", 0, 3600000, &p->backoff_ms, err,
                   err_size);
    if (rc == ORCS_OK)
        rc = s_int(spec, n, "backoff_max_ms", 0, 3600000, &p->backoff_max_ms,
                   err, err_size);
    if (rc == ORCS_OK)
        rc = s_number(spec, n, "rpm", &p->rpm, err, err_size);
    if (rc == ORCS_OK)
        rc = s_number(spec, n, "burst", &p->burst, err, err_size);
    json_t *stream = json_object_get(spec, "stream");
    if (rc == ORCS_OK && stream && !json_is_boolean(stream))
        rc = s_fail(err, err_size, n, "stream",
                    "must be true or false (got %s)", s_type(stream));
    p->stream = json_is_true(stream);
    json_t *events = json_object_get(spec, "events");
    if (rc == ORCS_OK && events && !json_is_boolean(events))
        rc = s_fail(err, err_size, n, "events",
                    "must be true or false (got %s)", s_type(events));
    // The fake provider serves benchmarks: no events unless asked.
    p->events = events ? json_is_true(events) : !json_object_get(spec, "fake");
    if (p->burst < 1)
        p->burst = p->rpm >= 60 ? p->rpm / 60 : 1; // a second's worth
    p->tokens = p->burst;
    p->refill_us = orcs_clock_mono_us();
    return rc;
}

// Builds one provider from its spec.
static orcs_status
s_provider_new(orcs__model_t *self,
               const char *name,
               const json_t *spec,
               orcs__model_provider_t **provider_p,
               char *err,
               size_t err_size)
{
    orcs__model_provider_t *p = orcs_calloc(1, sizeof *p);
    p->tag = ORCS__MODEL_TAG_PROVIDER;
    p->owner = self;
    p->name = orcs_strdup(name);
    p->record_fd = -1;
    p->timeout_ms = 60000;
    p->connect_timeout_ms = 10000;
    p->idle_timeout_ms = 30000;
    p->retries = 2;
    p->backoff_ms = 500;
    p->backoff_max_ms = 30000;
    *provider_p = p;
    if (!json_is_object(spec))
        return s_fail(err, err_size, name, NULL, "must be a mapping (got %s)",
                      s_type(spec));
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) spec, key, value)
    {
        if (!s_known(s_keys, key))
            return s_fail(err, err_size, name, key,
                          "unknown key (known: base_url, api_key_env, "
                          "api_key_file, model, timeout_ms, "
                          "connect_timeout_ms, idle_timeout_ms, retries, "
                          "backoff_ms, backoff_max_ms, fallbacks, rpm, burst, "
                          "stream, prices, headers, replay, record, fake, "
                          "events)");
    }
    const char *model = NULL;
    orcs_status rc = s_string(spec, name, "model", &model, err, err_size);
    if (model)
        p->model = orcs_strdup(model);
    if (rc == ORCS_OK)
        rc = s_load_numbers(p, spec, err, err_size);
    if (rc == ORCS_OK)
        rc = s_load_prices(p, spec, err, err_size);
    if (rc == ORCS_OK)
        rc = s_load_headers(p, spec, err, err_size);
    if (rc == ORCS_OK)
        rc = s_load_key(self, p, spec, err, err_size);
    if (rc == ORCS_OK)
        rc = s_load_modes(self, p, spec, err, err_size);
    json_t *fallbacks = json_object_get(spec, "fallbacks");
    if (rc == ORCS_OK && fallbacks) {
        size_t i;
        json_array_foreach(fallbacks, i, value)
        {
            if (!json_is_string(value)
                || !s_is_clean(json_string_value(value), 255))
                break;
        }
        if (!json_is_array(fallbacks) || i < json_array_size(fallbacks)
            || json_array_size(fallbacks) >= ORCS__MODEL_TARGETS_MAX)
            rc = s_fail(err, err_size, name, "fallbacks",
                        "must be a list of at most %u provider names "
                        "(\"name\" or \"name/model\")",
                        ORCS__MODEL_TARGETS_MAX - 1);
        else
            p->fallbacks = json_incref(fallbacks);
    }
    return rc;
}

void
orcs__model_provider_destroy(void **item)
{
    orcs__model_provider_t *p = *item;
    if (!p)
        return;
    if (p->record_fd >= 0)
        close(p->record_fd);
    orcs__cassette_destroy(&p->cassette);
    curl_slist_free_all(p->headers); // holds the key: see s_add_key
    json_decref(p->fallbacks);
    free(p->model);
    free(p->url);
    free(p->name);
    free(p);
    *item = NULL;
}

// The `default` provider from ORCS_MODEL_URL / ORCS_MODEL_KEY / ORCS_MODEL
// (or OPENAI_BASE_URL / OPENAI_API_KEY), when one of them is set.
static orcs_status
s_env_default(orcs__model_t *self, char *err, size_t err_size)
{
    const char *url = getenv("ORCS_MODEL_URL");
    const char *key = getenv("ORCS_MODEL_KEY");
    const char *model = getenv("ORCS_MODEL");
    if (!url || !url[0])
        url = getenv("OPENAI_BASE_URL");
    if (!key || !key[0])
        key = getenv("OPENAI_API_KEY");
    bool has_url = url && url[0], has_key = key && key[0],
         has_model = model && model[0];
    if (!has_url && !has_key && !has_model)
        return ORCS_OK;
    json_t *spec =
        json_pack("{s:s, s:s}", "base_url", has_url ? url : S_DEFAULT_URL,
                  "model", has_model ? model : S_DEFAULT_MODEL);
    orcs__model_provider_t *provider = NULL;
    orcs_status rc =
        s_provider_new(self, "default", spec, &provider, err, err_size);
    json_decref(spec);
    if (rc == ORCS_OK && has_key)
        s_add_key(provider, key);
    if (rc != ORCS_OK) {
        void *item = provider;
        orcs__model_provider_destroy(&item);
        return rc;
    }
    zhashx_insert(self->providers, "default", provider);
    return ORCS_OK;
}

// Every fallback names a provider.
static orcs_status
s_check_fallbacks(orcs__model_t *self, char *err, size_t err_size)
{
    for (orcs__model_provider_t *p = zhashx_first(self->providers); p;
         p = zhashx_next(self->providers)) {
        size_t i;
        json_t *value;
        json_array_foreach(p->fallbacks, i, value)
        {
            char *model = NULL;
            const char *spec = json_string_value(value);
            orcs__model_provider_t *found =
                orcs__model_provider_find(self, spec, &model);
            free(model);
            if (!found)
                return s_fail(err, err_size, p->name, "fallbacks",
                              "unknown provider %.100s", spec);
        }
    }
    return ORCS_OK;
}

orcs_status
orcs__model_config_load(orcs__model_t *self,
                        const json_t *config,
                        char *err,
                        size_t err_size)
{
    const json_t *models = json_object_get(config, "models");
    if (!models)
        models = json_object_get(
            orcs__node_config(orcs_actor_node(self->actor)), "models");
    if (models && !json_is_object(models)) {
        snprintf(err, err_size, "models: must be a mapping (got %s)",
                 s_type(models));
        return ORCS_ECONFIG;
    }
    const char *name;
    json_t *spec;
    json_object_foreach((json_t *) models, name, spec)
    {
        orcs__model_provider_t *provider = NULL;
        if (strlen(name) == 0 || strlen(name) > ORCS__MODEL_NAME_MAX) {
            snprintf(err, err_size,
                     "models: a provider name must have 1 "
                     "to 127 bytes");
            return ORCS_ECONFIG;
        }
        orcs_status rc =
            s_provider_new(self, name, spec, &provider, err, err_size);
        if (rc != ORCS_OK) {
            void *item = provider;
            orcs__model_provider_destroy(&item);
            return rc;
        }
        zhashx_insert(self->providers, name, provider);
    }
    if (!zhashx_lookup(self->providers, "default")) {
        orcs_status rc = s_env_default(self, err, err_size);
        if (rc != ORCS_OK)
            return rc;
    }
    return s_check_fallbacks(self, err, err_size);
}

orcs__model_provider_t *
orcs__model_provider_find(orcs__model_t *self, const char *spec, char **model_p)
{
    *model_p = NULL;
    orcs__model_provider_t *provider = zhashx_lookup(self->providers, spec);
    if (provider)
        return provider;
    const char *slash = strchr(spec, '/');
    if (!slash || slash == spec || !slash[1]
        || (size_t) (slash - spec) > ORCS__MODEL_NAME_MAX)
        return NULL;
    char name[ORCS__MODEL_NAME_MAX + 1];
    memcpy(name, spec, (size_t) (slash - spec));
    name[slash - spec] = 0;
    provider = zhashx_lookup(self->providers, name);
    if (provider)
        *model_p = orcs_strdup(slash + 1);
    return provider;
}
