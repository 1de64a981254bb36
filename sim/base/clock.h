/* One clock for every artificial delay in bcsim: boot, registration, link rate,
 * UART pacing. --speed realtime|fast|FACTOR is applied here and nowhere else. */
#ifndef BCSIM_CLOCK_H
#define BCSIM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct clk {
    uv_loop_t *loop;
    double factor;     /* delays are divided by it; 1 = realtime */
    bool fast;         /* delays become 0, ordering is kept */
    uint64_t start_ms; /* loop time when the emulator started */
};

/* Parses "realtime", "fast" or a positive number. Returns 0 or -EINVAL. */
int clk_parse(struct clk *clk, const char *spec);

/* The scaled length of a nominal delay of `ms` milliseconds. */
uint64_t clk_scale(const struct clk *clk, uint64_t ms);

/* Starts a one-shot timer after a nominal delay. Timers started with the same
 * scaled delay fire in the order they were started (libuv guarantees it). */
int clk_after(const struct clk *clk, uv_timer_t *timer, uv_timer_cb cb, uint64_t ms);

/* Binds the clock to its loop and starts counting from now. */
void clk_start(struct clk *clk, uv_loop_t *loop);

/* Milliseconds since clk_start, for event timestamps. */
uint64_t clk_now_ms(const struct clk *clk);

/* A human description ("realtime", "fast", "x2.5") for status output. */
void clk_describe(const struct clk *clk, char *buf, size_t size);

#endif
