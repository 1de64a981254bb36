/* bcsim lwm2m-server: a scriptable LwM2M 1.0 server for the module's
 * client, commands from stdin or a script, one line of output per event. */
#include "tools/bcsim/cli.h"
#include "tools/bcsim/cli_args.h"

#include "tools/lwm2m_server/command.h"
#include "tools/lwm2m_server/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

const char cli_lwm2m_server_usage[] =
    "usage: bcsim lwm2m-server [--port N] [--address A] [--script FILE] [--seed S]\n"
    "                          [--retransmit N]\n"
    "\n"
    "A LwM2M 1.0 server over CoAP/UDP (no DTLS, no bootstrap). Prints\n"
    "'listening ADDR:PORT' first, then one line per event. Commands, one a line,\n"
    "from stdin or FILE, each run when the one before has finished:\n"
    "  read EP PATH [FORMAT]         GET (Accept: tlv for objects and instances)\n"
    "  write EP PATH VALUE [FORMAT]  PUT on a resource: text (default), tlv, opaque (hex)\n"
    "  exec EP PATH [ARGS]           POST\n"
    "  observe EP PATH [FORMAT]      GET with Observe 0; notifications follow\n"
    "  cancel EP PATH                GET with Observe 1 and the observation's token\n"
    "  discover EP PATH              GET with Accept: link format\n"
    "  wait EP EVENT [TIMEOUT_S]     EVENT: registered, updated, deregistered, expired\n"
    "                                or PATH=VALUE (default timeout 30 s)\n"
    "  sleep S                       quit\n"
    "EP is an endpoint name, or * for the last to register (in wait: any).\n"
    "\n"
    "  --port N        UDP port (default 5683; 0: any free one)\n"
    "  --address A     IPv4 or IPv6 literal to listen on (default 127.0.0.1)\n"
    "  --script FILE   run FILE's commands, then exit (stdin is not read)\n"
    "  --seed S        tokens and message ids from this seed (reproducible)\n"
    "  --retransmit N  retransmissions of a request before it fails (1-10, default 4)\n"
    "\n"
    "Exit status: 0 quit, a signal, or the script done; 1 a script's wait timed out\n"
    "or its request failed; 2 usage (a script line that does not parse, too);\n"
    "3 the address cannot be used.\n";

#define EVENTS_MAX   4096 /* remembered for the waits */
#define CMD_LINE_MAX (2 * LWSRV_VALUE_MAX + 64)

/* Something a wait may be met by. */
struct happened {
    enum lwsrv_wait_kind kind;
    char ep[LWSRV_EP_MAX + 1];
    char path[40];
    char *value;
};

struct app {
    uv_loop_t loop;
    struct lwsrv *srv;
    uv_signal_t sigint, sigterm;
    uv_timer_t timer; /* sleep, and a wait's timeout */
    uv_timer_t kick;  /* runs the next command from the loop */
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } in;
    bool reading; /* in is open */
    const char *script;
    /* Lines to run, in order. */
    char **lines;
    unsigned *line_no;
    size_t nlines, next, cap;
    char partial[CMD_LINE_MAX + 1]; /* stdin: the line being read */
    size_t partial_len;
    bool partial_too_long;
    unsigned stdin_line;
    /* The command running: a request (by id), a wait or a sleep. */
    struct lwsrv_cmd cmd;
    bool busy;
    unsigned cmd_line;
    uint64_t req;
    /* What happened, for the waits: each meets at most one, in order. */
    struct happened events[EVENTS_MAX];
    size_t nevents, cursor;
    int exit_code;
    bool stopping;
};

static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void run_next(struct app *a);
static void stop(struct app *a, int code);

static void on_kick(uv_timer_t *t)
{
    run_next(t->data);
}

/* The next command, once libcoap is done with the datagram at hand: a
 * registration is answered before the first request goes out. */
static void kick(struct app *a)
{
    if (!a->stopping)
        uv_timer_start(&a->kick, on_kick, 0, 0);
}

/* ---- Remembered events ------------------------------------------------------ */

static void remember(struct app *a, enum lwsrv_wait_kind kind, const char *ep, const char *path,
                     const char *value)
{
    if (a->nevents == EVENTS_MAX) { /* forget the oldest: those before the cursor first */
        size_t drop = a->cursor > 0 ? a->cursor : EVENTS_MAX / 2;
        for (size_t i = 0; i < drop; i++)
            free(a->events[i].value);
        memmove(a->events, a->events + drop, (EVENTS_MAX - drop) * sizeof a->events[0]);
        a->nevents -= drop;
        a->cursor = a->cursor > drop ? a->cursor - drop : 0;
    }
    struct happened *h = &a->events[a->nevents++];
    h->kind = kind;
    snprintf(h->ep, sizeof h->ep, "%s", ep);
    snprintf(h->path, sizeof h->path, "%s", path ? path : "");
    h->value = value ? strdup(value) : NULL;
}

static bool meets(const struct lwsrv_cmd *w, const struct happened *h)
{
    if (h->kind != w->wait || (strcmp(w->ep, "*") != 0 && strcmp(w->ep, h->ep) != 0))
        return false;
    return w->wait != LWSRV_WAIT_VALUE ||
           (strcmp(w->path, h->path) == 0 && h->value && strcmp(w->value, h->value) == 0);
}

static const char *wait_name(const struct lwsrv_cmd *w)
{
    static const char *const names[] = {"registered", "updated", "deregistered", "expired"};
    return w->wait == LWSRV_WAIT_VALUE ? NULL : names[w->wait];
}

/* The running wait is met by something remembered: next command. */
static bool check_wait(struct app *a)
{
    if (!a->busy || a->cmd.kind != LWSRV_CMD_WAIT)
        return false;
    for (size_t i = a->cursor; i < a->nevents; i++)
        if (meets(&a->cmd, &a->events[i])) {
            a->cursor = i + 1;
            if (wait_name(&a->cmd))
                out("waited ep=%s event=%s", a->events[i].ep, wait_name(&a->cmd));
            else
                out("waited ep=%s event=%s=%s", a->events[i].ep, a->cmd.path, a->cmd.value);
            uv_timer_stop(&a->timer);
            a->busy = false;
            kick(a);
            return true;
        }
    return false;
}

/* ---- Events of the server ------------------------------------------------------ */

static void failed(struct app *a, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    out("error %s", why);
    if (a->script) {
        fprintf(stderr, "bcsim lwm2m-server: %s line %u: %s\n", a->script, a->cmd_line, why);
        stop(a, CLI_FAILED);
    }
}

struct printing {
    struct app *a;
    const struct lwsrv_event *ev;
    const char *head; /* "read", "observe", "notify" */
};

static void print_value(void *arg, const char *path, const char *value)
{
    struct printing *p = arg;
    const struct lwsrv_event *ev = p->ev;
    const char *fname = lwsrv_format_name(ev->format);
    char fnum[16];
    snprintf(fnum, sizeof fnum, "%d", ev->format);
    const char *format = ev->format < 0 ? "none" : fname ? fname : fnum;
    if (ev->kind == LWSRV_EV_NOTIFY)
        out("notify ep=%s path=%s seq=%lld value=%s", ev->ep, path, ev->seq, value);
    else if (ev->op == LWSRV_OBSERVE)
        out("observe ep=%s path=%s code=%u.%02u seq=%lld format=%s value=%s", ev->ep, path,
            ev->code / 100, ev->code % 100, ev->seq, format, value);
    else
        out("%s ep=%s path=%s code=%u.%02u format=%s value=%s", p->head, ev->ep, path,
            ev->code / 100, ev->code % 100, format, value);
    remember(p->a, LWSRV_WAIT_VALUE, ev->ep, path, value);
}

static void ignore_value(void *arg, const char *path, const char *value)
{
    (void)arg;
    (void)path;
    (void)value;
}

static void on_answer(struct app *a, const struct lwsrv_event *ev)
{
    char path[40];
    lwsrv_path_format(&ev->path, path, sizeof path);
    const char *name = ev->kind == LWSRV_EV_NOTIFY ? "notify" : lwsrv_op_name(ev->op);
    bool ok = ev->code / 100 == 2;
    bool mine = ev->kind == LWSRV_EV_RESPONSE && a->busy && a->cmd.kind == LWSRV_CMD_REQUEST &&
                ev->req == a->req;
    bool values =
        ok && (ev->op == LWSRV_READ || ev->op == LWSRV_OBSERVE || ev->kind == LWSRV_EV_NOTIFY);
    const char *why = NULL;
    if (values) {
        struct printing p = {a, ev, name};
        struct lwsrv_path base = ev->path;
        /* A payload that does not parse prints no value at all: checked first. */
        int n = lwsrv_values(&base, ev->format, ev->payload, ev->len, ignore_value, NULL, &why);
        if (n > 0)
            lwsrv_values(&base, ev->format, ev->payload, ev->len, print_value, &p, &why);
        else if (n == 0)
            out("%s ep=%s path=%s code=%u.%02u format=tlv", name, ev->ep, path, ev->code / 100,
                ev->code % 100); /* an empty TLV: no value */
    } else if (ok && ev->op == LWSRV_DISCOVER) {
        char value[CMD_LINE_MAX];
        lwsrv_escape(ev->payload, ev->len, value, sizeof value);
        out("discover ep=%s path=%s code=%u.%02u value=%s", ev->ep, path, ev->code / 100,
            ev->code % 100, value);
    } else if (ev->kind == LWSRV_EV_NOTIFY) {
        out("notify ep=%s path=%s code=%u.%02u", ev->ep, path, ev->code / 100, ev->code % 100);
    } else {
        out("%s ep=%s path=%s code=%u.%02u", name, ev->ep, path, ev->code / 100, ev->code % 100);
    }
    if (!mine) {
        if (why)
            out("error %s ep=%s path=%s: %s", name, ev->ep, path, why);
        check_wait(a);
        return;
    }
    a->busy = false;
    if (why)
        failed(a, "%s ep=%s path=%s: %s", name, ev->ep, path, why);
    else if (!ok)
        failed(a, "%s ep=%s path=%s: answered %u.%02u", name, ev->ep, path, ev->code / 100,
               ev->code % 100);
    if (!a->stopping)
        kick(a);
}

static void on_event(void *arg, const struct lwsrv_event *ev)
{
    struct app *a = arg;
    const struct lwsrv_reg *r = ev->reg;
    if (a->stopping)
        return;
    switch (ev->kind) {
    case LWSRV_EV_REGISTERED:
        out("registered ep=%s id=%s lt=%u b=%s lwm2m=%s addr=%s objects=%s", r->ep, r->id, r->lt,
            r->binding, r->version, r->peer, r->objects);
        remember(a, LWSRV_WAIT_REGISTERED, r->ep, NULL, NULL);
        break;
    case LWSRV_EV_UPDATED: {
        char extra[CMD_LINE_MAX + 64] = "";
        size_t n = 0;
        if (ev->new_b)
            n += (size_t)snprintf(extra + n, sizeof extra - n, " b=%s", r->binding);
        if (ev->new_sms)
            n += (size_t)snprintf(extra + n, sizeof extra - n, " sms=%s", r->sms);
        if (ev->new_objects)
            snprintf(extra + n, sizeof extra - n, " objects=%.*s", CMD_LINE_MAX, r->objects);
        out("updated ep=%s id=%s lt=%u addr=%s%s", r->ep, r->id, r->lt, r->peer, extra);
        remember(a, LWSRV_WAIT_UPDATED, r->ep, NULL, NULL);
        break;
    }
    case LWSRV_EV_DEREGISTERED:
        out("deregistered ep=%s id=%s", r->ep, r->id);
        remember(a, LWSRV_WAIT_DEREGISTERED, r->ep, NULL, NULL);
        break;
    case LWSRV_EV_EXPIRED:
        out("expired ep=%s id=%s lt=%u", r->ep, r->id, r->lt);
        remember(a, LWSRV_WAIT_EXPIRED, r->ep, NULL, NULL);
        break;
    case LWSRV_EV_REJECTED:
        out("error request from %s: %u.%02u %s", ev->peer, ev->code / 100, ev->code % 100, ev->why);
        return;
    case LWSRV_EV_RESPONSE:
    case LWSRV_EV_NOTIFY:
        on_answer(a, ev);
        return;
    case LWSRV_EV_FAILED: {
        char path[40];
        lwsrv_path_format(&ev->path, path, sizeof path);
        bool mine = a->busy && a->cmd.kind == LWSRV_CMD_REQUEST && ev->req == a->req;
        if (!mine) {
            out("error %s ep=%s path=%s: %s", lwsrv_op_name(ev->op), ev->ep, path, ev->why);
            return;
        }
        a->busy = false;
        failed(a, "%s ep=%s path=%s: %s", lwsrv_op_name(ev->op), ev->ep, path, ev->why);
        if (!a->stopping)
            kick(a);
        return;
    }
    }
    check_wait(a);
}

/* ---- Commands ------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
    struct app *a = t->data;
    if (!a->busy)
        return;
    a->busy = false;
    if (a->cmd.kind == LWSRV_CMD_WAIT) {
        const char *name = wait_name(&a->cmd);
        char event[LWSRV_VALUE_MAX + 64];
        if (name)
            snprintf(event, sizeof event, "%s", name);
        else
            snprintf(event, sizeof event, "%s=%s", a->cmd.path, a->cmd.value);
        failed(a, "wait ep=%s event=%s: timed out after %.3g s", a->cmd.ep, event,
               (double)a->cmd.ms / 1000);
        if (a->stopping)
            return;
    }
    run_next(a);
}

static void run_one(struct app *a, const char *line)
{
    char why[256];
    if (lwsrv_cmd_parse(line, &a->cmd, why, sizeof why) != 0) {
        failed(a, "%s", why);
        return;
    }
    const char *err;
    switch (a->cmd.kind) {
    case LWSRV_CMD_NONE:
        return;
    case LWSRV_CMD_QUIT:
        stop(a, CLI_OK);
        return;
    case LWSRV_CMD_SLEEP:
        a->busy = true;
        uv_timer_start(&a->timer, on_timer, a->cmd.ms, 0);
        return;
    case LWSRV_CMD_WAIT:
        a->busy = true;
        uv_timer_start(&a->timer, on_timer, a->cmd.ms, 0);
        check_wait(a);
        return;
    case LWSRV_CMD_REQUEST:
        a->busy = true;
        if (lwsrv_send(a->srv, &a->cmd.req, &a->req, &err) != 0) {
            a->busy = false;
            failed(a, "%s ep=%s path=%s: %s", lwsrv_op_name(a->cmd.req.op), a->cmd.ep, a->cmd.path,
                   err);
            return;
        }
        return;
    }
}

/* Runs lines until one has to wait for something. */
static void run_next(struct app *a)
{
    while (!a->busy && !a->stopping && a->next < a->nlines) {
        a->cmd_line = a->line_no[a->next];
        char *line = a->lines[a->next];
        a->lines[a->next++] = NULL;
        run_one(a, line);
        free(line);
    }
    if (!a->busy && !a->stopping && a->script && a->next == a->nlines)
        stop(a, CLI_OK);
}

static int queue_line(struct app *a, const char *line, size_t len, unsigned no)
{
    if (a->nlines == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        char **lines = realloc(a->lines, cap * sizeof *lines);
        if (!lines)
            return -1;
        a->lines = lines;
        unsigned *nos = realloc(a->line_no, cap * sizeof *nos);
        if (!nos)
            return -1;
        a->line_no = nos;
        a->cap = cap;
    }
    char *copy = strndup(line, len);
    if (!copy)
        return -1;
    a->lines[a->nlines] = copy;
    a->line_no[a->nlines++] = no;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char chunk[4096];
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_close_noop(uv_handle_t *h)
{
    (void)h;
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct app *a = s->data;
    if (n < 0) { /* end of input: the server goes on until quit or a signal */
        a->reading = false;
        uv_close((uv_handle_t *)s, on_close_noop);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char c = buf->base[i];
        if (c != '\n') {
            if (a->partial_len < CMD_LINE_MAX)
                a->partial[a->partial_len++] = c;
            else
                a->partial_too_long = true;
            continue;
        }
        a->stdin_line++;
        size_t len = a->partial_len;
        if (len && a->partial[len - 1] == '\r')
            len--;
        if (a->partial_too_long)
            out("error line %u is longer than %d bytes", a->stdin_line, CMD_LINE_MAX);
        else
            queue_line(a, a->partial, len, a->stdin_line);
        a->partial_len = 0;
        a->partial_too_long = false;
    }
    run_next(a);
}

static int open_stdin(struct app *a)
{
    uv_stream_t *s;
    switch (uv_guess_handle(0)) {
    case UV_TTY:
        if (uv_tty_init(&a->loop, &a->in.tty, 0, 1) != 0)
            return -1;
        s = (uv_stream_t *)&a->in.tty;
        break;
    case UV_NAMED_PIPE:
        if (uv_pipe_init(&a->loop, &a->in.pipe, 0) != 0)
            return -1;
        if (uv_pipe_open(&a->in.pipe, 0) != 0) {
            uv_close((uv_handle_t *)&a->in.pipe, on_close_noop);
            return -1;
        }
        s = (uv_stream_t *)&a->in.pipe;
        break;
    default: { /* a file or nothing: read it whole now */
        char line[CMD_LINE_MAX + 2];
        unsigned no = 0;
        while (fgets(line, sizeof line, stdin)) {
            size_t len = strcspn(line, "\r\n");
            queue_line(a, line, len, ++no);
        }
        return 0;
    }
    }
    s->data = a;
    a->reading = true;
    uv_read_start(s, on_alloc, on_stdin);
    return 0;
}

/* The whole script, each line checked before the server starts. */
static int load_script(struct app *a, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bcsim lwm2m-server: --script %s: cannot open it\n", path);
        return CLI_USAGE;
    }
    char line[CMD_LINE_MAX + 2];
    unsigned no = 0;
    int rc = CLI_OK;
    struct lwsrv_cmd *c = malloc(sizeof *c);
    while (c && rc == CLI_OK && fgets(line, sizeof line, f)) {
        no++;
        size_t len = strcspn(line, "\r\n");
        char why[256];
        if (line[len] == '\0' && !feof(f)) {
            fprintf(stderr, "bcsim lwm2m-server: %s line %u: longer than %d bytes\n", path, no,
                    CMD_LINE_MAX);
            rc = CLI_USAGE;
            break;
        }
        line[len] = '\0';
        if (lwsrv_cmd_parse(line, c, why, sizeof why) != 0) {
            fprintf(stderr, "bcsim lwm2m-server: %s line %u: %s\n", path, no, why);
            rc = CLI_USAGE;
        } else if (queue_line(a, line, len, no) != 0) {
            rc = CLI_UNAVAILABLE;
        }
    }
    free(c);
    fclose(f);
    return rc;
}

/* ---- Start and stop --------------------------------------------------------------- */

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop(s->data, CLI_OK);
}

static void stop(struct app *a, int code)
{
    if (a->stopping)
        return;
    a->stopping = true;
    a->exit_code = code;
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, NULL);
    uv_close((uv_handle_t *)&a->kick, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    if (a->reading) {
        a->reading = false;
        uv_close((uv_handle_t *)&a->in, on_close_noop);
    }
    lwsrv_close(a->srv, NULL, NULL);
}

struct opts {
    const char *port, *address, *script, *seed, *retransmit;
};

static int parse(int argc, char **argv, struct opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_take(argc, argv, &i, "--port", &v)) != 0)
            o->port = v;
        else if ((r = cli_take(argc, argv, &i, "--address", &v)) != 0)
            o->address = v;
        else if ((r = cli_take(argc, argv, &i, "--script", &v)) != 0)
            o->script = v;
        else if ((r = cli_take(argc, argv, &i, "--seed", &v)) != 0)
            o->seed = v;
        else if ((r = cli_take(argc, argv, &i, "--retransmit", &v)) != 0)
            o->retransmit = v;
        else {
            fprintf(stderr, "bcsim lwm2m-server: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

int cli_lwm2m_server(int argc, char **argv)
{
    static const char prog[] = "bcsim lwm2m-server";
    struct opts o = {0};
    if (parse(argc, argv, &o) != 0)
        return CLI_USAGE;
    int64_t port = 5683, seed = 0, retransmit = 4;
    if ((o.port && cli_number(prog, "--port", o.port, 0, 65535, &port) != 0) ||
        (o.seed && cli_number(prog, "--seed", o.seed, 1, INT64_MAX, &seed) != 0) ||
        (o.retransmit && cli_number(prog, "--retransmit", o.retransmit, 1, 10, &retransmit) != 0))
        return CLI_USAGE;
    struct sockaddr_storage ss;
    const char *address = o.address ? o.address : "127.0.0.1";
    if (uv_ip4_addr(address, (int)port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(address, (int)port, (struct sockaddr_in6 *)&ss) != 0) {
        fprintf(stderr, "%s: --address %s: not an IPv4 or IPv6 literal\n", prog, address);
        return CLI_USAGE;
    }
    struct app *a = calloc(1, sizeof *a);
    if (!a)
        return CLI_UNAVAILABLE;
    a->script = o.script;
    int rc = o.script ? load_script(a, o.script) : CLI_OK;
    if (rc == CLI_OK) {
        uv_loop_init(&a->loop);
        struct lwsrv_config cfg = {.addr = (const struct sockaddr *)&ss,
                                   .max_retransmit = (unsigned)retransmit,
                                   .seed = (uint64_t)seed,
                                   .on_event = on_event,
                                   .arg = a};
        const char *what;
        int err = lwsrv_start(&a->srv, &a->loop, &cfg, &what);
        if (err) {
            fprintf(stderr, "%s: cannot listen on %s port %lld: %s (%s)\n", prog, address,
                    (long long)port, uv_strerror(err), what);
            rc = CLI_UNAVAILABLE;
        } else {
            char bound[64];
            lwsrv_address(a->srv, bound, sizeof bound);
            out("listening %s", bound);
            uv_timer_init(&a->loop, &a->timer);
            uv_timer_init(&a->loop, &a->kick);
            a->timer.data = a->kick.data = a;
            uv_signal_init(&a->loop, &a->sigint);
            uv_signal_init(&a->loop, &a->sigterm);
            a->sigint.data = a->sigterm.data = a;
            uv_signal_start(&a->sigint, on_signal, SIGINT);
            uv_signal_start(&a->sigterm, on_signal, SIGTERM);
            if (!o.script && open_stdin(a) != 0)
                out("error stdin cannot be read: no commands");
            run_next(a);
            uv_run(&a->loop, UV_RUN_DEFAULT);
            rc = a->exit_code;
        }
        uv_loop_close(&a->loop);
    }
    for (size_t i = a->next; i < a->nlines; i++)
        free(a->lines[i]);
    for (size_t i = 0; i < a->nevents; i++)
        free(a->events[i].value);
    free(a->lines);
    free(a->line_no);
    free(a);
    return rc;
}
