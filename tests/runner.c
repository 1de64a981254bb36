/* One Check runner for the whole suite, so the last line it prints is the
 * summary CI looks for. CK_RUN_SUITE=name runs one suite (meson registers
 * one test per suite that way, see tests/meson.build); an unknown name is an
 * error rather than a run of nothing that passes. "--list NAME..." checks that
 * the names meson registers are exactly the suites here. */
#include "tests/integration/suites.h"
#include "tests/unit/corpus.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name is the one the suite gives itself (suite_create), which is what
 * CK_RUN_SUITE matches. */
#define SUITE(name)                                                                                \
    {                                                                                              \
#name, name##_suite                                                                        \
    }
static const struct {
    const char *name;
    Suite *(*make)(void);
} suites[] = {
    SUITE(at_frame),    SUITE(at_parse),      SUITE(at_engine),     SUITE(misc),
    SUITE(readme),      SUITE(url),           SUITE(formats),       SUITE(lzma2),
    SUITE(delta),       SUITE(powercut),      SUITE(patch),         SUITE(boot),
    SUITE(commands),    SUITE(cli),           SUITE(robust),        SUITE(tools),
    SUITE(fota),        SUITE(serve),         SUITE(update_faults), SUITE(hardening),
    SUITE(control),     SUITE(download),      SUITE(simctl),        SUITE(corpus),
    SUITE(coap_fota),   SUITE(coap_download), SUITE(coap_serve),    SUITE(uart_dfota),
    SUITE(upload_tool), SUITE(lwm2m_server),  SUITE(lwm2m_client),  SUITE(lwm2m_module),
    SUITE(lwm2m_host),  SUITE(lwm2m_interop), SUITE(scenario),      SUITE(scn_parse),
};
#define NSUITES (sizeof suites / sizeof suites[0])

static bool known(const char *name)
{
    for (size_t i = 0; i < NSUITES; i++)
        if (strcmp(suites[i].name, name) == 0)
            return true;
    return false;
}

/* The names given are the suites here, each once: meson's list and this one
 * agree, so no suite goes unregistered. */
static int check_list(int argc, char **argv)
{
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        if (!known(argv[i])) {
            fprintf(stderr, "bcsim-tests: no suite named \"%s\"\n", argv[i]);
            bad = 1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(argv[i], argv[j]) == 0) {
                fprintf(stderr, "bcsim-tests: suite \"%s\" given twice\n", argv[i]);
                bad = 1;
            }
    }
    for (size_t k = 0; k < NSUITES; k++) {
        bool given = false;
        for (int i = 0; i < argc; i++)
            given = given || strcmp(argv[i], suites[k].name) == 0;
        if (!given) {
            fprintf(stderr, "bcsim-tests: suite \"%s\" is not registered\n", suites[k].name);
            bad = 1;
        }
    }
    return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--list") == 0)
        return check_list(argc - 2, argv + 2);
    const char *only = getenv("CK_RUN_SUITE");
    if (only && *only && !known(only)) {
        fprintf(stderr, "bcsim-tests: CK_RUN_SUITE=%s names no suite\n", only);
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(NULL);
    for (size_t i = 0; i < NSUITES; i++)
        srunner_add_suite(sr, suites[i].make());
    /* Silent while running, so the skips can be summed up before Check's
     * summary, which must stay the last line (CI reads it). */
    srunner_run_all(sr, CK_SILENT);
    corpus_print_skips();
    fflush(stderr);
    srunner_print(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
