/* Host name resolution for the module's downloads, with --resolve HOST:ADDR
 * overrides so the vendor's example URLs can point at a loopback server. */
#ifndef BCSIM_RESOLVE_H
#define BCSIM_RESOLVE_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#define RESOLVE_MAX      32
#define RESOLVE_HOST_MAX 256

struct resolver {
    struct {
        char host[RESOLVE_HOST_MAX];
        struct sockaddr_storage addr;
    } map[RESOLVE_MAX];
    int n;
};

/* Adds "HOST:ADDR" (ADDR an IPv4 or IPv6 literal). Returns 0 or -EINVAL/-ENOSPC
 * with a one-line reason in `why`. */
int resolve_add(struct resolver *r, const char *spec, char *why, size_t why_size);

typedef void (*resolve_cb)(void *ctx, int status, const struct sockaddr *addr);

struct resolve_req {
    uv_getaddrinfo_t req;
    resolve_cb cb;
    void *ctx;
    uint16_t port;
};

/* Resolves `host` (an override, an address literal, or through the system
 * resolver) and calls cb once with status 0 and the address with `port` set,
 * or a negative libuv error (UV_EAI_NONAME when the name does not exist).
 * Overrides and literals answer synchronously, before this returns. */
int resolve_start(const struct resolver *r, uv_loop_t *loop, struct resolve_req *req,
                  const char *host, uint16_t port, resolve_cb cb, void *ctx);

#endif
