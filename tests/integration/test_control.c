/* The control socket against the real emulator: batches and half-closes,
 * clients that leave without reading, event lines that are always JSON,
 * strict numbers, the CLI's escapes, and who removes the socket file. */
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include "sim/base/json.h"
#include "sim/base/num.h"
#include "sim/control/words.h"

#include <check.h>
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

static char out[1 << 16];

#define RUN(...)    bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 5000)
#define TOOL(...)   bcsim_run_once((const char *[]){__VA_ARGS__, NULL}, out, sizeof out, 60000)
#define CTL(p, ...) bcsim_ctl(p, out, sizeof out, (const char *[]){__VA_ARGS__, NULL})

/* ---- A small JSON checker (no library: the test must not trust the writer) ---- */

struct jcheck {
    const char *want; /* a top-level key whose string value to keep */
    char *val;
    size_t size, len;
    bool found;
};

static void j_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

/* A string; decoded into out (bytes, \u00XX as one byte) if out is given. */
static bool j_string(const char **p, char *out_buf, size_t size, size_t *len)
{
    const char *s = *p;
    if (*s++ != '"')
        return false;
    size_t n = 0;
    for (;;) {
        unsigned char c = (unsigned char)*s++;
        unsigned v;
        if (c == '"')
            break;
        if (c < 0x20 || c >= 0x80) /* raw control bytes are not JSON; the writer promises ASCII */
            return false;
        if (c == '\\') {
            static const char name[] = "\"\\/bfnrt", byte[] = "\"\\/\b\f\n\r\t";
            char e = *s++;
            const char *k = e ? strchr(name, e) : NULL;
            if (k) {
                v = (unsigned char)byte[k - name];
            } else if (e == 'u') {
                v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = num_hex_digit(*s++);
                    if (h < 0)
                        return false;
                    v = v * 16 + (unsigned)h;
                }
            } else {
                return false;
            }
        } else {
            v = c;
        }
        if (out_buf && n + 1 < size)
            out_buf[n] = (char)v;
        n++;
    }
    if (out_buf)
        out_buf[n + 1 < size ? n : size - 1] = '\0';
    if (len)
        *len = n;
    *p = s;
    return true;
}

static bool j_digits(const char **p)
{
    if (**p < '0' || **p > '9')
        return false;
    while (**p >= '0' && **p <= '9')
        (*p)++;
    return true;
}

static bool j_number(const char **p)
{
    if (**p == '-')
        (*p)++;
    if (**p == '0')
        (*p)++;
    else if (!j_digits(p))
        return false;
    if (**p == '.') {
        (*p)++;
        if (!j_digits(p))
            return false;
    }
    if (**p == 'e' || **p == 'E') {
        (*p)++;
        if (**p == '+' || **p == '-')
            (*p)++;
        if (!j_digits(p))
            return false;
    }
    return true;
}

static bool j_value(const char **p, struct jcheck *c, int depth);

static bool j_members(const char **p, struct jcheck *c, int depth, bool object)
{
    char close = object ? '}' : ']';
    (*p)++;
    j_ws(p);
    if (**p == close) {
        (*p)++;
        return true;
    }
    for (;;) {
        bool keep = false;
        if (object) {
            char key[64];
            size_t klen;
            if (!j_string(p, key, sizeof key, &klen))
                return false;
            keep = depth == 0 && c && c->want && strcmp(key, c->want) == 0;
            j_ws(p);
            if (*(*p)++ != ':')
                return false;
            j_ws(p);
        }
        if (keep && **p == '"') {
            if (!j_string(p, c->val, c->size, &c->len))
                return false;
            c->found = true;
        } else if (!j_value(p, c, depth + 1)) {
            return false;
        }
        j_ws(p);
        char sep = *(*p)++;
        if (sep == close)
            return true;
        if (sep != ',')
            return false;
        j_ws(p);
    }
}

static bool j_value(const char **p, struct jcheck *c, int depth)
{
    if (depth > 32)
        return false;
    switch (**p) {
    case '{':
        return j_members(p, c, depth, true);
    case '[':
        return j_members(p, c, depth, false);
    case '"':
        return j_string(p, NULL, 0, NULL);
    case 't':
        return strncmp(*p, "true", 4) == 0 && (*p += 4);
    case 'f':
        return strncmp(*p, "false", 5) == 0 && (*p += 5);
    case 'n':
        return strncmp(*p, "null", 4) == 0 && (*p += 4);
    default:
        return j_number(p);
    }
}

/* One JSON object and nothing else; c (optional) collects a string field. */
static bool json_object(const char *text, struct jcheck *c)
{
    const char *p = text;
    j_ws(&p);
    if (*p != '{' || !j_value(&p, c, 0))
        return false;
    j_ws(&p);
    return *p == '\0';
}

/* ---- Raw clients ---------------------------------------------------------------- */

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(path), sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect %s: %s", path,
                  strerror(errno));
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* Reads one line (without its newline) within timeout_ms; false on EOF,
 * error or timeout. */
static bool try_read_line(int fd, char *line, size_t size, int timeout_ms)
{
    size_t n = 0;
    long end = scratch_now_ms() + timeout_ms;
    line[0] = '\0';
    for (;;) {
        long left = end - scratch_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char c;
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0 || read(fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        ck_assert_uint_lt(n + 1, size);
        line[n++] = c;
        line[n] = '\0';
    }
    return true;
}

static void read_line(int fd, char *line, size_t size, int timeout_ms)
{
    ck_assert_msg(try_read_line(fd, line, size, timeout_ms), "no line; got '%s'", host_show(line));
}

/* Counts the lines of a stream until EOF, checking that each starts with
 * `prefix`; fails the test if EOF does not come within timeout_ms. */
struct tally {
    size_t lines, bad;
    bool at_start;
    size_t matched; /* bytes of prefix matched on the current line */
};

static void tally_bytes(struct tally *t, const char *prefix, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (t->matched < strlen(prefix))
                t->bad++;
            t->lines++;
            t->matched = 0;
            t->at_start = true;
            continue;
        }
        if (t->at_start && t->matched < strlen(prefix)) {
            if (buf[i] == prefix[t->matched])
                t->matched++;
            else
                t->at_start = false;
        }
    }
}

/* Sends `data` (non-blocking, reading as it goes), half-closes, and counts
 * reply lines until the emulator closes. */
static struct tally batch(const char *path, const char *data, size_t len, const char *prefix)
{
    int fd = connect_unix(path);
    ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    struct tally t = {.at_start = true};
    size_t sent = 0;
    bool shut = false;
    long end = scratch_now_ms() + 30000;
    for (;;) {
        long left = end - scratch_now_ms();
        ck_assert_msg(left > 0, "no EOF after %zu of %zu bytes sent, %zu lines", sent, len,
                      t.lines);
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        if (!shut && (pfd.revents & POLLOUT)) {
            ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
            ck_assert_msg(n > 0 || errno == EAGAIN, "send: %s", strerror(errno));
            sent += n > 0 ? (size_t)n : 0;
            if (sent == len) {
                ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
                shut = true;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[65536];
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EAGAIN)
                continue;
            ck_assert_msg(n >= 0, "read: %s", strerror(errno));
            if (n == 0)
                break;
            tally_bytes(&t, prefix, buf, (size_t)n);
        }
    }
    close(fd);
    ck_assert_msg(shut, "the emulator closed before reading everything (%zu of %zu bytes)", sent,
                  len);
    return t;
}

static char *repeat(const char *line, size_t count, size_t *len)
{
    size_t n = strlen(line);
    char *buf = malloc(n * count + 1);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < count; i++)
        memcpy(buf + i * n, line, n);
    buf[n * count] = '\0';
    *len = n * count;
    return buf;
}

/* Without reaping it, so that bcsim_stop can still report how it ended. */
static bool alive(pid_t pid)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/* ---- Batches and half-closes ----------------------------------------------------- */

#define STATUS_REPLY "{\"ok\":true,\"model\":\"bc66\""

/* A fast client is not a slow events reader: every command of a batch is
 * answered, in order, and the emulator closes only after the last reply. */
START_TEST(batch_then_half_close)
{
    struct bcsim_proc p = {0};
    bcsim_start(&p, "bc66", NULL);
    size_t len;
    char *cmds = repeat("status\n", 2000, &len);
    struct tally t = batch(p.control, cmds, len, STATUS_REPLY);
    free(cmds);
    ck_assert_uint_eq(t.bad, 0);
    ck_assert_uint_eq(t.lines, 2000);

    /* Mixed commands, errors included, and a last line without its newline. */
    static const char mixed[] = "status\nfrobnicate\r\nnet attach\n\npower\nstatus";
    t = batch(p.control, mixed, strlen(mixed), "{\"ok\":");
    ck_assert_uint_eq(t.bad, 0);
    ck_assert_uint_eq(t.lines, 5); /* the empty line gets no reply */
    ck_assert_int_eq(CTL(&p, "status"), 0);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A client that writes much faster than it reads is held back (the emulator
 * stops reading it while its replies pile up) instead of being dropped or
 * having megabytes of replies queued for it; once it reads, it gets them all. */
START_TEST(fast_writer_is_held_back)
{
    struct bcsim_proc p = {0};
    bcsim_start(&p, "bc66", NULL);
    enum { N = 50000 }; /* 350 KB of commands, 23 MB of replies */
    size_t len;
    char *cmds = repeat("status\n", N, &len);
    int fd = connect_unix(p.control);
    ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    size_t sent = 0;
    for (;;) { /* write without reading until the emulator stops taking more */
        ssize_t n = send(fd, cmds + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            if (sent == len)
                break;
            continue;
        }
        ck_assert_msg(errno == EAGAIN, "send: %s", strerror(errno));
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, 1000) == 0)
            break; /* not writable for a second: held back */
    }
    ck_assert_msg(sent < len, "all %zu bytes taken while no reply was read", len);
    close(fd);
    free(cmds);
    /* The same batch, now read as it comes: all of it answered. */
    cmds = repeat("status\n", N, &len);
    struct tally t = batch(p.control, cmds, len, STATUS_REPLY);
    free(cmds);
    ck_assert_uint_eq(t.bad, 0);
    ck_assert_uint_eq(t.lines, N);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    for (char *save, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", dir, prog);
        if (access(full, X_OK) == 0)
            return true;
    }
    return false;
}

/* `socat - UNIX-CONNECT:SOCK` with `count` status lines on its stdin: the
 * number of reply lines on its stdout. */
static size_t through_socat(const struct bcsim_proc *p, size_t count)
{
    char file[300], addr[300];
    snprintf(file, sizeof file, "%s/commands", p->dir);
    snprintf(addr, sizeof addr, "UNIX-CONNECT:%s", p->control);
    size_t len;
    char *cmds = repeat("status\n", count, &len);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(cmds, 1, len, f), len);
    fclose(f);
    free(cmds);
    int pipefd[2];
    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open(file, O_RDONLY);
        int null = open("/dev/null", O_WRONLY);
        dup2(in, STDIN_FILENO);
        dup2(pipefd[1], STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        /* -t: how long socat waits for replies after its stdin ends; the
         * emulator closes when it has answered, so it only bounds a failure. */
        execlp("socat", "socat", "-t", "30", "-", addr, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    struct tally t = {.at_start = true};
    long end = scratch_now_ms() + 40000;
    for (;;) {
        long left = end - scratch_now_ms();
        ck_assert_msg(left > 0, "socat did not finish; %zu lines so far", t.lines);
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        char buf[65536];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n <= 0)
            break;
        tally_bytes(&t, STATUS_REPLY, buf, (size_t)n);
    }
    close(pipefd[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "socat status %d", status);
    ck_assert_uint_eq(t.bad, 0);
    return t.lines;
}

START_TEST(batch_through_socat)
{
    if (!on_path("socat")) {
        fprintf(stderr, "control: SKIPPED batch_through_socat: socat is not installed\n");
        return;
    }
    struct bcsim_proc p = {0};
    bcsim_start(&p, "bc66", NULL);
    ck_assert_uint_eq(through_socat(&p, 500), 500);
    ck_assert_uint_eq(through_socat(&p, 2000), 2000);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* A client that sends a pile of commands and leaves without reading: its
 * replies fail with EPIPE/ECONNRESET; the emulator drops it and goes on. */
START_TEST(client_leaves_without_reading)
{
    struct bcsim_proc p = {0};
    bcsim_start(&p, "bc66", NULL);
    size_t len;
    char *cmds = repeat("status\n", 3000, &len);
    int watcher = connect_unix(p.control); /* another client, served throughout */
    for (int round = 0; round < 3; round++) {
        int fd = connect_unix(p.control);
        send_all(fd, cmds, len);
        close(fd);
        /* Answered after the one who left: the emulator has seen it go. */
        char line[4096];
        bool answered = send(watcher, "status\n", 7, MSG_NOSIGNAL) == 7 &&
                        try_read_line(watcher, line, sizeof line, HOST_TIMEOUT_MS);
        if (!answered || !alive(p.pid))
            ck_abort_msg("bcsim died after client %d left: exit status %d", round, bcsim_stop(&p));
        ck_assert_msg(strncmp(line, STATUS_REPLY, strlen(STATUS_REPLY)) == 0, "%s", line);
    }
    free(cmds);
    close(watcher);
    ck_assert_int_eq(CTL(&p, "status"), 0);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- Event lines are JSON, whatever the payload ----------------------------------- */

/* Bytes that all need escaping in JSON, and in the word syntax some of them. */
static void nasty(char *buf, size_t n, bool for_at)
{
    /* The AT framer drops control bytes other than tab, and DEL backspaces. */
    static const char urc_set[] = "\"\\\x01\x1f\x7f\xff\t\x80\xc3\xa9q";
    static const char at_set[] = "\"\\\t\x80\xff\xc3\xa9\x9b";
    const char *set = for_at ? at_set : urc_set;
    size_t k = strlen(set);
    for (size_t i = 0; i < n; i++)
        buf[i] = set[i % k];
    buf[n] = '\0';
}

/* Reads event lines until `want` lines of type `type` have arrived; each line
 * must be one JSON object. Returns the decoded `key` fields, NUL-separated. */
static void read_events(int fd, const char *type, int want, const char *key, char vals[][4096])
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"type\":\"%s\"", type);
    for (int got = 0; got < want;) {
        char line[16384];
        read_line(fd, line, sizeof line, HOST_TIMEOUT_MS);
        struct jcheck c = {.want = key, .val = vals[got], .size = 4096};
        ck_assert_msg(json_object(line, &c), "not JSON: %s", host_show(line));
        if (strstr(line, needle)) {
            ck_assert_msg(c.found, "no %s in %s", key, host_show(line));
            got++;
        }
    }
}

START_TEST(events_are_json)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[8192], line[4096];
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    int ev = connect_unix(p.control);
    send_all(ev, "events\n", 7);
    read_line(ev, line, sizeof line, HOST_TIMEOUT_MS);
    ck_assert_str_eq(line, "{\"ok\":true}");
    int cmd = connect_unix(p.control);

    /* URCs, up to the longest the module queues (511 bytes), sent with the
     * word syntax's escapes. */
    static const size_t urc_sizes[] = {1, 100, 150, 160, 170, 171, 180, 200, 300, 400, 511};
    enum { NURC = sizeof urc_sizes / sizeof urc_sizes[0] };
    static char sent[NURC][600], vals[NURC][4096];
    for (int i = 0; i < NURC; i++) {
        nasty(sent[i], urc_sizes[i], false);
        char req[8192] = "urc";
        ck_assert_int_eq(words_quote(req, sizeof req - 1, sent[i]), 0);
        strcat(req, "\n");
        send_all(cmd, req, strlen(req));
        read_line(cmd, line, sizeof line, HOST_TIMEOUT_MS);
        ck_assert_str_eq(line, "{\"ok\":true}");
    }
    read_events(ev, "urc", NURC, "text", vals);
    for (int i = 0; i < NURC; i++)
        ck_assert_msg(strcmp(vals[i], sent[i]) == 0, "URC %d: sent '%s', event '%s'", i,
                      host_show(sent[i]), host_show(vals[i]));
    /* The URCs themselves, on the PTY, in order: through the last one. */
    char last[sizeof sent[0] + 2];
    snprintf(last, sizeof last, "%s\r\n", sent[NURC - 1]);
    host_expect(&h, last, buf, sizeof buf, HOST_TIMEOUT_MS);

    /* Command lines up to the 512 bytes an event carries, and longer. */
    static const size_t at_sizes[] = {160, 170, 200, 508, 700};
    enum { NAT = sizeof at_sizes / sizeof at_sizes[0] };
    static char lines[NAT][800];
    for (int i = 0; i < NAT; i++) {
        memcpy(lines[i], "AT+", 3);
        nasty(lines[i] + 3, at_sizes[i], true);
        host_cmd(&h, lines[i], buf, sizeof buf);
    }
    read_events(ev, "command", NAT, "line", vals);
    for (int i = 0; i < NAT; i++) {
        lines[i][512] = '\0'; /* the event keeps the first 512 bytes */
        ck_assert_msg(strcmp(vals[i], lines[i]) == 0, "line %d: sent '%s', event '%s'", i,
                      host_show(lines[i]), host_show(vals[i]));
    }
    close(cmd);
    close(ev);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* The writer itself: every buffer size, always one JSON object, cut values
 * marked, nothing after a field that did not fit. */
START_TEST(json_writer_never_breaks)
{
    char text[300];
    nasty(text, 120, false);
    char full[2048];
    struct jw w;
    jw_begin(&w, full, sizeof full);
    jw_int(&w, "t", 1234567);
    jw_str(&w, "type", "urc");
    jw_str(&w, "text", text);
    jw_bool(&w, "delivered", false);
    jw_end(&w);
    ck_assert(jw_ok(&w));
    size_t need = strlen(full) + 1;
    for (size_t size = 0; size <= need; size++) {
        char buf[2048];
        memset(buf, 'X', sizeof buf);
        jw_begin(&w, buf, size);
        jw_int(&w, "t", 1234567);
        jw_str(&w, "type", "urc");
        jw_str(&w, "text", text);
        jw_bool(&w, "delivered", false);
        const char *s = jw_end(&w);
        ck_assert_msg(buf[size] == 'X', "size %zu: wrote past the buffer", size);
        if (size < 3) {
            ck_assert_str_eq(s, "");
            continue;
        }
        ck_assert_uint_lt(strlen(s), size);
        char val[400];
        struct jcheck c = {.want = "text", .val = val, .size = sizeof val};
        ck_assert_msg(json_object(s, &c), "size %zu: not JSON: %s", size, s);
        ck_assert_msg(jw_ok(&w) == (size == need), "size %zu: ok %d for %s", size, jw_ok(&w), s);
        if (size == need)
            ck_assert_str_eq(s, full);
        if (c.found && strcmp(val, text) != 0) { /* cut: a prefix, marked */
            size_t m = strlen(JW_CUT);
            ck_assert_msg(c.len >= m && strcmp(val + c.len - m, JW_CUT) == 0, "%s", s);
            ck_assert_msg(strncmp(val, text, c.len - m) == 0, "%s", s);
            ck_assert_msg(!strstr(s, "delivered"), "a field after a cut one: %s", s);
        }
    }
}
END_TEST

/* ---- Numbers ------------------------------------------------------------------------ */

START_TEST(bad_numbers_change_nothing)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[8192];
    bcsim_prepare(&p);
    /* A package to download and apply afterwards: the flash must behave as
     * if no fault had been asked for. */
    char www[256], from[300], to[300], pkg[300];
    snprintf(www, sizeof www, "%s/www", p.dir);
    snprintf(from, sizeof from, "%s/a.img", p.dir);
    snprintf(to, sizeof to, "%s/b.img", p.dir);
    snprintf(pkg, sizeof pkg, "%s/up.pkg", www);
    ck_assert_int_eq(mkdir(www, 0755), 0);
    ck_assert_int_eq(
        TOOL("image", "export", "--model", "bc66", "--revision", "BC66NBR01A07", "-o", from), 0);
    ck_assert_int_eq(
        TOOL("image", "export", "--model", "bc66", "--revision", "BC66NBR01A08", "-o", to), 0);
    ck_assert_int_eq(TOOL("pkg", "make", "--from", from, "--to", to, "-o", pkg), 0);
    bcsim_start(&p, "bc66", (const char *[]){"--downlink", "0", NULL});
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    static char before[sizeof out];
    ck_assert_int_eq(CTL(&p, "status"), 0);
    memcpy(before, out, sizeof out);

    static const char *const bad[][2] = {
        {"flash-cut", "99999999999999999999999"},
        {"flash-cut", "18446744073709551615"},
        {"flash-cut", "18446744073709551616"},
        {"flash-cut", " -3"},
        {"flash-cut", "-3"},
        {"flash-cut", "+3"},
        {"flash-cut", "3x"},
        {"flash-cut", "3 "},
        {"flash-cut", ""},
        {"flash-cut", "0"},
        {"flash-cut", "0x10"},
        {"flash-cut", "4294967296"},
        {"flash-tear", "18446744073709551615"},
        {"flash-tear", "-1"},
        {"flash-program", "0"},
        {"flash-program", "-1"},
        {"flash-program", "9223372036854775808"},
        {"flash-erase", " 1"},
        {"flash-erase", "1.5"},
        {"flash-capacity", "4294967297"},
        {"flash-capacity", "0"},
        {"flash-capacity", "-4096"},
        {"flash-capacity", "1e6"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = CTL(&p, "fault", bad[i][0], bad[i][1]);
        ck_assert_msg(rc == 1, "fault %s '%s': exit %d, %s", bad[i][0], bad[i][1], rc, out);
        char want[256];
        snprintf(want, sizeof want, "{\"ok\":false,\"error\":\"fault %s: ", bad[i][0]);
        ck_assert_msg(strstr(out, want) &&
                          strstr(out, "must be a whole number from 1 to 4294967295"),
                      "fault %s '%s': %s", bad[i][0], bad[i][1], out);
    }
    ck_assert_int_eq(CTL(&p, "fault", "flash-cut"), 1); /* the count is not optional */
    ck_assert_ptr_nonnull(strstr(out, "usage: fault"));
    ck_assert_int_eq(CTL(&p, "fault", "flash-cut", "1", "2"), 1);
    ck_assert_int_eq(CTL(&p, "fault", "clear", "1"), 1);
    ck_assert_int_eq(CTL(&p, "status"), 0);
    ck_assert_str_eq(out, before);

    /* The largest of each is taken (and forgotten again). */
    ck_assert_int_eq(CTL(&p, "fault", "flash-cut", "4294967295"), 0);
    ck_assert_int_eq(CTL(&p, "fault", "flash-capacity", "4294967295"), 0);
    ck_assert_int_eq(CTL(&p, "fault", "flash-program", "4294967295"), 0);

    /* Nothing cut the power or shrank the FOTA area: the update goes through. */
    int sfd;
    const char *serve[] = {BCSIM_BIN, "serve", www, "--port", "0", NULL};
    pid_t server = host_spawn(serve, &sfd, NULL);
    char sline[512];
    host_read_fd(sfd, sline, sizeof sline, 10000, "\n");
    int port = 0;
    ck_assert_msg(sscanf(sline, "bcsim serve: http://127.0.0.1:%d/", &port) == 1, "%s", sline);
    char at[128];
    snprintf(at, sizeof at, "AT+QFOTADL=\"http://127.0.0.1:%d/up.pkg\"\r", port);
    host_send(&h, at);
    host_expect(&h, "+QIND: \"FOTA\",\"HTTPEND\",0\r\n", buf, sizeof buf, 30000);
    host_expect(&h, "+QIND: \"FOTA\",\"END\",0\r\n", buf, sizeof buf, 30000);
    host_wait_ready(&h);
    host_cmd(&h, "AT+CGMR", buf, sizeof buf);
    ck_assert_msg(strstr(buf, "Revision: BC66NBR01A08"), "%s", host_show(buf));
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    close(sfd);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* The command line's numbers, by the same rule: nothing starts. */
START_TEST(bad_option_numbers)
{
    char dir[] = "/tmp/bcsim-num-XXXXXX", state[64], sock[64], www[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(sock, sizeof sock, "%s/ctl.sock", dir);
    snprintf(www, sizeof www, "%s", dir);
    static const char *const run_bad[][2] = {
        {"--downlink", " 5"},
        {"--downlink", "+5"},
        {"--downlink", "-1"},
        {"--downlink", "5x"},
        {"--downlink", "100000001"},
        {"--downlink", "18446744073709551616"},
        {"--rtt", " -3"},
        {"--rtt", "99999999999999999999999"},
        {"--rtt", ""},
        {"--rtt", "0x10"},
    };
    for (size_t i = 0; i < sizeof run_bad / sizeof run_bad[0]; i++) {
        int rc = RUN("--state", state, "--control", sock, run_bad[i][0], run_bad[i][1]);
        char want[128];
        snprintf(want, sizeof want, "bcsim: %s '%s': expected a whole number from 0 to 100000000\n",
                 run_bad[i][0], run_bad[i][1]);
        ck_assert_msg(rc == 2 && strcmp(out, want) == 0, "%s '%s': exit %d, %s", run_bad[i][0],
                      run_bad[i][1], rc, out);
    }
    static const char *const speed_bad[] = {" 2",  "2 ",  "+2", "0x10", "1e3",
                                            "inf", "nan", "2.", ".5"};
    for (size_t i = 0; i < sizeof speed_bad / sizeof speed_bad[0]; i++) {
        int rc = RUN("--state", state, "--control", sock, "--speed", speed_bad[i]);
        ck_assert_msg(rc == 2 && strstr(out, "expected realtime, fast or a positive number"),
                      "--speed '%s': exit %d, %s", speed_bad[i], rc, out);
    }
    static const char *const port_bad[] = {" 80", "80 ", "-0", "65536", "4294967376", "0x50"};
    for (size_t i = 0; i < sizeof port_bad / sizeof port_bad[0]; i++) {
        int rc = RUN("serve", www, "--port", port_bad[i]);
        char want[128];
        snprintf(want, sizeof want,
                 "bcsim serve: --port '%s': expected a whole number from 0 to 65535\n",
                 port_bad[i]);
        ck_assert_msg(rc == 2 && strcmp(out, want) == 0, "--port '%s': exit %d, %s", port_bad[i],
                      rc, out);
    }
    struct stat st;
    ck_assert_msg(stat(state, &st) != 0, "a refused command line created the state");
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- The CLI's words are the socket's words ---------------------------------------- */

START_TEST(cli_escapes_match_the_socket)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[1024], line[512];
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);

    /* The example: \n from the command line is a line break. */
    ck_assert_int_eq(CTL(&p, "override", "AT+CSQ", "+CSQ: 6,99\\nOK"), 0);
    host_cmd(&h, "AT+CSQ", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\n+CSQ: 6,99\r\n\r\nOK\r\n");

    /* Every documented escape, once from the CLI and once on the socket. */
    ck_assert_int_eq(CTL(&p, "override", "AT+X1", "q\\\"t\\\\b\\tx\\nOK"), 0);
    int fd = connect_unix(p.control);
    static const char raw[] = "override \"AT+X2\" \"q\\\"t\\\\b\\tx\\nOK\"\n";
    send_all(fd, raw, strlen(raw));
    read_line(fd, line, sizeof line, HOST_TIMEOUT_MS);
    ck_assert_str_eq(line, "{\"ok\":true}");
    close(fd);
    char a[1024];
    host_cmd(&h, "AT+X1", a, sizeof a);
    ck_assert_str_eq(a, "\r\nq\"t\\b\tx\r\n\r\nOK\r\n");
    host_cmd(&h, "AT+X2", buf, sizeof buf);
    ck_assert_str_eq(buf, a);

    /* REPLY is the whole answer: no final result code is added. */
    ck_assert_int_eq(CTL(&p, "override", "AT+X3", "+X3: 1"), 0);
    host_send(&h, "AT+X3\r");
    host_expect(&h, "\r\n+X3: 1\r\n", buf, sizeof buf, HOST_TIMEOUT_MS);
    ck_assert_uint_eq(host_drain(&h, buf, sizeof buf, 200), 0);

    /* An escape the protocol does not have is refused before anything is sent. */
    ck_assert_int_eq(CTL(&p, "override", "AT+X4", "a\\qb"), 2);
    ck_assert_msg(strstr(out, "unknown escape '\\q'"), "%s", out);
    ck_assert_int_eq(CTL(&p, "urc", "trailing\\"), 2);
    host_cmd(&h, "AT+X4", buf, sizeof buf);
    ck_assert_str_eq(buf, "\r\nERROR\r\n");
    ck_assert_int_eq(CTL(&p, "override", "clear"), 0);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- Signal quality ------------------------------------------------------------------ */

static void expect_answer(struct host *h, const char *cmd, const char *want)
{
    char buf[1024], got[2048];
    host_cmd(h, cmd, buf, sizeof buf);
    snprintf(got, sizeof got, "%s", host_show(buf)); /* host_show has one buffer */
    ck_assert_msg(strcmp(buf, want) == 0, "%s: got '%s', want '%s'", cmd, got, host_show(want));
}

#define BC66_CESQ "\r\n+CESQ: 47,6,255,255,0,54\r\n\r\nOK\r\n"
#define BC66_CSQ  "\r\n+CSQ: 21,0\r\n\r\nOK\r\n"

/* `signal` changes what AT+CESQ and AT+CSQ report, inside 27.007's ranges,
 * all fields or none, and the values stay through a power cycle. */
START_TEST(signal_reaches_cesq_and_csq)
{
    struct bcsim_proc p = {0};
    struct host h;
    char buf[1024];
    bcsim_start(&p, "bc66", NULL);
    host_open(&h, p.pty);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    expect_answer(&h, "AT+CESQ", BC66_CESQ);
    expect_answer(&h, "AT+CSQ", BC66_CSQ);

    ck_assert_int_eq(CTL(&p, "signal"), 0);
    ck_assert_str_eq(out, "{\"ok\":true,\"rxlev\":47,\"ber\":6,\"rscp\":255,\"ecno\":255,"
                          "\"rsrq\":0,\"rsrp\":54,\"rssi\":21,\"csq_ber\":0}\n");
    ck_assert_int_eq(CTL(&p, "signal", "rsrp=10", "rsrq=5", "rssi=3", "csq_ber=7"), 0);
    ck_assert_msg(strstr(out, "\"rsrq\":5,\"rsrp\":10,\"rssi\":3,\"csq_ber\":7}"), "%s", out);
    expect_answer(&h, "AT+CESQ", "\r\n+CESQ: 47,6,255,255,5,10\r\n\r\nOK\r\n");
    expect_answer(&h, "AT+CSQ", "\r\n+CSQ: 3,7\r\n\r\nOK\r\n");

    /* The ends of each range, and "not known", are taken. */
    ck_assert_int_eq(CTL(&p, "signal", "rxlev=63", "ber=99", "rscp=96", "ecno=0", "rsrq=34",
                         "rsrp=255", "rssi=31", "csq_ber=99"),
                     0);
    expect_answer(&h, "AT+CESQ", "\r\n+CESQ: 63,99,96,0,34,255\r\n\r\nOK\r\n");
    expect_answer(&h, "AT+CSQ", "\r\n+CSQ: 31,99\r\n\r\nOK\r\n");
    ck_assert_int_eq(CTL(&p, "signal", "rxlev=99", "ber=7", "rscp=255", "ecno=49", "rsrq=255",
                         "rsrp=97", "rssi=99", "csq_ber=0"),
                     0);
    expect_answer(&h, "AT+CESQ", "\r\n+CESQ: 99,7,255,49,255,97\r\n\r\nOK\r\n");
    expect_answer(&h, "AT+CSQ", "\r\n+CSQ: 99,0\r\n\r\nOK\r\n");

    /* Outside them, nothing changes, not even the valid fields of the line. */
    static const char *const bad[][2] = {
        {"rxlev=64", "0 to 63, or 99 (not known), not 64"},
        {"rxlev=98", "signal rxlev: must be from 0 to 63"},
        {"ber=8", "must be from 0 to 7, or 99"},
        {"rscp=97", "0 to 96, or 255"},
        {"ecno=50", "0 to 49, or 255"},
        {"rsrq=35", "0 to 34, or 255"},
        {"rsrp=98", "0 to 97, or 255"},
        {"rsrp=256", "0 to 97, or 255"},
        {"rssi=32", "0 to 31, or 99"},
        {"csq_ber=100", "0 to 7, or 99"},
        {"rsrp=-1", "not '-1'"},
        {"rsrp=+5", "not '+5'"},
        {"rsrp=", "not ''"},
        {"rsrp=1x", "not '1x'"},
        {"rsrp=99999999999999999999", "not '9999"},
        {"rsrp", "usage: signal"},
        {"bogus=1", "no field 'bogus'"},
        {"reset=1", "no field 'reset'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = CTL(&p, "signal", "rsrq=7", bad[i][0]);
        ck_assert_msg(rc == 1 && strstr(out, "{\"ok\":false,\"error\":") && strstr(out, bad[i][1]),
                      "signal %s: exit %d, %s", bad[i][0], rc, out);
    }
    expect_answer(&h, "AT+CESQ", "\r\n+CESQ: 99,7,255,49,255,97\r\n\r\nOK\r\n");

    /* The radio's surroundings outlive the module's power. */
    ck_assert_int_eq(CTL(&p, "signal", "rsrp=33"), 0);
    ck_assert_int_eq(CTL(&p, "power", "cycle"), 0);
    host_wait_ready(&h);
    host_cmd(&h, "ATE0", buf, sizeof buf);
    expect_answer(&h, "AT+CESQ", "\r\n+CESQ: 99,7,255,49,255,33\r\n\r\nOK\r\n");

    /* Unregistered, the module reports nothing measured, whatever was set. */
    ck_assert_int_eq(CTL(&p, "net", "detach"), 0);
    ck_assert(bcsim_status_wait(&p, "\"network\":\"searching\"", HOST_TIMEOUT_MS));
    expect_answer(&h, "AT+CESQ", "\r\n+CESQ: 99,99,255,255,255,255\r\n\r\nOK\r\n");
    ck_assert_int_eq(CTL(&p, "net", "attach"), 0);
    host_wait_ready(&h);

    ck_assert_int_eq(CTL(&p, "signal", "reset"), 0);
    expect_answer(&h, "AT+CESQ", BC66_CESQ);
    expect_answer(&h, "AT+CSQ", BC66_CSQ);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
}
END_TEST

/* ---- The socket file belongs to the emulator that bound it --------------------------- */

static void start_at(struct bcsim_proc *p, const char *control)
{
    bcsim_prepare(p);
    snprintf(p->control, sizeof p->control, "%s", control);
    bcsim_start(p, "bc66", NULL);
}

static void answered_by(const struct bcsim_proc *p, const char *control)
{
    char o[4096], want[128];
    struct bcsim_proc q = *p;
    snprintf(q.control, sizeof q.control, "%s", control);
    ck_assert_int_eq(bcsim_ctl(&q, o, sizeof o, (const char *[]){"status", NULL}), 0);
    snprintf(want, sizeof want, "\"pty\":\"%s\"", p->pty);
    ck_assert_msg(strstr(o, want), "%s answered by another emulator than %s: %s", control, p->pty,
                  o);
}

START_TEST(socket_file_ownership)
{
    struct bcsim_proc a = {0}, b = {0}, c = {0}, d = {0};
    bcsim_start(&a, "bc66", NULL);
    char sock[256];
    snprintf(sock, sizeof sock, "%s", a.control);

    /* A live socket is not taken over. */
    bcsim_prepare(&b);
    int rc = RUN("--model", "bc66", "--state", b.state, "--speed", "fast", "--control", sock);
    ck_assert_msg(rc == 3 && strstr(out, "is in use by another process"), "%d %s", rc, out);
    answered_by(&a, sock);
    bcsim_stop(&b);

    /* A stale one, from an emulator that died, is. */
    bcsim_kill9(&a);
    struct stat st;
    ck_assert_int_eq(lstat(sock, &st), 0);
    start_at(&c, sock);
    answered_by(&c, sock);

    /* The path is taken over while c lives (its file renamed away, another
     * emulator bound there): c's exit must not remove d's socket. */
    char moved[300];
    snprintf(moved, sizeof moved, "%s.moved", sock);
    ck_assert_int_eq(rename(sock, moved), 0);
    start_at(&d, sock);
    ck_assert_int_eq(bcsim_halt(&c), 0);
    ck_assert_msg(lstat(sock, &st) == 0, "the first emulator's exit removed the second's socket");
    answered_by(&d, sock);

    /* Its own file it does remove. */
    ck_assert_int_eq(bcsim_halt(&d), 0);
    ck_assert_msg(lstat(sock, &st) != 0, "the socket file was left behind");
    bcsim_stop(&c);
    bcsim_stop(&d);
    bcsim_stop(&a); /* the directory the socket lived in */
}
END_TEST

Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("control");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batch_then_half_close);
    tcase_add_test(tc, fast_writer_is_held_back);
    tcase_add_test(tc, batch_through_socat);
    tcase_add_test(tc, client_leaves_without_reading);
    tcase_add_test(tc, events_are_json);
    tcase_add_test(tc, json_writer_never_breaks);
    tcase_add_test(tc, bad_numbers_change_nothing);
    tcase_add_test(tc, bad_option_numbers);
    tcase_add_test(tc, cli_escapes_match_the_socket);
    tcase_add_test(tc, signal_reaches_cesq_and_csq);
    tcase_add_test(tc, socket_file_ownership);
    suite_add_tcase(s, tc);
    return s;
}
