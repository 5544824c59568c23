/*  actors/model/model_internal.h — private types of the `model` actor (the
    LLM gateway, docs/agents.md): providers, sessions, runs, calls in
    flight, and the functions its files share.
    SPDX-License-Identifier: MPL-2.0

    Files:
      model.c           the actor: callbacks, asks, sessions, runs, budgets
      model_call.c      one model.chat in flight: attempts, retries with
                        backoff, fallbacks, rate limits, replay, completion
      model_config.c    providers from the config, keys, env overrides
      model_http.c      libcurl multi on an epoll fd the actor watches
      model_fake.c      the in-process fake provider (benchmarks)

    Everything here runs on the actor's thread. */
#ifndef ORCS_ACTORS_MODEL_INTERNAL_H_INCLUDED
#define ORCS_ACTORS_MODEL_INTERNAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>

#include "actors/model/openai.h"
#include "orcs/orcs.h"

#define ORCS__MODEL_TARGETS_MAX  8u    // provider + fallbacks tried per call
#define ORCS__MODEL_ERROR_MAX    512u  // bytes of an error text
#define ORCS__MODEL_NAME_MAX     127u  // provider and model names
#define ORCS__MODEL_KEY_MAX      4096u // bytes of an API key
#define ORCS__MODEL_IDLE_MS      (30 * 60 * 1000)     // sessions dropped after
#define ORCS__MODEL_RUN_IDLE_MS  (2 * 60 * 60 * 1000) // runs dropped after
#define ORCS__MODEL_STATUS_COUNT 32u // error counters, indexed by -status

// What a timer argument points at (the first member of each).
typedef enum {
    ORCS__MODEL_TAG_CURL = 1, // curl's own timeout
    ORCS__MODEL_TAG_SWEEP,    // idle session sweep
    ORCS__MODEL_TAG_CALL,     // a call's backoff or replay delay
    ORCS__MODEL_TAG_PROVIDER  // a provider's rate-limit refill
} orcs__model_tag;

typedef enum {
    ORCS__MODEL_HTTP = 0, // OpenAI-compatible server (record when record_fd)
    ORCS__MODEL_REPLAY,   // answers from a cassette
    ORCS__MODEL_FAKE      // in-process tool calls then "done"
} orcs__model_kind;

typedef struct orcs__model_t orcs__model_t;
typedef struct orcs__model_call_t orcs__model_call_t;
typedef struct orcs__model_transfer_t orcs__model_transfer_t;

// Transfers are spread over this many curl multi handles: libcurl scans
// a host's connections for every new request, which costs O(n) with
// thousands of connections to one server; each shard keeps its own cache.
#define ORCS__MODEL_SHARDS 32u

// One curl multi handle and its timer.
typedef struct {
    orcs__model_tag tag;  // ORCS__MODEL_TAG_CURL: first, timers get it
    orcs__model_t *model; // owner
    CURLM *multi;         // its transfers
    uint64_t timer;       // curl's timeout timer, 0 = none
} orcs__model_shard_t;

// One configured provider. Lives as long as the actor's incarnation.
typedef struct {
    orcs__model_tag tag;        // ORCS__MODEL_TAG_PROVIDER
    orcs__model_t *owner;       // the actor state
    char *name;                 // key in `models`
    orcs__model_kind kind;      // what answers
    char *url;                  // {base_url}/chat/completions, or NULL
    char *model;                // default model name, or NULL
    struct curl_slist *headers; // every request's headers (holds the key)
    char key_error[256];        // why the key is unusable ("" = fine)
    int timeout_ms;             // whole attempt
    int connect_timeout_ms;     // TCP + TLS connect
    int idle_timeout_ms;        // stream without bytes that long: abort
    int retries;                // attempts after the first, per target
    int backoff_ms;             // first backoff
    int backoff_max_ms;         // backoff and Retry-After cap
    json_t *fallbacks;          // array of "name" or "name/model"
    double rpm;                 // requests per minute; 0 = no limit
    double burst;               // rate bucket size
    bool stream;                // stream by default
    bool events;                // publish model.* events on run.<run>.
    double price_input;         // per million prompt tokens
    double price_output;        // per million completion tokens
    double price_cached;        // per million cached prompt tokens
    bool has_cached_price;      // price_cached was given
    int record_fd;              // record mode: cassette opened O_APPEND
    orcs__cassette_t *cassette; // replay mode
    char fake_tool[ORCS__MODEL_NAME_MAX + 1]; // fake: wire name of the tool
    int fake_turns;                           // fake: tool-call turns
    double tokens;                            // rate bucket level
    int64_t refill_us;                        // last refill
    orcs__model_call_t *wait_head;            // calls waiting for the bucket
    orcs__model_call_t *wait_tail;            // last of them
    uint64_t wait_timer;                      // refill timer, 0 = none
} orcs__model_provider_t;

// A target of a call: a provider and the model name to ask it for.
typedef struct {
    orcs__model_provider_t *provider; // borrowed from the actor
    char *model;                      // owned; may be NULL (provider's)
} orcs__model_target_t;

// The provider chain of a session: shared (counted) by the session and its
// calls in flight, so a dropped session does not pull it from under them.
typedef struct {
    int refs;                                              // owners
    size_t count;                                          // targets used
    orcs__model_target_t targets[ORCS__MODEL_TARGETS_MAX]; // first = primary
} orcs__model_route_t;

// Accounting of one run.
typedef struct {
    json_int_t prompt_tokens;     // summed over calls
    json_int_t completion_tokens; // summed over calls
    json_int_t cached_tokens;     // summed over calls
    double cost;                  // summed over calls
    json_int_t requests;          // answered calls
    json_int_t max_tokens;        // budget; 0 = none
    double max_cost;              // budget; 0 = none
    json_int_t max_requests;      // budget; 0 = none
    int64_t used_us;              // last activity (monotonic)
} orcs__model_run_t;

// A tools list as sessions share it: the runs of one agent offer the same
// tools, and 10,000 sessions hold one copy of them, not 10,000.
typedef struct {
    char *text;      // the tools as request JSON (the key it is found by)
    json_t *tools;   // the tools
    size_t refs;     // sessions that use it
    zhashx_t *table; // the table it is in (the actor's `tools`)
} orcs__model_tools_t;

// A conversation whose history lives here (docs/agents.md).
typedef struct {
    char *id;                    // session id
    char *run;                   // run id ("" = none)
    json_t *messages;            // history (array)
    json_t *tools;               // OpenAI tools, or NULL
    json_t *options;             // request options, or NULL
    orcs__model_route_t *route;  // providers to try
    int stream;                  // -1 = provider default, 0, 1
    size_t turns;                // model calls answered so far
    int64_t used_us;             // last activity (monotonic)
    orcs__model_call_t *pending; // a call in flight on it, or NULL
    // The history as request JSON, kept so that a turn writes out only
    // its new messages: messages[0, sent_count) joined by commas.
    char *sent;                  // NULL until the first request
    size_t sent_len;             // bytes in sent
    size_t sent_alloc;           // allocated for sent
    size_t sent_count;           // messages in sent
    orcs__model_tools_t *shared; // tools (shared with like sessions), or NULL
    // The rest of the request ("model", options, "stream") as JSON members
    // without braces, kept for the target and stream it was written for.
    char *rest;         // NULL until the first request
    size_t rest_target; // route target it names
    bool rest_stream;   // whether it asks for a stream
} orcs__model_session_t;

// Writes what messages[0, count) of the session add to sent; false when
// a message cannot be written as JSON (sent is then left as it was).
bool orcs__model_session_encode(orcs__model_session_t *session, size_t count);

// Forgets the session's written history (its messages changed other than
// by appending).
void orcs__model_session_unsent(orcs__model_session_t *session);

// What an attempt produced.
typedef struct {
    orcs_status status;                // ORCS_OK or why it failed
    json_t *answer;                    // OK: normalised answer (owned)
    bool retryable;                    // worth another attempt
    int retry_after_ms;                // server's Retry-After, or -1
    char error[ORCS__MODEL_ERROR_MAX]; // what failed
} orcs__model_result_t;

// One model.chat in flight.
struct orcs__model_call_t {
    orcs__model_tag tag;        // ORCS__MODEL_TAG_CALL
    orcs__model_t *owner;       // the actor state
    orcs_reply_to_t *reply_to;  // who waits (NULL: a send, nobody)
    char *session_id;           // its session
    char *run;                  // run id ("" = none)
    json_int_t step;            // agent step
    json_t *messages;           // the session's history (a reference)
    size_t count;               // messages sent (history at the call)
    size_t appended;            // of which added by this call
    json_t *tools;              // reference, or NULL
    json_t *options;            // reference, or NULL
    int stream;                 // -1 = provider default, 0, 1
    size_t turn;                // session turn when it started
    orcs__model_route_t *route; // targets (a reference)
    size_t target;              // index of the target being tried
    int attempt;                // attempts on that target
    int attempts;               // attempts in all
    char *body;                 // request body for the target
    size_t body_size;           // its bytes
    bool body_stream;           // body asks for a stream
    uint64_t timer_id; // backoff, replay delay or stream idle, 0 = none
    json_t *delayed;   // replay answer waiting for delay_ms
    orcs__model_transfer_t *http;  // transfer in flight, or NULL
    bool waiting;                  // queued for a provider's bucket
    orcs__model_call_t *wait_next; // in that queue
    int64_t start_us;              // when the ask arrived (monotonic)
    char *history; // failures of earlier targets (NULL = none; at most
                   // ORCS__MODEL_ERROR_MAX - 1 bytes)
    orcs__model_call_t *prev; // list of calls in flight
    orcs__model_call_t *next; // list of calls in flight
};

// The actor's state.
struct orcs__model_t {
    orcs_actor_t *actor;       // this actor
    zhashx_t *providers;       // name -> orcs__model_provider_t
    zhashx_t *sessions;        // id -> orcs__model_session_t
    zhashx_t *tools;           // text -> orcs__model_tools_t (shared tools)
    zhashx_t *runs;            // run id -> orcs__model_run_t
    char *config_dir;          // resolves relative cassette and key paths
    int64_t session_idle_us;   // sessions idle longer are dropped
    int64_t run_idle_us;       // runs idle longer are dropped
    orcs__model_tag sweep_tag; // ORCS__MODEL_TAG_SWEEP
    orcs__model_shard_t shards[ORCS__MODEL_SHARDS]; // curl multi handles
    unsigned next_shard;                            // round robin over shards
    int epoll_fd;              // curl's sockets, watched by the actor
    uint32_t *watched;         // by fd: its epoll registration (http.c)
    size_t watched_cap;        // entries in watched
    uint64_t sockets_opened;   // TCP connections curl opened
    uint64_t sockets_closed;   // and closed
    bool closing;              // in terminate: curl callbacks do nothing
    long max_connections;      // CURLMOPT_MAX_TOTAL_CONNECTIONS
    CURL **idle_easy;          // handles kept for reuse
    size_t idle_count;         // handles in idle_easy
    orcs__model_call_t *calls; // calls in flight
    size_t in_flight;          // their number
    uint64_t rng;              // backoff jitter (xorshift64*)
    uint64_t requests;         // model.chat asks
    uint64_t attempts;         // provider attempts
    uint64_t retries;          // attempts after a failure
    uint64_t fallbacks;        // moves to a fallback target
    uint64_t rate_limited;     // attempts that waited for a bucket
    uint64_t errors[ORCS__MODEL_STATUS_COUNT]; // failed calls by -status
};

// The actor kind (registered by the node as "model").
extern const orcs_actor_def_t orcs__model_def;

// ---- model_config.c

// Reads the providers of `models` (the actor config's, else the node
// config's) plus the environment's default; fills self->providers. On
// error writes "models.NAME.KEY: what is wrong" into err. Returns ORCS_OK
// or ORCS_ECONFIG.
orcs_status orcs__model_config_load(orcs__model_t *self,
                                    const json_t *config,
                                    char *err,
                                    size_t err_size);

// Destroys a provider (zhashx destructor shape); sets *item to NULL.
void orcs__model_provider_destroy(void **item);

// Finds a target by "name" or "name/model" (model NULL when absent); the
// name tried whole first. Returns the provider or NULL. *model_p is set to
// a new string or NULL.
orcs__model_provider_t *orcs__model_provider_find(orcs__model_t *self,
                                                  const char *spec,
                                                  char **model_p);

// ---- model_http.c

// Sets up the curl multi handle, the epoll fd and its watch. Returns
// ORCS_OK or ORCS_EIO.
orcs_status orcs__model_http_open(orcs__model_t *self);

// Cancels every transfer and frees curl (call->http of each is freed and
// cleared by orcs__model_http_cancel first). Safe to repeat.
void orcs__model_http_close(orcs__model_t *self);

// Starts the POST of call->body to the call's current target. The result
// arrives later through orcs__model_call_done. Returns ORCS_OK or
// ORCS_EIO (curl refused; the call was not started).
orcs_status orcs__model_http_start(orcs__model_t *self,
                                   orcs__model_call_t *call);

// Aborts call's transfer if any (no result is delivered).
void orcs__model_http_cancel(orcs__model_t *self, orcs__model_call_t *call);

// The idle timer of call's stream fired (call->timer_id already 0):
// aborts the transfer with ETIMEDOUT (retryable) when no byte came for
// idle_timeout_ms, else sets the timer again. Returns ORCS_OK.
orcs_status orcs__model_http_on_idle(orcs__model_t *self,
                                     orcs__model_call_t *call);

// curl's timer fired: lets curl act and collects finished transfers.
// Returns ORCS_OK.
orcs_status orcs__model_http_on_timer(orcs__model_t *self, void *shard);

// ---- model_call.c

// Starts a call whose fields are set (route, messages, count...): takes
// ownership of call, publishes model.started and makes the first attempt.
// Any failure is answered to the asker. Returns ORCS_OK.
orcs_status orcs__model_call_start(orcs__model_t *self,
                                   orcs__model_call_t *call);

// An attempt finished with *result (its answer is taken). Retries, falls
// back, or answers the asker. Returns ORCS_OK.
orcs_status orcs__model_call_done(orcs__model_t *self,
                                  orcs__model_call_t *call,
                                  orcs__model_result_t *result);

// A call's timer (backoff or replay delay) fired. Returns ORCS_OK.
orcs_status orcs__model_call_on_timer(orcs__model_t *self,
                                      orcs__model_call_t *call,
                                      uint64_t timer_id);

// A provider's rate bucket refilled: starts the calls it can. Returns
// ORCS_OK.
orcs_status orcs__model_provider_on_timer(orcs__model_t *self,
                                          orcs__model_provider_t *provider,
                                          uint64_t timer_id);

// Frees a call without answering (teardown); cancels its transfer and
// timers. Sets *call_p to NULL.
void orcs__model_call_destroy(orcs__model_t *self, orcs__model_call_t **call_p);

// The error reply of an ask: {"error": text} (+ attempts when > 0) with
// status. Returns ORCS_OK (an asker that went away is not our failure).
orcs_status orcs__model_reply_error(orcs__model_t *self,
                                    const orcs_msg_t *request,
                                    orcs_status status,
                                    const char *text,
                                    int attempts);

// Sends body (taken) as the reply of request with status OK. Returns
// ORCS_OK.
orcs_status
orcs__model_reply(orcs__model_t *self, const orcs_msg_t *request, json_t *body);

// As orcs__model_reply and orcs__model_reply_error, to a kept reply
// address (NULL: nobody waits; body is freed). status goes on the reply.
orcs_status orcs__model_reply_to(orcs__model_t *self,
                                 const orcs_reply_to_t *to,
                                 orcs_status status,
                                 json_t *body);
orcs_status orcs__model_reply_to_error(orcs__model_t *self,
                                       const orcs_reply_to_t *to,
                                       orcs_status status,
                                       const char *text,
                                       int attempts);

// Cost of usage at the provider's prices.
double orcs__model_cost(const orcs__model_provider_t *provider,
                        json_int_t prompt,
                        json_int_t completion,
                        json_int_t cached);

// ---- model.c (shared with model_call.c)

// The run record of id, created when create is set; NULL for "" or when
// absent.
orcs__model_run_t *
orcs__model_run(orcs__model_t *self, const char *id, bool create);

// Publishes run.<run>.<event> with body (taken) when run is not "".
void orcs__model_publish(orcs__model_t *self,
                         const char *run,
                         const char *event,
                         json_t *body);

// Releases a route reference; sets *route_p to NULL.
void orcs__model_route_release(orcs__model_route_t **route_p);

// ---- model_fake.c

// Answers turn `turn` of a fake provider: sets *message_p (new reference)
// and *finish_p ("tool_calls" or "stop", static).
void orcs__model_fake_message(const orcs__model_provider_t *provider,
                              size_t turn,
                              json_t **message_p,
                              const char **finish_p);

#endif
