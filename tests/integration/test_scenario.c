/* The scenario runner itself: the real bcsim binary on scenario files written
 * here. A good scenario passes; deliberately broken variants (a wrong code, a
 * line that never comes, a timeout, a rule that fails, ...) must fail with a
 * message that says what was expected and what came; a syntax error names
 * the file, line and column; a scenario that cannot run is an error, never a
 * pass; `bcsim run --scenario` loads the module side for a host of its own. */
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_MS 120000 /* a run of a few scenarios, packages included, under the sanitizers */

static char dir[200];
static char cache[200]; /* packages, made once for the whole suite */
static char out[1 << 17];

/* The output for a message: Check takes a few kilobytes at most. */
static const char *shown(void)
{
    size_t n = strlen(out);
    return n > 3000 ? out + n - 3000 : out;
}

static void make_cache(void)
{
    scratch_make(cache, sizeof cache, "scncache");
}

static void remove_cache(void)
{
    scratch_remove(cache);
}

static void setup(void)
{
    scratch_make(dir, sizeof dir, "scenario");
}

static void teardown(void)
{
    scratch_remove(dir);
}

static const char *write_scn(const char *name, const char *text)
{
    const char *p = scratch_path(dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

/* bcsim scenario run --cache CACHE ARGS...: its exit status, its output in `out`. */
static int run(const char *const *args)
{
    const char *argv[32] = {"scenario", "run", "--jobs", "2", "--cache", cache};
    int n = 6;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return bcsim_run_once(argv, out, sizeof out, RUN_MS);
}

#define HEAD                                                                                       \
    "model bc260y-cn\n"                                                                            \
    "package up.pkg from BC260YCNAAR02A02 to BC260YCNAAR02A03\n"                                   \
    "server http www\n"                                                                            \
    "await \"+IP: *\" within 30s\n"                                                                \
    "send \"ATE0\"\n"                                                                              \
    "await \"OK\"\n"

/* A whole HTTP update, as the good scenario and the base of the broken ones. */
#define UPDATE                                                                                     \
    "send \"AT+QFOTADL=\\\"${www.url}/up.pkg\\\"\"\n"                                              \
    "expect \"OK\"\n"                                                                              \
    "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPSTART\\\"\"\n"                                           \
    "lines /DOWNLOADING/\n"                                                                        \
    "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPEND\\\",0\"\n"                                           \
    "await \"+QIND: \\\"FOTA\\\",\\\"END\\\",0\" within 60s\n"                                     \
    "await \"+IP: *\"\n"

START_TEST(good_scenario_passes)
{
    const char *f =
        write_scn("good.scn", "scenario \"a good one\"\n" HEAD UPDATE "send \"AT+CGMR\"\n"
                              "expect \"Revision: BC260YCNAAR02A03\"\n"
                              "assert \"${status.fota}\" == \"idle\"\n");
    const char *junit = scratch_path(dir, "report.xml");
    ck_assert_int_eq(run((const char *[]){"--junit", junit, "--seed", "7", f, NULL}), 0);
    ck_assert_msg(strstr(out, "PASS  ") && strstr(out, "1 scenario: 1 passed, 0 failed"), "%s",
                  out);
    char xml[1 << 16];
    FILE *x = fopen(junit, "r");
    ck_assert_ptr_nonnull(x);
    size_t n = fread(xml, 1, sizeof xml - 1, x);
    fclose(x);
    xml[n] = '\0';
    ck_assert_msg(strstr(xml, "tests=\"1\" failures=\"0\" errors=\"0\"") &&
                      strstr(xml, "name=\"a good one\"") && strstr(xml, "seed 7"),
                  "%s", xml);
    /* Well-formed XML, by a real parser. */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys,xml.dom.minidom as m; m.parse(sys.argv[1])' %s",
             junit);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Broken variants: each must FAIL (exit 1) and say why, with the line. */
static const struct {
    const char *name, *body, *says;
} broken[] = {
    {"wrong-code",
     HEAD "send \"AT+QFOTADL=\\\"${www.url}/up.pkg\\\"\"\n"
          "expect \"OK\"\n"
          "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPSTART\\\"\"\n"
          "lines /DOWNLOADING/\n"
          "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPEND\\\",12\"\n",
     "line 11: expect: expected \"+QIND: \"FOTA\",\"HTTPEND\",12\", got \"+QIND: "
     "\"FOTA\",\"HTTPEND\",0\""},
    {"missing-line", HEAD UPDATE "await \"+QIND: \\\"FOTA\\\",\\\"END\\\",0\" within 2s\n",
     "line 14: await: expected \"+QIND: \"FOTA\",\"END\",0\" within 2000 ms: no line matched"},
    {"timeout", HEAD "expect \"OK\" within 500ms\n",
     "line 7: expect: expected \"OK\" within 500 ms: no line came"},
    {"rule-fails",
     "on command \"AT\" -> urc \"${no_such_value}\"\n" HEAD "send \"AT\"\n"
     "expect \"OK\"\n"
     "quiet 500ms\n",
     "a rule's action failed: line 1: unknown value ${no_such_value}"},
    {"not-quiet",
     HEAD "send \"AT\"\n"
          "quiet 2s\n",
     "line 8: quiet: \"OK\" came"},
    {"assert", HEAD "assert \"${status.fota}\" == \"downloading\"\n",
     "line 7: assert: \"idle\" == \"downloading\" is false"},
    {"regex",
     HEAD "send \"AT+CGMR\"\n"
          "expect /^Revision: BC66/\n",
     "line 8: expect: expected /^Revision: BC66/, got \"Revision: BC260YCNAAR02A02\""},
};

START_TEST(broken_variants_fail)
{
    const char *f = write_scn("broken.scn", broken[_i].body);
    int rc = run((const char *[]){f, NULL});
    ck_assert_msg(rc == 1, "%s: exit %d\n%s", broken[_i].name, rc, shown());
    ck_assert_msg(strstr(out, "FAIL  ") && strstr(out, broken[_i].says), "%s: wanted <%s>\n%s",
                  broken[_i].name, broken[_i].says, shown());
    ck_assert_msg(strstr(out, "the transcript's end:"), "%s", shown());
}
END_TEST

/* Library scenarios, each broken one way (a wrong code, a line taken out, a
 * bound too short for what the module does), must fail and say so. */
static const struct {
    const char *file, *from, *to, *says;
} library_broken[] = {
    {"bc260y_http_dl-12-not-found.scn", "\"HTTPEND\\\",12\"", "\"HTTPEND\\\",13\"",
     "line 16: expect: expected \"+QIND: \"FOTA\",\"HTTPEND\",13\", got "
     "\"+QIND: \"FOTA\",\"HTTPEND\",12\""},
    {"bc66_http_card2-6.1.scn", "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPSTART\\\"\"\n", "",
     "line 21: lines: expected lines matching /^\\+QIND: \"FOTA\",\"DOWNLOADING\",[0-9]+%$/, got "
     "\"+QIND: \"FOTA\",\"HTTPSTART\"\""},
    {"bc260y_http_dl-12-stall.scn", "\"HTTPEND\\\",12\" within 10s", "\"HTTPEND\\\",12\" within 1s",
     "line 21: expect: expected \"+QIND: \"FOTA\",\"HTTPEND\",12\" "
     "within 200 ms: no line came"},
};

START_TEST(broken_library_scenarios_fail)
{
    char src[300], text[1 << 16];
    snprintf(src, sizeof src, "%s/scenarios/%s", SOURCE_ROOT, library_broken[_i].file);
    FILE *f = fopen(src, "r");
    ck_assert_msg(f != NULL, "%s", src);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, library_broken[_i].from);
    ck_assert_msg(at != NULL, "%s: no <%s>", src, library_broken[_i].from);
    char broken_text[1 << 16];
    snprintf(broken_text, sizeof broken_text, "%.*s%s%s", (int)(at - text), text,
             library_broken[_i].to, at + strlen(library_broken[_i].from));
    const char *p = write_scn(library_broken[_i].file, broken_text);
    int rc = run((const char *[]){p, NULL});
    ck_assert_msg(rc == 1, "%s: exit %d\n%s", p, rc, shown());
    ck_assert_msg(strstr(out, library_broken[_i].says), "%s: wanted <%s>\n%s", p,
                  library_broken[_i].says, shown());
}
END_TEST

START_TEST(syntax_error_names_the_place)
{
    const char *f = write_scn("typo.scn", "model bc66\n"
                                          "send \"AT\"\n"
                                          "expct \"OK\"\n");
    ck_assert_int_eq(run((const char *[]){f, NULL}), 2);
    char want[300];
    snprintf(want, sizeof want, "%s:3:1: ", f);
    ck_assert_msg(strstr(out, want) && strstr(out, "expct"), "%s", shown());
    /* check parses only, with the same verdict. */
    ck_assert_int_eq(
        bcsim_run_once((const char *[]){"scenario", "check", f, NULL}, out, sizeof out, RUN_MS), 2);
    ck_assert_msg(strstr(out, want), "%s", shown());
}
END_TEST

START_TEST(what_cannot_run_is_an_error)
{
    const char *f = write_scn("norev.scn", "model bc66\n"
                                           "package p from BC66NBR01A07 to BC66NBR09Z99\n"
                                           "send \"AT\"\n"
                                           "expect \"OK\"\n");
    ck_assert_int_eq(run((const char *[]){f, NULL}), 3);
    ck_assert_msg(strstr(out, "ERROR ") && strstr(out, "BC66NBR09Z99") &&
                      strstr(out, "0 passed, 0 failed, 1 could not run"),
                  "%s", shown());
    const char *none = write_scn("nosteps.scn", "model bc66\non at 1s -> power cut\n");
    ck_assert_int_eq(run((const char *[]){none, NULL}), 3);
    ck_assert_msg(strstr(out, "no host steps"), "%s", shown());
}
END_TEST

/* The worst verdict decides: a failure is 1, one that could not run 3. */
START_TEST(exit_status_of_a_mixed_run)
{
    const char *good = write_scn("a.scn", HEAD "send \"AT\"\nexpect \"OK\"\n");
    const char *bad = write_scn("b.scn", HEAD "send \"AT\"\nexpect \"ERROR\"\n");
    ck_assert_int_eq(run((const char *[]){good, bad, NULL}), 1);
    ck_assert_msg(strstr(out, "2 scenarios: 1 passed, 1 failed"), "%s", shown());
    /* A directory stands for its .scn files, in name order. */
    ck_assert_int_eq(run((const char *[]){dir, NULL}), 1);
    char *pa = strstr(out, "a.scn"), *pb = strstr(out, "b.scn");
    ck_assert_msg(pa && pb && pa < pb, "%s", shown());
}
END_TEST

/* Every kind of statement once (tests/scenarios/tour.scn); its rules' logs
 * show that each trigger fired, and fired as often as it should. */
START_TEST(every_kind_of_statement_runs)
{
    int rc = run((const char *[]){"--verbose", SOURCE_ROOT "/tests/scenarios/tour.scn", NULL});
    ck_assert_msg(rc == 0, "exit %d\n%s", rc, shown());
    static const char *const logs[] = {"log: first boot", "log: powered", "log: block 1 written",
                                       "log: 8192 acknowledged", "+HELLO: 5 8677250"};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++)
        ck_assert_msg(strstr(out, logs[i]), "%s\n%s", logs[i], shown());
    int asked = 0;
    for (const char *p = out; (p = strstr(p, "log: csq asked")) != NULL; p++)
        asked++;
    ck_assert_int_eq(asked, 3); /* `repeat`: each AT+CSQ */
}
END_TEST

/* Servers that go away and come back on their port, from the host's `do`. */
START_TEST(server_stop_and_start)
{
    const char *f =
        write_scn("server.scn", HEAD "do server www stop\n"
                                     "send \"AT+QFOTADL=\\\"${www.url}/up.pkg\\\"\"\n"
                                     "expect \"OK\"\n"
                                     "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPSTART\\\"\"\n"
                                     "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPEND\\\",12\"\n"
                                     "do server www start\n" UPDATE);
    ck_assert_msg(run((const char *[]){f, NULL}) == 0, "%s", shown());
}
END_TEST

/* bcsim run --scenario: the rules and the servers, for a host of the user's. */
START_TEST(run_loads_the_module_side)
{
    const char *f =
        write_scn("side.scn", "model bc260y-cn\n"
                              "server http www\n"
                              "on command \"ATI\" -> urc \"+SCN: fired at ${www.port}\"\n"
                              "send \"AT\"\n");
    struct bcsim_proc p;
    struct host h;
    bcsim_start(&p, "bc260y-cn", (const char *[]){"--scenario", f, NULL});
    host_open(&h, p.pty);
    host_wait_ready(&h);
    char buf[4096];
    host_send(&h, "ATI\r");
    host_expect(&h, "+SCN: fired at ", buf, sizeof buf, HOST_TIMEOUT_MS);
    host_close(&h);
    ck_assert_int_eq(bcsim_stop(&p), 0);
    /* A --model that is not the scenario's is refused. */
    ck_assert_int_eq(bcsim_run_once((const char *[]){"run", "--model", "bc66", "--scenario", f,
                                                     "--state", scratch_path(dir, "st"), NULL},
                                    out, sizeof out, RUN_MS),
                     2);
    ck_assert_msg(strstr(out, "is a scenario for the bc260y-cn"), "%s", shown());
}
END_TEST

Suite *scenario_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("scenario");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, make_cache, remove_cache);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, good_scenario_passes);
    tcase_add_loop_test(tc, broken_variants_fail, 0, (int)(sizeof broken / sizeof broken[0]));
    tcase_add_loop_test(tc, broken_library_scenarios_fail, 0,
                        (int)(sizeof library_broken / sizeof library_broken[0]));
    tcase_add_test(tc, syntax_error_names_the_place);
    tcase_add_test(tc, what_cannot_run_is_an_error);
    tcase_add_test(tc, exit_status_of_a_mixed_run);
    tcase_add_test(tc, server_stop_and_start);
    tcase_add_test(tc, every_kind_of_statement_runs);
    tcase_add_test(tc, run_loads_the_module_side);
    suite_add_tcase(s, tc);
    return s;
}
