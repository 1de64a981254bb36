/* One download interface for every transport (HTTP now, CoAP next): the
 * package streams into a sink as it arrives and is never held whole. Results
 * are this layer's own; sim/ maps them to each model's result codes. */
#ifndef BCSIM_DOWNLOAD_H
#define BCSIM_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

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
};

struct dl_sink {
    /* The body starts; length is -1 when the server does not say. Non-zero refuses. */
    int (*begin)(void *ctx, int64_t length);
    /* The next bytes of the body. Non-zero refuses (and ends the download). */
    int (*data)(void *ctx, const uint8_t *p, size_t n);
};

/* Called exactly once per started download. */
typedef void (*dl_done_fn)(void *ctx, enum dl_error err, int detail);

/* The radio link the bytes cross: a downlink rate and a round-trip time,
 * nominal values that the clock scales (0 rate: unpaced). */
struct dl_link {
    uint32_t bytes_per_s;
    uint32_t rtt_ms;
};

const char *dl_strerror(enum dl_error err);

#endif
