/* JUnit XML for a scenario run. See scn_report.h. */
#include "tools/scenario/scn_report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Text as XML character data or attribute value: the five entities, and
 * control characters that XML 1.0 cannot carry replaced by '?'. */
static void xml_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            if (*p < 0x20 && *p != '\n' && *p != '\t')
                fputc('?', f);
            else if (*p >= 0x80)
                fputc('?', f); /* the transcript is ASCII; keep the file valid UTF-8 */
            else
                fputc(*p, f);
        }
    }
}

/* The class name: the file's path without ".scn", dots for slashes. */
static void class_name(FILE *f, const char *path)
{
    char c[1024];
    snprintf(c, sizeof c, "%s", path);
    size_t n = strlen(c);
    if (n > 4 && strcmp(c + n - 4, ".scn") == 0)
        c[n - 4] = '\0';
    for (char *p = c; *p; p++)
        if (*p == '/')
            *p = '.';
    xml_text(f, c);
}

int scn_report_junit(const char *path, const struct scn_report_entry *e, size_t n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    size_t failures = 0, errors = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        failures += e[i].result->verdict == SCN_FAIL;
        errors += e[i].result->verdict == SCN_ERROR;
        total += e[i].result->seconds;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"bcsim scenarios\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            n, failures, errors, total);
    fprintf(f,
            "  <testsuite name=\"bcsim scenarios\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"0\" time=\"%.3f\">\n",
            n, failures, errors, total);
    for (size_t i = 0; i < n; i++) {
        const struct scn_result *r = e[i].result;
        fputs("    <testcase classname=\"", f);
        class_name(f, e[i].path);
        fputs("\" name=\"", f);
        xml_text(f, e[i].title);
        fputs("\" file=\"", f);
        xml_text(f, e[i].path);
        fprintf(f, "\" time=\"%.3f\">\n", r->seconds);
        if (r->verdict != SCN_PASS) {
            const char *tag = r->verdict == SCN_FAIL ? "failure" : "error";
            fprintf(f, "      <%s message=\"", tag);
            xml_text(f, r->message);
            fputs("\">", f);
            xml_text(f, r->message);
            fputs("\n", f);
            xml_text(f, r->transcript);
            fprintf(f, "</%s>\n", tag);
        }
        fprintf(f, "      <system-out>seed %u, speed ", r->seed);
        xml_text(f, r->speed);
        fputs("\n", f);
        if (r->verdict == SCN_PASS)
            xml_text(f, r->transcript);
        fputs("</system-out>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    int err = ferror(f);
    if (fclose(f) != 0 || err) {
        int saved = errno;
        unlink(tmp);
        errno = saved ? saved : EIO;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}
