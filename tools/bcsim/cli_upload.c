/* bcsim upload DEVICE PACKAGE: the reference host uploader (tools/upload/)
 * as a command: options, output and exit codes. It shares no code with the
 * module side; only the option parsing is the CLI's. */
#include "tools/bcsim/cli.h"
#include "tools/bcsim/cli_args.h"

#include "tools/upload/serial.h"
#include "tools/upload/uploader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char cli_upload_usage[] =
    "usage: bcsim upload [--baud RATE] [--block SIZE] [--timeout S] [--retries N]\n"
    "                    [--no-update] [--update-timeout S] [--progress|--lines]\n"
    "                    DEVICE PACKAGE\n"
    "\n"
    "Uploads PACKAGE to a BC66 or BC66-NA on the serial DEVICE (a real one or\n"
    "bcsim's PTY) with AT+QFUPLEX, block by block with their CRC-16, retrying a\n"
    "block that fails, then updates with AT+QFOTADL=1 and follows the module to\n"
    "+QIND: \"FOTA\",\"END\". The package file is only read.\n"
    "\n"
    "  --baud RATE          line rate, 9600 to 921600 (default 115200)\n"
    "  --block SIZE         <blocksize>: 128, 256, ... 8192 (default 4096)\n"
    "  --timeout S          <timeout> of each block, 1-60 s (default 6)\n"
    "  --retries N          tries of a block after the first, 0-100 (default 5)\n"
    "  --no-update          upload only, no AT+QFOTADL=1\n"
    "  --update-timeout S   from AT+QFOTADL=1 to END, 1-86400 s (default 300)\n"
    "  --progress, --lines  a progress bar, or one 'key=value' line per event\n"
    "                       (default: the bar on a terminal, lines otherwise)\n"
    "\n"
    "Exit status: 0 updated (END,0) or, with --no-update, uploaded; 2 usage;\n"
    "3 DEVICE or PACKAGE cannot be used (or the device failed); 4 the module does\n"
    "not answer AT; 5 it has no DFOTA over UART (AT+QFUPLEX=? or AT+QFOTADL=1 is\n"
    "ERROR); 6 a block failed after all retries; 7 the update ended with END,<err>\n"
    "other than 0; 8 no END within the update timeout.\n";

struct upload_opts {
    const char *device, *package;
    const char *baud, *block, *timeout, *retries, *update_timeout;
    bool no_update;
    int style; /* 0 by stdout, 1 progress, 2 lines */
};

static int parse(int argc, char **argv, struct upload_opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int r;
        if ((r = cli_take(argc, argv, &i, "--baud", &v)) != 0)
            o->baud = v;
        else if ((r = cli_take(argc, argv, &i, "--block", &v)) != 0)
            o->block = v;
        else if ((r = cli_take(argc, argv, &i, "--timeout", &v)) != 0)
            o->timeout = v;
        else if ((r = cli_take(argc, argv, &i, "--retries", &v)) != 0)
            o->retries = v;
        else if ((r = cli_take(argc, argv, &i, "--update-timeout", &v)) != 0)
            o->update_timeout = v;
        else if (strcmp(argv[i], "--no-update") == 0)
            o->no_update = true, r = 1;
        else if (strcmp(argv[i], "--progress") == 0)
            o->style = 1, r = 1;
        else if (strcmp(argv[i], "--lines") == 0)
            o->style = 2, r = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "bcsim upload: unknown option '%s'; try 'bcsim help upload'\n",
                    argv[i]);
            return -1;
        } else if (!o->device)
            o->device = argv[i], r = 1;
        else if (!o->package)
            o->package = argv[i], r = 1;
        else {
            fprintf(stderr, "bcsim upload: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
        if (r < 0)
            return -1;
    }
    if (!o->package) {
        fprintf(stderr, "bcsim upload: which %s? (bcsim upload DEVICE PACKAGE)\n",
                o->device ? "package" : "device and package");
        return -1;
    }
    return 0;
}

static int number(const char *option, const char *text, int64_t min, int64_t max, unsigned *out)
{
    int64_t v;
    if (!text)
        return 0;
    if (cli_number("bcsim upload", option, text, min, max, &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int options(const struct upload_opts *uo, struct upl_options *o)
{
    upl_options_default(o);
    o->update = !uo->no_update;
    if (number("--baud", uo->baud, 1, 921600, &o->baud) != 0 ||
        number("--block", uo->block, UPL_BLOCK_MIN, UPL_BLOCK_MAX, &o->block_size) != 0 ||
        number("--timeout", uo->timeout, UPL_TIMEOUT_MIN, UPL_TIMEOUT_MAX, &o->timeout_s) != 0 ||
        number("--retries", uo->retries, 0, 100, &o->retries) != 0 ||
        number("--update-timeout", uo->update_timeout, 1, 86400, &o->update_timeout_s) != 0)
        return -1;
    if (!upl_serial_baud_ok(o->baud)) {
        fprintf(stderr,
                "bcsim upload: --baud %u: expected 9600, 19200, 38400, 57600, 115200, 230400, "
                "460800 or 921600\n",
                o->baud);
        return -1;
    }
    if (o->block_size & (o->block_size - 1)) {
        fprintf(stderr,
                "bcsim upload: --block %u: expected 128, 256, 512, 1024, 2048, 4096 or "
                "8192\n",
                o->block_size);
        return -1;
    }
    /* The module counts <timeout> from '>': the block must fit in it on the line. */
    double line_s = (o->block_size + 2) * 10.0 / o->baud;
    if (line_s >= o->timeout_s) {
        fprintf(stderr,
                "bcsim upload: a block of %u bytes takes %.1f s at %u baud: give a --timeout "
                "above that or a smaller --block\n",
                o->block_size, line_s, o->baud);
        return -1;
    }
    return 0;
}

/* ---- Output ---------------------------------------------------------------------- */

struct out {
    bool bar;
    long t0; /* ms */
    unsigned retries;
    bool bar_open; /* a progress line is on the terminal, without its newline */
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double seconds(const struct out *o)
{
    return (double)(now_ms() - o->t0) / 1000.0;
}

static void bar(struct out *o, const struct upl_event *ev)
{
    char fill[31];
    size_t width = sizeof fill - 1, n = ev->total ? ev->done * width / ev->total : 0;
    memset(fill, '#', n);
    memset(fill + n, '-', width - n);
    fill[width] = '\0';
    double s = seconds(o);
    printf("\rupload [%s] %zu/%zu B %3zu%% %.1f KB/s", fill, ev->done, ev->total,
           ev->total ? ev->done * 100 / ev->total : 0, s > 0 ? ev->done / s / 1000.0 : 0.0);
    if (o->retries)
        printf(" retries %u", o->retries);
    printf("\033[K"); /* the rest of an older, longer line */
    o->bar_open = true;
}

static void bar_text(struct out *o, const char *text)
{
    printf("\r%s\033[K", text);
    o->bar_open = true;
}

static void on_event(const struct upl_event *ev, void *ctx)
{
    struct out *o = ctx;
    char text[64];
    if (o->bar) {
        switch (ev->type) {
        case UPL_EV_RETRY:
            o->retries++;
            /* fall through */
        case UPL_EV_BLOCK:
            bar(o, ev);
            break;
        case UPL_EV_UPLOADED:
            printf("\n");
            o->bar_open = false;
            break;
        case UPL_EV_STATE:
            snprintf(text, sizeof text, "update %s", ev->what);
            bar_text(o, text);
            break;
        case UPL_EV_PERCENT:
            snprintf(text, sizeof text, "update %d%%", ev->value);
            bar_text(o, text);
            break;
        case UPL_EV_END:
            snprintf(text, sizeof text, "update END,%d\n", ev->value);
            bar_text(o, text);
            o->bar_open = false;
            break;
        case UPL_EV_ESCAPE:
            break;
        }
        fflush(stdout);
        return;
    }
    switch (ev->type) {
    case UPL_EV_BLOCK:
        printf("block n=%u offset=%zu len=%zu result=%s tries=%u\n", (unsigned)ev->block,
               ev->offset, ev->len, ev->what, ev->tries);
        break;
    case UPL_EV_RETRY:
        printf("retry n=%u offset=%zu len=%zu try=%u why=%s\n", (unsigned)ev->block, ev->offset,
               ev->len, ev->tries, ev->what);
        break;
    case UPL_EV_ESCAPE:
        printf("escape n=%u answer=%s\n", (unsigned)ev->block, ev->what);
        break;
    case UPL_EV_UPLOADED:
        printf("uploaded bytes=%zu seconds=%.3f\n", ev->total, seconds(o));
        break;
    case UPL_EV_STATE:
        printf("update state=%s\n", ev->what);
        break;
    case UPL_EV_PERCENT:
        printf("update percent=%d\n", ev->value);
        break;
    case UPL_EV_END:
        printf("end err=%d\n", ev->value);
        break;
    }
    fflush(stdout);
}

static int exit_code(enum upl_status s)
{
    switch (s) {
    case UPL_OK:
        return CLI_OK;
    case UPL_EIO:
        return CLI_UNAVAILABLE;
    case UPL_ENOANSWER:
        return CLI_UPLOAD_NO_ANSWER;
    case UPL_EREFUSED:
        return CLI_UPLOAD_REFUSED;
    case UPL_EBLOCK:
        return CLI_UPLOAD_BLOCK_FAILED;
    case UPL_EUPDATE:
        return CLI_UPLOAD_UPDATE_FAILED;
    case UPL_EUPDATE_TIMEOUT:
        return CLI_UPLOAD_UPDATE_TIMEOUT;
    case UPL_EINVAL:
        break;
    }
    return CLI_USAGE;
}

static void report_error(const struct upl_options *o, const struct upl_result *r,
                         const char *device)
{
    switch (r->status) {
    case UPL_EIO:
        fprintf(stderr, "bcsim upload: %s: %s\n", device, r->why);
        break;
    case UPL_EBLOCK:
        fprintf(stderr, "bcsim upload: block %u failed after %u tries (last: %s)\n",
                (unsigned)r->block, o->retries + 1, r->why);
        break;
    case UPL_EUPDATE:
        fprintf(stderr, "bcsim upload: the update failed: +QIND: \"FOTA\",\"END\",%d\n",
                r->end_err);
        break;
    case UPL_EUPDATE_TIMEOUT:
        fprintf(stderr, "bcsim upload: no +QIND: \"FOTA\",\"END\" within %u s\n",
                o->update_timeout_s);
        break;
    case UPL_EINVAL:
        fprintf(stderr, "bcsim upload: %s\n", r->why);
        break;
    default:
        fprintf(stderr, "bcsim upload: %s: %s\n", device, upl_status_text(r->status));
        break;
    }
}

int cli_upload(int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(cli_upload_usage, stdout);
        return CLI_OK;
    }
    struct upload_opts uo = {0};
    struct upl_options o;
    if (parse(argc, argv, &uo) != 0 || options(&uo, &o) != 0)
        return CLI_USAGE;
    uint8_t *pkg;
    size_t len;
    if (cli_read_file(uo.package, &pkg, &len) != 0)
        return CLI_UNAVAILABLE;
    if (len == 0 || (len + o.block_size - 1) / o.block_size > UPL_BLOCKS_MAX) {
        if (len == 0)
            fprintf(stderr, "bcsim upload: %s: empty\n", uo.package);
        else
            fprintf(stderr, "bcsim upload: %s: %zu bytes are more than %u blocks of %u\n",
                    uo.package, len, UPL_BLOCKS_MAX, o.block_size);
        free(pkg);
        return CLI_UNAVAILABLE;
    }
    int fd = upl_serial_open(uo.device, o.baud);
    if (fd < 0) {
        fprintf(stderr, "bcsim upload: %s: %s\n", uo.device,
                errno == ENOTTY ? "not a serial device" : strerror(errno));
        free(pkg);
        return CLI_UNAVAILABLE;
    }
    struct out out = {.bar = uo.style ? uo.style == 1 : isatty(STDOUT_FILENO), .t0 = now_ms()};
    o.event = on_event;
    o.ctx = &out;
    if (!out.bar)
        printf("start device=%s bytes=%zu blocks=%zu block=%u\n", uo.device, len,
               (len + o.block_size - 1) / o.block_size, o.block_size);
    struct upl_result r;
    enum upl_status s = upl_run(fd, pkg, len, &o, &r);
    close(fd);
    free(pkg);
    if (out.bar_open)
        printf("\n");
    int code = exit_code(s);
    if (!out.bar)
        printf("done result=%s exit=%d seconds=%.3f\n",
               s != UPL_OK ? "failed"
               : o.update  ? "updated"
                           : "uploaded",
               code, seconds(&out));
    fflush(stdout);
    if (s != UPL_OK)
        report_error(&o, &r, uo.device);
    return code;
}
