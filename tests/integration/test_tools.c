/* bcsim image / bcsim pkg as users run them, and the module's boot ROM. */
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include "fw_image/pkg_format.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[65536];
static char dir[] = "/tmp/bcsim-tools-XXXXXX";

/* A deadline, not a wait: pkg make of two whole images under the sanitizers
 * took over 20 s on two loaded cores (baselines_are_not_crossed). */
#define RUN(...) bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 120000)

static const char *path(const char *name)
{
    return scratch_path(dir, name);
}

static void setup(void)
{
    scratch_make(dir, sizeof dir, "tools");
}

static void teardown(void)
{
    scratch_remove(dir);
}

static size_t file_size(const char *p)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    return (size_t)st.st_size;
}

static bool same_files(const char *a, const char *b)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    return system(cmd) == 0;
}

/* The rest of the line after `label` in out (a static copy), or fails. */
static const char *field(const char *label)
{
    static char buf[2][256];
    static int k;
    k = !k;
    const char *at = strstr(out, label);
    ck_assert_msg(at, "no '%s' in: %s", label, out);
    at += strlen(label);
    size_t n = strcspn(at, "\n");
    ck_assert_uint_lt(n, sizeof buf[k]);
    memcpy(buf[k], at, n);
    buf[k][n] = '\0';
    return buf[k];
}

/* The names in the scratch directory, sorted, space-separated. */
static const char *listing(void)
{
    static char buf[1024];
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            strncat(buf, buf[0] ? " " : "", sizeof buf - strlen(buf) - 1);
            strncat(buf, names[i]->d_name, sizeof buf - strlen(buf) - 1);
        }
        free(names[i]);
    }
    free(names);
    return buf;
}

static void write_file(const char *p, const void *data, size_t len)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static bool file_is(const char *p, const char *content)
{
    char buf[256] = "";
    FILE *f = fopen(p, "rb");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(content) && memcmp(buf, content, n) == 0;
}

START_TEST(image_list_and_export)
{
    ck_assert_int_eq(RUN("image", "list"), 0);
    ck_assert_str_eq(out, "bc66 BC66NBR01A07 factory\nbc66 BC66NBR01A08\nbc66 BC66NBR01A10\n"
                          "bc66-na BC66NANBR01A02 factory\nbc66-na BC66NANBR01A03\n"
                          "bc260y-cn BC260YCNAAR01A05\nbc260y-cn BC260YCNAAR02A02 factory\n"
                          "bc260y-cn BC260YCNAAR02A03\n");
    ck_assert_int_eq(RUN("image", "list", "--model", "bc66-na"), 0);
    ck_assert_str_eq(out, "bc66-na BC66NANBR01A02 factory\nbc66-na BC66NANBR01A03\n");
    ck_assert_int_eq(RUN("image", "export", "--model", "bc66", "--revision", "BC66NBR01A08", "-o",
                         path("a08.img")),
                     0);
    ck_assert_int_eq(RUN("image", "info", path("a08.img")), 0);
    ck_assert_msg(strstr(out, "model          bc66\nrevision       BC66NBR01A08\n"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "status         ok\n"));
    /* Deterministic: the same bytes every time. */
    ck_assert_int_eq(RUN("image", "export", "--model", "bc66", "--revision", "BC66NBR01A08", "-o",
                         path("again.img")),
                     0);
    ck_assert(same_files(path("a08.img"), path("again.img")));
    ck_assert_int_eq(RUN("image", "export", "--model", "bc66", "--revision", "BC66NBR09Z99", "-o",
                         path("x.img")),
                     2);
    ck_assert_ptr_nonnull(strstr(out, "bc66 has no built-in revision BC66NBR09Z99"));
}
END_TEST

START_TEST(image_make_and_damage)
{
    FILE *f = fopen(path("raw.bin"), "wb");
    for (int i = 0; i < 5000; i++)
        fputc(i * 7 % 251, f);
    fclose(f);
    ck_assert_int_eq(RUN("image", "make", "--model", "bc260y-cn", "--revision", "MYFW01",
                         "--payload", path("raw.bin"), "-o", path("my.img")),
                     0);
    ck_assert_uint_eq(file_size(path("my.img")), 5000 + 128);
    ck_assert_int_eq(RUN("image", "info", path("my.img")), 0);
    ck_assert_msg(strstr(out, "revision       MYFW01\npayload        5000 bytes\n"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "image          5128 bytes\n"));
    int fd = open(path("my.img"), O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "X", 1, 3000), 1);
    close(fd);
    ck_assert_int_eq(RUN("image", "info", path("my.img")), 1);
    ck_assert_ptr_nonnull(strstr(out, "status         image payload damaged (SHA-256 mismatch)"));
    ck_assert_int_eq(RUN("image", "info", path("raw.bin")), 1);
    ck_assert_ptr_nonnull(strstr(out, "not a bcsim firmware image (bad magic)"));
    ck_assert_int_eq(RUN("image", "info", path("missing.img")), 3);
    ck_assert_int_eq(RUN("image", "make", "--model", "bc99", "--revision", "R", "--payload",
                         path("raw.bin"), "-o", path("x")),
                     2);
    ck_assert_int_eq(RUN("image", "frobnicate"), 2);
    /* Revisions the image header cannot carry, or its readers refuse, are
     * refused here, not written into an image that image info rejects. */
    static const char *const bad[] = {"", "TAB\tHERE", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(RUN("image", "make", "--model", "bc66", "--revision", bad[i], "--payload",
                             path("raw.bin"), "-o", path("bad.img")),
                         2);
        ck_assert_msg(strstr(out, "--revision: 1 to 32 printable ASCII characters"), "%s", out);
        ck_assert_int_eq(access(path("bad.img"), F_OK), -1);
    }
}
END_TEST

/* image info names two hashes, each labelled: the payload's (from the
 * header) and the whole image's, which is what packages name their source
 * and target by; pkg info uses the same label for the same hash. */
START_TEST(sha256_labels_agree)
{
    char payload_sha[80], image_sha[80];
    ck_assert_int_eq(RUN("image", "export", "--model", "bc66", "--revision", "BC66NBR01A07", "-o",
                         path("a07.img")),
                     0);
    ck_assert_int_eq(RUN("image", "export", "--model", "bc66", "--revision", "BC66NBR01A08", "-o",
                         path("a08.img")),
                     0);
    ck_assert_int_eq(RUN("image", "info", path("a07.img")), 0);
    snprintf(payload_sha, sizeof payload_sha, "%s", field("\npayload sha256 "));
    snprintf(image_sha, sizeof image_sha, "%s", field("\nimage sha256   "));
    ck_assert_uint_eq(strlen(payload_sha), 64);
    ck_assert_uint_eq(strlen(image_sha), 64);
    ck_assert_str_ne(payload_sha, image_sha);
    ck_assert_str_eq(field("\nimage          "), "323585 bytes");
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"), "-o",
                         path("up.pkg")),
                     0);
    ck_assert_int_eq(RUN("pkg", "info", path("up.pkg")), 0);
    char want[200];
    snprintf(want, sizeof want, "BC66NBR01A07, 323585 bytes, image sha256 %s", image_sha);
    ck_assert_str_eq(field("\nsource     "), want);
    ck_assert_int_eq(RUN("image", "info", path("a08.img")), 0);
    snprintf(image_sha, sizeof image_sha, "%s", field("\nimage sha256   "));
    ck_assert_int_eq(RUN("pkg", "info", path("up.pkg")), 0);
    snprintf(want, sizeof want, "BC66NBR01A08, 326123 bytes, image sha256 %s", image_sha);
    ck_assert_str_eq(field("\ntarget     "), want);
}
END_TEST

static void export(const char *model, const char *rev, const char *file)
{
    ck_assert_int_eq(RUN("image", "export", "--model", model, "--revision", rev, "-o", path(file)),
                     0);
}

/* From the factory image to the next revision on each model, through the
 * simulated module flash. */
START_TEST(pkg_round_trip_per_model)
{
    static const char *const m[][3] = {{"bc66", "BC66NBR01A07", "BC66NBR01A10"},
                                       {"bc66-na", "BC66NANBR01A02", "BC66NANBR01A03"},
                                       {"bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03"}};
    export(m[_i][0], m[_i][1], "from.img");
    export(m[_i][0], m[_i][2], "to.img");
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("from.img"), "--to", path("to.img"), "-o",
                         path("up.pkg")),
                     0);
    ck_assert_uint_lt(file_size(path("up.pkg")), file_size(path("to.img")) / 4);
    ck_assert_int_eq(RUN("pkg", "info", path("up.pkg")), 0);
    ck_assert_ptr_nonnull(strstr(out, "kind       delta\n"));
    ck_assert_msg(
        strstr(out, "check      ok (the source image is checked by pkg verify --base IMG)\n"), "%s",
        out);
    ck_assert_int_eq(RUN("pkg", "verify", path("up.pkg"), "--base", path("from.img")), 0);
    ck_assert_int_eq(RUN("pkg", "apply", path("up.pkg"), path("from.img"), "-o", path("out.img")),
                     0);
    ck_assert(same_files(path("out.img"), path("to.img")));
    /* A full package gets there too, and is larger. */
    ck_assert_int_eq(RUN("pkg", "make", "--full", "--from", path("from.img"), "--to",
                         path("to.img"), "-o", path("full.pkg")),
                     0);
    ck_assert_uint_gt(file_size(path("full.pkg")), file_size(path("up.pkg")));
    ck_assert_int_eq(
        RUN("pkg", "apply", path("full.pkg"), path("from.img"), "-o", path("out2.img")), 0);
    ck_assert(same_files(path("out2.img"), path("to.img")));
    /* Applied to the wrong base it is refused, and both images are named. */
    ck_assert_int_eq(RUN("pkg", "verify", path("up.pkg"), "--base", path("to.img")), 1);
    char want[200];
    snprintf(want, sizeof want,
             "package is for another source image: base image %s has image sha256 ", m[_i][2]);
    ck_assert_msg(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "..., the package expects %s with image sha256 ", m[_i][1]);
    ck_assert_msg(strstr(out, want), "%s", out);
}
END_TEST

START_TEST(broken_packages_are_refused)
{
    static const char *const breaks[][2] = {
        {"wrong-base", "package is for another source image"},
        {"wrong-model", "package is for bc66-na, this module is bc66"},
        {"corrupt", "package body damaged (SHA-256 mismatch)"},
        {"truncate", "package length does not match its header"},
    };
    export("bc66", "BC66NBR01A07", "a07.img");
    export("bc66", "BC66NBR01A08", "a08.img");
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"),
                             "-o", path("bad.pkg"), "--break", breaks[i][0]),
                         0);
        ck_assert_int_eq(RUN("pkg", "verify", path("bad.pkg"), "--base", path("a07.img")), 1);
        ck_assert_msg(strstr(out, breaks[i][1]), "%s: %s", breaks[i][0], out);
    }
    /* The base and the package's source have the same revision: the bytes
     * differ, and the message says so. */
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"), "-o",
                         path("bad.pkg"), "--break", "wrong-base"),
                     0);
    ck_assert_int_eq(RUN("pkg", "verify", path("bad.pkg"), "--base", path("a07.img")), 1);
    ck_assert_msg(strstr(out, "package is for another source image: base image BC66NBR01A07 has "
                              "image sha256 9a9544556eb7e4c1..., the package expects "
                              "659544556eb7e4c1... (same revision, different bytes)"),
                  "%s", out);
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"), "-o",
                         path("bad.pkg"), "--break", "gently"),
                     2);
    ck_assert_int_eq(RUN("pkg", "info", path("a07.img")), 1);
    ck_assert_ptr_nonnull(strstr(out, "not a bcsim delta package (bad magic)"));
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("nope.img"), "-o",
                         path("x.pkg")),
                     3);
    export("bc260y-cn", "BC260YCNAAR02A02", "y.img");
    ck_assert_int_eq(
        RUN("pkg", "make", "--from", path("a07.img"), "--to", path("y.img"), "-o", path("x.pkg")),
        1);
    ck_assert_ptr_nonnull(strstr(out, "is a bc66 image"));
}
END_TEST

/* pkg info runs the checks of pkg verify that need no base image, and says
 * which one a package fails; the breaks that only a base reveals show in the
 * model and source fields. */
/* Changes the header of the package at `file` in place and re-signs it;
 * the change must keep the header's length. */
static void rewrite_header(const char *file, void (*change)(struct pkg_header *))
{
    int fd = open(file, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t raw[PKG_HEADER_MAX];
    struct pkg_header h;
    ck_assert_int_eq(pread(fd, raw, sizeof raw, 0), sizeof raw);
    ck_assert_int_eq(pkg_header_read(raw, sizeof raw, &h), 0);
    uint32_t n = h.header_len;
    change(&h);
    ck_assert_uint_eq(pkg_header_write(&h, raw), n);
    ck_assert_int_eq(pwrite(fd, raw, n, 0), n);
    close(fd);
}

static void unknown_model(struct pkg_header *h)
{
    strcpy(h->model, "bc99"); /* as long as "bc66" */
}

/* Bigger dictionaries: the streams still decode (a decoder may have more
 * history than the encoder used), but the package needs more RAM. */
static void larger_dictionaries(struct pkg_header *h)
{
    h->stream[PKG_DIFF].dict_log2 = h->stream[PKG_EXTRA].dict_log2 = PKG_DICT_LOG2_MAX;
}

START_TEST(broken_packages_show_in_info)
{
    static const char *const breaks[][3] = {
        {"wrong-base", "0", "ok (the source image is checked by pkg verify --base IMG)"},
        {"wrong-model", "0", "ok (the source image is checked by pkg verify --base IMG)"},
        {"corrupt", "1", "package body damaged (SHA-256 mismatch)"},
        {"truncate", "1", "package length does not match its header"},
    };
    export("bc66", "BC66NBR01A07", "a07.img");
    export("bc66", "BC66NBR01A08", "a08.img");
    ck_assert_int_eq(RUN("image", "info", path("a07.img")), 0);
    char good_source[200];
    snprintf(good_source, sizeof good_source, "BC66NBR01A07, 323585 bytes, image sha256 %s",
             field("\nimage sha256   "));
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"),
                             "-o", path("bad.pkg"), "--break", breaks[i][0]),
                         0);
        ck_assert_int_eq(RUN("pkg", "info", path("bad.pkg")), breaks[i][1][0] - '0');
        ck_assert_str_eq(field("\ncheck      "), breaks[i][2]);
        ck_assert_str_eq(field("model      "), i == 1 ? "bc66-na" : "bc66");
        if (i == 0)
            ck_assert_str_ne(field("\nsource     "), good_source);
        else
            ck_assert_str_eq(field("\nsource     "), good_source);
    }
    /* A package for a model bcsim does not know (its header re-signed). */
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"), "-o",
                         path("other.pkg")),
                     0);
    rewrite_header(path("other.pkg"), unknown_model);
    ck_assert_int_eq(RUN("pkg", "info", path("other.pkg")), 1);
    ck_assert_str_eq(field("\ncheck      "), "package is for an unknown model 'bc99'");
}
END_TEST

/* Each model's updater has a RAM budget (profile.c): pkg make fits every
 * package in it, pkg info prints what a package needs, and the module
 * refuses a package that needs more before it writes anything. */
START_TEST(updater_ram_is_a_budget)
{
    static const char *const pairs[][4] = {
        {"bc66", "BC66NBR01A07", "BC66NBR01A10", "65536"},
        {"bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "49152"},
    };
    for (int i = 0; i < 2; i++) {
        export(pairs[i][0], pairs[i][1], "a.img");
        export(pairs[i][0], pairs[i][2], "b.img");
        ck_assert_int_eq(
            RUN("pkg", "make", "--from", path("a.img"), "--to", path("b.img"), "-o", path("u.pkg")),
            0);
        ck_assert_int_eq(RUN("pkg", "info", path("u.pkg")), 0);
        char tail[80];
        snprintf(tail, sizeof tail, " bytes of updater RAM to apply (the %s gives its updater %s)",
                 pairs[i][0], pairs[i][3]);
        const char *mem = field("\nmemory     ");
        ck_assert_msg(strstr(mem, tail), "%s", mem);
        ck_assert_uint_le(strtoul(mem, NULL, 10), strtoul(pairs[i][3], NULL, 10));
        ck_assert_uint_gt(strtoul(mem, NULL, 10), 16384);
        ck_assert_int_eq(RUN("pkg", "verify", path("u.pkg"), "--base", path("a.img")), 0);

        rewrite_header(path("u.pkg"), larger_dictionaries);
        ck_assert_int_eq(RUN("pkg", "info", path("u.pkg")), 0); /* the package itself checks */
        ck_assert_uint_gt(strtoul(field("\nmemory     "), NULL, 10),
                          strtoul(pairs[i][3], NULL, 10));
        ck_assert_int_eq(RUN("pkg", "verify", path("u.pkg"), "--base", path("a.img")), 1);
        char want[80];
        snprintf(want, sizeof want, "bytes of updater RAM, this module has %s\n", pairs[i][3]);
        ck_assert_msg(strstr(out, want), "%s", out);
    }
}
END_TEST

/* Card 1: R01 and R02 firmware lines cannot be crossed on BC260Y-CN. The
 * package generator refuses, naming why, unless --force; the module and
 * pkg info refuse such a package. */
START_TEST(baselines_are_not_crossed)
{
    export("bc260y-cn", "BC260YCNAAR01A05", "r01.img");
    export("bc260y-cn", "BC260YCNAAR02A02", "r02.img");
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("r01.img"), "--to", path("r02.img"), "-o",
                         path("cross.pkg")),
                     1);
    ck_assert_msg(strstr(out,
                         "bcsim pkg make: bc260y-cn cannot update across baselines (R01 to "
                         "R02): the module refuses such a package (--force makes it anyway)\n"),
                  "%s", out);
    ck_assert_str_eq(listing(), "r01.img r02.img");
    ck_assert_int_eq(RUN("pkg", "make", "--force", "--from", path("r01.img"), "--to",
                         path("r02.img"), "-o", path("cross.pkg")),
                     0);
    ck_assert_msg(strstr(out, "bcsim pkg make: warning: bc260y-cn cannot update across baselines "
                              "(R01 to R02): the module will refuse this package\n"),
                  "%s", out);
    ck_assert_int_eq(RUN("pkg", "info", path("cross.pkg")), 1);
    ck_assert_str_eq(field("\ncheck      "),
                     "bc260y-cn cannot update across baselines (R01 to R02)");
    ck_assert_int_eq(RUN("pkg", "verify", path("cross.pkg"), "--base", path("r01.img")), 1);
    ck_assert_msg(strstr(out, "bc260y-cn cannot update across baselines (R01 to R02)"), "%s", out);
}
END_TEST

/* An output that cannot be created is reported first, before the inputs
 * are read and the search made: with inputs that would be refused, the
 * error is about the output. Nothing is left behind, and a user's file is
 * replaced only by a complete package. */
START_TEST(output_checked_first)
{
    export("bc66", "BC66NBR01A07", "a07.img");
    export("bc66", "BC66NBR01A08", "a08.img");
    export("bc66-na", "BC66NANBR01A02", "na.img");
    char want[300];
    snprintf(want, sizeof want, "bcsim: %s: No such file or directory\n", path("missing/x.pkg"));
    ck_assert_int_eq(
        RUN("pkg", "make", "--from", path("a07.img"), "--to", path("na.img"), "-o", path("x.pkg")),
        1);
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("na.img"), "-o",
                         path("missing/x.pkg")),
                     3);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("nope.img"), "--to", path("a08.img"), "-o",
                         path("missing/x.pkg")),
                     3);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(mkdir(path("sub"), 0755), 0);
    ck_assert_int_eq(
        RUN("pkg", "make", "--from", path("a07.img"), "--to", path("na.img"), "-o", path("sub")),
        3);
    snprintf(want, sizeof want, "bcsim: %s: is a directory\n", path("sub"));
    ck_assert_str_eq(out, want);
    ck_assert_str_eq(listing(), "a07.img a08.img na.img sub");

    /* A user's file survives a failed make and is replaced by a good one. */
    write_file(path("keep.pkg"), "precious", 8);
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("na.img"), "-o",
                         path("keep.pkg")),
                     1);
    ck_assert(file_is(path("keep.pkg"), "precious"));
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"), "-o",
                         path("keep.pkg")),
                     0);
    ck_assert_int_eq(RUN("pkg", "info", path("keep.pkg")), 0);
    ck_assert_str_eq(listing(), "a07.img a08.img keep.pkg na.img sub");

    /* pkg apply too: the output before the apply (this package is refused). */
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("a07.img"), "--to", path("a08.img"), "-o",
                         path("bad.pkg"), "--break", "corrupt"),
                     0);
    ck_assert_int_eq(RUN("pkg", "apply", path("bad.pkg"), path("a07.img"), "-o", path("out.img")),
                     1);
    ck_assert_int_eq(
        RUN("pkg", "apply", path("bad.pkg"), path("a07.img"), "-o", path("missing/out.img")), 3);
    snprintf(want, sizeof want, "bcsim: %s: No such file or directory\n", path("missing/out.img"));
    ck_assert_str_eq(out, want);
    ck_assert_str_eq(listing(), "a07.img a08.img bad.pkg keep.pkg na.img sub");
}
END_TEST

/* The module reports the revision of the image in its flash, and a damaged
 * image leaves it silent until a factory reset. */
START_TEST(boot_rom_reads_flash)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[4096], flash[300];
    bcsim_start(&p, "bc66", NULL);
    ck_assert_int_eq(bcsim_halt(&p), 0);
    snprintf(flash, sizeof flash, "%s/flash.bin", p.state);
    snprintf(buf, sizeof buf, "%s/a10.img", p.dir);
    ck_assert_int_eq(
        RUN("image", "export", "--model", "bc66", "--revision", "BC66NBR01A10", "-o", buf), 0);
    snprintf(out, sizeof out, "dd if=%s of=%s conv=notrunc status=none", buf, flash);
    ck_assert_int_eq(system(out), 0);
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "AT+CGMR", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+CGMR\r\r\nRevision: BC66NBR01A10\r\n\r\nOK\r\n");
    host_close(&h);
    ck_assert_int_eq(bcsim_halt(&p), 0);

    /* One flipped byte in the payload: the boot ROM refuses it. */
    int fd = open(flash, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "\x55", 1, 10000), 1);
    close(fd);
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_send(&h, "AT\r");
    ck_assert_uint_eq(host_drain(&h, buf, sizeof buf, 500), 0); /* no RDY, no answer */
    char status[2048];
    bcsim_ctl(&p, status, sizeof status, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(status, "\"revision\":\"\",\"firmware\":\"bricked\""), "%s", status);
    host_close(&h);
    ck_assert_int_eq(bcsim_halt(&p), 0);

    bcsim_start(&p, "bc66", (const char *[]){"--factory-reset", NULL});
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "AT+CGMR", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+CGMR\r\r\nRevision: BC66NBR01A07\r\n\r\nOK\r\n");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

Suite *tools_suite(void)
{
    Suite *s = suite_create("tools");
    TCase *tc = tcase_create("tools");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, image_list_and_export);
    tcase_add_test(tc, image_make_and_damage);
    tcase_add_loop_test(tc, pkg_round_trip_per_model, 0, 3);
    tcase_add_test(tc, sha256_labels_agree);
    tcase_add_test(tc, broken_packages_are_refused);
    tcase_add_test(tc, broken_packages_show_in_info);
    tcase_add_test(tc, updater_ram_is_a_budget);
    tcase_add_test(tc, baselines_are_not_crossed);
    tcase_add_test(tc, output_checked_first);
    tcase_add_test(tc, boot_rom_reads_flash);
    suite_add_tcase(s, tc);
    return s;
}
