#include "fw_image/patch.h"

#include "fw_image/bytes.h"
#include "fw_image/crc32.h"
#include "fw_image/sha256.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NO_SECTOR 0xffff

static int fail(struct patch *p, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    return status;
}

/* A flash error during the update: a cut, or a failing chip. */
static int flash_fail(struct patch *p, int err)
{
    if (err == FLASH_EPOWER)
        return fail(p, PATCH_EPOWER, "power cut");
    return fail(p, PATCH_EFLASH, "%s", flash_strerror(err));
}

/* ---- Decoder memory: carved from the struct's arena. ---------------------- */

static void *arena_take(struct patch *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof p->arena - p->arena_used)
        return NULL;
    void *ptr = p->arena + p->arena_used;
    p->arena_used += n;
    return ptr;
}

/* ---- Package body readers ------------------------------------------------ */

static uint32_t body_offset(const struct patch *p)
{
    return p->pkg_offset + p->hdr.header_len;
}

/* The decoders pull compressed bytes straight from the FOTA area. */
static int fill_from_flash(void *ctx, uint8_t *buf, uint32_t cap)
{
    struct patch_decoder *dec = ctx;
    uint32_t n = dec->end - dec->next < cap ? dec->end - dec->next : cap;
    if (n == 0)
        return 0;
    int err = flash_read(dec->flash, dec->next, buf, n);
    if (err) {
        dec->flash_err = err;
        return -1;
    }
    dec->next += n;
    return (int)n;
}

static int decoders_start(struct patch *p)
{
    p->arena_used = 0;
    p->last_target = -1;
    p->pos = 0;
    p->run = (struct patch_run){0, 0, 0, false};
    uint32_t at = body_offset(p);
    for (int i = 0; i < PKG_STREAMS; i++) {
        const struct pkg_stream_desc *d = &p->hdr.stream[i];
        struct patch_decoder *dec = &p->dec[i];
        unsigned lclp = d->lc + d->lp;
        uint16_t *probs = arena_take(p, lz_probs_size(lclp));
        uint8_t *dict = arena_take(p, (size_t)1 << d->dict_log2);
        if (!probs || !dict)
            return fail(p, PATCH_EINVALID,
                        "package needs more than the %u bytes of decoder "
                        "memory the device has",
                        (unsigned)sizeof p->arena);
        *dec = (struct patch_decoder){.flash = p->flash, .next = at, .end = at + d->packed_len};
        uint8_t props = (uint8_t)((d->pb * 5 + d->lp) * 9 + d->lc);
        if (lz_init_raw(&dec->lz, probs, lclp, dict, 1u << d->dict_log2, fill_from_flash, dec,
                        props, d->raw_len, d->packed_len) != LZ_OK) {
            if (dec->flash_err)
                return flash_fail(p, dec->flash_err);
            return fail(p, PATCH_EINVALID, "stream %d is damaged", i);
        }
        at = dec->end;
    }
    return 0;
}

/* Decodes n bytes of a stream into out (or discards them if out is NULL). */
static int dec_read(struct patch *p, int i, uint8_t *out, uint32_t n)
{
    struct patch_decoder *dec = &p->dec[i];
    if (lz_read(&dec->lz, out, n) == LZ_OK)
        return 0;
    if (dec->flash_err)
        return flash_fail(p, dec->flash_err);
    return fail(p, PATCH_EINVALID, "stream %d ends early or is damaged", i);
}

/* One varint of the control stream. */
static int ctrl_varint(struct patch *p, uint32_t *v)
{
    uint32_t x = 0;
    for (int i = 0; i < 5; i++) {
        uint8_t b;
        int err = dec_read(p, PKG_CTRL, &b, 1);
        if (err)
            return err;
        if (i == 4 && b > 0x0f)
            break;
        x |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return fail(p, PATCH_EINVALID, "control stream has a malformed number");
}

/* ---- Source reads, honouring what the steps have overwritten -------------- */

static bool written(const struct patch *p, uint32_t sector)
{
    return p->written[sector / 8] & (1u << (sector % 8));
}

static void mark_written(struct patch *p, uint32_t sector)
{
    p->written[sector / 8] |= (uint8_t)(1u << (sector % 8));
}

static uint32_t scratch_slot_addr(const struct patch *p, uint32_t slot)
{
    return p->flash->geo.scratch_offset + slot * p->flash->geo.sector_size;
}

/* Where source byte `pos` lives now: the firmware region, or a stash slot. */
static int source_addr(struct patch *p, uint32_t pos, uint32_t *addr)
{
    uint32_t s = p->hdr.sector_size, sector = pos / s;
    if (!written(p, sector)) {
        *addr = p->flash->geo.fw_offset + pos;
        return 0;
    }
    for (uint32_t slot = 0; slot < p->slots; slot++) {
        if (p->stash[slot] == sector) {
            *addr = scratch_slot_addr(p, slot + 1) + pos % s;
            return 0;
        }
    }
    return fail(p, PATCH_EINVALID, "plan reads source sector %u after overwriting it", sector);
}

/* target[out..out+n) = source[pos..] + diff (or the source alone if the run
 * is exact), in pieces that stay in one sector. */
static int add_run(struct patch *p, uint8_t *out, uint32_t n, bool exact)
{
    uint32_t s = p->hdr.sector_size;
    if (n > p->hdr.src_size || p->pos > p->hdr.src_size - n)
        return fail(p, PATCH_EINVALID, "control stream reads outside the source image");
    while (n > 0) {
        uint32_t k = n < sizeof p->chunk ? n : (uint32_t)sizeof p->chunk;
        if (k > s - p->pos % s)
            k = s - p->pos % s;
        uint32_t addr = 0;
        int err = source_addr(p, p->pos, &addr);
        if (err)
            return err;
        if (exact) {
            if ((err = flash_read(p->flash, addr, out, k)) != 0)
                return flash_fail(p, err);
        } else {
            if ((err = flash_read(p->flash, addr, p->chunk, k)) != 0)
                return flash_fail(p, err);
            if ((err = dec_read(p, PKG_DIFF, out, k)) != 0)
                return err;
            for (uint32_t i = 0; i < k; i++)
                out[i] = (uint8_t)(out[i] + p->chunk[i]);
        }
        out += k;
        n -= k;
        p->pos += k;
    }
    return 0;
}

/* Fills out[0, len) of one step from the triples; with out == NULL only
 * advances the streams (a finished step being skipped on resume). A triple
 * may run on into the next steps: what is left of it waits in p->run. */
static int run_step_streams(struct patch *p, uint8_t *out, uint32_t len)
{
    struct patch_run *r = &p->run;
    uint32_t done = 0;
    while (done < len) {
        int err;
        if (r->add == 0 && r->copy == 0) {
            uint32_t add_word;
            if ((err = ctrl_varint(p, &add_word)) || (err = ctrl_varint(p, &r->copy)) ||
                (err = ctrl_varint(p, &r->seek)))
                return err;
            r->add = add_word >> 1;
            r->exact = add_word & 1;
            if (r->add == 0 && r->copy == 0 && r->seek == 0)
                return fail(p, PATCH_EINVALID, "control stream has an empty triple");
            if (r->add > p->hdr.src_size || p->pos > p->hdr.src_size - r->add)
                return fail(p, PATCH_EINVALID, "control stream reads outside the source image");
        }
        uint32_t k = r->add < len - done ? r->add : len - done;
        if (out) {
            if ((err = add_run(p, out + done, k, r->exact)) != 0)
                return err;
        } else {
            if (!r->exact && (err = dec_read(p, PKG_DIFF, NULL, k)) != 0)
                return err;
            p->pos += k;
        }
        r->add -= k;
        done += k;
        k = r->copy < len - done ? r->copy : len - done;
        if ((err = dec_read(p, PKG_EXTRA, out ? out + done : NULL, k)) != 0)
            return err;
        r->copy -= k;
        done += k;
        if (r->add == 0 && r->copy == 0) {
            int64_t next = (int64_t)p->pos + zigzag_decode(r->seek);
            if (next < 0 || next > p->hdr.src_size)
                return fail(p, PATCH_EINVALID, "control stream seeks outside the source image");
            p->pos = (uint32_t)next;
        }
    }
    return 0;
}

static uint32_t target_len(const struct patch *p, uint32_t sector)
{
    uint32_t s = p->hdr.sector_size, start = sector * s;
    return p->hdr.tgt_size - start < s ? p->hdr.tgt_size - start : s;
}

/* Reads a step's plan entry from the control stream; performs its stash
 * copies when `stash` is set. The target is given relative to the one after
 * the previous step's, so an ascending plan is all zeros. */
static int plan_step(struct patch *p, uint32_t *target, bool stash)
{
    uint32_t zt, count;
    int err;
    if ((err = ctrl_varint(p, &zt)) || (err = ctrl_varint(p, &count)))
        return err;
    int64_t t = p->last_target + 1 + zigzag_decode(zt);
    if (t < 0 || t >= p->hdr.steps || written(p, (uint32_t)t))
        return fail(p, PATCH_EINVALID, "plan writes target sector %lld twice or out of range",
                    (long long)t);
    if (count > p->slots)
        return fail(p, PATCH_EINVALID, "plan stashes more sectors than there are slots");
    uint32_t s = p->hdr.sector_size, src_sectors = (p->hdr.src_size + s - 1) / s;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t src, slot;
        if ((err = ctrl_varint(p, &src)) || (err = ctrl_varint(p, &slot)))
            return err;
        if (src >= src_sectors || written(p, src) || slot >= p->hdr.stash_slots)
            return fail(p, PATCH_EINVALID, "plan has an impossible stash entry");
        if (stash) {
            uint32_t from = p->flash->geo.fw_offset + src * s;
            if ((err = flash_read(p->flash, from, p->sector, s)) != 0 ||
                (err = flash_write_sector(p->flash, scratch_slot_addr(p, slot + 1), p->sector,
                                          s)) != 0)
                return flash_fail(p, err);
        }
        p->stash[slot] = (uint16_t)src;
    }
    p->last_target = t;
    *target = (uint32_t)t;
    return 0;
}

/* ---- Checks before the first write --------------------------------------- */

static int hash_range(struct patch *p, uint32_t addr, uint32_t len, uint8_t out[SHA256_LEN])
{
    int err = flash_sha256(p->flash, addr, len, out);
    return err ? flash_fail(p, err) : 0;
}

/* Header, body hash and fit: everything about the package itself. */
static int open_package(struct patch *p, struct flash *f, uint32_t offset, uint32_t len)
{
    memset(p->stash, 0xff, sizeof p->stash);
    memset(p->written, 0, sizeof p->written);
    p->flash = f;
    p->pkg_offset = offset;
    p->pkg_len = len;
    p->step = p->pos = 0;
    p->why[0] = '\0';
    const struct flash_geometry *g = &f->geo;
    uint8_t raw[PKG_HEADER_MAX];
    uint32_t n = len < sizeof raw ? len : (uint32_t)sizeof raw;
    int err = flash_read(f, offset, raw, n);
    if (err)
        return flash_fail(p, err);
    if ((err = pkg_header_read(raw, n, &p->hdr)) != 0)
        return fail(p, PATCH_EINVALID, "%s", pkg_strerror(err));
    if (pkg_total_len(&p->hdr) != len)
        return fail(p, PATCH_EINVALID, "package length does not match its header");
    if (p->hdr.sector_size != g->sector_size || g->sector_size > PATCH_SECTOR_MAX)
        return fail(p, PATCH_EINVALID, "package made for %u-byte sectors", p->hdr.sector_size);
    if (p->hdr.tgt_size > g->fw_size || p->hdr.src_size > g->fw_size ||
        g->fw_size / g->sector_size > PATCH_SECTORS_MAX)
        return fail(p, PATCH_EINVALID, "image larger than the firmware region");
    if (2ull * p->hdr.steps + 2 > g->journal_size / JOURNAL_RECORD_SIZE)
        return fail(p, PATCH_EINVALID, "package has more steps than the journal can record");
    p->slots = g->scratch_size / g->sector_size - 1;
    if (p->slots > PATCH_SLOTS_MAX)
        p->slots = PATCH_SLOTS_MAX;
    if (p->hdr.stash_slots > p->slots)
        return fail(p, PATCH_EINVALID, "package needs %u stash slots, the device has %u",
                    p->hdr.stash_slots, p->slots);
    uint8_t digest[SHA256_LEN];
    uint32_t body = offset + p->hdr.header_len;
    if ((err = hash_range(p, body, len - p->hdr.header_len, digest)) != 0)
        return err;
    if (memcmp(digest, p->hdr.body_sha256, SHA256_LEN) != 0)
        return fail(p, PATCH_EINVALID, "%s", pkg_strerror(PKG_EHASH));
    return 0;
}

int patch_check_package(struct patch *p, struct flash *f, uint32_t offset, uint32_t len)
{
    return open_package(p, f, offset, len);
}

int patch_check(struct patch *p, struct flash *f, uint32_t offset, uint32_t len, const char *model,
                uint32_t ram)
{
    int err = open_package(p, f, offset, len);
    if (err)
        return err;
    if (strcmp(p->hdr.model, model) != 0)
        return fail(p, PATCH_EMISMATCH, "package is for %s, this module is %s", p->hdr.model,
                    model);
    size_t need = patch_memory_needed(&p->hdr);
    if (need > ram)
        return fail(p, PATCH_EINVALID, "package needs %zu bytes of updater RAM, this module has %u",
                    need, ram);
    if (!(p->hdr.flags & PKG_FLAG_FULL)) {
        uint8_t digest[SHA256_LEN];
        if ((err = hash_range(p, f->geo.fw_offset, p->hdr.src_size, digest)) != 0)
            return err;
        if (memcmp(digest, p->hdr.src_sha256, SHA256_LEN) != 0)
            return fail(p, PATCH_EMISMATCH, "package is for another source image (%s)",
                        p->hdr.src_revision);
    }
    return 0;
}

static int open_journal(struct patch *p)
{
    const struct flash_geometry *g = &p->flash->geo;
    int err = journal_open(&p->journal, p->flash, g->journal_offset, g->journal_size);
    return err ? flash_fail(p, err) : 0;
}

int patch_start(struct patch *p)
{
    int err = open_journal(p);
    if (err)
        return err;
    if ((err = journal_erase(&p->journal)) != 0)
        return flash_fail(p, err);
    struct journal_record begin = {
        .type = JOURNAL_BEGIN, .a = p->hdr.steps, .b = get_le32(p->hdr.body_sha256)};
    if ((err = journal_append(&p->journal, &begin)) != 0)
        return flash_fail(p, err);
    err = decoders_start(p);
    return err ? err : PATCH_MORE;
}

/* ---- Steps ---------------------------------------------------------------- */

static int journal_add(struct patch *p, uint8_t type, uint32_t a, uint32_t b)
{
    struct journal_record r = {.type = type, .step = (uint16_t)p->step, .a = a, .b = b};
    int err = journal_append(&p->journal, &r);
    return err ? flash_fail(p, err) : 0;
}

/* After the last step nothing may be left over: a longer stream is a
 * package that does not say what it means. */
static int check_consumed(struct patch *p)
{
    if (p->run.add || p->run.copy)
        return fail(p, PATCH_EINVALID, "a control triple runs past the end of the target");
    for (int i = 0; i < PKG_STREAMS; i++) {
        struct patch_decoder *dec = &p->dec[i];
        if (lz_finish(&dec->lz) != LZ_END || dec->next != dec->end)
            return fail(p, PATCH_EINVALID, "stream %d has data beyond the last step", i);
    }
    return 0;
}

/* The end record is written only once the image checks: a journal that says
 * "done" must never stand for a wrong image. */
static int finish_steps(struct patch *p)
{
    int err = check_consumed(p);
    if (err)
        return err;
    uint8_t digest[SHA256_LEN];
    if ((err = hash_range(p, p->flash->geo.fw_offset, p->hdr.tgt_size, digest)) != 0)
        return err;
    if (memcmp(digest, p->hdr.tgt_sha256, SHA256_LEN) != 0)
        return fail(p, PATCH_EINVALID, "the updated image does not match the target");
    err = journal_add(p, JOURNAL_END, p->hdr.steps, 0);
    return err ? err : PATCH_DONE;
}

/* Copies the staged sector to its place and records the step as done. */
static int commit_staged(struct patch *p, uint32_t target, uint32_t crc)
{
    uint32_t s = p->hdr.sector_size;
    int err = flash_read(p->flash, scratch_slot_addr(p, 0), p->sector, s);
    if (err)
        return flash_fail(p, err);
    if (crc32_update(0, p->sector, s) != crc)
        return fail(p, PATCH_EINVALID, "staged sector %u is damaged", target);
    if ((err = flash_write_sector(p->flash, p->flash->geo.fw_offset + target * s, p->sector, s)) !=
        0)
        return flash_fail(p, err);
    if ((err = journal_add(p, JOURNAL_DONE, target, 0)) != 0)
        return err;
    mark_written(p, target);
    p->step++;
    return 0;
}

int patch_step(struct patch *p)
{
    if (p->step >= p->hdr.steps)
        return PATCH_DONE; /* finished (and recorded) by the last step */
    uint32_t s = p->hdr.sector_size, target;
    int err = plan_step(p, &target, true);
    if (err)
        return err;
    uint32_t len = target_len(p, target);
    if ((err = run_step_streams(p, p->sector, len)) != 0)
        return err;
    memset(p->sector + len, 0xff, s - len);
    uint32_t crc = crc32_update(0, p->sector, s);
    if ((err = flash_write_sector(p->flash, scratch_slot_addr(p, 0), p->sector, s)) != 0)
        return flash_fail(p, err);
    if ((err = journal_add(p, JOURNAL_STAGED, target, crc)) != 0)
        return err;
    if ((err = flash_write_sector(p->flash, p->flash->geo.fw_offset + target * s, p->sector, s)))
        return flash_fail(p, err);
    if ((err = journal_add(p, JOURNAL_DONE, target, 0)) != 0)
        return err;
    mark_written(p, target);
    p->step++;
    return p->step == p->hdr.steps ? finish_steps(p) : PATCH_MORE;
}

/* ---- Resume --------------------------------------------------------------- */

int patch_resume(struct patch *p, struct flash *f, uint32_t offset, uint32_t len)
{
    p->flash = f;
    int err = open_journal(p);
    if (err)
        return err;
    struct journal_record begin;
    if (journal_find(&p->journal, JOURNAL_BEGIN, -1, &begin) != 0)
        return PATCH_IDLE;
    if ((err = open_package(p, f, offset, len)) != 0)
        return err;
    if ((err = open_journal(p)) != 0) /* open_package reset the struct's positions */
        return err;
    if (begin.a != p->hdr.steps || begin.b != get_le32(p->hdr.body_sha256))
        return fail(p, PATCH_EINVALID, "the journal belongs to another package");
    const struct journal_record *last = &p->journal.last;
    if (last->type == JOURNAL_END) {
        /* "Done" is said only of an image that checks, whatever the journal holds. */
        uint8_t digest[SHA256_LEN];
        if ((err = hash_range(p, f->geo.fw_offset, p->hdr.tgt_size, digest)) != 0)
            return err;
        if (memcmp(digest, p->hdr.tgt_sha256, SHA256_LEN) != 0)
            return fail(p, PATCH_EINVALID, "the journal says done, the image does not match");
        return PATCH_DONE;
    }
    /* Steps before `redo` are done; a staged record means `redo` is too, but
     * for the copy from the staging slot. */
    uint32_t redo = last->type == JOURNAL_BEGIN ? 0 : (uint32_t)last->step + 1;
    bool staged = last->type == JOURNAL_STAGED;
    if (staged)
        redo = last->step;
    if (redo > p->hdr.steps)
        return fail(p, PATCH_EINVALID, "the journal is inconsistent");
    if ((err = decoders_start(p)) != 0)
        return err;
    for (p->step = 0; p->step < redo; p->step++) {
        uint32_t target;
        if ((err = plan_step(p, &target, false)) ||
            (err = run_step_streams(p, NULL, target_len(p, target))))
            return err;
        mark_written(p, target);
    }
    if (staged) {
        uint32_t target;
        if ((err = plan_step(p, &target, false)) ||
            (err = run_step_streams(p, NULL, target_len(p, target))))
            return err;
        if (target != last->a)
            return fail(p, PATCH_EINVALID, "the journal is inconsistent");
        if ((err = commit_staged(p, target, last->b)) != 0)
            return err;
    }
    return p->step == p->hdr.steps ? finish_steps(p) : PATCH_MORE;
}

unsigned patch_percent(const struct patch *p)
{
    return p->hdr.steps ? (unsigned)(100u * p->step / p->hdr.steps) : 100u;
}

int patch_finish(struct patch *p)
{
    int err = journal_erase(&p->journal);
    return err ? flash_fail(p, err) : 0;
}

size_t patch_fixed_memory(void)
{
    return sizeof(struct patch) - sizeof((struct patch *)0)->arena;
}

size_t patch_memory_needed(const struct pkg_header *h)
{
    return patch_fixed_memory() + pkg_decoder_memory(h);
}

size_t patch_memory_used(const struct patch *p)
{
    return sizeof *p - sizeof p->arena + p->arena_used;
}
