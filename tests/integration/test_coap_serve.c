/* bcsim serve over CoAP as a downloader meets it: the real binary with
 * --coap-port 0, libcoap's own coap-client-notls as the client, the
 * server's --log for what the client cannot tell apart. coap-client exits 0
 * on errors and truncated transfers: the bytes it wrote, its output and the
 * log are what the tests look at, never its exit status. */
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PKG_SIZE   20000 /* 313 blocks of 64, 20 of 1024 */
#define SMALL_SIZE 2500  /* 3 blocks of 1024: retransmissions cost seconds each */
#define TINY_SIZE  300   /* under the default block size */

static char dir[] = "/tmp/bcsim-coap-serve-XXXXXX";
static char out[1 << 16];
static char logbuf[1 << 18];

struct coap_served {
    struct bcsim_proc proc;
    int http_port, port;
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
    scratch_make(dir, sizeof dir, "coap-serve");
    ck_assert_int_eq(mkdir(path("www"), 0755), 0);
    ck_assert_int_eq(mkdir(path("www/sub"), 0755), 0);
    write_file("www/pkg.bin", PKG_SIZE, 1);
    write_file("www/small.bin", SMALL_SIZE, 2);
    write_file("www/tiny.bin", TINY_SIZE, 3);
    write_file("www/sub/deep.bin", 100, 4);
    write_file("secret", 10, 5); /* beside the root: never served */
    ck_assert_int_eq(symlink("../secret", path("www/escape")), 0);
    ck_assert_int_eq(symlink("sub/deep.bin", path("www/inside")), 0);
}

static void teardown(void)
{
    scratch_remove(dir);
}

/* ---- The server ------------------------------------------------------------------ */

/* `bcsim serve DIR/www --port 0 --coap-port 0 --log DIR/log` plus extra. */
static void serve(struct coap_served *s, const char *const *extra)
{
    const char *argv[40] = {"--log", path("log")};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    s->http_port = bcsim_serve_coap(&s->proc, path("www"), argv, &s->port);
}

#define SERVE(s, ...) serve(s, (const char *[]){__VA_ARGS__, NULL})

/* SIGTERM: the server exits 0 promptly, stalled clients or not. */
static void serve_stop(struct coap_served *s)
{
    ck_assert_int_eq(bcsim_halt(&s->proc), 0);
}

static const char *read_log(void)
{
    FILE *f = fopen(path("log"), "rb");
    logbuf[0] = '\0';
    if (f) {
        size_t n = fread(logbuf, 1, sizeof logbuf - 1, f);
        logbuf[n] = '\0';
        fclose(f);
    }
    return logbuf;
}

/* The end of the log, for messages. */
static const char *log_tail(void)
{
    size_t n = strlen(logbuf);
    return n > 1500 ? logbuf + n - 1500 : logbuf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The log, a bounded wait, has `text` (the server writes it as it answers). */
static bool log_wait(const char *text)
{
    long end = scratch_now_ms() + HOST_TIMEOUT_MS;
    for (int i = 0; i < 5000 && scratch_now_ms() < end; i++) {
        if (strstr(read_log(), text))
            return true;
        usleep(2000); /* between polls of the condition, not instead of it */
    }
    return strstr(read_log(), text) != NULL;
}

/* ---- The client -------------------------------------------------------------------- */

/* The end of the client's output, for messages (Check bounds their size). */
static const char *said(void)
{
    size_t n = strlen(out);
    return host_show(n > 1500 ? out + n - 1500 : out);
}

/* coap-client-notls with the arguments, stdout and stderr together in out,
 * at most wait_s seconds of its own (-B) plus a margin. */
static void coap_client(const char *const *args, int wait_s)
{
    char wait[16];
    snprintf(wait, sizeof wait, "%d", wait_s);
    const char *argv[40] = {"coap-client-notls", "-B", wait};
    int n = 3;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    host_read_fd(fds[0], out, sizeof out, (wait_s + 5) * 1000, NULL);
    close(fds[0]);
    int status = host_wait_pid(pid, 5000);
    if (status < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ck_assert_msg(status >= 0, "coap-client outstayed -B %d: '%s'", wait_s, said());
    ck_assert_msg(status != 127, "coap-client-notls is not installed");
}

static const char *uri(const struct coap_served *s, const char *p)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "coap://127.0.0.1:%d%s", s->port, p);
    return buf[k];
}

/* GET of p into DIR/got (removed first) at block size `block` (0: none asked). */
static void get(const struct coap_served *s, const char *p, int block, int wait_s)
{
    char b[16];
    snprintf(b, sizeof b, "%d", block);
    unlink(path("got"));
    if (block)
        coap_client((const char *[]){"-m", "get", "-b", b, "-o", path("got"), uri(s, p), NULL},
                    wait_s);
    else
        coap_client((const char *[]){"-m", "get", "-o", path("got"), uri(s, p), NULL}, wait_s);
}

static size_t load(const char *p, char *buf, size_t size)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0; /* coap-client writes no file when nothing came */
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

/* DIR/got holds exactly the first n bytes of the file served. */
static void assert_got_prefix(const char *served, size_t n)
{
    static char a[PKG_SIZE + 1], b[PKG_SIZE + 1];
    size_t na = load(path("got"), a, sizeof a), nb = load(path(served), b, sizeof b);
    ck_assert_msg(na == n, "got %zu bytes of %s, expected %zu; client said '%s'", na, served, n,
                  said());
    ck_assert_uint_ge(nb, n);
    ck_assert_msg(memcmp(a, b, n) == 0, "got differs from the first %zu bytes of %s", n, served);
}

static void assert_got(const char *served, size_t size)
{
    assert_got_prefix(served, size);
}

/* ---- Serving ------------------------------------------------------------------------ */

/* A file fetched whole at three block sizes, byte for byte, each block of
 * the size asked (the log says which), and HTTP beside it unchanged. */
START_TEST(whole_file_at_block_sizes)
{
    struct coap_served s;
    SERVE(&s, NULL);
    static const int sizes[] = {64, 256, 1024};
    for (int i = 0; i < 3; i++) {
        get(&s, "/pkg.bin", sizes[i], 10);
        assert_got("www/pkg.bin", PKG_SIZE);
        char last[64];
        snprintf(last, sizeof last, "GET /pkg.bin 2.05 %d/%d -\n", (PKG_SIZE - 1) / sizes[i],
                 sizes[i]);
        ck_assert_msg(log_wait(last), "no '%s' in the log:\n%s", last, log_tail());
    }
    /* One line per block request: 313 + 79 + 20. */
    ck_assert_int_eq(count(read_log(), "GET /pkg.bin 2.05 "), 313 + 79 + 20);
    serve_stop(&s);
}
END_TEST

/* What the block-0 answer carries (coap-client -v 7 prints each PDU):
 * ETag, Content-Format 42, Block2 and Size2, in every block. */
START_TEST(block_options)
{
    struct coap_served s;
    SERVE(&s, NULL);
    unlink(path("got"));
    coap_client((const char *[]){"-v", "7", "-m", "get", "-b", "1024", "-o", path("got"),
                                 uri(&s, "/small.bin"), NULL},
                10);
    assert_got("www/small.bin", SMALL_SIZE);
    const char *first = strstr(out, "c:2.05");
    ck_assert_msg(first, "no 2.05 in '%s'", out);
    ck_assert_ptr_nonnull(strstr(first, "ETag:0x"));
    ck_assert_ptr_nonnull(strstr(first, "Content-Format:application/octet-stream"));
    ck_assert_ptr_nonnull(strstr(first, "Block2:0/M/1024"));
    ck_assert_ptr_nonnull(strstr(first, "Size2:2500"));
    ck_assert_ptr_nonnull(strstr(out, "Block2:2/_/1024"));
    /* coap-client -v 7 may print a PDU twice: at least one per block. */
    ck_assert_int_ge(count(out, "c:2.05"), 3);
    ck_assert_int_eq(count(out, "c:2.05"), count(out, "Size2:2500 ]"));
    serve_stop(&s);
}
END_TEST

/* No Block2 asked: blocks of 512 for a larger file, the file alone (no
 * Block2) for a smaller one. */
START_TEST(default_block_size)
{
    struct coap_served s;
    SERVE(&s, NULL);
    get(&s, "/small.bin", 0, 10);
    assert_got("www/small.bin", SMALL_SIZE);
    ck_assert_msg(log_wait("GET /small.bin 2.05 0/512 -\n"), "%s", log_tail());
    ck_assert_msg(log_wait("GET /small.bin 2.05 4/512 -\n"), "%s", log_tail());
    get(&s, "/tiny.bin", 0, 10);
    assert_got("www/tiny.bin", TINY_SIZE);
    ck_assert_msg(log_wait("GET /tiny.bin 2.05 - -\n"), "%s", log_tail());
    get(&s, "/sub/deep.bin", 16, 10);
    assert_got("www/sub/deep.bin", 100);
    serve_stop(&s);
}
END_TEST

START_TEST(not_found)
{
    struct coap_served s;
    SERVE(&s, NULL);
    get(&s, "/nope.bin", 256, 10);
    ck_assert_msg(strstr(out, "4.04"), "client said '%s'", said());
    assert_got("www/pkg.bin", 0);
    get(&s, "/sub", 256, 10); /* a directory is not a file */
    ck_assert_msg(strstr(out, "4.04"), "client said '%s'", said());
    ck_assert_msg(log_wait("GET /nope.bin 4.04 - -\n"), "%s", log_tail());
    ck_assert_msg(log_wait("GET /sub 4.04 - -\n"), "%s", log_tail());
    serve_stop(&s);
}
END_TEST

/* Beneath the root only: a link out is 4.03, ".." (sent as a segment) is
 * 4.00, a link that stays inside is served; --follow-symlinks follows all. */
START_TEST(outside_the_root)
{
    struct coap_served s;
    SERVE(&s, NULL);
    get(&s, "/escape", 256, 10);
    ck_assert_msg(strstr(out, "4.03"), "client said '%s'", said());
    ck_assert_msg(log_wait("GET /escape 4.03 - -\n"), "%s", log_tail());
    get(&s, "/%2e%2e/secret", 256, 10);
    ck_assert_msg(strstr(out, "4.00"), "client said '%s'", said());
    ck_assert_msg(log_wait("GET /../secret 4.00 - -\n"), "%s", log_tail());
    get(&s, "/sub%2fdeep.bin", 256, 10); /* one segment holding '/' */
    ck_assert_msg(strstr(out, "4.00"), "client said '%s'", said());
    ck_assert_msg(log_wait("GET /sub/deep.bin 4.00 - -\n"), "%s", log_tail());
    assert_got("www/pkg.bin", 0);
    get(&s, "/inside", 256, 10);
    assert_got("www/sub/deep.bin", 100);
    serve_stop(&s);

    SERVE(&s, "--follow-symlinks");
    get(&s, "/escape", 256, 10);
    assert_got("secret", 10);
    serve_stop(&s);
}
END_TEST

START_TEST(methods_other_than_get)
{
    struct coap_served s;
    SERVE(&s, NULL);
    static const char *const methods[] = {"put", "post", "delete"};
    for (int i = 0; i < 3; i++) {
        coap_client((const char *[]){"-m", methods[i], "-e", "x", uri(&s, "/pkg.bin"), NULL}, 10);
        ck_assert_msg(strstr(out, "4.05"), "%s: client said '%s'", methods[i], said());
    }
    ck_assert_msg(log_wait("PUT /pkg.bin 4.05 - -\n"), "%s", log_tail());
    ck_assert_msg(log_wait("DELETE /pkg.bin 4.05 - -\n"), "%s", log_tail());
    /* The file is untouched. */
    get(&s, "/pkg.bin", 1024, 10);
    assert_got("www/pkg.bin", PKG_SIZE);
    serve_stop(&s);
}
END_TEST

/* ---- Faults ------------------------------------------------------------------------ */

/* code=: that code, whether or not the file exists; one path only with @. */
START_TEST(fault_code)
{
    struct coap_served s;
    SERVE(&s, "--coap-fault", "code=5.03@/pkg.bin", "--coap-fault", "code=4.29@/nope");
    get(&s, "/pkg.bin", 256, 10);
    ck_assert_msg(strstr(out, "5.03"), "client said '%s'", said());
    assert_got("www/pkg.bin", 0);
    get(&s, "/nope", 256, 10);
    ck_assert_msg(strstr(out, "4.29"), "client said '%s'", said());
    get(&s, "/small.bin", 256, 10);
    assert_got("www/small.bin", SMALL_SIZE);
    ck_assert_msg(log_wait("GET /pkg.bin 5.03 - code=5.03\n"), "%s", log_tail());
    ck_assert_msg(log_wait("GET /nope 4.29 - code=4.29\n"), "%s", log_tail());
    serve_stop(&s);
}
END_TEST

/* stall=3: blocks 0-2 come, then nothing: the client's retransmissions are
 * swallowed too (the request for block 3 reaches the handler once). */
START_TEST(fault_stall)
{
    struct coap_served s;
    SERVE(&s, "--coap-fault", "stall=3");
    get(&s, "/pkg.bin", 256, 3);
    assert_got_prefix("www/pkg.bin", 3 * 256);
    const char *log = read_log();
    ck_assert_int_eq(count(log, "GET /pkg.bin 2.05 "), 3);
    ck_assert_int_eq(count(log, "GET /pkg.bin - 3/256 stall=3\n"), 1);
    serve_stop(&s); /* with the client's exchange left hanging */
}
END_TEST

/* drop=N: every Nth datagram of a client is lost, and the client's
 * retransmission recovers it. 3 blocks make 6 datagrams and one more pair
 * per loss: drop=4 loses the answers to blocks 1 and 2 (datagrams 4 and 8,
 * out), drop=3 the requests for them (3 and 6, in). */
START_TEST(fault_drop)
{
    struct coap_served s;
    SERVE(&s, "--coap-fault", "drop=4");
    get(&s, "/small.bin", 1024, 20);
    assert_got("www/small.bin", SMALL_SIZE);
    ck_assert_int_eq(count(read_log(), "GET /small.bin 2.05 0/1024 -\n"), 1);
    ck_assert_int_eq(count(logbuf, "GET /small.bin 2.05 1/1024 -\n"), 2);
    ck_assert_int_eq(count(logbuf, "GET /small.bin 2.05 2/1024 -\n"), 2);
    ck_assert_int_eq(count(logbuf, "DROP out "), 2);
    ck_assert_int_eq(count(logbuf, " drop=4\n"), 2);
    ck_assert_int_eq(count(logbuf, "DROP "), 2);
    serve_stop(&s);

    unlink(path("log"));
    SERVE(&s, "--coap-fault", "drop=3");
    get(&s, "/small.bin", 1024, 20);
    assert_got("www/small.bin", SMALL_SIZE);
    ck_assert_int_eq(count(read_log(), "GET /small.bin 2.05 1/1024 -\n"), 1);
    ck_assert_int_eq(count(logbuf, "GET /small.bin 2.05 2/1024 -\n"), 1);
    ck_assert_int_eq(count(logbuf, "DROP in "), 2);
    ck_assert_int_eq(count(logbuf, "DROP "), 2);
    serve_stop(&s);
}
END_TEST

/* block=SIZE: that size whatever the client asks, smaller or larger; the
 * client follows and still gets the file whole. */
START_TEST(fault_block)
{
    struct coap_served s;
    SERVE(&s, "--coap-fault", "block=128@/small.bin", "--coap-fault", "block=1024@/pkg.bin");
    get(&s, "/small.bin", 512, 10);
    assert_got("www/small.bin", SMALL_SIZE);
    ck_assert_msg(log_wait("GET /small.bin 2.05 0/128 block=128\n"), "%s", log_tail());
    ck_assert_msg(log_wait("GET /small.bin 2.05 19/128 block=128\n"), "%s", log_tail());
    get(&s, "/pkg.bin", 64, 10);
    assert_got("www/pkg.bin", PKG_SIZE);
    ck_assert_msg(log_wait("GET /pkg.bin 2.05 19/1024 block=1024\n"), "%s", log_tail());
    ck_assert_int_eq(count(logbuf, "GET /pkg.bin 2.05 "), 20);
    serve_stop(&s);
}
END_TEST

/* The ETag of the first 2.05 the client printed (-v 7) with this Block2. */
static void etag_of(const char *block, char etag[32])
{
    for (const char *line = out; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *code = memmem(line, len, "c:2.05", 6);
        const char *b = memmem(line, len, block, strlen(block));
        const char *e = memmem(line, len, "ETag:0x", 7);
        if (code && b && e) {
            snprintf(etag, 32, "%.*s", (int)strcspn(e, ",] \n"), e);
            return;
        }
    }
    ck_abort_msg("no 2.05 with %s: '%s'", block, said());
}

/* etag=2: from block 2 on another ETag, as if the file had changed; libcoap's
 * client sees it and starts over, and the new version stays new. */
START_TEST(fault_etag)
{
    struct coap_served s;
    SERVE(&s, "--coap-fault", "etag=2");
    unlink(path("got"));
    coap_client((const char *[]){"-v", "7", "-m", "get", "-b", "1024", "-o", path("got"),
                                 uri(&s, "/small.bin"), NULL},
                2);
    ck_assert_msg(strstr(out, "Data body updated during receipt"), "client said '%s'", said());
    /* The ETags the client saw: block 0's, then another from block 2 on. */
    char e0[32], e1[32], e2[32];
    etag_of("Block2:0/M/1024", e0);
    etag_of("Block2:1/M/1024", e1);
    etag_of("Block2:2/_/1024", e2);
    ck_assert_str_eq(e0, e1);
    ck_assert_str_ne(e0, e2);
    const char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "GET /small.bin 2.05 1/1024 -\n"));
    ck_assert_ptr_nonnull(strstr(log, "GET /small.bin 2.05 2/1024 etag=2\n"));
    ck_assert_ptr_nonnull(strstr(log, "GET /small.bin 2.05 0/1024 etag=2\n"));
    serve_stop(&s);
}
END_TEST

/* garbage=1: the answer to block 1 is a datagram that is not CoAP; libcoap's
 * client discards it as malformed and gets no further. */
START_TEST(fault_garbage)
{
    struct coap_served s;
    SERVE(&s, "--coap-fault", "garbage=1");
    get(&s, "/small.bin", 1024, 3);
    ck_assert_msg(strstr(out, "discard malformed PDU"), "client said '%s'", said());
    assert_got_prefix("www/small.bin", 1024);
    ck_assert_msg(log_wait("GET /small.bin - 1/1024 garbage=1\n"), "%s", log_tail());
    ck_assert_int_eq(count(logbuf, "GET /small.bin 2.05 1/1024"), 0);
    serve_stop(&s);
}
END_TEST

/* loss=P with --coap-seed: the seed is on the start line; loss=100 lets
 * nothing through, loss=0 everything. */
START_TEST(fault_loss)
{
    struct coap_served s;
    const char *argv[] = {"--log", path("log"), "--coap-fault", "loss=100", "--coap-seed",
                          "4242",  NULL};
    /* The start line with the seed, read here rather than by the helper. */
    s.http_port = bcsim_serve_coap(&s.proc, path("www"), argv, &s.port);
    get(&s, "/tiny.bin", 0, 2);
    assert_got("www/tiny.bin", 0);
    ck_assert_msg(log_wait("DROP in "), "%s", log_tail());
    ck_assert_ptr_null(strstr(logbuf, "GET "));
    ck_assert_ptr_nonnull(strstr(logbuf, " loss=100\n"));
    serve_stop(&s);

    SERVE(&s, "--coap-fault", "loss=0");
    get(&s, "/small.bin", 1024, 10);
    assert_got("www/small.bin", SMALL_SIZE);
    serve_stop(&s);
}
END_TEST

/* The seed is printed, given or drawn, on the coap line only when loss is on. */
START_TEST(start_lines)
{
    const char *const a[] = {BCSIM_BIN,      "serve",  path("www"),   "--coap-port", "0",
                             "--coap-fault", "loss=5", "--coap-seed", "4242",        NULL};
    int out_fd, err_fd;
    pid_t pid = host_spawn(a, &out_fd, &err_fd);
    host_read_fd(out_fd, out, sizeof out, HOST_TIMEOUT_MS, "(loss seed 4242)\n");
    char expect[512];
    int hp, cp;
    const char *second = strchr(out, '\n');
    ck_assert_msg(second && sscanf(out, "bcsim serve: http://127.0.0.1:%d/", &hp) == 1 &&
                      sscanf(second + 1, "bcsim serve: coap://127.0.0.1:%d/", &cp) == 1,
                  "printed '%s'", said());
    snprintf(expect, sizeof expect,
             "bcsim serve: http://127.0.0.1:%d/ from %s\nbcsim serve: coap://127.0.0.1:%d/ from %s "
             "(loss seed 4242)\n",
             hp, path("www"), cp, path("www"));
    ck_assert_str_eq(out, expect);
    kill(pid, SIGTERM);
    ck_assert_int_eq(host_wait_pid(pid, 10000), 0);
    close(out_fd);
    close(err_fd);

    /* Without loss, the lines the brief gives, nothing more; HTTP first. */
    struct coap_served s;
    SERVE(&s, NULL);
    ck_assert_int_gt(s.http_port, 0);
    ck_assert_int_ne(s.http_port, 0);
    serve_stop(&s);
}
END_TEST

/* Bad fault syntax and options CoAP needs: exit 2, one line, nothing served. */
START_TEST(bad_options)
{
    static const char *const faults[] = {
        "code=6.00", "code=4.4",  "code=4.32", "code=404",   "block=100", "block=2048",
        "drop=0",    "loss=101",  "drop=3@/x", "loss=5@/x",  "etag=0",    "bogus=1",
        "stall",     "garbage=x", "stall=3@x", "code=4.04@",
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        int rc = bcsim_run_once((const char *[]){"serve", path("www"), "--coap-port", "0",
                                                 "--coap-fault", faults[i], NULL},
                                out, sizeof out, 10000);
        ck_assert_msg(rc == 2, "%s: exit %d, '%s'", faults[i], rc, said());
        ck_assert_msg(strncmp(out, "bcsim serve: --coap-fault ", 26) == 0 &&
                          strchr(out, '\n') == out + strlen(out) - 1,
                      "%s: '%s'", faults[i], said());
    }
    const char *const *const others[] = {
        (const char *const[]){"--coap-fault", "stall=1", NULL},
        (const char *const[]){"--coap-seed", "1", NULL},
        (const char *const[]){"--coap-port", "65536", NULL},
        (const char *const[]){"--coap-port", "-1", NULL},
        (const char *const[]){"--coap-port", "0", "--coap-seed", "x", NULL},
        (const char *const[]){"--coap-port", NULL},
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        const char *argv[12] = {"serve", path("www")};
        int n = 2;
        for (int k = 0; others[i][k]; k++)
            argv[n++] = others[i][k];
        argv[n] = NULL;
        int rc = bcsim_run_once(argv, out, sizeof out, 10000);
        ck_assert_msg(rc == 2, "case %zu: exit %d, '%s'", i, rc, said());
        ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "case %zu: '%s'", i, said());
    }
}
END_TEST

/* Clients at once, each its own relay and session: all get the file. */
START_TEST(clients_at_once)
{
    struct coap_served s;
    SERVE(&s, NULL);
    enum { N = 6 };
    pid_t pids[N];
    char names[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "got%d", i);
        const char *const argv[] = {
            "coap-client-notls", "-B", "10", "-m", "get", "-b", "64", "-o", path(names[i]),
            uri(&s, "/pkg.bin"), NULL};
        int fd, efd;
        pids[i] = host_spawn(argv, &fd, &efd);
        close(fd);
        close(efd);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_ge(host_wait_pid(pids[i], 20000), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(rename(path(names[i]), path("got")), 0);
        assert_got("www/pkg.bin", PKG_SIZE);
    }
    serve_stop(&s);
}
END_TEST

/* ---- Raw datagrams ------------------------------------------------------------------- */

static int udp_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static void udp_send(const struct coap_served *s, int fd, const void *data, size_t n)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(sendto(fd, data, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
}

/* A confirmable GET of /tiny.bin without token, message ID mid. */
static size_t raw_get(unsigned mid, unsigned char *pdu)
{
    static const char name[] = "tiny.bin";
    pdu[0] = 0x40; /* version 1, CON, no token */
    pdu[1] = 0x01; /* GET */
    pdu[2] = (unsigned char)(mid >> 8);
    pdu[3] = (unsigned char)mid;
    pdu[4] = 0xb0 | (sizeof name - 1); /* Uri-Path (11), length 8 */
    memcpy(pdu + 5, name, sizeof name - 1);
    return 5 + sizeof name - 1;
}

/* The answer to raw_get(mid) is a piggybacked 2.05 with the file. Other
 * datagrams before it are skipped: libcoap resets (RST) what it cannot
 * parse, as RFC 7252 4.3 allows. */
static void expect_tiny(int fd, unsigned mid)
{
    unsigned char buf[2048];
    for (int i = 0; i < 8; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_msg(poll(&p, 1, HOST_TIMEOUT_MS) == 1, "no answer to message %u", mid);
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n >= 4 && buf[0] == 0x70 && buf[1] == 0)
            continue; /* an empty RST */
        ck_assert_int_gt(n, TINY_SIZE);
        ck_assert_int_eq(buf[0], 0x60); /* version 1, ACK, no token */
        ck_assert_int_eq(buf[1], 0x45); /* 2.05 */
        ck_assert_int_eq(buf[2] << 8 | buf[3], mid);
        return;
    }
    ck_abort_msg("only resets for message %u", mid);
}

/* Datagrams that are not CoAP, empty or as large as UDP allows change
 * nothing: the same client is served right after. */
START_TEST(client_garbage)
{
    struct coap_served s;
    SERVE(&s, NULL);
    int fd = udp_socket();
    static unsigned char big[65507];
    memset(big, 0xff, sizeof big);
    static const char junk[] = "\x00 not CoAP";
    udp_send(&s, fd, junk, sizeof junk - 1);
    udp_send(&s, fd, "", 0);
    udp_send(&s, fd, big, sizeof big);
    udp_send(&s, fd, "\x40\x01", 2); /* a header cut short */
    unsigned char pdu[32];
    udp_send(&s, fd, pdu, raw_get(0x1234, pdu));
    expect_tiny(fd, 0x1234);
    close(fd);
    serve_stop(&s);
}
END_TEST

/* More clients than the server keeps (256): the one silent for longest
 * makes room, and each new one is still answered. */
START_TEST(many_clients)
{
    struct coap_served s;
    SERVE(&s, NULL);
    enum { N = 300 };
    static int fds[N];
    unsigned char pdu[32];
    for (int i = 0; i < N; i++) {
        fds[i] = udp_socket();
        udp_send(&s, fds[i], pdu, raw_get((unsigned)i, pdu));
        expect_tiny(fds[i], (unsigned)i);
    }
    /* The first clients were forgotten: they are served as new ones. */
    udp_send(&s, fds[0], pdu, raw_get(7777, pdu));
    expect_tiny(fds[0], 7777);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    ck_assert_int_eq(count(read_log(), "GET /tiny.bin 2.05 - -\n"), N + 1);
    serve_stop(&s);
}
END_TEST

/* A UDP port that is taken: exit 3 with one line, and HTTP does not stay up. */
START_TEST(coap_port_in_use)
{
    int fd = udp_socket();
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    int rc = bcsim_run_once((const char *[]){"serve", path("www"), "--coap-port", port, NULL}, out,
                            sizeof out, 10000);
    close(fd);
    ck_assert_msg(rc == 3, "exit %d, '%s'", rc, said());
    ck_assert_msg(strstr(out, "cannot listen on 127.0.0.1 UDP port ") == out + 13 &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "'%s'", said());
}
END_TEST

Suite *coap_serve_suite(void)
{
    Suite *s = suite_create("coap_serve");
    TCase *tc = tcase_create("coap_serve");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, whole_file_at_block_sizes);
    tcase_add_test(tc, block_options);
    tcase_add_test(tc, default_block_size);
    tcase_add_test(tc, not_found);
    tcase_add_test(tc, outside_the_root);
    tcase_add_test(tc, methods_other_than_get);
    tcase_add_test(tc, fault_code);
    tcase_add_test(tc, fault_stall);
    tcase_add_test(tc, fault_drop);
    tcase_add_test(tc, fault_block);
    tcase_add_test(tc, fault_etag);
    tcase_add_test(tc, fault_garbage);
    tcase_add_test(tc, fault_loss);
    tcase_add_test(tc, start_lines);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, clients_at_once);
    tcase_add_test(tc, client_garbage);
    tcase_add_test(tc, many_clients);
    tcase_add_test(tc, coap_port_in_use);
    suite_add_tcase(s, tc);
    return s;
}
