/* Raw LZMA2 compression of the package streams, with the options chosen per
 * stream by trying variants. Internal to delta.c; host only. */
#ifndef BCSIM_DELTA_LZMA_H
#define BCSIM_DELTA_LZMA_H

#include "fw_image/pkg_format.h"

#include <stddef.h>
#include <stdint.h>

/* Compresses `in` as a raw LZMA2 stream, keeping the smallest of the option
 * variants tried for a stream of kind `kind`; fills `d` and a malloc'd
 * *out. `dict_log2` 0 lets it choose the dictionary (12..16), otherwise it
 * is used as is. Returns 0, or -1 on failure. */
int delta_lzma_pack(const uint8_t *in, size_t n, enum pkg_stream kind, unsigned dict_log2,
                    uint8_t **out, struct pkg_stream_desc *d);

#endif
