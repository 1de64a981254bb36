/* Real packages from the generator, applied in the flash of a real model
 * profile, with the power cut at every flash operation in turn (cleanly, and
 * tearing the operation it hits), and several cuts in a row. The default run
 * cuts at every 7th operation of a built-in update and every 97th of the
 * corpus pairs (where the corpus is: corpus.h); BCSIM_EXHAUSTIVE=1 cuts at
 * every operation of both. */
#include "tests/integration/suites.h"
#include "tests/unit/corpus.h"
#include "fw_image/gen/delta.h"
#include "fw_image/patch.h"
#include "sim/firmware.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct update {
    const struct profile *prof;
    struct ram_flash rf;
    uint8_t *old, *new, *pkg, *pristine; /* pristine: the flash before the update */
    size_t old_len, new_len, pkg_len;
    struct patch *pt;
};

static void prepare(struct update *u, const char *model, uint8_t *old, size_t old_len, uint8_t *new,
                    size_t new_len)
{
    memset(u, 0, sizeof *u);
    u->prof = prof_find(model);
    u->old = old;
    u->old_len = old_len;
    u->new = new;
    u->new_len = new_len;
    const struct flash_geometry *g = &u->prof->flash;
    struct delta_params params = {.model = model,
                                  .src_revision = "OLD",
                                  .tgt_revision = "NEW",
                                  .sector_size = g->sector_size,
                                  .stash_slots = g->scratch_size / g->sector_size - 1,
                                  .decoder_ram =
                                      (uint32_t)(u->prof->updater_ram - patch_fixed_memory())};
    char why[200];
    ck_assert_msg(
        delta_make(old, old_len, new, new_len, &params, &u->pkg, &u->pkg_len, why, sizeof why) == 0,
        "%s", why);
    ck_assert_int_eq(fw_ram_flash_open(&u->rf, u->prof), 0);
    ck_assert_int_eq(fw_install(&u->rf.flash, old, old_len), 0);
    ck_assert_int_eq(flash_program(&u->rf.flash, g->fota_offset, u->pkg, (uint32_t)u->pkg_len), 0);
    u->pristine = malloc(g->total_size);
    memcpy(u->pristine, u->rf.mem, g->total_size);
    u->pt = malloc(sizeof *u->pt);
}

static void release(struct update *u)
{
    fw_ram_flash_close(&u->rf);
    free(u->old);
    free(u->new);
    free(u->pkg);
    free(u->pristine);
    free(u->pt);
}

static void reset_flash(struct update *u)
{
    memcpy(u->rf.mem, u->pristine, u->prof->flash.total_size);
    flash_init(&u->rf.flash, u->rf.mem, &u->prof->flash, u->rf.erase_count);
}

static bool target_in_flash(const struct update *u)
{
    return memcmp(u->rf.mem + u->prof->flash.fw_offset, u->new, u->new_len) == 0;
}

/* One boot: resume, or start over if the cut came before the update began. */
static int boot(struct update *u)
{
    const struct flash_geometry *g = &u->prof->flash;
    int r = patch_resume(u->pt, &u->rf.flash, g->fota_offset, (uint32_t)u->pkg_len);
    if (r == PATCH_IDLE) {
        ck_assert(memcmp(u->rf.mem + g->fw_offset, u->old, u->old_len) == 0);
        r = patch_check(u->pt, &u->rf.flash, g->fota_offset, (uint32_t)u->pkg_len, u->prof->id,
                        u->prof->updater_ram);
        if (r == 0)
            r = patch_start(u->pt);
    }
    while (r == PATCH_MORE)
        r = patch_step(u->pt);
    return r;
}

/* Runs the update with a cut after n operations; returns false if it
 * finished before the cut (n is past the last operation). */
static bool cut_and_resume(struct update *u, uint64_t n, enum flash_cut_mode mode)
{
    reset_flash(u);
    u->rf.flash.faults.cut_after = n;
    u->rf.flash.faults.cut_mode = mode;
    int r = boot(u);
    if (r == PATCH_DONE)
        return false;
    ck_assert_msg(r == PATCH_EPOWER, "cut after %llu: %d %s", (unsigned long long)n, r, u->pt->why);
    for (int boots = 0; r != PATCH_DONE; boots++) {
        ck_assert_int_lt(boots, 5);
        flash_power_restore(&u->rf.flash);
        r = boot(u);
        ck_assert_msg(r == PATCH_DONE || r == PATCH_EPOWER, "resume: %d %s", r, u->pt->why);
    }
    ck_assert_msg(target_in_flash(u), "cut after %llu ops (%s): wrong image", (unsigned long long)n,
                  mode == FLASH_CUT_TORN ? "torn" : "clean");
    return true;
}

static bool exhaustive(void)
{
    const char *e = getenv("BCSIM_EXHAUSTIVE");
    return e && *e && strcmp(e, "0") != 0;
}

static int cut_all(struct update *u, uint64_t stride)
{
    int tried = 0;
    for (int mode = FLASH_CUT_CLEAN; mode <= FLASH_CUT_TORN; mode++)
        for (uint64_t n = 1; cut_and_resume(u, n, (enum flash_cut_mode)mode); n += stride)
            tried++;
    return tried;
}

static void builtin(const char *model, const char *from, const char *to, struct update *u)
{
    const struct profile *p = prof_find(model);
    uint8_t *a, *b;
    size_t al, bl;
    ck_assert_int_eq(fw_builtin_image(p, prof_revision(p, from), &a, &al), 0);
    ck_assert_int_eq(fw_builtin_image(p, prof_revision(p, to), &b, &bl), 0);
    prepare(u, model, a, al, b, bl);
}

START_TEST(builtin_update_cut_everywhere)
{
    struct update u;
    builtin("bc66", "BC66NBR01A07", "BC66NBR01A08", &u);
    uint64_t stride = exhaustive() ? 1 : 7;
    int tried = cut_all(&u, stride);
    fprintf(stderr,
            "power-cut: bc66 A07->A08 (%zu-byte package, %u steps): %d cut points "
            "(every %llu op, clean and torn), all resumed to the exact target\n",
            u.pkg_len, u.pt->hdr.steps, tried, (unsigned long long)stride);
    ck_assert_int_gt(tried, 100);
    release(&u);
}
END_TEST

START_TEST(builtin_update_multi_cuts)
{
    struct update u;
    builtin("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", &u);
    srand(99);
    for (int run = 0; run < 30; run++) {
        reset_flash(&u);
        int r;
        int boots = 0;
        do { /* every boot is cut again after a random number of operations */
            flash_power_restore(&u.rf.flash);
            u.rf.flash.faults.cut_mode = run % 2 ? FLASH_CUT_TORN : FLASH_CUT_CLEAN;
            u.rf.flash.faults.cut_after = u.rf.flash.count.ops + 1 + (uint64_t)(rand() % 300);
            r = boot(&u);
            ck_assert_int_lt(++boots, 200);
        } while (r == PATCH_EPOWER);
        ck_assert_msg(r == PATCH_DONE, "%d %s", r, u.pt->why);
        ck_assert(target_in_flash(&u));
    }
    release(&u);
}
END_TEST

static uint8_t *corpus_in(const char *dir, const char *pair, const char *which, size_t *len)
{
    char path[4200], hdr_rev[8];
    snprintf(path, sizeof path, "%s/%s/%s.bin", dir, pair, which);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "%s: cannot be opened", path); /* it was there at registration */
    static uint8_t payload[2 << 20];
    size_t n = fread(payload, 1, sizeof payload, f);
    ck_assert_msg(feof(f) && !ferror(f), "%s: not read whole (at most 2 MiB)", path);
    fclose(f);
    uint8_t *img = malloc(IMG_HEADER_SIZE + n);
    struct img_header h;
    snprintf(hdr_rev, sizeof hdr_rev, "%s", which);
    img_header_make(&h, "bc66", hdr_rev, payload, (uint32_t)n);
    img_header_write(&h, img);
    memcpy(img + IMG_HEADER_SIZE, payload, n);
    *len = IMG_HEADER_SIZE + n;
    return img;
}

static const char *const pairs[] = {"pybv11", "mpy_esp8266"};
static char wide[CORPUS_PAIRS_MAX][CORPUS_NAME_MAX];

/* A pair of `dir` as a bc66 update: made by the generator, applied by the
 * module's updater, cut and resumed. */
static void cut_pair(const char *dir, const char *pair, const char *what)
{
    size_t ol, nl;
    uint8_t *old = corpus_in(dir, pair, "old", &ol), *new = corpus_in(dir, pair, "new", &nl);
    struct update u;
    prepare(&u, "bc66", old, ol, new, nl);
    int tried = cut_all(&u, exhaustive() ? 1 : 97);
    fprintf(stderr,
            "power-cut: %s %s (%zu-byte package, %u steps, %zu bytes of apply memory): %d cut "
            "points, all resumed to the exact target\n",
            what, pair, u.pkg_len, u.pt->hdr.steps, patch_memory_used(u.pt), tried);
    ck_assert_int_gt(tried, 0);
    release(&u);
}

START_TEST(corpus_cut_everywhere)
{
    cut_pair(corpus_dir(), pairs[_i], "corpus");
}
END_TEST

/* Every pair of the wide corpus (tools/fetch-corpus). */
START_TEST(wide_corpus_cut_everywhere)
{
    cut_pair(corpus_wide_dir(), wide[_i], "wide corpus");
}
END_TEST

Suite *powercut_suite(void)
{
    Suite *s = suite_create("powercut");
    TCase *tc = tcase_create("powercut");
    tcase_set_timeout(tc, exhaustive() ? 7200 : 300);
    tcase_add_test(tc, builtin_update_cut_everywhere);
    tcase_add_test(tc, builtin_update_multi_cuts);
    suite_add_tcase(s, tc);
    TCase *corpus = corpus_tcase(s, "powercut", "corpus", pairs, 2, 2);
    if (corpus) {
        tcase_set_timeout(corpus, exhaustive() ? 7200 : 300);
        tcase_add_loop_test(corpus, corpus_cut_everywhere, 0, 2);
    }
    size_t n_wide;
    TCase *wc = corpus_wide_tcase(s, "powercut", "wide_corpus", wide, &n_wide);
    if (wc) {
        tcase_set_timeout(wc, exhaustive() ? 7200 : 600);
        tcase_add_loop_test(wc, wide_corpus_cut_everywhere, 0, (int)n_wide);
    }
    return s;
}
