/* The module's UART as a pseudo-terminal. bcsim keeps its own slave fd open so
 * hosts can close and reopen /dev/pts/N freely (no EIO, no vanishing device),
 * and watches the slave with inotify to know whether a host has it open. */
#ifndef BCSIM_PTY_H
#define BCSIM_PTY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct pty;
struct pty_ops {
    void (*data)(void *ctx, const char *buf, size_t len);
    void (*writable)(void *ctx);
    void (*host)(void *ctx, bool attached);
};

struct pty {
    int master, slave;
    char path[64];
    char *link;
    uv_poll_t master_poll;
    int notify_fd;
    int claim_fd; /* holds this PTY's name for other emulators (see set_link) */
    uv_poll_t notify_poll;
    int hosts; /* host opens of the slave, by inotify's count */
    bool reading, want_write;
    size_t read_max; /* bytes per read (0: as many as fit the buffer) */
    const struct pty_ops *ops;
    void *ctx;
};

/* Opens a raw-mode PTY; if `link` is set, points that symlink at the slave.
 * An existing `link` is replaced only if it is a symlink to a PTY that no
 * live emulator holds: -EEXIST for anything else (a file, a link elsewhere),
 * -EBUSY for a live emulator's link. */
int pty_open(struct pty *p, uv_loop_t *loop, const char *link, const struct pty_ops *ops,
             void *ctx);
void pty_close(struct pty *p);

/* Non-blocking write: bytes written, or a negative errno (-EAGAIN when full). */
ssize_t pty_write(struct pty *p, const void *buf, size_t len);
void pty_want_write(struct pty *p, bool on); /* ops->writable when space frees */
void pty_read(struct pty *p, bool on);       /* flow control towards the host */
/* At most `max` bytes per ops->data call (0: no limit but the buffer's). */
void pty_read_limit(struct pty *p, size_t max);
/* Reads once now, if the host has written anything: ops->data, and true. */
bool pty_read_now(struct pty *p);

/* Discards what the module wrote and no host has read yet. */
void pty_discard_output(struct pty *p);

#endif
