/* One scenario to its verdict. See scn_run.h. */
#include "tools/scenario/scn_run.h"

#include "sim/base/events.h"
#include "sim/base/statedir.h"
#include "sim/base/tlog.h"
#include "sim/commands/commands.h"
#include "sim/control/api.h"
#include "sim/module.h"
#include "sim/scenario/scn_rules.h"
#include "tools/scenario/scn_dir.h"
#include "tools/scenario/scn_env.h"
#include "tools/scenario/scn_host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAPTURES_MAX     64
#define TRANSCRIPT_LINES 600 /* kept for a failure's report: the last ones */

struct run {
    uv_loop_t loop;
    struct clk clk;
    struct evt_bus events;
    struct statedir state;
    bool state_open;
    struct module module;
    bool module_open;
    struct scn_env env;
    bool env_started;
    struct scn_host host;
    bool host_started;
    struct scn_rules *rules;
    const struct scenario *s;
    struct scn_result *r;
    uint32_t seed;
    struct {
        char name[SCN_NAME_MAX];
        char value[SCN_TEXT_MAX];
    } captures[CAPTURES_MAX];
    int ncaptures;
    char lines[TRANSCRIPT_LINES][320];
    int nlines, first_line;
    uint64_t t0;
    uv_timer_t guard;
    bool finished;
    uint32_t timeout_s;
    char dir[SCN_DIR_MAX];
};

const char *scn_verdict_name(enum scn_verdict v)
{
    return v == SCN_PASS ? "PASS" : v == SCN_FAIL ? "FAIL" : "ERROR";
}

/* ---- The transcript ------------------------------------------------------------- */

static void note(struct run *x, char dir, const char *text)
{
    int slot = (x->first_line + x->nlines) % TRANSCRIPT_LINES;
    if (x->nlines == TRANSCRIPT_LINES)
        x->first_line = (x->first_line + 1) % TRANSCRIPT_LINES;
    else
        x->nlines++;
    char shown[256];
    tlog_escape(shown, sizeof shown, text, strlen(text));
    snprintf(x->lines[slot], sizeof x->lines[slot], "%7.3f %c %s",
             (double)(uv_now(&x->loop) - x->t0) / 1000.0, dir, shown);
}

static void write_transcript(struct run *x)
{
    size_t n = 0;
    for (int i = 0; i < x->nlines && n + 1 < sizeof x->r->transcript; i++) {
        int k = snprintf(x->r->transcript + n, sizeof x->r->transcript - n, "%s\n",
                         x->lines[(x->first_line + i) % TRANSCRIPT_LINES]);
        if (k < 0)
            break;
        n += (size_t)k;
    }
}

static void on_event(void *ctx, const char *json)
{
    static const char *const shown[] = {
        "\"type\":\"power\"", "\"type\":\"fota\"",     "\"type\":\"fault\"", "\"type\":\"cell\"",
        "\"type\":\"dns\"",   "\"type\":\"firmware\"", "\"type\":\"upload\""};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
        if (strstr(json, shown[i])) {
            const char *body = strstr(json, "\"type\""); /* t and module are known */
            char text[512];
            snprintf(text, sizeof text, "%s", body ? body : json);
            size_t n = strlen(text);
            if (n && text[n - 1] == '}')
                text[n - 1] = '\0';
            note(ctx, '*', text);
            return;
        }
}

/* ---- ${} values ------------------------------------------------------------------- */

/* ${NAME}: a captured value, the module's status, the seed; the rest is the env's. */
static int value_of(void *ctx, const char *name, char *out, size_t size)
{
    struct run *x = ctx;
    for (int i = 0; i < x->ncaptures; i++)
        if (strcmp(x->captures[i].name, name) == 0) {
            snprintf(out, size, "%s", x->captures[i].value);
            return 0;
        }
    if (strncmp(name, "status.", 7) == 0) {
        struct simctl_status st;
        simctl_status(&x->module, &st);
        return simctl_status_field(&st, name + 7, out, size);
    }
    if (strcmp(name, "seed") == 0) {
        snprintf(out, size, "%u", x->seed);
        return 0;
    }
    return -1;
}

static int expand(void *ctx, const char *in, char *out, size_t size, char *why, size_t why_size)
{
    struct run *x = ctx;
    return scn_env_expand(&x->env, in, out, size, value_of, x, why, why_size);
}

static void capture(void *ctx, const char *name, const char *value)
{
    struct run *x = ctx;
    int i = 0;
    while (i < x->ncaptures && strcmp(x->captures[i].name, name) != 0)
        i++;
    if (i == CAPTURES_MAX)
        return; /* the parser bounds the names a file can capture */
    if (i == x->ncaptures)
        x->ncaptures++;
    snprintf(x->captures[i].name, sizeof x->captures[i].name, "%s", name);
    snprintf(x->captures[i].value, sizeof x->captures[i].value, "%s", value);
    char line[SCN_TEXT_MAX + 80];
    snprintf(line, sizeof line, "%s = %s", name, value);
    note(x, '=', line);
}

/* ---- Glue ------------------------------------------------------------------------------ */

static int do_actions(void *ctx, int first, int n, scn_host_done_fn done, void *done_ctx)
{
    struct run *x = ctx;
    return scn_rules_do(x->rules, first, n, done, done_ctx);
}

static int lwm2m(void *ctx, const char *line, char *why, size_t why_size)
{
    struct run *x = ctx;
    return scn_env_lwm2m(&x->env, line, why, why_size);
}

static void lwm2m_line(void *ctx, const char *line)
{
    struct run *x = ctx;
    note(x, 'L', line);
    if (x->host_started)
        scn_host_lwm2m_line(&x->host, line);
}

static const char *package_path(void *ctx, const char *name)
{
    struct run *x = ctx;
    for (int i = 0; i < x->s->npackages; i++)
        if (strcmp(x->s->packages[i].name, name) == 0)
            return x->env.pkg_path[i];
    return NULL;
}

static void host_log(void *ctx, char dir, const char *text)
{
    note(ctx, dir, text);
}

static void rule_log(void *ctx, const char *line)
{
    note(ctx, '*', line);
}

static int server_action(void *ctx, const struct scn_action *a, char *why, size_t why_size)
{
    struct run *x = ctx;
    return scn_env_server(&x->env, a, why, why_size);
}

static void verdict(struct run *x, enum scn_verdict v, const char *why)
{
    if (x->finished)
        return;
    x->finished = true;
    x->r->verdict = v;
    snprintf(x->r->message, sizeof x->r->message, "%s", why ? why : "");
    uv_stop(&x->loop);
}

static void host_finished(void *ctx, int status, const char *why)
{
    struct run *x = ctx;
    if (x->env.broken[0]) { /* the scenario could not be played as written */
        verdict(x, SCN_ERROR, x->env.broken);
        return;
    }
    const char *rule_error = x->rules ? scn_rules_error(x->rules) : "";
    if (status == 0 && rule_error[0]) {
        char msg[600];
        snprintf(msg, sizeof msg, "a rule's action failed: %s", rule_error);
        verdict(x, SCN_FAIL, msg);
        return;
    }
    verdict(x, status == 0 ? SCN_PASS : SCN_FAIL, why);
}

static void on_guard(uv_timer_t *t)
{
    struct run *x = t->data;
    char msg[128];
    snprintf(msg, sizeof msg, "still running after %u s (--timeout)", x->timeout_s);
    verdict(x, SCN_FAIL, msg);
}

/* ---- Setting up and tearing down ------------------------------------------------------- */

static int setup(struct run *x, const struct scn_run_opts *o, char *why, size_t why_size)
{
    const struct scenario *s = x->s;
    const struct profile *prof = prof_find(s->model);
    if (!prof) {
        snprintf(why, why_size, "unknown model %s", s->model);
        return -1;
    }
    const char *speed = o->speed ? o->speed : s->speed[0] ? s->speed : "fast";
    snprintf(x->r->speed, sizeof x->r->speed, "%s", speed);
    if (clk_parse(&x->clk, speed) != 0) {
        snprintf(why, why_size, "speed %s: expected realtime, fast or a positive number", speed);
        return -1;
    }
    clk_start(&x->clk, &x->loop);
    x->events.clk = &x->clk;
    evt_subscribe(&x->events, on_event, x);
    if (scn_dir_make(x->dir, o->work_dir, "bcsim-scn") != 0) {
        snprintf(why, why_size, "cannot make a directory for the run: %s", strerror(errno));
        return -1;
    }
    char state[SCN_DIR_MAX + 8], nvram[PATH_MAX], flash[PATH_MAX];
    snprintf(state, sizeof state, "%s/state", x->dir);
    if (statedir_open(&x->state, state, false, why, why_size) != 0)
        return -1;
    x->state_open = true;
    statedir_file(&x->state, "nvram", nvram, sizeof nvram);
    statedir_file(&x->state, "flash.bin", flash, sizeof flash);
    x->env_started = true;
    if (scn_env_start(&x->env, &x->loop, s, o->self, o->cache_dir, x->dir, x->seed, lwm2m_line, x,
                      why, why_size) != 0)
        return -1;
    struct mod_config cfg = {
        .prof = prof,
        .clk = &x->clk,
        .events = &x->events,
        .nvram_path = nvram,
        .flash_path = flash,
        .resolver = &x->env.resolver,
        .radio = {.bytes_per_s = s->has_link ? s->downlink : 2000,
                  .rtt_ms = s->has_link ? s->rtt_ms : 1000},
        .lookup = cmd_lookup,
        .has_imei_serial = true, /* the same IMEI (the LwM2M endpoint) for the same seed */
        .imei_serial = x->seed,
    };
    if (mod_open(&x->module, &x->loop, &cfg, why, why_size) != 0)
        return -1;
    x->module_open = true;
    struct scn_rules_ops rops = {
        .expand = expand, .server = server_action, .log = rule_log, .ctx = x};
    if (scn_rules_start(&x->rules, &x->module, s, &rops, why, why_size) != 0)
        return -1;
    struct scn_host_ops hops = {.expand = expand,
                                .capture = capture,
                                .do_actions = do_actions,
                                .lwm2m = lwm2m,
                                .package_path = package_path,
                                .log = host_log,
                                .finished = host_finished,
                                .ctx = x};
    if (scn_host_start(&x->host, &x->loop, s, &x->clk, x->module.uart.pty.path, &hops, why,
                       why_size) != 0)
        return -1;
    x->host_started = true;
    if (!s->boot_off)
        mod_power_on(&x->module);
    return 0;
}

static void on_nothing(uv_handle_t *h)
{
    (void)h;
}

static void host_closed(struct scn_host *h)
{
    (void)h;
}

static void env_closed(struct scn_env *e)
{
    (void)e;
}

static void teardown(struct run *x)
{
    if (x->host_started)
        scn_host_close(&x->host, host_closed);
    if (x->rules)
        scn_rules_stop(x->rules);
    if (x->module_open)
        mod_close(&x->module);
    if (x->env_started)
        scn_env_close(&x->env, env_closed);
    uv_close((uv_handle_t *)&x->guard, on_nothing);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    uv_loop_close(&x->loop);
    if (x->state_open)
        statedir_close(&x->state);
    scn_dir_remove(x->dir); /* ours: made by scn_dir_make */
}

void scn_run(const struct scenario *s, const struct scn_run_opts *o, struct scn_result *r)
{
    memset(r, 0, sizeof *r);
    struct run *x = calloc(1, sizeof *x);
    if (!x) {
        r->verdict = SCN_ERROR;
        snprintf(r->message, sizeof r->message, "out of memory");
        return;
    }
    x->s = s;
    x->r = r;
    x->timeout_s = o->timeout_s;
    x->seed = o->has_seed ? o->seed : s->has_seed ? s->seed : 1;
    r->seed = x->seed;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uv_loop_init(&x->loop);
    x->t0 = uv_now(&x->loop);
    uv_timer_init(&x->loop, &x->guard);
    x->guard.data = x;
    char why[1024];
    if (s->nsteps == 0) {
        verdict(x, SCN_ERROR,
                "no host steps: nothing to check (bcsim run --scenario runs the "
                "module side alone)");
    } else if (setup(x, o, why, sizeof why) != 0) {
        verdict(x, SCN_ERROR, why);
    } else {
        uv_timer_start(&x->guard, on_guard, (uint64_t)o->timeout_s * 1000, 0);
        uv_run(&x->loop, UV_RUN_DEFAULT);
        if (!x->finished)
            verdict(x, SCN_ERROR, "the scenario stopped without a verdict");
    }
    write_transcript(x);
    teardown(x);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    free(x);
}
