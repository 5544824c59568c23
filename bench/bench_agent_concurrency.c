/*  bench_agent_concurrency.c — 10,000 agent runs in flight at once.
    SPDX-License-Identifier: MPL-2.0

    The fake OpenAI server (tests/fakes/fake_openai, a separate process on
    loopback) answers every request after 1 s; each run takes three model
    turns (two calls of a no-op tool, then the answer). A driver actor
    starts every run at once with asks to one agent actor, which talks to
    the model actor (one thread, curl multi, every request in flight) and
    the toolexec actor.

    Figures:
      wall_s      wall time of all runs; baseline: the ideal, 3 turns x 1 s
                  (ratio target <= 1.3)
      kb_per_run  resident memory per run in flight (peak RSS during the
                  runs minus RSS before, over the number of runs); baseline:
                  the 30 KB target

    Needs about two file descriptors per run in flight (a socket here and
    one in the server): the node raises its soft RLIMIT_NOFILE to the hard
    limit; the run count is cut to fit when the hard limit is lower.
    ORCS_BENCH_SCALE scales the number of runs. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "orcs/tools.h"

#define S_BENCH     "agent_concurrency"
#define S_DELAY_MS  1000
#define S_TURNS     3
#define S_TARGET_KB 30.0

static orcs_status
s_noop(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t size)
{
    (void) ctx;
    (void) err;
    (void) size;
    *result_p = json_string("ok");
    return ORCS_OK;
}

// ---- the driver actor: starts `runs` runs, answers when all are done

typedef struct {
    orcs_msg_t *go; // the client's ask
    long runs;
    long done;
    long failed;
    char error[256];
} s_driver_t;

static orcs_status
s_driver_init(orcs_actor_t *actor, const json_t *config, void **state_p)
{
    (void) actor;
    (void) config;
    *state_p = calloc(1, sizeof(s_driver_t));
    return *state_p ? ORCS_OK : ORCS_EINTERNAL;
}

static orcs_status
s_driver_receive(orcs_actor_t *actor, void *state, orcs_msg_t **msg_p)
{
    s_driver_t *self = state;
    orcs_msg_t *msg = *msg_p;
    if (orcs_msg_kind_of(msg) == ORCS_MSG_ASK) {
        const json_t *body = NULL;
        orcs_msg_body(msg, &body);
        self->runs = (long) json_integer_value(json_object_get(body, "runs"));
        self->done = self->failed = 0;
        self->go = msg;
        *msg_p = NULL;
        for (long i = 0; i < self->runs; i++) {
            orcs_msg_t *ask = orcs_msg_new("agent.run");
            json_t *input = json_pack("{s:s}", "input", "go");
            orcs_msg_set_body(ask, &input);
            if (orcs_actor_ask(actor, "runner", &ask, 600000, NULL)
                != ORCS_OK) {
                orcs_msg_destroy(&ask);
                self->failed++;
                self->done++;
            }
        }
        return ORCS_OK;
    }
    if (orcs_msg_kind_of(msg) == ORCS_MSG_REPLY
        || orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT) {
        self->done++;
        if (orcs_msg_kind_of(msg) == ORCS_MSG_TIMEOUT
            || orcs_msg_status(msg) != ORCS_OK) {
            self->failed++;
            const json_t *body = NULL;
            if (orcs_msg_body(msg, &body) == ORCS_OK && !self->error[0])
                snprintf(self->error, sizeof self->error, "%s",
                         json_string_value(json_object_get(body, "error"))
                             ? json_string_value(json_object_get(body, "error"))
                             : "timeout");
        }
        if (self->go && self->done == self->runs) {
            orcs_msg_t *reply = orcs_msg_new("done");
            json_t *body =
                json_pack("{s:I, s:s}", "failed", (json_int_t) self->failed,
                          "error", self->error);
            orcs_msg_set_body(reply, &body);
            if (orcs_actor_reply(actor, self->go, &reply) != ORCS_OK)
                orcs_msg_destroy(&reply);
            orcs_msg_destroy(&self->go);
        }
    }
    return ORCS_OK;
}

static void
s_driver_terminate(orcs_actor_t *actor, void *state, orcs_status reason)
{
    (void) actor;
    (void) reason;
    s_driver_t *self = state;
    orcs_msg_destroy(&self->go);
    free(self);
}

static const orcs_actor_def_t s_driver_def = {
    .abi = ORCS_ACTOR_ABI,
    .kind = "bench_driver",
    .init = s_driver_init,
    .receive = s_driver_receive,
    .terminate = s_driver_terminate,
};

// ---- resident memory

static long
s_rss_kb(void)
{
    FILE *file = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (file) {
        if (fscanf(file, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(file);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct {
    atomic_bool stop;
    atomic_long peak_kb;
} s_sampler_t;

static void *
s_sample(void *arg)
{
    s_sampler_t *sampler = arg;
    while (!atomic_load(&sampler->stop)) {
        long rss = s_rss_kb();
        if (rss > atomic_load(&sampler->peak_kb))
            atomic_store(&sampler->peak_kb, rss);
        usleep(20000);
    }
    return NULL;
}

// ---- the fake server

static pid_t
s_server(const char *dir, int *port_p)
{
    char cassette[256];
    snprintf(cassette, sizeof cassette, "%s/cassette.jsonl", dir);
    FILE *file = fopen(cassette, "w");
    if (!file)
        return -1;
    fputs("{\"match\": {\"turn\": 1}, \"response\": {\"tool_calls\": "
          "[{\"name\": \"noop\", \"arguments\": {}}]}}\n"
          "{\"match\": {\"turn\": 2}, \"response\": {\"tool_calls\": "
          "[{\"name\": \"noop\", \"arguments\": {}}]}}\n"
          "{\"match\": {}, \"response\": {\"content\": \"done\"}}\n",
          file);
    fclose(file);
    char program[1024];
    snprintf(program, sizeof program, "%s", "tests/fake_openai");
    const char *build = getenv("ORCS_BENCH_BUILD");
    if (build)
        snprintf(program, sizeof program, "%s/tests/fake_openai", build);
    int out[2];
    if (pipe(out) != 0)
        return -1;
    char delay[32];
    snprintf(delay, sizeof delay, "%d", S_DELAY_MS);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(program, "fake_openai", "--port", "0", "--cassette", cassette,
              "--delay-ms", delay, (char *) NULL);
        fprintf(stderr, "bench: cannot run %s\n", program);
        _exit(127);
    }
    close(out[1]);
    FILE *from = fdopen(out[0], "r");
    char line[64] = "";
    if (!from || !fgets(line, sizeof line, from)
        || sscanf(line, "port %d", port_p) != 1) {
        if (from)
            fclose(from);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    fclose(from);
    return pid;
}

int
main(void)
{
    long runs = bench_scaled(10000, 100);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    if ((long) limit.rlim_cur < runs + 512) {
        long fit = (long) limit.rlim_cur - 512;
        fprintf(stderr,
                "bench: open-files limit %ld: %ld runs instead of %ld\n",
                (long) limit.rlim_cur, fit, runs);
        runs = fit;
    }
    char dir[] = "/tmp/orcs-bench-conc.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    int port = 0;
    pid_t server = s_server(dir, &port);
    if (server < 0) {
        fprintf(stderr, "bench: cannot start fake_openai (run from the build "
                        "directory or set ORCS_BENCH_BUILD)\n");
        return 1;
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    json_t *extra =
        json_pack("{s:{s:{s:s, s:s, s:i, s:i}}, s:{s:i}}", "models", "default",
                  "base_url", url, "model", "bench", "retries", 0, "timeout_ms",
                  120000, "limits", "mailbox", 100000);
    const orcs_actor_def_t *kinds[] = {&s_driver_def};
    orcs_node_t *node = bench_node_new_with(kinds, 1, extra);
    json_t *manifest =
        json_pack("{s:s, s:s}", "tool", "noop", "description", "Does nothing.");
    char err[256];
    if (orcs_tools_register(orcs_node_tools(node), manifest, s_noop, NULL, err,
                            sizeof err)
        != ORCS_OK) {
        fprintf(stderr, "bench: register noop: %s\n", err);
        return 1;
    }
    json_decref(manifest);
    json_t *agent = json_pack("{s:{s:s, s:[s], s:i}}", "agent", "agent",
                              "runner", "tools", "noop", "max_steps", 10);
    bench_start_child(node, "runner", "agent", agent, 100000);
    json_decref(agent);
    bench_start_child(node, "driver", "bench_driver", NULL, 100000);

    orcs_client_t *client = orcs_client_new(node);
    // Warm up: a few runs open the first connections.
    for (int pass = 0; pass < 2; pass++) {
        long count = pass == 0 ? 10 : runs;
        s_sampler_t sampler;
        atomic_init(&sampler.stop, false);
        atomic_init(&sampler.peak_kb, 0);
        long before = s_rss_kb();
        pthread_t thread;
        pthread_create(&thread, NULL, s_sample, &sampler);
        orcs_msg_t *go = orcs_msg_new("go");
        json_t *body = json_pack("{s:I}", "runs", (json_int_t) count);
        orcs_msg_set_body(go, &body);
        orcs_msg_t *reply = NULL;
        bench_cpu_t cpu_before, cpu_after, server_before, server_after;
        bench_cpu_read(&cpu_before, 0);
        bench_cpu_read(&server_before, server);
        int64_t start = bench_now_ns();
        orcs_status rc = orcs_client_ask(client, "driver", &go, 900000, &reply);
        double wall = (double) (bench_now_ns() - start) / 1e9;
        bench_cpu_read(&cpu_after, 0);
        bench_cpu_read(&server_after, server);
        atomic_store(&sampler.stop, true);
        pthread_join(thread, NULL);
        orcs_msg_destroy(&go);
        const json_t *result = NULL;
        if (rc != ORCS_OK || orcs_msg_body(reply, &result) != ORCS_OK) {
            fprintf(stderr, "bench: driver: %s\n", orcs_status_name(rc));
            return 1;
        }
        long failed =
            (long) json_integer_value(json_object_get(result, "failed"));
        if (failed) {
            fprintf(stderr, "bench: %ld of %ld runs failed: %s\n", failed,
                    count, json_string_value(json_object_get(result, "error")));
            return 1;
        }
        orcs_msg_destroy(&reply);
        if (pass == 1) {
            double ideal = S_TURNS * S_DELAY_MS / 1000.0;
            bench_print(S_BENCH, "wall_s", wall, "s", ideal);
            double kb = (double) (atomic_load(&sampler.peak_kb) - before)
                        / (double) count;
            bench_print(S_BENCH, "kb_per_run", kb, "KB", S_TARGET_KB);
            bench_cpu_print(S_BENCH, "the runs (orcs)", &cpu_before, &cpu_after,
                            wall);
            bench_cpu_print(S_BENCH, "the runs (fake server)", &server_before,
                            &server_after, wall);
        }
    }
    orcs_client_destroy(&client);
    bench_node_destroy(&node);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    char path[256];
    snprintf(path, sizeof path, "%s/cassette.jsonl", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
