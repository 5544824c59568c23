/*  orcs/doc.h — documents: jansson json_t in memory, MessagePack on the wire.
    SPDX-License-Identifier: MPL-2.0

    The codec converts both ways without loss for every JSON value and for
    binary. Binary has no JSON type, so in memory it is a one-key object whose
    key is ORCS_DOC_BINARY_KEY (a byte sequence that is never valid UTF-8, so
    no JSON text or MessagePack string can produce it) and whose value is a
    string holding the raw bytes. Build and read it only with the
    orcs_doc_binary_* functions. */
#ifndef ORCS_DOC_H_INCLUDED
#define ORCS_DOC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_DOC_BINARY_KEY   "\300bin" // bytes C0 62 69 6E: "\xc0" "bin"
#define ORCS_DOC_MAX_SIZE     (64u * 1024 * 1024) // default total size cap
#define ORCS_DOC_MAX_DEPTH    64u                 // default nesting cap
#define ORCS_DOC_MAX_ELEMENTS (4u * 1024 * 1024)  // default total elements

typedef struct {
    size_t max_size;     // bytes of input accepted; 0 = ORCS_DOC_MAX_SIZE
    unsigned max_depth;  // arrays/maps nested deeper are refused; 0 = default;
                         // values above 1024 act as 1024 (C stack bound)
    size_t max_elements; // total values in the document; 0 = default
} orcs_doc_limits_t;

// Encodes a document as MessagePack into a new malloc'd buffer. Integers are
// int64 (in the smallest MessagePack int form that holds the value), reals
// float64, binary objects bin, everything else as its JSON type.
// Caller owns *data_p; free() it. Returns ORCS_OK, or ORCS_EINVAL when the
// document nests deeper than ORCS_DOC_MAX_DEPTH (a cycle does too), has an
// object key containing NUL (the decoder refuses those), or a string, binary,
// array or object over 2^32-1 bytes or entries; on error *data_p is NULL and
// *size_p 0.
ORCS_EXPORT orcs_status orcs_doc_encode(const json_t *doc,
                                        uint8_t **data_p,
                                        size_t *size_p);

// Decodes one MessagePack document that spans exactly [data, data+size).
// limits may be NULL for the defaults. Every declared count and length is
// checked against the bytes left before anything is allocated. Caller owns
// the result; destroy with json_decref(). Returns ORCS_OK; ORCS_ETOOBIG when
// size, depth or element count is over a limit (the root counts as one
// element, as does every array item and map value); ORCS_EPROTO for empty or
// truncated input, trailing bytes, non-string map keys, keys containing NUL,
// duplicate keys, strings that are not UTF-8, extension types, integers above
// INT64_MAX, or NaN/infinite floats. On error *doc_p is NULL.
ORCS_EXPORT orcs_status orcs_doc_decode(const uint8_t *data,
                                        size_t size,
                                        const orcs_doc_limits_t *limits,
                                        json_t **doc_p);

// Bytes of a document hash (BLAKE2b-128).
#define ORCS_DOC_HASH_SIZE 16

// Hashes a document's values in their order (each value's type, then its
// length or count, then its bytes; object members in their order, so the
// same members in another order hash differently) into hash. Returns
// false, with hash set but meaningless, for a document nested deeper than
// 1024 levels (no decoded document is).
ORCS_EXPORT bool orcs_doc_hash(const json_t *doc,
                               uint8_t hash[ORCS_DOC_HASH_SIZE]);

// Decodes data as orcs_doc_decode does, but the root must be a map and the
// value of its member `key` is not decoded: it is hashed into hash, giving
// what orcs_doc_hash gives for its decoded form, and left out of *rest_p.
// *found_p says whether the member was there (hash is set only then). A
// caller that finds the hash among ones it knows skips decoding (and
// freeing) a large value. Inside the hashed value strings, numbers and
// limits are checked as decoding checks them, but a key given twice in one
// of its maps is not (no document orcs_doc_hash saw has one, so its hash
// matches none). Returns ORCS_OK, or what orcs_doc_decode returns (also
// ORCS_EPROTO for a root that is not a map and for `key` given twice), with
// *rest_p NULL.
ORCS_EXPORT orcs_status
orcs_doc_decode_hashing(const uint8_t *data,
                        size_t size,
                        const orcs_doc_limits_t *limits,
                        const char *key,
                        json_t **rest_p,
                        uint8_t hash[ORCS_DOC_HASH_SIZE],
                        bool *found_p);

// Returns a new binary value holding a copy of size bytes (data may be NULL
// when size is 0). Caller owns the result; destroy with json_decref().
ORCS_EXPORT json_t *orcs_doc_binary_new(const void *data, size_t size);

// True when value is a binary value made by orcs_doc_binary_new or decoded
// from MessagePack bin.
ORCS_EXPORT bool orcs_doc_is_binary(const json_t *value);

// Returns the bytes of a binary value and sets *size_p. Borrowed: valid while
// value lives and is not modified. Returns NULL when value is not binary.
ORCS_EXPORT const uint8_t *orcs_doc_binary_data(const json_t *value,
                                                size_t *size_p);

// Returns the document as JSON text for people and JSON tools: binary values
// become {"$binary": "<base64>"} (libsodium's base64). flags are jansson's
// json_dumps flags; JSON_ENCODE_ANY is always added, so scalars work too.
// Caller owns the result; free() it. Never returns NULL for a document that
// orcs_doc_decode could produce; jansson's json_dumps returns NULL for a
// cycle or for a string made with a _nocheck function that is not UTF-8.
ORCS_EXPORT char *orcs_doc_to_text(const json_t *doc, size_t flags);

#ifdef __cplusplus
}
#endif
#endif
