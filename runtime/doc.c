/*  doc.c — documents: MessagePack <-> jansson json_t, and JSON text.
    SPDX-License-Identifier: MPL-2.0

    Encoding uses msgpack-c's packer. Decoding does not use msgpack_unpack:
    - its parse stack is fixed at MSGPACK_EMBED_STACK_SIZE (32, compiled into
      the library), so it fails anything nested deeper than 32 with NOMEM,
      while the default depth limit here is 64;
    - it allocates for a declared array or map count before it reads the
      elements (5 bytes can ask for 128 GiB), so it would need a validating
      pass over every header first, after which its msgpack_object tree (a
      zone allocation and a second walk) only adds time on the hot path.
    Instead one bounded pass reads the bytes straight into json_t. Every
    count and length is checked against the bytes left before anything is
    allocated, so memory stays proportional to the input size. */
#include "orcs/doc.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>

#include "orcs/sys.h"
#include "runtime/doc_hash.h"

// Decoding recurses once per nesting level; whatever the caller's
// max_depth, no more levels than this are allowed, to bound the C stack.
#define S_DEPTH_HARD_MAX 1024u

// First capacity of the encode buffer: most messages fit without a realloc.
#define S_ENCODE_INITIAL 256u

// Length of ORCS_DOC_BINARY_KEY without its NUL.
#define S_BINARY_KEY_LEN (sizeof ORCS_DOC_BINARY_KEY - 1)

// Where decoding is in the input, and what the limits still allow.
typedef struct {
    const uint8_t *pos;   // next byte to read
    const uint8_t *end;   // one past the last byte
    size_t elements_left; // values the rest of the document may declare
    unsigned depth_left;  // arrays/maps that may still be opened
} s_reader_t;

// A growing output buffer for msgpack_packer; it aborts on OOM, so packing
// never fails.
typedef struct {
    uint8_t *data; // orcs_malloc'd; handed to the caller on success
    size_t size;   // bytes written
    size_t alloc;  // bytes allocated
} s_buffer_t;

// jansson returns NULL only on OOM for the calls that go through this.
static json_t *
s_checked(json_t *value)
{
    if (!value)
        orcs_panic("out of memory in jansson");
    return value;
}

static void
s_array_append(json_t *array, json_t *value)
{
    if (json_array_append_new(array, value) != 0)
        orcs_panic("out of memory in jansson");
}

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points
// above U+10FFFF, the same rules as jansson's json_stringn. NUL is allowed.
static bool
s_utf8_is_valid(const uint8_t *text, size_t size)
{
    // Most keys and many strings are plain ASCII: skip it 8 bytes at a time.
    size_t i = 0;
    for (; size - i >= 8; i += 8) {
        uint64_t chunk;
        memcpy(&chunk, text + i, sizeof chunk);
        if (chunk & UINT64_C(0x8080808080808080))
            break;
    }
    while (i < size && text[i] < 0x80)
        i++;
    while (i < size) {
        uint8_t lead = text[i];
        if (lead < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t code, min;
        if ((lead & 0xe0) == 0xc0) {
            len = 2, code = lead & 0x1f, min = 0x80;
        } else if ((lead & 0xf0) == 0xe0) {
            len = 3, code = lead & 0x0f, min = 0x800;
        } else if ((lead & 0xf8) == 0xf0) {
            len = 4, code = lead & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (size - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            uint8_t next = text[i + k];
            if ((next & 0xc0) != 0x80)
                return false;
            code = (code << 6) | (next & 0x3f);
        }
        if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

json_t *
orcs_doc_binary_new(const void *data, size_t size)
{
    orcs_assert(data || size == 0);
    json_t *bytes = s_checked(json_stringn_nocheck(data ? data : "", size));
    json_t *binary = s_checked(json_object());
    if (json_object_set_new_nocheck(binary, ORCS_DOC_BINARY_KEY, bytes) != 0)
        orcs_panic("out of memory in jansson");
    return binary;
}

bool
orcs_doc_is_binary(const json_t *value)
{
    if (!json_is_object(value) || json_object_size(value) != 1)
        return false;
    // jansson's iterator API takes a non-const object but does not modify it.
    void *iter = json_object_iter((json_t *) value);
    return json_object_iter_key_len(iter) == S_BINARY_KEY_LEN
           && memcmp(json_object_iter_key(iter), ORCS_DOC_BINARY_KEY,
                     S_BINARY_KEY_LEN)
                  == 0
           && json_is_string(json_object_iter_value(iter));
}

const uint8_t *
orcs_doc_binary_data(const json_t *value, size_t *size_p)
{
    if (!orcs_doc_is_binary(value)) {
        if (size_p)
            *size_p = 0;
        return NULL;
    }
    json_t *bytes = json_object_iter_value(json_object_iter((json_t *) value));
    if (size_p)
        *size_p = json_string_length(bytes);
    return (const uint8_t *) json_string_value(bytes);
}

// ---------------------------------------------------------------------------
// Encoding

static int
s_buffer_write(void *data, const char *bytes, size_t len)
{
    s_buffer_t *buffer = data;
    if (len == 0)
        return 0;
    if (buffer->alloc - buffer->size < len) {
        size_t alloc = buffer->alloc;
        while (alloc - buffer->size < len)
            alloc *= 2;
        buffer->data = orcs_realloc(buffer->data, alloc);
        buffer->alloc = alloc;
    }
    memcpy(buffer->data + buffer->size, bytes, len);
    buffer->size += len;
    return 0;
}

static orcs_status
s_encode_value(msgpack_packer *packer, const json_t *value, unsigned depth);

static orcs_status
s_encode_array(msgpack_packer *packer, const json_t *array, unsigned depth)
{
    size_t count = json_array_size(array);
    if (count > UINT32_MAX)
        return ORCS_EINVAL;
    msgpack_pack_array(packer, count);
    for (size_t i = 0; i < count; i++) {
        orcs_status rc =
            s_encode_value(packer, json_array_get(array, i), depth + 1);
        if (rc != ORCS_OK)
            return rc;
    }
    return ORCS_OK;
}

static orcs_status
s_encode_object(msgpack_packer *packer, const json_t *object, unsigned depth)
{
    size_t count = json_object_size(object);
    if (count > UINT32_MAX)
        return ORCS_EINVAL;
    msgpack_pack_map(packer, count);
    // jansson's iterator API takes a non-const object but does not modify it.
    for (void *iter = json_object_iter((json_t *) object); iter;
         iter = json_object_iter_next((json_t *) object, iter)) {
        const char *key = json_object_iter_key(iter);
        size_t key_len = json_object_iter_key_len(iter);
        if (key_len > UINT32_MAX || memchr(key, 0, key_len))
            return ORCS_EINVAL; // the decoder would refuse it
        msgpack_pack_str(packer, key_len);
        msgpack_pack_str_body(packer, key, key_len);
        orcs_status rc =
            s_encode_value(packer, json_object_iter_value(iter), depth + 1);
        if (rc != ORCS_OK)
            return rc;
    }
    return ORCS_OK;
}

static orcs_status
s_encode_value(msgpack_packer *packer, const json_t *value, unsigned depth)
{
    switch (json_typeof(value)) {
        case JSON_OBJECT:
        case JSON_ARRAY: {
            // Also stops a cycle (a container that holds itself).
            if (depth >= ORCS_DOC_MAX_DEPTH)
                return ORCS_EINVAL;
            size_t size = 0;
            const uint8_t *bytes = orcs_doc_binary_data(value, &size);
            if (bytes) {
                if (size > UINT32_MAX)
                    return ORCS_EINVAL;
                msgpack_pack_bin(packer, size);
                msgpack_pack_bin_body(packer, bytes, size);
                return ORCS_OK;
            }
            return json_is_array(value) ? s_encode_array(packer, value, depth)
                                        : s_encode_object(packer, value, depth);
        }
        case JSON_STRING: {
            size_t len = json_string_length(value);
            if (len > UINT32_MAX)
                return ORCS_EINVAL;
            msgpack_pack_str(packer, len);
            msgpack_pack_str_body(packer, json_string_value(value), len);
            return ORCS_OK;
        }
        case JSON_INTEGER:
            msgpack_pack_int64(packer, json_integer_value(value));
            return ORCS_OK;
        case JSON_REAL:
            msgpack_pack_double(packer, json_real_value(value));
            return ORCS_OK;
        case JSON_TRUE:
            msgpack_pack_true(packer);
            return ORCS_OK;
        case JSON_FALSE:
            msgpack_pack_false(packer);
            return ORCS_OK;
        case JSON_NULL:
            msgpack_pack_nil(packer);
            return ORCS_OK;
    }
    return ORCS_EINVAL;
}

orcs_status
orcs_doc_encode(const json_t *doc, uint8_t **data_p, size_t *size_p)
{
    orcs_assert(doc && data_p && size_p);
    *data_p = NULL;
    *size_p = 0;
    s_buffer_t buffer = {orcs_malloc(S_ENCODE_INITIAL), 0, S_ENCODE_INITIAL};
    // s_buffer_write cannot fail, so neither can the msgpack_pack_* calls.
    msgpack_packer packer;
    msgpack_packer_init(&packer, &buffer, s_buffer_write);
    orcs_status rc = s_encode_value(&packer, doc, 0);
    if (rc != ORCS_OK) {
        free(buffer.data);
        return rc;
    }
    *data_p = buffer.data;
    *size_p = buffer.size;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Decoding

// Reads a big-endian unsigned integer of width 1, 2, 4 or 8 bytes.
static bool
s_read_uint(s_reader_t *reader, size_t width, uint64_t *value_p)
{
    if ((size_t) (reader->end - reader->pos) < width)
        return false;
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = (value << 8) | reader->pos[i];
    reader->pos += width;
    *value_p = value;
    return true;
}

// Reads a length field of width bytes, then checks that many bytes follow.
static bool
s_read_length(s_reader_t *reader, size_t width, uint64_t *len_p)
{
    return s_read_uint(reader, width, len_p)
           && *len_p <= (uint64_t) (reader->end - reader->pos);
}

// The two's complement value of a width-byte field held in bits.
static int64_t
s_to_signed(uint64_t bits, size_t width)
{
    if (width < 8) {
        uint64_t sign = UINT64_C(1) << (8 * width - 1);
        return (int64_t) (bits ^ sign) - (int64_t) sign;
    }
    return bits <= INT64_MAX ? (int64_t) bits : -(int64_t) ~bits - 1;
}

// Reads an int or uint field of width bytes; a uint over INT64_MAX is
// refused (json_int_t cannot hold it).
static orcs_status
s_read_int(s_reader_t *reader, size_t width, bool is_signed, int64_t *value_p)
{
    uint64_t bits;
    if (!s_read_uint(reader, width, &bits) || (!is_signed && bits > INT64_MAX))
        return ORCS_EPROTO;
    *value_p = is_signed ? s_to_signed(bits, width) : (int64_t) bits;
    return ORCS_OK;
}

// Reads a float32 or float64 field as a double; NaN and infinity are
// refused (JSON has neither).
static orcs_status
s_read_float(s_reader_t *reader, size_t width, double *value_p)
{
    uint64_t bits;
    if (!s_read_uint(reader, width, &bits))
        return ORCS_EPROTO;
    double real;
    if (width == 4) {
        uint32_t bits32 = (uint32_t) bits;
        float real32;
        memcpy(&real32, &bits32, sizeof real32);
        real = real32;
    } else {
        memcpy(&real, &bits, sizeof real);
    }
    if (!isfinite(real))
        return ORCS_EPROTO;
    *value_p = real;
    return ORCS_OK;
}

// Takes len bytes of UTF-8 text; *text_p points at them in the input.
static orcs_status
s_read_str(s_reader_t *reader, uint64_t len, const uint8_t **text_p)
{
    if (len > (uint64_t) (reader->end - reader->pos)
        || !s_utf8_is_valid(reader->pos, (size_t) len))
        return ORCS_EPROTO;
    *text_p = reader->pos;
    reader->pos += len;
    return ORCS_OK;
}

static orcs_status
s_decode_int(s_reader_t *reader, size_t width, bool is_signed, json_t **out)
{
    int64_t value;
    orcs_status rc = s_read_int(reader, width, is_signed, &value);
    if (rc == ORCS_OK)
        *out = s_checked(json_integer((json_int_t) value));
    return rc;
}

static orcs_status
s_decode_float(s_reader_t *reader, size_t width, json_t **out)
{
    double value;
    orcs_status rc = s_read_float(reader, width, &value);
    if (rc == ORCS_OK)
        *out = s_checked(json_real(value));
    return rc;
}

static orcs_status
s_decode_str(s_reader_t *reader, uint64_t len, json_t **out)
{
    const uint8_t *text;
    orcs_status rc = s_read_str(reader, len, &text);
    if (rc == ORCS_OK)
        *out = s_checked(json_stringn_nocheck((const char *) text, len));
    return rc;
}

static orcs_status
s_decode_bin(s_reader_t *reader, size_t width, json_t **out)
{
    uint64_t len;
    if (!s_read_length(reader, width, &len))
        return ORCS_EPROTO;
    *out = orcs_doc_binary_new(reader->pos, (size_t) len);
    reader->pos += len;
    return ORCS_OK;
}

// Checks a container of count entries, each at least entry_min bytes,
// against the bytes left and the limits, and takes its share of them.
static orcs_status
s_open_container(s_reader_t *reader, uint64_t count, size_t entry_min)
{
    if (reader->depth_left == 0)
        return ORCS_ETOOBIG;
    if (count > (uint64_t) (reader->end - reader->pos) / entry_min)
        return ORCS_EPROTO;
    if (count > reader->elements_left)
        return ORCS_ETOOBIG;
    reader->elements_left -= (size_t) count;
    reader->depth_left--;
    return ORCS_OK;
}

static orcs_status s_decode_value(s_reader_t *reader, json_t **out);

static orcs_status
s_decode_array(s_reader_t *reader, uint64_t count, json_t **out)
{
    orcs_status rc = s_open_container(reader, count, 1);
    if (rc != ORCS_OK)
        return rc;
    json_t *array = s_checked(json_array());
    for (uint64_t i = 0; i < count; i++) {
        json_t *item = NULL;
        rc = s_decode_value(reader, &item);
        if (rc != ORCS_OK) {
            json_decref(array);
            return rc;
        }
        s_array_append(array, item);
    }
    reader->depth_left++;
    *out = array;
    return ORCS_OK;
}

// Reads a map key: a str (any of its four forms) holding valid UTF-8 and no
// NUL. jansson stores keys with NUL, but json_object_get, json_equal and
// json_object_foreach see them cut at the NUL, so {"role": 1, "role\0": 2}
// would look like one key given twice; refuse them like duplicates.
static orcs_status
s_decode_key(s_reader_t *reader, const char **key_p, size_t *len_p)
{
    if (reader->pos == reader->end)
        return ORCS_EPROTO;
    uint8_t type = *reader->pos++;
    uint64_t len;
    if (type >= 0xa0 && type <= 0xbf)
        len = type & 0x1f;
    else if (type < 0xd9 || type > 0xdb)
        return ORCS_EPROTO; // not a string
    else if (!s_read_uint(reader, (size_t) 1 << (type - 0xd9), &len))
        return ORCS_EPROTO;
    if (len > (uint64_t) (reader->end - reader->pos)
        || memchr(reader->pos, 0, (size_t) len)
        || !s_utf8_is_valid(reader->pos, (size_t) len))
        return ORCS_EPROTO;
    *key_p = (const char *) reader->pos;
    *len_p = (size_t) len;
    reader->pos += len;
    return ORCS_OK;
}

static orcs_status
s_decode_map(s_reader_t *reader, uint64_t count, json_t **out)
{
    orcs_status rc = s_open_container(reader, count, 2);
    if (rc != ORCS_OK)
        return rc;
    json_t *object = s_checked(json_object());
    for (uint64_t i = 0; i < count; i++) {
        const char *key = NULL;
        size_t key_len = 0;
        json_t *value = NULL;
        rc = s_decode_key(reader, &key, &key_len);
        if (rc == ORCS_OK)
            rc = s_decode_value(reader, &value);
        if (rc != ORCS_OK) {
            json_decref(object);
            return rc;
        }
        // The key is valid UTF-8 (checked above); a repeated key replaces
        // the earlier value and leaves the size unchanged.
        if (json_object_setn_new_nocheck(object, key, key_len, value) != 0)
            orcs_panic("out of memory in jansson");
        if (json_object_size(object) != i + 1) {
            json_decref(object);
            return ORCS_EPROTO;
        }
    }
    reader->depth_left++;
    *out = object;
    return ORCS_OK;
}

static orcs_status
s_decode_value(s_reader_t *reader, json_t **out)
{
    if (reader->pos == reader->end)
        return ORCS_EPROTO;
    uint8_t type = *reader->pos++;
    if (type <= 0x7f || type >= 0xe0) { // positive, negative fixint
        *out = s_checked(json_integer(type <= 0x7f ? (json_int_t) type
                                                   : (json_int_t) type - 256));
        return ORCS_OK;
    }
    if (type <= 0x8f)
        return s_decode_map(reader, type & 0x0f, out);
    if (type <= 0x9f)
        return s_decode_array(reader, type & 0x0f, out);
    if (type <= 0xbf)
        return s_decode_str(reader, type & 0x1f, out);
    uint64_t len;
    switch (type) {
        case 0xc0:
            *out = json_null();
            return ORCS_OK;
        case 0xc2:
            *out = json_false();
            return ORCS_OK;
        case 0xc3:
            *out = json_true();
            return ORCS_OK;
        case 0xc4: // bin 8, 16, 32
        case 0xc5:
        case 0xc6:
            return s_decode_bin(reader, (size_t) 1 << (type - 0xc4), out);
        case 0xca:
            return s_decode_float(reader, 4, out);
        case 0xcb:
            return s_decode_float(reader, 8, out);
        case 0xcc: // uint 8, 16, 32, 64
        case 0xcd:
        case 0xce:
        case 0xcf:
            return s_decode_int(reader, (size_t) 1 << (type - 0xcc), false,
                                out);
        case 0xd0: // int 8, 16, 32, 64
        case 0xd1:
        case 0xd2:
        case 0xd3:
            return s_decode_int(reader, (size_t) 1 << (type - 0xd0), true, out);
        case 0xd9: // str 8, 16, 32
        case 0xda:
        case 0xdb:
            if (!s_read_uint(reader, (size_t) 1 << (type - 0xd9), &len))
                return ORCS_EPROTO;
            return s_decode_str(reader, len, out);
        case 0xdc: // array 16, 32
        case 0xdd:
            if (!s_read_uint(reader, (size_t) 2 << (type - 0xdc), &len))
                return ORCS_EPROTO;
            return s_decode_array(reader, len, out);
        case 0xde: // map 16, 32
        case 0xdf:
            if (!s_read_uint(reader, (size_t) 2 << (type - 0xde), &len))
                return ORCS_EPROTO;
            return s_decode_map(reader, len, out);
        default: // 0xc1 (never used), ext and fixext
            return ORCS_EPROTO;
    }
}

// Sets up a reader over data with the limits (NULL = the defaults);
// ORCS_ETOOBIG or ORCS_EPROTO when data cannot be a document.
static orcs_status
s_reader_init(s_reader_t *reader,
              const uint8_t *data,
              size_t size,
              const orcs_doc_limits_t *limits)
{
    size_t max_size = ORCS_DOC_MAX_SIZE;
    unsigned max_depth = ORCS_DOC_MAX_DEPTH;
    size_t max_elements = ORCS_DOC_MAX_ELEMENTS;
    if (limits) {
        max_size = limits->max_size ? limits->max_size : max_size;
        max_depth = limits->max_depth ? limits->max_depth : max_depth;
        max_elements =
            limits->max_elements ? limits->max_elements : max_elements;
    }
    if (max_depth > S_DEPTH_HARD_MAX)
        max_depth = S_DEPTH_HARD_MAX;
    if (size > max_size)
        return ORCS_ETOOBIG;
    if (size == 0)
        return ORCS_EPROTO;
    // The root is one element; each container takes its entries' share.
    *reader = (s_reader_t){data, data + size, max_elements - 1, max_depth};
    return ORCS_OK;
}

orcs_status
orcs_doc_decode(const uint8_t *data,
                size_t size,
                const orcs_doc_limits_t *limits,
                json_t **doc_p)
{
    orcs_assert(doc_p);
    orcs_assert(data || size == 0);
    *doc_p = NULL;
    s_reader_t reader;
    orcs_status rc = s_reader_init(&reader, data, size, limits);
    if (rc != ORCS_OK)
        return rc;
    json_t *doc = NULL;
    rc = s_decode_value(&reader, &doc);
    if (rc == ORCS_OK && reader.pos != reader.end)
        rc = ORCS_EPROTO; // trailing bytes
    if (rc != ORCS_OK) {
        json_decref(doc);
        return rc;
    }
    *doc_p = doc;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Decoding all but one member, which is hashed (doc_hash.h has the stream)

static orcs_status s_hash_value(s_reader_t *reader, orcs__doc_hasher_t *h);

static orcs_status
s_hash_container(s_reader_t *reader,
                 orcs__doc_hasher_t *h,
                 uint64_t count,
                 bool map)
{
    orcs_status rc = s_open_container(reader, count, map ? 2 : 1);
    if (rc != ORCS_OK)
        return rc;
    orcs__doc_hash_count(h, map ? 'o' : 'a', count);
    for (uint64_t i = 0; i < count && rc == ORCS_OK; i++) {
        if (map) {
            const char *key = NULL;
            size_t key_len = 0;
            rc = s_decode_key(reader, &key, &key_len);
            if (rc != ORCS_OK)
                break;
            orcs__doc_hash_bytes(h, 'k', key, key_len);
        }
        rc = s_hash_value(reader, h);
    }
    reader->depth_left++;
    return rc;
}

static orcs_status
s_hash_int(s_reader_t *reader,
           orcs__doc_hasher_t *h,
           size_t width,
           bool is_signed)
{
    int64_t n;
    orcs_status rc = s_read_int(reader, width, is_signed, &n);
    if (rc == ORCS_OK)
        orcs__doc_hash_bytes(h, 'i', &n, sizeof n);
    return rc;
}

// Hashes what s_decode_value would decode, with the same checks.
static orcs_status
s_hash_value(s_reader_t *reader, orcs__doc_hasher_t *h)
{
    if (reader->pos == reader->end)
        return ORCS_EPROTO;
    uint8_t type = *reader->pos++;
    uint64_t len;
    if (type <= 0x7f || type >= 0xe0) { // positive, negative fixint
        int64_t n = type <= 0x7f ? (int64_t) type : (int64_t) type - 256;
        orcs__doc_hash_bytes(h, 'i', &n, sizeof n);
        return ORCS_OK;
    }
    if (type <= 0x9f)
        return s_hash_container(reader, h, type & 0x0f, type <= 0x8f);
    if (type <= 0xbf || (type >= 0xd9 && type <= 0xdb)) { // str
        const uint8_t *text;
        if (type <= 0xbf)
            len = type & 0x1f;
        else if (!s_read_uint(reader, (size_t) 1 << (type - 0xd9), &len))
            return ORCS_EPROTO;
        if (s_read_str(reader, len, &text) != ORCS_OK)
            return ORCS_EPROTO;
        orcs__doc_hash_bytes(h, 's', text, (size_t) len);
        return ORCS_OK;
    }
    switch (type) {
        case 0xc0:
            orcs__doc_hash_count(h, 'n', 0);
            return ORCS_OK;
        case 0xc2:
            orcs__doc_hash_count(h, 'f', 0);
            return ORCS_OK;
        case 0xc3:
            orcs__doc_hash_count(h, 't', 0);
            return ORCS_OK;
        case 0xc4: // bin 8, 16, 32
        case 0xc5:
        case 0xc6:
            if (!s_read_length(reader, (size_t) 1 << (type - 0xc4), &len))
                return ORCS_EPROTO;
            orcs__doc_hash_bytes(h, 'b', reader->pos, (size_t) len);
            reader->pos += len;
            return ORCS_OK;
        case 0xca: // float 32, 64: the double the decoder would keep
        case 0xcb: {
            double d;
            if (s_read_float(reader, type == 0xca ? 4 : 8, &d) != ORCS_OK)
                return ORCS_EPROTO;
            orcs__doc_hash_bytes(h, 'r', &d, sizeof d);
            return ORCS_OK;
        }
        case 0xcc: // uint 8, 16, 32, 64
        case 0xcd:
        case 0xce:
        case 0xcf:
            return s_hash_int(reader, h, (size_t) 1 << (type - 0xcc), false);
        case 0xd0: // int 8, 16, 32, 64
        case 0xd1:
        case 0xd2:
        case 0xd3:
            return s_hash_int(reader, h, (size_t) 1 << (type - 0xd0), true);
        case 0xdc: // array 16, 32
        case 0xdd:
        case 0xde: // map 16, 32
        case 0xdf: {
            bool map = type >= 0xde;
            if (!s_read_uint(reader, (size_t) 2 << (type - (map ? 0xde : 0xdc)),
                             &len))
                return ORCS_EPROTO;
            return s_hash_container(reader, h, len, map);
        }
        default: // 0xc1 (never used), ext and fixext
            return ORCS_EPROTO;
    }
}

orcs_status
orcs_doc_decode_hashing(const uint8_t *data,
                        size_t size,
                        const orcs_doc_limits_t *limits,
                        const char *key,
                        json_t **rest_p,
                        uint8_t hash[ORCS_DOC_HASH_SIZE],
                        bool *found_p)
{
    orcs_assert(key && rest_p && hash && found_p);
    orcs_assert(data || size == 0);
    *rest_p = NULL;
    *found_p = false;
    s_reader_t reader;
    orcs_status rc = s_reader_init(&reader, data, size, limits);
    if (rc != ORCS_OK)
        return rc;
    uint8_t type = *reader.pos++;
    uint64_t count;
    if (type >= 0x80 && type <= 0x8f)
        count = type & 0x0f;
    else if (type != 0xde && type != 0xdf)
        return ORCS_EPROTO; // not a map
    else if (!s_read_uint(&reader, (size_t) 2 << (type - 0xde), &count))
        return ORCS_EPROTO;
    rc = s_open_container(&reader, count, 2);
    if (rc != ORCS_OK)
        return rc;
    size_t key_size = strlen(key);
    json_t *rest = s_checked(json_object());
    orcs__doc_hasher_t *h = NULL;
    for (uint64_t i = 0; i < count && rc == ORCS_OK; i++) {
        const char *name = NULL;
        size_t name_len = 0;
        rc = s_decode_key(&reader, &name, &name_len);
        if (rc != ORCS_OK)
            break;
        if (name_len == key_size && memcmp(name, key, key_size) == 0) {
            if (h) {
                rc = ORCS_EPROTO; // the member given twice
                break;
            }
            h = orcs_malloc(sizeof *h);
            orcs__doc_hasher_init(h);
            rc = s_hash_value(&reader, h);
            continue;
        }
        json_t *value = NULL;
        rc = s_decode_value(&reader, &value);
        if (rc != ORCS_OK)
            break;
        size_t before = json_object_size(rest);
        if (json_object_setn_new_nocheck(rest, name, name_len, value) != 0)
            orcs_panic("out of memory in jansson");
        if (json_object_size(rest) == before)
            rc = ORCS_EPROTO; // a key given twice
    }
    if (rc == ORCS_OK && reader.pos != reader.end)
        rc = ORCS_EPROTO; // trailing bytes
    if (rc == ORCS_OK && h) {
        orcs__doc_hasher_final(h, hash);
        *found_p = true;
    }
    free(h);
    if (rc != ORCS_OK) {
        json_decref(rest);
        return rc;
    }
    *rest_p = rest;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// JSON text

static json_t *s_text_value(json_t *value, unsigned depth);

// {"$binary": "<base64>"} for a binary value.
static json_t *
s_text_binary(const uint8_t *bytes, size_t size)
{
    size_t text_size =
        sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL);
    char *text = orcs_malloc(text_size);
    sodium_bin2base64(text, text_size, bytes, size,
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *wrapper = s_checked(json_object());
    if (json_object_set_new_nocheck(wrapper, "$binary",
                                    s_checked(json_string_nocheck(text)))
        != 0)
        orcs_panic("out of memory in jansson");
    free(text);
    return wrapper;
}

// The array itself when no binary is inside, else a copy with binary
// values replaced. Returns a new reference.
static json_t *
s_text_array(json_t *array, unsigned depth)
{
    json_t *copy = NULL;
    size_t count = json_array_size(array);
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(array, i);
        json_t *text = s_text_value(item, depth + 1);
        if (text != item && !copy) {
            copy = s_checked(json_array());
            for (size_t j = 0; j < i; j++)
                s_array_append(copy, json_incref(json_array_get(array, j)));
        }
        if (copy)
            s_array_append(copy, text);
        else
            json_decref(text);
    }
    return copy ? copy : json_incref(array);
}

// Same as s_text_array for an object; keeps key order.
static json_t *
s_text_object(json_t *object, unsigned depth)
{
    json_t *copy = NULL;
    for (void *iter = json_object_iter(object); iter;
         iter = json_object_iter_next(object, iter)) {
        json_t *value = json_object_iter_value(iter);
        json_t *text = s_text_value(value, depth + 1);
        if (text != value && !copy) {
            copy = s_checked(json_object());
            for (void *prev = json_object_iter(object); prev != iter;
                 prev = json_object_iter_next(object, prev))
                if (json_object_setn_nocheck(copy, json_object_iter_key(prev),
                                             json_object_iter_key_len(prev),
                                             json_object_iter_value(prev))
                    != 0)
                    orcs_panic("out of memory in jansson");
        }
        if (!copy) {
            json_decref(text);
            continue;
        }
        if (json_object_setn_new_nocheck(copy, json_object_iter_key(iter),
                                         json_object_iter_key_len(iter), text)
            != 0)
            orcs_panic("out of memory in jansson");
    }
    return copy ? copy : json_incref(object);
}

static json_t *
s_text_value(json_t *value, unsigned depth)
{
    // Past the decoder's own cap (or in a cycle) leave the rest as it is.
    if (depth >= S_DEPTH_HARD_MAX)
        return json_incref(value);
    size_t size = 0;
    const uint8_t *bytes = orcs_doc_binary_data(value, &size);
    if (bytes)
        return s_text_binary(bytes, size);
    if (json_is_array(value))
        return s_text_array(value, depth);
    if (json_is_object(value))
        return s_text_object(value, depth);
    return json_incref(value);
}

char *
orcs_doc_to_text(const json_t *doc, size_t flags)
{
    orcs_assert(doc);
    // s_text_value only adds references to doc; it never modifies it.
    json_t *text = s_text_value((json_t *) doc, 0);
    char *result = json_dumps(text, flags | JSON_ENCODE_ANY);
    json_decref(text);
    return result;
}
