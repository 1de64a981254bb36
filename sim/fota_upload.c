#include "sim/fota_upload.h"

#include "fw_image/flash.h"

void fota_upload_init(struct fota_upload *u, uv_loop_t *loop, struct fota_sink *sink)
{
    u->sink = sink;
    u->block_size = 0;
    u->next = 0;
    u->ended = false;
    uv_timer_init(loop, &u->timer);
}

void fota_upload_close(struct fota_upload *u)
{
    uv_close((uv_handle_t *)&u->timer, NULL);
}

void fota_upload_forget(struct fota_upload *u)
{
    uv_timer_stop(&u->timer);
    u->block_size = 0;
    u->next = 0;
    u->ended = false;
}

uint64_t fota_upload_length(const struct fota_upload *u)
{
    return u->block_size ? fota_sink_length(u->sink) : 0;
}

int fota_upload_check(const struct fota_upload *u, uint32_t size, uint32_t num, uint32_t len)
{
    if (num == 0) /* a new upload: only the area's size matters */
        return len <= flash_fota_room(u->sink->flash) ? FOTA_UPLOAD_OK : FOTA_UPLOAD_EFULL;
    if (u->block_size == 0 || num != u->next)
        return FOTA_UPLOAD_ESEQUENCE;
    if (size != u->block_size)
        return FOTA_UPLOAD_ESIZE;
    if (u->ended)
        return FOTA_UPLOAD_EENDED;
    if (fota_sink_length(u->sink) + len > flash_fota_room(u->sink->flash))
        return FOTA_UPLOAD_EFULL;
    return FOTA_UPLOAD_OK;
}

int fota_upload_write(struct fota_upload *u, uint32_t size, uint32_t num, const uint8_t *data,
                      uint32_t len)
{
    int err = fota_upload_check(u, size, num, len);
    if (err)
        return err;
    if (num == 0) {
        /* Block 0 restarts: what an earlier upload left in the area is
         * overwritten as the new one grows. */
        fota_sink_reset(u->sink, u->sink->flash);
        u->block_size = 0;
    }
    uint64_t before = fota_sink_length(u->sink);
    err = fota_sink_write(u->sink, data, len);
    if (err) {
        /* Nothing of the block stays; a power cut leaves the sink to the next boot. */
        if (err != FLASH_EPOWER)
            fota_sink_truncate(u->sink, before);
        if (num == 0)
            fota_upload_forget(u);
        return err;
    }
    u->block_size = size;
    u->next = num + 1;
    u->ended = len < size;
    return FOTA_UPLOAD_OK;
}
