/* The update journal: append-only 16-byte records in erased flash, each with
 * its CRC, so a record torn by a power cut reads as absent and the next one
 * goes to the next erased slot. */
#ifndef BCSIM_JOURNAL_H
#define BCSIM_JOURNAL_H

#include "fw_image/flash.h"

#include <stdint.h>

#define JOURNAL_RECORD_SIZE 16

enum journal_type {
    JOURNAL_BEGIN = 1,  /* a = steps, b = first 4 bytes of the body's SHA-256 */
    JOURNAL_STAGED = 3, /* a = target sector, b = CRC-32 of the staged sector */
    JOURNAL_DONE = 4,   /* a = target sector */
    JOURNAL_END = 5,    /* a = steps */
};

struct journal_record {
    uint8_t type;
    uint16_t step;
    uint32_t a, b;
};

struct journal {
    struct flash *flash;
    uint32_t offset, size;
    uint32_t next; /* offset of the next erased record slot, or size if full */
    struct journal_record last;
    int have_last;
};

/* Scans the journal region; `last` is the last valid record, if any. */
int journal_open(struct journal *j, struct flash *f, uint32_t offset, uint32_t size);
int journal_erase(struct journal *j);
int journal_append(struct journal *j, const struct journal_record *r);

/* Finds the last valid record of `type` (for a given step when step >= 0). */
int journal_find(const struct journal *j, uint8_t type, int step, struct journal_record *out);

#endif
