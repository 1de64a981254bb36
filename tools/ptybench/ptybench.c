/* The AT benchmark's floor and client (tools/bench-at drives both).
 *
 *   ptybench floor TABLE [gather|loop]
 *     Holds a raw PTY pair, prints the slave's path, and answers each line
 *     (bytes up to <CR>) that TABLE lists with its reply in one write();
 *     other lines are read and dropped. TABLE: one "LINE_HEX REPLY_HEX" a
 *     line. The least a program can do to answer like bcsim: a blocking
 *     read, a table look-up, one write. With `gather`, the replies to all
 *     the lines of one read go in one write, as bcsim writes them. With
 *     `loop`, it waits in epoll_wait and reads an inotify watch on the slave
 *     before each read, the system calls bcsim's event loop makes for each
 *     input: what an event-driven emulator cannot go below.
 *   ptybench rt PTY N LINE_HEX REPLY_HEX
 *     N round trips, one line at a time: prints each one's nanoseconds.
 *   ptybench pipe PTY K REPS LINE_HEX REPLY_HEX
 *     REPS times: K copies of the line in one write(), timed until the K-th
 *     reply is in; prints each batch's nanoseconds.
 *   ptybench sink PTY BYTES LINE_HEX REPLY_HEX
 *     Writes BYTES bytes without <CR> (one overlong line), then the line, and
 *     waits for its reply: a bulk transfer through the floor.
 *
 * The client checks every byte it gets against the replies expected and
 * exits 1 on a difference. Libc and POSIX only. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define TABLE_MAX      16

struct blob {
    unsigned char *p;
    size_t len;
};

static void die(const char *what)
{
    fprintf(stderr, "ptybench: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(2);
}

static struct blob unhex(const char *s)
{
    size_t n = strlen(s);
    struct blob b = {malloc(n / 2 + 1), n / 2};
    if (!b.p || n % 2)
        die("bad hex");
    for (size_t i = 0; i < b.len; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            die("bad hex");
        b.p[i] = (unsigned char)v;
    }
    return b;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void make_raw(int fd)
{
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0)
        die("tcgetattr");
    cfmakeraw(&tio);
    if (tcsetattr(fd, TCSANOW, &tio) != 0)
        die("tcsetattr");
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("write");
        p += n;
        len -= (size_t)n;
    }
}

/* ---- The floor ---------------------------------------------------------- */

enum floor_kind { FLOOR_PLAIN, FLOOR_GATHER, FLOOR_LOOP };

static _Noreturn void floor_main(const char *table_path, enum floor_kind kind)
{
    bool gather = kind == FLOOR_GATHER;
    struct blob line[TABLE_MAX], reply[TABLE_MAX];
    int entries = 0;
    FILE *t = fopen(table_path, "r");
    if (!t)
        die(table_path);
    char a[2 * LINE_MAX_BYTES + 2], b[65536];
    while (entries < TABLE_MAX && fscanf(t, "%8193s %65535s", a, b) == 2) {
        line[entries] = unhex(a);
        reply[entries] = unhex(b);
        entries++;
    }
    fclose(t);

    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
        die("posix_openpt");
    make_raw(master);
    char path[64];
    if (ptsname_r(master, path, sizeof path) != 0)
        die("ptsname");
    int slave = open(path, O_RDWR | O_NOCTTY); /* held, as bcsim holds its own */
    if (slave < 0)
        die(path);
    int ep = -1, watch = -1;
    if (kind == FLOOR_LOOP) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = master};
        if (ep < 0 || watch < 0 ||
            inotify_add_watch(watch, path, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) < 0 ||
            fcntl(master, F_SETFL, O_NONBLOCK) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, master, &ev))
            die("epoll");
    }
    printf("%s\n", path);
    fflush(stdout);

    unsigned char buf[4096], cur[LINE_MAX_BYTES];
    size_t len = 0;
    static unsigned char out[1 << 20];
    size_t out_len = 0;
    for (;;) {
        if (kind == FLOOR_LOOP) {
            struct epoll_event ev;
            char events[4096];
            if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
                die("epoll_wait");
            while (read(watch, events, sizeof events) > 0)
                ;
        }
        ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EIO || errno == EAGAIN))
            continue; /* EIO: no host has the slave open (ours keeps it alive) */
        if (n <= 0)
            die("read");
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\r') {
                if (len < sizeof cur)
                    cur[len] = buf[i];
                len++;
                continue;
            }
            for (int e = 0; e < entries; e++) {
                if (line[e].len != len || memcmp(line[e].p, cur, len) != 0)
                    continue;
                if (!gather) {
                    write_all(master, reply[e].p, reply[e].len);
                } else {
                    if (out_len + reply[e].len > sizeof out) {
                        write_all(master, out, out_len);
                        out_len = 0;
                    }
                    memcpy(out + out_len, reply[e].p, reply[e].len);
                    out_len += reply[e].len;
                }
            }
            len = 0;
        }
        if (out_len > 0)
            write_all(master, out, out_len);
        out_len = 0;
    }
}

/* ---- The client --------------------------------------------------------- */

static int open_host(const char *path)
{
    int fd = open(path, O_RDWR | O_NOCTTY);
    if (fd < 0)
        die(path);
    make_raw(fd);
    tcflush(fd, TCIFLUSH);
    return fd;
}

/* Reads exactly `len` bytes and checks them against `want` (`k` copies of it). */
static void expect(int fd, const struct blob *want, size_t k, unsigned char *buf)
{
    size_t total = want->len * k, got = 0;
    while (got < total) {
        ssize_t n = read(fd, buf + got, total - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("read");
        got += (size_t)n;
    }
    for (size_t i = 0; i < k; i++)
        if (memcmp(buf + i * want->len, want->p, want->len) != 0) {
            fprintf(stderr, "ptybench: reply %zu differs: got \"%.*s\"\n", i, (int)want->len,
                    buf + i * want->len);
            exit(1);
        }
}

static int client_main(int argc, char **argv)
{
    const char *mode = argv[1];
    int fd = open_host(argv[2]);
    long a = strtol(argv[3], NULL, 10);
    long reps = strcmp(mode, "pipe") == 0 ? strtol(argv[4], NULL, 10) : 1;
    int at = strcmp(mode, "pipe") == 0 ? 5 : 4;
    if (argc != at + 2 || a <= 0 || reps <= 0)
        die("usage");
    struct blob cmd = unhex(argv[at]), reply = unhex(argv[at + 1]);
    size_t k = strcmp(mode, "pipe") == 0 ? (size_t)a : 1;
    unsigned char *out = malloc((cmd.len + 1) * k), *in = malloc(reply.len * k);
    if (!out || !in)
        die("malloc");
    for (size_t i = 0; i < k; i++) {
        memcpy(out + i * (cmd.len + 1), cmd.p, cmd.len);
        out[i * (cmd.len + 1) + cmd.len] = '\r';
    }
    size_t out_len = (cmd.len + 1) * k;

    if (strcmp(mode, "sink") == 0) {
        char junk[4096];
        memset(junk, 'x', sizeof junk);
        for (long left = a; left > 0; left -= (long)sizeof junk)
            write_all(fd, junk, left < (long)sizeof junk ? (size_t)left : sizeof junk);
        write_all(fd, "\r", 1); /* ends the overlong line: nobody answers it */
        write_all(fd, out, out_len);
        expect(fd, &reply, 1, in);
        return 0;
    }
    long rounds = strcmp(mode, "rt") == 0 ? a : reps;
    for (int warm = 0; warm < 20; warm++) {
        write_all(fd, out, out_len);
        expect(fd, &reply, k, in);
    }
    uint64_t *t = malloc(sizeof *t * (size_t)rounds);
    if (!t)
        die("malloc");
    for (long i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        write_all(fd, out, out_len);
        expect(fd, &reply, k, in);
        t[i] = now_ns() - t0;
    }
    for (long i = 0; i < rounds; i++)
        printf("%llu\n", (unsigned long long)t[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "floor") == 0)
        floor_main(argv[2], FLOOR_PLAIN);
    if (argc == 4 && strcmp(argv[1], "floor") == 0 && strcmp(argv[3], "gather") == 0)
        floor_main(argv[2], FLOOR_GATHER);
    if (argc == 4 && strcmp(argv[1], "floor") == 0 && strcmp(argv[3], "loop") == 0)
        floor_main(argv[2], FLOOR_LOOP);
    if (argc >= 6 && (strcmp(argv[1], "rt") == 0 || strcmp(argv[1], "pipe") == 0 ||
                      strcmp(argv[1], "sink") == 0))
        return client_main(argc, argv);
    fprintf(stderr, "usage: ptybench floor TABLE [gather|loop] | rt PTY N LINE REPLY | "
                    "pipe PTY K REPS LINE REPLY | sink PTY BYTES LINE REPLY (hex)\n");
    return 2;
}
