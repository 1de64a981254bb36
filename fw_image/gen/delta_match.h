/* Matching for the delta generator: which bytes of the target come from where
 * in the source (with byte differences) and which are new. Internal to
 * delta.c; host only. */
#ifndef BCSIM_DELTA_MATCH_H
#define BCSIM_DELTA_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A run of the target: new[at, at+len) is either added from the source at
 * old[at+offset...] (plus diff bytes), or copied from the extra stream. */
struct delta_seg {
    uint32_t at, len;
    int32_t offset; /* source position - target position; add runs only */
    bool add;
};

/* Which source sectors a target position may read. A target byte in target
 * sector t may read source sector s iff step_of[t] <= until[s]. A NULL
 * `until` means every source sector is always readable. */
struct delta_avail {
    uint32_t sector_size;
    const uint32_t *step_of; /* per target sector */
    const uint32_t *until;   /* per source sector */
};

/* Cost model of the optimal parse, in 1/16 bit of compressed output. */
struct delta_costs {
    int zero;          /* an added byte equal to its source byte */
    int nz_first;      /* a differing added byte after an equal one */
    int nz_next;       /* a differing added byte after a differing one */
    int lit;           /* an extra byte */
    int triple;        /* starting a new add run (a new control triple) */
    int to_extra;      /* switching from an add run to extra bytes */
    uint32_t min_seed; /* shortest exact match worth a candidate offset */
    uint32_t back;     /* how far before its exact match an offset is tried */
};

struct delta_matcher;

/* Indexes `old` (a suffix array). NULL if out of memory. */
struct delta_matcher *delta_matcher_new(const uint8_t *old, uint32_t old_len);
void delta_matcher_free(struct delta_matcher *m);

/* Cuts `new` into runs (sorted, covering it exactly), reading only what
 * `av` allows. Returns 0, or -1 if out of memory. */
int delta_match(const struct delta_matcher *m, const uint8_t *new, uint32_t new_len,
                const struct delta_avail *av, const struct delta_costs *c, struct delta_seg **segs,
                size_t *n_segs);

/* Like delta_match with `av`, but cuts again only the target sectors in
 * which `segs` (a cut of the whole target, sorted) reads what `av` forbids,
 * and keeps `segs` everywhere else: much faster when few sectors are
 * affected. Returns 0, or -1 if out of memory. */
int delta_rematch(const struct delta_matcher *m, const uint8_t *new, uint32_t new_len,
                  const struct delta_avail *av, const struct delta_costs *c,
                  const struct delta_seg *segs, size_t n, struct delta_seg **out, size_t *n_out);

#endif
