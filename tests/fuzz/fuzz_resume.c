/* Fuzz target: a good package is being applied when the power is cut after a
 * number of flash operations the input chooses (cleanly or tearing the
 * operation it hits); then the input may overwrite part of the journal and/or
 * of a scratch slot (staging or stash), as flash decay or a stray write
 * would; then the module reboots and resumes. If that fails, it reboots and
 * resumes once more, as a module would on its next boot.
 *
 * Properties: no crash, hang or out-of-bounds access; PATCH_DONE only with the
 * firmware region equal to the target, on either boot; any error with a
 * reason; and, when nothing was overwritten, the resume must finish the
 * update (a power cut alone may never lose it).
 *
 * Input layout (missing bytes read as zero):
 *   0      package variant (mod FZ_VARIANTS)
 *   1..2   flash operations before the cut (le16; the apply takes a few hundred)
 *   3      bit 0 torn cut, bit 1 hit the journal, bit 2 hit a scratch slot,
 *          bit 3 AND the bytes in (what programming does) instead of replacing,
 *          bit 4 give the journal records hit a valid CRC: random bytes almost
 *          never make one, and without it the fuzzer stays at the CRC check
 *          instead of reaching what the applier does with the records
 *   4..5   offset into the journal region (le16, mod its size)
 *   6      scratch slot (mod FZ_SCRATCH_SECTORS; 0 is staging)
 *   7..8   offset into that slot (le16, mod the sector size)
 *   9..    the bytes written: the first half to the journal, the rest to the
 *          slot (all of them to whichever is the only one hit)
 *
 * A known limitation (crashes/README.md): patch_resume takes a valid end
 * record at its word, so an end record forged with bit 4 yields PATCH_DONE
 * over an unfinished image. With FUZZ_ALLOW_FORGED_END=1 in the environment
 * that one case is let through, so that a run can go on looking for others. */
#include "tests/fuzz/fuzz_common.h"

#include "fw_image/bytes.h"
#include "fw_image/crc32.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HEAD 9

enum { CUT_TORN = 1, HIT_JOURNAL = 2, HIT_SCRATCH = 4, HIT_AND = 8, SIGN_RECORDS = 16 };

static struct patch patcher;
static bool forged_end; /* this run signed an end record into the journal */
static uint8_t target[FZ_VARIANTS][FZ_IMAGE_MAX];
static size_t target_len[FZ_VARIANTS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct plan {
    enum fz_variant variant;
    uint32_t cut_ops;
    unsigned flags;
    uint32_t journal_at, slot, slot_at;
    const uint8_t *bytes;
    size_t n_journal, n_scratch;
};

static void parse(const uint8_t *data, size_t size, struct plan *pl)
{
    uint8_t head[HEAD] = {0};
    memcpy(head, data, size < HEAD ? size : HEAD);
    const struct flash_geometry *g = &fz.flash.geo;
    pl->variant = (enum fz_variant)(head[0] % FZ_VARIANTS);
    pl->cut_ops = get_le16(head + 1);
    pl->flags = head[3];
    pl->journal_at = get_le16(head + 4) % g->journal_size;
    pl->slot = head[6] % FZ_SCRATCH_SECTORS;
    pl->slot_at = get_le16(head + 7) % g->sector_size;
    pl->bytes = size > HEAD ? data + HEAD : data;
    size_t n = size > HEAD ? size - HEAD : 0;
    bool j = pl->flags & HIT_JOURNAL, s = pl->flags & HIT_SCRATCH;
    pl->n_journal = j ? (s ? n / 2 : n) : 0;
    pl->n_scratch = s ? n - pl->n_journal : 0;
}

/* Straight into the memory, as decay would: no erase-before-write rule. */
static void overwrite(uint32_t addr, uint32_t room, const uint8_t *bytes, size_t n, bool mask)
{
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++)
        fz.mem[addr + i] = mask ? fz.mem[addr + i] & bytes[i] : bytes[i];
}

/* Recomputes the CRC of every journal record that [at, at+n) touched. */
static void sign_records(uint32_t at, size_t n)
{
    const struct flash_geometry *g = &fz.flash.geo;
    uint32_t end = at + (uint32_t)n < g->journal_size ? at + (uint32_t)n : g->journal_size;
    for (uint32_t r = at - at % JOURNAL_RECORD_SIZE; r < end; r += JOURNAL_RECORD_SIZE) {
        uint8_t *rec = fz.mem + g->journal_offset + r;
        put_le32(rec + 12, crc32_update(0, rec, 12));
        forged_end = forged_end || rec[0] == JOURNAL_END;
    }
}

static void damage(const struct plan *pl)
{
    const struct flash_geometry *g = &fz.flash.geo;
    bool mask = pl->flags & HIT_AND;
    overwrite(g->journal_offset + pl->journal_at, g->journal_size - pl->journal_at, pl->bytes,
              pl->n_journal, mask);
    if ((pl->flags & SIGN_RECORDS) && pl->n_journal > 0)
        sign_records(pl->journal_at, pl->n_journal);
    overwrite(g->scratch_offset + pl->slot * g->sector_size + pl->slot_at,
              g->sector_size - pl->slot_at, pl->bytes + pl->n_journal, pl->n_scratch, mask);
}

/* Applies until the cut (or the end, if the cut comes later than that). */
static void apply_until_cut(const struct plan *pl, size_t pkg_len)
{
    const struct flash_geometry *g = &fz.flash.geo;
    memset(&patcher, 0, sizeof patcher);
    if (patch_check(&patcher, &fz.flash, g->fota_offset, (uint32_t)pkg_len, FZ_MODEL, FZ_RAM) != 0)
        __builtin_trap(); /* a generator-made package: the set-up is broken */
    fz.flash.faults.cut_after = fz.flash.count.ops + 1 + pl->cut_ops;
    fz.flash.faults.cut_mode = (pl->flags & CUT_TORN) ? FLASH_CUT_TORN : FLASH_CUT_CLEAN;
    int r = fz_run_steps(&patcher, patch_start(&patcher));
    if (r != PATCH_DONE && r != PATCH_EPOWER)
        __builtin_trap();
    flash_power_restore(&fz.flash);
}

static bool is_target(enum fz_variant v)
{
    return memcmp(fz.mem + fz.flash.geo.fw_offset, target[v], target_len[v]) == 0;
}

static bool is_source(void)
{
    size_t len;
    const uint8_t *src = fz_source(&len);
    return memcmp(fz.mem + fz.flash.geo.fw_offset, src, len) == 0;
}

static bool allow_forged_end(void)
{
    static int allow = -1;
    if (allow < 0) {
        const char *v = getenv("FUZZ_ALLOW_FORGED_END");
        allow = v && strcmp(v, "1") == 0;
    }
    return allow;
}

static int reboot_and_resume(const struct plan *pl, size_t pkg_len)
{
    memset(&patcher, 0, sizeof patcher); /* .bss is zero after a reset */
    const struct flash_geometry *g = &fz.flash.geo;
    int r = patch_resume(&patcher, &fz.flash, g->fota_offset, (uint32_t)pkg_len);
    r = fz_run_steps(&patcher, r);
    if (r < 0 && (patcher.why[0] == '\0' || memchr(patcher.why, 0, sizeof patcher.why) == NULL))
        __builtin_trap();
    if (r == PATCH_DONE && !is_target(pl->variant) && !(forged_end && allow_forged_end()))
        __builtin_trap(); /* "done" with the wrong firmware: the worst outcome */
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    struct plan pl;
    parse(data, size, &pl);
    forged_end = false;
    if (!target_len[pl.variant])
        target_len[pl.variant] = fz_target(pl.variant, target[pl.variant]);
    size_t pkg_len;
    const uint8_t *pkg = fz_package(pl.variant, &pkg_len);
    fz_reset();
    fz_install_package(pkg, pkg_len);
    apply_until_cut(&pl, pkg_len);
    damage(&pl);

    int r = reboot_and_resume(&pl, pkg_len);
    if (r < 0)
        r = reboot_and_resume(&pl, pkg_len);
    bool damaged = pl.n_journal > 0 || pl.n_scratch > 0;
    if (!damaged && r != PATCH_DONE && !(r == PATCH_IDLE && is_source()))
        __builtin_trap(); /* a power cut alone lost the update */
    return 0;
}
