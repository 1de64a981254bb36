/* +QFOTADL: DFOTA from a URL (cards 1 and 2); +QFUPLEX: the package over the
 * UART, block by block (card 2 section 3.2.1). */
#include "sim/commands/commands.h"
#include "fw_image/crc16.h"
#include "sim/module.h"

#include <stdio.h>
#include <string.h>

#define MOD(e) ((struct module *)(e)->ctx)

static int qfotadl_test(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    const char *reply = MOD(e)->prof->fota.test_reply;
    if (reply)
        at_reply(e, "%s", reply);
    return AT_OK;
}

static int qfotadl_write(struct at_engine *e, const struct at_cmd *c)
{
    char url[URL_MAX + 2];
    if (c->argc != 1 || at_arg_str(c, 0, true, url, sizeof url) != 0)
        return AT_ERROR;
    struct module *m = MOD(e);
    /* =1: the package AT+QFUPLEX uploaded, on the models that have it. */
    bool uploaded = !c->argv[0].quoted && strcmp(url, "1") == 0;
    if (uploaded && !prof_has_command(m->prof, "+QFUPLEX"))
        return AT_ERROR;
    enum fota_answer a = uploaded ? fota_command_uploaded(&m->fota) : fota_command(&m->fota, url);
    return a == FOTA_ACCEPTED ? AT_OK : AT_ERROR;
}

/* ---- AT+QFUPLEX ---------------------------------------------------------- */

#define QFUPLEX_ESCAPE       "AT+QFUPLEX=ESC\r"
#define QFUPLEX_TIMEOUT_DEF  6
#define QFUPLEX_TIMEOUT_MAX  60
#define QFUPLEX_BLOCKNUM_MAX 65535 /* more than the FOTA area holds blocks of 128 */

static bool valid_block_size(uint32_t size)
{
    for (uint32_t s = 128; s <= 8192; s *= 2)
        if (size == s)
            return true;
    return false;
}

static void upload_event(struct module *m, const char *result)
{
    const struct fota_upload *u = &m->fota.upload;
    char text[96];
    snprintf(text, sizeof text, "block %u (%u bytes of %u): %s", u->block.num, u->block.len,
             u->block.size, result);
    mod_event(m, "upload", "block", text);
}

static int qfuplex_test(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "AT+QFUPLEX=<blocksize>,<blocknum>[,<length>[,<timeout>]]");
    at_reply(e, "AT+QFUPLEX=ESC");
    return AT_OK;
}

/* <timeout> ran out before <length> bytes came. */
static void qfuplex_timeout(uv_timer_t *t)
{
    struct at_engine *e = t->data;
    upload_event(MOD(e), "timeout");
    at_engine_data_stop(e);
    at_reply(e, "+QFUPLEX: -2,TIMEOUT");
    at_engine_complete(e, AT_ERROR);
}

/* The flash lost its power while the block was written: the module is off,
 * and says nothing more. From the loop, not from inside the engine's input. */
static void qfuplex_power_cut(uv_timer_t *t)
{
    struct at_engine *e = t->data;
    mod_power_cut(MOD(e));
}

/* The line stayed silent after the block: check it, keep it or not, answer. */
static void qfuplex_settled(uv_timer_t *t)
{
    struct at_engine *e = t->data;
    struct module *m = MOD(e);
    struct fota_upload *u = &m->fota.upload;
    const uint8_t *data = u->block.data;
    size_t extra = at_engine_data_extra(e);
    uint32_t n = u->block.len;
    int err = 0;
    if (extra > 0) {
        upload_event(m, "longer than <length>");
        err = -1;
    } else if ((uint16_t)(data[n] | data[n + 1] << 8) != crc16_ccitt_update(0, data, n)) {
        upload_event(m, "CRC mismatch"); /* the CRC comes low byte first */
        err = -1;
    } else if ((err = fota_upload_write(u, u->block.size, u->block.num, data, n)) == FLASH_EPOWER) {
        upload_event(m, "power cut");
        at_engine_data_stop(e);
        uv_timer_start(&u->timer, qfuplex_power_cut, 0, 0);
        return;
    } else if (err) {
        upload_event(m, "flash error");
    }
    at_engine_data_stop(e);
    if (err) {
        at_engine_complete(e, AT_ERROR);
        return;
    }
    upload_event(m, "written");
    at_reply(e, "+QFUPLEX: %u", n);
    at_engine_complete(e, AT_OK);
}

static void qfuplex_data(struct at_engine *e, enum at_data_end how, const uint8_t *data, size_t len,
                         void *arg)
{
    (void)arg;
    (void)len;
    struct module *m = MOD(e);
    struct fota_upload *u = &m->fota.upload;
    uv_timer_stop(&u->timer);
    if (how == AT_DATA_ESCAPED) {
        upload_event(m, "escaped");
        at_reply(e, "+QFUPLEX: -1,ESC");
        at_engine_complete(e, AT_OK);
        return;
    }
    /* <length> bytes are in. Bytes beyond it make the block an ERROR, so
     * wait until the line has been silent for a moment before judging it. */
    u->block.data = data;
    uv_timer_start(&u->timer, qfuplex_settled, uart_idle_gap_ms(&m->uart), 0);
}

static int qfuplex_write(struct at_engine *e, const struct at_cmd *c)
{
    struct module *m = MOD(e);
    struct fota_upload *u = &m->fota.upload;
    char word[8];
    if (c->argc == 1 && at_arg_str(c, 0, true, word, sizeof word) == 0 && !c->argv[0].quoted &&
        strcmp(word, "ESC") == 0) {
        at_reply(e, "+QFUPLEX: -1,ESC"); /* a host lost after a timeout ended data mode */
        return AT_OK;
    }
    uint32_t size, num, len, timeout = QFUPLEX_TIMEOUT_DEF;
    if (c->argc < 2 || c->argc > 4 || at_arg_uint(c, 0, 128, 8192, &size) != 0 ||
        !valid_block_size(size) || at_arg_uint(c, 1, 0, QFUPLEX_BLOCKNUM_MAX, &num) != 0)
        return AT_ERROR;
    len = size + 2;
    if (!at_arg_omitted(c, 2) && at_arg_uint(c, 2, 3, size + 2, &len) != 0)
        return AT_ERROR;
    if (c->argc == 4 && at_arg_uint(c, 3, 1, QFUPLEX_TIMEOUT_MAX, &timeout) != 0)
        return AT_ERROR;
    if (m->fota.phase != FOTA_IDLE) /* a download or an update has the area */
        return AT_ERROR;
    if (fota_upload_check(u, size, num, len - 2) != FOTA_UPLOAD_OK)
        return AT_ERROR;
    u->block.size = size;
    u->block.num = num;
    u->block.len = len - 2;
    struct at_data_req req = {
        .prompt = "\r\n>",
        .len = len,
        .escape = QFUPLEX_ESCAPE,
        .done = qfuplex_data,
        .trail = true,
    };
    if (at_engine_data(e, &req) != 0)
        return AT_ERROR;
    /* The host's own clock: --speed does not scale what a host waits for. */
    u->timer.data = e;
    uv_timer_start(&u->timer, qfuplex_timeout, (uint64_t)timeout * 1000, 0);
    return AT_PENDING;
}

const struct at_command cmd_fota[] = {
    {.name = "+QFOTADL", .test = qfotadl_test, .write = qfotadl_write},
    {.name = "+QFUPLEX", .test = qfuplex_test, .write = qfuplex_write},
    {0},
};
