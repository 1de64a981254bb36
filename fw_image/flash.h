/* A NOR flash model: erase sets a whole sector to 0xFF, program can only clear
 * bits (programming over unerased data ANDs, as real NOR does, unless `strict`
 * refuses it), reads of any range. The fault points of the flash layer live
 * here: power cut after N operations (cleanly, or tearing the operation it
 * hits), program and erase failures, a capacity limit for the FOTA area.
 *
 * The memory is the caller's: a buffer for tests, a mapped file for the
 * emulator (flash_file.h), so that a kill -9 of bcsim is a real power cut. */
#ifndef BCSIM_FLASH_H
#define BCSIM_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum flash_error {
    FLASH_OK = 0,
    FLASH_EPOWER = -1,    /* the power is cut: nothing happens until restored */
    FLASH_EFAIL = -2,     /* the chip reported a program or erase failure */
    FLASH_ERANGE = -3,    /* outside the chip, or an erase not on a sector */
    FLASH_EUNERASED = -4, /* strict mode: programming bits that are not erased */
    FLASH_EFULL = -5,     /* beyond the capacity limit of the FOTA area */
};

/* Where things are; every region is sector-aligned. */
struct flash_geometry {
    uint32_t sector_size;
    uint32_t fw_offset, fw_size;           /* firmware image */
    uint32_t fota_offset, fota_size;       /* FOTA download area (the package) */
    uint32_t scratch_offset, scratch_size; /* sector 0 stages, the rest are stash slots */
    uint32_t journal_offset, journal_size; /* the update journal */
    uint32_t total_size;
};

enum flash_cut_mode {
    FLASH_CUT_CLEAN, /* the operation hit by the cut does not happen at all */
    FLASH_CUT_TORN,  /* it half happens: half the bytes programmed, half the sector erased */
};

struct flash_faults {
    uint64_t cut_after; /* cut the power when this many operations are done (0: never) */
    enum flash_cut_mode cut_mode;
    uint64_t fail_program_at; /* this program operation (1-based count of programs) fails */
    uint64_t fail_erase_at;   /* this erase operation fails */
    uint64_t worn_from;       /* this operation and every later one fails (a worn-out chip) */
    uint32_t fota_capacity;   /* bytes of the FOTA area usable (0: all of it) */
    bool strict;              /* refuse programming over unerased bits */
};

struct flash_counters {
    uint64_t ops; /* programs + erases: the unit of a cut point */
    uint64_t programs, erases, reads;
    uint64_t bytes_programmed, bytes_read;
};

struct flash {
    uint8_t *mem;
    struct flash_geometry geo;
    struct flash_faults faults;
    struct flash_counters count;
    uint32_t *erase_count; /* per sector, caller's array of total_size / sector_size */
    bool powered;
    uint32_t noise; /* state of the generator for torn garbage */
};

/* Checks the geometry (alignment, overlaps, power-of-two sector). */
int flash_geometry_check(const struct flash_geometry *geo);

void flash_init(struct flash *f, uint8_t *mem, const struct flash_geometry *geo,
                uint32_t *erase_count);

int flash_read(struct flash *f, uint32_t addr, void *buf, uint32_t len);
int flash_program(struct flash *f, uint32_t addr, const void *buf, uint32_t len);
int flash_erase(struct flash *f, uint32_t addr); /* the sector at addr */

/* Erases and programs a whole sector: the common "write a sector" pair. */
int flash_write_sector(struct flash *f, uint32_t addr, const void *buf, uint32_t len);

/* Bytes of the FOTA area that can be written (its size, or the capacity fault). */
uint32_t flash_fota_room(const struct flash *f);

/* SHA-256 of [addr, addr+len), read in small pieces (no buffer needed). */
int flash_sha256(struct flash *f, uint32_t addr, uint32_t len, uint8_t out[32]);

/* Power comes back: operations work again. A cut that happened is disarmed;
 * one still waiting for its operation stays armed. */
void flash_power_restore(struct flash *f);

const char *flash_strerror(int err);

#endif
