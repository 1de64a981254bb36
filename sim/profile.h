/* Model profiles: everything that differs between BC66, BC66-NA and BC260Y-CN
 * is data in one table per model (profile.c), never a check of the model name. */
#ifndef BCSIM_PROFILE_H
#define BCSIM_PROFILE_H

#include "fw_image/flash.h"
#include "proto/url.h"

#include <stdbool.h>
#include <stdint.h>

/* Settings a model writes to NVRAM by itself (others need AT&W). */
enum prof_autosave {
    PROF_SAVE_ECHO = 1u << 0,
    PROF_SAVE_CMEE = 1u << 1,
    PROF_SAVE_IPR = 1u << 2,
    PROF_SAVE_CEREG = 1u << 3,
};

/* One step of the boot script, run after `delay_ms` (nominal, scaled by the clock). */
enum prof_boot_action {
    PROF_BOOT_BROM,    /* the boot-ROM lines */
    PROF_BOOT_RDY,     /* "RDY": the AT interface is up */
    PROF_BOOT_CFUN,    /* "+CFUN: 1" */
    PROF_BOOT_FOTA,    /* the result of an update that just finished, if any */
    PROF_BOOT_CPIN,    /* "+CPIN: READY" */
    PROF_BOOT_NETWORK, /* the radio starts searching */
    PROF_BOOT_END
};

struct prof_boot_step {
    uint32_t delay_ms;
    enum prof_boot_action action;
};

struct prof_signal {
    int rxlev, ber, rscp, ecno, rsrq, rsrp; /* +CESQ fields when registered */
    int rssi, csq_ber;                      /* +CSQ */
};

/* A firmware revision the emulator can build: generation `generation` of the
 * synthetic firmware lineage `lineage` (fw_image/synth.h). */
struct prof_revision {
    const char *name;
    uint32_t lineage;
    unsigned generation;
};

/* DFOTA behaviour and result codes (card 1 chapter 8, card 2 chapter 7). A
 * value of -1 means the model has no code for that case. */
/* How AT+QFOTADL downloads over one URL scheme. */
struct prof_transport {
    const char *urc_word;  /* "HTTP": +QIND: "FOTA","HTTPSTART" and "HTTPEND"; NULL: not taken */
    bool progress;         /* +QIND: "FOTA","DOWNLOADING",<percent> while it runs */
    uint16_t default_port; /* for a URL that names none */
    uint16_t block_size;   /* CoAP: the Block2 size the module asks for */
};

struct prof_fota {
    const char *test_reply; /* AT+QFOTADL=? information line, NULL: just OK */
    struct prof_transport transports[URL_SCHEMES]; /* by enum url_scheme */
    /* The Package URI schemes of the LwM2M Firmware Update object (urc_word
     * only marks one as taken: that path prints no download URCs). */
    struct prof_transport lwm2m_transports[URL_SCHEMES];
    bool lwm2m_start_urc; /* +QIND: "FOTA","START" before an update the LwM2M server executes */
    bool notsupport_urc;  /* other schemes: +QIND: "FOTA","NOTSUPPORT" (else ERROR) */
    /* <download_err> */
    int dl_dns, dl_failed, dl_net_lost, dl_net_unavailable, dl_flash_write, dl_flash_full;
    int dl_unknown; /* a server answer that is not HTTP at all */
    /* <update_err> */
    int up_invalid, up_mismatch, up_busy, up_failed;
    uint32_t step_ms; /* nominal time the updater spends per sector */
};

struct profile {
    const char *id;                        /* command-line name: "bc66" */
    const char *manufacturer;              /* AT+CGMI, first line of ATI */
    const char *model;                     /* AT+CGMM, second line of ATI */
    const struct prof_revision *revisions; /* built-in firmware, oldest first, {NULL} ends */
    unsigned factory;                      /* index of the one a new module ships with */
    bool baselines_locked;                 /* packages may not cross R01/R02 lines */
    struct flash_geometry flash;
    uint32_t updater_ram;   /* bytes of RAM the delta updater may use (FORMAT.md) */
    const char *tac_prefix; /* IMEI type allocation code (8 digits) */
    const char *svn;        /* software version number for AT+CGSN=2/3 */

    const char *const *brom_lines; /* NULL-terminated; empty if the model prints none */
    const struct prof_boot_step *boot;
    uint32_t registration_ms; /* searching -> registered */
    uint32_t pdn_ms;          /* registered -> "+IP:" */

    const uint32_t *baud_rates; /* fixed rates, 0-terminated */
    bool autobaud;              /* AT+IPR=0 is accepted */
    uint32_t default_baud;
    unsigned autosave; /* enum prof_autosave bits */

    int pdn_cid;      /* the default PDN context id */
    bool quote_ip;    /* +CGPADDR quotes the address */
    const char *plmn; /* numeric operator for +COPS */
    const char *tac;  /* tracking area code, 4 hex digits */
    const char *cell; /* E-UTRAN cell id, 8 hex digits */
    struct prof_signal signal;

    struct prof_fota fota;
    const char *const *commands; /* NULL-terminated names this model answers */
};

/* NULL-terminated list of all profiles, in the order they are documented. */
extern const struct profile *const prof_all[];

const struct profile *prof_find(const char *id);
const char *prof_factory_revision(const struct profile *p);
const struct prof_revision *prof_revision(const struct profile *p, const char *name);
bool prof_has_command(const struct profile *p, const char *name);
bool prof_baud_supported(const struct profile *p, uint32_t baud);

#endif
