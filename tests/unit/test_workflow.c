/*  test_workflow.c — workflow files: loading, every kind of validation
    error with its line, the compiled graph, normalised documents, run
    inputs and compiled plans.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/workflow.h"

#ifndef ORCS_TEST_SOURCE_DIR
#define ORCS_TEST_SOURCE_DIR "."
#endif

#define S_EXAMPLES ORCS_TEST_SOURCE_DIR "/examples/workflows"
#define S_CALC     ORCS_TEST_SOURCE_DIR "/examples/agent/calc.yaml"

// ---------------------------------------------------------------------------
// Helpers

// Parses text as "t.yaml" in the examples directory; expects a failure and
// returns the errors (caller owns).
static json_t *
s_errors(const char *text)
{
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    orcs_status rc = orcs_workflow_parse(text, strlen(text), "t.yaml",
                                         S_EXAMPLES, &wf, &errors);
    if (rc != ORCS_ECONFIG) {
        print_error("expected ECONFIG, got %s\n", orcs_status_name(rc));
        for (size_t i = 0; i < json_array_size(errors); i++)
            print_error("  %s\n", json_string_value(json_array_get(errors, i)));
    }
    assert_int_equal(rc, ORCS_ECONFIG);
    assert_null(wf);
    assert_true(json_array_size(errors) > 0);
    return errors;
}

static orcs_workflow_t *
s_load_ok(const char *text)
{
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    orcs_status rc = orcs_workflow_parse(text, strlen(text), "t.yaml",
                                         S_EXAMPLES, &wf, &errors);
    for (size_t i = 0; i < json_array_size(errors); i++)
        print_error("unexpected: %s\n",
                    json_string_value(json_array_get(errors, i)));
    assert_int_equal(rc, ORCS_OK);
    assert_non_null(wf);
    assert_int_equal(json_array_size(errors), 0);
    json_decref(errors);
    return wf;
}

// Asserts that one message starts with prefix ("t.yaml:7: ") and holds
// every needle.
static void
s_has(const json_t *errors, const char *prefix, const char *needle)
{
    for (size_t i = 0; i < json_array_size(errors); i++) {
        const char *msg = json_string_value(json_array_get(errors, i));
        if (strncmp(msg, prefix, strlen(prefix)) == 0 && strstr(msg, needle))
            return;
    }
    print_error("no message '%s...%s' in:\n", prefix, needle);
    for (size_t i = 0; i < json_array_size(errors); i++)
        print_error("  %s\n", json_string_value(json_array_get(errors, i)));
    fail();
}

// One error only, at prefix, holding needle.
static void
s_only(const char *text, const char *prefix, const char *needle)
{
    json_t *errors = s_errors(text);
    s_has(errors, prefix, needle);
    if (json_array_size(errors) != 1) {
        for (size_t i = 0; i < json_array_size(errors); i++)
            print_error("  %s\n", json_string_value(json_array_get(errors, i)));
        fail_msg("expected one error, got %zu", json_array_size(errors));
    }
    json_decref(errors);
}

static orcs_workflow_t *
s_example(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", S_EXAMPLES, name);
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    orcs_status rc = orcs_workflow_load(path, &wf, &errors);
    for (size_t i = 0; i < json_array_size(errors); i++)
        print_error("%s\n", json_string_value(json_array_get(errors, i)));
    assert_int_equal(rc, ORCS_OK);
    assert_non_null(errors);
    json_decref(errors);
    return wf;
}

static const orcs_wf_node_t *
s_node(const orcs_workflow_t *wf, const char *id)
{
    int i = orcs_workflow_find(wf, id);
    assert_true(i >= 0);
    return &wf->nodes[i];
}

// ---------------------------------------------------------------------------
// Validation errors, one kind per test

static void
test_workflow_rejects_unknown_keys(void **state)
{
    (void) state;
    json_t *errors = s_errors("workflow: t\n"            // 1
                              "nodez: {}\n"              // 2
                              "nodes:\n"                 // 3
                              "  a:\n"                   // 4
                              "    kind: tool\n"         // 5
                              "    tool: memory.get\n"   // 6
                              "    toool: x\n"           // 7
                              "    args: {scope: s}\n"); // 8
    s_has(errors, "t.yaml:2: nodez: ", "unknown key");
    s_has(errors, "t.yaml:7: nodes.a.toool: ",
          "unknown key (tool nodes take: tool, args,");
    assert_int_equal(json_array_size(errors), 2);
    json_decref(errors);
}

static void
test_workflow_rejects_missing_kind(void **state)
{
    (void) state;
    s_only("workflow: t\n"           // 1
           "nodes:\n"                // 2
           "  a:\n"                  // 3
           "    tool: memory.get\n", // 4
           "t.yaml:3: nodes.a: ", "missing key 'kind' (agent, prompt");
}

static void
test_workflow_rejects_unknown_kind(void **state)
{
    (void) state;
    s_only("workflow: t\n"    // 1
           "nodes:\n"         // 2
           "  a:\n"           // 3
           "    kind: tol\n", // 4
           "t.yaml:4: nodes.a.kind: ", "unknown kind 'tol' (kinds: agent");
}

static void
test_workflow_rejects_unknown_need(void **state)
{
    (void) state;
    s_only("workflow: t\n"      // 1
           "nodes:\n"           // 2
           "  a: {kind: end}\n" // 3
           "  b:\n"             // 4
           "    kind: end\n"    // 5
           "    needs:\n"       // 6
           "      - zz\n",      // 7
           "t.yaml:7: nodes.b.needs[0]: ", "unknown node 'zz'");
}

static void
test_workflow_rejects_unknown_route_targets(void **state)
{
    (void) state;
    json_t *errors = s_errors("workflow: t\n"                         // 1
                              "nodes:\n"                              // 2
                              "  a:\n"                                // 3
                              "    kind: tool\n"                      // 4
                              "    tool: x\n"                         // 5
                              "    on_error: nope\n"                  // 6
                              "  ok:\n"                               // 7
                              "    kind: approval\n"                  // 8
                              "    needs: [a]\n"                      // 9
                              "    on_timeout: later\n"               // 10
                              "  br:\n"                               // 11
                              "    kind: branch\n"                    // 12
                              "    needs: [ok]\n"                     // 13
                              "    cases: [{when: 'true', to: up}]\n" // 14
                              "    default: down\n"                   // 15
                              "  end: {kind: end, needs: [br]}\n");   // 16
    s_has(errors, "t.yaml:6: nodes.a.on_error: ", "unknown node 'nope'");
    s_has(errors, "t.yaml:10: nodes.ok.on_timeout: ", "unknown node 'later'");
    s_has(errors, "t.yaml:14: nodes.br.cases[0].to: ", "unknown node 'up'");
    s_has(errors, "t.yaml:15: nodes.br.default: ", "unknown node 'down'");
    assert_int_equal(json_array_size(errors), 4);
    json_decref(errors);
}

static void
test_workflow_rejects_a_cycle(void **state)
{
    (void) state;
    s_only("workflow: t\n"                             // 1
           "nodes:\n"                                  // 2
           "  start: {kind: tool, tool: x}\n"          // 3
           "  a:\n"                                    // 4
           "    kind: tool\n"                          // 5
           "    tool: x\n"                             // 6
           "    needs: [start, b]\n"                   // 7
           "  b: {kind: tool, tool: x, needs: [a]}\n", // 8
           "t.yaml:7: nodes.a.needs: ", "cycle: a -> b -> a");
}

static void
test_workflow_rejects_a_branch_cycle(void **state)
{
    (void) state;
    // A branch target needs its branch: routing back upstream is a cycle.
    s_only("workflow: t\n"                         // 1
           "nodes:\n"                              // 2
           "  a: {kind: tool, tool: x}\n"          // 3
           "  b:\n"                                // 4
           "    kind: branch\n"                    // 5
           "    needs: [a]\n"                      // 6
           "    cases: [{when: 'true', to: a}]\n", // 7
           "t.yaml:3: nodes.a.needs: ", "cycle: a -> b -> a");
}

static void
test_workflow_rejects_unreachable_nodes(void **state)
{
    (void) state;
    // `after` needs an end node: the end node finishes the run, so `after`
    // can never start. `x` and `y` wait on each other's route: x is only
    // routed to (by y's on_error) and y needs x, so neither starts.
    json_t *errors =
        s_errors("workflow: t\n"                                           // 1
                 "nodes:\n"                                                // 2
                 "  a: {kind: tool, tool: x}\n"                            // 3
                 "  done: {kind: end, needs: [a]}\n"                       // 4
                 "  after:\n"                                              // 5
                 "    kind: tool\n"                                        // 6
                 "    tool: x\n"                                           // 7
                 "    needs: [done]\n"                                     // 8
                 "  x: {kind: tool, tool: x}\n"                            // 9
                 "  y: {kind: tool, tool: x, needs: [x], on_error: x}\n"); // 10
    s_has(errors, "t.yaml:8: nodes.after.needs: ",
          "unreachable: it needs end node 'done', and an end node finishes "
          "the run");
    s_has(errors, "t.yaml:9: nodes.x: ", "unreachable");
    s_has(errors, "t.yaml:10: nodes.y: ", "unreachable");
    assert_int_equal(json_array_size(errors), 3);
    json_decref(errors);
}

static void
test_workflow_rejects_a_bad_template(void **state)
{
    (void) state;
    s_only("workflow: t\n"              // 1
           "nodes:\n"                   // 2
           "  a:\n"                     // 3
           "    kind: tool\n"           // 4
           "    tool: x\n"              // 5
           "    args:\n"                // 6
           "      n: \"${{ 1 + }}\"\n", // 7
           "t.yaml:7: nodes.a.args.n: ", "column 9: ");
}

static void
test_workflow_rejects_a_bad_condition(void **state)
{
    (void) state;
    s_only("workflow: t\n"                     // 1
           "nodes:\n"                          // 2
           "  a: {kind: tool, tool: x}\n"      // 3
           "  b:\n"                            // 4
           "    kind: branch\n"                // 5
           "    needs: [a]\n"                  // 6
           "    cases:\n"                      // 7
           "      - when: nodes.a.output ==\n" // 8
           "        to: c\n"                   // 9
           "  c: {kind: end}\n",               // 10
           "t.yaml:8: nodes.b.cases[0].when: ", "column");
}

static void
test_workflow_rejects_an_unknown_root(void **state)
{
    (void) state;
    s_only("workflow: t\n"                        // 1
           "nodes:\n"                             // 2
           "  a:\n"                               // 3
           "    kind: tool\n"                     // 4
           "    tool: x\n"                        // 5
           "    args: {v: \"${{ nodez.x }}\"}\n", // 6
           "t.yaml:6: nodes.a.args.v: ",
           "unknown name 'nodez' (names here: inputs, nodes)");
}

static void
test_workflow_rejects_a_reference_to_no_node(void **state)
{
    (void) state;
    s_only("workflow: t\n"                             // 1
           "nodes:\n"                                  // 2
           "  a: {kind: tool, tool: x}\n"              // 3
           "  b:\n"                                    // 4
           "    kind: end\n"                           // 5
           "    needs: [a]\n"                          // 6
           "    output: \"${{ nodes.zz.output }}\"\n", // 7
           "t.yaml:7: nodes.b.output: ", "nodes.zz: there is no node 'zz'");
}

static void
test_workflow_rejects_reading_a_node_not_upstream(void **state)
{
    (void) state;
    // b and c run in parallel: b reading c's output is a data race.
    s_only("workflow: t\n"                              // 1
           "nodes:\n"                                   // 2
           "  a: {kind: tool, tool: x}\n"               // 3
           "  b:\n"                                     // 4
           "    kind: tool\n"                           // 5
           "    tool: x\n"                              // 6
           "    needs: [a]\n"                           // 7
           "    args: {v: \"${{ nodes.a.output }}\",\n" // 8
           "           w: \"${{ nodes.c.output }}\"}\n" // 9
           "  c: {kind: tool, tool: x, needs: [a]}\n",  // 10
           "t.yaml:9: nodes.b.args.w: ", "nodes.c: 'c' is not upstream of 'b'");
}

static void
test_workflow_rejects_map_over_a_string_input(void **state)
{
    (void) state;
    s_only("workflow: t\n"                                           // 1
           "inputs:\n"                                               // 2
           "  q: {type: string}\n"                                   // 3
           "nodes:\n"                                                // 4
           "  m:\n"                                                  // 5
           "    kind: map\n"                                         // 6
           "    over: \"${{ inputs.q }}\"\n"                         // 7
           "    do: {kind: tool, tool: x, args: \"${{ item }}\"}\n", // 8
           "t.yaml:7: nodes.m.over: ", "must give a list, but gives string");
}

static void
test_workflow_rejects_len_of_a_number_input(void **state)
{
    (void) state;
    s_only("workflow: t\n"                                // 1
           "inputs:\n"                                    // 2
           "  n: {type: integer, default: 3}\n"           // 3
           "nodes:\n"                                     // 4
           "  a:\n"                                       // 5
           "    kind: prompt\n"                           // 6
           "    prompt: \"size ${{ len(inputs.n) }}\"\n", // 7
           "t.yaml:7: nodes.a.prompt: ", "column");
}

static void
test_workflow_rejects_roots_out_of_place(void **state)
{
    (void) state;
    json_t *errors =
        s_errors("workflow: t\n"                                           // 1
                 "nodes:\n"                                                // 2
                 "  a: {kind: prompt, prompt: \"${{ item }}\"}\n"          // 3
                 "  b: {kind: prompt, prompt: \"${{ loop.index }}\"}\n"    // 4
                 "  c: {kind: prompt, prompt: \"${{ error.message }}\"}\n" // 5
                 "  d: {kind: prompt, prompt: \"${{ inputs.nope }}\"}\n"); // 6
    s_has(errors,
          "t.yaml:3: nodes.a.prompt: ", "'item' exists only inside a map's do");
    s_has(errors, "t.yaml:4: nodes.b.prompt: ",
          "'loop' exists only inside a loop's do and until");
    s_has(errors, "t.yaml:5: nodes.c.prompt: ",
          "'error' exists only in a node that an on_error routes to");
    s_has(errors, "t.yaml:6: nodes.d.prompt: ",
          "inputs.nope: no such input is declared");
    assert_int_equal(json_array_size(errors), 4);
    json_decref(errors);
}

static void
test_workflow_rejects_bad_field_types(void **state)
{
    (void) state;
    json_t *errors = s_errors("workflow: t\n"                     // 1
                              "concurrency: 0\n"                  // 2
                              "durable: maybe\n"                  // 3
                              "nodes:\n"                          // 4
                              "  a:\n"                            // 5
                              "    kind: prompt\n"                // 6
                              "    prompt: hi\n"                  // 7
                              "    retries: x\n"                  // 8
                              "    timeout_ms: -1\n"              // 9
                              "    json: yes\n"                   // 10
                              "    on_indeterminate: later\n"     // 11
                              "  j: {kind: join, wait: some}\n"); // 12
    s_has(errors, "t.yaml:2: concurrency: ",
          "must be an integer from 1 to 100000 (got 0)");
    s_has(errors, "t.yaml:3: durable: ", "must be true or false");
    s_has(errors, "t.yaml:8: nodes.a.retries: ",
          "must be an integer from 0 to 100 (got 'x')");
    s_has(errors, "t.yaml:9: nodes.a.timeout_ms: ", "must be an integer");
    s_has(errors, "t.yaml:10: nodes.a.json: ", "must be true or false");
    s_has(errors, "t.yaml:11: nodes.a.on_indeterminate: ",
          "must be one of ask, retry, fail");
    s_has(errors, "t.yaml:12: nodes.j.wait: ", "must be one of all, any");
    assert_int_equal(json_array_size(errors), 7);
    json_decref(errors);
}

static void
test_workflow_rejects_a_missing_agent_file(void **state)
{
    (void) state;
    s_only("workflow: t\n"                 // 1
           "nodes:\n"                      // 2
           "  a:\n"                        // 3
           "    kind: agent\n"             // 4
           "    agent: agents/nope.yaml\n" // 5
           "    input: hi\n",              // 6
           "t.yaml:5: nodes.a.agent: ",
           "no agent file " S_EXAMPLES "/agents/nope.yaml");
}

static void
test_workflow_rejects_bad_ids_and_bodies(void **state)
{
    (void) state;
    json_t *errors = s_errors("workflow: t\n"                        // 1
                              "nodes:\n"                             // 2
                              "  bad.id: {kind: end}\n"              // 3
                              "  m:\n"                               // 4
                              "    kind: map\n"                      // 5
                              "    over: [1, 2]\n"                   // 6
                              "    do: {kind: branch, default: m}\n" // 7
                              "  l: {kind: loop}\n");                // 8
    s_has(errors, "t.yaml:3: nodes.bad\\.id: ", "a node id must be");
    s_has(errors, "t.yaml:7: nodes.m.do.kind: ",
          "an inline node must be agent, prompt, tool or http (got "
          "'branch')");
    s_has(errors, "t.yaml:8: nodes.l: ", "missing key 'do'");
    json_decref(errors);
}

static void
test_workflow_reports_every_error(void **state)
{
    (void) state;
    json_t *errors = s_errors("workflow: t\n"         // 1
                              "nodes:\n"              // 2
                              "  a:\n"                // 3
                              "    kind: tool\n"      // 4
                              "    tool: x\n"         // 5
                              "    retries: -1\n"     // 6
                              "  b:\n"                // 7
                              "    kind: tool\n"      // 8
                              "    tool: x\n"         // 9
                              "    needs: [zz]\n"     // 10
                              "  c: {kind: nope}\n"); // 11
    assert_int_equal(json_array_size(errors), 3);
    s_has(errors, "t.yaml:6: nodes.a.retries: ", "must be an integer");
    s_has(errors, "t.yaml:10: nodes.b.needs[0]: ", "unknown node 'zz'");
    s_has(errors, "t.yaml:11: nodes.c.kind: ", "unknown kind 'nope'");
    json_decref(errors);
}

static void
test_workflow_caps_the_errors(void **state)
{
    (void) state;
    char *text = malloc(64 * 1024);
    size_t len = (size_t) sprintf(text, "workflow: t\nnodes:\n");
    for (int i = 0; i < 150; i++)
        len += (size_t) sprintf(text + len, "  n%d: {kind: nope}\n", i);
    json_t *errors = s_errors(text);
    assert_int_equal(json_array_size(errors), 101);
    s_has(errors, "t.yaml:3: nodes.n0.kind: ", "unknown kind");
    assert_string_equal(json_string_value(json_array_get(errors, 100)),
                        "too many errors; fix these first");
    json_decref(errors);
    free(text);
}

static void
test_workflow_rejects_bad_yaml_and_files(void **state)
{
    (void) state;
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    const char *text = "workflow: t\nworkflow: u\nnodes: {}\n";
    assert_int_equal(
        orcs_workflow_parse(text, strlen(text), "t.yaml", NULL, &wf, &errors),
        ORCS_EPROTO);
    assert_null(wf);
    assert_int_equal(json_array_size(errors), 1);
    assert_non_null(
        strstr(json_string_value(json_array_get(errors, 0)), "t.yaml:2"));
    json_decref(errors);
    assert_int_equal(orcs_workflow_load("/nonexistent/flow.yaml", &wf, &errors),
                     ORCS_EIO);
    assert_null(wf);
    assert_int_equal(json_array_size(errors), 1);
    json_decref(errors);
    text = "- a list\n";
    assert_int_equal(
        orcs_workflow_parse(text, strlen(text), "t.yaml", NULL, &wf, NULL),
        ORCS_ECONFIG);
    assert_null(wf);
}

static void
test_workflow_from_doc_names_json_paths(void **state)
{
    (void) state;
    json_t *doc = json_pack("{s:s, s:{s:{s:s, s:[s]}}}", "workflow", "t",
                            "nodes", "a", "kind", "end", "needs", "zz");
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    assert_int_equal(orcs_workflow_from_doc(doc, NULL, &wf, &errors),
                     ORCS_ECONFIG);
    assert_null(wf);
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(json_string_value(json_array_get(errors, 0)),
                        "$.nodes.a.needs[0]: unknown node 'zz'");
    json_decref(errors);
    json_decref(doc);
}

// ---------------------------------------------------------------------------
// The compiled graph

// The compiler records which nodes' outputs are read, so a run keeps the
// template context of only those.
static void
test_workflow_records_what_is_read(void **state)
{
    (void) state;
    orcs_workflow_t *wf =
        s_load_ok("workflow: reads\n"
                  "nodes:\n"
                  "  a: {kind: tool, tool: t.echo}\n"
                  "  b: {kind: tool, tool: t.echo, needs: [a],\n"
                  "      args: {x: '${{ nodes.a.output }}'}}\n"
                  "  c: {kind: tool, tool: t.echo, needs: [b]}\n"
                  "  d: {kind: branch, needs: [c],\n"
                  "      cases: [{when: 'nodes.c.status == \"completed\"', "
                  "to: e}]}\n"
                  "  e: {kind: end, output: done}\n");
    assert_true(wf->nodes[orcs_workflow_find(wf, "a")].read);
    assert_false(wf->nodes[orcs_workflow_find(wf, "b")].read);
    assert_true(wf->nodes[orcs_workflow_find(wf, "c")].read);
    assert_false(wf->nodes[orcs_workflow_find(wf, "e")].read);
    assert_false(wf->reads_any_node);
    orcs_workflow_destroy(&wf);
    wf = s_load_ok("workflow: all\n"
                   "nodes:\n"
                   "  a: {kind: tool, tool: t.echo}\n"
                   "  e: {kind: end, needs: [a], output: '${{ nodes }}'}\n");
    assert_true(wf->reads_any_node);
    orcs_workflow_destroy(&wf);
}

static void
test_workflow_loads_hello(void **state)
{
    (void) state;
    orcs_workflow_t *wf = s_example("hello.yaml");
    assert_string_equal(wf->name, "hello");
    assert_int_equal(wf->count, 6);
    assert_int_equal(wf->concurrency, 64);
    assert_true(wf->durable);
    assert_int_equal(wf->deadline_ms, 0);
    assert_null(wf->budget);
    assert_non_null(strstr(wf->file, "hello.yaml"));
    assert_string_equal(wf->nodes[0].id, "start"); // file order
    assert_string_equal(wf->nodes[5].id, "end");

    const orcs_wf_node_t *start = s_node(wf, "start");
    assert_int_equal(start->kind, ORCS_WF_TOOL);
    assert_string_equal(start->tool, "memory.put");
    assert_non_null(start->input);
    assert_false(start->idempotent_set); // the manifest decides
    assert_int_equal(start->needs_count, 0);
    assert_int_equal(start->dependents_count, 1);
    assert_int_equal(start->retries, 0);
    assert_int_equal(start->backoff_ms, 1000);
    assert_int_equal(start->backoff_max_ms, 60000);
    assert_int_equal(start->timeout_ms, 0);
    assert_int_equal(start->on_error, ORCS_WF_ROUTE_FAIL);
    assert_int_equal(start->on_indeterminate, ORCS_WF_INDET_ASK);
    assert_int_equal(start->line, 11);
    assert_false(start->routed);

    const orcs_wf_node_t *route = s_node(wf, "route");
    assert_int_equal(route->kind, ORCS_WF_BRANCH);
    assert_int_equal(route->cases_count, 1);
    assert_non_null(route->cases[0].when);
    assert_int_equal(route->cases[0].to, orcs_workflow_find(wf, "shout"));
    assert_int_equal(route->default_to, orcs_workflow_find(wf, "greet"));
    assert_int_equal(route->dependents_count, 2);
    assert_true(route->idempotent);

    const orcs_wf_node_t *shout = s_node(wf, "shout");
    assert_true(shout->routed);
    assert_int_equal(shout->needs_count, 1); // implicitly the branch
    assert_int_equal(shout->needs[0], orcs_workflow_find(wf, "route"));
    assert_int_equal(shout->kind, ORCS_WF_MAP);
    assert_int_equal(shout->concurrency, 2);
    assert_non_null(shout->over);
    assert_non_null(shout->body);
    assert_string_equal(shout->body->id, "shout.do");
    assert_int_equal(shout->body->kind, ORCS_WF_TOOL);
    assert_string_equal(shout->body->tool, "memory.put");
    assert_int_equal(shout->body->needs_count, 0);
    const orcs_wf_node_t *greet = s_node(wf, "greet");
    assert_int_equal(greet->concurrency, 4);
    assert_true(greet->routed);

    const orcs_wf_node_t *done = s_node(wf, "done");
    assert_int_equal(done->kind, ORCS_WF_JOIN);
    assert_true(done->any);
    assert_int_equal(done->needs_count, 2);
    const orcs_wf_node_t *end = s_node(wf, "end");
    assert_int_equal(end->kind, ORCS_WF_END);
    assert_int_equal(end->dependents_count, 0);
    assert_non_null(end->input);

    // Defaults are in the normalised document.
    const json_t *spec =
        json_object_get(json_object_get(wf->doc, "nodes"), "shout");
    assert_ptr_equal(spec, shout->spec);
    assert_int_equal(json_integer_value(json_object_get(spec, "retries")), 0);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(spec, "needs"), 0)),
        "route");
    const json_t *greet_spec =
        json_object_get(json_object_get(wf->doc, "nodes"), "greet");
    assert_int_equal(
        json_integer_value(json_object_get(greet_spec, "concurrency")), 4);
    assert_true(json_is_true(json_object_get(wf->doc, "durable")));
    assert_int_equal(orcs_workflow_find(wf, "nope"), -1);
    orcs_workflow_destroy(&wf);
    assert_null(wf);
    orcs_workflow_destroy(&wf); // idempotent
}

static void
test_workflow_loads_review(void **state)
{
    (void) state;
    orcs_workflow_t *wf = s_example("review.yaml");
    assert_int_equal(wf->deadline_ms, 3600000);
    assert_non_null(wf->budget);
    assert_int_equal(
        json_integer_value(json_object_get(wf->budget, "max_tokens")), 100000);
    const orcs_wf_node_t *solve = s_node(wf, "solve");
    assert_int_equal(solve->kind, ORCS_WF_AGENT);
    assert_int_equal(solve->agent[0], '/');
    assert_non_null(strstr(solve->agent, "/examples/agent/calc.yaml"));
    assert_null(strstr(solve->agent, ".."));
    assert_string_equal(
        json_string_value(json_object_get(solve->spec, "agent")), solve->agent);
    assert_non_null(solve->thread);
    assert_int_equal(solve->retries, 2);
    assert_int_equal(solve->timeout_ms, 120000);
    assert_int_equal(solve->on_error, orcs_workflow_find(wf, "apologise"));
    assert_true(solve->idempotent);
    assert_false(solve->idempotent_set);

    const orcs_wf_node_t *check = s_node(wf, "check");
    assert_int_equal(check->kind, ORCS_WF_APPROVAL);
    assert_int_equal(check->approval_timeout_ms, 86400000);
    assert_int_equal(check->on_timeout, ORCS_WF_ROUTE_FAIL);
    assert_non_null(check->input);

    const orcs_wf_node_t *publish = s_node(wf, "publish");
    assert_int_equal(publish->kind, ORCS_WF_HTTP);
    assert_string_equal(publish->tool, "http.request");
    assert_false(publish->idempotent); // POST
    assert_string_equal(
        json_string_value(json_object_get(publish->spec, "method")), "POST");

    // The http node's input is the request, rendered like a template.
    json_t *ctx = json_pack("{s:{s:s}, s:{s:{s:i}}}", "inputs", "url",
                            "http://h/", "nodes", "solve", "output", 5);
    json_t *request = NULL;
    char err[256];
    assert_int_equal(
        orcs_template_render(publish->input, ctx, &request, err, sizeof err),
        ORCS_OK);
    json_t *want = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "method", "POST",
                             "url", "http://h/", "headers", "content-type",
                             "application/json", "body", "answer", 5);
    assert_true(json_equal(request, want));
    json_decref(want);
    json_decref(request);
    json_decref(ctx);

    const orcs_wf_node_t *sorry = s_node(wf, "apologise");
    assert_int_equal(sorry->kind, ORCS_WF_PROMPT);
    assert_true(sorry->routed);
    assert_non_null(sorry->system);
    assert_false(sorry->json_output);
    assert_null(sorry->model);
    orcs_workflow_destroy(&wf);
}

static void
test_workflow_loads_refine(void **state)
{
    (void) state;
    orcs_workflow_t *wf = s_example("refine.yaml");
    const orcs_wf_node_t *loop = s_node(wf, "shorten");
    assert_int_equal(loop->kind, ORCS_WF_LOOP);
    assert_int_equal(loop->max_iterations, 5);
    assert_non_null(loop->until);
    assert_non_null(loop->body);
    assert_int_equal(loop->body->kind, ORCS_WF_PROMPT);
    assert_int_equal(loop->body->retries, 1);
    assert_true(loop->idempotent);
    orcs_workflow_destroy(&wf);
}

static void
test_workflow_defaults_every_kind(void **state)
{
    (void) state;
    orcs_workflow_t *wf = s_load_ok(
        "workflow: t\n"
        "nodes:\n"
        "  a: {kind: agent, agent: ../agent/calc.yaml}\n"
        "  p: {kind: prompt, prompt: hi, model: small, json: true}\n"
        "  h: {kind: http, url: 'http://x/', needs: [a, p]}\n"
        "  t: {kind: tool, tool: memory.get, idempotent: true, needs: [h]}\n"
        "  j: {kind: join, needs: [t]}\n"
        "  l: {kind: loop, needs: [j], do: {kind: tool, tool: x}}\n"
        "  ok: {kind: approval, needs: [l]}\n"
        "  e: {kind: end, needs: [ok]}\n");
    const orcs_wf_node_t *p = s_node(wf, "p");
    assert_string_equal(p->model, "small");
    assert_true(p->json_output);
    const orcs_wf_node_t *h = s_node(wf, "h");
    assert_true(h->idempotent); // GET
    assert_string_equal(json_string_value(json_object_get(h->spec, "method")),
                        "GET");
    assert_int_equal(h->needs_count, 2);
    const orcs_wf_node_t *t = s_node(wf, "t");
    assert_true(t->idempotent && t->idempotent_set);
    assert_false(s_node(wf, "j")->any);
    const orcs_wf_node_t *l = s_node(wf, "l");
    assert_int_equal(l->max_iterations, 10);
    assert_null(l->until);
    assert_false(l->idempotent_set); // a tool body: from the manifest
    const orcs_wf_node_t *ok = s_node(wf, "ok");
    assert_int_equal(ok->approval_timeout_ms, 0);
    assert_int_equal(ok->on_timeout, ORCS_WF_ROUTE_FAIL);
    assert_non_null(ok->input);
    assert_non_null(s_node(wf, "e")->input);
    assert_string_equal(orcs_wf_kind_name(ORCS_WF_APPROVAL), "approval");
    assert_string_equal(orcs_wf_kind_name(ORCS_WF_AGENT), "agent");
    assert_null(orcs_wf_kind_name(ORCS_WF_KIND_COUNT));
    orcs_workflow_destroy(&wf);
}

// Same graph: kinds, needs, dependents, routes and policies.
static void
s_assert_same_graph(const orcs_workflow_t *a, const orcs_workflow_t *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->concurrency, b->concurrency);
    assert_int_equal(a->deadline_ms, b->deadline_ms);
    assert_int_equal(a->durable, b->durable);
    assert_true(json_equal(a->doc, b->doc));
    for (size_t i = 0; i < a->count; i++) {
        const orcs_wf_node_t *x = &a->nodes[i], *y = &b->nodes[i];
        assert_string_equal(x->id, y->id);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->needs_count, y->needs_count);
        for (size_t k = 0; k < x->needs_count; k++)
            assert_int_equal(x->needs[k], y->needs[k]);
        assert_int_equal(x->dependents_count, y->dependents_count);
        for (size_t k = 0; k < x->dependents_count; k++)
            assert_int_equal(x->dependents[k], y->dependents[k]);
        assert_int_equal(x->routed, y->routed);
        assert_int_equal(x->on_error, y->on_error);
        assert_int_equal(x->on_timeout, y->on_timeout);
        assert_int_equal(x->default_to, y->default_to);
        assert_int_equal(x->idempotent, y->idempotent);
        assert_int_equal(x->idempotent_set, y->idempotent_set);
        assert_int_equal(x->retries, y->retries);
        assert_int_equal(x->cases_count, y->cases_count);
        assert_int_equal(x->body != NULL, y->body != NULL);
        if (x->agent)
            assert_string_equal(x->agent, y->agent);
        assert_int_equal(y->line, 0);
    }
}

static void
test_workflow_normalised_doc_reloads(void **state)
{
    (void) state;
    const char *names[] = {"hello.yaml", "review.yaml", "refine.yaml"};
    for (size_t i = 0; i < 3; i++) {
        orcs_workflow_t *wf = s_example(names[i]);
        orcs_workflow_t *again = NULL;
        json_t *errors = NULL;
        // Another directory: paths are absolute already.
        assert_int_equal(orcs_workflow_from_doc(wf->doc, "/", &again, &errors),
                         ORCS_OK);
        assert_int_equal(json_array_size(errors), 0);
        json_decref(errors);
        s_assert_same_graph(wf, again);
        assert_string_equal(again->file, "<doc>");
        orcs_workflow_destroy(&again);
        orcs_workflow_destroy(&wf);
    }
}

// ---------------------------------------------------------------------------
// Run inputs

static void
test_workflow_inputs_checks_and_fills(void **state)
{
    (void) state;
    orcs_workflow_t *wf = s_example("review.yaml");
    char err[256];
    json_t *inputs = NULL;
    json_t *given = json_pack("{s:s}", "question", "2 + 2?");
    assert_int_equal(orcs_workflow_inputs(wf, given, &inputs, err, sizeof err),
                     ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(inputs, "question")),
                        "2 + 2?");
    assert_string_equal(json_string_value(json_object_get(inputs, "url")),
                        "http://127.0.0.1:9/report");
    json_decref(inputs);
    json_decref(given);

    assert_int_equal(orcs_workflow_inputs(wf, NULL, &inputs, err, sizeof err),
                     ORCS_EINVAL);
    assert_null(inputs);
    assert_string_equal(err, "input question: missing (required)");

    given = json_pack("{s:i}", "question", 4);
    assert_int_equal(orcs_workflow_inputs(wf, given, &inputs, err, sizeof err),
                     ORCS_EINVAL);
    assert_string_equal(err, "input question: expected string, got 4");
    json_decref(given);

    given = json_pack("{s:s, s:s}", "question", "q", "extra", "x");
    assert_int_equal(orcs_workflow_inputs(wf, given, &inputs, err, sizeof err),
                     ORCS_EINVAL);
    assert_string_equal(err, "input extra: not declared");
    assert_null(inputs);
    json_decref(given);
    orcs_workflow_destroy(&wf);
}

static void
test_workflow_rejects_a_default_of_the_wrong_type(void **state)
{
    (void) state;
    s_only("workflow: t\n"       // 1
           "inputs:\n"           // 2
           "  n:\n"              // 3
           "    type: integer\n" // 4
           "    default: many\n" // 5
           "nodes:\n"            // 6
           "  e: {kind: end}\n", // 7
           "t.yaml:5: inputs.n.default: ", "does not match type integer");
}

// ---------------------------------------------------------------------------
// Plans

static json_t *
s_roles(void)
{
    return json_pack("{s:s, s:s}", "research", S_CALC, "writing", S_CALC);
}

static json_t *
s_plan(const char *text)
{
    json_error_t jerr;
    json_t *plan = json_loads(text, 0, &jerr);
    if (!plan)
        fail_msg("bad test JSON: %s", jerr.text);
    return plan;
}

static void
test_plan_compiles_to_a_loadable_doc(void **state)
{
    (void) state;
    json_t *plan = s_plan(
        "{\"tasks\": ["
        "{\"id\": \"a\", \"title\": \"Find\", \"description\": \"Look ${{ "
        "here\", \"role\": \"research\"},"
        "{\"id\": \"b\", \"title\": \"Write\", \"role\": \"writing\", "
        "\"needs\": [\"a\", \"a\"]},"
        "{\"id\": \"c\", \"title\": \"Post\", \"role\": \"writing\", "
        "\"needs\": [\"a\"], \"needs_approval\": true}]}");
    json_t *roles = s_roles();
    json_t *doc = NULL;
    char err[1024];
    assert_int_equal(
        orcs_plan_compile(plan, roles, NULL, "planned", &doc, err, sizeof err),
        ORCS_OK);
    assert_string_equal(err, "");
    orcs_workflow_t *wf = NULL;
    json_t *errors = NULL;
    orcs_status rc = orcs_workflow_from_doc(doc, NULL, &wf, &errors);
    for (size_t i = 0; i < json_array_size(errors); i++)
        print_error("%s\n", json_string_value(json_array_get(errors, i)));
    assert_int_equal(rc, ORCS_OK);
    json_decref(errors);
    assert_string_equal(wf->name, "planned");
    assert_int_equal(wf->count, 5); // a, b, c-approval, c, end
    const orcs_wf_node_t *b = s_node(wf, "b");
    assert_int_equal(b->kind, ORCS_WF_AGENT);
    assert_string_equal(b->agent, S_CALC);
    assert_int_equal(b->needs_count, 1); // repeats dropped
    const char *input = json_string_value(json_object_get(b->spec, "input"));
    assert_non_null(strstr(input, "Write"));
    assert_non_null(strstr(input, "${{ json(nodes[\"a\"].output) }}"));
    const char *a_input =
        json_string_value(json_object_get(s_node(wf, "a")->spec, "input"));
    assert_non_null(strstr(a_input, "Look $${{ here")); // kept literal
    const orcs_wf_node_t *ok = s_node(wf, "c-approval");
    assert_int_equal(ok->kind, ORCS_WF_APPROVAL);
    assert_int_equal(ok->needs_count, 1);
    assert_int_equal(ok->needs[0], orcs_workflow_find(wf, "a"));
    assert_string_equal(json_string_value(json_object_get(ok->spec, "prompt")),
                        "Approve task c: Post?");
    const orcs_wf_node_t *c = s_node(wf, "c");
    assert_int_equal(c->needs_count, 1);
    assert_int_equal(c->needs[0], orcs_workflow_find(wf, "c-approval"));
    const orcs_wf_node_t *end = s_node(wf, "end");
    assert_int_equal(end->kind, ORCS_WF_END);
    assert_int_equal(end->needs_count, 2); // the sinks b and c
    const json_t *output = json_object_get(end->spec, "output");
    assert_string_equal(json_string_value(json_object_get(output, "b")),
                        "${{ nodes[\"b\"].output }}");
    orcs_workflow_destroy(&wf);
    json_decref(doc);
    json_decref(roles);
    json_decref(plan);
}

static void
test_plan_reports_every_problem(void **state)
{
    (void) state;
    json_t *plan = s_plan(
        "{\"tasks\": ["
        "{\"id\": \"x\", \"title\": \"X\", \"role\": \"foo\"},"
        "{\"id\": \"b\", \"role\": \"research\", \"needs\": [\"zz\"]},"
        "{\"id\": \"x\", \"title\": \"again\", \"role\": \"research\"}]}");
    json_t *roles = s_roles();
    json_t *doc = NULL;
    char err[1024];
    assert_int_equal(
        orcs_plan_compile(plan, roles, NULL, "p", &doc, err, sizeof err),
        ORCS_EINVAL);
    assert_null(doc);
    assert_string_equal(err, "task 'x': unknown role 'foo' (roles: research, "
                             "writing)\n"
                             "task 2: missing title\n"
                             "task 3: duplicate id 'x' (task 1 has it)\n"
                             "task 'b': needs unknown task 'zz'");
    json_decref(plan);

    plan = s_plan("{\"tasks\": ["
                  "{\"id\": \"a\", \"title\": \"A\", \"role\": \"research\", "
                  "\"needs\": [\"b\"]},"
                  "{\"id\": \"b\", \"title\": \"B\", \"role\": \"research\", "
                  "\"needs\": [\"a\"]}]}");
    assert_int_equal(
        orcs_plan_compile(plan, roles, NULL, "p", &doc, err, sizeof err),
        ORCS_EINVAL);
    assert_string_equal(err, "cycle: a -> b -> a");
    json_decref(plan);

    plan = s_plan("{\"steps\": []}");
    assert_int_equal(
        orcs_plan_compile(plan, roles, NULL, "p", &doc, err, sizeof err),
        ORCS_EINVAL);
    assert_non_null(strstr(err, "list of tasks"));
    json_decref(plan);
    json_decref(roles);
}

static void
test_plan_keeps_nodes_and_names_an_output(void **state)
{
    (void) state;
    json_t *keep = json_pack("{s:{s:s, s:s, s:s}}", "a", "kind", "agent",
                             "agent", S_CALC, "input", "done before");
    json_t *plan = s_plan("{\"tasks\": [{\"id\": \"b\", \"title\": \"B\", "
                          "\"role\": \"writing\", \"needs\": [\"a\"]}], "
                          "\"output\": \"b\"}");
    json_t *roles = s_roles();
    json_t *doc = NULL;
    char err[1024];
    assert_int_equal(
        orcs_plan_compile(plan, roles, keep, "p", &doc, err, sizeof err),
        ORCS_OK);
    orcs_workflow_t *wf = NULL;
    assert_int_equal(orcs_workflow_from_doc(doc, NULL, &wf, NULL), ORCS_OK);
    assert_int_equal(wf->count, 3);
    const orcs_wf_node_t *a = s_node(wf, "a");
    assert_string_equal(json_string_value(json_object_get(a->spec, "input")),
                        "done before");
    assert_int_equal(s_node(wf, "b")->needs[0], orcs_workflow_find(wf, "a"));
    assert_string_equal(
        json_string_value(json_object_get(s_node(wf, "end")->spec, "output")),
        "${{ nodes[\"b\"].output }}");
    orcs_workflow_destroy(&wf);
    json_decref(doc);
    json_decref(roles);
    json_decref(plan);
    json_decref(keep);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workflow_rejects_unknown_keys),
        cmocka_unit_test(test_workflow_rejects_missing_kind),
        cmocka_unit_test(test_workflow_rejects_unknown_kind),
        cmocka_unit_test(test_workflow_rejects_unknown_need),
        cmocka_unit_test(test_workflow_rejects_unknown_route_targets),
        cmocka_unit_test(test_workflow_rejects_a_cycle),
        cmocka_unit_test(test_workflow_rejects_a_branch_cycle),
        cmocka_unit_test(test_workflow_rejects_unreachable_nodes),
        cmocka_unit_test(test_workflow_rejects_a_bad_template),
        cmocka_unit_test(test_workflow_rejects_a_bad_condition),
        cmocka_unit_test(test_workflow_rejects_an_unknown_root),
        cmocka_unit_test(test_workflow_rejects_a_reference_to_no_node),
        cmocka_unit_test(test_workflow_rejects_reading_a_node_not_upstream),
        cmocka_unit_test(test_workflow_rejects_map_over_a_string_input),
        cmocka_unit_test(test_workflow_rejects_len_of_a_number_input),
        cmocka_unit_test(test_workflow_rejects_roots_out_of_place),
        cmocka_unit_test(test_workflow_rejects_bad_field_types),
        cmocka_unit_test(test_workflow_rejects_a_missing_agent_file),
        cmocka_unit_test(test_workflow_rejects_bad_ids_and_bodies),
        cmocka_unit_test(test_workflow_reports_every_error),
        cmocka_unit_test(test_workflow_caps_the_errors),
        cmocka_unit_test(test_workflow_rejects_bad_yaml_and_files),
        cmocka_unit_test(test_workflow_from_doc_names_json_paths),
        cmocka_unit_test(test_workflow_loads_hello),
        cmocka_unit_test(test_workflow_loads_review),
        cmocka_unit_test(test_workflow_loads_refine),
        cmocka_unit_test(test_workflow_defaults_every_kind),
        cmocka_unit_test(test_workflow_normalised_doc_reloads),
        cmocka_unit_test(test_workflow_inputs_checks_and_fills),
        cmocka_unit_test(test_workflow_rejects_a_default_of_the_wrong_type),
        cmocka_unit_test(test_workflow_records_what_is_read),
        cmocka_unit_test(test_plan_compiles_to_a_loadable_doc),
        cmocka_unit_test(test_plan_reports_every_problem),
        cmocka_unit_test(test_plan_keeps_nodes_and_names_an_output),
    };
    return cmocka_run_group_tests_name("orcs_workflow", tests, NULL, NULL);
}
