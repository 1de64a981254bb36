/* Host name resolution for the module's downloads, with --resolve overrides so
 * the vendor's example URLs can point at a loopback server:
 *   HOST:ADDR                 HOST, any port, to ADDR on the URL's port
 *   HOST[:PORT]=ADDR[:PORT]   HOST (on PORT only, if given) to ADDR (on PORT,
 *                             if given, else the URL's port)
 * ADDR is an IPv4 or IPv6 literal; an IPv6 one followed by a port, or a HOST
 * that is an IPv6 literal, is written in brackets: [::1]:8080. */
#ifndef BCSIM_RESOLVE_H
#define BCSIM_RESOLVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define RESOLVE_MAX      32
#define RESOLVE_HOST_MAX 256

struct resolver {
    struct {
        char host[RESOLVE_HOST_MAX];
        uint16_t port;                /* the URL port this applies to; 0: every port */
        struct sockaddr_storage addr; /* its port: where to connect; 0: the URL's */
    } map[RESOLVE_MAX];
    int n;
    bool names_fail; /* every name (override or DNS) fails as unknown; literals still work */
};

/* Adds one override in either form above. Returns 0, or -EINVAL (bad syntax,
 * a port outside 1-65535, HOST[:PORT] already mapped) or -ENOSPC, with a
 * one-line reason in `why`. */
int resolve_add(struct resolver *r, const char *spec, char *why, size_t why_size);

typedef void (*resolve_cb)(void *ctx, int status, const struct sockaddr *addr);

struct resolve_req {
    uv_getaddrinfo_t req;
    resolve_cb cb;
    void *ctx;
    uint16_t port;
};

/* Resolves `host` for a connection to `port` (an override for HOST:PORT, else
 * one for HOST, else an address literal, else the system resolver) and calls
 * cb once with status 0 and the address to connect to, port set, or a
 * negative libuv error (UV_EAI_NONAME when the name does not exist).
 * Overrides and literals answer synchronously, before this returns. */
int resolve_start(const struct resolver *r, uv_loop_t *loop, struct resolve_req *req,
                  const char *host, uint16_t port, resolve_cb cb, void *ctx);

#endif
