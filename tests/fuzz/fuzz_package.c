/* Fuzz target: the input is a delta package downloaded into the FOTA area of a
 * module running a fixed bc66 image. The applier must refuse it with a reason
 * before writing anything, or apply it to an image whose SHA-256 is the one
 * the header promised; never crash, hang or read or write out of bounds. After
 * a package that got as far as patch_start, the same struct patch must still
 * apply a good package, as a module would do with the next download.
 *
 * FUZZ_RESIGN (default 1): a random body never matches the header's SHA-256,
 * so the harness re-signs a copy of the input (body hash, header CRC) and,
 * when the header parses, also repairs the fields that would be refused at
 * once. This lets the fuzzer reach the plan and stream decoding; build with
 * -DFUZZ_RESIGN=0 for the package exactly as given. */
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

/* Repairs what patch_check would refuse at once in a header that parses
 * once its CRC is right: the model, the source (unless full), the sizes, the
 * stash slots and the stream lengths (the last takes the rest of the body).
 * A no-op on a valid package, so the generator-made seeds stay valid. */
static void fix_header(struct pkg_header *h, uint32_t body)
{
    size_t src_len;
    const uint8_t *src = fz_source(&src_len);
    strcpy(h->model, FZ_MODEL);
    if (!(h->flags & PKG_FLAG_FULL)) {
        h->src_size = (uint32_t)src_len;
        sha256(src, src_len, h->src_sha256);
    } else if (h->src_size > FZ_FW_SIZE) {
        h->src_size = IMG_HEADER_SIZE + h->src_size % (FZ_FW_SIZE - IMG_HEADER_SIZE + 1);
    }
    if (h->tgt_size > FZ_FW_SIZE)
        h->tgt_size = IMG_HEADER_SIZE + h->tgt_size % (FZ_FW_SIZE - IMG_HEADER_SIZE + 1);
    h->sector_size = FZ_SECTOR;
    h->stash_slots %= FZ_STASH_SLOTS + 1;
    uint32_t left = body;
    for (int i = 0; i < PKG_STREAMS; i++) {
        uint32_t packed = i == PKG_STREAMS - 1 ? left : min_u32(h->stream[i].packed_len, left);
        h->stream[i].packed_len = packed;
        left -= packed;
    }
}

/* Re-signs the input (header CRC, body hash), repairing its header first;
 * returns its new length. A header that does not parse even with a right
 * CRC is left as it is, for the applier to refuse. */
static size_t resign(uint8_t *p, size_t len)
{
    if (len < 6 || p[5] < 13 || p[5] > len)
        return len;
    size_t hl = p[5];
    put_le32(p + hl - 4, crc32_update(0, p, hl - 4));
    struct pkg_header h;
    if (pkg_header_read(p, len, &h) != PKG_OK)
        return len;
    uint32_t body = (uint32_t)(len - hl);
    fix_header(&h, body);
    sha256(p + hl, body, h.body_sha256);
    uint8_t head[PKG_HEADER_MAX];
    size_t nl = pkg_header_write(&h, head);
    if (nl == 0 || nl + body > sizeof pkg)
        return len;
    memmove(p + nl, p + hl, body);
    memcpy(p, head, nl);
    return nl + body;
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
    int r = patch_check(p, &fz.flash, fz.flash.geo.fota_offset, (uint32_t)len, FZ_MODEL, FZ_RAM);
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
    len = resign(pkg, len);
#endif
    const struct flash_geometry *g = &fz.flash.geo;
    if (flash_program(&fz.flash, g->fota_offset, pkg, (uint32_t)len) != FLASH_OK)
        __builtin_trap();

    uint64_t before = writes();
    int r = patch_check(&patcher, &fz.flash, g->fota_offset, (uint32_t)len, FZ_MODEL, FZ_RAM);
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
