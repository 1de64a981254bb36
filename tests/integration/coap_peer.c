#include "tests/integration/coap_peer.h"

#include "tests/integration/host.h"
#include "tests/integration/scratch.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

bool coap_peer_udp_is(int port, pid_t pid)
{
    int found = 0;
    for (int v6 = 0; v6 < 2; v6++) {
        FILE *f = fopen(v6 ? "/proc/net/udp6" : "/proc/net/udp", "r");
        if (!f)
            continue;
        char line[512];
        unsigned lport;
        unsigned long ino;
        while (fgets(line, sizeof line, f))
            if (sscanf(line,
                       " %*u: %*[0-9A-F]:%X %*[0-9A-F]:%*X %*X %*X:%*X %*X:%*X %*X %*u %*u %lu",
                       &lport, &ino) == 2 &&
                (int)lport == port) {
                if (!host_holds_socket(pid, ino)) {
                    fclose(f);
                    return false;
                }
                found++;
            }
        fclose(f);
    }
    return found > 0;
}

static int bind_loopback(int *port)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return s;
}

int coap_peer_refused_port(void)
{
    int port;
    close(bind_loopback(&port));
    return port;
}

void coap_peer_silent(struct coap_peer *p)
{
    p->pid = -1;
    p->fd = bind_loopback(&p->port);
}

static bool same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void run_client(const char *const *argv)
{
    int out, err;
    pid_t pid = host_spawn(argv, &out, &err);
    char sink[4096];
    host_read_fd(out, sink, sizeof sink, 60000, NULL);
    close(out);
    close(err);
    ck_assert_msg(host_wait_pid(pid, 60000) >= 0, "%s did not finish", argv[0]);
}

/* Starts coap-server-notls on a port the kernel just gave up; false if the
 * server could not bind it (someone else took it first). */
static bool start_libcoap(struct coap_peer *p, const char *loss, const char *err_path)
{
    close(bind_loopback(&p->port));
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    const char *argv[] = {"coap-server-notls", "-A", "127.0.0.1", "-p", port, "-d", "10",
                          loss ? "-l" : NULL,  loss, NULL};
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        if (coap_peer_udp_is(p->port, p->pid))
            return true;
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = -1;
            return false;
        }
        usleep(10000);
    }
    ck_abort_msg("coap-server-notls did not bind port %d (see %s)", p->port, err_path);
    return false;
}

void coap_peer_libcoap(struct coap_peer *p, const char *loss, const char *err_path,
                       const char *file, const char *resource)
{
    ck_assert_msg(access("/usr/bin/coap-server-notls", X_OK) == 0,
                  "coap-server-notls is not installed (tools/install-deps installs it)");
    p->fd = -1;
    bool up = false;
    for (int attempt = 0; attempt < 5 && !up; attempt++)
        up = start_libcoap(p, loss, err_path);
    ck_assert_msg(up, "coap-server-notls could not bind a free port in 5 attempts");
    char uri[512], back[512];
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%d/%s", p->port, resource);
    snprintf(back, sizeof back, "%s.back", file);
    for (int attempt = 0; attempt < 5; attempt++) {
        run_client((const char *[]){"coap-client-notls", "-m", "put", "-f", file, uri, NULL});
        unlink(back);
        run_client((const char *[]){"coap-client-notls", "-m", "get", "-o", back, uri, NULL});
        if (same_bytes(file, back)) {
            unlink(back);
            return;
        }
    }
    ck_abort_msg("coap-server-notls never held %s as %s", file, uri);
}

void coap_peer_scripted(struct coap_peer *p, coap_peer_rule rule)
{
    int s = bind_loopback(&p->port);
    p->fd = -1;
    /* Check's SIGTERM handler, inherited, would pass the stop's SIGTERM on to
     * the whole test: the child takes the default before one can come. */
    sigset_t term, was;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &was);
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &was, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) {
            unsigned char req[2048], answer[2048];
            struct sockaddr_storage from;
            socklen_t flen = sizeof from;
            ssize_t n = recvfrom(s, req, sizeof req, 0, (struct sockaddr *)&from, &flen);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                _exit(1);
            size_t len = rule(req, (size_t)n, answer, sizeof answer);
            if (len)
                sendto(s, answer, len, 0, (struct sockaddr *)&from, flen);
        }
    }
    sigprocmask(SIG_SETMASK, &was, NULL);
    close(s);
    ck_assert_msg(coap_peer_udp_is(p->port, p->pid), "port %d is not the test's", p->port);
}

void coap_peer_stop(struct coap_peer *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
    }
    if (p->fd >= 0)
        close(p->fd);
    p->pid = p->fd = -1;
}
