/*  fuzz_doc_decode.c — orcs_doc_decode on arbitrary bytes, plus the
    round-trip property: what decodes re-encodes and decodes to the same.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "orcs/doc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    orcs_status rc = orcs_doc_decode(data, size, NULL, &doc);
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
