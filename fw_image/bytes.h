/* Little-endian fields and LEB128 varints, for the image and package formats. */
#ifndef BCSIM_BYTES_H
#define BCSIM_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Writes v as unsigned LEB128 (at most 5 bytes); returns the bytes written. */
size_t varint_put(uint8_t *p, uint32_t v);

/* Reads one varint from [p, end). Returns the bytes used, or 0 if the input
 * ends first or the value needs more than 32 bits. */
size_t varint_get(const uint8_t *p, const uint8_t *end, uint32_t *v);

static inline uint32_t zigzag_encode(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

static inline int32_t zigzag_decode(uint32_t v)
{
    return (int32_t)(v >> 1) ^ -(int32_t)(v & 1);
}

#endif
