/*  tools/http.h — the http tool: requests built from `http.request`
    arguments or from an http manifest's templates, checked against a
    host allow-list, and run on libcurl multi driven by the calling
    actor's poll loop (an epoll descriptor watched with orcs_actor_watch
    and one actor timer for curl's timeouts), never blocking it.
    SPDX-License-Identifier: MPL-2.0

    A request is a document {"method", "url", "headers": {name: value},
    "body": TEXT (optional), "timeout_ms" (optional)}. Only http and https
    URLs whose host is in the allow-list are fetched; redirects are not
    followed; the response is capped. */
#ifndef ORCS_TOOLS_HTTP_H_INCLUDED
#define ORCS_TOOLS_HTTP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/actor.h"
#include "orcs/status.h"

#define ORCS_HTTP_HEADERS_MAX 100u // response headers kept
#define ORCS_HTTP_SNIPPET     200u // body bytes quoted in an HTTP error

// The engine of one actor: a curl multi handle and what drives it.
typedef struct orcs__http_t orcs__http_t;

// One request in flight (or finished).
typedef struct orcs__http_req_t orcs__http_req_t;

typedef struct {
    const json_t *allow_hosts; // array of host names or IPs; "*" = any
    size_t max_response_bytes; // body cap
    int timeout_ms;            // ceiling of every request's timeout
} orcs__http_opts_t;

// Called on the actor's thread when a request finished (or failed). The
// request is still valid and owned by the caller, who may destroy it
// inside the callback.
typedef void(orcs__http_done_fn)(orcs__http_req_t *req, void *arg);

// Creates the engine for actor (opts is copied). Its timer callbacks must
// be routed to orcs__http_on_timer: every timer it starts carries the
// engine itself as its arg. Caller owns *http_p; destroy with
// orcs__http_destroy() (after every request). Returns ORCS_OK,
// ORCS_EINVAL for an allow_hosts that is not an array of strings, or
// ORCS_EIO when curl or epoll cannot be set up.
orcs_status orcs__http_new(orcs_actor_t *actor,
                           const orcs__http_opts_t *opts,
                           orcs__http_t **http_p);

// Destroys the engine; safe with *http_p NULL; sets it to NULL.
void orcs__http_destroy(orcs__http_t **http_p);

// Runs curl's timeout work. Call when an actor timer whose arg is the
// engine fires. Returns ORCS_OK.
orcs_status orcs__http_on_timer(orcs__http_t *self, uint64_t timer_id);

// Builds a request from `http.request` arguments {method, url, headers,
// body (a string is sent as is; any other JSON is sent as JSON with
// content-type application/json), timeout_ms}. Caller owns *req_doc_p.
// Returns ORCS_OK or ORCS_EINVAL (message in err).
orcs_status orcs__http_from_args(const json_t *args,
                                 json_t **req_doc_p,
                                 char *err,
                                 size_t err_size);

// Builds a request from a manifest's `http` section {method (GET), url,
// headers}: `${{ args.NAME }}` in the url (URL-escaped) and in header
// values is replaced by the argument (strings as they are, other values
// as compact JSON, an absent or null one by nothing); POST, PUT and PATCH
// send the arguments as a JSON body. Caller owns *req_doc_p. Returns
// ORCS_OK or ORCS_EINVAL (message in err).
orcs_status orcs__http_from_manifest(const json_t *section,
                                     const json_t *args,
                                     json_t **req_doc_p,
                                     char *err,
                                     size_t err_size);

// Starts a request (req_doc is borrowed for the call), with header
// Idempotency-Key: key (may be NULL) and a timeout of the smallest of
// timeout_ms, the request's own and the engine's ceiling. done(req, arg)
// runs later. On success the caller owns *req_p; destroy with
// orcs__http_req_destroy(). Returns ORCS_OK; ORCS_EDENIED when the scheme
// or the host is not allowed; ORCS_EINVAL for a malformed request; ORCS_EIO
// when curl refuses it. Messages in err. done is never called on error.
orcs_status orcs__http_start(orcs__http_t *self,
                             const json_t *req_doc,
                             const char *key,
                             int timeout_ms,
                             orcs__http_done_fn *done,
                             void *arg,
                             orcs__http_req_t **req_p,
                             char *err,
                             size_t err_size);

// Aborts a request still running (its done is then never called), and
// frees it. Safe with *req_p NULL; sets it to NULL. Not from inside a
// curl callback (done is not one).
void orcs__http_req_destroy(orcs__http_req_t **req_p);

// After done: the outcome. On ORCS_OK *result_p (caller owns) is
// {"status", "headers": {lowercase name: value}, "body"}: JSON when the
// content type is JSON and it parses, else text (binary when not UTF-8).
// Else a message in err and *retryable_p says whether another attempt
// may succeed. Returns ORCS_OK; ORCS_EREMOTE (status >= 400: "HTTP 503:
// snippet"); ORCS_ETIMEDOUT; ORCS_ETOOBIG (response over the cap);
// ORCS_ENET (connection or protocol failure).
orcs_status orcs__http_result(const orcs__http_req_t *req,
                              json_t **result_p,
                              bool *retryable_p,
                              char *err,
                              size_t err_size);

// The JSON of size bytes of text: a string when UTF-8, else binary.
// Caller owns the result.
json_t *orcs__http_text(const char *text, size_t size);

#endif
