/*  expr_lex.c — the lexer of the expression language (orcs/expr.h) and
    the helpers every file of it shares: messages, UTF-8 checks, type
    names. The parser is in expr.c.
    SPDX-License-Identifier: MPL-2.0

    Tokens: numbers (integers and reals), strings in either quote with
    escapes, names, and punctuation. Strings are decoded here and checked
    to be valid UTF-8 without NUL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "workflow/expr_internal.h"

// ---------------------------------------------------------------------------
// Shared helpers

void
orcs__expr_errf(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

size_t
orcs__utf8_count(const char *s, size_t size)
{
    size_t count = 0;
    for (size_t i = 0; i < size; i++)
        if (((unsigned char) s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

bool
orcs__utf8_valid(const char *s, size_t size)
{
    const unsigned char *u = (const unsigned char *) s;
    size_t i = 0;
    while (i < size) {
        unsigned c = u[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (size - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF
            || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

orcs_expr_type
orcs__expr_type_of(const json_t *value)
{
    switch (json_typeof(value)) {
        case JSON_NULL:
            return ORCS_EXPR_NULL;
        case JSON_TRUE:
        case JSON_FALSE:
            return ORCS_EXPR_BOOLEAN;
        case JSON_INTEGER:
        case JSON_REAL:
            return ORCS_EXPR_NUMBER;
        case JSON_STRING:
            return ORCS_EXPR_STRING;
        case JSON_ARRAY:
            return ORCS_EXPR_ARRAY;
        case JSON_OBJECT:
            return ORCS_EXPR_OBJECT;
    }
    return ORCS_EXPR_ANY;
}

const char *
orcs_expr_type_name(orcs_expr_type type)
{
    static const char *const names[] = {"any",    "null",  "boolean", "number",
                                        "string", "array", "object"};
    if ((unsigned) type < sizeof names / sizeof names[0])
        return names[type];
    return "any";
}

// ---------------------------------------------------------------------------
// Lexer

unsigned
orcs__lex_col(const orcs__parser_t *p, size_t pos)
{
    return p->col_base + 1 + (unsigned) orcs__utf8_count(p->src, pos);
}

void orcs__lex_fail(orcs__parser_t *p,
                    size_t pos,
                    orcs_status rc,
                    const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

// Records the first error as "column N: what".
void
orcs__lex_fail(
    orcs__parser_t *p, size_t pos, orcs_status rc, const char *fmt, ...)
{
    if (p->rc != ORCS_OK)
        return;
    p->rc = rc;
    if (!p->err || p->err_size == 0)
        return;
    int n = snprintf(p->err, p->err_size, "column %u: ", orcs__lex_col(p, pos));
    if (n < 0 || (size_t) n >= p->err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->err_size - (size_t) n, fmt, ap);
    va_end(ap);
}

static bool
s_is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
s_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int
s_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Reads 4 hex digits at src[i]; -1 when they are not there.
static long
s_hex4(const orcs__parser_t *p, size_t i)
{
    if (p->size - i < 4)
        return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = s_hex((unsigned char) p->src[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t
s_utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xC0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xE0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char) (0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char) (0xF0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char) (0x80 | (cp & 0x3F));
    return 4;
}

// Decodes the escape at src[*i] ('\\') into out; advances *i past it.
static bool
s_lex_escape(orcs__parser_t *p, size_t *i, char *out, size_t *n)
{
    size_t at = *i;
    if (at + 1 >= p->size) {
        orcs__lex_fail(p, at, ORCS_EPROTO, "unterminated string");
        return false;
    }
    char c = p->src[at + 1];
    char simple = c == 'n'    ? '\n'
                  : c == 't'  ? '\t'
                  : c == 'r'  ? '\r'
                  : c == '\\' ? '\\'
                  : c == '"'  ? '"'
                  : c == '\'' ? '\''
                  : c == '/'  ? '/'
                              : '\0';
    if (simple) {
        out[(*n)++] = simple;
        *i = at + 2;
        return true;
    }
    if (c != 'u') {
        if (c >= 0x20 && c < 0x7F)
            orcs__lex_fail(p, at, ORCS_EPROTO, "unknown escape '\\%c'", c);
        else
            orcs__lex_fail(p, at, ORCS_EPROTO, "unknown escape");
        return false;
    }
    long cp = s_hex4(p, at + 2);
    if (cp < 0) {
        orcs__lex_fail(p, at, ORCS_EPROTO, "\\u needs 4 hex digits");
        return false;
    }
    *i = at + 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        orcs__lex_fail(p, at, ORCS_EPROTO, "lone low surrogate \\u%04lX", cp);
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = -1;
        if (*i + 1 < p->size && p->src[*i] == '\\' && p->src[*i + 1] == 'u')
            lo = s_hex4(p, *i + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) {
            orcs__lex_fail(p, at, ORCS_EPROTO,
                           "high surrogate \\u%04lX without a low surrogate",
                           cp);
            return false;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *i += 6;
    }
    if (cp == 0) {
        orcs__lex_fail(p, at, ORCS_EPROTO, "\\u0000 is not allowed in strings");
        return false;
    }
    *n += s_utf8_put(out + *n, (uint32_t) cp);
    return true;
}

static bool
s_lex_string(orcs__parser_t *p, size_t start)
{
    char quote = p->src[start];
    // Escapes never grow: the longest, \uXXXX\uXXXX, gives 4 bytes.
    char *out = orcs_malloc(p->size - start + 1);
    size_t n = 0;
    size_t i = start + 1;
    for (;;) {
        if (i >= p->size) {
            orcs__lex_fail(p, start, ORCS_EPROTO, "unterminated string");
            goto fail;
        }
        char c = p->src[i];
        if (c == quote)
            break;
        if (c == '\\') {
            if (!s_lex_escape(p, &i, out, &n))
                goto fail;
            continue;
        }
        if (c == '\0') {
            orcs__lex_fail(p, i, ORCS_EPROTO, "NUL byte in string");
            goto fail;
        }
        out[n++] = c;
        i++;
    }
    out[n] = '\0';
    if (!orcs__utf8_valid(out, n)) {
        orcs__lex_fail(p, start, ORCS_EPROTO, "string is not valid UTF-8");
        goto fail;
    }
    p->tok.kind = ORCS__TOK_STRING;
    p->tok.len = i + 1 - start;
    p->tok.str = out;
    p->tok.str_len = n;
    p->pos = i + 1;
    return true;
fail:
    free(out);
    return false;
}

static bool
s_lex_number(orcs__parser_t *p, size_t start)
{
    size_t i = start;
    bool integer = true;
    while (i < p->size && s_is_digit(p->src[i]))
        i++;
    if (i + 1 < p->size && p->src[i] == '.' && s_is_digit(p->src[i + 1])) {
        integer = false;
        i++;
        while (i < p->size && s_is_digit(p->src[i]))
            i++;
    }
    if (i < p->size && (p->src[i] == 'e' || p->src[i] == 'E')) {
        integer = false;
        i++;
        if (i < p->size && (p->src[i] == '+' || p->src[i] == '-'))
            i++;
        if (i >= p->size || !s_is_digit(p->src[i])) {
            orcs__lex_fail(p, start, ORCS_EPROTO,
                           "malformed number: exponent "
                           "without digits");
            return false;
        }
        while (i < p->size && s_is_digit(p->src[i]))
            i++;
    }
    if (i < p->size && (s_is_name_start(p->src[i]) || p->src[i] == '.')) {
        orcs__lex_fail(p, i, ORCS_EPROTO, "malformed number");
        return false;
    }
    p->tok.kind = ORCS__TOK_NUMBER;
    p->tok.len = i - start;
    p->tok.integer = integer;
    p->pos = i;
    return true;
}

static bool
s_lex_punct(orcs__parser_t *p, size_t start)
{
    char c = p->src[start];
    char d = start + 1 < p->size ? p->src[start + 1] : '\0';
    p->tok.len = 1;
    if (d == '=' && (c == '=' || c == '!' || c == '<' || c == '>')) {
        p->tok.kind = c == '='   ? ORCS__TOK_EQ
                      : c == '!' ? ORCS__TOK_NE
                      : c == '<' ? ORCS__TOK_LE
                                 : ORCS__TOK_GE;
        p->tok.len = 2;
    } else if (strchr("()[]{},:.+-*/%<>", c) && c != '\0')
        p->tok.kind = c;
    else if (c == '=') {
        orcs__lex_fail(p, start, ORCS_EPROTO,
                       "unexpected '=' (compare with '==')");
        return false;
    } else if (c == '!') {
        orcs__lex_fail(p, start, ORCS_EPROTO,
                       "unexpected '!' (use 'not' or '!=')");
        return false;
    } else if ((c == '&' && d == '&') || (c == '|' && d == '|')) {
        orcs__lex_fail(p, start, ORCS_EPROTO, "unexpected '%c%c' (use '%s')", c,
                       d, c == '&' ? "and" : "or");
        return false;
    } else if (c > 0x20 && c < 0x7F) {
        orcs__lex_fail(p, start, ORCS_EPROTO, "unexpected character '%c'", c);
        return false;
    } else {
        orcs__lex_fail(p, start, ORCS_EPROTO, "unexpected byte 0x%02X",
                       (unsigned) (unsigned char) c);
        return false;
    }
    p->pos = start + p->tok.len;
    return true;
}

// Moves to the next token; false (p->rc set) on a lexical error.
bool
orcs__lex_next(orcs__parser_t *p)
{
    free(p->tok.str);
    memset(&p->tok, 0, sizeof p->tok);
    size_t i = p->pos;
    while (i < p->size
           && (p->src[i] == ' ' || p->src[i] == '\t' || p->src[i] == '\n'
               || p->src[i] == '\r'))
        i++;
    p->tok.start = i;
    if (i >= p->size) {
        p->tok.kind = ORCS__TOK_EOF;
        p->pos = i;
        return true;
    }
    char c = p->src[i];
    if (c == '"' || c == '\'')
        return s_lex_string(p, i);
    if (s_is_digit(c))
        return s_lex_number(p, i);
    if (s_is_name_start(c)) {
        size_t j = i + 1;
        while (j < p->size
               && (s_is_name_start(p->src[j]) || s_is_digit(p->src[j])))
            j++;
        p->tok.kind = ORCS__TOK_NAME;
        p->tok.len = j - i;
        p->pos = j;
        return true;
    }
    return s_lex_punct(p, i);
}

bool
orcs__lex_is_name(const orcs__parser_t *p, const char *name)
{
    return p->tok.kind == ORCS__TOK_NAME && strlen(name) == p->tok.len
           && memcmp(p->src + p->tok.start, name, p->tok.len) == 0;
}

bool
orcs__lex_is_keyword(const orcs__parser_t *p)
{
    return orcs__lex_is_name(p, "and") || orcs__lex_is_name(p, "or")
           || orcs__lex_is_name(p, "not") || orcs__lex_is_name(p, "null")
           || orcs__lex_is_name(p, "true") || orcs__lex_is_name(p, "false");
}

// Fails at the current token with "expected WHAT" (or the end).
void
orcs__lex_expected(orcs__parser_t *p, const char *what)
{
    if (p->tok.kind == ORCS__TOK_EOF)
        orcs__lex_fail(p, p->tok.start, ORCS_EPROTO, "expected %s, got the end",
                       what);
    else {
        int len = p->tok.len > 20 ? 20 : (int) p->tok.len;
        bool ascii = true;
        for (int k = 0; k < len; k++)
            if ((unsigned char) p->src[p->tok.start + k] >= 0x7F)
                ascii = false;
        if (ascii)
            orcs__lex_fail(p, p->tok.start, ORCS_EPROTO,
                           "expected %s, got '%.*s%s'", what, len,
                           p->src + p->tok.start, p->tok.len > 20 ? "..." : "");
        else
            orcs__lex_fail(p, p->tok.start, ORCS_EPROTO, "expected %s", what);
    }
}
