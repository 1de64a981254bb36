#include "fw_image/image.h"

#include "fw_image/bytes.h"
#include "fw_image/crc32.h"

#include <string.h>

static const uint8_t magic[4] = {'B', 'C', 'I', 'M'};

bool img_field_get(const uint8_t *field, size_t size, char *out)
{
    size_t n = 0;
    while (n < size && field[n] != 0) {
        if (field[n] < 0x20 || field[n] > 0x7e)
            return false;
        out[n] = (char)field[n];
        n++;
    }
    for (size_t i = n; i < size; i++)
        if (field[i] != 0)
            return false; /* padding must be NUL */
    out[n] = '\0';
    return true;
}

void img_field_put(uint8_t *field, size_t size, const char *s)
{
    size_t n = strnlen(s, size);
    memset(field, 0, size);
    memcpy(field, s, n);
}

int img_header_make(struct img_header *h, const char *model, const char *revision,
                    const void *payload, uint32_t payload_size)
{
    if (strlen(model) > IMG_MODEL_MAX || strlen(revision) > IMG_REVISION_MAX)
        return IMG_EFIELD;
    memset(h, 0, sizeof *h);
    strcpy(h->model, model);
    strcpy(h->revision, revision);
    h->payload_size = payload_size;
    sha256(payload, payload_size, h->payload_sha256);
    return IMG_OK;
}

void img_header_write(const struct img_header *h, uint8_t out[IMG_HEADER_SIZE])
{
    memset(out, 0, IMG_HEADER_SIZE);
    memcpy(out, magic, 4);
    put_le16(out + 4, 1);
    put_le16(out + 6, IMG_HEADER_SIZE);
    img_field_put(out + 8, IMG_MODEL_MAX, h->model);
    img_field_put(out + 24, IMG_REVISION_MAX, h->revision);
    put_le32(out + 56, h->payload_size);
    memcpy(out + 60, h->payload_sha256, SHA256_LEN);
    put_le32(out + 124, crc32_update(0, out, 124));
}

int img_header_read(const uint8_t in[IMG_HEADER_SIZE], struct img_header *h)
{
    if (memcmp(in, magic, 4) != 0)
        return IMG_EMAGIC;
    if (get_le16(in + 4) != 1 || get_le16(in + 6) != IMG_HEADER_SIZE)
        return IMG_EVERSION;
    if (crc32_update(0, in, 124) != get_le32(in + 124))
        return IMG_ECRC;
    if (!img_field_get(in + 8, IMG_MODEL_MAX, h->model) ||
        !img_field_get(in + 24, IMG_REVISION_MAX, h->revision))
        return IMG_EFIELD;
    h->payload_size = get_le32(in + 56);
    memcpy(h->payload_sha256, in + 60, SHA256_LEN);
    return IMG_OK;
}

int img_check(const uint8_t *image, size_t len, struct img_header *h)
{
    if (len < IMG_HEADER_SIZE)
        return IMG_ETRUNCATED;
    int err = img_header_read(image, h);
    if (err)
        return err;
    if (h->payload_size > len - IMG_HEADER_SIZE)
        return IMG_ETRUNCATED;
    uint8_t digest[SHA256_LEN];
    sha256(image + IMG_HEADER_SIZE, h->payload_size, digest);
    return memcmp(digest, h->payload_sha256, SHA256_LEN) == 0 ? IMG_OK : IMG_EHASH;
}

const char *img_strerror(int err)
{
    switch (err) {
    case IMG_OK:
        return "ok";
    case IMG_ETRUNCATED:
        return "truncated image";
    case IMG_EMAGIC:
        return "not a bcsim firmware image (bad magic)";
    case IMG_EVERSION:
        return "unsupported image format version";
    case IMG_ECRC:
        return "image header damaged (CRC mismatch)";
    case IMG_EHASH:
        return "image payload damaged (SHA-256 mismatch)";
    case IMG_EFIELD:
        return "image header has a malformed model or revision field";
    }
    return "unknown image error";
}

void img_baseline(const char *revision, char out[4])
{
    out[0] = '\0';
    for (const char *p = revision; p[0] && p[1] && p[2]; p++) {
        if (p[0] == 'R' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9') {
            memcpy(out, p, 3);
            out[3] = '\0';
            return;
        }
    }
}
