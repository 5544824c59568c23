/*  record.c — encoding of the store's fixed-shape records (nanopb).
    SPDX-License-Identifier: MPL-2.0

    Adding a field is not a schema change: old readers skip it, new
    readers see it zero in old records. When a record changes in a way old
    readers cannot take (a field's meaning, a removed field), its
    ORCS_*_SCHEMA constant goes up and its decoder converts the older
    versions after pb_decode: stores outlive the code that wrote them.
    Version 1 is the first, so there is nothing to convert yet. */
#include "orcs/record.h"

#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "orcs/log.h"
#include "orcs/sys.h"
#include "records.pb.h"

static orcs_status
s_encode(const pb_msgdesc_t *fields,
         const void *record,
         uint8_t **data_p,
         size_t *size_p)
{
    *data_p = NULL;
    *size_p = 0;
    size_t size = 0;
    if (!pb_get_encoded_size(&size, fields, record))
        return ORCS_EINVAL; // an unterminated string or a count over bound
    uint8_t *data = orcs_malloc(size ? size : 1);
    pb_ostream_t out = pb_ostream_from_buffer(data, size);
    if (!pb_encode(&out, fields, record)) {
        free(data);
        return ORCS_EINVAL;
    }
    *data_p = data;
    *size_p = out.bytes_written;
    return ORCS_OK;
}

// Decodes into record (record_size bytes, zeroed on error) and checks the
// schema version that pb_decode put into *schema.
static orcs_status
s_decode(const char *name,
         const pb_msgdesc_t *fields,
         uint32_t current,
         const void *data,
         size_t size,
         void *record,
         size_t record_size,
         const uint32_t *schema)
{
    memset(record, 0, record_size);
    if (size > ORCS_RECORD_MAX_SIZE || (size && !data)) {
        orcs_log_debug("record", "%s refused size=%zu", name, size);
        return ORCS_EPROTO;
    }
    pb_istream_t in = pb_istream_from_buffer(data, size);
    if (!pb_decode(&in, fields, record)) {
        orcs_log_debug("record", "%s damaged: %s", name, PB_GET_ERROR(&in));
        memset(record, 0, record_size);
        return ORCS_EPROTO;
    }
    if (*schema == 0 || *schema > current) {
        if (*schema == 0)
            orcs_log_debug("record", "%s damaged: no schema version", name);
        else
            orcs_log_warn("record",
                          "%s has schema %u, newer than this orcs reads "
                          "(%u); upgrade orcs to read it",
                          name, *schema, current);
        memset(record, 0, record_size);
        return ORCS_EPROTO;
    }
    return ORCS_OK;
}

orcs_status
orcs_run_record_encode(const orcs_run_record_t *record,
                       uint8_t **data_p,
                       size_t *size_p)
{
    orcs_assert(record && data_p && size_p);
    RunRecord copy = *record;
    copy.schema = ORCS_RUN_RECORD_SCHEMA;
    return s_encode(RunRecord_fields, &copy, data_p, size_p);
}

orcs_status
orcs_run_record_decode(const void *data, size_t size, orcs_run_record_t *record)
{
    orcs_assert(record);
    return s_decode("run record", RunRecord_fields, ORCS_RUN_RECORD_SCHEMA,
                    data, size, record, sizeof *record, &record->schema);
}

orcs_status
orcs_task_record_encode(const orcs_task_record_t *record,
                        uint8_t **data_p,
                        size_t *size_p)
{
    orcs_assert(record && data_p && size_p);
    TaskRecord copy = *record;
    copy.schema = ORCS_TASK_RECORD_SCHEMA;
    return s_encode(TaskRecord_fields, &copy, data_p, size_p);
}

orcs_status
orcs_task_record_decode(const void *data,
                        size_t size,
                        orcs_task_record_t *record)
{
    orcs_assert(record);
    return s_decode("task record", TaskRecord_fields, ORCS_TASK_RECORD_SCHEMA,
                    data, size, record, sizeof *record, &record->schema);
}

orcs_status
orcs_checkpoint_record_encode(const orcs_checkpoint_record_t *record,
                              uint8_t **data_p,
                              size_t *size_p)
{
    orcs_assert(record && data_p && size_p);
    CheckpointRecord copy = *record;
    copy.schema = ORCS_CHECKPOINT_RECORD_SCHEMA;
    return s_encode(CheckpointRecord_fields, &copy, data_p, size_p);
}

orcs_status
orcs_checkpoint_record_decode(const void *data,
                              size_t size,
                              orcs_checkpoint_record_t *record)
{
    orcs_assert(record);
    return s_decode("checkpoint record", CheckpointRecord_fields,
                    ORCS_CHECKPOINT_RECORD_SCHEMA, data, size, record,
                    sizeof *record, &record->schema);
}

orcs_status
orcs_span_record_encode(const orcs_span_record_t *record,
                        uint8_t **data_p,
                        size_t *size_p)
{
    orcs_assert(record && data_p && size_p);
    SpanRecord copy = *record;
    copy.schema = ORCS_SPAN_RECORD_SCHEMA;
    return s_encode(SpanRecord_fields, &copy, data_p, size_p);
}

orcs_status
orcs_span_record_decode(const void *data,
                        size_t size,
                        orcs_span_record_t *record)
{
    orcs_assert(record);
    return s_decode("span record", SpanRecord_fields, ORCS_SPAN_RECORD_SCHEMA,
                    data, size, record, sizeof *record, &record->schema);
}

orcs_status
orcs_audit_entry_encode(const orcs_audit_entry_t *record,
                        uint8_t **data_p,
                        size_t *size_p)
{
    orcs_assert(record && data_p && size_p);
    AuditEntry copy = *record;
    copy.schema = ORCS_AUDIT_ENTRY_SCHEMA;
    return s_encode(AuditEntry_fields, &copy, data_p, size_p);
}

orcs_status
orcs_audit_entry_decode(const void *data,
                        size_t size,
                        orcs_audit_entry_t *record)
{
    orcs_assert(record);
    return s_decode("audit entry", AuditEntry_fields, ORCS_AUDIT_ENTRY_SCHEMA,
                    data, size, record, sizeof *record, &record->schema);
}
