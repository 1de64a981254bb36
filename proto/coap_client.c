#include "proto/coap_client.h"

#include "proto/coap_loop.h"

#include <coap3/coap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BLOCK   512
#define MAX_RETRANSMIT  4
#define MIN_ACK_MS      1000 /* libcoap ignores less */
#define LINKED_ACK_MS   2000 /* RFC 7252's ACK_TIMEOUT, the floor with a link */
#define STALL_MARGIN_MS 1000

/* One GET: created for it, freed once closed and its handles are gone. */
struct coap_dl {
    uv_loop_t *loop;
    struct url url;
    struct dl_link link;
    uint32_t stall_ms;
    unsigned szx;     /* the Block2 size asked for: 16 << szx bytes */
    uint32_t num;     /* the block asked for last */
    uint8_t token[8]; /* of the request asked last: other answers are late */
    size_t token_len;
    uint8_t etag[8]; /* of the first block, which every later one must have */
    size_t etag_len;
    coap_pdu_t *request; /* what every GET shares (Uri-Path, Uri-Query) */
    const struct dl_sink *sink;
    void *sink_ctx;
    dl_done_fn done;
    void *done_ctx;

    struct resolve_req resolve;
    uv_timer_t stall, pace;
    uv_check_t check; /* after each poll: did libcoap discard a datagram? */
    struct coap_uv uv;
    coap_context_t *ctx;
    coap_session_t *session;
    uint32_t ack_ms;

    int64_t length;    /* Size2 of the first block, or -1 */
    uint64_t received; /* body bytes so far */
    int refs;          /* handles, the lookup and the libcoap context */
    bool running;      /* started and not yet done */
    bool begun;        /* the sink's begin() was called */
    bool uv_open;      /* coap_uv started and not closed yet */
};

static void unref(struct coap_dl *t)
{
    if (--t->refs == 0)
        free(t);
}

static void on_handle_closed(uv_handle_t *h)
{
    unref(h->data);
}

/* The context goes once its handles are closed, never inside libcoap. */
static void on_uv_closed(struct coap_uv *c)
{
    struct coap_dl *t = (struct coap_dl *)((char *)c - offsetof(struct coap_dl, uv));
    coap_free_context(t->ctx);
    t->ctx = NULL;
    unref(t);
}

static void *coap_create(uv_loop_t *loop)
{
    struct coap_dl *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->loop = loop;
    uv_timer_init(loop, &t->stall);
    uv_timer_init(loop, &t->pace);
    uv_check_init(loop, &t->check);
    t->stall.data = t->pace.data = t->check.data = t;
    t->refs = 3;
    return t;
}

/* Stops everything in flight; false if it had stopped already. */
static bool stop(struct coap_dl *t)
{
    if (!t->running)
        return false;
    t->running = false;
    coap_delete_pdu(t->request);
    t->request = NULL;
    uv_timer_stop(&t->stall);
    uv_timer_stop(&t->pace);
    uv_check_stop(&t->check);
    if (t->uv_open) {
        t->uv_open = false;
        coap_uv_close(&t->uv, on_uv_closed);
    } else if (t->ctx) {
        /* Only start() gets here with a context (coap_uv_start failed): not inside libcoap. */
        coap_free_context(t->ctx);
        t->ctx = NULL;
        unref(t);
    }
    return true;
}

static void finish(struct coap_dl *t, enum dl_error err, int detail)
{
    if (stop(t))
        t->done(t->done_ctx, err, detail); /* last: it may close t */
}

/* ---- Timing ----------------------------------------------------------------- */

/* The ack timeout for blocks of `block` bytes: twice a paced round trip, so
 * holding a block back never makes libcoap retransmit. */
static uint32_t ack_timeout_ms(const struct dl_link *l, size_t block)
{
    if (!l->rtt_ms && !l->bytes_per_s)
        return MIN_ACK_MS;
    uint64_t trip = l->rtt_ms;
    if (l->bytes_per_s)
        trip += (uint64_t)block * 1000 / l->bytes_per_s;
    uint64_t ms = 2 * trip;
    if (ms < LINKED_ACK_MS)
        ms = LINKED_ACK_MS;
    if (ms > UINT16_MAX * 1000ull)
        ms = UINT16_MAX * 1000ull;
    return (uint32_t)ms;
}

static void set_ack_timeout(struct coap_dl *t, size_t block)
{
    t->ack_ms = ack_timeout_ms(&t->link, block);
    coap_session_set_ack_timeout(t->session, (coap_fixed_point_t){(uint16_t)(t->ack_ms / 1000),
                                                                  (uint16_t)(t->ack_ms % 1000)});
}

static void on_stall(uv_timer_t *timer)
{
    finish(timer->data, DL_ETIMEOUT, 0);
}

/* stall_ms, but never before libcoap's MAX_TRANSMIT_WAIT (ack timeout *
 * (2^(MAX_RETRANSMIT+1) - 1) * the random factor 1.5) has run out. */
static void arm_stall(struct coap_dl *t)
{
    uint64_t wait = (uint64_t)t->ack_ms * ((2u << MAX_RETRANSMIT) - 1) * 3 / 2 + STALL_MARGIN_MS;
    uint64_t ms = t->stall_ms > wait ? t->stall_ms : wait;
    uv_timer_start(&t->stall, on_stall, ms, 0);
}

static void on_pace(uv_timer_t *timer)
{
    struct coap_dl *t = timer->data;
    if (t->running)
        coap_uv_hold(&t->uv, false); /* the waiting datagram is read now */
}

/* The next answer waits ms in the socket. */
static void hold_for(struct coap_dl *t, uint64_t ms)
{
    if (!ms)
        return;
    coap_uv_hold(&t->uv, true);
    uv_timer_start(&t->pace, on_pace, ms, 0);
}

static void on_check(uv_check_t *c)
{
    struct coap_dl *t = c->data;
    if (t->running && t->uv.malformed)
        finish(t, DL_EPROTO, 0);
}

/* ---- libcoap's callbacks ------------------------------------------------------ */

static struct coap_dl *transfer_of(const coap_session_t *s)
{
    struct coap_dl *t = coap_get_app_data(coap_session_get_context(s));
    return t && t->running ? t : NULL;
}

static enum dl_error send_get(struct coap_dl *t);

/* The first block's ETag, which every later one must repeat: another one
 * (or none) means the resource changed under the transfer. */
static bool same_version(struct coap_dl *t, const coap_pdu_t *rcvd)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(rcvd, COAP_OPTION_ETAG, &it);
    size_t len = o ? coap_opt_length(o) : 0;
    if (len > sizeof t->etag)
        len = sizeof t->etag;
    if (!t->begun) {
        t->etag_len = len;
        if (len)
            memcpy(t->etag, coap_opt_value(o), len);
        return true;
    }
    return len == t->etag_len && (len == 0 || memcmp(t->etag, coap_opt_value(o), len) == 0);
}

static int64_t size2_of(const coap_pdu_t *rcvd)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(rcvd, COAP_OPTION_SIZE2, &it);
    if (!o)
        return -1;
    uint64_t v = coap_decode_var_bytes8(coap_opt_value(o), coap_opt_length(o));
    return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* One block of the body: the one asked for, starting where the body so far
 * ends, as long as its size says unless it is the last. */
static void on_block(struct coap_dl *t, const coap_pdu_t *rcvd)
{
    size_t len = 0;
    const uint8_t *data = NULL;
    if (!coap_get_data(rcvd, &len, &data))
        len = 0; /* an empty body or last block */
    coap_block_t b = {0};
    bool has_block = coap_get_block(rcvd, COAP_OPTION_BLOCK2, &b);
    if (!has_block) /* the whole body in one answer: only as the first */
        b = (coap_block_t){.num = 0, .m = 0, .szx = t->szx};
    uint64_t size = (uint64_t)16 << b.szx, off = (uint64_t)b.num * size;
    if (off != t->received || (b.m && len != size) || (!has_block && t->begun)) {
        finish(t, DL_EBLOCKS, 0);
        return;
    }
    if (!same_version(t, rcvd)) {
        finish(t, DL_ECHANGED, 0);
        return;
    }
    if (!t->begun) {
        t->length = size2_of(rcvd);
        t->begun = true;
        int r = t->sink->begin(t->sink_ctx, t->length);
        if (r) {
            finish(t, DL_ESINK, r);
            return;
        }
        if (b.m && b.szx != t->szx)
            set_ack_timeout(t, size); /* the server's block size, not the one asked for */
    }
    if (t->length >= 0 && t->received + len > (uint64_t)t->length) {
        finish(t, DL_ELONG, 0);
        return;
    }
    if (b.m) {
        /* Ask for the next block, in the server's block size (RFC 7959
         * 2.4), before this one goes to the flash: the round trip is the
         * download's pace, the flash's time need not add to it. */
        t->szx = b.szx;
        t->num = b.num + 1;
        enum dl_error err = send_get(t);
        if (err != DL_OK) {
            finish(t, err, 0);
            return;
        }
    }
    if (len) {
        int r = t->sink->data(t->sink_ctx, data, len);
        if (r) {
            finish(t, DL_ESINK, r); /* the GET in flight goes with the context */
            return;
        }
    }
    t->received += len;
    if (!b.m) {
        bool shorter = t->length >= 0 && t->received < (uint64_t)t->length;
        finish(t, shorter ? DL_ESHORT : DL_OK, 0);
        return;
    }
    arm_stall(t);
    uint64_t ms = t->link.rtt_ms;
    if (t->link.bytes_per_s)
        ms += (uint64_t)len * 1000 / t->link.bytes_per_s;
    hold_for(t, ms);
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid)
{
    (void)sent;
    (void)mid;
    struct coap_dl *t = transfer_of(s);
    if (!t)
        return COAP_RESPONSE_OK;
    coap_bin_const_t token = coap_pdu_get_token(rcvd);
    if (token.length != t->token_len || memcmp(token.s, t->token, token.length) != 0)
        return COAP_RESPONSE_OK; /* a late answer to a block asked before: had it */
    coap_pdu_code_t code = coap_pdu_get_code(rcvd);
    if (code == COAP_RESPONSE_CODE_CONTENT)
        on_block(t, rcvd);
    else
        finish(t, DL_ESTATUS, (int)COAP_RESPONSE_CLASS(code) * 100 + (code & 0x1f));
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    (void)sent;
    (void)mid;
    struct coap_dl *t = transfer_of(s);
    if (!t)
        return;
    switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
        finish(t, DL_ETIMEOUT, 0);
        break;
    case COAP_NACK_RST:
        finish(t, DL_ERESET, 0);
        break;
    default: /* ICMP, not deliverable */
        finish(t, DL_ECONNECT, (int)reason);
        break;
    }
}

/* ---- The request ----------------------------------------------------------------- */

/* Options `number` from one segment string, split by libcoap. */
static bool add_segments(coap_optlist_t **opts, uint16_t number, const char *s, size_t n,
                         int (*split)(const uint8_t *, size_t, unsigned char *, size_t *))
{
    if (n == 0)
        return true;
    unsigned char buf[URL_MAX * 4];
    size_t buflen = sizeof buf;
    int k = split((const uint8_t *)s, n, buf, &buflen);
    if (k < 0)
        return false;
    for (unsigned char *p = buf; k-- > 0; p += coap_opt_size(p)) {
        coap_optlist_t *o = coap_new_optlist(number, coap_opt_length(p), coap_opt_value(p));
        if (!o || !coap_insert_optlist(opts, o))
            return false;
    }
    return true;
}

/* The GET of block t->num, in blocks of 16 << t->szx bytes: a copy of the
 * request with a token of its own and Block2, the highest option, last. */
static enum dl_error send_get(struct coap_dl *t)
{
    t->token_len = 0;
    coap_session_new_token(t->session, &t->token_len, t->token);
    coap_pdu_t *pdu = coap_pdu_duplicate(t->request, t->session, t->token_len, t->token, NULL);
    uint8_t block[4];
    unsigned block_len = coap_encode_var_safe(block, sizeof block, t->num << 4 | t->szx);
    if (!pdu || !coap_add_option(pdu, COAP_OPTION_BLOCK2, block_len, block)) {
        coap_delete_pdu(pdu);
        return DL_ENOMEM;
    }
    if (coap_send(t->session, pdu) == COAP_INVALID_MID) /* it takes the pdu either way */
        return DL_ECONNECT;
    return DL_OK;
}

/* What every GET shares, built once: Uri-Path and Uri-Query from the URL. */
static enum dl_error make_request(struct coap_dl *t)
{
    t->request = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, t->session);
    if (!t->request)
        return DL_ENOMEM;
    coap_optlist_t *opts = NULL;
    const char *path = t->url.path + 1; /* after the leading '/' */
    const char *query = strchr(path, '?');
    size_t path_len = query ? (size_t)(query - path) : strlen(path);
    bool ok = add_segments(&opts, COAP_OPTION_URI_PATH, path, path_len, coap_split_path) &&
              (!query || add_segments(&opts, COAP_OPTION_URI_QUERY, query + 1, strlen(query + 1),
                                      coap_split_query)) &&
              (!opts || coap_add_optlist_pdu(t->request, &opts));
    coap_delete_optlist(opts);
    return ok ? DL_OK : DL_ENOMEM;
}

static enum dl_error open_session(struct coap_dl *t, const struct sockaddr *addr)
{
    coap_uv_library_init(); /* coap_startup() before the first context */
    t->ctx = coap_new_context(NULL);
    if (!t->ctx)
        return DL_ENOMEM;
    t->refs++; /* released once the context is freed */
    coap_register_response_handler(t->ctx, on_response);
    coap_register_nack_handler(t->ctx, on_nack);
    coap_set_app_data(t->ctx, t);
    if (coap_uv_start(&t->uv, t->loop, t->ctx) != 0)
        return DL_ENOMEM;
    t->uv_open = true;

    coap_address_t a;
    coap_address_init(&a);
    a.size = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&a.addr, addr, a.size);
    t->session = coap_new_client_session(t->ctx, NULL, &a, COAP_PROTO_UDP);
    if (!t->session)
        return DL_ECONNECT;
    coap_session_set_max_retransmit(t->session, MAX_RETRANSMIT);
    set_ack_timeout(t, (size_t)16 << t->szx);
    return DL_OK;
}

static void on_resolved(void *ctx, int status, const struct sockaddr *addr)
{
    struct coap_dl *t = ctx;
    bool running = t->running;
    unref(t); /* the lookup's hold; while running, the timers hold it too */
    if (!running)
        return;
    if (status) {
        finish(t, DL_EDNS, status);
        return;
    }
    enum dl_error err = open_session(t, addr);
    if (err == DL_OK)
        err = make_request(t);
    if (err == DL_OK)
        err = send_get(t);
    if (err != DL_OK) {
        finish(t, err, 0);
        return;
    }
    uv_check_start(&t->check, on_check);
    arm_stall(t);
    if (t->link.rtt_ms)
        hold_for(t, t->link.rtt_ms); /* before libcoap could read the answer */
    else
        coap_uv_process(&t->uv); /* arms libcoap's retransmission */
}

/* 16 << szx: the largest power of two in 16-1024 not above size (0: 512). */
static unsigned szx_for(uint16_t size)
{
    if (size == 0)
        size = DEFAULT_BLOCK;
    unsigned szx = 0;
    while (szx < 6 && (16u << (szx + 1)) <= size)
        szx++;
    return szx;
}

static void coap_start(void *transfer, const struct dl_request *req)
{
    struct coap_dl *t = transfer;
    t->url = *req->url;
    t->link = req->link;
    t->stall_ms = req->stall_ms;
    t->szx = szx_for(req->block_size);
    t->sink = req->sink;
    t->sink_ctx = req->sink_ctx;
    t->done = req->done;
    t->done_ctx = req->done_ctx;
    t->length = -1;
    t->ack_ms = ack_timeout_ms(&t->link, (size_t)16 << t->szx);
    t->running = true;
    t->refs++; /* released by on_resolved, which always comes */
    int err = resolve_start(req->resolver, t->loop, &t->resolve, t->url.host, t->url.port,
                            on_resolved, t);
    if (err) {
        t->refs--;
        finish(t, DL_EDNS, err);
    }
}

static void coap_abort(void *transfer)
{
    finish(transfer, DL_EABORT, 0);
}

static void coap_close(void *transfer)
{
    struct coap_dl *t = transfer;
    stop(t);
    uv_close((uv_handle_t *)&t->stall, on_handle_closed);
    uv_close((uv_handle_t *)&t->pace, on_handle_closed);
    uv_close((uv_handle_t *)&t->check, on_handle_closed);
}

const struct dl_backend coap_dl_backend = {
    .name = "coap",
    .create = coap_create,
    .start = coap_start,
    .abort = coap_abort,
    .close = coap_close,
};
