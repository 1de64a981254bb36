/* The run-time control socket (--control): a UNIX stream socket, mode 0600.
 * One command per line (words.h syntax), one JSON line per reply, in order;
 * `events` turns the connection into a stream of event lines. A client may
 * send a whole batch and shut down its writing side: it gets every reply,
 * then EOF. The socket only turns words into calls of the control API
 * (api.h); it touches no module state itself. */
#ifndef BCSIM_CONTROL_H
#define BCSIM_CONTROL_H

#include "sim/base/events.h"

#include <limits.h>
#include <sys/types.h>
#include <uv.h>

struct ctl_conn;
struct module;

struct ctl_server {
    uv_pipe_t pipe;
    char path[PATH_MAX];
    struct module *m;
    struct evt_bus *events;
    struct ctl_conn *conns;
    dev_t dev; /* the socket file bound, so that only it is removed at exit */
    ino_t ino;
    bool owned, open;
};

int ctl_server_start(struct ctl_server *s, uv_loop_t *loop, const char *path, struct module *m,
                     struct evt_bus *events, char *why, size_t why_size);
void ctl_server_stop(struct ctl_server *s);

#endif
