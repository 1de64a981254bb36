/* bcsim image / bcsim pkg as users run them, and the module's boot ROM. */
#include "host.h"
#include "suites.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[65536];
static char dir[] = "/tmp/bcsim-tools-XXXXXX";

#define RUN(...) bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 20000)

static const char *path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void setup(void)
{
    strcpy(dir, "/tmp/bcsim-tools-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
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
    ck_assert_msg(strstr(out, "model     bc66\nrevision  BC66NBR01A08\n"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "status    ok\n"));
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
    ck_assert_ptr_nonnull(strstr(out, "revision  MYFW01\npayload   5000 bytes\n"));
    int fd = open(path("my.img"), O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "X", 1, 3000), 1);
    close(fd);
    ck_assert_int_eq(RUN("image", "info", path("my.img")), 1);
    ck_assert_ptr_nonnull(strstr(out, "status    image payload damaged (SHA-256 mismatch)"));
    ck_assert_int_eq(RUN("image", "info", path("raw.bin")), 1);
    ck_assert_ptr_nonnull(strstr(out, "not a bcsim firmware image (bad magic)"));
    ck_assert_int_eq(RUN("image", "info", path("missing.img")), 3);
    ck_assert_int_eq(RUN("image", "make", "--model", "bc99", "--revision", "R", "--payload",
                         path("raw.bin"), "-o", path("x")),
                     2);
    ck_assert_int_eq(RUN("image", "frobnicate"), 2);
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
    ck_assert_ptr_nonnull(strstr(out, "body       ok\n"));
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
    /* Applied to the wrong base it is refused. */
    ck_assert_int_eq(RUN("pkg", "verify", path("up.pkg"), "--base", path("to.img")), 1);
    ck_assert_ptr_nonnull(strstr(out, "package is for another source image"));
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

/* Card 1: R01 and R02 firmware lines cannot be crossed on BC260Y-CN. */
START_TEST(baselines_are_not_crossed)
{
    export("bc260y-cn", "BC260YCNAAR01A05", "r01.img");
    export("bc260y-cn", "BC260YCNAAR02A02", "r02.img");
    ck_assert_int_eq(RUN("pkg", "make", "--from", path("r01.img"), "--to", path("r02.img"), "-o",
                         path("cross.pkg")),
                     0);
    ck_assert_int_eq(RUN("pkg", "verify", path("cross.pkg"), "--base", path("r01.img")), 1);
    ck_assert_msg(strstr(out, "bc260y-cn cannot update across baselines (R01 to R02)"), "%s", out);
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
    tcase_add_test(tc, broken_packages_are_refused);
    tcase_add_test(tc, baselines_are_not_crossed);
    tcase_add_test(tc, boot_rom_reads_flash);
    suite_add_tcase(s, tc);
    return s;
}
