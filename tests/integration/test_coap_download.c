/* The CoAP transport of the download interface (proto/coap_client.h), driven
 * through download_start() on a real loop, against libcoap's own
 * coap-server-notls (the package stored with coap-client-notls -m put) and
 * against responders this file owns: UDP sockets on 127.0.0.1, port 0, that
 * answer with CoAP bytes crafted here (silence, a non-CoAP datagram, another
 * ETag, a block out of sequence, another block size). */
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"
#include "proto/download.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG_SIZE (600 * 1024)

static uint8_t *expected; /* BIG_SIZE bytes of a fixed pattern */

/* ---- What one download did, as its owner sees it ------------------------------ */

struct seen {
    uv_loop_t *loop; /* stopped at every step, for run_until to look */
    int done_calls;
    enum dl_error err;
    int detail;
    int begins;
    int64_t length;
    size_t received;
    size_t max_chunk;
    int data_after_done; /* sink calls after done(): must stay 0 */
    size_t stop_at;      /* received reaching this stops the loop (0: never) */
    int refuse_data;     /* the sink's answer to data() once a block has come */
    uint8_t *body;       /* BIG_SIZE bytes */
};

static int sink_begin(void *ctx, int64_t length)
{
    struct seen *s = ctx;
    s->begins++;
    s->length = length;
    return 0;
}

static int sink_data(void *ctx, const uint8_t *p, size_t n)
{
    struct seen *s = ctx;
    if (s->done_calls)
        s->data_after_done++;
    if (s->refuse_data && s->received)
        return s->refuse_data;
    ck_assert_uint_le(s->received + n, BIG_SIZE);
    memcpy(s->body + s->received, p, n);
    s->received += n;
    if (n > s->max_chunk)
        s->max_chunk = n;
    if (s->stop_at && s->received >= s->stop_at)
        uv_stop(s->loop);
    return 0;
}

static const struct dl_sink sink = {.begin = sink_begin, .data = sink_data};

static void on_done(void *ctx, enum dl_error err, int detail)
{
    struct seen *s = ctx;
    s->done_calls++;
    s->err = err;
    s->detail = detail;
    uv_stop(s->loop);
}

static void seen_init(struct seen *s)
{
    memset(s, 0, sizeof *s);
    s->body = malloc(BIG_SIZE);
    ck_assert_ptr_nonnull(s->body);
}

static void seen_free(struct seen *s)
{
    free(s->body);
}

/* ---- A loop and a download -------------------------------------------------------- */

struct rig {
    uv_loop_t loop;
    struct download dl;
    uv_timer_t guard;
    bool timed_out;
};

static void rig_open(struct rig *r)
{
    ck_assert_int_eq(uv_loop_init(&r->loop), 0);
    download_init(&r->dl, &r->loop);
    uv_timer_init(&r->loop, &r->guard);
    r->guard.data = r;
    r->timed_out = false;
}

/* Everything closes, and the loop has nothing left: the transfer freed its
 * handles and its libcoap context (ASan would see the leak). */
static void rig_close(struct rig *r)
{
    download_close(&r->dl);
    uv_close((uv_handle_t *)&r->guard, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT); /* may return at once: a done() stopped it */
    ck_assert_int_eq(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&r->loop), 0);
}

static void on_guard(uv_timer_t *t)
{
    struct rig *r = t->data;
    r->timed_out = true;
    uv_stop(&r->loop);
}

/* Runs the loop until the download ends or `until` (if given) holds, for
 * at most limit_ms. */
static void run_until(struct rig *r, struct seen *s, bool (*until)(const struct seen *),
                      int limit_ms)
{
    uv_timer_start(&r->guard, on_guard, (uint64_t)limit_ms, 0);
    while (!s->done_calls && !(until && until(s)) && !r->timed_out)
        uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&r->guard);
    ck_assert_msg(!r->timed_out, "waited %d ms for the download", limit_ms);
}

static struct dl_request request(struct rig *r, const struct url *url, struct seen *s)
{
    s->loop = &r->loop;
    return (struct dl_request){.url = url,
                               .stall_ms = 10000,
                               .sink = &sink,
                               .sink_ctx = s,
                               .done = on_done,
                               .done_ctx = s};
}

static void parse_url(struct url *u, const char *fmt, unsigned port)
{
    char text[128];
    snprintf(text, sizeof text, fmt, port);
    ck_assert_int_eq(url_parse(text, u), URL_OK);
}

/* ---- coap-server-notls, the real peer ------------------------------------------- */

/* A UDP port nothing is bound to, just now: the kernel's pick, released. */
static unsigned free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* fork+exec with stdin, stdout and stderr on /dev/null; dies with the test. */
static pid_t spawn_quiet(const char *const *argv)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* A CoAP ping (an empty confirmable message) to the port gets a reset back
 * within timeout_ms. */
static bool answers_ping(unsigned port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const uint8_t ping[4] = {0x40, 0x00, 0x12, 0x34};
    bool ok = false;
    if (send(fd, ping, sizeof ping, 0) == sizeof ping) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint8_t buf[64];
        ok = poll(&p, 1, timeout_ms) == 1 && recv(fd, buf, sizeof buf, 0) >= 4 &&
             (buf[0] & 0x30) == 0x30 && buf[2] == 0x12 && buf[3] == 0x34;
    }
    close(fd);
    return ok;
}

/* The inode of the UDP socket bound to 127.0.0.1:port, from /proc/net/udp. */
static unsigned long udp_inode(unsigned port)
{
    FILE *f = fopen("/proc/net/udp", "r");
    ck_assert_ptr_nonnull(f);
    char line[512], want[32];
    snprintf(want, sizeof want, "0100007F:%04X", port);
    unsigned long inode = 0;
    while (!inode && fgets(line, sizeof line, f)) {
        char local[32];
        unsigned long ino;
        /* sl local rem st tx:rx tr:tm retrnsmt uid timeout inode */
        if (sscanf(line, " %*s %31s %*s %*s %*s %*s %*s %*s %*s %lu", local, &ino) == 2 &&
            strcmp(local, want) == 0)
            inode = ino;
    }
    fclose(f);
    return inode;
}

/* The process holds the socket with that inode. */
static bool owns_socket(pid_t pid, unsigned long inode)
{
    char dir[64], want[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char link[320], target[128];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            found = strcmp(target, want) == 0;
        }
    }
    closedir(d);
    return found;
}

struct coap_srv {
    pid_t pid;
    unsigned port;
    char dir[200];
};

static struct coap_srv *live_srv; /* for teardown, when a test failed before srv_stop */

/* coap-server-notls on a free port (loss: its -l value, or NULL), checked to
 * answer and to be our child; retried a few times if another process took
 * the port in between. */
static void srv_start(struct coap_srv *s, const char *loss)
{
    scratch_make(s->dir, sizeof s->dir, "coapdl");
    for (int attempt = 0; attempt < 5; attempt++) {
        s->port = free_udp_port();
        char port[8];
        snprintf(port, sizeof port, "%u", s->port);
        const char *argv[] = {"coap-server-notls", "-A", "127.0.0.1", "-p", port, "-d", "10",
                              loss ? "-l" : NULL,  loss, NULL};
        s->pid = spawn_quiet(argv);
        bool up = false;
        for (int i = 0; i < 50 && !up && host_wait_pid(s->pid, 0) < 0; i++)
            up = answers_ping(s->port, 100);
        if (up && host_wait_pid(s->pid, 0) < 0 && owns_socket(s->pid, udp_inode(s->port))) {
            live_srv = s;
            return;
        }
        kill(s->pid, SIGKILL);
        host_wait_pid(s->pid, 5000);
    }
    ck_abort_msg("coap-server-notls did not start on a port of its own");
}

/* Stores size bytes of the pattern as /name on the server. */
static void srv_put(struct coap_srv *s, const char *name, size_t size)
{
    const char *file = scratch_path(s->dir, "pkg.bin");
    FILE *f = fopen(file, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(expected, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    char uri[128];
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%u/%s", s->port, name);
    const char *argv[] = {"coap-client-notls", "-B", "20", "-m", "put", "-f", file, uri, NULL};
    pid_t pid = spawn_quiet(argv);
    int status = host_wait_pid(pid, 30000);
    if (status < 0) {
        kill(pid, SIGKILL);
        host_wait_pid(pid, 5000);
    }
    /* Its exit status says nothing (0 on a failed PUT too): the GETs check the bytes. */
}

/* The stored resource is the pattern's first size bytes, as coap-client-notls
 * fetches it (it exits 0 on a truncated transfer too: compare bytes). */
static bool srv_has(struct coap_srv *s, const char *name, size_t size)
{
    const char *file = scratch_path(s->dir, "got.bin");
    char uri[128];
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%u/%s", s->port, name);
    unlink(file);
    const char *argv[] = {
        "coap-client-notls", "-B", "20", "-m", "get", "-b", "1024", "-o", file, uri, NULL};
    pid_t pid = spawn_quiet(argv);
    if (host_wait_pid(pid, 30000) < 0) {
        kill(pid, SIGKILL);
        host_wait_pid(pid, 5000);
        return false;
    }
    FILE *f = fopen(file, "rb");
    if (!f)
        return false;
    bool same = true;
    size_t n = 0;
    for (int c; same && (c = fgetc(f)) != EOF; n++)
        same = n < size && (uint8_t)c == expected[n];
    fclose(f);
    return same && n == size;
}

/* Through a lossy server a PUT can end early and still exit 0 (a lost
 * datagram ends its Block1 transfer): store until the server has it all. */
static void srv_put_checked(struct coap_srv *s, const char *name, size_t size)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        srv_put(s, name, size);
        if (srv_has(s, name, size))
            return;
    }
    ck_abort_msg("coap-server-notls never stored the whole package");
}

static void srv_stop(struct coap_srv *s)
{
    live_srv = NULL;
    kill(s->pid, SIGTERM);
    int status = host_wait_pid(s->pid, 5000);
    if (status < 0) {
        kill(s->pid, SIGKILL);
        host_wait_pid(s->pid, 5000);
    }
    scratch_remove(s->dir);
}

/* ---- A responder of our own, on the test's loop ----------------------------------- */

enum mode {
    ANSWER,        /* block-wise, as asked (or at answer_szx) */
    SILENT,        /* reads, never answers */
    NOT_COAP,      /* a datagram that is not CoAP */
    ETAG_CHANGES,  /* another ETag from block 2 on */
    JUMP,          /* asked for block 2, answers block 3 */
    SIZE2_LARGER,  /* announces more than it has */
    SIZE2_SMALLER, /* announces less than it has */
    TWICE,         /* every answer twice, as a late retransmission would */
    RESET,         /* answers with RST */
};

struct responder {
    uv_udp_t udp;
    enum mode mode;
    size_t size;       /* of the resource: the pattern's first bytes */
    int answer_szx;    /* -1: the one asked for */
    int requests;      /* datagrams received */
    unsigned last_num; /* Block2 num of the last request */
    unsigned max_num;  /* the highest one asked for */
    unsigned port;
    uint8_t prev[1200]; /* TWICE: the last answer */
    size_t prev_len;
};

struct coap_req {
    uint8_t type, tkl, code;
    uint8_t mid[2];
    uint8_t token[8];
    bool block2;
    unsigned num, szx;
};

/* Header, token and the Block2 option of a request; false if it is not one. */
static bool parse_request(const uint8_t *p, size_t n, struct coap_req *q)
{
    if (n < 4 || p[0] >> 6 != 1)
        return false;
    q->type = (p[0] >> 4) & 3;
    q->tkl = p[0] & 15;
    q->code = p[1];
    memcpy(q->mid, p + 2, 2);
    if (q->tkl > 8 || 4u + q->tkl > n)
        return false;
    memcpy(q->token, p + 4, q->tkl);
    q->block2 = false;
    size_t i = 4 + q->tkl;
    unsigned number = 0;
    while (i < n && p[i] != 0xff) {
        unsigned delta = p[i] >> 4, len = p[i] & 15;
        i++;
        if (delta == 13)
            delta = 13u + p[i++];
        else if (delta == 14) {
            delta = 269u + (p[i] << 8 | p[i + 1]);
            i += 2;
        }
        if (len == 13)
            len = 13u + p[i++];
        if (delta == 15 || len > 14 || i + len > n)
            return false;
        number += delta;
        if (number == 23) {
            unsigned v = 0;
            for (unsigned k = 0; k < len; k++)
                v = v << 8 | p[i + k];
            q->block2 = true;
            q->num = v >> 4;
            q->szx = v & 7;
        }
        i += len;
    }
    return true;
}

/* One option (values up to 12 bytes), numbers in ascending order. */
static size_t put_option(uint8_t *p, unsigned *last, unsigned number, const uint8_t *v, size_t len)
{
    unsigned delta = number - *last;
    size_t i = 0;
    *last = number;
    if (delta < 13) {
        p[i++] = (uint8_t)(delta << 4 | len);
    } else {
        p[i++] = (uint8_t)(13 << 4 | len);
        p[i++] = (uint8_t)(delta - 13);
    }
    memcpy(p + i, v, len);
    return i + len;
}

/* An unsigned option value in as few bytes as it takes (0: none). */
static size_t uint_value(uint8_t *v, uint32_t x)
{
    size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8)
        if (n || (x >> shift) & 0xff)
            v[n++] = (uint8_t)(x >> shift);
    return n;
}

static void on_sent(uv_udp_send_t *req, int status)
{
    (void)status;
    free(req);
}

static void send_datagram(struct responder *r, const struct sockaddr *to, const uint8_t *p,
                          size_t n)
{
    uv_udp_send_t *req = malloc(sizeof *req + n);
    ck_assert_ptr_nonnull(req);
    memcpy(req + 1, p, n);
    uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)n);
    ck_assert_int_eq(uv_udp_send(req, &r->udp, &b, 1, to, on_sent), 0);
}

/* A piggybacked 2.05 with block num of the resource, or an RST. */
static void answer(struct responder *r, const struct sockaddr *to, const struct coap_req *q)
{
    uint8_t out[1200];
    size_t n = 0;
    out[n++] = (uint8_t)(0x60 | q->tkl); /* version 1, ACK */
    out[n++] = 0x45;                     /* 2.05 */
    memcpy(out + n, q->mid, 2);
    n += 2;
    if (r->mode == RESET) {
        out[0] = 0x70; /* RST: empty */
        out[1] = 0;
        send_datagram(r, to, out, 4);
        return;
    }
    memcpy(out + n, q->token, q->tkl);
    n += q->tkl;
    unsigned szx = r->answer_szx >= 0 ? (unsigned)r->answer_szx : q->block2 ? q->szx : 2;
    unsigned num = q->block2 ? q->num : 0;
    if (r->mode == JUMP && num == 2)
        num = 3;
    size_t bs = (size_t)16 << szx, off = num * bs;
    size_t len = off >= r->size ? 0 : r->size - off < bs ? r->size - off : bs;
    bool more = off + len < r->size;
    /* SIZE2_LARGER: the last block says it is the last, short of Size2. */
    uint32_t size2 = (uint32_t)r->size + (r->mode == SIZE2_LARGER    ? 100u
                                          : r->mode == SIZE2_SMALLER ? -100u
                                                                     : 0u);
    unsigned last = 0;
    uint8_t v[4];
    uint8_t etag = r->mode == ETAG_CHANGES && num >= 2 ? 'B' : 'A';
    n += put_option(out + n, &last, 4, &etag, 1); /* ETag */
    n += put_option(out + n, &last, 23, v,
                    uint_value(v, (uint32_t)(num << 4 | (more ? 8u : 0u) | szx))); /* Block2 */
    n += put_option(out + n, &last, 28, v, uint_value(v, size2));                  /* Size2 */
    if (len) {
        out[n++] = 0xff;
        memcpy(out + n, expected + off, len);
        n += len;
    }
    send_datagram(r, to, out, n);
    if (r->mode == TWICE) {
        /* The answer just before, as a late copy would come: another
         * message ID, so libcoap's check of the last one lets it through. */
        if (r->prev_len)
            send_datagram(r, to, r->prev, r->prev_len);
        memcpy(r->prev, out, n);
        r->prev_len = n;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char mem[2048];
    *buf = uv_buf_init(mem, sizeof mem);
}

static void on_datagram(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                        unsigned flags)
{
    (void)flags;
    struct responder *r = u->data;
    if (n <= 0 || !from)
        return;
    r->requests++;
    struct coap_req q;
    if (!parse_request((const uint8_t *)buf->base, (size_t)n, &q) || q.code == 0)
        return; /* an ACK or RST of ours is not a request */
    r->last_num = q.block2 ? q.num : 0;
    if (r->last_num > r->max_num)
        r->max_num = r->last_num;
    switch (r->mode) {
    case SILENT:
        return;
    case NOT_COAP: {
        static const char html[] = "<html>not CoAP</html>"; /* '<': version 0 */
        send_datagram(r, from, (const uint8_t *)html, sizeof html - 1);
        return;
    }
    default:
        answer(r, from, &q);
    }
}

static void responder_start(struct responder *r, uv_loop_t *loop, enum mode mode, size_t size)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->size = size;
    r->answer_szx = -1;
    ck_assert_int_eq(uv_udp_init(loop, &r->udp), 0);
    r->udp.data = r;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    ck_assert_int_eq(uv_udp_bind(&r->udp, (const struct sockaddr *)&a, 0), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    ck_assert_int_eq(uv_udp_getsockname(&r->udp, (struct sockaddr *)&got, &len), 0);
    r->port = ntohs(got.sin_port);
    ck_assert_int_eq(uv_udp_recv_start(&r->udp, on_alloc, on_datagram), 0);
}

static void responder_close(struct responder *r)
{
    uv_close((uv_handle_t *)&r->udp, NULL);
}

/* ---- Fixture ---------------------------------------------------------------------- */

static void setup(void)
{
    expected = malloc(BIG_SIZE);
    ck_assert_ptr_nonnull(expected);
    uint32_t seed = 11;
    for (size_t i = 0; i < BIG_SIZE; i++) {
        seed = seed * 1103515245u + 12345u;
        expected[i] = (uint8_t)(seed >> 16);
    }
}

static void teardown(void)
{
    if (live_srv)
        srv_stop(live_srv);
    free(expected);
}

/* ---- Against coap-server-notls ------------------------------------------------------ */

static const uint16_t block_sizes[] = {64, 256, 512, 1024};

/* 600 KiB byte-exact at each block size, each block to the sink as it came. */
START_TEST(whole_file_at_block_size)
{
    static struct coap_srv srv; /* static: teardown may stop it */
    srv_start(&srv, NULL);
    srv_put(&srv, "update.bin", BIG_SIZE);
    struct rig r;
    rig_open(&r);
    static struct seen s;
    seen_init(&s);
    struct url u;
    parse_url(&u, "coap://127.0.0.1:%u/update.bin", srv.port);
    struct dl_request req = request(&r, &u, &s);
    req.block_size = block_sizes[_i];
    download_start(&r.dl, &req);
    ck_assert(download_running(&r.dl));
    run_until(&r, &s, NULL, 60000);
    ck_assert_msg(s.err == DL_OK, "%s (%d)", dl_strerror(s.err), s.detail);
    ck_assert_int_eq(s.begins, 1);
    ck_assert_int_eq(s.length, BIG_SIZE);
    ck_assert_uint_eq(s.received, BIG_SIZE);
    ck_assert_uint_eq(s.max_chunk, block_sizes[_i]); /* block by block */
    ck_assert_mem_eq(s.body, expected, BIG_SIZE);
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
    ck_assert_int_eq(s.data_after_done, 0);
    seen_free(&s);
    srv_stop(&srv);
}
END_TEST

/* No block size asked for: 512, and a path of several segments. */
START_TEST(default_block_size_and_segments)
{
    static struct coap_srv srv; /* static: teardown may stop it */
    srv_start(&srv, NULL);
    srv_put(&srv, "fw/v2/small.bin", 5000);
    struct rig r;
    rig_open(&r);
    static struct seen s;
    seen_init(&s);
    struct url u;
    parse_url(&u, "COAP://127.0.0.1:%u/fw/v2/small.bin", srv.port);
    struct dl_request req = request(&r, &u, &s);
    download_start(&r.dl, &req);
    run_until(&r, &s, NULL, 20000);
    ck_assert_msg(s.err == DL_OK, "%s (%d)", dl_strerror(s.err), s.detail);
    ck_assert_uint_eq(s.received, 5000);
    ck_assert_uint_eq(s.max_chunk, 512);
    ck_assert_mem_eq(s.body, expected, 5000);
    rig_close(&r);
    seen_free(&s);
    srv_stop(&srv);
}
END_TEST

START_TEST(not_found)
{
    static struct coap_srv srv; /* static: teardown may stop it */
    srv_start(&srv, NULL);
    struct rig r;
    rig_open(&r);
    static struct seen s;
    seen_init(&s);
    struct url u;
    parse_url(&u, "coap://127.0.0.1:%u/no/such/file.bin", srv.port);
    struct dl_request req = request(&r, &u, &s);
    download_start(&r.dl, &req);
    run_until(&r, &s, NULL, 20000);
    ck_assert_int_eq(s.err, DL_ESTATUS);
    ck_assert_int_eq(s.detail, 404);
    ck_assert_int_eq(s.begins, 0);
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
    seen_free(&s);
    srv_stop(&srv);
}
END_TEST

static bool got_some(const struct seen *s)
{
    return s->stop_at && s->received >= s->stop_at;
}

/* Abort mid-transfer answers at once, and nothing reaches the sink after. */
START_TEST(abort_mid_transfer)
{
    static struct coap_srv srv; /* static: teardown may stop it */
    srv_start(&srv, NULL);
    srv_put(&srv, "update.bin", BIG_SIZE);
    struct rig r;
    rig_open(&r);
    static struct seen s;
    seen_init(&s);
    s.stop_at = 10 * 1024;
    struct url u;
    parse_url(&u, "coap://127.0.0.1:%u/update.bin", srv.port);
    struct dl_request req = request(&r, &u, &s);
    req.block_size = 64;
    download_start(&r.dl, &req);
    run_until(&r, &s, got_some, 20000);
    ck_assert_int_eq(s.done_calls, 0);
    download_abort(&r.dl);
    ck_assert_int_eq(s.done_calls, 1); /* before download_abort returned */
    ck_assert_int_eq(s.err, DL_EABORT);
    ck_assert(!download_running(&r.dl));
    size_t had = s.received;
    ck_assert_uint_lt(had, BIG_SIZE);
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
    ck_assert_uint_eq(s.received, had);
    ck_assert_int_eq(s.data_after_done, 0);
    seen_free(&s);
    srv_stop(&srv);
}
END_TEST

/* 10% of the server's datagrams lost: libcoap's retransmissions still bring
 * every byte (a small file: each loss costs a 1-1.5 s ack timeout). */
START_TEST(lossy_server)
{
    static struct coap_srv srv; /* static: teardown may stop it */
    srv_start(&srv, "10%");
    srv_put_checked(&srv, "update.bin", 24 * 1024);
    struct rig r;
    rig_open(&r);
    static struct seen s;
    seen_init(&s);
    struct url u;
    parse_url(&u, "coap://127.0.0.1:%u/update.bin", srv.port);
    struct dl_request req = request(&r, &u, &s);
    req.block_size = 1024;
    download_start(&r.dl, &req);
    run_until(&r, &s, NULL, 100000);
    ck_assert_msg(s.err == DL_OK, "%s (%d)", dl_strerror(s.err), s.detail);
    ck_assert_uint_eq(s.received, 24 * 1024);
    ck_assert_mem_eq(s.body, expected, 24 * 1024);
    rig_close(&r);
    seen_free(&s);
    srv_stop(&srv);
}
END_TEST

/* ---- Without a server ----------------------------------------------------------------- */

/* Nothing bound to the port: the kernel's ICMP port unreachable. */
START_TEST(port_unreachable)
{
    struct rig r;
    rig_open(&r);
    static struct seen s;
    seen_init(&s);
    struct url u;
    parse_url(&u, "coap://127.0.0.1:%u/update.bin", free_udp_port());
    struct dl_request req = request(&r, &u, &s);
    download_start(&r.dl, &req);
    run_until(&r, &s, NULL, 10000);
    ck_assert_int_eq(s.err, DL_ECONNECT);
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
    seen_free(&s);
}
END_TEST

START_TEST(name_does_not_resolve)
{
    struct rig r;
    rig_open(&r);
    static struct seen s;
    seen_init(&s);
    struct url u;
    ck_assert_int_eq(url_parse("coap://no-such-host.invalid/update.bin", &u), URL_OK);
    struct dl_request req = request(&r, &u, &s);
    download_start(&r.dl, &req);
    ck_assert_int_eq(s.done_calls, 0);
    run_until(&r, &s, NULL, 20000);
    ck_assert_int_eq(s.err, DL_EDNS);
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
    seen_free(&s);
}
END_TEST

/* ---- Against our own responder --------------------------------------------------------- */

/* Runs one download from a responder in `mode` and returns what it saw. */
static void from_responder(struct responder *resp, enum mode mode, size_t size, uint16_t block_size,
                           struct dl_link link, int limit_ms, struct seen *s, long *elapsed_ms)
{
    struct rig r;
    rig_open(&r);
    responder_start(resp, &r.loop, mode, size);
    struct url u;
    parse_url(&u, "coap://127.0.0.1:%u/fw/update.bin?v=2", resp->port);
    struct dl_request req = request(&r, &u, s);
    req.block_size = block_size;
    req.link = link;
    long t0 = scratch_now_ms();
    download_start(&r.dl, &req);
    run_until(&r, s, NULL, limit_ms);
    if (elapsed_ms)
        *elapsed_ms = scratch_now_ms() - t0;
    responder_close(resp);
    rig_close(&r);
    ck_assert_int_eq(s->done_calls, 1);
    ck_assert_int_eq(s->data_after_done, 0);
}

/* Asked for 1024, answered at 256: taken as the server sends it. */
START_TEST(server_picks_block_size)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    struct rig r;
    rig_open(&r);
    responder_start(&resp, &r.loop, ANSWER, 3000);
    resp.answer_szx = 4; /* 256 */
    struct url u;
    parse_url(&u, "coap://127.0.0.1:%u/update.bin", resp.port);
    struct dl_request req = request(&r, &u, &s);
    req.block_size = 1024;
    download_start(&r.dl, &req);
    run_until(&r, &s, NULL, 20000);
    ck_assert_msg(s.err == DL_OK, "%s (%d)", dl_strerror(s.err), s.detail);
    ck_assert_uint_eq(s.received, 3000);
    ck_assert_uint_eq(s.max_chunk, 256);
    ck_assert_mem_eq(s.body, expected, 3000);
    ck_assert_uint_eq(resp.max_num, 11); /* 12 blocks of 256 */
    responder_close(&resp);
    rig_close(&r);
    seen_free(&s);
}
END_TEST

START_TEST(not_coap_answer)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    from_responder(&resp, NOT_COAP, 3000, 512, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_int_eq(s.err, DL_EPROTO);
    seen_free(&s);
}
END_TEST

START_TEST(etag_changes)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    from_responder(&resp, ETAG_CHANGES, 5000, 512, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_int_eq(s.err, DL_ECHANGED);
    ck_assert_uint_eq(s.received, 1024); /* blocks 0 and 1 */
    seen_free(&s);
}
END_TEST

START_TEST(blocks_jump)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    from_responder(&resp, JUMP, 5000, 512, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_int_eq(s.err, DL_EBLOCKS);
    ck_assert_uint_eq(s.received, 1024);
    seen_free(&s);
}
END_TEST

START_TEST(shorter_than_size2)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    from_responder(&resp, SIZE2_LARGER, 3000, 512, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_int_eq(s.err, DL_ESHORT);
    ck_assert_int_eq(s.length, 3100);
    ck_assert_uint_eq(s.received, 3000);
    seen_free(&s);
}
END_TEST

START_TEST(longer_than_size2)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    from_responder(&resp, SIZE2_SMALLER, 3000, 512, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_int_eq(s.err, DL_ELONG);
    ck_assert_int_eq(s.length, 2900);
    ck_assert_uint_le(s.received, 2900);
    seen_free(&s);
}
END_TEST

/* Each block arrives twice, the copy after the next block: libcoap hands it
 * on, and it is skipped. */
START_TEST(duplicate_blocks)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    from_responder(&resp, TWICE, 3000, 256, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_msg(s.err == DL_OK, "%s (%d)", dl_strerror(s.err), s.detail);
    ck_assert_uint_eq(s.received, 3000);
    ck_assert_mem_eq(s.body, expected, 3000);
    seen_free(&s);
}
END_TEST

/* The sink refuses the second block: the download ends with its code. */
START_TEST(sink_refuses)
{
    static struct seen s;
    seen_init(&s);
    s.refuse_data = 7;
    struct responder resp;
    from_responder(&resp, ANSWER, 3000, 512, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_int_eq(s.err, DL_ESINK);
    ck_assert_int_eq(s.detail, 7);
    ck_assert_uint_eq(s.received, 512);
    seen_free(&s);
}
END_TEST

START_TEST(reset_by_peer)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    from_responder(&resp, RESET, 3000, 512, (struct dl_link){0}, 20000, &s, NULL);
    ck_assert_int_eq(s.err, DL_ERESET);
    seen_free(&s);
}
END_TEST

/* The link model: the first answer rtt after the GET, every later one rtt +
 * its bytes at the rate after the previous: 5 blocks of 512 at rtt 100 ms and
 * 10240 B/s take 5 * 100 + 4 * 50 ms at least, without one retransmission,
 * less 1 ms for each of the 9 delays: libuv arms a timer from its loop time,
 * which is whole milliseconds and up to 1 ms behind the clock this test reads
 * (a run measured 699 ms). */
START_TEST(paced_by_link)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    long elapsed;
    from_responder(&resp, ANSWER, 5 * 512, 512,
                   (struct dl_link){.bytes_per_s = 10240, .rtt_ms = 100}, 20000, &s, &elapsed);
    ck_assert_msg(s.err == DL_OK, "%s (%d)", dl_strerror(s.err), s.detail);
    ck_assert_mem_eq(s.body, expected, 5 * 512);
    ck_assert_msg(elapsed >= 5 * 100 + 4 * 50 - 9, "took %ld ms", elapsed);
    ck_assert_int_eq(resp.requests, 5);
    seen_free(&s);
}
END_TEST

/* A round trip longer than RFC 7252's 2 s ack timeout: the ack timeout
 * follows the link, so a held answer never draws a retransmission. */
START_TEST(slow_link_no_retransmission)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    long elapsed;
    from_responder(&resp, ANSWER, 2 * 512, 512, (struct dl_link){.rtt_ms = 2500}, 20000, &s,
                   &elapsed);
    ck_assert_msg(s.err == DL_OK, "%s (%d)", dl_strerror(s.err), s.detail);
    ck_assert_msg(elapsed >= 2 * 2500 - 2, "took %ld ms", elapsed); /* 1 ms a delay: above */
    ck_assert_int_eq(resp.requests, 2);
    seen_free(&s);
}
END_TEST

/* A peer that reads and never answers: libcoap retransmits 4 times with the
 * 1 s minimum ack timeout (1 + 2 + 4 + 8 + 16 s, times 1-1.5), then gives up:
 * 31-46.5 s, the one slow test here. */
START_TEST(silent_peer)
{
    static struct seen s;
    seen_init(&s);
    struct responder resp;
    long elapsed;
    from_responder(&resp, SILENT, 3000, 512, (struct dl_link){0}, 60000, &s, &elapsed);
    ck_assert_int_eq(s.err, DL_ETIMEOUT);
    ck_assert_int_eq(resp.requests, 5); /* the GET and 4 retransmissions */
    ck_assert_msg(elapsed >= 31000 - 5, "gave up after %ld ms", elapsed); /* 1 ms a timeout */
    seen_free(&s);
}
END_TEST

Suite *coap_download_suite(void)
{
    Suite *s = suite_create("coap_download");
    TCase *tc = tcase_create("coap_download");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, whole_file_at_block_size, 0,
                        (int)(sizeof block_sizes / sizeof block_sizes[0]));
    tcase_add_test(tc, default_block_size_and_segments);
    tcase_add_test(tc, not_found);
    tcase_add_test(tc, abort_mid_transfer);
    tcase_add_test(tc, port_unreachable);
    tcase_add_test(tc, name_does_not_resolve);
    tcase_add_test(tc, server_picks_block_size);
    tcase_add_test(tc, not_coap_answer);
    tcase_add_test(tc, etag_changes);
    tcase_add_test(tc, blocks_jump);
    tcase_add_test(tc, shorter_than_size2);
    tcase_add_test(tc, longer_than_size2);
    tcase_add_test(tc, duplicate_blocks);
    tcase_add_test(tc, sink_refuses);
    tcase_add_test(tc, reset_by_peer);
    tcase_add_test(tc, paced_by_link);
    tcase_add_test(tc, slow_link_no_retransmission);
    tcase_add_test(tc, lossy_server);
    suite_add_tcase(s, tc);
    /* A case of its own, so CK_RUN_CASE=coap_download leaves the slow one out. */
    TCase *slow = tcase_create("silent_peer");
    tcase_add_checked_fixture(slow, setup, teardown);
    tcase_set_timeout(slow, 120);
    tcase_add_test(slow, silent_peer);
    suite_add_tcase(s, slow);
    return s;
}
