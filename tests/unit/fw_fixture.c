#include "tests/unit/fw_fixture.h"

#include "fw_image/bytes.h"
#include "fw_image/sha256.h"

#include <check.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

void fx_flash_init(struct fx_flash *fx)
{
    struct flash_geometry g = {
        .sector_size = FX_SECTOR,
        .fw_offset = 0,
        .fw_size = FX_FW_SECTORS * FX_SECTOR,
        .fota_offset = 32 * FX_SECTOR,
        .fota_size = 20 * FX_SECTOR,
        .scratch_offset = 52 * FX_SECTOR,
        .scratch_size = 4 * FX_SECTOR,
        .journal_offset = 56 * FX_SECTOR,
        .journal_size = 8 * FX_SECTOR,
        .total_size = FX_TOTAL,
    };
    ck_assert_int_eq(flash_geometry_check(&g), 0);
    memset(fx->mem, 0xff, sizeof fx->mem);
    memset(fx->erase_count, 0, sizeof fx->erase_count);
    flash_init(&fx->flash, fx->mem, &g, fx->erase_count);
}

void fx_random(uint8_t *out, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (uint8_t)x;
    }
}

size_t fx_image(uint8_t *out, size_t size, const char *model, const char *revision,
                const uint8_t *payload, uint32_t payload_len)
{
    struct img_header h;
    ck_assert_uint_ge(size, IMG_HEADER_SIZE + payload_len);
    ck_assert_int_eq(img_header_make(&h, model, revision, payload, payload_len), 0);
    img_header_write(&h, out);
    memcpy(out + IMG_HEADER_SIZE, payload, payload_len);
    return IMG_HEADER_SIZE + payload_len;
}

static void install(struct fx_flash *fx, uint32_t offset, uint32_t region, const uint8_t *data,
                    size_t len)
{
    ck_assert_uint_le(len, region);
    for (uint32_t off = 0; off < region; off += FX_SECTOR)
        ck_assert_int_eq(flash_erase(&fx->flash, offset + off), 0);
    ck_assert_int_eq(flash_program(&fx->flash, offset, data, (uint32_t)len), 0);
}

void fx_install_image(struct fx_flash *fx, const uint8_t *img, size_t len)
{
    install(fx, fx->flash.geo.fw_offset, fx->flash.geo.fw_size, img, len);
}

void fx_install_package(struct fx_flash *fx, const uint8_t *pkg, size_t len)
{
    install(fx, fx->flash.geo.fota_offset, fx->flash.geo.fota_size, pkg, len);
}

size_t fx_stream(const uint8_t *in, size_t len, uint8_t *out, size_t size, unsigned lc, unsigned lp,
                 unsigned pb, uint32_t dict_size)
{
    if (len == 0)
        return 0;
    lzma_options_lzma opt;
    lzma_lzma_preset(&opt, 6);
    opt.dict_size = dict_size;
    opt.lc = lc;
    opt.lp = lp;
    opt.pb = pb;
    opt.ext_flags = 0;
    opt.ext_size_low = (uint32_t)len;
    opt.ext_size_high = (uint32_t)((uint64_t)len >> 32);
    lzma_filter f[2] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t pos = 0;
    ck_assert_int_eq(lzma_raw_buffer_encode(f, NULL, in, len, out, &pos, size), LZMA_OK);
    ck_assert_uint_eq(out[0], 0);
    memmove(out, out + 1, --pos);
    return pos;
}

/* lc=1: three lc=3 decoders would not fit a 64 KiB updater. */
static size_t compress(const uint8_t *in, size_t len, uint8_t *out, size_t size,
                       struct pkg_stream_desc *d)
{
    size_t n = fx_stream(in, len, out, size, 1, 0, 0, 1u << 12);
    *d = (struct pkg_stream_desc){(uint32_t)n, (uint32_t)len, 1, 0, 0, 12};
    return n;
}

size_t fx_package(uint8_t *out, size_t size, const char *model, const uint8_t *old, size_t old_len,
                  const uint8_t *new, size_t new_len, const struct fx_pkg_parts *parts)
{
    struct pkg_header h = {0};
    struct img_header ih;
    ck_assert_int_eq(img_header_read(old, &ih), 0);
    strcpy(h.src_revision, ih.revision);
    strcpy(h.tgt_revision, img_header_read(new, &ih) == 0 ? ih.revision : "raw");
    strcpy(h.model, model);
    h.src_size = (uint32_t)old_len;
    h.tgt_size = (uint32_t)new_len;
    sha256(old, old_len, h.src_sha256);
    sha256(new, new_len, h.tgt_sha256);
    h.sector_size = FX_SECTOR;
    h.flags = parts->flags;
    h.stash_slots = parts->stash_slots;
    /* The header's length depends on the streams': they go after the
     * longest header first, then move up behind the real one. */
    ck_assert_uint_gt(size, PKG_HEADER_MAX);
    size_t at = PKG_HEADER_MAX;
    for (int i = 0; i < PKG_STREAMS; i++)
        at += compress(parts->stream[i], parts->stream_len[i], out + at, size - at, &h.stream[i]);
    size_t body = at - PKG_HEADER_MAX;
    sha256(out + PKG_HEADER_MAX, body, h.body_sha256);
    uint8_t head[PKG_HEADER_MAX];
    size_t hl = pkg_header_write(&h, head);
    ck_assert_uint_gt(hl, 0);
    memmove(out + hl, out + PKG_HEADER_MAX, body);
    memcpy(out, head, hl);
    return hl + body;
}

size_t fx_full_package(uint8_t *out, size_t size, const char *model, const uint8_t *old,
                       size_t old_len, const uint8_t *new, size_t new_len)
{
    uint8_t ctrl[8192];
    size_t ctrl_len = 0;
    uint32_t steps = (uint32_t)((new_len + FX_SECTOR - 1) / FX_SECTOR);
    for (uint32_t t = 0; t < steps; t++) {
        uint32_t len =
            new_len - t * FX_SECTOR < FX_SECTOR ? (uint32_t)(new_len - t * FX_SECTOR) : FX_SECTOR;
        ctrl_len += varint_put(ctrl + ctrl_len, 0); /* the next sector */
        ctrl_len += varint_put(ctrl + ctrl_len, 0); /* nothing stashed */
        ctrl_len += varint_put(ctrl + ctrl_len, 0);
        ctrl_len += varint_put(ctrl + ctrl_len, len);
        ctrl_len += varint_put(ctrl + ctrl_len, 0);
    }
    struct fx_pkg_parts parts = {
        .stream = {ctrl, (const uint8_t *)"", new},
        .stream_len = {ctrl_len, 0, new_len},
        .flags = PKG_FLAG_FULL,
    };
    return fx_package(out, size, model, old, old_len, new, new_len, &parts);
}
