/*  cli.h — what the orcs command's files share.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_CLI_H_INCLUDED
#define ORCS_CLI_H_INCLUDED

#include <limits.h>
#include <stdbool.h>

#include "orcs/orcs.h"
#include "store.h"

#define ORCS__CLI_EXIT_WAITING 3 // a run waits for a human (approval, pause)

// `orcs run` (argv[0] is "run"); returns the exit code. Runs a workflow
// (orcs__cli_flow_run_main) unless --agent is given.
int orcs__cli_run_main(int argc, char **argv);

// `orcs tools` (argv[0] is "tools"); returns the exit code.
int orcs__cli_tools_main(int argc, char **argv);

// `orcs run FLOW.yaml`, `orcs plan`, `orcs validate` (cli/flow.c) and
// `orcs runs`, `orcs approve` (cli/runs.c): argv[0] is the command;
// return the exit code.
int orcs__cli_flow_run_main(int argc, char **argv);
int orcs__cli_plan_main(int argc, char **argv);
int orcs__cli_validate_main(int argc, char **argv);
int orcs__cli_runs_main(int argc, char **argv);
int orcs__cli_approve_main(int argc, char **argv);

// ---- A node to talk to (cli/session.c)

// The options of the commands that may start a node in the process.
typedef struct {
    const char *config;    // --config FILE
    const char *data;      // --data DIR
    const char *model_url; // --model-url URL
    const char *model;     // --model NAME
    const char *key_env;   // --model-key-env VAR
    const char *replay;    // --replay FILE
    const char *log;       // --log LEVEL (NULL: warn)
} orcs__cli_node_opts_t;

// getopt_long codes of those options (long options only).
enum {
    ORCS__CLI_OPT_CONFIG = 0x100,
    ORCS__CLI_OPT_DATA,
    ORCS__CLI_OPT_MODEL_URL,
    ORCS__CLI_OPT_MODEL,
    ORCS__CLI_OPT_KEY_ENV,
    ORCS__CLI_OPT_REPLAY,
    ORCS__CLI_OPT_LOG,
    ORCS__CLI_OPT_NEXT // first code free for a command's own options
};

// Entries of a `struct option` table for them (no terminator).
#define ORCS__CLI_NODE_OPTIONS                                             \
    {"config", required_argument, NULL, ORCS__CLI_OPT_CONFIG},             \
        {"data", required_argument, NULL, ORCS__CLI_OPT_DATA},             \
        {"model-url", required_argument, NULL, ORCS__CLI_OPT_MODEL_URL},   \
        {"model", required_argument, NULL, ORCS__CLI_OPT_MODEL},           \
        {"model-key-env", required_argument, NULL, ORCS__CLI_OPT_KEY_ENV}, \
        {"replay", required_argument, NULL, ORCS__CLI_OPT_REPLAY},         \
    {                                                                      \
        "log", required_argument, NULL, ORCS__CLI_OPT_LOG                  \
    }

// The help lines of those options.
extern const char orcs__cli_node_options_help[];

// Takes one of those options into o. Returns true when opt was one.
bool orcs__cli_node_option(orcs__cli_node_opts_t *o, int opt, const char *arg);

// Loads the node config of a command: --config (or the default config)
// with --data and the model flags applied. On error prints why (prefixed
// "orcs COMMAND: ") and returns the usage exit code with *config_p NULL.
// Caller owns *config_p; destroy with orcs_config_destroy().
int orcs__cli_node_config(const char *command,
                          const orcs__cli_node_opts_t *o,
                          orcs_config_t **config_p);

// Sets the log level from o->log and starts a node in the process with the
// config of orcs__cli_node_config. On error prints why and returns the
// exit code (2 for a bad config, 1 otherwise) with *node_p NULL. Caller
// owns *node_p; destroy with orcs_node_destroy().
int orcs__cli_node_start(const char *command,
                         const orcs__cli_node_opts_t *o,
                         orcs_node_t **node_p);

// The orchestrator of a node: the one running on the data directory
// (through its control endpoint) or one started in the command.
typedef struct {
    const char *command;          // for messages ("run", "runs ls")
    orcs_node_t *node;            // started in the command, else NULL
    orcs_client_t *client;        // the in-process node's client
    char endpoint[PATH_MAX + 32]; // the control endpoint
    char data[PATH_MAX];          // the data directory
    orcs_store_t *store;          // opened by orcs__cli_orch_store
    bool remote;                  // a node running there answered
} orcs__cli_orch_t;

// Fills o->data and o->endpoint from the options (config `data` and
// `control`) and asks the endpoint for a quick status. Returns 1 when a
// node answered (asks then go through it), 0 when none runs, or the usage
// exit code negated (-2) for a bad config (printed).
int orcs__cli_orch_find(orcs__cli_orch_t *o,
                        const char *command,
                        const orcs__cli_node_opts_t *opts);

// Starts a node in the command for the asks. Returns 0 or the exit code
// (printed).
int orcs__cli_orch_start(orcs__cli_orch_t *o,
                         const orcs__cli_node_opts_t *opts);

// Sends an ask of type to the orchestrator (body borrowed) and waits up to
// timeout_ms. *reply_p is the reply's body (error replies carry
// {"error"}); the caller owns it. Returns the reply's status, or
// ORCS_ETIMEDOUT and the statuses of sending.
orcs_status orcs__cli_orch_ask(orcs__cli_orch_t *o,
                               const char *type,
                               const json_t *body,
                               int timeout_ms,
                               json_t **reply_p);

// The store of the data directory: the in-process node's, or opened on
// o->data (also while a node runs on it). Returns NULL, with *rc_p
// ORCS_ENOTFOUND, when the data directory has no store yet, or the status
// of orcs_store_open. Borrowed: valid until orcs__cli_orch_close().
orcs_store_t *orcs__cli_orch_store(orcs__cli_orch_t *o, orcs_status *rc_p);

// A run's view: from the orchestrator (run.get) when it holds the run,
// else from the store. Caller owns *view_p. Returns ORCS_OK,
// ORCS_ENOTFOUND, or the statuses of both.
orcs_status
orcs__cli_orch_view(orcs__cli_orch_t *o, const char *run, json_t **view_p);

// Stops and destroys an in-process node, closes the store. Safe to call
// twice.
void orcs__cli_orch_close(orcs__cli_orch_t *o);

// ---- Following a run (cli/flow.c)

// Follows a run until it settles (a final status, waiting_approval or
// paused), timeout_s passes or SIGINT/SIGTERM comes; with progress draws
// the live table on stderr. Then reports: as_json prints the view on
// stdout; otherwise a completed run's output goes to stdout (unless
// view_p is given: the caller then owns the final view, or NULL) and
// anything else is explained on stderr. Returns the exit code: 0
// completed, 1 failed, cancelled, timed out or interrupted, 3 waiting for
// a human.
int orcs__cli_follow(orcs__cli_orch_t *o,
                     const char *run,
                     bool progress,
                     bool as_json,
                     long timeout_s,
                     json_t **view_p);

// Prints a run's view for people (stdout).
void orcs__cli_print_view(const json_t *view);

#endif
