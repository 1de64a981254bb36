#include "json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put(struct jw *w, const char *s, size_t n)
{
    if (w->len + n + 2 > w->size) { /* keep room for "}" and NUL */
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void putf(struct jw *w, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(w, tmp, (size_t)n);
}

static void put_escaped(struct jw *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(w, esc, 2);
        } else if (c == '\n') {
            put(w, "\\n", 2);
        } else if (c == '\r') {
            put(w, "\\r", 2);
        } else if (c < 0x20 || c >= 0x7f) {
            /* Bytes, not Unicode: the AT dialect is 8-bit. */
            putf(w, "\\u%04x", c);
        } else {
            put(w, (const char *)&s[i], 1);
        }
    }
    put(w, "\"", 1);
}

static void key(struct jw *w, const char *k)
{
    if (!w->first)
        put(w, ",", 1);
    w->first = false;
    put_escaped(w, k, strlen(k));
    put(w, ":", 1);
}

void jw_begin(struct jw *w, char *buf, size_t size)
{
    *w = (struct jw){.buf = buf, .size = size, .first = true};
    if (size > 0)
        buf[0] = '\0';
    put(w, "{", 1);
}

void jw_str(struct jw *w, const char *k, const char *value)
{
    jw_strn(w, k, value, strlen(value));
}

void jw_strn(struct jw *w, const char *k, const char *value, size_t n)
{
    key(w, k);
    put_escaped(w, value, n);
}

void jw_int(struct jw *w, const char *k, int64_t value)
{
    key(w, k);
    putf(w, "%" PRId64, value);
}

void jw_bool(struct jw *w, const char *k, bool value)
{
    key(w, k);
    put(w, value ? "true" : "false", value ? 4 : 5);
}

const char *jw_end(struct jw *w)
{
    /* put() leaves room for the closing brace once "{" fitted at all. */
    if (w->len + 2 <= w->size) {
        w->buf[w->len++] = '}';
        w->buf[w->len] = '\0';
    } else {
        w->overflow = true;
    }
    return w->buf;
}

bool jw_ok(const struct jw *w)
{
    return !w->overflow;
}
