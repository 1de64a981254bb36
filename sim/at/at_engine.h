/* The AT command interpreter: echo, framing, dispatch to command tables, final
 * result codes, response overrides and flow control. It knows nothing of the
 * module behind it; the owner supplies the I/O hooks and the command table. */
#ifndef BCSIM_AT_ENGINE_H
#define BCSIM_AT_ENGINE_H

#include "sim/at/at_frame.h"
#include "sim/at/at_parse.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handler results: OK, ERROR, "answer later", or a positive +CME ERROR code. */
enum {
    AT_OK = 0,
    AT_ERROR = -1,
    AT_PENDING = -2,
};
#define AT_CME(n) (n)

/* +CME ERROR codes used by bcsim (27.007 numbering, as Quectel uses it). */
enum at_cme {
    CME_NOT_ALLOWED = 3,
    CME_NOT_SUPPORTED = 4,
    CME_NO_NETWORK = 30,
    CME_BAD_PARAM = 50,
    CME_UNKNOWN = 100,
    CME_UE_BUSY = 302,
};

struct at_engine;
typedef int (*at_handler)(struct at_engine *e, const struct at_cmd *cmd);

struct at_command {
    const char *name; /* as parsed: "+CEREG", "I", "E", "&W" */
    at_handler exec, test, read, write;
    const char *test_reply; /* a fixed answer to the test form ("" for a bare OK) */
};

struct at_io {
    void (*write)(void *ctx, const char *data, size_t len);
    void (*line)(void *ctx, const char *line, size_t len); /* a command line arrived */
    void (*idle)(void *ctx);                               /* final result written */
    void (*sync)(void *ctx);                               /* autobaud locked */
    /* The command of a name, or NULL; the same answer for a name for as long
     * as the engine lives (the engine remembers it). */
    const struct at_command *(*lookup)(void *ctx, const char *name);
};

#define AT_LOOKUP_SLOTS 64
struct at_lookup_slot {
    char name[16];
    const struct at_command *cmd; /* NULL: empty */
};

#define AT_OVERRIDES_MAX 32

/* Raw data mode: a command (AT+QFUPLEX) takes the next bytes from the host
 * unframed and unechoed, any byte value, until it has `len` of them or the
 * host sends the `escape` line. The escape is recognised as the last bytes
 * received, wherever they fall: a block that carries those exact bytes
 * cannot be told from a host that gave up. */
enum at_data_end { AT_DATA_FULL, AT_DATA_ESCAPED };
struct at_engine;
typedef void (*at_data_done)(struct at_engine *e, enum at_data_end how, const uint8_t *data,
                             size_t len, void *arg);

struct at_data_req {
    const char *prompt; /* written when data mode begins ("\r\n>") */
    size_t len;         /* bytes to collect, at least 1 */
    const char *escape; /* "AT+QFUPLEX=ESC\r", or NULL */
    at_data_done done;  /* the command answers from here (at_reply, at_engine_complete) */
    void *arg;
    /* After `len` bytes, stay in data mode and count what else comes (the
     * bytes beyond <length>) until the command calls at_engine_data_stop;
     * the data given to `done` stays valid until then. */
    bool trail;
};

struct at_data {
    bool active;
    bool trailing; /* `want` bytes are in; more are only counted */
    bool trail;
    uint8_t *buf;
    size_t want, got, extra;
    const char *escape;
    size_t escape_len;
    at_data_done done;
    void *arg;
};

struct at_override {
    char *pattern; /* "AT+CSQ", or a prefix ending in '*' */
    char *reply;   /* lines separated by '\n'; "" answers nothing */
    bool once;
};

struct at_engine {
    const struct at_io *io;
    void *ctx;
    struct at_frame frame;
    bool echo;
    int cmee; /* 0 ERROR only, 1 numeric, 2 verbose */
    bool synced;
    bool busy;             /* a command answers later (AT_PENDING) */
    bool in_block;         /* the running command has begun its information block */
    bool answering;        /* between a command line and its final result */
    struct at_chain chain; /* the rest of the line being executed */
    char exec_line[AT_LINE_MAX + 1];
    char *held; /* input that arrived while busy */
    size_t held_len, held_off;
    bool draining; /* held input is being fed: a completion inside must not feed it again */
    struct at_data data;
    struct at_override overrides[AT_OVERRIDES_MAX];
    int noverrides;
    /* Output gathered for one write: what one input call (or a completion)
     * makes, echo, information blocks and final results of every line it
     * holds, goes to io->write at once; a response is never split. */
    char *out;
    size_t out_len, out_cap;
    int depth; /* entry points (input, complete) under way */
    struct at_lookup_slot cache[AT_LOOKUP_SLOTS];
};

void at_engine_init(struct at_engine *e, const struct at_io *io, void *ctx);
void at_engine_free(struct at_engine *e);

/* Power cut or reboot: forget partial input, held input and any pending command.
 * From the loop only, never from a handler or a data callback (they may be
 * feeding the held input): a handler that stops the module defers it. */
void at_engine_reset(struct at_engine *e);

/* Bytes from the host. Returns false if the engine is busy and held them: the
 * owner should stop reading until the engine calls io->idle. In data mode it
 * takes them and returns true. */
bool at_engine_input(struct at_engine *e, const char *data, size_t len);

/* Completes a command that returned AT_PENDING, then runs the rest of its line. */
void at_engine_complete(struct at_engine *e, int result);

bool at_engine_idle(const struct at_engine *e);

/* From a handler that then returns AT_PENDING: enters data mode. 0, or
 * -ENOMEM (the handler answers ERROR). */
int at_engine_data(struct at_engine *e, const struct at_data_req *req);
/* Leaves data mode and drops what it collected (the command's timeout, or
 * the end of a trail); the command still answers with at_engine_complete. */
void at_engine_data_stop(struct at_engine *e);
/* Bytes that came after a trailing data mode's `len`. */
size_t at_engine_data_extra(const struct at_engine *e);
bool at_engine_in_data(const struct at_engine *e);

/* Hands gathered output to io->write now. Whoever else writes to the same
 * line (URCs) calls it first, so that nothing overtakes the engine's bytes. */
void at_engine_flush(struct at_engine *e);

/* Writes one information line of the running command's response. */
void at_reply(struct at_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int at_override_add(struct at_engine *e, const char *pattern, const char *reply, bool once);
void at_override_clear(struct at_engine *e);

#endif
