#include "proto/http_client.h"

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unpaced, a read takes what the socket holds: at 16 KiB a 600 KiB file from
 * nginx took 38 reads, each with its DOWNLOADING URC and event; at 128 KiB it
 * takes 6 to 8, and the download a third less time (BENCHMARKS.md). */
#define READ_MAX (128 * 1024)

/* One GET: created for it, freed once closed and its handles are gone. */
struct http_dl {
    uv_loop_t *loop;
    struct url url;
    struct dl_link link;
    uint32_t stall_ms;
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
    char *buf; /* READ_MAX bytes, not zeroed: filled by the socket */

    int64_t length;    /* announced (INT64_MAX: that or more), or -1 */
    uint64_t received; /* body bytes so far */
    int refs;          /* handles and the lookup still pointing here */
    bool running;      /* started and not yet done */
    bool complete;     /* the response's body ended */
    bool reading;
    bool tcp_open; /* the socket handle exists and is not closed yet */
    int fail;      /* an error found inside a parser callback */
    int fail_detail;
};

static void finish(struct http_dl *h, enum dl_error err, int detail);
static void start_reading(struct http_dl *h);

/* The timers live until close, so the last reference goes only after it. */
static void unref(struct http_dl *h)
{
    if (--h->refs == 0) {
        free(h->buf);
        free(h);
    }
}

static void on_handle_closed(uv_handle_t *handle)
{
    unref(handle->data);
}

static void *http_create(uv_loop_t *loop)
{
    struct http_dl *h = calloc(1, sizeof *h);
    char *buf = malloc(READ_MAX);
    if (!h || !buf) {
        free(h);
        free(buf);
        return NULL;
    }
    h->buf = buf;
    h->loop = loop;
    uv_timer_init(loop, &h->idle);
    uv_timer_init(loop, &h->pace);
    h->idle.data = h->pace.data = h;
    h->refs = 2;
    return h;
}

/* ---- Parser callbacks -------------------------------------------------------- */

static int on_headers_complete(llhttp_t *p)
{
    struct http_dl *h = p->data;
    if (p->status_code != 200) {
        h->fail = DL_ESTATUS;
        h->fail_detail = p->status_code;
        return -1;
    }
    /* llhttp's length is unsigned: 2^63 and more would turn negative as a
     * signed one. Saturate, so a sink sees it as larger than any room. */
    h->length = -1;
    if (p->flags & F_CONTENT_LENGTH)
        h->length = p->content_length > INT64_MAX ? INT64_MAX : (int64_t)p->content_length;
    int r = h->sink->begin(h->sink_ctx, h->length);
    if (r) {
        h->fail = DL_ESINK;
        h->fail_detail = r;
        return -1;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct http_dl *h = p->data;
    int r = h->sink->data(h->sink_ctx, (const uint8_t *)at, n);
    if (r) {
        h->fail = DL_ESINK;
        h->fail_detail = r;
        return -1;
    }
    h->received += n;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct http_dl *h = p->data;
    h->complete = true;
    return HPE_PAUSED; /* stop here: whatever follows is not this body */
}

/* ---- Connection ---------------------------------------------------------------- */

/* Stops everything in flight; false if it had stopped already. The socket
 * stays open, unread, until http_close: closing it costs the kernel's TCP
 * teardown, which the result need not wait for. */
static bool stop(struct http_dl *h)
{
    if (!h->running)
        return false;
    h->running = false;
    uv_timer_stop(&h->idle);
    uv_timer_stop(&h->pace);
    if (h->tcp_open && !uv_is_closing((uv_handle_t *)&h->tcp))
        uv_read_stop((uv_stream_t *)&h->tcp);
    return true;
}

static void finish(struct http_dl *h, enum dl_error err, int detail)
{
    if (stop(h))
        h->done(h->done_ctx, err, detail); /* last: it may close h */
}

static void on_idle(uv_timer_t *t)
{
    finish(t->data, DL_ETIMEOUT, 0);
}

static void arm_idle(struct http_dl *h)
{
    uv_timer_start(&h->idle, on_idle, h->stall_ms, 0);
}

/* No link delay of any kind: --speed fast, or --downlink 0 with --rtt 0. */
static bool unpaced(const struct http_dl *h)
{
    return h->link.bytes_per_s == 0 && h->link.rtt_ms == 0;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct http_dl *h = handle->data;
    /* Paced, small reads give the pacing a fine grain; unpaced, big ones are fast. */
    *buf = uv_buf_init(h->buf, h->link.bytes_per_s ? 1024 : READ_MAX);
}

static void on_pace(uv_timer_t *t)
{
    start_reading(t->data);
}

static void parse(struct http_dl *h, const char *data, size_t n)
{
    if (h->complete) {
        finish(h, DL_ELONG, 0); /* bytes after the announced end */
        return;
    }
    llhttp_errno_t e = llhttp_execute(&h->parser, data, n);
    if (e == HPE_PAUSED) {
        const char *stop = llhttp_get_error_pos(&h->parser);
        if (stop && stop < data + n)
            finish(h, DL_ELONG, 0);
        return; /* complete: wait for the server to close */
    }
    if (e != HPE_OK)
        finish(h, h->fail ? (enum dl_error)h->fail : DL_EPROTO, h->fail_detail);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct http_dl *h = s->data;
    if (!h->running)
        return;
    if (nread > 0) {
        arm_idle(h);
        parse(h, buf->base, (size_t)nread);
        if (h->running && h->link.bytes_per_s) {
            uint64_t ms = (uint64_t)nread * 1000 / h->link.bytes_per_s;
            if (ms > 0) {
                uv_read_stop(s);
                h->reading = false;
                uv_timer_start(&h->pace, on_pace, ms, 0);
            }
        }
        return;
    }
    if (nread == 0)
        return;
    if (h->complete) {
        finish(h, DL_OK, 0); /* the server closed after the body, as asked */
        return;
    }
    if (nread == UV_EOF) {
        /* A close-delimited body ends here; anything else ended early. */
        llhttp_errno_t e = llhttp_finish(&h->parser);
        /* on_message_complete pauses the parser, at the end of input too. */
        if ((e == HPE_OK || e == HPE_PAUSED) && h->complete)
            finish(h, DL_OK, 0);
        else if (h->length >= 0 || h->received > 0 || (h->parser.flags & F_CHUNKED))
            finish(h, DL_ESHORT, 0);
        else
            finish(h, DL_ERESET, 0);
        return;
    }
    finish(h, DL_ERESET, (int)nread);
}

static void start_reading(struct http_dl *h)
{
    if (!h->running || h->reading)
        return;
    h->reading = true;
    arm_idle(h);
    if (uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read) != 0)
        finish(h, DL_ERESET, 0);
}

static void on_written(uv_write_t *w, int status)
{
    struct http_dl *h = w->data;
    if (status == UV_ECANCELED || !h->running)
        return;
    if (status) {
        finish(h, DL_ERESET, status);
        return;
    }
    if (unpaced(h))
        return; /* reading since the request went */
    /* The answer takes a round trip to come back. */
    uv_timer_start(&h->pace, on_pace, h->link.rtt_ms, 0);
}

static void send_request(struct http_dl *h)
{
    const char *open = strchr(h->url.host, ':') ? "[" : "", *close = *open ? "]" : "";
    char port[8] = "";
    if (h->url.port != 80)
        snprintf(port, sizeof port, ":%u", h->url.port);
    int n = snprintf(h->request, sizeof h->request,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: bcsim\r\n"
                     "Connection: close\r\n\r\n",
                     h->url.path, open, h->url.host, close, port);
    uv_buf_t b = uv_buf_init(h->request, (unsigned)n);
    h->write.data = h;
    if (uv_write(&h->write, (uv_stream_t *)&h->tcp, &b, 1, on_written) != 0) {
        finish(h, DL_ERESET, 0);
        return;
    }
    /* No round trip to wait for: the answer is read as soon as it comes,
     * not after the loop has reported the write done. */
    if (unpaced(h))
        start_reading(h);
}

static void on_handshake_done(uv_timer_t *t)
{
    send_request(t->data);
}

static void on_connected(uv_connect_t *c, int status)
{
    struct http_dl *h = c->data;
    if (status == UV_ECANCELED || !h->running)
        return;
    if (status) {
        finish(h, DL_ECONNECT, status);
        return;
    }
    arm_idle(h);
    if (unpaced(h)) {
        send_request(h);
        return;
    }
    /* The handshake costs a round trip before the request can go. */
    uv_timer_start(&h->pace, on_handshake_done, h->link.rtt_ms, 0);
}

static void on_resolved(void *ctx, int status, const struct sockaddr *addr)
{
    struct http_dl *h = ctx;
    bool running = h->running;
    unref(h); /* the lookup's hold; while running, the timers hold it too */
    if (!running)
        return;
    if (status) {
        finish(h, DL_EDNS, status);
        return;
    }
    uv_tcp_init(h->loop, &h->tcp);
    h->tcp.data = h;
    h->tcp_open = true;
    h->refs++;
    h->connect.data = h;
    arm_idle(h);
    if (uv_tcp_connect(&h->connect, &h->tcp, addr, on_connected) != 0)
        finish(h, DL_ECONNECT, 0);
}

static void http_start(void *transfer, const struct dl_request *req)
{
    struct http_dl *h = transfer;
    h->url = *req->url;
    h->link = req->link;
    h->stall_ms = req->stall_ms;
    h->sink = req->sink;
    h->sink_ctx = req->sink_ctx;
    h->done = req->done;
    h->done_ctx = req->done_ctx;
    h->length = -1;
    llhttp_settings_init(&h->settings);
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    llhttp_init(&h->parser, HTTP_RESPONSE, &h->settings);
    h->parser.data = h;
    h->running = true;
    h->refs++; /* released by on_resolved, which always comes */
    int err = resolve_start(req->resolver, h->loop, &h->resolve, h->url.host, h->url.port,
                            on_resolved, h);
    if (err) {
        h->refs--;
        finish(h, DL_EDNS, err);
    }
}

static void http_abort(void *transfer)
{
    finish(transfer, DL_EABORT, 0);
}

static void http_close(void *transfer)
{
    struct http_dl *h = transfer;
    stop(h);
    if (h->tcp_open && !uv_is_closing((uv_handle_t *)&h->tcp))
        uv_close((uv_handle_t *)&h->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&h->idle, on_handle_closed);
    uv_close((uv_handle_t *)&h->pace, on_handle_closed);
}

const struct dl_backend http_dl_backend = {
    .name = "http",
    .create = http_create,
    .start = http_start,
    .abort = http_abort,
    .close = http_close,
};
