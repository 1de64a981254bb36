/* One download interface for every transport (HTTP, CoAP): the
 * package streams into a sink as it arrives and is never held whole. A table
 * in download.c picks the transport by the URL's scheme, so a new one adds a
 * backend file and a row there. Results are this layer's own; sim/ maps them
 * to each model's result codes. */
#ifndef BCSIM_DOWNLOAD_H
#define BCSIM_DOWNLOAD_H

#include "proto/resolve.h"
#include "proto/url.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum dl_error {
    DL_OK = 0,
    DL_EDNS,     /* the host name does not resolve */
    DL_ECONNECT, /* refused or unreachable */
    DL_ERESET,   /* reset or closed before the body ended */
    DL_ETIMEOUT, /* nothing arrived for too long */
    DL_ESTATUS,  /* the server answered with an error status (detail: the status) */
    DL_ESHORT,   /* the body ended before the announced length */
    DL_ELONG,    /* the body went on past the announced length */
    DL_EPROTO,   /* not a well-formed response */
    DL_ESINK,    /* the consumer refused the data (detail: its code) */
    DL_EABORT,   /* cancelled by the owner, e.g. the network went away */
    DL_ESCHEME,  /* no transport for the URL's scheme */
    DL_ENOMEM,   /* no memory for the transfer */
    DL_ECHANGED, /* the resource changed during the transfer (CoAP: another ETag) */
    DL_EBLOCKS,  /* the blocks do not add up to one body (CoAP block-wise) */
};

struct dl_sink {
    /* The body starts; length is -1 when the server does not say. Non-zero refuses. */
    int (*begin)(void *ctx, int64_t length);
    /* The next bytes of the body. Non-zero refuses (and ends the download). */
    int (*data)(void *ctx, const uint8_t *p, size_t n);
};

/* Called exactly once per started download. */
typedef void (*dl_done_fn)(void *ctx, enum dl_error err, int detail);

/* The link the bytes cross, in real time: whoever models time (sim/ and its
 * --speed) scales nominal values before handing them here. A rate of 0 is
 * unpaced; an rtt of 0 costs no delay. */
struct dl_link {
    uint32_t bytes_per_s;
    uint32_t rtt_ms;
};

struct dl_request {
    const struct url *url;           /* copied: it need not outlive the call */
    const struct resolver *resolver; /* NULL: none; else it must outlive the download */
    struct dl_link link;
    uint32_t stall_ms;   /* nothing arriving for this long fails with DL_ETIMEOUT */
    uint16_t block_size; /* CoAP: the Block2 size to ask for (16-1024); 0: the transport's */
    const struct dl_sink *sink;
    void *sink_ctx;
    dl_done_fn done;
    void *done_ctx;
};

/* A transport. Each download gets a transfer of its own, which frees itself
 * once closed and its handles are gone: a new download never waits for the
 * last one to wind down. */
struct dl_backend {
    const char *name;
    /* A new transfer on loop, or NULL without memory. */
    void *(*create)(uv_loop_t *loop);
    /* Starts. req->done is called exactly once, possibly before this returns
     * (the front end defers that call to the loop). */
    void (*start)(void *transfer, const struct dl_request *req);
    /* Ends a running transfer: done(DL_EABORT) before this returns. */
    void (*abort)(void *transfer);
    /* No callback after this (a running transfer stops silently); the
     * transfer frees itself when its last handle is closed. */
    void (*close)(void *transfer);
};

/* What an owner (the module's FOTA) holds: at most one download at a time. */
struct download {
    uv_loop_t *loop;
    const struct dl_backend *backend; /* of the transfer below */
    void *transfer;                   /* the running transfer, or NULL */
    dl_done_fn done;
    void *done_ctx;
    uv_timer_t deferred; /* delivers a result that came before start returned */
    enum dl_error pending_err;
    int pending_detail;
    bool starting; /* inside download_start */
    bool pending;  /* a result waits for the deferred timer */
};

void download_init(struct download *d, uv_loop_t *loop);

/* Starts req. Completion, failures included (DL_ESCHEME for a scheme no
 * transport takes), and the sink's calls all come later from the loop, never
 * from inside this call. A download still running is aborted first (its
 * done(DL_EABORT) comes before this returns). */
void download_start(struct download *d, const struct dl_request *req);

/* Ends the running download: its done() is called before this returns, with
 * DL_EABORT, or with the result it already had waiting for the loop. */
void download_abort(struct download *d);

/* Started and done() not yet called. */
bool download_running(const struct download *d);

/* For the loop's shutdown: abort, and close the handles for good. */
void download_close(struct download *d);

const char *dl_strerror(enum dl_error err);

#endif
