#include "sim/at/at_engine.h"
#include "sim/at/at_fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    int code;
    const char *text;
} cme_texts[] = {
    {CME_NOT_ALLOWED, "operation not allowed"},
    {CME_NOT_SUPPORTED, "operation not supported"},
    {CME_NO_NETWORK, "no network service"},
    {CME_BAD_PARAM, "incorrect parameters"},
    {CME_UNKNOWN, "unknown"},
    {CME_UE_BUSY, "UE busy"},
};

void at_engine_init(struct at_engine *e, const struct at_io *io, void *ctx)
{
    memset(e, 0, sizeof *e);
    e->io = io;
    e->ctx = ctx;
    e->echo = true;
    e->synced = true;
    at_frame_reset(&e->frame);
}

void at_engine_free(struct at_engine *e)
{
    at_engine_reset(e);
    at_override_clear(e);
    free(e->out);
    e->out = NULL;
    e->out_cap = 0;
}

void at_engine_flush(struct at_engine *e)
{
    if (e->out_len == 0)
        return;
    size_t n = e->out_len;
    e->out_len = 0; /* the write may reach code that writes again */
    e->io->write(e->ctx, e->out, n);
}

void at_engine_data_stop(struct at_engine *e)
{
    free(e->data.buf);
    memset(&e->data, 0, sizeof e->data);
}

size_t at_engine_data_extra(const struct at_engine *e)
{
    return e->data.extra;
}

bool at_engine_in_data(const struct at_engine *e)
{
    return e->data.active;
}

void at_engine_reset(struct at_engine *e)
{
    at_engine_flush(e); /* what was said before the reset was on its way */
    at_engine_data_stop(e);
    at_frame_reset(&e->frame);
    e->busy = false;
    e->answering = false;
    free(e->held);
    e->held = NULL;
    e->held_len = e->held_off = 0;
}

bool at_engine_idle(const struct at_engine *e)
{
    return !e->answering;
}

/* Room for n more bytes of gathered output; false if memory ran out. */
static bool reserve(struct at_engine *e, size_t n)
{
    if (e->out_len + n <= e->out_cap)
        return true;
    size_t cap = e->out_cap ? e->out_cap : 1024;
    while (cap < e->out_len + n)
        cap *= 2;
    char *p = realloc(e->out, cap);
    if (!p)
        return false;
    e->out = p;
    e->out_cap = cap;
    return true;
}

/* Output is gathered and written when the input call (or the completion)
 * returns, so that the answers to every line of one read go out in one
 * write, in order, each whole. Lines a pending command writes from outside
 * (a timer) wait for its completion; anything else outside an entry point
 * goes at once. */
static void gathered(struct at_engine *e)
{
    if (e->depth == 0 && !e->busy)
        at_engine_flush(e);
}

static void out(struct at_engine *e, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (!reserve(e, n)) { /* no room to gather: write what there is, then this */
        at_engine_flush(e);
        e->io->write(e->ctx, s, n);
        return;
    }
    memcpy(e->out + e->out_len, s, n);
    e->out_len += n;
    gathered(e);
}

/* A command's information lines form one block: <CR><LF> opens it, each line
 * ends with <CR><LF> (ATI: "\r\nQuectel_Ltd\r\nQuectel_BC66\r\n..."). The
 * line is formatted in place, at the end of the gathered output. */
static void reply_line(struct at_engine *e, bool open_block, const char *fmt, va_list ap)
{
    char spare[AT_LINE_MAX + 8];
    bool in_place = reserve(e, sizeof spare);
    char *buf = in_place ? e->out + e->out_len : spare;
    size_t lead = open_block ? 2 : 0;
    int n = at_vfmt(buf + lead, sizeof spare - 4, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof spare - 5)
        n = (int)(sizeof spare - 5);
    memcpy(buf, "\r\n", lead);
    memcpy(buf + lead + n, "\r\n", 2);
    size_t len = lead + (size_t)n + 2;
    if (!in_place) {
        out(e, buf, len);
        return;
    }
    e->out_len += len;
    gathered(e);
}

void at_reply(struct at_engine *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_line(e, !e->in_block, fmt, ap);
    va_end(ap);
    e->in_block = true;
}

/* A line framed on its own: final results and override replies. */
static void reply_framed(struct at_engine *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_line(e, true, fmt, ap);
    va_end(ap);
    e->in_block = false;
}

static void final(struct at_engine *e, int result)
{
    e->answering = false;
    if (result == AT_OK) {
        reply_framed(e, "OK");
    } else if (result > 0 && e->cmee == 1) {
        reply_framed(e, "+CME ERROR: %d", result);
    } else if (result > 0 && e->cmee == 2) {
        const char *text = "unknown";
        for (size_t i = 0; i < sizeof cme_texts / sizeof cme_texts[0]; i++)
            if (cme_texts[i].code == result)
                text = cme_texts[i].text;
        reply_framed(e, "+CME ERROR: %s", text);
    } else {
        reply_framed(e, "ERROR");
    }
    e->io->idle(e->ctx); /* URCs written from here flush the response first */
}

static at_handler pick(const struct at_command *c, enum at_form form)
{
    switch (form) {
    case AT_FORM_EXEC:
        return c->exec;
    case AT_FORM_TEST:
        return c->test;
    case AT_FORM_READ:
        return c->read;
    case AT_FORM_WRITE:
        return c->write;
    }
    return NULL;
}

/* io->lookup through a small cache: the tables are searched by name, and a
 * short command spent a fifth of its time there. */
static const struct at_command *lookup(struct at_engine *e, const char *name)
{
    size_t len = strlen(name);
    if (len >= sizeof e->cache[0].name)
        return e->io->lookup(e->ctx, name);
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    /* Two ways: a name has two slots, so that two names of one chain that
     * hash alike do not push each other out. */
    struct at_lookup_slot *way = &e->cache[(h % AT_LOOKUP_SLOTS) & ~1u];
    for (int i = 0; i < 2; i++)
        if (way[i].cmd && strcmp(way[i].name, name) == 0)
            return way[i].cmd;
    const struct at_command *c = e->io->lookup(e->ctx, name);
    if (c) {
        struct at_lookup_slot *slot = way[0].cmd ? &way[1] : &way[0];
        memcpy(slot->name, name, len + 1);
        slot->cmd = c;
    }
    return c;
}

static void run_chain(struct at_engine *e)
{
    for (;;) {
        struct at_cmd cmd;
        int r = at_chain_next(&e->chain, &cmd);
        if (r == 0) {
            final(e, AT_OK);
            return;
        }
        const struct at_command *c = r > 0 ? lookup(e, cmd.name) : NULL;
        at_handler h = c ? pick(c, cmd.form) : NULL;
        e->in_block = false;
        if (!h && c && cmd.form == AT_FORM_TEST && c->test_reply) {
            if (*c->test_reply)
                at_reply(e, "%s", c->test_reply);
            continue;
        }
        if (!h) {
            final(e, AT_ERROR);
            return;
        }
        int res = h(e, &cmd);
        if (res == AT_PENDING) {
            e->busy = true;
            return;
        }
        if (res != AT_OK) {
            final(e, res);
            return;
        }
    }
}

static bool override_matches(const char *pattern, const char *s, size_t len)
{
    size_t plen = strlen(pattern);
    if (plen > 0 && pattern[plen - 1] == '*')
        return len >= plen - 1 && strncasecmp(pattern, s, plen - 1) == 0;
    return len == plen && strncasecmp(pattern, s, plen) == 0;
}

/* Answers a line from an override, if one matches. */
static bool answer_override(struct at_engine *e, const char *s, size_t len)
{
    for (int i = 0; i < e->noverrides; i++) {
        struct at_override *o = &e->overrides[i];
        if (!override_matches(o->pattern, s, len))
            continue;
        for (const char *p = o->reply; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            reply_framed(e, "%.*s", (int)n, p);
            p += n + (nl ? 1 : 0);
        }
        e->answering = false;
        if (o->once) {
            free(o->pattern);
            free(o->reply);
            memmove(o, o + 1, (size_t)(e->noverrides - i - 1) * sizeof *o);
            e->noverrides--;
        }
        e->io->idle(e->ctx);
        return true;
    }
    return false;
}

static void handle_line(struct at_engine *e)
{
    const char *line = e->frame.line;
    size_t len = e->frame.len;
    size_t lead = 0;
    while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
        lead++;
    if (lead == len)
        return; /* an empty line is no command */

    struct at_chain chain;
    bool is_at = at_line_body(line, len, &chain);
    if (!e->synced) {
        /* Autobaud: only a line starting with AT can be decoded and locks the rate. */
        if (!is_at)
            return;
        e->synced = true;
        e->io->sync(e->ctx);
    }
    e->io->line(e->ctx, line, len);
    e->answering = true;
    if (answer_override(e, line + lead, len - lead))
        return;
    if (!is_at) {
        final(e, AT_ERROR);
        return;
    }
    memcpy(e->exec_line, line, len + 1);
    at_line_body(e->exec_line, len, &e->chain);
    run_chain(e);
}

/* Feeds bytes until a command goes pending; returns how many were used. */
static size_t feed(struct at_engine *e, const char *data, size_t len)
{
    size_t echo_from = 0;
    for (size_t i = 0; i < len; i++) {
        enum at_frame_result r = at_frame_byte(&e->frame, (uint8_t)data[i]);
        if (r == AT_FRAME_MORE)
            continue;
        if (e->echo && e->synced)
            out(e, data + echo_from, i + 1 - echo_from);
        echo_from = i + 1;
        if (r == AT_FRAME_OVERLONG) {
            if (e->synced)
                final(e, AT_ERROR);
        } else {
            handle_line(e);
        }
        at_frame_reset(&e->frame);
        if (e->busy)
            return i + 1;
    }
    if (e->echo && e->synced)
        out(e, data + echo_from, len - echo_from);
    return len;
}

int at_engine_data(struct at_engine *e, const struct at_data_req *req)
{
    at_engine_data_stop(e);
    uint8_t *buf = req->len ? malloc(req->len) : NULL;
    if (!buf)
        return -ENOMEM;
    e->data = (struct at_data){
        .active = true,
        .buf = buf,
        .want = req->len,
        .escape = req->escape,
        .escape_len = req->escape ? strlen(req->escape) : 0,
        .done = req->done,
        .arg = req->arg,
        .trail = req->trail,
    };
    if (req->prompt)
        out(e, req->prompt, strlen(req->prompt));
    return 0;
}

/* The escape line as the last bytes of this data mode's input. */
static bool escaped(const struct at_data *d)
{
    return d->escape_len && d->got >= d->escape_len &&
           memcmp(d->buf + d->got - d->escape_len, d->escape, d->escape_len) == 0;
}

/* Takes bytes in data mode; returns how many were used. The escape is
 * looked for before the block counts as full, so it wins on its last byte. */
static size_t data_feed(struct at_engine *e, const char *p, size_t len)
{
    struct at_data *d = &e->data;
    if (d->trailing) {
        d->extra += len;
        return len;
    }
    size_t used = 0;
    enum at_data_end how = AT_DATA_FULL;
    bool ended = false;
    while (used < len && !ended) {
        d->buf[d->got++] = (uint8_t)p[used++];
        if (d->escape_len && (uint8_t)p[used - 1] == (uint8_t)d->escape[d->escape_len - 1] &&
            escaped(d)) {
            how = AT_DATA_ESCAPED;
            ended = true;
        } else if (d->got == d->want) {
            ended = true;
        }
    }
    if (ended && how == AT_DATA_FULL && d->trail) {
        d->trailing = true;
        d->done(e, how, d->buf, d->got, d->arg);
    } else if (ended) {
        /* Data mode is over before the command hears of it: it may answer,
         * start another, or stop the module from its callback. */
        struct at_data done = *d;
        memset(d, 0, sizeof *d);
        done.done(e, how, how == AT_DATA_FULL ? done.buf : NULL, how == AT_DATA_FULL ? done.got : 0,
                  done.arg);
        free(done.buf);
    }
    return used;
}

/* Feeds the framer or data mode until the engine waits for a command. */
static size_t consume(struct at_engine *e, const char *data, size_t len)
{
    size_t used = 0;
    while (used < len) {
        if (e->data.active)
            used += data_feed(e, data + used, len - used);
        else if (!e->busy)
            used += feed(e, data + used, len - used);
        else
            break;
    }
    return used;
}

static void hold(struct at_engine *e, const char *data, size_t len)
{
    if (len == 0)
        return;
    char *p = realloc(e->held, e->held_len + len);
    if (!p)
        return; /* out of memory: the bytes are lost, as on a UART overrun */
    memcpy(p + e->held_len, data, len);
    e->held = p;
    e->held_len += len;
}

/* Feeds held input while the engine takes it. A command completed from
 * inside (data mode's callback) leaves the feeding to the loop already here. */
static void drain(struct at_engine *e)
{
    if (e->draining)
        return;
    e->draining = true;
    while (e->held_off < e->held_len) {
        size_t n = consume(e, e->held + e->held_off, e->held_len - e->held_off);
        if (n == 0)
            break;
        e->held_off += n;
    }
    e->draining = false;
    if (e->held_off == e->held_len) {
        free(e->held);
        e->held = NULL;
        e->held_len = e->held_off = 0;
    }
}

bool at_engine_input(struct at_engine *e, const char *data, size_t len)
{
    e->depth++;
    if (e->held_off == e->held_len && !e->draining) {
        size_t used = consume(e, data, len);
        data += used;
        len -= used;
    }
    hold(e, data, len);
    drain(e);
    if (--e->depth == 0)
        at_engine_flush(e); /* echo of a partial line, a data prompt */
    return !e->busy || e->data.active;
}

void at_engine_complete(struct at_engine *e, int result)
{
    if (!e->busy)
        return;
    e->depth++;
    e->busy = false;
    if (result == AT_OK)
        run_chain(e);
    else
        final(e, result);
    drain(e);
    if (--e->depth == 0)
        at_engine_flush(e);
}

int at_override_add(struct at_engine *e, const char *pattern, const char *reply, bool once)
{
    if (e->noverrides == AT_OVERRIDES_MAX)
        return -ENOSPC;
    char *p = strdup(pattern), *r = strdup(reply);
    if (!p || !r) {
        free(p);
        free(r);
        return -ENOMEM;
    }
    e->overrides[e->noverrides++] = (struct at_override){p, r, once};
    return 0;
}

void at_override_clear(struct at_engine *e)
{
    for (int i = 0; i < e->noverrides; i++) {
        free(e->overrides[i].pattern);
        free(e->overrides[i].reply);
    }
    e->noverrides = 0;
}
