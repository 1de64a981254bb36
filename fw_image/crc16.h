/* CRC-16 of the BC66's UART upload (card 2 section 3.3): polynomial 0x1021,
 * initial value 0, no reflection, no final XOR. The CRC catalogues call this
 * variant CRC-16/XMODEM; the card calls it CCITT. Table-free, libc only. */
#ifndef BCSIM_CRC16_H
#define BCSIM_CRC16_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc16_ccitt_update(0, ...). */
uint16_t crc16_ccitt_update(uint16_t crc, const void *data, size_t len);

#endif
