/* The server's requests to the client (device management and information
 * reporting, OMA-TS-LightweightM2M-V1_0 sections 5.4 and 5.5) and the
 * notifications of observed paths. */
#include "proto/lwm2m/lwm2m_internal.h"
#include "proto/lwm2m/lwm2m_text.h"
#include "proto/lwm2m/lwm2m_tlv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_MAX   1024 /* no Block2: an answer fits one datagram */
#define INSTANCES_MAX 64
#define VALUES_MAX    64 /* resources and resource instances of one write */
#define TEXT_MAX      512

struct path {
    uint16_t obj;
    int inst, res; /* LWM2M_NO_ID when absent */
    int depth;     /* 1 to 3 */
};

static const char *path_str(const struct path *p, char *buf, size_t size)
{
    if (p->depth == 1)
        snprintf(buf, size, "/%u", p->obj);
    else if (p->depth == 2)
        snprintf(buf, size, "/%u/%d", p->obj, p->inst);
    else
        snprintf(buf, size, "/%u/%d/%d", p->obj, p->inst, p->res);
    return buf;
}

/* 1 to 3 Uri-Path segments, each a decimal number up to 65535. Returns 0,
 * or the code to answer. */
static int parse_path(const coap_pdu_t *req, struct path *p)
{
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_PATH);
    coap_option_iterator_init(req, &it, &filter);
    long ids[3] = {LWM2M_NO_ID, LWM2M_NO_ID, LWM2M_NO_ID};
    int n = 0;
    for (coap_opt_t *o; (o = coap_option_next(&it));) {
        const uint8_t *v = coap_opt_value(o);
        size_t len = coap_opt_length(o);
        if (n == 3)
            return LWM2M_NOT_FOUND;
        if (len == 0 || len > 5)
            return LWM2M_NOT_FOUND;
        long x = 0;
        for (size_t k = 0; k < len; k++) {
            if (v[k] < '0' || v[k] > '9')
                return LWM2M_NOT_FOUND;
            x = x * 10 + (v[k] - '0');
        }
        if (x > 65535 || (len > 1 && v[0] == '0'))
            return LWM2M_NOT_FOUND;
        ids[n++] = x;
    }
    if (n == 0)
        return LWM2M_BAD_REQUEST;
    p->obj = (uint16_t)ids[0];
    p->inst = (int)ids[1];
    p->res = (int)ids[2];
    p->depth = n;
    return 0;
}

static int option_uint(const coap_pdu_t *pdu, uint16_t num, int absent)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(pdu, num, &it);
    if (!o)
        return absent;
    if (coap_opt_length(o) > 3)
        return -2;
    return (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

static bool has_instance(struct lwm2m_object *o, uint16_t inst)
{
    uint16_t ids[INSTANCES_MAX];
    size_t n = o->ops->instances(o->ctx, o->id, ids, INSTANCES_MAX);
    for (size_t k = 0; k < n && k < INSTANCES_MAX; k++)
        if (ids[k] == inst)
            return true;
    return false;
}

static const struct lwm2m_resource *find_resource(struct lwm2m_object *o, uint16_t inst,
                                                  uint16_t res)
{
    const struct lwm2m_resource *list = NULL;
    size_t n = o->ops->resources(o->ctx, o->id, inst, &list);
    for (size_t k = 0; k < n && list; k++)
        if (list[k].id == res)
            return &list[k];
    return NULL;
}

/* The object, instance and resource of p, as far as p goes: 0 or 4.04. */
static int locate(struct lwm2m_client *c, const struct path *p, struct lwm2m_object **o,
                  const struct lwm2m_resource **d)
{
    *o = lwm2m_find_object(c, p->obj);
    *d = NULL;
    if (!*o)
        return LWM2M_NOT_FOUND;
    if (p->depth >= 2 && !has_instance(*o, (uint16_t)p->inst))
        return LWM2M_NOT_FOUND;
    if (p->depth == 3 && !(*d = find_resource(*o, (uint16_t)p->inst, (uint16_t)p->res)))
        return LWM2M_NOT_FOUND;
    return 0;
}

/* ---- Reading ------------------------------------------------------------------ */

static bool type_fits(enum lwm2m_type want, enum lwm2m_type got)
{
    return want == got || (want == LWM2M_TIME && got == LWM2M_INTEGER);
}

static bool value_fits(const struct lwm2m_resource *d, const struct lwm2m_value *v)
{
    if (d->type != LWM2M_MULTIPLE)
        return type_fits(d->type, v->type);
    if (v->type != LWM2M_MULTIPLE || (v->u.multi.n && (!v->u.multi.ids || !v->u.multi.vals)))
        return false;
    for (size_t k = 0; k < v->u.multi.n; k++)
        if (!type_fits(d->item, v->u.multi.vals[k].type))
            return false;
    return true;
}

/* The format of a Read of p (Accept given or -1): or -1 with *code 4.06. */
static int read_format(const struct path *p, const struct lwm2m_resource *d, int accept)
{
    if (p->depth < 3 || d->type == LWM2M_MULTIPLE)
        return accept == LWM2M_FMT_NONE || accept == LWM2M_FMT_TLV ? LWM2M_FMT_TLV : -1;
    if (accept == LWM2M_FMT_TLV)
        return LWM2M_FMT_TLV;
    if (d->type == LWM2M_OPAQUE)
        return accept == LWM2M_FMT_NONE || accept == LWM2M_FMT_OCTET ? LWM2M_FMT_OCTET : -1;
    return accept == LWM2M_FMT_NONE || accept == LWM2M_FMT_TEXT ? LWM2M_FMT_TEXT : -1;
}

/* One resource's value v in format into b: 205, or 5.00 for a value the
 * object got wrong. */
static int encode_one(struct lwm2m_client *c, const struct lwm2m_resource *d, int format,
                      const struct lwm2m_value *v, struct lwm2m_buf *b)
{
    if (!value_fits(d, v)) {
        lwm2m_log(c, "lwm2m: resource %u read a value of another type", d->id);
        return LWM2M_INTERNAL_ERROR;
    }
    if (format == LWM2M_FMT_TLV) {
        if (lwm2m_tlv_put_value(b, LWM2M_TLV_RESOURCE, d->id, v) != 0)
            return LWM2M_INTERNAL_ERROR;
    } else if (format == LWM2M_FMT_OCTET) {
        if (v->u.bytes.len > b->size) {
            b->overflow = true;
        } else {
            if (v->u.bytes.len)
                memcpy(b->p, v->u.bytes.p, v->u.bytes.len);
            b->len = v->u.bytes.len;
        }
    } else {
        char text[TEXT_MAX];
        int n = lwm2m_text_format(v, text, sizeof text);
        if (n < 0)
            return LWM2M_INTERNAL_ERROR;
        if ((size_t)n > b->size)
            b->overflow = true;
        else
            memcpy(b->p, text, (size_t)n), b->len = (size_t)n;
    }
    return b->overflow ? LWM2M_INTERNAL_ERROR : LWM2M_CONTENT;
}

/* The readable resources of an instance as resource TLVs. Resources the
 * object answers 4.04 for (optional ones it lacks) are left out. */
static int read_instance(struct lwm2m_client *c, struct lwm2m_object *o, uint16_t inst,
                         struct lwm2m_buf *b)
{
    const struct lwm2m_resource *list = NULL;
    size_t n = o->ops->resources(o->ctx, o->id, inst, &list);
    for (size_t k = 0; k < n && list; k++) {
        if (!(list[k].ops & LWM2M_OP_R))
            continue;
        struct lwm2m_value v = {.type = list[k].type};
        int code = o->ops->read ? o->ops->read(o->ctx, NULL, o->id, inst, list[k].id, &v)
                                : LWM2M_NOT_FOUND;
        if (code == LWM2M_NOT_FOUND)
            continue;
        if (code == LWM2M_PENDING) {
            lwm2m_log(c, "lwm2m: /%u/%u/%u answered later inside a multi-resource read", o->id,
                      inst, list[k].id);
            return LWM2M_INTERNAL_ERROR;
        }
        if (code != LWM2M_CONTENT)
            return code;
        if ((code = encode_one(c, &list[k], LWM2M_FMT_TLV, &v, b)) != LWM2M_CONTENT)
            return code;
    }
    return LWM2M_CONTENT;
}

static int read_object(struct lwm2m_client *c, struct lwm2m_object *o, struct lwm2m_buf *b)
{
    uint16_t ids[INSTANCES_MAX];
    size_t n = o->ops->instances(o->ctx, o->id, ids, INSTANCES_MAX);
    for (size_t k = 0; k < n && k < INSTANCES_MAX; k++) {
        size_t mark = lwm2m_tlv_begin(b);
        int code = read_instance(c, o, ids[k], b);
        if (code != LWM2M_CONTENT)
            return code;
        lwm2m_tlv_end(b, mark, LWM2M_TLV_OBJECT_INSTANCE, ids[k]);
    }
    return b->overflow ? LWM2M_INTERNAL_ERROR : LWM2M_CONTENT;
}

/* A Read of an instance or object (no pending possible) into b. */
static int read_many(struct lwm2m_client *c, struct lwm2m_object *o, const struct path *p,
                     struct lwm2m_buf *b)
{
    int code = p->depth == 2 ? read_instance(c, o, (uint16_t)p->inst, b) : read_object(c, o, b);
    if (code == LWM2M_CONTENT && b->overflow)
        code = LWM2M_INTERNAL_ERROR;
    if (b->overflow)
        lwm2m_log(c, "lwm2m: the answer to a Read of /%u is over %d bytes", p->obj, PAYLOAD_MAX);
    return code;
}

/* ---- Answers ------------------------------------------------------------------ */

static void set_code(coap_pdu_t *pdu, int code)
{
    coap_pdu_set_code(pdu, (coap_pdu_code_t)COAP_RESPONSE_CODE(code));
}

static void add_uint(coap_pdu_t *pdu, uint16_t num, unsigned v)
{
    uint8_t buf[4];
    coap_add_option(pdu, num, coap_encode_var_safe(buf, sizeof buf, v), buf);
}

/* Code, Observe (obs_seq >= 0), Content-Format and payload of a 2.05. */
static void fill(coap_pdu_t *pdu, int code, long obs_seq, int format, const struct lwm2m_buf *b)
{
    set_code(pdu, code);
    if (obs_seq >= 0)
        add_uint(pdu, COAP_OPTION_OBSERVE, (unsigned)obs_seq & 0xFFFFFF);
    if (code == LWM2M_CONTENT && b) {
        add_uint(pdu, COAP_OPTION_CONTENT_FORMAT, (unsigned)format);
        if (b->len)
            coap_add_data(pdu, b->len, b->p);
    }
}

/* A message of our own (separate response, notification) to the server. */
static void send_own(struct lwm2m_client *c, bool con, const struct lwm2m_token *tok, int code,
                     long obs_seq, int format, const struct lwm2m_buf *b)
{
    if (!c->session)
        return;
    coap_pdu_t *pdu =
        coap_pdu_init(con ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, 0, coap_new_message_id(c->session),
                      coap_session_max_pdu_size(c->session));
    if (!pdu)
        return;
    coap_add_token(pdu, tok->len, tok->b);
    fill(pdu, code, obs_seq, format, b);
    if (coap_send(c->session, pdu) == COAP_INVALID_MID)
        lwm2m_log(c, "lwm2m: a message to the server could not be sent");
    lwm2m_kick(c); /* libcoap runs then, outside any handler */
}

/* ---- Observations --------------------------------------------------------------- */

static struct lwm2m_observation *find_obs(struct lwm2m_client *c, coap_bin_const_t tok)
{
    for (struct lwm2m_observation *o = c->observations; o; o = o->next)
        if (!o->ended && o->token.len == tok.length &&
            (tok.length == 0 || memcmp(o->token.b, tok.s, tok.length) == 0))
            return o;
    return NULL;
}

static void end_obs(struct lwm2m_client *c, struct lwm2m_observation *o)
{
    o->ended = true;
    for (struct lwm2m_request *r = c->requests; r; r = r->next)
        if (r->obs == o)
            r->obs = NULL;
    o->reading = NULL;
    lwm2m_kick(c);
}

static struct lwm2m_observation *observe(struct lwm2m_client *c, const struct path *p,
                                         coap_bin_const_t tok, int format)
{
    struct lwm2m_observation *o = find_obs(c, tok);
    if (o) /* the same token again: it observes the new path now */
        end_obs(c, o);
    o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->obj = p->obj;
    o->inst = p->inst;
    o->res = p->res;
    o->token.len = tok.length;
    memcpy(o->token.b, tok.s, tok.length);
    o->format = format;
    o->seq = ++c->seq;
    o->announce = true;
    o->next = c->observations;
    c->observations = o;
    lwm2m_kick(c);
    return o;
}

static struct path obs_path(const struct lwm2m_observation *o)
{
    struct path p = {o->obj, o->inst, o->res,
                     o->res != LWM2M_NO_ID    ? 3
                     : o->inst != LWM2M_NO_ID ? 2
                                              : 1};
    return p;
}

static struct lwm2m_request *new_request(enum lwm2m_req_kind kind, const struct path *p, int format)
{
    struct lwm2m_request *r = calloc(1, sizeof *r);
    if (r) {
        r->kind = kind;
        r->format = format;
        r->obj = p->obj;
        r->inst = (uint16_t)p->inst;
        r->res = (uint16_t)p->res;
    }
    return r;
}

static void keep_request(struct lwm2m_client *c, struct lwm2m_request *r)
{
    r->next = c->requests;
    c->requests = r;
}

/* A notification with the observed path's value now, or its read begun. */
static void notify(struct lwm2m_client *c, struct lwm2m_observation *ob)
{
    if (ob->reading) {
        ob->dirty = true; /* once the pending read is answered */
        return;
    }
    ob->dirty = false;
    struct path p = obs_path(ob);
    struct lwm2m_object *o;
    const struct lwm2m_resource *d;
    uint8_t buf[PAYLOAD_MAX];
    struct lwm2m_buf b = {buf, sizeof buf, 0, false};
    int code = locate(c, &p, &o, &d);
    if (code == 0 && p.depth == 3) {
        struct lwm2m_request *r = new_request(LWM2M_REQ_NOTIFY, &p, ob->format);
        struct lwm2m_value v = {.type = d->type};
        code = !r ? LWM2M_INTERNAL_ERROR
               : !o->ops->read
                   ? LWM2M_NOT_FOUND
                   : o->ops->read(o->ctx, r, p.obj, (uint16_t)p.inst, (uint16_t)p.res, &v);
        if (code == LWM2M_PENDING) {
            r->obs = ob;
            r->token = ob->token;
            r->con = true;
            ob->reading = r;
            keep_request(c, r);
            return;
        }
        free(r);
        if (code == LWM2M_CONTENT)
            code = encode_one(c, d, ob->format, &v, &b);
    } else if (code == 0) {
        code = read_many(c, o, &p, &b);
    }
    if (code == LWM2M_CONTENT) {
        ob->seq = ++c->seq;
        send_own(c, true, &ob->token, code, ob->seq, ob->format, &b);
    } else { /* an error ends the observation (RFC 7641 3.2) */
        send_own(c, true, &ob->token, code, -1, 0, NULL);
        end_obs(c, ob);
    }
}

static bool covers(const struct lwm2m_observation *o, uint16_t obj, int inst, int res)
{
    return !o->ended && o->obj == obj &&
           (o->inst == LWM2M_NO_ID || inst == LWM2M_NO_ID || o->inst == inst) &&
           (o->res == LWM2M_NO_ID || res == LWM2M_NO_ID || o->res == res);
}

void lwm2m_client_changed(struct lwm2m_client *c, uint16_t obj, int inst, int res)
{
    if (c->closing)
        return;
    for (struct lwm2m_observation *o = c->observations; o; o = o->next)
        if (covers(o, obj, inst, res))
            notify(c, o);
}

void lwm2m_dm_nack(struct lwm2m_client *c, const coap_pdu_t *sent, coap_nack_reason_t reason)
{
    struct lwm2m_observation *o = find_obs(c, coap_pdu_get_token(sent));
    if (!o || reason == COAP_NACK_ICMP_ISSUE) /* ICMP: libcoap retransmits still */
        return;
    lwm2m_log(c, "lwm2m: a notification was %s: observation ended",
              reason == COAP_NACK_RST ? "reset" : "never acknowledged");
    end_obs(c, o);
}

void lwm2m_dm_deferred(struct lwm2m_client *c)
{
    coap_uv_process(&c->uv); /* messages queued since: libcoap's timers */
    for (bool again = true; again && !c->closing;) {
        again = false;
        for (struct lwm2m_observation **pp = &c->observations; *pp; pp = &(*pp)->next) {
            struct lwm2m_observation *o = *pp;
            if (o->announce) {
                o->announce = false;
                if (c->ops->observe)
                    c->ops->observe(c->ctx, o->obj, o->inst, o->res, true);
                again = true;
                break;
            }
            if (o->ended) {
                *pp = o->next;
                struct lwm2m_observation gone = *o;
                free(o);
                if (c->ops->observe)
                    c->ops->observe(c->ctx, gone.obj, gone.inst, gone.res, false);
                again = true;
                break;
            }
        }
    }
}

static void free_requests(struct lwm2m_client *c)
{
    while (c->requests) {
        struct lwm2m_request *r = c->requests;
        c->requests = r->next;
        free(r);
    }
}

void lwm2m_dm_reset(struct lwm2m_client *c)
{
    free_requests(c);
    for (struct lwm2m_observation *o = c->observations; o; o = o->next)
        if (!o->ended)
            end_obs(c, o);
}

void lwm2m_dm_free(struct lwm2m_client *c)
{
    lwm2m_dm_forget(c);
    free_requests(c);
    while (c->observations) {
        struct lwm2m_observation *o = c->observations;
        c->observations = o->next;
        free(o);
    }
}

/* ---- Writing ------------------------------------------------------------------ */

struct decoded {
    size_t n;
    uint16_t res[VALUES_MAX];
    struct lwm2m_value v[VALUES_MAX];
    /* the instances of multiple resources */
    size_t items;
    uint16_t ids[VALUES_MAX];
    struct lwm2m_value vals[VALUES_MAX];
};

/* One resource TLV (single or multiple) for d into out: 0, or 4.00. */
static int decode_resource(const struct lwm2m_tlv *e, const struct lwm2m_resource *d,
                           struct decoded *dec, struct lwm2m_value *out)
{
    if (d->type != LWM2M_MULTIPLE) {
        if (e->kind != LWM2M_TLV_RESOURCE)
            return LWM2M_BAD_REQUEST;
        return lwm2m_tlv_decode(e->value, e->len, d->type, out) == 0 ? 0 : LWM2M_BAD_REQUEST;
    }
    if (e->kind != LWM2M_TLV_MULTIPLE)
        return LWM2M_BAD_REQUEST;
    out->type = LWM2M_MULTIPLE;
    out->u.multi.ids = dec->ids + dec->items;
    out->u.multi.vals = dec->vals + dec->items;
    out->u.multi.n = 0;
    const uint8_t *q = e->value, *end = e->value + e->len;
    struct lwm2m_tlv ri;
    int r;
    while ((r = lwm2m_tlv_next(&q, end, &ri)) == 1) {
        if (ri.kind != LWM2M_TLV_RESOURCE_INSTANCE || dec->items == VALUES_MAX ||
            lwm2m_tlv_decode(ri.value, ri.len, d->item, &dec->vals[dec->items]) != 0)
            return LWM2M_BAD_REQUEST;
        dec->ids[dec->items++] = ri.id;
        out->u.multi.n++;
    }
    return r == 0 ? 0 : LWM2M_BAD_REQUEST;
}

/* The payload of a Write of one resource, in format: 0 or the code. */
static int decode_single(const struct lwm2m_resource *d, uint16_t res, int format,
                         const uint8_t *data, size_t len, struct decoded *dec)
{
    struct lwm2m_value *v = &dec->v[0];
    dec->n = 1;
    dec->res[0] = res;
    switch (format) {
    case LWM2M_FMT_TEXT:
        if (d->type == LWM2M_MULTIPLE || d->type == LWM2M_OPAQUE)
            return LWM2M_UNSUPPORTED_FORMAT;
        return lwm2m_text_parse(data, len, d->type, v) == 0 ? 0 : LWM2M_BAD_REQUEST;
    case LWM2M_FMT_OCTET:
        if (d->type != LWM2M_OPAQUE)
            return LWM2M_UNSUPPORTED_FORMAT;
        v->type = LWM2M_OPAQUE;
        v->u.bytes.p = data;
        v->u.bytes.len = len;
        return 0;
    case LWM2M_FMT_TLV: {
        const uint8_t *q = data, *end = data + len;
        struct lwm2m_tlv e;
        if (!lwm2m_tlv_valid(data, len) || lwm2m_tlv_next(&q, end, &e) != 1 || q != end ||
            e.id != res)
            return LWM2M_BAD_REQUEST;
        return decode_resource(&e, d, dec, v);
    }
    default:
        return LWM2M_UNSUPPORTED_FORMAT;
    }
}

/* The TLV of a Write of an instance: every resource known, writable and
 * well formed, or the code (4.00, 4.04, 4.05). */
static int decode_instance(struct lwm2m_object *o, uint16_t inst, const uint8_t *data, size_t len,
                           struct decoded *dec)
{
    if (!lwm2m_tlv_valid(data, len))
        return LWM2M_BAD_REQUEST;
    const uint8_t *q = data, *end = data + len;
    struct lwm2m_tlv e;
    /* One object instance TLV of this instance may wrap the resources. */
    const uint8_t *peek = q;
    if (lwm2m_tlv_next(&peek, end, &e) == 1 && e.kind == LWM2M_TLV_OBJECT_INSTANCE) {
        if (e.id != inst || peek != end)
            return LWM2M_BAD_REQUEST;
        q = e.value;
        end = e.value + e.len;
    }
    dec->n = 0;
    while (lwm2m_tlv_next(&q, end, &e) == 1) {
        if (e.kind == LWM2M_TLV_OBJECT_INSTANCE || e.kind == LWM2M_TLV_RESOURCE_INSTANCE)
            return LWM2M_BAD_REQUEST;
        const struct lwm2m_resource *d = find_resource(o, inst, e.id);
        if (!d)
            return LWM2M_NOT_FOUND;
        if (!(d->ops & LWM2M_OP_W))
            return LWM2M_NOT_ALLOWED;
        if (dec->n == VALUES_MAX)
            return LWM2M_BAD_REQUEST;
        int code = decode_resource(&e, d, dec, &dec->v[dec->n]);
        if (code)
            return code;
        dec->res[dec->n++] = e.id;
    }
    return dec->n ? 0 : LWM2M_BAD_REQUEST;
}

/* ---- The request handler ---------------------------------------------------------- */

static struct lwm2m_client *client_of(coap_session_t *s)
{
    struct lwm2m_client *c = coap_get_app_data(coap_session_get_context(s));
    return c && !c->closing && s == c->session ? c : NULL;
}

static const char *method(const coap_pdu_t *req)
{
    switch (coap_pdu_get_code(req)) {
    case COAP_REQUEST_CODE_GET:
        return "GET";
    case COAP_REQUEST_CODE_PUT:
        return "PUT";
    case COAP_REQUEST_CODE_POST:
        return "POST";
    default:
        return "DELETE";
    }
}

/* Answers now (code) or later (PENDING, r kept, the response left empty so
 * that libcoap acknowledges the request alone). */
static void answer(struct lwm2m_client *c, const coap_pdu_t *req, coap_pdu_t *resp, int code,
                   struct lwm2m_request *r)
{
    if (code == LWM2M_PENDING && r) {
        coap_bin_const_t tok = coap_pdu_get_token(req);
        r->token.len = tok.length;
        memcpy(r->token.b, tok.s, tok.length);
        r->con = coap_pdu_get_type(req) == COAP_MESSAGE_CON;
        keep_request(c, r);
        return;
    }
    free(r);
    if (code == LWM2M_PENDING) /* where it was not offered */
        code = LWM2M_INTERNAL_ERROR;
    set_code(resp, code);
}

/* ---- Discover (TS 1.0 5.4.1) ------------------------------------------------------ */

static bool add_link(struct lwm2m_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool add_link(struct lwm2m_buf *b, const char *fmt, ...)
{
    if (b->overflow)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)b->p + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->size - b->len) {
        b->overflow = true;
        return false;
    }
    b->len += (size_t)n;
    return true;
}

/* The resources of an instance as </O/I/R>, a multiple one with dim= (its
 * instances now, when the object can tell at once). No attributes: bcsim
 * keeps no Write-Attributes. */
static void discover_instance(struct lwm2m_object *o, uint16_t inst, int only, struct lwm2m_buf *b)
{
    const struct lwm2m_resource *list = NULL;
    size_t n = o->ops->resources(o->ctx, o->id, inst, &list);
    for (size_t k = 0; k < n && list; k++) {
        if (only != LWM2M_NO_ID && list[k].id != only)
            continue;
        add_link(b, "%s</%u/%u/%u>", b->len ? "," : "", o->id, inst, list[k].id);
        struct lwm2m_value v = {.type = list[k].type};
        if (list[k].type == LWM2M_MULTIPLE && (list[k].ops & LWM2M_OP_R) && o->ops->read &&
            o->ops->read(o->ctx, NULL, o->id, inst, list[k].id, &v) == LWM2M_CONTENT &&
            v.type == LWM2M_MULTIPLE)
            add_link(b, ";dim=%zu", v.u.multi.n);
    }
}

static void handle_discover(struct lwm2m_client *c, const struct path *p, coap_pdu_t *resp)
{
    struct lwm2m_object *o;
    const struct lwm2m_resource *d;
    int code = locate(c, p, &o, &d);
    if (code) {
        set_code(resp, code);
        return;
    }
    uint8_t buf[PAYLOAD_MAX];
    struct lwm2m_buf b = {buf, sizeof buf, 0, false};
    if (p->depth == 1) {
        add_link(&b, "</%u>", p->obj);
        uint16_t ids[INSTANCES_MAX];
        size_t n = o->ops->instances(o->ctx, o->id, ids, INSTANCES_MAX);
        for (size_t k = 0; k < n && k < INSTANCES_MAX; k++)
            discover_instance(o, ids[k], LWM2M_NO_ID, &b);
    } else if (p->depth == 2) {
        add_link(&b, "</%u/%d>", p->obj, p->inst);
        discover_instance(o, (uint16_t)p->inst, LWM2M_NO_ID, &b);
    } else {
        discover_instance(o, (uint16_t)p->inst, p->res, &b);
    }
    if (b.overflow) {
        lwm2m_log(c, "lwm2m: the answer to a Discover of /%u is over %d bytes", p->obj,
                  PAYLOAD_MAX);
        set_code(resp, LWM2M_INTERNAL_ERROR);
        return;
    }
    fill(resp, LWM2M_CONTENT, -1, LWM2M_FMT_LINK, &b);
}

static void handle_read(struct lwm2m_client *c, const struct path *p, const coap_pdu_t *req,
                        coap_pdu_t *resp)
{
    struct lwm2m_object *o;
    const struct lwm2m_resource *d;
    int code = locate(c, p, &o, &d);
    int accept = option_uint(req, COAP_OPTION_ACCEPT, LWM2M_FMT_NONE);
    int obs = option_uint(req, COAP_OPTION_OBSERVE, -1);
    coap_bin_const_t tok = coap_pdu_get_token(req);
    if (accept == LWM2M_FMT_LINK && obs == -1) {
        handle_discover(c, p, resp);
        return;
    }
    if (obs == 1) { /* cancel, and read as usual */
        struct lwm2m_observation *ob = find_obs(c, tok);
        if (ob)
            end_obs(c, ob);
    }
    if (code == 0 && d && !(d->ops & LWM2M_OP_R))
        code = LWM2M_NOT_ALLOWED;
    int format = code == 0 ? read_format(p, d, accept) : 0;
    if (code == 0 && format < 0)
        code = LWM2M_NOT_ACCEPTABLE;
    if (code) {
        set_code(resp, code);
        return;
    }
    uint8_t buf[PAYLOAD_MAX];
    struct lwm2m_buf b = {buf, sizeof buf, 0, false};
    if (p->depth == 3) {
        struct lwm2m_request *r = new_request(LWM2M_REQ_READ, p, format);
        struct lwm2m_value v = {.type = d->type};
        code = !r ? LWM2M_INTERNAL_ERROR
               : !o->ops->read
                   ? LWM2M_NOT_FOUND
                   : o->ops->read(o->ctx, r, p->obj, (uint16_t)p->inst, (uint16_t)p->res, &v);
        if (code == LWM2M_PENDING && r) {
            if (obs == 0)
                r->obs = observe(c, p, tok, format);
            answer(c, req, resp, code, r);
            return;
        }
        free(r);
        if (code == LWM2M_CONTENT)
            code = encode_one(c, d, format, &v, &b);
    } else {
        code = read_many(c, o, p, &b);
    }
    long seq = -1;
    if (code == LWM2M_CONTENT && obs == 0) {
        struct lwm2m_observation *ob = observe(c, p, tok, format);
        if (ob)
            seq = ob->seq;
    }
    fill(resp, code, seq, format, &b);
}

static int write_values(struct lwm2m_object *o, const struct path *p, const struct decoded *dec,
                        struct lwm2m_request *r)
{
    if (!o->ops->write)
        return LWM2M_NOT_ALLOWED;
    for (size_t k = 0; k < dec->n; k++) {
        int code = o->ops->write(o->ctx, r, p->obj, (uint16_t)p->inst, dec->res[k], &dec->v[k]);
        if (code != LWM2M_CHANGED)
            return code;
    }
    return LWM2M_CHANGED;
}

static void handle_write(struct lwm2m_client *c, const struct path *p, const coap_pdu_t *req,
                         coap_pdu_t *resp, bool partial)
{
    (void)partial; /* replace and partial update both write what is given */
    struct lwm2m_object *o;
    const struct lwm2m_resource *d;
    int code = p->depth == 1 ? LWM2M_NOT_ALLOWED : locate(c, p, &o, &d);
    int format = option_uint(req, COAP_OPTION_CONTENT_FORMAT, LWM2M_FMT_NONE);
    size_t len = 0;
    const uint8_t *data = NULL;
    coap_get_data(req, &len, &data);
    struct decoded *dec = calloc(1, sizeof *dec); /* 3 KiB: not on the stack */
    if (!dec) {
        set_code(resp, LWM2M_INTERNAL_ERROR);
        return;
    }
    if (code == 0 && d && !(d->ops & LWM2M_OP_W))
        code = LWM2M_NOT_ALLOWED;
    if (code == 0 && d)
        code = decode_single(d, (uint16_t)p->res, format, data, len, dec);
    else if (code == 0)
        code = format != LWM2M_FMT_TLV ? LWM2M_UNSUPPORTED_FORMAT
                                       : decode_instance(o, (uint16_t)p->inst, data, len, dec);
    if (code) {
        char ps[32];
        if (code == LWM2M_BAD_REQUEST || code == LWM2M_UNSUPPORTED_FORMAT)
            lwm2m_log(c, "lwm2m: %s %s: %s", method(req), path_str(p, ps, sizeof ps),
                      code == LWM2M_BAD_REQUEST ? "payload not decodable"
                                                : "Content-Format not accepted");
        set_code(resp, code);
        free(dec);
        return;
    }
    struct lwm2m_request *r = d ? new_request(LWM2M_REQ_WRITE, p, 0) : NULL;
    if (d && !r) {
        set_code(resp, LWM2M_INTERNAL_ERROR);
        free(dec);
        return;
    }
    answer(c, req, resp, write_values(o, p, dec, r), r);
    free(dec);
}

static void handle_execute(struct lwm2m_client *c, const struct path *p, const coap_pdu_t *req,
                           coap_pdu_t *resp)
{
    struct lwm2m_object *o;
    const struct lwm2m_resource *d;
    int code = locate(c, p, &o, &d);
    if (code == 0 && (!(d->ops & LWM2M_OP_E) || !o->ops->execute))
        code = LWM2M_NOT_ALLOWED;
    if (code) {
        set_code(resp, code);
        return;
    }
    size_t len = 0;
    const uint8_t *data = NULL;
    coap_get_data(req, &len, &data);
    struct lwm2m_request *r = new_request(LWM2M_REQ_EXECUTE, p, 0);
    if (!r) {
        set_code(resp, LWM2M_INTERNAL_ERROR);
        return;
    }
    code = o->ops->execute(o->ctx, r, p->obj, (uint16_t)p->inst, (uint16_t)p->res, data, len);
    answer(c, req, resp, code, r);
}

/* ---- Duplicates ------------------------------------------------------------------ */

static struct lwm2m_seen *seen(struct lwm2m_client *c, coap_mid_t mid)
{
    for (unsigned k = 0; k < LWM2M_SEEN_MAX; k++)
        if (c->seen[k].used && c->seen[k].mid == mid)
            return &c->seen[k];
    return NULL;
}

/* resp becomes a copy of the answer given before (code, options, data). */
static void replay(const coap_pdu_t *old, coap_pdu_t *resp)
{
    coap_pdu_set_code(resp, coap_pdu_get_code(old));
    coap_opt_iterator_t it;
    coap_option_iterator_init(old, &it, COAP_OPT_ALL);
    for (coap_opt_t *o; (o = coap_option_next(&it));)
        coap_add_option(resp, it.number, coap_opt_length(o), coap_opt_value(o));
    size_t len;
    const uint8_t *data;
    if (coap_get_data(old, &len, &data) && len)
        coap_add_data(resp, len, data);
}

static void remember(struct lwm2m_client *c, coap_session_t *s, const coap_pdu_t *req,
                     const coap_pdu_t *resp)
{
    struct lwm2m_seen *e = &c->seen[c->seen_next++ % LWM2M_SEEN_MAX];
    if (e->resp)
        coap_delete_pdu(e->resp);
    coap_bin_const_t tok = coap_pdu_get_token(req);
    e->used = true;
    e->mid = coap_pdu_get_mid(req);
    e->resp =
        coap_pdu_get_code(resp) == 0 ? NULL : coap_pdu_duplicate(resp, s, tok.length, tok.s, NULL);
}

void lwm2m_dm_forget(struct lwm2m_client *c)
{
    for (unsigned k = 0; k < LWM2M_SEEN_MAX; k++) {
        if (c->seen[k].resp)
            coap_delete_pdu(c->seen[k].resp);
        c->seen[k].resp = NULL;
        c->seen[k].used = false;
    }
}

static void dispatch(struct lwm2m_client *c, coap_pdu_t *resp, const coap_pdu_t *req,
                     const coap_string_t *query);

static void on_request(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
                       const coap_string_t *query, coap_pdu_t *resp)
{
    (void)res;
    struct lwm2m_client *c = client_of(s);
    if (!c) {
        set_code(resp, LWM2M_NOT_FOUND);
        return;
    }
    bool con = coap_pdu_get_type(req) == COAP_MESSAGE_CON;
    struct lwm2m_seen *e = con ? seen(c, coap_pdu_get_mid(req)) : NULL;
    if (e) {
        if (e->resp) /* else: an empty ACK again, the answer follows */
            replay(e->resp, resp);
        return;
    }
    dispatch(c, resp, req, query);
    if (con && !c->closing)
        remember(c, s, req, resp);
}

static void dispatch(struct lwm2m_client *c, coap_pdu_t *resp, const coap_pdu_t *req,
                     const coap_string_t *query)
{
    struct path p;
    int code = parse_path(req, &p);
    coap_pdu_code_t m = coap_pdu_get_code(req);
    if (code) {
        lwm2m_log(c, "lwm2m: %s for a path that is not /OBJ[/INST[/RES]]: %d.%02d", method(req),
                  code / 100, code % 100);
    } else if (m != COAP_REQUEST_CODE_GET && option_uint(req, COAP_OPTION_BLOCK1, -1) != -1) {
        /* No block-wise writes (a pushed package): one block taken for the
         * whole would be wrong, so none is. */
        lwm2m_log(c, "lwm2m: %s with Block1: block-wise writes are not supported", method(req));
        code = LWM2M_TOO_LARGE;
    } else if (m == COAP_REQUEST_CODE_GET) {
        handle_read(c, &p, req, resp);
        return;
    } else if (m == COAP_REQUEST_CODE_PUT && query && query->length) {
        code = LWM2M_NOT_IMPLEMENTED; /* Write-Attributes */
    } else if (m == COAP_REQUEST_CODE_PUT && p.depth >= 2) {
        handle_write(c, &p, req, resp, false);
        return;
    } else if (m == COAP_REQUEST_CODE_POST && p.depth == 3) {
        handle_execute(c, &p, req, resp);
        return;
    } else if (m == COAP_REQUEST_CODE_POST && p.depth == 2) {
        handle_write(c, &p, req, resp, true);
        return;
    } else {
        code = LWM2M_NOT_ALLOWED; /* Create, Delete, Write of an object */
    }
    set_code(resp, code);
}

void lwm2m_dm_init(coap_context_t *coap)
{
    coap_resource_t *r = coap_resource_unknown_init(on_request);
    coap_register_request_handler(r, COAP_REQUEST_GET, on_request);
    coap_register_request_handler(r, COAP_REQUEST_POST, on_request);
    coap_register_request_handler(r, COAP_REQUEST_DELETE, on_request);
    coap_add_resource(coap, r);
}

/* ---- Answers given later ------------------------------------------------------------ */

int lwm2m_client_respond(struct lwm2m_client *c, struct lwm2m_request *req, int code,
                         const struct lwm2m_value *v)
{
    struct lwm2m_request **pp = &c->requests;
    while (*pp && *pp != req)
        pp = &(*pp)->next;
    if (!*pp || code == LWM2M_PENDING || code < 200 || code > 531 || code % 100 > 31)
        return -EINVAL;
    *pp = req->next;
    uint8_t buf[PAYLOAD_MAX];
    struct lwm2m_buf b = {buf, sizeof buf, 0, false};
    struct path p = {req->obj, req->inst, req->res, 3};
    struct lwm2m_observation *ob = req->obs;
    if (req->kind == LWM2M_REQ_READ || req->kind == LWM2M_REQ_NOTIFY) {
        struct lwm2m_object *o;
        const struct lwm2m_resource *d;
        if (code == LWM2M_CONTENT) {
            int found = locate(c, &p, &o, &d);
            code = found ? found : !v ? LWM2M_INTERNAL_ERROR : encode_one(c, d, req->format, v, &b);
        }
    }
    if (ob)
        ob->reading = NULL;
    if (req->kind == LWM2M_REQ_NOTIFY && !ob) {
        free(req); /* the observation ended meanwhile */
        return 0;
    }
    long seq = -1;
    if (ob && code == LWM2M_CONTENT) {
        if (req->kind == LWM2M_REQ_NOTIFY)
            ob->seq = ++c->seq;
        seq = ob->seq;
    }
    send_own(c, req->con, &req->token, code, seq, req->format, &b);
    bool again = ob && code == LWM2M_CONTENT && ob->dirty;
    if (ob && code != LWM2M_CONTENT)
        end_obs(c, ob);
    free(req);
    if (again)
        notify(c, ob);
    return 0;
}
