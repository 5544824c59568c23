/*  schema_pattern.c — `pattern` for schema.c: POSIX extended regular
    expressions (regcomp), searched anywhere in the string as JSON
    Schema's are.
    SPDX-License-Identifier: MPL-2.0

    glibc's regcomp expands repeats (x+ into x x*, x{3} into x x x, nested
    ones multiplied), so a short hostile pattern can make it allocate
    gigabytes. A pattern is therefore at most S_PATTERN_MAX bytes, has no
    back-references, its {n,m} bounds are at most S_BOUND_MAX, and its
    repeats come to at most S_PATTERN_COST_MAX items. */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tools/tools_internal.h"

#define S_PATTERN_MAX      512  // bytes of a pattern
#define S_BOUND_MAX        255  // largest {n,m} bound
#define S_PATTERN_COST_MAX 4096 // items regcomp may build for a pattern

// Reads the number at *s (at most 9 digits); -1 when there is none.
static long
s_read_bound(const char **s)
{
    long n = -1;
    int digits = 0;
    while (**s >= '0' && **s <= '9') {
        if (digits++ < 9)
            n = (n < 0 ? 0 : n * 10) + (**s - '0');
        (*s)++;
    }
    return digits > 9 ? S_BOUND_MAX + 1 : n;
}

// Skips a bracket expression starting at s ('['); returns what follows.
static const char *
s_skip_bracket(const char *s)
{
    s++;
    if (*s == '^')
        s++;
    if (*s == ']')
        s++;
    while (*s && *s != ']') {
        if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
            char end = s[1];
            s += 2;
            while (*s && !(*s == end && s[1] == ']'))
                s++;
            if (*s)
                s += 2;
            continue;
        }
        s++;
    }
    return *s ? s + 1 : s;
}

// The factor by which the quantifier at *s multiplies what it applies to
// (glibc turns x+ into x x* and x{n,m} into m copies of x), 1 for none;
// -1 (with msg) for a bound over S_BOUND_MAX. Advances *s past it.
static long
s_quantifier(const char **s, char *msg, size_t msg_size)
{
    char ch = **s;
    if (ch == '*' || ch == '?') {
        (*s)++;
        return 1;
    }
    if (ch == '+') {
        (*s)++;
        return 2;
    }
    if (ch != '{')
        return 0;
    (*s)++;
    long lo = s_read_bound(s);
    long hi = lo;
    if (**s == ',') {
        (*s)++;
        hi = s_read_bound(s);
        if (hi < 0)
            hi = lo + 1;
    }
    if (**s == '}')
        (*s)++;
    long bound = hi > lo ? hi : lo;
    if (bound > S_BOUND_MAX) {
        snprintf(msg, msg_size, "pattern repeat bound over %d", S_BOUND_MAX);
        return -1;
    }
    return bound > 1 ? bound : 1;
}

// Checks the limits of the file comment: estimates how many nodes regcomp
// builds (quantifiers multiply what they apply to, groups nest) and
// refuses more than S_PATTERN_COST_MAX. Writes why not into msg.
static bool
s_pattern_is_tame(const char *pattern, char *msg, size_t msg_size)
{
    if (strlen(pattern) > S_PATTERN_MAX) {
        snprintf(msg, msg_size, "pattern is longer than %d bytes",
                 S_PATTERN_MAX);
        return false;
    }
    long sums[S_PATTERN_MAX + 2]; // cost of each open group so far
    size_t depth = 0;
    long last = 0; // cost of the last atom (what a quantifier applies to)
    sums[0] = 0;
    const char *s = pattern;
    while (*s) {
        long factor = s_quantifier(&s, msg, msg_size);
        if (factor < 0)
            return false;
        if (factor > 0) {
            sums[depth] += last * (factor - 1);
            last *= factor;
        } else if (*s == '(') {
            sums[++depth] = 0;
            last = 0;
            s++;
            continue;
        } else if (*s == ')' && depth > 0) {
            last = sums[depth--];
            sums[depth] += last;
            s++;
        } else if (*s == '\\') {
            if (s[1] >= '1' && s[1] <= '9') {
                snprintf(msg, msg_size, "back-references are not supported");
                return false;
            }
            s += s[1] ? 2 : 1;
            last = 1;
            sums[depth] += 1;
        } else if (*s == '[') {
            s = s_skip_bracket(s);
            last = 1;
            sums[depth] += 1;
        } else {
            s++;
            last = 1;
            sums[depth] += 1;
        }
        if (sums[depth] > S_PATTERN_COST_MAX || last > S_PATTERN_COST_MAX) {
            snprintf(msg, msg_size,
                     "pattern is too complex (its repeats expand to over %d "
                     "items)",
                     S_PATTERN_COST_MAX);
            return false;
        }
    }
    return true;
}

bool
orcs__schema_pattern_compile(const json_t *pattern,
                             regex_t *re,
                             char *msg,
                             size_t size)
{
    const char *text = json_string_value(pattern);
    if (strlen(text) != json_string_length(pattern)) {
        snprintf(msg, size, "pattern holds a NUL byte");
        return false;
    }
    if (!s_pattern_is_tame(text, msg, size))
        return false;
    int rc = regcomp(re, text, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, re, why, sizeof why);
        snprintf(msg, size, "invalid pattern: %s", why);
        return false;
    }
    return true;
}
