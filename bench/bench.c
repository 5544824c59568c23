/*  bench.c — helpers shared by the benchmarks (see bench.h).
    SPDX-License-Identifier: MPL-2.0 */
#include "bench.h"

#include <dirent.h>
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

// ---- CPU time by thread

static size_t
s_cpu_slot(bench_cpu_t *cpu, const char *name)
{
    for (size_t i = 0; i < cpu->count; i++)
        if (strcmp(cpu->threads[i].name, name) == 0)
            return i;
    if (cpu->count == BENCH_THREADS_MAX)
        return BENCH_THREADS_MAX;
    snprintf(cpu->threads[cpu->count].name, sizeof cpu->threads[0].name, "%s",
             name);
    cpu->threads[cpu->count].user_s = cpu->threads[cpu->count].sys_s = 0;
    return cpu->count++;
}

void
bench_cpu_read(bench_cpu_t *cpu, int pid)
{
    cpu->count = 0;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", pid ? pid : (int) getpid());
    DIR *tasks = opendir(dir);
    if (!tasks)
        return;
    double tick = (double) sysconf(_SC_CLK_TCK);
    struct dirent *entry;
    while ((entry = readdir(tasks))) {
        if (entry->d_name[0] == '.')
            continue;
        char path[128], line[1024];
        snprintf(path, sizeof path, "%s/%.32s/stat", dir, entry->d_name);
        FILE *file = fopen(path, "r");
        if (!file)
            continue;
        char *open = NULL, *close = NULL;
        if (fgets(line, sizeof line, file)) {
            open = strchr(line, '(');
            close = strrchr(line, ')');
        }
        fclose(file);
        unsigned long user = 0, sys = 0;
        // after "(comm) ": state ppid pgrp session tty tpgid flags minflt
        // cminflt majflt cmajflt utime stime
        if (!open || !close || close < open
            || sscanf(close + 2,
                      "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                      "%lu %lu",
                      &user, &sys)
                   != 2)
            continue;
        *close = '\0';
        size_t slot = s_cpu_slot(cpu, open + 1);
        if (slot == BENCH_THREADS_MAX)
            continue;
        cpu->threads[slot].user_s += (double) user / tick;
        cpu->threads[slot].sys_s += (double) sys / tick;
    }
    closedir(tasks);
}

void
bench_cpu_print(const char *bench,
                const char *what,
                const bench_cpu_t *before,
                const bench_cpu_t *after,
                double wall_s)
{
    double used[BENCH_THREADS_MAX], total = 0;
    size_t order[BENCH_THREADS_MAX];
    for (size_t i = 0; i < after->count; i++) {
        double was = 0;
        for (size_t j = 0; j < before->count; j++)
            if (strcmp(before->threads[j].name, after->threads[i].name) == 0)
                was = before->threads[j].user_s + before->threads[j].sys_s;
        used[i] = after->threads[i].user_s + after->threads[i].sys_s - was;
        total += used[i];
        order[i] = i;
    }
    for (size_t i = 1; i < after->count; i++) // insertion sort, most first
        for (size_t j = i; j > 0 && used[order[j]] > used[order[j - 1]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fprintf(stderr, "%s: CPU during %s:", bench, what);
    for (size_t k = 0; k < after->count; k++)
        if (used[order[k]] > 0.01)
            fprintf(stderr, " %s %.2f s,", after->threads[order[k]].name,
                    used[order[k]]);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(stderr, " total %.2f s of %.2f s (%ld CPUs x %.2f s wall)\n", total,
            wall_s * (double) (cpus > 0 ? cpus : 1), cpus > 0 ? cpus : 1,
            wall_s);
}
