/* Test-side helpers: start the real bcsim binary, talk to its PTY as a host
 * would, and drive its control socket through the real `bcsim ctl`. */
#ifndef BCSIM_TEST_HOST_H
#define BCSIM_TEST_HOST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HOST_TIMEOUT_MS 5000

struct bcsim_proc {
    pid_t pid;
    char pty[64];
    char dir[200];     /* scratch directory of this run */
    char state[256];   /* dir/state */
    char control[256]; /* dir/ctl.sock */
    int out_fd, err_fd;
    bool reaped; /* it has exited, with `status` */
    int status;
};

struct host {
    int fd;
    char buf[1 << 17];
    size_t len;
};

/* fork+exec with stdout (and stderr, unless err_fd is NULL) on pipes; the
 * child dies with the test. BCSIM_WRAPPER ("valgrind -q ...") runs bcsim
 * under a tool. */
pid_t host_spawn(const char *const *args, int *out_fd, int *err_fd);

/* Reads fd for up to timeout_ms, stopping early once `until` (if given) has
 * arrived; NUL-terminates buf and returns the length. */
size_t host_read_fd(int fd, char *buf, size_t size, int timeout_ms, const char *until);

/* Makes a scratch directory; bcsim_start uses it (state, socket). */
void bcsim_prepare(struct bcsim_proc *p);

/* Starts `bcsim --model M --state DIR/state --control DIR/ctl.sock --speed fast`
 * plus extra arguments (NULL-terminated), and reads the PTY path it prints. */
void bcsim_start(struct bcsim_proc *p, const char *model, const char *const *extra);

/* Runs bcsim with arguments and no defaults; captures stdout+stderr and exit status. */
int bcsim_run_once(const char *const *args, char *out, size_t size, int timeout_ms);

/* SIGTERM, wait, remove the scratch directory. Returns the exit status
 * (128+signal if it died from one). */
int bcsim_stop(struct bcsim_proc *p);
void bcsim_kill9(struct bcsim_proc *p); /* a real power cut of the process */

/* Waits up to timeout_ms for bcsim to exit by itself (or after a signal the
 * test sent): its status as bcsim_stop gives it, which a later bcsim_stop
 * returns again; -1 if it is still running. */
int bcsim_wait_exit(struct bcsim_proc *p, int timeout_ms);

/* Waits up to timeout_ms for a child to exit: its exit status, 128+signal,
 * or -1 if it is still running (it is left running). */
int host_wait_pid(pid_t pid, int timeout_ms);
/* Whether pid has the socket of that inode (from /proc/net/...) open. */
bool host_holds_socket(pid_t pid, unsigned long inode);
int bcsim_halt(struct bcsim_proc *p); /* SIGTERM and wait, keeping the directory */

/* Starts `bcsim serve DIR --port 0` plus extra arguments (NULL-terminated) and
 * returns the port it printed: the kernel picked it, and the child that owns
 * the listener is ours. bcsim_halt(s) stops it. */
int bcsim_serve(struct bcsim_proc *s, const char *dir, const char *const *extra);

/* The same with `--coap-port 0` too: reads both lines, returns the HTTP port
 * and sets *coap_port (UDP; the kernel picked both). */
int bcsim_serve_coap(struct bcsim_proc *s, const char *dir, const char *const *extra,
                     int *coap_port);

/* `bcsim ctl SOCKET status` contains `text` (for example "\"fota\":\"idle\"").*/
bool bcsim_status_has(const struct bcsim_proc *p, const char *text);

/* A number from `bcsim ctl SOCKET status` ("flash_ops"). */
long bcsim_status_long(const struct bcsim_proc *p, const char *key);

/* Waits, a bounded time, until the status contains `text`; false on timeout. */
bool bcsim_status_wait(const struct bcsim_proc *p, const char *text, int timeout_ms);

/* `bcsim ctl SOCKET args...`; returns its exit status, stdout+stderr in out. */
int bcsim_ctl(const struct bcsim_proc *p, char *out, size_t size, const char *const *args);

void host_open(struct host *h, const char *path);
void host_close(struct host *h);
void host_send(struct host *h, const char *text);
void host_send_bytes(struct host *h, const void *data, size_t len);

/* Waits until `text` has arrived; returns everything up to and including it
 * (NUL-terminated, in out) and keeps the rest for the next call. Fails the
 * test on timeout. */
void host_expect(struct host *h, const char *text, char *out, size_t size, int timeout_ms);

/* Sends "cmd\r" and returns the response through its final result code. */
void host_cmd(struct host *h, const char *cmd, char *out, size_t size);

/* Reads whatever arrives within `ms` (0: only what has arrived already). */
size_t host_drain(struct host *h, char *out, size_t size, int ms);

/* Waits until the module reported its address ("+IP: ") after a boot. */
void host_wait_ready(struct host *h);

/* The end of a test: bcsim still answers AT with `answer` ("AT\r\r\nOK\r\n"
 * with echo, "\r\nOK\r\n" without), then the host closes and bcsim stops
 * with exit status 0. */
void bcsim_answers_then_stop(struct bcsim_proc *p, struct host *h, const char *answer);

/* Escapes for assertion messages. */
const char *host_show(const char *s);

#endif
