#include "sim/lwm2m.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* +QLWREG, +QLWUPDATE and +QLWDEREG results: 0 done, 1 not (bcsim's
 * choice; the event says why). */
#define LW_RESULT_OK   0
#define LW_RESULT_FAIL 1

static void urc(struct lw *l, const char *fmt, int a, int b)
{
    char line[64];
    snprintf(line, sizeof line, fmt, a, b);
    l->port.urc(l->port.ctx, line);
}

static void event(struct lw *l, const char *key, int result)
{
    char text[32];
    snprintf(text, sizeof text, "%d", result);
    l->port.event(l->port.ctx, "lwm2m", key, text);
}

/* ---- The objects the module holds ---------------------------------------------------------- */

enum { OBJ_SERVER = 1, OBJ_DEVICE = 3, OBJ_FIRMWARE = 5 };

static const struct lwm2m_resource server_res[] = {
    {0, LWM2M_OP_R, LWM2M_INTEGER, 0},              /* Short Server ID */
    {1, LWM2M_OP_R | LWM2M_OP_W, LWM2M_INTEGER, 0}, /* Lifetime */
    {6, LWM2M_OP_R, LWM2M_BOOLEAN, 0},              /* Notification Storing */
    {7, LWM2M_OP_R, LWM2M_STRING, 0},               /* Binding */
};
static const struct lwm2m_resource device_res[] = {
    {0, LWM2M_OP_R, LWM2M_STRING, 0},  /* Manufacturer */
    {1, LWM2M_OP_R, LWM2M_STRING, 0},  /* Model Number */
    {2, LWM2M_OP_R, LWM2M_STRING, 0},  /* Serial Number */
    {3, LWM2M_OP_R, LWM2M_STRING, 0},  /* Firmware Version */
    {16, LWM2M_OP_R, LWM2M_STRING, 0}, /* Supported Binding and Modes */
};
static const struct lwm2m_resource firmware_res[] = {
    {1, LWM2M_OP_R | LWM2M_OP_W, LWM2M_STRING, 0},  /* Package URI */
    {2, LWM2M_OP_E, LWM2M_STRING, 0},               /* Update */
    {3, LWM2M_OP_R, LWM2M_INTEGER, 0},              /* State */
    {5, LWM2M_OP_R, LWM2M_INTEGER, 0},              /* Update Result */
    {6, LWM2M_OP_R, LWM2M_STRING, 0},               /* PkgName */
    {7, LWM2M_OP_R, LWM2M_STRING, 0},               /* PkgVersion */
    {8, LWM2M_OP_R, LWM2M_MULTIPLE, LWM2M_INTEGER}, /* Firmware Update Protocol Support */
    {9, LWM2M_OP_R, LWM2M_INTEGER, 0},              /* Firmware Update Delivery Method */
};

static size_t one_instance(void *ctx, uint16_t obj, uint16_t *ids, size_t max)
{
    (void)ctx, (void)obj;
    if (max == 0)
        return 0;
    ids[0] = 0;
    return 1;
}

static size_t resources(void *ctx, uint16_t obj, uint16_t inst, const struct lwm2m_resource **list)
{
    (void)ctx, (void)inst;
    if (obj == OBJ_SERVER) {
        *list = server_res;
        return sizeof server_res / sizeof server_res[0];
    }
    if (obj == OBJ_DEVICE) {
        *list = device_res;
        return sizeof device_res / sizeof device_res[0];
    }
    *list = firmware_res;
    return sizeof firmware_res / sizeof firmware_res[0];
}

static void text(struct lwm2m_value *v, const char *s)
{
    v->type = LWM2M_STRING;
    v->u.bytes.p = (const uint8_t *)s;
    v->u.bytes.len = strlen(s);
}

static void integer(struct lwm2m_value *v, int64_t i)
{
    v->type = LWM2M_INTEGER;
    v->u.i = i;
}

static int read_res(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                    struct lwm2m_value *v)
{
    (void)req, (void)inst;
    struct lw *l = ctx;
    if (obj == OBJ_SERVER) {
        switch (res) {
        case 0:
            integer(v, 1);
            return LWM2M_CONTENT;
        case 1:
            integer(v, l->set.lifetime);
            return LWM2M_CONTENT;
        case 6:
            v->type = LWM2M_BOOLEAN;
            v->u.b = false;
            return LWM2M_CONTENT;
        case 7:
            text(v, "U");
            return LWM2M_CONTENT;
        }
        return LWM2M_NOT_FOUND;
    }
    if (obj == OBJ_DEVICE) {
        struct lw_device d = {0};
        l->port.device(l->port.ctx, &d);
        const char *values[] = {d.manufacturer, d.model, d.serial, d.firmware};
        if (res < 4) {
            text(v, values[res] ? values[res] : "");
            return LWM2M_CONTENT;
        }
        if (res == 16) {
            text(v, "U");
            return LWM2M_CONTENT;
        }
        return LWM2M_NOT_FOUND;
    }
    static const uint16_t proto_ids[] = {0, 1};
    static const struct lwm2m_value protos[] = {{.type = LWM2M_INTEGER, .u.i = 0},  /* CoAP */
                                                {.type = LWM2M_INTEGER, .u.i = 3}}; /* HTTP */
    switch (res) {
    case 1:
        text(v, l->fw_uri);
        return LWM2M_CONTENT;
    case 6:
    case 7:
        text(v, "");
        return LWM2M_CONTENT;
    case 3:
        integer(v, l->fw_state);
        return LWM2M_CONTENT;
    case 5:
        integer(v, l->fw_result);
        return LWM2M_CONTENT;
    case 8:
        v->type = LWM2M_MULTIPLE;
        v->u.multi = (struct lwm2m_multi){proto_ids, protos, 2};
        return LWM2M_CONTENT;
    case 9:
        integer(v, 0); /* pull only: the package comes from the URI */
        return LWM2M_CONTENT;
    }
    return LWM2M_NOT_FOUND;
}

/* ---- Object 5's state machine ------------------------------------------------------------- */

static void fw_set(struct lw *l, enum lw_fw_state state, int result)
{
    bool state_changed = state != l->fw_state, result_changed = result != l->fw_result;
    l->fw_state = state;
    l->fw_result = result;
    char text[48];
    snprintf(text, sizeof text, "%d,%d,%d", (int)state, result, l->fw_ours);
    l->port.store(l->port.ctx, "lwm2m_fw", text);
    l->port.event(l->port.ctx, "lwm2m", "firmware", text);
    if (l->client && state_changed)
        lwm2m_client_changed(l->client, OBJ_FIRMWARE, 0, 3);
    if (l->client && result_changed)
        lwm2m_client_changed(l->client, OBJ_FIRMWARE, 0, 5);
}

/* A write of the Package URI (OMA TS 1.0 E.6.1): an empty one resets to
 * Idle (and stops a download); another starts the download from Idle. */
static int write_uri(struct lw *l, const struct lwm2m_value *v)
{
    if (v->u.bytes.len > LW_URI_MAX)
        return LWM2M_BAD_REQUEST;
    char uri[LW_URI_MAX + 1];
    if (v->u.bytes.len) /* an empty payload comes with no pointer at all */
        memcpy(uri, v->u.bytes.p, v->u.bytes.len);
    uri[v->u.bytes.len] = '\0';
    if (!uri[0]) {
        if (l->fw_state == LW_FW_UPDATING)
            return LWM2M_BAD_REQUEST;
        if (l->fw_state == LW_FW_DOWNLOADING)
            l->port.fetch_cancel(l->port.ctx);
        l->fw_uri[0] = '\0';
        fw_set(l, LW_FW_IDLE, 0);
        return LWM2M_CHANGED;
    }
    if (l->fw_state != LW_FW_IDLE)
        return LWM2M_BAD_REQUEST;
    l->fw_ours = false;
    snprintf(l->fw_uri, sizeof l->fw_uri, "%s", uri);
    int r = l->port.fetch(l->port.ctx, uri);
    if (r < 0)
        return LWM2M_INTERNAL_ERROR; /* fota is busy: AT+QFOTADL or AT+QFUPLEX's update */
    if (r > 0) {
        fw_set(l, LW_FW_IDLE, r); /* 7 invalid URI, 9 unsupported protocol */
        return LWM2M_CHANGED;
    }
    fw_set(l, LW_FW_DOWNLOADING, 0);
    return LWM2M_CHANGED;
}

void lw_fetched(struct lw *l, int result)
{
    if (l->fw_state != LW_FW_DOWNLOADING)
        return;
    fw_set(l, result == 0 ? LW_FW_DOWNLOADED : LW_FW_IDLE, result);
}

/* A failed update may still resume at the next power-on (a flash that
 * failed keeps its journal): then its END,0 turns the result into 1. */
void lw_update_finished(struct lw *l, int update_err)
{
    if (!l->fw_ours)
        return; /* an update of AT+QFOTADL or AT+QFUPLEX: not the object's */
    l->fw_ours = update_err != 0;
    fw_set(l, LW_FW_IDLE, update_err == 0 ? 1 : 8);
}

static int execute_update(struct lw *l)
{
    if (l->fw_state != LW_FW_DOWNLOADED)
        return LWM2M_NOT_ALLOWED; /* Update outside Downloaded is refused */
    int r = l->port.apply(l->port.ctx);
    if (r < 0)
        return LWM2M_INTERNAL_ERROR;
    if (r > 0) {
        fw_set(l, LW_FW_IDLE, r);
        return LWM2M_CHANGED;
    }
    l->fw_ours = true;
    fw_set(l, LW_FW_UPDATING, 0);
    return LWM2M_CHANGED;
}

static int write_res(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst,
                     uint16_t res, const struct lwm2m_value *v)
{
    (void)req, (void)inst;
    if (obj == OBJ_FIRMWARE && res == 1)
        return write_uri(ctx, v);
    return LWM2M_NOT_ALLOWED;
}

static int execute_res(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst,
                       uint16_t res, const uint8_t *args, size_t len)
{
    (void)req, (void)inst, (void)args, (void)len;
    if (obj == OBJ_FIRMWARE && res == 2)
        return execute_update(ctx);
    return LWM2M_NOT_ALLOWED;
}

static const struct lwm2m_object_ops module_objects = {
    .instances = one_instance,
    .resources = resources,
    .read = read_res,
    .write = write_res,
    .execute = execute_res,
};

/* ---- The client's events -------------------------------------------------------------------- */

static void on_registered(void *ctx, int result)
{
    struct lw *l = ctx;
    l->state = result == 0 ? LW_REGISTERED : LW_IDLE;
    lwh_forget(&l->host);
    event(l, "registered", result);
    urc(l, "+QLWREG: %d", result == 0 ? LW_RESULT_OK : LW_RESULT_FAIL, 0);
}

static void on_updated(void *ctx, int result, int msgid)
{
    struct lw *l = ctx;
    if (!lwm2m_client_is_registered(l->client))
        lwh_forget(&l->host);
    event(l, "updated", result);
    urc(l, "+QLWUPDATE: %d,%d", result == 0 ? LW_RESULT_OK : LW_RESULT_FAIL, msgid);
}

static void on_deregistered(void *ctx, int result)
{
    struct lw *l = ctx;
    l->state = LW_IDLE;
    if (!lwm2m_client_is_registered(l->client))
        lwh_forget(&l->host);
    event(l, "deregistered", result);
    urc(l, "+QLWDEREG: %d", result == 0 ? LW_RESULT_OK : LW_RESULT_FAIL, 0);
}

static void on_observe(void *ctx, uint16_t obj, int inst, int res, bool on)
{
    struct lw *l = ctx;
    lwh_observed(&l->host, obj, inst, res, on);
}

static const struct lwm2m_client_ops client_ops = {
    .registered = on_registered,
    .updated = on_updated,
    .deregistered = on_deregistered,
    .observe = on_observe,
};

/* ---- The commands ---------------------------------------------------------------------------- */

/* The settings as one NVRAM value: bs,port,lifetime,security,server,endpoint
 * (the two names last: they may hold commas). */
static void store_settings(struct lw *l)
{
    char text[2 * LW_NAME_MAX + 64];
    snprintf(text, sizeof text, "%d,%u,%u,%d,%zu,%s%s", l->set.bootstrap, l->set.port,
             l->set.lifetime, l->set.security, strlen(l->set.server), l->set.server,
             l->set.endpoint);
    l->port.store(l->port.ctx, "lwm2m", text);
}

static void load_settings(struct lw *l)
{
    const char *text = l->port.load(l->port.ctx, "lwm2m");
    struct lw_settings s = {0};
    int bs, sec, used = 0;
    unsigned port, lifetime;
    size_t server_len;
    if (!text ||
        sscanf(text, "%d,%u,%u,%d,%zu,%n", &bs, &port, &lifetime, &sec, &server_len, &used) != 5 ||
        used == 0)
        return;
    const char *names = text + used;
    if (server_len > LW_NAME_MAX || strlen(names) < server_len ||
        strlen(names) - server_len > LW_NAME_MAX || port == 0 || port > 65535)
        return; /* not ours, or damaged: as if never configured */
    memcpy(s.server, names, server_len);
    snprintf(s.endpoint, sizeof s.endpoint, "%s", names + server_len);
    s.bootstrap = bs != 0;
    s.port = (uint16_t)port;
    s.lifetime = lifetime;
    s.security = sec;
    l->set = s;
    l->configured = true;
}

void lw_init(struct lw *l, const struct lw_config *cfg, const struct lw_port *port)
{
    memset(l, 0, sizeof *l);
    l->cfg = *cfg;
    l->port = *port;
    load_settings(l);
    int state = 0, result = 0, ours = 0;
    const char *fw = l->port.load(l->port.ctx, "lwm2m_fw");
    if (fw && sscanf(fw, "%d,%d,%d", &state, &result, &ours) == 3 && state >= 0 && state <= 3 &&
        result >= 0 && result <= 9) {
        l->fw_state = (enum lw_fw_state)state;
        l->fw_result = result;
        l->fw_ours = ours != 0;
    }
    if (l->fw_state == LW_FW_DOWNLOADING || l->fw_state == LW_FW_DOWNLOADED)
        fw_set(l, LW_FW_IDLE, 4); /* bcsim was stopped meanwhile: the package is fetched again */
    lwh_init(&l->host, cfg->loop, port->urc, port->ctx);
}

static void drop_client(struct lw *l)
{
    if (l->client)
        lwm2m_client_close(l->client, NULL);
    l->client = NULL;
    lwh_detach(&l->host);
    l->state = LW_IDLE;
}

void lw_close(struct lw *l)
{
    drop_client(l);
    lwh_close(&l->host);
}

void lw_power_lost(struct lw *l)
{
    drop_client(l);
    lwh_power_lost(&l->host);
    if (l->fw_state == LW_FW_DOWNLOADING || l->fw_state == LW_FW_DOWNLOADED)
        fw_set(l, LW_FW_IDLE, 4); /* the download, or where it stood, was in RAM */
}

void lw_pdn_lost(struct lw *l)
{
    if (l->client)
        l->port.event(l->port.ctx, "lwm2m", "registration", "lost with the PDN");
    drop_client(l);
}

int lw_configure(struct lw *l, const struct lw_settings *s)
{
    if (s->bootstrap || s->security != 3)
        return -ENOTSUP;
    if (s->port == 0 || s->lifetime < 20 || !s->server[0] || !s->endpoint[0])
        return -EINVAL;
    if (l->state != LW_IDLE)
        return -EBUSY;
    drop_client(l);
    l->set = *s;
    l->configured = true;
    store_settings(l);
    return 0;
}

bool lw_settings_get(const struct lw *l, struct lw_settings *out)
{
    if (l->configured)
        *out = l->set;
    return l->configured;
}

int lw_register(struct lw *l)
{
    if (!l->configured || !l->port.pdn_up(l->port.ctx))
        return -ENOTCONN;
    if (l->state != LW_IDLE)
        return -EALREADY;
    if (!l->client) {
        struct lwm2m_config c = {
            .host = l->set.server,
            .port = l->set.port,
            .endpoint = l->set.endpoint,
            .lifetime = l->set.lifetime,
            .resolver = l->cfg.resolver,
            .ack_timeout_ms = l->cfg.ack_timeout_ms,
        };
        int err = lwm2m_client_open(&l->client, l->cfg.loop, &c, &client_ops, l);
        if (err)
            return err;
        lwm2m_client_add_object(l->client, OBJ_SERVER, &module_objects, l);
        lwm2m_client_add_object(l->client, OBJ_DEVICE, &module_objects, l);
        lwm2m_client_add_object(l->client, OBJ_FIRMWARE, &module_objects, l);
        lwh_attach(&l->host, l->client);
    }
    int err = lwm2m_client_register(l->client);
    if (err)
        return err;
    lwh_forget(&l->host); /* the client dropped the requests it held */
    l->state = LW_REGISTERING;
    return 0;
}

int lw_update(struct lw *l, uint32_t lifetime, const char *binding)
{
    if (l->state != LW_REGISTERED)
        return -ENOTCONN;
    int id = lwm2m_client_update(l->client, lifetime, binding);
    if (id >= 0 && lifetime)
        l->set.lifetime = lifetime;
    return id;
}

int lw_deregister(struct lw *l)
{
    if (l->state != LW_REGISTERED)
        return -ENOTCONN;
    int err = lwm2m_client_deregister(l->client);
    if (err == 0)
        l->state = LW_DEREGISTERING;
    return err;
}
