/* The firmware pairs of the shared corpus, CORPUS/<pair>/{old,new}.bin, read
 * in place: $BCSIM_CORPUS, or ../shared/corpus beside the source tree. Tests
 * that need them are registered only where they are; elsewhere a SKIP line
 * on stderr says so, and the runner sums the skips up just before Check's
 * summary (which stays the last line). */
#ifndef BCSIM_TEST_CORPUS_H
#define BCSIM_TEST_CORPUS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* The corpus directory for a value of BCSIM_CORPUS (NULL or empty: unset)
 * and a source root; false if it does not fit. */
bool corpus_path(const char *env, const char *source_root, char *out, size_t size);

/* corpus_path(getenv("BCSIM_CORPUS"), SOURCE_ROOT), kept for the process. */
const char *corpus_dir(void);

/* Do all `n` pairs have old.bin and new.bin under dir? If not, the first
 * file missing is in `missing`. */
bool corpus_has(const char *dir, const char *const *pairs, size_t n, char *missing, size_t size);

/* For `ntests` tests of suite `suite` (named suite_name) on the corpus pairs:
 * a case named `name`, added to the suite, if the pairs are there; else NULL,
 * after the SKIP line (when Check will run that case) and counting them. */
TCase *corpus_tcase(Suite *suite, const char *suite_name, const char *name,
                    const char *const *pairs, size_t npairs, int ntests);

/* The wide corpus of tools/fetch-corpus: $BCSIM_CORPUS_WIDE, else
 * ${XDG_CACHE_HOME:-$HOME/.cache}/bcsim/corpus. */
const char *corpus_wide_dir(void);

#define CORPUS_NAME_MAX  64
#define CORPUS_PAIRS_MAX 64

/* The pairs under dir (NAME with NAME/old.bin and NAME/new.bin), sorted by
 * name, at most CORPUS_PAIRS_MAX; returns how many. */
size_t corpus_list(const char *dir, char (*names)[CORPUS_NAME_MAX]);

/* For a loop test over the wide corpus's pairs: a case named `name`, added
 * to the suite, with the pairs in `names` and their count in *n; else NULL,
 * after a SKIP line (when Check will run that case), counted as one test. */
TCase *corpus_wide_tcase(Suite *suite, const char *suite_name, const char *name,
                         char (*names)[CORPUS_NAME_MAX], size_t *n);

/* "SKIP summary: N tests not run: ..." on stderr if corpus_tcase skipped any
 * case Check was to run; the runner calls it before printing its summary. */
void corpus_print_skips(void);

#endif
