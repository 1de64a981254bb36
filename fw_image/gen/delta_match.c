/* Matching: a suffix array of the source finds exact matches ("seeds"); an
 * optimal parse (Viterbi over a handful of candidate offsets) then decides,
 * byte by byte, whether the target follows one of those offsets (with byte
 * differences, which cost little when they are rare) or takes extra bytes. A
 * cost-driven parse beats bsdiff's greedy extension because it weighs a
 * mismatch against the price of a new control triple. */
#include "fw_image/gen/delta_match.h"

#include "fw_image/gen/delta_par.h"

#include <divsufsort.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_CAP 4096u /* longest match a suffix-array search measures */
#define NEIGHBOURS 64    /* suffix-array neighbours tried for a readable match */
#define RECENT     8     /* offsets remembered while looking for seeds */
#define SKIP_LEN   48u   /* a remembered offset matching this far makes a search moot */
#define SLOTS      32    /* offsets the parse follows at once */
#define STATES     (SLOTS + 1)
#define KEEP       1024u /* a slot stays wanted this long after its last equal byte */
#define INF        (INT64_MAX / 4)

struct delta_matcher {
    const uint8_t *old;
    uint32_t old_len;
    saidx_t *sa;
};

struct delta_matcher *delta_matcher_new(const uint8_t *old, uint32_t old_len)
{
    struct delta_matcher *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->old = old;
    m->old_len = old_len;
    m->sa = malloc((old_len ? old_len : 1) * sizeof *m->sa);
    if (!m->sa || (old_len && divsufsort(old, m->sa, (saidx_t)old_len) != 0)) {
        delta_matcher_free(m);
        return NULL;
    }
    return m;
}

void delta_matcher_free(struct delta_matcher *m)
{
    if (m) {
        free(m->sa);
        free(m);
    }
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static unsigned log2_u32(uint32_t v)
{
    unsigned n = 0;
    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------- reads */

/* The context every search and the parse share. */
struct ctx {
    const struct delta_matcher *m;
    const uint8_t *new;
    uint32_t new_len;
    const struct delta_avail *av;
    unsigned shift;      /* log2 of the sector size */
    uint32_t begin, end; /* the part of the target being cut */
};

static bool readable(const struct ctx *x, uint32_t at, uint32_t src)
{
    if (!x->av || !x->av->until)
        return true;
    return x->av->step_of[at >> x->shift] <= x->av->until[src >> x->shift];
}

/* How much of new[at, at+len) may be added from old[src...]: the match is cut
 * where it first meets a sector the target step may not read. */
static uint32_t readable_len(const struct ctx *x, uint32_t at, uint32_t src, uint32_t len)
{
    if (!x->av || !x->av->until)
        return len;
    uint32_t size = 1u << x->shift, done = 0;
    while (done < len) {
        if (!readable(x, at + done, src + done))
            return done;
        uint32_t a = size - ((at + done) & (size - 1)), b = size - ((src + done) & (size - 1));
        done += min_u32(a, b);
    }
    return len;
}

/* ---------------------------------------------------------- suffix array */

static uint32_t common_len(const uint8_t *a, const uint8_t *b, uint32_t from, uint32_t max)
{
    while (from < max && a[from] == b[from])
        from++;
    return from;
}

/* Where q would be inserted into the suffix array. The lcp with both bounds
 * is carried along so each probe starts comparing after the known prefix. */
static uint32_t sa_lower_bound(const struct delta_matcher *m, const uint8_t *q, uint32_t qn)
{
    uint32_t l = 0, r = m->old_len, llcp = 0, rlcp = 0;
    while (l < r) {
        uint32_t mid = l + (r - l) / 2, p = (uint32_t)m->sa[mid];
        uint32_t sn = m->old_len - p, max = min_u32(qn, sn);
        uint32_t k = common_len(q, m->old + p, min_u32(min_u32(llcp, rlcp), max), max);
        if (k == qn || (k < sn && m->old[p + k] > q[k])) {
            r = mid;
            rlcp = k;
        } else {
            l = mid + 1;
            llcp = k;
        }
    }
    return l;
}

struct cand {
    uint32_t pos, len;
};

static uint32_t sa_match_len(const struct ctx *x, uint32_t idx, const uint8_t *q, uint32_t qn)
{
    uint32_t p = (uint32_t)x->m->sa[idx];
    return common_len(q, x->m->old + p, 0, min_u32(qn, x->m->old_len - p));
}

/* The longest readable match of new[at...]. Suffixes next to the insertion
 * point share the longest prefixes with it; when the best is not readable,
 * walking outward finds another copy that is (in-place restrictions). */
static struct cand best_match(const struct ctx *x, uint32_t at)
{
    const struct delta_matcher *m = x->m;
    uint32_t qn = min_u32(x->new_len - at, SEARCH_CAP);
    const uint8_t *q = x->new + at;
    uint32_t idx = sa_lower_bound(m, q, qn);
    int64_t lo = (int64_t)idx - 1;
    uint32_t hi = idx;
    uint32_t lo_len = lo >= 0 ? sa_match_len(x, (uint32_t)lo, q, qn) : 0;
    uint32_t hi_len = hi < m->old_len ? sa_match_len(x, hi, q, qn) : 0;
    struct cand best = {0, 0};
    for (int tries = 0; tries < NEIGHBOURS; tries++) {
        bool take_lo = lo_len >= hi_len;
        uint32_t len = take_lo ? lo_len : hi_len;
        if (len <= best.len)
            break; /* nothing further out can do better */
        uint32_t pos = (uint32_t)m->sa[take_lo ? (uint32_t)lo : hi];
        uint32_t r = readable_len(x, at, pos, len);
        if (r > best.len)
            best = (struct cand){pos, r};
        if (r == len)
            break;
        if (take_lo) {
            lo--;
            lo_len = lo >= 0 ? sa_match_len(x, (uint32_t)lo, q, qn) : 0;
        } else {
            hi++;
            hi_len = hi < m->old_len ? sa_match_len(x, hi, q, qn) : 0;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ seeds */

struct seed {
    uint32_t at, len;
    int32_t off;
};

struct seeds {
    struct seed *v;
    size_t n, cap;
};

static int seeds_push(struct seeds *s, struct seed e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        struct seed *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = e;
    return 0;
}

/* An offset seen recently, with where its exact run from here ends. */
struct recent {
    int32_t off;
    uint32_t run_end, used;
    uint32_t seeded_end; /* end of the last run already reported as a seed */
    bool valid;
};

static uint32_t recent_len(const struct ctx *x, struct recent *r, uint32_t at)
{
    int64_t src = (int64_t)at + r->off;
    if (src < 0 || src >= x->m->old_len)
        return 0;
    if (r->run_end <= at) {
        uint32_t max = min_u32(x->new_len - at, x->m->old_len - (uint32_t)src);
        r->run_end = at + common_len(x->new + at, x->m->old + src, 0, max);
    }
    return readable_len(x, at, (uint32_t)src, r->run_end - at);
}

static void recent_add(struct recent *rec, int32_t off, uint32_t at, uint32_t seeded_end)
{
    int victim = 0;
    for (int j = 0; j < RECENT; j++) {
        if (!rec[j].valid) {
            victim = j;
            break;
        }
        if (rec[j].used < rec[victim].used)
            victim = j;
    }
    rec[victim] = (struct recent){off, 0, at, seeded_end, true};
}

/* Exact matches worth following: searched wherever no offset seen recently
 * already matches well, kept when they beat those offsets. */
static int find_seeds(const struct ctx *x, uint32_t min_seed, struct seeds *out)
{
    struct recent rec[RECENT];
    memset(rec, 0, sizeof rec);
    for (uint32_t i = x->begin; i < x->end; i++) {
        uint32_t best = 0;
        int bi = -1;
        for (int j = 0; j < RECENT; j++) {
            if (!rec[j].valid)
                continue;
            uint32_t l = recent_len(x, &rec[j], i);
            /* Each new run of a remembered offset is a seed too: the parse
             * may have dropped that offset since it last matched. */
            if (l >= min_seed && rec[j].run_end > rec[j].seeded_end) {
                rec[j].seeded_end = rec[j].run_end;
                if (seeds_push(out, (struct seed){i, l, rec[j].off}) != 0)
                    return -1;
            }
            if (l > best) {
                best = l;
                bi = j;
            }
        }
        if (bi >= 0)
            rec[bi].used = i;
        if (best >= SKIP_LEN)
            continue;
        struct cand c = best_match(x, i);
        if (c.len < min_seed || c.len <= best)
            continue;
        int32_t off = (int32_t)((int64_t)c.pos - i);
        if (seeds_push(out, (struct seed){i, c.len, off}) != 0)
            return -1;
        recent_add(rec, off, i, i + c.len);
    }
    return 0;
}

/* ------------------------------------------------------------------ parse */

struct slot {
    int32_t off;
    uint32_t wanted; /* position until which the slot is worth keeping */
    bool used, prev_eq;
};

/* A slot that changed offset at `at`: undone while tracing back. */
struct change {
    uint32_t at;
    int slot;
    struct slot before;
};

struct parse {
    struct slot slot[STATES]; /* [0] is the extra state, unused */
    int64_t cost[STATES], next[STATES];
    uint8_t *from; /* new_len x STATES back pointers */
    struct change *log;
    size_t n_log, cap_log;
};

/* Follows offset `off` from now on (seeded by a match ending at `end`). */
static int slot_activate(struct parse *p, int32_t off, uint32_t at, uint32_t end)
{
    int victim = 1;
    for (int j = 1; j < STATES; j++) {
        if (p->slot[j].used && p->slot[j].off == off) {
            if (end > p->slot[j].wanted)
                p->slot[j].wanted = end;
            return 0;
        }
        if (!p->slot[j].used) {
            if (p->slot[victim].used)
                victim = j;
        } else if (p->slot[victim].used && p->slot[j].wanted < p->slot[victim].wanted) {
            victim = j;
        }
    }
    if (p->n_log == p->cap_log) {
        size_t cap = p->cap_log ? 2 * p->cap_log : 1024;
        struct change *v = realloc(p->log, cap * sizeof *v);
        if (!v)
            return -1;
        p->log = v;
        p->cap_log = cap;
    }
    p->log[p->n_log++] = (struct change){at, victim, p->slot[victim]};
    p->slot[victim] = (struct slot){off, end, true, true};
    p->cost[victim] = INF; /* entered only by a switch from here on */
    return 0;
}

/* One byte of the Viterbi recursion: every state's cheapest cost after new[i]. */
static void parse_step(const struct ctx *x, const struct delta_costs *c, struct parse *p,
                       uint32_t i)
{
    int b1 = 0, b2 = -1, ba = -1;
    for (int j = 1; j < STATES; j++) {
        if (p->cost[j] < p->cost[b1]) {
            b2 = b1;
            b1 = j;
        } else if (b2 < 0 || p->cost[j] < p->cost[b2]) {
            b2 = j;
        }
        if (ba < 0 || p->cost[j] < p->cost[ba])
            ba = j;
    }
    uint8_t *from = p->from + (size_t)(i - x->begin) * STATES;

    /* extra: continue, or end an add run (same triple, copy part) */
    if (p->cost[0] <= p->cost[ba] + c->to_extra) {
        p->next[0] = p->cost[0] + c->lit;
        from[0] = 0;
    } else {
        p->next[0] = p->cost[ba] + c->to_extra + c->lit;
        from[0] = (uint8_t)ba;
    }

    for (int j = 1; j < STATES; j++) {
        struct slot *s = &p->slot[j];
        int64_t src = (int64_t)i + s->off;
        if (!s->used || src < 0 || src >= x->m->old_len || !readable(x, i, (uint32_t)src)) {
            p->next[j] = INF;
            from[j] = (uint8_t)j;
            continue;
        }
        bool eq = x->new[i] == x->m->old[src];
        int byte = eq ? c->zero : s->prev_eq ? c->nz_first : c->nz_next;
        int bs = b1 == j ? b2 : b1;
        int64_t stay = p->cost[j], sw = p->cost[bs] + c->triple;
        if (stay <= sw) {
            p->next[j] = stay + byte;
            from[j] = (uint8_t)j;
        } else {
            p->next[j] = sw + byte;
            from[j] = (uint8_t)bs;
        }
        s->prev_eq = eq;
        if (eq && i + KEEP > s->wanted)
            s->wanted = i + KEEP;
    }
    for (int j = 0; j < STATES; j++)
        p->cost[j] = p->next[j] < INF ? p->next[j] : INF;
}

/* Walks the back pointers from the cheapest final state; fills the state
 * and offset of every byte. */
static void trace_back(const struct ctx *x, struct parse *p, uint8_t *state, int32_t *off)
{
    int s = 0;
    for (int j = 1; j < STATES; j++)
        if (p->cost[j] < p->cost[s])
            s = j;
    size_t k = p->n_log;
    for (uint32_t i = x->end; i-- > x->begin;) {
        uint32_t r = i - x->begin;
        state[r] = (uint8_t)s;
        off[r] = p->slot[s].off;
        while (k > 0 && p->log[k - 1].at == i) {
            k--;
            p->slot[p->log[k].slot] = p->log[k].before;
        }
        s = p->from[(size_t)r * STATES + s];
    }
}

static int segs_from_path(const uint8_t *state, const int32_t *off, uint32_t base, uint32_t n,
                          struct delta_seg **segs, size_t *n_segs)
{
    size_t count = 0, cap = 256;
    struct delta_seg *v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        bool add = state[i] != 0;
        while (j < n && (state[j] != 0) == add && (!add || off[j] == off[i]))
            j++;
        if (count == cap) {
            cap *= 2;
            struct delta_seg *w = realloc(v, cap * sizeof *w);
            if (!w) {
                free(v);
                return -1;
            }
            v = w;
        }
        v[count++] = (struct delta_seg){base + i, j - i, add ? off[i] : 0, add};
        i = j;
    }
    *segs = v;
    *n_segs = count;
    return 0;
}

static int run_parse(const struct ctx *x, const struct delta_costs *c, const struct seeds *sd,
                     struct delta_seg **segs, size_t *n_segs)
{
    struct parse p;
    memset(&p, 0, sizeof p);
    uint32_t n = x->end - x->begin;
    uint8_t *state = malloc(n ? n : 1);
    int32_t *off = malloc((n ? n : 1) * sizeof *off);
    p.from = malloc((size_t)(n ? n : 1) * STATES);
    int rc = -1;
    if (!state || !off || !p.from)
        goto out;
    p.cost[0] = 0;
    for (int j = 1; j < STATES; j++)
        p.cost[j] = INF;
    size_t si = 0;
    for (uint32_t i = x->begin; i < x->end; i++) {
        for (; si < sd->n && (sd->v[si].at <= c->back || sd->v[si].at - c->back <= i); si++)
            if (slot_activate(&p, sd->v[si].off, i, sd->v[si].at + sd->v[si].len) != 0)
                goto out;
        parse_step(x, c, &p, i);
    }
    trace_back(x, &p, state, off);
    rc = segs_from_path(state, off, x->begin, n, segs, n_segs);
out:
    free(state);
    free(off);
    free(p.from);
    free(p.log);
    return rc;
}

static int cut_range(const struct ctx *x, const struct delta_costs *c, struct delta_seg **segs,
                     size_t *n_segs)
{
    struct seeds sd = {NULL, 0, 0};
    int rc = find_seeds(x, c->min_seed, &sd);
    if (rc == 0)
        rc = run_parse(x, c, &sd, segs, n_segs);
    free(sd.v);
    return rc;
}

/* A growable list of runs. */
struct seg_list {
    struct delta_seg *v;
    size_t n, cap;
};

static int seg_push(struct seg_list *l, struct delta_seg e)
{
    if (e.len == 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct delta_seg *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
    return 0;
}

/* The target is cut in pieces of at least this many bytes (4 KiB-aligned),
 * each parsed on its own thread. The count depends on the size only, so a
 * package does not depend on the machine that made it. */
#define PIECE_MIN (192u * 1024)

struct piece {
    struct ctx x;
    const struct delta_costs *c;
    struct delta_seg *segs;
    size_t n;
    int rc;
};

static void cut_piece(void *arg)
{
    struct piece *pc = arg;
    pc->rc = cut_range(&pc->x, pc->c, &pc->segs, &pc->n);
}

int delta_match(const struct delta_matcher *m, const uint8_t *new, uint32_t new_len,
                const struct delta_avail *av, const struct delta_costs *c, struct delta_seg **segs,
                size_t *n_segs)
{
    struct ctx x = {m, new, new_len, av, av ? log2_u32(av->sector_size) : 0, 0, new_len};
    uint32_t pieces = new_len / PIECE_MIN;
    pieces = pieces < 1 ? 1 : pieces > DELTA_PAR_MAX ? DELTA_PAR_MAX : pieces;
    uint32_t step = (new_len / pieces + 4095) & ~4095u;
    struct piece pc[DELTA_PAR_MAX];
    for (uint32_t k = 0; k < pieces; k++) {
        pc[k] = (struct piece){x, c, NULL, 0, 0};
        pc[k].x.begin = k * step < new_len ? k * step : new_len;
        pc[k].x.end = k + 1 == pieces || (k + 1) * step > new_len ? new_len : (k + 1) * step;
    }
    delta_par_run(cut_piece, pc, sizeof pc[0], pieces);
    struct seg_list l = {NULL, 0, 0};
    int rc = 0;
    for (uint32_t k = 0; k < pieces; k++) {
        for (size_t i = 0; rc == 0 && pc[k].rc == 0 && i < pc[k].n; i++)
            rc = seg_push(&l, pc[k].segs[i]);
        rc = rc ? rc : pc[k].rc;
        free(pc[k].segs);
    }
    if (rc != 0) {
        free(l.v);
        return -1;
    }
    *segs = l.v;
    *n_segs = l.n;
    return 0;
}

/* ---------------------------------------------------------------- rematch */

/* The part of segs (sorted, covering the target) inside [a, b), from index
 * *i on; *i is left at the first seg that reaches past b. */
static int copy_clipped(const struct delta_seg *segs, size_t n, size_t *i, uint32_t a, uint32_t b,
                        struct seg_list *out)
{
    for (; *i < n && segs[*i].at < b; ++*i) {
        struct delta_seg e = segs[*i];
        uint32_t from = e.at > a ? e.at : a, to = e.at + e.len < b ? e.at + e.len : b;
        if (to > from && seg_push(out, (struct delta_seg){from, to - from, e.offset, e.add}) != 0)
            return -1;
        if (e.at + e.len > b)
            break;
    }
    return 0;
}

/* Target sectors where `segs` reads what `x->av` forbids. */
static uint8_t *late_sectors(const struct ctx *x, const struct delta_seg *segs, size_t n,
                             uint32_t n_sectors)
{
    uint8_t *late = calloc(n_sectors ? n_sectors : 1, 1);
    for (size_t i = 0; late && i < n; i++) {
        if (!segs[i].add)
            continue;
        uint32_t src = (uint32_t)((int64_t)segs[i].at + segs[i].offset);
        for (uint32_t done = 0; done < segs[i].len;) {
            uint32_t r = readable_len(x, segs[i].at + done, src + done, segs[i].len - done);
            done += r;
            if (done < segs[i].len) {
                late[(segs[i].at + done) >> x->shift] = 1;
                done++; /* on past the byte that cannot be read */
            }
        }
    }
    return late;
}

/* The windows of late sectors, cut like the whole target is (PIECE_MIN),
 * into a malloc'd array; NULL if out of memory. */
static struct piece *late_windows(const struct ctx *x, const struct delta_costs *c,
                                  const uint8_t *late, uint32_t n_sectors, size_t *n)
{
    uint32_t size = 1u << x->shift, per = (PIECE_MIN + size - 1) / size;
    struct piece *v = malloc((n_sectors ? n_sectors : 1) * sizeof *v);
    *n = 0;
    for (uint32_t t = 0; v && t < n_sectors; t++) {
        if (!late[t])
            continue;
        uint32_t u = t + 1;
        while (u < n_sectors && late[u] && u - t < per)
            u++;
        v[*n] = (struct piece){*x, c, NULL, 0, 0};
        v[*n].x.begin = t * size;
        v[*n].x.end = u * size < x->new_len ? u * size : x->new_len;
        ++*n;
        t = u - 1;
    }
    return v;
}

int delta_rematch(const struct delta_matcher *m, const uint8_t *new, uint32_t new_len,
                  const struct delta_avail *av, const struct delta_costs *c,
                  const struct delta_seg *segs, size_t n, struct delta_seg **out, size_t *n_out)
{
    struct ctx x = {m, new, new_len, av, log2_u32(av->sector_size), 0, new_len};
    uint32_t size = av->sector_size, n_sectors = (new_len + size - 1) / size;
    uint8_t *late = late_sectors(&x, segs, n, n_sectors);
    size_t n_win = 0;
    struct piece *win = late ? late_windows(&x, c, late, n_sectors, &n_win) : NULL;
    free(late);
    if (!win)
        return -1;
    /* The windows are cut side by side, DELTA_PAR_MAX at a time. */
    for (size_t k = 0; k < n_win; k += DELTA_PAR_MAX)
        delta_par_run(cut_piece, win + k, sizeof win[0],
                      n_win - k < DELTA_PAR_MAX ? n_win - k : DELTA_PAR_MAX);
    struct seg_list l = {NULL, 0, 0};
    size_t i = 0;
    uint32_t done = 0;
    int rc = 0;
    for (size_t k = 0; k < n_win; k++) {
        rc = rc ? rc : win[k].rc;
        if (rc == 0)
            rc = copy_clipped(segs, n, &i, done, win[k].x.begin, &l);
        for (size_t j = 0; rc == 0 && j < win[k].n; j++)
            rc = seg_push(&l, win[k].segs[j]);
        done = win[k].x.end;
        free(win[k].segs);
    }
    if (rc == 0)
        rc = copy_clipped(segs, n, &i, done, new_len, &l);
    free(win);
    if (rc != 0) {
        free(l.v);
        return -1;
    }
    *out = l.v;
    *n_out = l.n;
    return 0;
}
