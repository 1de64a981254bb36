/* CoAP DFOTA on the BC260Y-CN end to end (card 1 chapters 2 and 7.1): the
 * real binary against libcoap's own coap-server-notls and against UDP peers
 * of the test's own, every CoAP-path result code from a real cause, a lossy
 * link, and power cuts while downloading and while updating. */
#include "tests/integration/coap_peer.h"
#include "tests/integration/fota_flow.h"
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OLD_REV "BC260YCNAAR02A02"
#define NEW_REV "BC260YCNAAR02A03"
#define COAPEND "+QIND: \"FOTA\",\"COAPEND\","
#define URL_FMT "coap://127.0.0.1:%d/update.zip"

static char dir[] = "/tmp/bcsim-coap-XXXXXX";
static struct coap_peer peer = {.pid = -1, .fd = -1};

static const char *path(const char *name)
{
    return scratch_path(dir, name);
}

static void setup(void)
{
    scratch_make(dir, sizeof dir, "coap");
    ck_assert_int_eq(mkdir(path("www"), 0755), 0);
}

static void stop_serving(void);

static void teardown(void)
{
    stop_serving();
    coap_peer_stop(&peer);
    scratch_remove(dir);
}

/* www/update.zip from the old revision to the new one (or a broken variant),
 * stored on coap-server-notls as /update.zip. */
static void libcoap_serving(const char *breakage, const char *loss)
{
    flow_package(dir, "bc260y-cn", OLD_REV, NEW_REV, "update.zip", breakage);
    coap_peer_libcoap(&peer, loss, path("coap-server.err"), path("www/update.zip"), "update.zip");
}

static void send_url(struct host *h, const char *fmt, int port)
{
    char url[300], cmd[400];
    snprintf(url, sizeof url, fmt, port);
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"%s\"\r", url);
    host_send(h, cmd);
}

/* OK, COAPSTART and nothing else up to COAPEND (card 1 shows no progress on
 * this path); returns the COAPEND line. */
static void coap_download(struct host *h, char *line, size_t size)
{
    flow_expect_line(h, "OK");
    flow_expect_line(h, "+QIND: \"FOTA\",\"COAPSTART\"");
    flow_next_line(h, line, size);
    ck_assert_msg(strncmp(line, COAPEND, strlen(COAPEND)) == 0, "after COAPSTART: '%s'", line);
}

/* ---- Card 1, section 7.1, line for line --------------------------------------------- */

START_TEST(card1_coap_replay)
{
    libcoap_serving(NULL, NULL);
    char map[64];
    snprintf(map, sizeof map, "www.quectel.com:100=127.0.0.1:%d", peer.port);
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    flow_start_module(&p, &h, "bc260y-cn", (const char *[]){"--resolve", map, NULL});
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_cmd(&h, "AT+CESQ", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\n+CESQ: 99,99,255,255,23,49\r\n\r\nOK\r\n");
    host_cmd(&h, "AT+CEREG?", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    host_cmd(&h, "AT+CPIN?", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    host_cmd(&h, "AT+CGPADDR?", buf, sizeof buf);
    ck_assert_msg(strncmp(buf, "\r\n+CGPADDR: 0,\"100.", 19) == 0, "%s", host_show(buf));
    host_send(&h, "AT+QFOTADL=\"coap://www.quectel.com:100/update.zip\"\r");
    coap_download(&h, line, sizeof line);
    ck_assert_str_eq(line, COAPEND "0");
    flow_expect_update(&h, false, true);
    flow_revision_is(&h, NEW_REV);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* Card 1 gives 80 as CoAP's default port: the map only matches port 80. */
START_TEST(default_port_is_80)
{
    libcoap_serving(NULL, NULL);
    char map[64];
    snprintf(map, sizeof map, "fw.example:80=127.0.0.1:%d", peer.port);
    struct bcsim_proc p;
    struct host h;
    char buf[256], line[512];
    flow_start_module(&p, &h, "bc260y-cn", (const char *[]){"--resolve", map, NULL});
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_send(&h, "AT+QFOTADL=\"COAP://fw.example/update.zip\"\r");
    coap_download(&h, line, sizeof line);
    ck_assert_str_eq(line, COAPEND "0");
    flow_expect_update(&h, false, true);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* 10% of the server's datagrams lost: libcoap's retransmissions carry it. */
START_TEST(lossy_link_still_updates)
{
    libcoap_serving(NULL, "10%");
    struct bcsim_proc p;
    struct host h;
    char buf[256], line[512];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    send_url(&h, "coap://127.0.0.1:%d/update.zip", peer.port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"COAPSTART\"");
    /* Each lost answer costs an acknowledgement timeout (1 to 1.5 s here). */
    host_expect(&h, COAPEND "0\r\n", line, sizeof line, 100000);
    flow_expect_update(&h, false, true);
    flow_revision_is(&h, NEW_REV);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- bcsim serve's CoAP server: other block sizes, and its faults ---------------- */

static struct bcsim_proc server;

/* www/update.zip from bcsim serve --coap-port 0 with `fault` (or none). */
static int bcsim_serving(const char *breakage, const char *fault)
{
    flow_package(dir, "bc260y-cn", OLD_REV, NEW_REV, "update.zip", breakage);
    int coap_port = 0;
    memset(&server, 0, sizeof server);
    bcsim_serve_coap(&server, path("www"),
                     fault ? (const char *[]){"--coap-fault", fault, NULL} : NULL, &coap_port);
    ck_assert_int_gt(coap_port, 0);
    return coap_port;
}

static void stop_serving(void)
{
    if (server.pid > 0)
        bcsim_halt(&server);
    server.pid = 0;
}

/* The module asks for 256-byte blocks; the server answers with its own size. */
static const char *const block_faults[] = {NULL, "block=64", "block=1024", "drop=7"};

START_TEST(bcsim_serve_updates)
{
    int port = bcsim_serving(NULL, block_faults[_i]);
    struct bcsim_proc p;
    struct host h;
    char buf[256], line[512];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    send_url(&h, URL_FMT, port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"COAPSTART\"");
    /* drop=7 costs an acknowledgement timeout now and then. */
    host_expect(&h, COAPEND "0\r\n", line, sizeof line, 100000);
    flow_expect_update(&h, false, true);
    flow_revision_is(&h, NEW_REV);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
    stop_serving();
}
END_TEST

static const struct {
    const char *fault;
    const char *coapend;
} serve_faults[] = {
    {"code=5.03", COAPEND "12"},
    {"code=4.04", COAPEND "12"},
    {"etag=3", COAPEND "12"},
    {"garbage=2", COAPEND "1"},
};

START_TEST(bcsim_serve_faults)
{
    int port = bcsim_serving(NULL, serve_faults[_i].fault);
    struct bcsim_proc p;
    struct host h;
    char buf[256], line[512];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    send_url(&h, URL_FMT, port);
    coap_download(&h, line, sizeof line);
    ck_assert_msg(strcmp(line, serve_faults[_i].coapend) == 0, "%s: %s", serve_faults[_i].fault,
                  line);
    host_drain(&h, buf, sizeof buf, 200);
    ck_assert_msg(!strstr(buf, "START"), "%s", host_show(buf));
    flow_revision_is(&h, OLD_REV);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
    stop_serving();
}
END_TEST

/* ---- Result codes from real causes -------------------------------------------------- */

/* Hand-made CoAP for the scripted peers (RFC 7252 section 3, RFC 7959). */
struct coap_req {
    unsigned mid, tkl, num, szx;
    unsigned char token[8];
};

static bool parse_req(const unsigned char *b, size_t len, struct coap_req *r)
{
    if (len < 4 || (b[0] >> 6) != 1)
        return false;
    r->tkl = b[0] & 15;
    r->mid = (unsigned)b[2] << 8 | b[3];
    if (r->tkl > 8 || 4 + r->tkl > len)
        return false;
    memcpy(r->token, b + 4, r->tkl);
    r->num = 0;
    r->szx = 6;
    unsigned opt = 0;
    for (size_t i = 4 + r->tkl; i < len && b[i] != 0xff;) {
        unsigned delta = b[i] >> 4, olen = b[i] & 15;
        i++;
        if (delta == 13)
            delta = 13 + b[i++];
        else if (delta == 14) {
            delta = 269 + ((unsigned)b[i] << 8 | b[i + 1]);
            i += 2;
        }
        if (olen == 13)
            olen = 13 + b[i++];
        opt += delta;
        if (opt == 23) { /* Block2 */
            unsigned v = 0;
            for (unsigned k = 0; k < olen; k++)
                v = v << 8 | b[i + k];
            r->num = v >> 4;
            r->szx = v & 7;
        }
        i += olen;
    }
    return true;
}

/* A piggybacked 2.05 with ETag, Block2 and Size2, and `n` payload bytes. */
static size_t block_answer(const struct coap_req *r, unsigned char etag, unsigned num, bool more,
                           unsigned size2, size_t n, unsigned char *out)
{
    size_t i = 0;
    out[i++] = (unsigned char)(0x60 | r->tkl); /* ACK */
    out[i++] = 0x45;                           /* 2.05 */
    out[i++] = (unsigned char)(r->mid >> 8);
    out[i++] = (unsigned char)r->mid;
    memcpy(out + i, r->token, r->tkl);
    i += r->tkl;
    out[i++] = 0x41; /* ETag (4), 1 byte */
    out[i++] = etag;
    out[i++] = 0x81; /* Content-Format (12) */
    out[i++] = 42;
    unsigned block = num << 4 | (more ? 8u : 0u) | r->szx;
    out[i++] = 0xb2; /* Block2 (23), 2 bytes */
    out[i++] = (unsigned char)(block >> 8);
    out[i++] = (unsigned char)block;
    out[i++] = 0x52; /* Size2 (28), 2 bytes */
    out[i++] = (unsigned char)(size2 >> 8);
    out[i++] = (unsigned char)size2;
    out[i++] = 0xff;
    memset(out + i, 0x5a, n);
    return i + n;
}

#define SCRIPT_SIZE 4096 /* the body the scripted peers pretend to have */

static size_t block_bytes(const struct coap_req *r, unsigned num)
{
    size_t bs = (size_t)16 << r->szx, off = num * bs;
    return off >= SCRIPT_SIZE ? 0 : SCRIPT_SIZE - off < bs ? SCRIPT_SIZE - off : bs;
}

/* Not CoAP at all: the version bits are 0. */
static size_t garbage(const unsigned char *req, size_t len, unsigned char *out, size_t size)
{
    (void)req;
    (void)len;
    const char text[] = "\0\0\0\0this is not CoAP";
    memcpy(out, text, sizeof text < size ? sizeof text : size);
    return sizeof text;
}

/* Block 0 asked, block 1 answered: the offsets do not add up. */
static size_t jumping(const unsigned char *req, size_t len, unsigned char *out, size_t size)
{
    (void)size;
    struct coap_req r;
    if (!parse_req(req, len, &r))
        return 0;
    return block_answer(&r, 1, r.num + 1, true, SCRIPT_SIZE, block_bytes(&r, r.num + 1), out);
}

/* The resource changes under the transfer: another ETag from block 2 on. */
static size_t changing(const unsigned char *req, size_t len, unsigned char *out, size_t size)
{
    (void)size;
    struct coap_req r;
    if (!parse_req(req, len, &r))
        return 0;
    size_t n = block_bytes(&r, r.num);
    bool more = ((size_t)r.num + 1) * ((size_t)16 << r.szx) < SCRIPT_SIZE;
    return block_answer(&r, r.num >= 2 ? 2 : 1, r.num, more, SCRIPT_SIZE, n, out);
}

enum peer_kind { LIBCOAP, REFUSED, SILENT, GARBAGE, JUMPING, CHANGING };

struct failure {
    const char *url; /* %d: the peer's port */
    enum peer_kind peer;
    const char *breakage; /* package variant, for LIBCOAP */
    const char *ctl[4];   /* a control command before the download */
    const char *coapend;
    const char *end; /* the END line, if any */
};

static void run_failure(const struct failure *f)
{
    switch (f->peer) {
    case LIBCOAP:
        libcoap_serving(f->breakage, NULL);
        break;
    case REFUSED:
        peer.port = coap_peer_refused_port();
        break;
    case SILENT:
        coap_peer_silent(&peer);
        break;
    case GARBAGE:
        coap_peer_scripted(&peer, garbage);
        break;
    case JUMPING:
        coap_peer_scripted(&peer, jumping);
        break;
    case CHANGING:
        coap_peer_scripted(&peer, changing);
        break;
    }
    struct bcsim_proc p;
    struct host h;
    char buf[1024], line[512];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    if (f->ctl[0]) {
        char o[512];
        ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, f->ctl), 0);
    }
    send_url(&h, f->url, peer.port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"COAPSTART\"");
    /* A silent peer is given up only after libcoap's retransmissions. */
    host_expect(&h, COAPEND, buf, sizeof buf, 120000);
    ck_assert_msg(strcmp(buf, "\r\n" COAPEND) == 0, "before COAPEND: '%s'", host_show(buf));
    char code[64];
    host_expect(&h, "\r\n", code, sizeof code, HOST_TIMEOUT_MS);
    snprintf(line, sizeof line, COAPEND "%s", code);
    line[strlen(line) - 2] = '\0';
    ck_assert_msg(strcmp(line, f->coapend) == 0, "expected '%s', got '%s'", f->coapend, line);
    if (f->end)
        flow_expect_line(&h, f->end);
    host_drain(&h, buf, sizeof buf, 200);
    ck_assert_msg(!strstr(buf, "START"), "%s", host_show(buf));
    flow_revision_is(&h, OLD_REV);
    ck_assert(bcsim_status_has(&p, "\"fota\":\"idle\""));
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}

#define URL    URL_FMT
#define END(n) "+QIND: \"FOTA\",\"END\"," #n

static const struct failure failures[] = {
    {"coap://127.0.0.1:%d/missing.zip", LIBCOAP, NULL, {0}, COAPEND "12", NULL}, /* 4.04 */
    {URL, REFUSED, NULL, {0}, COAPEND "12", NULL},  /* ICMP port unreachable */
    {URL, GARBAGE, NULL, {0}, COAPEND "1", NULL},   /* an answer that is not CoAP */
    {URL, JUMPING, NULL, {0}, COAPEND "12", NULL},  /* blocks that do not add up */
    {URL, CHANGING, NULL, {0}, COAPEND "12", NULL}, /* another ETag mid-transfer */
    {"coap://no-such-host.invalid/update.zip", REFUSED, NULL, {0}, COAPEND "2", NULL},
    {URL, LIBCOAP, NULL, {"net", "detach"}, COAPEND "99", NULL},
    {URL, LIBCOAP, NULL, {"fault", "flash-capacity", "8192"}, COAPEND "101", NULL},
    {URL, LIBCOAP, NULL, {"fault", "flash-program"}, COAPEND "100", NULL},
    {URL, LIBCOAP, "corrupt", {0}, COAPEND "0", END(255)},
    {URL, LIBCOAP, "wrong-base", {0}, COAPEND "0", END(255)},
};

START_TEST(result_codes)
{
    run_failure(&failures[_i]);
}
END_TEST

/* A peer that never answers: libcoap's confirmable retransmissions run out
 * (about 31-46 s with its 1 s least acknowledgement timeout). */
START_TEST(retransmissions_exhausted)
{
    static const struct failure silent = {URL, SILENT, NULL, {0}, COAPEND "12", NULL};
    run_failure(&silent);
}
END_TEST

/* ---- The network and the power going away ------------------------------------------ */

/* A slow download, and the moment its first bytes have arrived. */
static void start_slow_download(struct bcsim_proc *p, struct host *h)
{
    libcoap_serving(NULL, NULL);
    /* 39 KB at 1000 B/s, ten times fast: about 4 s of download. */
    flow_start_paced(p, h, "bc260y-cn", "1000", "10");
    send_url(h, URL, peer.port);
    flow_expect_line(h, "OK");
    flow_expect_line(h, "+QIND: \"FOTA\",\"COAPSTART\"");
    for (int i = 0; i < 1000 && bcsim_status_long(p, "downloaded") <= 0; i++)
        usleep(10000);
    ck_assert_int_gt(bcsim_status_long(p, "downloaded"), 0);
    ck_assert(bcsim_status_has(p, "\"fota\":\"downloading\""));
}

START_TEST(network_lost_mid_download)
{
    struct bcsim_proc p;
    struct host h;
    char o[256];
    start_slow_download(&p, &h);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"net", "detach", NULL}), 0);
    flow_expect_line(&h, COAPEND "13");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

START_TEST(power_cut_while_downloading)
{
    struct bcsim_proc p;
    struct host h;
    char buf[4096], o[256];
    start_slow_download(&p, &h);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    ck_assert(bcsim_status_wait(&p, "\"power\":\"off\"", HOST_TIMEOUT_MS));
    host_drain(&h, buf, sizeof buf, 0);
    flow_power_on_old_firmware(&p, &h, OLD_REV);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* The flash's power-cut fault hits while a block is being written, inside
 * libcoap's answer handler: the module goes off and boots the old firmware. */
START_TEST(flash_cut_while_downloading)
{
    libcoap_serving(NULL, NULL);
    struct bcsim_proc p;
    struct host h;
    char buf[4096], o[256];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"fault", "flash-cut", "4", NULL}),
                     0);
    send_url(&h, URL, peer.port);
    flow_expect_line(&h, "OK");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"COAPSTART\"");
    ck_assert(bcsim_status_wait(&p, "\"power\":\"off\"", HOST_TIMEOUT_MS));
    host_drain(&h, buf, sizeof buf, 0);
    ck_assert_msg(!strstr(buf, "COAPEND"), "%s", host_show(buf));
    flow_power_on_old_firmware(&p, &h, OLD_REV);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A second AT+QFOTADL while one downloads: card 1 has no busy code. */
START_TEST(busy_while_downloading)
{
    struct bcsim_proc p;
    struct host h;
    char buf[512];
    start_slow_download(&p, &h);
    snprintf(buf, sizeof buf, "AT+QFOTADL=\"coap://127.0.0.1:%d/update.zip\"", peer.port);
    host_cmd(&h, buf, buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nERROR\r\n");
    ck_assert(bcsim_status_has(&p, "\"fota\":\"downloading\""));
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

START_TEST(power_cut_while_updating)
{
    libcoap_serving(NULL, NULL);
    struct bcsim_proc p;
    struct host h;
    char buf[4096], line[512], o[512];
    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    /* The download takes some 20 flash operations; the update some 200. */
    ck_assert_int_eq(
        bcsim_ctl(&p, o, sizeof o, (const char *[]){"fault", "flash-cut", "120", NULL}), 0);
    send_url(&h, URL, peer.port);
    coap_download(&h, line, sizeof line);
    ck_assert_str_eq(line, COAPEND "0");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    ck_assert(bcsim_status_wait(&p, "\"power\":\"off\"", 30000));
    host_drain(&h, buf, sizeof buf, 0);
    ck_assert_int_eq(bcsim_ctl(&p, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    flow_expect_line(&h, "+QIND: \"FOTA\",\"START\"");
    flow_next_line(&h, line, sizeof line);
    ck_assert_msg(strncmp(line, "+QIND: \"FOTA\",\"UPDATING\",", 25) == 0, "%s", line);
    ck_assert_int_gt(atoi(line + 25), 0);
    flow_finish_resumed(&h, NEW_REV);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- What the models take -------------------------------------------------------- */

/* The BC66 family fetches over CoAP only for an LwM2M server; the BC260Y-CN
 * has no CoAPS. */
START_TEST(schemes_per_model)
{
    struct bcsim_proc p;
    struct host h;
    char buf[512];
    flow_start_module(&p, &h, _i ? "bc66-na" : "bc66", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_cmd(&h, "AT+QFOTADL=\"coap://127.0.0.1:5683/update.zip\"", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nERROR\r\n");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);

    flow_start_module(&p, &h, "bc260y-cn", NULL);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    host_cmd(&h, "AT+QFOTADL=\"coaps://127.0.0.1:5684/update.zip\"", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nOK\r\n");
    flow_expect_line(&h, "+QIND: \"FOTA\",\"NOTSUPPORT\"");
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

Suite *coap_fota_suite(void)
{
    Suite *s = suite_create("coap_fota");
    TCase *slow = tcase_create("silent");
    tcase_add_checked_fixture(slow, setup, teardown);
    tcase_set_timeout(slow, 180);
    tcase_add_test(slow, retransmissions_exhausted);
    suite_add_tcase(s, slow);
    TCase *tc = tcase_create("coap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, card1_coap_replay);
    tcase_add_test(tc, default_port_is_80);
    tcase_add_test(tc, lossy_link_still_updates);
    tcase_add_loop_test(tc, bcsim_serve_updates, 0, sizeof block_faults / sizeof block_faults[0]);
    tcase_add_loop_test(tc, bcsim_serve_faults, 0, sizeof serve_faults / sizeof serve_faults[0]);
    tcase_add_loop_test(tc, result_codes, 0, sizeof failures / sizeof failures[0]);
    tcase_add_test(tc, network_lost_mid_download);
    tcase_add_test(tc, power_cut_while_downloading);
    tcase_add_test(tc, busy_while_downloading);
    tcase_add_test(tc, flash_cut_while_downloading);
    tcase_add_test(tc, power_cut_while_updating);
    tcase_add_loop_test(tc, schemes_per_model, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
