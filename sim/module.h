/* The emulated module: power and boot, NVRAM settings, the URC queue, and the
 * glue between the UART, the AT engine and the network. */
#ifndef BCSIM_MODULE_H
#define BCSIM_MODULE_H

#include "sim/base/clock.h"
#include "sim/base/events.h"
#include "sim/base/kvfile.h"
#include "sim/base/tlog.h"
#include "fw_image/flash_file.h"
#include "fw_image/image.h"
#include "proto/resolve.h"
#include "proto/download.h"
#include "sim/at/at_engine.h"
#include "sim/fota.h"
#include "sim/lwm2m.h"
#include "sim/network.h"
#include "sim/profile.h"
#include "sim/uart/uart.h"
#include "sim/urc.h"

#include <limits.h>
#include <stdbool.h>

enum mod_power { MOD_POWER_OFF, MOD_POWER_BOOTING, MOD_POWER_ON };

struct mod_config {
    const struct profile *prof;
    const struct clk *clk;
    struct evt_bus *events;
    struct tlog *log;                /* may be NULL */
    const char *link;                /* --link, may be NULL */
    const char *nvram_path;          /* the NVRAM file in the state directory */
    const char *flash_path;          /* the flash image file in the state directory */
    bool factory_reset;              /* rewrite the flash with the factory firmware */
    const struct resolver *resolver; /* --resolve overrides for downloads */
    struct dl_link radio;            /* the radio link downloads cross */
    bool boot_on_open;               /* power on when a host opens the PTY (and it is off) */
    bool has_imei_serial;            /* a fresh NVRAM's IMEI from this serial, not at random */
    uint32_t imei_serial;
    /* The command tables (sim/commands), which sit above the module. */
    const struct at_command *(*lookup)(const struct profile *p, const char *name);
};

struct module {
    const struct profile *prof;
    const struct clk *clk;
    struct evt_bus *events;
    uv_loop_t *loop;
    struct uart uart;
    struct at_engine at;
    struct urc_queue urcs;
    struct network net;
    struct prof_signal signal; /* the radio's surroundings: the profile's until simctl_signal */
    struct kv nvram;
    char nvram_path[PATH_MAX];
    struct flash_file flash;
    char revision[IMG_REVISION_MAX + 1]; /* of the image the boot ROM accepted */
    bool bricked;                        /* it accepted none: the module stays silent */
    char brick_why[256];                 /* ... and why, for status */
    bool updating;                       /* this boot belongs to the updater */
    struct resolver resolver; /* --resolve's overrides, and the DNS fault */
    struct fota fota;
    struct lw lwm2m; /* the LwM2M client and the objects 1, 3 and 5 */

    bool boot_on_open;
    const struct at_command *(*lookup)(const struct profile *p, const char *name);
    uv_timer_t open_timer; /* the power-on that a host's open asks for */
    enum mod_power power;
    bool at_ready; /* "RDY" was printed: the AT interface answers */
    int boot_step;
    uv_timer_t boot_timer, reboot_timer;

    /* Settings of the running session (NVRAM holds the saved ones). */
    char imei[16];
    uint32_t ipr;
    int cfun;
};

/* Opens the PTY and loads NVRAM; the module stays off until mod_power_on.
 * On failure returns a negative errno and a one-line reason in `why`. */
int mod_open(struct module *m, uv_loop_t *loop, const struct mod_config *cfg, char *why,
             size_t why_size);
void mod_close(struct module *m);

/* Writes factory NVRAM settings (the IMEI survives, as it is the hardware's). */
int mod_factory_reset_nvram(const struct profile *prof, const char *nvram_path);

void mod_power_on(struct module *m);
void mod_power_off(struct module *m);                 /* orderly: settings saved */
void mod_power_cut(struct module *m);                 /* instant: whatever was in flight is lost */
void mod_reboot(struct module *m, uint32_t delay_ms); /* reset after the reply is out */

/* Queues an unsolicited line; it goes out as soon as no command is answered. */
void mod_urc(struct module *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mod_urc_flush(struct module *m);

/* Saves one setting now if the model saves it by itself (profile autosave bit). */
void mod_setting_changed(struct module *m, unsigned autosave_bit, const char *key, long value);
int mod_save_settings(struct module *m); /* AT&W */

const char *mod_power_name(enum mod_power p);

/* Publishes {"type":type, key:value} on the event bus. */
void mod_event(struct module *m, const char *type, const char *key, const char *value);

#endif
