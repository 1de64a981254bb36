/* Unit tests for the UART line framer (sim/at/at_frame.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sim/at/at_frame.h"

#define MAX_LINES 32

/* What a run of bytes produced: every non-MORE result, with a copy of the line.
 * The framer is reset after each result, as the engine does. */
static struct {
    int n;
    int more; /* AT_FRAME_MORE results */
    enum at_frame_result r[MAX_LINES];
    size_t len[MAX_LINES];
    char text[MAX_LINES][AT_LINE_MAX + 1];
} got;

static struct at_frame frame;

static void start(void)
{
    memset(&got, 0, sizeof got);
    at_frame_reset(&frame);
}

static void feed(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        enum at_frame_result r = at_frame_byte(&frame, (uint8_t)s[i]);
        if (r == AT_FRAME_MORE) {
            got.more++;
            continue;
        }
        ck_assert_int_lt(got.n, MAX_LINES);
        got.r[got.n] = r;
        got.len[got.n] = frame.len;
        ck_assert_uint_le(frame.len, AT_LINE_MAX);
        memcpy(got.text[got.n], frame.line, frame.len + 1);
        got.n++;
        at_frame_reset(&frame);
    }
}

#define FEED(lit) feed(lit, sizeof(lit) - 1)

static void assert_line(int i, const char *text, size_t len)
{
    ck_assert_int_lt(i, got.n);
    ck_assert_int_eq(got.r[i], AT_FRAME_LINE);
    ck_assert_uint_eq(got.len[i], len);
    ck_assert_mem_eq(got.text[i], text, len);
    ck_assert_int_eq(got.text[i][len], '\0');
}

#define ASSERT_LINE(i, lit) assert_line(i, lit, sizeof(lit) - 1)

START_TEST(test_cr_ends_line)
{
    start();
    FEED("AT+CSQ");
    ck_assert_int_eq(got.n, 0);
    ck_assert_int_eq(got.more, 6);
    FEED("\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "AT+CSQ");
}
END_TEST

START_TEST(test_lone_lf_ignored)
{
    start();
    FEED("\n\nA\nT\n");
    ck_assert_int_eq(got.n, 0);
    FEED("\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "AT");
}
END_TEST

START_TEST(test_crlf)
{
    start();
    FEED("AT\r\nATI\r\nAT+CSQ\r\n");
    ck_assert_int_eq(got.n, 3);
    ASSERT_LINE(0, "AT");
    ASSERT_LINE(1, "ATI");
    ASSERT_LINE(2, "AT+CSQ");
}
END_TEST

START_TEST(test_backspace_and_del)
{
    start();
    FEED("ATX\bI\r");
    FEED("AT+CSQQ\x7f\r");
    FEED("ATXY\b\b\bT\r");
    ck_assert_int_eq(got.n, 3);
    ASSERT_LINE(0, "ATI");
    ASSERT_LINE(1, "AT+CSQ");
    ASSERT_LINE(2, "AT");
}
END_TEST

START_TEST(test_backspace_at_start)
{
    start();
    FEED("\b\x7f\b\x7f"
         "AT\r");
    FEED("A\b\b\x7f\bT\r");
    ck_assert_int_eq(got.n, 2);
    ASSERT_LINE(0, "AT");
    ASSERT_LINE(1, "T");
}
END_TEST

START_TEST(test_backspace_only_line_is_empty)
{
    start();
    FEED("AT\b\b\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "");
}
END_TEST

START_TEST(test_control_bytes_dropped)
{
    start();
    /* NUL, SOH, ESC, VT, FF, 0x1f dropped; TAB kept. */
    FEED("\0A\x01T\x1b"
         "+\x0b\x0c\tX\x1f\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "AT+\tX");
}
END_TEST

START_TEST(test_all_control_bytes)
{
    start();
    for (int c = 0; c < 0x20; c++) {
        if (c == '\r' || c == '\b')
            continue;
        char s[4] = {'A', (char)c, 'B', '\r'};
        feed(s, sizeof s);
    }
    ck_assert_int_eq(got.n, 30);
    /* Only TAB survives; the rest of the lines read "AB". */
    int tabs = 0;
    for (int i = 0; i < got.n; i++) {
        if (got.len[i] == 3) {
            ASSERT_LINE(i, "A\tB");
            tabs++;
        } else {
            ASSERT_LINE(i, "AB");
        }
    }
    ck_assert_int_eq(tabs, 1);
}
END_TEST

START_TEST(test_high_bytes_kept)
{
    start();
    FEED("\x80\xff"
         "AT\xfe\xc3\xa9\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "\x80\xff"
                   "AT\xfe\xc3\xa9");
}
END_TEST

START_TEST(test_max_line_accepted)
{
    static char buf[AT_LINE_MAX + 1];
    memset(buf, 'A', AT_LINE_MAX);
    buf[AT_LINE_MAX] = '\r';
    start();
    feed(buf, sizeof buf);
    ck_assert_int_eq(got.n, 1);
    assert_line(0, buf, AT_LINE_MAX);
}
END_TEST

START_TEST(test_overlong_line)
{
    static char buf[AT_LINE_MAX + 1];
    memset(buf, 'B', sizeof buf);
    start();
    feed(buf, sizeof buf); /* one char more than allowed, no CR yet */
    ck_assert_int_eq(got.n, 0);
    FEED("more text\b\b");
    ck_assert_int_eq(got.n, 0);
    FEED("\r");
    ck_assert_int_eq(got.n, 1);
    ck_assert_int_eq(got.r[0], AT_FRAME_OVERLONG);
    ck_assert_uint_eq(got.len[0], 0);
    FEED("AT+CSQ\r");
    ck_assert_int_eq(got.n, 2);
    ASSERT_LINE(1, "AT+CSQ");
}
END_TEST

START_TEST(test_overlong_resets_itself)
{
    /* Without a reset by the caller the next line still starts clean. */
    static char buf[AT_LINE_MAX + 2];
    memset(buf, 'C', sizeof buf);
    buf[sizeof buf - 1] = '\r';
    struct at_frame f;
    at_frame_reset(&f);
    enum at_frame_result r = AT_FRAME_MORE;
    for (size_t i = 0; i < sizeof buf; i++) {
        r = at_frame_byte(&f, (uint8_t)buf[i]);
        if (i + 1 < sizeof buf)
            ck_assert_int_eq(r, AT_FRAME_MORE);
    }
    ck_assert_int_eq(r, AT_FRAME_OVERLONG);
    const char *next = "AT\r";
    for (const char *p = next; *p; p++)
        r = at_frame_byte(&f, (uint8_t)*p);
    ck_assert_int_eq(r, AT_FRAME_LINE);
    ck_assert_uint_eq(f.len, 2);
    ck_assert_str_eq(f.line, "AT");
}
END_TEST

START_TEST(test_max_line_edit_at_limit)
{
    /* At the limit, a backspace makes room again and control bytes do not count. */
    static char buf[AT_LINE_MAX];
    memset(buf, 'D', sizeof buf);
    start();
    feed(buf, sizeof buf);
    FEED("\n\x01\bZ\r");
    ck_assert_int_eq(got.n, 1);
    ck_assert_int_eq(got.r[0], AT_FRAME_LINE);
    ck_assert_uint_eq(got.len[0], AT_LINE_MAX);
    ck_assert_mem_eq(got.text[0], buf, AT_LINE_MAX - 1);
    ck_assert_int_eq(got.text[0][AT_LINE_MAX - 1], 'Z');
}
END_TEST

START_TEST(test_empty_line)
{
    start();
    FEED("\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "");
    FEED("\r\n\r");
    ck_assert_int_eq(got.n, 3);
    ASSERT_LINE(1, "");
    ASSERT_LINE(2, "");
}
END_TEST

START_TEST(test_reset_drops_partial)
{
    start();
    FEED("garbage");
    at_frame_reset(&frame);
    ck_assert_uint_eq(frame.len, 0);
    FEED("AT\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "AT");
}
END_TEST

START_TEST(test_reset_clears_overlong)
{
    static char buf[AT_LINE_MAX + 10];
    memset(buf, 'E', sizeof buf);
    start();
    feed(buf, sizeof buf);
    ck_assert(frame.overlong);
    at_frame_reset(&frame);
    FEED("AT\r");
    ck_assert_int_eq(got.n, 1);
    ASSERT_LINE(0, "AT");
}
END_TEST

Suite *at_frame_suite(void)
{
    Suite *s = suite_create("at_frame");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_cr_ends_line);
    tcase_add_test(tc, test_lone_lf_ignored);
    tcase_add_test(tc, test_crlf);
    tcase_add_test(tc, test_backspace_and_del);
    tcase_add_test(tc, test_backspace_at_start);
    tcase_add_test(tc, test_backspace_only_line_is_empty);
    tcase_add_test(tc, test_control_bytes_dropped);
    tcase_add_test(tc, test_all_control_bytes);
    tcase_add_test(tc, test_high_bytes_kept);
    tcase_add_test(tc, test_max_line_accepted);
    tcase_add_test(tc, test_overlong_line);
    tcase_add_test(tc, test_overlong_resets_itself);
    tcase_add_test(tc, test_max_line_edit_at_limit);
    tcase_add_test(tc, test_empty_line);
    tcase_add_test(tc, test_reset_drops_partial);
    tcase_add_test(tc, test_reset_clears_overlong);
    suite_add_tcase(s, tc);
    return s;
}
