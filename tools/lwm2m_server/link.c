#include "tools/lwm2m_server/link.h"

#include <stdbool.h>
#include <string.h>

struct cursor {
    const char *p, *end;
};

static bool is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A path of decimal segments under 65536: /1, /3/0; or the root alone. */
static bool object_path(const char *s, size_t n)
{
    if (n == 1 && s[0] == '/')
        return true;
    int segments = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '/' || i + 1 == n || !is_digit(s[i + 1]))
            return false;
        unsigned long v = 0;
        size_t digits = 0;
        for (i++; i < n && is_digit(s[i]); i++, digits++)
            v = v * 10 + (unsigned long)(s[i] - '0');
        if (digits > 5 || v > 65535)
            return false;
        segments++;
    }
    return segments >= 1 && segments <= 2;
}

/* Any path (an alternate one): slash-led, no controls, no <>. */
static bool plain_path(const char *s, size_t n)
{
    if (n == 0 || s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '<' || s[i] == '>' || s[i] == 0x7f)
            return false;
    return true;
}

/* One ;name[=value]; sets *lwm2m_root when it is rt="oma.lwm2m". */
static int param(struct cursor *c, bool *lwm2m_root, const char **why)
{
    const char *name = c->p;
    while (c->p < c->end && is_token_char(*c->p))
        c->p++;
    size_t name_len = (size_t)(c->p - name);
    if (name_len == 0) {
        *why = "a link parameter without a name";
        return -1;
    }
    if (c->p == c->end || *c->p != '=')
        return 0;
    c->p++;
    const char *value = c->p;
    size_t value_len;
    if (c->p < c->end && *c->p == '"') {
        c->p++;
        value = c->p;
        while (c->p < c->end && *c->p != '"') {
            if (*c->p == '\\' && c->p + 1 < c->end)
                c->p++;
            if ((unsigned char)*c->p < ' ') {
                *why = "a control character in a quoted link parameter";
                return -1;
            }
            c->p++;
        }
        if (c->p == c->end) {
            *why = "an unterminated quoted link parameter";
            return -1;
        }
        value_len = (size_t)(c->p - value);
        c->p++;
    } else {
        while (c->p < c->end && is_token_char(*c->p))
            c->p++;
        value_len = (size_t)(c->p - value);
        if (value_len == 0) {
            *why = "a link parameter with an empty value";
            return -1;
        }
    }
    if (name_len == 2 && memcmp(name, "rt", 2) == 0 && value_len == 9 &&
        memcmp(value, "oma.lwm2m", 9) == 0)
        *lwm2m_root = true;
    return 0;
}

int lwsrv_link_check(const char *text, size_t len, const char **why)
{
    struct cursor c = {text, text + len};
    int links = 0;
    if (len == 0) {
        *why = "an empty object list";
        return -1;
    }
    for (;;) {
        if (c.p == c.end || *c.p != '<') {
            *why = "a link that does not start with '<'";
            return -1;
        }
        const char *path = ++c.p;
        while (c.p < c.end && *c.p != '>')
            c.p++;
        if (c.p == c.end) {
            *why = "a link without its closing '>'";
            return -1;
        }
        size_t path_len = (size_t)(c.p - path);
        c.p++;
        bool lwm2m_root = false;
        while (c.p < c.end && *c.p == ';') {
            c.p++;
            if (param(&c, &lwm2m_root, why) != 0)
                return -1;
        }
        bool ok = lwm2m_root ? plain_path(path, path_len) : object_path(path, path_len);
        if (!ok) {
            *why = lwm2m_root ? "a malformed alternate path"
                              : "a link that is not </OBJECT> or </OBJECT/INSTANCE> (ids 0-65535)";
            return -1;
        }
        links++;
        if (c.p == c.end)
            return links;
        if (*c.p != ',') {
            *why = "links must be separated by ','";
            return -1;
        }
        c.p++;
    }
}
