/* +QFOTADL: DFOTA from a URL (cards 1 and 2). */
#include "sim/commands/commands.h"
#include "sim/module.h"

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
    return fota_command(&MOD(e)->fota, url) == FOTA_ACCEPTED ? AT_OK : AT_ERROR;
}

const struct at_command cmd_fota[] = {
    {.name = "+QFOTADL", .test = qfotadl_test, .write = qfotadl_write},
    {0},
};
