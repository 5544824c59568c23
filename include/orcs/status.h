/*  orcs/status.h — the one status enum of the whole API.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_STATUS_H_INCLUDED
#define ORCS_STATUS_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ORCS_BUILDING)
#define ORCS_EXPORT __attribute__((visibility("default")))
#else
#define ORCS_EXPORT
#endif

// Every status, with its value and description. Values are never renumbered;
// new ones are added at the end.
#define ORCS_STATUS_MAP(XX)                               \
    XX(OK, 0, "success")                                  \
    XX(EINVAL, -1, "invalid argument")                    \
    XX(ENOTFOUND, -2, "not found")                        \
    XX(EEXIST, -3, "already exists")                      \
    XX(EAGAIN, -4, "resource temporarily unavailable")    \
    XX(ETIMEDOUT, -5, "timed out")                        \
    XX(ECLOSED, -6, "closed")                             \
    XX(ETOOBIG, -7, "too big")                            \
    XX(EPROTO, -8, "malformed input")                     \
    XX(EIO, -9, "input/output error")                     \
    XX(ENET, -10, "network error")                        \
    XX(EREMOTE, -11, "remote peer failed")                \
    XX(ECANCELED, -12, "canceled")                        \
    XX(EINTERNAL, -13, "internal error")                  \
    XX(EFULL, -14, "mailbox full")                        \
    XX(EFAILED, -15, "actor failed")                      \
    XX(EHUNG, -16, "actor missed its heartbeat deadline") \
    XX(ECRASHED, -17, "child process died")               \
    XX(ESHUTDOWN, -18, "shutting down")                   \
    XX(ECONFIG, -19, "invalid configuration")             \
    XX(EDENIED, -20, "access denied")                     \
    XX(EUNSUPPORTED, -21, "not supported")

typedef enum {
#define XX(name, value, text) ORCS_##name = value,
    ORCS_STATUS_MAP(XX)
#undef XX
} orcs_status;

// Returns the human description of a status ("timed out"). Unknown values
// give "unknown status". The string is static.
ORCS_EXPORT const char *orcs_status_str(orcs_status status);

// Returns the symbolic name of a status ("ETIMEDOUT", "OK"). Unknown values
// give "EUNKNOWN". The string is static.
ORCS_EXPORT const char *orcs_status_name(orcs_status status);

// Parses a symbolic name back into a status. Returns ORCS_OK and sets
// *status_p, or ORCS_ENOTFOUND when the name is unknown.
ORCS_EXPORT orcs_status orcs_status_from_name(const char *name,
                                              orcs_status *status_p);

#ifdef __cplusplus
}
#endif
#endif
