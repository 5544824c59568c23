/*  cli/tools.c — `orcs tools ls | nearest | check | reload`.
    SPDX-License-Identifier: MPL-2.0 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "orcs/orcs.h"
#include "orcs/tools.h"

static const char s_usage[] =
    "usage: orcs tools COMMAND [options]\n"
    "\n"
    "The tool registry: manifests from the node config's `tools`\n"
    "directories (FORMATS.md \"Tool manifest\") plus the built-ins.\n"
    "\n"
    "Commands:\n"
    "  ls [--config FILE] [--json]            list the tools\n"
    "  nearest QUERY [-k N] [--config FILE] [--json]\n"
    "                                         the tools most relevant to "
    "QUERY (BM25)\n"
    "  check FILE...                          check manifest files; exit 2 "
    "if one is bad\n"
    "  reload [--data DIR | --node ENDPOINT]  make a running node reload "
    "its tools\n"
    "                                         (as SIGHUP does) and print "
    "the result\n"
    "\n"
    "Load errors are printed as FILE:LINE: what is wrong; the other "
    "manifests\n"
    "still load.\n";

typedef struct {
    const char *config;
    const char *data;
    const char *endpoint;
    long k;
    bool json;
    bool help;
} s_opts_t;

static int
s_parse(int argc, char **argv, s_opts_t *opts)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"node", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opts->k = 5;
    opts->data = "./orcs-data";
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:d:n:k:jh", options, NULL)) != -1) {
        switch (opt) {
            case 'c':
                opts->config = optarg;
                break;
            case 'd':
                opts->data = optarg;
                break;
            case 'n':
                opts->endpoint = optarg;
                break;
            case 'k':
                opts->k = strtol(optarg, NULL, 10);
                break;
            case 'j':
                opts->json = true;
                break;
            case 'h':
                opts->help = true;
                break;
            default:
                return -1;
        }
    }
    return opts->k > 0 && opts->k <= 1000 ? 0 : -1;
}

// Loads the registry of the config's tools directories.
static orcs_tools_t *
s_load(const s_opts_t *opts, bool quiet)
{
    char err[1024];
    orcs_config_t *config = NULL;
    if (opts->config
        && orcs_config_load(opts->config, &config, err, sizeof err)
               != ORCS_OK) {
        fprintf(stderr, "orcs tools: %s\n", err);
        return NULL;
    }
    if (!config)
        config = orcs_config_new_default();
    orcs_tools_t *tools = orcs_tools_new();
    json_t *errors = NULL;
    orcs_tools_load(tools, json_object_get(orcs_config_doc(config), "tools"),
                    orcs_config_dir(config), &errors);
    for (size_t i = 0; !quiet && i < json_array_size(errors); i++)
        fprintf(stderr, "%s\n", json_string_value(json_array_get(errors, i)));
    json_decref(errors);
    orcs_config_destroy(&config);
    return tools;
}

static int
s_ls(const s_opts_t *opts)
{
    orcs_tools_t *tools = s_load(opts, opts->json);
    if (!tools)
        return ORCS__CLI_EXIT_USAGE;
    orcs_toolset_t *set = orcs_tools_acquire(tools);
    json_t *list = orcs_toolset_describe(set);
    if (opts->json)
        orcs__cli_print_json(list);
    else {
        printf("%-24s %-8s %s\n", "NAME", "KIND", "DESCRIPTION");
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *tool = json_array_get(list, i);
            const char *description =
                json_string_value(json_object_get(tool, "description"));
            printf("%-24s %-8s %.70s\n",
                   json_string_value(json_object_get(tool, "name")),
                   json_string_value(json_object_get(tool, "kind")),
                   description ? description : "");
        }
    }
    json_decref(list);
    orcs_toolset_release(&set);
    orcs_tools_destroy(&tools);
    return 0;
}

static int
s_nearest(const s_opts_t *opts, const char *query)
{
    orcs_tools_t *tools = s_load(opts, true);
    if (!tools)
        return ORCS__CLI_EXIT_USAGE;
    orcs_toolset_t *set = orcs_tools_acquire(tools);
    json_t *ranked = NULL;
    orcs_toolset_nearest(set, query, (size_t) opts->k, &ranked);
    if (opts->json)
        orcs__cli_print_json(ranked);
    else
        for (size_t i = 0; i < json_array_size(ranked); i++) {
            json_t *hit = json_array_get(ranked, i);
            printf("%6.3f  %s\n",
                   json_number_value(json_object_get(hit, "score")),
                   json_string_value(json_object_get(hit, "name")));
        }
    json_decref(ranked);
    orcs_toolset_release(&set);
    orcs_tools_destroy(&tools);
    return 0;
}

static int
s_check(int argc, char **argv)
{
    int code = 0;
    for (int i = 0; i < argc; i++) {
        FILE *file = fopen(argv[i], "rb");
        if (!file) {
            fprintf(stderr, "%s: cannot open\n", argv[i]);
            code = ORCS__CLI_EXIT_USAGE;
            continue;
        }
        char *text = malloc(ORCS_TOOL_MANIFEST_MAX + 1);
        size_t size =
            text ? fread(text, 1, ORCS_TOOL_MANIFEST_MAX + 1, file) : 0;
        fclose(file);
        char err[1024];
        json_t *manifest = NULL;
        if (!text
            || orcs_tool_manifest_parse(text, size, argv[i], &manifest, err,
                                        sizeof err)
                   != ORCS_OK) {
            fprintf(stderr, "%s\n", text ? err : "out of memory");
            code = ORCS__CLI_EXIT_USAGE;
        } else
            printf("%s: ok (%s)\n", argv[i],
                   json_string_value(json_object_get(manifest, "tool")));
        json_decref(manifest);
        free(text);
    }
    return code;
}

static int
s_reload(const s_opts_t *opts)
{
    char control[PATH_MAX + 32];
    if (opts->endpoint)
        snprintf(control, sizeof control, "%s", opts->endpoint);
    else {
        char absolute[PATH_MAX];
        if (!realpath(opts->data, absolute)) {
            fprintf(stderr, "orcs tools: no data directory %s\n", opts->data);
            return ORCS__CLI_EXIT_FAIL;
        }
        snprintf(control, sizeof control, "ipc://%s/control.sock", absolute);
    }
    json_t *report = NULL;
    orcs_status rc =
        orcs_control_request(control, "reload", NULL, 10000, &report);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs tools: no answer from %s: %s\n", control,
                orcs_status_str(rc));
        json_decref(report);
        return ORCS__CLI_EXIT_FAIL;
    }
    json_t *tools = json_object_get(report, "tools");
    if (opts->json || !json_is_object(tools))
        orcs__cli_print_json(tools ? tools : report);
    else {
        json_t *errors = json_object_get(tools, "errors");
        printf("reloaded: generation %" JSON_INTEGER_FORMAT
               ", %" JSON_INTEGER_FORMAT " tools, %zu errors\n",
               json_integer_value(json_object_get(tools, "generation")),
               json_integer_value(json_object_get(tools, "tools")),
               json_array_size(errors));
        for (size_t i = 0; i < json_array_size(errors); i++)
            printf("  %s\n", json_string_value(json_array_get(errors, i)));
    }
    int code = json_array_size(json_object_get(tools, "errors")) ? 1 : 0;
    json_decref(report);
    return code;
}

int
orcs__cli_tools_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0) {
        fputs(s_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? ORCS__CLI_EXIT_USAGE : 0;
    }
    const char *command = argv[1];
    if (strcmp(command, "check") == 0) {
        if (argc < 3 || strcmp(argv[2], "--help") == 0) {
            fputs(s_usage, argc < 3 ? stderr : stdout);
            return argc < 3 ? ORCS__CLI_EXIT_USAGE : 0;
        }
        return s_check(argc - 2, argv + 2);
    }
    s_opts_t opts = {0};
    if (s_parse(argc - 1, argv + 1, &opts) != 0) {
        fputs(s_usage, stderr);
        return ORCS__CLI_EXIT_USAGE;
    }
    if (opts.help) {
        fputs(s_usage, stdout);
        return 0;
    }
    int rest = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (strcmp(command, "ls") == 0 && rest == 0)
        return s_ls(&opts);
    if (strcmp(command, "nearest") == 0 && rest == 1)
        return s_nearest(&opts, args[0]);
    if (strcmp(command, "reload") == 0 && rest == 0)
        return s_reload(&opts);
    fprintf(stderr, "orcs tools: bad command or arguments\n\n%s", s_usage);
    return ORCS__CLI_EXIT_USAGE;
}
