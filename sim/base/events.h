/* State changes are published once, here; the transcript log and the control
 * socket's event streams subscribe. Events are single JSON lines. */
#ifndef BCSIM_EVENTS_H
#define BCSIM_EVENTS_H

#include "sim/base/json.h"

#define EVT_SUBS_MAX 16
/* Room for the longest payloads whole: a 511-byte URC or a 512-byte command
 * line of bytes that are all escaped as \u00XX (6 each). Longer text would be
 * cut with JW_CUT, never broken. */
#define EVT_LINE_MAX 4096

typedef void (*evt_fn)(void *ctx, const char *json_line);

struct evt_bus {
    struct {
        evt_fn fn;
        void *ctx;
    } subs[EVT_SUBS_MAX];
    int nsubs;
    const struct clk *clk;
};

int evt_subscribe(struct evt_bus *bus, evt_fn fn, void *ctx); /* 0 or -ENOSPC */
/* Whether anyone subscribes: an event nobody hears need not be formatted. */
static inline bool evt_heard(const struct evt_bus *bus)
{
    return bus->nsubs > 0;
}
void evt_unsubscribe(struct evt_bus *bus, evt_fn fn, void *ctx);

/* Starts an event: {"t":ms,"module":source,"type":type ... ; add fields, then
 * evt_publish. Several modules may share one bus: source (the module's IMEI)
 * says which one an event comes from; NULL leaves it out. */
void evt_begin(struct evt_bus *bus, struct jw *w, char *buf, size_t size, const char *source,
               const char *type);
void evt_publish(struct evt_bus *bus, struct jw *w);

/* The common one-field case: {"t":ms,"module":source,"type":type,key:value}. */
void evt_emit(struct evt_bus *bus, const char *source, const char *type, const char *key,
              const char *value);

#endif
