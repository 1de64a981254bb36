/* The flash model's rules, the FOTA sink, the journal, and the in-place
 * applier: round trips, refusals before the first write, and power cuts at
 * every operation. */
#include "tests/integration/suites.h"
#include "tests/unit/fw_fixture.h"
#include "fw_image/bytes.h"
#include "fw_image/journal.h"
#include "fw_image/patch.h"
#include "sim/fota_sink.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fx_flash fx;
static struct patch *pt;
static uint8_t old_img[FX_FW_SECTORS * FX_SECTOR], new_img[FX_FW_SECTORS * FX_SECTOR];
static uint8_t pkg[20 * FX_SECTOR];
static size_t old_len, new_len, pkg_len;

static void setup(void)
{
    pt = malloc(sizeof *pt);
    ck_assert_ptr_nonnull(pt);
    fx_flash_init(&fx);
}

static void teardown(void)
{
    free(pt);
}

/* ---- Flash rules ---------------------------------------------------------- */

START_TEST(erase_sets_ff_program_ands)
{
    struct flash *f = &fx.flash;
    uint8_t b[4] = {0xf0, 0x0f, 0x00, 0xff}, r[4];
    ck_assert_int_eq(flash_program(f, 0, b, 4), 0);
    ck_assert_int_eq(flash_read(f, 0, r, 4), 0);
    ck_assert_mem_eq(r, b, 4);
    uint8_t c[4] = {0x3c, 0x3c, 0xff, 0x00};
    ck_assert_int_eq(flash_program(f, 0, c, 4), 0); /* NOR: only clears bits */
    ck_assert_int_eq(flash_read(f, 0, r, 4), 0);
    ck_assert_mem_eq(r, ((uint8_t[]){0x30, 0x0c, 0x00, 0x00}), 4);
    ck_assert_int_eq(flash_erase(f, 0), 0);
    ck_assert_int_eq(flash_read(f, 0, r, 4), 0);
    ck_assert_mem_eq(r, ((uint8_t[]){0xff, 0xff, 0xff, 0xff}), 4);
    ck_assert_uint_eq(fx.erase_count[0], 1);
    ck_assert_uint_eq(f->count.ops, 3);
    ck_assert_uint_eq(f->count.bytes_programmed, 8);
    ck_assert_int_eq(flash_erase(f, 1), FLASH_ERANGE); /* not on a sector */
    ck_assert_int_eq(flash_read(f, FX_TOTAL - 1, r, 2), FLASH_ERANGE);
    ck_assert_int_eq(flash_program(f, FX_TOTAL, b, 1), FLASH_ERANGE);
}
END_TEST

/* Program works a word at a time: every start offset within a word and every
 * tail length must still AND exactly the bytes given, and no byte beside them. */
START_TEST(program_ands_at_any_alignment_and_length)
{
    struct flash *f = &fx.flash;
    static uint8_t old[3 * 64], src[64], want[3 * 64], got[3 * 64];
    for (uint32_t off = 0; off < 16; off++) {
        for (uint32_t len = 0; len <= 40; len++) {
            fx_random(old, sizeof old, off * 64 + len + 1);
            fx_random(src, sizeof src, off * 64 + len + 7000);
            ck_assert_int_eq(flash_erase(f, 0), 0);
            ck_assert_int_eq(flash_program(f, 0, old, sizeof old), 0);
            memcpy(want, old, sizeof want);
            for (uint32_t i = 0; i < len; i++)
                want[64 + off + i] &= src[i];
            ck_assert_int_eq(flash_program(f, 64 + off, src, len), 0);
            ck_assert_int_eq(flash_read(f, 0, got, sizeof got), 0);
            ck_assert_mem_eq(got, want, sizeof want);
        }
    }
}
END_TEST

/* flash_write_sector writes the memory once, not erase then program: under
 * every fault (a cut of either operation, clean or torn, a failure of either,
 * a worn chip, the capacity limit, strict) it must end as the pair would, in
 * the memory, the counters, the wear and the power. */
static void arm(struct flash *f, int fault)
{
    switch (fault) {
    case 1:
    case 2:
    case 3:
    case 4: /* cut the erase or the program, clean or torn */
        f->faults.cut_after = f->count.ops + (fault <= 2 ? 0 : 1);
        f->faults.cut_mode = fault % 2 ? FLASH_CUT_CLEAN : FLASH_CUT_TORN;
        break;
    case 5:
        f->faults.fail_erase_at = f->count.erases + 1;
        break;
    case 6:
        f->faults.fail_program_at = f->count.programs + 1;
        break;
    case 7:
        f->faults.worn_from = f->count.ops + 2; /* the program is the first worn one */
        break;
    case 8:
        f->faults.fota_capacity = FX_SECTOR; /* the FOTA area's second sector is out */
        break;
    case 9:
        f->faults.strict = true; /* over old data, but erased first */
        break;
    }
}

START_TEST(write_sector_is_erase_then_program)
{
    static struct fx_flash pair, one;
    static uint8_t data[FX_SECTOR];
    const uint32_t lens[] = {0, 1, 7, 100, FX_SECTOR - 1, FX_SECTOR};
    const uint32_t addrs[] = {FX_SECTOR, 33 * FX_SECTOR};
    for (int fault = 0; fault <= 9; fault++) {
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            for (size_t a = 0; a < 2; a++) {
                fx_flash_init(&pair);
                fx_random(pair.mem, sizeof pair.mem, (uint32_t)(fault * 100 + l * 10 + a));
                ck_assert_int_eq(flash_erase(&pair.flash, 0), 0); /* some history */
                one = pair;
                one.flash.mem = one.mem;
                one.flash.erase_count = one.erase_count;
                fx_random(data, sizeof data, (uint32_t)(fault + 50 * l + 7 * a + 1));
                arm(&pair.flash, fault);
                arm(&one.flash, fault);
                int want = flash_erase(&pair.flash, addrs[a]);
                if (want == 0)
                    want = flash_program(&pair.flash, addrs[a], data, lens[l]);
                int got = flash_write_sector(&one.flash, addrs[a], data, lens[l]);
                ck_assert_msg(got == want, "fault %d len %u: %d, not %d", fault, lens[l], got,
                              want);
                ck_assert_mem_eq(one.mem, pair.mem, sizeof one.mem);
                ck_assert_mem_eq(one.erase_count, pair.erase_count, sizeof one.erase_count);
                ck_assert_mem_eq(&one.flash.count, &pair.flash.count, sizeof one.flash.count);
                ck_assert_int_eq(one.flash.powered, pair.flash.powered);
                ck_assert_uint_eq(one.flash.noise, pair.flash.noise);
            }
        }
    }
}
END_TEST

START_TEST(strict_refuses_unerased)
{
    struct flash *f = &fx.flash;
    f->faults.strict = true;
    uint8_t b = 0x0f, c = 0xf0;
    ck_assert_int_eq(flash_program(f, 0, &b, 1), 0);
    ck_assert_int_eq(flash_program(f, 0, &c, 1), FLASH_EUNERASED);
    ck_assert_int_eq(flash_program(f, 0, &b, 1), 0); /* the same bits again are fine */
}
END_TEST

START_TEST(cuts_and_failures)
{
    struct flash *f = &fx.flash;
    uint8_t data[FX_SECTOR], r[FX_SECTOR];
    memset(data, 0, sizeof data);
    f->faults.cut_after = 1;
    f->faults.cut_mode = FLASH_CUT_TORN;
    ck_assert_int_eq(flash_program(f, 0, data, 8), 0);
    ck_assert_int_eq(flash_program(f, 8, data, 8), FLASH_EPOWER); /* torn: 4 of 8 */
    ck_assert_int_eq(flash_read(f, 0, r, 1), FLASH_EPOWER);       /* dead */
    flash_power_restore(f);
    ck_assert_int_eq(flash_read(f, 8, r, 8), 0);
    ck_assert_mem_eq(r, ((uint8_t[]){0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}), 8);

    ck_assert_int_eq(flash_program(f, FX_SECTOR, data, FX_SECTOR), 0);
    f->faults.cut_after = f->count.ops; /* the next operation is hit */
    ck_assert_int_eq(flash_erase(f, FX_SECTOR), FLASH_EPOWER);
    flash_power_restore(f);
    ck_assert_int_eq(flash_read(f, FX_SECTOR, r, FX_SECTOR), 0);
    for (int i = 0; i < FX_SECTOR / 2; i++)
        ck_assert_uint_eq(r[i], 0xff); /* the first half erased */
    int garbage = 0;
    for (int i = FX_SECTOR / 2; i < FX_SECTOR; i++)
        garbage += r[i] != 0x00 && r[i] != 0xff;
    ck_assert_int_gt(garbage, FX_SECTOR / 4); /* the rest neither old nor erased */

    f->faults.cut_after = f->count.ops;
    f->faults.cut_mode = FLASH_CUT_CLEAN;
    ck_assert_int_eq(flash_program(f, 2 * FX_SECTOR, data, 4), FLASH_EPOWER);
    flash_power_restore(f);
    ck_assert_int_eq(flash_read(f, 2 * FX_SECTOR, r, 4), 0);
    ck_assert_mem_eq(r, ((uint8_t[]){0xff, 0xff, 0xff, 0xff}), 4); /* clean: nothing */

    f->faults.fail_program_at = f->count.programs + 1;
    ck_assert_int_eq(flash_program(f, 3 * FX_SECTOR, data, 4), FLASH_EFAIL);
    ck_assert_int_eq(flash_program(f, 3 * FX_SECTOR, data, 4), 0);
    f->faults.fail_erase_at = f->count.erases + 1;
    ck_assert_int_eq(flash_erase(f, 3 * FX_SECTOR), FLASH_EFAIL);

    f->faults.fota_capacity = FX_SECTOR;
    uint32_t fota = f->geo.fota_offset;
    ck_assert_int_eq(flash_program(f, fota, data, FX_SECTOR), 0);
    ck_assert_int_eq(flash_program(f, fota + FX_SECTOR, data, 1), FLASH_EFULL);
    ck_assert_int_eq(flash_erase(f, fota + FX_SECTOR), FLASH_EFULL);
    ck_assert_int_eq(flash_program(f, 0, data, 1), 0); /* elsewhere unaffected */
}
END_TEST

/* ---- The FOTA sink ---------------------------------------------------------- */

/* What a transfer left: the sink, the flash and its counters. */
struct sink_end {
    int err;
    uint32_t written, buffered;
    uint8_t sector[FX_SECTOR];
    struct flash_counters count;
    uint8_t mem[FX_TOTAL];
};

/* Feeds `len` bytes in pieces of `piece` (the last one shorter), stopping at
 * the first error, then flushes; the flash fails as `fault` says. */
static void sink_run(struct sink_end *e, size_t piece, int fault, const uint8_t *data, size_t len)
{
    static struct fx_flash f;
    static struct fota_sink sink;
    fx_flash_init(&f);
    if (fault == 1)
        f.flash.faults.fail_program_at = 3;
    if (fault == 2)
        f.flash.faults.fail_erase_at = 5;
    if (fault == 3 || fault == 4) {
        f.flash.faults.cut_after = fault == 3 ? 6 : 7; /* the 4th erase, the 4th program */
        f.flash.faults.cut_mode = FLASH_CUT_TORN;
    }
    fota_sink_reset(&sink, &f.flash);
    e->err = 0;
    for (size_t at = 0; at < len && !e->err; at += piece)
        e->err = fota_sink_write(&sink, data + at, len - at < piece ? len - at : piece);
    if (!e->err)
        e->err = fota_sink_flush(&sink);
    e->written = sink.written;
    e->buffered = sink.buffered;
    memcpy(e->sector, sink.sector, sink.buffered);
    e->count = f.flash.count;
    memcpy(e->mem, f.mem, sizeof f.mem);
}

/* Whole sectors go to the flash from the caller's bytes, the rest through the
 * buffer: however the package comes cut, the sink does the same operations
 * and ends in the same state, failures included. */
START_TEST(sink_same_whatever_the_pieces)
{
    static uint8_t data[5000];
    static struct sink_end one_by_one, pieces;
    fx_random(data, sizeof data, 99);
    const size_t sizes[] = {7, FX_SECTOR - 1, FX_SECTOR, FX_SECTOR + 1, 1500, sizeof data};
    for (int fault = 0; fault <= 4; fault++) {
        memset(&one_by_one, 0, sizeof one_by_one);
        sink_run(&one_by_one, 1, fault, data, sizeof data);
        ck_assert_int_eq(one_by_one.err, fault ? (fault >= 3 ? FLASH_EPOWER : FLASH_EFAIL) : 0);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            memset(&pieces, 0, sizeof pieces);
            sink_run(&pieces, sizes[k], fault, data, sizeof data);
            ck_assert_msg(pieces.err == one_by_one.err, "fault %d, pieces of %zu", fault, sizes[k]);
            ck_assert_uint_eq(pieces.written, one_by_one.written);
            ck_assert_uint_eq(pieces.buffered, one_by_one.buffered);
            ck_assert_mem_eq(pieces.sector, one_by_one.sector, pieces.buffered);
            ck_assert_mem_eq(&pieces.count, &one_by_one.count, sizeof pieces.count);
            ck_assert_mem_eq(pieces.mem, one_by_one.mem, sizeof pieces.mem);
        }
    }
    /* The last fault cut the 4th program: three sectors were written. */
    ck_assert_uint_eq(one_by_one.written, 3 * FX_SECTOR);
}
END_TEST

START_TEST(geometry_checks)
{
    struct flash_geometry g = fx.flash.geo;
    ck_assert_int_eq(flash_geometry_check(&g), 0);
    g.fota_offset = g.fw_offset + FX_SECTOR; /* overlaps the firmware */
    ck_assert_int_eq(flash_geometry_check(&g), FLASH_ERANGE);
    g = fx.flash.geo;
    g.sector_size = 500;
    ck_assert_int_eq(flash_geometry_check(&g), FLASH_ERANGE);
    g = fx.flash.geo;
    g.scratch_size = FX_SECTOR;
    ck_assert_int_eq(flash_geometry_check(&g), FLASH_ERANGE);
}
END_TEST

/* ---- Journal -------------------------------------------------------------- */

START_TEST(journal_torn_record_reads_absent)
{
    struct flash *f = &fx.flash;
    struct journal j;
    ck_assert_int_eq(journal_open(&j, f, f->geo.journal_offset, f->geo.journal_size), 0);
    ck_assert_int_eq(j.have_last, 0);
    struct journal_record r = {.type = JOURNAL_BEGIN, .a = 7, .b = 9};
    ck_assert_int_eq(journal_append(&j, &r), 0);
    r = (struct journal_record){.type = JOURNAL_DONE, .step = 3, .a = 5};
    f->faults.cut_after = f->count.ops;
    f->faults.cut_mode = FLASH_CUT_TORN;
    ck_assert_int_eq(journal_append(&j, &r), FLASH_EPOWER);
    flash_power_restore(f);
    ck_assert_int_eq(journal_open(&j, f, f->geo.journal_offset, f->geo.journal_size), 0);
    ck_assert_int_eq(j.last.type, JOURNAL_BEGIN);       /* the torn one is not there */
    ck_assert_uint_eq(j.next, 2 * JOURNAL_RECORD_SIZE); /* and its slot is not reused */
    ck_assert_int_eq(journal_append(&j, &r), 0);
    ck_assert_int_eq(journal_open(&j, f, f->geo.journal_offset, f->geo.journal_size), 0);
    ck_assert_int_eq(j.last.type, JOURNAL_DONE);
    ck_assert_uint_eq(j.last.step, 3);
    struct journal_record found;
    ck_assert_int_eq(journal_find(&j, JOURNAL_BEGIN, -1, &found), 0);
    ck_assert_uint_eq(found.a, 7);
    ck_assert_int_eq(journal_find(&j, JOURNAL_END, -1, &found), 1);
}
END_TEST

/* ---- Applying ------------------------------------------------------------- */

static void make_images(uint32_t old_payload, uint32_t new_payload, uint32_t seed)
{
    static uint8_t a[FX_FW_SECTORS * FX_SECTOR], b[FX_FW_SECTORS * FX_SECTOR];
    fx_random(a, old_payload, seed);
    memcpy(b, a, old_payload < new_payload ? old_payload : new_payload);
    fx_random(b + new_payload / 3, new_payload / 5, seed + 1); /* a changed middle */
    old_len = fx_image(old_img, sizeof old_img, "bc66", "BC66NBR01A07", a, old_payload);
    new_len = fx_image(new_img, sizeof new_img, "bc66", "BC66NBR01A08", b, new_payload);
}

static void install(void)
{
    fx_flash_init(&fx);
    fx_install_image(&fx, old_img, old_len);
    fx_install_package(&fx, pkg, pkg_len);
}

static bool target_in_flash(void)
{
    return memcmp(fx.mem + fx.flash.geo.fw_offset, new_img, new_len) == 0;
}

/* Runs an update from the start; returns the status that stopped it. */
static int run_update(void)
{
    int r = patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66",
                        PATCH_RAM_MAX);
    if (r)
        return r;
    r = patch_start(pt);
    while (r == PATCH_MORE)
        r = patch_step(pt);
    return r;
}

static bool source_in_flash(void)
{
    return memcmp(fx.mem + fx.flash.geo.fw_offset, old_img, old_len) == 0;
}

/* One boot: resume what the journal says, or, if the cut came before the
 * update began, find the old image intact and start again. */
static int boot_and_update(void)
{
    int r = patch_resume(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len);
    if (r == PATCH_IDLE) {
        ck_assert_msg(source_in_flash(), "no update recorded, yet the image changed");
        r = patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66",
                        PATCH_RAM_MAX);
        if (r == 0)
            r = patch_start(pt);
    }
    while (r == PATCH_MORE)
        r = patch_step(pt);
    return r;
}

/* Boots until the update finishes; returns the number of boots it took. */
static int resume_until_done(void)
{
    for (int boots = 1; boots < 100; boots++) {
        flash_power_restore(&fx.flash);
        int r = boot_and_update();
        if (r == PATCH_DONE)
            return boots;
        ck_assert_msg(r == PATCH_EPOWER, "resume failed: %d %s", r, pt->why);
    }
    ck_abort_msg("update never finished");
    return -1;
}

START_TEST(full_package_round_trip)
{
    make_images(9000, 11000, 1);
    pkg_len = fx_full_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len);
    install();
    ck_assert_int_eq(run_update(), PATCH_DONE);
    ck_assert(target_in_flash());
    ck_assert_uint_eq(patch_percent(pt), 100);
    /* A boot afterwards sees the finished update, until it is forgotten. */
    ck_assert_int_eq(patch_resume(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len),
                     PATCH_DONE);
    ck_assert_int_eq(patch_finish(pt), 0);
    ck_assert_int_eq(patch_resume(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len),
                     PATCH_IDLE);
    size_t used = patch_memory_used(pt);
    ck_assert_uint_lt(used, sizeof *pt);
    fprintf(stderr, "patch: apply memory %zu bytes (struct %zu, decoders %zu)\n", used,
            sizeof *pt - sizeof pt->arena, pt->arena_used);
}
END_TEST

/* Target = source rotated by one sector, ascending: step 0 overwrites the
 * sector that the last step needs, so the plan stashes it first. */
static void make_rotation_package(bool with_stash)
{
    static uint8_t a[8 * FX_SECTOR - IMG_HEADER_SIZE];
    fx_random(a, sizeof a, 77);
    old_len = fx_image(old_img, sizeof old_img, "bc66", "BC66NBR01A07", a, sizeof a);
    memcpy(new_img, old_img + FX_SECTOR, 7 * FX_SECTOR);
    memcpy(new_img + 7 * FX_SECTOR, old_img, FX_SECTOR);
    new_len = 8 * FX_SECTOR; /* not an image: the applier does not care, the module does */
    uint8_t ctrl[128], diff[4 * FX_SECTOR] = {0};
    size_t cl = 0;
    for (uint32_t t = 0; t < 8; t++) {
        cl += varint_put(ctrl + cl, 0); /* the next target sector */
        cl += varint_put(ctrl + cl, t == 0 && with_stash ? 1 : 0);
        if (t == 0 && with_stash) {
            cl += varint_put(ctrl + cl, 0); /* source sector 0 */
            cl += varint_put(ctrl + cl, 2); /* into slot 2 */
        }
        if (t == 0) {
            cl += varint_put(ctrl + cl, 0); /* start at source sector 1 */
            cl += varint_put(ctrl + cl, 0);
            cl += varint_put(ctrl + cl, zigzag_encode(FX_SECTOR));
        }
        /* even steps exact, odd ones with (zero) diff bytes: both kinds of add */
        cl += varint_put(ctrl + cl, FX_SECTOR << 1 | (t % 2 == 0));
        cl += varint_put(ctrl + cl, 0);
        cl += varint_put(ctrl + cl, zigzag_encode(t == 6 ? -8 * FX_SECTOR : 0));
    }
    struct fx_pkg_parts parts = {
        .stream = {ctrl, diff, (const uint8_t *)""},
        .stream_len = {cl, sizeof diff, 0},
        .stash_slots = 3,
    };
    pkg_len = fx_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len, &parts);
}

/* One triple for the whole image: an exact add of the source, then 50 new
 * bytes, running on from step to step (plan entries come between). */
static void make_spanning_package(void)
{
    make_images(12000, 12000, 9);
    uint32_t keep = (uint32_t)new_len - 50;
    memcpy(new_img, old_img, keep);
    uint8_t ctrl[64];
    size_t cl = 0;
    cl += varint_put(ctrl + cl, 0); /* step 0: the first sector, no stash */
    cl += varint_put(ctrl + cl, 0);
    cl += varint_put(ctrl + cl, keep << 1 | 1);
    cl += varint_put(ctrl + cl, 50);
    cl += varint_put(ctrl + cl, 0);
    for (size_t t = 1; t < (new_len + FX_SECTOR - 1) / FX_SECTOR; t++) {
        cl += varint_put(ctrl + cl, 0);
        cl += varint_put(ctrl + cl, 0);
    }
    struct fx_pkg_parts parts = {
        .stream = {ctrl, (const uint8_t *)"", new_img + keep},
        .stream_len = {cl, 0, 50},
    };
    pkg_len = fx_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len, &parts);
}

START_TEST(a_triple_runs_on_across_steps)
{
    make_spanning_package();
    install();
    ck_assert_int_eq(run_update(), PATCH_DONE);
    ck_assert(target_in_flash());
    /* the same triple with one byte more than the target has */
    uint8_t ctrl[64];
    size_t cl = 0;
    cl += varint_put(ctrl + cl, 0);
    cl += varint_put(ctrl + cl, 0);
    cl += varint_put(ctrl + cl, ((uint32_t)new_len - 50) << 1 | 1);
    cl += varint_put(ctrl + cl, 51);
    cl += varint_put(ctrl + cl, 0);
    for (size_t t = 1; t < (new_len + FX_SECTOR - 1) / FX_SECTOR; t++) {
        cl += varint_put(ctrl + cl, 0);
        cl += varint_put(ctrl + cl, 0);
    }
    struct fx_pkg_parts parts = {
        .stream = {ctrl, (const uint8_t *)"", new_img + new_len - 51},
        .stream_len = {cl, 0, 51},
    };
    pkg_len = fx_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len, &parts);
    install();
    ck_assert_int_eq(run_update(), PATCH_EINVALID);
    ck_assert_msg(strstr(pt->why, "past the end of the target"), "%s", pt->why);
}
END_TEST

START_TEST(stash_makes_rotation_possible)
{
    make_rotation_package(true);
    install();
    ck_assert_int_eq(run_update(), PATCH_DONE);
    ck_assert(target_in_flash());
}
END_TEST

START_TEST(reading_an_overwritten_sector_is_refused)
{
    make_rotation_package(false);
    install();
    ck_assert_int_eq(run_update(), PATCH_EINVALID);
    ck_assert_msg(strstr(pt->why, "after overwriting it"), "%s", pt->why);
}
END_TEST

/* Every refusal happens before the first write. */
START_TEST(refusals_before_writing)
{
    make_images(6000, 6000, 3);
    pkg_len = fx_full_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len);
    install();
    uint64_t before = fx.flash.count.ops;
    ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len,
                                 "bc260y-cn", PATCH_RAM_MAX),
                     PATCH_EMISMATCH);
    ck_assert_msg(strstr(pt->why, "package is for bc66"), "%s", pt->why);

    /* A delta (not full) package checks the source image. */
    struct pkg_header h;
    ck_assert_int_eq(pkg_header_read(pkg, pkg_len, &h), 0);
    h.flags = 0;
    h.src_sha256[0] ^= 1;
    ck_assert_uint_eq(pkg_header_write(&h, pkg), h.header_len);
    install();
    before = fx.flash.count.ops;
    ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66",
                                 PATCH_RAM_MAX),
                     PATCH_EMISMATCH);
    ck_assert_msg(strstr(pt->why, "another source image"), "%s", pt->why);

    for (size_t at = h.header_len; at < pkg_len; at += pkg_len / 7) {
        pkg_len = fx_full_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len);
        pkg[at] ^= 0x40; /* one flipped bit in the body */
        install();
        before = fx.flash.count.ops;
        ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len,
                                     "bc66", PATCH_RAM_MAX),
                         PATCH_EINVALID);
        ck_assert_uint_eq(fx.flash.count.ops, before);
    }
    pkg_len = fx_full_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len);
    install();
    ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len - 1,
                                 "bc66", PATCH_RAM_MAX),
                     PATCH_EINVALID); /* truncated */

    /* A module with less updater RAM than the package needs refuses it;
     * with exactly that much it accepts it. */
    ck_assert_int_eq(pkg_header_read(pkg, pkg_len, &h), 0);
    uint32_t need = (uint32_t)patch_memory_needed(&h);
    ck_assert_uint_lt(need, PATCH_RAM_MAX);
    before = fx.flash.count.ops;
    ck_assert_int_eq(
        patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66", need - 1),
        PATCH_EINVALID);
    ck_assert_msg(strstr(pt->why, "updater RAM"), "%s", pt->why);
    ck_assert_uint_eq(fx.flash.count.ops, before);
    ck_assert_int_eq(
        patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66", need), 0);
    pkg[100] ^= 1; /* header */
    install();
    ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66",
                                 PATCH_RAM_MAX),
                     PATCH_EINVALID);
    ck_assert_msg(strstr(pt->why, "CRC"), "%s", pt->why);
}
END_TEST

/* Cut the power at every operation of the update, cleanly and torn, then
 * boot until done: every run must end with the exact target. */
static int cut_everywhere(enum flash_cut_mode mode)
{
    int tried = 0;
    for (uint64_t n = 0;; n++) {
        install();
        ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len,
                                     "bc66", PATCH_RAM_MAX),
                         0);
        fx.flash.count.ops = 0;
        fx.flash.faults.cut_after = n;
        fx.flash.faults.cut_mode = mode;
        int r = patch_start(pt);
        while (r == PATCH_MORE)
            r = patch_step(pt);
        if (r == PATCH_DONE && n > 0) {
            ck_assert(target_in_flash());
            return tried; /* the update needed fewer than n operations */
        }
        if (n == 0)
            continue; /* cut_after 0 means no cut: the reference run */
        ck_assert_msg(r == PATCH_EPOWER, "cut %llu: %d %s", (unsigned long long)n, r, pt->why);
        tried++;
        resume_until_done();
        ck_assert_msg(target_in_flash(), "cut after %llu ops (%s) left a wrong image",
                      (unsigned long long)n, mode == FLASH_CUT_TORN ? "torn" : "clean");
    }
}

START_TEST(power_cut_at_every_operation)
{
    make_rotation_package(true);
    int clean = cut_everywhere(FLASH_CUT_CLEAN);
    int torn = cut_everywhere(FLASH_CUT_TORN);
    make_images(9000, 11000, 5);
    pkg_len = fx_full_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len);
    clean += cut_everywhere(FLASH_CUT_CLEAN);
    torn += cut_everywhere(FLASH_CUT_TORN);
    make_spanning_package(); /* a cut inside a triple that spans steps */
    clean += cut_everywhere(FLASH_CUT_CLEAN);
    torn += cut_everywhere(FLASH_CUT_TORN);
    fprintf(stderr, "power-cut: %d clean and %d torn cut points, each resumed to the target\n",
            clean, torn);
    ck_assert_int_gt(clean, 50);
    ck_assert_int_eq(clean, torn);
}
END_TEST

/* Several cuts, some during the resumes themselves. */
START_TEST(random_multi_cuts)
{
    make_rotation_package(true);
    srand(1234);
    for (int run = 0; run < 40; run++) {
        install();
        ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len,
                                     "bc66", PATCH_RAM_MAX),
                         0);
        fx.flash.faults.cut_mode = run % 2 ? FLASH_CUT_TORN : FLASH_CUT_CLEAN;
        fx.flash.faults.cut_after = fx.flash.count.ops + 1 + (uint64_t)(rand() % 40);
        int r = patch_start(pt);
        while (r == PATCH_MORE)
            r = patch_step(pt);
        int boots = 0;
        while (r != PATCH_DONE && boots++ < 50) {
            flash_power_restore(&fx.flash);
            fx.flash.faults.cut_after = fx.flash.count.ops + 1 + (uint64_t)(rand() % 40);
            r = boot_and_update();
        }
        ck_assert_int_eq(r, PATCH_DONE);
        ck_assert(target_in_flash());
    }
}
END_TEST

START_TEST(progress_resumes_from_where_it_was)
{
    make_images(9000, 11000, 9);
    pkg_len = fx_full_package(pkg, sizeof pkg, "bc66", old_img, old_len, new_img, new_len);
    install();
    ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66",
                                 PATCH_RAM_MAX),
                     0);
    ck_assert_int_eq(patch_start(pt), PATCH_MORE);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(patch_step(pt), PATCH_MORE);
    unsigned before = patch_percent(pt);
    ck_assert_uint_eq(before, 100 * 10 / pt->hdr.steps);
    ck_assert_int_eq(patch_resume(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len),
                     PATCH_MORE);
    ck_assert_uint_eq(patch_percent(pt), before);
}
END_TEST

/* A stash slot that decays while the power is off: the update cannot end
 * well, and no boot may call it done (found by the resume fuzzer). */
START_TEST(damaged_stash_is_never_done)
{
    make_rotation_package(true);
    install();
    ck_assert_int_eq(patch_check(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len, "bc66",
                                 PATCH_RAM_MAX),
                     0);
    int r = patch_start(pt);
    for (int i = 0; i < 3; i++)
        r = patch_step(pt);
    ck_assert_int_eq(r, PATCH_MORE);
    /* Slot 2 holds source sector 0 for the last step: flip its bytes. */
    uint32_t slot = fx.flash.geo.scratch_offset + 3 * FX_SECTOR;
    for (int i = 0; i < 16; i++)
        fx.mem[slot + i] ^= 0x5a;
    for (int boot = 0; boot < 2; boot++) {
        r = patch_resume(pt, &fx.flash, fx.flash.geo.fota_offset, (uint32_t)pkg_len);
        while (r == PATCH_MORE)
            r = patch_step(pt);
        ck_assert_int_eq(r, PATCH_EINVALID);
        ck_assert_msg(strstr(pt->why, "does not match the target"), "%s", pt->why);
    }
}
END_TEST

Suite *patch_suite(void)
{
    Suite *s = suite_create("patch");
    TCase *tc = tcase_create("flash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, erase_sets_ff_program_ands);
    tcase_add_test(tc, program_ands_at_any_alignment_and_length);
    tcase_add_test(tc, write_sector_is_erase_then_program);
    tcase_add_test(tc, strict_refuses_unerased);
    tcase_add_test(tc, cuts_and_failures);
    tcase_add_test(tc, geometry_checks);
    tcase_add_test(tc, journal_torn_record_reads_absent);
    suite_add_tcase(s, tc);
    tc = tcase_create("sink");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sink_same_whatever_the_pieces);
    suite_add_tcase(s, tc);
    tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, full_package_round_trip);
    tcase_add_test(tc, a_triple_runs_on_across_steps);
    tcase_add_test(tc, stash_makes_rotation_possible);
    tcase_add_test(tc, reading_an_overwritten_sector_is_refused);
    tcase_add_test(tc, refusals_before_writing);
    tcase_add_test(tc, power_cut_at_every_operation);
    tcase_add_test(tc, random_multi_cuts);
    tcase_add_test(tc, progress_resumes_from_where_it_was);
    tcase_add_test(tc, damaged_stash_is_never_done);
    suite_add_tcase(s, tc);
    return s;
}
