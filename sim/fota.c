#include "sim/fota.h"

#include "sim/firmware.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nominal time from START to the reboot into the updater, and from 100% to
 * the reboot into the new firmware. */
#define REBOOT_DELAY_MS 200
/* A download that receives nothing for this long fails (scaled, at least 2 s). */
#define STALL_TIMEOUT_MS 20000
/* Tries of one flash operation's work before the updater stops (see retried). */
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

static void urc(struct fota *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void urc(struct fota *f, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    f->port.urc(f->port.ctx, line);
}

static void event(struct fota *f, const char *type, const char *key, const char *value)
{
    f->port.event(f->port.ctx, type, key, value);
}

static void set_phase(struct fota *f, enum fota_phase phase)
{
    if (f->phase == phase)
        return;
    f->phase = phase;
    event(f, "fota", "state", fota_phase_name(f));
}

int fota_init(struct fota *f, const struct fota_config *cfg, const struct fota_port *port)
{
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    f->port = *port;
    f->result = -1;
    f->patch = malloc(sizeof *f->patch); /* about 150 KiB: the applier's whole state */
    if (!f->patch)
        return -ENOMEM;
    download_init(&f->dl, f->cfg.loop);
    uv_timer_init(f->cfg.loop, &f->timer);
    f->timer.data = f;
    fota_sink_reset(&f->sink, f->cfg.flash);
    fota_upload_init(&f->upload, f->cfg.loop, &f->sink);
    return 0;
}

void fota_close(struct fota *f)
{
    f->silent = true;
    download_close(&f->dl);
    uv_close((uv_handle_t *)&f->timer, NULL);
    fota_upload_close(&f->upload);
    free(f->patch);
    f->patch = NULL;
}

/* ---- The download sink: the FOTA area, erased just ahead of the data ---- */

static int sink_begin(void *ctx, int64_t length)
{
    struct fota *f = ctx;
    f->length = length;
    if (length > (int64_t)flash_fota_room(f->cfg.flash)) { /* refused before a byte comes */
        f->sink_err = FLASH_EFULL;
        return f->sink_err;
    }
    return 0;
}

/* The progress URCs, one per percent reached (the cards' "%" included). */
#define DOWNLOADING_URC "+QIND: \"FOTA\",\"DOWNLOADING\",%d%%"
#define UPDATING_URC    "+QIND: \"FOTA\",\"UPDATING\",%d%%,1,1"

/* Every percent the updater reaches: an event and the URC. */
static void updating_progress(struct fota *f, int percent)
{
    if (percent <= f->percent)
        return;
    f->percent = percent;
    char text[12];
    snprintf(text, sizeof text, "%d", percent);
    event(f, "updating", "percent", text);
    urc(f, UPDATING_URC, percent);
}

/* Every percent goes to the events; the URC only where the model prints it. */
static void download_progress(struct fota *f, int percent)
{
    if (percent <= f->percent)
        return;
    char text[12];
    snprintf(text, sizeof text, "%d", percent);
    event(f, "download", "percent", text);
    if (f->transport->progress)
        urc(f, DOWNLOADING_URC, percent);
    f->percent = percent;
}

/* Progress is reported at least every this many bytes, however much one
 * read brings: an unpaced download reads up to 128 KiB at a time, and a host
 * still sees DOWNLOADING lines on the way to 100%, as it did with 16 KiB
 * reads (the scenario library's card examples rely on it). */
#define PROGRESS_STEP 16384

static int sink_data(void *ctx, const uint8_t *p, size_t n)
{
    struct fota *f = ctx;
    while (n > 0) {
        size_t k = n < PROGRESS_STEP ? n : PROGRESS_STEP;
        int err = fota_sink_write(&f->sink, p, k);
        if (err) {
            f->sink_err = err;
            return err;
        }
        if (f->length > 0)
            download_progress(f, (int)(fota_sink_length(&f->sink) * 100 / (uint64_t)f->length));
        p += k;
        n -= k;
    }
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

/* A program or erase that the flash fails leaves it as a clean power cut at
 * that operation would, so doing the operation's work again retries it. A
 * fault that happens once is gone on the next try and the update goes on;
 * one still there after FLASH_ATTEMPTS tries stops it. */
static int retried(struct fota *f, int r, int (*again)(struct fota *f))
{
    for (int tries = 1; r == PATCH_EFLASH && tries < FLASH_ATTEMPTS; tries++) {
        event(f, "fota", "retry", f->patch->why);
        r = again(f);
    }
    return r;
}

/* Only the journal is written: the old firmware is intact. */
static int start_journal(struct fota *f)
{
    return patch_start(f->patch);
}

static int accept_package(struct fota *f)
{
    struct flash *fl = f->cfg.flash;
    return fw_accept_package(f->cfg.prof, f->patch, fl, fl->geo.fota_offset, f->sink.written);
}

/* Checks the package and starts the journal: PATCH_MORE when the reboot
 * into the updater follows (START said if `start`), PATCH_EPOWER when the
 * power went, else the refusal (phase back to idle, no URC). */
static int start_update(struct fota *f, bool start)
{
    int r = accept_package(f);
    if (r == 0)
        r = retried(f, start_journal(f), start_journal);
    if (r == PATCH_EPOWER) {
        f->port.power_cut(f->port.ctx);
        return r;
    }
    if (r != PATCH_MORE) {
        event(f, "fota", "refused", f->patch->why);
        set_phase(f, FOTA_IDLE);
        return r;
    }
    f->gave_up = false;
    f->why[0] = '\0';
    set_phase(f, FOTA_UPDATING);
    if (start)
        urc(f, "+QIND: \"FOTA\",\"START\"");
    f->start_announced = true; /* said, or not to be said: the updater does not add it */
    f->port.reboot(f->port.ctx, REBOOT_DELAY_MS);
    return r;
}

static void begin_update(struct fota *f)
{
    int r = start_update(f, true);
    if (r != PATCH_MORE && r != PATCH_EPOWER)
        urc(f, "+QIND: \"FOTA\",\"END\",%d", update_code(f->cfg.prof, r));
}

/* Object 5's Update Result for a refused package: 5 integrity check failure
 * (corrupt, truncated), 6 unsupported package (another model or source). */
static int lwm2m_package_result(const struct fota *f, int r)
{
    return update_code(f->cfg.prof, r) == f->cfg.prof->fota.up_mismatch ? 6 : 5;
}

static int download_code(const struct fota *f, enum dl_error err)
{
    const struct prof_fota *c = &f->cfg.prof->fota;
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
        return f->sink_err == FLASH_EFULL ? c->dl_flash_full : c->dl_flash_write;
    default:
        return c->dl_failed;
    }
}

/* Object 5's Update Result for a download that failed. A server or a file
 * that goes away once part of the package has come does not make the URI
 * invalid: that is a connection lost. */
static int lwm2m_download_result(const struct fota *f, enum dl_error err)
{
    switch (err) {
    case DL_EDNS:
    case DL_ECONNECT:
    case DL_ESTATUS:
        return fota_sink_length(&f->sink) ? 4 : 7; /* 7: no such server or resource */
    case DL_ESINK:
        return f->sink_err == FLASH_EFULL ? 2 : 8;
    default:
        return 4; /* connection lost */
    }
}

static void fetched(struct fota *f, enum dl_error err)
{
    fota_fetch_done done = f->fetch_done;
    f->fetch_done = NULL;
    set_phase(f, FOTA_IDLE);
    int result = err == DL_OK ? 0 : lwm2m_download_result(f, err);
    if (result == 0) {
        int r = accept_package(f);
        if (r != 0) {
            event(f, "fota", "refused", f->patch->why);
            result = lwm2m_package_result(f, r);
        }
    }
    done(f->fetch_ctx, result);
}

static void on_downloaded(void *ctx, enum dl_error err, int detail)
{
    struct fota *f = ctx;
    (void)detail;
    if (f->silent) {
        f->fetch_done = NULL;
        set_phase(f, FOTA_IDLE);
        return;
    }
    if (err == DL_OK && (f->sink_err = fota_sink_flush(&f->sink)) != 0)
        err = DL_ESINK;
    if (err == DL_ESINK && f->sink_err == FLASH_EPOWER) {
        f->port.power_cut(f->port.ctx); /* the flash's power-cut fault hit the download */
        return;
    }
    event(f, "download", "result", dl_strerror(err));
    if (f->fetch_done) {
        fetched(f, err);
        return;
    }
    if (err == DL_OK)
        download_progress(f, 100);
    int code = download_code(f, err);
    urc(f, "+QIND: \"FOTA\",\"%sEND\",%d", f->transport->urc_word, code);
    if (code != 0) {
        set_phase(f, FOTA_IDLE);
        return;
    }
    begin_update(f);
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

/* A second AT+QFOTADL while one runs: refused, or END with the busy code. */
static enum fota_answer answer_busy(struct fota *f)
{
    int code = f->cfg.prof->fota.up_busy;
    if (code < 0)
        return FOTA_REFUSED;
    urc(f, "+QIND: \"FOTA\",\"END\",%d", code); /* the running one goes on */
    return FOTA_ACCEPTED;
}

/* A download over transport t into the FOTA area; URCs when `announce`. */
static void start_download(struct fota *f, struct url *u, const struct prof_transport *t,
                           bool announce)
{
    const struct prof_fota *c = &f->cfg.prof->fota;
    if (!u->port_given)
        u->port = t->default_port;
    f->transport = t;
    fota_upload_forget(&f->upload); /* the download takes the area */
    fota_sink_reset(&f->sink, f->cfg.flash);
    f->length = -1;
    f->percent = 0;
    f->sink_err = 0;
    f->silent = false;
    set_phase(f, FOTA_DOWNLOADING);
    if (announce)
        urc(f, "+QIND: \"FOTA\",\"%sSTART\"", t->urc_word);
    if (!f->port.pdn_up(f->port.ctx)) {
        if (f->fetch_done) {
            fetched(f, DL_EABORT);
            return;
        }
        urc(f, "+QIND: \"FOTA\",\"%sEND\",%d", t->urc_word, c->dl_net_unavailable);
        set_phase(f, FOTA_IDLE);
        return;
    }
    uint64_t stall = clk_scale(f->cfg.clk, STALL_TIMEOUT_MS);
    struct dl_request req = {
        .url = u,
        .resolver = f->cfg.resolver,
        .link = scaled_link(f->cfg.clk, &f->cfg.radio),
        .stall_ms = stall < 2000 ? 2000 : (uint32_t)stall,
        .block_size = t->block_size,
        .sink = &flash_sink,
        .sink_ctx = f,
        .done = on_downloaded,
        .done_ctx = f,
    };
    download_start(&f->dl, &req); /* every failure comes back through on_downloaded */
}

enum fota_answer fota_command(struct fota *f, const char *text)
{
    const struct prof_fota *c = &f->cfg.prof->fota;
    if (f->phase != FOTA_IDLE)
        return answer_busy(f);
    struct url u;
    if (url_parse(text, &u) != URL_OK)
        return FOTA_REFUSED;
    const struct prof_transport *t = &c->transports[u.scheme];
    if (!t->urc_word) {
        if (!c->notsupport_urc)
            return FOTA_REFUSED;
        urc(f, "+QIND: \"FOTA\",\"NOTSUPPORT\"");
        return FOTA_ACCEPTED;
    }
    start_download(f, &u, t, true);
    return FOTA_ACCEPTED;
}

/* ---- LwM2M's Firmware Update object --------------------------------------------------------- */

int fota_fetch(struct fota *f, const char *text, fota_fetch_done done, void *ctx)
{
    if (f->phase != FOTA_IDLE)
        return -EBUSY;
    struct url u;
    int e = url_parse(text, &u);
    if (e != URL_OK) /* a scheme://: 9 unsupported protocol; no URI at all: 7 */
        return e == URL_ESCHEME && strstr(text, "://") ? 9 : 7;
    const struct prof_transport *t = &f->cfg.prof->fota.lwm2m_transports[u.scheme];
    if (!t->urc_word)
        return 9; /* unsupported protocol */
    f->fetch_done = done;
    f->fetch_ctx = ctx;
    start_download(f, &u, t, false);
    return 0;
}

void fota_fetch_cancel(struct fota *f)
{
    if (!f->fetch_done)
        return;
    f->fetch_done = NULL;
    f->silent = true;
    download_abort(&f->dl);
    set_phase(f, FOTA_IDLE);
}

int fota_apply(struct fota *f)
{
    if (f->phase != FOTA_IDLE)
        return -EBUSY;
    int r = start_update(f, f->cfg.prof->fota.lwm2m_start_urc);
    if (r == PATCH_MORE || r == PATCH_EPOWER)
        return 0;
    if (r == PATCH_EFLASH) { /* not the package: the flash would not start the update */
        urc(f, "+QIND: \"FOTA\",\"END\",%d", update_code(f->cfg.prof, r));
        return 8;
    }
    return lwm2m_package_result(f, r);
}

/* ---- AT+QFOTADL=1 ------------------------------------------------------- */

/* From the loop after the command's OK: the flash writes (and a power cut
 * they may meet) come after the answer, as START does on the card. */
static void begin_uploaded(uv_timer_t *t)
{
    struct fota *f = t->data;
    struct fota_sink *s = &f->sink;
    int err = fota_sink_flush(s);
    if (err == FLASH_EPOWER) {
        f->port.power_cut(f->port.ctx);
        return;
    }
    if (err) {
        event(f, "fota", "refused", "the flash failed the upload's last sector");
        urc(f, "+QIND: \"FOTA\",\"END\",%d", f->cfg.prof->fota.up_failed);
        set_phase(f, FOTA_IDLE);
        return;
    }
    begin_update(f);
    if (f->phase == FOTA_IDLE) {
        /* Refused: the host may still complete or redo the upload, so the
         * last sector goes back to RAM, ready to grow. */
        if (fota_sink_truncate(s, fota_sink_length(s)) != 0)
            fota_upload_forget(&f->upload);
    } else {
        fota_upload_forget(&f->upload); /* the updater owns the package now */
    }
}

enum fota_answer fota_command_uploaded(struct fota *f)
{
    const struct prof_fota *c = &f->cfg.prof->fota;
    if (f->phase != FOTA_IDLE)
        return answer_busy(f);
    if (fota_upload_length(&f->upload) == 0) {
        event(f, "fota", "refused", "no package uploaded");
        urc(f, "+QIND: \"FOTA\",\"END\",%d", c->up_invalid);
        return FOTA_ACCEPTED;
    }
    f->why[0] = '\0';
    set_phase(f, FOTA_UPDATING); /* busy from here: a second command finds it so */
    clk_after(f->cfg.clk, &f->timer, begin_uploaded, 0);
    return FOTA_ACCEPTED;
}

void fota_pdn_lost(struct fota *f)
{
    if (f->phase == FOTA_DOWNLOADING && download_running(&f->dl))
        download_abort(&f->dl); /* reported as "network deactivated" */
}

void fota_power_lost(struct fota *f, bool announce)
{
    uv_timer_stop(&f->timer);
    fota_upload_forget(&f->upload); /* RAM only, as the card says */
    if (download_running(&f->dl)) {
        f->silent = true;
        download_abort(&f->dl);
    }
    if (f->phase == FOTA_DOWNLOADING)
        set_phase(f, FOTA_IDLE); /* the partial package stays, unused */
    if (announce) {
        /* What was in RAM is gone; the next boot reads the journal afresh. */
        set_phase(f, FOTA_IDLE);
        f->start_announced = false;
        f->gave_up = false;
    }
}

/* ---- The updater ------------------------------------------------------------ */

/* The package in the FOTA area is as long as its header says. */
static uint32_t package_len(struct fota *f)
{
    struct flash *fl = f->cfg.flash;
    uint8_t raw[PKG_HEADER_MAX];
    struct pkg_header h;
    if (flash_read(fl, fl->geo.fota_offset, raw, sizeof raw) != 0 ||
        pkg_header_read(raw, sizeof raw, &h) != 0)
        return 0;
    uint64_t len = pkg_total_len(&h);
    return len <= fl->geo.fota_size ? (uint32_t)len : 0;
}

static int resume(struct fota *f)
{
    struct flash *fl = f->cfg.flash;
    return patch_resume(f->patch, fl, fl->geo.fota_offset, package_len(f));
}

/* A step is retried by replaying the journal up to it and doing it again. */
static int resume_step(struct fota *f)
{
    int r = resume(f);
    return r == PATCH_MORE ? patch_step(f->patch) : r;
}

static int finish_journal(struct fota *f)
{
    return patch_finish(f->patch);
}

/* Forgets a reported update (erases the journal). False if the power was cut
 * meanwhile: the module is off. A journal the flash cannot erase stays, and
 * the next boot reports the same result again. */
static bool forget_update(struct fota *f)
{
    int r = retried(f, finish_journal(f), finish_journal);
    if (r == PATCH_EPOWER) {
        f->port.power_cut(f->port.ctx);
        return false;
    }
    if (r != 0)
        event(f, "fota", "error", f->patch->why);
    return true;
}

/* Why the update did not end, for status and the event stream. */
static void note_failure(struct fota *f, const char *how)
{
    snprintf(f->why, sizeof f->why, "update %s: %s", how, f->patch->why);
    event(f, "fota", "failed", f->patch->why);
}

static void stop_updater(struct fota *f)
{
    set_phase(f, FOTA_IDLE);
    f->start_announced = false;
    f->port.reboot(f->port.ctx, REBOOT_DELAY_MS);
}

/* The update cannot go on in this power session: say so and reboot into
 * whatever the firmware region holds. A flash that keeps failing leaves the
 * journal as it is, so that the update resumes after the next power-on; a
 * package that turns out inconsistent is forgotten (it would fail again). */
static void give_up(struct fota *f, int r)
{
    note_failure(f, "stopped");
    urc(f, "+QIND: \"FOTA\",\"END\",%d", update_code(f->cfg.prof, r));
    if (f->port.finished)
        f->port.finished(f->port.ctx, update_code(f->cfg.prof, r));
    if (r == PATCH_EFLASH)
        f->gave_up = true;
    else if (!forget_update(f))
        return;
    stop_updater(f);
}

static void updater_step(uv_timer_t *t)
{
    struct fota *f = t->data;
    int r = retried(f, patch_step(f->patch), resume_step);
    if (r == PATCH_EPOWER) {
        f->port.power_cut(f->port.ctx); /* the flash's power-cut fault hit the updater */
        return;
    }
    updating_progress(f, (int)patch_percent(f->patch));
    if (r == PATCH_MORE)
        clk_after(f->cfg.clk, &f->timer, updater_step, f->cfg.prof->fota.step_ms);
    else if (r == PATCH_DONE)
        stop_updater(f); /* the new firmware reports END after its "+CFUN: 1" */
    else
        give_up(f, r);
}

enum fota_boot fota_boot(struct fota *f)
{
    int r = retried(f, resume(f), resume);
    if (r == PATCH_EPOWER)
        return FOTA_BOOT_POWER_CUT;
    if (r == PATCH_MORE && !f->gave_up) {
        set_phase(f, FOTA_UPDATING);
        return FOTA_BOOT_UPDATER;
    }
    set_phase(f, FOTA_IDLE);
    if (r == PATCH_DONE) {
        f->result = 0;
        f->forget = true;
    } else if (r == PATCH_EFLASH) {
        /* The flash fails the resume itself: keep the journal for the next power-on. */
        note_failure(f, "stopped");
        f->gave_up = true;
        f->result = update_code(f->cfg.prof, r);
        f->forget = false;
    } else if (r != PATCH_IDLE && r != PATCH_MORE) {
        /* The journal cannot be followed: report it, forget it, and let the boot ROM decide. */
        note_failure(f, "failed");
        f->result = update_code(f->cfg.prof, r);
        f->forget = true;
    }
    return FOTA_BOOT_FIRMWARE;
}

void fota_run_updater(struct fota *f)
{
    if (!f->start_announced) /* forced update mode after a power cut */
        urc(f, "+QIND: \"FOTA\",\"START\"");
    f->start_announced = true;
    f->percent = (int)patch_percent(f->patch) - 1; /* say again where it stands */
    clk_after(f->cfg.clk, &f->timer, updater_step, f->cfg.prof->fota.step_ms);
}

void fota_boot_report(struct fota *f)
{
    if (f->result < 0)
        return;
    urc(f, "+QIND: \"FOTA\",\"END\",%d", f->result);
    if (f->port.finished)
        f->port.finished(f->port.ctx, f->result);
    f->result = -1;
    if (f->forget)
        forget_update(f); /* reported: the next boot is an ordinary one */
}

const char *fota_why(const struct fota *f)
{
    return f->why;
}

uint64_t fota_downloaded(const struct fota *f)
{
    return fota_sink_length(&f->sink);
}
