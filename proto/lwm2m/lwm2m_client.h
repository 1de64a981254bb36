/* The module's LwM2M 1.0 client (OMA-TS-LightweightM2M-V1_0 sections 5 and
 * 8) over CoAP on UDP, binding "U", no security: libcoap inside the libuv
 * loop (proto/coap_loop.h), one client session to the server whose socket
 * both registers and serves the server's requests.
 *
 * Registration interface:
 * - Register: CON POST /rd?ep=EP&lt=LT&lwm2m=1.0&b=U, Content-Format 40
 *   (link format), payload the object instances held: </3/0>,</5/0> (an
 *   object without instances as </5>). 2.01 with Location-Path -> kept.
 * - Update: CON POST /rd/LOCATION with lt= and b= only when they changed
 *   and the object list only when objects were added or removed since;
 *   sent on demand and by itself at 90% of the lifetime after each
 *   successful Register or Update. 2.04 expected.
 * - De-register: CON DELETE /rd/LOCATION, 2.02 expected.
 * One of them at a time. The events' result: 0 for the expected code,
 * the server's code as class * 100 + detail (403, 404) for another, or a
 * negative errno: -ETIMEDOUT (no answer within libcoap's retransmissions, or
 * a separate response later than MAX_TRANSMIT_WAIT), -ECONNREFUSED (ICMP
 * unreachable), -ECONNRESET (RST), -EPROTO (2.01 without Location-Path), a
 * negative libuv error from the name lookup. A failed Update leaves the
 * registration as it was (it may still exist on the server) but stops the
 * automatic Updates: the application re-registers or retries. An Update
 * answered 4.04 forgets the registration (the server has none), and so does
 * ICMP unreachable, which also drops the socket (libcoap 4.3.1 would go on
 * retransmitting): the next Register opens a new one. lt=, b= and the object
 * list count as the server's once it accepted them: a refused Update's go
 * again in the next. Observations end with the registration.
 *
 * Device management and information reporting (what the server asks):
 * - GET /O, /O/I, /O/I/R: Read. Accept: none -> plain text (0) for a single
 *   resource, opaque (42) for an opaque one, TLV (11542) for a multiple
 *   resource, an instance or an object; 0, 42 or 11542 asked -> that or 4.06.
 *   Not readable -> 4.05.
 * - GET with Observe 0: Observe; the answer carries Observe and every
 *   lwm2m_client_changed covering the path sends a notification: a
 *   confirmable 2.05 with the same token, format and a larger Observe number
 *   (confirmable so that a server which forgot it answers RST, which ends
 *   the observation, as do Observe 1 on the same path and token, and a
 *   notification never acknowledged). libcoap sends one confirmable message
 *   at a time (NSTART 1): notifications queue behind each other and behind
 *   an Update in flight. No pmin/pmax: Write-Attributes (PUT
 *   with a query) is answered 5.01.
 * - PUT /O/I/R: Write, Content-Format 0, 42 (opaque resources) or 11542;
 *   PUT /O/I (replace) and POST /O/I (partial update): TLV of the instance's
 *   resources, every one writable and well formed before any is written.
 *   Not writable -> 4.05; undecodable -> 4.00; another format -> 4.15.
 * - POST /O/I/R: Execute, the payload as arguments. Not executable -> 4.05.
 * - GET with Accept 40: Discover, </O/I/R> per resource (after </O> or
 *   </O/I> for an object or instance), dim= for a multiple resource; no
 *   attributes (none are kept).
 * - Anything else (Create, Delete, paths that are not numbers)
 *   -> 4.05, 4.04 or 4.00; a write with Block1 (block-wise, a pushed
 *   package) -> 4.13: answers and writes fit one datagram (1024 bytes of
 *   payload; a larger Read answer is 5.00). Bad input is logged on one line
 *   and changes nothing. A retransmitted confirmable request gets the same
 *   answer again without running twice (the last 8 are remembered).
 *
 * Objects answer through struct lwm2m_object_ops with a response code or
 * LWM2M_PENDING: then the client acknowledges the request at once (an empty
 * ACK) and sends the answer as a separate response (RFC 7252 5.2.2) when the
 * application calls lwm2m_client_respond. Pending is possible where the
 * request concerns one resource (req is not NULL): Read, Write, Execute of
 * /O/I/R, and the Read of a notification. Elsewhere (Reads and Writes of
 * instances and objects) req is NULL and PENDING answers 5.00; Discover
 * then leaves out dim=. */
#ifndef BCSIM_LWM2M_CLIENT_H
#define BCSIM_LWM2M_CLIENT_H

#include "proto/lwm2m/lwm2m_value.h"
#include "proto/resolve.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Response codes as class * 100 + detail. */
enum {
    LWM2M_PENDING = 0,
    LWM2M_CREATED = 201,
    LWM2M_DELETED = 202,
    LWM2M_CHANGED = 204,
    LWM2M_CONTENT = 205,
    LWM2M_BAD_REQUEST = 400,
    LWM2M_NOT_FOUND = 404,
    LWM2M_NOT_ALLOWED = 405,
    LWM2M_NOT_ACCEPTABLE = 406,
    LWM2M_TOO_LARGE = 413,
    LWM2M_UNSUPPORTED_FORMAT = 415,
    LWM2M_INTERNAL_ERROR = 500,
    LWM2M_NOT_IMPLEMENTED = 501,
};

#define LWM2M_NO_ID (-1) /* a path's instance or resource that is absent */

/* What a resource allows (bits) and holds. */
enum { LWM2M_OP_R = 1, LWM2M_OP_W = 2, LWM2M_OP_E = 4 };

struct lwm2m_resource {
    uint16_t id;
    uint8_t ops;          /* LWM2M_OP_* */
    enum lwm2m_type type; /* LWM2M_MULTIPLE for a multiple resource... */
    enum lwm2m_type item; /* ...whose instances are of this type */
};

struct lwm2m_client;
struct lwm2m_request; /* a request the application answers later */

/* One object the application holds; ctx is the one given to add_object. */
struct lwm2m_object_ops {
    /* Its instance ids, at most max of them into ids; returns how many. */
    size_t (*instances)(void *ctx, uint16_t obj, uint16_t *ids, size_t max);
    /* The resources of an instance (static or alive until the next call). */
    size_t (*resources)(void *ctx, uint16_t obj, uint16_t inst, const struct lwm2m_resource **list);
    /* Fills v (the type of the resource; strings may point into the
     * object's memory, valid until it returns) and returns 205, an error
     * code, or LWM2M_PENDING when req is not NULL. */
    int (*read)(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                struct lwm2m_value *v);
    /* v has the resource's type; returns 204, an error, or PENDING. */
    int (*write)(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                 const struct lwm2m_value *v);
    /* Returns 204, an error, or PENDING. */
    int (*execute)(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                   const uint8_t *args, size_t len);
};

struct lwm2m_client_ops {
    void (*registered)(void *ctx, int result);
    void (*updated)(void *ctx, int result, int msgid);
    void (*deregistered)(void *ctx, int result);
    /* Optional: an observation of the path began (on) or ended. */
    void (*observe)(void *ctx, uint16_t obj, int inst, int res, bool on);
    /* Optional: one line, no newline (bad requests, retransmissions given up). */
    void (*log)(void *ctx, const char *line);
};

struct lwm2m_config {
    const char *host; /* name or address literal of the server */
    uint16_t port;    /* 5683 if 0 */
    const char *endpoint;
    uint32_t lifetime;               /* seconds, 1 or more */
    const char *binding;             /* "U" if NULL */
    const struct resolver *resolver; /* --resolve overrides, or NULL: kept, not copied */
    /* libcoap's ack timeout (at least 1000 ms; 2000 if 0) and retransmissions
     * of a confirmable message (4 if 0). */
    uint32_t ack_timeout_ms;
    unsigned max_retransmit;
};

/* Creates a client on loop (nothing is sent yet); strings are copied.
 * Returns 0 or a negative errno (-EINVAL for a bad config). */
int lwm2m_client_open(struct lwm2m_client **out, uv_loop_t *loop, const struct lwm2m_config *cfg,
                      const struct lwm2m_client_ops *ops, void *ctx);

/* Objects may be added or removed at any time (the next Register or Update
 * carries the list). -EEXIST, -ENOENT. */
int lwm2m_client_add_object(struct lwm2m_client *c, uint16_t obj,
                            const struct lwm2m_object_ops *ops, void *obj_ctx);
int lwm2m_client_remove_object(struct lwm2m_client *c, uint16_t obj);

/* Sends Register (registered follows). 0, -EBUSY while another operation
 * runs, -EALREADY when registered. */
int lwm2m_client_register(struct lwm2m_client *c);

/* Sends Update with a new lifetime (0: unchanged) or binding (NULL:
 * unchanged). Returns its message id (>= 0), or -ENOTCONN when not
 * registered, -EBUSY, -EINVAL. */
int lwm2m_client_update(struct lwm2m_client *c, uint32_t lifetime, const char *binding);

/* Sends De-register (deregistered follows). 0, -ENOTCONN, -EBUSY. */
int lwm2m_client_deregister(struct lwm2m_client *c);

bool lwm2m_client_is_registered(const struct lwm2m_client *c);

/* The resource (or instance, inst/res LWM2M_NO_ID) changed: observers of
 * it, of its instance and of its object are notified. */
void lwm2m_client_changed(struct lwm2m_client *c, uint16_t obj, int inst, int res);

/* Answers a pending request with code; v for a read (205), else NULL.
 * Returns 0, or -EINVAL if req is not pending on c (answered already). */
int lwm2m_client_respond(struct lwm2m_client *c, struct lwm2m_request *req, int code,
                         const struct lwm2m_value *v);

/* Stops everything (no De-register: call that first if wanted) and frees c
 * once its handles are closed; closed (may be NULL) runs then. No event
 * follows. */
void lwm2m_client_close(struct lwm2m_client *c, void (*closed)(void *ctx));

#endif
