/*  workflow_chaos.c — the workflow engine's crash test.
    `workflow_chaos ORCS SOURCE_DIR [KILLS]` runs the workflow of
    tests/integration/chaos/ on a real node (`orcs node`) and kills the
    node with SIGKILL at random moments, KILLS times (default 30),
    restarting it each time on the same data directory, then lets the run
    finish and checks what happened.
    SPDX-License-Identifier: MPL-2.0

    The workflow (chaos/flow.yaml) has a root tool, two parallel chains, a
    branch with a skipped target, a map over six items (two at a time), two
    approvals, a join, two non-idempotent tools with on_indeterminate:
    ask, one more tool and an end. Its tools are exec tools
    (chaos/tools/record.sh): every real invocation appends "KEY START_NS
    MODE" to log/invocations; the effect of the idempotent tool is
    appended to log/effects once per idempotency key, that of the
    non-idempotent one on every invocation.

    Between kills the test decides the approvals as a user would, with
    `orcs approve`: `review_off` while the node is down (the decision is
    written to the store and applied by the next node), `review_on` in one
    of the next two lives of the node, while it runs (through the node),
    both from about half the kills on (so that many kills land on a run
    waiting for them, and the rest on the work after them), and every
    approval of kind "indeterminate" (a non-idempotent task found in
    flight after a crash) as it comes, online or offline at random.

    At the end, from the CLI (`orcs runs show --json`, `orcs store stats`)
    and from the store itself (include/orcs/runs.h, store.h, record.h):
    - the run completed; every node and map item completed, `skipme`
      skipped, with the idempotency key RUN/0/TASK;
    - no task ran after it completed (no invocation started after its
      finished_us), no task has two completion checkpoints, no tool ran
      more often than its record counts attempts (each start is durable
      before the call), and each attempt after the first is explained by
      a restart that found the task in flight (a retry checkpoint) or by
      an approved indeterminate approval;
    - each idempotent task's effect happened exactly once;
    - the non-idempotent `b2` (on_indeterminate: retry) ran at most once
      more than the restarts that found it in flight, `once` and `c1`
      (on_indeterminate: ask) at most once more than their approved
      indeterminate approvals (one per indeterminate checkpoint), and each
      made its effect at least once;
    - both approvals exist once, were approved when and as the test
      decided them (decided_us within the approve command's window, `by`
      chaos-offline or chaos-online), and their nodes' outputs say
      approved: true; no approval is left pending;
    - the checkpoints (in `tasks`, each beside the record of the task it
      names, the run's own under RUN\0c; none in the old `checkpoints`
      layout) are 1..N with no gap, each record carries its key's seq,
      the run record's checkpoint_seq is at most N and its attempt is
      one more than the "resumed" checkpoints; `orcs runs ls` lists the
      run;
    - the run's output holds the map's six results in order.
    Set CHAOS_SEED to replay the random choices (the timing still varies)
    and CHAOS_VERBOSE to see the counts per task; on failure the work
    directory is kept, and the counts and the node's log are printed. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orcs/doc.h"
#include "orcs/orcs.h"
#include "orcs/record.h"
#include "orcs/runs.h"
#include "orcs/store.h"
#include "records.pb.h"

#define C_RUN           "chaos-1"
#define C_KILLS         30        // default kills
#define C_KILL_MIN_MS   50        // a kill comes C_KILL_MIN_MS..C_KILL_MAX_MS
#define C_KILL_MAX_MS   600       // after the node was started
#define C_UP_MS         60000     // a node must answer within this
#define C_CMD_MS        60000     // a CLI command must end within this
#define C_FINISH_MS     120000    // the run must finish within this at the end
#define C_STOP_MS       60000     // SIGTERM to exit
#define C_MIN_IN_FLIGHT 10        // kills that must land on an unfinished run
#define C_ITEMS         6         // items of the map
#define C_OUT_MAX       (4 << 20) // bytes of a command's output kept

// ---------------------------------------------------------------------------
// What the workflow must end with (chaos/flow.yaml)

typedef enum {
    T_NONE = 0, // not a tool
    T_IDEM,     // idempotent tool: effect exactly once
    T_RETRY,    // non-idempotent, on_indeterminate: retry
    T_ASK       // non-idempotent, on_indeterminate: ask
} c_tool;

typedef struct {
    char id[64];        // task id
    const char *status; // expected status name
    c_tool tool;
    // found
    bool found;         // a task record exists
    TaskRecord record;  // its record
    int invocations;    // lines in log/invocations
    int late;           // of those, started after finished_us
    int effects;        // lines in log/effects
    int completed;      // completed (4)
    int skipped;        // skipped (7)
    int retried;        // retry (6)
    int indeterminate;  // indeterminate (10)
    int approved_indet; // approved approvals of kind indeterminate
    int approvals;      // approvals of any kind for this task
} c_task_t;

static const struct {
    const char *id;
    const char *status;
    c_tool tool;
} s_expected[] = {
    {"root", "completed", T_IDEM},      {"a1", "completed", T_IDEM},
    {"a2", "completed", T_IDEM},        {"a3", "completed", T_IDEM},
    {"b1", "completed", T_IDEM},        {"b2", "completed", T_RETRY},
    {"b3", "completed", T_IDEM},        {"pick", "completed", T_NONE},
    {"taken", "completed", T_IDEM},     {"skipme", "skipped", T_NONE},
    {"fan", "completed", T_NONE},       {"review_off", "completed", T_NONE},
    {"review_on", "completed", T_NONE}, {"join", "completed", T_NONE},
    {"once", "completed", T_ASK},       {"c1", "completed", T_ASK},
    {"c2", "completed", T_IDEM},        {"end", "completed", T_NONE},
};
#define C_TOP   (sizeof s_expected / sizeof s_expected[0])
#define C_TASKS (C_TOP + C_ITEMS)

// ---------------------------------------------------------------------------
// The test's state

typedef struct {
    const char *orcs;   // the program
    char src[PATH_MAX]; // tests/integration/chaos
    char work[64];      // the temporary work directory
    char data[96];      // WORK/data
    char node_log[PATH_MAX + 16];
    char cmd_out[PATH_MAX + 16];
    unsigned seed;
    int kills_wanted;
    // the node
    pid_t node;
    int64_t node_started_ms;
    // counters
    int kills;
    int restarts;
    int in_flight;     // kills that found the run unfinished afterwards
    int waiting_kills; // kills while the run waited for a human
    int offline_decisions, online_decisions;
    // approvals decided by the test: id -> {"window": [from, to], "by", "ok"}
    json_t *decided;
    int decide_from;   // kills before the reviews are decided
    int off_at, on_at; // kill numbers from which the two are decided
    int fails;
    c_task_t tasks[C_TASKS];
} c_test_t;

static void
c_fail(c_test_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "workflow_chaos: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    t->fails++;
}

static void
c_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("workflow_chaos: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static int64_t
c_mono_ms(void)
{
    return orcs_clock_mono_us() / 1000;
}

static void
c_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

// ---------------------------------------------------------------------------
// Files

static int
c_copy(const char *from, const char *to, mode_t mode)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return -1;
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!out) {
        fclose(in);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char buf[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    fclose(in);
    if (fclose(out) != 0)
        rc = -1;
    return rc;
}

static int
c_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

// Reads a whole file (NUL-terminated); NULL when it cannot.
static char *
c_slurp(const char *path, size_t *size_p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t alloc = 8192, size = 0;
    char *buf = malloc(alloc);
    size_t n;
    while ((n = fread(buf + size, 1, alloc - size - 1, f)) > 0) {
        size += n;
        if (alloc - size - 1 == 0) {
            if (alloc >= C_OUT_MAX)
                break;
            alloc *= 2;
            buf = realloc(buf, alloc);
        }
    }
    fclose(f);
    buf[size] = 0;
    if (size_p)
        *size_p = size;
    return buf;
}

static int
c_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

// Prints the last bytes of a file to stderr.
static void
c_tail(const char *path, size_t bytes)
{
    size_t size = 0;
    char *text = c_slurp(path, &size);
    if (!text)
        return;
    const char *from = size > bytes ? text + size - bytes : text;
    fprintf(stderr, "---- %s (last %zu bytes)\n%s\n----\n", path,
            size > bytes ? bytes : size, from);
    free(text);
}

// ---------------------------------------------------------------------------
// Processes

// Starts argv with stdin from /dev/null and stdout and stderr appended to
// out (truncated first when truncate). Returns the pid or -1.
static pid_t
c_spawn(char *const *argv, const char *out, bool truncate)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL); // nothing outlives a killed test
    int in = open("/dev/null", O_RDONLY);
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | (truncate ? O_TRUNC : 0),
                  0644);
    if (in < 0 || fd < 0)
        _exit(126);
    dup2(in, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(in);
    close(fd);
    execv(argv[0], argv);
    fprintf(stderr, "workflow_chaos: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

// Waits for pid up to ms (-1: for ever); returns the wait status, or -1
// when it did not end in time (it is then killed and reaped).
static int
c_wait(pid_t pid, int64_t ms)
{
    int64_t until = c_mono_ms() + ms;
    for (;;) {
        int status = 0;
        pid_t got = waitpid(pid, &status, ms < 0 ? 0 : WNOHANG);
        if (got == pid)
            return status;
        if (got < 0 && errno != EINTR)
            return -1;
        if (ms >= 0 && c_mono_ms() >= until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        c_sleep_ms(10);
    }
}

// Runs `orcs ARGS... --data DATA`; its output (stdout and stderr) is in
// t->cmd_out, and *out_p when not NULL (caller frees). Returns its exit
// code, or -1 when it did not end normally in time.
static int
c_orcs(c_test_t *t, char **out_p, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *) t->orcs;
    va_list ap;
    va_start(ap, first);
    for (const char *arg = first; arg && argc < 28;
         arg = va_arg(ap, const char *))
        argv[argc++] = (char *) arg;
    va_end(ap);
    argv[argc++] = "--data";
    argv[argc++] = t->data;
    argv[argc] = NULL;
    pid_t pid = c_spawn(argv, t->cmd_out, true);
    int status = pid > 0 ? c_wait(pid, C_CMD_MS) : -1;
    if (out_p)
        *out_p = c_slurp(t->cmd_out, NULL);
    if (status == -1) {
        c_note("`orcs %s` did not end within %d ms", first, C_CMD_MS);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------------------------------------------------------------------------
// The node

static int
c_node_start(c_test_t *t)
{
    char config[PATH_MAX + 16];
    snprintf(config, sizeof config, "%s/node.yaml", t->work);
    char *argv[] = {(char *) t->orcs, "node",  "--config", config, "--data",
                    t->data,          "--log", "warn",     NULL};
    t->node = c_spawn(argv, t->node_log, false);
    t->node_started_ms = c_mono_ms();
    return t->node > 0 ? 0 : -1;
}

// True once the node answers `orcs status` (within C_UP_MS).
static bool
c_node_wait_up(c_test_t *t)
{
    int64_t until = c_mono_ms() + C_UP_MS;
    while (c_mono_ms() < until) {
        int status = 0;
        if (waitpid(t->node, &status, WNOHANG) == t->node) {
            c_note("the node exited while starting (wait status %d)", status);
            t->node = 0;
            return false;
        }
        if (c_orcs(t, NULL, "status", "--timeout", "1000", NULL) == 0)
            return true;
        c_sleep_ms(50);
    }
    return false;
}

// SIGKILL, then reap. Returns false when the node had ended by itself.
static bool
c_node_kill(c_test_t *t)
{
    int status = 0;
    if (waitpid(t->node, &status, WNOHANG) == t->node) {
        c_fail(t, "the node ended by itself before kill %d (wait status %d)",
               t->kills + 1, status);
        t->node = 0;
        return false;
    }
    kill(t->node, SIGKILL);
    waitpid(t->node, &status, 0);
    t->node = 0;
    t->kills++;
    return true;
}

// SIGTERM, then wait: the node must stop cleanly (exit 0; under ASan also
// without leaks).
static void
c_node_stop(c_test_t *t)
{
    if (t->node <= 0)
        return;
    kill(t->node, SIGTERM);
    int status = c_wait(t->node, C_STOP_MS);
    t->node = 0;
    if (status == -1)
        c_fail(t, "the node did not stop within %d ms of SIGTERM", C_STOP_MS);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        c_fail(t, "the node did not stop cleanly (wait status %d)", status);
}

// ---------------------------------------------------------------------------
// Runs through the CLI

// `orcs runs show RUN --json`, parsed; NULL when it fails.
static json_t *
c_view(c_test_t *t)
{
    char *out = NULL;
    int code = c_orcs(t, &out, "runs", "show", C_RUN, "--json", NULL);
    json_t *view = NULL;
    if (code == 0 && out) {
        json_error_t error;
        view = json_loads(out, JSON_DECODE_ANY, &error);
        if (!json_is_object(view)) {
            c_note("runs show --json printed what is not a JSON object "
                   "(%s): %.300s",
                   error.text, out);
            json_decref(view);
            view = NULL;
        }
    }
    free(out);
    return view;
}

static const char *
c_str(const json_t *object, const char *key)
{
    const char *s = json_string_value(json_object_get(object, key));
    return s ? s : "";
}

static bool
c_final(const char *status)
{
    return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0
           || strcmp(status, "cancelled") == 0;
}

// Approves approval id with `orcs approve`; remembers the window.
static bool
c_approve(c_test_t *t, const char *id, bool online)
{
    int64_t from = orcs_clock_wall_us();
    char *out = NULL;
    const char *by = online ? "chaos-online" : "chaos-offline";
    int code = c_orcs(t, &out, "approve", C_RUN, id, "--by", by, NULL);
    int64_t to = orcs_clock_wall_us();
    json_t *was = json_object_get(t->decided, id);
    json_int_t first = was ? json_integer_value(
                           json_array_get(json_object_get(was, "window"), 0))
                           : from;
    json_object_set_new(t->decided, id,
                        json_pack("{s:[I, I], s:s, s:b}", "window", first,
                                  (json_int_t) to, "by", by, "ok", code == 0));
    if (code != 0)
        c_note("`orcs approve %s %s` (%s) exited %d: %.300s", C_RUN, id,
               online ? "node running" : "node down", code, out ? out : "");
    else if (online)
        t->online_decisions++;
    else
        t->offline_decisions++;
    free(out);
    return code == 0;
}

// True when the work before the join is done in view (what is left
// waits for the two approvals).
static bool
c_first_half_done(const json_t *view)
{
    static const char *const ids[] = {"a3", "b3", "taken", "fan"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_t *node = json_object_get(json_object_get(view, "nodes"), ids[i]);
        if (strcmp(c_str(node, "status"), "completed") != 0)
            return false;
    }
    return true;
}

// When the two reviews are decided: once the work before the join is
// done and decide_from kills are made (or from two thirds of the kills
// on, whatever the run did): review_off at once (the node is down),
// review_on in one of the next two lives of the node. The kills before
// land on a run that waits for them, those after on the rest of the run.
static void
c_schedule(c_test_t *t, const json_t *view)
{
    if (t->off_at != INT_MAX)
        return;
    if ((c_first_half_done(view) && t->kills >= t->decide_from)
        || t->kills >= t->kills_wanted * 2 / 3) {
        t->off_at = t->kills;
        t->on_at = t->kills + 1 + rand() % 2;
    }
}

// Decides what is pending in view and due; online says whether a node
// runs (the decision goes through it) or not (it goes to the store).
static void
c_decide(c_test_t *t, const json_t *view, bool online)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(view, "approvals"), i, a)
    {
        if (strcmp(c_str(a, "state"), "pending") != 0)
            continue;
        const char *id = c_str(a, "id");
        const char *node = c_str(a, "node");
        const char *kind = c_str(a, "kind");
        bool indeterminate = strcmp(kind, "indeterminate") == 0;
        bool due;
        if (strcmp(node, "review_off") == 0 && !indeterminate)
            due = !online && t->kills >= t->off_at;
        else if (strcmp(node, "review_on") == 0 && !indeterminate)
            due = online && t->kills >= t->on_at;
        else // indeterminate: now or later, at random
            due = rand() % 2 == 0;
        if (due)
            c_approve(t, id, online);
    }
}

// True when view has a pending approval the test may decide online.
static bool
c_online_due(c_test_t *t, const json_t *view)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(view, "approvals"), i, a)
    {
        if (strcmp(c_str(a, "state"), "pending") != 0)
            continue;
        const char *node = c_str(a, "node");
        if (strcmp(c_str(a, "kind"), "indeterminate") == 0
            || (strcmp(node, "review_on") == 0 && t->kills >= t->on_at))
            return true;
    }
    return false;
}

// ---------------------------------------------------------------------------
// The chaos

static int
c_setup(c_test_t *t, const char *source_dir)
{
    snprintf(t->src, sizeof t->src, "%s/tests/integration/chaos", source_dir);
    snprintf(t->work, sizeof t->work, "/tmp/orcs-chaos-XXXXXX");
    if (!mkdtemp(t->work))
        return -1;
    snprintf(t->data, sizeof t->data, "%s/data", t->work);
    snprintf(t->node_log, sizeof t->node_log, "%s/node.log", t->work);
    snprintf(t->cmd_out, sizeof t->cmd_out, "%s/cmd.out", t->work);
    static const char *const files[] = {
        "flow.yaml", "node.yaml", "tools/record.sh", "tools/idem.tool.yaml",
        "tools/once.tool.yaml"};
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    snprintf(to, sizeof to, "%s/tools", t->work);
    if (mkdir(to, 0755) != 0)
        return -1;
    snprintf(to, sizeof to, "%s/log", t->work);
    if (mkdir(to, 0755) != 0)
        return -1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(from, sizeof from, "%s/%s", t->src, files[i]);
        snprintf(to, sizeof to, "%s/%s", t->work, files[i]);
        if (c_copy(from, to, strstr(files[i], ".sh") ? 0755 : 0644) != 0) {
            c_note("cannot copy %s to %s: %s", from, to, strerror(errno));
            return -1;
        }
    }
    snprintf(to, sizeof to, "%s/log/invocations", t->work);
    if (c_touch(to) != 0)
        return -1;
    snprintf(to, sizeof to, "%s/log/effects", t->work);
    return c_touch(to);
}

// Submits the run to the running node (once; a failed submission that
// nevertheless made the run is fine).
static bool
c_submit(c_test_t *t)
{
    char flow[PATH_MAX + 16];
    snprintf(flow, sizeof flow, "%s/flow.yaml", t->work);
    for (int attempt = 0; attempt < 5; attempt++) {
        char *out = NULL;
        int code = c_orcs(t, &out, "run", flow, "--run", C_RUN, NULL);
        if (code == 0) {
            free(out);
            return true;
        }
        c_note("`orcs run` exited %d: %.500s", code, out ? out : "");
        free(out);
        json_t *view = c_view(t);
        json_decref(view);
        if (view)
            return true; // it exists
        c_sleep_ms(500);
    }
    return false;
}

static int
c_chaos(c_test_t *t)
{
    if (c_node_start(t) != 0 || !c_node_wait_up(t)) {
        c_fail(t, "the first node did not come up");
        return -1;
    }
    if (!c_submit(t)) {
        c_fail(t, "the run could not be submitted");
        return -1;
    }
    c_note("run %s submitted; %d kills to come (seed %u)", C_RUN,
           t->kills_wanted, t->seed);
    json_t *last = NULL; // the last view seen while the node was down
    while (t->kills < t->kills_wanted) {
        int64_t delay =
            C_KILL_MIN_MS + rand() % (C_KILL_MAX_MS - C_KILL_MIN_MS + 1);
        int64_t kill_at = t->node_started_ms + delay;
        // An approval to decide while the node runs: wait until it
        // answers, decide, then kill a little later.
        if (last && c_online_due(t, last) && c_node_wait_up(t)) {
            json_t *view = c_view(t);
            if (view)
                c_decide(t, view, true);
            json_decref(view);
            int64_t soon = c_mono_ms() + 30 + rand() % 250;
            if (soon > kill_at)
                kill_at = soon;
        }
        c_sleep_ms(kill_at - c_mono_ms());
        if (!c_node_kill(t))
            return -1;
        // The node is down: look, decide what is due offline, restart.
        json_decref(last);
        last = c_view(t);
        if (!last) {
            c_fail(t, "`orcs runs show` failed after kill %d", t->kills);
            c_tail(t->cmd_out, 2000);
            return -1;
        }
        const char *status = c_str(last, "status");
        if (!c_final(status))
            t->in_flight++;
        if (strcmp(status, "waiting_approval") == 0)
            t->waiting_kills++;
        c_schedule(t, last);
        c_decide(t, last, false);
        if (c_node_start(t) != 0) {
            c_fail(t, "cannot restart the node");
            return -1;
        }
        t->restarts++;
    }
    json_decref(last);
    // Let it finish: decide whatever is still pending, online.
    c_note("%d kills done; letting the run finish", t->kills);
    if (!c_node_wait_up(t)) {
        c_fail(t, "the node did not come up after the last restart");
        return -1;
    }
    int64_t until = c_mono_ms() + C_FINISH_MS;
    json_t *view = NULL;
    for (;;) {
        json_decref(view);
        view = c_view(t);
        if (view && c_final(c_str(view, "status")))
            break;
        if (c_mono_ms() > until) {
            c_fail(t,
                   "the run did not finish within %d s after the kills "
                   "(status %s)",
                   C_FINISH_MS / 1000, view ? c_str(view, "status") : "?");
            if (view) {
                char *text = json_dumps(view, JSON_INDENT(1));
                fprintf(stderr, "%s\n", text);
                free(text);
            }
            json_decref(view);
            return -1;
        }
        size_t i;
        json_t *a;
        json_array_foreach(view ? json_object_get(view, "approvals") : NULL, i,
                           a)
        {
            if (strcmp(c_str(a, "state"), "pending") != 0)
                continue;
            if (strcmp(c_str(a, "node"), "review_off") != 0
                || strcmp(c_str(a, "kind"), "indeterminate") == 0) {
                c_approve(t, c_str(a, "id"), true);
                continue;
            }
            // review_off is decided with the node down: stop it cleanly
            c_node_stop(t);
            c_approve(t, c_str(a, "id"), false);
            if (c_node_start(t) != 0 || !c_node_wait_up(t)) {
                c_fail(t, "the node did not come up again");
                json_decref(view);
                return -1;
            }
            t->restarts++;
            break;
        }
        c_sleep_ms(200);
    }
    json_decref(view);
    c_node_stop(t);
    return 0;
}

// ---------------------------------------------------------------------------
// The checks

static c_task_t *
c_task(c_test_t *t, const char *id)
{
    for (size_t i = 0; i < C_TASKS; i++)
        if (strcmp(t->tasks[i].id, id) == 0)
            return &t->tasks[i];
    return NULL;
}

typedef struct {
    c_test_t *t;
    uint64_t count;    // checkpoints seen
    uint64_t last;     // last seq
    int run_done;      // run status checkpoints with status completed
    int resumes;       // run status checkpoints "resumed"
    json_t *approvals; // id -> document
    int bad;
} c_scan_t;

// A checkpoint found under the run's keys in `tasks`.
typedef struct {
    uint64_t seq;
    char task[80]; // the task its key names ("" for the run's own)
    void *value;
    size_t size;
} c_cp_t;

typedef struct {
    c_test_t *t;
    c_cp_t *cps;
    size_t count, alloc;
} c_cps_t;

static bool
c_collect_checkpoint(const void *key,
                     size_t key_size,
                     const void *value,
                     size_t value_size,
                     void *arg)
{
    c_cps_t *all = arg;
    char part;
    const char *at;
    size_t size;
    orcs_status rc = orcs_runs_key_split(key, key_size, strlen(C_RUN) + 1,
                                         &part, &at, &size);
    if (rc == ORCS_EPROTO)
        c_fail(all->t, "a damaged key of %zu bytes", key_size);
    if (rc != ORCS_OK || part != ORCS_RUNS_PART_CHECKPOINT)
        return true;
    if (all->count == all->alloc) {
        all->alloc = all->alloc ? 2 * all->alloc : 256;
        all->cps = realloc(all->cps, all->alloc * sizeof *all->cps);
    }
    c_cp_t *cp = &all->cps[all->count++];
    cp->seq = orcs_runs_checkpoint_seq(key, key_size);
    snprintf(cp->task, sizeof cp->task, "%.*s", at ? (int) size : 0,
             at ? at : "");
    cp->value = malloc(value_size ? value_size : 1);
    memcpy(cp->value, value, value_size);
    cp->size = value_size;
    return true;
}

static int
c_cp_order(const void *a, const void *b)
{
    uint64_t x = ((const c_cp_t *) a)->seq, y = ((const c_cp_t *) b)->seq;
    return x < y ? -1 : x > y;
}

// Checks one checkpoint, in seq order.
static void
c_check_checkpoint(c_scan_t *s, const c_cp_t *cp)
{
    c_test_t *t = s->t;
    uint64_t seq = cp->seq;
    CheckpointRecord record;
    if (orcs_checkpoint_record_decode(cp->value, cp->size, &record)
        != ORCS_OK) {
        c_fail(t, "checkpoint %" PRIu64 " does not decode", seq);
        s->bad++;
        return;
    }
    if (strcmp(record.task_id, cp->task) != 0)
        c_fail(t, "checkpoint %" PRIu64 " of task '%s' is under task '%s'", seq,
               record.task_id, cp->task);
    s->count++;
    if (seq != s->last + 1)
        c_fail(t,
               "checkpoint seq %" PRIu64 " follows %" PRIu64
               " (not strictly increasing by one)",
               seq, s->last);
    if (record.seq != seq)
        c_fail(t, "checkpoint key seq %" PRIu64 " holds seq %" PRIu64, seq,
               (uint64_t) record.seq);
    if (strcmp(record.run_id, C_RUN) != 0)
        c_fail(t, "checkpoint %" PRIu64 " names run '%s'", seq, record.run_id);
    s->last = seq;
    if (record.event == 1 && record.task_id[0] == 0) {
        if (record.status == ORCS_RECORD_SUCCEEDED)
            s->run_done++;
        if (strcmp(record.detail, "resumed") == 0)
            s->resumes++;
        return;
    }
    c_task_t *task = c_task(t, record.task_id);
    if (!task) {
        c_fail(t, "checkpoint %" PRIu64 " (event %u) names unknown task '%s'",
               seq, (unsigned) record.event, record.task_id);
        return;
    }
    switch (record.event) {
        case 4:
            task->completed++;
            break;
        case 6:
            task->retried++;
            break;
        case 7:
            task->skipped++;
            break;
        case 10:
            task->indeterminate++;
            break;
        default:
            break;
    }
}

static bool
c_scan_task(const void *key,
            size_t key_size,
            const void *value,
            size_t value_size,
            void *arg)
{
    c_scan_t *s = arg;
    c_test_t *t = s->t;
    char part;
    const char *at;
    size_t size;
    char id[80];
    if (orcs_runs_key_split(key, key_size, strlen(C_RUN) + 1, &part, &at, &size)
            != ORCS_OK
        || !at || size >= sizeof id) {
        c_fail(t, "task key of %zu bytes", key_size);
        return true;
    }
    if (part == ORCS_RUNS_PART_OUTPUT || part == ORCS_RUNS_PART_CHECKPOINT)
        return true; // beside the record: c_check_output, c_check_checkpoint
    memcpy(id, at, size);
    id[size] = 0;
    c_task_t *task = c_task(t, id);
    if (!task) {
        c_fail(t, "a task record for unknown task '%s'", id);
        return true;
    }
    if (orcs_task_record_decode(value, value_size, &task->record) != ORCS_OK) {
        c_fail(t, "the task record of %s does not decode", id);
        return true;
    }
    task->found = true;
    return true;
}

static bool
c_scan_approval(const void *key,
                size_t key_size,
                const void *value,
                size_t value_size,
                void *arg)
{
    c_scan_t *s = arg;
    size_t n = strlen(C_RUN) + 3; // RUN \0 a \0
    json_t *doc = NULL;
    if (key_size <= n
        || orcs_doc_decode(value, value_size, NULL, &doc) != ORCS_OK) {
        c_fail(s->t, "an approval record does not decode");
        return true;
    }
    json_t *id = json_stringn((const char *) key + n, key_size - n);
    json_object_set_new(s->approvals, json_string_value(id), doc);
    json_decref(id);
    return true;
}

// Reads log/invocations and log/effects into the tasks.
static void
c_read_logs(c_test_t *t, int *lines_p, int *unknown_p)
{
    char path[PATH_MAX + 32];
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s/0/", C_RUN);
    size_t plen = strlen(prefix);
    for (int pass = 0; pass < 2; pass++) {
        snprintf(path, sizeof path, "%s/log/%s", t->work,
                 pass == 0 ? "invocations" : "effects");
        char *text = c_slurp(path, NULL);
        if (!text) {
            c_fail(t, "cannot read %s", path);
            continue;
        }
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            char key[160] = "", mode[16] = "";
            unsigned long long ns = 0;
            int got = pass == 0
                          ? sscanf(line, "%159s %llu %15s", key, &ns, mode)
                          : sscanf(line, "%159s", key);
            if (got != (pass == 0 ? 3 : 1) || strncmp(key, prefix, plen) != 0
                || !c_task(t, key + plen)) {
                c_fail(t, "log/%s: unexpected line '%s'",
                       pass == 0 ? "invocations" : "effects", line);
                (*unknown_p)++;
                continue;
            }
            c_task_t *task = c_task(t, key + plen);
            if (pass == 1) {
                task->effects++;
                continue;
            }
            (*lines_p)++;
            task->invocations++;
            if (task->found && task->record.finished_us > 0
                && (int64_t) (ns / 1000) > task->record.finished_us)
                task->late++;
        }
        free(text);
    }
}

static void
c_check_approval(c_test_t *t, c_scan_t *s, const char *node)
{
    int count = 0;
    const char *id;
    json_t *a;
    json_object_foreach(s->approvals, id, a)
    {
        if (strcmp(c_str(a, "node"), node) != 0
            || strcmp(c_str(a, "kind"), "indeterminate") == 0)
            continue;
        count++;
        if (strcmp(c_str(a, "state"), "approved") != 0)
            c_fail(t, "approval %s of %s is '%s', not approved", id, node,
                   c_str(a, "state"));
        json_t *mine = json_object_get(t->decided, id);
        json_t *window = json_object_get(mine, "window");
        json_int_t decided =
            json_integer_value(json_object_get(a, "decided_us"));
        const char *by =
            strcmp(node, "review_off") == 0 ? "chaos-offline" : "chaos-online";
        if (!mine)
            c_fail(t, "approval %s of %s was decided but not by the test", id,
                   node);
        else if (strcmp(c_str(a, "by"), by) != 0)
            c_fail(t, "approval %s of %s was decided by '%s' (expected %s)", id,
                   node, c_str(a, "by"), by);
        else if (decided < json_integer_value(json_array_get(window, 0))
                 || decided > json_integer_value(json_array_get(window, 1)))
            c_fail(t,
                   "approval %s of %s: decided_us %lld is outside the "
                   "`orcs approve` window [%lld, %lld]",
                   id, node, (long long) decided,
                   (long long) json_integer_value(json_array_get(window, 0)),
                   (long long) json_integer_value(json_array_get(window, 1)));
    }
    if (count != 1)
        c_fail(t, "%d approvals of kind node for %s (expected 1)", count, node);
}

static void
c_check_output(c_test_t *t, orcs_store_t *store, const char *task)
{
    char key[128];
    size_t n =
        orcs_runs_key(key, sizeof key, C_RUN, ORCS_RUNS_PART_OUTPUT, task);
    void *value = NULL;
    size_t size = 0;
    json_t *doc = NULL;
    if (orcs_store_get(store, ORCS_DB_TASKS, key, n, &value, &size) != ORCS_OK
        || orcs_doc_decode(value, size, NULL, &doc) != ORCS_OK)
        c_fail(t, "no readable output of %s", task);
    else if (!json_is_true(json_object_get(doc, "approved")))
        c_fail(t, "the output of %s does not say approved: true", task);
    json_decref(doc);
    free(value);
}

// The view of the CLI and that of the library agree, and the run's
// output is what the workflow makes.
static void
c_check_views(c_test_t *t, const json_t *cli, const json_t *lib)
{
    if (strcmp(c_str(cli, "status"), "completed") != 0) {
        char *error =
            json_dumps(json_object_get(cli, "error"), JSON_ENCODE_ANY);
        c_fail(t, "the run is '%s' (error %s), not completed",
               c_str(cli, "status"), error ? error : "?");
        free(error);
    }
    if (strcmp(c_str(cli, "status"), c_str(lib, "status")) != 0)
        c_fail(t, "runs show says '%s', orcs_runs_view '%s'",
               c_str(cli, "status"), c_str(lib, "status"));
    for (size_t i = 0; i < C_TOP; i++) {
        const char *id = s_expected[i].id;
        json_t *node = json_object_get(json_object_get(cli, "nodes"), id);
        if (!node) {
            c_fail(t, "runs show has no node %s", id);
            continue;
        }
        if (strcmp(c_str(node, "status"), s_expected[i].status) != 0)
            c_fail(t, "node %s is '%s' (expected %s)", id,
                   c_str(node, "status"), s_expected[i].status);
    }
    json_t *pending = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(cli, "approvals"), i, a)
    {
        if (strcmp(c_str(a, "state"), "pending") == 0)
            pending = a;
    }
    if (pending)
        c_fail(t, "approval %s is still pending", c_str(pending, "id"));
    json_t *fan = json_object_get(json_object_get(cli, "output"), "fan");
    if (json_array_size(fan) != C_ITEMS)
        c_fail(t, "the output's fan has %zu results (expected %d)",
               json_array_size(fan), C_ITEMS);
    for (i = 0; i < json_array_size(fan); i++) {
        char key[64];
        snprintf(key, sizeof key, "%s/0/fan[%zu]", C_RUN, i);
        if (strcmp(c_str(json_array_get(fan, i), "key"), key) != 0)
            c_fail(t, "the output's fan[%zu] is not the result of key %s", i,
                   key);
    }
    json_t *once = json_object_get(json_object_get(cli, "output"), "once");
    if (strcmp(c_str(once, "key"), C_RUN "/0/once") != 0)
        c_fail(t, "the output's once is not the result of %s/0/once", C_RUN);
}

static void
c_check(c_test_t *t,
        int *invocations_p,
        int *dedup_p,
        int *reruns_p,
        int *resumes_p)
{
    // the CLI
    char *out = NULL;
    int code = c_orcs(t, &out, "store", "stats", NULL);
    if (code != 0)
        c_fail(t, "`orcs store stats` exited %d: %.500s", code, out ? out : "");
    free(out);
    out = NULL;
    code = c_orcs(t, &out, "runs", "show", C_RUN, NULL);
    if (code != 0)
        c_fail(t, "`orcs runs show` exited %d: %.500s", code, out ? out : "");
    free(out);
    out = NULL;
    code = c_orcs(t, &out, "runs", "ls", "--json", NULL);
    json_t *list = code == 0 && out ? json_loads(out, 0, NULL) : NULL;
    json_t *entry = json_array_get(json_object_get(list, "runs"), 0);
    if (json_array_size(json_object_get(list, "runs")) != 1
        || strcmp(c_str(entry, "id"), C_RUN) != 0
        || strcmp(c_str(entry, "status"), "completed") != 0)
        c_fail(t, "`orcs runs ls --json` exited %d: %.500s", code,
               out ? out : "");
    json_decref(list);
    free(out);
    json_t *cli = c_view(t);
    if (!cli) {
        c_fail(t, "`orcs runs show --json` failed");
        c_tail(t->cmd_out, 2000);
        return;
    }
    // the store
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/store", t->data);
    orcs_store_t *store = orcs_store_new();
    orcs_status rc = orcs_store_open(store, path, NULL);
    if (rc != ORCS_OK) {
        c_fail(t, "cannot open the store %s: %s", path, orcs_status_str(rc));
        orcs_store_destroy(&store);
        json_decref(cli);
        return;
    }
    json_t *lib = NULL;
    rc = orcs_runs_view(store, C_RUN, &lib);
    if (rc != ORCS_OK)
        c_fail(t, "orcs_runs_view: %s", orcs_status_str(rc));
    else
        c_check_views(t, cli, lib);
    json_decref(lib);
    json_decref(cli);

    c_scan_t s = {.t = t, .approvals = json_object()};
    size_t n = strlen(C_RUN);
    char prefix[128];
    orcs_store_txn_t *txn = NULL;
    rc = orcs_store_txn_begin(store, &txn);
    const void *value = NULL;
    size_t size = 0;
    RunRecord run = RunRecord_init_zero;
    if (rc == ORCS_OK)
        rc = orcs_store_txn_get(txn, ORCS_DB_RUNS, C_RUN, n, &value, &size);
    if (rc == ORCS_OK)
        rc = orcs_run_record_decode(value, size, &run);
    if (rc != ORCS_OK)
        c_fail(t, "the run record: %s", orcs_status_str(rc));
    memcpy(prefix, C_RUN, n + 1);
    c_cps_t cps = {.t = t};
    if (rc == ORCS_OK)
        rc = orcs_store_txn_scan(txn, ORCS_DB_TASKS, prefix, n + 1,
                                 c_collect_checkpoint, &cps);
    // nothing in the layout before checkpoints moved beside their tasks
    c_cps_t legacy = {.t = t};
    if (rc == ORCS_OK)
        rc = orcs_store_txn_scan(txn, ORCS_DB_CHECKPOINTS, prefix, n + 1,
                                 c_collect_checkpoint, &legacy);
    size_t pn =
        orcs_runs_key(prefix, sizeof prefix, C_RUN, ORCS_RUNS_PART_TASK, "");
    if (rc == ORCS_OK)
        rc = orcs_store_txn_scan(txn, ORCS_DB_TASKS, prefix, pn, c_scan_task,
                                 &s);
    pn = orcs_runs_key(prefix, sizeof prefix, C_RUN, ORCS_RUNS_PART_APPROVAL,
                       "");
    if (rc == ORCS_OK)
        rc = orcs_store_txn_scan(txn, ORCS_DB_TASKS, prefix, pn,
                                 c_scan_approval, &s);
    orcs_store_txn_end(&txn);
    if (rc != ORCS_OK)
        c_fail(t, "reading the store: %s", orcs_status_str(rc));

    // checkpoints
    qsort(cps.cps, cps.count, sizeof *cps.cps, c_cp_order);
    for (size_t i = 0; i < cps.count; i++) {
        c_check_checkpoint(&s, &cps.cps[i]);
        free(cps.cps[i].value);
    }
    free(cps.cps);
    if (legacy.count > 0)
        c_fail(t, "%zu checkpoints in the old `checkpoints` layout",
               legacy.count);
    for (size_t i = 0; i < legacy.count; i++)
        free(legacy.cps[i].value);
    free(legacy.cps);
    if (s.count == 0)
        c_fail(t, "no checkpoints");
    if (run.checkpoint_seq > s.last) // written when the status changes
        c_fail(t,
               "the run record's checkpoint_seq is %" PRIu64
               " but the last checkpoint is %" PRIu64,
               (uint64_t) run.checkpoint_seq, s.last);
    if (run.status != ORCS_RECORD_SUCCEEDED)
        c_fail(t, "the run record's status is %u", (unsigned) run.status);
    if (s.run_done != 1)
        c_fail(t, "%d checkpoints say the run completed (expected 1)",
               s.run_done);
    if (run.attempt != (uint32_t) s.resumes + 1)
        c_fail(t, "the run record's attempt is %u after %d resumes",
               (unsigned) run.attempt, s.resumes);
    *resumes_p = s.resumes;

    // approvals
    c_check_approval(t, &s, "review_off");
    c_check_approval(t, &s, "review_on");
    c_check_output(t, store, "review_off");
    c_check_output(t, store, "review_on");
    const char *aid;
    json_t *a;
    json_object_foreach(s.approvals, aid, a)
    {
        c_task_t *task = c_task(t, c_str(a, "node"));
        if (!task) {
            c_fail(t, "approval %s names unknown node '%s'", aid,
                   c_str(a, "node"));
            continue;
        }
        task->approvals++;
        if (strcmp(c_str(a, "kind"), "indeterminate") == 0
            && strcmp(c_str(a, "state"), "approved") == 0)
            task->approved_indet++;
        if (strcmp(c_str(a, "state"), "pending") == 0)
            c_fail(t, "approval %s (%s) is still pending", aid,
                   c_str(a, "node"));
    }
    json_decref(s.approvals);
    orcs_store_destroy(&store);

    // the tools' logs against the records
    int unknown = 0;
    c_read_logs(t, invocations_p, &unknown);
    for (size_t i = 0; i < C_TASKS; i++) {
        c_task_t *task = &t->tasks[i];
        bool skipped = strcmp(task->status, "skipped") == 0;
        char key[96];
        snprintf(key, sizeof key, "%s/0/%s", C_RUN, task->id);
        if (!task->found) {
            c_fail(t, "task %s has no record", task->id);
            continue;
        }
        const char *status = orcs_runs_status_name(task->record.status, false);
        if (!status || strcmp(status, task->status) != 0)
            c_fail(t, "task %s is '%s' in its record (expected %s)", task->id,
                   status ? status : "?", task->status);
        if (strcmp(task->record.idempotency_key, key) != 0)
            c_fail(t, "task %s has idempotency key '%s' (expected %s)",
                   task->id, task->record.idempotency_key, key);
        if (task->completed != (skipped ? 0 : 1))
            c_fail(t, "task %s has %d completion checkpoints (expected %d)",
                   task->id, task->completed, skipped ? 0 : 1);
        if (skipped && task->skipped != 1)
            c_fail(t, "task %s has %d skip checkpoints (expected 1)", task->id,
                   task->skipped);
        if (task->tool == T_NONE) {
            if (task->invocations)
                c_fail(t, "task %s is not a tool but ran %d times", task->id,
                       task->invocations);
            continue;
        }
        if (task->late)
            c_fail(t, "task %s ran %d times after it completed", task->id,
                   task->late);
        if (task->invocations < 1)
            c_fail(t, "task %s completed but its tool never ran", task->id);
        int attempts = (int) task->record.attempt;
        if (task->invocations > attempts)
            c_fail(t,
                   "task %s ran %d times but its record counts %d attempts "
                   "(a call not written ahead)",
                   task->id, task->invocations, attempts);
        if (attempts != 1 + task->retried + task->approved_indet)
            c_fail(t,
                   "task %s: %d attempts, but %d retry checkpoints and %d "
                   "approved indeterminate approvals",
                   task->id, attempts, task->retried, task->approved_indet);
        *reruns_p += task->invocations > 1 ? task->invocations - 1 : 0;
        switch (task->tool) {
            case T_IDEM:
                if (task->effects != 1)
                    c_fail(t, "idempotent task %s has %d effects (expected 1)",
                           task->id, task->effects);
                if (task->indeterminate)
                    c_fail(t, "idempotent task %s was found indeterminate",
                           task->id);
                *dedup_p += task->invocations - 1;
                break;
            case T_RETRY:
                // each run again after a crash is a retry checkpoint
                if (task->effects < 1 || task->effects > task->invocations
                    || task->invocations > 1 + task->retried)
                    c_fail(t,
                           "task %s (on_indeterminate: retry): %d effects, "
                           "%d invocations, %d retries",
                           task->id, task->effects, task->invocations,
                           task->retried);
                break;
            case T_ASK:
                // each run again needs an approved indeterminate approval
                if (task->effects < 1 || task->effects > task->invocations
                    || task->invocations > 1 + task->approved_indet)
                    c_fail(t,
                           "task %s (on_indeterminate: ask): %d effects, %d "
                           "invocations, %d approved indeterminate approvals",
                           task->id, task->effects, task->invocations,
                           task->approved_indet);
                if (task->indeterminate != task->approvals)
                    c_fail(t,
                           "task %s: %d indeterminate checkpoints but %d "
                           "approvals",
                           task->id, task->indeterminate, task->approvals);
                break;
            default:
                break;
        }
    }
}

// ---------------------------------------------------------------------------

int
main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: workflow_chaos ORCS SOURCE_DIR [KILLS]\n");
        return 2;
    }
    static c_test_t test;
    c_test_t *t = &test;
    t->orcs = argv[1];
    t->kills_wanted = argc == 4 ? atoi(argv[3]) : C_KILLS;
    if (t->kills_wanted < 1 || access(t->orcs, X_OK) != 0) {
        fprintf(stderr, "workflow_chaos: bad KILLS or ORCS\n");
        return 2;
    }
    const char *seed_text = getenv("CHAOS_SEED");
    t->seed = seed_text ? (unsigned) strtoul(seed_text, NULL, 10)
                        : (unsigned) time(NULL) ^ (unsigned) getpid();
    srand(t->seed);
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    t->decided = json_object();
    t->decide_from = t->kills_wanted / 2 + rand() % (t->kills_wanted / 6 + 1);
    t->off_at = t->on_at = INT_MAX; // c_schedule
    for (size_t i = 0; i < C_TOP; i++) {
        snprintf(t->tasks[i].id, sizeof t->tasks[i].id, "%s", s_expected[i].id);
        t->tasks[i].status = s_expected[i].status;
        t->tasks[i].tool = s_expected[i].tool;
    }
    for (size_t i = 0; i < C_ITEMS; i++) {
        c_task_t *item = &t->tasks[C_TOP + i];
        snprintf(item->id, sizeof item->id, "fan[%zu]", i);
        item->status = "completed";
        item->tool = T_IDEM;
    }
    if (c_setup(t, argv[2]) != 0) {
        fprintf(stderr, "workflow_chaos: cannot set up %s: %s\n", t->work,
                strerror(errno));
        return 1;
    }
    int invocations = 0, dedup = 0, reruns = 0, resumes = 0;
    if (c_chaos(t) == 0 && t->fails == 0)
        c_check(t, &invocations, &dedup, &reruns, &resumes);
    if (t->node > 0) {
        kill(t->node, SIGKILL);
        waitpid(t->node, NULL, 0);
    }
    if (t->fails == 0 && t->in_flight < C_MIN_IN_FLIGHT
        && t->kills_wanted >= 2 * C_MIN_IN_FLIGHT)
        c_fail(t,
               "only %d kills landed on the unfinished run (at least %d "
               "needed to mean anything)",
               t->in_flight, C_MIN_IN_FLIGHT);
    int indet = 0;
    for (size_t i = 0; i < C_TASKS; i++)
        indet += t->tasks[i].indeterminate;
    if (getenv("CHAOS_VERBOSE") || t->fails) {
        printf("%-10s %-9s %4s %4s %4s %4s %4s %4s %4s %4s\n", "TASK", "STATUS",
               "INV", "EFF", "LATE", "ATT", "DONE", "RTRY", "INDT", "APPR");
        for (size_t i = 0; i < C_TASKS; i++) {
            const c_task_t *task = &t->tasks[i];
            const char *status =
                task->found ? orcs_runs_status_name(task->record.status, false)
                            : "-";
            printf("%-10s %-9s %4d %4d %4d %4d %4d %4d %4d %4d\n", task->id,
                   status ? status : "?", task->invocations, task->effects,
                   task->late, (int) task->record.attempt, task->completed,
                   task->retried, task->indeterminate, task->approvals);
        }
    }
    printf("workflow_chaos: seed=%u kills=%d (on the unfinished run %d, "
           "waiting for a human %d) restarts=%d resumes=%d invocations=%d "
           "reruns=%d duplicates_avoided=%d indeterminate=%d "
           "decisions offline=%d online=%d %s\n",
           t->seed, t->kills, t->in_flight, t->waiting_kills, t->restarts,
           resumes, invocations, reruns, dedup, indet, t->offline_decisions,
           t->online_decisions, t->fails ? "FAILED" : "ok");
    if (t->fails) {
        c_tail(t->node_log, 6000);
        fprintf(stderr,
                "workflow_chaos: %d checks failed; the work "
                "directory is kept in %s\n",
                t->fails, t->work);
    } else {
        c_sleep_ms(300); // tools orphaned by the last kill end by now
        nftw(t->work, c_rm, 16, FTW_DEPTH | FTW_PHYS);
    }
    json_decref(t->decided);
    orcs_runtime_shutdown();
    return t->fails ? 1 : 0;
}
