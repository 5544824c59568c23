/*  fuzz_completion_parse.c — libFuzzer target for orcs__openai_parse and
    orcs__openai_error_text.
    SPDX-License-Identifier: MPL-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../actors/model/openai.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *answer = NULL;
    char err[256];
    err[0] = '\0';
    orcs_status rc =
        orcs__openai_parse((const char *) data, size, &answer, err, sizeof err);
    if ((rc == ORCS_OK) != (answer != NULL))
        __builtin_trap(); // contract: out-param set exactly when OK
    if (rc != ORCS_OK && err[0] == '\0')
        __builtin_trap(); // contract: every error says why
    if (answer) {
        const json_t *message = json_object_get(answer, "message");
        const json_t *content = json_object_get(message, "content");
        if (!json_is_string(content) && !json_is_null(content))
            __builtin_trap(); // contract: content is a string or null
        size_t i;
        const json_t *call;
        json_array_foreach(json_object_get(message, "tool_calls"), i, call)
        {
            const json_t *fn = json_object_get(call, "function");
            if (!json_is_string(json_object_get(fn, "arguments"))
                || !json_is_string(json_object_get(fn, "name"))
                || !json_is_string(json_object_get(call, "id")))
                __builtin_trap(); // contract: normalised calls
        }
        // The same answer streamed parses back to itself.
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
    char text[300];
    orcs__openai_error_text(500, (const char *) data, size, text, sizeof text);
    if (strncmp(text, "HTTP 500: ", 10) != 0)
        __builtin_trap();
    json_decref(answer);
    return 0;
}
