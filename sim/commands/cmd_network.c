/* +CFUN, +QRST, +CPIN, +CESQ, +CSQ, +CEREG, +CREG, +CGATT, +CGPADDR, +COPS. */
#include "sim/commands/commands.h"
#include "sim/module.h"

#include <stdio.h>

#define MOD(e) ((struct module *)(e)->ctx)

/* Nominal time from a reset command's OK to the reset itself. */
#define RESET_DELAY_MS 100

static bool registered(const struct module *m)
{
    return m->net.stat == NET_HOME;
}

static int cfun_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+CFUN: %d", MOD(e)->cfun);
    return AT_OK;
}

static int cfun_write(struct at_engine *e, const struct at_cmd *c)
{
    struct module *m = MOD(e);
    uint32_t fun, rst = 0;
    if (c->argc < 1 || c->argc > 2 || at_arg_uint(c, 0, 0, 4, &fun) != 0 || fun == 2 || fun == 3 ||
        (c->argc == 2 && at_arg_uint(c, 1, 0, 1, &rst) != 0))
        return AT_CME(CME_BAD_PARAM);
    m->cfun = (int)fun;
    if (rst == 1) {
        mod_reboot(m, RESET_DELAY_MS);
        return AT_OK;
    }
    net_set_radio(&m->net, fun == 1);
    return AT_OK;
}

static int qrst_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t mode;
    if (c->argc != 1 || at_arg_uint(c, 0, 1, 1, &mode) != 0)
        return AT_CME(CME_BAD_PARAM);
    mod_reboot(MOD(e), RESET_DELAY_MS);
    return AT_OK;
}

static int cpin_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+CPIN: READY");
    return AT_OK;
}

static int cpin_write(struct at_engine *e, const struct at_cmd *c)
{
    (void)e;
    (void)c;
    return AT_CME(CME_NOT_ALLOWED); /* the emulated SIM asks for no PIN */
}

static int cesq_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    const struct module *m = MOD(e);
    const struct prof_signal *s = &m->signal;
    if (registered(m))
        at_reply(e, "+CESQ: %d,%d,%d,%d,%d,%d", s->rxlev, s->ber, s->rscp, s->ecno, s->rsrq,
                 s->rsrp);
    else
        at_reply(e, "+CESQ: 99,99,255,255,255,255");
    return AT_OK;
}

static int csq_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    const struct module *m = MOD(e);
    if (registered(m))
        at_reply(e, "+CSQ: %d,%d", m->signal.rssi, m->signal.csq_ber);
    else
        at_reply(e, "+CSQ: 99,99");
    return AT_OK;
}

static int cereg_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    const struct module *m = MOD(e);
    char line[128];
    net_format_cereg(&m->net, m->net.cereg_n, true, line, sizeof line);
    at_reply(e, "%s", line);
    return AT_OK;
}

static int cereg_write(struct at_engine *e, const struct at_cmd *c)
{
    struct module *m = MOD(e);
    uint32_t n = 0; /* 27.007: an omitted <n> means 0 */
    if (c->argc > 1 || (!at_arg_omitted(c, 0) && at_arg_uint(c, 0, 0, 5, &n) != 0))
        return AT_CME(CME_BAD_PARAM);
    net_set_cereg_mode(&m->net, (int)n);
    mod_setting_changed(m, PROF_SAVE_CEREG, "cereg", n);
    return AT_OK;
}

static int creg_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+CREG: 0,%d", MOD(e)->net.stat);
    return AT_OK;
}

static int cgatt_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+CGATT: %d", registered(MOD(e)) ? 1 : 0);
    return AT_OK;
}

/* The attach itself proceeds in the background and reports with +CEREG/+IP. */
static int cgatt_write(struct at_engine *e, const struct at_cmd *c)
{
    struct module *m = MOD(e);
    uint32_t state;
    if (c->argc != 1 || at_arg_uint(c, 0, 0, 1, &state) != 0)
        return AT_CME(CME_BAD_PARAM);
    if (state == 1 && m->cfun != 1)
        return AT_CME(CME_NOT_ALLOWED);
    net_set_attach(&m->net, state == 1);
    return AT_OK;
}

static void print_address(struct at_engine *e)
{
    const struct module *m = MOD(e);
    int cid = m->prof->pdn_cid;
    if (!m->net.pdn)
        at_reply(e, "+CGPADDR: %d", cid);
    else if (m->prof->quote_ip)
        at_reply(e, "+CGPADDR: %d,\"%s\"", cid, m->net.ip);
    else
        at_reply(e, "+CGPADDR: %d,%s", cid, m->net.ip);
}

static int cgpaddr_test(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+CGPADDR: (%d)", MOD(e)->prof->pdn_cid);
    return AT_OK;
}

static int cgpaddr_all(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    print_address(e);
    return AT_OK;
}

static int cgpaddr_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t cid;
    if (c->argc != 1 || at_arg_uint(c, 0, 0, 15, &cid) != 0)
        return AT_CME(CME_BAD_PARAM);
    if ((int)cid != MOD(e)->prof->pdn_cid)
        return AT_CME(CME_BAD_PARAM); /* no such context */
    print_address(e);
    return AT_OK;
}

static int cops_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    const struct module *m = MOD(e);
    if (registered(m))
        at_reply(e, "+COPS: 0,2,\"%s\",9", m->prof->plmn);
    else
        at_reply(e, "+COPS: 0");
    return AT_OK;
}

static int cops_test(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    const struct module *m = MOD(e);
    if (m->cfun != 1)
        return AT_CME(CME_NOT_ALLOWED);
    if (m->net.cell)
        at_reply(e, "+COPS: (%d,\"\",\"\",\"%s\",9),,(0-4),(0-2)", registered(m) ? 2 : 1,
                 m->prof->plmn);
    else
        at_reply(e, "+COPS: ,,(0-4),(0-2)");
    return AT_OK;
}

const struct at_command cmd_network[] = {
    {.name = "+CFUN", .read = cfun_read, .write = cfun_write, .test_reply = "+CFUN: (0,1,4),(0,1)"},
    {.name = "+QRST", .write = qrst_write, .test_reply = "+QRST: (1)"},
    {.name = "+CPIN", .read = cpin_read, .write = cpin_write, .test_reply = ""},
    {.name = "+CESQ",
     .exec = cesq_exec,
     .test_reply = "+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)"},
    {.name = "+CSQ", .exec = csq_exec, .test_reply = "+CSQ: (0-31,99),(0-7,99)"},
    {.name = "+CEREG", .read = cereg_read, .write = cereg_write, .test_reply = "+CEREG: (0-5)"},
    {.name = "+CREG", .read = creg_read, .test_reply = "+CREG: (0-3)"},
    {.name = "+CGATT", .read = cgatt_read, .write = cgatt_write, .test_reply = "+CGATT: (0,1)"},
    {.name = "+CGPADDR",
     .exec = cgpaddr_all,
     .test = cgpaddr_test,
     .read = cgpaddr_all,
     .write = cgpaddr_write},
    {.name = "+COPS", .test = cops_test, .read = cops_read},
    {0},
};
