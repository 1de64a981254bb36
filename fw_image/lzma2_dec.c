#include "fw_image/lzma2_dec.h"

#include <string.h>

/* The LZMA model: 12 states, up to 16 position states, 11-bit probabilities. */
enum {
    STATES = 12,
    POS_STATES_MAX = 16,
    PROB_INIT = 1024,
    LEN_PROBS = 2 + 2 * POS_STATES_MAX * 8 + 256,
    P_IS_MATCH = 0,
    P_IS_REP = P_IS_MATCH + STATES * POS_STATES_MAX,
    P_IS_REP_G0 = P_IS_REP + STATES,
    P_IS_REP_G1 = P_IS_REP_G0 + STATES,
    P_IS_REP_G2 = P_IS_REP_G1 + STATES,
    P_IS_REP0_LONG = P_IS_REP_G2 + STATES,
    P_POS_SLOT = P_IS_REP0_LONG + STATES * POS_STATES_MAX,
    P_SPEC_POS = P_POS_SLOT + 4 * 64,
    P_ALIGN = P_SPEC_POS + 1 + 128 - 14,
    P_LEN = P_ALIGN + 16,
    P_REP_LEN = P_LEN + LEN_PROBS,
    P_LITERAL = P_REP_LEN + LEN_PROBS,
};

static void reset_state(struct lz_dec *d);
static uint8_t packed_byte(struct lz_dec *d);

size_t lz_probs_size(unsigned lclp_max)
{
    return (P_LITERAL + ((size_t)0x300 << lclp_max)) * sizeof(uint16_t);
}

void lz_init(struct lz_dec *d, uint16_t *probs, unsigned lclp_max, uint8_t *dict,
             uint32_t dict_size, lz_fill_fn fill, void *ctx)
{
    memset(d, 0, sizeof *d);
    d->probs = probs;
    d->lclp_max = lclp_max;
    d->dict = dict;
    d->dict_size = dict_size;
    d->fill = fill;
    d->ctx = ctx;
    d->need_dict_reset = true;
    d->need_props = true;
}

int lz_init_raw(struct lz_dec *d, uint16_t *probs, unsigned lclp_max, uint8_t *dict,
                uint32_t dict_size, lz_fill_fn fill, void *ctx, uint8_t props, uint32_t raw_len,
                uint32_t packed_len)
{
    lz_init(d, probs, lclp_max, dict, dict_size, fill, ctx);
    d->need_dict_reset = d->need_props = false;
    d->ended = true; /* one stretch of LZMA data: no chunk follows it */
    d->chunk_lzma = true;
    if (props >= 9 * 5 * 5)
        return LZ_ECORRUPT;
    d->lc = props % 9;
    d->lp = props / 9 % 5;
    d->pb = props / 45;
    if (d->lc + d->lp > lclp_max)
        return LZ_ECORRUPT;
    reset_state(d);
    d->chunk_left = raw_len;
    d->packed_left = packed_len;
    d->range = 0xffffffffu;
    if (raw_len == 0) /* an empty stream has no bytes at all */
        return packed_len == 0 ? LZ_OK : LZ_ECORRUPT;
    for (int i = 0; i < 4; i++) /* the encoder's first byte, always 0, is not stored */
        d->code = (d->code << 8) | packed_byte(d);
    return d->err;
}

/* ---- Input ---------------------------------------------------------------- */

static uint8_t next_byte(struct lz_dec *d)
{
    if (d->in_pos == d->in_len) {
        int n = d->err ? 0 : d->fill(d->ctx, d->in, LZ_INBUF);
        if (n <= 0) {
            if (!d->err)
                d->err = n < 0 ? LZ_EINPUT : LZ_ECORRUPT;
            return 0;
        }
        d->in_pos = 0;
        d->in_len = (uint32_t)n;
    }
    return d->in[d->in_pos++];
}

/* A byte of an LZMA chunk: counted against the chunk's packed size. */
static uint8_t packed_byte(struct lz_dec *d)
{
    if (d->packed_left == 0) {
        d->err = LZ_ECORRUPT;
        return 0;
    }
    d->packed_left--;
    return next_byte(d);
}

/* ---- Range decoder ------------------------------------------------------- */

static void rc_normalize(struct lz_dec *d)
{
    if (d->range < (1u << 24)) {
        d->range <<= 8;
        d->code = (d->code << 8) | packed_byte(d);
    }
}

static unsigned rc_bit(struct lz_dec *d, uint16_t *p)
{
    uint32_t bound = (d->range >> 11) * *p;
    unsigned bit;
    if (d->code < bound) {
        d->range = bound;
        *p = (uint16_t)(*p + ((2048 - *p) >> 5));
        bit = 0;
    } else {
        d->range -= bound;
        d->code -= bound;
        *p = (uint16_t)(*p - (*p >> 5));
        bit = 1;
    }
    rc_normalize(d);
    return bit;
}

static uint32_t rc_direct(struct lz_dec *d, unsigned bits)
{
    uint32_t v = 0;
    while (bits--) {
        d->range >>= 1;
        unsigned bit = d->code >= d->range;
        if (bit)
            d->code -= d->range;
        v = (v << 1) | bit;
        rc_normalize(d);
    }
    return v;
}

static uint32_t rc_tree(struct lz_dec *d, uint16_t *probs, unsigned bits)
{
    uint32_t m = 1;
    for (unsigned i = 0; i < bits; i++)
        m = (m << 1) | rc_bit(d, &probs[m]);
    return m - (1u << bits);
}

static uint32_t rc_tree_reverse(struct lz_dec *d, uint16_t *probs, unsigned bits)
{
    uint32_t m = 1, v = 0;
    for (unsigned i = 0; i < bits; i++) {
        unsigned bit = rc_bit(d, &probs[m]);
        m = (m << 1) | bit;
        v |= (uint32_t)bit << i;
    }
    return v;
}

/* ---- Dictionary ------------------------------------------------------------ */

static void put(struct lz_dec *d, uint8_t b, uint8_t **out)
{
    d->dict[d->dict_pos++] = b;
    if (d->dict_pos == d->dict_size)
        d->dict_pos = 0;
    if (d->dict_full < d->dict_size)
        d->dict_full++;
    d->total++;
    if (*out)
        *(*out)++ = b;
}

static uint8_t peek(const struct lz_dec *d, uint32_t dist)
{
    uint32_t i =
        d->dict_pos >= dist + 1 ? d->dict_pos - dist - 1 : d->dict_pos + d->dict_size - dist - 1;
    return d->dict[i];
}

/* ---- LZMA symbols ------------------------------------------------------------ */

static void reset_state(struct lz_dec *d)
{
    size_t n = lz_probs_size(d->lc + d->lp) / sizeof(uint16_t);
    for (size_t i = 0; i < n; i++)
        d->probs[i] = PROB_INIT;
    d->state = 0;
    memset(d->rep, 0, sizeof d->rep);
    d->match_left = 0;
}

static uint32_t decode_len(struct lz_dec *d, uint16_t *p, uint32_t pos_state)
{
    if (!rc_bit(d, &p[0]))
        return rc_tree(d, &p[2 + pos_state * 8], 3);
    if (!rc_bit(d, &p[1]))
        return 8 + rc_tree(d, &p[2 + POS_STATES_MAX * 8 + pos_state * 8], 3);
    return 16 + rc_tree(d, &p[2 + 2 * POS_STATES_MAX * 8], 8);
}

static uint32_t decode_distance(struct lz_dec *d, uint32_t len)
{
    uint32_t len_state = len < 3 ? len : 3;
    uint32_t slot = rc_tree(d, &d->probs[P_POS_SLOT + len_state * 64], 6);
    if (slot < 4)
        return slot;
    unsigned direct = (slot >> 1) - 1;
    uint32_t dist = (2 | (slot & 1)) << direct;
    if (slot < 14)
        return dist + rc_tree_reverse(d, &d->probs[P_SPEC_POS + dist - slot], direct);
    dist += rc_direct(d, direct - 4) << 4;
    return dist + rc_tree_reverse(d, &d->probs[P_ALIGN], 4);
}

static void decode_literal(struct lz_dec *d, uint8_t **out)
{
    uint32_t prev = d->dict_full ? peek(d, 0) : 0;
    uint32_t lit_state = ((d->total & ((1u << d->lp) - 1)) << d->lc) + (prev >> (8 - d->lc));
    uint16_t *p = &d->probs[P_LITERAL + 0x300 * lit_state];
    uint32_t sym = 1;
    if (d->state >= 7) { /* after a match: the byte at rep0 guides the first bits */
        uint32_t match = d->rep[0] < d->dict_full ? peek(d, d->rep[0]) : 0;
        while (sym < 0x100) {
            uint32_t match_bit = (match >> 7) & 1;
            match <<= 1;
            unsigned bit = rc_bit(d, &p[((1 + match_bit) << 8) + sym]);
            sym = (sym << 1) | bit;
            if (bit != match_bit)
                break;
        }
    }
    while (sym < 0x100)
        sym = (sym << 1) | rc_bit(d, &p[sym]);
    d->state = d->state < 4 ? 0 : d->state < 10 ? d->state - 3 : d->state - 6;
    put(d, (uint8_t)sym, out);
}

/* One symbol: a literal (written now) or a match (left in match_left). */
static int decode_symbol(struct lz_dec *d, uint8_t **out)
{
    uint32_t pos_state = d->total & ((1u << d->pb) - 1);
    uint16_t *p = d->probs;
    if (!rc_bit(d, &p[P_IS_MATCH + d->state * POS_STATES_MAX + pos_state])) {
        decode_literal(d, out);
        return d->err;
    }
    uint32_t len;
    if (!rc_bit(d, &p[P_IS_REP + d->state])) {
        len = decode_len(d, &p[P_LEN], pos_state);
        d->state = d->state < 7 ? 7 : 10;
        uint32_t dist = decode_distance(d, len);
        if (dist == 0xffffffffu)
            return LZ_ECORRUPT; /* an end marker: LZMA2 chunks have none */
        d->rep[3] = d->rep[2];
        d->rep[2] = d->rep[1];
        d->rep[1] = d->rep[0];
        d->rep[0] = dist;
    } else {
        if (!rc_bit(d, &p[P_IS_REP_G0 + d->state])) {
            if (!rc_bit(d, &p[P_IS_REP0_LONG + d->state * POS_STATES_MAX + pos_state])) {
                if (d->rep[0] >= d->dict_full)
                    return LZ_ECORRUPT;
                d->state = d->state < 7 ? 9 : 11;
                put(d, peek(d, d->rep[0]), out); /* a one-byte "short rep" */
                return d->err;
            }
        } else {
            uint32_t dist;
            if (!rc_bit(d, &p[P_IS_REP_G1 + d->state])) {
                dist = d->rep[1];
            } else {
                if (!rc_bit(d, &p[P_IS_REP_G2 + d->state])) {
                    dist = d->rep[2];
                } else {
                    dist = d->rep[3];
                    d->rep[3] = d->rep[2];
                }
                d->rep[2] = d->rep[1];
            }
            d->rep[1] = d->rep[0];
            d->rep[0] = dist;
        }
        len = decode_len(d, &p[P_REP_LEN], pos_state);
        d->state = d->state < 7 ? 8 : 11;
    }
    len += 2;
    if (d->err)
        return d->err;
    if (d->rep[0] >= d->dict_full || len > d->chunk_left)
        return LZ_ECORRUPT;
    d->match_left = len;
    return LZ_OK;
}

/* ---- LZMA2 chunks ---------------------------------------------------------- */

static int start_chunk(struct lz_dec *d)
{
    uint8_t c = next_byte(d);
    if (d->err)
        return d->err;
    if (c == 0x00) {
        d->ended = true;
        return LZ_END;
    }
    if (c == 0x01 || c == 0x02) { /* stored: 0x01 resets the dictionary */
        if (c == 0x02 && d->need_dict_reset)
            return LZ_ECORRUPT;
        uint32_t size = ((uint32_t)next_byte(d) << 8 | next_byte(d)) + 1;
        if (c == 0x01) {
            d->dict_pos = d->dict_full = d->total = 0;
            d->need_dict_reset = false;
        }
        d->chunk_left = size;
        d->chunk_lzma = false;
        return d->err;
    }
    if (c < 0x80)
        return LZ_ECORRUPT;
    unsigned reset = (c >> 5) & 3;
    uint32_t size = (uint32_t)(c & 0x1f) << 16;
    size |= (uint32_t)next_byte(d) << 8;
    size |= next_byte(d);
    uint32_t packed = ((uint32_t)next_byte(d) << 8 | next_byte(d)) + 1;
    if ((d->need_dict_reset && reset < 3) || (d->need_props && reset < 2))
        return LZ_ECORRUPT;
    if (reset == 3) {
        d->dict_pos = d->dict_full = d->total = 0;
        d->need_dict_reset = false;
    }
    if (reset >= 2) {
        uint8_t props = next_byte(d);
        if (props >= 9 * 5 * 5)
            return LZ_ECORRUPT;
        d->lc = props % 9;
        d->lp = props / 9 % 5;
        d->pb = props / 45;
        if (d->lc + d->lp > d->lclp_max)
            return LZ_ECORRUPT; /* more context than the caller made room for */
        d->need_props = false;
    }
    if (reset >= 1)
        reset_state(d);
    d->chunk_left = size + 1;
    d->chunk_lzma = true;
    d->packed_left = packed;
    d->range = 0xffffffffu;
    d->code = 0;
    if (packed_byte(d) != 0)
        return LZ_ECORRUPT;
    for (int i = 0; i < 4; i++)
        d->code = (d->code << 8) | packed_byte(d);
    return d->err;
}

/* An LZMA chunk must end exactly where its packed size says. */
static int end_chunk(struct lz_dec *d)
{
    if (d->chunk_lzma && (d->packed_left != 0 || d->code != 0))
        return LZ_ECORRUPT;
    return LZ_OK;
}

int lz_read(struct lz_dec *d, uint8_t *out, uint32_t n)
{
    uint8_t *o = out;
    uint8_t **op = out ? &o : &out; /* NULL out: bytes go to the dictionary only */
    while (n > 0) {
        if (d->err)
            return d->err;
        if (d->match_left > 0) {
            uint32_t k = d->match_left < n ? d->match_left : n;
            for (uint32_t i = 0; i < k; i++)
                put(d, peek(d, d->rep[0]), op);
            d->match_left -= k;
            d->chunk_left -= k;
            n -= k;
            if (d->chunk_left == 0 && d->match_left == 0 && end_chunk(d) != 0)
                return LZ_ECORRUPT;
            continue;
        }
        if (d->chunk_left == 0) {
            if (d->ended)
                return LZ_ECORRUPT;
            int r = start_chunk(d);
            if (r == LZ_END)
                return LZ_ECORRUPT; /* the stream ended before n bytes */
            if (r)
                return r;
            continue;
        }
        if (!d->chunk_lzma) {
            put(d, next_byte(d), op);
            d->chunk_left--;
            n--;
        } else {
            uint32_t before = d->total;
            int r = decode_symbol(d, op);
            if (r)
                return r;
            uint32_t wrote = d->total - before; /* a literal or short rep: one byte */
            d->chunk_left -= wrote;
            n -= wrote;
        }
        if (d->chunk_left == 0 && d->match_left == 0) {
            int r = end_chunk(d);
            if (r)
                return r;
        }
    }
    return d->err;
}

int lz_finish(struct lz_dec *d)
{
    if (d->match_left || d->chunk_left || d->err)
        return LZ_ECORRUPT;
    if (d->ended)
        return LZ_END;
    int r = start_chunk(d);
    return r == LZ_END ? LZ_END : LZ_ECORRUPT;
}
