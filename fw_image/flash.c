#include "fw_image/flash.h"

#include "fw_image/sha256.h"

#include <string.h>

int flash_geometry_check(const struct flash_geometry *g)
{
    uint32_t s = g->sector_size;
    if (s < 256 || (s & (s - 1)) != 0 || g->total_size % s != 0)
        return FLASH_ERANGE;
    const uint32_t regions[4][2] = {{g->fw_offset, g->fw_size},
                                    {g->fota_offset, g->fota_size},
                                    {g->scratch_offset, g->scratch_size},
                                    {g->journal_offset, g->journal_size}};
    for (int i = 0; i < 4; i++) {
        if (regions[i][0] % s || regions[i][1] % s || regions[i][1] == 0 ||
            regions[i][0] > g->total_size || regions[i][1] > g->total_size - regions[i][0])
            return FLASH_ERANGE;
        for (int j = 0; j < i; j++)
            if (regions[i][0] < regions[j][0] + regions[j][1] &&
                regions[j][0] < regions[i][0] + regions[i][1])
                return FLASH_ERANGE;
    }
    if (g->scratch_size < 2 * s)
        return FLASH_ERANGE; /* a staging sector and at least one stash slot */
    return FLASH_OK;
}

void flash_init(struct flash *f, uint8_t *mem, const struct flash_geometry *geo,
                uint32_t *erase_count)
{
    memset(f, 0, sizeof *f);
    f->mem = mem;
    f->geo = *geo;
    f->erase_count = erase_count;
    f->powered = true;
    f->noise = 0x9e3779b9u;
}

void flash_power_restore(struct flash *f)
{
    if (!f->powered)
        f->faults.cut_after = 0; /* the cut happened: disarm it */
    f->powered = true;
}

static bool in_range(const struct flash *f, uint32_t addr, uint32_t len)
{
    return addr <= f->geo.total_size && len <= f->geo.total_size - addr;
}

uint32_t flash_fota_room(const struct flash *f)
{
    uint32_t cap = f->faults.fota_capacity;
    return cap && cap < f->geo.fota_size ? cap : f->geo.fota_size;
}

/* FOTA capacity: a limit set below the area's size makes the rest unwritable. */
static bool beyond_capacity(const struct flash *f, uint32_t addr, uint32_t len)
{
    const struct flash_geometry *g = &f->geo;
    uint32_t room = flash_fota_room(f);
    if (room == g->fota_size || len == 0)
        return false;
    uint64_t end = (uint64_t)addr + len;
    return end > g->fota_offset + room && addr < g->fota_offset + g->fota_size;
}

static uint8_t noise_byte(struct flash *f)
{
    f->noise ^= f->noise << 13;
    f->noise ^= f->noise >> 17;
    f->noise ^= f->noise << 5;
    return (uint8_t)f->noise;
}

/* Counts an operation; true if the power cut hits this one. */
static bool cut_here(struct flash *f)
{
    f->count.ops++;
    if (f->faults.cut_after && f->count.ops > f->faults.cut_after) {
        f->powered = false;
        return true;
    }
    return false;
}

int flash_read(struct flash *f, uint32_t addr, void *buf, uint32_t len)
{
    if (!f->powered)
        return FLASH_EPOWER;
    if (!in_range(f, addr, len))
        return FLASH_ERANGE;
    memcpy(buf, f->mem + addr, len);
    f->count.reads++;
    f->count.bytes_read += len;
    return FLASH_OK;
}

/* Is operation number `n` of a kind whose failure is armed at `at` a failure? */
static bool fails(const struct flash *f, uint64_t n, uint64_t at)
{
    return (at && n == at) || (f->faults.worn_from && f->count.ops >= f->faults.worn_from);
}

/* A word at a time: the byte loop this replaces ran at one byte per several
 * cycles (f->mem reloaded per byte, since a byte store may alias it, and not
 * vectorised at -O2), a quarter of a download's time. memcpy keeps the
 * unaligned word accesses defined; the compiler makes them plain moves. */
static void program_bytes(struct flash *f, uint32_t addr, const uint8_t *src, uint32_t len)
{
    uint8_t *dst = f->mem + addr;
    size_t i = 0;
    for (; len - i >= sizeof(uint64_t); i += sizeof(uint64_t)) {
        uint64_t d, s;
        memcpy(&d, dst + i, sizeof d);
        memcpy(&s, src + i, sizeof s);
        d &= s;
        memcpy(dst + i, &d, sizeof d);
    }
    for (; i < len; i++)
        dst[i] &= src[i];
}

/* A program's checks, before it counts as an operation. Over a sector just
 * erased (`erased`) every bit may be cleared, so strict has nothing to check. */
static int program_allowed(const struct flash *f, uint32_t addr, const uint8_t *src, uint32_t len,
                           bool erased)
{
    if (!f->powered)
        return FLASH_EPOWER;
    if (!in_range(f, addr, len))
        return FLASH_ERANGE;
    if (beyond_capacity(f, addr, len))
        return FLASH_EFULL;
    if (f->faults.strict && !erased) {
        for (uint32_t i = 0; i < len; i++)
            if ((f->mem[addr + i] & src[i]) != src[i])
                return FLASH_EUNERASED;
    }
    return FLASH_OK;
}

/* A program counted as an operation: the power cut or the failure it meets,
 * if any. A torn cut programs the first half (the caller's memory must hold
 * the flash's contents by then). */
static int program_happens(struct flash *f, uint32_t addr, const uint8_t *src, uint32_t len,
                           bool tear)
{
    if (cut_here(f)) {
        if (tear && f->faults.cut_mode == FLASH_CUT_TORN)
            program_bytes(f, addr, src, len / 2);
        return FLASH_EPOWER;
    }
    f->count.programs++;
    if (fails(f, f->count.programs, f->faults.fail_program_at))
        return FLASH_EFAIL;
    return FLASH_OK;
}

int flash_program(struct flash *f, uint32_t addr, const void *buf, uint32_t len)
{
    int err = program_allowed(f, addr, buf, len, false);
    if (!err)
        err = program_happens(f, addr, buf, len, true);
    if (err)
        return err;
    program_bytes(f, addr, buf, len);
    f->count.bytes_programmed += len;
    return FLASH_OK;
}

/* An erase counted as an operation, the cut (torn or clean) or failure it
 * meets, but not the erasing: FLASH_OK leaves the sector to be set to 0xFF. */
static int erase_happens(struct flash *f, uint32_t addr)
{
    if (!f->powered)
        return FLASH_EPOWER;
    uint32_t s = f->geo.sector_size;
    if (addr % s || !in_range(f, addr, s))
        return FLASH_ERANGE;
    if (beyond_capacity(f, addr, s))
        return FLASH_EFULL;
    if (cut_here(f)) {
        if (f->faults.cut_mode == FLASH_CUT_TORN) {
            /* Half erased, and the other half neither old nor erased. */
            memset(f->mem + addr, 0xff, s / 2);
            for (uint32_t i = s / 2; i < s; i++)
                f->mem[addr + i] = noise_byte(f);
        }
        return FLASH_EPOWER;
    }
    f->count.erases++;
    if (fails(f, f->count.erases, f->faults.fail_erase_at))
        return FLASH_EFAIL;
    if (f->erase_count)
        f->erase_count[addr / s]++;
    return FLASH_OK;
}

int flash_erase(struct flash *f, uint32_t addr)
{
    int err = erase_happens(f, addr);
    if (!err)
        memset(f->mem + addr, 0xff, f->geo.sector_size);
    return err;
}

int flash_sha256(struct flash *f, uint32_t addr, uint32_t len, uint8_t out[SHA256_LEN])
{
    struct sha256 h;
    uint8_t chunk[256];
    sha256_init(&h);
    while (len > 0) {
        uint32_t k = len < sizeof chunk ? len : (uint32_t)sizeof chunk;
        int err = flash_read(f, addr, chunk, k);
        if (err)
            return err;
        sha256_update(&h, chunk, k);
        addr += k;
        len -= k;
    }
    sha256_final(&h, out);
    return FLASH_OK;
}

/* The erase and the program as two operations, each with its faults, as
 * flash_erase then flash_program would do them; but when both go through, the
 * memory is written once (the data, then 0xFF for the rest of the sector)
 * instead of set to 0xFF and then ANDed: half the passes of a download. */
int flash_write_sector(struct flash *f, uint32_t addr, const void *buf, uint32_t len)
{
    uint32_t s = f->geo.sector_size;
    if (len > s) { /* beyond its sector: the general path */
        int err = flash_erase(f, addr);
        return err ? err : flash_program(f, addr, buf, len);
    }
    int err = erase_happens(f, addr);
    if (err)
        return err;
    err = program_allowed(f, addr, buf, len, true);
    if (!err)
        err = program_happens(f, addr, buf, len, false);
    if (err) { /* erased, and the program stopped by its fault (half of it if torn) */
        memset(f->mem + addr, 0xff, s);
        if (err == FLASH_EPOWER && f->faults.cut_mode == FLASH_CUT_TORN && !f->powered)
            memcpy(f->mem + addr, buf, len / 2);
        return err;
    }
    memcpy(f->mem + addr, buf, len);
    memset(f->mem + addr + len, 0xff, s - len);
    f->count.bytes_programmed += len;
    return FLASH_OK;
}

const char *flash_strerror(int err)
{
    switch (err) {
    case FLASH_OK:
        return "ok";
    case FLASH_EPOWER:
        return "power cut";
    case FLASH_EFAIL:
        return "flash program/erase failure";
    case FLASH_ERANGE:
        return "flash address out of range";
    case FLASH_EUNERASED:
        return "programming over unerased flash";
    case FLASH_EFULL:
        return "FOTA area capacity exceeded";
    }
    return "unknown flash error";
}
