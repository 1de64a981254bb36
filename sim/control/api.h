/* The run-time control API: everything a test harness may do to a running
 * module from outside (power, the network and its signal, unsolicited lines,
 * command overrides, flash faults) and the status it may read. The control
 * socket is one front end (it only turns words into these calls); scenario
 * files are the next. The rules (ranges, states) live here, so that every
 * front end refuses the same things with the same words.
 *
 * Functions that can refuse return 0 or a negative errno and then write a
 * one-line reason into `why` (never NULL, why_size > 0); a refused call
 * changes nothing. */
#ifndef BCSIM_SIMCTL_H
#define BCSIM_SIMCTL_H

#include "fw_image/image.h"
#include "sim/profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct module;

/* ---- Status ----------------------------------------------------------------- */

/* A snapshot: the strings are copies or static names, so it stays valid
 * after the module moves on. The names are those of the socket's status. */
struct simctl_status {
    const char *model;   /* profile id: "bc66" */
    const char *product; /* AT+CGMM */
    char revision[IMG_REVISION_MAX + 1];
    bool bricked;           /* the boot ROM accepted no image */
    char firmware_why[256]; /* ... and why ("" if not bricked) */
    char imei[16];
    const char *power;   /* "off", "booting", "on" */
    const char *network; /* "idle", "registered", "searching", "denied" */
    bool cell;           /* the network is there (simctl_net) */
    bool dns_fails;      /* every name lookup fails (simctl_dns) */
    char ip[16];         /* "" while no PDN is up */
    const char *fota;    /* "idle", "downloading", "updating" */
    char fota_why[200];  /* why the last update stopped or failed, or "" */
    uint64_t flash_ops;  /* programs and erases since bcsim started */
    uint64_t downloaded; /* package bytes the running or last download received */
    char pty[64];
    bool host_attached;
    uint32_t baud; /* AT+IPR: 0 is autobaud */
    bool autobaud_locked;
    char speed[32]; /* the clock: "realtime", "fast", "x2" ... */
    uint64_t uart_bytes_dropped;
    uint64_t uart_writes;      /* write() calls to the PTY since bcsim started */
    struct prof_signal signal; /* what AT+CESQ and AT+CSQ report when registered */
};

void simctl_status(const struct module *m, struct simctl_status *out);

/* One field of a snapshot as text, by its status name ("revision", "fota",
 * "downloaded", "firmware" as "ok"/"bricked", booleans as "true"/"false"):
 * 0, or -1 for a name that is not a field. */
int simctl_status_field(const struct simctl_status *st, const char *name, char *out, size_t size);

/* ---- Power -------------------------------------------------------------------- */

enum simctl_power {
    SIMCTL_POWER_ON,
    SIMCTL_POWER_OFF,   /* orderly: queued output still goes out, settings saved */
    SIMCTL_POWER_CYCLE, /* off, then on */
    SIMCTL_POWER_CUT,   /* at once, mid-anything: what was in flight is lost */
};

/* The word for it ("on", "off", "cycle", "cut"); find: 0, or -EINVAL. */
const char *simctl_power_name(enum simctl_power p);
int simctl_power_find(const char *name, enum simctl_power *out);

void simctl_power(struct module *m, enum simctl_power p);

/* ---- Network ------------------------------------------------------------------- */

enum simctl_net {
    SIMCTL_NET_ATTACH, /* the cell is there and accepts the module */
    SIMCTL_NET_DETACH, /* no cell: the module searches */
    SIMCTL_NET_DENY,   /* the cell is there and rejects registration */
};

/* The word for it ("attach", "detach", "deny"); find: 0, or -EINVAL. */
const char *simctl_net_name(enum simctl_net n);
int simctl_net_find(const char *name, enum simctl_net *out);

/* Publishes a "cell" event and moves the registration state machine. */
void simctl_net(struct module *m, enum simctl_net n);

/* ---- Name resolution ---------------------------------------------------------------- */

/* fail: every host name the module looks up (downloads, the LwM2M server)
 * fails as unknown from now on, --resolve overrides included; addresses
 * written as literals still work. Publishes a "dns" event. */
void simctl_dns(struct module *m, bool fail);

/* ---- Signal quality -------------------------------------------------------------- */

/* One field of struct prof_signal, with its 3GPP 27.007 range: 0 to max, or
 * `unknown` ("not known or not detectable"). */
struct simctl_signal_field {
    const char *name; /* "rsrp": the struct field's name */
    size_t offset;    /* of the int in struct prof_signal */
    int max, unknown;
};

/* NULL-terminated by name: rxlev ber rscp ecno rsrq rsrp (+CESQ), rssi csq_ber (+CSQ). */
extern const struct simctl_signal_field simctl_signal_fields[];
const struct simctl_signal_field *simctl_signal_field_find(const char *name);

/* One field of a set of values, read or written by its description. */
int simctl_signal_field_get(const struct prof_signal *s, const struct simctl_signal_field *f);
void simctl_signal_field_set(struct prof_signal *s, const struct simctl_signal_field *f, int v);

/* Replaces all the values (a caller changing one copies the others from the
 * status). -ERANGE if any field is outside its range. The values outlive
 * power cycles: they are the radio's surroundings, not the module's state. */
int simctl_signal(struct module *m, const struct prof_signal *s, char *why, size_t why_size);

/* Back to the model's values (the profile's). */
void simctl_signal_reset(struct module *m);

/* ---- Unsolicited lines and overrides ------------------------------------------------- */

/* Queues TEXT as a URC (framed as the AT dialect frames them). -ENODEV while
 * the module is powered off. */
int simctl_urc(struct module *m, const char *text, char *why, size_t why_size);

/* Answers the command line `cmd` with `reply` instead of the module (see
 * at_override_add); -ENOSPC when the table is full. */
int simctl_override_add(struct module *m, const char *cmd, const char *reply, bool once, char *why,
                        size_t why_size);
void simctl_override_clear(struct module *m);

/* ---- Flash and line faults ------------------------------------------------------------------- */

enum simctl_fault {
    SIMCTL_FAULT_FLASH_PROGRAM,  /* the value-th next program fails, once */
    SIMCTL_FAULT_FLASH_ERASE,    /* the value-th next erase fails, once */
    SIMCTL_FAULT_FLASH_CAPACITY, /* only value bytes of the FOTA area can be written */
    SIMCTL_FAULT_FLASH_CUT,      /* the power is cut after value more operations */
    SIMCTL_FAULT_FLASH_TEAR,     /* ... tearing the operation it hits */
    SIMCTL_FAULT_FLASH_WORN,     /* every program and erase fails from now on */
    SIMCTL_FAULT_UART_RX_DROP,   /* the value-th next byte from the host is lost */
    SIMCTL_FAULT_UART_RX_FLIP,   /* ... arrives with a bit flipped */
    SIMCTL_FAULT_UART_TX_DROP,   /* the value-th next byte to the host is lost */
    SIMCTL_FAULT_CLEAR,          /* no flash or line faults */
};

/* Counts and sizes: at least 1, and small enough that adding them to the
 * flash's 64-bit counters cannot wrap. */
#define SIMCTL_FAULT_MIN 1
#define SIMCTL_FAULT_MAX UINT32_MAX

struct simctl_fault_desc {
    const char *name; /* the word for it: "flash-cut" */
    enum simctl_fault kind;
    const char *arg; /* the value's name ("N", "BYTES"), NULL: it takes none */
    bool optional;   /* the value may be left out: 1 */
};

/* The fault called `name`, or NULL. */
const struct simctl_fault_desc *simctl_fault_find(const char *name);

/* Every fault with its value, from the one table: "flash-program [N] |
 * flash-erase [N] | flash-capacity BYTES | ... | clear", for usage messages. */
void simctl_fault_usage(char *buf, size_t size);

/* Arms (or, for CLEAR, disarms) a fault and publishes a "fault" event.
 * `value` is ignored by kinds that take none; -ERANGE unless it is from
 * SIMCTL_FAULT_MIN to SIMCTL_FAULT_MAX for the others. */
int simctl_fault(struct module *m, enum simctl_fault kind, int64_t value, char *why,
                 size_t why_size);

#endif
