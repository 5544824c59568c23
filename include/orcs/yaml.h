/*  orcs/yaml.h — YAML (and JSON) files into jansson documents, with the line
    of every value kept so errors can name file:line.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_YAML_H_INCLUDED
#define ORCS_YAML_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_YAML_MAX_SIZE  (4u * 1024 * 1024) // bytes of YAML accepted
#define ORCS_YAML_MAX_DEPTH 64u                // nesting accepted

typedef struct orcs_yaml_t orcs_yaml_t;

// Parses YAML text (one document; JSON is accepted as YAML). Plain scalars
// follow the YAML 1.2 core schema (null, true/false, integers, floats, else
// string); quoted scalars are strings. Anchors and aliases, duplicate keys,
// non-scalar keys, more than one document, text over ORCS_YAML_MAX_SIZE or
// nesting over ORCS_YAML_MAX_DEPTH are refused. filename is used only in
// messages. On error writes "FILE:LINE: what" into err (err_size bytes,
// always NUL-terminated when err_size > 0) and returns ORCS_EPROTO or
// ORCS_ETOOBIG with *self_p NULL. Caller owns the result; destroy with
// orcs_yaml_destroy().
ORCS_EXPORT orcs_status orcs_yaml_parse(const char *text,
                                        size_t size,
                                        const char *filename,
                                        orcs_yaml_t **self_p,
                                        char *err,
                                        size_t err_size);

// Reads and parses a file as orcs_yaml_parse does. Returns ORCS_EIO when the
// file cannot be read (err says why), otherwise as orcs_yaml_parse.
ORCS_EXPORT orcs_status orcs_yaml_load(const char *path,
                                       orcs_yaml_t **self_p,
                                       char *err,
                                       size_t err_size);

// Destroys a parsed document; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_yaml_destroy(orcs_yaml_t **self_p);

// Returns the document. Borrowed: valid until orcs_yaml_destroy().
ORCS_EXPORT json_t *orcs_yaml_doc(const orcs_yaml_t *self);

// Returns the file name given to parse/load. Borrowed, as above.
ORCS_EXPORT const char *orcs_yaml_filename(const orcs_yaml_t *self);

// Returns the 1-based line of the value at path, a dotted path with [N] for
// array items ("supervisor.children[0].restart"; "" is the root). When path
// has no value, returns the line of its nearest existing ancestor; 0 when
// nothing matches.
ORCS_EXPORT int orcs_yaml_line(const orcs_yaml_t *self, const char *path);

// Same, but the line of the key of the value at path (a mapping entry), which
// is where an "unknown key" error should point. Falls back as above.
ORCS_EXPORT int orcs_yaml_key_line(const orcs_yaml_t *self, const char *path);

#ifdef __cplusplus
}
#endif
#endif
