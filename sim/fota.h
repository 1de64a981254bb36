/* DFOTA: AT+QFOTADL downloads a package into the FOTA area of the flash, the
 * updater applies it in place across reboots (and across power cuts), and
 * the +QIND: "FOTA" URCs of cards 1 and 2 report every step. fota owns its
 * state and reaches the rest through its port (URCs, events, reboot, power
 * cut, the PDN): it knows nothing of the module, so an LwM2M object or a
 * UART upload can drive it as the AT command does. */
#ifndef BCSIM_FOTA_H
#define BCSIM_FOTA_H

#include "fw_image/flash.h"
#include "fw_image/patch.h"
#include "proto/download.h"
#include "proto/resolve.h"
#include "sim/base/clock.h"
#include "sim/fota_sink.h"
#include "sim/fota_upload.h"
#include "sim/profile.h"

#include <stdbool.h>
#include <uv.h>

enum fota_phase { FOTA_IDLE, FOTA_DOWNLOADING, FOTA_UPDATING };

/* What fota reaches outside itself. */
struct fota_port {
    void (*urc)(void *ctx, const char *line);
    void (*event)(void *ctx, const char *type, const char *key, const char *value);
    void (*reboot)(void *ctx, uint32_t delay_ms); /* a reset the module makes itself */
    void (*power_cut)(void *ctx);                 /* the flash lost its power */
    bool (*pdn_up)(void *ctx);                    /* is the default PDN up? */
    void (*finished)(void *ctx, int update_err);  /* an update ended (END), 0: done */
    void *ctx;
};

struct fota_config {
    uv_loop_t *loop;
    const struct clk *clk;
    struct flash *flash;
    const struct profile *prof;      /* result codes, timings, baseline rule */
    const struct resolver *resolver; /* --resolve overrides for downloads */
    struct dl_link radio;            /* the radio link downloads cross */
};

/* The end of a download for LwM2M's Firmware Update object: 0 for a package
 * the module accepts, else the object's Update Result (2 flash, 4 connection
 * lost, 5 integrity, 6 unsupported package, 7 invalid URI, 8 failed). */
typedef void (*fota_fetch_done)(void *ctx, int result);

struct fota {
    enum fota_phase phase;
    fota_fetch_done fetch_done; /* the running download is LwM2M's, or NULL */
    void *fetch_ctx;
    struct fota_config cfg;
    struct fota_port port;
    struct download dl;
    struct patch *patch;
    uv_timer_t timer;                       /* the updater's steps */
    struct fota_sink sink;                  /* the package, into the FOTA area */
    struct fota_upload upload;              /* AT+QFUPLEX's blocks, through the sink */
    int64_t length;                         /* announced by the server, or -1 */
    const struct prof_transport *transport; /* of the download running or last run */
    int percent;                            /* the last percentage reported */
    int sink_err;                           /* why the flash refused the download */
    bool silent;                            /* ... or by the power: nobody hears about it */
    bool start_announced;                   /* START went out before the reboot into the updater */
    bool gave_up;  /* the flash kept failing: no updater until the next power-on */
    int result;    /* <update_err> to report after the next "+CFUN: 1", or -1 */
    bool forget;   /* ... and then erase the journal */
    char why[200]; /* why the last update stopped or failed, for status */
};

/* 0, or -ENOMEM. */
int fota_init(struct fota *f, const struct fota_config *cfg, const struct fota_port *port);
void fota_close(struct fota *f);

/* AT+QFOTADL=<url>: accepted (the rest is URCs) or refused (the command's ERROR). */
enum fota_answer { FOTA_ACCEPTED, FOTA_REFUSED };
enum fota_answer fota_command(struct fota *f, const char *url);

/* AT+QFOTADL=1: the update from the package AT+QFUPLEX uploaded, after the
 * command's OK. Busy is as for a URL; a missing or refused package is an
 * END with the model's code, and its upload stays to be completed. */
enum fota_answer fota_command_uploaded(struct fota *f);

/* LwM2M's Package URI: a download into the FOTA area that prints nothing
 * and ends in done (not called when refused: an Update Result instead, 9 for
 * a scheme the model does not take, 7 for a URI that does not parse, -EBUSY). */
int fota_fetch(struct fota *f, const char *url, fota_fetch_done done, void *ctx);
/* The Package URI emptied: the download stops, without done. */
void fota_fetch_cancel(struct fota *f);
/* LwM2M's Update: the update from the fetched package (the reboot into the
 * updater follows, then port.finished), 0; or an Update Result (5, 6) or
 * -EBUSY when it cannot start. */
int fota_apply(struct fota *f);

enum fota_boot {
    FOTA_BOOT_FIRMWARE,  /* no update to run: the boot ROM checks the firmware */
    FOTA_BOOT_UPDATER,   /* an update is under way: fota_run_updater after the boot ROM */
    FOTA_BOOT_POWER_CUT, /* the flash lost its power while the journal was read */
};

/* At power-on, before the image check: who takes this boot. */
enum fota_boot fota_boot(struct fota *f);
void fota_run_updater(struct fota *f);

/* Boot step after "+CFUN: 1": the result of an update that just ended. */
void fota_boot_report(struct fota *f);

/* The power goes (announce: forget that START was printed, a real loss). */
void fota_power_lost(struct fota *f, bool announce);

/* The default PDN went down. */
void fota_pdn_lost(struct fota *f);

const char *fota_phase_name(const struct fota *f);

/* Why the last update stopped or failed ("" if none did). */
const char *fota_why(const struct fota *f);
/* Package bytes the running or last download has received. */
uint64_t fota_downloaded(const struct fota *f);

#endif
