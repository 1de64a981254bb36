/* bcsim serve DIR: a package server for the module's downloads, with the
 * faults a downloader must survive on demand: HTTP always, CoAP as well with
 * --coap-port, both on one loop. */
#include "tools/bcsim/cli.h"
#include "tools/bcsim/cli_args.h"

#include "proto/coap_server.h"
#include "proto/http_server.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <time.h>

const char cli_serve_usage[] =
    "usage: bcsim serve DIR [--bind ADDR] [--port N] [--fault FAULT]... [--log FILE]\n"
    "                 [--timeout MS] [--max-connections N] [--follow-symlinks]\n"
    "                 [--coap-port N [--coap-fault FAULT]... [--coap-seed N]]\n"
    "\n"
    "Serves the regular files under DIR by GET and HEAD over HTTP/1.1, one request\n"
    "per connection, and prints 'bcsim serve: http://ADDR:PORT/ from DIR' once\n"
    "listening; with --coap-port, by GET over CoAP/UDP as well (Block2 as the\n"
    "client asks, 512 bytes when it asks none) and prints a second line,\n"
    "'bcsim serve: coap://ADDR:PORT/ from DIR'. Runs until SIGINT or SIGTERM.\n"
    "\n"
    "  --bind ADDR    IPv4 or IPv6 literal to listen on (default 127.0.0.1)\n"
    "  --port N       TCP port (default 0: any free one, see the line printed)\n"
    "  --log FILE     append one line per request: time, peer, method, path,\n"
    "                 status, body bytes sent, faults applied; for CoAP: time,\n"
    "                 peer, method, path, code, block NUM/SIZE, faults applied,\n"
    "                 and one line per datagram drop or loss ate: time, peer,\n"
    "                 DROP, in|out, bytes, the fault\n"
    "  --timeout MS   a client's time from connecting to the end of its request\n"
    "                 headers, then 408 (default 30000; 10 to 3600000)\n"
    "  --max-connections N\n"
    "                 open at once (default 128; 1 to 10000); beyond, the oldest\n"
    "                 one still sending its request gets 503 and is closed\n"
    "  --follow-symlinks\n"
    "                 also serve through links that lead out of DIR (else 403)\n"
    "  --fault FAULT  misbehave; repeatable; FAULT@/PATH limits it to one path\n"
    "    status=CODE    answer CODE (100-599) with a short text body\n"
    "    reset=N        send the headers and N body bytes, then reset (RST)\n"
    "    close=N        send the headers and N body bytes, then close (FIN)\n"
    "    stall=N        send the headers and N body bytes, then nothing, connection open\n"
    "    length=+K|-K   announce a Content-Length K bytes off, send the whole file\n"
    "    chunked        Transfer-Encoding: chunked, chunks of 1 to 4096 bytes\n"
    "    noclen         HTTP/1.0 style: no Content-Length, the body ends at close\n"
    "    drip=BYTES/MS  send the body BYTES at a time every MS milliseconds\n"
    "    split          send the status line and headers a few bytes per write\n"
    "  For each kind (status; reset/close/stall; length; chunked/noclen; drip;\n"
    "  split) a fault naming the request's path wins over one without a path,\n"
    "  and the last given wins among equals. Faults shape every answer to a\n"
    "  GET or HEAD of a well-formed path, 403s and 404s included.\n"
    "  --coap-port N  also serve over CoAP on this UDP port of ADDR (0: any free one)\n"
    "  --coap-seed N  seed of the loss fault's draws (default: from the clock;\n"
    "                 printed on the coap line when loss is given)\n"
    "  --coap-fault FAULT\n"
    "                 misbehave over CoAP; repeatable; FAULT@/PATH for one path\n"
    "    code=C.DD      answer this code (2.00-5.31) to a GET, no file\n"
    "    stall=N        answer blocks 0 to N-1, then nothing: that answer and\n"
    "                   every datagram after it, retransmissions too, are swallowed\n"
    "    drop=N         lose every Nth datagram of a client, either way (no @/PATH)\n"
    "    loss=P         lose each datagram with probability P% (0-100, no @/PATH)\n"
    "    block=SIZE     answer blocks of SIZE (16-1024) whatever the client asked\n"
    "    etag=N         another ETag from block N on, as if the file had changed\n"
    "    garbage=N      answer the request for block N with a datagram that is\n"
    "                   not CoAP (version 0), each time it is asked\n"
    "  The kinds combine; per kind, one naming the path wins, then the last given.\n"
    "\n"
    "Exit status: 0 stopped by a signal, 2 usage, 3 DIR or the address cannot be used.\n";

#define TIMEOUT_MIN_MS 10
#define TIMEOUT_MAX_MS 3600000
#define CONNS_MAX      10000

struct serve_opts {
    const char *dir, *bind, *port, *log, *timeout, *max_conns, *coap_port, *coap_seed;
    bool follow_symlinks;
    struct http_srv_fault faults[HTTP_SRV_FAULT_MAX];
    size_t nfaults;
    struct coap_srv_fault coap_faults[COAP_SRV_FAULT_MAX];
    size_t ncoap_faults;
};

struct server {
    uv_loop_t loop;
    struct http_srv http;
    struct coap_srv *coap; /* NULL without --coap-port */
    uv_signal_t sigint, sigterm;
    FILE *log;
};

static int add_fault(struct serve_opts *o, const char *text)
{
    const char *why;
    if (o->nfaults == HTTP_SRV_FAULT_MAX) {
        fprintf(stderr, "bcsim serve: at most %d --fault options\n", HTTP_SRV_FAULT_MAX);
        return -1;
    }
    if (http_srv_fault_parse(text, &o->faults[o->nfaults], &why) != 0) {
        fprintf(stderr, "bcsim serve: --fault %s: %s\n", text, why);
        return -1;
    }
    o->nfaults++;
    return 0;
}

static int add_coap_fault(struct serve_opts *o, const char *text)
{
    const char *why;
    if (o->ncoap_faults == COAP_SRV_FAULT_MAX) {
        fprintf(stderr, "bcsim serve: at most %d --coap-fault options\n", COAP_SRV_FAULT_MAX);
        return -1;
    }
    if (coap_srv_fault_parse(text, &o->coap_faults[o->ncoap_faults], &why) != 0) {
        fprintf(stderr, "bcsim serve: --coap-fault %s: %s\n", text, why);
        return -1;
    }
    o->ncoap_faults++;
    return 0;
}

static int parse(int argc, char **argv, struct serve_opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_take(argc, argv, &i, "--bind", &v)) != 0)
            o->bind = v;
        else if ((r = cli_take(argc, argv, &i, "--port", &v)) != 0)
            o->port = v;
        else if ((r = cli_take(argc, argv, &i, "--log", &v)) != 0)
            o->log = v;
        else if ((r = cli_take(argc, argv, &i, "--timeout", &v)) != 0)
            o->timeout = v;
        else if ((r = cli_take(argc, argv, &i, "--max-connections", &v)) != 0)
            o->max_conns = v;
        else if (strcmp(argv[i], "--follow-symlinks") == 0) {
            o->follow_symlinks = true;
            r = 1;
        } else if ((r = cli_take(argc, argv, &i, "--fault", &v)) != 0)
            r = r < 0 ? r : add_fault(o, v) == 0 ? 1 : -1;
        else if ((r = cli_take(argc, argv, &i, "--coap-port", &v)) != 0)
            o->coap_port = v;
        else if ((r = cli_take(argc, argv, &i, "--coap-seed", &v)) != 0)
            o->coap_seed = v;
        else if ((r = cli_take(argc, argv, &i, "--coap-fault", &v)) != 0)
            r = r < 0 ? r : add_coap_fault(o, v) == 0 ? 1 : -1;
        else if (argv[i][0] == '-' || o->dir) {
            fprintf(stderr, "bcsim serve: unexpected argument '%s'\n", argv[i]);
            return -1;
        } else {
            o->dir = argv[i];
            r = 1;
        }
        if (r < 0)
            return -1;
    }
    if (!o->dir) {
        fprintf(stderr, "bcsim serve: which directory? (bcsim serve DIR)\n");
        return -1;
    }
    if (!o->coap_port && (o->ncoap_faults || o->coap_seed)) {
        fprintf(stderr, "bcsim serve: %s without --coap-port: CoAP is off\n",
                o->ncoap_faults ? "--coap-fault" : "--coap-seed");
        return -1;
    }
    return 0;
}

/* A decimal number from min to max; what is expected, in `unit`, otherwise. */
static int parse_number(const char *opt, const char *text, unsigned long min, unsigned long max,
                        const char *unit, unsigned long *v)
{
    char *end;
    errno = 0;
    *v = strtoul(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno || *v < min || *v > max) {
        fprintf(stderr, "bcsim serve: %s %s: expected %lu to %lu %s\n", opt, text, min, max, unit);
        return -1;
    }
    return 0;
}

static int parse_limits(const struct serve_opts *o, struct http_srv_config *cfg)
{
    unsigned long v;
    if (o->timeout) {
        if (parse_number("--timeout", o->timeout, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, "milliseconds",
                         &v) != 0)
            return -1;
        cfg->timeout_ms = (uint32_t)v;
    }
    if (o->max_conns) {
        if (parse_number("--max-connections", o->max_conns, 1, CONNS_MAX, "connections", &v) != 0)
            return -1;
        cfg->max_conns = (unsigned)v;
    }
    cfg->follow_symlinks = o->follow_symlinks;
    return 0;
}

static int parse_address(const struct serve_opts *o, const char *opt, const char *text,
                         struct sockaddr_storage *ss)
{
    int64_t port;
    if (cli_number("bcsim serve", opt, text, 0, 65535, &port) != 0)
        return -1;
    if (uv_ip4_addr(o->bind, (int)port, (struct sockaddr_in *)ss) != 0 &&
        uv_ip6_addr(o->bind, (int)port, (struct sockaddr_in6 *)ss) != 0) {
        fprintf(stderr, "bcsim serve: --bind %s: expected an IPv4 or IPv6 address\n", o->bind);
        return -1;
    }
    return 0;
}

/* "http://127.0.0.1:8080/", "coap://[::1]:5683/" */
static void format_url(const char *scheme, const struct sockaddr_storage *ss, char *buf,
                       size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, host, sizeof host);
        snprintf(buf, size, "%s://[%s]:%u/", scheme, host, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, host, sizeof host);
        snprintf(buf, size, "%s://%s:%u/", scheme, host, ntohs(a->sin_port));
    }
}

/* Paths are bytes: escape what would break the line into fields, as a URL would. */
static const char *escape_path(const char *path, char *buf, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < size; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '%')
            n += (size_t)snprintf(buf + n, size - n, "%%%02X", *p);
        else
            buf[n++] = (char)*p;
    }
    buf[n] = '\0';
    return buf;
}

/* "2024-05-01T12:00:00.123Z" */
static void format_now(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    char when[32];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", when, (int)(tv.tv_usec / 1000) % 1000);
}

static void log_request(void *ctx, const struct http_srv_record *r)
{
    char path[3 * HTTP_SRV_PATH_MAX], when[64];
    format_now(when, sizeof when);
    fprintf(ctx, "%s %s %s %s %d %llu %s\n", when, r->peer, r->method,
            escape_path(r->path, path, sizeof path), r->status, (unsigned long long)r->body_bytes,
            r->faults);
    fflush(ctx);
}

/* A CoAP code as written: "2.05"; "-" for no CoAP answer. A block: "3/512";
 * "-" for none. */
static void log_coap(void *ctx, const struct coap_srv_record *r)
{
    char path[3 * COAP_SRV_PATH_MAX], when[64], code[24] = "-", block[24] = "-";
    format_now(when, sizeof when);
    if (r->event == COAP_SRV_DROPPED) {
        fprintf(ctx, "%s %s DROP %s %zu %s\n", when, r->peer, r->method, r->bytes, r->faults);
    } else {
        if (r->code)
            snprintf(code, sizeof code, "%d.%02d", r->code / 100, r->code % 100);
        if (r->block_size)
            snprintf(block, sizeof block, "%u/%u", (unsigned)r->block_num, r->block_size);
        fprintf(ctx, "%s %s %s %s %s %s %s\n", when, r->peer, r->method,
                escape_path(r->path, path, sizeof path), code, block, r->faults);
    }
    fflush(ctx);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    struct server *sv = sig->data;
    http_srv_close(&sv->http, NULL);
    if (sv->coap)
        coap_srv_close(sv->coap, NULL, NULL);
    uv_close((uv_handle_t *)&sv->sigint, NULL);
    uv_close((uv_handle_t *)&sv->sigterm, NULL);
}

static void watch_signals(struct server *sv)
{
    uv_signal_t *sigs[] = {&sv->sigint, &sv->sigterm};
    int signums[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        uv_signal_init(&sv->loop, sigs[i]);
        sigs[i]->data = sv;
        uv_signal_start(sigs[i], on_signal, signums[i]);
    }
}

/* Runs the loop until every handle has closed, then releases the rest. */
static int finish(struct server *sv, int rc)
{
    uv_run(&sv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&sv->loop);
    if (sv->log)
        fclose(sv->log);
    return rc;
}

/* The seed of loss's draws: given, or from the clock; printed either way. */
static int parse_seed(const struct serve_opts *o, uint64_t *seed)
{
    int64_t v;
    if (o->coap_seed) {
        if (cli_number("bcsim serve", "--coap-seed", o->coap_seed, 0, UINT32_MAX, &v) != 0)
            return -1;
        *seed = (uint64_t)v;
        return 0;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    *seed =
        ((uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec ^ (uint64_t)getpid()) & UINT32_MAX;
    return 0;
}

static bool has_loss(const struct serve_opts *o)
{
    for (size_t i = 0; i < o->ncoap_faults; i++)
        if (o->coap_faults[i].kind == COAP_SRV_LOSS)
            return true;
    return false;
}

/* CoAP beside HTTP, same root, same address; the line to print in `line`. */
static int start_coap(struct server *sv, const struct serve_opts *o,
                      const struct sockaddr_storage *addr, uint64_t seed, char *line, size_t size)
{
    struct coap_srv_config cfg = {
        .root = o->dir,
        .addr = (const struct sockaddr *)addr,
        .faults = o->coap_faults,
        .nfaults = o->ncoap_faults,
        .log = sv->log ? log_coap : NULL,
        .log_ctx = sv->log,
        .seed = seed,
        .follow_symlinks = o->follow_symlinks,
    };
    const char *what;
    int err = coap_srv_start(&sv->coap, &sv->loop, &cfg, &what);
    if (err) {
        if (strcmp(what, "bind") == 0)
            fprintf(stderr, "bcsim serve: cannot listen on %s UDP port %s: %s\n", o->bind,
                    o->coap_port, uv_strerror(err));
        else if (strcmp(what, "directory") == 0)
            fprintf(stderr, "bcsim serve: %s: %s\n", o->dir, uv_strerror(err));
        else
            fprintf(stderr, "bcsim serve: cannot start CoAP (%s): %s\n", what, uv_strerror(err));
        return -1;
    }
    struct sockaddr_storage bound;
    char url[80];
    coap_srv_address(sv->coap, &bound);
    format_url("coap", &bound, url, sizeof url);
    if (has_loss(o))
        snprintf(line, size, "bcsim serve: %s from %s (loss seed %llu)\n", url, o->dir,
                 (unsigned long long)seed);
    else
        snprintf(line, size, "bcsim serve: %s from %s\n", url, o->dir);
    return 0;
}

int cli_serve(int argc, char **argv)
{
    static struct serve_opts o; /* the faults hold their paths: not on the stack */
    memset(&o, 0, sizeof o);
    o.bind = "127.0.0.1";
    o.port = "0";
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(cli_serve_usage, stdout);
        return CLI_OK;
    }
    struct sockaddr_storage addr, coap_addr;
    struct http_srv_config cfg = {0};
    uint64_t seed = 0;
    if (parse(argc, argv, &o) != 0 || parse_address(&o, "--port", o.port, &addr) != 0 ||
        (o.coap_port && parse_address(&o, "--coap-port", o.coap_port, &coap_addr) != 0) ||
        parse_limits(&o, &cfg) != 0 || parse_seed(&o, &seed) != 0)
        return CLI_USAGE;

    struct server sv = {0};
    if (o.log && !(sv.log = fopen(o.log, "a"))) {
        fprintf(stderr, "bcsim serve: cannot open log %s: %s\n", o.log, strerror(errno));
        return CLI_UNAVAILABLE;
    }
    /* A client that vanishes makes our next write fail: an error, not a death. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&sv.loop);
    cfg.root = o.dir;
    cfg.addr = (const struct sockaddr *)&addr;
    cfg.faults = o.faults;
    cfg.nfaults = o.nfaults;
    cfg.log = sv.log ? log_request : NULL;
    cfg.log_ctx = sv.log;
    const char *what;
    int err = http_srv_start(&sv.http, &sv.loop, &cfg, &what);
    if (err) {
        if (strcmp(what, "directory") == 0)
            fprintf(stderr, "bcsim serve: %s: %s\n", o.dir, uv_strerror(err));
        else
            fprintf(stderr, "bcsim serve: cannot listen on %s port %s: %s\n", o.bind, o.port,
                    uv_strerror(err));
        return finish(&sv, CLI_UNAVAILABLE);
    }
    char url[80], coap_line[PATH_MAX + 160] = "";
    http_srv_address(&sv.http, &addr);
    format_url("http", &addr, url, sizeof url);
    if (o.coap_port && start_coap(&sv, &o, &coap_addr, seed, coap_line, sizeof coap_line) != 0) {
        http_srv_close(&sv.http, NULL);
        return finish(&sv, CLI_UNAVAILABLE);
    }
    watch_signals(&sv);
    /* HTTP's line first, as before CoAP joined; both only once both listen. */
    printf("bcsim serve: %s from %s\n%s", url, o.dir, coap_line);
    fflush(stdout);
    return finish(&sv, CLI_OK);
}
