/*  fuzz_tool_manifest.c — libFuzzer target for orcs_tool_manifest_parse.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>

#include "orcs/schema.h"
#include "orcs/tools.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *manifest = NULL;
    char err[512];
    err[0] = '\0';
    orcs_status rc =
        orcs_tool_manifest_parse((const char *) data, size, "fuzz.tool.yaml",
                                 &manifest, err, sizeof err);
    if ((rc == ORCS_OK) != (manifest != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (rc != ORCS_OK && err[0] == '\0')
        __builtin_trap(); // contract: every error says why
    if (manifest) {
        const json_t *name = json_object_get(manifest, "tool");
        const json_t *schema = json_object_get(manifest, "input_schema");
        if (!json_is_string(name))
            __builtin_trap(); // contract: a manifest names its tool
        if (schema && orcs_schema_check(schema, err, sizeof err) != ORCS_OK)
            __builtin_trap(); // contract: its schemas were checked
        if (schema) {
            json_t *args = json_object();
            orcs_schema_validate(schema, args, err, sizeof err);
            json_decref(args);
        }
    }
    json_decref(manifest);
    return 0;
}
