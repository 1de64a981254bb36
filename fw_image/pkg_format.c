#include "fw_image/pkg_format.h"

#include "fw_image/bytes.h"
#include "fw_image/crc32.h"

#include <string.h>

static const uint8_t magic[4] = {'B', 'C', 'P', 'K'};

void pkg_header_write(const struct pkg_header *h, uint8_t out[PKG_HEADER_SIZE])
{
    memset(out, 0, PKG_HEADER_SIZE);
    memcpy(out, magic, 4);
    put_le16(out + 4, 1);
    put_le16(out + 6, PKG_HEADER_SIZE);
    img_field_put(out + 8, IMG_MODEL_MAX, h->model);
    img_field_put(out + 24, IMG_REVISION_MAX, h->src_revision);
    put_le32(out + 56, h->src_size);
    memcpy(out + 60, h->src_sha256, SHA256_LEN);
    img_field_put(out + 92, IMG_REVISION_MAX, h->tgt_revision);
    put_le32(out + 124, h->tgt_size);
    memcpy(out + 128, h->tgt_sha256, SHA256_LEN);
    put_le32(out + 160, h->sector_size);
    put_le32(out + 164, h->flags);
    put_le32(out + 168, h->plan_len);
    put_le32(out + 172, h->steps);
    put_le32(out + 176, h->stash_slots);
    for (int i = 0; i < PKG_STREAMS; i++) {
        uint8_t *d = out + 180 + 12 * i;
        put_le32(d, h->stream[i].packed_len);
        put_le32(d + 4, h->stream[i].raw_len);
        d[8] = h->stream[i].lc;
        d[9] = h->stream[i].lp;
        d[10] = h->stream[i].pb;
        d[11] = h->stream[i].dict_log2;
    }
    memcpy(out + 216, h->body_sha256, SHA256_LEN);
    put_le32(out + 252, crc32_update(0, out, 252));
}

int pkg_header_read(const uint8_t in[PKG_HEADER_SIZE], struct pkg_header *h)
{
    memset(h, 0, sizeof *h);
    if (memcmp(in, magic, 4) != 0)
        return PKG_EMAGIC;
    if (get_le16(in + 4) != 1 || get_le16(in + 6) != PKG_HEADER_SIZE)
        return PKG_EVERSION;
    if (crc32_update(0, in, 252) != get_le32(in + 252))
        return PKG_ECRC;
    if (!img_field_get(in + 8, IMG_MODEL_MAX, h->model) ||
        !img_field_get(in + 24, IMG_REVISION_MAX, h->src_revision) ||
        !img_field_get(in + 92, IMG_REVISION_MAX, h->tgt_revision))
        return PKG_EFIELD;
    h->src_size = get_le32(in + 56);
    memcpy(h->src_sha256, in + 60, SHA256_LEN);
    h->tgt_size = get_le32(in + 124);
    memcpy(h->tgt_sha256, in + 128, SHA256_LEN);
    h->sector_size = get_le32(in + 160);
    h->flags = get_le32(in + 164);
    h->plan_len = get_le32(in + 168);
    h->steps = get_le32(in + 172);
    h->stash_slots = get_le32(in + 176);
    for (int i = 0; i < PKG_STREAMS; i++) {
        const uint8_t *d = in + 180 + 12 * i;
        h->stream[i].packed_len = get_le32(d);
        h->stream[i].raw_len = get_le32(d + 4);
        h->stream[i].lc = d[8];
        h->stream[i].lp = d[9];
        h->stream[i].pb = d[10];
        h->stream[i].dict_log2 = d[11];
    }
    memcpy(h->body_sha256, in + 216, SHA256_LEN);

    uint32_t s = h->sector_size;
    if (s < 512 || s > 65536 || (s & (s - 1)) != 0)
        return PKG_EFIELD;
    if (h->flags & ~PKG_FLAG_FULL)
        return PKG_EFIELD;
    if (h->tgt_size < IMG_HEADER_SIZE || h->src_size < IMG_HEADER_SIZE)
        return PKG_EFIELD;
    if (h->steps != (h->tgt_size + s - 1) / s || h->steps > 65535)
        return PKG_EFIELD;
    for (int i = 0; i < PKG_STREAMS; i++) {
        const struct pkg_stream_desc *d = &h->stream[i];
        if (d->lc > 4 || d->lp > 4 || d->lc + d->lp > 4 || d->pb > 4 || d->dict_log2 < 12 ||
            d->dict_log2 > 16)
            return PKG_EFIELD;
    }
    return PKG_OK;
}

uint64_t pkg_body_len(const struct pkg_header *h)
{
    uint64_t n = h->plan_len;
    for (int i = 0; i < PKG_STREAMS; i++)
        n += h->stream[i].packed_len;
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
