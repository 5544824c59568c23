/*  bm25.c — a small BM25 index over the tools of a set (Okapi BM25 with
    k1 = 1.2, b = 0.75 and Lucene's idf, which is never negative).
    SPDX-License-Identifier: MPL-2.0

    Tokens are collected per document, then sorted into an inverted index:
    a sorted array of terms, each with its postings (document, frequency).
    A query looks each of its distinct terms up by binary search. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "orcs/sys.h"
#include "tools/tools_internal.h"

#define S_TOKEN_MAX 64  // bytes of a token; longer ones are cut
#define S_QUERY_MAX 256 // distinct terms of a query looked at

typedef struct {
    char *term; // owned
    size_t doc; // the document it came from
} s_hit_t;

typedef struct {
    size_t doc; // document
    size_t tf;  // occurrences of the term in it
} s_posting_t;

typedef struct {
    char *term;            // owned
    s_posting_t *postings; // by document
    size_t count;          // postings
} s_term_t;

struct orcs__bm25_t {
    size_t ndocs;      // documents
    size_t *lengths;   // tokens per document
    double avg_length; // mean of lengths
    s_hit_t *hits;     // before finish: every token seen
    size_t nhits;      // hits in use
    size_t hits_cap;   // hits allocated
    s_term_t *terms;   // after finish: sorted by term
    size_t nterms;     // terms
};

// Words too common to tell tools apart ("What's the weather in Paris?"
// should not rank a tool high because its description says "in").
static const char *const s_stop_words[] = {
    "a",    "an",   "and",  "are",  "as",   "at",   "be",    "by",
    "can",  "do",   "for",  "from", "how",  "i",    "in",    "is",
    "it",   "its",  "me",   "my",   "of",   "on",   "or",    "s",
    "that", "the",  "this", "to",   "what", "when", "where", "which",
    "who",  "with", "you",  "your", NULL};

static bool
s_is_stop_word(const char *token, size_t len)
{
    if (len < 2)
        return true;
    for (size_t i = 0; s_stop_words[i]; i++)
        if (strcmp(token, s_stop_words[i]) == 0)
            return true;
    return false;
}

void
orcs__bm25_tokenize(const char *text,
                    void (*fn)(const char *token, size_t len, void *arg),
                    void *arg)
{
    char token[S_TOKEN_MAX + 1];
    size_t len = 0;
    for (const char *s = text;; s++) {
        unsigned char ch = (unsigned char) *s;
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                     || (ch >= '0' && ch <= '9') || ch >= 0x80;
        bool split = !alnum
                     || (len > 0 && ch >= 'A' && ch <= 'Z' && s > text
                         && s[-1] >= 'a' && s[-1] <= 'z');
        if (split && len > 0) {
            token[len] = '\0';
            if (!s_is_stop_word(token, len))
                fn(token, len, arg);
            len = 0;
        }
        if (!ch)
            break;
        if (alnum && len < S_TOKEN_MAX)
            token[len++] = (char) (ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
}

orcs__bm25_t *
orcs__bm25_new(size_t ndocs)
{
    orcs__bm25_t *self = orcs_calloc(1, sizeof *self);
    self->ndocs = ndocs;
    self->lengths = orcs_calloc(ndocs ? ndocs : 1, sizeof *self->lengths);
    return self;
}

void
orcs__bm25_destroy(orcs__bm25_t **self_p)
{
    orcs__bm25_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nhits; i++)
        free(self->hits[i].term);
    free(self->hits);
    for (size_t i = 0; i < self->nterms; i++) {
        free(self->terms[i].term);
        free(self->terms[i].postings);
    }
    free(self->terms);
    free(self->lengths);
    free(self);
    *self_p = NULL;
}

typedef struct {
    orcs__bm25_t *self; // index being filled
    size_t doc;         // document of the text
} s_add_t;

static void
s_add_token(const char *token, size_t len, void *arg)
{
    s_add_t *add = arg;
    orcs__bm25_t *self = add->self;
    (void) len;
    if (self->nhits == self->hits_cap) {
        self->hits_cap = self->hits_cap ? self->hits_cap * 2 : 256;
        self->hits =
            orcs_realloc(self->hits, self->hits_cap * sizeof *self->hits);
    }
    self->hits[self->nhits].term = orcs_strdup(token);
    self->hits[self->nhits].doc = add->doc;
    self->nhits++;
    self->lengths[add->doc]++;
}

void
orcs__bm25_add(orcs__bm25_t *self, size_t doc, const char *text)
{
    orcs_assert(doc < self->ndocs && !self->terms);
    if (!text)
        return;
    s_add_t add = {self, doc};
    orcs__bm25_tokenize(text, s_add_token, &add);
}

static int
s_hit_cmp(const void *a, const void *b)
{
    const s_hit_t *x = a, *y = b;
    int c = strcmp(x->term, y->term);
    if (c)
        return c;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

void
orcs__bm25_finish(orcs__bm25_t *self)
{
    orcs_assert(!self->terms);
    if (self->nhits > 0)
        qsort(self->hits, self->nhits, sizeof *self->hits, s_hit_cmp);
    self->terms =
        orcs_calloc(self->nhits ? self->nhits : 1, sizeof *self->terms);
    size_t total = 0;
    for (size_t i = 0; i < self->ndocs; i++)
        total += self->lengths[i];
    self->avg_length = self->ndocs ? (double) total / (double) self->ndocs : 0;
    size_t i = 0;
    while (i < self->nhits) {
        size_t end = i;
        size_t docs = 0;
        while (end < self->nhits
               && strcmp(self->hits[end].term, self->hits[i].term) == 0) {
            if (end == i || self->hits[end].doc != self->hits[end - 1].doc)
                docs++;
            end++;
        }
        s_term_t *term = &self->terms[self->nterms++];
        term->term = self->hits[i].term;
        self->hits[i].term = NULL;
        term->postings = orcs_calloc(docs, sizeof *term->postings);
        for (size_t j = i; j < end; j++) {
            if (j == i || self->hits[j].doc != self->hits[j - 1].doc)
                term->postings[term->count++].doc = self->hits[j].doc;
            term->postings[term->count - 1].tf++;
            free(self->hits[j].term);
            self->hits[j].term = NULL;
        }
        i = end;
    }
    free(self->hits);
    self->hits = NULL;
    self->nhits = self->hits_cap = 0;
}

static int
s_term_cmp(const void *key, const void *item)
{
    return strcmp(key, ((const s_term_t *) item)->term);
}

typedef struct {
    const orcs__bm25_t *self; // the index
    double *scores;           // per document
    char **seen;              // distinct query terms so far
    size_t nseen;             // in use
    size_t seen_cap;          // allocated
} s_query_t;

static void
s_query_token(const char *token, size_t len, void *arg)
{
    s_query_t *q = arg;
    (void) len;
    if (q->nseen >= S_QUERY_MAX)
        return;
    for (size_t i = 0; i < q->nseen; i++)
        if (strcmp(q->seen[i], token) == 0)
            return;
    if (q->nseen == q->seen_cap) {
        q->seen_cap = q->seen_cap ? q->seen_cap * 2 : 16;
        q->seen = orcs_realloc(q->seen, q->seen_cap * sizeof *q->seen);
    }
    q->seen[q->nseen++] = orcs_strdup(token);
    const orcs__bm25_t *self = q->self;
    const s_term_t *term = bsearch(token, self->terms, self->nterms,
                                   sizeof *self->terms, s_term_cmp);
    if (!term)
        return;
    double n = (double) self->ndocs, df = (double) term->count;
    double idf = log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (size_t i = 0; i < term->count; i++) {
        double tf = (double) term->postings[i].tf;
        double dl = (double) self->lengths[term->postings[i].doc];
        double norm = self->avg_length > 0 ? dl / self->avg_length : 1.0;
        q->scores[term->postings[i].doc] +=
            idf * tf * (ORCS_BM25_K1 + 1.0)
            / (tf + ORCS_BM25_K1 * (1.0 - ORCS_BM25_B + ORCS_BM25_B * norm));
    }
}

void
orcs__bm25_score(const orcs__bm25_t *self, const char *query, double *scores)
{
    orcs_assert(self->terms);
    for (size_t i = 0; i < self->ndocs; i++)
        scores[i] = 0;
    s_query_t q = {self, scores, NULL, 0, 0};
    orcs__bm25_tokenize(query, s_query_token, &q);
    for (size_t i = 0; i < q.nseen; i++)
        free(q.seen[i]);
    free(q.seen);
}
