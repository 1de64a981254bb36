/* The delta package header (FORMAT.md). */
#ifndef BCSIM_PKG_FORMAT_H
#define BCSIM_PKG_FORMAT_H

#include "fw_image/image.h"

#include <stdbool.h>
#include <stdint.h>

#define PKG_HEADER_SIZE 256
#define PKG_FLAG_FULL   1u

enum pkg_stream { PKG_CTRL, PKG_DIFF, PKG_EXTRA, PKG_STREAMS };

struct pkg_stream_desc {
    uint32_t packed_len, raw_len;
    uint8_t lc, lp, pb, dict_log2;
};

struct pkg_header {
    char model[IMG_MODEL_MAX + 1];
    char src_revision[IMG_REVISION_MAX + 1];
    uint32_t src_size;
    uint8_t src_sha256[SHA256_LEN];
    char tgt_revision[IMG_REVISION_MAX + 1];
    uint32_t tgt_size;
    uint8_t tgt_sha256[SHA256_LEN];
    uint32_t sector_size;
    uint32_t flags;
    uint32_t plan_len;
    uint32_t steps;
    uint32_t stash_slots;
    struct pkg_stream_desc stream[PKG_STREAMS];
    uint8_t body_sha256[SHA256_LEN];
};

enum pkg_error {
    PKG_OK = 0,
    PKG_ETRUNCATED = -1,
    PKG_EMAGIC = -2,
    PKG_EVERSION = -3,
    PKG_ECRC = -4,
    PKG_EFIELD = -5,  /* a field out of range */
    PKG_EHASH = -6,   /* body does not match its SHA-256 */
    PKG_ECORRUPT = -7 /* plan or streams inconsistent (found while applying) */
};

void pkg_header_write(const struct pkg_header *h, uint8_t out[PKG_HEADER_SIZE]);
int pkg_header_read(const uint8_t in[PKG_HEADER_SIZE], struct pkg_header *h);

/* Plan + streams: the body's length as the header declares it. */
uint64_t pkg_body_len(const struct pkg_header *h);

const char *pkg_strerror(int err);

#endif
