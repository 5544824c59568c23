/*  expr.c — the expression language of orcs/expr.h: a hand-written
    recursive-descent parser into a small syntax tree, its destructor, and
    the path visitor. The lexer is in expr_lex.c, evaluation in
    expr_eval.c, functions in expr_fn.c, static checks in expr_infer.c,
    templates in template.c.
    SPDX-License-Identifier: MPL-2.0

    Grammar, loosest first (docs/expressions.md):
      or      := and ("or" and)*
      and     := not ("and" not)*
      not     := "not" not | cmp
      cmp     := add (("==" | "!=" | "<" | "<=" | ">" | ">=") add)?
      add     := mul (("+" | "-") mul)*
      mul     := unary (("*" | "/" | "%") unary)*
      unary   := "-" unary | postfix
      postfix := primary ("." NAME | "[" or "]")*
      primary := NUMBER | STRING | "null" | "true" | "false" | NAME
               | NAME "(" [or ("," or)*] ")" | "(" or ")"
               | "[" [or ("," or)*] "]"
               | "{" [(STRING | NAME) ":" or ("," ...)*] "}"
    Parser recursion and tree height are both capped at ORCS_EXPR_MAX_DEPTH,
    so the evaluator's recursion is bounded too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "workflow/expr_internal.h"

// ---------------------------------------------------------------------------
// Nodes

static orcs__node_t *
s_node_new(orcs__node_kind kind, unsigned col)
{
    orcs__node_t *node = orcs_calloc(1, sizeof *node);
    node->kind = kind;
    node->col = col;
    node->start = col;
    node->height = 1;
    return node;
}

static void
s_node_destroy(orcs__node_t **node_p)
{
    orcs__node_t *node = *node_p;
    if (!node)
        return;
    for (size_t i = 0; i < node->nkids; i++) {
        s_node_destroy(&node->kids[i]);
        if (node->keys)
            free(node->keys[i]);
    }
    free(node->kids);
    free(node->keys);
    free(node->name);
    json_decref(node->lit);
    free(node);
    *node_p = NULL;
}

// Appends kid (taking it) and, for objects, key (taking it).
static void
s_node_add(orcs__node_t *node, orcs__node_t *kid, char *key)
{
    if ((node->nkids & (node->nkids - 1)) == 0) { // 0, 1, 2, 4, ...
        size_t cap = node->nkids ? node->nkids * 2 : 1;
        node->kids = orcs_realloc(node->kids, cap * sizeof *node->kids);
        if (node->kind == ORCS__NODE_OBJECT)
            node->keys = orcs_realloc(node->keys, cap * sizeof *node->keys);
    }
    if (node->kind == ORCS__NODE_OBJECT)
        node->keys[node->nkids] = key;
    node->kids[node->nkids++] = kid;
    if (node->nkids == 1
        && (node->kind == ORCS__NODE_MEMBER || node->kind == ORCS__NODE_INDEX
            || node->kind == ORCS__NODE_BINARY || node->kind == ORCS__NODE_AND
            || node->kind == ORCS__NODE_OR))
        node->start = kid->start; // a.b starts at a, 1 + 2 at 1
    if (kid->height + 1 > node->height)
        node->height = kid->height + 1;
}

void
orcs_expr_destroy(orcs_expr_t **self_p)
{
    orcs_assert(self_p);
    orcs_expr_t *self = *self_p;
    if (!self)
        return;
    s_node_destroy(&self->root);
    free(self);
    *self_p = NULL;
}

// ---------------------------------------------------------------------------
// Parser

static orcs__node_t *s_parse_or(orcs__parser_t *p);
static orcs__node_t *s_parse_unary(orcs__parser_t *p);

// Checks a finished node's height; destroys it and fails when too tall.
static orcs__node_t *
s_check(orcs__parser_t *p, orcs__node_t *node, size_t pos)
{
    if (node && node->height > ORCS_EXPR_MAX_DEPTH) {
        orcs__lex_fail(p, pos, ORCS_ETOOBIG,
                       "expression nested deeper than %u levels",
                       ORCS_EXPR_MAX_DEPTH);
        s_node_destroy(&node);
    }
    return node;
}

static bool
s_enter(orcs__parser_t *p)
{
    if (++p->depth > ORCS_EXPR_MAX_DEPTH) {
        orcs__lex_fail(p, p->tok.start, ORCS_ETOOBIG,
                       "expression nested deeper than %u levels",
                       ORCS_EXPR_MAX_DEPTH);
        return false;
    }
    return true;
}

// Builds kind(lhs, rhs), taking both.
static orcs__node_t *
s_pair(orcs__parser_t *p,
       orcs__node_kind kind,
       orcs__node_t *lhs,
       orcs__node_t *rhs,
       unsigned col,
       size_t pos)
{
    orcs__node_t *node = s_node_new(kind, col);
    s_node_add(node, lhs, NULL);
    s_node_add(node, rhs, NULL);
    return s_check(p, node, pos);
}

static orcs__node_t *
s_number(orcs__parser_t *p, bool negate, size_t minus_pos)
{
    const char *text = p->src + p->tok.start;
    size_t len = p->tok.len;
    json_t *lit = NULL;
    if (p->tok.integer) {
        uint64_t limit = negate ? (uint64_t) INT64_MAX + 1 : INT64_MAX;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned d = (unsigned) (text[i] - '0');
            if (v > (limit - d) / 10) {
                orcs__lex_fail(
                    p, negate ? minus_pos : p->tok.start, ORCS_EPROTO,
                    "integer out of range (int64); write a real such as "
                    "1e20 for bigger numbers");
                return NULL;
            }
            v = v * 10 + d;
        }
        json_int_t i64 =
            negate
                ? (v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(json_int_t) v)
                : (json_int_t) v;
        lit = json_integer(i64);
    } else {
        char buf[ORCS_EXPR_MAX_SIZE + 1];
        memcpy(buf, text, len);
        buf[len] = '\0';
        double d = strtod(buf, NULL);
        if (!isfinite(d)) {
            orcs__lex_fail(p, p->tok.start, ORCS_EPROTO, "number out of range");
            return NULL;
        }
        lit = json_real(negate ? -d : d);
    }
    orcs__node_t *node =
        s_node_new(ORCS__NODE_LITERAL,
                   orcs__lex_col(p, negate ? minus_pos : p->tok.start));
    node->lit = lit;
    return orcs__lex_next(p) ? node : (s_node_destroy(&node), NULL);
}

static int
s_find_fn(const char *name, size_t len)
{
    for (int i = 0; i < ORCS__FN_COUNT; i++)
        if (strlen(orcs__expr_fns[i].name) == len
            && memcmp(orcs__expr_fns[i].name, name, len) == 0)
            return i;
    return -1;
}

// Parses "(" args ")" after a function name at name_pos.
static orcs__node_t *
s_parse_call(orcs__parser_t *p, size_t name_pos, size_t name_len)
{
    const char *name = p->src + name_pos;
    int fn = s_find_fn(name, name_len);
    if (fn < 0) {
        orcs__lex_fail(p, name_pos, ORCS_EPROTO, "unknown function '%.*s'",
                       (int) (name_len > 40 ? 40 : name_len), name);
        return NULL;
    }
    orcs__node_t *node =
        s_node_new(ORCS__NODE_CALL, orcs__lex_col(p, name_pos));
    node->fn = (orcs__fn) fn;
    if (!orcs__lex_next(p)) // the '('
        goto fail;
    if (p->tok.kind != ')') {
        for (;;) {
            orcs__node_t *arg = s_parse_or(p);
            if (!arg)
                goto fail;
            s_node_add(node, arg, NULL);
            if (p->tok.kind == ')')
                break;
            if (p->tok.kind != ',' || node->nkids >= 8) {
                orcs__lex_expected(p, "')' after arguments");
                goto fail;
            }
            if (!orcs__lex_next(p))
                goto fail;
        }
    }
    const orcs__fn_info_t *info = &orcs__expr_fns[fn];
    if (node->nkids != info->nargs) {
        orcs__lex_fail(p, name_pos, ORCS_EPROTO,
                       "%s() takes %u argument%s, got %zu", info->name,
                       info->nargs, info->nargs == 1 ? "" : "s", node->nkids);
        goto fail;
    }
    if (!orcs__lex_next(p))
        goto fail;
    return s_check(p, node, name_pos);
fail:
    s_node_destroy(&node);
    return NULL;
}

static orcs__node_t *
s_parse_array(orcs__parser_t *p)
{
    size_t open = p->tok.start;
    orcs__node_t *node = s_node_new(ORCS__NODE_ARRAY, orcs__lex_col(p, open));
    if (!orcs__lex_next(p))
        goto fail;
    if (p->tok.kind != ']') {
        for (;;) {
            orcs__node_t *item = s_parse_or(p);
            if (!item)
                goto fail;
            s_node_add(node, item, NULL);
            if (p->tok.kind == ']')
                break;
            if (p->tok.kind != ',') {
                orcs__lex_expected(p, "',' or ']' in array");
                goto fail;
            }
            if (!orcs__lex_next(p))
                goto fail;
        }
    }
    if (!orcs__lex_next(p))
        goto fail;
    return s_check(p, node, open);
fail:
    s_node_destroy(&node);
    return NULL;
}

// Reads an object key (string or name) into a new string.
static char *
s_parse_key(orcs__parser_t *p, orcs__node_t *object)
{
    char *key = NULL;
    if (p->tok.kind == ORCS__TOK_STRING) {
        key = p->tok.str;
        p->tok.str = NULL;
    } else if (p->tok.kind == ORCS__TOK_NAME) {
        key = orcs_malloc(p->tok.len + 1);
        memcpy(key, p->src + p->tok.start, p->tok.len);
        key[p->tok.len] = '\0';
    } else {
        orcs__lex_expected(p, "a key (string or name) in object");
        return NULL;
    }
    for (size_t i = 0; i < object->nkids; i++)
        if (strcmp(object->keys[i], key) == 0) {
            orcs__lex_fail(p, p->tok.start, ORCS_EPROTO,
                           "duplicate key '%.40s'", key);
            free(key);
            return NULL;
        }
    if (!orcs__lex_next(p) || p->tok.kind != ':') {
        orcs__lex_expected(p, "':' after key");
        free(key);
        return NULL;
    }
    if (!orcs__lex_next(p)) {
        free(key);
        return NULL;
    }
    return key;
}

static orcs__node_t *
s_parse_object(orcs__parser_t *p)
{
    size_t open = p->tok.start;
    orcs__node_t *node = s_node_new(ORCS__NODE_OBJECT, orcs__lex_col(p, open));
    if (!orcs__lex_next(p))
        goto fail;
    if (p->tok.kind != '}') {
        for (;;) {
            char *key = s_parse_key(p, node);
            if (!key)
                goto fail;
            orcs__node_t *value = s_parse_or(p);
            if (!value) {
                free(key);
                goto fail;
            }
            s_node_add(node, value, key);
            if (p->tok.kind == '}')
                break;
            if (p->tok.kind != ',') {
                orcs__lex_expected(p, "',' or '}' in object");
                goto fail;
            }
            if (!orcs__lex_next(p))
                goto fail;
        }
    }
    if (!orcs__lex_next(p))
        goto fail;
    return s_check(p, node, open);
fail:
    s_node_destroy(&node);
    return NULL;
}

static orcs__node_t *
s_parse_primary(orcs__parser_t *p, bool negate, size_t minus_pos)
{
    size_t start = p->tok.start;
    if (p->tok.kind == ORCS__TOK_NUMBER)
        return s_number(p, negate, minus_pos);
    orcs__node_t *node = NULL;
    if (p->tok.kind == ORCS__TOK_STRING) {
        node = s_node_new(ORCS__NODE_LITERAL, orcs__lex_col(p, start));
        node->lit = json_stringn(p->tok.str, p->tok.str_len);
        orcs_assert(node->lit); // valid UTF-8, checked by the lexer
    } else if (orcs__lex_is_name(p, "null") || orcs__lex_is_name(p, "true")
               || orcs__lex_is_name(p, "false")) {
        node = s_node_new(ORCS__NODE_LITERAL, orcs__lex_col(p, start));
        node->lit = orcs__lex_is_name(p, "null")   ? json_null()
                    : orcs__lex_is_name(p, "true") ? json_true()
                                                   : json_false();
    } else if (p->tok.kind == ORCS__TOK_NAME && !orcs__lex_is_keyword(p)) {
        size_t len = p->tok.len;
        if (!orcs__lex_next(p))
            return NULL;
        if (p->tok.kind == '(')
            return s_parse_call(p, start, len);
        node = s_node_new(ORCS__NODE_ROOT, orcs__lex_col(p, start));
        node->name = orcs_malloc(len + 1);
        memcpy(node->name, p->src + start, len);
        node->name[len] = '\0';
        return node; // already past the name
    } else if (p->tok.kind == '(') {
        if (!orcs__lex_next(p) || !(node = s_parse_or(p)))
            return NULL;
        if (p->tok.kind != ')') {
            char what[64];
            snprintf(what, sizeof what, "')' to close '(' at column %u",
                     orcs__lex_col(p, start));
            orcs__lex_expected(p, what);
            s_node_destroy(&node);
            return NULL;
        }
    } else if (p->tok.kind == '[')
        return s_parse_array(p);
    else if (p->tok.kind == '{')
        return s_parse_object(p);
    else {
        orcs__lex_expected(p, "an expression");
        return NULL;
    }
    if (!orcs__lex_next(p))
        s_node_destroy(&node);
    return node;
}

// primary, then ".name" and "[index]" suffixes.
static orcs__node_t *
s_parse_postfix(orcs__parser_t *p, bool negate, size_t minus_pos)
{
    orcs__node_t *node = s_parse_primary(p, negate, minus_pos);
    while (node && (p->tok.kind == '.' || p->tok.kind == '[')) {
        size_t at = p->tok.start;
        bool dot = p->tok.kind == '.';
        if (!orcs__lex_next(p))
            goto fail;
        orcs__node_t *member =
            s_node_new(ORCS__NODE_MEMBER, orcs__lex_col(p, at));
        if (dot) {
            if (p->tok.kind != ORCS__TOK_NAME) {
                s_node_destroy(&member);
                orcs__lex_expected(p, "a member name after '.'");
                goto fail;
            }
            member->name = orcs_malloc(p->tok.len + 1);
            memcpy(member->name, p->src + p->tok.start, p->tok.len);
            member->name[p->tok.len] = '\0';
        }
        orcs__node_t *index = NULL;
        if (!dot) {
            index = s_parse_or(p);
            if (!index || p->tok.kind != ']') {
                if (index)
                    orcs__lex_expected(p, "']' after index");
                s_node_destroy(&index);
                s_node_destroy(&member);
                goto fail;
            }
            if (index->kind == ORCS__NODE_LITERAL
                && json_is_string(index->lit)) {
                member->name = orcs_strdup(json_string_value(index->lit));
                s_node_destroy(&index); // a["b"] is a.b
            } else
                member->kind = ORCS__NODE_INDEX;
        }
        s_node_add(member, node, NULL);
        if (index)
            s_node_add(member, index, NULL);
        node = s_check(p, member, at);
        if (node && !orcs__lex_next(p))
            goto fail;
    }
    return node;
fail:
    s_node_destroy(&node);
    return NULL;
}

static orcs__node_t *
s_parse_unary(orcs__parser_t *p)
{
    if (p->tok.kind != '-')
        return s_parse_postfix(p, false, 0);
    size_t at = p->tok.start;
    if (!orcs__lex_next(p))
        return NULL;
    if (p->tok.kind == ORCS__TOK_NUMBER)
        return s_parse_postfix(p, true, at); // folds -5 into a literal
    if (!s_enter(p))
        return NULL;
    orcs__node_t *operand = s_parse_unary(p);
    p->depth--;
    if (!operand)
        return NULL;
    orcs__node_t *node = s_node_new(ORCS__NODE_NEG, orcs__lex_col(p, at));
    s_node_add(node, operand, NULL);
    return s_check(p, node, at);
}

static orcs__node_t *
s_parse_mul(orcs__parser_t *p)
{
    orcs__node_t *node = s_parse_unary(p);
    while (
        node
        && (p->tok.kind == '*' || p->tok.kind == '/' || p->tok.kind == '%')) {
        size_t at = p->tok.start;
        orcs__op op = p->tok.kind == '*'   ? ORCS__OP_MUL
                      : p->tok.kind == '/' ? ORCS__OP_DIV
                                           : ORCS__OP_MOD;
        orcs__node_t *rhs = orcs__lex_next(p) ? s_parse_unary(p) : NULL;
        if (!rhs) {
            s_node_destroy(&node);
            return NULL;
        }
        node =
            s_pair(p, ORCS__NODE_BINARY, node, rhs, orcs__lex_col(p, at), at);
        if (node)
            node->op = op;
    }
    return node;
}

static orcs__node_t *
s_parse_add(orcs__parser_t *p)
{
    orcs__node_t *node = s_parse_mul(p);
    while (node && (p->tok.kind == '+' || p->tok.kind == '-')) {
        size_t at = p->tok.start;
        orcs__op op = p->tok.kind == '+' ? ORCS__OP_ADD : ORCS__OP_SUB;
        orcs__node_t *rhs = orcs__lex_next(p) ? s_parse_mul(p) : NULL;
        if (!rhs) {
            s_node_destroy(&node);
            return NULL;
        }
        node =
            s_pair(p, ORCS__NODE_BINARY, node, rhs, orcs__lex_col(p, at), at);
        if (node)
            node->op = op;
    }
    return node;
}

// The comparison operator of the current token, or -1.
static int
s_cmp_op(const orcs__parser_t *p)
{
    switch (p->tok.kind) {
        case ORCS__TOK_EQ:
            return ORCS__OP_EQ;
        case ORCS__TOK_NE:
            return ORCS__OP_NE;
        case '<':
            return ORCS__OP_LT;
        case ORCS__TOK_LE:
            return ORCS__OP_LE;
        case '>':
            return ORCS__OP_GT;
        case ORCS__TOK_GE:
            return ORCS__OP_GE;
        default:
            return -1;
    }
}

static orcs__node_t *
s_parse_cmp(orcs__parser_t *p)
{
    orcs__node_t *node = s_parse_add(p);
    int op = node ? s_cmp_op(p) : -1;
    if (op < 0)
        return node;
    size_t at = p->tok.start;
    orcs__node_t *rhs = orcs__lex_next(p) ? s_parse_add(p) : NULL;
    if (!rhs) {
        s_node_destroy(&node);
        return NULL;
    }
    node = s_pair(p, ORCS__NODE_BINARY, node, rhs, orcs__lex_col(p, at), at);
    if (node)
        node->op = (orcs__op) op;
    if (node && s_cmp_op(p) >= 0) {
        orcs__lex_fail(p, p->tok.start, ORCS_EPROTO,
                       "comparisons cannot be chained; join them with 'and'");
        s_node_destroy(&node);
    }
    return node;
}

static orcs__node_t *
s_parse_not(orcs__parser_t *p)
{
    if (!orcs__lex_is_name(p, "not"))
        return s_parse_cmp(p);
    size_t at = p->tok.start;
    if (!orcs__lex_next(p) || !s_enter(p))
        return NULL;
    orcs__node_t *operand = s_parse_not(p);
    p->depth--;
    if (!operand)
        return NULL;
    orcs__node_t *node = s_node_new(ORCS__NODE_NOT, orcs__lex_col(p, at));
    s_node_add(node, operand, NULL);
    return s_check(p, node, at);
}

static orcs__node_t *
s_parse_and(orcs__parser_t *p)
{
    orcs__node_t *node = s_parse_not(p);
    while (node && orcs__lex_is_name(p, "and")) {
        size_t at = p->tok.start;
        orcs__node_t *rhs = orcs__lex_next(p) ? s_parse_not(p) : NULL;
        if (!rhs) {
            s_node_destroy(&node);
            return NULL;
        }
        node = s_pair(p, ORCS__NODE_AND, node, rhs, orcs__lex_col(p, at), at);
    }
    return node;
}

static orcs__node_t *
s_parse_or(orcs__parser_t *p)
{
    if (!s_enter(p))
        return NULL;
    orcs__node_t *node = s_parse_and(p);
    while (node && orcs__lex_is_name(p, "or")) {
        size_t at = p->tok.start;
        orcs__node_t *rhs = orcs__lex_next(p) ? s_parse_and(p) : NULL;
        if (!rhs) {
            s_node_destroy(&node);
            break;
        }
        node = s_pair(p, ORCS__NODE_OR, node, rhs, orcs__lex_col(p, at), at);
    }
    p->depth--;
    return node;
}

orcs_status
orcs__expr_parse_at(const char *src,
                    size_t src_size,
                    unsigned col_base,
                    orcs_expr_t **expr_p,
                    char *err,
                    size_t err_size)
{
    orcs_assert(expr_p);
    orcs_assert(src || src_size == 0);
    *expr_p = NULL;
    if (err && err_size > 0)
        err[0] = '\0';
    orcs__parser_t p = {.src = src ? src : "",
                        .size = src_size,
                        .col_base = col_base,
                        .err = err,
                        .err_size = err_size};
    if (src_size > ORCS_EXPR_MAX_SIZE) {
        orcs__expr_errf(err, err_size,
                        "column %u: expression is longer than %u bytes",
                        col_base + 1, ORCS_EXPR_MAX_SIZE);
        return ORCS_ETOOBIG;
    }
    orcs__node_t *root = NULL;
    if (orcs__lex_next(&p))
        root = s_parse_or(&p);
    if (root && p.tok.kind != ORCS__TOK_EOF) {
        orcs__lex_expected(&p, "an operator or the end");
        s_node_destroy(&root);
    }
    free(p.tok.str);
    if (!root) {
        orcs_assert(p.rc != ORCS_OK);
        return p.rc;
    }
    orcs_expr_t *self = orcs_calloc(1, sizeof *self);
    self->root = root;
    *expr_p = self;
    return ORCS_OK;
}

orcs_status
orcs_expr_parse(const char *src,
                size_t src_size,
                orcs_expr_t **expr_p,
                char *err,
                size_t err_size)
{
    return orcs__expr_parse_at(src, src_size, 0, expr_p, err, err_size);
}

// ---------------------------------------------------------------------------
// Paths

static bool s_visit(const orcs__node_t *node, orcs_expr_path_fn *fn, void *arg);

// Visits a chain of .member and [index] suffixes ending in node.
static bool
s_visit_chain(const orcs__node_t *node, orcs_expr_path_fn *fn, void *arg)
{
    const orcs__node_t *chain[ORCS_EXPR_MAX_DEPTH + 1];
    size_t n = 0;
    const orcs__node_t *at = node;
    while (at->kind == ORCS__NODE_MEMBER || at->kind == ORCS__NODE_INDEX) {
        orcs_assert(n < ORCS_EXPR_MAX_DEPTH);
        chain[n++] = at;
        at = at->kids[0];
    }
    if (at->kind == ORCS__NODE_ROOT) {
        json_t *segments = json_array();
        json_array_append_new(segments, json_string(at->name));
        for (size_t i = n; i-- > 0;) {
            const orcs__node_t *link = chain[i];
            if (link->kind == ORCS__NODE_MEMBER)
                json_array_append_new(segments, json_string(link->name));
            else if (link->kids[1]->kind == ORCS__NODE_LITERAL
                     && json_is_integer(link->kids[1]->lit))
                json_array_append(segments, link->kids[1]->lit);
            else
                break; // a computed index ends the list
        }
        bool go_on = fn(segments, arg);
        json_decref(segments);
        if (!go_on)
            return false;
    } else if (!s_visit(at, fn, arg))
        return false;
    for (size_t i = n; i-- > 0;)
        if (chain[i]->kind == ORCS__NODE_INDEX
            && !s_visit(chain[i]->kids[1], fn, arg))
            return false;
    return true;
}

static bool
s_visit(const orcs__node_t *node, orcs_expr_path_fn *fn, void *arg)
{
    if (node->kind == ORCS__NODE_ROOT || node->kind == ORCS__NODE_MEMBER
        || node->kind == ORCS__NODE_INDEX)
        return s_visit_chain(node, fn, arg);
    for (size_t i = 0; i < node->nkids; i++)
        if (!s_visit(node->kids[i], fn, arg))
            return false;
    return true;
}

void
orcs_expr_paths(const orcs_expr_t *self, orcs_expr_path_fn *fn, void *arg)
{
    orcs_assert(self);
    orcs_assert(fn);
    s_visit(self->root, fn, arg);
}
