/* The module's LwM2M commands (card 2 section 6.3.1) against bcsim
 * lwm2m-server: the real binaries, the module on its PTY, the server on a
 * port the kernel picks. */
#include "tests/integration/coap_peer.h"
#include "tests/integration/fota_flow.h"
#include "tests/integration/host.h"
#include "tests/integration/lwm2m_peer.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A power cut ends the registration, and keeps the settings (NVRAM: card 2
 * section 6.3.5 registers again after a reboot without configuring). */
START_TEST(power_cut_keeps_settings)
{
    lws_start(&server, NULL);
    start("bc66");
    configure(server.port, "ep");
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 0\r\n", resp, sizeof resp, WAIT_MS);
    char o[256], want[128];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    host_wait_ready(&host);
    cmd("ATE0");
    snprintf(want, sizeof want, "\r\n+QLWCONFIG: 0,\"127.0.0.1\",%d,\"ep\",50,3\r\n\r\nOK\r\n",
             server.port);
    ck_assert_str_eq(cmd("AT+QLWCONFIG?"), want);
    ck_assert_str_eq(cmd("AT+QLWUPDATE=0,60"), "\r\nERROR\r\n"); /* not registered now */
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 0\r\n", resp, sizeof resp, WAIT_MS);
    stop();
    lws_stop(&server);
}
END_TEST

/* ---- Object 5: the firmware update the server drives (card 2 6.3.2-6.3.6) ---------- */

static char dir[64];
static struct bcsim_proc www;
static char coap_base[64]; /* coap://127.0.0.1:PORT/ of bcsim serve */

static void fw_setup(void)
{
    scratch_make(dir, sizeof dir, "lwfw");
    ck_assert_int_eq(mkdir(scratch_path(dir, "www"), 0755), 0);
}

static void fw_teardown(void)
{
    scratch_remove(dir);
}

/* bcsim serve over CoAP (faults as extra arguments) for DIR/www. */
static char http_base[64]; /* http://127.0.0.1:PORT/ of the same server */

static void serve(const char *const *extra)
{
    memset(&www, 0, sizeof www);
    int port = 0;
    int http = bcsim_serve_coap(&www, scratch_path(dir, "www"), extra, &port);
    snprintf(coap_base, sizeof coap_base, "coap://127.0.0.1:%d/", port);
    snprintf(http_base, sizeof http_base, "http://127.0.0.1:%d/", http);
}

/* The module registered with the server, /5/0/3 and /5/0/5 observed. */
static void registered(const char *model)
{
    char line[1024];
    lws_start(&server, NULL);
    start(model);
    configure(server.port, "ep");
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 0\r\n", resp, sizeof resp, WAIT_MS);
    lws_expect(&server, "registered ", line, sizeof line, WAIT_MS);
    lws_cmd(&server, "observe * /5/0/3");
    lws_expect(&server, "observe ", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, "path=/5/0/3 code=2.05") && strstr(line, "value=0"), "%s", line);
    lws_cmd(&server, "observe * /5/0/5");
    lws_expect(&server, "observe ", line, sizeof line, WAIT_MS);
}

static void write_uri(const char *uri)
{
    char c[300], line[1024];
    snprintf(c, sizeof c, "write * /5/0/1 %s", uri);
    lws_cmd(&server, c);
    lws_expect(&server, "write ", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, "path=/5/0/1 code=2.04"), "%s", line);
}

/* The server sees PATH take VALUE (a notification) within timeout_s. */
static void server_waits(const char *path, const char *value, int timeout_s)
{
    char c[128], line[1024];
    snprintf(c, sizeof c, "wait * %s=%s %d", path, value, timeout_s);
    lws_cmd(&server, c);
    lws_expect(&server, "wait", line, sizeof line, (timeout_s + 5) * 1000);
    ck_assert_msg(strncmp(line, "waited ", 7) == 0, "%s: %s", c, line);
}

/* After the update's reboot: registered again, the server reads the result. */
static void reads_after_reboot(const char *state, const char *result)
{
    char line[1024], want[64];
    cmd("ATE0");
    ck_assert_str_eq(cmd("AT+QLWREG"), "\r\nOK\r\n");
    host_expect(&host, "\r\n+QLWREG: 0\r\n", resp, sizeof resp, WAIT_MS);
    lws_expect(&server, "registered ", line, sizeof line, WAIT_MS);
    lws_cmd(&server, "read * /5/0/3");
    lws_expect(&server, "read ", line, sizeof line, WAIT_MS);
    snprintf(want, sizeof want, "path=/5/0/3 code=2.05 format=text value=%s", state);
    ck_assert_msg(strstr(line, want), "%s", line);
    lws_cmd(&server, "read * /5/0/5");
    lws_expect(&server, "read ", line, sizeof line, WAIT_MS);
    snprintf(want, sizeof want, "path=/5/0/5 code=2.05 format=text value=%s", result);
    ck_assert_msg(strstr(line, want), "%s", line);
}

static void fw_stop(void)
{
    stop();
    lws_stop(&server);
    bcsim_halt(&www);
}

/* Card 2 section 6.3 end to end: observe, write the URI (0 -> 1 -> 2),
 * execute Update (3), the update and reboot as section 6.3.5 shows them,
 * register again, State 0 and Update Result 1. */
START_TEST(card2_firmware_update)
{
    /* BC66 and BC66-NA over CoAP, and the BC66 from an http:// URI. */
    static const char *const models[] = {"bc66", "bc66-na", "bc66"};
    static const char *const revs[][2] = {{"BC66NBR01A07", "BC66NBR01A10"},
                                          {"BC66NANBR01A02", "BC66NANBR01A03"},
                                          {"BC66NBR01A07", "BC66NBR01A10"}};
    flow_package(dir, models[_i], revs[_i][0], revs[_i][1], "up.pkg", NULL);
    serve(NULL);
    registered(models[_i]);
    char uri[128];
    snprintf(uri, sizeof uri, "%sup.pkg", _i == 2 ? http_base : coap_base);
    write_uri(uri);
    server_waits("/5/0/3", "1", 5);
    server_waits("/5/0/3", "2", 60);
    lws_cmd(&server, "exec * /5/0/2");
    server_waits("/5/0/3", "3", 10);
    flow_expect_update(&host, true, false); /* no START on this path (6.3.5) */
    flow_revision_is(&host, revs[_i][1]);
    reads_after_reboot("0", "1");
    fw_stop();
}
END_TEST

/* A BC66 registered, the A07 -> A10 package on bcsim serve (its faults as
 * extra), and its coap:// URI written as the Package URI: State 1. */
static void downloading(const char *const *extra)
{
    flow_package(dir, "bc66", "BC66NBR01A07", "BC66NBR01A10", "up.pkg", NULL);
    serve(extra);
    registered("bc66");
    char uri[128];
    snprintf(uri, sizeof uri, "%sup.pkg", coap_base);
    write_uri(uri);
    server_waits("/5/0/3", "1", 5);
}

/* Each Update Result from a real cause: the URI written, and what makes it fail. */
static const struct {
    const char *what, *uri; /* uri: after coap_base, or whole when it has "://" */
    const char *brk;        /* a --break package, or NULL */
    const char *fault;      /* a ctl fault before the write, or NULL */
    const char *result;
} results[] = {
    {"no such file (4.04)", "missing.pkg", NULL, NULL, "7"},
    {"nobody at the port", "coap://127.0.0.1:9/up.pkg", NULL, NULL, "7"},
    {"a scheme the module does not take", "ftp://127.0.0.1/up.pkg", NULL, NULL, "9"},
    {"a URI that does not parse", "coap://", NULL, NULL, "7"},
    {"the FOTA area too small", "up.pkg", NULL, "flash-capacity", "2"},
    {"a corrupt package", "up.pkg", "corrupt", NULL, "5"},
    {"a package for another source image", "up.pkg", "wrong-base", NULL, "6"},
};

START_TEST(update_results)
{
    flow_package(dir, "bc66", "BC66NBR01A07", "BC66NBR01A10", "up.pkg", results[_i].brk);
    serve(NULL);
    registered("bc66");
    if (results[_i].fault) {
        char o[256];
        ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o,
                                   (const char *[]){"fault", results[_i].fault, "4096", NULL}),
                         0);
    }
    char uri[160];
    if (strstr(results[_i].uri, "://"))
        snprintf(uri, sizeof uri, "%s", results[_i].uri);
    else
        snprintf(uri, sizeof uri, "%s%s", coap_base, results[_i].uri);
    write_uri(uri);
    server_waits("/5/0/5", results[_i].result, 60);
    char line[1024];
    lws_cmd(&server, "read * /5/0/3");
    lws_expect(&server, "read ", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, "value=0"), "%s: %s", results[_i].what, line);
    /* Update outside Downloaded is refused. */
    lws_cmd(&server, "exec * /5/0/2");
    lws_expect(&server, "exec ", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, "code=4.05"), "%s", line);
    fw_stop();
}
END_TEST

/* The network goes while the package downloads: Update Result 4. */
START_TEST(connection_lost)
{
    downloading((const char *[]){"--coap-fault", "stall=3", NULL});
    char o[256];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"net", "detach", NULL}), 0);
    ck_assert(bcsim_status_wait(&proc, "\"network\":\"searching\"", WAIT_MS));
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"net", "attach", NULL}), 0);
    host_wait_ready(&host);
    /* The registration went with the PDN? The notification may not reach the
     * server: read after registering again. */
    reads_after_reboot("0", "4");
    fw_stop();
}
END_TEST

/* The module's NVRAM holds `text` (bounded wait: it is written as it happens). */
static bool nvram_has(const char *text, int timeout_ms)
{
    char path[300], buf[4096];
    snprintf(path, sizeof path, "%s/nvram", proc.state);
    long end = scratch_now_ms() + timeout_ms;
    do {
        FILE *f = fopen(path, "r");
        if (f) {
            buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
            fclose(f);
            if (strstr(buf, text))
                return true;
        }
    } while (scratch_now_ms() < end && host_drain(&host, resp, sizeof resp, 20) < sizeof resp);
    return false;
}

/* The flash fails while Updating: END with the update error and Update
 * Result 8, kept in NVRAM (the reboot ended the registration, and what the
 * half-done update left does not pass the boot ROM: nobody hears it then).
 * At the next power-on, with the flash well again, the update resumes and
 * the result turns to 1. */
START_TEST(update_fails_then_resumes)
{
    downloading(NULL);
    char o[256];
    server_waits("/5/0/3", "2", 60);
    ck_assert_int_eq(
        bcsim_ctl(&proc, o, sizeof o, (const char *[]){"fault", "flash-worn", "40", NULL}), 0);
    lws_cmd(&server, "exec * /5/0/2");
    host_expect(&host, "\"FOTA\",\"END\",1\r\n", resp, sizeof resp, 60000);
    ck_assert_msg(nvram_has("lwm2m_fw=0,8,1", WAIT_MS), "no Update Result 8 in NVRAM");
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"fault", "clear", NULL}), 0);
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "cycle", NULL}), 0);
    host_expect(&host, "\"FOTA\",\"END\",0\r\n", resp, sizeof resp, 60000);
    host_wait_ready(&host);
    flow_revision_is(&host, "BC66NBR01A10");
    reads_after_reboot("0", "1");
    fw_stop();
}
END_TEST

/* The power goes while Downloading: after power-on State 0 and Update
 * Result 4 (the download was in RAM), and a new URI starts over. */
START_TEST(power_cut_while_downloading)
{
    flow_package(dir, "bc66", "BC66NBR01A07", "BC66NBR01A10", "up.pkg", NULL);
    serve((const char *[]){"--coap-fault", "stall=3@/slow.pkg", NULL});
    ck_assert_int_eq(link(scratch_path(dir, "www/up.pkg"), scratch_path(dir, "www/slow.pkg")), 0);
    registered("bc66");
    char uri[128], o[256];
    snprintf(uri, sizeof uri, "%sslow.pkg", coap_base);
    write_uri(uri);
    server_waits("/5/0/3", "1", 5);
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    host_wait_ready(&host);
    reads_after_reboot("0", "4");
    lws_cmd(&server, "observe * /5/0/3");
    char line[1024];
    lws_expect(&server, "observe ", line, sizeof line, WAIT_MS);
    snprintf(uri, sizeof uri, "%sup.pkg", coap_base);
    write_uri(uri);
    server_waits("/5/0/3", "2", 60);
    fw_stop();
}
END_TEST

/* An empty Package URI while Downloading stops the download and resets the
 * object to Idle with Update Result 0. */
START_TEST(empty_uri_resets)
{
    downloading((const char *[]){"--coap-fault", "stall=3", NULL});
    char line[1024];
    lws_cmd(&server, "write * /5/0/1 \"\"");
    lws_expect(&server, "write ep=ep path=/5/0/1 code=2.04", line, sizeof line, WAIT_MS);
    server_waits("/5/0/3", "0", 5);
    ck_assert(bcsim_status_wait(&proc, "\"fota\":\"idle\"", WAIT_MS));
    lws_cmd(&server, "read * /5/0/5");
    lws_expect(&server, "read ", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, "value=0"), "%s", line);
    fw_stop();
}
END_TEST

/* The power goes while Updating: the update resumes at power-on and the
 * result after registering again is still 1. */
START_TEST(power_cut_while_updating)
{
    downloading(NULL);
    char o[256];
    server_waits("/5/0/3", "2", 60);
    ck_assert_int_eq(
        bcsim_ctl(&proc, o, sizeof o, (const char *[]){"fault", "flash-cut", "40", NULL}), 0);
    lws_cmd(&server, "exec * /5/0/2");
    ck_assert(bcsim_status_wait(&proc, "\"power\":\"off\"", 60000));
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    host_expect(&host, "\"FOTA\",\"END\",0\r\n", resp, sizeof resp, 60000);
    host_wait_ready(&host);
    flow_revision_is(&host, "BC66NBR01A10");
    reads_after_reboot("0", "1");
    fw_stop();
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
    tcase_add_test(tc, power_cut_keeps_settings);
    suite_add_tcase(s, tc);
    TCase *fw = tcase_create("firmware");
    tcase_add_checked_fixture(fw, fw_setup, fw_teardown);
    tcase_set_timeout(fw, 240);
    tcase_add_loop_test(fw, card2_firmware_update, 0, 3);
    tcase_add_loop_test(fw, update_results, 0, (int)(sizeof results / sizeof results[0]));
    tcase_add_test(fw, connection_lost);
    tcase_add_test(fw, update_fails_then_resumes);
    tcase_add_test(fw, empty_uri_resets);
    tcase_add_test(fw, power_cut_while_downloading);
    tcase_add_test(fw, power_cut_while_updating);
    suite_add_tcase(s, fw);
    return s;
}
