/*  cli/flow.c — `orcs run FLOW.yaml`, `orcs plan` and `orcs validate`
    (FORMATS.md "Runs on the command line", docs/workflows.md). Following
    a run and its live table are in cli/follow.c.
    SPDX-License-Identifier: MPL-2.0

    A run goes to the node already running on the data directory when one
    answers on its control endpoint; otherwise the command starts a node of
    its own for the length of the run. Exit codes: 0 completed, 1 failed or
    cancelled (or given up on: timeout, Ctrl-C), 2 usage, config or
    validation error, 3 the run waits for a human (an approval, or paused);
    a run submitted to a running node without --follow exits 0 once it is
    accepted. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "orcs/agent.h"
#include "orcs/runs.h"
#include "orcs/workflow.h"

#define S_START_MS    30000 // run.start (durable before it answers)
#define S_INPUT_FILE  (16u * 1024 * 1024) // --input k=@file
#define S_TIMEOUT_MAX (86400L * 7)

enum {
    S_OPT_INPUT = ORCS__CLI_OPT_NEXT,
    S_OPT_FOLLOW,
    S_OPT_AUTO_APPROVE,
    S_OPT_RUN,
    S_OPT_JSON,
    S_OPT_TIMEOUT,
    S_OPT_QUIET,
    S_OPT_PROGRESS,
    S_OPT_PLANNER,
    S_OPT_ID,
    S_OPT_PLAN_RUN,
    S_OPT_HELP,
};

static const char s_run_usage[] =
    "usage: orcs run FLOW.yaml [--input K=V ...] [options]\n"
    "       orcs run --agent FILE [options] PROMPT   (one agent; see "
    "'orcs run --agent x --help')\n"
    "\n"
    "Runs a workflow (FORMATS.md \"Workflow\", docs/workflows.md). When a\n"
    "node runs on the data directory, the run is submitted to it and its id\n"
    "printed (with --follow, its progress is shown until it ends);\n"
    "otherwise a node is started inside the command for the length of the\n"
    "run. Runs are durable: a run left unfinished (Ctrl-C, --timeout, a\n"
    "crash) goes on when a node starts on the data directory.\n"
    "\n"
    "  --input K=V        an input: V is taken as JSON when it parses as\n"
    "                     JSON, else as a string; K=@FILE reads V from FILE\n"
    "  --follow           with a running node: show progress until the end\n"
    "  --auto-approve     approve every approval of the run at once\n"
    "  --run ID           run id (default: generated)\n"
    "  --json             print the run's final view as JSON (with a running\n"
    "                     node and no --follow: {\"run\", \"status\"})\n"
    "  --timeout S        stop following after S seconds (default 3600)\n"
    "  --progress         live table even when stderr is not a terminal\n"
    "  --quiet            no live table\n"
    "%s"
    "  --help             this text\n"
    "\n"
    "Exit codes: 0 completed, 1 failed or cancelled (or still running at\n"
    "--timeout or Ctrl-C), 2 usage, config or validation error, 3 waiting\n"
    "for a human: approve with 'orcs approve RUN ID', then 'orcs runs\n"
    "resume RUN --follow' (or a running node) finishes the run.\n";

static const char s_plan_usage[] =
    "usage: orcs plan REQUEST --planner PLAN.yaml [--run] [options]\n"
    "\n"
    "Asks a planner agent to break REQUEST into tasks for the roles of\n"
    "PLAN.yaml, checks and compiles its plan into a workflow\n"
    "(docs/workflows.md \"Planner\"). Without --run prints the compiled\n"
    "workflow (JSON, which `orcs run` takes as a workflow file); with --run\n"
    "runs it and prints its output, like `orcs run`.\n"
    "\n"
    "PLAN.yaml: {planner: AGENT FILE, roles: {ROLE: AGENT FILE}, attempts: 3,\n"
    "replans: 1}; paths are relative to PLAN.yaml.\n"
    "\n"
    "  --planner FILE     the plan file (required)\n"
    "  --run              run the plan, not just make it\n"
    "  --follow           with a running node and --run: show progress\n"
    "  --auto-approve     approve every approval of the run at once\n"
    "  --id ID            run id (default: generated)\n"
    "  --json             print the run's final view as JSON\n"
    "  --timeout S        stop following after S seconds (default 3600)\n"
    "  --progress         live table even when stderr is not a terminal\n"
    "  --quiet            no live table\n"
    "%s"
    "  --help             this text\n"
    "\n"
    "Exit codes as `orcs run`: 0, 1 failed, 2 usage or a bad plan file, 3\n"
    "waiting for a human.\n";

static const char s_validate_usage[] =
    "usage: orcs validate FLOW.yaml [--json]\n"
    "\n"
    "Loads a workflow file and checks everything that can be checked before\n"
    "a run: keys and values, node references, cycles, templates and\n"
    "conditions, types seen statically. Prints every error as\n"
    "FILE:LINE: what (stderr), or \"FILE: ok (N nodes)\".\n"
    "\n"
    "  --json   print {\"file\", \"ok\", \"nodes\", \"errors\": [...]}\n"
    "  --help   this text\n"
    "\n"
    "Exit codes: 0 valid, 2 errors (or the file cannot be read).\n";

static void
s_usage(const char *usage, FILE *out)
{
    fprintf(out, usage, orcs__cli_node_options_help);
}

static int
s_usage_error(const char *command, const char *usage, const char *what)
{
    fprintf(stderr, "orcs %s: %s\n\n", command, what);
    s_usage(usage, stderr);
    return ORCS__CLI_EXIT_USAGE;
}

static const char *
s_str(const json_t *obj, const char *key, const char *fallback)
{
    const char *value = json_string_value(json_object_get(obj, key));
    return value ? value : fallback;
}

// ---------------------------------------------------------------------------
// Inputs

// Reads a whole file (at most S_INPUT_FILE bytes). Caller frees.
static char *
s_read_file(const char *path, size_t *size_p, char *err, size_t err_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = orcs_malloc(S_INPUT_FILE + 1);
    size_t size = fread(text, 1, S_INPUT_FILE + 1, file);
    bool failed = ferror(file);
    fclose(file);
    if (failed || size > S_INPUT_FILE) {
        snprintf(err, err_size, "%s: %s", path,
                 failed ? "cannot be read" : "over 16 MiB");
        free(text);
        return NULL;
    }
    text[size] = 0;
    *size_p = size;
    return text;
}

// K=V (V as JSON when it parses, else a string) or K=@FILE into inputs.
static bool
s_add_input(json_t *inputs, const char *arg, char *err, size_t err_size)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(err, err_size, "--input %s: use NAME=VALUE or NAME=@FILE",
                 arg);
        return false;
    }
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int) (eq - arg), arg);
    const char *value = eq + 1;
    char *text = NULL;
    size_t size = strlen(value);
    if (value[0] == '@') {
        text = s_read_file(value + 1, &size, err, err_size);
        if (!text)
            return false;
        value = text;
    }
    json_t *doc = json_loadb(value, size, JSON_DECODE_ANY, NULL);
    if (!doc && text && strlen(arg) > 5
        && strcmp(arg + strlen(arg) - 5, ".json") == 0) {
        json_error_t jerr;
        json_decref(json_loadb(value, size, JSON_DECODE_ANY, &jerr));
        snprintf(err, err_size, "--input %s: line %d: %s", arg, jerr.line,
                 jerr.text);
        free(text);
        return false;
    }
    if (!doc)
        doc = json_stringn(value, size);
    free(text);
    if (!doc) {
        snprintf(err, err_size, "--input %s: the value is not UTF-8", arg);
        return false;
    }
    json_object_set_new(inputs, name, doc);
    return true;
}

// ---------------------------------------------------------------------------
// Submitting

typedef struct {
    orcs__cli_node_opts_t node; // node options
    json_t *inputs;             // --input
    bool follow;                // --follow
    bool auto_approve;          // --auto-approve
    const char *run;            // --run / --id
    bool json;                  // --json
    long timeout_s;             // --timeout
    int progress;               // 1 --progress, -1 --quiet, 0 a tty decides
    const char *planner;        // plan: --planner
    bool plan_run;              // plan: --run
} s_opts_t;

// Sends run.start (body borrowed); on success copies the run id out.
static int
s_start(orcs__cli_orch_t *o, const json_t *body, char *run, size_t size)
{
    json_t *reply = NULL;
    orcs_status rc =
        orcs__cli_orch_ask(o, "run.start", body, S_START_MS, &reply);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs %s: the run was not started: %s\n", o->command,
                s_str(reply, "error", orcs_status_str(rc)));
        size_t i;
        json_t *line;
        json_array_foreach(json_object_get(reply, "errors"), i, line)
        {
            if (i > 0 && json_is_string(line))
                fprintf(stderr, "%s\n", json_string_value(line));
        }
        json_decref(reply);
        return rc == ORCS_EINVAL || rc == ORCS_ECONFIG || rc == ORCS_EEXIST
                   ? ORCS__CLI_EXIT_USAGE
                   : ORCS__CLI_EXIT_FAIL;
    }
    snprintf(run, size, "%s", s_str(reply, "run", ""));
    json_decref(reply);
    return 0;
}

// Submits body (run.start) to the running node or one started here, and
// follows the run (always with a node of our own; with --follow, or when
// must_follow, with a running node).
static int
s_submit(const char *command,
         s_opts_t *opts,
         json_t *body,
         bool must_follow,
         json_t **view_p)
{
    if (opts->run)
        json_object_set_new(body, "run", json_string(opts->run));
    if (opts->auto_approve)
        json_object_set_new(body, "auto_approve", json_true());
    orcs__cli_orch_t o = {0};
    int found = orcs__cli_orch_find(&o, command, &opts->node);
    if (found < 0)
        return -found;
    int code = 0;
    if (!found) {
        code = orcs__cli_orch_start(&o, &opts->node);
        if (code)
            return code;
    } else if (orcs__cli_set_log(command,
                                 opts->node.log ? opts->node.log : "warn")) {
        return ORCS__CLI_EXIT_USAGE;
    }
    char run[ORCS_RUNS_ID_MAX + 1] = "";
    code = s_start(&o, body, run, sizeof run);
    bool follow = !found || opts->follow || must_follow;
    if (code == 0 && !follow) {
        if (opts->json) {
            json_t *started =
                json_pack("{s:s, s:s}", "run", run, "status", "queued");
            orcs__cli_print_json(started);
            json_decref(started);
        } else
            puts(run);
    } else if (code == 0) {
        bool progress = opts->progress > 0
                        || (opts->progress == 0 && isatty(STDERR_FILENO));
        code = orcs__cli_follow(&o, run, progress, opts->json, opts->timeout_s,
                                view_p);
    }
    orcs__cli_orch_close(&o);
    return code;
}

// Options shared by run and plan; returns 0, or -1 for an option not
// handled here, or the exit code of a bad value.
static int
s_option(const char *command, s_opts_t *o, int opt, const char *arg)
{
    char err[1024];
    if (orcs__cli_node_option(&o->node, opt, arg))
        return 0;
    switch (opt) {
        case S_OPT_INPUT:
            if (!s_add_input(o->inputs, arg, err, sizeof err)) {
                fprintf(stderr, "orcs %s: %s\n", command, err);
                return ORCS__CLI_EXIT_USAGE;
            }
            return 0;
        case S_OPT_FOLLOW:
            o->follow = true;
            return 0;
        case S_OPT_AUTO_APPROVE:
            o->auto_approve = true;
            return 0;
        case S_OPT_RUN:
        case S_OPT_ID:
            o->run = arg;
            return 0;
        case S_OPT_JSON:
            o->json = true;
            return 0;
        case S_OPT_TIMEOUT: {
            char *end = NULL;
            o->timeout_s = strtol(arg, &end, 10);
            if (!end || *end || o->timeout_s <= 0
                || o->timeout_s > S_TIMEOUT_MAX) {
                fprintf(stderr, "orcs %s: --timeout takes 1 to %ld seconds\n",
                        command, S_TIMEOUT_MAX);
                return ORCS__CLI_EXIT_USAGE;
            }
            return 0;
        }
        case S_OPT_QUIET:
            o->progress = -1;
            return 0;
        case S_OPT_PROGRESS:
            o->progress = 1;
            return 0;
        case S_OPT_PLANNER:
            o->planner = arg;
            return 0;
        case S_OPT_PLAN_RUN:
            o->plan_run = true;
            return 0;
        default:
            return -1;
    }
}

#define S_COMMON_OPTIONS                                                 \
    ORCS__CLI_NODE_OPTIONS, {"follow", no_argument, NULL, S_OPT_FOLLOW}, \
        {"auto-approve", no_argument, NULL, S_OPT_AUTO_APPROVE},         \
        {"json", no_argument, NULL, S_OPT_JSON},                         \
        {"timeout", required_argument, NULL, S_OPT_TIMEOUT},             \
        {"quiet", no_argument, NULL, S_OPT_QUIET},                       \
        {"progress", no_argument, NULL, S_OPT_PROGRESS},                 \
    {                                                                    \
        "help", no_argument, NULL, S_OPT_HELP                            \
    }

// Parses argv into opts; positional arguments stay in argv[optind...].
// Returns 0, 1 for --help (printed), or the exit code.
static int
s_parse(const char *command,
        const char *usage,
        const struct option *options,
        int argc,
        char **argv,
        s_opts_t *opts)
{
    opts->timeout_s = 3600;
    opts->inputs = json_object();
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == S_OPT_HELP || opt == 'h') {
            s_usage(usage, stdout);
            return -1;
        }
        int code = s_option(command, opts, opt, optarg);
        if (code < 0) {
            s_usage(usage, stderr);
            return ORCS__CLI_EXIT_USAGE;
        }
        if (code)
            return code;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// orcs run FLOW.yaml

static void
s_print_errors(const json_t *errors)
{
    size_t i;
    json_t *line;
    json_array_foreach(errors, i, line)
        fprintf(stderr, "%s\n", json_string_value(line));
}

// Loads the workflow and checks the inputs before anything starts.
static int
s_check_flow(const char *path, const json_t *given)
{
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    orcs_status rc = orcs_workflow_load(path, &wf, &errors);
    if (rc != ORCS_OK) {
        if (json_array_size(errors))
            s_print_errors(errors);
        else
            fprintf(stderr, "%s: %s\n", path, orcs_status_str(rc));
        json_decref(errors);
        return ORCS__CLI_EXIT_USAGE;
    }
    json_decref(errors);
    char err[1024];
    json_t *inputs = NULL;
    rc = orcs_workflow_inputs(wf, given, &inputs, err, sizeof err);
    json_decref(inputs);
    orcs_workflow_destroy(&wf);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs run: %s\n", err);
        return ORCS__CLI_EXIT_USAGE;
    }
    return 0;
}

int
orcs__cli_flow_run_main(int argc, char **argv)
{
    static const struct option options[] = {
        S_COMMON_OPTIONS,
        {"input", required_argument, NULL, S_OPT_INPUT},
        {"run", required_argument, NULL, S_OPT_RUN},
        {NULL, 0, NULL, 0},
    };
    s_opts_t opts = {0};
    int code = s_parse("run", s_run_usage, options, argc, argv, &opts);
    if (code || optind != argc - 1) {
        json_decref(opts.inputs);
        if (code < 0)
            return 0;
        return code ? code
                    : s_usage_error("run", s_run_usage,
                                    "give one workflow file (FLOW.yaml), or "
                                    "--agent FILE and a PROMPT");
    }
    char path[PATH_MAX];
    if (!realpath(argv[optind], path)) {
        fprintf(stderr, "orcs run: %s: %s\n", argv[optind], strerror(errno));
        json_decref(opts.inputs);
        return ORCS__CLI_EXIT_USAGE;
    }
    code = s_check_flow(argv[optind], opts.inputs); // messages name it so
    if (code) {
        json_decref(opts.inputs);
        return code;
    }
    json_t *body =
        json_pack("{s:s, s:o}", "workflow", path, "inputs", opts.inputs);
    code = s_submit("run", &opts, body, false, NULL);
    json_decref(body);
    return code;
}

// ---------------------------------------------------------------------------
// orcs plan

typedef struct {
    orcs_yaml_t *yaml;
    const char *file;
    char dir[PATH_MAX];
    int errors;
} s_planfile_t;

static void
s_plan_error(s_planfile_t *p, const char *path, bool key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_plan_error(s_planfile_t *p, const char *path, bool key, const char *fmt, ...)
{
    char text[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    int line =
        key ? orcs_yaml_key_line(p->yaml, path) : orcs_yaml_line(p->yaml, path);
    fprintf(stderr, "%s:%d: %s\n", p->file, line, text);
    p->errors++;
}

// An agent file named at path (relative to the plan file): absolute, and
// loadable. Returns a new string or NULL (the error printed).
static json_t *
s_plan_agent(s_planfile_t *p, const char *path, const json_t *value)
{
    const char *name = json_string_value(value);
    if (!name || !name[0]) {
        s_plan_error(p, path, false, "%s: expected the path of an agent file",
                     path);
        return NULL;
    }
    char joined[PATH_MAX * 2], absolute[PATH_MAX];
    snprintf(joined, sizeof joined, "%s%s%s", name[0] == '/' ? "" : p->dir,
             name[0] == '/' ? "" : "/", name);
    if (!realpath(joined, absolute)) {
        s_plan_error(p, path, false, "%s: %s: %s", path, name, strerror(errno));
        return NULL;
    }
    char err[1024] = "";
    json_t *agent = NULL;
    if (orcs_agent_load(absolute, &agent, err, sizeof err) != ORCS_OK) {
        s_plan_error(p, path, false, "%s: %s", path, err);
        return NULL;
    }
    json_decref(agent);
    return json_string(absolute);
}

static json_int_t
s_plan_int(s_planfile_t *p,
           const json_t *doc,
           const char *key,
           json_int_t fallback,
           json_int_t max)
{
    const json_t *value = json_object_get(doc, key);
    if (!value)
        return fallback;
    if (!json_is_integer(value) || json_integer_value(value) < 0
        || json_integer_value(value) > max
        || (strcmp(key, "attempts") == 0 && json_integer_value(value) < 1)) {
        s_plan_error(p, key, false, "%s: expected an integer from %d to %d",
                     key, strcmp(key, "attempts") == 0 ? 1 : 0, (int) max);
        return fallback;
    }
    return json_integer_value(value);
}

// Reads PLAN.yaml into the "plan" of run.start (without request and only).
static json_t *
s_plan_load(const char *file)
{
    s_planfile_t p = {.file = file};
    char err[1024];
    if (orcs_yaml_load(file, &p.yaml, err, sizeof err) != ORCS_OK) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    char absolute[PATH_MAX];
    if (!realpath(file, absolute))
        snprintf(absolute, sizeof absolute, "%s", file);
    char *slash = strrchr(absolute, '/');
    snprintf(p.dir, sizeof p.dir, "%.*s", slash ? (int) (slash - absolute) : 1,
             slash ? absolute : ".");
    const json_t *doc = orcs_yaml_doc(p.yaml);
    json_t *plan = json_object();
    if (!json_is_object(doc)) {
        s_plan_error(&p, "", false,
                     "expected a mapping: {planner, roles, attempts, "
                     "replans}");
        goto done;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *) doc, key, value)
    {
        if (strcmp(key, "planner") && strcmp(key, "roles")
            && strcmp(key, "attempts") && strcmp(key, "replans"))
            s_plan_error(&p, key, true,
                         "%s: unknown key (planner, roles, attempts, "
                         "replans)",
                         key);
    }
    if (!json_object_get(doc, "planner"))
        s_plan_error(&p, "", false, "planner: required (an agent file)");
    else {
        json_t *planner =
            s_plan_agent(&p, "planner", json_object_get(doc, "planner"));
        if (planner)
            json_object_set_new(plan, "planner", planner);
    }
    const json_t *roles = json_object_get(doc, "roles");
    json_t *resolved = json_object();
    if (!json_is_object(roles) || json_object_size(roles) == 0)
        s_plan_error(&p, roles ? "roles" : "", false,
                     "roles: required, a mapping ROLE: agent file");
    json_object_foreach((json_t *) (json_is_object(roles) ? roles : NULL), key,
                        value)
    {
        char path[512];
        snprintf(path, sizeof path, "roles.%s", key);
        json_t *agent =
            strpbrk(key, ".[\\") ? NULL : s_plan_agent(&p, path, value);
        if (agent)
            json_object_set_new(resolved, key, agent);
        else if (strpbrk(key, ".[\\"))
            s_plan_error(&p, "roles", false, "roles: bad role name '%s'", key);
    }
    json_object_set_new(plan, "roles", resolved);
    json_object_set_new(plan, "attempts",
                        json_integer(s_plan_int(&p, doc, "attempts", 3, 20)));
    json_object_set_new(plan, "replans",
                        json_integer(s_plan_int(&p, doc, "replans", 1, 10)));
done:
    orcs_yaml_destroy(&p.yaml);
    if (p.errors) {
        json_decref(plan);
        return NULL;
    }
    return plan;
}

int
orcs__cli_plan_main(int argc, char **argv)
{
    static const struct option options[] = {
        S_COMMON_OPTIONS,
        {"planner", required_argument, NULL, S_OPT_PLANNER},
        {"run", no_argument, NULL, S_OPT_PLAN_RUN},
        {"id", required_argument, NULL, S_OPT_ID},
        {NULL, 0, NULL, 0},
    };
    s_opts_t opts = {0};
    int code = s_parse("plan", s_plan_usage, options, argc, argv, &opts);
    json_decref(opts.inputs);
    if (code < 0)
        return 0;
    if (code)
        return code;
    if (optind != argc - 1 || !argv[optind][0])
        return s_usage_error("plan", s_plan_usage, "give one REQUEST");
    if (!opts.planner)
        return s_usage_error("plan", s_plan_usage,
                             "--planner PLAN.yaml is required");
    json_t *plan = s_plan_load(opts.planner);
    if (!plan)
        return ORCS__CLI_EXIT_USAGE;
    json_object_set_new(plan, "request", json_string(argv[optind]));
    json_object_set_new(plan, "only", json_boolean(!opts.plan_run));
    json_t *body = json_pack("{s:o}", "plan", plan);
    if (opts.plan_run) {
        code = s_submit("plan", &opts, body, false, NULL);
        json_decref(body);
        return code;
    }
    json_t *view = NULL;
    code = s_submit("plan", &opts, body, true, &view);
    json_decref(body);
    if (code == 0 && view && !opts.json)
        orcs__cli_print_json(
            json_object_get(json_object_get(view, "output"), "workflow"));
    json_decref(view);
    return code;
}

// ---------------------------------------------------------------------------
// orcs validate

int
orcs__cli_validate_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool as_json = false;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "jh", options, NULL)) != -1) {
        if (opt == 'j')
            as_json = true;
        else if (opt == 'h') {
            fputs(s_validate_usage, stdout);
            return 0;
        } else {
            fputs(s_validate_usage, stderr);
            return ORCS__CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "orcs validate: give one workflow file\n\n%s",
                s_validate_usage);
        return ORCS__CLI_EXIT_USAGE;
    }
    const char *file = argv[optind];
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    orcs_status rc = orcs_workflow_load(file, &wf, &errors);
    if (!errors)
        errors = json_array();
    if (rc != ORCS_OK && json_array_size(errors) == 0) {
        char line[PATH_MAX + 64];
        snprintf(line, sizeof line, "%s: %s", file, orcs_status_str(rc));
        json_array_append_new(errors, json_string(line));
    }
    size_t nodes = wf ? wf->count : 0;
    s_print_errors(errors);
    if (as_json) {
        json_t *report =
            json_pack("{s:s, s:b, s:I, s:O}", "file", file, "ok", rc == ORCS_OK,
                      "nodes", (json_int_t) nodes, "errors", errors);
        orcs__cli_print_json(report);
        json_decref(report);
    } else if (rc == ORCS_OK)
        printf("%s: ok (%zu nodes)\n", file, nodes);
    json_decref(errors);
    orcs_workflow_destroy(&wf);
    return rc == ORCS_OK ? 0 : ORCS__CLI_EXIT_USAGE;
}
