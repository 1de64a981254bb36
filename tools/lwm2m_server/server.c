#include "tools/lwm2m_server/server.h"

#include "proto/coap_loop.h"
#include "tools/lwm2m_server/link.h"

#include <coap3/coap.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LT_DEFAULT  86400 /* section 5.3.1: the lifetime when lt is absent */
#define QUERY_MAX   8     /* query options of one registration request */
#define OBJECTS_MAX 4096  /* bytes of an object list */
#define TOKEN_MAX   8

struct reg {
    struct lwsrv_reg pub;
    struct reg *next;
    coap_session_t *session; /* referenced: requests go out on it */
    uint64_t expires_ms;
    unsigned serial; /* the id's number */
};

/* A request of ours still waiting for its answer, or an observation. */
struct pending {
    struct pending *next;
    uint64_t id;
    enum lwsrv_op op;
    char ep[LWSRV_EP_MAX + 1];
    struct lwsrv_path path;
    coap_session_t *session; /* referenced */
    uint8_t token[TOKEN_MAX];
    size_t toklen;
    int accept;
    bool observing; /* the observation is established: notifications follow */
};

struct lwsrv {
    uv_loop_t *loop;
    struct coap_uv io;
    coap_context_t *ctx;
    uv_timer_t expiry;
    struct reg *regs; /* most recent registration first */
    struct pending *pending;
    unsigned next_serial;
    uint64_t next_req;
    unsigned max_retransmit;
    void (*on_event)(void *arg, const struct lwsrv_event *ev);
    void *arg;
    char address[64];
    int handles;
    void (*closed)(void *arg);
    void *closed_arg;
};

/* The context whose handlers run: libcoap's handlers carry no argument of
 * ours but the context, and there is one server per process. */
static struct lwsrv *current;

static void on_expiry(uv_timer_t *t);

/* ---- Registrations -------------------------------------------------------------- */

static void emit(struct lwsrv *s, struct lwsrv_event *ev)
{
    if (s->on_event)
        s->on_event(s->arg, ev);
}

static void emit_reg(struct lwsrv *s, enum lwsrv_ev kind, const struct reg *r)
{
    struct lwsrv_event ev = {
        .kind = kind, .reg = &r->pub, .ep = r->pub.ep, .format = -1, .seq = -1};
    emit(s, &ev);
}

static void pending_free(struct lwsrv *s, struct pending *p)
{
    for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    coap_session_release(p->session);
    free(p);
}

/* Observations of an endpoint end with its registration (section 5.3). */
static void forget_observations(struct lwsrv *s, const char *ep)
{
    for (struct pending *p = s->pending, *next; p; p = next) {
        next = p->next;
        if (p->observing && strcmp(p->ep, ep) == 0)
            pending_free(s, p);
    }
}

static void reg_free(struct lwsrv *s, struct reg *r)
{
    for (struct reg **pp = &s->regs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    forget_observations(s, r->pub.ep);
    coap_session_release(r->session);
    free(r->pub.objects);
    free(r);
}

static void arm_expiry(struct lwsrv *s)
{
    uint64_t first = UINT64_MAX;
    for (struct reg *r = s->regs; r; r = r->next)
        if (r->expires_ms < first)
            first = r->expires_ms;
    if (first == UINT64_MAX) {
        uv_timer_stop(&s->expiry);
        return;
    }
    uint64_t now = uv_now(s->loop);
    uv_timer_start(&s->expiry, on_expiry, first > now ? first - now : 0, 0);
}

static void on_expiry(uv_timer_t *t)
{
    struct lwsrv *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (struct reg *r = s->regs, *next; r; r = next) {
        next = r->next;
        if (r->expires_ms <= now) {
            emit_reg(s, LWSRV_EV_EXPIRED, r);
            reg_free(s, r);
        }
    }
    arm_expiry(s);
}

static struct reg *reg_by_serial(struct lwsrv *s, unsigned serial)
{
    for (struct reg *r = s->regs; r; r = r->next)
        if (r->serial == serial)
            return r;
    return NULL;
}

static struct reg *reg_by_ep(const struct lwsrv *s, const char *ep)
{
    if (strcmp(ep, "*") == 0)
        return s->regs;
    for (struct reg *r = s->regs; r; r = r->next)
        if (strcmp(r->pub.ep, ep) == 0)
            return r;
    return NULL;
}

const struct lwsrv_reg *lwsrv_find(const struct lwsrv *s, const char *ep)
{
    struct reg *r = reg_by_ep(s, ep);
    return r ? &r->pub : NULL;
}

/* ---- The Registration interface ----------------------------------------------------- */

struct query {
    const char *ep, *lt, *b, *lwm2m, *sms;
    size_t ep_len, lt_len, b_len, lwm2m_len, sms_len;
};

/* The Uri-Query options; -1 with *why for a repeated or empty parameter. */
static int read_query(const coap_pdu_t *req, struct query *q, const char **why)
{
    memset(q, 0, sizeof *q);
    coap_opt_iterator_t it;
    coap_opt_t *o;
    coap_option_iterator_init(req, &it, COAP_OPT_ALL);
    while ((o = coap_option_next(&it))) {
        if (it.number != COAP_OPTION_URI_QUERY)
            continue;
        const char *v = (const char *)coap_opt_value(o);
        size_t len = coap_opt_length(o);
        const char *eq = memchr(v, '=', len);
        size_t name_len = eq ? (size_t)(eq - v) : len;
        const char *val = eq ? eq + 1 : v + len;
        size_t val_len = len - name_len - (eq ? 1 : 0);
        static const char *const names[] = {"ep", "lt", "b", "lwm2m", "sms"};
        const char **slot[] = {&q->ep, &q->lt, &q->b, &q->lwm2m, &q->sms};
        size_t *slot_len[] = {&q->ep_len, &q->lt_len, &q->b_len, &q->lwm2m_len, &q->sms_len};
        for (size_t i = 0; i < 5; i++) {
            if (strlen(names[i]) != name_len || memcmp(names[i], v, name_len) != 0)
                continue;
            if (*slot[i]) {
                *why = "a query parameter given twice";
                return -1;
            }
            if (!eq || val_len == 0) {
                *why = "a query parameter without a value";
                return -1;
            }
            *slot[i] = val;
            *slot_len[i] = val_len;
        }
    }
    return 0;
}

static int parse_lt(const char *v, size_t len, uint32_t *lt, const char **why)
{
    uint64_t n = 0;
    if (len == 0 || len > 10) {
        *why = "lt is not a lifetime in seconds (1 to 4294967295)";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            *why = "lt is not a lifetime in seconds (1 to 4294967295)";
            return -1;
        }
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n == 0 || n > UINT32_MAX) {
        *why = "lt is not a lifetime in seconds (1 to 4294967295)";
        return -1;
    }
    *lt = (uint32_t)n;
    return 0;
}

/* LwM2M 1.0's binding modes (section 5.3.1.1). */
static int check_binding(const char *v, size_t len, const char **why)
{
    static const char *const modes[] = {"U", "UQ", "S", "SQ", "US", "UQS"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strlen(modes[i]) == len && memcmp(modes[i], v, len) == 0)
            return 0;
    *why = "b is not a LwM2M 1.0 binding (U, UQ, S, SQ, US, UQS)";
    return -1;
}

static bool printable(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
            return false;
    return true;
}

/* The payload as an object list; NULL with *why when it is not one. */
static char *read_objects(const coap_pdu_t *req, bool required, const char **why)
{
    size_t len = 0;
    const uint8_t *data = NULL;
    coap_get_data(req, &len, &data);
    coap_opt_iterator_t it;
    coap_opt_t *cf = coap_check_option(req, COAP_OPTION_CONTENT_FORMAT, &it);
    if (cf && coap_decode_var_bytes(coap_opt_value(cf), coap_opt_length(cf)) != LWSRV_CF_LINK) {
        *why = "the object list is not application/link-format (40)";
        return NULL;
    }
    if (len == 0 && !required) {
        *why = NULL;
        return NULL;
    }
    if (len > OBJECTS_MAX) {
        *why = "the object list is longer than 4096 bytes";
        return NULL;
    }
    if (!printable((const char *)data, len) && len) {
        *why = "the object list has spaces or control characters";
        return NULL;
    }
    if (lwsrv_link_check((const char *)data, len, why) < 0)
        return NULL;
    char *copy = malloc(len + 1);
    if (!copy) {
        *why = "out of memory";
        return NULL;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
}

static int reject(struct lwsrv *s, coap_session_t *session, coap_pdu_t *resp, unsigned code,
                  const char *why)
{
    char peer[64] = "?";
    coap_print_addr(coap_session_get_addr_remote(session), (unsigned char *)peer, sizeof peer);
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE(code));
    struct lwsrv_event ev = {
        .kind = LWSRV_EV_REJECTED, .code = code, .peer = peer, .why = why, .format = -1, .seq = -1};
    emit(s, &ev);
    return 0;
}

static void set_session(struct lwsrv *s, struct reg *r, coap_session_t *session)
{
    if (r->session == session)
        return;
    coap_session_release(r->session);
    r->session = coap_session_reference(session);
    coap_session_set_max_retransmit(session, s->max_retransmit);
    coap_print_addr(coap_session_get_addr_remote(session), (unsigned char *)r->pub.peer,
                    sizeof r->pub.peer);
}

static int do_register(struct lwsrv *s, coap_session_t *session, const coap_pdu_t *req,
                       coap_pdu_t *resp)
{
    struct query q;
    const char *why;
    uint32_t lt = LT_DEFAULT;
    if (read_query(req, &q, &why) != 0)
        return reject(s, session, resp, 400, why);
    if (!q.ep)
        return reject(s, session, resp, 400, "no endpoint name (ep)");
    if (q.ep_len > LWSRV_EP_MAX || !printable(q.ep, q.ep_len))
        return reject(s, session, resp, 400,
                      "the endpoint name is longer than 128 bytes or has spaces or controls");
    if (q.lt && parse_lt(q.lt, q.lt_len, &lt, &why) != 0)
        return reject(s, session, resp, 400, why);
    if (q.b && check_binding(q.b, q.b_len, &why) != 0)
        return reject(s, session, resp, 400, why);
    if (q.lwm2m && (q.lwm2m_len != 3 || memcmp(q.lwm2m, "1.0", 3) != 0))
        return reject(s, session, resp, 400, "lwm2m is not 1.0, the only version served");
    if (q.sms && (q.sms_len >= sizeof((struct lwsrv_reg *)0)->sms || !printable(q.sms, q.sms_len)))
        return reject(s, session, resp, 400, "sms is not an MSISDN");
    char *objects = read_objects(req, true, &why);
    if (!objects)
        return reject(s, session, resp, 400, why);
    struct reg *r = calloc(1, sizeof *r);
    if (!r) {
        free(objects);
        return reject(s, session, resp, 500, "out of memory");
    }
    char ep[LWSRV_EP_MAX + 1];
    snprintf(ep, sizeof ep, "%.*s", (int)q.ep_len, q.ep);
    struct reg *old = reg_by_ep(s, ep);
    if (old && strcmp(ep, "*") != 0)
        reg_free(s, old); /* a re-registration replaces the registration */
    snprintf(r->pub.ep, sizeof r->pub.ep, "%s", ep);
    snprintf(r->pub.binding, sizeof r->pub.binding, "%.*s", q.b ? (int)q.b_len : 1,
             q.b ? q.b : "U");
    snprintf(r->pub.version, sizeof r->pub.version, "%s", "1.0");
    if (q.sms)
        snprintf(r->pub.sms, sizeof r->pub.sms, "%.*s", (int)q.sms_len, q.sms);
    r->pub.objects = objects;
    r->pub.lt = lt;
    r->serial = ++s->next_serial;
    snprintf(r->pub.id, sizeof r->pub.id, "rd/%u", r->serial);
    r->expires_ms = uv_now(s->loop) + (uint64_t)lt * 1000;
    set_session(s, r, session);
    r->next = s->regs;
    s->regs = r;
    char num[12];
    int n = snprintf(num, sizeof num, "%u", r->serial);
    coap_add_option(resp, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
    coap_add_option(resp, COAP_OPTION_LOCATION_PATH, (size_t)n, (const uint8_t *)num);
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE(201));
    arm_expiry(s);
    emit_reg(s, LWSRV_EV_REGISTERED, r);
    return 0;
}

static int do_update(struct lwsrv *s, struct reg *r, coap_session_t *session, const coap_pdu_t *req,
                     coap_pdu_t *resp)
{
    struct query q;
    const char *why;
    uint32_t lt = r->pub.lt;
    if (read_query(req, &q, &why) != 0)
        return reject(s, session, resp, 400, why);
    if (q.ep || q.lwm2m)
        return reject(s, session, resp, 400, "an update carries no ep or lwm2m");
    if (q.lt && parse_lt(q.lt, q.lt_len, &lt, &why) != 0)
        return reject(s, session, resp, 400, why);
    if (q.b && check_binding(q.b, q.b_len, &why) != 0)
        return reject(s, session, resp, 400, why);
    if (q.sms && (q.sms_len >= sizeof r->pub.sms || !printable(q.sms, q.sms_len)))
        return reject(s, session, resp, 400, "sms is not an MSISDN");
    char *objects = read_objects(req, false, &why);
    if (!objects && why)
        return reject(s, session, resp, 400, why);
    struct lwsrv_event ev = {
        .kind = LWSRV_EV_UPDATED, .reg = &r->pub, .ep = r->pub.ep, .format = -1, .seq = -1};
    ev.new_lt = q.lt != NULL;
    ev.new_b = q.b != NULL;
    ev.new_sms = q.sms != NULL;
    ev.new_objects = objects != NULL;
    r->pub.lt = lt;
    if (q.b)
        snprintf(r->pub.binding, sizeof r->pub.binding, "%.*s", (int)q.b_len, q.b);
    if (q.sms)
        snprintf(r->pub.sms, sizeof r->pub.sms, "%.*s", (int)q.sms_len, q.sms);
    if (objects) {
        free(r->pub.objects);
        r->pub.objects = objects;
    }
    r->expires_ms = uv_now(s->loop) + (uint64_t)lt * 1000;
    set_session(s, r, session); /* the client's address may have changed */
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE(204));
    arm_expiry(s);
    emit(s, &ev);
    return 0;
}

/* rd/N: the registration, or NULL. */
static struct reg *reg_of_path(struct lwsrv *s, const uint8_t *seg, size_t len)
{
    unsigned n = 0;
    if (len == 0 || len > 9 || seg[0] == '0')
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return NULL;
        n = n * 10 + (unsigned)(seg[i] - '0');
    }
    return reg_by_serial(s, n);
}

static void on_request(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                       const coap_string_t *query, coap_pdu_t *resp)
{
    (void)res;
    (void)query;
    struct lwsrv *s = current;
    const uint8_t *seg[3];
    size_t seg_len[3];
    int nseg = 0;
    coap_opt_iterator_t it;
    coap_opt_t *o;
    coap_option_iterator_init(req, &it, COAP_OPT_ALL);
    while ((o = coap_option_next(&it)))
        if (it.number == COAP_OPTION_URI_PATH) {
            if (nseg == 3) {
                reject(s, session, resp, 404, "no such resource (only /rd and /rd/ID)");
                return;
            }
            seg[nseg] = coap_opt_value(o);
            seg_len[nseg++] = coap_opt_length(o);
        }
    coap_pdu_code_t method = coap_pdu_get_code(req);
    if (nseg < 1 || nseg > 2 || seg_len[0] != 2 || memcmp(seg[0], "rd", 2) != 0) {
        reject(s, session, resp, 404, "no such resource (only /rd and /rd/ID)");
        return;
    }
    if (nseg == 1) {
        if (method != COAP_REQUEST_CODE_POST) {
            reject(s, session, resp, 405, "only POST registers on /rd");
            return;
        }
        {
            do_register(s, session, req, resp);
            return;
        }
    }
    struct reg *r = reg_of_path(s, seg[1], seg_len[1]);
    if (!r) {
        reject(s, session, resp, 404, "no such registration");
        return;
    }
    if (method == COAP_REQUEST_CODE_POST) {
        do_update(s, r, session, req, resp);
        return;
    }
    if (method != COAP_REQUEST_CODE_DELETE) {
        reject(s, session, resp, 405, "only POST (update) and DELETE on /rd/ID");
        return;
    }
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE(202));
    emit_reg(s, LWSRV_EV_DEREGISTERED, r);
    reg_free(s, r);
    arm_expiry(s);
}

/* ---- Requests to the clients ---------------------------------------------------------- */

static struct pending *pending_by_token(struct lwsrv *s, coap_session_t *session,
                                        coap_bin_const_t token)
{
    for (struct pending *p = s->pending; p; p = p->next)
        if (p->session == session && p->toklen == token.length &&
            memcmp(p->token, token.s, token.length) == 0)
            return p;
    return NULL;
}

static struct pending *observation(struct lwsrv *s, const char *ep, const struct lwsrv_path *path)
{
    for (struct pending *p = s->pending; p; p = p->next)
        if (p->observing && strcmp(p->ep, ep) == 0 && p->path.depth == path->depth &&
            memcmp(p->path.id, path->id, sizeof path->id) == 0)
            return p;
    return NULL;
}

static void add_uint_option(coap_pdu_t *pdu, uint16_t number, unsigned value)
{
    uint8_t buf[4];
    coap_add_option(pdu, number, coap_encode_var_safe(buf, sizeof buf, value), buf);
}

/* The request's PDU: Observe, Uri-Path, Content-Format, Accept in option
 * number order, then the payload. */
static coap_pdu_t *build(const struct pending *p, const struct lwsrv_request *r, int observe)
{
    static const coap_pdu_code_t methods[] = {
        [LWSRV_READ] = COAP_REQUEST_CODE_GET,   [LWSRV_WRITE] = COAP_REQUEST_CODE_PUT,
        [LWSRV_EXEC] = COAP_REQUEST_CODE_POST,  [LWSRV_OBSERVE] = COAP_REQUEST_CODE_GET,
        [LWSRV_CANCEL] = COAP_REQUEST_CODE_GET, [LWSRV_DISCOVER] = COAP_REQUEST_CODE_GET,
    };
    coap_pdu_t *pdu =
        coap_pdu_init(COAP_MESSAGE_CON, methods[r->op], coap_new_message_id(p->session),
                      coap_session_max_pdu_size(p->session));
    if (!pdu)
        return NULL;
    coap_add_token(pdu, p->toklen, p->token);
    if (observe >= 0)
        add_uint_option(pdu, COAP_OPTION_OBSERVE, (unsigned)observe);
    for (int i = 0; i < r->path.depth; i++) {
        char seg[8];
        int n = snprintf(seg, sizeof seg, "%u", r->path.id[i]);
        coap_add_option(pdu, COAP_OPTION_URI_PATH, (size_t)n, (const uint8_t *)seg);
    }
    if (r->op == LWSRV_WRITE)
        add_uint_option(pdu, COAP_OPTION_CONTENT_FORMAT, (unsigned)r->format);
    if (p->accept >= 0)
        add_uint_option(pdu, COAP_OPTION_ACCEPT, (unsigned)p->accept);
    if (r->len && !coap_add_data(pdu, r->len, r->payload)) {
        coap_delete_pdu(pdu);
        return NULL;
    }
    return pdu;
}

int lwsrv_send(struct lwsrv *s, const struct lwsrv_request *r, uint64_t *id, const char **why)
{
    struct reg *reg = reg_by_ep(s, r->ep);
    if (!reg) {
        *why = strcmp(r->ep, "*") == 0 ? "no endpoint is registered"
                                       : "no such endpoint is registered";
        return -1;
    }
    struct pending *obs = NULL;
    if (r->op == LWSRV_CANCEL && !(obs = observation(s, reg->pub.ep, &r->path))) {
        *why = "no observation of that path on that endpoint";
        return -1;
    }
    if (r->op == LWSRV_OBSERVE && observation(s, reg->pub.ep, &r->path)) {
        *why = "that path is observed already";
        return -1;
    }
    struct pending *p = calloc(1, sizeof *p);
    if (!p) {
        *why = "out of memory";
        return -1;
    }
    p->id = ++s->next_req;
    p->op = r->op;
    p->path = r->path;
    snprintf(p->ep, sizeof p->ep, "%s", reg->pub.ep);
    p->session = coap_session_reference(obs ? obs->session : reg->session);
    if (obs) {
        p->toklen = obs->toklen; /* the observation's own token (RFC 7641 3.6) */
        memcpy(p->token, obs->token, obs->toklen);
        p->accept = obs->accept;
        pending_free(s, obs);
    } else {
        coap_session_new_token(p->session, &p->toklen, p->token);
        if (r->op == LWSRV_DISCOVER)
            p->accept = LWSRV_CF_LINK;
        else if (r->op == LWSRV_READ || r->op == LWSRV_OBSERVE)
            p->accept = r->format >= 0 ? r->format : r->path.depth < 3 ? LWSRV_CF_TLV : -1;
        else
            p->accept = -1;
    }
    int observe = r->op == LWSRV_OBSERVE ? 0 : r->op == LWSRV_CANCEL ? 1 : -1;
    coap_pdu_t *pdu = build(p, r, observe);
    if (!pdu || coap_send(p->session, pdu) == COAP_INVALID_MID) {
        coap_session_release(p->session);
        free(p);
        *why = "the request could not be sent";
        return -1;
    }
    p->next = s->pending;
    s->pending = p;
    *id = p->id; /* its answer is read on the next round of the loop, never in here */
    return 0;
}

static int content_format(const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
    return o ? (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) : -1;
}

static long long observe_seq(const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_OBSERVE, &it);
    return o ? (long long)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) : -1;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid)
{
    (void)mid;
    struct lwsrv *s = current;
    struct pending *p = pending_by_token(s, session, coap_pdu_get_token(rcvd));
    if (!p)
        return COAP_RESPONSE_FAIL; /* nothing of ours: RST, which ends an observation */
    coap_pdu_code_t c = coap_pdu_get_code(rcvd);
    unsigned code = COAP_RESPONSE_CLASS(c) * 100 + (c & 0x1f);
    char ep[LWSRV_EP_MAX + 1]; /* p may be freed before the event goes out */
    memcpy(ep, p->ep, sizeof ep);
    struct lwsrv_event ev = {.kind = LWSRV_EV_RESPONSE,
                             .ep = ep,
                             .req = p->id,
                             .op = p->op,
                             .path = p->path,
                             .code = code,
                             .format = content_format(rcvd),
                             .seq = observe_seq(rcvd)};
    coap_get_data(rcvd, &ev.len, &ev.payload);
    bool ok = code / 100 == 2;
    /* A notification: of an established observation, or one crossing our
     * cancel (which is answered piggybacked, with sent known). */
    if (p->observing || (p->op == LWSRV_CANCEL && !sent && ev.seq >= 0 && ok)) {
        ev.kind = LWSRV_EV_NOTIFY;
        if (p->observing && (!ok || ev.seq < 0))
            pending_free(s, p); /* an error or a plain answer ends the observation */
        emit(s, &ev);
        return COAP_RESPONSE_OK;
    }
    if (p->op == LWSRV_OBSERVE && ok && ev.seq >= 0)
        p->observing = true;
    else
        pending_free(s, p);
    emit(s, &ev);
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
                    const coap_nack_reason_t reason, const coap_mid_t mid)
{
    (void)mid;
    struct lwsrv *s = current;
    if (!sent || !s)
        return;
    struct pending *p = pending_by_token(s, session, coap_pdu_get_token(sent));
    if (!p || p->observing)
        return;
    char ep[LWSRV_EP_MAX + 1];
    memcpy(ep, p->ep, sizeof ep);
    struct lwsrv_event ev = {.kind = LWSRV_EV_FAILED,
                             .ep = ep,
                             .req = p->id,
                             .op = p->op,
                             .path = p->path,
                             .format = -1,
                             .seq = -1};
    ev.why = reason == COAP_NACK_TOO_MANY_RETRIES ? "no answer (timeout after retransmissions)"
             : reason == COAP_NACK_RST            ? "reset (RST) by the client"
                                                  : "not deliverable";
    pending_free(s, p);
    emit(s, &ev);
}

/* ---- Start and stop ---------------------------------------------------------------- */

static int setup(struct lwsrv *s, const struct sockaddr *sa)
{
    if (!(s->ctx = coap_new_context(NULL)))
        return UV_ENOMEM;
    /* Registrations hold their sessions; idle ones without one go. */
    coap_context_set_session_timeout(s->ctx, 3600);
    coap_address_t addr;
    coap_address_init(&addr);
    if (sa->sa_family == AF_INET6) {
        memcpy(&addr.addr.sin6, sa, sizeof addr.addr.sin6);
        addr.size = sizeof addr.addr.sin6;
    } else {
        memcpy(&addr.addr.sin, sa, sizeof addr.addr.sin);
        addr.size = sizeof addr.addr.sin;
    }
    coap_endpoint_t *ep = coap_new_endpoint(s->ctx, &addr, COAP_PROTO_UDP);
    if (!ep)
        return UV_EADDRINUSE;
    /* 4.3.1 has no getter for the bound address but this string. */
    snprintf(s->address, sizeof s->address, "%s", coap_endpoint_str(ep));
    s->address[strcspn(s->address, " ")] = '\0'; /* "ADDR:PORT UDP" */
    coap_resource_t *res = coap_resource_unknown_init(on_request);
    if (!res)
        return UV_ENOMEM;
    static const coap_request_t methods[] = {COAP_REQUEST_GET,    COAP_REQUEST_POST,
                                             COAP_REQUEST_DELETE, COAP_REQUEST_FETCH,
                                             COAP_REQUEST_PATCH,  COAP_REQUEST_IPATCH};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        coap_register_request_handler(res, methods[i], on_request);
    coap_add_resource(s->ctx, res);
    coap_register_response_handler(s->ctx, on_response);
    coap_register_nack_handler(s->ctx, on_nack);
    return 0;
}

static void maybe_done(struct lwsrv *s)
{
    if (s->handles > 0)
        return;
    while (s->regs)
        reg_free(s, s->regs);
    while (s->pending)
        pending_free(s, s->pending);
    if (s->ctx)
        coap_free_context(s->ctx);
    if (current == s)
        current = NULL;
    void (*closed)(void *) = s->closed;
    void *arg = s->closed_arg;
    free(s);
    if (closed)
        closed(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lwsrv *s = h->data;
    s->handles--;
    maybe_done(s);
}

static void on_io_closed(struct coap_uv *io)
{
    struct lwsrv *s = (struct lwsrv *)((char *)io - offsetof(struct lwsrv, io));
    s->handles--;
    maybe_done(s);
}

int lwsrv_start(struct lwsrv **out, uv_loop_t *loop, const struct lwsrv_config *cfg,
                const char **what)
{
    *out = NULL;
    if (current) {
        *what = "one server per process";
        return UV_EBUSY;
    }
    struct lwsrv *s = calloc(1, sizeof *s);
    if (!s) {
        *what = "memory";
        return UV_ENOMEM;
    }
    s->loop = loop;
    s->max_retransmit = cfg->max_retransmit;
    s->on_event = cfg->on_event;
    s->arg = cfg->arg;
    coap_uv_library_init();
    if (cfg->seed)
        coap_uv_seed(cfg->seed);
    current = s;
    int err = setup(s, cfg->addr);
    if (!err)
        err = coap_uv_start(&s->io, loop, s->ctx);
    if (err) {
        *what = "bind";
        maybe_done(s);
        return err;
    }
    uv_timer_init(loop, &s->expiry);
    s->expiry.data = s;
    s->handles = 2;
    *out = s;
    return 0;
}

void lwsrv_address(const struct lwsrv *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s", s->address);
}

void lwsrv_close(struct lwsrv *s, void (*closed)(void *arg), void *arg)
{
    s->closed = closed;
    s->closed_arg = arg;
    uv_close((uv_handle_t *)&s->expiry, on_timer_closed);
    coap_uv_close(&s->io, on_io_closed);
}
