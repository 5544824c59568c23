/*  fuzz_record_decode.c — the decoders of the store's records (nanopb).
    The first input byte picks the record; the rest is the stored value. A
    decoded record must encode again, and decoding that must give a record
    that encodes to the same bytes.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/log.h"
#include "orcs/record.h"
#include "records.pb.h"

typedef orcs_status(s_decode_fn)(const void *, size_t, void *);
typedef orcs_status(s_encode_fn)(const void *, uint8_t **, size_t *);

typedef struct {
    s_decode_fn *decode;
    s_encode_fn *encode;
    size_t size; // of the record struct
} s_codec_t;

#define S_CODEC(name)                                                         \
    static orcs_status s_decode_##name(const void *d, size_t n, void *r)      \
    {                                                                         \
        return orcs_##name##_decode(d, n, r);                                 \
    }                                                                         \
    static orcs_status s_encode_##name(const void *r, uint8_t **d, size_t *n) \
    {                                                                         \
        return orcs_##name##_encode(r, d, n);                                 \
    }
S_CODEC(run_record)
S_CODEC(task_record)
S_CODEC(checkpoint_record)
S_CODEC(span_record)
S_CODEC(audit_entry)

static const s_codec_t s_codecs[] = {
    {s_decode_run_record, s_encode_run_record, sizeof(RunRecord)},
    {s_decode_task_record, s_encode_task_record, sizeof(TaskRecord)},
    {s_decode_checkpoint_record, s_encode_checkpoint_record,
     sizeof(CheckpointRecord)},
    {s_decode_span_record, s_encode_span_record, sizeof(SpanRecord)},
    {s_decode_audit_entry, s_encode_audit_entry, sizeof(AuditEntry)},
};

static bool
s_is_zero(const uint8_t *p, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (p[i])
            return false;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    orcs_log_level_set(ORCS_LOG_ERROR); // newer schemas log a warning
    const s_codec_t *codec =
        &s_codecs[data[0] % (sizeof s_codecs / sizeof *s_codecs)];
    uint8_t *record = malloc(codec->size);
    uint8_t *again = malloc(codec->size);
    uint8_t *first = NULL;
    uint8_t *second = NULL;
    size_t first_size = 0;
    size_t second_size = 0;
    orcs_status rc = codec->decode(data + 1, size - 1, record);
    if (rc != ORCS_OK && rc != ORCS_EPROTO)
        __builtin_trap(); // contract: OK or EPROTO, nothing else
    if (rc != ORCS_OK) {
        if (!s_is_zero(record, codec->size))
            __builtin_trap(); // contract: zeroed on error
        goto cleanup;
    }
    if (codec->encode(record, &first, &first_size) != ORCS_OK)
        __builtin_trap(); // whatever decodes encodes
    if (codec->decode(first, first_size, again) != ORCS_OK)
        __builtin_trap();
    if (codec->encode(again, &second, &second_size) != ORCS_OK
        || second_size != first_size || memcmp(first, second, first_size) != 0)
        __builtin_trap(); // stable after one round
cleanup:
    free(first);
    free(second);
    free(record);
    free(again);
    return 0;
}
