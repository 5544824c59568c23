/*  cli/runs.c — `orcs runs ls|show|cancel|pause|resume` and `orcs
    approve`: through the node running on the data directory when one
    answers, else straight on its store (orcs/runs.h), where a node that
    starts later takes the changes up.
    SPDX-License-Identifier: MPL-2.0 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "orcs/runs.h"

#define S_ASK_MS 30000 // asks that change a run (durable before they answer)

enum {
    S_OPT_JSON = ORCS__CLI_OPT_NEXT,
    S_OPT_STATUS,
    S_OPT_LIMIT,
    S_OPT_FOLLOW,
    S_OPT_TIMEOUT,
    S_OPT_QUIET,
    S_OPT_PROGRESS,
    S_OPT_REJECT,
    S_OPT_REASON,
    S_OPT_BY,
    S_OPT_HELP,
};

static const char s_usage[] =
    "usage: orcs runs COMMAND [ARGS] [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Workflow runs of a data directory: through the node running on it when\n"
    "there is one, else read and changed in its store directly (a node that\n"
    "starts on it later takes the changes up).\n"
    "\n"
    "Commands:\n"
    "  ls [--status S] [--limit N]  runs, newest first\n"
    "  show RUN                     a run's nodes, approvals, output, usage\n"
    "  cancel RUN                   cancel a run (calls in flight too)\n"
    "  pause RUN                    start nothing new; calls in flight end\n"
    "  resume RUN [--follow]        go on with a paused run; --follow runs\n"
    "                               it (in a node started here when none\n"
    "                               runs) and shows it until it ends\n"
    "\n"
    "  --data DIR     the data directory (default: the config's, or "
    "./orcs-data)\n"
    "  --config FILE  a node config (its data directory, and for resume\n"
    "                 --follow the models and tools the run needs)\n"
    "  --json         print JSON for scripts\n"
    "  --help         this text; 'orcs runs COMMAND --help' for one "
    "command\n"
    "\n"
    "Exit codes: 0 ok, 1 failure (an unknown run, a run already finished),\n"
    "2 usage; resume --follow as 'orcs run' (3: waiting for a human).\n";

static const char s_ls_usage[] =
    "usage: orcs runs ls [--status S] [--limit N] [--json] [--data DIR]\n"
    "\n"
    "Lists runs, newest first: id, workflow, status, created and updated\n"
    "times. With a running node, the runs it holds (also those that are not\n"
    "durable) and those of the store.\n"
    "\n"
    "  --status S  only runs in status S: queued, running, paused,\n"
    "              waiting_approval, completed, failed, cancelled\n"
    "  --limit N   at most N runs\n"
    "  --json      {\"runs\": [{\"id\", \"workflow\", \"status\", "
    "\"created_us\",\n"
    "              \"updated_us\"}]}\n";

static const char s_show_usage[] =
    "usage: orcs runs show RUN [--json] [--data DIR]\n"
    "\n"
    "Shows a run: status, each node's status, attempts and time, approvals,\n"
    "output or error, tokens and cost. --json prints the view of\n"
    "docs/workflows.md: {\"id\", \"workflow\", \"status\", \"nodes\",\n"
    "\"approvals\", \"output\", \"error\", \"usage\", ...}.\n";

static const char s_change_usage[] =
    "usage: orcs runs cancel|pause|resume RUN [--data DIR] [--json]\n"
    "       orcs runs resume RUN --follow [options of 'orcs run']\n"
    "\n"
    "cancel: the run ends as cancelled; calls in flight are cancelled.\n"
    "pause: nothing new starts; calls in flight finish.\n"
    "resume: a paused run goes on. Without a running node the change is\n"
    "made in the store; with --follow a node is started in the command (it\n"
    "resumes every unfinished run of the data directory) and the run is\n"
    "shown until it ends, a human is needed again, or --timeout.\n"
    "\n"
    "  --follow           show the run until it ends (exit codes of 'orcs "
    "run')\n"
    "  --timeout S        stop following after S seconds (default 3600)\n"
    "  --progress         live table even when stderr is not a terminal\n"
    "  --quiet            no live table\n"
    "%s";

static const char s_approve_usage[] =
    "usage: orcs approve RUN [ID] [--reject] [--reason TEXT] [--by NAME]\n"
    "                    [--data DIR] [--config FILE] [--json]\n"
    "\n"
    "Decides a pending approval of a run (ID may be left out when the run\n"
    "has exactly one). Through the node running on the data directory, the\n"
    "run goes on at once. Without one, the decision is written to the store\n"
    "and the next node to start on it applies it ('orcs runs resume RUN\n"
    "--follow' starts one).\n"
    "\n"
    "  --reject       reject (the node fails, or its on_timeout/on_error "
    "route\n"
    "                 runs); default: approve\n"
    "  --reason TEXT  why (kept with the approval)\n"
    "  --by NAME      who decides (default: $USER, else cli)\n"
    "  --json         print {\"run\", \"approval\", \"state\"}\n"
    "\n"
    "Exit codes: 0 decided, 1 no such run or approval, or already decided,\n"
    "2 usage.\n";

typedef struct {
    orcs__cli_node_opts_t node; // --data, --config, and resume's others
    bool json;                  // --json
    const char *status;         // --status
    long limit;                 // --limit
    bool follow;                // --follow
    long timeout_s;             // --timeout
    int progress;               // 1 --progress, -1 --quiet
    bool reject;                // --reject
    const char *reason;         // --reason
    const char *by;             // --by
    bool help;                  // --help
} s_opts_t;

static const char *
s_str(const json_t *obj, const char *key, const char *fallback)
{
    const char *value = json_string_value(json_object_get(obj, key));
    return value ? value : fallback;
}

static int
s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option options[] = {
        ORCS__CLI_NODE_OPTIONS,
        {"json", no_argument, NULL, S_OPT_JSON},
        {"status", required_argument, NULL, S_OPT_STATUS},
        {"limit", required_argument, NULL, S_OPT_LIMIT},
        {"follow", no_argument, NULL, S_OPT_FOLLOW},
        {"timeout", required_argument, NULL, S_OPT_TIMEOUT},
        {"quiet", no_argument, NULL, S_OPT_QUIET},
        {"progress", no_argument, NULL, S_OPT_PROGRESS},
        {"reject", no_argument, NULL, S_OPT_REJECT},
        {"reason", required_argument, NULL, S_OPT_REASON},
        {"by", required_argument, NULL, S_OPT_BY},
        {"help", no_argument, NULL, S_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    o->timeout_s = 3600;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;
        if (orcs__cli_node_option(&o->node, opt, optarg))
            continue;
        switch (opt) {
            case S_OPT_JSON:
                o->json = true;
                break;
            case S_OPT_STATUS: {
                orcs_record_status status;
                if (orcs_runs_status_parse(optarg, true, &status) != ORCS_OK) {
                    fprintf(stderr,
                            "orcs: --status: '%s' is not a run status "
                            "(queued, running, paused, waiting_approval, "
                            "completed, failed, cancelled)\n",
                            optarg);
                    return ORCS__CLI_EXIT_USAGE;
                }
                o->status = optarg;
                break;
            }
            case S_OPT_LIMIT:
            case S_OPT_TIMEOUT: {
                long value = strtol(optarg, &end, 10);
                if (!end || *end || value <= 0 || value > 86400L * 7) {
                    fprintf(stderr, "orcs: bad value '%s'\n", optarg);
                    return ORCS__CLI_EXIT_USAGE;
                }
                *(opt == S_OPT_LIMIT ? &o->limit : &o->timeout_s) = value;
                break;
            }
            case S_OPT_FOLLOW:
                o->follow = true;
                break;
            case S_OPT_QUIET:
                o->progress = -1;
                break;
            case S_OPT_PROGRESS:
                o->progress = 1;
                break;
            case S_OPT_REJECT:
                o->reject = true;
                break;
            case S_OPT_REASON:
                o->reason = optarg;
                break;
            case S_OPT_BY:
                o->by = optarg;
                break;
            case S_OPT_HELP:
            case 'h':
                o->help = true;
                break;
            default:
                return ORCS__CLI_EXIT_USAGE;
        }
    }
    return 0;
}

// Finds the node on the data directory. Returns 0 or the exit code.
static int
s_connect(orcs__cli_orch_t *o, const char *command, s_opts_t *opts)
{
    if (orcs__cli_set_log(command, opts->node.log ? opts->node.log : "warn"))
        return ORCS__CLI_EXIT_USAGE;
    int found = orcs__cli_orch_find(o, command, &opts->node);
    return found < 0 ? -found : 0;
}

// The store, or a message and NULL.
static orcs_store_t *
s_store(orcs__cli_orch_t *o, const char *run)
{
    orcs_status rc;
    orcs_store_t *store = orcs__cli_orch_store(o, &rc);
    if (!store && rc == ORCS_ENOTFOUND && run)
        fprintf(stderr, "orcs %s: no run %s (no store in %s)\n", o->command,
                run, o->data);
    else if (!store && rc != ORCS_ENOTFOUND)
        fprintf(stderr, "orcs %s: cannot open the store in %s: %s\n",
                o->command, o->data, orcs_status_str(rc));
    return store;
}

static int
s_fail(orcs__cli_orch_t *o, const char *run, orcs_status rc, const json_t *r)
{
    if (rc == ORCS_ENOTFOUND && !json_object_get(r, "error"))
        fprintf(stderr, "orcs %s: no run %s in %s\n", o->command, run, o->data);
    else if (rc == ORCS_EPROTO && !json_object_get(r, "error"))
        fprintf(stderr,
                "orcs %s: run %s: damaged records in the store of %s (the "
                "log above says which)\n",
                o->command, run, o->data);
    else
        fprintf(stderr, "orcs %s: %s\n", o->command,
                s_str(r, "error", orcs_status_str(rc)));
    return rc == ORCS_EINVAL && !run ? ORCS__CLI_EXIT_USAGE
                                     : ORCS__CLI_EXIT_FAIL;
}

// ---------------------------------------------------------------------------
// ls

static int
s_newest_first(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *) a;
    const json_t *y = *(const json_t *const *) b;
    json_int_t cx = json_integer_value(json_object_get(x, "created_us"));
    json_int_t cy = json_integer_value(json_object_get(y, "created_us"));
    if (cx != cy)
        return cx < cy ? 1 : -1;
    return strcmp(s_str(y, "id", ""), s_str(x, "id", ""));
}

// The node's runs over the store's (the node's entry wins), filtered,
// newest first.
static json_t *
s_merge(const json_t *stored, const json_t *held, const s_opts_t *opts)
{
    json_t *by_id = json_object();
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(stored, "runs"), i, entry)
        json_object_set(by_id, s_str(entry, "id", ""), entry);
    json_array_foreach(json_object_get(held, "runs"), i, entry)
        json_object_set(by_id, s_str(entry, "id", ""), entry);
    size_t count = 0;
    json_t **all = orcs_calloc(json_object_size(by_id) + 1, sizeof *all);
    const char *id;
    json_object_foreach(by_id, id, entry)
    {
        if (!opts->status
            || strcmp(s_str(entry, "status", ""), opts->status) == 0)
            all[count++] = entry;
    }
    qsort(all, count, sizeof *all, s_newest_first);
    json_t *runs = json_array();
    for (size_t k = 0;
         k < count && (opts->limit <= 0 || (long) k < opts->limit); k++)
        json_array_append(runs, all[k]);
    free(all);
    json_decref(by_id);
    return json_pack("{s:o}", "runs", runs);
}

static int
s_ls(orcs__cli_orch_t *o, s_opts_t *opts, int argc)
{
    if (argc != 0) {
        fputs(s_ls_usage, stderr);
        return ORCS__CLI_EXIT_USAGE;
    }
    json_t *held = NULL, *stored = NULL;
    if (o->remote) {
        json_t *body = json_object();
        orcs_status rc = orcs__cli_orch_ask(o, "run.list", body, 10000, &held);
        json_decref(body);
        if (rc != ORCS_OK) {
            int code = s_fail(o, NULL, rc, held);
            json_decref(held);
            return code;
        }
    }
    orcs_status rc;
    orcs_store_t *store = orcs__cli_orch_store(o, &rc);
    if (store)
        rc = orcs_runs_list(store, NULL, 0, &stored);
    if (rc != ORCS_OK && rc != ORCS_ENOTFOUND) {
        json_decref(held);
        return s_fail(o, NULL, rc, NULL);
    }
    if (json_integer_value(json_object_get(stored, "damaged")) > 0)
        fprintf(stderr,
                "orcs runs ls: %" JSON_INTEGER_FORMAT
                " damaged run records left out\n",
                json_integer_value(json_object_get(stored, "damaged")));
    json_t *list = s_merge(stored, held, opts);
    json_decref(held);
    json_decref(stored);
    if (opts->json)
        orcs__cli_print_json(list);
    else {
        size_t i;
        json_t *run;
        char created[32], updated[32];
        if (json_array_size(json_object_get(list, "runs")))
            printf("%-20s %-20s %-17s %-20s %s\n", "ID", "WORKFLOW", "STATUS",
                   "CREATED", "UPDATED");
        json_array_foreach(json_object_get(list, "runs"), i, run)
        {
            printf("%-20s %-20s %-17s %-20s %s\n", s_str(run, "id", "?"),
                   s_str(run, "workflow", "?"), s_str(run, "status", "?"),
                   orcs__cli_time(
                       json_integer_value(json_object_get(run, "created_us")),
                       created, sizeof created),
                   orcs__cli_time(
                       json_integer_value(json_object_get(run, "updated_us")),
                       updated, sizeof updated));
        }
    }
    json_decref(list);
    return 0;
}

// ---------------------------------------------------------------------------
// show

void
orcs__cli_print_view(const json_t *view)
{
    char created[32], updated[32];
    const json_t *usage = json_object_get(view, "usage");
    printf("run %s (%s): %s\n", s_str(view, "id", "?"),
           s_str(view, "workflow", "?"), s_str(view, "status", "?"));
    printf(
        "created %s, updated %s\n",
        orcs__cli_time(json_integer_value(json_object_get(view, "created_us")),
                       created, sizeof created),
        orcs__cli_time(json_integer_value(json_object_get(view, "updated_us")),
                       updated, sizeof updated));
    printf("usage: %" JSON_INTEGER_FORMAT " + %" JSON_INTEGER_FORMAT
           " tokens, %" JSON_INTEGER_FORMAT " requests, $%.6f\n",
           json_integer_value(json_object_get(usage, "prompt_tokens")),
           json_integer_value(json_object_get(usage, "completion_tokens")),
           json_integer_value(json_object_get(usage, "requests")),
           json_number_value(json_object_get(usage, "cost")));
    if (json_is_string(json_object_get(view, "error")))
        printf("error: %s\n", s_str(view, "error", ""));
    printf("\n%-24s %-8s %-13s %4s %9s  %s\n", "NODE", "KIND", "STATUS", "ATT",
           "TIME", "");
    const char *id;
    const json_t *node;
    json_object_foreach(json_object_get(view, "nodes"), id, node)
    {
        json_int_t started =
            json_integer_value(json_object_get(node, "started_us"));
        json_int_t finished =
            json_integer_value(json_object_get(node, "finished_us"));
        char time[32] = "";
        if (started > 0 && finished >= started)
            snprintf(time, sizeof time, "%.2fs",
                     (double) (finished - started) / 1e6);
        char note[600] = "";
        const json_t *items = json_object_get(node, "items");
        if (items)
            snprintf(note, sizeof note,
                     "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " items",
                     json_integer_value(json_object_get(items, "done")),
                     json_integer_value(json_object_get(items, "total")));
        else if (json_is_string(json_object_get(node, "error")))
            snprintf(note, sizeof note, "%s", s_str(node, "error", ""));
        printf("%-24s %-8s %-13s %4" JSON_INTEGER_FORMAT " %9s  %s\n", id,
               s_str(node, "kind", ""), s_str(node, "status", "?"),
               json_integer_value(json_object_get(node, "attempts")), time,
               note);
    }
    size_t i;
    const json_t *approval;
    json_array_foreach(json_object_get(view, "approvals"), i, approval)
    {
        if (i == 0)
            printf("\napprovals:\n");
        printf("  %s  node %s  %s%s%s: %s\n", s_str(approval, "id", "?"),
               s_str(approval, "node", "?"), s_str(approval, "state", "?"),
               json_is_string(json_object_get(approval, "by")) ? " by " : "",
               s_str(approval, "by", ""), s_str(approval, "prompt", ""));
    }
    const json_t *output = json_object_get(view, "output");
    if (output && !json_is_null(output)) {
        printf("\noutput:\n");
        if (json_is_string(output))
            printf("%s\n", json_string_value(output));
        else
            orcs__cli_print_json(output);
    }
}

static int
s_show(orcs__cli_orch_t *o, s_opts_t *opts, int argc, char **argv)
{
    if (argc != 1) {
        fputs(s_show_usage, stderr);
        return ORCS__CLI_EXIT_USAGE;
    }
    json_t *view = NULL;
    orcs_status rc;
    if (!o->remote && !s_store(o, argv[0]))
        return ORCS__CLI_EXIT_FAIL;
    rc = orcs__cli_orch_view(o, argv[0], &view);
    if (rc != ORCS_OK) {
        int code = s_fail(o, argv[0], rc, view);
        json_decref(view);
        return code;
    }
    if (opts->json)
        orcs__cli_print_json(view);
    else
        orcs__cli_print_view(view);
    json_decref(view);
    return 0;
}

// ---------------------------------------------------------------------------
// cancel, pause, resume

static int
s_changed(orcs__cli_orch_t *o,
          s_opts_t *opts,
          const char *run,
          const char *status)
{
    if (opts->json) {
        json_t *doc = json_pack("{s:s, s:s}", "run", run, "status", status);
        orcs__cli_print_json(doc);
        json_decref(doc);
    } else
        printf("run %s: %s\n", run, status);
    (void) o;
    return 0;
}

// Offline: the change in the store.
static int
s_change_offline(orcs__cli_orch_t *o,
                 s_opts_t *opts,
                 const char *what,
                 const char *run)
{
    orcs_store_t *store = s_store(o, run);
    if (!store)
        return ORCS__CLI_EXIT_FAIL;
    json_t *view = NULL;
    orcs_status rc = orcs_runs_view(store, run, &view);
    if (rc != ORCS_OK) {
        json_decref(view);
        return s_fail(o, run, rc, NULL);
    }
    const char *before = s_str(view, "status", "?");
    orcs_record_status target = ORCS_RECORD_CANCELED;
    if (strcmp(what, "pause") == 0)
        target = ORCS_RECORD_PAUSED;
    else if (strcmp(what, "resume") == 0)
        target = strcmp(before, "paused") == 0 ? ORCS_RECORD_RUNNING
                                               : ORCS_RECORD_UNSET;
    if (target != ORCS_RECORD_UNSET)
        rc = orcs_runs_set_status(store, run, target);
    if (rc == ORCS_EINVAL)
        fprintf(stderr, "orcs runs %s: run %s is %s\n", what, run, before);
    else if (rc != ORCS_OK)
        s_fail(o, run, rc, NULL);
    int code = rc == ORCS_OK ? 0 : ORCS__CLI_EXIT_FAIL;
    if (code == 0 && !opts->follow) // else the view at the end
        s_changed(o, opts, run,
                  target == ORCS_RECORD_UNSET
                      ? before
                      : orcs_runs_status_name(target, true));
    if (code == 0 && strcmp(what, "pause") == 0)
        fprintf(stderr,
                "orcs runs pause: no node runs on %s; the run stays paused "
                "until 'orcs runs resume %s'\n",
                o->data, run);
    else if (code == 0 && strcmp(what, "resume") == 0 && !opts->follow)
        fprintf(stderr,
                "orcs runs resume: no node runs on %s; the run goes on when "
                "one starts there (orcs runs resume %s --follow)\n",
                o->data, run);
    json_decref(view);
    return code;
}

static int
s_change(orcs__cli_orch_t *o,
         s_opts_t *opts,
         const char *what,
         int argc,
         char **argv)
{
    if (argc != 1) {
        fprintf(stderr, s_change_usage, orcs__cli_node_options_help);
        return ORCS__CLI_EXIT_USAGE;
    }
    const char *run = argv[0];
    if (!o->remote) {
        int code = s_change_offline(o, opts, what, run);
        if (code || !opts->follow || strcmp(what, "resume") != 0)
            return code;
        code = orcs__cli_orch_start(o, &opts->node); // resumes the run
        if (code)
            return code;
    } else {
        char type[32];
        snprintf(type, sizeof type, "run.%s", what);
        json_t *body = json_pack("{s:s}", "run", run);
        json_t *reply = NULL;
        orcs_status rc = orcs__cli_orch_ask(o, type, body, S_ASK_MS, &reply);
        json_decref(body);
        int code = rc != ORCS_OK ? s_fail(o, run, rc, reply)
                   : opts->follow && strcmp(what, "resume") == 0
                       ? 0 // the view at the end
                       : s_changed(o, opts, run, s_str(reply, "status", "?"));
        json_decref(reply);
        if (code || !opts->follow || strcmp(what, "resume") != 0)
            return code;
    }
    bool progress =
        opts->progress > 0 || (opts->progress == 0 && isatty(STDERR_FILENO));
    return orcs__cli_follow(o, run, progress, opts->json, opts->timeout_s,
                            NULL);
}

// ---------------------------------------------------------------------------
// approve

// The only pending approval of a run (view), or NULL with a message.
static const char *
s_only_pending(orcs__cli_orch_t *o, const json_t *view)
{
    const char *found = NULL;
    int count = 0;
    size_t i;
    const json_t *approval;
    json_array_foreach(json_object_get(view, "approvals"), i, approval)
    {
        if (strcmp(s_str(approval, "state", ""), "pending") == 0) {
            found = s_str(approval, "id", NULL);
            count++;
        }
    }
    if (count == 0)
        fprintf(stderr, "orcs %s: run %s has no pending approval (%s)\n",
                o->command, s_str(view, "id", "?"), s_str(view, "status", "?"));
    else if (count > 1)
        fprintf(stderr,
                "orcs %s: run %s has %d pending approvals; name one (orcs "
                "runs show %s)\n",
                o->command, s_str(view, "id", "?"), count,
                s_str(view, "id", "?"));
    if (count != 1)
        return NULL;
    return found;
}

static int
s_decided(s_opts_t *opts, const char *run, const char *id, const char *state)
{
    if (opts->json) {
        json_t *doc = json_pack("{s:s, s:s, s:s}", "run", run, "approval", id,
                                "state", state);
        orcs__cli_print_json(doc);
        json_decref(doc);
    } else
        printf("run %s: approval %s %s\n", run, id, state);
    return 0;
}

static int
s_approve(orcs__cli_orch_t *o, s_opts_t *opts, int argc, char **argv)
{
    const char *run = argv[0];
    json_t *view = NULL;
    orcs_status rc = ORCS_OK;
    if (!o->remote && !s_store(o, run))
        return ORCS__CLI_EXIT_FAIL;
    const char *id = argc == 2 ? argv[1] : NULL;
    if (!id) {
        rc = orcs__cli_orch_view(o, run, &view);
        if (rc != ORCS_OK) {
            int code = s_fail(o, run, rc, view);
            json_decref(view);
            return code;
        }
        id = s_only_pending(o, view);
        if (!id) {
            json_decref(view);
            return ORCS__CLI_EXIT_FAIL;
        }
    }
    const char *by = opts->by ? opts->by : getenv("USER");
    const char *state = opts->reject ? "rejected" : "approved";
    int code = 0;
    if (o->remote) {
        json_t *body = json_pack("{s:s, s:s, s:b, s:s, s:s}", "run", run,
                                 "approval", id, "approve", !opts->reject,
                                 "reason", opts->reason ? opts->reason : "",
                                 "by", by && by[0] ? by : "cli");
        json_t *reply = NULL;
        rc = orcs__cli_orch_ask(o, "run.approve", body, S_ASK_MS, &reply);
        json_decref(body);
        code = rc == ORCS_OK ? s_decided(opts, run, id, state)
                             : s_fail(o, run, rc, reply);
        json_decref(reply);
    } else {
        rc = orcs_runs_decide(s_store(o, run), run, id, !opts->reject,
                              opts->reason, by && by[0] ? by : NULL);
        if (rc == ORCS_OK) {
            code = s_decided(opts, run, id, state);
            fprintf(stderr,
                    "orcs approve: no node runs on %s; the next one to start "
                    "there applies the decision (orcs runs resume %s "
                    "--follow)\n",
                    o->data, run);
        } else if (rc == ORCS_EEXIST) {
            fprintf(stderr,
                    "orcs approve: approval %s of run %s is no "
                    "longer pending\n",
                    id, run);
            code = ORCS__CLI_EXIT_FAIL;
        } else if (rc == ORCS_ENOTFOUND) {
            fprintf(stderr, "orcs approve: run %s has no approval %s\n", run,
                    id);
            code = ORCS__CLI_EXIT_FAIL;
        } else
            code = s_fail(o, run, rc, NULL);
    }
    json_decref(view);
    return code;
}

int
orcs__cli_approve_main(int argc, char **argv)
{
    s_opts_t opts = {0};
    int code = s_parse(argc, argv, &opts);
    if (code || opts.help) {
        fputs(s_approve_usage, code ? stderr : stdout);
        return code;
    }
    int args = argc - optind;
    if (args < 1 || args > 2) {
        fprintf(stderr, "orcs approve: give RUN and an approval ID\n\n%s",
                s_approve_usage);
        return ORCS__CLI_EXIT_USAGE;
    }
    orcs__cli_orch_t o = {0};
    code = s_connect(&o, "approve", &opts);
    if (code == 0)
        code = s_approve(&o, &opts, args, argv + optind);
    orcs__cli_orch_close(&o);
    return code;
}

// ---------------------------------------------------------------------------
// orcs runs

int
orcs__cli_runs_main(int argc, char **argv)
{
    s_opts_t opts = {0};
    int code = s_parse(argc, argv, &opts);
    const char *command = optind < argc ? argv[optind] : NULL;
    bool change =
        command
        && (strcmp(command, "cancel") == 0 || strcmp(command, "pause") == 0
            || strcmp(command, "resume") == 0);
    bool known = command
                 && (change || strcmp(command, "ls") == 0
                     || strcmp(command, "show") == 0);
    if (code || opts.help || !known) {
        FILE *out = code || !opts.help ? stderr : stdout;
        if (command && !known)
            fprintf(out, "orcs runs: unknown command '%s'\n\n", command);
        if (change)
            fprintf(out, s_change_usage, orcs__cli_node_options_help);
        else if (known)
            fputs(strcmp(command, "ls") == 0 ? s_ls_usage : s_show_usage, out);
        else
            fputs(s_usage, out);
        return opts.help && !code && (known || !command) ? 0
                                                         : ORCS__CLI_EXIT_USAGE;
    }
    char label[32];
    snprintf(label, sizeof label, "runs %s", command);
    orcs__cli_orch_t o = {0};
    code = s_connect(&o, label, &opts);
    int args = argc - optind - 1;
    char **rest = argv + optind + 1;
    if (code == 0 && strcmp(command, "ls") == 0)
        code = s_ls(&o, &opts, args);
    else if (code == 0 && strcmp(command, "show") == 0)
        code = s_show(&o, &opts, args, rest);
    else if (code == 0)
        code = s_change(&o, &opts, command, args, rest);
    orcs__cli_orch_close(&o);
    return code;
}
