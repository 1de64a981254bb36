/* A tiny JSON object writer into a fixed buffer, for status replies and events.
 * The text is always one valid JSON object, whatever is added: a string value
 * that does not fit is cut and ends with JW_CUT, a field that does not fit at
 * all is left out together with every field after it, and the writer
 * remembers it (jw_ok). Output is ASCII: bytes outside printable ASCII are
 * written as \u00XX (the AT dialect is 8-bit, not Unicode). */
#ifndef BCSIM_JSON_H
#define BCSIM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_CUT "[...]" /* ends a string value that was cut to fit */

struct jw {
    char *buf;
    size_t size, len;
    bool first, overflow, closed;
};

/* Writes "{"; a buffer needs 3 bytes for "{}" (smaller ones give ""). */
void jw_begin(struct jw *w, char *buf, size_t size);
void jw_str(struct jw *w, const char *key, const char *value);
void jw_strn(struct jw *w, const char *key, const char *value, size_t n);
void jw_int(struct jw *w, const char *key, int64_t value);
void jw_bool(struct jw *w, const char *key, bool value);
const char *jw_end(struct jw *w); /* writes "}" and returns the text */
bool jw_ok(const struct jw *w);   /* false if anything was cut or left out */

#endif
