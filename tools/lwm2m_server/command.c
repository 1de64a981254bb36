#include "tools/lwm2m_server/command.h"

#include "tools/lwm2m_server/tlv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_DEFAULT_MS 30000
#define SECONDS_MAX     86400.0
#define WORDS_MAX       6

static const char *const op_names[] = {
    [LWSRV_READ] = "read",       [LWSRV_WRITE] = "write",   [LWSRV_EXEC] = "exec",
    [LWSRV_OBSERVE] = "observe", [LWSRV_CANCEL] = "cancel", [LWSRV_DISCOVER] = "discover",
};

const char *lwsrv_op_name(enum lwsrv_op op)
{
    return op_names[op];
}

static int fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

struct words {
    char *w[WORDS_MAX];
    const char *rest[WORDS_MAX]; /* the line from each word on, as written */
    int n;
    char buf[2 * LWSRV_VALUE_MAX + 64];
};

/* Whitespace-separated words, a "quoted" one taken whole. */
static int split(const char *line, struct words *ws, char *why, size_t size)
{
    const char *p = line;
    size_t o = 0;
    ws->n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return 0;
        if (ws->n == WORDS_MAX)
            return fail(why, size, "too many words");
        ws->rest[ws->n] = p;
        ws->w[ws->n++] = ws->buf + o;
        bool quoted = *p == '"';
        if (quoted)
            p++;
        while (*p && (quoted ? *p != '"' : (*p != ' ' && *p != '\t'))) {
            if (quoted && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            if (o + 2 >= sizeof ws->buf)
                return fail(why, size, "the line is too long");
            ws->buf[o++] = *p++;
        }
        if (quoted && *p++ != '"')
            return fail(why, size, "an unterminated quoted value");
        ws->buf[o++] = '\0';
    }
}

/* Seconds, decimals allowed, above 0 and at most a day. */
static int seconds(const char *text, uint64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] < '0' || text[0] > '9' || *end || errno || !(v > 0) || v > SECONDS_MAX)
        return -1;
    *ms = (uint64_t)(v * 1000 + 0.5);
    if (*ms == 0)
        *ms = 1;
    return 0;
}

static int parse_int(const char *text, int64_t *v)
{
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (!*text || *end || errno || (text[0] != '-' && (text[0] < '0' || text[0] > '9')))
        return -1;
    *v = n;
    return 0;
}

static int unhex(const char *text, uint8_t *out, size_t size, size_t *len)
{
    size_t n = strlen(text);
    if (n % 2 || n / 2 > size)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        unsigned b;
        if (!strchr("0123456789abcdefABCDEF", text[i]) || !text[i] ||
            !strchr("0123456789abcdefABCDEF", text[i + 1]) || !text[i + 1] ||
            sscanf(text + i, "%2x", &b) != 1)
            return -1;
        out[i / 2] = (uint8_t)b;
    }
    *len = n / 2;
    return 0;
}

/* The value of a TLV write, by the resource's type. */
static int tlv_write(struct lwsrv_cmd *c, const char *value, char *why, size_t size)
{
    const struct lwsrv_path *p = &c->req.path;
    enum lwsrv_type type = lwsrv_type_of(p->id[0], p->id[2]);
    uint8_t v[LWSRV_VALUE_MAX];
    size_t len = 0;
    int64_t n;
    if (type == LWSRV_T_UNKNOWN)
        type = parse_int(value, &n) == 0 ? LWSRV_T_INTEGER : LWSRV_T_STRING;
    switch (type) {
    case LWSRV_T_INTEGER:
    case LWSRV_T_TIME:
        if (parse_int(value, &n) != 0)
            return fail(why, size, "%s takes an integer", c->path);
        len = lwsrv_tlv_int(n, v);
        break;
    case LWSRV_T_BOOLEAN:
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
            return fail(why, size, "%s takes a boolean, 0 or 1", c->path);
        v[0] = (uint8_t)(value[0] - '0');
        len = 1;
        break;
    case LWSRV_T_OPAQUE:
        if (unhex(value, v, sizeof v, &len) != 0)
            return fail(why, size, "%s is opaque: give its bytes in hex", c->path);
        break;
    case LWSRV_T_FLOAT: {
        char *end;
        double d = strtod(value, &end);
        if (!*value || *end)
            return fail(why, size, "%s takes a number", c->path);
        uint64_t u;
        memcpy(&u, &d, sizeof u);
        for (int i = 0; i < 8; i++)
            v[i] = (uint8_t)(u >> (56 - 8 * i));
        len = 8;
        break;
    }
    default:
        len = strlen(value);
        if (len > sizeof v)
            return fail(why, size, "the value is longer than %d bytes", LWSRV_VALUE_MAX);
        memcpy(v, value, len);
    }
    c->req.len = lwsrv_tlv_put(c->data, sizeof c->data, p->id[2], v, len);
    c->req.payload = c->data;
    return 0;
}

static int write_value(struct lwsrv_cmd *c, const char *value, const char *format, char *why,
                       size_t size)
{
    c->req.format = format ? lwsrv_format_parse(format) : LWSRV_CF_TEXT;
    if (c->req.path.depth != 3)
        return fail(why, size, "write takes a resource path, /OBJECT/INSTANCE/RESOURCE");
    switch (c->req.format) {
    case LWSRV_CF_TEXT:
        c->req.len = strlen(value);
        if (c->req.len > LWSRV_VALUE_MAX)
            return fail(why, size, "the value is longer than %d bytes", LWSRV_VALUE_MAX);
        memcpy(c->data, value, c->req.len);
        c->req.payload = c->data;
        return 0;
    case LWSRV_CF_OPAQUE:
        if (unhex(value, c->data, LWSRV_VALUE_MAX, &c->req.len) != 0)
            return fail(why, size, "an opaque value is hex, an even number of digits");
        c->req.payload = c->data;
        return 0;
    case LWSRV_CF_TLV:
        return tlv_write(c, value, why, size);
    default:
        return fail(why, size, "a write is text, opaque or tlv, not '%s'", format);
    }
}

static int parse_wait(struct lwsrv_cmd *c, struct words *ws, char *why, size_t size)
{
    static const char *const events[] = {"registered", "updated", "deregistered", "expired"};
    const char *ev = ws->w[2];
    c->ms = WAIT_DEFAULT_MS;
    if (ws->n == 4 && seconds(ws->w[3], &c->ms) != 0)
        return fail(why, size, "wait's timeout is seconds, above 0 and at most 86400");
    for (int i = 0; i < 4; i++)
        if (strcmp(ev, events[i]) == 0) {
            c->wait = (enum lwsrv_wait_kind)i;
            return 0;
        }
    const char *eq = strchr(ev, '=');
    struct lwsrv_path path;
    if (eq && (size_t)(eq - ev) < sizeof c->path) {
        snprintf(c->path, sizeof c->path, "%.*s", (int)(eq - ev), ev);
        if (lwsrv_path_parse(c->path, &path) == 0 && strlen(eq + 1) <= LWSRV_VALUE_MAX) {
            c->wait = LWSRV_WAIT_VALUE;
            snprintf(c->value, sizeof c->value, "%s", eq + 1);
            return 0;
        }
    }
    return fail(why, size,
                "wait for registered, updated, deregistered, expired or PATH=VALUE, not '%s'", ev);
}

int lwsrv_cmd_parse(const char *line, struct lwsrv_cmd *c, char *why, size_t size)
{
    memset(c, 0, sizeof *c);
    const char *first = line + strspn(line, " \t");
    if (*first == '#' || *first == '\0')
        return 0; /* a comment or a blank line */
    struct words *ws = malloc(sizeof *ws);
    if (!ws)
        return fail(why, size, "out of memory");
    int r = split(line, ws, why, size);
    if (r != 0 || ws->n == 0)
        goto out;
    const char *name = ws->w[0];
    r = -1;
    if (strcmp(name, "quit") == 0) {
        c->kind = LWSRV_CMD_QUIT;
        r = ws->n == 1 ? 0 : fail(why, size, "quit takes no arguments");
        goto out;
    }
    if (strcmp(name, "sleep") == 0) {
        c->kind = LWSRV_CMD_SLEEP;
        r = ws->n == 2 && seconds(ws->w[1], &c->ms) == 0
                ? 0
                : fail(why, size, "sleep S: seconds, above 0 and at most 86400");
        goto out;
    }
    int op = -1;
    for (int i = 0; i < (int)(sizeof op_names / sizeof op_names[0]); i++)
        if (strcmp(name, op_names[i]) == 0)
            op = i;
    bool is_wait = strcmp(name, "wait") == 0;
    if (op < 0 && !is_wait) {
        fail(why, size,
             "unknown command '%.40s' (read, write, exec, observe, cancel, discover, wait, "
             "sleep, quit)",
             name);
        goto out;
    }
    if (ws->n < 3) {
        fail(why, size, "%s EP %s", name, is_wait ? "EVENT [TIMEOUT_S]" : "PATH ...");
        goto out;
    }
    if (strlen(ws->w[1]) > LWSRV_EP_MAX) {
        fail(why, size, "an endpoint name is at most %d bytes", LWSRV_EP_MAX);
        goto out;
    }
    snprintf(c->ep, sizeof c->ep, "%s", ws->w[1]);
    c->req.ep = c->ep;
    if (is_wait) {
        c->kind = LWSRV_CMD_WAIT;
        r = ws->n <= 4 ? parse_wait(c, ws, why, size)
                       : fail(why, size, "wait EP EVENT [TIMEOUT_S]");
        goto out;
    }
    c->kind = LWSRV_CMD_REQUEST;
    c->req.op = (enum lwsrv_op)op;
    c->req.format = -1;
    if (strlen(ws->w[2]) >= sizeof c->path || lwsrv_path_parse(ws->w[2], &c->req.path) != 0) {
        fail(why, size, "'%.40s' is not a path /OBJECT[/INSTANCE[/RESOURCE[/INSTANCE]]]", ws->w[2]);
        goto out;
    }
    snprintf(c->path, sizeof c->path, "%s", ws->w[2]);
    int extra = ws->n - 3;
    switch (c->req.op) {
    case LWSRV_READ:
    case LWSRV_OBSERVE:
        if (extra > 1) {
            fail(why, size, "%s EP PATH [FORMAT]", name);
            break;
        }
        if (extra == 1 && (c->req.format = lwsrv_format_parse(ws->w[3])) < 0) {
            fail(why, size, "unknown format '%.20s' (text, tlv, opaque, json, link)", ws->w[3]);
            break;
        }
        r = 0;
        break;
    case LWSRV_WRITE:
        if (extra < 1 || extra > 2) {
            fail(why, size, "write EP PATH VALUE [FORMAT]");
            break;
        }
        r = write_value(c, ws->w[3], extra == 2 ? ws->w[4] : NULL, why, size);
        break;
    case LWSRV_EXEC:
        if (extra > 0) { /* the arguments as written, to the end of the line */
            const char *args = ws->rest[3];
            size_t len = strlen(args);
            while (len && (args[len - 1] == ' ' || args[len - 1] == '\t'))
                len--;
            if (len > LWSRV_VALUE_MAX) {
                fail(why, size, "the arguments are longer than %d bytes", LWSRV_VALUE_MAX);
                break;
            }
            memcpy(c->data, args, len);
            c->req.payload = c->data;
            c->req.len = len;
        }
        r = 0;
        break;
    default: /* cancel, discover */
        r = extra == 0 ? 0 : fail(why, size, "%s EP PATH", name);
    }
out:
    free(ws);
    return r;
}
