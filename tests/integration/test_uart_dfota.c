/* UART DFOTA on the BC66 and BC66-NA (card 2 chapter 3): the upload's CRC-16
 * against published check values and the card's table, and AT+QFUPLEX against
 * the real binary over its PTY. */
#include "fw_image/crc16.h"
#include "sim/at/at_engine.h"
#include "tests/integration/fota_flow.h"
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- CRC-16 (card 2 section 3.3) ---------------------------------------------- */

/* The card's CRC16_CCITT_table. Row 0x40 comes out of the card's text
 * garbled after 0x8948; its last three entries are the fragment that
 * follows the garble. */
static const uint16_t card_table[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b,
    0xc18c, 0xd1ad, 0xe1ce, 0xf1ef, 0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de, 0x2462, 0x3443, 0x0420, 0x1401,
    0x64e6, 0x74c7, 0x44a4, 0x5485, 0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4, 0xb75b, 0xa77a, 0x9719, 0x8738,
    0xf7df, 0xe7fe, 0xd79d, 0xc7bc, 0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b, 0x5af5, 0x4ad4, 0x7ab7, 0x6a96,
    0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41, 0xedae, 0xfd8f, 0xcdec, 0xddcd,
    0xad2a, 0xbd0b, 0x8d68, 0x9d49, 0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78, 0x9188, 0x81a9, 0xb1ca, 0xa1eb,
    0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290, 0x22f3, 0x32d2,
    0x4235, 0x5214, 0x6277, 0x7256, 0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405, 0xa7db, 0xb7fa, 0x8799, 0x97b8,
    0xe75f, 0xf77e, 0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827,
    0x18c0, 0x08e1, 0x3882, 0x28a3, 0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92, 0xfd2e, 0xed0f, 0xdd6c, 0xcd4d,
    0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74,
    0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

/* The card's reference loop, driven by its table. */
static uint16_t card_crc(const uint8_t *p, size_t n)
{
    uint16_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc = (uint16_t)((acc << 8) ^ card_table[((acc >> 8) ^ p[i]) & 0xff]);
    return acc;
}

START_TEST(crc16_check_values)
{
    /* The catalogue's check value of CRC-16/XMODEM, and the empty input. */
    ck_assert_uint_eq(crc16_ccitt_update(0, "123456789", 9), 0x31C3);
    ck_assert_uint_eq(crc16_ccitt_update(0, "", 0), 0);
    /* Continuing a CRC over pieces gives the CRC of the whole. */
    uint16_t c = crc16_ccitt_update(0, "1234", 4);
    ck_assert_uint_eq(crc16_ccitt_update(c, "56789", 5), 0x31C3);
}
END_TEST

START_TEST(crc16_matches_the_card_table)
{
    /* With the initial value 0, one byte's CRC is its table entry. */
    for (unsigned b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        ck_assert_msg(crc16_ccitt_update(0, &byte, 1) == card_table[b], "byte 0x%02x: 0x%04x", b,
                      crc16_ccitt_update(0, &byte, 1));
    }
    /* And the card's reference loop agrees on longer data, every byte value included. */
    static uint8_t data[8192];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 8));
    for (size_t n = 0; n <= sizeof data; n += 1021)
        ck_assert_uint_eq(crc16_ccitt_update(0, data, n), card_crc(data, n));
}
END_TEST

/* ---- The engine's data mode, through a test at_io --------------------------- */

static struct {
    char out[1 << 14];
    size_t len;
    char got[64]; /* what the data callback saw, as text */
    int idles;
} de;
static struct at_engine deng;

static void de_write(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    ck_assert_uint_lt(de.len + len, sizeof de.out);
    memcpy(de.out + de.len, data, len);
    de.len += len;
    de.out[de.len] = '\0';
}

static void de_line(void *ctx, const char *line, size_t len)
{
    (void)ctx, (void)line, (void)len;
}

static void de_idle(void *ctx)
{
    (void)ctx;
    de.idles++;
}

static void de_sync(void *ctx)
{
    (void)ctx;
}

static void de_done(struct at_engine *e, enum at_data_end how, const uint8_t *data, size_t len,
                    void *arg)
{
    ck_assert_ptr_eq(arg, &de);
    if (how == AT_DATA_ESCAPED) {
        snprintf(de.got, sizeof de.got, "ESC");
        at_engine_complete(e, AT_OK);
        return;
    }
    ck_assert_uint_lt(len, sizeof de.got);
    memcpy(de.got, data, len);
    de.got[len] = '\0';
    at_reply(e, "+D: %zu", len);
    at_engine_complete(e, AT_OK);
}

/* AT+D=<n>: takes n raw bytes; "AT+P" answers later. */
static int de_d(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t n;
    if (at_arg_uint(c, 0, 1, 60, &n) != 0)
        return AT_ERROR;
    struct at_data_req req = {
        .prompt = "\r\n>", .len = n, .escape = "ESC\r", .done = de_done, .arg = &de};
    return at_engine_data(e, &req) == 0 ? AT_PENDING : AT_ERROR;
}

static int de_p(struct at_engine *e, const struct at_cmd *c)
{
    (void)e, (void)c;
    return AT_PENDING;
}

static int de_x(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "X");
    return AT_OK;
}

static const struct at_command de_table[] = {
    {.name = "+D", .write = de_d}, {.name = "+P", .exec = de_p}, {.name = "+X", .exec = de_x}};

static const struct at_command *de_lookup(void *ctx, const char *name)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof de_table / sizeof de_table[0]; i++)
        if (strcmp(de_table[i].name, name) == 0)
            return &de_table[i];
    return NULL;
}

static const struct at_io de_io = {
    .write = de_write, .line = de_line, .idle = de_idle, .sync = de_sync, .lookup = de_lookup};

static void de_setup(void)
{
    memset(&de, 0, sizeof de);
    at_engine_init(&deng, &de_io, &de);
    deng.echo = false;
}

static void de_teardown(void)
{
    at_engine_free(&deng);
}

static bool de_in(const char *s, size_t n)
{
    return at_engine_input(&deng, s, n);
}
#define DE_IN(lit) de_in(lit, sizeof(lit) - 1)

/* The command, its data (CR, LF, ';' and NUL among it) and the next command
 * in one read. */
START_TEST(data_mode_in_one_read)
{
    ck_assert(DE_IN("AT+D=6\rA\r\n;\0BAT+X\r"));
    ck_assert_mem_eq(de.got, "A\r\n;\0B", 6);
    ck_assert_str_eq(de.out, "\r\n>\r\n+D: 6\r\n\r\nOK\r\n\r\nX\r\n\r\nOK\r\n");
    ck_assert(at_engine_idle(&deng));
}
END_TEST

/* One byte per read; the engine keeps reading (true) throughout. */
START_TEST(data_mode_byte_by_byte)
{
    const char *in = "AT+D=4\rab\rcAT\r";
    for (size_t i = 0; in[i]; i++)
        ck_assert_msg(de_in(in + i, 1), "input held at byte %zu", i);
    ck_assert_str_eq(de.got, "ab\rc");
    ck_assert_str_eq(de.out, "\r\n>\r\n+D: 4\r\n\r\nOK\r\n\r\nOK\r\n");
}
END_TEST

/* The escape line ends data mode wherever it falls, even on the last byte. */
START_TEST(data_mode_escape)
{
    ck_assert(DE_IN("AT+D=20\rxyzESC\r"));
    ck_assert_str_eq(de.got, "ESC");
    ck_assert_str_eq(de.out, "\r\n>\r\nOK\r\n");
    de.len = 0;
    ck_assert(DE_IN("AT+D=5\rxESC\r"));
    ck_assert_str_eq(de.got, "ESC");
    ck_assert(at_engine_idle(&deng));
}
END_TEST

/* A command held while another is pending enters data mode from the held
 * input, which then feeds it the data that came with it. */
START_TEST(data_mode_from_held_input)
{
    ck_assert(!DE_IN("AT+P\r")); /* pending: the owner stops reading */
    ck_assert(!DE_IN("AT+D=3\r12"));
    ck_assert(!DE_IN("3AT+X\r"));
    ck_assert_str_eq(de.out, "");
    at_engine_complete(&deng, AT_OK);
    ck_assert_str_eq(de.got, "123");
    ck_assert_str_eq(de.out, "\r\nOK\r\n\r\n>\r\n+D: 3\r\n\r\nOK\r\n\r\nX\r\n\r\nOK\r\n");
    ck_assert(at_engine_idle(&deng));
}
END_TEST

/* The rest of the line runs after the data; a stop (a timeout) drops it. */
START_TEST(data_mode_chain_and_stop)
{
    ck_assert(DE_IN("AT+D=2;+X\rhi"));
    ck_assert_str_eq(de.out, "\r\n>\r\n+D: 2\r\n\r\nX\r\n\r\nOK\r\n");
    de.len = 0;
    ck_assert(DE_IN("AT+D=9\rabc"));
    at_engine_data_stop(&deng);
    at_engine_complete(&deng, AT_ERROR);
    ck_assert(at_engine_idle(&deng));
    ck_assert(!at_engine_in_data(&deng));
    ck_assert(DE_IN("AT\r"));
    ck_assert_str_eq(de.out, "\r\n>\r\nERROR\r\n\r\nOK\r\n");
}
END_TEST

/* ---- AT+QFUPLEX against the real binary -------------------------------------- */

static struct bcsim_proc proc;
static struct host host;
static char resp[1 << 14];

/* A BC66 (or another model), booted, ATE0 set, with extra arguments. */
static void start(const char *model, const char *const *extra)
{
    flow_start_module(&proc, &host, model, extra);
    host_cmd(&host, "ATE0", resp, sizeof resp);
}

static void stop(void)
{
    host_cmd(&host, "ATE0", resp, sizeof resp); /* again after an update's reboot */
    bcsim_answers_then_stop(&proc, &host, "\r\nOK\r\n");
}

/* Reads until a final result code, a bounded time. */
static void await_final(struct host *h, char *out, size_t size, int timeout_ms)
{
    size_t n = 0;
    out[0] = '\0';
    long end = scratch_now_ms() + timeout_ms;
    while (!strstr(out, "\r\nOK\r\n") && !strstr(out, "\r\nERROR\r\n")) {
        ck_assert_msg(scratch_now_ms() < end, "no final result: %s", host_show(out));
        n += host_drain(h, out + n, size - n, 10);
    }
}

/* How a test spoils the CRC that follows a block. */
enum crc_mode { CRC_GOOD, CRC_HIGH_FIRST, CRC_FLIPPED, CRC_NONE };

/* Sends `cmd`, waits for '>', then `n` data bytes and their CRC; returns the
 * answer up to its final result code in resp. */
static const char *block(const char *cmd, const uint8_t *data, size_t n, enum crc_mode mode)
{
    char line[128];
    snprintf(line, sizeof line, "%s\r", cmd);
    host_send(&host, line);
    host_expect(&host, "\r\n>", resp, sizeof resp, HOST_TIMEOUT_MS);
    ck_assert_msg(strcmp(resp, "\r\n>") == 0, "before '>': %s", host_show(resp));
    host_send_bytes(&host, data, n);
    uint16_t crc = crc16_ccitt_update(0, data, n);
    uint8_t tail[2] = {(uint8_t)crc, (uint8_t)(crc >> 8)};
    if (mode == CRC_HIGH_FIRST) {
        tail[0] = (uint8_t)(crc >> 8);
        tail[1] = (uint8_t)crc;
    } else if (mode == CRC_FLIPPED) {
        tail[1] ^= 0x01;
    }
    if (mode != CRC_NONE)
        host_send_bytes(&host, tail, sizeof tail);
    await_final(&host, resp, sizeof resp, 10000);
    return resp;
}

/* Sends a command line and returns its answer (ATE0: no echo). */
static const char *cmd(const char *line)
{
    host_cmd(&host, line, resp, sizeof resp);
    return resp;
}

static uint8_t pattern[4 * 4096];

/* Every byte value, CR, LF, ';', 0x1A and 0x1B included, several times over. */
static void fill_pattern(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 131 + (i >> 9));
}

#define OK_LEN(n) "\r\n+QFUPLEX: " #n "\r\n\r\nOK\r\n"
#define ERR       "\r\nERROR\r\n"

START_TEST(qfuplex_test_form)
{
    static const char *const models[] = {"bc66", "bc66-na"};
    start(models[_i], NULL);
    ck_assert_str_eq(cmd("AT+QFUPLEX=?"),
                     "\r\nAT+QFUPLEX=<blocksize>,<blocknum>[,<length>[,<timeout>]]\r\n"
                     "AT+QFUPLEX=ESC\r\n\r\nOK\r\n");
    stop();
}
END_TEST

/* Card 1 has no UART upload: every form is an ERROR on the BC260Y-CN. */
START_TEST(bc260y_has_no_qfuplex)
{
    start("bc260y-cn", NULL);
    ck_assert_str_eq(cmd("AT+QFUPLEX=?"), ERR);
    ck_assert_str_eq(cmd("AT+QFUPLEX=4096,0"), ERR);
    ck_assert_str_eq(cmd("AT+QFUPLEX=ESC"), ERR);
    stop();
}
END_TEST

/* The flash file's FOTA area (BC66: after 1536 KiB of firmware). */
static void fota_area_is(const uint8_t *want, size_t n)
{
    FILE *f = fopen(scratch_path(proc.state, "flash.bin"), "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t got[sizeof pattern];
    ck_assert_int_eq(fseek(f, 1536 * 1024, SEEK_SET), 0);
    ck_assert_uint_eq(fread(got, 1, n, f), n);
    fclose(f);
    ck_assert_msg(memcmp(got, want, n) == 0, "the FOTA area differs from the blocks written");
}

/* Card 2 section 6.2's three blocks (4096, 4096, 1080), every byte value. */
START_TEST(card2_blocks_every_byte_value)
{
    fill_pattern();
    start("bc66", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0,4098", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    ck_assert_str_eq(block("AT+QFUPLEX=4096,1", pattern + 4096, 4096, CRC_GOOD), OK_LEN(4096));
    ck_assert_str_eq(block("AT+QFUPLEX=4096,2,1082", pattern + 8192, 1080, CRC_GOOD), OK_LEN(1080));
    fota_area_is(pattern, 8192); /* the whole sectors; the last is written by AT+QFOTADL=1 */
    stop();
}
END_TEST

/* Each mistake a host makes with the CRC is an ERROR, keeps nothing, and the
 * same block goes through when it is sent right. */
START_TEST(crc_mistakes)
{
    fill_pattern();
    start("bc66", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=1024,0", pattern, 1024, CRC_GOOD), OK_LEN(1024));
    ck_assert_str_eq(block("AT+QFUPLEX=1024,1", pattern + 1024, 1024, CRC_HIGH_FIRST), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=1024,1", pattern + 1024, 1024, CRC_FLIPPED), ERR);
    /* The data itself damaged on the way: the CRC of other bytes. */
    uint8_t bad[1026];
    memcpy(bad, pattern + 1024, 1024);
    uint16_t crc = crc16_ccitt_update(0, bad, 1024);
    bad[1024] = (uint8_t)crc;
    bad[1025] = (uint8_t)(crc >> 8);
    bad[17] ^= 0x80;
    ck_assert_str_eq(block("AT+QFUPLEX=1024,1", bad, 1026, CRC_NONE), ERR);
    /* Nothing of block 1 was kept: block 2 is still out of sequence. */
    ck_assert_str_eq(cmd("AT+QFUPLEX=1024,2"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=1024,1", pattern + 1024, 1024, CRC_GOOD), OK_LEN(1024));
    ck_assert_str_eq(block("AT+QFUPLEX=1024,2", pattern + 2048, 1024, CRC_GOOD), OK_LEN(1024));
    ck_assert_str_eq(block("AT+QFUPLEX=1024,3", pattern + 3072, 1024, CRC_GOOD), OK_LEN(1024));
    ck_assert_int_eq(bcsim_status_long(&proc, "downloaded"), 4096);
    fota_area_is(pattern, 4096);
    stop();
}
END_TEST

/* Fewer bytes than <length> when <timeout> runs out; the module answers
 * commands again afterwards and the upload so far is kept. */
START_TEST(timeout)
{
    fill_pattern();
    start("bc66", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=128,0", pattern, 128, CRC_GOOD), OK_LEN(128));
    long t0 = scratch_now_ms();
    ck_assert_str_eq(block("AT+QFUPLEX=128,1,130,1", pattern + 128, 100, CRC_NONE),
                     "\r\n+QFUPLEX: -2,TIMEOUT\r\n\r\nERROR\r\n");
    long took = scratch_now_ms() - t0;
    ck_assert_msg(took >= 900 && took < 5000, "a 1 s timeout took %ld ms", took);
    ck_assert_str_eq(cmd("AT"), "\r\nOK\r\n");
    ck_assert_str_eq(block("AT+QFUPLEX=128,1", pattern + 128, 128, CRC_GOOD), OK_LEN(128));
    /* A short last block without <length>: the module waits for <blocksize> + 2. */
    ck_assert_str_eq(block("AT+QFUPLEX=128,2,,1", pattern + 256, 50, CRC_GOOD),
                     "\r\n+QFUPLEX: -2,TIMEOUT\r\n\r\nERROR\r\n");
    ck_assert_str_eq(block("AT+QFUPLEX=128,2,52", pattern + 256, 50, CRC_GOOD), OK_LEN(50));
    stop();
}
END_TEST

/* AT+QFUPLEX=ESC: a host lost in data mode gets out of it wherever it is,
 * and one that is not in data mode gets the same answer. */
START_TEST(escape)
{
    fill_pattern();
    start("bc66", NULL);
    ck_assert_str_eq(cmd("AT+QFUPLEX=ESC"), "\r\n+QFUPLEX: -1,ESC\r\n\r\nOK\r\n");
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    /* In the middle of a block (part of it sent), then the escape line. */
    host_send(&host, "AT+QFUPLEX=4096,1\r");
    host_expect(&host, "\r\n>", resp, sizeof resp, HOST_TIMEOUT_MS);
    host_send_bytes(&host, pattern + 4096, 1500);
    host_send(&host, "AT+QFUPLEX=ESC\r\n");
    await_final(&host, resp, sizeof resp, HOST_TIMEOUT_MS);
    ck_assert_str_eq(resp, "\r\n+QFUPLEX: -1,ESC\r\n\r\nOK\r\n");
    ck_assert_str_eq(cmd("AT"), "\r\nOK\r\n");
    /* Nothing of that block was kept, the blocks before it were. */
    ck_assert_str_eq(cmd("AT+QFUPLEX=4096,2"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,1", pattern + 4096, 4096, CRC_GOOD), OK_LEN(4096));
    fota_area_is(pattern, 8192);
    stop();
}
END_TEST

/* The sequence rules (README): ERROR before '>' and the upload kept. */
START_TEST(sequence_rules)
{
    fill_pattern();
    start("bc66", NULL);
    ck_assert_str_eq(cmd("AT+QFUPLEX=512,1"), ERR); /* no upload under way */
    ck_assert_str_eq(block("AT+QFUPLEX=512,0", pattern, 512, CRC_GOOD), OK_LEN(512));
    ck_assert_str_eq(cmd("AT+QFUPLEX=512,2"), ERR); /* a block skipped */
    ck_assert_str_eq(cmd("AT+QFUPLEX=512,0,514,x"), ERR);
    ck_assert_str_eq(cmd("AT+QFUPLEX=1024,1"), ERR); /* another size within the upload */
    ck_assert_str_eq(block("AT+QFUPLEX=512,1", pattern + 512, 512, CRC_GOOD), OK_LEN(512));
    ck_assert_str_eq(cmd("AT+QFUPLEX=512,1"), ERR); /* a block again */
    /* Block 0 restarts, of any size. */
    ck_assert_str_eq(block("AT+QFUPLEX=256,0", pattern + 1000, 256, CRC_GOOD), OK_LEN(256));
    ck_assert_str_eq(cmd("AT+QFUPLEX=256,2"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=256,1,202", pattern + 1256, 200, CRC_GOOD), OK_LEN(200));
    ck_assert_str_eq(cmd("AT+QFUPLEX=256,2"), ERR); /* a short block ended the package */
    ck_assert_str_eq(block("AT+QFUPLEX=128,0", pattern, 128, CRC_GOOD), OK_LEN(128));
    stop();
}
END_TEST

/* Parameters out of range or of the wrong type: ERROR, no data mode. */
START_TEST(bad_parameters)
{
    static const char *const bad[] = {
        "AT+QFUPLEX=100,0",
        "AT+QFUPLEX=16384,0",
        "AT+QFUPLEX=64,0",
        "AT+QFUPLEX=abc,0",
        "AT+QFUPLEX=4096",
        "AT+QFUPLEX=4096,-1",
        "AT+QFUPLEX=4096,x",
        "AT+QFUPLEX=4096,\"0\"",
        "AT+QFUPLEX=4096,65536",
        "AT+QFUPLEX=4096,0,2",
        "AT+QFUPLEX=4096,0,4099",
        "AT+QFUPLEX=4096,0,0",
        "AT+QFUPLEX=4096,0,4098,0",
        "AT+QFUPLEX=4096,0,4098,61",
        "AT+QFUPLEX=4096,0,4098,6,1",
        "AT+QFUPLEX=\"ESC\"",
        "AT+QFUPLEX=esc",
        "AT+QFUPLEX=ESC,1",
        "AT+QFUPLEX",
        "AT+QFUPLEX?",
        "AT+QFUPLEX=,0",
    };
    start("bc66", NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(strcmp(cmd(bad[i]), ERR) == 0, "%s: %s", bad[i], host_show(resp));
    stop();
}
END_TEST

/* A package that outgrows the FOTA area: the block is refused before '>',
 * the upload so far stays. */
START_TEST(overflow)
{
    fill_pattern();
    start("bc66", NULL);
    char o[512];
    ck_assert_int_eq(
        bcsim_ctl(&proc, o, sizeof o, (const char *[]){"fault", "flash-capacity", "8192", NULL}),
        0);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    ck_assert_str_eq(block("AT+QFUPLEX=2048,0", pattern, 2048, CRC_GOOD), OK_LEN(2048));
    ck_assert_str_eq(block("AT+QFUPLEX=2048,1", pattern + 2048, 2048, CRC_GOOD), OK_LEN(2048));
    ck_assert_str_eq(block("AT+QFUPLEX=2048,2", pattern + 4096, 2048, CRC_GOOD), OK_LEN(2048));
    ck_assert_str_eq(block("AT+QFUPLEX=2048,3", pattern + 6144, 2048, CRC_GOOD), OK_LEN(2048));
    ck_assert_str_eq(cmd("AT+QFUPLEX=2048,4,3"), ERR); /* one byte more than the area */
    ck_assert_str_eq(cmd("AT+QFUPLEX=8192,0,8195"), ERR);
    fota_area_is(pattern, 8192);
    stop();
}
END_TEST

/* With echo (the default) the command line is echoed, the data is not; a
 * URC that comes meanwhile waits for the block's answer. */
START_TEST(echo_and_urc_in_data_mode)
{
    fill_pattern();
    flow_start_module(&proc, &host, "bc66", NULL);
    host_send(&host, "AT+QFUPLEX=128,0,130\r");
    host_expect(&host, "\r\n>", resp, sizeof resp, HOST_TIMEOUT_MS);
    ck_assert_str_eq(resp, "AT+QFUPLEX=128,0,130\r\r\n>");
    host_send_bytes(&host, pattern, 100);
    char o[512];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"urc", "+HELLO", NULL}), 0);
    uint16_t crc = crc16_ccitt_update(0, pattern, 128);
    host_send_bytes(&host, pattern + 100, 28);
    host_send_bytes(&host, (uint8_t[]){(uint8_t)crc, (uint8_t)(crc >> 8)}, 2);
    host_expect(&host, "+HELLO\r\n", resp, sizeof resp, HOST_TIMEOUT_MS);
    ck_assert_str_eq(resp, "\r\n+QFUPLEX: 128\r\n\r\nOK\r\n\r\n+HELLO\r\n");
    bcsim_answers_then_stop(&proc, &host, "AT\r\r\nOK\r\n");
}
END_TEST

/* A power cut in the middle of a block: the upload is RAM only and gone; a
 * new one starts at block 0. */
START_TEST(power_cut_in_data_mode)
{
    fill_pattern();
    start("bc66", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    host_send(&host, "AT+QFUPLEX=4096,1\r");
    host_expect(&host, "\r\n>", resp, sizeof resp, HOST_TIMEOUT_MS);
    host_send_bytes(&host, pattern + 4096, 1000);
    char o[512];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "cut", NULL}), 0);
    ck_assert(bcsim_status_wait(&proc, "\"power\":\"off\"", HOST_TIMEOUT_MS));
    host_send_bytes(&host, pattern + 5096, 3098); /* into a module that is off */
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){"power", "on", NULL}), 0);
    host_wait_ready(&host);
    host_cmd(&host, "ATE0", resp, sizeof resp);
    ck_assert_str_eq(cmd("AT+QFUPLEX=4096,1"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    ck_assert_str_eq(block("AT+QFUPLEX=4096,1", pattern + 4096, 4096, CRC_GOOD), OK_LEN(4096));
    fota_area_is(pattern, 8192);
    stop();
}
END_TEST

static void ctl(const char *a, const char *b, const char *c)
{
    char o[512];
    ck_assert_int_eq(bcsim_ctl(&proc, o, sizeof o, (const char *[]){a, b, c, NULL}), 0);
}

/* The flash fails while a block is written: ERROR, the upload as it was
 * before the block; block 0 failing leaves no upload. */
START_TEST(flash_fails_a_block)
{
    fill_pattern();
    start("bc66", NULL);
    ctl("fault", "flash-program", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), ERR);
    ck_assert_str_eq(cmd("AT+QFUPLEX=4096,1"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    /* Half a sector waits in RAM; the block that fills the sector fails. */
    ck_assert_str_eq(block("AT+QFUPLEX=2048,0", pattern, 2048, CRC_GOOD), OK_LEN(2048));
    ctl("fault", "flash-program", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=2048,1", pattern + 2048, 2048, CRC_GOOD), ERR);
    ck_assert_str_eq(cmd("AT+QFUPLEX=2048,2"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=2048,1", pattern + 2048, 2048, CRC_GOOD), OK_LEN(2048));
    ck_assert_int_eq(bcsim_status_long(&proc, "downloaded"), 4096);
    fota_area_is(pattern, 4096);
    /* Two sectors in one block: the first is written, the second fails. */
    ck_assert_str_eq(block("AT+QFUPLEX=8192,0", pattern, 8192, CRC_GOOD), OK_LEN(8192));
    ctl("fault", "flash-program", "2");
    ck_assert_str_eq(block("AT+QFUPLEX=8192,1", pattern + 8192, 8192, CRC_GOOD), ERR);
    ck_assert_str_eq(cmd("AT+QFUPLEX=8192,2"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=8192,1", pattern + 8192, 8192, CRC_GOOD), OK_LEN(8192));
    ck_assert_int_eq(bcsim_status_long(&proc, "downloaded"), 16384);
    fota_area_is(pattern, sizeof pattern);
    stop();
}
END_TEST

/* The flash's power goes while a block is written: the module is off, says
 * nothing more, and after power-on the upload starts again at block 0. */
START_TEST(flash_cut_in_a_block)
{
    fill_pattern();
    start("bc66", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    ctl("fault", "flash-cut", "1");
    host_send(&host, "AT+QFUPLEX=4096,1\r");
    host_expect(&host, "\r\n>", resp, sizeof resp, HOST_TIMEOUT_MS);
    host_send_bytes(&host, pattern + 4096, 4096);
    uint16_t crc = crc16_ccitt_update(0, pattern + 4096, 4096);
    host_send_bytes(&host, (uint8_t[]){(uint8_t)crc, (uint8_t)(crc >> 8)}, 2);
    ck_assert(bcsim_status_wait(&proc, "\"power\":\"off\"", HOST_TIMEOUT_MS));
    ck_assert_uint_eq(host_drain(&host, resp, sizeof resp, 0), 0);
    ctl("power", "on", NULL);
    host_wait_ready(&host);
    host_cmd(&host, "ATE0", resp, sizeof resp);
    ck_assert_str_eq(cmd("AT+QFUPLEX=4096,1"), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    stop();
}
END_TEST

/* More bytes than <length>: ERROR and nothing of the block kept, whether the
 * extra bytes come in the same write or right after the CRC. */
START_TEST(longer_than_length)
{
    fill_pattern();
    start("bc66", NULL);
    uint8_t buf[133];
    memcpy(buf, pattern, 128);
    uint16_t crc = crc16_ccitt_update(0, pattern, 128);
    buf[128] = (uint8_t)crc;
    buf[129] = (uint8_t)(crc >> 8);
    memcpy(buf + 130, "xyz", 3);
    ck_assert_str_eq(block("AT+QFUPLEX=128,0", buf, sizeof buf, CRC_NONE), ERR);
    ck_assert_str_eq(cmd("AT+QFUPLEX=128,1"), ERR); /* no upload: block 0 was not kept */
    ck_assert_str_eq(block("AT+QFUPLEX=128,0", pattern, 128, CRC_GOOD), OK_LEN(128));
    host_send(&host, "AT+QFUPLEX=128,1\r");
    host_expect(&host, "\r\n>", resp, sizeof resp, HOST_TIMEOUT_MS);
    crc = crc16_ccitt_update(0, pattern + 128, 128);
    host_send_bytes(&host, pattern + 128, 128);
    host_send_bytes(&host, (uint8_t[]){(uint8_t)crc, (uint8_t)(crc >> 8)}, 2);
    host_send_bytes(&host, "\r", 1);
    await_final(&host, resp, sizeof resp, HOST_TIMEOUT_MS);
    ck_assert_str_eq(resp, ERR);
    ck_assert_int_eq(bcsim_status_long(&proc, "downloaded"), 128);
    ck_assert_str_eq(block("AT+QFUPLEX=128,1", pattern + 128, 128, CRC_GOOD), OK_LEN(128));
    stop();
}
END_TEST

/* The line faults of the control socket, as a host meets them. */
START_TEST(line_faults)
{
    fill_pattern();
    start("bc66", NULL);
    /* "AT+QFUPLEX=128,0\r" is 17 bytes: the 27th is the 10th byte of data. */
    ctl("fault", "uart-rx-flip", "27");
    ck_assert_str_eq(block("AT+QFUPLEX=128,0", pattern, 128, CRC_GOOD), ERR);
    ck_assert_str_eq(block("AT+QFUPLEX=128,0", pattern, 128, CRC_GOOD), OK_LEN(128));
    /* A byte lost: the block comes up short and <timeout> runs out. */
    ctl("fault", "uart-rx-drop", "30");
    ck_assert_str_eq(block("AT+QFUPLEX=128,1,130,1", pattern + 128, 128, CRC_GOOD),
                     "\r\n+QFUPLEX: -2,TIMEOUT\r\n\r\nERROR\r\n");
    ck_assert_str_eq(block("AT+QFUPLEX=128,1", pattern + 128, 128, CRC_GOOD), OK_LEN(128));
    /* The first byte of the next answer is lost on its way to the host. */
    ctl("fault", "uart-tx-drop", NULL);
    host_send(&host, "AT\r");
    host_expect(&host, "OK\r\n", resp, sizeof resp, HOST_TIMEOUT_MS);
    ck_assert_str_eq(resp, "\nOK\r\n");
    /* fault clear disarms them. */
    ctl("fault", "uart-rx-flip", NULL);
    ctl("fault", "uart-tx-drop", NULL);
    ctl("fault", "clear", NULL);
    ck_assert_str_eq(cmd("AT"), "\r\nOK\r\n");
    stop();
}
END_TEST

/* In real time both directions take the line time of their bytes at the
 * rate AT+IPR set: lower bounds only (the machine may be slower). */
START_TEST(paced_at_the_baud_rate)
{
    fill_pattern();
    memset(&proc, 0, sizeof proc);
    bcsim_start(&proc, "bc66", (const char *[]){"--speed", "1", NULL});
    host_open(&host, proc.pty);
    host_expect(&host, "+IP: ", resp, sizeof resp, 30000); /* a real-time boot */
    host_expect(&host, "\r\n", resp, sizeof resp, HOST_TIMEOUT_MS);
    host_cmd(&host, "ATE0", resp, sizeof resp);
    long t0 = scratch_now_ms();
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pattern, 4096, CRC_GOOD), OK_LEN(4096));
    long took = scratch_now_ms() - t0;
    /* 18 + 4098 bytes in, 3 + 22 out, at 11.52 bytes per ms */
    ck_assert_msg(took >= 4141 / 11.52 - 2, "a 4096-byte block at 115200 baud took %ld ms", took);
    ck_assert_str_eq(cmd("AT+IPR=9600"), "\r\nOK\r\n");
    t0 = scratch_now_ms();
    ck_assert_str_eq(block("AT+QFUPLEX=1024,0", pattern, 1024, CRC_GOOD), OK_LEN(1024));
    took = scratch_now_ms() - t0;
    ck_assert_msg(took >= 1069 / 0.96 - 2, "a 1024-byte block at 9600 baud took %ld ms", took);
    t0 = scratch_now_ms();
    ck_assert_str_eq(cmd("AT+QFUPLEX=?"),
                     "\r\nAT+QFUPLEX=<blocksize>,<blocknum>[,<length>[,<timeout>]]\r\n"
                     "AT+QFUPLEX=ESC\r\n\r\nOK\r\n");
    took = scratch_now_ms() - t0;
    ck_assert_msg(took >= 95 / 0.96 - 2, "13 bytes in and 82 out at 9600 baud took %ld ms", took);
    ck_assert_str_eq(cmd("AT+IPR=115200"), "\r\nOK\r\n");
    stop();
}
END_TEST

/* ---- AT+QFOTADL=1: the update from the uploaded package ----------------------- */

static char dir[64];
static uint8_t pkg[1 << 20];
static size_t pkg_len;

static void setup(void)
{
    scratch_make(dir, sizeof dir, "uart");
    ck_assert_int_eq(mkdir(scratch_path(dir, "www"), 0755), 0);
}

static void teardown(void)
{
    scratch_remove(dir);
}

/* www/up.pkg from one built-in revision to another, read into pkg. */
static void read_package(void);

static void make_package(const char *model, const char *from, const char *to, const char *extra)
{
    flow_package(dir, model, from, to, "up.pkg", extra);
    read_package();
}

static void read_package(void)
{
    FILE *f = fopen(scratch_path(dir, "www/up.pkg"), "rb");
    ck_assert_ptr_nonnull(f);
    pkg_len = fread(pkg, 1, sizeof pkg, f);
    ck_assert(feof(f) && pkg_len > 0);
    fclose(f);
}

/* Blocks [first, last) of pkg in blocks of `size`, the short last one with
 * its <length> (card 2 section 6.2). */
static void upload(uint32_t size, size_t first, size_t last)
{
    for (size_t b = first; b < last && b * size < pkg_len; b++) {
        size_t n = pkg_len - b * size < size ? pkg_len - b * size : size;
        char line[64], want[64];
        snprintf(line, sizeof line, "AT+QFUPLEX=%u,%zu,%zu", size, b, n + 2);
        snprintf(want, sizeof want, "\r\n+QFUPLEX: %zu\r\n\r\nOK\r\n", n);
        ck_assert_str_eq(block(line, pkg + b * size, n, CRC_GOOD), want);
    }
}

static size_t blocks(uint32_t size)
{
    return (pkg_len + size - 1) / size;
}

/* Card 2 section 6.2 exactly: a package of 9272 bytes in the card's three
 * command lines (4096, 4096, 1080), then the update. */
START_TEST(card2_exact_three_blocks)
{
    flow_package_sized(dir, "bc66", "BC66NBR01A07", "BC66NBR01A10", "up.pkg", 9272);
    read_package();
    ck_assert_uint_eq(pkg_len, 9272);
    start("bc66", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0,4098", pkg, 4096, CRC_GOOD), OK_LEN(4096));
    ck_assert_str_eq(block("AT+QFUPLEX=4096,1,4098", pkg + 4096, 4096, CRC_GOOD), OK_LEN(4096));
    ck_assert_str_eq(block("AT+QFUPLEX=4096,2,1082", pkg + 8192, 1080, CRC_GOOD), OK_LEN(1080));
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_update(&host, true, true);
    flow_revision_is(&host, "BC66NBR01A10");
    stop();
}
END_TEST

/* Card 2 section 6.2 end to end: blocks of 4096, AT+QFOTADL=1, the update
 * and the new firmware's boot, as the card shows them. */
START_TEST(card2_uart_replay)
{
    static const char *const models[] = {"bc66", "bc66-na"};
    static const char *const revs[][2] = {{"BC66NBR01A07", "BC66NBR01A10"},
                                          {"BC66NANBR01A02", "BC66NANBR01A03"}};
    make_package(models[_i], revs[_i][0], revs[_i][1], NULL);
    start(models[_i], NULL);
    upload(4096, 0, blocks(4096));
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_update(&host, true, true);
    flow_revision_is(&host, revs[_i][1]);
    stop();
}
END_TEST

/* No package, half a package, a package for something else: END with the
 * card's code, the old firmware goes on; a half package completed later
 * updates. */
START_TEST(uploaded_package_refused)
{
    make_package("bc66", "BC66NBR01A07", "BC66NBR01A08", NULL);
    start("bc66", NULL);
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_line(&host, "+QIND: \"FOTA\",\"END\",255");
    size_t n = blocks(1024);
    ck_assert_uint_gt(n, 3);
    upload(1024, 0, n - 2);
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_line(&host, "+QIND: \"FOTA\",\"END\",255");
    flow_revision_is(&host, "BC66NBR01A07");
    /* The upload goes on where it stopped, and then updates. */
    upload(1024, n - 2, n);
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_update(&host, true, true);
    flow_revision_is(&host, "BC66NBR01A08");
    stop();
}
END_TEST

START_TEST(uploaded_package_mismatched)
{
    static const char *const breaks[] = {"wrong-model", "wrong-base", "corrupt"};
    static const char *const ends[] = {"254", "254", "255"};
    make_package("bc66", "BC66NBR01A07", "BC66NBR01A08", breaks[_i]);
    start("bc66", NULL);
    upload(2048, 0, blocks(2048));
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    char want[64];
    snprintf(want, sizeof want, "+QIND: \"FOTA\",\"END\",%s", ends[_i]);
    flow_expect_line(&host, want);
    flow_revision_is(&host, "BC66NBR01A07");
    stop();
}
END_TEST

/* The BC260Y-CN has no UART upload, so no =1 either. */
START_TEST(bc260y_has_no_qfotadl_1)
{
    start("bc260y-cn", NULL);
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), ERR);
    stop();
}
END_TEST

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* An HTTP download has the FOTA area: AT+QFUPLEX is an ERROR and
 * AT+QFOTADL=1 is busy (END,2); the download goes on to its update. After
 * it, the area is the download's: no upload to update from. */
START_TEST(busy_while_downloading)
{
    make_package("bc66", "BC66NBR01A07", "BC66NBR01A08", NULL);
    struct bcsim_proc server;
    memset(&server, 0, sizeof server);
    int port = bcsim_serve(&server, scratch_path(dir, "www"), NULL);
    flow_start_paced(&proc, &host, "bc66", "8000", "20");
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pkg, 4096, CRC_GOOD), OK_LEN(4096));
    char line[128];
    snprintf(line, sizeof line, "AT+QFOTADL=\"http://127.0.0.1:%d/up.pkg\"", port);
    ck_assert_str_eq(cmd(line), "\r\nOK\r\n");
    host_expect(&host, "\"DOWNLOADING\",", resp, sizeof resp, 10000);
    /* DOWNLOADING lines may come before each answer. */
    cmd("AT+QFUPLEX=4096,0");
    ck_assert_msg(ends_with(resp, ERR) && !strstr(resp, ">"), "%s", host_show(resp));
    cmd("AT+QFOTADL=1");
    ck_assert_msg(ends_with(resp, "\r\nOK\r\n"), "%s", host_show(resp));
    host_expect(&host, "\r\n+QIND: \"FOTA\",\"END\",2\r\n", resp, sizeof resp, 5000);
    host_expect(&host, "\"FOTA\",\"END\",0\r\n", resp, sizeof resp, 60000);
    host_wait_ready(&host);
    host_cmd(&host, "ATE0", resp, sizeof resp);
    flow_revision_is(&host, "BC66NBR01A08");
    ck_assert_str_eq(cmd("AT+QFUPLEX=4096,1"), ERR); /* the upload is gone */
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_line(&host, "+QIND: \"FOTA\",\"END\",255");
    stop();
    bcsim_halt(&server);
}
END_TEST

/* A download that fails has still taken the area: the upload before it is
 * gone, even with the phase back to idle. */
START_TEST(failed_download_forgets_the_upload)
{
    make_package("bc66", "BC66NBR01A07", "BC66NBR01A08", NULL);
    struct bcsim_proc server;
    memset(&server, 0, sizeof server);
    int port = bcsim_serve(&server, scratch_path(dir, "www"), NULL);
    start("bc66", NULL);
    ck_assert_str_eq(block("AT+QFUPLEX=4096,0", pkg, 4096, CRC_GOOD), OK_LEN(4096));
    char line[128];
    snprintf(line, sizeof line, "AT+QFOTADL=\"http://127.0.0.1:%d/missing.pkg\"", port);
    ck_assert_str_eq(cmd(line), "\r\nOK\r\n");
    host_expect(&host, "\"HTTPEND\",12\r\n", resp, sizeof resp, 10000);
    ck_assert_str_eq(cmd("AT+QFUPLEX=4096,1"), ERR);
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_line(&host, "+QIND: \"FOTA\",\"END\",255");
    stop();
    bcsim_halt(&server);
}
END_TEST

/* The power goes while the uploaded package is applied: it resumes at the
 * next power-on, as on the HTTP path. */
START_TEST(power_cut_while_updating)
{
    make_package("bc66", "BC66NBR01A07", "BC66NBR01A08", NULL);
    start("bc66", NULL);
    upload(4096, 0, blocks(4096));
    ctl("fault", "flash-cut", "200");
    ck_assert_str_eq(cmd("AT+QFOTADL=1"), "\r\nOK\r\n");
    flow_expect_line(&host, "+QIND: \"FOTA\",\"START\"");
    ck_assert(bcsim_status_wait(&proc, "\"power\":\"off\"", 30000));
    host_drain(&host, resp, sizeof resp, 0);
    ck_assert_msg(!strstr(resp, "100%"), "%s", host_show(resp));
    ctl("power", "on", NULL);
    flow_expect_brom(&host, true);
    flow_expect_line(&host, "+QIND: \"FOTA\",\"START\"");
    flow_finish_resumed(&host, "BC66NBR01A08");
    stop();
}
END_TEST

Suite *uart_dfota_suite(void)
{
    Suite *s = suite_create("uart_dfota");
    TCase *crc = tcase_create("crc16");
    tcase_add_test(crc, crc16_check_values);
    tcase_add_test(crc, crc16_matches_the_card_table);
    suite_add_tcase(s, crc);
    TCase *data = tcase_create("data_mode");
    tcase_add_checked_fixture(data, de_setup, de_teardown);
    tcase_add_test(data, data_mode_in_one_read);
    tcase_add_test(data, data_mode_byte_by_byte);
    tcase_add_test(data, data_mode_escape);
    tcase_add_test(data, data_mode_from_held_input);
    tcase_add_test(data, data_mode_chain_and_stop);
    suite_add_tcase(s, data);
    TCase *up = tcase_create("qfuplex");
    tcase_set_timeout(up, 120);
    tcase_add_loop_test(up, qfuplex_test_form, 0, 2);
    tcase_add_test(up, bc260y_has_no_qfuplex);
    tcase_add_test(up, card2_blocks_every_byte_value);
    tcase_add_test(up, crc_mistakes);
    tcase_add_test(up, timeout);
    tcase_add_test(up, escape);
    tcase_add_test(up, sequence_rules);
    tcase_add_test(up, bad_parameters);
    tcase_add_test(up, overflow);
    tcase_add_test(up, power_cut_in_data_mode);
    tcase_add_test(up, echo_and_urc_in_data_mode);
    tcase_add_test(up, flash_fails_a_block);
    tcase_add_test(up, flash_cut_in_a_block);
    tcase_add_test(up, longer_than_length);
    tcase_add_test(up, line_faults);
    suite_add_tcase(s, up);
    TCase *line = tcase_create("line");
    tcase_set_timeout(line, 120);
    tcase_add_test(line, paced_at_the_baud_rate);
    suite_add_tcase(s, line);
    TCase *dl = tcase_create("qfotadl_1");
    tcase_add_checked_fixture(dl, setup, teardown);
    tcase_set_timeout(dl, 180);
    tcase_add_loop_test(dl, card2_uart_replay, 0, 2);
    tcase_add_test(dl, card2_exact_three_blocks);
    tcase_add_test(dl, uploaded_package_refused);
    tcase_add_loop_test(dl, uploaded_package_mismatched, 0, 3);
    tcase_add_test(dl, bc260y_has_no_qfotadl_1);
    tcase_add_test(dl, power_cut_while_updating);
    tcase_add_test(dl, busy_while_downloading);
    tcase_add_test(dl, failed_download_forgets_the_upload);
    suite_add_tcase(s, dl);
    return s;
}
