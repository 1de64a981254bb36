/* The module's LwM2M commands (card 2 section 6.3.1) against bcsim
 * lwm2m-server: the real binaries, the module on its PTY, the server on a
 * port the kernel picks. */
#include "tests/integration/coap_peer.h"
#include "tests/integration/fota_flow.h"
#include "tests/integration/host.h"
#include "tests/integration/lwm2m_peer.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static struct bcsim_proc proc;
static struct host host;
static struct lws server;
static char resp[4096];

static const char *cmd(const char *line)
{
    host_cmd(&host, line, resp, sizeof resp);
    return resp;
}

static void start(const char *model)
{
    flow_start_module(&proc, &host, model, NULL);
    cmd("ATE0");
}

static void stop(void)
{
    bcsim_answers_then_stop(&proc, &host, "\r\nOK\r\n");
}

/* AT+QLWCONFIG for the server on `port`, the IMEI as the endpoint (card 2). */
static void configure(int port, const char *imei)
{
    char line[256];
    snprintf(line, sizeof line, "AT+QLWCONFIG=0,\"127.0.0.1\",%d,\"%s\",50,3", port, imei);
    ck_assert_str_eq(cmd(line), "\r\nOK\r\n");
}

static void imei_of(char *out, size_t size)
{
    cmd("AT+CGSN=1");
    ck_assert_int_eq(sscanf(resp, "\r\n+CGSN: %15s", out), 1);
    (void)size;
}

/* Card 2 section 6.3.1: configure, register, update the lifetime; the
 * server sees the module's objects and reads them; then deregister. */
START_TEST(card2_register_update_deregister)
{
    static const char *const models[] = {"bc66", "bc66-na"};
    static const char *const revs[] = {"BC66NBR01A07", "BC66NANBR01A02"};
    lws_start(&server, NULL);
    start(models[_i]);
    char imei[16], line[1024], want[256];
    imei_of(imei, sizeof imei);
    configure(server.port, imei);
    snprintf(want, sizeof want, "\r\n+QLWCONFIG: 0,\"127.0.0.1\",%d,\"%s\",50,3\r\n\r\nOK\r\n",
             server.port, imei);
    ck_assert_str_eq(cmd("AT+QLWCONFIG?"), want);
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 0\r\n", resp, sizeof resp, WAIT_MS);
    lws_expect(&server, "registered ", line, sizeof line, WAIT_MS);
    snprintf(want, sizeof want, "registered ep=%s id=rd/1 lt=50 b=U lwm2m=1.0 ", imei);
    ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s", line);
    ck_assert_msg(strstr(line, " objects=</1/0>,</3/0>,</5/0>"), "%s", line);

    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nERROR\r\n"); /* registered already */
    int msgid = -1;
    cmd("AT+QLWUPDATE=0,50");
    ck_assert_int_eq(sscanf(resp, "\r\n+QLWUPDATE: %d\r\n\r\nOK\r\n", &msgid), 1);
    snprintf(want, sizeof want, "\r\n+QLWUPDATE: 0,%d\r\n", msgid);
    host_expect(&host, want, resp, sizeof resp, WAIT_MS);
    lws_expect(&server, "updated ", line, sizeof line, WAIT_MS);

    lws_cmd(&server, "read * /3/0/3");
    lws_expect(&server, "read ", line, sizeof line, WAIT_MS);
    snprintf(want, sizeof want, "path=/3/0/3 code=2.05 format=text value=%s", revs[_i]);
    ck_assert_msg(strstr(line, want), "%s", line);
    lws_cmd(&server, "read * /5/0/3");
    lws_expect(&server, "read ", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, "path=/5/0/3 code=2.05 format=text value=0"), "%s", line);

    ck_assert_str_eq(cmd("AT+QLWDEREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWDEREG: 0\r\n", resp, sizeof resp, WAIT_MS);
    lws_expect(&server, "deregistered ", line, sizeof line, WAIT_MS);
    ck_assert_str_eq(cmd("AT+QLWDEREG"), "\r\nERROR\r\n"); /* not registered */
    stop();
    lws_stop(&server);
}
END_TEST

/* What bcsim refuses (README): no bootstrap, no PSK, values out of range,
 * commands out of order; and nothing of it on the BC260Y-CN. */
START_TEST(refusals)
{
    start("bc66");
    const char *const bad[] = {
        "AT+QLWCONFIG=1,\"127.0.0.1\",5683,\"ep\",50,3", /* bootstrap */
        "AT+QLWCONFIG=0,\"127.0.0.1\",5683,\"ep\",50,0", /* PSK: no DTLS */
        "AT+QLWCONFIG=0,\"127.0.0.1\",5683,\"ep\",19,3", /* lifetime below 20 */
        "AT+QLWCONFIG=0,\"127.0.0.1\",0,\"ep\",50,3",    /* port 0 */
        "AT+QLWCONFIG=0,\"127.0.0.1\",5683,\"ep\",50,2", /* no such mode */
        "AT+QLWCONFIG=0,\"127.0.0.1\",5683,\"ep\",50",   /* too few */
        "AT+QLWUPDATE=0,50",                             /* not registered */
        "AT+QLWDEREG",
        "AT+QLWREG", /* not configured */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        ck_assert_msg(strcmp(cmd(bad[k]), "\r\nERROR\r\n") == 0, "%s: %s", bad[k], resp);
    ck_assert_str_eq(cmd("AT+QLWCONFIG?"), "\r\nOK\r\n"); /* nothing was kept */
    configure(coap_peer_refused_port(), "ep");
    ck_assert_str_eq(cmd("AT+QLWUPDATE=1,\"Q\""), "\r\nERROR\r\n");
    stop();
    start("bc260y-cn");
    ck_assert_str_eq(cmd("AT+QLWCONFIG=0,\"127.0.0.1\",5683,\"ep\",50,3"), "\r\nERROR\r\n");
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nERROR\r\n");
    stop();
}
END_TEST

/* Nobody at the server's port (ICMP unreachable): +QLWREG: 1, and the host
 * may register again. */
START_TEST(server_unreachable)
{
    start("bc66");
    configure(coap_peer_refused_port(), "ep");
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 1\r\n", resp, sizeof resp, WAIT_MS);
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 1\r\n", resp, sizeof resp, WAIT_MS);
    stop();
}
END_TEST

/* A power cut forgets the settings and the registration (RAM only). */
START_TEST(power_cut_forgets)
{
    lws_start(&server, NULL);
    start("bc66");
    configure(server.port, "ep");
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 0\r\n", resp, sizeof resp, WAIT_MS);
    char o[256];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "cycle", NULL}), 0);
    host_wait_ready(&host);
    cmd("ATE0");
    ck_assert_str_eq(cmd("AT+QLWCONFIG?"), "\r\nOK\r\n");
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nERROR\r\n");
    stop();
    lws_stop(&server);
}
END_TEST

Suite *lwm2m_module_suite(void)
{
    Suite *s = suite_create("lwm2m_module");
    TCase *tc = tcase_create("register");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, card2_register_update_deregister, 0, 2);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, server_unreachable);
    tcase_add_test(tc, power_cut_forgets);
    suite_add_tcase(s, tc);
    return s;
}
