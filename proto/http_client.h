/* An HTTP/1.1 GET over libuv TCP, parsed with llhttp: Content-Length,
 * chunked and close-delimited bodies, status and headers split across reads,
 * resets, stalls, bodies shorter or longer than announced. The body goes to a
 * dl_sink as it arrives, paced by the link model. The sink's begin() gets the
 * announced length saturated at INT64_MAX (llhttp takes up to 2^64-1). */
#ifndef BCSIM_HTTP_CLIENT_H
#define BCSIM_HTTP_CLIENT_H

#include "sim/base/clock.h"
#include "proto/resolve.h"
#include "proto/download.h"
#include "proto/url.h"

#include <llhttp.h>
#include <stdbool.h>
#include <uv.h>

struct http_dl {
    uv_loop_t *loop;
    const struct clk *clk;
    struct url url;
    struct dl_link link;
    uint32_t timeout_ms;
    const struct dl_sink *sink;
    void *sink_ctx;
    dl_done_fn done;
    void *done_ctx;

    struct resolve_req resolve;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_timer_t idle, pace;
    llhttp_t parser;
    llhttp_settings_t settings;
    char request[URL_MAX * 2 + 128];
    char buf[16384];

    int64_t length;    /* announced (INT64_MAX: that or more), or -1 */
    uint64_t received; /* body bytes so far */
    int open_handles;  /* handles still to be closed */
    bool running;      /* started and not yet done */
    bool complete;     /* the response's body ended */
    bool reading;
    bool tcp_open; /* the socket handle exists and is not closed yet */
    int fail;      /* an error found inside a parser callback */
    int fail_detail;
};

void http_dl_init(struct http_dl *h, uv_loop_t *loop, const struct clk *clk);

/* Starts GET url. done() is called exactly once, possibly before this
 * returns (a name that does not resolve). Returns 0, or -EBUSY while a
 * previous download is still closing. */
int http_dl_start(struct http_dl *h, const struct resolver *res, const struct url *url,
                  const struct dl_link *link, uint32_t timeout_ms, const struct dl_sink *sink,
                  void *sink_ctx, dl_done_fn done, void *done_ctx);

/* Ends a running download with DL_EABORT. */
void http_dl_abort(struct http_dl *h);

/* True until every handle of the last download is closed. */
bool http_dl_busy(const struct http_dl *h);

/* For the loop's shutdown: abort, and close the timers for good. */
void http_dl_close(struct http_dl *h);

#endif
