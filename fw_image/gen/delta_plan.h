/* The in-place plan of the delta generator: step order, stash slots, and the
 * plan and raw streams laid out in step order. Internal to delta.c. */
#ifndef BCSIM_DELTA_PLAN_H
#define BCSIM_DELTA_PLAN_H

#include "fw_image/gen/delta_match.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DELTA_NEVER UINT32_MAX /* `until` of a source sector no step overwrites */

struct delta_stash {
    uint32_t step, src, slot;
};

struct delta_plan {
    uint32_t sector_size;
    uint32_t n_steps;          /* target sectors */
    uint32_t n_src;            /* source sectors */
    uint32_t *order;           /* order[k]: target sector written by step k */
    uint32_t *step_of;         /* inverse of order */
    uint32_t *until;           /* per source sector: last step that may read it */
    struct delta_stash *stash; /* sorted by step */
    size_t n_stash;
    uint32_t slots_used;
};

/* A growable byte buffer; `oom` sticks once an allocation failed. */
struct delta_buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

void delta_buf_put(struct delta_buf *b, const void *data, size_t n);
void delta_buf_varint(struct delta_buf *b, uint32_t v);

/* The three raw (uncompressed) streams; the plan travels in the control
 * stream, each step's entry before its triples. */
struct delta_raw {
    struct delta_buf ctrl, diff, extra;
};

void delta_raw_free(struct delta_raw *r);

/* An ascending or descending order with nothing stashed and every source
 * sector readable until its own step. Returns -1 if out of memory. */
int delta_plan_init(struct delta_plan *p, uint32_t sector_size, uint32_t old_len, uint32_t new_len,
                    bool descending);
void delta_plan_free(struct delta_plan *p);

/* The reads `segs` make after their source sector was overwritten: whether
 * they fit in `slots` stash slots. Returns 1 if they fit, 0 if not, -1 if
 * out of memory. */
int delta_plan_fits(const struct delta_plan *p, const struct delta_seg *segs, size_t n,
                    uint32_t slots);

/* Chooses which overwritten sectors stay readable from the stash, and until
 * which step, so that at most `slots` are held at once; sets `until`,
 * preferring the sectors `segs` reads most. Returns -1 if out of memory. */
int delta_plan_restrict(struct delta_plan *p, const struct delta_seg *segs, size_t n,
                        uint32_t slots);

/* Stash entries for what `segs` reads late (slots assigned). Returns -1 if
 * out of memory, -2 if more than `slots` would be needed. */
int delta_plan_stash(struct delta_plan *p, const struct delta_seg *segs, size_t n, uint32_t slots);

/* Lays out the raw streams in step order, plan included. Returns -1 if out of
 * memory. */
int delta_emit(const struct delta_plan *p, const struct delta_seg *segs, size_t n,
               const uint8_t *old, const uint8_t *new, uint32_t new_len, struct delta_raw *out);

/* Replays plan and raw streams as the device would, enforcing every rule of
 * FORMAT.md; true if the result is `new`. A guard against generator bugs. */
bool delta_replay_ok(const struct delta_plan *p, const struct delta_raw *r, const uint8_t *old,
                     uint32_t old_len, const uint8_t *new, uint32_t new_len);

#endif
