/* The package generator (host side: it allocates freely and uses
 * libdivsufsort and liblzma's encoder). Produces a package in the format of
 * FORMAT.md whose plan respects the in-place constraints for a device with
 * `stash_slots` stash slots. */
#ifndef BCSIM_DELTA_H
#define BCSIM_DELTA_H

#include "fw_image/pkg_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct delta_params {
    const char *model;        /* written into the header */
    const char *src_revision; /* ditto */
    const char *tgt_revision; /* ditto */
    uint32_t sector_size;     /* flash sector size of the device */
    uint32_t stash_slots;     /* stash slots the device has (scratch sectors - 1) */
    uint32_t decoder_ram;     /* bytes the device's updater has for the stream decoders */
    bool full;                /* a full-image package: no reference to the source */
    bool best;                /* spend more time for the last bytes (pkg make --best) */
};

/* Makes a package from source image `old` to target image `new`. On success
 * returns 0 and a malloc'd package in *pkg (free it). On failure returns a
 * negative value and a one-line reason in `why`. */
int delta_make(const uint8_t *old, size_t old_len, const uint8_t *new, size_t new_len,
               const struct delta_params *params, uint8_t **pkg, size_t *pkg_len, char *why,
               size_t why_size);

#endif
