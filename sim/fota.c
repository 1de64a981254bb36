#include "sim/fota.h"

#include "sim/at/at_engine.h"
#include "sim/firmware.h"
#include "sim/module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nominal time from START to the reboot into the updater, and from 100% to
 * the reboot into the new firmware. */
#define REBOOT_DELAY_MS 200
/* A download that receives nothing for this long fails (scaled, at least 2 s). */
#define STALL_TIMEOUT_MS 20000
/* Tries of one flash step before the updater stops (see retry_flash). */
#define FLASH_ATTEMPTS 3

const char *fota_phase_name(const struct fota *f)
{
    switch (f->phase) {
    case FOTA_IDLE:
        return "idle";
    case FOTA_DOWNLOADING:
        return "downloading";
    case FOTA_UPDATING:
        return "updating";
    }
    return "?";
}

static void set_phase(struct module *m, enum fota_phase phase)
{
    if (m->fota.phase == phase)
        return;
    m->fota.phase = phase;
    mod_event(m, "fota", "state", fota_phase_name(&m->fota));
}

int fota_init(struct module *m)
{
    struct fota *f = &m->fota;
    memset(f, 0, sizeof *f);
    f->result = -1;
    f->patch = malloc(sizeof *f->patch); /* about 150 KiB: the applier's whole state */
    if (!f->patch)
        return -ENOMEM;
    download_init(&f->dl, m->loop);
    uv_timer_init(m->loop, &f->timer);
    f->timer.data = m;
    return 0;
}

void fota_close(struct module *m)
{
    struct fota *f = &m->fota;
    f->silent = true;
    download_close(&f->dl);
    uv_close((uv_handle_t *)&f->timer, NULL);
    free(f->patch);
    f->patch = NULL;
}

/* ---- The download sink: the FOTA area, erased just ahead of the data ---- */

static int sink_begin(void *ctx, int64_t length)
{
    struct module *m = ctx;
    struct fota *f = &m->fota;
    f->length = length;
    if (length > (int64_t)flash_fota_room(&m->flash.flash)) { /* refused before a byte comes */
        f->sink_err = FLASH_EFULL;
        return f->sink_err;
    }
    return 0;
}

/* The progress URCs, one per percent reached (the cards' "%" included). */
#define DOWNLOADING_URC "+QIND: \"FOTA\",\"DOWNLOADING\",%d%%"
#define UPDATING_URC    "+QIND: \"FOTA\",\"UPDATING\",%d%%,1,1"

static void report_progress(struct module *m, int percent, const char *urc_format)
{
    struct fota *f = &m->fota;
    if (percent <= f->percent)
        return;
    f->percent = percent;
    mod_urc(m, urc_format, percent);
}

static int sink_data(void *ctx, const uint8_t *p, size_t n)
{
    struct module *m = ctx;
    struct fota *f = &m->fota;
    int err = fota_sink_write(&f->sink, p, n);
    if (err) {
        f->sink_err = err;
        return err;
    }
    if (f->length > 0)
        report_progress(m, (int)(fota_sink_length(&f->sink) * 100 / (uint64_t)f->length),
                        DOWNLOADING_URC);
    return 0;
}

static const struct dl_sink flash_sink = {.begin = sink_begin, .data = sink_data};

/* ---- After the download: check, then hand over to the updater ------------ */

static int update_code(const struct profile *p, int patch_status)
{
    switch (patch_status) {
    case PATCH_EMISMATCH:
        return p->fota.up_mismatch;
    case PATCH_EINVALID:
        return p->fota.up_invalid;
    default:
        return p->fota.up_failed;
    }
}

static int start_patch(struct patch *p)
{
    int r = patch_start(p);
    for (int tries = 1; r == PATCH_EFLASH && tries < FLASH_ATTEMPTS; tries++)
        r = patch_start(p); /* only the journal is written: the old firmware is intact */
    return r;
}

static void begin_update(struct module *m)
{
    struct fota *f = &m->fota;
    struct flash *fl = &m->flash.flash;
    struct patch *p = f->patch;
    int r = patch_check(p, fl, fl->geo.fota_offset, f->sink.written, m->prof->id);
    if (r == 0 && fw_check_baseline(m->prof, &p->hdr, p->why, sizeof p->why) != 0)
        r = PATCH_EMISMATCH;
    if (r == 0)
        r = start_patch(p);
    if (r == PATCH_EPOWER) {
        mod_power_cut(m);
        return;
    }
    if (r != PATCH_MORE) {
        mod_event(m, "fota", "refused", p->why);
        mod_urc(m, "+QIND: \"FOTA\",\"END\",%d", update_code(m->prof, r));
        set_phase(m, FOTA_IDLE);
        return;
    }
    f->gave_up = false;
    f->why[0] = '\0';
    set_phase(m, FOTA_UPDATING);
    mod_urc(m, "+QIND: \"FOTA\",\"START\"");
    f->start_announced = true;
    mod_reboot(m, REBOOT_DELAY_MS);
}

static int download_code(const struct module *m, enum dl_error err)
{
    const struct prof_fota *c = &m->prof->fota;
    switch (err) {
    case DL_OK:
        return 0;
    case DL_EDNS:
        return c->dl_dns;
    case DL_EABORT:
        return c->dl_net_lost;
    case DL_EPROTO:
        return c->dl_unknown;
    case DL_ESINK:
        return m->fota.sink_err == FLASH_EFULL ? c->dl_flash_full : c->dl_flash_write;
    default:
        return c->dl_failed;
    }
}

static void on_downloaded(void *ctx, enum dl_error err, int detail)
{
    struct module *m = ctx;
    struct fota *f = &m->fota;
    (void)detail;
    if (f->silent) {
        set_phase(m, FOTA_IDLE);
        return;
    }
    if (err == DL_OK && (f->sink_err = fota_sink_flush(&f->sink)) != 0)
        err = DL_ESINK;
    if (err == DL_ESINK && f->sink_err == FLASH_EPOWER) {
        mod_power_cut(m); /* the flash's power-cut fault hit the download */
        return;
    }
    mod_event(m, "download", "result", dl_strerror(err));
    if (err == DL_OK && f->percent < 100)
        report_progress(m, 100, DOWNLOADING_URC);
    int code = download_code(m, err);
    mod_urc(m, "+QIND: \"FOTA\",\"HTTPEND\",%d", code);
    if (code != 0) {
        set_phase(m, FOTA_IDLE);
        return;
    }
    begin_update(m);
}

/* ---- AT+QFOTADL ----------------------------------------------------------- */

/* proto/ knows nothing of --speed: it gets the link in real time. A rate
 * that --speed multiplies beyond 32 bits (more than 4 GB/s) or makes infinite
 * (fast) is unpaced. */
static struct dl_link scaled_link(const struct clk *clk, const struct dl_link *nominal)
{
    const uint64_t second = 1000000; /* in ms: fine enough for factors up to 10^6 */
    uint64_t scaled_second = clk_scale(clk, second);
    uint64_t rtt = clk_scale(clk, nominal->rtt_ms);
    uint64_t rate = 0;
    if (nominal->bytes_per_s && scaled_second > 0) {
        rate = (uint64_t)nominal->bytes_per_s * second / scaled_second;
        if (rate == 0)
            rate = 1; /* slowed down past a byte a second: still paced */
    }
    return (struct dl_link){
        .bytes_per_s = rate > UINT32_MAX ? 0 : (uint32_t)rate,
        .rtt_ms = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt,
    };
}

static bool scheme_supported(const struct prof_fota *c, enum url_scheme s)
{
    return (s == URL_HTTP && c->http) || (s == URL_HTTPS && c->https) || (s == URL_COAP && c->coap);
}

int fota_command(struct module *m, const char *text)
{
    struct fota *f = &m->fota;
    const struct prof_fota *c = &m->prof->fota;
    if (f->phase != FOTA_IDLE) {
        if (c->up_busy < 0)
            return AT_ERROR;
        mod_urc(m, "+QIND: \"FOTA\",\"END\",%d", c->up_busy); /* the running one goes on */
        return AT_OK;
    }
    struct url u;
    if (url_parse(text, &u) != URL_OK)
        return AT_ERROR;
    if (!scheme_supported(c, u.scheme)) {
        if (!c->notsupport_urc)
            return AT_ERROR;
        mod_urc(m, "+QIND: \"FOTA\",\"NOTSUPPORT\"");
        return AT_OK;
    }
    fota_sink_reset(&f->sink, &m->flash.flash);
    f->length = -1;
    f->percent = 0;
    f->sink_err = 0;
    f->net_lost = f->silent = false;
    set_phase(m, FOTA_DOWNLOADING);
    mod_urc(m, "+QIND: \"FOTA\",\"HTTPSTART\"");
    if (!m->net.pdn) {
        mod_urc(m, "+QIND: \"FOTA\",\"HTTPEND\",%d", c->dl_net_unavailable);
        set_phase(m, FOTA_IDLE);
        return AT_OK;
    }
    uint64_t stall = clk_scale(m->clk, STALL_TIMEOUT_MS);
    struct dl_request req = {
        .url = &u,
        .resolver = m->resolver,
        .link = scaled_link(m->clk, &m->radio),
        .stall_ms = stall < 2000 ? 2000 : (uint32_t)stall,
        .sink = &flash_sink,
        .sink_ctx = m,
        .done = on_downloaded,
        .done_ctx = m,
    };
    download_start(&f->dl, &req); /* every failure comes back through on_downloaded */
    return AT_OK;
}

void fota_pdn_lost(struct module *m)
{
    if (m->fota.phase == FOTA_DOWNLOADING && download_running(&m->fota.dl))
        download_abort(&m->fota.dl); /* reported as "network deactivated" */
}

void fota_power_lost(struct module *m, bool announce)
{
    struct fota *f = &m->fota;
    uv_timer_stop(&f->timer);
    if (download_running(&f->dl)) {
        f->silent = true;
        download_abort(&f->dl);
    }
    if (f->phase == FOTA_DOWNLOADING)
        set_phase(m, FOTA_IDLE); /* the partial package stays, unused */
    if (announce) {
        /* What was in RAM is gone; the next boot reads the journal afresh. */
        set_phase(m, FOTA_IDLE);
        f->start_announced = false;
        f->gave_up = false;
    }
}

/* ---- The updater ------------------------------------------------------------ */

/* The package in the FOTA area is as long as its header says. */
static uint32_t package_len(struct module *m)
{
    struct flash *fl = &m->flash.flash;
    uint8_t raw[PKG_HEADER_SIZE];
    struct pkg_header h;
    if (flash_read(fl, fl->geo.fota_offset, raw, sizeof raw) != 0 || pkg_header_read(raw, &h) != 0)
        return 0;
    uint64_t len = PKG_HEADER_SIZE + pkg_body_len(&h);
    return len <= fl->geo.fota_size ? (uint32_t)len : 0;
}

static int resume(struct module *m)
{
    struct flash *fl = &m->flash.flash;
    return patch_resume(m->fota.patch, fl, fl->geo.fota_offset, package_len(m));
}

/* A program or erase that the flash fails leaves it as a clean power cut at
 * that operation would: replaying the journal (and, for a step, doing the
 * step again) retries it. A fault that happens once is gone on the next try,
 * so the update goes on; one still there after FLASH_ATTEMPTS tries stops it. */
static int retry_flash(struct module *m, int r, bool step)
{
    for (int tries = 1; r == PATCH_EFLASH && tries < FLASH_ATTEMPTS; tries++) {
        mod_event(m, "fota", "retry", m->fota.patch->why);
        r = resume(m);
        if (step && r == PATCH_MORE)
            r = patch_step(m->fota.patch);
    }
    return r;
}

/* Forgets a reported update (erases the journal). False if the power was cut
 * meanwhile: the module is off. A journal the flash cannot erase stays, and
 * the next boot reports the same result again. */
static bool forget_update(struct module *m)
{
    struct patch *p = m->fota.patch;
    int r = patch_finish(p);
    for (int tries = 1; r == PATCH_EFLASH && tries < FLASH_ATTEMPTS; tries++)
        r = patch_finish(p);
    if (r == PATCH_EPOWER) {
        mod_power_cut(m);
        return false;
    }
    if (r != 0)
        mod_event(m, "fota", "error", p->why);
    return true;
}

static void stop_updater(struct module *m)
{
    set_phase(m, FOTA_IDLE);
    m->fota.start_announced = false;
    mod_reboot(m, REBOOT_DELAY_MS);
}

/* The update cannot go on in this power session: say so and reboot into
 * whatever the firmware region holds. A flash that keeps failing leaves the
 * journal as it is, so that the update resumes after the next power-on; a
 * package that turns out inconsistent is forgotten (it would fail again). */
static void give_up(struct module *m, int r)
{
    struct fota *f = &m->fota;
    snprintf(f->why, sizeof f->why, "update stopped: %s", f->patch->why);
    mod_event(m, "fota", "failed", f->patch->why);
    mod_urc(m, "+QIND: \"FOTA\",\"END\",%d", update_code(m->prof, r));
    if (r == PATCH_EFLASH)
        f->gave_up = true;
    else if (!forget_update(m))
        return;
    stop_updater(m);
}

static void updater_step(uv_timer_t *t)
{
    struct module *m = t->data;
    struct fota *f = &m->fota;
    int r = retry_flash(m, patch_step(f->patch), true);
    if (r == PATCH_EPOWER) {
        mod_power_cut(m); /* the flash's power-cut fault hit the updater */
        return;
    }
    report_progress(m, (int)patch_percent(f->patch), UPDATING_URC);
    if (r == PATCH_MORE)
        clk_after(m->clk, &f->timer, updater_step, m->prof->fota.step_ms);
    else if (r == PATCH_DONE)
        stop_updater(m); /* the new firmware reports END after its "+CFUN: 1" */
    else
        give_up(m, r);
}

enum fota_boot fota_boot(struct module *m)
{
    struct fota *f = &m->fota;
    int r = retry_flash(m, resume(m), false);
    if (r == PATCH_EPOWER)
        return FOTA_BOOT_POWER_CUT;
    if (r == PATCH_MORE && !f->gave_up) {
        set_phase(m, FOTA_UPDATING);
        return FOTA_BOOT_UPDATER;
    }
    set_phase(m, FOTA_IDLE);
    if (r == PATCH_DONE) {
        f->result = 0;
        f->forget = true;
    } else if (r == PATCH_EFLASH) {
        /* The flash fails the resume itself: keep the journal for the next power-on. */
        snprintf(f->why, sizeof f->why, "update stopped: %s", f->patch->why);
        mod_event(m, "fota", "failed", f->patch->why);
        f->gave_up = true;
        f->result = update_code(m->prof, r);
        f->forget = false;
    } else if (r != PATCH_IDLE && r != PATCH_MORE) {
        /* The journal cannot be followed: report it, forget it, and let the boot ROM decide. */
        snprintf(f->why, sizeof f->why, "update failed: %s", f->patch->why);
        mod_event(m, "fota", "failed", f->patch->why);
        f->result = update_code(m->prof, r);
        f->forget = true;
    }
    return FOTA_BOOT_FIRMWARE;
}

void fota_run_updater(struct module *m)
{
    struct fota *f = &m->fota;
    if (!f->start_announced) /* forced update mode after a power cut */
        mod_urc(m, "+QIND: \"FOTA\",\"START\"");
    f->start_announced = true;
    f->percent = (int)patch_percent(f->patch) - 1; /* say again where it stands */
    clk_after(m->clk, &f->timer, updater_step, m->prof->fota.step_ms);
}

void fota_boot_report(struct module *m)
{
    struct fota *f = &m->fota;
    if (f->result < 0)
        return;
    mod_urc(m, "+QIND: \"FOTA\",\"END\",%d", f->result);
    f->result = -1;
    if (f->forget)
        forget_update(m); /* reported: the next boot is an ordinary one */
}

const char *fota_why(const struct fota *f)
{
    return f->why;
}
