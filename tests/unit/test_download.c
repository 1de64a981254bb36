/* The download interface (proto/download.h) on a real loop against the real
 * package server on 127.0.0.1, port 0: results come from the loop and never
 * from inside download_start, abort answers at once, a transfer frees itself,
 * and the link paces the body in real time. */
#include "tests/integration/suites.h"
#include "proto/download.h"
#include "proto/http_server.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILE_SIZE 10000

static char dir[64];
static uint8_t expected[FILE_SIZE];

/* What one download did, as its owner sees it. */
struct seen {
    uv_loop_t *loop; /* stopped at every step, for run_until to look */
    int done_calls;
    enum dl_error err;
    int begins;
    int64_t length;
    size_t received;
    uint8_t body[FILE_SIZE * 2];
};

static int sink_begin(void *ctx, int64_t length)
{
    struct seen *s = ctx;
    s->begins++;
    s->length = length;
    uv_stop(s->loop);
    return 0;
}

static int sink_data(void *ctx, const uint8_t *p, size_t n)
{
    struct seen *s = ctx;
    ck_assert_uint_le(s->received + n, sizeof s->body);
    memcpy(s->body + s->received, p, n);
    s->received += n;
    return 0;
}

static const struct dl_sink sink = {.begin = sink_begin, .data = sink_data};

static void on_done(void *ctx, enum dl_error err, int detail)
{
    (void)detail;
    struct seen *s = ctx;
    s->done_calls++;
    s->err = err;
    uv_stop(s->loop);
}

static void setup(void)
{
    strcpy(dir, "/tmp/bcsim-download-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    uint32_t seed = 7;
    for (size_t i = 0; i < FILE_SIZE; i++) {
        seed = seed * 1103515245u + 12345u;
        expected[i] = (uint8_t)(seed >> 16);
    }
    char p[128];
    snprintf(p, sizeof p, "%s/pkg.bin", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(expected, 1, FILE_SIZE, f), FILE_SIZE);
    ck_assert_int_eq(fclose(f), 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A loop, a package server on it (faults optional) and a download. */
struct rig {
    uv_loop_t loop;
    struct http_srv srv;
    struct download dl;
    char url_text[128];
    struct url url;
    uv_timer_t guard;
    bool timed_out;
};

static void rig_open(struct rig *r, const struct http_srv_fault *faults, size_t nfaults)
{
    ck_assert_int_eq(uv_loop_init(&r->loop), 0);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    struct http_srv_config cfg = {
        .root = dir, .addr = (const struct sockaddr *)&a, .faults = faults, .nfaults = nfaults};
    const char *what = NULL;
    ck_assert_int_eq(http_srv_start(&r->srv, &r->loop, &cfg, &what), 0);
    struct sockaddr_storage ss;
    ck_assert_int_eq(http_srv_address(&r->srv, &ss), 0);
    snprintf(r->url_text, sizeof r->url_text, "http://127.0.0.1:%u/pkg.bin",
             ntohs(((struct sockaddr_in *)&ss)->sin_port));
    ck_assert_int_eq(url_parse(r->url_text, &r->url), URL_OK);
    download_init(&r->dl, &r->loop);
    uv_timer_init(&r->loop, &r->guard);
    r->guard.data = r;
    r->timed_out = false;
}

/* Everything closes, and the loop has nothing left: every transfer freed its handles. */
static void rig_close(struct rig *r)
{
    download_close(&r->dl);
    http_srv_close(&r->srv, NULL);
    uv_close((uv_handle_t *)&r->guard, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT); /* may return at once: a done() stopped it */
    ck_assert_int_eq(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&r->loop), 0);
}

static void on_guard(uv_timer_t *t)
{
    struct rig *r = t->data;
    r->timed_out = true;
    uv_stop(&r->loop);
}

/* Runs the loop until *counter reaches want (10 s at most). The callbacks
 * stop the loop, so it returns to look at the counter. */
static void run_until(struct rig *r, const int *counter, int want)
{
    uv_timer_start(&r->guard, on_guard, 10000, 0);
    while (*counter < want && !r->timed_out)
        uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&r->guard);
    ck_assert_msg(!r->timed_out, "waited 10 s for the download");
}

static struct dl_request request(struct rig *r, const struct url *url, struct seen *s)
{
    s->loop = &r->loop;
    return (struct dl_request){.url = url,
                               .link = {.bytes_per_s = 0, .rtt_ms = 0},
                               .stall_ms = 10000,
                               .sink = &sink,
                               .sink_ctx = s,
                               .done = on_done,
                               .done_ctx = s};
}

START_TEST(whole_file)
{
    struct rig r;
    rig_open(&r, NULL, 0);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct dl_request req = request(&r, &r.url, &s);
    download_start(&r.dl, &req);
    ck_assert(download_running(&r.dl));
    run_until(&r, &s.done_calls, 1);
    ck_assert_int_eq(s.err, DL_OK);
    ck_assert(!download_running(&r.dl));
    ck_assert_int_eq(s.begins, 1);
    ck_assert_int_eq(s.length, FILE_SIZE);
    ck_assert_uint_eq(s.received, FILE_SIZE);
    ck_assert_mem_eq(s.body, expected, FILE_SIZE);
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
}
END_TEST

/* A scheme no transport takes fails like any other download: later. */
START_TEST(scheme_without_backend)
{
    struct rig r;
    rig_open(&r, NULL, 0);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct url u;
    ck_assert_int_eq(url_parse("https://127.0.0.1/pkg.bin", &u), URL_OK);
    struct dl_request req = request(&r, &u, &s);
    download_start(&r.dl, &req);
    ck_assert_int_eq(s.done_calls, 0); /* not from inside the call */
    ck_assert(download_running(&r.dl));
    run_until(&r, &s.done_calls, 1);
    ck_assert_int_eq(s.err, DL_ESCHEME);
    ck_assert(!download_running(&r.dl));
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
}
END_TEST

/* The HTTP transport fails this one inside its start (a literal address
 * resolves at once, and connecting to the broadcast address is refused by
 * the kernel straight away): the front end still reports it from the loop. */
START_TEST(backend_failure_in_start)
{
    struct rig r;
    rig_open(&r, NULL, 0);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct url u;
    ck_assert_int_eq(url_parse("http://255.255.255.255/pkg.bin", &u), URL_OK);
    struct dl_request req = request(&r, &u, &s);
    download_start(&r.dl, &req);
    ck_assert_int_eq(s.done_calls, 0);
    run_until(&r, &s.done_calls, 1);
    ck_assert_int_eq(s.err, DL_ECONNECT);
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1);
}
END_TEST

/* Abort ends a download at once; a new one starts while the old transfer is
 * still closing and does not wait for it. */
START_TEST(abort_then_restart)
{
    struct http_srv_fault stall;
    const char *why;
    ck_assert_int_eq(http_srv_fault_parse("stall=100", &stall, &why), 0);
    struct rig r;
    rig_open(&r, &stall, 1);
    static struct seen s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    struct dl_request req = request(&r, &r.url, &s1);
    download_start(&r.dl, &req);
    run_until(&r, &s1.begins, 1);
    ck_assert_int_eq(s1.done_calls, 0);
    download_abort(&r.dl);
    ck_assert_int_eq(s1.done_calls, 1); /* before download_abort returned */
    ck_assert_int_eq(s1.err, DL_EABORT);
    ck_assert(!download_running(&r.dl));

    req = request(&r, &r.url, &s2);
    download_start(&r.dl, &req); /* the server stalls every body: this one too */
    run_until(&r, &s2.begins, 1);
    ck_assert_uint_eq(s2.received, 100);
    download_abort(&r.dl);
    ck_assert_int_eq(s2.err, DL_EABORT);
    rig_close(&r);
    ck_assert_int_eq(s1.done_calls, 1);
    ck_assert_int_eq(s2.done_calls, 1);
}
END_TEST

/* The owner hears a result before the transfer closes: from inside done()
 * it may start the next download, and both end whole, each transfer freed. */
struct chained {
    struct rig *rig;
    struct seen first, second;
};

static void on_first_done(void *ctx, enum dl_error err, int detail)
{
    struct chained *c = ctx;
    on_done(&c->first, err, detail);
    ck_assert(!download_running(&c->rig->dl));
    struct dl_request req = request(c->rig, &c->rig->url, &c->second);
    download_start(&c->rig->dl, &req);
    ck_assert(download_running(&c->rig->dl));
}

START_TEST(next_download_from_done)
{
    struct rig r;
    rig_open(&r, NULL, 0);
    static struct chained c;
    memset(&c, 0, sizeof c);
    c.rig = &r;
    struct dl_request req = request(&r, &r.url, &c.first);
    req.done = on_first_done;
    req.done_ctx = &c;
    download_start(&r.dl, &req);
    run_until(&r, &c.second.done_calls, 1);
    ck_assert_int_eq(c.first.err, DL_OK);
    ck_assert_int_eq(c.second.err, DL_OK);
    ck_assert_uint_eq(c.second.received, FILE_SIZE);
    ck_assert_mem_eq(c.second.body, expected, FILE_SIZE);
    rig_close(&r); /* nothing left on the loop: both transfers freed */
    ck_assert_int_eq(c.first.done_calls, 1);
    ck_assert_int_eq(c.second.done_calls, 1);
}
END_TEST

/* A result that waits for the loop is what an abort reports: it had ended. */
START_TEST(abort_with_result_waiting)
{
    struct rig r;
    rig_open(&r, NULL, 0);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct url u;
    ck_assert_int_eq(url_parse("coaps://127.0.0.1/pkg.bin", &u), URL_OK);
    struct dl_request req = request(&r, &u, &s);
    download_start(&r.dl, &req);
    download_abort(&r.dl);
    ck_assert_int_eq(s.done_calls, 1);
    ck_assert_int_eq(s.err, DL_ESCHEME);
    ck_assert(!download_running(&r.dl));
    rig_close(&r);
    ck_assert_int_eq(s.done_calls, 1); /* the deferred call did not come again */
}
END_TEST

/* The link is real time: two round trips (handshake, request) and the body
 * at the rate. 10000 bytes at 40000 B/s in 1 KiB reads: 9 pauses of 25 ms. */
START_TEST(paced_by_link)
{
    struct rig r;
    rig_open(&r, NULL, 0);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct dl_request req = request(&r, &r.url, &s);
    req.link = (struct dl_link){.bytes_per_s = 40000, .rtt_ms = 150};
    uv_update_time(&r.loop);
    uint64_t t0 = uv_now(&r.loop);
    download_start(&r.dl, &req);
    run_until(&r, &s.done_calls, 1);
    uv_update_time(&r.loop);
    uint64_t elapsed = uv_now(&r.loop) - t0;
    ck_assert_int_eq(s.err, DL_OK);
    ck_assert_uint_eq(s.received, FILE_SIZE);
    ck_assert_msg(elapsed >= 2 * 150 + 9 * 25, "took %llu ms", (unsigned long long)elapsed);
    rig_close(&r);
}
END_TEST

Suite *download_suite(void)
{
    Suite *s = suite_create("download");
    TCase *tc = tcase_create("download");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, whole_file);
    tcase_add_test(tc, scheme_without_backend);
    tcase_add_test(tc, backend_failure_in_start);
    tcase_add_test(tc, abort_then_restart);
    tcase_add_test(tc, next_download_from_done);
    tcase_add_test(tc, abort_with_result_waiting);
    tcase_add_test(tc, paced_by_link);
    suite_add_tcase(s, tc);
    return s;
}
