/* The apply path's LZMA2 and raw LZMA decoder against liblzma's encoder. */
#include "tests/integration/suites.h"
#include "fw_image/lzma2_dec.h"
#include "tests/unit/fw_fixture.h"

#include <check.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

struct src {
    const uint8_t *p;
    size_t len, pos;
    uint32_t chunk; /* feed at most this many bytes per call */
};

static int fill(void *ctx, uint8_t *buf, uint32_t cap)
{
    struct src *s = ctx;
    uint32_t n = cap < s->chunk ? cap : s->chunk;
    if (n > s->len - s->pos)
        n = (uint32_t)(s->len - s->pos);
    memcpy(buf, s->p + s->pos, n);
    s->pos += n;
    return (int)n;
}

static size_t encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, unsigned lc,
                     unsigned lp, unsigned pb, uint32_t dict, int preset)
{
    lzma_options_lzma o;
    lzma_lzma_preset(&o, (uint32_t)preset);
    o.dict_size = dict;
    o.lc = lc;
    o.lp = lp;
    o.pb = pb;
    lzma_filter f[2] = {{LZMA_FILTER_LZMA2, &o}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t pos = 0;
    ck_assert_int_eq(lzma_raw_buffer_encode(f, NULL, in, len, out, &pos, cap), LZMA_OK);
    return pos;
}

/* Data that exercises matches, reps, literals: text-like runs, repeats, noise. */
static void sample(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed | 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (i > 64 && x % 5 < 3)
            p[i] = p[i - 1 - (x >> 8) % (i < 3000 ? i : 3000)];
        else if (x % 7 == 0)
            p[i] = 0;
        else
            p[i] = (uint8_t)(x >> 24);
    }
}

static uint16_t probs[(1 << 15)];
static uint8_t dict[1 << 16];

START_TEST(matches_liblzma)
{
    static const struct {
        unsigned lc, lp, pb;
        uint32_t dict;
        size_t len;
    } cases[] = {{3, 0, 2, 4096, 100000}, {0, 0, 0, 4096, 70000},   {1, 0, 0, 8192, 50000},
                 {0, 1, 1, 4096, 65536},  {3, 1, 1, 32768, 90000},  {4, 0, 4, 16384, 30000},
                 {0, 4, 2, 4096, 20000},  {2, 2, 3, 65536, 150000}, {3, 0, 2, 4096, 1},
                 {3, 0, 2, 4096, 0}};
    static uint8_t data[150000], packed[200000], got[150000];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sample(data, cases[c].len, (uint32_t)c + 11);
        size_t plen = encode(data, cases[c].len, packed, sizeof packed, cases[c].lc, cases[c].lp,
                             cases[c].pb, cases[c].dict, c % 2 ? 9 : 6);
        for (uint32_t feed = 1; feed <= 64; feed *= 8) {
            struct src s = {packed, plen, 0, feed};
            struct lz_dec d;
            lz_init(&d, probs, cases[c].lc + cases[c].lp, dict, cases[c].dict, fill, &s);
            size_t at = 0;
            uint32_t piece = 1;
            while (at < cases[c].len) { /* read in uneven pieces, some discarded */
                uint32_t k = piece < cases[c].len - at ? piece : (uint32_t)(cases[c].len - at);
                ck_assert_int_eq(lz_read(&d, got + at, k), LZ_OK);
                at += k;
                piece = piece * 3 % 997 + 1;
            }
            ck_assert_int_eq(lz_finish(&d), LZ_END);
            ck_assert_msg(memcmp(got, data, cases[c].len) == 0, "case %zu differs", c);
            ck_assert_uint_eq(s.pos, plen);
        }
        /* Discarding (out == NULL) keeps the dictionary right for what follows. */
        struct src s = {packed, plen, 0, 64};
        struct lz_dec d;
        lz_init(&d, probs, cases[c].lc + cases[c].lp, dict, cases[c].dict, fill, &s);
        size_t half = cases[c].len / 2;
        ck_assert_int_eq(lz_read(&d, NULL, (uint32_t)half), LZ_OK);
        ck_assert_int_eq(lz_read(&d, got, (uint32_t)(cases[c].len - half)), LZ_OK);
        ck_assert(memcmp(got, data + half, cases[c].len - half) == 0);
    }
}
END_TEST

START_TEST(memory_is_sized_by_context_bits)
{
    ck_assert_uint_lt(lz_probs_size(0), 6 * 1024);
    ck_assert_uint_eq(lz_probs_size(3) - lz_probs_size(0), 2 * (0x300 * 8 - 0x300));
}
END_TEST

START_TEST(refuses_more_context_than_room)
{
    static uint8_t data[5000], packed[8000], got[5000];
    sample(data, sizeof data, 5);
    size_t plen = encode(data, sizeof data, packed, sizeof packed, 3, 0, 2, 4096, 6);
    struct src s = {packed, plen, 0, 64};
    struct lz_dec d;
    lz_init(&d, probs, 2, dict, 4096, fill, &s); /* room for lc+lp <= 2 only */
    ck_assert_int_eq(lz_read(&d, got, sizeof got), LZ_ECORRUPT);
}
END_TEST

/* Damage anywhere: an error or (rarely) wrong bytes, never a crash. */
START_TEST(damaged_streams_fail_cleanly)
{
    static uint8_t data[20000], packed[30000], bad[30000], got[20000];
    sample(data, sizeof data, 9);
    size_t plen = encode(data, sizeof data, packed, sizeof packed, 3, 0, 2, 4096, 6);
    int errors = 0;
    srand(7);
    for (int run = 0; run < 2000; run++) {
        memcpy(bad, packed, plen);
        size_t len = plen;
        int kind = run % 3;
        if (kind == 0)
            bad[rand() % (int)plen] ^= (uint8_t)(1 + rand() % 255);
        else if (kind == 1)
            len = (size_t)rand() % plen;
        else
            for (int k = 0; k < 8; k++)
                bad[rand() % (int)plen] = (uint8_t)rand();
        struct src s = {bad, len, 0, 64};
        struct lz_dec d;
        lz_init(&d, probs, 3, dict, 4096, fill, &s);
        int r = lz_read(&d, got, sizeof got);
        if (r == LZ_OK)
            r = lz_finish(&d) == LZ_END ? LZ_OK : LZ_ECORRUPT;
        errors += r != LZ_OK;
    }
    ck_assert_int_gt(errors, 1500); /* nearly all damage is noticed */
}
END_TEST

static uint8_t props_of(unsigned lc, unsigned lp, unsigned pb)
{
    return (uint8_t)((pb * 5 + lp) * 9 + lc);
}

START_TEST(raw_streams_of_a_known_length)
{
    static const struct {
        unsigned lc, lp, pb;
        uint32_t dict;
        size_t len;
    } cases[] = {{3, 0, 2, 4096, 100000}, {0, 0, 0, 32768, 70000}, {1, 0, 0, 8192, 5},
                 {0, 1, 1, 4096, 65536},  {2, 2, 3, 65536, 1},     {3, 0, 0, 4096, 0}};
    static uint8_t data[100000], packed[120000], got[100001];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sample(data, cases[c].len, (uint32_t)c + 31);
        size_t plen = fx_stream(data, cases[c].len, packed, sizeof packed, cases[c].lc, cases[c].lp,
                                cases[c].pb, cases[c].dict);
        uint8_t props = props_of(cases[c].lc, cases[c].lp, cases[c].pb);
        unsigned lclp = cases[c].lc + cases[c].lp;
        for (uint32_t feed = 1; feed <= 64; feed *= 8) {
            struct src s = {packed, plen, 0, feed};
            struct lz_dec d;
            ck_assert_int_eq(lz_init_raw(&d, probs, lclp, dict, cases[c].dict, fill, &s, props,
                                         (uint32_t)cases[c].len, (uint32_t)plen),
                             LZ_OK);
            ck_assert_int_eq(lz_read(&d, got, (uint32_t)cases[c].len), LZ_OK);
            ck_assert_int_eq(lz_finish(&d), LZ_END);
            ck_assert_msg(memcmp(got, data, cases[c].len) == 0, "case %zu differs", c);
            ck_assert_uint_eq(s.pos, plen);
            ck_assert_int_ne(lz_read(&d, got, 1), LZ_OK); /* nothing beyond its length */
        }
        /* One byte short, or one byte more than the data, is an error. */
        struct src s = {packed, plen, 0, 64};
        struct lz_dec d;
        if (plen > 0) {
            lz_init_raw(&d, probs, lclp, dict, cases[c].dict, fill, &s, props,
                        (uint32_t)cases[c].len, (uint32_t)plen - 1);
            int r = lz_read(&d, got, (uint32_t)cases[c].len);
            ck_assert(r != LZ_OK || lz_finish(&d) != LZ_END);
        }
        packed[plen] = 0;
        s = (struct src){packed, plen + 1, 0, 64};
        int r = lz_init_raw(&d, probs, lclp, dict, cases[c].dict, fill, &s, props,
                            (uint32_t)cases[c].len, (uint32_t)plen + 1);
        if (r == LZ_OK)
            r = lz_read(&d, got, (uint32_t)cases[c].len);
        ck_assert(r != LZ_OK || lz_finish(&d) != LZ_END);
    }
    /* More context than the caller made room for, and a props byte past 224. */
    struct lz_dec d;
    struct src s = {packed, 0, 0, 64};
    ck_assert_int_eq(lz_init_raw(&d, probs, 2, dict, 4096, fill, &s, props_of(3, 0, 0), 10, 10),
                     LZ_ECORRUPT);
    ck_assert_int_eq(lz_init_raw(&d, probs, 4, dict, 4096, fill, &s, 225, 10, 10), LZ_ECORRUPT);
}
END_TEST

Suite *lzma2_suite(void)
{
    Suite *s = suite_create("lzma2");
    TCase *tc = tcase_create("lzma2");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, matches_liblzma);
    tcase_add_test(tc, memory_is_sized_by_context_bits);
    tcase_add_test(tc, refuses_more_context_than_room);
    tcase_add_test(tc, damaged_streams_fail_cleanly);
    tcase_add_test(tc, raw_streams_of_a_known_length);
    suite_add_tcase(s, tc);
    return s;
}
