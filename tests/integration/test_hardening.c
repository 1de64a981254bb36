/* What a first-time user and a hostile peer did to bcsim: a server that
 * resets before the request (SIGPIPE), --link over a user's file or a live
 * emulator's link, a host that does not read 30,000 answers, URCs lost at a
 * reboot, a Python rig that flushes its input on open, and the friction of
 * the command line (--model case, --state parents, the default socket). */
#include "tests/integration/host.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[1 << 17];

/* Reads the events stream of `bcsim ctl SOCKET events` until `text`. */
struct events {
    pid_t pid;
    int fd;
    char seen[1 << 18];
    size_t len;
};

static void events_open(struct events *e, const struct bcsim_proc *p)
{
    e->len = 0;
    e->pid =
        host_spawn((const char *[]){BCSIM_BIN, "ctl", p->control, "events", NULL}, &e->fd, NULL);
    /* The reply comes once the subscription holds. */
    e->len = host_read_fd(e->fd, e->seen, sizeof e->seen, HOST_TIMEOUT_MS, "{\"ok\":true}");
    ck_assert_msg(strstr(e->seen, "{\"ok\":true}"), "events: %s", e->seen);
}

static bool events_wait(struct events *e, const char *text, int timeout_ms)
{
    if (strstr(e->seen, text))
        return true;
    e->len += host_read_fd(e->fd, e->seen + e->len, sizeof e->seen - e->len, timeout_ms, text);
    return strstr(e->seen, text) != NULL;
}

static void events_close(struct events *e)
{
    kill(e->pid, SIGTERM);
    waitpid(e->pid, NULL, 0);
    close(e->fd);
}

static void ctl_ok(const struct bcsim_proc *p, const char *const *args)
{
    char out[4096];
    ck_assert_msg(bcsim_ctl(p, out, sizeof out, args) == 0, "ctl %s: %s", args[0], out);
}

/* A server that closes (FIN) and resets (RST) the connection before the
 * module writes its request: the write fails with EPIPE, which used to kill
 * the emulator with SIGPIPE (exit 141). It must report a failed download. */
START_TEST(server_reset_before_request)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
    struct bcsim_proc p;
    struct host h;
    memset(&p, 0, sizeof p);
    bcsim_start(&p, "bc66", (const char *[]){"--speed", "5", NULL});
    host_open(&h, p.pty);
    host_wait_ready(&h);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"http://127.0.0.1:%d/up.pkg\"\r", ntohs(sa.sin_port));
    host_send(&h, cmd);
    struct pollfd pfd = {.fd = ls, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, HOST_TIMEOUT_MS), 1);
    int c = accept(ls, NULL, NULL);
    ck_assert_int_ge(c, 0);
    shutdown(c, SHUT_WR); /* FIN first, */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c); /* then RST, while the module still waits a round trip */
    host_expect(&h, "+QIND: \"FOTA\",\"HTTPEND\",12\r\n", buf, sizeof buf, 10000);
    host_cmd(&h, "AT", buf, sizeof buf);
    ck_assert(strstr(buf, "\r\nOK\r\n") != NULL);
    close(ls);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

static char link_dir[] = "/tmp/bcsim-link-XXXXXX";

/* --link over a regular file: refused with exit 3, the file intact. */
START_TEST(link_keeps_a_users_file)
{
    ck_assert_ptr_nonnull(mkdtemp(link_dir));
    char file[256], state[256], out[4096];
    snprintf(file, sizeof file, "%s/notes.txt", link_dir);
    snprintf(state, sizeof state, "%s/state", link_dir);
    FILE *f = fopen(file, "w");
    fputs("precious\n", f);
    fclose(f);
    int rc =
        bcsim_run_once((const char *[]){"--state", state, "--speed", "fast", "--link", file, NULL},
                       out, sizeof out, 10000);
    ck_assert_int_eq(rc, 3);
    ck_assert_msg(strstr(out, "not replaced") != NULL, "%s", out);
    f = fopen(file, "r");
    ck_assert_ptr_nonnull(f);
    char line[64] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "precious\n");
    unlink(file);
    rmdir(state);
    rmdir(link_dir);
    strcpy(link_dir, "/tmp/bcsim-link-XXXXXX");
}
END_TEST

/* A second emulator may not take a live one's link; once the first is gone
 * (killed: its link stays, stale), a new one replaces it. */
START_TEST(link_of_a_live_emulator_is_refused)
{
    struct bcsim_proc a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    bcsim_prepare(&a);
    char link[300], target[64], out[4096];
    snprintf(link, sizeof link, "%s/modem", a.dir);
    bcsim_start(&a, "bc66", (const char *[]){"--link", link, NULL});
    ssize_t n = readlink(link, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, a.pty);
    bcsim_prepare(&b);
    int rc = bcsim_run_once(
        (const char *[]){"--state", b.state, "--speed", "fast", "--link", link, NULL}, out,
        sizeof out, 10000);
    ck_assert_int_eq(rc, 3);
    ck_assert_msg(strstr(out, "running emulator") != NULL, "%s", out);
    n = readlink(link, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, a.pty); /* still the first one's */
    bcsim_kill9(&a);                 /* its link stays behind, pointing at nothing */
    /* PTY numbers are reused at once: another test's emulator may hold a's
     * number by now, and then the link is not stale and b is right to
     * refuse it. A link to a PTY that is gone is what a kill leaves. */
    struct stat st;
    if (stat(target, &st) == 0) {
        ck_assert_int_eq(unlink(link), 0);
        ck_assert_int_eq(symlink("/dev/pts/999999", link), 0);
    }
    bcsim_start(&b, "bc66", (const char *[]){"--link", link, NULL});
    n = readlink(link, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, b.pty);
    ck_assert_int_eq(bcsim_stop(&b), 0);
    unlink(link);
    /* Already reaped: the status of the kill again, and its directory goes. */
    ck_assert_int_eq(bcsim_stop(&a), 128 + SIGKILL);
}
END_TEST

/* A host that sends 30,000 ATI without reading: the module stops reading
 * when its output queue is full (back-pressure) instead of dropping
 * answers beyond 1 MiB, and every answer arrives once the host reads. */
START_TEST(unread_answers_are_not_dropped)
{
    enum { COMMANDS = 30000 };
    struct bcsim_proc p;
    struct host h;
    memset(&p, 0, sizeof p);
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    struct events e;
    events_open(&e, &p);
    pid_t writer = fork();
    if (writer == 0) {
        static char lines[COMMANDS * 4];
        for (int i = 0; i < COMMANDS; i++)
            memcpy(lines + 4 * i, "ATI\r", 4);
        host_send_bytes(&h, lines, sizeof lines);
        _exit(0);
    }
    /* Not reading until the module has either paused its input or taken
     * every command: the two outcomes of a host that does not read. */
    bool held = false;
    for (int i = 0; i < 200 && !held; i++) {
        held = events_wait(&e, "\"input\":\"held\"", 100);
        if (!held && waitpid(writer, NULL, WNOHANG) == writer) {
            writer = -1;
            break;
        }
    }
    long answers = 0;
    for (; answers < COMMANDS; answers++)
        host_expect(&h, "Revision: BC66NBR01A07\r\n\r\nOK\r\n", buf, sizeof buf, 10000);
    if (writer > 0)
        waitpid(writer, NULL, 0);
    ck_assert_int_eq(answers, COMMANDS);
    ck_assert(held);
    ck_assert(bcsim_status_has(&p, "\"uart_bytes_dropped\":0"));
    events_close(&e);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* URCs waiting for autobaud are lost when the power goes: each is reported
 * as an urc event with delivered:false (the README promises it). */
START_TEST(lost_urcs_are_reported)
{
    struct bcsim_proc p;
    struct host h;
    memset(&p, 0, sizeof p);
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "AT+IPR=0", buf, sizeof buf);
    host_cmd(&h, "AT&W", buf, sizeof buf);
    struct events e;
    events_open(&e, &p);
    host_send(&h, "AT+QRST=1\r");
    /* After the reset the rate is unknown: RDY waits for the host's AT. */
    ck_assert(events_wait(&e, "\"state\":\"booting\"", HOST_TIMEOUT_MS));
    ck_assert(bcsim_status_wait(&p, "\"power\":\"on\"", HOST_TIMEOUT_MS));
    ctl_ok(&p, (const char *[]){"power", "cut", NULL});
    ck_assert_msg(
        events_wait(&e, "\"text\":\"RDY\",\"delivered\":false,\"why\":\"power off\"", 5000),
        "events: %s", e.seen);
    events_close(&e);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

static bool have_pyserial(void)
{
    return system("/usr/bin/python3 -c 'import serial' 2>/dev/null") == 0;
}

/* pyserial flushes its input when it opens a port, so a rig that opens the
 * PTY after bcsim started never saw the banner. With --boot-on-open the
 * module powers on only once the host has opened the device. */
START_TEST(python_rig_sees_the_banner)
{
    struct bcsim_proc p;
    memset(&p, 0, sizeof p);
    bcsim_start(&p, "bc66", (const char *[]){"--boot-on-open", NULL});
    ck_assert(bcsim_status_has(&p, "\"power\":\"off\""));
    char script[1024];
    snprintf(script, sizeof script,
             "import serial\n"
             "s = serial.Serial('%s', 115200, timeout=10)\n"
             "data = b''\n"
             "while b'+IP: ' not in data:\n"
             "    chunk = s.read(256)\n"
             "    if not chunk: break\n"
             "    data += chunk\n"
             "print(data.decode())\n",
             p.pty);
    int ofd, efd;
    pid_t pid = host_spawn((const char *[]){"/usr/bin/python3", "-c", script, NULL}, &ofd, &efd);
    host_read_fd(ofd, buf, sizeof buf, 20000, "+IP: ");
    char err[2048];
    host_read_fd(efd, err, sizeof err, 100, NULL);
    close(ofd);
    close(efd);
    waitpid(pid, NULL, 0);
    ck_assert_msg(strstr(buf, "RDY") && strstr(buf, "+CFUN: 1") && strstr(buf, "+CPIN: READY"),
                  "pyserial read: %s (stderr: %s)", host_show(buf), err);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* --model in capitals, as the module's label has it; --state whose parent
 * does not exist is refused, nothing created; without --control the socket
 * is DIR/ctl.sock, printed at start. */
START_TEST(command_line_friction)
{
    struct bcsim_proc p;
    char out[4096], missing[300], sock[300];
    bcsim_prepare(&p);
    snprintf(missing, sizeof missing, "%s/no/such/state", p.dir);
    ck_assert_int_eq(
        bcsim_run_once((const char *[]){"--state", missing, NULL}, out, sizeof out, 10000), 3);
    ck_assert_msg(strstr(out, "No such file") != NULL, "%s", out);
    char parent[300];
    snprintf(parent, sizeof parent, "%s/no", p.dir);
    struct stat st;
    ck_assert_int_ne(stat(parent, &st), 0);

    const char *argv[] = {BCSIM_BIN, "--model", "BC66", "--state",
                          p.state,   "--speed", "fast", NULL};
    p.pid = host_spawn(argv, &p.out_fd, &p.err_fd);
    host_read_fd(p.out_fd, out, sizeof out, HOST_TIMEOUT_MS, "status)\n");
    snprintf(sock, sizeof sock, "control socket %s/ctl.sock", p.state);
    ck_assert_msg(strstr(out, "BC66 revision") && strstr(out, sock), "%s", out);
    snprintf(p.control, sizeof p.control, "%.200s/ctl.sock", p.state);
    ck_assert(bcsim_status_wait(&p, "\"model\":\"bc66\"", HOST_TIMEOUT_MS));
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

Suite *hardening_suite(void)
{
    Suite *s = suite_create("hardening");
    TCase *tc = tcase_create("hardening");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, server_reset_before_request);
    tcase_add_test(tc, link_keeps_a_users_file);
    tcase_add_test(tc, link_of_a_live_emulator_is_refused);
    tcase_add_test(tc, unread_answers_are_not_dropped);
    tcase_add_test(tc, lost_urcs_are_reported);
    if (have_pyserial())
        tcase_add_test(tc, python_rig_sees_the_banner);
    else
        fprintf(stderr, "SKIP: hardening: python_rig_sees_the_banner (no pyserial in "
                        "/usr/bin/python3; tools/install-deps installs python3-serial)\n");
    tcase_add_test(tc, command_line_friction);
    suite_add_tcase(s, tc);
    return s;
}
