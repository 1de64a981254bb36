/* The README's table of supported commands says what the profiles say. */
#include "tests/integration/suites.h"
#include "sim/profile.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static char readme[1 << 20]; /* the whole README, with room to grow */

/* "I" -> "ATI", "+CGMI" -> "AT+CGMI", "&W" -> "AT&W" */
static void display(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "`AT%s`", name);
}

/* The row of the commands table for `cell`, or NULL. */
static const char *row(const char *cell)
{
    const char *begin = strstr(readme, "<!-- commands:begin -->");
    const char *end = strstr(readme, "<!-- commands:end -->");
    ck_assert_ptr_nonnull(begin);
    ck_assert_ptr_nonnull(end);
    for (const char *p = begin; (p = strstr(p, "\n| ")) && p < end; p++)
        if (strncmp(p + 3, cell, strlen(cell)) == 0 && p[3 + strlen(cell)] == ' ')
            return p + 1;
    return NULL;
}

/* Column k (0-based, after the command and forms columns) of a row. */
static bool says_yes(const char *r, int k)
{
    const char *p = r;
    for (int bars = 0; bars < 3 + k; p++)
        if (*p == '|')
            bars++;
    while (*p == ' ')
        p++;
    return strncmp(p, "yes", 3) == 0;
}

START_TEST(commands_table_matches_profiles)
{
    FILE *f = fopen(SOURCE_ROOT "/README.md", "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(readme, 1, sizeof readme - 1, f);
    ck_assert_msg(feof(f), "README.md is larger than the test's %zu bytes", sizeof readme - 1);
    readme[n] = '\0';
    fclose(f);
    for (int k = 0; prof_all[k]; k++) {
        for (int c = 0; prof_all[k]->commands[c]; c++) {
            char cell[64];
            display(prof_all[k]->commands[c], cell, sizeof cell);
            const char *r = row(cell);
            ck_assert_msg(r, "README has no row for %s", cell);
            ck_assert_msg(says_yes(r, k), "README says %s is missing on %s", cell, prof_all[k]->id);
        }
    }
    /* And every row names a command some profile answers. */
    const char *end = strstr(readme, "<!-- commands:end -->");
    for (const char *p = strstr(readme, "<!-- commands:begin -->"); (p = strstr(p, "\n| `AT"));
         p++) {
        if (p > end)
            break;
        char name[32];
        ck_assert_int_eq(sscanf(p, "\n| `AT%31[^`]`", name), 1);
        for (int k = 0; prof_all[k]; k++)
            ck_assert_msg(prof_has_command(prof_all[k], name) == says_yes(p + 1, k),
                          "README row AT%s disagrees with profile %s", name, prof_all[k]->id);
    }
}
END_TEST

Suite *readme_suite(void)
{
    Suite *s = suite_create("readme");
    TCase *tc = tcase_create("readme");
    tcase_add_test(tc, commands_table_matches_profiles);
    suite_add_tcase(s, tc);
    return s;
}
