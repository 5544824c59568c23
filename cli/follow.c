/*  cli/follow.c — following a run until it settles: a live table of its
    nodes on a terminal (redrawn from run.get every 200 ms), then the
    report and the exit code of `orcs run` (FORMATS.md "Runs on the
    command line").
    SPDX-License-Identifier: MPL-2.0 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"
#include "orcs/runs.h"

#define S_POLL_MS    200  // run.get while following
#define S_DURABLE_MS 5000 // wait for the final state to be on disk

static const char *
s_str(const json_t *obj, const char *key, const char *fallback)
{
    const char *value = json_string_value(json_object_get(obj, key));
    return value ? value : fallback;
}

// ---------------------------------------------------------------------------
// The live table

typedef struct {
    int lines;  // drawn last time (to go back over)
    bool color; // ANSI colours
} s_table_t;

static const char *
s_color(const char *status)
{
    if (strcmp(status, "completed") == 0)
        return "\033[32m";
    if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0
        || strcmp(status, "indeterminate") == 0)
        return "\033[31m";
    if (strcmp(status, "running") == 0)
        return "\033[33m";
    if (strncmp(status, "waiting", 7) == 0 || strcmp(status, "paused") == 0)
        return "\033[35m";
    if (strcmp(status, "skipped") == 0)
        return "\033[2m";
    return "";
}

// Seconds a node ran (so far).
static double
s_node_seconds(const json_t *node, int64_t now)
{
    json_int_t started =
        json_integer_value(json_object_get(node, "started_us"));
    json_int_t finished =
        json_integer_value(json_object_get(node, "finished_us"));
    if (started <= 0)
        return -1;
    return (double) ((finished >= started ? finished : now) - started) / 1e6;
}

// One line, cut to the terminal's width (a wrapped line would break the
// redraw).
static void
s_line(s_table_t *t, int width, const char *color, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_line(s_table_t *t, int width, const char *color, const char *fmt, ...)
{
    char buf[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    if (width > 1 && (int) strlen(buf) >= width)
        buf[width - 1] = 0;
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\033')
            *c = ' ';
    if (t->color && color && color[0])
        fprintf(stderr, "%s%s\033[0m\n", color, buf);
    else
        fprintf(stderr, "%s\n", buf);
    t->lines++;
}

static void
s_draw(s_table_t *t, const json_t *view)
{
    struct winsize ws = {0};
    int width = 100, height = 40;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) {
        width = ws.ws_col;
        height = ws.ws_row > 8 ? ws.ws_row : 8;
    }
    if (t->lines > 0)
        fprintf(stderr, "\033[%dA\r\033[J", t->lines);
    t->lines = 0;
    int64_t now = orcs_clock_wall_us();
    const char *status = s_str(view, "status", "?");
    const json_t *usage = json_object_get(view, "usage");
    json_int_t created =
        json_integer_value(json_object_get(view, "created_us"));
    s_line(t, width, s_color(status),
           "run %s  %s  %s  %.1fs  tokens %" JSON_INTEGER_FORMAT
           "+%" JSON_INTEGER_FORMAT "  $%.6f",
           s_str(view, "id", "?"), s_str(view, "workflow", "?"), status,
           created > 0 ? (double) (now - created) / 1e6 : 0.0,
           json_integer_value(json_object_get(usage, "prompt_tokens")),
           json_integer_value(json_object_get(usage, "completion_tokens")),
           json_number_value(json_object_get(usage, "cost")));
    s_line(t, width, NULL, "  %-24s %-8s %-13s %4s %9s  %s", "NODE", "KIND",
           "STATUS", "ATT", "TIME", "");
    const json_t *nodes = json_object_get(view, "nodes");
    int room = height - 4;
    int shown = 0, left = 0;
    const char *id;
    const json_t *node;
    json_object_foreach((json_t *) nodes, id, node)
    {
        if (shown >= room) {
            left++;
            continue;
        }
        shown++;
        const char *st = s_str(node, "status", "?");
        char time[32] = "";
        double seconds = s_node_seconds(node, now);
        if (seconds >= 0)
            snprintf(time, sizeof time, "%.2fs", seconds);
        char note[256] = "";
        const json_t *items = json_object_get(node, "items");
        if (items)
            snprintf(note, sizeof note,
                     "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " items",
                     json_integer_value(json_object_get(items, "done")),
                     json_integer_value(json_object_get(items, "total")));
        else if (json_is_string(json_object_get(node, "error")))
            snprintf(note, sizeof note, "%s", s_str(node, "error", ""));
        s_line(t, width, s_color(st),
               "  %-24s %-8s %-13s %4" JSON_INTEGER_FORMAT " %9s  %s", id,
               s_str(node, "kind", ""), st,
               json_integer_value(json_object_get(node, "attempts")), time,
               note);
    }
    if (left)
        s_line(t, width, NULL, "  ... and %d more nodes", left);
    fflush(stderr);
}

// ---------------------------------------------------------------------------
// Following a run

static bool
s_settled(const char *status)
{
    return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0
           || strcmp(status, "cancelled") == 0
           || strcmp(status, "waiting_approval") == 0
           || strcmp(status, "paused") == 0;
}

// In-process: the orchestrator answers from memory, and its last round may
// still be on its way to the disk; wait until the store says the same
// before the node stops (runs that are not durable have no record).
static void
s_wait_durable(orcs__cli_orch_t *o, const char *run, const char *status)
{
    orcs_store_t *store = o->node ? orcs_node_store(o->node) : NULL;
    int64_t until = orcs_clock_mono_us() + S_DURABLE_MS * 1000;
    while (store && orcs_clock_mono_us() < until) {
        json_t *view = NULL;
        orcs_status rc = orcs_runs_view(store, run, &view);
        bool same =
            rc == ORCS_OK && strcmp(s_str(view, "status", ""), status) == 0;
        json_decref(view);
        if (rc != ORCS_OK || same)
            return;
        usleep(10000);
    }
}

static void
s_report_waiting(orcs__cli_orch_t *o, const json_t *view)
{
    const char *id = s_str(view, "id", "?");
    if (strcmp(s_str(view, "status", ""), "paused") == 0) {
        fprintf(stderr,
                "orcs: run %s is paused; resume it with: orcs runs resume %s "
                "--data %s%s\n",
                id, id, o->data, o->node ? " --follow" : "");
        return;
    }
    fprintf(stderr, "orcs: run %s waits for approval:\n", id);
    size_t i;
    const json_t *approval;
    const char *first = NULL;
    json_array_foreach(json_object_get(view, "approvals"), i, approval)
    {
        if (strcmp(s_str(approval, "state", ""), "pending") != 0)
            continue;
        if (!first)
            first = s_str(approval, "id", "?");
        fprintf(stderr, "  %s (node %s): %s\n", s_str(approval, "id", "?"),
                s_str(approval, "node", "?"), s_str(approval, "prompt", ""));
    }
    fprintf(stderr,
            "approve:  orcs approve %s %s --data %s\n"
            "reject:   orcs approve %s %s --reject --reason TEXT --data %s\n",
            id, first ? first : "ID", o->data, id, first ? first : "ID",
            o->data);
    if (o->node)
        fprintf(stderr,
                "then:     orcs runs resume %s --follow --data %s (with the "
                "same --config), or start a node on %s\n",
                id, o->data, o->data);
}

static int
s_report(orcs__cli_orch_t *o,
         const json_t *view,
         bool as_json,
         bool settled,
         bool print_output)
{
    const char *status = s_str(view, "status", "?");
    const char *id = s_str(view, "id", "?");
    int code = ORCS__CLI_EXIT_FAIL;
    if (strcmp(status, "completed") == 0)
        code = 0;
    else if (strcmp(status, "waiting_approval") == 0
             || strcmp(status, "paused") == 0)
        code = ORCS__CLI_EXIT_WAITING;
    if (as_json)
        orcs__cli_print_json(view);
    if (!settled) {
        if (o->node)
            fprintf(stderr,
                    "orcs: run %s is still %s; it goes on when a node starts "
                    "on %s (orcs runs resume %s --follow --data %s)\n",
                    id, status, o->data, id, o->data);
        else
            fprintf(stderr,
                    "orcs: run %s is still %s; it goes on in the node\n", id,
                    status);
        return ORCS__CLI_EXIT_FAIL;
    }
    const json_t *output = json_object_get(view, "output");
    if (code == 0 && (as_json || !print_output))
        return 0; // printed above, or the caller's to print
    if (code == 0 && json_is_string(output))
        puts(json_string_value(output));
    else if (code == 0)
        orcs__cli_print_json(output);
    else if (code == ORCS__CLI_EXIT_WAITING)
        s_report_waiting(o, view);
    else {
        fprintf(stderr, "orcs: run %s %s: %s\n", id, status,
                s_str(view, "error", "(no error given)"));
        const char *node_id;
        const json_t *node;
        json_object_foreach(json_object_get(view, "nodes"), node_id, node)
        {
            if (json_is_string(json_object_get(node, "error")))
                fprintf(stderr, "  node %s %s: %s\n", node_id,
                        s_str(node, "status", "?"), s_str(node, "error", ""));
        }
    }
    return code;
}

int
orcs__cli_follow(orcs__cli_orch_t *o,
                 const char *run,
                 bool progress,
                 bool as_json,
                 long timeout_s,
                 json_t **view_p)
{
    if (view_p)
        *view_p = NULL;
    int signals[2];
    bool catching = pipe(signals) == 0;
    if (catching)
        orcs__sys_catch_signals(signals[1]);
    int64_t deadline = orcs_clock_mono_us() + (int64_t) timeout_s * 1000000;
    s_table_t table = {.color = isatty(STDERR_FILENO)};
    json_t *view = NULL;
    bool settled = false, interrupted = false;
    orcs_status rc = ORCS_OK;
    for (;;) {
        json_t *next = NULL;
        rc = orcs__cli_orch_view(o, run, &next);
        if (rc == ORCS_OK) {
            json_decref(view);
            view = next;
        } else if (!view || rc != ORCS_ETIMEDOUT) {
            json_decref(next);
            break;
        }
        if (progress)
            s_draw(&table, view);
        settled = s_settled(s_str(view, "status", ""));
        if (settled || orcs_clock_mono_us() >= deadline)
            break;
        struct pollfd item = {catching ? signals[0] : -1, POLLIN, 0};
        if (poll(&item, 1, S_POLL_MS) > 0) {
            interrupted = true;
            break;
        }
    }
    if (catching) {
        orcs__sys_release_signals();
        close(signals[0]);
        close(signals[1]);
    }
    if (!view) {
        fprintf(stderr, "orcs: cannot follow run %s: %s\n", run,
                orcs_status_str(rc));
        return ORCS__CLI_EXIT_FAIL;
    }
    if (interrupted)
        fprintf(stderr, "orcs: interrupted\n");
    if (settled && o->node)
        s_wait_durable(o, run, s_str(view, "status", ""));
    int code = s_report(o, view, as_json, settled && rc == ORCS_OK, !view_p);
    if (view_p)
        *view_p = view;
    else
        json_decref(view);
    return code;
}
