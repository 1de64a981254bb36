/* A package server for testing downloaders: GET and HEAD of the regular files
 * beneath one directory over HTTP/1.1 (one request per connection), and faults
 * injected on demand that off-the-shelf servers cannot produce: error
 * statuses, resets, clean and early closes, stalls, wrong Content-Length,
 * chunked or close-delimited bodies, slow bodies, headers split across writes.
 *
 * Bodies stream from the file with backpressure: one buffer per connection,
 * refilled only when the previous write has completed. The library prints
 * nothing; errors come back as libuv codes, requests as http_srv_record.
 * Writing to a vanished client raises SIGPIPE: the program ignores it.
 *
 * Clients are bounded: each has timeout_ms from connecting to send its
 * request head (408 after that), and at most max_conns connections are open;
 * at the bound the oldest one still sending its request makes room (503), or,
 * when every one is busy answering, new ones wait in the listen backlog. */
#ifndef BCSIM_HTTP_SERVER_H
#define BCSIM_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_SRV_PATH_MAX   1024
#define HTTP_SRV_FAULT_MAX  32    /* faults a server takes */
#define HTTP_SRV_TIMEOUT_MS 30000 /* default time to send a request head */
#define HTTP_SRV_CONNS      128   /* default bound on open connections */

enum http_srv_fault_kind {
    HTTP_SRV_STATUS,  /* status=CODE: that status and a short body */
    HTTP_SRV_RESET,   /* reset=N: N body bytes, then RST */
    HTTP_SRV_CLOSE,   /* close=N: N body bytes, then FIN */
    HTTP_SRV_STALL,   /* stall=N: N body bytes, then silence */
    HTTP_SRV_LENGTH,  /* length=+K / -K: announce the size off by K, send the file */
    HTTP_SRV_CHUNKED, /* chunked: Transfer-Encoding: chunked, sizes 1..4096 */
    HTTP_SRV_NOCLEN,  /* noclen: HTTP/1.0, no Content-Length, body ends at close */
    HTTP_SRV_DRIP,    /* drip=BYTES/MS: the body BYTES at a time every MS ms */
    HTTP_SRV_SPLIT,   /* split: status line and headers a few bytes per write */
    HTTP_SRV_GARBAGE, /* garbage: an answer that is not HTTP, then the close */
};

struct http_srv_fault {
    enum http_srv_fault_kind kind;
    int64_t n;   /* status code, byte count (reset, close, stall, drip), length delta */
    uint32_t ms; /* drip interval */
    char path[HTTP_SRV_PATH_MAX]; /* the only path it applies to; "" for every path */
    char text[64];                /* its name and argument as given, for the log */
};

/* Parses "KIND[=ARG][@/PATH]". Returns 0, or -1 with *why set to a sentence
 * (static storage) saying what is wrong. */
int http_srv_fault_parse(const char *text, struct http_srv_fault *f, const char **why);

/* One request, reported when its connection has closed. */
struct http_srv_record {
    const char *peer;    /* "127.0.0.1:40000", "[::1]:40000" */
    const char *method;  /* "-" when the request did not parse */
    const char *path;    /* decoded, without query; "-" when unknown */
    int status;          /* the status sent (0: the client left before the answer) */
    uint64_t body_bytes; /* body bytes the kernel accepted */
    const char *faults;  /* the faults applied, comma-separated, or "-" */
};

typedef void (*http_srv_log_fn)(void *ctx, const struct http_srv_record *r);

struct http_srv_config {
    const char *root;                    /* the directory served */
    const struct sockaddr *addr;         /* where to listen; port 0 picks a free one */
    const struct http_srv_fault *faults; /* kept by the caller while the server runs */
    size_t nfaults;
    http_srv_log_fn log; /* may be NULL */
    void *log_ctx;
    uint32_t timeout_ms;  /* from connecting to the end of the request head; 0: the default */
    unsigned max_conns;   /* 0: the default */
    bool follow_symlinks; /* also links that lead out of root */
};

struct http_srv_conn;

struct http_srv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int root_fd;
    const struct http_srv_fault *faults;
    size_t nfaults;
    http_srv_log_fn log;
    void *log_ctx;
    struct http_srv_conn *conns; /* open connections, newest first */
    unsigned open;               /* connections in that list */
    unsigned live;               /* connections not yet freed, closing ones included */
    uint32_t timeout_ms;
    unsigned max_conns;
    bool follow_symlinks;
    uv_timer_t retry; /* taking a connection again after running out of memory */
    bool waiting;     /* libuv holds a connection we have not taken yet */
    void (*closed)(struct http_srv *s);
    bool listening, retry_open, stopping;
};

/* Opens root and listens. Returns 0, or a negative libuv error code with
 * *what naming the step that failed ("directory" or "bind"); after a failure
 * the listener is closing: run the loop once more before closing it. */
int http_srv_start(struct http_srv *s, uv_loop_t *loop, const struct http_srv_config *cfg,
                   const char **what);

/* From the next request on, these faults (kept by the caller) shape the
 * answers; answers already under way keep theirs. */
void http_srv_set_faults(struct http_srv *s, const struct http_srv_fault *faults, size_t n);

/* The address actually bound (the port chosen when 0 was asked). */
int http_srv_address(const struct http_srv *s, struct sockaddr_storage *ss);

/* Stops listening and drops every connection, stalled ones included.
 * closed (may be NULL) runs once the last handle has closed. */
void http_srv_close(struct http_srv *s, void (*closed)(struct http_srv *s));

#endif
