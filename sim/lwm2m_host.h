/* The LwM2M objects the host manages itself over AT (AT+QLWADDOBJ): a table
 * of (object, instance, resource ids) given to the module's LwM2M client,
 * and the server's requests to them, each held under a message id of its
 * own until the host answers it (AT+QLWRDRSP, ...) or the wait runs out.
 *
 * The host declares resource ids only: every resource is offered for read,
 * write and execute (the host answers 4.05 where it does not allow one),
 * and its type is the one of the last value the host gave for it (string
 * until then; once opaque, opaque for good): the client decodes a write by
 * it. */
#ifndef BCSIM_LWM2M_HOST_H
#define BCSIM_LWM2M_HOST_H

#include "proto/lwm2m/lwm2m_client.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define LWH_OBJECTS_MAX 8     /* object instances the host may add */
#define LWH_RES_MAX     16    /* resources of each */
#define LWH_PENDING_MAX 16    /* requests waiting for the host at a time */
#define LWH_WAIT_MS     10000 /* then the client answers 5.00 (real time) */
#define LWH_VALUE_MAX   200   /* bytes of a value in a URC or an answer */

enum lwh_kind { LWH_READ, LWH_WRITE, LWH_EXECUTE, LWH_OBSERVE };

/* Host result codes (Quectel's): 1 = 2.05, 2 = 2.04, 11 = 4.00, 12 = 4.01,
 * 13 = 4.04, 14 = 4.05, 15 = 4.06. Returns the CoAP code, or 0 if none. */
int lwh_result_code(uint32_t result);

/* Value types of the AT commands: 1 string, 2 opaque, 3 integer, 4 float,
 * 5 boolean. */
enum { LWH_T_STRING = 1, LWH_T_OPAQUE, LWH_T_INTEGER, LWH_T_FLOAT, LWH_T_BOOLEAN };

struct lwh_object {
    bool used;
    uint16_t obj, inst;
    size_t nres;
    struct lwm2m_resource res[LWH_RES_MAX];
    unsigned observers[LWH_RES_MAX]; /* observations covering each */
};

struct lwh_pending {
    bool used;
    bool told; /* its URC went out */
    enum lwh_kind kind;
    int flag; /* observe: 0 begins, 1 cancels */
    uint16_t msgid;
    uint16_t obj, inst, res;
    struct lwm2m_request *req;
    uint64_t deadline; /* loop time, ms */
};

struct lwh {
    uv_loop_t *loop;
    void (*urc)(void *ctx, const char *line);
    void *ctx;
    struct lwm2m_client *client; /* NULL while there is none */
    struct lwh_object objs[LWH_OBJECTS_MAX];
    struct lwh_pending pend[LWH_PENDING_MAX];
    uint16_t next_msgid;
    uv_timer_t timer; /* the earliest deadline */
    uv_idle_t idle;   /* read and observe URCs, once the client told which */
    /* AT+QLWNOTIFY: the value the client's read takes while notifying */
    const struct lwm2m_value *notify_value;
    uint16_t notify_obj, notify_inst, notify_res;
};

void lwh_init(struct lwh *h, uv_loop_t *loop, void (*urc)(void *ctx, const char *line), void *ctx);
void lwh_close(struct lwh *h);      /* handles closed; h must live until the loop ran them */
void lwh_power_lost(struct lwh *h); /* the table and the requests go */

/* The client appeared (its objects are added) or went (requests dropped). */
void lwh_attach(struct lwh *h, struct lwm2m_client *c);
void lwh_detach(struct lwh *h);
/* The registration changed: the client dropped its pending requests. */
void lwh_forget(struct lwh *h);
/* The client's observe event. */
void lwh_observed(struct lwh *h, uint16_t obj, int inst, int res, bool on);

/* AT+QLWADDOBJ: 0, -EPERM (an object of the module: 0, 1, 3, 5), -EEXIST,
 * -EINVAL (no or repeated resource ids), -ENOSPC. */
int lwh_add(struct lwh *h, uint16_t obj, uint16_t inst, const uint16_t *ids, size_t n);
/* AT+QLWDELOBJ: every instance of obj. 0 or -ENOENT. */
int lwh_delete(struct lwh *h, uint16_t obj);

/* The host's answer to msgid, which must be a request of that kind (READ
 * also answers OBSERVE when observe is set) on that path when obj is not
 * negative: code a CoAP code, v a read's value (its type becomes the
 * resource's). 0, -ENOENT (no such request), -EINVAL (another kind or
 * path, a code the kind cannot have, a number for an opaque resource). */
int lwh_answer(struct lwh *h, uint16_t msgid, enum lwh_kind kind, int obj, int inst, int res,
               int code, const struct lwm2m_value *v);

/* AT+QLWNOTIFY: v is the resource's value now; its observers get it. 0,
 * -ENOENT (no such resource), -ENOTCONN (nobody observes it), -EINVAL (a
 * number for an opaque resource). */
int lwh_notify(struct lwh *h, uint16_t obj, uint16_t inst, uint16_t res,
               const struct lwm2m_value *v);

#endif
