/* bcsim lwm2m-server against a LwM2M client played by the test: a UDP
 * socket of the test's own that sends CoAP datagrams written out byte by
 * byte here (the TLV of OMA-TS-LightweightM2M-V1_0 section 6.4.3 among
 * them) and answers the server's requests, which it checks byte by byte.
 * The server runs as the real binary on a port the kernel picks. */
#include "tests/integration/coap_peer.h"
#include "tests/integration/host.h"
#include "tests/integration/lwm2m_peer.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- The client, by hand ------------------------------------------------------------ */

struct peer {
    int fd;
    struct sockaddr_in to;
};

static void peer_open(struct peer *p, int port)
{
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(p->fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(p->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    p->to = sa;
    p->to.sin_port = htons((uint16_t)port);
}

/* Bytes from hex ("41 02 12 34"), then `text` if given. */
static size_t bytes(uint8_t *out, const char *hex, const char *text)
{
    size_t n = 0;
    for (const char *h = hex; *h;) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned b;
        ck_assert_int_eq(sscanf(h, "%2x", &b), 1);
        out[n++] = (uint8_t)b;
        h += 2;
    }
    if (text) {
        memcpy(out + n, text, strlen(text));
        n += strlen(text);
    }
    return n;
}

static void peer_send(struct peer *p, const uint8_t *d, size_t len)
{
    ck_assert_int_eq(sendto(p->fd, d, len, 0, (struct sockaddr *)&p->to, sizeof p->to),
                     (ssize_t)len);
}

static void peer_send_hex(struct peer *p, const char *hex, const char *text)
{
    uint8_t d[2048];
    peer_send(p, d, bytes(d, hex, text));
}

static size_t peer_recv(struct peer *p, uint8_t *buf, size_t size)
{
    struct pollfd pf = {.fd = p->fd, .events = POLLIN};
    if (poll(&pf, 1, WAIT_MS) != 1 && shown_lws) {
        struct pollfd o = {.fd = shown_lws->out, .events = POLLIN};
        while (poll(&o, 1, 0) == 1 && shown_lws->len < sizeof shown_lws->buf - 1) {
            ssize_t r = read(shown_lws->out, shown_lws->buf + shown_lws->len,
                             sizeof shown_lws->buf - 1 - shown_lws->len);
            if (r <= 0)
                break;
            shown_lws->len += (size_t)r;
        }
        ck_abort_msg("nothing from the server within %d ms after '%s'; it printed: %.*s", WAIT_MS,
                     shown_lws->last, (int)shown_lws->len, shown_lws->buf);
    }
    ssize_t n = recv(p->fd, buf, size, 0);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

/* A datagram from the server must be `hex`. */
static void peer_expect(struct peer *p, const char *hex)
{
    uint8_t want[512], got[2048];
    size_t wn = bytes(want, hex, NULL), gn = peer_recv(p, got, sizeof got);
    char shown[4200] = "";
    for (size_t i = 0; i < gn && i < 1000; i++)
        sprintf(shown + 3 * i, "%02x ", got[i]);
    ck_assert_msg(gn == wn && memcmp(got, want, wn) == 0, "got %s, want %s", shown, hex);
}

/* A request of the server's: confirmable, method `code`, a token, then
 * exactly `rest` (options and payload, hex then text). Keeps the request
 * for the answer. */
struct req {
    uint8_t b[2048];
    size_t len, tkl;
};

static void peer_request(struct peer *p, struct req *r, uint8_t code, const char *rest_hex,
                         const char *rest_text)
{
    r->len = peer_recv(p, r->b, sizeof r->b);
    ck_assert_int_ge(r->len, 4);
    r->tkl = r->b[0] & 0x0f;
    ck_assert_msg((r->b[0] & 0xf0) == 0x40, "not a confirmable CoAP 1 message: %02x", r->b[0]);
    ck_assert_msg(r->tkl >= 1 && r->tkl <= 8, "token length %zu", r->tkl);
    ck_assert_int_eq(r->b[1], code);
    uint8_t want[2048];
    size_t wn = bytes(want, rest_hex, rest_text);
    size_t at = 4 + r->tkl;
    char shown[4200] = "";
    for (size_t i = at; i < r->len && i - at < 1000; i++)
        sprintf(shown + 3 * (i - at), "%02x ", r->b[i]);
    ck_assert_msg(r->len - at == wn && memcmp(r->b + at, want, wn) == 0,
                  "after the token: %s, want %s %s", shown, rest_hex, rest_text ? rest_text : "");
}

/* Answers r: type (0x60 ACK, 0x40 CON, 0x50 NON), code, then options and
 * payload; an ACK takes r's message id, others `mid`. Same token. */
static void peer_answer(struct peer *p, const struct req *r, uint8_t type, uint8_t code,
                        uint16_t mid, const char *hex, const char *text)
{
    uint8_t d[2048];
    d[0] = (uint8_t)(type | r->tkl);
    d[1] = code;
    if (type == 0x60) {
        d[2] = r->b[2];
        d[3] = r->b[3];
    } else {
        d[2] = (uint8_t)(mid >> 8);
        d[3] = (uint8_t)mid;
    }
    memcpy(d + 4, r->b + 4, r->tkl);
    size_t n = 4 + r->tkl;
    n += bytes(d + n, hex, text);
    peer_send(p, d, n);
}

/* Registers `node1` (lt 50, binding U, objects 1, 3, 5), message id 0x1234,
 * token a1: 2.01 Created with Location-Path rd/ID. */
static void register_node1(struct peer *p, struct lws *l, const char *id)
{
    peer_send_hex(p,
                  "41 02 12 34 a1"                 /* CON POST, mid 0x1234, token a1 */
                  " b2 72 64"                      /* Uri-Path rd */
                  " 11 28"                         /* Content-Format 40 */
                  " 38 65 70 3d 6e 6f 64 65 31"    /* Uri-Query ep=node1 */
                  " 05 6c 74 3d 35 30"             /* lt=50 */
                  " 09 6c 77 6d 32 6d 3d 31 2e 30" /* lwm2m=1.0 */
                  " 03 62 3d 55"                   /* b=U */
                  " ff",
                  "</1/0>,</3/0>,</5/0>");
    char want[64];
    snprintf(want, sizeof want, "61 41 12 34 a1 82 72 64 01 %02x", id[0]); /* 2.01, rd/ID */
    peer_expect(p, want);
    char line[512];
    lws_expect(l, "registered ep=node1", line, sizeof line, WAIT_MS);
    char head[64];
    snprintf(head, sizeof head, "registered ep=node1 id=rd/%s lt=50 b=U lwm2m=1.0 addr=", id);
    ck_assert_msg(starts(line, head), "%s", line);
    ck_assert_msg(strstr(line, " objects=</1/0>,</3/0>,</5/0>"), "%s", line);
}

/* ---- Registration ------------------------------------------------------------------ */

START_TEST(test_register_update_deregister)
{
    struct lws l;
    struct peer p;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    /* Update: POST /rd/1?lt=90, a new object list. */
    peer_send_hex(&p, "41 02 00 02 b2 b2 72 64 01 31 11 28 35 6c 74 3d 39 30 ff", "</3/0>,</5/0>");
    peer_expect(&p, "61 44 00 02 b2");
    char line[512];
    lws_expect(&l, "updated ", line, sizeof line, WAIT_MS);
    ck_assert_msg(starts(line, "updated ep=node1 id=rd/1 lt=90 addr=127.0.0.1:"), "%s", line);
    ck_assert_msg(strstr(line, " objects=</3/0>,</5/0>"), "%s", line);
    /* An update with nothing but the path: lifetime kept. */
    peer_send_hex(&p, "41 02 00 03 b3 b2 72 64 01 31", NULL);
    peer_expect(&p, "61 44 00 03 b3");
    lws_expect(&l, "updated ", line, sizeof line, WAIT_MS);
    ck_assert_msg(starts(line, "updated ep=node1 id=rd/1 lt=90 "), "%s", line);
    /* Deregister: DELETE /rd/1, then it is gone. */
    peer_send_hex(&p, "41 04 00 04 b4 b2 72 64 01 31", NULL);
    peer_expect(&p, "61 42 00 04 b4");
    lws_line(&l, "deregistered ep=node1 id=rd/1");
    peer_send_hex(&p, "41 02 00 05 b5 b2 72 64 01 31", NULL);
    peer_expect(&p, "61 84 00 05 b5"); /* 4.04 */
    lws_expect(&l, "error request from", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, ": 4.04 no such registration"), "%s", line);
    /* libcoap's own client registers too. */
    char uri[128];
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%d/rd?ep=x&lt=60", l.port);
    char out[1024];
    int out_fd;
    pid_t c = host_spawn(
        (const char *const[]){"coap-client-notls", "-m", "post", uri, "-e", "</3/0>", NULL},
        &out_fd, NULL);
    host_read_fd(out_fd, out, sizeof out, WAIT_MS, NULL);
    close(out_fd);
    ck_assert_int_eq(host_wait_pid(c, WAIT_MS), 0);
    lws_expect(&l, "registered ep=x ", line, sizeof line, WAIT_MS);
    ck_assert_msg(starts(line, "registered ep=x id=rd/2 lt=60 b=U lwm2m=1.0 addr="), "%s", line);
    ck_assert_msg(strstr(line, " objects=</3/0>"), "%s", line);
    close(p.fd);
    lws_stop(&l);
}
END_TEST

START_TEST(test_reregister_replaces)
{
    struct lws l;
    struct peer p;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    register_node1(&p, &l, "2"); /* the same endpoint again: rd/1 is gone */
    peer_send_hex(&p, "41 02 00 07 c1 b2 72 64 01 31", NULL);
    peer_expect(&p, "61 84 00 07 c1");
    peer_send_hex(&p, "41 02 00 08 c2 b2 72 64 01 32", NULL);
    peer_expect(&p, "61 44 00 08 c2");
    char line[512];
    lws_expect(&l, "updated ", line, sizeof line, WAIT_MS);
    ck_assert_msg(starts(line, "updated ep=node1 id=rd/2 lt=50 "), "%s", line);
    close(p.fd);
    lws_stop(&l);
}
END_TEST

START_TEST(test_expiry)
{
    struct lws l;
    struct peer p;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    /* ep=short, lt=1, no binding: U by default. */
    peer_send_hex(&p, "41 02 00 09 d1 b2 72 64 48 65 70 3d 73 68 6f 72 74 04 6c 74 3d 31 ff",
                  "</3/0>");
    peer_expect(&p, "61 41 00 09 d1 82 72 64 01 31");
    char line[512];
    lws_expect(&l, "registered ep=short id=rd/1 lt=1 b=U ", line, sizeof line, WAIT_MS);
    long t0 = scratch_now_ms();
    lws_line(&l, "expired ep=short id=rd/1 lt=1");
    long took = scratch_now_ms() - t0;
    ck_assert_msg(took >= 500 && took < 5000, "expired after %ld ms", took);
    peer_send_hex(&p, "41 02 00 0a d2 b2 72 64 01 31", NULL);
    peer_expect(&p, "61 84 00 0a d2");
    close(p.fd);
    lws_stop(&l);
}
END_TEST

START_TEST(test_bad_registrations)
{
    struct lws l;
    struct peer p;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    static const struct {
        const char *hex, *payload, *why;
    } bad[] = {
        /* no ep */
        {"41 02 00 10 e0 b2 72 64 45 6c 74 3d 35 30 ff", "</3/0>", "no endpoint name (ep)"},
        /* lt=abc */
        {"41 02 00 11 e1 b2 72 64 44 65 70 3d 61 06 6c 74 3d 61 62 63 ff", "</3/0>",
         "lt is not a lifetime"},
        /* lt=0 */
        {"41 02 00 12 e2 b2 72 64 44 65 70 3d 61 04 6c 74 3d 30 ff", "</3/0>",
         "lt is not a lifetime"},
        /* a link without <> */
        {"41 02 00 13 e3 b2 72 64 44 65 70 3d 61 ff", "/3/0", "does not start with '<'"},
        /* an unclosed link */
        {"41 02 00 14 e4 b2 72 64 44 65 70 3d 61 ff", "</3/0>,</5/0", "closing '>'"},
        /* not an object path */
        {"41 02 00 15 e5 b2 72 64 44 65 70 3d 61 ff", "</3/x>", "not </OBJECT>"},
        /* b=X */
        {"41 02 00 16 e6 b2 72 64 44 65 70 3d 61 03 62 3d 58 ff", "</3/0>",
         "not a LwM2M 1.0 binding"},
        /* lwm2m=1.1 */
        {"41 02 00 17 e7 b2 72 64 44 65 70 3d 61 09 6c 77 6d 32 6d 3d 31 2e 31 ff", "</3/0>",
         "lwm2m is not 1.0"},
        /* ep twice */
        {"41 02 00 18 e8 b2 72 64 44 65 70 3d 61 04 65 70 3d 62 ff", "</3/0>", "given twice"},
        /* no object list */
        {"41 02 00 19 e9 b2 72 64 44 65 70 3d 61", NULL, "an empty object list"},
        /* Content-Format 0, not link format */
        {"41 02 00 1a ea b2 72 64 10 34 65 70 3d 61 ff", "</3/0>", "not application/link-format"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        peer_send_hex(&p, bad[i].hex, bad[i].payload);
        char want[32];
        snprintf(want, sizeof want, "61 80 00 %02zx %02zx", 0x10 + i, 0xe0 + i); /* 4.00 */
        peer_expect(&p, want);
        char line[512];
        lws_expect(&l, "error request from 127.0.0.1:", line, sizeof line, WAIT_MS);
        ck_assert_msg(strstr(line, ": 4.00 ") && strstr(line, bad[i].why), "case %zu: %s", i, line);
    }
    /* Not /rd: 4.04. */
    peer_send_hex(&p, "41 02 00 30 f0 b1 78 44 65 70 3d 61 ff", "</3/0>");
    peer_expect(&p, "61 84 00 30 f0");
    /* Still serving: a registration with the root of rt="oma.lwm2m" and ct=. */
    peer_send_hex(&p, "41 02 00 31 f1 b2 72 64 44 65 70 3d 61 ff",
                  "</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3/0>,</5/0>");
    peer_expect(&p, "61 41 00 31 f1 82 72 64 01 31");
    char line[512];
    lws_expect(&l, "registered ep=a id=rd/1 lt=86400 b=U ", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, " objects=</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3/0>,</5/0>"), "%s",
                  line);
    close(p.fd);
    lws_stop(&l);
}
END_TEST

/* ---- Device management ------------------------------------------------------------ */

/* Object 3 instance 0 as OMA-TS-LightweightM2M-V1_0 6.4.3.1 gives it. */
static const char device_tlv[] =
    "c8 00 14 4f 70 65 6e 20 4d 6f 62 69 6c 65 20 41 6c 6c 69 61 6e 63 65"
    " c8 01 16 4c 69 67 68 74 77 65 69 67 68 74 20 4d 32 4d 20 43 6c 69 65 6e 74"
    " c8 02 09 33 34 35 30 30 30 31 32 33"
    " c3 03 31 2e 30"
    " 86 06 41 00 01 41 01 05"
    " 88 07 08 42 00 0e d8 42 01 13 88"
    " 87 08 41 00 7d 42 01 03 84"
    " c1 09 64"
    " c1 0a 0f"
    " 83 0b 41 00 00"
    " c4 0d 51 82 42 8f"
    " c6 0e 2b 30 32 3a 30 30"
    " c1 10 55";

START_TEST(test_read)
{
    struct lws l;
    struct peer p;
    struct req r;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    /* An instance: Accept TLV (11542 = 0x2d16). */
    lws_cmd(&l, "read node1 /3/0");
    peer_request(&p, &r, 0x01, "b1 33 01 30 62 2d 16", NULL);
    char answer[1024];
    snprintf(answer, sizeof answer, "c2 2d 16 ff %s", device_tlv); /* Content-Format 11542 */
    peer_answer(&p, &r, 0x60, 0x45, 0, answer, NULL);
    static const char *const lines[] = {
        "path=/3/0/0 code=2.05 format=tlv value=Open Mobile Alliance",
        "path=/3/0/1 code=2.05 format=tlv value=Lightweight M2M Client",
        "path=/3/0/2 code=2.05 format=tlv value=345000123",
        "path=/3/0/3 code=2.05 format=tlv value=1.0",
        "path=/3/0/6/0 code=2.05 format=tlv value=1",
        "path=/3/0/6/1 code=2.05 format=tlv value=5",
        "path=/3/0/7/0 code=2.05 format=tlv value=3800",
        "path=/3/0/7/1 code=2.05 format=tlv value=5000",
        "path=/3/0/8/0 code=2.05 format=tlv value=125",
        "path=/3/0/8/1 code=2.05 format=tlv value=900",
        "path=/3/0/9 code=2.05 format=tlv value=100",
        "path=/3/0/10 code=2.05 format=tlv value=15",
        "path=/3/0/11/0 code=2.05 format=tlv value=0",
        "path=/3/0/13 code=2.05 format=tlv value=1367491215",
        "path=/3/0/14 code=2.05 format=tlv value=+02:00",
        "path=/3/0/16 code=2.05 format=tlv value=U",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, "read ep=node1 %s", lines[i]);
        lws_line(&l, want);
    }
    /* The same instance wrapped in an Object Instance TLV (08 00 len). */
    lws_cmd(&l, "read * /3/0");
    peer_request(&p, &r, 0x01, "b1 33 01 30 62 2d 16", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c2 2d 16 ff 08 00 08 c3 03 31 2e 30 c1 09 64", NULL);
    lws_line(&l, "read ep=node1 path=/3/0/3 code=2.05 format=tlv value=1.0");
    lws_line(&l, "read ep=node1 path=/3/0/9 code=2.05 format=tlv value=100");
    /* A resource: no Accept; the client answers text. */
    lws_cmd(&l, "read node1 /5/0/3");
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 33", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c0 ff", "0");
    lws_line(&l, "read ep=node1 path=/5/0/3 code=2.05 format=text value=0");
    /* Text stays text in UTF-8; controls and bytes that are not UTF-8 escaped. */
    lws_cmd(&l, "read node1 /5/0/6");
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 36", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c0 ff 63 61 66 c3 a9 0a ff 5c e2 82", NULL);
    lws_line(
        &l,
        "read ep=node1 path=/5/0/6 code=2.05 format=text value=caf\xc3\xa9\\n\\xff\\\\\\xe2\\x82");
    /* A resource asked as TLV. */
    lws_cmd(&l, "read node1 /5/0/5 tlv");
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 35 62 2d 16", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c2 2d 16 ff c1 05 08", NULL);
    lws_line(&l, "read ep=node1 path=/5/0/5 code=2.05 format=tlv value=8");
    /* Opaque, as hex (Accept 42). */
    lws_cmd(&l, "read node1 /5/0/0 opaque");
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 30 61 2a", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c1 2a ff 00 01 fe", NULL);
    lws_line(&l, "read ep=node1 path=/5/0/0 code=2.05 format=opaque value=0001fe");
    /* A multiple resource's instances. */
    lws_cmd(&l, "read node1 /3/0/6");
    peer_request(&p, &r, 0x01, "b1 33 01 30 01 36", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c2 2d 16 ff 86 06 41 00 01 41 01 05", NULL);
    lws_line(&l, "read ep=node1 path=/3/0/6/0 code=2.05 format=tlv value=1");
    lws_line(&l, "read ep=node1 path=/3/0/6/1 code=2.05 format=tlv value=5");
    /* An error code, then a TLV that runs past its end. */
    lws_cmd(&l, "read node1 /5/0/9");
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 39", NULL);
    peer_answer(&p, &r, 0x60, 0x84, 0, "", NULL);
    lws_line(&l, "read ep=node1 path=/5/0/9 code=4.04");
    lws_line(&l, "error read ep=node1 path=/5/0/9: answered 4.04");
    lws_cmd(&l, "read node1 /3/0");
    peer_request(&p, &r, 0x01, "b1 33 01 30 62 2d 16", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c2 2d 16 ff c3 03 31 2e 30 c8 00 14 4f 70", NULL);
    lws_line(&l, "error read ep=node1 path=/3/0: a TLV that runs past the end of the payload");
    /* Bad commands: one line each, the server goes on. */
    lws_cmd(&l, "read nobody /3/0");
    lws_line(&l, "error read ep=nobody path=/3/0: no such endpoint is registered");
    lws_cmd(&l, "read node1 3/0");
    lws_line(&l, "error '3/0' is not a path /OBJECT[/INSTANCE[/RESOURCE[/INSTANCE]]]");
    lws_cmd(&l, "frobnicate");
    char line[512];
    lws_expect(&l, "error unknown command 'frobnicate'", line, sizeof line, WAIT_MS);
    lws_cmd(&l, "read node1 /5/0/3");
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 33", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c0 ff", "1");
    lws_line(&l, "read ep=node1 path=/5/0/3 code=2.05 format=text value=1");
    close(p.fd);
    lws_stop(&l);
}
END_TEST

START_TEST(test_write_exec)
{
    struct lws l;
    struct peer p;
    struct req r;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    /* The Package URI as text: PUT /5/0/1, Content-Format 0 (empty value). */
    lws_cmd(&l, "write node1 /5/0/1 coap://127.0.0.1:5683/fw.bin");
    peer_request(&p, &r, 0x03, "b1 35 01 30 01 31 10 ff", "coap://127.0.0.1:5683/fw.bin");
    peer_answer(&p, &r, 0x60, 0x44, 0, "", NULL);
    lws_line(&l, "write ep=node1 path=/5/0/1 code=2.04");
    /* A lifetime as TLV: Content-Format 11542, C2 01 01 2C. */
    lws_cmd(&l, "write node1 /1/0/1 300 tlv");
    peer_request(&p, &r, 0x03, "b1 31 01 30 01 31 12 2d 16 ff c2 01 01 2c", NULL);
    peer_answer(&p, &r, 0x60, 0x44, 0, "", NULL);
    lws_line(&l, "write ep=node1 path=/1/0/1 code=2.04");
    /* A string as TLV, 8 bytes and more: a length byte. */
    lws_cmd(&l, "write node1 /5/0/1 \"coap://h/p x\" tlv");
    peer_request(&p, &r, 0x03, "b1 35 01 30 01 31 12 2d 16 ff c8 01 0c", "coap://h/p x");
    peer_answer(&p, &r, 0x60, 0x44, 0, "", NULL);
    lws_line(&l, "write ep=node1 path=/5/0/1 code=2.04");
    /* Opaque from hex: Content-Format 42. */
    lws_cmd(&l, "write node1 /5/0/0 0102ff opaque");
    peer_request(&p, &r, 0x03, "b1 35 01 30 01 30 11 2a ff 01 02 ff", NULL);
    peer_answer(&p, &r, 0x60, 0x44, 0, "", NULL);
    lws_line(&l, "write ep=node1 path=/5/0/0 code=2.04");
    lws_cmd(&l, "write node1 /5/0/0 010 opaque");
    lws_line(&l, "error an opaque value is hex, an even number of digits");
    lws_cmd(&l, "write node1 /5/0 x");
    lws_line(&l, "error write takes a resource path, /OBJECT/INSTANCE/RESOURCE");
    /* Execute: POST /5/0/2, no payload; then one with arguments. */
    lws_cmd(&l, "exec node1 /5/0/2");
    peer_request(&p, &r, 0x02, "b1 35 01 30 01 32", NULL);
    peer_answer(&p, &r, 0x60, 0x44, 0, "", NULL);
    lws_line(&l, "exec ep=node1 path=/5/0/2 code=2.04");
    lws_cmd(&l, "exec node1 /3/0/4 0='x'");
    peer_request(&p, &r, 0x02, "b1 33 01 30 01 34 ff", "0='x'");
    peer_answer(&p, &r, 0x60, 0x85, 0, "", NULL); /* 4.05 */
    lws_line(&l, "exec ep=node1 path=/3/0/4 code=4.05");
    lws_line(&l, "error exec ep=node1 path=/3/0/4: answered 4.05");
    /* A separate answer: an empty ACK, then the answer as CON. */
    lws_cmd(&l, "exec node1 /5/0/2");
    peer_request(&p, &r, 0x02, "b1 35 01 30 01 32", NULL);
    uint8_t ack[4] = {0x60, 0x00, r.b[2], r.b[3]};
    peer_send(&p, ack, 4);
    peer_answer(&p, &r, 0x40, 0x44, 0x7001, "", NULL);
    peer_expect(&p, "60 00 70 01"); /* the server's ACK of it */
    lws_line(&l, "exec ep=node1 path=/5/0/2 code=2.04");
    close(p.fd);
    lws_stop(&l);
}
END_TEST

START_TEST(test_observe_cancel)
{
    struct lws l;
    struct peer p;
    struct req r, obs;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    /* GET /5/0/3 with Observe 0 (option 6, empty). */
    lws_cmd(&l, "observe node1 /5/0/3");
    peer_request(&p, &obs, 0x01, "60 51 35 01 30 01 33", NULL);
    peer_answer(&p, &obs, 0x60, 0x45, 0, "61 05 60 ff", "0"); /* Observe 5, text */
    lws_line(&l, "observe ep=node1 path=/5/0/3 code=2.05 seq=5 format=text value=0");
    /* A confirmable notification is acknowledged; a non-confirmable one too is shown. */
    peer_answer(&p, &obs, 0x40, 0x45, 0x5001, "61 06 60 ff", "1");
    peer_expect(&p, "60 00 50 01");
    lws_line(&l, "notify ep=node1 path=/5/0/3 seq=6 value=1");
    peer_answer(&p, &obs, 0x50, 0x45, 0x5002, "61 07 60 ff", "3");
    lws_line(&l, "notify ep=node1 path=/5/0/3 seq=7 value=3");
    /* The instance, TLV: State and Update Result in one notification. */
    lws_cmd(&l, "observe node1 /5/0");
    struct req inst;
    peer_request(&p, &inst, 0x01, "60 51 35 01 30 62 2d 16", NULL);
    peer_answer(&p, &inst, 0x60, 0x45, 0, "61 01 62 2d 16 ff c1 03 00 c1 05 00", NULL);
    lws_line(&l, "observe ep=node1 path=/5/0/3 code=2.05 seq=1 format=tlv value=0");
    lws_line(&l, "observe ep=node1 path=/5/0/5 code=2.05 seq=1 format=tlv value=0");
    peer_answer(&p, &inst, 0x40, 0x45, 0x5003, "61 02 62 2d 16 ff c1 03 02 c1 05 01", NULL);
    peer_expect(&p, "60 00 50 03");
    lws_line(&l, "notify ep=node1 path=/5/0/3 seq=2 value=2");
    lws_line(&l, "notify ep=node1 path=/5/0/5 seq=2 value=1");
    lws_cmd(&l, "observe node1 /5/0/3");
    lws_line(&l, "error observe ep=node1 path=/5/0/3: that path is observed already");
    /* Cancel: GET with Observe 1 and the observation's token. */
    lws_cmd(&l, "cancel node1 /5/0/3");
    peer_request(&p, &r, 0x01, "61 01 51 35 01 30 01 33", NULL);
    ck_assert_int_eq(r.tkl, obs.tkl);
    ck_assert_int_eq(memcmp(r.b + 4, obs.b + 4, r.tkl), 0);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c0 ff", "3");
    lws_line(&l, "cancel ep=node1 path=/5/0/3 code=2.05");
    /* The observation is forgotten: a late notification gets RST. */
    peer_answer(&p, &obs, 0x40, 0x45, 0x5004, "61 08 60 ff", "4");
    peer_expect(&p, "70 00 50 04");
    lws_cmd(&l, "cancel node1 /5/0/3");
    lws_line(&l, "error cancel ep=node1 path=/5/0/3: no observation of that path on that endpoint");
    /* The other observation goes on. */
    peer_answer(&p, &inst, 0x50, 0x45, 0x5005, "61 03 62 2d 16 ff c1 03 03 c1 05 00", NULL);
    lws_line(&l, "notify ep=node1 path=/5/0/3 seq=3 value=3");
    lws_line(&l, "notify ep=node1 path=/5/0/5 seq=3 value=0");
    close(p.fd);
    lws_stop(&l);
}
END_TEST

START_TEST(test_discover_and_garbage)
{
    struct lws l;
    struct peer p;
    struct req r;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    /* Not CoAP (version 0), a truncated header, GET on /rd: the server goes on. */
    peer_send_hex(&p, "00 62 63 73 69 6d", NULL);
    peer_send_hex(&p, "41", NULL);
    peer_send_hex(&p, "41 01 00 40 f4 b2 72 64", NULL);
    /* libcoap may reset (RST, mid 0) what it cannot parse; then the 4.05. */
    uint8_t d[64];
    size_t n;
    for (int i = 0; (n = peer_recv(&p, d, sizeof d)) == 4 && d[0] == 0x70 && i < 3; i++)
        ;
    uint8_t want[] = {0x61, 0x85, 0x00, 0x40, 0xf4};
    ck_assert_msg(n == sizeof want && memcmp(d, want, n) == 0, "not the 4.05 (%zu bytes)", n);
    char line[512];
    lws_expect(&l, "error request from", line, sizeof line, WAIT_MS);
    ck_assert_msg(strstr(line, ": 4.05 only POST registers on /rd"), "%s", line);
    register_node1(&p, &l, "1");
    /* Discover: GET with Accept 40 (link format). */
    lws_cmd(&l, "discover node1 /5/0");
    peer_request(&p, &r, 0x01, "b1 35 01 30 61 28", NULL);
    peer_answer(&p, &r, 0x60, 0x45, 0, "c1 28 ff", "</5/0/1>,</5/0/2>,</5/0/3>;pmin=10");
    lws_line(&l, "discover ep=node1 path=/5/0 code=2.05 value=</5/0/1>,</5/0/2>,</5/0/3>;pmin=10");
    close(p.fd);
    lws_stop(&l);
}
END_TEST

/* ---- Losses -------------------------------------------------------------------- */

START_TEST(test_retransmission)
{
    struct lws l;
    struct peer p;
    struct req first, again;
    lws_start(&l, NULL);
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    lws_cmd(&l, "read node1 /5/0/3");
    peer_request(&p, &first, 0x01, "b1 35 01 30 01 33", NULL); /* ignored: "lost" */
    long t0 = scratch_now_ms();
    peer_request(&p, &again, 0x01, "b1 35 01 30 01 33", NULL);
    long took = scratch_now_ms() - t0;
    ck_assert_msg(again.len == first.len && memcmp(again.b, first.b, first.len) == 0,
                  "the retransmission is not the same datagram");
    ck_assert_msg(took >= 1500, "retransmitted after %ld ms (ACK_TIMEOUT is 2 s)", took);
    peer_answer(&p, &again, 0x60, 0x45, 0, "c0 ff", "2");
    lws_line(&l, "read ep=node1 path=/5/0/3 code=2.05 format=text value=2");
    /* RST instead of an answer. */
    lws_cmd(&l, "exec node1 /5/0/2");
    struct req r;
    peer_request(&p, &r, 0x02, "b1 35 01 30 01 32", NULL);
    uint8_t rst[4] = {0x70, 0x00, r.b[2], r.b[3]};
    peer_send(&p, rst, 4);
    lws_line(&l, "error exec ep=node1 path=/5/0/2: reset (RST) by the client");
    close(p.fd);
    lws_stop(&l);
}
END_TEST

START_TEST(test_timeout)
{
    struct lws l;
    struct peer p;
    struct req r;
    lws_start(&l, (const char *const[]){"--retransmit", "1", NULL});
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    lws_cmd(&l, "read node1 /5/0/3");
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 33", NULL); /* never answered */
    peer_request(&p, &r, 0x01, "b1 35 01 30 01 33", NULL); /* the one retransmission */
    /* ACK_TIMEOUT 2 s, times up to 1.5, doubled once: given up 6 to 9 s in. */
    char line[256];
    lws_expect(&l, "error ", line, sizeof line, 3 * WAIT_MS);
    ck_assert_str_eq(line,
                     "error read ep=node1 path=/5/0/3: no answer (timeout after retransmissions)");
    close(p.fd);
    lws_stop(&l);
}
END_TEST

/* The first request's message id and token under --seed 7. */
static void first_request(struct req *r)
{
    struct lws l;
    struct peer p;
    lws_start(&l, (const char *const[]){"--seed", "7", NULL});
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    lws_cmd(&l, "read node1 /5/0/3");
    peer_request(&p, r, 0x01, "b1 35 01 30 01 33", NULL);
    peer_answer(&p, r, 0x60, 0x45, 0, "c0 ff", "0");
    lws_line(&l, "read ep=node1 path=/5/0/3 code=2.05 format=text value=0");
    close(p.fd);
    lws_stop(&l);
}

START_TEST(test_seed)
{
    struct req a, b;
    first_request(&a);
    first_request(&b);
    ck_assert_msg(a.len == b.len && memcmp(a.b, b.b, a.len) == 0,
                  "the same seed gave another message id or token");
}
END_TEST

/* ---- Scripts ------------------------------------------------------------------- */

static void write_script(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_script_passes)
{
    char dir[200];
    scratch_make(dir, sizeof dir, "lwsrv-script");
    const char *script = scratch_path(dir, "fota.txt");
    write_script(script, "# card 2 section 6.3, the server's side\n"
                         "wait * registered 20\n"
                         "observe * /5/0/3\n"
                         "write * /5/0/1 coap://127.0.0.1:5683/fw.bin\n"
                         "exec * /5/0/2\n"
                         "wait node1 /5/0/3=1 20\n"
                         "wait * /5/0/3=2 20\n"
                         "\n");
    struct lws l;
    lws_start(&l, (const char *const[]){"--script", script, NULL});
    struct peer p;
    struct req obs, r;
    peer_open(&p, l.port);
    register_node1(&p, &l, "1");
    lws_line(&l, "waited ep=node1 event=registered");
    peer_request(&p, &obs, 0x01, "60 51 35 01 30 01 33", NULL);
    peer_answer(&p, &obs, 0x60, 0x45, 0, "61 01 60 ff", "0");
    peer_request(&p, &r, 0x03, "b1 35 01 30 01 31 10 ff", "coap://127.0.0.1:5683/fw.bin");
    peer_answer(&p, &r, 0x60, 0x44, 0, "", NULL);
    peer_request(&p, &r, 0x02, "b1 35 01 30 01 32", NULL);
    peer_answer(&p, &r, 0x60, 0x44, 0, "", NULL);
    /* Both notifications before the waits run: each meets one, in order. */
    peer_answer(&p, &obs, 0x50, 0x45, 0x6001, "61 02 60 ff", "1");
    peer_answer(&p, &obs, 0x50, 0x45, 0x6002, "61 03 60 ff", "2");
    lws_line(&l, "observe ep=node1 path=/5/0/3 code=2.05 seq=1 format=text value=0");
    lws_line(&l, "write ep=node1 path=/5/0/1 code=2.04");
    lws_line(&l, "exec ep=node1 path=/5/0/2 code=2.04");
    lws_line(&l, "notify ep=node1 path=/5/0/3 seq=2 value=1");
    lws_expect(&l, "waited ep=node1 event=/5/0/3=1", (char[256]){0}, 256, WAIT_MS);
    lws_expect(&l, "waited ep=node1 event=/5/0/3=2", (char[256]){0}, 256, WAIT_MS);
    ck_assert_int_eq(lws_exit(&l, WAIT_MS), 0);
    close(p.fd);
    lws_stop(&l);
    scratch_remove(dir);
}
END_TEST

START_TEST(test_script_fails)
{
    char dir[200];
    scratch_make(dir, sizeof dir, "lwsrv-script");
    const char *script = scratch_path(dir, "late.txt");
    write_script(script, "sleep 0.1\nwait * registered 0.5\nquit\n");
    struct lws l;
    lws_start(&l, (const char *const[]){"--script", script, NULL});
    lws_line(&l, "error wait ep=* event=registered: timed out after 0.5 s");
    ck_assert_int_eq(lws_exit(&l, WAIT_MS), 1);
    lws_stop(&l);
    /* A request that fails fails the script too. */
    write_script(script, "read nobody /3/0\nquit\n");
    lws_start(&l, (const char *const[]){"--script", script, NULL});
    lws_line(&l, "error read ep=nobody path=/3/0: no such endpoint is registered");
    ck_assert_int_eq(lws_exit(&l, WAIT_MS), 1);
    lws_stop(&l);
    /* A line that does not parse: usage, before listening. */
    write_script(script, "wait * registered\nread * /3/x\n");
    char out[1024];
    int rc = bcsim_run_once(
        (const char *const[]){"lwm2m-server", "--port", "0", "--script", script, NULL}, out,
        sizeof out, WAIT_MS);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(out, "late.txt line 2: '/3/x' is not a path") && !strstr(out, "listening"),
                  "%s", out);
    scratch_remove(dir);
}
END_TEST

START_TEST(test_usage)
{
    char out[2048];
    ck_assert_int_eq(
        bcsim_run_once((const char *const[]){"lwm2m-server", "--retransmit", "0", NULL}, out,
                       sizeof out, WAIT_MS),
        2);
    ck_assert_msg(strstr(out, "--retransmit '0': expected a whole number from 1 to 10"), "%s", out);
    ck_assert_int_eq(
        bcsim_run_once((const char *const[]){"lwm2m-server", "--address", "nowhere", NULL}, out,
                       sizeof out, WAIT_MS),
        2);
    ck_assert_msg(strstr(out, "--address nowhere: not an IPv4 or IPv6 literal"), "%s", out);
    /* A port the test holds: 3, with the reason. */
    struct peer held;
    peer_open(&held, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(held.fd, (struct sockaddr *)&sa, &len), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
    ck_assert_int_eq(bcsim_run_once((const char *const[]){"lwm2m-server", "--port", port, NULL},
                                    out, sizeof out, WAIT_MS),
                     3);
    ck_assert_msg(strstr(out, "address already in use") && !strstr(out, "listening"), "%s", out);
    close(held.fd);
    ck_assert_int_eq(bcsim_run_once((const char *const[]){"help", "lwm2m-server", NULL}, out,
                                    sizeof out, WAIT_MS),
                     0);
    ck_assert_msg(strstr(out, "usage: bcsim lwm2m-server"), "%s", out);
}
END_TEST

Suite *lwm2m_server_suite(void)
{
    Suite *s = suite_create("lwm2m_server");
    TCase *tc = tcase_create("lwm2m_server");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_register_update_deregister);
    tcase_add_test(tc, test_reregister_replaces);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_bad_registrations);
    tcase_add_test(tc, test_read);
    tcase_add_test(tc, test_write_exec);
    tcase_add_test(tc, test_observe_cancel);
    tcase_add_test(tc, test_discover_and_garbage);
    tcase_add_test(tc, test_retransmission);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_seed);
    tcase_add_test(tc, test_script_passes);
    tcase_add_test(tc, test_script_fails);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    return s;
}
