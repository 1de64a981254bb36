#include "proto/coap_loop.h"

#include <string.h>

/* The context coap_io_process is working on, for the log handler. */
static struct coap_uv *processing;

static void on_log(coap_log_t level, const char *message)
{
    (void)level;
    if (processing && strncmp(message, "discard malformed PDU", 21) == 0)
        processing->malformed++;
}

void coap_uv_library_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    coap_startup();
    coap_set_log_handler(on_log);
    coap_set_log_level(LOG_WARNING); /* the malformed-PDU message is a warning */
}

/* No timer of our own: libcoap keeps its next deadline (retransmissions,
 * block transfers going stale) in a timerfd inside its epoll fd, so the poll
 * wakes for those too, and coap_io_process re-arms it each time. */
void coap_uv_process(struct coap_uv *c)
{
    processing = c;
    coap_io_process(c->ctx, COAP_IO_NO_WAIT);
    processing = NULL;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    coap_uv_process(p->data);
}

int coap_uv_start(struct coap_uv *c, uv_loop_t *loop, coap_context_t *ctx)
{
    memset(c, 0, sizeof *c);
    coap_uv_library_init();
    c->ctx = ctx;
    int fd = coap_context_get_coap_fd(ctx);
    if (fd < 0)
        return UV_ENOTSUP;
    int err = uv_poll_init(loop, &c->poll, fd);
    if (err)
        return err;
    c->poll.data = c;
    c->open_handles = 1;
    uv_poll_start(&c->poll, UV_READABLE, on_poll);
    return 0;
}

void coap_uv_hold(struct coap_uv *c, bool held)
{
    if (c->held == held || uv_is_closing((uv_handle_t *)&c->poll))
        return;
    c->held = held;
    if (held) {
        uv_poll_stop(&c->poll);
    } else {
        uv_poll_start(&c->poll, UV_READABLE, on_poll);
        coap_uv_process(c);
    }
}

static void on_closed(uv_handle_t *h)
{
    struct coap_uv *c = h->data;
    if (--c->open_handles == 0 && c->closed)
        c->closed(c);
}

void coap_uv_close(struct coap_uv *c, void (*closed)(struct coap_uv *c))
{
    c->closed = closed;
    c->ctx = NULL;
    uv_close((uv_handle_t *)&c->poll, on_closed);
}
