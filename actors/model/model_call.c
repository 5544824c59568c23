/*  actors/model/model_call.c — one model.chat in flight: attempts on the
    session's provider, retries with exponential backoff and full jitter
    (Retry-After honoured), then the fallbacks in order, a rate bucket per
    provider (requests over `rpm` wait, never fail), replay with its delay
    and SSE path, record, and the answer: usage, cost, the session's
    history, the run's totals, events and the reply.
    SPDX-License-Identifier: MPL-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/model/model_internal.h"
#include "internal.h"

// ---------------------------------------------------------------------------
// Replies

orcs_status
orcs__model_reply_to(orcs__model_t *self,
                     const orcs_reply_to_t *to,
                     orcs_status status,
                     json_t *body)
{
    if (!to) { // not an ask: nobody waits
        json_decref(body);
        return ORCS_OK;
    }
    orcs_msg_t *reply = orcs_msg_new(NULL); // the ask's type
    orcs_msg_set_body(reply, &body);
    orcs_msg_set_status(reply, status);
    orcs_status rc = orcs_actor_reply_to(self->actor, to, &reply);
    if (rc != ORCS_OK)
        orcs_log_debug("model", "reply not delivered status=%s to=%s",
                       orcs_status_name(rc), orcs_reply_to_address(to));
    orcs_msg_destroy(&reply);
    return ORCS_OK;
}

orcs_status
orcs__model_reply_to_error(orcs__model_t *self,
                           const orcs_reply_to_t *to,
                           orcs_status status,
                           const char *text,
                           int attempts)
{
    unsigned index = (unsigned) -status;
    if (index < ORCS__MODEL_STATUS_COUNT)
        self->errors[index]++;
    if (!to)
        return ORCS_OK;
    json_t *body = json_pack("{s:s}", "error", text);
    if (!body) // not UTF-8 (a server's bytes): say what it was at least
        body = json_pack("{s:s}", "error", orcs_status_str(status));
    if (attempts > 0)
        json_object_set_new(body, "attempts", json_integer(attempts));
    return orcs__model_reply_to(self, to, status, body);
}

orcs_status
orcs__model_reply(orcs__model_t *self, const orcs_msg_t *request, json_t *body)
{
    orcs_reply_to_t *to = orcs_reply_to_new(request);
    orcs_status rc = orcs__model_reply_to(self, to, ORCS_OK, body);
    orcs_reply_to_destroy(&to);
    return rc;
}

orcs_status
orcs__model_reply_error(orcs__model_t *self,
                        const orcs_msg_t *request,
                        orcs_status status,
                        const char *text,
                        int attempts)
{
    orcs_reply_to_t *to = orcs_reply_to_new(request);
    orcs_status rc =
        orcs__model_reply_to_error(self, to, status, text, attempts);
    orcs_reply_to_destroy(&to);
    return rc;
}

double
orcs__model_cost(const orcs__model_provider_t *provider,
                 json_int_t prompt,
                 json_int_t completion,
                 json_int_t cached)
{
    double cost = (double) completion * provider->price_output / 1e6;
    if (provider->has_cached_price && cached > 0 && cached <= prompt)
        return cost + (double) (prompt - cached) * provider->price_input / 1e6
               + (double) cached * provider->price_cached / 1e6;
    return cost + (double) prompt * provider->price_input / 1e6;
}

// ---------------------------------------------------------------------------
// Life of a call

static void
s_unlink(orcs__model_t *self, orcs__model_call_t *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else if (self->calls == call)
        self->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

// Takes call out of its provider's wait queue.
static void
s_unqueue(orcs__model_call_t *call)
{
    if (!call->waiting)
        return;
    orcs__model_provider_t *provider =
        call->route->targets[call->target].provider;
    orcs__model_call_t **link = &provider->wait_head;
    orcs__model_call_t *previous = NULL;
    while (*link && *link != call) {
        previous = *link;
        link = &(*link)->wait_next;
    }
    if (*link)
        *link = call->wait_next;
    if (provider->wait_tail == call)
        provider->wait_tail = previous;
    call->wait_next = NULL;
    call->waiting = false;
}

void
orcs__model_call_destroy(orcs__model_t *self, orcs__model_call_t **call_p)
{
    orcs__model_call_t *call = *call_p;
    if (!call)
        return;
    orcs__model_http_cancel(self, call);
    s_unqueue(call);
    if (call->timer_id)
        orcs_actor_timer_cancel(self->actor, call->timer_id);
    orcs__model_session_t *session =
        zhashx_lookup(self->sessions, call->session_id);
    if (session && session->pending == call)
        session->pending = NULL;
    s_unlink(self, call);
    self->in_flight--;
    orcs_reply_to_destroy(&call->reply_to);
    json_decref(call->messages);
    json_decref(call->tools);
    json_decref(call->options);
    json_decref(call->delayed);
    orcs__model_route_release(&call->route);
    free(call->body);
    free(call->session_id);
    free(call->run);
    free(call->history);
    free(call);
    *call_p = NULL;
}

// The messages of the request (the history when the call started).
// Returns a new reference: the history itself, or a shallow slice when
// the array grew since.
static json_t *
s_messages(const orcs__model_call_t *call)
{
    if (json_array_size(call->messages) == call->count)
        return json_incref(call->messages);
    json_t *slice = json_array();
    for (size_t i = 0; i < call->count; i++)
        json_array_append(slice, json_array_get(call->messages, i));
    return slice;
}

// Whether event is to be published for call: its provider publishes and
// someone listens (else its body is not even built).
static bool
s_events(orcs__model_t *self, const orcs__model_call_t *call, const char *event)
{
    return call->route->targets[call->target].provider->events
           && orcs_actor_run_heard(self->actor, call->run, event);
}

static const char *
s_model_name(const orcs__model_call_t *call)
{
    const orcs__model_target_t *target = &call->route->targets[call->target];
    return target->model             ? target->model
           : target->provider->model ? target->provider->model
                                     : "";
}

static bool
s_wants_stream(const orcs__model_call_t *call)
{
    if (call->stream >= 0)
        return call->stream == 1;
    return call->route->targets[call->target].provider->stream;
}

// Writes the body from the session's written history: only the messages
// added since the last turn are written out. False when it cannot (the
// call's history is no longer the session's, or a message has no JSON).
static bool
s_build_body_sent(orcs__model_t *self, orcs__model_call_t *call)
{
    orcs__model_session_t *session =
        zhashx_lookup(self->sessions, call->session_id);
    if (!session || session->messages != call->messages
        || session->tools != call->tools || (call->tools && !session->shared)
        || !orcs__model_session_encode(session, call->count))
        return false;
    // The rest of the request ("model", options, "stream"): the same for
    // every turn on one target, so written once.
    if (!session->rest || session->rest_target != call->target
        || session->rest_stream != call->body_stream) {
        json_t *request =
            orcs__openai_request(s_model_name(call), NULL, call->tools,
                                 call->options, call->body_stream);
        json_object_del(request, "messages");
        json_object_del(request, "tools");
        char *rest = json_dumps(request, JSON_COMPACT); // "{...}"
        json_decref(request);
        if (!rest)
            return false;
        size_t rest_len = strlen(rest);
        memmove(rest, rest + 1, rest_len - 2); // drop the braces
        rest[rest_len - 2] = '\0';
        free(session->rest);
        session->rest = rest;
        session->rest_target = call->target;
        session->rest_stream = call->body_stream;
    }
    const char *tools_text = call->tools ? session->shared->text : "";
    size_t tools_len = strlen(tools_text);
    size_t rest_len = strlen(session->rest);
    size_t size = 14 + session->sent_len + 1 + (tools_len ? 9 + tools_len : 0)
                  + 1 + rest_len + 2;
    char *body = orcs_malloc(size);
    int n = snprintf(body, size, "{\"messages\":[%s]%s%s%s%s}",
                     session->sent ? session->sent : "",
                     tools_len ? ",\"tools\":" : "", tools_text,
                     rest_len ? "," : "", session->rest);
    orcs_assert(n > 0 && (size_t) n < size);
    call->body = body;
    call->body_size = (size_t) n;
    return true;
}

// Builds the request body for the current target.
static orcs_status
s_build_body(orcs__model_t *self,
             orcs__model_call_t *call,
             char *err,
             size_t err_size)
{
    free(call->body);
    call->body = NULL;
    call->body_stream = s_wants_stream(call);
    if (s_build_body_sent(self, call))
        return ORCS_OK;
    json_t *messages = s_messages(call);
    json_t *request =
        orcs__openai_request(s_model_name(call), messages, call->tools,
                             call->options, call->body_stream);
    json_decref(messages);
    call->body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    if (!call->body) {
        snprintf(err, err_size, "the history cannot be written as JSON");
        return ORCS_EINVAL;
    }
    call->body_size = strlen(call->body);
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Success

static json_int_t
s_usage_int(const json_t *usage, const char *key)
{
    json_t *value = json_object_get(usage, key);
    return json_is_integer(value) && json_integer_value(value) > 0
               ? json_integer_value(value)
               : 0;
}

// Appends the answer to the session, writes the record line, sums the run.
static void
s_account(orcs__model_t *self,
          orcs__model_call_t *call,
          json_t *answer,
          json_int_t prompt,
          json_int_t completion,
          json_int_t cached,
          double cost)
{
    orcs__model_session_t *session =
        zhashx_lookup(self->sessions, call->session_id);
    if (session && session->messages == call->messages) {
        json_array_append(session->messages,
                          json_object_get(answer, "message"));
        session->turns++;
    }
    orcs__model_run_t *run = orcs__model_run(self, call->run, true);
    if (run) {
        run->prompt_tokens += prompt;
        run->completion_tokens += completion;
        run->cached_tokens += cached;
        run->cost += cost;
        run->requests++;
    }
    orcs__model_provider_t *provider =
        call->route->targets[call->target].provider;
    if (provider->record_fd < 0)
        return;
    json_t *messages = s_messages(call);
    json_t *line = orcs__cassette_record_line(messages, answer);
    json_decref(messages);
    if (call->body_stream)
        json_object_set_new(json_object_get(line, "response"), "stream",
                            json_true());
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        size_t size = strlen(text);
        text[size] = '\n'; // replaces the NUL: one write, one line
        ssize_t n = write(provider->record_fd, text, size + 1);
        if (n != (ssize_t) size + 1)
            orcs_log_warn("model", "record write failed provider=%s errno=%d",
                          provider->name, errno);
    }
    free(text);
}

static orcs_status
s_succeed(orcs__model_t *self, orcs__model_call_t *call, json_t *answer)
{
    orcs__model_provider_t *provider =
        call->route->targets[call->target].provider;
    json_t *usage = json_object_get(answer, "usage");
    json_int_t prompt = s_usage_int(usage, "prompt_tokens");
    json_int_t completion = s_usage_int(usage, "completion_tokens");
    json_int_t cached = s_usage_int(usage, "cached_tokens");
    double cost = orcs__model_cost(provider, prompt, completion, cached);
    s_account(self, call, answer, prompt, completion, cached, cost);
    json_int_t ms = (orcs_clock_mono_us() - call->start_us) / 1000;
    json_t *model = json_object_get(answer, "model");
    json_t *message = json_object_get(answer, "message");
    json_t *finish = json_object_get(answer, "finish_reason");
    json_t *body = NULL;
    if (json_is_object(message)) {
        // Built by hand, not with json_pack: this runs once per turn.
        body = json_object();
        json_object_set_new_nocheck(body, "message", json_incref(message));
        json_object_set_new_nocheck(body, "finish_reason",
                                    finish ? json_incref(finish) : json_null());
        json_t *sums = json_object();
        json_object_set_new_nocheck(sums, "prompt_tokens",
                                    json_integer(prompt));
        json_object_set_new_nocheck(sums, "completion_tokens",
                                    json_integer(completion));
        json_object_set_new_nocheck(sums, "cached_tokens",
                                    json_integer(cached));
        json_object_set_new_nocheck(body, "usage", sums);
        json_object_set_new_nocheck(body, "cost", json_real(cost));
        json_object_set_new_nocheck(body, "model",
                                    json_is_string(model)
                                        ? json_incref(model)
                                        : json_string(s_model_name(call)));
        json_object_set_new_nocheck(body, "provider",
                                    json_string(provider->name));
        json_object_set_new_nocheck(body, "attempts",
                                    json_integer(call->attempts));
        json_object_set_new_nocheck(body, "ms", json_integer(ms));
    }
    if (!body) { // an answer without a message
        orcs_status rc = orcs__model_reply_to_error(
            self, call->reply_to, ORCS_EPROTO, "the answer has a bad shape",
            call->attempts);
        orcs__model_call_destroy(self, &call);
        return rc;
    }
    if (s_events(self, call, "model.finished"))
        orcs__model_publish(
            self, call->run, "model.finished",
            json_pack("{s:s, s:I, s:{s:I, s:I, s:I}, s:f, s:I, s:i}", "session",
                      call->session_id, "step", call->step, "usage",
                      "prompt_tokens", prompt, "completion_tokens", completion,
                      "cached_tokens", cached, "cost", cost, "ms", ms,
                      "attempts", call->attempts));
    orcs__model_session_t *session =
        zhashx_lookup(self->sessions, call->session_id);
    if (session)
        session->used_us = orcs_clock_mono_us();
    orcs_status rc = orcs__model_reply_to(self, call->reply_to, ORCS_OK, body);
    orcs__model_call_destroy(self, &call);
    return rc;
}

// ---------------------------------------------------------------------------
// Failure

// Takes the messages this call appended back out of the session, so the
// agent can send them again with its next try.
static void
s_roll_back(orcs__model_t *self, orcs__model_call_t *call)
{
    orcs__model_session_t *session =
        zhashx_lookup(self->sessions, call->session_id);
    if (!session || session->messages != call->messages
        || json_array_size(call->messages) != call->count)
        return;
    for (size_t i = 0; i < call->appended; i++)
        json_array_remove(call->messages, call->count - 1 - i);
    if (call->appended)
        orcs__model_session_unsent(session);
}

static orcs_status
s_fail(orcs__model_t *self,
       orcs__model_call_t *call,
       const orcs__model_result_t *result)
{
    char text[ORCS__MODEL_ERROR_MAX * 2];
    orcs__model_target_t *target = &call->route->targets[call->target];
    int n =
        snprintf(text, sizeof text, "%s (%d attempt%s on %s/%s", result->error,
                 call->attempt, call->attempt == 1 ? "" : "s",
                 target->provider->name, s_model_name(call));
    if (n > 0 && (size_t) n < sizeof text)
        snprintf(text + n, sizeof text - (size_t) n, "%s%s)",
                 call->history ? "; before: " : "",
                 call->history ? call->history : "");
    orcs_log_info("model", "call failed session=%s status=%s attempts=%d",
                  call->session_id, orcs_status_name(result->status),
                  call->attempts);
    if (s_events(self, call, "model.failed"))
        orcs__model_publish(self, call->run, "model.failed",
                            json_pack("{s:s, s:I, s:s, s:s, s:i}", "session",
                                      call->session_id, "step", call->step,
                                      "status",
                                      orcs_status_name(result->status), "error",
                                      text, "attempts", call->attempts));
    s_roll_back(self, call);
    orcs_status rc = orcs__model_reply_to_error(
        self, call->reply_to, result->status, text, call->attempts);
    orcs__model_call_destroy(self, &call);
    return rc;
}

// ---------------------------------------------------------------------------
// Attempts

static uint64_t
s_random(orcs__model_t *self)
{
    uint64_t x = self->rng; // xorshift64*
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * UINT64_C(2685821657736338717);
}

// Full jitter: uniform in [0, min(max, base * 2^(attempt-1))], at least
// the server's Retry-After (both capped at backoff_max_ms).
static int
s_backoff_ms(orcs__model_t *self,
             const orcs__model_provider_t *provider,
             int attempt,
             int retry_after_ms)
{
    int64_t ceiling = provider->backoff_ms;
    for (int i = 1; i < attempt && ceiling < provider->backoff_max_ms; i++)
        ceiling *= 2;
    if (ceiling > provider->backoff_max_ms)
        ceiling = provider->backoff_max_ms;
    int64_t wait =
        ceiling > 0 ? (int64_t) (s_random(self) % (uint64_t) (ceiling + 1)) : 0;
    if (retry_after_ms > wait)
        wait = retry_after_ms;
    if (wait > provider->backoff_max_ms)
        wait = provider->backoff_max_ms;
    return (int) wait;
}

static orcs_status s_attempt(orcs__model_t *self, orcs__model_call_t *call);

// Replay: the cassette's answer, through the SSE path when it says
// stream. Returns the result to deliver now, or delays it.
static void
s_replay(orcs__model_t *self,
         orcs__model_call_t *call,
         orcs__model_result_t *result,
         int *delay_ms_p)
{
    orcs__model_provider_t *provider =
        call->route->targets[call->target].provider;
    json_t *messages = s_messages(call);
    bool stream = false;
    json_t *answer = NULL;
    char why[ORCS__MODEL_ERROR_MAX - 16];
    result->status = orcs__cassette_match(provider->cassette, messages, &answer,
                                          &stream, delay_ms_p, why, sizeof why);
    json_decref(messages);
    if (result->status != ORCS_OK) {
        result->status = ORCS_EREMOTE; // ENOTFOUND would mean "resync"
        snprintf(result->error, sizeof result->error, "replay: %s", why);
        return;
    }
    (void) self;
    if (stream) { // the bytes a server would send, through the parsers
        size_t size = 0;
        char *bytes = orcs__openai_render_stream(answer, &size);
        json_decref(answer);
        answer = NULL;
        result->status = orcs__openai_parse_stream(
            bytes, size, &answer, result->error, sizeof result->error);
        free(bytes);
    }
    result->answer = answer;
}

// Starts the HTTP attempt now or queues it for the provider's bucket.
static orcs_status
s_rate_or_start(orcs__model_t *self, orcs__model_call_t *call)
{
    orcs__model_provider_t *provider =
        call->route->targets[call->target].provider;
    if (provider->rpm > 0) {
        int64_t now = orcs_clock_mono_us();
        provider->tokens +=
            (double) (now - provider->refill_us) * provider->rpm / 60e6;
        if (provider->tokens > provider->burst)
            provider->tokens = provider->burst;
        provider->refill_us = now;
        if (provider->tokens < 1 || provider->wait_head) {
            self->rate_limited++;
            call->waiting = true;
            call->wait_next = NULL;
            if (provider->wait_tail)
                provider->wait_tail->wait_next = call;
            else
                provider->wait_head = call;
            provider->wait_tail = call;
            if (!provider->wait_timer) {
                double need = 1 - provider->tokens;
                int ms = (int) (need * 60e3 / provider->rpm) + 1;
                orcs_actor_timer_start(self->actor, ms < 1 ? 1 : ms, 0,
                                       provider, &provider->wait_timer);
            }
            return ORCS_OK;
        }
        provider->tokens -= 1;
    }
    self->attempts++;
    if (orcs__model_http_start(self, call) != ORCS_OK) {
        orcs__model_result_t result = {.status = ORCS_EIO,
                                       .retry_after_ms = -1};
        snprintf(result.error, sizeof result.error,
                 "cannot start an HTTP transfer");
        return orcs__model_call_done(self, call, &result);
    }
    return ORCS_OK;
}

// One attempt on the current target.
static orcs_status
s_attempt(orcs__model_t *self, orcs__model_call_t *call)
{
    orcs__model_provider_t *provider =
        call->route->targets[call->target].provider;
    call->attempt++;
    call->attempts++;
    orcs__model_result_t result = {.status = ORCS_OK, .retry_after_ms = -1};
    if (provider->kind == ORCS__MODEL_FAKE) {
        self->attempts++;
        json_t *message = NULL;
        const char *finish = NULL;
        orcs__model_fake_message(provider, call->turn, &message, &finish);
        result.answer = json_pack(
            "{s:o, s:s, s:{s:i, s:i, s:i, s:i}}", "message", message,
            "finish_reason", finish, "usage", "prompt_tokens", 10,
            "completion_tokens", 5, "cached_tokens", 0, "total_tokens", 15);
    } else if (provider->kind == ORCS__MODEL_REPLAY) {
        self->attempts++;
        int delay_ms = 0;
        s_replay(self, call, &result, &delay_ms);
        if (result.status == ORCS_OK && delay_ms > 0) {
            call->delayed = result.answer;
            return orcs_actor_timer_start(self->actor, delay_ms, 0, call,
                                          &call->timer_id);
        }
    } else if (provider->key_error[0]) {
        result.status = ORCS_ECONFIG;
        snprintf(result.error, sizeof result.error, "%s", provider->key_error);
    } else {
        if (!call->body)
            result.status =
                s_build_body(self, call, result.error, sizeof result.error);
        if (result.status == ORCS_OK)
            return s_rate_or_start(self, call);
    }
    orcs_status rc = orcs__model_call_done(self, call, &result);
    json_decref(result.answer);
    return rc;
}

orcs_status
orcs__model_call_done(orcs__model_t *self,
                      orcs__model_call_t *call,
                      orcs__model_result_t *result)
{
    if (result->status == ORCS_OK) {
        json_t *answer = result->answer;
        result->answer = NULL;
        orcs_status rc = s_succeed(self, call, answer);
        json_decref(answer);
        return rc;
    }
    orcs__model_target_t *target = &call->route->targets[call->target];
    orcs__model_provider_t *provider = target->provider;
    orcs_log_debug("model", "attempt failed provider=%s status=%s attempt=%d",
                   provider->name, orcs_status_name(result->status),
                   call->attempt);
    if (result->retryable && call->attempt <= provider->retries) {
        int wait_ms =
            s_backoff_ms(self, provider, call->attempt, result->retry_after_ms);
        self->retries++;
        if (s_events(self, call, "model.retry"))
            orcs__model_publish(self, call->run, "model.retry",
                                json_pack("{s:s, s:I, s:i, s:s, s:i}",
                                          "session", call->session_id, "step",
                                          call->step, "attempt",
                                          call->attempts + 1, "error",
                                          result->error, "wait_ms", wait_ms));
        return orcs_actor_timer_start(self->actor, wait_ms, 0, call,
                                      &call->timer_id);
    }
    if (call->target + 1 >= call->route->count)
        return s_fail(self, call, result);
    // Next target: remember why this one failed.
    char history[ORCS__MODEL_ERROR_MAX];
    snprintf(history, sizeof history, "%s%s%s/%s: %.160s x%d",
             call->history ? call->history : "", call->history ? "; " : "",
             provider->name, s_model_name(call), result->error, call->attempt);
    free(call->history);
    call->history = orcs_strdup(history);
    self->fallbacks++;
    call->target++;
    call->attempt = 0;
    free(call->body);
    call->body = NULL;
    return s_attempt(self, call);
}

orcs_status
orcs__model_call_on_timer(orcs__model_t *self,
                          orcs__model_call_t *call,
                          uint64_t timer_id)
{
    if (call->timer_id != timer_id)
        return ORCS_OK;
    call->timer_id = 0;
    if (call->http)
        return orcs__model_http_on_idle(self, call);
    if (call->delayed) { // replay's delay_ms is over
        orcs__model_result_t result = {
            .status = ORCS_OK, .answer = call->delayed, .retry_after_ms = -1};
        call->delayed = NULL;
        orcs_status rc = orcs__model_call_done(self, call, &result);
        json_decref(result.answer);
        return rc;
    }
    return s_attempt(self, call);
}

orcs_status
orcs__model_provider_on_timer(orcs__model_t *self,
                              orcs__model_provider_t *provider,
                              uint64_t timer_id)
{
    if (provider->wait_timer != timer_id)
        return ORCS_OK;
    provider->wait_timer = 0;
    int64_t now = orcs_clock_mono_us();
    provider->tokens +=
        (double) (now - provider->refill_us) * provider->rpm / 60e6;
    if (provider->tokens > provider->burst)
        provider->tokens = provider->burst;
    provider->refill_us = now;
    while (provider->wait_head && provider->tokens >= 1) {
        orcs__model_call_t *call = provider->wait_head;
        provider->wait_head = call->wait_next;
        if (!provider->wait_head)
            provider->wait_tail = NULL;
        call->wait_next = NULL;
        call->waiting = false;
        provider->tokens -= 1;
        self->attempts++;
        if (orcs__model_http_start(self, call) != ORCS_OK) {
            orcs__model_result_t result = {.status = ORCS_EIO,
                                           .retry_after_ms = -1};
            snprintf(result.error, sizeof result.error,
                     "cannot start an HTTP transfer");
            orcs__model_call_done(self, call, &result);
        }
    }
    if (provider->wait_head) {
        int ms = (int) ((1 - provider->tokens) * 60e3 / provider->rpm) + 1;
        orcs_actor_timer_start(self->actor, ms < 1 ? 1 : ms, 0, provider,
                               &provider->wait_timer);
    }
    return ORCS_OK;
}

orcs_status
orcs__model_call_start(orcs__model_t *self, orcs__model_call_t *call)
{
    call->tag = ORCS__MODEL_TAG_CALL;
    call->owner = self;
    call->start_us = orcs_clock_mono_us();
    call->next = self->calls;
    if (self->calls)
        self->calls->prev = call;
    self->calls = call;
    self->in_flight++;
    if (s_events(self, call, "model.started")) {
        orcs__model_target_t *target = &call->route->targets[0];
        orcs__model_publish(self, call->run, "model.started",
                            json_pack("{s:s, s:I, s:s, s:s}", "session",
                                      call->session_id, "step", call->step,
                                      "provider", target->provider->name,
                                      "model", s_model_name(call)));
    }
    return s_attempt(self, call);
}
