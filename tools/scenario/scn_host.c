/* The host script of a scenario, played on the PTY. See scn_host.h. */
#include "tools/scenario/scn_host.h"

#include "fw_image/crc16.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define FAST_WAIT_MAX_MS 200 /* the longest a wait or quiet period lasts in fast mode */

uint64_t scn_host_bound_ms(const struct clk *clk, uint64_t ms)
{
    return clk->fast ? ms : clk_scale(clk, ms);
}

uint64_t scn_host_wait_ms(const struct clk *clk, uint64_t ms)
{
    if (!clk->fast)
        return clk_scale(clk, ms);
    return ms / 10 < FAST_WAIT_MAX_MS ? ms / 10 : FAST_WAIT_MAX_MS;
}

static void next_step(struct scn_host *h);
static void run_step(struct scn_host *h);

/* ---- Ending ------------------------------------------------------------------- */

static void finish(struct scn_host *h, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(struct scn_host *h, int status, const char *fmt, ...)
{
    if (h->done)
        return;
    h->done = true;
    uv_timer_stop(&h->timer);
    char why[2048] = "";
    if (fmt) {
        const struct scn_step *st = &h->s->steps[h->step];
        int n = snprintf(why, sizeof why, "line %d: %s: ", st->pos.line, scn_step_name(st->kind));
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why + n, sizeof why - (size_t)n, fmt, ap);
        va_end(ap);
    }
    h->ops.finished(h->ops.ctx, status, why);
}

static int expand(struct scn_host *h, const char *in, char *out, size_t size)
{
    char why[256];
    if (h->ops.expand(h->ops.ctx, in, out, size, why, sizeof why) == 0)
        return 0;
    finish(h, -1, "%s", why);
    return -1;
}

/* ---- Lines received ------------------------------------------------------------- */

/* false when the queue is full: no step has taken a line for a long while. */
static bool queue_push(struct scn_host_queue *q, const char *line)
{
    char *copy = q->count < SCN_HOST_LINES ? strdup(line) : NULL;
    if (!copy)
        return false;
    q->lines[(q->head + q->count) % SCN_HOST_LINES] = copy;
    q->count++;
    return true;
}

static const char *queue_peek(const struct scn_host_queue *q)
{
    return q->count ? q->lines[q->head] : NULL;
}

static void queue_pop(struct scn_host_queue *q)
{
    if (!q->count)
        return;
    free(q->lines[q->head]);
    q->head = (q->head + 1) % SCN_HOST_LINES;
    q->count--;
}

static void queue_clear(struct scn_host_queue *q)
{
    while (q->count)
        queue_pop(q);
}

/* A complete line (or the `>` prompt) from the module. */
static void got_line(struct scn_host *h, const char *line)
{
    h->ops.log(h->ops.ctx, '<', line);
    if (!queue_push(&h->uart, line))
        finish(h, -1, "more than %d lines came that no step has read", SCN_HOST_LINES);
}

static void take_bytes(struct scn_host *h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\r' || c == '\n') {
            if (h->partial_len) {
                h->partial[h->partial_len] = '\0';
                got_line(h, h->partial);
                h->partial_len = 0;
            }
            continue;
        }
        if (h->partial_len + 1 < sizeof h->partial)
            h->partial[h->partial_len++] = c;
    }
    /* AT+QFUPLEX's prompt ends no line: a lone '>' is one by itself. */
    if (h->partial_len == 1 && h->partial[0] == '>') {
        got_line(h, ">");
        h->partial_len = 0;
    }
}

/* ---- The PTY ----------------------------------------------------------------------- */

static void on_poll(uv_poll_t *p, int status, int events);

static void update_poll(struct scn_host *h)
{
    if (h->fd < 0)
        return;
    int events = UV_READABLE | (h->out_len > h->out_off ? UV_WRITABLE : 0);
    uv_poll_start(&h->poll, events, on_poll);
    h->polling = true;
}

static void flush_out(struct scn_host *h)
{
    while (h->out_off < h->out_len) {
        ssize_t n = write(h->fd, h->out + h->out_off, h->out_len - h->out_off);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            finish(h, -1, "writing to %s: %s", h->pty, strerror(errno));
            h->out_off = h->out_len;
            break;
        }
        h->out_off += (size_t)n;
    }
    if (h->out_off == h->out_len)
        h->out_len = h->out_off = 0;
    update_poll(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct scn_host *h = p->data;
    if (status < 0)
        return;
    if (events & UV_WRITABLE)
        flush_out(h);
    if (events & UV_READABLE) {
        char buf[4096];
        ssize_t n;
        while ((n = read(h->fd, buf, sizeof buf)) > 0)
            take_bytes(h, buf, (size_t)n);
        if (!h->waiting_do && !h->done)
            run_step(h); /* the step waiting for a line may go on */
    }
}

static int host_write(struct scn_host *h, const void *data, size_t n)
{
    if (h->fd < 0) {
        finish(h, -1, "the host has closed the PTY");
        return -1;
    }
    char *grown = realloc(h->out, h->out_len + n);
    if (!grown) {
        finish(h, -1, "out of memory");
        return -1;
    }
    h->out = grown;
    memcpy(h->out + h->out_len, data, n);
    h->out_len += n;
    flush_out(h);
    return h->done ? -1 : 0;
}

static int open_pty(struct scn_host *h, char *why, size_t why_size)
{
    h->fd = open(h->pty, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    struct termios t;
    if (h->fd < 0 || tcgetattr(h->fd, &t) != 0) {
        snprintf(why, why_size, "cannot open %.200s: %s", h->pty, strerror(errno));
        if (h->fd >= 0)
            close(h->fd);
        h->fd = -1;
        return -1;
    }
    cfmakeraw(&t);
    tcsetattr(h->fd, TCSANOW, &t);
    uv_poll_init(h->loop, &h->poll, h->fd);
    h->poll.data = h;
    update_poll(h);
    return 0;
}

static void on_poll_closed(uv_handle_t *handle)
{
    struct scn_host *h = handle->data;
    if (--h->closing == 0 && h->closed)
        h->closed(h);
}

static void close_pty(struct scn_host *h)
{
    if (h->fd < 0)
        return;
    h->closing++;
    uv_close((uv_handle_t *)&h->poll, on_poll_closed);
    close(h->fd);
    h->fd = -1;
    h->partial_len = 0;
    h->out_len = h->out_off = 0;
    queue_clear(&h->uart);
}

/* ---- Steps ------------------------------------------------------------------------- */

/* A step's pattern as a message shows it: /regex/ or "text". */
static const char *shown(const struct scn_step *st, const char *pattern, char *buf, size_t size)
{
    const char *q = st->pattern.regex ? "/" : "\"";
    snprintf(buf, size, "%s%s%s", q, pattern, q);
    return buf;
}

static void on_step_timer(uv_timer_t *t)
{
    struct scn_host *h = t->data;
    const struct scn_step *st = &h->s->steps[h->step];
    char pattern[SCN_TEXT_MAX], quoted[SCN_TEXT_MAX + 2];
    if (expand(h, st->pattern.text, pattern, sizeof pattern) != 0)
        return;
    switch (st->kind) {
    case SCN_S_EXPECT:
    case SCN_S_AWAIT:
    case SCN_S_LWM2M_EXPECT:
        finish(h, -1, "expected %s within %llu ms: %s", shown(st, pattern, quoted, sizeof quoted),
               (unsigned long long)scn_host_bound_ms(h->clk, st->ms),
               st->kind == SCN_S_EXPECT ? "no line came" : "no line matched");
        return;
    case SCN_S_LINES:
        if (h->matched == 0) {
            finish(h, -1, "expected lines matching %s within %llu ms: none came",
                   shown(st, pattern, quoted, sizeof quoted),
                   (unsigned long long)scn_host_bound_ms(h->clk, st->ms));
            return;
        }
        break;
    default:
        break; /* quiet, absent, wait: the time is up, the step passed */
    }
    next_step(h);
}

static void arm(struct scn_host *h, uint64_t ms)
{
    uv_timer_start(&h->timer, on_step_timer, ms, 0);
}

static void on_do_done(void *ctx, int status, const char *why)
{
    struct scn_host *h = ctx;
    h->waiting_do = false;
    if (status != 0) {
        finish(h, -1, "%s", why);
        return;
    }
    next_step(h);
}

/* Starts step h->step: what can be done at once is, what waits arms the timer. */
static void start_step(struct scn_host *h)
{
    if (h->step >= h->s->nsteps) {
        finish(h, 0, NULL);
        return;
    }
    const struct scn_step *st = &h->s->steps[h->step];
    char text[SCN_TEXT_MAX], text2[SCN_TEXT_MAX], why[256];
    h->matched = 0;
    switch (st->kind) {
    case SCN_S_SEND:
        if (expand(h, st->text, text, sizeof text - 1) != 0)
            return;
        h->ops.log(h->ops.ctx, '>', text);
        strcat(text, "\r");
        if (host_write(h, text, strlen(text)) == 0)
            next_step(h);
        return;
    case SCN_S_SEND_RAW: {
        size_t n = st->len;
        const char *p = st->text;
        if (!memchr(st->text, '\0', st->len)) {
            if (expand(h, st->text, text, sizeof text) != 0)
                return;
            p = text;
            n = strlen(text);
        }
        h->ops.log(h->ops.ctx, '>', "(raw bytes)");
        if (host_write(h, p, n) == 0)
            next_step(h);
        return;
    }
    case SCN_S_SEND_DATA: {
        const char *path = h->ops.package_path(h->ops.ctx, st->package);
        FILE *f = path ? fopen(path, "rb") : NULL;
        char *buf = malloc((size_t)st->length + 2);
        size_t got = 0;
        if (f && buf && fseek(f, (long)st->offset, SEEK_SET) == 0)
            got = fread(buf, 1, st->length, f);
        if (f)
            fclose(f);
        if (!buf || got != st->length) {
            free(buf);
            finish(h, -1, "package %s has no %u bytes at offset %u", st->package, st->length,
                   st->offset);
            return;
        }
        uint16_t crc = crc16_ccitt_update(0, buf, st->length);
        size_t n = st->length;
        if (st->crc == SCN_CRC) { /* card 2: low byte first */
            buf[n++] = (char)(crc & 0xff);
            buf[n++] = (char)(crc >> 8);
        } else if (st->crc == SCN_CRC_SWAPPED) {
            buf[n++] = (char)(crc >> 8);
            buf[n++] = (char)(crc & 0xff);
        }
        snprintf(text, sizeof text, "(%zu bytes of %s from %u, CRC %04X%s)", n, st->package,
                 st->offset, crc,
                 st->crc == SCN_CRC           ? ""
                 : st->crc == SCN_CRC_SWAPPED ? " swapped"
                                              : " left out");
        h->ops.log(h->ops.ctx, '>', text);
        int r = host_write(h, buf, n);
        free(buf);
        if (r == 0)
            next_step(h);
        return;
    }
    case SCN_S_EXPECT:
    case SCN_S_AWAIT:
    case SCN_S_LINES:
    case SCN_S_LWM2M_EXPECT:
        arm(h, scn_host_bound_ms(h->clk, st->ms));
        run_step(h);
        return;
    case SCN_S_QUIET:
    case SCN_S_ABSENT:
    case SCN_S_WAIT:
        arm(h, scn_host_wait_ms(h->clk, st->ms));
        run_step(h);
        return;
    case SCN_S_DO:
        h->waiting_do = true;
        if (h->ops.do_actions(h->ops.ctx, st->first_action, st->nactions, on_do_done, h) != 0) {
            h->waiting_do = false;
            finish(h, -1, "out of memory");
        }
        return;
    case SCN_S_ASSERT:
        if (expand(h, st->text, text, sizeof text) != 0 ||
            expand(h, st->text2, text2, sizeof text2) != 0)
            return;
        if ((strcmp(text, text2) == 0) != st->equal) {
            finish(h, -1, "\"%s\" %s \"%s\" is false", text, st->equal ? "==" : "!=", text2);
            return;
        }
        next_step(h);
        return;
    case SCN_S_CLOSE:
        h->ops.log(h->ops.ctx, '>', "(the host closes the PTY)");
        close_pty(h);
        next_step(h);
        return;
    case SCN_S_OPEN:
        h->ops.log(h->ops.ctx, '>', "(the host opens the PTY)");
        if (h->fd >= 0) {
            finish(h, -1, "the PTY is open already");
            return;
        }
        if (open_pty(h, why, sizeof why) != 0) {
            finish(h, -1, "%s", why);
            return;
        }
        next_step(h);
        return;
    case SCN_S_LWM2M:
        if (expand(h, st->text, text, sizeof text) != 0)
            return;
        h->ops.log(h->ops.ctx, '>', text);
        if (h->ops.lwm2m(h->ops.ctx, text, why, sizeof why) != 0) {
            finish(h, -1, "%s", why);
            return;
        }
        next_step(h);
        return;
    }
}

/* The running step looks at the lines received so far. */
static void run_step(struct scn_host *h)
{
    if (h->done || h->step >= h->s->nsteps)
        return;
    const struct scn_step *st = &h->s->steps[h->step];
    struct scn_host_queue *q = st->kind == SCN_S_LWM2M_EXPECT ? &h->lwm2m : &h->uart;
    char pattern[SCN_TEXT_MAX], cap[SCN_TEXT_MAX], why[256], quoted[SCN_TEXT_MAX + 2];
    if (st->kind == SCN_S_WAIT)
        return;
    if (expand(h, st->pattern.text, pattern, sizeof pattern) != 0)
        return;
    if (st->kind == SCN_S_ABSENT) { /* the lines stay for the steps after */
        for (; h->matched < q->count; h->matched++) {
            const char *line = q->lines[(q->head + h->matched) % SCN_HOST_LINES];
            int m = scn_match(st->pattern.regex, pattern, line, NULL, 0, why, sizeof why);
            if (m != 0) {
                finish(h, -1, m < 0 ? "%s" : "\"%s\" came", m < 0 ? why : line);
                return;
            }
        }
        return;
    }
    const char *line;
    while ((line = queue_peek(q)) != NULL) {
        int m = st->kind == SCN_S_QUIET
                    ? 1
                    : scn_match(st->pattern.regex, pattern, line, cap, sizeof cap, why, sizeof why);
        if (m < 0) {
            finish(h, -1, "%s", why);
            return;
        }
        switch (st->kind) {
        case SCN_S_EXPECT:
            if (!m) {
                finish(h, -1, "expected %s, got \"%s\"", shown(st, pattern, quoted, sizeof quoted),
                       line);
                return;
            }
            /* fall through */
        case SCN_S_AWAIT:
        case SCN_S_LWM2M_EXPECT:
            if (m) {
                if (st->capture[0])
                    h->ops.capture(h->ops.ctx, st->capture, cap);
                queue_pop(q);
                next_step(h);
                return;
            }
            queue_pop(q);
            continue;
        case SCN_S_LINES:
            if (!m) {
                if (h->matched == 0) {
                    finish(h, -1, "expected lines matching %s, got \"%s\"",
                           shown(st, pattern, quoted, sizeof quoted), line);
                    return;
                }
                next_step(h); /* the line stays for the next step */
                return;
            }
            h->matched++;
            queue_pop(q);
            arm(h, scn_host_bound_ms(h->clk, st->ms)); /* `within` is for each next line */
            continue;
        case SCN_S_QUIET:
            finish(h, -1, "\"%s\" came", line);
            return;
        case SCN_S_ABSENT:
            break; /* looked at below, without taking the lines */
        default:
            return;
        }
    }
}

static void next_step(struct scn_host *h)
{
    if (h->done)
        return;
    uv_timer_stop(&h->timer);
    h->step++;
    start_step(h);
}

static void on_kick(uv_timer_t *t)
{
    start_step(t->data);
}

int scn_host_start(struct scn_host *h, uv_loop_t *loop, const struct scenario *s,
                   const struct clk *clk, const char *pty, const struct scn_host_ops *ops,
                   char *why, size_t why_size)
{
    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->s = s;
    h->clk = clk;
    h->ops = *ops;
    h->fd = -1;
    snprintf(h->pty, sizeof h->pty, "%s", pty);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->closing = 1; /* the timer */
    if (open_pty(h, why, sizeof why) != 0)
        return -1;
    (void)why_size;
    uv_timer_start(&h->timer, on_kick, 0, 0);
    return 0;
}

void scn_host_lwm2m_line(struct scn_host *h, const char *line)
{
    if (!queue_push(&h->lwm2m, line))
        finish(h, -1, "more than %d LwM2M server lines came that no step has read", SCN_HOST_LINES);
    if (!h->waiting_do && !h->done && h->step < h->s->nsteps &&
        h->s->steps[h->step].kind == SCN_S_LWM2M_EXPECT)
        run_step(h);
}

static void on_timer_closed(uv_handle_t *handle)
{
    on_poll_closed(handle);
}

void scn_host_close(struct scn_host *h, void (*closed)(struct scn_host *h))
{
    h->closed = closed;
    h->done = true;
    close_pty(h);
    queue_clear(&h->lwm2m);
    free(h->out);
    h->out = NULL;
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}
