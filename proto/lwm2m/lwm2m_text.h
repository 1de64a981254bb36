/* The plain-text format (OMA-TS-LightweightM2M-V1_0 section 6.4.1,
 * Content-Format 0) of single resource values: integers and times in
 * decimal, floats in decimal (the shortest that reads back the same),
 * booleans "0" or "1", object links "obj:inst", strings as they are. Opaque
 * values travel as Content-Format 42, their bytes as they are (6.4.2): not
 * here. */
#ifndef BCSIM_LWM2M_TEXT_H
#define BCSIM_LWM2M_TEXT_H

#include "proto/lwm2m/lwm2m_value.h"

#include <stddef.h>

/* v as text into out; returns its length, or -1 if v has no text form
 * (OPAQUE, MULTIPLE) or does not fit in size. */
int lwm2m_text_format(const struct lwm2m_value *v, char *out, size_t size);

/* The len bytes at p as a value of type: 0, or -1 if they are not one (an
 * integer out of range, "2" for a boolean, OPAQUE or MULTIPLE asked). A
 * string points at p. */
int lwm2m_text_parse(const uint8_t *p, size_t len, enum lwm2m_type type, struct lwm2m_value *v);

#endif
