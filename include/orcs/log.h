/*  orcs/log.h — leveled, one-line, key=value logging.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_LOG_H_INCLUDED
#define ORCS_LOG_H_INCLUDED

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ORCS_LOG_ERROR = 0, // something failed and was not handled
    ORCS_LOG_WARN = 1,  // handled, but someone should know
    ORCS_LOG_INFO = 2,  // lifecycle: start, stop, restart
    ORCS_LOG_DEBUG = 3  // details; prompts and payloads only here
} orcs_log_level;

// A log sink: receives one formatted line (no trailing newline).
typedef void(orcs_log_sink_fn)(orcs_log_level level,
                               const char *component,
                               const char *line,
                               void *arg);

// Returns the current level; messages above it are not even formatted.
ORCS_EXPORT orcs_log_level orcs_log_level_get(void);

// Sets the level (thread-safe).
ORCS_EXPORT void orcs_log_level_set(orcs_log_level level);

// Replaces the sink (NULL restores the default: stderr). Not thread-safe
// with concurrent logging: call it at start-up.
ORCS_EXPORT void orcs_log_set_sink(orcs_log_sink_fn *sink, void *arg);

// Formats and writes one line. Use the orcs_log_* macros instead.
ORCS_EXPORT void orcs_log_write(orcs_log_level level,
                                const char *component,
                                const char *fmt,
                                ...) __attribute__((format(printf, 3, 4)));

#define orcs_log_at(level, component, ...)                     \
    do {                                                       \
        if ((level) <= orcs_log_level_get())                   \
            orcs_log_write((level), (component), __VA_ARGS__); \
    } while (0)
#define orcs_log_error(component, ...) \
    orcs_log_at(ORCS_LOG_ERROR, component, __VA_ARGS__)
#define orcs_log_warn(component, ...) \
    orcs_log_at(ORCS_LOG_WARN, component, __VA_ARGS__)
#define orcs_log_info(component, ...) \
    orcs_log_at(ORCS_LOG_INFO, component, __VA_ARGS__)
#define orcs_log_debug(component, ...) \
    orcs_log_at(ORCS_LOG_DEBUG, component, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
