/*  msg.c — messages: header accessors, lazy body, wire frames.
    SPDX-License-Identifier: MPL-2.0 */
#include "orcs/msg.h"

#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "internal.h"

orcs_status
orcs__field_set(char *field, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= size)
        return ORCS_ETOOBIG;
    memcpy(field, value, n + 1);
    return ORCS_OK;
}

orcs_msg_t *
orcs_msg_new(const char *type)
{
    // The header's string fields are large fixed arrays: set each one's
    // first byte instead of zeroing the whole struct (this is per message).
    orcs_msg_t *self = orcs_malloc(sizeof *self);
    Envelope *env = &self->env;
    env->version = ORCS_WIRE_VERSION;
    env->kind = ORCS_MSG_SEND;
    env->from[0] = env->to[0] = env->run_id[0] = env->topic[0] = 0;
    env->correlation_id = 0;
    env->trace_id.size = env->span_id.size = 0;
    env->deadline_us = 0;
    env->flags = 0;
    env->status = 0;
    env->incarnation = 0;
    size_t n = type ? strnlen(type, sizeof env->type - 1) : 0;
    memcpy(env->type, type ? type : "", n);
    env->type[n] = 0;
    self->body = NULL;
    self->raw = NULL;
    self->raw_size = 0;
    self->has_frame = false;
    self->frame_offset = 0;
    self->frame_end = 0;
    self->body_is_null = true;
    return self;
}

orcs_msg_t *
orcs_msg_new_json(const char *type, const json_t *doc)
{
    orcs_msg_t *self = orcs_msg_new(type);
    if (doc) {
        json_t *copy = json_deep_copy(doc);
        orcs_msg_set_body(self, &copy);
    }
    return self;
}

static void
s_body_clear(orcs_msg_t *self)
{
    json_decref(self->body);
    self->body = NULL;
    free(self->raw);
    self->raw = NULL;
    self->raw_size = 0;
    if (self->has_frame) {
        zmq_msg_close(&self->frame);
        self->has_frame = false;
    }
    self->body_is_null = true;
}

void
orcs_msg_destroy(orcs_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs_msg_t *self = *self_p;
    s_body_clear(self);
    free(self);
    *self_p = NULL;
}

void
orcs__msg_recycle(orcs_msg_t **msg_p, orcs_msg_t **spare_p)
{
    if (!*msg_p)
        return;
    if (*spare_p) {
        orcs_msg_destroy(msg_p);
        return;
    }
    s_body_clear(*msg_p);
    *spare_p = *msg_p;
    *msg_p = NULL;
}

// The body bytes of a received message (in its frame).
static const uint8_t *
s_frame_body(const orcs_msg_t *self, size_t *size_p)
{
    zmq_msg_t *frame = (zmq_msg_t *) &self->frame;
    size_t end = self->frame_end ? self->frame_end : zmq_msg_size(frame);
    *size_p = end - self->frame_offset;
    return (const uint8_t *) zmq_msg_data(frame) + self->frame_offset;
}

orcs_msg_t *
orcs_msg_dup(const orcs_msg_t *self)
{
    orcs_msg_t *copy = orcs_msg_new(NULL);
    copy->env = self->env;
    if (self->body) {
        copy->body = json_deep_copy(self->body);
        copy->body_is_null = false;
    } else if (self->raw) {
        orcs_msg_set_body_raw(copy, self->raw, self->raw_size);
    } else if (self->has_frame) {
        size_t size = 0;
        const uint8_t *data = s_frame_body(self, &size);
        orcs_msg_set_body_raw(copy, data, size);
    }
    return copy;
}

const char *
orcs_msg_type(const orcs_msg_t *self)
{
    return self->env.type;
}

orcs_msg_kind
orcs_msg_kind_of(const orcs_msg_t *self)
{
    return (orcs_msg_kind) self->env.kind;
}

const char *
orcs_msg_from(const orcs_msg_t *self)
{
    return self->env.from;
}

const char *
orcs_msg_to(const orcs_msg_t *self)
{
    return self->env.to;
}

uint64_t
orcs_msg_correlation_id(const orcs_msg_t *self)
{
    return self->env.correlation_id;
}

const char *
orcs_msg_run_id(const orcs_msg_t *self)
{
    return self->env.run_id;
}

const char *
orcs_msg_topic(const orcs_msg_t *self)
{
    return self->env.topic;
}

bool
orcs_msg_run_topic(char *topic, const char *run, const char *event)
{
    orcs_assert(topic && run && event);
    int n = snprintf(topic, ORCS_MSG_TOPIC_MAX + 1, "run.%s.%s", run, event);
    if (!run[0] || n < 0 || n > (int) ORCS_MSG_TOPIC_MAX) {
        topic[0] = '\0';
        return false;
    }
    return true;
}

int64_t
orcs_msg_deadline_us(const orcs_msg_t *self)
{
    return self->env.deadline_us;
}

uint32_t
orcs_msg_flags(const orcs_msg_t *self)
{
    return self->env.flags;
}

orcs_status
orcs_msg_status(const orcs_msg_t *self)
{
    return (orcs_status) self->env.status;
}

uint32_t
orcs_msg_incarnation(const orcs_msg_t *self)
{
    return self->env.incarnation;
}

bool
orcs_msg_trace(const orcs_msg_t *self, uint8_t trace_id[16], uint8_t span_id[8])
{
    memset(trace_id, 0, 16);
    memset(span_id, 0, 8);
    memcpy(trace_id, self->env.trace_id.bytes, self->env.trace_id.size);
    memcpy(span_id, self->env.span_id.bytes, self->env.span_id.size);
    return self->env.trace_id.size == 16;
}

orcs_status
orcs_msg_set_type(orcs_msg_t *self, const char *type)
{
    return orcs__field_set(self->env.type, sizeof self->env.type, type);
}

orcs_status
orcs_msg_set_run_id(orcs_msg_t *self, const char *run_id)
{
    return orcs__field_set(self->env.run_id, sizeof self->env.run_id, run_id);
}

orcs_status
orcs_msg_set_topic(orcs_msg_t *self, const char *topic)
{
    return orcs__field_set(self->env.topic, sizeof self->env.topic, topic);
}

void
orcs_msg_set_deadline_us(orcs_msg_t *self, int64_t deadline_us)
{
    self->env.deadline_us = deadline_us;
}

void
orcs_msg_set_flags(orcs_msg_t *self, uint32_t flags)
{
    self->env.flags = flags;
}

void
orcs_msg_set_status(orcs_msg_t *self, orcs_status status)
{
    self->env.status = (int32_t) status;
}

void
orcs_msg_set_trace(orcs_msg_t *self,
                   const uint8_t trace_id[16],
                   const uint8_t span_id[8])
{
    memcpy(self->env.trace_id.bytes, trace_id, 16);
    self->env.trace_id.size = 16;
    memcpy(self->env.span_id.bytes, span_id, 8);
    self->env.span_id.size = 8;
}

void
orcs_msg_set_body(orcs_msg_t *self, json_t **body_p)
{
    s_body_clear(self);
    if (body_p && *body_p) {
        self->body = *body_p;
        self->body_is_null = false;
        *body_p = NULL;
    }
}

void
orcs_msg_set_body_raw(orcs_msg_t *self, const void *data, size_t size)
{
    s_body_clear(self);
    self->raw = orcs_malloc(size);
    if (size)
        memcpy(self->raw, data, size);
    self->raw_size = size;
    self->body_is_null = false;
}

static const uint8_t *
s_encoded(orcs_msg_t *self, size_t *size_p)
{
    static const uint8_t nil = 0xc0;
    if (self->has_frame)
        return s_frame_body(self, size_p);
    if (self->raw) {
        *size_p = self->raw_size;
        return self->raw;
    }
    if (self->body) {
        uint8_t *data = NULL;
        size_t size = 0;
        if (orcs_doc_encode(self->body, &data, &size) == ORCS_OK) {
            self->raw = data;
            self->raw_size = size;
            *size_p = size;
            return data;
        }
    }
    *size_p = 1;
    return &nil;
}

const uint8_t *
orcs_msg_body_raw(orcs_msg_t *self, size_t *size_p)
{
    return s_encoded(self, size_p);
}

orcs_status
orcs_msg_body(orcs_msg_t *self, const json_t **body_p)
{
    *body_p = NULL;
    if (self->body) {
        *body_p = self->body;
        return ORCS_OK;
    }
    if (self->body_is_null && !self->has_frame && !self->raw) {
        self->body = json_null();
        self->body_is_null = false;
        *body_p = self->body;
        return ORCS_OK;
    }
    size_t size = 0;
    const uint8_t *data = s_encoded(self, &size);
    json_t *doc = NULL;
    orcs_status rc = orcs_doc_decode(data, size, NULL, &doc);
    if (rc != ORCS_OK)
        return rc;
    self->body = doc;
    *body_p = doc;
    return ORCS_OK;
}

orcs_status
orcs_msg_take_body(orcs_msg_t *self, json_t **body_p)
{
    const json_t *body = NULL;
    *body_p = NULL;
    orcs_status rc = orcs_msg_body(self, &body);
    if (rc != ORCS_OK)
        return rc;
    *body_p = self->body;
    self->body = NULL;
    s_body_clear(self);
    return ORCS_OK;
}

// ---- wire

size_t
orcs__envelope_encode(const Envelope *env, uint8_t *buf, size_t size)
{
    pb_ostream_t out = pb_ostream_from_buffer(buf, size);
    if (!pb_encode(&out, Envelope_fields, env))
        return 0;
    return out.bytes_written;
}

orcs_status
orcs__envelope_decode(const uint8_t *data, size_t size, Envelope *env)
{
    if (size > ORCS_MSG_HEADER_MAX)
        return ORCS_EPROTO;
    memset(env, 0, sizeof *env);
    pb_istream_t in = pb_istream_from_buffer(data, size);
    // env is zeroed: skip nanopb's pass that sets defaults (all zero).
    if (!pb_decode_ex(&in, Envelope_fields, env, PB_DECODE_NOINIT))
        return ORCS_EPROTO;
    if (env->version != ORCS_WIRE_VERSION)
        return ORCS_EPROTO;
    // nanopb NUL-terminates strings, but a peer may embed NULs: harmless.
    return ORCS_OK;
}

// True when a and b are equal but for the per-message fields.
static bool
s_same_static(const Envelope *a, const Envelope *b)
{
    return a->version == b->version && a->kind == b->kind
           && a->flags == b->flags && a->incarnation == b->incarnation
           && a->trace_id.size == b->trace_id.size
           && a->span_id.size == b->span_id.size
           && strcmp(a->type, b->type) == 0 && strcmp(a->from, b->from) == 0
           && strcmp(a->to, b->to) == 0 && strcmp(a->topic, b->topic) == 0
           && memcmp(a->trace_id.bytes, b->trace_id.bytes, a->trace_id.size)
                  == 0
           && memcmp(a->span_id.bytes, b->span_id.bytes, a->span_id.size) == 0;
}

// Encodes env into buf, reusing the cached encoding of its static fields.
static size_t
s_header_encode(const Envelope *env,
                orcs__header_cache_t *cache,
                uint8_t *buf,
                size_t size)
{
    if (!cache)
        return orcs__envelope_encode(env, buf, size);
    if (cache->size == 0 || !s_same_static(env, &cache->env)) {
        cache->env = *env;
        cache->env.correlation_id = 0;
        cache->env.run_id[0] = '\0';
        cache->env.deadline_us = 0;
        cache->env.status = 0;
        cache->size = orcs__envelope_encode(&cache->env, cache->bytes,
                                            sizeof cache->bytes);
        if (cache->size == 0)
            return 0;
    }
    if (cache->size > size)
        return 0;
    memcpy(buf, cache->bytes, cache->size);
    if (!env->correlation_id && !env->run_id[0] && !env->deadline_us
        && !env->status)
        return cache->size;
    EnvelopeDelta delta = {.correlation_id = env->correlation_id,
                           .deadline_us = env->deadline_us,
                           .status = env->status};
    _Static_assert(sizeof delta.run_id == sizeof env->run_id,
                   "EnvelopeDelta.run_id and Envelope.run_id differ");
    memcpy(delta.run_id, env->run_id, sizeof delta.run_id);
    pb_ostream_t out =
        pb_ostream_from_buffer(buf + cache->size, size - cache->size);
    if (!pb_encode(&out, EnvelopeDelta_fields, &delta))
        return 0;
    return cache->size + out.bytes_written;
}

orcs_status
orcs__msg_send(orcs_msg_t *msg, void *socket, int flags)
{
    return orcs__msg_send_cached(msg, socket, flags, NULL);
}

// A message's frame before it is written out: varint(header size), the
// header, the body.
typedef struct {
    uint8_t prefix[8];                   // varint(header size)
    size_t prefix_size;                  // its bytes
    uint8_t header[ORCS_MSG_HEADER_MAX]; // the encoded header
    size_t header_size;                  // its bytes
    const uint8_t *body;                 // the body (borrowed from msg)
    size_t body_size;                    // its bytes
} s_frame_t;

// Encodes msg's header (through cache) into frame. Returns the frame's
// size, or 0 for an oversized header.
static size_t
s_frame_prepare(orcs_msg_t *msg, orcs__header_cache_t *cache, s_frame_t *frame)
{
    frame->header_size =
        s_header_encode(&msg->env, cache, frame->header, ORCS_MSG_HEADER_MAX);
    if (frame->header_size == 0 || frame->header_size > ORCS_MSG_HEADER_MAX)
        return 0;
    pb_ostream_t out = pb_ostream_from_buffer(frame->prefix, 8);
    pb_encode_varint(&out, frame->header_size);
    frame->prefix_size = out.bytes_written;
    frame->body = s_encoded(msg, &frame->body_size);
    return frame->prefix_size + frame->header_size + frame->body_size;
}

// Writes a prepared frame at to (room for its size).
static void
s_frame_write(const s_frame_t *frame, uint8_t *to)
{
    memcpy(to, frame->prefix, frame->prefix_size);
    memcpy(to + frame->prefix_size, frame->header, frame->header_size);
    memcpy(to + frame->prefix_size + frame->header_size, frame->body,
           frame->body_size);
}

// Sends frame (closing it when the send fails).
static orcs_status
s_zmq_send(zmq_msg_t *frame, void *socket, int flags)
{
    if (zmq_msg_send(frame, socket, flags) >= 0)
        return ORCS_OK;
    int err = zmq_errno();
    zmq_msg_close(frame);
    if (err == EAGAIN)
        return ORCS_EAGAIN;
    if (err == EMSGSIZE)
        return ORCS_ETOOBIG;
    return ORCS_ECLOSED;
}

// Sends size bytes as one frame (copied into a zmq message).
static orcs_status
s_frame_send(const uint8_t *data, size_t size, void *socket, int flags)
{
    zmq_msg_t frame;
    if (zmq_msg_init_size(&frame, size) != 0)
        return ORCS_ETOOBIG;
    memcpy(zmq_msg_data(&frame), data, size);
    return s_zmq_send(&frame, socket, flags);
}

orcs_status
orcs__msg_send_cached(orcs_msg_t *msg,
                      void *socket,
                      int flags,
                      orcs__header_cache_t *cache)
{
    // One frame: varint(header size), header, body (docs/architecture.md).
    s_frame_t parts;
    size_t total = s_frame_prepare(msg, cache, &parts);
    if (total == 0)
        return ORCS_ETOOBIG;
    zmq_msg_t frame;
    if (zmq_msg_init_size(&frame, total) != 0)
        return ORCS_ETOOBIG;
    s_frame_write(&parts, zmq_msg_data(&frame));
    return s_zmq_send(&frame, socket, flags);
}

// ---- batches

orcs_status
orcs__batch_add(orcs__batch_t *batch,
                orcs_msg_t *msg,
                orcs__header_cache_t *cache)
{
    s_frame_t parts;
    size_t total = s_frame_prepare(msg, cache, &parts);
    if (total == 0)
        return ORCS_ETOOBIG;
    size_t need = (batch->size ? batch->size : 1) + 10 + total;
    if (need > batch->alloc) {
        size_t alloc = batch->alloc ? batch->alloc : 1024;
        while (alloc < need)
            alloc *= 2;
        batch->data = orcs_realloc(batch->data, alloc);
        batch->alloc = alloc;
    }
    if (batch->size == 0) {
        batch->data[0] = 0; // header size 0: a batch
        batch->size = 1;
    }
    pb_ostream_t out = pb_ostream_from_buffer(batch->data + batch->size, 10);
    pb_encode_varint(&out, total);
    batch->size += out.bytes_written;
    if (batch->count == 0)
        batch->first = batch->size;
    s_frame_write(&parts, batch->data + batch->size);
    batch->size += total;
    batch->count++;
    return ORCS_OK;
}

// Empties a batch that went out.
static void
s_batch_reset(orcs__batch_t *batch)
{
    batch->size = 0;
    batch->count = 0;
    // A rare large message leaves a large buffer: give it back.
    if (batch->alloc > 4 * ORCS__BATCH_BYTES) {
        free(batch->data);
        batch->data = NULL;
        batch->alloc = 0;
    }
}

// The bytes a batch goes out as: a message alone as itself, several as
// a batch frame.
static const uint8_t *
s_batch_bytes(const orcs__batch_t *batch, size_t *size_p)
{
    if (batch->count == 1) {
        *size_p = batch->size - batch->first;
        return batch->data + batch->first;
    }
    *size_p = batch->size;
    return batch->data;
}

orcs_status
orcs__batch_send(orcs__batch_t *batch, void *socket, int flags)
{
    if (batch->count == 0)
        return ORCS_OK;
    size_t size = 0;
    const uint8_t *data = s_batch_bytes(batch, &size);
    orcs_status rc = s_frame_send(data, size, socket, flags);
    if (rc == ORCS_EAGAIN)
        return rc;
    s_batch_reset(batch);
    return rc;
}

void
orcs__batch_free(orcs__batch_t *batch)
{
    free(batch->data);
    memset(batch, 0, sizeof *batch);
}

static void
s_drain(void *socket)
{
    int more = 1;
    size_t len = sizeof more;
    while (zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        int rc = zmq_msg_recv(&part, socket, 0);
        zmq_msg_close(&part);
        if (rc < 0)
            break;
    }
}

// The length of a header's first run of fields in rising field-number
// order, and in *last_p the number of its last field: nanopb writes a
// message's fields in that order, so a header that s_header_encode wrote
// from its cache ends that run where the delta starts. Any split at a
// field boundary decodes the same; this one makes the cache hit. The
// whole size (and 0) when the header does not parse.
static size_t
s_fixed_size(const uint8_t *data, size_t size, uint32_t *last_p)
{
    pb_istream_t in = pb_istream_from_buffer(data, size);
    uint32_t last = 0;
    while (in.bytes_left > 0) {
        size_t at = size - in.bytes_left;
        pb_wire_type_t type;
        uint32_t tag = 0;
        bool eof = false;
        if (!pb_decode_tag(&in, &type, &tag, &eof) || eof
            || (tag > last && !pb_skip_field(&in, type))) {
            *last_p = 0; // does not parse: decoded whole, and fails
            return size;
        }
        if (tag <= last) {
            *last_p = last;
            return at;
        }
        last = tag;
    }
    *last_p = last; // all of it: a later header may add a delta
    return size;
}

// Whether the cached first part is where data splits (s_fixed_size): its
// bytes start data, and data ends there or goes on with a field number no
// higher than the part's last.
static bool
s_fixed_hit(const orcs__header_cache_t *cache, const uint8_t *data, size_t size)
{
    if (cache->size == 0 || cache->size > size
        || memcmp(cache->bytes, data, cache->size) != 0)
        return false;
    if (cache->size == size)
        return true;
    pb_istream_t in =
        pb_istream_from_buffer(data + cache->size, size - cache->size);
    pb_wire_type_t type;
    uint32_t tag = 0;
    bool eof = false;
    return pb_decode_tag(&in, &type, &tag, &eof) && !eof
           && tag <= cache->last_tag;
}

// Decodes a header frame: its first part (s_fixed_size) from the cache
// when the bytes repeat, then the rest onto it.
static orcs_status
s_header_decode(const uint8_t *data,
                size_t size,
                orcs__header_cache_t *cache,
                Envelope *env)
{
    if (!cache)
        return orcs__envelope_decode(data, size, env);
    if (size > ORCS_MSG_HEADER_MAX)
        return ORCS_EPROTO;
    // The sender's cached part, then its delta (s_header_encode): decoded
    // one after the other they give what the whole header gives, and the
    // first part is usually the last message's.
    size_t fixed = cache->size;
    if (s_fixed_hit(cache, data, size)) {
        *env = cache->env;
    } else {
        uint32_t last = 0;
        fixed = s_fixed_size(data, size, &last);
        cache->size = 0;
        memset(env, 0, sizeof *env);
        pb_istream_t in = pb_istream_from_buffer(data, fixed);
        if (!pb_decode_ex(&in, Envelope_fields, env, PB_DECODE_NOINIT))
            return ORCS_EPROTO;
        memcpy(cache->bytes, data, fixed);
        cache->size = fixed;
        cache->last_tag = last;
        cache->env = *env;
    }
    if (fixed < size) {
        pb_istream_t in = pb_istream_from_buffer(data + fixed, size - fixed);
        if (!pb_decode_ex(&in, Envelope_fields, env, PB_DECODE_NOINIT))
            return ORCS_EPROTO;
    }
    return env->version == ORCS_WIRE_VERSION ? ORCS_OK : ORCS_EPROTO;
}

orcs_status
orcs__msg_recv(void *socket, int flags, orcs_msg_t **msg_p)
{
    return orcs__msg_recv_cached(socket, flags, NULL, NULL, NULL, msg_p);
}

orcs_status
orcs__frame_decode(const uint8_t *data,
                   size_t size,
                   orcs__header_cache_t *cache,
                   Envelope *env,
                   size_t *body_offset_p)
{
    pb_istream_t in = pb_istream_from_buffer(data, size);
    uint32_t header_size = 0;
    if (!pb_decode_varint32(&in, &header_size) || header_size == 0
        || header_size > ORCS_MSG_HEADER_MAX || header_size > in.bytes_left)
        return ORCS_EPROTO;
    size_t offset = size - in.bytes_left;
    orcs_status rc = s_header_decode(data + offset, header_size, cache, env);
    if (rc != ORCS_OK)
        return rc;
    *body_offset_p = offset + header_size;
    return ORCS_OK;
}

void
orcs__rx_batch_close(orcs__rx_batch_t *rx)
{
    if (rx && rx->active) {
        zmq_msg_close(&rx->frame);
        rx->active = false;
    }
}

// The message of a batch frame whose length prefix starts at pos: its
// bytes are [*start_p, *start_p + *length_p). False at a damaged length,
// which ends the batch for splitting and counting alike.
static bool
s_batch_item(const uint8_t *data,
             size_t size,
             size_t pos,
             size_t *start_p,
             size_t *length_p)
{
    pb_istream_t in = pb_istream_from_buffer(data + pos, size - pos);
    uint64_t length = 0;
    if (!pb_decode_varint(&in, &length) || length == 0
        || length > in.bytes_left)
        return false;
    *start_p = size - in.bytes_left;
    *length_p = (size_t) length;
    return true;
}

int64_t
orcs__frame_count(const uint8_t *data, size_t size)
{
    if (size < 2 || data[0] != 0)
        return 1;
    int64_t count = 0;
    size_t pos = 1, start, length;
    while (pos < size && s_batch_item(data, size, pos, &start, &length)) {
        pos = start + length;
        count++;
    }
    return count;
}

// Takes the next message out of rx's batch into msg (its frame shares the
// batch's bytes). A damaged length ends the batch.
static orcs_status
s_batch_next(orcs__rx_batch_t *rx, orcs__header_cache_t *cache, orcs_msg_t *msg)
{
    const uint8_t *data = zmq_msg_data(&rx->frame);
    size_t size = zmq_msg_size(&rx->frame);
    size_t start, length;
    if (!s_batch_item(data, size, rx->pos, &start, &length)) {
        orcs__rx_batch_close(rx);
        return ORCS_EPROTO;
    }
    rx->pos = start + length;
    size_t offset = 0;
    orcs_status rc =
        orcs__frame_decode(data + start, length, cache, &msg->env, &offset);
    if (rc == ORCS_OK) {
        zmq_msg_init(&msg->frame);
        zmq_msg_copy(&msg->frame, &rx->frame); // shares the bytes
        msg->has_frame = true;
        msg->frame_offset = start + offset;
        msg->frame_end = rx->pos;
    }
    if (rx->pos == size)
        orcs__rx_batch_close(rx);
    return rc;
}

// orcs__msg_recv_cached, or with given (not NULL) the frame given instead
// of one read from socket (taken: given is left empty).
static orcs_status
s_recv(void *socket,
       zmq_msg_t *given,
       int flags,
       orcs__header_cache_t *cache,
       orcs_msg_t **spare_p,
       orcs__rx_batch_t *rx,
       orcs_msg_t **msg_p)
{
    *msg_p = NULL;
    orcs_msg_t *msg = NULL;
    if (spare_p && *spare_p) {
        msg = *spare_p; // emptied by orcs__msg_recycle
        *spare_p = NULL;
    } else {
        msg = orcs_malloc(sizeof *msg);
    }
    msg->body = NULL;
    msg->raw = NULL;
    msg->raw_size = 0;
    msg->has_frame = false;
    msg->frame_end = 0;
    msg->body_is_null = false;
    orcs_status rc = ORCS_EPROTO;
    if (rx && rx->active) {
        rc = s_batch_next(rx, cache, msg);
        goto done;
    }
    zmq_msg_init(&msg->frame);
    if (given)
        zmq_msg_move(&msg->frame, given);
    else if (zmq_msg_recv(&msg->frame, socket, flags) < 0) {
        int err = zmq_errno();
        zmq_msg_close(&msg->frame);
        if (spare_p)
            *spare_p = msg;
        else
            free(msg);
        return err == EAGAIN ? ORCS_EAGAIN : ORCS_ECLOSED;
    }
    msg->has_frame = true;
    const uint8_t *data = zmq_msg_data(&msg->frame);
    size_t size = zmq_msg_size(&msg->frame);
    if (!given && zmq_msg_more(&msg->frame))
        s_drain(socket); // one frame per message: more is malformed
    else if (rx && size > 1 && data[0] == 0) {
        // A batch: keep its frame, hand out its messages one by one.
        zmq_msg_init(&rx->frame);
        zmq_msg_move(&rx->frame, &msg->frame);
        rx->pos = 1;
        rx->active = true;
        msg->has_frame = false;
        rc = s_batch_next(rx, cache, msg);
    } else
        rc = orcs__frame_decode(data, size, cache, &msg->env,
                                &msg->frame_offset);
done:
    if (rc != ORCS_OK) {
        orcs_msg_destroy(&msg);
        return rc;
    }
    *msg_p = msg;
    return ORCS_OK;
}

orcs_status
orcs__msg_recv_cached(void *socket,
                      int flags,
                      orcs__header_cache_t *cache,
                      orcs_msg_t **spare_p,
                      orcs__rx_batch_t *rx,
                      orcs_msg_t **msg_p)
{
    return s_recv(socket, NULL, flags, cache, spare_p, rx, msg_p);
}

orcs_status
orcs__msg_recv_frame(zmq_msg_t *frame,
                     orcs__header_cache_t *cache,
                     orcs_msg_t **spare_p,
                     orcs__rx_batch_t *rx,
                     orcs_msg_t **msg_p)
{
    orcs_assert(!rx || !rx->active); // the batch's rest comes first
    return s_recv(NULL, frame, 0, cache, spare_p, rx, msg_p);
}

orcs_status
orcs__batch_frame(orcs__batch_t *batch, zmq_msg_t *frame)
{
    if (batch->count == 0)
        return ORCS_EAGAIN;
    size_t size = 0;
    const uint8_t *data = s_batch_bytes(batch, &size);
    if (zmq_msg_init_size(frame, size) != 0)
        orcs_panic("out of memory for a frame of %zu bytes", size);
    memcpy(zmq_msg_data(frame), data, size);
    s_batch_reset(batch);
    return ORCS_OK;
}
