/* Reports of a scenario run: the JUnit XML that CI systems read (one
 * testsuite, a testcase per scenario: failure for FAIL, error for ERROR, the
 * transcript and the seed in system-out). */
#ifndef BCSIM_SCN_REPORT_H
#define BCSIM_SCN_REPORT_H

#include "tools/scenario/scn_run.h"

#include <stddef.h>
#include <stdio.h>

struct scn_report_entry {
    const char *path;  /* the file */
    const char *title; /* the scenario's name, or the file's */
    const struct scn_result *result;
};

/* Writes the report; 0, or -1 with errno (the file is written to a temporary
 * beside it and renamed, so a failed write leaves no half report). */
int scn_report_junit(const char *path, const struct scn_report_entry *e, size_t n);

#endif
