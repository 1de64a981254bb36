/* A CoAP package server for testing downloaders: GET of the regular files
 * beneath one directory over CoAP/UDP, Block2 (RFC 7959) answered by our own
 * handler so that faults can shape it, and datagram faults that libcoap's
 * server cannot produce.
 *
 * libcoap's server API (a context, an endpoint, the unknown-resource
 * handler) answers the requests, in the libuv loop through coap_loop. Its
 * endpoint listens on a loopback port of its own; the public port is a
 * uv_udp socket of ours that relays every datagram to it and back through a
 * loopback socket per client, so that datagrams can be dropped, swallowed or
 * replaced on their way (a fault in the handler alone could not lose a
 * request). libcoap sees each relay socket as one client.
 *
 * The file is read a block at a time for each request, never whole. The
 * library prints nothing; requests and dropped datagrams come back as
 * coap_srv_record. */
#ifndef BCSIM_COAP_SERVER_H
#define BCSIM_COAP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define COAP_SRV_PATH_MAX  1024
#define COAP_SRV_FAULT_MAX 32
/* The block size when the client asks none: the largest power of two whose
 * datagram stays within the 576 bytes every IPv4 path must carry without
 * fragmenting (RFC 791): 512 of payload, at most 33 of CoAP header, token and
 * our options, 28 of UDP and IPv4 make 573. Leshan sends 512 too. */
#define COAP_SRV_BLOCK_DEFAULT 512
#define COAP_SRV_CLIENTS       256    /* relays (clients) at once; the idlest makes room */
#define COAP_SRV_IDLE_MS       300000 /* a client silent this long is forgotten */

enum coap_srv_fault_kind {
    COAP_SRV_CODE,    /* code=C.DD: that response code, no file */
    COAP_SRV_STALL,   /* stall=N: blocks from N on are not answered, nor anything after */
    COAP_SRV_DROP,    /* drop=N: every Nth datagram of a client, either way, is lost */
    COAP_SRV_BLOCK,   /* block=SIZE: blocks of SIZE whatever the client asked */
    COAP_SRV_ETAG,    /* etag=N: another ETag from block N on, for the rest of the client's time */
    COAP_SRV_GARBAGE, /* garbage=N: block N answered by a datagram that is not CoAP */
    COAP_SRV_LOSS,    /* loss=P: each datagram lost with probability P% */
};

struct coap_srv_fault {
    enum coap_srv_fault_kind kind;
    unsigned n; /* code (class * 100 + detail), block count or number, N, size, percent */
    char path[COAP_SRV_PATH_MAX]; /* the only path it applies to; "" for every path */
    char text[64];                /* its name and argument as given, for the log */
};

/* Parses "KIND=ARG[@/PATH]". Returns 0, or -1 with *why set to a sentence
 * (static storage) saying what is wrong. drop and loss act on datagrams,
 * which carry no path, and take no @/PATH. */
int coap_srv_fault_parse(const char *text, struct coap_srv_fault *f, const char **why);

enum coap_srv_event {
    COAP_SRV_REQUEST, /* a request reached the handler */
    COAP_SRV_DROPPED, /* drop or loss ate a datagram */
};

struct coap_srv_record {
    enum coap_srv_event event;
    const char *peer;    /* "127.0.0.1:40000", "[::1]:40000" */
    const char *method;  /* "GET", "PUT", ...; "in" or "out" for a dropped datagram */
    const char *path;    /* "/a/b", decoded; "-" for a dropped datagram */
    int code;            /* class * 100 + detail; 0: no CoAP answer (stall, garbage) */
    uint32_t block_num;  /* of the Block2 answered */
    unsigned block_size; /* 0: the answer carried no Block2 */
    size_t bytes;        /* a dropped datagram's length */
    const char *faults;  /* the faults applied, comma-separated, or "-" */
};

typedef void (*coap_srv_log_fn)(void *ctx, const struct coap_srv_record *r);

struct coap_srv_config {
    const char *root;                    /* the directory served */
    const struct sockaddr *addr;         /* the public port; port 0 picks a free one */
    const struct coap_srv_fault *faults; /* kept by the caller while the server runs */
    size_t nfaults;
    coap_srv_log_fn log; /* may be NULL */
    void *log_ctx;
    uint64_t seed; /* for loss */
    bool follow_symlinks;
};

/* Opaque: libcoap's types stay inside proto/. */
struct coap_srv;

/* Opens root, creates libcoap's context and endpoint and binds the public
 * port; *out is the server. Returns 0, or a negative libuv error code with
 * *what naming the step that failed ("directory", "memory", "coap" or
 * "bind"); after a failure *out is NULL and nothing is left open. */
int coap_srv_start(struct coap_srv **out, uv_loop_t *loop, const struct coap_srv_config *cfg,
                   const char **what);

/* From the next datagram on, these faults (kept by the caller) apply. */
void coap_srv_set_faults(struct coap_srv *s, const struct coap_srv_fault *faults, size_t n);

/* The public address actually bound. */
int coap_srv_address(const struct coap_srv *s, struct sockaddr_storage *ss);

/* Stops serving and forgets every client; closed (may be NULL) runs once
 * every handle has closed, libcoap's context and the server are freed. */
void coap_srv_close(struct coap_srv *s, void (*closed)(void *arg), void *arg);

#endif
