#include "sim/firmware.h"

#include "fw_image/synth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_MAX (1024 * 1024)

int fw_builtin_image(const struct profile *p, const struct prof_revision *r, uint8_t **image,
                     size_t *len)
{
    uint8_t *buf = malloc(IMG_HEADER_SIZE + PAYLOAD_MAX);
    if (!buf)
        return -ENOMEM;
    char banner[96];
    snprintf(banner, sizeof banner, "%s firmware %s", p->model, r->name);
    size_t n =
        synth_firmware(r->lineage, r->generation, banner, buf + IMG_HEADER_SIZE, PAYLOAD_MAX);
    struct img_header h;
    if (n == 0 || img_header_make(&h, p->id, r->name, buf + IMG_HEADER_SIZE, (uint32_t)n)) {
        free(buf);
        return -ENOMEM;
    }
    img_header_write(&h, buf);
    *image = buf;
    *len = IMG_HEADER_SIZE + n;
    return 0;
}

int fw_install(struct flash *f, const uint8_t *image, size_t len)
{
    const struct flash_geometry *g = &f->geo;
    if (len > g->fw_size)
        return FLASH_ERANGE;
    for (uint32_t off = 0; off < g->fw_size; off += g->sector_size) {
        int err = flash_erase(f, g->fw_offset + off);
        if (err)
            return err;
    }
    return flash_program(f, g->fw_offset, image, (uint32_t)len);
}

int fw_boot_check(struct flash *f, const struct profile *p, struct img_header *h)
{
    const struct flash_geometry *g = &f->geo;
    uint8_t raw[IMG_HEADER_SIZE];
    if (flash_read(f, g->fw_offset, raw, sizeof raw) != 0)
        return IMG_ETRUNCATED;
    int err = img_header_read(raw, h);
    if (err)
        return err;
    if (strcmp(h->model, p->id) != 0)
        return IMG_EFIELD;
    if (h->payload_size > g->fw_size - IMG_HEADER_SIZE)
        return IMG_ETRUNCATED;
    uint8_t digest[SHA256_LEN];
    if (flash_sha256(f, g->fw_offset + IMG_HEADER_SIZE, h->payload_size, digest) != 0)
        return IMG_ETRUNCATED;
    return memcmp(digest, h->payload_sha256, SHA256_LEN) == 0 ? IMG_OK : IMG_EHASH;
}

int fw_ram_flash_open(struct ram_flash *rf, const struct profile *p)
{
    const struct flash_geometry *g = &p->flash;
    rf->mem = malloc(g->total_size);
    rf->erase_count = calloc(g->total_size / g->sector_size, sizeof *rf->erase_count);
    if (!rf->mem || !rf->erase_count) {
        fw_ram_flash_close(rf);
        return -ENOMEM;
    }
    memset(rf->mem, 0xff, g->total_size);
    flash_init(&rf->flash, rf->mem, g, rf->erase_count);
    return 0;
}

void fw_ram_flash_close(struct ram_flash *rf)
{
    free(rf->mem);
    free(rf->erase_count);
    rf->mem = NULL;
    rf->erase_count = NULL;
}

int fw_check_baseline(const struct profile *p, const struct pkg_header *h, char *why,
                      size_t why_size)
{
    char from[4], to[4];
    img_baseline(h->src_revision, from);
    img_baseline(h->tgt_revision, to);
    if (p->baselines_locked && strcmp(from, to) != 0) {
        snprintf(why, why_size, "%s cannot update across baselines (%s to %s)", p->id,
                 *from ? from : "none", *to ? to : "none");
        return -1;
    }
    return 0;
}

int fw_accept_package(const struct profile *p, struct patch *patch, struct flash *f,
                      uint32_t offset, uint32_t len)
{
    int r = patch_check(patch, f, offset, len, p->id, p->updater_ram);
    if (r == 0 && fw_check_baseline(p, &patch->hdr, patch->why, sizeof patch->why) != 0)
        r = PATCH_EMISMATCH;
    return r;
}
