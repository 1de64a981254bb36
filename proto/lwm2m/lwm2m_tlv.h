/* OMA TLV (OMA-TS-LightweightM2M-V1_0 section 6.4.3, Content-Format 11542).
 * Each element: a type byte (bits 7-6 what it is, bit 5 a 16-bit identifier,
 * bits 4-3 how many bytes of length follow, 0 to 3, bits 2-0 the length when
 * none follow), the identifier, the length, the value. Integers and times are
 * signed big-endian in 1, 2, 4 or 8 bytes, floats IEEE 754 in 4 or 8, booleans
 * one byte 0 or 1, object links two 16-bit halves.
 *
 * Decoding never reads outside the given bytes and rejects what the TS does
 * not allow with a negative return, never a crash. */
#ifndef BCSIM_LWM2M_TLV_H
#define BCSIM_LWM2M_TLV_H

#include "proto/lwm2m/lwm2m_value.h"

#include <stddef.h>
#include <stdint.h>

enum lwm2m_tlv_kind {
    LWM2M_TLV_OBJECT_INSTANCE = 0,   /* its value: resource TLVs */
    LWM2M_TLV_RESOURCE_INSTANCE = 1, /* one instance of a multiple resource */
    LWM2M_TLV_MULTIPLE = 2,          /* its value: resource instance TLVs */
    LWM2M_TLV_RESOURCE = 3,          /* a single resource's value */
};

/* An output buffer: writes past size set overflow and are dropped. */
struct lwm2m_buf {
    uint8_t *p;
    size_t size, len;
    bool overflow;
};

/* One element: kind, id, then len bytes of value. */
void lwm2m_tlv_put(struct lwm2m_buf *b, enum lwm2m_tlv_kind kind, uint16_t id, const void *value,
                   size_t len);

/* A resource (kind RESOURCE) or resource instance (RESOURCE_INSTANCE) with
 * value v in its type's shortest form; a MULTIPLE value becomes a multiple
 * resource whatever kind says. Returns 0, or -1 for a value no TLV holds. */
int lwm2m_tlv_put_value(struct lwm2m_buf *b, enum lwm2m_tlv_kind kind, uint16_t id,
                        const struct lwm2m_value *v);

/* Opens a nested element (object instance, multiple resource) whose length
 * is known only at its end: returns the mark to give lwm2m_tlv_end. */
size_t lwm2m_tlv_begin(struct lwm2m_buf *b);
void lwm2m_tlv_end(struct lwm2m_buf *b, size_t mark, enum lwm2m_tlv_kind kind, uint16_t id);

struct lwm2m_tlv {
    enum lwm2m_tlv_kind kind;
    uint16_t id;
    const uint8_t *value;
    size_t len;
};

/* The element at *p (before end): 1 and *p moved past it, 0 at end, or -1 if
 * it is truncated (header or value beyond end). */
int lwm2m_tlv_next(const uint8_t **p, const uint8_t *end, struct lwm2m_tlv *out);

/* True if the len bytes at p are whole TLV elements, nested ones included
 * (object instances hold resources or multiples, multiples hold resource
 * instances only). */
bool lwm2m_tlv_valid(const uint8_t *p, size_t len);

/* The value bytes of an element as type (not MULTIPLE): 0, or -1 if their
 * length or content does not fit the type (an integer of 3 bytes, a boolean
 * of 2). Strings and opaque values point at the bytes. */
int lwm2m_tlv_decode(const uint8_t *p, size_t len, enum lwm2m_type type, struct lwm2m_value *v);

#endif
