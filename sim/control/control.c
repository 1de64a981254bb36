#include "sim/control/control.h"

#include "sim/control/api.h"
#include "sim/control/words.h"

#include "sim/base/num.h"

#include <errno.h>
#include <limits.h>
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
    char scratch[64];            /* where the rest of a line too long goes, unread */
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

/* Each turns its words into one call of the control API (api.h), which holds
 * the rules; a refusal's reason comes back as the error. */

static void cmd_status(struct ctl_conn *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct simctl_status st;
    simctl_status(c->server->m, &st);
    char buf[2048];
    struct jw w;
    jw_begin(&w, buf, sizeof buf);
    jw_bool(&w, "ok", true);
    jw_str(&w, "model", st.model);
    jw_str(&w, "product", st.product);
    jw_str(&w, "revision", st.revision);
    jw_str(&w, "firmware", st.bricked ? "bricked" : "ok");
    jw_str(&w, "firmware_why", st.firmware_why);
    jw_str(&w, "imei", st.imei);
    jw_str(&w, "power", st.power);
    jw_str(&w, "network", st.network);
    jw_bool(&w, "cell", st.cell);
    jw_bool(&w, "dns_fails", st.dns_fails);
    jw_str(&w, "ip", st.ip);
    jw_str(&w, "fota", st.fota);
    jw_str(&w, "fota_why", st.fota_why);
    jw_int(&w, "flash_ops", (int64_t)st.flash_ops);
    jw_int(&w, "downloaded", (int64_t)st.downloaded);
    jw_str(&w, "pty", st.pty);
    jw_bool(&w, "host_attached", st.host_attached);
    jw_int(&w, "baud", st.baud);
    jw_bool(&w, "autobaud_locked", st.autobaud_locked);
    jw_str(&w, "speed", st.speed);
    jw_int(&w, "uart_bytes_dropped", (int64_t)st.uart_bytes_dropped);
    jw_int(&w, "uart_writes", (int64_t)st.uart_writes);
    conn_send(c, jw_end(&w));
}

static void cmd_power(struct ctl_conn *c, int argc, char **argv)
{
    enum simctl_power p;
    if (argc != 2 || simctl_power_find(argv[1], &p) != 0) {
        reply_error(c, "usage: power on|off|cycle|cut");
        return;
    }
    simctl_power(c->server->m, p);
    reply_ok(c);
}

static void cmd_net(struct ctl_conn *c, int argc, char **argv)
{
    enum simctl_net n;
    if (argc != 2 || simctl_net_find(argv[1], &n) != 0) {
        reply_error(c, "usage: net attach|detach|deny");
        return;
    }
    simctl_net(c->server->m, n);
    reply_ok(c);
}

static void cmd_dns(struct ctl_conn *c, int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "fail") != 0 && strcmp(argv[1], "ok") != 0)) {
        reply_error(c, "usage: dns fail|ok");
        return;
    }
    simctl_dns(c->server->m, strcmp(argv[1], "fail") == 0);
    reply_ok(c);
}

/* The values as they are now, whatever the command did. */
static void reply_signal(struct ctl_conn *c)
{
    struct simctl_status st;
    simctl_status(c->server->m, &st);
    char buf[512];
    struct jw w;
    jw_begin(&w, buf, sizeof buf);
    jw_bool(&w, "ok", true);
    for (const struct simctl_signal_field *f = simctl_signal_fields; f->name; f++)
        jw_int(&w, f->name, simctl_signal_field_get(&st.signal, f));
    conn_send(c, jw_end(&w));
}

#define SIGNAL_USAGE                                                                               \
    "usage: signal [reset | FIELD=VALUE...] (FIELD: rxlev ber rscp ecno rsrq rsrp rssi csq_ber)"

/* signal [reset | FIELD=VALUE...]: the fields named change, together or not
 * at all; the others keep their values. */
static void cmd_signal(struct ctl_conn *c, int argc, char **argv)
{
    struct module *m = c->server->m;
    if (argc == 2 && strcmp(argv[1], "reset") == 0) {
        simctl_signal_reset(m);
        reply_signal(c);
        return;
    }
    struct simctl_status st;
    simctl_status(m, &st);
    struct prof_signal want = st.signal;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            reply_error(c, SIGNAL_USAGE);
            return;
        }
        *eq = '\0';
        const struct simctl_signal_field *f = simctl_signal_field_find(argv[i]);
        if (!f) {
            reply_error(c, "signal: no field '%s' (rxlev ber rscp ecno rsrq rsrp rssi csq_ber)",
                        argv[i]);
            return;
        }
        int64_t v;
        if (num_parse(eq + 1, 0, INT_MAX, &v) != 0) {
            reply_error(c,
                        "signal %s: must be a whole number from 0 to %d, or %d (not known), "
                        "not '%s'",
                        f->name, f->max, f->unknown, eq + 1);
            return;
        }
        simctl_signal_field_set(&want, f, (int)v);
    }
    char why[256];
    if (simctl_signal(m, &want, why, sizeof why) != 0) {
        reply_error(c, "%s", why);
        return;
    }
    reply_signal(c);
}

static void cmd_urc(struct ctl_conn *c, int argc, char **argv)
{
    if (argc != 2) {
        reply_error(c, "usage: urc TEXT");
        return;
    }
    char why[256];
    if (simctl_urc(c->server->m, argv[1], why, sizeof why) != 0) {
        reply_error(c, "%s", why);
        return;
    }
    reply_ok(c);
}

static void cmd_override(struct ctl_conn *c, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "clear") == 0) {
        simctl_override_clear(c->server->m);
        reply_ok(c);
        return;
    }
    bool once = argc == 4 && strcmp(argv[3], "once") == 0;
    if (argc != 3 && !once) {
        reply_error(c, "usage: override \"AT-COMMAND\" \"REPLY\" [once] | override clear");
        return;
    }
    char why[256];
    if (simctl_override_add(c->server->m, argv[1], argv[2], once, why, sizeof why) != 0) {
        reply_error(c, "%s", why);
        return;
    }
    reply_ok(c);
}

static void cmd_fault(struct ctl_conn *c, int argc, char **argv)
{
    const struct simctl_fault_desc *d = argc >= 2 ? simctl_fault_find(argv[1]) : NULL;
    if (!d || argc > 3 || (argc == 3 && !d->arg) || (argc == 2 && d->arg && !d->optional)) {
        char usage[512];
        simctl_fault_usage(usage, sizeof usage);
        reply_error(c, "usage: fault %s", usage);
        return;
    }
    int64_t v = 1;
    if (argc == 3 && num_parse(argv[2], SIMCTL_FAULT_MIN, SIMCTL_FAULT_MAX, &v) != 0) {
        reply_error(c, "fault %s: %s must be a whole number from %d to %u, not '%s'", d->name,
                    d->arg, SIMCTL_FAULT_MIN, SIMCTL_FAULT_MAX, argv[2]);
        return;
    }
    char why[256];
    if (simctl_fault(c->server->m, d->kind, v, why, sizeof why) != 0) {
        reply_error(c, "%s", why);
        return;
    }
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
    {"status", cmd_status},     {"power", cmd_power},   {"net", cmd_net},
    {"dns", cmd_dns},           {"signal", cmd_signal}, {"urc", cmd_urc},
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
    reply_error(c,
                "unknown command '%s' (status, power, net, signal, urc, override, fault, events)",
                argv[0]);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct ctl_conn *c = h->data;
    if (c->len == CTL_LINE_MAX) /* full: read into scratch, the line is too long */
        *buf = uv_buf_init(c->scratch, sizeof c->scratch);
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
