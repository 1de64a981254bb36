#include "proto/coap_loop.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

/* The context coap_io_process is working on, for the log handler. */
static struct coap_uv *processing;

static void on_log(coap_log_t level, const char *message)
{
    (void)level;
    if (processing && strncmp(message, "discard malformed PDU", 21) == 0)
        processing->malformed++;
}

/* libcoap draws each token and message id from getrandom(), a system call
 * per block, as many as the block's own send and receive. splitmix64, seeded
 * once from the system, serves as well: tokens need to be hard to guess for
 * an off-path attacker, not cryptographic keys. */
static uint64_t prng_state;

static int fast_prng(void *out, size_t len)
{
    unsigned char *p = out;
    while (len > 0) {
        uint64_t z = (prng_state += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        size_t n = len < sizeof z ? len : sizeof z;
        memcpy(p, &z, n);
        p += n;
        len -= n;
    }
    return 1;
}

void coap_uv_library_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    coap_startup();
    if (getrandom(&prng_state, sizeof prng_state, 0) == (ssize_t)sizeof prng_state)
        coap_set_prng(fast_prng);
    coap_set_log_handler(on_log);
    coap_set_log_level(LOG_WARNING); /* the malformed-PDU message is a warning */
}

void coap_uv_seed(uint64_t seed)
{
    coap_uv_library_init();
    prng_state = seed;
    coap_set_prng(fast_prng);
}

/* No timer of our own: libcoap keeps its next deadline (retransmissions,
 * block transfers going stale) in a timerfd inside its epoll fd, so the poll
 * wakes for those too, and coap_io_process re-arms it each time. */
void coap_uv_process(struct coap_uv *c)
{
    if (!c->ctx)
        return;
    /* What coap_io_process(COAP_IO_NO_WAIT) does, less its first re-arming
     * of the timerfd (coap_io_do_epoll re-arms it after the work anyway),
     * which is a system call per datagram. No cache, no async requests here. */
    struct epoll_event events[16];
    int n;
    processing = c;
    do { /* a handler may close c (c->ctx gone): then no further round */
        n = epoll_wait(coap_context_get_coap_fd(c->ctx), events, 16, 0);
        if (n < 0 && errno == EINTR)
            continue;
        coap_io_do_epoll(c->ctx, events, n > 0 ? (size_t)n : 0);
    } while (n == 16 && c->ctx);
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
