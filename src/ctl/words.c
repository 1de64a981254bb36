#include "words.h"

#include <string.h>

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
                    static const char from[] = "nrt\"\\", to[] = "\n\r\t\"\\";
                    const char *k = r[1] ? strchr(from, r[1]) : NULL;
                    if (!k)
                        return -1;
                    *w++ = to[k - from];
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

int words_quote(char *buf, size_t size, const char *word)
{
    /* Measure first, so a word that does not fit leaves buf as it was. */
    size_t n = strlen(buf), need = (n > 0) + 2;
    for (const char *p = word; *p; p++)
        need += strchr("\"\\\n\r\t", *p) ? 2 : 1;
    if (n + need + 1 > size)
        return -1;
    char *w = buf + n;
    if (n > 0)
        *w++ = ' ';
    *w++ = '"';
    for (const char *p = word; *p; p++) {
        static const char from[] = "\"\\\n\r\t", to[] = "\"\\nrt";
        const char *k = strchr(from, *p);
        if (k) {
            *w++ = '\\';
            *w++ = to[k - from];
        } else {
            *w++ = *p;
        }
    }
    *w++ = '"';
    *w = '\0';
    return 0;
}
