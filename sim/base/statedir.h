/* The module's persistent state directory, held with an exclusive lock so two
 * emulators never share one module's flash and NVRAM. */
#ifndef BCSIM_STATEDIR_H
#define BCSIM_STATEDIR_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct statedir {
    char path[PATH_MAX];
    int lock_fd;
};

/* $XDG_STATE_HOME/bcsim/<model>, or ~/.local/state/bcsim/<model>. */
int statedir_default(char *buf, size_t size, const char *model);

/* Creates the directory if needed (and its parents if make_parents) and
 * takes its lock. On failure returns a negative errno and writes a one-line
 * reason into `why`. */
int statedir_open(struct statedir *d, const char *path, bool make_parents, char *why,
                  size_t why_size);
void statedir_close(struct statedir *d);

/* DIR/name into buf; -ENAMETOOLONG if it does not fit. */
int statedir_file(const struct statedir *d, const char *name, char *buf, size_t size);

#endif
