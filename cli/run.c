/*  cli/run.c — `orcs run --agent FILE "prompt"`: runs one agent in a node
    started inside the command, shows live progress on a terminal, prints
    the output (or the whole result with --json).
    SPDX-License-Identifier: MPL-2.0 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "orcs/agent.h"
#include "orcs/orcs.h"

static const char s_usage[] =
    "usage: orcs run --agent FILE [options] PROMPT\n"
    "\n"
    "Runs one agent (FORMATS.md \"Agent\") on PROMPT in a node started for\n"
    "the run, and prints its output. On a terminal it shows live progress\n"
    "on stderr: model calls, tool calls, tokens and cost.\n"
    "\n"
    "  --agent FILE       the agent file (YAML)\n"
    "  --config FILE      node config (models, tools, limits); default: none\n"
    "  --data DIR         data directory (default: the config's, or\n"
    "                     ./orcs-data)\n"
    "  --model-url URL    OpenAI-compatible server for the `default`\n"
    "                     provider (else ORCS_MODEL_URL, OPENAI_BASE_URL or\n"
    "                     the config)\n"
    "  --model NAME       model name for it (else ORCS_MODEL or the config)\n"
    "  --model-key-env VAR  environment variable holding its API key (else\n"
    "                     ORCS_MODEL_KEY, OPENAI_API_KEY)\n"
    "  --replay FILE      answer from a replay cassette instead of a server\n"
    "  --run ID           run id (default: generated)\n"
    "  --timeout S        give up after S seconds (default 3600)\n"
    "  --json             print the result as JSON: {\"run\", \"output\",\n"
    "                     \"steps\", \"usage\", \"cost\"} or {\"error\", ...}\n"
    "  --progress         show progress even when stderr is not a terminal\n"
    "  --quiet            never show progress\n"
    "  --log LEVEL        node log on stderr: error, warn (default), info, "
    "debug\n"
    "  --help             this text\n"
    "\n"
    "Exit codes: 0 the agent answered, 1 the run failed, 2 usage or config\n"
    "error.\n";

typedef struct {
    orcs_node_t *node;
    char topic[ORCS_MSG_TOPIC_MAX + 1];
    atomic_bool stop;
    int64_t started_us;
} s_watch_t;

// The string member key of obj, or fallback.
static const char *
s_str(const json_t *obj, const char *key, const char *fallback)
{
    const char *value = json_string_value(json_object_get(obj, key));
    return value ? value : fallback;
}

static const char *
s_event_name(const char *topic)
{
    // run.<id>.<event>: the event is after the second dot.
    const char *dot = strchr(topic, '.');
    dot = dot ? strchr(dot + 1, '.') : NULL;
    return dot ? dot + 1 : topic;
}

static void
s_show(s_watch_t *watch, const char *event, const json_t *body)
{
    double at = (double) (orcs_clock_mono_us() - watch->started_us) / 1e6;
    const char *agent = json_string_value(json_object_get(body, "agent"));
    if (strcmp(event, "model.started") == 0) {
        const char *model = s_str(body, "model", "");
        fprintf(stderr, "%7.2fs  model  step %" JSON_INTEGER_FORMAT " %s%s%s\n",
                at, json_integer_value(json_object_get(body, "step")),
                s_str(body, "provider", ""), model[0] ? "/" : "", model);
    } else if (strcmp(event, "model.finished") == 0) {
        const json_t *usage = json_object_get(body, "usage");
        fprintf(stderr,
                "%7.2fs  model  step %" JSON_INTEGER_FORMAT
                " done: %" JSON_INTEGER_FORMAT " + %" JSON_INTEGER_FORMAT
                " tokens, $%.6f\n",
                at, json_integer_value(json_object_get(body, "step")),
                json_integer_value(json_object_get(usage, "prompt_tokens")),
                json_integer_value(json_object_get(usage, "completion_tokens")),
                json_number_value(json_object_get(body, "cost")));
    } else if (strcmp(event, "model.retry") == 0)
        fprintf(stderr, "%7.2fs  model  retry %" JSON_INTEGER_FORMAT ": %s\n",
                at, json_integer_value(json_object_get(body, "attempt")),
                s_str(body, "error", ""));
    else if (strcmp(event, "tool.started") == 0)
        fprintf(stderr, "%7.2fs  tool   %s started\n", at,
                s_str(body, "tool", "?"));
    else if (strcmp(event, "tool.finished") == 0)
        fprintf(stderr,
                "%7.2fs  tool   %s %s%s (%" JSON_INTEGER_FORMAT " ms)\n", at,
                s_str(body, "tool", "?"),
                json_is_true(json_object_get(body, "ok")) ? "ok" : "failed",
                json_is_true(json_object_get(body, "cached")) ? ", cached" : "",
                json_integer_value(json_object_get(body, "ms")));
    else if (strcmp(event, "agent.error") == 0)
        fprintf(stderr, "%7.2fs  agent  %s failed: %s\n", at,
                agent ? agent : "?", s_str(body, "error", ""));
    else if (strcmp(event, "agent.output") == 0) {
        const json_t *usage = json_object_get(body, "usage");
        fprintf(stderr,
                "%7.2fs  agent  %s answered after %" JSON_INTEGER_FORMAT
                " steps: %" JSON_INTEGER_FORMAT " + %" JSON_INTEGER_FORMAT
                " tokens, $%.6f\n",
                at, agent ? agent : "?",
                json_integer_value(json_object_get(body, "steps")),
                json_integer_value(json_object_get(usage, "prompt_tokens")),
                json_integer_value(json_object_get(usage, "completion_tokens")),
                json_number_value(json_object_get(body, "cost")));
    }
}

static void *
s_watch(void *arg)
{
    s_watch_t *watch = arg;
    orcs_client_t *client = orcs_client_new(watch->node);
    orcs_client_subscribe(client, watch->topic);
    while (!atomic_load(&watch->stop)) {
        orcs_msg_t *msg = NULL;
        if (orcs_client_recv(client, 100, &msg) != ORCS_OK)
            continue;
        const json_t *body = NULL;
        if (orcs_msg_kind_of(msg) == ORCS_MSG_EVENT
            && orcs_msg_body(msg, &body) == ORCS_OK)
            s_show(watch, s_event_name(orcs_msg_topic(msg)), body);
        orcs_msg_destroy(&msg);
    }
    orcs_client_destroy(&client);
    return NULL;
}

static bool
s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

// Whether argv asks for an agent run: --agent is given, or nothing names
// a workflow file (.yaml, .yml, .json) and --help is not asked for (the
// workflow help covers both).
static bool
s_is_agent_run(int argc, char **argv)
{
    static const char *const with_value[] = {
        "--config",        "--data",   "--model-url", "--model",
        "--model-key-env", "--replay", "--input",     "--run",
        "--timeout",       "--log",    NULL};
    bool workflow = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        for (int j = 0; with_value[j]; j++)
            if (strcmp(arg, with_value[j]) == 0) {
                arg = NULL;
                i++; // its value
                break;
            }
        if (!arg)
            continue;
        if (strcmp(arg, "--agent") == 0 || strncmp(arg, "--agent=", 8) == 0
            || strcmp(arg, "-a") == 0)
            return true;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            workflow = true;
        else if (arg[0] != '-'
                 && (s_ends_with(arg, ".yaml") || s_ends_with(arg, ".yml")
                     || s_ends_with(arg, ".json")))
            workflow = true;
    }
    return !workflow;
}

int
orcs__cli_run_main(int argc, char **argv)
{
    if (!s_is_agent_run(argc, argv))
        return orcs__cli_flow_run_main(argc, argv); // cli/flow.c
    static const struct option options[] = {
        {"agent", required_argument, NULL, 'a'},
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"model-url", required_argument, NULL, 'u'},
        {"model", required_argument, NULL, 'm'},
        {"model-key-env", required_argument, NULL, 'k'},
        {"replay", required_argument, NULL, 'r'},
        {"run", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"progress", no_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"log", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *agent_path = NULL;
    orcs__cli_node_opts_t node_opts = {.log = "warn"};
    const char *run_id = NULL;
    long timeout_s = 3600;
    bool as_json = false;
    int progress = isatty(STDERR_FILENO) ? 1 : 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "a:c:d:u:m:k:r:i:t:l:jpqh", options,
                              NULL))
           != -1) {
        switch (opt) {
            case 'a':
                agent_path = optarg;
                break;
            case 'c':
                node_opts.config = optarg;
                break;
            case 'd':
                node_opts.data = optarg;
                break;
            case 'u':
                node_opts.model_url = optarg;
                break;
            case 'm':
                node_opts.model = optarg;
                break;
            case 'k':
                node_opts.key_env = optarg;
                break;
            case 'r':
                node_opts.replay = optarg;
                break;
            case 'i':
                run_id = optarg;
                break;
            case 't':
                timeout_s = strtol(optarg, NULL, 10);
                break;
            case 'j':
                as_json = true;
                break;
            case 'p':
                progress = 1;
                break;
            case 'q':
                progress = -1;
                break;
            case 'l':
                node_opts.log = optarg;
                break;
            case 'h':
                fputs(s_usage, stdout);
                return 0;
            default:
                fputs(s_usage, stderr);
                return ORCS__CLI_EXIT_USAGE;
        }
    }
    if (!agent_path || optind != argc - 1 || timeout_s <= 0
        || timeout_s > 86400 * 7) {
        fprintf(stderr, "orcs run: %s\n\n%s",
                !agent_path ? "give a workflow file (FLOW.yaml) or --agent FILE"
                            : "give exactly one PROMPT",
                s_usage);
        return ORCS__CLI_EXIT_USAGE;
    }
    if (orcs__cli_set_log("run", node_opts.log) != 0)
        return ORCS__CLI_EXIT_USAGE;
    const char *prompt = argv[optind];
    char err[1024] = "";
    json_t *agent = NULL;
    if (orcs_agent_load(agent_path, &agent, err, sizeof err) != ORCS_OK) {
        fprintf(stderr, "orcs run: %s\n", err);
        return ORCS__CLI_EXIT_USAGE;
    }
    char name[ORCS_ACTOR_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s",
             json_string_value(json_object_get(agent, "agent")));
    char absolute[PATH_MAX];
    if (!realpath(agent_path, absolute))
        snprintf(absolute, sizeof absolute, "%s", agent_path);
    orcs_node_t *node = NULL;
    int started = orcs__cli_node_start("run", &node_opts, &node);
    if (started) {
        json_decref(agent);
        return started;
    }
    orcs_status rc;
    json_t *child =
        json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", name, "actor", "agent",
                  "restart", "temporary", "config", "file", absolute);
    rc = orcs_node_start_child(node, "root", name, child);
    json_decref(child);
    json_decref(agent);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs run: cannot start agent %s: %s (%s)\n", name,
                orcs_node_error(node, err, sizeof err), orcs_status_name(rc));
        orcs_node_destroy(&node);
        return ORCS__CLI_EXIT_USAGE;
    }
    char id[ORCS_MSG_RUN_ID_MAX + 1];
    if (run_id)
        snprintf(id, sizeof id, "%s", run_id);
    else
        snprintf(id, sizeof id, "r-%" PRIx64, (uint64_t) orcs_clock_wall_us());
    s_watch_t watch = {.node = node, .started_us = orcs_clock_mono_us()};
    snprintf(watch.topic, sizeof watch.topic, "run.%s.", id);
    pthread_t watcher;
    bool watching =
        progress > 0 && pthread_create(&watcher, NULL, s_watch, &watch) == 0;
    if (watching)
        usleep(100000); // let the subscription reach the bus
    orcs_client_t *client = orcs_client_new(node);
    orcs_msg_t *ask = orcs_msg_new("agent.run");
    json_t *body = json_pack("{s:s, s:s}", "run", id, "input", prompt);
    orcs_msg_set_body(ask, &body);
    orcs_msg_t *reply = NULL;
    rc = orcs_client_ask(client, name, &ask, (int) (timeout_s * 1000), &reply);
    orcs_msg_destroy(&ask);
    if (watching) {
        usleep(50000); // the last events
        atomic_store(&watch.stop, true);
        pthread_join(watcher, NULL);
    }
    int code = 0;
    json_t *result = NULL;
    if (rc != ORCS_OK) {
        result = json_pack("{s:s, s:s}", "run", id, "error",
                           rc == ORCS_ETIMEDOUT ? "the run timed out"
                                                : orcs_status_str(rc));
        code = ORCS__CLI_EXIT_FAIL;
    } else if (orcs_msg_take_body(reply, &result) != ORCS_OK
               || orcs_msg_status(reply) != ORCS_OK) {
        if (!json_is_object(result)) {
            json_decref(result);
            result = json_pack("{s:s}", "error", "malformed reply");
        }
        json_object_set_new(
            result, "status",
            json_string(orcs_status_name(orcs_msg_status(reply))));
        code = ORCS__CLI_EXIT_FAIL;
    }
    orcs_msg_destroy(&reply);
    orcs_client_destroy(&client);
    if (as_json)
        orcs__cli_print_json(result);
    else if (code == 0) {
        const json_t *output = json_object_get(result, "output");
        if (json_is_string(output))
            puts(json_string_value(output));
        else
            orcs__cli_print_json(output);
    } else
        fprintf(stderr, "orcs run: %s failed: %s\n", id,
                s_str(result, "error", "?"));
    json_decref(result);
    orcs_node_destroy(&node);
    return code;
}
