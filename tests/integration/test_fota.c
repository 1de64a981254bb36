/* HTTP DFOTA end to end: the real binary, real HTTP servers on loopback
 * (python3 -m http.server, nginx), the URC sequences of cards 1 and 2, every
 * reachable result code from a real cause, and power cuts while updating. */
#include "host.h"
#include "suites.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/bcsim-fota-XXXXXX";
static char out[1 << 16];

static const char *path(const char *name)
{
    static char buf[8][300];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

#define RUN(...) bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 30000)

/* ---- Servers -------------------------------------------------------------------- */

static pid_t server_pid = -1;

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void start_server(const char *const *argv, int port)
{
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && !port_open(port); i++)
        usleep(10000);
    ck_assert_msg(port_open(port), "%s did not listen on %d", argv[0], port);
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    server_pid = -1;
}

static void python_server(int port)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    start_server((const char *[]){"python3", "-m", "http.server", p, "--bind", "127.0.0.1",
                                  "--directory", path("www"), NULL},
                 port);
}

static void nginx_server(int port)
{
    FILE *f = fopen(path("nginx.conf"), "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "user root;\nworker_processes 1;\ndaemon off;\npid %s;\nerror_log %s;\n"
            "events { worker_connections 64; }\n"
            "http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n"
            "  fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n"
            "  server { listen 127.0.0.1:%d; root %s; } }\n",
            path("nginx.pid"), path("nginx.err"), dir, dir, dir, dir, dir, port, path("www"));
    fclose(f);
    start_server((const char *[]){"nginx", "-c", path("nginx.conf"), "-p", dir, NULL}, port);
}

/* bcsim serve, with faults off-the-shelf servers cannot produce. */
static void faulty_server(int port, const char *fault)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    start_server(
        (const char *[]){BCSIM_BIN, "serve", path("www"), "--port", p, "--fault", fault, NULL},
        port);
}

/* ---- Fixture ---------------------------------------------------------------------- */

static void setup(void)
{
    strcpy(dir, "/tmp/bcsim-fota-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(mkdir(path("www"), 0755), 0);
}

static void teardown(void)
{
    stop_server();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* www/NAME: a package from one built-in revision to another. */
static void package(const char *model, const char *from, const char *to, const char *name,
                    const char *extra)
{
    char a[64], b[64], pkg[300];
    snprintf(a, sizeof a, "%s.img", from);
    snprintf(b, sizeof b, "%s.img", to);
    snprintf(pkg, sizeof pkg, "%s/www/%s", dir, name);
    ck_assert_int_eq(RUN("image", "export", "--model", model, "--revision", from, "-o", path(a)),
                     0);
    ck_assert_int_eq(RUN("image", "export", "--model", model, "--revision", to, "-o", path(b)), 0);
    if (extra)
        ck_assert_int_eq(
            RUN("pkg", "make", "--from", path(a), "--to", path(b), "-o", pkg, "--break", extra), 0);
    else
        ck_assert_int_eq(RUN("pkg", "make", "--from", path(a), "--to", path(b), "-o", pkg), 0);
}

/* ---- The transcript, line by line ------------------------------------------------ */

static void next_line(struct host *h, char *line, size_t size)
{
    for (;;) {
        host_expect(h, "\r\n", line, size, 15000);
        size_t n = strlen(line) - 2;
        while (n > 0 && line[n - 1] == '\r') /* an echo ends in its own <CR> */
            n--;
        line[n] = '\0';
        if (line[0])
            return; /* skip the empty halves of <CR><LF>text<CR><LF> */
    }
}

/* Progress lines: one or more, strictly increasing, ending at 100%. Returns
 * the first line after them. */
static void progress(struct host *h, const char *what, char *line, size_t size)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "+QIND: \"FOTA\",\"%s\",", what);
    int last = -1, count = 0;
    for (;;) {
        next_line(h, line, size);
        if (strncmp(line, prefix, strlen(prefix)) != 0)
            break;
        int pct = atoi(line + strlen(prefix));
        ck_assert_msg(pct > last, "%s went from %d to %d", what, last, pct);
        ck_assert_msg(strchr(line, '%'), "no %% sign: %s", line);
        if (strcmp(what, "UPDATING") == 0)
            ck_assert_msg(strstr(line, "%,1,1"), "%s", line);
        last = pct;
        count++;
    }
    ck_assert_msg(count > 0, "no %s lines before '%s'", what, line);
    ck_assert_int_eq(last, 100);
}

static void expect_line(struct host *h, const char *want)
{
    char line[512];
    next_line(h, line, sizeof line);
    ck_assert_msg(strcmp(line, want) == 0, "expected '%s', got '%s'", want, line);
}

static const char *const brom[] = {
    "F1: 0000 0000",        "V0: 0000 0000 [0001]", "00: 0006 000C",    "01: 0000 0000",
    "U0: 0000 0001 [0000]", "T0: 0000 00B4",        "Leaving the BROM", NULL};

static void expect_brom(struct host *h, bool has)
{
    for (int i = 0; has && brom[i]; i++)
        expect_line(h, brom[i]);
}

/* From the update's START to the new firmware's +IP, as the cards show it. */
static void expect_update(struct host *h, bool has_brom, bool start)
{
    char line[512];
    if (start)
        expect_line(h, "+QIND: \"FOTA\",\"START\"");
    expect_brom(h, has_brom);
    progress(h, "UPDATING", line, sizeof line);
    if (has_brom) {
        ck_assert_str_eq(line, brom[0]);
        for (int i = 1; brom[i]; i++)
            expect_line(h, brom[i]);
        next_line(h, line, sizeof line);
    }
    ck_assert_str_eq(line, "RDY");
    expect_line(h, "+CFUN: 1");
    expect_line(h, "+QIND: \"FOTA\",\"END\",0");
    expect_line(h, "+CPIN: READY");
    next_line(h, line, sizeof line);
    ck_assert_msg(strncmp(line, "+IP: 100.", 9) == 0, "%s", line);
}

static void start_module(struct bcsim_proc *p, struct host *h, const char *model,
                         const char *const *extra)
{
    memset(p, 0, sizeof *p);
    const char *args[16] = {"--resolve", "www.quectel.com:127.0.0.1", "--downlink", "0"};
    int n = 4;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    bcsim_start(p, model, args);
    host_open(h, p->pty);
    host_wait_ready(h);
}

/* A module whose downloads and updates take real (if scaled) time, ATE0 set:
 * paced links for the tests that must act in the middle of something. */
static void start_paced(struct bcsim_proc *p, struct host *h, const char *model,
                        const char *downlink, const char *speed)
{
    char buf[256];
    memset(p, 0, sizeof *p);
    bcsim_prepare(p);
    const char *args[] = {"--downlink", downlink, "--rtt", "0", "--speed", speed, NULL};
    bcsim_start(p, model, args);
    host_open(h, p->pty);
    host_wait_ready(h);
    host_cmd(h, "ATE0", buf, sizeof buf);
}

/* Sends AT+QFOTADL for www/up.pkg on a loopback port. */
static void download(struct host *h, int port)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"http://127.0.0.1:%d/up.pkg\"\r", port);
    host_send(h, cmd);
}

static void revision_is(struct host *h, const char *rev)
{
    char buf[256], want[128];
    host_cmd(h, "AT+CGMR", buf, sizeof buf);
    snprintf(want, sizeof want, "Revision: %s\r\n", rev);
    ck_assert_msg(strstr(buf, want), "%s", host_show(buf));
}

/* The rest of a resumed update: to 100%, the new firmware's boot with END,0
 * after "+CFUN: 1", and its revision. */
static void finish_resumed(struct host *h, const char *rev)
{
    char buf[8192];
    host_expect(h, "+QIND: \"FOTA\",\"UPDATING\",100%,1,1\r\n", buf, sizeof buf, 60000);
    host_expect(h, "RDY\r\n", buf, sizeof buf, 10000);
    expect_line(h, "+CFUN: 1");
    expect_line(h, "+QIND: \"FOTA\",\"END\",0");
    host_wait_ready(h);
    revision_is(h, rev);
}

/* ---- Card 2, section 6.1, and card 1, section 7.2, line for line ------------------ */

START_TEST(card2_http_replay)
{
    static const char *const models[] = {"bc66", "bc66-na"};
    static const char *const revs[][2] = {{"BC66NBR01A07", "BC66NBR01A10"},
                                          {"BC66NANBR01A02", "BC66NANBR01A03"}};
    package(models[_i], revs[_i][0], revs[_i][1], "update.bin", NULL);
    python_server(100); /* the card's port */
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    start_module(&p, &h, models[_i], NULL);
    host_cmd(&h, "AT+CESQ;+CEREG?;+CPIN?;+COPS?", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+CESQ;+CEREG?;+CPIN?;+COPS?\r\r\n+CESQ: 47,6,255,255,0,54\r\n\r\n"
                          "+CEREG: 0,1\r\n\r\n+CPIN: READY\r\n\r\n+COPS: 0,2,\"46011\",9\r\n"
                          "\r\nOK\r\n");
    host_send(&h, "AT+QFOTADL=\"http://www.quectel.com:100/update.bin\"\r");
    expect_line(&h, "AT+QFOTADL=\"http://www.quectel.com:100/update.bin\"");
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, "+QIND: \"FOTA\",\"HTTPEND\",0");
    expect_update(&h, true, true);
    revision_is(&h, revs[_i][1]);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

START_TEST(card1_http_replay)
{
    package("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "update.zip", NULL);
    python_server(100);
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "AT+QFOTADL=?", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+QFOTADL=?\r\r\n+QFOTADL=<URL>\r\n\r\nOK\r\n");
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"http://www.quectel.com:100/update.zip\"\r");
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, "+QIND: \"FOTA\",\"HTTPEND\",0");
    expect_update(&h, false, true);
    revision_is(&h, "BC260YCNAAR02A03");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* nginx, a real web server, with the link model on (fast speed keeps it quick). */
START_TEST(nginx_serves_the_package)
{
    ck_assert_int_eq(mkdir(path("www/fw"), 0755), 0);
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "fw/up.pkg", NULL);
    nginx_server(18081);
    struct bcsim_proc p;
    struct host h;
    char buf[512], line[512];
    start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"HTTP://127.0.0.1:18081/fw/up.pkg\"\r");
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, "+QIND: \"FOTA\",\"HTTPEND\",0");
    expect_update(&h, true, true);
    revision_is(&h, "BC66NBR01A08");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- Result codes ---------------------------------------------------------------- */

struct failure {
    const char *model;
    const char *url;
    const char *breakage; /* package variant served as www/up.pkg */
    const char *ctl[4];   /* a control command before the download */
    const char *httpend;  /* the HTTPEND line, or NULL if the download succeeds */
    const char *end;      /* the END line, if any */
};

static void run_failure(const struct failure *f)
{
    if (strcmp(f->model, "bc260y-cn") == 0)
        package(f->model, "BC260YCNAAR02A02", "BC260YCNAAR02A03", "up.pkg", f->breakage);
    else
        package(f->model, "BC66NBR01A07", "BC66NBR01A08", "up.pkg", f->breakage);
    python_server(18082);
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    start_module(&p, &h, f->model, NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    if (f->ctl[0]) {
        char o[512];
        ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, f->ctl), 0);
    }
    snprintf(buf, sizeof buf, "AT+QFOTADL=\"%s\"\r", f->url);
    host_send(&h, buf);
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    next_line(&h, line, sizeof line);
    if (strncmp(line, "+QIND: \"FOTA\",\"DOWNLOADING\"", 27) == 0) {
        while (strncmp(line, "+QIND: \"FOTA\",\"DOWNLOADING\"", 27) == 0)
            next_line(&h, line, sizeof line);
    }
    ck_assert_msg(strcmp(line, f->httpend) == 0, "%s: %s", f->httpend, line);
    if (f->end)
        expect_line(&h, f->end);
    /* Still the old firmware, still answering; nothing pending. */
    host_drain(&h, buf, sizeof buf, 200);
    ck_assert_msg(!strstr(buf, "START"), "%s", host_show(buf));
    revision_is(&h, strcmp(f->model, "bc260y-cn") == 0 ? "BC260YCNAAR02A02" : "BC66NBR01A07");
    char st[2048];
    bcsim_ctl(&p, st, sizeof st, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(st, "\"fota\":\"idle\""), "%s", st);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}

#define HTTPEND(n) "+QIND: \"FOTA\",\"HTTPEND\"," #n
#define END(n)     "+QIND: \"FOTA\",\"END\"," #n

static const struct failure failures[] = {
    /* DNS: card 1 has code 2; BC66 only "download failed". */
    {"bc260y-cn", "http://no-such-host.invalid/up.pkg", NULL, {0}, HTTPEND(2), NULL},
    {"bc66", "http://no-such-host.invalid/up.pkg", NULL, {0}, HTTPEND(12), NULL},
    /* Nothing listens there. */
    {"bc260y-cn", "http://127.0.0.1:18099/up.pkg", NULL, {0}, HTTPEND(12), NULL},
    /* 404 from the server. */
    {"bc66", "http://127.0.0.1:18082/missing.pkg", NULL, {0}, HTTPEND(12), NULL},
    /* The network is gone before the download starts. */
    {"bc260y-cn", "http://127.0.0.1:18082/up.pkg", NULL, {"net", "detach"}, HTTPEND(99), NULL},
    {"bc66", "http://127.0.0.1:18082/up.pkg", NULL, {"net", "detach"}, HTTPEND(20), NULL},
    /* The FOTA area has room for less than the package. */
    {"bc260y-cn",
     "http://127.0.0.1:18082/up.pkg",
     NULL,
     {"fault", "flash-capacity", "8192"},
     HTTPEND(101),
     NULL},
    {"bc66",
     "http://127.0.0.1:18082/up.pkg",
     NULL,
     {"fault", "flash-capacity", "8192"},
     HTTPEND(12),
     NULL},
    /* The flash fails a program operation. */
    {"bc260y-cn",
     "http://127.0.0.1:18082/up.pkg",
     NULL,
     {"fault", "flash-program"},
     HTTPEND(100),
     NULL},
    /* Packages the module refuses after downloading them. */
    {"bc66", "http://127.0.0.1:18082/up.pkg", "corrupt", {0}, HTTPEND(0), END(255)},
    {"bc66", "http://127.0.0.1:18082/up.pkg", "wrong-base", {0}, HTTPEND(0), END(254)},
    {"bc66", "http://127.0.0.1:18082/up.pkg", "wrong-model", {0}, HTTPEND(0), END(254)},
    {"bc260y-cn", "http://127.0.0.1:18082/up.pkg", "wrong-base", {0}, HTTPEND(0), END(255)},
    {"bc260y-cn", "http://127.0.0.1:18082/up.pkg", "truncate", {0}, HTTPEND(0), END(255)},
};

START_TEST(result_codes)
{
    run_failure(&failures[_i]);
}
END_TEST

/* The downloader against a misbehaving server: what it survives, and what
 * ends as "download failed" (12 on every model). */
static const struct {
    const char *fault;
    bool ok;
} serve_faults[] = {
    {"chunked", true},      {"noclen", true},       {"split", true},        {"drip=4096/5", true},
    {"status=500", false},  {"status=404", false},  {"reset=10000", false}, {"close=10000", false},
    {"stall=10000", false}, {"length=+100", false}, {"length=-100", false},
};

START_TEST(misbehaving_servers)
{
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    faulty_server(18090, serve_faults[_i].fault);
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"http://127.0.0.1:18090/up.pkg\"\r");
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    if (serve_faults[_i].ok) {
        progress(&h, "DOWNLOADING", line, sizeof line);
        ck_assert_msg(strcmp(line, HTTPEND(0)) == 0, "%s: %s", serve_faults[_i].fault, line);
        expect_update(&h, true, true);
        revision_is(&h, "BC66NBR01A08");
    } else {
        do
            next_line(&h, line, sizeof line);
        while (strncmp(line, "+QIND: \"FOTA\",\"DOWNLOADING\"", 27) == 0);
        ck_assert_msg(strcmp(line, HTTPEND(12)) == 0, "%s: %s", serve_faults[_i].fault, line);
        revision_is(&h, "BC66NBR01A07");
    }
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A server that answers with something that is not HTTP: card 1's "unknown
 * error" (1); BC66 has only "download failed". */
START_TEST(answer_that_is_not_http)
{
    static const char *const models[] = {"bc260y-cn", "bc66"};
    static const char *const codes[] = {HTTPEND(1), HTTPEND(12)};
    start_server((const char *[]){"python3", "-c",
                                  "import socket\n"
                                  "s = socket.socket()\n"
                                  "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                  "s.bind(('127.0.0.1', 18091))\n"
                                  "s.listen()\n"
                                  "while True:\n"
                                  "    c, _ = s.accept()\n"
                                  "    c.recv(4096)\n"
                                  "    c.sendall(b'SSH-2.0-not-a-web-server\\r\\n\\r\\n')\n"
                                  "    c.close()\n",
                                  NULL},
                 18091);
    struct bcsim_proc p;
    struct host h;
    char buf[512];
    start_module(&p, &h, models[_i], NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"http://127.0.0.1:18091/up.pkg\"\r");
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    expect_line(&h, codes[_i]);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* The flash fails while updating, before the firmware is touched: "unknown
 * error" (BC66: 1; BC260Y-CN has only 255), and the old firmware boots. */
START_TEST(flash_fails_while_updating)
{
    static const char *const models[] = {"bc66", "bc260y-cn"};
    static const char *const revs[][2] = {{"BC66NBR01A07", "BC66NBR01A08"},
                                          {"BC260YCNAAR02A02", "BC260YCNAAR02A03"}};
    static const char *const codes[] = {END(1), END(255)};
    package(models[_i], revs[_i][0], revs[_i][1], "up.pkg", NULL);
    python_server(18092);
    struct stat st;
    ck_assert_int_eq(stat(path("www/up.pkg"), &st), 0);
    /* The download erases one sector per 4 KiB, the update's start the 8 of
     * the journal; the next erase is the update's first (stash or staging). */
    char n[32], o[512], buf[1024];
    snprintf(n, sizeof n, "%ld", (long)((st.st_size + 4095) / 4096 + 8 + 1));
    struct bcsim_proc p;
    struct host h;
    start_module(&p, &h, models[_i], NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"fault", "flash-erase", n, NULL}),
                     0);
    host_send(&h, "AT+QFOTADL=\"http://127.0.0.1:18092/up.pkg\"\r");
    host_expect(&h, "+QIND: \"FOTA\",\"START\"\r\n", buf, sizeof buf, 10000);
    host_expect(&h, "+QIND: \"FOTA\",\"END\",", buf, sizeof buf, 10000);
    host_expect(&h, "\r\n", buf, sizeof buf, 1000);
    char got[1100];
    snprintf(got, sizeof got, "+QIND: \"FOTA\",\"END\",%.16s", buf);
    got[strcspn(got, "\r")] = '\0';
    ck_assert_str_eq(got, codes[_i]);
    host_wait_ready(&h); /* an ordinary boot */
    revision_is(&h, revs[_i][0]);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* `bcsim ctl power cut` in the middle of UPDATING, then `power on`. */
START_TEST(ctl_power_cut_while_updating)
{
    package("bc66", "BC66NBR01A07", "BC66NBR01A10", "up.pkg", NULL);
    python_server(18093);
    struct bcsim_proc p;
    struct host h;
    char buf[4096], line[512], o[512];
    start_paced(&p, &h, "bc66", "0", "5");
    download(&h, 18093);
    host_expect(&h, "\"UPDATING\",40%,1,1\r\n", buf, sizeof buf, 60000);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    host_drain(&h, buf, sizeof buf, 300);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    expect_brom(&h, true);
    expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    next_line(&h, line, sizeof line);
    int resumed = atoi(line + 25);
    ck_assert_msg(resumed >= 40 && resumed < 100, "resumed at %s", line);
    finish_resumed(&h, "BC66NBR01A10");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A retry after a failure works. */
START_TEST(retry_after_failure)
{
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    struct bcsim_proc p;
    struct host h;
    char buf[512], line[512];
    start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"http://127.0.0.1:18083/up.pkg\"\r"); /* no server yet */
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    expect_line(&h, HTTPEND(12));
    python_server(18083);
    host_send(&h, "AT+QFOTADL=\"http://127.0.0.1:18083/up.pkg\"\r");
    expect_line(&h, "OK");
    expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, HTTPEND(0));
    expect_update(&h, true, true);
    revision_is(&h, "BC66NBR01A08");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* URLs the cards' rules refuse, and schemes the models do not download. */
START_TEST(url_rules)
{
    struct bcsim_proc p;
    struct host h;
    char buf[1024];
    start_module(&p, &h, _i ? "bc260y-cn" : "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    static const char *const bad[] = {
        "AT+QFOTADL=\"ftp://127.0.0.1/x\"",
        "AT+QFOTADL=\"http://127.0.0.1\"",
        "AT+QFOTADL=\"http://127.0.0.1/\"",
        "AT+QFOTADL=\"http://127.0.0.1:0/x\"",
        "AT+QFOTADL=\"http://127.0.0.1:65536/x\"",
        "AT+QFOTADL=\"http://:80/x\"",
        "AT+QFOTADL=\"http://[::1/x\"",
        "AT+QFOTADL=",
        "AT+QFOTADL",
        "AT+QFOTADL?",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        host_cmd(&h, bad[i], buf, sizeof buf);
        ck_assert_msg(strcmp(buf, "\r\nERROR\r\n") == 0, "%s: %s", bad[i], host_show(buf));
    }
    char longurl[400] = "AT+QFOTADL=\"http://127.0.0.1/";
    while (strlen(longurl) < 12 + 256)
        strcat(longurl, "a");
    strcat(longurl, "\"");
    host_cmd(&h, longurl, buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nERROR\r\n");
    host_cmd(&h, "AT+QFOTADL=\"https://127.0.0.1/x.pkg\"", buf, sizeof buf);
    if (_i) { /* BC260Y-CN: OK, then the URC card 1 names for it */
        ck_assert_str_eq(buf, "\r\nOK\r\n");
        host_expect(&h, "\r\n+QIND: \"FOTA\",\"NOTSUPPORT\"\r\n", buf, sizeof buf, 5000);
    } else {
        ck_assert_str_eq(buf, "\r\nERROR\r\n");
    }
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* The network goes away in the middle of a download: code 13. A slow link
 * keeps the download going long enough to detach. */
START_TEST(network_lost_mid_download)
{
    package(_i ? "bc260y-cn" : "bc66", _i ? "BC260YCNAAR02A02" : "BC66NBR01A07",
            _i ? "BC260YCNAAR02A03" : "BC66NBR01A08", "up.pkg", NULL);
    python_server(18084);
    struct bcsim_proc p;
    struct host h;
    char buf[512];
    /* About 4 s of download: time enough to detach, even under valgrind. */
    start_paced(&p, &h, _i ? "bc260y-cn" : "bc66", "1000", "10");
    download(&h, 18084);
    host_expect(&h, "\"DOWNLOADING\",", buf, sizeof buf, 10000);
    char o[256];
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"net", "detach", NULL}), 0);
    host_expect(&h, "\"HTTPEND\",", buf, sizeof buf, 10000);
    host_expect(&h, "\r\n", buf, sizeof buf, 10000);
    ck_assert_str_eq(buf, "13\r\n");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A second AT+QFOTADL while one runs: BC66 reports "busy" (2), BC260Y-CN has
 * no code for it and answers ERROR. */
START_TEST(busy)
{
    package(_i ? "bc260y-cn" : "bc66", _i ? "BC260YCNAAR02A02" : "BC66NBR01A07",
            _i ? "BC260YCNAAR02A03" : "BC66NBR01A08", "up.pkg", NULL);
    python_server(18085);
    struct bcsim_proc p;
    struct host h;
    char buf[4096];
    start_paced(&p, &h, _i ? "bc260y-cn" : "bc66", "8000", "20");
    download(&h, 18085);
    host_expect(&h, "\"DOWNLOADING\",", buf, sizeof buf, 10000);
    host_cmd(&h, "AT+QFOTADL=\"http://127.0.0.1:18085/up.pkg\"", buf, sizeof buf);
    if (_i) {
        ck_assert_msg(strstr(buf, "\r\nERROR\r\n"), "%s", host_show(buf));
    } else {
        ck_assert_msg(strstr(buf, "\r\nOK\r\n"), "%s", host_show(buf));
        host_expect(&h, "\r\n+QIND: \"FOTA\",\"END\",2\r\n", buf, sizeof buf, 5000);
    }
    /* The first one goes on to the end. */
    host_expect(&h, "\"FOTA\",\"END\",0\r\n", buf, sizeof buf, 60000);
    revision_is(&h, _i ? "BC260YCNAAR02A03" : "BC66NBR01A08");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- Power cuts while updating ------------------------------------------------------- */

/* The flash's cut fault stops the updater after N operations; `power on`
 * then finds the journal: forced update mode, START, the rest, END,0. */
START_TEST(power_cut_while_updating)
{
    /* Counted from before the download (about 50 operations), so the cuts fall
     * early, midway and late in the update's roughly 490. */
    static const int cuts[] = {100, 250, 420};
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    python_server(18086);
    struct bcsim_proc p;
    struct host h;
    char buf[4096], line[512], o[512];
    start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    char n[16];
    snprintf(n, sizeof n, "%d", cuts[_i]);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"fault", "flash-cut", n, NULL}),
                     0);
    host_send(&h, "AT+QFOTADL=\"http://127.0.0.1:18086/up.pkg\"\r");
    host_expect(&h, "+QIND: \"FOTA\",\"HTTPEND\",0\r\n", buf, sizeof buf, 10000);
    host_expect(&h, "+QIND: \"FOTA\",\"START\"\r\n", buf, sizeof buf, 10000);
    int last = 0;
    for (;;) { /* UPDATING lines until the power goes */
        struct pollfd pfd = {.fd = h.fd, .events = POLLIN};
        if (h.len == 0 && poll(&pfd, 1, 500) <= 0)
            break;
        next_line(&h, line, sizeof line);
        if (strncmp(line, "+QIND: \"FOTA\",\"UPDATING\",", 25) == 0)
            last = atoi(line + 25);
    }
    bcsim_ctl(&p, o, sizeof o, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(o, "\"power\":\"off\""), "%s", o);
    ck_assert_int_lt(last, 100);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    expect_brom(&h, true);
    expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    next_line(&h, line, sizeof line);
    ck_assert_msg(strncmp(line, "+QIND: \"FOTA\",\"UPDATING\",", 25) == 0, "%s", line);
    int resumed = atoi(line + 25);
    /* Not from the start: from the journal's count, at least what the host saw
     * (the last lines before a cut may not have reached the wire). */
    ck_assert_msg(resumed >= last && resumed > 0 && resumed < 100, "was %d%%, resumed at %d%%",
                  last, resumed);
    finish_resumed(&h, "BC66NBR01A08");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* kill -9 of the emulator in the middle of UPDATING, then a new process on the
 * same state directory. */
START_TEST(kill9_while_updating)
{
    package("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "up.pkg", NULL);
    python_server(18087);
    struct bcsim_proc p;
    struct host h;
    char buf[4096], line[512];
    start_paced(&p, &h, "bc260y-cn", "0", "10");
    download(&h, 18087);
    host_expect(&h, "\"UPDATING\",30%,1,1\r\n", buf, sizeof buf, 60000);
    bcsim_kill9(&p);
    host_close(&h);
    bcsim_start(&p, "bc260y-cn", NULL);
    host_open(&h, p.pty);
    expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    next_line(&h, line, sizeof line);
    int resumed = atoi(line + 25);
    ck_assert_msg(resumed >= 30 && resumed < 100, "resumed at %s", line);
    finish_resumed(&h, "BC260YCNAAR02A03");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A power cut during the download: the next boot is a normal one on the old
 * firmware. */
START_TEST(power_cut_while_downloading)
{
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    python_server(18088);
    struct bcsim_proc p;
    struct host h;
    char buf[4096], o[256];
    start_paced(&p, &h, "bc66", "1000", "10");
    download(&h, 18088);
    host_expect(&h, "\"DOWNLOADING\",", buf, sizeof buf, 10000);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    host_drain(&h, buf, sizeof buf, 200);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    host_expect(&h, "RDY\r\n", buf, sizeof buf, 10000);
    ck_assert_msg(!strstr(buf, "START"), "%s", host_show(buf));
    host_wait_ready(&h);
    revision_is(&h, "BC66NBR01A07");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* Autobaud: the update's result waits for the host's AT (card 1 notes). */
START_TEST(autobaud_withholds_the_result)
{
    package("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "up.pkg", NULL);
    python_server(18089);
    struct bcsim_proc p;
    struct host h;
    char buf[8192];
    start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "AT+IPR=0", buf, sizeof buf);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"http://127.0.0.1:18089/up.pkg\"\r");
    host_expect(&h, "+QIND: \"FOTA\",\"START\"\r\n", buf, sizeof buf, 10000);
    /* From the reboot on, nothing: no UPDATING, no RDY, no END. */
    ck_assert_uint_eq(host_drain(&h, buf, sizeof buf, 1500), 0);
    char o[2048];
    bcsim_ctl(&p, o, sizeof o, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(o, "\"revision\":\"BC260YCNAAR02A03\""), "%s", o);
    host_cmd(&h, "AT", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nOK\r\n");
    host_expect(&h, "+QIND: \"FOTA\",\"END\",0\r\n", buf, sizeof buf, 5000);
    /* The updater's lines were held too, and lost with the reboot after it. */
    ck_assert_msg(!strstr(buf, "UPDATING") && strstr(buf, "\r\nRDY\r\n\r\n+CFUN: 1\r\n"), "%s",
                  host_show(buf));
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

Suite *fota_suite(void)
{
    Suite *s = suite_create("fota");
    TCase *tc = tcase_create("fota");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, card2_http_replay, 0, 2);
    tcase_add_test(tc, card1_http_replay);
    tcase_add_test(tc, nginx_serves_the_package);
    tcase_add_loop_test(tc, result_codes, 0, (int)(sizeof failures / sizeof failures[0]));
    tcase_add_test(tc, retry_after_failure);
    tcase_add_loop_test(tc, misbehaving_servers, 0,
                        (int)(sizeof serve_faults / sizeof serve_faults[0]));
    tcase_add_loop_test(tc, url_rules, 0, 2);
    tcase_add_loop_test(tc, network_lost_mid_download, 0, 2);
    tcase_add_loop_test(tc, busy, 0, 2);
    tcase_add_loop_test(tc, power_cut_while_updating, 0, 3);
    tcase_add_test(tc, kill9_while_updating);
    tcase_add_test(tc, ctl_power_cut_while_updating);
    tcase_add_loop_test(tc, answer_that_is_not_http, 0, 2);
    tcase_add_loop_test(tc, flash_fails_while_updating, 0, 2);
    tcase_add_test(tc, power_cut_while_downloading);
    tcase_add_test(tc, autobaud_withholds_the_result);
    suite_add_tcase(s, tc);
    return s;
}
