/* +QLWCONFIG, +QLWREG, +QLWUPDATE, +QLWDEREG: the module's LwM2M client
 * (card 2 section 6.3.1). */
#include "sim/commands/commands.h"
#include "sim/module.h"

#include <errno.h>
#include <string.h>

#define MOD(e) ((struct module *)(e)->ctx)
#define LW(e)  (&MOD(e)->lwm2m)

static int qlwconfig_test(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    at_reply(e, "+QLWCONFIG: (0,1),<server>,(1-65535),<endpoint>,(20-4294967295),(0,3)"
                "[,<psk_id>,<psk>]");
    return AT_OK;
}

static int qlwconfig_read(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    struct lw_settings s;
    if (lw_settings_get(LW(e), &s))
        at_reply(e, "+QLWCONFIG: %d,\"%s\",%u,\"%s\",%u,%d", s.bootstrap, s.server, s.port,
                 s.endpoint, s.lifetime, s.security);
    return AT_OK;
}

static int qlwconfig_write(struct at_engine *e, const struct at_cmd *c)
{
    struct lw_settings s = {0};
    uint32_t bs, port, lifetime, security;
    if (c->argc != 6 && c->argc != 8)
        return AT_ERROR;
    if (at_arg_uint(c, 0, 0, 1, &bs) != 0 ||
        at_arg_str(c, 1, true, s.server, sizeof s.server) != 0 ||
        at_arg_uint(c, 2, 1, 65535, &port) != 0 ||
        at_arg_str(c, 3, true, s.endpoint, sizeof s.endpoint) != 0 ||
        at_arg_uint(c, 4, 20, UINT32_MAX, &lifetime) != 0 ||
        at_arg_uint(c, 5, 0, 3, &security) != 0 || (security != 0 && security != 3))
        return AT_ERROR;
    s.bootstrap = bs;
    s.port = (uint16_t)port;
    s.lifetime = lifetime;
    s.security = (int)security;
    return lw_configure(LW(e), &s) == 0 ? AT_OK : AT_ERROR;
}

static int qlwreg_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    return lw_register(LW(e)) == 0 ? AT_OK : AT_ERROR;
}

static int qlwupdate_write(struct at_engine *e, const struct at_cmd *c)
{
    uint32_t mode, lifetime = 0;
    char binding[4] = "";
    if (c->argc != 2 || at_arg_uint(c, 0, 0, 1, &mode) != 0)
        return AT_ERROR;
    if (mode == 0 && at_arg_uint(c, 1, 20, UINT32_MAX, &lifetime) != 0)
        return AT_ERROR;
    if (mode == 1 && (at_arg_str(c, 1, true, binding, sizeof binding) != 0 ||
                      strcmp(binding, "U") != 0)) /* UDP is the only binding bcsim has */
        return AT_ERROR;
    int id = lw_update(LW(e), lifetime, mode == 1 ? binding : NULL);
    if (id < 0)
        return AT_ERROR;
    at_reply(e, "+QLWUPDATE: %d", id);
    return AT_OK;
}

static int qlwdereg_exec(struct at_engine *e, const struct at_cmd *c)
{
    (void)c;
    return lw_deregister(LW(e)) == 0 ? AT_OK : AT_ERROR;
}

const struct at_command cmd_lwm2m[] = {
    {.name = "+QLWCONFIG",
     .test = qlwconfig_test,
     .read = qlwconfig_read,
     .write = qlwconfig_write},
    {.name = "+QLWREG", .exec = qlwreg_exec},
    {.name = "+QLWUPDATE", .write = qlwupdate_write},
    {.name = "+QLWDEREG", .exec = qlwdereg_exec},
    {0},
};
