/* The module's firmware: the built-in images, and the image in its flash. */
#ifndef BCSIM_FIRMWARE_H
#define BCSIM_FIRMWARE_H

#include "fw_image/flash.h"
#include "fw_image/patch.h"
#include "fw_image/image.h"
#include "fw_image/pkg_format.h"
#include "sim/profile.h"

#include <stddef.h>
#include <stdint.h>

/* Builds a built-in image (header + synthetic payload) into a malloc'd
 * buffer. Returns 0, or -ENOMEM. */
int fw_builtin_image(const struct profile *p, const struct prof_revision *r, uint8_t **image,
                     size_t *len);

/* Erases the firmware region and programs `image` at its start. */
int fw_install(struct flash *f, const uint8_t *image, size_t len);

/* What the boot ROM checks before it starts the firmware: header, model,
 * size, payload hash. 0 with the header filled, or an IMG_E* error, or
 * IMG_EFIELD for another model's image. */
int fw_boot_check(struct flash *f, const struct profile *p, struct img_header *h);

/* A model's flash in RAM, for host-side checks and applies (all erased). */
struct ram_flash {
    struct flash flash;
    uint8_t *mem;
    uint32_t *erase_count;
};
int fw_ram_flash_open(struct ram_flash *rf, const struct profile *p);
void fw_ram_flash_close(struct ram_flash *rf);

/* Model policy on top of the package's own checks: the R01/R02 baselines of
 * card 1 may not be crossed where the profile says so. 0, or -1 and why. */
int fw_check_baseline(const struct profile *p, const struct pkg_header *h, char *why,
                      size_t why_size);

/* The module's whole acceptance of a package at [offset, offset+len) of the
 * FOTA area, before anything is written: patch_check (header, body SHA-256,
 * model, source image) and then the model's baseline rule. 0, or a PATCH_E*
 * status with the reason in patch->why. The updater and `bcsim pkg verify`
 * both decide with it. */
int fw_accept_package(const struct profile *p, struct patch *patch, struct flash *f,
                      uint32_t offset, uint32_t len);

#endif
