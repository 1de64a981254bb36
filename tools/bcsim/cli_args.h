/* Shared command-line helpers of the subcommands. */
#ifndef BCSIM_CLI_ARGS_H
#define BCSIM_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Matches "--name VALUE" or "--name=VALUE" at argv[*i]: 1 and *value set (and
 * *i advanced past a separate value), 0 if argv[*i] is another option, -1
 * (after printing why) if the value is missing. */
int cli_take(int argc, char **argv, int *i, const char *name, const char **value);

/* A numeric option's value, by the one strict rule of core/num.h: on error
 * prints "PROG: OPTION 'TEXT': expected a whole number from MIN to MAX" and
 * returns -1, leaving *out as it was. */
int cli_number(const char *prog, const char *option, const char *text, int64_t min, int64_t max,
               int64_t *out);

/* Whole files: read into a malloc'd buffer / written atomically. Both print a
 * one-line error naming the file and return non-zero on failure. */
int cli_read_file(const char *path, uint8_t **data, size_t *len);
int cli_write_file(const char *path, const uint8_t *data, size_t len);

/* Before long work whose result cli_write_file will write to `path`: can it
 * be created there? Creates and removes the temporary beside it, so that a
 * missing directory is reported at once and nothing is left behind; prints
 * why not and returns non-zero. */
int cli_check_output(const char *path);

/* The path of this bcsim executable (to run its own subcommands): 0, or -1. */
int cli_self_path(char *buf, size_t size);

#endif
