/* The module's LwM2M side (card 2 chapter 4): the registration settings of
 * AT+QLWCONFIG, the client of proto/lwm2m driven by AT+QLWREG, AT+QLWUPDATE
 * and AT+QLWDEREG, and the objects the module holds itself: Server (1),
 * Device (3) and Firmware Update (5). Its results go out as URCs through the
 * port. Settings and registration live in RAM: a reset or power cut forgets
 * them, as the cards say of their LwM2M commands. */
#ifndef BCSIM_LWM2M_H
#define BCSIM_LWM2M_H

#include "proto/lwm2m/lwm2m_client.h"
#include "sim/lwm2m_host.h"
#include "proto/resolve.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define LW_NAME_MAX 150 /* server name and endpoint, as AT+QLWCONFIG allows */

struct lw_settings {
    bool bootstrap;
    char server[LW_NAME_MAX + 1];
    uint16_t port;
    char endpoint[LW_NAME_MAX + 1];
    uint32_t lifetime;
    int security; /* 3: none (bcsim has no DTLS) */
};

/* What the Device object reports, from the module. */
struct lw_device {
    const char *manufacturer, *model, *serial, *firmware;
};

struct lw_port {
    void (*urc)(void *ctx, const char *line);
    void (*event)(void *ctx, const char *type, const char *key, const char *value);
    bool (*pdn_up)(void *ctx);
    void (*device)(void *ctx, struct lw_device *out);
    void *ctx;
};

struct lw_config {
    uv_loop_t *loop;
    const struct resolver *resolver; /* --resolve overrides, or NULL */
    uint32_t ack_timeout_ms;         /* libcoap's ack timeout (0: its default) */
};

enum lw_state { LW_IDLE, LW_REGISTERING, LW_REGISTERED, LW_DEREGISTERING };

struct lw {
    struct lw_config cfg;
    struct lw_port port;
    struct lw_settings set;
    bool configured;
    enum lw_state state;
    struct lwm2m_client *client;
    struct lwh host; /* the objects of the host (AT+QLWADDOBJ) */
    bool closing;
};

void lw_init(struct lw *l, const struct lw_config *cfg, const struct lw_port *port);
void lw_close(struct lw *l);

/* A reset or power cut: the client goes without a word, the settings too. */
void lw_power_lost(struct lw *l);

/* AT+QLWCONFIG: 0, or -EINVAL (a value out of range), -EBUSY (registered:
 * deregister first), -ENOTSUP (bootstrap or PSK: bcsim has neither). */
int lw_configure(struct lw *l, const struct lw_settings *s);
bool lw_settings_get(const struct lw *l, struct lw_settings *out);

/* AT+QLWREG: 0 (+QLWREG: <result> follows), -ENOTCONN (no settings or no
 * PDN), -EALREADY (registered or registering). */
int lw_register(struct lw *l);
/* AT+QLWUPDATE: the message id (+QLWUPDATE: <result>,<msgid> follows), or
 * -ENOTCONN (not registered), -EBUSY, -EINVAL. */
int lw_update(struct lw *l, uint32_t lifetime, const char *binding);
/* AT+QLWDEREG: 0 (+QLWDEREG: <result> follows), -ENOTCONN. */
int lw_deregister(struct lw *l);

#endif
