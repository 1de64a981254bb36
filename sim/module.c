#include "sim/module.h"

#include "sim/firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

const char *mod_power_name(enum mod_power p)
{
    switch (p) {
    case MOD_POWER_OFF:
        return "off";
    case MOD_POWER_BOOTING:
        return "booting";
    case MOD_POWER_ON:
        return "on";
    }
    return "?";
}

void mod_event(struct module *m, const char *type, const char *key, const char *value)
{
    evt_emit(m->events, m->imei, type, key, value);
}

/* ---- NVRAM settings ---------------------------------------------------- */

static int luhn_digit(const char *digits14)
{
    int sum = 0;
    for (int i = 0; i < 14; i++) {
        int d = digits14[i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10;
}

/* A fresh IMEI: the model's type allocation code, a serial (random unless
 * given), Luhn digit. */
static void make_imei(const struct profile *prof, char imei[16], const uint32_t *serial)
{
    uint32_t r = 0;
    if (serial)
        r = *serial;
    else if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (uint32_t)getpid() * 2654435761u;
    snprintf(imei, 16, "%.8s%06u", prof->tac_prefix, (unsigned)(r % 1000000u));
    imei[14] = (char)('0' + luhn_digit(imei));
    imei[15] = '\0';
}

static bool valid_imei(const char *s)
{
    if (!s || strlen(s) != 15)
        return false;
    for (int i = 0; i < 15; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[14] - '0' == luhn_digit(s);
}

int mod_factory_reset_nvram(const struct profile *prof, const char *nvram_path)
{
    struct kv old, fresh = {0};
    char imei[16];
    const char *kept = NULL;
    if (kv_load(&old, nvram_path, NULL) == 0)
        kept = kv_get(&old, "imei");
    if (valid_imei(kept))
        snprintf(imei, sizeof imei, "%s", kept);
    else
        make_imei(prof, imei, NULL);
    kv_set(&fresh, "imei", imei);
    return kv_save(&fresh, nvram_path);
}

static void apply_settings(struct module *m)
{
    const struct profile *p = m->prof;
    int ipr = kv_get_int(&m->nvram, "ipr", (int)p->default_baud);
    m->ipr = prof_baud_supported(p, (uint32_t)ipr) ? (uint32_t)ipr : p->default_baud;
    m->at.echo = kv_get_int(&m->nvram, "echo", 1) != 0;
    int cmee = kv_get_int(&m->nvram, "cmee", 0);
    m->at.cmee = cmee >= 0 && cmee <= 2 ? cmee : 0;
    int cereg = kv_get_int(&m->nvram, "cereg", 0);
    net_set_cereg_mode(&m->net, cereg >= 0 && cereg <= 5 ? cereg : 0);
}

void mod_setting_changed(struct module *m, unsigned autosave_bit, const char *key, long value)
{
    if (!(m->prof->autosave & autosave_bit))
        return;
    kv_set_int(&m->nvram, key, value);
    if (kv_save(&m->nvram, m->nvram_path) != 0)
        mod_event(m, "error", "message", "cannot save NVRAM");
}

int mod_save_settings(struct module *m)
{
    kv_set_int(&m->nvram, "echo", m->at.echo);
    kv_set_int(&m->nvram, "cmee", m->at.cmee);
    kv_set_int(&m->nvram, "ipr", (long)m->ipr);
    kv_set_int(&m->nvram, "cereg", m->net.cereg_n);
    return kv_save(&m->nvram, m->nvram_path);
}

/* ---- URCs ---------------------------------------------------------------- */

/* Every URC is published once: written to the UART, or lost (why says how). */
static void urc_event(struct module *m, const char *text, const char *lost_why)
{
    char buf[EVT_LINE_MAX];
    struct jw w;
    evt_begin(m->events, &w, buf, sizeof buf, m->imei, "urc");
    jw_str(&w, "text", text);
    jw_bool(&w, "delivered", lost_why == NULL);
    if (lost_why)
        jw_str(&w, "why", lost_why);
    evt_publish(m->events, &w);
}

void mod_urc_flush(struct module *m)
{
    /* Autobaud: nothing can go out at an unknown rate; the lines wait for the
     * host's "AT" (card 1, notes to 2.2 and 3.2). */
    if (m->power == MOD_POWER_OFF || !at_engine_idle(&m->at) || !m->uart.synced)
        return;
    struct urc *u;
    if (m->urcs.head)
        at_engine_flush(&m->at); /* an echo the engine holds goes first */
    while ((u = urc_pop(&m->urcs))) {
        char wire[URC_TEXT_MAX + 8];
        size_t n = urc_wire(u, wire, sizeof wire);
        urc_event(m, u->text, NULL);
        uart_write(&m->uart, wire, n);
        free(u);
    }
}

/* The module stops: what waits in the queue never goes out. */
static void lose_urcs(struct module *m, const char *why)
{
    struct urc *u;
    while ((u = urc_pop(&m->urcs))) {
        urc_event(m, u->text, why);
        free(u);
    }
}

static void push_urc(struct module *m, enum urc_framing framing, const char *text)
{
    if (m->power == MOD_POWER_OFF)
        return;
    if (urc_push(&m->urcs, framing, text) != 0)
        urc_event(m, text, "queue full");
    mod_urc_flush(m);
}

void mod_urc(struct module *m, const char *fmt, ...)
{
    char text[URC_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    push_urc(m, URC_FRAMED, text);
}

/* ---- Power and boot ------------------------------------------------------ */

static void boot_step(uv_timer_t *t);

static void schedule_boot_step(struct module *m)
{
    clk_after(m->clk, &m->boot_timer, boot_step, m->prof->boot[m->boot_step].delay_ms);
}

static void boot_step(uv_timer_t *t)
{
    struct module *m = t->data;
    enum prof_boot_action action = m->prof->boot[m->boot_step].action;
    switch (action) {
    case PROF_BOOT_BROM:
        for (int i = 0; m->prof->brom_lines[i]; i++)
            push_urc(m, URC_RAW, m->prof->brom_lines[i]);
        break;
    case PROF_BOOT_RDY:
        if (m->updating) { /* the updater runs instead of the firmware */
            fota_run_updater(&m->fota);
            return;
        }
        m->at_ready = true;
        mod_urc(m, "RDY");
        break;
    case PROF_BOOT_CFUN:
        m->cfun = 1;
        mod_urc(m, "+CFUN: 1");
        break;
    case PROF_BOOT_FOTA:
        fota_boot_report(&m->fota);
        break;
    case PROF_BOOT_CPIN:
        mod_urc(m, "+CPIN: READY");
        break;
    case PROF_BOOT_NETWORK:
        net_set_radio(&m->net, m->cfun == 1);
        net_set_attach(&m->net, true);
        break;
    case PROF_BOOT_END:
        m->power = MOD_POWER_ON;
        mod_event(m, "power", "state", "on");
        return;
    }
    if (m->power == MOD_POWER_OFF)
        return; /* the step cut the power (a flash fault) */
    m->boot_step++;
    schedule_boot_step(m);
}

/* The boot ROM: start the image in flash only if it checks. */
static bool boot_rom(struct module *m)
{
    m->bricked = false;
    m->brick_why[0] = '\0';
    enum fota_boot who = fota_boot(&m->fota); /* an update under way comes first */
    if (who == FOTA_BOOT_POWER_CUT) {
        mod_power_cut(m);
        return false;
    }
    m->updating = who == FOTA_BOOT_UPDATER;
    if (m->updating) {
        snprintf(m->revision, sizeof m->revision, "(updating)");
        return true;
    }
    struct img_header h;
    int err = fw_boot_check(&m->flash.flash, m->prof, &h);
    m->bricked = err != 0;
    if (m->bricked) {
        const char *fota = fota_why(&m->fota);
        snprintf(m->brick_why, sizeof m->brick_why, "no valid firmware image (%s)%s%s",
                 err == IMG_EFIELD ? "for another model" : img_strerror(err), *fota ? "; " : "",
                 fota);
        m->revision[0] = '\0';
        char buf[EVT_LINE_MAX];
        struct jw w;
        evt_begin(m->events, &w, buf, sizeof buf, m->imei, "firmware");
        jw_str(&w, "state", "bricked");
        jw_str(&w, "why", m->brick_why);
        evt_publish(m->events, &w);
        return false;
    }
    snprintf(m->revision, sizeof m->revision, "%s", h.revision);
    return true;
}

void mod_power_on(struct module *m)
{
    if (m->power != MOD_POWER_OFF)
        return;
    uv_timer_stop(&m->reboot_timer);
    flash_power_restore(&m->flash.flash);
    apply_settings(m);
    at_engine_reset(&m->at);
    m->uart.baud = m->ipr;
    /* With autobaud the module cannot talk until the host's "AT" shows the rate. */
    m->uart.synced = m->at.synced = m->ipr != 0;
    m->power = MOD_POWER_BOOTING;
    m->at_ready = false;
    m->cfun = 0;
    m->boot_step = 0;
    mod_event(m, "power", "state", "booting");
    if (boot_rom(m))
        schedule_boot_step(m);
}

/* Why the module stops: a reset it makes itself keeps its session (the
 * updater knows START was said) and lets its last output out; an orderly
 * power-off ends the session; a cut also loses what was not on the wire. */
enum stop_reason { STOP_RESET, STOP_POWER_OFF, STOP_POWER_CUT };

static void stop(struct module *m, enum stop_reason why)
{
    fota_power_lost(&m->fota, why != STOP_RESET);
    lw_power_lost(&m->lwm2m);
    uv_timer_stop(&m->boot_timer);
    uv_timer_stop(&m->reboot_timer);
    net_reset(&m->net);
    at_engine_reset(&m->at);
    lose_urcs(m, why == STOP_RESET ? "reset" : "power off");
    if (why == STOP_POWER_CUT)
        uart_drop_pending(&m->uart);
    uart_set_input(&m->uart, true); /* a dead UART still swallows what it is sent */
    m->at_ready = false;
    m->power = MOD_POWER_OFF;
    m->cfun = 0;
}

void mod_power_cut(struct module *m)
{
    stop(m, STOP_POWER_CUT);
    mod_event(m, "power", "state", "off");
}

void mod_power_off(struct module *m)
{
    stop(m, STOP_POWER_OFF);
    mod_event(m, "power", "state", "off");
}

static void on_reboot(uv_timer_t *t)
{
    struct module *m = t->data;
    stop(m, STOP_RESET);
    mod_power_on(m);
}

void mod_reboot(struct module *m, uint32_t delay_ms)
{
    m->at_ready = false;
    mod_event(m, "power", "state", "rebooting");
    clk_after(m->clk, &m->reboot_timer, on_reboot, delay_ms);
}

/* ---- Engine and UART glue ------------------------------------------------ */

static void io_write(void *ctx, const char *data, size_t len)
{
    struct module *m = ctx;
    uart_write(&m->uart, data, len);
}

static void io_line(void *ctx, const char *line, size_t len)
{
    struct module *m = ctx;
    if (!evt_heard(m->events))
        return; /* one per command line: formatting it is most of a short command's cost */
    char buf[EVT_LINE_MAX];
    struct jw w;
    evt_begin(m->events, &w, buf, sizeof buf, m->imei, "command");
    jw_strn(&w, "line", line, len > 512 ? 512 : len);
    evt_publish(m->events, &w);
}

static void io_idle(void *ctx)
{
    struct module *m = ctx;
    mod_urc_flush(m);
    uart_set_input(&m->uart, true);
}

static void io_sync(void *ctx)
{
    struct module *m = ctx;
    m->uart.synced = true;
    mod_event(m, "autobaud", "state", "locked");
}

static const struct at_command *io_lookup(void *ctx, const char *name)
{
    struct module *m = ctx;
    return m->lookup(m->prof, name);
}

static const struct at_io engine_io = {
    .write = io_write,
    .line = io_line,
    .idle = io_idle,
    .sync = io_sync,
    .lookup = io_lookup,
};

static void uart_input(void *ctx, const char *data, size_t len)
{
    struct module *m = ctx;
    if (!m->at_ready)
        return; /* off, booting or resetting: the bytes are lost */
    if (!at_engine_input(&m->at, data, len))
        uart_set_input(&m->uart, false);
}

static void on_open_timer(uv_timer_t *t)
{
    mod_power_on(t->data);
}

/* A host that opens its port and then flushes its input (pyserial does, at
 * once) would lose a banner printed the same instant: the power comes 100 ms
 * after the open, in real time whatever --speed says, as a host's cable would. */
#define BOOT_ON_OPEN_DELAY_MS 100

static void uart_host(void *ctx, bool attached)
{
    struct module *m = ctx;
    mod_event(m, "host", "state", attached ? "attached" : "detached");
    if (attached && m->boot_on_open && m->power == MOD_POWER_OFF)
        uv_timer_start(&m->open_timer, on_open_timer, BOOT_ON_OPEN_DELAY_MS, 0);
}

static void uart_held(void *ctx, bool held)
{
    struct module *m = ctx;
    mod_event(m, "uart", "input", held ? "held" : "resumed");
}

static void uart_dropped(void *ctx, size_t len, const char *why)
{
    struct module *m = ctx;
    char buf[EVT_LINE_MAX];
    struct jw w;
    evt_begin(m->events, &w, buf, sizeof buf, m->imei, "uart");
    jw_int(&w, "dropped", (int64_t)len);
    jw_str(&w, "why", why);
    evt_publish(m->events, &w);
}

static const struct uart_ops module_uart_ops = {
    .input = uart_input,
    .host = uart_host,
    .held = uart_held,
    .dropped = uart_dropped,
};

/* ---- The ports of network and fota: how they reach the module ---------- */

static void port_urc(void *ctx, const char *line)
{
    mod_urc(ctx, "%s", line);
}

static void port_event(void *ctx, const char *type, const char *key, const char *value)
{
    mod_event(ctx, type, key, value);
}

static void net_pdn_lost(void *ctx)
{
    struct module *m = ctx;
    fota_pdn_lost(&m->fota);
    lw_pdn_lost(&m->lwm2m);
}

static void fota_reboot(void *ctx, uint32_t delay_ms)
{
    mod_reboot(ctx, delay_ms);
}

static void fota_power_cut(void *ctx)
{
    mod_power_cut(ctx);
}

static bool fota_pdn_up(void *ctx)
{
    const struct module *m = ctx;
    return m->net.pdn;
}

static void lw_store(void *ctx, const char *key, const char *value)
{
    struct module *m = ctx;
    if (kv_set(&m->nvram, key, value) != 0 || kv_save(&m->nvram, m->nvram_path) != 0)
        mod_event(m, "error", "message", "cannot save NVRAM");
}

static const char *lw_load(void *ctx, const char *key)
{
    const struct module *m = ctx;
    return kv_get(&m->nvram, key);
}

static void lw_fetch_done(void *ctx, int result)
{
    struct module *m = ctx;
    lw_fetched(&m->lwm2m, result);
}

static int lw_fetch(void *ctx, const char *uri)
{
    struct module *m = ctx;
    return fota_fetch(&m->fota, uri, lw_fetch_done, m);
}

static void lw_fetch_cancel(void *ctx)
{
    struct module *m = ctx;
    fota_fetch_cancel(&m->fota);
}

static int lw_apply(void *ctx)
{
    struct module *m = ctx;
    return fota_apply(&m->fota);
}

static void fota_finished(void *ctx, int update_err)
{
    struct module *m = ctx;
    lw_update_finished(&m->lwm2m, update_err);
}

static void lw_device(void *ctx, struct lw_device *out)
{
    const struct module *m = ctx;
    *out = (struct lw_device){
        .manufacturer = m->prof->manufacturer,
        .model = m->prof->model,
        .serial = m->imei,
        .firmware = m->revision,
    };
}

/* The flash file; a new one (or a factory reset) gets the factory firmware. */
static int open_flash(struct module *m, const struct mod_config *cfg, char *why, size_t why_size)
{
    int err = flash_file_open(&m->flash, cfg->flash_path, &m->prof->flash, cfg->factory_reset);
    if (err == -EINVAL) {
        snprintf(why, why_size,
                 "%s is not a %s flash image (wrong size); --factory-reset rewrites it",
                 cfg->flash_path, m->prof->id);
        return err;
    }
    if (err) {
        snprintf(why, why_size, "%s: %s", cfg->flash_path, strerror(-err));
        return err;
    }
    if (!m->flash.created && !cfg->factory_reset)
        return 0;
    const struct prof_revision *r = &m->prof->revisions[m->prof->factory];
    uint8_t *image;
    size_t len;
    if ((err = fw_builtin_image(m->prof, r, &image, &len)) == 0) {
        err = fw_install(&m->flash.flash, image, len);
        free(image);
    }
    if (err) {
        snprintf(why, why_size, "%s: cannot write the factory firmware", cfg->flash_path);
        flash_file_close(&m->flash);
        return -EIO;
    }
    return 0;
}

int mod_open(struct module *m, uv_loop_t *loop, const struct mod_config *cfg, char *why,
             size_t why_size)
{
    memset(m, 0, sizeof *m);
    m->prof = cfg->prof;
    m->clk = cfg->clk;
    if (cfg->resolver)
        m->resolver = *cfg->resolver;
    m->events = cfg->events;
    m->signal = cfg->prof->signal;
    m->loop = loop;
    snprintf(m->nvram_path, sizeof m->nvram_path, "%s", cfg->nvram_path);

    int bad_line = 0;
    int err = kv_load(&m->nvram, m->nvram_path, &bad_line);
    if (err == -EINVAL) {
        snprintf(why, why_size, "%s: malformed line %d (use --factory-reset to rewrite it)",
                 m->nvram_path, bad_line);
        return err;
    }
    if (err) {
        snprintf(why, why_size, "%s: %s", m->nvram_path, strerror(-err));
        return err;
    }
    const char *imei = kv_get(&m->nvram, "imei");
    if (!valid_imei(imei)) {
        make_imei(m->prof, m->imei, cfg->has_imei_serial ? &cfg->imei_serial : NULL);
        kv_set(&m->nvram, "imei", m->imei);
        if ((err = kv_save(&m->nvram, m->nvram_path)) != 0) {
            snprintf(why, why_size, "%s: %s", m->nvram_path, strerror(-err));
            return err;
        }
    } else {
        snprintf(m->imei, sizeof m->imei, "%s", imei);
    }

    if ((err = open_flash(m, cfg, why, why_size)) != 0)
        return err;
    err = uart_open(&m->uart, loop, m->clk, cfg->link, cfg->log, &module_uart_ops, m);
    if (err == -EEXIST && cfg->link) {
        snprintf(why, why_size, "--link %s exists and is not a link to a PTY; not replaced",
                 cfg->link);
    } else if (err == -EBUSY && cfg->link) {
        snprintf(why, why_size, "--link %s points at the PTY of a running emulator", cfg->link);
    } else if (err) {
        snprintf(why, why_size, "cannot open a pseudo-terminal%s%s: %s",
                 cfg->link ? " or its link " : "", cfg->link ? cfg->link : "", strerror(-err));
    }
    if (err) {
        flash_file_close(&m->flash);
        return err;
    }
    struct fota_config fota_cfg = {
        .loop = loop,
        .clk = m->clk,
        .flash = &m->flash.flash,
        .prof = m->prof,
        .resolver = &m->resolver,
        .radio = cfg->radio,
    };
    if ((err = fota_init(&m->fota, &fota_cfg,
                         &(struct fota_port){.urc = port_urc,
                                             .event = port_event,
                                             .reboot = fota_reboot,
                                             .power_cut = fota_power_cut,
                                             .pdn_up = fota_pdn_up,
                                             .finished = fota_finished,
                                             .ctx = m})) != 0) {
        snprintf(why, why_size, "no memory for the updater");
        uart_close(&m->uart);
        flash_file_close(&m->flash);
        return err;
    }
    lw_init(&m->lwm2m, &(struct lw_config){.loop = loop, .resolver = &m->resolver},
            &(struct lw_port){.urc = port_urc,
                              .event = port_event,
                              .pdn_up = fota_pdn_up,
                              .device = lw_device,
                              .store = lw_store,
                              .load = lw_load,
                              .fetch = lw_fetch,
                              .fetch_cancel = lw_fetch_cancel,
                              .apply = lw_apply,
                              .ctx = m});
    at_engine_init(&m->at, &engine_io, m);
    uv_timer_init(loop, &m->boot_timer);
    m->boot_timer.data = m;
    uv_timer_init(loop, &m->reboot_timer);
    m->reboot_timer.data = m;
    uv_timer_init(loop, &m->open_timer);
    m->open_timer.data = m;
    m->boot_on_open = cfg->boot_on_open;
    m->lookup = cfg->lookup;
    struct net_config net_cfg = {
        .clk = m->clk,
        .registration_ms = m->prof->registration_ms,
        .pdn_ms = m->prof->pdn_ms,
        .tac = m->prof->tac,
        .cell = m->prof->cell,
        .imei = m->imei,
    };
    net_init(&m->net, loop, &net_cfg,
             &(struct net_port){
                 .urc = port_urc, .event = port_event, .pdn_lost = net_pdn_lost, .ctx = m});
    apply_settings(m);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void mod_close(struct module *m)
{
    stop(m, STOP_POWER_CUT);
    net_close(&m->net);
    fota_close(&m->fota);
    lw_close(&m->lwm2m);
    uv_close((uv_handle_t *)&m->boot_timer, on_closed);
    uv_close((uv_handle_t *)&m->reboot_timer, on_closed);
    uv_close((uv_handle_t *)&m->open_timer, on_closed);
    at_engine_free(&m->at);
    uart_close(&m->uart);
    flash_file_close(&m->flash);
}
