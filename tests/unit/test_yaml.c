/*  test_yaml.c — YAML into jansson with lines: typing of scalars, lines of
    values and keys, and every kind of refused input.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "orcs/yaml.h"

// Parses text that must be valid; the caller destroys the result.
static orcs_yaml_t *
s_parse_ok(const char *text)
{
    orcs_yaml_t *yaml = NULL;
    char err[256] = "unset";
    orcs_status rc =
        orcs_yaml_parse(text, strlen(text), "t.yaml", &yaml, err, sizeof err);
    if (rc != ORCS_OK)
        fail_msg("parse failed: %s: %s", orcs_status_name(rc), err);
    assert_string_equal(err, "");
    assert_non_null(yaml);
    return yaml;
}

// Parses text that must be refused with rc and exactly message err.
static void
s_parse_fails(const char *text, orcs_status rc, const char *expected)
{
    orcs_yaml_t *yaml = NULL;
    char err[256] = "";
    orcs_status got =
        orcs_yaml_parse(text, strlen(text), "t.yaml", &yaml, err, sizeof err);
    if (got != rc)
        fail_msg("expected %s, got %s (%s)", orcs_status_name(rc),
                 orcs_status_name(got), err);
    assert_null(yaml);
    assert_string_equal(err, expected);
}

static void
test_yaml_destroy_nulls_reference(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = s_parse_ok("a: 1");
    orcs_yaml_destroy(&yaml);
    assert_null(yaml);
    orcs_yaml_destroy(&yaml); // idempotent
}

static void
test_yaml_parse_types_plain_scalars(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = s_parse_ok("n1: null\n"
                                   "n2: ~\n"
                                   "n3:\n"
                                   "n4: NULL\n"
                                   "b1: true\n"
                                   "b2: False\n"
                                   "b3: TRUE\n"
                                   "i1: 42\n"
                                   "i2: -17\n"
                                   "i3: +3\n"
                                   "i4: 0x1F\n"
                                   "i5: 0o17\n"
                                   "i6: 9223372036854775807\n"
                                   "i7: -9223372036854775808\n"
                                   "f1: 2.5\n"
                                   "f2: -.5\n"
                                   "f3: 1e3\n"
                                   "f4: 6.02E+23\n"
                                   "s1: yes\n"
                                   "s2: 0x\n"
                                   "s3: 1.2.3\n"
                                   "s4: hello world\n"
                                   "s5: 0b101\n");
    json_t *doc = orcs_yaml_doc(yaml);
    assert_true(json_is_object(doc));
    const char *nulls[] = {"n1", "n2", "n3", "n4"};
    for (size_t i = 0; i < 4; i++)
        assert_true(json_is_null(json_object_get(doc, nulls[i])));
    assert_true(json_is_true(json_object_get(doc, "b1")));
    assert_true(json_is_false(json_object_get(doc, "b2")));
    assert_true(json_is_true(json_object_get(doc, "b3")));
    const char *ints[] = {"i1", "i2", "i3", "i4", "i5", "i6", "i7"};
    const json_int_t want[] = {42, -17, 3, 31, 15, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < 7; i++) {
        json_t *v = json_object_get(doc, ints[i]);
        assert_true(json_is_integer(v));
        assert_true(json_integer_value(v) == want[i]);
    }
    const char *reals[] = {"f1", "f2", "f3", "f4"};
    const double wantf[] = {2.5, -0.5, 1000.0, 6.02e23};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(doc, reals[i]);
        assert_true(json_is_real(v));
        assert_true(json_real_value(v) == wantf[i]);
    }
    assert_string_equal(json_string_value(json_object_get(doc, "s1")), "yes");
    assert_string_equal(json_string_value(json_object_get(doc, "s2")), "0x");
    assert_string_equal(json_string_value(json_object_get(doc, "s3")), "1.2.3");
    assert_string_equal(json_string_value(json_object_get(doc, "s4")),
                        "hello world");
    assert_string_equal(json_string_value(json_object_get(doc, "s5")), "0b101");
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_keeps_quoted_and_block_scalars_strings(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = s_parse_ok("a: '1'\n"
                                   "b: \"true\"\n"
                                   "c: !!str 12\n"
                                   "d: ! null\n"
                                   "e: |\n"
                                   "  line one\n"
                                   "  line two\n"
                                   "f: >\n"
                                   "  folded\n"
                                   "  text\n"
                                   "g: !!int 7\n"
                                   "h: !!float 2\n"
                                   "i: ''\n"
                                   "1: numeric key\n");
    json_t *doc = orcs_yaml_doc(yaml);
    assert_string_equal(json_string_value(json_object_get(doc, "a")), "1");
    assert_string_equal(json_string_value(json_object_get(doc, "b")), "true");
    assert_string_equal(json_string_value(json_object_get(doc, "c")), "12");
    assert_string_equal(json_string_value(json_object_get(doc, "d")), "null");
    assert_string_equal(json_string_value(json_object_get(doc, "e")),
                        "line one\nline two\n");
    assert_string_equal(json_string_value(json_object_get(doc, "f")),
                        "folded text\n");
    assert_int_equal(json_integer_value(json_object_get(doc, "g")), 7);
    assert_true(json_is_real(json_object_get(doc, "h")));
    assert_string_equal(json_string_value(json_object_get(doc, "i")), "");
    assert_string_equal(json_string_value(json_object_get(doc, "1")),
                        "numeric key");
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_refuses_out_of_range_numbers(void **state)
{
    (void) state;
    s_parse_fails("a: 9223372036854775808", ORCS_EPROTO,
                  "t.yaml:1: integer 9223372036854775808 does not fit in 64 "
                  "bits");
    s_parse_fails("a: -9223372036854775809", ORCS_EPROTO,
                  "t.yaml:1: integer -9223372036854775809 does not fit in "
                  "64 bits");
    s_parse_fails("a: 0x10000000000000000", ORCS_EPROTO,
                  "t.yaml:1: integer 0x10000000000000000 does not fit in 64 "
                  "bits");
    s_parse_fails("a: 1e999", ORCS_EPROTO,
                  "t.yaml:1: number 1e999 is out of range");
}

static void
test_yaml_parse_refuses_inf_and_nan(void **state)
{
    (void) state;
    s_parse_fails("a: 1\nb: .inf", ORCS_EPROTO,
                  "t.yaml:2: .inf has no JSON form (write a number or a "
                  "string)");
    s_parse_fails("- -.Inf", ORCS_EPROTO,
                  "t.yaml:1: -.Inf has no JSON form (write a number or a "
                  "string)");
    s_parse_fails("[.NaN]", ORCS_EPROTO,
                  "t.yaml:1: .NaN has no JSON form (write a number or a "
                  "string)");
    // Quoted, they are plain strings.
    orcs_yaml_t *yaml = s_parse_ok("a: '.nan'");
    assert_string_equal(
        json_string_value(json_object_get(orcs_yaml_doc(yaml), "a")), ".nan");
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_refuses_bad_tags(void **state)
{
    (void) state;
    s_parse_fails("a: !custom 1", ORCS_EPROTO,
                  "t.yaml:1: unsupported tag '!custom'");
    s_parse_fails("a: !!int nope", ORCS_EPROTO,
                  "t.yaml:1: 'nope' is not a valid !!int");
    s_parse_fails("a: !!binary aGk=", ORCS_EPROTO,
                  "t.yaml:1: unsupported tag '!!binary'");
    s_parse_fails("a: !!set {x}", ORCS_EPROTO,
                  "t.yaml:1: unsupported tag 'tag:yaml.org,2002:set'");
}

static const char s_lines_text[] = "# a comment\n"        // 1
                                   "name: top\n"          // 2
                                   "supervisor:\n"        // 3
                                   "  strategy: x\n"      // 4
                                   "  children:\n"        // 5
                                   "    - name: a\n"      // 6
                                   "      restart: y\n"   // 7
                                   "    -\n"              // 8
                                   "      name: b\n"      // 9
                                   "      config:\n"      // 10
                                   "        list:\n"      // 11
                                   "          - 1\n"      // 12
                                   "          - [2, 3]\n" // 13
                                   "empty:\n"             // 14
                                   "text: |\n"            // 15
                                   "  several\n"          // 16
                                   "  lines\n"            // 17
                                   "after: 1\n";          // 18

static void
test_yaml_line_of_values_and_keys(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = s_parse_ok(s_lines_text);
    assert_int_equal(orcs_yaml_line(yaml, ""), 2);
    assert_int_equal(orcs_yaml_line(yaml, "name"), 2);
    assert_int_equal(orcs_yaml_key_line(yaml, "name"), 2);
    // A block mapping value starts on the line after its key.
    assert_int_equal(orcs_yaml_line(yaml, "supervisor"), 4);
    assert_int_equal(orcs_yaml_key_line(yaml, "supervisor"), 3);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.strategy"), 4);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.children"), 6);
    assert_int_equal(orcs_yaml_key_line(yaml, "supervisor.children"), 5);
    assert_int_equal(orcs_yaml_line(yaml, "empty"), 14);
    assert_int_equal(orcs_yaml_line(yaml, "text"), 15);
    assert_int_equal(orcs_yaml_line(yaml, "after"), 18);
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_line_of_nested_paths(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = s_parse_ok(s_lines_text);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.children[0]"), 6);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.children[0].restart"), 7);
    assert_int_equal(orcs_yaml_key_line(yaml, "supervisor.children[0].restart"),
                     7);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.children[1].name"), 9);
    assert_int_equal(
        orcs_yaml_line(yaml, "supervisor.children[1].config.list[0]"), 12);
    assert_int_equal(
        orcs_yaml_line(yaml, "supervisor.children[1].config.list[1][1]"), 13);
    // An array item has no key: its key line is its own line.
    assert_int_equal(
        orcs_yaml_key_line(yaml, "supervisor.children[1].config.list[1]"), 13);
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_line_falls_back_to_nearest_ancestor(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = s_parse_ok(s_lines_text);
    // children[1] exists (line 9 is its first key); .missing does not.
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.children[1].missing"), 9);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.children[7].name"), 6);
    assert_int_equal(orcs_yaml_key_line(yaml, "supervisor.children[7]"), 5);
    assert_int_equal(orcs_yaml_line(yaml, "nothing.at.all"), 2);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor[0]"), 4);
    assert_int_equal(orcs_yaml_line(yaml, "supervisor.children[x]"), 6);
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_line_escapes_dots_in_keys(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = s_parse_ok("models:\n"
                                   "  gpt-4.1:\n"
                                   "    model: m\n"
                                   "  a[0]: 1\n"
                                   "  'back\\slash': 2\n");
    assert_int_equal(orcs_yaml_line(yaml, "models.gpt-4\\.1.model"), 3);
    assert_int_equal(orcs_yaml_key_line(yaml, "models.gpt-4\\.1"), 2);
    assert_int_equal(orcs_yaml_line(yaml, "models.a\\[0]"), 4);
    assert_int_equal(orcs_yaml_line(yaml, "models.back\\\\slash"), 5);
    // Unescaped, the dot separates keys: "gpt-4" does not exist.
    assert_int_equal(orcs_yaml_line(yaml, "models.gpt-4.1.model"), 2);
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_refuses_aliases(void **state)
{
    (void) state;
    s_parse_fails("a: &anchor 1\nb: *anchor\n", ORCS_EPROTO,
                  "t.yaml:1: anchors and aliases (&, *) are not supported");
    // The billion laughs stop at the first anchor.
    s_parse_fails("a: &a [\"lol\",\"lol\",\"lol\"]\n"
                  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
                  ORCS_EPROTO,
                  "t.yaml:1: anchors and aliases (&, *) are not supported");
    s_parse_fails("- 1\n- *undefined\n", ORCS_EPROTO,
                  "t.yaml:2: anchors and aliases (&, *) are not supported");
}

static void
test_yaml_parse_refuses_duplicate_keys(void **state)
{
    (void) state;
    s_parse_fails("a: 1\nb:\n  c: 1\n  c: 2\n", ORCS_EPROTO,
                  "t.yaml:4: duplicate key 'c'");
    s_parse_fails("{\"x\": 1, \"x\": 1}", ORCS_EPROTO,
                  "t.yaml:1: duplicate key 'x'");
    // The same key in different mappings is fine.
    orcs_yaml_t *yaml = s_parse_ok("a: {k: 1}\nb: {k: 2}\n");
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_refuses_non_scalar_keys(void **state)
{
    (void) state;
    s_parse_fails("? [1, 2]\n: x\n", ORCS_EPROTO,
                  "t.yaml:1: mapping keys must be scalars, not sequences");
    s_parse_fails("{{a: 1}: 2}", ORCS_EPROTO,
                  "t.yaml:1: mapping keys must be scalars, not mappings");
    s_parse_fails("\"a\\0b\": 1", ORCS_EPROTO,
                  "t.yaml:1: mapping key contains NUL");
}

// Builds n nested flow sequences around a 1.
static char *
s_nested(size_t n)
{
    char *text = malloc(2 * n + 2);
    memset(text, '[', n);
    text[n] = '1';
    memset(text + n + 1, ']', n);
    text[2 * n + 1] = '\0';
    return text;
}

static void
test_yaml_parse_refuses_too_deep(void **state)
{
    (void) state;
    char *text = s_nested(ORCS_YAML_MAX_DEPTH);
    orcs_yaml_t *yaml = s_parse_ok(text);
    orcs_yaml_destroy(&yaml);
    free(text);
    text = s_nested(ORCS_YAML_MAX_DEPTH + 1);
    s_parse_fails(text, ORCS_ETOOBIG,
                  "t.yaml:1: nesting deeper than 64 levels");
    free(text);
    // Block mappings count the same way.
    size_t size = 0;
    char *block = NULL;
    FILE *out = open_memstream(&block, &size);
    for (unsigned i = 0; i <= ORCS_YAML_MAX_DEPTH; i++)
        fprintf(out, "%*sk:\n", (int) i, "");
    fclose(out);
    s_parse_fails(block, ORCS_ETOOBIG,
                  "t.yaml:65: nesting deeper than 64 levels");
    free(block);
}

static void
test_yaml_parse_refuses_multiple_documents(void **state)
{
    (void) state;
    s_parse_fails("a: 1\n---\nb: 2\n", ORCS_EPROTO,
                  "t.yaml:2: more than one document (only one is read)");
    // One explicit document, with an end marker, is fine.
    orcs_yaml_t *yaml = s_parse_ok("---\na: 1\n...\n");
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_refuses_too_big(void **state)
{
    (void) state;
    size_t size = ORCS_YAML_MAX_SIZE + 1;
    char *text = malloc(size);
    memset(text, 'a', size);
    orcs_yaml_t *yaml = NULL;
    char err[128];
    assert_int_equal(
        orcs_yaml_parse(text, size, "big.yaml", &yaml, err, sizeof err),
        ORCS_ETOOBIG);
    assert_null(yaml);
    assert_string_equal(err,
                        "big.yaml:1: text is over the limit of 4194304 bytes");
    // Exactly at the limit is fine: "a: 1", then a comment filling the rest.
    memcpy(text, "a: 1\n#", 6);
    assert_int_equal(orcs_yaml_parse(text, ORCS_YAML_MAX_SIZE, "big.yaml",
                                     &yaml, err, sizeof err),
                     ORCS_OK);
    orcs_yaml_destroy(&yaml);
    // A file over the limit is refused by load too, after reading no more.
    char path[] = "/tmp/orcs-test-yaml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, size), (ssize_t) size);
    close(fd);
    assert_int_equal(orcs_yaml_load(path, &yaml, err, sizeof err),
                     ORCS_ETOOBIG);
    assert_null(yaml);
    unlink(path);
    free(text);
}

static void
test_yaml_parse_reports_syntax_errors_with_line(void **state)
{
    (void) state;
    s_parse_fails("a: 1\nb: [1, 2\n", ORCS_EPROTO,
                  "t.yaml:3: did not find expected ',' or ']' while parsing "
                  "a flow sequence (line 2)");
    s_parse_fails("a: 1\nb: 2\n c: 3\n", ORCS_EPROTO,
                  "t.yaml:3: mapping values are not allowed in this context");
    s_parse_fails("a: \xff\n", ORCS_EPROTO,
                  "t.yaml:1: invalid leading UTF-8 octet (byte 0xff)");
}

static void
test_yaml_parse_accepts_json(void **state)
{
    (void) state;
    const char *text = "{\n"
                       "  \"name\": \"x\",\n"
                       "  \"list\": [1, 2.5, true, null, \"s\\u00e9\"],\n"
                       "  \"nested\": {\"a\": {\"b\": []}}\n"
                       "}\n";
    orcs_yaml_t *yaml = s_parse_ok(text);
    json_t *want = json_loads(text, 0, NULL);
    assert_non_null(want);
    assert_true(json_equal(orcs_yaml_doc(yaml), want));
    assert_int_equal(orcs_yaml_line(yaml, "list[2]"), 3);
    assert_int_equal(orcs_yaml_line(yaml, "nested.a.b"), 4);
    json_decref(want);
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_empty_text_is_null(void **state)
{
    (void) state;
    const char *texts[] = {"", "# only a comment\n", "---\n"};
    const int lines[] = {1, 1, 2}; // "---" opens a document on line 1
    for (size_t i = 0; i < 3; i++) {
        orcs_yaml_t *yaml = s_parse_ok(texts[i]);
        assert_true(json_is_null(orcs_yaml_doc(yaml)));
        assert_int_equal(orcs_yaml_line(yaml, ""), lines[i]);
        orcs_yaml_destroy(&yaml);
    }
    orcs_yaml_t *yaml = NULL;
    char err[8];
    assert_int_equal(orcs_yaml_parse(NULL, 0, NULL, &yaml, err, sizeof err),
                     ORCS_OK);
    assert_string_equal(orcs_yaml_filename(yaml), "<text>");
    orcs_yaml_destroy(&yaml);
}

static void
test_yaml_parse_truncates_error_to_buffer(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = NULL;
    char err[12];
    memset(err, 'x', sizeof err);
    assert_int_equal(
        orcs_yaml_parse("a: *b", 5, "long-name.yaml", &yaml, err, sizeof err),
        ORCS_EPROTO);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_int_equal(orcs_yaml_parse("a: *b", 5, "x", &yaml, NULL, 0),
                     ORCS_EPROTO);
    assert_null(yaml);
}

static void
test_yaml_load_reads_a_file(void **state)
{
    (void) state;
    char path[] = "/tmp/orcs-test-yaml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "a:\n  b: [1, 2]\n";
    assert_int_equal(write(fd, text, sizeof text - 1), sizeof text - 1);
    close(fd);
    orcs_yaml_t *yaml = NULL;
    char err[256];
    assert_int_equal(orcs_yaml_load(path, &yaml, err, sizeof err), ORCS_OK);
    assert_string_equal(orcs_yaml_filename(yaml), path);
    assert_int_equal(orcs_yaml_line(yaml, "a.b[1]"), 2);
    orcs_yaml_destroy(&yaml);
    unlink(path);
}

static void
test_yaml_load_missing_file_is_eio(void **state)
{
    (void) state;
    orcs_yaml_t *yaml = NULL;
    char err[256];
    assert_int_equal(
        orcs_yaml_load("/nonexistent/x.yaml", &yaml, err, sizeof err),
        ORCS_EIO);
    assert_null(yaml);
    assert_string_equal(err, "/nonexistent/x.yaml: No such file or directory");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_destroy_nulls_reference),
        cmocka_unit_test(test_yaml_parse_types_plain_scalars),
        cmocka_unit_test(
            test_yaml_parse_keeps_quoted_and_block_scalars_strings),
        cmocka_unit_test(test_yaml_parse_refuses_out_of_range_numbers),
        cmocka_unit_test(test_yaml_parse_refuses_inf_and_nan),
        cmocka_unit_test(test_yaml_parse_refuses_bad_tags),
        cmocka_unit_test(test_yaml_line_of_values_and_keys),
        cmocka_unit_test(test_yaml_line_of_nested_paths),
        cmocka_unit_test(test_yaml_line_falls_back_to_nearest_ancestor),
        cmocka_unit_test(test_yaml_line_escapes_dots_in_keys),
        cmocka_unit_test(test_yaml_parse_refuses_aliases),
        cmocka_unit_test(test_yaml_parse_refuses_duplicate_keys),
        cmocka_unit_test(test_yaml_parse_refuses_non_scalar_keys),
        cmocka_unit_test(test_yaml_parse_refuses_too_deep),
        cmocka_unit_test(test_yaml_parse_refuses_multiple_documents),
        cmocka_unit_test(test_yaml_parse_refuses_too_big),
        cmocka_unit_test(test_yaml_parse_reports_syntax_errors_with_line),
        cmocka_unit_test(test_yaml_parse_accepts_json),
        cmocka_unit_test(test_yaml_parse_empty_text_is_null),
        cmocka_unit_test(test_yaml_parse_truncates_error_to_buffer),
        cmocka_unit_test(test_yaml_load_reads_a_file),
        cmocka_unit_test(test_yaml_load_missing_file_is_eio),
    };
    return cmocka_run_group_tests_name("orcs_yaml", tests, NULL, NULL);
}
