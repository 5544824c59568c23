/*  fuzz_sse_parse.c — libFuzzer target for the SSE parser and the chat
    stream accumulator, fed in pieces whose sizes come from the input.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../actors/model/openai.h"

typedef struct {
    orcs__chat_stream_t *stream; // accumulator
    char err[256];               // its last error
} s_sink_t;

static orcs_status
s_on_event(void *arg, const char *event, const char *data, size_t size)
{
    s_sink_t *sink = arg;
    (void) event;
    if (strlen(data) > size)
        __builtin_trap(); // contract: data is NUL-terminated at size
    sink->err[0] = '\0';
    orcs_status rc = orcs__chat_stream_data(sink->stream, data, size, sink->err,
                                            sizeof sink->err);
    if (rc != ORCS_OK && sink->err[0] == '\0')
        __builtin_trap(); // contract: every error says why
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // The first byte seeds the piece sizes; the rest is the stream.
    uint32_t seed = size ? data[0] : 0;
    const char *bytes = (const char *) data + (size ? 1 : 0);
    size_t left = size ? size - 1 : 0;
    orcs__sse_t *sse = orcs__sse_new(seed >= 0xF0 ? 64 : 0);
    s_sink_t sink = {.stream = orcs__chat_stream_new()};
    orcs_status rc = ORCS_OK;
    while (left > 0 && rc == ORCS_OK) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 97;
        if (piece > left)
            piece = left;
        rc = orcs__sse_feed(sse, bytes, piece, s_on_event, &sink);
        bytes += piece;
        left -= piece;
    }
    if (rc == ORCS_OK)
        rc = orcs__sse_end(sse, s_on_event, &sink);
    json_t *answer = NULL;
    if (rc == ORCS_OK) {
        rc = orcs__chat_stream_finish(sink.stream, &answer, sink.err,
                                      sizeof sink.err);
        if ((rc == ORCS_OK) != (answer != NULL))
            __builtin_trap(); // contract: out-param set exactly when OK
        if (answer && !json_is_object(json_object_get(answer, "message")))
            __builtin_trap(); // contract: an answer has a message
    }
    // The whole-body parser must agree with itself on the same bytes.
    json_t *again = NULL;
    char err[256];
    orcs_status rc2 =
        orcs__openai_parse_stream((const char *) data + (size ? 1 : 0),
                                  size ? size - 1 : 0, &again, err, sizeof err);
    if ((rc2 == ORCS_OK) != (again != NULL))
        __builtin_trap();
    if (answer) {
        // Rendering a parsed answer and parsing it back gives it again.
        size_t rendered_size = 0;
        char *rendered = orcs__openai_render_stream(answer, &rendered_size);
        json_t *back = NULL;
        if (orcs__openai_parse_stream(rendered, rendered_size, &back, err,
                                      sizeof err)
                != ORCS_OK
            || !json_equal(back, answer))
            __builtin_trap();
        json_decref(back);
        free(rendered);
    }
    json_decref(again);
    json_decref(answer);
    orcs__chat_stream_destroy(&sink.stream);
    orcs__sse_destroy(&sse);
    return 0;
}
