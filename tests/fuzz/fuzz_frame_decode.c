/*  fuzz_frame_decode.c — the message frame parser: varint(header size),
    header, body. The body offset must stay inside the frame, and a frame
    that parses must parse the same way through the header cache.
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "internal.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Envelope env;
    size_t offset = 0;
    orcs_status rc = orcs__frame_decode(data, size, NULL, &env, &offset);
    if (rc != ORCS_OK && rc != ORCS_EPROTO)
        __builtin_trap();
    if (rc != ORCS_OK)
        return 0;
    if (offset > size)
        __builtin_trap();
    orcs__header_cache_t cache;
    memset(&cache, 0, sizeof cache);
    Envelope again;
    size_t offset2 = 0;
    for (int i = 0; i < 2; i++) { // a miss, then a hit
        if (orcs__frame_decode(data, size, &cache, &again, &offset2) != ORCS_OK
            || offset2 != offset || again.correlation_id != env.correlation_id
            || strcmp(again.to, env.to) != 0)
            __builtin_trap();
    }
    return 0;
}
