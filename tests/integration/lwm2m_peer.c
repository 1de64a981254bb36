/* bcsim lwm2m-server as a test's peer: the real binary, on a port the kernel
 * picks, commands on its stdin and its lines read from its stdout. */
#include "tests/integration/lwm2m_peer.h"

#include "tests/integration/coap_peer.h"
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The server of the test, for the messages of failures. */
struct lws *shown_lws;

/* The next line of output holding `text` (lines before it are skipped):
 * into line; fails the test after timeout_ms. */
void lws_expect(struct lws *l, const char *text, char *line, size_t size, int timeout_ms)
{
    long deadline = scratch_now_ms() + timeout_ms;
    for (;;) {
        char *nl;
        while ((nl = memchr(l->buf, '\n', l->len))) {
            size_t n = (size_t)(nl - l->buf);
            l->buf[n] = '\0';
            bool hit = strstr(l->buf, text) != NULL;
            if (hit) {
                size_t m = n < size - 1 ? n : size - 1;
                memcpy(line, l->buf, m);
                line[m] = '\0';
            }
            memmove(l->buf, nl + 1, l->len - n - 1);
            l->len -= n + 1;
            if (hit)
                return;
        }
        long left = deadline - scratch_now_ms();
        ck_assert_msg(left > 0, "no line with \"%s\" within %d ms (have \"%.*s\")", text,
                      timeout_ms, (int)l->len, l->buf);
        struct pollfd p = {.fd = l->out, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(l->out, l->buf + l->len, sizeof l->buf - 1 - l->len);
        ck_assert_msg(r > 0, "the server closed its output before \"%s\"", text);
        l->len += (size_t)r;
    }
}

/* Starts the server with stdin on a pipe (NULL args: none extra), reads
 * its port and checks the socket is the child's. */
void lws_start(struct lws *l, const char *const *extra)
{
    memset(l, 0, sizeof *l);
    scratch_make(l->dir, sizeof l->dir, "lwsrv");
    const char *argv[24] = {BCSIM_BIN, "lwm2m-server", "--port", "0"};
    int n = 4;
    for (int i = 0; extra && extra[i] && n < 23; i++)
        argv[n++] = extra[i];
    int in[2], out[2];
    ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    const char *err = scratch_path(l->dir, "stderr");
    l->pid = fork();
    ck_assert_int_ge(l->pid, 0);
    if (l->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    l->in = in[1];
    l->out = out[0];
    char line[256];
    lws_expect(l, "listening 127.0.0.1:", line, sizeof line, WAIT_MS);
    ck_assert_int_eq(sscanf(line, "listening 127.0.0.1:%d", &l->port), 1);
    shown_lws = l;
    /* A script that ends at once may be gone before the check: only a
     * server the test talks to is checked. */
    if (!extra || strcmp(extra[0], "--script") != 0 || !strstr(extra[1], "late"))
        ck_assert_msg(coap_peer_udp_is(l->port, l->pid), "port %d is not the server's", l->port);
}

/* The next line must be exactly `want`. */
void lws_line(struct lws *l, const char *want)
{
    char line[1024];
    lws_expect(l, "", line, sizeof line, WAIT_MS);
    ck_assert_str_eq(line, want);
}

void lws_cmd(struct lws *l, const char *cmd)
{
    snprintf(l->last, sizeof l->last, "%s", cmd);
    size_t n = strlen(cmd);
    ck_assert_int_eq(write(l->in, cmd, n), (ssize_t)n);
    ck_assert_int_eq(write(l->in, "\n", 1), 1);
}

/* Its exit status, once it exits by itself within timeout_ms. */
int lws_exit(struct lws *l, int timeout_ms)
{
    if (!l->reaped) {
        int st = host_wait_pid(l->pid, timeout_ms);
        ck_assert_msg(st >= 0, "the server did not exit");
        l->reaped = true;
        l->status = st;
    }
    return l->status;
}

/* SIGTERM; exit status 0 and nothing from the sanitizers. */
void lws_stop(struct lws *l)
{
    bool signalled = !l->reaped;
    if (signalled)
        kill(l->pid, SIGTERM);
    int st = lws_exit(l, WAIT_MS);
    char err[4096] = "";
    FILE *f = fopen(scratch_path(l->dir, "stderr"), "r");
    if (f) {
        err[fread(err, 1, sizeof err - 1, f)] = '\0';
        fclose(f);
    }
    ck_assert_msg(!strstr(err, "Sanitizer") && !strstr(err, "runtime error"), "stderr: %s", err);
    ck_assert_msg(!signalled || st == 0, "exit %d after SIGTERM; stderr: %s", st, err);
    close(l->in);
    close(l->out);
    scratch_remove(l->dir);
}
