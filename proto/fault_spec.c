#include "proto/fault_spec.h"

#include <string.h>

static int refuse(const char **why, const char *sentence)
{
    *why = sentence;
    return -1;
}

int fault_spec_split(const char *text, const struct fault_word *words, size_t n,
                     const char *unknown, size_t path_max, struct fault_spec *out, const char **why)
{
    memset(out, 0, sizeof *out);
    const char *at = strchr(text, '@');
    size_t spec_len = at ? (size_t)(at - text) : strlen(text);
    const char *eq = memchr(text, '=', spec_len);
    size_t name_len = eq ? (size_t)(eq - text) : spec_len;
    size_t k = 0;
    while (k < n && (strlen(words[k].name) != name_len || strncmp(words[k].name, text, name_len)))
        k++;
    if (k == n)
        return refuse(why, unknown);
    out->word = &words[k];
    if (!words[k].form && eq)
        return refuse(why, "this fault takes no argument");
    if (words[k].form && !eq)
        return refuse(why, words[k].form);
    if (at && (at[1] != '/' || strlen(at + 1) >= path_max))
        return refuse(why, "expected a path after '@', starting with '/', shorter than 1024 bytes");
    out->arg = eq ? eq + 1 : NULL;
    out->arg_len = eq ? spec_len - name_len - 1 : 0;
    out->path = at ? at + 1 : NULL;
    out->spec_len = spec_len;
    return 0;
}

int fault_spec_count(const char *s, size_t len, unsigned max_digits, unsigned long long *v)
{
    if (len == 0 || len > max_digits)
        return -1;
    unsigned long long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (unsigned)(s[i] - '0');
    }
    *v = n;
    return 0;
}
