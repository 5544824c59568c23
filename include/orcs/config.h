/*  orcs/config.h — the node config file (FORMATS.md "Node config"), loaded,
    checked key by key and completed with defaults.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_CONFIG_H_INCLUDED
#define ORCS_CONFIG_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct orcs_config_t orcs_config_t;

// Parses node config text. Unknown keys, wrong types, bad enum values
// (strategy, restart), out-of-range numbers, duplicate child names, a child
// with both or neither of `actor` and `supervisor` are refused: err gets
// "FILE:LINE: PATH: what" naming the bad key (e.g. "node.yaml:14:
// supervisor.children[0].restrat: unknown key"). Returns ORCS_OK, or
// ORCS_ECONFIG (or what orcs_yaml_parse returns) with *self_p NULL.
// Caller owns the result; destroy with orcs_config_destroy().
ORCS_EXPORT orcs_status orcs_config_parse(const char *text,
                                          size_t size,
                                          const char *filename,
                                          orcs_config_t **self_p,
                                          char *err,
                                          size_t err_size);

// Reads a file and parses it as above; ORCS_EIO when it cannot be read.
ORCS_EXPORT orcs_status orcs_config_load(const char *path,
                                         orcs_config_t **self_p,
                                         char *err,
                                         size_t err_size);

// Returns the built-in default config (node "local", data "./orcs-data", a
// root one_for_one supervisor with no children). Caller owns the result.
ORCS_EXPORT orcs_config_t *orcs_config_new_default(void);

// Destroys a config; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_config_destroy(orcs_config_t **self_p);

// The whole document with defaults filled in. Borrowed: valid until
// orcs_config_destroy(). Callers may modify it before starting a node
// (e.g. to apply --data).
ORCS_EXPORT json_t *orcs_config_doc(const orcs_config_t *self);

// The directory the file was in ("." for text or defaults); relative
// plug-in paths that do not exist from the working directory are tried
// from here. Borrowed, as above.
ORCS_EXPORT const char *orcs_config_dir(const orcs_config_t *self);

// Checks a supervisor spec (the `supervisor` object of a node config, after
// defaults) as a runtime API caller may have built it by hand. Returns
// ORCS_OK or ORCS_ECONFIG with "PATH: what" in err.
ORCS_EXPORT orcs_status orcs_config_check_supervisor(const json_t *spec,
                                                     char *err,
                                                     size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
