/*  doc_hash.c — a document's hash: BLAKE2b over its values in their order
    (the stream is described in doc_hash.h). The orchestrator keys its
    cache of compiled workflows with it, and reaches the same key from a
    run.start body's bytes without decoding the document
    (orcs_doc_decode_hashing).
    SPDX-License-Identifier: MPL-2.0 */
#include "runtime/doc_hash.h"

#include <string.h>

#include <jansson.h>

#include "orcs/sys.h"

// Deeper than the decoder ever allows (its hard cap is 1024 levels).
#define S_DEPTH_MAX 1024u

void
orcs__doc_hasher_init(orcs__doc_hasher_t *h)
{
    crypto_generichash_init(&h->state, NULL, 0, ORCS_DOC_HASH_SIZE);
    h->used = 0;
}

static void
s_put(orcs__doc_hasher_t *h, const void *data, size_t size)
{
    if (h->used + size > sizeof h->buf) {
        crypto_generichash_update(&h->state, h->buf, h->used);
        h->used = 0;
    }
    if (size > sizeof h->buf) {
        crypto_generichash_update(&h->state, data, size);
        return;
    }
    memcpy(h->buf + h->used, data, size);
    h->used += size;
}

void
orcs__doc_hash_count(orcs__doc_hasher_t *h, char tag, uint64_t count)
{
    s_put(h, &tag, 1);
    s_put(h, &count, sizeof count);
}

void
orcs__doc_hash_bytes(orcs__doc_hasher_t *h,
                     char tag,
                     const void *bytes,
                     size_t size)
{
    orcs__doc_hash_count(h, tag, size);
    if (size)
        s_put(h, bytes, size);
}

void
orcs__doc_hasher_final(orcs__doc_hasher_t *h, uint8_t hash[ORCS_DOC_HASH_SIZE])
{
    crypto_generichash_update(&h->state, h->buf, h->used);
    h->used = 0;
    crypto_generichash_final(&h->state, hash, ORCS_DOC_HASH_SIZE);
}

static bool
s_walk(orcs__doc_hasher_t *h, const json_t *value, unsigned depth)
{
    if (depth > S_DEPTH_MAX)
        return false;
    size_t size = 0;
    const uint8_t *bytes = orcs_doc_binary_data(value, &size);
    if (bytes) {
        orcs__doc_hash_bytes(h, 'b', bytes, size);
        return true;
    }
    switch (json_typeof(value)) {
        case JSON_OBJECT: {
            orcs__doc_hash_count(h, 'o', json_object_size(value));
            // jansson's iterators take a non-const object; nothing changes
            json_t *object = (json_t *) value;
            for (void *iter = json_object_iter(object); iter;
                 iter = json_object_iter_next(object, iter)) {
                orcs__doc_hash_bytes(h, 'k', json_object_iter_key(iter),
                                     json_object_iter_key_len(iter));
                if (!s_walk(h, json_object_iter_value(iter), depth + 1))
                    return false;
            }
            return true;
        }
        case JSON_ARRAY:
            orcs__doc_hash_count(h, 'a', json_array_size(value));
            for (size_t i = 0; i < json_array_size(value); i++)
                if (!s_walk(h, json_array_get(value, i), depth + 1))
                    return false;
            return true;
        case JSON_STRING:
            orcs__doc_hash_bytes(h, 's', json_string_value(value),
                                 json_string_length(value));
            return true;
        case JSON_INTEGER: {
            int64_t n = (int64_t) json_integer_value(value);
            orcs__doc_hash_bytes(h, 'i', &n, sizeof n);
            return true;
        }
        case JSON_REAL: {
            double d = json_real_value(value);
            orcs__doc_hash_bytes(h, 'r', &d, sizeof d);
            return true;
        }
        case JSON_TRUE:
            orcs__doc_hash_count(h, 't', 0);
            return true;
        case JSON_FALSE:
            orcs__doc_hash_count(h, 'f', 0);
            return true;
        default:
            orcs__doc_hash_count(h, 'n', 0);
            return true;
    }
}

bool
orcs_doc_hash(const json_t *doc, uint8_t hash[ORCS_DOC_HASH_SIZE])
{
    orcs_assert(doc && hash);
    orcs__doc_hasher_t *h = orcs_malloc(sizeof *h);
    orcs__doc_hasher_init(h);
    bool ok = s_walk(h, doc, 0);
    orcs__doc_hasher_final(h, hash);
    free(h);
    return ok;
}
