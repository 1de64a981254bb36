/* The HTTP transport of the download interface: an HTTP/1.1 GET over libuv
 * TCP, parsed with llhttp: Content-Length, chunked and close-delimited
 * bodies, status and headers split across reads, resets, stalls, bodies
 * shorter or longer than announced. The body goes to the request's sink as it
 * arrives, paced by its link. The sink's begin() gets the announced length
 * saturated at INT64_MAX (llhttp takes up to 2^64-1). */
#ifndef BCSIM_HTTP_CLIENT_H
#define BCSIM_HTTP_CLIENT_H

#include "proto/download.h"

extern const struct dl_backend http_dl_backend;

#endif
