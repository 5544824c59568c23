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

// Parses node config text (YAML or JSON, read by orcs_yaml_parse). Unknown
// keys, wrong types, bad enum values (strategy, restart, log_level),
// out-of-range numbers, bad names, duplicate child names (anywhere in the
// tree: actor names are global in a node), a child with both or neither of
// `actor` and `supervisor`, and a simple_one_for_one supervisor without
// exactly one actor child are refused: err gets "FILE:LINE: PATH: what"
// naming the bad key (e.g. "node.yaml:14: supervisor.children[0].restrat:
// unknown key"), PATH written as orcs_yaml_line takes it. A null value
// counts as absent; an empty file is all defaults. Returns ORCS_OK, or
// ORCS_ECONFIG (or what orcs_yaml_parse returns: ORCS_EPROTO, ORCS_ETOOBIG)
// with *self_p NULL. Caller owns the result; destroy with
// orcs_config_destroy().
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
// root one_for_one supervisor with no children), the same document as an
// empty file gives. Caller owns the result; destroy with
// orcs_config_destroy().
ORCS_EXPORT orcs_config_t *orcs_config_new_default(void);

// Destroys a config; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_config_destroy(orcs_config_t **self_p);

// The whole document with defaults filled in: every key that has a default
// is present (children too; a child's mailbox defaults to limits.mailbox).
// Optional keys without one (listen, control, a child's actor or
// supervisor) are present only when set. Borrowed: valid until
// orcs_config_destroy(). Callers may modify it before starting a node
// (e.g. to apply --data).
ORCS_EXPORT json_t *orcs_config_doc(const orcs_config_t *self);

// The directory the file was in (dirname of the path given to
// orcs_config_load; "." for text or defaults); relative
// plug-in paths that do not exist from the working directory are tried
// from here. Borrowed, as above.
ORCS_EXPORT const char *orcs_config_dir(const orcs_config_t *self);

// Checks a supervisor spec (the `supervisor` object of a node config) as a
// runtime API caller may have built it by hand, by the same rules; keys
// left out take their defaults, which are not written into spec. Names must
// be unique within spec. Returns ORCS_OK (err "") or ORCS_ECONFIG with
// "PATH: what" in err, PATH relative to spec ("children[0].restart: ...").
ORCS_EXPORT orcs_status orcs_config_check_supervisor(const json_t *spec,
                                                     char *err,
                                                     size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
