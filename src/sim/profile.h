/* Model profiles: everything that differs between BC66, BC66-NA and BC260Y-CN
 * is data in one table per model (profile.c), never a check of the model name. */
#ifndef BCSIM_PROFILE_H
#define BCSIM_PROFILE_H

#include "../fw_image/flash.h"

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

struct profile {
    const char *id;                        /* command-line name: "bc66" */
    const char *manufacturer;              /* AT+CGMI, first line of ATI */
    const char *model;                     /* AT+CGMM, second line of ATI */
    const struct prof_revision *revisions; /* built-in firmware, oldest first, {NULL} ends */
    unsigned factory;                      /* index of the one a new module ships with */
    bool baselines_locked;                 /* packages may not cross R01/R02 lines */
    struct flash_geometry flash;
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
