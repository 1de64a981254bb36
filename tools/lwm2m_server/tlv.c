#include "tools/lwm2m_server/tlv.h"

#include <string.h>

int lwsrv_tlv_next(const uint8_t **p, size_t *left, struct lwsrv_tlv *t)
{
    const uint8_t *b = *p;
    size_t n = *left;
    if (n == 0)
        return 0;
    uint8_t type = b[0];
    size_t id_len = (type & 0x20) ? 2 : 1;
    size_t len_len = (type >> 3) & 3;
    size_t head = 1 + id_len + len_len;
    if (n < head)
        return -1;
    t->kind = (enum lwsrv_tlv_kind)(type >> 6);
    t->id = id_len == 2 ? (uint16_t)(b[1] << 8 | b[2]) : b[1];
    size_t len = len_len ? 0 : (size_t)(type & 7);
    for (size_t i = 0; i < len_len; i++)
        len = len << 8 | b[1 + id_len + i];
    if (len > n - head)
        return -1;
    t->value = b + head;
    t->len = len;
    *p = b + head + len;
    *left = n - head - len;
    return 1;
}

size_t lwsrv_tlv_put(uint8_t *out, size_t size, uint16_t id, const uint8_t *value, size_t len)
{
    if (len > 0xFFFFFF)
        return 0;
    uint8_t type = 0xC0; /* a Resource with its value */
    size_t id_len = id > 0xFF ? 2 : 1;
    size_t len_len = len < 8 ? 0 : len <= 0xFF ? 1 : len <= 0xFFFF ? 2 : 3;
    if (id_len == 2)
        type |= 0x20;
    type |= (uint8_t)(len_len << 3);
    if (len_len == 0)
        type |= (uint8_t)len;
    size_t total = 1 + id_len + len_len + len;
    if (total > size)
        return 0;
    size_t o = 0;
    out[o++] = type;
    if (id_len == 2)
        out[o++] = (uint8_t)(id >> 8);
    out[o++] = (uint8_t)id;
    for (size_t i = len_len; i > 0; i--)
        out[o++] = (uint8_t)(len >> (8 * (i - 1)));
    if (len)
        memcpy(out + o, value, len);
    return total;
}

size_t lwsrv_tlv_int(int64_t v, uint8_t buf[8])
{
    size_t len = v >= INT8_MIN && v <= INT8_MAX     ? 1
                 : v >= INT16_MIN && v <= INT16_MAX ? 2
                 : v >= INT32_MIN && v <= INT32_MAX ? 4
                                                    : 8;
    uint64_t u = (uint64_t)v;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(u >> (8 * (len - 1 - i)));
    return len;
}

int lwsrv_tlv_get_int(const uint8_t *value, size_t len, int64_t *v)
{
    if (len != 1 && len != 2 && len != 4 && len != 8)
        return -1;
    uint64_t u = value[0] & 0x80 ? UINT64_MAX : 0; /* sign extension */
    for (size_t i = 0; i < len; i++)
        u = u << 8 | value[i];
    *v = (int64_t)u;
    return 0;
}
