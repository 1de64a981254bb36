#include "sim/base/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int statedir_default(char *buf, size_t size, const char *model)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(buf, size, "%s/bcsim/%s", xdg, model);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.local/state/bcsim/%s", home, model);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -errno;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int statedir_open(struct statedir *d, const char *path, bool make_parents, char *why,
                  size_t why_size)
{
    d->lock_fd = -1;
    if (snprintf(d->path, sizeof d->path, "%s", path) >= (int)sizeof d->path) {
        snprintf(why, why_size, "state directory path too long");
        return -ENAMETOOLONG;
    }
    int err = 0;
    if (make_parents)
        err = mkdir_p(d->path);
    else if (mkdir(d->path, 0700) != 0 && errno != EEXIST)
        err = -errno; /* a mistyped parent is an error, not a new tree */
    if (err) {
        snprintf(why, why_size, "cannot create state directory %s: %s", path, strerror(-err));
        return err;
    }
    char lock[PATH_MAX];
    if ((err = statedir_file(d, "lock", lock, sizeof lock)) != 0) {
        snprintf(why, why_size, "state directory path too long");
        return err;
    }
    d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0) {
        err = -errno;
        snprintf(why, why_size, "cannot open %s: %s", lock, strerror(errno));
        return err;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        err = -errno;
        char pid[32] = "";
        ssize_t n = pread(d->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (err == -EWOULDBLOCK)
            snprintf(why, why_size,
                     "state directory %s is in use by another bcsim (pid %s); "
                     "give each instance its own --state DIR",
                     path, *pid ? pid : "unknown");
        else
            snprintf(why, why_size, "cannot lock %s: %s", lock, strerror(-err));
        close(d->lock_fd);
        d->lock_fd = -1;
        return err;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(d->lock_fd, 0) != 0 || pwrite(d->lock_fd, pid, (size_t)n, 0) != n) {
        /* The pid is only a hint for the message above; the lock is what counts. */
    }
    return 0;
}

void statedir_close(struct statedir *d)
{
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    d->lock_fd = -1;
}

int statedir_file(const struct statedir *d, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", d->path, name);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
