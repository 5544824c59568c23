/*  tools/exec.h — the sandboxed process runner behind exec tools: a child
    in its own process group with resource limits, a syscall filter that
    keeps it off the network, no inherited descriptors and a minimal
    environment; driven by the calling actor's poll loop (non-blocking
    pipes and a pidfd watched with orcs_actor_watch), never blocking it.
    SPDX-License-Identifier: MPL-2.0

    Lifecycle: orcs__exec_filter_new (once per actor: the network filter
    compiled to BPF) -> orcs__exec_start -> the done callback (the child
    exited and its output was read) -> accessors -> orcs__exec_destroy.
    orcs__exec_kill ends the child early (a timeout); done still runs.
    When the child exits, anything left in its process group (background
    jobs) is killed: nothing a tool started outlives its call. */
#ifndef ORCS_TOOLS_EXEC_H_INCLUDED
#define ORCS_TOOLS_EXEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orcs/actor.h"
#include "orcs/status.h"

#define ORCS_EXEC_STDERR_TAIL 2048u       // stderr bytes kept (the last ones)
#define ORCS_EXEC_ARGS_MAX    256u        // argv entries
#define ORCS_EXEC_ENV_MAX     128u        // extra environment entries
#define ORCS_EXEC_FSIZE_MAX   (64u << 20) // RLIMIT_FSIZE of every child

// The compiled network filter (classic BPF), shared by every child of an
// actor. Read-only once made.
typedef struct orcs__exec_filter_t orcs__exec_filter_t;

// One running (or finished) child.
typedef struct orcs__exec_t orcs__exec_t;

// What to run and within which limits. Everything is borrowed for the
// orcs__exec_start call only.
typedef struct {
    const char *const *argv; // NULL-terminated; argv[0] is looked up in PATH
    const char *const *env;  // extra "NAME=value" entries, NULL-terminated
                             // (may be NULL)
    const char *cwd;         // working directory; NULL = the temporary one
    const void *stdin_data;  // bytes for the child's stdin (may be NULL)
    size_t stdin_size;       // bytes of stdin_data
    int cpu_s;               // RLIMIT_CPU seconds; 0 = no limit
    int memory_mb;           // RLIMIT_AS MiB; 0 = no limit
    int processes;           // RLIMIT_NPROC; 0 = no limit
    int files;               // RLIMIT_NOFILE; 0 = no limit
    size_t max_output_bytes; // stdout cap: beyond it the child is killed
    const orcs__exec_filter_t *filter; // network filter; NULL = network
} orcs__exec_opts_t;

// Called on the actor's thread once the child exited (or could not be
// waited for) and its output was read. The exec object is still valid and
// owned by the caller, who may destroy it inside the callback.
typedef void(orcs__exec_done_fn)(orcs__exec_t *exec, void *arg);

// Compiles the network filter: socket() for AF_INET, AF_INET6 and
// AF_PACKET fails with EACCES (AF_UNIX stays allowed), io_uring_setup
// with ENOSYS (io_uring can open sockets), and syscalls of foreign
// architectures kill the process. Caller owns *filter_p; destroy with
// orcs__exec_filter_destroy(). Returns ORCS_OK, ORCS_EUNSUPPORTED when
// libseccomp cannot build it (the reason is logged at DEBUG), or ORCS_EIO.
orcs_status orcs__exec_filter_new(orcs__exec_filter_t **filter_p);

// Destroys a filter; safe with *filter_p NULL; sets it to NULL.
void orcs__exec_filter_destroy(orcs__exec_filter_t **filter_p);

// Starts argv in a new process group, with a fresh temporary directory as
// HOME and TMPDIR and, unless opts->cwd says otherwise, as its working
// directory (removed by destroy), with the
// environment PATH, HOME, TMPDIR, LANG=C plus opts->env. done(exec, arg)
// runs later on actor's thread. On success *exec_p is the caller's;
// destroy with orcs__exec_destroy(). Returns ORCS_OK; ORCS_ENOTFOUND when
// argv[0] is not found (message in err); ORCS_EINVAL for an empty or
// oversized argv or env; ORCS_EIO when pipes, the directory or the fork
// fail (message in err). A callback is never called on error.
orcs_status orcs__exec_start(orcs_actor_t *actor,
                             const orcs__exec_opts_t *opts,
                             orcs__exec_done_fn *done,
                             void *arg,
                             orcs__exec_t **exec_p,
                             char *err,
                             size_t err_size);

// Kills the child's whole process group (SIGKILL) if it still runs; done
// runs when it is gone. Safe to call more than once.
void orcs__exec_kill(orcs__exec_t *self);

// Stops watching, kills and reaps a child that still runs (blocking only
// for the reap of a SIGKILLed process), closes everything, removes the
// directory and frees. Safe with *self_p NULL; sets it to NULL.
void orcs__exec_destroy(orcs__exec_t **self_p);

// After done: true when the child exited normally; then its code.
bool orcs__exec_exited(const orcs__exec_t *self, int *code_p);

// After done: the signal that ended the child, or 0.
int orcs__exec_signal(const orcs__exec_t *self);

// True when stdout passed max_output_bytes (the child was killed).
bool orcs__exec_output_over(const orcs__exec_t *self);

// The child's stdout (at most max_output_bytes bytes, NUL-terminated).
// Borrowed: valid until orcs__exec_destroy().
const char *orcs__exec_stdout(const orcs__exec_t *self, size_t *size_p);

// The last ORCS_EXEC_STDERR_TAIL bytes of the child's stderr
// (NUL-terminated). Borrowed: valid until orcs__exec_destroy().
const char *orcs__exec_stderr(const orcs__exec_t *self, size_t *size_p);

#endif
