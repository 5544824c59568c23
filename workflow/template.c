/*  template.c — `${{ }}` templates (orcs/expr.h): JSON values whose
    strings hold expressions. Compiling keeps a copy of the value with the
    constant strings already unescaped, and a list of "holes": the strings
    that hold expressions, each with where it sits and its parts (literal
    text and expressions). Rendering copies the value and fills the holes.
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "workflow/expr_internal.h"

#define S_ERR_MAX 512 // bytes of an expression's own message

typedef struct {
    char *text;        // literal text (owned), when expr is NULL
    size_t len;        // its bytes
    orcs_expr_t *expr; // or an expression (owned)
} s_part_t;

typedef struct {
    json_t *where;   // segments from the root: strings and integers
    char *json_path; // "$.args.url"
    bool whole;      // the string is one `${{ }}`: keep the value's type
    s_part_t *parts;
    size_t nparts;
} s_hole_t;

struct orcs_template_t {
    json_t *value; // with holes still holding the source strings
    s_hole_t *holes;
    size_t nholes;
};

typedef struct {
    orcs_template_t *self;
    json_t *where;    // segments of the value being walked
    orcs__buf_t path; // JSON path of the value being walked
    char *err;
    size_t err_size;
} s_compiler_t;

// ---------------------------------------------------------------------------
// Holes

static void
s_hole_free(s_hole_t *hole)
{
    for (size_t i = 0; i < hole->nparts; i++) {
        free(hole->parts[i].text);
        orcs_expr_destroy(&hole->parts[i].expr);
    }
    free(hole->parts);
    free(hole->json_path);
    json_decref(hole->where);
}

void
orcs_template_destroy(orcs_template_t **self_p)
{
    orcs_assert(self_p);
    orcs_template_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nholes; i++)
        s_hole_free(&self->holes[i]);
    free(self->holes);
    json_decref(self->value);
    free(self);
    *self_p = NULL;
}

static void
s_add_part(s_hole_t *hole, const char *text, size_t len, orcs_expr_t *expr)
{
    if (!expr && len == 0)
        return;
    hole->parts =
        orcs_realloc(hole->parts, (hole->nparts + 1) * sizeof *hole->parts);
    s_part_t *part = &hole->parts[hole->nparts++];
    part->text = NULL;
    part->len = len;
    part->expr = expr;
    if (!expr) {
        part->text = orcs_malloc(len + 1);
        memcpy(part->text, text, len);
        part->text[len] = '\0';
    }
}

static bool
s_starts(const char *s, size_t n, size_t i, const char *with)
{
    size_t len = strlen(with);
    return n - i >= len && memcmp(s + i, with, len) == 0;
}

// Finds the "}}" that closes an expression starting at s[i], skipping
// quoted strings and balanced braces; n when there is none.
static size_t
s_find_close(const char *s, size_t n, size_t i)
{
    char quote = 0;
    size_t depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (quote) {
            if (c == '\\')
                i++;
            else if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'')
            quote = c;
        else if (c == '{')
            depth++;
        else if (c == '}' && depth > 0)
            depth--;
        else if (c == '}' && i + 1 < n && s[i + 1] == '}')
            return i;
    }
    return n;
}

// Splits a string into literal text and expressions. Returns ORCS_OK with
// the parts in *hole (no expression parts when the string is constant).
static orcs_status
s_scan(s_compiler_t *c, const char *s, size_t n, s_hole_t *hole)
{
    orcs__buf_t lit = {0};
    orcs_status rc = orcs__buf_put(&lit, "", 0);
    size_t i = 0;
    while (rc == ORCS_OK && i < n) {
        if (s_starts(s, n, i, "$${{")) {
            rc = orcs__buf_put(&lit, "${{", 3);
            i += 4;
            continue;
        }
        if (!s_starts(s, n, i, "${{")) {
            rc = orcs__buf_put(&lit, s + i, 1);
            i++;
            continue;
        }
        size_t start = i + 3;
        size_t end = s_find_close(s, n, start);
        if (end >= n) {
            orcs__expr_errf(c->err, c->err_size,
                            "%s: column %zu: unclosed '${{'", c->path.data,
                            orcs__utf8_count(s, i) + 1);
            rc = ORCS_EPROTO;
            break;
        }
        orcs_expr_t *expr = NULL;
        char what[S_ERR_MAX];
        rc = orcs__expr_parse_at(s + start, end - start,
                                 (unsigned) orcs__utf8_count(s, start), &expr,
                                 what, sizeof what);
        if (rc != ORCS_OK) {
            orcs__expr_errf(c->err, c->err_size, "%s: %s", c->path.data, what);
            break;
        }
        s_add_part(hole, lit.data, lit.len, NULL);
        lit.len = 0;
        s_add_part(hole, NULL, 0, expr);
        i = end + 2;
    }
    if (rc == ORCS_OK)
        s_add_part(hole, lit.data, lit.len, NULL);
    else if (rc == ORCS_ETOOBIG && c->err && c->err[0] == '\0')
        orcs__expr_errf(c->err, c->err_size, "%s: string too long",
                        c->path.data);
    orcs__buf_free(&lit);
    return rc;
}

// Compiles one string: a hole when it holds expressions, else the
// unescaped text in *constant_p.
static orcs_status
s_string(s_compiler_t *c, const json_t *value, json_t **constant_p)
{
    s_hole_t hole = {0};
    orcs_status rc =
        s_scan(c, json_string_value(value), json_string_length(value), &hole);
    bool has_expr = false;
    for (size_t i = 0; i < hole.nparts; i++)
        has_expr = has_expr || hole.parts[i].expr;
    if (rc != ORCS_OK || !has_expr) {
        if (rc == ORCS_OK)
            *constant_p = hole.nparts ? json_stringn_nocheck(hole.parts[0].text,
                                                             hole.parts[0].len)
                                      : json_string("");
        s_hole_free(&hole);
        return rc;
    }
    orcs_template_t *self = c->self;
    hole.where = json_copy(c->where);
    hole.json_path = orcs_strdup(c->path.data);
    hole.whole = hole.nparts == 1;
    self->holes =
        orcs_realloc(self->holes, (self->nholes + 1) * sizeof *self->holes);
    self->holes[self->nholes++] = hole;
    *constant_p = json_null(); // filled at render time
    return ORCS_OK;
}

static bool
s_is_plain_key(const char *key)
{
    if (!((*key >= 'a' && *key <= 'z') || (*key >= 'A' && *key <= 'Z')
          || *key == '_'))
        return false;
    for (const char *k = key; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z')
              || (*k >= '0' && *k <= '9') || *k == '_'))
            return false;
    return true;
}

static orcs_status s_walk(s_compiler_t *c, const json_t *value, json_t **out_p);

// Walks a member or an item: pushes its segment and path, walks, pops.
static orcs_status
s_walk_child(s_compiler_t *c,
             const json_t *child,
             const char *key,
             size_t index,
             json_t **out_p)
{
    size_t path_len = c->path.len;
    orcs_status rc;
    char num[32];
    if (key && s_is_plain_key(key)) {
        rc = orcs__buf_put(&c->path, ".", 1);
        if (rc == ORCS_OK)
            rc = orcs__buf_put(&c->path, key, strlen(key));
    } else if (key) {
        json_t *quoted = json_string_nocheck(key);
        rc = orcs__buf_put(&c->path, "[", 1);
        if (rc == ORCS_OK)
            rc = orcs__buf_put_json(&c->path, quoted);
        if (rc == ORCS_OK)
            rc = orcs__buf_put(&c->path, "]", 1);
        json_decref(quoted);
    } else {
        snprintf(num, sizeof num, "[%zu]", index);
        rc = orcs__buf_put(&c->path, num, strlen(num));
    }
    if (rc != ORCS_OK) {
        orcs__expr_errf(c->err, c->err_size, "JSON path too long");
        return ORCS_ETOOBIG;
    }
    json_array_append_new(c->where, key ? json_string_nocheck(key)
                                        : json_integer((json_int_t) index));
    rc = s_walk(c, child, out_p);
    json_array_remove(c->where, json_array_size(c->where) - 1);
    c->path.len = path_len;
    c->path.data[path_len] = '\0';
    return rc;
}

// Copies value into *out_p, compiling its strings.
static orcs_status
s_walk(s_compiler_t *c, const json_t *value, json_t **out_p)
{
    *out_p = NULL;
    orcs_status rc = ORCS_OK;
    if (json_is_string(value))
        return s_string(c, value, out_p);
    if (json_is_array(value)) {
        json_t *copy = json_array();
        for (size_t i = 0; rc == ORCS_OK && i < json_array_size(value); i++) {
            json_t *item = NULL;
            rc = s_walk_child(c, json_array_get(value, i), NULL, i, &item);
            if (rc == ORCS_OK)
                json_array_append_new(copy, item);
        }
        *out_p = copy;
    } else if (json_is_object(value)) {
        json_t *copy = json_object();
        const char *key;
        json_t *member;
        json_object_foreach((json_t *) value, key, member)
        {
            json_t *item = NULL;
            rc = s_walk_child(c, member, key, 0, &item);
            if (rc != ORCS_OK)
                break;
            json_object_set_new_nocheck(copy, key, item);
        }
        *out_p = copy;
    } else
        *out_p = json_deep_copy(value); // null, booleans, numbers
    if (rc != ORCS_OK) {
        json_decref(*out_p);
        *out_p = NULL;
    }
    return rc;
}

orcs_status
orcs_template_compile(const json_t *value,
                      orcs_template_t **template_p,
                      char *err,
                      size_t err_size)
{
    orcs_assert(value);
    orcs_assert(template_p);
    *template_p = NULL;
    if (err && err_size > 0)
        err[0] = '\0';
    orcs_template_t *self = orcs_calloc(1, sizeof *self);
    s_compiler_t c = {
        .self = self, .where = json_array(), .err = err, .err_size = err_size};
    orcs_status rc = orcs__buf_put(&c.path, "$", 1);
    if (rc == ORCS_OK)
        rc = s_walk(&c, value, &self->value);
    json_decref(c.where);
    orcs__buf_free(&c.path);
    if (rc != ORCS_OK) {
        orcs_template_destroy(&self);
        return rc;
    }
    *template_p = self;
    return ORCS_OK;
}

bool
orcs_template_is_constant(const orcs_template_t *self)
{
    orcs_assert(self);
    return self->nholes == 0;
}

// ---------------------------------------------------------------------------
// Rendering

static orcs_status
s_render_hole(const s_hole_t *hole,
              const json_t *ctx,
              json_t **value_p,
              char *err,
              size_t err_size)
{
    char what[S_ERR_MAX] = "";
    orcs_status rc = ORCS_OK;
    if (hole->whole) {
        rc = orcs_expr_eval(hole->parts[0].expr, ctx, value_p, what,
                            sizeof what);
        if (rc == ORCS_OK) {
            json_t *copy = json_deep_copy(*value_p); // not shared with ctx
            json_decref(*value_p);
            *value_p = copy;
        }
        goto done;
    }
    orcs__buf_t buf = {0};
    rc = orcs__buf_put(&buf, "", 0);
    for (size_t i = 0; rc == ORCS_OK && i < hole->nparts; i++) {
        const s_part_t *part = &hole->parts[i];
        if (!part->expr) {
            rc = orcs__buf_put(&buf, part->text, part->len);
            continue;
        }
        json_t *value = NULL;
        rc = orcs_expr_eval(part->expr, ctx, &value, what, sizeof what);
        if (rc == ORCS_OK)
            rc = orcs__buf_put_text(&buf, value);
        json_decref(value);
    }
    if (rc == ORCS_OK)
        *value_p = json_stringn_nocheck(buf.data, buf.len);
    else if (what[0] == '\0')
        snprintf(what, sizeof what, "%s",
                 rc == ORCS_ETOOBIG ? "string would be too long"
                                    : "value nested too deeply");
    orcs__buf_free(&buf);
done:
    if (rc != ORCS_OK)
        orcs__expr_errf(err, err_size, "%s: %s", hole->json_path, what);
    return rc;
}

// Replaces the value at where (inside root) with value (taken).
static void
s_place(json_t *root, const json_t *where, json_t *value)
{
    json_t *at = root;
    size_t n = json_array_size(where);
    for (size_t i = 0; i + 1 < n; i++) {
        const json_t *seg = json_array_get(where, i);
        at = json_is_string(seg)
                 ? json_object_get(at, json_string_value(seg))
                 : json_array_get(at, (size_t) json_integer_value(seg));
    }
    const json_t *last = json_array_get(where, n - 1);
    if (json_is_string(last))
        json_object_set_new_nocheck(at, json_string_value(last), value);
    else
        json_array_set_new(at, (size_t) json_integer_value(last), value);
}

orcs_status
orcs_template_render(const orcs_template_t *self,
                     const json_t *ctx,
                     json_t **value_p,
                     char *err,
                     size_t err_size)
{
    orcs_assert(self);
    orcs_assert(value_p);
    *value_p = NULL;
    if (err && err_size > 0)
        err[0] = '\0';
    json_t *out = json_deep_copy(self->value);
    for (size_t i = 0; i < self->nholes; i++) {
        const s_hole_t *hole = &self->holes[i];
        json_t *value = NULL;
        orcs_status rc = s_render_hole(hole, ctx, &value, err, err_size);
        if (rc != ORCS_OK) {
            json_decref(out);
            return rc;
        }
        if (json_array_size(hole->where) == 0) { // the root string
            json_decref(out);
            out = value;
        } else
            s_place(out, hole->where, value);
    }
    *value_p = out;
    return ORCS_OK;
}

void
orcs_template_exprs(const orcs_template_t *self,
                    orcs_template_expr_fn *fn,
                    void *arg)
{
    orcs_assert(self);
    orcs_assert(fn);
    for (size_t i = 0; i < self->nholes; i++) {
        const s_hole_t *hole = &self->holes[i];
        for (size_t k = 0; k < hole->nparts; k++)
            if (hole->parts[k].expr
                && !fn(hole->parts[k].expr, hole->json_path, hole->whole, arg))
                return;
    }
}
