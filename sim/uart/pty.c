#include "sim/uart/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static void update_master_poll(struct pty *p);
static void read_notifications(struct pty *p);

static void on_master(uv_poll_t *h, int status, int events)
{
    struct pty *p = h->data;
    if (status < 0)
        return;
    if ((events & UV_WRITABLE) && p->want_write) {
        p->want_write = false;
        update_master_poll(p);
        p->ops->writable(p->ctx);
    }
    if ((events & UV_READABLE) && p->reading)
        pty_read_now(p);
}

bool pty_read_now(struct pty *p)
{
    /* Opens and closes that happened before these bytes were written are
     * queued in inotify: count them first, or a reply to a host that just
     * reopened would be flushed as the previous host's leftovers. */
    read_notifications(p);
    char buf[4096];
    size_t max = p->read_max && p->read_max < sizeof buf ? p->read_max : sizeof buf;
    ssize_t n = read(p->master, buf, max);
    if (n <= 0)
        return false;
    p->ops->data(p->ctx, buf, (size_t)n);
    return true;
}

void pty_read_limit(struct pty *p, size_t max)
{
    p->read_max = max;
}

static void update_master_poll(struct pty *p)
{
    int events = (p->reading ? UV_READABLE : 0) | (p->want_write ? UV_WRITABLE : 0);
    if (events)
        uv_poll_start(&p->master_poll, events, on_master);
    else
        uv_poll_stop(&p->master_poll);
}

/* inotify reports every open and close of the slave by any process; ours was
 * opened before the watch existed, so the count is the hosts' alone. */
static void read_notifications(struct pty *p)
{
    char buf[sizeof(struct inotify_event) + NAME_MAX + 1]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(p->notify_fd, buf, sizeof buf)) > 0) {
        for (char *q = buf; q < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)q;
            int before = p->hosts;
            if (ev->mask & IN_OPEN)
                p->hosts++;
            if ((ev->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) && p->hosts > 0)
                p->hosts--;
            if ((before == 0) != (p->hosts == 0))
                p->ops->host(p->ctx, p->hosts > 0);
            q += sizeof *ev + ev->len;
        }
    }
}

static void on_notify(uv_poll_t *h, int status, int events)
{
    (void)events;
    if (status == 0)
        read_notifications(h->data);
}

/* Every emulator names its PTY in the abstract socket namespace, so that
 * another one can tell a link to a live emulator's PTY from a stale one; the
 * kernel drops the name when the process dies, however it dies. */
static socklen_t claim_address(dev_t rdev, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "bcsim/pty/%u:%u", major(rdev),
                     minor(rdev));
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* Binds the name of `rdev`; -EADDRINUSE if a live emulator holds it. */
static int claim(dev_t rdev)
{
    struct sockaddr_un sa;
    socklen_t len = claim_address(rdev, &sa);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* A path is ours to replace only if it is a link to a PTY that no live
 * emulator holds (its device is gone, or unclaimed); anything else is a
 * user's file and stays as it is. */
static int replaceable(const char *link, const char *self)
{
    char target[PATH_MAX];
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return errno == EINVAL ? -EEXIST : -errno; /* EINVAL: not a symlink */
    target[n] = '\0';
    if (strcmp(target, self) == 0)
        return 0; /* a stale link to the number this PTY got again */
    if (strncmp(target, "/dev/pts/", 9) != 0)
        return -EEXIST;
    struct stat st;
    if (stat(target, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISCHR(st.st_mode))
        return -EEXIST;
    int fd = claim(st.st_rdev);
    if (fd < 0)
        return fd == -EADDRINUSE ? -EBUSY : fd;
    close(fd);
    return 0;
}

static int set_link(struct pty *p, const char *link)
{
    if (symlink(p->path, link) != 0) {
        if (errno != EEXIST)
            return -errno;
        int err = replaceable(link, p->path);
        if (err)
            return err;
        char tmp[PATH_MAX];
        if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", link, (long)getpid()) >= (int)sizeof tmp)
            return -ENAMETOOLONG;
        unlink(tmp);
        if (symlink(p->path, tmp) != 0 || rename(tmp, link) != 0) {
            err = -errno;
            unlink(tmp);
            return err;
        }
    }
    p->link = strdup(link);
    return p->link ? 0 : -ENOMEM;
}

int pty_open(struct pty *p, uv_loop_t *loop, const char *link, const struct pty_ops *ops, void *ctx)
{
    memset(p, 0, sizeof *p);
    p->master = p->slave = p->notify_fd = p->claim_fd = -1;
    p->ops = ops;
    p->ctx = ctx;
    int err;

    p->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (p->master < 0 || grantpt(p->master) != 0 || unlockpt(p->master) != 0 ||
        ptsname_r(p->master, p->path, sizeof p->path) != 0)
        goto fail;
    struct termios tio;
    if (tcgetattr(p->master, &tio) != 0)
        goto fail;
    cfmakeraw(&tio);
    cfsetspeed(&tio, B115200);
    if (tcsetattr(p->master, TCSANOW, &tio) != 0)
        goto fail;
    p->slave = open(p->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (p->slave < 0 || fstat(p->slave, &st) != 0)
        goto fail;
    if ((p->claim_fd = claim(st.st_rdev)) < 0) {
        errno = -p->claim_fd;
        goto fail;
    }
    p->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (p->notify_fd < 0 ||
        inotify_add_watch(p->notify_fd, p->path, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) < 0)
        goto fail;
    if (link && (err = set_link(p, link)) != 0) {
        errno = -err;
        goto fail;
    }
    uv_poll_init(loop, &p->master_poll, p->master);
    p->master_poll.data = p;
    uv_poll_init(loop, &p->notify_poll, p->notify_fd);
    p->notify_poll.data = p;
    uv_poll_start(&p->notify_poll, UV_READABLE, on_notify);
    pty_read(p, true);
    return 0;
fail:
    err = errno ? -errno : -EIO;
    if (p->notify_fd >= 0)
        close(p->notify_fd);
    if (p->claim_fd >= 0)
        close(p->claim_fd);
    if (p->slave >= 0)
        close(p->slave);
    if (p->master >= 0)
        close(p->master);
    p->master = p->slave = p->notify_fd = p->claim_fd = -1;
    return err;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void pty_close(struct pty *p)
{
    if (p->master < 0)
        return;
    if (p->link) {
        /* Remove the link only if it still points at our device. */
        char target[sizeof p->path];
        ssize_t n = readlink(p->link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strcmp(target, p->path) == 0)
                unlink(p->link);
        }
        free(p->link);
        p->link = NULL;
    }
    uv_close((uv_handle_t *)&p->master_poll, on_closed);
    uv_close((uv_handle_t *)&p->notify_poll, on_closed);
    close(p->notify_fd);
    close(p->claim_fd);
    close(p->slave);
    close(p->master);
    p->master = p->slave = p->notify_fd = p->claim_fd = -1;
}

ssize_t pty_write(struct pty *p, const void *buf, size_t len)
{
    ssize_t n = write(p->master, buf, len);
    return n < 0 ? -errno : n;
}

void pty_want_write(struct pty *p, bool on)
{
    if (p->want_write != on) {
        p->want_write = on;
        update_master_poll(p);
    }
}

void pty_read(struct pty *p, bool on)
{
    if (p->reading != on) {
        p->reading = on;
        update_master_poll(p);
    }
}

void pty_discard_output(struct pty *p)
{
    tcflush(p->slave, TCIFLUSH);
}
