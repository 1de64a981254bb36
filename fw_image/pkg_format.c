#include "fw_image/pkg_format.h"

#include "fw_image/bytes.h"
#include "fw_image/crc32.h"
#include "fw_image/lzma2_dec.h"

#include <string.h>

static const uint8_t magic[4] = {'B', 'C', 'P', 'K'};

/* A length-prefixed printable string. */
static size_t put_name(uint8_t *out, const char *s)
{
    size_t n = strlen(s);
    out[0] = (uint8_t)n;
    memcpy(out + 1, s, n);
    return n + 1;
}

static unsigned log2_exact(uint32_t v)
{
    unsigned n = 0;
    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

size_t pkg_header_write(struct pkg_header *h, uint8_t out[PKG_HEADER_MAX])
{
    uint32_t s = h->sector_size;
    if (strlen(h->model) > IMG_MODEL_MAX || strlen(h->src_revision) > IMG_REVISION_MAX ||
        strlen(h->tgt_revision) > IMG_REVISION_MAX || s == 0 || (s & (s - 1)) != 0)
        return 0;
    size_t at = 0;
    memcpy(out, magic, 4);
    out[4] = PKG_VERSION;
    /* out[5]: the header's length, known at the end */
    out[6] = (uint8_t)h->flags;
    out[7] = (uint8_t)log2_exact(s);
    out[8] = (uint8_t)h->stash_slots;
    at = 9;
    at += put_name(out + at, h->model);
    at += put_name(out + at, h->src_revision);
    at += put_name(out + at, h->tgt_revision);
    put_le32(out + at, h->src_size);
    put_le32(out + at + 4, h->tgt_size);
    at += 8;
    memcpy(out + at, h->src_sha256, SHA256_LEN);
    memcpy(out + at + SHA256_LEN, h->tgt_sha256, SHA256_LEN);
    memcpy(out + at + 2 * SHA256_LEN, h->body_sha256, SHA256_LEN);
    at += 3 * SHA256_LEN;
    for (int i = 0; i < PKG_STREAMS; i++) {
        const struct pkg_stream_desc *d = &h->stream[i];
        at += varint_put(out + at, d->packed_len);
        at += varint_put(out + at, d->raw_len);
        out[at++] = (uint8_t)((d->pb * 5 + d->lp) * 9 + d->lc); /* as LZMA's props byte */
        out[at++] = d->dict_log2;
    }
    out[5] = (uint8_t)(at + 4);
    put_le32(out + at, crc32_update(0, out, at));
    h->header_len = (uint32_t)(at + 4);
    h->steps = h->tgt_size ? (h->tgt_size + s - 1) / s : 0;
    return at + 4;
}

/* A reader over the header that fails once it would run past its end. */
struct cursor {
    const uint8_t *p, *end;
    bool ok;
};

static const uint8_t *take(struct cursor *c, size_t n)
{
    if (!c->ok || (size_t)(c->end - c->p) < n) {
        c->ok = false;
        return NULL;
    }
    const uint8_t *at = c->p;
    c->p += n;
    return at;
}

static uint32_t take_le32(struct cursor *c)
{
    const uint8_t *p = take(c, 4);
    return p ? get_le32(p) : 0;
}

static uint32_t take_varint(struct cursor *c)
{
    uint32_t v = 0;
    size_t n = c->ok ? varint_get(c->p, c->end, &v) : 0;
    if (n == 0)
        c->ok = false;
    c->p += n;
    return v;
}

static void take_bytes(struct cursor *c, uint8_t *out, size_t n)
{
    const uint8_t *p = take(c, n);
    if (p)
        memcpy(out, p, n);
}

static bool take_name(struct cursor *c, char *out, size_t max)
{
    const uint8_t *len = take(c, 1);
    const uint8_t *s = len && *len <= max ? take(c, *len) : NULL;
    if (!s)
        return false;
    for (size_t i = 0; i < *len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    memcpy(out, s, *len);
    out[*len] = '\0';
    return *len > 0;
}

static bool stream_ok(const struct pkg_stream_desc *d)
{
    return d->lc + d->lp <= 4 && d->dict_log2 >= PKG_DICT_LOG2_MIN &&
           d->dict_log2 <= PKG_DICT_LOG2_MAX;
}

int pkg_header_read(const uint8_t *in, size_t n, struct pkg_header *h)
{
    memset(h, 0, sizeof *h);
    if (n < 6)
        return PKG_ETRUNCATED;
    if (memcmp(in, magic, 4) != 0)
        return PKG_EMAGIC;
    if (in[4] != PKG_VERSION)
        return PKG_EVERSION;
    size_t len = in[5];
    if (len < 9 + 4)
        return PKG_EFIELD;
    if (n < len)
        return PKG_ETRUNCATED;
    if (crc32_update(0, in, len - 4) != get_le32(in + len - 4))
        return PKG_ECRC;
    struct cursor c = {in + 9, in + len - 4, true};
    h->header_len = (uint32_t)len;
    h->flags = in[6];
    h->stash_slots = in[8];
    if (in[7] < 9 || in[7] > 16 || (h->flags & ~PKG_FLAG_FULL))
        return PKG_EFIELD;
    h->sector_size = 1u << in[7];
    if (!take_name(&c, h->model, IMG_MODEL_MAX) ||
        !take_name(&c, h->src_revision, IMG_REVISION_MAX) ||
        !take_name(&c, h->tgt_revision, IMG_REVISION_MAX))
        return PKG_EFIELD;
    h->src_size = take_le32(&c);
    h->tgt_size = take_le32(&c);
    take_bytes(&c, h->src_sha256, SHA256_LEN);
    take_bytes(&c, h->tgt_sha256, SHA256_LEN);
    take_bytes(&c, h->body_sha256, SHA256_LEN);
    for (int i = 0; i < PKG_STREAMS; i++) {
        struct pkg_stream_desc *d = &h->stream[i];
        d->packed_len = take_varint(&c);
        d->raw_len = take_varint(&c);
        const uint8_t *props = take(&c, 2);
        if (!props || props[0] >= 9 * 5 * 5)
            return PKG_EFIELD;
        d->lc = props[0] % 9;
        d->lp = props[0] / 9 % 5;
        d->pb = props[0] / 45;
        d->dict_log2 = props[1];
        if (!stream_ok(d))
            return PKG_EFIELD;
    }
    if (!c.ok || c.p != c.end) /* every byte of a header means something */
        return PKG_EFIELD;
    if (h->tgt_size < IMG_HEADER_SIZE || h->src_size < IMG_HEADER_SIZE)
        return PKG_EFIELD;
    uint32_t s = h->sector_size;
    h->steps = (h->tgt_size + s - 1) / s;
    if (h->steps > 65535)
        return PKG_EFIELD;
    return PKG_OK;
}

uint64_t pkg_body_len(const struct pkg_header *h)
{
    uint64_t n = 0;
    for (int i = 0; i < PKG_STREAMS; i++)
        n += h->stream[i].packed_len;
    return n;
}

uint64_t pkg_total_len(const struct pkg_header *h)
{
    return h->header_len + pkg_body_len(h);
}

/* The applier carves its decoders from one arena in 16-byte pieces
 * (patch.c's arena_take). */
static size_t rounded(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

size_t pkg_stream_memory(unsigned lclp, unsigned dict_log2)
{
    return rounded(lz_probs_size(lclp)) + rounded((size_t)1 << dict_log2);
}

size_t pkg_decoder_memory(const struct pkg_header *h)
{
    size_t n = 0;
    for (int i = 0; i < PKG_STREAMS; i++)
        n += pkg_stream_memory(h->stream[i].lc + h->stream[i].lp, h->stream[i].dict_log2);
    return n;
}

const char *pkg_strerror(int err)
{
    switch (err) {
    case PKG_OK:
        return "ok";
    case PKG_ETRUNCATED:
        return "truncated package";
    case PKG_EMAGIC:
        return "not a bcsim delta package (bad magic)";
    case PKG_EVERSION:
        return "unsupported package format version";
    case PKG_ECRC:
        return "package header damaged (CRC mismatch)";
    case PKG_EFIELD:
        return "package header has a field out of range";
    case PKG_EHASH:
        return "package body damaged (SHA-256 mismatch)";
    case PKG_ECORRUPT:
        return "package plan or streams are inconsistent";
    }
    return "unknown package error";
}
