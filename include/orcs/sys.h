/*  orcs/sys.h — process-wide set-up, allocation and assertions.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_SYS_H_INCLUDED
#define ORCS_SYS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

// Initialises the process once: czmq (without its signal handlers), the log
// sink, the OOM policy, SIGPIPE ignored, and glibc's fastbins turned off
// (mallopt M_MXFAST 0; the environment variable ORCS_MALLOC=default keeps
// glibc's setting). Call it from main before anything else; a second call
// does nothing. Returns ORCS_OK.
ORCS_EXPORT orcs_status orcs_runtime_init(void);

// Releases what orcs_runtime_init took. Call at exit, after every node is
// destroyed.
ORCS_EXPORT void orcs_runtime_shutdown(void);

// Allocation that never returns NULL: on OOM it logs and aborts. Every size
// read from input must be capped before it reaches these.
ORCS_EXPORT void *orcs_malloc(size_t size);
ORCS_EXPORT void *orcs_calloc(size_t count, size_t size);
ORCS_EXPORT void *orcs_realloc(void *ptr, size_t size);
ORCS_EXPORT char *orcs_strdup(const char *s);

// Monotonic clock in microseconds (for deadlines inside one process).
ORCS_EXPORT int64_t orcs_clock_mono_us(void);

// Wall clock in microseconds since the epoch (for deadlines on the wire).
ORCS_EXPORT int64_t orcs_clock_wall_us(void);

// Logs the expression, file and line, then aborts. Never returns.
ORCS_EXPORT void orcs_panic_at(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

// Programmer errors only (NULL self, wrong state): stays on in release.
// Never use it on data from outside the process.
#define orcs_assert(expr)                                                     \
    do {                                                                      \
        if (!(expr))                                                          \
            orcs_panic_at(__FILE__, __LINE__, "assertion failed: %s", #expr); \
    } while (0)
#define orcs_panic(...) orcs_panic_at(__FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
