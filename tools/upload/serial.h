/* A serial device opened raw for AT traffic. Plain POSIX termios; no other
 * file of bcsim, like uploader.h. */
#ifndef UPL_SERIAL_H
#define UPL_SERIAL_H

#include <stdbool.h>

/* Whether the rate is one termios can set (9600 ... 921600). */
bool upl_serial_baud_ok(unsigned baud);

/* Opens path read-write, non-blocking, not as the controlling terminal,
 * raw (cfmakeraw: 8N1, no echo, no CR/LF rewriting, no flow control) at
 * baud, and discards what was waiting in its input. The fd, or -1 with errno
 * set: ENOTTY if path is not a terminal, EINVAL for a rate termios lacks. */
int upl_serial_open(const char *path, unsigned baud);

#endif
