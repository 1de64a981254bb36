/* What the client's registration side (lwm2m_client.c) and its device
 * management side (lwm2m_dm.c) share. Not for users of the client. */
#ifndef BCSIM_LWM2M_INTERNAL_H
#define BCSIM_LWM2M_INTERNAL_H

#include "proto/coap_loop.h"
#include "proto/lwm2m/lwm2m_client.h"

#include <coap3/coap.h>

#define LWM2M_TOKEN_MAX 8
#define LWM2M_LOC_MAX   8  /* Location-Path segments kept */
#define LWM2M_SEG_MAX   64 /* bytes of each, terminator included */
#define LWM2M_FMT_TEXT  0
#define LWM2M_FMT_LINK  40
#define LWM2M_FMT_OCTET 42
#define LWM2M_FMT_TLV   11542
#define LWM2M_FMT_NONE  (-1)

struct lwm2m_object {
    struct lwm2m_object *next;
    uint16_t id;
    const struct lwm2m_object_ops *ops;
    void *ctx;
};

struct lwm2m_token {
    uint8_t b[LWM2M_TOKEN_MAX];
    size_t len;
};

struct lwm2m_observation {
    struct lwm2m_observation *next;
    uint16_t obj;
    int inst, res; /* LWM2M_NO_ID when absent */
    struct lwm2m_token token;
    int format;
    uint32_t seq;                  /* the Observe number sent last */
    struct lwm2m_request *reading; /* a notification's read, pending */
    bool dirty;                    /* changed again while reading */
    bool announce;                 /* observe(on) still to tell */
    bool ended;                    /* to remove, observe(off) to tell */
};

enum lwm2m_req_kind { LWM2M_REQ_READ, LWM2M_REQ_WRITE, LWM2M_REQ_EXECUTE, LWM2M_REQ_NOTIFY };

struct lwm2m_request {
    struct lwm2m_request *next;
    enum lwm2m_req_kind kind;
    struct lwm2m_token token;
    bool con; /* the request was confirmable: so is the separate answer */
    int format;
    uint16_t obj, inst, res;
    struct lwm2m_observation *obs; /* Observe 0 read or notification */
};

/* A confirmable request answered lately, for its retransmissions (libcoap
 * 4.3.1 passes every copy to the handler): the answer again, the work once. */
#define LWM2M_SEEN_MAX 8
struct lwm2m_seen {
    bool used;
    coap_mid_t mid;
    coap_pdu_t *resp; /* a copy of the answer; NULL: answered later (empty ACK) */
};

enum lwm2m_op { LWM2M_OP_NONE, LWM2M_OP_REGISTER, LWM2M_OP_UPDATE, LWM2M_OP_DEREGISTER };

struct lwm2m_client {
    uv_loop_t *loop;
    const struct lwm2m_client_ops *ops;
    void *ctx;
    char *host, *endpoint;
    char binding[8], binding_sent[8];
    uint16_t port;
    uint32_t lifetime, lifetime_sent;
    const struct resolver *resolver;
    uint32_t ack_ms;
    unsigned max_retransmit;

    coap_context_t *coap;
    coap_session_t *session;
    struct coap_uv uv;
    struct resolve_req resolve;
    bool resolving;
    uv_timer_t op_timer, update_timer, kick;

    enum lwm2m_op op;
    struct lwm2m_token op_token;
    int op_mid;
    bool op_done;
    int op_result;

    bool registered;
    /* What the server has (from the last successful Register or Update) and
     * what the operation in flight carries, taken on its success. */
    unsigned objects_gen, objects_acked, op_objects;
    uint32_t op_lifetime;
    char op_binding[8];
    char loc[LWM2M_LOC_MAX][LWM2M_SEG_MAX];
    int nloc;

    struct lwm2m_object *objects;
    struct lwm2m_observation *observations;
    struct lwm2m_request *requests;
    uint32_t seq; /* Observe numbers: one counter for all */
    struct lwm2m_seen seen[LWM2M_SEEN_MAX];
    unsigned seen_next;

    int refs;
    bool closing;
    void (*closed)(void *ctx);
};

void lwm2m_log(struct lwm2m_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct lwm2m_object *lwm2m_find_object(struct lwm2m_client *c, uint16_t id);
/* Runs the deferred work (events) soon, outside libcoap. */
void lwm2m_kick(struct lwm2m_client *c);

/* lwm2m_dm.c: the server's requests and the notifications. */
void lwm2m_dm_init(coap_context_t *coap);
void lwm2m_dm_nack(struct lwm2m_client *c, const coap_pdu_t *sent, coap_nack_reason_t reason);
void lwm2m_dm_deferred(struct lwm2m_client *c); /* observe events, from the kick */
void lwm2m_dm_reset(struct lwm2m_client *c);    /* registration gone: observations end */
void lwm2m_dm_free(struct lwm2m_client *c);     /* closing: everything goes, no event */
void lwm2m_dm_forget(struct lwm2m_client *c);   /* a new session: no duplicates to know */

#endif
