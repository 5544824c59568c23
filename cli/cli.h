/*  cli.h — what the orcs command's files share.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_CLI_H_INCLUDED
#define ORCS_CLI_H_INCLUDED

#include "store.h"

// `orcs run` (argv[0] is "run"); returns the exit code.
int orcs__cli_run_main(int argc, char **argv);

// `orcs tools` (argv[0] is "tools"); returns the exit code.
int orcs__cli_tools_main(int argc, char **argv);

#endif
