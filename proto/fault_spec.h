/* The fault syntax the package servers share: KIND[=ARG][@/PATH]. Each
 * server keeps its own table of kinds and checks its own arguments; this
 * splits the text, finds the kind and checks the path. */
#ifndef BCSIM_FAULT_SPEC_H
#define BCSIM_FAULT_SPEC_H

#include <stdbool.h>
#include <stddef.h>

struct fault_word {
    const char *name;
    int kind;
    const char *form; /* the argument it takes, as an error sentence; NULL: none */
};

struct fault_spec {
    const struct fault_word *word;
    const char *arg; /* after '=', arg_len bytes; NULL if none */
    size_t arg_len;
    const char *path; /* after '@', or NULL */
    size_t spec_len;  /* of KIND[=ARG] */
};

/* Splits text and finds its kind among n words. Returns 0, or -1 with *why
 * set to `unknown` or to a sentence about the argument's presence or the path
 * (static storage). A word with a form needs an argument, one without takes
 * none; the path must start with '/' and be shorter than path_max. */
int fault_spec_split(const char *text, const struct fault_word *words, size_t n,
                     const char *unknown, size_t path_max, struct fault_spec *out,
                     const char **why);

/* Decimal digits only, at most max_digits of them, into *v: 0 or -1. */
int fault_spec_count(const char *s, size_t len, unsigned max_digits, unsigned long long *v);

#endif
