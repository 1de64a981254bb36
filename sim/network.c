#include "sim/network.h"

#include "sim/module.h"

#include <stdio.h>
#include <string.h>

const char *net_stat_name(enum net_stat s)
{
    switch (s) {
    case NET_IDLE:
        return "idle";
    case NET_HOME:
        return "registered";
    case NET_SEARCHING:
        return "searching";
    case NET_DENIED:
        return "denied";
    }
    return "?";
}

void net_format_cereg(const struct module *m, int n, bool with_n, char *buf, size_t size)
{
    const struct network *net = &m->net;
    int len = with_n ? snprintf(buf, size, "+CEREG: %d,%d", n, net->stat)
                     : snprintf(buf, size, "+CEREG: %d", net->stat);
    /* Location is known once a cell was found: registered or denied by it. */
    bool located = net->stat == NET_HOME || net->stat == NET_DENIED;
    if (n >= 2 && located && len > 0 && (size_t)len < size)
        len += snprintf(buf + len, size - (size_t)len, ",\"%s\",\"%s\",9", m->prof->tac,
                        m->prof->cell);
    /* n=3 and n=5 add the reject cause: EMM cause 15, no suitable cells. */
    if ((n == 3 || n == 5) && net->stat == NET_DENIED && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, ",0,15");
}

static void set_stat(struct module *m, enum net_stat stat)
{
    if (m->net.stat == stat)
        return;
    m->net.stat = stat;
    mod_event(m, "network", "state", net_stat_name(stat));
    if (m->cereg_n > 0) {
        char line[128];
        net_format_cereg(m, m->cereg_n, false, line, sizeof line);
        mod_urc(m, "%s", line);
    }
}

static void pdn_down(struct module *m)
{
    if (!m->net.pdn)
        return;
    m->net.pdn = false;
    m->net.ip[0] = '\0';
    mod_event(m, "pdn", "state", "down");
    fota_pdn_lost(m);
}

/* Carrier-grade NAT space, as NB-IoT operators hand out (100.64.0.0/10);
 * derived from the IMEI so a module keeps a recognisable address. */
static void pick_address(struct module *m)
{
    uint32_t h = 2166136261u;
    for (const char *p = m->imei; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h ^= m->net.activations * 0x9e3779b9u;
    snprintf(m->net.ip, sizeof m->net.ip, "100.%u.%u.%u", 64 + (h & 63), (h >> 8) & 255,
             1 + ((h >> 16) % 254));
}

static void on_timer(uv_timer_t *t)
{
    struct module *m = t->data;
    struct network *net = &m->net;
    if (net->stat == NET_SEARCHING) {
        set_stat(m, net->deny ? NET_DENIED : NET_HOME);
        if (net->stat == NET_HOME)
            clk_after(m->clk, &net->timer, on_timer, m->prof->pdn_ms);
    } else if (net->stat == NET_HOME && !net->pdn) {
        net->activations++;
        pick_address(m);
        net->pdn = true;
        mod_event(m, "pdn", "address", net->ip);
        mod_urc(m, "+IP: %s", net->ip);
    }
}

void net_update(struct module *m)
{
    struct network *net = &m->net;
    if (!net->radio || !net->attach) {
        uv_timer_stop(&net->timer);
        pdn_down(m);
        set_stat(m, NET_IDLE);
        return;
    }
    if (!net->cell || (net->deny && net->stat == NET_HOME)) {
        uv_timer_stop(&net->timer);
        pdn_down(m);
        set_stat(m, NET_SEARCHING);
        if (!net->cell)
            return;
    }
    if (!net->deny && net->stat == NET_DENIED)
        set_stat(m, NET_SEARCHING);
    if (net->stat == NET_IDLE)
        set_stat(m, NET_SEARCHING);
    if (net->stat == NET_SEARCHING && !uv_is_active((uv_handle_t *)&net->timer))
        clk_after(m->clk, &net->timer, on_timer, m->prof->registration_ms);
}

void net_reset(struct module *m)
{
    struct network *net = &m->net;
    uv_timer_stop(&net->timer);
    net->radio = net->attach = net->pdn = false;
    net->stat = NET_IDLE;
    net->ip[0] = '\0';
}

void net_init(struct module *m, uv_loop_t *loop)
{
    struct network *net = &m->net;
    memset(net, 0, sizeof *net);
    net->cell = true;
    uv_timer_init(loop, &net->timer);
    net->timer.data = m;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void net_close(struct module *m)
{
    uv_close((uv_handle_t *)&m->net.timer, on_closed);
}
