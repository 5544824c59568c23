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

// Parses YAML text (one document; JSON is accepted as YAML) with libyaml.
// Plain scalars follow the YAML 1.2 core schema: null, ~ and empty are null;
// true/false (also True, TRUE, ...) are booleans; [-+]?[0-9]+, 0o.. and 0x..
// are integers; decimal floats are reals; anything else is a string. Quoted
// and block scalars are strings; the tags !!str, !!int, !!float, !!bool,
// !!null, !!map, !!seq and ! are honoured, others refused. Mapping keys are
// the key's text ("1: x" gives key "1"). Empty text (or only comments) gives
// a null document on line 1. Refused with ORCS_EPROTO: anchors and aliases
// (so no alias bombs), duplicate keys, non-scalar keys, keys holding NUL,
// more than one document, integers beyond 64 bits, .inf, .nan and floats out
// of range (JSON has no form for them), and libyaml's syntax errors. Refused
// with ORCS_ETOOBIG: text over ORCS_YAML_MAX_SIZE, nesting over
// ORCS_YAML_MAX_DEPTH. filename (NULL gives "<text>") is used only in
// messages. On error writes "FILE:LINE: what" into err (err_size bytes,
// always NUL-terminated when err_size > 0; "" on success) and returns the
// status with *self_p NULL. Caller owns the result; destroy with
// orcs_yaml_destroy().
ORCS_EXPORT orcs_status orcs_yaml_parse(const char *text,
                                        size_t size,
                                        const char *filename,
                                        orcs_yaml_t **self_p,
                                        char *err,
                                        size_t err_size);

// Reads and parses a file as orcs_yaml_parse does, with path as the file
// name in messages. Returns ORCS_EIO when the file cannot be read (err is
// "PATH: strerror"), otherwise as orcs_yaml_parse.
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
// array items ("supervisor.children[0].restart"; "" is the root). In a key,
// '.', '[' and '\' are escaped with a '\' (key "gpt-4.1" under "models" is
// "models.gpt-4\.1"). When path has no value, returns the line of its
// nearest existing ancestor (ultimately the root); 0 only for a document
// without values, which a successful parse never gives. A block mapping or
// sequence starts on the line of its first entry.
ORCS_EXPORT int orcs_yaml_line(const orcs_yaml_t *self, const char *path);

// Same, but the line of the key of the value at path (a mapping entry), which
// is where an "unknown key" error should point. For an array item or the
// root, the line of the value. Falls back as above.
ORCS_EXPORT int orcs_yaml_key_line(const orcs_yaml_t *self, const char *path);

#ifdef __cplusplus
}
#endif
#endif
