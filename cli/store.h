/*  store.h — what cli/store.c (options, memory commands, stats) and
    cli/store_artifact.c (artifact commands) share.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_CLI_STORE_H_INCLUDED
#define ORCS_CLI_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orcs/artifact.h"
#include "orcs/memory.h"
#include "orcs/orcs.h"

#define ORCS__CLI_EXIT_FAIL  1
#define ORCS__CLI_EXIT_USAGE 2

typedef struct {
    const char *data;      // --data
    const char *tenant;    // --tenant
    bool json;             // --json
    bool help;             // --help
    bool history;          // --history
    bool sign;             // --sign
    long long version;     // --version (-1 = current)
    long long ttl_ms;      // --ttl
    long long expect;      // --expect-version (-1 = none)
    long long limit;       // --limit (0 = default)
    long long depth;       // --depth (0 = no limit)
    const char *add;       // --add FILE
    const char *type;      // --type
    const char *run;       // --run
    const char *actor;     // --actor
    const char *output;    // --output
    const char *direction; // --direction
    const char *inputs[ORCS_ARTIFACT_INPUTS_MAX]; // --input
    size_t input_count;                           // entries of inputs
    char **args;   // positional arguments after COMMAND
    int arg_count; // how many
} orcs__cli_opts_t;

typedef struct {
    orcs__cli_opts_t *opts;      // parsed command line
    orcs_store_t *store;         // DIR/store
    orcs_memory_t *memory;       // on it, as the node itself
    orcs_artifacts_t *artifacts; // on it, key in DIR
} orcs__cli_store_t;

extern const char orcs__cli_artifacts_usage[];
extern const char orcs__cli_lineage_usage[];

// Prints doc as indented JSON text on stdout.
void orcs__cli_print_json(const json_t *doc);
// Sets the log level from its name (--log of `orcs COMMAND`). Returns 0,
// or prints why and returns the usage exit code.
int orcs__cli_set_log(const char *command, const char *name);
// Formats a wall-clock time (us) as ISO 8601 UTC into buf; "-" for 0.
const char *orcs__cli_time(int64_t us, char *buf, size_t size);
// Reports a library failure on stderr; returns the exit code.
int orcs__cli_fail(const char *what, orcs_status rc);
// Reports a usage error (fmt takes one string) and the usage; returns 2.
int orcs__cli_usage_error(const char *usage, const char *fmt, const char *arg);

// `orcs store artifacts` and `orcs store lineage`; return exit codes.
int orcs__cli_artifacts(orcs__cli_store_t *c);
int orcs__cli_lineage(orcs__cli_store_t *c);

// `orcs store` (argv[0] is "store"); returns the exit code.
int orcs__cli_store_main(int argc, char **argv);

#endif
