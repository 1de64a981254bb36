/* Network registration as a small state machine. The module side (CFUN,
 * CGATT) and the network side (bcsim ctl net attach|detach|deny) both feed it;
 * it reports with +CEREG and +IP URCs. */
#ifndef BCSIM_NETWORK_H
#define BCSIM_NETWORK_H

#include <stdbool.h>
#include <uv.h>

/* <stat> of +CEREG, 3GPP 27.007 numbering. */
enum net_stat {
    NET_IDLE = 0,      /* not registered, not searching */
    NET_HOME = 1,      /* registered */
    NET_SEARCHING = 2, /* not registered, searching */
    NET_DENIED = 3,    /* registration denied */
};

struct network {
    bool radio;  /* powered and CFUN=1 */
    bool attach; /* CGATT wanted */
    bool cell;   /* the network is there (ctl net attach|detach) */
    bool deny;   /* the network rejects us (ctl net deny) */
    enum net_stat stat;
    bool pdn; /* default PDN up, address assigned */
    char ip[16];
    unsigned activations;
    uv_timer_t timer;
};

struct module;

void net_init(struct module *m, uv_loop_t *loop);
void net_close(struct module *m);
void net_update(struct module *m); /* call after any input above changed */
void net_reset(struct module *m);  /* power gone: everything down, silently */
const char *net_stat_name(enum net_stat s);

/* "+CEREG: ..." fields for the current state; with_n for the read form. */
void net_format_cereg(const struct module *m, int n, bool with_n, char *buf, size_t size);

#endif
