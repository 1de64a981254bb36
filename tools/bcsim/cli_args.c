#include "tools/bcsim/cli_args.h"

#include "sim/base/num.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_take(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "bcsim: %s needs a value\n", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_number(const char *prog, const char *option, const char *text, int64_t min, int64_t max,
               int64_t *out)
{
    if (num_parse(text, min, max, out) == 0)
        return 0;
    fprintf(stderr, "%s: %s '%s': expected a whole number from %" PRId64 " to %" PRId64 "\n", prog,
            option, text, min, max);
    return -1;
}

#define FILE_MAX (64u * 1024 * 1024) /* larger than any flash bcsim models */

int cli_read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bcsim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
        fprintf(stderr, "bcsim: %s: not a regular file of at most 64 MiB\n", path);
        fclose(f);
        return -1;
    }
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    if (!buf || n != (size_t)st.st_size || ferror(f)) {
        fprintf(stderr, "bcsim: %s: read failed\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
}

/* The temporary beside `path` that the file is written to before the rename. */
static int temp_name(const char *path, char tmp[PATH_MAX])
{
    if (snprintf(tmp, PATH_MAX, "%s.tmp.%ld", path, (long)getpid()) >= PATH_MAX) {
        fprintf(stderr, "bcsim: %s: path too long\n", path);
        return -1;
    }
    return 0;
}

int cli_check_output(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "bcsim: %s: is a directory\n", path);
        return -1;
    }
    char tmp[PATH_MAX];
    if (temp_name(path, tmp) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        fprintf(stderr, "bcsim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(tmp);
    return 0;
}

int cli_write_file(const char *path, const uint8_t *data, size_t len)
{
    char tmp[PATH_MAX];
    if (temp_name(path, tmp) != 0)
        return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "bcsim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "bcsim: %s: write failed: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int cli_self_path(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}
