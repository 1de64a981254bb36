/* AT+QFUPLEX's upload (card 2 section 3.2.1): numbered blocks of one size
 * into the FOTA area through fota's sink, each kept whole or not at all. The
 * sequence rules are bcsim's (README, "UART upload"): block 0 starts (or
 * restarts) an upload; every other block must be the next one, of the same
 * size, and fit the FOTA area; a block shorter than the size ends the
 * package. The state is RAM only: a reset or power cut forgets it. */
#ifndef BCSIM_FOTA_UPLOAD_H
#define BCSIM_FOTA_UPLOAD_H

#include "sim/fota_sink.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

enum fota_upload_err {
    FOTA_UPLOAD_OK = 0,
    FOTA_UPLOAD_ESEQUENCE = -100, /* not block 0 and not the next block */
    FOTA_UPLOAD_ESIZE = -101,     /* another <blocksize> than the upload's */
    FOTA_UPLOAD_EENDED = -102,    /* a short block already ended the package */
    FOTA_UPLOAD_EFULL = -103,     /* the block would outgrow the FOTA area */
    /* or a FLASH_E* error from the sink */
};

struct fota_upload {
    struct fota_sink *sink;
    uint32_t block_size; /* of the upload under way; 0: none */
    uint32_t next;       /* the block number expected next */
    bool ended;          /* a short block ended the package */
    /* The block between the command's '>' and its answer, for the command. */
    struct {
        uint32_t size, num, len; /* <blocksize>, <blocknum>, data bytes */
        const uint8_t *data;     /* data and CRC, in the AT engine's data mode */
    } block;
    uv_timer_t timer; /* ... and its <timeout> */
};

void fota_upload_init(struct fota_upload *u, uv_loop_t *loop, struct fota_sink *sink);
void fota_upload_close(struct fota_upload *u);

/* The upload is gone (a reset, a power cut, a download into the area). */
void fota_upload_forget(struct fota_upload *u);

/* Whether block `num` of `size` bytes, `len` of them data, may come now. */
int fota_upload_check(const struct fota_upload *u, uint32_t size, uint32_t num, uint32_t len);

/* Writes a block whose CRC matched; on any error nothing of it is kept. */
int fota_upload_write(struct fota_upload *u, uint32_t size, uint32_t num, const uint8_t *data,
                      uint32_t len);

/* Bytes of the upload so far (0: none). */
uint64_t fota_upload_length(const struct fota_upload *u);

#endif
