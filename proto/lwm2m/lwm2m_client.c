/* The registration interface of the LwM2M client and its CoAP transport;
 * the server's requests are lwm2m_dm.c's. */
#include "proto/lwm2m/lwm2m_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PORT    5683
#define DEFAULT_ACK_MS  2000
#define MIN_ACK_MS      1000 /* libcoap ignores less */
#define DEFAULT_RETRIES 4
#define MAX_RETRIES     8
#define STALL_MARGIN_MS 1000
#define PAYLOAD_MAX     1024
#define HANDLES         3 /* op_timer, update_timer, kick; the coap_uv is one more */

void lwm2m_log(struct lwm2m_client *c, const char *fmt, ...)
{
    if (!c->ops->log)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->ops->log(c->ctx, line);
}

struct lwm2m_object *lwm2m_find_object(struct lwm2m_client *c, uint16_t id)
{
    for (struct lwm2m_object *o = c->objects; o; o = o->next)
        if (o->id == id)
            return o;
    return NULL;
}

static void unref(struct lwm2m_client *c)
{
    if (--c->refs > 0)
        return;
    void (*closed)(void *) = c->closed;
    void *ctx = c->ctx;
    free(c->host);
    free(c->endpoint);
    free(c);
    if (closed)
        closed(ctx);
}

/* ---- Events, outside libcoap ---------------------------------------------- */

static void on_update_due(uv_timer_t *t);
static int send_update(struct lwm2m_client *c);
static void on_kick(uv_timer_t *t);

void lwm2m_kick(struct lwm2m_client *c)
{
    if (!c->closing)
        uv_timer_start(&c->kick, on_kick, 0, 0);
}

static void arm_update(struct lwm2m_client *c)
{
    /* At 90% of the lifetime: the Update arrives before the server's
     * registration expires even after a few retransmissions. */
    uint64_t ms = (uint64_t)c->lifetime_sent * 900;
    uv_timer_start(&c->update_timer, on_update_due, ms ? ms : 1, 0);
}

static bool same_token(const struct lwm2m_token *t, coap_bin_const_t b)
{
    return t->len == b.length && (b.length == 0 || memcmp(t->b, b.s, b.length) == 0);
}

/* The operation's outcome, told to the application. */
static void deliver_op(struct lwm2m_client *c)
{
    enum lwm2m_op op = c->op;
    int result = c->op_result, mid = c->op_mid;
    c->op = LWM2M_OP_NONE;
    c->op_done = false;
    uv_timer_stop(&c->op_timer);
    /* ICMP leaves the request queued for retransmission and libcoap 4.3.1
     * exports no way to cancel one message: the session goes (a new one, on
     * a new socket, for the next Register), here outside libcoap. */
    if (result == -ECONNREFUSED && c->session) {
        lwm2m_dm_reset(c);
        lwm2m_dm_forget(c);
        coap_session_release(c->session);
        c->session = NULL;
        c->registered = false;
    }
    if (result == 0 && op != LWM2M_OP_DEREGISTER) { /* the server has it now */
        c->lifetime_sent = c->op_lifetime;
        snprintf(c->binding_sent, sizeof c->binding_sent, "%s", c->op_binding);
        c->objects_acked = c->op_objects;
    }
    switch (op) {
    case LWM2M_OP_REGISTER:
        c->registered = result == 0;
        if (c->registered)
            arm_update(c);
        c->ops->registered(c->ctx, result);
        break;
    case LWM2M_OP_UPDATE:
        if (result == 0) {
            arm_update(c);
        } else if (result == LWM2M_NOT_FOUND) {
            c->registered = false;
            lwm2m_dm_reset(c);
        }
        c->ops->updated(c->ctx, result, mid);
        break;
    case LWM2M_OP_DEREGISTER:
        if (result == 0) {
            c->registered = false;
            lwm2m_dm_reset(c);
        }
        c->ops->deregistered(c->ctx, result);
        break;
    case LWM2M_OP_NONE:
        break;
    }
}

static void on_kick(uv_timer_t *t)
{
    struct lwm2m_client *c = t->data;
    if (c->closing)
        return;
    lwm2m_dm_deferred(c);
    if (c->closing)
        return;
    if (c->op != LWM2M_OP_NONE && c->op_done)
        deliver_op(c); /* may close c */
}

/* The operation ended with result (0, a code, -errno), told soon. */
static void finish_op(struct lwm2m_client *c, int result)
{
    if (c->op == LWM2M_OP_NONE || c->op_done)
        return;
    c->op_done = true;
    c->op_result = result;
    lwm2m_kick(c);
}

static void on_op_timeout(uv_timer_t *t)
{
    finish_op(t->data, -ETIMEDOUT);
}

static void on_update_due(uv_timer_t *t)
{
    struct lwm2m_client *c = t->data;
    /* Busy while registered means an Update or a De-register is in flight:
     * its outcome re-arms the timer or ends the registration. */
    if (c->registered && c->op == LWM2M_OP_NONE)
        send_update(c);
}

/* ---- libcoap's callbacks ---------------------------------------------------- */

static struct lwm2m_client *client_of(const coap_session_t *s)
{
    struct lwm2m_client *c = coap_get_app_data(coap_session_get_context(s));
    return c && !c->closing ? c : NULL;
}

static int code_of(const coap_pdu_t *p)
{
    int code = coap_pdu_get_code(p);
    return (code >> 5) * 100 + (code & 0x1f);
}

/* A Register answer's Location-Path into c->loc; false if there is none or
 * it does not fit. */
static bool keep_location(struct lwm2m_client *c, const coap_pdu_t *rcvd)
{
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_LOCATION_PATH);
    coap_option_iterator_init(rcvd, &it, &filter);
    int n = 0;
    for (coap_opt_t *o; (o = coap_option_next(&it));) {
        size_t len = coap_opt_length(o);
        if (n == LWM2M_LOC_MAX || len >= LWM2M_SEG_MAX || len == 0)
            return false;
        memcpy(c->loc[n], coap_opt_value(o), len);
        c->loc[n][len] = '\0';
        n++;
    }
    c->nloc = n;
    return n > 0;
}

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid)
{
    (void)sent;
    (void)mid;
    struct lwm2m_client *c = client_of(s);
    if (!c || c->op == LWM2M_OP_NONE || c->op_done ||
        !same_token(&c->op_token, coap_pdu_get_token(rcvd)))
        return COAP_RESPONSE_FAIL; /* nothing asked: RST if confirmable */
    int code = code_of(rcvd);
    int expected = c->op == LWM2M_OP_REGISTER ? LWM2M_CREATED
                   : c->op == LWM2M_OP_UPDATE ? LWM2M_CHANGED
                                              : LWM2M_DELETED;
    int result = code == expected ? 0 : code;
    if (c->op == LWM2M_OP_REGISTER && result == 0 && !keep_location(c, rcvd)) {
        lwm2m_log(c, "lwm2m: the server's 2.01 to Register has no usable Location-Path");
        result = -EPROTO;
    }
    finish_op(c, result);
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    (void)mid;
    struct lwm2m_client *c = client_of(s);
    if (!c || !sent)
        return;
    if (c->op != LWM2M_OP_NONE && same_token(&c->op_token, coap_pdu_get_token(sent))) {
        finish_op(c, reason == COAP_NACK_ICMP_ISSUE ? -ECONNREFUSED
                     : reason == COAP_NACK_RST      ? -ECONNRESET
                                                    : -ETIMEDOUT);
        return;
    }
    lwm2m_dm_nack(c, sent, reason);
}

/* ---- Requests ------------------------------------------------------------------ */

static int add_uint_option(coap_pdu_t *p, uint16_t num, unsigned v)
{
    uint8_t buf[4];
    return coap_add_option(p, num, coap_encode_var_safe(buf, sizeof buf, v), buf) ? 0 : -1;
}

static int add_query(coap_pdu_t *p, const char *key, const char *value)
{
    char q[300];
    int n = snprintf(q, sizeof q, "%s=%s", key, value);
    if (n < 0 || (size_t)n >= sizeof q)
        return -1;
    return coap_add_option(p, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)q) ? 0 : -1;
}

/* The object list in link format: </O/I> per instance, </O> for an object
 * without any. Returns its length or -1 if it does not fit. */
static int object_list(struct lwm2m_client *c, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    /* Objects in ascending id order, as servers show them. */
    int last = -1;
    for (;;) {
        struct lwm2m_object *next = NULL;
        for (struct lwm2m_object *o = c->objects; o; o = o->next)
            if ((int)o->id > last && (!next || o->id < next->id))
                next = o;
        if (!next)
            break;
        last = next->id;
        uint16_t ids[64];
        size_t n = next->ops->instances(next->ctx, next->id, ids, 64);
        if (n > 64)
            n = 64;
        for (size_t k = 0; k < (n ? n : 1); k++) {
            int w =
                n ? snprintf(out + len, size - len, "%s</%u/%u>", len ? "," : "", next->id, ids[k])
                  : snprintf(out + len, size - len, "%s</%u>", len ? "," : "", next->id);
            if (w < 0 || (size_t)w >= size - len)
                return -1;
            len += (size_t)w;
        }
    }
    return (int)len;
}

/* Builds and sends the operation's request; returns its message id or a
 * negative errno. */
static int send_op(struct lwm2m_client *c, enum lwm2m_op op, bool with_lt, bool with_b,
                   bool with_objects)
{
    coap_pdu_code_t code =
        op == LWM2M_OP_DEREGISTER ? COAP_REQUEST_CODE_DELETE : COAP_REQUEST_CODE_POST;
    coap_pdu_t *p = coap_pdu_init(COAP_MESSAGE_CON, code, coap_new_message_id(c->session),
                                  coap_session_max_pdu_size(c->session));
    if (!p)
        return -ENOMEM;
    struct lwm2m_token tok;
    coap_session_new_token(c->session, &tok.len, tok.b);
    char payload[PAYLOAD_MAX];
    int plen = with_objects ? object_list(c, payload, sizeof payload) : 0;
    char num[16];
    int bad = plen < 0 || !coap_add_token(p, tok.len, tok.b);
    if (op == LWM2M_OP_REGISTER) {
        bad = bad || !coap_add_option(p, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"rd");
    } else {
        for (int k = 0; k < c->nloc && !bad; k++)
            bad = !coap_add_option(p, COAP_OPTION_URI_PATH, strlen(c->loc[k]),
                                   (const uint8_t *)c->loc[k]);
    }
    if (with_objects)
        bad = bad || add_uint_option(p, COAP_OPTION_CONTENT_FORMAT, LWM2M_FMT_LINK) != 0;
    if (op == LWM2M_OP_REGISTER)
        bad = bad || add_query(p, "ep", c->endpoint) != 0;
    snprintf(num, sizeof num, "%u", c->lifetime);
    if (with_lt)
        bad = bad || add_query(p, "lt", num) != 0;
    if (op == LWM2M_OP_REGISTER)
        bad = bad || add_query(p, "lwm2m", "1.0") != 0;
    if (with_b)
        bad = bad || add_query(p, "b", c->binding) != 0;
    if (with_objects && plen > 0)
        bad = bad || !coap_add_data(p, (size_t)plen, (const uint8_t *)payload);
    if (bad) {
        coap_delete_pdu(p);
        return plen < 0 ? -E2BIG : -ENOMEM;
    }
    coap_mid_t mid = coap_send(c->session, p);
    if (mid == COAP_INVALID_MID)
        return -EIO;
    c->op = op;
    c->op_token = tok;
    c->op_mid = mid;
    c->op_done = false;
    c->op_lifetime = with_lt ? c->lifetime : c->lifetime_sent;
    snprintf(c->op_binding, sizeof c->op_binding, "%s", with_b ? c->binding : c->binding_sent);
    c->op_objects = with_objects ? c->objects_gen : c->objects_acked;
    /* libcoap's own verdict (MAX_TRANSMIT_WAIT: ack timeout * (2^(n+1) - 1)
     * * 1.5) comes first; this one ends a wait for a separate response. */
    uint64_t wait = (uint64_t)c->ack_ms * ((2u << c->max_retransmit) - 1) * 3 / 2;
    uv_timer_start(&c->op_timer, on_op_timeout, wait + STALL_MARGIN_MS, 0);
    coap_uv_process(&c->uv);
    return mid;
}

static int send_update(struct lwm2m_client *c)
{
    uv_timer_stop(&c->update_timer);
    int mid = send_op(c, LWM2M_OP_UPDATE, c->lifetime != c->lifetime_sent,
                      strcmp(c->binding, c->binding_sent) != 0, c->objects_gen != c->objects_acked);
    if (mid < 0)
        lwm2m_log(c, "lwm2m: Update not sent (%s)", strerror(-mid));
    return mid;
}

static bool same_addr(const coap_address_t *a, const struct sockaddr *b)
{
    socklen_t len =
        b->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return a->size == len && memcmp(&a->addr.sa, b, len) == 0;
}

static void on_resolved(void *ctx, int status, const struct sockaddr *addr)
{
    struct lwm2m_client *c = ctx;
    c->resolving = false;
    if (c->closing) {
        unref(c);
        return;
    }
    unref(c); /* the lookup's reference; c->refs > 0 while open */
    if (status != 0) {
        finish_op(c, status);
        return;
    }
    if (c->session && !same_addr(coap_session_get_addr_remote(c->session), addr)) {
        lwm2m_dm_reset(c);
        lwm2m_dm_forget(c);
        coap_session_release(c->session);
        c->session = NULL;
    }
    if (!c->session) {
        coap_address_t a;
        coap_address_init(&a);
        a.size =
            addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        memcpy(&a.addr.sa, addr, a.size);
        c->session = coap_new_client_session(c->coap, NULL, &a, COAP_PROTO_UDP);
        if (!c->session) {
            finish_op(c, -EIO);
            return;
        }
        coap_session_set_ack_timeout(
            c->session,
            (coap_fixed_point_t){(uint16_t)(c->ack_ms / 1000), (uint16_t)(c->ack_ms % 1000)});
        coap_session_set_max_retransmit(c->session, c->max_retransmit);
    }
    c->op = LWM2M_OP_NONE; /* send_op sets it again */
    int mid = send_op(c, LWM2M_OP_REGISTER, true, true, true);
    if (mid < 0) {
        c->op = LWM2M_OP_REGISTER;
        finish_op(c, mid);
    }
}

/* ---- The interface ------------------------------------------------------------- */

int lwm2m_client_open(struct lwm2m_client **out, uv_loop_t *loop, const struct lwm2m_config *cfg,
                      const struct lwm2m_client_ops *ops, void *ctx)
{
    *out = NULL;
    const char *binding = cfg->binding ? cfg->binding : "U";
    if (!cfg->host || !*cfg->host || !cfg->endpoint || !*cfg->endpoint || cfg->lifetime == 0 ||
        strlen(binding) >= sizeof((struct lwm2m_client *)0)->binding || !*binding ||
        strlen(cfg->endpoint) > 255 || cfg->max_retransmit > MAX_RETRIES || !ops ||
        !ops->registered || !ops->updated || !ops->deregistered)
        return -EINVAL;
    struct lwm2m_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->host = strdup(cfg->host);
    c->endpoint = strdup(cfg->endpoint);
    c->coap = coap_new_context(NULL);
    if (!c->host || !c->endpoint || !c->coap) {
        if (c->coap)
            coap_free_context(c->coap);
        free(c->host);
        free(c->endpoint);
        free(c);
        return -ENOMEM;
    }
    c->loop = loop;
    c->ops = ops;
    c->ctx = ctx;
    snprintf(c->binding, sizeof c->binding, "%s", binding);
    c->port = cfg->port ? cfg->port : DEFAULT_PORT;
    c->lifetime = cfg->lifetime;
    c->resolver = cfg->resolver;
    c->ack_ms = cfg->ack_timeout_ms ? cfg->ack_timeout_ms : DEFAULT_ACK_MS;
    if (c->ack_ms < MIN_ACK_MS)
        c->ack_ms = MIN_ACK_MS;
    c->max_retransmit = cfg->max_retransmit ? cfg->max_retransmit : DEFAULT_RETRIES;
    coap_set_app_data(c->coap, c);
    coap_register_response_handler(c->coap, on_response);
    coap_register_nack_handler(c->coap, on_nack);
    lwm2m_dm_init(c->coap);
    int err = coap_uv_start(&c->uv, loop, c->coap);
    if (err) {
        coap_free_context(c->coap);
        free(c->host);
        free(c->endpoint);
        free(c);
        return err;
    }
    uv_timer_init(loop, &c->op_timer);
    uv_timer_init(loop, &c->update_timer);
    uv_timer_init(loop, &c->kick);
    c->op_timer.data = c->update_timer.data = c->kick.data = c;
    c->refs = HANDLES + 1;
    *out = c;
    return 0;
}

int lwm2m_client_add_object(struct lwm2m_client *c, uint16_t obj,
                            const struct lwm2m_object_ops *ops, void *obj_ctx)
{
    if (!ops || !ops->instances || !ops->resources)
        return -EINVAL;
    if (lwm2m_find_object(c, obj))
        return -EEXIST;
    struct lwm2m_object *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->id = obj;
    o->ops = ops;
    o->ctx = obj_ctx;
    o->next = c->objects;
    c->objects = o;
    c->objects_gen++;
    return 0;
}

int lwm2m_client_remove_object(struct lwm2m_client *c, uint16_t obj)
{
    for (struct lwm2m_object **pp = &c->objects; *pp; pp = &(*pp)->next)
        if ((*pp)->id == obj) {
            struct lwm2m_object *o = *pp;
            *pp = o->next;
            free(o);
            c->objects_gen++;
            lwm2m_client_changed(c, obj, LWM2M_NO_ID, LWM2M_NO_ID); /* observers get 4.04 */
            return 0;
        }
    return -ENOENT;
}

int lwm2m_client_register(struct lwm2m_client *c)
{
    if (c->op != LWM2M_OP_NONE || c->resolving)
        return -EBUSY;
    if (c->registered)
        return -EALREADY;
    static const struct resolver none;
    lwm2m_dm_reset(c);         /* a new registration: the server observes nothing yet */
    c->op = LWM2M_OP_REGISTER; /* busy from now on */
    c->op_done = false;
    c->op_token.len = 0;
    c->resolving = true;
    c->refs++;
    int err = resolve_start(c->resolver ? c->resolver : &none, c->loop, &c->resolve, c->host,
                            c->port, on_resolved, c);
    if (err) {
        c->resolving = false;
        c->refs--;
        c->op = LWM2M_OP_NONE;
        return err;
    }
    return 0;
}

int lwm2m_client_update(struct lwm2m_client *c, uint32_t lifetime, const char *binding)
{
    if (!c->registered)
        return -ENOTCONN;
    if (c->op != LWM2M_OP_NONE)
        return -EBUSY;
    if (binding && (!*binding || strlen(binding) >= sizeof c->binding))
        return -EINVAL;
    if (lifetime)
        c->lifetime = lifetime;
    if (binding)
        snprintf(c->binding, sizeof c->binding, "%s", binding);
    return send_update(c);
}

int lwm2m_client_deregister(struct lwm2m_client *c)
{
    if (!c->registered)
        return -ENOTCONN;
    if (c->op != LWM2M_OP_NONE)
        return -EBUSY;
    uv_timer_stop(&c->update_timer);
    int mid = send_op(c, LWM2M_OP_DEREGISTER, false, false, false);
    return mid < 0 ? mid : 0;
}

bool lwm2m_client_is_registered(const struct lwm2m_client *c)
{
    return c->registered;
}

static void on_handle_closed(uv_handle_t *h)
{
    unref(h->data);
}

static void on_uv_closed(struct coap_uv *u)
{
    struct lwm2m_client *c = (struct lwm2m_client *)((char *)u - offsetof(struct lwm2m_client, uv));
    if (c->session)
        coap_session_release(c->session);
    coap_free_context(c->coap);
    unref(c);
}

void lwm2m_client_close(struct lwm2m_client *c, void (*closed)(void *ctx))
{
    if (c->closing)
        return;
    c->closing = true;
    c->closed = closed;
    lwm2m_dm_free(c);
    while (c->objects) {
        struct lwm2m_object *o = c->objects;
        c->objects = o->next;
        free(o);
    }
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->resolve.req);
    uv_close((uv_handle_t *)&c->op_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->update_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->kick, on_handle_closed);
    coap_uv_close(&c->uv, on_uv_closed);
}
