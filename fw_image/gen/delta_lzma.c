#include "fw_image/gen/delta_lzma.h"

#include <lzma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DICT_MIN 12
#define DICT_MAX 16

struct variant {
    uint8_t lc, lp, pb;
};

static size_t encode(const uint8_t *in, size_t n, struct variant v, unsigned dict_log2,
                     uint8_t *out, size_t out_size)
{
    lzma_options_lzma opt;
    if (lzma_lzma_preset(&opt, 9 | LZMA_PRESET_EXTREME))
        return 0;
    opt.dict_size = 1u << dict_log2;
    opt.lc = v.lc;
    opt.lp = v.lp;
    opt.pb = v.pb;
    opt.nice_len = 273;
    opt.mf = LZMA_MF_BT4;
    opt.mode = LZMA_MODE_NORMAL;
    opt.depth = 0;
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t pos = 0;
    if (lzma_raw_buffer_encode(filters, NULL, in, n, out, &pos, out_size) != LZMA_OK)
        return 0;
    return pos;
}

/* Literal context, position and alignment bits worth trying per stream:
 * control triples are unaligned varints; the diff stream is mostly zeros,
 * whose literal context only adds noise (lc 0); extra bytes are code and
 * data, where alignment to 2 or 4 bytes may pay. */
static const struct variant ctrl_variants[] = {
    {0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {0, 1, 1}, {1, 1, 1}, {0, 0, 2}, {3, 0, 2},
};
static const struct variant diff_variants[] = {
    {0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {0, 1, 1}, {0, 0, 1},
};
static const struct variant extra_variants[] = {
    {0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {4, 0, 0}, {3, 0, 2},
    {0, 1, 1}, {2, 1, 1}, {3, 1, 1}, {0, 2, 2}, {2, 2, 2}, {1, 0, 1},
};

static const struct variant *variants_of(enum pkg_stream kind, size_t *n)
{
    switch (kind) {
    case PKG_CTRL:
        *n = sizeof ctrl_variants / sizeof ctrl_variants[0];
        return ctrl_variants;
    case PKG_DIFF:
        *n = sizeof diff_variants / sizeof diff_variants[0];
        return diff_variants;
    default:
        *n = sizeof extra_variants / sizeof extra_variants[0];
        return extra_variants;
    }
}

/* The dictionary size: the applier's RAM budget favours the smallest; a
 * larger one is taken only when it saves at least 1/64 of the stream. */
#define DICT_GAIN_SHIFT 6

int delta_lzma_pack(const uint8_t *in, size_t n, enum pkg_stream kind, unsigned dict_log2,
                    uint8_t **out, struct pkg_stream_desc *d)
{
    size_t out_size = lzma_stream_buffer_bound(n);
    uint8_t *best = malloc(out_size), *trial = malloc(out_size);
    size_t best_len = 0, nv;
    const struct variant *v = variants_of(kind, &nv);
    struct variant best_v = v[0];
    unsigned lo = dict_log2 ? dict_log2 : DICT_MIN, hi = dict_log2 ? dict_log2 : DICT_MAX;
    unsigned best_dict = lo;
    if (!best || !trial || n > UINT32_MAX)
        goto fail;
    /* Options first, at the smallest dictionary (they hardly interact)... */
    for (size_t i = 0; i < nv; i++) {
        size_t len = encode(in, n, v[i], lo, trial, out_size);
        if (len == 0)
            goto fail;
        if (best_len == 0 || len < best_len) {
            uint8_t *t = best;
            best = trial;
            trial = t;
            best_len = len;
            best_v = v[i];
        }
    }
    /* ...then larger dictionaries, each only if it pays for its RAM. */
    for (unsigned dl = lo + 1; dl <= hi; dl++) {
        size_t len = encode(in, n, best_v, dl, trial, out_size);
        if (len == 0)
            goto fail;
        if (len + (best_len >> DICT_GAIN_SHIFT) < best_len) {
            uint8_t *t = best;
            best = trial;
            trial = t;
            best_len = len;
            best_dict = dl;
        }
    }
    free(trial);
    *out = best;
    *d = (struct pkg_stream_desc){(uint32_t)best_len, (uint32_t)n, best_v.lc,
                                  best_v.lp,          best_v.pb,   (uint8_t)best_dict};
    return 0;
fail:
    free(best);
    free(trial);
    return -1;
}
