/* bcsim upload, the reference host uploader, as users run it: against the
 * real emulator on its PTY (updates, flash faults it must retry through,
 * refusals), against a PTY the test answers byte by byte (the exact wire
 * format, URCs in the way, silence), and its command line. */
#include "tests/integration/fota_flow.h"
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include "tools/upload/uploader.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static char dir[64];
static struct bcsim_proc proc;
static char out[1 << 16], err[8192];

static void setup(void)
{
    scratch_make(dir, sizeof dir, "upload");
    ck_assert_int_eq(mkdir(scratch_path(dir, "www"), 0755), 0);
}

static void teardown(void)
{
    scratch_remove(dir);
}

/* Runs `bcsim upload --lines ARGS...` to its end (at most timeout_ms): its
 * exit status; stdout in out, stderr in err. */
static int run_upload(const char *const *args, int timeout_ms)
{
    const char *argv[40] = {BCSIM_BIN, "upload", "--lines"};
    int n = 3;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int ofd, efd;
    pid_t pid = host_spawn(argv, &ofd, &efd);
    host_read_fd(ofd, out, sizeof out, timeout_ms, NULL); /* to its end of file */
    host_read_fd(efd, err, sizeof err, 2000, NULL);
    close(ofd);
    close(efd);
    int rc = host_wait_pid(pid, 5000);
    if (rc < 0) {
        kill(pid, SIGKILL);
        host_wait_pid(pid, 5000);
        ck_abort_msg("bcsim upload did not end within %d ms: %s", timeout_ms, out);
    }
    return rc;
}
#define UPLOAD(ms, ...) run_upload((const char *[]){__VA_ARGS__, NULL}, ms)

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

#define HAS(text, what) ck_assert_msg(strstr(text, what), "no '%s' in: %s", what, text)

/* A module of that model (fast, unpaced downlink, extra arguments), booted
 * and registered, with no host on its PTY. */
static void module(const char *model, const char *const *extra)
{
    memset(&proc, 0, sizeof proc);
    const char *args[16] = {"--downlink", "0"};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    bcsim_start(&proc, model, args);
    ck_assert(bcsim_status_wait(&proc, "\"ip\":\"100.", 20000));
}

static void ctl(const char *a, const char *b, const char *c)
{
    char o[1024];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){a, b, c, NULL}), 0);
}

static void revision_is(const char *rev)
{
    char want[64];
    snprintf(want, sizeof want, "\"revision\":\"%s\"", rev);
    char o[4096];
    bcsim_ctl(&proc, o, sizeof o, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(o, want), "not %s: %s", rev, o);
}

/* The module still answers AT after the uploader has gone, and stops cleanly. */
static void module_answers_then_stop(void)
{
    static struct host h;
    char buf[4096];
    host_open(&h, proc.pty);
    host_send(&h, "AT\r");
    host_expect(&h, "\r\nOK\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&proc), 0);
}

/* www/NAME, a package from one built-in revision to another; its path. */
static const char *package(const char *model, const char *from, const char *to, const char *name,
                           const char *extra)
{
    flow_package(dir, model, from, to, name, extra);
    static char path[256];
    snprintf(path, sizeof path, "%s/www/%s", dir, name);
    return path;
}

static size_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (size_t)st.st_size;
}

/* ---- The uploader's own CRC ----------------------------------------------------- */

START_TEST(crc16_check_value)
{
    ck_assert_uint_eq(upl_crc16(0, "123456789", 9), 0x31C3);
    ck_assert_uint_eq(upl_crc16(0, "", 0), 0);
    ck_assert_uint_eq(upl_crc16(upl_crc16(0, "1234", 4), "56789", 5), 0x31C3);
    /* One byte's CRC is the card's table entry: 0x01 -> 0x1021, 0x08 -> 0x8108,
     * 0x80 -> 0x9188, 0xff -> 0x1ef0. */
    ck_assert_uint_eq(upl_crc16(0, "\x01", 1), 0x1021);
    ck_assert_uint_eq(upl_crc16(0, "\x08", 1), 0x8108);
    ck_assert_uint_eq(upl_crc16(0, "\x80", 1), 0x9188);
    ck_assert_uint_eq(upl_crc16(0, "\xff", 1), 0x1ef0);
}
END_TEST

/* ---- Against a PTY the test answers ------------------------------------------- */

static int master = -1;
static char slave_path[64];

static void pty_setup(void)
{
    setup();
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    snprintf(slave_path, sizeof slave_path, "%s", ptsname(master));
    struct termios t;
    ck_assert_int_eq(tcgetattr(master, &t), 0);
    cfmakeraw(&t); /* no echo of what the test writes before the uploader opens */
    ck_assert_int_eq(tcsetattr(master, TCSANOW, &t), 0);
}

static void pty_teardown(void)
{
    close(master);
    master = -1;
    teardown();
}

/* The next n bytes the uploader sent are exactly `want`. */
static void master_expect(const void *want, size_t n)
{
    char got[256];
    ck_assert_uint_lt(n, sizeof got);
    size_t len = host_read_fd(master, got, n + 1, HOST_TIMEOUT_MS, NULL);
    ck_assert_msg(len == n && memcmp(got, want, n) == 0, "got '%s', want '%.*s'", host_show(got),
                  (int)n, (const char *)want);
}
#define MASTER_EXPECT(lit) master_expect(lit, sizeof(lit) - 1)

static void master_say(const char *text)
{
    ck_assert_int_eq(write(master, text, strlen(text)), (ssize_t)strlen(text));
}

/* What goes over the line for a 9-byte package: the command with <length> =
 * 9 + 2 and <timeout>, the data, its CRC 0x31C3 low byte first; echo and
 * URCs around the answers are skipped. */
START_TEST(wire_format_and_urcs)
{
    const char *pkg = scratch_path(dir, "nine.pkg");
    FILE *f = fopen(pkg, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("123456789", f);
    fclose(f);
    const char *argv[] = {BCSIM_BIN,     "upload",   "--lines", "--block", "128",
                          "--no-update", slave_path, pkg,       NULL};
    int ofd, efd;
    pid_t pid = host_spawn(argv, &ofd, &efd);
    MASTER_EXPECT("AT\r");
    master_say("AT\r\r\n+CEREG: 1\r\n\r\nOK\r\n");
    MASTER_EXPECT("AT+QFUPLEX=?\r");
    master_say("\r\n+QFUPLEX: <blocksize>,<blocknum>[,<length>[,<timeout>]]\r\n\r\nOK\r\n");
    MASTER_EXPECT("AT+QFUPLEX=128,0,11,6\r");
    master_say("AT+QFUPLEX=128,0,11,6\r\r\n+QIND: \"FOTA\",\"X\"\r\n\r\n>");
    MASTER_EXPECT("123456789\xc3\x31");
    master_say("\r\n+QFUPLEX: 9\r\n\r\n+CEREG: 5\r\n\r\nOK\r\n");
    host_read_fd(ofd, out, sizeof out, HOST_TIMEOUT_MS, NULL);
    host_read_fd(efd, err, sizeof err, 500, NULL);
    close(ofd);
    close(efd);
    ck_assert_int_eq(host_wait_pid(pid, HOST_TIMEOUT_MS), 0);
    HAS(out, "block n=0 offset=0 len=9 result=ok tries=1\n");
    HAS(out, "done result=uploaded exit=0");
    /* Nothing more was sent: no AT+QFOTADL=1 with --no-update. */
    char rest[64];
    ck_assert_uint_eq(host_read_fd(master, rest, sizeof rest, 0, NULL), 0);
}
END_TEST

/* A PTY on which nobody answers: exit 4 after a few bounded tries. */
START_TEST(nobody_answers)
{
    const char *pkg = scratch_path(dir, "p.pkg");
    scratch_write_pattern(dir, "p.pkg", 5000, 1);
    long t0 = scratch_now_ms();
    ck_assert_int_eq(UPLOAD(20000, slave_path, pkg), 4);
    ck_assert_int_lt(scratch_now_ms() - t0, 15000);
    HAS(err, "does not answer AT");
    HAS(out, "done result=failed exit=4");
}
END_TEST

/* ---- Against the emulator ------------------------------------------------------- */

/* End to end on both models that have the command: the new revision. */
START_TEST(updates_end_to_end)
{
    static const char *const models[] = {"bc66", "bc66-na"};
    static const char *const revs[][2] = {{"BC66NBR01A07", "BC66NBR01A10"},
                                          {"BC66NANBR01A02", "BC66NANBR01A03"}};
    const char *pkg = package(models[_i], revs[_i][0], revs[_i][1], "up.pkg", NULL);
    size_t len = file_size(pkg);
    module(models[_i], NULL);
    revision_is(revs[_i][0]);
    ck_assert_int_eq(UPLOAD(120000, proc.pty, pkg), 0);
    HAS(out, "block n=0 offset=0 len=4096 result=ok tries=1\n");
    char last[96];
    size_t n = (len + 4095) / 4096;
    snprintf(last, sizeof last, "block n=%zu offset=%zu len=%zu result=ok tries=1\n", n - 1,
             (n - 1) * 4096, len - (n - 1) * 4096);
    HAS(out, last);
    ck_assert_int_eq(count(out, "retry "), 0);
    HAS(out, "update state=START\n");
    HAS(out, "update percent=100\n");
    HAS(out, "update state=RDY\n");
    HAS(out, "end err=0\ndone result=updated exit=0");
    ck_assert_uint_eq(file_size(pkg), len); /* only read */
    revision_is(revs[_i][1]);
    module_answers_then_stop();
}
END_TEST

/* The BC260Y-CN has no AT+QFUPLEX: exit 5 before any block, nothing changed. */
START_TEST(bc260y_refuses)
{
    const char *pkg = package("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "up.pkg", NULL);
    module("bc260y-cn", NULL);
    ck_assert_int_eq(UPLOAD(60000, proc.pty, pkg), 5);
    HAS(err, "no DFOTA over UART");
    ck_assert_int_eq(count(out, "block "), 0);
    revision_is("BC260YCNAAR02A02");
    ck_assert_int_eq(bcsim_status_long(&proc, "downloaded"), 0);
    module_answers_then_stop();
}
END_TEST

/* A flash program fails in the middle: that block is ERROR, the uploader
 * sends it again by itself, and the update succeeds. */
START_TEST(flash_fault_retried)
{
    const char *pkg = package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    module("bc66", NULL);
    ctl("fault", "flash-program", "5");
    ck_assert_int_eq(UPLOAD(120000, proc.pty, pkg), 0);
    ck_assert_int_eq(count(out, "retry "), 1);
    HAS(out, "why=error\n");
    HAS(out, "result=ok tries=2\n");
    HAS(out, "end err=0\n");
    revision_is("BC66NBR01A08");
    module_answers_then_stop();
}
END_TEST

/* A worn flash fails every try: exit 6 after 1 + --retries tries of block 0. */
START_TEST(flash_worn_gives_up)
{
    const char *pkg = package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    module("bc66", NULL);
    ctl("fault", "flash-worn", NULL);
    ck_assert_int_eq(UPLOAD(120000, "--retries", "2", proc.pty, pkg), 6);
    ck_assert_int_eq(count(out, "retry n=0 "), 2);
    HAS(out, "retry n=0 offset=0 len=4096 try=2 why=error\n");
    ck_assert_int_eq(count(out, "block "), 0);
    HAS(out, "done result=failed exit=6");
    HAS(err, "block 0 failed after 3 tries (last: error)");
    ctl("fault", "clear", NULL);
    revision_is("BC66NBR01A07");
    module_answers_then_stop();
}
END_TEST

/* A package for another model uploads, and the module refuses it: END,254
 * and exit 7; the old firmware goes on. */
START_TEST(other_model_package)
{
    const char *pkg = package("bc66", "BC66NBR01A07", "BC66NBR01A08", "bad.pkg", "wrong-model");
    module("bc66", NULL);
    ck_assert_int_eq(UPLOAD(120000, proc.pty, pkg), 7);
    HAS(out, "end err=254\ndone result=failed exit=7");
    HAS(err, "\"END\",254");
    revision_is("BC66NBR01A07");
    module_answers_then_stop();
}
END_TEST

/* The flash file's FOTA area (BC66: after 1536 KiB of firmware) starts with
 * the first n bytes of the file at path. */
static void fota_area_holds(const char *path, size_t n)
{
    static uint8_t want[1 << 20], got[1 << 20];
    ck_assert_uint_le(n, sizeof want);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(want, 1, n, f), n);
    fclose(f);
    f = fopen(scratch_path(proc.state, "flash.bin"), "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 1536 * 1024, SEEK_SET), 0);
    ck_assert_uint_eq(fread(got, 1, n, f), n);
    fclose(f);
    ck_assert_msg(memcmp(got, want, n) == 0, "the FOTA area differs from the package");
}

/* --no-update, at each block size and with a last block that is short or
 * exactly full: every byte acknowledged, the revision unchanged. */
START_TEST(upload_only_block_sizes)
{
    static const struct {
        const char *block;
        size_t size;
    } cases[] = {
        {"128", 128 * 40 + 77}, {"8192", 8192 * 3}, {"4096", 4096 * 2 + 1}, {"1024", 1024 * 8}};
    const char *pkg = scratch_path(dir, "data.pkg");
    scratch_write_pattern(dir, "data.pkg", cases[_i].size, 7);
    module("bc66", NULL);
    ck_assert_int_eq(UPLOAD(120000, "--no-update", "--block", cases[_i].block, proc.pty, pkg), 0);
    size_t bs = (size_t)atoi(cases[_i].block), n = (cases[_i].size + bs - 1) / bs;
    char last[96];
    snprintf(last, sizeof last, "block n=%zu offset=%zu len=%zu result=ok tries=1\n", n - 1,
             (n - 1) * bs, cases[_i].size - (n - 1) * bs);
    HAS(out, last);
    ck_assert_int_eq(count(out, "block "), (int)n);
    HAS(out, "done result=uploaded exit=0");
    ck_assert_int_eq(count(out, "update "), 0);
    ck_assert_int_eq(bcsim_status_long(&proc, "downloaded"), (long)cases[_i].size);
    fota_area_holds(pkg, cases[_i].size / 4096 * 4096); /* whole sectors are in the flash */
    revision_is("BC66NBR01A07");
    module_answers_then_stop();
}
END_TEST

/* The module says nothing to one block command (its '>' lost): the uploader
 * escapes with AT+QFUPLEX=ESC and sends the block again. */
START_TEST(no_prompt_escapes)
{
    const char *pkg = package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    module("bc66", NULL);
    char o[1024];
    ck_assert_int_eq(
        bcsim_ctl(&proc, o, sizeof o,
                  (const char *[]){"override", "AT+QFUPLEX=4096,2,4098,1", "", "once", NULL}),
        0);
    ck_assert_int_eq(UPLOAD(120000, "--timeout", "1", proc.pty, pkg), 0);
    HAS(out, "escape n=2 answer=ok\nretry n=2 offset=8192 len=4096 try=1 why=no-prompt\n");
    HAS(out, "block n=2 offset=8192 len=4096 result=ok tries=2\n");
    HAS(out, "end err=0\n");
    revision_is("BC66NBR01A08");
    module_answers_then_stop();
}
END_TEST

/* AT+QFOTADL=1 answered ERROR: exit 5; answered OK and then nothing: exit 8
 * once --update-timeout has passed. */
START_TEST(update_refused_or_silent)
{
    const char *pkg = package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    module("bc66", NULL);
    char o[1024];
    const char *reply = _i == 0 ? "ERROR" : "OK";
    ck_assert_int_eq(
        bcsim_ctl(&proc, o, sizeof o, (const char *[]){"override", "AT+QFOTADL=1", reply, NULL}),
        0);
    long t0 = scratch_now_ms();
    int rc = UPLOAD(120000, "--update-timeout", "2", proc.pty, pkg);
    if (_i == 0) {
        ck_assert_int_eq(rc, 5);
        HAS(err, "no DFOTA over UART");
    } else {
        ck_assert_int_eq(rc, 8);
        ck_assert_int_ge(scratch_now_ms() - t0, 2000);
        HAS(err, "no +QIND: \"FOTA\",\"END\" within 2 s");
    }
    ck_assert_int_eq(count(out, "update "), 0);
    revision_is("BC66NBR01A07");
    module_answers_then_stop();
}
END_TEST

/* ---- Line faults ------------------------------------------------------------------ */

/* A booted BC66 whose boot output a host has read and left: the bytes it
 * sends from now on are the answers to the uploader alone. */
static void quiet_module(void)
{
    static struct host h;
    module("bc66", NULL);
    host_open(&h, proc.pty);
    host_wait_ready(&h);
    host_close(&h);
}

/* What the module sends (echo on) for the uploader's AT and AT+QFUPLEX=?,
 * then per block of 4096 with --timeout 1: the echo, "\r\n>", the answer. */
#define TX_SYNC "AT\r\r\nOK\r\n"
#define TX_PROBE                                                                                   \
    "AT+QFUPLEX=?\r\r\nAT+QFUPLEX=<blocksize>,<blocknum>[,<length>[,<timeout>]]\r\n"               \
    "AT+QFUPLEX=ESC\r\n\r\nOK\r\n"
#define TX_ANSWER "\r\n+QFUPLEX: 4096\r\n\r\nOK\r\n"

static size_t tx_echo(unsigned n)
{
    char echo[64];
    return (size_t)snprintf(echo, sizeof echo, "AT+QFUPLEX=4096,%u,4098,1\r", n);
}

/* The module's bytes before block n's "\r\n>". */
static size_t tx_before_prompt(unsigned n)
{
    size_t at = strlen(TX_SYNC) + strlen(TX_PROBE);
    for (unsigned k = 0; k < n; k++)
        at += tx_echo(k) + 3 + strlen(TX_ANSWER);
    return at + tx_echo(n);
}

/* One byte lost or damaged on the line, each way, in block 2 (host to
 * module: byte 10000 is in its data): the uploader recovers by itself and
 * the update succeeds. */
START_TEST(line_faults_recovered)
{
    const char *pkg = package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    quiet_module();
    char n[16];
    const char *fault, *want;
    switch (_i) {
    case 0: /* a data byte lost: the module times out */
        fault = "uart-rx-drop", snprintf(n, sizeof n, "10000");
        want = "retry n=2 offset=8192 len=4096 try=1 why=timeout\n";
        break;
    case 1: /* a data byte flipped: the CRC does not match */
        fault = "uart-rx-flip", snprintf(n, sizeof n, "10000");
        want = "retry n=2 offset=8192 len=4096 try=1 why=error\n";
        break;
    case 2: /* the '>' of block 2 lost */
        fault = "uart-tx-drop", snprintf(n, sizeof n, "%zu", tx_before_prompt(2) + 3);
        want = "escape n=2 answer=ok\nretry n=2 offset=8192 len=4096 try=1 why=no-prompt\n"
               "block n=2 offset=8192 len=4096 result=ok tries=2\n";
        break;
    default: /* the 'O' of block 2's OK lost: written, but the uploader cannot know */
        fault = "uart-tx-drop",
        snprintf(n, sizeof n, "%zu", tx_before_prompt(2) + 3 + strlen(TX_ANSWER) - 3);
        want = "escape n=2 answer=ok\nretry n=2 offset=8192 len=4096 try=1 why=no-answer\n"
               "block n=2 offset=8192 len=4096 result=assumed tries=2\n";
        break;
    }
    ctl("fault", fault, n);
    ck_assert_int_eq(UPLOAD(120000, "--timeout", "1", proc.pty, pkg), 0);
    HAS(out, want);
    ck_assert_int_eq(count(out, "retry "), 1);
    HAS(out, "block n=3 offset=12288 len=4096 result=ok tries=1\n");
    HAS(out, "end err=0\ndone result=updated exit=0");
    revision_is("BC66NBR01A08");
    module_answers_then_stop();
}
END_TEST

/* The emulator dies (kill -9) while the uploader waits for a prompt: the
 * device fails, exit 3 with the reason, at once rather than after the tries. */
START_TEST(device_goes_away)
{
    const char *pkg = package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    module("bc66", NULL);
    char o[1024];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o,
                               (const char *[]){"override", "AT+QFUPLEX=4096,2,4098,6", "", NULL}),
                     0);
    const char *argv[] = {BCSIM_BIN, "upload", "--lines", proc.pty, pkg, NULL};
    int ofd, efd;
    pid_t pid = host_spawn(argv, &ofd, &efd);
    size_t n = host_read_fd(ofd, out, sizeof out, 60000, "block n=1 ");
    ck_assert_msg(strstr(out, "block n=1 "), "no block 1: %s", out);
    bcsim_kill9(&proc);
    long t0 = scratch_now_ms();
    host_read_fd(ofd, out + n, sizeof out - n, 20000, NULL);
    host_read_fd(efd, err, sizeof err, 2000, NULL);
    close(ofd);
    close(efd);
    ck_assert_int_eq(host_wait_pid(pid, HOST_TIMEOUT_MS), 3);
    ck_assert_int_lt(scratch_now_ms() - t0, 5000);
    HAS(err, "Input/output error");
    HAS(out, "done result=failed exit=3");
    ck_assert_int_eq(bcsim_stop(&proc), 128 + SIGKILL);
}
END_TEST

/* ---- The command line ------------------------------------------------------------ */

/* Bad command lines are 2, a package or device that cannot be used 3, each
 * with one line on stderr, and the package is never written. */
START_TEST(bad_command_lines)
{
    const char *pkg = scratch_path(dir, "p.pkg");
    scratch_write_pattern(dir, "p.pkg", 5000, 3);
    struct stat before;
    ck_assert_int_eq(stat(pkg, &before), 0);
    static const char *const usage[][6] = {
        {NULL},
        {"/dev/null", NULL},
        {"--block", "100", "/dev/null", "x", NULL},
        {"--block", "300", "/dev/null", "x", NULL},
        {"--block", "16384", "/dev/null", "x", NULL},
        {"--timeout", "0", "/dev/null", "x", NULL},
        {"--timeout", "61", "/dev/null", "x", NULL},
        {"--baud", "12345", "/dev/null", "x", NULL},
        {"--retries", "-1", "/dev/null", "x", NULL},
        {"--retries", "x", "/dev/null", "x", NULL},
        {"--update-timeout", "0", "/dev/null", "x", NULL},
        {"--frobnicate", "/dev/null", "x", NULL},
        {"/dev/null", "x", "y", NULL},
        {"--block", NULL},
        {"--block", "8192", "--baud", "9600", "/dev/null", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        const char *args[8];
        size_t n = 0;
        for (; usage[i][n]; n++)
            args[n] = usage[i][n];
        if (i == 14)
            args[n++] = pkg;
        args[n] = NULL;
        ck_assert_msg(run_upload(args, 10000) == 2, "case %zu: %s", i, err);
        ck_assert_msg(strncmp(err, "bcsim", 5) == 0 && strchr(err, '\n'), "case %zu: '%s'", i, err);
    }
    /* The package: missing, empty, too many blocks; the device: not a
     * terminal, missing. */
    ck_assert_int_eq(UPLOAD(10000, "/dev/null", scratch_path(dir, "none.pkg")), 3);
    HAS(err, "none.pkg");
    FILE *f = fopen(scratch_path(dir, "empty.pkg"), "wb");
    fclose(f);
    ck_assert_int_eq(UPLOAD(10000, "/dev/null", scratch_path(dir, "empty.pkg")), 3);
    HAS(err, "empty.pkg: empty");
    f = fopen(scratch_path(dir, "big.pkg"), "wb");
    ck_assert_int_eq(ftruncate(fileno(f), 65536 * 128 + 1), 0);
    fclose(f);
    ck_assert_int_eq(UPLOAD(10000, "--block", "128", "/dev/null", scratch_path(dir, "big.pkg")), 3);
    HAS(err, "more than 65536 blocks of 128");
    ck_assert_int_eq(UPLOAD(10000, "/dev/null", pkg), 3);
    HAS(err, "/dev/null: not a serial device");
    ck_assert_int_eq(UPLOAD(10000, scratch_path(dir, "no-such-tty"), pkg), 3);
    HAS(err, "No such file");
    struct stat after;
    ck_assert_int_eq(stat(pkg, &after), 0);
    ck_assert_int_eq(after.st_size, before.st_size);
    ck_assert_int_eq(after.st_mtime, before.st_mtime);
    /* help */
    ck_assert_int_eq(
        bcsim_run_once((const char *[]){"help", "upload", NULL}, out, sizeof out, HOST_TIMEOUT_MS),
        0);
    HAS(out, "usage: bcsim upload");
}
END_TEST

Suite *upload_tool_suite(void)
{
    Suite *s = suite_create("upload_tool");
    TCase *crc = tcase_create("crc16");
    tcase_add_test(crc, crc16_check_value);
    suite_add_tcase(s, crc);
    TCase *wire = tcase_create("wire");
    tcase_add_checked_fixture(wire, pty_setup, pty_teardown);
    tcase_set_timeout(wire, 60);
    tcase_add_test(wire, wire_format_and_urcs);
    tcase_add_test(wire, nobody_answers);
    suite_add_tcase(s, wire);
    TCase *mod = tcase_create("module");
    tcase_add_checked_fixture(mod, setup, teardown);
    tcase_set_timeout(mod, 240);
    tcase_add_loop_test(mod, updates_end_to_end, 0, 2);
    tcase_add_test(mod, bc260y_refuses);
    tcase_add_test(mod, flash_fault_retried);
    tcase_add_test(mod, flash_worn_gives_up);
    tcase_add_test(mod, other_model_package);
    tcase_add_loop_test(mod, upload_only_block_sizes, 0, 4);
    tcase_add_test(mod, no_prompt_escapes);
    tcase_add_loop_test(mod, update_refused_or_silent, 0, 2);
    tcase_add_test(mod, device_goes_away);
    tcase_add_loop_test(mod, line_faults_recovered, 0, 4);
    suite_add_tcase(s, mod);
    TCase *cli = tcase_create("cli");
    tcase_add_checked_fixture(cli, setup, teardown);
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, bad_command_lines);
    suite_add_tcase(s, cli);
    return s;
}
