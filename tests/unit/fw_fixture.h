/* Test fixtures for fw_image: a RAM flash with a small geometry, images, and a
 * hand-assembled package builder (an oracle independent of the generator). */
#ifndef BCSIM_TEST_FW_FIXTURE_H
#define BCSIM_TEST_FW_FIXTURE_H

#include "fw_image/flash.h"
#include "fw_image/image.h"
#include "fw_image/pkg_format.h"

#include <stddef.h>
#include <stdint.h>

#define FX_SECTOR     512
#define FX_FW_SECTORS 32
#define FX_TOTAL      (FX_SECTOR * 64)

struct fx_flash {
    struct flash flash;
    uint8_t mem[FX_TOTAL];
    uint32_t erase_count[FX_TOTAL / FX_SECTOR];
};

/* fw 32 sectors at 0, FOTA 20 sectors, scratch 4 (staging + 3 slots), journal 8. */
void fx_flash_init(struct fx_flash *fx);

/* An image: header + payload of `payload_len` bytes from a seeded generator. */
size_t fx_image(uint8_t *out, size_t size, const char *model, const char *revision,
                const uint8_t *payload, uint32_t payload_len);
void fx_random(uint8_t *out, size_t len, uint32_t seed);

/* Writes an image into the firmware region and a package into the FOTA area. */
void fx_install_image(struct fx_flash *fx, const uint8_t *img, size_t len);
void fx_install_package(struct fx_flash *fx, const uint8_t *pkg, size_t len);

/* A package stream (FORMAT.md): raw LZMA of a known length, without the
 * range coder's first byte; an empty stream has no bytes. Returns its size. */
size_t fx_stream(const uint8_t *in, size_t len, uint8_t *out, size_t size, unsigned lc, unsigned lp,
                 unsigned pb, uint32_t dict_size);

/* The raw streams; the control stream carries each step's plan entry
 * before its triples (FORMAT.md). */
struct fx_pkg_parts {
    const uint8_t *stream[PKG_STREAMS];
    size_t stream_len[PKG_STREAMS];
    uint32_t stash_slots;
    uint32_t flags;
};

/* Assembles a package (header, LZMA2-compressed streams); returns its size. */
size_t fx_package(uint8_t *out, size_t size, const char *model, const uint8_t *old, size_t old_len,
                  const uint8_t *new, size_t new_len, const struct fx_pkg_parts *parts);

/* A full-image package for new (ascending steps, data in the extra stream). */
size_t fx_full_package(uint8_t *out, size_t size, const char *model, const uint8_t *old,
                       size_t old_len, const uint8_t *new, size_t new_len);

#endif
