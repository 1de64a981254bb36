#include "fw_image/gen/delta_plan.h"

#include "fw_image/bytes.h"

#include <stdlib.h>
#include <string.h>

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* ----------------------------------------------------------------- buffers */

void delta_buf_put(struct delta_buf *b, const void *data, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

void delta_buf_varint(struct delta_buf *b, uint32_t v)
{
    uint8_t tmp[5];
    delta_buf_put(b, tmp, varint_put(tmp, v));
}

void delta_raw_free(struct delta_raw *r)
{
    free(r->ctrl.p);
    free(r->diff.p);
    free(r->extra.p);
    memset(r, 0, sizeof *r);
}

/* -------------------------------------------------------------------- plan */

int delta_plan_init(struct delta_plan *p, uint32_t sector_size, uint32_t old_len, uint32_t new_len,
                    bool descending)
{
    memset(p, 0, sizeof *p);
    p->sector_size = sector_size;
    p->n_steps = (uint32_t)(((uint64_t)new_len + sector_size - 1) / sector_size);
    p->n_src = (uint32_t)(((uint64_t)old_len + sector_size - 1) / sector_size);
    p->order = malloc(p->n_steps * sizeof *p->order);
    p->step_of = malloc(p->n_steps * sizeof *p->step_of);
    p->until = malloc(p->n_src * sizeof *p->until);
    if (!p->order || !p->step_of || !p->until) {
        delta_plan_free(p);
        return -1;
    }
    for (uint32_t k = 0; k < p->n_steps; k++) {
        uint32_t t = descending ? p->n_steps - 1 - k : k;
        p->order[k] = t;
        p->step_of[t] = k;
    }
    for (uint32_t s = 0; s < p->n_src; s++)
        p->until[s] = s < p->n_steps ? p->step_of[s] : DELTA_NEVER;
    return 0;
}

void delta_plan_free(struct delta_plan *p)
{
    free(p->order);
    free(p->step_of);
    free(p->until);
    free(p->stash);
    memset(p, 0, sizeof *p);
}

/* A read of source sector `src` by step `step`, after `src` was overwritten. */
struct late_read {
    uint32_t src, step, bytes;
};

static int cmp_late(const void *a, const void *b)
{
    const struct late_read *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return x->step < y->step ? -1 : x->step > y->step;
}

/* Every late read of the add runs, sorted by sector then step and merged. */
static int late_reads(const struct delta_plan *p, const struct delta_seg *segs, size_t n,
                      struct late_read **out, size_t *n_out)
{
    size_t count = 0, cap = 64;
    struct late_read *v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    uint32_t size = p->sector_size;
    for (size_t i = 0; i < n; i++) {
        if (!segs[i].add)
            continue;
        uint32_t at = segs[i].at, src = (uint32_t)((int64_t)at + segs[i].offset);
        for (uint32_t done = 0; done < segs[i].len;) {
            uint32_t len = min_u32(segs[i].len - done, size - (at + done) % size);
            len = min_u32(len, size - (src + done) % size);
            uint32_t s = (src + done) / size, k = p->step_of[(at + done) / size];
            if (s < p->n_steps && k > p->step_of[s]) {
                if (count == cap) {
                    cap *= 2;
                    struct late_read *w = realloc(v, cap * sizeof *w);
                    if (!w) {
                        free(v);
                        return -1;
                    }
                    v = w;
                }
                v[count++] = (struct late_read){s, k, len};
            }
            done += len;
        }
    }
    qsort(v, count, sizeof *v, cmp_late);
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        if (m > 0 && v[m - 1].src == v[i].src && v[m - 1].step == v[i].step)
            v[m - 1].bytes += v[i].bytes;
        else
            v[m++] = v[i];
    }
    *out = v;
    *n_out = m;
    return 0;
}

/* A stash interval: sector `src` is held from step `first` (when it is
 * overwritten) through step `last` (its last late read). */
struct interval {
    uint32_t src, first, last;
    uint64_t bytes;
    size_t lo, hi; /* its late reads: [lo, hi) */
};

static int intervals(const struct delta_plan *p, const struct late_read *r, size_t n,
                     struct interval **out, size_t *n_out)
{
    struct interval *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t bytes = 0;
        while (j < n && r[j].src == r[i].src)
            bytes += r[j++].bytes;
        v[m++] = (struct interval){r[i].src, p->step_of[r[i].src], r[j - 1].step, bytes, i, j};
        i = j;
    }
    *out = v;
    *n_out = m;
    return 0;
}

int delta_plan_fits(const struct delta_plan *p, const struct delta_seg *segs, size_t n,
                    uint32_t slots)
{
    struct late_read *r = NULL;
    struct interval *iv = NULL;
    size_t nr = 0, ni = 0;
    uint32_t *occ = calloc(p->n_steps + 1, sizeof *occ);
    int rc = -1;
    if (!occ || late_reads(p, segs, n, &r, &nr) != 0 || intervals(p, r, nr, &iv, &ni) != 0)
        goto out;
    rc = 1;
    for (size_t i = 0; i < ni && rc == 1; i++)
        for (uint32_t k = iv[i].first; k <= iv[i].last; k++)
            if (++occ[k] > slots)
                rc = 0;
out:
    free(occ);
    free(r);
    free(iv);
    return rc;
}

static int cmp_bytes_desc(const void *a, const void *b)
{
    const struct interval *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->src < y->src ? -1 : x->src > y->src;
}

int delta_plan_restrict(struct delta_plan *p, const struct delta_seg *segs, size_t n,
                        uint32_t slots)
{
    struct late_read *r = NULL;
    struct interval *iv = NULL;
    size_t nr = 0, ni = 0;
    uint32_t *occ = calloc(p->n_steps + 1, sizeof *occ);
    int rc = -1;
    if (!occ || late_reads(p, segs, n, &r, &nr) != 0 || intervals(p, r, nr, &iv, &ni) != 0)
        goto out;
    for (uint32_t s = 0; s < p->n_src; s++)
        p->until[s] = s < p->n_steps ? p->step_of[s] : DELTA_NEVER;
    /* Greedy by bytes read: each sector keeps the longest prefix of its
     * interval that still leaves every step within `slots`. */
    qsort(iv, ni, sizeof *iv, cmp_bytes_desc);
    for (size_t i = 0; i < ni; i++) {
        uint32_t limit = iv[i].first;
        while (limit + 1 < p->n_steps && occ[limit + 1] < slots && occ[iv[i].first] < slots)
            limit++;
        if (occ[iv[i].first] >= slots)
            continue;
        uint32_t last = iv[i].first;
        for (size_t j = iv[i].lo; j < iv[i].hi && r[j].step <= limit; j++)
            last = r[j].step;
        if (last == iv[i].first)
            continue;
        for (uint32_t k = iv[i].first; k <= last; k++)
            occ[k]++;
        p->until[iv[i].src] = last;
    }
    rc = 0;
out:
    free(occ);
    free(r);
    free(iv);
    return rc;
}

static int cmp_first(const void *a, const void *b)
{
    const struct interval *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->src < y->src ? -1 : x->src > y->src;
}

int delta_plan_stash(struct delta_plan *p, const struct delta_seg *segs, size_t n, uint32_t slots)
{
    struct late_read *r = NULL;
    struct interval *iv = NULL;
    size_t nr = 0, ni = 0;
    int rc = -1;
    free(p->stash);
    p->stash = NULL;
    p->n_stash = 0;
    p->slots_used = 0;
    if (late_reads(p, segs, n, &r, &nr) != 0 || intervals(p, r, nr, &iv, &ni) != 0)
        goto out;
    /* Interval colouring by start step: optimal for intervals. A slot is free
     * for an interval starting at step k only if its holder's last reader is
     * before k (the stash copy happens before step k computes). */
    uint32_t *busy_until = malloc((ni ? ni : 1) * sizeof *busy_until);
    p->stash = malloc((ni ? ni : 1) * sizeof *p->stash);
    if (!busy_until || !p->stash) {
        free(busy_until);
        goto out;
    }
    qsort(iv, ni, sizeof *iv, cmp_first);
    rc = 0;
    for (size_t i = 0; i < ni; i++) {
        uint32_t slot = 0;
        while (slot < p->slots_used && busy_until[slot] >= iv[i].first)
            slot++;
        if (slot == p->slots_used)
            p->slots_used++;
        busy_until[slot] = iv[i].last;
        p->stash[p->n_stash++] = (struct delta_stash){iv[i].first, iv[i].src, slot};
    }
    free(busy_until);
    if (p->slots_used > slots)
        rc = -2;
out:
    free(r);
    free(iv);
    return rc;
}

/* -------------------------------------------------------------------- emit */

/* A zero run of the diff at least this long is sent as an exact add of its
 * own: two control triples cost less than the LZMA coding of the zeros.
 * Measured on 15 real pairs and a one-byte change: 2048 was the best of
 * 32..100000 overall (smaller favours tiny changes, larger dense ones). */
#define EXACT_MIN 2048u

struct triple {
    uint32_t add, copy, src, step;
    bool exact;
    uint32_t last_step; /* the step it ends in, once merged across steps */
};

struct triples {
    struct triple *v;
    size_t n, cap;
};

static int triples_push(struct triples *t, struct triple e)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        struct triple *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = e;
    return 0;
}

/* The first run that ends after `at`. */
static size_t seg_find(const struct delta_seg *segs, size_t n, uint32_t at)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (segs[mid].at + segs[mid].len <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The add runs of new[a, b) read from old[src...]: long stretches where the
 * bytes are equal become exact runs, the rest carry diff bytes. The last
 * run is left open in *cur for a copy part to follow. */
static int emit_add(uint32_t a, uint32_t b, uint32_t src, uint32_t k, const uint8_t *old,
                    const uint8_t *new, struct triples *tr, struct triple *cur,
                    struct delta_raw *out)
{
    uint32_t x = a;
    while (x < b) {
        /* the next zero run of at least EXACT_MIN bytes from x: [z, zend) */
        uint32_t z = b, zend = b;
        for (uint32_t y = x; y < b;) {
            uint32_t e = y;
            while (e < b && new[e] == old[src + (e - a)])
                e++;
            if (e - y >= EXACT_MIN) {
                z = y;
                zend = e;
                break;
            }
            y = e + 1;
        }
        if (z > x) {
            *cur = (struct triple){z - x, 0, src + (x - a), k, false, k};
            for (uint32_t i = x; i < z; i++) {
                uint8_t d = (uint8_t)(new[i] - old[src + (i - a)]);
                delta_buf_put(&out->diff, &d, 1);
            }
            if (zend > z && triples_push(tr, *cur) != 0)
                return -1;
        }
        if (zend > z) {
            *cur = (struct triple){zend - z, 0, src + (z - a), k, true, k};
            if (zend < b && triples_push(tr, *cur) != 0)
                return -1;
        }
        x = zend;
    }
    return 0;
}

/* One step's triples (without seeks) and its diff and extra bytes. A triple
 * holds an add part then a copy part, so an add run after anything starts a
 * new triple; the step's end closes the last one. */
static int emit_step(uint32_t k, const struct delta_plan *p, const struct delta_seg *segs, size_t n,
                     const uint8_t *old, const uint8_t *new, uint32_t new_len, struct triples *tr,
                     struct delta_raw *out)
{
    uint32_t begin = p->order[k] * p->sector_size;
    uint32_t end =
        (uint32_t)((uint64_t)begin + p->sector_size < new_len ? begin + p->sector_size : new_len);
    struct triple cur = {0, 0, 0, k, false, k};
    bool open = false;
    for (size_t i = seg_find(segs, n, begin); i < n && segs[i].at < end; i++) {
        uint32_t a = segs[i].at > begin ? segs[i].at : begin;
        uint32_t b = segs[i].at + segs[i].len < end ? segs[i].at + segs[i].len : end;
        if (segs[i].add) {
            if (open && triples_push(tr, cur) != 0)
                return -1;
            uint32_t src = (uint32_t)((int64_t)a + segs[i].offset);
            if (emit_add(a, b, src, k, old, new, tr, &cur, out) != 0)
                return -1;
            open = true;
        } else {
            if (!open)
                cur = (struct triple){0, 0, 0, k, false, k};
            cur.copy += b - a;
            open = true;
            delta_buf_put(&out->extra, new + a, b - a);
        }
    }
    return open ? triples_push(tr, cur) : 0;
}

/* A step's plan entry, at the head of its triples in the control stream:
 * its target relative to the one after the previous step's, then its stash
 * copies. */
static void write_plan_entry(const struct delta_plan *p, uint32_t k, size_t *si,
                             struct delta_buf *ctrl)
{
    int64_t expected = k ? (int64_t)p->order[k - 1] + 1 : 0;
    size_t sj = *si;
    while (sj < p->n_stash && p->stash[sj].step == k)
        sj++;
    delta_buf_varint(ctrl, zigzag_encode((int32_t)((int64_t)p->order[k] - expected)));
    delta_buf_varint(ctrl, (uint32_t)(sj - *si));
    for (; *si < sj; (*si)++) {
        delta_buf_varint(ctrl, p->stash[*si].src);
        delta_buf_varint(ctrl, p->stash[*si].slot);
    }
}

/* Writes the plan entries and the triples with their seeks: each triple's
 * seek moves `pos` to where the next add run reads, so `pos` carries across
 * steps. A leading triple (0, 0, seek) positions the very first add run. */
static void write_ctrl(const struct delta_plan *p, const struct triples *tr, struct delta_buf *ctrl)
{
    int64_t pos = 0;
    size_t first_add = 0, si = 0;
    uint32_t next_entry = 0; /* the first step whose plan entry is not written */
    while (first_add < tr->n && tr->v[first_add].add == 0)
        first_add++;
    size_t next_add = first_add;
    for (size_t j = 0; j < tr->n; j++) {
        const struct triple *e = &tr->v[j];
        for (; next_entry <= e->step; next_entry++)
            write_plan_entry(p, next_entry, &si, ctrl);
        if (j == 0 && first_add == 0 && e->src != 0) {
            delta_buf_varint(ctrl, 0);
            delta_buf_varint(ctrl, 0);
            delta_buf_varint(ctrl, zigzag_encode((int32_t)e->src));
            pos = e->src;
        }
        pos += e->add;
        if (next_add <= j) {
            next_add = j + 1;
            while (next_add < tr->n && tr->v[next_add].add == 0)
                next_add++;
        }
        int64_t seek = next_add < tr->n ? (int64_t)tr->v[next_add].src - pos : 0;
        pos += seek;
        delta_buf_varint(ctrl, e->add << 1 | (e->exact ? 1u : 0u));
        delta_buf_varint(ctrl, e->copy);
        delta_buf_varint(ctrl, zigzag_encode((int32_t)seek));
    }
    for (; next_entry < p->n_steps; next_entry++) /* steps inside the last triple */
        write_plan_entry(p, next_entry, &si, ctrl);
}

/* Joins the last triple of a step to the first of the next where the next
 * step writes the following target sector and the two read on from each
 * other: an add run that goes on, or copy bytes that follow. A triple may
 * run on into later steps, so a region that did not change costs nothing
 * per sector. */
static void merge_across_steps(const struct delta_plan *p, struct triples *tr)
{
    size_t w = 0;
    for (size_t j = 0; j < tr->n; j++) {
        struct triple *a = w ? &tr->v[w - 1] : NULL, *b = &tr->v[j];
        bool next =
            a && b->step == a->last_step + 1 && p->order[b->step] == p->order[a->last_step] + 1;
        if (next && a->copy == 0 && a->add > 0 && b->add > 0 && a->exact == b->exact &&
            b->src == a->src + a->add) {
            a->add += b->add;
            a->copy = b->copy;
            a->last_step = b->step;
        } else if (next && b->add == 0 && (a->add > 0 || a->copy > 0)) {
            a->copy += b->copy;
            a->last_step = b->step;
        } else {
            tr->v[w++] = *b;
        }
    }
    tr->n = w;
}

int delta_emit(const struct delta_plan *p, const struct delta_seg *segs, size_t n,
               const uint8_t *old, const uint8_t *new, uint32_t new_len, struct delta_raw *out)
{
    memset(out, 0, sizeof *out);
    struct triples tr = {NULL, 0, 0};
    int rc = 0;
    for (uint32_t k = 0; k < p->n_steps && rc == 0; k++)
        rc = emit_step(k, p, segs, n, old, new, new_len, &tr, out);
    if (rc == 0) {
        merge_across_steps(p, &tr);
        write_ctrl(p, &tr, &out->ctrl);
    }
    free(tr.v);
    if (rc != 0 || out->ctrl.oom || out->diff.oom || out->extra.oom) {
        delta_raw_free(out);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ replay */

struct reader {
    const uint8_t *p, *end;
};

static bool read_varint(struct reader *r, uint32_t *v)
{
    size_t used = varint_get(r->p, r->end, v);
    r->p += used;
    return used > 0;
}

bool delta_replay_ok(const struct delta_plan *p, const struct delta_raw *r, const uint8_t *old,
                     uint32_t old_len, const uint8_t *new, uint32_t new_len)
{
    uint32_t size = p->sector_size;
    uint32_t *written_at = malloc((p->n_src ? p->n_src : 1) * sizeof *written_at);
    int64_t *held = malloc((p->slots_used ? p->slots_used : 1) * sizeof *held);
    bool ok = written_at && held;
    struct reader ctrl = {r->ctrl.p, r->ctrl.p + r->ctrl.n};
    size_t di = 0, ei = 0;
    int64_t pos = 0, last = -1;
    uint32_t add = 0, copy = 0, zz = 0; /* what is left of the triple in progress */
    bool exact = false;
    for (uint32_t s = 0; ok && s < p->n_src; s++)
        written_at[s] = DELTA_NEVER;
    for (uint32_t j = 0; ok && j < p->slots_used; j++)
        held[j] = -1;
    for (uint32_t k = 0; ok && k < p->n_steps; k++) {
        uint32_t zt, count, src, slot;
        ok = read_varint(&ctrl, &zt) && read_varint(&ctrl, &count);
        int64_t t = last + 1 + zigzag_decode(zt);
        ok = ok && t >= 0 && t < p->n_steps;
        last = t;
        for (uint32_t e = 0; ok && e < count; e++) {
            ok = read_varint(&ctrl, &src) && read_varint(&ctrl, &slot) && src < p->n_src &&
                 slot < p->slots_used && written_at[src] == DELTA_NEVER;
            if (ok)
                held[slot] = src;
        }
        uint32_t at = (uint32_t)t * size, end = at + size < new_len ? at + size : new_len;
        while (ok && at < end) {
            if (add == 0 && copy == 0) {
                uint32_t word;
                ok = read_varint(&ctrl, &word) && read_varint(&ctrl, &copy) &&
                     read_varint(&ctrl, &zz) && (word >> 1 || copy || zz);
                add = word >> 1;
                exact = word & 1;
                ok = ok && pos >= 0 && pos + add <= old_len;
            }
            for (; ok && add > 0 && at < end; add--, at++, pos++) {
                uint32_t s = (uint32_t)(pos / size);
                bool intact = written_at[s] == DELTA_NEVER;
                bool stashed = false;
                for (uint32_t j = 0; j < p->slots_used; j++)
                    stashed |= held[j] == s;
                ok = (intact || stashed) && (exact || di < r->diff.n);
                uint8_t d = ok && !exact ? r->diff.p[di++] : 0;
                ok = ok && (uint8_t)(old[pos] + d) == new[at];
            }
            for (; ok && add == 0 && copy > 0 && at < end; copy--, at++)
                ok = ei < r->extra.n && r->extra.p[ei++] == new[at];
            if (add == 0 && copy == 0)
                pos += zigzag_decode(zz);
        }
        if (ok && t < p->n_src)
            written_at[t] = k;
    }
    ok = ok && add == 0 && copy == 0 && ctrl.p == ctrl.end && di == r->diff.n && ei == r->extra.n;
    free(written_at);
    free(held);
    return ok;
}
