/*  fuzz_doc_decode.c — orcs_doc_decode on arbitrary bytes, plus the
    round-trip property: what decodes re-encodes and decodes to the same;
    and orcs_doc_decode_hashing on the same bytes: where both succeed, the
    rest is the document without "doc", and the hash of "doc" is
    orcs_doc_hash of the decoded member.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "orcs/doc.h"

// The hashing decoder against the plain one (doc may be NULL: it failed).
static void
s_check_hashing(const uint8_t *data, size_t size, const json_t *doc)
{
    json_t *rest = NULL;
    uint8_t hash[ORCS_DOC_HASH_SIZE];
    bool found = false;
    orcs_status rc =
        orcs_doc_decode_hashing(data, size, NULL, "doc", &rest, hash, &found);
    if ((rc == ORCS_OK) != (rest != NULL))
        __builtin_trap();
    if (rc != ORCS_OK) {
        // only a map decodes here; a map the plain decoder takes must too
        // (a binary value is a json object too, but no map)
        if (json_is_object(doc) && !orcs_doc_is_binary(doc))
            __builtin_trap();
        return;
    }
    if (!doc || !json_is_object(doc) || orcs_doc_is_binary(doc))
        goto done; // only a repeated key inside "doc" gets here
    json_t *member = json_object_get(doc, "doc");
    if (found != (member != NULL))
        __builtin_trap();
    json_t *without = json_deep_copy(doc);
    json_object_del(without, "doc");
    if (!json_equal(without, rest))
        __builtin_trap();
    json_decref(without);
    if (member) {
        uint8_t expect[ORCS_DOC_HASH_SIZE];
        if (!orcs_doc_hash(member, expect)
            || memcmp(expect, hash, sizeof hash) != 0)
            __builtin_trap();
    }
done:
    json_decref(rest);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    orcs_status rc = orcs_doc_decode(data, size, NULL, &doc);
    s_check_hashing(data, size, doc);
    if ((rc == ORCS_OK) != (doc != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (rc != ORCS_OK)
        return 0;
    uint8_t *encoded = NULL;
    size_t encoded_size = 0;
    if (orcs_doc_encode(doc, &encoded, &encoded_size) != ORCS_OK)
        __builtin_trap(); // every decoded document must encode
    json_t *copy = NULL;
    if (orcs_doc_decode(encoded, encoded_size, NULL, &copy) != ORCS_OK)
        __builtin_trap();
    if (!json_equal(doc, copy))
        __builtin_trap(); // round trip must not change the document
    json_decref(copy);
    free(encoded);
    json_decref(doc);
    return 0;
}
