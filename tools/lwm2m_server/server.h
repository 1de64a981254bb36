/* A LwM2M 1.0 server over CoAP/UDP (no DTLS, no bootstrap): the
 * Registration interface (section 5.3) it answers, the Device Management
 * and Information Reporting interfaces (5.4, 5.5) it drives by request.
 * libcoap inside libuv (proto/coap_loop.h). It reports what happens as
 * events; printing them is the program's business. */
#ifndef BCSIM_LWSRV_SERVER_H
#define BCSIM_LWSRV_SERVER_H

#include "tools/lwm2m_server/values.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define LWSRV_EP_MAX 128 /* endpoint name bytes */

struct lwsrv;

struct lwsrv_reg {
    char ep[LWSRV_EP_MAX + 1];
    char id[16];     /* "rd/3": the Location-Path given */
    char binding[8]; /* b=, U by default */
    char version[8]; /* lwm2m=, 1.0 by default */
    char sms[32];    /* sms=, empty if none */
    char peer[64];   /* ADDR:PORT it registered (or last updated) from */
    char *objects;   /* the link-format object list as sent */
    uint32_t lt;     /* lifetime, seconds */
};

enum lwsrv_op { LWSRV_READ, LWSRV_WRITE, LWSRV_EXEC, LWSRV_OBSERVE, LWSRV_CANCEL, LWSRV_DISCOVER };

enum lwsrv_ev {
    LWSRV_EV_REGISTERED,
    LWSRV_EV_UPDATED,
    LWSRV_EV_DEREGISTERED,
    LWSRV_EV_EXPIRED,
    LWSRV_EV_REJECTED, /* a registration request answered with an error */
    LWSRV_EV_RESPONSE, /* the answer to a request of ours */
    LWSRV_EV_NOTIFY,   /* a notification of an observation */
    LWSRV_EV_FAILED,   /* a request of ours got no answer (timeout, RST) */
};

struct lwsrv_event {
    enum lwsrv_ev kind;
    const struct lwsrv_reg *reg;              /* registration events */
    bool new_lt, new_b, new_objects, new_sms; /* an update changed these */
    const char *ep;                           /* requests: the endpoint */
    uint64_t req;                             /* requests: lwsrv_send's id */
    enum lwsrv_op op;
    struct lwsrv_path path;
    unsigned code; /* REJECTED: ours; RESPONSE, NOTIFY: the client's, 205 for 2.05 */
    int format;    /* Content-Format of the payload, -1 if none */
    const uint8_t *payload;
    size_t len;
    long long seq;    /* Observe option, -1 if none */
    const char *peer; /* REJECTED: who asked */
    const char *why;  /* REJECTED, FAILED: a one-line reason */
};

struct lwsrv_config {
    const struct sockaddr *addr; /* where to listen (port 0: the kernel picks) */
    unsigned max_retransmit;     /* of each request to a client (libcoap's default 4) */
    uint64_t seed;               /* tokens and message ids reproducible; 0: random */
    void (*on_event)(void *arg, const struct lwsrv_event *ev);
    void *arg;
};

/* Returns 0 or a negative libuv error, *what naming the step that failed. */
int lwsrv_start(struct lwsrv **out, uv_loop_t *loop, const struct lwsrv_config *cfg,
                const char **what);

/* The address bound, as ADDR:PORT. */
void lwsrv_address(const struct lwsrv *s, char *buf, size_t size);

/* The registration of an endpoint; "*" is the last to register. NULL if none. */
const struct lwsrv_reg *lwsrv_find(const struct lwsrv *s, const char *ep);

struct lwsrv_request {
    enum lwsrv_op op;
    const char *ep; /* or "*" */
    struct lwsrv_path path;
    int format;             /* Accept for reads (-1: TLV for objects and instances, none for
                             * resources); Content-Format for a write */
    const uint8_t *payload; /* write: the value; exec: the arguments */
    size_t len;
};

/* Sends a confirmable request with a token of its own; its answer (or the
 * failure) comes as an event carrying *id. Cancel ends the observation of
 * the same endpoint and path with a GET carrying Observe 1 and the
 * observation's token. Returns -1 with *why if it cannot be sent. */
int lwsrv_send(struct lwsrv *s, const struct lwsrv_request *r, uint64_t *id, const char **why);

/* Closes everything; closed (may be NULL) runs when the handles are gone. */
void lwsrv_close(struct lwsrv *s, void (*closed)(void *arg), void *arg);

#endif
