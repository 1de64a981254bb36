#include "proto/coap_server.h"

#include "proto/beneath.h"
#include "proto/fault_spec.h"
#include "proto/coap_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_NUM_MAX  0xFFFFF /* Block2's NUM has 20 bits */
#define SWEEP_MS       (COAP_SRV_IDLE_MS / 10)
#define CONTENT_OCTETS 42 /* application/octet-stream */
#define GARBAGE                                                                                    \
    "\x00"                                                                                         \
    "bcsim: this is not CoAP"

struct coap_srv_relay {
    struct coap_srv *srv;
    struct coap_srv_relay *next, **pprev;
    uv_udp_t udp;                      /* bound on loopback: libcoap's view of the client */
    struct sockaddr_storage peer_addr; /* the client */
    char peer[64];
    uint16_t port;    /* udp's port, network order: the session's remote port */
    uint64_t last_ms; /* last datagram either way */
    uint64_t count;   /* datagrams either way, for drop */
    unsigned garbage; /* answers from libcoap to replace by garbage */
    bool stalled;     /* nothing goes through any more */
    bool changed;     /* etag: the file has "changed" for this client */
    bool closing;
};

struct coap_srv {
    uv_loop_t *loop;
    uv_udp_t pub; /* the public port */
    uv_timer_t sweep;
    struct coap_uv io;
    coap_context_t *ctx;
    struct sockaddr_in inner; /* libcoap's endpoint */
    int root_fd;
    const struct coap_srv_fault *faults;
    size_t nfaults;
    coap_srv_log_fn log;
    void *log_ctx;
    uint64_t rng;
    bool follow_symlinks;
    struct coap_srv_relay *relays; /* most recently active first */
    unsigned nrelays;
    int handles; /* open: pub, sweep, the relays, io (counted once) */
    bool stopping;
    void (*closed)(void *arg);
    void *closed_arg;
    char buf[65536]; /* one datagram at a time */
};

/* ---- Faults ------------------------------------------------------------------ */

static const struct fault_word fault_names[] = {
    {"code", COAP_SRV_CODE, "expected code=C.DD, a response code from 2.00 to 5.31"},
    {"stall", COAP_SRV_STALL, "expected stall=N, a number of blocks (0 to 1048575)"},
    {"drop", COAP_SRV_DROP, "expected drop=N, every Nth datagram (1 to 1000000)"},
    {"block", COAP_SRV_BLOCK, "expected block=SIZE, one of 16, 32, 64, 128, 256, 512, 1024"},
    {"etag", COAP_SRV_ETAG, "expected etag=N, a block number from 1 to 1048575"},
    {"garbage", COAP_SRV_GARBAGE, "expected garbage=N, a block number from 0 to 1048575"},
    {"loss", COAP_SRV_LOSS, "expected loss=P, a percentage from 0 to 100"},
};

/* Decimal digits only, at most 7 of them. */
static int parse_count(const char *s, size_t len, unsigned *v)
{
    unsigned long long n;
    if (fault_spec_count(s, len, 7, &n) != 0)
        return -1;
    *v = (unsigned)n;
    return 0;
}

static bool in(unsigned v, unsigned lo, unsigned hi)
{
    return v >= lo && v <= hi;
}

/* The argument, len bytes at arg; -1 if it does not fit the kind. */
static int parse_arg(struct coap_srv_fault *f, const char *arg, size_t len)
{
    unsigned detail;
    switch (f->kind) {
    case COAP_SRV_CODE:
        if (len != 4 || arg[1] != '.' || !in((unsigned)(arg[0] - '0'), 2, 5) ||
            parse_count(arg + 2, 2, &detail) != 0 || detail > 31)
            return -1;
        f->n = (unsigned)(arg[0] - '0') * 100 + detail;
        return 0;
    case COAP_SRV_BLOCK:
        if (parse_count(arg, len, &f->n) != 0 || !in(f->n, 16, 1024) || (f->n & (f->n - 1)))
            return -1;
        return 0;
    case COAP_SRV_DROP:
        return parse_count(arg, len, &f->n) == 0 && in(f->n, 1, 1000000) ? 0 : -1;
    case COAP_SRV_ETAG:
        return parse_count(arg, len, &f->n) == 0 && in(f->n, 1, BLOCK_NUM_MAX) ? 0 : -1;
    case COAP_SRV_LOSS:
        return parse_count(arg, len, &f->n) == 0 && f->n <= 100 ? 0 : -1;
    default: /* stall, garbage */
        return parse_count(arg, len, &f->n) == 0 && f->n <= BLOCK_NUM_MAX ? 0 : -1;
    }
}

int coap_srv_fault_parse(const char *text, struct coap_srv_fault *f, const char **why)
{
    memset(f, 0, sizeof *f);
    struct fault_spec spec;
    if (fault_spec_split(text, fault_names, sizeof fault_names / sizeof fault_names[0],
                         "unknown fault (code, stall, drop, block, etag, garbage, loss)",
                         sizeof f->path, &spec, why) != 0)
        return -1;
    f->kind = (enum coap_srv_fault_kind)spec.word->kind;
    if (parse_arg(f, spec.arg, spec.arg_len) != 0) {
        *why = spec.word->form;
        return -1;
    }
    if (spec.path && (f->kind == COAP_SRV_DROP || f->kind == COAP_SRV_LOSS)) {
        *why = "drop and loss act on datagrams, which name no path: no @/PATH";
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s", spec.path ? spec.path : "");
    snprintf(f->text, sizeof f->text, "%.*s", (int)spec.spec_len, text);
    return 0;
}

/* Per kind, one naming the path wins over one for every path, and among
 * those the last given wins; the kinds combine. */
static void select_faults(const struct coap_srv *s, const char *path,
                          const struct coap_srv_fault *slot[COAP_SRV_LOSS + 1])
{
    for (int specific = 0; specific < 2; specific++)
        for (size_t i = 0; i < s->nfaults; i++) {
            const struct coap_srv_fault *f = &s->faults[i];
            if ((f->path[0] != '\0') == specific && (!specific || strcmp(f->path, path) == 0))
                slot[f->kind] = f;
        }
}

/* The one fault of a kind for datagrams (those have no path). */
static const struct coap_srv_fault *datagram_fault(const struct coap_srv *s,
                                                   enum coap_srv_fault_kind kind)
{
    const struct coap_srv_fault *found = NULL;
    for (size_t i = 0; i < s->nfaults; i++)
        if (s->faults[i].kind == kind)
            found = &s->faults[i];
    return found;
}

static void note_fault(char *list, size_t size, const struct coap_srv_fault *f)
{
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s", used ? "," : "", f->text);
}

/* ---- Records ------------------------------------------------------------------ */

static void peer_name(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, host, sizeof host);
        snprintf(buf, size, "[%s]:%d", host, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, host, sizeof host);
        snprintf(buf, size, "%s:%d", host, ntohs(a->sin_port));
    }
}

static void log_dropped(struct coap_srv_relay *r, const char *dir, size_t bytes,
                        const struct coap_srv_fault *f)
{
    if (!r->srv->log)
        return;
    struct coap_srv_record rec = {
        .event = COAP_SRV_DROPPED,
        .peer = r->peer,
        .method = dir,
        .path = "-",
        .bytes = bytes,
        .faults = f->text,
    };
    r->srv->log(r->srv->log_ctx, &rec);
}

/* ---- Datagrams ------------------------------------------------------------------ */

static uint64_t next_random(struct coap_srv *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

/* Whether drop or loss eats this datagram (logged if so). */
static bool lost(struct coap_srv_relay *r, const char *dir, size_t bytes)
{
    struct coap_srv *s = r->srv;
    const struct coap_srv_fault *drop = datagram_fault(s, COAP_SRV_DROP);
    const struct coap_srv_fault *loss = datagram_fault(s, COAP_SRV_LOSS);
    r->count++;
    if (drop && r->count % drop->n == 0) {
        log_dropped(r, dir, bytes, drop);
        return true;
    }
    if (loss && next_random(s) % 100 < loss->n) {
        log_dropped(r, dir, bytes, loss);
        return true;
    }
    return false;
}

static void relay_touch(struct coap_srv_relay *r)
{
    struct coap_srv *s = r->srv;
    r->last_ms = uv_now(s->loop);
    if (s->relays == r)
        return;
    if ((*r->pprev = r->next))
        r->next->pprev = r->pprev;
    if ((r->next = s->relays))
        r->next->pprev = &r->next;
    r->pprev = &s->relays;
    s->relays = r;
}

static void maybe_done(struct coap_srv *s)
{
    if (s->handles > 0)
        return;
    if (s->ctx)
        coap_free_context(s->ctx);
    if (s->root_fd >= 0)
        close(s->root_fd);
    void (*closed)(void *) = s->closed;
    void *arg = s->closed_arg;
    free(s);
    if (closed)
        closed(arg);
}

static void on_relay_closed(uv_handle_t *h)
{
    struct coap_srv_relay *r = h->data;
    struct coap_srv *s = r->srv;
    free(r);
    s->handles--;
    maybe_done(s);
}

static void relay_close(struct coap_srv_relay *r)
{
    if (r->closing)
        return;
    r->closing = true;
    if ((*r->pprev = r->next))
        r->next->pprev = r->pprev;
    r->srv->nrelays--;
    uv_close((uv_handle_t *)&r->udp, on_relay_closed);
}

/* An answer from libcoap for the relay's client. */
static void on_inner(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                     unsigned flags)
{
    struct coap_srv_relay *r = u->data;
    struct coap_srv *s = r->srv;
    const struct sockaddr_in *f = (const struct sockaddr_in *)from;
    if (nread <= 0 || !from || (flags & UV_UDP_PARTIAL) || r->closing || s->stopping ||
        f->sin_family != AF_INET || f->sin_port != s->inner.sin_port ||
        f->sin_addr.s_addr != s->inner.sin_addr.s_addr)
        return; /* only libcoap's endpoint talks to a relay */
    relay_touch(r);
    if (r->stalled)
        return;
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
    if (r->garbage) {
        r->garbage--;
        out = uv_buf_init((char *)GARBAGE, sizeof GARBAGE - 1);
    }
    if (lost(r, "out", out.len))
        return;
    /* A full socket buffer loses the datagram, as any UDP path may. */
    uv_udp_try_send(&s->pub, &out, 1, (const struct sockaddr *)&r->peer_addr);
}

/* Datagrams are handled as they arrive: one buffer serves every socket. */
static void on_alloc_public(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct coap_srv *s = h->data;
    *buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void on_alloc_relay(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    on_alloc_public((uv_handle_t *)&((struct coap_srv_relay *)h->data)->srv->pub, suggested, buf);
}

static bool same_peer(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a,
                                  *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* A new client: a loopback socket of its own towards libcoap. At the bound,
 * the client silent for longest is forgotten. */
static struct coap_srv_relay *relay_open(struct coap_srv *s, const struct sockaddr *peer)
{
    if (s->nrelays >= COAP_SRV_CLIENTS) {
        struct coap_srv_relay *last = s->relays;
        while (last->next)
            last = last->next;
        relay_close(last);
    }
    struct coap_srv_relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = s;
    memcpy(&r->peer_addr, peer,
           peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    peer_name(&r->peer_addr, r->peer, sizeof r->peer);
    uv_udp_init(s->loop, &r->udp);
    r->udp.data = r;
    s->handles++;
    s->nrelays++;
    if ((r->next = s->relays))
        r->next->pprev = &r->next;
    r->pprev = &s->relays;
    s->relays = r;
    struct sockaddr_in lo;
    uv_ip4_addr("127.0.0.1", 0, &lo);
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (uv_udp_bind(&r->udp, (const struct sockaddr *)&lo, 0) != 0 ||
        uv_udp_getsockname(&r->udp, (struct sockaddr *)&bound, &len) != 0 ||
        uv_udp_recv_start(&r->udp, on_alloc_relay, on_inner) != 0) {
        relay_close(r);
        return NULL;
    }
    r->port = ((struct sockaddr_in *)&bound)->sin_port;
    r->last_ms = uv_now(s->loop);
    return r;
}

/* A datagram from a client, on the public port. */
static void on_public(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                      unsigned flags)
{
    struct coap_srv *s = u->data;
    if (nread <= 0 || !from || (flags & UV_UDP_PARTIAL) || s->stopping)
        return;
    struct coap_srv_relay *r = s->relays;
    while (r && !same_peer(&r->peer_addr, from))
        r = r->next;
    if (!r && !(r = relay_open(s, from)))
        return; /* out of memory or sockets: the datagram is lost */
    relay_touch(r);
    if (r->stalled || lost(r, "in", (size_t)nread))
        return;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    uv_udp_try_send(&r->udp, &b, 1, (const struct sockaddr *)&s->inner);
}

static void on_sweep(uv_timer_t *t)
{
    struct coap_srv *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (struct coap_srv_relay *r = s->relays, *next; r; r = next) {
        next = r->next;
        if (now - r->last_ms >= COAP_SRV_IDLE_MS)
            relay_close(r);
    }
}

/* ---- Requests ------------------------------------------------------------------ */

/* What one request gets: filled by the handler, logged at its end. */
struct answer {
    struct coap_srv *srv;
    struct coap_srv_relay *relay;
    const char *method;
    char path[COAP_SRV_PATH_MAX];
    int code; /* 0: no CoAP answer reaches the client */
    uint32_t num;
    unsigned size; /* of the Block2 answered; 0: none */
    char faults[512];
};

static struct coap_srv_relay *relay_of(struct coap_srv *s, coap_session_t *session)
{
    const coap_address_t *a = coap_session_get_addr_remote(session);
    if (!a || a->addr.sa.sa_family != AF_INET)
        return NULL;
    for (struct coap_srv_relay *r = s->relays; r; r = r->next)
        if (r->port == a->addr.sin.sin_port)
            return r;
    return NULL;
}

static const char *method_name(coap_pdu_code_t code)
{
    static const char *const names[] = {"EMPTY",  "GET",   "POST",  "PUT",
                                        "DELETE", "FETCH", "PATCH", "iPATCH"};
    return (unsigned)code < sizeof names / sizeof names[0] ? names[code] : "?";
}

static void log_answer(const struct answer *a)
{
    if (!a->srv->log)
        return;
    struct coap_srv_record rec = {
        .event = COAP_SRV_REQUEST,
        .peer = a->relay ? a->relay->peer : "?",
        .method = a->method,
        .path = a->path[0] ? a->path : "-",
        .code = a->code,
        .block_num = a->num,
        .block_size = a->size,
        .faults = a->faults[0] ? a->faults : "-",
    };
    a->srv->log(a->srv->log_ctx, &rec);
}

static void set_code(coap_pdu_t *resp, struct answer *a, int code)
{
    coap_pdu_set_code(resp, (coap_pdu_code_t)COAP_RESPONSE_CODE(code));
    a->code = code;
}

/* The Uri-Path options as "/a/b". Options are raw bytes, already decoded:
 * a segment holding '/' or NUL, or one that is "." or "..", is refused
 * (RFC 7252 6.5 forbids the last two), and so is a path that does not fit.
 * Returns 0 or the code to answer; path holds what fits either way, for
 * the log (NUL bytes as '?'). */
static int request_path(const coap_pdu_t *req, char *path, size_t size)
{
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_PATH);
    coap_option_iterator_init(req, &it, &filter);
    size_t n = 0;
    int code = 0;
    for (coap_opt_t *o; (o = coap_option_next(&it));) {
        const char *v = (const char *)coap_opt_value(o);
        size_t len = coap_opt_length(o);
        if (memchr(v, '/', len) || memchr(v, '\0', len) || (len == 1 && v[0] == '.') ||
            (len == 2 && v[0] == '.' && v[1] == '.'))
            code = 400;
        if (n + 1 + len >= size)
            code = 400;
        for (size_t i = 0; i <= len && n + 1 < size; i++)
            path[n++] = i == 0 ? '/' : v[i - 1] ? v[i - 1] : '?';
    }
    if (n == 0)
        path[n++] = '/';
    path[n] = '\0';
    return code;
}

/* 4.04 for anything but a regular file, 4.03 for a link out of the root
 * (unless those are followed), 5.03 when out of descriptors or memory. */
static int open_file(struct coap_srv *s, const char *path, int *fd, struct stat *st)
{
    const char *rel = path;
    while (*rel == '/')
        rel++;
    if (!*rel)
        rel = ".";
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    *fd =
        s->follow_symlinks ? openat(s->root_fd, rel, flags) : beneath_open(s->root_fd, rel, flags);
    int err = *fd >= 0 ? 0 : s->follow_symlinks ? errno : -*fd;
    if (err == EXDEV)
        return 403;
    if (err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN)
        return 503;
    if (err)
        return 404;
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return 404;
    }
    return 0;
}

/* One version of a file, as an ETag: FNV-1a over what changes when it does. */
static uint64_t file_etag(const struct stat *st)
{
    uint64_t v[] = {(uint64_t)st->st_size, (uint64_t)st->st_mtim.tv_sec,
                    (uint64_t)st->st_mtim.tv_nsec, (uint64_t)st->st_ino, (uint64_t)st->st_dev};
    uint64_t h = 0xcbf29ce484222325u;
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < sizeof v; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

/* The client's Block2: 1 with *num and *size, 0 if it asked none, -1 if
 * malformed (SZX 7 is reserved for BERT over TCP; RFC 8323). */
static int asked_block(const coap_pdu_t *req, uint32_t *num, unsigned *size)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(req, COAP_OPTION_BLOCK2, &it);
    if (!o)
        return 0;
    if (coap_opt_length(o) > 3)
        return -1;
    unsigned v = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
    if ((v & 7) == 7)
        return -1;
    *num = v >> 4;
    *size = 16u << (v & 7);
    return 1;
}

static int szx_of(unsigned size)
{
    int szx = 0;
    while ((16u << szx) < size)
        szx++;
    return szx;
}

/* The block, with its options in number order: ETag, Content-Format,
 * Block2 (when one is answered), Size2. Returns 0 or the code to answer. */
static int answer_block(const struct stat *st, int fd, uint64_t etag, bool with_block,
                        struct answer *a, coap_pdu_t *resp)
{
    uint64_t offset = (uint64_t)a->num * a->size, total = (uint64_t)st->st_size;
    if (offset > 0 && offset >= total)
        return 402; /* past the end: the Block2 asked is wrong (RFC 7959 2.4) */
    size_t len = total - offset < a->size ? (size_t)(total - offset) : a->size;
    bool more = offset + len < total;
    unsigned char data[1024], opt[8];
    for (size_t got = 0; got < len;) {
        ssize_t r = pread(fd, data + got, len - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 500; /* the file shrank under us */
        got += (size_t)r;
    }
    for (int i = 0; i < 8; i++)
        opt[i] = (unsigned char)(etag >> (56 - 8 * i));
    coap_add_option(resp, COAP_OPTION_ETAG, 8, opt);
    coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(opt, sizeof opt, CONTENT_OCTETS), opt);
    if (with_block) {
        unsigned v = a->num << 4 | (more ? 8u : 0u) | (unsigned)szx_of(a->size);
        coap_add_option(resp, COAP_OPTION_BLOCK2, coap_encode_var_safe(opt, sizeof opt, v), opt);
    } else {
        a->size = 0;
    }
    coap_add_option(resp, COAP_OPTION_SIZE2, coap_encode_var_safe(opt, sizeof opt, (unsigned)total),
                    opt);
    if (len)
        coap_add_data(resp, len, data);
    return 205;
}

/* The block to answer and the faults that shape it, then the answer. */
static int serve(struct answer *a, const coap_pdu_t *req, coap_pdu_t *resp,
                 const struct coap_srv_fault *slot[COAP_SRV_LOSS + 1])
{
    struct coap_srv_relay *r = a->relay;
    uint32_t num = 0;
    unsigned size = COAP_SRV_BLOCK_DEFAULT;
    int asked = asked_block(req, &num, &size);
    if (asked < 0)
        return 402;
    const struct coap_srv_fault *f;
    if ((f = slot[COAP_SRV_CODE])) {
        note_fault(a->faults, sizeof a->faults, f);
        return (int)f->n;
    }
    int fd, code;
    struct stat st;
    if ((code = open_file(a->srv, a->path, &fd, &st)) != 0)
        return code;
    a->num = num;
    a->size = size;
    if ((f = slot[COAP_SRV_BLOCK])) {
        /* Where the client's block starts, in blocks of the forced size. */
        a->size = f->n;
        a->num = (uint32_t)((uint64_t)num * size / f->n);
        note_fault(a->faults, sizeof a->faults, f);
    }
    bool with_block = asked || slot[COAP_SRV_BLOCK] || (uint64_t)st.st_size > a->size;
    uint64_t etag = file_etag(&st);
    /* The file "changed" once block N was asked, and stays changed for
     * this client: a client that starts over gets the new version whole. */
    if ((f = slot[COAP_SRV_ETAG]) && (a->num >= f->n || (r && r->changed))) {
        if (r)
            r->changed = true;
        etag = ~etag;
        note_fault(a->faults, sizeof a->faults, f);
    }
    bool silent = false;
    if ((f = slot[COAP_SRV_STALL]) && a->num >= f->n && r) {
        r->stalled = true; /* this answer and all that follow are swallowed */
        note_fault(a->faults, sizeof a->faults, f);
        silent = true;
    } else if ((f = slot[COAP_SRV_GARBAGE]) && a->num == f->n && r) {
        r->garbage++;
        note_fault(a->faults, sizeof a->faults, f);
        silent = true;
    }
    code = answer_block(&st, fd, etag, with_block, a, resp);
    close(fd);
    return silent ? -code : code;
}

static void on_get(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                   const coap_string_t *query, coap_pdu_t *resp)
{
    (void)query;
    struct coap_srv *s = coap_resource_get_userdata(res);
    struct answer a = {.srv = s, .relay = relay_of(s, session), .method = "GET"};
    int code = request_path(req, a.path, sizeof a.path);
    if (code == 0) {
        const struct coap_srv_fault *slot[COAP_SRV_LOSS + 1] = {0};
        select_faults(s, a.path, slot);
        code = serve(&a, req, resp, slot);
    }
    if (code >= 0 && code != 205)
        a.size = 0;
    set_code(resp, &a, code < 0 ? -code : code);
    if (code < 0)
        a.code = 0; /* what libcoap sends is swallowed or replaced */
    log_answer(&a);
}

/* Every other method: the files are read-only. */
static void on_other(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                     const coap_string_t *query, coap_pdu_t *resp)
{
    (void)query;
    struct coap_srv *s = coap_resource_get_userdata(res);
    struct answer a = {.srv = s, .relay = relay_of(s, session)};
    a.method = method_name(coap_pdu_get_code(req));
    request_path(req, a.path, sizeof a.path);
    set_code(resp, &a, 405);
    log_answer(&a);
}

/* ---- Server ---------------------------------------------------------------------- */

/* libcoap's context, its endpoint on a loopback port, the catch-all resource. */
static int coap_setup(struct coap_srv *s)
{
    if (!(s->ctx = coap_new_context(NULL)))
        return UV_ENOMEM;
    coap_context_set_max_idle_sessions(s->ctx, COAP_SRV_CLIENTS);
    coap_address_t addr;
    coap_address_init(&addr);
    addr.addr.sin.sin_family = AF_INET;
    addr.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.size = sizeof addr.addr.sin;
    coap_endpoint_t *ep = coap_new_endpoint(s->ctx, &addr, COAP_PROTO_UDP);
    unsigned port = 0;
    /* 4.3.1 has no getter for the bound address but this string. */
    const char *name = ep ? coap_endpoint_str(ep) : NULL;
    const char *colon = name ? strrchr(name, ':') : NULL;
    if (!colon || sscanf(colon + 1, "%u", &port) != 1 || !in(port, 1, 65535))
        return UV_EADDRNOTAVAIL;
    uv_ip4_addr("127.0.0.1", (int)port, &s->inner);
    coap_resource_t *res = coap_resource_unknown_init(on_other);
    if (!res)
        return UV_ENOMEM;
    coap_resource_set_userdata(res, s);
    coap_register_request_handler(res, COAP_REQUEST_GET, on_get);
    static const coap_request_t others[] = {COAP_REQUEST_POST, COAP_REQUEST_DELETE,
                                            COAP_REQUEST_FETCH, COAP_REQUEST_PATCH,
                                            COAP_REQUEST_IPATCH};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        coap_register_request_handler(res, others[i], on_other);
    coap_add_resource(s->ctx, res);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct coap_srv *s = h->data;
    s->handles--;
    maybe_done(s);
}

static void on_io_closed(struct coap_uv *io)
{
    struct coap_srv *s = (struct coap_srv *)((char *)io - offsetof(struct coap_srv, io));
    s->handles--;
    maybe_done(s);
}

int coap_srv_start(struct coap_srv **out, uv_loop_t *loop, const struct coap_srv_config *cfg,
                   const char **what)
{
    *out = NULL;
    struct coap_srv *s = calloc(1, sizeof *s);
    if (!s) {
        *what = "memory";
        return UV_ENOMEM;
    }
    s->loop = loop;
    s->faults = cfg->faults;
    s->nfaults = cfg->nfaults;
    s->log = cfg->log;
    s->log_ctx = cfg->log_ctx;
    s->rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15u; /* xorshift needs a non-zero state */
    s->follow_symlinks = cfg->follow_symlinks;
    s->root_fd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        int err = -errno;
        free(s);
        *what = "directory";
        return err;
    }
    coap_uv_library_init();
    int err = coap_setup(s);
    if (!err)
        err = coap_uv_start(&s->io, loop, s->ctx);
    if (err) {
        maybe_done(s); /* no handle is open yet */
        *what = "coap";
        return err;
    }
    s->handles = 3; /* io, pub, sweep */
    uv_udp_init(loop, &s->pub);
    uv_timer_init(loop, &s->sweep);
    s->pub.data = s->sweep.data = s;
    err = uv_udp_bind(&s->pub, cfg->addr, 0);
    if (!err)
        err = uv_udp_recv_start(&s->pub, on_alloc_public, on_public);
    if (err) {
        *what = "bind";
        coap_srv_close(s, NULL, NULL);
        return err;
    }
    uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    *out = s;
    return 0;
}

int coap_srv_address(const struct coap_srv *s, struct sockaddr_storage *ss)
{
    int len = sizeof *ss;
    return uv_udp_getsockname(&s->pub, (struct sockaddr *)ss, &len);
}

void coap_srv_close(struct coap_srv *s, void (*closed)(void *arg), void *arg)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->closed = closed;
    s->closed_arg = arg;
    while (s->relays)
        relay_close(s->relays);
    uv_close((uv_handle_t *)&s->pub, on_handle_closed);
    uv_close((uv_handle_t *)&s->sweep, on_handle_closed);
    coap_uv_close(&s->io, on_io_closed);
}

void coap_srv_set_faults(struct coap_srv *s, const struct coap_srv_fault *faults, size_t n)
{
    s->faults = faults;
    s->nfaults = n;
}
