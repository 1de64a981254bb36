/* One Check runner for the whole suite, so the last line it prints is the
 * summary CI looks for. CK_RUN_SUITE=name runs one suite. */
#include "tests/integration/suites.h"

#include <check.h>
#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(at_frame_suite());
    srunner_add_suite(sr, at_parse_suite());
    srunner_add_suite(sr, at_engine_suite());
    srunner_add_suite(sr, misc_suite());
    srunner_add_suite(sr, readme_suite());
    srunner_add_suite(sr, url_suite());
    srunner_add_suite(sr, formats_suite());
    srunner_add_suite(sr, lzma2_suite());
    srunner_add_suite(sr, delta_suite());
    srunner_add_suite(sr, powercut_suite());
    srunner_add_suite(sr, patch_suite());
    srunner_add_suite(sr, boot_suite());
    srunner_add_suite(sr, commands_suite());
    srunner_add_suite(sr, cli_suite());
    srunner_add_suite(sr, robust_suite());
    srunner_add_suite(sr, tools_suite());
    srunner_add_suite(sr, fota_suite());
    srunner_add_suite(sr, serve_suite());
    srunner_add_suite(sr, update_faults_suite());
    srunner_add_suite(sr, hardening_suite());
    srunner_add_suite(sr, control_suite());
    srunner_add_suite(sr, simctl_suite());
    srunner_add_suite(sr, corpus_suite()); /* last: it sums up the skipped tests */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
