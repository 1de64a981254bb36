/* The DFOTA transcripts of cards 1 and 2, line by line, for the tests of
 * every download path (HTTP, CoAP). */
#include "tests/integration/fota_flow.h"

#include "tests/integration/scratch.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FLOW_RUN(...) bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 30000)

/* DIR/www/NAME: a package from one built-in revision to another. */
void flow_package(const char *dir, const char *model, const char *from, const char *to,
                  const char *name, const char *extra)
{
    char a[64], b[64], pkg[300], out[4096];
    snprintf(a, sizeof a, "%s.img", from);
    snprintf(b, sizeof b, "%s.img", to);
    snprintf(pkg, sizeof pkg, "%s/www/%s", dir, name);
    ck_assert_int_eq(FLOW_RUN("image", "export", "--model", model, "--revision", from, "-o",
                              scratch_path(dir, a)),
                     0);
    ck_assert_int_eq(
        FLOW_RUN("image", "export", "--model", model, "--revision", to, "-o", scratch_path(dir, b)),
        0);
    if (extra)
        ck_assert_int_eq(FLOW_RUN("pkg", "make", "--from", scratch_path(dir, a), "--to",
                                  scratch_path(dir, b), "-o", pkg, "--break", extra),
                         0);
    else
        ck_assert_int_eq(FLOW_RUN("pkg", "make", "--from", scratch_path(dir, a), "--to",
                                  scratch_path(dir, b), "-o", pkg),
                         0);
}

/* DIR/www/NAME of exactly `size` bytes: from built-in `from` to an image of
 * revision `to` whose payload is `from`'s image followed by incompressible
 * bytes, their count tuned until the package comes out at that size. */
void flow_package_sized(const char *dir, const char *model, const char *from, const char *to,
                        const char *name, size_t size)
{
    char a[64], pkg[300], out[4096];
    snprintf(a, sizeof a, "%s.img", from);
    snprintf(pkg, sizeof pkg, "%s/www/%s", dir, name);
    ck_assert_int_eq(FLOW_RUN("image", "export", "--model", model, "--revision", from, "-o",
                              scratch_path(dir, a)),
                     0);
    FILE *f = fopen(scratch_path(dir, a), "rb");
    ck_assert_ptr_nonnull(f);
    static char base[1 << 21];
    size_t base_len = fread(base, 1, sizeof base, f);
    ck_assert(feof(f) && base_len > 0);
    fclose(f);
    size_t tail = size > 1024 ? size - 1024 : size;
    for (int tries = 0; tries < 8; tries++) {
        f = fopen(scratch_path(dir, "sized.raw"), "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(base, 1, base_len, f), base_len);
        uint64_t x = 0x9e3779b97f4a7c15u; /* the same bytes every try, every run */
        for (size_t i = 0; i < tail; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            fputc((int)(x >> 24) & 0xff, f);
        }
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(FLOW_RUN("image", "make", "--model", model, "--revision", to, "--payload",
                                  scratch_path(dir, "sized.raw"), "-o",
                                  scratch_path(dir, "sized.img")),
                         0);
        ck_assert_int_eq(FLOW_RUN("pkg", "make", "--from", scratch_path(dir, a), "--to",
                                  scratch_path(dir, "sized.img"), "-o", pkg),
                         0);
        struct stat st;
        ck_assert_int_eq(stat(pkg, &st), 0);
        if ((size_t)st.st_size == size)
            return;
        long next = (long)tail + (long)size - (long)st.st_size;
        ck_assert_msg(next > 0, "a package of %zu bytes is too small to make", size);
        tail = (size_t)next;
    }
    ck_abort_msg("no package of exactly %zu bytes after 8 tries", size);
}

/* ---- The transcript, line by line ------------------------------------------------ */

void flow_next_line(struct host *h, char *line, size_t size)
{
    for (;;) {
        host_expect(h, "\r\n", line, size, 15000);
        size_t n = strlen(line) - 2;
        while (n > 0 && line[n - 1] == '\r') /* an echo ends in its own <CR> */
            n--;
        line[n] = '\0';
        if (line[0])
            return; /* skip the empty halves of <CR><LF>text<CR><LF> */
    }
}

/* Progress lines: one or more, strictly increasing, ending at 100%. Returns
 * the first line after them. */
void flow_progress(struct host *h, const char *what, char *line, size_t size)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "+QIND: \"FOTA\",\"%s\",", what);
    int last = -1, count = 0;
    for (;;) {
        flow_next_line(h, line, size);
        if (strncmp(line, prefix, strlen(prefix)) != 0)
            break;
        int pct = atoi(line + strlen(prefix));
        ck_assert_msg(pct > last, "%s went from %d to %d", what, last, pct);
        ck_assert_msg(strchr(line, '%'), "no %% sign: %s", line);
        if (strcmp(what, "UPDATING") == 0)
            ck_assert_msg(strstr(line, "%,1,1"), "%s", line);
        last = pct;
        count++;
    }
    ck_assert_msg(count > 0, "no %s lines before '%s'", what, line);
    ck_assert_int_eq(last, 100);
}

void flow_expect_line(struct host *h, const char *want)
{
    char line[512];
    flow_next_line(h, line, sizeof line);
    ck_assert_msg(strcmp(line, want) == 0, "expected '%s', got '%s'", want, line);
}

const char *const flow_brom[] = {
    "F1: 0000 0000",        "V0: 0000 0000 [0001]", "00: 0006 000C",    "01: 0000 0000",
    "U0: 0000 0001 [0000]", "T0: 0000 00B4",        "Leaving the BROM", NULL};

void flow_expect_brom(struct host *h, bool has)
{
    for (int i = 0; has && flow_brom[i]; i++)
        flow_expect_line(h, flow_brom[i]);
}

/* From the update's START to the new firmware's +IP, as the cards show it. */
void flow_expect_update(struct host *h, bool has_brom, bool start)
{
    char line[512];
    if (start)
        flow_expect_line(h, "+QIND: \"FOTA\",\"START\"");
    flow_expect_brom(h, has_brom);
    flow_progress(h, "UPDATING", line, sizeof line);
    if (has_brom) {
        ck_assert_str_eq(line, flow_brom[0]);
        for (int i = 1; flow_brom[i]; i++)
            flow_expect_line(h, flow_brom[i]);
        flow_next_line(h, line, sizeof line);
    }
    ck_assert_str_eq(line, "RDY");
    flow_expect_line(h, "+CFUN: 1");
    flow_expect_line(h, "+QIND: \"FOTA\",\"END\",0");
    flow_expect_line(h, "+CPIN: READY");
    flow_next_line(h, line, sizeof line);
    ck_assert_msg(strncmp(line, "+IP: 100.", 9) == 0, "%s", line);
}

void flow_start_module(struct bcsim_proc *p, struct host *h, const char *model,
                       const char *const *extra)
{
    memset(p, 0, sizeof *p);
    const char *args[16] = {"--downlink", "0"};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    bcsim_start(p, model, args);
    host_open(h, p->pty);
    host_wait_ready(h);
}

/* A module whose downloads and updates take real (if scaled) time, ATE0 set:
 * paced links for the tests that must act in the middle of something. */
void flow_start_paced(struct bcsim_proc *p, struct host *h, const char *model, const char *downlink,
                      const char *speed)
{
    char buf[256];
    memset(p, 0, sizeof *p);
    bcsim_prepare(p);
    const char *args[] = {"--downlink", downlink, "--rtt", "0", "--speed", speed, NULL};
    bcsim_start(p, model, args);
    host_open(h, p->pty);
    host_wait_ready(h);
    host_cmd(h, "ATE0", buf, sizeof buf);
}

void flow_revision_is(struct host *h, const char *rev)
{
    char buf[256], want[128];
    host_cmd(h, "AT+CGMR", buf, sizeof buf);
    snprintf(want, sizeof want, "Revision: %s\r\n", rev);
    ck_assert_msg(strstr(buf, want), "%s", host_show(buf));
}

/* The rest of a resumed update: to 100%, the new firmware's boot with END,0
 * after "+CFUN: 1", and its revision. */
void flow_finish_resumed(struct host *h, const char *rev)
{
    char buf[8192];
    host_expect(h, "+QIND: \"FOTA\",\"UPDATING\",100%,1,1\r\n", buf, sizeof buf, 60000);
    host_expect(h, "RDY\r\n", buf, sizeof buf, 10000);
    flow_expect_line(h, "+CFUN: 1");
    flow_expect_line(h, "+QIND: \"FOTA\",\"END\",0");
    host_wait_ready(h);
    flow_revision_is(h, rev);
}

void flow_power_on_old_firmware(struct bcsim_proc *p, struct host *h, const char *rev)
{
    char buf[4096], o[256];
    ck_assert_int_eq(bcsim_ctl(p, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    host_expect(h, "RDY\r\n", buf, sizeof buf, 10000);
    ck_assert_msg(!strstr(buf, "START"), "%s", host_show(buf));
    host_wait_ready(h);
    flow_revision_is(h, rev);
}
