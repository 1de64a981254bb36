/* The DFOTA transcripts of cards 1 and 2, line by line, shared by the tests
 * of every download path. */
#ifndef BCSIM_TESTS_FOTA_FLOW_H
#define BCSIM_TESTS_FOTA_FLOW_H

#include "tests/integration/host.h"

#include <stdbool.h>
#include <stddef.h>

/* The boot ROM lines of the MT2625 models, NULL-terminated. */
extern const char *const flow_brom[];

/* DIR/www/NAME: a package from one built-in revision to another (extra: a
 * --break variant, or NULL). */
void flow_package(const char *dir, const char *model, const char *from, const char *to,
                  const char *name, const char *extra);

/* DIR/www/NAME of exactly `size` bytes, from built-in revision `from` to an
 * image of revision `to` made for it (card 2 section 6.2's 9272 bytes). */
void flow_package_sized(const char *dir, const char *model, const char *from, const char *to,
                        const char *name, size_t size);

/* The next non-empty line, without its line end (an echo's own CR too). */
void flow_next_line(struct host *h, char *line, size_t size);
/* Progress lines of kind `what`, strictly increasing, ending at 100%; line
 * gets the first line after them. */
void flow_progress(struct host *h, const char *what, char *line, size_t size);
void flow_expect_line(struct host *h, const char *want);
void flow_expect_brom(struct host *h, bool has);
/* From the update's START (if `start`) to the new firmware's +IP. */
void flow_expect_update(struct host *h, bool has_brom, bool start);
/* A module with an unpaced downlink (plus extra arguments), booted. */
void flow_start_module(struct bcsim_proc *p, struct host *h, const char *model,
                       const char *const *extra);
/* A module whose downloads and updates take real (if scaled) time, ATE0 set. */
void flow_start_paced(struct bcsim_proc *p, struct host *h, const char *model, const char *downlink,
                      const char *speed);
void flow_revision_is(struct host *h, const char *rev);
/* Powers a module on that a download's power cut left off: it boots with no
 * START (the partial package is not used) and runs revision rev. */
void flow_power_on_old_firmware(struct bcsim_proc *p, struct host *h, const char *rev);

/* The rest of a resumed update: to 100%, END,0 after "+CFUN: 1", the revision. */
void flow_finish_resumed(struct host *h, const char *rev);

#endif
