/* Subcommands of the bcsim program. Each takes argv after its own name. */
#ifndef BCSIM_CLI_H
#define BCSIM_CLI_H

/* Exit codes shared by every subcommand. */
enum {
    CLI_OK = 0,
    CLI_FAILED = 1,     /* the operation failed (ctl: the emulator said no) */
    CLI_USAGE = 2,      /* bad command line */
    CLI_UNAVAILABLE = 3 /* a resource is missing or busy: state dir, socket, PTY */
};

/* Exit codes of `bcsim upload`, one per way the upload or update can fail. */
enum {
    CLI_UPLOAD_NO_ANSWER = 4,     /* the module does not answer AT */
    CLI_UPLOAD_REFUSED = 5,       /* AT+QFUPLEX=? or AT+QFOTADL=1 is ERROR */
    CLI_UPLOAD_BLOCK_FAILED = 6,  /* a block failed after all retries */
    CLI_UPLOAD_UPDATE_FAILED = 7, /* +QIND: "FOTA","END",<err> with err != 0 */
    CLI_UPLOAD_UPDATE_TIMEOUT = 8 /* no END within --update-timeout */
};

int cli_run(int argc, char **argv);
int cli_ctl(int argc, char **argv);
int cli_image(int argc, char **argv);
int cli_pkg(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_upload(int argc, char **argv);
int cli_lwm2m_server(int argc, char **argv);
int cli_scenario(int argc, char **argv);

extern const char cli_run_usage[];
extern const char cli_ctl_usage[];
extern const char cli_image_usage[];
extern const char cli_pkg_usage[];
extern const char cli_serve_usage[];
extern const char cli_upload_usage[];
extern const char cli_lwm2m_server_usage[];
extern const char cli_scenario_usage[];

#endif
