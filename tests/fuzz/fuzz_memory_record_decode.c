/*  fuzz_memory_record_decode.c — the decoders of what memory and artifacts
    keep in the store, on arbitrary bytes: orcs_memory_record_decode (a
    key's value record) and orcs_artifacts_meta_decode (an artifact's
    metadata). A damaged value on disk must give ORCS_EPROTO (or
    ORCS_ETOOBIG), never a crash; what decodes must survive a re-encoding.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "orcs/artifact.h"
#include "orcs/doc.h"
#include "orcs/memory.h"

// Decodes with fn, checks the out-param contract and that a decoded
// result encodes and decodes to itself.
static void
s_check(orcs_status (*fn)(const uint8_t *, size_t, json_t **),
        const uint8_t *data,
        size_t size)
{
    json_t *doc = NULL;
    orcs_status rc = fn(data, size, &doc);
    if ((rc == ORCS_OK) != (doc != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (rc != ORCS_OK && rc != ORCS_EPROTO && rc != ORCS_ETOOBIG)
        __builtin_trap(); // the header lists no other status
    if (rc != ORCS_OK)
        return;
    uint8_t *encoded = NULL;
    size_t encoded_size = 0;
    if (orcs_doc_encode(doc, &encoded, &encoded_size) != ORCS_OK)
        __builtin_trap();
    json_t *again = NULL;
    if (fn(encoded, encoded_size, &again) != ORCS_OK || !json_equal(doc, again))
        __builtin_trap(); // a normalised record decodes to itself
    json_decref(again);
    free(encoded);
    json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_check(orcs_memory_record_decode, data, size);
    s_check(orcs_artifacts_meta_decode, data, size);
    return 0;
}
