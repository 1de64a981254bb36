/* Applies a delta package in place, one sector per step, resumable after a
 * power cut at any instant (FORMAT.md, "Applying in place"). Streaming: the
 * package is read from the FOTA area, the source straight from the firmware
 * region, and all state, decoders included, lives in struct patch: no malloc. */
#ifndef BCSIM_PATCH_H
#define BCSIM_PATCH_H

#include "fw_image/flash.h"
#include "fw_image/journal.h"
#include "fw_image/lzma2_dec.h"
#include "fw_image/pkg_format.h"

#include <stdbool.h>
#include <stdint.h>

#define PATCH_SECTOR_MAX  4096
#define PATCH_SLOTS_MAX   64
#define PATCH_SECTORS_MAX 4096        /* firmware region, in sectors */
#define PATCH_RAM_MAX     (64 * 1024) /* the largest updater RAM a profile may give */
#define PATCH_ARENA_SIZE  PATCH_RAM_MAX
#define PATCH_INBUF       512

enum patch_status {
    PATCH_DONE = 0,       /* the update is complete and the target checks */
    PATCH_MORE = 1,       /* call patch_step again */
    PATCH_IDLE = 2,       /* patch_resume: no update was in progress */
    PATCH_EINVALID = -1,  /* the package is damaged or inconsistent (update_err 255) */
    PATCH_EMISMATCH = -2, /* for another model or another source image (254) */
    PATCH_EFLASH = -3,    /* the flash failed (why says how) */
    PATCH_EPOWER = -4,    /* the power was cut: resume at the next boot */
};

struct patch_decoder {
    struct lz_dec lz;
    struct flash *flash;
    uint32_t next, end; /* packed bytes still in flash: [next, end) */
    int flash_err;
};

struct patch_run { /* what is left of the control triple being carried out */
    uint32_t add, copy, seek;
    bool exact;
};

struct patch {
    struct flash *flash;
    uint32_t pkg_offset, pkg_len;
    struct pkg_header hdr;
    struct journal journal;
    struct patch_decoder dec[PKG_STREAMS];
    uint32_t step;                          /* the next step to perform */
    int64_t last_target;                    /* target sector of the previous step, or -1 */
    uint32_t pos;                           /* source position of the control stream */
    struct patch_run run;                   /* the triple in progress */
    uint32_t slots;                         /* stash slots of this device */
    uint16_t stash[PATCH_SLOTS_MAX];        /* source sector each slot holds, 0xffff none */
    uint8_t written[PATCH_SECTORS_MAX / 8]; /* target sectors already written */
    uint8_t sector[PATCH_SECTOR_MAX];       /* the target sector being computed */
    uint8_t chunk[256];                     /* source bytes of an add run, a piece at a time */
    size_t arena_used;
    _Alignas(16) uint8_t arena[PATCH_ARENA_SIZE];
    char why[160];
};

/* Reads and checks the package at [offset, offset+len) of the FOTA area
 * before anything is written: header, body SHA-256, fit in this flash, model,
 * the updater RAM it needs against the module's `ram` bytes, and (unless it
 * is a full image) the SHA-256 of the image now in the firmware region. */
int patch_check(struct patch *p, struct flash *f, uint32_t offset, uint32_t len, const char *model,
                uint32_t ram);

/* The part of patch_check that needs no image: the package's header, length,
 * fit in this flash and body SHA-256 (host tools that have no base image). */
int patch_check_package(struct patch *p, struct flash *f, uint32_t offset, uint32_t len);

/* Starts the update that patch_check accepted: erases the journal, writes
 * its first record. PATCH_MORE on success. */
int patch_start(struct patch *p);

/* At boot: is an update in the journal? PATCH_IDLE if not; PATCH_MORE with p
 * positioned at the step to redo; PATCH_DONE if it finished (end record). */
int patch_resume(struct patch *p, struct flash *f, uint32_t offset, uint32_t len);

/* Performs one step. PATCH_MORE, PATCH_DONE, or an error. */
int patch_step(struct patch *p);

/* 0..100, from the steps written; the same after a resume. */
unsigned patch_percent(const struct patch *p);

/* After PATCH_DONE has been reported: forget the update (erase the journal). */
int patch_finish(struct patch *p);

/* Bytes of RAM the applier needs whatever the package: the struct without
 * its arena. */
size_t patch_fixed_memory(void);

/* Bytes of RAM the apply of a package with this header needs: the struct
 * without its arena, and the decoders' tables and dictionaries. */
size_t patch_memory_needed(const struct pkg_header *h);

/* Bytes of memory this package's apply uses: the struct without the part of
 * the arena it leaves unused. */
size_t patch_memory_used(const struct patch *p);

#endif
