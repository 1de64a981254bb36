/* The values of LwM2M resources (OMA-TS-LightweightM2M-V1_0 Appendix C data
 * types), shared by the TLV and plain-text codecs and the client. Strings and
 * opaque values point into memory of the caller (a datagram, an object's own
 * storage): a value lives no longer than the call it is passed in. */
#ifndef BCSIM_LWM2M_VALUE_H
#define BCSIM_LWM2M_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lwm2m_type {
    LWM2M_STRING,
    LWM2M_INTEGER,
    LWM2M_FLOAT,
    LWM2M_BOOLEAN,
    LWM2M_OPAQUE,
    LWM2M_TIME, /* seconds since 1970, an integer on the wire */
    LWM2M_OBJLNK,
    LWM2M_MULTIPLE, /* a multiple resource: its instances */
};

struct lwm2m_value;

/* The instances of a multiple resource: ids[k] holds vals[k]. */
struct lwm2m_multi {
    const uint16_t *ids;
    const struct lwm2m_value *vals;
    size_t n;
};

struct lwm2m_value {
    enum lwm2m_type type;
    union {
        int64_t i; /* INTEGER, TIME */
        double f;
        bool b;
        struct {
            const uint8_t *p;
            size_t len;
        } bytes; /* STRING (UTF-8, no terminator needed), OPAQUE */
        struct {
            uint16_t obj, inst;
        } lnk;
        struct lwm2m_multi multi;
    } u;
};

#endif
