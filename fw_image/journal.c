#include "fw_image/journal.h"

#include "fw_image/bytes.h"
#include "fw_image/crc32.h"

#include <string.h>

static void encode(const struct journal_record *r, uint8_t out[JOURNAL_RECORD_SIZE])
{
    out[0] = r->type;
    out[1] = 0;
    put_le16(out + 2, r->step);
    put_le32(out + 4, r->a);
    put_le32(out + 8, r->b);
    put_le32(out + 12, crc32_update(0, out, 12));
}

static bool decode(const uint8_t in[JOURNAL_RECORD_SIZE], struct journal_record *r)
{
    if (crc32_update(0, in, 12) != get_le32(in + 12))
        return false;
    r->type = in[0];
    r->step = get_le16(in + 2);
    r->a = get_le32(in + 4);
    r->b = get_le32(in + 8);
    return true;
}

static bool erased(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xff)
            return false;
    return true;
}

/* Visits every valid record in order; stops early when fn returns non-zero. */
static int scan(const struct journal *j, int (*fn)(void *, const struct journal_record *),
                void *ctx, uint32_t *next)
{
    uint8_t buf[JOURNAL_RECORD_SIZE];
    uint32_t free_at = j->size;
    for (uint32_t off = 0; off < j->size; off += JOURNAL_RECORD_SIZE) {
        int err = flash_read(j->flash, j->offset + off, buf, sizeof buf);
        if (err)
            return err;
        if (erased(buf, sizeof buf)) {
            if (free_at == j->size)
                free_at = off;
            continue;
        }
        free_at = j->size; /* something after an erased slot: it was not free after all */
        struct journal_record r;
        if (decode(buf, &r) && fn && fn(ctx, &r))
            break;
    }
    if (next)
        *next = free_at;
    return 0;
}

static int keep_last(void *ctx, const struct journal_record *r)
{
    struct journal *j = ctx;
    j->last = *r;
    j->have_last = 1;
    return 0;
}

int journal_open(struct journal *j, struct flash *f, uint32_t offset, uint32_t size)
{
    memset(j, 0, sizeof *j);
    j->flash = f;
    j->offset = offset;
    j->size = size - size % JOURNAL_RECORD_SIZE;
    return scan(j, keep_last, j, &j->next);
}

int journal_erase(struct journal *j)
{
    for (uint32_t off = 0; off < j->size; off += j->flash->geo.sector_size) {
        int err = flash_erase(j->flash, j->offset + off);
        if (err)
            return err;
    }
    j->next = 0;
    j->have_last = 0;
    return 0;
}

int journal_append(struct journal *j, const struct journal_record *r)
{
    if (j->next >= j->size)
        return FLASH_EFULL;
    uint8_t buf[JOURNAL_RECORD_SIZE];
    encode(r, buf);
    uint32_t at = j->next;
    j->next += JOURNAL_RECORD_SIZE; /* a torn slot is not reused */
    int err = flash_program(j->flash, j->offset + at, buf, sizeof buf);
    if (err)
        return err;
    j->last = *r;
    j->have_last = 1;
    return 0;
}

struct find_ctx {
    uint8_t type;
    int step;
    struct journal_record found;
    int have;
};

static int match(void *ctx, const struct journal_record *r)
{
    struct find_ctx *c = ctx;
    if (r->type == c->type && (c->step < 0 || r->step == c->step)) {
        c->found = *r;
        c->have = 1;
    }
    return 0;
}

int journal_find(const struct journal *j, uint8_t type, int step, struct journal_record *out)
{
    struct find_ctx c = {.type = type, .step = step};
    int err = scan(j, match, &c, NULL);
    if (err)
        return err;
    if (!c.have)
        return 1;
    *out = c.found;
    return 0;
}
