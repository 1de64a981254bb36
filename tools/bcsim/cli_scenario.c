/* bcsim scenario run|check FILE...: self-contained scenarios to a verdict each,
 * for people and for CI (exit status, JUnit XML). Each scenario runs in a
 * child process of its own, so that one that crashes or hangs is that
 * scenario's error and no other's; several run at once with --jobs. */
#include "tools/bcsim/cli.h"
#include "tools/bcsim/cli_args.h"

#include "sim/base/clock.h"
#include "sim/scenario/scn.h"
#include "tools/scenario/scn_dir.h"
#include "tools/scenario/scn_env.h"
#include "tools/scenario/scn_pkg.h"
#include "tools/scenario/scn_report.h"
#include "tools/scenario/scn_run.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char cli_scenario_usage[] =
    "usage: bcsim scenario run [--speed S] [--seed N] [--junit FILE] [--jobs N]\n"
    "                          [--timeout S] [--cache DIR] [--verbose] FILE...\n"
    "       bcsim scenario check FILE...\n"
    "  (a FILE that is a directory stands for its *.scn files, in name order)\n"
    "\n"
    "  run        run each scenario (servers, module, host steps) to PASS, FAIL or ERROR\n"
    "  check      parse each file and report its syntax errors, run nothing\n"
    "  --speed S  realtime, fast or a factor, for every scenario (default: each file's,\n"
    "             else fast)\n"
    "  --seed N   the seed of every scenario (default: each file's, else 1)\n"
    "  --junit F  also write a JUnit XML report to F\n"
    "  --jobs N   scenarios run at once, 1-64 (default: the number of CPUs)\n"
    "  --timeout S  a scenario still running after S seconds fails (default 300)\n"
    "  --cache DIR  keep the packages made in DIR, for the next run (they are made\n"
    "             by this bcsim version: empty DIR after changing bcsim's images)\n"
    "  --verbose  print the transcript of every scenario, not only of failures\n"
    "\n"
    "Exit status: 0 every scenario passed, 1 one failed, 2 bad command line or a\n"
    "syntax error, 3 one could not run (a server that cannot start, a package that\n"
    "cannot be made).\n";

/* A scenario's process that outlives its own --timeout by this much is killed
 * (its loop is stuck: the scenario is an ERROR, with the signal). */
#define KILL_GRACE_S 30

struct entry {
    const char *path;
    char title[256];
    bool runnable;
    struct scn_result result;
    pid_t pid;
    bool done, printed;
    struct timespec started;
};

struct opts {
    const char *speed, *seed, *junit, *jobs, *timeout, *cache;
    bool verbose;
};

static int parse_opts(int argc, char **argv, struct opts *o, int *first_file)
{
    static const struct {
        const char *name;
        size_t offset;
    } valued[] = {
        {"--speed", offsetof(struct opts, speed)},     {"--seed", offsetof(struct opts, seed)},
        {"--junit", offsetof(struct opts, junit)},     {"--jobs", offsetof(struct opts, jobs)},
        {"--timeout", offsetof(struct opts, timeout)}, {"--cache", offsetof(struct opts, cache)},
    };
    int i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--verbose") == 0) {
            o->verbose = true;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof valued / sizeof valued[0]; k++) {
            const char *v;
            int r = cli_take(argc, argv, &i, valued[k].name, &v);
            if (r < 0)
                return -1;
            if (r > 0) {
                *(const char **)((char *)o + valued[k].offset) = v;
                break;
            }
        }
        if (k == sizeof valued / sizeof valued[0]) {
            fprintf(stderr, "bcsim scenario: unknown option '%s'\n%s", argv[i], cli_scenario_usage);
            return -1;
        }
    }
    *first_file = i;
    if (i == argc) {
        fprintf(stderr, "bcsim scenario: no scenario files\n%s", cli_scenario_usage);
        return -1;
    }
    return 0;
}

static void print_indented(const char *text)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        printf("      %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static void print_entry(const struct entry *e, bool verbose)
{
    const struct scn_result *r = &e->result;
    printf("%-5s %s (%.2f s)\n", scn_verdict_name(r->verdict), e->path, r->seconds);
    if (r->verdict != SCN_PASS) {
        print_indented(r->message);
        if (r->transcript[0])
            printf("      seed %u, speed %s; the transcript's end:\n", r->seed, r->speed);
    }
    if (r->transcript[0] && (verbose || r->verdict == SCN_FAIL))
        print_indented(r->transcript);
    fflush(stdout);
}

/* Makes the packages of every file that parses into the cache, `jobs`
 * processes at once: the slow part of a run that has no cache yet. Errors are
 * left for prepare(), which meets them again (at once: what failed is quick to
 * fail) and reports them per scenario. */
static void make_packages(const struct entry *e, int n, int jobs, const char *self,
                          const char *cache)
{
    /* The distinct packages first (by their cache file), so that no two
     * processes make the same one. */
    struct wanted {
        char model[16];
        struct scn_package p;
        char path[PATH_MAX];
    } *want = NULL;
    int nwant = 0;
    struct scenario *s = scn_alloc();
    for (int i = 0; s && i < n; i++) {
        struct scn_error err;
        if (scn_load(s, e[i].path, &err) != 0)
            continue;
        for (int k = 0; k < s->npackages; k++) {
            char path[PATH_MAX];
            if (scn_pkg_path(cache, s->model, &s->packages[k], path, sizeof path) != 0)
                continue; /* prepare() reports it */
            bool seen = false;
            for (int j = 0; j < nwant && !seen; j++)
                seen = strcmp(want[j].path, path) == 0;
            struct wanted *grown = seen ? want : realloc(want, (size_t)(nwant + 1) * sizeof *want);
            if (!grown)
                break;
            want = grown;
            if (!seen) {
                snprintf(want[nwant].model, sizeof want[nwant].model, "%s", s->model);
                snprintf(want[nwant].path, sizeof want[nwant].path, "%s", path);
                want[nwant++].p = s->packages[k];
            }
        }
    }
    free(s);
    fflush(NULL);
    for (int w = 0; w < jobs && w < nwant; w++) {
        if (fork() != 0)
            continue;
        for (int j = w; j < nwant; j += jobs) {
            char path[PATH_MAX], why[1024];
            scn_pkg_make(self, cache, want[j].model, &want[j].p, path, sizeof path, why,
                         sizeof why);
        }
        _exit(0);
    }
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    free(want);
}

/* Parses every file (syntax errors on stderr, as PATH:LINE:COL: MESSAGE) and
 * makes the packages of those that parse; true if all parsed. */
static bool prepare(struct entry *e, int n, const char *self, const char *cache, bool make)
{
    bool all = true;
    struct scenario *s = scn_alloc();
    if (!s) {
        fprintf(stderr, "bcsim scenario: out of memory\n");
        exit(CLI_UNAVAILABLE);
    }
    for (int i = 0; i < n; i++) {
        struct scn_error err;
        memset(s, 0, sizeof *s);
        snprintf(e[i].title, sizeof e[i].title, "%s", e[i].path);
        if (scn_load(s, e[i].path, &err) != 0) {
            all = false;
            e[i].result.verdict = SCN_ERROR;
            if (err.pos.line)
                snprintf(e[i].result.message, sizeof e[i].result.message, "%s:%d:%d: %s", e[i].path,
                         err.pos.line, err.pos.col, err.message);
            else
                snprintf(e[i].result.message, sizeof e[i].result.message, "%s: %s", e[i].path,
                         err.message);
            fprintf(stderr, "%s\n", e[i].result.message);
            e[i].done = true;
            continue;
        }
        snprintf(e[i].title, sizeof e[i].title, "%s", s->title);
        if (!make)
            continue;
        char why[1024];
        if (scn_env_make_packages(s, self, cache, why, sizeof why) != 0) {
            e[i].result.verdict = SCN_ERROR;
            snprintf(e[i].result.message, sizeof e[i].result.message, "%s", why);
            e[i].done = true;
            continue;
        }
        e[i].runnable = true;
    }
    free(s);
    return all;
}

static void run_child(const struct entry *e, const struct scn_run_opts *ro, const char *out)
{
    struct scn_result *r = calloc(1, sizeof *r);
    struct scenario *s = scn_alloc();
    struct scn_error err;
    int code = CLI_UNAVAILABLE;
    if (r && s && scn_load(s, e->path, &err) == 0) {
        scn_run(s, ro, r);
        FILE *f = fopen(out, "wb");
        if (f) {
            bool written = fwrite(r, sizeof *r, 1, f) == 1;
            if (fclose(f) == 0 && written)
                code = CLI_OK;
        }
    }
    free(r);
    free(s);
    _exit(code);
}

static void result_path(const char *work, int i, char *buf, size_t size)
{
    snprintf(buf, size, "%s/result-%d", work, i);
}

static void collect(struct entry *e, const char *work, int i, int status)
{
    char path[PATH_MAX];
    result_path(work, i, path, sizeof path);
    FILE *f = fopen(path, "rb");
    bool ok = f && fread(&e->result, sizeof e->result, 1, f) == 1;
    if (f)
        fclose(f);
    if (!ok) {
        memset(&e->result, 0, sizeof e->result);
        e->result.verdict = SCN_ERROR;
        if (WIFSIGNALED(status))
            snprintf(e->result.message, sizeof e->result.message,
                     "the scenario's process died of signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        else
            snprintf(e->result.message, sizeof e->result.message,
                     "the scenario's process exited %d without a verdict",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    e->done = true;
}

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Runs the runnable entries, `jobs` at a time, printing verdicts in file order. */
static void run_all(struct entry *e, int n, int jobs, const struct scn_run_opts *ro,
                    const char *work, bool verbose)
{
    int next = 0, running = 0, shown = 0;
    for (;;) {
        while (running < jobs && next < n) {
            if (!e[next].runnable) {
                next++;
                continue;
            }
            char out[PATH_MAX];
            result_path(work, next, out, sizeof out);
            fflush(NULL);
            clock_gettime(CLOCK_MONOTONIC, &e[next].started);
            pid_t pid = fork();
            if (pid == 0)
                run_child(&e[next], ro, out);
            if (pid < 0) {
                e[next].result.verdict = SCN_ERROR;
                snprintf(e[next].result.message, sizeof e[next].result.message, "fork: %s",
                         strerror(errno));
                e[next].done = true;
            } else {
                e[next].pid = pid;
                running++;
            }
            next++;
        }
        while (shown < n && e[shown].done) {
            print_entry(&e[shown], verbose);
            shown++;
        }
        if (running == 0 && next >= n)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pid == 0) { /* none has ended: one stuck past its own time limit is killed */
            for (int i = 0; i < n; i++)
                if (e[i].pid > 0 && !e[i].done &&
                    since(&e[i].started) > ro->timeout_s + KILL_GRACE_S)
                    kill(e[i].pid, SIGKILL);
            struct timespec tick = {0, 20 * 1000 * 1000};
            nanosleep(&tick, NULL);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (e[i].pid == pid && !e[i].done) {
                collect(&e[i], work, i, status);
                if (e[i].result.seconds == 0)
                    e[i].result.seconds = since(&e[i].started);
                running--;
            }
    }
    while (shown < n)
        print_entry(&e[shown++], verbose);
}

static int is_scn(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".scn") == 0;
}

/* The files to run: each argument, or for a directory its *.scn files in
 * name order. -1 (after a message) when a directory cannot be read or holds
 * none. The caller frees the strings and the array. */
static int expand_paths(char **args, int nargs, char ***out)
{
    char **paths = NULL;
    int n = 0;
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        struct dirent **list = NULL;
        int k = stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)
                    ? scandir(args[i], &list, is_scn, alphasort)
                    : -2;
        if (k == -1 || k == 0) {
            fprintf(stderr, "bcsim scenario: %s: %s\n", args[i],
                    k == 0 ? "no .scn files in this directory" : strerror(errno));
            free(list);
            return -1;
        }
        int add = k == -2 ? 1 : k;
        char **grown = realloc(paths, (size_t)(n + add) * sizeof *paths);
        if (!grown) {
            fprintf(stderr, "bcsim scenario: out of memory\n");
            return -1;
        }
        paths = grown;
        if (k == -2) {
            if (!(paths[n++] = strdup(args[i]))) {
                fprintf(stderr, "bcsim scenario: out of memory\n");
                return -1;
            }
            continue;
        }
        for (int j = 0; j < k; j++) {
            size_t len = strlen(args[i]) + strlen(list[j]->d_name) + 2;
            char *p = malloc(len);
            if (p)
                snprintf(p, len, "%s%s%s", args[i], args[i][strlen(args[i]) - 1] == '/' ? "" : "/",
                         list[j]->d_name);
            free(list[j]);
            if (!p) {
                fprintf(stderr, "bcsim scenario: out of memory\n");
                return -1;
            }
            paths[n++] = p;
        }
        free(list);
    }
    *out = paths;
    return n;
}

static void free_paths(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int cli_scenario(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs(cli_scenario_usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? CLI_USAGE : CLI_OK;
    }
    bool check = strcmp(argv[0], "check") == 0;
    if (!check && strcmp(argv[0], "run") != 0) {
        fprintf(stderr, "bcsim scenario: unknown command '%s' (run, check)\n", argv[0]);
        return CLI_USAGE;
    }
    struct opts o = {0};
    int first;
    if (parse_opts(argc - 1, argv + 1, &o, &first) != 0)
        return CLI_USAGE;
    first++;
    struct scn_run_opts ro = {.speed = o.speed, .timeout_s = 300};
    int64_t v;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int jobs = cpus > 0 && cpus <= 64 ? (int)cpus : 1;
    if (o.seed) {
        if (cli_number("bcsim scenario", "--seed", o.seed, 0, UINT32_MAX, &v) != 0)
            return CLI_USAGE;
        ro.has_seed = true;
        ro.seed = (uint32_t)v;
    }
    if (o.jobs) {
        if (cli_number("bcsim scenario", "--jobs", o.jobs, 1, 64, &v) != 0)
            return CLI_USAGE;
        jobs = (int)v;
    }
    if (o.timeout) {
        if (cli_number("bcsim scenario", "--timeout", o.timeout, 1, 86400, &v) != 0)
            return CLI_USAGE;
        ro.timeout_s = (uint32_t)v;
    }
    if (o.speed) {
        struct clk c;
        if (clk_parse(&c, o.speed) != 0) {
            fprintf(stderr, "bcsim scenario: --speed %s: expected realtime, fast or a number\n",
                    o.speed);
            return CLI_USAGE;
        }
    }
    char **paths = NULL;
    int n = expand_paths(argv + first, argc - first, &paths);
    if (n < 0)
        return CLI_USAGE;
    struct entry *e = calloc((size_t)n, sizeof *e);
    if (!e) {
        fprintf(stderr, "bcsim scenario: out of memory\n");
        free_paths(paths, n);
        return CLI_UNAVAILABLE;
    }
    for (int i = 0; i < n; i++)
        e[i].path = paths[i];
    if (check) {
        bool ok = prepare(e, n, NULL, NULL, false);
        free_paths(paths, n);
        free(e);
        return ok ? CLI_OK : CLI_USAGE;
    }

    char self[PATH_MAX], work[SCN_DIR_MAX];
    if (cli_self_path(self, sizeof self) != 0 || scn_dir_make(work, NULL, "bcsim-scenarios") != 0) {
        fprintf(stderr, "bcsim scenario: cannot make a work directory: %s\n", strerror(errno));
        free_paths(paths, n);
        free(e);
        return CLI_UNAVAILABLE;
    }
    ro.self = self;
    /* Packages go to --cache (kept for the next run) or to the work directory. */
    const char *cache = o.cache ? o.cache : work;
    if (o.cache && mkdir(o.cache, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bcsim scenario: --cache %s: %s\n", o.cache, strerror(errno));
        scn_dir_remove(work);
        free_paths(paths, n);
        free(e);
        return CLI_UNAVAILABLE;
    }
    ro.cache_dir = cache;
    ro.work_dir = work;
    signal(SIGPIPE, SIG_IGN);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    make_packages(e, n, jobs, self, cache);
    bool parsed = prepare(e, n, self, cache, true);
    run_all(e, n, jobs, &ro, work, o.verbose);

    int pass = 0, fail = 0, error = 0;
    for (int i = 0; i < n; i++) {
        pass += e[i].result.verdict == SCN_PASS;
        fail += e[i].result.verdict == SCN_FAIL;
        error += e[i].result.verdict == SCN_ERROR;
    }
    printf("%d scenario%s: %d passed, %d failed, %d could not run (%.1f s)\n", n, n == 1 ? "" : "s",
           pass, fail, error, since(&t0));
    int code = !parsed ? CLI_USAGE : error ? CLI_UNAVAILABLE : fail ? CLI_FAILED : CLI_OK;
    if (o.junit) {
        struct scn_report_entry *re = calloc((size_t)n, sizeof *re);
        for (int i = 0; re && i < n; i++)
            re[i] = (struct scn_report_entry){e[i].path, e[i].title, &e[i].result};
        if (!re || scn_report_junit(o.junit, re, (size_t)n) != 0) {
            fprintf(stderr, "bcsim scenario: cannot write %s: %s\n", o.junit, strerror(errno));
            code = code == CLI_OK ? CLI_UNAVAILABLE : code;
        }
        free(re);
    }
    scn_dir_remove(work); /* ours: made by scn_dir_make */
    free_paths(paths, n);
    free(e);
    return code;
}
