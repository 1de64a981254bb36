#include "proto/http_client.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void finish(struct http_dl *h, enum dl_error err, int detail);
static void start_reading(struct http_dl *h);

void http_dl_init(struct http_dl *h, uv_loop_t *loop, const struct clk *clk)
{
    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->clk = clk;
    uv_timer_init(loop, &h->idle);
    uv_timer_init(loop, &h->pace);
    h->idle.data = h->pace.data = h;
}

bool http_dl_busy(const struct http_dl *h)
{
    return h->running || h->open_handles > 0;
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

static void on_tcp_closed(uv_handle_t *handle)
{
    struct http_dl *h = handle->data;
    h->open_handles--;
    h->tcp_open = false;
}

static void finish(struct http_dl *h, enum dl_error err, int detail)
{
    if (!h->running)
        return;
    h->running = false;
    uv_timer_stop(&h->idle);
    uv_timer_stop(&h->pace);
    if (h->tcp_open && !uv_is_closing((uv_handle_t *)&h->tcp))
        uv_close((uv_handle_t *)&h->tcp, on_tcp_closed);
    h->done(h->done_ctx, err, detail);
}

static void on_idle(uv_timer_t *t)
{
    finish(t->data, DL_ETIMEOUT, 0);
}

static void arm_idle(struct http_dl *h)
{
    uv_timer_start(&h->idle, on_idle, h->timeout_ms, 0);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct http_dl *h = handle->data;
    /* Paced, small reads give the pacing a fine grain; unpaced, big ones are fast. */
    bool paced = h->link.bytes_per_s && clk_scale(h->clk, 1000) > 0;
    *buf = uv_buf_init(h->buf, paced ? 1024 : (unsigned)sizeof h->buf);
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
            uint64_t scaled = clk_scale(h->clk, ms);
            if (scaled > 0) {
                uv_read_stop(s);
                h->reading = false;
                uv_timer_start(&h->pace, on_pace, scaled, 0);
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
    /* The answer takes a round trip to come back. */
    uv_timer_start(&h->pace, on_pace, clk_scale(h->clk, h->link.rtt_ms), 0);
}

static void send_request(uv_timer_t *t)
{
    struct http_dl *h = t->data;
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
    if (uv_write(&h->write, (uv_stream_t *)&h->tcp, &b, 1, on_written) != 0)
        finish(h, DL_ERESET, 0);
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
    /* The handshake costs a round trip before the request can go. */
    uv_timer_start(&h->pace, send_request, clk_scale(h->clk, h->link.rtt_ms), 0);
}

static void on_resolved(void *ctx, int status, const struct sockaddr *addr)
{
    struct http_dl *h = ctx;
    h->open_handles--; /* the lookup was holding the struct */
    if (!h->running)
        return;
    if (status) {
        finish(h, DL_EDNS, status);
        return;
    }
    uv_tcp_init(h->loop, &h->tcp);
    h->tcp.data = h;
    h->tcp_open = true;
    h->open_handles++;
    h->connect.data = h;
    arm_idle(h);
    if (uv_tcp_connect(&h->connect, &h->tcp, addr, on_connected) != 0)
        finish(h, DL_ECONNECT, 0);
}

int http_dl_start(struct http_dl *h, const struct resolver *res, const struct url *url,
                  const struct dl_link *link, uint32_t timeout_ms, const struct dl_sink *sink,
                  void *sink_ctx, dl_done_fn done, void *done_ctx)
{
    if (http_dl_busy(h))
        return -EBUSY;
    h->url = *url;
    h->link = *link;
    h->timeout_ms = timeout_ms;
    h->sink = sink;
    h->sink_ctx = sink_ctx;
    h->done = done;
    h->done_ctx = done_ctx;
    h->length = -1;
    h->received = 0;
    h->complete = h->reading = false;
    h->fail = h->fail_detail = 0;
    llhttp_settings_init(&h->settings);
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    llhttp_init(&h->parser, HTTP_RESPONSE, &h->settings);
    h->parser.data = h;
    h->running = true;
    h->open_handles++; /* released by on_resolved, which always comes */
    int err = resolve_start(res, h->loop, &h->resolve, url->host, url->port, on_resolved, h);
    if (err) {
        h->open_handles--;
        finish(h, DL_EDNS, err);
    }
    return 0;
}

void http_dl_abort(struct http_dl *h)
{
    finish(h, DL_EABORT, 0);
}

void http_dl_close(struct http_dl *h)
{
    http_dl_abort(h);
    uv_close((uv_handle_t *)&h->idle, NULL);
    uv_close((uv_handle_t *)&h->pace, NULL);
}
