/*  bench_agent_concurrency.c — 10,000 agent runs in flight at once.
    SPDX-License-Identifier: MPL-2.0

    The fake OpenAI server (tests/fakes/fake_openai, a separate process on
    loopback) answers every request after 1 s; each run takes three model
    turns (two calls of a no-op tool, then the answer). A driver actor
    starts every run at once with asks to one agent actor, which talks to
    the model actor (one thread, curl multi, every request in flight) and
    the toolexec actor.

    The runs go three times: 10 runs that open the first connections,
    then all of them on a cold node (its first burst: every connection is
    new and the heap grows into fresh pages), then all of them again on
    the warm node, as a node serving traffic runs them. The baseline is
    raw libcurl measured in the same run, in a child process with its own
    fake server: one thread drives 32 multi handles, as the model actor
    does, and posts a body like the model's, three turns per client, a
    cold pass then a warm one; no actors, no JSON.

    Figures:
      wall_s        wall time of all runs on the warm node; baseline: the
                    ideal, 3 turns x 1 s (ratio target <= 1.3)
      wall_s_vs_raw_curl
                    the same time; baseline: raw libcurl's warm pass
      wall_s_first  wall time of the cold pass; baseline: the ideal
      wall_s_first_vs_raw_curl
                    the same time; baseline: raw libcurl's cold pass
      kb_per_run    resident memory per run in flight (peak RSS during the
                    cold pass minus RSS before it, over the number of runs);
                    baseline: the 30 KB target

    Needs about two file descriptors per run in flight (a socket here and
    one in the server): the node raises its soft RLIMIT_NOFILE to the hard
    limit; the run count is cut to fit when the hard limit is lower.
    ORCS_BENCH_SCALE scales the number of runs. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "orcs/tools.h"

#define S_BENCH     "agent_concurrency"
#define S_DELAY_MS  1000
#define S_TURNS     3
#define S_TARGET_KB 30.0
#define S_SHARDS    32 // multi handles, as the model actor has

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
              "--delay-ms", delay, "--epoll", (char *) NULL);
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

// ---- the raw libcurl baseline

typedef struct {
    int epoll_fd;
    CURLM *multi[S_SHARDS];
    int64_t due_ns[S_SHARDS]; // when curl wants its timeout action, or -1
} s_raw_t;

typedef struct {
    s_raw_t *raw;
    long shard;
} s_raw_shard_t;

typedef struct {
    CURL *easy;
    int turn;
} s_raw_client_t;

static int
s_raw_on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *known)
{
    (void) easy;
    s_raw_shard_t *shard = arg;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(shard->raw->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(shard->raw->multi[shard->shard], fd, NULL);
        return 0;
    }
    struct epoll_event event = {0};
    event.data.u64 = (uint64_t) shard->shard << 32 | (uint32_t) fd;
    if (what & CURL_POLL_IN)
        event.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        event.events |= EPOLLOUT;
    if (epoll_ctl(shard->raw->epoll_fd, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                  fd, &event)
        != 0)
        epoll_ctl(shard->raw->epoll_fd, EPOLL_CTL_MOD, fd, &event);
    curl_multi_assign(shard->raw->multi[shard->shard], fd, shard);
    return 0;
}

static int
s_raw_on_timer(CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    s_raw_shard_t *shard = arg;
    // A one-shot timer, as curl means it: a due time, not a period.
    shard->raw->due_ns[shard->shard] =
        timeout_ms < 0 ? -1 : bench_now_ns() + (int64_t) timeout_ms * 1000000;
    return 0;
}

static size_t
s_raw_on_write(char *data, size_t size, size_t count, void *arg)
{
    (void) data;
    (void) arg;
    return size * count;
}

// One pass: every client posts three turns, one after the other.
// Returns the seconds it took, or -1 when a transfer failed.
static double
s_raw_pass(s_raw_t *raw, s_raw_client_t *clients, long count)
{
    int64_t start = bench_now_ns();
    for (long i = 0; i < count; i++) {
        clients[i].turn = 0;
        curl_multi_add_handle(raw->multi[i % S_SHARDS], clients[i].easy);
    }
    long done = 0;
    bool failed = false;
    while (done < count) {
        int64_t now = bench_now_ns();
        long wait_ms = 100;
        for (int k = 0; k < S_SHARDS; k++)
            if (raw->due_ns[k] >= 0) {
                int64_t left_ms = (raw->due_ns[k] - now + 999999) / 1000000;
                if (left_ms < wait_ms)
                    wait_ms = left_ms < 0 ? 0 : (long) left_ms;
            }
        struct epoll_event ready[64];
        int n = epoll_wait(raw->epoll_fd, ready, 64, (int) wait_ms);
        int running = 0;
        for (int i = 0; i < n; i++) {
            int flags = 0;
            if (ready[i].events & EPOLLIN)
                flags |= CURL_CSELECT_IN;
            if (ready[i].events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
            curl_multi_socket_action(
                raw->multi[ready[i].data.u64 >> 32],
                (curl_socket_t) (uint32_t) ready[i].data.u64, flags, &running);
        }
        now = bench_now_ns();
        for (int k = 0; k < S_SHARDS; k++) {
            if (raw->due_ns[k] >= 0 && raw->due_ns[k] <= now) {
                raw->due_ns[k] = -1; // fired; curl sets the next one
                curl_multi_socket_action(raw->multi[k], CURL_SOCKET_TIMEOUT, 0,
                                         &running);
            }
            CURLMsg *info;
            int left;
            while ((info = curl_multi_info_read(raw->multi[k], &left))) {
                if (info->msg != CURLMSG_DONE)
                    continue;
                s_raw_client_t *client = NULL;
                curl_easy_getinfo(info->easy_handle, CURLINFO_PRIVATE, &client);
                if (info->data.result != CURLE_OK)
                    failed = true;
                curl_multi_remove_handle(raw->multi[k], client->easy);
                if (++client->turn < S_TURNS)
                    curl_multi_add_handle(raw->multi[k], client->easy);
                else
                    done++;
            }
        }
    }
    return failed ? -1 : (double) (bench_now_ns() - start) / 1e9;
}

// Runs the cold and the warm pass in a child process (its own heap, its
// own fake server) and reads their times; false when it failed.
static bool
s_raw_baseline(const char *dir, long count, double *cold_p, double *warm_p)
{
    int out[2];
    if (pipe(out) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        close(out[0]);
        int port = 0;
        pid_t server = s_server(dir, &port);
        double times[2] = {-1, -1};
        if (server > 0) {
            char url[128];
            snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions",
                     port);
            const char *body =
                "{\"model\": \"bench\", \"messages\": [{\"role\": "
                "\"user\", \"content\": \"go\"}], \"tools\": [{\"type\": "
                "\"function\", \"function\": {\"name\": \"noop\", "
                "\"description\": \"Does nothing.\", \"parameters\": "
                "{\"type\": \"object\", \"properties\": {}}}}]}";
            curl_global_init(CURL_GLOBAL_DEFAULT);
            struct curl_slist *headers =
                curl_slist_append(NULL, "Content-Type: application/json");
            s_raw_t raw = {.epoll_fd = epoll_create1(EPOLL_CLOEXEC)};
            s_raw_shard_t shards[S_SHARDS];
            for (long k = 0; k < S_SHARDS; k++) {
                shards[k] = (s_raw_shard_t){&raw, k};
                raw.multi[k] = curl_multi_init();
                raw.due_ns[k] = -1;
                curl_multi_setopt(raw.multi[k], CURLMOPT_SOCKETFUNCTION,
                                  s_raw_on_socket);
                curl_multi_setopt(raw.multi[k], CURLMOPT_SOCKETDATA,
                                  &shards[k]);
                curl_multi_setopt(raw.multi[k], CURLMOPT_TIMERFUNCTION,
                                  s_raw_on_timer);
                curl_multi_setopt(raw.multi[k], CURLMOPT_TIMERDATA, &shards[k]);
                curl_multi_setopt(raw.multi[k], CURLMOPT_MAXCONNECTS,
                                  count / S_SHARDS + 64);
            }
            s_raw_client_t *clients = calloc((size_t) count, sizeof *clients);
            for (long i = 0; clients && i < count; i++) {
                CURL *easy = clients[i].easy = curl_easy_init();
                curl_easy_setopt(easy, CURLOPT_URL, url);
                curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
                curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_raw_on_write);
                curl_easy_setopt(easy, CURLOPT_PRIVATE, &clients[i]);
                curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
            }
            for (int pass = 0; clients && pass < 2; pass++)
                times[pass] = s_raw_pass(&raw, clients, count);
            kill(server, SIGTERM);
            waitpid(server, NULL, 0);
        }
        ssize_t n = write(out[1], times, sizeof times);
        _exit(n == (ssize_t) sizeof times ? 0 : 1);
    }
    close(out[1]);
    double times[2] = {-1, -1};
    ssize_t n = pid > 0 ? read(out[0], times, sizeof times) : -1;
    close(out[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    *cold_p = times[0];
    *warm_p = times[1];
    return n == (ssize_t) sizeof times && times[0] > 0 && times[1] > 0;
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
    double raw_cold = 0, raw_warm = 0;
    if (!s_raw_baseline(dir, runs, &raw_cold, &raw_warm)) {
        fprintf(stderr, "bench: the raw libcurl baseline failed\n");
        return 1;
    }
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
    // A few runs open the first connections; then the cold pass and the
    // warm one.
    double first = 0;
    for (int pass = 0; pass < 3; pass++) {
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
        double ideal = S_TURNS * S_DELAY_MS / 1000.0;
        double kb =
            (double) (atomic_load(&sampler.peak_kb) - before) / (double) count;
        if (pass == 1) {
            first = wall;
            bench_print(S_BENCH, "kb_per_run", kb, "KB", S_TARGET_KB);
        } else if (pass == 2) {
            bench_print(S_BENCH, "wall_s", wall, "s", ideal);
            bench_print(S_BENCH, "wall_s_vs_raw_curl", wall, "s", raw_warm);
            bench_print(S_BENCH, "wall_s_first", first, "s", ideal);
            bench_print(S_BENCH, "wall_s_first_vs_raw_curl", first, "s",
                        raw_cold);
            fprintf(stderr,
                    "agent_concurrency: %ld runs: warm %.3f s, cold %.3f s; "
                    "raw libcurl warm %.3f s, cold %.3f s; the warm pass "
                    "grew RSS by %.1f KB per run\n",
                    count, wall, first, raw_warm, raw_cold, kb);
        }
        if (pass > 0) {
            char what[64];
            snprintf(what, sizeof what, "the %s runs (orcs)",
                     pass == 1 ? "cold" : "warm");
            bench_cpu_print(S_BENCH, what, &cpu_before, &cpu_after, wall);
            snprintf(what, sizeof what, "the %s runs (fake server)",
                     pass == 1 ? "cold" : "warm");
            bench_cpu_print(S_BENCH, what, &server_before, &server_after, wall);
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
