/*  actors/model/model_http.c — the model actor's HTTP: one libcurl multi
    handle driven by the actor's own poll loop. curl tells us its sockets
    (CURLMOPT_SOCKETFUNCTION) and we keep them in an epoll set; the actor
    watches only the epoll fd, so thousands of transfers cost one pollfd.
    curl's timeout (CURLMOPT_TIMERFUNCTION) is an actor timer. Answers are
    parsed as bytes arrive: SSE events go through orcs__sse_feed and
    orcs__chat_stream_data, other bodies are buffered up to
    ORCS_OPENAI_BODY_MAX. The multi handle shares its DNS and connection
    caches among its transfers.
    SPDX-License-Identifier: MPL-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "actors/model/model_internal.h"
#include "internal.h"

#define S_EVENTS_MAX 64 // epoll events handled per wait
// Easy handles kept for reuse (about 5.6 KB each). In a burst, answers
// free handles a few batches before the next turns take them: a pool of
// 64 overflowed, and curl_easy_cleanup plus curl_easy_init cost 3.5% of
// the model thread in the agent_concurrency benchmark.
#define S_IDLE_EASY   1024
#define S_BUFFER_SIZE 1024 // curl's receive buffer per transfer (its minimum)
#define S_CONNECTIONS 4096 // connection cap when the fd limit is high

struct orcs__model_transfer_t {
    CURL *easy;                 // the handle
    orcs__model_shard_t *shard; // the multi handle it runs in
    orcs__model_call_t *call;   // who waits for it
    char *body;                 // buffered answer (not SSE)
    size_t size;                // bytes in body
    size_t alloc;               // allocated for body
    size_t total;               // bytes received in all
    int64_t last_byte_us;       // when bytes last came (monotonic)
    long http_status;           // 0 until known
    bool checked;               // status and content type looked at
    bool sse;                   // the answer is an event stream
    orcs__sse_t *parser;        // SSE events
    orcs__chat_stream_t *chat;  // chunks of the streamed answer
    orcs_status abort_status;   // why the write callback stopped curl
    int retry_after_ms;         // Retry-After, or -1
    char error[ORCS__MODEL_ERROR_MAX / 2]; // stream parse error
    char curl_error[CURL_ERROR_SIZE];      // curl's detail
};

// ---------------------------------------------------------------------------
// The epoll set
//
// A kept-alive connection goes back to curl's cache after each answer and
// curl asks to stop watching it (CURL_POLL_REMOVE), then to watch it for
// the answer to the next request, which is the same interest. Instead of
// two epoll_ctl calls per request, a removed socket stays in the set,
// parked: taken back with the same interest, it costs nothing; an event on
// it while parked (the server closed it) takes it out of the set then.
// Only connections are parked: they are opened and closed through
// s_on_open and s_on_close, so a number reused for a new socket never
// inherits a registration. Other descriptors curl watches (the threaded
// resolver's socket pair) are opened and closed inside curl and are
// removed from the set at once, as before.

#define S_WATCH_IN     0x01u // EPOLLIN asked
#define S_WATCH_OUT    0x02u // EPOLLOUT asked
#define S_WATCH_ADDED  0x04u // in the epoll set
#define S_WATCH_PARKED 0x08u // in the set, curl does not want it
#define S_WATCH_OURS   0x10u // a connection opened through s_on_open
#define S_WATCH_SHARD  8     // shard index, from this bit

// The registration of fd, grown to fit; NULL when fd is negative.
static uint32_t *
s_watched(orcs__model_t *self, curl_socket_t fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t) fd >= self->watched_cap) {
        size_t cap = self->watched_cap ? self->watched_cap : 1024;
        while (cap <= (size_t) fd)
            cap *= 2;
        self->watched =
            orcs_realloc(self->watched, cap * sizeof *self->watched);
        memset(self->watched + self->watched_cap, 0,
               (cap - self->watched_cap) * sizeof *self->watched);
        self->watched_cap = cap;
    }
    return &self->watched[fd];
}

// Takes fd out of the epoll set; keeps only what keep says of it.
static void
s_unwatch(orcs__model_t *self, curl_socket_t fd, uint32_t keep)
{
    uint32_t *watch = s_watched(self, fd);
    if (!watch)
        return;
    if (*watch & S_WATCH_ADDED)
        epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    *watch &= keep;
}

// ---------------------------------------------------------------------------
// curl's callbacks

static curl_socket_t
s_on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    (void) purpose;
    orcs__model_t *self = arg;
    curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC,
                              address->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    uint32_t *watch = s_watched(self, fd);
    *watch = S_WATCH_OURS; // a new socket: what had this number is gone
    self->sockets_opened++;
    return fd;
}

static int
s_on_close(void *arg, curl_socket_t fd)
{
    orcs__model_t *self = arg;
    s_unwatch(self, fd, 0);
    self->sockets_closed++;
    return close(fd);
}

static int
s_on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_arg)
{
    (void) easy;
    (void) socket_arg;
    orcs__model_shard_t *shard = arg;
    orcs__model_t *self = shard->model;
    uint32_t *watch = s_watched(self, fd);
    if (!watch)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if ((*watch & S_WATCH_OURS) && (*watch & S_WATCH_ADDED))
            *watch |= S_WATCH_PARKED;
        else
            s_unwatch(self, fd, 0);
        curl_multi_assign(shard->multi, fd, NULL);
        return 0;
    }
    uint32_t ours = *watch & S_WATCH_OURS;
    uint32_t index = (uint32_t) (shard - self->shards);
    uint32_t want = (what & CURL_POLL_IN ? S_WATCH_IN : 0)
                    | (what & CURL_POLL_OUT ? S_WATCH_OUT : 0) | S_WATCH_ADDED
                    | index << S_WATCH_SHARD;
    // Only our own connections skip a call that would change nothing.
    if (!ours || (*watch & ~(S_WATCH_PARKED | S_WATCH_OURS)) != want) {
        struct epoll_event event = {0};
        event.data.u64 = (uint64_t) index << 32 | (uint32_t) fd;
        if (what & CURL_POLL_IN)
            event.events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
            event.events |= EPOLLOUT;
        int op = *watch & S_WATCH_ADDED ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(self->epoll_fd, op, fd, &event) != 0) {
            op = errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
            if (epoll_ctl(self->epoll_fd, op, fd, &event) != 0) {
                orcs_log_warn("model", "epoll_ctl failed fd=%d errno=%d", fd,
                              errno);
                want = 0;
            }
        }
    }
    *watch = want | ours;
    curl_multi_assign(shard->multi, fd, shard);
    return 0;
}

static int
s_on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    orcs__model_shard_t *shard = arg;
    orcs__model_t *self = shard->model;
    if (self->closing)
        return 0;
    if (shard->timer)
        orcs_actor_timer_cancel(self->actor, shard->timer);
    shard->timer = 0;
    if (timeout_ms >= 0)
        orcs_actor_timer_start(
            self->actor, timeout_ms > INT32_MAX ? INT32_MAX : (int) timeout_ms,
            0, shard, &shard->timer);
    return 0;
}

// Seconds or an HTTP-date, in ms from now; -1 when unreadable.
static int
s_retry_after(const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    char *end = NULL;
    long seconds = strtol(value, &end, 10);
    if (end != value && (*end == 0 || *end == '\r' || *end == '\n'))
        return seconds < 0       ? 0
               : seconds > 86400 ? 86400000
                                 : (int) seconds * 1000;
    char date[128];
    snprintf(date, sizeof date, "%.*s", (int) strcspn(value, "\r\n"), value);
    time_t when = curl_getdate(date, NULL);
    if (when < 0)
        return -1;
    int64_t left_ms = ((int64_t) when * 1000000 - orcs_clock_wall_us()) / 1000;
    return left_ms < 0 ? 0 : left_ms > 86400000 ? 86400000 : (int) left_ms;
}

static size_t
s_on_header(char *data, size_t size, size_t count, void *arg)
{
    orcs__model_transfer_t *transfer = arg;
    size_t bytes = size * count;
    if (bytes > 5 && strncmp(data, "HTTP/", 5) == 0)
        transfer->retry_after_ms = -1; // a new response (after a 100)
    else if (bytes > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        char value[160];
        snprintf(value, sizeof value, "%.*s", (int) (bytes - 12), data + 12);
        transfer->retry_after_ms = s_retry_after(value);
    }
    return bytes;
}

static orcs_status
s_on_event(void *arg, const char *event, const char *data, size_t size)
{
    (void) event;
    orcs__model_transfer_t *transfer = arg;
    return orcs__chat_stream_data(transfer->chat, data, size, transfer->error,
                                  sizeof transfer->error);
}

// Looks at the status and content type once the body starts.
static void
s_check(orcs__model_transfer_t *transfer)
{
    transfer->checked = true;
    curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE,
                      &transfer->http_status);
    char *type = NULL;
    curl_easy_getinfo(transfer->easy, CURLINFO_CONTENT_TYPE, &type);
    transfer->sse = transfer->http_status == 200 && type
                    && strncasecmp(type, "text/event-stream", 17) == 0;
    if (transfer->sse) {
        transfer->parser = orcs__sse_new(0);
        transfer->chat = orcs__chat_stream_new();
    }
}

static size_t
s_on_write(char *data, size_t size, size_t count, void *arg)
{
    orcs__model_transfer_t *transfer = arg;
    size_t bytes = size * count;
    if (!transfer->checked)
        s_check(transfer);
    transfer->total += bytes;
    transfer->last_byte_us = orcs_clock_mono_us();
    if (transfer->total > ORCS_OPENAI_BODY_MAX) {
        transfer->abort_status = ORCS_ETOOBIG;
        snprintf(transfer->error, sizeof transfer->error,
                 "answer over %u bytes", ORCS_OPENAI_BODY_MAX);
        return 0;
    }
    if (transfer->sse) {
        orcs_status rc =
            orcs__sse_feed(transfer->parser, data, bytes, s_on_event, transfer);
        if (rc != ORCS_OK) {
            transfer->abort_status = rc;
            if (rc == ORCS_ETOOBIG && !transfer->error[0])
                snprintf(transfer->error, sizeof transfer->error,
                         "stream event over %u bytes", ORCS_OPENAI_EVENT_MAX);
            return 0;
        }
        return bytes;
    }
    if (transfer->size + bytes + 1 > transfer->alloc) {
        size_t alloc = transfer->alloc ? transfer->alloc : 1024;
        while (alloc < transfer->size + bytes + 1)
            alloc *= 2;
        transfer->body = orcs_realloc(transfer->body, alloc);
        transfer->alloc = alloc;
    }
    memcpy(transfer->body + transfer->size, data, bytes);
    transfer->size += bytes;
    transfer->body[transfer->size] = 0;
    return bytes;
}

// ---------------------------------------------------------------------------
// Results

static void
s_transfer_free(orcs__model_t *self, orcs__model_transfer_t **transfer_p)
{
    orcs__model_transfer_t *transfer = *transfer_p;
    if (!transfer)
        return;
    orcs__model_call_t *call = transfer->call;
    if (call->timer_id) { // in flight, the call's timer is the idle check
        orcs_actor_timer_cancel(self->actor, call->timer_id);
        call->timer_id = 0;
    }
    if (transfer->easy) {
        curl_multi_remove_handle(transfer->shard->multi, transfer->easy);
        // No curl_easy_reset: s_set_options sets every option this file
        // uses before each transfer, so restoring curl's defaults first
        // only cost time (1.1% of the thread).
        if (self->idle_count < S_IDLE_EASY && !self->closing) {
            self->idle_easy[self->idle_count++] = transfer->easy;
        } else
            curl_easy_cleanup(transfer->easy);
    }
    orcs__sse_destroy(&transfer->parser);
    orcs__chat_stream_destroy(&transfer->chat);
    free(transfer->body);
    free(transfer);
    *transfer_p = NULL;
}

// Maps curl's failure: transport trouble and timeouts are worth a retry.
static void
s_curl_failed(orcs__model_transfer_t *transfer,
              CURLcode code,
              orcs__model_result_t *result)
{
    const char *detail = transfer->curl_error[0] ? transfer->curl_error
                                                 : curl_easy_strerror(code);
    orcs_log_debug("model", "curl failed code=%d detail=%s", (int) code,
                   detail);
    if (code == CURLE_WRITE_ERROR && transfer->abort_status != ORCS_OK) {
        result->status = transfer->abort_status;
        snprintf(result->error, sizeof result->error, "%s", transfer->error);
        return;
    }
    result->retryable = true;
    result->status =
        code == CURLE_OPERATION_TIMEDOUT ? ORCS_ETIMEDOUT : ORCS_ENET;
    snprintf(result->error, sizeof result->error, "%s%s", detail,
             transfer->total ? " (answer cut)" : "");
}

// An HTTP answer other than 200.
static void
s_http_failed(orcs__model_transfer_t *transfer, orcs__model_result_t *result)
{
    long code = transfer->http_status;
    orcs__openai_error_text(code, transfer->body ? transfer->body : "",
                            transfer->size, result->error,
                            sizeof result->error);
    result->status = ORCS_EREMOTE;
    result->retryable =
        code == 408 || code == 409 || code == 429 || code >= 500;
    result->retry_after_ms = transfer->retry_after_ms;
}

static void
s_result(orcs__model_transfer_t *transfer,
         CURLcode code,
         orcs__model_result_t *result)
{
    if (!transfer->checked)
        s_check(transfer);
    if (code != CURLE_OK) {
        s_curl_failed(transfer, code, result);
        return;
    }
    if (transfer->http_status != 200) {
        s_http_failed(transfer, result);
        return;
    }
    if (!transfer->sse) {
        result->status = orcs__openai_parse(
            transfer->body ? transfer->body : "", transfer->size,
            &result->answer, result->error, sizeof result->error);
        return;
    }
    result->status = orcs__chat_stream_finish(
        transfer->chat, &result->answer, result->error, sizeof result->error);
    if (result->status == ORCS_EPROTO) { // cut short: a transport failure
        result->status = ORCS_ENET;
        result->retryable = true;
    }
}

// Hands every finished transfer's result to its call.
static void
s_collect(orcs__model_t *self)
{
    CURLMsg *info;
    int left = 0;
    for (unsigned i = 0; i < ORCS__MODEL_SHARDS; i++)
        while ((info = curl_multi_info_read(self->shards[i].multi, &left))) {
            if (info->msg != CURLMSG_DONE)
                continue;
            orcs__model_transfer_t *transfer = NULL;
            curl_easy_getinfo(info->easy_handle, CURLINFO_PRIVATE, &transfer);
            CURLcode code = info->data.result;
            orcs__model_result_t result = {.status = ORCS_OK,
                                           .retry_after_ms = -1};
            s_result(transfer, code, &result);
            orcs__model_call_t *call = transfer->call;
            call->http = NULL;
            s_transfer_free(self, &transfer);
            orcs__model_call_done(self, call, &result);
            json_decref(result.answer);
        }
}

// One batch of ready sockets per call. The epoll fd stays readable while
// more are ready, so the actor's loop comes straight back, having first
// taken its mail: draining every socket here starved the mailbox while
// thousands of answers came in, and the next turns waited behind them.
static orcs_status
s_on_epoll(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) actor;
    (void) fd;
    (void) events;
    (void) arg;
    orcs__model_t *self = state;
    struct epoll_event ready[S_EVENTS_MAX];
    int count = epoll_wait(self->epoll_fd, ready, S_EVENTS_MAX, 0);
    for (int i = 0; i < count; i++) {
        int flags = 0;
        if (ready[i].events & EPOLLIN)
            flags |= CURL_CSELECT_IN;
        if (ready[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (ready[i].events & (EPOLLERR | EPOLLHUP))
            flags |= CURL_CSELECT_ERR;
        int running = 0;
        uint64_t data = ready[i].data.u64;
        unsigned shard = (unsigned) (data >> 32);
        uint32_t *watch = s_watched(self, (curl_socket_t) (uint32_t) data);
        if (watch && (*watch & S_WATCH_PARKED)) { // curl does not want it
            s_unwatch(self, (curl_socket_t) (uint32_t) data, S_WATCH_OURS);
            continue;
        }
        if (shard < ORCS__MODEL_SHARDS)
            curl_multi_socket_action(self->shards[shard].multi,
                                     (curl_socket_t) (uint32_t) data, flags,
                                     &running);
    }
    s_collect(self);
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// API

orcs_status
orcs__model_http_open(orcs__model_t *self)
{
    self->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epoll_fd < 0)
        return ORCS_EIO;
    // Transfers past the cap wait inside curl instead of running out of
    // file descriptors.
    long cap = self->max_connections;
    if (cap <= 0) {
        struct rlimit limit;
        cap = S_CONNECTIONS;
        // All the files the node may open, less a reserve for tool
        // processes, sockets and the store.
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0
            && limit.rlim_cur != RLIM_INFINITY)
            cap = (long) limit.rlim_cur > 2048 ? (long) limit.rlim_cur - 1024
                                               : (long) limit.rlim_cur / 2;
    }
    long per_shard = cap / (long) ORCS__MODEL_SHARDS;
    if (per_shard < 4)
        per_shard = 4;
    for (unsigned i = 0; i < ORCS__MODEL_SHARDS; i++) {
        orcs__model_shard_t *shard = &self->shards[i];
        shard->tag = ORCS__MODEL_TAG_CURL;
        shard->model = self;
        shard->multi = curl_multi_init();
        if (!shard->multi)
            return ORCS_EIO;
        curl_multi_setopt(shard->multi, CURLMOPT_SOCKETFUNCTION, s_on_socket);
        curl_multi_setopt(shard->multi, CURLMOPT_SOCKETDATA, shard);
        curl_multi_setopt(shard->multi, CURLMOPT_TIMERFUNCTION,
                          s_on_curl_timer);
        curl_multi_setopt(shard->multi, CURLMOPT_TIMERDATA, shard);
        curl_multi_setopt(shard->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                          per_shard);
        curl_multi_setopt(shard->multi, CURLMOPT_MAXCONNECTS, per_shard);
    }
    self->idle_easy = orcs_calloc(S_IDLE_EASY, sizeof *self->idle_easy);
    if (orcs_actor_watch(self->actor, self->epoll_fd, ZMQ_POLLIN, s_on_epoll,
                         NULL)
        != ORCS_OK)
        return ORCS_EIO;
    return ORCS_OK;
}

void
orcs__model_http_close(orcs__model_t *self)
{
    self->closing = true;
    if (self->epoll_fd >= 0) {
        orcs_actor_unwatch(self->actor, self->epoll_fd);
    }
    for (size_t i = 0; i < self->idle_count; i++)
        curl_easy_cleanup(self->idle_easy[i]);
    self->idle_count = 0;
    free(self->idle_easy);
    self->idle_easy = NULL;
    for (unsigned i = 0; i < ORCS__MODEL_SHARDS; i++) {
        if (self->shards[i].multi)
            curl_multi_cleanup(self->shards[i].multi);
        self->shards[i].multi = NULL;
    }
    if (self->epoll_fd >= 0)
        close(self->epoll_fd);
    self->epoll_fd = -1;
    free(self->watched);
    self->watched = NULL;
    self->watched_cap = 0;
    for (unsigned i = 0; i < ORCS__MODEL_SHARDS; i++) {
        if (self->shards[i].timer)
            orcs_actor_timer_cancel(self->actor, self->shards[i].timer);
        self->shards[i].timer = 0;
    }
}

static void
s_set_options(orcs__model_transfer_t *transfer,
              const orcs__model_provider_t *provider,
              const orcs__model_call_t *call)
{
    CURL *easy = transfer->easy;
    curl_easy_setopt(easy, CURLOPT_URL, provider->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, provider->headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) call->body_size);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->curl_error);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, (long) S_BUFFER_SIZE);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) provider->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) provider->connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, s_on_open);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, call->owner);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, s_on_close);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, call->owner);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
}

orcs_status
orcs__model_http_start(orcs__model_t *self, orcs__model_call_t *call)
{
    orcs__model_provider_t *provider =
        call->route->targets[call->target].provider;
    orcs__model_transfer_t *transfer = orcs_calloc(1, sizeof *transfer);
    transfer->call = call;
    transfer->retry_after_ms = -1;
    transfer->easy = self->idle_count ? self->idle_easy[--self->idle_count]
                                      : curl_easy_init();
    if (!transfer->easy) {
        free(transfer);
        return ORCS_EIO;
    }
    s_set_options(transfer, provider, call);
    transfer->shard = &self->shards[self->next_shard++ % ORCS__MODEL_SHARDS];
    if (curl_multi_add_handle(transfer->shard->multi, transfer->easy)
        != CURLM_OK) {
        curl_easy_cleanup(transfer->easy);
        free(transfer);
        return ORCS_EIO;
    }
    call->http = transfer;
    transfer->last_byte_us = orcs_clock_mono_us();
    // A stream that stops sending: our own check, since curl's low-speed
    // limit averages over seconds and counts the upload.
    if (call->body_stream && provider->idle_timeout_ms > 0)
        orcs_actor_timer_start(self->actor, provider->idle_timeout_ms, 0, call,
                               &call->timer_id);
    orcs_log_debug("model", "POST provider=%s url=%s bytes=%zu", provider->name,
                   provider->url, call->body_size);
    return ORCS_OK;
}

void
orcs__model_http_cancel(orcs__model_t *self, orcs__model_call_t *call)
{
    if (call->http)
        s_transfer_free(self, &call->http);
}

orcs_status
orcs__model_http_on_timer(orcs__model_t *self, void *arg)
{
    orcs__model_shard_t *shard = arg;
    shard->timer = 0; // it fired
    int running = 0;
    curl_multi_socket_action(shard->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_collect(self);
    return ORCS_OK;
}

orcs_status
orcs__model_http_on_idle(orcs__model_t *self, orcs__model_call_t *call)
{
    orcs__model_transfer_t *transfer = call->http;
    int idle_ms = call->route->targets[call->target].provider->idle_timeout_ms;
    int64_t quiet_us = orcs_clock_mono_us() - transfer->last_byte_us;
    if (quiet_us < (int64_t) idle_ms * 1000) { // bytes came meanwhile
        int left_ms = (int) (((int64_t) idle_ms * 1000 - quiet_us) / 1000) + 1;
        return orcs_actor_timer_start(self->actor, left_ms, 0, call,
                                      &call->timer_id);
    }
    orcs__model_result_t result = {
        .status = ORCS_ETIMEDOUT, .retryable = true, .retry_after_ms = -1};
    snprintf(result.error, sizeof result.error,
             "stream idle: no bytes for %d ms (idle_timeout_ms)", idle_ms);
    s_transfer_free(self, &call->http);
    return orcs__model_call_done(self, call, &result);
}
