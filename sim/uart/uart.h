/* The module side of the UART: one ordered output queue paced at the baud rate
 * (unpaced in --speed fast), autobaud silence, and the transcript hook. */
#ifndef BCSIM_UART_H
#define BCSIM_UART_H

#include "sim/base/clock.h"
#include "sim/base/tlog.h"
#include "sim/uart/pty.h"

#include <stdbool.h>
#include <stdint.h>

/* Back-pressure: above the high mark the UART stops taking input (so the AT
 * engine, which answers only what it reads, stops adding output) until the
 * host has read the queue down to the low mark. Only output that does not
 * come from input (URCs) can still grow it, up to UART_QUEUE_MAX; beyond that
 * it is dropped, counted and reported. */
#define UART_HIGH_WATER (64u * 1024)
#define UART_LOW_WATER  (16u * 1024)
#define UART_QUEUE_MAX  (1u << 20)

struct uart_ops {
    void (*input)(void *ctx, const char *data, size_t len);
    void (*host)(void *ctx, bool attached);
    void (*held)(void *ctx, bool held);                      /* input paused by back-pressure */
    void (*dropped)(void *ctx, size_t len, const char *why); /* output lost, and why */
};

struct uart {
    struct pty pty;
    const struct clk *clk;
    struct tlog *log;
    const struct uart_ops *ops;
    void *ctx;
    uint32_t baud; /* pacing rate; 0 is autobaud, paced as the host's rate */
    bool synced;   /* false while autobaud has not locked: output is lost */
    bool had_host; /* once a host has come and gone, output with none attached is lost */
    char *buf;
    size_t len, off, cap;
    uv_timer_t pace;
    bool input_wanted; /* the module takes input (it is not answering) */
    bool held;         /* back-pressure: input paused while the queue drains */
    uint64_t dropped;  /* bytes lost: unsynced, overflow, nobody attached, power cut */
};

int uart_open(struct uart *u, uv_loop_t *loop, const struct clk *clk, const char *link,
              struct tlog *log, const struct uart_ops *ops, void *ctx);
void uart_close(struct uart *u);
void uart_write(struct uart *u, const char *data, size_t len);
void uart_drop_pending(struct uart *u); /* power cut: what is not on the wire is gone */
void uart_set_input(struct uart *u, bool on);
bool uart_host_attached(const struct uart *u);

#endif
