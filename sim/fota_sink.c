#include "sim/fota_sink.h"

#include <string.h>

void fota_sink_reset(struct fota_sink *s, struct flash *flash)
{
    s->flash = flash;
    s->written = s->buffered = 0;
}

uint64_t fota_sink_length(const struct fota_sink *s)
{
    return (uint64_t)s->written + s->buffered;
}

static int write_buffered(struct fota_sink *s)
{
    const struct flash_geometry *g = &s->flash->geo;
    int err = flash_write_sector(s->flash, g->fota_offset + s->written, s->sector, s->buffered);
    if (err)
        return err;
    s->written += s->buffered;
    s->buffered = 0;
    return 0;
}

static uint32_t sector_size(const struct fota_sink *s)
{
    uint32_t size = s->flash->geo.sector_size;
    return size < FOTA_SINK_SECTOR_MAX ? size : FOTA_SINK_SECTOR_MAX;
}

int fota_sink_truncate(struct fota_sink *s, uint64_t length)
{
    if (length > fota_sink_length(s))
        return FLASH_ERANGE;
    uint32_t sector = sector_size(s);
    uint32_t whole = (uint32_t)(length / sector) * sector;
    if (whole < s->written) {
        uint32_t part = (uint32_t)length - whole;
        int err =
            part ? flash_read(s->flash, s->flash->geo.fota_offset + whole, s->sector, part) : 0;
        if (err)
            return err;
        s->written = whole;
    }
    s->buffered = (uint32_t)length - s->written;
    return 0;
}

int fota_sink_write(struct fota_sink *s, const uint8_t *p, size_t n)
{
    uint32_t sector = sector_size(s);
    if (fota_sink_length(s) + n > flash_fota_room(s->flash))
        return FLASH_EFULL;
    while (n > 0) {
        if (s->buffered == 0 && n >= sector) {
            /* A whole sector in the caller's bytes goes to the flash from
             * there: the same operations, without a copy into the buffer. */
            int err =
                flash_write_sector(s->flash, s->flash->geo.fota_offset + s->written, p, sector);
            if (err) {
                memcpy(s->sector, p, sector); /* left as the buffered path leaves it */
                s->buffered = sector;
                return err;
            }
            s->written += sector;
            p += sector;
            n -= sector;
            continue;
        }
        size_t k = sector - s->buffered < n ? sector - s->buffered : n;
        memcpy(s->sector + s->buffered, p, k);
        s->buffered += (uint32_t)k;
        p += k;
        n -= k;
        int err = s->buffered == sector ? write_buffered(s) : 0;
        if (err)
            return err;
    }
    return 0;
}

int fota_sink_flush(struct fota_sink *s)
{
    return s->buffered ? write_buffered(s) : 0;
}
