#include "tests/integration/host.h"
#include "tests/integration/scratch.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define REAP_TIMEOUT_MS 20000 /* valgrind runs are slow to exit */

const char *host_show(const char *s)
{
    static char buf[8192];
    size_t n = 0;
    for (; *s && n + 5 < sizeof buf; s++) {
        if (*s == '\r')
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\r");
        else if (*s == '\n')
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\n");
        else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x", (unsigned char)*s);
        else
            buf[n++] = *s;
    }
    buf[n] = '\0';
    return buf;
}

void bcsim_prepare(struct bcsim_proc *p)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    scratch_make(p->dir, sizeof p->dir, "test");
    snprintf(p->state, sizeof p->state, "%s/state", p->dir);
    snprintf(p->control, sizeof p->control, "%s/ctl.sock", p->dir);
}

/* fork+exec with stdout/stderr on pipes; the child dies with the test.
 * BCSIM_WRAPPER="valgrind -q --error-exitcode=99" runs bcsim under a tool. */
pid_t host_spawn(const char *const *args, int *out_fd, int *err_fd)
{
    const char *argv[64];
    int n = 0;
    static char wrapper[512];
    const char *w = getenv("BCSIM_WRAPPER");
    /* The package tools are checked under valgrind on their own: their
     * generator is too slow under it for the tests' timeouts. */
    bool tool = args[0] && args[1] && (!strcmp(args[1], "pkg") || !strcmp(args[1], "image"));
    if (w && *w && strcmp(args[0], BCSIM_BIN) == 0 && !tool) {
        snprintf(wrapper, sizeof wrapper, "%s", w);
        for (char *tok = strtok(wrapper, " "); tok && n < 16; tok = strtok(NULL, " "))
            argv[n++] = tok;
    }
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int out[2], err[2];
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    *out_fd = out[0];
    if (err_fd)
        *err_fd = err[0];
    else
        close(err[0]);
    return pid;
}

size_t host_read_fd(int fd, char *buf, size_t size, int timeout_ms, const char *until)
{
    size_t n = 0;
    long end = scratch_now_ms() + timeout_ms;
    buf[0] = '\0';
    while (n + 1 < size) {
        long left = end - scratch_now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, size - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (until && strstr(buf, until))
            break;
    }
    return n;
}

void bcsim_start(struct bcsim_proc *p, const char *model, const char *const *extra)
{
    if (!p->dir[0])
        bcsim_prepare(p);
    const char *argv[48] = {BCSIM_BIN, "--model", model,       "--state", p->state,
                            "--speed", "fast",    "--control", p->control};
    int n = 9;
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    p->pid = host_spawn(argv, &p->out_fd, &p->err_fd);
    p->reaped = false;
    char line[512];
    host_read_fd(p->out_fd, line, sizeof line, HOST_TIMEOUT_MS, "\n");
    char *pts = strstr(line, "/dev/pts/");
    if (!pts) {
        char err[1024];
        host_read_fd(p->err_fd, err, sizeof err, 200, NULL);
        ck_abort_msg("bcsim did not print its PTY: stdout '%s' stderr '%s'", line, err);
    }
    pts[strcspn(pts, "\r\n ")] = '\0';
    snprintf(p->pty, sizeof p->pty, "%s", pts);
    /* The control socket is bound before the line is printed. */
}

int bcsim_run_once(const char *const *args, char *out, size_t size, int timeout_ms)
{
    const char *argv[48] = {BCSIM_BIN};
    int n = 1;
    for (int i = 0; args[i] && n < 47; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int ofd, efd;
    pid_t pid = host_spawn(argv, &ofd, &efd);
    size_t got = host_read_fd(ofd, out, size, timeout_ms, NULL);
    if (got + 1 < size)
        host_read_fd(efd, out + got, size - got, 200, NULL);
    close(ofd);
    close(efd);
    int status;
    long end = scratch_now_ms() + timeout_ms;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (scratch_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int host_wait_pid(pid_t pid, int timeout_ms)
{
    int status = 0;
    long end = scratch_now_ms() + timeout_ms;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (scratch_now_ms() > end)
            return -1;
        usleep(5000); /* between polls of the condition, not instead of it */
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Sends sig (none if 0), waits for the exit and keeps its status, so that a
 * test can wait for an exit and still have bcsim_stop report it. */
static int reap(struct bcsim_proc *p, int sig, int timeout_ms)
{
    if (p->reaped)
        return p->status;
    if (p->pid <= 0)
        return -1;
    if (sig)
        kill(p->pid, sig);
    int status = host_wait_pid(p->pid, timeout_ms);
    if (status < 0) {
        if (!sig)
            return -1; /* still running: the caller decides */
        kill(p->pid, SIGKILL);
        status = host_wait_pid(p->pid, HOST_TIMEOUT_MS);
    }
    p->pid = -1;
    p->reaped = true;
    p->status = status;
    close(p->out_fd);
    close(p->err_fd);
    return status;
}

int bcsim_wait_exit(struct bcsim_proc *p, int timeout_ms)
{
    return reap(p, 0, timeout_ms);
}

int bcsim_stop(struct bcsim_proc *p)
{
    int status = reap(p, SIGTERM, REAP_TIMEOUT_MS);
    scratch_remove(p->dir);
    return status;
}

int bcsim_halt(struct bcsim_proc *p)
{
    return reap(p, SIGTERM, REAP_TIMEOUT_MS);
}

void bcsim_kill9(struct bcsim_proc *p)
{
    reap(p, SIGKILL, REAP_TIMEOUT_MS);
}

int bcsim_ctl(const struct bcsim_proc *p, char *out, size_t size, const char *const *args)
{
    const char *argv[24] = {"ctl", p->control};
    int n = 2;
    for (int i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return bcsim_run_once(argv, out, size, HOST_TIMEOUT_MS);
}

void host_open(struct host *h, const char *path)
{
    h->len = 0;
    h->fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    ck_assert_msg(h->fd >= 0, "open %s: %s", path, strerror(errno));
    struct termios tio;
    ck_assert_int_eq(tcgetattr(h->fd, &tio), 0);
    cfmakeraw(&tio);
    ck_assert_int_eq(tcsetattr(h->fd, TCSANOW, &tio), 0); /* TCSANOW: keep pending output */
}

void host_close(struct host *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

void host_send_bytes(struct host *h, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(h->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "write to PTY: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

void host_send(struct host *h, const char *text)
{
    host_send_bytes(h, text, strlen(text));
}

static bool fill(struct host *h, int timeout_ms)
{
    if (h->len + 1 >= sizeof h->buf)
        return false;
    struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return false;
    ssize_t n = read(h->fd, h->buf + h->len, sizeof h->buf - h->len - 1);
    if (n <= 0)
        return false;
    h->len += (size_t)n;
    h->buf[h->len] = '\0';
    return true;
}

static void take(struct host *h, size_t n, char *out, size_t size)
{
    size_t copy = n < size - 1 ? n : size - 1;
    memcpy(out, h->buf, copy);
    out[copy] = '\0';
    memmove(h->buf, h->buf + n, h->len - n);
    h->len -= n;
    h->buf[h->len] = '\0';
}

void host_expect(struct host *h, const char *text, char *out, size_t size, int timeout_ms)
{
    long end = scratch_now_ms() + timeout_ms;
    h->buf[h->len] = '\0';
    for (;;) {
        char *hit = memmem(h->buf, h->len, text, strlen(text));
        if (hit) {
            take(h, (size_t)(hit - h->buf) + strlen(text), out, size);
            return;
        }
        long left = end - scratch_now_ms();
        if (left <= 0)
            ck_abort_msg("timed out waiting for '%s'; got '%s'", text, host_show(h->buf));
        fill(h, (int)left);
    }
}

/* The end of a response: a final result code on a line of its own. */
static size_t final_end(const char *buf, size_t len)
{
    static const char *const finals[] = {"\r\nOK\r\n", "\r\nERROR\r\n", "\r\n+CME ERROR: "};
    size_t best = 0;
    for (int i = 0; i < 3; i++) {
        const char *hit = memmem(buf, len, finals[i], strlen(finals[i]));
        if (!hit)
            continue;
        const char *end = i < 2 ? hit + strlen(finals[i])
                                : memmem(hit + 2, len - (size_t)(hit + 2 - buf), "\r\n", 2);
        if (!end)
            continue;
        if (i == 2)
            end += 2;
        size_t n = (size_t)(end - buf);
        if (!best || n < best)
            best = n;
    }
    return best;
}

void host_cmd(struct host *h, const char *cmd, char *out, size_t size)
{
    char line[8192];
    snprintf(line, sizeof line, "%s\r", cmd);
    host_send(h, line);
    long end = scratch_now_ms() + HOST_TIMEOUT_MS;
    for (;;) {
        size_t n = final_end(h->buf, h->len);
        if (n) {
            take(h, n, out, size);
            return;
        }
        long left = end - scratch_now_ms();
        if (left <= 0)
            ck_abort_msg("no final result for '%s'; got '%s'", cmd, host_show(h->buf));
        fill(h, (int)left);
    }
}

size_t host_drain(struct host *h, char *out, size_t size, int ms)
{
    long end = scratch_now_ms() + ms;
    long left;
    while ((left = end - scratch_now_ms()) > 0)
        fill(h, (int)left);
    while (fill(h, 0)) /* and what is there already: ms may be 0 */
        ;
    size_t n = h->len;
    take(h, n, out, size);
    return n;
}

void host_wait_ready(struct host *h)
{
    char buf[4096];
    host_expect(h, "+IP: ", buf, sizeof buf, HOST_TIMEOUT_MS);
    host_expect(h, "\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
}

int bcsim_serve(struct bcsim_proc *s, const char *dir, const char *const *extra)
{
    const char *argv[32] = {BCSIM_BIN, "serve", dir, "--port", "0"};
    int n = 5;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    memset(s, 0, sizeof *s);
    s->pid = host_spawn(argv, &s->out_fd, &s->err_fd);
    char line[512];
    host_read_fd(s->out_fd, line, sizeof line, HOST_TIMEOUT_MS, "\n");
    const char *at = strstr(line, "http://127.0.0.1:");
    int port = at ? atoi(at + strlen("http://127.0.0.1:")) : 0;
    ck_assert_msg(port > 0, "bcsim serve printed '%s'", host_show(line));
    return port;
}

int bcsim_serve_coap(struct bcsim_proc *s, const char *dir, const char *const *extra,
                     int *coap_port)
{
    const char *argv[40] = {BCSIM_BIN, "serve", dir, "--port", "0", "--coap-port", "0"};
    int n = 7;
    for (int i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    memset(s, 0, sizeof *s);
    s->pid = host_spawn(argv, &s->out_fd, &s->err_fd);
    char lines[1024];
    size_t got = 0;
    long end = scratch_now_ms() + HOST_TIMEOUT_MS;
    const char *coap = NULL;
    /* Both lines, however the pipe splits them: the coap line ends the start. */
    while (!(coap && strchr(coap, '\n')) && got + 1 < sizeof lines && scratch_now_ms() < end) {
        size_t r = host_read_fd(s->out_fd, lines + got, sizeof lines - got,
                                (int)(end - scratch_now_ms()), "\n");
        if (r == 0)
            break;
        got += r;
        coap = strstr(lines, "coap://127.0.0.1:");
    }
    const char *http = strstr(lines, "http://127.0.0.1:");
    int port = http ? atoi(http + strlen("http://127.0.0.1:")) : 0;
    *coap_port = coap && strchr(coap, '\n') ? atoi(coap + strlen("coap://127.0.0.1:")) : 0;
    ck_assert_msg(port > 0 && *coap_port > 0, "bcsim serve printed '%s'", host_show(lines));
    return port;
}

bool bcsim_status_has(const struct bcsim_proc *p, const char *text)
{
    char out[4096];
    return bcsim_ctl(p, out, sizeof out, (const char *[]){"status", NULL}) == 0 &&
           strstr(out, text) != NULL;
}

long bcsim_status_long(const struct bcsim_proc *p, const char *key)
{
    char out[4096], pattern[64];
    ck_assert_int_eq(bcsim_ctl(p, out, sizeof out, (const char *[]){"status", NULL}), 0);
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(out, pattern);
    ck_assert_msg(at != NULL, "no %s in status %s", key, out);
    return atol(at + strlen(pattern));
}

bool bcsim_status_wait(const struct bcsim_proc *p, const char *text, int timeout_ms)
{
    long end = scratch_now_ms() + timeout_ms;
    for (int i = 0; i < 10000 && scratch_now_ms() < end; i++) {
        if (bcsim_status_has(p, text))
            return true;
        usleep(2000); /* between polls of the condition, not instead of it */
    }
    return bcsim_status_has(p, text);
}

void bcsim_answers_then_stop(struct bcsim_proc *p, struct host *h, const char *answer)
{
    char buf[256];
    host_cmd(h, "AT", buf, sizeof buf);
    ck_assert_msg(strcmp(buf, answer) == 0, "AT answered '%s', not '%s'", host_show(buf),
                  host_show(answer));
    host_close(h);
    ck_assert_int_eq(bcsim_stop(p), 0);
}

bool host_holds_socket(pid_t pid, unsigned long inode)
{
    char d[64], want[64], link[64];
    snprintf(d, sizeof d, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *dp = opendir(d);
    if (!dp)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(dp));) {
        ssize_t n = readlinkat(dirfd(dp), e->d_name, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(dp);
    return found;
}
