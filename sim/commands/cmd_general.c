/* ATI, ATE, AT&W, +CGMI, +CGMM, +CGMR, +CGSN, +CMEE, +IPR. */
#include "sim/commands/commands.h"
#include "sim/module.h"

#include <stdio.h>

#define MOD(e) ((struct module *)(e)->ctx)

static int ati(struct at_engine *e, const struct at_cmd *c)
{
    const struct profile *p = MOD(e)->prof;
    if (c->argc > 0 && (c->argv[0].len != 1 || c->argv[0].s[0] != '0'))
        return AT_ERROR;
    at_reply(e, "%s", p->manufacturer);
    at_reply(e, "%s", p->model);
    at_reply(e, "Revision: %s", MOD(e)->revision);
    return AT_OK;
}

static int ate(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t v = 0; /* V.250: ATE alone means ATE0 */
    if (c->argc > 0 && at_arg_uint(c, 0, 0, 1, &v) != 0)
        return AT_ERROR;
    e->echo = v == 1;
    mod_setting_changed(MOD(e), PROF_SAVE_ECHO, "echo", v);
    return AT_OK;
}

static int at_w(struct at_engine *e, const struct at_cmd *c)
{
    if (c->argc > 0 && (c->argv[0].len != 1 || c->argv[0].s[0] != '0'))
        return AT_ERROR;
    return mod_save_settings(MOD(e)) == 0 ? AT_OK : AT_CME(CME_UNKNOWN);
}

static int cgmi(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "%s", MOD(e)->prof->manufacturer);
    return AT_OK;
}

static int cgmm(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "%s", MOD(e)->prof->model);
    return AT_OK;
}

static int cgmr(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "Revision: %s", MOD(e)->revision);
    return AT_OK;
}

/* <snt>: 0 serial number, 1 IMEI, 2 IMEISV, 3 SVN. */
static int cgsn_print(struct at_engine *e, uint32_t snt)
{
    const struct module *m = MOD(e);
    switch (snt) {
    case 0: /* the product serial: derived from the IMEI's serial part */
        at_reply(e, "MP%.6s%.8s", m->imei + 8, m->prof->tac_prefix);
        break;
    case 1:
        at_reply(e, "+CGSN: %s", m->imei);
        break;
    case 2:
        at_reply(e, "+CGSN: %.14s%s", m->imei, m->prof->svn);
        break;
    default:
        at_reply(e, "+CGSN: %s", m->prof->svn);
        break;
    }
    return AT_OK;
}

static int cgsn_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    return cgsn_print(e, 0);
}

static int cgsn_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t snt;
    if (c->argc != 1 || at_arg_uint(c, 0, 0, 3, &snt) != 0)
        return AT_CME(CME_BAD_PARAM);
    return cgsn_print(e, snt);
}

static int cmee_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+CMEE: %d", e->cmee);
    return AT_OK;
}

static int cmee_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t n;
    if (c->argc != 1 || at_arg_uint(c, 0, 0, 2, &n) != 0)
        return AT_CME(CME_BAD_PARAM);
    e->cmee = (int)n;
    mod_setting_changed(MOD(e), PROF_SAVE_CMEE, "cmee", n);
    return AT_OK;
}

static int ipr_test(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    const struct profile *p = MOD(e)->prof;
    char list[256];
    int n = snprintf(list, sizeof list, "%s", p->autobaud ? "0" : "");
    for (int i = 0; p->baud_rates[i] && n > 0 && (size_t)n < sizeof list; i++)
        n += snprintf(list + n, sizeof list - (size_t)n, "%s%u", n ? "," : "",
                      (unsigned)p->baud_rates[i]);
    at_reply(e, "+IPR: (%s)", list);
    return AT_OK;
}

static int ipr_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+IPR: %u", (unsigned)MOD(e)->ipr);
    return AT_OK;
}

/* A fixed rate applies after the OK (which still goes out at the old rate);
 * autobaud applies from the next boot, when the module has to find the rate. */
static int ipr_write(struct at_engine *e, const struct at_cmd *c)
{
    struct module *m = MOD(e);
    uint32_t rate;
    if (c->argc != 1 || at_arg_uint(c, 0, 0, 4000000, &rate) != 0 ||
        !prof_baud_supported(m->prof, rate))
        return AT_CME(CME_BAD_PARAM);
    m->ipr = rate;
    if (rate != 0)
        m->uart.baud = rate;
    mod_setting_changed(m, PROF_SAVE_IPR, "ipr", rate);
    return AT_OK;
}

const struct at_command cmd_general[] = {
    {.name = "I", .exec = ati},
    {.name = "E", .exec = ate},
    {.name = "&W", .exec = at_w},
    {.name = "+CGMI", .exec = cgmi, .test_reply = ""},
    {.name = "+CGMM", .exec = cgmm, .test_reply = ""},
    {.name = "+CGMR", .exec = cgmr, .test_reply = ""},
    {.name = "+CGSN", .exec = cgsn_exec, .write = cgsn_write, .test_reply = "+CGSN: (0-3)"},
    {.name = "+CMEE", .read = cmee_read, .write = cmee_write, .test_reply = "+CMEE: (0-2)"},
    {.name = "+IPR", .test = ipr_test, .read = ipr_read, .write = ipr_write},
    {0},
};
