/* bcsim lwm2m-server as a test's peer (the real binary, port 0). */
#ifndef BCSIM_TESTS_LWM2M_PEER_H
#define BCSIM_TESTS_LWM2M_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WAIT_MS 10000

struct lws {
    pid_t pid;
    int in, out;
    int port;
    char dir[200];
    char buf[1 << 16];
    size_t len;
    bool reaped;
    int status;
    char last[256]; /* the last command, for failures */
};

/* The server of the running test, for the messages of failures. */
extern struct lws *shown_lws;

/* Starts the server (extra arguments, or NULL), reads its port and checks
 * that the socket is the child's. */
void lws_start(struct lws *l, const char *const *extra);
/* The next output line holding `text` (earlier lines skipped), into line. */
void lws_expect(struct lws *l, const char *text, char *line, size_t size, int timeout_ms);
/* The next line must be exactly `want`. */
void lws_line(struct lws *l, const char *want);
void lws_cmd(struct lws *l, const char *cmd);
/* Its exit status, once it exits by itself within timeout_ms. */
int lws_exit(struct lws *l, int timeout_ms);
/* SIGTERM; exit status 0 and nothing from the sanitizers. */
void lws_stop(struct lws *l);

#endif
