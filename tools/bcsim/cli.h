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

int cli_run(int argc, char **argv);
int cli_ctl(int argc, char **argv);
int cli_image(int argc, char **argv);
int cli_pkg(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_lwm2m_server(int argc, char **argv);

extern const char cli_run_usage[];
extern const char cli_ctl_usage[];
extern const char cli_image_usage[];
extern const char cli_pkg_usage[];
extern const char cli_serve_usage[];
extern const char cli_lwm2m_server_usage[];

#endif
