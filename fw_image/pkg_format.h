/* The delta package header (FORMAT.md): variable length, so that a package
 * for a small change is small, with every check the module makes kept. */
#ifndef BCSIM_PKG_FORMAT_H
#define BCSIM_PKG_FORMAT_H

#include "fw_image/image.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKG_VERSION 2
/* The longest header: the longest model and revisions, 5-byte varints. */
#define PKG_HEADER_MAX (9 + 3 + IMG_MODEL_MAX + 2 * IMG_REVISION_MAX + 8 + 3 * SHA256_LEN + 36 + 4)
#define PKG_FLAG_FULL  1u

enum pkg_stream { PKG_CTRL, PKG_DIFF, PKG_EXTRA, PKG_STREAMS };

#define PKG_DICT_LOG2_MIN 12
#define PKG_DICT_LOG2_MAX 16

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
    uint32_t stash_slots;
    struct pkg_stream_desc stream[PKG_STREAMS];
    uint8_t body_sha256[SHA256_LEN];
    /* derived, not stored: */
    uint32_t steps;      /* target sectors */
    uint32_t header_len; /* bytes, CRC included */
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

/* Writes the header (at most PKG_HEADER_MAX bytes) and returns its length;
 * sets h->header_len and h->steps. 0 if a field cannot be written. */
size_t pkg_header_write(struct pkg_header *h, uint8_t out[PKG_HEADER_MAX]);

/* Reads the header from the first n bytes of a package (n may exceed it). */
int pkg_header_read(const uint8_t *in, size_t n, struct pkg_header *h);

/* The streams' length as the header declares it. */
uint64_t pkg_body_len(const struct pkg_header *h);

/* Header and body: the whole package. */
uint64_t pkg_total_len(const struct pkg_header *h);

/* Bytes of RAM an applier needs for one stream's decoder: the probability
 * table for lc + lp and the dictionary. */
size_t pkg_stream_memory(unsigned lclp, unsigned dict_log2);

/* Bytes of RAM an applier needs for the decoders of these streams: each
 * stream's probability table and dictionary. */
size_t pkg_decoder_memory(const struct pkg_header *h);

const char *pkg_strerror(int err);

#endif
