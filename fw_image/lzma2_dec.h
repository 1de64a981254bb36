/* A small streaming LZMA2 decoder for the apply path. liblzma's decoder
 * carries about 28 KiB of state per stream whatever the literal context bits,
 * which put three streams over 100 KiB; this one sizes its probability table
 * for the stream's own lc+lp and takes all memory from the caller, so the
 * whole apply fits in tens of KiB. It decodes raw LZMA2 (no .xz container)
 * and raw LZMA streams of a known length, pulls its input through a callback, and checks every
 * distance and length, so a damaged stream is an error, never a stray read. */
#ifndef BCSIM_LZMA2_DEC_H
#define BCSIM_LZMA2_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lz_status {
    LZ_OK = 0,
    LZ_END = 1,       /* the stream's end marker was reached */
    LZ_ECORRUPT = -1, /* malformed stream */
    LZ_EINPUT = -2,   /* the input callback failed or ran out */
};

/* Fills buf with up to cap bytes of compressed input; returns the count
 * (0 at the end of the input) or a negative value on error. */
typedef int (*lz_fill_fn)(void *ctx, uint8_t *buf, uint32_t cap);

#define LZ_INBUF 64

struct lz_dec {
    /* set up by lz_init */
    uint16_t *probs;
    uint32_t lclp_max;
    uint8_t *dict;
    uint32_t dict_size;
    lz_fill_fn fill;
    void *ctx;
    /* input */
    uint8_t in[LZ_INBUF];
    uint32_t in_pos, in_len;
    /* range coder */
    uint32_t range, code;
    /* LZMA state */
    unsigned lc, lp, pb;
    uint32_t state, rep[4];
    uint32_t dict_pos, dict_full; /* write position, bytes valid since the last reset */
    uint32_t total;               /* bytes since the last dictionary reset (for pb/lp) */
    int err;                      /* sticky: set by the input side */
    uint32_t match_left;          /* bytes of the current match still to copy */
    /* LZMA2 chunk */
    uint32_t chunk_left;  /* unpacked bytes left in the chunk */
    uint32_t packed_left; /* compressed bytes left in an LZMA chunk */
    bool chunk_lzma, need_dict_reset, need_props, ended;
};

/* Bytes of probability table for lc+lp <= lclp_max. */
size_t lz_probs_size(unsigned lclp_max);

/* probs: lz_probs_size(lclp_max) bytes, 2-aligned; dict: dict_size bytes. */
void lz_init(struct lz_dec *d, uint16_t *probs, unsigned lclp_max, uint8_t *dict,
             uint32_t dict_size, lz_fill_fn fill, void *ctx);

/* Like lz_init, for a raw LZMA stream of raw_len bytes in packed_len bytes,
 * as the package streams are (FORMAT.md): no LZMA2 chunks, no end marker,
 * the options in LZMA's props byte, and the range coder's first byte (always
 * zero) not stored. LZ_OK, or LZ_ECORRUPT for options beyond lclp_max; a
 * failing input shows at the first lz_read. */
int lz_init_raw(struct lz_dec *d, uint16_t *probs, unsigned lclp_max, uint8_t *dict,
                uint32_t dict_size, lz_fill_fn fill, void *ctx, uint8_t props, uint32_t raw_len,
                uint32_t packed_len);

/* Decodes exactly n bytes into out (or discards them if out is NULL).
 * LZ_OK, or an error; reaching the end of the stream first is LZ_ECORRUPT. */
int lz_read(struct lz_dec *d, uint8_t *out, uint32_t n);

/* After the last lz_read: LZ_END if the stream ends right there. */
int lz_finish(struct lz_dec *d);

#endif
