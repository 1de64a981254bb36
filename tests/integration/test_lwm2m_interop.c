/* The module's LwM2M client core (proto/lwm2m/) against an LwM2M server
 * written by others: Eclipse Wakaama's example server `lwm2mserver`, built
 * out of tree by tools/fetch-lwm2m-peer into $BCSIM_LWM2M_PEER (or
 * ext/lwm2m-peer beside the source tree). The client runs in this process on
 * a libuv loop of the test's own with a small Firmware Update object; the
 * peer is a child on a port the kernel picked, driven through its command
 * line on stdin, and what it saw is read from its stdout. Without the peer
 * every test is reported as skipped (a SKIP line), never run and passed. */
#include "proto/lwm2m/lwm2m_client.h"
#include "tests/integration/coap_peer.h"
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEADLINE_MS 8000
#define EP          "urn:imei:866207050000001"

/* ---- Where the peer is ---------------------------------------------------- */

static const char *peer_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("BCSIM_LWM2M_PEER");
    if (!dir[0])
        snprintf(dir, sizeof dir, "%s", env && *env ? env : SOURCE_ROOT "/../ext/lwm2m-peer");
    return dir;
}

static const char *peer_bin(void)
{
    static char bin[PATH_MAX + 32];
    if (!bin[0])
        snprintf(bin, sizeof bin, "%s/bin/lwm2mserver", peer_dir());
    return bin;
}

static bool peer_present(void)
{
    return access(peer_bin(), X_OK) == 0;
}

/* ---- The client side: a Firmware Update object (and a Device one) ---------- */

struct rig {
    uv_loop_t loop;
    struct lwm2m_client *c;
    int registered, reg_result, updated, upd_result, deregistered, dereg_result;
    int obs_on, obs_off;
    char log[4096];
    /* object 5 instance 0 */
    char uri[256];
    int64_t state, result;
    int executed;
    char args[64];
    bool closed;
    /* the peer */
    pid_t pid;
    int in_fd, out_fd, port;
    char dir[200];
    char out[1 << 17];
    size_t len, seen;
    int client; /* the peer's number for our client */
};

static void ev_registered(void *ctx, int result)
{
    struct rig *r = ctx;
    r->registered++;
    r->reg_result = result;
}

static void ev_updated(void *ctx, int result, int msgid)
{
    (void)msgid;
    struct rig *r = ctx;
    r->updated++;
    r->upd_result = result;
}

static void ev_deregistered(void *ctx, int result)
{
    struct rig *r = ctx;
    r->deregistered++;
    r->dereg_result = result;
}

static void ev_observe(void *ctx, uint16_t obj, int inst, int res, bool on)
{
    (void)obj;
    (void)inst;
    (void)res;
    struct rig *r = ctx;
    if (on)
        r->obs_on++;
    else
        r->obs_off++;
}

static void ev_log(void *ctx, const char *line)
{
    struct rig *r = ctx;
    snprintf(r->log + strlen(r->log), sizeof r->log - strlen(r->log), "%s\n", line);
}

static const struct lwm2m_client_ops client_ops = {ev_registered, ev_updated, ev_deregistered,
                                                   ev_observe, ev_log};

static const struct lwm2m_resource device_res[] = {
    {0, LWM2M_OP_R, LWM2M_STRING, 0}, /* Manufacturer */
    {3, LWM2M_OP_R, LWM2M_STRING, 0}, /* Firmware Version */
};

static const struct lwm2m_resource fw_res[] = {
    {1, LWM2M_OP_R | LWM2M_OP_W, LWM2M_STRING, 0}, /* Package URI */
    {2, LWM2M_OP_E, LWM2M_INTEGER, 0},             /* Update */
    {3, LWM2M_OP_R, LWM2M_INTEGER, 0},             /* State */
    {5, LWM2M_OP_R, LWM2M_INTEGER, 0},             /* Update Result */
};

static size_t obj_instances(void *ctx, uint16_t obj, uint16_t *ids, size_t max)
{
    (void)ctx;
    (void)obj;
    if (max == 0)
        return 0;
    ids[0] = 0;
    return 1;
}

static size_t obj_resources(void *ctx, uint16_t obj, uint16_t inst,
                            const struct lwm2m_resource **list)
{
    (void)ctx;
    (void)inst;
    *list = obj == 3 ? device_res : fw_res;
    return obj == 3 ? sizeof device_res / sizeof device_res[0] : sizeof fw_res / sizeof fw_res[0];
}

static struct lwm2m_value str(const char *s)
{
    return (struct lwm2m_value){LWM2M_STRING, {.bytes = {(const uint8_t *)s, strlen(s)}}};
}

static int obj_read(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                    struct lwm2m_value *v)
{
    (void)req;
    (void)inst;
    struct rig *r = ctx;
    if (obj == 3) {
        *v = str(res == 0 ? "Quectel" : "BC66NBR01A10");
        return LWM2M_CONTENT;
    }
    switch (res) {
    case 1:
        *v = str(r->uri);
        return LWM2M_CONTENT;
    case 3:
        *v = (struct lwm2m_value){LWM2M_INTEGER, {.i = r->state}};
        return LWM2M_CONTENT;
    case 5:
        *v = (struct lwm2m_value){LWM2M_INTEGER, {.i = r->result}};
        return LWM2M_CONTENT;
    }
    return LWM2M_NOT_FOUND;
}

static int obj_write(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst,
                     uint16_t res, const struct lwm2m_value *v)
{
    (void)req;
    (void)obj;
    (void)inst;
    struct rig *r = ctx;
    if (res != 1 || v->type != LWM2M_STRING || v->u.bytes.len >= sizeof r->uri)
        return LWM2M_BAD_REQUEST;
    memcpy(r->uri, v->u.bytes.p, v->u.bytes.len);
    r->uri[v->u.bytes.len] = '\0';
    return LWM2M_CHANGED;
}

static int obj_execute(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst,
                       uint16_t res, const uint8_t *args, size_t len)
{
    (void)req;
    (void)obj;
    (void)inst;
    (void)res;
    struct rig *r = ctx;
    r->executed++;
    snprintf(r->args, sizeof r->args, "%.*s", (int)len, (const char *)args);
    return LWM2M_CHANGED;
}

static const struct lwm2m_object_ops test_object = {obj_instances, obj_resources, obj_read,
                                                    obj_write, obj_execute};

/* ---- Running both: the loop, and the peer's stdout ------------------------- */

/* Reads what the peer printed so far (non-blocking). */
static void peer_read(struct rig *r)
{
    for (;;) {
        if (r->len + 1 >= sizeof r->out)
            r->len = r->seen = 0; /* a bounded buffer: old output goes */
        ssize_t n = read(r->out_fd, r->out + r->len, sizeof r->out - 1 - r->len);
        if (n <= 0)
            break;
        r->len += (size_t)n;
        r->out[r->len] = '\0';
    }
}

/* One turn: waits at most ms (less if a timer of the loop is due sooner)
 * for a datagram, a due timer or output of the peer, then runs the loop and
 * reads the peer. Callers test their condition before each turn. */
static void turn(struct rig *r, int ms)
{
    int due = uv_backend_timeout(&r->loop);
    if (due >= 0 && due < ms)
        ms = due;
    struct pollfd fds[2] = {{r->out_fd, POLLIN, 0}, {uv_backend_fd(&r->loop), POLLIN, 0}};
    poll(fds, 2, ms);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    peer_read(r);
}

static const char *tail_of(const char *path)
{
    static char buf[2048];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    return buf;
}

/* Waits until the peer printed text after what earlier waits consumed;
 * returns what it printed up to the end of text (in a buffer of the rig's,
 * valid until the next call) and consumes it. */
static const char *peer_expect(struct rig *r, const char *text)
{
    static char seg[sizeof r->out];
    long end = scratch_now_ms() + DEADLINE_MS;
    const char *hit;
    while (!(hit = strstr(r->out + r->seen, text)) && scratch_now_ms() < end)
        turn(r, (int)(end - scratch_now_ms()));
    ck_assert_msg(hit, "the peer did not print \"%s\"; it printed:\n%s\n(its stderr ends:\n%s)",
                  host_show(text), r->out + r->seen, tail_of(scratch_path(r->dir, "peer.err")));
    size_t n = (size_t)(hit - (r->out + r->seen)) + strlen(text);
    memcpy(seg, r->out + r->seen, n);
    seg[n] = '\0';
    r->seen += n;
    return seg;
}

/* Runs both until *counter reaches want. */
static bool until(struct rig *r, const int *counter, int want)
{
    long end = scratch_now_ms() + DEADLINE_MS;
    while (*counter < want && scratch_now_ms() < end)
        turn(r, (int)(end - scratch_now_ms()));
    return *counter >= want;
}

/* One command line to the peer: it reads stdin a line at a time after
 * select(), so each command goes alone and its "OK" is awaited. */
static void peer_cmd(struct rig *r, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    ck_assert(n > 0 && (size_t)n < sizeof line - 1);
    line[n++] = '\n';
    ck_assert_msg(write(r->in_fd, line, (size_t)n) == n,
                  "%s to the peer: %s (its stderr ends:\n%s)", host_show(line), strerror(errno),
                  tail_of(scratch_path(r->dir, "peer.err")));
}

/* A command the peer accepts ("OK"); its result comes later. */
static void peer_ok(struct rig *r, const char *fmt, const char *path, const char *data)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, fmt, r->client, path, data ? data : "");
    peer_cmd(r, "%s", cmd);
    const char *seg = peer_expect(r, "\r\n> ");
    ck_assert_msg(strstr(seg, "OK"), "%s: %s", cmd, seg);
}

/* A UDP port free on every address just now: the kernel's pick, released. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t spawn_peer(struct rig *r, int port)
{
    int in[2], out[2];
    ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int err = open(scratch_path(r->dir, "peer.err"), O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execl(peer_bin(), peer_bin(), "-4", "-l", portstr, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    r->in_fd = in[1];
    r->out_fd = out[0];
    ck_assert_int_eq(fcntl(r->out_fd, F_SETFL, O_NONBLOCK), 0);
    return pid;
}

static void peer_kill(struct rig *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        host_wait_pid(r->pid, 5000);
        r->pid = -1;
    }
    if (r->in_fd >= 0)
        close(r->in_fd);
    if (r->out_fd >= 0)
        close(r->out_fd);
    r->in_fd = r->out_fd = -1;
}

/* The peer on a port of its own: it printed its prompt (its socket is bound
 * by then) and the only socket on that port is this child's; tried again on
 * another port if someone else was quicker. */
static void peer_start(struct rig *r)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = free_port();
        r->pid = spawn_peer(r, r->port);
        r->len = r->seen = 0;
        r->out[0] = '\0';
        long end = scratch_now_ms() + DEADLINE_MS;
        while (!strstr(r->out, "> ") && host_wait_pid(r->pid, 0) < 0 && scratch_now_ms() < end) {
            struct pollfd p = {r->out_fd, POLLIN, 0};
            poll(&p, 1, 100);
            peer_read(r);
        }
        if (strstr(r->out, "> ") && host_wait_pid(r->pid, 0) < 0 &&
            coap_peer_udp_is(r->port, r->pid)) {
            r->seen = r->len;
            return;
        }
        peer_kill(r);
    }
    ck_abort_msg("%s did not start on a port of its own:\n%s", peer_bin(),
                 tail_of(scratch_path(r->dir, "peer.err")));
}

/* Static, for teardown after a failed assertion (Check forks per test). */
static struct rig the_rig;
static struct rig *rig_now;

static void rig_open(struct rig *r)
{
    memset(r, 0, sizeof *r);
    r->pid = -1;
    r->in_fd = r->out_fd = -1;
    rig_now = r;
    signal(SIGPIPE, SIG_IGN); /* a peer gone is a failed write, not a dead test */
    scratch_make(r->dir, sizeof r->dir, "lwiop");
    peer_start(r);
    ck_assert_int_eq(uv_loop_init(&r->loop), 0);
    struct lwm2m_config cfg = {.host = "127.0.0.1",
                               .port = (uint16_t)r->port,
                               .endpoint = EP,
                               .lifetime = 300,
                               .ack_timeout_ms = 1000,
                               .max_retransmit = 2};
    ck_assert_int_eq(lwm2m_client_open(&r->c, &r->loop, &cfg, &client_ops, r), 0);
    ck_assert_int_eq(lwm2m_client_add_object(r->c, 3, &test_object, r), 0);
    ck_assert_int_eq(lwm2m_client_add_object(r->c, 5, &test_object, r), 0);
}

static void on_closed(void *ctx)
{
    ((struct rig *)ctx)->closed = true;
}

/* The client goes, then the peer, asked to quit ("q") and waited for. */
static void rig_close(struct rig *r)
{
    lwm2m_client_close(r->c, on_closed);
    for (int k = 0; k < 1000 && !r->closed; k++)
        uv_run(&r->loop, UV_RUN_ONCE);
    ck_assert(r->closed);
    ck_assert_int_eq(uv_loop_close(&r->loop), 0);
    peer_cmd(r, "q");
    ck_assert_int_eq(host_wait_pid(r->pid, DEADLINE_MS), 0);
    r->pid = -1;
    peer_kill(r);
    scratch_remove(r->dir);
    rig_now = NULL;
}

static void teardown(void)
{
    if (rig_now) {
        peer_kill(rig_now);
        if (rig_now->dir[0])
            scratch_remove(rig_now->dir);
    }
}

/* Register, and the peer's number for the client from its announcement. */
static const char *rig_register(struct rig *r)
{
    ck_assert_int_eq(lwm2m_client_register(r->c), 0);
    const char *seg = peer_expect(r, " registered.\r\n");
    const char *p = strstr(seg, "New client #");
    ck_assert_msg(p && sscanf(p, "New client #%d", &r->client) == 1, "%s", seg);
    ck_assert(until(r, &r->registered, 1));
    ck_assert_int_eq(r->reg_result, 0);
    return peer_expect(r, "\r\n> ");
}

/* The peer's answer line for a request on path: "Client #N /5/0/3 : 2.05 (...)"
 * followed by what it received, up to its prompt. */
static const char *result_of(struct rig *r, const char *path, const char *code)
{
    char want[128];
    snprintf(want, sizeof want, "Client #%d %s : %s", r->client, path, code);
    peer_expect(r, want);
    return peer_expect(r, "\r\n> ");
}

/* ---- The tests ----------------------------------------------------------- */

START_TEST(registers_updates_deregisters)
{
    struct rig *r = &the_rig;
    rig_open(r);
    const char *seg = rig_register(r);
    ck_assert_msg(strstr(seg, "name: \"" EP "\""), "%s", seg);
    ck_assert_msg(strstr(seg, "version: \"1.0\""), "%s", seg);
    ck_assert_msg(strstr(seg, "lifetime: 300 sec"), "%s", seg);
    ck_assert_msg(strstr(seg, "objects: /3/0, /5/0, "), "%s", seg);
    peer_cmd(r, "list");
    seg = peer_expect(r, "\r\n> ");
    ck_assert_msg(strstr(seg, "name: \"" EP "\""), "%s", seg);

    ck_assert_int_ge(lwm2m_client_update(r->c, 600, NULL), 0);
    peer_expect(r, " updated.\r\n");
    seg = peer_expect(r, "\r\n> ");
    ck_assert_msg(strstr(seg, "lifetime: 600 sec"), "%s", seg);
    ck_assert(until(r, &r->updated, 1));
    ck_assert_int_eq(r->upd_result, 0);

    ck_assert_int_eq(lwm2m_client_deregister(r->c), 0);
    char want[64];
    snprintf(want, sizeof want, "Client #%d unregistered.", r->client);
    peer_expect(r, want);
    peer_expect(r, "\r\n> ");
    ck_assert(until(r, &r->deregistered, 1));
    ck_assert_int_eq(r->dereg_result, 0);
    ck_assert(!lwm2m_client_is_registered(r->c));
    peer_cmd(r, "list");
    seg = peer_expect(r, "\r\n> ");
    ck_assert_msg(strstr(seg, "No client."), "%s", seg);
    ck_assert_str_eq(r->log, "");
    rig_close(r);
}
END_TEST

/* Wakaama asks every Read of a 1.0 client for TLV (Accept 11542, the format
 * it noted at registration), a single resource too. */
START_TEST(reads_tlv)
{
    struct rig *r = &the_rig;
    rig_open(r);
    rig_register(r);
    r->state = 2;
    strcpy(r->uri, "coap://fw");
    peer_ok(r, "read %d %s%s", "/5/0/3", NULL);
    const char *seg = result_of(r, "/5/0/3", "2.05");
    ck_assert_msg(strstr(seg, "3 bytes received of type application/vnd.oma.lwm2m+tlv"), "%s", seg);
    ck_assert_msg(strstr(seg, "ID: 3 type: Resource Value"), "%s", seg);
    ck_assert_msg(strstr(seg, "data (1 bytes):\r\n            02  ."), "%s", seg);

    peer_ok(r, "read %d %s%s", "/5/0", NULL);
    seg = result_of(r, "/5/0", "2.05");
    /* C8 01 09 "coap://fw" (nine bytes take a length byte), C1 03 02, C1 05 00. */
    ck_assert_msg(strstr(seg, "18 bytes received of type application/vnd.oma.lwm2m+tlv"), "%s",
                  seg);
    const char *a = strstr(seg, "ID: 1 type: Resource Value"),
               *b = a ? strstr(a, "ID: 3 type: Resource Value") : NULL,
               *c = b ? strstr(b, "ID: 5 type: Resource Value") : NULL;
    ck_assert_msg(a && b && c && strstr(a, "coap://fw"), "%s", seg);

    peer_ok(r, "read %d %s%s", "/3/0/0", NULL);
    seg = result_of(r, "/3/0/0", "2.05");
    ck_assert_msg(strstr(seg, "data (7 bytes):\r\n            51 75 65 63  74 65 6C  Quectel"),
                  "%s", seg);

    /* Not there, and not readable. */
    peer_ok(r, "read %d %s%s", "/5/0/4", NULL);
    result_of(r, "/5/0/4", "4.04");
    peer_ok(r, "read %d %s%s", "/5/0/2", NULL);
    result_of(r, "/5/0/2", "4.05");
    ck_assert_int_eq(r->executed, 0);
    rig_close(r);
}
END_TEST

/* The one GET of Wakaama's without Accept is its cancellation of an
 * observation (Observe 1, same token): a Read the client answers in plain
 * text, for a single resource. */
START_TEST(reads_text)
{
    struct rig *r = &the_rig;
    rig_open(r);
    rig_register(r);
    strcpy(r->uri, "coap://192.0.2.7/fw.bin");
    char notify[64];
    snprintf(notify, sizeof notify, "Notify from client #%d /5/0/1 number ", r->client);
    peer_ok(r, "observe %d %s%s", "/5/0/1", NULL);
    peer_expect(r, notify);
    const char *seg = peer_expect(r, "\r\n> ");
    ck_assert_msg(strstr(seg, "application/vnd.oma.lwm2m+tlv") && strstr(seg, "192.0.2.7"), "%s",
                  seg);
    ck_assert(until(r, &r->obs_on, 1));
    peer_ok(r, "cancel %d %s%s", "/5/0/1", NULL);
    seg = result_of(r, "/5/0/1", "0.00");
    ck_assert_msg(strstr(seg, "23 bytes received of type text/plain:"), "%s", seg);
    ck_assert_msg(strstr(seg, "coap://192.0.2.7"), "%s", seg);
    ck_assert(until(r, &r->obs_off, 1));
    rig_close(r);
}
END_TEST

/* Plain text (a DATA the peer cannot parse as JSON goes as text/plain) and
 * TLV (SenML JSON the peer re-encodes in the client's format, TLV). */
START_TEST(writes_text_and_tlv)
{
    struct rig *r = &the_rig;
    rig_open(r);
    rig_register(r);
    peer_ok(r, "write %d %s %s", "/5/0/1", "coap://192.0.2.1:5683/fw.bin");
    result_of(r, "/5/0/1", "2.04");
    ck_assert_str_eq(r->uri, "coap://192.0.2.1:5683/fw.bin");

    peer_ok(r, "write %d %s %s", "/5/0/1",
            "[{\"bn\":\"/5/0/\",\"n\":\"1\",\"vs\":\"coap://tlv/a\"}]");
    result_of(r, "/5/0/1", "2.04");
    ck_assert_str_eq(r->uri, "coap://tlv/a");

    /* An instance: the client takes only TLV for it (4.15 otherwise). */
    peer_ok(r, "write %d %s %s", "/5/0",
            "[{\"bn\":\"/5/0/\",\"n\":\"1\",\"vs\":\"coap://tlv/b\"}]");
    result_of(r, "/5/0", "2.04");
    ck_assert_str_eq(r->uri, "coap://tlv/b");

    /* Read-only: refused, nothing changed. */
    peer_ok(r, "write %d %s %s", "/5/0/3", "7");
    result_of(r, "/5/0/3", "4.05");
    ck_assert_int_eq(r->state, 0);
    peer_ok(r, "read %d %s%s", "/5/0/1", NULL);
    const char *seg = result_of(r, "/5/0/1", "2.05");
    ck_assert_msg(strstr(seg, "coap://tlv/b"), "%s", seg);
    rig_close(r);
}
END_TEST

START_TEST(executes)
{
    struct rig *r = &the_rig;
    rig_open(r);
    rig_register(r);
    peer_ok(r, "exec %d %s%s", "/5/0/2", NULL);
    result_of(r, "/5/0/2", "2.04");
    ck_assert_int_eq(r->executed, 1);
    ck_assert_str_eq(r->args, "");
    peer_ok(r, "exec %d %s %s", "/5/0/2", "0='fw'");
    result_of(r, "/5/0/2", "2.04");
    ck_assert_int_eq(r->executed, 2);
    ck_assert_str_eq(r->args, "0='fw'");
    peer_ok(r, "exec %d %s%s", "/5/0/1", NULL);
    result_of(r, "/5/0/1", "4.05");
    ck_assert_int_eq(r->executed, 2);
    rig_close(r);
}
END_TEST

/* Observe State, change it twice (each a notification the peer prints with
 * the new value), cancel (the client ends the observation). */
START_TEST(observes_and_notifies)
{
    struct rig *r = &the_rig;
    rig_open(r);
    rig_register(r);
    char notify[64];
    snprintf(notify, sizeof notify, "Notify from client #%d /5/0/3 number ", r->client);
    peer_ok(r, "observe %d %s%s", "/5/0/3", NULL);
    peer_expect(r, notify);
    const char *seg = peer_expect(r, "\r\n> ");
    ck_assert_msg(strstr(seg, "data (1 bytes):\r\n            00  ."), "%s", seg);
    ck_assert(until(r, &r->obs_on, 1));
    for (int k = 1; k <= 2; k++) {
        r->state = k;
        lwm2m_client_changed(r->c, 5, 0, 3);
        peer_expect(r, notify);
        seg = peer_expect(r, "\r\n> ");
        char want[64];
        snprintf(want, sizeof want, "data (1 bytes):\r\n            %02X  .", k);
        ck_assert_msg(strstr(seg, "application/vnd.oma.lwm2m+tlv") && strstr(seg, want), "%s", seg);
    }
    /* A change of the instance reaches an observer of the resource too. */
    r->state = 3;
    lwm2m_client_changed(r->c, 5, 0, LWM2M_NO_ID);
    peer_expect(r, notify);
    seg = peer_expect(r, "\r\n> ");
    ck_assert_msg(strstr(seg, "data (1 bytes):\r\n            03  ."), "%s", seg);

    /* Wakaama reports a cancellation answered 2.05 as status 0 ("0.00"). */
    peer_ok(r, "cancel %d %s%s", "/5/0/3", NULL);
    seg = result_of(r, "/5/0/3", "0.00");
    ck_assert_msg(strstr(seg, "text/plain:\r\n    33  3"), "%s", seg);
    ck_assert(until(r, &r->obs_off, 1));
    ck_assert_str_eq(r->log, "");
    rig_close(r);
}
END_TEST

/* Discover, and what the client does not do: Write-Attributes (5.01),
 * Create and Delete (4.05); the client goes on answering after them. */
START_TEST(discovers_and_refuses)
{
    struct rig *r = &the_rig;
    rig_open(r);
    rig_register(r);
    peer_ok(r, "disc %d %s%s", "/5/0", NULL);
    const char *seg = result_of(r, "/5/0", "2.05");
    ck_assert_msg(strstr(seg, "application/link-format:"), "%s", seg);
    ck_assert_msg(strstr(seg, "</5/0>,</5/0/1>,</5/0/2>,</5/0/3>,</5/0/5>"), "%s", seg);
    peer_ok(r, "time %d %s %s", "/5/0/3", "1 10");
    result_of(r, "/5/0/3", "5.01");
    peer_ok(r, "del %d %s%s", "/5/0", NULL);
    result_of(r, "/5/0", "4.05");
    peer_ok(r, "create %d %s %s", "/5", "[{\"bn\":\"/5/1/\",\"n\":\"1\",\"vs\":\"x\"}]");
    result_of(r, "/5", "4.05");
    r->state = 1;
    peer_ok(r, "read %d %s%s", "/5/0/3", NULL);
    seg = result_of(r, "/5/0/3", "2.05");
    ck_assert_msg(strstr(seg, "data (1 bytes):\r\n            01  ."), "%s", seg);
    rig_close(r);
}
END_TEST

static void skip(const char *name)
{
    const char *s = getenv("CK_RUN_SUITE"), *c = getenv("CK_RUN_CASE");
    if ((!s || !*s || strcmp(s, "lwm2m_interop") == 0) && (!c || !*c || strcmp(c, "wakaama") == 0))
        fprintf(
            stderr,
            "SKIP: lwm2m_interop/wakaama/%s: not run: no LwM2M peer at %s (tools/fetch-lwm2m-peer "
            "builds it; or set BCSIM_LWM2M_PEER)\n",
            name, peer_bin());
}

/* Registers the test when the peer is there, else says it is skipped. */
#define ADD(tc, t) (peer_present() ? tcase_add_test(tc, t) : skip(#t))

Suite *lwm2m_interop_suite(void)
{
    Suite *s = suite_create("lwm2m_interop");
    TCase *tc = tcase_create("wakaama");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    ADD(tc, registers_updates_deregisters);
    ADD(tc, reads_tlv);
    ADD(tc, reads_text);
    ADD(tc, writes_text_and_tlv);
    ADD(tc, executes);
    ADD(tc, observes_and_notifies);
    ADD(tc, discovers_and_refuses);
    suite_add_tcase(s, tc);
    return s;
}
