/* A scenario file, parsed: declarations, module-side rules (trigger ->
 * actions) and host steps, as scenarios/README.md defines them. The parser
 * checks everything that can be checked without running (names, ranges, fault
 * syntax, regular expressions without ${}); what is left for run time is the
 * ${} replacement in strings and patterns. */
#ifndef BCSIM_SCN_H
#define BCSIM_SCN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCN_NAME_MAX 64 /* names of servers, packages, captured values */
#define SCN_TEXT_MAX 1024

/* Where a statement or a token is: for errors and reports (1-based). */
struct scn_pos {
    int line, col;
};

/* A line pattern: the whole line with '*' wildcards, or a POSIX ERE found
 * anywhere in the line. The text is unescaped, ${} not yet replaced. */
struct scn_pattern {
    bool regex;
    char text[SCN_TEXT_MAX];
    struct scn_pos pos;
};

/* ---- Declarations ---------------------------------------------------------- */

struct scn_package {
    char name[SCN_NAME_MAX];
    char from[32], to[32]; /* built-in revisions */
    char breakage[16];     /* "" or a --break kind */
    uint32_t size;         /* 0: whatever the delta is */
    bool force;            /* one the module always refuses (pkg make --force) */
    struct scn_pos pos;
};

enum scn_server_kind { SCN_SERVER_HTTP, SCN_SERVER_COAP, SCN_SERVER_LWM2M, SCN_SERVER_CLOSED };

#define SCN_FAULTS_MAX 8

struct scn_server {
    enum scn_server_kind kind;
    char name[SCN_NAME_MAX];
    char faults[SCN_FAULTS_MAX][96]; /* as bcsim serve --fault / --coap-fault */
    int nfaults;
    struct scn_pos pos;
};

struct scn_resolve {
    char host[256];
    uint16_t port;             /* 0: every port */
    char server[SCN_NAME_MAX]; /* a declared server, or "" */
    char addr[64];             /* else ADDR[:PORT] as --resolve takes it */
    struct scn_pos pos;
};

/* ---- Rules ------------------------------------------------------------------ */

enum scn_trigger_kind {
    SCN_T_AT,       /* ms since the start */
    SCN_T_COMMAND,  /* pattern */
    SCN_T_URC,      /* pattern */
    SCN_T_EVENT,    /* event_type, fields */
    SCN_T_DOWNLOAD, /* n bytes, or n percent */
    SCN_T_UPLOAD,   /* n bytes, or block n */
    SCN_T_UPDATING, /* n percent */
    SCN_T_FLASH_OP, /* n */
    SCN_T_BOOT,     /* n */
};

#define SCN_EVENT_FIELDS_MAX 4

struct scn_trigger {
    enum scn_trigger_kind kind;
    uint64_t ms;                /* AT */
    struct scn_pattern pattern; /* COMMAND, URC */
    char event_type[32];        /* EVENT */
    struct {
        char key[32], value[128];
    } fields[SCN_EVENT_FIELDS_MAX];
    int nfields;
    uint64_t n;   /* DOWNLOAD, UPLOAD, UPDATING, FLASH_OP, BOOT */
    bool percent; /* DOWNLOAD, UPDATING: n is a percentage */
    bool block;   /* UPLOAD: n is a block number */
    struct scn_pos pos;
};

enum scn_action_kind {
    SCN_A_POWER,          /* word: on off cycle cut */
    SCN_A_NET,            /* word: attach detach deny */
    SCN_A_DNS,            /* flag: true = fail */
    SCN_A_SIGNAL,         /* text: "FIELD=VALUE ..." checked by the parser */
    SCN_A_SIGNAL_RESET,   /* */
    SCN_A_FAULT,          /* word: the fault's name ("clear" too), n (0: none given) */
    SCN_A_OVERRIDE,       /* text: the command, text2: the reply, flag: once */
    SCN_A_OVERRIDE_CLEAR, /* */
    SCN_A_URC,            /* text */
    SCN_A_SERVER_FAULT,   /* server, faults */
    SCN_A_SERVER_CLEAR,   /* server */
    SCN_A_SERVER_STOP,    /* server */
    SCN_A_SERVER_START,   /* server */
    SCN_A_WAIT,           /* ms */
    SCN_A_LOG,            /* text */
};

struct scn_action {
    enum scn_action_kind kind;
    char word[32];
    uint64_t n;
    bool flag;
    char text[SCN_TEXT_MAX], text2[SCN_TEXT_MAX];
    char server[SCN_NAME_MAX];
    char faults[SCN_FAULTS_MAX][96];
    int nfaults;
    uint64_t ms;
    struct scn_pos pos;
};

#define SCN_ACTIONS_MAX 8 /* of one rule or one `do` */

/* Actions live in the scenario's pool; a rule or a `do` step names its run
 * of them (first, count). */
struct scn_rule {
    struct scn_trigger trigger;
    bool repeat;
    int first_action, nactions;
    struct scn_pos pos;
};

/* ---- Host steps ---------------------------------------------------------------- */

enum scn_step_kind {
    SCN_S_SEND,         /* text (+CR) */
    SCN_S_SEND_RAW,     /* text, len bytes (may hold NUL) */
    SCN_S_SEND_DATA,    /* package, offset, length, crc */
    SCN_S_EXPECT,       /* pattern, ms, capture */
    SCN_S_AWAIT,        /* pattern, ms, capture */
    SCN_S_LINES,        /* pattern, ms */
    SCN_S_QUIET,        /* ms */
    SCN_S_ABSENT,       /* pattern, ms */
    SCN_S_WAIT,         /* ms */
    SCN_S_DO,           /* actions */
    SCN_S_ASSERT,       /* text op text2 */
    SCN_S_CLOSE,        /* */
    SCN_S_OPEN,         /* */
    SCN_S_LWM2M,        /* text */
    SCN_S_LWM2M_EXPECT, /* pattern, ms, capture */
};

enum scn_crc { SCN_CRC, SCN_CRC_SWAPPED, SCN_CRC_NONE };

#define SCN_WITHIN_DEFAULT_MS 10000

struct scn_step {
    enum scn_step_kind kind;
    char text[SCN_TEXT_MAX], text2[SCN_TEXT_MAX];
    size_t len; /* SEND, SEND_RAW, LWM2M: bytes in text (may hold NUL) */
    bool equal; /* ASSERT: == (else !=) */
    struct scn_pattern pattern;
    uint64_t ms;                /* within / for / wait; SCN_WITHIN_DEFAULT_MS if not given */
    char capture[SCN_NAME_MAX]; /* "as NAME", or "" */
    char package[SCN_NAME_MAX];
    uint32_t offset, length;
    enum scn_crc crc;
    int first_action, nactions; /* DO */
    struct scn_pos pos;
};

/* ---- The whole file -------------------------------------------------------------- */

#define SCN_PACKAGES_MAX 8
#define SCN_SERVERS_MAX  8
#define SCN_RESOLVES_MAX 8
#define SCN_RULES_MAX    32
#define SCN_STEPS_MAX    400
#define SCN_ACTIONS_POOL 256

struct scenario {
    char path[4096]; /* as given */
    char title[256]; /* `scenario`, or the file's base name */
    char model[16];  /* "bc66", "bc66-na", "bc260y-cn" (lower case) */
    char speed[32];  /* "" if not given */
    bool has_seed;
    uint32_t seed;
    bool has_link;
    uint32_t downlink, rtt_ms;
    bool boot_off;
    struct scn_package packages[SCN_PACKAGES_MAX];
    int npackages;
    struct scn_server servers[SCN_SERVERS_MAX];
    int nservers;
    struct scn_resolve resolves[SCN_RESOLVES_MAX];
    int nresolves;
    struct scn_rule rules[SCN_RULES_MAX];
    int nrules;
    struct scn_step steps[SCN_STEPS_MAX];
    int nsteps;
    struct scn_action actions[SCN_ACTIONS_POOL];
    int nactions;
};

/* A syntax error: where, and what was expected there ("a duration such as
 * 5s or 500ms"). */
struct scn_error {
    struct scn_pos pos;
    char message[256];
};

/* Parses the text of a file (NUL-terminated; `path` is only recorded).
 * Returns 0, or -1 with the first error in *err. The scenario is large:
 * allocate it (scn_alloc). */
int scn_parse(struct scenario *s, const char *path, const char *text, struct scn_error *err);

/* Reads (at most 1 MiB) and parses a file: -1 with err (pos 0,0 when the
 * file cannot be read or is too large, the message saying why: strerror's
 * text for a failed open or read). */
int scn_load(struct scenario *s, const char *path, struct scn_error *err);

struct scenario *scn_alloc(void); /* zeroed; NULL when out of memory; free() it */

/* A line against a pattern whose ${} are already replaced (text): 1 match,
 * 0 no match, -1 a bad regular expression (why: regerror's text). With a
 * match and `capture` non-NULL, the first group of a regex (or the whole
 * line) is copied there. */
int scn_match(bool regex, const char *text, const char *line, char *capture, size_t capture_size,
              char *why, size_t why_size);

/* The names used in messages ("expect", "on download", ...). */
const char *scn_step_name(enum scn_step_kind k);

#endif
