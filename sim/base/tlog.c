#include "sim/base/tlog.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int tlog_open(struct tlog *t, const char *path)
{
    t->f = fopen(path, "a");
    if (!t->f)
        return -errno;
    setvbuf(t->f, NULL, _IOLBF, 0);
    return 0;
}

void tlog_close(struct tlog *t)
{
    if (t->f)
        fclose(t->f);
    t->f = NULL;
}

static void stamp(FILE *f)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "%s.%03ld ", buf, (long)(tv.tv_usec / 1000));
}

size_t tlog_escape(char *out, size_t size, const char *data, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < size; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\r')
            n += (size_t)snprintf(out + n, size - n, "\\r");
        else if (c == '\n')
            n += (size_t)snprintf(out + n, size - n, "\\n");
        else if (c == '\t')
            n += (size_t)snprintf(out + n, size - n, "\\t");
        else if (c == '\\')
            n += (size_t)snprintf(out + n, size - n, "\\\\");
        else if (c < 0x20 || c >= 0x7f)
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

void tlog_bytes(struct tlog *t, enum tlog_dir dir, const char *data, size_t len)
{
    if (!t->f)
        return;
    const char *arrow = dir == TLOG_TO_MODULE ? "host -> module" : "module -> host";
    /* One log line per UART line keeps long exchanges readable. */
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;
        char esc[4 * 256 + 8];
        stamp(t->f);
        fprintf(t->f, "%s: ", arrow);
        for (size_t done = 0; done < n;) {
            size_t chunk = n - done < 256 ? n - done : 256;
            tlog_escape(esc, sizeof esc, data + done, chunk);
            fputs(esc, t->f);
            done += chunk;
        }
        fputc('\n', t->f);
        data += n;
        len -= n;
    }
}

void tlog_note(struct tlog *t, const char *text)
{
    if (!t->f)
        return;
    stamp(t->f);
    fprintf(t->f, "** %s\n", text);
}
