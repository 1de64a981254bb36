/* Finding the corpus, and saying visibly when it is not there (Check has no
 * skipped state: an absent test is not counted as a passed one). */
#include "tests/unit/corpus.h"
#include "tests/integration/host.h"
#include "tests/integration/scratch.h"
#include "tests/integration/suites.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int skipped;             /* tests not registered for want of the corpus */
static const char *skipped_dir; /* where the corpus was looked for */

bool corpus_path(const char *env, const char *source_root, char *out, size_t size)
{
    /* Also called while the suites are built, outside any test: no ck_assert. */
    int n = env && *env ? snprintf(out, size, "%s", env)
                        : snprintf(out, size, "%s/../shared/corpus", source_root);
    return n >= 0 && (size_t)n < size;
}

const char *corpus_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0] && !corpus_path(getenv("BCSIM_CORPUS"), SOURCE_ROOT, dir, sizeof dir))
        fprintf(stderr, "corpus: path too long: %s...\n", dir);
    return dir;
}

bool corpus_has(const char *dir, const char *const *pairs, size_t n, char *missing, size_t size)
{
    static const char *const files[] = {"old.bin", "new.bin"};
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            struct stat st;
            int len = snprintf(missing, size, "%s/%s/%s", dir, pairs[i], files[k]);
            if (len < 0 || (size_t)len >= size || stat(missing, &st) != 0 || !S_ISREG(st.st_mode))
                return false;
        }
    }
    missing[0] = '\0';
    return true;
}

/* Will Check run case `name` of suite `suite_name` (CK_RUN_SUITE, CK_RUN_CASE)? */
static bool selected(const char *suite_name, const char *name)
{
    const char *s = getenv("CK_RUN_SUITE"), *c = getenv("CK_RUN_CASE");
    return (!s || !*s || strcmp(s, suite_name) == 0) && (!c || !*c || strcmp(c, name) == 0);
}

TCase *corpus_tcase(Suite *suite, const char *suite_name, const char *name,
                    const char *const *pairs, size_t npairs, int ntests)
{
    char missing[PATH_MAX];
    if (corpus_has(corpus_dir(), pairs, npairs, missing, sizeof missing)) {
        TCase *tc = tcase_create(name);
        suite_add_tcase(suite, tc);
        return tc;
    }
    if (selected(suite_name, name)) {
        fprintf(stderr,
                "SKIP: %s/%s: %d tests not run: corpus pairs not found at %s (no %s; set "
                "BCSIM_CORPUS)\n",
                suite_name, name, ntests, corpus_dir(), missing);
        skipped_dir = corpus_dir();
        skipped += ntests;
    }
    return NULL;
}

const char *corpus_wide_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        const char *env = getenv("BCSIM_CORPUS_WIDE"), *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (env && *env)
            snprintf(dir, sizeof dir, "%s", env);
        else if (xdg && *xdg)
            snprintf(dir, sizeof dir, "%s/bcsim/corpus", xdg);
        else
            snprintf(dir, sizeof dir, "%s/.cache/bcsim/corpus", home ? home : "");
    }
    return dir;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

size_t corpus_list(const char *dir, char (*names)[CORPUS_NAME_MAX])
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && n < CORPUS_PAIRS_MAX && (e = readdir(d)) != NULL) {
        const char *pair[1] = {e->d_name};
        char missing[PATH_MAX];
        if (e->d_name[0] == '.' || strlen(e->d_name) >= CORPUS_NAME_MAX ||
            !corpus_has(dir, pair, 1, missing, sizeof missing))
            continue;
        snprintf(names[n++], CORPUS_NAME_MAX, "%s", e->d_name);
    }
    if (d)
        closedir(d);
    qsort(names, n, CORPUS_NAME_MAX, by_name);
    return n;
}

static int wide_skipped;

TCase *corpus_wide_tcase(Suite *suite, const char *suite_name, const char *name,
                         char (*names)[CORPUS_NAME_MAX], size_t *n)
{
    *n = corpus_list(corpus_wide_dir(), names);
    if (*n > 0) {
        TCase *tc = tcase_create(name);
        suite_add_tcase(suite, tc);
        return tc;
    }
    if (selected(suite_name, name)) {
        fprintf(stderr,
                "SKIP: %s/%s: not run: no pairs at %s (tools/fetch-corpus fetches them; or "
                "set BCSIM_CORPUS_WIDE)\n",
                suite_name, name, corpus_wide_dir());
        wide_skipped++;
    }
    return NULL;
}

void corpus_print_skips(void)
{
    if (skipped)
        fprintf(stderr,
                "SKIP summary: %d tests not run: corpus pairs not found at %s (set "
                "BCSIM_CORPUS)\n",
                skipped, skipped_dir);
    if (wide_skipped)
        fprintf(stderr,
                "SKIP summary: %d tests not run: no wide corpus at %s (tools/fetch-corpus)\n",
                wide_skipped, corpus_wide_dir());
}

/* ---- The lookup itself, and the runner as CI sees it ---------------------- */

static char tmp[] = "/tmp/bcsim-corpus-XXXXXX";

static void setup(void)
{
    scratch_make(tmp, sizeof tmp, "corpus");
}

static void teardown(void)
{
    scratch_remove(tmp);
}

static void mkdirs(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "mkdir -p %s/%s", tmp, rel);
    ck_assert_int_eq(system(p), 0);
}

/* A pair the corpus tests accept: new is old with a few edits. */
static void make_pair(const char *corpus, const char *pair)
{
    char p[PATH_MAX];
    static unsigned char data[20000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16 & 0x3f);
    }
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s/%s.bin", corpus, pair, k ? "new" : "old");
        FILE *f = fopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, sizeof data, f), sizeof data);
        ck_assert_int_eq(fclose(f), 0);
        for (size_t i = 100; i < sizeof data; i += 997)
            data[i] ^= 0x55;
    }
}

START_TEST(lookup_beside_the_source_tree)
{
    char want[PATH_MAX], got[PATH_MAX], missing[PATH_MAX];
    /* This runner: ../shared/corpus beside its source tree, unless overridden. */
    const char *env = getenv("BCSIM_CORPUS");
    snprintf(want, sizeof want, "%s/../shared/corpus", SOURCE_ROOT);
    ck_assert_str_eq(corpus_dir(), env && *env ? env : want);

    /* A checkout elsewhere, with the corpus beside it. */
    mkdirs("checkout");
    mkdirs("shared/corpus/p1");
    mkdirs("shared/corpus/p2");
    char root[PATH_MAX], corpus[PATH_MAX];
    snprintf(root, sizeof root, "%s/checkout", tmp);
    snprintf(corpus, sizeof corpus, "%s/shared/corpus", tmp);
    make_pair(corpus, "p1");
    ck_assert(corpus_path(NULL, root, got, sizeof got));
    snprintf(want, sizeof want, "%s/checkout/../shared/corpus", tmp);
    ck_assert_str_eq(got, want);
    ck_assert(corpus_path("", root, got, sizeof got)); /* empty is unset */
    ck_assert_str_eq(got, want);
    static const char *const pairs[] = {"p1", "p2"};
    ck_assert(corpus_has(got, pairs, 1, missing, sizeof missing));
    ck_assert(!corpus_has(got, pairs, 2, missing, sizeof missing));
    snprintf(want, sizeof want, "%s/checkout/../shared/corpus/p2/old.bin", tmp);
    ck_assert_str_eq(missing, want);

    /* BCSIM_CORPUS wins. */
    ck_assert(corpus_path("/elsewhere/corpus", root, got, sizeof got));
    ck_assert_str_eq(got, "/elsewhere/corpus");
}
END_TEST

/* Runs this test runner with CK_RUN_CASE=corpus (every case that needs the
 * corpus, and the summary) and BCSIM_CORPUS=dir; its stdout, stderr and
 * exit status. */
static int run_cases(const char *env, const char *dir, const char *tcase, char *out,
                     size_t out_size, char *err, size_t err_size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    /* Set for the child only: this test runs in a process of its own. */
    ck_assert_int_eq(setenv(env, dir, 1), 0);
    ck_assert_int_eq(setenv("CK_RUN_CASE", tcase, 1), 0);
    ck_assert_int_eq(unsetenv("CK_RUN_SUITE"), 0);
    ck_assert_int_eq(unsetenv("BCSIM_EXHAUSTIVE"), 0);
    int ofd, efd;
    pid_t pid = host_spawn((const char *[]){self, NULL}, &ofd, &efd);
    host_read_fd(ofd, out, out_size, 120000, NULL);
    host_read_fd(efd, err, err_size, 5000, NULL);
    close(ofd);
    close(efd);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_corpus_cases(const char *dir, char *out, size_t out_size, char *err, size_t err_size)
{
    return run_cases("BCSIM_CORPUS", dir, "corpus", out, out_size, err, err_size);
}

static const char *last_line(const char *s)
{
    size_t n = strlen(s);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(s[n - 1], '\n');
    const char *p = s + n - 1;
    while (p > s && p[-1] != '\n')
        p--;
    return p;
}

START_TEST(absent_corpus_is_a_visible_skip)
{
    static char out[16384], err[16384];
    char dir[128], want[600];
    snprintf(dir, sizeof dir, "%s/missing", tmp);
    ck_assert_int_eq(run_corpus_cases(dir, out, sizeof out, err, sizeof err), 0);
    ck_assert_str_eq(last_line(out), "100%: Checks: 0, Failures: 0, Errors: 0\n");
    snprintf(want, sizeof want,
             "SKIP: delta/corpus: 2 tests not run: corpus pairs not found at %s (no "
             "%s/mpy_esp8266/old.bin; set BCSIM_CORPUS)\n",
             dir, dir);
    ck_assert_msg(strstr(err, want), "%s", err);
    ck_assert_msg(strstr(err, "SKIP: powercut/corpus: 2 tests not run: corpus pairs not found"),
                  "%s", err);
    snprintf(want, sizeof want,
             "SKIP summary: 4 tests not run: corpus pairs not found at %s (set BCSIM_CORPUS)\n",
             dir);
    ck_assert_msg(strstr(err, want), "%s", err);

    /* Where the pairs are, the same tests run, and count. */
    snprintf(dir, sizeof dir, "%s/corpus", tmp);
    mkdirs("corpus/pybv11");
    mkdirs("corpus/mpy_esp8266");
    make_pair(dir, "pybv11");
    make_pair(dir, "mpy_esp8266");
    ck_assert_int_eq(run_corpus_cases(dir, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(!strstr(err, "SKIP"), "%s", err);
    ck_assert_str_eq(last_line(out), "100%: Checks: 4, Failures: 0, Errors: 0\n");
}
END_TEST

/* The wide corpus: every pair found is listed in name order, a directory
 * without new.bin is not a pair, and with none the case is a visible skip. */
START_TEST(wide_corpus_lists_pairs_and_skips_visibly)
{
    static char out[16384], err[16384];
    static char names[CORPUS_PAIRS_MAX][CORPUS_NAME_MAX];
    char dir[128], want[600];
    snprintf(dir, sizeof dir, "%s/wide", tmp);
    mkdirs("wide/b");
    mkdirs("wide/a");
    mkdirs("wide/c");
    make_pair(dir, "b");
    make_pair(dir, "a");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/c/new.bin", dir);
    make_pair(dir, "c");
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_uint_eq(corpus_list(dir, names), 2);
    ck_assert_str_eq(names[0], "a");
    ck_assert_str_eq(names[1], "b");

    ck_assert_int_eq(setenv("CK_RUN_SUITE", "powercut", 1), 0);
    ck_assert_int_eq(
        run_cases("BCSIM_CORPUS_WIDE", dir, "wide_corpus", out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(!strstr(err, "SKIP"), "%s", err);
    ck_assert_str_eq(last_line(out), "100%: Checks: 2, Failures: 0, Errors: 0\n");

    snprintf(dir, sizeof dir, "%s/none", tmp);
    ck_assert_int_eq(
        run_cases("BCSIM_CORPUS_WIDE", dir, "wide_corpus", out, sizeof out, err, sizeof err), 0);
    ck_assert_str_eq(last_line(out), "100%: Checks: 0, Failures: 0, Errors: 0\n");
    snprintf(want, sizeof want, "SKIP summary: 1 tests not run: no wide corpus at %s", dir);
    ck_assert_msg(strstr(err, want), "%s", err);
}
END_TEST

Suite *corpus_suite(void)
{
    Suite *s = suite_create("corpus");
    TCase *tc = tcase_create("lookup");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, lookup_beside_the_source_tree);
    tcase_add_test(tc, absent_corpus_is_a_visible_skip);
    tcase_add_test(tc, wide_corpus_lists_pairs_and_skips_visibly);
    suite_add_tcase(s, tc);
    return s;
}
