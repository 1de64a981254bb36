/* The package generator: checks its inputs, finds the matches (delta_match.c),
 * orders the steps and stashes what later steps still need (delta_plan.c),
 * compresses the streams (delta_lzma.c) and assembles header, plan and
 * streams. Several plans are built and the smallest package is kept. */
#include "fw_image/gen/delta.h"

#include "fw_image/gen/delta_lzma.h"
#include "fw_image/gen/delta_match.h"
#include "fw_image/gen/delta_par.h"
#include "fw_image/gen/delta_plan.h"
#include "fw_image/sha256.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 65535u
#define MAX_IMAGE 0x7fffffffu /* the suffix array indexes with int32 */

/* The parse's price list, calibrated on the corpus pairs (1/16 bit units). */
static const struct delta_costs default_costs = {
    .zero = 2,
    .nz_first = 192,
    .nz_next = 128,
    .lit = 88,
    .triple = 640,
    .to_extra = 48,
    .min_seed = 8,
    .back = 16,
};

static int fail(char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool field_ok(const char *s, size_t max)
{
    if (!s || strlen(s) > max)
        return false;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return false;
    return true;
}

/* Everything that would make a package invalid or the generator misbehave;
 * returns 0 or fails with a one-line reason. */
static int check_inputs(const uint8_t *old, size_t old_len, const uint8_t *new, size_t new_len,
                        const struct delta_params *pp, uint8_t **pkg, size_t *pkg_len, char *why,
                        size_t why_size)
{
    if (!pp || !pkg || !pkg_len)
        return fail(why, why_size, "missing parameters or output pointers");
    if (!old || old_len < IMG_HEADER_SIZE)
        return fail(why, why_size, "source image is shorter than an image header (%d bytes)",
                    IMG_HEADER_SIZE);
    if (!new || new_len < IMG_HEADER_SIZE)
        return fail(why, why_size, "target image is shorter than an image header (%d bytes)",
                    IMG_HEADER_SIZE);
    if (old_len > MAX_IMAGE || new_len > MAX_IMAGE)
        return fail(why, why_size, "image larger than %u bytes", MAX_IMAGE);
    uint32_t s = pp->sector_size;
    if (s < 512 || s > 65536 || (s & (s - 1)) != 0)
        return fail(why, why_size, "sector size %u is not a power of two in 512..65536", s);
    if ((new_len + s - 1) / s > MAX_STEPS)
        return fail(why, why_size, "target image needs %zu sectors of %u bytes, more than %u",
                    (new_len + s - 1) / s, s, MAX_STEPS);
    if (!field_ok(pp->model, IMG_MODEL_MAX))
        return fail(why, why_size, "model missing, too long or not printable ASCII");
    if (!field_ok(pp->src_revision, IMG_REVISION_MAX) ||
        !field_ok(pp->tgt_revision, IMG_REVISION_MAX))
        return fail(why, why_size, "revision missing, too long or not printable ASCII");
    return 0;
}

/* Header fields that do not depend on the plan. */
static void header_base(struct pkg_header *h, const uint8_t *old, size_t old_len,
                        const uint8_t *new, size_t new_len, const struct delta_params *pp)
{
    memset(h, 0, sizeof *h);
    snprintf(h->model, sizeof h->model, "%s", pp->model);
    snprintf(h->src_revision, sizeof h->src_revision, "%s", pp->src_revision);
    snprintf(h->tgt_revision, sizeof h->tgt_revision, "%s", pp->tgt_revision);
    h->src_size = (uint32_t)old_len;
    h->tgt_size = (uint32_t)new_len;
    sha256(old, old_len, h->src_sha256);
    sha256(new, new_len, h->tgt_sha256);
    h->sector_size = pp->sector_size;
    h->flags = pp->full ? PKG_FLAG_FULL : 0;
}

/* Compresses the streams and lays out header | streams. */
static int assemble(struct pkg_header *h, const struct delta_raw *raw, uint32_t slots_used,
                    uint32_t decoder_ram, bool best, uint8_t **pkg, size_t *pkg_len)
{
    const struct delta_buf *in[PKG_STREAMS] = {&raw->ctrl, &raw->diff, &raw->extra};
    const uint8_t *data[PKG_STREAMS];
    size_t lens[PKG_STREAMS];
    uint8_t *packed[PKG_STREAMS] = {NULL, NULL, NULL};
    for (int i = 0; i < PKG_STREAMS; i++) {
        data[i] = in[i]->p;
        lens[i] = in[i]->n;
    }
    int rc = delta_lzma_pack_all(data, lens, decoder_ram, best, packed, h->stream);
    if (rc != 0)
        goto out;
    rc = -1;
    h->stash_slots = slots_used;
    uint8_t head[PKG_HEADER_MAX];
    size_t body = 0;
    for (int i = 0; i < PKG_STREAMS; i++)
        body += h->stream[i].packed_len;
    uint8_t *p = malloc(PKG_HEADER_MAX + body);
    if (!p)
        goto out;
    size_t at = 0;
    for (int i = 0; i < PKG_STREAMS; i++) {
        memcpy(p + PKG_HEADER_MAX + at, packed[i], h->stream[i].packed_len);
        at += h->stream[i].packed_len;
    }
    sha256(p + PKG_HEADER_MAX, body, h->body_sha256);
    size_t hl = pkg_header_write(h, head);
    if (hl == 0) {
        free(p);
        goto out;
    }
    memmove(p + hl, p + PKG_HEADER_MAX, body);
    memcpy(p, head, hl);
    *pkg = p;
    *pkg_len = hl + body;
    rc = 0;
out:
    for (int i = 0; i < PKG_STREAMS; i++)
        free(packed[i]);
    return rc;
}

/* Full image: every sector in ascending order, all of it from the extra
 * stream. */
static int make_full(struct pkg_header *h, const uint8_t *new, uint32_t new_len,
                     const struct delta_params *pp, uint8_t **pkg, size_t *pkg_len)
{
    struct delta_raw raw;
    memset(&raw, 0, sizeof raw);
    uint32_t size = h->sector_size, steps = (new_len + size - 1) / size;
    for (uint32_t t = 0; t < steps; t++) {
        uint32_t bytes = new_len - t * size < size ? new_len - t * size : size;
        delta_buf_varint(&raw.ctrl, 0); /* the next sector */
        delta_buf_varint(&raw.ctrl, 0); /* nothing stashed */
        delta_buf_varint(&raw.ctrl, 0);
        delta_buf_varint(&raw.ctrl, bytes);
        delta_buf_varint(&raw.ctrl, 0);
    }
    delta_buf_put(&raw.extra, new, new_len);
    int rc = -1;
    if (!raw.ctrl.oom && !raw.extra.oom)
        rc = assemble(h, &raw, 0, pp->decoder_ram, pp->best, pkg, pkg_len);
    delta_raw_free(&raw);
    return rc;
}

/* The runs for one step order: the unrestricted ones if their late reads fit
 * in the stash, otherwise a new match restricted to what the stash can keep.
 * On success *segs is either `free_segs` (not to be freed) or a new array. */
static int segs_for_plan(struct delta_plan *p, const struct delta_matcher *m, const uint8_t *new,
                         uint32_t new_len, uint32_t slots, const struct delta_seg *free_segs,
                         size_t n_free, struct delta_seg **segs, size_t *n_segs)
{
    int fits = delta_plan_fits(p, free_segs, n_free, slots);
    if (fits < 0)
        return -1;
    if (fits) {
        *segs = (struct delta_seg *)free_segs;
        *n_segs = n_free;
        return 0;
    }
    if (delta_plan_restrict(p, free_segs, n_free, slots) != 0)
        return -1;
    struct delta_avail av = {p->sector_size, p->step_of, p->until};
    return delta_rematch(m, new, new_len, &av, &default_costs, free_segs, n_free, segs, n_segs);
}

/* The raw streams of one step order, checked by a replay. */
struct candidate {
    struct delta_raw raw;
    uint32_t slots_used;
};

/* Returns 0, -1 if out of memory, -2 on an internal inconsistency. */
static int build_order(bool descending, uint32_t sector_size, const struct delta_matcher *m,
                       const uint8_t *old, uint32_t old_len, const uint8_t *new, uint32_t new_len,
                       uint32_t slots, const struct delta_seg *free_segs, size_t n_free,
                       struct candidate *c)
{
    struct delta_plan p;
    struct delta_seg *segs = NULL;
    size_t n_segs = 0;
    memset(c, 0, sizeof *c);
    if (delta_plan_init(&p, sector_size, old_len, new_len, descending) != 0)
        return -1;
    int rc = segs_for_plan(&p, m, new, new_len, slots, free_segs, n_free, &segs, &n_segs);
    if (rc == 0)
        rc = delta_plan_stash(&p, segs, n_segs, slots);
    if (rc == 0)
        rc = delta_emit(&p, segs, n_segs, old, new, new_len, &c->raw);
    if (rc == 0 && !delta_replay_ok(&p, &c->raw, old, old_len, new, new_len))
        rc = -2;
    c->slots_used = p.slots_used;
    if (segs != free_segs)
        free(segs);
    if (rc != 0)
        delta_raw_free(&c->raw);
    delta_plan_free(&p);
    return rc;
}

static size_t estimate(const struct candidate *c)
{
    const uint8_t *in[PKG_STREAMS] = {c->raw.ctrl.p, c->raw.diff.p, c->raw.extra.p};
    size_t n[PKG_STREAMS] = {c->raw.ctrl.n, c->raw.diff.n, c->raw.extra.n};
    return delta_lzma_estimate(in, n);
}

/* build_order's arguments and result (with the order's size estimate, unless
 * `best`), for a thread. */
struct order_job {
    bool descending;
    uint32_t sector_size, old_len, new_len, slots;
    const struct delta_matcher *m;
    const uint8_t *old, *new;
    const struct delta_seg *free_segs;
    size_t n_free;
    struct candidate *c;
    bool estimate;
    size_t size; /* the estimate, or 0 */
    int rc;
};

static void order_job_run(void *arg)
{
    struct order_job *j = arg;
    j->rc = build_order(j->descending, j->sector_size, j->m, j->old, j->old_len, j->new, j->new_len,
                        j->slots, j->free_segs, j->n_free, j->c);
    if (j->rc == 0 && j->estimate && (j->size = estimate(j->c)) == 0) {
        delta_raw_free(&j->c->raw); /* a failed job leaves nothing behind */
        j->rc = -1;
    }
}

static int make_delta(struct pkg_header *h, const uint8_t *old, uint32_t old_len,
                      const uint8_t *new, uint32_t new_len, const struct delta_params *pp,
                      uint8_t **pkg, size_t *pkg_len)
{
    struct delta_matcher *m = delta_matcher_new(old, old_len);
    struct delta_seg *free_segs = NULL;
    struct candidate c[2];
    size_t n_free = 0;
    int rc = -1, built = 0;
    *pkg = NULL;
    if (!m || delta_match(m, new, new_len, NULL, &default_costs, &free_segs, &n_free) != 0)
        goto out;
    /* Growth shifts content up, so descending order usually reads intact
     * sectors; shrinking favours ascending. Both are built, side by side;
     * the quick estimate picks one to compress, or with `best` both are
     * compressed and the smaller kept. */
    struct order_job jobs[2];
    for (int k = 0; k < 2; k++)
        jobs[k] =
            (struct order_job){k == 1, h->sector_size, old_len, new_len, pp->stash_slots, m, old,
                               new,    free_segs,      n_free,  &c[k],   !pp->best,       0, 0};
    delta_par_run(order_job_run, jobs, sizeof jobs[0], 2);
    for (; built < 2; built++)
        if ((rc = jobs[built].rc) != 0)
            break;
    if (rc != 0) {
        for (int k = built + 1; k < 2; k++)
            if (jobs[k].rc == 0)
                delta_raw_free(&c[k].raw);
        goto out;
    }
    int first = 0, last = 1;
    if (!pp->best)
        first = last = jobs[1].size < jobs[0].size ? 1 : 0;
    for (int k = first; k <= last; k++) {
        uint8_t *cand = NULL;
        size_t cand_len = 0;
        struct pkg_header hc = *h;
        rc = assemble(&hc, &c[k].raw, c[k].slots_used, pp->decoder_ram, pp->best, &cand, &cand_len);
        if (rc != 0)
            break;
        if (!*pkg || cand_len < *pkg_len) {
            free(*pkg);
            *pkg = cand;
            *pkg_len = cand_len;
            *h = hc;
        } else {
            free(cand);
        }
    }
    if (rc != 0) {
        free(*pkg);
        *pkg = NULL;
    }
out:
    while (built-- > 0)
        delta_raw_free(&c[built].raw);
    free(free_segs);
    delta_matcher_free(m);
    return rc;
}

int delta_make(const uint8_t *old, size_t old_len, const uint8_t *new, size_t new_len,
               const struct delta_params *params, uint8_t **pkg, size_t *pkg_len, char *why,
               size_t why_size)
{
    if (check_inputs(old, old_len, new, new_len, params, pkg, pkg_len, why, why_size) != 0)
        return -1;
    struct pkg_header h;
    header_base(&h, old, old_len, new, new_len, params);
    int rc = params->full ? make_full(&h, new, (uint32_t)new_len, params, pkg, pkg_len)
                          : make_delta(&h, old, (uint32_t)old_len, new, (uint32_t)new_len, params,
                                       pkg, pkg_len);
    if (rc == -2)
        return fail(why, why_size, "internal error: the plan breaks the in-place rules");
    if (rc == -3)
        return fail(why, why_size,
                    "no stream settings fit the %u bytes of decoder memory the device allows",
                    params->decoder_ram);
    if (rc != 0)
        return fail(why, why_size, "out of memory or compressor failure");
    return 0;
}
