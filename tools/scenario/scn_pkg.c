/* Packages for scenarios, made with the bcsim program's own subcommands. */
#include "tools/scenario/scn_pkg.h"

#include "fw_image/pkg_format.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs `self ARGS...`, its output to `log` (its last line is the reason when
 * it fails). Returns its exit status, or -1. */
static int tool(const char *self, const char *log, char *const args[], char *why, size_t why_size)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)self;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid;
    int err = posix_spawn(&pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        snprintf(why, why_size, "cannot run %s: %s", self, strerror(err));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(why, why_size, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char last[512] = "";
    FILE *f = fopen(log, "r");
    for (char line[512]; f && fgets(line, sizeof line, f);)
        if (line[0] != '\n')
            snprintf(last, sizeof last, "%s", line);
    if (f)
        fclose(f);
    last[strcspn(last, "\n")] = '\0';
    snprintf(why, why_size, "bcsim %s %s failed: %s", args[0], args[1], last[0] ? last : "?");
    return -1;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int file_size(const char *path, long *size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    *size = (long)st.st_size;
    return 0;
}

/* A payload: the image `base` without its last `drop` bytes, followed by
 * `tail` incompressible bytes (the same bytes every time). */
static int padded_payload(const char *base, const char *raw, size_t drop, size_t tail, char *why,
                          size_t why_size)
{
    FILE *in = fopen(base, "rb"), *out = fopen(raw, "wb");
    int ok = in && out && fseek(in, 0, SEEK_END) == 0;
    long len = ok ? ftell(in) : -1;
    ok = ok && len > (long)drop && fseek(in, 0, SEEK_SET) == 0;
    char buf[65536];
    for (size_t left = ok ? (size_t)len - drop : 0, n; ok && left > 0; left -= n) {
        n = fread(buf, 1, left < sizeof buf ? left : sizeof buf, in);
        ok = n > 0 && fwrite(buf, 1, n, out) == n;
    }
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; ok && i < tail; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ok = fputc((int)(x >> 24) & 0xff, out) != EOF;
    }
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    if (!ok)
        snprintf(why, why_size, "cannot write %s: %s", raw, strerror(errno));
    return ok ? 0 : -1;
}

/* bcsim pkg make from a to b into out, with p's --break and --force. */
static int pkg_make(const char *self, const char *log, const char *a, const char *b,
                    const char *out, const struct scn_package *p, char *why, size_t why_size)
{
    char *args[16] = {"pkg", "make", "--from", (char *)a, "--to", (char *)b, "-o", (char *)out};
    int n = 8;
    if (p->breakage[0]) {
        args[n++] = "--break";
        args[n++] = (char *)p->breakage;
    }
    if (p->force)
        args[n++] = "--force";
    args[n] = NULL;
    return tool(self, log, args, why, why_size);
}

/* Exactly p->size bytes: from `from` to an image of revision p->to whose
 * payload is `from`'s image and an incompressible tail, the tail's length
 * tuned until the package comes out at that size (it grows with the tail
 * byte for byte). Where the target image crosses a sector boundary the
 * package's plan jumps by a few bytes, leaving sizes no tail reaches: then
 * the same search again with the base a little shorter, which moves the
 * boundary. */
static int make_sized(const char *self, const char *dir, const char *model,
                      const struct scn_package *p, const char *a, const char *out, char *why,
                      size_t why_size)
{
    static const size_t drops[] = {0, 2048, 1024, 3072};
    char raw[4200], img[4200], log[4200];
    snprintf(raw, sizeof raw, "%s/sized-%d.raw", dir, (int)getpid());
    snprintf(img, sizeof img, "%s/sized-%d.img", dir, (int)getpid());
    snprintf(log, sizeof log, "%s/tool-%d.log", dir, (int)getpid());
    int r = -1;
    bool too_small = false;
    for (size_t d = 0; d < sizeof drops / sizeof drops[0] && r != 0 && !too_small; d++) {
        long tail = p->size > 1024 ? (long)p->size - 1024 : (long)p->size, below = -1;
        for (int tries = 0; tries < 6; tries++) {
            long got;
            if (padded_payload(a, raw, drops[d], (size_t)tail, why, why_size) != 0 ||
                tool(self, log,
                     (char *[]){"image", "make", "--model", (char *)model, "--revision",
                                (char *)p->to, "--payload", raw, "-o", img, NULL},
                     why, why_size) != 0 ||
                pkg_make(self, log, a, img, out, p, why, why_size) != 0 ||
                file_size(out, &got) != 0) {
                unlink(raw);
                unlink(img);
                return -1;
            }
            if (got == (long)p->size) {
                r = 0;
                break;
            }
            if (got < (long)p->size)
                below = tail;
            else if (below == tail - 1)
                break; /* tail - 1 was short of it and tail is past it: a gap */
            long next = tail + (long)p->size - got;
            tail = next == below ? next + 1 : next;
            if (tail <= 0) {
                too_small = true;
                break;
            }
        }
    }
    unlink(raw);
    unlink(img);
    if (r != 0) {
        unlink(out);
        snprintf(why, why_size, "package %s: %s %u bytes", p->name,
                 too_small ? "too small to make at" : "no package of exactly", p->size);
    }
    return r;
}

int scn_pkg_path(const char *cache_dir, const char *model, const struct scn_package *p, char *path,
                 size_t size)
{
    /* The format version too: a cache made by an older generator holds
     * packages today's module may refuse. */
    int n = snprintf(path, size, "%s/%s_%s_%s_%s_%u%s_%s_f%d.pkg", cache_dir, model, p->from, p->to,
                     p->breakage[0] ? p->breakage : "good", p->size, p->force ? "_forced" : "",
                     BCSIM_VERSION, PKG_VERSION);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int scn_pkg_make(const char *self, const char *cache_dir, const char *model,
                 const struct scn_package *p, char *path, size_t path_size, char *why,
                 size_t why_size)
{
    if (scn_pkg_path(cache_dir, model, p, path, path_size) != 0) {
        snprintf(why, why_size, "cache path too long");
        return -1;
    }
    if (exists(path))
        return 0;
    char a[4200], b[4200], log[4200], tmp[4300];
    snprintf(a, sizeof a, "%s/%s_%s_%s.img", cache_dir, model, p->from, BCSIM_VERSION);
    snprintf(b, sizeof b, "%s/%s_%s_%s.img", cache_dir, model, p->to, BCSIM_VERSION);
    /* Names of this process's own: several may fill one cache at once. */
    snprintf(log, sizeof log, "%s/tool-%d.log", cache_dir, (int)getpid());
    snprintf(tmp, sizeof tmp, "%s.%d.part", path, (int)getpid());
    if ((!exists(a) && tool(self, log,
                            (char *[]){"image", "export", "--model", (char *)model, "--revision",
                                       (char *)p->from, "-o", a, NULL},
                            why, why_size) != 0) ||
        (!p->size && !exists(b) &&
         tool(self, log,
              (char *[]){"image", "export", "--model", (char *)model, "--revision", (char *)p->to,
                         "-o", b, NULL},
              why, why_size) != 0))
        return -1;
    int r = p->size ? make_sized(self, cache_dir, model, p, a, tmp, why, why_size)
                    : pkg_make(self, log, a, b, tmp, p, why, why_size);
    if (r == 0 && rename(tmp, path) != 0) {
        snprintf(why, why_size, "cannot rename %s: %s", tmp, strerror(errno));
        r = -1;
    }
    if (r != 0)
        unlink(tmp);
    unlink(log);
    return r;
}
