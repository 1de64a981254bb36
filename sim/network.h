/* Network registration as a small state machine. The module side (CFUN,
 * CGATT) and the network side (bcsim ctl net attach|detach|deny) both feed it
 * through the setters; it reports through its port: +CEREG and +IP URCs,
 * events, and the loss of the default PDN. It knows nothing of the module. */
#ifndef BCSIM_NETWORK_H
#define BCSIM_NETWORK_H

#include "sim/base/clock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* <stat> of +CEREG, 3GPP 27.007 numbering. */
enum net_stat {
    NET_IDLE = 0,      /* not registered, not searching */
    NET_HOME = 1,      /* registered */
    NET_SEARCHING = 2, /* not registered, searching */
    NET_DENIED = 3,    /* registration denied */
};

/* What the network reaches outside itself. */
struct net_port {
    void (*urc)(void *ctx, const char *line);
    void (*event)(void *ctx, const char *type, const char *key, const char *value);
    void (*pdn_lost)(void *ctx); /* the default PDN went down */
    void *ctx;
};

struct net_config {
    const struct clk *clk;
    uint32_t registration_ms; /* searching -> registered */
    uint32_t pdn_ms;          /* registered -> "+IP:" */
    const char *tac, *cell;   /* reported by +CEREG=2..5 */
    const char *imei;         /* the address is derived from it */
};

/* The state is read by the module and the commands; only network.c writes it. */
struct network {
    bool radio;  /* powered and CFUN=1 */
    bool attach; /* CGATT wanted */
    bool cell;   /* the network is there (ctl net attach|detach) */
    bool deny;   /* the network rejects us (ctl net deny) */
    enum net_stat stat;
    bool pdn; /* default PDN up, address assigned */
    char ip[16];
    int cereg_n; /* the +CEREG URC mode (AT+CEREG=<n>) */
    unsigned activations;
    uv_timer_t timer;
    struct net_config cfg;
    struct net_port port;
};

void net_init(struct network *net, uv_loop_t *loop, const struct net_config *cfg,
              const struct net_port *port);
void net_close(struct network *net);

/* Inputs of the state machine; each re-evaluates it. */
void net_set_radio(struct network *net, bool on);
void net_set_attach(struct network *net, bool on);
void net_set_cell(struct network *net, bool present, bool deny);
void net_set_cereg_mode(struct network *net, int n);

void net_reset(struct network *net); /* power gone: everything down, silently */
const char *net_stat_name(enum net_stat s);

/* "+CEREG: ..." fields for the current state; with_n for the read form. */
void net_format_cereg(const struct network *net, int n, bool with_n, char *buf, size_t size);

#endif
