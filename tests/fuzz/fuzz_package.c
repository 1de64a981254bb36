/* Fuzz target: the input is a delta package downloaded into the FOTA area of a
 * module running a fixed bc66 image. The applier must refuse it with a reason
 * before writing anything, or apply it to an image whose SHA-256 is the one
 * the header promised; never crash, hang or read or write out of bounds. After
 * a package that got as far as patch_start, the same struct patch must still
 * apply a good package, as a module would do with the next download.
 *
 * FUZZ_RESIGN (default 1): a random body never matches the header's SHA-256,
 * so the harness re-signs a copy of the input (body hash, header CRC) and, when
 * bit 0 of reserved byte 248 is clear, also repairs the header fields that
 * would be refused at once. This lets the fuzzer reach the plan and stream
 * decoding; build with -DFUZZ_RESIGN=0 for the package exactly as given. */
#include "tests/fuzz/fuzz_common.h"

#include "fw_image/bytes.h"
#include "fw_image/crc32.h"
#include "fw_image/image.h"
#include "fw_image/pkg_format.h"
#include "fw_image/sha256.h"

#include <stdbool.h>
#include <string.h>

#ifndef FUZZ_RESIGN
#define FUZZ_RESIGN 1
#endif

static struct patch patcher; /* static like a device's: too big for a stack */
static uint8_t pkg[FZ_FOTA_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if FUZZ_RESIGN
static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Printable up to the first NUL, NUL after it: what img_field_get accepts. */
static void fix_string(uint8_t *field, size_t size)
{
    bool ended = false;
    for (size_t i = 0; i < size; i++) {
        if (field[i] == 0)
            ended = true;
        else if (ended)
            field[i] = 0;
        else if (field[i] < 0x20 || field[i] > 0x7e)
            field[i] = 'x';
    }
}

static void fix_streams(uint8_t *h, uint32_t body)
{
    uint32_t plan = min_u32(get_le32(h + 168), body);
    put_le32(h + 168, plan);
    uint32_t left = body - plan;
    for (int i = 0; i < PKG_STREAMS; i++) {
        uint8_t *d = h + 180 + 12 * i;
        /* The lengths must add up to the body: the last stream takes the rest. */
        uint32_t packed = i == PKG_STREAMS - 1 ? left : min_u32(get_le32(d), left);
        put_le32(d, packed);
        left -= packed;
        d[8] %= 5;                   /* lc */
        d[9] %= (uint8_t)(5 - d[8]); /* lp, with lc + lp <= 4 */
        d[10] %= 5;                  /* pb */
        if (d[11] < 12 || d[11] > 16)
            d[11] = (uint8_t)(12 + d[11] % 5);
    }
}

/* Repairs every field patch_check would refuse at once. A no-op on a valid
 * package, so the generator-made seeds stay valid. */
static void fix_header(uint8_t *h, size_t len)
{
    size_t src_len;
    const uint8_t *src = fz_source(&src_len);
    memcpy(h, "BCPK", 4);
    put_le16(h + 4, 1);
    put_le16(h + 6, PKG_HEADER_SIZE);
    img_field_put(h + 8, IMG_MODEL_MAX, FZ_MODEL);
    fix_string(h + 24, IMG_REVISION_MAX);
    fix_string(h + 92, IMG_REVISION_MAX);
    put_le32(h + 164, get_le32(h + 164) & PKG_FLAG_FULL);
    if (!(get_le32(h + 164) & PKG_FLAG_FULL)) {
        put_le32(h + 56, (uint32_t)src_len);
        sha256(src, src_len, h + 60);
    } else if (get_le32(h + 56) < IMG_HEADER_SIZE || get_le32(h + 56) > FZ_FW_SIZE) {
        put_le32(h + 56, IMG_HEADER_SIZE + get_le32(h + 56) % (FZ_FW_SIZE - IMG_HEADER_SIZE + 1));
    }
    uint32_t tgt = get_le32(h + 124);
    if (tgt < IMG_HEADER_SIZE || tgt > FZ_FW_SIZE)
        tgt = IMG_HEADER_SIZE + tgt % (FZ_FW_SIZE - IMG_HEADER_SIZE + 1);
    put_le32(h + 124, tgt);
    put_le32(h + 160, FZ_SECTOR);
    put_le32(h + 172, (tgt + FZ_SECTOR - 1) / FZ_SECTOR);
    put_le32(h + 176, get_le32(h + 176) % (FZ_STASH_SLOTS + 1));
    fix_streams(h, (uint32_t)(len - PKG_HEADER_SIZE));
}

static void resign(uint8_t *p, size_t len)
{
    if (len < PKG_HEADER_SIZE)
        return;
    if (!(p[248] & 1))
        fix_header(p, len);
    sha256(p + PKG_HEADER_SIZE, len - PKG_HEADER_SIZE, p + 216);
    put_le32(p + 252, crc32_update(0, p, 252));
}
#endif

static uint64_t writes(void)
{
    return fz.flash.count.programs + fz.flash.count.erases;
}

/* A refusal or failure must say why, in a terminated string. */
static void check_reason(const struct patch *p, int r)
{
    if (r < 0 && (p->why[0] == '\0' || memchr(p->why, 0, sizeof p->why) == NULL))
        __builtin_trap();
}

/* PATCH_DONE promises the image the header names. */
static void check_done(const struct patch *p)
{
    uint8_t digest[SHA256_LEN];
    if (p->hdr.tgt_size > FZ_FW_SIZE)
        __builtin_trap();
    sha256(fz.mem + fz.flash.geo.fw_offset, p->hdr.tgt_size, digest);
    if (memcmp(digest, p->hdr.tgt_sha256, SHA256_LEN) != 0)
        __builtin_trap();
}

/* The next download, on the same struct: a good package must still apply. */
static void apply_good_package(struct patch *p)
{
    static uint8_t target[FZ_IMAGE_MAX];
    static size_t tlen;
    if (!tlen)
        tlen = fz_target(FZ_SWAP, target);
    size_t len;
    const uint8_t *good = fz_package(FZ_SWAP, &len);
    fz_reset();
    fz_install_package(good, len);
    int r = patch_check(p, &fz.flash, fz.flash.geo.fota_offset, (uint32_t)len, FZ_MODEL);
    if (r == 0)
        r = fz_run_steps(p, patch_start(p));
    if (r != PATCH_DONE || memcmp(fz.mem + fz.flash.geo.fw_offset, target, tlen) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    fz_reset();
    memset(&patcher, 0, sizeof patcher); /* a fresh boot: .bss is zero */
    size_t len = size < sizeof pkg ? size : sizeof pkg;
    memcpy(pkg, data, len);
#if FUZZ_RESIGN
    resign(pkg, len);
#endif
    const struct flash_geometry *g = &fz.flash.geo;
    if (flash_program(&fz.flash, g->fota_offset, pkg, (uint32_t)len) != FLASH_OK)
        __builtin_trap();

    uint64_t before = writes();
    int r = patch_check(&patcher, &fz.flash, g->fota_offset, (uint32_t)len, FZ_MODEL);
    check_reason(&patcher, r);
    if (writes() != before)
        __builtin_trap(); /* the checks must not write anything */
    if (r != 0)
        return 0;
    r = fz_run_steps(&patcher, patch_start(&patcher));
    check_reason(&patcher, r);
    if (r == PATCH_DONE)
        check_done(&patcher);
    if (patch_percent(&patcher) > 100)
        __builtin_trap();
    if (memcmp(fz.mem + g->fota_offset, pkg, len) != 0)
        __builtin_trap(); /* the update must not write into the package */
    apply_good_package(&patcher);
    return 0;
}
