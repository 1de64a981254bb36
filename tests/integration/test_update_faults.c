/* The update state machine under the faults bcsim exists to replay: power
 * cuts and torn operations at every flash operation near the end of an
 * update, flash failures that go away and one that does not, and a soak of
 * random cuts, tears and kill -9 (BCSIM_SOAK_CYCLES, BCSIM_SOAK_SEED). */
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SLOW_MS 30000 /* an update and a boot, under valgrind too */

static char dir[] = "/tmp/bcsim-upf-XXXXXX";
static struct bcsim_proc server;
static int port;

static const char *path(const char *name)
{
    return scratch_path(dir, name);
}

#define RUN(...) bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 120000)

static void export(const char *model, const char *rev)
{
    char out[4096];
    ck_assert_msg(RUN("image", "export", "--model", model, "--revision", rev, "-o", path(rev)) == 0,
                  "%s", out);
}

static void make(const char *from, const char *to, const char *name)
{
    char out[4096], www[200];
    snprintf(www, sizeof www, "www/%s", name);
    ck_assert_msg(RUN("pkg", "make", "--from", path(from), "--to", path(to), "-o", path(www)) == 0,
                  "%s", out);
}

/* Packages both ways between two BC66 revisions and one BC260Y-CN update,
 * served by bcsim serve on a port the kernel picked. */
static void setup(void)
{
    scratch_make(dir, sizeof dir, "upf");
    ck_assert_int_eq(mkdir(path("www"), 0755), 0);
    export("bc66", "BC66NBR01A07");
    export("bc66", "BC66NBR01A10");
    export("bc260y-cn", "BC260YCNAAR02A02");
    export("bc260y-cn", "BC260YCNAAR02A03");
    make("BC66NBR01A07", "BC66NBR01A10", "BC66NBR01A07.pkg");
    make("BC66NBR01A10", "BC66NBR01A07", "BC66NBR01A10.pkg");
    make("BC260YCNAAR02A02", "BC260YCNAAR02A03", "BC260YCNAAR02A02.pkg");
    port = bcsim_serve(&server, path("www"), NULL);
}

static void teardown(void)
{
    bcsim_halt(&server);
    scratch_remove(dir);
}

static void ctl(const struct bcsim_proc *p, const char *const *args)
{
    char out[4096];
    ck_assert_msg(bcsim_ctl(p, out, sizeof out, args) == 0, "ctl %s: %s", args[0], out);
}

static void start(struct bcsim_proc *p, struct host *h, const char *model, const char *const *extra)
{
    bcsim_start(p, model, extra);
    host_open(h, p->pty);
    host_wait_ready(h);
    char buf[512];
    host_cmd(h, "ATE0", buf, sizeof buf);
}

/* Waits for the boot to reach its address, whatever came before (an updater
 * run included). */
static void wait_up(struct host *h)
{
    char buf[1 << 16];
    host_expect(h, "+IP: ", buf, sizeof buf, SLOW_MS);
    host_expect(h, "\r\n", buf, sizeof buf, SLOW_MS);
}

static void revision(struct host *h, char *rev, size_t size)
{
    char buf[1024];
    host_cmd(h, "AT+CGMR", buf, sizeof buf);
    const char *r = strstr(buf, "Revision: ");
    ck_assert_msg(r != NULL, "AT+CGMR: %s", host_show(buf));
    snprintf(rev, size, "%.*s", (int)strcspn(r + 10, "\r"), r + 10);
}

/* Starts the download of the package whose source is the running revision. */
static void update_from(struct host *h, const char *rev)
{
    char cmd[256], buf[1024];
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"http://127.0.0.1:%d/%s.pkg\"\r", port, rev);
    host_send(h, cmd);
    host_expect(h, "\r\nOK\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
}

static const char *other_bc66(const char *rev)
{
    return strcmp(rev, "BC66NBR01A07") == 0 ? "BC66NBR01A10" : "BC66NBR01A07";
}

/* A whole update that must succeed; returns the flash operations it took. */
static long clean_update(const struct bcsim_proc *p, struct host *h, const char *from,
                         const char *to)
{
    char buf[1 << 16], rev[64];
    long before = bcsim_status_long(p, "flash_ops");
    update_from(h, from);
    host_expect(h, "+QIND: \"FOTA\",\"END\",", buf, sizeof buf, SLOW_MS);
    host_expect(h, "\r\n", buf, sizeof buf, SLOW_MS);
    ck_assert_msg(strcmp(buf, "0\r\n") == 0, "update %s -> %s ended with %s", from, to,
                  host_show(buf));
    wait_up(h);
    revision(h, rev, sizeof rev);
    ck_assert_str_eq(rev, to);
    ck_assert(bcsim_status_has(p, "\"fota\":\"idle\""));
    return bcsim_status_long(p, "flash_ops") - before;
}

/* After a fault and the next power-on: the module answers, runs the old or
 * the new firmware, and is idle, not stuck busy. Returns the revision. */
static void check_recovered(const struct bcsim_proc *p, struct host *h, const char *what, char *rev,
                            size_t size)
{
    char buf[512];
    wait_up(h);
    host_cmd(h, "ATE0", buf, sizeof buf); /* echo is back on after a power cycle */
    host_cmd(h, "AT", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nOK\r\n");
    revision(h, rev, size);
    ck_assert_msg(strcmp(rev, "BC66NBR01A07") == 0 || strcmp(rev, "BC66NBR01A10") == 0,
                  "%s: revision %s", what, rev);
    ck_assert_msg(bcsim_status_has(p, "\"fota\":\"idle\""), "%s: not idle", what);
    ck_assert_msg(bcsim_status_has(p, "\"firmware\":\"ok\""), "%s: bricked", what);
}

/* flash-cut / flash-tear at each of the last operations of an update: its
 * last step, the journal's end record and the erase that forgets it. Each
 * cut must power the module off (a cut on the final erase used to be
 * ignored), and the next boot must leave FOTA idle (a cut in the last step
 * used to leave it "updating", and every later AT+QFOTADL busy). */
START_TEST(cuts_at_the_end_of_an_update)
{
    struct bcsim_proc p;
    struct host h;
    char rev[64], n[32];
    start(&p, &h, "bc66", NULL);
    long total[2];
    total[0] = clean_update(&p, &h, "BC66NBR01A07", "BC66NBR01A10");
    total[1] = clean_update(&p, &h, "BC66NBR01A10", "BC66NBR01A07");
    snprintf(rev, sizeof rev, "BC66NBR01A07");
    for (int mode = 0; mode < 2; mode++) {
        for (long back = 16; back >= 1; back--) { /* "after N": the cut hits operation N+1 */
            long ops = total[strcmp(rev, "BC66NBR01A07") == 0 ? 0 : 1];
            snprintf(n, sizeof n, "%ld", ops - back);
            ctl(&p, (const char *[]){"fault", mode ? "flash-tear" : "flash-cut", n, NULL});
            update_from(&h, rev);
            ck_assert_msg(bcsim_status_wait(&p, "\"power\":\"off\"", SLOW_MS),
                          "%s at operation %s of %ld: the module did not lose power",
                          mode ? "tear" : "cut", n, ops);
            ctl(&p, (const char *[]){"power", "on", NULL});
            char what[96];
            snprintf(what, sizeof what, "%s at %s of %ld", mode ? "tear" : "cut", n, ops);
            check_recovered(&p, &h, what, rev, sizeof rev);
        }
    }
    clean_update(&p, &h, rev, other_bc66(rev)); /* and a re-issued update completes */
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A program or erase that fails once, in the middle of the update's steps,
 * is retried: the update completes and the module boots the new firmware
 * (it used to report END,1 or 255 and stay bricked for good). */
START_TEST(transient_flash_failures_are_retried)
{
    static const struct {
        const char *model, *from, *to, *fault;
    } cases[] = {
        {"bc66", "BC66NBR01A07", "BC66NBR01A10", "flash-program"},
        {"bc66", "BC66NBR01A07", "BC66NBR01A10", "flash-erase"},
        {"bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "flash-program"},
        {"bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "flash-erase"},
    };
    struct stat st;
    char pkg[300], n[32], buf[1 << 16], rev[64];
    snprintf(pkg, sizeof pkg, "www/%s.pkg", cases[_i].from);
    ck_assert_int_eq(stat(path(pkg), &st), 0);
    /* The download programs and erases one sector per 4 KiB; the update's
     * start erases the 8 sectors of the journal and programs one record.
     * Twenty more operations of the kind land among the first steps. */
    long sectors = (long)((st.st_size + 4095) / 4096);
    bool program = strcmp(cases[_i].fault, "flash-program") == 0;
    snprintf(n, sizeof n, "%ld", sectors + (program ? 1 : 8) + 20);
    struct bcsim_proc p;
    struct host h;
    start(&p, &h, cases[_i].model, NULL);
    ctl(&p, (const char *[]){"fault", cases[_i].fault, n, NULL});
    update_from(&h, cases[_i].from);
    host_expect(&h, "+QIND: \"FOTA\",\"START\"", buf, sizeof buf, SLOW_MS);
    host_expect(&h, "+QIND: \"FOTA\",\"END\",", buf, sizeof buf, SLOW_MS);
    host_expect(&h, "\r\n", buf, sizeof buf, SLOW_MS);
    ck_assert_msg(strcmp(buf, "0\r\n") == 0, "%s %s: END,%s", cases[_i].model, cases[_i].fault,
                  host_show(buf));
    wait_up(&h);
    revision(&h, rev, sizeof rev);
    ck_assert_str_eq(rev, cases[_i].to);
    ck_assert(bcsim_status_has(&p, "\"fota\":\"idle\""));
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A flash that fails every program and erase from the middle of the update
 * on: the updater reports "unknown error" and stops; with nothing bootable
 * the module is silent and status says why. Once the fault is gone, the
 * next power-on resumes the update from the journal and completes it. */
START_TEST(worn_flash_stops_the_update_until_power_returns)
{
    struct bcsim_proc p;
    struct host h;
    char buf[1 << 16], rev[64], out[4096], n[32];
    struct stat st;
    ck_assert_int_eq(stat(path("www/BC66NBR01A07.pkg"), &st), 0);
    /* The download erases and programs each 4 KiB sector, the update's start
     * erases the journal's 8 and programs a record: 60 more are in its steps. */
    snprintf(n, sizeof n, "%ld", (long)((st.st_size + 4095) / 4096 * 2 + 9 + 60));
    start(&p, &h, "bc66", NULL);
    ctl(&p, (const char *[]){"fault", "flash-worn", n, NULL});
    update_from(&h, "BC66NBR01A07");
    host_expect(&h, "+QIND: \"FOTA\",\"END\",1\r\n", buf, sizeof buf, SLOW_MS);
    ck_assert(bcsim_status_wait(&p, "\"firmware\":\"bricked\"", SLOW_MS));
    ck_assert_int_eq(bcsim_ctl(&p, out, sizeof out, (const char *[]){"status", NULL}), 0);
    ck_assert_msg(strstr(out, "update stopped") != NULL, "status: %s", out);
    ck_assert(strstr(out, "\"fota\":\"idle\"") != NULL);
    ctl(&p, (const char *[]){"fault", "clear", NULL});
    ctl(&p, (const char *[]){"power", "cycle", NULL});
    host_expect(&h, "+QIND: \"FOTA\",\"START\"\r\n", buf, sizeof buf, SLOW_MS);
    host_expect(&h, "+QIND: \"FOTA\",\"END\",0\r\n", buf, sizeof buf, SLOW_MS);
    wait_up(&h);
    revision(&h, rev, sizeof rev);
    ck_assert_str_eq(rev, "BC66NBR01A10");
    ck_assert(bcsim_status_has(&p, "\"firmware\":\"ok\""));
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

static long env_long(const char *name, long fallback)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : fallback;
}

/* Random faults at random points of updates, each followed by the next
 * power-on: flash-cut / flash-tear at any operation of the update, `power
 * cut` from the control socket, kill -9 of the emulator. After each: the
 * module recovers (check_recovered) and a re-issued update completes. */
START_TEST(soak)
{
    long cycles = env_long("BCSIM_SOAK_CYCLES", 6);
    unsigned seed = (unsigned)env_long("BCSIM_SOAK_SEED", (long)time(NULL));
    fprintf(stderr, "soak: %ld cycles, BCSIM_SOAK_SEED=%u\n", cycles, seed);
    srand(seed);
    struct bcsim_proc p;
    struct host h;
    char rev[64], n[32], what[128];
    start(&p, &h, "bc66", NULL);
    long total[2];
    total[0] = clean_update(&p, &h, "BC66NBR01A07", "BC66NBR01A10");
    total[1] = clean_update(&p, &h, "BC66NBR01A10", "BC66NBR01A07");
    snprintf(rev, sizeof rev, "BC66NBR01A07");
    for (long c = 0; c < cycles; c++) {
        long ops = total[strcmp(rev, "BC66NBR01A07") == 0 ? 0 : 1];
        int kind = rand() % 4;
        long at = 1 + rand() % (ops - 1); /* the cut hits operation at+1 */
        long delay_us = rand() % 150000;
        static const char *const kinds[] = {"flash-cut", "flash-tear", "power cut", "kill -9"};
        snprintf(what, sizeof what, "cycle %ld (seed %u): %s at %ld%s", c, seed, kinds[kind],
                 kind < 2 ? at : delay_us, kind < 2 ? " operations" : " us");
        if (kind < 2) {
            snprintf(n, sizeof n, "%ld", at);
            ctl(&p, (const char *[]){"fault", kinds[kind], n, NULL});
        }
        update_from(&h, rev);
        if (kind < 2) {
            ck_assert_msg(bcsim_status_wait(&p, "\"power\":\"off\"", SLOW_MS), "%s: no cut", what);
            ctl(&p, (const char *[]){"power", "on", NULL});
        } else {
            usleep((useconds_t)delay_us); /* a random point of the update, not a wait */
            if (kind == 2) {
                ctl(&p, (const char *[]){"power", "cut", NULL});
                ctl(&p, (const char *[]){"power", "on", NULL});
            } else {
                host_close(&h);
                bcsim_kill9(&p);
                bcsim_start(&p, "bc66", NULL);
                host_open(&h, p.pty);
            }
        }
        check_recovered(&p, &h, what, rev, sizeof rev);
        char next[64];
        snprintf(next, sizeof next, "%s", other_bc66(rev));
        clean_update(&p, &h, rev, next);
        snprintf(rev, sizeof rev, "%s", next);
    }
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

Suite *update_faults_suite(void)
{
    Suite *s = suite_create("update_faults");
    TCase *tc = tcase_create("update_faults");
    tcase_set_timeout(tc, 600 + 10 * (double)env_long("BCSIM_SOAK_CYCLES", 0));
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cuts_at_the_end_of_an_update);
    tcase_add_loop_test(tc, transient_flash_failures_are_retried, 0, 4);
    tcase_add_test(tc, worn_flash_stops_the_update_until_power_returns);
    tcase_add_test(tc, soak);
    suite_add_tcase(s, tc);
    return s;
}
