/* Unit tests for the AT command line parser (sim/at/at_parse.c). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim/at/at_parse.h"

#define MAX_CMDS 8

static struct at_cmd cmds[MAX_CMDS];

/* Parses a whole line (explicit length). Returns the number of commands, -1 on a
 * syntax error, -2 when the prefix is missing. */
static int parse_n(const char *line, size_t len)
{
    struct at_chain ch;
    memset(cmds, 0, sizeof cmds);
    if (!at_line_body(line, len, &ch))
        return -2;
    for (int n = 0;; n++) {
        ck_assert_int_lt(n, MAX_CMDS);
        int r = at_chain_next(&ch, &cmds[n]);
        if (r == 0)
            return n;
        if (r < 0)
            return -1;
        ck_assert_int_eq(r, 1);
    }
}

static int parse(const char *line)
{
    return parse_n(line, strlen(line));
}

static void assert_arg(const struct at_cmd *c, int i, const char *text, bool quoted)
{
    ck_assert_int_lt(i, c->argc);
    ck_assert_uint_eq(c->argv[i].len, strlen(text));
    ck_assert_mem_eq(c->argv[i].s, text, strlen(text));
    ck_assert_int_eq(c->argv[i].quoted, quoted);
}

START_TEST(test_prefix_accepted)
{
    ck_assert_int_eq(parse("AT"), 0);
    ck_assert_int_eq(parse("at"), 0);
    ck_assert_int_eq(parse("AT+CSQ"), 1);
    ck_assert_int_eq(parse("at+csq"), 1);
    ck_assert_str_eq(cmds[0].name, "+CSQ");
}
END_TEST

START_TEST(test_prefix_rejected)
{
    static const char *const bad[] = {"At", "aT", "xAT", "", "A", "T", " A", "\x80", "TA+CSQ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct at_chain ch;
        ck_assert_msg(!at_line_body(bad[i], strlen(bad[i]), &ch), "accepted '%s'", bad[i]);
    }
}
END_TEST

START_TEST(test_prefix_uses_len)
{
    /* Only len bytes count: "AT" cut to "A" has no prefix. */
    struct at_chain ch;
    ck_assert(!at_line_body("AT+CSQ", 1, &ch));
    ck_assert(at_line_body("AT+CSQ", 2, &ch));
    ck_assert(ch.p == ch.end);
}
END_TEST

START_TEST(test_prefix_skips_blanks_and_8bit)
{
    ck_assert_int_eq(parse(" \t\x80\xff "
                           "AT+CSQ"),
                     1);
    ck_assert_str_eq(cmds[0].name, "+CSQ");
    ck_assert_int_eq(cmds[0].form, AT_FORM_EXEC);
    ck_assert_int_eq(parse("\xfe"
                           "at"),
                     0);
}
END_TEST

START_TEST(test_form_exec)
{
    ck_assert_int_eq(parse("AT+CSQ"), 1);
    ck_assert_str_eq(cmds[0].name, "+CSQ");
    ck_assert_int_eq(cmds[0].form, AT_FORM_EXEC);
    ck_assert_int_eq(cmds[0].argc, 0);
}
END_TEST

START_TEST(test_form_test)
{
    ck_assert_int_eq(parse("AT+CEREG=?"), 1);
    ck_assert_str_eq(cmds[0].name, "+CEREG");
    ck_assert_int_eq(cmds[0].form, AT_FORM_TEST);
    ck_assert_int_eq(cmds[0].argc, 0);
    ck_assert_int_eq(parse("AT+CEREG=?1"), -1);
}
END_TEST

START_TEST(test_form_read)
{
    ck_assert_int_eq(parse("AT+CEREG?"), 1);
    ck_assert_str_eq(cmds[0].name, "+CEREG");
    ck_assert_int_eq(cmds[0].form, AT_FORM_READ);
    ck_assert_int_eq(cmds[0].argc, 0);
    ck_assert_int_eq(parse("AT+CEREG?x"), -1);
}
END_TEST

START_TEST(test_form_write)
{
    ck_assert_int_eq(parse("AT+CEREG=2"), 1);
    ck_assert_str_eq(cmds[0].name, "+CEREG");
    ck_assert_int_eq(cmds[0].form, AT_FORM_WRITE);
    ck_assert_int_eq(cmds[0].argc, 1);
    assert_arg(&cmds[0], 0, "2", false);
}
END_TEST

START_TEST(test_write_empty)
{
    ck_assert_int_eq(parse("AT+X="), 1);
    ck_assert_int_eq(cmds[0].form, AT_FORM_WRITE);
    ck_assert_int_eq(cmds[0].argc, 1);
    ck_assert(at_arg_omitted(&cmds[0], 0));
}
END_TEST

START_TEST(test_names_upper_cased)
{
    ck_assert_int_eq(parse("at+cereg?"), 1);
    ck_assert_str_eq(cmds[0].name, "+CEREG");
    ck_assert_int_eq(parse("aT"), -2);
    ck_assert_int_eq(parse("at+qLwSrEgInD=0"), 1);
    ck_assert_str_eq(cmds[0].name, "+QLWSREGIND");
    ck_assert_int_eq(parse("ate0"), 1);
    ck_assert_str_eq(cmds[0].name, "E");
    ck_assert_int_eq(parse("at&w"), 1);
    ck_assert_str_eq(cmds[0].name, "&W");
}
END_TEST

START_TEST(test_name_special_chars)
{
    ck_assert_int_eq(parse("AT+Q!%-./:_X?"), 1);
    ck_assert_str_eq(cmds[0].name, "+Q!%-./:_X");
    ck_assert_int_eq(cmds[0].form, AT_FORM_READ);
}
END_TEST

START_TEST(test_quoted_with_comma_semicolon)
{
    ck_assert_int_eq(parse("AT+QFOTADL=\"http://a.b/c,d;e\""), 1);
    ck_assert_str_eq(cmds[0].name, "+QFOTADL");
    ck_assert_int_eq(cmds[0].form, AT_FORM_WRITE);
    ck_assert_int_eq(cmds[0].argc, 1);
    assert_arg(&cmds[0], 0, "http://a.b/c,d;e", true);
}
END_TEST

START_TEST(test_mixed_args)
{
    ck_assert_int_eq(parse("AT+QMTOPEN=0,\"mqtt.host\",1883"), 1);
    ck_assert_int_eq(cmds[0].argc, 3);
    assert_arg(&cmds[0], 0, "0", false);
    assert_arg(&cmds[0], 1, "mqtt.host", true);
    assert_arg(&cmds[0], 2, "1883", false);
}
END_TEST

START_TEST(test_omitted_args)
{
    ck_assert_int_eq(parse("AT+X=1,,3"), 1);
    ck_assert_int_eq(cmds[0].argc, 3);
    assert_arg(&cmds[0], 0, "1", false);
    ck_assert(!at_arg_omitted(&cmds[0], 0));
    ck_assert(at_arg_omitted(&cmds[0], 1));
    ck_assert(!at_arg_omitted(&cmds[0], 2));
    assert_arg(&cmds[0], 2, "3", false);
    ck_assert(at_arg_omitted(&cmds[0], 3)); /* past argc */
}
END_TEST

START_TEST(test_empty_quoted_not_omitted)
{
    ck_assert_int_eq(parse("AT+X=\"\","), 1);
    ck_assert_int_eq(cmds[0].argc, 2);
    ck_assert(!at_arg_omitted(&cmds[0], 0));
    assert_arg(&cmds[0], 0, "", true);
    ck_assert(at_arg_omitted(&cmds[0], 1));
}
END_TEST

START_TEST(test_unterminated_quote)
{
    ck_assert_int_eq(parse("AT+X=\"abc"), -1);
    ck_assert_int_eq(parse("AT+X=1,\"abc,def"), -1);
    ck_assert_int_eq(parse("AT+X=\""), -1);
}
END_TEST

START_TEST(test_text_after_quote)
{
    ck_assert_int_eq(parse("AT+X=\"a\"b"), -1);
    ck_assert_int_eq(parse("AT+X=\"a\" b"), -1);
    ck_assert_int_eq(parse("AT+X=\"a\"\"b\""), -1);
    ck_assert_int_eq(parse("AT+X=a\"b\""), -1);  /* quote inside a bare value */
    ck_assert_int_eq(parse("AT+X=\"a\" ,1"), 1); /* blanks before the comma are fine */
    assert_arg(&cmds[0], 0, "a", true);
    assert_arg(&cmds[0], 1, "1", false);
}
END_TEST

START_TEST(test_chain)
{
    ck_assert_int_eq(parse("AT+CESQ;+CEREG?;+CPIN?;+COPS?"), 4);
    ck_assert_str_eq(cmds[0].name, "+CESQ");
    ck_assert_int_eq(cmds[0].form, AT_FORM_EXEC);
    ck_assert_str_eq(cmds[1].name, "+CEREG");
    ck_assert_int_eq(cmds[1].form, AT_FORM_READ);
    ck_assert_str_eq(cmds[2].name, "+CPIN");
    ck_assert_int_eq(cmds[2].form, AT_FORM_READ);
    ck_assert_str_eq(cmds[3].name, "+COPS");
    ck_assert_int_eq(cmds[3].form, AT_FORM_READ);
}
END_TEST

START_TEST(test_chain_step_by_step)
{
    const char *line = "AT+A=1;+B=?;+C";
    struct at_chain ch;
    struct at_cmd c;
    ck_assert(at_line_body(line, strlen(line), &ch));
    ck_assert_int_eq(at_chain_next(&ch, &c), 1);
    ck_assert_str_eq(c.name, "+A");
    ck_assert_int_eq(c.form, AT_FORM_WRITE);
    assert_arg(&c, 0, "1", false);
    ck_assert_int_eq(at_chain_next(&ch, &c), 1);
    ck_assert_str_eq(c.name, "+B");
    ck_assert_int_eq(c.form, AT_FORM_TEST);
    ck_assert_int_eq(at_chain_next(&ch, &c), 1);
    ck_assert_str_eq(c.name, "+C");
    ck_assert_int_eq(c.form, AT_FORM_EXEC);
    ck_assert_int_eq(at_chain_next(&ch, &c), 0);
    ck_assert_int_eq(at_chain_next(&ch, &c), 0);
}
END_TEST

START_TEST(test_chain_args_stop_at_semicolon)
{
    ck_assert_int_eq(parse("AT+A=1,2;+B=\"x;y\",3"), 2);
    ck_assert_int_eq(cmds[0].argc, 2);
    assert_arg(&cmds[0], 0, "1", false);
    assert_arg(&cmds[0], 1, "2", false);
    ck_assert_str_eq(cmds[1].name, "+B");
    ck_assert_int_eq(cmds[1].argc, 2);
    assert_arg(&cmds[1], 0, "x;y", true);
    assert_arg(&cmds[1], 1, "3", false);
}
END_TEST

START_TEST(test_basic_commands)
{
    ck_assert_int_eq(parse("ATE0"), 1);
    ck_assert_str_eq(cmds[0].name, "E");
    ck_assert_int_eq(cmds[0].form, AT_FORM_EXEC);
    ck_assert_int_eq(cmds[0].argc, 1);
    assert_arg(&cmds[0], 0, "0", false);

    ck_assert_int_eq(parse("ATI"), 1);
    ck_assert_str_eq(cmds[0].name, "I");
    ck_assert_int_eq(cmds[0].argc, 0);

    ck_assert_int_eq(parse("ATE0I"), 2);
    ck_assert_str_eq(cmds[0].name, "E");
    assert_arg(&cmds[0], 0, "0", false);
    ck_assert_str_eq(cmds[1].name, "I");
    ck_assert_int_eq(cmds[1].argc, 0);

    ck_assert_int_eq(parse("AT&W"), 1);
    ck_assert_str_eq(cmds[0].name, "&W");
    ck_assert_int_eq(cmds[0].argc, 0);

    ck_assert_int_eq(parse("AT&F0"), 1);
    ck_assert_str_eq(cmds[0].name, "&F");
    assert_arg(&cmds[0], 0, "0", false);

    ck_assert_int_eq(parse("ATE"), 1);
    ck_assert_str_eq(cmds[0].name, "E");
    ck_assert_int_eq(cmds[0].argc, 0);

    ck_assert_int_eq(parse("ATV1Q0"), 2);
    ck_assert_str_eq(cmds[0].name, "V");
    assert_arg(&cmds[0], 0, "1", false);
    ck_assert_str_eq(cmds[1].name, "Q");
    assert_arg(&cmds[1], 0, "0", false);
}
END_TEST

START_TEST(test_basic_then_extended)
{
    ck_assert_int_eq(parse("ATE0+CSQ"), 2);
    ck_assert_str_eq(cmds[0].name, "E");
    ck_assert_str_eq(cmds[1].name, "+CSQ");
    ck_assert_int_eq(parse("AT+CSQ;E0"), 2);
    ck_assert_str_eq(cmds[0].name, "+CSQ");
    ck_assert_str_eq(cmds[1].name, "E");
}
END_TEST

START_TEST(test_bad_basic)
{
    ck_assert_int_eq(parse("AT&"), -1);
    ck_assert_int_eq(parse("AT1"), -1);
    ck_assert_int_eq(parse("AT&1"), -1);
    ck_assert_int_eq(parse("AT+"), -1);
    ck_assert_int_eq(parse("AT+ CSQ"), -1);
}
END_TEST

START_TEST(test_extended_needs_separator)
{
    ck_assert_int_eq(parse("AT+CSQ+CESQ"), -1);
    ck_assert_int_eq(parse("AT+CSQ E0"), -1);
    ck_assert_int_eq(parse("AT+CEREG?+CSQ"), -1);
}
END_TEST

START_TEST(test_double_semicolon)
{
    ck_assert_int_eq(parse("AT;;"), -1);
    ck_assert_int_eq(parse("AT+CSQ;;+CSQ"), -1);
}
END_TEST

START_TEST(test_at_alone)
{
    struct at_chain ch;
    struct at_cmd c;
    ck_assert(at_line_body("AT", 2, &ch));
    ck_assert_int_eq(at_chain_next(&ch, &c), 0);
    ck_assert(at_line_body("AT  ", 4, &ch));
    ck_assert_int_eq(at_chain_next(&ch, &c), 0);
}
END_TEST

START_TEST(test_args_max)
{
    char line[128];
    /* AT+X=0,1,...,15: exactly AT_ARGS_MAX arguments. */
    int n = snprintf(line, sizeof line, "AT+X=0");
    for (int i = 1; i < AT_ARGS_MAX; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, ",%d", i);
    ck_assert_int_eq(parse(line), 1);
    ck_assert_int_eq(cmds[0].argc, AT_ARGS_MAX);
    char want[4];
    snprintf(want, sizeof want, "%d", AT_ARGS_MAX - 1);
    assert_arg(&cmds[0], AT_ARGS_MAX - 1, want, false);
    /* One more is an error. */
    snprintf(line + n, sizeof line - (size_t)n, ",%d", AT_ARGS_MAX);
    ck_assert_int_eq(parse(line), -1);
    /* Also when the extra one is empty. */
    snprintf(line + n, sizeof line - (size_t)n, ",");
    ck_assert_int_eq(parse(line), -1);
}
END_TEST

START_TEST(test_name_length)
{
    char line[64] = "AT+";
    /* '+' and AT_NAME_MAX - 2 more characters fill the name buffer exactly. */
    memset(line + 3, 'N', AT_NAME_MAX - 2);
    line[3 + AT_NAME_MAX - 2] = '\0';
    ck_assert_int_eq(parse(line), 1);
    ck_assert_uint_eq(strlen(cmds[0].name), AT_NAME_MAX - 1);
    ck_assert_mem_eq(cmds[0].name, line + 2, AT_NAME_MAX - 1);
    strcat(line, "N");
    ck_assert_int_eq(parse(line), -1);
    strcat(line, "NNNNNNNNNNNNNNNNNNNNN=1");
    ck_assert_int_eq(parse(line), -1);
}
END_TEST

START_TEST(test_nul_in_name_is_error)
{
    /* A NUL byte is not a name character (V.250); at_chain_next must not take it
     * into the name and silently drop what follows. */
    static const char line[] = "AT+CSQ\0JUNK";
    ck_assert_int_eq(parse_n(line, sizeof line - 1), -1);
}
END_TEST

START_TEST(test_spaces_trimmed)
{
    ck_assert_int_eq(parse("AT+X= 1 , 2"), 1);
    ck_assert_int_eq(cmds[0].form, AT_FORM_WRITE);
    ck_assert_int_eq(cmds[0].argc, 2);
    assert_arg(&cmds[0], 0, "1", false);
    assert_arg(&cmds[0], 1, "2", false);

    ck_assert_int_eq(parse("AT+X =\t\"a b\" ,\t3\t; +Y ?"), 2);
    ck_assert_int_eq(cmds[0].argc, 2);
    assert_arg(&cmds[0], 0, "a b", true);
    assert_arg(&cmds[0], 1, "3", false);
    ck_assert_str_eq(cmds[1].name, "+Y");
    ck_assert_int_eq(cmds[1].form, AT_FORM_READ);

    ck_assert_int_eq(parse("AT+X= a b ,"), 1);
    assert_arg(&cmds[0], 0, "a b", false); /* inner blanks are kept */
}
END_TEST

START_TEST(test_arg_uint)
{
    ck_assert_int_eq(
        parse("AT+X=0,4294967295,12a,\"5\",00000000001,0000000001,,7,9999999999,-1,+1"), 1);
    ck_assert_int_eq(cmds[0].argc, 11);
    const struct at_cmd *c = &cmds[0];
    uint32_t v = 77;

    ck_assert_int_eq(at_arg_uint(c, 0, 0, 10, &v), 0);
    ck_assert_uint_eq(v, 0);
    v = 77;
    ck_assert_int_eq(at_arg_uint(c, 0, 1, 10, &v), -1); /* below min */

    ck_assert_int_eq(at_arg_uint(c, 1, 0, UINT32_MAX, &v), 0);
    ck_assert_uint_eq(v, 4294967295u);
    ck_assert_int_eq(at_arg_uint(c, 1, 0, UINT32_MAX - 1, &v), -1); /* above max */

    ck_assert_int_eq(at_arg_uint(c, 2, 0, UINT32_MAX, &v), -1); /* non-digit */
    ck_assert_int_eq(at_arg_uint(c, 3, 0, UINT32_MAX, &v), -1); /* quoted */
    /* 11 digits, though the value fits */
    ck_assert_int_eq(at_arg_uint(c, 4, 0, UINT32_MAX, &v), -1);

    v = 77;
    ck_assert_int_eq(at_arg_uint(c, 5, 0, 10, &v), 0); /* 10 digits, leading zeros */
    ck_assert_uint_eq(v, 1);

    ck_assert_int_eq(at_arg_uint(c, 6, 0, UINT32_MAX, &v), -1); /* omitted */

    ck_assert_int_eq(at_arg_uint(c, 7, 7, 7, &v), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(at_arg_uint(c, 7, 8, 9, &v), -1);
    ck_assert_int_eq(at_arg_uint(c, 7, 0, 6, &v), -1);

    ck_assert_int_eq(at_arg_uint(c, 8, 0, UINT32_MAX, &v), -1); /* 10 digits > 2^32-1 */
    ck_assert_int_eq(at_arg_uint(c, 9, 0, UINT32_MAX, &v), -1); /* sign */
    ck_assert_int_eq(at_arg_uint(c, 10, 0, UINT32_MAX, &v), -1);
    ck_assert_int_eq(at_arg_uint(c, 11, 0, UINT32_MAX, &v), -1); /* past argc */
}
END_TEST

START_TEST(test_arg_uint_failure_keeps_out)
{
    ck_assert_int_eq(parse("AT+X=99"), 1);
    uint32_t v = 5;
    ck_assert_int_eq(at_arg_uint(&cmds[0], 0, 0, 10, &v), -1);
    ck_assert_uint_eq(v, 5);
}
END_TEST

START_TEST(test_arg_str)
{
    ck_assert_int_eq(parse("AT+X=\"abc\",def,\"\",\"a,b\",,\"x y\""), 1);
    const struct at_cmd *c = &cmds[0];
    ck_assert_int_eq(c->argc, 6);
    char buf[16];

    memset(buf, 'Z', sizeof buf);
    ck_assert_int_eq(at_arg_str(c, 0, false, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "abc");
    ck_assert_int_eq(at_arg_str(c, 0, true, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "abc");

    /* Exactly fits (3 chars + NUL), then one byte too small. */
    memset(buf, 'Z', sizeof buf);
    ck_assert_int_eq(at_arg_str(c, 0, false, buf, 4), 0);
    ck_assert_str_eq(buf, "abc");
    ck_assert_int_eq(at_arg_str(c, 0, false, buf, 3), -1);

    ck_assert_int_eq(at_arg_str(c, 1, false, buf, sizeof buf), -1); /* bare */
    ck_assert_int_eq(at_arg_str(c, 1, true, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "def");

    ck_assert_int_eq(at_arg_str(c, 2, false, buf, 1), 0);
    ck_assert_str_eq(buf, "");

    ck_assert_int_eq(at_arg_str(c, 3, false, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "a,b");

    ck_assert_int_eq(at_arg_str(c, 4, false, buf, sizeof buf), -1); /* omitted, bare */
    ck_assert_int_eq(at_arg_str(c, 4, true, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");

    ck_assert_int_eq(at_arg_str(c, 5, false, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "x y");

    ck_assert_int_eq(at_arg_str(c, 6, true, buf, sizeof buf), -1); /* past argc */
}
END_TEST

Suite *at_parse_suite(void)
{
    Suite *s = suite_create("at_parse");
    TCase *tc = tcase_create("prefix");
    tcase_add_test(tc, test_prefix_accepted);
    tcase_add_test(tc, test_prefix_rejected);
    tcase_add_test(tc, test_prefix_uses_len);
    tcase_add_test(tc, test_prefix_skips_blanks_and_8bit);
    suite_add_tcase(s, tc);

    tc = tcase_create("syntax");
    tcase_add_test(tc, test_form_exec);
    tcase_add_test(tc, test_form_test);
    tcase_add_test(tc, test_form_read);
    tcase_add_test(tc, test_form_write);
    tcase_add_test(tc, test_write_empty);
    tcase_add_test(tc, test_names_upper_cased);
    tcase_add_test(tc, test_name_special_chars);
    tcase_add_test(tc, test_quoted_with_comma_semicolon);
    tcase_add_test(tc, test_mixed_args);
    tcase_add_test(tc, test_omitted_args);
    tcase_add_test(tc, test_empty_quoted_not_omitted);
    tcase_add_test(tc, test_unterminated_quote);
    tcase_add_test(tc, test_text_after_quote);
    tcase_add_test(tc, test_chain);
    tcase_add_test(tc, test_chain_step_by_step);
    tcase_add_test(tc, test_chain_args_stop_at_semicolon);
    tcase_add_test(tc, test_basic_commands);
    tcase_add_test(tc, test_basic_then_extended);
    tcase_add_test(tc, test_bad_basic);
    tcase_add_test(tc, test_extended_needs_separator);
    tcase_add_test(tc, test_double_semicolon);
    tcase_add_test(tc, test_at_alone);
    tcase_add_test(tc, test_args_max);
    tcase_add_test(tc, test_name_length);
    tcase_add_test(tc, test_nul_in_name_is_error);
    tcase_add_test(tc, test_spaces_trimmed);
    suite_add_tcase(s, tc);

    tc = tcase_create("args");
    tcase_add_test(tc, test_arg_uint);
    tcase_add_test(tc, test_arg_uint_failure_keeps_out);
    tcase_add_test(tc, test_arg_str);
    suite_add_tcase(s, tc);
    return s;
}
