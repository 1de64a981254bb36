/* The host side of a scenario: plays its steps against the module's PTY, as
 * a host program would (the device opened raw, lines read as they come), and
 * reports the first step that fails. Everything outside the PTY (${} values,
 * rule actions for `do`, the LwM2M server, the transcript) comes through
 * scn_host_ops. */
#ifndef BCSIM_SCN_HOST_H
#define BCSIM_SCN_HOST_H

#include "sim/base/clock.h"
#include "sim/scenario/scn.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef void (*scn_host_done_fn)(void *ctx, int status, const char *why);

struct scn_host_ops {
    int (*expand)(void *ctx, const char *in, char *out, size_t size, char *why, size_t why_size);
    void (*capture)(void *ctx, const char *name, const char *value);
    int (*do_actions)(void *ctx, int first, int n, scn_host_done_fn done, void *done_ctx);
    int (*lwm2m)(void *ctx, const char *line, char *why, size_t why_size);
    const char *(*package_path)(void *ctx, const char *name); /* NULL: not declared */
    void (*log)(void *ctx, char dir, const char *text);       /* '>' sent, '<' received */
    /* The steps have all passed (status 0) or one failed (-1, why says how). */
    void (*finished)(void *ctx, int status, const char *why);
    void *ctx;
};

#define SCN_HOST_LINES 4096 /* lines received and not yet consumed, per source */

struct scn_host_queue {
    char *lines[SCN_HOST_LINES];
    int head, count;
};

struct scn_host {
    uv_loop_t *loop;
    const struct scenario *s;
    const struct clk *clk;
    struct scn_host_ops ops;
    char pty[256];
    int fd;
    uv_poll_t poll;
    bool polling;
    char partial[4096]; /* the line being received */
    size_t partial_len;
    struct scn_host_queue uart, lwm2m;
    char *out; /* bytes to write, not yet taken by the PTY */
    size_t out_len, out_off;
    int step;         /* the step running */
    int matched;      /* lines: how many have matched so far */
    uv_timer_t timer; /* the running step's timeout or wait */
    bool waiting_do;
    bool done, stopping;
    int closing;
    void (*closed)(struct scn_host *h);
};

/* Opens the PTY (raw, non-blocking) and starts the first step from the loop.
 * Returns 0, or -1 with a reason. */
int scn_host_start(struct scn_host *h, uv_loop_t *loop, const struct scenario *s,
                   const struct clk *clk, const char *pty, const struct scn_host_ops *ops,
                   char *why, size_t why_size);

/* A line the LwM2M server printed (for lwm2m-expect). */
void scn_host_lwm2m_line(struct scn_host *h, const char *line);

/* Stops (a step under way is abandoned); closed runs from the loop. */
void scn_host_close(struct scn_host *h, void (*closed)(struct scn_host *h));

/* How long a nominal duration lasts here: `within` bounds are kept as
 * written in fast mode, waits and quiet periods shortened (README). */
uint64_t scn_host_bound_ms(const struct clk *clk, uint64_t ms);
uint64_t scn_host_wait_ms(const struct clk *clk, uint64_t ms);

#endif
