/* The AT commands of issue 2 on every model, as a host sees them on the PTY. */
#include "tests/integration/host.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static const char *const models[] = {"bc66", "bc66-na", "bc260y-cn"};

struct session {
    struct bcsim_proc p;
    struct host h;
    char buf[8192];
};

static void begin(struct session *s, const char *model)
{
    memset(&s->p, 0, sizeof s->p);
    bcsim_start(&s->p, model, NULL);
    host_open(&s->h, s->p.pty);
    host_wait_ready(&s->h);
}

static void end(struct session *s)
{
    host_close(&s->h);
    ck_assert_int_eq(bcsim_stop(&s->p), 0);
}

/* Sends cmd and asserts the exact response, echo included. */
static void check(struct session *s, const char *cmd, const char *expected)
{
    host_cmd(&s->h, cmd, s->buf, sizeof s->buf);
    ck_assert_msg(strcmp(s->buf, expected) == 0, "%s: got '%s'", cmd, host_show(s->buf));
}

static const char *ctl(struct session *s, const char *a, const char *b)
{
    static char out[4096];
    int rc = bcsim_ctl(&s->p, out, sizeof out, (const char *[]){a, b, NULL});
    ck_assert_msg(rc == 0, "ctl %s %s: %d %s", a, b ? b : "", rc, out);
    return out;
}

START_TEST(identity)
{
    static const char *const names[] = {"Quectel_BC66", "Quectel_BC66NA", "Quectel_BC260Y-CN"};
    static const char *const revs[] = {"BC66NBR01A07", "BC66NANBR01A02", "BC260YCNAAR02A02"};
    struct session s;
    char want[512];
    begin(&s, models[_i]);
    check(&s, "ATE0", "ATE0\r\r\nOK\r\n");
    snprintf(want, sizeof want, "\r\nQuectel_Ltd\r\n%s\r\nRevision: %s\r\n\r\nOK\r\n", names[_i],
             revs[_i]);
    check(&s, "ATI", want);
    check(&s, "ATI0", want);
    check(&s, "ati", want);
    check(&s, "AT+CGMI", "\r\nQuectel_Ltd\r\n\r\nOK\r\n");
    snprintf(want, sizeof want, "\r\n%s\r\n\r\nOK\r\n", names[_i]);
    check(&s, "AT+CGMM", want);
    snprintf(want, sizeof want, "\r\nRevision: %s\r\n\r\nOK\r\n", revs[_i]);
    check(&s, "AT+CGMR", want);
    check(&s, "AT+CGMR=?", "\r\nOK\r\n");
    check(&s, "AT+CGSN=?", "\r\n+CGSN: (0-3)\r\n\r\nOK\r\n");

    char imei[64];
    host_cmd(&s.h, "AT+CGSN=1", imei, sizeof imei);
    ck_assert_msg(strlen(imei) == strlen("\r\n+CGSN: 123456789012345\r\n\r\nOK\r\n"), "%s",
                  host_show(imei));
    const char *digits = imei + 9;
    int sum = 0; /* Luhn check over the 15 digits */
    for (int i = 0; i < 15; i++) {
        int d = digits[14 - i] - '0';
        ck_assert(d >= 0 && d <= 9);
        if (i % 2 == 1)
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    ck_assert_int_eq(sum % 10, 0);
    snprintf(want, sizeof want, "\r\n+CGSN: %.14s", digits);
    host_cmd(&s.h, "AT+CGSN=2", s.buf, sizeof s.buf);
    ck_assert_msg(strncmp(s.buf, want, strlen(want)) == 0, "%s", host_show(s.buf));
    host_cmd(&s.h, "AT+CGSN", s.buf, sizeof s.buf);
    ck_assert_msg(strncmp(s.buf, "\r\nMP", 4) == 0, "%s", host_show(s.buf));
    host_cmd(&s.h, "AT+CGSN=0", want, sizeof want);
    ck_assert_str_eq(s.buf, want);
    check(&s, "AT+CGSN=4", "\r\nERROR\r\n");
    check(&s, "AT+CGSN?", "\r\nERROR\r\n");
    end(&s);
}
END_TEST

/* Card 2, section 6.1: the concatenated network query (BC66, BC66-NA). */
START_TEST(card2_concatenated_query)
{
    struct session s;
    begin(&s, models[_i]);
    check(&s, "AT+CESQ;+CEREG?;+CPIN?;+COPS?",
          "AT+CESQ;+CEREG?;+CPIN?;+COPS?\r\r\n+CESQ: 47,6,255,255,0,54\r\n\r\n+CEREG: 0,1\r\n"
          "\r\n+CPIN: READY\r\n\r\n+COPS: 0,2,\"46011\",9\r\n\r\nOK\r\n");
    end(&s);
}
END_TEST

/* Card 1, section 7.2: the network checks before AT+QFOTADL (BC260Y-CN). */
START_TEST(card1_network_checks)
{
    struct session s;
    begin(&s, "bc260y-cn");
    check(&s, "AT+CESQ", "AT+CESQ\r\r\n+CESQ: 99,99,255,255,23,49\r\n\r\nOK\r\n");
    check(&s, "AT+CEREG?", "AT+CEREG?\r\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    check(&s, "AT+CPIN?", "AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n");
    check(&s, "AT+CGATT?", "AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n");
    host_cmd(&s.h, "AT+CGPADDR?", s.buf, sizeof s.buf);
    ck_assert_msg(strncmp(s.buf, "AT+CGPADDR?\r\r\n+CGPADDR: 0,\"100.", 30) == 0, "%s",
                  host_show(s.buf));
    ck_assert_msg(strstr(s.buf, "\"\r\n\r\nOK\r\n"), "%s", host_show(s.buf));
    end(&s);
}
END_TEST

START_TEST(address_forms)
{
    static const char *const prefix[] = {"\r\n+CGPADDR: 1,100.", "\r\n+CGPADDR: 1,100.",
                                         "\r\n+CGPADDR: 0,\"100."};
    static const char *const test_form[] = {"\r\n+CGPADDR: (1)\r\n\r\nOK\r\n",
                                            "\r\n+CGPADDR: (1)\r\n\r\nOK\r\n",
                                            "\r\n+CGPADDR: (0)\r\n\r\nOK\r\n"};
    static const char *const write_form[] = {"AT+CGPADDR=1", "AT+CGPADDR=1", "AT+CGPADDR=0"};
    static const int cids[] = {1, 1, 0};
    struct session s;
    begin(&s, models[_i]);
    check(&s, "ATE0", "ATE0\r\r\nOK\r\n");
    char addr[256], ip[64], want[128];
    host_cmd(&s.h, "AT+CGPADDR?", addr, sizeof addr);
    ck_assert_msg(strncmp(addr, prefix[_i], strlen(prefix[_i])) == 0, "%s", host_show(addr));
    check(&s, "AT+CGPADDR", addr);
    check(&s, write_form[_i], addr);
    check(&s, "AT+CGPADDR=?", test_form[_i]);
    check(&s, "AT+CGPADDR=7", "\r\nERROR\r\n");
    /* The address is the one announced with +IP after the next attach. */
    check(&s, "AT+CGATT=0", "\r\nOK\r\n");
    check(&s, "AT+CGATT?", "\r\n+CGATT: 0\r\n\r\nOK\r\n");
    snprintf(want, sizeof want, "\r\n+CGPADDR: %d\r\n\r\nOK\r\n", cids[_i]);
    check(&s, "AT+CGPADDR?", want);
    check(&s, "AT+CGATT=1", "\r\nOK\r\n");
    host_expect(&s.h, "+IP: ", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    host_expect(&s.h, "\r\n", ip, sizeof ip, HOST_TIMEOUT_MS);
    ip[strlen(ip) - 2] = '\0';
    host_cmd(&s.h, "AT+CGPADDR?", addr, sizeof addr);
    ck_assert_msg(strstr(addr, ip), "+IP: %s but %s", ip, host_show(addr));
    end(&s);
}
END_TEST

START_TEST(echo_and_errors)
{
    struct session s;
    begin(&s, models[_i]);
    check(&s, "AT", "AT\r\r\nOK\r\n");
    check(&s, "ATE0", "ATE0\r\r\nOK\r\n");
    check(&s, "AT", "\r\nOK\r\n");
    check(&s, "ATE1", "\r\nOK\r\n");
    check(&s, "at", "at\r\r\nOK\r\n");
    check(&s, "ATE0", "ATE0\r\r\nOK\r\n");
    check(&s, "ATE2", "\r\nERROR\r\n");
    check(&s, "AT+NOSUCH", "\r\nERROR\r\n");
    check(&s, "hello", "\r\nERROR\r\n");
    check(&s, "AT+CMEE=?", "\r\n+CMEE: (0-2)\r\n\r\nOK\r\n");
    check(&s, "AT+CMEE?", "\r\n+CMEE: 0\r\n\r\nOK\r\n");
    check(&s, "AT+CEREG=9", "\r\nERROR\r\n");
    check(&s, "AT+CMEE=1", "\r\nOK\r\n");
    check(&s, "AT+CEREG=9", "\r\n+CME ERROR: 50\r\n");
    check(&s, "AT+NOSUCH", "\r\nERROR\r\n"); /* unknown stays plain ERROR */
    check(&s, "AT+CMEE=2", "\r\nOK\r\n");
    check(&s, "AT+CEREG=9", "\r\n+CME ERROR: incorrect parameters\r\n");
    check(&s, "AT+CPIN=\"1234\"", "\r\n+CME ERROR: operation not allowed\r\n");
    check(&s, "AT+CMEE=3", "\r\n+CME ERROR: incorrect parameters\r\n");
    check(&s, "AT+CMEE?", "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    /* A failing command stops the chain: +CGMR after it is not run. */
    check(&s, "AT+CMEE=0;+CEREG=7;+CGMR", "\r\nERROR\r\n");
    check(&s, "AT+CMEE?", "\r\n+CMEE: 0\r\n\r\nOK\r\n");
    check(&s, "AT+CSQ=?", "\r\n+CSQ: (0-31,99),(0-7,99)\r\n\r\nOK\r\n");
    check(&s, "AT+CEREG=?", "\r\n+CEREG: (0-5)\r\n\r\nOK\r\n");
    check(&s, "AT+CGATT=?", "\r\n+CGATT: (0,1)\r\n\r\nOK\r\n");
    check(&s, "AT+QRST=?", "\r\n+QRST: (1)\r\n\r\nOK\r\n");
    check(&s, "AT+QRST=2", "\r\nERROR\r\n");
    check(&s, "AT+CPIN=?", "\r\nOK\r\n");
    check(&s, "AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
    check(&s, "AT+COPS=?", "\r\n+COPS: (2,\"\",\"\",\"46011\",9),,(0-4),(0-2)\r\n\r\nOK\r\n");
    end(&s);
}
END_TEST

START_TEST(baud_rate)
{
    static const char *const lists[] = {
        "\r\n+IPR: (0,4800,9600,57600,115200,230400,460800,921600)\r\n\r\nOK\r\n",
        "\r\n+IPR: (0,4800,9600,57600,115200,230400,460800,921600)\r\n\r\nOK\r\n",
        "\r\n+IPR: (0,2400,4800,9600,19200,38400,57600,115200,230400,460800)\r\n\r\nOK\r\n"};
    struct session s;
    begin(&s, models[_i]);
    check(&s, "ATE0", "ATE0\r\r\nOK\r\n");
    check(&s, "AT+IPR=?", lists[_i]);
    check(&s, "AT+IPR?", "\r\n+IPR: 115200\r\n\r\nOK\r\n");
    check(&s, "AT+IPR=12345", "\r\nERROR\r\n");
    check(&s, "AT+IPR=\"9600\"", "\r\nERROR\r\n");
    check(&s, "AT+IPR=", "\r\nERROR\r\n");
    check(&s, "AT+IPR=57600", "\r\nOK\r\n");
    check(&s, "AT+IPR?", "\r\n+IPR: 57600\r\n\r\nOK\r\n");
    end(&s);
}
END_TEST

/* After AT+IPR=0 and a reboot the module says nothing until the host's AT. */
START_TEST(autobaud_silence)
{
    struct session s;
    char out[4096];
    begin(&s, models[_i]);
    check(&s, "AT+IPR=0", "AT+IPR=0\r\r\nOK\r\n");
    check(&s, "AT+IPR?", "AT+IPR?\r\r\n+IPR: 0\r\n\r\nOK\r\n");
    check(&s, "AT+QRST=1", "AT+QRST=1\r\r\nOK\r\n");
    /* Boot, registration, and a URC: all unheard. */
    ck_assert_uint_eq(host_drain(&s.h, out, sizeof out, 300), 0);
    ctl(&s, "urc", "+LOST");
    ck_assert_uint_eq(host_drain(&s.h, out, sizeof out, 200), 0);
    ck_assert_msg(strstr(ctl(&s, "status", NULL), "\"autobaud_locked\":false"), "not locked");
    /* Noise that is not AT is not answered either. */
    host_send(&s.h, "hello\r");
    ck_assert_uint_eq(host_drain(&s.h, out, sizeof out, 200), 0);
    check(&s, "AT", "\r\nOK\r\n");
    /* What the module said meanwhile was held, and follows the first answer. */
    host_expect(&s.h, "\r\n+LOST\r\n", out, sizeof out, HOST_TIMEOUT_MS);
    ck_assert_msg(strstr(out, "\r\nRDY\r\n\r\n+CFUN: 1\r\n") && strstr(out, "\r\n+IP: "),
                  "held: %s", host_show(out));
    host_cmd(&s.h, "ATE1", out, sizeof out); /* echo is back on: the boot applied NVRAM */
    ck_assert_str_eq(out, "ATE1\r\r\nOK\r\n");
    ctl(&s, "urc", "+HEARD");
    host_expect(&s.h, "\r\n+HEARD\r\n", out, sizeof out, HOST_TIMEOUT_MS);
    ck_assert_str_eq(out, "\r\n+HEARD\r\n");
    /* A fixed rate ends it: the next boot talks again. */
    check(&s, "AT+IPR=115200", "AT+IPR=115200\r\r\nOK\r\n");
    check(&s, "AT+QRST=1", "AT+QRST=1\r\r\nOK\r\n");
    host_expect(&s.h, "RDY", out, sizeof out, HOST_TIMEOUT_MS);
    end(&s);
}
END_TEST

START_TEST(functionality_levels)
{
    struct session s;
    begin(&s, models[_i]);
    check(&s, "ATE0", "ATE0\r\r\nOK\r\n");
    check(&s, "AT+CFUN?", "\r\n+CFUN: 1\r\n\r\nOK\r\n");
    check(&s, "AT+CFUN=?", "\r\n+CFUN: (0,1,4),(0,1)\r\n\r\nOK\r\n");
    check(&s, "AT+CEREG=1", "\r\nOK\r\n");
    check(&s, "AT+CFUN=0", "\r\nOK\r\n");
    host_expect(&s.h, "\r\n+CEREG: 0\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    check(&s, "AT+CFUN?", "\r\n+CFUN: 0\r\n\r\nOK\r\n");
    check(&s, "AT+CEREG?", "\r\n+CEREG: 1,0\r\n\r\nOK\r\n");
    check(&s, "AT+CESQ", "\r\n+CESQ: 99,99,255,255,255,255\r\n\r\nOK\r\n");
    check(&s, "AT+CSQ", "\r\n+CSQ: 99,99\r\n\r\nOK\r\n");
    check(&s, "AT+COPS?", "\r\n+COPS: 0\r\n\r\nOK\r\n");
    check(&s, "AT+CGATT=1", "\r\nERROR\r\n");
    check(&s, "AT+CFUN=2", "\r\nERROR\r\n");
    check(&s, "AT+CFUN=1", "\r\nOK\r\n");
    host_expect(&s.h, "\r\n+CEREG: 2\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    host_expect(&s.h, "\r\n+CEREG: 1\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    host_wait_ready(&s.h);
    check(&s, "AT+CFUN=4", "\r\nOK\r\n");
    host_expect(&s.h, "\r\n+CEREG: 0\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    end(&s);
}
END_TEST

/* Registration follows the network: bcsim ctl net detach|attach|deny. */
START_TEST(registration_state_machine)
{
    struct session s;
    begin(&s, models[_i]);
    check(&s, "ATE0", "ATE0\r\r\nOK\r\n");
    check(&s, "AT+CEREG=2", "\r\nOK\r\n");
    check(&s, "AT+CEREG?", "\r\n+CEREG: 2,1,\"5A1F\",\"0E6C2F41\",9\r\n\r\nOK\r\n");
    ctl(&s, "net", "detach");
    host_expect(&s.h, "\r\n+CEREG: 2\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    ck_assert_str_eq(s.buf, "\r\n+CEREG: 2\r\n");
    check(&s, "AT+CGATT?", "\r\n+CGATT: 0\r\n\r\nOK\r\n");
    check(&s, "AT+CGPADDR?",
          _i == 2 ? "\r\n+CGPADDR: 0\r\n\r\nOK\r\n" : "\r\n+CGPADDR: 1\r\n\r\nOK\r\n");
    check(&s, "AT+COPS=?", "\r\n+COPS: ,,(0-4),(0-2)\r\n\r\nOK\r\n");
    ck_assert_msg(strstr(ctl(&s, "status", NULL), "\"network\":\"searching\""), "status");
    ctl(&s, "net", "attach");
    host_expect(&s.h, "\r\n+CEREG: 1,\"5A1F\",\"0E6C2F41\",9\r\n", s.buf, sizeof s.buf,
                HOST_TIMEOUT_MS);
    host_expect(&s.h, "\r\n+IP: ", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    host_expect(&s.h, "\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    check(&s, "AT+CEREG=3", "\r\nOK\r\n");
    ctl(&s, "net", "deny");
    host_expect(&s.h, "\r\n+CEREG: 2\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    host_expect(&s.h, "\r\n+CEREG: 3,\"5A1F\",\"0E6C2F41\",9,0,15\r\n", s.buf, sizeof s.buf,
                HOST_TIMEOUT_MS);
    check(&s, "AT+CEREG?", "\r\n+CEREG: 3,3,\"5A1F\",\"0E6C2F41\",9,0,15\r\n\r\nOK\r\n");
    check(&s, "AT+CEREG=0", "\r\nOK\r\n");
    ctl(&s, "net", "attach");
    host_expect(&s.h, "\r\n+IP: ", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    ck_assert_msg(strstr(s.buf, "CEREG") == NULL, "URC with n=0: %s", host_show(s.buf));
    host_expect(&s.h, "\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
    check(&s, "AT+CEREG", "\r\nERROR\r\n");
    check(&s, "AT+CEREG?", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    end(&s);
}
END_TEST

/* Each response reaches the host in one write() to the PTY, echo, blocks and
 * final result together (the UART counts them: status uart_writes), and lines
 * sent together are never answered in more writes than there are lines. */
START_TEST(one_write_per_response)
{
    struct session s;
    begin(&s, "bc66");
    long before = bcsim_status_long(&s.p, "uart_writes");
    check(&s, "AT+CESQ;+CGMR;+CEREG?;+CSQ",
          "AT+CESQ;+CGMR;+CEREG?;+CSQ\r\r\n+CESQ: 47,6,255,255,0,54\r\n\r\nRevision: "
          "BC66NBR01A07\r\n\r\n+CEREG: 0,1\r\n\r\n+CSQ: 21,0\r\n\r\nOK\r\n");
    long after = bcsim_status_long(&s.p, "uart_writes");
    ck_assert_int_eq(after - before, 1);
    check(&s, "AT", "AT\r\r\nOK\r\n");
    ck_assert_int_eq(bcsim_status_long(&s.p, "uart_writes") - after, 1);

    enum { LINES = 20 };
    before = bcsim_status_long(&s.p, "uart_writes");
    char burst[LINES * 8 + 1] = "";
    for (int i = 0; i < LINES; i++)
        strcat(burst, "AT+CSQ\r");
    host_send_bytes(&s.h, burst, strlen(burst));
    for (int i = 0; i < LINES; i++) {
        host_expect(&s.h, "\r\nOK\r\n", s.buf, sizeof s.buf, HOST_TIMEOUT_MS);
        ck_assert_msg(strcmp(s.buf, "AT+CSQ\r\r\n+CSQ: 21,0\r\n\r\nOK\r\n") == 0, "answer %d: %s",
                      i, host_show(s.buf));
    }
    long writes = bcsim_status_long(&s.p, "uart_writes") - before;
    ck_assert_msg(writes >= 1 && writes <= LINES, "%ld writes for %d answers", writes, LINES);
    end(&s);
}
END_TEST

Suite *commands_suite(void)
{
    Suite *s = suite_create("commands");
    TCase *tc = tcase_create("commands");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, identity, 0, 3);
    tcase_add_loop_test(tc, card2_concatenated_query, 0, 2);
    tcase_add_test(tc, card1_network_checks);
    tcase_add_test(tc, one_write_per_response);
    tcase_add_loop_test(tc, address_forms, 0, 3);
    tcase_add_loop_test(tc, echo_and_errors, 0, 3);
    tcase_add_loop_test(tc, baud_rate, 0, 3);
    tcase_add_loop_test(tc, autobaud_silence, 0, 3);
    tcase_add_loop_test(tc, functionality_levels, 0, 3);
    tcase_add_loop_test(tc, registration_state_machine, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
