#include "sim/lwm2m_host.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int lwh_result_code(uint32_t result)
{
    switch (result) {
    case 1:
        return LWM2M_CONTENT;
    case 2:
        return LWM2M_CHANGED;
    case 11:
        return LWM2M_BAD_REQUEST;
    case 12:
        return 401;
    case 13:
        return LWM2M_NOT_FOUND;
    case 14:
        return LWM2M_NOT_ALLOWED;
    case 15:
        return LWM2M_NOT_ACCEPTABLE;
    }
    return 0;
}

/* ---- The table ------------------------------------------------------------------- */

static struct lwh_object *find(struct lwh *h, uint16_t obj, uint16_t inst)
{
    for (size_t k = 0; k < LWH_OBJECTS_MAX; k++)
        if (h->objs[k].used && h->objs[k].obj == obj && h->objs[k].inst == inst)
            return &h->objs[k];
    return NULL;
}

static bool has_object(struct lwh *h, uint16_t obj)
{
    for (size_t k = 0; k < LWH_OBJECTS_MAX; k++)
        if (h->objs[k].used && h->objs[k].obj == obj)
            return true;
    return false;
}

static int res_index(const struct lwh_object *o, uint16_t res)
{
    for (size_t k = 0; k < o->nres; k++)
        if (o->res[k].id == res)
            return (int)k;
    return -1;
}

static size_t instances(void *ctx, uint16_t obj, uint16_t *ids, size_t max)
{
    struct lwh *h = ctx;
    size_t n = 0;
    for (size_t k = 0; k < LWH_OBJECTS_MAX && n < max; k++)
        if (h->objs[k].used && h->objs[k].obj == obj)
            ids[n++] = h->objs[k].inst;
    return n;
}

static size_t resources(void *ctx, uint16_t obj, uint16_t inst, const struct lwm2m_resource **list)
{
    struct lwh_object *o = find(ctx, obj, inst);
    if (!o)
        return 0;
    *list = o->res;
    return o->nres;
}

/* ---- Requests waiting for the host ------------------------------------------------------ */

static void arm(struct lwh *h);

static void on_timeout(uv_timer_t *t)
{
    struct lwh *h = t->data;
    uint64_t now = uv_now(h->loop);
    for (size_t k = 0; k < LWH_PENDING_MAX; k++) {
        struct lwh_pending *p = &h->pend[k];
        if (p->used && p->deadline <= now) {
            p->used = false;
            /* 5.00: the resource exists, its holder did not answer (4.04
             * would tell the server it is not there). */
            if (h->client)
                lwm2m_client_respond(h->client, p->req, LWM2M_INTERNAL_ERROR, NULL);
        }
    }
    arm(h);
}

static void arm(struct lwh *h)
{
    uint64_t first = UINT64_MAX, now = uv_now(h->loop);
    for (size_t k = 0; k < LWH_PENDING_MAX; k++)
        if (h->pend[k].used && h->pend[k].deadline < first)
            first = h->pend[k].deadline;
    if (first == UINT64_MAX)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, first > now ? first - now : 0, 0);
}

static void say(struct lwh *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct lwh *h, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    h->urc(h->ctx, line);
}

/* A Read's URC waits for the loop's next turn: the client tells that the
 * read began an observation (lwh_observed) only after the read, from its
 * deferred work, which runs first (a zero timer, before idle handles). */
static void on_idle(uv_idle_t *i)
{
    struct lwh *h = i->data;
    uv_idle_stop(i);
    for (size_t k = 0; k < LWH_PENDING_MAX; k++) {
        struct lwh_pending *p = &h->pend[k];
        if (!p->used || p->told)
            continue;
        p->told = true;
        if (p->kind == LWH_OBSERVE)
            say(h, "+QLWURC: \"observe\",%u,%d,%u,%u,%u", p->msgid, p->flag, p->obj, p->inst,
                p->res);
        else
            say(h, "+QLWURC: \"read\",%u,%u,%u,%u", p->msgid, p->obj, p->inst, p->res);
    }
}

static struct lwh_pending *hold(struct lwh *h, enum lwh_kind kind, struct lwm2m_request *req,
                                uint16_t obj, uint16_t inst, uint16_t res)
{
    struct lwh_pending *p = NULL;
    for (size_t k = 0; k < LWH_PENDING_MAX && !p; k++)
        if (!h->pend[k].used)
            p = &h->pend[k];
    if (!p)
        return NULL;
    /* Message ids of our own (the CoAP one is the client's business),
     * 1-65535, none in use twice. */
    for (bool busy = true; busy;) {
        h->next_msgid = h->next_msgid == UINT16_MAX ? 1 : h->next_msgid + 1;
        busy = false;
        for (size_t k = 0; k < LWH_PENDING_MAX; k++)
            busy |= h->pend[k].used && h->pend[k].msgid == h->next_msgid;
    }
    *p = (struct lwh_pending){.used = true,
                              .kind = kind,
                              .msgid = h->next_msgid,
                              .obj = obj,
                              .inst = inst,
                              .res = res,
                              .req = req,
                              .deadline = uv_now(h->loop) + LWH_WAIT_MS};
    arm(h);
    return p;
}

/* ---- What the client asks ---------------------------------------------------------------- */

static int on_read(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                   struct lwm2m_value *v)
{
    struct lwh *h = ctx;
    if (h->notify_value && obj == h->notify_obj && inst == h->notify_inst && res == h->notify_res) {
        *v = *h->notify_value;
        return LWM2M_CONTENT;
    }
    if (!req) /* a whole instance or object: the host answers one resource at a time */
        return LWM2M_INTERNAL_ERROR;
    if (!hold(h, LWH_READ, req, obj, inst, res))
        return LWM2M_INTERNAL_ERROR;
    uv_idle_start(&h->idle, on_idle);
    return LWM2M_PENDING;
}

static int type_of(const struct lwm2m_value *v)
{
    switch (v->type) {
    case LWM2M_STRING:
        return LWH_T_STRING;
    case LWM2M_OPAQUE:
        return LWH_T_OPAQUE;
    case LWM2M_INTEGER:
    case LWM2M_TIME:
        return LWH_T_INTEGER;
    case LWM2M_FLOAT:
        return LWH_T_FLOAT;
    case LWM2M_BOOLEAN:
        return LWH_T_BOOLEAN;
    default:
        return 0;
    }
}

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (p[k] < 0x20 || p[k] > 0x7e || p[k] == '"')
            return false;
    return true;
}

/* ",<type>,<len>,<value>" of a write's URC into out; -1 if it cannot be
 * told. A string the URC could not carry (quotes, controls) goes as opaque. */
static int format_value(const struct lwm2m_value *v, char *out, size_t size)
{
    char num[40];
    int type = type_of(v);
    switch (type) {
    case LWH_T_STRING:
    case LWH_T_OPAQUE: {
        size_t n = v->u.bytes.len;
        if (n > LWH_VALUE_MAX)
            return -1;
        if (type == LWH_T_STRING && printable(v->u.bytes.p, n)) {
            snprintf(out, size, ",1,%zu,\"%.*s\"", n, (int)n, (const char *)v->u.bytes.p);
            return 0;
        }
        int at = snprintf(out, size, ",2,%zu,\"", n);
        for (size_t k = 0; k < n && (size_t)at + 3 < size; k++)
            at += snprintf(out + at, size - (size_t)at, "%02X", v->u.bytes.p[k]);
        snprintf(out + at, size - (size_t)at, "\"");
        return 0;
    }
    case LWH_T_INTEGER:
        snprintf(num, sizeof num, "%" PRId64, v->u.i);
        break;
    case LWH_T_FLOAT:
        snprintf(num, sizeof num, "%.17g", v->u.f);
        break;
    case LWH_T_BOOLEAN:
        snprintf(num, sizeof num, "%d", v->u.b ? 1 : 0);
        break;
    default:
        return -1;
    }
    snprintf(out, size, ",%d,%zu,%s", type, strlen(num), num);
    return 0;
}

static int on_write(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                    const struct lwm2m_value *v)
{
    struct lwh *h = ctx;
    char value[2 * LWH_VALUE_MAX + 48];
    if (!req) /* a whole instance: the host takes one resource at a time */
        return LWM2M_NOT_ALLOWED;
    if (format_value(v, value, sizeof value) != 0)
        return LWM2M_TOO_LARGE;
    struct lwh_pending *p = hold(h, LWH_WRITE, req, obj, inst, res);
    if (!p)
        return LWM2M_INTERNAL_ERROR;
    p->told = true;
    say(h, "+QLWURC: \"write\",%u,%u,%u,%u%s,0", p->msgid, obj, inst, res, value);
    return LWM2M_PENDING;
}

static int on_execute(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst,
                      uint16_t res, const uint8_t *args, size_t len)
{
    struct lwh *h = ctx;
    if (len > LWH_VALUE_MAX || !printable(args, len))
        return LWM2M_BAD_REQUEST; /* arguments the URC could not carry */
    struct lwh_pending *p = hold(h, LWH_EXECUTE, req, obj, inst, res);
    if (!p)
        return LWM2M_INTERNAL_ERROR;
    p->told = true;
    if (len)
        say(h, "+QLWURC: \"execute\",%u,%u,%u,%u,%zu,\"%.*s\"", p->msgid, obj, inst, res, len,
            (int)len, (const char *)args);
    else
        say(h, "+QLWURC: \"execute\",%u,%u,%u,%u", p->msgid, obj, inst, res);
    return LWM2M_PENDING;
}

static const struct lwm2m_object_ops host_ops = {
    .instances = instances,
    .resources = resources,
    .read = on_read,
    .write = on_write,
    .execute = on_execute,
};

/* ---- Life ------------------------------------------------------------------------------ */

void lwh_init(struct lwh *h, uv_loop_t *loop, void (*urc)(void *ctx, const char *line), void *ctx)
{
    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->urc = urc;
    h->ctx = ctx;
    uv_timer_init(loop, &h->timer);
    uv_idle_init(loop, &h->idle);
    h->timer.data = h->idle.data = h;
}

void lwh_close(struct lwh *h)
{
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_close((uv_handle_t *)&h->idle, NULL);
}

void lwh_forget(struct lwh *h)
{
    memset(h->pend, 0, sizeof h->pend);
    for (size_t k = 0; k < LWH_OBJECTS_MAX; k++)
        memset(h->objs[k].observers, 0, sizeof h->objs[k].observers);
    uv_timer_stop(&h->timer);
    uv_idle_stop(&h->idle);
}

void lwh_detach(struct lwh *h)
{
    lwh_forget(h);
    h->client = NULL;
}

void lwh_power_lost(struct lwh *h)
{
    lwh_detach(h);
    memset(h->objs, 0, sizeof h->objs);
}

void lwh_attach(struct lwh *h, struct lwm2m_client *c)
{
    h->client = c;
    for (size_t k = 0; k < LWH_OBJECTS_MAX; k++)
        if (h->objs[k].used) /* -EEXIST for a second instance: one entry per object */
            lwm2m_client_add_object(c, h->objs[k].obj, &host_ops, h);
}

void lwh_observed(struct lwh *h, uint16_t obj, int inst, int res, bool on)
{
    for (size_t k = 0; k < LWH_OBJECTS_MAX; k++) {
        struct lwh_object *o = &h->objs[k];
        if (!o->used || o->obj != obj || (inst != LWM2M_NO_ID && o->inst != inst))
            continue;
        for (size_t r = 0; r < o->nres; r++) {
            if (res != LWM2M_NO_ID && o->res[r].id != res)
                continue;
            if (on)
                o->observers[r]++;
            else if (o->observers[r])
                o->observers[r]--;
        }
    }
    if (inst == LWM2M_NO_ID || res == LWM2M_NO_ID)
        return;
    /* The read that began (or, Observe 1, ended) it is the host's to answer. */
    for (size_t k = 0; k < LWH_PENDING_MAX; k++) {
        struct lwh_pending *p = &h->pend[k];
        if (p->used && !p->told && p->kind == LWH_READ && p->obj == obj && p->inst == inst &&
            p->res == res) {
            p->kind = LWH_OBSERVE;
            p->flag = on ? 0 : 1;
            break;
        }
    }
}

/* ---- The host's commands ---------------------------------------------------------------- */

int lwh_add(struct lwh *h, uint16_t obj, uint16_t inst, const uint16_t *ids, size_t n)
{
    if (obj == 0 || obj == 1 || obj == 3 || obj == 5)
        return -EPERM;
    if (n == 0 || n > LWH_RES_MAX)
        return -EINVAL;
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (ids[a] == ids[b])
                return -EINVAL;
    if (find(h, obj, inst))
        return -EEXIST;
    struct lwh_object *o = NULL;
    for (size_t k = 0; k < LWH_OBJECTS_MAX && !o; k++)
        if (!h->objs[k].used)
            o = &h->objs[k];
    if (!o)
        return -ENOSPC;
    bool known = has_object(h, obj);
    memset(o, 0, sizeof *o);
    o->used = true;
    o->obj = obj;
    o->inst = inst;
    o->nres = n;
    for (size_t k = 0; k < n; k++)
        o->res[k] = (struct lwm2m_resource){ids[k], LWM2M_OP_R | LWM2M_OP_W | LWM2M_OP_E,
                                            LWM2M_STRING, LWM2M_STRING};
    if (h->client && !known)
        lwm2m_client_add_object(h->client, obj, &host_ops, h);
    return 0;
}

int lwh_delete(struct lwh *h, uint16_t obj)
{
    if (!has_object(h, obj))
        return -ENOENT;
    for (size_t k = 0; k < LWH_OBJECTS_MAX; k++)
        if (h->objs[k].used && h->objs[k].obj == obj)
            h->objs[k].used = false;
    /* Requests to it still waiting: the client answers them 4.04 now. */
    for (size_t k = 0; k < LWH_PENDING_MAX; k++) {
        struct lwh_pending *p = &h->pend[k];
        if (p->used && p->obj == obj) {
            p->used = false;
            if (h->client)
                lwm2m_client_respond(h->client, p->req, LWM2M_NOT_FOUND, NULL);
        }
    }
    arm(h);
    if (h->client)
        lwm2m_client_remove_object(h->client, obj);
    return 0;
}

/* The host's value v for resource d, as the client is to take it now: in
 * now, with d's type set for the call (-1: not possible). The format of a
 * read, or of an observation's notifications, was chosen by the resource's
 * type at the time: octet-stream only for an opaque resource, which is why
 * one that was ever opaque stays so and takes no numbers. Bytes go as a
 * string during the call (text, octet-stream and TLV all carry a string's
 * bytes as they are). *after is the type for later requests. */
static int fit(struct lwm2m_resource *d, const struct lwm2m_value *v, struct lwm2m_value *now,
               enum lwm2m_type *after)
{
    bool bytes = v->type == LWM2M_STRING || v->type == LWM2M_OPAQUE;
    if (d->type == LWM2M_OPAQUE && !bytes)
        return -1;
    *after = d->type == LWM2M_OPAQUE ? LWM2M_OPAQUE : v->type;
    *now = *v;
    if (bytes)
        now->type = LWM2M_STRING;
    d->type = now->type;
    return 0;
}

int lwh_answer(struct lwh *h, uint16_t msgid, enum lwh_kind kind, int obj, int inst, int res,
               int code, const struct lwm2m_value *v)
{
    struct lwh_pending *p = NULL;
    for (size_t k = 0; k < LWH_PENDING_MAX && !p; k++)
        if (h->pend[k].used && h->pend[k].told && h->pend[k].msgid == msgid)
            p = &h->pend[k];
    if (!p)
        return -ENOENT;
    if (p->kind != kind)
        return -EINVAL;
    if (obj >= 0 && (p->obj != obj || p->inst != inst || p->res != res))
        return -EINVAL;
    bool reading = kind == LWH_READ || kind == LWH_OBSERVE;
    if (code == LWM2M_CONTENT && (!reading || !v))
        return -EINVAL;
    if (code == LWM2M_CHANGED && reading)
        return -EINVAL;
    struct lwh_object *o = find(h, p->obj, p->inst);
    int r = o ? res_index(o, p->res) : -1;
    struct lwm2m_value now;
    enum lwm2m_type after = LWM2M_STRING;
    if (code == LWM2M_CONTENT && (r < 0 || fit(&o->res[r], v, &now, &after) != 0))
        return -EINVAL;
    p->used = false;
    arm(h);
    if (h->client)
        lwm2m_client_respond(h->client, p->req, code, code == LWM2M_CONTENT ? &now : NULL);
    if (code == LWM2M_CONTENT)
        o->res[r].type = after;
    return 0;
}

int lwh_notify(struct lwh *h, uint16_t obj, uint16_t inst, uint16_t res,
               const struct lwm2m_value *v)
{
    struct lwh_object *o = find(h, obj, inst);
    int r = o ? res_index(o, res) : -1;
    if (r < 0)
        return -ENOENT;
    if (!h->client || !o->observers[r])
        return -ENOTCONN;
    struct lwm2m_value now;
    enum lwm2m_type after;
    if (fit(&o->res[r], v, &now, &after) != 0)
        return -EINVAL;
    h->notify_value = &now;
    h->notify_obj = obj;
    h->notify_inst = inst;
    h->notify_res = res;
    lwm2m_client_changed(h->client, obj, inst, res);
    h->notify_value = NULL;
    o->res[r].type = after;
    return 0;
}
