#include "fw_image/gen/delta_lzma.h"

#include "fw_image/gen/delta_par.h"

#include <lzma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define N_DICTS (PKG_DICT_LOG2_MAX - PKG_DICT_LOG2_MIN + 1)

struct variant {
    uint8_t lc, lp, pb;
};

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
#define MAX_VARIANTS 12

static const struct variant *variants_of(int kind, size_t *n)
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

/* The package's own encoding (FULL), or a quick one to rank choices by
 * (QUICK: a hash chain, the fast mode), about twenty times faster and some
 * 15% larger, which ranks the literal options and the two step orders as
 * FULL does nearly always (on the 15 corpus pairs, a shallow binary tree
 * four times slower chose no better). */
enum effort { QUICK, FULL };

static size_t encode_as(enum effort e, const uint8_t *in, size_t n, struct variant v,
                        unsigned dict_log2, uint8_t *out, size_t out_size)
{
    bool quick = e == QUICK;
    lzma_options_lzma opt;
    if (lzma_lzma_preset(&opt, 9 | LZMA_PRESET_EXTREME))
        return 0;
    opt.dict_size = 1u << dict_log2;
    opt.lc = v.lc;
    opt.lp = v.lp;
    opt.pb = v.pb;
    opt.nice_len = quick ? 32 : 273;
    opt.mf = quick ? LZMA_MF_HC4 : LZMA_MF_BT4;
    opt.mode = quick ? LZMA_MODE_FAST : LZMA_MODE_NORMAL;
    opt.depth = 0;
    if (n == 0)
        return 0; /* an empty stream has no bytes (FORMAT.md) */
    /* Raw LZMA with the length known: no chunk headers, no end marker. */
    opt.ext_flags = 0;
    opt.ext_size_low = (uint32_t)n;
    opt.ext_size_high = (uint32_t)((uint64_t)n >> 32);
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t pos = 0;
    if (lzma_raw_buffer_encode(filters, NULL, in, n, out, &pos, out_size) != LZMA_OK || pos < 5 ||
        out[0] != 0)
        return SIZE_MAX;
    memmove(out, out + 1, pos - 1); /* the range coder's first byte is always 0 */
    return pos - 1;
}

static size_t encode(const uint8_t *in, size_t n, struct variant v, unsigned dict_log2,
                     uint8_t *out, size_t out_size)
{
    return encode_as(FULL, in, n, v, dict_log2, out, out_size);
}

/* Room for a raw LZMA stream of n bytes: without LZMA2's stored chunks,
 * data that does not compress grows a little (about 1% when random). */
static size_t packed_bound(size_t n)
{
    return n + n / 8 + 4096;
}

static size_t memory_of(struct variant v, unsigned dict_log2)
{
    return pkg_stream_memory(v.lc + v.lp, dict_log2);
}

/* The largest dictionary worth trying: one that holds the whole stream. */
static unsigned dict_cap(size_t n)
{
    unsigned d = PKG_DICT_LOG2_MIN;
    while (d < PKG_DICT_LOG2_MAX && ((size_t)1 << d) < n)
        d++;
    return d;
}

/* One stream's trials: the size of each variant at the smallest dictionary,
 * then of the best variant at each larger one. 0 where not tried. */
struct trials {
    const struct variant *v;
    size_t nv, best_v;
    size_t at_min[MAX_VARIANTS];
    size_t at_dict[N_DICTS]; /* best variant, by dictionary */
};

static int try_stream(bool quick, const uint8_t *in, size_t n, int kind, uint8_t *scratch,
                      size_t scratch_size, struct trials *t)
{
    enum effort e = quick ? QUICK : FULL;
    memset(t, 0, sizeof *t);
    t->v = variants_of(kind, &t->nv);
    for (size_t i = 0; i < t->nv; i++) {
        t->at_min[i] = encode_as(e, in, n, t->v[i], PKG_DICT_LOG2_MIN, scratch, scratch_size);
        if (t->at_min[i] == SIZE_MAX)
            return -1;
        if (t->at_min[i] < t->at_min[t->best_v])
            t->best_v = i;
    }
    t->at_dict[0] = t->at_min[t->best_v];
    /* A quick encoding says little of what a larger dictionary gains: in
     * quick mode the dictionaries are sized by memory alone (grow_dicts). */
    for (unsigned d = PKG_DICT_LOG2_MIN + 1; !quick && d <= dict_cap(n); d++) {
        t->at_dict[d - PKG_DICT_LOG2_MIN] =
            encode_as(e, in, n, t->v[t->best_v], d, scratch, scratch_size);
        if (t->at_dict[d - PKG_DICT_LOG2_MIN] == SIZE_MAX)
            return -1;
    }
    return 0;
}

/* A setting of one stream: a variant and a dictionary, with its size. */
struct choice {
    size_t variant;
    unsigned dict_log2;
    size_t size, mem;
};

/* The stream's settings that were measured. */
static size_t choices_of(const struct trials *t, struct choice *c)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nv; i++)
        c[k++] = (struct choice){i, PKG_DICT_LOG2_MIN, t->at_min[i],
                                 memory_of(t->v[i], PKG_DICT_LOG2_MIN)};
    for (unsigned d = 1; d < N_DICTS; d++)
        if (t->at_dict[d])
            c[k++] = (struct choice){t->best_v, PKG_DICT_LOG2_MIN + d, t->at_dict[d],
                                     memory_of(t->v[t->best_v], PKG_DICT_LOG2_MIN + d)};
    return k;
}

static size_t scratch_bound(const size_t n[PKG_STREAMS])
{
    size_t m = 0;
    for (int i = 0; i < PKG_STREAMS; i++) {
        size_t b = packed_bound(n[i]);
        m = b > m ? b : m;
    }
    return m;
}

/* The options that win most often, per stream (measured on the corpus). */
static const struct variant typical[PKG_STREAMS] = {{1, 0, 0}, {2, 0, 0}, {3, 0, 0}};

size_t delta_lzma_estimate(const uint8_t *const in[PKG_STREAMS], const size_t n[PKG_STREAMS])
{
    size_t scratch_size = scratch_bound(n), total = 0;
    uint8_t *scratch = malloc(scratch_size);
    for (int i = 0; scratch && i < PKG_STREAMS; i++) {
        size_t len = encode_as(QUICK, in[i], n[i], typical[i],
                               dict_cap(n[i]) < 14 ? dict_cap(n[i]) : 14, scratch, scratch_size);
        if (len == SIZE_MAX) {
            total = 0;
            break;
        }
        total += len;
    }
    free(scratch);
    return total;
}

/* One stream's share of the work, for a thread: its trials, then its
 * final encoding with the options chosen for it. */
struct stream_job {
    const uint8_t *in;
    size_t n;
    int kind;
    bool quick;
    struct trials t;
    struct variant v; /* chosen */
    unsigned dict_log2;
    uint8_t *out;
    size_t len;
    int rc;
};

static void trial_job(void *arg)
{
    struct stream_job *j = arg;
    size_t size = packed_bound(j->n);
    uint8_t *scratch = malloc(size);
    j->rc = scratch ? try_stream(j->quick, j->in, j->n, j->kind, scratch, size, &j->t) : -1;
    free(scratch);
}

static void final_job(void *arg)
{
    struct stream_job *j = arg;
    size_t size = packed_bound(j->n);
    uint8_t *scratch = malloc(size);
    j->len = scratch ? encode(j->in, j->n, j->v, j->dict_log2, scratch, size) : SIZE_MAX;
    j->out = j->len != SIZE_MAX ? malloc(j->len ? j->len : 1) : NULL;
    if (j->out)
        memcpy(j->out, scratch, j->len);
    j->rc = j->out ? 0 : -1;
    free(scratch);
}

/* Larger dictionaries, the longest stream first, while the decoders still
 * fit: a larger LZMA dictionary is hardly ever worse, and on the corpus it
 * gained up to 2% where a quick encoding saw nothing. */
static void grow_dicts(struct stream_job *job, uint32_t decoder_ram)
{
    int order[PKG_STREAMS] = {0, 1, 2};
    for (int a = 0; a < PKG_STREAMS; a++)
        for (int b = a + 1; b < PKG_STREAMS; b++)
            if (job[order[b]].n > job[order[a]].n) {
                int t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    for (int k = 0; k < PKG_STREAMS; k++) {
        struct stream_job *j = &job[order[k]];
        for (unsigned d = dict_cap(j->n); d > j->dict_log2; d--) {
            size_t mem = 0;
            for (int i = 0; i < PKG_STREAMS; i++)
                mem += memory_of(job[i].v, &job[i] == j ? d : job[i].dict_log2);
            if (mem <= decoder_ram) {
                j->dict_log2 = d;
                break;
            }
        }
    }
}

int delta_lzma_pack_all(const uint8_t *const in[PKG_STREAMS], const size_t n[PKG_STREAMS],
                        uint32_t decoder_ram, bool best_effort, uint8_t *out[PKG_STREAMS],
                        struct pkg_stream_desc d[PKG_STREAMS])
{
    struct stream_job job[PKG_STREAMS];
    struct choice c[PKG_STREAMS][MAX_VARIANTS + N_DICTS];
    size_t nc[PKG_STREAMS];
    for (int i = 0; i < PKG_STREAMS; i++) {
        out[i] = NULL;
        if (n[i] > UINT32_MAX)
            return -1;
        job[i] = (struct stream_job){.in = in[i], .n = n[i], .kind = i, .quick = !best_effort};
    }
    delta_par_run(trial_job, job, sizeof job[0], PKG_STREAMS);
    for (int i = 0; i < PKG_STREAMS; i++) {
        if (job[i].rc != 0)
            return -1;
        nc[i] = choices_of(&job[i].t, c[i]);
    }
    /* Every combination of the measured settings: the smallest that fits. */
    size_t best = SIZE_MAX, pick[PKG_STREAMS] = {0, 0, 0};
    for (size_t a = 0; a < nc[0]; a++)
        for (size_t b = 0; b < nc[1]; b++)
            for (size_t e = 0; e < nc[2]; e++) {
                size_t mem = c[0][a].mem + c[1][b].mem + c[2][e].mem;
                size_t size = c[0][a].size + c[1][b].size + c[2][e].size;
                if (mem <= decoder_ram && size < best) {
                    best = size;
                    pick[0] = a;
                    pick[1] = b;
                    pick[2] = e;
                }
            }
    if (best == SIZE_MAX)
        return -3;
    for (int i = 0; i < PKG_STREAMS; i++) {
        job[i].v = job[i].t.v[c[i][pick[i]].variant];
        job[i].dict_log2 = c[i][pick[i]].dict_log2;
    }
    if (!best_effort)
        grow_dicts(job, decoder_ram);
    delta_par_run(final_job, job, sizeof job[0], PKG_STREAMS);
    int rc = 0;
    for (int i = 0; i < PKG_STREAMS; i++) {
        rc = rc ? rc : job[i].rc;
        struct variant v = job[i].v;
        d[i] = (struct pkg_stream_desc){(uint32_t)job[i].len,     (uint32_t)n[i], v.lc, v.lp, v.pb,
                                        (uint8_t)job[i].dict_log2};
        out[i] = job[i].out;
    }
    if (rc != 0)
        for (int i = 0; i < PKG_STREAMS; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    return rc;
}
