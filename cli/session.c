/*  cli/session.c — a node for a command to talk to: the one running on the
    data directory (asks go through its control endpoint, forwarded to the
    orchestrator), or one started inside the command with the same config,
    data and model flags as `orcs node` would use.
    SPDX-License-Identifier: MPL-2.0 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "orcs/runs.h"

#define S_FIND_MS 1500 // how long a running node may take to answer status

const char orcs__cli_node_options_help[] =
    "  --config FILE      node config (models, tools, limits); default: "
    "none\n"
    "  --data DIR         data directory (default: the config's, or\n"
    "                     ./orcs-data)\n"
    "  --model-url URL    OpenAI-compatible server for the `default`\n"
    "                     provider (else ORCS_MODEL_URL, OPENAI_BASE_URL or\n"
    "                     the config)\n"
    "  --model NAME       model name for it (else ORCS_MODEL or the config)\n"
    "  --model-key-env VAR  environment variable holding its API key (else\n"
    "                     ORCS_MODEL_KEY, OPENAI_API_KEY)\n"
    "  --replay FILE      answer from a replay cassette instead of a server\n"
    "  --log LEVEL        node log on stderr: error, warn (default), info, "
    "debug\n";

bool
orcs__cli_node_option(orcs__cli_node_opts_t *o, int opt, const char *arg)
{
    switch (opt) {
        case ORCS__CLI_OPT_CONFIG:
            o->config = arg;
            return true;
        case ORCS__CLI_OPT_DATA:
            o->data = arg;
            return true;
        case ORCS__CLI_OPT_MODEL_URL:
            o->model_url = arg;
            return true;
        case ORCS__CLI_OPT_MODEL:
            o->model = arg;
            return true;
        case ORCS__CLI_OPT_KEY_ENV:
            o->key_env = arg;
            return true;
        case ORCS__CLI_OPT_REPLAY:
            o->replay = arg;
            return true;
        case ORCS__CLI_OPT_LOG:
            o->log = arg;
            return true;
        default:
            return false;
    }
}

// Sets the `default` provider from the flags.
static void
s_apply_model_flags(json_t *doc, const orcs__cli_node_opts_t *o)
{
    if (!o->model_url && !o->model && !o->key_env && !o->replay)
        return;
    json_t *models = json_object_get(doc, "models");
    if (!json_is_object(models)) {
        models = json_object();
        json_object_set_new(doc, "models", models);
    }
    json_t *provider = json_object_get(models, "default");
    if (!json_is_object(provider) || o->replay || o->model_url) {
        provider = json_object();
        json_object_set_new(models, "default", provider);
    }
    if (o->replay) {
        char absolute[PATH_MAX];
        json_object_set_new(
            provider, "replay",
            json_string(realpath(o->replay, absolute) ? absolute : o->replay));
        return;
    }
    if (o->model_url)
        json_object_set_new(provider, "base_url", json_string(o->model_url));
    if (o->model)
        json_object_set_new(provider, "model", json_string(o->model));
    if (o->key_env)
        json_object_set_new(provider, "api_key_env", json_string(o->key_env));
}

int
orcs__cli_node_config(const char *command,
                      const orcs__cli_node_opts_t *o,
                      orcs_config_t **config_p)
{
    *config_p = NULL;
    char err[1024] = "";
    if (o->config
        && orcs_config_load(o->config, config_p, err, sizeof err) != ORCS_OK) {
        fprintf(stderr, "orcs %s: %s\n", command, err);
        return ORCS__CLI_EXIT_USAGE;
    }
    if (!*config_p)
        *config_p = orcs_config_new_default();
    json_t *doc = orcs_config_doc(*config_p);
    if (o->data)
        json_object_set_new(doc, "data", json_string(o->data));
    s_apply_model_flags(doc, o);
    return 0;
}

int
orcs__cli_node_start(const char *command,
                     const orcs__cli_node_opts_t *o,
                     orcs_node_t **node_p)
{
    *node_p = NULL;
    if (orcs__cli_set_log(command, o->log ? o->log : "warn") != 0)
        return ORCS__CLI_EXIT_USAGE;
    orcs_config_t *config = NULL;
    int code = orcs__cli_node_config(command, o, &config);
    if (code)
        return code;
    orcs_node_t *node = orcs_node_new();
    orcs_status rc = orcs_node_configure(node, orcs_config_doc(config),
                                         orcs_config_dir(config));
    orcs_config_destroy(&config);
    if (rc == ORCS_OK)
        rc = orcs_node_start(node);
    if (rc != ORCS_OK) {
        char err[1024];
        fprintf(stderr, "orcs %s: cannot start a node: %s\n", command,
                orcs_node_error(node, err, sizeof err));
        orcs_node_destroy(&node);
        return rc == ORCS_ECONFIG ? ORCS__CLI_EXIT_USAGE : ORCS__CLI_EXIT_FAIL;
    }
    *node_p = node;
    return 0;
}

// ---------------------------------------------------------------------------
// The orchestrator, here or there

// False when the data directory's lock file names a process that is gone
// (a node killed without cleaning up); true otherwise. Reading the pid
// does not take the lock, so a node starting meanwhile is not disturbed.
static bool
s_node_alive(const char *data)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.lock", data);
    FILE *file = fopen(path, "r");
    if (!file)
        return false;
    long pid = 0;
    bool read = fscanf(file, "%ld", &pid) == 1;
    fclose(file);
    return !read || pid <= 0 || kill((pid_t) pid, 0) == 0 || errno != ESRCH;
}

int
orcs__cli_orch_find(orcs__cli_orch_t *o,
                    const char *command,
                    const orcs__cli_node_opts_t *opts)
{
    o->command = command;
    orcs_config_t *config = NULL;
    if (orcs__cli_node_config(command, opts, &config))
        return -ORCS__CLI_EXIT_USAGE;
    const json_t *doc = orcs_config_doc(config);
    const char *data = json_string_value(json_object_get(doc, "data"));
    const char *control = json_string_value(json_object_get(doc, "control"));
    data = data ? data : "./orcs-data";
    if (!realpath(data, o->data))
        snprintf(o->data, sizeof o->data, "%s", data);
    if (control)
        snprintf(o->endpoint, sizeof o->endpoint, "%s", control);
    else
        snprintf(o->endpoint, sizeof o->endpoint, "ipc://%s/control.sock",
                 o->data);
    orcs_config_destroy(&config);
    struct stat st;
    if (!control && stat(o->endpoint + strlen("ipc://"), &st) != 0)
        return 0; // no socket: no node (saves the wait)
    if (!control && !s_node_alive(o->data))
        return 0; // the socket of a node that died

    json_t *status = NULL;
    orcs_status rc =
        orcs_control_request(o->endpoint, "status", NULL, S_FIND_MS, &status);
    json_decref(status);
    o->remote = rc == ORCS_OK;
    return o->remote ? 1 : 0;
}

int
orcs__cli_orch_start(orcs__cli_orch_t *o, const orcs__cli_node_opts_t *opts)
{
    // LMDB: one environment open once per process; the node opens its own.
    orcs_store_destroy(&o->store);
    int code = orcs__cli_node_start(o->command, opts, &o->node);
    if (code)
        return code;
    o->client = orcs_client_new(o->node);
    snprintf(o->endpoint, sizeof o->endpoint, "%s",
             orcs_node_control_endpoint(o->node));
    if (!realpath(orcs_node_data_dir(o->node), o->data))
        snprintf(o->data, sizeof o->data, "%s", orcs_node_data_dir(o->node));
    return 0;
}

orcs_status
orcs__cli_orch_ask(orcs__cli_orch_t *o,
                   const char *type,
                   const json_t *body,
                   int timeout_ms,
                   json_t **reply_p)
{
    *reply_p = NULL;
    if (!o->node && !o->remote)
        return ORCS_ECLOSED;
    if (!o->node) {
        json_t *request =
            json_pack("{s:s, s:s, s:O, s:i}", "to", "orchestrator", "type",
                      type, "body", body, "timeout_ms", timeout_ms);
        orcs_status rc = orcs_control_request(o->endpoint, "ask", request,
                                              timeout_ms + 2000, reply_p);
        json_decref(request);
        return rc;
    }
    orcs_msg_t *ask = orcs_msg_new_json(type, body);
    orcs_msg_t *reply = NULL;
    orcs_status rc =
        orcs_client_ask(o->client, "orchestrator", &ask, timeout_ms, &reply);
    orcs_msg_destroy(&ask);
    if (rc == ORCS_OK) {
        rc = orcs_msg_status(reply);
        if (orcs_msg_take_body(reply, reply_p) != ORCS_OK && rc == ORCS_OK)
            rc = ORCS_EPROTO;
    }
    orcs_msg_destroy(&reply);
    return rc;
}

orcs_store_t *
orcs__cli_orch_store(orcs__cli_orch_t *o, orcs_status *rc_p)
{
    *rc_p = ORCS_OK;
    if (o->node && orcs_node_store(o->node))
        return orcs_node_store(o->node);
    if (o->store)
        return o->store;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/store", o->data);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *rc_p = ORCS_ENOTFOUND;
        return NULL;
    }
    o->store = orcs_store_new();
    *rc_p = orcs_store_open(o->store, path, NULL);
    if (*rc_p != ORCS_OK)
        orcs_store_destroy(&o->store);
    return o->store;
}

orcs_status
orcs__cli_orch_view(orcs__cli_orch_t *o, const char *run, json_t **view_p)
{
    *view_p = NULL;
    orcs_status rc = ORCS_ENOTFOUND;
    if (o->node || o->remote) {
        json_t *body = json_pack("{s:s}", "run", run);
        rc = orcs__cli_orch_ask(o, "run.get", body, 10000, view_p);
        json_decref(body);
        if (rc == ORCS_OK)
            return rc;
        json_decref(*view_p);
        *view_p = NULL;
    }
    if (rc != ORCS_ENOTFOUND && rc != ORCS_ETIMEDOUT)
        return rc;
    // not held by the orchestrator (finished long ago, or no node)
    orcs_store_t *store = orcs__cli_orch_store(o, &rc);
    return store ? orcs_runs_view(store, run, view_p) : rc;
}

void
orcs__cli_orch_close(orcs__cli_orch_t *o)
{
    orcs_client_destroy(&o->client);
    orcs_store_destroy(&o->store);
    orcs_node_destroy(&o->node);
}
