/* CRC-32 (IEEE 802.3, as zlib computes it), table-free so it fits anywhere. */
#ifndef BCSIM_CRC32_H
#define BCSIM_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc32_update(0, ...). */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

#endif
