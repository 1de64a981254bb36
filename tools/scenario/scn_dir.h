/* Directories of our own for a run: made fresh under $TMPDIR (or /tmp), and
 * removed whole afterwards. Only directories made here are ever removed. */
#ifndef BCSIM_SCN_DIR_H
#define BCSIM_SCN_DIR_H

#include <stddef.h>

#define SCN_DIR_MAX 128

/* dir (SCN_DIR_MAX bytes): PARENT/PREFIX-XXXXXX, made with mode 0700; parent
 * NULL: $TMPDIR, else /tmp. 0, or -1 with errno and dir empty. */
int scn_dir_make(char *dir, const char *parent, const char *prefix);

/* Removes a directory made by scn_dir_make and all below it (no-op for ""). */
void scn_dir_remove(const char *dir);

#endif
