/* Scratch directories for the tests: each test makes its own under /tmp
 * (so suites can run in parallel) and removes it after, and names files in
 * it. */
#ifndef BCSIM_TEST_SCRATCH_H
#define BCSIM_TEST_SCRATCH_H

#include <stddef.h>

/* Makes /tmp/bcsim-TAG-XXXXXX into dir (size bytes); fails the test if not. */
void scratch_make(char *dir, size_t size, const char *tag);

/* Removes dir and everything under it (nothing if dir is empty); fails the
 * test if something stays. */
void scratch_remove(const char *dir);

/* "dir/name", in one of 8 buffers used in turn: valid for the next 7 calls,
 * enough for one command line. */
const char *scratch_path(const char *dir, const char *name);

/* Writes `size` pseudo-random bytes, the same for the same seed, to dir/name. */
void scratch_write_pattern(const char *dir, const char *name, size_t size, unsigned seed);

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long scratch_now_ms(void);

#endif
