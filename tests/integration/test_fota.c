/* HTTP DFOTA end to end: the real binary, real HTTP servers on loopback
 * (python3 -m http.server, nginx), the URC sequences of cards 1 and 2, every
 * reachable result code from a real cause, and power cuts while updating. */
#include "tests/integration/fota_flow.h"
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
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
    return scratch_path(dir, name);
}

#define RUN(...) bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 30000)

/* ---- Servers -------------------------------------------------------------------- */

/* Every server takes a port the kernel picks, and is checked to be this test's
 * own child before it is used: another program on a port must not pass for it. */
static pid_t server_pid = -1;

/* Whether a /proc/net/tcp{,6} local address accepts connections to 127.0.0.1
 * (or, with v6, to ::1): loopback or the wildcard. */
static bool reaches_loopback(const char *hex, bool v6)
{
    if (!v6)
        return strcmp(hex, "0100007F") == 0 || strcmp(hex, "00000000") == 0;
    return strcmp(hex, "00000000000000000000000000000000") == 0 ||
           strcmp(hex, "00000000000000000000000001000000") == 0 || /* ::1 */
           strcmp(hex, "0000000000000000FFFF00000100007F") == 0;   /* ::ffff:127.0.0.1 */
}

/* The inodes of the sockets listening on loopback `port`; returns how many. */
static int listeners(int port, unsigned long *inode, int max)
{
    int n = 0;
    for (int v6 = 0; v6 < 2; v6++) {
        FILE *f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "r");
        if (!f)
            continue;
        char line[512], addr[40];
        unsigned lport, state;
        unsigned long ino;
        while (fgets(line, sizeof line, f))
            if (sscanf(line,
                       " %*u: %39[0-9A-F]:%X %*[0-9A-F]:%*X %X %*X:%*X %*X:%*X %*X %*u %*u %lu",
                       addr, &lport, &state, &ino) == 4 &&
                state == 0x0A && (int)lport == port && reaches_loopback(addr, v6) && n < max)
                inode[n++] = ino;
        fclose(f);
    }
    return n;
}

/* True if something listens on loopback `port` and all of it is pid's. */
static bool listener_is(int port, pid_t pid)
{
    unsigned long inode[16];
    int n = listeners(port, inode, 16);
    for (int i = 0; i < n; i++)
        if (!host_holds_socket(pid, inode[i]))
            return false;
    return n > 0;
}

/* A loopback port the kernel picks. bound: keep it bound (never listening) and
 * return the socket in *fd, so that connections to it are refused and nobody
 * else can bind it while the test holds it; else close it at once. */
static int pick_port(int *fd)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    if (fd)
        *fd = s;
    else
        close(s);
    return ntohs(sa.sin_port);
}

/* fork+exec, stdout on a pipe (returned in *out), stderr to dir/server.err. */
static void spawn_server(const char *const *argv, int *out)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int err = open(path("server.err"), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(p[1], STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    *out = p[0];
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    server_pid = -1;
}

/* Starts argv, reads the port from the first line it prints after `marker`,
 * and checks that the listener there is the child's. Returns the port, or 0
 * if the server ended without printing one (stopped). */
static int server_printing_port(const char *const *argv, const char *marker)
{
    int out;
    spawn_server(argv, &out);
    char line[512];
    host_read_fd(out, line, sizeof line, 10000, "\n");
    close(out);
    const char *at = strstr(line, marker);
    int port = at ? atoi(at + strlen(marker)) : 0;
    if (port <= 0) {
        stop_server();
        return 0;
    }
    ck_assert_msg(listener_is(port, server_pid), "%s: the listener on port %d is not its own",
                  argv[0], port);
    return port;
}

/* python3 -m http.server on `addr` port `port` (0: the kernel's choice);
 * returns the port, 0 if it could not bind that one. */
static int python_server_on(const char *addr, int port)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    return server_printing_port((const char *[]){"python3", "-u", "-m", "http.server", p, "--bind",
                                                 addr, "--directory", path("www"), NULL},
                                " port ");
}

static int python_server_at(int port)
{
    return python_server_on("127.0.0.1", port);
}

static int python_server(void)
{
    int port = python_server_at(0);
    ck_assert_msg(port > 0, "python3 -m http.server did not start (see %s)", path("server.err"));
    return port;
}

/* nginx cannot report a port the kernel picked: pick one, free it, start
 * nginx on it, and wait until the listener there is nginx's own; another
 * port if nginx could not bind it, a bounded number of times. */
static int nginx_server(void)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = pick_port(NULL);
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
        int out;
        spawn_server((const char *[]){"nginx", "-c", path("nginx.conf"), "-p", dir, NULL}, &out);
        close(out);
        bool exited = false;
        for (int i = 0; i < 1000 && !listener_is(port, server_pid); i++) {
            if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
                exited = true; /* could not bind: someone took the port */
                break;
            }
            usleep(10000);
        }
        if (exited) {
            server_pid = -1;
            continue;
        }
        ck_assert_msg(listener_is(port, server_pid), "nginx did not listen on %d (see %s)", port,
                      path("nginx.err"));
        return port;
    }
    ck_abort_msg("nginx could not bind a free port in 5 attempts (see %s)", path("nginx.err"));
    return 0;
}

/* bcsim serve, with faults off-the-shelf servers cannot produce. */
static int faulty_server(const char *fault)
{
    int port = server_printing_port(
        (const char *[]){BCSIM_BIN, "serve", path("www"), "--port", "0", "--fault", fault, NULL},
        "http://127.0.0.1:");
    ck_assert_msg(port > 0, "bcsim serve did not start (see %s)", path("server.err"));
    return port;
}

/* A server of the test's own: a socket it listens on, port 0, and a child
 * that reads each request's head and answers `answer`, whatever was asked. */
static int canned_server(const char *answer)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(s, 8), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    /* Check's SIGTERM handler, inherited, would pass the teardown's SIGTERM
     * on to the whole test: the child takes the default before it can come. */
    sigset_t term, was;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    sigprocmask(SIG_BLOCK, &term, &was);
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &was, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c < 0 && errno == EINTR)
                continue;
            if (c < 0)
                _exit(1);
            /* The whole head, so that closing does not reset unread bytes. */
            char req[4096];
            size_t n = 0;
            struct pollfd pfd = {.fd = c, .events = POLLIN};
            while (n + 1 < sizeof req && poll(&pfd, 1, 5000) > 0) {
                ssize_t r = recv(c, req + n, sizeof req - n - 1, 0);
                if (r <= 0)
                    break;
                n += (size_t)r;
                req[n] = '\0';
                if (strstr(req, "\r\n\r\n"))
                    break;
            }
            send(c, answer, strlen(answer), MSG_NOSIGNAL);
            close(c);
        }
    }
    sigprocmask(SIG_SETMASK, &was, NULL);
    close(s);
    int port = ntohs(sa.sin_port);
    ck_assert_msg(listener_is(port, server_pid), "the listener on port %d is not the test's", port);
    return port;
}

/* ---- Fixture ---------------------------------------------------------------------- */

static void setup(void)
{
    scratch_make(dir, sizeof dir, "fota");
    ck_assert_int_eq(mkdir(path("www"), 0755), 0);
}

static void teardown(void)
{
    stop_server();
    scratch_remove(dir);
}

/* www/NAME: a package from one built-in revision to another. */
static void package(const char *model, const char *from, const char *to, const char *name,
                    const char *extra)
{
    flow_package(dir, model, from, to, name, extra);
}

/* Sends AT+QFOTADL for www/up.pkg on a loopback port. */
static void download(struct host *h, int port)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"http://127.0.0.1:%d/up.pkg\"\r", port);
    host_send(h, cmd);
}

/* ---- Card 2, section 6.1, and card 1, section 7.2, line for line ------------------ */

START_TEST(card2_http_replay)
{
    static const char *const models[] = {"bc66", "bc66-na"};
    static const char *const revs[][2] = {{"BC66NBR01A07", "BC66NBR01A10"},
                                          {"BC66NANBR01A02", "BC66NANBR01A03"}};
    package(models[_i], revs[_i][0], revs[_i][1], "update.bin", NULL);
    /* The card's URL, port 100 included, to a server on a port the kernel picked. */
    char map[64];
    snprintf(map, sizeof map, "www.quectel.com:100=127.0.0.1:%d", python_server());
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    flow_start_module(&p, &h, models[_i], (const char *[]){"--resolve", map, NULL});
    host_cmd(&h, "AT+CESQ;+CEREG?;+CPIN?;+COPS?", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+CESQ;+CEREG?;+CPIN?;+COPS?\r\r\n+CESQ: 47,6,255,255,0,54\r\n\r\n"
                          "+CEREG: 0,1\r\n\r\n+CPIN: READY\r\n\r\n+COPS: 0,2,\"46011\",9\r\n"
                          "\r\nOK\r\n");
    host_send(&h, "AT+QFOTADL=\"http://www.quectel.com:100/update.bin\"\r");
    flow_expect_line(&h, "AT+QFOTADL=\"http://www.quectel.com:100/update.bin\"");
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    flow_progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, "+QIND: \"FOTA\",\"HTTPEND\",0");
    flow_expect_update(&h, true, true);
    flow_revision_is(&h, revs[_i][1]);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

START_TEST(card1_http_replay)
{
    package("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "update.zip", NULL);
    char map[64];
    snprintf(map, sizeof map, "www.quectel.com:100=127.0.0.1:%d", python_server());
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    flow_start_module(&p, &h, "bc260y-cn", (const char *[]){"--resolve", map, NULL});
    host_cmd(&h, "AT+QFOTADL=?", buf, sizeof buf);
    ck_assert_str_eq(buf, "AT+QFOTADL=?\r\r\n+QFOTADL=<URL>\r\n\r\nOK\r\n");
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"http://www.quectel.com:100/update.zip\"\r");
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    flow_progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, "+QIND: \"FOTA\",\"HTTPEND\",0");
    flow_expect_update(&h, false, true);
    flow_revision_is(&h, "BC260YCNAAR02A03");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* nginx, a real web server, with the link model on (fast speed keeps it quick). */
START_TEST(nginx_serves_the_package)
{
    ck_assert_int_eq(mkdir(path("www/fw"), 0755), 0);
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "fw/up.pkg", NULL);
    int port = nginx_server();
    struct bcsim_proc p;
    struct host h;
    char buf[512], line[512];
    flow_start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    snprintf(buf, sizeof buf, "AT+QFOTADL=\"HTTP://127.0.0.1:%d/fw/up.pkg\"\r", port);
    host_send(&h, buf);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    flow_progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, "+QIND: \"FOTA\",\"HTTPEND\",0");
    flow_expect_update(&h, true, true);
    flow_revision_is(&h, "BC66NBR01A08");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- Result codes ---------------------------------------------------------------- */

struct failure {
    const char *model;
    const char *url;      /* %d: the server's port */
    const char *breakage; /* package variant served as www/up.pkg */
    const char *ctl[4];   /* a control command before the download */
    const char *httpend;  /* the HTTPEND line, or NULL if the download succeeds */
    const char *end;      /* the END line, if any */
    bool refused;         /* %d is a port nothing listens on, not the server's */
};

static void run_failure(const struct failure *f)
{
    if (strcmp(f->model, "bc260y-cn") == 0)
        package(f->model, "BC260YCNAAR02A02", "BC260YCNAAR02A03", "up.pkg", f->breakage);
    else
        package(f->model, "BC66NBR01A07", "BC66NBR01A08", "up.pkg", f->breakage);
    int held = -1, port = f->refused ? pick_port(&held) : python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    flow_start_module(&p, &h, f->model, NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    if (f->ctl[0]) {
        char o[512];
        ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, f->ctl), 0);
    }
    char url[256];
    snprintf(url, sizeof url, f->url, port);
    snprintf(buf, sizeof buf, "AT+QFOTADL=\"%s\"\r", url);
    host_send(&h, buf);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    flow_next_line(&h, line, sizeof line);
    if (strncmp(line, "+QIND: \"FOTA\",\"DOWNLOADING\"", 27) == 0) {
        while (strncmp(line, "+QIND: \"FOTA\",\"DOWNLOADING\"", 27) == 0)
            flow_next_line(&h, line, sizeof line);
    }
    ck_assert_msg(strcmp(line, f->httpend) == 0, "%s: %s", f->httpend, line);
    if (f->end)
        flow_expect_line(&h, f->end);
    /* Still the old firmware, still answering; nothing pending. */
    host_drain(&h, buf, sizeof buf, 200);
    ck_assert_msg(!strstr(buf, "START"), "%s", host_show(buf));
    flow_revision_is(&h, strcmp(f->model, "bc260y-cn") == 0 ? "BC260YCNAAR02A02" : "BC66NBR01A07");
    char st[2048];
    bcsim_ctl(&p, st, sizeof st, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(st, "\"fota\":\"idle\""), "%s", st);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
    if (held >= 0)
        close(held);
}

#define HTTPEND(n) "+QIND: \"FOTA\",\"HTTPEND\"," #n
#define END(n)     "+QIND: \"FOTA\",\"END\"," #n

static const struct failure failures[] = {
    /* DNS: card 1 has code 2; BC66 only "download failed". */
    {"bc260y-cn", "http://no-such-host.invalid/up.pkg", NULL, {0}, HTTPEND(2), NULL, false},
    {"bc66", "http://no-such-host.invalid/up.pkg", NULL, {0}, HTTPEND(12), NULL, false},
    /* A DNS failure replayed (`ctl dns fail`): a name that resolves otherwise. */
    {"bc260y-cn", "http://localhost:%d/up.pkg", NULL, {"dns", "fail"}, HTTPEND(2), NULL, false},
    {"bc66", "http://localhost:%d/up.pkg", NULL, {"dns", "fail"}, HTTPEND(12), NULL, false},
    /* Nothing listens there. */
    {"bc260y-cn", "http://127.0.0.1:%d/up.pkg", NULL, {0}, HTTPEND(12), NULL, true},
    /* 404 from the server. */
    {"bc66", "http://127.0.0.1:%d/missing.pkg", NULL, {0}, HTTPEND(12), NULL, false},
    /* The network is gone before the download starts. */
    {"bc260y-cn", "http://127.0.0.1:%d/up.pkg", NULL, {"net", "detach"}, HTTPEND(99), NULL, false},
    {"bc66", "http://127.0.0.1:%d/up.pkg", NULL, {"net", "detach"}, HTTPEND(20), NULL, false},
    /* The FOTA area has room for less than the package. */
    {"bc260y-cn",
     "http://127.0.0.1:%d/up.pkg",
     NULL,
     {"fault", "flash-capacity", "8192"},
     HTTPEND(101),
     NULL,
     false},
    {"bc66",
     "http://127.0.0.1:%d/up.pkg",
     NULL,
     {"fault", "flash-capacity", "8192"},
     HTTPEND(12),
     NULL,
     false},
    /* The flash fails a program operation. */
    {"bc260y-cn",
     "http://127.0.0.1:%d/up.pkg",
     NULL,
     {"fault", "flash-program"},
     HTTPEND(100),
     NULL,
     false},
    /* Packages the module refuses after downloading them. */
    {"bc66", "http://127.0.0.1:%d/up.pkg", "corrupt", {0}, HTTPEND(0), END(255), false},
    {"bc66", "http://127.0.0.1:%d/up.pkg", "wrong-base", {0}, HTTPEND(0), END(254), false},
    {"bc66", "http://127.0.0.1:%d/up.pkg", "wrong-model", {0}, HTTPEND(0), END(254), false},
    {"bc260y-cn", "http://127.0.0.1:%d/up.pkg", "wrong-base", {0}, HTTPEND(0), END(255), false},
    {"bc260y-cn", "http://127.0.0.1:%d/up.pkg", "truncate", {0}, HTTPEND(0), END(255), false},
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
    int port = faulty_server(serve_faults[_i].fault);
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    flow_start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    download(&h, port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    if (serve_faults[_i].ok) {
        flow_progress(&h, "DOWNLOADING", line, sizeof line);
        ck_assert_msg(strcmp(line, HTTPEND(0)) == 0, "%s: %s", serve_faults[_i].fault, line);
        flow_expect_update(&h, true, true);
        flow_revision_is(&h, "BC66NBR01A08");
    } else {
        do
            flow_next_line(&h, line, sizeof line);
        while (strncmp(line, "+QIND: \"FOTA\",\"DOWNLOADING\"", 27) == 0);
        ck_assert_msg(strcmp(line, HTTPEND(12)) == 0, "%s: %s", serve_faults[_i].fault, line);
        flow_revision_is(&h, "BC66NBR01A07");
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
    int port = canned_server("SSH-2.0-not-a-web-server\r\n\r\n");
    struct bcsim_proc p;
    struct host h;
    char buf[512];
    flow_start_module(&p, &h, models[_i], NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    download(&h, port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    flow_expect_line(&h, codes[_i]);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* `bcsim ctl power cut` in the middle of UPDATING, then `power on`. */
START_TEST(ctl_power_cut_while_updating)
{
    package("bc66", "BC66NBR01A07", "BC66NBR01A10", "up.pkg", NULL);
    int port = python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[4096], line[512], o[512];
    flow_start_paced(&p, &h, "bc66", "0", "5");
    download(&h, port);
    host_expect(&h, "\"UPDATING\",40%,1,1\r\n", buf, sizeof buf, 60000);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    ck_assert(bcsim_status_wait(&p, "\"power\":\"off\"", HOST_TIMEOUT_MS));
    host_drain(&h, buf, sizeof buf, 0); /* what came before the cut */
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    flow_expect_brom(&h, true);
    flow_expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    flow_next_line(&h, line, sizeof line);
    int resumed = atoi(line + 25);
    ck_assert_msg(resumed >= 40 && resumed < 100, "resumed at %s", line);
    flow_finish_resumed(&h, "BC66NBR01A10");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A retry after a failure works: the same URL, refused first, then served. */
START_TEST(retry_after_failure)
{
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    struct bcsim_proc p;
    struct host h;
    char buf[512], line[512];
    flow_start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    /* The port is freed for python between the two; should another program
     * take it in that instant, python cannot bind it: again, on another. */
    int held, port = 0;
    for (int attempt = 0; attempt < 3 && port == 0; attempt++) {
        int want = pick_port(&held); /* held: nothing listens there */
        download(&h, want);
        flow_expect_line(&h, "OK");
        flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
        flow_expect_line(&h, HTTPEND(12));
        close(held);
        port = python_server_at(want);
    }
    ck_assert_msg(port > 0, "python3 -m http.server could not bind a freed port 3 times");
    download(&h, port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    flow_progress(&h, "DOWNLOADING", line, sizeof line);
    ck_assert_str_eq(line, HTTPEND(0));
    flow_expect_update(&h, true, true);
    flow_revision_is(&h, "BC66NBR01A08");
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
    flow_start_module(&p, &h, _i ? "bc260y-cn" : "bc66", NULL);
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
    int port = python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[512];
    /* About 4 s of download: time enough to detach, even under valgrind. */
    flow_start_paced(&p, &h, _i ? "bc260y-cn" : "bc66", "1000", "10");
    download(&h, port);
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
    int port = python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[4096];
    flow_start_paced(&p, &h, _i ? "bc260y-cn" : "bc66", "8000", "20");
    download(&h, port);
    host_expect(&h, "\"DOWNLOADING\",", buf, sizeof buf, 10000);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"http://127.0.0.1:%d/up.pkg\"", port);
    host_cmd(&h, cmd, buf, sizeof buf);
    if (_i) {
        ck_assert_msg(strstr(buf, "\r\nERROR\r\n"), "%s", host_show(buf));
    } else {
        ck_assert_msg(strstr(buf, "\r\nOK\r\n"), "%s", host_show(buf));
        host_expect(&h, "\r\n+QIND: \"FOTA\",\"END\",2\r\n", buf, sizeof buf, 5000);
    }
    /* The first one goes on to the end. */
    host_expect(&h, "\"FOTA\",\"END\",0\r\n", buf, sizeof buf, 60000);
    flow_revision_is(&h, _i ? "BC260YCNAAR02A03" : "BC66NBR01A08");
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
    int port = python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[4096], line[512], o[512];
    flow_start_module(&p, &h, "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    char n[16];
    snprintf(n, sizeof n, "%d", cuts[_i]);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"fault", "flash-cut", n, NULL}),
                     0);
    download(&h, port);
    host_expect(&h, "+QIND: \"FOTA\",\"HTTPEND\",0\r\n", buf, sizeof buf, 10000);
    host_expect(&h, "+QIND: \"FOTA\",\"START\"\r\n", buf, sizeof buf, 10000);
    int last = 0;
    for (;;) { /* UPDATING lines until the power goes */
        struct pollfd pfd = {.fd = h.fd, .events = POLLIN};
        if (h.len == 0 && poll(&pfd, 1, 500) <= 0)
            break;
        flow_next_line(&h, line, sizeof line);
        if (strncmp(line, "+QIND: \"FOTA\",\"UPDATING\",", 25) == 0)
            last = atoi(line + 25);
    }
    bcsim_ctl(&p, o, sizeof o, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(o, "\"power\":\"off\""), "%s", o);
    ck_assert_int_lt(last, 100);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    flow_expect_brom(&h, true);
    flow_expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    flow_next_line(&h, line, sizeof line);
    ck_assert_msg(strncmp(line, "+QIND: \"FOTA\",\"UPDATING\",", 25) == 0, "%s", line);
    int resumed = atoi(line + 25);
    /* Not from the start: from the journal's count, at least what the host saw
     * (the last lines before a cut may not have reached the wire). */
    ck_assert_msg(resumed >= last && resumed > 0 && resumed < 100, "was %d%%, resumed at %d%%",
                  last, resumed);
    flow_finish_resumed(&h, "BC66NBR01A08");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* kill -9 of the emulator in the middle of UPDATING, then a new process on the
 * same state directory. */
START_TEST(kill9_while_updating)
{
    package("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "up.pkg", NULL);
    int port = python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[4096], line[512];
    flow_start_paced(&p, &h, "bc260y-cn", "0", "10");
    download(&h, port);
    host_expect(&h, "\"UPDATING\",30%,1,1\r\n", buf, sizeof buf, 60000);
    bcsim_kill9(&p);
    host_close(&h);
    bcsim_start(&p, "bc260y-cn", NULL);
    host_open(&h, p.pty);
    flow_expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    flow_next_line(&h, line, sizeof line);
    int resumed = atoi(line + 25);
    ck_assert_msg(resumed >= 30 && resumed < 100, "resumed at %s", line);
    flow_finish_resumed(&h, "BC260YCNAAR02A03");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A power cut during the download: the next boot is a normal one on the old
 * firmware. */
START_TEST(power_cut_while_downloading)
{
    package("bc66", "BC66NBR01A07", "BC66NBR01A08", "up.pkg", NULL);
    int port = python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[4096], o[256];
    flow_start_paced(&p, &h, "bc66", "1000", "10");
    download(&h, port);
    host_expect(&h, "\"DOWNLOADING\",", buf, sizeof buf, 10000);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    ck_assert(bcsim_status_wait(&p, "\"power\":\"off\"", HOST_TIMEOUT_MS));
    host_drain(&h, buf, sizeof buf, 0); /* what came before the cut */
    flow_power_on_old_firmware(&p, &h, "BC66NBR01A07");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* Autobaud: the update's result waits for the host's AT (card 1 notes). */
START_TEST(autobaud_withholds_the_result)
{
    package("bc260y-cn", "BC260YCNAAR02A02", "BC260YCNAAR02A03", "up.pkg", NULL);
    int port = python_server();
    struct bcsim_proc p;
    struct host h;
    char buf[8192];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "AT+IPR=0", buf, sizeof buf);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    download(&h, port);
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

/* ---- Content-Length and --resolve ------------------------------------------------ */

/* An announced length larger than any FOTA area, however large, is "flash not
 * enough" (101 on BC260Y-CN), before a byte is written; a Content-Length
 * that does not fit in 64 bits is not HTTP that llhttp accepts ("Content-
 * Length overflow"): "unknown error" (1), like any answer that is not HTTP. */
static const struct {
    const char *length;
    const char *httpend;
} huge_lengths[] = {
    {"9223372036854775807", HTTPEND(101)},  /* 2^63 - 1 */
    {"9223372036854775808", HTTPEND(101)},  /* 2^63: negative as an int64_t */
    {"18446744073709551615", HTTPEND(101)}, /* 2^64 - 1: -1, "no length", as an int64_t */
    {"18446744073709551616", HTTPEND(1)},   /* 2^64 */
};

START_TEST(huge_content_length)
{
    char answer[256];
    snprintf(answer, sizeof answer,
             "HTTP/1.1 200 OK\r\nContent-Length: %s\r\nConnection: close\r\n\r\n...",
             huge_lengths[_i].length);
    int port = canned_server(answer);
    struct bcsim_proc p;
    struct host h;
    char buf[1024], st[2048];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    download(&h, port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    flow_expect_line(&h, huge_lengths[_i].httpend); /* no DOWNLOADING line either */
    flow_revision_is(&h, "BC260YCNAAR02A02");
    bcsim_ctl(&p, st, sizeof st, (const char *[]){"status", NULL});
    ck_assert_msg(strstr(st, "\"fota\":\"idle\""), "%s", st);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* Which override a URL takes, and where it connects: %d is the server's port.
 * The file served is no package: HTTPEND,0 then END,255 shows that the
 * download reached this test's server, without an update's time. */
static const struct {
    const char *map, *url, *bind;
    bool reached;
} resolve_forms[] = {
    /* HOST:ADDR, the URL's port. */
    {"www.quectel.com:127.0.0.1", "http://www.quectel.com:%d/up.pkg", "127.0.0.1", true},
    {"www.quectel.com:::1", "http://www.quectel.com:%d/up.pkg", "::1", true},
    /* HOST=ADDR:PORT, from every port; HOST:PORT=ADDR:PORT from one. */
    {"www.quectel.com=127.0.0.1:%d", "http://www.quectel.com:100/up.pkg", "127.0.0.1", true},
    {"www.quectel.com:100=127.0.0.1:%d", "http://www.quectel.com:100/up.pkg", "127.0.0.1", true},
    {"www.quectel.com:100=[::1]:%d", "http://WWW.QUECTEL.COM:100/up.pkg", "::1", true},
    /* HOST:PORT=ADDR keeps the URL's port. */
    {"www.quectel.com:%d=127.0.0.1", "http://www.quectel.com:%d/up.pkg", "127.0.0.1", true},
    /* A literal can be mapped too. */
    {"[::1]:100=127.0.0.1:%d", "http://[::1]:100/up.pkg", "127.0.0.1", true},
    /* Another port of the host is not mapped: the system resolver says no. */
    {"no-such-host.invalid:100=127.0.0.1:%d", "http://no-such-host.invalid:101/up.pkg", "127.0.0.1",
     false},
};

START_TEST(resolve_maps_host_and_port)
{
    FILE *f = fopen(path("www/up.pkg"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a package\n", f);
    fclose(f);
    int port = python_server_on(resolve_forms[_i].bind, 0);
    ck_assert_msg(port > 0, "python3 -m http.server did not start on %s (see %s)",
                  resolve_forms[_i].bind, path("server.err"));
    char map[128], url[128], buf[512];
    snprintf(map, sizeof map, resolve_forms[_i].map, port);
    snprintf(url, sizeof url, resolve_forms[_i].url, port);
    struct bcsim_proc p;
    struct host h;
    flow_start_module(&p, &h, "bc260y-cn", (const char *[]){"--resolve", map, NULL});
    host_cmd(&h, "ATE0", buf, sizeof buf);
    snprintf(buf, sizeof buf, "AT+QFOTADL=\"%s\"\r", url);
    host_send(&h, buf);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"HTTPSTART\"");
    if (resolve_forms[_i].reached) {
        char line[512];
        flow_progress(&h, "DOWNLOADING", line, sizeof line);
        ck_assert_msg(strcmp(line, HTTPEND(0)) == 0, "%s: %s", map, line);
        flow_expect_line(&h, END(255));
    } else {
        flow_expect_line(&h, HTTPEND(2));
    }
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* Ports out of 1-65535 and malformed maps: a one-line reason, exit status 2. */
START_TEST(resolve_refuses_bad_maps)
{
    static const struct {
        const char *map, *why;
    } bad[] = {
        {"h:0=127.0.0.1", "--resolve h:0=127.0.0.1: port '0' is not a number from 1 to 65535"},
        {"h=127.0.0.1:65536",
         "--resolve h=127.0.0.1:65536: port '65536' is not a number from 1 to 65535"},
        {"h=[::1]:x", "--resolve h=[::1]:x: port 'x' is not a number from 1 to 65535"},
        {"h=example.com:80", "--resolve h=example.com:80: 'example.com:80' is not ADDR or "
                             "ADDR:PORT (an IPv4 or IPv6 address; [IPv6]:PORT)"},
        {"h:100", "--resolve h:100: '100' is not an IPv4 or IPv6 address"},
        {"=127.0.0.1", "--resolve =127.0.0.1: expected HOST[:PORT]=ADDR[:PORT] before '='"},
    };
    char state[320], want[400];
    snprintf(state, sizeof state, "%s/state", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(RUN("--state", state, "--resolve", bad[i].map), 2);
        snprintf(want, sizeof want, "bcsim: %s\n", bad[i].why);
        ck_assert_str_eq(out, want);
    }
    struct stat st;
    ck_assert_msg(stat(state, &st) != 0, "a refused command line made %s", state);
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
    tcase_add_test(tc, power_cut_while_downloading);
    tcase_add_test(tc, autobaud_withholds_the_result);
    tcase_add_loop_test(tc, huge_content_length, 0,
                        (int)(sizeof huge_lengths / sizeof huge_lengths[0]));
    tcase_add_loop_test(tc, resolve_maps_host_and_port, 0,
                        (int)(sizeof resolve_forms / sizeof resolve_forms[0]));
    tcase_add_test(tc, resolve_refuses_bad_maps);
    suite_add_tcase(s, tc);
    return s;
}
