/*  expr_internal.h — what the files of the expression language share: the
    syntax tree (expr.c builds it, expr_eval.c runs it, expr_infer.c checks
    it), the built-in function table, and the column-offset parser that
    template.c uses. Private to workflow/.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_EXPR_INTERNAL_H_INCLUDED
#define ORCS_EXPR_INTERNAL_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orcs/expr.h"

// Arrays built by an expression (+, split, keys) hold at most this many
// items; strings at most ORCS_EXPR_MAX_RESULT bytes.
#define ORCS__EXPR_MAX_ITEMS (ORCS_EXPR_MAX_RESULT / 16)

typedef enum {
    ORCS__NODE_LITERAL, // lit
    ORCS__NODE_ROOT,    // name: first identifier of a path
    ORCS__NODE_MEMBER,  // kids[0].name
    ORCS__NODE_INDEX,   // kids[0][kids[1]]
    ORCS__NODE_ARRAY,   // [kids...]
    ORCS__NODE_OBJECT,  // {keys[i]: kids[i]...}
    ORCS__NODE_NEG,     // -kids[0]
    ORCS__NODE_NOT,     // not kids[0]
    ORCS__NODE_AND,     // kids[0] and kids[1]
    ORCS__NODE_OR,      // kids[0] or kids[1]
    ORCS__NODE_BINARY,  // kids[0] op kids[1]
    ORCS__NODE_CALL     // fn(kids...)
} orcs__node_kind;

typedef enum {
    ORCS__OP_EQ,
    ORCS__OP_NE,
    ORCS__OP_LT,
    ORCS__OP_LE,
    ORCS__OP_GT,
    ORCS__OP_GE,
    ORCS__OP_ADD,
    ORCS__OP_SUB,
    ORCS__OP_MUL,
    ORCS__OP_DIV,
    ORCS__OP_MOD
} orcs__op;

typedef enum {
    ORCS__FN_LEN,
    ORCS__FN_KEYS,
    ORCS__FN_CONTAINS,
    ORCS__FN_LOWER,
    ORCS__FN_UPPER,
    ORCS__FN_TRIM,
    ORCS__FN_STARTSWITH,
    ORCS__FN_ENDSWITH,
    ORCS__FN_JOIN,
    ORCS__FN_SPLIT,
    ORCS__FN_JSON,
    ORCS__FN_FROM_JSON,
    ORCS__FN_DEFAULT,
    ORCS__FN_INT,
    ORCS__FN_FLOAT,
    ORCS__FN_STR,
    ORCS__FN_BOOL,
    ORCS__FN_COUNT
} orcs__fn;

// Type masks for function arguments: bit (1 << orcs_expr_type).
#define ORCS__T(type) (1u << (type))
#define ORCS__T_ANYTHING                                     \
    (ORCS__T(ORCS_EXPR_NULL) | ORCS__T(ORCS_EXPR_BOOLEAN)    \
     | ORCS__T(ORCS_EXPR_NUMBER) | ORCS__T(ORCS_EXPR_STRING) \
     | ORCS__T(ORCS_EXPR_ARRAY) | ORCS__T(ORCS_EXPR_OBJECT))

typedef struct {
    const char *name;      // as written in expressions
    unsigned nargs;        // exact number of arguments
    unsigned args[2];      // ORCS__T masks of what each argument may be
    orcs_expr_type result; // ORCS_EXPR_ANY when it depends
} orcs__fn_info_t;

// The built-in functions, indexed by orcs__fn.
extern const orcs__fn_info_t orcs__expr_fns[ORCS__FN_COUNT];

typedef struct orcs__node_t orcs__node_t;
struct orcs__node_t {
    orcs__node_kind kind;
    orcs__op op;         // BINARY
    orcs__fn fn;         // CALL
    unsigned col;        // 1-based column (code points) of the node
    unsigned start;      // column where its source starts (<= col)
    unsigned height;     // 1 + the tallest kid
    json_t *lit;         // LITERAL: the value (owned)
    char *name;          // ROOT, MEMBER: NUL-terminated, valid UTF-8
    orcs__node_t **kids; // owned
    char **keys;         // OBJECT: one per kid (owned)
    size_t nkids;
};

struct orcs_expr_t {
    orcs__node_t *root;
};

// Token kinds beyond one-byte punctuation (which is the character).
enum {
    ORCS__TOK_EOF = 256,
    ORCS__TOK_NUMBER,
    ORCS__TOK_STRING,
    ORCS__TOK_NAME,
    ORCS__TOK_EQ, // ==
    ORCS__TOK_NE, // !=
    ORCS__TOK_LE, // <=
    ORCS__TOK_GE  // >=
};

// One token of the lexer.
typedef struct {
    int kind;     // a character for one-byte punctuation, else ORCS__TOK_*
    size_t start; // offset in the source
    size_t len;   // bytes of source
    bool integer; // ORCS__TOK_NUMBER: no fraction and no exponent
    char *str;    // ORCS__TOK_STRING: decoded, NUL-terminated (owned)
    size_t str_len;
} orcs__tok_t;

// Lexer and parser state (expr_lex.c, expr.c).
typedef struct {
    const char *src;
    size_t size;
    size_t pos;        // next byte to lex
    unsigned col_base; // columns before src (templates)
    orcs__tok_t tok;   // current token
    unsigned depth;    // recursion of sub-expressions
    orcs_status rc;    // first error
    char *err;
    size_t err_size;
} orcs__parser_t;

// Moves p to the next token; false (p->rc set) on a lexical error.
bool orcs__lex_next(orcs__parser_t *p);

// 1-based column of byte pos of the source, in code points.
unsigned orcs__lex_col(const orcs__parser_t *p, size_t pos);

// Records the first error as "column N: what" with status rc.
void orcs__lex_fail(orcs__parser_t *p,
                    size_t pos,
                    orcs_status rc,
                    const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

// Fails at the current token with "expected WHAT, got ...".
void orcs__lex_expected(orcs__parser_t *p, const char *what);

// True when the current token is the name (or keyword) given.
bool orcs__lex_is_name(const orcs__parser_t *p, const char *name);

// True when the current token is and, or, not, null, true or false.
bool orcs__lex_is_keyword(const orcs__parser_t *p);

// orcs_expr_parse, with columns counted from col_base + 1 (template.c
// parses expressions in the middle of a string).
orcs_status orcs__expr_parse_at(const char *src,
                                size_t src_size,
                                unsigned col_base,
                                orcs_expr_t **expr_p,
                                char *err,
                                size_t err_size);

// Writes a formatted message into err (err_size bytes, NUL-terminated when
// err_size > 0).
void orcs__expr_errf(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// The type of a JSON value.
orcs_expr_type orcs__expr_type_of(const json_t *value);

// State of one evaluation (expr_eval.c; functions in expr_fn.c).
typedef struct {
    const json_t *ctx; // the roots (borrowed)
    char *err;
    size_t err_size;
    unsigned depth; // recursion, bounded as the parser bounds height
} orcs__eval_t;

// Evaluates node into a new reference in *value_p.
orcs_status orcs__expr_eval_node(orcs__eval_t *e,
                                 const orcs__node_t *node,
                                 json_t **value_p);

// Calls the built-in function of a CALL node.
orcs_status
orcs__expr_call(orcs__eval_t *e, const orcs__node_t *node, json_t **value_p);

// Writes the message into e->err and returns rc.
orcs_status
orcs__expr_fail(orcs__eval_t *e, orcs_status rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Deep equality with 1 == 1.0.
bool orcs__expr_equal(const json_t *a, const json_t *b);

// Describes a type mask: "a string, array or object".
void orcs__expr_mask_desc(unsigned mask, char *out, size_t out_size);

// Writes why fn cannot take a value of type got as argument i (0-based):
// "len() takes a string, array or object, got number".
void orcs__expr_fn_mismatch(
    orcs__fn fn, size_t i, orcs_expr_type got, char *out, size_t out_size);

// Truthiness: null, false, 0, 0.0, "", [] and {} are false.
bool orcs__expr_truthy(const json_t *value);

// Code points in a valid UTF-8 string of size bytes.
size_t orcs__utf8_count(const char *s, size_t size);

// True when s (size bytes) is valid UTF-8 with no NUL.
bool orcs__utf8_valid(const char *s, size_t size);

// A growable byte buffer capped at ORCS_EXPR_MAX_RESULT.
typedef struct {
    char *data; // NUL-terminated when not NULL
    size_t len;
    size_t cap;
} orcs__buf_t;

// Appends n bytes (or, with s NULL, reserves n bytes at the old end for
// the caller to fill); ORCS_ETOOBIG (nothing appended) past the cap.
orcs_status orcs__buf_put(orcs__buf_t *buf, const char *s, size_t n);

// Appends value as text: strings as they are, null as nothing, others as
// compact JSON. ORCS_ETOOBIG past the cap.
orcs_status orcs__buf_put_text(orcs__buf_t *buf, const json_t *value);

// Appends value as compact JSON (reals in their shortest exact form).
// ORCS_ETOOBIG past the cap, ORCS_EINVAL when nested too deeply.
orcs_status orcs__buf_put_json(orcs__buf_t *buf, const json_t *value);

// Frees the data and zeroes the buffer.
void orcs__buf_free(orcs__buf_t *buf);

#endif
