/*  test_doc.c — MessagePack <-> json_t codec and JSON text.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "orcs/doc.h"

// Encodes doc, decodes the bytes with default limits, checks the result is
// equal to doc and returns it (caller decrefs).
static json_t *
s_round_trip(const json_t *doc)
{
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_OK);
    assert_non_null(data);
    assert_true(size > 0);
    json_t *copy = NULL;
    assert_int_equal(orcs_doc_decode(data, size, NULL, &copy), ORCS_OK);
    assert_non_null(copy);
    assert_true(json_equal(doc, copy));
    free(data);
    return copy;
}

// Round-trips doc, checks the copy has the same type, and steals doc.
static void
s_check_round_trip(json_t *doc)
{
    json_t *copy = s_round_trip(doc);
    assert_int_equal(json_typeof(copy), json_typeof(doc));
    json_decref(copy);
    json_decref(doc);
}

// Decodes size bytes and returns the status; checks the out-param contract
// (set exactly when OK) and frees the result.
static orcs_status
s_decode_status(const void *bytes, size_t size, const orcs_doc_limits_t *limits)
{
    json_t *doc = json_true(); // must be overwritten either way
    orcs_status rc = orcs_doc_decode(bytes, size, limits, &doc);
    if (rc == ORCS_OK)
        assert_non_null(doc);
    else
        assert_null(doc);
    json_decref(doc);
    return rc;
}

#define S_DECODE(literal) s_decode_status(literal, sizeof literal - 1, NULL)

// Nested one-element arrays, depth levels deep, around a nil.
static size_t
s_nested_arrays(uint8_t *buf, size_t depth)
{
    memset(buf, 0x91, depth);
    buf[depth] = 0xc0;
    return depth + 1;
}

static json_t *
s_nested_doc(size_t depth)
{
    json_t *doc = json_null();
    for (size_t i = 0; i < depth; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, doc);
        doc = outer;
    }
    return doc;
}

static void
test_doc_round_trips_null_and_booleans(void **state)
{
    (void) state;
    s_check_round_trip(json_null());
    s_check_round_trip(json_true());
    s_check_round_trip(json_false());
}

static void
test_doc_round_trips_integers(void **state)
{
    (void) state;
    static const json_int_t values[] = {
        0,           1,         -1,       127,       128,       -32,
        -33,         255,       256,      -128,      -129,      65535,
        65536,       -32768,    -32769,   INT32_MAX, INT32_MIN, UINT32_MAX,
        -4294967295, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_t *doc = json_integer(values[i]);
        json_t *copy = s_round_trip(doc);
        assert_true(json_is_integer(copy));
        assert_true(json_integer_value(copy) == values[i]);
        json_decref(copy);
        json_decref(doc);
    }
}

static void
test_doc_round_trips_reals(void **state)
{
    (void) state;
    static const double values[] = {0.5,   -1e300,  0.0,     1.0,
                                    -2.25, DBL_MIN, DBL_MAX, 3.141592653589793};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_t *doc = json_real(values[i]);
        json_t *copy = s_round_trip(doc);
        assert_true(json_is_real(copy)); // 1.0 stays a real
        assert_true(json_real_value(copy) == values[i]);
        json_decref(copy);
        json_decref(doc);
    }
}

static void
test_doc_round_trips_strings(void **state)
{
    (void) state;
    s_check_round_trip(json_string(""));
    s_check_round_trip(json_string("hello"));
    s_check_round_trip(
        json_string("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x8e\x89"));

    json_t *nul = json_stringn("a\0b", 3);
    json_t *copy = s_round_trip(nul);
    assert_int_equal(json_string_length(copy), 3);
    assert_memory_equal(json_string_value(copy), "a\0b", 3);
    json_decref(copy);
    json_decref(nul);

    // str8, str16 and str32 forms.
    static const size_t sizes[] = {31, 32, 255, 256, 65535, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *text = malloc(sizes[i]);
        memset(text, 'x', sizes[i]);
        s_check_round_trip(json_stringn(text, sizes[i]));
        free(text);
    }
}

static void
test_doc_round_trips_containers(void **state)
{
    (void) state;
    s_check_round_trip(json_array());
    s_check_round_trip(json_object());
    s_check_round_trip(json_pack("{s:[i,s,{s:[]},[[{}]]],s:{s:{s:n}},s:b,s:f}",
                                 "list", 1, "two", "x", "deep", "obj", "a",
                                 "yes", 1, "r", 0.5));

    // Sizes that need array16/map16 and array32/map32 headers.
    static const size_t sizes[] = {15, 16, 65535, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        json_t *array = json_array();
        json_t *object = json_object();
        for (size_t j = 0; j < sizes[i]; j++) {
            char key[32];
            snprintf(key, sizeof key, "k%zu", j);
            json_array_append_new(array, json_integer((json_int_t) j));
            json_object_set_new(object, key, json_integer((json_int_t) j));
        }
        s_check_round_trip(array);
        s_check_round_trip(object);
    }
}

static void
test_doc_round_trip_keeps_key_order(void **state)
{
    (void) state;
    json_t *doc = json_object();
    json_object_set_new(doc, "zeta", json_integer(1));
    json_object_set_new(doc, "alpha", json_integer(2));
    json_object_set_new(doc, "mu", json_integer(3));
    json_t *copy = s_round_trip(doc);
    char *text = json_dumps(copy, JSON_COMPACT);
    assert_string_equal(text, "{\"zeta\":1,\"alpha\":2,\"mu\":3}");
    free(text);
    json_decref(copy);
    json_decref(doc);
}

static void
test_doc_rejects_keys_with_nul(void **state)
{
    (void) state;
    // jansson's json_object_get and json_equal would see "a".
    assert_int_equal(S_DECODE("\x81\xa3"
                              "a\0b\x01"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x82\xa1"
                              "a\x01\xa2"
                              "a\0\x02"),
                     ORCS_EPROTO);
    json_t *doc = json_object();
    json_object_setn_new(doc, "a\0b", 3, json_integer(3));
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_EINVAL);
    assert_null(data);
    json_decref(doc);
}

static void
test_doc_round_trips_binary(void **state)
{
    (void) state;
    static const uint8_t bytes[] = {0x00, 0x01, 0xc0, 0xff, 0x80, 0x00};
    json_t *binary = orcs_doc_binary_new(bytes, sizeof bytes);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(binary, &data, &size), ORCS_OK);
    assert_int_equal(size, 2 + sizeof bytes);
    assert_int_equal(data[0], 0xc4); // bin 8, not a map
    free(data);

    json_t *copy = s_round_trip(binary);
    assert_true(orcs_doc_is_binary(copy));
    size_t copy_size = 0;
    const uint8_t *copy_bytes = orcs_doc_binary_data(copy, &copy_size);
    assert_int_equal(copy_size, sizeof bytes);
    assert_memory_equal(copy_bytes, bytes, sizeof bytes);
    json_decref(copy);
    json_decref(binary);
}

static void
test_doc_round_trips_empty_and_utf8_looking_binary(void **state)
{
    (void) state;
    json_t *empty = orcs_doc_binary_new(NULL, 0);
    assert_true(orcs_doc_is_binary(empty));
    json_t *copy = s_round_trip(empty);
    size_t size = 99;
    assert_non_null(orcs_doc_binary_data(copy, &size));
    assert_int_equal(size, 0);
    json_decref(copy);
    json_decref(empty);

    static const char text[] = "h\xc3\xa9llo";
    json_t *doc = json_pack("{s:o,s:[o]}", "blob",
                            orcs_doc_binary_new(text, sizeof text - 1), "list",
                            orcs_doc_binary_new(text, sizeof text - 1));
    copy = s_round_trip(doc);
    json_t *blob = json_object_get(copy, "blob");
    assert_true(orcs_doc_is_binary(blob));
    assert_false(json_is_string(blob));
    assert_true(
        orcs_doc_is_binary(json_array_get(json_object_get(copy, "list"), 0)));
    json_decref(copy);
    json_decref(doc);
}

static void
test_doc_objects_with_binary_like_keys_stay_objects(void **state)
{
    (void) state;
    // "\303\200bin" is "Àbin": valid UTF-8 that shares the tail of the key.
    static const char *const keys[] = {"$binary", "bin", "\303\200bin"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *doc = json_pack("{s:s}", keys[i], "x");
        assert_false(orcs_doc_is_binary(doc));
        json_t *copy = s_round_trip(doc);
        assert_false(orcs_doc_is_binary(copy));
        assert_string_equal(json_string_value(json_object_get(copy, keys[i])),
                            "x");
        json_decref(copy);
        json_decref(doc);
    }
}

static void
test_doc_decode_accepts_every_wire_form(void **state)
{
    (void) state;
    static const struct {
        const char *bytes;
        size_t size;
        const char *json;
    } cases[] = {
#define CASE(bytes, json) {bytes, sizeof bytes - 1, json}
        CASE("\x05", "5"),
        CASE("\xff", "-1"),
        CASE("\xcc\xff", "255"),
        CASE("\xcd\x01\x00", "256"),
        CASE("\xce\x00\x01\x00\x00", "65536"),
        CASE("\xcf\x00\x00\x00\x00\x00\x00\x00\x07", "7"),
        CASE("\xd0\x80", "-128"),
        CASE("\xd0\x7f", "127"),
        CASE("\xd1\x80\x00", "-32768"),
        CASE("\xd2\xff\xff\xff\xfe", "-2"),
        CASE("\xd3\xff\xff\xff\xff\xff\xff\xff\xfd", "-3"),
        CASE("\xca\x3f\x00\x00\x00", "0.5"),
        CASE("\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00", "0.5"),
        CASE("\xd9\x01x", "\"x\""),
        CASE("\xda\x00\x01x", "\"x\""),
        CASE("\xdb\x00\x00\x00\x01x", "\"x\""),
        CASE("\xdc\x00\x01\xc3", "[true]"),
        CASE("\xdd\x00\x00\x00\x01\xc2", "[false]"),
        CASE("\xde\x00\x01\xa1k\xc0", "{\"k\":null}"),
        CASE("\xdf\x00\x00\x00\x01\xd9\x01k\x01", "{\"k\":1}"),
        CASE("\x81\xda\x00\x01k\x01", "{\"k\":1}"),
        CASE("\x81\xdb\x00\x00\x00\x01k\x01", "{\"k\":1}"),
#undef CASE
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = NULL;
        assert_int_equal(orcs_doc_decode((const uint8_t *) cases[i].bytes,
                                         cases[i].size, NULL, &doc),
                         ORCS_OK);
        json_t *expected = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(expected);
        assert_true(json_equal(doc, expected));
        json_decref(expected);
        json_decref(doc);
    }
    static const char *const bins[] = {"\xc4\x02\x00\xff",
                                       "\xc5\x00\x02\x00\xff",
                                       "\xc6\x00\x00\x00\x02\x00\xff"};
    static const size_t bin_sizes[] = {4, 5, 7};
    for (size_t i = 0; i < 3; i++) {
        json_t *doc = NULL;
        assert_int_equal(orcs_doc_decode((const uint8_t *) bins[i],
                                         bin_sizes[i], NULL, &doc),
                         ORCS_OK);
        size_t size = 0;
        const uint8_t *bytes = orcs_doc_binary_data(doc, &size);
        assert_int_equal(size, 2);
        assert_memory_equal(bytes, "\x00\xff", 2);
        json_decref(doc);
    }
}

static void
test_doc_decode_rejects_truncated_input(void **state)
{
    (void) state;
    json_t *doc =
        json_pack("{s:[i,f,s],s:o,s:I}", "a", 300, 0.5, "text", "b",
                  orcs_doc_binary_new("xyz", 3), "c", (json_int_t) INT64_MIN);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_OK);
    for (size_t cut = 0; cut < size; cut++)
        assert_int_equal(s_decode_status(data, cut, NULL), ORCS_EPROTO);
    assert_int_equal(s_decode_status(data, size, NULL), ORCS_OK);
    assert_int_equal(s_decode_status(NULL, 0, NULL), ORCS_EPROTO);
    free(data);
    json_decref(doc);
}

static void
test_doc_decode_rejects_trailing_bytes(void **state)
{
    (void) state;
    assert_int_equal(S_DECODE("\xc0\xc0"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x91\x01\x02"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x80\x00"), ORCS_EPROTO);
}

static size_t s_alloc_count;

static void *
s_counting_malloc(size_t size)
{
    s_alloc_count++;
    return malloc(size);
}

static void
test_doc_decode_rejects_huge_declared_counts_without_allocating(void **state)
{
    (void) state;
    static const char *const inputs[] = {
        "\xdd\xff\xff\xff\xff", // array32, 2^32-1 elements
        "\xdf\xff\xff\xff\xff", // map32, 2^32-1 entries
        "\xdb\xff\xff\xff\xff", // str32, 4 GiB
        "\xc6\xff\xff\xff\xff", // bin32, 4 GiB
        "\xdc\xff\xff\xc0",     // array16, 65535 elements in 1 byte
        "\x9f\xc0",             // fixarray of 15 in 1 byte
        "\x82\xa1k\x01",        // map of 2 in 3 bytes
    };
    json_set_alloc_funcs(s_counting_malloc, free);
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        s_alloc_count = 0;
        assert_int_equal(s_decode_status(inputs[i], strlen(inputs[i]), NULL),
                         ORCS_EPROTO);
        assert_int_equal(s_alloc_count, 0);
    }
    json_set_alloc_funcs(malloc, free);
}

static void
test_doc_decode_rejects_non_string_keys(void **state)
{
    (void) state;
    assert_int_equal(S_DECODE("\x81\x01\x02"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x81\xc0\x02"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x81\xc4\x01k\x02"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x81\x90\x02"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x82\xa1k\x01\x05\x02"), ORCS_EPROTO);
}

static void
test_doc_decode_rejects_duplicate_keys(void **state)
{
    (void) state;
    assert_int_equal(S_DECODE("\x82\xa1k\x01\xa1k\x02"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x82\xa1k\x01\xa1j\x02"), ORCS_OK);
}

static void
test_doc_decode_rejects_invalid_utf8(void **state)
{
    (void) state;
    assert_int_equal(S_DECODE("\xa2\xc3\x28"), ORCS_EPROTO);     // bad tail
    assert_int_equal(S_DECODE("\xa2\xc0\x80"), ORCS_EPROTO);     // overlong NUL
    assert_int_equal(S_DECODE("\xa3\xed\xa0\x80"), ORCS_EPROTO); // surrogate
    assert_int_equal(S_DECODE("\xa4\xf4\x90\x80\x80"), ORCS_EPROTO); // >10FFFF
    assert_int_equal(S_DECODE("\xa1\xff"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xa2\xe2\x9c"), ORCS_EPROTO); // cut short
    assert_int_equal(S_DECODE("\xa9"
                              "abcdefgh\x80"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x81\xa4\xc0"
                              "bin\x01"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xa4\xf4\x8f\xbf\xbf"), ORCS_OK); // U+10FFFF
    assert_int_equal(S_DECODE("\xa1\x00"), ORCS_OK);             // NUL is fine
}

static void
test_doc_decode_rejects_extension_types(void **state)
{
    (void) state;
    assert_int_equal(S_DECODE("\xd4\x01\x00"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xd8\x01"
                              "0123456789abcdef"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xc7\x01\x01\x00"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xc9\x00\x00\x00\x01\x01\x00"), ORCS_EPROTO);
    // Timestamps are ext -1.
    assert_int_equal(S_DECODE("\xd6\xff\x00\x00\x00\x00"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xc1"), ORCS_EPROTO); // never used
}

static void
test_doc_decode_rejects_integers_above_int64_max(void **state)
{
    (void) state;
    assert_int_equal(S_DECODE("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"),
                     ORCS_EPROTO);
    json_t *doc = NULL;
    assert_int_equal(
        orcs_doc_decode(
            (const uint8_t *) "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9, NULL,
            &doc),
        ORCS_OK);
    assert_true(json_integer_value(doc) == INT64_MAX);
    json_decref(doc);
}

static void
test_doc_decode_rejects_nan_and_infinity(void **state)
{
    (void) state;
    assert_int_equal(S_DECODE("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xcb\xff\xf0\x00\x00\x00\x00\x00\x00"),
                     ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xca\x7f\xc0\x00\x00"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\xca\x7f\x80\x00\x00"), ORCS_EPROTO);
    assert_int_equal(S_DECODE("\x91\xca\xff\x80\x00\x00"), ORCS_EPROTO);
}

static void
test_doc_decode_rejects_depth_over_limit(void **state)
{
    (void) state;
    uint8_t buf[ORCS_DOC_MAX_DEPTH + 2];
    size_t size = s_nested_arrays(buf, ORCS_DOC_MAX_DEPTH);
    assert_int_equal(s_decode_status(buf, size, NULL), ORCS_OK);
    size = s_nested_arrays(buf, ORCS_DOC_MAX_DEPTH + 1);
    assert_int_equal(s_decode_status(buf, size, NULL), ORCS_ETOOBIG);

    orcs_doc_limits_t limits = {.max_depth = 2};
    assert_int_equal(s_decode_status("\x91\x91\x01", 3, &limits), ORCS_OK);
    assert_int_equal(s_decode_status("\x91\x91\x91\x01", 4, &limits),
                     ORCS_ETOOBIG);
    assert_int_equal(s_decode_status("\x81\xa1k\x81\xa1k\x80", 7, &limits),
                     ORCS_ETOOBIG);
    // Siblings do not add up: depth is per path.
    assert_int_equal(s_decode_status("\x92\x91\x01\x91\x01", 5, &limits),
                     ORCS_OK);
}

static void
test_doc_decode_caps_depth_at_hard_limit(void **state)
{
    (void) state;
    enum { DEPTH = 5000 };
    uint8_t *buf = malloc(DEPTH + 1);
    size_t size = s_nested_arrays(buf, DEPTH);
    orcs_doc_limits_t limits = {.max_depth = 100000};
    assert_int_equal(s_decode_status(buf, size, &limits), ORCS_ETOOBIG);
    free(buf);
}

static void
test_doc_decode_rejects_size_over_limit(void **state)
{
    (void) state;
    orcs_doc_limits_t limits = {.max_size = 4};
    assert_int_equal(s_decode_status("\x93\x01\x02\x03", 4, &limits), ORCS_OK);
    assert_int_equal(s_decode_status("\x94\x01\x02\x03\x04", 5, &limits),
                     ORCS_ETOOBIG);
    // Size is checked first, even for input that is also malformed.
    assert_int_equal(s_decode_status("\xc1\xc1\xc1\xc1\xc1", 5, &limits),
                     ORCS_ETOOBIG);
}

static void
test_doc_decode_rejects_element_count_over_limit(void **state)
{
    (void) state;
    orcs_doc_limits_t limits = {.max_elements = 3}; // root counts as one
    assert_int_equal(s_decode_status("\x92\x01\x02", 3, &limits), ORCS_OK);
    assert_int_equal(s_decode_status("\x93\x01\x02\x03", 4, &limits),
                     ORCS_ETOOBIG);
    assert_int_equal(s_decode_status("\x91\x92\x01\x02", 4, &limits),
                     ORCS_ETOOBIG);
    assert_int_equal(s_decode_status("\x81\xa1k\x91\x01", 5, &limits), ORCS_OK);
    assert_int_equal(s_decode_status("\x82\xa1k\x01\xa1j\x91\x01", 8, &limits),
                     ORCS_ETOOBIG);
}

static void
test_doc_encode_rejects_depth_over_limit(void **state)
{
    (void) state;
    json_t *ok = s_nested_doc(ORCS_DOC_MAX_DEPTH);
    json_decref(s_round_trip(ok));
    json_decref(ok);

    json_t *deep = s_nested_doc(ORCS_DOC_MAX_DEPTH + 1);
    static uint8_t sentinel[1];
    uint8_t *data = sentinel; // must be overwritten
    size_t size = 7;
    assert_int_equal(orcs_doc_encode(deep, &data, &size), ORCS_EINVAL);
    assert_null(data);
    assert_int_equal(size, 0);
    json_decref(deep);
}

static void
test_doc_encode_rejects_cycle(void **state)
{
    (void) state;
    json_t *outer = json_array();
    json_t *inner = json_array();
    json_array_append(outer, inner);
    json_array_append(inner, outer); // jansson allows indirect cycles
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(outer, &data, &size), ORCS_EINVAL);
    assert_null(data);
    json_array_clear(inner);
    json_decref(inner);
    json_decref(outer);
}

static void
test_doc_encode_uses_compact_forms(void **state)
{
    (void) state;
    json_t *doc = json_pack("{s:i,s:I}", "a", 1, "b", (json_int_t) -1);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_OK);
    assert_int_equal(size, 7);
    assert_memory_equal(data,
                        "\x82\xa1"
                        "a\x01\xa1"
                        "b\xff",
                        7);
    free(data);
    json_decref(doc);
}

static void
test_doc_to_text_shows_binary_as_base64(void **state)
{
    (void) state;
    json_t *doc =
        json_pack("{s:o,s:[i,o],s:s}", "data", orcs_doc_binary_new("hi\xff", 3),
                  "list", 1, orcs_doc_binary_new(NULL, 0), "s", "plain");
    char *text = orcs_doc_to_text(doc, JSON_COMPACT);
    assert_string_equal(text, "{\"data\":{\"$binary\":\"aGn/\"},"
                              "\"list\":[1,{\"$binary\":\"\"}],"
                              "\"s\":\"plain\"}");
    free(text);
    // The document itself is unchanged.
    assert_true(orcs_doc_is_binary(json_object_get(doc, "data")));
    json_decref(doc);

    json_t *binary = orcs_doc_binary_new("\x00\x01\x02\x03", 4);
    text = orcs_doc_to_text(binary, JSON_COMPACT);
    assert_string_equal(text, "{\"$binary\":\"AAECAw==\"}");
    free(text);
    json_decref(binary);
}

static void
test_doc_to_text_dumps_plain_documents_and_scalars(void **state)
{
    (void) state;
    json_t *doc = json_pack("{s:[i,s]}", "a", 1, "x");
    char *text = orcs_doc_to_text(doc, JSON_COMPACT);
    char *expected = json_dumps(doc, JSON_COMPACT);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
    json_decref(doc);

    json_t *scalar = json_integer(5);
    text = orcs_doc_to_text(scalar, 0);
    assert_string_equal(text, "5");
    free(text);
    json_decref(scalar);

    json_t *nul = json_stringn("a\0b", 3);
    text = orcs_doc_to_text(nul, 0);
    assert_string_equal(text, "\"a\\u0000b\"");
    free(text);
    json_decref(nul);
}

static void
test_doc_binary_data_returns_null_for_other_values(void **state)
{
    (void) state;
    json_t *values[] = {
        json_string("bytes"),
        json_array(),
        json_object(),
        json_pack("{s:s}", "$binary", "AAEC"),
        json_pack("{s:s,s:s}", "a", "b", "c", "d"),
        json_integer(1),
        json_null(),
    };
    // A binary key with a non-string value, and binary plus another key.
    json_t *odd = json_object();
    json_object_set_new_nocheck(odd, ORCS_DOC_BINARY_KEY, json_integer(1));
    json_t *extra = orcs_doc_binary_new("x", 1);
    json_object_set_new(extra, "other", json_null());
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        size_t size = 99;
        assert_null(orcs_doc_binary_data(values[i], &size));
        assert_int_equal(size, 0);
        assert_false(orcs_doc_is_binary(values[i]));
        json_decref(values[i]);
    }
    assert_null(orcs_doc_binary_data(odd, NULL));
    assert_null(orcs_doc_binary_data(extra, NULL));
    assert_null(orcs_doc_binary_data(NULL, NULL));
    assert_false(orcs_doc_is_binary(NULL));
    json_decref(odd);
    json_decref(extra);
}

// ---- decoding all but one member, which is hashed

// Encodes body, decodes it hashing "doc"; checks the rest and the hash
// against the plain decoder and orcs_doc_hash.
static void
s_check_hashing(json_t *body)
{
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(body, &data, &size), ORCS_OK);
    json_t *rest = NULL;
    uint8_t hash[ORCS_DOC_HASH_SIZE];
    bool found = false;
    assert_int_equal(
        orcs_doc_decode_hashing(data, size, NULL, "doc", &rest, hash, &found),
        ORCS_OK);
    json_t *doc = json_object_get(body, "doc");
    assert_int_equal(found, doc != NULL);
    json_t *without = json_deep_copy(body);
    json_object_del(without, "doc");
    assert_true(json_equal(without, rest));
    if (doc) {
        uint8_t expect[ORCS_DOC_HASH_SIZE];
        assert_true(orcs_doc_hash(doc, expect));
        assert_memory_equal(expect, hash, sizeof hash);
    }
    json_decref(without);
    json_decref(rest);
    free(data);
    json_decref(body);
}

static orcs_status
s_hashing_status(const void *bytes, size_t size)
{
    json_t *rest = NULL;
    uint8_t hash[ORCS_DOC_HASH_SIZE];
    bool found = false;
    orcs_status rc =
        orcs_doc_decode_hashing(bytes, size, NULL, "doc", &rest, hash, &found);
    assert_int_equal(rc == ORCS_OK, rest != NULL);
    json_decref(rest);
    return rc;
}

static void
test_doc_decode_hashing_matches_the_hash_of_the_decoded_member(void **state)
{
    (void) state;
    s_check_hashing(json_pack(
        "{s:s, s:{s:s, s:[i, I, I, f, b, b, n], s:{s:{s:[]}}, s:o}, s:{}}",
        "run", "r-1", "doc", "workflow", "w", "mixed", -5,
        (json_int_t) INT64_MAX, (json_int_t) INT64_MIN, 2.5, 1, 0, "nested",
        "deep", "list", "bin", orcs_doc_binary_new("\0\1\2", 3), "inputs"));
    s_check_hashing(json_pack("{s:i, s:s}", "x", 1, "doc", "just a string"));
    s_check_hashing(json_pack("{s:i}", "no", 1)); // no "doc" member
    // key order counts: the same members in another order hash differently
    uint8_t a[ORCS_DOC_HASH_SIZE], b[ORCS_DOC_HASH_SIZE];
    json_t *one = json_pack("{s:i, s:i}", "x", 1, "y", 2);
    json_t *two = json_pack("{s:i, s:i}", "y", 2, "x", 1);
    assert_true(orcs_doc_hash(one, a));
    assert_true(orcs_doc_hash(two, b));
    assert_memory_not_equal(a, b, sizeof a);
    json_decref(two);
    two = json_pack("{s:i, s:i}", "x", 1, "y", 2);
    assert_true(orcs_doc_hash(two, b));
    assert_memory_equal(a, b, sizeof a);
    // 1 and 1.0 are different values
    json_decref(two);
    two = json_pack("{s:f, s:i}", "x", 1.0, "y", 2);
    assert_true(orcs_doc_hash(two, b));
    assert_memory_not_equal(a, b, sizeof a);
    json_decref(one);
    json_decref(two);
}

static void
test_doc_decode_hashing_reads_float32_as_the_decoder_does(void **state)
{
    (void) state;
    // {"doc": float32 1.5}
    const uint8_t bytes[] = {0x81, 0xa3, 'd',  'o',  'c',
                             0xca, 0x3f, 0xc0, 0x00, 0x00};
    json_t *rest = NULL;
    uint8_t hash[ORCS_DOC_HASH_SIZE], expect[ORCS_DOC_HASH_SIZE];
    bool found = false;
    assert_int_equal(orcs_doc_decode_hashing(bytes, sizeof bytes, NULL, "doc",
                                             &rest, hash, &found),
                     ORCS_OK);
    assert_true(found);
    assert_int_equal(json_object_size(rest), 0);
    json_t *real = json_real(1.5);
    assert_true(orcs_doc_hash(real, expect));
    assert_memory_equal(expect, hash, sizeof hash);
    json_decref(real);
    json_decref(rest);
}

static void
test_doc_decode_hashing_refuses_what_decoding_refuses(void **state)
{
    (void) state;
    const uint8_t array[] = {0x91, 0x01}; // [1]: not a map
    assert_int_equal(s_hashing_status(array, sizeof array), ORCS_EPROTO);
    const uint8_t twice[] = {0x82, 0xa3, 'd', 'o', 'c', 0x01,
                             0xa3, 'd',  'o', 'c', 0x02}; // "doc" twice
    assert_int_equal(s_hashing_status(twice, sizeof twice), ORCS_EPROTO);
    const uint8_t rest_twice[] = {0x82, 0xa1, 'x', 0x01, 0xa1, 'x', 0x02};
    assert_int_equal(s_hashing_status(rest_twice, sizeof rest_twice),
                     ORCS_EPROTO);
    const uint8_t big[] = {0x81, 0xa3, 'd',  'o',  'c',  0xcf, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(s_hashing_status(big, sizeof big), ORCS_EPROTO);
    const uint8_t bad_utf8[] = {0x81, 0xa3, 'd', 'o', 'c', 0xa1, 0xff};
    assert_int_equal(s_hashing_status(bad_utf8, sizeof bad_utf8), ORCS_EPROTO);
    const uint8_t nan[] = {0x81, 0xa3, 'd',  'o',  'c',
                           0xca, 0x7f, 0xc0, 0x00, 0x00};
    assert_int_equal(s_hashing_status(nan, sizeof nan), ORCS_EPROTO);
    const uint8_t trailing[] = {0x81, 0xa3, 'd', 'o', 'c', 0x01, 0x01};
    assert_int_equal(s_hashing_status(trailing, sizeof trailing), ORCS_EPROTO);
    const uint8_t cut[] = {0x81, 0xa3, 'd', 'o', 'c', 0x92, 0x01};
    assert_int_equal(s_hashing_status(cut, sizeof cut), ORCS_EPROTO);
    assert_int_equal(s_hashing_status(NULL, 0), ORCS_EPROTO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_round_trips_null_and_booleans),
        cmocka_unit_test(test_doc_round_trips_integers),
        cmocka_unit_test(test_doc_round_trips_reals),
        cmocka_unit_test(test_doc_round_trips_strings),
        cmocka_unit_test(test_doc_round_trips_containers),
        cmocka_unit_test(test_doc_round_trip_keeps_key_order),
        cmocka_unit_test(test_doc_rejects_keys_with_nul),
        cmocka_unit_test(test_doc_round_trips_binary),
        cmocka_unit_test(test_doc_round_trips_empty_and_utf8_looking_binary),
        cmocka_unit_test(test_doc_objects_with_binary_like_keys_stay_objects),
        cmocka_unit_test(test_doc_decode_accepts_every_wire_form),
        cmocka_unit_test(test_doc_decode_rejects_truncated_input),
        cmocka_unit_test(test_doc_decode_rejects_trailing_bytes),
        cmocka_unit_test(
            test_doc_decode_rejects_huge_declared_counts_without_allocating),
        cmocka_unit_test(test_doc_decode_rejects_non_string_keys),
        cmocka_unit_test(test_doc_decode_rejects_duplicate_keys),
        cmocka_unit_test(test_doc_decode_rejects_invalid_utf8),
        cmocka_unit_test(test_doc_decode_rejects_extension_types),
        cmocka_unit_test(test_doc_decode_rejects_integers_above_int64_max),
        cmocka_unit_test(test_doc_decode_rejects_nan_and_infinity),
        cmocka_unit_test(test_doc_decode_rejects_depth_over_limit),
        cmocka_unit_test(test_doc_decode_caps_depth_at_hard_limit),
        cmocka_unit_test(test_doc_decode_rejects_size_over_limit),
        cmocka_unit_test(test_doc_decode_rejects_element_count_over_limit),
        cmocka_unit_test(test_doc_encode_rejects_depth_over_limit),
        cmocka_unit_test(test_doc_encode_rejects_cycle),
        cmocka_unit_test(test_doc_encode_uses_compact_forms),
        cmocka_unit_test(test_doc_to_text_shows_binary_as_base64),
        cmocka_unit_test(test_doc_to_text_dumps_plain_documents_and_scalars),
        cmocka_unit_test(test_doc_binary_data_returns_null_for_other_values),
        cmocka_unit_test(
            test_doc_decode_hashing_matches_the_hash_of_the_decoded_member),
        cmocka_unit_test(
            test_doc_decode_hashing_reads_float32_as_the_decoder_does),
        cmocka_unit_test(test_doc_decode_hashing_refuses_what_decoding_refuses),
    };
    return cmocka_run_group_tests_name("orcs_doc", tests, NULL, NULL);
}
