/* The CoRE link format (RFC 6690) of a registration's object list, as LwM2M
 * 1.0 section 5.3.1 uses it: </1/0>,</3/0>;ct=11543,</5>, possibly led by
 * the root or an alternate path with rt="oma.lwm2m". The server's own
 * reading of it. */
#ifndef BCSIM_LWSRV_LINK_H
#define BCSIM_LWSRV_LINK_H

#include <stddef.h>

/* Checks a registration payload of len bytes: each link a <path> whose
 * segments are object and instance ids (0 to 65535), or the root / an
 * alternate path carrying rt="oma.lwm2m"; parameters are token[=value] with
 * a token or a quoted string. Returns the number of links, or -1 with *why
 * set to a one-line reason. */
int lwsrv_link_check(const char *text, size_t len, const char **why);

#endif
