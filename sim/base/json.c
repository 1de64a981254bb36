#include "sim/base/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Bytes left for fields: the closing brace and the NUL are always kept. */
static size_t room(const struct jw *w)
{
    return w->size - w->len - 2;
}

static void put(struct jw *w, const char *s, size_t n)
{
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* The escaped form of one byte; returns its length. */
static size_t escape(unsigned char c, char out[8])
{
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c == '\n' || c == '\r') {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : 'r';
        return 2;
    }
    if (c < 0x20 || c >= 0x7f) {
        snprintf(out, 8, "\\u%04x", c);
        return 6;
    }
    out[0] = (char)c;
    return 1;
}

static size_t quoted_len(const char *s, size_t n)
{
    char tmp[8];
    size_t len = 2;
    for (size_t i = 0; i < n; i++)
        len += escape((unsigned char)s[i], tmp);
    return len;
}

/* Writes the quoted string, cut (and marked) after the bytes that fit in
 * `limit` bytes of output if it is longer. */
static void put_quoted(struct jw *w, const char *s, size_t n, size_t limit)
{
    bool cut = quoted_len(s, n) > limit;
    size_t budget = limit - 2 - (cut ? strlen(JW_CUT) : 0);
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        size_t e = escape((unsigned char)s[i], esc);
        if (e > budget)
            break;
        put(w, esc, e);
        budget -= e;
    }
    if (cut)
        put(w, JW_CUT, strlen(JW_CUT));
    put(w, "\"", 1);
}

/* Writes `,"key":` if it and `value_min` bytes of value fit; else the object
 * ends here (so no later, smaller field lands after a missing one). */
static bool field(struct jw *w, const char *k, size_t value_min)
{
    size_t klen = quoted_len(k, strlen(k));
    size_t need = (w->first ? 0 : 1) + klen + 1 + value_min;
    if (w->closed || w->overflow || need > room(w)) {
        w->overflow = true;
        return false;
    }
    if (!w->first)
        put(w, ",", 1);
    w->first = false;
    put_quoted(w, k, strlen(k), klen);
    put(w, ":", 1);
    return true;
}

void jw_begin(struct jw *w, char *buf, size_t size)
{
    *w = (struct jw){.buf = buf, .size = size, .first = true};
    if (size > 0)
        buf[0] = '\0';
    if (size < 3) {
        w->overflow = true;
        return;
    }
    put(w, "{", 1);
}

void jw_str(struct jw *w, const char *k, const char *value)
{
    jw_strn(w, k, value, strlen(value));
}

void jw_strn(struct jw *w, const char *k, const char *value, size_t n)
{
    size_t full = quoted_len(value, n), least = 2 + strlen(JW_CUT);
    if (!field(w, k, full < least ? full : least))
        return;
    size_t limit = room(w);
    if (full > limit)
        w->overflow = true;
    put_quoted(w, value, n, full < limit ? full : limit);
}

static void put_raw(struct jw *w, const char *k, const char *text)
{
    size_t n = strlen(text);
    if (field(w, k, n))
        put(w, text, n);
}

void jw_int(struct jw *w, const char *k, int64_t value)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%" PRId64, value);
    put_raw(w, k, tmp);
}

void jw_bool(struct jw *w, const char *k, bool value)
{
    put_raw(w, k, value ? "true" : "false");
}

const char *jw_end(struct jw *w)
{
    if (w->size >= 3 && !w->closed) {
        w->buf[w->len++] = '}'; /* room() always kept this byte */
        w->buf[w->len] = '\0';
    }
    w->closed = true;
    return w->size > 0 ? w->buf : "";
}

bool jw_ok(const struct jw *w)
{
    return !w->overflow;
}
