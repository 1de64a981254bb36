/* SHA-256, CRC-32, varints, image and package headers: the format primitives. */
#include "tests/integration/suites.h"
#include "fw_image/bytes.h"
#include "fw_image/crc32.h"
#include "fw_image/image.h"
#include "fw_image/pkg_format.h"
#include "fw_image/sha256.h"
#include "fw_image/synth.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char *hex(const uint8_t d[SHA256_LEN])
{
    static char buf[2 * SHA256_LEN + 1];
    sha256_hex(d, buf);
    return buf;
}

START_TEST(sha256_vectors)
{
    uint8_t d[SHA256_LEN];
    sha256("", 0, d);
    ck_assert_str_eq(hex(d), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256("abc", 3, d);
    ck_assert_str_eq(hex(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256(two, strlen(two), d);
    ck_assert_str_eq(hex(d), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a', fed in odd pieces. */
    struct sha256 s;
    sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : sizeof a;
        sha256_update(&s, a, n);
        left -= n;
    }
    sha256_final(&s, d);
    ck_assert_str_eq(hex(d), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(crc32_vector)
{
    ck_assert_uint_eq(crc32_update(0, "123456789", 9), 0xcbf43926u);
    ck_assert_uint_eq(crc32_update(crc32_update(0, "1234", 4), "56789", 5), 0xcbf43926u);
}
END_TEST

START_TEST(varints)
{
    static const uint32_t values[] = {0, 1, 127, 128, 16383, 16384, 0x0fffffff, 0xffffffffu};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t b[5];
        size_t n = varint_put(b, values[i]);
        uint32_t v;
        ck_assert_uint_eq(varint_get(b, b + n, &v), n);
        ck_assert_uint_eq(v, values[i]);
        ck_assert_uint_eq(varint_get(b, b + n - 1, &v), 0); /* cut short */
    }
    uint8_t over[5] = {0xff, 0xff, 0xff, 0xff, 0x1f}; /* 33 bits */
    uint32_t v;
    ck_assert_uint_eq(varint_get(over, over + 5, &v), 0);
    uint8_t endless[6] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    ck_assert_uint_eq(varint_get(endless, endless + 6, &v), 0);
    ck_assert_int_eq(zigzag_decode(zigzag_encode(-5)), -5);
    ck_assert_uint_eq(zigzag_encode(-1), 1);
    ck_assert_uint_eq(zigzag_encode(1), 2);
    ck_assert_int_eq(zigzag_decode(zigzag_encode(INT32_MIN)), INT32_MIN);
}
END_TEST

START_TEST(image_header_checks)
{
    static uint8_t img[IMG_HEADER_SIZE + 1000];
    memset(img + IMG_HEADER_SIZE, 0x5a, 1000);
    struct img_header h, back;
    ck_assert_int_eq(img_header_make(&h, "bc66", "BC66NBR01A07", img + IMG_HEADER_SIZE, 1000), 0);
    img_header_write(&h, img);
    ck_assert_int_eq(img_check(img, sizeof img, &back), IMG_OK);
    ck_assert_str_eq(back.revision, "BC66NBR01A07");
    ck_assert_uint_eq(back.payload_size, 1000);
    ck_assert_int_eq(img_check(img, sizeof img - 1, &back), IMG_ETRUNCATED);
    ck_assert_int_eq(img_check(img, 10, &back), IMG_ETRUNCATED);
    img[IMG_HEADER_SIZE + 500] ^= 1;
    ck_assert_int_eq(img_check(img, sizeof img, &back), IMG_EHASH);
    img[IMG_HEADER_SIZE + 500] ^= 1;
    img[30] ^= 1;
    ck_assert_int_eq(img_check(img, sizeof img, &back), IMG_ECRC);
    img[30] ^= 1;
    img[0] = 'X';
    ck_assert_int_eq(img_check(img, sizeof img, &back), IMG_EMAGIC);
    ck_assert_int_eq(img_header_make(&h, "a-model-name-too-long", "R", img, 1), IMG_EFIELD);
    char base[4];
    img_baseline("BC260YCNAAR02A02", base);
    ck_assert_str_eq(base, "R02");
    img_baseline("BC66NBR01A07", base);
    ck_assert_str_eq(base, "R01");
    img_baseline("MYFW", base);
    ck_assert_str_eq(base, "");
}
END_TEST

/* Writes `h`, changes byte `at` of the result to `v` and re-signs it. */
static int read_resigned(struct pkg_header *h, size_t at, uint8_t v)
{
    uint8_t raw[PKG_HEADER_MAX];
    size_t n = pkg_header_write(h, raw);
    ck_assert_uint_gt(n, at);
    raw[at] = v;
    put_le32(raw + n - 4, crc32_update(0, raw, n - 4));
    struct pkg_header back;
    return pkg_header_read(raw, n, &back);
}

START_TEST(package_header_round_trip_and_ranges)
{
    struct pkg_header h = {
        .src_size = 5000, .tgt_size = 9000, .sector_size = 4096, .stash_slots = 2};
    strcpy(h.model, "bc66");
    strcpy(h.src_revision, "A");
    strcpy(h.tgt_revision, "BC66NBR01A10");
    for (int i = 0; i < PKG_STREAMS; i++)
        h.stream[i] = (struct pkg_stream_desc){10u + (uint32_t)i, 300000, 3, 0, 2, 12};
    h.body_sha256[31] = 0x5a;
    uint8_t raw[PKG_HEADER_MAX];
    size_t n = pkg_header_write(&h, raw);
    /* 9 fixed, 3 names (5 + 2 + 13), sizes 8, hashes 96, streams 3 x 6, CRC 4 */
    ck_assert_uint_eq(n, 9 + 20 + 8 + 96 + 18 + 4);
    ck_assert_uint_eq(h.header_len, n);
    ck_assert_uint_eq(h.steps, 3); /* 9000 bytes are 3 sectors of 4096 */
    struct pkg_header back;
    ck_assert_int_eq(pkg_header_read(raw, n, &back), PKG_OK);
    ck_assert_str_eq(back.model, "bc66");
    ck_assert_str_eq(back.src_revision, "A");
    ck_assert_str_eq(back.tgt_revision, "BC66NBR01A10");
    ck_assert_uint_eq(back.src_size, 5000);
    ck_assert_uint_eq(back.tgt_size, 9000);
    ck_assert_uint_eq(back.sector_size, 4096);
    ck_assert_uint_eq(back.stash_slots, 2);
    ck_assert_uint_eq(back.steps, 3);
    ck_assert_uint_eq(back.body_sha256[31], 0x5a);
    for (int i = 0; i < PKG_STREAMS; i++) {
        ck_assert_uint_eq(back.stream[i].raw_len, 300000);
        ck_assert_uint_eq(back.stream[i].lc, 3);
        ck_assert_uint_eq(back.stream[i].pb, 2);
        ck_assert_uint_eq(back.stream[i].dict_log2, 12);
    }
    ck_assert_uint_eq(pkg_body_len(&back), 10 + 11 + 12);
    ck_assert_uint_eq(pkg_total_len(&back), n + 33);

    /* every truncation is refused, and so is every flipped bit */
    for (size_t k = 0; k < n; k++)
        ck_assert_int_ne(pkg_header_read(raw, k, &back), PKG_OK);
    for (size_t k = 0; k < n; k++) {
        raw[k] ^= 0x10;
        ck_assert_int_ne(pkg_header_read(raw, n, &back), PKG_OK);
        raw[k] ^= 0x10;
    }
    raw[4] = PKG_VERSION + 1;
    ck_assert_int_eq(pkg_header_read(raw, n, &back), PKG_EVERSION);

    /* fields out of range, re-signed so that only the range check can tell */
    ck_assert_int_eq(read_resigned(&h, 6, 2), PKG_EFIELD);  /* unknown flag */
    ck_assert_int_eq(read_resigned(&h, 7, 17), PKG_EFIELD); /* 128 KiB sectors */
    ck_assert_int_eq(read_resigned(&h, 9, 0), PKG_EFIELD);  /* an empty model */
    size_t props = n - 4 - 1;                               /* the extra stream's dict */
    ck_assert_int_eq(read_resigned(&h, props, 20), PKG_EFIELD);
    ck_assert_int_eq(read_resigned(&h, props - 1, 225), PKG_EFIELD);       /* props > 224 */
    ck_assert_int_eq(read_resigned(&h, props - 1, 4 + 9 * 1), PKG_EFIELD); /* lc + lp 5 */
    ck_assert_int_eq(read_resigned(&h, 5, (uint8_t)(n - 1)), PKG_ECRC);
    struct pkg_header bad = h;
    bad.sector_size = 3000;
    ck_assert_uint_eq(pkg_header_write(&bad, raw), 0);
    bad = h;
    bad.tgt_size = 100; /* shorter than an image header */
    n = pkg_header_write(&bad, raw);
    ck_assert_int_eq(pkg_header_read(raw, n, &back), PKG_EFIELD);
}
END_TEST

START_TEST(synthetic_firmware_is_deterministic_and_evolves)
{
    static uint8_t a[600000], b[600000], c[600000];
    size_t na = synth_firmware(0x66, 0, "banner A", a, sizeof a);
    size_t nb = synth_firmware(0x66, 0, "banner A", b, sizeof b);
    ck_assert_uint_gt(na, 100000);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na) == 0);
    size_t nc = synth_firmware(0x66, 1, "banner A", c, sizeof c);
    ck_assert_uint_ne(nc, na); /* functions added and removed */
    size_t same = 0;
    for (size_t i = 0; i < 4096; i++)
        same += a[i] == c[i];
    ck_assert_uint_gt(same, 1000);                               /* the start still looks alike */
    ck_assert_uint_eq(synth_firmware(0x66, 0, "x", a, 1000), 0); /* too small */
}
END_TEST

Suite *formats_suite(void)
{
    Suite *s = suite_create("formats");
    TCase *tc = tcase_create("formats");
    tcase_add_test(tc, sha256_vectors);
    tcase_add_test(tc, crc32_vector);
    tcase_add_test(tc, varints);
    tcase_add_test(tc, image_header_checks);
    tcase_add_test(tc, package_header_round_trip_and_ranges);
    tcase_add_test(tc, synthetic_firmware_is_deterministic_and_evolves);
    suite_add_tcase(s, tc);
    return s;
}
