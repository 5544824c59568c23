/*  main.c — the orcs command: parse arguments, call the library, map
    statuses to exit codes (0 ok, 1 failure, 2 usage or config error).
    SPDX-License-Identifier: MPL-2.0 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"
#include "orcs/orcs.h"

#define EXIT_USAGE 2

static const char s_usage[] =
    "usage: orcs [--version] [--help] COMMAND [ARGS]\n"
    "\n"
    "orcs runs teams of LLM agents as supervised actors.\n"
    "\n"
    "Commands:\n"
    "  node      run a node in the foreground (supervision tree from a "
    "config)\n"
    "  status    show a running node's supervision tree and counters\n"
    "  run       run a workflow (FLOW.yaml) or an agent (--agent), with live\n"
    "            progress\n"
    "  plan      have a planner agent turn a request into a workflow (and "
    "run it)\n"
    "  runs      list, show, cancel, pause and resume workflow runs\n"
    "  approve   approve or reject a run's pending approval\n"
    "  validate  check a workflow file\n"
    "  tools     list, rank, check and reload tools\n"
    "  store     memory keys, snapshots and artifacts of a data directory\n"
    "  child     host one actor for a node's supervisor (internal)\n"
    "\n"
    "Run 'orcs COMMAND --help' for a command's options.\n"
    "Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 a run waits "
    "for\n"
    "a human (run, plan, runs resume).\n";

static const char s_node_usage[] =
    "usage: orcs node [--config FILE] [--data DIR] [--log LEVEL]\n"
    "\n"
    "Runs a node in the foreground until SIGINT/SIGTERM or until its root\n"
    "supervisor gives up. The supervision tree comes from the node config\n"
    "(see config/node.yaml); without --config the node runs only its\n"
    "system actors.\n"
    "\n"
    "  --config FILE  node config (YAML); an invalid one exits 2\n"
    "  --data DIR     data directory (overrides `data:`; default "
    "./orcs-data)\n"
    "  --log LEVEL    error, warn, info or debug (default info)\n"
    "  --help         this text\n";

static const char s_status_usage[] =
    "usage: orcs status [--data DIR | --node ENDPOINT] [--json] "
    "[--timeout MS]\n"
    "\n"
    "Asks a running node's status actor for the live supervision tree:\n"
    "per actor its supervisor, state, incarnation, restarts, messages in\n"
    "and out, mailbox depth, malformed frames and last error.\n"
    "\n"
    "  --data DIR       the node's data directory (default ./orcs-data)\n"
    "  --node ENDPOINT  the node's control endpoint (ipc:// or tcp://)\n"
    "  --json           print JSON: {\"node\", \"actors\": [{\"name\",\n"
    "                   \"supervisor\", \"state\", \"restarts\", ...}]}\n"
    "  --timeout MS     how long to wait for the node (default 3000)\n"
    "  --help           this text\n";

static int
s_node(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"log", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *data = NULL, *log = "info";
    int opt;
    while ((opt = getopt_long(argc, argv, "c:d:l:h", options, NULL)) != -1) {
        switch (opt) {
            case 'c':
                config_path = optarg;
                break;
            case 'd':
                data = optarg;
                break;
            case 'l':
                log = optarg;
                break;
            case 'h':
                fputs(s_node_usage, stdout);
                return 0;
            default:
                fputs(s_node_usage, stderr);
                return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "orcs node: unexpected argument '%s'\n%s", argv[optind],
                s_node_usage);
        return EXIT_USAGE;
    }
    if (orcs__cli_set_log("node", log) != 0)
        return EXIT_USAGE;
    char err[1024] = "";
    orcs_config_t *config = NULL;
    orcs_status rc =
        config_path ? orcs_config_load(config_path, &config, err, sizeof err)
                    : ORCS_OK;
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs node: %s\n", err);
        return EXIT_USAGE;
    }
    if (!config)
        config = orcs_config_new_default();
    json_t *doc = orcs_config_doc(config);
    if (data)
        json_object_set_new(doc, "data", json_string(data));
    orcs_node_t *node = orcs_node_new();
    rc = orcs_node_configure(node, doc, orcs_config_dir(config));
    orcs_config_destroy(&config);
    int code = 0;
    if (rc == ORCS_OK)
        rc = orcs_node_start(node);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs node: cannot start: %s\n",
                orcs_node_error(node, err, sizeof err));
        code = rc == ORCS_ECONFIG ? EXIT_USAGE : 1;
    } else {
        fprintf(stderr,
                "orcs node: %s running (pid %d, data %s); "
                "Ctrl-C stops it\n",
                orcs_node_name(node), (int) getpid(), orcs_node_data_dir(node));
        rc = orcs_node_run(node);
        if (rc != ORCS_OK) {
            fprintf(stderr, "orcs node: stopped: %s (%s)\n",
                    orcs_node_error(node, err, sizeof err),
                    orcs_status_name(rc));
            code = 1;
        } else {
            fprintf(stderr, "orcs node: stopped cleanly\n");
        }
    }
    orcs_node_destroy(&node);
    return code;
}

static int
s_depth(json_t *actors, const char *supervisor)
{
    int depth = 0;
    while (supervisor && supervisor[0] && depth < 32) {
        size_t i;
        json_t *actor;
        const char *parent = NULL;
        json_array_foreach(actors, i, actor)
        {
            if (strcmp(json_string_value(json_object_get(actor, "name")),
                       supervisor)
                == 0)
                parent =
                    json_string_value(json_object_get(actor, "supervisor"));
        }
        depth++;
        supervisor = parent;
    }
    return depth;
}

static void
s_print_tree(json_t *status)
{
    json_t *actors = json_object_get(status, "actors");
    printf(
        "node %s  pid %lld  up %.1f s  malformed frames %lld\n",
        json_string_value(json_object_get(status, "node")),
        (long long) json_integer_value(json_object_get(status, "pid")),
        json_real_value(json_object_get(status, "uptime_s")),
        (long long) json_integer_value(json_object_get(status, "malformed")));
    printf("%-28s %-10s %-10s %4s %8s %9s %9s %7s %9s  %s\n", "NAME", "TYPE",
           "STATE", "INC", "RESTARTS", "MSGS_IN", "MSGS_OUT", "MAILBOX",
           "MALFORMED", "LAST ERROR");
    size_t i;
    json_t *a;
    json_array_foreach(actors, i, a)
    {
        char label[64];
        int depth = s_depth(
            actors, json_string_value(json_object_get(a, "supervisor")));
        snprintf(label, sizeof label, "%*s%s", depth * 2, "",
                 json_string_value(json_object_get(a, "name")));
        printf(
            "%-28s %-10s %-10s %4lld %8lld %9lld %9lld %7lld %9lld  %s\n",
            label, json_string_value(json_object_get(a, "type")),
            json_string_value(json_object_get(a, "state")),
            (long long) json_integer_value(json_object_get(a, "incarnation")),
            (long long) json_integer_value(json_object_get(a, "restarts")),
            (long long) json_integer_value(json_object_get(a, "msgs_in")),
            (long long) json_integer_value(json_object_get(a, "msgs_out")),
            (long long) json_integer_value(json_object_get(a, "mailbox_depth")),
            (long long) json_integer_value(json_object_get(a, "malformed")),
            json_string_value(json_object_get(a, "last_error")));
    }
}

static int
s_status(int argc, char **argv)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"node", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = "./orcs-data", *endpoint = NULL;
    bool as_json = false;
    int timeout_ms = 3000;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:n:jt:h", options, NULL)) != -1) {
        switch (opt) {
            case 'd':
                data = optarg;
                break;
            case 'n':
                endpoint = optarg;
                break;
            case 'j':
                as_json = true;
                break;
            case 't':
                timeout_ms = atoi(optarg);
                break;
            case 'h':
                fputs(s_status_usage, stdout);
                return 0;
            default:
                fputs(s_status_usage, stderr);
                return EXIT_USAGE;
        }
    }
    if (optind != argc || timeout_ms <= 0) {
        fputs(s_status_usage, stderr);
        return EXIT_USAGE;
    }
    char control[PATH_MAX + 32];
    if (endpoint) {
        snprintf(control, sizeof control, "%s", endpoint);
    } else {
        char absolute[PATH_MAX];
        if (!realpath(data, absolute)) {
            fprintf(stderr, "orcs status: no data directory %s\n", data);
            return 1;
        }
        snprintf(control, sizeof control, "ipc://%s/control.sock", absolute);
    }
    json_t *status = NULL;
    orcs_status rc =
        orcs_control_request(control, "status", NULL, timeout_ms, &status);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs status: no answer from %s: %s\n", control,
                orcs_status_str(rc));
        json_decref(status);
        return 1;
    }
    if (as_json) {
        char *text = orcs_doc_to_text(status, JSON_INDENT(2));
        puts(text);
        free(text);
    } else {
        s_print_tree(status);
    }
    json_decref(status);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(s_usage, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0
        || strcmp(command, "help") == 0) {
        fputs(s_usage, stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0) {
        printf("orcs %s\n", ORCS_VERSION);
        return 0;
    }
    if (strcmp(command, "child") == 0)
        return orcs_child_main(argc - 1, argv + 1);
    orcs_runtime_init();
    int code;
    if (strcmp(command, "node") == 0)
        code = s_node(argc - 1, argv + 1);
    else if (strcmp(command, "status") == 0)
        code = s_status(argc - 1, argv + 1);
    else if (strcmp(command, "store") == 0)
        code = orcs__cli_store_main(argc - 1, argv + 1);
    else if (strcmp(command, "run") == 0)
        code = orcs__cli_run_main(argc - 1, argv + 1);
    else if (strcmp(command, "tools") == 0)
        code = orcs__cli_tools_main(argc - 1, argv + 1);
    else if (strcmp(command, "plan") == 0)
        code = orcs__cli_plan_main(argc - 1, argv + 1);
    else if (strcmp(command, "runs") == 0)
        code = orcs__cli_runs_main(argc - 1, argv + 1);
    else if (strcmp(command, "approve") == 0)
        code = orcs__cli_approve_main(argc - 1, argv + 1);
    else if (strcmp(command, "validate") == 0)
        code = orcs__cli_validate_main(argc - 1, argv + 1);
    else {
        fprintf(stderr, "orcs: unknown command '%s'\n\n%s", command, s_usage);
        code = EXIT_USAGE;
    }
    orcs_runtime_shutdown();
    return code;
}
