#include "sim/base/clock.h"

#include "sim/base/num.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int clk_parse(struct clk *clk, const char *spec)
{
    if (strcmp(spec, "realtime") == 0) {
        clk->factor = 1.0;
        clk->fast = false;
        return 0;
    }
    if (strcmp(spec, "fast") == 0) {
        clk->factor = 1.0;
        clk->fast = true;
        return 0;
    }
    double f;
    if (num_parse_decimal(spec, &f) != 0 || f <= 0.0 || f > 1e6)
        return -EINVAL;
    clk->factor = f;
    clk->fast = false;
    return 0;
}

uint64_t clk_scale(const struct clk *clk, uint64_t ms)
{
    if (clk->fast)
        return 0;
    return (uint64_t)llround((double)ms / clk->factor);
}

int clk_after(const struct clk *clk, uv_timer_t *timer, uv_timer_cb cb, uint64_t ms)
{
    return uv_timer_start(timer, cb, clk_scale(clk, ms), 0);
}

void clk_start(struct clk *clk, uv_loop_t *loop)
{
    clk->loop = loop;
    uv_update_time(loop);
    clk->start_ms = uv_now(loop);
}

uint64_t clk_now_ms(const struct clk *clk)
{
    return uv_now(clk->loop) - clk->start_ms;
}

void clk_describe(const struct clk *clk, char *buf, size_t size)
{
    if (clk->fast)
        snprintf(buf, size, "fast");
    else if (clk->factor == 1.0)
        snprintf(buf, size, "realtime");
    else
        snprintf(buf, size, "x%g", clk->factor);
}
