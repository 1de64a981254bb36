/* The control protocol's word syntax, shared by the server and `bcsim ctl`:
 * words separated by blanks; double quotes group, with \" \\ \n \r \t escapes.
 * So `echo 'urc "+QIND: \"FOTA\",\"START\""' | socat - UNIX:SOCK` works too. */
#ifndef BCSIM_WORDS_H
#define BCSIM_WORDS_H

#include <stddef.h>

#define WORDS_MAX 16

/* Splits `line` in place. Returns the word count or -1 (bad quoting, too many). */
int words_split(char *line, char *argv[WORDS_MAX]);

/* Decodes the escapes of a quoted word (without its quotes) from `text` into
 * buf, so that a command-line argument means what the same text means between
 * quotes on the socket. Returns 0, or -1 with *bad at the backslash of an
 * unknown or unfinished escape (NULL: buf is too small). */
int words_unescape(const char *text, char *buf, size_t size, const char **bad);

/* Appends `word` quoted to buf; returns 0 or -1 if it does not fit. */
int words_quote(char *buf, size_t size, const char *word);

#endif
