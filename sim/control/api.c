#include "sim/control/api.h"

#include "sim/module.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Status ----------------------------------------------------------------- */

void simctl_status(const struct module *m, struct simctl_status *out)
{
    memset(out, 0, sizeof *out);
    out->model = m->prof->id;
    out->product = m->prof->model;
    snprintf(out->revision, sizeof out->revision, "%s", m->revision);
    out->bricked = m->bricked;
    snprintf(out->firmware_why, sizeof out->firmware_why, "%s", m->brick_why);
    snprintf(out->imei, sizeof out->imei, "%s", m->imei);
    out->power = mod_power_name(m->power);
    out->network = net_stat_name(m->net.stat);
    out->cell = m->net.cell;
    out->dns_fails = m->resolver.names_fail;
    snprintf(out->ip, sizeof out->ip, "%s", m->net.pdn ? m->net.ip : "");
    out->fota = fota_phase_name(&m->fota);
    snprintf(out->fota_why, sizeof out->fota_why, "%s", fota_why(&m->fota));
    out->flash_ops = m->flash.flash.count.ops;
    out->downloaded = fota_downloaded(&m->fota);
    snprintf(out->pty, sizeof out->pty, "%s", m->uart.pty.path);
    out->host_attached = uart_host_attached(&m->uart);
    out->baud = m->ipr;
    out->autobaud_locked = m->uart.synced;
    clk_describe(m->clk, out->speed, sizeof out->speed);
    out->uart_bytes_dropped = m->uart.dropped;
    out->uart_writes = m->uart.writes;
    out->signal = m->signal;
}

/* The text fields of a snapshot, by name; the others are formatted below. */
static const struct {
    const char *name;
    size_t offset;
    bool pointer; /* a const char * field, else a char array */
} text_fields[] = {
    {"model", offsetof(struct simctl_status, model), true},
    {"product", offsetof(struct simctl_status, product), true},
    {"revision", offsetof(struct simctl_status, revision), false},
    {"firmware_why", offsetof(struct simctl_status, firmware_why), false},
    {"imei", offsetof(struct simctl_status, imei), false},
    {"power", offsetof(struct simctl_status, power), true},
    {"network", offsetof(struct simctl_status, network), true},
    {"ip", offsetof(struct simctl_status, ip), false},
    {"fota", offsetof(struct simctl_status, fota), true},
    {"fota_why", offsetof(struct simctl_status, fota_why), false},
    {"pty", offsetof(struct simctl_status, pty), false},
    {"speed", offsetof(struct simctl_status, speed), false},
};

int simctl_status_field(const struct simctl_status *st, const char *name, char *out, size_t size)
{
    for (size_t i = 0; i < COUNT(text_fields); i++) {
        if (strcmp(text_fields[i].name, name) != 0)
            continue;
        const char *p = (const char *)st + text_fields[i].offset;
        snprintf(out, size, "%s", text_fields[i].pointer ? *(const char *const *)p : p);
        return 0;
    }
    const char *flag = NULL;
    if (strcmp(name, "firmware") == 0)
        flag = st->bricked ? "bricked" : "ok";
    else if (strcmp(name, "cell") == 0)
        flag = st->cell ? "true" : "false";
    else if (strcmp(name, "dns_fails") == 0)
        flag = st->dns_fails ? "true" : "false";
    else if (strcmp(name, "host_attached") == 0)
        flag = st->host_attached ? "true" : "false";
    else if (strcmp(name, "autobaud_locked") == 0)
        flag = st->autobaud_locked ? "true" : "false";
    if (flag) {
        snprintf(out, size, "%s", flag);
        return 0;
    }
    uint64_t v;
    if (strcmp(name, "flash_ops") == 0)
        v = st->flash_ops;
    else if (strcmp(name, "downloaded") == 0)
        v = st->downloaded;
    else if (strcmp(name, "baud") == 0)
        v = st->baud;
    else if (strcmp(name, "uart_bytes_dropped") == 0)
        v = st->uart_bytes_dropped;
    else if (strcmp(name, "uart_writes") == 0)
        v = st->uart_writes;
    else
        return -1;
    snprintf(out, size, "%llu", (unsigned long long)v);
    return 0;
}

/* ---- Power and network -------------------------------------------------------------- */

static const char *const power_names[] = {
    [SIMCTL_POWER_ON] = "on",
    [SIMCTL_POWER_OFF] = "off",
    [SIMCTL_POWER_CYCLE] = "cycle",
    [SIMCTL_POWER_CUT] = "cut",
};

static const char *const net_names[] = {
    [SIMCTL_NET_ATTACH] = "attach",
    [SIMCTL_NET_DETACH] = "detach",
    [SIMCTL_NET_DENY] = "deny",
};

static int find_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -EINVAL;
}

const char *simctl_power_name(enum simctl_power p)
{
    return (size_t)p < COUNT(power_names) ? power_names[p] : "?";
}

int simctl_power_find(const char *name, enum simctl_power *out)
{
    int i = find_name(power_names, COUNT(power_names), name);
    if (i < 0)
        return i;
    *out = (enum simctl_power)i;
    return 0;
}

void simctl_power(struct module *m, enum simctl_power p)
{
    switch (p) {
    case SIMCTL_POWER_ON:
        mod_power_on(m);
        break;
    case SIMCTL_POWER_OFF:
        mod_power_off(m);
        break;
    case SIMCTL_POWER_CYCLE:
        mod_power_off(m);
        mod_power_on(m);
        break;
    case SIMCTL_POWER_CUT:
        mod_power_cut(m);
        break;
    }
}

const char *simctl_net_name(enum simctl_net n)
{
    return (size_t)n < COUNT(net_names) ? net_names[n] : "?";
}

int simctl_net_find(const char *name, enum simctl_net *out)
{
    int i = find_name(net_names, COUNT(net_names), name);
    if (i < 0)
        return i;
    *out = (enum simctl_net)i;
    return 0;
}

void simctl_dns(struct module *m, bool fail)
{
    m->resolver.names_fail = fail;
    mod_event(m, "dns", "state", fail ? "failing" : "ok");
}

void simctl_net(struct module *m, enum simctl_net n)
{
    /* The network side of the registration state machine: the module's side
     * (CFUN, CGATT) is the AT commands'. */
    mod_event(m, "cell", "state", simctl_net_name(n));
    switch (n) {
    case SIMCTL_NET_ATTACH:
        net_set_cell(&m->net, true, false);
        break;
    case SIMCTL_NET_DETACH:
        net_set_cell(&m->net, false, m->net.deny);
        break;
    case SIMCTL_NET_DENY:
        net_set_cell(&m->net, true, true);
        break;
    }
}

/* ---- Signal quality ------------------------------------------------------------------ */

#define FIELD(f) #f, offsetof(struct prof_signal, f)

/* 3GPP TS 27.007 8.69 (+CESQ) and 8.5 (+CSQ). */
const struct simctl_signal_field simctl_signal_fields[] = {
    {FIELD(rxlev), 63, 99}, {FIELD(ber), 7, 99},     {FIELD(rscp), 96, 255},
    {FIELD(ecno), 49, 255}, {FIELD(rsrq), 34, 255},  {FIELD(rsrp), 97, 255},
    {FIELD(rssi), 31, 99},  {FIELD(csq_ber), 7, 99}, {NULL, 0, 0, 0},
};

const struct simctl_signal_field *simctl_signal_field_find(const char *name)
{
    for (const struct simctl_signal_field *f = simctl_signal_fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

int simctl_signal_field_get(const struct prof_signal *s, const struct simctl_signal_field *f)
{
    int v;
    memcpy(&v, (const char *)s + f->offset, sizeof v);
    return v;
}

void simctl_signal_field_set(struct prof_signal *s, const struct simctl_signal_field *f, int v)
{
    memcpy((char *)s + f->offset, &v, sizeof v);
}

int simctl_signal(struct module *m, const struct prof_signal *s, char *why, size_t why_size)
{
    for (const struct simctl_signal_field *f = simctl_signal_fields; f->name; f++) {
        int v = simctl_signal_field_get(s, f);
        if ((v < 0 || v > f->max) && v != f->unknown) {
            snprintf(why, why_size, "signal %s: must be from 0 to %d, or %d (not known), not %d",
                     f->name, f->max, f->unknown, v);
            return -ERANGE;
        }
    }
    m->signal = *s;
    return 0;
}

void simctl_signal_reset(struct module *m)
{
    m->signal = m->prof->signal;
}

/* ---- Unsolicited lines and overrides ----------------------------------------------------- */

int simctl_urc(struct module *m, const char *text, char *why, size_t why_size)
{
    if (m->power == MOD_POWER_OFF) {
        snprintf(why, why_size, "the module is powered off");
        return -ENODEV;
    }
    mod_urc(m, "%s", text);
    return 0;
}

int simctl_override_add(struct module *m, const char *cmd, const char *reply, bool once, char *why,
                        size_t why_size)
{
    if (at_override_add(&m->at, cmd, reply, once) != 0) {
        snprintf(why, why_size, "too many overrides (clear them with: override clear)");
        return -ENOSPC;
    }
    return 0;
}

void simctl_override_clear(struct module *m)
{
    at_override_clear(&m->at);
}

/* ---- Flash and line faults ---------------------------------------------------------------------
 */

static const struct simctl_fault_desc faults[] = {
    {"flash-program", SIMCTL_FAULT_FLASH_PROGRAM, "N", true},
    {"flash-erase", SIMCTL_FAULT_FLASH_ERASE, "N", true},
    {"flash-capacity", SIMCTL_FAULT_FLASH_CAPACITY, "BYTES", false},
    {"flash-cut", SIMCTL_FAULT_FLASH_CUT, "N", false},
    {"flash-tear", SIMCTL_FAULT_FLASH_TEAR, "N", false},
    {"flash-worn", SIMCTL_FAULT_FLASH_WORN, "N", true},
    {"uart-rx-drop", SIMCTL_FAULT_UART_RX_DROP, "N", true},
    {"uart-rx-flip", SIMCTL_FAULT_UART_RX_FLIP, "N", true},
    {"uart-tx-drop", SIMCTL_FAULT_UART_TX_DROP, "N", true},
    {"clear", SIMCTL_FAULT_CLEAR, NULL, false},
};

const struct simctl_fault_desc *simctl_fault_find(const char *name)
{
    for (size_t k = 0; k < COUNT(faults); k++)
        if (strcmp(faults[k].name, name) == 0)
            return &faults[k];
    return NULL;
}

void simctl_fault_usage(char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < COUNT(faults) && n < size; k++) {
        const struct simctl_fault_desc *d = &faults[k];
        int w = d->arg ? snprintf(buf + n, size - n, "%s%s %s%s%s", k ? " | " : "", d->name,
                                  d->optional ? "[" : "", d->arg, d->optional ? "]" : "")
                       : snprintf(buf + n, size - n, "%s%s", k ? " | " : "", d->name);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

static const struct simctl_fault_desc *fault_desc(enum simctl_fault kind)
{
    for (size_t k = 0; k < COUNT(faults); k++)
        if (faults[k].kind == kind)
            return &faults[k];
    return NULL;
}

int simctl_fault(struct module *m, enum simctl_fault kind, int64_t value, char *why,
                 size_t why_size)
{
    const struct simctl_fault_desc *d = fault_desc(kind);
    if (!d) {
        snprintf(why, why_size, "no such fault (%d)", (int)kind);
        return -EINVAL;
    }
    if (d->arg && (value < SIMCTL_FAULT_MIN || value > SIMCTL_FAULT_MAX)) {
        snprintf(why, why_size, "fault %s: %s must be from %d to %u, not %lld", d->name, d->arg,
                 SIMCTL_FAULT_MIN, SIMCTL_FAULT_MAX, (long long)value);
        return -ERANGE;
    }
    struct flash *f = &m->flash.flash;
    uint64_t v = (uint64_t)value;
    switch (kind) {
    case SIMCTL_FAULT_FLASH_PROGRAM:
        f->faults.fail_program_at = f->count.programs + v;
        break;
    case SIMCTL_FAULT_FLASH_ERASE:
        f->faults.fail_erase_at = f->count.erases + v;
        break;
    case SIMCTL_FAULT_FLASH_CAPACITY:
        f->faults.fota_capacity = (uint32_t)v;
        break;
    case SIMCTL_FAULT_FLASH_CUT:
    case SIMCTL_FAULT_FLASH_TEAR:
        f->faults.cut_after = f->count.ops + v;
        f->faults.cut_mode = kind == SIMCTL_FAULT_FLASH_CUT ? FLASH_CUT_CLEAN : FLASH_CUT_TORN;
        break;
    case SIMCTL_FAULT_FLASH_WORN: /* the Nth next operation and every later one fail, until CLEAR */
        f->faults.worn_from = f->count.ops + v;
        break;
    case SIMCTL_FAULT_UART_RX_DROP:
        uart_fault(&m->uart, UART_FAULT_RX_DROP, v);
        break;
    case SIMCTL_FAULT_UART_RX_FLIP:
        uart_fault(&m->uart, UART_FAULT_RX_FLIP, v);
        break;
    case SIMCTL_FAULT_UART_TX_DROP:
        uart_fault(&m->uart, UART_FAULT_TX_DROP, v);
        break;
    case SIMCTL_FAULT_CLEAR:
        f->faults = (struct flash_faults){0};
        uart_fault_clear(&m->uart);
        break;
    }
    mod_event(m, "fault", "set", d->name);
    return 0;
}
