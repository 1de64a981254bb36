/* bcsim [run] [options]: one emulated module on a PTY until SIGINT/SIGTERM. */
#include "tools/bcsim/cli.h"
#include "tools/bcsim/cli_args.h"

#include "sim/base/clock.h"
#include "sim/base/events.h"
#include "proto/resolve.h"
#include "sim/base/statedir.h"
#include "sim/base/tlog.h"
#include "sim/control/control.h"
#include "sim/commands/commands.h"
#include "sim/module.h"
#include "sim/scenario/scn_rules.h"
#include "tools/scenario/scn_dir.h"
#include "tools/scenario/scn_env.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cli_run_usage[] =
    "usage: bcsim [run] [--model bc66|bc66-na|bc260y-cn] [--state DIR] [--link PATH]\n"
    "             [--speed realtime|fast|FACTOR] [--control SOCKET] [--log FILE]\n"
    "             [--resolve HOST[:PORT]=ADDR[:PORT]]... [--factory-reset]\n"
    "             [--downlink B/S] [--rtt MS] [--boot-on-open] [--scenario FILE]\n"
    "\n"
    "  --model M          module to emulate (default bc66)\n"
    "  --state DIR        persistent state: NVRAM and flash\n"
    "                     (default $XDG_STATE_HOME/bcsim/MODEL or ~/.local/state/bcsim/MODEL)\n"
    "  --link PATH        keep a symlink to the PTY at PATH (removed on exit); an\n"
    "                     existing PATH is replaced only if it is a stale link to a PTY\n"
    "  --speed S          realtime (default), fast (no artificial delays, same order),\n"
    "                     or a factor: 10 runs ten times faster, 0.5 twice slower\n"
    "  --control SOCKET   UNIX socket for 'bcsim ctl' (mode 0600; default DIR/ctl.sock)\n"
    "  --log FILE         append a timestamped transcript of the UART to FILE\n"
    "  --resolve H:A      host H to address A for downloads; H[:PORT]=A[:PORT] maps ports\n"
    "  --factory-reset    rewrite the state with factory settings before starting\n"
    "  --boot-on-open     stay off until a host opens the PTY, then power on\n"
    "  --downlink B/S     NB-IoT downlink rate downloads get, bytes per second\n"
    "                     (default 2000; 0 unpaced); scaled by --speed\n"
    "  --rtt MS           round-trip time of the radio link (default 1000)\n"
    "  --scenario FILE    load a scenario's module side: its rules, packages and\n"
    "                     servers (its host steps are for 'bcsim scenario run')\n";

struct run_opts {
    const char *model, *state, *link, *speed, *control, *log, *downlink, *rtt, *scenario;
    const char *resolve[RESOLVE_MAX];
    int nresolve;
    int factory_reset;
    bool boot_on_open;
};

static int parse(int argc, char **argv, struct run_opts *o)
{
    static const struct {
        const char *name;
        size_t offset;
    } valued[] = {
        {"--model", offsetof(struct run_opts, model)},
        {"--state", offsetof(struct run_opts, state)},
        {"--link", offsetof(struct run_opts, link)},
        {"--speed", offsetof(struct run_opts, speed)},
        {"--control", offsetof(struct run_opts, control)},
        {"--log", offsetof(struct run_opts, log)},
        {"--downlink", offsetof(struct run_opts, downlink)},
        {"--rtt", offsetof(struct run_opts, rtt)},
        {"--scenario", offsetof(struct run_opts, scenario)},
    };
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--factory-reset") == 0) {
            o->factory_reset = 1;
            continue;
        }
        if (strcmp(argv[i], "--boot-on-open") == 0) {
            o->boot_on_open = true;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cli_run_usage, stdout);
            exit(CLI_OK);
        }
        const char *v = NULL;
        int r = cli_take(argc, argv, &i, "--resolve", &v);
        if (r < 0)
            return -1;
        if (r > 0) {
            if (o->nresolve == RESOLVE_MAX) {
                fprintf(stderr, "bcsim: at most %d --resolve options\n", RESOLVE_MAX);
                return -1;
            }
            o->resolve[o->nresolve++] = v;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof valued / sizeof valued[0]; k++) {
            r = cli_take(argc, argv, &i, valued[k].name, &v);
            if (r < 0)
                return -1;
            if (r > 0) {
                *(const char **)((char *)o + valued[k].offset) = v;
                break;
            }
        }
        if (k == sizeof valued / sizeof valued[0]) {
            fprintf(stderr, "bcsim: unknown option '%s'; try 'bcsim --help'\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

/* --downlink and --rtt: 0 to 10^8 (100 MB/s, a day and more of round trip). */
static int parse_u32(const char *option, const char *s, uint32_t *out)
{
    int64_t v;
    if (cli_number("bcsim", option, s, 0, 100000000, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

struct emulator {
    uv_loop_t loop;
    struct clk clk;
    struct evt_bus events;
    struct tlog log;
    struct resolver resolver;
    struct statedir state;
    struct module module;
    struct ctl_server control;
    uv_signal_t sigint, sigterm, sighup;
    struct scenario *scn; /* --scenario: its module side */
    struct scn_env env;
    bool env_started;
    struct scn_rules *rules;
    char scn_dir[SCN_DIR_MAX]; /* its packages: a directory of ours, removed at exit */
};

static void log_event(void *ctx, const char *line)
{
    /* Commands and URCs already show in the byte transcript. */
    if (strstr(line, "\"type\":\"command\"") || strstr(line, "\"type\":\"urc\""))
        return;
    tlog_note(ctx, line);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    struct emulator *em = s->data;
    mod_power_off(&em->module);
    ctl_server_stop(&em->control);
    scn_rules_stop(em->rules);
    em->rules = NULL;
    mod_close(&em->module);
    if (em->env_started)
        scn_env_close(&em->env, NULL);
    uv_close((uv_handle_t *)&em->sigint, NULL);
    uv_close((uv_handle_t *)&em->sigterm, NULL);
    uv_close((uv_handle_t *)&em->sighup, NULL);
}

static const char *upper(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        buf[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    buf[i] = '\0';
    return buf;
}

/* --scenario: parsed before anything starts; it names the model (a --model
 * that says otherwise is an error) and the speed (--speed wins). */
static int load_scenario(struct emulator *em, struct run_opts *o)
{
    struct scn_error err;
    em->scn = scn_alloc();
    if (!em->scn || scn_load(em->scn, o->scenario, &err) != 0) {
        if (!em->scn)
            fprintf(stderr, "bcsim: out of memory\n");
        else if (err.pos.line)
            fprintf(stderr, "%s:%d:%d: %s\n", o->scenario, err.pos.line, err.pos.col, err.message);
        else
            fprintf(stderr, "bcsim: %s: %s\n", o->scenario, err.message);
        return -1;
    }
    const struct profile *want = o->model ? prof_find(o->model) : NULL;
    if (want && want != prof_find(em->scn->model)) {
        fprintf(stderr, "bcsim: --model %s, but %s is a scenario for the %s\n", o->model,
                o->scenario, em->scn->model);
        return -1;
    }
    o->model = em->scn->model;
    if (!o->speed && em->scn->speed[0])
        o->speed = em->scn->speed;
    return 0;
}

static int scn_expand(void *ctx, const char *in, char *out, size_t size, char *why, size_t why_size)
{
    struct emulator *em = ctx;
    return scn_env_expand(&em->env, in, out, size, NULL, NULL, why, why_size);
}

static int scn_server(void *ctx, const struct scn_action *a, char *why, size_t why_size)
{
    struct emulator *em = ctx;
    return scn_env_server(&em->env, a, why, why_size);
}

static void scn_log(void *ctx, const char *line)
{
    struct emulator *em = ctx;
    tlog_note(&em->log, line);
    if (strncmp(line, "action failed", 13) == 0)
        fprintf(stderr, "bcsim: scenario %s\n", line);
}

/* The scenario's packages and servers, before the module opens: the module's
 * names resolve to its servers (after --resolve's own). */
static int start_scenario_env(struct emulator *em, char *why, size_t why_size)
{
    char self[PATH_MAX];
    if (cli_self_path(self, sizeof self) != 0 ||
        scn_dir_make(em->scn_dir, NULL, "bcsim-run") != 0) {
        snprintf(why, why_size, "cannot make a directory for the scenario: %s", strerror(errno));
        return -1;
    }
    em->env_started = true;
    uint32_t seed = em->scn->has_seed ? em->scn->seed : 1;
    if (scn_env_start(&em->env, &em->loop, em->scn, self, em->scn_dir, em->scn_dir, seed, NULL,
                      NULL, why, why_size) != 0)
        return -1;
    for (int i = 0; i < em->env.resolver.n && em->resolver.n < RESOLVE_MAX; i++)
        em->resolver.map[em->resolver.n++] = em->env.resolver.map[i];
    for (int i = 0; i < em->scn->nservers; i++) {
        char name[SCN_NAME_MAX + 8], url[128];
        snprintf(name, sizeof name, "%s.url", em->scn->servers[i].name);
        if (scn_env_var(&em->env, name, url, sizeof url) == 0)
            printf("bcsim: scenario server %s at %s\n", em->scn->servers[i].name, url);
    }
    if (em->scn->nsteps)
        printf("bcsim: scenario %s: its %d host steps are not played here (bcsim scenario run "
               "plays them)\n",
               em->scn->path, em->scn->nsteps);
    return 0;
}

/* Startup failed after the loop began: close what is open, remove what we made. */
static int give_up(struct emulator *em, bool module_open)
{
    if (module_open)
        mod_close(&em->module);
    if (em->env_started)
        scn_env_close(&em->env, NULL);
    uv_run(&em->loop, UV_RUN_DEFAULT);
    scn_dir_remove(em->scn_dir);
    free(em->scn);
    return CLI_UNAVAILABLE;
}

int cli_run(int argc, char **argv)
{
    struct run_opts o = {0};
    if (parse(argc, argv, &o) != 0)
        return CLI_USAGE;

    static struct emulator em; /* large (flash buffers later): not on the stack */
    memset(&em, 0, sizeof em);
    if (o.scenario && load_scenario(&em, &o) != 0)
        return CLI_USAGE;
    if (!o.model)
        o.model = "bc66";
    if (!o.speed)
        o.speed = "realtime";
    const struct profile *prof = prof_find(o.model);
    if (!prof) {
        fprintf(stderr, "bcsim: unknown model '%s' (bc66, bc66-na, bc260y-cn)\n", o.model);
        return CLI_USAGE;
    }
    if (clk_parse(&em.clk, o.speed) != 0) {
        fprintf(stderr, "bcsim: --speed %s: expected realtime, fast or a positive number\n",
                o.speed);
        return CLI_USAGE;
    }
    struct dl_link radio = {.bytes_per_s = 2000, .rtt_ms = 1000};
    if (em.scn && em.scn->has_link)
        radio = (struct dl_link){.bytes_per_s = em.scn->downlink, .rtt_ms = em.scn->rtt_ms};
    if ((o.downlink && parse_u32("--downlink", o.downlink, &radio.bytes_per_s) != 0) ||
        (o.rtt && parse_u32("--rtt", o.rtt, &radio.rtt_ms) != 0))
        return CLI_USAGE;
    char why[512];
    for (int i = 0; i < o.nresolve; i++) {
        if (resolve_add(&em.resolver, o.resolve[i], why, sizeof why) != 0) {
            fprintf(stderr, "bcsim: %s\n", why);
            return CLI_USAGE;
        }
    }
    char state_path[PATH_MAX];
    if (o.state) {
        snprintf(state_path, sizeof state_path, "%s", o.state);
    } else if (statedir_default(state_path, sizeof state_path, prof->id) != 0) {
        fprintf(stderr, "bcsim: cannot find a home for the state; pass --state DIR\n");
        return CLI_USAGE;
    }
    /* The default's parents are made (XDG); a given DIR's parent must exist. */
    if (statedir_open(&em.state, state_path, !o.state, why, sizeof why) != 0) {
        fprintf(stderr, "bcsim: %s\n", why);
        return CLI_UNAVAILABLE;
    }
    char nvram[PATH_MAX], flash[PATH_MAX], control[PATH_MAX];
    if (statedir_file(&em.state, "nvram", nvram, sizeof nvram) != 0 ||
        statedir_file(&em.state, "flash.bin", flash, sizeof flash) != 0) {
        fprintf(stderr, "bcsim: state directory path too long\n");
        return CLI_USAGE;
    }
    /* Without --control the socket lives in the state directory, which is
     * this emulator's alone (locked): the quick start can use `bcsim ctl`. */
    bool default_control = !o.control;
    if (default_control && statedir_file(&em.state, "ctl.sock", control, sizeof control) == 0)
        o.control = control;
    int err;
    if (o.factory_reset && (err = mod_factory_reset_nvram(prof, nvram)) != 0) {
        fprintf(stderr, "bcsim: factory reset of %s failed: %s\n", nvram, strerror(-err));
        return CLI_UNAVAILABLE;
    }
    if (o.log && (err = tlog_open(&em.log, o.log)) != 0) {
        fprintf(stderr, "bcsim: cannot open log %s: %s\n", o.log, strerror(-err));
        return CLI_UNAVAILABLE;
    }

    uv_loop_init(&em.loop);
    clk_start(&em.clk, &em.loop);
    em.events.clk = &em.clk;
    if (o.log)
        evt_subscribe(&em.events, log_event, &em.log);
    struct mod_config cfg = {
        .prof = prof,
        .clk = &em.clk,
        .events = &em.events,
        .log = o.log ? &em.log : NULL,
        .link = o.link,
        .nvram_path = nvram,
        .flash_path = flash,
        .factory_reset = o.factory_reset,
        .resolver = &em.resolver,
        .radio = radio,
        .boot_on_open = o.boot_on_open,
        .lookup = cmd_lookup,
    };
    /* Making the scenario's packages takes seconds: a SIGINT or SIGTERM
     * meanwhile waits for the loop's handlers, which clean up after it. */
    sigset_t stop_signals, before;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop_signals, &before);
    if ((em.scn && start_scenario_env(&em, why, sizeof why) != 0) ||
        mod_open(&em.module, &em.loop, &cfg, why, sizeof why) != 0) {
        fprintf(stderr, "bcsim: %s\n", why);
        return give_up(&em, false);
    }
    if (o.control && ctl_server_start(&em.control, &em.loop, o.control, &em.module, &em.events, why,
                                      sizeof why) != 0) {
        if (default_control) { /* a convenience: run without it rather than not at all */
            fprintf(stderr, "bcsim: no control socket: %s\n", why);
            o.control = NULL;
        } else {
            fprintf(stderr, "bcsim: %s\n", why);
            return give_up(&em, true);
        }
    }
    struct scn_rules_ops rules_ops = {
        .expand = scn_expand, .server = scn_server, .log = scn_log, .ctx = &em};
    if (em.scn &&
        scn_rules_start(&em.rules, &em.module, em.scn, &rules_ops, why, sizeof why) != 0) {
        fprintf(stderr, "bcsim: %s\n", why);
        return give_up(&em, true);
    }
    uv_signal_t *sigs[] = {&em.sigint, &em.sigterm, &em.sighup};
    int signums[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(&em.loop, sigs[i]);
        sigs[i]->data = &em;
        uv_signal_start(sigs[i], on_signal, signums[i]);
    }
    sigprocmask(SIG_SETMASK, &before, NULL);

    char name[32];
    if (em.scn && em.scn->boot_off && !o.boot_on_open) {
        printf("bcsim: %s on %s (off: the scenario says boot off; bcsim ctl power on)\n",
               upper(prof->id, name, sizeof name), em.module.uart.pty.path);
    } else if (o.boot_on_open) {
        printf("bcsim: %s on %s (off until a host opens it)\n", upper(prof->id, name, sizeof name),
               em.module.uart.pty.path);
    } else {
        mod_power_on(&em.module); /* the boot ROM reads the revision from flash */
        printf("bcsim: %s revision %s on %s\n", upper(prof->id, name, sizeof name),
               em.module.bricked ? "none (the image in flash does not check)" : em.module.revision,
               em.module.uart.pty.path);
    }
    if (o.control)
        printf("bcsim: control socket %s (bcsim ctl %s status)\n", o.control, o.control);
    fflush(stdout);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "bcsim: try 'socat -,rawer,escape=0x1d %s' (Ctrl-] quits), then type ATI\n",
                o.link ? o.link : em.module.uart.pty.path);
    tlog_note(&em.log, "bcsim started");

    uv_run(&em.loop, UV_RUN_DEFAULT);
    tlog_note(&em.log, "bcsim stopped");
    uv_loop_close(&em.loop);
    tlog_close(&em.log);
    statedir_close(&em.state);
    scn_dir_remove(em.scn_dir); /* ours: made by scn_dir_make */
    free(em.scn);
    return CLI_OK;
}
