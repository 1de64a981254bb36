#include "sim/control/control.h"

#include "sim/control/words.h"

#include "sim/base/num.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_LINE_MAX    8192         /* a command line, its newline included */
#define CTL_QUEUE_MAX   (64 * 1024)  /* replies queued beyond this: stop reading the client */
#define CTL_BACKLOG_MAX (256 * 1024) /* an events reader this far behind is dropped */

struct ctl_conn {
    uv_pipe_t pipe;
    struct ctl_server *server;
    struct ctl_conn *next;
    char line[CTL_LINE_MAX + 1]; /* input not yet answered, and room for a NUL */
    size_t len;
    unsigned writes; /* write requests not completed yet */
    bool streaming;  /* `events` was asked for */
    bool reading;    /* uv_read_start is in effect */
    bool eof;        /* the client shut down its side: no more input */
    bool hangup;     /* close once the replies are out (a protocol error) */
    bool closing;
};

/* ---- Connections --------------------------------------------------------- */

static void on_event(void *ctx, const char *line);
static void conn_pump(struct ctl_conn *c);

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Drops the client at once, queued replies included (its writes complete
 * with UV_ECANCELED before on_conn_closed frees it). */
static void conn_close(struct ctl_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->streaming)
        evt_unsubscribe(c->server->events, on_event, c);
    for (struct ctl_conn **p = &c->server->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static size_t queued(struct ctl_conn *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

static void on_written(uv_write_t *req, int status)
{
    struct ctl_conn *c = req->handle->data;
    free(req);
    c->writes--;
    if (c->closing)
        return;
    if (status < 0) { /* EPIPE, ECONNRESET: the client has gone; the others stay */
        conn_close(c);
        return;
    }
    conn_pump(c); /* the queue drained a little: more input may be answered */
}

static void conn_send(struct ctl_conn *c, const char *text)
{
    if (c->closing)
        return;
    /* Only an event stream can outgrow the queue: commands wait (conn_pump). */
    if (c->streaming && queued(c) > CTL_BACKLOG_MAX) {
        conn_close(c);
        return;
    }
    size_t n = strlen(text);
    uv_write_t *req = malloc(sizeof *req + n + 1);
    if (!req) { /* a reply lost in the middle of a conversation: end it */
        conn_close(c);
        return;
    }
    char *copy = (char *)(req + 1);
    memcpy(copy, text, n);
    copy[n] = '\n';
    uv_buf_t buf = uv_buf_init(copy, (unsigned)n + 1);
    if (uv_write(req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) != 0) {
        free(req);
        conn_close(c);
        return;
    }
    c->writes++;
}

static void reply_ok(struct ctl_conn *c)
{
    conn_send(c, "{\"ok\":true}");
}

static void reply_error(struct ctl_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reply_error(struct ctl_conn *c, const char *fmt, ...)
{
    char msg[256], buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct jw w;
    jw_begin(&w, buf, sizeof buf);
    jw_bool(&w, "ok", false);
    jw_str(&w, "error", msg);
    conn_send(c, jw_end(&w));
}

static void on_event(void *ctx, const char *line)
{
    conn_send(ctx, line);
}

/* ---- Commands ------------------------------------------------------------ */

static void cmd_status(struct ctl_conn *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct module *m = c->server->m;
    char buf[2048], speed[32];
    struct jw w;
    clk_describe(m->clk, speed, sizeof speed);
    jw_begin(&w, buf, sizeof buf);
    jw_bool(&w, "ok", true);
    jw_str(&w, "model", m->prof->id);
    jw_str(&w, "product", m->prof->model);
    jw_str(&w, "revision", m->revision);
    jw_str(&w, "firmware", m->bricked ? "bricked" : "ok");
    jw_str(&w, "firmware_why", m->brick_why);
    jw_str(&w, "imei", m->imei);
    jw_str(&w, "power", mod_power_name(m->power));
    jw_str(&w, "network", net_stat_name(m->net.stat));
    jw_bool(&w, "cell", m->net.cell);
    jw_str(&w, "ip", m->net.pdn ? m->net.ip : "");
    jw_str(&w, "fota", fota_phase_name(&m->fota));
    jw_str(&w, "fota_why", fota_why(&m->fota));
    jw_int(&w, "flash_ops", (int64_t)m->flash.flash.count.ops);
    jw_str(&w, "pty", m->uart.pty.path);
    jw_bool(&w, "host_attached", uart_host_attached(&m->uart));
    jw_int(&w, "baud", m->ipr);
    jw_bool(&w, "autobaud_locked", m->uart.synced);
    jw_str(&w, "speed", speed);
    jw_int(&w, "uart_bytes_dropped", (int64_t)m->uart.dropped);
    conn_send(c, jw_end(&w));
}

static void cmd_power(struct ctl_conn *c, int argc, char **argv)
{
    struct module *m = c->server->m;
    const char *what = argc == 2 ? argv[1] : "";
    if (strcmp(what, "on") == 0) {
        mod_power_on(m);
    } else if (strcmp(what, "off") == 0) {
        mod_power_off(m);
    } else if (strcmp(what, "cut") == 0) {
        mod_power_cut(m);
    } else if (strcmp(what, "cycle") == 0) {
        mod_power_off(m);
        mod_power_on(m);
    } else {
        reply_error(c, "usage: power on|off|cycle|cut");
        return;
    }
    reply_ok(c);
}

static void cmd_net(struct ctl_conn *c, int argc, char **argv)
{
    struct module *m = c->server->m;
    const char *what = argc == 2 ? argv[1] : "";
    bool attach = strcmp(what, "attach") == 0, detach = strcmp(what, "detach") == 0,
         deny = strcmp(what, "deny") == 0;
    if (!attach && !detach && !deny) {
        reply_error(c, "usage: net attach|detach|deny");
        return;
    }
    mod_event(m, "cell", "state", what);
    net_set_cell(&m->net, !detach, detach ? m->net.deny : deny);
    reply_ok(c);
}

static void cmd_urc(struct ctl_conn *c, int argc, char **argv)
{
    struct module *m = c->server->m;
    if (argc != 2) {
        reply_error(c, "usage: urc TEXT");
        return;
    }
    if (m->power == MOD_POWER_OFF) {
        reply_error(c, "the module is powered off");
        return;
    }
    mod_urc(m, "%s", argv[1]);
    reply_ok(c);
}

static void cmd_override(struct ctl_conn *c, int argc, char **argv)
{
    struct module *m = c->server->m;
    if (argc == 2 && strcmp(argv[1], "clear") == 0) {
        at_override_clear(&m->at);
        reply_ok(c);
        return;
    }
    bool once = argc == 4 && strcmp(argv[3], "once") == 0;
    if (argc != 3 && !once) {
        reply_error(c, "usage: override \"AT-COMMAND\" \"REPLY\" [once] | override clear");
        return;
    }
    if (at_override_add(&m->at, argv[1], argv[2], once) != 0) {
        reply_error(c, "too many overrides (clear them with: override clear)");
        return;
    }
    reply_ok(c);
}

/* Flash faults of the running module: the flash entries of the fault registry. */
enum fault_kind {
    FAULT_PROGRAM,
    FAULT_ERASE,
    FAULT_CAPACITY,
    FAULT_CUT,
    FAULT_TEAR,
    FAULT_WORN,
    FAULT_CLEAR
};

static const struct {
    const char *name;
    enum fault_kind kind;
    const char *arg; /* the number's name, NULL for none */
    bool optional;   /* the number defaults to 1 */
} faults[] = {
    {"flash-program", FAULT_PROGRAM, "N", true},
    {"flash-erase", FAULT_ERASE, "N", true},
    {"flash-capacity", FAULT_CAPACITY, "BYTES", false},
    {"flash-cut", FAULT_CUT, "N", false},
    {"flash-tear", FAULT_TEAR, "N", false},
    {"flash-worn", FAULT_WORN, "N", true},
    {"clear", FAULT_CLEAR, NULL, false},
};

/* Counts and sizes: at least 1, and small enough that adding them to the
 * flash's 64-bit counters cannot wrap. */
#define FAULT_NUM_MAX UINT32_MAX

static void cmd_fault(struct ctl_conn *c, int argc, char **argv)
{
    struct flash *f = &c->server->m->flash.flash;
    const char *what = argc >= 2 ? argv[1] : "";
    size_t k = 0;
    while (k < sizeof faults / sizeof faults[0] && strcmp(faults[k].name, what) != 0)
        k++;
    bool known = k < sizeof faults / sizeof faults[0];
    if (!known || argc > 3 || (argc == 3 && !faults[k].arg) ||
        (argc == 2 && faults[k].arg && !faults[k].optional)) {
        reply_error(c, "usage: fault flash-program [N] | flash-erase [N] | flash-capacity BYTES | "
                       "flash-cut N | flash-tear N | flash-worn [N] | clear");
        return;
    }
    int64_t v = 1;
    if (argc == 3 && num_parse(argv[2], 1, FAULT_NUM_MAX, &v) != 0) {
        reply_error(c, "fault %s: %s must be a whole number from 1 to %u, not '%s'", what,
                    faults[k].arg, FAULT_NUM_MAX, argv[2]);
        return;
    }
    switch (faults[k].kind) {
    case FAULT_PROGRAM:
        f->faults.fail_program_at = f->count.programs + (uint64_t)v;
        break;
    case FAULT_ERASE:
        f->faults.fail_erase_at = f->count.erases + (uint64_t)v;
        break;
    case FAULT_CAPACITY:
        f->faults.fota_capacity = (uint32_t)v;
        break;
    case FAULT_CUT:
    case FAULT_TEAR:
        f->faults.cut_after = f->count.ops + (uint64_t)v;
        f->faults.cut_mode = faults[k].kind == FAULT_CUT ? FLASH_CUT_CLEAN : FLASH_CUT_TORN;
        break;
    case FAULT_WORN: /* the Nth next operation and every later one fail, until "fault clear" */
        f->faults.worn_from = f->count.ops + (uint64_t)v;
        break;
    case FAULT_CLEAR:
        f->faults = (struct flash_faults){0};
        break;
    }
    mod_event(c->server->m, "fault", "set", what);
    reply_ok(c);
}

static void cmd_events(struct ctl_conn *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (evt_subscribe(c->server->events, on_event, c) != 0) {
        reply_error(c, "too many event streams");
        return;
    }
    c->streaming = true;
    reply_ok(c);
}

static const struct {
    const char *name;
    void (*fn)(struct ctl_conn *c, int argc, char **argv);
} commands[] = {
    {"status", cmd_status},     {"power", cmd_power},   {"net", cmd_net},     {"urc", cmd_urc},
    {"override", cmd_override}, {"events", cmd_events}, {"fault", cmd_fault},
};

static void dispatch(struct ctl_conn *c, char *line)
{
    char *argv[WORDS_MAX];
    int argc = words_split(line, argv);
    if (argc < 0) {
        reply_error(c, "cannot parse the command line (quotes or too many words)");
        return;
    }
    if (argc == 0)
        return;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, argv[0]) == 0) {
            commands[i].fn(c, argc, argv);
            return;
        }
    }
    reply_error(c, "unknown command '%s' (status, power, net, urc, override, fault, events)",
                argv[0]);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct ctl_conn *c = h->data;
    static char scratch[64];
    if (c->len == CTL_LINE_MAX) /* full: read into scratch, the line is too long */
        *buf = uv_buf_init(scratch, sizeof scratch);
    else
        *buf = uv_buf_init(c->line + c->len, (unsigned)(CTL_LINE_MAX - c->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void set_reading(struct ctl_conn *c, bool on)
{
    if (on == c->reading)
        return;
    if (on && uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0) {
        conn_close(c);
        return;
    }
    if (!on)
        uv_read_stop((uv_stream_t *)&c->pipe);
    c->reading = on;
}

static void too_long(struct ctl_conn *c)
{
    reply_error(c, "command line longer than %d bytes", CTL_LINE_MAX - 1);
    c->len = 0;
    c->hangup = true;
}

/* Answers the buffered lines while the client keeps up with the replies
 * (back-pressure: a client that writes faster than it reads waits, it is not
 * dropped), reads more once they are answered, and hangs up when a client
 * that has finished sending has all its replies. */
static void conn_pump(struct ctl_conn *c)
{
    while (!c->closing && !c->hangup && c->len > 0 && queued(c) <= CTL_QUEUE_MAX) {
        char *nl = memchr(c->line, '\n', c->len);
        if (!nl && !c->eof)
            break; /* the rest of the line is still on its way */
        if (!nl && c->len == CTL_LINE_MAX) {
            too_long(c);
            break;
        }
        size_t used = nl ? (size_t)(nl - c->line) + 1 : c->len; /* at EOF: the last line */
        char *end = nl ? nl : c->line + c->len;
        *end = '\0';
        if (end > c->line && end[-1] == '\r')
            end[-1] = '\0';
        dispatch(c, c->line);
        memmove(c->line, c->line + used, c->len - used);
        c->len -= used;
    }
    if (c->closing)
        return;
    if (c->eof || c->hangup) {
        set_reading(c, false);
        /* An event stream goes on after a half-close, until the client leaves. */
        if (c->len == 0 && c->writes == 0 && (c->hangup || !c->streaming))
            conn_close(c);
        return;
    }
    set_reading(c, queued(c) <= CTL_QUEUE_MAX && !memchr(c->line, '\n', c->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ctl_conn *c = stream->data;
    if (c->closing)
        return;
    if (nread == UV_EOF) {
        c->eof = true;
    } else if (nread < 0) { /* ECONNRESET: the client has gone */
        conn_close(c);
        return;
    } else if (nread > 0 && buf->base != c->line + c->len) {
        too_long(c);
    } else {
        c->len += (size_t)nread;
    }
    conn_pump(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct ctl_server *s = server->data;
    if (status < 0)
        return;
    struct ctl_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->server = s;
    uv_pipe_init(server->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
        return;
    }
    c->next = s->conns;
    s->conns = c;
    set_reading(c, true);
}

/* A socket file left by a crashed emulator is replaced; a live one is not. */
static bool socket_in_use(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    bool live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return live;
}

/* Binds the socket here rather than with uv_pipe_bind: libuv unlinks a path
 * it bound when the handle closes, whoever's file is there by then. */
static int bind_socket(const char *path, int *out)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1); /* fits: checked by the caller */
    mode_t old = umask(0177);                    /* the socket is born 0600: no window for others */
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa), e = errno;
    umask(old);
    if (r != 0) {
        close(fd);
        return -e;
    }
    *out = fd;
    return 0;
}

int ctl_server_start(struct ctl_server *s, uv_loop_t *loop, const char *path, struct module *m,
                     struct evt_bus *events, char *why, size_t why_size)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->events = events;
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(why, why_size, "control socket path too long (max %zu bytes): %s",
                 sizeof sa.sun_path - 1, path);
        return -ENAMETOOLONG;
    }
    memcpy(s->path, path, strlen(path) + 1); /* fits: checked against sun_path */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(why, why_size, "%s exists and is not a socket", path);
            return -EEXIST;
        }
        if (socket_in_use(path)) {
            snprintf(why, why_size, "control socket %s is in use by another process", path);
            return -EADDRINUSE;
        }
        unlink(path);
    }
    int fd = -1, err = bind_socket(path, &fd);
    struct stat own;
    if (!err && lstat(path, &own) != 0)
        err = -errno;
    if (!err) {
        s->dev = own.st_dev;
        s->ino = own.st_ino;
        s->owned = true;
        uv_pipe_init(loop, &s->pipe, 0);
        s->pipe.data = s;
        err = uv_pipe_open(&s->pipe, fd);
        if (!err) {
            fd = -1; /* the handle's now */
            err = uv_listen((uv_stream_t *)&s->pipe, 8, on_connection);
        }
        if (err)
            uv_close((uv_handle_t *)&s->pipe, NULL);
    }
    if (err) {
        snprintf(why, why_size, "cannot listen on control socket %s: %s", path, uv_strerror(err));
        if (fd >= 0)
            close(fd);
        if (s->owned)
            unlink(path);
        s->owned = false;
        return err;
    }
    s->open = true;
    return 0;
}

void ctl_server_stop(struct ctl_server *s)
{
    if (!s->open)
        return;
    while (s->conns)
        conn_close(s->conns);
    uv_close((uv_handle_t *)&s->pipe, NULL);
    /* Remove the file only if it is still the one bound: if the path was
     * taken over (the file removed or renamed, and a second emulator bound
     * there), unlinking would cut that one off. */
    struct stat st;
    if (s->owned && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
    s->open = false;
}
