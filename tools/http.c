/*  tools/http.c — the http tool on libcurl multi (see http.h).
    SPDX-License-Identifier: MPL-2.0

    curl tells us which sockets to wait on (CURLMOPT_SOCKETFUNCTION): they
    go into one epoll set, whose descriptor the actor watches. When it is
    ready we hand the ready sockets to curl_multi_socket_action; when
    curl's timer (CURLMOPT_TIMERFUNCTION) is due, an actor timer fires and
    we call it with CURL_SOCKET_TIMEOUT. Finished transfers are collected
    with curl_multi_info_read after each call. */
#include "tools/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zmq.h>

#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"

#define S_EVENTS     64          // epoll events per wakeup
#define S_URL_MAX    8192        // bytes of a URL after templates
#define S_HEADER_MAX 8192        // bytes of one header line
#define S_BODY_MAX   (16u << 20) // bytes of a request body

struct orcs__http_t {
    orcs_actor_t *actor;       // whose loop drives curl
    CURLM *multi;              // all transfers
    int epfd;                  // sockets curl waits on
    uint64_t timer_id;         // curl's pending timeout, or 0
    json_t *allow_hosts;       // copy of the allow-list
    size_t max_response_bytes; // body cap
    int timeout_ms;            // ceiling
};

struct orcs__http_req_t {
    orcs__http_t *http;           // engine
    CURL *easy;                   // the transfer
    struct curl_slist *headers;   // request headers
    char *body;                   // response body (NUL-terminated)
    size_t body_size;             // bytes in body
    size_t body_alloc;            // allocated
    bool over;                    // response passed the cap
    json_t *resp_headers;         // response headers
    bool running;                 // in the multi handle
    bool finished;                // done was called
    CURLcode code;                // transfer result
    long status;                  // HTTP status
    int timeout_ms;               // effective timeout
    char errbuf[CURL_ERROR_SIZE]; // curl's message
    orcs__http_done_fn *done;     // told when finished
    void *arg;                    // its argument
};

// ---------------------------------------------------------------------------
// Driving curl from the actor

static void s_check_done(orcs__http_t *self);

static int
s_on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
    (void) easy;
    (void) socketp;
    orcs__http_t *self = arg;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event event = {0};
    event.data.fd = fd;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        event.events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        event.events |= EPOLLOUT;
    if (epoll_ctl(self->epfd, EPOLL_CTL_MOD, fd, &event) != 0
        && errno == ENOENT)
        epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &event);
    return 0;
}

static int
s_on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    orcs__http_t *self = arg;
    if (self->timer_id) {
        orcs_actor_timer_cancel(self->actor, self->timer_id);
        self->timer_id = 0;
    }
    if (timeout_ms < 0)
        return 0;
    if (timeout_ms > INT32_MAX)
        timeout_ms = INT32_MAX;
    return orcs_actor_timer_start(self->actor, (int) timeout_ms, 0, self,
                                  &self->timer_id)
                   == ORCS_OK
               ? 0
               : -1;
}

static orcs_status
s_on_epoll(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) actor;
    (void) state;
    (void) fd;
    (void) events;
    orcs__http_t *self = arg;
    struct epoll_event ready[S_EVENTS];
    int n = epoll_wait(self->epfd, ready, S_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        int mask = 0;
        if (ready[i].events & EPOLLIN)
            mask |= CURL_CSELECT_IN;
        if (ready[i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (ready[i].events & (EPOLLERR | EPOLLHUP))
            mask |= CURL_CSELECT_ERR;
        int running = 0;
        curl_multi_socket_action(self->multi, ready[i].data.fd, mask, &running);
    }
    s_check_done(self);
    return ORCS_OK;
}

orcs_status
orcs__http_on_timer(orcs__http_t *self, uint64_t timer_id)
{
    if (timer_id == self->timer_id)
        self->timer_id = 0;
    int running = 0;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done(self);
    return ORCS_OK;
}

static void
s_check_done(orcs__http_t *self)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        orcs__http_req_t *req = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
        CURLcode code = msg->data.result;
        curl_multi_remove_handle(self->multi, msg->easy_handle);
        if (!req)
            continue;
        req->running = false;
        req->finished = true;
        req->code = code;
        curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status);
        if (code != CURLE_OK)
            orcs_log_debug("http", "transfer failed curl=%d error=%s",
                           (int) code, req->errbuf);
        req->done(req, req->arg); // may destroy req
    }
}

orcs_status
orcs__http_new(orcs_actor_t *actor,
               const orcs__http_opts_t *opts,
               orcs__http_t **http_p)
{
    *http_p = NULL;
    const json_t *hosts = opts->allow_hosts;
    if (hosts && !json_is_array(hosts))
        return ORCS_EINVAL;
    for (size_t i = 0; i < json_array_size(hosts); i++)
        if (!json_is_string(json_array_get(hosts, i)))
            return ORCS_EINVAL;
    orcs__http_t *self = orcs_calloc(1, sizeof *self);
    self->actor = actor;
    self->allow_hosts = hosts ? json_deep_copy(hosts) : json_array();
    self->max_response_bytes = opts->max_response_bytes;
    self->timeout_ms = opts->timeout_ms;
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    self->multi = curl_multi_init();
    orcs_status rc = self->epfd >= 0 && self->multi ? ORCS_OK : ORCS_EIO;
    if (rc == ORCS_OK) {
        curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, s_on_socket);
        curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
        curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, s_on_curl_timer);
        curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
        rc = orcs_actor_watch(actor, self->epfd, ZMQ_POLLIN, s_on_epoll, self);
    }
    if (rc != ORCS_OK) {
        orcs__http_destroy(&self);
        return ORCS_EIO;
    }
    *http_p = self;
    return ORCS_OK;
}

void
orcs__http_destroy(orcs__http_t **http_p)
{
    orcs__http_t *self = *http_p;
    if (!self)
        return;
    *http_p = NULL;
    if (self->timer_id)
        orcs_actor_timer_cancel(self->actor, self->timer_id);
    if (self->multi)
        curl_multi_cleanup(self->multi);
    if (self->epfd >= 0) {
        orcs_actor_unwatch(self->actor, self->epfd);
        close(self->epfd);
    }
    json_decref(self->allow_hosts);
    free(self);
}

// ---------------------------------------------------------------------------
// Building requests

static const char *const s_methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                        "DELETE", "HEAD", "OPTIONS", NULL};

static bool
s_method_is_valid(const char *method)
{
    for (size_t i = 0; s_methods[i]; i++)
        if (strcmp(method, s_methods[i]) == 0)
            return true;
    return false;
}

static bool
s_has_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
           || strcmp(method, "PATCH") == 0;
}

// A header name or value with CR, LF or NUL would inject headers.
static bool
s_header_is_safe(const char *text)
{
    return strpbrk(text, "\r\n") == NULL;
}

static orcs_status
s_check_headers(const json_t *headers, char *err, size_t err_size)
{
    if (headers && !json_is_object(headers)) {
        snprintf(err, err_size, "headers must be an object of strings");
        return ORCS_EINVAL;
    }
    const char *name;
    json_t *value;
    json_object_foreach((json_t *) headers, name, value)
    {
        if (!json_is_string(value) || !*name || !s_header_is_safe(name)
            || strchr(name, ':')
            || !s_header_is_safe(json_string_value(value))) {
            snprintf(err, err_size, "bad header '%.64s'", name);
            return ORCS_EINVAL;
        }
    }
    return ORCS_OK;
}

orcs_status
orcs__http_from_args(const json_t *args,
                     json_t **req_doc_p,
                     char *err,
                     size_t err_size)
{
    *req_doc_p = NULL;
    const char *method = json_string_value(json_object_get(args, "method"));
    const char *url = json_string_value(json_object_get(args, "url"));
    const json_t *headers = json_object_get(args, "headers");
    const json_t *body = json_object_get(args, "body");
    const json_t *timeout = json_object_get(args, "timeout_ms");
    if (!method)
        method = "GET";
    if (!s_method_is_valid(method)) {
        snprintf(err, err_size, "unsupported method '%.16s'", method);
        return ORCS_EINVAL;
    }
    if (!url) {
        snprintf(err, err_size, "url is required");
        return ORCS_EINVAL;
    }
    orcs_status rc = s_check_headers(headers, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    json_t *doc = json_pack("{s:s, s:s}", "method", method, "url", url);
    json_object_set_new(doc, "headers",
                        headers ? json_deep_copy(headers) : json_object());
    if (json_is_integer(timeout))
        json_object_set(doc, "timeout_ms", (json_t *) timeout);
    if (body && !json_is_null(body)) {
        if (json_is_string(body)) {
            json_object_set(doc, "body", (json_t *) body);
        } else {
            char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
            json_object_set_new(doc, "body", json_string(text ? text : ""));
            free(text);
            json_object_set_new(doc, "json", json_true());
        }
    }
    *req_doc_p = doc;
    return ORCS_OK;
}

// The text an argument stands for in a template.
static char *
s_arg_text(const json_t *args, const char *name)
{
    const json_t *value = json_object_get(args, name);
    if (!value || json_is_null(value))
        return orcs_strdup("");
    if (json_is_string(value))
        return orcs_strdup(json_string_value(value));
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    return text ? text : orcs_strdup("");
}

// Expands `${{ args.NAME }}` in text into out (out_size bytes), escaping
// values for a URL when escape is set. Returns ORCS_OK or ORCS_EINVAL.
static orcs_status
s_expand(const char *text,
         const json_t *args,
         bool escape,
         char *out,
         size_t out_size,
         char *err,
         size_t err_size)
{
    size_t used = 0;
    out[0] = 0;
    while (*text) {
        const char *open = strstr(text, "${{");
        size_t plain = open ? (size_t) (open - text) : strlen(text);
        if (used + plain >= out_size)
            goto too_long;
        memcpy(out + used, text, plain);
        used += plain;
        out[used] = 0;
        if (!open)
            break;
        const char *p = open + 3;
        while (*p == ' ')
            p++;
        char name[128];
        size_t n = 0;
        if (strncmp(p, "args.", 5) == 0) {
            p += 5;
            while ((isalnum((unsigned char) p[n]) || p[n] == '_' || p[n] == '-')
                   && n < sizeof name - 1)
                n++;
        }
        memcpy(name, p, n);
        name[n] = 0;
        p += n;
        while (*p == ' ')
            p++;
        if (n == 0 || strncmp(p, "}}", 2) != 0) {
            snprintf(err, err_size,
                     "bad template at '%.32s': expected "
                     "${{ args.NAME }}",
                     open);
            return ORCS_EINVAL;
        }
        text = p + 2;
        char *value = s_arg_text(args, name);
        char *escaped = escape ? curl_easy_escape(NULL, value, 0) : NULL;
        const char *piece = escaped ? escaped : value;
        size_t len = strlen(piece);
        bool fits = used + len < out_size;
        if (fits) {
            memcpy(out + used, piece, len);
            used += len;
            out[used] = 0;
        }
        curl_free(escaped);
        free(value);
        if (!fits)
            goto too_long;
    }
    return ORCS_OK;
too_long:
    snprintf(err, err_size, "expanded template over %zu bytes", out_size - 1);
    return ORCS_EINVAL;
}

orcs_status
orcs__http_from_manifest(const json_t *section,
                         const json_t *args,
                         json_t **req_doc_p,
                         char *err,
                         size_t err_size)
{
    *req_doc_p = NULL;
    const char *method = json_string_value(json_object_get(section, "method"));
    const char *url = json_string_value(json_object_get(section, "url"));
    const json_t *headers = json_object_get(section, "headers");
    if (!method)
        method = "GET";
    if (!url || !s_method_is_valid(method)) {
        snprintf(err, err_size,
                 "the manifest's http section needs a url and "
                 "a known method");
        return ORCS_EINVAL;
    }
    orcs_status rc = s_check_headers(headers, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    char *buf = orcs_malloc(S_URL_MAX);
    rc = s_expand(url, args, true, buf, S_URL_MAX, err, err_size);
    json_t *doc =
        json_pack("{s:s, s:s, s:{}}", "method", method, "url", buf, "headers");
    json_t *out_headers = json_object_get(doc, "headers");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *) headers, name, value)
    {
        if (rc != ORCS_OK)
            break;
        rc = s_expand(json_string_value(value), args, false, buf, S_HEADER_MAX,
                      err, err_size);
        if (rc == ORCS_OK && !s_header_is_safe(buf)) {
            snprintf(err, err_size, "header '%.64s' would hold a line break",
                     name);
            rc = ORCS_EINVAL;
        }
        if (rc == ORCS_OK)
            json_object_set_new(out_headers, name, json_string(buf));
    }
    free(buf);
    if (rc == ORCS_OK && s_has_body(method)) {
        char *text = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
        json_object_set_new(doc, "body", json_string(text ? text : "{}"));
        json_object_set_new(doc, "json", json_true());
        free(text);
    }
    if (rc != ORCS_OK) {
        json_decref(doc);
        return rc;
    }
    *req_doc_p = doc;
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Starting requests

// Checks the URL's scheme and host against the allow-list.
static orcs_status
s_check_url(orcs__http_t *self, const char *url, char *err, size_t err_size)
{
    CURLU *parsed = curl_url();
    char *scheme = NULL, *host = NULL;
    orcs_status rc = ORCS_OK;
    if (curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, err_size, "bad url '%.128s'", url);
        rc = ORCS_EINVAL;
    } else if (strcasecmp(scheme, "http") != 0
               && strcasecmp(scheme, "https") != 0) {
        snprintf(err, err_size,
                 "only http and https URLs are allowed, not "
                 "%.16s",
                 scheme);
        rc = ORCS_EDENIED;
    } else {
        // IPv6 literals come bracketed: compare without the brackets.
        size_t len = strlen(host);
        const char *bare = host;
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
            bare = host + 1;
            len -= 2;
        }
        bool allowed = false;
        for (size_t i = 0; i < json_array_size(self->allow_hosts) && !allowed;
             i++) {
            const char *entry =
                json_string_value(json_array_get(self->allow_hosts, i));
            size_t elen = strlen(entry);
            if (elen >= 2 && entry[0] == '[' && entry[elen - 1] == ']') {
                entry++;
                elen -= 2;
            }
            allowed = strcmp(entry, "*") == 0
                      || (elen == len && strncasecmp(entry, bare, len) == 0);
        }
        if (!allowed) {
            snprintf(err, err_size,
                     "host %.*s is not in toolexec.http.allow_hosts", (int) len,
                     bare);
            rc = ORCS_EDENIED;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(parsed);
    return rc;
}

static size_t
s_on_body(char *data, size_t size, size_t count, void *arg)
{
    orcs__http_req_t *req = arg;
    size_t n = size * count;
    size_t max = req->http->max_response_bytes;
    if (req->body_size + n > max) {
        req->over = true;
        return 0; // aborts the transfer: CURLE_WRITE_ERROR
    }
    if (req->body_size + n + 1 > req->body_alloc) {
        size_t want = req->body_alloc ? req->body_alloc : 4096;
        while (want < req->body_size + n + 1)
            want *= 2;
        req->body = orcs_realloc(req->body, want);
        req->body_alloc = want;
    }
    memcpy(req->body + req->body_size, data, n);
    req->body_size += n;
    req->body[req->body_size] = 0;
    return n;
}

static size_t
s_on_header(char *data, size_t size, size_t count, void *arg)
{
    orcs__http_req_t *req = arg;
    size_t n = size * count;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) { // a new response (100)
        json_object_clear(req->resp_headers);
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon || colon == data || n > S_HEADER_MAX
        || json_object_size(req->resp_headers) >= ORCS_HTTP_HEADERS_MAX)
        return n;
    char name[256];
    size_t name_len = (size_t) (colon - data);
    if (name_len >= sizeof name)
        return n;
    for (size_t i = 0; i < name_len; i++)
        name[i] = (char) tolower((unsigned char) data[i]);
    name[name_len] = 0;
    const char *value = colon + 1;
    const char *end = data + n;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value
           && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    json_t *text = json_stringn(value, (size_t) (end - value));
    if (text)
        json_object_set_new(req->resp_headers, name, text);
    return n;
}

// Adds "Name: value" to the request headers.
static void
s_add_header(orcs__http_req_t *req, const char *name, const char *value)
{
    size_t size = strlen(name) + strlen(value) + 3;
    char *line = orcs_malloc(size);
    snprintf(line, size, "%s: %s", name, value);
    struct curl_slist *list = curl_slist_append(req->headers, line);
    free(line);
    if (!list)
        orcs_panic("out of memory");
    req->headers = list;
}

static bool
s_header_given(const json_t *headers, const char *wanted)
{
    const char *name;
    json_t *value;
    json_object_foreach((json_t *) headers, name, value)
    {
        (void) value;
        if (strcasecmp(name, wanted) == 0)
            return true;
    }
    return false;
}

static orcs_status
s_setup(orcs__http_req_t *req,
        const json_t *doc,
        const char *key,
        char *err,
        size_t err_size)
{
    CURL *easy = req->easy;
    const char *method = json_string_value(json_object_get(doc, "method"));
    const json_t *headers = json_object_get(doc, "headers");
    const json_t *body = json_object_get(doc, "body");
    if (!method || !s_method_is_valid(method)
        || s_check_headers(headers, err, err_size) != ORCS_OK
        || (body && !json_is_string(body))
        || json_string_length(body) > S_BODY_MAX) {
        if (!*err)
            snprintf(err, err_size, "malformed request");
        return ORCS_EINVAL;
    }
    curl_easy_setopt(easy, CURLOPT_URL,
                     json_string_value(json_object_get(doc, "url")));
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) req->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t) req->http->max_response_bytes);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "orcs-toolexec");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) json_string_length(body));
        curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, json_string_value(body));
    }
    const char *name;
    json_t *value;
    json_object_foreach((json_t *) headers, name, value)
        s_add_header(req, name, json_string_value(value));
    if (json_is_true(json_object_get(doc, "json"))
        && !s_header_given(headers, "content-type"))
        s_add_header(req, "Content-Type", "application/json");
    if (key && !s_header_given(headers, "idempotency-key"))
        s_add_header(req, "Idempotency-Key", key);
    req->headers = curl_slist_append(req->headers, "Expect:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
    return ORCS_OK;
}

orcs_status
orcs__http_start(orcs__http_t *self,
                 const json_t *req_doc,
                 const char *key,
                 int timeout_ms,
                 orcs__http_done_fn *done,
                 void *arg,
                 orcs__http_req_t **req_p,
                 char *err,
                 size_t err_size)
{
    *req_p = NULL;
    err[0] = 0;
    const char *url = json_string_value(json_object_get(req_doc, "url"));
    if (!url) {
        snprintf(err, err_size, "url is required");
        return ORCS_EINVAL;
    }
    orcs_status rc = s_check_url(self, url, err, err_size);
    if (rc != ORCS_OK)
        return rc;
    orcs__http_req_t *req = orcs_calloc(1, sizeof *req);
    req->http = self;
    req->done = done;
    req->arg = arg;
    req->resp_headers = json_object();
    req->timeout_ms = self->timeout_ms;
    if (timeout_ms > 0 && timeout_ms < req->timeout_ms)
        req->timeout_ms = timeout_ms;
    json_t *own = json_object_get(req_doc, "timeout_ms");
    if (json_is_integer(own) && json_integer_value(own) > 0
        && json_integer_value(own) < req->timeout_ms)
        req->timeout_ms = (int) json_integer_value(own);
    req->easy = curl_easy_init();
    rc = req->easy ? s_setup(req, req_doc, key, err, err_size) : ORCS_EIO;
    if (rc == ORCS_OK
        && curl_multi_add_handle(self->multi, req->easy) != CURLM_OK) {
        snprintf(err, err_size, "curl refused the request");
        rc = ORCS_EIO;
    }
    if (rc != ORCS_OK) {
        orcs__http_req_destroy(&req);
        return rc;
    }
    req->running = true;
    *req_p = req;
    return ORCS_OK;
}

void
orcs__http_req_destroy(orcs__http_req_t **req_p)
{
    orcs__http_req_t *req = *req_p;
    if (!req)
        return;
    *req_p = NULL;
    if (req->running)
        curl_multi_remove_handle(req->http->multi, req->easy);
    if (req->easy)
        curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->headers);
    json_decref(req->resp_headers);
    free(req->body);
    free(req);
}

// ---------------------------------------------------------------------------
// Results

json_t *
orcs__http_text(const char *text, size_t size)
{
    json_t *value = json_stringn(text ? text : "", size);
    return value ? value : orcs_doc_binary_new(text, size);
}

static bool
s_is_json(const char *content_type)
{
    if (!content_type)
        return false;
    size_t n = strcspn(content_type, ";");
    while (n > 0 && content_type[n - 1] == ' ')
        n--;
    return (n == 16 && strncasecmp(content_type, "application/json", 16) == 0)
           || (n > 5 && strncasecmp(content_type + n - 5, "+json", 5) == 0);
}

orcs_status
orcs__http_result(const orcs__http_req_t *req,
                  json_t **result_p,
                  bool *retryable_p,
                  char *err,
                  size_t err_size)
{
    *result_p = NULL;
    *retryable_p = false;
    if (req->over || req->code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, err_size, "response over %zu bytes",
                 req->http->max_response_bytes);
        return ORCS_ETOOBIG;
    }
    if (req->code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, err_size, "timed out after %d ms", req->timeout_ms);
        *retryable_p = true;
        return ORCS_ETIMEDOUT;
    }
    if (req->code != CURLE_OK) {
        snprintf(err, err_size, "HTTP request failed: %s",
                 req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->code));
        *retryable_p = true;
        return ORCS_ENET;
    }
    if (req->status >= 400) {
        snprintf(err, err_size, "HTTP %ld: %.*s", req->status,
                 (int) (req->body_size < ORCS_HTTP_SNIPPET ? req->body_size
                                                           : ORCS_HTTP_SNIPPET),
                 req->body ? req->body : "");
        *retryable_p = req->status == 429 || req->status >= 500;
        return ORCS_EREMOTE;
    }
    json_t *body = NULL;
    const char *type =
        json_string_value(json_object_get(req->resp_headers, "content-type"));
    if (s_is_json(type) && req->body_size > 0)
        body = json_loadb(req->body, req->body_size, JSON_DECODE_ANY, NULL);
    if (!body)
        body = orcs__http_text(req->body, req->body_size);
    *result_p = json_pack("{s:I, s:O, s:o}", "status", (json_int_t) req->status,
                          "headers", req->resp_headers, "body", body);
    return ORCS_OK;
}
