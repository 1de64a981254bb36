/* Strict decimal numbers, for the command line and the control protocol: one
 * parser, so that " -3", "+3", "3x", "0x10" and 99999999999999999999 are
 * refused everywhere instead of wrapping or being read in part. */
#ifndef BCSIM_NUM_H
#define BCSIM_NUM_H

#include <stdint.h>

/* Digits only, with a leading '-' or '+' only if min < 0; no blanks, nothing
 * after the digits. Returns 0 and sets *out, -EINVAL if `s` is not such a
 * number, -ERANGE if it is outside [min, max]; *out is untouched on error. */
int num_parse(const char *s, int64_t min, int64_t max, int64_t *out);

/* A positive decimal fraction, DIGITS or DIGITS.DIGITS (no sign, exponent,
 * blanks, hex or inf). Returns 0 and sets *out, or -EINVAL. */
int num_parse_decimal(const char *s, double *out);

/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int num_hex_digit(char c);

#endif
