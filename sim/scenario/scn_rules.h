/* The module side of a scenario: its rules watch one module's events and,
 * when a trigger happens, run their actions through the run-time control API
 * (sim/control/api.h). What the module cannot do itself (the servers a
 * scenario starts, ${} values, the transcript) the caller provides through
 * scn_rules_ops, so that sim/ knows nothing of the runner.
 *
 * Actions never run inside the module's own call that published the event:
 * they start from the loop right after it (a zero timer), in the order the
 * triggers happened. */
#ifndef BCSIM_SCN_RULES_H
#define BCSIM_SCN_RULES_H

#include "sim/scenario/scn.h"

#include <stddef.h>

struct module;
struct scn_rules;

struct scn_rules_ops {
    /* Replaces ${} in `in`; 0, or -1 with a reason in why. NULL: no ${} allowed. */
    int (*expand)(void *ctx, const char *in, char *out, size_t size, char *why, size_t why_size);
    /* A server action (SCN_A_SERVER_*); 0, or -1 with a reason. NULL: none declared. */
    int (*server)(void *ctx, const struct scn_action *a, char *why, size_t why_size);
    /* A line for the transcript: a rule fired, an action ran or failed. */
    void (*log)(void *ctx, const char *line);
    void *ctx;
};

/* Attaches the rules of s (kept by the caller) to module m, which has been
 * opened and not yet powered on: `at` and `flash-op` count from now.
 * Returns 0, or -1 with a reason (out of memory, the event bus full). */
int scn_rules_start(struct scn_rules **out, struct module *m, const struct scenario *s,
                    const struct scn_rules_ops *ops, char *why, size_t why_size);

/* Runs actions [first, first + n) of s's pool now (a host's `do`): done is
 * called from the loop when the last has run, with 0 or -1 and a reason. */
typedef void (*scn_done_fn)(void *ctx, int status, const char *why);
int scn_rules_do(struct scn_rules *r, int first, int n, scn_done_fn done, void *ctx);

/* The first action that failed ("" if none): a rule's failure fails the run. */
const char *scn_rules_error(const struct scn_rules *r);

/* Detaches and frees (its timers are closed from the loop: run it once more). */
void scn_rules_stop(struct scn_rules *r);

#endif
