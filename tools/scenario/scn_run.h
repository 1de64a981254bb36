/* One self-contained scenario, run to its verdict in a loop of its own: the
 * servers and packages it declares, a module on a fresh state, its rules, and
 * its host steps on the module's PTY. */
#ifndef BCSIM_SCN_RUN_H
#define BCSIM_SCN_RUN_H

#include "sim/scenario/scn.h"

#include <stdbool.h>
#include <stdint.h>

enum scn_verdict { SCN_PASS, SCN_FAIL, SCN_ERROR };

#define SCN_TRANSCRIPT_MAX 98304

struct scn_result {
    enum scn_verdict verdict;
    char message[2048]; /* why it failed or could not run; "" when it passed */
    double seconds;     /* wall time */
    uint32_t seed;
    char speed[32];
    char transcript[SCN_TRANSCRIPT_MAX]; /* the end of it, one line each */
};

struct scn_run_opts {
    const char *self;      /* the bcsim executable */
    const char *cache_dir; /* packages made beforehand (scn_env_make_packages) */
    const char *speed;     /* NULL: the scenario's, else fast */
    bool has_seed;
    uint32_t seed;
    uint32_t timeout_s;   /* a scenario still running after this fails */
    const char *work_dir; /* its directory goes in here (NULL: $TMPDIR), so that the
                           * caller removes what a killed run left */
};

void scn_run(const struct scenario *s, const struct scn_run_opts *o, struct scn_result *r);

const char *scn_verdict_name(enum scn_verdict v); /* "PASS", "FAIL", "ERROR" */

#endif
