/* LwM2M 1.0 TLV (OMA-TS-LightweightM2M-V1_0 section 6.4.3), the server's
 * own reading and writing of it. A TLV is a type byte (what the identifier
 * names, its width, how the length is given), the identifier, the length and
 * the value. */
#ifndef BCSIM_LWSRV_TLV_H
#define BCSIM_LWSRV_TLV_H

#include <stddef.h>
#include <stdint.h>

enum lwsrv_tlv_kind {
    LWSRV_TLV_INSTANCE = 0,          /* an Object Instance, resources inside */
    LWSRV_TLV_RESOURCE_INSTANCE = 1, /* one value of a Multiple Resource */
    LWSRV_TLV_MULTIPLE = 2,          /* a Multiple Resource, instances inside */
    LWSRV_TLV_RESOURCE = 3,          /* a Resource with its value */
};

struct lwsrv_tlv {
    enum lwsrv_tlv_kind kind;
    uint16_t id;
    const uint8_t *value;
    size_t len;
};

/* The next TLV of *p (*left bytes), advancing both: 1 read, 0 at the end,
 * -1 malformed (the header or the value runs past the end). */
int lwsrv_tlv_next(const uint8_t **p, size_t *left, struct lwsrv_tlv *t);

/* A Resource TLV with id and value into out: its length, or 0 if it does not
 * fit in size bytes. */
size_t lwsrv_tlv_put(uint8_t *out, size_t size, uint16_t id, const uint8_t *value, size_t len);

/* An integer the way TLV carries it: big-endian two's complement in 1, 2, 4
 * or 8 bytes, the fewest that hold it. Returns the length (buf needs 8). */
size_t lwsrv_tlv_int(int64_t v, uint8_t buf[8]);

/* An integer value of 1, 2, 4 or 8 bytes; -1 for another length. */
int lwsrv_tlv_get_int(const uint8_t *value, size_t len, int64_t *v);

#endif
