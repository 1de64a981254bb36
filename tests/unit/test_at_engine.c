/* Unit tests for the AT command interpreter (sim/at/at_engine.c), driven through
 * a test struct at_io and a small command table. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/at/at_engine.h"
#include "sim/at/at_fmt.h"

#include <limits.h>
#include <stdarg.h>

/* ---- the test harness ---- */

static struct {
    char *out; /* everything the engine wrote */
    size_t len, cap;
    int lines, idles, syncs;
    char last_line[AT_LINE_MAX + 1];
    char log[256]; /* handlers that ran, in order */
    int pending;   /* +P calls */
    int writes;    /* io->write calls, and the length of each (the first 64) */
    size_t wlen[64];
    bool urc_on_line; /* io->line writes "<U>" as the module's URC queue would */
    int lookups;      /* io->lookup calls */
} t;

static struct at_engine eng;

static void io_write(void *ctx, const char *data, size_t len)
{
    ck_assert_ptr_eq(ctx, &t);
    ck_assert_uint_gt(len, 0);
    if (t.len + len + 1 > t.cap) {
        size_t cap = t.cap ? t.cap : 1024;
        while (cap < t.len + len + 1)
            cap *= 2;
        char *p = realloc(t.out, cap);
        ck_assert_ptr_nonnull(p);
        t.out = p;
        t.cap = cap;
    }
    memcpy(t.out + t.len, data, len);
    t.len += len;
    t.out[t.len] = '\0';
    if (t.writes < 64)
        t.wlen[t.writes] = len;
    t.writes++;
}

static void io_line(void *ctx, const char *line, size_t len)
{
    ck_assert_ptr_eq(ctx, &t);
    ck_assert_uint_le(len, AT_LINE_MAX);
    memcpy(t.last_line, line, len);
    t.last_line[len] = '\0';
    t.lines++;
    if (t.urc_on_line) { /* as mod_urc_flush does: the engine's bytes first */
        at_engine_flush(&eng);
        io_write(ctx, "<U>", 3);
    }
}

static void io_idle(void *ctx)
{
    ck_assert_ptr_eq(ctx, &t);
    t.idles++;
}

static void io_sync(void *ctx)
{
    ck_assert_ptr_eq(ctx, &t);
    t.syncs++;
}

static void logc(const char *what)
{
    size_t n = strlen(t.log);
    snprintf(t.log + n, sizeof t.log - n, "%s%s", n ? "," : "", what);
}

static int t_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    logc("T");
    at_reply(e, "EXEC");
    return AT_OK;
}

static int t_test(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    logc("T=?");
    at_reply(e, "+T: (0-1)");
    return AT_OK;
}

static int t_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    logc("T?");
    at_reply(e, "+T: 1");
    return AT_OK;
}

static int t_write(struct at_engine *e, const struct at_cmd *c)
{
    logc("T=");
    at_reply(e, "+T: %d,%.*s", c->argc, (int)c->argv[0].len, c->argv[0].s);
    return AT_OK;
}

static int m_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    logc("M");
    at_reply(e, "L1");
    at_reply(e, "L2");
    return AT_OK;
}

static int p_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)e;
    (void)c;
    logc("P");
    t.pending++;
    return AT_PENDING;
}

static int c_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)e;
    (void)c;
    logc("C");
    return AT_CME(50);
}

static int c_write(struct at_engine *e, const struct at_cmd *c)
{
    (void)e;
    uint32_t v;
    if (at_arg_uint(c, 0, 1, 1000, &v) != 0)
        return AT_ERROR;
    logc("C=");
    return AT_CME((int)v);
}

static int e_err(struct at_engine *e, const struct at_cmd *c)
{
    (void)e;
    (void)c;
    logc("ERR");
    return AT_ERROR;
}

static int n_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)e;
    (void)c;
    logc("N");
    return AT_OK;
}

static int echo_exec(struct at_engine *e, const struct at_cmd *c)
{
    logc("E");
    if (c->argc == 0 || (c->argv[0].len == 1 && c->argv[0].s[0] == '0'))
        e->echo = false;
    else if (c->argv[0].len == 1 && c->argv[0].s[0] == '1')
        e->echo = true;
    else
        return AT_ERROR;
    return AT_OK;
}

static const struct at_command table[] = {
    {"+T", t_exec, t_test, t_read, t_write, NULL},
    {"+M", m_exec, NULL, NULL, NULL, NULL},
    {"+P", p_exec, NULL, NULL, NULL, NULL},
    {"+C", c_exec, NULL, NULL, c_write, NULL},
    {"+ERR", e_err, NULL, NULL, NULL, NULL},
    {"+N", n_exec, NULL, NULL, NULL, NULL},
    {"E", echo_exec, NULL, NULL, NULL, NULL},
    {"+F", NULL, NULL, NULL, NULL, "+F: (0,1)"},
    {"+B", NULL, NULL, NULL, NULL, ""},
};

static const struct at_command *io_lookup(void *ctx, const char *name)
{
    ck_assert_ptr_eq(ctx, &t);
    t.lookups++;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static const struct at_io io = {
    .write = io_write,
    .line = io_line,
    .idle = io_idle,
    .sync = io_sync,
    .lookup = io_lookup,
};

static void setup(void)
{
    memset(&t, 0, sizeof t);
    at_engine_init(&eng, &io, &t);
}

static void teardown(void)
{
    at_engine_free(&eng);
    free(t.out);
    memset(&t, 0, sizeof t);
}

static void clear_out(void)
{
    t.len = 0;
    if (t.out)
        t.out[0] = '\0';
}

static bool input(const char *s, size_t n)
{
    return at_engine_input(&eng, s, n);
}

#define IN(lit) input(lit, sizeof(lit) - 1)

static void assert_out(const char *want, size_t n)
{
    ck_assert_msg(t.len == n && (n == 0 || memcmp(t.out, want, n) == 0),
                  "output: got %zu bytes '%s', want %zu bytes '%s'", t.len, t.out ? t.out : "", n,
                  want);
}

#define OUT(lit) assert_out(lit, sizeof(lit) - 1)

/* ---- basics ---- */

START_TEST(test_init_defaults)
{
    ck_assert(eng.echo);
    ck_assert(eng.synced);
    ck_assert_int_eq(eng.cmee, 0);
    ck_assert(at_engine_idle(&eng));
    ck_assert_int_eq(eng.noverrides, 0);
}
END_TEST

START_TEST(test_at_echo_on)
{
    ck_assert(IN("AT\r"));
    OUT("AT\r\r\nOK\r\n");
    ck_assert_int_eq(t.lines, 1);
    ck_assert_str_eq(t.last_line, "AT");
    ck_assert_int_eq(t.idles, 1);
}
END_TEST

START_TEST(test_at_echo_off)
{
    eng.echo = false;
    ck_assert(IN("AT\r"));
    OUT("\r\nOK\r\n");
    ck_assert_int_eq(t.idles, 1);
}
END_TEST

START_TEST(test_echo_exact_bytes)
{
    /* Echo is byte for byte, as it arrives: partial input at once, the CR with
     * the line, an LF after the result, edits and control bytes included. */
    ck_assert(IN("A"));
    OUT("A");
    ck_assert(IN("X\bT\x01"));
    OUT("AX\bT\x01");
    ck_assert(IN("\r\n"));
    OUT("AX\bT\x01\r\r\nOK\r\n\n");
    ck_assert_str_eq(t.last_line, "AT");
}
END_TEST

START_TEST(test_echo_switch_by_command)
{
    ck_assert(IN("ATE0\r"));
    OUT("ATE0\r\r\nOK\r\n");
    ck_assert(!eng.echo);
    clear_out();
    ck_assert(IN("AT\r"));
    OUT("\r\nOK\r\n");
    clear_out();
    ck_assert(IN("ATE1\r"));
    OUT("\r\nOK\r\n");
    clear_out();
    ck_assert(IN("AT\r"));
    OUT("AT\r\r\nOK\r\n");
}
END_TEST

START_TEST(test_unknown_command)
{
    eng.echo = false;
    ck_assert(IN("AT+NOPE\r"));
    OUT("\r\nERROR\r\n");
    ck_assert_int_eq(t.idles, 1);
    clear_out();
    /* A known command without a handler for the form is unknown too. */
    ck_assert(IN("AT+M=?\r"));
    OUT("\r\nERROR\r\n");
    clear_out();
    ck_assert(IN("AT+M?\r"));
    OUT("\r\nERROR\r\n");
    clear_out();
    ck_assert(IN("AT+CSQ+CESQ\r")); /* syntax error */
    OUT("\r\nERROR\r\n");
    ck_assert_int_eq(t.idles, 4);
    ck_assert_str_eq(t.log, "");
}
END_TEST

/* A fixed test-form answer is data in the table, not a handler. */
START_TEST(test_fixed_test_reply)
{
    eng.echo = false;
    ck_assert(IN("AT+F=?\r"));
    OUT("\r\n+F: (0,1)\r\n\r\nOK\r\n");
    clear_out();
    ck_assert(IN("AT+B=?;+F=?\r"));
    OUT("\r\n+F: (0,1)\r\n\r\nOK\r\n");
    clear_out();
    ck_assert(IN("AT+F?\r")); /* only the test form has one */
    OUT("\r\nERROR\r\n");
}
END_TEST

START_TEST(test_unknown_command_echo_on)
{
    ck_assert(IN("AT+NOPE\r"));
    OUT("AT+NOPE\r\r\nERROR\r\n");
}
END_TEST

START_TEST(test_cmee_formatting)
{
    eng.echo = false;
    eng.cmee = 0;
    IN("AT+C\r");
    OUT("\r\nERROR\r\n");
    clear_out();
    eng.cmee = 1;
    IN("AT+C\r");
    OUT("\r\n+CME ERROR: 50\r\n");
    clear_out();
    eng.cmee = 2;
    IN("AT+C\r");
    OUT("\r\n+CME ERROR: incorrect parameters\r\n");
    ck_assert_int_eq(t.idles, 3);
}
END_TEST

START_TEST(test_cmee_texts)
{
    eng.echo = false;
    eng.cmee = 2;
    IN("AT+C=3\r");
    OUT("\r\n+CME ERROR: operation not allowed\r\n");
    clear_out();
    IN("AT+C=302\r");
    OUT("\r\n+CME ERROR: UE busy\r\n");
    clear_out();
    IN("AT+C=999\r"); /* no text: "unknown" */
    OUT("\r\n+CME ERROR: unknown\r\n");
    clear_out();
    eng.cmee = 1;
    IN("AT+C=302\r");
    OUT("\r\n+CME ERROR: 302\r\n");
}
END_TEST

START_TEST(test_cmee_plain_error_stays_error)
{
    /* AT_ERROR and unknown commands are "ERROR" whatever +CMEE says. */
    eng.echo = false;
    for (int cmee = 0; cmee <= 2; cmee++) {
        eng.cmee = cmee;
        clear_out();
        IN("AT+ERR\r");
        OUT("\r\nERROR\r\n");
        clear_out();
        IN("AT+NOPE\r");
        OUT("\r\nERROR\r\n");
    }
}
END_TEST

START_TEST(test_forms_dispatch)
{
    eng.echo = false;
    IN("AT+T\r");
    OUT("\r\nEXEC\r\n\r\nOK\r\n");
    clear_out();
    IN("AT+T=?\r");
    OUT("\r\n+T: (0-1)\r\n\r\nOK\r\n");
    clear_out();
    IN("AT+T?\r");
    OUT("\r\n+T: 1\r\n\r\nOK\r\n");
    clear_out();
    IN("at+t=\"x,y\",2\r");
    OUT("\r\n+T: 2,x,y\r\n\r\nOK\r\n");
    ck_assert_str_eq(t.log, "T,T=?,T?,T=");
}
END_TEST

START_TEST(test_multiline_block)
{
    eng.echo = false;
    IN("AT+M\r");
    OUT("\r\nL1\r\nL2\r\n\r\nOK\r\n");
}
END_TEST

START_TEST(test_chain_one_ok)
{
    eng.echo = false;
    ck_assert(IN("AT+T;+M;+T?;+N\r"));
    OUT("\r\nEXEC\r\n"
        "\r\nL1\r\nL2\r\n"
        "\r\n+T: 1\r\n"
        "\r\nOK\r\n");
    ck_assert_str_eq(t.log, "T,M,T?,N");
    ck_assert_int_eq(t.idles, 1);
}
END_TEST

START_TEST(test_chain_error_stops)
{
    eng.echo = false;
    eng.cmee = 1;
    IN("AT+T;+C;+N\r");
    OUT("\r\nEXEC\r\n\r\n+CME ERROR: 50\r\n");
    ck_assert_str_eq(t.log, "T,C");
    ck_assert_int_eq(t.idles, 1);
    clear_out();
    t.log[0] = '\0';
    IN("AT+N;+ERR;+T\r");
    OUT("\r\nERROR\r\n");
    ck_assert_str_eq(t.log, "N,ERR");
    clear_out();
    t.log[0] = '\0';
    IN("AT+N;+NOPE;+T\r");
    OUT("\r\nERROR\r\n");
    ck_assert_str_eq(t.log, "N");
    ck_assert_int_eq(t.idles, 3);
}
END_TEST

START_TEST(test_non_at_line)
{
    ck_assert(IN("hello\r"));
    OUT("hello\r\r\nERROR\r\n");
    ck_assert_int_eq(t.lines, 1);
    ck_assert_str_eq(t.last_line, "hello");
    ck_assert_int_eq(t.idles, 1);
    clear_out();
    eng.echo = false;
    IN("At\r");
    OUT("\r\nERROR\r\n");
}
END_TEST

START_TEST(test_empty_line_nothing)
{
    eng.echo = false;
    ck_assert(IN("\r"));
    ck_assert(IN("  \t\r"));
    ck_assert(IN("\r\n\r\n"));
    OUT("");
    ck_assert_int_eq(t.lines, 0);
    ck_assert_int_eq(t.idles, 0);
    /* With echo, only the bytes themselves come back. */
    eng.echo = true;
    ck_assert(IN(" \r"));
    OUT(" \r");
    ck_assert_int_eq(t.idles, 0);
}
END_TEST

START_TEST(test_at_alone_leading_blanks)
{
    eng.echo = false;
    IN("  AT  \r");
    OUT("\r\nOK\r\n");
    ck_assert_str_eq(t.last_line, "  AT  ");
}
END_TEST

START_TEST(test_overlong_line)
{
    static char buf[AT_LINE_MAX + 2];
    memset(buf, 'A', sizeof buf);
    buf[sizeof buf - 1] = '\r';
    eng.echo = false;
    ck_assert(input(buf, sizeof buf));
    OUT("\r\nERROR\r\n");
    ck_assert_int_eq(t.lines, 0);
    ck_assert_int_eq(t.idles, 1);
    clear_out();
    ck_assert(IN("AT+T\r"));
    OUT("\r\nEXEC\r\n\r\nOK\r\n");
}
END_TEST

START_TEST(test_max_line_runs)
{
    /* A line of exactly AT_LINE_MAX chars is run: "AT+N" then blanks. */
    static char buf[AT_LINE_MAX + 1];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, "AT+N", 4);
    buf[AT_LINE_MAX] = '\r';
    eng.echo = false;
    input(buf, sizeof buf);
    OUT("\r\nOK\r\n");
    ck_assert_str_eq(t.log, "N");
}
END_TEST

START_TEST(test_line_with_edits)
{
    eng.echo = false;
    IN("AT+Q\bT\r");
    OUT("\r\nEXEC\r\n\r\nOK\r\n");
    ck_assert_str_eq(t.last_line, "AT+T");
}
END_TEST

/* ---- robustness ---- */

static void assert_still_answers(void)
{
    while (!at_engine_idle(&eng))
        at_engine_complete(&eng, AT_OK);
    input("\r", 1); /* ends whatever line the garbage left open */
    ck_assert(at_engine_idle(&eng));
    clear_out();
    eng.cmee = 0;
    bool echo = eng.echo;
    ck_assert(IN("AT\r"));
    if (echo)
        OUT("AT\r\r\nOK\r\n");
    else
        OUT("\r\nOK\r\n");
}

START_TEST(test_all_byte_values)
{
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    input(all, sizeof all);
    assert_still_answers();
    /* One byte per call, and reversed. */
    for (int i = 0; i < 256; i++)
        input(&all[i], 1);
    assert_still_answers();
    for (int i = 255; i >= 0; i--)
        input(&all[i], 1);
    assert_still_answers();
}
END_TEST

static uint32_t rng_state;

static uint32_t rng(void)
{
    /* xorshift32 */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

START_TEST(test_random_garbage)
{
    enum { SIZE = 64 * 1024 };
    char *buf = malloc(SIZE);
    ck_assert_ptr_nonnull(buf);
    rng_state = 0x2545F491u;
    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < SIZE; i++) {
            uint32_t r = rng();
            /* Half of the rounds lean towards text that looks like AT lines. */
            if (round % 2 && (r & 0x300) == 0)
                buf[i] = "AT+;=?\",\r"[(r >> 12) % 9];
            else
                buf[i] = (char)(r & 0xff);
        }
        input(buf, SIZE);
        ck_assert_uint_le(eng.frame.len, AT_LINE_MAX);
        assert_still_answers();
    }
    /* Also chopped into random chunks. */
    for (size_t i = 0; i < SIZE; i++)
        buf[i] = (char)(rng() & 0xff);
    for (size_t off = 0; off < SIZE;) {
        size_t n = 1 + rng() % 97;
        if (n > SIZE - off)
            n = SIZE - off;
        input(buf + off, n);
        off += n;
    }
    assert_still_answers();
    free(buf);
}
END_TEST

/* ---- pending commands and flow control ---- */

START_TEST(test_pending_holds_input)
{
    ck_assert(!IN("AT+P\rAT+T\r"));
    OUT("AT+P\r");
    ck_assert(!at_engine_idle(&eng));
    ck_assert_int_eq(t.pending, 1);
    ck_assert_int_eq(t.idles, 0);
    ck_assert_int_eq(t.lines, 1);
    /* More input while busy: held, not echoed, not answered. */
    ck_assert(!IN("AT\r"));
    ck_assert(!IN("AT+M"));
    ck_assert(!IN("\r"));
    OUT("AT+P\r");
    ck_assert_str_eq(t.log, "P");
    ck_assert_int_eq(t.lines, 1);

    at_engine_complete(&eng, AT_OK);
    ck_assert(at_engine_idle(&eng));
    OUT("AT+P\r\r\nOK\r\n"
        "AT+T\r\r\nEXEC\r\n\r\nOK\r\n"
        "AT\r\r\nOK\r\n"
        "AT+M\r\r\nL1\r\nL2\r\n\r\nOK\r\n");
    ck_assert_str_eq(t.log, "P,T,M");
    ck_assert_int_eq(t.idles, 4);
    ck_assert_int_eq(t.lines, 4);
    /* Input flows again. */
    clear_out();
    ck_assert(IN("AT\r"));
    OUT("AT\r\r\nOK\r\n");
}
END_TEST

START_TEST(test_pending_reply_on_complete)
{
    eng.echo = false;
    ck_assert(!IN("AT+P\r"));
    OUT("");
    at_reply(&eng, "+P: done");
    at_reply(&eng, "+P: more");
    at_engine_complete(&eng, AT_OK);
    OUT("\r\n+P: done\r\n+P: more\r\n\r\nOK\r\n");
    ck_assert_int_eq(t.idles, 1);
}
END_TEST

START_TEST(test_pending_complete_error)
{
    eng.echo = false;
    eng.cmee = 2;
    ck_assert(!IN("AT+P;+N\rAT+T\r"));
    at_engine_complete(&eng, AT_CME(CME_UE_BUSY));
    OUT("\r\n+CME ERROR: UE busy\r\n"
        "\r\nEXEC\r\n\r\nOK\r\n");
    ck_assert_str_eq(t.log, "P,T"); /* +N, after the failed +P, never ran */
    ck_assert_int_eq(t.idles, 2);
}
END_TEST

START_TEST(test_pending_mid_chain)
{
    eng.echo = false;
    ck_assert(!IN("AT+T;+P;+M\r"));
    OUT("\r\nEXEC\r\n");
    ck_assert_str_eq(t.log, "T,P");
    at_engine_complete(&eng, AT_OK);
    OUT("\r\nEXEC\r\n\r\nL1\r\nL2\r\n\r\nOK\r\n");
    ck_assert_str_eq(t.log, "T,P,M");
    ck_assert_int_eq(t.idles, 1);
}
END_TEST

START_TEST(test_pending_twice_in_held)
{
    eng.echo = false;
    ck_assert(!IN("AT+P\rAT+P\rAT+T\r"));
    ck_assert_int_eq(t.pending, 1);
    at_engine_complete(&eng, AT_OK);
    ck_assert(!at_engine_idle(&eng)); /* the second +P, from the held input */
    ck_assert_int_eq(t.pending, 2);
    OUT("\r\nOK\r\n");
    ck_assert(!IN("AT+N\r"));
    at_engine_complete(&eng, AT_OK);
    ck_assert(at_engine_idle(&eng));
    OUT("\r\nOK\r\n"
        "\r\nOK\r\n"
        "\r\nEXEC\r\n\r\nOK\r\n"
        "\r\nOK\r\n");
    ck_assert_str_eq(t.log, "P,P,T,N");
    ck_assert_int_eq(t.idles, 4);
}
END_TEST

START_TEST(test_complete_when_idle_does_nothing)
{
    at_engine_complete(&eng, AT_OK);
    at_engine_complete(&eng, AT_ERROR);
    OUT("");
    ck_assert_int_eq(t.idles, 0);
    ck_assert(at_engine_idle(&eng));
}
END_TEST

START_TEST(test_reset_drops_everything)
{
    eng.echo = false;
    ck_assert(!IN("AT+P\rAT+T\r"));
    at_engine_reset(&eng);
    ck_assert(at_engine_idle(&eng));
    ck_assert(IN("ATgarbage"));
    at_engine_reset(&eng); /* partial line gone too */
    ck_assert(IN("AT\r"));
    OUT("\r\nOK\r\n");
    ck_assert_str_eq(t.log, "P");
}
END_TEST

START_TEST(test_idle_after_each_final)
{
    eng.echo = false;
    IN("AT\r");
    ck_assert_int_eq(t.idles, 1);
    IN("AT+T;+M\r");
    ck_assert_int_eq(t.idles, 2);
    IN("AT+NOPE\r");
    ck_assert_int_eq(t.idles, 3);
    IN("AT+C\r");
    ck_assert_int_eq(t.idles, 4);
    IN("nonsense\r");
    ck_assert_int_eq(t.idles, 5);
    IN("\r");
    ck_assert_int_eq(t.idles, 5);
    IN("AT\rAT\rAT\r");
    ck_assert_int_eq(t.idles, 8);
}
END_TEST

/* ---- overrides ---- */

START_TEST(test_override_exact_case_insensitive)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "AT+CSQ", "+CSQ: 31,99\nOK", false), 0);
    IN("at+csq\r");
    OUT("\r\n+CSQ: 31,99\r\n\r\nOK\r\n");
    ck_assert_int_eq(t.idles, 1);
    ck_assert_int_eq(t.lines, 1);
    clear_out();
    IN("  AT+Csq\r"); /* leading blanks do not count */
    OUT("\r\n+CSQ: 31,99\r\n\r\nOK\r\n");
    clear_out();
    IN("AT+CSQ=1\r"); /* not the same line: normal path, unknown command */
    OUT("\r\nERROR\r\n");
    clear_out();
    IN("AT+CS\r");
    OUT("\r\nERROR\r\n");
    ck_assert_int_eq(eng.noverrides, 1); /* not once: still there */
}
END_TEST

START_TEST(test_override_beats_table)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "AT+T", "FAKE", false), 0);
    IN("AT+T\r");
    OUT("\r\nFAKE\r\n");
    ck_assert_str_eq(t.log, "");
    clear_out();
    IN("AT+T?\r");
    OUT("\r\n+T: 1\r\n\r\nOK\r\n");
}
END_TEST

START_TEST(test_override_prefix)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "AT+Q*", "QREPLY", false), 0);
    IN("AT+QABC=1,2\r");
    OUT("\r\nQREPLY\r\n");
    clear_out();
    IN("at+q\r");
    OUT("\r\nQREPLY\r\n");
    clear_out();
    IN("AT+T\r");
    OUT("\r\nEXEC\r\n\r\nOK\r\n");
    clear_out();
    IN("AT+\r");
    OUT("\r\nERROR\r\n");
}
END_TEST

START_TEST(test_override_non_at_line)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "hello", "world", false), 0);
    IN("HELLO\r");
    OUT("\r\nworld\r\n");
}
END_TEST

START_TEST(test_override_once)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "AT+T", "ONCE", true), 0);
    ck_assert_int_eq(at_override_add(&eng, "AT+M", "ALWAYS", false), 0);
    IN("AT+T\r");
    OUT("\r\nONCE\r\n");
    ck_assert_int_eq(eng.noverrides, 1);
    clear_out();
    IN("AT+T\r");
    OUT("\r\nEXEC\r\n\r\nOK\r\n");
    clear_out();
    IN("AT+M\r");
    OUT("\r\nALWAYS\r\n");
    clear_out();
    IN("AT+M\r");
    OUT("\r\nALWAYS\r\n");
    ck_assert_int_eq(eng.noverrides, 1);
}
END_TEST

START_TEST(test_override_first_match_wins)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "AT+X*", "FIRST", true), 0);
    ck_assert_int_eq(at_override_add(&eng, "AT+XY", "SECOND", false), 0);
    IN("AT+XY\r");
    OUT("\r\nFIRST\r\n");
    clear_out();
    IN("AT+XY\r");
    OUT("\r\nSECOND\r\n");
}
END_TEST

START_TEST(test_override_multiline)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "AT+X", "A\nB", false), 0);
    IN("AT+X\r");
    OUT("\r\nA\r\n\r\nB\r\n");
}
END_TEST

START_TEST(test_override_empty_reply)
{
    eng.echo = false;
    ck_assert_int_eq(at_override_add(&eng, "AT+X", "", false), 0);
    ck_assert(IN("AT+X\r"));
    OUT("");
    ck_assert_int_eq(t.lines, 1);
    ck_assert_int_eq(t.idles, 1);
    ck_assert(at_engine_idle(&eng));
    /* With echo only the echo comes back. */
    eng.echo = true;
    IN("AT+X\r");
    OUT("AT+X\r");
}
END_TEST

START_TEST(test_override_limit_and_clear)
{
    char pat[16];
    for (int i = 0; i < AT_OVERRIDES_MAX; i++) {
        snprintf(pat, sizeof pat, "AT+O%d", i);
        ck_assert_int_eq(at_override_add(&eng, pat, "R", false), 0);
    }
    ck_assert_int_eq(at_override_add(&eng, "AT+MORE", "R", false), -ENOSPC);
    ck_assert_int_eq(eng.noverrides, AT_OVERRIDES_MAX);
    at_override_clear(&eng);
    ck_assert_int_eq(eng.noverrides, 0);
    eng.echo = false;
    IN("AT+O0\r");
    OUT("\r\nERROR\r\n");
}
END_TEST

/* ---- autobaud ---- */

START_TEST(test_autobaud_ignores_until_at)
{
    eng.synced = false;
    ck_assert(IN("hello\r"));
    ck_assert(IN("\x80\xfe\x13garbage\r"));
    ck_assert(IN("partial"));
    ck_assert(IN("\r"));
    OUT(""); /* echo is on, yet nothing comes back */
    ck_assert_int_eq(t.lines, 0);
    ck_assert_int_eq(t.idles, 0);
    ck_assert_int_eq(t.syncs, 0);
    ck_assert(!eng.synced);

    eng.echo = false;
    ck_assert(IN("AT\r"));
    ck_assert_int_eq(t.syncs, 1);
    ck_assert(eng.synced);
    OUT("\r\nOK\r\n");
    ck_assert_int_eq(t.lines, 1);
    ck_assert_int_eq(t.idles, 1);

    /* From now on non-AT lines are errors and sync is not called again. */
    clear_out();
    IN("hello\r");
    OUT("\r\nERROR\r\n");
    IN("AT\r");
    ck_assert_int_eq(t.syncs, 1);
}
END_TEST

START_TEST(test_autobaud_overlong_silent)
{
    static char buf[AT_LINE_MAX + 2];
    memset(buf, 'x', sizeof buf);
    buf[sizeof buf - 1] = '\r';
    eng.synced = false;
    input(buf, sizeof buf);
    OUT("");
    ck_assert_int_eq(t.idles, 0);
}
END_TEST

START_TEST(test_autobaud_runs_first_command)
{
    eng.synced = false;
    eng.echo = false;
    ck_assert(IN("xx\rAT+T\r"));
    ck_assert_int_eq(t.syncs, 1);
    OUT("\r\nEXEC\r\n\r\nOK\r\n");
    ck_assert_str_eq(t.log, "T");
}
END_TEST

START_TEST(test_autobaud_echo_after_sync)
{
    eng.synced = false;
    ck_assert(IN("noise\rAT\rAT\r"));
    ck_assert_int_eq(t.syncs, 1);
    /* Nothing is echoed before the rate is locked, the locking line included;
     * the locking line gets its answer and the next one is echoed as usual. */
    OUT("\r\nOK\r\n"
        "AT\r\r\nOK\r\n");
}
END_TEST

/* ---- flood ---- */

START_TEST(test_flood)
{
    enum { N = 1000 };
    char *buf = malloc(N * 3);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < N; i++)
        memcpy(buf + i * 3, "AT\r", 3);
    eng.echo = false;
    ck_assert(input(buf, N * 3));
    ck_assert_uint_eq(t.len, (size_t)N * 6);
    for (int i = 0; i < N; i++)
        ck_assert_mem_eq(t.out + i * 6, "\r\nOK\r\n", 6);
    ck_assert_int_eq(t.idles, N);
    free(buf);
}
END_TEST

START_TEST(test_flood_in_order)
{
    enum { N = 1000 };
    char *in = malloc(N * 16), *want = malloc(N * 48);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(want);
    size_t n = 0, w = 0;
    for (int i = 0; i < N; i++) {
        n += (size_t)sprintf(in + n, "AT+T=%d\r", i);
        w += (size_t)sprintf(want + w, "AT+T=%d\r\r\n+T: 1,%d\r\n\r\nOK\r\n", i, i);
    }
    ck_assert(input(in, n));
    assert_out(want, w);
    ck_assert_int_eq(t.idles, N);
    free(in);
    free(want);
}
END_TEST

/* ---- the line formatter: the same text as vsnprintf ---- */

static void same_as_printf(size_t size, const char *fmt, ...)
{
    char mine[256], libc[256];
    va_list a, b;
    va_start(a, fmt);
    va_copy(b, a);
    int n = at_vfmt(mine, size, fmt, a);
    int m = vsnprintf(libc, size, fmt, b);
    va_end(a);
    va_end(b);
    ck_assert_int_eq(n, m);
    if (size > 0)
        ck_assert_str_eq(mine, libc);
}

START_TEST(test_fmt_matches_vsnprintf)
{
    same_as_printf(256, "OK");
    same_as_printf(256, "");
    same_as_printf(256, "+CESQ: %d,%d,%d,%d,%d,%d", 47, 6, 255, 255, 0, 54);
    same_as_printf(256, "%d %d %d %u %u", 0, -1, INT_MIN, 0u, UINT_MAX);
    same_as_printf(256, "%d", INT_MAX);
    same_as_printf(256, "[%s] [%.3s] [%.*s] [%.*s] [%.0s]", "abc", "abcdef", 2, "xyz", -1, "neg",
                   "gone");
    same_as_printf(256, "%.14s|%.6s", "short", "exactly6more");
    same_as_printf(256, "%c%c 100%% %s", 'o', 'k', "done");
    same_as_printf(256, "+T: %d,%.*s", 3, 2, "ab");
    same_as_printf(256, "fallback %02d %x %ld %-4s|", 7, 255u, 123456789L, "ab");
    same_as_printf(8, "+CESQ: %d,%d", 47, 6); /* cut to 7 bytes, full length returned */
    same_as_printf(1, "%s", "nothing fits");
    same_as_printf(5, "abcdefgh");
    same_as_printf(256, "tail %");
}
END_TEST

static int fmt_into(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = at_vfmt(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

START_TEST(test_fmt_zero_size)
{
    char c = 'x';
    ck_assert_int_eq(fmt_into(&c, 0, "%d%s", 123, "ab"), 5); /* nothing written */
    ck_assert_int_eq(c, 'x');
}
END_TEST

/* The engine asks io->lookup once per name it finds, then remembers it. */
START_TEST(test_lookup_remembered)
{
    ck_assert(IN("AT+T;+M;+T?\rAT+M;+T=1\rAT+NOPE\rAT+NOPE\r"));
    ck_assert_int_eq(t.lookups, 4); /* +T, +M, and +NOPE twice: unknowns are asked again */
    ck_assert_str_eq(t.log, "T,M,T?,M,T=");
}
END_TEST

/* ---- one write per response ---- */

START_TEST(test_chain_one_write)
{
    ck_assert(IN("AT+T;+M;+T?;+F=?\r"));
    OUT("AT+T;+M;+T?;+F=?\r\r\nEXEC\r\n\r\nL1\r\nL2\r\n\r\n+T: 1\r\n\r\n+F: (0,1)\r\n\r\nOK\r\n");
    ck_assert_int_eq(t.writes, 1);
}
END_TEST

/* Lines that arrive together are answered in order, each whole, in one write. */
START_TEST(test_pipelined_lines_one_write)
{
    ck_assert(IN("AT\rAT+M\rAT+ERR\rAT+C\rAT+T"));
    OUT("AT\r\r\nOK\r\nAT+M\r\r\nL1\r\nL2\r\n\r\nOK\r\nAT+ERR\r\r\nERROR\r\nAT+C\r\r\nERROR\r\nAT+"
        "T");
    ck_assert_int_eq(t.writes, 1);
    ck_assert_int_eq(t.idles, 4);
    ck_assert(IN("\r"));
    ck_assert_int_eq(t.writes, 2);
    ck_assert_uint_eq(t.wlen[1], sizeof "\r\r\nEXEC\r\n\r\nOK\r\n" - 1);
}
END_TEST

START_TEST(test_override_one_write)
{
    ck_assert_int_eq(at_override_add(&eng, "AT+CSQ", "+CSQ: 31,99\nOK", false), 0);
    ck_assert(IN("AT+CSQ\r"));
    OUT("AT+CSQ\r\r\n+CSQ: 31,99\r\n\r\nOK\r\n");
    ck_assert_int_eq(t.writes, 1);
}
END_TEST

/* A pending command: what it said by the time it went pending in one write,
 * the lines it adds later and its final result in another. */
START_TEST(test_pending_two_writes)
{
    ck_assert(!IN("AT+T;+P\r"));
    OUT("AT+T;+P\r\r\nEXEC\r\n");
    ck_assert_int_eq(t.writes, 1);
    at_reply(&eng, "+P: done");
    at_reply(&eng, "+P: more");
    ck_assert_int_eq(t.writes, 1); /* held until the command completes */
    at_engine_complete(&eng, AT_OK);
    OUT("AT+T;+P\r\r\nEXEC\r\n\r\n+P: done\r\n+P: more\r\n\r\nOK\r\n");
    ck_assert_int_eq(t.writes, 2);
}
END_TEST

/* Whoever else writes flushes the engine first: a URC sent from the line
 * event still follows the echo, as when every piece was written at once. */
START_TEST(test_other_writer_flushes_first)
{
    t.urc_on_line = true;
    ck_assert(IN("AT+T\r"));
    OUT("AT+T\r<U>\r\nEXEC\r\n\r\nOK\r\n");
    ck_assert_int_eq(t.writes, 3);
}
END_TEST

/* Nothing waits once the engine is idle: an at_reply outside any command
 * (no entry point, nothing pending) is written at once. */
START_TEST(test_reply_outside_written_at_once)
{
    at_reply(&eng, "+LOOSE");
    OUT("\r\n+LOOSE\r\n");
    ck_assert_int_eq(t.writes, 1);
}
END_TEST

Suite *at_engine_suite(void)
{
    Suite *s = suite_create("at_engine");
    TCase *tc = tcase_create("basics");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_init_defaults);
    tcase_add_test(tc, test_at_echo_on);
    tcase_add_test(tc, test_at_echo_off);
    tcase_add_test(tc, test_echo_exact_bytes);
    tcase_add_test(tc, test_echo_switch_by_command);
    tcase_add_test(tc, test_unknown_command);
    tcase_add_test(tc, test_fixed_test_reply);
    tcase_add_test(tc, test_unknown_command_echo_on);
    tcase_add_test(tc, test_cmee_formatting);
    tcase_add_test(tc, test_cmee_texts);
    tcase_add_test(tc, test_cmee_plain_error_stays_error);
    tcase_add_test(tc, test_forms_dispatch);
    tcase_add_test(tc, test_multiline_block);
    tcase_add_test(tc, test_chain_one_ok);
    tcase_add_test(tc, test_chain_error_stops);
    tcase_add_test(tc, test_non_at_line);
    tcase_add_test(tc, test_empty_line_nothing);
    tcase_add_test(tc, test_at_alone_leading_blanks);
    tcase_add_test(tc, test_overlong_line);
    tcase_add_test(tc, test_max_line_runs);
    tcase_add_test(tc, test_line_with_edits);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, test_fmt_matches_vsnprintf);
    tcase_add_test(tc, test_fmt_zero_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("writes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_chain_one_write);
    tcase_add_test(tc, test_pipelined_lines_one_write);
    tcase_add_test(tc, test_override_one_write);
    tcase_add_test(tc, test_pending_two_writes);
    tcase_add_test(tc, test_other_writer_flushes_first);
    tcase_add_test(tc, test_reply_outside_written_at_once);
    tcase_add_test(tc, test_lookup_remembered);
    suite_add_tcase(s, tc);

    tc = tcase_create("robustness");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_all_byte_values);
    tcase_add_test(tc, test_random_garbage);
    suite_add_tcase(s, tc);

    tc = tcase_create("pending");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pending_holds_input);
    tcase_add_test(tc, test_pending_reply_on_complete);
    tcase_add_test(tc, test_pending_complete_error);
    tcase_add_test(tc, test_pending_mid_chain);
    tcase_add_test(tc, test_pending_twice_in_held);
    tcase_add_test(tc, test_complete_when_idle_does_nothing);
    tcase_add_test(tc, test_reset_drops_everything);
    tcase_add_test(tc, test_idle_after_each_final);
    suite_add_tcase(s, tc);

    tc = tcase_create("overrides");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_override_exact_case_insensitive);
    tcase_add_test(tc, test_override_beats_table);
    tcase_add_test(tc, test_override_prefix);
    tcase_add_test(tc, test_override_non_at_line);
    tcase_add_test(tc, test_override_once);
    tcase_add_test(tc, test_override_first_match_wins);
    tcase_add_test(tc, test_override_multiline);
    tcase_add_test(tc, test_override_empty_reply);
    tcase_add_test(tc, test_override_limit_and_clear);
    suite_add_tcase(s, tc);

    tc = tcase_create("autobaud");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_autobaud_ignores_until_at);
    tcase_add_test(tc, test_autobaud_overlong_silent);
    tcase_add_test(tc, test_autobaud_runs_first_command);
    tcase_add_test(tc, test_autobaud_echo_after_sync);
    suite_add_tcase(s, tc);

    tc = tcase_create("flood");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_flood);
    tcase_add_test(tc, test_flood_in_order);
    suite_add_tcase(s, tc);
    return s;
}
