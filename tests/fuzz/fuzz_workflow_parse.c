/*  fuzz_workflow_parse.c — libFuzzer target for orcs_workflow_parse
    (workflow files), with the normalised document loaded again.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>

#include "orcs/workflow.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    // A directory that does not exist: relative agent files are missing.
    orcs_status rc =
        orcs_workflow_parse((const char *) data, size, "fuzz.yaml",
                            "/nonexistent-orcs-fuzz", &wf, &errors);
    if ((rc == ORCS_OK) != (wf != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (!json_is_array(errors)
        || (rc != ORCS_OK) != (json_array_size(errors) > 0))
        __builtin_trap(); // contract: every error says why, success says none
    if (wf) {
        orcs_workflow_t *again = NULL;
        if (orcs_workflow_from_doc(wf->doc, NULL, &again, NULL) != ORCS_OK
            || again->count != wf->count)
            __builtin_trap(); // contract: the normalised doc loads again
        for (size_t i = 0; i < wf->count; i++)
            if (again->nodes[i].needs_count != wf->nodes[i].needs_count
                || again->nodes[i].kind != wf->nodes[i].kind
                || orcs_workflow_find(wf, wf->nodes[i].id) != (int) i)
                __builtin_trap();
        orcs_workflow_destroy(&again);
    }
    orcs_workflow_destroy(&wf);
    json_decref(errors);
    return 0;
}
