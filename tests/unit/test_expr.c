/*  test_expr.c — the expression language and `${{ }}` templates: every
    operator and function (values and errors), precedence, paths, limits,
    static types, path visiting, and templates (whole and interpolated
    strings, escapes, nesting, error paths).
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/expr.h"

static char s_err[512];

static const char *s_ctx_text =
    "{\"inputs\": {\"n\": 3, \"s\": \"Hello\", \"list\": [1, 2, 3],"
    " \"obj\": {\"a\": 1, \"x y\": 2}, \"empty\": \"\", \"nul\": null,"
    " \"t\": true, \"r\": 2.5},"
    " \"nodes\": {\"plan\": {\"output\": {\"topics\": [\"a\", \"b\"]}}},"
    " \"item\": {\"url\": \"http://x\"}}";

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

// Parses and evaluates src over ctx (the default context when NULL).
static orcs_status
s_eval_in(const char *src, const json_t *ctx, json_t **value_p)
{
    orcs_expr_t *expr = NULL;
    s_err[0] = '\0';
    *value_p = NULL;
    orcs_status rc =
        orcs_expr_parse(src, strlen(src), &expr, s_err, sizeof s_err);
    if (rc != ORCS_OK) {
        assert_null(expr);
        return rc;
    }
    json_t *own = ctx ? NULL : s_json(s_ctx_text);
    rc = orcs_expr_eval(expr, ctx ? ctx : own, value_p, s_err, sizeof s_err);
    if (rc == ORCS_OK)
        assert_non_null(*value_p);
    else
        assert_null(*value_p);
    json_decref(own);
    orcs_expr_destroy(&expr);
    assert_null(expr);
    return rc;
}

// Evaluates src and compares with expected (exact JSON types: 1 != 1.0).
static void
s_check(const char *src, const char *expected, const char *file, int line)
{
    json_t *value = NULL;
    orcs_status rc = s_eval_in(src, NULL, &value);
    if (rc != ORCS_OK)
        fprintf(stderr, "%s:%d: %s: %s\n", file, line, src, s_err);
    assert_int_equal(rc, ORCS_OK);
    json_t *want = s_json(expected);
    if (!json_equal(value, want)) {
        char *got = json_dumps(value, JSON_ENCODE_ANY);
        fprintf(stderr, "%s:%d: %s gave %s, expected %s\n", file, line, src,
                got, expected);
        free(got);
    }
    assert_true(json_equal(value, want));
    json_decref(want);
    json_decref(value);
}

#define assert_eval(src, expected) s_check(src, expected, __FILE__, __LINE__)

static void
s_check_error(const char *src,
              orcs_status want,
              const char *message,
              const char *file,
              int line)
{
    json_t *value = NULL;
    orcs_status rc = s_eval_in(src, NULL, &value);
    if (rc != want || strcmp(s_err, message) != 0)
        fprintf(stderr, "%s:%d: %s: rc %d, \"%s\"\n", file, line, src, rc,
                s_err);
    json_decref(value);
    assert_int_equal(rc, want);
    assert_string_equal(s_err, message);
}

#define assert_error(src, rc, message) \
    s_check_error(src, rc, message, __FILE__, __LINE__)

// Truthiness of src; the result must not depend on the initial value.
static bool
s_truth(const char *src)
{
    orcs_expr_t *expr = NULL;
    assert_int_equal(
        orcs_expr_parse(src, strlen(src), &expr, s_err, sizeof s_err), ORCS_OK);
    json_t *ctx = s_json(s_ctx_text);
    bool from_false = false, from_true = true;
    assert_int_equal(
        orcs_expr_test(expr, ctx, &from_false, s_err, sizeof s_err), ORCS_OK);
    assert_int_equal(orcs_expr_test(expr, ctx, &from_true, s_err, sizeof s_err),
                     ORCS_OK);
    assert_int_equal(from_false, from_true);
    json_decref(ctx);
    orcs_expr_destroy(&expr);
    return from_false;
}

// ---------------------------------------------------------------------------
// Literals and lexing

static void
test_literals(void **state)
{
    (void) state;
    assert_eval("null", "null");
    assert_eval("true", "true");
    assert_eval("false", "false");
    assert_eval("42", "42");
    assert_eval("-1.5", "-1.5");
    assert_eval("1.5e3", "1500.0");
    assert_eval("2E-1", "0.2");
    assert_eval("\"text\"", "\"text\"");
    assert_eval("'text'", "\"text\"");
    assert_eval("[1, 'a', [], {}]", "[1, \"a\", [], {}]");
    assert_eval("{\"a\": 1, b: [true]}", "{\"a\": 1, \"b\": [true]}");
    assert_eval("  \t\n 7 \r\n", "7");
    assert_eval("9223372036854775807", "9223372036854775807");
    assert_eval("-9223372036854775808", "-9223372036854775808");
    assert_eval("- 9223372036854775807", "-9223372036854775807");
}

static void
test_strings(void **state)
{
    (void) state;
    assert_eval("'a\\n\\t\\r\\\\\\\"\\'\\/b'", "\"a\\n\\t\\r\\\\\\\"'/b\"");
    assert_eval("\"it's\"", "\"it's\"");
    assert_eval("'say \"hi\"'", "\"say \\\"hi\\\"\"");
    assert_eval("'\\u00e9'", "\"\\u00e9\"");
    assert_eval("'\\uD83D\\uDE00'", "\"\\ud83d\\ude00\"");
    assert_eval("'h\xc3\xa9'", "\"h\\u00e9\"");
    assert_error("'abc", ORCS_EPROTO, "column 1: unterminated string");
    assert_error("1 + 'abc\\", ORCS_EPROTO, "column 9: unterminated string");
    assert_error("'\\q'", ORCS_EPROTO, "column 2: unknown escape '\\q'");
    assert_error("'\\u12'", ORCS_EPROTO, "column 2: \\u needs 4 hex digits");
    assert_error("'\\uzzzz'", ORCS_EPROTO, "column 2: \\u needs 4 hex digits");
    assert_error("'\\uD800'", ORCS_EPROTO,
                 "column 2: high surrogate \\uD800 without a low surrogate");
    assert_error("'\\uD800\\u0041'", ORCS_EPROTO,
                 "column 2: high surrogate \\uD800 without a low surrogate");
    assert_error("'\\uDC00'", ORCS_EPROTO,
                 "column 2: lone low surrogate \\uDC00");
    assert_error("'\\u0000'", ORCS_EPROTO,
                 "column 2: \\u0000 is not allowed in strings");
    assert_error("'\xff'", ORCS_EPROTO, "column 1: string is not valid UTF-8");
    assert_error("'\xc3'", ORCS_EPROTO, "column 1: string is not valid UTF-8");
    assert_error("'\xed\xa0\x80'", ORCS_EPROTO, // encoded surrogate
                 "column 1: string is not valid UTF-8");
    // A NUL byte inside the source (size given explicitly).
    orcs_expr_t *expr = NULL;
    assert_int_equal(orcs_expr_parse("'a\0b'", 5, &expr, s_err, sizeof s_err),
                     ORCS_EPROTO);
    assert_null(expr);
    assert_string_equal(s_err, "column 3: NUL byte in string");
    assert_int_equal(orcs_expr_parse("1 \0", 3, &expr, s_err, sizeof s_err),
                     ORCS_EPROTO);
    assert_string_equal(s_err, "column 3: unexpected byte 0x00");
}

static void
test_numbers(void **state)
{
    (void) state;
    assert_error("9223372036854775808", ORCS_EPROTO,
                 "column 1: integer out of range (int64); write a real such "
                 "as 1e20 for bigger numbers");
    assert_error("-9223372036854775809", ORCS_EPROTO,
                 "column 1: integer out of range (int64); write a real such "
                 "as 1e20 for bigger numbers");
    assert_error("1 + 99999999999999999999999", ORCS_EPROTO,
                 "column 5: integer out of range (int64); write a real such "
                 "as 1e20 for bigger numbers");
    assert_eval("1e20", "1e20");
    assert_error("1e999", ORCS_EPROTO, "column 1: number out of range");
    assert_eval("1e-999", "0.0");
    assert_error("1e", ORCS_EPROTO,
                 "column 1: malformed number: exponent without digits");
    assert_error("12abc", ORCS_EPROTO, "column 3: malformed number");
    assert_error("1.", ORCS_EPROTO, "column 2: malformed number");
    assert_error("1.2.3", ORCS_EPROTO, "column 4: malformed number");
}

// ---------------------------------------------------------------------------
// Operators

static void
test_arithmetic(void **state)
{
    (void) state;
    assert_eval("1 + 2", "3");
    assert_eval("1 + 2.5", "3.5");
    assert_eval("5 - 7", "-2");
    assert_eval("6 * 7", "42");
    assert_eval("6 / 3", "2");
    assert_eval("7 / 2", "3.5");
    assert_eval("7.0 / 2", "3.5");
    assert_eval("7 % 3", "1");
    assert_eval("-7 % 3", "-1");
    assert_eval("5.5 % 2", "1.5");
    assert_eval("-inputs.n", "-3");
    assert_eval("-inputs.r", "-2.5");
    assert_eval("- -3", "3");
    assert_eval("'ab' + 'cd'", "\"abcd\"");
    assert_eval("[1] + [2, [3]]", "[1, 2, [3]]");
    assert_eval("inputs.list + []", "[1, 2, 3]");
    assert_error("1 / 0", ORCS_EINVAL, "division by zero");
    assert_error("1.5 / 0.0", ORCS_EINVAL, "division by zero");
    assert_error("1 % 0", ORCS_EINVAL, "modulo by zero");
    assert_error("1.5 % 0", ORCS_EINVAL, "modulo by zero");
    assert_error("'a' + 1", ORCS_EINVAL,
                 "cannot add string and number ('+' takes two numbers, two "
                 "strings or two arrays)");
    assert_error("[1] + 'a'", ORCS_EINVAL,
                 "cannot add array and string ('+' takes two numbers, two "
                 "strings or two arrays)");
    assert_error("null + null", ORCS_EINVAL,
                 "cannot add null and null ('+' takes two numbers, two "
                 "strings or two arrays)");
    assert_error("'a' - 'b'", ORCS_EINVAL,
                 "'-' takes two numbers, got string and string");
    assert_error("2 * true", ORCS_EINVAL,
                 "'*' takes two numbers, got number and boolean");
    assert_error("[] / 1", ORCS_EINVAL,
                 "'/' takes two numbers, got array and number");
    assert_error("{} % 1", ORCS_EINVAL,
                 "'%' takes two numbers, got object and number");
    assert_error("-'x'", ORCS_EINVAL, "'-' takes a number, got string");
    assert_error("-inputs.nul", ORCS_EINVAL, "'-' takes a number, got null");
    assert_error("1e308 * 10", ORCS_EINVAL,
                 "number out of range (the result is not finite)");
}

static void
test_int_overflow(void **state)
{
    (void) state;
    // Overflowing int64 falls back to a real.
    assert_eval("9223372036854775807 + 1", "9.2233720368547758e18");
    assert_eval("-9223372036854775808 - 1", "-9.2233720368547758e18");
    assert_eval("9223372036854775807 * 2", "1.8446744073709552e19");
    assert_eval("-9223372036854775808 / -1", "9.2233720368547758e18");
    assert_eval("-(-9223372036854775808)", "9.2233720368547758e18");
    assert_eval("-9223372036854775808 % -1", "0");
    assert_eval("-9223372036854775808 / 1", "-9223372036854775808");
    assert_eval("9223372036854775807 - 9223372036854775807", "0");
}

static void
test_comparison(void **state)
{
    (void) state;
    assert_eval("1 == 1", "true");
    assert_eval("1 == 1.0", "true");
    assert_eval("1 == 1.5", "false");
    assert_eval("1 == '1'", "false");
    assert_eval("null == null", "true");
    assert_eval("inputs.missing == null", "true");
    assert_eval("{'a': [1, 2]} == {'a': [1, 2.0]}", "true");
    assert_eval("{'a': 1, 'b': 2} == {'b': 2, 'a': 1}", "true");
    assert_eval("{'a': 1} == {'a': 1, 'b': 2}", "false");
    assert_eval("[1, 2] != [2, 1]", "true");
    assert_eval("inputs.list == [1, 2, 3]", "true");
    assert_eval("'a' != 'a'", "false");
    assert_eval("1 < 2", "true");
    assert_eval("2 <= 2", "true");
    assert_eval("2.5 > 2", "true");
    assert_eval("2 >= 3", "false");
    assert_eval("-9223372036854775808 < 9223372036854775807", "true");
    assert_eval("'abc' < 'abd'", "true");
    assert_eval("'ab' < 'abc'", "true");
    assert_eval("'b' > 'abc'", "true");
    assert_eval("'\xc3\xa9' > 'z'", "true"); // code point order
    assert_error("'a' < 1", ORCS_EINVAL,
                 "cannot compare string with number ('<' takes two numbers "
                 "or two strings)");
    assert_error("null >= 1", ORCS_EINVAL,
                 "cannot compare null with number ('>=' takes two numbers "
                 "or two strings)");
    assert_error("[1] > [0]", ORCS_EINVAL,
                 "cannot compare array with array ('>' takes two numbers or "
                 "two strings)");
    assert_error("1 < 2 < 3", ORCS_EPROTO,
                 "column 7: comparisons cannot be chained; join them with "
                 "'and'");
}

static void
test_logic(void **state)
{
    (void) state;
    assert_eval("true and false", "false");
    assert_eval("true and 'x'", "true");
    assert_eval("1 and 0", "false");
    assert_eval("0 or ''", "false");
    assert_eval("0 or 'x'", "true");
    assert_eval("null or [1]", "true");
    assert_eval("not null", "true");
    assert_eval("not 'a'", "false");
    assert_eval("not not 5", "true");
    // Short-circuit: the right side is not evaluated.
    assert_eval("false and 1 / 0", "false");
    assert_eval("true or nodez.x", "true");
    assert_error("true and 1 / 0", ORCS_EINVAL, "division by zero");
    assert_error("false or nodez", ORCS_EINVAL,
                 "unknown root 'nodez' (known: inputs, nodes, item)");
}

static void
test_truthiness(void **state)
{
    (void) state;
    assert_false(s_truth("null"));
    assert_false(s_truth("false"));
    assert_false(s_truth("0"));
    assert_false(s_truth("0.0"));
    assert_false(s_truth("''"));
    assert_false(s_truth("[]"));
    assert_false(s_truth("{}"));
    assert_false(s_truth("inputs.missing"));
    assert_false(s_truth("inputs.empty"));
    assert_true(s_truth("true"));
    assert_true(s_truth("1"));
    assert_true(s_truth("-0.5"));
    assert_true(s_truth("' '"));
    assert_true(s_truth("[null]"));
    assert_true(s_truth("{a: null}"));
    assert_true(s_truth("inputs.list"));
    // An error gives the status and leaves the truth alone.
    orcs_expr_t *expr = NULL;
    assert_int_equal(orcs_expr_parse("1 / 0", 5, &expr, NULL, 0), ORCS_OK);
    bool truth = true;
    assert_int_equal(orcs_expr_test(expr, NULL, &truth, s_err, sizeof s_err),
                     ORCS_EINVAL);
    assert_true(truth);
    orcs_expr_destroy(&expr);
}

static void
test_precedence(void **state)
{
    (void) state;
    assert_eval("1 + 2 * 3", "7");
    assert_eval("(1 + 2) * 3", "9");
    assert_eval("10 - 2 - 3", "5");
    assert_eval("100 / 10 / 5", "2");
    assert_eval("2 * 3 % 4", "2");
    assert_eval("-2 * 3", "-6");
    assert_eval("-(2 + 3)", "-5");
    assert_eval("-inputs.list[1]", "-2");
    assert_eval("1 + 2 == 3", "true");
    assert_eval("not 1 == 2", "true"); // not (1 == 2)
    assert_eval("not 1 + 1", "false"); // not (1 + 1)
    assert_eval("true or false and false", "true");
    assert_eval("(true or false) and false", "false");
    assert_eval("not false and false", "false"); // (not false) and false
    assert_eval("1 < 2 and 'a' < 'b'", "true");
    assert_eval("1 + 2 * 3 - 4 / 2 == 5", "true");
}

// ---------------------------------------------------------------------------
// Paths

static void
test_paths_eval(void **state)
{
    (void) state;
    assert_eval("inputs.n", "3");
    assert_eval("inputs.obj.a", "1");
    assert_eval("inputs.obj[\"x y\"]", "2");
    assert_eval("inputs.obj['x' + ' y']", "2");
    assert_eval("inputs.list[0]", "1");
    assert_eval("inputs.list[inputs.n - 1]", "3");
    assert_eval("nodes.plan.output.topics[1]", "\"b\"");
    assert_eval("nodes['plan'].output['topics'][0]", "\"a\"");
    assert_eval("item.url", "\"http://x\"");
    assert_eval("(inputs.obj).a", "1");
    assert_eval("[10, 20][1]", "20");
    assert_eval("{'k': 'v'}.k", "\"v\"");
    assert_eval("inputs.not", "null"); // keywords are fine after '.'
    // Missing members and indexes are null, and so is what follows them.
    assert_eval("inputs.missing", "null");
    assert_eval("inputs.missing.deeper[3].x", "null");
    assert_eval("inputs.list[3]", "null");
    assert_eval("inputs.list[-1]", "null");
    assert_eval("inputs.nul.x", "null");
    assert_error("nodez.plan", ORCS_EINVAL,
                 "unknown root 'nodez' (known: inputs, nodes, item)");
    assert_error("inputs.n.x", ORCS_EINVAL,
                 "cannot take member 'x' of a number");
    assert_error("inputs.list.x", ORCS_EINVAL,
                 "cannot take member 'x' of an array");
    assert_error("inputs.list['x']", ORCS_EINVAL,
                 "cannot take member 'x' of an array");
    assert_error("inputs.list[1.0]", ORCS_EINVAL,
                 "cannot index an array with a number");
    assert_error("inputs.obj[0]", ORCS_EINVAL,
                 "cannot index an object with a number");
    assert_error("inputs.s[0]", ORCS_EINVAL, "cannot index a string");
    assert_error("inputs.", ORCS_EPROTO,
                 "column 8: expected a member name after '.', got the end");
    assert_error("inputs[1", ORCS_EPROTO,
                 "column 9: expected ']' after index, got the end");
    // A context that is not an object has no roots.
    json_t *value = NULL;
    json_t *ctx = json_array();
    assert_int_equal(s_eval_in("x", ctx, &value), ORCS_EINVAL);
    assert_string_equal(s_err, "unknown root 'x' (known: none)");
    json_decref(ctx);
}

// ---------------------------------------------------------------------------
// Functions

static void
test_fn_collections(void **state)
{
    (void) state;
    assert_eval("len('h\xc3\xa9llo')", "5");
    assert_eval("len('')", "0");
    assert_eval("len(inputs.list)", "3");
    assert_eval("len(inputs.obj)", "2");
    assert_error("len(42)", ORCS_EINVAL,
                 "len() takes a string, array or object, got number");
    assert_error("len(null)", ORCS_EINVAL,
                 "len() takes a string, array or object, got null");
    assert_eval("keys(inputs.obj)", "[\"a\", \"x y\"]");
    assert_eval("keys({})", "[]");
    assert_error("keys([1])", ORCS_EINVAL, "keys() takes an object, got array");
    assert_eval("contains('hello', 'ell')", "true");
    assert_eval("contains('hello', 'xyz')", "false");
    assert_eval("contains('hello', '')", "true");
    assert_eval("contains(inputs.list, 2)", "true");
    assert_eval("contains(inputs.list, 2.0)", "true");
    assert_eval("contains(inputs.list, '2')", "false");
    assert_eval("contains([[1], {'a': 1}], {'a': 1})", "true");
    assert_eval("contains(inputs.obj, 'x y')", "true");
    assert_eval("contains(inputs.obj, 'b')", "false");
    assert_error("contains(1, 1)", ORCS_EINVAL,
                 "contains() takes a string, array or object as argument 1, "
                 "got number");
    assert_error("contains('abc', 1)", ORCS_EINVAL,
                 "contains() takes a string needle when the haystack is a "
                 "string, got number");
    assert_error("contains({}, null)", ORCS_EINVAL,
                 "contains() takes a string needle when the haystack is an "
                 "object, got null");
}

static void
test_fn_strings(void **state)
{
    (void) state;
    assert_eval("lower('HeLLo \xc3\x89')", "\"hello \\u00c9\"");
    assert_eval("upper('HeLLo \xc3\xa9')", "\"HELLO \\u00e9\"");
    assert_error("upper(3)", ORCS_EINVAL, "upper() takes a string, got number");
    assert_error("lower([])", ORCS_EINVAL, "lower() takes a string, got array");
    assert_eval("trim('  a b \\t\\n')", "\"a b\"");
    assert_eval("trim('   ')", "\"\"");
    assert_error("trim(null)", ORCS_EINVAL, "trim() takes a string, got null");
    assert_eval("startswith('hello', 'he')", "true");
    assert_eval("startswith('hello', 'lo')", "false");
    assert_eval("startswith('he', 'hello')", "false");
    assert_eval("startswith('x', '')", "true");
    assert_eval("endswith('hello', 'lo')", "true");
    assert_eval("endswith('hello', 'he')", "false");
    assert_eval("endswith('lo', 'hello')", "false");
    assert_error("startswith(1, 'a')", ORCS_EINVAL,
                 "startswith() takes a string as argument 1, got number");
    assert_error("endswith('a', true)", ORCS_EINVAL,
                 "endswith() takes a string as argument 2, got boolean");
    assert_eval("join(['a', 'b', 'c'], ', ')", "\"a, b, c\"");
    assert_eval("join([], ',')", "\"\"");
    assert_eval("join(['a', 1, null, true, [2], 0.5], '|')",
                "\"a|1||true|[2]|0.5\"");
    assert_error("join('abc', ',')", ORCS_EINVAL,
                 "join() takes an array as argument 1, got string");
    assert_error("join([], 1)", ORCS_EINVAL,
                 "join() takes a string as argument 2, got number");
    assert_eval("split('a,b,,c', ',')", "[\"a\", \"b\", \"\", \"c\"]");
    assert_eval("split('abc', ',')", "[\"abc\"]");
    assert_eval("split('', ',')", "[\"\"]");
    assert_eval("split('a--b--', '--')", "[\"a\", \"b\", \"\"]");
    assert_eval("split('h\xc3\xa9!', '')", "[\"h\", \"\\u00e9\", \"!\"]");
    assert_eval("split('', '')", "[]");
    assert_error("split(1, ',')", ORCS_EINVAL,
                 "split() takes a string as argument 1, got number");
    assert_error("split('a', [])", ORCS_EINVAL,
                 "split() takes a string as argument 2, got array");
}

static void
test_fn_conversions(void **state)
{
    (void) state;
    assert_eval("json({'a': [1, 'x\"y', null, 0.1, 1.0]})",
                "\"{\\\"a\\\":[1,\\\"x\\\\\\\"y\\\",null,0.1,1.0]}\"");
    assert_eval("json('a\\nb')", "\"\\\"a\\\\nb\\\"\"");
    assert_eval("json(null)", "\"null\"");
    assert_eval("from_json('{\"a\": [1, 2]}')", "{\"a\": [1, 2]}");
    assert_eval("from_json('3')", "3");
    assert_eval("from_json(json(inputs))['obj']['x y']", "2");
    assert_error("from_json('{')", ORCS_EINVAL,
                 "from_json(): invalid JSON at position 1: string or '}' "
                 "expected near end of file");
    assert_error("from_json(1)", ORCS_EINVAL,
                 "from_json() takes a string, got number");
    assert_eval("default(inputs.missing, 'x')", "\"x\"");
    assert_eval("default(inputs.n, 'x')", "3");
    assert_eval("default(false, 'x')", "false");
    assert_eval("default(inputs.n, 1 / 0)", "3"); // y is not evaluated
    assert_eval("int(3)", "3");
    assert_eval("int(3.9)", "3");
    assert_eval("int(-3.9)", "-3");
    assert_eval("int(' 42 ')", "42");
    assert_eval("int('-7.5')", "-7");
    assert_eval("int('1e3')", "1000");
    assert_eval("int(true)", "1");
    assert_eval("int(false)", "0");
    assert_error("int('abc')", ORCS_EINVAL,
                 "int() cannot read a number from \"abc\"");
    assert_error("int('0x10')", ORCS_EINVAL,
                 "int() cannot read a number from \"0x10\"");
    assert_error("int('nan')", ORCS_EINVAL,
                 "int() cannot read a number from \"nan\"");
    assert_error("int(1e300)", ORCS_EINVAL,
                 "int(): 1e+300 is out of range (int64)");
    assert_error("int(null)", ORCS_EINVAL,
                 "int() takes a string, number or boolean, got null");
    assert_error("int('99999999999999999999')", ORCS_EINVAL,
                 "int(): 1e+20 is out of range (int64)");
}

static void
test_fn_conversions2(void **state)
{
    (void) state;
    assert_eval("float(3)", "3.0");
    assert_eval("float('2.5')", "2.5");
    assert_eval("float(' 1e2')", "100.0");
    assert_eval("float(true)", "1.0");
    assert_error("float('1e999')", ORCS_EINVAL,
                 "float() cannot read a number from \"1e999\"");
    assert_error("float('inf')", ORCS_EINVAL,
                 "float() cannot read a number from \"inf\"");
    assert_error("float([])", ORCS_EINVAL,
                 "float() takes a string, number or boolean, got array");
    assert_eval("str('a')", "\"a\"");
    assert_eval("str(null)", "\"\"");
    assert_eval("str(12)", "\"12\"");
    assert_eval("str(0.1)", "\"0.1\"");
    assert_eval("str(2.0)", "\"2.0\"");
    assert_eval("str(1e20)", "\"1e+20\"");
    assert_eval("str([1, 'a'])", "\"[1,\\\"a\\\"]\"");
    assert_eval("str(true)", "\"true\"");
    assert_eval("bool(0)", "false");
    assert_eval("bool('x')", "true");
    assert_eval("bool([])", "false");
}

static void
test_fn_syntax(void **state)
{
    (void) state;
    assert_error("foo(1)", ORCS_EPROTO, "column 1: unknown function 'foo'");
    assert_error("1 + len()", ORCS_EPROTO,
                 "column 5: len() takes 1 argument, got 0");
    assert_error("split('a')", ORCS_EPROTO,
                 "column 1: split() takes 2 arguments, got 1");
    assert_error("len(1, 2, 3)", ORCS_EPROTO,
                 "column 1: len() takes 1 argument, got 3");
    assert_error("len(1 2)", ORCS_EPROTO,
                 "column 7: expected ')' after arguments, got '2'");
    assert_error("len(1", ORCS_EPROTO,
                 "column 6: expected ')' after arguments, got the end");
}

// ---------------------------------------------------------------------------
// Syntax errors and limits

static void
test_syntax_errors(void **state)
{
    (void) state;
    assert_error("", ORCS_EPROTO,
                 "column 1: expected an expression, got the end");
    assert_error("1 +", ORCS_EPROTO,
                 "column 4: expected an expression, got the end");
    assert_error("(1", ORCS_EPROTO,
                 "column 3: expected ')' to close '(' at column 1, got the "
                 "end");
    assert_error("1 2", ORCS_EPROTO,
                 "column 3: expected an operator or the end, got '2'");
    assert_error("a ! b", ORCS_EPROTO,
                 "column 3: unexpected '!' (use 'not' or '!=')");
    assert_error("a && b", ORCS_EPROTO,
                 "column 3: unexpected '&&' (use 'and')");
    assert_error("a || b", ORCS_EPROTO, "column 3: unexpected '||' (use 'or')");
    assert_error("a = b", ORCS_EPROTO,
                 "column 3: unexpected '=' (compare with '==')");
    assert_error("a # b", ORCS_EPROTO, "column 3: unexpected character '#'");
    assert_error("'\xc3\xa9' + @", ORCS_EPROTO,
                 "column 7: unexpected character '@'");
    assert_error("and", ORCS_EPROTO,
                 "column 1: expected an expression, got 'and'");
    assert_error("[1, 2", ORCS_EPROTO,
                 "column 6: expected ',' or ']' in array, got the end");
    assert_error("[1,]", ORCS_EPROTO,
                 "column 4: expected an expression, got ']'");
    assert_error("{a 1}", ORCS_EPROTO,
                 "column 4: expected ':' after key, got '1'");
    assert_error("{1: 1}", ORCS_EPROTO,
                 "column 2: expected a key (string or name) in object, got "
                 "'1'");
    assert_error("{a: 1, a: 2}", ORCS_EPROTO, "column 8: duplicate key 'a'");
    assert_error("{a: 1 b: 2}", ORCS_EPROTO,
                 "column 7: expected ',' or '}' in object, got 'b'");
}

static char *
s_repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t len = strlen(head) + strlen(unit) * n + strlen(tail);
    char *s = malloc(len + 1);
    assert_non_null(s);
    strcpy(s, head);
    for (size_t i = 0; i < n; i++)
        strcat(s, unit);
    strcat(s, tail);
    return s;
}

static orcs_status
s_parse_only(const char *src)
{
    orcs_expr_t *expr = NULL;
    orcs_status rc =
        orcs_expr_parse(src, strlen(src), &expr, s_err, sizeof s_err);
    assert_true(rc == ORCS_OK ? expr != NULL : expr == NULL);
    orcs_expr_destroy(&expr);
    return rc;
}

static void
test_depth_limit(void **state)
{
    (void) state;
    char *ok = s_repeat("", "(", 40, "1");
    char *full = s_repeat(ok, ")", 40, "");
    assert_int_equal(s_parse_only(full), ORCS_OK);
    free(ok);
    free(full);
    char *deep = s_repeat("", "(", 100, "1");
    char *src = s_repeat(deep, ")", 100, "");
    assert_int_equal(s_parse_only(src), ORCS_ETOOBIG);
    assert_non_null(strstr(s_err, "nested deeper than 64 levels"));
    assert_true(strncmp(s_err, "column ", 7) == 0);
    free(deep);
    free(src);
    char *arrays = s_repeat("", "[", 70, "");
    assert_int_equal(s_parse_only(arrays), ORCS_ETOOBIG);
    free(arrays);
    char *minus = s_repeat("", "-", 70, "x");
    assert_int_equal(s_parse_only(minus), ORCS_ETOOBIG);
    free(minus);
    char *nots = s_repeat("", "not ", 70, "x");
    assert_int_equal(s_parse_only(nots), ORCS_ETOOBIG);
    free(nots);
    char *sum = s_repeat("1", " + 1", 70, "");
    assert_int_equal(s_parse_only(sum), ORCS_ETOOBIG);
    free(sum);
    char *chain = s_repeat("a", ".b", 70, "");
    assert_int_equal(s_parse_only(chain), ORCS_ETOOBIG);
    free(chain);
    char *calls = s_repeat("", "len(", 70, "");
    assert_int_equal(s_parse_only(calls), ORCS_ETOOBIG);
    free(calls);
    // A long flat array is not deep.
    char *flat = s_repeat("[0", ",0", 1000, "]");
    assert_int_equal(s_parse_only(flat), ORCS_OK);
    free(flat);
}

static void
test_size_limit(void **state)
{
    (void) state;
    char *src = s_repeat("", " ", ORCS_EXPR_MAX_SIZE, "1");
    assert_int_equal(s_parse_only(src), ORCS_ETOOBIG);
    assert_string_equal(s_err, "column 1: expression is longer than 4096 "
                               "bytes");
    src[ORCS_EXPR_MAX_SIZE - 1] = '1';
    src[ORCS_EXPR_MAX_SIZE] = '\0';
    assert_int_equal(s_parse_only(src), ORCS_OK);
    free(src);
}

// A context with a string of size bytes as inputs.big.
static json_t *
s_big_ctx(size_t size, char fill)
{
    char *big = malloc(size);
    assert_non_null(big);
    memset(big, fill, size);
    json_t *ctx = json_pack("{s:{s:s%}}", "inputs", "big", big, size);
    free(big);
    assert_non_null(ctx);
    return ctx;
}

static void
test_result_limit(void **state)
{
    (void) state;
    json_t *ctx = s_big_ctx(ORCS_EXPR_MAX_RESULT / 2 + 1, 'a');
    json_t *value = NULL;
    assert_int_equal(s_eval_in("len(inputs.big + 'x')", ctx, &value), ORCS_OK);
    assert_int_equal(json_integer_value(value), ORCS_EXPR_MAX_RESULT / 2 + 2);
    json_decref(value);
    assert_int_equal(s_eval_in("inputs.big + inputs.big", ctx, &value),
                     ORCS_ETOOBIG);
    assert_string_equal(s_err, "string would be longer than 16777216 bytes");
    assert_int_equal(
        s_eval_in("join([inputs.big, inputs.big], '')", ctx, &value),
        ORCS_ETOOBIG);
    assert_string_equal(s_err,
                        "join(): result would be larger than 16777216 bytes");
    assert_int_equal(s_eval_in("len(split(inputs.big, ''))", ctx, &value),
                     ORCS_ETOOBIG);
    assert_string_equal(s_err, "split(): more than 1048576 pieces");
    json_decref(ctx);
    // json() escapes each quote to two bytes: 9 MB of quotes is too big.
    ctx = s_big_ctx(ORCS_EXPR_MAX_RESULT / 2 + 16, '"');
    assert_int_equal(s_eval_in("json(inputs.big)", ctx, &value), ORCS_ETOOBIG);
    assert_string_equal(s_err,
                        "json(): result would be larger than 16777216 bytes");
    json_decref(ctx);
    // Nested json() of a quote doubles its size each time.
    char *src = s_repeat("", "json(", 40, "'\"'");
    char *full = s_repeat(src, ")", 40, "");
    assert_int_equal(s_eval_in(full, NULL, &value), ORCS_ETOOBIG);
    free(src);
    free(full);
    // Array concatenation is capped in items.
    json_t *list = json_array();
    for (size_t i = 0; i < ORCS_EXPR_MAX_RESULT / 32 + 1; i++)
        json_array_append_new(list, json_null());
    ctx = json_pack("{s:{s:o}}", "inputs", "list", list);
    assert_int_equal(s_eval_in("len(inputs.list + [1])", ctx, &value), ORCS_OK);
    json_decref(value);
    assert_int_equal(s_eval_in("inputs.list + inputs.list", ctx, &value),
                     ORCS_ETOOBIG);
    assert_string_equal(s_err, "array would have more than 1048576 items");
    json_decref(ctx);
}

// ---------------------------------------------------------------------------
// Static types

typedef struct {
    int calls;
    char last[128]; // the last segments, as JSON
} s_typeof_log_t;

// inputs.n: number, inputs.s: string, inputs.list: array, inputs.o:
// object, inputs.nul: null; anything else: any.
static orcs_expr_type
s_typeof(const json_t *segments, void *arg)
{
    s_typeof_log_t *log = arg;
    if (log) {
        log->calls++;
        char *text = json_dumps(segments, JSON_COMPACT);
        snprintf(log->last, sizeof log->last, "%s", text);
        free(text);
    }
    if (json_array_size(segments) != 2
        || strcmp(json_string_value(json_array_get(segments, 0)), "inputs"))
        return ORCS_EXPR_ANY;
    const char *name = json_string_value(json_array_get(segments, 1));
    if (!name)
        return ORCS_EXPR_ANY;
    if (!strcmp(name, "n"))
        return ORCS_EXPR_NUMBER;
    if (!strcmp(name, "s"))
        return ORCS_EXPR_STRING;
    if (!strcmp(name, "list"))
        return ORCS_EXPR_ARRAY;
    if (!strcmp(name, "o"))
        return ORCS_EXPR_OBJECT;
    if (!strcmp(name, "nul"))
        return ORCS_EXPR_NULL;
    return ORCS_EXPR_ANY;
}

static orcs_status
s_infer(const char *src, orcs_expr_type *type_p)
{
    orcs_expr_t *expr = NULL;
    assert_int_equal(
        orcs_expr_parse(src, strlen(src), &expr, s_err, sizeof s_err), ORCS_OK);
    *type_p = (orcs_expr_type) 99;
    orcs_status rc =
        orcs_expr_infer(expr, s_typeof, NULL, type_p, s_err, sizeof s_err);
    orcs_expr_destroy(&expr);
    return rc;
}

static void
s_check_type(const char *src, orcs_expr_type want, const char *file, int line)
{
    orcs_expr_type type;
    orcs_status rc = s_infer(src, &type);
    if (rc != ORCS_OK || type != want)
        fprintf(stderr, "%s:%d: %s: rc %d type %d (%s)\n", file, line, src, rc,
                type, s_err);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(type, want);
}

#define assert_type(src, want) s_check_type(src, want, __FILE__, __LINE__)

static void
s_check_mismatch(const char *src,
                 const char *message,
                 const char *file,
                 int line)
{
    orcs_expr_type type;
    orcs_status rc = s_infer(src, &type);
    if (rc != ORCS_EINVAL || strcmp(s_err, message))
        fprintf(stderr, "%s:%d: %s: rc %d \"%s\"\n", file, line, src, rc,
                s_err);
    assert_int_equal(rc, ORCS_EINVAL);
    assert_string_equal(s_err, message);
    assert_int_equal(type, 99); // untouched on error
}

#define assert_mismatch(src, message) \
    s_check_mismatch(src, message, __FILE__, __LINE__)

static void
test_infer_types(void **state)
{
    (void) state;
    assert_type("null", ORCS_EXPR_NULL);
    assert_type("true", ORCS_EXPR_BOOLEAN);
    assert_type("1.5", ORCS_EXPR_NUMBER);
    assert_type("'a'", ORCS_EXPR_STRING);
    assert_type("[1]", ORCS_EXPR_ARRAY);
    assert_type("{a: 1}", ORCS_EXPR_OBJECT);
    assert_type("inputs.n", ORCS_EXPR_NUMBER);
    assert_type("inputs.x", ORCS_EXPR_ANY);
    assert_type("inputs.list[0]", ORCS_EXPR_ANY);
    assert_type("inputs.n + 1", ORCS_EXPR_NUMBER);
    assert_type("inputs.x + 1", ORCS_EXPR_NUMBER);
    assert_type("inputs.x + inputs.y", ORCS_EXPR_ANY);
    assert_type("inputs.s + inputs.x", ORCS_EXPR_STRING);
    assert_type("[1] + inputs.x", ORCS_EXPR_ARRAY);
    assert_type("inputs.x * 2", ORCS_EXPR_NUMBER);
    assert_type("-inputs.x", ORCS_EXPR_NUMBER);
    assert_type("inputs.x == 1", ORCS_EXPR_BOOLEAN);
    assert_type("'a' == 1", ORCS_EXPR_BOOLEAN); // never a mismatch
    assert_type("inputs.x < 1", ORCS_EXPR_BOOLEAN);
    assert_type("inputs.x and 1", ORCS_EXPR_BOOLEAN);
    assert_type("not inputs.x", ORCS_EXPR_BOOLEAN);
    assert_type("len(inputs.x)", ORCS_EXPR_NUMBER);
    assert_type("len(inputs.s)", ORCS_EXPR_NUMBER);
    assert_type("upper(inputs.s)", ORCS_EXPR_STRING);
    assert_type("keys(inputs.o)", ORCS_EXPR_ARRAY);
    assert_type("split(inputs.x, ',')", ORCS_EXPR_ARRAY);
    assert_type("contains(inputs.list, 1)", ORCS_EXPR_BOOLEAN);
    assert_type("contains(inputs.x, 1)", ORCS_EXPR_BOOLEAN);
    assert_type("json(1)", ORCS_EXPR_STRING);
    assert_type("from_json('1')", ORCS_EXPR_ANY);
    assert_type("default(null, 'x')", ORCS_EXPR_STRING);
    assert_type("default(inputs.nul, 1)", ORCS_EXPR_NUMBER);
    assert_type("default(inputs.n, 'x')", ORCS_EXPR_NUMBER);
    assert_type("default(inputs.x, 1)", ORCS_EXPR_ANY);
    assert_type("int(inputs.s)", ORCS_EXPR_NUMBER);
    assert_type("str(inputs.o)", ORCS_EXPR_STRING);
    assert_type("bool(inputs.o)", ORCS_EXPR_BOOLEAN);
    assert_type("inputs.nul.x", ORCS_EXPR_ANY);
    assert_type("inputs.o.x", ORCS_EXPR_ANY);
    assert_type("inputs.list[inputs.n]", ORCS_EXPR_ANY);
    // Without typeof every path is any.
    orcs_expr_t *expr = NULL;
    assert_int_equal(orcs_expr_parse("len(inputs.n)", 13, &expr, NULL, 0),
                     ORCS_OK);
    orcs_expr_type type = ORCS_EXPR_NULL;
    assert_int_equal(orcs_expr_infer(expr, NULL, NULL, &type, NULL, 0),
                     ORCS_OK);
    assert_int_equal(type, ORCS_EXPR_NUMBER);
    orcs_expr_destroy(&expr);
}

static void
test_infer_mismatches(void **state)
{
    (void) state;
    assert_mismatch("len(42)",
                    "column 5: len() takes a string, array or object, got "
                    "number");
    assert_mismatch("1 + len(inputs.n)",
                    "column 9: len() takes a string, array or object, got "
                    "number");
    assert_mismatch("'a' < 1", "column 5: cannot compare string with number "
                               "('<' takes two numbers or two strings)");
    assert_mismatch("inputs.s >= inputs.n",
                    "column 10: cannot compare string with number ('>=' "
                    "takes two numbers or two strings)");
    assert_mismatch("inputs.list < inputs.x",
                    "column 13: cannot compare array with any ('<' takes "
                    "two numbers or two strings)");
    assert_mismatch("upper(3)", "column 7: upper() takes a string, got number");
    assert_mismatch("1 + 'a'", "column 3: cannot add number and string ('+' "
                               "takes two numbers, two strings or two "
                               "arrays)");
    assert_mismatch("inputs.o + inputs.x",
                    "column 10: cannot add object and any ('+' takes two "
                    "numbers, two strings or two arrays)");
    assert_mismatch("inputs.s * 2",
                    "column 10: '*' takes two numbers, got string and number");
    assert_mismatch("-'x'", "column 1: '-' takes a number, got string");
    assert_mismatch("join(inputs.s, ',')",
                    "column 6: join() takes an array as argument 1, got "
                    "string");
    assert_mismatch("split('a', 1)",
                    "column 12: split() takes a string as argument 2, got "
                    "number");
    assert_mismatch("contains(inputs.s, 1)",
                    "column 20: contains() takes a string needle when the "
                    "haystack is a string, got number");
    assert_mismatch("keys([1])", "column 6: keys() takes an object, got array");
    assert_mismatch("int([])",
                    "column 5: int() takes a string, number or boolean, got "
                    "array");
    assert_mismatch("inputs.n.x", "column 9: cannot take member 'x' of a "
                                  "number");
    assert_mismatch("inputs.list.x",
                    "column 12: cannot take member 'x' of an array");
    assert_mismatch("inputs.s[0]", "column 9: cannot index a string");
    assert_mismatch("inputs.list['a' + inputs.x]",
                    "column 12: cannot index an array with a string");
    assert_mismatch("inputs.o[1]",
                    "column 9: cannot index an object with a number");
    assert_mismatch("[upper(1)]",
                    "column 8: upper() takes a string, got number");
    assert_mismatch("not (true and len(1) > 0)",
                    "column 19: len() takes a string, array or object, got "
                    "number");
}

static void
test_infer_typeof_calls(void **state)
{
    (void) state;
    orcs_expr_t *expr = NULL;
    const char *src = "nodes.plan.output.topics[0]";
    assert_int_equal(orcs_expr_parse(src, strlen(src), &expr, NULL, 0),
                     ORCS_OK);
    s_typeof_log_t log = {0};
    orcs_expr_type type;
    assert_int_equal(orcs_expr_infer(expr, s_typeof, &log, &type, NULL, 0),
                     ORCS_OK);
    assert_int_equal(log.calls, 5); // every prefix, then the whole path
    assert_string_equal(log.last,
                        "[\"nodes\",\"plan\",\"output\",\"topics\",0]");
    orcs_expr_destroy(&expr);
}

// ---------------------------------------------------------------------------
// Path visiting

typedef struct {
    char seen[8][128];
    int count;
    int stop_after; // 0: never
} s_paths_t;

static bool
s_on_path(const json_t *segments, void *arg)
{
    s_paths_t *paths = arg;
    char *text = json_dumps(segments, JSON_COMPACT);
    if (paths->count < 8)
        snprintf(paths->seen[paths->count], sizeof paths->seen[0], "%s", text);
    free(text);
    paths->count++;
    return paths->stop_after == 0 || paths->count < paths->stop_after;
}

static s_paths_t
s_paths(const char *src, int stop_after)
{
    orcs_expr_t *expr = NULL;
    assert_int_equal(
        orcs_expr_parse(src, strlen(src), &expr, s_err, sizeof s_err), ORCS_OK);
    s_paths_t paths = {.stop_after = stop_after};
    orcs_expr_paths(expr, s_on_path, &paths);
    orcs_expr_destroy(&expr);
    return paths;
}

static void
test_paths_visit(void **state)
{
    (void) state;
    s_paths_t p = s_paths("nodes.plan.output.topics[0] + item.url", 0);
    assert_int_equal(p.count, 2);
    assert_string_equal(p.seen[0],
                        "[\"nodes\",\"plan\",\"output\",\"topics\",0]");
    assert_string_equal(p.seen[1], "[\"item\",\"url\"]");
    p = s_paths("a[\"x y\"].z[1][2]", 0);
    assert_int_equal(p.count, 1);
    assert_string_equal(p.seen[0], "[\"a\",\"x y\",\"z\",1,2]");
    p = s_paths("a.b[c.d].e", 0); // a computed index ends the list
    assert_int_equal(p.count, 2);
    assert_string_equal(p.seen[0], "[\"a\",\"b\"]");
    assert_string_equal(p.seen[1], "[\"c\",\"d\"]");
    p = s_paths("a[b][c]", 0);
    assert_int_equal(p.count, 3);
    assert_string_equal(p.seen[0], "[\"a\"]");
    assert_string_equal(p.seen[1], "[\"b\"]");
    assert_string_equal(p.seen[2], "[\"c\"]");
    p = s_paths("len(x) > 1 and default(y.z, {k: w})", 0);
    assert_int_equal(p.count, 3);
    assert_string_equal(p.seen[0], "[\"x\"]");
    assert_string_equal(p.seen[1], "[\"y\",\"z\"]");
    assert_string_equal(p.seen[2], "[\"w\"]");
    p = s_paths("a[-1]", 0);
    assert_string_equal(p.seen[0], "[\"a\",-1]");
    p = s_paths("[1, 2][0] + {'a': 1}.a + keys(o)[0]", 0);
    assert_int_equal(p.count, 1); // only o: the others are not rooted
    assert_string_equal(p.seen[0], "[\"o\"]");
    p = s_paths("1 + 'a'", 0);
    assert_int_equal(p.count, 0);
    p = s_paths("a + b + c", 2); // stops when told
    assert_int_equal(p.count, 2);
}

static void
test_type_names(void **state)
{
    (void) state;
    assert_string_equal(orcs_expr_type_name(ORCS_EXPR_ANY), "any");
    assert_string_equal(orcs_expr_type_name(ORCS_EXPR_NULL), "null");
    assert_string_equal(orcs_expr_type_name(ORCS_EXPR_BOOLEAN), "boolean");
    assert_string_equal(orcs_expr_type_name(ORCS_EXPR_NUMBER), "number");
    assert_string_equal(orcs_expr_type_name(ORCS_EXPR_STRING), "string");
    assert_string_equal(orcs_expr_type_name(ORCS_EXPR_ARRAY), "array");
    assert_string_equal(orcs_expr_type_name(ORCS_EXPR_OBJECT), "object");
    assert_string_equal(orcs_expr_type_name((orcs_expr_type) 42), "any");
}

// ---------------------------------------------------------------------------
// Templates

// Compiles template (JSON text), renders it over the default context and
// compares with expected (JSON text).
static void
s_check_render(const char *template_text,
               const char *expected,
               const char *file,
               int line)
{
    json_t *source = s_json(template_text);
    orcs_template_t *tpl = NULL;
    orcs_status rc = orcs_template_compile(source, &tpl, s_err, sizeof s_err);
    if (rc != ORCS_OK)
        fprintf(stderr, "%s:%d: %s\n", file, line, s_err);
    assert_int_equal(rc, ORCS_OK);
    json_t *ctx = s_json(s_ctx_text);
    json_t *value = NULL;
    rc = orcs_template_render(tpl, ctx, &value, s_err, sizeof s_err);
    if (rc != ORCS_OK)
        fprintf(stderr, "%s:%d: %s\n", file, line, s_err);
    assert_int_equal(rc, ORCS_OK);
    json_t *want = s_json(expected);
    if (!json_equal(value, want)) {
        char *got = json_dumps(value, JSON_ENCODE_ANY);
        fprintf(stderr, "%s:%d: got %s, expected %s\n", file, line, got,
                expected);
        free(got);
    }
    assert_true(json_equal(value, want));
    // The source is untouched and rendering twice gives the same.
    json_t *again = NULL;
    assert_int_equal(orcs_template_render(tpl, ctx, &again, NULL, 0), ORCS_OK);
    assert_true(json_equal(again, want));
    json_decref(again);
    json_decref(want);
    json_decref(value);
    json_decref(ctx);
    json_decref(source);
    orcs_template_destroy(&tpl);
    assert_null(tpl);
}

#define assert_render(tpl, expected) \
    s_check_render(tpl, expected, __FILE__, __LINE__)

static orcs_status
s_compile(const char *template_text)
{
    json_t *source = s_json(template_text);
    orcs_template_t *tpl = NULL;
    orcs_status rc = orcs_template_compile(source, &tpl, s_err, sizeof s_err);
    assert_true(rc == ORCS_OK ? tpl != NULL : tpl == NULL);
    orcs_template_destroy(&tpl);
    json_decref(source);
    return rc;
}

static void
test_template_whole(void **state)
{
    (void) state;
    assert_render("\"${{ inputs.n }}\"", "3");
    assert_render("\"${{inputs.list}}\"", "[1, 2, 3]");
    assert_render("\"${{ inputs.obj }}\"", "{\"a\": 1, \"x y\": 2}");
    assert_render("\"${{ inputs.nul }}\"", "null");
    assert_render("\"${{ inputs.t }}\"", "true");
    assert_render("\"${{ inputs.r * 2 }}\"", "5.0");
    assert_render("\"${{ inputs.s }}\"", "\"Hello\"");
    assert_render("\"${{ {'a': {'b': [1]}} }}\"", "{\"a\": {\"b\": [1]}}");
    assert_render("\"${{ '}}' + \\\"{{\\\" }}\"", "\"}}{{\"");
}

static void
test_template_interpolated(void **state)
{
    (void) state;
    assert_render("\" ${{ inputs.n }}\"", "\" 3\"");
    assert_render("\"${{ inputs.n }}${{ inputs.n }}\"", "\"33\"");
    assert_render("\"n=${{ inputs.n }}, s=${{ inputs.s }}, nul=${{ "
                  "inputs.nul }}, l=${{ inputs.list }}, t=${{ inputs.t }}, "
                  "r=${{ inputs.r }}, o=${{ inputs.obj }}\"",
                  "\"n=3, s=Hello, nul=, l=[1,2,3], t=true, r=2.5, "
                  "o={\\\"a\\\":1,\\\"x y\\\":2}\"");
    assert_render("\"${{ 0.1 }} ${{ 1.0 }} ${{ 1e100 }}\"",
                  "\"0.1 1.0 1e+100\"");
    assert_render("\"\\u00e9 ${{ len('\\u00e9') }}\"", "\"\\u00e9 1\"");
    assert_render("\"${{ 'a' }}}\"", "\"a}\"");
}

static void
test_template_escapes(void **state)
{
    (void) state;
    assert_render("\"$${{ inputs.n }}\"", "\"${{ inputs.n }}\"");
    assert_render("\"cost: $5, ${ x }, $${{, {{ y }}\"",
                  "\"cost: $5, ${ x }, ${{, {{ y }}\"");
    assert_render("\"$${{ a }} ${{ inputs.n }}\"", "\"${{ a }} 3\"");
    assert_render("\"$$${{ inputs.n }}\"", "\"$${{ inputs.n }}\"");
    assert_render("\"}} ${{ 1 }} }}\"", "\"}} 1 }}\"");
}

static void
test_template_nested(void **state)
{
    (void) state;
    assert_render("{\"a\": [\"${{ inputs.list }}\", {\"b\": \"x${{ 1 + 1 "
                  "}}\"}], \"c\": 5, \"d\": \"plain\", \"e\": null, "
                  "\"${{ k }}\": [true, 1.5, [\"${{ item.url }}\"]]}",
                  "{\"a\": [[1, 2, 3], {\"b\": \"x2\"}], \"c\": 5, \"d\": "
                  "\"plain\", \"e\": null, \"${{ k }}\": [true, 1.5, "
                  "[\"http://x\"]]}");
    assert_render("[[[[\"${{ inputs.n }}\"]]]]", "[[[[3]]]]");
    assert_render("42", "42");
    assert_render("[]", "[]");
}

static void
test_template_constant(void **state)
{
    (void) state;
    const char *cases[] = {"\"plain\"", "42", "{\"a\": [1, \"x\"]}",
                           "\"$${{ not an expr\"", "{\"${{ k }}\": 1}"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *source = s_json(cases[i]);
        orcs_template_t *tpl = NULL;
        assert_int_equal(orcs_template_compile(source, &tpl, NULL, 0), ORCS_OK);
        assert_true(orcs_template_is_constant(tpl));
        orcs_template_destroy(&tpl);
        json_decref(source);
    }
    json_t *source = s_json("{\"a\": [1, \"x ${{ 1 }}\"]}");
    orcs_template_t *tpl = NULL;
    assert_int_equal(orcs_template_compile(source, &tpl, NULL, 0), ORCS_OK);
    assert_false(orcs_template_is_constant(tpl));
    orcs_template_destroy(&tpl);
    json_decref(source);
    assert_render("\"$${{ not an expr\"", "\"${{ not an expr\"");
}

static void
test_template_errors(void **state)
{
    (void) state;
    assert_int_equal(s_compile("{\"args\": {\"url\": \"${{ 1 + }}\"}}"),
                     ORCS_EPROTO);
    assert_string_equal(s_err, "$.args.url: column 9: expected an "
                               "expression, got the end");
    assert_int_equal(s_compile("{\"a\": [\"ok\", \"x ${{ 1\"]}"), ORCS_EPROTO);
    assert_string_equal(s_err, "$.a[1]: column 3: unclosed '${{'");
    assert_int_equal(s_compile("{\"x y\": \"\\u00e9${{ nope(1) }}\"}"),
                     ORCS_EPROTO);
    assert_string_equal(s_err, "$[\"x y\"]: column 6: unknown function 'nope'");
    assert_int_equal(s_compile("\"${{ }}\""), ORCS_EPROTO);
    assert_string_equal(s_err,
                        "$: column 5: expected an expression, got the end");
    assert_int_equal(s_compile("[\"${{ '}} ' }}\", \"${{ 'a }}\"]"),
                     ORCS_EPROTO);
    assert_string_equal(s_err, "$[1]: column 1: unclosed '${{'");
    char *deep = s_repeat("\"${{ ", "(", 100, "1 }}\"");
    assert_int_equal(s_compile(deep), ORCS_ETOOBIG);
    assert_true(strncmp(s_err, "$: column ", 10) == 0);
    free(deep);
    // Render errors name the path too.
    json_t *source =
        s_json("{\"args\": {\"ok\": 1, \"url\": \"${{ nodez.x }}\"}}");
    orcs_template_t *tpl = NULL;
    assert_int_equal(orcs_template_compile(source, &tpl, NULL, 0), ORCS_OK);
    json_t *ctx = s_json(s_ctx_text);
    json_t *value = json_true();
    assert_int_equal(
        orcs_template_render(tpl, ctx, &value, s_err, sizeof s_err),
        ORCS_EINVAL);
    assert_null(value);
    assert_string_equal(s_err, "$.args.url: unknown root 'nodez' (known: "
                               "inputs, nodes, item)");
    orcs_template_destroy(&tpl);
    json_decref(source);
    source = s_json("[\"a ${{ 1 / 0 }} b\"]");
    assert_int_equal(orcs_template_compile(source, &tpl, NULL, 0), ORCS_OK);
    assert_int_equal(
        orcs_template_render(tpl, ctx, &value, s_err, sizeof s_err),
        ORCS_EINVAL);
    assert_string_equal(s_err, "$[0]: division by zero");
    orcs_template_destroy(&tpl);
    json_decref(source);
    json_decref(ctx);
}

static void
test_template_big(void **state)
{
    (void) state;
    json_t *ctx = s_big_ctx(ORCS_EXPR_MAX_RESULT / 2 + 1, 'a');
    json_t *source = s_json("{\"x\": \"${{ inputs.big }}${{ inputs.big }}\"}");
    orcs_template_t *tpl = NULL;
    assert_int_equal(orcs_template_compile(source, &tpl, NULL, 0), ORCS_OK);
    json_t *value = NULL;
    assert_int_equal(
        orcs_template_render(tpl, ctx, &value, s_err, sizeof s_err),
        ORCS_ETOOBIG);
    assert_null(value);
    assert_string_equal(s_err, "$.x: string would be too long");
    orcs_template_destroy(&tpl);
    json_decref(source);
    json_decref(ctx);
}

typedef struct {
    char seen[8][160];
    int count;
} s_exprs_t;

static bool
s_on_expr(const orcs_expr_t *expr, const char *json_path, bool whole, void *arg)
{
    s_exprs_t *log = arg;
    json_t *value = NULL;
    json_t *ctx = s_json(s_ctx_text);
    assert_int_equal(orcs_expr_eval(expr, ctx, &value, NULL, 0), ORCS_OK);
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    if (log->count < 8)
        snprintf(log->seen[log->count], sizeof log->seen[0], "%s %s %s",
                 json_path, whole ? "whole" : "part", text);
    free(text);
    json_decref(value);
    json_decref(ctx);
    log->count++;
    return log->count < 4;
}

static void
test_template_exprs(void **state)
{
    (void) state;
    json_t *source = s_json("{\"a\": \"${{ 1 }}\", \"b\": [\"x\", \"${{ 2 }}-"
                            "${{ 3 }}\"], \"c\": {\"d e\": \"${{ 4 }}\"}, "
                            "\"f\": \"${{ 5 }}\"}");
    orcs_template_t *tpl = NULL;
    assert_int_equal(orcs_template_compile(source, &tpl, NULL, 0), ORCS_OK);
    s_exprs_t log = {0};
    orcs_template_exprs(tpl, s_on_expr, &log);
    assert_int_equal(log.count, 4); // stopped after the fourth
    assert_string_equal(log.seen[0], "$.a whole 1");
    assert_string_equal(log.seen[1], "$.b[1] part 2");
    assert_string_equal(log.seen[2], "$.b[1] part 3");
    assert_string_equal(log.seen[3], "$.c[\"d e\"] whole 4");
    orcs_template_destroy(&tpl);
    json_decref(source);
}

// Changing a result changes neither the expression nor the context.
static void
test_results_are_owned(void **state)
{
    (void) state;
    orcs_expr_t *expr = NULL;
    assert_int_equal(orcs_expr_parse("'abc'", 5, &expr, NULL, 0), ORCS_OK);
    json_t *value = NULL;
    assert_int_equal(orcs_expr_eval(expr, NULL, &value, NULL, 0), ORCS_OK);
    json_string_set(value, "changed");
    json_decref(value);
    assert_int_equal(orcs_expr_eval(expr, NULL, &value, NULL, 0), ORCS_OK);
    assert_string_equal(json_string_value(value), "abc");
    json_decref(value);
    orcs_expr_destroy(&expr);
    json_t *ctx = s_json(s_ctx_text);
    json_t *source = s_json("[\"${{ inputs.obj }}\", \"${{ inputs.n }}\"]");
    orcs_template_t *tpl = NULL;
    assert_int_equal(orcs_template_compile(source, &tpl, NULL, 0), ORCS_OK);
    assert_int_equal(orcs_template_render(tpl, ctx, &value, NULL, 0), ORCS_OK);
    json_object_set_new(json_array_get(value, 0), "new", json_true());
    json_integer_set(json_array_get(value, 1), 99);
    json_decref(value);
    json_t *fresh = s_json(s_ctx_text);
    assert_true(json_equal(ctx, fresh));
    json_decref(fresh);
    orcs_template_destroy(&tpl);
    json_decref(source);
    json_decref(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_int_overflow),
        cmocka_unit_test(test_comparison),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_truthiness),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_paths_eval),
        cmocka_unit_test(test_fn_collections),
        cmocka_unit_test(test_fn_strings),
        cmocka_unit_test(test_fn_conversions),
        cmocka_unit_test(test_fn_conversions2),
        cmocka_unit_test(test_fn_syntax),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_result_limit),
        cmocka_unit_test(test_infer_types),
        cmocka_unit_test(test_infer_mismatches),
        cmocka_unit_test(test_infer_typeof_calls),
        cmocka_unit_test(test_paths_visit),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_template_whole),
        cmocka_unit_test(test_template_interpolated),
        cmocka_unit_test(test_template_escapes),
        cmocka_unit_test(test_template_nested),
        cmocka_unit_test(test_template_constant),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_template_big),
        cmocka_unit_test(test_template_exprs),
        cmocka_unit_test(test_results_are_owned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
