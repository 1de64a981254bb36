#include "sim/base/events.h"

#include "sim/base/clock.h"

#include <errno.h>

int evt_subscribe(struct evt_bus *bus, evt_fn fn, void *ctx)
{
    if (bus->nsubs == EVT_SUBS_MAX)
        return -ENOSPC;
    bus->subs[bus->nsubs].fn = fn;
    bus->subs[bus->nsubs].ctx = ctx;
    bus->nsubs++;
    return 0;
}

void evt_unsubscribe(struct evt_bus *bus, evt_fn fn, void *ctx)
{
    for (int i = 0; i < bus->nsubs; i++) {
        if (bus->subs[i].fn == fn && bus->subs[i].ctx == ctx) {
            bus->subs[i] = bus->subs[--bus->nsubs];
            return;
        }
    }
}

void evt_begin(struct evt_bus *bus, struct jw *w, char *buf, size_t size, const char *source,
               const char *type)
{
    jw_begin(w, buf, size);
    jw_int(w, "t", bus->clk ? (int64_t)clk_now_ms(bus->clk) : 0);
    if (source)
        jw_str(w, "module", source);
    jw_str(w, "type", type);
}

void evt_publish(struct evt_bus *bus, struct jw *w)
{
    const char *line = jw_end(w);
    /* A subscriber may unsubscribe itself while being called: walk backwards. */
    for (int i = bus->nsubs - 1; i >= 0; i--) {
        if (i < bus->nsubs)
            bus->subs[i].fn(bus->subs[i].ctx, line);
    }
}

void evt_emit(struct evt_bus *bus, const char *source, const char *type, const char *key,
              const char *value)
{
    char buf[EVT_LINE_MAX];
    struct jw w;
    evt_begin(bus, &w, buf, sizeof buf, source, type);
    if (key)
        jw_str(&w, key, value);
    evt_publish(bus, &w);
}
