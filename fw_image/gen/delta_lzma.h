/* Raw LZMA2 compression of the package streams, with the options chosen per
 * stream by trying variants within the device's decoder memory. Internal to
 * delta.c; host only. */
#ifndef BCSIM_DELTA_LZMA_H
#define BCSIM_DELTA_LZMA_H

#include "fw_image/pkg_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Compresses the three streams as raw LZMA2 streams. Per stream it chooses
 * the literal context, position and alignment bits and the dictionary so
 * that the package is smallest while the three decoders (probability tables
 * and dictionaries, as pkg_decoder_memory counts them) fit in `decoder_ram`
 * bytes. The options are ranked by a quick encoding, or with `best_effort`
 * by the package's own (some 40 encodings of each stream). Fills d[] and
 * malloc'd out[]. Returns 0, -1 on failure, -3 if no settings fit. */
int delta_lzma_pack_all(const uint8_t *const in[PKG_STREAMS], const size_t n[PKG_STREAMS],
                        uint32_t decoder_ram, bool best_effort, uint8_t *out[PKG_STREAMS],
                        struct pkg_stream_desc d[PKG_STREAMS]);

/* The quick encoding's size of the three streams at their usual options,
 * to compare two step orders; 0 on failure. */
size_t delta_lzma_estimate(const uint8_t *const in[PKG_STREAMS], const size_t n[PKG_STREAMS]);

#endif
