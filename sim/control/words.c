#include "sim/control/words.h"

#include <string.h>

/* The escapes of a quoted word; the same table serves `bcsim ctl`'s arguments. */
static const char esc_name[] = "nrt\"\\", esc_byte[] = "\n\r\t\"\\";

/* The byte that `\c` stands for, or -1 for no escape. */
static int unescape(char c)
{
    const char *k = c ? strchr(esc_name, c) : NULL;
    return k ? esc_byte[k - esc_name] : -1;
}

int words_split(char *line, char *argv[WORDS_MAX])
{
    int argc = 0;
    char *r = line, *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r == '\0')
            return argc;
        if (argc == WORDS_MAX)
            return -1;
        argv[argc++] = w;
        if (*r == '"') {
            for (r++;; r++) {
                if (*r == '\0')
                    return -1;
                if (*r == '"') {
                    r++;
                    break;
                }
                if (*r == '\\') {
                    int b = unescape(r[1]);
                    if (b < 0)
                        return -1;
                    *w++ = (char)b;
                    r++;
                } else {
                    *w++ = *r;
                }
            }
            if (*r != '\0' && *r != ' ' && *r != '\t')
                return -1;
        } else {
            while (*r && *r != ' ' && *r != '\t')
                *w++ = *r++;
        }
        /* w trails r; terminate the word, then both resume after the blank. */
        int more = *r != '\0';
        *w = '\0';
        if (more)
            r++;
        w = r;
    }
}

int words_unescape(const char *text, char *buf, size_t size, const char **bad)
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        int b = (unsigned char)*p;
        if (*p == '\\' && (b = unescape(p[1])) < 0) {
            *bad = p;
            return -1;
        }
        if (*p == '\\')
            p++;
        if (n + 1 >= size) {
            *bad = NULL;
            return -1;
        }
        buf[n++] = (char)b;
    }
    if (size == 0) {
        *bad = NULL;
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

int words_quote(char *buf, size_t size, const char *word)
{
    /* Measure first, so a word that does not fit leaves buf as it was. */
    size_t n = strlen(buf), need = (n > 0) + 2;
    for (const char *p = word; *p; p++)
        need += strchr(esc_byte, *p) ? 2 : 1;
    if (n + need + 1 > size)
        return -1;
    char *w = buf + n;
    if (n > 0)
        *w++ = ' ';
    *w++ = '"';
    for (const char *p = word; *p; p++) {
        const char *k = strchr(esc_byte, *p);
        if (k) {
            *w++ = '\\';
            *w++ = esc_name[k - esc_byte];
        } else {
            *w++ = *p;
        }
    }
    *w++ = '"';
    *w = '\0';
    return 0;
}
