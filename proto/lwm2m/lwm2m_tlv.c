#include "proto/lwm2m/lwm2m_tlv.h"

#include <string.h>

#define HEADER_MAX 6 /* type, 16-bit id, 24-bit length */
#define LENGTH_MAX 0xFFFFFFu

static void put_bytes(struct lwm2m_buf *b, const void *p, size_t len)
{
    if (b->overflow || len > b->size - b->len) {
        b->overflow = true;
        return;
    }
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
}

/* The header of an element into h; returns its size. */
static size_t header(uint8_t h[HEADER_MAX], enum lwm2m_tlv_kind kind, uint16_t id, size_t len)
{
    size_t n = 1;
    h[0] = (uint8_t)(kind << 6);
    if (id > 0xFF) {
        h[0] |= 0x20;
        h[n++] = (uint8_t)(id >> 8);
    }
    h[n++] = (uint8_t)id;
    if (len < 8) {
        h[0] |= (uint8_t)len;
    } else if (len <= 0xFF) {
        h[0] |= 0x08;
        h[n++] = (uint8_t)len;
    } else if (len <= 0xFFFF) {
        h[0] |= 0x10;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[0] |= 0x18;
        h[n++] = (uint8_t)(len >> 16);
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    }
    return n;
}

void lwm2m_tlv_put(struct lwm2m_buf *b, enum lwm2m_tlv_kind kind, uint16_t id, const void *value,
                   size_t len)
{
    if (len > LENGTH_MAX) {
        b->overflow = true;
        return;
    }
    uint8_t h[HEADER_MAX];
    size_t n = header(h, kind, id, len);
    if (b->overflow || n + len > b->size - b->len) { /* all or nothing */
        b->overflow = true;
        return;
    }
    put_bytes(b, h, n);
    put_bytes(b, value, len);
}

size_t lwm2m_tlv_begin(struct lwm2m_buf *b)
{
    size_t mark = b->len;
    uint8_t room[HEADER_MAX] = {0};
    put_bytes(b, room, sizeof room);
    return mark;
}

void lwm2m_tlv_end(struct lwm2m_buf *b, size_t mark, enum lwm2m_tlv_kind kind, uint16_t id)
{
    if (b->overflow)
        return;
    size_t len = b->len - mark - HEADER_MAX;
    uint8_t h[HEADER_MAX];
    size_t n = header(h, kind, id, len);
    memmove(b->p + mark + n, b->p + mark + HEADER_MAX, len);
    memcpy(b->p + mark, h, n);
    b->len = mark + n + len;
}

/* The shortest of 1, 2, 4, 8 bytes that holds v, big-endian. */
static size_t encode_int(int64_t v, uint8_t out[8])
{
    size_t n = v >= INT8_MIN && v <= INT8_MAX     ? 1
               : v >= INT16_MIN && v <= INT16_MAX ? 2
               : v >= INT32_MIN && v <= INT32_MAX ? 4
                                                  : 8;
    uint64_t u = (uint64_t)v;
    for (size_t k = 0; k < n; k++)
        out[k] = (uint8_t)(u >> (8 * (n - 1 - k)));
    return n;
}

static size_t encode_float(double f, uint8_t out[8])
{
    float narrow = (float)f;
    uint64_t u;
    size_t n;
    if ((double)narrow == f) { /* 4 bytes lose nothing */
        uint32_t w;
        memcpy(&w, &narrow, 4);
        u = w;
        n = 4;
    } else {
        memcpy(&u, &f, 8);
        n = 8;
    }
    for (size_t k = 0; k < n; k++)
        out[k] = (uint8_t)(u >> (8 * (n - 1 - k)));
    return n;
}

int lwm2m_tlv_put_value(struct lwm2m_buf *b, enum lwm2m_tlv_kind kind, uint16_t id,
                        const struct lwm2m_value *v)
{
    uint8_t tmp[8];
    switch (v->type) {
    case LWM2M_STRING:
    case LWM2M_OPAQUE:
        lwm2m_tlv_put(b, kind, id, v->u.bytes.p, v->u.bytes.len);
        return 0;
    case LWM2M_INTEGER:
    case LWM2M_TIME:
        lwm2m_tlv_put(b, kind, id, tmp, encode_int(v->u.i, tmp));
        return 0;
    case LWM2M_FLOAT:
        lwm2m_tlv_put(b, kind, id, tmp, encode_float(v->u.f, tmp));
        return 0;
    case LWM2M_BOOLEAN:
        tmp[0] = v->u.b ? 1 : 0;
        lwm2m_tlv_put(b, kind, id, tmp, 1);
        return 0;
    case LWM2M_OBJLNK:
        tmp[0] = (uint8_t)(v->u.lnk.obj >> 8);
        tmp[1] = (uint8_t)v->u.lnk.obj;
        tmp[2] = (uint8_t)(v->u.lnk.inst >> 8);
        tmp[3] = (uint8_t)v->u.lnk.inst;
        lwm2m_tlv_put(b, kind, id, tmp, 4);
        return 0;
    case LWM2M_MULTIPLE: {
        size_t mark = lwm2m_tlv_begin(b);
        for (size_t k = 0; k < v->u.multi.n; k++) {
            const struct lwm2m_value *e = &v->u.multi.vals[k];
            if (e->type == LWM2M_MULTIPLE ||
                lwm2m_tlv_put_value(b, LWM2M_TLV_RESOURCE_INSTANCE, v->u.multi.ids[k], e) != 0)
                return -1;
        }
        lwm2m_tlv_end(b, mark, LWM2M_TLV_MULTIPLE, id);
        return 0;
    }
    }
    return -1;
}

int lwm2m_tlv_next(const uint8_t **p, const uint8_t *end, struct lwm2m_tlv *out)
{
    const uint8_t *q = *p;
    if (q >= end)
        return 0;
    size_t avail = (size_t)(end - q);
    uint8_t t = q[0];
    size_t id_len = (t & 0x20) ? 2 : 1;
    size_t len_len = (t >> 3) & 3;
    size_t head = 1 + id_len + len_len;
    if (avail < head)
        return -1;
    out->kind = (enum lwm2m_tlv_kind)(t >> 6);
    out->id = id_len == 2 ? (uint16_t)(q[1] << 8 | q[2]) : q[1];
    size_t len = len_len ? 0 : (t & 7);
    for (size_t k = 0; k < len_len; k++)
        len = len << 8 | q[1 + id_len + k];
    if (len > avail - head)
        return -1;
    out->value = q + head;
    out->len = len;
    *p = q + head + len;
    return 1;
}

/* Elements of one level: depth 0 may hold anything, inside an object
 * instance no object instance, inside a multiple resource instances only. */
static bool valid(const uint8_t *p, size_t len, int inside)
{
    const uint8_t *end = p + len;
    struct lwm2m_tlv e;
    int r;
    while ((r = lwm2m_tlv_next(&p, end, &e)) == 1) {
        if (inside == LWM2M_TLV_MULTIPLE && e.kind != LWM2M_TLV_RESOURCE_INSTANCE)
            return false;
        if (inside == LWM2M_TLV_OBJECT_INSTANCE && e.kind == LWM2M_TLV_OBJECT_INSTANCE)
            return false;
        if ((e.kind == LWM2M_TLV_OBJECT_INSTANCE || e.kind == LWM2M_TLV_MULTIPLE) &&
            !valid(e.value, e.len, (int)e.kind))
            return false;
    }
    return r == 0;
}

bool lwm2m_tlv_valid(const uint8_t *p, size_t len)
{
    return valid(p, len, -1);
}

static uint64_t big_endian(const uint8_t *p, size_t len)
{
    uint64_t u = 0;
    for (size_t k = 0; k < len; k++)
        u = u << 8 | p[k];
    return u;
}

int lwm2m_tlv_decode(const uint8_t *p, size_t len, enum lwm2m_type type, struct lwm2m_value *v)
{
    v->type = type;
    switch (type) {
    case LWM2M_STRING:
    case LWM2M_OPAQUE:
        v->u.bytes.p = p;
        v->u.bytes.len = len;
        return 0;
    case LWM2M_INTEGER:
    case LWM2M_TIME: {
        if (len != 1 && len != 2 && len != 4 && len != 8)
            return -1;
        uint64_t u = big_endian(p, len);
        if (len < 8 && (u >> (8 * len - 1)) & 1) /* negative: extend the sign */
            u |= ~0ull << (8 * len);
        v->u.i = (int64_t)u;
        return 0;
    }
    case LWM2M_FLOAT:
        if (len == 4) {
            uint32_t w = (uint32_t)big_endian(p, 4);
            float f;
            memcpy(&f, &w, 4);
            v->u.f = f;
        } else if (len == 8) {
            uint64_t u = big_endian(p, 8);
            memcpy(&v->u.f, &u, 8);
        } else {
            return -1;
        }
        return 0;
    case LWM2M_BOOLEAN:
        if (len != 1 || p[0] > 1)
            return -1;
        v->u.b = p[0] == 1;
        return 0;
    case LWM2M_OBJLNK:
        if (len != 4)
            return -1;
        v->u.lnk.obj = (uint16_t)(p[0] << 8 | p[1]);
        v->u.lnk.inst = (uint16_t)(p[2] << 8 | p[3]);
        return 0;
    case LWM2M_MULTIPLE:
        return -1;
    }
    return -1;
}
