#include "sim/at/at_fmt.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct sink {
    char *buf;
    size_t size, len; /* len counts what the whole text takes */
};

static void put(struct sink *s, const char *p, size_t n)
{
    if (s->len < s->size - 1) {
        size_t room = s->size - 1 - s->len;
        memcpy(s->buf + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

static void put_uint(struct sink *s, unsigned long long v, bool negative)
{
    char d[24];
    size_t i = sizeof d;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (negative)
        d[--i] = '-';
    put(s, d + i, sizeof d - i);
}

int at_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
    if (size == 0)
        return vsnprintf(buf, size, fmt, ap);
    va_list again; /* for vsnprintf, from the start, if a conversion is not ours */
    va_copy(again, ap);
    struct sink s = {buf, size, 0};
    for (const char *p = fmt; *p;) {
        const char *lit = p;
        while (*p && *p != '%')
            p++;
        put(&s, lit, (size_t)(p - lit));
        if (!*p)
            break;
        p++;
        long prec = -1;
        if (*p == '.') {
            p++;
            if (*p == '*') {
                prec = va_arg(ap, int);
                p++;
            } else {
                prec = 0;
                while (*p >= '0' && *p <= '9')
                    prec = prec * 10 + (*p++ - '0');
            }
            if (*p != 's')
                goto other;
        }
        switch (*p++) {
        case 'd': {
            int v = va_arg(ap, int);
            put_uint(&s, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
            break;
        }
        case 'u':
            put_uint(&s, va_arg(ap, unsigned), false);
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            put(&s, &c, 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = prec < 0 ? strlen(str) : strnlen(str, (size_t)prec);
            put(&s, str, n);
            break;
        }
        case '%':
            put(&s, "%", 1);
            break;
        default:
            goto other;
        }
    }
    va_end(again);
    buf[s.len < size ? s.len : size - 1] = '\0';
    return s.len > INT_MAX ? -1 : (int)s.len;
other : {
    int n = vsnprintf(buf, size, fmt, again);
    va_end(again);
    return n;
}
}
