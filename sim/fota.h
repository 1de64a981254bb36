/* DFOTA: AT+QFOTADL downloads a package into the FOTA area of the flash, the
 * updater applies it in place across reboots (and across power cuts), and
 * the +QIND: "FOTA" URCs of cards 1 and 2 report every step. */
#ifndef BCSIM_FOTA_H
#define BCSIM_FOTA_H

#include "fw_image/patch.h"
#include "proto/download.h"
#include "sim/fota_sink.h"

#include <stdbool.h>
#include <uv.h>

enum fota_phase { FOTA_IDLE, FOTA_DOWNLOADING, FOTA_UPDATING };

struct fota {
    enum fota_phase phase;
    struct download dl;
    struct patch *patch;
    uv_timer_t timer;      /* the updater's steps */
    struct fota_sink sink; /* the package, into the FOTA area */
    int64_t length;        /* announced by the server, or -1 */
    int percent;           /* the last percentage reported */
    int sink_err;          /* why the flash refused the download */
    bool net_lost;         /* the download was aborted by the network */
    bool silent;           /* ... or by the power: nobody hears about it */
    bool start_announced;  /* START went out before the reboot into the updater */
    bool gave_up;          /* the flash kept failing: no updater until the next power-on */
    int result;            /* <update_err> to report after the next "+CFUN: 1", or -1 */
    bool forget;           /* ... and then erase the journal */
    char why[200];         /* why the last update stopped or failed, for status */
};

struct module;

/* 0, or -ENOMEM. */
int fota_init(struct module *m);
void fota_close(struct module *m);

/* AT+QFOTADL=<url>: returns the command's result code (AT_OK, AT_ERROR). */
int fota_command(struct module *m, const char *url);

enum fota_boot {
    FOTA_BOOT_FIRMWARE,  /* no update to run: the boot ROM checks the firmware */
    FOTA_BOOT_UPDATER,   /* an update is under way: fota_run_updater after the boot ROM */
    FOTA_BOOT_POWER_CUT, /* the flash lost its power while the journal was read */
};

/* At power-on, before the image check: who takes this boot. */
enum fota_boot fota_boot(struct module *m);
void fota_run_updater(struct module *m);

/* Boot step after "+CFUN: 1": the result of an update that just ended. */
void fota_boot_report(struct module *m);

/* The power goes (announce: forget that START was printed, a real loss). */
void fota_power_lost(struct module *m, bool announce);

/* The default PDN went down. */
void fota_pdn_lost(struct module *m);

const char *fota_phase_name(const struct fota *f);

/* Why the last update stopped or failed ("" if none did). */
const char *fota_why(const struct fota *f);

#endif
