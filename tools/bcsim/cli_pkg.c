/* bcsim pkg make|info|verify|apply: delta packages, made and checked on the host. */
#include "tools/bcsim/cli.h"
#include "tools/bcsim/cli_args.h"

#include "fw_image/gen/delta.h"
#include "fw_image/patch.h"
#include "sim/firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_pkg_usage[] =
    "usage: bcsim pkg make --from IMG --to IMG -o PKG [--full] [--best] [--force]\n"
    "                      [--break wrong-base|wrong-model|corrupt|truncate]\n"
    "       bcsim pkg info PKG\n"
    "       bcsim pkg verify PKG --base IMG\n"
    "       bcsim pkg apply PKG IMG -o OUT\n"
    "\n"
    "  make     a delta package from one image to another of the same model\n"
    "           --full   carry the whole target (no reference to the source)\n"
    "           --best   try every compression setting in full (slower, a little smaller)\n"
    "           --force  make it even if the module would refuse any package\n"
    "                    between these images (across R01/R02 baselines)\n"
    "           --break  a deliberately bad package, for testing host code:\n"
    "                    wrong-base (made for another source image), wrong-model,\n"
    "                    corrupt (one body byte flipped), truncate (half of it)\n"
    "  info     header, sizes, ratio and streams of a package, and whether it\n"
    "           checks as far as it can without a base image\n"
    "  verify   would a module running IMG accept PKG? (the module's own checks)\n"
    "  apply    apply PKG to IMG in a simulated flash, as the module would, into OUT\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed (the reason is printed), 2 usage,\n"
    "3 a file cannot be read or written.\n";

struct pkg_opts {
    const char *from, *to, *out, *base, *breakage;
    const char *args[2];
    int nargs;
    int full, best, force;
};

static int parse(int argc, char **argv, struct pkg_opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_take(argc, argv, &i, "--from", &v)) != 0)
            o->from = v;
        else if ((r = cli_take(argc, argv, &i, "--to", &v)) != 0)
            o->to = v;
        else if ((r = cli_take(argc, argv, &i, "-o", &v)) != 0)
            o->out = v;
        else if ((r = cli_take(argc, argv, &i, "--base", &v)) != 0)
            o->base = v;
        else if ((r = cli_take(argc, argv, &i, "--break", &v)) != 0)
            o->breakage = v;
        else if (strcmp(argv[i], "--full") == 0)
            o->full = r = 1;
        else if (strcmp(argv[i], "--best") == 0)
            o->best = r = 1;
        else if (strcmp(argv[i], "--force") == 0)
            o->force = r = 1;
        else if (argv[i][0] != '-' && o->nargs < 2)
            o->args[o->nargs++] = argv[i], r = 1;
        else {
            fprintf(stderr, "bcsim pkg: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

/* Reads a file that must be a valid image. */
static int load_image(const char *path, uint8_t **img, size_t *len, struct img_header *h)
{
    if (cli_read_file(path, img, len) != 0)
        return CLI_UNAVAILABLE;
    int err = img_check(*img, *len, h);
    if (err) {
        fprintf(stderr, "bcsim pkg: %s: %s\n", path, img_strerror(err));
        free(*img);
        return CLI_FAILED;
    }
    *len = img_total_size(h); /* trailing bytes are not part of the image */
    return CLI_OK;
}

static const struct profile *model_of(const char *path, const char *id)
{
    const struct profile *p = prof_find(id);
    if (!p)
        fprintf(stderr, "bcsim pkg: %s: unknown model '%s'\n", path, id);
    return p;
}

/* Re-signs a header after a deliberate change (its length may change). */
static int rewrite_header(uint8_t **pkg, size_t *len, void (*change)(struct pkg_header *))
{
    struct pkg_header h;
    uint8_t head[PKG_HEADER_MAX];
    if (pkg_header_read(*pkg, *len, &h) != PKG_OK)
        return -1;
    size_t body = *len - h.header_len;
    change(&h);
    size_t hl = pkg_header_write(&h, head);
    uint8_t *p = malloc(hl + body);
    if (hl == 0 || !p) {
        free(p);
        return -1;
    }
    memcpy(p, head, hl);
    memcpy(p + hl, *pkg + *len - body, body);
    free(*pkg);
    *pkg = p;
    *len = hl + body;
    return 0;
}

static void other_base(struct pkg_header *h)
{
    h->src_sha256[0] ^= 0xff;
}

static void other_model(struct pkg_header *h)
{
    for (int k = 0; prof_all[k]; k++) {
        if (strcmp(prof_all[k]->id, h->model) != 0) {
            snprintf(h->model, sizeof h->model, "%s", prof_all[k]->id);
            return;
        }
    }
}

/* What the module would say of any package between these images, before
 * the search: same model, and no baseline it refuses to cross (a refusal
 * unless --force, then a warning). The profile, or NULL after printing why. */
static const struct profile *make_checks(const struct pkg_opts *o, const struct img_header *oh,
                                         const struct img_header *nh)
{
    const struct profile *p = model_of(o->to, nh->model);
    if (p && strcmp(oh->model, nh->model) != 0) {
        fprintf(stderr, "bcsim pkg make: %s is a %s image, %s a %s image\n", o->from, oh->model,
                o->to, nh->model);
        return NULL;
    }
    struct pkg_header h = {0};
    snprintf(h.src_revision, sizeof h.src_revision, "%s", oh->revision);
    snprintf(h.tgt_revision, sizeof h.tgt_revision, "%s", nh->revision);
    char why[160];
    if (p && fw_check_baseline(p, &h, why, sizeof why) != 0) {
        if (!o->force) {
            fprintf(stderr,
                    "bcsim pkg make: %s: the module refuses such a package (--force makes it "
                    "anyway)\n",
                    why);
            return NULL;
        }
        fprintf(stderr, "bcsim pkg make: warning: %s: the module will refuse this package\n", why);
    }
    return p;
}

static int make(const struct pkg_opts *o)
{
    if (!o->from || !o->to || !o->out) {
        fprintf(stderr, "bcsim pkg make: --from, --to and -o are required\n");
        return CLI_USAGE;
    }
    static const char *const breaks[] = {"wrong-base", "wrong-model", "corrupt", "truncate"};
    int brk = -1;
    for (int i = 0; o->breakage && i < 4; i++)
        if (strcmp(o->breakage, breaks[i]) == 0)
            brk = i;
    if (o->breakage && brk < 0) {
        fprintf(stderr,
                "bcsim pkg make: --break %s: expected wrong-base, wrong-model, corrupt "
                "or truncate\n",
                o->breakage);
        return CLI_USAGE;
    }
    /* The search takes a while: a bad -o is reported first, not after it. */
    if (cli_check_output(o->out) != 0)
        return CLI_UNAVAILABLE;
    uint8_t *old, *new, *pkg = NULL;
    size_t old_len, new_len, pkg_len = 0;
    struct img_header oh, nh;
    int rc = load_image(o->from, &old, &old_len, &oh);
    if (rc)
        return rc;
    if ((rc = load_image(o->to, &new, &new_len, &nh)) != 0) {
        free(old);
        return rc;
    }
    rc = CLI_FAILED;
    const struct profile *p = make_checks(o, &oh, &nh);
    if (!p)
        goto done;
    char why[256];
    struct delta_params params = {
        .model = p->id,
        .src_revision = oh.revision,
        .tgt_revision = nh.revision,
        .sector_size = p->flash.sector_size,
        .stash_slots = p->flash.scratch_size / p->flash.sector_size - 1,
        .decoder_ram = (uint32_t)(p->updater_ram - patch_fixed_memory()),
        .full = o->full,
        .best = o->best,
    };
    if (delta_make(old, old_len, new, new_len, &params, &pkg, &pkg_len, why, sizeof why)) {
        fprintf(stderr, "bcsim pkg make: %s\n", why);
        goto done;
    }
    struct pkg_header made;
    pkg_header_read(pkg, pkg_len, &made);
    if ((brk == 0 && rewrite_header(&pkg, &pkg_len, other_base) != 0) ||
        (brk == 1 && rewrite_header(&pkg, &pkg_len, other_model) != 0)) {
        fprintf(stderr, "bcsim pkg make: --break %s: out of memory\n", o->breakage);
        goto done;
    }
    if (brk == 2)
        pkg[made.header_len + (pkg_len - made.header_len) / 2] ^= 0x01;
    else if (brk == 3)
        pkg_len /= 2;
    if (cli_write_file(o->out, pkg, pkg_len) != 0) {
        rc = CLI_UNAVAILABLE;
        goto done;
    }
    rc = CLI_OK;
    printf("%s: %zu bytes, %.1f%% of the %zu-byte target (%s -> %s)\n", o->out, pkg_len,
           100.0 * (double)pkg_len / (double)new_len, new_len, oh.revision, nh.revision);
done:
    free(pkg);
    free(old);
    free(new);
    return rc;
}

static int load_package(const char *path, uint8_t **pkg, size_t *len, struct pkg_header *h)
{
    if (cli_read_file(path, pkg, len) != 0)
        return CLI_UNAVAILABLE;
    int err = pkg_header_read(*pkg, *len, h);
    if (err) {
        fprintf(stderr, "bcsim pkg: %s: %s\n", path, pkg_strerror(err));
        free(*pkg);
        return CLI_FAILED;
    }
    return CLI_OK;
}

/* A RAM flash of model p with `pkg` in its FOTA area, or -1 and why. */
static int stage_package(struct ram_flash *rf, const struct profile *p, const uint8_t *pkg,
                         size_t len, char *why, size_t why_size)
{
    const struct flash_geometry *g = &p->flash;
    if (fw_ram_flash_open(rf, p) != 0) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    if (len > g->fota_size) {
        snprintf(why, why_size, "package (%zu bytes) larger than the %u-byte FOTA area of %s", len,
                 g->fota_size, p->id);
        return -1;
    }
    if (flash_program(&rf->flash, g->fota_offset, pkg, (uint32_t)len) != 0) {
        snprintf(why, why_size, "package does not fit the flash of %s", p->id);
        return -1;
    }
    return 0;
}

/* The checks of `pkg verify` that need no base image: those of the package
 * itself, in a flash of its model, and the model's baseline policy. */
static int check_alone(const uint8_t *pkg, size_t len, const struct pkg_header *h, char *why,
                       size_t why_size)
{
    const struct profile *p = prof_find(h->model);
    if (!p) {
        snprintf(why, why_size, "package is for an unknown model '%s'", h->model);
        return -1;
    }
    struct ram_flash rf = {0};
    struct patch *pt = malloc(sizeof *pt);
    int rc = -1;
    if (!pt)
        snprintf(why, why_size, "out of memory");
    else if (stage_package(&rf, p, pkg, len, why, why_size) == 0) {
        if (patch_check_package(pt, &rf.flash, p->flash.fota_offset, (uint32_t)len) != 0)
            snprintf(why, why_size, "%s", pt->why);
        else
            rc = fw_check_baseline(p, h, why, why_size);
    }
    fw_ram_flash_close(&rf);
    free(pt);
    return rc;
}

static int info(const struct pkg_opts *o)
{
    if (o->nargs != 1) {
        fprintf(stderr, "bcsim pkg info: which package?\n");
        return CLI_USAGE;
    }
    uint8_t *pkg;
    size_t len;
    struct pkg_header h;
    int rc = load_package(o->args[0], &pkg, &len, &h);
    if (rc)
        return rc;
    char why[256];
    int bad = check_alone(pkg, len, &h, why, sizeof why);
    char src[2 * SHA256_LEN + 1], tgt[2 * SHA256_LEN + 1];
    sha256_hex(h.src_sha256, src);
    sha256_hex(h.tgt_sha256, tgt);
    printf("model      %s\n"
           "source     %s, %u bytes, image sha256 %s\n"
           "target     %s, %u bytes, image sha256 %s\n"
           "kind       %s\n"
           "package    %zu bytes, %.1f%% of the target, header %u bytes\n"
           "plan       %u steps of %u-byte sectors, %u stash slots (in the control stream)\n",
           h.model, h.src_revision, h.src_size, src, h.tgt_revision, h.tgt_size, tgt,
           h.flags & PKG_FLAG_FULL ? "full image" : "delta", len,
           100.0 * (double)len / (double)h.tgt_size, h.header_len, h.steps, h.sector_size,
           h.stash_slots);
    static const char *const names[] = {"control", "diff", "extra"};
    for (int i = 0; i < PKG_STREAMS; i++)
        printf("%-10s %u -> %u bytes (lc=%u lp=%u pb=%u dict=%u KiB)\n", names[i],
               h.stream[i].raw_len, h.stream[i].packed_len, h.stream[i].lc, h.stream[i].lp,
               h.stream[i].pb, (1u << h.stream[i].dict_log2) / 1024);
    const struct profile *mp = prof_find(h.model);
    printf("memory     %zu bytes of updater RAM to apply", patch_memory_needed(&h));
    if (mp)
        printf(" (the %s gives its updater %u)", mp->id, mp->updater_ram);
    printf("\n");
    if (bad)
        printf("check      %s\n", why);
    else
        printf("check      ok (the source image is checked by pkg verify --base IMG)\n");
    free(pkg);
    return bad ? CLI_FAILED : CLI_OK;
}

/* Why a package for another source image does not fit `base`: the revisions
 * alone may be equal, so the image SHA-256s are named too (16 hex digits
 * tell them apart). */
/* Says how the base differs from the package's source, if it does. */
static bool other_source(const struct pkg_header *h, const uint8_t *base, size_t base_len,
                         const struct img_header *bh, char *why, size_t why_size)
{
    uint8_t digest[SHA256_LEN];
    char have[2 * SHA256_LEN + 1], want[2 * SHA256_LEN + 1];
    sha256(base, base_len, digest);
    if (memcmp(digest, h->src_sha256, SHA256_LEN) == 0)
        return false;
    sha256_hex(digest, have);
    sha256_hex(h->src_sha256, want);
    if (strcmp(bh->revision, h->src_revision) == 0)
        snprintf(why, why_size,
                 "package is for another source image: base image %s has image sha256 %.16s..., "
                 "the package expects %.16s... (same revision, different bytes)",
                 bh->revision, have, want);
    else
        snprintf(why, why_size,
                 "package is for another source image: base image %s has image sha256 %.16s..., "
                 "the package expects %s with image sha256 %.16s...",
                 bh->revision, have, h->src_revision, want);
    return true;
}

/* A module of the package's model, running `base`, with `pkg` downloaded:
 * runs its checks, and the update itself when `out` is set. */
static int simulate(const char *pkg_path, const char *base_path, const char *out)
{
    uint8_t *pkg, *base;
    size_t pkg_len, base_len;
    struct pkg_header h;
    struct img_header bh;
    int rc = load_package(pkg_path, &pkg, &pkg_len, &h);
    if (rc)
        return rc;
    if ((rc = load_image(base_path, &base, &base_len, &bh)) != 0) {
        free(pkg);
        return rc;
    }
    const struct profile *p = model_of(base_path, bh.model);
    struct ram_flash rf = {0};
    struct patch *pt = malloc(sizeof *pt);
    char why[256] = "";
    rc = CLI_FAILED;
    if (!p || !pt)
        goto done;
    if (stage_package(&rf, p, pkg, pkg_len, why, sizeof why) != 0)
        goto done;
    const struct flash_geometry *g = &p->flash;
    if (base_len > g->fw_size || fw_install(&rf.flash, base, base_len) != 0) {
        snprintf(why, sizeof why, "%s does not fit the flash of %s", base_path, p->id);
        goto done;
    }
    int r = fw_accept_package(p, pt, &rf.flash, g->fota_offset, (uint32_t)pkg_len);
    if (r == PATCH_EMISMATCH && strcmp(pt->hdr.model, p->id) == 0 &&
        other_source(&pt->hdr, base, base_len, &bh, why, sizeof why))
        goto done;
    if (r == 0 && out) {
        r = patch_start(pt);
        while (r == PATCH_MORE)
            r = patch_step(pt);
    }
    if (r != 0) {
        snprintf(why, sizeof why, "%s", pt->why);
        goto done;
    }
    if (out) {
        rc = cli_write_file(out, rf.mem + g->fw_offset, h.tgt_size) ? CLI_UNAVAILABLE : CLI_OK;
        if (rc == CLI_OK)
            printf("%s: %s (%u bytes), apply memory %zu bytes\n", out, h.tgt_revision, h.tgt_size,
                   patch_memory_used(pt));
    } else {
        printf("ok: %s updates %s %s to %s\n", pkg_path, p->id, bh.revision, h.tgt_revision);
        rc = CLI_OK;
    }
done:
    if (*why)
        fprintf(stderr, "bcsim pkg: %s: %s\n", pkg_path, why);
    fw_ram_flash_close(&rf);
    free(pt);
    free(pkg);
    free(base);
    return rc;
}

static int verify(const struct pkg_opts *o)
{
    if (o->nargs != 1 || !o->base) {
        fprintf(stderr, "bcsim pkg verify: usage: bcsim pkg verify PKG --base IMG\n");
        return CLI_USAGE;
    }
    return simulate(o->args[0], o->base, NULL);
}

static int apply(const struct pkg_opts *o)
{
    if (o->nargs != 2 || !o->out) {
        fprintf(stderr, "bcsim pkg apply: usage: bcsim pkg apply PKG IMG -o OUT\n");
        return CLI_USAGE;
    }
    /* OUT is written after the whole apply: a bad one is reported first. */
    if (cli_check_output(o->out) != 0)
        return CLI_UNAVAILABLE;
    return simulate(o->args[0], o->args[1], o->out);
}

int cli_pkg(int argc, char **argv)
{
    struct pkg_opts o = {0};
    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        fputs(cli_pkg_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? CLI_USAGE : CLI_OK;
    }
    if (parse(argc - 1, argv + 1, &o) != 0)
        return CLI_USAGE;
    static const struct {
        const char *name;
        int (*fn)(const struct pkg_opts *o);
    } verbs[] = {{"make", make}, {"info", info}, {"verify", verify}, {"apply", apply}};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(argv[0], verbs[i].name) == 0)
            return verbs[i].fn(&o);
    fprintf(stderr, "bcsim pkg: no verb '%s' (make, info, verify, apply)\n", argv[0]);
    return CLI_USAGE;
}
