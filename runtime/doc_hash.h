/*  doc_hash.h — the byte stream that orcs_doc_hash feeds to BLAKE2b, shared
    by the walk over a json_t (doc_hash.c) and the walk over MessagePack
    (orcs_doc_decode_hashing in doc.c), which must give the same stream for
    the same document.
    SPDX-License-Identifier: MPL-2.0

    Each value is a one-byte tag, then a 64-bit count or length, then its
    bytes: 'o' count for an object, then 'k' len key and the value for
    each member in order; 'a' count and the items for an array; 's' len
    bytes for a string; 'b' len bytes for a binary value; 'i' 8 and an
    int64; 'r' 8 and a double; 't', 'f', 'n' 0 for true, false, null.
    Integers and doubles go in the machine's byte order: the hash is a key
    within one process, never stored. */
#ifndef ORCS_DOC_HASH_H_INCLUDED
#define ORCS_DOC_HASH_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "orcs/doc.h"

typedef struct {
    crypto_generichash_state state;
    uint8_t buf[4096]; // small pieces are gathered before the hash sees them
    size_t used;
} orcs__doc_hasher_t;

// Starts a stream.
void orcs__doc_hasher_init(orcs__doc_hasher_t *h);

// Appends a tag and a count (objects, arrays; 0 for true, false, null).
void orcs__doc_hash_count(orcs__doc_hasher_t *h, char tag, uint64_t count);

// Appends a tag, the length of bytes and the bytes.
void orcs__doc_hash_bytes(orcs__doc_hasher_t *h,
                          char tag,
                          const void *bytes,
                          size_t size);

// Ends the stream: the BLAKE2b of it, ORCS_DOC_HASH_SIZE bytes.
void orcs__doc_hasher_final(orcs__doc_hasher_t *h,
                            uint8_t hash[ORCS_DOC_HASH_SIZE]);

#endif
