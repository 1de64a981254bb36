/* The formatting of response lines. Handlers print signal figures, states and
 * short strings (%d, %u, %s, %.Ns, %.*s, %c, %%); formatting those here costs
 * a fraction of vsnprintf's set-up, which was a third of a short command's
 * time. Any other conversion goes to vsnprintf, so every printf format works. */
#ifndef BCSIM_AT_FMT_H
#define BCSIM_AT_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* As vsnprintf: writes at most size - 1 bytes and a NUL (size > 0), and
 * returns the length the whole text has, or -1. */
int at_vfmt(char *buf, size_t size, const char *fmt, va_list ap);

#endif
