/* Tests of the delta package generator. Every package is applied by a small
 * reference applier written here from FORMAT.md alone: it simulates the
 * in-place write over a RAM copy of the flash region, keeps stash slots in
 * RAM, decodes the raw LZMA2 streams with the descriptor's options and
 * refuses any read of a source sector that is overwritten and not stashed. */
#include <check.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_image/bytes.h"
#include "fw_image/gen/delta.h"
#include "fw_image/image.h"
#include "fw_image/patch.h"
#include "fw_image/pkg_format.h"
#include "fw_image/sha256.h"

#include "tests/unit/corpus.h"
#include "tests/unit/fw_fixture.h"

/* ============================================================ test images */

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t s = seed ? seed : 1;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next(&s);
}

/* An image (128-byte header + payload) in a malloc'd buffer. */
static uint8_t *image_wrap(const uint8_t *payload, size_t n, const char *rev, size_t *len)
{
    uint8_t *img = malloc(IMG_HEADER_SIZE + n + 1);
    ck_assert_ptr_nonnull(img);
    struct img_header h;
    ck_assert_int_eq(img_header_make(&h, "bc66", rev, payload, (uint32_t)n), IMG_OK);
    img_header_write(&h, img);
    if (n)
        memcpy(img + IMG_HEADER_SIZE, payload, n);
    *len = IMG_HEADER_SIZE + n;
    return img;
}

/* ======================================================= reference applier */

struct ref_result {
    uint8_t *image; /* the flash region's first tgt_size bytes */
    size_t len;
    const char *why;
};

/* A package stream is raw LZMA of a known length without the range coder's
 * first byte (always 0): liblzma decodes it once that byte is put back. */
static bool decode_stream(const uint8_t *in, const struct pkg_stream_desc *d, uint8_t **out)
{
    *out = malloc(d->raw_len + 1);
    if (d->raw_len == 0)
        return d->packed_len == 0;
    lzma_options_lzma opt;
    memset(&opt, 0, sizeof opt);
    opt.dict_size = 1u << d->dict_log2;
    opt.lc = d->lc;
    opt.lp = d->lp;
    opt.pb = d->pb;
    opt.ext_size_low = d->raw_len;
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream strm = LZMA_STREAM_INIT;
    if (lzma_raw_decoder(&strm, filters) != LZMA_OK)
        return false;
    uint8_t *whole = malloc(d->packed_len + 1);
    whole[0] = 0;
    memcpy(whole + 1, in, d->packed_len);
    strm.next_in = whole;
    strm.avail_in = d->packed_len + 1;
    strm.next_out = *out;
    strm.avail_out = d->raw_len + 1; /* one spare byte: more output is an error */
    lzma_ret r = lzma_code(&strm, LZMA_FINISH);
    bool ok = r == LZMA_STREAM_END && strm.avail_in == 0 && strm.total_out == d->raw_len;
    lzma_end(&strm);
    free(whole);
    return ok;
}

struct cursor {
    const uint8_t *p, *end;
};

static bool next_varint(struct cursor *c, uint32_t *v)
{
    size_t n = varint_get(c->p, c->end, v);
    c->p += n;
    return n > 0;
}

/* Applies `pkg` to `old` on a device with `device_slots` stash slots. */
static struct ref_result ref_apply(const uint8_t *pkg, size_t pkg_len, const uint8_t *old,
                                   size_t old_len, uint32_t device_slots)
{
    struct ref_result res = {NULL, 0, NULL};
    struct pkg_header h;
    uint8_t digest[SHA256_LEN];
    uint8_t *stream[PKG_STREAMS] = {NULL, NULL, NULL};
    uint8_t *flash = NULL, *stash = NULL, *sector = NULL;
    bool *written = NULL;
    int64_t *held = NULL;

#define REFUSE(msg)                                                                                \
    do {                                                                                           \
        res.why = msg;                                                                             \
        goto out;                                                                                  \
    } while (0)

    if (pkg_header_read(pkg, pkg_len, &h) != PKG_OK)
        REFUSE("bad header");
    if (pkg_total_len(&h) != pkg_len)
        REFUSE("body length");
    sha256(pkg + h.header_len, pkg_len - h.header_len, digest);
    if (memcmp(digest, h.body_sha256, SHA256_LEN) != 0)
        REFUSE("body hash");
    sha256(old, old_len, digest);
    if (h.src_size != old_len || memcmp(digest, h.src_sha256, SHA256_LEN) != 0)
        REFUSE("not this source");
    if (h.stash_slots > device_slots)
        REFUSE("needs more stash slots than the device has");

    const uint8_t *at = pkg + h.header_len;
    for (int i = 0; i < PKG_STREAMS; i++) {
        if (!decode_stream(at, &h.stream[i], &stream[i]))
            REFUSE("stream does not decode to its declared length");
        at += h.stream[i].packed_len;
    }

    uint32_t size = h.sector_size;
    uint32_t n_src = (h.src_size + size - 1) / size;
    uint32_t n_region = n_src > h.steps ? n_src : h.steps;
    flash = malloc((size_t)n_region * size);
    stash = malloc((size_t)(h.stash_slots ? h.stash_slots : 1) * size);
    sector = malloc(size);
    written = calloc(n_region, sizeof *written);
    held = malloc((h.stash_slots ? h.stash_slots : 1) * sizeof *held);
    memset(flash, 0xff, (size_t)n_region * size);
    memcpy(flash, old, old_len);
    for (uint32_t j = 0; j < h.stash_slots; j++)
        held[j] = -1;

    struct cursor ctrl = {stream[PKG_CTRL], stream[PKG_CTRL] + h.stream[PKG_CTRL].raw_len};
    size_t di = 0, ei = 0;
    int64_t pos = 0, last = -1;
    uint32_t add = 0, copy = 0, zz = 0; /* what is left of the triple in progress */
    bool exact = false;
    bool full = (h.flags & PKG_FLAG_FULL) != 0;
    for (uint32_t k = 0; k < h.steps; k++) {
        uint32_t zt, count;
        if (!next_varint(&ctrl, &zt) || !next_varint(&ctrl, &count))
            REFUSE("plan truncated");
        int64_t t64 = last + 1 + zigzag_decode(zt);
        if (t64 < 0 || t64 >= h.steps || written[t64])
            REFUSE("target sector out of range or written twice");
        uint32_t t = (uint32_t)t64;
        last = t64;
        if (t >= h.steps || written[t])
            REFUSE("target sector out of range or written twice");
        if (full && (t != k || count != 0))
            REFUSE("full image not ascending or with stash");
        for (uint32_t e = 0; e < count; e++) {
            uint32_t s, slot;
            if (!next_varint(&ctrl, &s) || !next_varint(&ctrl, &slot))
                REFUSE("plan truncated in a stash entry");
            if (s >= n_src || slot >= h.stash_slots || written[s])
                REFUSE("stash of an overwritten or absent sector, or bad slot");
            memcpy(stash + (size_t)slot * size, flash + (size_t)s * size, size);
            held[slot] = s;
        }
        uint32_t bytes = h.tgt_size - t * size < size ? h.tgt_size - t * size : size;
        uint32_t fill = 0;
        memset(sector, 0xff, size);
        while (fill < bytes) {
            if (add == 0 && copy == 0) { /* the next triple; it may run on into later steps */
                uint32_t word;
                if (!next_varint(&ctrl, &word) || !next_varint(&ctrl, &copy) ||
                    !next_varint(&ctrl, &zz))
                    REFUSE("control stream exhausted");
                add = word >> 1;
                exact = word & 1;
                if (add == 0 && copy == 0 && zz == 0)
                    REFUSE("empty triple");
                if (add && (pos < 0 || pos + add > h.src_size))
                    REFUSE("add outside the source image");
                if ((!exact && di + add > h.stream[PKG_DIFF].raw_len) ||
                    ei + copy > h.stream[PKG_EXTRA].raw_len)
                    REFUSE("diff or extra stream exhausted");
            }
            for (; add > 0 && fill < bytes; add--, pos++) {
                uint32_t s = (uint32_t)(pos / size), off = (uint32_t)(pos % size);
                const uint8_t *src = NULL;
                if (!written[s])
                    src = flash + (size_t)s * size;
                for (uint32_t j = 0; !src && j < h.stash_slots; j++)
                    if (held[j] == s)
                        src = stash + (size_t)j * size;
                if (!src)
                    REFUSE("read of an overwritten sector that is not stashed");
                sector[fill++] = (uint8_t)(src[off] + (exact ? 0 : stream[PKG_DIFF][di++]));
            }
            for (; add == 0 && copy > 0 && fill < bytes; copy--)
                sector[fill++] = stream[PKG_EXTRA][ei++];
            if (add == 0 && copy == 0)
                pos += zigzag_decode(zz);
        }
        memcpy(flash + (size_t)t * size, sector, size);
        written[t] = true;
    }
    if (add || copy || ctrl.p != ctrl.end || di != h.stream[PKG_DIFF].raw_len ||
        ei != h.stream[PKG_EXTRA].raw_len)
        REFUSE("plan or streams not consumed exactly");
    for (uint32_t i = h.tgt_size; i < h.steps * size; i++)
        if (flash[i] != 0xff)
            REFUSE("last sector not padded with 0xFF");
    sha256(flash, h.tgt_size, digest);
    if (memcmp(digest, h.tgt_sha256, SHA256_LEN) != 0)
        REFUSE("result does not match the target hash");
    res.image = malloc(h.tgt_size);
    memcpy(res.image, flash, h.tgt_size);
    res.len = h.tgt_size;
#undef REFUSE
out:
    for (int i = 0; i < PKG_STREAMS; i++)
        free(stream[i]);
    free(flash);
    free(stash);
    free(sector);
    free(written);
    free(held);
    return res;
}

/* ============================================================= round trips */

static struct delta_params params(uint32_t sector, uint32_t slots, bool full)
{
    return (struct delta_params){"bc66",         "BC66NBR01A07",
                                 "BC66NBR01A08", sector,
                                 slots,          (uint32_t)(PATCH_RAM_MAX - patch_fixed_memory()),
                                 full,           false};
}

/* Makes a package, applies it with the reference applier and checks the
 * result byte for byte. Returns the package size. */
static size_t round_trip(const uint8_t *old, size_t old_len, const uint8_t *new, size_t new_len,
                         uint32_t sector, uint32_t slots, bool full)
{
    struct delta_params p = params(sector, slots, full);
    uint8_t *pkg = NULL;
    size_t pkg_len = 0;
    char why[160] = "";
    int rc = delta_make(old, old_len, new, new_len, &p, &pkg, &pkg_len, why, sizeof why);
    ck_assert_msg(rc == 0, "delta_make failed: %s", why);
    struct pkg_header h;
    ck_assert_int_eq(pkg_header_read(pkg, pkg_len, &h), PKG_OK);
    ck_assert_uint_le(h.stash_slots, slots);
    ck_assert_uint_eq(h.flags, full ? PKG_FLAG_FULL : 0);
    ck_assert_str_eq(h.model, "bc66");
    ck_assert_str_eq(h.src_revision, "BC66NBR01A07");
    ck_assert_str_eq(h.tgt_revision, "BC66NBR01A08");
    struct ref_result r = ref_apply(pkg, pkg_len, old, old_len, slots);
    ck_assert_msg(r.image != NULL, "reference applier refused the package: %s", r.why);
    ck_assert_uint_eq(r.len, new_len);
    ck_assert_mem_eq(r.image, new, new_len);
    free(r.image);
    free(pkg);
    return pkg_len;
}

/* Round trip for every sector size and slot count the tests care about. */
static void round_trip_all(const uint8_t *old, size_t old_len, const uint8_t *new, size_t new_len)
{
    static const uint32_t sectors[] = {512, 4096};
    static const uint32_t slots[] = {0, 1, 15};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 3; j++)
            round_trip(old, old_len, new, new_len, sectors[i], slots[j], false);
}

/* Random payloads of `n` bytes, wrapped as images. */
static uint8_t *random_image(size_t n, uint32_t seed, const char *rev, size_t *len)
{
    uint8_t *payload = malloc(n + 1);
    fill_random(payload, n, seed);
    uint8_t *img = image_wrap(payload, n, rev, len);
    free(payload);
    return img;
}

START_TEST(test_delta_identical)
{
    size_t len;
    uint8_t *img = random_image(40000, 7, "BC66NBR01A07", &len);
    round_trip_all(img, len, img, len);
    /* nothing new: the package is a few hundred bytes */
    ck_assert_uint_lt(round_trip(img, len, img, len, 4096, 15, false), 700);
    free(img);
}
END_TEST

START_TEST(test_delta_unrelated)
{
    size_t ol, nl;
    uint8_t *old = random_image(30000, 1, "BC66NBR01A07", &ol);
    uint8_t *new = random_image(33000, 2, "BC66NBR01A08", &nl);
    round_trip_all(old, ol, new, nl);
    free(old);
    free(new);
}
END_TEST

/* A payload with structure (runs, repeats) so matching has work to do. */
static void fill_firmware_like(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t s = seed;
    size_t i = 0;
    while (i < n) {
        size_t run = 16 + rng_next(&s) % 200;
        uint32_t kind = rng_next(&s) % 4;
        for (size_t k = 0; k < run && i < n; k++, i++) {
            if (kind == 0)
                p[i] = 0xff;
            else if (kind == 1 && i >= 1000)
                p[i] = p[i - 1000];
            else
                p[i] = (uint8_t)rng_next(&s);
        }
    }
}

START_TEST(test_delta_grow_shrink)
{
    size_t n = 60000;
    uint8_t *base = malloc(n + 20000);
    fill_firmware_like(base, n + 20000, 11);
    size_t ol, nl, sl;
    uint8_t *old = image_wrap(base, n, "BC66NBR01A07", &ol);
    uint8_t *bigger = image_wrap(base, n + 20000, "BC66NBR01A08", &nl);
    uint8_t *smaller = image_wrap(base + 5000, n - 25000, "BC66NBR01A08", &sl);
    round_trip_all(old, ol, bigger, nl);
    round_trip_all(old, ol, smaller, sl);
    round_trip_all(bigger, nl, old, ol);
    free(base);
    free(old);
    free(bigger);
    free(smaller);
}
END_TEST

/* Edits in the middle: insertions, deletions, patched bytes, moved blocks. */
START_TEST(test_delta_edits)
{
    size_t n = 80000;
    uint8_t *a = malloc(n), *b = malloc(n + 30000), *ins = malloc(9000);
    fill_firmware_like(a, n, 5);
    fill_random(ins, 9000, 99);
    size_t m = 0;
    memcpy(b + m, a, 10000), m += 10000;         /* same start */
    memcpy(b + m, ins, 3000), m += 3000;         /* insertion */
    memcpy(b + m, a + 10000, 15000), m += 15000; /* shifted by +3000 */
    memcpy(b + m, a + 30000, 12000), m += 12000; /* 5000 deleted */
    memcpy(b + m, a + 60000, 20000), m += 20000; /* a late block moved early */
    memcpy(b + m, a + 42000, 18000), m += 18000; /* and the rest after it */
    memcpy(b + m, ins + 3000, 6000), m += 6000;  /* new tail */
    for (size_t i = 500; i < m; i += 997)
        b[i] ^= 0x5a; /* scattered byte changes, like moved pointers */
    size_t ol, nl;
    uint8_t *old = image_wrap(a, n, "BC66NBR01A07", &ol);
    uint8_t *new = image_wrap(b, m, "BC66NBR01A08", &nl);
    round_trip_all(old, ol, new, nl);
    round_trip_all(new, nl, old, ol);
    /* most of the target comes from the source: far below the raw size */
    ck_assert_uint_lt(round_trip(old, ol, new, nl, 4096, 15, false), 12000);
    free(a);
    free(b);
    free(ins);
    free(old);
    free(new);
}
END_TEST

/* Old = A B C D, new = D C B A: every step needs what others overwrite, so
 * few stash slots force the restricted matching. */
START_TEST(test_delta_reversed_blocks)
{
    size_t q = 16384;
    uint8_t *a = malloc(4 * q), *b = malloc(4 * q);
    fill_firmware_like(a, 4 * q, 3);
    for (int i = 0; i < 4; i++)
        memcpy(b + (size_t)i * q, a + (size_t)(3 - i) * q, q);
    size_t ol, nl;
    uint8_t *old = image_wrap(a, 4 * q, "BC66NBR01A07", &ol);
    uint8_t *new = image_wrap(b, 4 * q, "BC66NBR01A08", &nl);
    round_trip_all(old, ol, new, nl);
    size_t roomy = round_trip(old, ol, new, nl, 4096, 1000, false);
    size_t tight = round_trip(old, ol, new, nl, 4096, 1, false);
    ck_assert_uint_le(roomy, tight);
    free(a);
    free(b);
    free(old);
    free(new);
}
END_TEST

START_TEST(test_delta_full_image)
{
    size_t ol, nl;
    uint8_t *old = random_image(20000, 4, "BC66NBR01A07", &ol);
    uint8_t *new = random_image(25000, 5, "BC66NBR01A08", &nl);
    round_trip(old, ol, new, nl, 4096, 0, true);
    round_trip(old, ol, new, nl, 512, 15, true);
    /* the plan is ascending, without stash, one triple per sector */
    struct delta_params p = params(512, 15, true);
    uint8_t *pkg;
    size_t len;
    char why[160];
    ck_assert_int_eq(delta_make(old, ol, new, nl, &p, &pkg, &len, why, sizeof why), 0);
    struct pkg_header h;
    ck_assert_int_eq(pkg_header_read(pkg, len, &h), PKG_OK);
    ck_assert_uint_eq(h.steps, (nl + 511) / 512);
    ck_assert_uint_eq(h.stash_slots, 0);
    ck_assert_uint_eq(h.stream[PKG_DIFF].raw_len, 0);
    ck_assert_uint_eq(h.stream[PKG_EXTRA].raw_len, nl);
    ck_assert_uint_eq(h.steps, 50); /* 25128 bytes: 49 whole sectors and 40 bytes */
    /* Each step: plan entry (0: the next sector, 0: no stash), then one
     * triple (0, 512, 0), 4 bytes of varints; the last (0, 40, 0) is 3. */
    uint8_t *ctrl;
    ck_assert(decode_stream(pkg + h.header_len, &h.stream[PKG_CTRL], &ctrl));
    ck_assert_uint_eq(h.stream[PKG_CTRL].raw_len, 6 * 49 + 5);
    for (uint32_t k = 0; k < h.steps; k++) {
        const uint8_t *e = ctrl + 6 * k;
        ck_assert_uint_eq(e[0], 0);
        ck_assert_uint_eq(e[1], 0);
        ck_assert_uint_eq(e[2], 0);
        ck_assert_uint_eq(e[3], k < 49 ? 0x80 : 40);
    }
    free(ctrl);
    free(pkg);
    free(old);
    free(new);
}
END_TEST

START_TEST(test_delta_tiny)
{
    size_t ol, nl, xl;
    uint8_t *old = image_wrap(NULL, 0, "BC66NBR01A07", &ol);
    uint8_t *new = image_wrap(NULL, 0, "BC66NBR01A08", &nl);
    uint8_t *some = random_image(3000, 9, "BC66NBR01A08", &xl);
    round_trip_all(old, ol, new, nl);
    round_trip_all(old, ol, some, xl);
    round_trip_all(some, xl, old, ol);
    round_trip(old, ol, new, nl, 512, 0, true);
    free(old);
    free(new);
    free(some);
}
END_TEST

/* ============================================================ the corpus */

static uint8_t *corpus_image(const char *pair, const char *which, const char *rev, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/%s.bin", corpus_dir(), pair, which);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "%s: cannot be opened", path); /* it was there at registration */
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *payload = malloc((size_t)n + 1);
    size_t got = fread(payload, 1, (size_t)n, f);
    fclose(f);
    ck_assert_uint_eq(got, (size_t)n);
    uint8_t *img = image_wrap(payload, (size_t)n, rev, len);
    free(payload);
    return img;
}

/* bsdiff 4.3's patch sizes on the raw pairs (corpus/README.md): the package,
 * in-place constraints included, must be smaller. */
static void corpus_pair(const char *pair, size_t bsdiff_size)
{
    size_t ol, nl;
    uint8_t *old = corpus_image(pair, "old", "BC66NBR01A07", &ol);
    uint8_t *new = corpus_image(pair, "new", "BC66NBR01A08", &nl);
    size_t size = round_trip(old, ol, new, nl, 4096, 15, false);
    ck_assert_msg(size < bsdiff_size, "%s: package %zu bytes, bsdiff %zu", pair, size, bsdiff_size);
    free(old);
    free(new);
}

START_TEST(test_delta_corpus_esp8266)
{
    corpus_pair("mpy_esp8266", 75985);
}
END_TEST

START_TEST(test_delta_corpus_pybv11)
{
    corpus_pair("pybv11", 40470);
}
END_TEST

/* ========================================================== bad parameters */

static void expect_refused(const uint8_t *old, size_t old_len, const uint8_t *new, size_t new_len,
                           const struct delta_params *p)
{
    uint8_t *pkg = (uint8_t *)"untouched";
    size_t len = 0;
    char why[160] = "";
    ck_assert_int_lt(delta_make(old, old_len, new, new_len, p, &pkg, &len, why, sizeof why), 0);
    ck_assert_msg(strlen(why) > 0 && strchr(why, '\n') == NULL, "why: '%s'", why);
}

/* Goal 2 of issue 13: a one-byte change in a 600 KB image costs at most
 * 300 bytes, header included, with every check of the module kept. */
START_TEST(test_delta_one_byte_change_is_small)
{
    size_t ol, nl;
    uint8_t *a = malloc(600000), *b = malloc(600000);
    fill_firmware_like(a, 600000, 31);
    memcpy(b, a, 600000);
    b[300000] ^= 0x55;
    uint8_t *old = image_wrap(a, 600000, "BC66NBR01A07", &ol);
    uint8_t *new = image_wrap(b, 600000, "BC66NBR01A08", &nl);
    size_t len = round_trip(old, ol, new, nl, 4096, 15, false);
    fprintf(stderr, "delta: one byte changed in %zu: %zu-byte package\n", nl, len);
    ck_assert_uint_le(len, 300);
    free(a);
    free(b);
    free(old);
    free(new);
}
END_TEST

/* The streams' decoders fit the budget given, down to the least any package
 * can need (three lc=0 decoders with 4 KiB dictionaries); below that the
 * generator says so. */
START_TEST(test_delta_decoder_budget)
{
    size_t ol, nl;
    uint8_t *a = malloc(120000), *b = malloc(120000);
    fill_firmware_like(a, 120000, 41);
    fill_firmware_like(b, 120000, 41);
    for (size_t i = 5000; i < 120000; i += 977)
        b[i] ^= (uint8_t)i;
    memmove(b + 60000, b + 60100, 50000);
    /* new bytes twice, 6000 apart in the extra stream: a 4 KiB dictionary
     * misses the repeat, so the budget decides what the generator may do */
    fill_random(b + 30000, 6000, 43);
    memcpy(b + 90000, b + 30000, 6000);
    uint8_t *old = image_wrap(a, 120000, "BC66NBR01A07", &ol);
    uint8_t *new = image_wrap(b, 120000, "BC66NBR01A08", &nl);
    struct pkg_header least = {0};
    for (int i = 0; i < PKG_STREAMS; i++)
        least.stream[i].dict_log2 = PKG_DICT_LOG2_MIN;
    uint32_t floor = (uint32_t)pkg_decoder_memory(&least);
    const uint32_t budgets[] = {200000, 60000, 40000, floor};
    for (size_t k = 0; k < sizeof budgets / sizeof budgets[0]; k++) {
        struct delta_params p = params(4096, 15, false);
        p.decoder_ram = budgets[k];
        uint8_t *pkg;
        size_t len;
        char why[160];
        ck_assert_int_eq(delta_make(old, ol, new, nl, &p, &pkg, &len, why, sizeof why), 0);
        struct pkg_header h;
        ck_assert_int_eq(pkg_header_read(pkg, len, &h), PKG_OK);
        ck_assert_uint_le(pkg_decoder_memory(&h), budgets[k]);
        struct ref_result r = ref_apply(pkg, len, old, ol, 15);
        ck_assert_msg(r.image && r.len == nl && memcmp(r.image, new, nl) == 0, "%s", r.why);
        free(r.image);
        free(pkg);
    }
    struct delta_params p = params(4096, 15, false);
    p.decoder_ram = floor - 1;
    uint8_t *pkg = NULL;
    size_t len;
    char why[160] = "";
    ck_assert_int_lt(delta_make(old, ol, new, nl, &p, &pkg, &len, why, sizeof why), 0);
    ck_assert_msg(strstr(why, "decoder memory"), "%s", why);
    free(a);
    free(b);
    free(old);
    free(new);
}
END_TEST

START_TEST(test_delta_bad_params)
{
    size_t ol, nl;
    uint8_t *old = random_image(5000, 1, "BC66NBR01A07", &ol);
    uint8_t *new = random_image(5000, 2, "BC66NBR01A08", &nl);
    struct delta_params p = params(4096, 15, false);
    expect_refused(old, IMG_HEADER_SIZE - 1, new, nl, &p);
    expect_refused(old, ol, new, IMG_HEADER_SIZE - 1, &p);
    expect_refused(NULL, ol, new, nl, &p);
    expect_refused(old, ol, NULL, nl, &p);
    expect_refused(old, ol, new, nl, NULL);
    static const uint32_t bad_sectors[] = {0, 256, 1000, 4095, 131072};
    for (size_t i = 0; i < 5; i++) {
        struct delta_params q = params(bad_sectors[i], 15, false);
        expect_refused(old, ol, new, nl, &q);
        q.full = true;
        expect_refused(old, ol, new, nl, &q);
    }
    struct delta_params q = p;
    q.model = "a-model-name-longer-than-16";
    expect_refused(old, ol, new, nl, &q);
    q = p;
    q.tgt_revision = NULL;
    expect_refused(old, ol, new, nl, &q);

    /* 65536 sectors of 512 bytes and one byte more: too many steps */
    size_t huge = 65536u * 512u + 1;
    uint8_t *big = calloc(huge, 1);
    ck_assert_ptr_nonnull(big);
    q = params(512, 15, false);
    expect_refused(old, ol, big, huge, &q);
    free(big);

    uint8_t *pkg;
    size_t len;
    char why[160];
    ck_assert_int_lt(delta_make(old, ol, new, nl, &p, NULL, &len, why, sizeof why), 0);
    ck_assert_int_lt(delta_make(old, ol, new, nl, &p, &pkg, NULL, why, sizeof why), 0);
    free(old);
    free(new);
}
END_TEST

/* The reference applier itself must refuse what breaks the rules, or a
 * passing round trip would prove nothing. */
START_TEST(test_delta_ref_applier_refuses)
{
    size_t ol, nl;
    uint8_t *a = malloc(40000), *b = malloc(40000);
    fill_firmware_like(a, 40000, 21);
    memcpy(b, a + 20000, 20000);
    memcpy(b + 20000, a, 20000);
    uint8_t *old = image_wrap(a, 40000, "BC66NBR01A07", &ol);
    uint8_t *new = image_wrap(b, 40000, "BC66NBR01A08", &nl);
    struct delta_params p = params(4096, 15, false);
    uint8_t *pkg;
    size_t len;
    char why[160];
    ck_assert_int_eq(delta_make(old, ol, new, nl, &p, &pkg, &len, why, sizeof why), 0);
    struct pkg_header h;
    ck_assert_int_eq(pkg_header_read(pkg, len, &h), PKG_OK);
    ck_assert_uint_gt(h.stash_slots, 0); /* swapped halves need the stash */

    /* a device with fewer slots than the package needs */
    struct ref_result r = ref_apply(pkg, len, old, ol, h.stash_slots - 1);
    ck_assert_ptr_null(r.image);

    /* the wrong source */
    r = ref_apply(pkg, len, new, nl, 15);
    ck_assert_ptr_null(r.image);

    /* the same plan without its stash entries: a read must be refused. The
     * control stream is rewritten without them, compressed again and the
     * header fixed up. */
    uint8_t *ctrl, *plain = malloc(h.stream[PKG_CTRL].raw_len);
    ck_assert(decode_stream(pkg + h.header_len, &h.stream[PKG_CTRL], &ctrl));
    struct cursor c = {ctrl, ctrl + h.stream[PKG_CTRL].raw_len};
    size_t w = 0;
    int64_t last = -1;
    uint32_t left = 0; /* bytes of the triple in progress still to come */
    for (uint32_t k = 0; k < h.steps; k++) {
        uint32_t zt, count, x, word, copy, zz;
        ck_assert(next_varint(&c, &zt) && next_varint(&c, &count));
        w += varint_put(plain + w, zt);
        w += varint_put(plain + w, 0);
        for (uint32_t e = 0; e < 2 * count; e++)
            ck_assert(next_varint(&c, &x));
        last += 1 + zigzag_decode(zt);
        uint32_t bytes = h.tgt_size - (uint32_t)last * 4096, fill = 0;
        bytes = bytes < 4096 ? bytes : 4096;
        while (fill < bytes) {
            if (left == 0) {
                ck_assert(next_varint(&c, &word) && next_varint(&c, &copy) && next_varint(&c, &zz));
                w += varint_put(plain + w, word);
                w += varint_put(plain + w, copy);
                w += varint_put(plain + w, zz);
                left = (word >> 1) + copy;
            }
            uint32_t take = left < bytes - fill ? left : bytes - fill;
            fill += take;
            left -= take;
        }
    }
    ck_assert_ptr_eq(c.p, c.end);
    size_t rest = len - h.header_len - h.stream[PKG_CTRL].packed_len;
    uint8_t *bad = malloc(PKG_HEADER_MAX + lzma_stream_buffer_bound(w) + 4096 + rest);
    const struct pkg_stream_desc *cd = &h.stream[PKG_CTRL];
    size_t packed = fx_stream(plain, w, bad + PKG_HEADER_MAX, lzma_stream_buffer_bound(w) + 4096,
                              cd->lc, cd->lp, cd->pb, 1u << cd->dict_log2);
    memcpy(bad + PKG_HEADER_MAX + packed, pkg + len - rest, rest);
    h.stream[PKG_CTRL].packed_len = (uint32_t)packed;
    h.stream[PKG_CTRL].raw_len = (uint32_t)w;
    sha256(bad + PKG_HEADER_MAX, packed + rest, h.body_sha256);
    uint8_t head[PKG_HEADER_MAX];
    size_t hl = pkg_header_write(&h, head);
    memmove(bad + hl, bad + PKG_HEADER_MAX, packed + rest);
    memcpy(bad, head, hl);
    r = ref_apply(bad, hl + packed + rest, old, ol, 15);
    ck_assert_ptr_null(r.image);
    ck_assert_str_eq(r.why, "read of an overwritten sector that is not stashed");
    free(ctrl);
    free(plain);

    free(bad);
    free(pkg);
    free(a);
    free(b);
    free(old);
    free(new);
}
END_TEST

Suite *delta_suite(void)
{
    Suite *s = suite_create("delta");
    TCase *tc = tcase_create("round_trip");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_delta_identical);
    tcase_add_test(tc, test_delta_unrelated);
    tcase_add_test(tc, test_delta_grow_shrink);
    tcase_add_test(tc, test_delta_edits);
    tcase_add_test(tc, test_delta_reversed_blocks);
    tcase_add_test(tc, test_delta_full_image);
    tcase_add_test(tc, test_delta_tiny);
    tcase_add_test(tc, test_delta_bad_params);
    tcase_add_test(tc, test_delta_one_byte_change_is_small);
    tcase_add_test(tc, test_delta_decoder_budget);
    tcase_add_test(tc, test_delta_ref_applier_refuses);
    suite_add_tcase(s, tc);
    static const char *const pairs[] = {"mpy_esp8266", "pybv11"};
    TCase *corpus = corpus_tcase(s, "delta", "corpus", pairs, 2, 2);
    if (corpus) {
        tcase_set_timeout(corpus, 300);
        tcase_add_test(corpus, test_delta_corpus_esp8266);
        tcase_add_test(corpus, test_delta_corpus_pybv11);
    }
    return s;
}
