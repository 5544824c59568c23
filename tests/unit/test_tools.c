/*  test_tools.c — the tool registry: manifests (good and bad, YAML and
    JSON, with their file:line messages), loading directories, reloads that
    swap the set while old sets stay valid, generations, BM25 search, C
    tools, a plug-in .so, built-in overrides, the OpenAI form, and the
    memory built-ins against a real store.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "orcs/memory.h"
#include "orcs/schema.h"
#include "orcs/store.h"
#include "orcs/tools.h"

#ifndef ORCS_TEST_TOOL_PLUGIN
#define ORCS_TEST_TOOL_PLUGIN "libtest_tool_plugin.so"
#endif

typedef struct {
    char dir[64];      // a fresh directory of manifests
    orcs_tools_t *reg; // registry under test
    json_t *dirs;      // [dir]
    char err[1024];    // last message
} s_env_t;

static int
s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    snprintf(env->dir, sizeof env->dir, "/tmp/orcs-tools-XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    env->reg = orcs_tools_new();
    env->dirs = json_pack("[s]", env->dir);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    orcs_tools_destroy(&env->reg);
    json_decref(env->dirs);
    nftw(env->dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(env);
    return 0;
}

static void
s_write(const s_env_t *env, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", env->dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

// Loads env->dir; returns the errors (caller owns).
static json_t *
s_load(s_env_t *env)
{
    json_t *errors = NULL;
    assert_int_equal(orcs_tools_load(env->reg, env->dirs, NULL, &errors),
                     ORCS_OK);
    assert_non_null(errors);
    return errors;
}

// True when errors holds "DIR/file:LINE: rest" (rest a prefix when
// prefix is true).
static bool
s_has_error(const s_env_t *env,
            const json_t *errors,
            const char *file,
            int line,
            const char *rest,
            bool prefix)
{
    char want[512];
    snprintf(want, sizeof want, "%s/%s:%d: %s", env->dir, file, line, rest);
    size_t i;
    const json_t *item;
    json_array_foreach(errors, i, item)
    {
        const char *got = json_string_value(item);
        if (prefix ? strncmp(got, want, strlen(want)) == 0
                   : strcmp(got, want) == 0)
            return true;
    }
    fprintf(stderr, "missing error: %s\nerrors:", want);
    json_dumpf(errors, stderr, JSON_INDENT(2));
    fprintf(stderr, "\n");
    return false;
}

static orcs_status
s_parse(const char *text, json_t **manifest_p, char *err, size_t err_size)
{
    return orcs_tool_manifest_parse(text, strlen(text), "m.tool.yaml",
                                    manifest_p, err, err_size);
}

// Parses text, which must fail with message.
static void
s_assert_bad(const char *text, const char *message)
{
    json_t *manifest = NULL;
    char err[512];
    assert_int_equal(s_parse(text, &manifest, err, sizeof err), ORCS_EINVAL);
    assert_null(manifest);
    assert_string_equal(err, message);
}

// Calls a tool the way toolexec would: validate, then fn.
static orcs_status
s_call(const orcs_toolset_t *set,
       const char *name,
       const char *args_text,
       const char *caller,
       orcs_memory_t *memory,
       json_t **result_p,
       char *err,
       size_t err_size)
{
    const orcs_tool_t *tool = orcs_toolset_find(set, name);
    assert_non_null(tool);
    assert_non_null(tool->fn);
    json_t *args = json_loads(args_text, 0, NULL);
    assert_non_null(args);
    char why[256];
    orcs_status rc =
        orcs_schema_validate(tool->input_schema, args, why, sizeof why);
    if (rc != ORCS_OK)
        fprintf(stderr, "%s: %s\n", name, why);
    assert_int_equal(rc, ORCS_OK);
    orcs_tool_ctx_t ctx = {.args = args,
                           .tool = tool->name,
                           .run = "",
                           .caller = caller,
                           .idempotency_key = "r/1/c",
                           .memory = memory,
                           .arg = tool->fn_arg};
    *result_p = NULL;
    err[0] = '\0';
    rc = tool->fn(&ctx, result_p, err, err_size);
    json_decref(args);
    return rc;
}

// ---------------------------------------------------------------------------
// Built-ins and lifecycle

static void
test_tools_new_holds_the_builtins(void **state)
{
    s_env_t *env = *state;
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    assert_int_equal(orcs_toolset_generation(set), 1);
    assert_int_equal(orcs_toolset_count(set), 5);
    static const char *const names[] = {"exec", "http.request", "memory.get",
                                        "memory.list", "memory.put"};
    for (size_t i = 0; i < 5; i++) {
        const orcs_tool_t *tool = orcs_toolset_at(set, i);
        assert_string_equal(tool->name, names[i]);
        assert_string_equal(tool->kind, "builtin");
        assert_null(tool->file);
        assert_true(strlen(tool->description) > 10);
        assert_int_equal(tool->timeout_ms, 30000);
        char err[256];
        assert_int_equal(orcs_schema_check(tool->input_schema, err, sizeof err),
                         ORCS_OK);
        bool is_memory = strncmp(tool->name, "memory.", 7) == 0;
        assert_true(is_memory == (tool->fn != NULL));
    }
    assert_null(orcs_toolset_at(set, 5));
    assert_true(orcs_toolset_find(set, "memory.get")->idempotent);
    assert_true(orcs_toolset_find(set, "memory.list")->idempotent);
    assert_false(orcs_toolset_find(set, "memory.put")->idempotent);
    assert_false(orcs_toolset_find(set, "exec")->idempotent);
    assert_ptr_equal(orcs_toolset_find(set, "http_request"),
                     orcs_toolset_find(set, "http.request"));
    assert_null(orcs_toolset_find(set, "nope"));
    assert_null(orcs_toolset_find(set, NULL));
    orcs_toolset_release(&set);
    assert_null(set);
    orcs_toolset_release(&set); // idempotent
}

static void
test_tools_destroy_nulls_reference(void **state)
{
    (void) state;
    orcs_tools_t *reg = orcs_tools_new();
    orcs_toolset_t *set = orcs_tools_acquire(reg);
    orcs_tools_destroy(&reg);
    assert_null(reg);
    orcs_tools_destroy(&reg); // idempotent
    // a held set outlives its registry
    assert_non_null(orcs_toolset_find(set, "exec"));
    orcs_toolset_release(&set);
}

static void
test_tools_wire_name_replaces_dots(void **state)
{
    (void) state;
    char out[ORCS_TOOL_NAME_MAX + 1];
    orcs_tool_wire_name("memory.get", out);
    assert_string_equal(out, "memory_get");
    orcs_tool_wire_name("a.b-c_d", out);
    assert_string_equal(out, "a_b-c_d");
}

// ---------------------------------------------------------------------------
// Manifests

static void
test_tools_manifest_parse_fills_defaults(void **state)
{
    (void) state;
    const char *text =
        "tool: add\n"
        "description: Add two integers and return the sum.\n"
        "kind: exec\n"
        "input_schema:\n"
        "  type: object\n"
        "  properties: {a: {type: integer}, b: {type: integer}}\n"
        "  required: [a, b]\n"
        "  additionalProperties: false\n"
        "timeout_ms: 5000\n"
        "retries: 2\n"
        "idempotent: true\n"
        "exec:\n"
        "  command: [jq, '.a + .b']\n";
    json_t *m = NULL;
    char err[256];
    assert_int_equal(s_parse(text, &m, err, sizeof err), ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "timeout_ms")),
                     5000);
    assert_int_equal(json_integer_value(json_object_get(m, "retries")), 2);
    assert_true(json_is_true(json_object_get(m, "idempotent")));
    assert_true(json_is_false(json_object_get(m, "needs_approval")));
    assert_int_equal(json_integer_value(json_object_get(m, "cache_ttl_s")), 0);
    json_t *exec = json_object_get(m, "exec");
    assert_string_equal(json_string_value(json_object_get(exec, "stdin")),
                        "json");
    json_decref(m);

    const char *json = "{\"tool\": \"fetch\", \"kind\": \"http\",\n"
                       " \"http\": {\"url\": "
                       "\"http://127.0.0.1:8080/x?q=${{ args.q }}\"}}\n";
    assert_int_equal(s_parse(json, &m, err, sizeof err), ORCS_OK);
    json_t *http = json_object_get(m, "http");
    assert_string_equal(json_string_value(json_object_get(http, "method")),
                        "GET");
    assert_string_equal(json_string_value(json_object_get(http, "url")),
                        "http://127.0.0.1:8080/x?q=${{ args.q }}");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(m, "input_schema"), "type")),
                        "object");
    assert_int_equal(json_integer_value(json_object_get(m, "timeout_ms")),
                     30000);
    json_decref(m);

    // JSON as editors write it: tabs, no spaces after ':'
    const char *tabs = "{\n\t\"tool\":\"t\",\n\t\"kind\":\"exec\",\n"
                       "\t\"exec\":{\"command\":[\"echo\"]},\n"
                       "\t\"retries\":1\n}\n";
    assert_int_equal(s_parse(tabs, &m, err, sizeof err), ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "retries")), 1);
    json_decref(m);

    const char *mcp = "tool: fs\nkind: mcp\nmcp: {url: 'http://x/mcp'}\n";
    assert_int_equal(s_parse(mcp, &m, err, sizeof err), ORCS_OK);
    json_decref(m);
    mcp = "tool: fs\nkind: mcp\nmcp: {command: [mcp-fs, --root, /tmp]}\n";
    assert_int_equal(s_parse(mcp, &m, err, sizeof err), ORCS_OK);
    json_decref(m);
    // null counts as absent
    assert_int_equal(s_parse("tool: t\nkind: exec\ndescription:\nexec: "
                             "{command: [x]}\n",
                             &m, err, sizeof err),
                     ORCS_OK);
    assert_null(json_object_get(m, "description"));
    json_decref(m);
}

static void
test_tools_manifest_parse_names_file_and_line(void **state)
{
    (void) state;
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\ntimeout: 5\n",
                 "m.tool.yaml:4: timeout: unknown key");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "timeout_ms: soon\n",
                 "m.tool.yaml:4: timeout_ms: must be an integer from 1 to "
                 "86400000 (got 'soon')");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\nretries: 101\n",
                 "m.tool.yaml:4: retries: must be an integer from 0 to 100 "
                 "(got 101)");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "cache_ttl_s: -1\n",
                 "m.tool.yaml:4: cache_ttl_s: must be an integer from 0 to "
                 "31536000 (got -1)");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "idempotent: yes\n",
                 "m.tool.yaml:4: idempotent: must be true or false (got "
                 "'yes')");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "needs_approval: 1\n",
                 "m.tool.yaml:4: needs_approval: must be true or false (got "
                 "1)");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "description: [a]\n",
                 "m.tool.yaml:4: description: must be a string (got an "
                 "array)");
    s_assert_bad("kind: exec\nexec: {command: [x]}\n",
                 "m.tool.yaml:1: missing required key 'tool'");
    s_assert_bad("tool: 'a b'\nkind: exec\nexec: {command: [x]}\n",
                 "m.tool.yaml:1: tool: must be 1 to 64 of A-Z a-z 0-9 _ . - "
                 "(got 'a b')");
    s_assert_bad("tool: t\nexec: {command: [x]}\n",
                 "m.tool.yaml:1: missing required key 'kind' (one of "
                 "builtin, exec, http, mcp, plugin)");
    s_assert_bad("tool: t\nkind: shell\n",
                 "m.tool.yaml:2: kind: must be one of builtin, exec, http, "
                 "mcp, plugin (got 'shell')");
    s_assert_bad("- a\n- b\n",
                 "m.tool.yaml:1: a manifest must be a mapping (got an array)");
}

static void
test_tools_manifest_parse_checks_kind_sections(void **state)
{
    (void) state;
    s_assert_bad("tool: t\nkind: exec\n",
                 "m.tool.yaml:1: kind exec needs the key 'exec'");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: []}\n",
                 "m.tool.yaml:3: exec.command: must be a non-empty list of "
                 "strings (got an array)");
    s_assert_bad("tool: t\nkind: exec\nexec:\n  command: [echo, 1]\n",
                 "m.tool.yaml:4: exec.command[1]: must be a string (got 1)");
    s_assert_bad("tool: t\nkind: exec\nexec:\n  command: [x]\n  shell: y\n",
                 "m.tool.yaml:5: exec.shell: unknown key");
    s_assert_bad("tool: t\nkind: exec\nexec:\n  command: [x]\n  stdin: raw\n",
                 "m.tool.yaml:5: exec.stdin: must be one of json, none (got "
                 "'raw')");
    s_assert_bad("tool: t\nkind: exec\nexec:\n  command: [x]\n"
                 "  env: {A: 1}\n",
                 "m.tool.yaml:5: exec.env.A: must be a string (got 1)");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "http: {url: u}\n",
                 "m.tool.yaml:4: http: not allowed with kind exec");
    s_assert_bad("tool: t\nkind: http\nhttp:\n  method: GET\n",
                 "m.tool.yaml:4: http: missing required key 'url'");
    s_assert_bad("tool: t\nkind: http\nhttp:\n  url: u\n  method: FETCH\n",
                 "m.tool.yaml:5: http.method: must be one of GET, POST, PUT, "
                 "PATCH, DELETE, HEAD (got 'FETCH')");
    s_assert_bad("tool: t\nkind: mcp\nmcp:\n  url: u\n  command: [x]\n",
                 "m.tool.yaml:4: mcp: needs exactly one of 'command' or "
                 "'url'");
    s_assert_bad("tool: t\nkind: plugin\nplugin: ''\n",
                 "m.tool.yaml:3: plugin: must be a non-empty string (got '')");
    s_assert_bad("tool: t\nkind: http\nhttp: GET\n",
                 "m.tool.yaml:3: http: must be a mapping (got 'GET')");
    s_assert_bad("tool: t\nkind: builtin\n",
                 "m.tool.yaml:1: tool: 't' is not a built-in (memory.get, "
                 "memory.put, memory.list, http.request, exec)");
    s_assert_bad("tool: exec\nkind: builtin\ninput_schema: {}\n",
                 "m.tool.yaml:3: input_schema: a built-in's input schema "
                 "cannot be changed");
}

static void
test_tools_manifest_parse_checks_schemas(void **state)
{
    (void) state;
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "input_schema:\n"
                 "  type: object\n"
                 "  properties:\n"
                 "    a: {type: strin}\n",
                 "m.tool.yaml:7: input_schema.properties.a.type: unknown "
                 "type 'strin' (expected object, array, string, integer, "
                 "number, boolean or null)");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "output_schema:\n"
                 "  anyOf:\n"
                 "    - {type: string}\n"
                 "    - {tpye: string}\n",
                 "m.tool.yaml:7: output_schema.anyOf[1]: unknown keyword "
                 "'tpye'");
    s_assert_bad("tool: t\nkind: exec\nexec: {command: [x]}\n"
                 "input_schema: {type: array}\n",
                 "m.tool.yaml:4: input_schema.type: a tool's arguments are "
                 "an object: the schema must have type object");
    json_t *m = NULL;
    char err[256];
    assert_int_equal(s_parse("tool: t\nkind: exec\nexec: {command: [x]}\n"
                             "output_schema: {type: array}\n",
                             &m, err, sizeof err),
                     ORCS_OK);
    json_decref(m);
}

static void
test_tools_manifest_parse_refuses_bad_text(void **state)
{
    (void) state;
    json_t *m = NULL;
    char err[256];
    size_t size = ORCS_TOOL_MANIFEST_MAX + 1;
    char *big = malloc(size);
    memset(big, '#', size);
    assert_int_equal(orcs_tool_manifest_parse(big, size, "big.tool.yaml", &m,
                                              err, sizeof err),
                     ORCS_ETOOBIG);
    assert_null(m);
    assert_string_equal(err, "big.tool.yaml:1: manifest is over 1048576 bytes");
    free(big);
    assert_int_equal(s_parse("tool: [\n", &m, err, sizeof err), ORCS_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err, "m.tool.yaml:"));
    assert_int_equal(s_parse("", &m, err, sizeof err), ORCS_EINVAL);
    assert_string_equal(err, "m.tool.yaml:1: a manifest must be a mapping (got "
                             "null)");
    assert_int_equal(s_parse("tool: t\n", &m, NULL, 0), ORCS_EINVAL);
}

// ---------------------------------------------------------------------------
// Loading directories

static void
test_tools_load_skips_bad_manifests(void **state)
{
    s_env_t *env = *state;
    s_write(env, "good.tool.yaml",
            "tool: add\n"
            "description: Add two integers.\n"
            "kind: exec\n"
            "exec: {command: [jq, '.a + .b']}\n");
    s_write(env, "good.tool.json",
            "{\n"
            "  \"tool\": \"json.tool\",\n"
            "  \"kind\": \"http\",\n"
            "  \"http\": {\"url\": \"http://127.0.0.1:8080/x?q=${{ args.q "
            "}}\"}\n"
            "}\n");
    s_write(env, "other.tool.yml", "tool: yml\nkind: mcp\nmcp: {url: u}\n");
    s_write(env, "bad_key.tool.yaml",
            "tool: bad_key\nkind: exec\nexec: {command: [echo]}\ntimeout: 5\n");
    s_write(env, "bad_json.tool.json",
            "{\"tool\": \"j\", \"kind\": \"exec\",\n"
            " \"exec\": {\"command\": [\"echo\"]},\n"
            " \"retries\": \"x\"}\n");
    s_write(env, "bad_schema.tool.yaml",
            "tool: bad_schema\nkind: exec\nexec:\n  command: [echo]\n"
            "input_schema:\n  type: object\n  properties:\n"
            "    a: {type: strin}\n");
    s_write(env, "missing.tool.yaml", "kind: exec\nexec: {command: [echo]}\n");
    s_write(env, "dup1.tool.yaml",
            "tool: same\nkind: exec\nexec: {command: [echo]}\n");
    s_write(env, "dup2.tool.yaml",
            "tool: same\nkind: exec\nexec: {command: [echo]}\n");
    s_write(env, "wire1.tool.yaml",
            "tool: w.x\nkind: exec\nexec: {command: [echo]}\n");
    s_write(env, "wire2.tool.yaml",
            "tool: w_x\nkind: exec\nexec: {command: [echo]}\n");
    s_write(env, "builtin.tool.yaml",
            "tool: memory_get\nkind: exec\nexec: {command: [echo]}\n");
    s_write(env, "gone.tool.yaml",
            "tool: gone\nkind: plugin\nplugin: missing.so\n");
    s_write(env, "README.md", "not a manifest: {\n");
    s_write(env, "notes.yaml", "tool: [\n");
    json_t *errors = s_load(env);
    assert_true(s_has_error(env, errors, "bad_key.tool.yaml", 4,
                            "timeout: unknown key", false));
    assert_true(s_has_error(env, errors, "bad_json.tool.json", 3,
                            "retries: must be an integer from 0 to 100 (got "
                            "'x')",
                            false));
    assert_true(s_has_error(env, errors, "bad_schema.tool.yaml", 8,
                            "input_schema.properties.a.type: unknown type "
                            "'strin'",
                            true));
    assert_true(s_has_error(env, errors, "missing.tool.yaml", 1,
                            "missing required key 'tool'", false));
    char want[256];
    snprintf(want, sizeof want, "tool: 'same' is already defined by %s/%s",
             env->dir, "dup1.tool.yaml");
    assert_true(s_has_error(env, errors, "dup2.tool.yaml", 1, want, false));
    snprintf(want, sizeof want,
             "tool: wire name 'w_x' of 'w_x' collides with 'w.x' (%s/%s)",
             env->dir, "wire1.tool.yaml");
    assert_true(s_has_error(env, errors, "wire2.tool.yaml", 1, want, false));
    assert_true(s_has_error(env, errors, "builtin.tool.yaml", 1,
                            "tool: wire name 'memory_get' of 'memory_get' "
                            "collides with 'memory.get' (a built-in)",
                            false));
    snprintf(want, sizeof want,
             "plugin: cannot load '%s/missing.so': ", env->dir);
    assert_true(s_has_error(env, errors, "gone.tool.yaml", 3, want, true));
    assert_int_equal(json_array_size(errors), 8);
    json_decref(errors);

    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    assert_int_equal(orcs_toolset_generation(set), 2);
    assert_int_equal(orcs_toolset_count(set),
                     5 + 5); // add json.tool yml same w.x
    const orcs_tool_t *add = orcs_toolset_find(set, "add");
    assert_non_null(add);
    assert_string_equal(add->kind, "exec");
    assert_string_equal(add->description, "Add two integers.");
    assert_non_null(strstr(add->file, "good.tool.yaml"));
    assert_null(add->fn);
    assert_null(add->output_schema);
    assert_string_equal(
        json_string_value(json_object_get(add->input_schema, "type")),
        "object");
    assert_non_null(orcs_toolset_find(set, "json_tool"));
    assert_string_equal(orcs_toolset_find(set, "yml")->kind, "mcp");
    assert_string_equal(orcs_toolset_find(set, "same")->file + strlen(env->dir),
                        "/dup1.tool.yaml");
    orcs_toolset_release(&set);
}

static void
test_tools_load_reports_bad_directories(void **state)
{
    s_env_t *env = *state;
    json_t *errors = NULL;
    json_t *bad = json_pack("[s, i]", "a", 1);
    assert_int_equal(orcs_tools_load(env->reg, bad, NULL, &errors),
                     ORCS_EINVAL);
    assert_null(errors);
    json_decref(bad);
    bad = json_string("dir");
    assert_int_equal(orcs_tools_load(env->reg, bad, NULL, &errors),
                     ORCS_EINVAL);
    json_decref(bad);
    s_write(env, "ok.tool.yaml",
            "tool: ok\nkind: exec\nexec: {command: [x]}\n");
    // relative to base_dir, plus one that does not exist
    json_t *dirs = json_pack("[s, s]", ".", "nope");
    assert_int_equal(orcs_tools_load(env->reg, dirs, env->dir, &errors),
                     ORCS_OK);
    assert_int_equal(json_array_size(errors), 1);
    char want[256];
    snprintf(want, sizeof want,
             "%s/nope: cannot read directory: No such file or directory",
             env->dir);
    assert_string_equal(json_string_value(json_array_get(errors, 0)), want);
    json_decref(errors);
    json_decref(dirs);
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    assert_non_null(orcs_toolset_find(set, "ok"));
    orcs_toolset_release(&set);
    // errors_p may be NULL
    assert_int_equal(orcs_tools_reload(env->reg, NULL), ORCS_OK);
}

static void
test_tools_reload_keeps_old_sets_valid(void **state)
{
    s_env_t *env = *state;
    s_write(env, "t.tool.yaml",
            "tool: t\ndescription: one\nkind: exec\nexec: {command: [x]}\n");
    json_decref(s_load(env));
    orcs_toolset_t *old = orcs_tools_acquire(env->reg);
    const orcs_tool_t *t1 = orcs_toolset_find(old, "t");
    assert_string_equal(t1->description, "one");

    s_write(env, "t.tool.yaml",
            "tool: t\ndescription: two\nkind: exec\nexec: {command: [y]}\n");
    s_write(env, "u.tool.yaml", "tool: u\nkind: exec\nexec: {command: [x]}\n");
    json_t *errors = NULL;
    assert_int_equal(orcs_tools_reload(env->reg, &errors), ORCS_OK);
    assert_int_equal(json_array_size(errors), 0);
    json_decref(errors);

    orcs_toolset_t *now = orcs_tools_acquire(env->reg);
    assert_true(now != old);
    assert_string_equal(orcs_toolset_find(now, "t")->description, "two");
    assert_non_null(orcs_toolset_find(now, "u"));
    // the old set is untouched
    assert_string_equal(t1->description, "one");
    assert_null(orcs_toolset_find(old, "u"));
    assert_int_equal(orcs_toolset_count(old), 6);
    assert_int_equal(orcs_toolset_generation(old), 2);
    assert_int_equal(orcs_toolset_generation(now), 3);
    orcs_toolset_release(&now);
    // old stays valid after the registry is gone too
    orcs_tools_destroy(&env->reg);
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_object_get(t1->manifest, "exec"), "command"),
            0)),
        "x");
    orcs_toolset_release(&old);
}

typedef struct {
    orcs_tools_t *reg; // shared registry
    int rounds;        // acquisitions to make
    int bad;           // sets that looked wrong
} s_reader_t;

static void *
s_reader(void *arg)
{
    s_reader_t *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        orcs_toolset_t *set = orcs_tools_acquire(r->reg);
        const orcs_tool_t *t = orcs_toolset_find(set, "t");
        json_t *ranked = NULL;
        orcs_toolset_nearest(set, "memory key", 3, &ranked);
        if (!t || !orcs_toolset_find(set, "memory.get")
            || json_array_size(ranked) == 0
            || strcmp(json_string_value(json_object_get(t->manifest, "tool")),
                      "t")
                   != 0)
            r->bad++;
        json_decref(ranked);
        orcs_toolset_release(&set);
    }
    return NULL;
}

static void
test_tools_reload_races_with_readers(void **state)
{
    s_env_t *env = *state;
    s_write(env, "t.tool.yaml", "tool: t\nkind: exec\nexec: {command: [x]}\n");
    json_decref(s_load(env));
    s_reader_t readers[2] = {{env->reg, 2000, 0}, {env->reg, 2000, 0}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            pthread_create(&threads[i], NULL, s_reader, &readers[i]), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(orcs_tools_reload(env->reg, NULL), ORCS_OK);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(readers[i].bad, 0);
    }
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    assert_int_equal(orcs_toolset_generation(set), 52);
    orcs_toolset_release(&set);
}

static orcs_status
s_double(const orcs_tool_ctx_t *ctx, json_t **result_p, char *err, size_t size)
{
    (void) err;
    (void) size;
    json_int_t *calls = ctx->arg;
    (*calls)++;
    *result_p =
        json_integer(2 * json_integer_value(json_object_get(ctx->args, "n")));
    return ORCS_OK;
}

static void
test_tools_generation_counts_swaps(void **state)
{
    s_env_t *env = *state;
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    assert_int_equal(orcs_toolset_generation(set), 1);
    orcs_toolset_release(&set);
    json_decref(s_load(env));
    assert_int_equal(orcs_tools_reload(env->reg, NULL), ORCS_OK);
    json_int_t calls = 0;
    json_t *m = json_pack("{s:s}", "tool", "c.tool");
    char err[256];
    assert_int_equal(
        orcs_tools_register(env->reg, m, s_double, &calls, err, sizeof err),
        ORCS_OK);
    json_decref(m);
    set = orcs_tools_acquire(env->reg);
    assert_int_equal(orcs_toolset_generation(set), 4);
    orcs_toolset_release(&set);
}

static void
test_tools_register_c_tool_survives_reload(void **state)
{
    s_env_t *env = *state;
    json_int_t calls = 0;
    char err[256];
    json_t *m = json_pack(
        "{s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}, s:b}", "tool", "math.double",
        "description", "Double a number.", "input_schema", "type", "object",
        "properties", "n", "type", "integer", "required", "n", "idempotent", 1);
    assert_int_equal(
        orcs_tools_register(env->reg, m, s_double, &calls, err, sizeof err),
        ORCS_OK);
    // the caller's document is not taken or changed
    assert_null(json_object_get(m, "kind"));
    json_decref(m);

    s_write(env, "clash.tool.yaml",
            "tool: math_double\nkind: exec\nexec: {command: [x]}\n");
    json_t *errors = s_load(env);
    assert_true(s_has_error(env, errors, "clash.tool.yaml", 1,
                            "tool: wire name 'math_double' of 'math_double' "
                            "collides with 'math.double' (a C tool)",
                            false));
    json_decref(errors);
    assert_int_equal(orcs_tools_reload(env->reg, NULL), ORCS_OK);

    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    const orcs_tool_t *tool = orcs_toolset_find(set, "math_double");
    assert_non_null(tool);
    assert_string_equal(tool->kind, "c");
    assert_true(tool->idempotent);
    assert_int_equal(tool->timeout_ms, 30000);
    json_t *result = NULL;
    assert_int_equal(s_call(set, "math.double", "{\"n\": 21}", "a", NULL,
                            &result, err, sizeof err),
                     ORCS_OK);
    assert_int_equal(json_integer_value(result), 42);
    assert_int_equal(calls, 1);
    json_decref(result);
    orcs_toolset_release(&set);

    // taken names
    m = json_pack("{s:s}", "tool", "memory.get");
    assert_int_equal(
        orcs_tools_register(env->reg, m, s_double, NULL, err, sizeof err),
        ORCS_EEXIST);
    assert_string_equal(err, "tool: 'memory.get' collides with 'memory.get' "
                             "(builtin)");
    json_decref(m);
    m = json_pack("{s:s}", "tool", "math_double");
    assert_int_equal(
        orcs_tools_register(env->reg, m, s_double, NULL, err, sizeof err),
        ORCS_EEXIST);
    json_decref(m);
    // bad manifests
    m = json_pack("{s:s, s:i}", "tool", "x", "timeout_ms", 0);
    assert_int_equal(
        orcs_tools_register(env->reg, m, s_double, NULL, err, sizeof err),
        ORCS_EINVAL);
    assert_string_equal(err, "timeout_ms: must be an integer from 1 to "
                             "86400000 (got 0)");
    json_decref(m);
    m = json_pack("{s:s, s:s, s:{}}", "tool", "x", "kind", "c", "exec");
    assert_int_equal(
        orcs_tools_register(env->reg, m, s_double, NULL, err, sizeof err),
        ORCS_EINVAL);
    assert_string_equal(err, "exec: not allowed with kind c");
    json_decref(m);
    m = json_pack("{s:s}", "tool", "x");
    assert_int_equal(
        orcs_tools_register(env->reg, m, NULL, NULL, err, sizeof err),
        ORCS_EINVAL);
    json_decref(m);
}

static void
test_tools_builtin_override_changes_only_what_it_names(void **state)
{
    s_env_t *env = *state;
    s_write(env, "mg.tool.yaml",
            "tool: memory.get\nkind: builtin\ndescription: Read a note.\n"
            "timeout_ms: 500\n");
    s_write(env, "mg2.tool.yaml",
            "tool: memory.get\nkind: builtin\nneeds_approval: true\n");
    json_t *errors = s_load(env);
    char want[256];
    snprintf(want, sizeof want,
             "tool: built-in 'memory.get' is already changed by %s/%s",
             env->dir, "mg.tool.yaml");
    assert_true(s_has_error(env, errors, "mg2.tool.yaml", 1, want, false));
    assert_int_equal(json_array_size(errors), 1);
    json_decref(errors);
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    const orcs_tool_t *tool = orcs_toolset_find(set, "memory.get");
    assert_string_equal(tool->description, "Read a note.");
    assert_string_equal(tool->kind, "builtin");
    assert_int_equal(tool->timeout_ms, 500);
    assert_true(tool->idempotent); // kept
    assert_false(tool->needs_approval);
    assert_non_null(tool->fn);
    assert_non_null(json_object_get(
        json_object_get(tool->input_schema, "properties"), "scope"));
    assert_non_null(strstr(tool->file, "mg.tool.yaml"));
    orcs_toolset_release(&set);
}

// ---------------------------------------------------------------------------
// Plug-ins

static void
test_tools_plugin_is_loaded_and_called(void **state)
{
    s_env_t *env = *state;
    char text[1024], link[256];
    snprintf(link, sizeof link, "%s/lib", env->dir);
    assert_int_equal(mkdir(link, 0700), 0);
    snprintf(link, sizeof link, "%s/lib/echo.so", env->dir);
    assert_int_equal(symlink(ORCS_TEST_TOOL_PLUGIN, link), 0);
    // by name, through a path relative to the manifest
    s_write(env, "echo.tool.yaml",
            "tool: plugin.echo\nkind: plugin\nplugin: lib/echo.so\n"
            "description: Echo the arguments.\n");
    snprintf(text, sizeof text,
             "tool: plugin.bad_abi\nkind: plugin\nplugin: %s\n",
             ORCS_TEST_TOOL_PLUGIN);
    s_write(env, "abi.tool.yaml", text);
    s_write(env, "none.tool.yaml",
            "tool: plugin.none\nkind: plugin\n\nplugin: lib/echo.so\n");
    json_t *errors = s_load(env);
    char want[512];
    snprintf(want, sizeof want,
             "plugin: '%s' tool 'plugin.bad_abi' has ABI 2, expected 1",
             ORCS_TEST_TOOL_PLUGIN);
    assert_true(s_has_error(env, errors, "abi.tool.yaml", 3, want, false));
    snprintf(want, sizeof want,
             "plugin: '%s/lib/echo.so' has 2 tools and none is named "
             "'plugin.none'",
             env->dir);
    assert_true(s_has_error(env, errors, "none.tool.yaml", 4, want, false));
    assert_int_equal(json_array_size(errors), 2);
    json_decref(errors);

    orcs_toolset_t *old = orcs_tools_acquire(env->reg);
    // a reload opens the plug-in again; the old set still calls it
    assert_int_equal(orcs_tools_reload(env->reg, NULL), ORCS_OK);
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    orcs_toolset_t *sets[] = {old, set};
    for (size_t i = 0; i < 2; i++) {
        const orcs_tool_t *tool = orcs_toolset_find(sets[i], "plugin.echo");
        assert_non_null(tool);
        assert_string_equal(tool->kind, "plugin");
        json_t *result = NULL;
        char err[256];
        assert_int_equal(s_call(sets[i], "plugin_echo", "{\"x\": 1}", "a", NULL,
                                &result, err, sizeof err),
                         ORCS_OK);
        assert_int_equal(json_integer_value(json_object_get(result, "x")), 1);
        assert_string_equal(json_string_value(json_object_get(result, "tool")),
                            "plugin.echo");
        json_decref(result);
    }
    orcs_toolset_release(&old);
    orcs_toolset_release(&set);
}

// ---------------------------------------------------------------------------
// Search and the model's view

static void
test_tools_nearest_ranks_the_relevant_tool_first(void **state)
{
    s_env_t *env = *state;
    static const char *const verbs[] = {
        "convert", "send",  "list", "delete",   "resize",
        "encode",  "parse", "sort", "compress", "translate"};
    static const char *const nouns[] = {"currency", "email", "invoice", "image",
                                        "file"};
    char name[64], text[512];
    for (size_t i = 0; i < 50; i++) {
        const char *verb = verbs[i % 10], *noun = nouns[i / 10];
        snprintf(name, sizeof name, "t%02zu.tool.yaml", i);
        snprintf(text, sizeof text,
                 "tool: %s.%s%zu\n"
                 "description: %s the %s given, for the city office\n"
                 "kind: exec\nexec: {command: [x]}\n"
                 "input_schema:\n  type: object\n"
                 "  properties: {%sId: {type: string}}\n",
                 noun, verb, i, verb, noun, noun);
        s_write(env, name, text);
    }
    s_write(env, "weather.tool.yaml",
            "tool: weather.forecast\n"
            "description: Get the weather forecast for a city.\n"
            "kind: http\nhttp: {url: 'http://127.0.0.1/w'}\n"
            "input_schema:\n  type: object\n"
            "  properties:\n    city: {type: string}\n"
            "    options: {type: object, properties: {zipCode: {}}}\n");
    json_t *errors = s_load(env);
    assert_int_equal(json_array_size(errors), 0);
    json_decref(errors);
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    assert_int_equal(orcs_toolset_count(set), 56);

    json_t *ranked = NULL;
    assert_int_equal(orcs_toolset_nearest(
                         set, "What's the weather like in Paris?", 5, &ranked),
                     ORCS_OK);
    assert_true(json_array_size(ranked) >= 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(ranked, 0), "name")),
        "weather.forecast");
    json_decref(ranked);

    // camelCase parameter names, one level down
    assert_int_equal(orcs_toolset_nearest(set, "ZIP", 0, &ranked), ORCS_OK);
    assert_int_equal(json_array_size(ranked), 1);
    json_decref(ranked);

    // names split at dots and case: best first, at most k, scores > 0
    assert_int_equal(orcs_toolset_nearest(set, "send email", 3, &ranked),
                     ORCS_OK);
    assert_int_equal(json_array_size(ranked), 3);
    const char *first =
        json_string_value(json_object_get(json_array_get(ranked, 0), "name"));
    assert_true(strncmp(first, "email.send", 10) == 0);
    double last = 1e9;
    size_t i;
    json_t *item;
    json_array_foreach(ranked, i, item)
    {
        double score = json_real_value(json_object_get(item, "score"));
        assert_true(score > 0 && score <= last);
        last = score;
    }
    json_decref(ranked);

    // k 0 = 10
    assert_int_equal(orcs_toolset_nearest(set, "city", 0, &ranked), ORCS_OK);
    assert_int_equal(json_array_size(ranked), 10);
    json_decref(ranked);

    assert_int_equal(orcs_toolset_nearest(set, "zzz --", 0, &ranked), ORCS_OK);
    assert_int_equal(json_array_size(ranked), 0);
    json_decref(ranked);
    assert_int_equal(orcs_toolset_nearest(set, NULL, 0, &ranked), ORCS_EINVAL);
    assert_null(ranked);
    orcs_toolset_release(&set);
}

static void
test_tools_openai_and_describe(void **state)
{
    s_env_t *env = *state;
    s_write(env, "a.tool.yaml",
            "tool: a.b\ndescription: Do a.\nkind: exec\nexec: {command: [x]}\n"
            "retries: 3\nidempotent: true\nneeds_approval: true\n"
            "cache_ttl_s: 60\n");
    json_decref(s_load(env));
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    const orcs_tool_t *tool = orcs_toolset_find(set, "a.b");
    json_t *openai = orcs_tool_openai(tool);
    json_t *want = json_pack("{s:s, s:{s:s, s:s, s:{s:s}}}", "type", "function",
                             "function", "name", "a_b", "description", "Do a.",
                             "parameters", "type", "object");
    assert_true(json_equal(openai, want));
    json_decref(want);
    json_decref(openai);

    json_t *list = orcs_toolset_describe(set);
    assert_int_equal(json_array_size(list), 6);
    json_t *a = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(a, "name")), "a.b");
    assert_string_equal(json_string_value(json_object_get(a, "wire_name")),
                        "a_b");
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "exec");
    assert_non_null(
        strstr(json_string_value(json_object_get(a, "file")), "a.tool.yaml"));
    assert_int_equal(json_integer_value(json_object_get(a, "retries")), 3);
    assert_int_equal(json_integer_value(json_object_get(a, "cache_ttl_s")), 60);
    assert_true(json_is_true(json_object_get(a, "idempotent")));
    assert_true(json_is_true(json_object_get(a, "needs_approval")));
    json_t *exec = json_array_get(list, 1);
    assert_true(json_is_null(json_object_get(exec, "file")));
    json_decref(list);
    orcs_toolset_release(&set);
}

// ---------------------------------------------------------------------------
// Memory built-ins

static void
test_tools_memory_builtins_use_the_store(void **state)
{
    s_env_t *env = *state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/orcs-toolmem-XXXXXX");
    assert_non_null(mkdtemp(dir));
    orcs_store_t *store = orcs_store_new();
    assert_int_equal(orcs_store_open(store, dir, NULL), ORCS_OK);
    orcs_memory_t *memory = orcs_memory_new(store);
    orcs_toolset_t *set = orcs_tools_acquire(env->reg);
    json_t *result = NULL;
    char err[256];

    assert_int_equal(s_call(set, "memory.put",
                            "{\"scope\": \"agent:a1\", \"key\": \"k\", "
                            "\"value\": {\"n\": 1}}",
                            "a1", memory, &result, err, sizeof err),
                     ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(result, "version")), 1);
    json_decref(result);
    assert_int_equal(s_call(set, "memory_put",
                            "{\"scope\": \"agent:a1\", \"key\": \"k\", "
                            "\"value\": 2, \"ttl_s\": 3600}",
                            "a1", memory, &result, err, sizeof err),
                     ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(result, "version")), 2);
    json_decref(result);

    assert_int_equal(s_call(set, "memory.get",
                            "{\"scope\": \"agent:a1\", \"key\": \"k\"}", "a1",
                            memory, &result, err, sizeof err),
                     ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(result, "value")), 2);
    assert_int_equal(json_integer_value(json_object_get(result, "version")), 2);
    json_decref(result);

    assert_int_equal(s_call(set, "memory.get",
                            "{\"scope\": \"agent:a1\", \"key\": \"nope\"}",
                            "a1", memory, &result, err, sizeof err),
                     ORCS_ENOTFOUND);
    assert_null(result);
    assert_string_equal(err, "no key 'nope' in scope 'agent:a1'");

    assert_int_equal(s_call(set, "memory.list",
                            "{\"scope\": \"agent:a1\", \"prefix\": \"k\", "
                            "\"limit\": 10}",
                            "a1", memory, &result, err, sizeof err),
                     ORCS_OK);
    assert_true(json_is_array(result));
    assert_int_equal(json_array_size(result), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(result, 0), "key")),
        "k");
    json_decref(result);

    // the access rules apply to the calling agent
    assert_int_equal(s_call(set, "memory.put",
                            "{\"scope\": \"global\", \"key\": \"k\", "
                            "\"value\": 1}",
                            "a1", memory, &result, err, sizeof err),
                     ORCS_EDENIED);
    assert_string_equal(err,
                        "access denied: 'a1' may not write scope 'global'");
    assert_int_equal(s_call(set, "memory.get",
                            "{\"scope\": \"agent:a2\", \"key\": \"k\"}", "a1",
                            memory, &result, err, sizeof err),
                     ORCS_EDENIED);
    assert_int_equal(s_call(set, "memory.list", "{\"scope\": \"agent:a2\"}",
                            "a1", memory, &result, err, sizeof err),
                     ORCS_EDENIED);
    assert_null(result);

    // no memory on the node
    assert_int_equal(s_call(set, "memory.get",
                            "{\"scope\": \"agent:a1\", \"key\": \"k\"}", "a1",
                            NULL, &result, err, sizeof err),
                     ORCS_EUNSUPPORTED);
    assert_string_equal(err, "memory.get: no memory is configured on this "
                             "node");

    // the input schemas are strict
    const orcs_tool_t *get = orcs_toolset_find(set, "memory.get");
    json_t *args =
        json_pack("{s:s, s:s, s:i}", "scope", "global", "key", "k", "extra", 1);
    assert_int_equal(
        orcs_schema_validate(get->input_schema, args, err, sizeof err),
        ORCS_EINVAL);
    assert_string_equal(err, "$: additional property 'extra' is not allowed");
    json_decref(args);
    args = json_pack("{s:s, s:s}", "scope", "planet:x", "key", "k");
    assert_int_equal(
        orcs_schema_validate(get->input_schema, args, err, sizeof err),
        ORCS_EINVAL);
    json_decref(args);

    orcs_toolset_release(&set);
    orcs_memory_destroy(&memory);
    orcs_store_destroy(&store);
    nftw(dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tools_new_holds_the_builtins,
                                        s_setup, s_teardown),
        cmocka_unit_test(test_tools_destroy_nulls_reference),
        cmocka_unit_test(test_tools_wire_name_replaces_dots),
        cmocka_unit_test(test_tools_manifest_parse_fills_defaults),
        cmocka_unit_test(test_tools_manifest_parse_names_file_and_line),
        cmocka_unit_test(test_tools_manifest_parse_checks_kind_sections),
        cmocka_unit_test(test_tools_manifest_parse_checks_schemas),
        cmocka_unit_test(test_tools_manifest_parse_refuses_bad_text),
        cmocka_unit_test_setup_teardown(test_tools_load_skips_bad_manifests,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tools_load_reports_bad_directories,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tools_reload_keeps_old_sets_valid,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tools_reload_races_with_readers,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tools_generation_counts_swaps,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tools_register_c_tool_survives_reload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tools_builtin_override_changes_only_what_it_names, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_tools_plugin_is_loaded_and_called,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tools_nearest_ranks_the_relevant_tool_first, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_tools_openai_and_describe, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tools_memory_builtins_use_the_store, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("orcs_tools", tests, NULL, NULL);
}
