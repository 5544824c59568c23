/*  sys.c — the only module with mutable process-wide state: log level and
    sink, the once-only runtime set-up.
    SPDX-License-Identifier: MPL-2.0 */
#include "orcs/sys.h"

#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <czmq.h>

#include "internal.h"
#include "orcs/log.h"

static atomic_int s_log_level = ORCS_LOG_WARN;
static orcs_log_sink_fn *s_log_sink;
static void *s_log_sink_arg;
static atomic_bool s_initialised;
static volatile sig_atomic_t s_signal_fd = -1;
static atomic_int s_abandoned; // hung threads still running
static atomic_uint s_next_id;  // process-wide ids (node endpoints)

static size_t s_max_sockets = 16384; // what zsys was last told

void
orcs__sys_set_max_sockets(size_t count)
{
    // czmq aborts when the limit changes while sockets exist, so only a
    // change is applied: a node's config sets it before any socket.
    if (count == s_max_sockets)
        return;
    s_max_sockets = count;
    zsys_set_max_sockets(count);
}

unsigned
orcs__sys_next_id(void)
{
    return atomic_fetch_add(&s_next_id, 1) + 1;
}

void
orcs__sys_abandoned_add(int delta)
{
    atomic_fetch_add(&s_abandoned, delta);
}

int
orcs__sys_abandoned(void)
{
    return atomic_load(&s_abandoned);
}

static void
s_on_signal(int sig)
{
    if (s_signal_fd >= 0) {
        char byte = sig == SIGHUP ? 'H' : 1;
        ssize_t n = write(s_signal_fd, &byte, 1);
        (void) n;
    }
}

void
orcs__sys_catch_signals(int fd)
{
    s_signal_fd = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

void
orcs__sys_release_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    s_signal_fd = -1;
}

orcs_status
orcs_runtime_init(void)
{
    if (atomic_exchange(&s_initialised, true))
        return ORCS_OK;
    // The node owns SIGINT/SIGTERM; czmq must not install its handlers.
    zsys_handler_set(NULL);
    signal(SIGPIPE, SIG_IGN);
    // glibc's fastbins defer the coalescing of small frees until a large
    // request sweeps them all (malloc_consolidate). A node frees millions
    // of small JSON values from threads that each own an arena, and those
    // sweeps cost a third of the orchestrator's time in a 100,000-node
    // run; without fastbins small frees coalesce at once (tcache still
    // serves the hot sizes). ORCS_MALLOC=default keeps glibc's setting.
    const char *tune = getenv("ORCS_MALLOC");
    if (!tune || strcmp(tune, "default") != 0)
        mallopt(M_MXFAST, 0);
    // libcurl's global set-up is not thread-safe: do it once, here, before
    // any actor makes a handle.
    curl_global_init(CURL_GLOBAL_DEFAULT);
    zsys_set_linger(0);
    zsys_set_max_sockets(s_max_sockets);
    zsys_init();
    const char *level = getenv("ORCS_LOG");
    if (level) {
        if (strcmp(level, "error") == 0)
            orcs_log_level_set(ORCS_LOG_ERROR);
        else if (strcmp(level, "info") == 0)
            orcs_log_level_set(ORCS_LOG_INFO);
        else if (strcmp(level, "debug") == 0)
            orcs_log_level_set(ORCS_LOG_DEBUG);
    }
    return ORCS_OK;
}

void
orcs_runtime_shutdown(void)
{
    if (!atomic_exchange(&s_initialised, false))
        return;
    curl_global_cleanup();
    // A hung thread that never returned still owns sockets; terminating
    // the context would wait for it forever (see docs/supervision.md).
    if (orcs__sys_abandoned() > 0) {
        orcs_log_error("sys",
                       "skipping context shutdown: %d hung actor "
                       "threads never returned",
                       orcs__sys_abandoned());
        return;
    }
    zsys_shutdown();
}

void *
orcs_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        orcs_panic("out of memory size=%zu", size);
    return p;
}

void *
orcs_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        orcs_panic("out of memory count=%zu size=%zu", count, size);
    return p;
}

void *
orcs_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        orcs_panic("out of memory size=%zu", size);
    return p;
}

char *
orcs_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = orcs_malloc(n);
    memcpy(p, s, n);
    return p;
}

int64_t
orcs_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
orcs_clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
orcs_panic_at(const char *file, int line, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "orcs: panic: %s (%s:%d)\n", buf, file, line);
    fflush(stderr);
    abort();
}

orcs_log_level
orcs_log_level_get(void)
{
    return (orcs_log_level) atomic_load_explicit(&s_log_level,
                                                 memory_order_relaxed);
}

void
orcs_log_level_set(orcs_log_level level)
{
    atomic_store(&s_log_level, (int) level);
}

void
orcs_log_set_sink(orcs_log_sink_fn *sink, void *arg)
{
    s_log_sink = sink;
    s_log_sink_arg = arg;
}

void
orcs_log_write(orcs_log_level level,
               const char *component,
               const char *fmt,
               ...)
{
    static const char *const names[] = {"E", "W", "I", "D"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s_log_sink) {
        s_log_sink(level, component, line, s_log_sink_arg);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour, tm.tm_min,
            tm.tm_sec, ts.tv_nsec / 1000000, names[level & 3], component, line);
}
