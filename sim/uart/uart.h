/* The module side of the UART: both directions paced at the baud rate
 * (unpaced in --speed fast), one ordered output queue, autobaud silence,
 * line faults, and the transcript hook.
 *
 * The line model: a byte takes 10 bit times (8N1). Output is handed to the
 * PTY in slices of about UART_SLICE_MS, each when its last byte would have
 * arrived; input is read in slices of the same length and given to the
 * module when its last byte would have arrived. What the host writes faster
 * than that waits in the PTY's kernel buffer (the host's own transmit queue),
 * and its write() blocks when that is full: nothing is overrun, as with
 * hardware flow control. */
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

#define UART_SLICE_MS 2

/* Line faults, each armed for the Nth next byte of its direction (1: the
 * next one), once. */
enum uart_fault {
    UART_FAULT_RX_DROP, /* a byte from the host is lost on the line */
    UART_FAULT_RX_FLIP, /* a byte from the host arrives with its low bit flipped */
    UART_FAULT_TX_DROP, /* a byte from the module is lost on the line */
    UART_FAULTS
};

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
    char *buf;     /* output not yet handed to the PTY: buf[off..len) */
    size_t len, off, cap;
    size_t tx_wire;  /* bytes at buf[off] on the wire, arriving when `pace` fires */
    size_t tx_ready; /* bytes at buf[off] arrived, waiting for the PTY to take them */
    uint64_t tx_free_ns, rx_free_ns; /* when each direction's line is idle again */
    uv_timer_t pace, rx_pace;
    char rx_buf[4096]; /* a slice read from the host, arriving when `rx_pace` fires */
    size_t rx_len;
    bool rx_continuing, tx_continuing; /* right after a slice arrived: the line never idled */
    uint64_t rx_count, tx_count;       /* bytes over the line so far, each way */
    uint64_t fault_at[UART_FAULTS];    /* the byte count at which each fault hits; 0: none */
    bool input_wanted;                 /* the module takes input (it is not answering) */
    bool held;                         /* back-pressure: input paused while the queue drains */
    uint64_t dropped; /* bytes lost: unsynced, overflow, nobody attached, power cut */
    uint64_t writes;  /* write() calls that handed output to the PTY */
};

int uart_open(struct uart *u, uv_loop_t *loop, const struct clk *clk, const char *link,
              struct tlog *log, const struct uart_ops *ops, void *ctx);
void uart_close(struct uart *u);
void uart_write(struct uart *u, const char *data, size_t len);
void uart_drop_pending(struct uart *u); /* power cut: what is not on the wire is gone */
void uart_set_input(struct uart *u, bool on);
bool uart_host_attached(const struct uart *u);

/* Arms `kind` for the `nth` next byte (nth >= 1), or disarms all. */
void uart_fault(struct uart *u, enum uart_fault kind, uint64_t nth);
void uart_fault_clear(struct uart *u);

/* How long the host's line must stay silent for a frame of raw data to be
 * over (the data mode's check for bytes beyond <length>), in ms; bytes of a
 * slice already on the way count as not silent. */
uint64_t uart_idle_gap_ms(const struct uart *u);
size_t uart_rx_in_flight(const struct uart *u);

#endif
