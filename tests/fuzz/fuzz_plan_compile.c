/*  fuzz_plan_compile.c — libFuzzer target for orcs_plan_compile: a plan is
    model output (JSON a planner wrote), compiled into a workflow document
    that must then load.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "orcs/workflow.h"

static char s_agent[64];

// One agent file every role points to (made once, in /tmp).
static void
s_once(void)
{
    if (s_agent[0])
        return;
    snprintf(s_agent, sizeof s_agent, "/tmp/orcs-fuzz-plan-%d.yaml",
             (int) getuid());
    FILE *file = fopen(s_agent, "w");
    if (!file)
        __builtin_trap();
    fputs("agent: worker\ninstructions: work\n", file);
    fclose(file);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_once();
    json_t *plan = json_loadb((const char *) data, size, 0, NULL);
    if (!plan)
        return 0;
    json_t *roles =
        json_pack("{s:s, s:s}", "research", s_agent, "writing", s_agent);
    json_t *keep = json_pack("{s:{s:s, s:s, s:s}}", "done", "kind", "agent",
                             "agent", s_agent, "input", "x");
    json_t *doc = NULL;
    char err[2048];
    for (int round = 0; round < 2; round++) {
        orcs_status rc = orcs_plan_compile(plan, roles, round ? keep : NULL,
                                           "fuzz", &doc, err, sizeof err);
        if ((rc == ORCS_OK) != (doc != NULL))
            __builtin_trap(); // contract: a document exactly when OK
        if (rc != ORCS_OK && !err[0])
            __builtin_trap(); // contract: a refusal says why
        if (doc) {
            orcs_workflow_t *wf = NULL;
            json_t *errors = NULL;
            // contract: a compiled plan is a valid workflow
            if (orcs_workflow_from_doc(doc, "/", &wf, &errors) != ORCS_OK)
                __builtin_trap();
            orcs_workflow_destroy(&wf);
            json_decref(errors);
        }
        json_decref(doc);
        doc = NULL;
    }
    json_decref(keep);
    json_decref(roles);
    json_decref(plan);
    return 0;
}
