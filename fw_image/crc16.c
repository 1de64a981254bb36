#include "fw_image/crc16.h"

uint16_t crc16_ccitt_update(uint16_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8); /* most significant bit first: no reflection */
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}
