#include "tests/integration/scratch.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void scratch_make(char *dir, size_t size, const char *tag)
{
    int n = snprintf(dir, size, "/tmp/bcsim-%s-XXXXXX", tag);
    ck_assert_msg(n > 0 && (size_t)n < size, "scratch name too long: %s", tag);
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void scratch_remove(const char *dir)
{
    if (!dir[0])
        return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    ck_assert_msg(access(dir, F_OK) != 0, "%s is still there after removing it", dir);
}

const char *scratch_path(const char *dir, const char *name)
{
    static char buf[8][PATH_MAX];
    static int k;
    k = (k + 1) % 8;
    int n = snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    ck_assert_msg(n > 0 && (size_t)n < sizeof buf[k], "path too long: %s/%s", dir, name);
    return buf[k];
}

long scratch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void scratch_write_pattern(const char *dir, const char *name, size_t size, unsigned seed)
{
    FILE *f = fopen(scratch_path(dir, name), "wb");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        fputc((int)(seed >> 16) & 0xff, f);
    }
    ck_assert_int_eq(fclose(f), 0);
}
