/*  fuzz_config_parse.c — libFuzzer target for orcs_config_parse.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>

#include "orcs/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    orcs_config_t *config = NULL;
    char err[256];
    err[0] = '\0';
    orcs_status rc = orcs_config_parse((const char *) data, size, "fuzz.yaml",
                                       &config, err, sizeof err);
    if ((rc == ORCS_OK) != (config != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (rc != ORCS_OK && err[0] == '\0')
        __builtin_trap(); // contract: every error says why
    if (config && !json_is_object(orcs_config_doc(config)))
        __builtin_trap(); // contract: a config is always a mapping
    orcs_config_destroy(&config);
    return 0;
}
