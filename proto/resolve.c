#include "proto/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* An IPv4 or IPv6 literal, len bytes at s, optionally in brackets. */
static int parse_literal(const char *s, size_t n, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    char buf[INET6_ADDRSTRLEN + 2];
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') { /* [::1] as URLs write it */
        s++;
        n -= 2;
    }
    if (n >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return 0;
    }
    return -EINVAL;
}

/* 1-65535 in decimal digits, len bytes at s. */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

/* Splits "NAME", "NAME:PORT", "[V6]" or "[V6]:PORT" (n bytes at s) into the
 * name (brackets kept) and the port text after the colon, if any. Returns
 * -EINVAL for an unclosed bracket or bytes after it that are not ":PORT". */
static int split_port(const char *s, size_t n, size_t *name_len, const char **port,
                      size_t *port_len)
{
    const char *colon;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -EINVAL;
        *name_len = (size_t)(close + 1 - s);
        colon = *name_len < n ? close + 1 : NULL;
        if (colon && *colon != ':')
            return -EINVAL;
    } else {
        colon = memchr(s, ':', n);
        *name_len = colon ? (size_t)(colon - s) : n;
    }
    *port = colon ? colon + 1 : NULL;
    *port_len = colon ? n - (size_t)(colon + 1 - s) : 0;
    return 0;
}

static void set_port(struct sockaddr_storage *a, uint16_t port)
{
    if (a->ss_family == AF_INET)
        ((struct sockaddr_in *)a)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

#define FAIL(...) (snprintf(why, why_size, __VA_ARGS__), -EINVAL)

/* HOST[:PORT]=ADDR[:PORT], the '=' at eq. */
static int parse_mapping(const char *spec, const char *eq, char *host, uint16_t *from,
                         struct sockaddr_storage *addr, char *why, size_t why_size)
{
    const char *to = eq + 1, *port;
    size_t left = (size_t)(eq - spec), right = strlen(to), name, plen;
    if (split_port(spec, left, &name, &port, &plen) != 0 || name == 0)
        return FAIL("--resolve %s: expected HOST[:PORT]=ADDR[:PORT] before '='", spec);
    if (port && parse_port(port, plen, from) != 0)
        return FAIL("--resolve %s: port '%.*s' is not a number from 1 to 65535", spec, (int)plen,
                    port);
    const char *h = spec;
    if (h[0] == '[') { /* an IPv6 literal, kept as URLs keep it: unbracketed */
        struct sockaddr_storage v6;
        if (parse_literal(h, name, &v6) != 0 || v6.ss_family != AF_INET6)
            return FAIL("--resolve %s: '%.*s' is not an IPv6 address", spec, (int)name, h);
        h++;
        name -= 2;
    }
    if (name >= RESOLVE_HOST_MAX)
        return FAIL("--resolve %s: host name too long", spec);
    memcpy(host, h, name);
    host[name] = '\0';
    /* ADDR alone first: a bare IPv6 literal has colons but no port. */
    if (parse_literal(to, right, addr) == 0)
        return 0;
    uint16_t dest = 0;
    if (split_port(to, right, &name, &port, &plen) != 0 || !port ||
        parse_literal(to, name, addr) != 0)
        return FAIL("--resolve %s: '%s' is not ADDR or ADDR:PORT (an IPv4 or IPv6 address; "
                    "[IPv6]:PORT)",
                    spec, to);
    if (parse_port(port, plen, &dest) != 0)
        return FAIL("--resolve %s: port '%.*s' is not a number from 1 to 65535", spec, (int)plen,
                    port);
    set_port(addr, dest);
    return 0;
}

int resolve_add(struct resolver *r, const char *spec, char *why, size_t why_size)
{
    char host[RESOLVE_HOST_MAX];
    uint16_t from = 0;
    struct sockaddr_storage addr;
    const char *eq = strchr(spec, '=');
    if (eq) {
        int e = parse_mapping(spec, eq, host, &from, &addr, why, why_size);
        if (e)
            return e;
    } else { /* HOST:ADDR, split at the first colon (host names have none) */
        const char *colon = strchr(spec, ':');
        if (!colon || colon == spec || colon[1] == '\0')
            return FAIL("--resolve %s: expected HOST:ADDR or HOST[:PORT]=ADDR[:PORT]", spec);
        size_t hlen = (size_t)(colon - spec);
        if (hlen >= RESOLVE_HOST_MAX)
            return FAIL("--resolve %s: host name too long", spec);
        if (parse_literal(colon + 1, strlen(colon + 1), &addr) != 0)
            return FAIL("--resolve %s: '%s' is not an IPv4 or IPv6 address", spec, colon + 1);
        memcpy(host, spec, hlen);
        host[hlen] = '\0';
    }
    for (int i = 0; i < r->n; i++) {
        if (r->map[i].port != from || strcasecmp(r->map[i].host, host) != 0)
            continue;
        if (from)
            return FAIL("--resolve %s: %s port %u is already mapped", spec, host, from);
        return FAIL("--resolve %s: %s is already mapped", spec, host);
    }
    if (r->n == RESOLVE_MAX) {
        snprintf(why, why_size, "--resolve: at most %d overrides", RESOLVE_MAX);
        return -ENOSPC;
    }
    memcpy(r->map[r->n].host, host, sizeof host);
    r->map[r->n].port = from;
    r->map[r->n].addr = addr;
    r->n++;
    return 0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve_req *rr = req->data;
    if (status == 0 && res) {
        struct sockaddr_storage a = {0};
        memcpy(&a, res->ai_addr, res->ai_addrlen);
        set_port(&a, rr->port);
        uv_freeaddrinfo(res);
        rr->cb(rr->ctx, 0, (struct sockaddr *)&a);
        return;
    }
    uv_freeaddrinfo(res);
    rr->cb(rr->ctx, status ? status : UV_EAI_NONAME, NULL);
}

static uint16_t port_of(const struct sockaddr_storage *a)
{
    return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
                                         : ((const struct sockaddr_in6 *)a)->sin6_port);
}

/* The override for host on port: one for that port wins over one for every port. */
static int find(const struct resolver *r, const char *host, uint16_t port)
{
    int any = -1;
    for (int i = 0; r && i < r->n; i++) {
        if (strcasecmp(r->map[i].host, host) != 0)
            continue;
        if (r->map[i].port == port)
            return i;
        if (r->map[i].port == 0)
            any = i;
    }
    return any;
}

int resolve_start(const struct resolver *r, uv_loop_t *loop, struct resolve_req *req,
                  const char *host, uint16_t port, resolve_cb cb, void *ctx)
{
    req->cb = cb;
    req->ctx = ctx;
    req->port = port;
    struct sockaddr_storage a;
    bool literal = parse_literal(host, strlen(host), &a) == 0;
    if (r && r->names_fail && !literal) { /* a DNS failure replayed: an unknown name */
        cb(ctx, UV_EAI_NONAME, NULL);
        return 0;
    }
    int i = find(r, host, port);
    if (i >= 0) {
        a = r->map[i].addr;
        if (port_of(&a) == 0)
            set_port(&a, port);
        cb(ctx, 0, (struct sockaddr *)&a);
        return 0;
    }
    if (literal) {
        set_port(&a, port);
        cb(ctx, 0, (struct sockaddr *)&a);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    req->req.data = req;
    return uv_getaddrinfo(loop, &req->req, on_resolved, host, NULL, &hints);
}
