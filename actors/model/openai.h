/*  actors/model/openai.h — OpenAI chat completions: request bodies,
    answers (plain and streamed over SSE), errors, and replay cassettes.
    SPDX-License-Identifier: MPL-2.0

    Pure functions over bytes and documents, no I/O except the cassette
    file: the model actor drives them, the fuzz targets hammer them.
    PROTOCOLS.md lists the facts and the deviations servers show; all of
    those are accepted.

    The normalised answer every parser produces:
      {"message": {"role": "assistant", "content": string|null,
                   "tool_calls": [{"id", "type": "function",
                                   "function": {"name", "arguments"}}]},
       "finish_reason": string,
       "usage": {"prompt_tokens", "completion_tokens", "cached_tokens",
                 "total_tokens"} | null,
       "model": string|null}
    tool_calls is absent when there are none; arguments is the JSON
    *string* the server sent (not parsed here); finish_reason is
    "tool_calls" whenever there are tool calls (servers that say "stop"
    are corrected). A call without an id gets "call_<index>". */
#ifndef ORCS_ACTORS_MODEL_OPENAI_H_INCLUDED
#define ORCS_ACTORS_MODEL_OPENAI_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/status.h"

#define ORCS_OPENAI_BODY_MAX   (64u << 20) // bytes of one answer
#define ORCS_OPENAI_EVENT_MAX  (4u << 20)  // bytes of one SSE event
#define ORCS_OPENAI_CALLS_MAX  128u        // tool calls in one answer
#define ORCS_CASSETTE_LINE_MAX (16u << 20) // bytes of one cassette line

// ---- requests and answers

// Builds a request body: {"model", "messages", "tools"?, "tool_choice"?,
// "stream", "stream_options": {"include_usage": true} when streaming}
// plus every member of options (temperature, max_tokens, tool_choice,
// response_format, parallel_tool_calls...) as they are. messages, tools
// (NULL or empty = none) and the values of options are borrowed and the
// result holds references to them, not copies: write it out and drop it;
// changing it would change them. Caller owns the result.
json_t *orcs__openai_request(const char *model,
                             const json_t *messages,
                             const json_t *tools,
                             const json_t *options,
                             bool stream);

// Parses a non-streamed answer (size bytes of JSON) into the normalised
// answer. Returns ORCS_OK; ORCS_EPROTO for bad JSON or a wrong shape (no
// choices, no message, tool calls that are not objects, arguments not a
// string or object...), with what is wrong in err; ORCS_ETOOBIG over
// ORCS_OPENAI_BODY_MAX or ORCS_OPENAI_CALLS_MAX. An answer that is an
// error object ({"error": {...}}) is ORCS_EREMOTE with its message.
orcs_status orcs__openai_parse(const char *body,
                               size_t size,
                               json_t **answer_p,
                               char *err,
                               size_t err_size);

// Writes a one-line description of a failed HTTP answer into out:
// "HTTP 429: Rate limit reached (type=requests, code=rate_limit)", using
// the {"error": {"message", "type", "code"}} body when there is one, else
// the first 200 printable bytes of the body.
void orcs__openai_error_text(long http_status,
                             const char *body,
                             size_t size,
                             char *out,
                             size_t out_size);

// Normalises an assistant message ({"content": string|text parts|null,
// "tool_calls": OpenAI-shaped or {"name", "arguments": object|string,
// "id"?}, or a legacy "function_call"}) with its finish_reason (NULL =
// "stop"), usage (server-shaped or normalised; NULL = none) and model
// (NULL = none), all borrowed, into the normalised answer. Returns ORCS_OK;
// ORCS_EPROTO for a wrong shape (message in err); ORCS_ETOOBIG over
// ORCS_OPENAI_CALLS_MAX. Caller owns *answer_p.
orcs_status orcs__openai_answer(const json_t *message,
                                const char *finish_reason,
                                const json_t *usage,
                                const char *model,
                                json_t **answer_p,
                                char *err,
                                size_t err_size);

// ---- server-sent events

typedef struct orcs__sse_t orcs__sse_t;

// Called for each complete event: its `event` field ("" when none) and
// its data (several data lines joined with '\n', NUL-terminated, size
// bytes). A non-OK return stops the feed and is returned by it.
typedef orcs_status(orcs__sse_event_fn)(void *arg,
                                        const char *event,
                                        const char *data,
                                        size_t size);

// Creates a parser that refuses events over max_event bytes (0 =
// ORCS_OPENAI_EVENT_MAX). Caller owns it.
orcs__sse_t *orcs__sse_new(size_t max_event);
void orcs__sse_destroy(orcs__sse_t **self_p);

// Feeds size bytes (any split: a line or a "\r\n" may straddle calls).
// Handles \n, \r\n and \r line ends, comment lines (": keep-alive"),
// fields data/event/id/retry (others ignored), "field:value" with and
// without the space. Returns ORCS_OK, ORCS_ETOOBIG (event too big), or
// what fn returned.
orcs_status orcs__sse_feed(orcs__sse_t *self,
                           const char *bytes,
                           size_t size,
                           orcs__sse_event_fn *fn,
                           void *arg);

// Ends the body: a last line without its line end is taken as whole, and
// an event still waiting for its blank line is dispatched. Returns as
// orcs__sse_feed. (Use it when the whole body arrived, not when the
// connection broke.)
orcs_status orcs__sse_end(orcs__sse_t *self, orcs__sse_event_fn *fn, void *arg);

// ---- streamed answers

typedef struct orcs__chat_stream_t orcs__chat_stream_t;

orcs__chat_stream_t *orcs__chat_stream_new(void);
void orcs__chat_stream_destroy(orcs__chat_stream_t **self_p);

// Takes one SSE data payload: a chat.completion.chunk, or "[DONE]".
// Accumulates content and tool-call fragments by index (a fragment without
// index continues the last call when it has no id or the same id, else
// starts a new one; a whole call in one fragment is fine), takes usage
// from any chunk that has it (also one with "choices": [] or null), and
// the last finish_reason. An {"error": ...} chunk is ORCS_EREMOTE.
// Returns ORCS_OK, ORCS_EPROTO (bad JSON or shape, message in err),
// ORCS_ETOOBIG.
orcs_status orcs__chat_stream_data(orcs__chat_stream_t *self,
                                   const char *data,
                                   size_t size,
                                   char *err,
                                   size_t err_size);

// True once "[DONE]" was seen.
bool orcs__chat_stream_done(const orcs__chat_stream_t *self);

// Ends the stream and gives the normalised answer. A stream cut before
// both a finish_reason and "[DONE]" is ORCS_EPROTO ("stream ended early
// after N chunks"); a stream with a finish_reason but no [DONE] is
// accepted. Caller owns *answer_p.
orcs_status orcs__chat_stream_finish(orcs__chat_stream_t *self,
                                     json_t **answer_p,
                                     char *err,
                                     size_t err_size);

// Parses a whole SSE body (SSE parser + stream accumulator, then
// orcs__sse_end). `event: error` events are ORCS_EREMOTE, `event: ping`
// is skipped, and a body that is one JSON object (a server that ignored
// "stream": true) goes to orcs__openai_parse. Statuses as above.
orcs_status orcs__openai_parse_stream(const char *body,
                                      size_t size,
                                      json_t **answer_p,
                                      char *err,
                                      size_t err_size);

// Renders a normalised answer as the SSE body a server would stream
// (role chunk, content in pieces, tool-call fragments by index, a
// finish_reason chunk, a usage chunk with "choices": [], "[DONE]").
// Caller owns the result (free()); sets *size_p.
char *orcs__openai_render_stream(const json_t *answer, size_t *size_p);

// ---- replay cassettes (FORMATS.md "Replay cassette")
//
// One exchange per line: {"match": {...}, "response": {...}}. Blank lines
// and lines starting with '#' are skipped. match keys (all must hold; {}
// matches anything):
//   contains: TEXT    some user or system message contains TEXT
//   after_tool: NAME  the last message is the result of a call of tool
//                     NAME (registry or wire name) made by the assistant
//                     message before it
//   turn: N           this is the N-th model call of the conversation
//                     (1 + the number of assistant messages sent)
// response: an assistant message ({"content", "tool_calls"}, tool calls
// either OpenAI-shaped or {"name", "arguments": object|string, "id"?})
// plus optional usage, stream (true: served through the SSE path),
// delay_ms, finish_reason. Matching is stateless: the first line whose
// match holds wins, so concurrent conversations replay independently.

typedef struct orcs__cassette_t orcs__cassette_t;

// Loads and checks a cassette. On error writes "path:line: what is wrong"
// into err. Returns ORCS_OK, ORCS_ENOTFOUND, ORCS_EIO, ORCS_EPROTO,
// ORCS_ETOOBIG.
orcs_status orcs__cassette_load(const char *path,
                                orcs__cassette_t **self_p,
                                char *err,
                                size_t err_size);
void orcs__cassette_destroy(orcs__cassette_t **self_p);
size_t orcs__cassette_size(const orcs__cassette_t *self);

// Finds the exchange for a conversation (the messages of the request,
// borrowed). Sets *answer_p to the normalised answer (caller owns),
// *stream_p and *delay_ms_p from the line. Returns ORCS_OK or
// ORCS_ENOTFOUND with "no exchange in PATH matches turn N (last user
// message: "...")" in err.
orcs_status orcs__cassette_match(const orcs__cassette_t *self,
                                 const json_t *messages,
                                 json_t **answer_p,
                                 bool *stream_p,
                                 int *delay_ms_p,
                                 char *err,
                                 size_t err_size);

// Like orcs__cassette_match, but lends the exchange's answer (it lives as
// long as the cassette; do not change it) and sets *index_p (when not
// NULL) to the exchange's place among the cassette's exchanges (0 for the
// first; blank and comment lines do not count), so that a caller can keep
// what it derives from an answer.
orcs_status orcs__cassette_find(const orcs__cassette_t *self,
                                const json_t *messages,
                                const json_t **answer_p,
                                size_t *index_p,
                                bool *stream_p,
                                int *delay_ms_p,
                                char *err,
                                size_t err_size);

// The cassette line that replays answer for messages in record mode:
// {"match": {"turn": N, "contains": first user message (up to 200
// bytes)}, "response": {...}}. Caller owns the result.
json_t *orcs__cassette_record_line(const json_t *messages,
                                   const json_t *answer);

#endif
