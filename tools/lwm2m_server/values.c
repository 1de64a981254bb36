#include "tools/lwm2m_server/values.h"

#include "tools/lwm2m_server/tlv.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX 4096 /* printed characters of one value */

int lwsrv_path_parse(const char *text, struct lwsrv_path *p)
{
    memset(p, 0, sizeof *p);
    const char *s = text;
    if (*s != '/')
        return -1;
    while (*s == '/') {
        s++;
        if (*s < '0' || *s > '9' || p->depth == 4)
            return -1;
        unsigned long v = 0;
        int digits = 0;
        for (; *s >= '0' && *s <= '9'; s++, digits++)
            v = v * 10 + (unsigned long)(*s - '0');
        if (digits > 5 || v > 65535)
            return -1;
        p->id[p->depth++] = (uint16_t)v;
    }
    return *s ? -1 : 0;
}

void lwsrv_path_format(const struct lwsrv_path *p, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->depth && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "/%u", p->id[i]);
}

/* Appendix E: Object 1 (LwM2M Server), 3 (Device), 5 (Firmware Update). */
struct typed {
    uint16_t object, resource;
    enum lwsrv_type type;
};

static const struct typed types[] = {
    {1, 0, LWSRV_T_INTEGER},  {1, 1, LWSRV_T_INTEGER},  {1, 2, LWSRV_T_INTEGER},
    {1, 3, LWSRV_T_INTEGER},  {1, 5, LWSRV_T_INTEGER},  {1, 6, LWSRV_T_BOOLEAN},
    {1, 7, LWSRV_T_STRING},   {3, 0, LWSRV_T_STRING},   {3, 1, LWSRV_T_STRING},
    {3, 2, LWSRV_T_STRING},   {3, 3, LWSRV_T_STRING},   {3, 6, LWSRV_T_INTEGER},
    {3, 7, LWSRV_T_INTEGER},  {3, 8, LWSRV_T_INTEGER},  {3, 9, LWSRV_T_INTEGER},
    {3, 10, LWSRV_T_INTEGER}, {3, 11, LWSRV_T_INTEGER}, {3, 13, LWSRV_T_TIME},
    {3, 14, LWSRV_T_STRING},  {3, 15, LWSRV_T_STRING},  {3, 16, LWSRV_T_STRING},
    {3, 17, LWSRV_T_STRING},  {3, 18, LWSRV_T_STRING},  {3, 19, LWSRV_T_STRING},
    {3, 20, LWSRV_T_INTEGER}, {3, 21, LWSRV_T_INTEGER}, {5, 0, LWSRV_T_OPAQUE},
    {5, 1, LWSRV_T_STRING},   {5, 3, LWSRV_T_INTEGER},  {5, 4, LWSRV_T_BOOLEAN},
    {5, 5, LWSRV_T_INTEGER},  {5, 6, LWSRV_T_STRING},   {5, 7, LWSRV_T_STRING},
    {5, 8, LWSRV_T_INTEGER},  {5, 9, LWSRV_T_INTEGER},
};

enum lwsrv_type lwsrv_type_of(uint16_t object, uint16_t resource)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].object == object && types[i].resource == resource)
            return types[i].type;
    return LWSRV_T_UNKNOWN;
}

static const struct {
    int format;
    const char *name;
} formats[] = {
    {LWSRV_CF_TEXT, "text"}, {LWSRV_CF_LINK, "link"}, {LWSRV_CF_OPAQUE, "opaque"},
    {LWSRV_CF_TLV, "tlv"},   {LWSRV_CF_JSON, "json"},
};

const char *lwsrv_format_name(int format)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i].format == format)
            return formats[i].name;
    return NULL;
}

int lwsrv_format_parse(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return formats[i].format;
    return -1;
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629), 0 if none. */
static size_t utf8_length(const uint8_t *s, size_t left)
{
    uint8_t c = s[0];
    size_t n = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || n > left)
        return 0;
    uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80; /* no overlong forms */
    uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF; /* no surrogates, <= U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

void lwsrv_escape(const uint8_t *s, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < size; i++) {
        uint8_t c = s[i];
        size_t u = c >= 0x80 ? utf8_length(s + i, len - i) : 0;
        if (c == '\n' || c == '\r' || c == '\t' || c == '\\') {
            out[n++] = '\\';
            out[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\';
        } else if (u > 0) { /* text in UTF-8 stays text */
            memcpy(out + n, s + i, u);
            n += u;
            i += u - 1;
        } else if (c < ' ' || c >= 0x7f) {
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

static void hex(const uint8_t *s, size_t len, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < len && n + 3 <= size; i++)
        n += (size_t)snprintf(out + n, size - n, "%02x", s[i]);
}

static bool printable(const uint8_t *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < ' ' || s[i] == 0x7f)
            return false;
    return true;
}

/* One TLV value by the resource's type; an unknown one is text when every
 * byte prints, an integer when it has an integer's length, else hex. */
static void tlv_value(enum lwsrv_type type, const uint8_t *v, size_t len, char *out, size_t size)
{
    int64_t i;
    if (type == LWSRV_T_UNKNOWN)
        type = printable(v, len)                    ? LWSRV_T_STRING
               : lwsrv_tlv_get_int(v, len, &i) == 0 ? LWSRV_T_INTEGER
                                                    : LWSRV_T_OPAQUE;
    switch (type) {
    case LWSRV_T_STRING:
        lwsrv_escape(v, len, out, size);
        return;
    case LWSRV_T_INTEGER:
    case LWSRV_T_TIME:
        if (lwsrv_tlv_get_int(v, len, &i) == 0) {
            snprintf(out, size, "%" PRId64, i);
            return;
        }
        break;
    case LWSRV_T_BOOLEAN:
        if (len == 1 && v[0] <= 1) {
            snprintf(out, size, "%u", v[0]);
            return;
        }
        break;
    case LWSRV_T_FLOAT:
        if (len == 4 || len == 8) {
            uint64_t u = 0;
            for (size_t k = 0; k < len; k++)
                u = u << 8 | v[k];
            double d;
            if (len == 4) {
                uint32_t w = (uint32_t)u;
                float f;
                memcpy(&f, &w, sizeof f);
                d = f;
            } else {
                memcpy(&d, &u, sizeof d);
            }
            snprintf(out, size, "%.17g", d);
            return;
        }
        break;
    case LWSRV_T_OBJLNK:
        if (len == 4) {
            snprintf(out, size, "%u:%u", v[0] << 8 | v[1], v[2] << 8 | v[3]);
            return;
        }
        break;
    default:
        break;
    }
    hex(v, len, out, size); /* opaque, or a value of the wrong length */
}

struct emit {
    lwsrv_value_fn fn;
    void *arg;
    int count;
    char *buf; /* VALUE_MAX */
};

static void emit(struct emit *e, const struct lwsrv_path *p, const uint8_t *v, size_t len)
{
    char path[40];
    lwsrv_path_format(p, path, sizeof path);
    tlv_value(p->depth >= 3 ? lwsrv_type_of(p->id[0], p->id[2]) : LWSRV_T_UNKNOWN, v, len, e->buf,
              VALUE_MAX);
    e->fn(e->arg, path, e->buf);
    e->count++;
}

/* The TLVs of one level; `at` is the path they sit under (its depth tells
 * which kinds may appear). */
static int walk(struct emit *e, struct lwsrv_path at, const uint8_t *p, size_t left,
                const char **why)
{
    struct lwsrv_tlv t;
    int r;
    while ((r = lwsrv_tlv_next(&p, &left, &t)) == 1) {
        struct lwsrv_path child = at;
        child.id[child.depth++] = t.id;
        bool fits =
            (t.kind == LWSRV_TLV_INSTANCE && at.depth == 1) ||
            ((t.kind == LWSRV_TLV_RESOURCE || t.kind == LWSRV_TLV_MULTIPLE) && at.depth == 2) ||
            (t.kind == LWSRV_TLV_RESOURCE_INSTANCE && at.depth == 3);
        if (!fits) {
            *why = "a TLV of a kind that cannot sit there (instance, resource, resource instance)";
            return -1;
        }
        if (t.kind == LWSRV_TLV_INSTANCE || t.kind == LWSRV_TLV_MULTIPLE) {
            if (walk(e, child, t.value, t.len, why) != 0)
                return -1;
        } else {
            emit(e, &child, t.value, t.len);
        }
    }
    if (r < 0) {
        *why = "a TLV that runs past the end of the payload";
        return -1;
    }
    return 0;
}

/* Where the top level of a TLV answer to `base` sits: an object's answer
 * holds instances, an instance's resources, a resource's itself (or its
 * instances), a resource instance's itself. The top TLV decides between
 * the forms a client may use. */
static int tlv_values(struct emit *e, const struct lwsrv_path *base, const uint8_t *payload,
                      size_t len, const char **why)
{
    struct lwsrv_path at = *base;
    const uint8_t *p = payload;
    size_t left = len;
    struct lwsrv_tlv first;
    if (len == 0)
        return 0;
    if (lwsrv_tlv_next(&p, &left, &first) < 0) {
        *why = "a TLV that runs past the end of the payload";
        return -1;
    }
    int depth_for_kind[] = {1, 3, 2, 2}; /* where each kind sits */
    int want = depth_for_kind[first.kind];
    if (base->depth < want || base->depth > want + 1) {
        *why = "a TLV that does not fit the path asked";
        return -1;
    }
    if (base->depth == want + 1) {
        /* The answer names the last id of the path itself. */
        at.depth = want;
        if (first.id != base->id[want]) {
            *why = "a TLV naming another id than the path asked";
            return -1;
        }
    }
    return walk(e, at, payload, len, why);
}

int lwsrv_values(const struct lwsrv_path *base, int format, const uint8_t *payload, size_t len,
                 lwsrv_value_fn fn, void *arg, const char **why)
{
    char *buf = malloc(VALUE_MAX);
    if (!buf) {
        *why = "out of memory";
        return -1;
    }
    struct emit e = {fn, arg, 0, buf};
    char path[40];
    lwsrv_path_format(base, path, sizeof path);
    int r = 0;
    if (format == LWSRV_CF_TLV) {
        r = tlv_values(&e, base, payload, len, why);
    } else {
        if (format == LWSRV_CF_OPAQUE)
            hex(payload, len, buf, VALUE_MAX);
        else /* text, link, JSON, none: as text */
            lwsrv_escape(payload, len, buf, VALUE_MAX);
        fn(arg, path, buf);
        e.count = 1;
    }
    free(buf);
    return r < 0 ? -1 : e.count;
}
