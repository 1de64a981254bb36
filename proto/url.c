#include "proto/url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    enum url_scheme scheme;
    uint16_t port;
} schemes[] = {
    {"http", URL_HTTP, 80},
    {"https", URL_HTTPS, 443},
    {"coap", URL_COAP, 5683},
    {"coaps", URL_COAPS, 5684},
};

const char *url_scheme_name(enum url_scheme s)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (schemes[i].scheme == s)
            return schemes[i].name;
    return "?";
}

static bool host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

int url_parse(const char *text, struct url *u)
{
    memset(u, 0, sizeof *u);
    if (strlen(text) > URL_MAX)
        return URL_ETOOLONG;
    const char *sep = strstr(text, "://");
    if (!sep)
        return URL_ESCHEME;
    size_t slen = (size_t)(sep - text);
    size_t i;
    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strlen(schemes[i].name) == slen && strncasecmp(text, schemes[i].name, slen) == 0)
            break;
    if (i == sizeof schemes / sizeof schemes[0])
        return URL_ESCHEME;
    u->scheme = schemes[i].scheme;
    u->port = schemes[i].port;

    const char *h = sep + 3, *end;
    if (*h == '[') { /* an IPv6 literal */
        end = strchr(h, ']');
        if (!end || end == h + 1)
            return URL_EHOST;
        memcpy(u->host, h + 1, (size_t)(end - h - 1));
        struct in6_addr a6;
        if (inet_pton(AF_INET6, u->host, &a6) != 1)
            return URL_EHOST;
        end++;
    } else {
        end = h;
        while (host_char(*end))
            end++;
        if (end == h)
            return URL_EHOST;
        memcpy(u->host, h, (size_t)(end - h));
    }
    if (*end == ':') {
        const char *p = end + 1;
        unsigned long port = 0;
        while (isdigit((unsigned char)*p) && port <= 65535)
            port = port * 10 + (unsigned long)(*p++ - '0');
        if (p == end + 1 || port == 0 || port > 65535 || (*p && *p != '/'))
            return URL_EPORT;
        u->port = (uint16_t)port;
        u->port_given = true;
        end = p;
    }
    /* A path names the package: "/" alone names nothing. */
    if (*end != '/' || end[1] == '\0')
        return URL_EPATH;
    for (const char *p = end; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return URL_EPATH;
    strcpy(u->path, end);
    return URL_OK;
}

const char *url_strerror(int err)
{
    switch (err) {
    case URL_OK:
        return "ok";
    case URL_ETOOLONG:
        return "URL longer than 255 bytes";
    case URL_ESCHEME:
        return "URL scheme missing or unknown";
    case URL_EHOST:
        return "URL host malformed";
    case URL_EPORT:
        return "URL port not in 1..65535";
    case URL_EPATH:
        return "URL has no file path";
    }
    return "bad URL";
}
