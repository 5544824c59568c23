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
        zmq_msg_t *frame = (zmq_msg_t *) &self->frame;
        orcs_msg_set_body_raw(
            copy, (uint8_t *) zmq_msg_data(frame) + self->frame_offset,
            zmq_msg_size(frame) - self->frame_offset);
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
    if (self->has_frame) {
        *size_p = zmq_msg_size(&self->frame) - self->frame_offset;
        return (uint8_t *) zmq_msg_data(&self->frame) + self->frame_offset;
    }
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
           && strcmp(a->to, b->to) == 0 && strcmp(a->run_id, b->run_id) == 0
           && strcmp(a->topic, b->topic) == 0
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
    if (!env->correlation_id && !env->deadline_us && !env->status)
        return cache->size;
    EnvelopeDelta delta = {env->correlation_id, env->deadline_us, env->status};
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

orcs_status
orcs__msg_send_cached(orcs_msg_t *msg,
                      void *socket,
                      int flags,
                      orcs__header_cache_t *cache)
{
    // One frame: varint(header size), header, body (docs/architecture.md).
    uint8_t header[ORCS_MSG_HEADER_MAX + 8];
    size_t header_size =
        s_header_encode(&msg->env, cache, header + 8, ORCS_MSG_HEADER_MAX);
    if (header_size == 0 || header_size > ORCS_MSG_HEADER_MAX)
        return ORCS_ETOOBIG;
    uint8_t prefix[8];
    pb_ostream_t out = pb_ostream_from_buffer(prefix, sizeof prefix);
    pb_encode_varint(&out, header_size);
    size_t body_size = 0;
    const uint8_t *body = s_encoded(msg, &body_size);
    size_t total = out.bytes_written + header_size + body_size;
    zmq_msg_t frame;
    if (zmq_msg_init_size(&frame, total) != 0)
        return ORCS_ETOOBIG;
    uint8_t *data = zmq_msg_data(&frame);
    memcpy(data, prefix, out.bytes_written);
    memcpy(data + out.bytes_written, header + 8, header_size);
    memcpy(data + out.bytes_written + header_size, body, body_size);
    if (zmq_msg_send(&frame, socket, flags) < 0) {
        int err = zmq_errno();
        zmq_msg_close(&frame);
        if (err == EAGAIN)
            return ORCS_EAGAIN;
        if (err == EMSGSIZE)
            return ORCS_ETOOBIG;
        return ORCS_ECLOSED;
    }
    return ORCS_OK;
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

// Decodes a header frame, reusing the last decoded header when the bytes
// are the same.
static orcs_status
s_header_decode(const uint8_t *data,
                size_t size,
                orcs__header_cache_t *cache,
                Envelope *env)
{
    if (!cache)
        return orcs__envelope_decode(data, size, env);
    if (cache->size == size && memcmp(cache->bytes, data, size) == 0) {
        *env = cache->env;
        return ORCS_OK;
    }
    orcs_status rc = orcs__envelope_decode(data, size, env);
    if (rc == ORCS_OK && size <= sizeof cache->bytes) {
        memcpy(cache->bytes, data, size);
        cache->size = size;
        cache->env = *env;
    }
    return rc;
}

orcs_status
orcs__msg_recv(void *socket, int flags, orcs_msg_t **msg_p)
{
    return orcs__msg_recv_cached(socket, flags, NULL, NULL, msg_p);
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
    if (!pb_decode_varint32(&in, &header_size)
        || header_size > ORCS_MSG_HEADER_MAX || header_size > in.bytes_left)
        return ORCS_EPROTO;
    size_t offset = size - in.bytes_left;
    orcs_status rc = s_header_decode(data + offset, header_size, cache, env);
    if (rc != ORCS_OK)
        return rc;
    *body_offset_p = offset + header_size;
    return ORCS_OK;
}

orcs_status
orcs__msg_recv_cached(void *socket,
                      int flags,
                      orcs__header_cache_t *cache,
                      orcs_msg_t **spare_p,
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
    msg->body_is_null = false;
    zmq_msg_init(&msg->frame);
    if (zmq_msg_recv(&msg->frame, socket, flags) < 0) {
        int err = zmq_errno();
        zmq_msg_close(&msg->frame);
        if (spare_p)
            *spare_p = msg;
        else
            free(msg);
        return err == EAGAIN ? ORCS_EAGAIN : ORCS_ECLOSED;
    }
    msg->has_frame = true;
    msg->body = NULL;
    msg->raw = NULL;
    msg->raw_size = 0;
    msg->body_is_null = false;
    orcs_status rc = ORCS_EPROTO;
    if (zmq_msg_more(&msg->frame))
        s_drain(socket); // one frame per message: more is malformed
    else
        rc = orcs__frame_decode(zmq_msg_data(&msg->frame),
                                zmq_msg_size(&msg->frame), cache, &msg->env,
                                &msg->frame_offset);
    if (rc != ORCS_OK) {
        orcs_msg_destroy(&msg);
        return rc;
    }
    *msg_p = msg;
    return ORCS_OK;
}
