/*  orcs/record.h — fixed-shape records of the store (runs, tasks,
    checkpoints, spans, audit entries) and their encoding.
    SPDX-License-Identifier: MPL-2.0

    Each record is a nanopb message of msgs/records.proto; the structs are
    generated into records.pb.h (on orcs_core's public include path):
    include it to read or set fields. Strings are NUL-terminated char arrays
    bounded by msgs/records.options. Every record carries its schema version
    in field 1: encoders always write the current version, decoders read it
    and every older one, and refuse a newer one (written by a later orcs)
    with ORCS_EPROTO. Documents (inputs, outputs, state) are MessagePack
    values of their own (orcs/doc.h), not fields of these records. */
#ifndef ORCS_RECORD_H_INCLUDED
#define ORCS_RECORD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

// Current schema version of each record. A change that old readers cannot
// take bumps it; decoders then convert older versions.
#define ORCS_RUN_RECORD_SCHEMA        1u
#define ORCS_TASK_RECORD_SCHEMA       1u
#define ORCS_CHECKPOINT_RECORD_SCHEMA 1u
#define ORCS_SPAN_RECORD_SCHEMA       1u
#define ORCS_AUDIT_ENTRY_SCHEMA       1u

// Largest encoded record a decoder accepts (unknown fields included).
#define ORCS_RECORD_MAX_SIZE (64u * 1024)

// The status field of runs, tasks and checkpoints. Values are never
// renumbered.
typedef enum {
    ORCS_RECORD_UNSET = 0,     // not set
    ORCS_RECORD_PENDING = 1,   // created, not started
    ORCS_RECORD_RUNNING = 2,   // started
    ORCS_RECORD_WAITING = 3,   // blocked on an input, a dependency or a human
    ORCS_RECORD_SUCCEEDED = 4, // finished with a result
    ORCS_RECORD_FAILED = 5,    // finished with an error
    ORCS_RECORD_CANCELED = 6,  // stopped on request
    ORCS_RECORD_SKIPPED = 7,   // a task its graph did not need to run
    ORCS_RECORD_INDETERMINATE = 8, // in flight at a crash, not idempotent
    ORCS_RECORD_PAUSED = 9     // a run paused on request
} orcs_record_status;

// The outcome field of audit entries. Values are never renumbered.
typedef enum {
    ORCS_AUDIT_UNSET = 0,   // not set
    ORCS_AUDIT_ALLOWED = 1, // the access was allowed and done
    ORCS_AUDIT_DENIED = 2,  // an access rule refused it
    ORCS_AUDIT_FAILED = 3   // allowed, but it failed
} orcs_audit_outcome;

// The records (fields in records.pb.h).
typedef struct _RunRecord orcs_run_record_t;
typedef struct _TaskRecord orcs_task_record_t;
typedef struct _CheckpointRecord orcs_checkpoint_record_t;
typedef struct _SpanRecord orcs_span_record_t;
typedef struct _AuditEntry orcs_audit_entry_t;

// Encoders: write the record (with the current schema version, whatever
// record->schema holds) into a new malloc'd buffer. Caller owns *data_p;
// free() it. Return ORCS_OK, or ORCS_EINVAL when a string field is not
// NUL-terminated within its array or a count is over its bound; on error
// *data_p is NULL and *size_p 0.
ORCS_EXPORT orcs_status orcs_run_record_encode(const orcs_run_record_t *record,
                                               uint8_t **data_p,
                                               size_t *size_p);
ORCS_EXPORT orcs_status orcs_task_record_encode(
    const orcs_task_record_t *record, uint8_t **data_p, size_t *size_p);
ORCS_EXPORT orcs_status orcs_checkpoint_record_encode(
    const orcs_checkpoint_record_t *record, uint8_t **data_p, size_t *size_p);
ORCS_EXPORT orcs_status orcs_span_record_encode(
    const orcs_span_record_t *record, uint8_t **data_p, size_t *size_p);
ORCS_EXPORT orcs_status orcs_audit_entry_encode(
    const orcs_audit_entry_t *record, uint8_t **data_p, size_t *size_p);

// Decoders: read [data, data+size) (a value from the store) into *record.
// Return ORCS_OK; ORCS_EPROTO when the bytes are damaged (not the record,
// truncated, a string or list over its bound, no schema version, over
// ORCS_RECORD_MAX_SIZE) or were written by a newer schema (logged at WARN
// with both versions). On error *record is all zeros.
ORCS_EXPORT orcs_status orcs_run_record_decode(const void *data,
                                               size_t size,
                                               orcs_run_record_t *record);
ORCS_EXPORT orcs_status orcs_task_record_decode(const void *data,
                                                size_t size,
                                                orcs_task_record_t *record);
ORCS_EXPORT orcs_status orcs_checkpoint_record_decode(
    const void *data, size_t size, orcs_checkpoint_record_t *record);
ORCS_EXPORT orcs_status orcs_span_record_decode(const void *data,
                                                size_t size,
                                                orcs_span_record_t *record);
ORCS_EXPORT orcs_status orcs_audit_entry_decode(const void *data,
                                                size_t size,
                                                orcs_audit_entry_t *record);

#ifdef __cplusplus
}
#endif
#endif
