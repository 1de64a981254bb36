#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int parse_literal(const char *s, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, s + 1, n - 2); /* [::1] as URLs write it */
        buf[n - 2] = '\0';
        s = buf;
    }
    if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return 0;
    }
    return -EINVAL;
}

int resolve_add(struct resolver *r, const char *spec, char *why, size_t why_size)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || colon[1] == '\0') {
        snprintf(why, why_size, "--resolve %s: expected HOST:ADDR", spec);
        return -EINVAL;
    }
    size_t hlen = (size_t)(colon - spec);
    if (hlen >= RESOLVE_HOST_MAX) {
        snprintf(why, why_size, "--resolve %s: host name too long", spec);
        return -EINVAL;
    }
    if (r->n == RESOLVE_MAX) {
        snprintf(why, why_size, "--resolve: at most %d overrides", RESOLVE_MAX);
        return -ENOSPC;
    }
    struct sockaddr_storage addr;
    if (parse_literal(colon + 1, &addr) != 0) {
        snprintf(why, why_size, "--resolve %s: '%s' is not an IPv4 or IPv6 address", spec,
                 colon + 1);
        return -EINVAL;
    }
    memcpy(r->map[r->n].host, spec, hlen);
    r->map[r->n].host[hlen] = '\0';
    r->map[r->n].addr = addr;
    r->n++;
    return 0;
}

static void set_port(struct sockaddr_storage *a, uint16_t port)
{
    if (a->ss_family == AF_INET)
        ((struct sockaddr_in *)a)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
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

int resolve_start(const struct resolver *r, uv_loop_t *loop, struct resolve_req *req,
                  const char *host, uint16_t port, resolve_cb cb, void *ctx)
{
    req->cb = cb;
    req->ctx = ctx;
    req->port = port;
    struct sockaddr_storage a;
    for (int i = 0; r && i < r->n; i++) {
        if (strcasecmp(r->map[i].host, host) == 0) {
            a = r->map[i].addr;
            set_port(&a, port);
            cb(ctx, 0, (struct sockaddr *)&a);
            return 0;
        }
    }
    if (parse_literal(host, &a) == 0) {
        set_port(&a, port);
        cb(ctx, 0, (struct sockaddr *)&a);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    req->req.data = req;
    return uv_getaddrinfo(loop, &req->req, on_resolved, host, NULL, &hints);
}
