/* The command line, the state directory lock, --link, --log and bcsim ctl. */
#include "tests/integration/host.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[16384];

#define RUN(...) bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 5000)

START_TEST(help_and_version)
{
    ck_assert_int_eq(RUN("--version"), 0);
    ck_assert_str_eq(out, "bcsim 0.1.0\n");
    ck_assert_int_eq(RUN("--help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: bcsim [run]"));
    ck_assert_ptr_nonnull(strstr(out, "ctl"));
    ck_assert_int_eq(RUN("help", "ctl"), 0);
    ck_assert_ptr_nonnull(strstr(out, "override \"AT-CMD\" \"REPLY\" [once]"));
    ck_assert_int_eq(RUN("help", "run"), 0);
    ck_assert_ptr_nonnull(strstr(out, "--factory-reset"));
    ck_assert_int_eq(RUN("help", "nosuch"), 2);
    ck_assert_ptr_nonnull(strstr(out, "no command 'nosuch'"));
    ck_assert_int_eq(RUN("nosuch"), 2);
}
END_TEST

START_TEST(bad_options)
{
    ck_assert_int_eq(RUN("--frobnicate"), 2);
    ck_assert_ptr_nonnull(strstr(out, "unknown option '--frobnicate'"));
    ck_assert_int_eq(RUN("--model", "bc99"), 2);
    ck_assert_ptr_nonnull(strstr(out, "unknown model 'bc99'"));
    ck_assert_int_eq(RUN("--speed", "0"), 2);
    ck_assert_ptr_nonnull(strstr(out, "--speed 0"));
    ck_assert_int_eq(RUN("--speed=abc"), 2);
    ck_assert_int_eq(RUN("--resolve", "nocolon"), 2);
    ck_assert_ptr_nonnull(strstr(out, "expected HOST:ADDR"));
    ck_assert_int_eq(RUN("--resolve", "www.quectel.com:not-an-ip"), 2);
    ck_assert_int_eq(RUN("--model"), 2);
    ck_assert_ptr_nonnull(strstr(out, "--model needs a value"));
    ck_assert_int_eq(RUN("ctl"), 2);
    ck_assert_int_eq(RUN("ctl", "/nonexistent/sock", "status"), 3);
    ck_assert_ptr_nonnull(strstr(out, "cannot connect to /nonexistent/sock"));
}
END_TEST

START_TEST(state_dir_is_locked)
{
    struct bcsim_proc p = {0};
    bcsim_start(&p, "bc66", NULL);
    char ctl2[PATH_MAX + 16];
    snprintf(ctl2, sizeof ctl2, "%s/other.sock", p.dir);
    ck_assert_int_eq(RUN("--state", p.state, "--control", ctl2), 3);
    ck_assert_msg(strstr(out, "is in use by another bcsim (pid "), "%s", out);
    /* The first instance is unharmed. */
    struct host h;
    host_open(&h, p.pty);
    host_wait_ready(&h);
    bcsim_answers_then_stop(&p, &h, "AT\r\r\nOK\r\n");
}
END_TEST

START_TEST(link_log_and_clean_exit)
{
    struct bcsim_proc p = {0};
    bcsim_prepare(&p);
    char link[PATH_MAX + 16], log[PATH_MAX + 16], target[64];
    snprintf(link, sizeof link, "%s/modem", p.dir);
    snprintf(log, sizeof log, "%s/uart.log", p.dir);
    bcsim_start(&p, "bc66", (const char *[]){"--link", link, "--log", log, NULL});
    ssize_t n = readlink(link, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, p.pty);
    struct stat st;
    ck_assert_int_eq(stat(p.control, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    struct host h;
    char buf[256];
    host_open(&h, link);
    host_wait_ready(&h);
    host_send_bytes(&h, "AT+CSQ\r\x01", 8);
    host_expect(&h, "OK\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
    host_close(&h);

    /* Keep the log for after the stop, which removes the scratch directory. */
    char keep[] = "/tmp/bcsim-log-XXXXXX";
    int fd = mkstemp(keep);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char cmd[2 * PATH_MAX];
    ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
    ck_assert_int_eq(bcsim_wait_exit(&p, 20000), 0); /* exit status 0 */
    snprintf(cmd, sizeof cmd, "cp %s %s", log, keep);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(access(link, F_OK), -1);      /* link removed */
    ck_assert_int_eq(access(p.control, F_OK), -1); /* socket removed */
    bcsim_stop(&p);                                /* the scratch directory */

    FILE *f = fopen(keep, "r");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(out, 1, sizeof out - 1, f);
    out[len] = '\0';
    fclose(f);
    unlink(keep);
    ck_assert_msg(strstr(out, " host -> module: AT+CSQ\\r\\x01\n"), "%s", out);
    ck_assert_msg(strstr(out, " module -> host: +CSQ: 21,0\\r\\n\n"), "%s", out);
    ck_assert_msg(strstr(out, " module -> host: Leaving the BROM\\r\\n\n"), "%s", out);
    ck_assert_msg(strstr(out, "** bcsim stopped"), "%s", out);
}
END_TEST

START_TEST(bad_nvram_is_reported)
{
    struct bcsim_proc p = {0};
    bcsim_prepare(&p);
    char path[PATH_MAX + 16];
    mkdir(p.state, 0700);
    snprintf(path, sizeof path, "%s/nvram", p.state);
    FILE *f = fopen(path, "w");
    fputs("imei=867725030000000\nthis line has no equals sign\n", f);
    fclose(f);
    ck_assert_int_eq(RUN("--state", p.state, "--speed", "fast"), 3);
    ck_assert_msg(strstr(out, "nvram: malformed line 2 (use --factory-reset"), "%s", out);
    bcsim_start(&p, "bc66", (const char *[]){"--factory-reset", NULL});
    struct host h;
    host_open(&h, p.pty);
    host_wait_ready(&h);
    bcsim_answers_then_stop(&p, &h, "AT\r\r\nOK\r\n");
}
END_TEST

static int ctl(struct bcsim_proc *p, const char *const *args)
{
    return bcsim_ctl(p, out, sizeof out, args);
}

START_TEST(ctl_commands)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[1024];
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);

    ck_assert_int_eq(ctl(&p, (const char *[]){"status", NULL}), 0);
    ck_assert_msg(strstr(out, "\"ok\":true,\"model\":\"bc66\""), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\"revision\":\"BC66NBR01A07\""));
    ck_assert_ptr_nonnull(strstr(out, "\"power\":\"on\""));
    ck_assert_ptr_nonnull(strstr(out, "\"network\":\"registered\""));
    ck_assert_ptr_nonnull(strstr(out, "\"fota\":\"idle\""));
    ck_assert_ptr_nonnull(strstr(out, "\"host_attached\":true"));

    ck_assert_int_eq(ctl(&p, (const char *[]){"urc", "+QIND: \"FOTA\",\"START\"", NULL}), 0);
    host_expect(&h, "\r\n+QIND: \"FOTA\",\"START\"\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
    ck_assert_str_eq(buf, "\r\n+QIND: \"FOTA\",\"START\"\r\n");

    ck_assert_int_eq(
        ctl(&p, (const char *[]){"override", "AT+CSQ", "+CSQ: 5,99\nOK", "once", NULL}), 0);
    host_cmd(&h, "at+csq", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\n+CSQ: 5,99\r\n\r\nOK\r\n");
    host_cmd(&h, "AT+CSQ", buf, sizeof buf); /* once: the real answer again */
    ck_assert_str_eq(buf, "\r\n+CSQ: 21,0\r\n\r\nOK\r\n");
    ck_assert_int_eq(ctl(&p, (const char *[]){"override", "AT+CGMR*", "ERROR", NULL}), 0);
    host_cmd(&h, "AT+CGMR", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nERROR\r\n");
    host_cmd(&h, "AT+CGMR=?", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nERROR\r\n");
    ck_assert_int_eq(ctl(&p, (const char *[]){"override", "AT+CGMI", "", NULL}), 0);
    host_send(&h, "AT+CGMI\r");
    ck_assert_uint_eq(host_drain(&h, buf, sizeof buf, 200), 0); /* a module that hangs */
    ck_assert_int_eq(ctl(&p, (const char *[]){"override", "clear", NULL}), 0);
    host_cmd(&h, "AT+CGMR", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nRevision: BC66NBR01A07\r\n\r\nOK\r\n");

    ck_assert_int_eq(ctl(&p, (const char *[]){"power", "sideways", NULL}), 1);
    ck_assert_ptr_nonnull(strstr(out, "usage: power on|off|cycle|cut"));
    ck_assert_int_eq(ctl(&p, (const char *[]){"net", NULL}), 1);
    ck_assert_int_eq(ctl(&p, (const char *[]){"override", "AT", NULL}), 1);
    ck_assert_int_eq(ctl(&p, (const char *[]){"frobnicate", NULL}), 1);
    ck_assert_msg(strstr(out, "{\"ok\":false,\"error\":\"unknown command 'frobnicate'"), "%s", out);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* Raw protocol abuse on the socket: answered with an error, emulator unharmed. */
START_TEST(ctl_garbage)
{
    struct bcsim_proc p = {0};
    bcsim_start(&p, "bc66", NULL);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(p.control), sizeof sa.sun_path);
    memcpy(sa.sun_path, p.control, strlen(p.control) + 1);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char junk[] = "\x01\x02 \"unterminated\n\xff\xfe\n";
    ck_assert_int_eq(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    char big[20000];
    memset(big, 'x', sizeof big); /* no newline: longer than any command */
    ssize_t w = write(fd, big, sizeof big);
    ck_assert_int_gt(w, 0);
    char reply[4096] = "";
    size_t got = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, 2000) > 0) {
        ssize_t n = read(fd, reply + got, sizeof reply - got - 1);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    reply[got] = '\0';
    close(fd);
    ck_assert_msg(strstr(reply, "cannot parse the command line"), "%s", reply);
    ck_assert_msg(strstr(reply, "unknown command '\\u00ff\\u00fe'"), "%s", reply);
    ck_assert_msg(strstr(reply, "command line longer than"), "%s", reply);
    ck_assert_int_eq(ctl(&p, (const char *[]){"status", NULL}), 0);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

START_TEST(ctl_event_stream)
{
    struct bcsim_proc p = {0};
    bcsim_start(&p, "bc66", NULL);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        execl(BCSIM_BIN, BCSIM_BIN, "ctl", p.control, "events", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    /* Subscribed once the reply is in: no event before it is lost. */
    char ev[16384];
    size_t got = host_read_fd(pipefd[0], ev, sizeof ev, HOST_TIMEOUT_MS, "\n");
    ck_assert_msg(strncmp(ev, "{\"ok\":true}\n", 12) == 0, "%s", ev);
    struct host h;
    char buf[1024];
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "AT+CSQ", buf, sizeof buf);
    ck_assert_int_eq(ctl(&p, (const char *[]){"net", "detach", NULL}), 0);
    ck_assert_int_eq(ctl(&p, (const char *[]){"power", "cut", NULL}), 0);
    /* The power cut is the last event asked for. */
    host_read_fd(pipefd[0], ev + got, sizeof ev - got, HOST_TIMEOUT_MS,
                 "\"type\":\"power\",\"state\":\"off\"}\n");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(pipefd[0]);
    ck_assert_msg(strncmp(ev, "{\"ok\":true}\n", 12) == 0, "%s", ev);
    ck_assert_msg(strstr(ev, "\"type\":\"host\",\"state\":\"attached\"}"), "%s", ev);
    ck_assert_msg(strstr(ev, "\"type\":\"command\",\"line\":\"AT+CSQ\"}"), "%s", ev);
    ck_assert_msg(strstr(ev, "\"type\":\"cell\",\"state\":\"detach\"}"), "%s", ev);
    ck_assert_msg(strstr(ev, "\"type\":\"network\",\"state\":\"searching\"}"), "%s", ev);
    ck_assert_msg(strstr(ev, "\"type\":\"power\",\"state\":\"off\"}"), "%s", ev);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, state_dir_is_locked);
    tcase_add_test(tc, link_log_and_clean_exit);
    tcase_add_test(tc, bad_nvram_is_reported);
    tcase_add_test(tc, ctl_commands);
    tcase_add_test(tc, ctl_garbage);
    tcase_add_test(tc, ctl_event_stream);
    suite_add_tcase(s, tc);
    return s;
}
