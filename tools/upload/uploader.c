/* The upload and update, over a file descriptor. One rule throughout: a line
 * that is not the answer awaited (the module's echo of the command, a URC
 * such as +CEREG or +QIND, a stray result) is skipped, and every wait has a
 * deadline. */
#include "tools/upload/uploader.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MARGIN_MS 2000 /* beyond <timeout>, for '>' or the answer to a block */
#define SHORT_MS         1000 /* the answer to AT, AT+QFUPLEX=ESC, AT+QFUPLEX=? */
#define SYNC_TRIES       3    /* AT before anything else */
#define RESYNC_TRIES     3    /* AT after a failed try */
#define LINE_MAX_LEN     256  /* longer lines are none that we wait for */

uint16_t upl_crc16(uint16_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len--) {
        crc ^= (uint16_t)(*p++ << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

void upl_options_default(struct upl_options *o)
{
    memset(o, 0, sizeof *o);
    o->block_size = UPL_BLOCK_DEFAULT;
    o->timeout_s = UPL_TIMEOUT_DEFAULT;
    o->retries = 5;
    o->update = true;
    o->update_timeout_s = 300;
    o->baud = 115200;
}

const char *upl_status_text(enum upl_status s)
{
    switch (s) {
    case UPL_OK:
        return "done";
    case UPL_EIO:
        return "the device failed";
    case UPL_ENOANSWER:
        return "the module does not answer AT";
    case UPL_EREFUSED:
        return "the module has no DFOTA over UART (ERROR)";
    case UPL_EBLOCK:
        return "a block failed after all tries";
    case UPL_EUPDATE:
        return "the update failed";
    case UPL_EUPDATE_TIMEOUT:
        return "no end of the update in time";
    case UPL_EINVAL:
        break;
    }
    return "bad options or package";
}

/* ---- The port: bytes in and out, lines in, with deadlines -------------------- */

struct port {
    int fd;
    uint8_t in[512];
    size_t in_len, in_pos;
    char line[LINE_MAX_LEN]; /* the line being received */
    size_t len;
    bool too_long;
    int err; /* errno of the failure; EIO when the device went away */
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for `events` until deadline: 1 ready, 0 timeout,
 * -1 error (p->err). */
static int wait_fd(struct port *p, short events, long deadline)
{
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = p->fd, .events = events};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            p->err = errno;
            return -1;
        }
        if (r == 0)
            return 0;
        if (pfd.revents & POLLNVAL) {
            p->err = EBADF;
            return -1;
        }
        return 1; /* POLLHUP or POLLERR too: the read or write says what */
    }
}

/* The next byte, -1 at the deadline, -2 on an error. */
static int next_byte(struct port *p, long deadline)
{
    while (p->in_pos == p->in_len) {
        int w = wait_fd(p, POLLIN, deadline);
        if (w <= 0)
            return w == 0 ? -1 : -2;
        ssize_t n = read(p->fd, p->in, sizeof p->in);
        if (n > 0) {
            p->in_len = (size_t)n;
            p->in_pos = 0;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            p->err = n == 0 ? EIO : errno; /* a hung-up PTY reads EIO or end of file */
            return -2;
        }
    }
    return p->in[p->in_pos++];
}

enum got { GOT_LINE, GOT_PROMPT, GOT_TIMEOUT, GOT_ERROR };

/* The next non-empty line into out (LINE_MAX_LEN bytes), without its line
 * end or trailing blanks. With `prompt`, a '>' at the start of a line counts
 * at once: the module sends it with no line end after it. */
static enum got get(struct port *p, long deadline, bool prompt, char *out)
{
    for (;;) {
        int c = next_byte(p, deadline);
        if (c == -1)
            return GOT_TIMEOUT;
        if (c == -2)
            return GOT_ERROR;
        if (c == '\r' || c == '\n') {
            bool skip = p->too_long || p->len == 0;
            while (p->len > 0 && p->line[p->len - 1] == ' ')
                p->len--;
            memcpy(out, p->line, p->len);
            out[p->len] = '\0';
            p->len = 0;
            p->too_long = false;
            if (!skip && out[0] != '\0')
                return GOT_LINE;
            continue;
        }
        if (p->len + 1 < LINE_MAX_LEN)
            p->line[p->len++] = (char)c;
        else
            p->too_long = true;
        if (prompt && p->len == 1 && c == '>') {
            p->len = 0;
            return GOT_PROMPT;
        }
    }
}

/* Writes everything by the deadline: 1 done, 0 timeout, -1 error. */
static int put(struct port *p, const void *data, size_t len, long deadline)
{
    const uint8_t *b = data;
    while (len > 0) {
        ssize_t n = write(p->fd, b, len);
        if (n > 0) {
            b += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            p->err = errno;
            return -1;
        }
        int w = wait_fd(p, POLLOUT, deadline);
        if (w <= 0)
            return w;
    }
    return 1;
}

static bool is_ok(const char *line)
{
    return strcmp(line, "OK") == 0;
}

static bool is_error(const char *line)
{
    return strcmp(line, "ERROR") == 0 || strncmp(line, "+CME ERROR", 10) == 0;
}

/* ---- The session ------------------------------------------------------------ */

struct up {
    struct port port;
    const struct upl_options *o;
    size_t done, total;
};

static void emit(struct up *u, struct upl_event ev)
{
    ev.done = u->done;
    ev.total = u->total;
    if (u->o->event)
        u->o->event(&ev, u->o->ctx);
}

/* Milliseconds that n bytes take on the line (10 bits each, 8N1). */
static long line_ms(const struct up *u, size_t n)
{
    return (long)((n * 10 * 1000 + u->o->baud - 1) / u->o->baud);
}

/* Sends a command line (with its CR): 1, 0 if the line would not take it in
 * time, -1 on an error. */
static int command(struct up *u, const char *cmd)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s\r", cmd);
    return put(&u->port, line, (size_t)n, now_ms() + SHORT_MS + line_ms(u, (size_t)n));
}

enum final { FINAL_OK, FINAL_ERROR, FINAL_NONE, FINAL_IO };

/* The final result of a short command; with `ok_only`, ERROR is skipped too
 * (AT never answers it: such an ERROR is an older line's). */
static enum final short_answer(struct up *u, bool ok_only)
{
    char line[LINE_MAX_LEN];
    long deadline = now_ms() + SHORT_MS;
    for (;;) {
        enum got g = get(&u->port, deadline, false, line);
        if (g == GOT_TIMEOUT)
            return FINAL_NONE;
        if (g == GOT_ERROR)
            return FINAL_IO;
        if (is_ok(line))
            return FINAL_OK;
        if (is_error(line) && !ok_only)
            return FINAL_ERROR;
    }
}

/* AT until OK. From the second try on, AT+QFUPLEX=ESC goes first: a module
 * left in data mode (by a host that died in a block) takes "AT" as data. */
static enum upl_status sync_module(struct up *u, unsigned tries)
{
    for (unsigned i = 0; i < tries; i++) {
        if (i > 0) {
            if (command(u, "AT+QFUPLEX=ESC") < 0 || short_answer(u, false) == FINAL_IO)
                return UPL_EIO;
        }
        int w = command(u, "AT");
        if (w < 0)
            return UPL_EIO;
        enum final f = w ? short_answer(u, true) : FINAL_NONE;
        if (f == FINAL_OK)
            return UPL_OK;
        if (f == FINAL_IO)
            return UPL_EIO;
    }
    return UPL_ENOANSWER;
}

enum try_result { T_OK, T_REFUSED, T_ERROR, T_TIMEOUT, T_NO_PROMPT, T_NO_ANSWER, T_IO };

static const char *const try_why[] = {
    [T_OK] = "ok",           [T_REFUSED] = "refused",     [T_ERROR] = "error",
    [T_TIMEOUT] = "timeout", [T_NO_PROMPT] = "no-prompt", [T_NO_ANSWER] = "no-answer",
    [T_IO] = "io",
};

/* One try of block n: the command, '>', the data and its CRC (low byte
 * first), the answer. */
static enum try_result try_block(struct up *u, uint32_t n, const uint8_t *data, size_t len)
{
    char cmd[64], line[LINE_MAX_LEN];
    snprintf(cmd, sizeof cmd, "AT+QFUPLEX=%u,%u,%zu,%u", u->o->block_size, (unsigned)n, len + 2,
             u->o->timeout_s);
    int w = command(u, cmd);
    if (w <= 0)
        return w < 0 ? T_IO : T_NO_PROMPT;
    /* A module whose '>' was lost waits in data mode and ends it itself at
     * <timeout> (+QFUPLEX: -2,TIMEOUT, ERROR); one that says nothing at all
     * by then is escaped from. */
    long deadline =
        now_ms() + (long)u->o->timeout_s * 1000 + ANSWER_MARGIN_MS + line_ms(u, strlen(cmd) + 8);
    bool timed_out = false;
    for (;;) {
        enum got g = get(&u->port, deadline, true, line);
        if (g == GOT_PROMPT)
            break;
        if (g == GOT_TIMEOUT)
            return T_NO_PROMPT;
        if (g == GOT_ERROR)
            return T_IO;
        if (strncmp(line, "+QFUPLEX:", 9) == 0 && strstr(line, "TIMEOUT"))
            timed_out = true;
        if (is_error(line)) /* refused before data mode: nothing sent, nothing changed */
            return timed_out ? T_NO_PROMPT : T_REFUSED;
    }
    uint16_t crc = upl_crc16(0, data, len);
    uint8_t tail[2] = {(uint8_t)(crc & 0xff), (uint8_t)(crc >> 8)};
    deadline = now_ms() + (long)u->o->timeout_s * 1000 + line_ms(u, len + 2);
    w = put(&u->port, data, len, deadline);
    if (w > 0)
        w = put(&u->port, tail, sizeof tail, deadline);
    if (w <= 0)
        return w < 0 ? T_IO : T_NO_ANSWER;
    /* The module times out <timeout> after '>'; a little later we stop waiting. */
    deadline = now_ms() + (long)u->o->timeout_s * 1000 + ANSWER_MARGIN_MS;
    timed_out = false;
    for (;;) {
        enum got g = get(&u->port, deadline, false, line);
        if (g == GOT_TIMEOUT)
            return T_NO_ANSWER;
        if (g == GOT_ERROR)
            return T_IO;
        if (strncmp(line, "+QFUPLEX:", 9) == 0 && strstr(line, "TIMEOUT"))
            timed_out = true;
        /* OK comes only after the block is written; "+QFUPLEX: <writelen>"
         * before it is not needed to know that. */
        if (is_ok(line))
            return timed_out ? T_TIMEOUT : T_OK;
        if (is_error(line))
            return timed_out ? T_TIMEOUT : T_ERROR;
    }
}

/* AT+QFUPLEX=ESC: out of data mode if the module is still in it (answered
 * +QFUPLEX: -1,ESC and OK, in data mode or not; ERROR when the bytes of the
 * line completed a block first). */
static enum upl_status escape(struct up *u, uint32_t n)
{
    int w = command(u, "AT+QFUPLEX=ESC");
    if (w < 0)
        return UPL_EIO;
    enum final f = w ? short_answer(u, false) : FINAL_NONE;
    if (f == FINAL_IO)
        return UPL_EIO;
    static const char *const said[] = {
        [FINAL_OK] = "ok", [FINAL_ERROR] = "error", [FINAL_NONE] = "none"};
    emit(u, (struct upl_event){.type = UPL_EV_ESCAPE, .block = n, .what = said[f]});
    return UPL_OK;
}

static enum upl_status fail(struct upl_result *r, enum upl_status s, int err)
{
    r->status = s;
    if (s == UPL_EIO) {
        r->sys_errno = err;
        r->why = strerror(err);
    }
    return s;
}

/* Every block, each tried until it is written or its tries are spent. */
static enum upl_status upload(struct up *u, const uint8_t *pkg, struct upl_result *r)
{
    uint32_t nblocks = (uint32_t)((u->total + u->o->block_size - 1) / u->o->block_size);
    for (uint32_t n = 0; n < nblocks; n++) {
        size_t off = (size_t)n * u->o->block_size;
        size_t len = u->total - off < u->o->block_size ? u->total - off : u->o->block_size;
        struct upl_event ev = {.block = n, .offset = off, .len = len};
        /* Its answer was lost: it may be written, and a module that keeps
         * blocks in sequence refuses it again. Then it is taken as written. */
        bool maybe_written = false;
        for (unsigned t = 1;; t++) {
            enum try_result res = try_block(u, n, pkg + off, len);
            if (res == T_IO)
                return fail(r, UPL_EIO, u->port.err);
            ev.tries = t;
            if (res == T_OK || (res == T_REFUSED && maybe_written)) {
                u->done += len;
                ev.type = UPL_EV_BLOCK;
                ev.what = res == T_OK ? "ok" : "assumed";
                emit(u, ev);
                break;
            }
            if (res == T_ERROR || res == T_TIMEOUT)
                maybe_written = false; /* the module answered for this try */
            if (res == T_NO_ANSWER)
                maybe_written = true;
            if (res == T_NO_PROMPT || res == T_NO_ANSWER) {
                enum upl_status s = escape(u, n);
                if (s != UPL_OK)
                    return fail(r, s, u->port.err);
            }
            if (t > u->o->retries) {
                r->block = n;
                r->why = try_why[res];
                return fail(r, UPL_EBLOCK, 0);
            }
            ev.type = UPL_EV_RETRY;
            ev.what = try_why[res];
            emit(u, ev);
            /* Whatever is left of the failure (late lines, a half line in
             * the module) is behind us once AT is answered. */
            enum upl_status s = sync_module(u, RESYNC_TRIES);
            if (s != UPL_OK)
                return fail(r, s, u->port.err);
        }
    }
    emit(u, (struct upl_event){.type = UPL_EV_UPLOADED});
    return UPL_OK;
}

/* `s` after a '"' or a ',' and blanks: the start of the next field. */
static const char *after(const char *s, char c)
{
    while (*s == ' ')
        s++;
    if (*s != c)
        return NULL;
    s++;
    while (*s == ' ')
        s++;
    return s;
}

/* +QIND: "FOTA","<state>"[,<rest>]: the state into state, rest (or "") out. */
static const char *fota_urc(const char *line, char *state, size_t size)
{
    if (strncmp(line, "+QIND:", 6) != 0)
        return NULL;
    const char *s = after(line + 6, '"');
    if (!s || strncmp(s, "FOTA\"", 5) != 0 || !(s = after(s + 5, ',')) || !(s = after(s, '"')))
        return NULL;
    size_t n = strcspn(s, "\"");
    if (s[n] != '"' || n >= size)
        return NULL;
    memcpy(state, s, n);
    state[n] = '\0';
    const char *rest = after(s + n + 1, ',');
    return rest ? rest : "";
}

/* AT+QFOTADL=1, then its URCs to END. */
static enum upl_status update(struct up *u, struct upl_result *r)
{
    int w = command(u, "AT+QFOTADL=1");
    if (w < 0)
        return fail(r, UPL_EIO, u->port.err);
    long deadline = now_ms() + (long)u->o->update_timeout_s * 1000;
    bool started = false;
    char line[LINE_MAX_LEN], state[32];
    for (;;) {
        enum got g = get(&u->port, deadline, false, line);
        if (g == GOT_TIMEOUT)
            return fail(r, UPL_EUPDATE_TIMEOUT, 0);
        if (g == GOT_ERROR)
            return fail(r, UPL_EIO, u->port.err);
        if (is_error(line) && !started)
            return fail(r, UPL_EREFUSED, 0);
        if (strcmp(line, "RDY") == 0) /* the module boots into the new firmware */
            emit(u, (struct upl_event){.type = UPL_EV_STATE, .what = "RDY"});
        const char *rest = fota_urc(line, state, sizeof state);
        if (!rest)
            continue;
        started = true;
        if (strcmp(state, "UPDATING") == 0) {
            emit(u, (struct upl_event){.type = UPL_EV_PERCENT, .value = atoi(rest)});
        } else if (strcmp(state, "END") == 0) {
            int err = atoi(rest);
            emit(u, (struct upl_event){.type = UPL_EV_END, .value = err});
            if (err == 0)
                return UPL_OK;
            r->end_err = err;
            return fail(r, UPL_EUPDATE, 0);
        } else {
            emit(u, (struct upl_event){.type = UPL_EV_STATE, .what = state});
        }
    }
}

static enum upl_status invalid(struct upl_result *r, const char *why)
{
    r->status = UPL_EINVAL;
    r->why = why;
    return UPL_EINVAL;
}

enum upl_status upl_run(int fd, const uint8_t *pkg, size_t len, const struct upl_options *o,
                        struct upl_result *r)
{
    memset(r, 0, sizeof *r);
    unsigned bs = o->block_size;
    if (bs < UPL_BLOCK_MIN || bs > UPL_BLOCK_MAX || (bs & (bs - 1)) != 0)
        return invalid(r, "the block size is not 128, 256, ... 8192");
    if (o->timeout_s < UPL_TIMEOUT_MIN || o->timeout_s > UPL_TIMEOUT_MAX)
        return invalid(r, "the timeout is not 1-60 s");
    if (o->baud == 0)
        return invalid(r, "no baud rate");
    if (len == 0)
        return invalid(r, "the package is empty");
    if ((len + bs - 1) / bs > UPL_BLOCKS_MAX)
        return invalid(r, "the package has more than 65536 blocks of this size");
    struct up u = {.port = {.fd = fd}, .o = o, .total = len};
    if ((long)o->timeout_s * 1000 <= line_ms(&u, bs + 2))
        return invalid(r, "a block takes longer than the timeout at this baud rate");
    enum upl_status s = sync_module(&u, SYNC_TRIES);
    if (s != UPL_OK)
        return fail(r, s, u.port.err);
    /* The test command costs a line and tells a module without the command
     * (a BC260Y-CN, older firmware) before any block is sent. */
    if (command(&u, "AT+QFUPLEX=?") < 0)
        return fail(r, UPL_EIO, u.port.err);
    switch (short_answer(&u, false)) {
    case FINAL_OK:
        break;
    case FINAL_ERROR:
        return fail(r, UPL_EREFUSED, 0);
    case FINAL_NONE:
        return fail(r, UPL_ENOANSWER, 0);
    case FINAL_IO:
        return fail(r, UPL_EIO, u.port.err);
    }
    s = upload(&u, pkg, r);
    if (s != UPL_OK || !o->update)
        return s;
    return update(&u, r);
}
