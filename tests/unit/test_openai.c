/*  test_openai.c — OpenAI requests, answers, SSE, streams and cassettes.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../actors/model/openai.h"
#include "orcs/sys.h"

// ---- helpers

static json_t *
s_json(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (!doc)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return doc;
}

static json_t *
s_parse(const char *body, orcs_status expect, char *err, size_t err_size)
{
    json_t *answer = NULL;
    orcs_status rc =
        orcs__openai_parse(body, strlen(body), &answer, err, err_size);
    if (rc != expect)
        fail_msg("parse: %s (%s), wanted %s", orcs_status_name(rc), err,
                 orcs_status_name(expect));
    assert_true((rc == ORCS_OK) == (answer != NULL));
    return answer;
}

static json_t *
s_parse_stream(const char *body, orcs_status expect, char *err, size_t size)
{
    json_t *answer = NULL;
    orcs_status rc =
        orcs__openai_parse_stream(body, strlen(body), &answer, err, size);
    if (rc != expect)
        fail_msg("parse_stream: %s (%s), wanted %s", orcs_status_name(rc), err,
                 orcs_status_name(expect));
    assert_true((rc == ORCS_OK) == (answer != NULL));
    return answer;
}

static const char *
s_path_str(const json_t *doc, const char *path)
{
    const json_t *at = doc;
    char key[64];
    while (*path && at) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int) n, path);
        if (json_is_array(at))
            at = json_array_get(at, (size_t) atoi(key));
        else
            at = json_object_get(at, key);
        path += n + (path[n] == '.');
    }
    return json_string_value(at);
}

static json_int_t
s_path_int(const json_t *doc, const char *path)
{
    const json_t *at = doc;
    char key[64];
    while (*path && at) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int) n, path);
        at = json_is_array(at) ? json_array_get(at, (size_t) atoi(key))
                               : json_object_get(at, key);
        path += n + (path[n] == '.');
    }
    assert_true(json_is_integer(at));
    return json_integer_value(at);
}

static void
s_assert_equal(const json_t *a, const json_t *b)
{
    if (!json_equal((json_t *) a, (json_t *) b)) {
        char *x = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        char *y = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("%s\n!=\n%s\n", x, y);
        free(x);
        free(y);
        fail();
    }
}

// ---- requests

static void
test_request_has_stream_options_and_copies_options(void **state)
{
    (void) state;
    json_t *messages = s_json("[{\"role\":\"user\",\"content\":\"hi\"}]");
    json_t *tools = s_json("[{\"type\":\"function\",\"function\":{\"name\":"
                           "\"add\",\"parameters\":{}}}]");
    json_t *options = s_json("{\"temperature\":0.5,\"tool_choice\":\"auto\","
                             "\"stream\":false,\"model\":\"x\"}");
    json_t *req = orcs__openai_request("m", messages, tools, options, true);
    assert_string_equal(s_path_str(req, "model"), "m");
    assert_string_equal(s_path_str(req, "messages.0.content"), "hi");
    assert_string_equal(s_path_str(req, "tools.0.function.name"), "add");
    assert_string_equal(s_path_str(req, "tool_choice"), "auto");
    assert_true(json_is_true(json_object_get(req, "stream")));
    assert_true(json_is_true(json_object_get(
        json_object_get(req, "stream_options"), "include_usage")));
    assert_true(json_is_real(json_object_get(req, "temperature")));
    json_decref(req);

    // No tools: no tools member, tool options dropped, no stream_options.
    json_t *empty = json_array();
    req = orcs__openai_request("m", messages, empty, options, false);
    assert_null(json_object_get(req, "tools"));
    assert_null(json_object_get(req, "tool_choice"));
    assert_null(json_object_get(req, "stream_options"));
    assert_true(json_is_false(json_object_get(req, "stream")));
    json_decref(req);
    req = orcs__openai_request("m", NULL, NULL, NULL, false);
    assert_int_equal(json_array_size(json_object_get(req, "messages")), 0);
    json_decref(req);
    // The request shares the caller's values; the stream_options it
    // changes are a copy.
    json_t *with_so = s_json("{\"stream_options\":{\"x\":1}}");
    req = orcs__openai_request("m", messages, tools, with_so, true);
    assert_true(json_is_true(json_object_get(
        json_object_get(req, "stream_options"), "include_usage")));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(req, "stream_options"), "x")),
                     1);
    assert_null(json_object_get(json_object_get(with_so, "stream_options"),
                                "include_usage"));
    assert_ptr_equal(json_object_get(req, "messages"), messages);
    json_decref(req);
    json_decref(with_so);
    json_decref(empty);
    json_decref(messages);
    json_decref(tools);
    json_decref(options);
}

// ---- non-streamed answers

static void
test_parse_plain_answer(void **state)
{
    (void) state;
    char err[256] = "";
    json_t *answer = s_parse(
        "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"gpt-x\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"Paris.\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
        "\"total_tokens\":12,\"prompt_tokens_details\":{\"cached_tokens\":"
        "4}}}",
        ORCS_OK, err, sizeof err);
    json_t *want = s_json(
        "{\"message\":{\"role\":\"assistant\",\"content\":\"Paris.\"},"
        "\"finish_reason\":\"stop\",\"usage\":{\"prompt_tokens\":10,"
        "\"completion_tokens\":2,\"cached_tokens\":4,\"total_tokens\":12},"
        "\"model\":\"gpt-x\"}");
    s_assert_equal(answer, want);
    json_decref(answer);
    json_decref(want);

    // No usage details: cached is 0; no usage at all: null.
    answer = s_parse("{\"choices\":[{\"message\":{\"content\":\"a\"}}],"
                     "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}",
                     ORCS_OK, err, sizeof err);
    assert_int_equal(s_path_int(answer, "usage.cached_tokens"), 0);
    assert_int_equal(s_path_int(answer, "usage.total_tokens"), 4);
    assert_string_equal(s_path_str(answer, "finish_reason"), "stop");
    assert_true(json_is_null(json_object_get(answer, "model")));
    json_decref(answer);
    answer = s_parse("{\"choices\":[{\"message\":{\"content\":null}}]}",
                     ORCS_OK, err, sizeof err);
    assert_true(json_is_null(json_object_get(answer, "usage")));
    assert_true(json_is_null(
        json_object_get(json_object_get(answer, "message"), "content")));
    json_decref(answer);
}

static void
test_parse_tool_calls_and_deviations(void **state)
{
    (void) state;
    char err[256] = "";
    json_t *answer = s_parse(
        "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"\","
        "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"type\":\"function\","
        "\"function\":{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":[2]}}}]},"
        "\"finish_reason\":\"stop\"}]}",
        ORCS_OK, err, sizeof err);
    json_t *want =
        s_json("{\"message\":{\"role\":\"assistant\",\"content\":null,"
               "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\","
               "\"function\":{\"name\":\"get_weather\",\"arguments\":"
               "\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":\"call_1\",\"type\":"
               "\"function\",\"function\":{\"name\":\"add\",\"arguments\":"
               "\"{\\\"a\\\":1,\\\"b\\\":[2]}\"}}]},\"finish_reason\":"
               "\"tool_calls\",\"usage\":null,\"model\":null}");
    s_assert_equal(answer, want);
    json_decref(answer);
    json_decref(want);

    // Content as text parts is joined.
    answer = s_parse("{\"choices\":[{\"message\":{\"content\":[{\"type\":"
                     "\"text\",\"text\":\"Hel\"},{\"type\":\"text\",\"text\":"
                     "\"lo\"}]},\"finish_reason\":\"length\"}]}",
                     ORCS_OK, err, sizeof err);
    assert_string_equal(s_path_str(answer, "message.content"), "Hello");
    assert_string_equal(s_path_str(answer, "finish_reason"), "length");
    json_decref(answer);

    // Legacy function_call becomes a tool call.
    answer = s_parse("{\"choices\":[{\"message\":{\"content\":null,"
                     "\"function_call\":{\"name\":\"f\",\"arguments\":"
                     "\"{}\"}},\"finish_reason\":\"function_call\"}]}",
                     ORCS_OK, err, sizeof err);
    assert_string_equal(s_path_str(answer, "message.tool_calls.0.id"),
                        "call_0");
    assert_string_equal(s_path_str(answer, "finish_reason"), "tool_calls");
    json_decref(answer);
}

static void
test_parse_rejects_bad_input(void **state)
{
    (void) state;
    char err[256] = "";
    s_parse("{\"choices\":[", ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "bad JSON"));
    s_parse("[1,2]", ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "not a JSON object"));
    s_parse("{\"object\":\"chat.completion\"}", ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "no choices"));
    s_parse("{\"choices\":null}", ORCS_EPROTO, err, sizeof err);
    s_parse("{\"choices\":[]}", ORCS_EPROTO, err, sizeof err);
    s_parse("{\"choices\":[{\"delta\":{}}]}", ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "no message"));
    s_parse("{\"choices\":[{\"message\":{\"content\":5}}]}", ORCS_EPROTO, err,
            sizeof err);
    s_parse("{\"choices\":[{\"message\":{\"tool_calls\":[5]}}]}", ORCS_EPROTO,
            err, sizeof err);
    s_parse("{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
            "{\"name\":\"f\",\"arguments\":[1]}}]}}]}",
            ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "arguments"));
    s_parse("{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":"
            "{\"arguments\":\"{}\"}}]}}]}",
            ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "name"));

    // Too many calls.
    char *body = malloc(200 * 64 + 256);
    strcpy(body, "{\"choices\":[{\"message\":{\"tool_calls\":[");
    for (int i = 0; i < 200; i++)
        strcat(body, i ? ",{\"function\":{\"name\":\"f\"}}"
                       : "{\"function\":{\"name\":\"f\"}}");
    strcat(body, "]}}]}");
    s_parse(body, ORCS_ETOOBIG, err, sizeof err);
    free(body);
    json_t *answer = NULL;
    assert_int_equal(orcs__openai_parse("{}", ORCS_OPENAI_BODY_MAX + 1u,
                                        &answer, err, sizeof err),
                     ORCS_ETOOBIG);
    assert_null(answer);
}

static void
test_parse_error_body_is_remote(void **state)
{
    (void) state;
    char err[256] = "";
    const char *body = "{\"error\":{\"message\":\"Rate limit reached\","
                       "\"type\":\"requests\",\"code\":\"rate_limit\"}}";
    s_parse(body, ORCS_EREMOTE, err, sizeof err);
    assert_non_null(strstr(err, "Rate limit reached"));

    char out[256];
    orcs__openai_error_text(429, body, strlen(body), out, sizeof out);
    assert_string_equal(
        out, "HTTP 429: Rate limit reached (type=requests, code=rate_limit)");
    const char *numeric = "{\"error\":{\"message\":\"bad\\nthing\",\"code\":"
                          "400,\"type\":null}}";
    orcs__openai_error_text(400, numeric, strlen(numeric), out, sizeof out);
    assert_string_equal(out, "HTTP 400: bad thing (code=400)");
    const char *html = "<html>\r\n<body>\x01"
                       "Bad   gateway</body></html>";
    orcs__openai_error_text(502, html, strlen(html), out, sizeof out);
    assert_string_equal(out,
                        "HTTP 502: <html> <body>Bad gateway</body></html>");
    orcs__openai_error_text(503, "", 0, out, sizeof out);
    assert_string_equal(out, "HTTP 503: (empty body)");
    char big[1000];
    memset(big, 'x', sizeof big);
    orcs__openai_error_text(500, big, sizeof big, out, sizeof out);
    assert_int_equal(strlen(out), strlen("HTTP 500: ") + 200);
    char tiny[8];
    orcs__openai_error_text(500, body, strlen(body), tiny, sizeof tiny);
    assert_string_equal(tiny, "HTTP 50");
}

// ---- streamed answers

static const char *s_plain_stream =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":"
    "\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\",\"refusal\":null},\"finish_reason\":null}],"
    "\"usage\":null,\"obfuscation\":\"xyz\"}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
    "\"stop\"}],\"usage\":null}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":2,\"total_tokens\":11,\"prompt_tokens_details\":"
    "{\"cached_tokens\":8}}}\n\n"
    "data: [DONE]\n\n";

static void
test_stream_plain_answer(void **state)
{
    (void) state;
    char err[256] = "";
    json_t *answer = s_parse_stream(s_plain_stream, ORCS_OK, err, sizeof err);
    json_t *want = s_json(
        "{\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},"
        "\"finish_reason\":\"stop\",\"usage\":{\"prompt_tokens\":9,"
        "\"completion_tokens\":2,\"cached_tokens\":8,\"total_tokens\":11},"
        "\"model\":\"gpt-x\"}");
    s_assert_equal(answer, want);
    json_decref(answer);
    json_decref(want);
}

static void
test_stream_parallel_calls_interleaved(void **state)
{
    (void) state;
    char err[256] = "";
    const char *body =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_A\","
        "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":1,\"id\":\"call_B\",\"type\":\"function\",\"function\":{"
        "\"name\":\"get_time\",\"arguments\":\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":1,\"function\":{\"arguments\":\"{\\\"tz\\\":\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}},{"
        "\"index\":1,\"function\":{\"arguments\":\"\\\"UTC\\\"}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
        "\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n";
    json_t *answer = s_parse_stream(body, ORCS_OK, err, sizeof err);
    json_t *want = s_json(
        "{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
        "[{\"id\":\"call_A\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"call_B\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"UTC\\\"}\"}}]},"
        "\"finish_reason\":\"tool_calls\",\"usage\":null,\"model\":null}");
    s_assert_equal(answer, want);
    json_decref(answer);
    json_decref(want);
}

static void
test_stream_accepts_listed_deviations(void **state)
{
    (void) state;
    char err[256] = "";
    // \r\n line ends, comments, no space after "data:", choices null, no
    // index and the whole call in one fragment (arguments an object), a
    // second whole call, finish_reason "stop", usage in a chunk with
    // empty choices, obfuscation padding.
    const char *body =
        ": keep-alive\r\n\r\n"
        "data:{\"choices\":null,\"obfuscation\":\"ab\"}\r\n\r\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"c1\","
        "\"type\":\"function\",\"function\":{\"name\":\"add\",\"arguments\":"
        "{\"a\":1}}}]}}]}\r\n\r\n"
        ": ping\r\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{"
        "\"name\":\"mul\",\"arguments\":\"{\\\"b\\\":2}\"}}]}}]}\r\n\r\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],"
        "\"obfuscation\":\"q\"}\r\n\r\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
        "\"completion_tokens\":1}}\r\n\r\n"
        "data: [DONE]\r\n\r\n";
    json_t *answer = s_parse_stream(body, ORCS_OK, err, sizeof err);
    json_t *want = s_json(
        "{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
        "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"add\","
        "\"arguments\":\"{\\\"a\\\":1}\"}},{\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"mul\",\"arguments\":"
        "\"{\\\"b\\\":2}\"}}]},\"finish_reason\":\"tool_calls\",\"usage\":{"
        "\"prompt_tokens\":5,\"completion_tokens\":1,\"cached_tokens\":0,"
        "\"total_tokens\":6},\"model\":null}");
    s_assert_equal(answer, want);
    json_decref(answer);
    json_decref(want);

    // Without index: a fragment with no id continues the last call.
    body = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"x\","
           "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\"}}]}}]}\n\n"
           "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{"
           "\"arguments\":\"\\\":1}\"}}]}}]}\n\n"
           "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"x\","
           "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n"
           "data: {\"choices\":[{\"delta\":{\"content\":[{\"type\":\"text\","
           "\"text\":\"hm\"}]}}]}\n\n"
           "data: [DONE]\n";
    answer = s_parse_stream(body, ORCS_OK, err, sizeof err);
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(answer, "message"), "tool_calls")),
                     1);
    assert_string_equal(s_path_str(answer, "message.tool_calls.0.function."
                                           "arguments"),
                        "{\"a\":1}");
    assert_string_equal(s_path_str(answer, "message.content"), "hm");
    assert_string_equal(s_path_str(answer, "finish_reason"), "tool_calls");
    json_decref(answer);

    // A server that ignored "stream": true.
    answer = s_parse_stream(" {\"choices\":[{\"message\":{\"content\":"
                            "\"x\"}}]}",
                            ORCS_OK, err, sizeof err);
    assert_string_equal(s_path_str(answer, "message.content"), "x");
    json_decref(answer);

    // A finish_reason without [DONE] is accepted.
    answer = s_parse_stream("data: {\"choices\":[{\"delta\":{\"content\":"
                            "\"a\"},\"finish_reason\":\"length\"}]}\n\n",
                            ORCS_OK, err, sizeof err);
    assert_string_equal(s_path_str(answer, "finish_reason"), "length");
    json_decref(answer);
}

static void
test_stream_rejects_truncated_and_bad(void **state)
{
    (void) state;
    char err[256] = "";
    s_parse_stream("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                   "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",
                   ORCS_EPROTO, err, sizeof err);
    assert_string_equal(err, "stream ended early after 2 chunks");
    s_parse_stream("", ORCS_EPROTO, err, sizeof err);
    assert_string_equal(err, "stream ended early after 0 chunks");
    s_parse_stream("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                   "data: {\"choi",
                   ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "bad JSON in chunk 2"));
    s_parse_stream("data: not json\n\n", ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "bad JSON"));
    s_parse_stream("data: {\"choices\":{}}\n\n", ORCS_EPROTO, err, sizeof err);
    s_parse_stream("data: {\"choices\":[{\"delta\":{\"tool_calls\":{}}}]}\n\n",
                   ORCS_EPROTO, err, sizeof err);
    s_parse_stream("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{"
                   "\"index\":0,\"function\":{\"arguments\":\"{}\"}}]},"
                   "\"finish_reason\":\"tool_calls\"}]}\n\n",
                   ORCS_EPROTO, err, sizeof err);
    assert_non_null(strstr(err, "no function name"));
    s_parse_stream("data: {\"error\":{\"message\":\"overloaded\",\"type\":"
                   "\"server_error\"}}\n\n",
                   ORCS_EREMOTE, err, sizeof err);
    assert_string_equal(err, "server error: overloaded (type=server_error)");
    s_parse_stream("event: error\ndata: boom\n\n", ORCS_EREMOTE, err,
                   sizeof err);
    assert_string_equal(err, "server error: boom");

    // Too many calls by index.
    orcs__chat_stream_t *stream = orcs__chat_stream_new();
    orcs_status rc = ORCS_OK;
    for (int i = 0; i < 200 && rc == ORCS_OK; i++) {
        char chunk[160];
        snprintf(chunk, sizeof chunk,
                 "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":%d,"
                 "\"function\":{\"name\":\"f\"}}]}}]}",
                 i);
        rc = orcs__chat_stream_data(stream, chunk, strlen(chunk), err,
                                    sizeof err);
    }
    assert_int_equal(rc, ORCS_ETOOBIG);
    assert_string_equal(err, "more than 128 tool calls");
    orcs__chat_stream_destroy(&stream);
    assert_null(stream);

    // The same through the whole-body parser keeps the accumulator's
    // message; an event over ORCS_OPENAI_EVENT_MAX says so.
    size_t cap = 200 * 128 + ORCS_OPENAI_EVENT_MAX + 64;
    char *body = malloc(cap);
    size_t size = 0;
    for (int i = 0; i < 200; i++)
        size += (size_t) snprintf(
            body + size, cap - size,
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":%d,"
            "\"function\":{\"name\":\"f\"}}]}}]}\n\n",
            i);
    json_t *answer = NULL;
    assert_int_equal(
        orcs__openai_parse_stream(body, size, &answer, err, sizeof err),
        ORCS_ETOOBIG);
    assert_string_equal(err, "more than 128 tool calls");
    memcpy(body, "data: ", 6);
    memset(body + 6, 'x', ORCS_OPENAI_EVENT_MAX);
    memcpy(body + 6 + ORCS_OPENAI_EVENT_MAX, "\n\n", 2);
    assert_int_equal(orcs__openai_parse_stream(body, ORCS_OPENAI_EVENT_MAX + 8,
                                               &answer, err, sizeof err),
                     ORCS_ETOOBIG);
    assert_null(answer);
    assert_string_equal(err, "SSE event over 4194304 bytes");
    free(body);
    orcs__chat_stream_destroy(&stream);
}

static void
test_stream_accumulator_api(void **state)
{
    (void) state;
    char err[256] = "";
    orcs__chat_stream_t *stream = orcs__chat_stream_new();
    const char *chunk = "{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}";
    assert_int_equal(
        orcs__chat_stream_data(stream, chunk, strlen(chunk), err, sizeof err),
        ORCS_OK);
    assert_false(orcs__chat_stream_done(stream));
    assert_int_equal(
        orcs__chat_stream_data(stream, " [DONE] ", 8, err, sizeof err),
        ORCS_OK);
    assert_true(orcs__chat_stream_done(stream));
    // Anything after [DONE] is ignored.
    assert_int_equal(orcs__chat_stream_data(stream, "junk", 4, err, sizeof err),
                     ORCS_OK);
    json_t *answer = NULL;
    assert_int_equal(orcs__chat_stream_finish(stream, &answer, err, sizeof err),
                     ORCS_OK);
    assert_string_equal(s_path_str(answer, "message.content"), "hi");
    json_decref(answer);
    orcs__chat_stream_destroy(&stream);
}

static void
s_round_trip(const char *text)
{
    char err[256] = "";
    json_t *answer = s_json(text);
    size_t size = 0;
    char *body = orcs__openai_render_stream(answer, &size);
    assert_non_null(body);
    assert_int_equal(strlen(body), size);
    json_t *back = NULL;
    orcs_status rc =
        orcs__openai_parse_stream(body, size, &back, err, sizeof err);
    if (rc != ORCS_OK)
        fail_msg("%s: %s\n%s", orcs_status_name(rc), err, body);
    s_assert_equal(back, answer);
    json_decref(back);
    json_decref(answer);
    free(body);
}

static void
test_render_stream_round_trips(void **state)
{
    (void) state;
    s_round_trip("{\"message\":{\"role\":\"assistant\",\"content\":\"A fairly "
                 "long answer, with \\u00e9t\\u00e9 and \\u6f22\\u5b57 and "
                 "emoji \\ud83d\\ude00 split over several chunks.\"},"
                 "\"finish_reason\":\"stop\",\"usage\":{\"prompt_tokens\":7,"
                 "\"completion_tokens\":5,\"cached_tokens\":3,"
                 "\"total_tokens\":12},\"model\":\"m\"}");
    s_round_trip("{\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
                 "\"finish_reason\":\"length\",\"usage\":null,\"model\":null}");
    s_round_trip(
        "{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
        "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"a\",\"arguments\":\"{\\\"text\\\":\\\"a long argument string that "
        "spans chunks \\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\\"}\"}},"
        "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
        "\"b\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\","
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,"
        "\"cached_tokens\":0,\"total_tokens\":2},\"model\":\"m\"}");
}

// ---- SSE

typedef struct {
    char log[4096]; // "event|data;" per event
    size_t size;    // bytes in log
    int count;      // events seen
} s_events_t;

static orcs_status
s_on_event(void *arg, const char *event, const char *data, size_t size)
{
    s_events_t *events = arg;
    assert_int_equal(strlen(data), size);
    int n = snprintf(events->log + events->size,
                     sizeof events->log - events->size, "%s|%s;", event, data);
    events->size += (size_t) n;
    events->count++;
    return ORCS_OK;
}

static orcs_status
s_to_stream(void *arg, const char *event, const char *data, size_t size)
{
    (void) event;
    char err[256];
    return orcs__chat_stream_data(arg, data, size, err, sizeof err);
}

static const char *s_sse_body = "\xEF\xBB\xBF: comment\r\n"
                                "event: first\r\n"
                                "data: line one\r\n"
                                "data:line two\r\n"
                                "id: 7\r\n"
                                "retry: 100\r\n"
                                "unknown: x\r\n"
                                "\r\n"
                                "data\n"
                                "\n"
                                "event: only-event\n"
                                "\n"
                                "data:  two spaces\r"
                                "\r"
                                "data: {\"a\":1}\n\n"
                                "data: [DONE]\n\n";

static const char *s_sse_want = "first|line one\nline two;|;| two spaces;"
                                "|{\"a\":1};|[DONE];";

static void
test_sse_parses_fields_and_line_ends(void **state)
{
    (void) state;
    orcs__sse_t *sse = orcs__sse_new(0);
    s_events_t events = {0};
    assert_int_equal(orcs__sse_feed(sse, s_sse_body, strlen(s_sse_body),
                                    s_on_event, &events),
                     ORCS_OK);
    assert_string_equal(events.log, s_sse_want);
    orcs__sse_destroy(&sse);
    assert_null(sse);
    orcs__sse_destroy(&sse);
}

static void
test_sse_split_at_every_offset_gives_same_events(void **state)
{
    (void) state;
    size_t size = strlen(s_sse_body);
    for (size_t cut = 0; cut <= size; cut++) {
        for (size_t cut2 = cut; cut2 <= size; cut2 += 7) {
            orcs__sse_t *sse = orcs__sse_new(0);
            s_events_t events = {0};
            assert_int_equal(
                orcs__sse_feed(sse, s_sse_body, cut, s_on_event, &events),
                ORCS_OK);
            assert_int_equal(orcs__sse_feed(sse, s_sse_body + cut, cut2 - cut,
                                            s_on_event, &events),
                             ORCS_OK);
            assert_int_equal(orcs__sse_feed(sse, s_sse_body + cut2, size - cut2,
                                            s_on_event, &events),
                             ORCS_OK);
            assert_string_equal(events.log, s_sse_want);
            orcs__sse_destroy(&sse);
        }
    }
    // One byte at a time.
    orcs__sse_t *sse = orcs__sse_new(0);
    s_events_t events = {0};
    for (size_t i = 0; i < size; i++)
        assert_int_equal(
            orcs__sse_feed(sse, s_sse_body + i, 1, s_on_event, &events),
            ORCS_OK);
    assert_string_equal(events.log, s_sse_want);
    orcs__sse_destroy(&sse);

    // A streamed answer split at every offset parses the same.
    char err[256] = "";
    json_t *whole = s_parse_stream(s_plain_stream, ORCS_OK, err, sizeof err);
    size = strlen(s_plain_stream);
    for (size_t cut = 0; cut <= size; cut++) {
        orcs__chat_stream_t *stream = orcs__chat_stream_new();
        sse = orcs__sse_new(0);
        assert_int_equal(
            orcs__sse_feed(sse, s_plain_stream, cut, s_to_stream, stream),
            ORCS_OK);
        assert_int_equal(orcs__sse_feed(sse, s_plain_stream + cut, size - cut,
                                        s_to_stream, stream),
                         ORCS_OK);
        assert_true(orcs__chat_stream_done(stream));
        json_t *answer = NULL;
        assert_int_equal(
            orcs__chat_stream_finish(stream, &answer, err, sizeof err),
            ORCS_OK);
        s_assert_equal(answer, whole);
        json_decref(answer);
        orcs__sse_destroy(&sse);
        orcs__chat_stream_destroy(&stream);
    }
    json_decref(whole);
}

static orcs_status
s_refuse(void *arg, const char *event, const char *data, size_t size)
{
    (void) arg;
    (void) event;
    (void) data;
    (void) size;
    return ORCS_ECANCELED;
}

static void
test_sse_limits_and_callback_errors(void **state)
{
    (void) state;
    orcs__sse_t *sse = orcs__sse_new(16);
    s_events_t events = {0};
    assert_int_equal(
        orcs__sse_feed(sse, "data: 0123456789\n\n", 18, s_on_event, &events),
        ORCS_OK);
    assert_int_equal(orcs__sse_feed(sse, "data: 0123456789abcdefgh", 24,
                                    s_on_event, &events),
                     ORCS_ETOOBIG);
    // Sticky: a broken parser stays broken.
    assert_int_equal(orcs__sse_feed(sse, "\n\n", 2, s_on_event, &events),
                     ORCS_ETOOBIG);
    orcs__sse_destroy(&sse);
    sse = orcs__sse_new(16);
    assert_int_equal(orcs__sse_feed(sse, "data: 01234567\ndata: 0123456\n", 29,
                                    s_on_event, &events),
                     ORCS_ETOOBIG);
    orcs__sse_destroy(&sse);

    sse = orcs__sse_new(0);
    assert_int_equal(
        orcs__sse_feed(sse, "data: x\n\ndata: y\n\n", 18, s_refuse, NULL),
        ORCS_ECANCELED);
    orcs__sse_destroy(&sse);

    // orcs__sse_end: a last line without its end and a pending event.
    sse = orcs__sse_new(0);
    events = (s_events_t){0};
    assert_int_equal(
        orcs__sse_feed(sse, "data: a\n\ndata: [DONE]", 21, s_on_event, &events),
        ORCS_OK);
    assert_int_equal(events.count, 1);
    assert_int_equal(orcs__sse_end(sse, s_on_event, &events), ORCS_OK);
    assert_string_equal(events.log, "|a;|[DONE];");
    orcs__sse_destroy(&sse);
}

// ---- cassettes

static char s_dir[64];

static int
s_setup(void **state)
{
    (void) state;
    snprintf(s_dir, sizeof s_dir, "/tmp/test_openai.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void) state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *
s_write(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    return path;
}

static void
s_load_fails(const char *text, orcs_status expect, const char *want)
{
    char err[512] = "";
    const char *path = s_write("bad.jsonl", text);
    orcs__cassette_t *cassette = NULL;
    orcs_status rc = orcs__cassette_load(path, &cassette, err, sizeof err);
    if (rc != expect)
        fail_msg("%s: %s", orcs_status_name(rc), err);
    assert_null(cassette);
    char full[600];
    snprintf(full, sizeof full, "%s%s", path, want);
    if (strncmp(err, full, strlen(full)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, full);
}

static void
test_cassette_load_errors_name_path_and_line(void **state)
{
    (void) state;
    char err[512] = "";
    orcs__cassette_t *cassette = NULL;
    assert_int_equal(
        orcs__cassette_load("/nonexistent/c.jsonl", &cassette, err, sizeof err),
        ORCS_ENOTFOUND);
    assert_null(cassette);
    assert_non_null(strstr(err, "/nonexistent/c.jsonl"));
    assert_int_equal(orcs__cassette_load(s_dir, &cassette, err, sizeof err),
                     ORCS_EIO);

    const char *ok = "{\"match\":{},\"response\":{\"content\":\"a\"}}\n";
    char text[1024];
    snprintf(text, sizeof text, "# comment\n\n%s{\"match\":{},", ok);
    s_load_fails(text, ORCS_EPROTO, ":4: bad JSON");
    snprintf(text, sizeof text,
             "%s%s{\"match\":{\"contain\":\"x\"},"
             "\"response\":{}}\n",
             ok, ok);
    s_load_fails(text, ORCS_EPROTO, ":3: match key \"contain\"");
    s_load_fails("{\"match\":{\"turn\":0},\"response\":{}}", ORCS_EPROTO,
                 ":1: match key \"turn\"");
    s_load_fails("{\"match\":{}}", ORCS_EPROTO, ":1: no \"response\"");
    s_load_fails("{\"match\":{},\"response\":{\"delay\":5}}", ORCS_EPROTO,
                 ":1: unknown response key \"delay\"");
    s_load_fails("{\"match\":{},\"response\":{\"delay_ms\":-1}}", ORCS_EPROTO,
                 ":1: response.delay_ms");
    s_load_fails("{\"match\":{},\"response\":{\"stream\":1}}", ORCS_EPROTO,
                 ":1: response.stream");
    s_load_fails("{\"match\":{},\"response\":{\"tool_calls\":[{\"arguments\":"
                 "{}}]}}",
                 ORCS_EPROTO, ":1: tool call 0 has no function name");
    s_load_fails("{\"match\":{},\"reply\":{}}", ORCS_EPROTO,
                 ":1: unknown key \"reply\"");
    s_load_fails("[1]", ORCS_EPROTO, ":1: line is not a JSON object");

    // A line over the cap.
    char path[128];
    snprintf(path, sizeof path, "%s/big.jsonl", s_dir);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(ok, file);
    for (size_t i = 0; i < ORCS_CASSETTE_LINE_MAX + 10u; i += 1024) {
        char block[1024];
        memset(block, ' ', sizeof block);
        fwrite(block, 1, sizeof block, file);
    }
    fclose(file);
    assert_int_equal(orcs__cassette_load(path, &cassette, err, sizeof err),
                     ORCS_ETOOBIG);
    assert_null(cassette);
    assert_non_null(strstr(err, "big.jsonl:2: line longer"));
}

static const char *s_cassette =
    "# weather agent\n"
    "{\"match\":{\"contains\":\"weather\",\"turn\":1},\"response\":{"
    "\"content\":null,\"tool_calls\":[{\"name\":\"get_weather\","
    "\"arguments\":{\"city\":\"Paris\"}}],\"delay_ms\":5}}\n"
    "{\"match\":{\"after_tool\":\"weather.get\"},\"response\":{\"content\":"
    "\"Sunny.\",\"stream\":true,\"usage\":{\"prompt_tokens\":3,"
    "\"completion_tokens\":1}}}\r\n"
    "\n"
    "{\"match\":{\"contains\":\"capital\"},\"response\":{\"content\":"
    "\"Paris.\",\"finish_reason\":\"stop\"}}\n"
    "{\"match\":{\"turn\":3},\"response\":{\"content\":\"third\"}}\n";

// orcs__cassette_find for messages; *index_p is SIZE_MAX when it fails.
static orcs_status
s_find(const orcs__cassette_t *cassette,
       const json_t *messages,
       const json_t **lent_p,
       size_t *index_p)
{
    *index_p = SIZE_MAX;
    return orcs__cassette_find(cassette, messages, lent_p, index_p, NULL, NULL,
                               NULL, 0);
}

static json_t *
s_match(const orcs__cassette_t *cassette,
        const char *messages_text,
        orcs_status expect,
        bool *stream,
        int *delay,
        char *err,
        size_t err_size)
{
    json_t *messages = s_json(messages_text);
    json_t *answer = NULL;
    orcs_status rc = orcs__cassette_match(cassette, messages, &answer, stream,
                                          delay, err, err_size);
    // orcs__cassette_find picks the same exchange and lends its answer.
    const json_t *lent = NULL;
    size_t index;
    assert_int_equal(s_find(cassette, messages, &lent, &index), rc);
    json_decref(messages);
    if (rc != expect)
        fail_msg("match: %s (%s)", orcs_status_name(rc), err);
    assert_true((rc == ORCS_OK) == (answer != NULL));
    assert_true((rc == ORCS_OK) == (lent != NULL));
    if (answer) {
        assert_true(answer != lent); // the match is a copy
        assert_true(json_equal(answer, lent));
        assert_true(index < orcs__cassette_size(cassette));
    }
    return answer;
}

// The place of the exchange that answers messages_text.
static size_t
s_find_index(const orcs__cassette_t *cassette, const char *messages_text)
{
    json_t *messages = s_json(messages_text);
    const json_t *lent = NULL;
    size_t index;
    assert_int_equal(s_find(cassette, messages, &lent, &index), ORCS_OK);
    json_decref(messages);
    return index;
}

static void
test_cassette_matches_contains_after_tool_turn(void **state)
{
    (void) state;
    char err[512] = "";
    const char *path = s_write("weather.jsonl", s_cassette);
    orcs__cassette_t *cassette = NULL;
    assert_int_equal(orcs__cassette_load(path, &cassette, err, sizeof err),
                     ORCS_OK);
    assert_int_equal(orcs__cassette_size(cassette), 4);
    bool stream = true;
    int delay = -1;

    json_t *answer = s_match(cassette,
                             "[{\"role\":\"system\",\"content\":\"be brief\"},"
                             "{\"role\":\"user\",\"content\":\"weather in "
                             "Paris?\"}]",
                             ORCS_OK, &stream, &delay, err, sizeof err);
    assert_false(stream);
    assert_int_equal(delay, 5);
    assert_string_equal(
        s_path_str(answer, "message.tool_calls.0.function.arguments"),
        "{\"city\":\"Paris\"}");
    assert_string_equal(s_path_str(answer, "message.tool_calls.0.id"),
                        "call_0");
    assert_string_equal(s_path_str(answer, "finish_reason"), "tool_calls");
    json_decref(answer);

    // after_tool matches the wire name of the call the result answers.
    answer = s_match(
        cassette,
        "[{\"role\":\"user\",\"content\":\"weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
        "\"c9\",\"type\":\"function\",\"function\":{\"name\":\"other\","
        "\"arguments\":\"{}\"}},{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"weather_get\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c9\",\"content\":\"x\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sun\"}]",
        ORCS_OK, &stream, &delay, err, sizeof err);
    assert_true(stream);
    assert_int_equal(delay, 0);
    assert_string_equal(s_path_str(answer, "message.content"), "Sunny.");
    assert_int_equal(s_path_int(answer, "usage.total_tokens"), 4);
    // Places count exchanges, not lines: the blank line is skipped.
    assert_int_equal(s_find_index(cassette,
                                  "[{\"role\":\"user\",\"content\":\"the "
                                  "capital?\"}]"),
                     2);
    json_decref(answer);

    // Same conversation but the last result is for "other": turn 2 and no
    // capital: nothing matches.
    answer = s_match(
        cassette,
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"weather in Paris?\"}]},{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"c9\",\"type\":\"function\",\"function\":{"
        "\"name\":\"other\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
        "\"tool_call_id\":\"c9\",\"content\":\"x\"}]",
        ORCS_ENOTFOUND, NULL, NULL, err, sizeof err);
    char want[600];
    snprintf(want, sizeof want,
             "no exchange in %s matches turn 2 (last user message: "
             "\"weather in Paris?\")",
             path);
    assert_string_equal(err, want);

    answer =
        s_match(cassette, "[{\"role\":\"user\",\"content\":\"the capital?\"}]",
                ORCS_OK, NULL, NULL, err, sizeof err);
    assert_string_equal(s_path_str(answer, "message.content"), "Paris.");
    json_decref(answer);
    answer = s_match(cassette,
                     "[{\"role\":\"user\",\"content\":\"q\"},{\"role\":"
                     "\"assistant\",\"content\":\"a\"},{\"role\":\"user\","
                     "\"content\":\"q\"},{\"role\":\"assistant\",\"content\":"
                     "\"b\"},{\"role\":\"user\",\"content\":\"q\"}]",
                     ORCS_OK, NULL, NULL, err, sizeof err);
    assert_string_equal(s_path_str(answer, "message.content"), "third");
    json_decref(answer);
    s_match(cassette, "[]", ORCS_ENOTFOUND, NULL, NULL, err, sizeof err);

    orcs__cassette_destroy(&cassette);
    assert_null(cassette);
    orcs__cassette_destroy(&cassette);
}

static void
test_cassette_record_line_replays_same_answer(void **state)
{
    (void) state;
    char err[512] = "";
    const char *convs[2] = {
        "[{\"role\":\"system\",\"content\":\"sys\"},{\"role\":\"user\","
        "\"content\":\"add 2 and 3 please\"}]",
        "[{\"role\":\"user\",\"content\":\"add 2 and 3 please\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
        "\"k\",\"type\":\"function\",\"function\":{\"name\":\"add\","
        "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"k\","
        "\"content\":\"5\"}]",
    };
    const char *answers[2] = {
        "{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
        "[{\"id\":\"k\",\"type\":\"function\",\"function\":{\"name\":\"add\","
        "\"arguments\":\"{\\\"a\\\":2,\\\"b\\\":3}\"}}]},\"finish_reason\":"
        "\"tool_calls\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":"
        "3,\"cached_tokens\":2,\"total_tokens\":13},\"model\":null}",
        "{\"message\":{\"role\":\"assistant\",\"content\":\"It is 5.\"},"
        "\"finish_reason\":\"stop\",\"usage\":null,\"model\":null}",
    };
    char text[4096] = "";
    for (int i = 0; i < 2; i++) {
        json_t *messages = s_json(convs[i]);
        json_t *answer = s_json(answers[i]);
        json_t *line = orcs__cassette_record_line(messages, answer);
        assert_int_equal(s_path_int(line, "match.turn"), i + 1);
        assert_string_equal(s_path_str(line, "match.contains"),
                            "add 2 and 3 please");
        char *dump = json_dumps(line, JSON_COMPACT);
        strcat(text, dump);
        strcat(text, "\n");
        free(dump);
        json_decref(line);
        json_decref(messages);
        json_decref(answer);
    }
    const char *path = s_write("recorded.jsonl", text);
    orcs__cassette_t *cassette = NULL;
    assert_int_equal(orcs__cassette_load(path, &cassette, err, sizeof err),
                     ORCS_OK);
    for (int i = 0; i < 2; i++) {
        json_t *answer =
            s_match(cassette, convs[i], ORCS_OK, NULL, NULL, err, sizeof err);
        json_t *want = s_json(answers[i]);
        s_assert_equal(answer, want);
        json_decref(want);
        json_decref(answer);
    }
    orcs__cassette_destroy(&cassette);

    // Long first messages are cut on a UTF-8 boundary.
    char long_text[600] = "[{\"role\":\"user\",\"content\":\"";
    for (int i = 0; i < 150; i++)
        strcat(long_text, "\xc3\xa9");
    strcat(long_text, "\"}]");
    json_t *messages = s_json(long_text);
    json_t *answer = s_json(answers[1]);
    json_t *line = orcs__cassette_record_line(messages, answer);
    assert_int_equal(strlen(s_path_str(line, "match.contains")), 200);
    json_decref(line);
    json_decref(answer);
    json_decref(messages);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_has_stream_options_and_copies_options),
        cmocka_unit_test(test_parse_plain_answer),
        cmocka_unit_test(test_parse_tool_calls_and_deviations),
        cmocka_unit_test(test_parse_rejects_bad_input),
        cmocka_unit_test(test_parse_error_body_is_remote),
        cmocka_unit_test(test_stream_plain_answer),
        cmocka_unit_test(test_stream_parallel_calls_interleaved),
        cmocka_unit_test(test_stream_accepts_listed_deviations),
        cmocka_unit_test(test_stream_rejects_truncated_and_bad),
        cmocka_unit_test(test_stream_accumulator_api),
        cmocka_unit_test(test_render_stream_round_trips),
        cmocka_unit_test(test_sse_parses_fields_and_line_ends),
        cmocka_unit_test(test_sse_split_at_every_offset_gives_same_events),
        cmocka_unit_test(test_sse_limits_and_callback_errors),
        cmocka_unit_test(test_cassette_load_errors_name_path_and_line),
        cmocka_unit_test(test_cassette_matches_contains_after_tool_turn),
        cmocka_unit_test(test_cassette_record_line_replays_same_answer),
    };
    return cmocka_run_group_tests_name("orcs_openai", tests, s_setup,
                                       s_teardown);
}
