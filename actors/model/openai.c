/*  actors/model/openai.c — OpenAI chat completions: request bodies,
    answers (plain and streamed), error text, and the SSE renderer.
    SPDX-License-Identifier: MPL-2.0

    Every parser here takes bytes from a server and normalises them into
    the answer document described in openai.h; every deviation listed in
    PROTOCOLS.md is accepted, everything else is ORCS_EPROTO with what is
    wrong, and every size is capped before it is allocated. */
#include "openai.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "orcs/sys.h"

typedef struct {
    char *data;  // bytes (NUL-terminated once anything was appended)
    size_t size; // bytes used
    size_t cap;  // bytes allocated
} s_buf_t;

static void
s_buf_add(s_buf_t *buf, const char *bytes, size_t size)
{
    if (buf->size + size + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 64;
        while (cap < buf->size + size + 1)
            cap *= 2;
        buf->data = orcs_realloc(buf->data, cap);
        buf->cap = cap;
    }
    if (size)
        memcpy(buf->data + buf->size, bytes, size);
    buf->size += size;
    buf->data[buf->size] = '\0';
}

static void
s_buf_free(s_buf_t *buf)
{
    free(buf->data);
    *buf = (s_buf_t){0};
}

static void s_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, err_size, fmt, args);
    va_end(args);
}

static orcs_status
s_load(const char *text,
       size_t size,
       const char *what,
       json_t **doc_p,
       char *err,
       size_t err_size)
{
    json_error_t jerr;
    *doc_p = json_loadb(text, size, 0, &jerr);
    if (!*doc_p) {
        s_err(err, err_size, "bad JSON in %s: %s (line %d, column %d)", what,
              jerr.text, jerr.line, jerr.column);
        return ORCS_EPROTO;
    }
    if (!json_is_object(*doc_p)) {
        json_decref(*doc_p);
        *doc_p = NULL;
        s_err(err, err_size, "%s is not a JSON object", what);
        return ORCS_EPROTO;
    }
    return ORCS_OK;
}

// Copies text into out on one line: control bytes become spaces, runs of
// spaces collapse, and at most limit bytes are taken.
static void
s_one_line(const char *text, size_t size, size_t limit, s_buf_t *out)
{
    size_t taken = 0;
    bool space = out->size > 0 && out->data[out->size - 1] == ' ';
    for (size_t i = 0; i < size && taken < limit; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (space || out->size == 0)
                continue;
            c = ' ';
        }
        space = c == ' ';
        char byte = (char) c;
        s_buf_add(out, &byte, 1);
        taken++;
    }
    while (out->size > 0 && out->data[out->size - 1] == ' ')
        out->data[--out->size] = '\0';
}

// "message (type=T, code=C)" from an OpenAI error object or string.
static void
s_error_describe(const json_t *error, s_buf_t *out)
{
    if (json_is_string(error)) {
        s_one_line(json_string_value(error), json_string_length(error), 500,
                   out);
        return;
    }
    const json_t *message = json_object_get(error, "message");
    if (json_is_string(message))
        s_one_line(json_string_value(message), json_string_length(message), 500,
                   out);
    else
        s_buf_add(out, "unknown error", 13);
    const char *names[2] = {"type", "code"};
    bool open = false;
    for (int i = 0; i < 2; i++) {
        const json_t *value = json_object_get(error, names[i]);
        char num[32];
        const char *text = NULL;
        if (json_is_string(value) && json_string_length(value) > 0)
            text = json_string_value(value);
        else if (json_is_integer(value)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(value));
            text = num;
        }
        if (!text)
            continue;
        s_buf_add(out, open ? ", " : " (", 2);
        s_buf_add(out, names[i], strlen(names[i]));
        s_buf_add(out, "=", 1);
        s_one_line(text, strlen(text), 100, out);
        open = true;
    }
    if (open)
        s_buf_add(out, ")", 1);
}

static orcs_status
s_remote_error(const json_t *error, char *err, size_t err_size)
{
    s_buf_t text = {0};
    s_error_describe(error, &text);
    s_err(err, err_size, "server error: %s", text.data ? text.data : "");
    s_buf_free(&text);
    return ORCS_EREMOTE;
}

// ---- requests

json_t *
orcs__openai_request(const char *model,
                     const json_t *messages,
                     const json_t *tools,
                     const json_t *options,
                     bool stream)
{
    orcs_assert(model);
    json_t *req = json_object();
    json_object_set_new(req, "model", json_string(model));
    // References, not copies: the request is written out and dropped, and
    // copying a long history for every call cost more than the call.
    json_object_set_new(req, "messages",
                        json_is_array(messages)
                            ? json_incref((json_t *) messages)
                            : json_array());
    bool has_tools = json_is_array(tools) && json_array_size(tools) > 0;
    if (has_tools)
        json_object_set(req, "tools", (json_t *) tools);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) options, key, value)
    {
        if (!strcmp(key, "model") || !strcmp(key, "messages")
            || !strcmp(key, "tools") || !strcmp(key, "stream"))
            continue;
        // Servers refuse tool options on a request without tools.
        if (!has_tools
            && (!strcmp(key, "tool_choice")
                || !strcmp(key, "parallel_tool_calls")))
            continue;
        json_object_set(req, key, value);
    }
    json_object_set_new(req, "stream", json_boolean(stream));
    if (stream) {
        // the caller's stream_options are shared: change a copy
        json_t *so = json_object_get(req, "stream_options");
        so = json_is_object(so) ? json_copy(so) : json_object();
        json_object_set_new(req, "stream_options", so);
        json_object_set_new(so, "include_usage", json_true());
    } else {
        json_object_del(req, "stream_options");
    }
    return req;
}

// ---- the normalised answer

// Appends the text of content (a string, or an array of {"type": "text",
// "text"} parts) to out. Returns 0, or -1 for any other shape.
static int
s_content_text(const json_t *content, s_buf_t *out, bool *has_p)
{
    if (json_is_null(content) || !content)
        return 0;
    if (json_is_string(content)) {
        s_buf_add(out, json_string_value(content), json_string_length(content));
        *has_p = true;
        return 0;
    }
    if (!json_is_array(content))
        return -1;
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const json_t *text = json_object_get(part, "text");
        if (json_is_string(part))
            text = part;
        if (!json_is_object(part) && !json_is_string(part))
            return -1;
        if (json_is_string(text)) {
            s_buf_add(out, json_string_value(text), json_string_length(text));
            *has_p = true;
        }
    }
    if (json_array_size(content) == 0)
        *has_p = true;
    return 0;
}

static json_int_t
s_count(const json_t *value)
{
    if (json_is_integer(value))
        return json_integer_value(value) > 0 ? json_integer_value(value) : 0;
    if (json_is_real(value)) {
        double d = json_real_value(value);
        return isfinite(d) && d > 0 && d < 9e18 ? (json_int_t) d : 0;
    }
    return 0;
}

// The normalised usage of a server's usage object (or of a normalised
// one: cached_tokens at top level); JSON null when there is none.
static json_t *
s_usage(const json_t *usage)
{
    if (!json_is_object(usage))
        return json_null();
    json_int_t prompt = s_count(json_object_get(usage, "prompt_tokens"));
    json_int_t completion =
        s_count(json_object_get(usage, "completion_tokens"));
    const json_t *details = json_object_get(usage, "prompt_tokens_details");
    json_int_t cached = s_count(json_object_get(details, "cached_tokens"))
                            ? s_count(json_object_get(details, "cached_tokens"))
                            : s_count(json_object_get(usage, "cached_tokens"));
    json_int_t total = s_count(json_object_get(usage, "total_tokens"));
    if (total == 0 && prompt <= INT64_MAX / 2 && completion <= INT64_MAX / 2)
        total = prompt + completion;
    json_t *out = json_object();
    json_object_set_new_nocheck(out, "prompt_tokens", json_integer(prompt));
    json_object_set_new_nocheck(out, "completion_tokens",
                                json_integer(completion));
    json_object_set_new_nocheck(out, "cached_tokens", json_integer(cached));
    json_object_set_new_nocheck(out, "total_tokens", json_integer(total));
    return out;
}

// The arguments of a call as a JSON string (object: compact text).
static orcs_status
s_arguments(const json_t *args, json_t **out_p)
{
    if (!args || json_is_null(args)) {
        *out_p = json_string("{}");
        return ORCS_OK;
    }
    if (json_is_string(args) && json_string_length(args) == 0) {
        *out_p = json_string("{}"); // no arguments at all
        return ORCS_OK;
    }
    if (json_is_string(args)) {
        *out_p =
            json_stringn(json_string_value(args), json_string_length(args));
        return ORCS_OK;
    }
    if (!json_is_object(args))
        return ORCS_EPROTO;
    char *text = json_dumps(args, JSON_COMPACT);
    if (!text)
        return ORCS_EPROTO;
    *out_p = json_string(text);
    free(text);
    return *out_p ? ORCS_OK : ORCS_EPROTO;
}

static json_t *
s_call(const char *id, size_t position, const char *name, json_t *arguments)
{
    char fallback[32];
    if (!id || !*id) {
        snprintf(fallback, sizeof fallback, "call_%zu", position);
        id = fallback;
    }
    json_t *fn = json_object();
    json_object_set_new_nocheck(fn, "name", json_string(name));
    json_object_set_new_nocheck(fn, "arguments", arguments);
    json_t *call = json_object();
    json_object_set_new_nocheck(call, "id", json_string(id));
    json_object_set_new_nocheck(call, "type", json_string_nocheck("function"));
    json_object_set_new_nocheck(call, "function", fn);
    return call;
}

// One tool call, OpenAI-shaped or {"name", "arguments", "id"?}.
static orcs_status
s_tool_call(
    const json_t *call, size_t i, json_t **out_p, char *err, size_t err_size)
{
    if (!json_is_object(call)) {
        s_err(err, err_size, "tool call %zu is not an object", i);
        return ORCS_EPROTO;
    }
    const json_t *fn = json_object_get(call, "function");
    if (!fn)
        fn = call;
    const json_t *name = json_object_get(fn, "name");
    if (!json_is_object(fn) || !json_is_string(name)
        || json_string_length(name) == 0) {
        s_err(err, err_size, "tool call %zu has no function name", i);
        return ORCS_EPROTO;
    }
    json_t *args = NULL;
    if (s_arguments(json_object_get(fn, "arguments"), &args) != ORCS_OK) {
        s_err(err, err_size,
              "tool call %zu: arguments are not a string or an object", i);
        return ORCS_EPROTO;
    }
    const json_t *id = json_object_get(call, "id");
    *out_p = s_call(json_string_value(id), i, json_string_value(name), args);
    return ORCS_OK;
}

static orcs_status
s_tool_calls(const json_t *message,
             json_t **calls_p,
             char *err,
             size_t err_size)
{
    *calls_p = NULL;
    const json_t *calls = json_object_get(message, "tool_calls");
    const json_t *legacy = json_object_get(message, "function_call");
    if ((!calls || json_is_null(calls)) && json_is_object(legacy)) {
        json_t *call = NULL;
        orcs_status rc = s_tool_call(legacy, 0, &call, err, err_size);
        if (rc == ORCS_OK)
            *calls_p = json_pack("[o]", call);
        return rc;
    }
    if (!calls || json_is_null(calls))
        return ORCS_OK;
    if (!json_is_array(calls)) {
        s_err(err, err_size, "tool_calls is not an array");
        return ORCS_EPROTO;
    }
    if (json_array_size(calls) > ORCS_OPENAI_CALLS_MAX) {
        s_err(err, err_size, "%zu tool calls (at most %u)",
              json_array_size(calls), ORCS_OPENAI_CALLS_MAX);
        return ORCS_ETOOBIG;
    }
    if (json_array_size(calls) == 0)
        return ORCS_OK;
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(calls); i++) {
        json_t *call = NULL;
        orcs_status rc =
            s_tool_call(json_array_get(calls, i), i, &call, err, err_size);
        if (rc != ORCS_OK) {
            json_decref(out);
            return rc;
        }
        json_array_append_new(out, call);
    }
    *calls_p = out;
    return ORCS_OK;
}

// Assembles the answer; takes content, calls and usage.
static json_t *
s_answer(json_t *content,
         json_t *calls,
         const char *finish_reason,
         json_t *usage,
         const char *model)
{
    if (calls && json_is_string(content) && json_string_length(content) == 0) {
        json_decref(content);
        content = json_null();
    }
    json_t *message = json_object();
    json_object_set_new_nocheck(message, "role",
                                json_string_nocheck("assistant"));
    json_object_set_new_nocheck(message, "content",
                                content ? content : json_null());
    if (calls)
        json_object_set_new_nocheck(message, "tool_calls", calls);
    if (calls)
        finish_reason = "tool_calls"; // servers that say "stop" are wrong
    else if (!finish_reason || !*finish_reason)
        finish_reason = "stop";
    json_t *answer = json_object();
    json_object_set_new_nocheck(answer, "message", message);
    json_object_set_new_nocheck(answer, "finish_reason",
                                json_string(finish_reason));
    json_object_set_new_nocheck(answer, "usage", usage ? usage : json_null());
    json_object_set_new_nocheck(answer, "model",
                                model ? json_string(model) : json_null());
    return answer;
}

orcs_status
orcs__openai_answer(const json_t *message,
                    const char *finish_reason,
                    const json_t *usage,
                    const char *model,
                    json_t **answer_p,
                    char *err,
                    size_t err_size)
{
    orcs_assert(answer_p);
    *answer_p = NULL;
    if (!json_is_object(message)) {
        s_err(err, err_size, "message is not an object");
        return ORCS_EPROTO;
    }
    s_buf_t text = {0};
    bool has = false;
    if (s_content_text(json_object_get(message, "content"), &text, &has)) {
        s_err(err, err_size, "content is not a string or text parts");
        return ORCS_EPROTO;
    }
    json_t *calls = NULL;
    orcs_status rc = s_tool_calls(message, &calls, err, err_size);
    if (rc != ORCS_OK) {
        s_buf_free(&text);
        return rc;
    }
    json_t *content =
        has ? json_stringn(text.data ? text.data : "", text.size) : json_null();
    s_buf_free(&text);
    if (!content) {
        json_decref(calls);
        s_err(err, err_size, "content is not valid UTF-8");
        return ORCS_EPROTO;
    }
    *answer_p = s_answer(content, calls, finish_reason, s_usage(usage), model);
    return ORCS_OK;
}

orcs_status
orcs__openai_parse(const char *body,
                   size_t size,
                   json_t **answer_p,
                   char *err,
                   size_t err_size)
{
    orcs_assert(answer_p);
    *answer_p = NULL;
    if (size > ORCS_OPENAI_BODY_MAX) {
        s_err(err, err_size, "answer of %zu bytes (at most %u)", size,
              ORCS_OPENAI_BODY_MAX);
        return ORCS_ETOOBIG;
    }
    json_t *doc = NULL;
    orcs_status rc = s_load(body, size, "answer", &doc, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    const json_t *error = json_object_get(doc, "error");
    const json_t *choices = json_object_get(doc, "choices");
    const json_t *choice = json_array_get(choices, 0);
    if (error && !json_is_null(error)) {
        rc = s_remote_error(error, err, err_size);
    } else if (!json_is_array(choices) || json_array_size(choices) == 0) {
        s_err(err, err_size, "answer has no choices");
        rc = ORCS_EPROTO;
    } else if (!json_is_object(choice)
               || !json_is_object(json_object_get(choice, "message"))) {
        s_err(err, err_size, "choices[0] has no message");
        rc = ORCS_EPROTO;
    } else {
        const json_t *finish = json_object_get(choice, "finish_reason");
        rc = orcs__openai_answer(
            json_object_get(choice, "message"), json_string_value(finish),
            json_object_get(doc, "usage"),
            json_string_value(json_object_get(doc, "model")), answer_p, err,
            err_size);
    }
    json_decref(doc);
    return rc;
}

void
orcs__openai_error_text(
    long http_status, const char *body, size_t size, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return;
    s_buf_t text = {0};
    json_t *doc = NULL;
    if (body && size > 0 && size <= ORCS_OPENAI_BODY_MAX)
        doc = json_loadb(body, size, 0, NULL);
    const json_t *error = json_object_get(doc, "error");
    if (json_is_object(error) || json_is_string(error))
        s_error_describe(error, &text);
    else if (body && size > 0) {
        // The first 200 printable bytes, on one line.
        char raw[200];
        size_t n = 0;
        for (size_t i = 0; i < size && n < sizeof raw; i++) {
            unsigned char c = (unsigned char) body[i];
            if ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t')
                raw[n++] = (char) c;
        }
        s_one_line(raw, n, sizeof raw, &text);
    }
    json_decref(doc);
    if (text.size > 0)
        snprintf(out, out_size, "HTTP %ld: %s", http_status, text.data);
    else
        snprintf(out, out_size, "HTTP %ld: (empty body)", http_status);
    s_buf_free(&text);
}

// ---- streamed answers

typedef struct {
    json_int_t index; // the server's index (or one past the last)
    char *id;         // NULL until a fragment names it
    s_buf_t name;     // function name
    s_buf_t args;     // arguments text, concatenated
} s_frag_call_t;

struct orcs__chat_stream_t {
    s_buf_t content;      // content pieces, concatenated
    bool has_content;     // some content (even "") was sent
    s_frag_call_t *calls; // ORCS_OPENAI_CALLS_MAX entries
    size_t call_count;    // calls started
    size_t total;         // bytes accumulated, capped at BODY_MAX
    json_t *usage;        // the last usage seen, normalised, or NULL
    char *finish_reason;  // the last finish_reason seen, or NULL
    char *model;          // the first model seen, or NULL
    size_t chunks;        // chunks taken (not counting [DONE])
    bool done;            // "[DONE]" seen
};

orcs__chat_stream_t *
orcs__chat_stream_new(void)
{
    orcs__chat_stream_t *self = orcs_calloc(1, sizeof *self);
    self->calls = orcs_calloc(ORCS_OPENAI_CALLS_MAX, sizeof *self->calls);
    return self;
}

void
orcs__chat_stream_destroy(orcs__chat_stream_t **self_p)
{
    orcs_assert(self_p);
    orcs__chat_stream_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->call_count; i++) {
        free(self->calls[i].id);
        s_buf_free(&self->calls[i].name);
        s_buf_free(&self->calls[i].args);
    }
    free(self->calls);
    s_buf_free(&self->content);
    json_decref(self->usage);
    free(self->finish_reason);
    free(self->model);
    free(self);
    *self_p = NULL;
}

bool
orcs__chat_stream_done(const orcs__chat_stream_t *self)
{
    orcs_assert(self);
    return self->done;
}

// Counts size more bytes against the answer cap.
static orcs_status
s_take(orcs__chat_stream_t *self, size_t size, char *err, size_t err_size)
{
    if (size > ORCS_OPENAI_BODY_MAX - self->total) {
        s_err(err, err_size, "streamed answer over %u bytes",
              ORCS_OPENAI_BODY_MAX);
        return ORCS_ETOOBIG;
    }
    self->total += size;
    return ORCS_OK;
}

// The call a fragment belongs to; starts one when needed (NULL: too many).
static s_frag_call_t *
s_frag_target(orcs__chat_stream_t *self, const json_t *frag, const char *name)
{
    const json_t *index = json_object_get(frag, "index");
    const char *id = json_string_value(json_object_get(frag, "id"));
    if (id && !*id)
        id = NULL;
    bool indexed = json_is_integer(index) && json_integer_value(index) >= 0;
    s_frag_call_t *last =
        self->call_count ? &self->calls[self->call_count - 1] : NULL;
    if (indexed) {
        for (size_t i = 0; i < self->call_count; i++)
            if (self->calls[i].index == json_integer_value(index))
                return &self->calls[i];
    } else if (last) {
        // No index: continue the last call unless this names another one.
        bool other_id = id && last->id && strcmp(id, last->id) != 0;
        bool other_name = !id && name && last->name.size
                          && strcmp(name, last->name.data) != 0;
        if (!other_id && !other_name)
            return last;
    }
    if (self->call_count == ORCS_OPENAI_CALLS_MAX)
        return NULL;
    s_frag_call_t *call = &self->calls[self->call_count++];
    json_int_t next = 0;
    for (size_t i = 0; i + 1 < self->call_count; i++)
        if (self->calls[i].index >= next && self->calls[i].index < INT64_MAX)
            next = self->calls[i].index + 1;
    call->index = indexed ? json_integer_value(index) : next;
    return call;
}

static orcs_status
s_fragment(orcs__chat_stream_t *self,
           const json_t *frag,
           char *err,
           size_t err_size)
{
    if (!json_is_object(frag)) {
        s_err(err, err_size, "chunk %zu: tool call is not an object",
              self->chunks);
        return ORCS_EPROTO;
    }
    const json_t *fn = json_object_get(frag, "function");
    if (!fn || json_is_null(fn))
        fn = frag; // flat {"name", "arguments"} fragments
    if (!json_is_object(fn)) {
        s_err(err, err_size, "chunk %zu: function is not an object",
              self->chunks);
        return ORCS_EPROTO;
    }
    const json_t *name = json_object_get(fn, "name");
    const char *name_text = json_string_value(name);
    if (name_text && !*name_text)
        name_text = NULL;
    s_frag_call_t *call = s_frag_target(self, frag, name_text);
    if (!call) {
        s_err(err, err_size, "more than %u tool calls", ORCS_OPENAI_CALLS_MAX);
        return ORCS_ETOOBIG;
    }
    const char *id = json_string_value(json_object_get(frag, "id"));
    if (id && *id && !call->id) {
        size_t n = strlen(id);
        if (s_take(self, n, err, err_size) != ORCS_OK)
            return ORCS_ETOOBIG;
        call->id = orcs_strdup(id);
    }
    // A name comes once; servers that repeat it are ignored, servers that
    // stream it in pieces are joined.
    if (name_text
        && (call->name.size == 0 || strcmp(call->name.data, name_text) != 0)) {
        if (s_take(self, json_string_length(name), err, err_size) != ORCS_OK)
            return ORCS_ETOOBIG;
        s_buf_add(&call->name, name_text, json_string_length(name));
    }
    const json_t *args = json_object_get(fn, "arguments");
    if (!args || json_is_null(args)
        || (json_is_string(args) && json_string_length(args) == 0))
        return ORCS_OK;
    json_t *text = NULL;
    if (s_arguments(args, &text) != ORCS_OK) {
        s_err(err, err_size,
              "chunk %zu: arguments are not a string or an object",
              self->chunks);
        return ORCS_EPROTO;
    }
    orcs_status rc = s_take(self, json_string_length(text), err, err_size);
    if (rc == ORCS_OK)
        s_buf_add(&call->args, json_string_value(text),
                  json_string_length(text));
    json_decref(text);
    return rc;
}

static orcs_status
s_delta(orcs__chat_stream_t *self,
        const json_t *delta,
        char *err,
        size_t err_size)
{
    if (!delta || json_is_null(delta))
        return ORCS_OK;
    if (!json_is_object(delta)) {
        s_err(err, err_size, "chunk %zu: delta is not an object", self->chunks);
        return ORCS_EPROTO;
    }
    s_buf_t text = {0};
    bool has = false;
    if (s_content_text(json_object_get(delta, "content"), &text, &has)) {
        s_err(err, err_size, "chunk %zu: content is not a string or parts",
              self->chunks);
        return ORCS_EPROTO;
    }
    orcs_status rc = s_take(self, text.size, err, err_size);
    if (rc == ORCS_OK && has) {
        s_buf_add(&self->content, text.data ? text.data : "", text.size);
        self->has_content = true;
    }
    s_buf_free(&text);
    if (rc != ORCS_OK)
        return rc;
    const json_t *calls = json_object_get(delta, "tool_calls");
    const json_t *legacy = json_object_get(delta, "function_call");
    if (json_is_object(legacy) && (!calls || json_is_null(calls)))
        return s_fragment(self, legacy, err, err_size);
    if (!calls || json_is_null(calls))
        return ORCS_OK;
    if (!json_is_array(calls)) {
        s_err(err, err_size, "chunk %zu: tool_calls is not an array",
              self->chunks);
        return ORCS_EPROTO;
    }
    for (size_t i = 0; i < json_array_size(calls) && rc == ORCS_OK; i++)
        rc = s_fragment(self, json_array_get(calls, i), err, err_size);
    return rc;
}

static orcs_status
s_choices(orcs__chat_stream_t *self,
          const json_t *choices,
          char *err,
          size_t err_size)
{
    if (!choices || json_is_null(choices))
        return ORCS_OK; // usage-only chunks of some servers
    if (!json_is_array(choices)) {
        s_err(err, err_size, "chunk %zu: choices is not an array",
              self->chunks);
        return ORCS_EPROTO;
    }
    size_t i;
    const json_t *choice;
    json_array_foreach(choices, i, choice)
    {
        if (!json_is_object(choice)) {
            s_err(err, err_size, "chunk %zu: choice is not an object",
                  self->chunks);
            return ORCS_EPROTO;
        }
        const json_t *index = json_object_get(choice, "index");
        if (json_is_integer(index) && json_integer_value(index) != 0)
            continue; // only the first choice is kept (n = 1)
        orcs_status rc =
            s_delta(self, json_object_get(choice, "delta"), err, err_size);
        if (rc != ORCS_OK)
            return rc;
        const json_t *finish = json_object_get(choice, "finish_reason");
        if (json_is_string(finish) && json_string_length(finish) > 0) {
            free(self->finish_reason);
            self->finish_reason = orcs_strdup(json_string_value(finish));
        }
    }
    return ORCS_OK;
}

static bool
s_is_done(const char *data, size_t size, size_t *start_p, size_t *end_p)
{
    size_t start = 0, end = size;
    while (start < end && isspace((unsigned char) data[start]))
        start++;
    while (end > start && isspace((unsigned char) data[end - 1]))
        end--;
    *start_p = start;
    *end_p = end;
    return end - start == 6 && memcmp(data + start, "[DONE]", 6) == 0;
}

orcs_status
orcs__chat_stream_data(orcs__chat_stream_t *self,
                       const char *data,
                       size_t size,
                       char *err,
                       size_t err_size)
{
    orcs_assert(self);
    orcs_assert(data || size == 0);
    size_t start, end;
    if (s_is_done(data, size, &start, &end)) {
        self->done = true;
        return ORCS_OK;
    }
    if (self->done || start == end)
        return ORCS_OK; // nothing counts after [DONE]; empty keep-alives
    if (size > ORCS_OPENAI_BODY_MAX) {
        s_err(err, err_size, "chunk of %zu bytes (at most %u)", size,
              ORCS_OPENAI_BODY_MAX);
        return ORCS_ETOOBIG;
    }
    char what[48];
    snprintf(what, sizeof what, "chunk %zu", self->chunks + 1);
    json_t *chunk = NULL;
    orcs_status rc = s_load(data, size, what, &chunk, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    self->chunks++;
    const json_t *error = json_object_get(chunk, "error");
    if (error && !json_is_null(error)) {
        rc = s_remote_error(error, err, err_size);
        json_decref(chunk);
        return rc;
    }
    const json_t *model = json_object_get(chunk, "model");
    if (!self->model && json_is_string(model))
        self->model = orcs_strdup(json_string_value(model));
    const json_t *usage = json_object_get(chunk, "usage");
    if (json_is_object(usage)) {
        json_decref(self->usage);
        self->usage = s_usage(usage);
    }
    rc = s_choices(self, json_object_get(chunk, "choices"), err, err_size);
    json_decref(chunk);
    return rc;
}

static int
s_by_index(const void *a, const void *b)
{
    const s_frag_call_t *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

orcs_status
orcs__chat_stream_finish(orcs__chat_stream_t *self,
                         json_t **answer_p,
                         char *err,
                         size_t err_size)
{
    orcs_assert(self);
    orcs_assert(answer_p);
    *answer_p = NULL;
    if (!self->done && !self->finish_reason) {
        s_err(err, err_size, "stream ended early after %zu chunks",
              self->chunks);
        return ORCS_EPROTO;
    }
    // Indexes are unique, so the order is the same for every stable sort.
    qsort(self->calls, self->call_count, sizeof *self->calls, s_by_index);
    json_t *calls = self->call_count ? json_array() : NULL;
    for (size_t i = 0; i < self->call_count; i++) {
        s_frag_call_t *call = &self->calls[i];
        json_t *args = call->args.size
                           ? json_stringn(call->args.data, call->args.size)
                           : json_string("{}");
        // Pieces of JSON strings join into valid UTF-8, so only a missing
        // name is wrong here.
        if (!args || call->name.size == 0) {
            json_decref(args);
            json_decref(calls);
            s_err(err, err_size, "tool call %zu has no function name", i);
            return ORCS_EPROTO;
        }
        json_array_append_new(calls,
                              s_call(call->id, i, call->name.data, args));
    }
    json_t *content = NULL;
    if (self->has_content) {
        content = json_stringn(self->content.data ? self->content.data : "",
                               self->content.size);
        if (!content) {
            json_decref(calls);
            s_err(err, err_size, "content is not valid UTF-8");
            return ORCS_EPROTO;
        }
    }
    *answer_p =
        s_answer(content, calls, self->finish_reason,
                 self->usage ? json_incref(self->usage) : NULL, self->model);
    return ORCS_OK;
}

// ---- whole SSE bodies

typedef struct {
    orcs__chat_stream_t *stream; // accumulator fed by each event
    char *err;                   // where a failure is described
    size_t err_size;             // bytes of err
    orcs_status event_rc;        // what the last event's handling returned
} s_feed_t;

static orcs_status
s_event(s_feed_t *feed, const char *event, const char *data, size_t size)
{
    if (!strcmp(event, "ping"))
        return ORCS_OK;
    if (!strcmp(event, "error")) {
        // Some servers send `event: error` with a bare error object or text.
        json_t *doc = json_loadb(data, size, 0, NULL);
        const json_t *error = json_object_get(doc, "error");
        orcs_status rc;
        if (error && !json_is_null(error))
            rc = s_remote_error(error, feed->err, feed->err_size);
        else if (json_is_object(doc))
            rc = s_remote_error(doc, feed->err, feed->err_size);
        else {
            json_t *text = json_stringn(data, size);
            if (!text)
                text = json_string("(error text not UTF-8)");
            rc = s_remote_error(text, feed->err, feed->err_size);
            json_decref(text);
        }
        json_decref(doc);
        return rc;
    }
    return orcs__chat_stream_data(feed->stream, data, size, feed->err,
                                  feed->err_size);
}

static orcs_status
s_on_event(void *arg, const char *event, const char *data, size_t size)
{
    s_feed_t *feed = arg;
    feed->event_rc = s_event(feed, event, data, size);
    return feed->event_rc;
}

orcs_status
orcs__openai_parse_stream(const char *body,
                          size_t size,
                          json_t **answer_p,
                          char *err,
                          size_t err_size)
{
    orcs_assert(answer_p);
    orcs_assert(body || size == 0);
    *answer_p = NULL;
    if (size > ORCS_OPENAI_BODY_MAX) {
        s_err(err, err_size, "answer of %zu bytes (at most %u)", size,
              ORCS_OPENAI_BODY_MAX);
        return ORCS_ETOOBIG;
    }
    // A server that ignored "stream": true answers with one JSON document.
    size_t lead = 0;
    while (lead < size && isspace((unsigned char) body[lead]))
        lead++;
    if (lead < size && body[lead] == '{')
        return orcs__openai_parse(body, size, answer_p, err, err_size);
    orcs__sse_t *sse = orcs__sse_new(0);
    s_feed_t feed = {orcs__chat_stream_new(), err, err_size, ORCS_OK};
    orcs_status rc = orcs__sse_feed(sse, body, size, s_on_event, &feed);
    if (rc == ORCS_OK)
        rc = orcs__sse_end(sse, s_on_event, &feed);
    if (rc == ORCS_ETOOBIG && feed.event_rc != ORCS_ETOOBIG)
        s_err(err, err_size, "SSE event over %u bytes", ORCS_OPENAI_EVENT_MAX);
    if (rc == ORCS_OK)
        rc = orcs__chat_stream_finish(feed.stream, answer_p, err, err_size);
    orcs__chat_stream_destroy(&feed.stream);
    orcs__sse_destroy(&sse);
    return rc;
}

// ---- rendering a stream

#define S_PIECE 24 // bytes of content or arguments per rendered chunk

static void
s_emit(s_buf_t *out, json_t *chunk)
{
    char *text = json_dumps(chunk, JSON_COMPACT);
    json_decref(chunk);
    if (!text)
        return;
    s_buf_add(out, "data: ", 6);
    s_buf_add(out, text, strlen(text));
    s_buf_add(out, "\n\n", 2);
    free(text);
}

static json_t *
s_chunk(const json_t *model, json_t *delta, const char *finish_reason)
{
    json_t *choice =
        json_pack("{si so so}", "index", 0, "delta", delta, "finish_reason",
                  finish_reason ? json_string(finish_reason) : json_null());
    json_t *chunk = json_pack("{ss ss si}", "id", "chatcmpl-orcs", "object",
                              "chat.completion.chunk", "created", 0);
    if (json_is_string(model))
        json_object_set(chunk, "model", (json_t *) model);
    json_object_set_new(chunk, "choices", json_pack("[o]", choice));
    return chunk;
}

// The length of the next piece of text: about S_PIECE bytes, never
// splitting a UTF-8 sequence.
static size_t
s_piece(const char *text, size_t size)
{
    if (size <= S_PIECE)
        return size;
    size_t n = S_PIECE;
    while (n < size && ((unsigned char) text[n] & 0xC0) == 0x80)
        n++;
    return n;
}

static void
s_render_calls(s_buf_t *out, const json_t *model, const json_t *calls)
{
    size_t i;
    const json_t *call;
    json_array_foreach(calls, i, call)
    {
        const json_t *fn = json_object_get(call, "function");
        const json_t *id = json_object_get(call, "id");
        const char *name = json_string_value(json_object_get(fn, "name"));
        const json_t *args = json_object_get(fn, "arguments");
        json_t *first = json_pack("{sI ss s{ss ss}}", "index", (json_int_t) i,
                                  "type", "function", "function", "name",
                                  name ? name : "", "arguments", "");
        if (json_is_string(id))
            json_object_set(first, "id", (json_t *) id);
        s_emit(out,
               s_chunk(model, json_pack("{s[o]}", "tool_calls", first), NULL));
        const char *text = json_string_value(args);
        size_t left = json_string_length(args);
        while (text && left > 0) {
            size_t n = s_piece(text, left);
            json_t *frag = json_pack("{sI s{ss%}}", "index", (json_int_t) i,
                                     "function", "arguments", text, n);
            s_emit(out, s_chunk(model, json_pack("{s[o]}", "tool_calls", frag),
                                NULL));
            text += n;
            left -= n;
        }
    }
}

char *
orcs__openai_render_stream(const json_t *answer, size_t *size_p)
{
    orcs_assert(size_p);
    s_buf_t out = {0};
    const json_t *model = json_object_get(answer, "model");
    const json_t *message = json_object_get(answer, "message");
    const json_t *content = json_object_get(message, "content");
    const json_t *calls = json_object_get(message, "tool_calls");
    const json_t *usage = json_object_get(answer, "usage");
    const char *finish =
        json_string_value(json_object_get(answer, "finish_reason"));
    s_emit(&out, s_chunk(model, json_pack("{ss}", "role", "assistant"), NULL));
    const char *text = json_string_value(content);
    size_t left = json_string_length(content);
    do {
        if (!text)
            break;
        size_t n = s_piece(text, left);
        s_emit(&out,
               s_chunk(model, json_pack("{ss%}", "content", text, n), NULL));
        text += n;
        left -= n;
    } while (left > 0);
    if (json_is_array(calls))
        s_render_calls(&out, model, calls);
    s_emit(&out, s_chunk(model, json_object(), finish ? finish : "stop"));
    if (json_is_object(usage)) {
        json_t *chunk = json_pack(
            "{ss ss si s[] s{sI sI sI s{sI}}}", "id", "chatcmpl-orcs", "object",
            "chat.completion.chunk", "created", 0, "choices", "usage",
            "prompt_tokens", s_count(json_object_get(usage, "prompt_tokens")),
            "completion_tokens",
            s_count(json_object_get(usage, "completion_tokens")),
            "total_tokens", s_count(json_object_get(usage, "total_tokens")),
            "prompt_tokens_details", "cached_tokens",
            s_count(json_object_get(usage, "cached_tokens")));
        if (json_is_string(model))
            json_object_set(chunk, "model", (json_t *) model);
        s_emit(&out, chunk);
    }
    s_buf_add(&out, "data: [DONE]\n\n", 14);
    *size_p = out.size;
    return out.data;
}
