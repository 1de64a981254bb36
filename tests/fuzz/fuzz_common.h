/* Shared set-up of the fuzz targets: a small RAM flash on static buffers, a
 * fixed source image, target images derived from it, and the packages of the
 * seed corpus. Everything is built once per process; a run only copies a
 * pristine snapshot back, so no run allocates. */
#ifndef BCSIM_FUZZ_COMMON_H
#define BCSIM_FUZZ_COMMON_H

#include "fw_image/flash.h"
#include "fw_image/patch.h"

#include <stddef.h>
#include <stdint.h>

/* Small on purpose: a run restores the whole flash, and a plan of ~40 steps
 * still needs stashing and several journal sectors. */
#define FZ_SECTOR          512
#define FZ_FW_SECTORS      64
#define FZ_FOTA_SECTORS    64
#define FZ_SCRATCH_SECTORS 8 /* staging + 7 stash slots */
#define FZ_JOURNAL_SECTORS 16
#define FZ_TOTAL_SECTORS   (FZ_FW_SECTORS + FZ_FOTA_SECTORS + FZ_SCRATCH_SECTORS + FZ_JOURNAL_SECTORS)
#define FZ_TOTAL           (FZ_TOTAL_SECTORS * FZ_SECTOR)
#define FZ_FW_SIZE         (FZ_FW_SECTORS * FZ_SECTOR)
#define FZ_FOTA_SIZE       (FZ_FOTA_SECTORS * FZ_SECTOR)
#define FZ_STASH_SLOTS     (FZ_SCRATCH_SECTORS - 1)

#define FZ_MODEL        "bc66"
#define FZ_RAM          (64 * 1024) /* the bc66 updater's RAM (profile.c) */
#define FZ_SRC_REVISION "BC66NBR01A07"
#define FZ_PAYLOAD      (20 * 1024)
#define FZ_IMAGE_MAX    FZ_FW_SIZE

/* Target variants: each stresses another part of the plan or the streams. */
enum fz_variant {
    FZ_EDITS,  /* scattered small changes: mostly add runs */
    FZ_INSERT, /* bytes inserted early: everything after moves forward */
    FZ_DELETE, /* bytes removed: everything after moves back */
    FZ_GROW,   /* new code appended: more target sectors than source ones */
    FZ_SWAP,   /* two blocks exchanged: needs the stash */
    FZ_FULL,   /* FZ_EDITS as a full-image package */
    FZ_VARIANTS
};

struct fz_flash {
    struct flash flash;
    uint8_t mem[FZ_TOTAL];
    uint32_t erase_count[FZ_TOTAL_SECTORS];
};

extern struct fz_flash fz;

/* Builds the source image and the pristine flash (source installed, all else
 * erased). Idempotent: the first call does the work. */
void fz_setup(void);

/* Puts the flash back to its pristine state: memory, counters, faults, power. */
void fz_reset(void);

/* The source image as installed. */
const uint8_t *fz_source(size_t *len);

/* Writes target image `variant` into out (at least FZ_IMAGE_MAX bytes);
 * returns its size. */
size_t fz_target(enum fz_variant variant, uint8_t *out);

/* The revision written into target `variant`. */
const char *fz_target_revision(enum fz_variant variant);

/* File name stem of a variant in the seed corpus: "edits", "insert"... */
const char *fz_variant_name(enum fz_variant variant);

/* Package from the source to target `variant`: corpus_package/NAME.pkg, as
 * make_seeds wrote it with the project's generator. Read from the committed
 * file rather than made at start-up, so that a reproducer keeps meaning the
 * same thing while the generator changes. Cached; traps if it cannot be read,
 * since every later check would be meaningless. */
const uint8_t *fz_package(enum fz_variant variant, size_t *len);

/* Erases the FOTA area and programs data into it. */
void fz_install_package(const uint8_t *data, size_t len);

/* Steps an update that is under way until it ends; at most steps + 2 calls,
 * since each call either finishes a step or fails. Traps if it is still not
 * over then (a loop that would hang a device). */
int fz_run_steps(struct patch *p, int r);

#endif
