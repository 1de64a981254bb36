/* Writes a package into the FOTA area as it arrives, one whole sector at a
 * time (erase, then program), as a NOR driver with a sector buffer does. The
 * sink knows nothing of transports: a download and a UART upload feed it
 * alike. Writing whole sectors also makes the flash operations of a transfer
 * depend only on its length, so fault points (`flash-cut N`) are repeatable. */
#ifndef BCSIM_FOTA_SINK_H
#define BCSIM_FOTA_SINK_H

#include "fw_image/flash.h"

#include <stddef.h>
#include <stdint.h>

#define FOTA_SINK_SECTOR_MAX 4096

struct fota_sink {
    struct flash *flash;
    uint32_t written;  /* bytes in the FOTA area */
    uint32_t buffered; /* bytes waiting for their sector to fill */
    uint8_t sector[FOTA_SINK_SECTOR_MAX];
};

/* Starts a new package at the beginning of the FOTA area. */
void fota_sink_reset(struct fota_sink *s, struct flash *flash);

/* Bytes received so far (written or buffered). */
uint64_t fota_sink_length(const struct fota_sink *s);

/* 0, or a FLASH_E* error: FLASH_EFULL when the package outgrows the area. */
int fota_sink_write(struct fota_sink *s, const uint8_t *p, size_t n);

/* Drops the bytes after `length` (no more than were received), as if they
 * had never come: a partial sector already in the flash is read back into
 * the buffer. With `length` all of them, it undoes a flush, so that more
 * can follow. 0 or a FLASH_E* error. */
int fota_sink_truncate(struct fota_sink *s, uint64_t length);

/* Writes the last, partial sector. 0 or a FLASH_E* error. */
int fota_sink_flush(struct fota_sink *s);

#endif
