/* The --log transcript: every byte in both directions, timestamped, one log
 * line per UART line, non-printable bytes escaped. */
#ifndef BCSIM_TLOG_H
#define BCSIM_TLOG_H

#include <stddef.h>
#include <stdio.h>

enum tlog_dir { TLOG_TO_MODULE, TLOG_TO_HOST };

struct tlog {
    FILE *f;
};

int tlog_open(struct tlog *t, const char *path); /* 0 or negative errno */
void tlog_close(struct tlog *t);
void tlog_bytes(struct tlog *t, enum tlog_dir dir, const char *data, size_t len);
void tlog_note(struct tlog *t, const char *text);

/* Escapes bytes for humans: \r \n \t \\ and \xNN; returns the length written. */
size_t tlog_escape(char *out, size_t size, const char *data, size_t len);

#endif
