#include "sim/uart/uart.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#define PACE_TICK_MS 10

static void drain(struct uart *u);
static void drop_pending(struct uart *u, const char *why);

static uint32_t effective_baud(const struct uart *u)
{
    if (u->baud)
        return u->baud;
    struct termios tio; /* autobaud: follow the rate the host set */
    if (tcgetattr(u->pty.master, &tio) == 0) {
        speed_t s = cfgetospeed(&tio);
        static const struct {
            speed_t s;
            uint32_t baud;
        } map[] = {{B2400, 2400},     {B4800, 4800},    {B9600, 9600},     {B19200, 19200},
                   {B38400, 38400},   {B57600, 57600},  {B115200, 115200}, {B230400, 230400},
                   {B460800, 460800}, {B921600, 921600}};
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (map[i].s == s)
                return map[i].baud;
    }
    return 115200;
}

static bool paced(const struct uart *u)
{
    return clk_scale(u->clk, PACE_TICK_MS) > 0;
}

static void on_pace(uv_timer_t *t)
{
    drain(t->data);
}

static void on_writable(void *ctx)
{
    drain(ctx);
}

static void on_data(void *ctx, const char *data, size_t len)
{
    struct uart *u = ctx;
    if (u->log)
        tlog_bytes(u->log, TLOG_TO_MODULE, data, len);
    u->ops->input(u->ctx, data, len);
}

static void on_host(void *ctx, bool attached)
{
    struct uart *u = ctx;
    if (!attached) {
        pty_discard_output(&u->pty); /* what the last host left unread is stale */
        drop_pending(u, "host left");
        u->had_host = true;
    }
    u->ops->host(u->ctx, attached);
    if (attached)
        drain(u);
}

static const struct pty_ops uart_pty_ops = {
    .data = on_data,
    .writable = on_writable,
    .host = on_host,
};

int uart_open(struct uart *u, uv_loop_t *loop, const struct clk *clk, const char *link,
              struct tlog *log, const struct uart_ops *ops, void *ctx)
{
    memset(u, 0, sizeof *u);
    u->clk = clk;
    u->log = log;
    u->ops = ops;
    u->ctx = ctx;
    u->synced = true;
    u->baud = 115200;
    u->input_wanted = true;
    int err = pty_open(&u->pty, loop, link, &uart_pty_ops, u);
    if (err)
        return err;
    uv_timer_init(loop, &u->pace);
    u->pace.data = u;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void uart_close(struct uart *u)
{
    uv_close((uv_handle_t *)&u->pace, on_closed);
    pty_close(&u->pty);
    free(u->buf);
    u->buf = NULL;
}

bool uart_host_attached(const struct uart *u)
{
    return u->pty.hosts > 0;
}

static void update_input(struct uart *u)
{
    size_t pending = u->len - u->off;
    bool held = pending > UART_HIGH_WATER || (u->held && pending > UART_LOW_WATER);
    if (held != u->held) {
        u->held = held;
        u->ops->held(u->ctx, held);
    }
    pty_read(&u->pty, u->input_wanted && !u->held);
}

void uart_set_input(struct uart *u, bool on)
{
    u->input_wanted = on;
    update_input(u);
}

static void drop(struct uart *u, size_t len, const char *why)
{
    u->dropped += len;
    if (len)
        u->ops->dropped(u->ctx, len, why);
}

static void drop_pending(struct uart *u, const char *why)
{
    drop(u, u->len - u->off, why);
    u->len = u->off = 0;
    uv_timer_stop(&u->pace);
    pty_want_write(&u->pty, false);
    update_input(u);
}

void uart_drop_pending(struct uart *u)
{
    drop_pending(u, "power cut");
}

void uart_write(struct uart *u, const char *data, size_t len)
{
    /* Like a UART with nothing plugged in, except that output from before the
     * first host ever opened the device waits for it (the boot banner). */
    bool unheard = u->had_host && !uart_host_attached(u);
    if (!u->synced || unheard || u->len - u->off + len > UART_QUEUE_MAX) {
        drop(u, len, !u->synced ? "autobaud" : unheard ? "no host" : "overflow");
        return;
    }
    if (u->off > 0 && u->len + len > u->cap) { /* compact before growing */
        memmove(u->buf, u->buf + u->off, u->len - u->off);
        u->len -= u->off;
        u->off = 0;
    }
    if (u->len + len > u->cap) {
        size_t cap = u->cap ? u->cap : 4096;
        while (cap < u->len + len)
            cap *= 2;
        char *b = realloc(u->buf, cap);
        if (!b) {
            drop(u, len, "no memory");
            return;
        }
        u->buf = b;
        u->cap = cap;
    }
    memcpy(u->buf + u->len, data, len);
    u->len += len;
    if (!uv_is_active((uv_handle_t *)&u->pace) && !u->pty.want_write)
        drain(u);
    else
        update_input(u);
}

static void drain(struct uart *u)
{
    size_t budget = u->len - u->off;
    if (paced(u)) {
        size_t per_tick = effective_baud(u) / 10 * PACE_TICK_MS / 1000;
        if (budget > per_tick)
            budget = per_tick ? per_tick : 1;
    }
    while (budget > 0) {
        ssize_t n = pty_write(&u->pty, u->buf + u->off, budget);
        if (n == -EINTR)
            continue;
        if (n < 0) {
            if (n == -EAGAIN && uart_host_attached(u)) {
                pty_want_write(&u->pty, true);
                update_input(u);
                return;
            }
            /* Nobody reads and the PTY is full: the bytes fall off the wire. */
            drop_pending(u, "no host");
            return;
        }
        if (u->log)
            tlog_bytes(u->log, TLOG_TO_HOST, u->buf + u->off, (size_t)n);
        u->off += (size_t)n;
        budget -= (size_t)n;
    }
    if (u->off == u->len) {
        u->off = u->len = 0;
        uv_timer_stop(&u->pace);
    } else if (paced(u) && !uv_is_active((uv_handle_t *)&u->pace)) {
        uint64_t tick = clk_scale(u->clk, PACE_TICK_MS);
        uv_timer_start(&u->pace, on_pace, tick, tick);
    }
    update_input(u); /* the queue shrank: back-pressure may end */
}
