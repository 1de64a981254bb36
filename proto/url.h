/* Download URLs as the modules take them (cards 1 and 2): at most 255 bytes,
 * scheme in either case, host name or address (IPv6 in brackets), optional
 * port 1..65535, and a file path. */
#ifndef BCSIM_URL_H
#define BCSIM_URL_H

#include <stdbool.h>
#include <stdint.h>

#define URL_MAX 255

enum url_scheme { URL_HTTP, URL_HTTPS, URL_COAP, URL_COAPS };
#define URL_SCHEMES 4 /* how many there are */

enum url_error {
    URL_OK = 0,
    URL_ETOOLONG = -1,
    URL_ESCHEME = -2, /* no "scheme://" or one nobody supports */
    URL_EHOST = -3,
    URL_EPORT = -4,
    URL_EPATH = -5,
};

struct url {
    enum url_scheme scheme;
    char host[URL_MAX + 1]; /* without brackets */
    uint16_t port;
    bool port_given;        /* the text named the port; else it is the scheme's default */
    char path[URL_MAX + 1]; /* from the first '/', query included */
};

/* Parses text; a missing port takes the scheme's default (80, 443, 5683, 5684). */
int url_parse(const char *text, struct url *u);
const char *url_scheme_name(enum url_scheme s);
const char *url_strerror(int err);

#endif
