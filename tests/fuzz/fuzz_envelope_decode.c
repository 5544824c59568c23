/*  fuzz_envelope_decode.c — the header frame decoder (nanopb). A decoded
    header must encode again and decode to the same fields.
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include "internal.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Envelope env;
    orcs_status rc = orcs__envelope_decode(data, size, &env);
    if (rc != ORCS_OK && rc != ORCS_EPROTO)
        __builtin_trap(); // contract: OK or EPROTO, nothing else
    if (rc != ORCS_OK)
        return 0;
    if (size > ORCS_MSG_HEADER_MAX)
        __builtin_trap(); // the size cap holds
    // Strings are NUL-terminated inside their fields.
    if (memchr(env.type, 0, sizeof env.type) == NULL
        || memchr(env.from, 0, sizeof env.from) == NULL
        || memchr(env.to, 0, sizeof env.to) == NULL
        || memchr(env.run_id, 0, sizeof env.run_id) == NULL
        || memchr(env.topic, 0, sizeof env.topic) == NULL)
        __builtin_trap();
    uint8_t buf[ORCS_MSG_HEADER_MAX * 2];
    size_t n = orcs__envelope_encode(&env, buf, sizeof buf);
    if (n == 0)
        __builtin_trap();
    Envelope again;
    if (orcs__envelope_decode(buf, n, &again) != ORCS_OK)
        __builtin_trap();
    if (again.kind != env.kind || again.correlation_id != env.correlation_id
        || again.deadline_us != env.deadline_us || again.status != env.status
        || strcmp(again.type, env.type) != 0
        || strcmp(again.from, env.from) != 0 || strcmp(again.to, env.to) != 0
        || again.trace_id.size != env.trace_id.size)
        __builtin_trap();
    return 0;
}
