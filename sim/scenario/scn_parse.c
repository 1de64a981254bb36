/* The scenario language of scenarios/README.md: a line is cut into tokens
 * (words, strings, /regexes/, `;`), then its first word picks the statement.
 * Everything is checked here that can be without running; the first error
 * ends the parse. */
#include "sim/scenario/scn.h"

#include "sim/base/num.h"

#include "proto/coap_server.h"
#include "proto/http_server.h"
#include "proto/resolve.h"
#include "sim/base/clock.h"
#include "sim/control/api.h"
#include "sim/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COUNT(a)     (sizeof(a) / sizeof((a)[0]))
#define SCN_FILE_MAX (1024 * 1024)
#define LINE_TOKENS  128
#define NUMBER_MAX   4294967295u

enum tok_kind { TOK_WORD, TOK_STRING, TOK_REGEX, TOK_SEMI };

struct tok {
    enum tok_kind kind;
    char *s;    /* unescaped, NUL-terminated (a string may hold NULs before it) */
    size_t len; /* bytes in s */
    int col;
};

struct parser {
    struct scenario *s;
    struct scn_error *err;
    char *arena; /* the tokens' text; unescaping never makes a token longer */
    struct tok t[LINE_TOKENS];
    int n, i;                 /* tokens of this line, the next one */
    int line;                 /* 1-based */
    int end_col;              /* where the line's statement ends (a comment or the end) */
    bool seen[6];             /* declarations given once: scenario model speed seed link boot */
    struct resolver resolver; /* the resolve mappings, to refuse a duplicate */
    struct resolver scratch;  /* to check one side of a mapping alone */
};

static int fail(struct parser *p, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, int col, const char *fmt, ...)
{
    p->err->pos.line = p->line;
    p->err->pos.col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- Tokens -----------------------------------------------------------------------------------
 */

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* A "...", from *q (at the quote) to after the closing quote, into out. */
static int lex_string(struct parser *p, const char *line, const char **q, char *out, size_t *len)
{
    const char *c = *q + 1;
    size_t n = 0;
    for (;;) {
        if (*c == '\0' || *c == '\n')
            return fail(p, (int)(*q - line) + 1, "unterminated string");
        if (*c == '"')
            break;
        char b = *c;
        if (b == '\\') {
            int col = (int)(c - line) + 1;
            switch (c[1]) {
            case '"':
                b = '"';
                break;
            case '\\':
                b = '\\';
                break;
            case 'n':
                b = '\n';
                break;
            case 'r':
                b = '\r';
                break;
            case 't':
                b = '\t';
                break;
            case 'x': {
                int hi = num_hex_digit(c[2]), lo = hi < 0 ? -1 : num_hex_digit(c[3]);
                if (hi < 0 || lo < 0)
                    return fail(p, col, "expected two hex digits after \\x");
                b = (char)(hi * 16 + lo);
                c += 2;
                break;
            }
            default:
                return fail(p, col,
                            "unknown escape \\%c (\\\" \\\\ \\n \\r \\t \\xHH are the escapes)",
                            c[1] > ' ' && c[1] < 127 ? c[1] : '?');
            }
            c++;
        }
        out[n++] = b;
        c++;
    }
    if (n >= SCN_TEXT_MAX)
        return fail(p, (int)(*q - line) + 1, "string longer than %d bytes", SCN_TEXT_MAX - 1);
    out[n] = '\0';
    *len = n;
    *q = c + 1;
    return 0;
}

/* A /regex/: \/ stands for a slash, every other backslash stays for regcomp. */
static int lex_regex(struct parser *p, const char *line, const char **q, char *out, size_t *len)
{
    const char *c = *q + 1;
    size_t n = 0;
    for (;;) {
        if (*c == '\0' || *c == '\n')
            return fail(p, (int)(*q - line) + 1, "unterminated regex (expected a closing /)");
        if (*c == '/')
            break;
        if (c[0] == '\\' && c[1] == '/')
            c++;
        else if (c[0] == '\\' && c[1] != '\0' && c[1] != '\n')
            out[n++] = *c++;
        out[n++] = *c++;
    }
    if (n >= SCN_TEXT_MAX)
        return fail(p, (int)(*q - line) + 1, "regex longer than %d bytes", SCN_TEXT_MAX - 1);
    out[n] = '\0';
    *len = n;
    *q = c + 1;
    return 0;
}

/* Cuts the line starting at `line` into p->t. */
static int lex_line(struct parser *p, const char *line)
{
    char *out = p->arena;
    const char *c = line;
    p->n = p->i = 0;
    for (;;) {
        while (blank(*c))
            c++;
        if (*c == '\0' || *c == '\n' || *c == '#')
            break;
        if (p->n == LINE_TOKENS)
            return fail(p, (int)(c - line) + 1, "more than %d words on a line", LINE_TOKENS);
        struct tok *t = &p->t[p->n++];
        t->col = (int)(c - line) + 1;
        t->s = out;
        if (*c == '"') {
            t->kind = TOK_STRING;
            if (lex_string(p, line, &c, out, &t->len) != 0)
                return -1;
        } else if (*c == '/') {
            t->kind = TOK_REGEX;
            if (lex_regex(p, line, &c, out, &t->len) != 0)
                return -1;
        } else if (*c == ';') {
            t->kind = TOK_SEMI;
            out[0] = ';';
            out[1] = '\0';
            t->len = 1;
            c++;
        } else {
            t->kind = TOK_WORD;
            size_t n = 0;
            while (*c && *c != '\n' && !blank(*c) && *c != '"' && *c != '#' && *c != ';')
                out[n++] = *c++;
            out[n] = '\0';
            t->len = n;
        }
        out += t->len + 1;
    }
    p->end_col = (int)(c - line) + 1;
    return 0;
}

/* ---- Token helpers ----------------------------------------------------------------------------
 */

static struct tok *peek(struct parser *p)
{
    return p->i < p->n && p->t[p->i].kind != TOK_SEMI ? &p->t[p->i] : NULL;
}

static int col_here(struct parser *p)
{
    return p->i < p->n ? p->t[p->i].col : p->end_col;
}

/* "got ..." for the token where something else was expected. */
static int fail_got(struct parser *p, const char *expected)
{
    if (p->i >= p->n)
        return fail(p, p->end_col, "expected %s, got the end of the line", expected);
    const struct tok *t = &p->t[p->i];
    switch (t->kind) {
    case TOK_SEMI:
        return fail(p, t->col, "expected %s, got \";\"", expected);
    case TOK_REGEX:
        return fail(p, t->col, "expected %s, got the regex /%.60s/", expected, t->s);
    case TOK_STRING:
        return fail(p, t->col, "expected %s, got the string \"%.60s\"", expected, t->s);
    default:
        return fail(p, t->col, "expected %s, got \"%.60s\"", expected, t->s);
    }
}

static bool is_word(struct parser *p, const char *w)
{
    const struct tok *t = peek(p);
    return t && t->kind == TOK_WORD && strcmp(t->s, w) == 0;
}

static struct tok *take_word(struct parser *p, const char *expected)
{
    struct tok *t = peek(p);
    if (!t || t->kind != TOK_WORD) {
        fail_got(p, expected);
        return NULL;
    }
    p->i++;
    return t;
}

/* A word that must fit `size` bytes. */
static int take_word_into(struct parser *p, const char *expected, char *out, size_t size)
{
    struct tok *t = take_word(p, expected);
    if (!t)
        return -1;
    if (t->len >= size)
        return fail(p, t->col, "\"%.40s...\" is too long (at most %zu characters)", t->s, size - 1);
    memcpy(out, t->s, t->len + 1);
    return 0;
}

static int take_string(struct parser *p, const char *expected, char *out, size_t size, size_t *len)
{
    struct tok *t = peek(p);
    if (!t || t->kind != TOK_STRING)
        return fail_got(p, expected);
    if (t->len >= size)
        return fail(p, t->col, "string longer than %zu bytes", size - 1);
    memcpy(out, t->s, t->len + 1);
    if (len)
        *len = t->len;
    p->i++;
    return 0;
}

static int end_of_statement(struct parser *p)
{
    if (p->i < p->n)
        return fail_got(p, "the end of the line");
    return 0;
}

/* Decimal digits only, 0..NUMBER_MAX; *rest gets what follows them. */
static bool digits(const char *s, uint64_t *out, const char **rest)
{
    uint64_t v = 0;
    const char *c = s;
    while (*c >= '0' && *c <= '9') {
        v = v * 10 + (uint64_t)(*c - '0');
        if (v > NUMBER_MAX)
            return false;
        c++;
    }
    if (c == s)
        return false;
    *out = v;
    *rest = c;
    return true;
}

static int take_number(struct parser *p, uint64_t min, uint64_t max, const char *what,
                       uint64_t *out)
{
    char expected[96];
    snprintf(expected, sizeof expected, "%s (a number from %llu to %llu)", what,
             (unsigned long long)min, (unsigned long long)max);
    struct tok *t = peek(p);
    const char *rest;
    uint64_t v;
    if (!t || t->kind != TOK_WORD || !digits(t->s, &v, &rest) || *rest || v < min || v > max)
        return fail_got(p, expected);
    p->i++;
    *out = v;
    return 0;
}

static bool duration_of(const char *s, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    const char *rest;
    uint64_t v;
    if (!digits(s, &v, &rest))
        return false;
    for (size_t k = 0; k < COUNT(units); k++)
        if (strcmp(rest, units[k].unit) == 0) {
            *ms = v * units[k].ms; /* v < 2^32, the factor < 2^22: no overflow */
            return true;
        }
    return false;
}

static int take_duration(struct parser *p, uint64_t *ms)
{
    struct tok *t = peek(p);
    if (!t || t->kind != TOK_WORD || !duration_of(t->s, ms))
        return fail_got(p, "a duration such as 5s or 500ms");
    p->i++;
    return 0;
}

static bool percent_of(const char *s, uint64_t *out)
{
    const char *rest;
    uint64_t v;
    if (!digits(s, &v, &rest) || strcmp(rest, "%") != 0 || v > 100)
        return false;
    *out = v;
    return true;
}

static int take_pattern(struct parser *p, struct scn_pattern *pat)
{
    struct tok *t = peek(p);
    if (!t || (t->kind != TOK_STRING && t->kind != TOK_REGEX))
        return fail_got(p, "a pattern (\"text with * wildcards\" or /regex/)");
    pat->regex = t->kind == TOK_REGEX;
    pat->pos.line = p->line;
    pat->pos.col = t->col;
    memcpy(pat->text, t->s, t->len + 1); /* the lexer kept it under SCN_TEXT_MAX */
    if (pat->regex && !strstr(t->s, "${")) {
        regex_t re;
        int e = regcomp(&re, t->s, REG_EXTENDED);
        if (e != 0) {
            char why[128];
            regerror(e, &re, why, sizeof why);
            return fail(p, t->col, "bad regex: %s", why);
        }
        regfree(&re);
    }
    p->i++;
    return 0;
}

/* [A-Za-z_][A-Za-z0-9_]* and shorter than SCN_NAME_MAX, with `dash` also '-'. */
static bool good_name(const char *s, bool dash)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SCN_NAME_MAX ||
        !(s[0] == '_' || ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')))
        return false;
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        bool ok = c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || (dash && c == '-');
        if (!ok)
            return false;
    }
    return true;
}

/* ---- Lookups ----------------------------------------------------------------------------------
 */

static const struct scn_server *server_named(const struct scenario *s, const char *name)
{
    for (int k = 0; k < s->nservers; k++)
        if (strcmp(s->servers[k].name, name) == 0)
            return &s->servers[k];
    return NULL;
}

static const struct scn_package *package_named(const struct scenario *s, const char *name)
{
    for (int k = 0; k < s->npackages; k++)
        if (strcmp(s->packages[k].name, name) == 0)
            return &s->packages[k];
    return NULL;
}

static const struct scn_server *take_server(struct parser *p)
{
    struct tok *t = take_word(p, "a server's name");
    if (!t)
        return NULL;
    const struct scn_server *srv = server_named(p->s, t->s);
    if (!srv)
        fail(p, t->col, "server \"%.64s\" is not declared", t->s);
    return srv;
}

/* One server fault, checked by the parser of the server that will apply it. */
static int take_server_fault(struct parser *p, enum scn_server_kind kind, char *out, size_t size)
{
    struct tok *t = take_word(p, "a server fault");
    if (!t)
        return -1;
    const char *why = NULL;
    int e;
    if (kind == SCN_SERVER_HTTP) {
        struct http_srv_fault f;
        e = http_srv_fault_parse(t->s, &f, &why);
    } else {
        struct coap_srv_fault f;
        e = coap_srv_fault_parse(t->s, &f, &why);
    }
    if (e != 0)
        return fail(p, t->col, "bad %s server fault \"%.64s\": %s",
                    kind == SCN_SERVER_HTTP ? "http" : "coap", t->s, why ? why : "refused");
    if (t->len >= size)
        return fail(p, t->col, "server fault longer than %zu characters", size - 1);
    memcpy(out, t->s, t->len + 1);
    return 0;
}

static int take_server_faults(struct parser *p, enum scn_server_kind kind, char faults[][96],
                              int *nfaults)
{
    while (peek(p)) {
        if (*nfaults == SCN_FAULTS_MAX)
            return fail(p, col_here(p), "more than %d server faults", SCN_FAULTS_MAX);
        if (take_server_fault(p, kind, faults[*nfaults], 96) != 0)
            return -1;
        (*nfaults)++;
    }
    return 0;
}

/* ---- Actions ----------------------------------------------------------------------------------
 */

static int action_signal(struct parser *p, struct scn_action *a)
{
    if (is_word(p, "reset")) {
        p->i++;
        a->kind = SCN_A_SIGNAL_RESET;
        return 0;
    }
    a->kind = SCN_A_SIGNAL;
    size_t used = 0;
    if (!peek(p))
        return fail_got(p, "FIELD=VALUE (rxlev ber rscp ecno rsrq rsrp rssi csq_ber) or reset");
    while (peek(p)) {
        struct tok *t = take_word(p, "FIELD=VALUE");
        if (!t)
            return -1;
        char *eq = strchr(t->s, '=');
        char field[32];
        size_t flen = eq ? (size_t)(eq - t->s) : 0;
        if (!eq || flen >= sizeof field)
            return fail(p, t->col, "expected FIELD=VALUE, got \"%.60s\"", t->s);
        memcpy(field, t->s, flen);
        field[flen] = '\0';
        const struct simctl_signal_field *f = simctl_signal_field_find(field);
        if (!f)
            return fail(p, t->col,
                        "unknown signal field \"%s\" (rxlev, ber, rscp, ecno, rsrq, rsrp, rssi, "
                        "csq_ber)",
                        field);
        uint64_t v;
        const char *rest;
        if (!digits(eq + 1, &v, &rest) || *rest ||
            (v > (uint64_t)f->max && v != (uint64_t)f->unknown))
            return fail(p, t->col + (int)flen + 1,
                        "expected a value of %s from 0 to %d or %d (unknown), got \"%.20s\"",
                        f->name, f->max, f->unknown, eq + 1);
        if (used + t->len + 2 > sizeof a->text)
            return fail(p, t->col, "signal: too long");
        if (used)
            a->text[used++] = ' ';
        memcpy(a->text + used, t->s, t->len + 1);
        used += t->len;
    }
    return 0;
}

static int action_fault(struct parser *p, struct scn_action *a)
{
    char faults[512];
    simctl_fault_usage(faults, sizeof faults);
    char expected[600];
    snprintf(expected, sizeof expected, "a fault (%s)", faults);
    struct tok *t = take_word(p, expected);
    if (!t)
        return -1;
    const struct simctl_fault_desc *d = simctl_fault_find(t->s);
    if (!d)
        return fail(p, t->col, "unknown fault \"%.60s\" (%s)", t->s, faults);
    a->kind = SCN_A_FAULT;
    snprintf(a->word, sizeof a->word, "%s", d->name);
    if (!d->arg)
        return 0;
    if (!peek(p) && d->optional)
        return 0;
    char what[64];
    snprintf(what, sizeof what, "fault %s's %s", d->name, d->arg);
    return take_number(p, SIMCTL_FAULT_MIN, SIMCTL_FAULT_MAX, what, &a->n);
}

static int action_server(struct parser *p, struct scn_action *a)
{
    int col = col_here(p);
    const struct scn_server *srv = take_server(p);
    if (!srv)
        return -1;
    if (srv->kind != SCN_SERVER_HTTP && srv->kind != SCN_SERVER_COAP)
        return fail(p, col,
                    "server \"%s\" is not an http or coap server: it takes no faults, "
                    "clear, stop or start",
                    srv->name);
    snprintf(a->server, sizeof a->server, "%s", srv->name);
    if (is_word(p, "clear") || is_word(p, "stop") || is_word(p, "start")) {
        const char *w = p->t[p->i++].s;
        a->kind = w[0] == 'c'   ? SCN_A_SERVER_CLEAR
                  : w[2] == 'o' ? SCN_A_SERVER_STOP
                                : SCN_A_SERVER_START;
        return 0;
    }
    a->kind = SCN_A_SERVER_FAULT;
    if (!peek(p))
        return fail_got(p, "a server fault, clear, stop or start");
    return take_server_faults(p, srv->kind, a->faults, &a->nfaults);
}

static int parse_action(struct parser *p, struct scn_action *a)
{
    memset(a, 0, sizeof *a);
    a->pos.line = p->line;
    a->pos.col = col_here(p);
    struct tok *t = take_word(p, "an action (power net dns signal fault override urc server wait "
                                 "log)");
    if (!t)
        return -1;
    const char *w = t->s;
    if (strcmp(w, "power") == 0) {
        enum simctl_power pw;
        struct tok *v = take_word(p, "on, off, cycle or cut");
        if (!v)
            return -1;
        if (simctl_power_find(v->s, &pw) != 0) {
            p->i--;
            return fail_got(p, "on, off, cycle or cut");
        }
        a->kind = SCN_A_POWER;
        snprintf(a->word, sizeof a->word, "%s", v->s);
    } else if (strcmp(w, "net") == 0) {
        enum simctl_net nt;
        struct tok *v = take_word(p, "attach, detach or deny");
        if (!v)
            return -1;
        if (simctl_net_find(v->s, &nt) != 0) {
            p->i--;
            return fail_got(p, "attach, detach or deny");
        }
        a->kind = SCN_A_NET;
        snprintf(a->word, sizeof a->word, "%s", v->s);
    } else if (strcmp(w, "dns") == 0) {
        if (!is_word(p, "fail") && !is_word(p, "ok"))
            return fail_got(p, "fail or ok");
        a->kind = SCN_A_DNS;
        a->flag = strcmp(p->t[p->i++].s, "fail") == 0;
    } else if (strcmp(w, "signal") == 0) {
        if (action_signal(p, a) != 0)
            return -1;
    } else if (strcmp(w, "fault") == 0) {
        if (action_fault(p, a) != 0)
            return -1;
    } else if (strcmp(w, "override") == 0) {
        if (is_word(p, "clear")) {
            p->i++;
            a->kind = SCN_A_OVERRIDE_CLEAR;
        } else {
            a->kind = SCN_A_OVERRIDE;
            if (take_string(p, "the command (a string) or clear", a->text, sizeof a->text, NULL) !=
                    0 ||
                take_string(p, "the reply (a string)", a->text2, sizeof a->text2, NULL) != 0)
                return -1;
            if (is_word(p, "once")) {
                p->i++;
                a->flag = true;
            }
        }
    } else if (strcmp(w, "urc") == 0) {
        a->kind = SCN_A_URC;
        if (take_string(p, "the URC (a string)", a->text, sizeof a->text, NULL) != 0)
            return -1;
    } else if (strcmp(w, "server") == 0) {
        if (action_server(p, a) != 0)
            return -1;
    } else if (strcmp(w, "wait") == 0) {
        a->kind = SCN_A_WAIT;
        if (take_duration(p, &a->ms) != 0)
            return -1;
    } else if (strcmp(w, "log") == 0) {
        a->kind = SCN_A_LOG;
        if (take_string(p, "the line (a string)", a->text, sizeof a->text, NULL) != 0)
            return -1;
    } else {
        return fail(p, t->col, "unknown action \"%.60s\"", w);
    }
    if (p->i < p->n && p->t[p->i].kind != TOK_SEMI)
        return fail_got(p, "\";\" or the end of the line");
    return 0;
}

/* ACTION [; ACTION]... to the end of the line, into the pool. */
static int parse_actions(struct parser *p, int *first, int *count)
{
    struct scenario *s = p->s;
    *first = s->nactions;
    *count = 0;
    for (;;) {
        if (*count == SCN_ACTIONS_MAX)
            return fail(p, col_here(p), "more than %d actions in one rule or do", SCN_ACTIONS_MAX);
        if (s->nactions == SCN_ACTIONS_POOL)
            return fail(p, col_here(p), "more than %d actions in the file", SCN_ACTIONS_POOL);
        if (parse_action(p, &s->actions[s->nactions]) != 0)
            return -1;
        s->nactions++;
        (*count)++;
        if (p->i == p->n)
            return 0;
        p->i++; /* the ';' */
    }
}

/* ---- Rules ------------------------------------------------------------------------------------
 */

static int parse_event_fields(struct parser *p, struct scn_trigger *tr)
{
    while (peek(p) && !is_word(p, "repeat") && !is_word(p, "->")) {
        struct tok *t = take_word(p, "KEY=VALUE");
        if (!t)
            return -1;
        char *eq = strchr(t->s, '=');
        if (!eq || eq == t->s)
            return fail(p, t->col, "expected KEY=VALUE, \"repeat\" or \"->\", got \"%.60s\"", t->s);
        if (tr->nfields == SCN_EVENT_FIELDS_MAX)
            return fail(p, t->col, "more than %d event fields", SCN_EVENT_FIELDS_MAX);
        size_t klen = (size_t)(eq - t->s);
        if (klen >= sizeof tr->fields[0].key || strlen(eq + 1) >= sizeof tr->fields[0].value)
            return fail(p, t->col, "event field \"%.40s\" is too long", t->s);
        memcpy(tr->fields[tr->nfields].key, t->s, klen);
        tr->fields[tr->nfields].key[klen] = '\0';
        snprintf(tr->fields[tr->nfields].value, sizeof tr->fields[0].value, "%s", eq + 1);
        tr->nfields++;
    }
    return 0;
}

static int parse_trigger(struct parser *p, struct scn_trigger *tr)
{
    tr->pos.line = p->line;
    tr->pos.col = col_here(p);
    struct tok *t = take_word(p, "a trigger (at command urc event download upload updating "
                                 "flash-op boot)");
    if (!t)
        return -1;
    const char *w = t->s;
    struct tok *v;
    if (strcmp(w, "at") == 0) {
        tr->kind = SCN_T_AT;
        return take_duration(p, &tr->ms);
    }
    if (strcmp(w, "command") == 0 || strcmp(w, "urc") == 0) {
        tr->kind = w[0] == 'c' ? SCN_T_COMMAND : SCN_T_URC;
        return take_pattern(p, &tr->pattern);
    }
    if (strcmp(w, "event") == 0) {
        tr->kind = SCN_T_EVENT;
        if (take_word_into(p, "an event type", tr->event_type, sizeof tr->event_type) != 0)
            return -1;
        return parse_event_fields(p, tr);
    }
    if (strcmp(w, "download") == 0) {
        tr->kind = SCN_T_DOWNLOAD;
        v = peek(p);
        if (v && v->kind == TOK_WORD && percent_of(v->s, &tr->n)) {
            p->i++;
            tr->percent = true;
            return 0;
        }
        if (!v || v->kind != TOK_WORD || v->s[0] < '0' || v->s[0] > '9' || v->s[v->len - 1] == '%')
            return fail_got(p, "a percentage from 0% to 100% or BYTES bytes");
        if (take_number(p, 0, NUMBER_MAX, "a byte count", &tr->n) != 0)
            return -1;
        if (!is_word(p, "bytes"))
            return fail_got(p, "\"bytes\"");
        p->i++;
        return 0;
    }
    if (strcmp(w, "upload") == 0) {
        tr->kind = SCN_T_UPLOAD;
        if (is_word(p, "block")) {
            p->i++;
            tr->block = true;
            return take_number(p, 0, NUMBER_MAX, "a block number", &tr->n);
        }
        v = peek(p);
        if (!v || v->kind != TOK_WORD || v->s[0] < '0' || v->s[0] > '9')
            return fail_got(p, "BYTES bytes or block N");
        if (take_number(p, 0, NUMBER_MAX, "a byte count", &tr->n) != 0)
            return -1;
        if (!is_word(p, "bytes"))
            return fail_got(p, "\"bytes\"");
        p->i++;
        return 0;
    }
    if (strcmp(w, "updating") == 0) {
        tr->kind = SCN_T_UPDATING;
        tr->percent = true;
        v = peek(p);
        if (!v || v->kind != TOK_WORD || !percent_of(v->s, &tr->n))
            return fail_got(p, "a percentage such as 40%");
        p->i++;
        return 0;
    }
    if (strcmp(w, "flash-op") == 0) {
        tr->kind = SCN_T_FLASH_OP;
        return take_number(p, 1, NUMBER_MAX, "the operation's number", &tr->n);
    }
    if (strcmp(w, "boot") == 0) {
        tr->kind = SCN_T_BOOT;
        return take_number(p, 1, NUMBER_MAX, "the boot's number", &tr->n);
    }
    return fail(p, t->col,
                "unknown trigger \"%.60s\" (at command urc event download upload "
                "updating flash-op boot)",
                w);
}

static int parse_rule(struct parser *p)
{
    struct scenario *s = p->s;
    if (s->nrules == SCN_RULES_MAX)
        return fail(p, p->t[0].col, "more than %d rules", SCN_RULES_MAX);
    struct scn_rule *r = &s->rules[s->nrules];
    memset(r, 0, sizeof *r);
    r->pos.line = p->line;
    r->pos.col = p->t[0].col;
    if (parse_trigger(p, &r->trigger) != 0)
        return -1;
    if (is_word(p, "repeat")) {
        if (r->trigger.kind == SCN_T_AT || r->trigger.kind == SCN_T_FLASH_OP)
            return fail(p, col_here(p), "repeat is not allowed with %s",
                        r->trigger.kind == SCN_T_AT ? "at" : "flash-op");
        r->repeat = true;
        p->i++;
    }
    if (!is_word(p, "->"))
        return fail_got(p, r->repeat ? "\"->\"" : "\"repeat\" or \"->\"");
    p->i++;
    if (parse_actions(p, &r->first_action, &r->nactions) != 0)
        return -1;
    s->nrules++;
    return 0;
}

/* ---- Declarations -----------------------------------------------------------------------------
 */

static int once(struct parser *p, int which, const char *name)
{
    if (p->seen[which])
        return fail(p, p->t[0].col, "%s is given twice", name);
    p->seen[which] = true;
    return 0;
}

static int decl_package(struct parser *p)
{
    struct scenario *s = p->s;
    if (s->npackages == SCN_PACKAGES_MAX)
        return fail(p, p->t[0].col, "more than %d packages", SCN_PACKAGES_MAX);
    struct scn_package *pk = &s->packages[s->npackages];
    memset(pk, 0, sizeof *pk);
    pk->pos.line = p->line;
    pk->pos.col = p->t[0].col;
    struct tok *t = peek(p);
    if (take_word_into(p, "the package's name", pk->name, sizeof pk->name) != 0)
        return -1;
    for (const char *c = pk->name; *c; c++)
        if (!(*c == '.' || *c == '_' || *c == '-' || (*c >= '0' && *c <= '9') ||
              ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z')))
            return fail(p, t->col,
                        "a package's name is letters, digits, '.', '_' and '-', not "
                        "\"%s\"",
                        pk->name);
    if (package_named(s, pk->name))
        return fail(p, t->col, "package \"%s\" is declared twice", pk->name);
    if (!is_word(p, "from"))
        return fail_got(p, "\"from\"");
    p->i++;
    if (take_word_into(p, "a revision", pk->from, sizeof pk->from) != 0)
        return -1;
    if (!is_word(p, "to"))
        return fail_got(p, "\"to\"");
    p->i++;
    if (take_word_into(p, "a revision", pk->to, sizeof pk->to) != 0)
        return -1;
    bool has_break = false, has_size = false;
    while (peek(p)) {
        if (is_word(p, "break") && !has_break) {
            p->i++;
            static const char *const kinds[] = {"wrong-base", "wrong-model", "corrupt", "truncate"};
            struct tok *k = peek(p);
            size_t j = 0;
            while (k && k->kind == TOK_WORD && j < COUNT(kinds) && strcmp(k->s, kinds[j]) != 0)
                j++;
            if (!k || k->kind != TOK_WORD || j == COUNT(kinds))
                return fail_got(p, "wrong-base, wrong-model, corrupt or truncate");
            snprintf(pk->breakage, sizeof pk->breakage, "%s", kinds[j]);
            p->i++;
            has_break = true;
        } else if (is_word(p, "size") && !has_size) {
            p->i++;
            uint64_t v;
            if (take_number(p, 1, NUMBER_MAX, "the size in bytes", &v) != 0)
                return -1;
            pk->size = (uint32_t)v;
            has_size = true;
        } else if (is_word(p, "force") && !pk->force) {
            p->i++;
            pk->force = true;
        } else {
            return fail_got(p, "break KIND, size BYTES, force or the end of the line");
        }
    }
    s->npackages++;
    return 0;
}

static int decl_server(struct parser *p)
{
    struct scenario *s = p->s;
    static const char *const kinds[] = {"http", "coap", "lwm2m", "closed"};
    struct tok *t = peek(p);
    size_t k = 0;
    while (t && t->kind == TOK_WORD && k < COUNT(kinds) && strcmp(t->s, kinds[k]) != 0)
        k++;
    if (!t || t->kind != TOK_WORD || k == COUNT(kinds))
        return fail_got(p, "http, coap, lwm2m or closed");
    p->i++;
    if (s->nservers == SCN_SERVERS_MAX)
        return fail(p, p->t[0].col, "more than %d servers", SCN_SERVERS_MAX);
    struct scn_server *srv = &s->servers[s->nservers];
    memset(srv, 0, sizeof *srv);
    srv->kind = (enum scn_server_kind)k;
    srv->pos.line = p->line;
    srv->pos.col = p->t[0].col;
    t = take_word(p, "the server's name");
    if (!t)
        return -1;
    if (!good_name(t->s, true))
        return fail(p, t->col,
                    "a server's name is a letter or '_', then letters, digits, '_' "
                    "or '-' (at most %d), not \"%.60s\"",
                    SCN_NAME_MAX - 1, t->s);
    if (server_named(s, t->s))
        return fail(p, t->col, "server \"%s\" is declared twice", t->s);
    snprintf(srv->name, sizeof srv->name, "%s", t->s);
    if (srv->kind != SCN_SERVER_HTTP && srv->kind != SCN_SERVER_COAP && peek(p))
        return fail(p, col_here(p), "a %s server takes no faults", kinds[k]);
    if (take_server_faults(p, srv->kind, srv->faults, &srv->nfaults) != 0)
        return -1;
    s->nservers++;
    return 0;
}

/* HOST[:PORT] to NAME|ADDR[:PORT]; an address starts with a digit or '['. */
static int decl_resolve(struct parser *p)
{
    struct scenario *s = p->s;
    if (s->nresolves == SCN_RESOLVES_MAX)
        return fail(p, p->t[0].col, "more than %d resolve statements", SCN_RESOLVES_MAX);
    struct scn_resolve *r = &s->resolves[s->nresolves];
    memset(r, 0, sizeof *r);
    r->pos.line = p->line;
    r->pos.col = p->t[0].col;
    struct tok *host = take_word(p, "HOST[:PORT]");
    if (!host)
        return -1;
    if (!is_word(p, "to"))
        return fail_got(p, "\"to\"");
    p->i++;
    struct tok *to = take_word(p, "a server's name or ADDR[:PORT]");
    if (!to)
        return -1;
    bool addr = (to->s[0] >= '0' && to->s[0] <= '9') || to->s[0] == '[';
    if (!addr) {
        if (!server_named(s, to->s))
            return fail(p, to->col, "server \"%.64s\" is not declared", to->s);
        snprintf(r->server, sizeof r->server, "%s", to->s);
    } else if (to->len >= sizeof r->addr) {
        return fail(p, to->col, "address too long");
    } else {
        memcpy(r->addr, to->s, to->len + 1);
    }
    /* resolve_add's syntax, one side at a time so the error points at the
     * right token, then the mapping itself: HOST[:PORT] mapped twice is an
     * error. A server's address is only known at run time. */
    char spec[RESOLVE_HOST_MAX + 80], why[RESOLVE_HOST_MAX + 200];
    if (host->len >= RESOLVE_HOST_MAX)
        return fail(p, host->col, "host name too long");
    const struct {
        const char *host, *to;
        int col;
    } checks[] = {
        {host->s, "127.0.0.1", host->col},
        {"h", addr ? to->s : "127.0.0.1", to->col},
        {host->s, addr ? to->s : "127.0.0.1", host->col},
    };
    for (size_t k = 0; k < COUNT(checks); k++) {
        struct resolver *into = k == 2 ? &p->resolver : &p->scratch;
        p->scratch.n = 0;
        snprintf(spec, sizeof spec, "%s=%s", checks[k].host, checks[k].to);
        if (resolve_add(into, spec, why, sizeof why) != 0) {
            const char *m = strstr(why, ": ");
            return fail(p, checks[k].col, "resolve: %s", m ? m + 2 : why);
        }
    }
    snprintf(r->host, sizeof r->host, "%s", p->resolver.map[p->resolver.n - 1].host);
    r->port = p->resolver.map[p->resolver.n - 1].port;
    if (end_of_statement(p) != 0)
        return -1;
    s->nresolves++;
    return 0;
}

static int decl_link(struct parser *p)
{
    struct scenario *s = p->s;
    bool down = false, rtt = false;
    s->has_link = true;
    s->downlink = 2000;
    s->rtt_ms = 1000;
    if (!peek(p))
        return fail_got(p, "downlink=B/S or rtt=MS");
    while (peek(p)) {
        struct tok *t = take_word(p, "downlink=B/S or rtt=MS");
        if (!t)
            return -1;
        bool is_down = strncmp(t->s, "downlink=", 9) == 0, is_rtt = strncmp(t->s, "rtt=", 4) == 0;
        if ((!is_down && !is_rtt) || (is_down && down) || (is_rtt && rtt)) {
            p->i--;
            return fail_got(p, down && rtt ? "the end of the line"
                                           : "downlink=B/S or rtt=MS, each once");
        }
        const char *v = t->s + (is_down ? 9 : 4), *rest;
        uint64_t n;
        if (!digits(v, &n, &rest) || *rest || n > 100000000)
            return fail(p, t->col + (int)(v - t->s),
                        "expected a number from 0 to 100000000, got \"%.20s\"", v);
        if (is_down) {
            s->downlink = (uint32_t)n;
            down = true;
        } else {
            s->rtt_ms = (uint32_t)n;
            rtt = true;
        }
    }
    return 0;
}

static int parse_declaration(struct parser *p, const char *w, bool *done)
{
    struct scenario *s = p->s;
    *done = true;
    if (strcmp(w, "scenario") == 0) {
        if (once(p, 0, "scenario") != 0 ||
            take_string(p, "the scenario's name (a string)", s->title, sizeof s->title, NULL) != 0)
            return -1;
    } else if (strcmp(w, "model") == 0) {
        if (once(p, 1, "model") != 0)
            return -1;
        struct tok *t = take_word(p, "bc66, bc66-na or bc260y-cn");
        if (!t)
            return -1;
        const struct profile *pr = prof_find(t->s);
        if (!pr) {
            p->i--;
            return fail_got(p, "bc66, bc66-na or bc260y-cn");
        }
        snprintf(s->model, sizeof s->model, "%s", pr->id);
    } else if (strcmp(w, "speed") == 0) {
        if (once(p, 2, "speed") != 0)
            return -1;
        struct tok *t = take_word(p, "fast, realtime or a factor");
        if (!t)
            return -1;
        struct clk c = {0};
        if (clk_parse(&c, t->s) != 0 || t->len >= sizeof s->speed) {
            p->i--;
            return fail_got(p, "fast, realtime or a factor (a positive number up to 1000000)");
        }
        memcpy(s->speed, t->s, t->len + 1);
    } else if (strcmp(w, "seed") == 0) {
        uint64_t v;
        if (once(p, 3, "seed") != 0 || take_number(p, 0, NUMBER_MAX, "the seed", &v) != 0)
            return -1;
        s->has_seed = true;
        s->seed = (uint32_t)v;
    } else if (strcmp(w, "link") == 0) {
        if (once(p, 4, "link") != 0 || decl_link(p) != 0)
            return -1;
    } else if (strcmp(w, "boot") == 0) {
        if (once(p, 5, "boot") != 0)
            return -1;
        if (!is_word(p, "off"))
            return fail_got(p, "\"off\"");
        p->i++;
        s->boot_off = true;
    } else if (strcmp(w, "package") == 0) {
        if (decl_package(p) != 0)
            return -1;
    } else if (strcmp(w, "server") == 0) {
        if (decl_server(p) != 0)
            return -1;
    } else if (strcmp(w, "resolve") == 0) {
        if (decl_resolve(p) != 0)
            return -1;
    } else {
        *done = false;
        return 0;
    }
    return end_of_statement(p);
}

/* ---- Host steps -------------------------------------------------------------------------------
 */

static const char *const step_names[] = {
    [SCN_S_SEND] = "send",     [SCN_S_SEND_RAW] = "send-raw", [SCN_S_SEND_DATA] = "send-data",
    [SCN_S_EXPECT] = "expect", [SCN_S_AWAIT] = "await",       [SCN_S_LINES] = "lines",
    [SCN_S_QUIET] = "quiet",   [SCN_S_ABSENT] = "absent",     [SCN_S_WAIT] = "wait",
    [SCN_S_DO] = "do",         [SCN_S_ASSERT] = "assert",     [SCN_S_CLOSE] = "close",
    [SCN_S_OPEN] = "open",     [SCN_S_LWM2M] = "lwm2m",       [SCN_S_LWM2M_EXPECT] = "lwm2m-expect",
};

const char *scn_step_name(enum scn_step_kind k)
{
    if ((unsigned)k < COUNT(step_names) && step_names[k])
        return step_names[k];
    return "?";
}

/* [within DURATION] [as NAME], in either order, each once. */
static int step_options(struct parser *p, struct scn_step *st, bool capture)
{
    bool within = false, as = false;
    while (peek(p)) {
        if (is_word(p, "within") && !within) {
            p->i++;
            if (take_duration(p, &st->ms) != 0)
                return -1;
            within = true;
        } else if (capture && is_word(p, "as") && !as) {
            p->i++;
            struct tok *t = take_word(p, "a name for the captured value");
            if (!t)
                return -1;
            if (!good_name(t->s, false) || strcmp(t->s, "seed") == 0)
                return fail(p, t->col,
                            "a captured value's name is [A-Za-z_][A-Za-z0-9_]* (at "
                            "most %d, not \"seed\"), not \"%.60s\"",
                            SCN_NAME_MAX - 1, t->s);
            memcpy(st->capture, t->s, t->len + 1);
            as = true;
        } else {
            return fail_got(p, capture ? "within DURATION, as NAME or the end of the line"
                                       : "within DURATION or the end of the line");
        }
    }
    return 0;
}

static int step_send_data(struct parser *p, struct scn_step *st)
{
    struct tok *t = take_word(p, "a package's name");
    if (!t)
        return -1;
    if (!package_named(p->s, t->s))
        return fail(p, t->col, "package \"%.64s\" is not declared (before this line)", t->s);
    memcpy(st->package, t->s, t->len + 1);
    uint64_t off, len;
    if (take_number(p, 0, NUMBER_MAX, "the offset", &off) != 0 ||
        take_number(p, 0, NUMBER_MAX, "the length", &len) != 0)
        return -1;
    st->offset = (uint32_t)off;
    st->length = (uint32_t)len;
    st->crc = SCN_CRC;
    if (is_word(p, "crc")) {
        p->i++;
    } else if (is_word(p, "crc-swapped")) {
        p->i++;
        st->crc = SCN_CRC_SWAPPED;
    } else if (is_word(p, "no-crc")) {
        p->i++;
        st->crc = SCN_CRC_NONE;
    } else if (peek(p)) {
        return fail_got(p, "crc, crc-swapped, no-crc or the end of the line");
    }
    return 0;
}

static int step_value(struct parser *p, char *out, size_t size)
{
    struct tok *t = peek(p);
    if (!t || (t->kind != TOK_STRING && t->kind != TOK_WORD))
        return fail_got(p, "a value (a string or a word)");
    if (t->len >= size)
        return fail(p, t->col, "value longer than %zu bytes", size - 1);
    memcpy(out, t->s, t->len + 1);
    p->i++;
    return 0;
}

static int parse_step(struct parser *p, const char *w, int col)
{
    struct scenario *s = p->s;
    size_t k = 0;
    while (k < COUNT(step_names) && strcmp(step_names[k], w) != 0)
        k++;
    if (k == COUNT(step_names))
        return fail(p, col, "unknown statement \"%.60s\"", w);
    if (s->nsteps == SCN_STEPS_MAX)
        return fail(p, col, "more than %d host steps", SCN_STEPS_MAX);
    struct scn_step *st = &s->steps[s->nsteps];
    memset(st, 0, sizeof *st);
    st->kind = (enum scn_step_kind)k;
    st->pos.line = p->line;
    st->pos.col = col;
    st->ms = SCN_WITHIN_DEFAULT_MS;
    int e = 0;
    switch (st->kind) {
    case SCN_S_SEND:
    case SCN_S_SEND_RAW:
        e = take_string(p, "a string", st->text, sizeof st->text, &st->len);
        break;
    case SCN_S_LWM2M:
        e = take_string(p, "a command of the LwM2M server (a string)", st->text, sizeof st->text,
                        &st->len);
        break;
    case SCN_S_SEND_DATA:
        e = step_send_data(p, st);
        break;
    case SCN_S_EXPECT:
    case SCN_S_AWAIT:
    case SCN_S_LWM2M_EXPECT:
        e = take_pattern(p, &st->pattern) || step_options(p, st, true);
        break;
    case SCN_S_LINES:
        e = take_pattern(p, &st->pattern) || step_options(p, st, false);
        break;
    case SCN_S_QUIET:
    case SCN_S_WAIT:
        e = take_duration(p, &st->ms);
        break;
    case SCN_S_ABSENT:
        e = take_pattern(p, &st->pattern);
        if (!e && !is_word(p, "for"))
            e = fail_got(p, "\"for\"");
        if (!e) {
            p->i++;
            e = take_duration(p, &st->ms);
        }
        break;
    case SCN_S_DO:
        if (p->i < p->n)
            e = parse_actions(p, &st->first_action, &st->nactions);
        else
            e = fail_got(p, "an action");
        break;
    case SCN_S_ASSERT:
        e = step_value(p, st->text, sizeof st->text);
        if (!e && !is_word(p, "==") && !is_word(p, "!="))
            e = fail_got(p, "== or !=");
        if (!e) {
            st->equal = p->t[p->i++].s[0] == '=';
            e = step_value(p, st->text2, sizeof st->text2);
        }
        break;
    case SCN_S_CLOSE:
    case SCN_S_OPEN:
        break;
    }
    if (e || end_of_statement(p) != 0)
        return -1;
    s->nsteps++;
    return 0;
}

/* ---- The file ---------------------------------------------------------------------------------
 */

static int parse_line(struct parser *p, const char *line)
{
    if (lex_line(p, line) != 0)
        return -1;
    if (p->n == 0)
        return 0;
    struct tok *t = &p->t[0];
    if (t->kind != TOK_WORD)
        return fail_got(p, "a statement");
    p->i = 1;
    if (strcmp(t->s, "on") == 0)
        return parse_rule(p);
    bool done;
    int rc = parse_declaration(p, t->s, &done);
    if (rc != 0 || done)
        return rc;
    return parse_step(p, t->s, t->col);
}

/* Steps that need a declaration anywhere in the file. */
static int check_whole(struct parser *p)
{
    struct scenario *s = p->s;
    bool lwm2m = false;
    for (int k = 0; k < s->nservers; k++)
        lwm2m |= s->servers[k].kind == SCN_SERVER_LWM2M;
    for (int k = 0; k < s->nsteps && !lwm2m; k++)
        if (s->steps[k].kind == SCN_S_LWM2M || s->steps[k].kind == SCN_S_LWM2M_EXPECT) {
            p->line = s->steps[k].pos.line;
            return fail(p, s->steps[k].pos.col, "%s needs a \"server lwm2m NAME\"",
                        scn_step_name(s->steps[k].kind));
        }
    if (!s->model[0]) {
        p->line = 1;
        return fail(p, 1, "missing model (model bc66, bc66-na or bc260y-cn)");
    }
    return 0;
}

int scn_parse(struct scenario *s, const char *path, const char *text, struct scn_error *err)
{
    memset(s, 0, sizeof *s);
    memset(err, 0, sizeof *err);
    snprintf(s->path, sizeof s->path, "%s", path ? path : "");
    const char *base = path ? strrchr(path, '/') : NULL;
    snprintf(s->title, sizeof s->title, "%s", base ? base + 1 : path ? path : "");
    struct parser *p = calloc(1, sizeof *p);
    size_t len = strlen(text);
    char *arena = p ? malloc(2 * len + 2) : NULL;
    if (!arena) {
        free(p);
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    p->s = s;
    p->err = err;
    p->arena = arena;
    int rc = 0;
    const char *line = text;
    for (p->line = 1; rc == 0; p->line++) {
        const char *nl = strchr(line, '\n');
        if (p->line == INT_MAX) {
            rc = fail(p, 1, "too many lines");
            break;
        }
        rc = parse_line(p, line);
        if (!nl)
            break;
        line = nl + 1;
    }
    if (rc == 0)
        rc = check_whole(p);
    free(arena);
    free(p);
    return rc;
}

int scn_load(struct scenario *s, const char *path, struct scn_error *err)
{
    memset(err, 0, sizeof *err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err->message, sizeof err->message, "%s", strerror(errno));
        return -1;
    }
    char *buf = malloc(SCN_FILE_MAX + 2);
    size_t n = 0;
    int e = 0;
    while (buf && n <= SCN_FILE_MAX) {
        ssize_t r = read(fd, buf + n, SCN_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf || e) {
        snprintf(err->message, sizeof err->message, "%s", strerror(buf ? e : ENOMEM));
        free(buf);
        return -1;
    }
    if (n > SCN_FILE_MAX) {
        snprintf(err->message, sizeof err->message, "larger than %d bytes", SCN_FILE_MAX);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    const char *nul = memchr(buf, '\0', n);
    if (nul) { /* the text would end there, silently */
        int line = 1;
        const char *ls = buf;
        for (const char *c = buf; c < nul; c++)
            if (*c == '\n') {
                line++;
                ls = c + 1;
            }
        err->pos.line = line;
        err->pos.col = (int)(nul - ls) + 1;
        snprintf(err->message, sizeof err->message, "a NUL byte (write \\x00 in a string)");
        free(buf);
        return -1;
    }
    int rc = scn_parse(s, path, buf, err);
    free(buf);
    return rc;
}

/* ---- Matching ---------------------------------------------------------------------------------
 */

/* The whole line against text where '*' is any run: the classic greedy walk
 * that backs up to the last star, O(len(line) * len(text)) at worst. */
static bool glob(const char *pat, const char *line)
{
    const char *star = NULL, *resume = NULL;
    while (*line) {
        if (*pat == '*') {
            star = pat++;
            resume = line;
        } else if (*pat == *line) {
            pat++;
            line++;
        } else if (star) {
            pat = star + 1;
            line = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static void copy_out(char *out, size_t size, const char *from, size_t len)
{
    if (!out || size == 0)
        return;
    if (len >= size)
        len = size - 1;
    memcpy(out, from, len);
    out[len] = '\0';
}

int scn_match(bool regex, const char *text, const char *line, char *capture, size_t capture_size,
              char *why, size_t why_size)
{
    if (!regex) {
        if (!glob(text, line))
            return 0;
        copy_out(capture, capture_size, line, strlen(line));
        return 1;
    }
    regex_t re;
    int e = regcomp(&re, text, REG_EXTENDED);
    if (e != 0) {
        if (why && why_size)
            regerror(e, &re, why, why_size);
        return -1;
    }
    regmatch_t m[2];
    int rc = regexec(&re, line, 2, m, 0) == 0;
    if (rc) {
        if (re.re_nsub == 0)
            copy_out(capture, capture_size, line, strlen(line));
        else if (m[1].rm_so < 0)
            copy_out(capture, capture_size, "", 0);
        else
            copy_out(capture, capture_size, line + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
    }
    regfree(&re);
    return rc;
}

struct scenario *scn_alloc(void)
{
    return calloc(1, sizeof(struct scenario));
}
