/*  orcs/msg.h — a message: an envelope header and a MessagePack body.
    SPDX-License-Identifier: MPL-2.0

    On the wire a message is two ZeroMQ frames: the header (nanopb, see
    msgs/envelope.proto) and the body (MessagePack, see orcs/doc.h). In
    memory the body is decoded to a json_t only when someone asks for it. */
#ifndef ORCS_MSG_H_INCLUDED
#define ORCS_MSG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_WIRE_VERSION    1u
#define ORCS_MSG_TYPE_MAX    63u  // longest type string
#define ORCS_MSG_ADDRESS_MAX 127u // longest from/to address ("name@node")
#define ORCS_MSG_RUN_ID_MAX  63u
#define ORCS_MSG_TOPIC_MAX   127u
#define ORCS_MSG_HEADER_MAX  1024u // a larger header frame is malformed

// What a message is, carried in the header's `kind`.
typedef enum {
    ORCS_MSG_SEND = 0,    // fire and forget
    ORCS_MSG_ASK = 1,     // expects a reply carrying its correlation id
    ORCS_MSG_REPLY = 2,   // answers an ask; status tells success or failure
    ORCS_MSG_TIMEOUT = 3, // delivered locally when an ask's deadline passes
    ORCS_MSG_EVENT = 4,   // published on the event bus under a topic
    ORCS_MSG_EXIT = 5,    // a child told its supervisor it stopped
    ORCS_MSG_SYSTEM = 6   // runtime control (status queries, start_child)
} orcs_msg_kind;

typedef struct orcs_msg_t orcs_msg_t;

// Creates a message of kind ORCS_MSG_SEND with the given type (truncated to
// ORCS_MSG_TYPE_MAX bytes) and a null body. Caller owns the result; destroy
// with orcs_msg_destroy().
ORCS_EXPORT orcs_msg_t *orcs_msg_new(const char *type);

// Creates a message whose body is a copy of doc (NULL for null). Caller owns
// the result; destroy with orcs_msg_destroy().
ORCS_EXPORT orcs_msg_t *orcs_msg_new_json(const char *type, const json_t *doc);

// Destroys a message; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_msg_destroy(orcs_msg_t **self_p);

// Returns a deep copy (header and body). Caller owns the result.
ORCS_EXPORT orcs_msg_t *orcs_msg_dup(const orcs_msg_t *self);

// Header accessors. Strings are borrowed: valid until the message is
// destroyed or the field is set again.
ORCS_EXPORT const char *orcs_msg_type(const orcs_msg_t *self);
ORCS_EXPORT orcs_msg_kind orcs_msg_kind_of(const orcs_msg_t *self);
ORCS_EXPORT const char *orcs_msg_from(const orcs_msg_t *self);
ORCS_EXPORT const char *orcs_msg_to(const orcs_msg_t *self);
ORCS_EXPORT uint64_t orcs_msg_correlation_id(const orcs_msg_t *self);
ORCS_EXPORT const char *orcs_msg_run_id(const orcs_msg_t *self);
ORCS_EXPORT const char *orcs_msg_topic(const orcs_msg_t *self);

// Writes the topic of a run's event, "run.<run>.<event>", into topic
// (ORCS_MSG_TOPIC_MAX + 1 bytes). Returns false, with topic "", when run
// is "" (no run: nothing to publish) or the topic would be too long.
ORCS_EXPORT bool
orcs_msg_run_topic(char *topic, const char *run, const char *event);
ORCS_EXPORT int64_t orcs_msg_deadline_us(const orcs_msg_t *self);
ORCS_EXPORT uint32_t orcs_msg_flags(const orcs_msg_t *self);
ORCS_EXPORT orcs_status orcs_msg_status(const orcs_msg_t *self);
ORCS_EXPORT uint32_t orcs_msg_incarnation(const orcs_msg_t *self);

// Copies the trace id (16 bytes) and span id (8 bytes) out; absent ids are
// zeros. Returns true when a trace id was set.
ORCS_EXPORT bool orcs_msg_trace(const orcs_msg_t *self,
                                uint8_t trace_id[16],
                                uint8_t span_id[8]);

// Setters. String setters return ORCS_ETOOBIG when the value is longer than
// the field allows (the field is then unchanged), else ORCS_OK.
ORCS_EXPORT orcs_status orcs_msg_set_type(orcs_msg_t *self, const char *type);
ORCS_EXPORT orcs_status orcs_msg_set_run_id(orcs_msg_t *self,
                                            const char *run_id);
ORCS_EXPORT orcs_status orcs_msg_set_topic(orcs_msg_t *self, const char *topic);
ORCS_EXPORT void orcs_msg_set_deadline_us(orcs_msg_t *self,
                                          int64_t deadline_us);
ORCS_EXPORT void orcs_msg_set_flags(orcs_msg_t *self, uint32_t flags);
ORCS_EXPORT void orcs_msg_set_status(orcs_msg_t *self, orcs_status status);
ORCS_EXPORT void orcs_msg_set_trace(orcs_msg_t *self,
                                    const uint8_t trace_id[16],
                                    const uint8_t span_id[8]);

// Replaces the body with *body_p. Takes ownership of *body_p and sets it to
// NULL (a NULL *body_p means a null body).
ORCS_EXPORT void orcs_msg_set_body(orcs_msg_t *self, json_t **body_p);

// Replaces the body with a copy of size bytes that are already MessagePack
// (e.g. cached or forwarded). The receiver validates them as any body.
ORCS_EXPORT void
orcs_msg_set_body_raw(orcs_msg_t *self, const void *data, size_t size);

// Gives the body as a document, decoding it on first use with the default
// limits. Borrowed: valid until the message is destroyed or its body is
// replaced. Returns ORCS_OK, or what orcs_doc_decode returns for a bad body
// (ORCS_EPROTO, ORCS_ETOOBIG) with *body_p NULL.
ORCS_EXPORT orcs_status orcs_msg_body(orcs_msg_t *self, const json_t **body_p);

// Moves the body out (decoding as orcs_msg_body does); the message is left
// with a null body. Caller owns *body_p; destroy with json_decref().
ORCS_EXPORT orcs_status orcs_msg_take_body(orcs_msg_t *self, json_t **body_p);

// Returns the encoded body bytes, encoding the document if needed, and sets
// *size_p. Borrowed: valid until the body is replaced or the message is
// destroyed.
ORCS_EXPORT const uint8_t *orcs_msg_body_raw(orcs_msg_t *self, size_t *size_p);

#ifdef __cplusplus
}
#endif
#endif
