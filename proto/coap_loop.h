/* libcoap inside a libuv loop: libcoap's epoll fd (its sockets and the
 * timerfd of its own deadlines) under a uv_poll whose callback runs
 * coap_io_process(COAP_IO_NO_WAIT). Shared by the CoAP client and server.
 *
 * libcoap logs through one process-wide handler; this module installs one
 * that prints nothing and counts the datagrams libcoap discarded as
 * malformed ("not CoAP") for the context being processed, which is the only
 * way 4.3.1 tells an application about them. */
#ifndef BCSIM_COAP_LOOP_H
#define BCSIM_COAP_LOOP_H

#include <coap3/coap.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct coap_uv {
    coap_context_t *ctx;
    uv_poll_t poll;
    unsigned malformed; /* datagrams libcoap discarded as not CoAP, so far */
    bool held;          /* coap_uv_hold: the poll is stopped */
    int open_handles;
    void (*closed)(struct coap_uv *c);
};

/* One-time libcoap set-up for the process (idempotent). */
void coap_uv_library_init(void);

/* Tokens and message ids from `seed` on, the same every run (a server's
 * --seed); by default they are seeded once from the system. */
void coap_uv_seed(uint64_t seed);

/* Watches ctx (created by the caller, block mode and handlers set) on loop.
 * Returns 0 or a negative libuv error. */
int coap_uv_start(struct coap_uv *c, uv_loop_t *loop, coap_context_t *ctx);

/* Runs libcoap now (after the caller queued a request, say). */
void coap_uv_process(struct coap_uv *c);

/* Stops or resumes reading: while held, datagrams wait in the socket and
 * libcoap's timers do not run (a link model delays delivery this way). */
void coap_uv_hold(struct coap_uv *c, bool held);

/* Stops watching; closed (may be NULL) runs once the handle is closed.
 * The context stays the caller's to free, after this returns. */
void coap_uv_close(struct coap_uv *c, void (*closed)(struct coap_uv *c));

#endif
