/*  fuzz_frame_decode.c — the message frame parser: varint(header size),
    header, body. The body offset must stay inside the frame, and a frame
    that parses must parse to the same bytes through the header cache
    (which decodes a header in two parts, the first often the last
    header's), alone and after the other messages of a batch. The same
    bytes are also split as a batch frame (a zero byte, then framed
    messages): every message it yields has its body inside the frame,
    and taken as from a local queue it yields no more messages than
    orcs__frame_count counts.
    SPDX-License-Identifier: MPL-2.0 */
#include <string.h>

#include <pb_decode.h>

#include "internal.h"

// The item of a batch frame that starts at *pos (its length prefix), as
// the mailbox splits it: false where the batch ends.
static bool
s_item(const uint8_t *frame,
       size_t size,
       size_t *pos,
       size_t *start_p,
       size_t *length_p)
{
    pb_istream_t in = pb_istream_from_buffer(frame + *pos, size - *pos);
    uint64_t length = 0;
    if (*pos >= size || !pb_decode_varint(&in, &length) || length == 0
        || length > in.bytes_left)
        return false;
    *start_p = size - in.bytes_left;
    *length_p = (size_t) length;
    *pos = *start_p + *length_p;
    return true;
}

// Splits data as a batch the way an actor's mailbox does.
static void
s_split(const uint8_t *data, size_t size)
{
    orcs__rx_batch_t rx = {0};
    zmq_msg_init_size(&rx.frame, size + 1);
    uint8_t *frame = zmq_msg_data(&rx.frame);
    frame[0] = 0;
    memcpy(frame + 1, data, size);
    rx.pos = 1;
    rx.active = size > 0;
    if (!rx.active)
        zmq_msg_close(&rx.frame);
    orcs__header_cache_t cache;
    memset(&cache, 0, sizeof cache);
    orcs_msg_t *spare = NULL;
    size_t pos = 1, start = 0, length = 0;
    for (size_t n = 0; rx.active; n++) {
        if (n > size)
            __builtin_trap(); // every message takes at least one byte
        bool item = s_item(frame, size + 1, &pos, &start, &length);
        orcs_msg_t *msg = NULL;
        orcs_status rc =
            orcs__msg_recv_cached(NULL, 0, &cache, &spare, &rx, &msg);
        if (rc != ORCS_OK && rc != ORCS_EPROTO)
            __builtin_trap();
        if (rc != ORCS_OK)
            continue;
        // Through the cache (which keeps the first part of the last
        // header) it decodes as it does alone.
        Envelope alone;
        size_t offset = 0;
        memset(&alone, 0, sizeof alone);
        if (!item
            || orcs__frame_decode(frame + start, length, NULL, &alone, &offset)
                   != ORCS_OK
            || memcmp(&alone, &msg->env, sizeof alone) != 0)
            __builtin_trap();
        size_t body = 0;
        orcs_msg_body_raw(msg, &body);
        if (!msg->has_frame || msg->frame_end > size + 1
            || msg->frame_offset > msg->frame_end || body > size)
            __builtin_trap();
        orcs__msg_recycle(&msg, &spare);
    }
    orcs_msg_destroy(&spare);
}

// The same bytes, as a batch frame taken from an actor's local queue
// (orcs__msg_recv_frame, then the rest of the batch): each call takes one
// framed message, so there are at most as many as orcs__frame_count says
// (a damaged length ends the batch with one more).
static void
s_local(const uint8_t *data, size_t size)
{
    zmq_msg_t frame;
    zmq_msg_init_size(&frame, size + 1);
    uint8_t *bytes = zmq_msg_data(&frame);
    bytes[0] = 0;
    memcpy(bytes + 1, data, size);
    int64_t count = orcs__frame_count(bytes, size + 1);
    if (count < 0 || (size_t) count > size + 1)
        __builtin_trap();
    orcs__rx_batch_t rx = {0};
    orcs__header_cache_t cache;
    memset(&cache, 0, sizeof cache);
    orcs_msg_t *msg = NULL;
    orcs_status rc = orcs__msg_recv_frame(&frame, &cache, NULL, &rx, &msg);
    zmq_msg_close(&frame);
    int64_t calls = 1;
    for (;;) {
        if (rc != ORCS_OK && rc != ORCS_EPROTO)
            __builtin_trap();
        orcs_msg_destroy(&msg);
        if (!rx.active)
            break;
        rc = orcs__msg_recv_cached(NULL, 0, &cache, NULL, &rx, &msg);
        calls++;
    }
    if (calls > count + 1)
        __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_split(data, size);
    s_local(data, size);
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
    for (int i = 0; i < 2; i++) {        // a miss, then a hit: the same header
        memset(&again, 0, sizeof again); // padding compares equal
        if (orcs__frame_decode(data, size, &cache, &again, &offset2) != ORCS_OK
            || offset2 != offset || memcmp(&again, &env, sizeof env) != 0)
            __builtin_trap();
    }
    return 0;
}
