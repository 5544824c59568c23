/*  fake_openai.c — a fake OpenAI-compatible chat-completions server for
    tests and load checks.
    SPDX-License-Identifier: MPL-2.0

    One libmicrohttpd thread serves every connection, on 127.0.0.1 only:
    a poll(2) loop by default, an epoll loop with --epoll (load tests with
    thousands of connections; libmicrohttpd 0.9.75's epoll loop sometimes
    leaves requests unread when a couple of hundred connections arrive at
    once, which tests must not see). A delayed answer suspends its
    connection and a timer thread resumes it when it is due, so 10,000
    waiting requests cost 10,000 sockets and no threads. Due times are
    rounded up to the next 5 ms, so that one round of resumes wakes many
    connections: libmicrohttpd walks its whole list of suspended
    connections in every round, and with one round per request 10,000
    waiting requests cost the server quadratic time. Answers come from a
    replay cassette (a plain answer is written from text made once per
    exchange, so a load test's server spends its time on HTTP, not on
    JSON), or from a built-in default; the request's "model" picks
    injected faults (fault-429-N, fault-500-N, fault-disconnect,
    fault-malformed, fault-shape, fault-slow-MS, fault-retry-after-date).
    Run with --help. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "../../actors/model/openai.h"
#include "orcs/sys.h"

#define S_TICK_US    5000        // due times are rounded up to this
#define S_BODY_MAX   (64u << 20) // bytes of one request body
#define S_DELAY_MAX  600000      // ms of any one delay
#define S_CONNECTION 60000       // connections MHD may hold

typedef struct {
    const char *cassette_path; // --cassette
    const char *log_path;      // --log
    const char *key;           // --key
    const char *port_file;     // --port-file
    int port;                  // --port
    int delay_ms;              // --delay-ms
    bool epoll;                // --epoll
} s_opts_t;

typedef struct s_fault_t {
    struct s_fault_t *next; // next counter
    char *model;            // exact model name
    long served;            // requests seen with it
} s_fault_t;

// A cassette exchange's answer as JSON text, made on its first use: a
// plain answer is then written with one snprintf, without building and
// dumping a JSON tree per request (load tests send thousands).
typedef struct {
    char *message; // the message
    char *finish;  // finish_reason
} s_rendered_t;

typedef struct {
    struct MHD_Connection *connection; // suspended connection
    int64_t due_us;                    // when to resume it
} s_timer_t;

typedef struct {
    s_opts_t opts;              // command line
    orcs__cassette_t *cassette; // answers, or NULL for the default
    FILE *log;                  // request log, or NULL
    pthread_mutex_t lock;       // guards what follows
    pthread_cond_t wake;        // the timer thread waits on it
    s_timer_t *timers;          // min-heap by due_us
    size_t timer_count;         // entries in timers
    size_t timer_cap;           // allocated entries
    bool stopping;              // the timer thread must exit
    s_fault_t *faults;          // per-model fault counters
    uint64_t requests;          // requests answered (for ids)
    s_rendered_t *rendered;     // per cassette exchange (MHD's thread)
    char *model_name;           // the last model answered for
    char *model_json;           // model_name as a JSON string
} s_server_t;

typedef struct {
    char *body;                  // request body
    size_t size;                 // bytes in body
    bool too_big;                // the body went over S_BODY_MAX
    bool suspended;              // waiting for the timer thread
    bool queued;                 // a response was queued
    unsigned status;             // HTTP status of the response
    struct MHD_Response *answer; // response to queue when due
} s_request_t;

// ---- the timer heap (locked by the caller)

static void
s_heap_push(s_server_t *self, struct MHD_Connection *c, int64_t due_us)
{
    if (self->timer_count == self->timer_cap) {
        self->timer_cap = self->timer_cap ? self->timer_cap * 2 : 1024;
        self->timers =
            orcs_realloc(self->timers, self->timer_cap * sizeof *self->timers);
    }
    size_t i = self->timer_count++;
    self->timers[i] = (s_timer_t){c, due_us};
    while (i > 0 && self->timers[(i - 1) / 2].due_us > self->timers[i].due_us) {
        s_timer_t tmp = self->timers[i];
        self->timers[i] = self->timers[(i - 1) / 2];
        self->timers[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static s_timer_t
s_heap_pop(s_server_t *self)
{
    s_timer_t top = self->timers[0];
    self->timers[0] = self->timers[--self->timer_count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->timer_count
            && self->timers[l].due_us < self->timers[m].due_us)
            m = l;
        if (r < self->timer_count
            && self->timers[r].due_us < self->timers[m].due_us)
            m = r;
        if (m == i)
            break;
        s_timer_t tmp = self->timers[i];
        self->timers[i] = self->timers[m];
        self->timers[m] = tmp;
        i = m;
    }
    return top;
}

static void *
s_timer_thread(void *arg)
{
    s_server_t *self = arg;
    struct MHD_Connection **due = NULL;
    size_t due_cap = 0;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping || self->timer_count > 0) {
        int64_t now = orcs_clock_mono_us();
        if (self->timer_count == 0) {
            pthread_cond_wait(&self->wake, &self->lock);
            continue;
        }
        if (self->timers[0].due_us > now && !self->stopping) {
            int64_t at = self->timers[0].due_us;
            struct timespec ts = {(time_t) (at / 1000000),
                                  (long) (at % 1000000) * 1000};
            pthread_cond_timedwait(&self->wake, &self->lock, &ts);
            continue;
        }
        // Resume everything due, outside the lock.
        size_t n = 0;
        while (self->timer_count > 0
               && (self->stopping || self->timers[0].due_us <= now)) {
            if (n == due_cap) {
                due_cap = due_cap ? due_cap * 2 : 1024;
                due = orcs_realloc(due, due_cap * sizeof *due);
            }
            due[n++] = s_heap_pop(self).connection;
        }
        pthread_mutex_unlock(&self->lock);
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(due[i]);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    free(due);
    return NULL;
}

// ---- responses

static struct MHD_Response *
s_text_response(const char *body, size_t size, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        size, (void *) body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    return r;
}

static struct MHD_Response *
s_json_response(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct MHD_Response *r =
        s_text_response(text, strlen(text), "application/json");
    free(text);
    return r;
}

static struct MHD_Response *s_error(s_request_t *req,
                                    unsigned status,
                                    const char *type,
                                    const char *fmt,
                                    ...) __attribute__((format(printf, 4, 5)));

static struct MHD_Response *
s_error(
    s_request_t *req, unsigned status, const char *type, const char *fmt, ...)
{
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    req->status = status;
    json_t *body = json_pack("{s{ss ss sn}}", "error", "message", message,
                             "type", type, "code");
    if (!body) // message not UTF-8 (it quotes the request)
        body = json_pack("{s{ss ss sn}}", "error", "message", "bad request",
                         "type", type, "code");
    return s_json_response(body);
}

// Counts a request with this model; true while it is within the first n.
static bool
s_fault_due(s_server_t *self, const char *model, long n)
{
    pthread_mutex_lock(&self->lock);
    s_fault_t *f = self->faults;
    while (f && strcmp(f->model, model) != 0)
        f = f->next;
    if (!f) {
        f = orcs_calloc(1, sizeof *f);
        f->model = orcs_strdup(model);
        f->next = self->faults;
        self->faults = f;
    }
    bool due = f->served++ < n;
    pthread_mutex_unlock(&self->lock);
    return due;
}

typedef struct {
    char *body;  // the whole stream
    size_t size; // bytes sent before the connection is cut
} s_cut_t;

static ssize_t
s_cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    s_cut_t *cut = cls;
    if (pos >= cut->size)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = cut->size - (size_t) pos;
    if (n > max)
        n = max;
    memcpy(buf, cut->body + pos, n);
    return (ssize_t) n;
}

static void
s_cut_free(void *cls)
{
    s_cut_t *cut = cls;
    free(cut->body);
    free(cut);
}

// prompt_tokens: characters (UTF-8 code points) of all contents / 4 + 1.
static json_int_t
s_prompt_tokens(const json_t *messages)
{
    size_t chars = 0, i, j;
    const json_t *message, *part;
    json_array_foreach(messages, i, message)
    {
        const json_t *content = json_object_get(message, "content");
        for (const char *p = json_string_value(content); p && *p; p++)
            chars += ((unsigned char) *p & 0xC0) != 0x80;
        json_array_foreach(content, j, part)
        {
            const char *t = json_string_value(json_object_get(part, "text"));
            for (const char *p = t; p && *p; p++)
                chars += ((unsigned char) *p & 0xC0) != 0x80;
        }
    }
    return (json_int_t) (chars / 4 + 1);
}

// The built-in answer: call the first tool unless a tool result was just
// sent, else say "ok".
static json_t *
s_default_answer(s_server_t *self, const json_t *request)
{
    const json_t *tools = json_object_get(request, "tools");
    const json_t *messages = json_object_get(request, "messages");
    const json_t *last =
        json_array_get(messages, json_array_size(messages) - 1);
    const char *role = json_string_value(json_object_get(last, "role"));
    const char *tool = json_string_value(json_object_get(
        json_object_get(json_array_get(tools, 0), "function"), "name"));
    json_t *message;
    if (tool && !(role && !strcmp(role, "tool"))) {
        char id[48];
        snprintf(id, sizeof id, "call_%" PRIu64, self->requests);
        message = json_pack("{sn s[{ss ss s{ss ss}}]}", "content", "tool_calls",
                            "id", id, "type", "function", "function", "name",
                            tool, "arguments", "{}");
    } else {
        message = json_pack("{ss}", "content", "ok");
    }
    json_t *answer = NULL;
    orcs__openai_answer(message, NULL, NULL, NULL, &answer, NULL, 0);
    json_decref(message);
    return answer;
}

static struct MHD_Response *
s_completion(const json_t *answer, uint64_t n)
{
    const json_t *usage = json_object_get(answer, "usage");
    char id[48];
    snprintf(id, sizeof id, "chatcmpl-fake-%" PRIu64, n);
    json_t *doc = json_pack(
        "{ss ss sI sO s[{si sO sO}] s{sO sO sO s{sO}}}", "id", id, "object",
        "chat.completion", "created", (json_int_t) time(NULL), "model",
        json_object_get(answer, "model"), "choices", "index", 0, "message",
        json_object_get(answer, "message"), "finish_reason",
        json_object_get(answer, "finish_reason"), "usage", "prompt_tokens",
        json_object_get(usage, "prompt_tokens"), "completion_tokens",
        json_object_get(usage, "completion_tokens"), "total_tokens",
        json_object_get(usage, "total_tokens"), "prompt_tokens_details",
        "cached_tokens", json_object_get(usage, "cached_tokens"));
    return s_json_response(doc);
}

// Counts an answered request; returns its number (answer ids).
static uint64_t
s_next_request(s_server_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint64_t n = ++self->requests;
    pthread_mutex_unlock(&self->lock);
    return n;
}

// The same document as s_completion for cassette exchange index, from
// its rendered text; usage from the exchange, else from messages.
static struct MHD_Response *
s_rendered_completion(s_server_t *self,
                      size_t index,
                      const json_t *answer,
                      const char *model,
                      const json_t *messages,
                      uint64_t n)
{
    s_rendered_t *r = &self->rendered[index];
    if (!r->message) {
        r->message = json_dumps(json_object_get(answer, "message"),
                                JSON_COMPACT | JSON_ENCODE_ANY);
        r->finish = json_dumps(json_object_get(answer, "finish_reason"),
                               JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (!self->model_name || strcmp(self->model_name, model) != 0) {
        free(self->model_name);
        free(self->model_json);
        json_t *name = json_string(model);
        self->model_name = orcs_strdup(model);
        self->model_json = json_dumps(name, JSON_ENCODE_ANY);
        json_decref(name);
    }
    const json_t *usage = json_object_get(answer, "usage");
    json_int_t prompt, completion = 5, cached = 0, total;
    if (json_is_object(usage)) {
        prompt = json_integer_value(json_object_get(usage, "prompt_tokens"));
        completion =
            json_integer_value(json_object_get(usage, "completion_tokens"));
        cached = json_integer_value(json_object_get(usage, "cached_tokens"));
        total = json_integer_value(json_object_get(usage, "total_tokens"));
    } else {
        prompt = s_prompt_tokens(messages);
        total = prompt + completion;
    }
    const char *format =
        "{\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion\","
        "\"created\":%lld,\"model\":%s,\"choices\":[{\"index\":0,"
        "\"message\":%s,\"finish_reason\":%s}],\"usage\":{"
        "\"prompt_tokens\":%" JSON_INTEGER_FORMAT
        ",\"completion_tokens\":%" JSON_INTEGER_FORMAT
        ",\"total_tokens\":%" JSON_INTEGER_FORMAT
        ",\"prompt_tokens_details\":{\"cached_tokens\":%" JSON_INTEGER_FORMAT
        "}}}";
    const char *message = r->message ? r->message : "null";
    const char *finish = r->finish ? r->finish : "null";
    const char *name = self->model_json ? self->model_json : "null";
    long long created = (long long) time(NULL);
    // One pass: room for the format, the three texts and six numbers of
    // at most 20 digits and a sign each.
    size_t room = strlen(format) + strlen(name) + strlen(message)
                  + strlen(finish) + 6 * 21 + 1;
    char *body = orcs_malloc(room);
    int size = snprintf(body, room, format, n, created, name, message, finish,
                        prompt, completion, total, cached);
    orcs_assert(size > 0 && (size_t) size < room);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        (size_t) size, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

// A request for a fault model: sets *resp_p (or leaves it NULL for a
// normal answer) and may set *delay_ms_p.
static void
s_fault(s_server_t *self,
        s_request_t *req,
        const char *model,
        int *delay_ms_p,
        struct MHD_Response **resp_p)
{
    long n = 1;
    if (!strncmp(model, "fault-429-", 10)
        || !strncmp(model, "fault-500-", 10)) {
        n = strtol(model + 10, NULL, 10);
        if (!s_fault_due(self, model, n))
            return;
        bool limit = model[6] == '4';
        *resp_p =
            s_error(req, limit ? 429 : 500, limit ? "requests" : "server_error",
                    limit ? "Rate limit reached (fake)"
                          : "Internal server error (fake)");
        if (limit)
            MHD_add_response_header(*resp_p, "Retry-After", "1");
    } else if (!strcmp(model, "fault-retry-after-date")) {
        if (!s_fault_due(self, model, 1))
            return;
        char date[64];
        time_t at = time(NULL) + 1;
        struct tm tm;
        gmtime_r(&at, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        *resp_p = s_error(req, 429, "requests", "Rate limit reached (fake)");
        MHD_add_response_header(*resp_p, "Retry-After", date);
    } else if (!strcmp(model, "fault-malformed")) {
        req->status = 200;
        *resp_p = s_text_response("this is {not json", 17, "application/json");
    } else if (!strcmp(model, "fault-shape")) {
        req->status = 200;
        *resp_p = s_json_response(json_pack("{ss ss}", "id", "chatcmpl-fake",
                                            "object", "chat.completion"));
    } else if (!strncmp(model, "fault-slow-", 11)) {
        long ms = strtol(model + 11, NULL, 10);
        *delay_ms_p = ms < 0 ? 0 : ms > S_DELAY_MAX ? S_DELAY_MAX : (int) ms;
    }
}

// Decides the response to a whole request; sets *delay_ms_p.
static struct MHD_Response *
s_answer(s_server_t *self, s_request_t *req, int *delay_ms_p)
{
    json_error_t jerr;
    json_t *request = json_loadb(req->body, req->size, 0, &jerr);
    const json_t *messages = json_object_get(request, "messages");
    const char *model = json_string_value(json_object_get(request, "model"));
    struct MHD_Response *resp = NULL;
    if (!json_is_object(request))
        resp = s_error(req, 400, "invalid_request_error",
                       "request body is not a JSON object: %s", jerr.text);
    else if (!json_is_array(messages))
        resp = s_error(req, 400, "invalid_request_error",
                       "messages must be an array");
    else if (!model)
        resp = s_error(req, 400, "invalid_request_error",
                       "model must be a string");
    if (resp) {
        json_decref(request);
        return resp;
    }
    *delay_ms_p = self->opts.delay_ms;
    s_fault(self, req, model, delay_ms_p, &resp);
    bool disconnect = !strcmp(model, "fault-disconnect");
    bool stream = json_is_true(json_object_get(request, "stream"));
    json_t *answer = NULL;
    const json_t *found = NULL;
    size_t index = 0;
    if (!resp && self->cassette) {
        char err[512];
        bool line_stream = false;
        int line_delay = 0;
        if (orcs__cassette_find(self->cassette, messages, &found, &index,
                                &line_stream, &line_delay, err, sizeof err)
            != ORCS_OK)
            resp = s_error(req, 400, "invalid_request_error", "%s", err);
        stream = stream || line_stream;
        if (line_delay > 0)
            *delay_ms_p = line_delay;
    }
    if (!resp && found && !stream && !disconnect) {
        uint64_t n = s_next_request(self);
        req->status = 200;
        resp = s_rendered_completion(self, index, found, model, messages, n);
    } else if (!resp) {
        answer =
            found ? json_deep_copy(found) : s_default_answer(self, request);
        uint64_t n = s_next_request(self);
        json_object_set_new(answer, "model", json_string(model));
        if (!json_is_object(json_object_get(answer, "usage"))) {
            json_int_t prompt = s_prompt_tokens(messages);
            json_object_set_new(answer, "usage",
                                json_pack("{sI si si sI}", "prompt_tokens",
                                          prompt, "completion_tokens", 5,
                                          "cached_tokens", 0, "total_tokens",
                                          prompt + 5));
        }
        req->status = 200;
        if (stream || disconnect) {
            size_t size = 0;
            char *body = orcs__openai_render_stream(answer, &size);
            if (disconnect) {
                // Cut before the finish_reason chunk: a stream ended early.
                s_cut_t *cut = orcs_calloc(1, sizeof *cut);
                cut->body = body;
                char *finish = strstr(body, "\"finish_reason\":\"");
                char *line = finish ? finish : body + size / 2;
                while (line > body && line[-1] != '\n')
                    line--;
                cut->size = (size_t) (line - body);
                resp = MHD_create_response_from_callback(
                    size, 4096, s_cut_reader, cut, s_cut_free);
            } else {
                resp = MHD_create_response_from_buffer(size, body,
                                                       MHD_RESPMEM_MUST_FREE);
            }
            MHD_add_response_header(resp, "Content-Type", "text/event-stream");
            MHD_add_response_header(resp, "Cache-Control", "no-cache");
        } else {
            resp = s_completion(answer, n);
        }
    }
    json_decref(answer);
    json_decref(request);
    return resp;
}

// ---- the access handler

static void
s_log_request(s_server_t *self,
              struct MHD_Connection *c,
              const char *url,
              const s_request_t *req)
{
    if (!self->log)
        return;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *key =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    json_t *body =
        req->too_big ? NULL : json_loadb(req->body, req->size, 0, NULL);
    if (!body && !req->too_big)
        body = json_stringn(req->body ? req->body : "", req->size);
    json_t *line =
        json_pack("{ss so* so* so*}", "path", url, "authorization",
                  auth ? json_string(auth) : json_null(), "idempotency_key",
                  key ? json_string(key) : json_null(), "body",
                  body ? body : json_null());
    if (!line)
        return;
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    fprintf(self->log, "%s\n", text);
    fflush(self->log);
    free(text);
}

static bool
s_authorised(const s_server_t *self, struct MHD_Connection *c)
{
    if (!self->opts.key)
        return true;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    return auth && !strncmp(auth, "Bearer ", 7)
           && !strcmp(auth + 7, self->opts.key);
}

static enum MHD_Result
s_queue(struct MHD_Connection *c, s_request_t *req)
{
    enum MHD_Result ok = MHD_queue_response(c, req->status, req->answer);
    MHD_destroy_response(req->answer);
    req->answer = NULL;
    req->queued = true;
    return ok;
}

static struct MHD_Response *
s_route(s_server_t *self,
        struct MHD_Connection *c,
        const char *url,
        const char *method,
        s_request_t *req,
        int *delay_ms_p)
{
    size_t len = strlen(url);
    const char *tail = "/chat/completions";
    if (len < strlen(tail) || strcmp(url + len - strlen(tail), tail) != 0)
        return s_error(req, 404, "invalid_request_error", "no route %.200s",
                       url);
    if (strcmp(method, "POST") != 0)
        return s_error(req, 405, "invalid_request_error", "use POST");
    if (!s_authorised(self, c))
        return s_error(req, 401, "invalid_request_error",
                       "Incorrect API key provided");
    if (req->too_big)
        return s_error(req, 413, "invalid_request_error",
                       "request body over %u bytes", S_BODY_MAX);
    return s_answer(self, req, delay_ms_p);
}

static enum MHD_Result
s_handler(void *cls,
          struct MHD_Connection *c,
          const char *url,
          const char *method,
          const char *version,
          const char *upload,
          size_t *upload_size,
          void **con_cls)
{
    (void) version;
    s_server_t *self = cls;
    s_request_t *req = *con_cls;
    if (!req) {
        req = orcs_calloc(1, sizeof *req);
        *con_cls = req;
        const char *length =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (length && strtoull(length, NULL, 10) > S_BODY_MAX) {
            req->too_big = true;
            req->answer = s_error(req, 413, "invalid_request_error",
                                  "request body over %u bytes", S_BODY_MAX);
            return s_queue(c, req);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (req->too_big || req->size + *upload_size > S_BODY_MAX) {
            req->too_big = true;
        } else {
            req->body = orcs_realloc(req->body, req->size + *upload_size);
            memcpy(req->body + req->size, upload, *upload_size);
            req->size += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->suspended) { // resumed by the timer thread
        req->suspended = false;
        return s_queue(c, req);
    }
    if (req->queued) // already answered (an early 413)
        return MHD_YES;
    s_log_request(self, c, url, req);
    int delay_ms = 0;
    req->answer = s_route(self, c, url, method, req, &delay_ms);
    if (delay_ms <= 0)
        return s_queue(c, req);
    req->suspended = true;
    MHD_suspend_connection(c);
    pthread_mutex_lock(&self->lock);
    int64_t due = orcs_clock_mono_us() + (int64_t) delay_ms * 1000;
    s_heap_push(self, c, (due / S_TICK_US + 1) * S_TICK_US);
    // The timer thread sleeps until the earliest due time: only a new
    // earliest one needs to wake it (with one delay for every request,
    // that is the first of a burst, not each of its 10,000 requests).
    if (self->timers[0].connection == c)
        pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    return MHD_YES;
}

static void
s_completed(void *cls,
            struct MHD_Connection *c,
            void **con_cls,
            enum MHD_RequestTerminationCode code)
{
    (void) cls;
    (void) c;
    (void) code;
    s_request_t *req = *con_cls;
    if (!req)
        return;
    if (req->answer)
        MHD_destroy_response(req->answer);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

// ---- main

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: fake_openai [--port N] [--port-file F] [--cassette FILE]\n"
        "                   [--delay-ms N] [--log FILE] [--key KEY] [--epoll]\n"
        "A fake OpenAI chat-completions server on 127.0.0.1. Prints\n"
        "\"port N\" on its first line. Models fault-429-N, fault-500-N,\n"
        "fault-disconnect, fault-malformed, fault-shape, fault-slow-MS,\n"
        "fault-retry-after-date inject faults; any other model is\n"
        "answered from the cassette (or: one call of the first tool,\n"
        "then \"ok\"). --epoll serves from an epoll loop (thousands of\n"
        "connections) instead of poll. SIGTERM or SIGINT stops it.\n");
}

static int
s_parse_args(int argc, char **argv, s_opts_t *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            s_usage(stdout);
            exit(0);
        }
        if (!strcmp(arg, "--epoll")) {
            opts->epoll = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "fake_openai: %s needs a value\n", arg);
            return -1;
        }
        const char *value = argv[++i];
        char *end = NULL;
        if (!strcmp(arg, "--port") || !strcmp(arg, "--delay-ms")) {
            long n = strtol(value, &end, 10);
            if (*end || n < 0 || n > (arg[2] == 'p' ? 65535 : S_DELAY_MAX)) {
                fprintf(stderr, "fake_openai: bad %s %s\n", arg, value);
                return -1;
            }
            *(arg[2] == 'p' ? &opts->port : &opts->delay_ms) = (int) n;
        } else if (!strcmp(arg, "--cassette"))
            opts->cassette_path = value;
        else if (!strcmp(arg, "--log"))
            opts->log_path = value;
        else if (!strcmp(arg, "--key"))
            opts->key = value;
        else if (!strcmp(arg, "--port-file"))
            opts->port_file = value;
        else {
            fprintf(stderr, "fake_openai: unknown option %s\n", arg);
            return -1;
        }
    }
    return 0;
}

static int
s_write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *file = fopen(tmp, "w");
    if (!file)
        return -1;
    fprintf(file, "%u\n", port);
    if (fclose(file) != 0)
        return -1;
    return rename(tmp, path);
}

static void
s_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct MHD_Daemon *
s_start(s_server_t *self)
{
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) self->opts.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return MHD_start_daemon(
        (self->opts.epoll ? MHD_USE_EPOLL_INTERNAL_THREAD
                          : MHD_USE_POLL_INTERNAL_THREAD)
            | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG,
        (uint16_t) self->opts.port, NULL, NULL, s_handler, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) S_CONNECTION,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 16384,
        MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_NOTIFY_COMPLETED,
        s_completed, self, MHD_OPTION_END);
}

int
main(int argc, char **argv)
{
    s_server_t self = {0};
    if (s_parse_args(argc, argv, &self.opts) != 0) {
        s_usage(stderr);
        return 2;
    }
    s_raise_nofile();
    char err[1024];
    if (self.opts.cassette_path
        && orcs__cassette_load(self.opts.cassette_path, &self.cassette, err,
                               sizeof err)
               != ORCS_OK) {
        fprintf(stderr, "fake_openai: %s\n", err);
        return 1;
    }
    if (self.cassette)
        self.rendered = orcs_calloc(orcs__cassette_size(self.cassette) + 1,
                                    sizeof *self.rendered);
    if (self.opts.log_path && !(self.log = fopen(self.opts.log_path, "a"))) {
        fprintf(stderr, "fake_openai: %s: %s\n", self.opts.log_path,
                strerror(errno));
        free(self.rendered);
        orcs__cassette_destroy(&self.cassette);
        return 1;
    }
    // Every thread inherits the blocked signals; main takes them.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&self.lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self.wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_t timer;
    pthread_create(&timer, NULL, s_timer_thread, &self);

    int rc = 0;
    struct MHD_Daemon *daemon = s_start(&self);
    if (!daemon) {
        fprintf(stderr, "fake_openai: cannot listen on 127.0.0.1:%d\n",
                self.opts.port);
        rc = 1;
    } else {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
        unsigned port = info ? info->port : (unsigned) self.opts.port;
        printf("port %u\n", port);
        fflush(stdout);
        if (self.opts.port_file
            && s_write_port_file(self.opts.port_file, port) != 0) {
            fprintf(stderr, "fake_openai: cannot write %s\n",
                    self.opts.port_file);
            rc = 1;
        }
        int sig = 0;
        while (rc == 0 && sigwait(&stop, &sig) != 0)
            ;
    }
    // Resume every waiting connection, let them answer, then stop.
    pthread_mutex_lock(&self.lock);
    self.stopping = true;
    pthread_cond_signal(&self.wake);
    pthread_mutex_unlock(&self.lock);
    pthread_join(timer, NULL);
    if (daemon) {
        usleep(100 * 1000);
        MHD_stop_daemon(daemon);
    }
    pthread_cond_destroy(&self.wake);
    pthread_mutex_destroy(&self.lock);
    while (self.faults) {
        s_fault_t *next = self.faults->next;
        free(self.faults->model);
        free(self.faults);
        self.faults = next;
    }
    free(self.timers);
    for (size_t i = 0; self.cassette && i < orcs__cassette_size(self.cassette);
         i++) {
        free(self.rendered[i].message);
        free(self.rendered[i].finish);
    }
    free(self.rendered);
    free(self.model_name);
    free(self.model_json);
    orcs__cassette_destroy(&self.cassette);
    if (self.log)
        fclose(self.log);
    return rc;
}
