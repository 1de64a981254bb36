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
    size_t n = strlen(buf);
    if (n + 3 > size)
        return -1;
    if (n > 0)
        buf[n++] = ' ';
    buf[n++] = '"';
    for (const char *p = word; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        }
        size_t k = esc ? 2 : 1;
        if (n + k + 2 > size)
            return -1;
        if (esc)
            memcpy(buf + n, esc, 2);
        else
            buf[n] = *p;
        n += k;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return 0;
}
