/* bcsim image list|export|make|info: the firmware images users build packages from. */
#include "tools/bcsim/cli.h"
#include "tools/bcsim/cli_args.h"

#include "fw_image/image.h"
#include "sim/firmware.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_image_usage[] =
    "usage: bcsim image list [--model M]\n"
    "       bcsim image export --model M --revision R -o IMG\n"
    "       bcsim image make --model M --revision R --payload RAW -o IMG\n"
    "       bcsim image info IMG\n"
    "\n"
    "  list     the built-in images, one per line: model, revision (oldest first),\n"
    "           and 'factory' on the one a new module ships with\n"
    "  export   write a built-in image to a file\n"
    "  make     wrap any binary as an image of a model and revision\n"
    "  info     show an image's header and whether its payload checks\n"
    "\n"
    "Exit status: 0 done, 1 the image does not check, 2 usage, 3 a file cannot be used.\n";

struct image_opts {
    const char *model, *revision, *payload, *out;
    const char *arg; /* the one positional argument */
};

static int parse(int argc, char **argv, struct image_opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_take(argc, argv, &i, "--model", &v)) != 0)
            o->model = v;
        else if ((r = cli_take(argc, argv, &i, "--revision", &v)) != 0)
            o->revision = v;
        else if ((r = cli_take(argc, argv, &i, "--payload", &v)) != 0)
            o->payload = v;
        else if ((r = cli_take(argc, argv, &i, "-o", &v)) != 0)
            o->out = v;
        else if (argv[i][0] == '-' || o->arg) {
            fprintf(stderr, "bcsim image: unexpected argument '%s'\n", argv[i]);
            return -1;
        } else {
            o->arg = argv[i];
            r = 1;
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

static const struct profile *need_model(const char *id)
{
    const struct profile *p = id ? prof_find(id) : NULL;
    if (!p)
        fprintf(stderr, "bcsim image: %s (bc66, bc66-na, bc260y-cn)\n",
                id ? "unknown model" : "--model is required");
    return p;
}

static int list(const struct image_opts *o)
{
    const struct profile *only = NULL;
    if (o->model && !(only = need_model(o->model)))
        return CLI_USAGE;
    for (int k = 0; prof_all[k]; k++) {
        const struct profile *p = prof_all[k];
        if (only && p != only)
            continue;
        for (unsigned i = 0; p->revisions[i].name; i++)
            printf("%s %s%s\n", p->id, p->revisions[i].name, i == p->factory ? " factory" : "");
    }
    return CLI_OK;
}

static int export_image(const struct image_opts *o)
{
    const struct profile *p = need_model(o->model);
    if (!p)
        return CLI_USAGE;
    if (!o->revision || !o->out) {
        fprintf(stderr, "bcsim image export: --revision and -o are required\n");
        return CLI_USAGE;
    }
    const struct prof_revision *r = prof_revision(p, o->revision);
    if (!r) {
        fprintf(stderr, "bcsim image export: %s has no built-in revision %s ('bcsim image list')\n",
                p->id, o->revision);
        return CLI_USAGE;
    }
    uint8_t *img;
    size_t len;
    if (fw_builtin_image(p, r, &img, &len) != 0) {
        fprintf(stderr, "bcsim image export: out of memory\n");
        return CLI_FAILED;
    }
    int rc = cli_write_file(o->out, img, len) ? CLI_UNAVAILABLE : CLI_OK;
    free(img);
    return rc;
}

/* What the image header can hold and every reader accepts (img_field_get). */
static bool revision_ok(const char *r)
{
    size_t n = strlen(r);
    for (size_t i = 0; i < n; i++)
        if (r[i] < 0x20 || r[i] > 0x7e)
            return false;
    return n > 0 && n <= IMG_REVISION_MAX;
}

static int make(const struct image_opts *o)
{
    const struct profile *p = need_model(o->model);
    if (!p)
        return CLI_USAGE;
    if (!o->revision || !o->payload || !o->out) {
        fprintf(stderr, "bcsim image make: --revision, --payload and -o are required\n");
        return CLI_USAGE;
    }
    if (!revision_ok(o->revision)) {
        fprintf(stderr, "bcsim image make: --revision: 1 to %d printable ASCII characters\n",
                IMG_REVISION_MAX);
        return CLI_USAGE;
    }
    uint8_t *payload;
    size_t len;
    if (cli_read_file(o->payload, &payload, &len) != 0)
        return CLI_UNAVAILABLE;
    int rc = CLI_OK;
    struct img_header h;
    if (len + IMG_HEADER_SIZE > p->flash.fw_size) {
        fprintf(stderr,
                "bcsim image make: %s: %zu bytes do not fit the %u-byte firmware region of %s\n",
                o->payload, len, p->flash.fw_size - IMG_HEADER_SIZE, p->id);
        rc = CLI_FAILED;
    } else {
        img_header_make(&h, p->id, o->revision, payload, (uint32_t)len); /* fields checked */
        uint8_t *img = malloc(IMG_HEADER_SIZE + len);
        if (!img) {
            rc = CLI_FAILED;
        } else {
            img_header_write(&h, img);
            memcpy(img + IMG_HEADER_SIZE, payload, len);
            rc = cli_write_file(o->out, img, IMG_HEADER_SIZE + len) ? CLI_UNAVAILABLE : CLI_OK;
            free(img);
        }
    }
    free(payload);
    return rc;
}

static int info(const struct image_opts *o)
{
    if (!o->arg) {
        fprintf(stderr, "bcsim image info: which image?\n");
        return CLI_USAGE;
    }
    uint8_t *img;
    size_t len;
    if (cli_read_file(o->arg, &img, &len) != 0)
        return CLI_UNAVAILABLE;
    struct img_header h;
    int err = img_check(img, len, &h);
    if (err && err != IMG_EHASH) {
        fprintf(stderr, "bcsim image info: %s: %s\n", o->arg, img_strerror(err));
        free(img);
        return CLI_FAILED;
    }
    /* Two hashes, labelled apart: the header's, of the payload, and the one
     * packages name their source and target by, of the whole image. */
    uint8_t digest[SHA256_LEN];
    char payload_hex[2 * SHA256_LEN + 1], image_hex[2 * SHA256_LEN + 1];
    sha256_hex(h.payload_sha256, payload_hex);
    sha256(img, img_total_size(&h), digest);
    sha256_hex(digest, image_hex);
    free(img);
    printf("model          %s\n"
           "revision       %s\n"
           "payload        %u bytes\n"
           "payload sha256 %s\n"
           "image          %u bytes\n"
           "image sha256   %s\n"
           "status         %s\n",
           h.model, h.revision, h.payload_size, payload_hex, img_total_size(&h), image_hex,
           err ? img_strerror(err) : "ok");
    return err ? CLI_FAILED : CLI_OK;
}

int cli_image(int argc, char **argv)
{
    struct image_opts o = {0};
    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        fputs(cli_image_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? CLI_USAGE : CLI_OK;
    }
    if (parse(argc - 1, argv + 1, &o) != 0)
        return CLI_USAGE;
    static const struct {
        const char *name;
        int (*fn)(const struct image_opts *o);
    } verbs[] = {{"list", list}, {"export", export_image}, {"make", make}, {"info", info}};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(argv[0], verbs[i].name) == 0)
            return verbs[i].fn(&o);
    fprintf(stderr, "bcsim image: no verb '%s' (list, export, make, info)\n", argv[0]);
    return CLI_USAGE;
}
