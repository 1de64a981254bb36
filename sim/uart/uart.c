#include "sim/uart/uart.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

static void drain(struct uart *u);
static void drop_pending(struct uart *u, const char *why);
static void update_input(struct uart *u);

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
    return !u->clk->fast;
}

/* One byte's time on the line (start, 8 data bits, stop), scaled by --speed. */
static double byte_ns(const struct uart *u)
{
    return 1e10 / effective_baud(u) / u->clk->factor;
}

/* The bytes of one slice: UART_SLICE_MS of line time, at least one. */
static size_t slice_bytes(const struct uart *u)
{
    double n = UART_SLICE_MS * 1e6 / byte_ns(u);
    return n < 1 ? 1 : n > 4096 ? 4096 : (size_t)n;
}

/* Starts `t` for the moment `due_ns` (uv_hrtime's clock), to the next ms. */
static void start_at(uv_timer_t *t, uv_timer_cb cb, uint64_t due_ns)
{
    uv_update_time(t->loop); /* the timer counts from the loop's time: make it now */
    uint64_t now = uv_hrtime();
    uint64_t ms = due_ns > now ? (due_ns - now + 999999) / 1000000 : 0;
    uv_timer_start(t, cb, ms, 0);
}

/* The line time of `n` bytes from `base` (or from now, if the line was idle). */
static uint64_t line_due(const struct uart *u, uint64_t *free_ns, bool continuing, size_t n)
{
    uint64_t now = uv_hrtime();
    uint64_t base = continuing || *free_ns > now ? *free_ns : now;
    *free_ns = base + (uint64_t)(byte_ns(u) * (double)n);
    return *free_ns;
}

/* Whether the byte numbered `count` (from 1) is the one `kind` is armed for. */
static bool fault_hits(struct uart *u, enum uart_fault kind, uint64_t count)
{
    if (u->fault_at[kind] != count)
        return false;
    u->fault_at[kind] = 0;
    return true;
}

/* ---- Input: host -> module ---------------------------------------------------------------- */

static void deliver(struct uart *u, const char *data, size_t len)
{
    if (len == 0)
        return;
    if (u->log)
        tlog_bytes(u->log, TLOG_TO_MODULE, data, len);
    u->ops->input(u->ctx, data, len);
}

static void on_rx_arrived(uv_timer_t *t)
{
    struct uart *u = t->data;
    size_t len = u->rx_len;
    u->rx_len = 0;
    deliver(u, u->rx_buf, len);
    update_input(u);
    /* Bytes already waiting were sent right behind these: the line was busy. */
    if (u->pty.reading && u->rx_len == 0) {
        u->rx_continuing = true;
        pty_read_now(&u->pty);
        u->rx_continuing = false;
    }
}

/* The bytes as they crossed the line into `line`: the armed faults applied. */
static size_t cross_line(struct uart *u, const char *data, size_t len, char *line)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        u->rx_count++;
        if (fault_hits(u, UART_FAULT_RX_DROP, u->rx_count))
            continue;
        char c = data[i];
        if (fault_hits(u, UART_FAULT_RX_FLIP, u->rx_count))
            c ^= 1;
        line[n++] = c;
    }
    return n;
}

static void on_data(void *ctx, const char *data, size_t len)
{
    struct uart *u = ctx;
    bool faults = u->fault_at[UART_FAULT_RX_DROP] || u->fault_at[UART_FAULT_RX_FLIP];
    if (!paced(u)) {
        char line[sizeof u->rx_buf]; /* the PTY reads no more at once */
        if (faults) {
            deliver(u, line, cross_line(u, data, len, line));
        } else {
            u->rx_count += len;
            deliver(u, data, len);
        }
        return;
    }
    /* The PTY reads at most a slice: it fits. */
    if (faults) {
        u->rx_len = cross_line(u, data, len, u->rx_buf);
    } else {
        memcpy(u->rx_buf, data, len);
        u->rx_len = len;
        u->rx_count += len;
    }
    start_at(&u->rx_pace, on_rx_arrived, line_due(u, &u->rx_free_ns, u->rx_continuing, len));
    update_input(u);
}

static void update_input(struct uart *u)
{
    size_t pending = u->len - u->off;
    bool held = pending > UART_HIGH_WATER || (u->held && pending > UART_LOW_WATER);
    if (held != u->held) {
        u->held = held;
        u->ops->held(u->ctx, held);
    }
    if (paced(u))
        pty_read_limit(&u->pty, slice_bytes(u));
    pty_read(&u->pty, u->input_wanted && !u->held && u->rx_len == 0);
}

void uart_set_input(struct uart *u, bool on)
{
    u->input_wanted = on;
    update_input(u);
}

/* ---- Output: module -> host --------------------------------------------------------------- */

static void on_pace(uv_timer_t *t)
{
    struct uart *u = t->data;
    u->tx_ready += u->tx_wire;
    u->tx_wire = 0;
    u->tx_continuing = true; /* what is queued now follows this slice without a gap */
    drain(u);
    u->tx_continuing = false;
}

static void on_writable(void *ctx)
{
    drain(ctx);
}

static void drop(struct uart *u, size_t len, const char *why)
{
    u->dropped += len;
    if (len)
        u->ops->dropped(u->ctx, len, why);
}

/* Hands the arrived bytes to the PTY; false if it is full and a host will
 * read (the rest goes when it is writable again). */
static bool write_arrived(struct uart *u)
{
    while (u->tx_ready > 0) {
        uint64_t first = u->tx_count + 1; /* the number of buf[off] on the line */
        uint64_t hit = u->fault_at[UART_FAULT_TX_DROP];
        if (hit >= first && hit < first + u->tx_ready) {
            size_t at = u->off + (size_t)(hit - first);
            memmove(u->buf + at, u->buf + at + 1, u->len - at - 1);
            u->len--;
            u->tx_ready--;
            u->tx_count++; /* it went over the line, and was lost there */
            u->fault_at[UART_FAULT_TX_DROP] = 0;
            continue;
        }
        ssize_t n = pty_write(&u->pty, u->buf + u->off, u->tx_ready);
        if (n == -EINTR)
            continue;
        if (n < 0) {
            if (n == -EAGAIN && uart_host_attached(u)) {
                pty_want_write(&u->pty, true);
                return false;
            }
            /* Nobody reads and the PTY is full: the bytes fall off the wire. */
            drop_pending(u, "no host");
            return false;
        }
        u->writes++;
        if (u->log)
            tlog_bytes(u->log, TLOG_TO_HOST, u->buf + u->off, (size_t)n);
        u->off += (size_t)n;
        u->tx_ready -= (size_t)n;
        u->tx_count += (uint64_t)n;
    }
    return true;
}

static void drain(struct uart *u)
{
    if (!write_arrived(u)) {
        update_input(u);
        return;
    }
    size_t pending = u->len - u->off;
    if (pending > 0 && !paced(u)) {
        u->tx_ready = pending;
        if (!write_arrived(u)) {
            update_input(u);
            return;
        }
    } else if (pending > 0 && u->tx_wire == 0) {
        u->tx_wire = pending < slice_bytes(u) ? pending : slice_bytes(u);
        start_at(&u->pace, on_pace, line_due(u, &u->tx_free_ns, u->tx_continuing, u->tx_wire));
    }
    if (u->off == u->len)
        u->off = u->len = 0;
    update_input(u); /* the queue shrank: back-pressure may end */
}

static void drop_pending(struct uart *u, const char *why)
{
    drop(u, u->len - u->off, why);
    u->len = u->off = 0;
    u->tx_wire = u->tx_ready = 0;
    uv_timer_stop(&u->pace);
    pty_want_write(&u->pty, false);
    update_input(u);
}

void uart_drop_pending(struct uart *u)
{
    u->rx_len = 0; /* what was on the way in is lost with the module's power */
    uv_timer_stop(&u->rx_pace);
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
    if (u->tx_wire == 0 && u->tx_ready == 0 && !u->pty.want_write)
        drain(u);
    else
        update_input(u);
}

/* ---- The device ---------------------------------------------------------------------------- */

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
    uv_timer_init(loop, &u->rx_pace);
    u->rx_pace.data = u;
    update_input(u);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void uart_close(struct uart *u)
{
    uv_close((uv_handle_t *)&u->pace, on_closed);
    uv_close((uv_handle_t *)&u->rx_pace, on_closed);
    pty_close(&u->pty);
    free(u->buf);
    u->buf = NULL;
}

bool uart_host_attached(const struct uart *u)
{
    return u->pty.hosts > 0;
}

void uart_fault(struct uart *u, enum uart_fault kind, uint64_t nth)
{
    uint64_t count = kind == UART_FAULT_TX_DROP ? u->tx_count : u->rx_count;
    u->fault_at[kind] = count + nth;
}

void uart_fault_clear(struct uart *u)
{
    memset(u->fault_at, 0, sizeof u->fault_at);
}

uint64_t uart_idle_gap_ms(const struct uart *u)
{
    if (!paced(u))
        return 1;
    return (uint64_t)(2 * byte_ns(u) / 1e6) + 1; /* two bytes' time of silence, to the ms */
}

size_t uart_rx_in_flight(const struct uart *u)
{
    return u->rx_len;
}
