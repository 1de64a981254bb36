/* Power, boot banners, persistence and PTY reopening, against the real binary. */
#include "tests/integration/host.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const models[] = {"bc66", "bc66-na", "bc260y-cn"};

#define BROM                                                                                       \
    "F1: 0000 0000\r\nV0: 0000 0000 [0001]\r\n00: 0006 000C\r\n01: 0000 0000\r\n"                  \
    "U0: 0000 0001 [0000]\r\nT0: 0000 00B4\r\nLeaving the BROM\r\n"

/* The whole boot output up to the address, in order. */
static void expect_boot(struct host *h, const char *model)
{
    char buf[4096];
    host_expect(h, "+IP: ", buf, sizeof buf, HOST_TIMEOUT_MS);
    const char *banner = strcmp(model, "bc260y-cn") == 0
                             ? "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+IP: "
                             : BROM "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+IP: ";
    ck_assert_msg(strcmp(buf, banner) == 0, "%s boot was '%s'", model, host_show(buf));
    host_expect(h, "\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
    ck_assert_msg(strncmp(buf, "100.", 4) == 0, "address '%s'", host_show(buf));
}

START_TEST(boot_banner_per_model)
{
    struct bcsim_proc p = {0};
    struct host h;
    bcsim_start(&p, models[_i], NULL);
    host_open(&h, p.pty);
    expect_boot(&h, models[_i]);
    bcsim_answers_then_stop(&p, &h, "AT\r\r\nOK\r\n");
}
END_TEST

START_TEST(qrst_reboots_with_banner)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[2048];
    bcsim_start(&p, models[_i], NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "AT+QRST=1", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+QRST=1\r\r\nOK\r\n");
    expect_boot(&h, models[_i]);
    host_cmd(&h, "AT+CFUN=1,1", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+CFUN=1,1\r\r\nOK\r\n");
    expect_boot(&h, models[_i]);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* bcsim discards what a host left unread once it sees the close. */
static void wait_detached(struct bcsim_proc *p)
{
    char out[4096];
    for (int i = 0; i < 200; i++) {
        bcsim_ctl(p, out, sizeof out, (const char *[]){"status", NULL});
        if (strstr(out, "\"host_attached\":false"))
            return;
        usleep(10000);
    }
    ck_abort_msg("bcsim never saw the host close: %s", out);
}

START_TEST(reopen_continues_session)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[2048];
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_close(&h);
    for (int i = 0; i < 5; i++) {
        host_open(&h, p.pty);
        host_cmd(&h, "AT+CGMR", buf, sizeof buf);
        ck_assert_str_eq(buf, "\r\nRevision: BC66NBR01A07\r\n\r\nOK\r\n");
        /* Leave a reply unread: the next host must not get it. */
        host_send(&h, "ATI\r");
        usleep(20000);
        host_close(&h);
        wait_detached(&p);
    }
    host_open(&h, p.pty);
    bcsim_answers_then_stop(&p, &h, "\r\nOK\r\n");
}
END_TEST

/* A host that closes and at once reopens gets the replies to what it sends
 * next: the close it made must be counted before its new command's reply is
 * written, or the reply is flushed as the old session's leftovers. The race
 * is narrow (about 1 in 100 reopens lost a reply before the fix), hence the
 * many rounds. */
START_TEST(quick_reopen_keeps_replies)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[2048];
    /* Real time: the UART is paced then, which is where the race showed. */
    bcsim_start(&p, "bc66", (const char *[]){"--speed", "1", NULL});
    host_open(&h, p.pty);
    host_expect(&h, "+IP: ", buf, sizeof buf, 6 * HOST_TIMEOUT_MS);
    host_expect(&h, "\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    for (int i = 0; i < 400; i++) {
        host_close(&h);
        host_open(&h, p.pty);
        host_cmd(&h, "AT+CGMR", buf, sizeof buf);
        ck_assert_msg(strcmp(buf, "\r\nRevision: BC66NBR01A07\r\n\r\nOK\r\n") == 0,
                      "reopen %d got '%s'", i, host_show(buf));
    }
    bcsim_answers_then_stop(&p, &h, "\r\nOK\r\n");
}
END_TEST

/* socat as the host: an off-the-shelf terminal program holds a session. */
START_TEST(socat_session)
{
    if (access("/usr/bin/socat", X_OK) != 0)
        ck_abort_msg("socat is not installed (tools/install-deps installs it)");
    struct bcsim_proc p = {0};
    struct host h;
    char buf[2048];
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h); /* the banner is read; now socat opens as a second host */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "(printf 'ATI\\r'; sleep 0.5) | socat -t1 - %s,rawer 2>&1 > %s/socat.out", p.pty,
             p.dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/socat.out", p.dir);
    FILE *f = fopen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_str_eq(buf, "ATI\r\r\nQuectel_Ltd\r\nQuectel_BC66\r\nRevision: BC66NBR01A07\r\n"
                          "\r\nOK\r\n");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

START_TEST(power_commands)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[4096], imei[64], again[64], out[2048];
    bcsim_start(&p, "bc260y-cn", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "AT+CGSN=1", imei, sizeof imei);
    host_cmd(&h, "AT+CEREG=1", buf, sizeof buf); /* BC260Y-CN saves it by itself */
    host_cmd(&h, "AT+IPR=9600", buf, sizeof buf);

    ck_assert_int_eq(bcsim_ctl(&p, out, sizeof out, (const char *[]){"power", "cut", NULL}), 0);
    host_send(&h, "AT\r");
    ck_assert_uint_eq(host_drain(&h, buf, sizeof buf, 300), 0); /* off: not even an echo */
    bcsim_ctl(&p, out, sizeof out, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(out, "\"power\":\"off\""), "%s", out);

    ck_assert_int_eq(bcsim_ctl(&p, out, sizeof out, (const char *[]){"power", "on", NULL}), 0);
    host_expect(&h, "+CEREG: 1\r\n", buf, sizeof buf, HOST_TIMEOUT_MS); /* saved n=1 */
    host_wait_ready(&h);
    host_cmd(&h, "AT+CGSN=1", again, sizeof again);
    ck_assert_str_eq(again, imei);
    host_cmd(&h, "AT+IPR?", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+IPR?\r\r\n+IPR: 9600\r\n\r\nOK\r\n");

    ck_assert_int_eq(bcsim_ctl(&p, out, sizeof out, (const char *[]){"power", "cycle", NULL}), 0);
    host_wait_ready(&h);
    ck_assert_int_eq(bcsim_ctl(&p, out, sizeof out, (const char *[]){"power", "off", NULL}), 0);
    ck_assert_int_eq(bcsim_ctl(&p, out, sizeof out, (const char *[]){"power", "on", NULL}), 0);
    host_expect(&h, "RDY", buf, sizeof buf, HOST_TIMEOUT_MS);
    host_wait_ready(&h);
    host_close(&h);

    /* kill -9 of the process is a power cut too; the state directory survives it. */
    bcsim_kill9(&p);
    bcsim_start(&p, "bc260y-cn", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "AT+CGSN=1", again, sizeof again);
    ck_assert_str_eq(again, imei);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

Suite *boot_suite(void)
{
    Suite *s = suite_create("boot");
    TCase *tc = tcase_create("boot");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, boot_banner_per_model, 0, 3);
    tcase_add_loop_test(tc, qrst_reboots_with_banner, 0, 3);
    tcase_add_test(tc, reopen_continues_session);
    tcase_add_test(tc, quick_reopen_keeps_replies);
    tcase_add_test(tc, socat_session);
    tcase_add_test(tc, power_commands);
    suite_add_tcase(s, tc);
    return s;
}
