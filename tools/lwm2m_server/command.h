/* The commands of `bcsim lwm2m-server`, one a line, parsed (not run):
 *   read EP PATH [FORMAT]         observe EP PATH [FORMAT]
 *   write EP PATH VALUE [FORMAT]  cancel EP PATH
 *   exec EP PATH [ARGS]           discover EP PATH
 *   wait EP EVENT [TIMEOUT_S]     sleep S        quit
 * VALUE may be "double quoted" (\" and \\ inside). */
#ifndef BCSIM_LWSRV_COMMAND_H
#define BCSIM_LWSRV_COMMAND_H

#include "tools/lwm2m_server/server.h"

enum lwsrv_cmd_kind {
    LWSRV_CMD_NONE, /* a blank line or a # comment */
    LWSRV_CMD_REQUEST,
    LWSRV_CMD_WAIT,
    LWSRV_CMD_SLEEP,
    LWSRV_CMD_QUIT,
};

enum lwsrv_wait_kind {
    LWSRV_WAIT_REGISTERED,
    LWSRV_WAIT_UPDATED,
    LWSRV_WAIT_DEREGISTERED,
    LWSRV_WAIT_EXPIRED,
    LWSRV_WAIT_VALUE,
};

#define LWSRV_VALUE_MAX 1024 /* bytes of a written value or a waited one */

struct lwsrv_cmd {
    enum lwsrv_cmd_kind kind;
    struct lwsrv_request req; /* payload points into `data` */
    char ep[LWSRV_EP_MAX + 1];
    char path[40];
    enum lwsrv_wait_kind wait;
    char value[LWSRV_VALUE_MAX + 1]; /* wait: the value awaited */
    uint64_t ms;                     /* sleep, wait: how long */
    uint8_t data[LWSRV_VALUE_MAX + 16];
};

/* Parses one line; -1 with a one-line reason in why (size bytes). */
int lwsrv_cmd_parse(const char *line, struct lwsrv_cmd *c, char *why, size_t size);

/* The name of a request's command ("read", ...). */
const char *lwsrv_op_name(enum lwsrv_op op);

#endif
