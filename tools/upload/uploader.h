/* The host side of DFOTA over the UART of a Quectel BC66 / BC66-NA: the
 * package in numbered blocks with AT+QFUPLEX, each followed by its CRC-16,
 * then AT+QFOTADL=1 and its +QIND URCs to "END" (Quectel's BC66 DFOTA
 * application note, sections 3.2, 3.3 and 6.2).
 *
 * Self-contained on purpose: libc and POSIX only, no other file of bcsim, so
 * that these files can be lifted into host or MCU code as they are. It talks
 * over any file descriptor that reads and writes the module's AT port
 * (upl_serial_open gives one), prints nothing, reports what happens through a
 * callback and returns an upl_status. */
#ifndef UPL_UPLOADER_H
#define UPL_UPLOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPL_BLOCK_MIN       128 /* <blocksize>: 128, 256, ... 8192 */
#define UPL_BLOCK_MAX       8192
#define UPL_BLOCK_DEFAULT   4096
#define UPL_BLOCKS_MAX      65536 /* blocks in one package, at most */
#define UPL_TIMEOUT_MIN     1     /* <timeout> in seconds: 1-60, default 6 */
#define UPL_TIMEOUT_MAX     60
#define UPL_TIMEOUT_DEFAULT 6

/* CRC-16 as the module checks it: polynomial 0x1021, initial value 0, no
 * reflection, no final XOR (CRC-16/XMODEM; "123456789" gives 0x31C3).
 * Start with crc 0; continue over pieces by passing the last result. The
 * module wants it after the data LOW byte first. */
uint16_t upl_crc16(uint16_t crc, const void *data, size_t len);

enum upl_status {
    UPL_OK = 0,          /* uploaded, and updated with END,0 unless update is off */
    UPL_EIO,             /* reading or writing the device failed (result.sys_errno) */
    UPL_ENOANSWER,       /* the module does not answer AT */
    UPL_EREFUSED,        /* AT+QFUPLEX=? or AT+QFOTADL=1 is ERROR: no UART DFOTA here */
    UPL_EBLOCK,          /* a block failed on every try (result.block, result.why) */
    UPL_EUPDATE,         /* +QIND: "FOTA","END",<err> with err != 0 (result.end_err) */
    UPL_EUPDATE_TIMEOUT, /* no END within the update timeout */
    UPL_EINVAL           /* bad options or an empty or too large package */
};

enum upl_event_type {
    UPL_EV_BLOCK,    /* a block is written (what: "ok", or "assumed": see README) */
    UPL_EV_RETRY,    /* a try of a block failed (what: why), another follows */
    UPL_EV_ESCAPE,   /* AT+QFUPLEX=ESC sent (what: the answer, "ok", "error", "none") */
    UPL_EV_UPLOADED, /* every block written */
    UPL_EV_STATE,    /* a +QIND: "FOTA" state (what: "START", ...) or "RDY" */
    UPL_EV_PERCENT,  /* UPDATING <value>% */
    UPL_EV_END       /* +QIND: "FOTA","END",<value> */
};

struct upl_event {
    enum upl_event_type type;
    uint32_t block;   /* BLOCK, RETRY, ESCAPE: the block number */
    size_t offset;    /* its offset in the package */
    size_t len;       /* its data bytes */
    unsigned tries;   /* BLOCK: tries it took; RETRY: the try that failed */
    const char *what; /* see above */
    int value;        /* PERCENT: the percentage; END: the error code */
    size_t done;      /* package bytes acknowledged so far */
    size_t total;     /* package bytes */
};

typedef void (*upl_event_fn)(const struct upl_event *ev, void *ctx);

struct upl_options {
    unsigned block_size;       /* 128..8192, a power of two */
    unsigned timeout_s;        /* the <timeout> sent with each block, 1-60 */
    unsigned retries;          /* tries of one block after the first */
    bool update;               /* AT+QFOTADL=1 after the upload */
    unsigned update_timeout_s; /* from AT+QFOTADL=1 to END */
    unsigned baud;             /* line rate, to allow for the time a block takes on it */
    upl_event_fn event;        /* may be NULL */
    void *ctx;
};

/* The defaults above, a 300 s update timeout, 5 retries, 115200 baud. */
void upl_options_default(struct upl_options *o);

struct upl_result {
    enum upl_status status;
    uint32_t block;  /* EBLOCK: the block that failed */
    const char *why; /* EBLOCK: its last failure; EINVAL, EIO: what */
    int end_err;     /* EUPDATE: the module's error code */
    int sys_errno;   /* EIO */
};

/* Uploads pkg (len bytes) over fd and, if o->update, updates from it. fd
 * should be non-blocking (upl_serial_open's is); every wait is bounded. */
enum upl_status upl_run(int fd, const uint8_t *pkg, size_t len, const struct upl_options *o,
                        struct upl_result *r);

/* A short text for a status ("a block failed after all tries"). */
const char *upl_status_text(enum upl_status s);

#endif
