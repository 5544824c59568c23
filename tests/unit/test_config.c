/*  test_config.c — node config: defaults, the FORMATS.md example, nested
    supervisors, and the FILE:LINE: PATH of every kind of error.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "orcs/config.h"

#ifndef ORCS_TEST_SOURCE_DIR
#define ORCS_TEST_SOURCE_DIR "."
#endif

static orcs_config_t *
s_parse_ok(const char *text)
{
    orcs_config_t *config = NULL;
    char err[512] = "unset";
    orcs_status rc = orcs_config_parse(text, strlen(text), "node.yaml", &config,
                                       err, sizeof err);
    if (rc != ORCS_OK)
        fail_msg("parse failed: %s: %s", orcs_status_name(rc), err);
    assert_non_null(config);
    return config;
}

static void
s_parse_fails(const char *text, orcs_status rc, const char *expected)
{
    orcs_config_t *config = NULL;
    char err[512] = "";
    orcs_status got = orcs_config_parse(text, strlen(text), "node.yaml",
                                        &config, err, sizeof err);
    if (got != rc)
        fail_msg("expected %s, got %s (%s)", orcs_status_name(rc),
                 orcs_status_name(got), err);
    assert_null(config);
    assert_string_equal(err, expected);
}

// Follows path (keys separated by '/', array items as numbers) in doc.
static json_t *
s_at(json_t *doc, const char *path)
{
    char *copy = strdup(path);
    json_t *value = doc;
    for (char *part = strtok(copy, "/"); part && value;
         part = strtok(NULL, "/")) {
        if (json_is_array(value))
            value = json_array_get(value, (size_t) atoi(part));
        else
            value = json_object_get(value, part);
    }
    free(copy);
    return value;
}

static void
test_config_destroy_nulls_reference(void **state)
{
    (void) state;
    orcs_config_t *config = orcs_config_new_default();
    orcs_config_destroy(&config);
    assert_null(config);
    orcs_config_destroy(&config); // idempotent
}

static void
test_config_new_default_fills_every_key(void **state)
{
    (void) state;
    orcs_config_t *config = orcs_config_new_default();
    json_t *want =
        json_loads("{\"node\": \"local\", \"data\": \"./orcs-data\","
                   " \"models\": {}, \"tools\": [],"
                   " \"log_level\": \"warn\","
                   " \"limits\": {\"max_sockets\": 16384,"
                   "   \"max_message_bytes\": 16777216,"
                   "   \"mailbox\": 1000, \"send_timeout_ms\": 5000,"
                   "   \"spin_us\": 200, \"finished_tasks\": 200000},"
                   " \"store\": {\"map_size_mb\": 64,"
                   "   \"map_max_mb\": 65536, \"durability\": \"sync\","
                   "   \"sync_ms\": 100},"
                   " \"toolexec\": {\"concurrency\": 256,"
                   "   \"offload_bytes\": 16384, \"preview_bytes\": 512,"
                   "   \"http\": {\"allow_hosts\": [],"
                   "     \"max_response_bytes\": 1048576,"
                   "     \"timeout_ms\": 30000},"
                   "   \"exec\": {\"cpu_s\": 10, \"memory_mb\": 512,"
                   "     \"processes\": 64, \"files\": 256,"
                   "     \"max_output_bytes\": 1048576,"
                   "     \"timeout_ms\": 30000, \"network\": false}},"
                   " \"supervisor\": {\"strategy\": \"one_for_one\","
                   "   \"intensity\": 3, \"period_s\": 5,"
                   "   \"children\": []}}",
                   0, NULL);
    assert_non_null(want);
    assert_true(json_equal(orcs_config_doc(config), want));
    assert_string_equal(orcs_config_dir(config), ".");
    json_decref(want);
    orcs_config_destroy(&config);
}

static void
test_config_parse_empty_text_gives_defaults(void **state)
{
    (void) state;
    orcs_config_t *defaults = orcs_config_new_default();
    const char *texts[] = {"", "# nothing\n", "{}", "node:\nsupervisor:\n"};
    for (size_t i = 0; i < 4; i++) {
        orcs_config_t *config = s_parse_ok(texts[i]);
        assert_true(
            json_equal(orcs_config_doc(config), orcs_config_doc(defaults)));
        orcs_config_destroy(&config);
    }
    orcs_config_destroy(&defaults);
}

static const char s_example[] =
    "node: alpha\n"
    "data: ./orcs-data\n"
    "listen: tcp://127.0.0.1:7700\n"
    "models:\n"
    "  default:\n"
    "    base_url: http://127.0.0.1:4010/v1\n"
    "    api_key_env: OPENAI_API_KEY\n"
    "    model: gpt-4o-mini\n"
    "    timeout_ms: 60000\n"
    "    retries: 4\n"
    "    prices: {input_per_mtok: 0.15, output_per_mtok: 0.60}\n"
    "  offline:\n"
    "    replay: examples/research_planner/cassette.jsonl\n"
    "tools: [./tools]\n"
    "supervisor:\n"
    "  strategy: one_for_one\n"
    "  intensity: 5\n"
    "  period_s: 10\n"
    "  children:\n"
    "    - name: greeter\n"
    "      actor: examples/custom_actor/libgreeter.so\n"
    "      restart: permanent\n"
    "      shutdown_ms: 5000\n"
    "      config: {greeting: hello}\n";

static void
test_config_parse_formats_example(void **state)
{
    (void) state;
    orcs_config_t *config = s_parse_ok(s_example);
    json_t *doc = orcs_config_doc(config);
    assert_string_equal(json_string_value(s_at(doc, "node")), "alpha");
    assert_string_equal(json_string_value(s_at(doc, "listen")),
                        "tcp://127.0.0.1:7700");
    assert_null(s_at(doc, "control"));
    assert_string_equal(json_string_value(s_at(doc, "models/default/model")),
                        "gpt-4o-mini");
    assert_true(json_real_value(s_at(doc, "models/default/prices/"
                                          "output_per_mtok"))
                == 0.60);
    assert_string_equal(json_string_value(s_at(doc, "tools/0")), "./tools");
    assert_int_equal(json_integer_value(s_at(doc, "supervisor/intensity")), 5);
    json_t *child = s_at(doc, "supervisor/children/0");
    assert_string_equal(json_string_value(s_at(child, "actor")),
                        "examples/custom_actor/libgreeter.so");
    assert_string_equal(json_string_value(s_at(child, "config/greeting")),
                        "hello");
    // Defaults filled in the child.
    assert_int_equal(json_integer_value(s_at(child, "pool")), 1);
    assert_true(json_is_false(s_at(child, "process")));
    assert_int_equal(json_integer_value(s_at(child, "heartbeat_ms")), 0);
    assert_int_equal(json_integer_value(s_at(child, "mailbox")), 1000);
    assert_null(s_at(child, "supervisor"));
    assert_string_equal(json_string_value(s_at(doc, "log_level")), "warn");
    assert_int_equal(json_integer_value(s_at(doc, "limits/max_sockets")),
                     16384);
    orcs_config_destroy(&config);
}

static void
test_config_parse_fills_child_defaults(void **state)
{
    (void) state;
    orcs_config_t *config = s_parse_ok("limits: {mailbox: 50}\n"
                                       "supervisor:\n"
                                       "  children:\n"
                                       "    - name: a\n"
                                       "      actor: echo\n"
                                       "      restart:\n"
                                       "      config:\n"
                                       "    - name: b\n"
                                       "      actor: echo\n"
                                       "      mailbox: 7\n"
                                       "      pool: 4\n"
                                       "      process: true\n"
                                       "      heartbeat_ms: 250\n"
                                       "      config: [1, 2]\n");
    json_t *doc = orcs_config_doc(config);
    json_t *a = s_at(doc, "supervisor/children/0");
    assert_string_equal(json_string_value(s_at(a, "restart")), "permanent");
    assert_int_equal(json_integer_value(s_at(a, "shutdown_ms")), 5000);
    assert_true(json_is_object(s_at(a, "config")));
    assert_int_equal(json_object_size(s_at(a, "config")), 0);
    assert_int_equal(json_integer_value(s_at(a, "mailbox")), 50);
    json_t *b = s_at(doc, "supervisor/children/1");
    assert_int_equal(json_integer_value(s_at(b, "mailbox")), 7);
    assert_int_equal(json_integer_value(s_at(b, "pool")), 4);
    assert_true(json_is_true(s_at(b, "process")));
    assert_int_equal(json_integer_value(s_at(b, "heartbeat_ms")), 250);
    assert_true(json_is_array(s_at(b, "config")));
    orcs_config_destroy(&config);
}

static void
test_config_parse_nested_supervisors(void **state)
{
    (void) state;
    orcs_config_t *config = s_parse_ok("supervisor:\n"
                                       "  strategy: rest_for_one\n"
                                       "  children:\n"
                                       "    - name: store\n"
                                       "      actor: store\n"
                                       "    - name: team\n"
                                       "      restart: transient\n"
                                       "      supervisor:\n"
                                       "        strategy: one_for_all\n"
                                       "        children:\n"
                                       "          - name: planner\n"
                                       "            actor: agent\n"
                                       "          - name: workers\n"
                                       "            supervisor:\n"
                                       "              strategy: "
                                       "simple_one_for_one\n"
                                       "              children:\n"
                                       "                - name: worker\n"
                                       "                  actor: agent\n"
                                       "                  restart: "
                                       "temporary\n");
    json_t *doc = orcs_config_doc(config);
    json_t *team = s_at(doc, "supervisor/children/1/supervisor");
    assert_string_equal(json_string_value(s_at(team, "strategy")),
                        "one_for_all");
    assert_int_equal(json_integer_value(s_at(team, "intensity")), 3);
    assert_int_equal(json_integer_value(s_at(team, "period_s")), 5);
    json_t *workers = s_at(team, "children/1/supervisor");
    assert_string_equal(json_string_value(s_at(workers, "strategy")),
                        "simple_one_for_one");
    assert_string_equal(json_string_value(s_at(workers, "children/0/restart")),
                        "temporary");
    assert_int_equal(json_integer_value(s_at(workers, "children/0/mailbox")),
                     1000);
    assert_null(s_at(doc, "supervisor/children/1/actor"));
    orcs_config_destroy(&config);
}

static void
test_config_parse_refuses_unknown_keys(void **state)
{
    (void) state;
    s_parse_fails("node: a\nnodes: b\n", ORCS_ECONFIG,
                  "node.yaml:2: nodes: unknown key");
    s_parse_fails("limits:\n  mailboxes: 3\n", ORCS_ECONFIG,
                  "node.yaml:2: limits.mailboxes: unknown key");
    s_parse_fails("supervisor:\n  stratgy: one_for_one\n", ORCS_ECONFIG,
                  "node.yaml:2: supervisor.stratgy: unknown key");
    // The brief's own example: a typo in a child, on line 14.
    s_parse_fails("node: alpha\n"               // 1
                  "data: ./orcs-data\n"         // 2
                  "tools: []\n"                 // 3
                  "supervisor:\n"               // 4
                  "  strategy: one_for_one\n"   // 5
                  "  intensity: 5\n"            // 6
                  "  period_s: 10\n"            // 7
                  "  children:\n"               // 8
                  "    - name: greeter\n"       // 9
                  "      actor: greeter\n"      // 10
                  "      restart: permanent\n"  // 11
                  "    - name: other\n"         // 12
                  "      actor: greeter\n"      // 13
                  "      restrat: permanent\n", // 14
                  ORCS_ECONFIG,
                  "node.yaml:14: supervisor.children[1].restrat: unknown key");
    // A key with a dot shows escaped, as orcs_yaml_line takes it.
    s_parse_fails("a.b: 1\n", ORCS_ECONFIG, "node.yaml:1: a\\.b: unknown key");
}

static void
test_config_parse_refuses_bad_strategy(void **state)
{
    (void) state;
    s_parse_fails("node: a\n"
                  "supervisor:\n"
                  "  intensity: 1\n"
                  "  strategy: one_for_none\n",
                  ORCS_ECONFIG,
                  "node.yaml:4: supervisor.strategy: must be one of "
                  "one_for_one, one_for_all, rest_for_one, simple_one_for_one "
                  "(got 'one_for_none')");
    s_parse_fails("supervisor: {strategy: 3}", ORCS_ECONFIG,
                  "node.yaml:1: supervisor.strategy: must be one of "
                  "one_for_one, one_for_all, rest_for_one, simple_one_for_one "
                  "(got 3)");
}

static void
test_config_parse_refuses_bad_restart(void **state)
{
    (void) state;
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: a\n"
                  "      actor: x\n"
                  "      restart: always\n",
                  ORCS_ECONFIG,
                  "node.yaml:5: supervisor.children[0].restart: must be one "
                  "of permanent, transient, temporary (got 'always')");
}

static void
test_config_parse_refuses_wrong_types(void **state)
{
    (void) state;
    s_parse_fails("node: [a]\n", ORCS_ECONFIG,
                  "node.yaml:1: node: must be a string (got a list)");
    s_parse_fails("models: 3\n", ORCS_ECONFIG,
                  "node.yaml:1: models: must be a mapping (got 3)");
    s_parse_fails("tools: ./tools\n", ORCS_ECONFIG,
                  "node.yaml:1: tools: must be a list (got './tools')");
    s_parse_fails("tools:\n  - ./a\n  - 5\n", ORCS_ECONFIG,
                  "node.yaml:3: tools[1]: must be a directory path (got 5)");
    s_parse_fails("supervisor:\n  intensity: '3'\n", ORCS_ECONFIG,
                  "node.yaml:2: supervisor.intensity: must be an integer "
                  "(got '3')");
    s_parse_fails(
        "limits:\n  spin_us: 100001\n", ORCS_ECONFIG,
        "node.yaml:2: limits.spin_us: must be an integer from 0 to 100000 "
        "(got 100001)");
    s_parse_fails("limits:\n  finished_tasks: -1\n", ORCS_ECONFIG,
                  "node.yaml:2: limits.finished_tasks: must be an integer "
                  "from 0 to 100000000 (got -1)");
    s_parse_fails("supervisor:\n  period_s: 1.5\n", ORCS_ECONFIG,
                  "node.yaml:2: supervisor.period_s: must be an integer "
                  "(got 1.5)");
    s_parse_fails("supervisor:\n  children: {}\n", ORCS_ECONFIG,
                  "node.yaml:2: supervisor.children: must be a list (got a "
                  "mapping)");
    s_parse_fails("supervisor:\n  children:\n    - greeter\n", ORCS_ECONFIG,
                  "node.yaml:3: supervisor.children[0]: must be a mapping "
                  "(got 'greeter')");
    s_parse_fails("supervisor: {children: [{name: a, actor: x, process: "
                  "yes}]}",
                  ORCS_ECONFIG,
                  "node.yaml:1: supervisor.children[0].process: must be true "
                  "or false (got 'yes')");
    s_parse_fails("- node\n", ORCS_ECONFIG,
                  "node.yaml:1: a node config must be a mapping (got a list)");
}

static void
test_config_parse_refuses_out_of_range(void **state)
{
    (void) state;
    s_parse_fails("limits:\n  max_sockets: 10\n", ORCS_ECONFIG,
                  "node.yaml:2: limits.max_sockets: must be an integer from "
                  "64 to 65536 (got 10)");
    s_parse_fails("supervisor: {intensity: -1}", ORCS_ECONFIG,
                  "node.yaml:1: supervisor.intensity: must be an integer "
                  "from 0 to 2147483647 (got -1)");
    s_parse_fails("supervisor: {period_s: 0}", ORCS_ECONFIG,
                  "node.yaml:1: supervisor.period_s: must be an integer from "
                  "1 to 2147483647 (got 0)");
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - {name: a, actor: x, pool: 1025}\n",
                  ORCS_ECONFIG,
                  "node.yaml:3: supervisor.children[0].pool: must be an "
                  "integer from 1 to 1024 (got 1025)");
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - {name: a, actor: x, mailbox: 0}\n",
                  ORCS_ECONFIG,
                  "node.yaml:3: supervisor.children[0].mailbox: must be an "
                  "integer from 1 to 1000000 (got 0)");
}

static void
test_config_parse_refuses_bad_names(void **state)
{
    (void) state;
    s_parse_fails("node: 'my node'\n", ORCS_ECONFIG,
                  "node.yaml:1: node: must be 1 to 63 of A-Z a-z 0-9 _ . - "
                  "(got 'my node')");
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: ''\n"
                  "      actor: x\n",
                  ORCS_ECONFIG,
                  "node.yaml:3: supervisor.children[0].name: must be 1 to 63 "
                  "of A-Z a-z 0-9 _ . - (got '')");
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - actor: x\n"
                  "      restart: permanent\n",
                  ORCS_ECONFIG,
                  "node.yaml:3: supervisor.children[0]: missing required key "
                  "'name'");
}

static void
test_config_parse_refuses_duplicate_names(void **state)
{
    (void) state;
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: a\n"
                  "      actor: x\n"
                  "    - name: a\n"
                  "      actor: y\n",
                  ORCS_ECONFIG,
                  "node.yaml:5: supervisor.children[1].name: duplicate name "
                  "'a' (also at supervisor.children[0])");
    // Names are global in a node: a nested tree cannot reuse one.
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: team\n"
                  "      supervisor:\n"
                  "        children:\n"
                  "          - name: worker\n"
                  "            actor: agent\n"
                  "    - name: worker\n"
                  "      actor: agent\n",
                  ORCS_ECONFIG,
                  "node.yaml:8: supervisor.children[1].name: duplicate name "
                  "'worker' (also at "
                  "supervisor.children[0].supervisor.children[0])");
}

static void
test_config_parse_refuses_actor_and_supervisor(void **state)
{
    (void) state;
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: a\n"
                  "      actor: x\n"
                  "      supervisor: {}\n",
                  ORCS_ECONFIG,
                  "node.yaml:5: supervisor.children[0].supervisor: a child "
                  "has either actor or supervisor, not both");
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: a\n"
                  "      supervisor: {}\n"
                  "      actor: x\n",
                  ORCS_ECONFIG,
                  "node.yaml:5: supervisor.children[0].actor: a child has "
                  "either actor or supervisor, not both");
}

static void
test_config_parse_refuses_child_without_actor_or_supervisor(void **state)
{
    (void) state;
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: a\n"
                  "      restart: permanent\n",
                  ORCS_ECONFIG,
                  "node.yaml:3: supervisor.children[0]: needs either actor "
                  "(a role or plug-in) or supervisor (a nested tree)");
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: a\n"
                  "      supervisor: [x]\n",
                  ORCS_ECONFIG,
                  "node.yaml:4: supervisor.children[0].supervisor: must be a "
                  "mapping (got a list)");
}

static void
test_config_parse_refuses_bad_simple_one_for_one(void **state)
{
    (void) state;
    s_parse_fails("supervisor:\n"
                  "  strategy: simple_one_for_one\n"
                  "  children:\n"
                  "    - {name: a, actor: x}\n"
                  "    - {name: b, actor: x}\n",
                  ORCS_ECONFIG,
                  "node.yaml:4: supervisor.children: simple_one_for_one needs "
                  "exactly one child, the template (got 2)");
    s_parse_fails("supervisor:\n"
                  "  strategy: simple_one_for_one\n",
                  ORCS_ECONFIG,
                  "node.yaml:2: supervisor.children: simple_one_for_one needs "
                  "exactly one child, the template (got 0)");
    s_parse_fails("supervisor:\n"
                  "  strategy: simple_one_for_one\n"
                  "  children:\n"
                  "    - name: a\n"
                  "      supervisor:\n"
                  "        children: []\n",
                  ORCS_ECONFIG,
                  "node.yaml:5: supervisor.children[0].supervisor: the "
                  "simple_one_for_one template must be an actor, not a "
                  "supervisor");
}

static void
test_config_parse_errors_in_nested_supervisors(void **state)
{
    (void) state;
    s_parse_fails("supervisor:\n"
                  "  children:\n"
                  "    - name: team\n"
                  "      supervisor:\n"
                  "        strategy: one_for_one\n"
                  "        children:\n"
                  "          - name: w\n"
                  "            actor: agent\n"
                  "            shutdown_ms: -5\n",
                  ORCS_ECONFIG,
                  "node.yaml:9: supervisor.children[0].supervisor.children[0]"
                  ".shutdown_ms: must be an integer from 0 to 2147483647 "
                  "(got -5)");
}

static void
test_config_parse_passes_yaml_errors_through(void **state)
{
    (void) state;
    s_parse_fails("a: &x 1\n", ORCS_EPROTO,
                  "node.yaml:1: anchors and aliases (&, *) are not supported");
    s_parse_fails("node: a\nnode: b\n", ORCS_EPROTO,
                  "node.yaml:2: duplicate key 'node'");
    s_parse_fails("node: [\n", ORCS_EPROTO,
                  "node.yaml:2: did not find expected node content while "
                  "parsing a flow node (line 2)");
}

static void
test_config_parse_checks_endpoints_and_log_level(void **state)
{
    (void) state;
    orcs_config_t *config = s_parse_ok("listen: tcp://*:7700\n"
                                       "control: ipc:///tmp/x.ctl\n"
                                       "log_level: debug\n");
    json_t *doc = orcs_config_doc(config);
    assert_string_equal(json_string_value(s_at(doc, "control")),
                        "ipc:///tmp/x.ctl");
    assert_string_equal(json_string_value(s_at(doc, "log_level")), "debug");
    orcs_config_destroy(&config);
    s_parse_fails("control: /tmp/x.ctl\n", ORCS_ECONFIG,
                  "node.yaml:1: control: must be an endpoint such as "
                  "ipc:///tmp/orcs.ctl (got '/tmp/x.ctl')");
    s_parse_fails("log_level: loud\n", ORCS_ECONFIG,
                  "node.yaml:1: log_level: must be one of error, warn, info, "
                  "debug (got 'loud')");
}

static void
test_config_load_reads_the_default_file(void **state)
{
    (void) state;
    orcs_config_t *config = NULL;
    char err[512] = "";
    const char *path = ORCS_TEST_SOURCE_DIR "/config/node.yaml";
    orcs_status rc = orcs_config_load(path, &config, err, sizeof err);
    if (rc != ORCS_OK)
        fail_msg("%s: %s", orcs_status_name(rc), err);
    // The shipped file spells out the defaults, no more and no less.
    orcs_config_t *defaults = orcs_config_new_default();
    assert_true(json_equal(orcs_config_doc(config), orcs_config_doc(defaults)));
    assert_string_equal(orcs_config_dir(config),
                        ORCS_TEST_SOURCE_DIR "/config");
    orcs_config_destroy(&defaults);
    orcs_config_destroy(&config);
}

static void
test_config_load_missing_file_is_eio(void **state)
{
    (void) state;
    orcs_config_t *config = NULL;
    char err[256];
    assert_int_equal(
        orcs_config_load("/nonexistent/node.yaml", &config, err, sizeof err),
        ORCS_EIO);
    assert_null(config);
    assert_string_equal(err,
                        "/nonexistent/node.yaml: No such file or directory");
}

static void
test_config_check_supervisor_accepts_a_built_spec(void **state)
{
    (void) state;
    json_t *spec =
        json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:{s:[]}}]}", "strategy",
                  "one_for_all", "children", "name", "a", "actor", "echo",
                  "name", "b", "supervisor", "children");
    assert_non_null(spec);
    char *before = json_dumps(spec, JSON_SORT_KEYS);
    char err[256] = "unset";
    assert_int_equal(orcs_config_check_supervisor(spec, err, sizeof err),
                     ORCS_OK);
    assert_string_equal(err, "");
    // Defaults are not written into the caller's spec.
    char *after = json_dumps(spec, JSON_SORT_KEYS);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(spec);
}

static void
test_config_check_supervisor_reports_path_without_line(void **state)
{
    (void) state;
    json_t *spec = json_pack("{s:[{s:s, s:s, s:s}]}", "children", "name", "a",
                             "actor", "echo", "restart", "sometimes");
    char err[256];
    assert_int_equal(orcs_config_check_supervisor(spec, err, sizeof err),
                     ORCS_ECONFIG);
    assert_string_equal(err, "children[0].restart: must be one of permanent, "
                             "transient, temporary (got 'sometimes')");
    json_decref(spec);
    spec = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "strategy",
                     "simple_one_for_one", "children", "name", "a", "actor",
                     "x", "name", "b", "actor", "y");
    assert_int_equal(orcs_config_check_supervisor(spec, err, sizeof err),
                     ORCS_ECONFIG);
    assert_string_equal(err, "children: simple_one_for_one needs exactly one "
                             "child, the template (got 2)");
    json_decref(spec);
    spec = json_string("one_for_one");
    assert_int_equal(orcs_config_check_supervisor(spec, err, sizeof err),
                     ORCS_ECONFIG);
    assert_string_equal(err, "must be a mapping (got 'one_for_one')");
    json_decref(spec);
}

static void
test_config_check_supervisor_refuses_deep_built_trees(void **state)
{
    (void) state;
    json_t *spec = json_object();
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        json_t *parent = json_pack("{s:[{s:s, s:o}]}", "children", "name", name,
                                   "supervisor", spec);
        spec = parent;
    }
    char err[4096];
    assert_int_equal(orcs_config_check_supervisor(spec, err, sizeof err),
                     ORCS_ECONFIG);
    assert_non_null(strstr(err, "supervisors nested deeper than 64"));
    json_decref(spec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_destroy_nulls_reference),
        cmocka_unit_test(test_config_new_default_fills_every_key),
        cmocka_unit_test(test_config_parse_empty_text_gives_defaults),
        cmocka_unit_test(test_config_parse_formats_example),
        cmocka_unit_test(test_config_parse_fills_child_defaults),
        cmocka_unit_test(test_config_parse_nested_supervisors),
        cmocka_unit_test(test_config_parse_refuses_unknown_keys),
        cmocka_unit_test(test_config_parse_refuses_bad_strategy),
        cmocka_unit_test(test_config_parse_refuses_bad_restart),
        cmocka_unit_test(test_config_parse_refuses_wrong_types),
        cmocka_unit_test(test_config_parse_refuses_out_of_range),
        cmocka_unit_test(test_config_parse_refuses_bad_names),
        cmocka_unit_test(test_config_parse_refuses_duplicate_names),
        cmocka_unit_test(test_config_parse_refuses_actor_and_supervisor),
        cmocka_unit_test(
            test_config_parse_refuses_child_without_actor_or_supervisor),
        cmocka_unit_test(test_config_parse_refuses_bad_simple_one_for_one),
        cmocka_unit_test(test_config_parse_errors_in_nested_supervisors),
        cmocka_unit_test(test_config_parse_passes_yaml_errors_through),
        cmocka_unit_test(test_config_parse_checks_endpoints_and_log_level),
        cmocka_unit_test(test_config_load_reads_the_default_file),
        cmocka_unit_test(test_config_load_missing_file_is_eio),
        cmocka_unit_test(test_config_check_supervisor_accepts_a_built_spec),
        cmocka_unit_test(
            test_config_check_supervisor_reports_path_without_line),
        cmocka_unit_test(test_config_check_supervisor_refuses_deep_built_trees),
    };
    return cmocka_run_group_tests_name("orcs_config", tests, NULL, NULL);
}
