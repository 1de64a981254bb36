#include "proto/download.h"

#include "proto/coap_client.h"
#include "proto/http_client.h"

#include <string.h>

/* The transport for each URL scheme; NULL: none (DL_ESCHEME). */
static const struct dl_backend *const backends[] = {
    [URL_HTTP] = &http_dl_backend,
    [URL_HTTPS] = NULL,
    [URL_COAP] = &coap_dl_backend,
    [URL_COAPS] = NULL,
};

static const struct dl_backend *backend_for(enum url_scheme s)
{
    if ((size_t)s >= sizeof backends / sizeof backends[0])
        return NULL;
    return backends[s];
}

void download_init(struct download *d, uv_loop_t *loop)
{
    memset(d, 0, sizeof *d);
    d->loop = loop;
    uv_timer_init(loop, &d->deferred);
    d->deferred.data = d;
}

bool download_running(const struct download *d)
{
    return d->transfer || d->pending;
}

static void deliver_pending(struct download *d)
{
    d->pending = false;
    uv_timer_stop(&d->deferred);
    d->done(d->done_ctx, d->pending_err, d->pending_detail);
}

static void on_deferred(uv_timer_t *t)
{
    deliver_pending(t->data);
}

/* A result found before download_start returned waits for the loop, so the
 * owner never sees its download end inside the call that started it. */
static void defer(struct download *d, enum dl_error err, int detail)
{
    d->pending = true;
    d->pending_err = err;
    d->pending_detail = detail;
    uv_timer_start(&d->deferred, on_deferred, 0, 0);
}

/* Every transfer's done() comes here first. The owner hears the result
 * before the transfer closes (an HTTP socket's close is the kernel's TCP
 * teardown): the transfer has stopped, and the download is no longer
 * running, so the owner may start the next one. */
static void on_transfer_done(void *ctx, enum dl_error err, int detail)
{
    struct download *d = ctx;
    const struct dl_backend *backend = d->backend;
    void *transfer = d->transfer;
    d->transfer = NULL;
    if (d->starting)
        defer(d, err, detail);
    else
        d->done(d->done_ctx, err, detail);
    backend->close(transfer); /* it frees itself once its handles close */
}

void download_start(struct download *d, const struct dl_request *req)
{
    if (download_running(d))
        download_abort(d);
    d->done = req->done;
    d->done_ctx = req->done_ctx;
    d->backend = backend_for(req->url->scheme);
    if (!d->backend) {
        defer(d, DL_ESCHEME, 0);
        return;
    }
    d->transfer = d->backend->create(d->loop);
    if (!d->transfer) {
        defer(d, DL_ENOMEM, 0);
        return;
    }
    struct dl_request r = *req;
    r.done = on_transfer_done;
    r.done_ctx = d;
    d->starting = true;
    d->backend->start(d->transfer, &r);
    d->starting = false;
}

void download_abort(struct download *d)
{
    if (d->pending)
        deliver_pending(d); /* it has ended already: the real reason stands */
    else if (d->transfer)
        d->backend->abort(d->transfer);
}

void download_close(struct download *d)
{
    download_abort(d);
    uv_close((uv_handle_t *)&d->deferred, NULL);
}

const char *dl_strerror(enum dl_error err)
{
    switch (err) {
    case DL_OK:
        return "ok";
    case DL_EDNS:
        return "host name does not resolve";
    case DL_ECONNECT:
        return "cannot connect";
    case DL_ERESET:
        return "connection reset before the end";
    case DL_ETIMEOUT:
        return "timed out";
    case DL_ESTATUS:
        return "server answered with an error status";
    case DL_ESHORT:
        return "body shorter than announced";
    case DL_ELONG:
        return "body longer than announced";
    case DL_EPROTO:
        return "malformed response";
    case DL_ESINK:
        return "download refused by its consumer";
    case DL_EABORT:
        return "aborted";
    case DL_ESCHEME:
        return "no transport for the URL's scheme";
    case DL_ENOMEM:
        return "out of memory";
    case DL_ECHANGED:
        return "resource changed during the transfer";
    case DL_EBLOCKS:
        return "blocks do not add up to one body";
    }
    return "unknown download error";
}
