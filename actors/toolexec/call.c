/*  call.c — one tool call in the toolexec actor: lookup, validation,
    approval, cache, attempts with timeouts and retries, offload of large
    results, the reply and the run events.
    SPDX-License-Identifier: MPL-2.0

    A call holds a reference to the tool set it found its tool in, for
    its whole life: a reload that removes or changes the tool does not
    disturb it. An attempt runs a C function inline, or starts a child
    (exec) or a transfer (http) whose completion comes back through the
    actor's poll loop, with an actor timer as its deadline. A failed
    attempt is retried only when the tool is idempotent, after a backoff
    of 100 ms doubling per retry plus up to half of it again as jitter. */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "actors/toolexec/toolexec_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/node.h"
#include "orcs/schema.h"
#include "orcs/sys.h"

#define S_ERR_MAX       4096 // bytes of an error text
#define S_SUGGEST_MAX   3    // names in "did you mean"
#define S_HTTP_GRACE_MS 1000 // our deadline after curl's own

static void s_attempt(orcs__call_t *call);

// ---------------------------------------------------------------------------
// Life of a call

orcs__call_t *
orcs__call_new(orcs__toolexec_t *owner,
               orcs_msg_t **request_p,
               json_t *args,
               const char *tool,
               const char *run,
               json_int_t step,
               const char *call_id,
               const char *caller)
{
    orcs__call_t *call = orcs_calloc(1, sizeof *call);
    call->owner = owner;
    call->request = *request_p;
    *request_p = NULL;
    call->args = json_incref(args);
    call->tool_name = orcs_strdup(tool);
    call->run = orcs_strdup(run);
    call->call_id = orcs_strdup(call_id);
    call->caller = orcs_strdup(caller ? caller : "");
    call->step = step;
    size_t size = strlen(run) + strlen(call_id) + 32;
    call->key = orcs_malloc(size);
    snprintf(call->key, size, "%s/%lld/%s", run, (long long) step, call_id);
    call->received_us = orcs_clock_mono_us();
    return call;
}

void
orcs__call_destroy(orcs__call_t **call_p)
{
    orcs__call_t *call = *call_p;
    if (!call)
        return;
    *call_p = NULL;
    if (call->timer_id)
        orcs_actor_timer_cancel(call->owner->actor, call->timer_id);
    orcs__exec_destroy(&call->exec);
    orcs__http_req_destroy(&call->http);
    orcs_toolset_release(&call->set);
    orcs_msg_destroy(&call->request);
    json_decref(call->args);
    free(call->tool_name);
    free(call->run);
    free(call->call_id);
    free(call->caller);
    free(call->key);
    free(call);
}

// Replies with body (owned), publishes tool.finished, frees the call and
// lets the next queued call start.
static void
s_finish(orcs__call_t *call, json_t *body, bool ok, bool cached)
{
    orcs__toolexec_t *owner = call->owner;
    json_int_t ms =
        (json_int_t) ((orcs_clock_mono_us() - call->received_us) / 1000);
    json_object_set_new(body, "attempts", json_integer(call->attempts));
    json_object_set_new(body, "ms", json_integer(ms));
    if (orcs_actor_run_heard(owner->actor, call->run, "tool.finished"))
        orcs__toolexec_event(
            owner, call->run, "tool.finished",
            json_pack("{s:s, s:s, s:b, s:I, s:b, s:i}", "call_id",
                      call->call_id, "tool", call->tool_name, "ok", ok, "ms",
                      ms, "cached", cached, "attempts", call->attempts));
    orcs_msg_t *reply = orcs_msg_new(orcs_msg_type(call->request));
    orcs_msg_set_body(reply, &body);
    orcs_status rc = orcs_actor_reply(owner->actor, call->request, &reply);
    if (rc != ORCS_OK) // an asker that went away is not our failure
        orcs_log_debug("toolexec", "reply dropped tool=%s status=%s",
                       call->tool_name, orcs_status_name(rc));
    orcs_msg_destroy(&reply);
    orcs__toolexec_release(owner, call);
    orcs__call_destroy(&call);
}

// Replaces every byte that does not start a valid UTF-8 character (as
// jansson checks it: no overlong forms, surrogates or values over
// U+10FFFF) with '?': errors quote stderr and response bodies.
static void
s_clean_utf8(char *text)
{
    unsigned char *p = (unsigned char *) text;
    while (*p) {
        size_t n = *p < 0x80                  ? 1
                   : *p >= 0xC2 && *p <= 0xDF ? 2
                   : *p >= 0xE0 && *p <= 0xEF ? 3
                   : *p >= 0xF0 && *p <= 0xF4 ? 4
                                              : 0;
        uint32_t cp = n == 2 ? *p & 0x1F : n == 3 ? *p & 0x0F : *p & 0x07;
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                n = 0;
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
            n = 0;
        if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))
            n = 0;
        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

void
orcs__call_fail(orcs__call_t *call, const char *reason, const char *error)
{
    char text[S_ERR_MAX];
    snprintf(text, sizeof text, "%s", error);
    s_clean_utf8(text);
    error = text;
    orcs__toolexec_stats_t *stats = &call->owner->stats;
    if (strcmp(reason, "validation") == 0)
        stats->validation++;
    else if (strcmp(reason, "unknown_tool") == 0)
        stats->unknown++;
    else if (strcmp(reason, "timeout") == 0)
        stats->timeouts++;
    else if (strcmp(reason, "denied") == 0)
        stats->denied++;
    else if (strcmp(reason, "approval_required") == 0)
        stats->approval++;
    else
        stats->failures++;
    s_finish(
        call,
        json_pack("{s:b, s:s, s:s}", "ok", 0, "error", error, "reason", reason),
        false, false);
}

// The first preview bytes of text, cut at a UTF-8 character boundary.
static json_t *
s_preview(const char *text, size_t size, size_t preview)
{
    size_t n = size < preview ? size : preview;
    while (n > 0 && n < size && ((unsigned char) text[n] & 0xC0) == 0x80)
        n--;
    return json_stringn(text, n);
}

// Replaces a large result by a reference to an artifact holding it. The
// put waits for a durable commit on this thread: acceptable for now since
// only results over offload_bytes pay it (a later version hands the put
// to a worker). Returns ORCS_OK or the put's status (message in err).
static orcs_status
s_offload(orcs__call_t *call, json_t **result_p, char *err, size_t err_size)
{
    orcs__toolexec_t *owner = call->owner;
    if (owner->config.offload_bytes == 0 || !owner->artifacts)
        return ORCS_OK;
    char *text = orcs_doc_to_text(*result_p, JSON_COMPACT);
    size_t size = text ? strlen(text) : 0;
    if (!text || size <= owner->config.offload_bytes) {
        free(text);
        return ORCS_OK;
    }
    orcs_artifact_opts_t opts = {
        .media_type = "application/json",
        .run = call->run,
        .node = orcs_node_name(orcs_actor_node(owner->actor)),
        .actor = orcs_actor_name(owner->actor),
    };
    char id[ORCS_ARTIFACT_ID_SIZE];
    orcs_status rc =
        orcs_artifacts_put(owner->artifacts, text, size, &opts, id);
    if (rc == ORCS_OK) {
        json_decref(*result_p);
        *result_p =
            json_pack("{s:s, s:s, s:I, s:o}", "artifact", id, "media_type",
                      "application/json", "size", (json_int_t) size, "preview",
                      s_preview(text, size, owner->config.preview_bytes));
    } else {
        snprintf(err, err_size,
                 "result of %zu bytes could not be stored as an artifact: %s",
                 size, orcs_status_str(rc));
    }
    free(text);
    return rc;
}

// A successful attempt: output schema, offload, cache, reply.
static void
s_succeed(orcs__call_t *call, json_t *result)
{
    char err[S_ERR_MAX];
    const orcs_tool_t *tool = call->tool;
    if (!result)
        result = json_null();
    if (tool->output_schema) {
        char why[S_ERR_MAX - 128];
        if (orcs_schema_validate(tool->output_schema, result, why, sizeof why)
            != ORCS_OK) {
            json_decref(result);
            snprintf(err, sizeof err,
                     "result of %s does not match its "
                     "output_schema: %s",
                     tool->name, why);
            orcs__call_fail(call, "failed", err);
            return;
        }
    }
    if (s_offload(call, &result, err, sizeof err) != ORCS_OK) {
        json_decref(result);
        orcs__call_fail(call, "failed", err);
        return;
    }
    orcs__cache_put(call->owner, call, result, tool->cache_ttl_s);
    call->owner->stats.ok++;
    s_finish(
        call,
        json_pack("{s:b, s:o, s:b}", "ok", 1, "result", result, "cached", 0),
        true, false);
}

// Ends an attempt: success, a retry after a backoff, or the failure.
// Takes result (NULL on error).
static void
s_attempt_end(orcs__call_t *call,
              orcs_status rc,
              json_t *result,
              const char *err,
              bool retryable)
{
    orcs__toolexec_t *owner = call->owner;
    if (call->timer_id) {
        orcs_actor_timer_cancel(owner->actor, call->timer_id);
        call->timer_id = 0;
    }
    orcs__exec_destroy(&call->exec);
    orcs__http_req_destroy(&call->http);
    if (rc == ORCS_OK) {
        s_succeed(call, result);
        return;
    }
    json_decref(result);
    const orcs_tool_t *tool = call->tool;
    if (retryable && tool->idempotent && call->attempts <= tool->retries) {
        int shift = call->attempts - 1 < 10 ? call->attempts - 1 : 10;
        uint32_t delay = (uint32_t) ORCS_TOOLEXEC_BACKOFF_MS << shift;
        if (delay > ORCS_TOOLEXEC_BACKOFF_MAX)
            delay = ORCS_TOOLEXEC_BACKOFF_MAX;
        delay += randombytes_uniform(delay / 2 + 1);
        orcs_log_debug("toolexec",
                       "retrying tool=%s attempt=%d wait_ms=%u "
                       "error=%s",
                       tool->name, call->attempts, delay, err);
        call->in_backoff = true;
        if (orcs_actor_timer_start(owner->actor, (int) delay, 0, call,
                                   &call->timer_id)
            == ORCS_OK)
            return;
        call->in_backoff = false;
    }
    const char *reason = rc == ORCS_ETIMEDOUT ? "timeout"
                         : rc == ORCS_EDENIED ? "denied"
                                              : "failed";
    orcs__call_fail(call, reason, err);
}

// Arms the attempt's deadline.
static void
s_arm(orcs__call_t *call, int timeout_ms)
{
    if (orcs_actor_timer_start(call->owner->actor, timeout_ms, 0, call,
                               &call->timer_id)
        != ORCS_OK)
        call->timer_id = 0;
}

// ---------------------------------------------------------------------------
// C functions

static bool
s_retryable_status(orcs_status rc)
{
    return rc == ORCS_EAGAIN || rc == ORCS_EIO || rc == ORCS_ETIMEDOUT
           || rc == ORCS_ENET || rc == ORCS_EREMOTE || rc == ORCS_EFULL;
}

static void
s_run_fn(orcs__call_t *call)
{
    const orcs_tool_t *tool = call->tool;
    orcs_tool_ctx_t ctx = {
        .args = call->args,
        .tool = tool->name,
        .run = call->run,
        .caller = call->caller,
        .idempotency_key = call->key,
        .memory = call->owner->memory,
        .arg = tool->fn_arg,
    };
    json_t *result = NULL;
    char err[S_ERR_MAX] = "";
    orcs_status rc = tool->fn(&ctx, &result, err, sizeof err);
    if (rc == ORCS_OK) {
        s_attempt_end(call, ORCS_OK, result, NULL, false);
        return;
    }
    json_decref(result);
    if (!err[0])
        snprintf(err, sizeof err, "%s", orcs_status_str(rc));
    s_attempt_end(call, rc, NULL, err, s_retryable_status(rc));
}

// ---------------------------------------------------------------------------
// exec

// Stdout as the result: JSON when it is JSON, else the text without its
// trailing line breaks.
static json_t *
s_stdout_result(const char *out, size_t size)
{
    json_t *doc = size ? json_loadb(out, size, JSON_DECODE_ANY, NULL) : NULL;
    if (doc)
        return doc;
    while (size > 0 && (out[size - 1] == '\n' || out[size - 1] == '\r'))
        size--;
    return orcs__http_text(out, size);
}

static void
s_on_exec_done(orcs__exec_t *exec, void *arg)
{
    orcs__call_t *call = arg;
    char err[S_ERR_MAX];
    size_t out_size = 0, err_size = 0;
    const char *out = orcs__exec_stdout(exec, &out_size);
    const char *tail = orcs__exec_stderr(exec, &err_size);
    int code = 0, sig = orcs__exec_signal(exec);
    if (orcs__exec_output_over(exec)) {
        snprintf(err, sizeof err, "output over %zu bytes",
                 call->owner->config.max_output_bytes);
        s_attempt_end(call, ORCS_ETOOBIG, NULL, err, false);
    } else if (call->timed_out) {
        snprintf(err, sizeof err, "timed out after %d ms", call->timeout_ms);
        s_attempt_end(call, ORCS_ETIMEDOUT, NULL, err, true);
    } else if (orcs__exec_exited(exec, &code) && code == 0) {
        s_attempt_end(call, ORCS_OK, s_stdout_result(out, out_size), NULL,
                      false);
    } else if (sig == 0) {
        snprintf(err, sizeof err, "exit %d: %s", code, tail);
        s_attempt_end(call, ORCS_EFAILED, NULL, err, true);
    } else {
        const char *name = sigabbrev_np(sig);
        snprintf(err, sizeof err, "killed by SIG%s%s%s", name ? name : "?",
                 err_size ? ": " : "", tail);
        // Limits hit again on a retry.
        bool retryable = sig != SIGXCPU && sig != SIGXFSZ;
        s_attempt_end(call, ORCS_EFAILED, NULL, err, retryable);
    }
}

// Copies a JSON array of strings into a NULL-terminated vector (borrowed
// strings). Returns false when it is not one or is too long.
static bool
s_argv(const json_t *array, const char **argv, size_t max)
{
    size_t n = json_array_size(array);
    if (!json_is_array(array) || n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(argv[i] = json_string_value(json_array_get(array, i))))
            return false;
    argv[n] = NULL;
    return true;
}

// The manifest's cwd, relative to the manifest's directory.
static void
s_cwd(const orcs_tool_t *tool, const char *cwd, char *out, size_t size)
{
    if (cwd[0] == '/' || !tool->file) {
        snprintf(out, size, "%s", cwd);
        return;
    }
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s", tool->file);
    snprintf(out, size, "%s/%s", dirname(file), cwd);
}

// The child's extra environment: the idempotency key, then the
// manifest's entries. Returns the count; free each entry.
static size_t
s_exec_env(const orcs__call_t *call, const json_t *section, char **env)
{
    size_t envc = 0;
    size_t key_size = strlen(call->key) + 32;
    env[envc] = orcs_malloc(key_size);
    snprintf(env[envc++], key_size, "ORCS_IDEMPOTENCY_KEY=%s", call->key);
    const char *name;
    json_t *value;
    json_object_foreach(json_object_get(section, "env"), name, value)
    {
        if (envc >= ORCS_EXEC_ENV_MAX || !json_is_string(value) || !*name
            || strchr(name, '='))
            continue;
        size_t size = strlen(name) + json_string_length(value) + 2;
        env[envc] = orcs_malloc(size);
        snprintf(env[envc++], size, "%s=%s", name, json_string_value(value));
    }
    env[envc] = NULL;
    return envc;
}

// The child's stdin: the built-in's `stdin` argument, or the arguments as
// one JSON line (unless the manifest says stdin: none). Caller frees it.
static char *
s_exec_stdin(const orcs__call_t *call,
             const json_t *section,
             bool builtin,
             size_t *size_p)
{
    *size_p = 0;
    if (builtin) {
        const char *text =
            json_string_value(json_object_get(call->args, "stdin"));
        *size_p = text ? strlen(text) : 0;
        return orcs_strdup(text ? text : "");
    }
    const char *mode = json_string_value(json_object_get(section, "stdin"));
    if (mode && strcmp(mode, "none") == 0)
        return NULL;
    char *text = orcs_doc_to_text(call->args, JSON_COMPACT);
    size_t size = text ? strlen(text) : 0;
    char *input = orcs_malloc(size + 2);
    memcpy(input, text ? text : "", size);
    input[size++] = '\n'; // line-based tools read whole lines
    input[size] = 0;
    free(text);
    *size_p = size;
    return input;
}

// The attempt's deadline: the tool's, within the config's ceiling, and
// the built-in's timeout_ms argument when smaller.
static int
s_exec_timeout(const orcs__call_t *call, bool builtin)
{
    int timeout = call->timeout_ms;
    if (timeout > call->owner->config.exec_timeout_ms)
        timeout = call->owner->config.exec_timeout_ms;
    json_t *asked = builtin ? json_object_get(call->args, "timeout_ms") : NULL;
    if (json_is_integer(asked) && json_integer_value(asked) > 0
        && json_integer_value(asked) < timeout)
        timeout = (int) json_integer_value(asked);
    return timeout;
}

static void
s_run_exec(orcs__call_t *call, bool builtin)
{
    orcs__toolexec_t *owner = call->owner;
    const json_t *section = json_object_get(call->tool->manifest, "exec");
    const char *argv[ORCS_EXEC_ARGS_MAX + 1];
    char err[S_ERR_MAX];
    if (!owner->config.network && !owner->filter) {
        s_attempt_end(call, ORCS_EUNSUPPORTED, NULL,
                      "cannot build the network filter (seccomp); set "
                      "toolexec.exec.network: true to run exec tools "
                      "without it",
                      false);
        return;
    }
    if (!s_argv(json_object_get(builtin ? call->args : section, "command"),
                argv, ORCS_EXEC_ARGS_MAX + 1)) {
        snprintf(err, sizeof err, "command must be 1 to %u strings",
                 ORCS_EXEC_ARGS_MAX);
        s_attempt_end(call, ORCS_EINVAL, NULL, err, false);
        return;
    }
    char *env[ORCS_EXEC_ENV_MAX + 1];
    size_t envc = s_exec_env(call, section, env);
    size_t input_size = 0;
    char *input = s_exec_stdin(call, section, builtin, &input_size);
    char cwd[PATH_MAX];
    const char *cwd_text = json_string_value(json_object_get(section, "cwd"));
    if (cwd_text)
        s_cwd(call->tool, cwd_text, cwd, sizeof cwd);
    orcs__exec_opts_t opts = {
        .argv = argv,
        .env = (const char *const *) env,
        .cwd = cwd_text ? cwd : NULL,
        .stdin_data = input,
        .stdin_size = input_size,
        .cpu_s = owner->config.cpu_s,
        .memory_mb = owner->config.memory_mb,
        .processes = owner->config.processes,
        .files = owner->config.files,
        .max_output_bytes = owner->config.max_output_bytes,
        .filter = owner->config.network ? NULL : owner->filter,
    };
    call->timeout_ms = s_exec_timeout(call, builtin);
    orcs_status rc = orcs__exec_start(owner->actor, &opts, s_on_exec_done, call,
                                      &call->exec, err, sizeof err);
    for (size_t i = 0; i < envc; i++)
        free(env[i]);
    free(input);
    if (rc != ORCS_OK) {
        s_attempt_end(call, rc, NULL, err, rc == ORCS_EIO);
        return;
    }
    s_arm(call, call->timeout_ms);
}

// ---------------------------------------------------------------------------
// http

static void
s_on_http_done(orcs__http_req_t *req, void *arg)
{
    orcs__call_t *call = arg;
    json_t *result = NULL;
    bool retryable = false;
    char err[S_ERR_MAX];
    orcs_status rc =
        orcs__http_result(req, &result, &retryable, err, sizeof err);
    s_attempt_end(call, rc, result, err, retryable);
}

static void
s_run_http(orcs__call_t *call, bool builtin)
{
    orcs__toolexec_t *owner = call->owner;
    json_t *doc = NULL;
    char err[S_ERR_MAX];
    orcs_status rc =
        builtin ? orcs__http_from_args(call->args, &doc, err, sizeof err)
                : orcs__http_from_manifest(
                    json_object_get(call->tool->manifest, "http"), call->args,
                    &doc, err, sizeof err);
    int timeout = call->timeout_ms;
    if (timeout > owner->config.http_timeout_ms)
        timeout = owner->config.http_timeout_ms;
    json_t *asked = json_object_get(doc, "timeout_ms");
    if (json_is_integer(asked) && json_integer_value(asked) > 0
        && json_integer_value(asked) < timeout)
        timeout = (int) json_integer_value(asked);
    call->timeout_ms = timeout;
    if (rc == ORCS_OK)
        rc = orcs__http_start(owner->http, doc, call->key, timeout,
                              s_on_http_done, call, &call->http, err,
                              sizeof err);
    json_decref(doc);
    if (rc != ORCS_OK) {
        s_attempt_end(call, rc, NULL, err, false);
        return;
    }
    s_arm(call, timeout + S_HTTP_GRACE_MS);
}

// ---------------------------------------------------------------------------
// Attempts

static void
s_attempt(orcs__call_t *call)
{
    const orcs_tool_t *tool = call->tool;
    call->attempts++;
    if (call->attempts > 1)
        call->owner->stats.retries++;
    call->timed_out = false;
    call->timeout_ms = tool->timeout_ms > 0 ? tool->timeout_ms : 30000;
    const char *kind = tool->kind ? tool->kind : "";
    char err[256];
    if (tool->fn)
        s_run_fn(call);
    else if (strcmp(kind, "exec") == 0)
        s_run_exec(call, false);
    else if (strcmp(kind, "http") == 0)
        s_run_http(call, false);
    else if (strcmp(tool->name, "exec") == 0)
        s_run_exec(call, true);
    else if (strcmp(tool->name, "http.request") == 0)
        s_run_http(call, true);
    else if (strcmp(kind, "mcp") == 0)
        s_attempt_end(call, ORCS_EUNSUPPORTED, NULL,
                      "mcp tools are not supported yet", false);
    else {
        snprintf(err, sizeof err, "tool %.64s of kind %.32s cannot run here",
                 tool->name, kind);
        s_attempt_end(call, ORCS_EUNSUPPORTED, NULL, err, false);
    }
}

void
orcs__call_start(orcs__call_t *call)
{
    s_attempt(call);
}

void
orcs__call_on_timer(orcs__call_t *call, uint64_t timer_id)
{
    if (timer_id != call->timer_id)
        return;
    call->timer_id = 0;
    if (call->in_backoff) {
        call->in_backoff = false;
        s_attempt(call);
        return;
    }
    call->timed_out = true;
    if (call->exec) {
        orcs__exec_kill(call->exec); // its done callback ends the attempt
        return;
    }
    char err[64];
    snprintf(err, sizeof err, "timed out after %d ms", call->timeout_ms);
    s_attempt_end(call, ORCS_ETIMEDOUT, NULL, err, true);
}

// ---------------------------------------------------------------------------
// Before the first attempt

// Levenshtein distance of two short strings (capped at 64 bytes).
static size_t
s_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t above = row[j];
            size_t best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[m];
}

// "no tool 'x'", with the closest names: by spelling, else by meaning.
static void
s_unknown_text(const orcs_toolset_t *set,
               const char *name,
               char *out,
               size_t size)
{
    const char *best[S_SUGGEST_MAX] = {NULL};
    size_t best_distance[S_SUGGEST_MAX];
    size_t limit = strlen(name) / 3 > 2 ? strlen(name) / 3 : 2;
    for (size_t i = 0; i < orcs_toolset_count(set); i++) {
        const char *candidate = orcs_toolset_at(set, i)->name;
        size_t d = s_distance(name, candidate);
        if (d > limit)
            continue;
        for (size_t k = 0; k < S_SUGGEST_MAX; k++) {
            if (best[k] && best_distance[k] <= d)
                continue;
            for (size_t m = S_SUGGEST_MAX - 1; m > k; m--) {
                best[m] = best[m - 1];
                best_distance[m] = best_distance[m - 1];
            }
            best[k] = candidate;
            best_distance[k] = d;
            break;
        }
    }
    json_t *nearest = NULL;
    if (!best[0]
        && orcs_toolset_nearest(set, name, S_SUGGEST_MAX, &nearest) == ORCS_OK)
        for (size_t k = 0; k < json_array_size(nearest); k++)
            best[k] = json_string_value(
                json_object_get(json_array_get(nearest, k), "name"));
    int used = snprintf(out, size, "no tool '%.64s'", name);
    for (size_t k = 0;
         k < S_SUGGEST_MAX && best[k] && used > 0 && (size_t) used < size; k++)
        used += snprintf(out + used, size - (size_t) used, "%s%s",
                         k == 0 ? " (did you mean " : ", ", best[k]);
    if (best[0] && used > 0 && (size_t) used < size)
        snprintf(out + used, size - (size_t) used, "?)");
    json_decref(nearest);
}

void
orcs__call_begin(orcs__call_t *call)
{
    orcs__toolexec_t *owner = call->owner;
    char err[S_ERR_MAX];
    owner->stats.calls++;
    if (orcs_actor_run_heard(owner->actor, call->run, "tool.started"))
        orcs__toolexec_event(owner, call->run, "tool.started",
                             json_pack("{s:s, s:s, s:I}", "call_id",
                                       call->call_id, "tool", call->tool_name,
                                       "step", call->step));
    call->set = orcs_tools_acquire(owner->tools);
    call->tool = orcs_toolset_find(call->set, call->tool_name);
    if (!call->tool) {
        s_unknown_text(call->set, call->tool_name, err, sizeof err);
        orcs__call_fail(call, "unknown_tool", err);
        return;
    }
    const orcs_tool_t *tool = call->tool;
    char why[S_ERR_MAX - 128];
    if (orcs_schema_validate(tool->input_schema, call->args, why, sizeof why)
        != ORCS_OK) {
        snprintf(err, sizeof err, "invalid arguments for %s: %s", tool->name,
                 why);
        orcs__call_fail(call, "validation", err);
        return;
    }
    if (tool->needs_approval && !call->approved) {
        // The workflow engine holds such calls until a human approves and
        // then sends them with "approved": true; toolexec alone cannot
        // ask a human, so it refuses them.
        snprintf(err, sizeof err,
                 "%s needs a human's approval for each "
                 "call",
                 tool->name);
        orcs__call_fail(call, "approval_required", err);
        return;
    }
    if (tool->cache_ttl_s > 0 && orcs__cache_key(call) == ORCS_OK) {
        json_t *result = NULL;
        if (orcs__cache_get(owner, call, &result) == ORCS_OK) {
            owner->stats.hits++;
            owner->stats.ok++;
            s_finish(call,
                     json_pack("{s:b, s:o, s:b}", "ok", 1, "result", result,
                               "cached", 1),
                     true, true);
            return;
        }
        owner->stats.misses++;
    }
    orcs__toolexec_enqueue(owner, call);
}
