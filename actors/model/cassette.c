/*  actors/model/cassette.c — replay cassettes: recorded exchanges, one
    JSON line each, matched statelessly against a request's messages.
    SPDX-License-Identifier: MPL-2.0 */
#include "openai.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "orcs/sys.h"

#define S_DELAY_MAX   3600000 // ms: an hour is surely a mistake already
#define S_PREVIEW     80      // bytes of the last user message in errors
#define S_RECORD_TEXT 200     // bytes of the first user message recorded

typedef struct {
    int line;         // line number in the file
    char *contains;   // match.contains, or NULL
    char *after_tool; // match.after_tool, or NULL
    long long turn;   // match.turn, or 0 for any
    json_t *answer;   // the normalised answer
    bool stream;      // serve through the SSE path
    int delay_ms;     // wait before answering
} s_exchange_t;

struct orcs__cassette_t {
    char *path;              // the file, for messages
    s_exchange_t *exchanges; // in file order
    size_t count;            // exchanges loaded
    size_t cap;              // allocated entries
};

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

void
orcs__cassette_destroy(orcs__cassette_t **self_p)
{
    orcs_assert(self_p);
    orcs__cassette_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free(self->exchanges[i].contains);
        free(self->exchanges[i].after_tool);
        json_decref(self->exchanges[i].answer);
    }
    free(self->exchanges);
    free(self->path);
    free(self);
    *self_p = NULL;
}

size_t
orcs__cassette_size(const orcs__cassette_t *self)
{
    orcs_assert(self);
    return self->count;
}

// Reads one line (without its '\n') into *buf. Returns 1 for a line, 0 at
// the end of the file, -1 when the line is over the cap (the rest of it is
// not read).
static int
s_read_line(FILE *file, char **buf, size_t *cap, size_t *size_p)
{
    size_t size = 0;
    int c;
    while ((c = getc_unlocked(file)) != EOF && c != '\n') {
        if (size == ORCS_CASSETTE_LINE_MAX)
            return -1;
        if (size + 2 > *cap) {
            *cap = *cap ? *cap * 2 : 4096;
            *buf = orcs_realloc(*buf, *cap);
        }
        (*buf)[size++] = (char) c;
    }
    if (c == EOF && size == 0)
        return 0;
    if (!*buf) {
        *cap = 16;
        *buf = orcs_malloc(*cap);
    }
    if (size > 0 && (*buf)[size - 1] == '\r')
        size--;
    (*buf)[size] = '\0';
    *size_p = size;
    return 1;
}

static bool
s_skip(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return *line == '\0' || *line == '#';
}

static orcs_status
s_match(const json_t *match, s_exchange_t *ex, char *what, size_t what_size)
{
    if (!match)
        return ORCS_OK;
    if (!json_is_object(match)) {
        snprintf(what, what_size, "match is not an object");
        return ORCS_EPROTO;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *) match, key, value)
    {
        if (!strcmp(key, "contains") && json_is_string(value)) {
            ex->contains = orcs_strdup(json_string_value(value));
        } else if (!strcmp(key, "after_tool") && json_is_string(value)
                   && json_string_length(value) > 0) {
            ex->after_tool = orcs_strdup(json_string_value(value));
        } else if (!strcmp(key, "turn") && json_is_integer(value)
                   && json_integer_value(value) >= 1) {
            ex->turn = json_integer_value(value);
        } else {
            snprintf(what, what_size,
                     "match key \"%.64s\" is unknown or has a wrong value "
                     "(contains: text, after_tool: name, turn: N >= 1)",
                     key);
            return ORCS_EPROTO;
        }
    }
    return ORCS_OK;
}

static const char *const s_response_keys[] = {
    "content", "tool_calls", "function_call", "role",          "refusal",
    "usage",   "stream",     "delay_ms",      "finish_reason", "model",
};

static orcs_status
s_response(const json_t *response,
           s_exchange_t *ex,
           char *what,
           size_t what_size)
{
    if (!json_is_object(response)) {
        snprintf(what, what_size, "no \"response\" object");
        return ORCS_EPROTO;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *) response, key, value)
    {
        size_t i = 0;
        size_t n = sizeof s_response_keys / sizeof *s_response_keys;
        while (i < n && strcmp(key, s_response_keys[i]) != 0)
            i++;
        if (i == n) {
            snprintf(what, what_size, "unknown response key \"%.64s\"", key);
            return ORCS_EPROTO;
        }
    }
    const json_t *stream = json_object_get(response, "stream");
    const json_t *delay = json_object_get(response, "delay_ms");
    const json_t *finish = json_object_get(response, "finish_reason");
    if (stream && !json_is_boolean(stream)) {
        snprintf(what, what_size, "response.stream is not true or false");
        return ORCS_EPROTO;
    }
    if (delay
        && (!json_is_integer(delay) || json_integer_value(delay) < 0
            || json_integer_value(delay) > S_DELAY_MAX)) {
        snprintf(what, what_size,
                 "response.delay_ms is not an integer in 0..%d", S_DELAY_MAX);
        return ORCS_EPROTO;
    }
    if (finish && !json_is_string(finish)) {
        snprintf(what, what_size, "response.finish_reason is not a string");
        return ORCS_EPROTO;
    }
    ex->stream = json_is_true(stream);
    ex->delay_ms = delay ? (int) json_integer_value(delay) : 0;
    return orcs__openai_answer(
        response, json_string_value(finish), json_object_get(response, "usage"),
        json_string_value(json_object_get(response, "model")), &ex->answer,
        what, what_size);
}

// Parses one line into a new exchange; on error describes it in what.
static orcs_status
s_exchange(orcs__cassette_t *self,
           const char *line,
           size_t size,
           int lineno,
           char *what,
           size_t what_size)
{
    json_error_t jerr;
    json_t *doc = json_loadb(line, size, 0, &jerr);
    if (!doc) {
        snprintf(what, what_size, "bad JSON: %s (column %d)", jerr.text,
                 jerr.column);
        return ORCS_EPROTO;
    }
    orcs_status rc = ORCS_EPROTO;
    s_exchange_t ex = {.line = lineno};
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        if (strcmp(key, "match") != 0 && strcmp(key, "response") != 0) {
            snprintf(what, what_size, "unknown key \"%.64s\"", key);
            goto cleanup;
        }
    }
    if (!json_is_object(doc))
        snprintf(what, what_size, "line is not a JSON object");
    else if ((rc = s_match(json_object_get(doc, "match"), &ex, what, what_size))
             == ORCS_OK)
        rc = s_response(json_object_get(doc, "response"), &ex, what, what_size);
cleanup:
    json_decref(doc);
    if (rc != ORCS_OK) {
        free(ex.contains);
        free(ex.after_tool);
        json_decref(ex.answer);
        return rc;
    }
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 16;
        self->exchanges =
            orcs_realloc(self->exchanges, self->cap * sizeof *self->exchanges);
    }
    self->exchanges[self->count++] = ex;
    return ORCS_OK;
}

orcs_status
orcs__cassette_load(const char *path,
                    orcs__cassette_t **self_p,
                    char *err,
                    size_t err_size)
{
    orcs_assert(path);
    orcs_assert(self_p);
    *self_p = NULL;
    FILE *file = fopen(path, "rb");
    if (!file) {
        int e = errno;
        s_err(err, err_size, "%s: %s", path, strerror(e));
        return e == ENOENT ? ORCS_ENOTFOUND : ORCS_EIO;
    }
    orcs__cassette_t *self = orcs_calloc(1, sizeof *self);
    self->path = orcs_strdup(path);
    char *line = NULL;
    size_t cap = 0, size = 0;
    int lineno = 0, got;
    orcs_status rc = ORCS_OK;
    char what[512];
    while (rc == ORCS_OK && (got = s_read_line(file, &line, &cap, &size))) {
        lineno++;
        if (got < 0) {
            s_err(err, err_size, "%s:%d: line longer than %u bytes", path,
                  lineno, ORCS_CASSETTE_LINE_MAX);
            rc = ORCS_ETOOBIG;
        } else if (!s_skip(line)) {
            rc = s_exchange(self, line, size, lineno, what, sizeof what);
            if (rc != ORCS_OK)
                s_err(err, err_size, "%s:%d: %s", path, lineno, what);
        }
    }
    if (rc == ORCS_OK && ferror(file)) {
        s_err(err, err_size, "%s: read error", path);
        rc = ORCS_EIO;
    }
    free(line);
    fclose(file);
    if (rc != ORCS_OK)
        orcs__cassette_destroy(&self);
    *self_p = self;
    return rc;
}

// ---- matching

// Appends the text of a message's content (string or text parts).
static bool
s_contains(const json_t *content, const char *needle)
{
    if (json_is_string(content))
        return strstr(json_string_value(content), needle) != NULL;
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *text = json_string_value(json_object_get(part, "text"));
        if (text && strstr(text, needle))
            return true;
    }
    return false;
}

static bool
s_role_is(const json_t *message, const char *role)
{
    const char *value = json_string_value(json_object_get(message, "role"));
    return value && !strcmp(value, role);
}

static bool
s_any_contains(const json_t *messages, const char *needle)
{
    size_t i;
    const json_t *message;
    json_array_foreach(messages, i, message)
    {
        if ((s_role_is(message, "user") || s_role_is(message, "system")
             || s_role_is(message, "developer"))
            && s_contains(json_object_get(message, "content"), needle))
            return true;
    }
    return false;
}

// True when name is tool (registry name) or its wire name ('.' -> '_').
static bool
s_same_tool(const char *tool, const char *name)
{
    for (; *tool && *name; tool++, name++) {
        if (*tool != *name && !(*tool == '.' && *name == '_'))
            return false;
    }
    return *tool == '\0' && *name == '\0';
}

// The name of the tool whose result is the last message, or NULL.
static const char *
s_last_tool(const json_t *messages)
{
    size_t n = json_array_size(messages);
    const json_t *last = json_array_get(messages, n ? n - 1 : 0);
    if (!n || !s_role_is(last, "tool"))
        return NULL;
    const char *id = json_string_value(json_object_get(last, "tool_call_id"));
    for (size_t i = n - 1; i-- > 0 && id;) {
        const json_t *message = json_array_get(messages, i);
        if (!s_role_is(message, "assistant"))
            continue;
        size_t j;
        const json_t *call;
        json_array_foreach(json_object_get(message, "tool_calls"), j, call)
        {
            const char *call_id =
                json_string_value(json_object_get(call, "id"));
            if (call_id && !strcmp(call_id, id))
                return json_string_value(
                    json_object_get(json_object_get(call, "function"), "name"));
        }
        break; // only the assistant message before the results counts
    }
    return json_string_value(json_object_get(last, "name"));
}

static long long
s_turn(const json_t *messages)
{
    long long turn = 1;
    size_t i;
    const json_t *message;
    json_array_foreach(messages, i, message)
    {
        if (s_role_is(message, "assistant"))
            turn++;
    }
    return turn;
}

static bool
s_holds(const s_exchange_t *ex, const json_t *messages, long long turn)
{
    if (ex->turn && ex->turn != turn)
        return false;
    if (ex->contains && !s_any_contains(messages, ex->contains))
        return false;
    if (ex->after_tool) {
        const char *tool = s_last_tool(messages);
        if (!tool || !s_same_tool(ex->after_tool, tool))
            return false;
    }
    return true;
}

// The text of the last (first when first) user message, or "".
static const char *
s_user_text(const json_t *messages, bool first)
{
    size_t n = json_array_size(messages);
    for (size_t k = 0; k < n; k++) {
        const json_t *message = json_array_get(messages, first ? k : n - 1 - k);
        if (!s_role_is(message, "user"))
            continue;
        const json_t *content = json_object_get(message, "content");
        if (json_is_string(content))
            return json_string_value(content);
        const char *text = json_string_value(
            json_object_get(json_array_get(content, 0), "text"));
        return text ? text : "";
    }
    return "";
}

// The length of a prefix of text of at most limit bytes that does not
// split a UTF-8 sequence.
static size_t
s_prefix(const char *text, size_t limit)
{
    size_t n = strlen(text);
    if (n <= limit)
        return n;
    n = limit;
    while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80)
        n--;
    return n;
}

orcs_status
orcs__cassette_match(const orcs__cassette_t *self,
                     const json_t *messages,
                     json_t **answer_p,
                     bool *stream_p,
                     int *delay_ms_p,
                     char *err,
                     size_t err_size)
{
    orcs_assert(answer_p);
    const json_t *answer = NULL;
    orcs_status rc = orcs__cassette_find(self, messages, &answer, NULL,
                                         stream_p, delay_ms_p, err, err_size);
    *answer_p = rc == ORCS_OK ? json_deep_copy(answer) : NULL;
    return rc;
}

orcs_status
orcs__cassette_find(const orcs__cassette_t *self,
                    const json_t *messages,
                    const json_t **answer_p,
                    size_t *index_p,
                    bool *stream_p,
                    int *delay_ms_p,
                    char *err,
                    size_t err_size)
{
    orcs_assert(self);
    orcs_assert(answer_p);
    *answer_p = NULL;
    long long turn = s_turn(messages);
    for (size_t i = 0; i < self->count; i++) {
        const s_exchange_t *ex = &self->exchanges[i];
        if (!s_holds(ex, messages, turn))
            continue;
        *answer_p = ex->answer;
        if (index_p)
            *index_p = i;
        if (stream_p)
            *stream_p = ex->stream;
        if (delay_ms_p)
            *delay_ms_p = ex->delay_ms;
        return ORCS_OK;
    }
    const char *last = s_user_text(messages, false);
    size_t n = s_prefix(last, S_PREVIEW);
    s_err(err, err_size,
          "no exchange in %s matches turn %lld (last user message: "
          "\"%.*s%s\")",
          self->path, turn, (int) n, last, last[n] ? "..." : "");
    return ORCS_ENOTFOUND;
}

json_t *
orcs__cassette_record_line(const json_t *messages, const json_t *answer)
{
    json_t *match = json_pack("{sI}", "turn", (json_int_t) s_turn(messages));
    const char *first = s_user_text(messages, true);
    size_t n = s_prefix(first, S_RECORD_TEXT);
    if (n > 0)
        json_object_set_new(match, "contains", json_stringn(first, n));
    json_t *response = json_object();
    const json_t *message = json_object_get(answer, "message");
    const json_t *content = json_object_get(message, "content");
    json_object_set_new(response, "content",
                        content ? json_deep_copy(content) : json_null());
    const json_t *calls = json_object_get(message, "tool_calls");
    if (json_is_array(calls))
        json_object_set_new(response, "tool_calls", json_deep_copy(calls));
    const json_t *finish = json_object_get(answer, "finish_reason");
    if (json_is_string(finish))
        json_object_set_new(response, "finish_reason", json_deep_copy(finish));
    const json_t *usage = json_object_get(answer, "usage");
    if (json_is_object(usage))
        json_object_set_new(response, "usage", json_deep_copy(usage));
    return json_pack("{so so}", "match", match, "response", response);
}
