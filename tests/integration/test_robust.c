/* Bad input from the host: the module answers ERROR and keeps going. */
#include "tests/integration/host.h"
#include "tests/integration/suites.h"
#include "sim/at/at_frame.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct session {
    struct bcsim_proc p;
    struct host h;
};

static char buf[1 << 17];

static void begin(struct session *s)
{
    memset(&s->p, 0, sizeof s->p);
    bcsim_start(&s->p, "bc66", NULL);
    host_open(&s->h, s->p.pty);
    host_wait_ready(&s->h);
    host_cmd(&s->h, "ATE0", buf, sizeof buf);
}

static void end(struct session *s)
{
    bcsim_answers_then_stop(&s->p, &s->h, "\r\nOK\r\n");
}

/* A line of n characters that is ATI after n - 3 leading blanks (skipped
 * before AT): parsed, it gets ATI's answer; discarded, ERROR. */
static void blanks_then_ati(char *line, size_t n)
{
    memset(line, ' ', n - 3);
    memcpy(line + n - 3, "ATI", 4);
}

START_TEST(overlong_line)
{
    static const char ati[] =
        "\r\nQuectel_Ltd\r\nQuectel_BC66\r\nRevision: BC66NBR01A07\r\n\r\nOK\r\n";
    struct session s;
    begin(&s);
    static char line[AT_LINE_MAX + 2];
    /* AT_LINE_MAX (4096) characters is the longest line: answered. */
    blanks_then_ati(line, AT_LINE_MAX);
    host_cmd(&s.h, line, buf, sizeof buf);
    ck_assert_str_eq(buf, ati);
    /* One more and the whole line is discarded: the same command is refused. */
    blanks_then_ati(line, AT_LINE_MAX + 1);
    host_cmd(&s.h, line, buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nERROR\r\n");
    /* And the framing starts afresh at the next line. */
    host_cmd(&s.h, "ATI", buf, sizeof buf);
    ck_assert_str_eq(buf, ati);
    end(&s);
}
END_TEST

START_TEST(binary_garbage)
{
    struct session s;
    begin(&s);
    unsigned char junk[65536];
    srand(42);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i < 256 ? (int)i : rand());
    host_send_bytes(&s.h, junk, sizeof junk);
    /* Whatever ERRORs the garbage earned come first; answers are in order,
     * so the next command's answer marks their end. */
    host_send(&s.h, "\rAT+CGMI\r");
    host_expect(&s.h, "\r\nQuectel_Ltd\r\n\r\nOK\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
    end(&s);
}
END_TEST

START_TEST(flood_answered_in_order)
{
    struct session s;
    begin(&s);
    static char flood[600 * 16];
    size_t n = 0;
    for (int i = 0; i < 600; i++)
        n += (size_t)sprintf(flood + n, "AT+CGSN=%d\r", i % 4);
    host_send_bytes(&s.h, flood, n);
    for (int i = 0; i < 600; i++) {
        host_expect(&s.h, "\r\nOK\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
        const char *want = i % 4 == 0 ? "\r\nMP" : i % 4 == 3 ? "\r\n+CGSN: 01\r\n" : "\r\n+CGSN: ";
        ck_assert_msg(strncmp(buf, want, strlen(want)) == 0, "answer %d: %s", i, host_show(buf));
    }
    end(&s);
}
END_TEST

/* URCs fired from the control socket while long responses stream out land
 * whole and only between responses, never spliced into one. */
START_TEST(urcs_and_responses_never_interleave)
{
    struct session s;
    begin(&s);
    static char chain[4096];
    size_t n = (size_t)sprintf(chain, "AT+CGMR");
    for (int i = 0; i < 60; i++)
        n += (size_t)sprintf(chain + n, ";+CGMR");
    static char expect[8192];
    size_t e = 0;
    for (int i = 0; i < 61; i++)
        e += (size_t)sprintf(expect + e, "\r\nRevision: BC66NBR01A07\r\n");
    e += (size_t)sprintf(expect + e, "\r\nOK\r\n");
    strcat(chain, "\r");
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 30; i++) {
            char o[512];
            bcsim_ctl(&s.p, o, sizeof o, (const char *[]){"urc", "+X", NULL});
        }
        _exit(0);
    }
    for (int i = 0; i < 40; i++)
        host_send(&s.h, chain);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    size_t got = host_drain(&s.h, buf, sizeof buf, 1000);
    int answers = 0, urcs = 0;
    for (size_t i = 0; i < got;) {
        if (strncmp(buf + i, expect, e) == 0) {
            answers++;
            i += e;
        } else if (strncmp(buf + i, "\r\n+X\r\n", 6) == 0) {
            urcs++;
            i += 6;
        } else {
            ck_abort_msg("unexpected bytes at %zu: %s", i, host_show(buf + i));
        }
    }
    ck_assert_int_eq(answers, 40);
    ck_assert_int_eq(urcs, 30);
    end(&s);
}
END_TEST

Suite *robust_suite(void)
{
    Suite *s = suite_create("robust");
    TCase *tc = tcase_create("robust");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, overlong_line);
    tcase_add_test(tc, binary_garbage);
    tcase_add_test(tc, flood_answered_in_order);
    tcase_add_test(tc, urcs_and_responses_never_interleave);
    suite_add_tcase(s, tc);
    return s;
}
