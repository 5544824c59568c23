/*  fuzz_yaml_parse.c — libFuzzer target for orcs_yaml_parse and line lookup.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>

#include "orcs/yaml.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    orcs_yaml_t *yaml = NULL;
    char err[256];
    err[0] = '\0';
    orcs_status rc = orcs_yaml_parse((const char *) data, size, "fuzz.yaml",
                                     &yaml, err, sizeof err);
    if ((rc == ORCS_OK) != (yaml != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (rc != ORCS_OK && err[0] == '\0')
        __builtin_trap(); // contract: every error says why
    if (yaml) {
        if (!orcs_yaml_doc(yaml) || orcs_yaml_line(yaml, "") < 1)
            __builtin_trap(); // contract: a document, with a root line
        // Look up paths through whatever the input built.
        static const char *const paths[] = {"a",
                                            "a.b",
                                            "a[0]",
                                            "[0]",
                                            "[0].a",
                                            "a\\.b",
                                            "supervisor.children[0].name",
                                            "x[99999999999999999999]",
                                            "[",
                                            "a.",
                                            "..",
                                            "\\"};
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
            if (orcs_yaml_line(yaml, paths[i]) < 1
                || orcs_yaml_key_line(yaml, paths[i]) < 1)
                __builtin_trap();
    }
    orcs_yaml_destroy(&yaml);
    return 0;
}
