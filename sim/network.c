#include "sim/network.h"

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

void net_format_cereg(const struct network *net, int n, bool with_n, char *buf, size_t size)
{
    int len = with_n ? snprintf(buf, size, "+CEREG: %d,%d", n, net->stat)
                     : snprintf(buf, size, "+CEREG: %d", net->stat);
    /* Location is known once a cell was found: registered or denied by it. */
    bool located = net->stat == NET_HOME || net->stat == NET_DENIED;
    if (n >= 2 && located && len > 0 && (size_t)len < size)
        len += snprintf(buf + len, size - (size_t)len, ",\"%s\",\"%s\",9", net->cfg.tac,
                        net->cfg.cell);
    /* n=3 and n=5 add the reject cause: EMM cause 15, no suitable cells. */
    if ((n == 3 || n == 5) && net->stat == NET_DENIED && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, ",0,15");
}

static void set_stat(struct network *net, enum net_stat stat)
{
    if (net->stat == stat)
        return;
    net->stat = stat;
    net->port.event(net->port.ctx, "network", "state", net_stat_name(stat));
    if (net->cereg_n > 0) {
        char line[128];
        net_format_cereg(net, net->cereg_n, false, line, sizeof line);
        net->port.urc(net->port.ctx, line);
    }
}

static void pdn_down(struct network *net)
{
    if (!net->pdn)
        return;
    net->pdn = false;
    net->ip[0] = '\0';
    net->port.event(net->port.ctx, "pdn", "state", "down");
    net->port.pdn_lost(net->port.ctx);
}

/* Carrier-grade NAT space, as NB-IoT operators hand out (100.64.0.0/10);
 * derived from the IMEI so a module keeps a recognisable address. */
static void pick_address(struct network *net)
{
    uint32_t h = 2166136261u;
    for (const char *p = net->cfg.imei; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h ^= net->activations * 0x9e3779b9u;
    snprintf(net->ip, sizeof net->ip, "100.%u.%u.%u", 64 + (h & 63), (h >> 8) & 255,
             1 + ((h >> 16) % 254));
}

static void on_timer(uv_timer_t *t)
{
    struct network *net = t->data;
    if (net->stat == NET_SEARCHING) {
        set_stat(net, net->deny ? NET_DENIED : NET_HOME);
        if (net->stat == NET_HOME)
            clk_after(net->cfg.clk, &net->timer, on_timer, net->cfg.pdn_ms);
    } else if (net->stat == NET_HOME && !net->pdn) {
        net->activations++;
        pick_address(net);
        net->pdn = true;
        net->port.event(net->port.ctx, "pdn", "address", net->ip);
        char line[32];
        snprintf(line, sizeof line, "+IP: %s", net->ip);
        net->port.urc(net->port.ctx, line);
    }
}

static void update(struct network *net)
{
    if (!net->radio || !net->attach) {
        uv_timer_stop(&net->timer);
        pdn_down(net);
        set_stat(net, NET_IDLE);
        return;
    }
    if (!net->cell || (net->deny && net->stat == NET_HOME)) {
        uv_timer_stop(&net->timer);
        pdn_down(net);
        set_stat(net, NET_SEARCHING);
        if (!net->cell)
            return;
    }
    if (!net->deny && net->stat == NET_DENIED)
        set_stat(net, NET_SEARCHING);
    if (net->stat == NET_IDLE)
        set_stat(net, NET_SEARCHING);
    if (net->stat == NET_SEARCHING && !uv_is_active((uv_handle_t *)&net->timer))
        clk_after(net->cfg.clk, &net->timer, on_timer, net->cfg.registration_ms);
}

void net_set_radio(struct network *net, bool on)
{
    net->radio = on;
    update(net);
}

void net_set_attach(struct network *net, bool on)
{
    net->attach = on;
    update(net);
}

void net_set_cell(struct network *net, bool present, bool deny)
{
    net->cell = present;
    net->deny = deny;
    update(net);
}

void net_set_cereg_mode(struct network *net, int n)
{
    net->cereg_n = n;
}

void net_reset(struct network *net)
{
    uv_timer_stop(&net->timer);
    net->radio = net->attach = net->pdn = false;
    net->stat = NET_IDLE;
    net->ip[0] = '\0';
}

void net_init(struct network *net, uv_loop_t *loop, const struct net_config *cfg,
              const struct net_port *port)
{
    memset(net, 0, sizeof *net);
    net->cfg = *cfg;
    net->port = *port;
    net->cell = true;
    uv_timer_init(loop, &net->timer);
    net->timer.data = net;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void net_close(struct network *net)
{
    uv_close((uv_handle_t *)&net->timer, on_closed);
}
