/* The packages a scenario declares, made by the bcsim program itself (`image
 * export`, `image make`, `pkg make`) into a cache directory, so that a run of
 * many scenarios makes each distinct package once. */
#ifndef BCSIM_SCN_PKG_H
#define BCSIM_SCN_PKG_H

#include "sim/scenario/scn.h"

#include <stddef.h>

/* Where package p of `model` is kept in cache_dir: the name says everything
 * that makes it (two packages with one name are the same bytes). 0, or -1
 * when it does not fit in size. */
int scn_pkg_path(const char *cache_dir, const char *model, const struct scn_package *p, char *path,
                 size_t size);

/* The file for package p of `model` in cache_dir, made unless it is there
 * already. self is the bcsim executable. Returns 0 with the path, or -1 with
 * a one-line reason (the tool's own error when it refused). */
int scn_pkg_make(const char *self, const char *cache_dir, const char *model,
                 const struct scn_package *p, char *path, size_t path_size, char *why,
                 size_t why_size);

#endif
