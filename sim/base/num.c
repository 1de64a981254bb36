#include "sim/base/num.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int num_parse(const char *s, int64_t min, int64_t max, int64_t *out)
{
    bool neg = false;
    if (min < 0 && (*s == '-' || *s == '+'))
        neg = *s++ == '-';
    if (!is_digit(*s))
        return -EINVAL;
    uint64_t mag = 0;
    bool huge = false;
    for (; *s; s++) {
        if (!is_digit(*s))
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (mag > (UINT64_MAX - d) / 10)
            huge = true; /* keep going: trailing junk is still -EINVAL */
        else
            mag = mag * 10 + d;
    }
    if (huge || mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return -ERANGE;
    int64_t v = neg && mag > 0 ? -(int64_t)(mag - 1) - 1 : (int64_t)mag; /* INT64_MIN too */
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int num_parse_decimal(const char *s, double *out)
{
    const char *p = s;
    if (!is_digit(*p))
        return -EINVAL;
    while (is_digit(*p))
        p++;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return -EINVAL;
        while (is_digit(*p))
            p++;
    }
    if (*p != '\0')
        return -EINVAL;
    *out = strtod(s, NULL); /* the syntax is checked: strtod only converts */
    return 0;
}

int num_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
