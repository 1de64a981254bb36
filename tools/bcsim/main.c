/* bcsim: an emulator of Quectel BC66 / BC66-NA / BC260Y-CN NB-IoT modules. */
#include "tools/bcsim/cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#ifndef BCSIM_VERSION
#define BCSIM_VERSION "unknown"
#endif

struct subcommand {
    const char *name;
    const char *summary;
    const char *usage;
    int (*fn)(int argc, char **argv);
};

static int cmd_help(int argc, char **argv);

static const char help_usage[] = "usage: bcsim help [COMMAND]\n";

static const struct subcommand subcommands[] = {
    {"run", "emulate a module on a pseudo-terminal (the default)", cli_run_usage, cli_run},
    {"ctl", "control a running emulator through its --control socket", cli_ctl_usage, cli_ctl},
    {"image", "list, export, make and inspect firmware images", cli_image_usage, cli_image},
    {"pkg", "make, inspect, verify and apply delta packages", cli_pkg_usage, cli_pkg},
    {"serve", "serve packages over HTTP, with faults on demand", cli_serve_usage, cli_serve},
    {"upload", "upload a package over a module's UART and update (AT+QFUPLEX)", cli_upload_usage,
     cli_upload},
    {"lwm2m-server", "a scriptable LwM2M 1.0 server for the module's client",
     cli_lwm2m_server_usage, cli_lwm2m_server},
    {"scenario", "run fault scenarios and their host scripts to a verdict (CI: JUnit XML)",
     cli_scenario_usage, cli_scenario},
    {"help", "show help for a command", help_usage, cmd_help},
};

static void print_overview(FILE *out)
{
    fprintf(out, "bcsim %s - emulator of Quectel BC66 / BC66-NA / BC260Y-CN modules\n\n",
            BCSIM_VERSION);
    fputs(cli_run_usage, out);
    fputs("\ncommands:\n", out);
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
    fputs("\n'bcsim help COMMAND' shows a command's options.\n", out);
}

static const struct subcommand *find(const char *name)
{
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(subcommands[i].name, name) == 0)
            return &subcommands[i];
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 1) {
        print_overview(stdout);
        return CLI_OK;
    }
    const struct subcommand *s = find(argv[0]);
    if (!s) {
        fprintf(stderr, "bcsim: no command '%s'; try 'bcsim help'\n", argv[0]);
        return CLI_USAGE;
    }
    fputs(s->usage, stdout);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    /* A peer that goes away (a control client, an HTTP server, a host) is an
     * EPIPE to handle where it happens, never a reason to die. */
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        print_overview(stdout);
        return CLI_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("bcsim %s\n", BCSIM_VERSION);
        return CLI_OK;
    }
    if (argc >= 2 && argv[1][0] != '-') {
        const struct subcommand *s = find(argv[1]);
        if (!s) {
            fprintf(stderr, "bcsim: no command '%s'; try 'bcsim help'\n", argv[1]);
            return CLI_USAGE;
        }
        return s->fn(argc - 2, argv + 2);
    }
    return cli_run(argc - 1, argv + 1);
}
