/* The module's LwM2M side (card 2 chapter 4): the registration settings of
 * AT+QLWCONFIG, the client of proto/lwm2m driven by AT+QLWREG, AT+QLWUPDATE
 * and AT+QLWDEREG, and the objects the module holds itself: Server (1),
 * Device (3) and Firmware Update (5), whose download and update are fota's.
 * Results go out as URCs through the port. */
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
    /* The module's NVRAM: the settings and Object 5's State and Update Result. */
    void (*store)(void *ctx, const char *key, const char *value);
    const char *(*load)(void *ctx, const char *key);
    /* fota: the Package URI's download (0, or an Update Result: see
     * fota_fetch), which ends in lw_fetched; its cancel; the update (0, or an
     * Update Result), which ends in lw_update_finished after the reboot. */
    int (*fetch)(void *ctx, const char *uri);
    void (*fetch_cancel)(void *ctx);
    int (*apply)(void *ctx);
    void *ctx;
};

struct lw_config {
    uv_loop_t *loop;
    const struct resolver *resolver; /* --resolve overrides, or NULL */
    uint32_t ack_timeout_ms;         /* libcoap's ack timeout (0: its default) */
};

enum lw_state { LW_IDLE, LW_REGISTERING, LW_REGISTERED, LW_DEREGISTERING };

/* Object 5 (OMA TS 1.0 appendix E.6). */
enum lw_fw_state { LW_FW_IDLE, LW_FW_DOWNLOADING, LW_FW_DOWNLOADED, LW_FW_UPDATING };

#define LW_URI_MAX 255

struct lw {
    struct lw_config cfg;
    struct lw_port port;
    struct lw_settings set;
    bool configured;
    enum lw_state state;
    struct lwm2m_client *client;
    struct lwh host; /* the objects of the host (AT+QLWADDOBJ) */
    bool closing;
    enum lw_fw_state fw_state;
    int fw_result; /* Update Result 0-9 */
    bool fw_ours;  /* the updater runs (or will resume) an update this object started */
    char fw_uri[LW_URI_MAX + 1];
};

void lw_init(struct lw *l, const struct lw_config *cfg, const struct lw_port *port);
void lw_close(struct lw *l);

/* A reset or power cut: the registration goes without a word; the
 * settings stay (NVRAM: card 2 section 6.3.5 registers again after the
 * update's reboot without configuring). A download under way is lost. */
void lw_power_lost(struct lw *l);

/* The PDN went: so did the registration (the address it named); the host
 * registers again. */
void lw_pdn_lost(struct lw *l);

/* fota's answers: the download's end (0 or an Update Result), the update's
 * END code after the reboot. */
void lw_fetched(struct lw *l, int result);
void lw_update_finished(struct lw *l, int update_err);

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
