/*  bench.h — what every benchmark shares: a node in a scratch data
    directory, a clock, sample statistics and the one output line.
    SPDX-License-Identifier: MPL-2.0

    Every benchmark prints, on stdout and nothing else, one JSON line per
    figure: {"bench", "metric", "value", "unit", "baseline", "ratio"}, the
    baseline measured in the same run (ratio = value / baseline); and a
    one-line human summary per figure on stderr. */
#ifndef ORCS_BENCH_H_INCLUDED
#define ORCS_BENCH_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "orcs/orcs.h"

// Scales iteration counts: ORCS_BENCH_SCALE=0.1 for a quick run (default 1).
// Returns count * scale, at least minimum.
long bench_scaled(long count, long minimum);

// Monotonic nanoseconds.
int64_t bench_now_ns(void);

// The median of count samples (sorts them in place).
double bench_median(double *samples, size_t count);

// The pth percentile (0..100, nearest rank) of count samples (sorts them in
// place).
double bench_percentile(double *samples, size_t count, double p);

// Pins the calling thread for one side (role 0 or 1) of a measured pair
// when ORCS_BENCH_PIN is set: "same" puts both sides on CPU 0, "split" on
// CPUs 0 and 1. Unset (the default), threads float as users' would. Both
// the runtime's actors (from their init) and the baseline's threads call
// it, so a pinned comparison places both alike: on a VM a wake-up across
// CPUs costs far more than one on the same CPU, and where the scheduler
// puts two unpinned threads changes from run to run.
void bench_pin(int role);

// Lets the calling thread run on every CPU again (after bench_pin).
void bench_unpin(void);

// Prints the JSON line of one figure on stdout.
void bench_print(const char *bench,
                 const char *metric,
                 double value,
                 const char *unit,
                 double baseline);

// Initialises the runtime (log level error) and starts a node named "bench"
// in a new scratch data directory, with a root one_for_one supervisor that
// tolerates 1000000 restarts a second and has no children. kinds (count of
// them) are registered before the start. Exits the process with status 1
// when the node does not start. Caller owns the result; destroy with
// bench_node_destroy().
orcs_node_t *bench_node_new(const orcs_actor_def_t *const *kinds, size_t count);

// As bench_node_new, with the members of extra (consumed; may be NULL)
// added to the node config (models, tools, toolexec...).
orcs_node_t *bench_node_new_with(const orcs_actor_def_t *const *kinds,
                                 size_t count,
                                 json_t *extra);
// Destroys the node, removes its data directory and shuts the runtime down;
// safe with *node_p NULL; sets it to NULL.
void bench_node_destroy(orcs_node_t **node_p);

// Starts a child under "root" from a full child spec {"name", "actor":
// kind, "config": config (NULL = {})} with a mailbox of mailbox messages
// (0 = the default). Exits the process with status 1 when it fails.
void bench_start_child(orcs_node_t *node,
                       const char *name,
                       const char *kind,
                       const json_t *config,
                       int mailbox);

// CPU time by thread name, read from /proc/PID/task/*/stat, for the
// summaries on stderr (where a benchmark's time goes).
#define BENCH_THREADS_MAX 64
typedef struct {
    size_t count;
    struct {
        char name[24]; // "comm" of the thread (an actor's name, cut to 15)
        double user_s, sys_s;
    } threads[BENCH_THREADS_MAX];
} bench_cpu_t;

// Reads the CPU time of every thread of process pid (0 = this process);
// threads of the same name are summed.
void bench_cpu_read(bench_cpu_t *cpu, int pid);

// Prints on stderr "<bench>: CPU during <what>: name user+sys s, ..." for
// the threads that used more than 10 ms between before and after, most
// first, and the total against the wall time times the CPUs online.
void bench_cpu_print(const char *bench,
                     const char *what,
                     const bench_cpu_t *before,
                     const bench_cpu_t *after,
                     double wall_s);

// Prints "bench: what: status" with the node's error on stderr and exits
// with status 1.
void bench_die(orcs_node_t *node, const char *what, orcs_status status)
    __attribute__((noreturn));

#endif
