#include "proto/http_server.h"

#include "proto/beneath.h"
#include "proto/fault_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUEST_MAX  16384                   /* bytes of request line and headers we accept */
#define URL_RAW_MAX  (3 * HTTP_SRV_PATH_MAX) /* room for a fully percent-encoded path */
#define BODY_BUF     65536                   /* one read of the file, one write */
#define CHUNK_MAX    4096                    /* largest chunk of a chunked body */
#define CHUNK_ROOM   16                      /* before the payload: hex size and CRLF */
#define SPLIT_MAX    7                       /* split: most header bytes in one write */
#define SPLIT_GAP_MS 2    /* split: pause so that the writes reach the client apart */
#define LINGER_MS    2000 /* after our FIN, how long we wait for the client's */
#define RESET_POLLS  2000 /* reset: 1 ms polls for the client's acknowledgement */
#define RETRY_MS     100  /* out of memory: when to try taking a connection again */

enum framing { FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };
enum cut { CUT_NONE, CUT_RESET, CUT_CLOSE, CUT_STALL };

/* How one response goes out, from the request and the faults that apply. */
struct plan {
    int status; /* from a status fault; 0 to serve the file */
    enum framing framing;
    enum cut cut;
    uint64_t cut_at;      /* body bytes before the cut */
    int64_t length_delta; /* added to the announced Content-Length */
    uint32_t drip_bytes, drip_ms;
    bool split;
    bool garbage; /* the answer is not HTTP at all */
};

enum phase {
    PH_REQUEST, /* reading the request */
    PH_HEAD,    /* writing the status line and headers */
    PH_BODY,
    PH_TAIL,    /* the last chunk of a chunked body */
    PH_STALLED, /* stall fault: silent until the client leaves */
    PH_LINGER,  /* our FIN is out: waiting for the client's */
};

struct http_srv_conn {
    struct http_srv *srv;
    struct http_srv_conn *next, **pprev;
    uv_tcp_t tcp;
    uv_timer_t timer; /* the request's deadline, then pacing, then lingering */
    uv_write_t write;
    uv_shutdown_t shutdown;
    llhttp_t parser;
    llhttp_settings_t settings;
    int handles; /* still open: tcp, timer */
    bool closing, writing, client_eof, head_only;
    enum phase phase;
    int error_status; /* set by a parser callback that refuses the request */
    int reset_polls;

    size_t request_bytes; /* of the head, never more than REQUEST_MAX */
    char url[URL_RAW_MAX + 1];
    size_t url_len;
    char method[24];
    char path[HTTP_SRV_PATH_MAX];
    char peer[64];
    char faults[512]; /* one fault per kind of effect, six of < 64 bytes */

    struct plan plan;
    int status; /* sent; 0 before the response starts */
    int fd;     /* the file, or -1: the body is `mem` */
    const char *mem;
    char mem_body[64];
    uint64_t body_size; /* bytes the body source holds */
    uint64_t body_read; /* taken from the source so far */
    uint64_t body_sent; /* accepted by the kernel */
    uint32_t rng;

    /* The region being written: `out_len` bytes at `out`, carrying
     * `out_payload` body bytes; `piece` of them are in the current write. */
    char *out;
    size_t out_len, out_payload, piece;
    char head[1024];
    char buf[BODY_BUF];
    char rbuf[4096];
};

static void pump(struct http_srv_conn *c);
static void conn_close(struct http_srv_conn *c, bool reset);

#define GARBAGE_ANSWER "\x16\x03\x01 bcsim: this answer is not HTTP\r\n\r\n"

/* ---- Faults ------------------------------------------------------------------ */

static const struct fault_word fault_names[] = {
    {"status", HTTP_SRV_STATUS, "expected status=CODE, a code from 100 to 599"},
    {"reset", HTTP_SRV_RESET, "expected reset=N, a byte count"},
    {"close", HTTP_SRV_CLOSE, "expected close=N, a byte count"},
    {"stall", HTTP_SRV_STALL, "expected stall=N, a byte count"},
    {"length", HTTP_SRV_LENGTH, "expected length=+K or length=-K, a non-zero byte count"},
    {"chunked", HTTP_SRV_CHUNKED, NULL},
    {"noclen", HTTP_SRV_NOCLEN, NULL},
    {"drip", HTTP_SRV_DRIP, "expected drip=BYTES/MS, 1 to 65536 bytes every 1 to 60000 ms"},
    {"split", HTTP_SRV_SPLIT, NULL},
    {"garbage", HTTP_SRV_GARBAGE, NULL},
};

/* Decimal digits only, at most 12 of them (a terabyte is enough for anyone). */
static int parse_count(const char *s, size_t len, int64_t *v)
{
    unsigned long long n;
    if (fault_spec_count(s, len, 12, &n) != 0)
        return -1;
    *v = (int64_t)n;
    return 0;
}

static int parse_drip(struct http_srv_fault *f, const char *arg, size_t len)
{
    const char *slash = memchr(arg, '/', len);
    int64_t ms;
    if (!slash || parse_count(arg, (size_t)(slash - arg), &f->n) != 0 || f->n < 1 ||
        f->n > BODY_BUF || parse_count(slash + 1, len - (size_t)(slash + 1 - arg), &ms) != 0 ||
        ms < 1 || ms > 60000)
        return -1;
    f->ms = (uint32_t)ms;
    return 0;
}

/* The argument after '=', len bytes at arg; -1 if it does not fit the kind. */
static int parse_arg(struct http_srv_fault *f, const char *arg, size_t len)
{
    switch (f->kind) {
    case HTTP_SRV_STATUS:
        return parse_count(arg, len, &f->n) == 0 && f->n >= 100 && f->n <= 599 ? 0 : -1;
    case HTTP_SRV_LENGTH:
        if (len < 2 || (arg[0] != '+' && arg[0] != '-') ||
            parse_count(arg + 1, len - 1, &f->n) != 0 || f->n == 0)
            return -1;
        f->n = arg[0] == '-' ? -f->n : f->n;
        return 0;
    case HTTP_SRV_DRIP:
        return parse_drip(f, arg, len);
    default: /* reset, close, stall */
        return parse_count(arg, len, &f->n);
    }
}

int http_srv_fault_parse(const char *text, struct http_srv_fault *f, const char **why)
{
    memset(f, 0, sizeof *f);
    struct fault_spec spec;
    if (fault_spec_split(text, fault_names, sizeof fault_names / sizeof fault_names[0],
                         "unknown fault (status, reset, close, stall, length, chunked, noclen, "
                         "drip, split)",
                         sizeof f->path, &spec, why) != 0)
        return -1;
    f->kind = (enum http_srv_fault_kind)spec.word->kind;
    if (spec.arg && parse_arg(f, spec.arg, spec.arg_len) != 0) {
        *why = spec.word->form;
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s", spec.path ? spec.path : "");
    snprintf(f->text, sizeof f->text, "%.*s", (int)spec.spec_len, text);
    return 0;
}

static void apply_fault(struct plan *p, const struct http_srv_fault *f)
{
    switch (f->kind) {
    case HTTP_SRV_STATUS:
        p->status = (int)f->n;
        break;
    case HTTP_SRV_RESET:
        p->cut = CUT_RESET;
        p->cut_at = (uint64_t)f->n;
        break;
    case HTTP_SRV_CLOSE:
        p->cut = CUT_CLOSE;
        p->cut_at = (uint64_t)f->n;
        break;
    case HTTP_SRV_STALL:
        p->cut = CUT_STALL;
        p->cut_at = (uint64_t)f->n;
        break;
    case HTTP_SRV_LENGTH:
        p->length_delta = f->n;
        break;
    case HTTP_SRV_CHUNKED:
        p->framing = FRAME_CHUNKED;
        break;
    case HTTP_SRV_NOCLEN:
        p->framing = FRAME_CLOSE;
        break;
    case HTTP_SRV_DRIP:
        p->drip_bytes = (uint32_t)f->n;
        p->drip_ms = f->ms;
        break;
    case HTTP_SRV_SPLIT:
        p->split = true;
        break;
    case HTTP_SRV_GARBAGE:
        p->garbage = true;
        break;
    }
}

/* Kinds of effect: faults of one kind cannot combine (one cut, one framing). */
enum { S_STATUS, S_CUT, S_LENGTH, S_FRAMING, S_DRIP, S_SPLIT, S_COUNT };

/* The faults for one path: per kind of effect, one naming the path wins over
 * one for every path, and among those the last given wins. */
static void select_faults(const struct http_srv *s, const char *path,
                          const struct http_srv_fault *slot[S_COUNT])
{
    static const int slot_of[] = {
        [HTTP_SRV_STATUS] = S_STATUS,  [HTTP_SRV_RESET] = S_CUT,     [HTTP_SRV_CLOSE] = S_CUT,
        [HTTP_SRV_STALL] = S_CUT,      [HTTP_SRV_LENGTH] = S_LENGTH, [HTTP_SRV_CHUNKED] = S_FRAMING,
        [HTTP_SRV_NOCLEN] = S_FRAMING, [HTTP_SRV_DRIP] = S_DRIP,     [HTTP_SRV_SPLIT] = S_SPLIT,
        [HTTP_SRV_GARBAGE] = S_STATUS,
    };
    for (int specific = 0; specific < 2; specific++)
        for (size_t i = 0; i < s->nfaults; i++) {
            const struct http_srv_fault *f = &s->faults[i];
            if ((f->path[0] != '\0') == specific && (!specific || strcmp(f->path, path) == 0))
                slot[slot_of[f->kind]] = f;
        }
}

/* The plan for the request's path, and the faults it applies for the log. */
static void make_plan(struct http_srv_conn *c)
{
    const struct http_srv_fault *slot[S_COUNT] = {0};
    select_faults(c->srv, c->path, slot);
    memset(&c->plan, 0, sizeof c->plan);
    size_t used = 0;
    c->faults[0] = '\0';
    for (int k = 0; k < S_COUNT; k++) {
        if (!slot[k])
            continue;
        apply_fault(&c->plan, slot[k]);
        used += (size_t)snprintf(c->faults + used, sizeof c->faults - used, "%s%s", used ? "," : "",
                                 slot[k]->text);
    }
}

/* ---- Responses ----------------------------------------------------------------- */

static const char *reason(int status)
{
    static const struct {
        int code;
        const char *text;
    } reasons[] = {
        {100, "Continue"},
        {200, "OK"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {410, "Gone"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].code == status)
            return reasons[i].text;
    return "Unknown";
}

/* A small deterministic generator: the same chunk sizes and split points for
 * every response, so that a failure replays. */
static uint32_t next_random(struct http_srv_conn *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 17;
    c->rng ^= c->rng << 5;
    return c->rng;
}

static void set_mem_body(struct http_srv_conn *c, int status)
{
    snprintf(c->mem_body, sizeof c->mem_body, "%d %s\n", status, reason(status));
    c->mem = c->mem_body;
    c->body_size = strlen(c->mem_body);
}

/* The status line and headers into c->head; their length. */
static size_t format_head(struct http_srv_conn *c, int status)
{
    const struct plan *p = &c->plan;
    int n = snprintf(c->head, sizeof c->head,
                     "HTTP/1.%d %d %s\r\nServer: bcsim\r\nContent-Type: %s\r\n",
                     p->framing == FRAME_CLOSE ? 0 : 1, status, reason(status),
                     c->fd >= 0 ? "application/octet-stream" : "text/plain");
    if (p->framing == FRAME_LENGTH) {
        int64_t announced = (int64_t)c->body_size + p->length_delta;
        n += snprintf(c->head + n, sizeof c->head - (size_t)n, "Content-Length: %" PRId64 "\r\n",
                      announced < 0 ? 0 : announced);
    } else if (p->framing == FRAME_CHUNKED) {
        n += snprintf(c->head + n, sizeof c->head - (size_t)n, "Transfer-Encoding: chunked\r\n");
    }
    if (status == 405)
        n += snprintf(c->head + n, sizeof c->head - (size_t)n, "Allow: GET, HEAD\r\n");
    n += snprintf(c->head + n, sizeof c->head - (size_t)n, "Connection: close\r\n\r\n");
    return (size_t)n;
}

static void start_response(struct http_srv_conn *c, int status)
{
    c->status = status;
    c->phase = PH_HEAD;
    c->rng = 0x2545f491u;
    c->out = c->head;
    c->out_len = format_head(c, status);
    if (c->plan.garbage) { /* a line that no HTTP client can take for a status line */
        c->out_len = (size_t)snprintf(c->head, sizeof c->head, "%s", GARBAGE_ANSWER);
        c->body_size = c->body_read = 0;
    }
    c->out_payload = 0;
    pump(c);
}

static void plain_answer(struct http_srv_conn *c, int status)
{
    memset(&c->plan, 0, sizeof c->plan);
    strcpy(c->faults, "-");
    set_mem_body(c, status);
}

/* A refused request: a plain answer, no faults. */
static void respond_error(struct http_srv_conn *c, int status)
{
    plain_answer(c, status);
    start_response(c, status);
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The request target to a path under the root: percent-decoded, query
 * dropped. Returns 0 or the status that refuses it. Decoding comes first so
 * that "%2e%2e" is caught as "..". */
static int decode_path(struct http_srv_conn *c)
{
    size_t end = strcspn(c->url, "?#"), n = 0;
    if (c->url[0] != '/')
        return 400;
    for (size_t i = 0; i < end; i++) {
        int ch = (unsigned char)c->url[i];
        if (ch == '%') {
            int hi = i + 2 < end ? hex_digit(c->url[i + 1]) : -1;
            int lo = hi >= 0 ? hex_digit(c->url[i + 2]) : -1;
            if (lo < 0)
                return 400;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == '\0')
            return 400;
        if (n + 1 >= sizeof c->path)
            return 414;
        c->path[n++] = (char)ch;
    }
    c->path[n] = '\0';
    for (const char *seg = c->path; seg; seg = strchr(seg + 1, '/'))
        if (strncmp(seg, "/..", 3) == 0 && (seg[3] == '/' || seg[3] == '\0'))
            return 400;
    return 0;
}

/* Opens the file the path names: 404 for anything but a regular file, 403
 * for a link out of the root (unless those are followed), 503 when out of
 * file descriptors or memory. */
static int open_file(struct http_srv_conn *c)
{
    const char *rel = c->path;
    while (*rel == '/') /* an absolute name would make openat ignore the root */
        rel++;
    if (!*rel)
        rel = ".";
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    int fd = c->srv->follow_symlinks ? openat(c->srv->root_fd, rel, flags)
                                     : beneath_open(c->srv->root_fd, rel, flags);
    int err = fd >= 0 ? 0 : c->srv->follow_symlinks ? errno : -fd;
    if (err == EXDEV)
        return 403;
    if (err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN)
        return 503;
    if (err)
        return 404;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 404;
    }
    c->fd = fd;
    c->body_size = (uint64_t)st.st_size;
    return 0;
}

static void respond(struct http_srv_conn *c)
{
    llhttp_method_t m = (llhttp_method_t)llhttp_get_method(&c->parser);
    snprintf(c->method, sizeof c->method, "%s", llhttp_method_name(m));
    int status = decode_path(c); /* first, so that the log shows the path */
    if (m != HTTP_GET && m != HTTP_HEAD)
        status = 405;
    if (status) {
        respond_error(c, status);
        return;
    }
    c->head_only = m == HTTP_HEAD;
    make_plan(c);
    if (c->plan.status)
        status = c->plan.status;
    else if ((status = open_file(c)) == 0)
        status = 200;
    if (c->fd < 0)
        set_mem_body(c, status);
    start_response(c, status);
}

/* ---- Body ------------------------------------------------------------------------ */

static int read_body(struct http_srv_conn *c, char *dst, size_t n)
{
    if (c->fd < 0) {
        memcpy(dst, c->mem + c->body_read, n);
        c->body_read += n;
        return 0;
    }
    /* Synchronous reads: local files, mostly in the page cache, one buffer
     * at a time; the thread pool would add a state to every connection for
     * no gain in a test server. */
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(c->fd, dst + got, n - got, (off_t)c->body_read);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1; /* an error, or the file shrank under us */
        got += (size_t)r;
        c->body_read += (uint64_t)r;
    }
    return 0;
}

/* Body bytes that may still go out before the end or the cut. */
static uint64_t body_left(const struct http_srv_conn *c)
{
    uint64_t left = c->body_size - c->body_read;
    if (c->plan.cut != CUT_NONE) {
        uint64_t before_cut = c->plan.cut_at > c->body_read ? c->plan.cut_at - c->body_read : 0;
        left = before_cut < left ? before_cut : left;
    }
    return left;
}

/* One chunk: its size is drawn at random, bounded by what the file holds; a
 * cut inside it leaves the chunk short with no CRLF, as a dying server would. */
static int fill_chunk(struct http_srv_conn *c, size_t payload)
{
    uint64_t in_file = c->body_size - c->body_read;
    size_t size = 1 + next_random(c) % CHUNK_MAX;
    if (size > in_file)
        size = (size_t)in_file;
    if (payload > size)
        payload = size;
    char hdr[CHUNK_ROOM];
    int hlen = snprintf(hdr, sizeof hdr, "%zx\r\n", size);
    char *start = c->buf + CHUNK_ROOM - hlen;
    memcpy(start, hdr, (size_t)hlen);
    if (read_body(c, c->buf + CHUNK_ROOM, payload) != 0)
        return -1;
    size_t len = (size_t)hlen + payload;
    if (payload == size) {
        memcpy(c->buf + CHUNK_ROOM + payload, "\r\n", 2);
        len += 2;
    }
    c->out = start;
    c->out_len = len;
    c->out_payload = payload;
    return 0;
}

/* Loads the next region of the body; 0 when there is none left. */
static int fill_body(struct http_srv_conn *c)
{
    uint64_t left = body_left(c);
    if (left == 0)
        return 0;
    if (c->plan.framing == FRAME_CHUNKED)
        return fill_chunk(c, left < CHUNK_MAX ? (size_t)left : CHUNK_MAX) ? -1 : 1;
    /* With drip, one region per drop, so that bytes sent are counted as they go. */
    size_t max = c->plan.drip_bytes ? c->plan.drip_bytes : BODY_BUF;
    size_t n = left < max ? (size_t)left : max;
    if (read_body(c, c->buf, n) != 0)
        return -1;
    c->out = c->buf;
    c->out_len = c->out_payload = n;
    return 1;
}

/* ---- Connection ---------------------------------------------------------------------- */

static void take_connection(struct http_srv *s);

static void maybe_closed(struct http_srv *s)
{
    if (s->stopping && !s->listening && !s->retry_open && !s->conns && s->live == 0 &&
        s->root_fd >= 0) {
        close(s->root_fd);
        s->root_fd = -1;
        if (s->closed)
            s->closed(s);
    }
}

static void log_request(struct http_srv_conn *c)
{
    if (!c->srv->log || c->status == 0)
        return;
    struct http_srv_record r = {
        .peer = c->peer,
        .method = c->method[0] ? c->method : "-",
        .path = c->path[0] ? c->path : "-",
        .status = c->status,
        .body_bytes = c->body_sent,
        .faults = c->faults[0] ? c->faults : "-",
    };
    c->srv->log(c->srv->log_ctx, &r);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct http_srv_conn *c = h->data;
    if (--c->handles > 0)
        return;
    struct http_srv *s = c->srv;
    log_request(c);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    s->live--;
    take_connection(s); /* one may be waiting for the room this one left */
    maybe_closed(s);
}

static void conn_close(struct http_srv_conn *c, bool reset)
{
    if (c->closing)
        return;
    c->closing = true;
    if ((*c->pprev = c->next))
        c->next->pprev = c->pprev;
    c->srv->open--;
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    if (!reset || uv_tcp_close_reset(&c->tcp, on_conn_closed) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_linger_timeout(uv_timer_t *t)
{
    conn_close(t->data, false);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_srv_conn *c = req->data;
    if (c->closing)
        return;
    if (status || c->client_eof)
        conn_close(c, false);
}

/* A reset throws away what the kernel has not sent yet: wait until the
 * client has acknowledged every byte, so that it really gets N of them
 * (bounded: a client that stopped reading would keep them forever). */
static void reset_when_acked(uv_timer_t *t)
{
    struct http_srv_conn *c = t->data;
    uv_os_fd_t fd;
    int unacked = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &unacked) == 0 &&
        unacked > 0 && c->reset_polls++ < RESET_POLLS) {
        uv_timer_start(&c->timer, reset_when_acked, 1, 0);
        return;
    }
    conn_close(c, true);
}

/* The response has gone out as planned: end the connection the plan's way.
 * A plain close first sends our FIN and waits for the client's, because
 * closing a socket with unread input makes the kernel send RST instead. */
static void end_response(struct http_srv_conn *c)
{
    if (c->plan.cut == CUT_RESET) {
        reset_when_acked(&c->timer);
        return;
    }
    if (c->plan.cut == CUT_STALL) {
        c->phase = PH_STALLED;
        if (c->client_eof)
            conn_close(c, false);
        return;
    }
    c->phase = PH_LINGER;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c, false);
        return;
    }
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
}

/* Sets the next region to write; false when the response is complete. */
static bool next_region(struct http_srv_conn *c)
{
    switch (c->phase) {
    case PH_HEAD:
        if (c->head_only)
            return false;
        c->phase = PH_BODY;
        /* fall through */
    case PH_BODY: {
        int r = fill_body(c);
        if (r < 0) {
            conn_close(c, false);
            return false;
        }
        if (r > 0)
            return true;
        if (c->plan.framing != FRAME_CHUNKED || c->plan.cut != CUT_NONE)
            return false;
        c->phase = PH_TAIL;
        memcpy(c->buf, "0\r\n\r\n", 5);
        c->out = c->buf;
        c->out_len = 5;
        c->out_payload = 0;
        return true;
    }
    default:
        return false;
    }
}

static void on_written(uv_write_t *w, int status);

static void on_pace(uv_timer_t *t)
{
    pump(t->data);
}

/* Writes the next piece, or ends the response when nothing is left. */
static void pump(struct http_srv_conn *c)
{
    if (c->closing || c->writing)
        return;
    if (c->out_len == 0 && !next_region(c)) {
        if (!c->closing)
            end_response(c);
        return;
    }
    c->piece = c->out_len;
    if (c->phase == PH_HEAD && c->plan.split)
        c->piece = 1 + next_random(c) % SPLIT_MAX;
    else if (c->phase != PH_HEAD && c->plan.drip_bytes)
        c->piece = c->plan.drip_bytes;
    if (c->piece > c->out_len)
        c->piece = c->out_len;
    uv_buf_t b = uv_buf_init(c->out, (unsigned)c->piece);
    c->write.data = c;
    c->writing = true;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        c->writing = false;
        conn_close(c, false);
    }
}

static void on_written(uv_write_t *w, int status)
{
    struct http_srv_conn *c = w->data;
    c->writing = false;
    if (c->closing)
        return;
    if (status) {
        conn_close(c, false); /* the client went away */
        return;
    }
    c->out += c->piece;
    c->out_len -= c->piece;
    if (c->out_len == 0) {
        c->body_sent += c->out_payload;
        c->out_payload = 0;
    }
    uint64_t gap = 0;
    if (c->phase == PH_HEAD && c->plan.split)
        gap = SPLIT_GAP_MS;
    else if (c->phase != PH_HEAD && c->plan.drip_bytes)
        gap = c->plan.drip_ms;
    if (gap)
        uv_timer_start(&c->timer, on_pace, gap, 0);
    else
        pump(c);
}

/* ---- Requests ------------------------------------------------------------------ */

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct http_srv_conn *c = p->data;
    if (c->url_len + n > URL_RAW_MAX) {
        c->error_status = 414;
        return -1;
    }
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    c->url[c->url_len] = '\0';
    return 0;
}

/* A request line without a version is HTTP/0.9, which has no headers to
 * wait for: llhttp would wait for them all the same. */
static int on_url_complete(llhttp_t *p)
{
    struct http_srv_conn *c = p->data;
    if (p->http_major == 0 && p->http_minor == 9) {
        c->error_status = 400;
        return -1;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    (void)p;
    return 1; /* skip any body: GET and HEAD need none, the others are refused */
}

static int on_message_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED; /* one request per connection: the rest is not parsed */
}

/* Only what fits in REQUEST_MAX goes to the parser, so that a head one byte
 * over it is refused however the client's writes split it. */
static void feed(struct http_srv_conn *c, const char *data, size_t n)
{
    size_t room = REQUEST_MAX - c->request_bytes, take = n < room ? n : room;
    c->request_bytes += take;
    llhttp_errno_t e = take ? llhttp_execute(&c->parser, data, take) : HPE_OK;
    int status;
    if (e == HPE_PAUSED)
        status = 0;
    else if (e != HPE_OK)
        status = c->error_status ? c->error_status : 400;
    else if (take < n)
        status = 431;
    else
        return;               /* the head goes on in the next read */
    uv_timer_stop(&c->timer); /* the deadline was for the request alone */
    if (status)
        respond_error(c, status);
    else
        respond(c);
}

/* The head did not come in time: the client is told, then the connection ends. */
static void on_request_timeout(uv_timer_t *t)
{
    respond_error(t->data, 408);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct http_srv_conn *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

/* Reading goes on after the request so that a client leaving is seen at
 * once, even during a stall; what it sends after the request is dropped. */
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct http_srv_conn *c = st->data;
    if (nread > 0) {
        if (c->phase == PH_REQUEST)
            feed(c, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return;
    if (nread != UV_EOF) {
        conn_close(c, false);
        return;
    }
    /* EOF: a client that half-closed after its request still gets the
     * response; one that left before finishing it, or while we wait for it
     * to leave, is done. */
    c->client_eof = true;
    if (c->phase == PH_REQUEST || c->phase == PH_STALLED || c->phase == PH_LINGER)
        conn_close(c, false);
}

static void peer_name(struct http_srv_conn *c)
{
    struct sockaddr_storage ss = {0};
    int len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, host, sizeof host);
            port = ntohs(a->sin6_port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            uv_ip4_name(a, host, sizeof host);
            port = ntohs(a->sin_port);
        }
    }
    snprintf(c->peer, sizeof c->peer, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

static void conn_init(struct http_srv *s, struct http_srv_conn *c)
{
    c->srv = s;
    c->fd = -1;
    c->handles = 2;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    llhttp_settings_init(&c->settings);
    c->settings.on_url = on_url;
    c->settings.on_url_complete = on_url_complete;
    c->settings.on_headers_complete = on_headers_complete;
    c->settings.on_message_complete = on_message_complete;
    llhttp_init(&c->parser, HTTP_REQUEST, &c->settings);
    c->parser.data = c;
    if ((c->next = s->conns))
        c->next->pprev = &c->next;
    c->pprev = &s->conns;
    s->conns = c;
    s->open++;
    s->live++;
}

/* Makes room at the bound: the oldest connection still sending its request
 * is answered 503 at once, as far as its socket takes it, and closed.
 * Returns false when every connection is past its request. */
static bool evict_idle(struct http_srv *s)
{
    struct http_srv_conn *oldest = NULL;
    for (struct http_srv_conn *c = s->conns; c; c = c->next)
        if (c->phase == PH_REQUEST)
            oldest = c;
    if (!oldest)
        return false;
    plain_answer(oldest, 503);
    size_t n = format_head(oldest, 503);
    uv_buf_t b[2] = {uv_buf_init(oldest->head, (unsigned)n),
                     uv_buf_init((char *)oldest->mem, (unsigned)oldest->body_size)};
    int sent = uv_try_write((uv_stream_t *)&oldest->tcp, b, 2);
    oldest->status = 503;
    oldest->body_sent = sent > (int)n ? (uint64_t)sent - n : 0;
    conn_close(oldest, false);
    return true;
}

static void on_retry(uv_timer_t *t)
{
    take_connection(t->data);
}

/* Takes the connection libuv holds, if there is room. Until it is taken,
 * libuv accepts no other: the rest wait in the kernel's backlog. */
static void take_connection(struct http_srv *s)
{
    if (!s->waiting || s->stopping)
        return;
    if (s->open >= s->max_conns && !evict_idle(s))
        return; /* every connection is answering: the next to end makes room */
    struct http_srv_conn *c = calloc(1, sizeof *c);
    if (!c) {
        uv_timer_start(&s->retry, on_retry, RETRY_MS, 0);
        return;
    }
    s->waiting = false;
    conn_init(s, c);
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, false);
        return;
    }
    /* Each write must leave as its own segment: split and drip depend on it. */
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0 ||
        uv_timer_start(&c->timer, on_request_timeout, s->timeout_ms, 0) != 0)
        conn_close(c, false);
}

/* UV_EMFILE and UV_ENFILE: out of file descriptors, libuv has accepted and
 * closed at once the connections it could not hand over, and goes on
 * accepting when more come; they get in once others have closed. */
static void on_connection(uv_stream_t *listener, int status)
{
    struct http_srv *s = listener->data;
    if (status != 0 || s->stopping)
        return;
    s->waiting = true;
    take_connection(s);
}

/* ---- Server ---------------------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h)
{
    struct http_srv *s = h->data;
    s->listening = false;
    maybe_closed(s);
}

static void on_retry_closed(uv_handle_t *h)
{
    struct http_srv *s = h->data;
    s->retry_open = false;
    maybe_closed(s);
}

int http_srv_start(struct http_srv *s, uv_loop_t *loop, const struct http_srv_config *cfg,
                   const char **what)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->faults = cfg->faults;
    s->nfaults = cfg->nfaults;
    s->log = cfg->log;
    s->log_ctx = cfg->log_ctx;
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : HTTP_SRV_TIMEOUT_MS;
    s->max_conns = cfg->max_conns ? cfg->max_conns : HTTP_SRV_CONNS;
    s->follow_symlinks = cfg->follow_symlinks;
    s->root_fd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        s->stopping = true; /* nothing for http_srv_close to do */
        *what = "directory";
        return -errno;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listening = true;
    int err = uv_tcp_bind(&s->listener, cfg->addr, 0);
    *what = "bind";
    if (err == 0) {
        /* libuv reports an address in use at listen time: still the bind's fault. */
        err = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
    }
    if (err) {
        s->stopping = true;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return err;
    }
    uv_timer_init(loop, &s->retry);
    s->retry.data = s;
    s->retry_open = true;
    return 0;
}

int http_srv_address(const struct http_srv *s, struct sockaddr_storage *ss)
{
    int len = sizeof *ss;
    return uv_tcp_getsockname(&s->listener, (struct sockaddr *)ss, &len);
}

void http_srv_close(struct http_srv *s, void (*closed)(struct http_srv *s))
{
    s->closed = closed;
    if (s->stopping)
        return;
    s->stopping = true;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    uv_close((uv_handle_t *)&s->retry, on_retry_closed);
    while (s->conns)
        conn_close(s->conns, false);
}

void http_srv_set_faults(struct http_srv *s, const struct http_srv_fault *faults, size_t n)
{
    s->faults = faults;
    s->nfaults = n;
}
