/*  plan.c — a planner's task list compiled into a workflow document
    (orcs_plan_compile in orcs/workflow.h).
    SPDX-License-Identifier: MPL-2.0

    The planner is a model, so every problem is reported at once, one per
    line, in words it can act on ("task 'b': needs unknown task 'zz'"). The
    document built is checked again by orcs_workflow_from_doc when run. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "orcs/workflow.h"
#include "workflow/flow_internal.h"

#define S_TASKS_MAX 200 // tasks in one plan
#define S_APPROVAL  "-approval"
#define S_KEYS      "id, title, description, role, needs, needs_approval"

static const char *const s_task_keys[] = {
    "id", "title", "description", "role", "needs", "needs_approval", NULL};

typedef struct {
    char *buf;    // the caller's err
    size_t size;  // its size
    size_t len;   // bytes written
    size_t count; // problems reported
} s_errs_t;

typedef struct {
    const json_t *spec; // the task
    const char *id;     // NULL when missing or bad
    const char *title;
    const char *description;
    const char *agent;   // the role's agent file
    const json_t *needs; // array of ids (may be NULL)
    int *deps;           // indexes of needed tasks (-1: a kept node)
    bool approval;       // needs_approval
} s_task_t;

static void s_err(s_errs_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_err(s_errs_t *e, const char *fmt, ...)
{
    e->count++;
    if (e->size == 0 || e->len + 1 >= e->size)
        return;
    if (e->len > 0)
        e->buf[e->len++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->len, e->size - e->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        e->len += (size_t) n;
    if (e->len >= e->size)
        e->len = e->size - 1;
    e->buf[e->len] = '\0';
}

// "task 'id'", or "task N" (1-based) without a usable id.
static const char *
s_label(const s_task_t *t, size_t i, char *buf, size_t size)
{
    if (t->id)
        snprintf(buf, size, "task '%s'", t->id);
    else
        snprintf(buf, size, "task %zu", i + 1);
    return buf;
}

// Appends s to text, `${{` written as `$${{` so it stays literal.
static void
s_literal(char **text, size_t *len, const char *s)
{
    size_t extra = 0;
    for (const char *p = s; (p = strstr(p, "${{")); p += 3)
        extra++;
    size_t n = strlen(s);
    *text = orcs_realloc(*text, *len + n + extra + 1);
    for (; *s; s++) {
        if (strncmp(s, "${{", 3) == 0)
            (*text)[(*len)++] = '$';
        (*text)[(*len)++] = *s;
    }
    (*text)[*len] = '\0';
}

static int
s_find(const s_task_t *tasks, size_t count, const char *id)
{
    for (size_t i = 0; i < count; i++)
        if (tasks[i].id && strcmp(tasks[i].id, id) == 0)
            return (int) i;
    return -1;
}

static void
s_roles_listed(const json_t *roles, char *buf, size_t size)
{
    size_t len = 0;
    const char *role;
    json_t *path;
    buf[0] = '\0';
    json_object_foreach((json_t *) roles, role, path)
    {
        (void) path;
        if (len < size)
            len += (size_t) snprintf(buf + len, size - len, "%s%s",
                                     len ? ", " : "", role);
    }
}

static void
s_check_task(
    s_errs_t *e, s_task_t *t, size_t i, const json_t *roles, const json_t *keep)
{
    char label[96], roles_listed[512];
    const json_t *spec = t->spec;
    json_t *id = json_object_get(spec, "id");
    if (!json_is_string(id))
        s_err(e, "task %zu: missing id", i + 1);
    else if (!orcs__wf_is_id(json_string_value(id), ORCS_WF_ID_MAX))
        s_err(e, "task %zu: id must be 1 to 63 of A-Z a-z 0-9 _ -", i + 1);
    else if (strcmp(json_string_value(id), "end") == 0)
        s_err(e, "task %zu: the id 'end' is reserved", i + 1);
    else if (json_object_get(keep, json_string_value(id)))
        s_err(e, "task '%s': duplicate id (a kept task has it)",
              json_string_value(id));
    else
        t->id = json_string_value(id);
    s_label(t, i, label, sizeof label);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) spec, key, value)
    {
        bool known = false;
        for (size_t k = 0; s_task_keys[k]; k++)
            known |= strcmp(key, s_task_keys[k]) == 0;
        if (!known)
            s_err(e, "%s: unknown key '%s' (keys: " S_KEYS ")", label, key);
    }
    t->title = json_string_value(json_object_get(spec, "title"));
    if (!t->title || !*t->title)
        s_err(e, "task %zu: missing title", i + 1);
    value = json_object_get(spec, "description");
    t->description = json_string_value(value);
    if (value && !json_is_null(value) && !json_is_string(value))
        s_err(e, "%s: description must be a string", label);
    value = json_object_get(spec, "role");
    s_roles_listed(roles, roles_listed, sizeof roles_listed);
    if (!json_is_string(value))
        s_err(e, "%s: missing role (roles: %s)", label, roles_listed);
    else if (!json_is_string(json_object_get(roles, json_string_value(value))))
        s_err(e, "%s: unknown role '%s' (roles: %s)", label,
              json_string_value(value), roles_listed);
    else
        t->agent =
            json_string_value(json_object_get(roles, json_string_value(value)));
    value = json_object_get(spec, "needs_approval");
    if (value && !json_is_null(value) && !json_is_boolean(value))
        s_err(e, "%s: needs_approval must be true or false", label);
    t->approval = json_is_true(value);
    if (t->approval && t->id
        && strlen(t->id) + strlen(S_APPROVAL) > ORCS_WF_ID_MAX)
        s_err(e,
              "%s: with needs_approval the id must be at most %zu "
              "characters",
              label, ORCS_WF_ID_MAX - strlen(S_APPROVAL));
    value = json_object_get(spec, "needs");
    if (value && !json_is_null(value) && !json_is_array(value))
        s_err(e, "%s: needs must be a list of task ids", label);
    else
        t->needs = value;
}

// Resolves needs to task indexes (-1 for kept nodes).
static void
s_check_needs(
    s_errs_t *e, s_task_t *tasks, size_t count, size_t i, const json_t *keep)
{
    s_task_t *t = &tasks[i];
    char label[96];
    s_label(t, i, label, sizeof label);
    size_t n = json_array_size(t->needs);
    t->deps = orcs_calloc(n ? n : 1, sizeof *t->deps);
    for (size_t k = 0; k < n; k++) {
        const char *need = json_string_value(json_array_get(t->needs, k));
        t->deps[k] = -2;
        if (!need)
            s_err(e, "%s: needs must be a list of task ids", label);
        else if ((t->deps[k] = s_find(tasks, count, need)) < 0
                 && !json_object_get(keep, need)) {
            s_err(e, "%s: needs unknown task '%s'", label, need);
            t->deps[k] = -2;
        }
    }
}

static bool
s_cycle_from(s_errs_t *e,
             const s_task_t *tasks,
             size_t at,
             unsigned char *color,
             size_t *stack,
             size_t depth)
{
    color[at] = 1;
    stack[depth] = at;
    const s_task_t *t = &tasks[at];
    for (size_t k = 0; k < json_array_size(t->needs); k++) {
        int v = t->deps[k];
        if (v < 0)
            continue;
        if (color[v] == 1) {
            char text[1024];
            size_t len = 0, from = 0;
            while (stack[from] != (size_t) v)
                from++;
            for (size_t i = from; i <= depth && len < sizeof text; i++)
                len += (size_t) snprintf(text + len, sizeof text - len,
                                         "%s -> ", tasks[stack[i]].id);
            if (len < sizeof text)
                snprintf(text + len, sizeof text - len, "%s", tasks[v].id);
            s_err(e, "cycle: %s", text);
            return true;
        }
        if (color[v] == 0
            && s_cycle_from(e, tasks, (size_t) v, color, stack, depth + 1))
            return true;
    }
    color[at] = 2;
    return false;
}

static void
s_cycles(s_errs_t *e, const s_task_t *tasks, size_t count)
{
    unsigned char *color = orcs_calloc(count, 1);
    size_t *stack = orcs_calloc(count, sizeof *stack);
    for (size_t i = 0; i < count; i++)
        if (color[i] == 0 && tasks[i].id
            && s_cycle_from(e, tasks, i, color, stack, 0))
            break; // one cycle at a time: fixing it may fix the others
    free(stack);
    free(color);
}

// The agent node of a task (and its approval node) into nodes.
static void
s_emit(json_t *nodes, const s_task_t *t)
{
    json_t *needs = json_array(); // without repeats
    for (size_t k = 0; k < json_array_size(t->needs); k++) {
        json_t *need = json_array_get(t->needs, k);
        bool seen = false;
        for (size_t i = 0; i < json_array_size(needs); i++)
            seen |= json_equal(json_array_get(needs, i), need);
        if (!seen)
            json_array_append(needs, need);
    }
    char *text = NULL;
    size_t len = 0;
    s_literal(&text, &len, t->title);
    if (t->description && *t->description) {
        s_literal(&text, &len, "\n\n");
        s_literal(&text, &len, t->description);
    }
    if (json_array_size(needs) > 0)
        s_literal(&text, &len, "\n\nResults of earlier tasks:");
    for (size_t k = 0; k < json_array_size(needs); k++) {
        const char *need = json_string_value(json_array_get(needs, k));
        size_t size = 2 * strlen(need) + 64;
        char *part = orcs_malloc(size);
        int n =
            snprintf(part, size, "\n\n%s:\n${{ json(nodes[\"%s\"].output) }}",
                     need, need);
        text = orcs_realloc(text, len + (size_t) n + 1);
        memcpy(text + len, part, (size_t) n + 1);
        len += (size_t) n;
        free(part);
    }
    if (t->approval) {
        char id[ORCS_WF_ID_MAX + 1];
        snprintf(id, sizeof id, "%s" S_APPROVAL, t->id);
        char *prompt = NULL;
        size_t plen = 0;
        s_literal(&prompt, &plen, "Approve task ");
        s_literal(&prompt, &plen, t->id);
        s_literal(&prompt, &plen, ": ");
        s_literal(&prompt, &plen, t->title);
        s_literal(&prompt, &plen, "?");
        json_object_set_new(nodes, id,
                            json_pack("{s:s, s:o, s:s}", "kind", "approval",
                                      "needs", needs, "prompt", prompt));
        free(prompt);
        needs = json_pack("[s]", id);
    }
    json_object_set_new(nodes, t->id,
                        json_pack("{s:s, s:s, s:s, s:o, s:s}", "kind", "agent",
                                  "agent", t->agent, "input", text, "needs",
                                  needs, "description", t->title));
    free(text);
}

// The end node: needs every sink; its output is the output task's, or an
// object of every sink's.
static void
s_end(json_t *nodes, const char *output)
{
    json_t *needed = json_object();
    const char *id;
    json_t *node;
    json_object_foreach(nodes, id, node)
    {
        json_t *needs = json_object_get(node, "needs");
        for (size_t k = 0; k < json_array_size(needs); k++)
            if (json_is_string(json_array_get(needs, k)))
                json_object_set_new(needed,
                                    json_string_value(json_array_get(needs, k)),
                                    json_true());
    }
    json_t *sinks = json_array();
    json_t *all = json_object();
    json_object_foreach(nodes, id, node)
    {
        if (json_object_get(needed, id))
            continue;
        char ref[ORCS_WF_ID_MAX + 32];
        snprintf(ref, sizeof ref, "${{ nodes[\"%s\"].output }}", id);
        json_array_append_new(sinks, json_string(id));
        json_object_set_new(all, id, json_string(ref));
    }
    json_t *out = all;
    if (output) {
        char ref[ORCS_WF_ID_MAX + 32];
        snprintf(ref, sizeof ref, "${{ nodes[\"%s\"].output }}", output);
        json_decref(all);
        out = json_string(ref);
    }
    json_object_set_new(nodes, "end",
                        json_pack("{s:s, s:o, s:o}", "kind", "end", "needs",
                                  sinks, "output", out));
    json_decref(needed);
}

// Checks the plan's shape; returns the tasks array or NULL.
static const json_t *
s_shape(s_errs_t *e,
        const json_t *plan,
        const json_t *roles,
        const json_t *keep)
{
    if (!json_is_object(roles) || json_object_size(roles) == 0)
        s_err(e, "roles must be an object of role names to agent files");
    if (keep && !json_is_object(keep))
        s_err(e, "keep must be an object of node ids to nodes");
    const json_t *tasks = json_object_get(plan, "tasks");
    if (!json_is_object(plan) || !json_is_array(tasks)) {
        s_err(e, "the plan must be an object with a list of tasks: "
                 "{\"tasks\": [{\"id\", \"title\", \"description\", "
                 "\"role\", \"needs\"}]}");
        return NULL;
    }
    if (json_array_size(tasks) == 0)
        s_err(e, "the plan has no tasks");
    if (json_array_size(tasks) > S_TASKS_MAX)
        s_err(e, "the plan has %zu tasks; at most %d", json_array_size(tasks),
              S_TASKS_MAX);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) plan, key, value)
    {
        if (strcmp(key, "tasks") != 0 && strcmp(key, "output") != 0)
            s_err(e, "unknown key '%s' in the plan (keys: tasks, output)", key);
    }
    return e->count ? NULL : tasks;
}

orcs_status
orcs_plan_compile(const json_t *plan,
                  const json_t *roles,
                  const json_t *keep,
                  const char *name,
                  json_t **doc_p,
                  char *err,
                  size_t err_size)
{
    orcs_assert(doc_p);
    *doc_p = NULL;
    if (err_size)
        err[0] = '\0';
    s_errs_t e = {err, err_size, 0, 0};
    const json_t *list = s_shape(&e, plan, roles, keep);
    if (!list)
        return ORCS_EINVAL;
    size_t count = json_array_size(list);
    s_task_t *tasks = orcs_calloc(count, sizeof *tasks);
    for (size_t i = 0; i < count; i++) {
        tasks[i].spec = json_array_get(list, i);
        if (!json_is_object(tasks[i].spec)) {
            s_err(&e, "task %zu: must be an object {" S_KEYS "}", i + 1);
            continue;
        }
        s_check_task(&e, &tasks[i], i, roles, keep);
        int first = tasks[i].id ? s_find(tasks, i, tasks[i].id) : -1;
        if (first >= 0) {
            s_err(&e, "task %zu: duplicate id '%s' (task %d has it)", i + 1,
                  tasks[i].id, first + 1);
            tasks[i].id = NULL;
        }
    }
    for (size_t i = 0; i < count; i++) { // approval ids may clash too
        char id[ORCS_WF_ID_MAX + 16];
        snprintf(id, sizeof id, "%s" S_APPROVAL,
                 tasks[i].id ? tasks[i].id : "");
        if (tasks[i].approval && tasks[i].id
            && (s_find(tasks, count, id) >= 0 || json_object_get(keep, id)))
            s_err(&e,
                  "task '%s': needs_approval adds a node '%s', which is "
                  "already a task id",
                  tasks[i].id, id);
    }
    for (size_t i = 0; i < count; i++)
        s_check_needs(&e, tasks, count, i, keep);
    if (e.count == 0)
        s_cycles(&e, tasks, count);
    const char *output = json_string_value(json_object_get(plan, "output"));
    json_t *out = json_object_get(plan, "output");
    if (out && !json_is_null(out)
        && (!output
            || (s_find(tasks, count, output) < 0
                && !json_object_get(keep, output))))
        s_err(&e, "output must be the id of a task");
    if (e.count == 0) {
        json_t *nodes = json_object();
        const char *id;
        json_t *node;
        json_object_foreach((json_t *) keep, id, node)
        {
            if (strcmp(id, "end") != 0)
                json_object_set_new(nodes, id, json_deep_copy(node));
        }
        for (size_t i = 0; i < count; i++)
            s_emit(nodes, &tasks[i]);
        s_end(nodes, output);
        *doc_p = json_pack("{s:s, s:o}", "workflow", name ? name : "plan",
                           "nodes", nodes);
    }
    for (size_t i = 0; i < count; i++)
        free(tasks[i].deps);
    free(tasks);
    return e.count ? ORCS_EINVAL : ORCS_OK;
}
