#include "proto/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#define LINKS_MAX 40 /* links followed in one path, as the kernel allows */
#define DEPTH_MAX 64 /* directories a walk holds open at once */
#define RETRY_MAX 8  /* openat2 may ask to retry after a rename race on ".." */

struct walk {
    int root;
    int dirs[DEPTH_MAX]; /* the directories entered below root, innermost last */
    int depth;
    char todo[PATH_MAX]; /* the path still to resolve, from `pos` */
    size_t pos;
};

static int here(const struct walk *w)
{
    return w->depth ? w->dirs[w->depth - 1] : w->root;
}

/* Releases the walk's directories; returns err. */
static int done(struct walk *w, int err)
{
    while (w->depth > 0)
        close(w->dirs[--w->depth]);
    return err;
}

/* Opens name in the current directory as the walk's result. */
static int finish(struct walk *w, const char *name, int flags)
{
    int fd = openat(here(w), name, flags);
    return done(w, fd < 0 ? -errno : fd);
}

/* The next component into name; its length (0 at the end of the path). */
static int next_name(struct walk *w, char name[NAME_MAX + 1], size_t *len)
{
    while (w->todo[w->pos] == '/')
        w->pos++;
    const char *start = w->todo + w->pos;
    *len = strcspn(start, "/");
    if (*len > NAME_MAX)
        return -ENAMETOOLONG;
    memcpy(name, start, *len);
    name[*len] = '\0';
    w->pos += *len;
    return 0;
}

/* A link replaces its component: the target, then the rest of the path
 * (which starts with '/' or is empty, so a trailing slash stays). */
static int expand(struct walk *w, const char *target, size_t tlen)
{
    const char *rest = w->todo + w->pos;
    size_t rlen = strlen(rest);
    if (tlen + rlen + 1 > sizeof w->todo)
        return -ENAMETOOLONG;
    memmove(w->todo + tlen, rest, rlen + 1);
    memcpy(w->todo, target, tlen);
    w->pos = 0;
    return 0;
}

/* A symbolic link met on the way, open as fd (O_PATH): continue with its target. */
static int follow(struct walk *w, int fd, int *links)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(fd, "", target, sizeof target);
    int err = n < 0 ? -errno : 0;
    close(fd);
    if (err)
        return err;
    if (n == 0)
        return -ENOENT;
    if ((size_t)n == sizeof target)
        return -ENAMETOOLONG;
    if (++*links > LINKS_MAX)
        return -ELOOP;
    if (target[0] == '/')
        return -EXDEV; /* an absolute target leaves the root by definition */
    return expand(w, target, (size_t)n);
}

/* Each component is opened relative to the directory the walk holds, without
 * following links, so that a rename under our feet cannot move the walk out. */
int beneath_open_walk(int dirfd, const char *path, int flags)
{
    struct walk w = {.root = dirfd};
    if (path[0] == '\0')
        return -ENOENT; /* as open(2) has it */
    if (path[0] == '/')
        return -EXDEV;
    if (strlen(path) >= sizeof w.todo)
        return -ENAMETOOLONG;
    strcpy(w.todo, path);
    int links = 0;
    for (;;) {
        char name[NAME_MAX + 1];
        size_t len;
        int err = next_name(&w, name, &len);
        if (err)
            return done(&w, err);
        if (len == 0) /* the path names the directory the walk is in */
            return finish(&w, ".", flags);
        if (strcmp(name, ".") == 0)
            continue;
        if (strcmp(name, "..") == 0) {
            if (w.depth == 0)
                return -EXDEV;
            close(w.dirs[--w.depth]);
            continue;
        }
        const char *after = w.todo + w.pos;
        bool last = after[strspn(after, "/")] == '\0', dir_only = *after == '/';
        int fd = openat(here(&w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return done(&w, -errno);
        struct stat st;
        if (fstat(fd, &st) != 0) {
            err = -errno;
            close(fd);
            return done(&w, err);
        }
        if (S_ISLNK(st.st_mode)) {
            if ((err = follow(&w, fd, &links)) != 0)
                return done(&w, err);
            continue;
        }
        if (last) {
            close(fd);
            /* O_NOFOLLOW: a link swapped in since the check is refused, not followed. */
            return finish(&w, name, flags | O_NOFOLLOW | (dir_only ? O_DIRECTORY : 0));
        }
        if (!S_ISDIR(st.st_mode) || w.depth == DEPTH_MAX) {
            close(fd);
            return done(&w, S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR);
        }
        w.dirs[w.depth++] = fd;
    }
}

int beneath_open(int dirfd, const char *path, int flags)
{
#ifdef SYS_openat2
    static bool no_openat2; /* the kernel's answer does not change */
    if (!no_openat2) {
        struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_BENEATH};
        for (int i = 0; i < RETRY_MAX; i++) {
            long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
            if (fd >= 0)
                return (int)fd;
            if (errno != EAGAIN)
                break;
        }
        /* ENOSYS before Linux 5.6; EPERM from seccomp filters that predate it. */
        if (errno != ENOSYS && errno != EPERM)
            return -errno;
        no_openat2 = true;
    }
#endif
    return beneath_open_walk(dirfd, path, flags);
}
