/* One command line -> its commands. After the "AT" prefix a line holds basic
 * commands (E0, I, &F) and extended ones (+CEREG=1), the latter separated by ';'.
 * Extended commands come in four forms: test (=?), read (?), write (=args) and
 * execute. Arguments are split at commas outside double quotes. */
#ifndef BCSIM_AT_PARSE_H
#define BCSIM_AT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_NAME_MAX 24
#define AT_ARGS_MAX 16

enum at_form { AT_FORM_EXEC, AT_FORM_TEST, AT_FORM_READ, AT_FORM_WRITE };

struct at_arg {
    const char *s; /* points into the line; not NUL-terminated */
    size_t len;
    bool quoted;
};

struct at_cmd {
    char name[AT_NAME_MAX]; /* upper case: "+CEREG", "I", "E", "&F" */
    enum at_form form;
    int argc;
    struct at_arg argv[AT_ARGS_MAX];
};

struct at_chain {
    const char *p, *end;
    bool after_extended; /* an extended command must be followed by ';' or end */
};

/* Finds the body after the "AT"/"at" prefix. Leading blanks and 8-bit noise
 * (a wake-up byte, a baud mismatch) are skipped. Returns false when the line
 * does not start with the prefix. */
bool at_line_body(const char *line, size_t len, struct at_chain *chain);

/* Returns 1 and fills cmd, 0 at the end of the line, -1 on a syntax error. */
int at_chain_next(struct at_chain *chain, struct at_cmd *cmd);

/* An argument that was left out: "AT+X=1,,3" has argv[1] omitted. */
bool at_arg_omitted(const struct at_cmd *cmd, int i);

/* Decimal integer in [min, max], unquoted. Returns 0 or -1. */
int at_arg_uint(const struct at_cmd *cmd, int i, uint32_t min, uint32_t max, uint32_t *out);

/* Quoted (or, if allow_bare, unquoted) string copied into buf. Returns 0 or -1. */
int at_arg_str(const struct at_cmd *cmd, int i, bool allow_bare, char *buf, size_t size);

#endif
