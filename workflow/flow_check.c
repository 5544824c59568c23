/*  flow_check.c — the checks of a workflow that need the whole graph:
    cycles, unreachable nodes, and every expression's names, node
    references and static types (docs/workflows.md "When a node runs").
    SPDX-License-Identifier: MPL-2.0

    A node may read `nodes.X` only when X is upstream of it (in its needs,
    directly or through other nodes): anything else would read an output
    that may not exist yet. Ancestor sets are computed per node that reads
    other nodes, which is quadratic only for long chains of such nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "workflow/flow_internal.h"

#define S_CYCLE_TEXT 512 // bytes of a cycle's text in a message

// ---------------------------------------------------------------------------
// Cycles (of needs, with branch targets needing their branch)

static void
s_report_cycle(orcs__wf_ctx_t *ctx,
               const orcs_workflow_t *wf,
               const int *stack,
               size_t from,
               size_t depth)
{
    char text[S_CYCLE_TEXT];
    size_t len = 0;
    for (size_t i = from; i <= depth && len < sizeof text; i++) {
        const char *id = wf->nodes[stack[i < depth ? i : from]].id;
        len += (size_t) snprintf(text + len, sizeof text - len, "%s%s",
                                 i > from ? " -> " : "", id);
    }
    if (len >= sizeof text)
        memcpy(text + sizeof text - 4, "...", 4);
    char base[ORCS__WF_PATH_MAX], path[ORCS__WF_PATH_MAX];
    orcs__wf_path(base, sizeof base, "nodes", wf->nodes[stack[from]].id);
    orcs__wf_error(ctx, orcs__wf_path(path, sizeof path, base, "needs"), false,
                   "cycle: %s", text);
}

// Depth-first over needs without recursion. Returns true when a cycle was
// found (each back edge reports one).
static bool
s_cycles(orcs__wf_ctx_t *ctx, const orcs_workflow_t *wf)
{
    size_t n = wf->count;
    unsigned char *color = orcs_calloc(n, 1); // 0 new, 1 open, 2 done
    size_t *pos = orcs_calloc(n, sizeof *pos);
    int *stack = orcs_calloc(n, sizeof *stack);
    size_t *next = orcs_calloc(n, sizeof *next);
    bool found = false;
    for (size_t start = 0; start < n && !orcs__wf_full(ctx); start++) {
        if (color[start])
            continue;
        size_t depth = 0;
        stack[depth] = (int) start;
        next[depth] = 0;
        pos[start] = depth++;
        color[start] = 1;
        while (depth > 0) {
            const orcs_wf_node_t *u = &wf->nodes[stack[depth - 1]];
            if (next[depth - 1] == u->needs_count) {
                color[stack[depth - 1]] = 2;
                depth--;
                continue;
            }
            int v = u->needs[next[depth - 1]++];
            if (color[v] == 0) {
                stack[depth] = v;
                next[depth] = 0;
                pos[v] = depth++;
                color[v] = 1;
            } else if (color[v] == 1) {
                s_report_cycle(ctx, wf, stack, pos[v], depth);
                found = true;
            }
        }
    }
    free(next);
    free(stack);
    free(pos);
    free(color);
    return found;
}

// ---------------------------------------------------------------------------
// Reachability

static void
s_reach(orcs__wf_ctx_t *ctx, const orcs_workflow_t *wf)
{
    size_t n = wf->count;
    bool *reached = orcs_calloc(n, sizeof *reached);
    bool *blocked = orcs_calloc(n, sizeof *blocked);
    int *queue = orcs_calloc(n, sizeof *queue);
    size_t head = 0, tail = 0;
    char base[ORCS__WF_PATH_MAX], path[ORCS__WF_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        const orcs_wf_node_t *node = &wf->nodes[i];
        for (size_t k = 0; k < node->needs_count && !blocked[i]; k++) {
            const orcs_wf_node_t *need = &wf->nodes[node->needs[k]];
            if (need->kind != ORCS_WF_END)
                continue;
            blocked[i] = true;
            orcs__wf_path(base, sizeof base, "nodes", node->id);
            orcs__wf_error(ctx, orcs__wf_path(path, sizeof path, base, "needs"),
                           false,
                           "unreachable: it needs end node '%s', and an end "
                           "node finishes the run, so '%s' can never start",
                           need->id, node->id);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!wf->nodes[i].routed && wf->nodes[i].needs_count == 0
            && !blocked[i]) {
            reached[i] = true;
            queue[tail++] = (int) i;
        }
    while (head < tail) {
        const orcs_wf_node_t *u = &wf->nodes[queue[head++]];
        if (u->kind == ORCS_WF_END)
            continue;
        size_t routes = u->cases_count + 3;
        for (size_t k = 0; k < u->dependents_count + routes; k++) {
            int v;
            if (k < u->dependents_count)
                v = u->dependents[k];
            else if (k - u->dependents_count < u->cases_count)
                v = u->cases[k - u->dependents_count].to;
            else {
                size_t r = k - u->dependents_count - u->cases_count;
                v = r == 0 ? u->default_to
                           : (r == 1 ? u->on_error : u->on_timeout);
            }
            if (v < 0 || reached[v] || blocked[v])
                continue;
            reached[v] = true;
            queue[tail++] = v;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!reached[i] && !blocked[i])
            orcs__wf_error(
                ctx, orcs__wf_path(path, sizeof path, "nodes", wf->nodes[i].id),
                true,
                "unreachable: no starting node (one without needs that no "
                "route targets) leads to it through needs or routes");
    free(queue);
    free(blocked);
    free(reached);
}

// ---------------------------------------------------------------------------
// Expressions

typedef struct {
    orcs__wf_ctx_t *ctx;
    const orcs_workflow_t *wf;
    int self;                     // the top-level node
    int *marks;                   // marks[i] == self + 1: i is upstream
    bool marked;                  // marks are computed for self
    const char *base;             // path of the template or condition
    char path[ORCS__WF_PATH_MAX]; // path of the current expression
    bool item, loop, error;       // roots allowed besides inputs and nodes
    bool over;                    // the expression must give a list
    bool over_done;               // the over check has reported
} s_expr_t;

static orcs_expr_type
s_declared(const char *type)
{
    if (!type)
        return ORCS_EXPR_ANY;
    if (strcmp(type, "string") == 0)
        return ORCS_EXPR_STRING;
    if (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0)
        return ORCS_EXPR_NUMBER;
    if (strcmp(type, "boolean") == 0)
        return ORCS_EXPR_BOOLEAN;
    if (strcmp(type, "array") == 0)
        return ORCS_EXPR_ARRAY;
    if (strcmp(type, "object") == 0)
        return ORCS_EXPR_OBJECT;
    return ORCS_EXPR_ANY;
}

static orcs_expr_type
s_typeof(const json_t *segments, void *arg)
{
    s_expr_t *e = arg;
    size_t n = json_array_size(segments);
    const char *root = json_string_value(json_array_get(segments, 0));
    const char *second = json_string_value(json_array_get(segments, 1));
    if (!root)
        return ORCS_EXPR_ANY;
    if (strcmp(root, "inputs") == 0 && n == 2 && second) {
        json_t *decl = json_object_get(e->wf->inputs, second);
        return s_declared(json_string_value(json_object_get(decl, "type")));
    }
    if ((strcmp(root, "index") == 0 && n == 1)
        || (strcmp(root, "loop") == 0 && n == 2 && second
            && strcmp(second, "index") == 0))
        return ORCS_EXPR_NUMBER;
    if (strcmp(root, "nodes") == 0 && n == 3
        && json_is_string(json_array_get(segments, 2))
        && strcmp(json_string_value(json_array_get(segments, 2)), "status")
               == 0)
        return ORCS_EXPR_STRING;
    return ORCS_EXPR_ANY;
}

// Marks every node upstream of e->self (its needs, transitively).
static void
s_mark_upstream(s_expr_t *e)
{
    const orcs_workflow_t *wf = e->wf;
    int mark = e->self + 1;
    int *stack = orcs_calloc(wf->count + 1, sizeof *stack);
    size_t depth = 0;
    stack[depth++] = e->self;
    while (depth > 0) {
        const orcs_wf_node_t *u = &wf->nodes[stack[--depth]];
        for (size_t k = 0; k < u->needs_count; k++) {
            int v = u->needs[k];
            if (e->marks[v] != mark) {
                e->marks[v] = mark;
                stack[depth++] = v;
            }
        }
    }
    free(stack);
    e->marked = true;
}

static void
s_roots_listed(const s_expr_t *e, char *buf, size_t size)
{
    snprintf(buf, size, "inputs, nodes%s%s%s", e->item ? ", item, index" : "",
             e->loop ? ", loop" : "", e->error ? ", error" : "");
}

static void
s_check_node_ref(s_expr_t *e, const json_t *segments)
{
    // The workflow is being built: what is read is recorded here, so a run
    // keeps the outputs and statuses of only the nodes someone reads.
    orcs_workflow_t *wf = (orcs_workflow_t *) e->wf;
    json_t *id = json_array_get(segments, 1);
    if (!json_is_string(id)) {
        wf->reads_any_node = true; // `nodes` as a whole, or a computed id
        return;
    }
    const char *name = json_string_value(id);
    int target = orcs_workflow_find(e->wf, name);
    if (target >= 0)
        wf->nodes[target].read = true;
    if (target < 0) {
        orcs__wf_error(e->ctx, e->path, false,
                       "nodes.%s: there is no node '%s'", name, name);
        return;
    }
    const char *field = json_string_value(json_array_get(segments, 2));
    if (field && strcmp(field, "output") != 0 && strcmp(field, "status") != 0) {
        orcs__wf_error(e->ctx, e->path, false,
                       "nodes.%s.%s: a node has only output and status", name,
                       field);
        return;
    }
    if (!e->marked)
        s_mark_upstream(e);
    if (e->marks[target] != e->self + 1) {
        const char *self = e->wf->nodes[e->self].id;
        orcs__wf_error(e->ctx, e->path, false,
                       "nodes.%s: '%s' is not upstream of '%s', so its output "
                       "may not exist yet (add '%s' to the needs of '%s', "
                       "directly or through another node)",
                       name, name, self, name, self);
    }
}

static bool
s_path_fn(const json_t *segments, void *arg)
{
    s_expr_t *e = arg;
    const char *root = json_string_value(json_array_get(segments, 0));
    const char *second = json_string_value(json_array_get(segments, 1));
    if (!root)
        return true;
    char roots[128];
    if (strcmp(root, "inputs") == 0) {
        if (second && !json_object_get(e->wf->inputs, second))
            orcs__wf_error(e->ctx, e->path, false,
                           "inputs.%s: no such input is declared", second);
    } else if (strcmp(root, "nodes") == 0)
        s_check_node_ref(e, segments);
    else if ((strcmp(root, "item") == 0 || strcmp(root, "index") == 0)
             && !e->item)
        orcs__wf_error(e->ctx, e->path, false,
                       "'%s' exists only inside a map's do", root);
    else if (strcmp(root, "loop") == 0 && !e->loop)
        orcs__wf_error(e->ctx, e->path, false,
                       "'loop' exists only inside a loop's do and until");
    else if (strcmp(root, "loop") == 0 && second && strcmp(second, "index") != 0
             && strcmp(second, "output") != 0)
        orcs__wf_error(e->ctx, e->path, false,
                       "loop.%s: a loop has only index and output", second);
    else if (strcmp(root, "error") == 0 && !e->error)
        orcs__wf_error(e->ctx, e->path, false,
                       "'error' exists only in a node that an on_error "
                       "routes to");
    else if (strcmp(root, "inputs") != 0 && strcmp(root, "nodes") != 0
             && strcmp(root, "item") != 0 && strcmp(root, "index") != 0
             && strcmp(root, "loop") != 0 && strcmp(root, "error") != 0) {
        s_roots_listed(e, roots, sizeof roots);
        orcs__wf_error(e->ctx, e->path, false,
                       "unknown name '%s' (names here: %s)", root, roots);
    }
    return !orcs__wf_full(e->ctx);
}

static orcs_expr_type
s_check_expr(s_expr_t *e, const orcs_expr_t *expr)
{
    orcs_expr_paths(expr, s_path_fn, e);
    orcs_expr_type type = ORCS_EXPR_ANY;
    char err[512];
    err[0] = '\0';
    if (orcs_expr_infer(expr, s_typeof, e, &type, err, sizeof err) != ORCS_OK) {
        orcs__wf_error(e->ctx, e->path, false, "%s",
                       *err ? err : "type mismatch");
        return ORCS_EXPR_ANY;
    }
    return type;
}

static bool
s_template_fn(const orcs_expr_t *expr,
              const char *json_path,
              bool whole,
              void *arg)
{
    s_expr_t *e = arg;
    orcs__wf_json_path(e->path, sizeof e->path, e->base,
                       json_path ? json_path : "$");
    bool top = !json_path || strcmp(json_path, "$") == 0;
    orcs_expr_type type = s_check_expr(e, expr);
    if (e->over && !e->over_done && top) {
        if (!whole) {
            orcs__wf_error(e->ctx, e->path, false,
                           "must give a list, but gives text (write only "
                           "${{ expr }})");
            e->over_done = true;
        } else if (type != ORCS_EXPR_ANY && type != ORCS_EXPR_ARRAY) {
            orcs__wf_error(e->ctx, e->path, false,
                           "must give a list, but gives %s",
                           orcs_expr_type_name(type));
            e->over_done = true;
        }
    }
    return !orcs__wf_full(e->ctx);
}

static void
s_template(s_expr_t *e, const orcs_template_t *template, const char *base)
{
    if (!template)
        return;
    e->base = base;
    orcs_template_exprs(template, s_template_fn, e);
}

static void
s_condition(s_expr_t *e, const orcs_expr_t *expr, const char *path)
{
    if (!expr)
        return;
    snprintf(e->path, sizeof e->path, "%s", path);
    s_check_expr(e, expr);
}

// The templates of a node or a `do` body at path.
static void
s_node_templates(s_expr_t *e, const orcs_wf_node_t *node, const char *path)
{
    char sub[ORCS__WF_PATH_MAX];
    const char *key = orcs__wf_input_key(node->kind);
    if (key)
        s_template(e, node->input,
                   *key ? orcs__wf_path(sub, sizeof sub, path, key) : path);
    s_template(e, node->system, orcs__wf_path(sub, sizeof sub, path, "system"));
    s_template(e, node->thread, orcs__wf_path(sub, sizeof sub, path, "thread"));
}

// A map's `over`: a list, or a template that can give one.
static void
s_over(s_expr_t *e, const orcs_wf_node_t *node, const char *path)
{
    char sub[ORCS__WF_PATH_MAX];
    orcs__wf_path(sub, sizeof sub, path, "over");
    json_t *over = json_object_get(node->spec, "over");
    if (!json_is_array(over)
        && (!json_is_string(over) || orcs_template_is_constant(node->over))) {
        orcs__wf_error(e->ctx, sub, false,
                       "must be a list or ${{ an expression giving one }}");
        return;
    }
    e->over = json_is_string(over);
    e->over_done = false;
    s_template(e, node->over, sub);
    e->over = false;
}

static void
s_exprs(orcs__wf_ctx_t *ctx, const orcs_workflow_t *wf)
{
    size_t n = wf->count;
    bool *error_target = orcs_calloc(n, sizeof *error_target);
    for (size_t i = 0; i < n; i++)
        if (wf->nodes[i].on_error >= 0)
            error_target[wf->nodes[i].on_error] = true;
    s_expr_t e = {.ctx = ctx, .wf = wf};
    e.marks = orcs_calloc(n, sizeof *e.marks);
    for (size_t i = 0; i < n && !orcs__wf_full(ctx); i++) {
        const orcs_wf_node_t *node = &wf->nodes[i];
        char path[ORCS__WF_PATH_MAX], sub[ORCS__WF_PATH_MAX];
        orcs__wf_path(path, sizeof path, "nodes", node->id);
        e.self = (int) i;
        e.marked = false;
        e.item = e.loop = false;
        e.error = error_target[i];
        s_node_templates(&e, node, path);
        for (size_t c = 0; c < node->cases_count; c++) {
            char item[ORCS__WF_PATH_MAX];
            orcs__wf_path(sub, sizeof sub, path, "cases");
            orcs__wf_item(item, sizeof item, sub, c);
            s_condition(&e, node->cases[c].when,
                        orcs__wf_path(sub, sizeof sub, item, "when"));
        }
        if (node->kind == ORCS_WF_MAP && node->over)
            s_over(&e, node, path);
        e.loop = node->kind == ORCS_WF_LOOP;
        s_condition(&e, node->until,
                    orcs__wf_path(sub, sizeof sub, path, "until"));
        if (node->body) {
            e.item = node->kind == ORCS_WF_MAP;
            s_node_templates(&e, node->body,
                             orcs__wf_path(sub, sizeof sub, path, "do"));
        }
    }
    free(e.marks);
    free(error_target);
}

void
orcs__wf_check(orcs__wf_ctx_t *ctx, orcs__wf_t *w, bool reach)
{
    const orcs_workflow_t *wf = &w->pub;
    if (!s_cycles(ctx, wf) && reach)
        s_reach(ctx, wf);
    s_exprs(ctx, wf);
}
