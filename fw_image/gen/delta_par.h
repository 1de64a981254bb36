/* Running independent pieces of the generator's work side by side, one
 * thread each (the generator's time goes to a few big, separable jobs:
 * halves of the target, two step orders, three streams). Host only. */
#ifndef BCSIM_DELTA_PAR_H
#define BCSIM_DELTA_PAR_H

#include <stddef.h>

#define DELTA_PAR_MAX 8

/* Runs job(arg_i) for the n args (n <= DELTA_PAR_MAX), all at once, the
 * last on the calling thread; returns once all are done. Each arg is
 * `stride` bytes after the one before, starting at `args`. A job that
 * cannot get a thread runs on the caller. */
void delta_par_run(void (*job)(void *), void *args, size_t stride, size_t n);

/* How many jobs are worth running at once here: the processors online,
 * at least 1 and at most DELTA_PAR_MAX. */
size_t delta_par_width(void);

#endif
