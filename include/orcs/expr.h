/*  orcs/expr.h — the small expression language of workflows, and `${{ }}`
    templates built on it.
    SPDX-License-Identifier: MPL-2.0

    Expressions (docs/expressions.md) are read-only and cannot loop:
      literals   null true false 42 -1.5 "text" 'text' [1, 2] {"a": 1}
      paths      inputs.question  nodes.plan.output.topics[0]  item.url
                 a["key with spaces"]  (a missing member or index is null)
      operators  == != < <= > >=   and or not   + - * / %   ( )
                 (== compares JSON values deeply; < > on two numbers or two
                 strings, else an error; + adds numbers or joins two
                 strings or two arrays; and/or short-circuit and give a
                 boolean; truthiness: null, false, 0, "", [] and {} are
                 false)
      functions  len(x) (string in code points, array, object), keys(o),
                 contains(haystack, needle) (substring, array item, object
                 key), lower(s), upper(s), trim(s), startswith(s, p),
                 endswith(s, p), join(array, sep), split(s, sep),
                 json(x) (encode), from_json(s) (decode), default(x, y)
                 (y when x is null), int(x), float(x), str(x), bool(x)
    Nothing else: no assignment, no calls into C, no unbounded loops. Limits:
    ORCS_EXPR_MAX_SIZE bytes of source, ORCS_EXPR_MAX_DEPTH of nesting,
    strings built up to ORCS_EXPR_MAX_RESULT bytes and arrays built up to
    ORCS_EXPR_MAX_RESULT / 16 items (checked before anything is allocated).
    Integer arithmetic that would overflow int64 gives a real; division or
    modulo by zero, and a real result that is not finite, are errors.

    Evaluation happens over a context object whose members are the roots
    ("inputs", "nodes", "item", "error", "loop", ...); a path whose root is
    not a member is an error, which orcs_expr_roots lets a validator catch
    before anything runs.

    Templates are JSON values whose strings may hold `${{ expr }}`. A string
    that is exactly one `${{ expr }}` (spaces around allowed) is replaced by
    the expression's value with its JSON type; otherwise each `${{ expr }}`
    is replaced by its value as text (strings as they are, null as "",
    other values as compact JSON). `$${{` stands for a literal `${{`.
    Compiled expressions and templates are immutable and may be shared
    between threads. */
#ifndef ORCS_EXPR_H_INCLUDED
#define ORCS_EXPR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "orcs/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_EXPR_MAX_SIZE   4096u      // longest expression source
#define ORCS_EXPR_MAX_DEPTH  64u        // nesting of operators and literals
#define ORCS_EXPR_MAX_RESULT (1u << 24) // largest string or array built

typedef struct orcs_expr_t orcs_expr_t;
typedef struct orcs_template_t orcs_template_t;

// What a validator can tell about an expression's value without running it.
typedef enum {
    ORCS_EXPR_ANY = 0,  // depends on data
    ORCS_EXPR_NULL,
    ORCS_EXPR_BOOLEAN,
    ORCS_EXPR_NUMBER,   // integer or real
    ORCS_EXPR_STRING,
    ORCS_EXPR_ARRAY,
    ORCS_EXPR_OBJECT
} orcs_expr_type;

// Parses src (src_size bytes; no NUL needed). On error writes "column N:
// what" into err (err_size bytes, always NUL-terminated when err_size > 0)
// and returns ORCS_EPROTO (syntax, unknown function, wrong number of
// arguments) or ORCS_ETOOBIG (over ORCS_EXPR_MAX_SIZE or
// ORCS_EXPR_MAX_DEPTH), with *expr_p NULL. Caller owns *expr_p; destroy
// with orcs_expr_destroy().
ORCS_EXPORT orcs_status orcs_expr_parse(const char *src,
                                        size_t src_size,
                                        orcs_expr_t **expr_p,
                                        char *err,
                                        size_t err_size);

// Destroys an expression; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_expr_destroy(orcs_expr_t **self_p);

// Evaluates the expression over ctx (an object; borrowed). Caller owns
// *value_p (never NULL on success; a JSON null for null); it may share
// arrays and objects with ctx, so deep-copy it before changing it.
// Returns ORCS_OK; ORCS_EINVAL for a run-time error (unknown root,
// comparing a number with a string, len of a number, division by zero,
// ...) with "what" in err; ORCS_ETOOBIG when a result would pass the
// limits above.
ORCS_EXPORT orcs_status orcs_expr_eval(const orcs_expr_t *self,
                                       const json_t *ctx,
                                       json_t **value_p,
                                       char *err,
                                       size_t err_size);

// Evaluates and returns the truthiness of the value in *truth_p (see
// above). Statuses as orcs_expr_eval.
ORCS_EXPORT orcs_status orcs_expr_test(const orcs_expr_t *self,
                                       const json_t *ctx,
                                       bool *truth_p,
                                       char *err,
                                       size_t err_size);

// Called for every path in an expression, in source order, with its
// segments: "nodes.plan.output.topics[0]" gives ["nodes", "plan", "output",
// "topics", 0] as a JSON array (strings for members, integers for literal
// indexes; a computed index ends the list). Borrowed for the call. Return
// false to stop.
typedef bool(orcs_expr_path_fn)(const json_t *segments, void *arg);

// Visits the paths of an expression (orcs_expr_path_fn).
ORCS_EXPORT void
orcs_expr_paths(const orcs_expr_t *self, orcs_expr_path_fn *fn, void *arg);

// Says what a path's value may be, for static checks: return its type, or
// ORCS_EXPR_ANY when unknown. segments as in orcs_expr_path_fn.
typedef orcs_expr_type(orcs_expr_typeof_fn)(const json_t *segments,
                                            void *arg);

// Infers the type of the expression's value from its literals, operators,
// functions and the types typeof (may be NULL: all paths ANY) gives its
// paths. When an operator or function is given an operand of a type it
// can never take (len(42), "a" < 1, a number where a string must be),
// writes "column N: what" into err and returns ORCS_EINVAL; else ORCS_OK
// with *type_p set.
ORCS_EXPORT orcs_status orcs_expr_infer(const orcs_expr_t *self,
                                        orcs_expr_typeof_fn *typeof_fn,
                                        void *arg,
                                        orcs_expr_type *type_p,
                                        char *err,
                                        size_t err_size);

// Returns the name of a type ("any", "null", "boolean", "number",
// "string", "array", "object").
ORCS_EXPORT const char *orcs_expr_type_name(orcs_expr_type type);

// ---- templates

// Compiles a template from value (borrowed; any JSON value: strings are
// scanned for `${{ }}` at any depth of arrays and objects; object keys are
// not templates). On error writes "PATH: column N: what" into err, where
// PATH is the JSON path of the bad string inside value ("$.args.url"),
// and returns what orcs_expr_parse returned, or ORCS_EPROTO for an
// unclosed `${{`. Caller owns *template_p; destroy with
// orcs_template_destroy().
ORCS_EXPORT orcs_status orcs_template_compile(const json_t *value,
                                              orcs_template_t **template_p,
                                              char *err,
                                              size_t err_size);

// Destroys a template; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_template_destroy(orcs_template_t **self_p);

// True when the template holds no `${{ }}` (rendering gives a copy).
ORCS_EXPORT bool orcs_template_is_constant(const orcs_template_t *self);

// Renders the template over ctx into a new value that shares nothing with
// ctx or the template. Caller owns *value_p.
// Statuses and err as orcs_expr_eval, err prefixed with the JSON path.
ORCS_EXPORT orcs_status orcs_template_render(const orcs_template_t *self,
                                             const json_t *ctx,
                                             json_t **value_p,
                                             char *err,
                                             size_t err_size);

// Visits every expression of the template in order; fn gets each one and
// the JSON path of its string ("$.args.url"). Return false to stop.
typedef bool(orcs_template_expr_fn)(const orcs_expr_t *expr,
                                    const char *json_path,
                                    bool whole, // the string is only it
                                    void *arg);
ORCS_EXPORT void orcs_template_exprs(const orcs_template_t *self,
                                     orcs_template_expr_fn *fn,
                                     void *arg);

#ifdef __cplusplus
}
#endif
#endif
