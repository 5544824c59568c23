/*  orcs/schema.h — a JSON Schema subset for tool arguments, tool results
    and agents' structured output.
    SPDX-License-Identifier: MPL-2.0

    Keywords: type (a name or a list of names: object, array, string,
    integer, number, boolean, null), properties, required,
    additionalProperties (false or a schema), enum, const, items,
    minItems/maxItems, minimum/maximum, exclusiveMinimum/exclusiveMaximum
    (numbers), minLength/maxLength (in code points), pattern (POSIX ERE),
    anyOf/oneOf/allOf, and the annotations description, title, default,
    examples, $schema, format (not checked). Any other keyword is refused
    by orcs_schema_check so a typo never passes silently. Errors name the
    JSON path of the bad value: "$.items[2].name: expected string, got
    integer". Schemas are read-only and may be shared between threads. */
#ifndef ORCS_SCHEMA_H_INCLUDED
#define ORCS_SCHEMA_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_SCHEMA_DEPTH_MAX 64u // nesting of schemas and of checked values

// Checks that schema is a schema this validator understands (known
// keywords with values of the right shape, depth at most
// ORCS_SCHEMA_DEPTH_MAX). On error writes "path: what is wrong" into err
// (err_size bytes, may be 0). Returns ORCS_OK or ORCS_EINVAL.
ORCS_EXPORT orcs_status orcs_schema_check(const json_t *schema,
                                          char *err,
                                          size_t err_size);

// Validates value against schema (which should have passed
// orcs_schema_check). On the first error writes "$.path: what is wrong"
// into err. Returns ORCS_OK, ORCS_EINVAL (value does not match), or
// ORCS_ETOOBIG (nesting deeper than ORCS_SCHEMA_DEPTH_MAX).
ORCS_EXPORT orcs_status orcs_schema_validate(const json_t *schema,
                                             const json_t *value,
                                             char *err,
                                             size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
