/* The LwM2M client core (proto/lwm2m/): its TLV and text codecs against
 * bytes written out by hand from OMA-TS-LightweightM2M-V1_0 (6.4), and the
 * client itself in this process, on a libuv loop of the test's own, against
 * a UDP socket the test binds on loopback (port 0) and speaks through in
 * datagrams written here byte by byte, never with the client's encoders. */
#include "proto/lwm2m/lwm2m_client.h"
#include "proto/lwm2m/lwm2m_text.h"
#include "proto/lwm2m/lwm2m_tlv.h"
#include "tests/integration/host.h"
#include "tests/integration/suites.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A string literal as bytes and length (split literals where a hex escape
 * is followed by a hex digit). */
#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len,
                         const char *what)
{
    if (got_len == want_len && memcmp(got, want, want_len) == 0)
        return;
    char g[1600] = "", w[1600] = "";
    for (size_t k = 0; k < got_len && k < 500; k++)
        snprintf(g + strlen(g), sizeof g - strlen(g), "%02X ", got[k]);
    for (size_t k = 0; k < want_len && k < 500; k++)
        snprintf(w + strlen(w), sizeof w - strlen(w), "%02X ", want[k]);
    ck_abort_msg("%s:\n got  %s\n want %s", what, g, w);
}

/* ---- TLV ------------------------------------------------------------------- */

/* The Device object instance of TS 1.0 6.4.3.1's example (Manufacturer
 * "Open Mobile Alliance" ... Binding "U"), resource by resource. */
static const uint8_t device_tlv[] = {
    0xC8, 0x00, 0x14, 'O',  'p',  'e',  'n',  ' ',  'M',  'o',  'b',  'i', 'l',
    'e',  ' ',  'A',  'l',  'l',  'i',  'a',  'n',  'c',  'e', /* 0 Manufacturer */
    0xC8, 0x01, 0x16, 'L',  'i',  'g',  'h',  't',  'w',  'e',  'i',  'g', 'h',
    't',  ' ',  'M',  '2',  'M',  ' ',  'C',  'l',  'i',  'e',  'n',  't', /* 1 Model Number */
    0xC8, 0x02, 0x09, '3',  '4',  '5',  '0',  '0',  '0',  '1',  '2',  '3', /* 2 Serial Number */
    0xC3, 0x03, '1',  '.',  '0',                                           /* 3 Firmware Version */
    0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05,                   /* 6 Power Sources 1, 5 */
    0x88, 0x07, 0x08, 0x42, 0x00, 0x0E, 0xD8, 0x42, 0x01, 0x13, 0x88, /* 7 voltages 3800, 5000 */
    0x87, 0x08, 0x41, 0x00, 0x7D, 0x42, 0x01, 0x03, 0x84,             /* 8 currents 125, 900 */
    0xC1, 0x09, 0x64,                                                 /* 9 Battery Level 100 */
    0xC1, 0x0A, 0x0F,                                                 /* 10 Memory Free 15 */
    0x83, 0x0B, 0x41, 0x00, 0x00,                                     /* 11 Error Code 0 */
    0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F,            /* 13 Current Time 1367491215 */
    0xC6, 0x0E, '+',  '0',  '2',  ':',  '0',  '0', /* 14 UTC Offset */
    0xC1, 0x10, 'U',                               /* 16 Binding */
};

static struct lwm2m_value str(const char *s)
{
    return (struct lwm2m_value){LWM2M_STRING, {.bytes = {(const uint8_t *)s, strlen(s)}}};
}

static struct lwm2m_value num(int64_t i)
{
    return (struct lwm2m_value){LWM2M_INTEGER, {.i = i}};
}

static int put(struct lwm2m_buf *b, uint16_t id, struct lwm2m_value v)
{
    return lwm2m_tlv_put_value(b, LWM2M_TLV_RESOURCE, id, &v);
}

START_TEST(tlv_device_example_encodes)
{
    static const uint16_t two[] = {0, 1};
    const struct lwm2m_value sources[] = {num(1), num(5)}, volts[] = {num(3800), num(5000)},
                             amps[] = {num(125), num(900)}, errs[] = {num(0)};
    struct lwm2m_value multi = {LWM2M_MULTIPLE, {.multi = {two, sources, 2}}};
    uint8_t out[512];
    struct lwm2m_buf b = {out, sizeof out, 0, false};
    struct lwm2m_value v;
    ck_assert_int_eq(put(&b, 0, str("Open Mobile Alliance")), 0);
    put(&b, 1, str("Lightweight M2M Client"));
    put(&b, 2, str("345000123"));
    put(&b, 3, str("1.0"));
    lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 6, &multi);
    multi.u.multi.vals = volts;
    lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 7, &multi);
    multi.u.multi.vals = amps;
    lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 8, &multi);
    put(&b, 9, num(100));
    put(&b, 10, num(15));
    multi.u.multi.vals = errs;
    multi.u.multi.n = 1;
    lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 11, &multi);
    v = (struct lwm2m_value){LWM2M_TIME, {.i = 1367491215}};
    lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 13, &v);
    put(&b, 14, str("+02:00"));
    put(&b, 16, str("U"));
    ck_assert(!b.overflow);
    assert_bytes(out, b.len, device_tlv, sizeof device_tlv, "Device instance");

    /* The same wrapped as object instance 0 (an 8-bit length: 121 bytes). */
    uint8_t wrapped[600];
    struct lwm2m_buf w = {wrapped, sizeof wrapped, 0, false};
    size_t mark = lwm2m_tlv_begin(&w); /* room for the longest header */
    memcpy(wrapped + w.len, device_tlv, sizeof device_tlv);
    w.len += sizeof device_tlv;
    lwm2m_tlv_end(&w, mark, LWM2M_TLV_OBJECT_INSTANCE, 0);
    ck_assert_uint_eq(w.len, 3 + sizeof device_tlv);
    assert_bytes(wrapped, 3, S("\x08\x00\x79"), "object instance header");
    assert_bytes(wrapped + 3, w.len - 3, device_tlv, sizeof device_tlv, "object instance body");
}
END_TEST

START_TEST(tlv_device_example_decodes)
{
    ck_assert(lwm2m_tlv_valid(device_tlv, sizeof device_tlv));
    const uint8_t *p = device_tlv, *end = device_tlv + sizeof device_tlv;
    struct lwm2m_tlv e;
    static const uint16_t ids[] = {0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 14, 16};
    size_t n = 0;
    while (lwm2m_tlv_next(&p, end, &e) == 1) {
        ck_assert_uint_lt(n, sizeof ids / sizeof ids[0]);
        ck_assert_uint_eq(e.id, ids[n]);
        struct lwm2m_value v;
        if (e.id == 0) {
            ck_assert_int_eq(e.kind, LWM2M_TLV_RESOURCE);
            ck_assert_int_eq(lwm2m_tlv_decode(e.value, e.len, LWM2M_STRING, &v), 0);
            ck_assert_uint_eq(v.u.bytes.len, 20);
            ck_assert(memcmp(v.u.bytes.p, "Open Mobile Alliance", 20) == 0);
        } else if (e.id == 7) {
            ck_assert_int_eq(e.kind, LWM2M_TLV_MULTIPLE);
            const uint8_t *q = e.value;
            struct lwm2m_tlv ri;
            ck_assert_int_eq(lwm2m_tlv_next(&q, e.value + e.len, &ri), 1);
            ck_assert_int_eq(ri.kind, LWM2M_TLV_RESOURCE_INSTANCE);
            ck_assert_int_eq(lwm2m_tlv_decode(ri.value, ri.len, LWM2M_INTEGER, &v), 0);
            ck_assert_int_eq(v.u.i, 3800);
            ck_assert_int_eq(lwm2m_tlv_next(&q, e.value + e.len, &ri), 1);
            ck_assert_uint_eq(ri.id, 1);
            ck_assert_int_eq(lwm2m_tlv_decode(ri.value, ri.len, LWM2M_INTEGER, &v), 0);
            ck_assert_int_eq(v.u.i, 5000);
            ck_assert_int_eq(lwm2m_tlv_next(&q, e.value + e.len, &ri), 0);
        } else if (e.id == 13) {
            ck_assert_int_eq(lwm2m_tlv_decode(e.value, e.len, LWM2M_TIME, &v), 0);
            ck_assert_int_eq(v.u.i, 1367491215);
        }
        n++;
    }
    ck_assert_uint_eq(n, sizeof ids / sizeof ids[0]);
    ck_assert(p == end);
}
END_TEST

/* Every cut of the example short of its end is refused, never read past. */
START_TEST(tlv_truncated_refused)
{
    for (size_t len = 1; len < sizeof device_tlv; len++) {
        uint8_t *copy = malloc(len); /* exactly len: ASan sees any overread */
        memcpy(copy, device_tlv, len);
        const uint8_t *p = copy;
        struct lwm2m_tlv e;
        int r;
        while ((r = lwm2m_tlv_next(&p, copy + len, &e)) == 1)
            ;
        bool at_boundary = r == 0;
        ck_assert(lwm2m_tlv_valid(copy, len) == at_boundary);
        free(copy);
    }
}
END_TEST

START_TEST(tlv_malformed_refused)
{
    struct lwm2m_value v;
    /* A multiple resource holding a resource; an object instance inside an
     * object instance; a length past the end; 16-bit id cut. */
    ck_assert(!lwm2m_tlv_valid(S("\x83\x0B\xC1\x00\x00")));
    ck_assert(!lwm2m_tlv_valid(S("\x05\x00\x03\x00\xC1\x00\x01")));
    ck_assert(!lwm2m_tlv_valid(S("\xC8\x00\x05"
                                 "abc")));
    ck_assert(!lwm2m_tlv_valid(S("\xE1\x01")));
    ck_assert(!lwm2m_tlv_valid(S("\xD8\x00\x01")));
    ck_assert(lwm2m_tlv_valid(S("")));
    /* Values that do not fit their type. */
    ck_assert_int_eq(lwm2m_tlv_decode(S("\x00\x00\x01"), LWM2M_INTEGER, &v), -1);
    ck_assert_int_eq(lwm2m_tlv_decode(S(""), LWM2M_INTEGER, &v), -1);
    ck_assert_int_eq(lwm2m_tlv_decode(S("\x02"), LWM2M_BOOLEAN, &v), -1);
    ck_assert_int_eq(lwm2m_tlv_decode(S("\x01\x00"), LWM2M_BOOLEAN, &v), -1);
    ck_assert_int_eq(lwm2m_tlv_decode(S("\x00\x00\x00"), LWM2M_FLOAT, &v), -1);
    ck_assert_int_eq(lwm2m_tlv_decode(S("\x00\x01\x00"), LWM2M_OBJLNK, &v), -1);
}
END_TEST

START_TEST(tlv_integers_and_sizes)
{
    static const struct {
        int64_t v;
        const char *bytes;
        size_t len;
    } cases[] = {
        {0, "\xC1\x01\x00", 3},
        {127, "\xC1\x01\x7F", 3},
        {-128, "\xC1\x01\x80", 3},
        {128, "\xC2\x01\x00\x80", 4},
        {-32768, "\xC2\x01\x80\x00", 4},
        {32768, "\xC4\x01\x00\x00\x80\x00", 6},
        {-1, "\xC1\x01\xFF", 3},
        {2147483648LL, "\xC8\x01\x08\x00\x00\x00\x00\x80\x00\x00\x00", 11},
        {INT64_MIN, "\xC8\x01\x08\x80\x00\x00\x00\x00\x00\x00\x00", 11},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t out[16];
        struct lwm2m_buf b = {out, sizeof out, 0, false};
        struct lwm2m_value v = num(cases[k].v);
        lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 1, &v);
        assert_bytes(out, b.len, (const uint8_t *)cases[k].bytes, cases[k].len, "integer");
        struct lwm2m_value back;
        ck_assert_int_eq(lwm2m_tlv_decode(out + (b.len > 8 ? 3 : 2), b.len - (b.len > 8 ? 3 : 2),
                                          LWM2M_INTEGER, &back),
                         0);
        ck_assert(back.u.i == cases[k].v);
    }
    /* A 16-bit identifier, 16- and 24-bit lengths. */
    static uint8_t big[70000], out[70010];
    memset(big, 'x', sizeof big);
    struct lwm2m_buf b = {out, sizeof out, 0, false};
    lwm2m_tlv_put(&b, LWM2M_TLV_RESOURCE, 300, big, 300);
    assert_bytes(out, 6,
                 S("\xF0\x01\x2C\x01\x2C"
                   "x"),
                 "16-bit id and length");
    b.len = 0;
    lwm2m_tlv_put(&b, LWM2M_TLV_RESOURCE, 5, big, sizeof big);
    assert_bytes(out, 5, S("\xD8\x05\x01\x11\x70"), "24-bit length");
    ck_assert_uint_eq(b.len, 5 + sizeof big);
    const uint8_t *p = out;
    struct lwm2m_tlv e;
    ck_assert_int_eq(lwm2m_tlv_next(&p, out + b.len, &e), 1);
    ck_assert_uint_eq(e.len, sizeof big);
    /* Floats: 4 bytes when they lose nothing, else 8. */
    b.len = 0;
    struct lwm2m_value f = {LWM2M_FLOAT, {.f = 1.5}};
    lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 2, &f);
    assert_bytes(out, b.len, S("\xC4\x02\x3F\xC0\x00\x00"), "float 1.5");
    b.len = 0;
    f.u.f = 0.1;
    lwm2m_tlv_put_value(&b, LWM2M_TLV_RESOURCE, 2, &f);
    assert_bytes(out, b.len, S("\xC8\x02\x08\x3F\xB9\x99\x99\x99\x99\x99\x9A"), "float 0.1");
    struct lwm2m_value back;
    ck_assert_int_eq(lwm2m_tlv_decode(out + 3, 8, LWM2M_FLOAT, &back), 0);
    ck_assert(back.u.f == 0.1);
    /* Overflow is reported, nothing written past the buffer. */
    uint8_t tiny[4];
    struct lwm2m_buf t = {tiny, sizeof tiny, 0, false};
    lwm2m_tlv_put(&t, LWM2M_TLV_RESOURCE, 0, "abcdef", 6);
    ck_assert(t.overflow);
    ck_assert_uint_eq(t.len, 0);
}
END_TEST

START_TEST(text_values)
{
    struct lwm2m_value v;
    char out[64];
    ck_assert_int_eq(lwm2m_text_parse(S("-9223372036854775808"), LWM2M_INTEGER, &v), 0);
    ck_assert(v.u.i == INT64_MIN);
    ck_assert_int_eq(lwm2m_text_parse(S("9223372036854775808"), LWM2M_INTEGER, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("12a"), LWM2M_INTEGER, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S(""), LWM2M_INTEGER, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("-"), LWM2M_INTEGER, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S(" 1"), LWM2M_INTEGER, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("1"), LWM2M_BOOLEAN, &v), 0);
    ck_assert(v.u.b);
    ck_assert_int_eq(lwm2m_text_parse(S("true"), LWM2M_BOOLEAN, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("-2.5e3"), LWM2M_FLOAT, &v), 0);
    ck_assert(v.u.f == -2500.0);
    ck_assert_int_eq(lwm2m_text_parse(S("inf"), LWM2M_FLOAT, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("0x10"), LWM2M_FLOAT, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("1e999"), LWM2M_FLOAT, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("3:65535"), LWM2M_OBJLNK, &v), 0);
    ck_assert_uint_eq(v.u.lnk.inst, 65535);
    ck_assert_int_eq(lwm2m_text_parse(S("3:65536"), LWM2M_OBJLNK, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("3"), LWM2M_OBJLNK, &v), -1);
    ck_assert_int_eq(lwm2m_text_parse(S("ab"), LWM2M_OPAQUE, &v), -1);
    v = (struct lwm2m_value){LWM2M_FLOAT, {.f = 0.1}};
    ck_assert_int_eq(lwm2m_text_format(&v, out, sizeof out), 3);
    ck_assert_str_eq(out, "0.1");
    v = num(-42);
    ck_assert_int_eq(lwm2m_text_format(&v, out, sizeof out), 3);
    ck_assert_str_eq(out, "-42");
    v = (struct lwm2m_value){LWM2M_OPAQUE, {.bytes = {(const uint8_t *)"x", 1}}};
    ck_assert_int_eq(lwm2m_text_format(&v, out, sizeof out), -1);
    v = str("too long for four");
    ck_assert_int_eq(lwm2m_text_format(&v, out, 4), -1);
}
END_TEST

// clang-format off
/* (the datagrams below are written out by hand, one per line) */
/* ---- The client against a scripted server ------------------------------------ */

#define DEADLINE_MS 8000
#define EP          "urn:imei:866207050000000" /* 24 bytes: "ep=" makes 27 */

struct dgram {
    uint8_t b[1500];
    size_t len;
};

static size_t tkl(const struct dgram *d)
{
    return d->b[0] & 0x0F;
}

static unsigned mid_of(const struct dgram *d)
{
    return (unsigned)(d->b[2] << 8 | d->b[3]);
}

/* What follows the header and token: options and payload. */
static const uint8_t *rest(const struct dgram *d, size_t *len)
{
    *len = d->len - 4 - tkl(d);
    return d->b + 4 + tkl(d);
}

struct rig {
    uv_loop_t loop;
    int fd, port;
    struct sockaddr_in peer; /* the client, once it sent something */
    bool have_peer;
    struct lwm2m_client *c;
    struct lwm2m_config cfg;
    int registered, reg_result;
    int updated, upd_result, upd_mid;
    int deregistered, dereg_result;
    int obs_on, obs_off;
    char log[4096];
    /* the test object's state */
    char name[64];
    int64_t counter;
    bool flag;
    int executed;
    char args[64];
    bool later;                 /* read of 0 and execute of 2 answer later */
    struct lwm2m_request *held; /* ... this one */
    bool closed;
};

static struct rig *rig_now; /* Check forks per test: one rig per process */

static void ev_registered(void *ctx, int result)
{
    struct rig *r = ctx;
    r->registered++;
    r->reg_result = result;
}

static void ev_updated(void *ctx, int result, int msgid)
{
    struct rig *r = ctx;
    r->updated++;
    r->upd_result = result;
    r->upd_mid = msgid;
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

/* The test object: instance 0 of these. */
static const struct lwm2m_resource test_resources[] = {
    {0, LWM2M_OP_R | LWM2M_OP_W, LWM2M_STRING, 0},
    {1, LWM2M_OP_R | LWM2M_OP_W, LWM2M_INTEGER, 0},
    {2, LWM2M_OP_E, LWM2M_INTEGER, 0},
    {3, LWM2M_OP_R, LWM2M_OPAQUE, 0},
    {4, LWM2M_OP_R, LWM2M_MULTIPLE, LWM2M_INTEGER},
    {5, LWM2M_OP_R, LWM2M_FLOAT, 0},
    {6, LWM2M_OP_R | LWM2M_OP_W, LWM2M_BOOLEAN, 0},
    {9, LWM2M_OP_W, LWM2M_STRING, 0},
};

static size_t obj_instances(void *ctx, uint16_t obj, uint16_t *ids, size_t max)
{
    (void)ctx;
    if (obj == 1234 || max == 0)
        return 0; /* an object without instances */
    ids[0] = 0;
    return 1;
}

static size_t obj_resources(void *ctx, uint16_t obj, uint16_t inst,
                            const struct lwm2m_resource **list)
{
    (void)ctx;
    (void)obj;
    (void)inst;
    *list = test_resources;
    return sizeof test_resources / sizeof test_resources[0];
}

static int obj_read(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst, uint16_t res,
                    struct lwm2m_value *v)
{
    (void)obj;
    (void)inst;
    struct rig *r = ctx;
    static const uint16_t ids[] = {0, 1};
    static struct lwm2m_value items[2];
    switch (res) {
    case 0:
        if (r->later && req) {
            r->held = req;
            return LWM2M_PENDING;
        }
        *v = str(r->name);
        return LWM2M_CONTENT;
    case 1:
        *v = num(r->counter);
        return LWM2M_CONTENT;
    case 3:
        *v =
            (struct lwm2m_value){LWM2M_OPAQUE, {.bytes = {(const uint8_t *)"\xDE\xAD\xBE\xEF", 4}}};
        return LWM2M_CONTENT;
    case 4:
        items[0] = num(1);
        items[1] = num(5);
        *v = (struct lwm2m_value){LWM2M_MULTIPLE, {.multi = {ids, items, 2}}};
        return LWM2M_CONTENT;
    case 5:
        *v = (struct lwm2m_value){LWM2M_FLOAT, {.f = 1.5}};
        return LWM2M_CONTENT;
    case 6:
        *v = (struct lwm2m_value){LWM2M_BOOLEAN, {.b = r->flag}};
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
    if (res == 0 || res == 9) {
        ck_assert_int_eq(v->type, LWM2M_STRING);
        ck_assert_uint_lt(v->u.bytes.len, sizeof r->name);
        memcpy(r->name, v->u.bytes.p, v->u.bytes.len);
        r->name[v->u.bytes.len] = '\0';
    } else if (res == 1) {
        ck_assert_int_eq(v->type, LWM2M_INTEGER);
        r->counter = v->u.i;
    } else if (res == 6) {
        r->flag = v->u.b;
    }
    return LWM2M_CHANGED;
}

static int obj_execute(void *ctx, struct lwm2m_request *req, uint16_t obj, uint16_t inst,
                       uint16_t res, const uint8_t *args, size_t len)
{
    (void)obj;
    (void)inst;
    (void)res;
    struct rig *r = ctx;
    r->executed++;
    snprintf(r->args, sizeof r->args, "%.*s", (int)len, (const char *)args);
    if (r->later) {
        r->held = req;
        return LWM2M_PENDING;
    }
    return LWM2M_CHANGED;
}

static const struct lwm2m_object_ops test_object = {obj_instances, obj_resources, obj_read,
                                                    obj_write, obj_execute};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop, waiting in poll on the loop's fd and the server socket,
 * until a datagram arrives (returned) or ms pass (0 returned). */
static size_t rig_recv(struct rig *r, struct dgram *d, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    for (;;) {
        uv_run(&r->loop, UV_RUN_NOWAIT);
        socklen_t alen = sizeof r->peer;
        ssize_t n =
            recvfrom(r->fd, d->b, sizeof d->b, MSG_DONTWAIT, (struct sockaddr *)&r->peer, &alen);
        if (n > 0) {
            r->have_peer = true;
            d->len = (size_t)n;
            return d->len;
        }
        uint64_t t = now_ms();
        if (t >= end)
            return 0;
        int wait = (int)(end - t), due = uv_backend_timeout(&r->loop);
        if (due >= 0 && due < wait)
            wait = due;
        struct pollfd fds[2] = {{r->fd, POLLIN, 0}, {uv_backend_fd(&r->loop), POLLIN, 0}};
        poll(fds, 2, wait);
    }
}

/* Runs the loop until *counter reaches want or ms pass. */
static bool rig_until(struct rig *r, const int *counter, int want, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    for (;;) {
        uv_run(&r->loop, UV_RUN_NOWAIT);
        if (*counter >= want)
            return true;
        uint64_t t = now_ms();
        if (t >= end)
            return false;
        int wait = (int)(end - t), due = uv_backend_timeout(&r->loop);
        if (due >= 0 && due < wait)
            wait = due;
        struct pollfd fd = {uv_backend_fd(&r->loop), POLLIN, 0};
        poll(&fd, 1, wait);
    }
}

static void rig_send(struct rig *r, const uint8_t *p, size_t len)
{
    ck_assert(r->have_peer);
    ck_assert_int_eq(sendto(r->fd, p, len, 0, (struct sockaddr *)&r->peer, sizeof r->peer),
                     (ssize_t)len);
}

/* An ACK to req with code and then tail (options, payload) as given. */
static void rig_ack(struct rig *r, const struct dgram *req, uint8_t code, const uint8_t *tail,
                    size_t tail_len)
{
    struct dgram a;
    a.b[0] = (uint8_t)(0x60 | tkl(req));
    a.b[1] = code;
    a.b[2] = req->b[2];
    a.b[3] = req->b[3];
    memcpy(a.b + 4, req->b + 4, tkl(req));
    a.len = 4 + tkl(req);
    if (tail_len)
        memcpy(a.b + a.len, tail, tail_len);
    a.len += tail_len;
    rig_send(r, a.b, a.len);
}

/* The next datagram from the client, exactly want. */
static void expect(struct rig *r, const uint8_t *want, size_t len, const char *what)
{
    struct dgram d;
    ck_assert_msg(rig_recv(r, &d, DEADLINE_MS) > 0, "%s: nothing came", what);
    assert_bytes(d.b, d.len, want, len, what);
}

static void rig_open(struct rig *r, int port, uint32_t lifetime)
{
    memset(r, 0, sizeof *r);
    rig_now = r;
    ck_assert_int_eq(uv_loop_init(&r->loop), 0);
    r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r->fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(r->fd, (struct sockaddr *)&sa, &len), 0);
    r->port = ntohs(sa.sin_port);
    strcpy(r->name, "bcsim");
    r->counter = 42;
    r->flag = true;
    r->cfg = (struct lwm2m_config){.host = "127.0.0.1",
                                   .port = (uint16_t)(port ? port : r->port),
                                   .endpoint = EP,
                                   .lifetime = lifetime,
                                   .ack_timeout_ms = 1000,
                                   .max_retransmit = 1};
    ck_assert_int_eq(lwm2m_client_open(&r->c, &r->loop, &r->cfg, &client_ops, r), 0);
    ck_assert_int_eq(lwm2m_client_add_object(r->c, 3, &test_object, r), 0);
    ck_assert_int_eq(lwm2m_client_add_object(r->c, 5, &test_object, r), 0);
    ck_assert_int_eq(lwm2m_client_add_object(r->c, 1234, &test_object, r), 0);
}

static void on_closed(void *ctx)
{
    ((struct rig *)ctx)->closed = true;
}

/* Closes the client; every handle of the loop must go with it. */
static void rig_close(struct rig *r)
{
    lwm2m_client_close(r->c, on_closed);
    for (int k = 0; k < 1000 && !r->closed; k++)
        uv_run(&r->loop, UV_RUN_ONCE);
    ck_assert(r->closed);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&r->loop), 0);
    close(r->fd);
}

/* The Register datagram after the token (the token and message id are the
 * client's own): Uri-Path rd, Content-Format 40, the queries, the list. */
static const uint8_t register_head[] = "\xB2" "rd" "\x11\x28" "\x3D\x0E"
                                       "ep=" EP;
static const uint8_t register_tail[] = "\x09" "lwm2m=1.0" "\x03" "b=U" "\xFF"
                                       "</3/0>,</5/0>,</1234>";

/* The whole of it for a lifetime: lt= between the two (a short option). */
static size_t register_bytes(uint32_t lifetime, uint8_t *out)
{
    char lt[16];
    int n = snprintf(lt, sizeof lt, "lt=%u", lifetime);
    size_t len = sizeof register_head - 1;
    memcpy(out, register_head, len);
    out[len++] = (uint8_t)n; /* delta 0, length n < 13 */
    memcpy(out + len, lt, (size_t)n);
    len += (size_t)n;
    memcpy(out + len, register_tail, sizeof register_tail - 1);
    return len + sizeof register_tail - 1;
}

/* Registers and answers 2.01 with Location-Path /rd/5a3f. */
static void rig_register(struct rig *r)
{
    ck_assert_int_eq(lwm2m_client_register(r->c), 0);
    struct dgram d;
    ck_assert_msg(rig_recv(r, &d, DEADLINE_MS) > 0, "no Register");
    ck_assert_uint_eq(d.b[0] & 0xF0, 0x40); /* version 1, confirmable */
    ck_assert_uint_eq(d.b[1], 0x02);        /* POST */
    size_t len;
    const uint8_t *tail = rest(&d, &len);
    uint8_t want[200];
    assert_bytes(tail, len, want, register_bytes(r->cfg.lifetime, want), "Register");
    int before = r->registered;
    rig_ack(r, &d, 0x41,
            S("\x82" "rd" "\x04" "5a3f"));
    ck_assert(rig_until(r, &r->registered, before + 1, DEADLINE_MS));
    ck_assert_int_eq(r->reg_result, 0);
    ck_assert(lwm2m_client_is_registered(r->c));
}

START_TEST(register_update_deregister)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    ck_assert_int_eq(lwm2m_client_register(r.c), -EALREADY);

    /* Update on demand with nothing changed: the location alone. */
    int mid = lwm2m_client_update(r.c, 0, NULL);
    ck_assert_int_ge(mid, 0);
    ck_assert_int_eq(lwm2m_client_update(r.c, 0, NULL), -EBUSY);
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[1], 0x02);
    ck_assert_uint_eq(mid_of(&d), (unsigned)mid);
    size_t len;
    const uint8_t *tail = rest(&d, &len);
    assert_bytes(tail, len,
                 S("\xB2" "rd" "\x04" "5a3f"),
                 "plain Update");
    rig_ack(&r, &d, 0x44, NULL, 0);
    ck_assert(rig_until(&r, &r.updated, 1, DEADLINE_MS));
    ck_assert_int_eq(r.upd_result, 0);
    ck_assert_int_eq(r.upd_mid, mid);

    /* A new lifetime and an object gone: lt= and the list. */
    ck_assert_int_eq(lwm2m_client_remove_object(r.c, 1234), 0);
    ck_assert_int_eq(lwm2m_client_remove_object(r.c, 1234), -ENOENT);
    /* Refused (5.00) the first time: the next Update carries both again. */
    for (int round = 0; round < 2; round++) {
        mid = lwm2m_client_update(r.c, round ? 0 : 120, NULL);
        ck_assert_int_ge(mid, 0);
        ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
        tail = rest(&d, &len);
        assert_bytes(tail, len,
                     S("\xB2" "rd" "\x04" "5a3f" "\x11\x28" "\x36" "lt=120" "\xFF" "</3/0>,</5/0>"),
                     "Update with lifetime and objects");
        rig_ack(&r, &d, round ? 0x44 : 0xA0, NULL, 0);
        ck_assert(rig_until(&r, &r.updated, 2 + round, DEADLINE_MS));
        ck_assert_int_eq(r.upd_result, round ? 0 : 500);
    }
    /* Accepted: the next one has neither. */
    mid = lwm2m_client_update(r.c, 0, NULL);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    tail = rest(&d, &len);
    assert_bytes(tail, len, S("\xB2" "rd" "\x04" "5a3f"), "Update after the accepted one");
    rig_ack(&r, &d, 0x44, NULL, 0);
    ck_assert(rig_until(&r, &r.updated, 4, DEADLINE_MS));

    /* De-register. */
    ck_assert_int_eq(lwm2m_client_deregister(r.c), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[0] & 0xF0, 0x40);
    ck_assert_uint_eq(d.b[1], 0x04); /* DELETE */
    tail = rest(&d, &len);
    assert_bytes(tail, len,
                 S("\xB2" "rd" "\x04" "5a3f"),
                 "De-register");
    rig_ack(&r, &d, 0x42, NULL, 0);
    ck_assert(rig_until(&r, &r.deregistered, 1, DEADLINE_MS));
    ck_assert_int_eq(r.dereg_result, 0);
    ck_assert(!lwm2m_client_is_registered(r.c));
    ck_assert_int_eq(lwm2m_client_update(r.c, 0, NULL), -ENOTCONN);
    rig_close(&r);
}
END_TEST

/* Lifetime 4 s: the Update comes by itself at 90%, 3.6 s after the 2.01,
 * before the registration expires. */
START_TEST(update_before_expiry)
{
    struct rig r;
    rig_open(&r, 0, 4);
    rig_register(&r);
    uint64_t t0 = now_ms();
    for (int round = 1; round <= 2; round++) {
        struct dgram d;
        ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
        uint64_t dt = now_ms() - t0;
        ck_assert_msg(dt >= 3500 && dt < 4000, "Update %llu ms after the registration's answer",
                      (unsigned long long)dt);
        size_t len;
        const uint8_t *tail = rest(&d, &len);
        assert_bytes(tail, len,
                     S("\xB2" "rd" "\x04" "5a3f"),
                     "automatic Update");
        rig_ack(&r, &d, 0x44, NULL, 0);
        t0 = now_ms();
        ck_assert(rig_until(&r, &r.updated, round, DEADLINE_MS));
        ck_assert_int_eq(r.upd_result, 0);
        ck_assert_int_eq(r.upd_mid, (int)mid_of(&d));
    }
    rig_close(&r);
}
END_TEST

/* GET /3/0/... as CON, message id 0x1001 + n, token 0xAB n. Path bytes are
 * the Uri-Path options written out. */
#define CON_GET(n)   "\x42\x01\x10" n "\xAB" n
#define ACK(code, n) "\x62" code "\x10" n "\xAB" n

START_TEST(read_formats)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    /* A string resource: plain text (Content-Format 0, an empty option). */
    rig_send(&r, S(CON_GET("\x01") "\xB1" "3" "\x01" "0" "\x01" "0"));
    expect(&r,
           S(ACK("\x45", "\x01") "\xC0\xFF" "bcsim"),
           "text read");
    /* An integer, TLV asked (Accept 11542). */
    rig_send(&r, S(CON_GET("\x02") "\xB1" "3" "\x01" "0" "\x01" "1" "\x62\x2D\x16"));
    expect(&r,
           S(ACK("\x45", "\x02") "\xC2\x2D\x16\xFF" "\xC1\x01\x2A"),
           "TLV read");
    /* The opaque one: Content-Format 42. */
    rig_send(&r, S(CON_GET("\x03") "\xB1" "3" "\x01" "0" "\x01" "3"));
    expect(&r,
           S(ACK("\x45", "\x03") "\xC1\x2A\xFF" "\xDE\xAD\xBE\xEF"),
           "opaque read");
    /* A multiple resource: TLV without being asked. */
    rig_send(&r, S(CON_GET("\x04") "\xB1" "3" "\x01" "0" "\x01" "4"));
    expect(&r,
           S(ACK("\x45", "\x04") "\xC2\x2D\x16\xFF" "\x86\x04\x41\x00\x01\x41\x01\x05"),
           "multiple resource read");
    /* The instance: its readable resources in TLV (9 is write-only). */
    rig_send(&r, S(CON_GET("\x05") "\xB1" "3" "\x01" "0"));
    expect(&r,
           S(ACK("\x45", "\x05") "\xC2\x2D\x16\xFF" "\xC5\x00" "bcsim" "\xC1\x01\x2A"
                                 "\xC4\x03\xDE\xAD\xBE\xEF" "\x86\x04\x41\x00\x01\x41\x01\x05"
                                 "\xC4\x05\x3F\xC0\x00\x00" "\xC1\x06\x01"),
           "instance read");
    /* The object: instance 0 wrapped (an 8-bit length, 0x21). */
    rig_send(&r, S(CON_GET("\x06") "\xB1" "5"));
    expect(&r,
           S(ACK("\x45", "\x06") "\xC2\x2D\x16\xFF" "\x08\x00\x21" "\xC5\x00" "bcsim" "\xC1\x01\x2A"
                                 "\xC4\x03\xDE\xAD\xBE\xEF" "\x86\x04\x41\x00\x01\x41\x01\x05"
                                 "\xC4\x05\x3F\xC0\x00\x00" "\xC1\x06\x01"),
           "object read");
    /* Formats it cannot give: opaque for a string, text for an instance. */
    rig_send(&r, S(CON_GET("\x07") "\xB1" "3" "\x01" "0" "\x01" "0" "\x61\x2A"));
    expect(&r, S(ACK("\x86", "\x07")), "string as opaque: 4.06");
    rig_send(&r, S(CON_GET("\x08") "\xB1" "3" "\x01" "0" "\x60"));
    expect(&r, S(ACK("\x86", "\x08")), "instance as text: 4.06");
    /* Discover (Accept 40): the instance's resources, dim= for 4. */
    rig_send(&r, S(CON_GET("\x10") "\xB1" "3" "\x01" "0" "\x61\x28"));
    expect(&r, S(ACK("\x45", "\x10") "\xC1\x28\xFF"
                 "</3/0>,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>;dim=2,</3/0/5>,</3/0/6>,</3/0/9>"),
           "Discover of an instance");
    rig_send(&r, S(CON_GET("\x11") "\xB1" "3" "\x01" "0" "\x01" "4" "\x61\x28"));
    expect(&r, S(ACK("\x45", "\x11") "\xC1\x28\xFF" "</3/0/4>;dim=2"), "Discover of a resource");
    rig_send(&r, S(CON_GET("\x12") "\xB2" "99" "\x61\x28"));
    expect(&r, S(ACK("\x84", "\x12")), "Discover of nothing");
    /* What is not there, not readable, not a path. */
    rig_send(&r, S(CON_GET("\x09") "\xB1" "9"));
    expect(&r, S(ACK("\x84", "\x09")), "no object 9");
    rig_send(&r, S(CON_GET("\x0A") "\xB1" "3" "\x01" "1"));
    expect(&r, S(ACK("\x84", "\x0A")), "no instance 3/1");
    rig_send(&r, S(CON_GET("\x0B") "\xB1" "3" "\x01" "0" "\x01" "7"));
    expect(&r, S(ACK("\x84", "\x0B")), "no resource 3/0/7");
    rig_send(&r, S(CON_GET("\x0C") "\xB1" "3" "\x01" "0" "\x01" "9"));
    expect(&r, S(ACK("\x85", "\x0C")), "write-only 3/0/9: 4.05");
    rig_send(&r, S(CON_GET("\x0D") "\xB2" "rd"));
    expect(&r, S(ACK("\x84", "\x0D")), "not a number: 4.04");
    rig_send(&r, S(CON_GET("\x0E") "\xB2" "03"));
    expect(&r, S(ACK("\x84", "\x0E")), "leading zero: 4.04");
    /* A NON request gets a NON answer. */
    rig_send(&r, S("\x52\x01\x10\x0F\xAB\x0F" "\xB1" "3" "\x01" "0" "\x01" "1"));
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[0], 0x52);
    ck_assert_uint_eq(d.b[1], 0x45);
    rig_close(&r);
}
END_TEST

#define CON_PUT(n)    "\x42\x03\x20" n "\xCD" n
#define CON_POST(n)   "\x42\x02\x20" n "\xCD" n
#define ACKW(code, n) "\x62" code "\x20" n "\xCD" n

START_TEST(write_and_execute)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    /* Text write of an integer. */
    rig_send(&r, S(CON_PUT("\x01") "\xB1" "3" "\x01" "0" "\x01" "1" "\x10\xFF" "-7"));
    expect(&r, S(ACKW("\x44", "\x01")), "text write");
    ck_assert_int_eq(r.counter, -7);
    /* Not an integer: 4.00, logged, nothing changed. */
    rig_send(&r, S(CON_PUT("\x02") "\xB1" "3" "\x01" "0" "\x01" "1" "\x10\xFF" "7x"));
    expect(&r, S(ACKW("\x80", "\x02")), "bad text");
    ck_assert_int_eq(r.counter, -7);
    ck_assert_ptr_nonnull(strstr(r.log, "PUT /3/0/1: payload not decodable"));
    /* TLV write of one resource. */
    rig_send(&r, S(CON_PUT("\x03") "\xB1" "3" "\x01" "0" "\x01" "0" "\x12\x2D\x16\xFF" "\xC3\x00"
                                   "abc"));
    expect(&r, S(ACKW("\x44", "\x03")), "TLV resource write");
    ck_assert_str_eq(r.name, "abc");
    /* A TLV of another resource id than the path's: 4.00. */
    rig_send(&r, S(CON_PUT("\x04") "\xB1" "3" "\x01" "0" "\x01" "0" "\x12\x2D\x16\xFF" "\xC3\x01"
                                   "xyz"));
    expect(&r, S(ACKW("\x80", "\x04")), "TLV of another id");
    ck_assert_str_eq(r.name, "abc");
    /* The instance: two resources at once. */
    rig_send(&r, S(CON_PUT("\x05") "\xB1" "3" "\x01" "0" "\x12\x2D\x16\xFF" "\xC1\x01\x05"
                                   "\xC1\x06\x00"));
    expect(&r, S(ACKW("\x44", "\x05")), "instance write");
    ck_assert_int_eq(r.counter, 5);
    ck_assert(!r.flag);
    /* One of them not writable: 4.05 and neither written. */
    rig_send(&r, S(CON_POST("\x06") "\xB1" "3" "\x01" "0" "\x12\x2D\x16\xFF" "\xC1\x01\x09"
                                    "\xC1\x03\x00"));
    expect(&r, S(ACKW("\x85", "\x06")), "instance write with a read-only resource");
    ck_assert_int_eq(r.counter, 5);
    /* Truncated TLV: 4.00. */
    rig_send(&r, S(CON_PUT("\x07") "\xB1" "3" "\x01" "0" "\x12\x2D\x16\xFF" "\xC1\x01"));
    expect(&r, S(ACKW("\x80", "\x07")), "truncated TLV");
    /* A boolean of 2: 4.00. */
    rig_send(&r, S(CON_PUT("\x08") "\xB1" "3" "\x01" "0" "\x01" "6" "\x12\x2D\x16\xFF"
                                   "\xC1\x06\x02"));
    expect(&r, S(ACKW("\x80", "\x08")), "boolean 2");
    ck_assert(!r.flag);
    /* Text for an instance, a format it does not know, none at all. */
    rig_send(&r, S(CON_PUT("\x09") "\xB1" "3" "\x01" "0" "\x10\xFF" "1"));
    expect(&r, S(ACKW("\x8F", "\x09")), "text instance write: 4.15");
    rig_send(&r, S(CON_PUT("\x0A") "\xB1" "3" "\x01" "0" "\x01" "1" "\x11\x32\xFF" "{}"));
    expect(&r, S(ACKW("\x8F", "\x0A")), "JSON: 4.15");
    rig_send(&r, S(CON_PUT("\x0B") "\xB1" "3" "\x01" "0" "\x01" "1" "\xFF" "1"));
    expect(&r, S(ACKW("\x8F", "\x0B")), "no Content-Format: 4.15");
    /* Block-wise (Block1 num 0, more, 1024): 4.13, nothing written. */
    rig_send(&r, S(CON_PUT("\x11") "\xB1" "3" "\x01" "0" "\x01" "0" "\x10" "\xD1\x02\x0E" "\xFF" "zz"));
    expect(&r, S(ACKW("\x8D", "\x11")), "Block1: 4.13");
    ck_assert_str_eq(r.name, "abc");
    /* Write-Attributes: not implemented. */
    rig_send(&r, S(CON_PUT("\x0C") "\xB1" "3" "\x01" "0" "\x01" "1" "\x47" "pmin=10"));
    expect(&r, S(ACKW("\xA1", "\x0C")), "Write-Attributes: 5.01");
    /* Execute with arguments. */
    rig_send(&r, S(CON_POST("\x0D") "\xB1" "3" "\x01" "0" "\x01" "2" "\xFF" "0='x'"));
    expect(&r, S(ACKW("\x44", "\x0D")), "execute");
    ck_assert_int_eq(r.executed, 1);
    /* The same message again (our ACK lost): the same answer, run once. */
    rig_send(&r, S(CON_POST("\x0D") "\xB1" "3" "\x01" "0" "\x01" "2" "\xFF" "0='x'"));
    expect(&r, S(ACKW("\x44", "\x0D")), "execute retransmitted");
    ck_assert_int_eq(r.executed, 1);
    ck_assert_str_eq(r.args, "0='x'");
    rig_send(&r, S(CON_POST("\x0E") "\xB1" "3" "\x01" "0" "\x01" "0"));
    expect(&r, S(ACKW("\x85", "\x0E")), "execute of a readable resource: 4.05");
    /* Create, Delete: not allowed. */
    rig_send(&r, S(CON_POST("\x0F") "\xB1" "3"));
    expect(&r, S(ACKW("\x85", "\x0F")), "create: 4.05");
    rig_send(&r, S("\x42\x04\x20\x10\xCD\x10" "\xB1" "3" "\x01" "0"));
    expect(&r, S(ACKW("\x85", "\x10")), "delete: 4.05");
    ck_assert_int_eq(r.executed, 1);
    rig_close(&r);
}
END_TEST

/* Answers given later: an empty ACK at once, then a confirmable response
 * with the request's token (RFC 7252 5.2.2). */
START_TEST(separate_responses)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    r.later = true;
    rig_send(&r, S(CON_GET("\x01") "\xB1" "3" "\x01" "0" "\x01" "0"));
    expect(&r, S("\x60\x00\x10\x01"), "empty ACK");
    ck_assert_ptr_nonnull(r.held);
    /* The request again: an empty ACK again, the object not asked twice. */
    struct lwm2m_request *held = r.held;
    r.held = NULL;
    rig_send(&r, S(CON_GET("\x01") "\xB1" "3" "\x01" "0" "\x01" "0"));
    expect(&r, S("\x60\x00\x10\x01"), "empty ACK again");
    ck_assert_ptr_null(r.held);
    r.held = held;
    struct lwm2m_value v = str("later");
    ck_assert_int_eq(lwm2m_client_respond(r.c, r.held, LWM2M_CONTENT, &v), 0);
    ck_assert_int_eq(lwm2m_client_respond(r.c, r.held, LWM2M_CONTENT, &v), -EINVAL);
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[0], 0x42); /* CON, the request's token */
    ck_assert_uint_eq(d.b[1], 0x45);
    size_t len;
    const uint8_t *tail = rest(&d, &len);
    assert_bytes(d.b + 4, 2, S("\xAB\x01"), "token");
    assert_bytes(tail, len,
                 S("\xC0\xFF" "later"),
                 "separate 2.05");
    /* Not acknowledged: it comes again, the same message. */
    struct dgram again;
    ck_assert(rig_recv(&r, &again, DEADLINE_MS) > 0);
    assert_bytes(again.b, again.len, d.b, d.len, "retransmitted separate response");
    uint8_t ack[4] = {0x60, 0x00, d.b[2], d.b[3]};
    rig_send(&r, ack, 4);
    /* A pending Execute, answered with an error. */
    rig_send(&r, S(CON_POST("\x02") "\xB1" "3" "\x01" "0" "\x01" "2"));
    expect(&r, S("\x60\x00\x20\x02"), "empty ACK to execute");
    ck_assert_int_eq(lwm2m_client_respond(r.c, r.held, LWM2M_INTERNAL_ERROR, NULL), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[0], 0x42);
    ck_assert_uint_eq(d.b[1], 0xA0);
    assert_bytes(d.b + 4, 2, S("\xCD\x02"), "token");
    ck_assert_uint_eq(d.len, 6);
    rig_close(&r);
}
END_TEST

/* A notification: CON 2.05, token tok, an Observe option, then tail. Returns
 * its Observe number. */
static unsigned expect_notification(struct rig *r, struct dgram *d, uint8_t tok,
                                    const uint8_t *tail, size_t tail_len, const char *what)
{
    ck_assert_msg(rig_recv(r, d, DEADLINE_MS) > 0, "%s: nothing came", what);
    ck_assert_msg(d->b[0] == 0x41 && d->b[1] == 0x45 && d->b[4] == tok, "%s: %02X %02X %02X", what,
                  d->b[0], d->b[1], d->b[4]);
    /* Observe (6): delta 6, 1 to 3 bytes. */
    ck_assert_uint_eq(d->b[5] & 0xF0, 0x60);
    size_t olen = d->b[5] & 0x0F;
    ck_assert(olen >= 1 && olen <= 3);
    unsigned seq = 0;
    for (size_t k = 0; k < olen; k++)
        seq = seq << 8 | d->b[6 + k];
    assert_bytes(d->b + 6 + olen, d->len - 6 - olen, tail, tail_len, what);
    return seq;
}

/* The Observe number of notification d with token tok. */
static unsigned expect_seq(const struct dgram *d, uint8_t tok)
{
    ck_assert_uint_eq(d->b[0], 0x41);
    ck_assert_uint_eq(d->b[1], 0x45);
    ck_assert_uint_eq(d->b[4], tok);
    ck_assert_uint_eq(d->b[5] & 0xF0, 0x60);
    unsigned seq = 0;
    for (size_t k = 0; k < (d->b[5] & 0x0Fu); k++)
        seq = seq << 8 | d->b[6 + k];
    return seq;
}

static void ack_of(struct rig *r, const struct dgram *d)
{
    uint8_t ack[4] = {0x60, 0x00, d->b[2], d->b[3]};
    rig_send(r, ack, 4);
}

START_TEST(observe_notify_cancel)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    /* Observe /3/0/1 with token 0x51: the answer carries Observe. */
    rig_send(&r, S("\x41\x01\x30\x01\x51" "\x60" "\x51" "3" "\x01" "0" "\x01" "1"));
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[0], 0x61);
    ck_assert_uint_eq(d.b[1], 0x45);
    ck_assert_uint_eq(d.b[5] & 0xF0, 0x60);
    size_t olen = d.b[5] & 0x0F;
    unsigned first = 0;
    for (size_t k = 0; k < olen; k++)
        first = first << 8 | d.b[6 + k];
    assert_bytes(d.b + 6 + olen, d.len - 6 - olen,
                 S("\x60\xFF" "42"),
                 "observe answer");
    ck_assert(rig_until(&r, &r.obs_on, 1, DEADLINE_MS));
    /* Observe the instance too, token 0x52, TLV. */
    rig_send(&r, S("\x41\x01\x30\x02\x52" "\x60" "\x51" "3" "\x01" "0"));
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[1], 0x45);
    ck_assert(rig_until(&r, &r.obs_on, 2, DEADLINE_MS));

    /* A change of 3/0/0 concerns the instance only; of 3/0/1 both. */
    lwm2m_client_changed(r.c, 3, 0, 0);
    unsigned s1 = expect_notification(&r, &d, 0x52,
                                      S("\x62\x2D\x16\xFF" "\xC5\x00" "bcsim" "\xC1\x01\x2A"
                                        "\xC4\x03\xDE\xAD\xBE\xEF"
                                        "\x86\x04\x41\x00\x01\x41\x01\x05"
                                        "\xC4\x05\x3F\xC0\x00\x00" "\xC1\x06\x01"),
                                      "instance notification");
    ck_assert_uint_gt(s1, first);
    ack_of(&r, &d);
    /* Both observers: one confirmable message at a time (NSTART 1), the
     * second once the first is acknowledged. */
    r.counter = 43;
    lwm2m_client_changed(r.c, 3, 0, 1);
    struct dgram a, b;
    ck_assert(rig_recv(&r, &a, DEADLINE_MS) > 0);
    ack_of(&r, &a);
    ck_assert(rig_recv(&r, &b, DEADLINE_MS) > 0);
    ack_of(&r, &b);
    ck_assert_uint_ne(a.b[4], b.b[4]);
    struct dgram *res = a.b[4] == 0x51 ? &a : &b;
    unsigned s2 = expect_seq(res, 0x51);
    ck_assert_uint_gt(s2, s1);
    ck_assert(memcmp(res->b + res->len - 3,
                     "\xFF" "43",
                     3) == 0);
    /* Nothing for /5/0/1, which is not observed: the next notification is
     * the resource's own after 44. */
    lwm2m_client_changed(r.c, 5, 0, 1);
    r.counter = 44;
    lwm2m_client_changed(r.c, 3, 0, 1);
    ck_assert(rig_recv(&r, &a, DEADLINE_MS) > 0);
    ack_of(&r, &a);
    ck_assert(rig_recv(&r, &b, DEADLINE_MS) > 0);
    ack_of(&r, &b);
    res = a.b[4] == 0x51 ? &a : &b;
    ck_assert_uint_gt(expect_seq(res, 0x51), s2);
    ck_assert(memcmp(res->b + res->len - 3,
                     "\xFF" "44",
                     3) == 0);

    /* Cancel 3/0/1 with Observe 1: a plain answer, observe(off). */
    rig_send(&r, S("\x41\x01\x30\x03\x51" "\x61\x01" "\x51" "3" "\x01" "0" "\x01" "1"));
    expect(&r,
           S("\x61\x45\x30\x03\x51" "\xC0\xFF" "44"),
           "cancel answer");
    ck_assert(rig_until(&r, &r.obs_off, 1, DEADLINE_MS));
    /* Now a change of 3/0/1 reaches the instance's observer alone. */
    r.counter = 45;
    lwm2m_client_changed(r.c, 3, 0, 1);
    ck_assert(rig_recv(&r, &a, DEADLINE_MS) > 0);
    ck_assert_uint_eq(a.b[4], 0x52);
    /* RST to it ends that observation too. */
    uint8_t rst[4] = {0x70, 0x00, a.b[2], a.b[3]};
    rig_send(&r, rst, 4);
    ck_assert(rig_until(&r, &r.obs_off, 2, DEADLINE_MS));
    ck_assert_ptr_nonnull(strstr(r.log, "notification was reset"));
    /* Nothing observed any more: a change sends nothing, and the next
     * datagram is the answer to a read. */
    lwm2m_client_changed(r.c, 3, 0, 1);
    rig_send(&r, S(CON_GET("\x01") "\xB1" "3" "\x01" "0" "\x01" "1"));
    expect(&r,
           S(ACK("\x45", "\x01") "\xC0\xFF" "45"),
           "read after the observations ended");
    rig_close(&r);
}
END_TEST

/* Observing a resource whose object answers later: the Observe answer and
 * the notifications wait for lwm2m_client_respond; a change while one is
 * pending makes one more read once it is answered. */
START_TEST(observe_answered_later)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    r.later = true;
    rig_send(&r, S("\x41\x01\x30\x01\x51" "\x60" "\x51" "3" "\x01" "0" "\x01" "0"));
    expect(&r, S("\x60\x00\x30\x01"), "empty ACK to the Observe");
    ck_assert_ptr_nonnull(r.held);
    struct lwm2m_value v = str("one");
    ck_assert_int_eq(lwm2m_client_respond(r.c, r.held, LWM2M_CONTENT, &v), 0);
    struct dgram d;
    unsigned s0 = expect_notification(&r, &d, 0x51, S("\x60\xFF" "one"), "separate Observe answer");
    ack_of(&r, &d);
    ck_assert(rig_until(&r, &r.obs_on, 1, DEADLINE_MS));
    /* A change: the read is pending, nothing is sent yet; a second change
     * meanwhile; the answer goes, then the next read begins. */
    r.held = NULL;
    lwm2m_client_changed(r.c, 3, 0, 0);
    ck_assert_ptr_nonnull(r.held);
    struct lwm2m_request *first = r.held;
    r.held = NULL;
    lwm2m_client_changed(r.c, 3, 0, 0);
    ck_assert_ptr_null(r.held); /* not read twice at once */
    v = str("two");
    ck_assert_int_eq(lwm2m_client_respond(r.c, first, LWM2M_CONTENT, &v), 0);
    ck_assert_ptr_nonnull(r.held); /* the second change's read */
    unsigned s1 = expect_notification(&r, &d, 0x51, S("\x60\xFF" "two"), "notification two");
    ck_assert_uint_gt(s1, s0);
    ack_of(&r, &d);
    v = str("three");
    ck_assert_int_eq(lwm2m_client_respond(r.c, r.held, LWM2M_CONTENT, &v), 0);
    unsigned s2 = expect_notification(&r, &d, 0x51, S("\x60\xFF" "three"), "notification three");
    ck_assert_uint_gt(s2, s1);
    ack_of(&r, &d);
    /* An error answer ends the observation: 4.04 without Observe. */
    r.held = NULL;
    lwm2m_client_changed(r.c, 3, 0, 0);
    ck_assert_int_eq(lwm2m_client_respond(r.c, r.held, LWM2M_NOT_FOUND, NULL), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    assert_bytes(d.b, 2, S("\x41\x84"), "error notification");
    ck_assert_uint_eq(d.len, 5);
    ack_of(&r, &d);
    ck_assert(rig_until(&r, &r.obs_off, 1, DEADLINE_MS));
    rig_close(&r);
}
END_TEST

/* Rubbish from the server changes nothing and the client goes on. */
START_TEST(rubbish_from_the_server)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    struct dgram d;
    /* Not CoAP, a header cut short, an empty ACK nobody waits for. */
    rig_send(&r, S("\x00" "not coap"));
    rig_send(&r, S("\x42\x01"));
    rig_send(&r, S("\x60\x00\x99\x99"));
    /* Four path segments; a number over 65535. What comes before the
     * answer may only be libcoap's RSTs to the rubbish. */
    rig_send(&r, S(CON_GET("\x01") "\xB1" "3" "\x01" "0" "\x01" "0" "\x01" "0"));
    for (int k = 0; k < 4; k++) {
        ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
        if (d.b[0] != 0x70)
            break;
        ck_assert_uint_eq(d.len, 4);
    }
    assert_bytes(d.b, d.len, S(ACK("\x84", "\x01")), "four segments");
    rig_send(&r, S(CON_GET("\x02") "\xB5" "70000"));
    expect(&r, S(ACK("\x84", "\x02")), "object 70000");
    /* Random TLV written to the instance and to a resource: every answer is
     * a 2.04 or a 4.xx, and the object only ever sees its own types. */
    uint32_t seed = 12345;
    for (int k = 0; k < 300; k++) {
        uint8_t req[64] = {0x42, 0x03, 0x40, (uint8_t)k, 0xEE, (uint8_t)k, 0xB1, '3', 0x01, '0'};
        size_t len = 10;
        if (k % 2) { /* /3/0/<k % 10> */
            req[len++] = 0x01;
            req[len++] = (uint8_t)('0' + k % 10);
        }
        req[len++] = 0x12; /* Content-Format 11542 */
        req[len++] = 0x2D;
        req[len++] = 0x16;
        req[len++] = 0xFF;
        size_t n = 1 + (seed >> 8) % 24;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            req[len++] = (uint8_t)(seed >> 16);
        }
        rig_send(&r, req, len);
        ck_assert_msg(rig_recv(&r, &d, DEADLINE_MS) > 0, "no answer to random write %d", k);
        ck_assert_uint_eq(d.b[0], 0x62);
        ck_assert_uint_eq(d.b[3], (uint8_t)k);
        ck_assert_msg(d.b[1] == 0x44 || (d.b[1] >> 5) == 4, "random write %d: %02X", k, d.b[1]);
    }
    /* And the client is as good as new. */
    rig_send(&r, S(CON_GET("\x03") "\xB1" "3" "\x01" "0" "\x01" "4"));
    expect(&r, S(ACK("\x45", "\x03") "\xC2\x2D\x16\xFF" "\x86\x04\x41\x00\x01\x41\x01\x05"),
           "read after the rubbish");
    rig_close(&r);
}
END_TEST

/* De-register ends the observations: observe(off), no notification. */
START_TEST(observations_end_with_registration)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    rig_send(&r, S("\x41\x01\x30\x01\x51" "\x60" "\x51" "3" "\x01" "0" "\x01" "1"));
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert(rig_until(&r, &r.obs_on, 1, DEADLINE_MS));
    ck_assert_int_eq(lwm2m_client_deregister(r.c), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    rig_ack(&r, &d, 0x42, NULL, 0);
    ck_assert(rig_until(&r, &r.obs_off, 1, DEADLINE_MS));
    ck_assert_int_eq(r.deregistered, 1);
    lwm2m_client_changed(r.c, 3, 0, 1);
    /* The next datagram is the new Register's, not a notification. */
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[1], 0x02);
    rig_close(&r);
}
END_TEST

/* The server by name, through a --resolve override. */
START_TEST(server_by_name)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    lwm2m_client_close(r.c, on_closed);
    while (!r.closed)
        uv_run(&r.loop, UV_RUN_ONCE);
    r.closed = false;
    static struct resolver res;
    char why[128];
    ck_assert_int_eq(resolve_add(&res, "lwm2m.example.com:127.0.0.1", why, sizeof why), 0);
    r.cfg.host = "lwm2m.example.com";
    r.cfg.resolver = &res;
    ck_assert_int_eq(lwm2m_client_open(&r.c, &r.loop, &r.cfg, &client_ops, &r), 0);
    ck_assert_int_eq(lwm2m_client_add_object(r.c, 3, &test_object, &r), 0);
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert_uint_eq(d.b[1], 0x02);
    rig_close(&r);
}
END_TEST

/* The client's socket is connected to its server: libcoap's coap-client
 * from another port gets no answer while the loop runs, the server does. */
START_TEST(stranger_unheard)
{
    ck_assert_msg(access("/usr/bin/coap-client-notls", X_OK) == 0,
                  "coap-client-notls is not installed (tools/install-deps installs it)");
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    char uri[64];
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%d/3/0/0", ntohs(r.peer.sin_port));
    int out, err;
    pid_t pid = host_spawn((const char *[]){"coap-client-notls", "-m", "get", "-B", "2", uri, NULL},
                           &out, &err);
    struct dgram d;
    uint64_t t0 = now_ms();
    while (host_wait_pid(pid, 0) < 0 && now_ms() - t0 < 20000)
        ck_assert_msg(rig_recv(&r, &d, 50) == 0, "the client sent something unasked");
    ck_assert_msg(host_wait_pid(pid, 0) >= 0, "coap-client-notls did not finish");
    char text[4096];
    host_read_fd(out, text, sizeof text, 1000, NULL);
    close(out);
    close(err);
    ck_assert_ptr_null(strstr(text, "bcsim"));
    rig_send(&r, S(CON_GET("\x01") "\xB1" "3" "\x01" "0" "\x01" "0"));
    expect(&r, S(ACK("\x45", "\x01") "\xC0\xFF" "bcsim"), "the server's read");
    rig_close(&r);
}
END_TEST

/* A notification never acknowledged ends its observation (max_retransmit
 * 1: sent twice). */
START_TEST(observe_unacknowledged)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    rig_send(&r, S("\x41\x01\x30\x01\x51" "\x60" "\x51" "3" "\x01" "0" "\x01" "1"));
    struct dgram d, again;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert(rig_until(&r, &r.obs_on, 1, DEADLINE_MS));
    lwm2m_client_changed(r.c, 3, 0, 1);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    ck_assert(rig_recv(&r, &again, DEADLINE_MS) > 0);
    assert_bytes(again.b, again.len, d.b, d.len, "retransmitted notification");
    ck_assert(rig_until(&r, &r.obs_off, 1, DEADLINE_MS));
    ck_assert_ptr_nonnull(strstr(r.log, "never acknowledged"));
    rig_close(&r);
}
END_TEST

/* The Register's ACK lost: the same message again after the ack timeout. */
START_TEST(register_retransmitted)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    struct dgram d, again;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    uint64_t t0 = now_ms();
    ck_assert(rig_recv(&r, &again, DEADLINE_MS) > 0);
    uint64_t dt = now_ms() - t0;
    ck_assert_msg(dt >= 900 && dt <= 2500, "retransmitted after %llu ms", (unsigned long long)dt);
    assert_bytes(again.b, again.len, d.b, d.len, "retransmitted Register");
    ck_assert_int_eq(r.registered, 0);
    rig_ack(&r, &again, 0x41,
            S("\x82" "rd" "\x04" "5a3f"));
    ck_assert(rig_until(&r, &r.registered, 1, DEADLINE_MS));
    ck_assert_int_eq(r.reg_result, 0);
    rig_close(&r);
}
END_TEST

/* Separate answer to Register: empty ACK, then CON 2.01 (acknowledged by the
 * client). */
START_TEST(register_separate_answer)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    uint8_t empty[4] = {0x60, 0x00, d.b[2], d.b[3]};
    rig_send(&r, empty, 4);
    struct dgram resp;
    resp.b[0] = (uint8_t)(0x40 | tkl(&d));
    resp.b[1] = 0x41;
    resp.b[2] = 0x77;
    resp.b[3] = 0x01;
    memcpy(resp.b + 4, d.b + 4, tkl(&d));
    memcpy(resp.b + 4 + tkl(&d),
           "\x82" "rd" "\x02" "xy",
           6);
    rig_send(&r, resp.b, 10 + tkl(&d));
    expect(&r, S("\x60\x00\x77\x01"), "the client's ACK");
    ck_assert(rig_until(&r, &r.registered, 1, DEADLINE_MS));
    ck_assert_int_eq(r.reg_result, 0);
    ck_assert_int_ge(lwm2m_client_deregister(r.c), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    size_t len;
    const uint8_t *tail = rest(&d, &len);
    assert_bytes(tail, len,
                 S("\xB2" "rd" "\x02" "xy"),
                 "De-register to the new location");
    rig_close(&r);
}
END_TEST

START_TEST(register_refused_codes)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    /* 4.03: the result is the code, nothing registered. */
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    rig_ack(&r, &d, 0x83, NULL, 0);
    ck_assert(rig_until(&r, &r.registered, 1, DEADLINE_MS));
    ck_assert_int_eq(r.reg_result, 403);
    ck_assert(!lwm2m_client_is_registered(r.c));
    /* 2.01 without Location-Path: -EPROTO, logged. */
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    rig_ack(&r, &d, 0x41, NULL, 0);
    ck_assert(rig_until(&r, &r.registered, 2, DEADLINE_MS));
    ck_assert_int_eq(r.reg_result, -EPROTO);
    ck_assert_ptr_nonnull(strstr(r.log, "no usable Location-Path"));
    /* RST: -ECONNRESET. */
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    uint8_t rst[4] = {0x70, 0x00, d.b[2], d.b[3]};
    rig_send(&r, rst, 4);
    ck_assert(rig_until(&r, &r.registered, 3, DEADLINE_MS));
    ck_assert_int_eq(r.reg_result, -ECONNRESET);
    /* Then it works, and an Update answered 4.04 forgets the registration. */
    rig_register(&r);
    int mid = lwm2m_client_update(r.c, 0, NULL);
    ck_assert_int_ge(mid, 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    rig_ack(&r, &d, 0x84, NULL, 0);
    ck_assert(rig_until(&r, &r.updated, 1, DEADLINE_MS));
    ck_assert_int_eq(r.upd_result, 404);
    ck_assert(!lwm2m_client_is_registered(r.c));
    rig_close(&r);
}
END_TEST

/* Nothing listens on the port: ICMP port unreachable, at once. */
START_TEST(server_unreachable)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s); /* the port is free now: datagrams there are refused */
    struct rig r;
    rig_open(&r, ntohs(sa.sin_port), 3600);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    ck_assert(rig_until(&r, &r.registered, 1, DEADLINE_MS));
    ck_assert_int_eq(r.reg_result, -ECONNREFUSED);
    ck_assert_uint_lt(now_ms() - t0, 900); /* before any retransmission */
    /* Again, on a new session: refused again, no crash, no leak. */
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    ck_assert(rig_until(&r, &r.registered, 2, DEADLINE_MS));
    ck_assert_int_eq(r.reg_result, -ECONNREFUSED);
    rig_close(&r);
}
END_TEST

/* The server reads and never answers: -ETIMEDOUT once libcoap gives up
 * (ack timeout 1 s, one retransmission: 3 to 4.5 s). */
START_TEST(server_silent)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(lwm2m_client_register(r.c), 0);
    struct dgram d;
    int count = 0;
    while (r.registered == 0 && now_ms() - t0 < 10000)
        if (rig_recv(&r, &d, 200) > 0)
            count++;
    ck_assert_int_eq(r.registered, 1);
    ck_assert_int_eq(r.reg_result, -ETIMEDOUT);
    ck_assert_int_eq(count, 2);
    uint64_t dt = now_ms() - t0;
    ck_assert_msg(dt >= 2900 && dt < 6000, "gave up after %llu ms", (unsigned long long)dt);
    rig_close(&r);
}
END_TEST

START_TEST(bad_config_and_calls)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct lwm2m_client *c;
    struct lwm2m_config cfg = {.host = "127.0.0.1", .endpoint = "ep", .lifetime = 0};
    ck_assert_int_eq(lwm2m_client_open(&c, &loop, &cfg, &client_ops, NULL), -EINVAL);
    cfg.lifetime = 60;
    cfg.endpoint = "";
    ck_assert_int_eq(lwm2m_client_open(&c, &loop, &cfg, &client_ops, NULL), -EINVAL);
    cfg.endpoint = "ep";
    cfg.binding = "UQSQ-too-long";
    ck_assert_int_eq(lwm2m_client_open(&c, &loop, &cfg, &client_ops, NULL), -EINVAL);
    cfg.binding = NULL;
    ck_assert_int_eq(lwm2m_client_open(&c, &loop, &cfg, &client_ops, NULL), 0);
    ck_assert_int_eq(lwm2m_client_add_object(c, 3, &test_object, NULL), 0);
    ck_assert_int_eq(lwm2m_client_add_object(c, 3, &test_object, NULL), -EEXIST);
    ck_assert_int_eq(lwm2m_client_update(c, 0, NULL), -ENOTCONN);
    ck_assert_int_eq(lwm2m_client_deregister(c), -ENOTCONN);
    bool closed = false;
    lwm2m_client_close(c, NULL);
    (void)closed;
    for (int k = 0; k < 100 && uv_run(&loop, UV_RUN_NOWAIT); k++)
        ;
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Closing with everything in flight (a Register unanswered, an answer
 * pending, an observation) frees it all: ASan's leak check is the judge. */
START_TEST(close_in_flight)
{
    struct rig r;
    rig_open(&r, 0, 3600);
    rig_register(&r);
    rig_send(&r, S("\x41\x01\x30\x01\x51" "\x60" "\x51" "3" "\x01" "0" "\x01" "1"));
    struct dgram d;
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    r.later = true;
    rig_send(&r, S(CON_GET("\x01") "\xB1" "3" "\x01" "0" "\x01" "0"));
    expect(&r, S("\x60\x00\x10\x01"), "empty ACK");
    ck_assert_int_ge(lwm2m_client_update(r.c, 0, NULL), 0);
    ck_assert(rig_recv(&r, &d, DEADLINE_MS) > 0);
    int before = r.updated + r.obs_off;
    rig_close(&r);
    ck_assert_int_eq(r.updated + r.obs_off, before); /* no event after close */
}
END_TEST

// clang-format on

Suite *lwm2m_client_suite(void)
{
    Suite *s = suite_create("lwm2m_client");
    TCase *codec = tcase_create("codec");
    tcase_add_test(codec, tlv_device_example_encodes);
    tcase_add_test(codec, tlv_device_example_decodes);
    tcase_add_test(codec, tlv_truncated_refused);
    tcase_add_test(codec, tlv_malformed_refused);
    tcase_add_test(codec, tlv_integers_and_sizes);
    tcase_add_test(codec, text_values);
    suite_add_tcase(s, codec);
    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, register_update_deregister);
    tcase_add_test(tc, update_before_expiry);
    tcase_add_test(tc, read_formats);
    tcase_add_test(tc, write_and_execute);
    tcase_add_test(tc, separate_responses);
    tcase_add_test(tc, observe_notify_cancel);
    tcase_add_test(tc, observe_unacknowledged);
    tcase_add_test(tc, observe_answered_later);
    tcase_add_test(tc, rubbish_from_the_server);
    tcase_add_test(tc, observations_end_with_registration);
    tcase_add_test(tc, server_by_name);
    tcase_add_test(tc, stranger_unheard);
    tcase_add_test(tc, register_retransmitted);
    tcase_add_test(tc, register_separate_answer);
    tcase_add_test(tc, register_refused_codes);
    tcase_add_test(tc, server_unreachable);
    tcase_add_test(tc, server_silent);
    tcase_add_test(tc, bad_config_and_calls);
    tcase_add_test(tc, close_in_flight);
    suite_add_tcase(s, tc);
    return s;
}
