/* The command tables. Each family lives in its own file as a table of
 * {name, exec, test, read, write} handlers; a model answers the names its
 * profile lists. */
#ifndef BCSIM_COMMANDS_H
#define BCSIM_COMMANDS_H

#include "sim/at/at_engine.h"
#include "sim/profile.h"

extern const struct at_command cmd_general[];    /* identification, echo, errors, UART */
extern const struct at_command cmd_network[];    /* power level, SIM, registration */
extern const struct at_command cmd_fota[];       /* DFOTA */
extern const struct at_command cmd_lwm2m[];      /* the LwM2M client */
extern const struct at_command cmd_lwm2m_host[]; /* the host's LwM2M objects */

const struct at_command *cmd_lookup(const struct profile *prof, const char *name);

#endif
