/*  bench.c — helpers shared by the benchmarks (see bench.h).
    SPDX-License-Identifier: MPL-2.0 */
#include "bench.h"

#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long
bench_scaled(long count, long minimum)
{
    const char *text = getenv("ORCS_BENCH_SCALE");
    double scale = text ? strtod(text, NULL) : 1.0;
    if (!(scale > 0))
        scale = 1.0;
    long scaled = (long) ((double) count * scale);
    return scaled < minimum ? minimum : scaled;
}

int64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;
    return (x > y) - (x < y);
}

double
bench_median(double *samples, size_t count)
{
    if (count == 0)
        return 0;
    qsort(samples, count, sizeof *samples, s_compare);
    if (count % 2)
        return samples[count / 2];
    return (samples[count / 2 - 1] + samples[count / 2]) / 2;
}

double
bench_percentile(double *samples, size_t count, double p)
{
    if (count == 0)
        return 0;
    qsort(samples, count, sizeof *samples, s_compare);
    size_t rank = (size_t) ceil(p / 100.0 * (double) count); // nearest rank
    if (rank < 1)
        rank = 1;
    if (rank > count)
        rank = count;
    return samples[rank - 1];
}

static void
s_set_cpus(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long count = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < count && i < CPU_SETSIZE; i++)
        if (cpu < 0 || i == cpu % count)
            CPU_SET((int) i, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void
bench_pin(int role)
{
    const char *mode = getenv("ORCS_BENCH_PIN");
    if (!mode || !mode[0])
        return;
    s_set_cpus(strcmp(mode, "split") == 0 ? role : 0);
}

void
bench_unpin(void)
{
    const char *mode = getenv("ORCS_BENCH_PIN");
    if (mode && mode[0])
        s_set_cpus(-1);
}

void
bench_print(const char *bench,
            const char *metric,
            double value,
            const char *unit,
            double baseline)
{
    printf("{\"bench\": \"%s\", \"metric\": \"%s\", \"value\": %.3f, "
           "\"unit\": \"%s\", \"baseline\": %.3f, \"ratio\": %.3f}\n",
           bench, metric, value, unit, baseline,
           baseline > 0 ? value / baseline : 0.0);
    fflush(stdout);
}

void
bench_die(orcs_node_t *node, const char *what, orcs_status status)
{
    char error[768] = "";
    if (node)
        orcs_node_error(node, error, sizeof error);
    fprintf(stderr, "bench: %s: %s%s%s\n", what, orcs_status_str(status),
            error[0] ? ": " : "", error);
    exit(1);
}

orcs_node_t *
bench_node_new(const orcs_actor_def_t *const *kinds, size_t count)
{
    return bench_node_new_with(kinds, count, NULL);
}

orcs_node_t *
bench_node_new_with(const orcs_actor_def_t *const *kinds,
                    size_t count,
                    json_t *extra)
{
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    char data_dir[] = "/tmp/orcs-bench.XXXXXX";
    if (!mkdtemp(data_dir)) {
        perror("bench: mkdtemp");
        exit(1);
    }
    orcs_node_t *node = orcs_node_new();
    json_t *config = json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:[]}}",
                               "node", "bench", "data", data_dir, "log_level",
                               "error", "supervisor", "strategy", "one_for_one",
                               "intensity", 1000000, "period_s", 1, "children");
    if (extra) {
        json_object_update(config, extra);
        json_decref(extra);
    }
    orcs_status rc = orcs_node_configure(node, config, NULL);
    json_decref(config);
    if (rc != ORCS_OK)
        bench_die(node, "configure", rc);
    for (size_t i = 0; i < count; i++) {
        rc = orcs_node_register_kind(node, kinds[i]);
        if (rc != ORCS_OK)
            bench_die(node, kinds[i]->kind, rc);
    }
    rc = orcs_node_start(node);
    if (rc != ORCS_OK)
        bench_die(node, "node start", rc);
    return node;
}

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

void
bench_node_destroy(orcs_node_t **node_p)
{
    if (!node_p || !*node_p)
        return;
    char data_dir[PATH_MAX];
    snprintf(data_dir, sizeof data_dir, "%s", orcs_node_data_dir(*node_p));
    orcs_node_destroy(node_p);
    nftw(data_dir, s_remove, 8, FTW_DEPTH | FTW_PHYS);
    orcs_runtime_shutdown();
}

void
bench_start_child(orcs_node_t *node,
                  const char *name,
                  const char *kind,
                  const json_t *config,
                  int mailbox)
{
    json_t *spec = json_pack("{s:s, s:s, s:O?}", "name", name, "actor", kind,
                             "config", config);
    if (!json_object_get(spec, "config")
        || json_is_null(json_object_get(spec, "config")))
        json_object_set_new(spec, "config", json_object());
    if (mailbox > 0)
        json_object_set_new(spec, "mailbox", json_integer(mailbox));
    orcs_status rc = orcs_node_start_child(node, "root", name, spec);
    json_decref(spec);
    if (rc != ORCS_OK)
        bench_die(node, name, rc);
}
