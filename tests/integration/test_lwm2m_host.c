/* The LwM2M objects the host manages itself (AT+QLWADDOBJ and the answers to
 * +QLWURC), end to end: the real bcsim (BC66) on its PTY, registered with
 * the real `bcsim lwm2m-server` on a port the kernel picked, whose requests
 * and printed results are checked line by line. */
#include "tests/integration/coap_peer.h"
#include "tests/integration/host.h"
#include "tests/integration/lwm2m_peer.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* ---- The module and its host ----------------------------------------------------------- */

struct rig {
    struct lws s;
    struct bcsim_proc p;
    struct host h;
    char buf[8192];
    char line[1024];
};

static void up(struct rig *r)
{
    lws_start(&r->s, NULL);
    memset(&r->p, 0, sizeof r->p);
    bcsim_start(&r->p, "bc66", NULL);
    host_open(&r->h, r->p.pty);
    host_wait_ready(&r->h);
    host_cmd(&r->h, "ATE0", r->buf, sizeof r->buf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "AT+QLWCONFIG=0,\"127.0.0.1\",%d,\"lwhost\",600,3", r->s.port);
    host_cmd(&r->h, cmd, r->buf, sizeof r->buf);
    ck_assert_str_eq(r->buf, "\r\nOK\r\n");
}

static void down(struct rig *r)
{
    bcsim_answers_then_stop(&r->p, &r->h, "\r\nOK\r\n");
    lws_stop(&r->s);
}

/* The command's whole response must be `want`. */
static void at(struct rig *r, const char *cmd, const char *want)
{
    host_cmd(&r->h, cmd, r->buf, sizeof r->buf);
    ck_assert_msg(strcmp(r->buf, want) == 0, "%s: got '%s'", cmd, host_show(r->buf));
}

/* OK, then the "+NAME: 0" that tells the client has the answer. */
static void answered(struct rig *r, const char *cmd, const char *name)
{
    at(r, cmd, "\r\nOK\r\n");
    char want[32];
    snprintf(want, sizeof want, "+%s: 0\r\n", name);
    host_expect(&r->h, want, r->buf, sizeof r->buf, WAIT_MS);
    ck_assert_msg(strcmp(r->buf, "\r\n") == 0 || strstr(r->buf, want) == r->buf + 2,
                  "before %s: '%s'", want, host_show(r->buf));
}

static void reg(struct rig *r, const char *objects)
{
    at(r, "AT+QLWREG", "\r\nOK\r\n");
    host_expect(&r->h, "+QLWREG: 0\r\n", r->buf, sizeof r->buf, WAIT_MS);
    lws_expect(&r->s, "registered ep=lwhost", r->line, sizeof r->line, WAIT_MS);
    char want[512];
    snprintf(want, sizeof want, " objects=</1/0>,</3/0>,</5/0>,%s", objects);
    const char *at = strstr(r->line, " objects=");
    ck_assert_msg(at && strcmp(at, want) == 0, "registered: %s", r->line);
}

/* The next +QLWURC of that kind: the rest of its line after the kind's
 * comma (msgid first) into rest; returns the msgid. */
static int urc(struct rig *r, const char *kind, char *rest, size_t size)
{
    char head[64];
    snprintf(head, sizeof head, "+QLWURC: \"%s\",", kind);
    host_expect(&r->h, head, r->buf, sizeof r->buf, WAIT_MS);
    host_expect(&r->h, "\r\n", r->buf, sizeof r->buf, WAIT_MS);
    size_t n = strlen(r->buf) - 2;
    snprintf(rest, size, "%.*s", (int)n, r->buf);
    return atoi(rest);
}

/* The server's line for `what` must contain `want`. */
static void server_says(struct rig *r, const char *what, const char *want)
{
    lws_expect(&r->s, what, r->line, sizeof r->line, 2 * WAIT_MS);
    ck_assert_msg(strstr(r->line, want), "server: '%s', wanted '%s'", r->line, want);
}

/* ---- The tests ---------------------------------------------------------------------------- */

START_TEST(test_add_delete)
{
    struct rig r;
    up(&r);
    at(&r, "AT+QLWADDOBJ=19,0,1,\"0\"", "\r\nOK\r\n");
    at(&r, "AT+QLWADDOBJ=19,1,1,\"0\"", "\r\nOK\r\n");
    at(&r, "AT+QLWADDOBJ=3303,0,3,5700,5701,5601", "\r\nOK\r\n");
    at(&r, "AT+QLWADDOBJ=3304,0,2,\"5700;5701\"", "\r\nOK\r\n");
    /* Refused, and none of them changes the list. */
    at(&r, "AT+QLWADDOBJ=19,0,1,\"0\"", "\r\nERROR\r\n");  /* there already */
    at(&r, "AT+QLWADDOBJ=3,0,1,\"0\"", "\r\nERROR\r\n");   /* the module's */
    at(&r, "AT+QLWADDOBJ=5,0,1,\"0\"", "\r\nERROR\r\n");   /* the module's */
    at(&r, "AT+QLWADDOBJ=1,0,1,\"0\"", "\r\nERROR\r\n");   /* the module's */
    at(&r, "AT+QLWADDOBJ=20,0,2,\"0\"", "\r\nERROR\r\n");  /* 2 announced, 1 given */
    at(&r, "AT+QLWADDOBJ=20,0,2,7,7", "\r\nERROR\r\n");    /* repeated */
    at(&r, "AT+QLWADDOBJ=20,0,1,\"0;\"", "\r\nERROR\r\n"); /* empty id */
    at(&r, "AT+QLWADDOBJ=20,0,1,\"x\"", "\r\nERROR\r\n");  /* not a number */
    at(&r, "AT+QLWADDOBJ=20,0,0", "\r\nERROR\r\n");        /* none */
    at(&r, "AT+QLWADDOBJ=65536,0,1,0", "\r\nERROR\r\n");   /* out of range */
    at(&r, "AT+QLWADDOBJ=20,0,1,65536", "\r\nERROR\r\n");  /* out of range */
    at(&r, "AT+QLWDELOBJ=21", "\r\nERROR\r\n");            /* not there */
    at(&r, "AT+QLWDELOBJ=3", "\r\nERROR\r\n");             /* the module's */
    at(&r, "AT+QLWDELOBJ=3304", "\r\nOK\r\n");
    reg(&r, "</19/0>,</19/1>,</3303/0>");
    /* Removed while registered: the next Update carries the list. */
    at(&r, "AT+QLWDELOBJ=3303", "\r\nOK\r\n");
    host_cmd(&r.h, "AT+QLWUPDATE=0,600", r.buf, sizeof r.buf);
    host_expect(&r.h, "+QLWUPDATE: 0,", r.buf, sizeof r.buf, WAIT_MS);
    host_expect(&r.h, "\r\n", r.buf, sizeof r.buf, WAIT_MS);
    server_says(&r, "updated ep=lwhost", "objects=</1/0>,</3/0>,</5/0>,</19/0>,</19/1>");
    lws_cmd(&r.s, "read * /3303/0/5700");
    server_says(&r, "/3303/0/5700", "code=4.04");
    down(&r);
}
END_TEST

START_TEST(test_read)
{
    struct rig r;
    char rest[256], cmd[128];
    up(&r);
    at(&r, "AT+QLWADDOBJ=19,0,2,\"0;1\"", "\r\nOK\r\n");
    reg(&r, "</19/0>");
    lws_cmd(&r.s, "read * /19/0/0");
    int id = urc(&r, "read", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "%d,19,0,0", id);
    ck_assert_str_eq(rest, cmd);
    snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%d,1,19,0,0,1,5,\"abcde\",0", id);
    answered(&r, cmd, "QLWRDRSP");
    server_says(&r, "read ep=lwhost path=/19/0/0", "code=2.05 format=text value=abcde");
    at(&r, cmd, "\r\nERROR\r\n"); /* answered already */
    /* An integer, and an answer of Not Found. */
    lws_cmd(&r.s, "read * /19/0/1");
    id = urc(&r, "read", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%d,1,19,0,1,3,4,-123,0", id);
    answered(&r, cmd, "QLWRDRSP");
    server_says(&r, "read ep=lwhost path=/19/0/1", "code=2.05 format=text value=-123");
    lws_cmd(&r.s, "read * /19/0/1");
    id = urc(&r, "read", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%d,13", id);
    answered(&r, cmd, "QLWRDRSP");
    server_says(&r, "read ep=lwhost path=/19/0/1", "code=4.04");
    /* A resource the host did not add: the client answers alone. */
    lws_cmd(&r.s, "read * /19/0/2");
    server_says(&r, "read ep=lwhost path=/19/0/2", "code=4.04");
    down(&r);
}
END_TEST

START_TEST(test_write_execute)
{
    struct rig r;
    char rest[256], cmd[128];
    up(&r);
    at(&r, "AT+QLWADDOBJ=19,1,2,0,1", "\r\nOK\r\n");
    reg(&r, "</19/1>");
    lws_cmd(&r.s, "write * /19/1/0 \"hello world\"");
    int id = urc(&r, "write", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "%d,19,1,0,1,11,\"hello world\",0", id);
    ck_assert_str_eq(rest, cmd);
    snprintf(cmd, sizeof cmd, "AT+QLWWRRSP=%d,2", id);
    answered(&r, cmd, "QLWWRRSP");
    server_says(&r, "write ep=lwhost path=/19/1/0", "code=2.04");
    /* Refused by the host. */
    lws_cmd(&r.s, "write * /19/1/1 x");
    id = urc(&r, "write", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "AT+QLWWRRSP=%d,14", id);
    answered(&r, cmd, "QLWWRRSP");
    server_says(&r, "path=/19/1/1", "4.05");
    /* Execute, without and with arguments. */
    lws_cmd(&r.s, "exec * /19/1/1");
    id = urc(&r, "execute", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "%d,19,1,1", id);
    ck_assert_str_eq(rest, cmd);
    snprintf(cmd, sizeof cmd, "AT+QLWEXERSP=%d,2", id);
    answered(&r, cmd, "QLWEXERSP");
    server_says(&r, "exec ep=lwhost path=/19/1/1", "code=2.04");
    lws_cmd(&r.s, "exec * /19/1/0 0='on'");
    id = urc(&r, "execute", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "%d,19,1,0,6,\"0='on'\"", id);
    ck_assert_str_eq(rest, cmd);
    snprintf(cmd, sizeof cmd, "AT+QLWEXERSP=%d,11", id);
    answered(&r, cmd, "QLWEXERSP");
    server_says(&r, "path=/19/1/0", "4.00");
    down(&r);
}
END_TEST

START_TEST(test_observe_notify)
{
    struct rig r;
    char rest[256], cmd[128];
    up(&r);
    at(&r, "AT+QLWADDOBJ=3303,0,2,5700,5701", "\r\nOK\r\n");
    reg(&r, "</3303/0>");
    /* Nobody observes it yet: nothing to notify. */
    at(&r, "AT+QLWNOTIFY=3303,0,5700,4,4,21.5,0", "\r\nERROR\r\n");
    lws_cmd(&r.s, "observe * /3303/0/5700");
    int id = urc(&r, "observe", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "%d,0,3303,0,5700", id);
    ck_assert_str_eq(rest, cmd);
    snprintf(cmd, sizeof cmd, "AT+QLWOBSRSP=%d,1,3303,0,5700,4,4,21.5,0", id);
    answered(&r, cmd, "QLWOBSRSP");
    server_says(&r, "observe ep=lwhost path=/3303/0/5700", "code=2.05 seq=");
    ck_assert_msg(strstr(r.line, "value=21.5"), "%s", r.line);
    answered(&r, "AT+QLWNOTIFY=3303,0,5700,4,4,22.5,0", "QLWNOTIFY");
    server_says(&r, "notify ep=lwhost path=/3303/0/5700", "value=22.5");
    answered(&r, "AT+QLWNOTIFY=3303,0,5700,4,2,23,0,1,0", "QLWNOTIFY");
    server_says(&r, "notify ep=lwhost path=/3303/0/5700", "value=23");
    /* Another resource of it is not observed. */
    at(&r, "AT+QLWNOTIFY=3303,0,5701,1,1,\"C\",0", "\r\nERROR\r\n");
    /* The server cancels: the host answers that read too, flag 1. */
    lws_cmd(&r.s, "cancel * /3303/0/5700");
    id = urc(&r, "observe", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "%d,1,3303,0,5700", id);
    ck_assert_str_eq(rest, cmd);
    snprintf(cmd, sizeof cmd, "AT+QLWOBSRSP=%d,1,3303,0,5700,4,2,24,0", id);
    answered(&r, cmd, "QLWOBSRSP");
    server_says(&r, "cancel ep=lwhost path=/3303/0/5700", "code=2.05");
    at(&r, "AT+QLWNOTIFY=3303,0,5700,4,2,25,0", "\r\nERROR\r\n");
    down(&r);
}
END_TEST

START_TEST(test_host_silent)
{
    struct rig r;
    char rest[256], cmd[128];
    up(&r);
    at(&r, "AT+QLWADDOBJ=19,0,1,\"0\"", "\r\nOK\r\n");
    reg(&r, "</19/0>");
    lws_cmd(&r.s, "read * /19/0/0");
    long t0 = scratch_now_ms();
    int id = urc(&r, "read", rest, sizeof rest);
    /* The host never answers: the client does, 5.00, after 10 s. */
    server_says(&r, "read ep=lwhost path=/19/0/0", "code=5.00");
    long took = scratch_now_ms() - t0;
    ck_assert_msg(took >= 9000 && took < 19000, "5.00 after %ld ms", took);
    snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%d,1,19,0,0,1,1,\"a\",0", id);
    at(&r, cmd, "\r\nERROR\r\n"); /* too late */
    down(&r);
}
END_TEST

/* De-registering drops what waits for the host, and the observations. */
START_TEST(test_deregister_drops)
{
    struct rig r;
    char rest[256], cmd[128];
    up(&r);
    at(&r, "AT+QLWADDOBJ=19,0,2,0,1", "\r\nOK\r\n");
    reg(&r, "</19/0>");
    lws_cmd(&r.s, "observe * /19/0/1");
    int id = urc(&r, "observe", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "AT+QLWOBSRSP=%d,1,19,0,1,3,1,1,0", id);
    answered(&r, cmd, "QLWOBSRSP");
    server_says(&r, "observe ep=lwhost path=/19/0/1", "value=1");
    lws_cmd(&r.s, "read * /19/0/0");
    id = urc(&r, "read", rest, sizeof rest);
    at(&r, "AT+QLWDEREG", "\r\nOK\r\n");
    host_expect(&r.h, "+QLWDEREG: 0\r\n", r.buf, sizeof r.buf, WAIT_MS);
    server_says(&r, "deregistered ep=lwhost", "id=rd/1");
    snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%d,1,19,0,0,1,1,\"a\",0", id);
    at(&r, cmd, "\r\nERROR\r\n");
    at(&r, "AT+QLWNOTIFY=19,0,1,3,1,2,0", "\r\nERROR\r\n");
    /* The objects stay for the next registration. */
    reg(&r, "</19/0>");
    at(&r, "AT+QLWNOTIFY=19,0,1,3,1,2,0", "\r\nERROR\r\n");
    down(&r);
}
END_TEST

START_TEST(test_bad_answers)
{
    struct rig r;
    char rest[256], cmd[160];
    up(&r);
    at(&r, "AT+QLWRDRSP=1,1,19,0,0,1,1,\"a\",0", "\r\nERROR\r\n"); /* nothing asked */
    at(&r, "AT+QLWNOTIFY=19,0,0,1,1,\"a\",0", "\r\nERROR\r\n");    /* no such object */
    at(&r, "AT+QLWADDOBJ=19,0,1,\"0\"", "\r\nOK\r\n");
    reg(&r, "</19/0>");
    lws_cmd(&r.s, "read * /19/0/0");
    int id = urc(&r, "read", rest, sizeof rest);
    static const char *const bad[] = {
        "%d,1,19,0,0,1,4,\"abcde\",0", /* len is not the value's */
        "%d,1,19,0,0,6,1,\"a\",0",     /* no such type */
        "%d,1,19,0,0,2,2,\"0G12\",0",  /* not hex */
        "%d,1,19,0,0,2,2,\"012\",0",   /* odd hex */
        "%d,1,19,0,0,3,2,\"1x\",0",    /* not an integer */
        "%d,1,19,0,0,4,3,nan,0",       /* not a number */
        "%d,1,19,0,0,5,1,2,0",         /* not a boolean */
        "%d,1,19,0,0,1,1,\"a\",1",     /* a value in pieces */
        "%d,1,19,0,1,1,1,\"a\",0",     /* another resource */
        "%d,1,19,1,0,1,1,\"a\",0",     /* another instance */
        "%d,2,19,0,0,1,1,\"a\",0",     /* Changed: not for a read */
        "%d,3,19,0,0,1,1,\"a\",0",     /* no such result */
        "%d,1",                        /* a value is needed */
        "%d,1,19,0,0,1,1,\"a\"",       /* no index */
        "%d,1,19,0,0,1,1,\"a\",0,0,0", /* too many */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char args[96];
        snprintf(args, sizeof args, bad[k], id);
        snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%s", args);
        at(&r, cmd, "\r\nERROR\r\n");
    }
    snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%d,1,19,0,0,1,1,\"a\",0", id + 1);
    at(&r, cmd, "\r\nERROR\r\n"); /* another msgid */
    snprintf(cmd, sizeof cmd, "AT+QLWWRRSP=%d,2", id);
    at(&r, cmd, "\r\nERROR\r\n"); /* a read is not a write */
    snprintf(cmd, sizeof cmd, "AT+QLWOBSRSP=%d,1,19,0,0,1,1,\"a\",0", id);
    at(&r, cmd, "\r\nERROR\r\n"); /* nor an observe */
    /* The request is still there: a good answer goes through. */
    snprintf(cmd, sizeof cmd, "AT+QLWRDRSP=%d,1,19,0,0,2,3,\"00FF41\",0", id);
    answered(&r, cmd, "QLWRDRSP");
    server_says(&r, "read ep=lwhost path=/19/0/0", "code=2.05");
    /* Write and execute answers checked the same. */
    lws_cmd(&r.s, "write * /19/0/0 00ff opaque");
    id = urc(&r, "write", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "%d,19,0,0,2,2,\"00FF\",0", id);
    ck_assert_str_eq(rest, cmd); /* the resource is opaque since the host said so */
    snprintf(cmd, sizeof cmd, "AT+QLWWRRSP=%d,1", id);
    at(&r, cmd, "\r\nERROR\r\n"); /* Content: not for a write */
    snprintf(cmd, sizeof cmd, "AT+QLWWRRSP=%d", id);
    at(&r, cmd, "\r\nERROR\r\n");
    snprintf(cmd, sizeof cmd, "AT+QLWWRRSP=%d,2,0", id);
    at(&r, cmd, "\r\nERROR\r\n");
    snprintf(cmd, sizeof cmd, "AT+QLWWRRSP=%d,2", id);
    answered(&r, cmd, "QLWWRRSP");
    server_says(&r, "write ep=lwhost path=/19/0/0", "code=2.04");
    /* Observed as opaque (octet-stream): numbers are refused from now on,
     * in the first answer and in notifications. */
    lws_cmd(&r.s, "observe * /19/0/0");
    id = urc(&r, "observe", rest, sizeof rest);
    snprintf(cmd, sizeof cmd, "AT+QLWOBSRSP=%d,1,19,0,0,3,1,7,0", id);
    at(&r, cmd, "\r\nERROR\r\n");
    snprintf(cmd, sizeof cmd, "AT+QLWOBSRSP=%d,1,19,0,0,2,2,\"CAFE\",0", id);
    answered(&r, cmd, "QLWOBSRSP");
    server_says(&r, "observe ep=lwhost path=/19/0/0", "format=opaque value=cafe");
    at(&r, "AT+QLWNOTIFY=19,0,0,3,1,7,0", "\r\nERROR\r\n");
    at(&r, "AT+QLWNOTIFY=19,0,0,5,1,1,0", "\r\nERROR\r\n");
    answered(&r, "AT+QLWNOTIFY=19,0,0,2,1,\"0B\",0", "QLWNOTIFY");
    server_says(&r, "notify ep=lwhost path=/19/0/0", "value=0b");
    answered(&r, "AT+QLWNOTIFY=19,0,0,1,2,\"hi\",0", "QLWNOTIFY"); /* a string's bytes */
    server_says(&r, "notify ep=lwhost path=/19/0/0", "value=6869");
    down(&r);
}
END_TEST

Suite *lwm2m_host_suite(void)
{
    Suite *s = suite_create("lwm2m_host");
    TCase *tc = tcase_create("host objects");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_add_delete);
    tcase_add_test(tc, test_read);
    tcase_add_test(tc, test_write_execute);
    tcase_add_test(tc, test_observe_notify);
    tcase_add_test(tc, test_host_silent);
    tcase_add_test(tc, test_bad_answers);
    tcase_add_test(tc, test_deregister_drops);
    suite_add_tcase(s, tc);
    return s;
}
