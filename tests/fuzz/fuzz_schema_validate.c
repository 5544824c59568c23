/*  fuzz_schema_validate.c — libFuzzer target for orcs_schema_check and
    orcs_schema_validate. The input is a schema (JSON) on the first line
    and a value (JSON) after the first newline.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "orcs/schema.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    const char *newline = memchr(text, '\n', size);
    size_t schema_size = newline ? (size_t) (newline - text) : size;
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *schema = json_loadb(text, schema_size, flags, NULL);
    json_t *value =
        newline ? json_loadb(newline + 1, size - schema_size - 1, flags, NULL)
                : NULL;
    char err[256];
    err[0] = '\0';
    if (schema) {
        orcs_status rc = orcs_schema_check(schema, err, sizeof err);
        if (rc != ORCS_OK && (rc != ORCS_EINVAL || err[0] != '$'))
            __builtin_trap(); // contract: EINVAL with "$path: what"
        if (rc == ORCS_OK && value) {
            err[0] = '\0';
            rc = orcs_schema_validate(schema, value, err, sizeof err);
            if (rc != ORCS_OK && rc != ORCS_EINVAL && rc != ORCS_ETOOBIG)
                __builtin_trap(); // contract: only the listed statuses
            if (rc != ORCS_OK && err[0] != '$')
                __builtin_trap(); // contract: every error names a path
        }
    }
    json_decref(value);
    json_decref(schema);
    return 0;
}
