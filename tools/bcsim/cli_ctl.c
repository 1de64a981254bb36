/* bcsim ctl SOCKET COMMAND...: one request to a running emulator. */
#include "tools/bcsim/cli.h"

#include "sim/control/words.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char cli_ctl_usage[] =
    "usage: bcsim ctl SOCKET COMMAND [ARGS...]\n"
    "\n"
    "  status                       JSON: model, revision, power, network, fota, pty...\n"
    "  power on|off|cycle|cut       off is orderly; cut drops power mid-anything\n"
    "  net attach|detach|deny       the network appears, vanishes, or rejects the module\n"
    "  signal [FIELD=VALUE...]      what AT+CESQ/AT+CSQ report: rxlev ber rscp ecno\n"
    "                               rsrq rsrp rssi csq_ber (27.007 ranges)\n"
    "  signal reset                 the model's values again\n"
    "  urc TEXT                     emit TEXT as an unsolicited line\n"
    "  override \"AT-CMD\" \"REPLY\" [once]\n"
    "                               answer AT-CMD (a trailing * matches a prefix) with\n"
    "                               REPLY, the whole answer: the final result code is\n"
    "                               not added (\\n separates lines; \"\" stays silent)\n"
    "  override clear               forget all overrides\n"
    "  fault flash-program|flash-erase [N]  the Nth next program / erase fails (1)\n"
    "  fault flash-capacity BYTES   only BYTES of the FOTA area can be written\n"
    "  fault flash-cut N            the power is cut after N more flash operations\n"
    "  fault flash-tear N           ... and the operation it hits is half done\n"
    "  fault flash-worn [N]         the Nth next operation and every later one fail\n"
    "  fault uart-rx-drop|uart-rx-flip [N]  the Nth next byte from the host is lost /\n"
    "                               has its low bit flipped on the line (1)\n"
    "  fault uart-tx-drop [N]       the Nth next byte to the host is lost (1)\n"
    "  fault clear                  no flash or line faults\n"
    "  events                       stream events as JSON lines until interrupted\n"
    "\n"
    "Each argument is one word, as if quoted on the socket: \\n \\r \\t \\\" \\\\ are\n"
    "escapes there and here alike; another backslash is refused.\n"
    "\n"
    "Exit status: 0 done, 1 refused by the emulator, 2 usage, 3 cannot connect.\n";

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "bcsim ctl: socket path too long: %s\n", path);
        return -1;
    }
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "bcsim ctl: cannot connect to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int cli_ctl(int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(cli_ctl_usage, stdout);
        return CLI_OK;
    }
    if (argc < 2) {
        fputs(cli_ctl_usage, stderr);
        return CLI_USAGE;
    }
    /* The socket sees each argument as the word the user gave: decoded here
     * with the socket's escapes, then quoted. */
    char line[8192] = "", word[8192];
    for (int i = 1; i < argc; i++) {
        const char *bad;
        if (words_unescape(argv[i], word, sizeof word, &bad) != 0) {
            if (bad)
                fprintf(stderr,
                        "bcsim ctl: '%s': unknown escape '\\%.1s' (the escapes are \\n \\r "
                        "\\t \\\" \\\\)\n",
                        argv[i], bad + 1);
            else
                fprintf(stderr, "bcsim ctl: command too long\n");
            return CLI_USAGE;
        }
        if (words_quote(line, sizeof line - 1, word) != 0) {
            fprintf(stderr, "bcsim ctl: command too long\n");
            return CLI_USAGE;
        }
    }
    strcat(line, "\n");
    int fd = connect_to(argv[0]);
    if (fd < 0)
        return CLI_UNAVAILABLE;
    if (send_all(fd, line, strlen(line)) != 0) {
        fprintf(stderr, "bcsim ctl: %s: %s\n", argv[0], strerror(errno));
        close(fd);
        return CLI_UNAVAILABLE;
    }
    bool streaming = strcmp(argv[1], "events") == 0;
    if (!streaming)
        shutdown(fd, SHUT_WR);
    /* The first line is the reply; an event stream continues until EOF. */
    int status = CLI_UNAVAILABLE;
    bool first = true;
    char buf[16384]; /* more than the longest event line */
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            size_t len = (size_t)(nl - buf) + 1;
            if (first) {
                bool ok = strncmp(buf, "{\"ok\":true", 10) == 0;
                status = ok ? CLI_OK : CLI_FAILED;
                fwrite(buf, 1, len, ok ? stdout : stderr);
                first = false;
                if (!ok || !streaming)
                    goto done;
            } else {
                fwrite(buf, 1, len, stdout);
            }
            fflush(stdout);
            memmove(buf, buf + len, have - len);
            have -= len;
        }
        if (have == sizeof buf)
            have = 0; /* a line longer than the buffer: drop it */
    }
done:
    if (first)
        fprintf(stderr, "bcsim ctl: no reply from %s\n", argv[0]);
    close(fd);
    return status;
}
