#include "sim/base/kvfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int valid_key(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n >= KV_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] == '=' || key[i] == '\n' || key[i] == ' ' || key[i] == '#')
            return 0;
    return 1;
}

int kv_load(struct kv *kv, const char *path, int *bad_line)
{
    kv->n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, err = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (strlen(line) != len) { /* a NUL byte: not a text file */
            err = -EINVAL;
            break;
        }
        if (len == 0 || line[0] == '#')
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            err = -EINVAL;
            break;
        }
        *eq = '\0';
        if ((err = kv_set(kv, line, eq + 1)) != 0)
            break;
    }
    if (err && bad_line)
        *bad_line = lineno;
    if (!err && ferror(f))
        err = -EIO;
    free(line);
    fclose(f);
    return err;
}

int kv_save(const struct kv *kv, const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int err = -errno;
        close(fd);
        return err;
    }
    for (int i = 0; i < kv->n; i++)
        fprintf(f, "%s=%s\n", kv->items[i].key, kv->items[i].value);
    int err = 0;
    if (fflush(f) != 0 || fsync(fd) != 0)
        err = -errno;
    if (fclose(f) != 0 && !err)
        err = -errno;
    if (!err && rename(tmp, path) != 0)
        err = -errno;
    if (err) {
        unlink(tmp);
        return err;
    }
    /* The rename itself must reach the disk before we call the data saved. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int find(const struct kv *kv, const char *key)
{
    for (int i = 0; i < kv->n; i++)
        if (strcmp(kv->items[i].key, key) == 0)
            return i;
    return -1;
}

const char *kv_get(const struct kv *kv, const char *key)
{
    int i = find(kv, key);
    return i < 0 ? NULL : kv->items[i].value;
}

int kv_get_int(const struct kv *kv, const char *key, int fallback)
{
    const char *v = kv_get(kv, key);
    if (!v || !*v)
        return fallback;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < INT_MIN || x > INT_MAX)
        return fallback;
    return (int)x;
}

int kv_set(struct kv *kv, const char *key, const char *value)
{
    if (!valid_key(key) || strlen(value) >= KV_VALUE_MAX || strchr(value, '\n'))
        return -EINVAL;
    int i = find(kv, key);
    if (i < 0) {
        if (kv->n == KV_MAX)
            return -ENOSPC;
        i = kv->n++;
        snprintf(kv->items[i].key, KV_KEY_MAX, "%s", key);
    }
    snprintf(kv->items[i].value, KV_VALUE_MAX, "%s", value);
    return 0;
}

int kv_set_int(struct kv *kv, const char *key, long value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%ld", value);
    return kv_set(kv, key, buf);
}

void kv_remove(struct kv *kv, const char *key)
{
    int i = find(kv, key);
    if (i >= 0)
        kv->items[i] = kv->items[--kv->n];
}
