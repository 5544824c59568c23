/*  test_schema.c — the JSON Schema subset: every keyword with values that
    pass and values that fail (and the exact message), schema checking, and
    the depth limits.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/schema.h"

static char s_err[512];

static json_t *
s_json(const char *text)
{
    json_error_t error;
    json_t *doc = json_loads(text, JSON_DECODE_ANY, &error);
    if (!doc)
        fprintf(stderr, "bad JSON in test: %s: %s\n", text, error.text);
    assert_non_null(doc);
    return doc;
}

// Checks the schema (it must pass) and validates value against it.
static orcs_status
s_validate(const char *schema_text, const char *value_text)
{
    json_t *schema = s_json(schema_text);
    json_t *value = s_json(value_text);
    char check[256];
    orcs_status rc = orcs_schema_check(schema, check, sizeof check);
    if (rc != ORCS_OK)
        fprintf(stderr, "schema refused: %s\n", check);
    assert_int_equal(rc, ORCS_OK);
    rc = orcs_schema_validate(schema, value, s_err, sizeof s_err);
    json_decref(schema);
    json_decref(value);
    return rc;
}

#define assert_valid(schema, value) \
    assert_int_equal(s_validate(schema, value), ORCS_OK)

#define assert_invalid(schema, value, message)                    \
    do {                                                          \
        assert_int_equal(s_validate(schema, value), ORCS_EINVAL); \
        assert_string_equal(s_err, message);                      \
    } while (0)

static orcs_status
s_check(const char *schema_text)
{
    json_t *schema = s_json(schema_text);
    orcs_status rc = orcs_schema_check(schema, s_err, sizeof s_err);
    json_decref(schema);
    return rc;
}

#define assert_refused(schema, message)                 \
    do {                                                \
        assert_int_equal(s_check(schema), ORCS_EINVAL); \
        assert_string_equal(s_err, message);            \
    } while (0)

// ---------------------------------------------------------------------------
// Validation

static void
test_schema_type_names_every_type(void **state)
{
    (void) state;
    assert_valid("{\"type\": \"object\"}", "{}");
    assert_valid("{\"type\": \"array\"}", "[]");
    assert_valid("{\"type\": \"string\"}", "\"x\"");
    assert_valid("{\"type\": \"integer\"}", "3");
    assert_valid("{\"type\": \"number\"}", "3.5");
    assert_valid("{\"type\": \"number\"}", "3");
    assert_valid("{\"type\": \"boolean\"}", "false");
    assert_valid("{\"type\": \"null\"}", "null");
    assert_invalid("{\"type\": \"string\"}", "3",
                   "$: expected string, got integer");
    assert_invalid("{\"type\": \"object\"}", "[]",
                   "$: expected object, got array");
    assert_invalid("{\"type\": \"array\"}", "{}",
                   "$: expected array, got object");
    assert_invalid("{\"type\": \"boolean\"}", "0",
                   "$: expected boolean, got integer");
    assert_invalid("{\"type\": \"null\"}", "false",
                   "$: expected null, got boolean");
    assert_invalid("{\"type\": \"number\"}", "\"1\"",
                   "$: expected number, got string");
}

static void
test_schema_integer_accepts_whole_reals_only(void **state)
{
    (void) state;
    assert_valid("{\"type\": \"integer\"}", "3.0");
    assert_valid("{\"type\": \"integer\"}", "-0.0");
    assert_invalid("{\"type\": \"integer\"}", "3.5",
                   "$: expected integer, got number");
    assert_invalid("{\"type\": \"integer\"}", "true",
                   "$: expected integer, got boolean");
}

static void
test_schema_type_list_names_every_choice(void **state)
{
    (void) state;
    assert_valid("{\"type\": [\"string\", \"null\"]}", "null");
    assert_valid("{\"type\": [\"string\", \"null\"]}", "\"a\"");
    assert_invalid("{\"type\": [\"string\", \"null\"]}", "1",
                   "$: expected string or null, got integer");
}

static void
test_schema_path_names_the_bad_value(void **state)
{
    (void) state;
    const char *schema =
        "{\"type\": \"object\", \"properties\": {\"items\": {\"type\": "
        "\"array\", \"items\": {\"type\": \"object\", \"properties\": "
        "{\"name\": {\"type\": \"string\"}}}}}}";
    assert_valid(schema, "{\"items\": [{\"name\": \"a\"}]}");
    assert_invalid(schema,
                   "{\"items\": [{\"name\": \"a\"}, {}, {\"name\": 7}]}",
                   "$.items[2].name: expected string, got integer");
    assert_invalid("{\"properties\": {\"a b\": {\"type\": \"string\"}}}",
                   "{\"a b\": 1}", "$['a b']: expected string, got integer");
}

static void
test_schema_required_names_the_missing_property(void **state)
{
    (void) state;
    const char *schema = "{\"type\": \"object\", \"required\": [\"a\", \"b\"]}";
    assert_valid(schema, "{\"a\": 1, \"b\": null}");
    assert_invalid(schema, "{\"b\": 1}", "$: missing required property 'a'");
    assert_invalid("{\"properties\": {\"x\": {\"required\": [\"y\"]}}}",
                   "{\"x\": {}}", "$.x: missing required property 'y'");
}

static void
test_schema_additional_properties(void **state)
{
    (void) state;
    const char *closed = "{\"properties\": {\"x\": {\"properties\": {\"a\": "
                         "{}}, \"additionalProperties\": false}}}";
    assert_valid(closed, "{\"x\": {\"a\": 1}}");
    assert_invalid(closed, "{\"x\": {\"a\": 1, \"y\": 2}}",
                   "$.x: additional property 'y' is not allowed");
    const char *typed = "{\"additionalProperties\": {\"type\": \"string\"}}";
    assert_valid(typed, "{\"k\": \"v\"}");
    assert_invalid(typed, "{\"k\": 1}", "$.k: expected string, got integer");
    assert_valid("{\"additionalProperties\": true}", "{\"k\": 1}");
}

static void
test_schema_enum_lists_the_choices(void **state)
{
    (void) state;
    assert_valid("{\"enum\": [\"a\", \"b\"]}", "\"b\"");
    assert_valid("{\"enum\": [1, null]}", "1.0");
    assert_valid("{\"enum\": [{\"a\": [1]}]}", "{\"a\": [1]}");
    assert_invalid("{\"properties\": {\"s\": {\"enum\": [\"a\", \"b\"]}}}",
                   "{\"s\": \"x\"}", "$.s: 'x' is not one of [\"a\", \"b\"]");
    assert_invalid("{\"enum\": [1, 2]}", "3", "$: 3 is not one of [1, 2]");
    assert_invalid("{\"enum\": [1]}", "{}", "$: an object is not one of [1]");
}

static void
test_schema_const(void **state)
{
    (void) state;
    assert_valid("{\"const\": \"a\"}", "\"a\"");
    assert_valid("{\"const\": 2}", "2.0");
    assert_invalid("{\"const\": \"a\"}", "\"b\"",
                   "$: 'b' is not the constant \"a\"");
}

static void
test_schema_items_and_counts(void **state)
{
    (void) state;
    const char *schema = "{\"type\": \"array\", \"items\": {\"type\": "
                         "\"integer\"}, \"minItems\": 1, \"maxItems\": 3}";
    assert_valid(schema, "[1, 2, 3]");
    assert_invalid(schema, "[]", "$: has 0 items, fewer than minItems 1");
    assert_invalid(schema, "[1, 2, 3, 4]",
                   "$: has 4 items, more than maxItems 3");
    assert_invalid(schema, "[1, \"2\"]", "$[1]: expected integer, got string");
}

static void
test_schema_number_bounds(void **state)
{
    (void) state;
    const char *schema = "{\"properties\": {\"n\": {\"minimum\": 1, "
                         "\"maximum\": 10}}}";
    assert_valid(schema, "{\"n\": 1}");
    assert_valid(schema, "{\"n\": 10.0}");
    assert_invalid(schema, "{\"n\": 12}", "$.n: 12 is greater than maximum 10");
    assert_invalid(schema, "{\"n\": 0.5}", "$.n: 0.5 is less than minimum 1");
    const char *open = "{\"exclusiveMinimum\": 0, \"exclusiveMaximum\": 2.5}";
    assert_valid(open, "1");
    assert_valid(open, "2.4");
    assert_invalid(open, "0", "$: 0 is not greater than exclusiveMinimum 0");
    assert_invalid(open, "2.5", "$: 2.5 is not less than exclusiveMaximum 2.5");
    // bounds ignore values that are not numbers
    assert_valid("{\"maximum\": 1}", "\"big\"");
}

static void
test_schema_lengths_count_code_points(void **state)
{
    (void) state;
    const char *schema = "{\"minLength\": 2, \"maxLength\": 5}";
    assert_valid(schema, "\"h\\u00e9llo\""); // 5 code points, 6 bytes
    assert_valid(schema, "\"\\ud83d\\ude00\\ud83d\\ude00\"");
    assert_invalid(schema, "\"a\"",
                   "$: 'a' is shorter than minLength 2 (1 characters)");
    assert_invalid(schema, "\"abcdef\"",
                   "$: 'abcdef' is longer than maxLength 5 (6 characters)");
}

static void
test_schema_pattern_searches_the_string(void **state)
{
    (void) state;
    assert_valid("{\"pattern\": \"b+\"}", "\"abbc\"");
    assert_valid("{\"pattern\": \"^[a-z]+$\"}", "\"abc\"");
    assert_valid("{\"pattern\": \"^x\"}", "3"); // only strings
    assert_invalid("{\"properties\": {\"id\": {\"pattern\": \"^[a-z]+$\"}}}",
                   "{\"id\": \"ab1\"}",
                   "$.id: 'ab1' does not match pattern '^[a-z]+$'");
}

static void
test_schema_any_of(void **state)
{
    (void) state;
    const char *schema =
        "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}";
    assert_valid(schema, "\"a\"");
    assert_valid(schema, "1");
    assert_invalid(schema, "true",
                   "$: matches none of the 2 anyOf schemas (anyOf[0]: $: "
                   "expected string, got boolean)");
}

static void
test_schema_one_of(void **state)
{
    (void) state;
    const char *schema =
        "{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}";
    assert_valid(schema, "1.5");
    assert_invalid(schema, "1",
                   "$: matches oneOf schemas 0 and 1; exactly one must match");
    assert_invalid(schema, "\"a\"",
                   "$: matches none of the 2 oneOf schemas (oneOf[0]: $: "
                   "expected integer, got string)");
}

static void
test_schema_all_of(void **state)
{
    (void) state;
    const char *schema = "{\"allOf\": [{\"type\": \"integer\"}, "
                         "{\"minimum\": 3}]}";
    assert_valid(schema, "4");
    assert_invalid(schema, "2", "$: 2 is less than minimum 3");
    assert_invalid(schema, "\"4\"", "$: expected integer, got string");
}

static void
test_schema_boolean_schemas(void **state)
{
    (void) state;
    assert_valid("true", "{\"anything\": 1}");
    assert_invalid("{\"properties\": {\"no\": false}}", "{\"no\": 1}",
                   "$.no: no value is allowed here");
}

static void
test_schema_annotations_are_accepted(void **state)
{
    (void) state;
    assert_valid("{\"$schema\": \"https://json-schema.org/draft/2020-12/"
                 "schema\", \"title\": \"T\", \"description\": \"D\", "
                 "\"default\": 1, \"examples\": [1, 2], \"format\": \"uri\"}",
                 "\"not checked\"");
}

// ---------------------------------------------------------------------------
// Checking schemas

static void
test_schema_check_refuses_unknown_keywords(void **state)
{
    (void) state;
    assert_refused("{\"tpye\": \"string\"}", "$: unknown keyword 'tpye'");
    assert_refused("{\"properties\": {\"a\": {\"minLenght\": 1}}}",
                   "$.properties.a: unknown keyword 'minLenght'");
    assert_refused("{\"$ref\": \"#/x\"}", "$: unknown keyword '$ref'");
}

static void
test_schema_check_refuses_bad_shapes(void **state)
{
    (void) state;
    assert_refused("{\"type\": \"strin\"}",
                   "$.type: unknown type 'strin' (expected object, array, "
                   "string, integer, number, boolean or null)");
    assert_refused("{\"type\": [\"string\", 1]}", "$.type[1]: unknown type 1");
    assert_refused("{\"type\": []}",
                   "$.type: must be a type name or a non-empty list of them");
    assert_refused("{\"properties\": []}",
                   "$.properties: must be an object of schemas");
    assert_refused("{\"properties\": {\"a\": 3}}",
                   "$.properties.a: a schema must be an object or a boolean, "
                   "got integer");
    assert_refused("{\"required\": \"a\"}",
                   "$.required: must be a list of property names");
    assert_refused("{\"required\": [\"a\", 2]}",
                   "$.required[1]: must be a property name, got integer");
    assert_refused("{\"additionalProperties\": \"no\"}",
                   "$.additionalProperties: a schema must be an object or a "
                   "boolean, got string");
    assert_refused("{\"enum\": []}", "$.enum: must be a non-empty list");
    assert_refused("{\"items\": [{}]}",
                   "$.items: a schema must be an object or a boolean, got "
                   "array");
    assert_refused("{\"minItems\": -1}",
                   "$.minItems: must be a non-negative integer, got integer");
    assert_refused("{\"maxLength\": 1.5}",
                   "$.maxLength: must be a non-negative integer, got number");
    assert_refused("{\"maximum\": \"10\"}",
                   "$.maximum: must be a number, got string");
    assert_refused("{\"anyOf\": []}",
                   "$.anyOf: must be a non-empty list of schemas");
    assert_refused("{\"oneOf\": [{}, {\"type\": 1}]}",
                   "$.oneOf[1].type: must be a type name or a non-empty list "
                   "of them");
    assert_refused("{\"allOf\": {}}",
                   "$.allOf: must be a non-empty list of schemas");
    assert_refused("{\"description\": 1}",
                   "$.description: must be a string, got integer");
    assert_refused("{\"examples\": 1}", "$.examples: must be a list");
    assert_refused("[]", "$: a schema must be an object or a boolean, got "
                         "array");
    assert_int_equal(s_check("{\"maxItems\": 2.0, \"minimum\": -1.5}"),
                     ORCS_OK);
}

static void
test_schema_check_refuses_bad_patterns(void **state)
{
    (void) state;
    assert_int_equal(s_check("{\"pattern\": \"(\"}"), ORCS_EINVAL);
    assert_non_null(strstr(s_err, "$.pattern: invalid pattern: "));
    assert_refused("{\"pattern\": 1}", "$.pattern: must be a string, got "
                                       "integer");
    assert_refused("{\"pattern\": \"(a)\\\\1\"}",
                   "$.pattern: back-references are not supported");
    assert_refused("{\"pattern\": \"(a{200}){200}\"}",
                   "$.pattern: pattern is too complex (its repeats expand to "
                   "over 4096 items)");
    // glibc expands x+ to x x*, so stacked pluses double each time
    assert_refused("{\"pattern\": \"a++++++++++++++++++++++++++++++\"}",
                   "$.pattern: pattern is too complex (its repeats expand to "
                   "over 4096 items)");
    assert_refused("{\"pattern\": \"((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+\"}",
                   "$.pattern: pattern is too complex (its repeats expand to "
                   "over 4096 items)");
    assert_int_equal(
        s_check("{\"pattern\": \"^[[:alpha:]_]+[a-z]{2,}(x|y)?$\"}"), ORCS_OK);
    assert_refused("{\"pattern\": \"a{99999999999}\"}",
                   "$.pattern: pattern repeat bound over 255");
    char big[700];
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = '\0';
    json_t *schema = json_pack("{s:s}", "pattern", big);
    assert_int_equal(orcs_schema_check(schema, s_err, sizeof s_err),
                     ORCS_EINVAL);
    assert_string_equal(s_err, "$.pattern: pattern is longer than 512 bytes");
    json_decref(schema);
    assert_int_equal(s_check("{\"pattern\": \"[{]a{2,3}\\\\{\"}"), ORCS_OK);
}

// {"items": {"items": ... }} nested depth times around {}.
static json_t *
s_nested_schema(unsigned depth)
{
    json_t *schema = json_object();
    for (unsigned i = 0; i < depth; i++)
        schema = json_pack("{s:o}", "items", schema);
    return schema;
}

static json_t *
s_nested_array(unsigned depth)
{
    json_t *value = json_integer(1);
    for (unsigned i = 0; i < depth; i++)
        value = json_pack("[o]", value);
    return value;
}

static void
test_schema_depth_is_limited(void **state)
{
    (void) state;
    json_t *ok = s_nested_schema(ORCS_SCHEMA_DEPTH_MAX - 1);
    assert_int_equal(orcs_schema_check(ok, s_err, sizeof s_err), ORCS_OK);
    json_t *value = s_nested_array(ORCS_SCHEMA_DEPTH_MAX - 1);
    assert_int_equal(orcs_schema_validate(ok, value, s_err, sizeof s_err),
                     ORCS_OK);
    json_decref(value);
    json_decref(ok);

    json_t *deep = s_nested_schema(ORCS_SCHEMA_DEPTH_MAX + 5);
    assert_int_equal(orcs_schema_check(deep, s_err, sizeof s_err), ORCS_EINVAL);
    assert_non_null(strstr(s_err, "schemas nested deeper than 64"));
    value = s_nested_array(ORCS_SCHEMA_DEPTH_MAX + 5);
    assert_int_equal(orcs_schema_validate(deep, value, s_err, sizeof s_err),
                     ORCS_ETOOBIG);
    assert_non_null(strstr(s_err, "nested deeper than 64"));
    json_decref(value);
    json_decref(deep);
}

static void
test_schema_small_buffers_are_safe(void **state)
{
    (void) state;
    json_t *schema = s_json("{\"type\": \"string\"}");
    json_t *value = s_json("1");
    assert_int_equal(orcs_schema_validate(schema, value, NULL, 0), ORCS_EINVAL);
    char tiny[8];
    assert_int_equal(orcs_schema_validate(schema, value, tiny, sizeof tiny),
                     ORCS_EINVAL);
    assert_string_equal(tiny, "$: expe");
    json_t *bad = s_json("{\"x\": 1}");
    assert_int_equal(orcs_schema_check(bad, NULL, 0), ORCS_EINVAL);
    assert_int_equal(orcs_schema_check(NULL, tiny, sizeof tiny), ORCS_EINVAL);
    assert_int_equal(orcs_schema_validate(schema, NULL, tiny, sizeof tiny),
                     ORCS_EINVAL);
    json_decref(bad);
    json_decref(schema);
    json_decref(value);
}

static void
test_schema_long_strings_are_cut_in_messages(void **state)
{
    (void) state;
    char text[200];
    memset(text, 'x', sizeof text);
    text[sizeof text - 1] = '\0';
    json_t *schema = s_json("{\"maxLength\": 3}");
    json_t *value = json_string(text);
    assert_int_equal(orcs_schema_validate(schema, value, s_err, sizeof s_err),
                     ORCS_EINVAL);
    assert_string_equal(s_err, "$: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                               "...' is longer than maxLength 3 (199 "
                               "characters)");
    json_decref(schema);
    json_decref(value);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_type_names_every_type),
        cmocka_unit_test(test_schema_integer_accepts_whole_reals_only),
        cmocka_unit_test(test_schema_type_list_names_every_choice),
        cmocka_unit_test(test_schema_path_names_the_bad_value),
        cmocka_unit_test(test_schema_required_names_the_missing_property),
        cmocka_unit_test(test_schema_additional_properties),
        cmocka_unit_test(test_schema_enum_lists_the_choices),
        cmocka_unit_test(test_schema_const),
        cmocka_unit_test(test_schema_items_and_counts),
        cmocka_unit_test(test_schema_number_bounds),
        cmocka_unit_test(test_schema_lengths_count_code_points),
        cmocka_unit_test(test_schema_pattern_searches_the_string),
        cmocka_unit_test(test_schema_any_of),
        cmocka_unit_test(test_schema_one_of),
        cmocka_unit_test(test_schema_all_of),
        cmocka_unit_test(test_schema_boolean_schemas),
        cmocka_unit_test(test_schema_annotations_are_accepted),
        cmocka_unit_test(test_schema_check_refuses_unknown_keywords),
        cmocka_unit_test(test_schema_check_refuses_bad_shapes),
        cmocka_unit_test(test_schema_check_refuses_bad_patterns),
        cmocka_unit_test(test_schema_depth_is_limited),
        cmocka_unit_test(test_schema_small_buffers_are_safe),
        cmocka_unit_test(test_schema_long_strings_are_cut_in_messages),
    };
    return cmocka_run_group_tests_name("orcs_schema", tests, NULL, NULL);
}
