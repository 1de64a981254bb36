#include "sim/at/at_parse.h"

#include <ctype.h>
#include <string.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || (c != '\0' && strchr("!%-./:_&", c) != NULL);
}

bool at_line_body(const char *line, size_t len, struct at_chain *chain)
{
    const char *p = line, *end = line + len;
    while (p < end && (is_blank(*p) || (unsigned char)*p >= 0x80))
        p++;
    /* V.250 accepts "AT" and "at"; the cards name both, nothing else. */
    if (end - p < 2 || !((p[0] == 'A' && p[1] == 'T') || (p[0] == 'a' && p[1] == 't')))
        return false;
    chain->p = p + 2;
    chain->end = end;
    chain->after_extended = false;
    return true;
}

static void skip_blanks(struct at_chain *c)
{
    while (c->p < c->end && is_blank(*c->p))
        c->p++;
}

/* Splits "1,"a,b",,3" into arguments; stops at ';' outside quotes. */
static int parse_args(struct at_chain *c, struct at_cmd *cmd)
{
    cmd->argc = 0;
    for (;;) {
        if (cmd->argc == AT_ARGS_MAX)
            return -1;
        struct at_arg *a = &cmd->argv[cmd->argc++];
        *a = (struct at_arg){0};
        skip_blanks(c);
        if (c->p < c->end && *c->p == '"') {
            const char *q = memchr(c->p + 1, '"', (size_t)(c->end - c->p - 1));
            if (!q)
                return -1; /* unterminated string */
            a->s = c->p + 1;
            a->len = (size_t)(q - c->p - 1);
            a->quoted = true;
            c->p = q + 1;
            skip_blanks(c);
        } else {
            a->s = c->p;
            while (c->p < c->end && *c->p != ',' && *c->p != ';' && *c->p != '"')
                c->p++;
            if (c->p < c->end && *c->p == '"')
                return -1; /* a quote in the middle of a bare value */
            a->len = (size_t)(c->p - a->s);
            while (a->len > 0 && is_blank(a->s[a->len - 1]))
                a->len--;
        }
        if (c->p == c->end || *c->p == ';')
            return 0;
        if (*c->p != ',')
            return -1; /* text after a closing quote */
        c->p++;
    }
}

static int parse_extended(struct at_chain *c, struct at_cmd *cmd)
{
    size_t n = 0;
    cmd->name[n++] = *c->p++; /* '+' */
    while (c->p < c->end && is_name_char(*c->p) && *c->p != '&') {
        if (n == AT_NAME_MAX - 1)
            return -1;
        cmd->name[n++] = (char)toupper((unsigned char)*c->p++);
    }
    cmd->name[n] = '\0';
    if (n == 1)
        return -1;
    skip_blanks(c);
    cmd->argc = 0;
    if (c->p < c->end && *c->p == '=') {
        c->p++;
        skip_blanks(c);
        if (c->p < c->end && *c->p == '?') {
            c->p++;
            cmd->form = AT_FORM_TEST;
        } else {
            cmd->form = AT_FORM_WRITE;
            if (parse_args(c, cmd) != 0)
                return -1;
        }
    } else if (c->p < c->end && *c->p == '?') {
        c->p++;
        cmd->form = AT_FORM_READ;
    } else {
        cmd->form = AT_FORM_EXEC;
    }
    skip_blanks(c);
    if (c->p < c->end && *c->p != ';')
        return -1;
    c->after_extended = true;
    return 1;
}

/* Basic commands: an optional '&', one letter, an optional number (ATE0, ATI, AT&W). */
static int parse_basic(struct at_chain *c, struct at_cmd *cmd)
{
    size_t n = 0;
    if (*c->p == '&')
        cmd->name[n++] = *c->p++;
    if (c->p == c->end || !isalpha((unsigned char)*c->p))
        return -1;
    cmd->name[n++] = (char)toupper((unsigned char)*c->p++);
    cmd->name[n] = '\0';
    cmd->form = AT_FORM_EXEC;
    cmd->argc = 0;
    const char *digits = c->p;
    while (c->p < c->end && isdigit((unsigned char)*c->p))
        c->p++;
    if (c->p > digits) {
        cmd->argc = 1;
        cmd->argv[0] = (struct at_arg){.s = digits, .len = (size_t)(c->p - digits)};
    }
    c->after_extended = false;
    return 1;
}

int at_chain_next(struct at_chain *c, struct at_cmd *cmd)
{
    skip_blanks(c);
    if (c->p < c->end && *c->p == ';') {
        c->p++;
        c->after_extended = false;
        skip_blanks(c);
    } else if (c->after_extended && c->p < c->end) {
        return -1;
    }
    if (c->p == c->end)
        return 0;
    if (*c->p == '+')
        return parse_extended(c, cmd);
    return parse_basic(c, cmd);
}

bool at_arg_omitted(const struct at_cmd *cmd, int i)
{
    return i >= cmd->argc || (cmd->argv[i].len == 0 && !cmd->argv[i].quoted);
}

int at_arg_uint(const struct at_cmd *cmd, int i, uint32_t min, uint32_t max, uint32_t *out)
{
    if (at_arg_omitted(cmd, i) || cmd->argv[i].quoted)
        return -1;
    const struct at_arg *a = &cmd->argv[i];
    uint64_t v = 0;
    for (size_t k = 0; k < a->len; k++) {
        if (!isdigit((unsigned char)a->s[k]) || k >= 10)
            return -1;
        v = v * 10 + (uint64_t)(a->s[k] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int at_arg_str(const struct at_cmd *cmd, int i, bool allow_bare, char *buf, size_t size)
{
    if (i >= cmd->argc)
        return -1;
    const struct at_arg *a = &cmd->argv[i];
    if ((!a->quoted && !allow_bare) || a->len >= size)
        return -1;
    memcpy(buf, a->s, a->len);
    buf[a->len] = '\0';
    return 0;
}
