/* Opening a file by a path that must not lead out of a directory: symbolic
 * links are followed only as long as they stay beneath it. openat2 with
 * RESOLVE_BENEATH where the kernel has it (Linux 5.6), else a walk of the
 * path one component at a time with the same rules. */
#ifndef BCSIM_BENEATH_H
#define BCSIM_BENEATH_H

/* Opens path, relative to dirfd, with open(2) flags (no O_CREAT). Absolute
 * paths, absolute link targets and ".." above dirfd are refused with -EXDEV,
 * as are procfs magic links. Returns the file descriptor or a negative errno. */
int beneath_open(int dirfd, const char *path, int flags);

/* The walk alone, whatever the kernel offers: what beneath_open does
 * without openat2, exposed so that both can be checked against each other. */
int beneath_open_walk(int dirfd, const char *path, int flags);

#endif
