/* What a client answered, as text: the payload of a read or notification
 * (plain text, opaque, TLV) cut into one value per resource (instance), each
 * printed by the type LwM2M 1.0 Appendix E gives the resource in Objects 1,
 * 3 and 5, or guessed for others. */
#ifndef BCSIM_LWSRV_VALUES_H
#define BCSIM_LWSRV_VALUES_H

#include <stddef.h>
#include <stdint.h>

/* Content-Formats of LwM2M 1.0 (section 6.4). */
enum {
    LWSRV_CF_TEXT = 0,
    LWSRV_CF_LINK = 40,
    LWSRV_CF_OPAQUE = 42,
    LWSRV_CF_TLV = 11542,
    LWSRV_CF_JSON = 11543,
};

/* The resource types of Appendix E. */
enum lwsrv_type {
    LWSRV_T_UNKNOWN,
    LWSRV_T_STRING,
    LWSRV_T_INTEGER,
    LWSRV_T_FLOAT,
    LWSRV_T_BOOLEAN,
    LWSRV_T_OPAQUE,
    LWSRV_T_TIME,
    LWSRV_T_OBJLNK,
};

/* A path /O[/I[/R[/RI]]] parsed: 1 to 4 ids, each 0 to 65535. */
struct lwsrv_path {
    uint16_t id[4];
    int depth;
};

int lwsrv_path_parse(const char *text, struct lwsrv_path *p);
void lwsrv_path_format(const struct lwsrv_path *p, char *buf, size_t size);

enum lwsrv_type lwsrv_type_of(uint16_t object, uint16_t resource);

/* Name for the output ("text", "tlv", ...) and back; -1 if unknown. */
const char *lwsrv_format_name(int format);
int lwsrv_format_parse(const char *name);

/* Called once per value: its full path and the value printed. */
typedef void (*lwsrv_value_fn)(void *arg, const char *path, const char *value);

/* Cuts payload (format, answering a request on `base`) into values. Returns
 * the number of values, or -1 with *why when the TLV is malformed or names
 * paths the request cannot have. */
int lwsrv_values(const struct lwsrv_path *base, int format, const uint8_t *payload, size_t len,
                 lwsrv_value_fn fn, void *arg, const char **why);

/* Bytes as text for a line of output: controls, backslash and bytes that
 * are not well-formed UTF-8 escaped (\n, \r, \t, \\, \xNN), at most size-1
 * characters. */
void lwsrv_escape(const uint8_t *s, size_t len, char *out, size_t size);

#endif
