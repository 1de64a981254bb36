/* Firmware image headers (FORMAT.md): what the firmware region holds. */
#ifndef BCSIM_IMAGE_H
#define BCSIM_IMAGE_H

#include "fw_image/sha256.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMG_HEADER_SIZE  128
#define IMG_MODEL_MAX    16
#define IMG_REVISION_MAX 32

enum img_error {
    IMG_OK = 0,
    IMG_ETRUNCATED = -1, /* shorter than its header or payload */
    IMG_EMAGIC = -2,
    IMG_EVERSION = -3,
    IMG_ECRC = -4,   /* header damaged */
    IMG_EHASH = -5,  /* payload does not match its SHA-256 */
    IMG_EFIELD = -6, /* a string field is not printable ASCII */
};

struct img_header {
    char model[IMG_MODEL_MAX + 1];
    char revision[IMG_REVISION_MAX + 1];
    uint32_t payload_size;
    uint8_t payload_sha256[SHA256_LEN];
};

/* Serialises a header for `payload`. model/revision must fit their fields. */
int img_header_make(struct img_header *h, const char *model, const char *revision,
                    const void *payload, uint32_t payload_size);
void img_header_write(const struct img_header *h, uint8_t out[IMG_HEADER_SIZE]);

/* Parses and checks the header only (magic, version, CRC, fields). */
int img_header_read(const uint8_t in[IMG_HEADER_SIZE], struct img_header *h);

/* Parses a whole image in memory and checks its payload hash too. */
int img_check(const uint8_t *image, size_t len, struct img_header *h);

static inline uint32_t img_total_size(const struct img_header *h)
{
    return IMG_HEADER_SIZE + h->payload_size;
}

const char *img_strerror(int err);

/* Copies a fixed, NUL-padded field into a C string; false if not printable. */
bool img_field_get(const uint8_t *field, size_t size, char *out);
void img_field_put(uint8_t *field, size_t size, const char *s);

/* The baseline of a revision: "R02" in "BC260YCNAAR02A02". Empty if none. */
void img_baseline(const char *revision, char out[4]);

#endif
