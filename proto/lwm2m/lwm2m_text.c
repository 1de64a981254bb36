#include "proto/lwm2m/lwm2m_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lwm2m_text_format(const struct lwm2m_value *v, char *out, size_t size)
{
    int n;
    switch (v->type) {
    case LWM2M_STRING:
        if (v->u.bytes.len >= size)
            return -1;
        if (v->u.bytes.len)
            memcpy(out, v->u.bytes.p, v->u.bytes.len);
        out[v->u.bytes.len] = '\0';
        return (int)v->u.bytes.len;
    case LWM2M_INTEGER:
    case LWM2M_TIME:
        n = snprintf(out, size, "%lld", (long long)v->u.i);
        break;
    case LWM2M_FLOAT:
        if (!isfinite(v->u.f))
            return -1;
        n = -1;
        for (int digits = 1; digits <= 17; digits++) {
            n = snprintf(out, size, "%.*g", digits, v->u.f);
            if (n < 0 || (size_t)n >= size || strtod(out, NULL) == v->u.f)
                break;
        }
        break;
    case LWM2M_BOOLEAN:
        n = snprintf(out, size, "%d", v->u.b ? 1 : 0);
        break;
    case LWM2M_OBJLNK:
        n = snprintf(out, size, "%u:%u", v->u.lnk.obj, v->u.lnk.inst);
        break;
    default:
        return -1;
    }
    return n < 0 || (size_t)n >= size ? -1 : n;
}

/* An optional '-' and 1-19 decimal digits within int64_t. */
static int parse_int(const uint8_t *p, size_t len, int64_t *out)
{
    bool neg = len > 0 && p[0] == '-';
    size_t k = neg ? 1 : 0;
    if (k == len)
        return -1;
    uint64_t u = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; k < len; k++) {
        if (p[k] < '0' || p[k] > '9')
            return -1;
        unsigned d = (unsigned)(p[k] - '0');
        if (u > (limit - d) / 10)
            return -1;
        u = u * 10 + d;
    }
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

/* Decimal notation only ([-]digits[.digits][e[+-]digits]): strtod alone
 * would take "inf", hexadecimal and leading blanks. */
static int parse_float(const uint8_t *p, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    for (size_t k = 0; k < len; k++) {
        char c = (char)p[k];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
            return -1;
    }
    if (p[0] == '+' || p[0] == '.' || p[0] == 'e' || p[0] == 'E')
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double f = strtod(buf, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(f))
        return -1;
    *out = f;
    return 0;
}

int lwm2m_text_parse(const uint8_t *p, size_t len, enum lwm2m_type type, struct lwm2m_value *v)
{
    v->type = type;
    switch (type) {
    case LWM2M_STRING:
        v->u.bytes.p = p;
        v->u.bytes.len = len;
        return 0;
    case LWM2M_INTEGER:
    case LWM2M_TIME:
        return parse_int(p, len, &v->u.i);
    case LWM2M_FLOAT:
        return parse_float(p, len, &v->u.f);
    case LWM2M_BOOLEAN:
        if (len != 1 || (p[0] != '0' && p[0] != '1'))
            return -1;
        v->u.b = p[0] == '1';
        return 0;
    case LWM2M_OBJLNK: {
        const uint8_t *colon = len ? memchr(p, ':', len) : NULL;
        int64_t a, b;
        if (!colon || parse_int(p, (size_t)(colon - p), &a) != 0 ||
            parse_int(colon + 1, len - (size_t)(colon - p) - 1, &b) != 0 || a < 0 || a > 0xFFFF ||
            b < 0 || b > 0xFFFF || p[0] == '-' || colon[1] == '-')
            return -1;
        v->u.lnk.obj = (uint16_t)a;
        v->u.lnk.inst = (uint16_t)b;
        return 0;
    }
    default:
        return -1;
    }
}
