/* +QLWADDOBJ, +QLWDELOBJ, +QLWRDRSP, +QLWWRRSP, +QLWEXERSP, +QLWOBSRSP,
 * +QLWNOTIFY: the LwM2M objects the host manages itself (sim/lwm2m_host.h).
 * Each answer is followed by a "+QLW...: 0" URC once the client has it. */
#include "sim/commands/commands.h"
#include "sim/base/num.h"
#include "sim/module.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD(e)  ((struct module *)(e)->ctx)
#define HOST(e) (&MOD(e)->lwm2m.host)

static void told(struct at_engine *e, const char *name)
{
    char line[32];
    snprintf(line, sizeof line, "+%s: 0", name);
    MOD(e)->lwm2m.port.urc(MOD(e)->lwm2m.port.ctx, line);
}

/* AT+QLWADDOBJ=<obj>,<inst>,<res_num>,<res_id>[,<res_id>...] (OpenCPU's
 * ril_lwm2m.c) or <res_num>,"<id>;<id>..." (a quoted list). */
static int qlwaddobj_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t obj, inst, n, id;
    uint16_t ids[LWH_RES_MAX];
    if (c->argc < 4 || at_arg_uint(c, 0, 0, 65535, &obj) != 0 ||
        at_arg_uint(c, 1, 0, 65535, &inst) != 0 || at_arg_uint(c, 2, 1, LWH_RES_MAX, &n) != 0)
        return AT_ERROR;
    if (c->argc == 4 && c->argv[3].quoted) {
        size_t k = 0, len = c->argv[3].len;
        const char *p = c->argv[3].s;
        for (size_t at = 0; at <= len; k++) { /* "id;id;...": digits between the ';' */
            uint32_t v = 0;
            size_t start = at;
            while (at < len && p[at] >= '0' && p[at] <= '9' && at - start < 5)
                v = v * 10 + (uint32_t)(p[at++] - '0');
            if (at == start || v > 65535 || k == LWH_RES_MAX || (at < len && p[at] != ';'))
                return AT_ERROR;
            ids[k] = (uint16_t)v;
            at++;
        }
        if (k != n)
            return AT_ERROR;
    } else {
        if ((uint32_t)c->argc != 3 + n)
            return AT_ERROR;
        for (uint32_t k = 0; k < n; k++) {
            if (at_arg_uint(c, 3 + (int)k, 0, 65535, &id) != 0)
                return AT_ERROR;
            ids[k] = (uint16_t)id;
        }
    }
    return lwh_add(HOST(e), (uint16_t)obj, (uint16_t)inst, ids, n) == 0 ? AT_OK : AT_ERROR;
}

static int qlwdelobj_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t obj;
    if (c->argc != 1 || at_arg_uint(c, 0, 0, 65535, &obj) != 0)
        return AT_ERROR;
    return lwh_delete(HOST(e), (uint16_t)obj) == 0 ? AT_OK : AT_ERROR;
}

/* <type>,<len>,<value>,<index> from argument i on into v (opaque bytes
 * into buf). <len> is the value's length: its characters, or its bytes for
 * opaque (hex, two digits a byte). Only index 0 (a value in one piece). */
static int parse_value(const struct at_cmd *c, int i, struct lwm2m_value *v, uint8_t *buf)
{
    uint32_t type, len, index;
    if (at_arg_uint(c, i, LWH_T_STRING, LWH_T_BOOLEAN, &type) != 0 ||
        at_arg_uint(c, i + 1, 0, LWH_VALUE_MAX, &len) != 0 ||
        at_arg_uint(c, i + 3, 0, 0, &index) != 0)
        return -1;
    const struct at_arg *a = &c->argv[i + 2];
    char text[LWH_VALUE_MAX * 2 + 1];
    if (type != LWH_T_STRING && !a->quoted && a->len == 0)
        return -1;
    if (a->len != (type == LWH_T_OPAQUE ? 2 * (size_t)len : len) || a->len >= sizeof text)
        return -1;
    memcpy(text, a->s, a->len);
    text[a->len] = '\0';
    char *end = NULL;
    switch (type) {
    case LWH_T_STRING:
        v->type = LWM2M_STRING;
        v->u.bytes.p = (const uint8_t *)a->s;
        v->u.bytes.len = a->len;
        return 0;
    case LWH_T_OPAQUE:
        for (size_t k = 0; k < len; k++) {
            int hi = num_hex_digit(text[2 * k]), lo = num_hex_digit(text[2 * k + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            buf[k] = (uint8_t)(hi << 4 | lo);
        }
        v->type = LWM2M_OPAQUE;
        v->u.bytes.p = buf;
        v->u.bytes.len = len;
        return 0;
    case LWH_T_INTEGER:
        errno = 0;
        v->type = LWM2M_INTEGER;
        v->u.i = strtoll(text, &end, 10);
        return errno == 0 && end != text && *end == '\0' ? 0 : -1;
    case LWH_T_FLOAT:
        v->type = LWM2M_FLOAT;
        v->u.f = strtod(text, &end);
        return end != text && *end == '\0' && isfinite(v->u.f) ? 0 : -1;
    default:
        if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0)
            return -1;
        v->type = LWM2M_BOOLEAN;
        v->u.b = text[0] == '1';
        return 0;
    }
}

/* AT+QLWRDRSP / AT+QLWOBSRSP=<msgid>,<result>,<obj>,<inst>,<res>,<type>,
 * <len>,<value>,<index>; an error result may stop after <result>. */
static int read_answer(struct at_engine *e, const struct at_cmd *c, enum lwh_kind kind,
                       const char *name)
{
    uint32_t msgid, result, obj, inst, res;
    uint8_t buf[LWH_VALUE_MAX];
    struct lwm2m_value v;
    if ((c->argc != 2 && c->argc != 9) || at_arg_uint(c, 0, 1, 65535, &msgid) != 0 ||
        at_arg_uint(c, 1, 0, 255, &result) != 0)
        return AT_ERROR;
    int code = lwh_result_code(result);
    if (code == 0 || code == LWM2M_CHANGED || (code == LWM2M_CONTENT && c->argc != 9))
        return AT_ERROR;
    int path[3] = {-1, -1, -1};
    if (c->argc == 9) {
        if (at_arg_uint(c, 2, 0, 65535, &obj) != 0 || at_arg_uint(c, 3, 0, 65535, &inst) != 0 ||
            at_arg_uint(c, 4, 0, 65535, &res) != 0 || parse_value(c, 5, &v, buf) != 0)
            return AT_ERROR;
        path[0] = (int)obj, path[1] = (int)inst, path[2] = (int)res;
    }
    if (lwh_answer(HOST(e), (uint16_t)msgid, kind, path[0], path[1], path[2], code,
                   code == LWM2M_CONTENT ? &v : NULL) != 0)
        return AT_ERROR;
    told(e, name);
    return AT_OK;
}

static int qlwrdrsp_write(struct at_engine *e, const struct at_cmd *c)
{
    return read_answer(e, c, LWH_READ, "QLWRDRSP");
}

static int qlwobsrsp_write(struct at_engine *e, const struct at_cmd *c)
{
    return read_answer(e, c, LWH_OBSERVE, "QLWOBSRSP");
}

/* AT+QLWWRRSP / AT+QLWEXERSP=<msgid>,<result>. */
static int change_answer(struct at_engine *e, const struct at_cmd *c, enum lwh_kind kind,
                         const char *name)
{
    uint32_t msgid, result;
    if (c->argc != 2 || at_arg_uint(c, 0, 1, 65535, &msgid) != 0 ||
        at_arg_uint(c, 1, 0, 255, &result) != 0)
        return AT_ERROR;
    int code = lwh_result_code(result);
    if (code == 0 || code == LWM2M_CONTENT)
        return AT_ERROR;
    if (lwh_answer(HOST(e), (uint16_t)msgid, kind, -1, -1, -1, code, NULL) != 0)
        return AT_ERROR;
    told(e, name);
    return AT_OK;
}

static int qlwwrrsp_write(struct at_engine *e, const struct at_cmd *c)
{
    return change_answer(e, c, LWH_WRITE, "QLWWRRSP");
}

static int qlwexersp_write(struct at_engine *e, const struct at_cmd *c)
{
    return change_answer(e, c, LWH_EXECUTE, "QLWEXERSP");
}

/* AT+QLWNOTIFY=<obj>,<inst>,<res>,<type>,<len>,<value>,<index>[,<ack>[,<rai>]]:
 * <ack> and <rai> are taken (0 or 1) and change nothing: notifications are
 * always confirmable here, and there is no radio to release. */
static int qlwnotify_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t obj, inst, res, flag;
    uint8_t buf[LWH_VALUE_MAX];
    struct lwm2m_value v;
    if (c->argc < 7 || c->argc > 9 || at_arg_uint(c, 0, 0, 65535, &obj) != 0 ||
        at_arg_uint(c, 1, 0, 65535, &inst) != 0 || at_arg_uint(c, 2, 0, 65535, &res) != 0 ||
        parse_value(c, 3, &v, buf) != 0)
        return AT_ERROR;
    for (int i = 7; i < c->argc; i++)
        if (at_arg_uint(c, i, 0, 1, &flag) != 0)
            return AT_ERROR;
    if (lwh_notify(HOST(e), (uint16_t)obj, (uint16_t)inst, (uint16_t)res, &v) != 0)
        return AT_ERROR;
    told(e, "QLWNOTIFY");
    return AT_OK;
}

const struct at_command cmd_lwm2m_host[] = {
    {.name = "+QLWADDOBJ", .write = qlwaddobj_write},
    {.name = "+QLWDELOBJ", .write = qlwdelobj_write},
    {.name = "+QLWRDRSP", .write = qlwrdrsp_write},
    {.name = "+QLWWRRSP", .write = qlwwrrsp_write},
    {.name = "+QLWEXERSP", .write = qlwexersp_write},
    {.name = "+QLWOBSRSP", .write = qlwobsrsp_write},
    {.name = "+QLWNOTIFY", .write = qlwnotify_write},
    {0},
};
