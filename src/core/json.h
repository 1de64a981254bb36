/* A tiny JSON object writer into a fixed buffer, for status replies and events.
 * Output that would not fit is cut and the writer remembers it (jw_ok). */
#ifndef BCSIM_JSON_H
#define BCSIM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw {
    char *buf;
    size_t size, len;
    bool first, overflow;
};

void jw_begin(struct jw *w, char *buf, size_t size); /* writes "{" */
void jw_str(struct jw *w, const char *key, const char *value);
void jw_strn(struct jw *w, const char *key, const char *value, size_t n);
void jw_int(struct jw *w, const char *key, int64_t value);
void jw_bool(struct jw *w, const char *key, bool value);
const char *jw_end(struct jw *w); /* writes "}" and returns the text */
bool jw_ok(const struct jw *w);

#endif
