#include "sim/commands/commands.h"

#include <stddef.h>
#include <string.h>

static const struct at_command *const tables[] = {cmd_general, cmd_network,    cmd_fota,
                                                  cmd_lwm2m,   cmd_lwm2m_host, NULL};

const struct at_command *cmd_lookup(const struct profile *prof, const char *name)
{
    if (!prof_has_command(prof, name))
        return NULL;
    for (int t = 0; tables[t]; t++)
        for (const struct at_command *c = tables[t]; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return c;
    return NULL;
}
