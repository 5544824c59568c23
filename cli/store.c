/*  store.c — `orcs store`: memory keys, snapshots and artifacts of a
    node's data directory, read and written directly in DATA/store. The
    artifact commands are in store_artifact.c.
    SPDX-License-Identifier: MPL-2.0

    The command opens the LMDB environment itself; a running node may use
    it at the same time (LMDB serialises writers across processes with its
    lock file, and readers never block). It acts as the node itself: the
    memory access rules do not apply, and --tenant picks the isolation
    prefix. Exit codes: 0 ok, 1 failure (not found included), 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store.h"

static const char s_usage[] =
    "usage: orcs store [--data DIR] [--json] [--tenant PREFIX] COMMAND "
    "[ARGS]\n"
    "\n"
    "Reads and writes a node's store (DIR/store) directly; a running node\n"
    "may use it at the same time. The command acts as the node itself, so\n"
    "the memory access rules do not apply.\n"
    "\n"
    "Commands:\n"
    "  stats                      size and entries of each sub-database\n"
    "  get SCOPE KEY              a key's value\n"
    "  put SCOPE KEY JSON         put a value (JSON text)\n"
    "  ls SCOPE [PREFIX]          keys of a scope\n"
    "  rm SCOPE KEY               delete a key and its versions\n"
    "  snapshot SCOPE [NAME]      save a scope as snapshot NAME (no NAME: "
    "list)\n"
    "  restore SCOPE NAME         make a scope hold what a snapshot holds\n"
    "  artifacts [ID]             list artifacts, or show and verify one\n"
    "  lineage ID                 what an artifact was made from and into\n"
    "\n"
    "SCOPE is global, workflow:ID, task:ID, agent:ID or thread:ID.\n"
    "\n"
    "  --data DIR       the node's data directory (default ./orcs-data)\n"
    "  --json           print JSON for scripts\n"
    "  --tenant PREFIX  the isolation prefix of memory keys (default none)\n"
    "  --help           this text; 'orcs store COMMAND --help' for one "
    "command\n"
    "Exit codes: 0 ok, 1 failure (a missing key included), 2 usage.\n";

static const char s_stats_usage[] =
    "usage: orcs store stats [--data DIR] [--json]\n"
    "\n"
    "Prints the store's path, map size and use, commits, and the entries of\n"
    "each sub-database (memory, artifacts, runs, tasks, ...).\n";

static const char s_get_usage[] =
    "usage: orcs store get SCOPE KEY [--version N | --history] [--json]\n"
    "\n"
    "Prints the value of KEY in SCOPE as JSON text. With --json, the whole\n"
    "entry: {\"key\", \"version\", \"value\", \"updated_us\", \"expires_us\",\n"
    "\"writer\", \"schema\"}.\n"
    "\n"
    "  --version N  an older version (the last versions_kept are kept)\n"
    "  --history    every kept version, newest first (as JSON)\n";

static const char s_put_usage[] =
    "usage: orcs store put SCOPE KEY JSON [--ttl MS] [--expect-version N]\n"
    "\n"
    "Puts JSON (any JSON text: '{\"a\": 1}', '\"text\"', 42) as the new\n"
    "version of KEY and prints the version.\n"
    "\n"
    "  --ttl MS            the key expires MS milliseconds from now\n"
    "  --expect-version N  compare-and-set: only if KEY is at version N\n"
    "                      (0: only if absent); exit 1 otherwise\n";

static const char s_ls_usage[] =
    "usage: orcs store ls SCOPE [PREFIX] [--limit N] [--json]\n"
    "\n"
    "Lists the live keys of SCOPE (starting with PREFIX) in key order, with\n"
    "version, update time and expiry.\n"
    "\n"
    "  --limit N  at most N keys (default 100000)\n";

static const char s_rm_usage[] =
    "usage: orcs store rm SCOPE KEY\n"
    "\n"
    "Deletes KEY and its kept versions; exit 1 when it is absent.\n";

static const char s_snapshot_usage[] =
    "usage: orcs store snapshot SCOPE [NAME] [--json]\n"
    "\n"
    "Saves the live keys of SCOPE as snapshot NAME ([A-Za-z0-9_.-]{1,63}),\n"
    "replacing one of that name. Without NAME, lists the snapshots.\n";

static const char s_restore_usage[] =
    "usage: orcs store restore SCOPE NAME\n"
    "\n"
    "Makes SCOPE hold exactly what snapshot NAME holds: other keys are\n"
    "deleted, the snapshot's are put as new versions (so the values they\n"
    "replace stay in their history). Keys whose TTL passed stay absent.\n";

// ---------------------------------------------------------------------------
// Output

void
orcs__cli_print_json(const json_t *doc)
{
    char *text = orcs_doc_to_text(doc, JSON_INDENT(2));
    puts(text ? text : "null");
    free(text);
}

int
orcs__cli_set_log(const char *command, const char *name)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, levels[i]) == 0) {
            orcs_log_level_set((orcs_log_level) i);
            return 0;
        }
    fprintf(stderr, "orcs %s: --log must be error, warn, info or debug\n",
            command);
    return ORCS__CLI_EXIT_USAGE;
}

const char *
orcs__cli_time(int64_t us, char *buf, size_t size)
{
    if (us <= 0)
        return "-";
    time_t t = (time_t) (us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Reports a library failure; returns the exit code.
int
orcs__cli_fail(const char *what, orcs_status rc)
{
    fprintf(stderr, "orcs store %s: %s (%s)\n", what, orcs_status_str(rc),
            orcs_status_name(rc));
    return rc == ORCS_EINVAL ? ORCS__CLI_EXIT_USAGE : ORCS__CLI_EXIT_FAIL;
}

int
orcs__cli_usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "orcs store: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return ORCS__CLI_EXIT_USAGE;
}

// ---------------------------------------------------------------------------
// Memory commands

static int
s_check_scope(const char *scope, const char *usage)
{
    if (orcs_memory_scope_is_valid(scope))
        return 0;
    return orcs__cli_usage_error(
        usage,
        "bad scope '%s' (global, workflow:ID, task:ID, "
        "agent:ID or thread:ID)",
        scope);
}

static int
s_cmd_get(orcs__cli_store_t *c)
{
    orcs__cli_opts_t *o = c->opts;
    if (o->arg_count != 2)
        return orcs__cli_usage_error(s_get_usage, "%s",
                                     "get needs SCOPE and KEY");
    if (s_check_scope(o->args[0], s_get_usage))
        return ORCS__CLI_EXIT_USAGE;
    json_t *out = NULL;
    orcs_status rc;
    if (o->history)
        rc = orcs_memory_history(c->memory, NULL, o->args[0], o->args[1], &out);
    else
        rc = orcs_memory_get_entry(c->memory, NULL, o->args[0], o->args[1],
                                   o->version > 0 ? (uint64_t) o->version : 0,
                                   &out);
    if (rc != ORCS_OK)
        return orcs__cli_fail("get", rc);
    orcs__cli_print_json(o->json || o->history ? out
                                               : json_object_get(out, "value"));
    json_decref(out);
    return 0;
}

static int
s_cmd_put(orcs__cli_store_t *c)
{
    orcs__cli_opts_t *o = c->opts;
    if (o->arg_count != 3)
        return orcs__cli_usage_error(s_put_usage, "%s",
                                     "put needs SCOPE, KEY and a JSON value");
    if (s_check_scope(o->args[0], s_put_usage))
        return ORCS__CLI_EXIT_USAGE;
    json_error_t error;
    json_t *value = json_loads(o->args[2], JSON_DECODE_ANY, &error);
    if (!value)
        return orcs__cli_usage_error(s_put_usage, "the value is not JSON: %s",
                                     error.text);
    orcs_memory_put_opts_t opts = {o->ttl_ms, o->expect >= 0,
                                   o->expect >= 0 ? (uint64_t) o->expect : 0};
    uint64_t version = 0;
    orcs_status rc = orcs_memory_put(c->memory, NULL, o->args[0], o->args[1],
                                     value, &opts, &version);
    json_decref(value);
    if (rc == ORCS_EEXIST) {
        fprintf(stderr, "orcs store put: %s is not at version %lld\n",
                o->args[1], o->expect);
        return ORCS__CLI_EXIT_FAIL;
    }
    if (rc != ORCS_OK)
        return orcs__cli_fail("put", rc);
    if (o->json)
        printf("{\"version\": %" PRIu64 "}\n", version);
    else
        printf("version %" PRIu64 "\n", version);
    return 0;
}

static int
s_cmd_ls(orcs__cli_store_t *c)
{
    orcs__cli_opts_t *o = c->opts;
    if (o->arg_count < 1 || o->arg_count > 2)
        return orcs__cli_usage_error(s_ls_usage, "%s",
                                     "ls needs SCOPE [PREFIX]");
    if (s_check_scope(o->args[0], s_ls_usage))
        return ORCS__CLI_EXIT_USAGE;
    json_t *list = NULL;
    orcs_status rc = orcs_memory_list(c->memory, NULL, o->args[0],
                                      o->arg_count == 2 ? o->args[1] : NULL,
                                      (size_t) o->limit, &list);
    if (rc != ORCS_OK)
        return orcs__cli_fail("ls", rc);
    if (o->json) {
        orcs__cli_print_json(list);
    } else {
        size_t i;
        json_t *entry;
        json_array_foreach(list, i, entry)
        {
            char updated[32], expires[32];
            printf("%-40s v%-6" JSON_INTEGER_FORMAT " %s  expires %s\n",
                   json_string_value(json_object_get(entry, "key")),
                   json_integer_value(json_object_get(entry, "version")),
                   orcs__cli_time(
                       json_integer_value(json_object_get(entry, "updated_us")),
                       updated, sizeof updated),
                   orcs__cli_time(
                       json_integer_value(json_object_get(entry, "expires_us")),
                       expires, sizeof expires));
        }
    }
    json_decref(list);
    return 0;
}

static int
s_cmd_rm(orcs__cli_store_t *c)
{
    orcs__cli_opts_t *o = c->opts;
    if (o->arg_count != 2)
        return orcs__cli_usage_error(s_rm_usage, "%s",
                                     "rm needs SCOPE and KEY");
    if (s_check_scope(o->args[0], s_rm_usage))
        return ORCS__CLI_EXIT_USAGE;
    orcs_status rc =
        orcs_memory_delete(c->memory, NULL, o->args[0], o->args[1]);
    if (rc != ORCS_OK)
        return orcs__cli_fail("rm", rc);
    puts(o->json ? "{\"deleted\": true}" : "deleted");
    return 0;
}

static int
s_cmd_snapshot(orcs__cli_store_t *c, bool restore)
{
    orcs__cli_opts_t *o = c->opts;
    const char *usage = restore ? s_restore_usage : s_snapshot_usage;
    if (o->arg_count < (restore ? 2 : 1) || o->arg_count > 2)
        return orcs__cli_usage_error(usage, "%s",
                                     restore ? "restore needs SCOPE and NAME"
                                             : "snapshot needs SCOPE [NAME]");
    if (s_check_scope(o->args[0], usage))
        return ORCS__CLI_EXIT_USAGE;
    if (o->arg_count == 1) {
        json_t *list = NULL;
        orcs_status rc =
            orcs_memory_snapshots(c->memory, NULL, o->args[0], &list);
        if (rc != ORCS_OK)
            return orcs__cli_fail("snapshot", rc);
        if (o->json)
            orcs__cli_print_json(list);
        size_t i;
        json_t *snap;
        json_array_foreach(list, i, snap)
        {
            char when[32];
            if (!o->json)
                printf("%-24s %6" JSON_INTEGER_FORMAT " keys  %s\n",
                       json_string_value(json_object_get(snap, "name")),
                       json_integer_value(json_object_get(snap, "keys")),
                       orcs__cli_time(json_integer_value(
                                          json_object_get(snap, "created_us")),
                                      when, sizeof when));
        }
        json_decref(list);
        return 0;
    }
    size_t count = 0;
    orcs_status rc = restore ? orcs_memory_restore(c->memory, NULL, o->args[0],
                                                   o->args[1], &count)
                             : orcs_memory_snapshot(c->memory, NULL, o->args[0],
                                                    o->args[1], &count);
    if (rc != ORCS_OK)
        return orcs__cli_fail(restore ? "restore" : "snapshot", rc);
    if (o->json)
        printf("{\"keys\": %zu}\n", count);
    else
        printf("%zu keys %s\n", count, restore ? "restored" : "saved");
    return 0;
}

// ---------------------------------------------------------------------------
// Stats

static int
s_cmd_stats(orcs__cli_store_t *c)
{
    if (c->opts->arg_count != 0)
        return orcs__cli_usage_error(s_stats_usage, "%s",
                                     "stats takes no argument");
    json_t *stats = orcs_store_stats(c->store);
    if (!stats) {
        fprintf(stderr, "orcs store stats: no statistics\n");
        return ORCS__CLI_EXIT_FAIL;
    }
    if (c->opts->json) {
        orcs__cli_print_json(stats);
        json_decref(stats);
        return 0;
    }
    printf("store %s\n", json_string_value(json_object_get(stats, "path")));
    printf("map   %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
           " bytes used (max %" JSON_INTEGER_FORMAT ")\n",
           json_integer_value(json_object_get(stats, "map_used")),
           json_integer_value(json_object_get(stats, "map_size")),
           json_integer_value(json_object_get(stats, "map_max")));
    const char *name;
    json_t *db;
    json_object_foreach(json_object_get(stats, "dbs"), name, db)
    {
        printf("  %-12s %10" JSON_INTEGER_FORMAT " entries\n", name,
               json_integer_value(json_object_get(db, "entries")));
    }
    json_decref(stats);
    return 0;
}

// ---------------------------------------------------------------------------
// Arguments

static bool
s_number(const char *text, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || !end || *end || end == text || v < min || v > max)
        return false;
    *out = v;
    return true;
}

typedef struct {
    const char *name;  // command
    const char *usage; // its help
} s_command_t;

static const s_command_t s_commands[] = {
    {"stats", s_stats_usage},
    {"get", s_get_usage},
    {"put", s_put_usage},
    {"ls", s_ls_usage},
    {"rm", s_rm_usage},
    {"snapshot", s_snapshot_usage},
    {"restore", s_restore_usage},
    {"artifacts", orcs__cli_artifacts_usage},
    {"lineage", orcs__cli_lineage_usage},
    {NULL, NULL},
};

static const char *
s_command_usage(const char *name)
{
    for (size_t i = 0; s_commands[i].name; i++)
        if (strcmp(s_commands[i].name, name) == 0)
            return s_commands[i].usage;
    return NULL;
}

enum {
    S_OPT_TTL = 256,
    S_OPT_EXPECT,
    S_OPT_LIMIT,
    S_OPT_HISTORY,
    S_OPT_ADD,
    S_OPT_TYPE,
    S_OPT_INPUT,
    S_OPT_SIGN,
    S_OPT_RUN,
    S_OPT_ACTOR,
    S_OPT_OUTPUT,
    S_OPT_DIRECTION,
    S_OPT_DEPTH,
    S_OPT_VERSION
};

// One option; returns 0 or an exit code.
static int
s_option(orcs__cli_opts_t *o, int opt, const char *arg)
{
    bool ok = true;
    switch (opt) {
        case 'd':
            o->data = arg;
            break;
        case 'j':
            o->json = true;
            break;
        case 't':
            o->tenant = arg;
            break;
        case 'h':
            o->help = true;
            break;
        case S_OPT_HISTORY:
            o->history = true;
            break;
        case S_OPT_SIGN:
            o->sign = true;
            break;
        case S_OPT_ADD:
            o->add = arg;
            break;
        case S_OPT_TYPE:
            o->type = arg;
            break;
        case S_OPT_RUN:
            o->run = arg;
            break;
        case S_OPT_ACTOR:
            o->actor = arg;
            break;
        case S_OPT_OUTPUT:
            o->output = arg;
            break;
        case S_OPT_DIRECTION:
            o->direction = arg;
            break;
        case S_OPT_VERSION:
            ok = s_number(arg, 1, INT64_MAX, &o->version);
            break;
        case S_OPT_TTL:
            ok = s_number(arg, 1, ORCS_MEMORY_TTL_MAX_MS, &o->ttl_ms);
            break;
        case S_OPT_EXPECT:
            ok = s_number(arg, 0, INT64_MAX, &o->expect);
            break;
        case S_OPT_LIMIT:
            ok = s_number(arg, 1, ORCS_MEMORY_LIST_MAX, &o->limit);
            break;
        case S_OPT_DEPTH:
            ok = s_number(arg, 1, 1000000, &o->depth);
            break;
        case S_OPT_INPUT:
            ok = o->input_count < ORCS_ARTIFACT_INPUTS_MAX
                 && orcs_artifacts_id_is_valid(arg);
            if (ok)
                o->inputs[o->input_count++] = arg;
            break;
        default:
            fputs(s_usage, stderr);
            return ORCS__CLI_EXIT_USAGE;
    }
    if (!ok) {
        fprintf(stderr, "orcs store: bad value '%s'\n\n%s", arg, s_usage);
        return ORCS__CLI_EXIT_USAGE;
    }
    return 0;
}

static int
s_parse(int argc, char **argv, orcs__cli_opts_t *o)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"tenant", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", required_argument, NULL, S_OPT_VERSION},
        {"history", no_argument, NULL, S_OPT_HISTORY},
        {"ttl", required_argument, NULL, S_OPT_TTL},
        {"expect-version", required_argument, NULL, S_OPT_EXPECT},
        {"limit", required_argument, NULL, S_OPT_LIMIT},
        {"add", required_argument, NULL, S_OPT_ADD},
        {"type", required_argument, NULL, S_OPT_TYPE},
        {"input", required_argument, NULL, S_OPT_INPUT},
        {"sign", no_argument, NULL, S_OPT_SIGN},
        {"run", required_argument, NULL, S_OPT_RUN},
        {"actor", required_argument, NULL, S_OPT_ACTOR},
        {"output", required_argument, NULL, S_OPT_OUTPUT},
        {"direction", required_argument, NULL, S_OPT_DIRECTION},
        {"depth", required_argument, NULL, S_OPT_DEPTH},
        {NULL, 0, NULL, 0},
    };
    o->data = "./orcs-data";
    o->version = -1;
    o->expect = -1;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:jt:h", options, NULL)) != -1) {
        int code = s_option(o, opt, optarg);
        if (code)
            return code;
    }
    o->args = argv + optind;
    o->arg_count = argc - optind;
    return 0;
}

// ---------------------------------------------------------------------------
// Entry point

static orcs_status
s_tenant_prefix(const char *caller, char *prefix, size_t size, void *arg)
{
    (void) caller;
    snprintf(prefix, size, "%s", (const char *) arg);
    return ORCS_OK;
}

static int
s_open(orcs__cli_store_t *c)
{
    struct stat st;
    if (stat(c->opts->data, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "orcs store: no data directory %s\n", c->opts->data);
        return ORCS__CLI_EXIT_FAIL;
    }
    if (c->opts->tenant && strlen(c->opts->tenant) > ORCS_MEMORY_PREFIX_MAX) {
        fprintf(stderr, "orcs store: --tenant is at most %u bytes\n",
                ORCS_MEMORY_PREFIX_MAX);
        return ORCS__CLI_EXIT_USAGE;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/store", c->opts->data);
    c->store = orcs_store_new();
    orcs_status rc = orcs_store_open(c->store, path, NULL);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs store: cannot open %s: %s\n", path,
                orcs_status_str(rc));
        return ORCS__CLI_EXIT_FAIL;
    }
    c->memory = orcs_memory_new(c->store);
    if (c->opts->tenant)
        orcs_memory_set_isolation(c->memory, s_tenant_prefix,
                                  (void *) c->opts->tenant);
    c->artifacts = orcs_artifacts_new(c->store, c->opts->data);
    return 0;
}

static int
s_run(orcs__cli_store_t *c, const char *command)
{
    if (strcmp(command, "stats") == 0)
        return s_cmd_stats(c);
    if (strcmp(command, "get") == 0)
        return s_cmd_get(c);
    if (strcmp(command, "put") == 0)
        return s_cmd_put(c);
    if (strcmp(command, "ls") == 0)
        return s_cmd_ls(c);
    if (strcmp(command, "rm") == 0)
        return s_cmd_rm(c);
    if (strcmp(command, "snapshot") == 0)
        return s_cmd_snapshot(c, false);
    if (strcmp(command, "restore") == 0)
        return s_cmd_snapshot(c, true);
    if (strcmp(command, "artifacts") == 0)
        return orcs__cli_artifacts(c);
    return orcs__cli_lineage(c);
}

int
orcs__cli_store_main(int argc, char **argv)
{
    orcs__cli_opts_t opts = {0};
    int code = s_parse(argc, argv, &opts);
    if (code)
        return code;
    const char *command = opts.arg_count > 0 ? opts.args[0] : NULL;
    const char *usage = command ? s_command_usage(command) : NULL;
    if (opts.help) {
        fputs(usage ? usage : s_usage, stdout);
        return 0;
    }
    if (!command) {
        fputs(s_usage, stderr);
        return ORCS__CLI_EXIT_USAGE;
    }
    if (!usage) {
        fprintf(stderr, "orcs store: unknown command '%s'\n\n%s", command,
                s_usage);
        return ORCS__CLI_EXIT_USAGE;
    }
    opts.args++;
    opts.arg_count--;
    orcs__cli_store_t c = {&opts, NULL, NULL, NULL};
    code = s_open(&c);
    if (code == 0)
        code = s_run(&c, command);
    orcs_artifacts_destroy(&c.artifacts);
    orcs_memory_destroy(&c.memory);
    orcs_store_destroy(&c.store);
    return code;
}
