/*  flow_node.c — one node of a workflow file: its keys by kind, defaults,
    needs, routes, and its templates and conditions compiled
    (docs/workflows.md "The workflow file").
    SPDX-License-Identifier: MPL-2.0

    Defaults are written into the node's document, except `idempotent`,
    which is derived (from the kind, an http method or a tool manifest) so
    that a reloaded document derives it again the same way. A null value
    counts as absent. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "orcs/agent.h"
#include "orcs/sys.h"
#include "tools/tools_internal.h"
#include "workflow/flow_internal.h"

#define S_RETRIES_MAX   100
#define S_BACKOFF_MAX   86400000 // one day, in ms
#define S_ITEMS_MAX     100000   // map concurrency, loop iterations
#define S_TIMEOUT_S_MAX (10LL * 366 * 24 * 3600)
#define S_KINDS \
    "agent, prompt, tool, http, branch, join, map, loop, approval, end"
#define S_BODY_KINDS     "agent, prompt, tool or http"
#define S_METHODS_LISTED "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"

static const char *const s_common[] = {"kind",
                                       "needs",
                                       "retries",
                                       "backoff_ms",
                                       "backoff_max_ms",
                                       "timeout_ms",
                                       "on_error",
                                       "idempotent",
                                       "on_indeterminate",
                                       "description",
                                       NULL};
static const char *const s_kinds[ORCS_WF_KIND_COUNT] = {
    "agent", "prompt", "tool", "http",     "branch",
    "join",  "map",    "loop", "approval", "end"};
// Keys of each kind, besides the common ones.
static const char *const s_kind_keys[ORCS_WF_KIND_COUNT][5] = {
    {"agent", "input", "thread", NULL},
    {"prompt", "system", "model", "json", NULL},
    {"tool", "args", NULL},
    {"method", "url", "headers", "body", NULL},
    {"cases", "default", NULL},
    {"wait", NULL},
    {"over", "concurrency", "do", NULL},
    {"do", "until", "max_iterations", NULL},
    {"prompt", "timeout_s", "on_timeout", NULL},
    {"output", NULL}};
static const char *const s_methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                        "DELETE", "HEAD", "OPTIONS", NULL};
static const char *const s_safe_methods[] = {"GET",    "HEAD",    "PUT",
                                             "DELETE", "OPTIONS", NULL};
static const char *const s_indets[] = {"ask", "retry", "fail", NULL};
static const char *const s_waits[] = {"all", "any", NULL};
static const char *const s_case_keys[] = {"when", "to", NULL};

typedef struct {
    orcs__wf_ctx_t *ctx;
    orcs__wf_t *w;
    orcs_wf_node_t *node;
    json_t *spec;
    const char *path; // "nodes.ID" or "nodes.ID.do"
    int self;         // index of the top-level node
} s_node_t;

static bool
s_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

static json_t *
s_get(json_t *obj, const char *key)
{
    json_t *value = json_object_get(obj, key);
    if (value && json_is_null(value)) {
        json_object_del(obj, key);
        value = NULL;
    }
    return value;
}

const char *
orcs__wf_input_key(orcs_wf_kind kind)
{
    switch (kind) {
        case ORCS_WF_AGENT:
            return "input";
        case ORCS_WF_PROMPT:
        case ORCS_WF_APPROVAL:
            return "prompt";
        case ORCS_WF_TOOL:
            return "args";
        case ORCS_WF_HTTP:
            return "";
        case ORCS_WF_END:
            return "output";
        default:
            return NULL;
    }
}

// ---------------------------------------------------------------------------
// Fields

static void
s_fail_at(s_node_t *n, const char *key, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// An error at n->path.key (n->path when key is NULL).
static void
s_fail_at(s_node_t *n, const char *key, bool at_key, const char *fmt, ...)
{
    char path[ORCS__WF_PATH_MAX], what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    orcs__wf_error(n->ctx, orcs__wf_path(path, sizeof path, n->path, key),
                   at_key, "%s", what);
}

static int64_t
s_int(s_node_t *n, const char *key, int64_t min, int64_t max, int64_t dflt)
{
    json_t *value = s_get(n->spec, key);
    if (!value) {
        json_object_set_new(n->spec, key, json_integer(dflt));
        return dflt;
    }
    if (json_is_integer(value) && json_integer_value(value) >= min
        && json_integer_value(value) <= max)
        return json_integer_value(value);
    char path[ORCS__WF_PATH_MAX], got[64];
    orcs__wf_error(n->ctx, orcs__wf_path(path, sizeof path, n->path, key),
                   false, "must be an integer from %lld to %lld (got %s)",
                   (long long) min, (long long) max,
                   orcs__json_describe(got, sizeof got, value));
    return dflt;
}

// A boolean; *set says whether the file gave it. fill writes dflt in.
static bool
s_bool(s_node_t *n, const char *key, bool dflt, bool fill, bool *set)
{
    json_t *value = s_get(n->spec, key);
    if (set)
        *set = false;
    if (!value) {
        if (fill)
            json_object_set_new(n->spec, key, json_boolean(dflt));
        return dflt;
    }
    if (!json_is_boolean(value)) {
        char got[64];
        s_fail_at(n, key, false, "must be true or false (got %s)",
                  orcs__json_describe(got, sizeof got, value));
        return dflt;
    }
    if (set)
        *set = true;
    return json_is_true(value);
}

// One of words; returns its index (dflt's when absent or bad).
static int
s_word(s_node_t *n,
       const char *key,
       const char *const *words,
       const char *listed,
       int dflt)
{
    json_t *value = s_get(n->spec, key);
    if (!value) {
        json_object_set_new(n->spec, key, json_string(words[dflt]));
        return dflt;
    }
    for (int i = 0; json_is_string(value) && words[i]; i++)
        if (strcmp(json_string_value(value), words[i]) == 0)
            return i;
    char got[64];
    s_fail_at(n, key, false, "must be one of %s (got %s)", listed,
              orcs__json_describe(got, sizeof got, value));
    return dflt;
}

// A non-empty string without NUL, or NULL (an error when required).
static const char *
s_string(s_node_t *n, const char *key, bool required)
{
    json_t *value = s_get(n->spec, key);
    if (!value) {
        if (required) {
            s_fail_at(n, NULL, true, "missing key '%s'", key);
        }
        return NULL;
    }
    if (!json_is_string(value) || json_string_length(value) == 0
        || strlen(json_string_value(value)) != json_string_length(value)) {
        char got[64];
        s_fail_at(n, key, false, "must be a non-empty string (got %s)",
                  orcs__json_describe(got, sizeof got, value));
        return NULL;
    }
    return json_string_value(value);
}

// Compiles value as a template; path names it in messages.
static orcs_template_t *
s_compile(s_node_t *n, const json_t *value, const char *key)
{
    orcs_template_t *template = NULL;
    char err[512];
    err[0] = '\0';
    if (orcs_template_compile(value, &template, err, sizeof err) != ORCS_OK) {
        char base[ORCS__WF_PATH_MAX], path[ORCS__WF_PATH_MAX];
        orcs__wf_path(base, sizeof base, n->path, key);
        const char *what =
            err + orcs__wf_json_path(path, sizeof path, base, err);
        if (strncmp(what, ": ", 2) == 0)
            what += 2;
        orcs__wf_error(n->ctx, path, false, "%s",
                       *what ? what : "bad template");
        return NULL;
    }
    return template;
}

// The template under key; dflt (may be NULL) is written in when absent.
static orcs_template_t *
s_template(s_node_t *n, const char *key, bool required, json_t *dflt)
{
    json_t *value = s_get(n->spec, key);
    if (!value && required) {
        s_fail_at(n, NULL, true, "missing key '%s'", key);
        json_decref(dflt);
        return NULL;
    }
    if (!value && dflt) {
        json_object_set_new(n->spec, key, dflt);
        value = dflt;
    } else
        json_decref(dflt);
    if (!value) {
        json_t *null = json_null();
        orcs_template_t *template = s_compile(n, null, key);
        json_decref(null);
        return template;
    }
    return s_compile(n, value, key);
}

// Parses a condition: an expression, written bare or as one `${{ }}`.
static orcs_expr_t *
s_condition(s_node_t *n, json_t *value, const char *key)
{
    char path[ORCS__WF_PATH_MAX];
    orcs__wf_path(path, sizeof path, n->path, key);
    const char *src = NULL;
    size_t len = 0;
    if (json_is_boolean(value)) {
        src = json_is_true(value) ? "true" : "false";
        len = strlen(src);
    } else if (json_is_string(value)) {
        src = json_string_value(value);
        len = json_string_length(value);
        while (len && (*src == ' ' || *src == '\t' || *src == '\n')) {
            src++;
            len--;
        }
        while (len
               && (src[len - 1] == ' ' || src[len - 1] == '\t'
                   || src[len - 1] == '\n'))
            len--;
        if (len >= 5 && strncmp(src, "${{", 3) == 0
            && strncmp(src + len - 2, "}}", 2) == 0) {
            src += 3;
            len -= 5;
        }
    } else {
        orcs__wf_error(n->ctx, path, false, "must be an expression (a string)");
        return NULL;
    }
    orcs_expr_t *expr = NULL;
    char err[512];
    err[0] = '\0';
    if (orcs_expr_parse(src, len, &expr, err, sizeof err) != ORCS_OK)
        orcs__wf_error(n->ctx, path, false, "%s",
                       *err ? err : "bad expression");
    return expr;
}

// A node id (or "fail" when allow_fail) under key; dflt when absent.
static int
s_route(s_node_t *n, json_t *value, const char *path, bool allow_fail)
{
    if (!json_is_string(value)) {
        orcs__wf_error(n->ctx, path, false, "must be a node id%s",
                       allow_fail ? " or fail" : "");
        return ORCS_WF_ROUTE_NONE;
    }
    const char *id = json_string_value(value);
    if (allow_fail && strcmp(id, "fail") == 0)
        return ORCS_WF_ROUTE_FAIL;
    int to = orcs_workflow_find(&n->w->pub, id);
    if (to < 0) {
        char quoted[64];
        orcs__wf_error(n->ctx, path, false, "unknown node %s",
                       orcs__json_describe(quoted, sizeof quoted, value));
        return ORCS_WF_ROUTE_NONE;
    }
    if (to == n->self) {
        orcs__wf_error(n->ctx, path, false, "a node cannot route to itself");
        return ORCS_WF_ROUTE_NONE;
    }
    return to;
}

static int
s_route_key(s_node_t *n, const char *key, bool allow_fail, bool fill)
{
    json_t *value = s_get(n->spec, key);
    if (!value) {
        if (fill)
            json_object_set_new(n->spec, key, json_string("fail"));
        return fill ? ORCS_WF_ROUTE_FAIL : ORCS_WF_ROUTE_NONE;
    }
    char path[ORCS__WF_PATH_MAX];
    orcs__wf_path(path, sizeof path, n->path, key);
    int to = s_route(n, value, path, allow_fail);
    return to == ORCS_WF_ROUTE_NONE && fill ? ORCS_WF_ROUTE_FAIL : to;
}

// ---------------------------------------------------------------------------
// Common keys

static void
s_unknown_keys(s_node_t *n, bool body)
{
    const char *const *own = s_kind_keys[n->node->kind];
    const char *key;
    json_t *value;
    json_object_foreach(n->spec, key, value)
    {
        bool common = s_one_of(key, s_common)
                      && !(body
                           && (strcmp(key, "needs") == 0
                               || strcmp(key, "on_error") == 0));
        if (common || s_one_of(key, own))
            continue;
        char listed[256];
        size_t len = 0;
        for (size_t i = 0; own[i] && len < sizeof listed; i++)
            len += (size_t) snprintf(listed + len, sizeof listed - len, "%s, ",
                                     own[i]);
        s_fail_at(n, key, true, "unknown key (%s nodes take: %s%s)",
                  s_kinds[n->node->kind], listed,
                  body
                      ? "and retries, backoff_ms, backoff_max_ms, timeout_ms, "
                        "idempotent, on_indeterminate, description"
                      : "and the common keys kind, needs, retries, backoff_ms, "
                        "backoff_max_ms, timeout_ms, on_error, idempotent, "
                        "on_indeterminate, description");
    }
}

static void
s_needs(s_node_t *n)
{
    json_t *needs = s_get(n->spec, "needs");
    if (!needs) {
        json_object_set_new(n->spec, "needs", json_array());
        return;
    }
    if (json_is_string(needs)) { // `needs: a` is `needs: [a]`
        json_object_set_new(n->spec, "needs", json_pack("[O]", needs));
        needs = json_object_get(n->spec, "needs");
    }
    if (!json_is_array(needs)) {
        s_fail_at(n, "needs", false, "must be a list of node ids");
        return;
    }
    orcs_wf_node_t *node = n->node;
    size_t count = json_array_size(needs);
    node->needs = orcs_calloc(count ? count : 1, sizeof *node->needs);
    char base[ORCS__WF_PATH_MAX], path[ORCS__WF_PATH_MAX];
    orcs__wf_path(base, sizeof base, n->path, "needs");
    // Long lists (a fan-in of thousands) find repeats in a bitmap, short
    // ones by looking back: linear either way.
    size_t total = json_object_size(n->w->index);
    uint8_t *seen = count > 16 ? orcs_calloc(total / 8 + 1, 1) : NULL;
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(needs, i);
        orcs__wf_item(path, sizeof path, base, i);
        int need = json_is_string(item)
                       ? orcs_workflow_find(&n->w->pub, json_string_value(item))
                       : -1;
        char quoted[64];
        if (!json_is_string(item)) {
            orcs__wf_error(n->ctx, path, false, "must be a node id");
            continue;
        }
        if (need < 0) {
            orcs__wf_error(n->ctx, path, false, "unknown node %s",
                           orcs__json_describe(quoted, sizeof quoted, item));
            continue;
        }
        bool twice = false;
        if (seen && (size_t) need < total) {
            twice = seen[need / 8] & (1u << (need % 8));
            seen[need / 8] |= (uint8_t) (1u << (need % 8));
        } else
            for (size_t k = 0; k < node->needs_count; k++)
                twice |= node->needs[k] == need;
        if (twice)
            orcs__wf_error(n->ctx, path, false, "%s is listed twice",
                           orcs__json_describe(quoted, sizeof quoted, item));
        else
            node->needs[node->needs_count++] = need;
    }
    free(seen);
}

static void
s_policy(s_node_t *n)
{
    orcs_wf_node_t *node = n->node;
    node->retries = (int) s_int(n, "retries", 0, S_RETRIES_MAX, 0);
    node->backoff_ms = (int) s_int(n, "backoff_ms", 0, S_BACKOFF_MAX, 1000);
    node->backoff_max_ms =
        (int) s_int(n, "backoff_max_ms", 0, S_BACKOFF_MAX, 60000);
    if (node->backoff_max_ms < node->backoff_ms)
        s_fail_at(n, "backoff_max_ms", false,
                  "must not be less than backoff_ms");
    node->timeout_ms = (int) s_int(n, "timeout_ms", 0, INT_MAX, 0);
    node->idempotent =
        s_bool(n, "idempotent", false, false, &node->idempotent_set);
    node->on_indeterminate = (orcs_wf_indet) s_word(
        n, "on_indeterminate", s_indets, "ask, retry, fail", 0);
    json_t *text = s_get(n->spec, "description");
    if (text && !json_is_string(text))
        s_fail_at(n, "description", false, "must be a string");
}

// ---------------------------------------------------------------------------
// Kinds

static void
s_agent(s_node_t *n)
{
    const char *file = s_string(n, "agent", true);
    n->node->input = s_template(n, "input", false, json_string(""));
    json_t *thread = s_get(n->spec, "thread");
    if (thread)
        n->node->thread = s_compile(n, thread, "thread");
    if (!file)
        return;
    char joined[PATH_MAX], real[PATH_MAX];
    int len = file[0] == '/'
                  ? snprintf(joined, sizeof joined, "%s", file)
                  : snprintf(joined, sizeof joined, "%s/%s", n->ctx->dir, file);
    if (len < 0 || (size_t) len >= sizeof joined) {
        s_fail_at(n, "agent", false, "path too long");
        return;
    }
    const char *use = realpath(joined, real) ? real : joined;
    struct stat st;
    char err[1024];
    json_t *agent = NULL;
    if (stat(use, &st) != 0 || !S_ISREG(st.st_mode)) {
        s_fail_at(n, "agent", false, "no agent file %s", use);
    } else if (orcs_agent_load(use, &agent, err, sizeof err) != ORCS_OK)
        s_fail_at(n, "agent", false, "%s", err);
    json_decref(agent);
    json_t *abs = json_string(use);
    if (abs)
        json_object_set_new(n->spec, "agent", abs);
    n->node->agent = orcs_strdup(abs ? use : file);
}

static void
s_prompt(s_node_t *n)
{
    orcs_wf_node_t *node = n->node;
    node->input = s_template(n, "prompt", true, NULL);
    json_t *system = s_get(n->spec, "system");
    if (system)
        node->system = s_compile(n, system, "system");
    const char *model = s_string(n, "model", false);
    if (model)
        node->model = orcs_strdup(model);
    node->json_output = s_bool(n, "json", false, true, NULL);
}

static void
s_http(s_node_t *n)
{
    orcs_wf_node_t *node = n->node;
    node->tool = orcs_strdup("http.request");
    json_t *method = s_get(n->spec, "method");
    if (json_is_string(method)) { // methods are case-insensitive here
        char upper[16];
        size_t i = 0;
        for (const char *s = json_string_value(method);
             *s && i + 1 < sizeof upper; s++)
            upper[i++] = (char) (*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
        upper[i] = '\0';
        if (s_one_of(upper, s_methods))
            json_object_set_new(n->spec, "method", json_string(upper));
    }
    int m = s_word(n, "method", s_methods, S_METHODS_LISTED, 0);
    json_t *url = s_get(n->spec, "url");
    if (!url)
        s_fail_at(n, NULL, true, "missing key 'url'");
    else if (!json_is_string(url))
        s_fail_at(n, "url", false, "must be a string (a template)");
    json_t *headers = s_get(n->spec, "headers");
    if (headers && !json_is_object(headers) && !json_is_string(headers))
        s_fail_at(n, "headers", false,
                  "must be a mapping of header names to values");
    json_t *body = s_get(n->spec, "body");
    json_t *input = json_pack("{s:s}", "method", s_methods[m]);
    if (url)
        json_object_set(input, "url", url);
    if (headers)
        json_object_set(input, "headers", headers);
    if (body)
        json_object_set(input, "body", body);
    node->input = s_compile(n, input, NULL);
    json_decref(input);
    if (!node->idempotent_set)
        node->idempotent = s_one_of(s_methods[m], s_safe_methods);
}

static void
s_branch(s_node_t *n)
{
    orcs_wf_node_t *node = n->node;
    json_t *cases = s_get(n->spec, "cases");
    json_t *dflt = s_get(n->spec, "default");
    if (cases && !json_is_array(cases)) {
        s_fail_at(n, "cases", false, "must be a list of {when, to}");
        cases = NULL;
    }
    if (json_array_size(cases) == 0 && !dflt)
        s_fail_at(n, NULL, true, "a branch needs cases or a default");
    size_t count = json_array_size(cases);
    node->cases = orcs_calloc(count ? count : 1, sizeof *node->cases);
    node->cases_count = count;
    char base[ORCS__WF_PATH_MAX];
    orcs__wf_path(base, sizeof base, n->path, "cases");
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(cases, i);
        char path[ORCS__WF_PATH_MAX], sub[ORCS__WF_PATH_MAX];
        orcs__wf_item(path, sizeof path, base, i);
        node->cases[i].to = ORCS_WF_ROUTE_NONE;
        if (!json_is_object(item)) {
            orcs__wf_error(n->ctx, path, false, "must be a mapping {when, to}");
            continue;
        }
        const char *key;
        json_t *value;
        json_object_foreach(item, key, value)
        {
            if (!s_one_of(key, s_case_keys))
                orcs__wf_error(n->ctx,
                               orcs__wf_path(sub, sizeof sub, path, key), true,
                               "unknown key (cases take: when, to)");
        }
        json_t *when = json_object_get(item, "when");
        json_t *to = json_object_get(item, "to");
        if (!when || !to)
            orcs__wf_error(n->ctx, path, false, "missing key '%s'",
                           when ? "to" : "when");
        if (when) {
            s_node_t at = *n;
            at.path = path;
            node->cases[i].when = s_condition(&at, when, "when");
        }
        if (to)
            node->cases[i].to = s_route(
                n, to, orcs__wf_path(sub, sizeof sub, path, "to"), false);
    }
    node->default_to = ORCS_WF_ROUTE_NONE;
    if (dflt) {
        char path[ORCS__WF_PATH_MAX];
        orcs__wf_path(path, sizeof path, n->path, "default");
        node->default_to = s_route(n, dflt, path, false);
    }
}

static void s_parse(s_node_t *n, bool body);

// The `do` node of a map or loop.
static void
s_body(s_node_t *n)
{
    json_t *spec = s_get(n->spec, "do");
    if (!spec) {
        s_fail_at(n, NULL, true, "missing key 'do' (an inline node)");
        return;
    }
    char path[ORCS__WF_PATH_MAX], id[ORCS_WF_ID_MAX + 8];
    orcs__wf_path(path, sizeof path, n->path, "do");
    snprintf(id, sizeof id, "%s.do", n->node->id);
    orcs_wf_node_t *body = orcs_calloc(1, sizeof *body);
    body->id = orcs_strdup(id);
    body->spec = spec;
    body->line = n->ctx->yaml ? orcs_yaml_key_line(n->ctx->yaml, path) : 0;
    n->node->body = body;
    s_node_t sub = {n->ctx, n->w, body, spec, path, n->self};
    s_parse(&sub, true);
}

static void
s_kind(s_node_t *n)
{
    orcs_wf_node_t *node = n->node;
    switch (node->kind) {
        case ORCS_WF_AGENT:
            s_agent(n);
            break;
        case ORCS_WF_PROMPT:
            s_prompt(n);
            break;
        case ORCS_WF_TOOL: {
            const char *tool = s_string(n, "tool", true);
            if (tool)
                node->tool = orcs_strdup(tool);
            node->input = s_template(n, "args", false, json_object());
            break;
        }
        case ORCS_WF_HTTP:
            s_http(n);
            break;
        case ORCS_WF_BRANCH:
            s_branch(n);
            break;
        case ORCS_WF_JOIN:
            node->any = s_word(n, "wait", s_waits, "all, any", 0) == 1;
            break;
        case ORCS_WF_MAP:
            node->over = s_template(n, "over", true, NULL);
            node->concurrency =
                (int) s_int(n, "concurrency", 1, S_ITEMS_MAX, 4);
            s_body(n);
            break;
        case ORCS_WF_LOOP: {
            json_t *until = s_get(n->spec, "until");
            if (until)
                node->until = s_condition(n, until, "until");
            node->max_iterations =
                (int) s_int(n, "max_iterations", 1, S_ITEMS_MAX, 10);
            s_body(n);
            break;
        }
        case ORCS_WF_APPROVAL: {
            char prompt[128];
            snprintf(prompt, sizeof prompt, "Approve '%s'?", node->id);
            node->input = s_template(n, "prompt", false, json_string(prompt));
            node->approval_timeout_ms =
                s_int(n, "timeout_s", 0, S_TIMEOUT_S_MAX, 0) * 1000;
            node->on_timeout = s_route_key(n, "on_timeout", true, true);
            break;
        }
        case ORCS_WF_END:
            node->input = s_template(n, "output", false, NULL);
            break;
        default:
            break;
    }
}

static void
s_parse(s_node_t *n, bool body)
{
    orcs_wf_node_t *node = n->node;
    node->on_error = ORCS_WF_ROUTE_FAIL;
    node->on_timeout = ORCS_WF_ROUTE_NONE;
    node->default_to = ORCS_WF_ROUTE_NONE;
    node->kind = ORCS_WF_KIND_COUNT;
    if (!json_is_object(n->spec)) {
        s_fail_at(n, NULL, false, "a node must be a mapping with a kind");
        return;
    }
    json_t *kind = s_get(n->spec, "kind");
    for (int k = 0; json_is_string(kind) && k < ORCS_WF_KIND_COUNT; k++)
        if (strcmp(json_string_value(kind), s_kinds[k]) == 0)
            node->kind = (orcs_wf_kind) k;
    char got[64];
    if (!kind)
        s_fail_at(n, NULL, true, "missing key 'kind' (" S_KINDS ")");
    else if (node->kind == ORCS_WF_KIND_COUNT) {
        s_fail_at(n, "kind", false, "unknown kind %s (kinds: " S_KINDS ")",
                  orcs__json_describe(got, sizeof got, kind));
    } else if (body && node->kind > ORCS_WF_HTTP) {
        s_fail_at(n, "kind", false,
                  "an inline node must be " S_BODY_KINDS " (got %s)",
                  orcs__json_describe(got, sizeof got, kind));
        node->kind = ORCS_WF_KIND_COUNT;
    }
    if (node->kind != ORCS_WF_KIND_COUNT)
        s_unknown_keys(n, body);
    if (!body) {
        s_needs(n);
        node->on_error = s_route_key(n, "on_error", true, true);
    }
    s_policy(n);
    s_kind(n);
    if (node->idempotent_set)
        return;
    switch (node->kind) {
        case ORCS_WF_TOOL:
        case ORCS_WF_HTTP:
            break; // from the manifest at run time; from the method
        case ORCS_WF_MAP:
        case ORCS_WF_LOOP:
            if (node->body) {
                node->idempotent = node->body->idempotent;
                node->idempotent_set = node->body->idempotent_set;
            }
            break;
        default:
            node->idempotent = true; // no side effects outside the run
            break;
    }
}

void
orcs__wf_node_parse(orcs__wf_ctx_t *ctx,
                    orcs__wf_t *w,
                    orcs_wf_node_t *node,
                    json_t *spec,
                    const char *path)
{
    s_node_t n = {ctx, w, node, spec, path, (int) (node - w->pub.nodes)};
    s_parse(&n, false);
}

void
orcs__wf_node_clear(orcs_wf_node_t *node)
{
    if (node->body) {
        orcs__wf_node_clear(node->body);
        free(node->body);
    }
    for (size_t i = 0; i < node->cases_count; i++)
        orcs_expr_destroy(&node->cases[i].when);
    free(node->cases);
    orcs_expr_destroy(&node->until);
    orcs_template_destroy(&node->over);
    orcs_template_destroy(&node->thread);
    orcs_template_destroy(&node->system);
    orcs_template_destroy(&node->input);
    free((char *) node->model);
    free((char *) node->tool);
    free((char *) node->agent);
    free(node->dependents);
    free(node->needs);
    free((char *) node->id);
    memset(node, 0, sizeof *node);
}
