/* Writes the seed corpora of the fuzz targets:
 *   make_seeds PACKAGE_DIR RESUME_DIR
 * PACKAGE_DIR gets one package per target variant, made by delta_make with
 * the harness geometry (512-byte sectors, 7 stash slots); the targets read
 * them back as their good packages. RESUME_DIR gets inputs for fuzz_resume
 * (layout in fuzz_resume.c) that cut the power at a few points, with and
 * without damage. The same generator gives the same bytes. */
#include "tests/fuzz/fuzz_common.h"

#include "fw_image/bytes.h"
#include "fw_image/gen/delta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    printf("%s: %zu bytes\n", path, len);
    return 0;
}

static int resume_seed(const char *dir, unsigned variant, uint16_t cut, uint8_t flags)
{
    uint8_t in[9 + 16] = {(uint8_t)variant};
    put_le16(in + 1, cut);
    in[3] = flags;
    put_le16(in + 4, 16 * 3); /* the fourth journal record */
    in[6] = 1;                /* the first stash slot */
    put_le16(in + 7, 100);
    memset(in + 9, 0xa5, 16);
    size_t len = (flags & 6) ? sizeof in : 9;
    char name[64];
    snprintf(name, sizeof name, "%s-cut%u-flags%u", fz_variant_name((enum fz_variant)variant), cut,
             flags);
    return write_file(dir, name, in, len);
}

static int write_package(const char *dir, enum fz_variant v)
{
    static uint8_t target[FZ_IMAGE_MAX];
    size_t src_len, tlen = fz_target(v, target);
    const uint8_t *src = fz_source(&src_len);
    struct delta_params dp = {
        .model = FZ_MODEL,
        .src_revision = FZ_SRC_REVISION,
        .tgt_revision = fz_target_revision(v),
        .sector_size = FZ_SECTOR,
        .stash_slots = FZ_STASH_SLOTS,
        .decoder_ram = (uint32_t)(FZ_RAM - patch_fixed_memory()),
        .full = v == FZ_FULL,
    };
    uint8_t *pkg = NULL;
    size_t len;
    char why[160], name[64];
    if (delta_make(src, src_len, target, tlen, &dp, &pkg, &len, why, sizeof why) != 0) {
        fprintf(stderr, "make_seeds: %s: %s\n", fz_variant_name(v), why);
        return -1;
    }
    snprintf(name, sizeof name, "%s.pkg", fz_variant_name(v));
    int rc = write_file(dir, name, pkg, len);
    free(pkg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds PACKAGE_DIR RESUME_DIR\n");
        return 2;
    }
    fz_setup();
    for (unsigned v = 0; v < FZ_VARIANTS; v++)
        if (write_package(argv[1], (enum fz_variant)v) != 0)
            return 1;
    static const uint16_t cuts[] = {0, 40, 150, 400, 2000};
    static const uint8_t flags[] = {0, 1, 2, 5, 15};
    for (unsigned v = 0; v < FZ_VARIANTS; v++)
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
            if (resume_seed(argv[2], v, cuts[i], flags[(v + i) % 5]) != 0)
                return 1;
    return 0;
}
