/* bcsim serve as a downloader meets it: the real binary, the real curl as
 * the client for serving and for each fault, raw sockets for what curl will
 * not send (garbage, requests in 1-byte writes, clients that vanish). */
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include "proto/beneath.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PKG_SIZE   300000 /* more than one socket buffer, less than a second to send */
#define SMALL_SIZE 20000

static char dir[] = "/tmp/bcsim-serve-XXXXXX";
static char out[65536];

struct served {
    pid_t pid;
    int out_fd, err_fd;
    int port;
    char url[80]; /* "http://127.0.0.1:PORT/" */
};

static const char *path(const char *name)
{
    return scratch_path(dir, name);
}

static void write_file(const char *name, size_t size, unsigned seed)
{
    scratch_write_pattern(dir, name, size, seed);
}

static void setup(void)
{
    scratch_make(dir, sizeof dir, "serve");
    ck_assert_int_eq(mkdir(path("www"), 0755), 0);
    ck_assert_int_eq(mkdir(path("www/sub"), 0755), 0);
    write_file("www/pkg.bin", PKG_SIZE, 1);
    write_file("www/small.bin", SMALL_SIZE, 2);
    write_file("www/sub/deep.bin", 100, 3);
    write_file("secret", 10, 4); /* beside the root: must never be served */
}

static void teardown(void)
{
    scratch_remove(dir);
}

/* ---- Processes ----------------------------------------------------------------- */

/* The exit status, or -1 after killing a child that outstayed timeout_ms. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int status = host_wait_pid(pid, timeout_ms);
    if (status < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return status;
}

/* Starts `bcsim serve DIR/www` plus arguments and reads the line it prints. */
static void serve_start(struct served *s, const char *const *extra)
{
    const char *argv[48] = {BCSIM_BIN, "serve", path("www")};
    int n = 3;
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    s->pid = host_spawn(argv, &s->out_fd, &s->err_fd);
    char line[512], expect[512];
    host_read_fd(s->out_fd, line, sizeof line, 10000, "\n");
    if (sscanf(line, "bcsim serve: http://127.0.0.1:%d/", &s->port) == 1) {
        snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/", s->port);
    } else if (sscanf(line, "bcsim serve: http://[::1]:%d/", &s->port) == 1) {
        snprintf(s->url, sizeof s->url, "http://[::1]:%d/", s->port);
    } else {
        char err[1024];
        host_read_fd(s->err_fd, err, sizeof err, 500, NULL);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        ck_abort_msg("bcsim serve did not start: stdout '%s' stderr '%s'", line, err);
    }
    snprintf(expect, sizeof expect, "bcsim serve: %s from %s\n", s->url, path("www"));
    ck_assert_str_eq(line, expect);
}

/* SIGTERM; the server must exit 0 promptly, even with clients connected. */
static void serve_stop(struct served *s)
{
    kill(s->pid, SIGTERM);
    int rc = wait_exit(s->pid, 20000); /* valgrind runs are slow to exit */
    char err[4096];
    host_read_fd(s->err_fd, err, sizeof err, 100, NULL);
    close(s->out_fd);
    close(s->err_fd);
    ck_assert_msg(rc == 0, "bcsim serve exited %d, stderr '%s'", rc, err);
}

#define SERVE(s, ...) serve_start(s, (const char *[]){__VA_ARGS__, NULL})
#define RUN(...)      bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 10000)

/* Runs curl quietly with the arguments; its stdout in out. Returns its exit status. */
static int curl_run(const char *const *args)
{
    const char *argv[48] = {"curl", "-s", "--max-time", "5"};
    int n = 4;
    for (int i = 0; args[i] && n < 47; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fd;
    pid_t pid = host_spawn(argv, &fd, NULL);
    host_read_fd(fd, out, sizeof out, 10000, NULL);
    close(fd);
    return wait_exit(pid, 10000);
}

#define CURL(...) curl_run((const char *[]){__VA_ARGS__, NULL})

static const char *url(const struct served *s, const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s", s->url, name);
    return buf[k];
}

/* curl GET of args[0] into DIR/got, with curl's other arguments after it;
 * "CODE SIZE" in out. Returns curl's exit status. */
static int get(const struct served *s, const char *const *args)
{
    const char *argv[40] = {"-o", path("got"), "-w", "%{http_code} %{size_download}",
                            url(s, args[0])};
    int n = 5;
    for (int i = 1; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return curl_run(argv);
}

#define GET(s, ...) get(s, (const char *[]){__VA_ARGS__, NULL})

/* ---- Bytes ------------------------------------------------------------------------ */

static size_t load(const char *p, char *buf, size_t size)
{
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

/* The file received is exactly the first n bytes of the one served. */
static void assert_prefix(const char *got, const char *served, size_t n)
{
    static char a[PKG_SIZE + 1], b[PKG_SIZE + 1];
    size_t na = load(got, a, sizeof a), nb = load(served, b, sizeof b);
    ck_assert_uint_eq(na, n);
    ck_assert_uint_ge(nb, n);
    ck_assert_msg(memcmp(a, b, n) == 0, "%s differs from the first %zu bytes of %s", got, n,
                  served);
}

static void assert_same(const char *got, const char *served)
{
    struct stat st;
    ck_assert_int_eq(stat(served, &st), 0);
    assert_prefix(got, served, (size_t)st.st_size);
}

/* ---- Raw sockets -------------------------------------------------------------------- */

static int raw_connect(const struct served *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void raw_send(int fd, const void *data, size_t n)
{
    ck_assert_int_eq(send(fd, data, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Everything until the server closes (or the deadline). */
static size_t raw_read_all(int fd, char *buf, size_t size, int timeout_ms)
{
    return host_read_fd(fd, buf, size, timeout_ms, NULL);
}

/* Reads until the server closes (EOF or reset) or the deadline passes;
 * whether it closed. NUL-terminates what came. */
static bool read_to_close(int fd, char *buf, size_t size, int timeout_ms, size_t *got)
{
    size_t n = 0;
    long end = scratch_now_ms() + timeout_ms;
    buf[0] = '\0';
    for (;;) {
        long left = end - scratch_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) < 0)
            break;
        if (pfd.revents == 0)
            continue;
        char scratch[4096];
        bool room = n + 1 < size;
        ssize_t r = room ? read(fd, buf + n, size - n - 1) : read(fd, scratch, sizeof scratch);
        if (r <= 0) {
            if (got)
                *got = n;
            return r == 0 || errno == ECONNRESET;
        }
        if (room) {
            n += (size_t)r;
            buf[n] = '\0';
        }
    }
    if (got)
        *got = n;
    return false;
}

/* The response to one request sent on a fresh connection. */
static size_t raw_exchange(const struct served *s, const void *req, size_t n, char *buf,
                           size_t size)
{
    int fd = raw_connect(s);
    raw_send(fd, req, n);
    size_t got = raw_read_all(fd, buf, size, 5000);
    close(fd);
    return got;
}

static const char *body_of(const char *response)
{
    const char *end = strstr(response, "\r\n\r\n");
    ck_assert_msg(end != NULL, "no end of headers in '%s'", host_show(response));
    return end + 4;
}

/* ---- Serving ------------------------------------------------------------------------ */

START_TEST(serves_files)
{
    struct served s;
    SERVE(&s, "--port", "0");
    ck_assert_int_eq(GET(&s, "pkg.bin"), 0);
    ck_assert_str_eq(out, "200 300000");
    assert_same(path("got"), path("www/pkg.bin"));
    ck_assert_int_eq(GET(&s, "sub/deep.bin"), 0);
    ck_assert_str_eq(out, "200 100");
    assert_same(path("got"), path("www/sub/deep.bin"));

    /* HEAD: the headers a GET would have, no body. */
    ck_assert_int_eq(
        CURL("-I", "-o", path("got"), "-w", "%{http_code} %{size_download}", url(&s, "pkg.bin")),
        0);
    ck_assert_str_eq(out, "200 0");
    char head[1024];
    head[load(path("got"), head, sizeof head - 1)] = '\0';
    ck_assert_str_eq(head, "HTTP/1.1 200 OK\r\nServer: bcsim\r\n"
                           "Content-Type: application/octet-stream\r\nContent-Length: 300000\r\n"
                           "Connection: close\r\n\r\n");
    serve_stop(&s);
}
END_TEST

START_TEST(refuses_what_is_not_a_file)
{
    struct served s;
    SERVE(&s, "--port", "0");
    static const struct {
        const char *name;
        const char *code;
    } cases[] = {
        {"missing.bin", "404"},   {"sub", "404"},
        {"sub/", "404"},          {"", "404"},
        {"../secret", "400"},     {"sub/../../secret", "400"},
        {"%2e%2e/secret", "400"}, {"sub/%2E%2E/pkg.bin", "400"},
        {"pkg.bin%00", "400"},    {"pkg%zz.bin", "400"},
        {"/etc/passwd", "404"},   {"pkg.bin?v=1", "200"},
        {"%70kg.bin", "200"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(
            CURL("--path-as-is", "-o", path("got"), "-w", "%{http_code}", url(&s, cases[i].name)),
            0);
        ck_assert_msg(strcmp(out, cases[i].code) == 0, "/%s: %s, expected %s", cases[i].name, out,
                      cases[i].code);
    }
    ck_assert_int_eq(
        CURL("-X", "POST", "-o", path("got"), "-w", "%{http_code}", url(&s, "pkg.bin")), 0);
    ck_assert_str_eq(out, "405");
    ck_assert_int_eq(CURL("-X", "DELETE", "-D", "-", "-o", "/dev/null", url(&s, "pkg.bin")), 0);
    ck_assert_ptr_nonnull(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
    /* Absolute-form targets are not paths under the root. */
    char resp[4096];
    raw_exchange(&s, "GET http://x/pkg.bin HTTP/1.1\r\n\r\n", 33, resp, sizeof resp);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 400 ", 13) == 0, "%s", host_show(resp));
    serve_stop(&s);
}
END_TEST

START_TEST(command_line)
{
    ck_assert_int_eq(RUN("serve"), 2);
    ck_assert_int_eq(RUN("serve", path("www"), path("www")), 2);
    ck_assert_int_eq(RUN("serve", path("www"), "--port", "65536"), 2);
    ck_assert_int_eq(RUN("serve", path("www"), "--port", "-1"), 2);
    ck_assert_int_eq(RUN("serve", path("www"), "--port", "+80"), 2);
    ck_assert_int_eq(RUN("serve", path("www"), "--bind", "localhost"), 2);
    ck_assert_int_eq(RUN("serve", path("www"), "--coap-port", "65536"), 2);
    ck_assert_int_eq(RUN("serve", path("www"), "--coap-fault", "drop=2"), 2); /* CoAP is off */
    static const char *const bad[] = {
        "bogus",      "reset",     "reset=",     "reset=x",  "reset=-1",    "status=99",
        "status=600", "length=10", "length=+0",  "length=+", "drip=10",     "drip=0/5",
        "drip=10/0",  "chunked=1", "split@nope", "close=1@", "stall=1x@/a", "status=404@",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(RUN("serve", path("www"), "--fault", bad[i]), 2);
        char expect[128];
        snprintf(expect, sizeof expect, "bcsim serve: --fault %s: ", bad[i]);
        ck_assert_msg(strncmp(out, expect, strlen(expect)) == 0, "'%s'", out);
        ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: '%s'", out);
    }
    static const char *const limits[][2] = {
        {"--timeout", "9"},          {"--timeout", "3600001"},
        {"--timeout", "1s"},         {"--timeout", ""},
        {"--max-connections", "0"},  {"--max-connections", "10001"},
        {"--max-connections", "-1"}, {"--max-connections", "99999999999999999999"},
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        ck_assert_int_eq(RUN("serve", path("www"), limits[i][0], limits[i][1]), 2);
        char expect[128];
        snprintf(expect, sizeof expect, "bcsim serve: %s %s: expected ", limits[i][0],
                 limits[i][1]);
        ck_assert_msg(strncmp(out, expect, strlen(expect)) == 0, "'%s'", out);
        ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: '%s'", out);
    }
    ck_assert_int_eq(RUN("serve", path("www"), "--follow-symlinks=yes"), 2);
    ck_assert_int_eq(RUN("serve", path("missing")), 3);
    ck_assert_ptr_nonnull(strstr(out, "missing: no such file or directory"));
    ck_assert_int_eq(RUN("serve", path("secret")), 3);
    ck_assert_int_eq(RUN("serve", path("www"), "--log", path("no/such/dir/log")), 3);
    ck_assert_int_eq(RUN("help", "serve"), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: bcsim serve DIR"));

    /* A port in use. */
    struct served s;
    SERVE(&s, "--port", "0");
    char port[16];
    snprintf(port, sizeof port, "%d", s.port);
    ck_assert_int_eq(RUN("serve", path("www"), "--port", port), 3);
    char expect[128];
    snprintf(expect, sizeof expect,
             "bcsim serve: cannot listen on 127.0.0.1 port %d: address already in use\n", s.port);
    ck_assert_str_eq(out, expect);
    serve_stop(&s);
}
END_TEST

START_TEST(ipv6_loopback)
{
    /* Machines without IPv6 cannot bind ::1: nothing to test there. */
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof a) == 0;
    if (probe >= 0)
        close(probe);
    if (!have)
        return;
    struct served s;
    SERVE(&s, "--bind", "::1");
    ck_assert_int_eq(strncmp(s.url, "http://[::1]:", 13), 0);
    ck_assert_int_eq(GET(&s, "small.bin", "-g"), 0);
    ck_assert_str_eq(out, "200 20000");
    assert_same(path("got"), path("www/small.bin"));
    serve_stop(&s);
}
END_TEST

START_TEST(request_log)
{
    struct served s;
    SERVE(&s, "--log", path("log"), "--fault", "close=1000@/pkg.bin");
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_int_eq(GET(&s, "pkg.bin"), 18);
    ck_assert_int_eq(CURL("-o", "/dev/null", url(&s, "a%20b%25")), 0);
    serve_stop(&s);
    char log[4096];
    log[load(path("log"), log, sizeof log - 1)] = '\0';
    static const char *const expect[] = {
        "GET /small.bin 200 20000 -\n", "GET /pkg.bin 200 1000 close=1000\n",
        "GET /a%20b%25 404 14 -\n", /* one field, however odd the path */
    };
    const char *line = log;
    for (size_t i = 0; i < 3; i++) {
        int y, mo, d, h, mi, sec, ms, port;
        char rest[256];
        ck_assert_msg(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ 127.0.0.1:%d %255[^\n]", &y, &mo,
                             &d, &h, &mi, &sec, &ms, &port, rest) == 9,
                      "log line '%s'", line);
        const char *tail = strstr(line, " GET ");
        ck_assert_msg(tail && strncmp(tail + 1, expect[i], strlen(expect[i])) == 0,
                      "log line %zu: '%s', expected '... %s'", i, line, expect[i]);
        line = strchr(line, '\n') + 1;
    }
    ck_assert_str_eq(line, "");
}
END_TEST

/* ---- Faults ---------------------------------------------------------------------- */

START_TEST(fault_status)
{
    struct served s;
    SERVE(&s, "--fault", "status=503", "--fault", "status=500@/pkg.bin", "--fault",
          "status=200@/small.bin");
    ck_assert_int_eq(GET(&s, "sub/deep.bin"), 0);
    ck_assert_str_eq(out, "503 24");
    char body[64];
    body[load(path("got"), body, sizeof body - 1)] = '\0';
    ck_assert_str_eq(body, "503 Service Unavailable\n");
    ck_assert_int_eq(GET(&s, "pkg.bin"), 0); /* the fault naming the path wins */
    ck_assert_str_eq(out, "500 26");
    ck_assert_int_eq(GET(&s, "small.bin"), 0); /* a 200, but not the file */
    ck_assert_str_eq(out, "200 7");
    ck_assert_int_eq(GET(&s, "no/such/file"), 0);
    ck_assert_str_eq(out, "503 24");
    serve_stop(&s);
}
END_TEST

START_TEST(fault_reset)
{
    struct served s;
    SERVE(&s, "--fault", "reset=1000@/pkg.bin");
    ck_assert_int_eq(GET(&s, "pkg.bin"), 56); /* CURLE_RECV_ERROR: connection reset */
    ck_assert_str_eq(out, "200 1000");
    assert_prefix(path("got"), path("www/pkg.bin"), 1000);
    ck_assert_int_eq(GET(&s, "small.bin"), 0); /* other paths unharmed */
    ck_assert_str_eq(out, "200 20000");
    /* A raw client sees the reset itself, after exactly 1000 body bytes. */
    int fd = raw_connect(&s);
    raw_send(fd, "GET /pkg.bin HTTP/1.1\r\n\r\n", 25);
    static char resp[PKG_SIZE + 4096];
    size_t n = 0;
    ssize_t r;
    while ((r = recv(fd, resp + n, sizeof resp - n, 0)) > 0)
        n += (size_t)r;
    ck_assert_int_eq(r, -1);
    ck_assert_int_eq(errno, ECONNRESET);
    close(fd);
    resp[n] = '\0';
    ck_assert_uint_eq(n - (size_t)(body_of(resp) - resp), 1000);
    serve_stop(&s);
}
END_TEST

START_TEST(fault_close)
{
    struct served s;
    SERVE(&s, "--fault", "close=1000");
    ck_assert_int_eq(GET(&s, "pkg.bin"), 18); /* CURLE_PARTIAL_FILE */
    ck_assert_str_eq(out, "200 1000");
    assert_prefix(path("got"), path("www/pkg.bin"), 1000);
    /* Cut inside a chunked body: the chunk is short, the last chunk never comes. */
    serve_stop(&s);
    SERVE(&s, "--fault", "close=5000", "--fault", "chunked");
    ck_assert_int_eq(GET(&s, "pkg.bin"), 18);
    ck_assert_str_eq(out, "200 5000");
    assert_prefix(path("got"), path("www/pkg.bin"), 5000);
    serve_stop(&s);
}
END_TEST

START_TEST(fault_stall)
{
    struct served s;
    SERVE(&s, "--fault", "stall=1000@/pkg.bin");
    long t0 = scratch_now_ms();
    ck_assert_int_eq(GET(&s, "pkg.bin", "--max-time", "1"), 28); /* CURLE_OPERATION_TIMEDOUT */
    ck_assert_int_ge(scratch_now_ms() - t0, 900);
    ck_assert_str_eq(out, "200 1000");
    assert_prefix(path("got"), path("www/pkg.bin"), 1000);
    /* A stalled client holds nothing up, and stopping does not wait for it. */
    int fd = raw_connect(&s);
    raw_send(fd, "GET /pkg.bin HTTP/1.1\r\n\r\n", 25);
    char resp[4096];
    host_read_fd(fd, resp, sizeof resp, 300, NULL);
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_str_eq(out, "200 20000");
    t0 = scratch_now_ms();
    serve_stop(&s);
    if (!getenv("BCSIM_WRAPPER"))
        ck_assert_int_lt(scratch_now_ms() - t0, 1000);
    ck_assert_uint_eq(host_read_fd(fd, resp, sizeof resp, 1000, NULL), 0); /* closed */
    close(fd);
}
END_TEST

START_TEST(fault_length_longer)
{
    struct served s;
    SERVE(&s, "--fault", "length=+10");
    ck_assert_int_eq(GET(&s, "pkg.bin"), 18); /* 10 bytes never come */
    ck_assert_str_eq(out, "200 300000");
    assert_same(path("got"), path("www/pkg.bin"));
    ck_assert_int_eq(CURL("-I", url(&s, "pkg.bin")), 0);
    ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Length: 300010\r\n"));
    serve_stop(&s);
}
END_TEST

START_TEST(fault_length_shorter)
{
    struct served s;
    SERVE(&s, "--fault", "length=-10");
    /* curl stops at the announced end and keeps quiet about the excess. */
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_str_eq(out, "200 19990");
    assert_prefix(path("got"), path("www/small.bin"), 19990);
    /* The extra bytes do go out. */
    char resp[SMALL_SIZE + 1024];
    size_t n = raw_exchange(&s, "GET /small.bin HTTP/1.1\r\n\r\n", 27, resp, sizeof resp);
    ck_assert_ptr_nonnull(strstr(resp, "\r\nContent-Length: 19990\r\n"));
    ck_assert_uint_eq(n - (size_t)(body_of(resp) - resp), SMALL_SIZE);
    serve_stop(&s);
}
END_TEST

/* Decodes a chunked body: the payload in out, checks every chunk's framing. */
static size_t dechunk(const char *p, const char *end, char *dst, int *distinct_sizes)
{
    size_t n = 0;
    unsigned long seen[8] = {0};
    *distinct_sizes = 0;
    for (;;) {
        char *after;
        unsigned long size = strtoul(p, &after, 16);
        ck_assert_msg(after > p && after + 2 <= end && memcmp(after, "\r\n", 2) == 0,
                      "bad chunk header at byte %zu", n);
        p = after + 2;
        if (size == 0)
            break;
        ck_assert_uint_le(size, 4096);
        ck_assert_msg(p + size + 2 <= end && memcmp(p + size, "\r\n", 2) == 0, "bad chunk end");
        memcpy(dst + n, p, size);
        n += size;
        p += size + 2;
        bool known = false;
        for (int k = 0; k < *distinct_sizes; k++)
            known |= seen[k] == size;
        if (!known && *distinct_sizes < 8)
            seen[(*distinct_sizes)++] = size;
    }
    ck_assert_msg(p + 2 == end && memcmp(p, "\r\n", 2) == 0, "no end after the last chunk");
    return n;
}

START_TEST(fault_chunked)
{
    struct served s;
    SERVE(&s, "--fault", "chunked");
    ck_assert_int_eq(GET(&s, "pkg.bin"), 0);
    ck_assert_str_eq(out, "200 300000");
    assert_same(path("got"), path("www/pkg.bin"));
    static char resp[PKG_SIZE * 2], body[PKG_SIZE];
    size_t n = raw_exchange(&s, "GET /pkg.bin HTTP/1.1\r\n\r\n", 25, resp, sizeof resp);
    const char *start = body_of(resp);
    ck_assert_ptr_nonnull(strstr(resp, "\r\nTransfer-Encoding: chunked\r\n"));
    ck_assert_ptr_null(strstr(resp, "Content-Length"));
    int distinct;
    ck_assert_uint_eq(dechunk(start, resp + n, body, &distinct), PKG_SIZE);
    ck_assert_int_ge(distinct, 8);
    FILE *f = fopen(path("got"), "wb");
    fwrite(body, 1, PKG_SIZE, f);
    fclose(f);
    assert_same(path("got"), path("www/pkg.bin"));
    serve_stop(&s);
}
END_TEST

START_TEST(fault_noclen)
{
    struct served s;
    SERVE(&s, "--fault", "noclen");
    ck_assert_int_eq(
        CURL("-o", path("got"), "-D", path("head"), "-w", "%{http_code}", url(&s, "pkg.bin")), 0);
    ck_assert_str_eq(out, "200");
    assert_same(path("got"), path("www/pkg.bin"));
    char head[1024];
    head[load(path("head"), head, sizeof head - 1)] = '\0';
    ck_assert_msg(strncmp(head, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", host_show(head));
    ck_assert_ptr_null(strstr(head, "Content-Length"));
    ck_assert_ptr_null(strstr(head, "Transfer-Encoding"));
    serve_stop(&s);
}
END_TEST

START_TEST(fault_drip)
{
    struct served s;
    SERVE(&s, "--fault", "drip=1000/15");
    /* 20 drops 15 ms apart: about 300 ms, where an unpaced answer takes a few. */
    long t0 = scratch_now_ms();
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    long took = scratch_now_ms() - t0;
    ck_assert_str_eq(out, "200 20000");
    assert_same(path("got"), path("www/small.bin"));
    ck_assert_int_ge(took, 270);
    /* The drops arrive one by one. */
    int fd = raw_connect(&s);
    raw_send(fd, "GET /small.bin HTTP/1.1\r\n\r\n", 27);
    char resp[SMALL_SIZE + 1024];
    int reads = 0;
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, resp + n, sizeof resp - n)) > 0) {
        ck_assert_int_le(r, 1000 + 200);
        n += (size_t)r;
        reads++;
    }
    close(fd);
    ck_assert_int_ge(reads, 20);
    serve_stop(&s);
}
END_TEST

/* Reads a response, counting the reads it took to get the whole header. */
static int reads_for_head(const struct served *s)
{
    int fd = raw_connect(s);
    raw_send(fd, "GET /small.bin HTTP/1.1\r\n\r\n", 27);
    char resp[SMALL_SIZE + 1024];
    size_t n = 0;
    int reads = 0;
    while (n + 1 < sizeof resp) {
        ssize_t r = read(fd, resp + n, sizeof resp - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
        resp[n] = '\0';
        reads++;
        if (strstr(resp, "\r\n\r\n"))
            break;
    }
    close(fd);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", host_show(resp));
    return reads;
}

START_TEST(fault_split)
{
    struct served s;
    SERVE(&s, "--fault", "split");
    ck_assert_int_ge(reads_for_head(&s), 10);
    ck_assert_int_eq(GET(&s, "pkg.bin"), 0);
    ck_assert_str_eq(out, "200 300000");
    assert_same(path("got"), path("www/pkg.bin"));
    serve_stop(&s);
    /* Without the fault, the header comes whole: the count above means something. */
    SERVE(&s, "--port", "0");
    ck_assert_int_eq(reads_for_head(&s), 1);
    serve_stop(&s);
}
END_TEST

/* garbage: an answer that is not HTTP (curl gives up on it), then the close;
 * only for the path it names. */
START_TEST(fault_garbage)
{
    struct served s;
    SERVE(&s, "--fault", "garbage@/pkg.bin");
    int fd = raw_connect(&s);
    static const char req[] = "GET /pkg.bin HTTP/1.1\r\n\r\n";
    raw_send(fd, req, sizeof req - 1);
    char resp[4096];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof resp && (r = read(fd, resp + n, sizeof resp - n - 1)) > 0)
        n += (size_t)r;
    close(fd);
    resp[n] = '\0';
    ck_assert_msg(n > 0 && n < 100 && strncmp(resp, "HTTP/", 5) != 0, "%s", host_show(resp));
    ck_assert_int_ne(GET(&s, "pkg.bin"), 0);
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_str_eq(out, "200 20000");
    serve_stop(&s);
}
END_TEST

/* ---- Unruly clients --------------------------------------------------------------- */

START_TEST(garbage_requests)
{
    struct served s;
    SERVE(&s, "--port", "0");
    static const char binary[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\xff\r\n\r\n";
    static const char *const reqs[] = {
        "GARBAGE\r\n\r\n",
        "GET /pkg.bin HTTP/9.9\r\n\r\n",
        "GET /pkg.bin HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET /pkg.bin HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        binary,
    };
    char resp[4096];
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        size_t len = reqs[i] == binary ? sizeof binary - 1 : strlen(reqs[i]);
        raw_exchange(&s, reqs[i], len, resp, sizeof resp);
        ck_assert_msg(strncmp(resp, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%zu: '%s'", i,
                      host_show(resp));
    }
    /* Headers without end: refused once they pass 16 KiB. */
    int fd = raw_connect(&s);
    raw_send(fd, "GET /pkg.bin HTTP/1.1\r\n", 23);
    char filler[1024];
    memset(filler, 'a', sizeof filler);
    memcpy(filler, "X-Pad: ", 7);
    memcpy(filler + sizeof filler - 2, "\r\n", 2);
    for (int k = 0; k < 20; k++)
        send(fd, filler, sizeof filler, MSG_NOSIGNAL);
    host_read_fd(fd, resp, sizeof resp, 5000, NULL);
    close(fd);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 431 ", 13) == 0, "%s", host_show(resp));
    /* Clients that connect and leave, with or without half a request. */
    close(raw_connect(&s));
    fd = raw_connect(&s);
    raw_send(fd, "GET /pkg", 8);
    close(fd);
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_str_eq(out, "200 20000");
    serve_stop(&s);
}
END_TEST

/* Sends data in pieces of the sizes given (0 ends the list: the rest goes
 * last), each one acknowledged by the peer before the next leaves, so that
 * they reach the server as separate reads as far as TCP lets us. */
static void send_pieces(int fd, const char *data, size_t n, const size_t *pieces)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t off = 0, k = 0; off < n; k++) {
        size_t len = pieces[k] && pieces[k] < n - off ? pieces[k] : n - off;
        raw_send(fd, data + off, len);
        off += len;
        for (int polls = 0; polls < 2000; polls++) {
            int unacked = 0;
            if (ioctl(fd, SIOCOUTQ, &unacked) != 0 || unacked == 0)
                break;
            usleep(500);
        }
    }
}

START_TEST(request_in_one_byte_writes)
{
    struct served s;
    SERVE(&s, "--port", "0");
    int fd = raw_connect(&s);
    const char req[] = "GET /small.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n";
    size_t ones[sizeof req];
    for (size_t i = 0; i < sizeof req; i++)
        ones[i] = 1; /* each byte a segment of its own, acknowledged before the next */
    send_pieces(fd, req, sizeof req - 1, ones);
    static char resp[SMALL_SIZE + 1024];
    size_t n = raw_read_all(fd, resp, sizeof resp, 5000);
    close(fd);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", host_show(resp));
    const char *body = body_of(resp);
    ck_assert_uint_eq(n - (size_t)(body - resp), SMALL_SIZE);
    FILE *f = fopen(path("got"), "wb");
    fwrite(body, 1, SMALL_SIZE, f);
    fclose(f);
    assert_same(path("got"), path("www/small.bin"));
    serve_stop(&s);
}
END_TEST

START_TEST(many_clients_at_once)
{
    struct served s;
    SERVE(&s, "--fault", "drip=5000/5@/small.bin");
    enum { N = 40 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(&s);
        raw_send(fds[i], "GET /small.bin HTTP/1.1\r\n\r\n", 27);
    }
    /* While they drip, a half-closed client and a plain GET are served too. */
    int half = raw_connect(&s);
    raw_send(half, "HEAD /pkg.bin HTTP/1.0\r\n\r\n", 26);
    shutdown(half, SHUT_WR);
    ck_assert_int_eq(GET(&s, "pkg.bin"), 0);
    ck_assert_str_eq(out, "200 300000");
    static char resp[SMALL_SIZE + 1024];
    raw_read_all(half, resp, sizeof resp, 5000);
    close(half);
    ck_assert_ptr_nonnull(strstr(resp, "Content-Length: 300000\r\n"));
    for (int i = 0; i < N; i++) {
        size_t n = raw_read_all(fds[i], resp, sizeof resp, 5000);
        close(fds[i]);
        ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%d: %s", i, host_show(resp));
        ck_assert_uint_eq(n - (size_t)(body_of(resp) - resp), SMALL_SIZE);
    }
    serve_stop(&s);
}
END_TEST

START_TEST(clients_vanish_mid_response)
{
    /* Larger than every socket buffer on the way, so the server is still
     * writing when each client leaves. */
    write_file("www/big.bin", 16 << 20, 5);
    struct served s;
    SERVE(&s, "--port", "0");
    for (int i = 0; i < 5; i++) {
        int fd = raw_connect(&s);
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        raw_send(fd, "GET /big.bin HTTP/1.1\r\n\r\n", 25);
        char buf[8192];
        host_read_fd(fd, buf, sizeof buf, 2000, NULL);
        if (i % 2) { /* leave with a reset, or with a FIN */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
    }
    ck_assert_int_eq(GET(&s, "pkg.bin"), 0);
    ck_assert_str_eq(out, "200 300000");
    serve_stop(&s); /* and exits 0: no SIGPIPE on the way */
}
END_TEST

/* ---- Limits ------------------------------------------------------------------------ */

#define HEAD_MAX 16384

/* A GET of small.bin whose head (request line, headers, blank line) is
 * exactly size bytes. */
static void padded_request(char *buf, size_t size)
{
    const char *start = "GET /small.bin HTTP/1.1\r\nX-Pad: ";
    size_t n = strlen(start);
    memcpy(buf, start, n);
    memset(buf + n, 'a', size - n - 4);
    memcpy(buf + size - 4, "\r\n\r\n", 4);
}

START_TEST(request_head_limit)
{
    struct served s;
    SERVE(&s, "--port", "0");
    static const size_t splits[][6] = {
        {0},                         /* one write */
        {HEAD_MAX, 0},               /* the limit, then the rest */
        {HEAD_MAX - 1, 0},           /* one short of it, then the rest */
        {4096, 4096, 4096, 4096, 0}, /* the server's read size */
        {1, 0},                      /* one byte, then everything */
        {9000, 7000, 0},
    };
    static char req[HEAD_MAX + 2], resp[SMALL_SIZE + 1024];
    for (size_t extra = 0; extra < 2; extra++) {
        size_t size = HEAD_MAX + extra;
        padded_request(req, size);
        for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
            int fd = raw_connect(&s);
            send_pieces(fd, req, size, splits[k]);
            size_t n;
            ck_assert_msg(read_to_close(fd, resp, sizeof resp, 5000, &n), "no close");
            close(fd);
            if (extra == 0) {
                ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0,
                              "%zu bytes, split %zu: %s", size, k, host_show(resp));
                ck_assert_uint_eq(n - (size_t)(body_of(resp) - resp), SMALL_SIZE);
            } else {
                ck_assert_msg(strncmp(resp, "HTTP/1.1 431 ", 13) == 0, "%zu bytes, split %zu: %s",
                              size, k, host_show(resp));
            }
        }
    }
    /* Targets: 3072 bytes as sent, 1023 once decoded; longer ones are 414. */
    static char target[4096 + 64];
    for (int t = 0; t < 2; t++) {
        size_t len = t == 0 ? 1100 : 3100; /* "/aaa…" vs "/%61%61…" */
        int n = snprintf(target, sizeof target, "GET /");
        for (size_t i = 0; (size_t)n < len; i++)
            n += snprintf(target + n, sizeof target - (size_t)n, t == 0 ? "a" : "%%61");
        n += snprintf(target + n, sizeof target - (size_t)n, " HTTP/1.1\r\n\r\n");
        raw_exchange(&s, target, (size_t)n, resp, sizeof resp);
        ck_assert_msg(strncmp(resp, "HTTP/1.1 414 URI Too Long\r\n", 27) == 0, "%d: %s", t,
                      host_show(resp));
    }
    serve_stop(&s);
}
END_TEST

START_TEST(request_timeout)
{
    struct served s;
    SERVE(&s, "--timeout", "300", "--log", path("log"), "--fault", "stall=1000@/pkg.bin");
    char resp[4096];
    /* Silent, and stopped half-way: each gets 408 once its time is up, then the close. */
    int silent = raw_connect(&s);
    int half = raw_connect(&s);
    raw_send(half, "GET /small.bin HTTP/1.1\r\nHost: x\r\n", 34);
    long t0 = scratch_now_ms();
    int fds[] = {silent, half};
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(read_to_close(fds[i], resp, sizeof resp, 5000, NULL), "%d still open", i);
        ck_assert_msg(strncmp(resp, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0, "%d: %s", i,
                      host_show(resp));
        close(fds[i]);
    }
    ck_assert_int_ge(scratch_now_ms() - t0, 250);
    /* The time runs from the connection, not from the last byte: a client
     * sending one byte every 50 ms is cut off all the same. */
    const char dribble[] = "GET /small.bin HTTP/1.1\r\nUser-Agent: one byte at a time\r\n\r\n";
    int fd = raw_connect(&s);
    bool answered = false;
    for (size_t i = 0; i < 40 && !answered; i++) { /* 40 bytes: the head never ends */
        send(fd, dribble + i, 1, MSG_NOSIGNAL);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        answered = poll(&pfd, 1, 50) == 1;
    }
    ck_assert_msg(answered, "no answer after 40 bytes in 2 s");
    ck_assert(read_to_close(fd, resp, sizeof resp, 5000, NULL));
    close(fd);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 408 ", 13) == 0, "%s", host_show(resp));
    /* The time is for the request: a response the stall fault holds stays open. */
    fd = raw_connect(&s);
    raw_send(fd, "GET /pkg.bin HTTP/1.1\r\n\r\n", 25);
    static char stalled[8192];
    size_t n;
    ck_assert_msg(!read_to_close(fd, stalled, sizeof stalled, 1200, &n), "the stall was cut");
    ck_assert_uint_eq(n - (size_t)(body_of(stalled) - stalled), 1000);
    close(fd);
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_str_eq(out, "200 20000");
    serve_stop(&s);
    char log[4096];
    log[load(path("log"), log, sizeof log - 1)] = '\0';
    ck_assert_msg(strstr(log, " 127.0.0.1:") && strstr(log, " - - 408 20 -\n"), "%s", log);
}
END_TEST

START_TEST(http09_request_line)
{
    struct served s;
    SERVE(&s, "--timeout", "30000");
    /* No version: HTTP/0.9 has no headers to wait for, so 400 at once
     * (well before the 30 s the client would otherwise have). */
    static const char *const lines[] = {"GET /small.bin\r\n", "GET /small.bin\n"};
    char resp[4096];
    for (int i = 0; i < 2; i++) {
        int fd = raw_connect(&s);
        raw_send(fd, lines[i], strlen(lines[i]));
        ck_assert_msg(read_to_close(fd, resp, sizeof resp, 5000, NULL), "%d: no answer", i);
        close(fd);
        ck_assert_msg(strncmp(resp, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%d: %s", i,
                      host_show(resp));
    }
    serve_stop(&s);
    /* Without its end of line, nothing tells it from a slow client: the timeout answers. */
    SERVE(&s, "--timeout", "200");
    int fd = raw_connect(&s);
    raw_send(fd, "GET /small.bin", 14);
    ck_assert_msg(read_to_close(fd, resp, sizeof resp, 5000, NULL), "no answer");
    close(fd);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 408 ", 13) == 0, "%s", host_show(resp));
    serve_stop(&s);
}
END_TEST

START_TEST(connection_bound)
{
    struct served s;
    SERVE(&s, "--max-connections", "4");
    /* Five that say nothing: the fifth makes the oldest give way. */
    int idle[5];
    for (int i = 0; i < 5; i++)
        idle[i] = raw_connect(&s);
    char resp[SMALL_SIZE + 1024];
    ck_assert_msg(read_to_close(idle[0], resp, sizeof resp, 5000, NULL), "the oldest stays");
    ck_assert_msg(strncmp(resp, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s",
                  host_show(resp));
    /* A real client gets its file, at the expense of the next oldest. */
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_str_eq(out, "200 20000");
    ck_assert(read_to_close(idle[1], resp, sizeof resp, 5000, NULL));
    ck_assert_int_eq(strncmp(resp, "HTTP/1.1 503 ", 13), 0);
    /* The ones that were not pushed out still work. */
    size_t n;
    raw_send(idle[4], "GET /small.bin HTTP/1.1\r\n\r\n", 27);
    ck_assert(read_to_close(idle[4], resp, sizeof resp, 5000, &n));
    ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", host_show(resp));
    ck_assert_uint_eq(n - (size_t)(body_of(resp) - resp), SMALL_SIZE);
    for (int i = 0; i < 5; i++)
        close(idle[i]);
    serve_stop(&s);

    /* When every connection is answering, a new one waits for one to end. */
    SERVE(&s, "--max-connections", "2", "--fault", "stall=100@/pkg.bin");
    int busy[2];
    for (int i = 0; i < 2; i++) {
        busy[i] = raw_connect(&s);
        raw_send(busy[i], "GET /pkg.bin HTTP/1.1\r\n\r\n", 25);
        host_read_fd(busy[i], resp, sizeof resp, 5000, "\r\n\r\n");
        ck_assert_int_eq(strncmp(resp, "HTTP/1.1 200 ", 13), 0);
    }
    int next = raw_connect(&s);
    raw_send(next, "GET /small.bin HTTP/1.1\r\n\r\n", 27);
    ck_assert_uint_eq(host_read_fd(next, resp, sizeof resp, 300, NULL), 0);
    close(busy[0]);
    ck_assert(read_to_close(next, resp, sizeof resp, 5000, &n));
    ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", host_show(resp));
    ck_assert_uint_eq(n - (size_t)(body_of(resp) - resp), SMALL_SIZE);
    close(next);
    close(busy[1]);
    serve_stop(&s);
}
END_TEST

static void make_link(const char *target, const char *name)
{
    ck_assert_msg(symlink(target, path(name)) == 0, "%s: %s", name, strerror(errno));
}

START_TEST(symbolic_links)
{
    char abs_target[300];
    snprintf(abs_target, sizeof abs_target, "%s", path("www/small.bin"));
    make_link("sub/deep.bin", "www/inside.bin");
    make_link("../small.bin", "www/sub/up.bin");
    make_link("../inside.bin", "www/sub/chain.bin"); /* a link to a link */
    make_link("sub", "www/subdir");
    make_link("../secret", "www/out.bin");
    make_link("/etc/passwd", "www/passwd");
    make_link(abs_target, "www/abs.bin"); /* absolute, even into DIR */
    make_link("..", "www/parent");
    make_link("loop", "www/loop");
    make_link("nowhere", "www/dangling");
    static const struct {
        const char *name, *code;
    } cases[] = {
        {"inside.bin", "200 100"},
        {"sub/up.bin", "200 20000"},
        {"sub/chain.bin", "200 100"},
        {"subdir/deep.bin", "200 100"},
        {"out.bin", "403 14"},
        {"passwd", "403 14"},
        {"abs.bin", "403 14"},
        {"parent/secret", "403 14"},
        {"parent/www/small.bin", "403 14"},
        {"loop", "404 14"},
        {"dangling", "404 14"},
        {"inside.bin/", "404 14"},
    };
    struct served s;
    SERVE(&s, "--port", "0");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        GET(&s, cases[i].name);
        ck_assert_msg(strcmp(out, cases[i].code) == 0, "/%s: %s, expected %s", cases[i].name, out,
                      cases[i].code);
    }
    ck_assert_int_eq(GET(&s, "sub/up.bin"), 0);
    assert_same(path("got"), path("www/small.bin"));
    serve_stop(&s);
    /* Allowed on request. */
    SERVE(&s, "--follow-symlinks");
    ck_assert_int_eq(GET(&s, "out.bin"), 0);
    ck_assert_str_eq(out, "200 10");
    assert_same(path("got"), path("secret"));
    ck_assert_int_eq(GET(&s, "parent/secret"), 0);
    ck_assert_str_eq(out, "200 10");
    serve_stop(&s);

    /* The walk used where the kernel has no openat2 agrees with openat2. */
    static const char *const paths[] = {
        "small.bin",
        "inside.bin",
        "sub/up.bin",
        "sub/chain.bin",
        "subdir/deep.bin",
        "out.bin",
        "passwd",
        "abs.bin",
        "parent/secret",
        "parent/www/small.bin",
        "loop",
        "dangling",
        "inside.bin/",
        "subdir/../small.bin",
        "sub/../../secret",
        "./sub//deep.bin",
        ".",
        "subdir/",
        "",
        "/etc/passwd",
        "missing/x",
        "small.bin/x",
        "..",
    };
    int root = open(path("www"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(root, 0);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int a = beneath_open(root, paths[i], O_RDONLY | O_CLOEXEC);
        int b = beneath_open_walk(root, paths[i], O_RDONLY | O_CLOEXEC);
        if (a >= 0 && b >= 0) {
            struct stat sa, sb;
            ck_assert_int_eq(fstat(a, &sa), 0);
            ck_assert_int_eq(fstat(b, &sb), 0);
            ck_assert_msg(sa.st_ino == sb.st_ino, "'%s': different files", paths[i]);
        } else {
            ck_assert_msg(a == b, "'%s': openat2 %s, walk %s", paths[i],
                          a < 0 ? strerror(-a) : "opens", b < 0 ? strerror(-b) : "opens");
        }
        if (a >= 0)
            close(a);
        if (b >= 0)
            close(b);
    }
    close(root);
}
END_TEST

/* CPU time the process has used, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
    char name[64], stat[1024];
    snprintf(name, sizeof name, "/proc/%d/stat", (int)pid);
    stat[load(name, stat, sizeof stat - 1)] = '\0';
    const char *p = strrchr(stat, ')'); /* the command name may hold anything */
    long utime = 0, stime = 0;
    ck_assert_int_eq(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime), 2);
    return utime + stime;
}

START_TEST(low_file_limit)
{
    /* The server inherits a limit of 48 descriptors: far fewer than the
     * connections about to come (the test's own limit comes back at once). */
    struct rlimit saved, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = 48;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct served s;
    SERVE(&s, "--timeout", "1500");
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    enum { N = 90 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = raw_connect(&s);
    /* Those it could take get 408 in time; the others were closed at once. */
    long t0 = scratch_now_ms(), cpu0 = cpu_ticks(s.pid);
    int timed_out = 0, dropped = 0;
    for (int i = 0; i < N; i++) {
        char resp[4096];
        long left = 10000 - (scratch_now_ms() - t0);
        ck_assert_msg(read_to_close(fds[i], resp, sizeof resp, left > 0 ? (int)left : 1, NULL),
                      "connection %d still open after 10 s", i);
        close(fds[i]);
        if (strncmp(resp, "HTTP/1.1 408 ", 13) == 0)
            timed_out++;
        else if (resp[0] == '\0')
            dropped++;
        else
            ck_abort_msg("connection %d: %s", i, host_show(resp));
    }
    long wall = scratch_now_ms() - t0, cpu = cpu_ticks(s.pid) - cpu0;
    ck_assert_int_gt(timed_out, 0);
    ck_assert_int_gt(dropped, 0); /* the limit was reached */
    /* Out of descriptors, the server waited rather than spun. */
    ck_assert_msg(cpu * 1000 / sysconf(_SC_CLK_TCK) < wall / 4, "%ld ticks in %ld ms", cpu, wall);
    /* And is not locked up: the next client is served. */
    ck_assert_int_eq(GET(&s, "small.bin"), 0);
    ck_assert_str_eq(out, "200 20000");
    serve_stop(&s);
}
END_TEST

Suite *serve_suite(void)
{
    Suite *s = suite_create("serve");
    TCase *tc = tcase_create("serve");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60); /* valgrind; each takes well under 2 s natively */
    tcase_add_test(tc, serves_files);
    tcase_add_test(tc, refuses_what_is_not_a_file);
    tcase_add_test(tc, command_line);
    tcase_add_test(tc, ipv6_loopback);
    tcase_add_test(tc, request_log);
    tcase_add_test(tc, fault_status);
    tcase_add_test(tc, fault_reset);
    tcase_add_test(tc, fault_close);
    tcase_add_test(tc, fault_stall);
    tcase_add_test(tc, fault_length_longer);
    tcase_add_test(tc, fault_length_shorter);
    tcase_add_test(tc, fault_chunked);
    tcase_add_test(tc, fault_noclen);
    tcase_add_test(tc, fault_drip);
    tcase_add_test(tc, fault_split);
    tcase_add_test(tc, fault_garbage);
    tcase_add_test(tc, garbage_requests);
    tcase_add_test(tc, request_in_one_byte_writes);
    tcase_add_test(tc, many_clients_at_once);
    tcase_add_test(tc, clients_vanish_mid_response);
    tcase_add_test(tc, request_head_limit);
    tcase_add_test(tc, request_timeout);
    tcase_add_test(tc, http09_request_line);
    tcase_add_test(tc, connection_bound);
    tcase_add_test(tc, symbolic_links);
    tcase_add_test(tc, low_file_limit);
    suite_add_tcase(s, tc);
    return s;
}
