#include "tests/fuzz/fuzz_common.h"

#include "fw_image/bytes.h"
#include "fw_image/image.h"
#include "sim/firmware.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef FUZZ_SEED_DIR
#define FUZZ_SEED_DIR "tests/fuzz/corpus_package"
#endif

struct fz_flash fz;

static uint8_t pristine[FZ_TOTAL];
static uint8_t source[IMG_HEADER_SIZE + FZ_PAYLOAD];

static const char *const target_revision[FZ_VARIANTS] = {
    "BC66NBR01A08", "BC66NBR01A09", "BC66NBR01A10", "BC66NBR01A11", "BC66NBR01A12", "BC66NBR01A08",
};

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Firmware-like bytes: instruction words from a small set with varying low
 * bits, absolute addresses, and strings. Purely random data would make every
 * package nearly as large as the image, and the streams would never repeat. */
static void payload(uint8_t *out, size_t len, uint32_t seed)
{
    static const uint32_t opcodes[8] = {0xe92d4000, 0xe8bd8000, 0xe59f0000, 0xe3a00000,
                                        0xe1a00000, 0xeb000000, 0xe2800000, 0x08000000};
    static const char *const strings[4] = {"+CEREG: %d,%d\r\n", "AT+QLWSERV=", "ERROR\r\n",
                                           "FOTA: download complete"};
    uint32_t s = seed | 1;
    size_t i = 0;
    while (i < len) {
        uint32_t r = xorshift(&s);
        uint8_t word[24];
        size_t n = 4;
        if (r % 23 == 0) {
            const char *str = strings[(r >> 8) % 4];
            n = strlen(str) + 1;
            memcpy(word, str, n);
        } else {
            put_le32(word, opcodes[(r >> 5) % 8] | ((r >> 12) & 0x3ff));
        }
        if (n > len - i)
            n = len - i;
        memcpy(out + i, word, n);
        i += n;
    }
}

static size_t wrap(uint8_t *out, const char *revision, const uint8_t *pay, size_t len)
{
    struct img_header h;
    if (img_header_make(&h, FZ_MODEL, revision, pay, (uint32_t)len) != IMG_OK)
        __builtin_trap();
    memmove(out + IMG_HEADER_SIZE, pay, len);
    img_header_write(&h, out);
    return IMG_HEADER_SIZE + len;
}

static void geometry(struct flash_geometry *g)
{
    *g = (struct flash_geometry){
        .sector_size = FZ_SECTOR,
        .fw_offset = 0,
        .fw_size = FZ_FW_SIZE,
        .fota_offset = FZ_FW_SIZE,
        .fota_size = FZ_FOTA_SIZE,
        .scratch_offset = FZ_FW_SIZE + FZ_FOTA_SIZE,
        .scratch_size = FZ_SCRATCH_SECTORS * FZ_SECTOR,
        .journal_offset = FZ_FW_SIZE + FZ_FOTA_SIZE + FZ_SCRATCH_SECTORS * FZ_SECTOR,
        .journal_size = FZ_JOURNAL_SECTORS * FZ_SECTOR,
        .total_size = FZ_TOTAL,
    };
}

void fz_setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    struct flash_geometry g;
    geometry(&g);
    if (flash_geometry_check(&g) != FLASH_OK)
        __builtin_trap();
    static uint8_t pay[FZ_PAYLOAD];
    payload(pay, sizeof pay, 0x5eed);
    wrap(source, FZ_SRC_REVISION, pay, sizeof pay);
    memset(fz.mem, 0xff, sizeof fz.mem);
    flash_init(&fz.flash, fz.mem, &g, fz.erase_count);
    if (fw_install(&fz.flash, source, sizeof source) != FLASH_OK)
        __builtin_trap();
    memcpy(pristine, fz.mem, sizeof pristine);
}

void fz_reset(void)
{
    struct flash_geometry g;
    geometry(&g);
    memcpy(fz.mem, pristine, sizeof fz.mem);
    memset(fz.erase_count, 0, sizeof fz.erase_count);
    flash_init(&fz.flash, fz.mem, &g, fz.erase_count);
}

const uint8_t *fz_source(size_t *len)
{
    *len = sizeof source;
    return source;
}

/* Replaces [at, at+old_len) of buf (holding *len bytes) with new_len fresh bytes. */
static void splice(uint8_t *buf, size_t *len, size_t at, size_t old_len, size_t new_len,
                   uint32_t seed)
{
    memmove(buf + at + new_len, buf + at + old_len, *len - at - old_len);
    payload(buf + at, new_len, seed);
    *len = *len - old_len + new_len;
}

size_t fz_target(enum fz_variant variant, uint8_t *out)
{
    static uint8_t pay[FZ_IMAGE_MAX];
    size_t len = FZ_PAYLOAD;
    memcpy(pay, source + IMG_HEADER_SIZE, len);
    switch (variant) {
    case FZ_EDITS:
    case FZ_FULL:
        for (size_t i = 301; i < len; i += 997)
            pay[i] ^= 0x5a;
        break;
    case FZ_INSERT:
        splice(pay, &len, 4096, 0, 600, 11);
        break;
    case FZ_DELETE:
        splice(pay, &len, 9000, 1500, 0, 0);
        splice(pay, &len, len, 0, 300, 12);
        break;
    case FZ_GROW:
        splice(pay, &len, len, 0, 4096, 13);
        break;
    case FZ_SWAP: {
        static uint8_t tmp[2048];
        memcpy(tmp, pay + 2048, sizeof tmp);
        memcpy(pay + 2048, pay + 14336, sizeof tmp);
        memcpy(pay + 14336, tmp, sizeof tmp);
        break;
    }
    case FZ_VARIANTS:
        __builtin_trap();
    }
    return wrap(out, target_revision[variant], pay, len);
}

const char *fz_variant_name(enum fz_variant variant)
{
    static const char *const names[FZ_VARIANTS] = {"edits", "insert", "delete",
                                                   "grow",  "swap",   "full"};
    return names[variant];
}

const char *fz_target_revision(enum fz_variant variant)
{
    return target_revision[variant];
}

const uint8_t *fz_package(enum fz_variant variant, size_t *len)
{
    static uint8_t buf[FZ_VARIANTS][FZ_FOTA_SIZE];
    static size_t buf_len[FZ_VARIANTS];
    if (!buf_len[variant]) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.pkg", FUZZ_SEED_DIR, fz_variant_name(variant));
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(buf[variant], 1, sizeof buf[variant], f) : 0;
        if (!f || ferror(f) || n == 0 || n == sizeof buf[variant]) {
            fprintf(stderr, "fuzz: cannot read %s (run tests/fuzz/run.sh --seeds)\n", path);
            __builtin_trap();
        }
        fclose(f);
        buf_len[variant] = n;
    }
    *len = buf_len[variant];
    return buf[variant];
}

void fz_install_package(const uint8_t *data, size_t len)
{
    const struct flash_geometry *g = &fz.flash.geo;
    for (uint32_t off = 0; off < g->fota_size; off += g->sector_size)
        if (flash_erase(&fz.flash, g->fota_offset + off) != FLASH_OK)
            __builtin_trap();
    if (len > g->fota_size || flash_program(&fz.flash, g->fota_offset, data, (uint32_t)len) != 0)
        __builtin_trap();
}

int fz_run_steps(struct patch *p, int r)
{
    for (uint32_t i = 0; r == PATCH_MORE && i < p->hdr.steps + 2; i++)
        r = patch_step(p);
    if (r == PATCH_MORE)
        __builtin_trap();
    return r;
}
