#include "sim/profile.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* The MT2625 boot ROM of BC66/BC66-NA prints these at every power-on (card 2, 6.1). */
static const char *const mt2625_brom[] = {
    "F1: 0000 0000",        "V0: 0000 0000 [0001]", "00: 0006 000C",    "01: 0000 0000",
    "U0: 0000 0001 [0000]", "T0: 0000 00B4",        "Leaving the BROM", NULL,
};
static const char *const no_brom[] = {NULL};

/* Nominal realtime delays; the logs quoted in the README put a BC66 reboot at
 * about 5 s from power-on to "+IP:". */
static const struct prof_boot_step bc66_boot[] = {
    {50, PROF_BOOT_BROM},  {1450, PROF_BOOT_RDY},   {20, PROF_BOOT_CFUN}, {10, PROF_BOOT_FOTA},
    {590, PROF_BOOT_CPIN}, {10, PROF_BOOT_NETWORK}, {0, PROF_BOOT_END},
};
static const struct prof_boot_step bc260y_boot[] = {
    {1200, PROF_BOOT_RDY}, {20, PROF_BOOT_CFUN},    {10, PROF_BOOT_FOTA},
    {390, PROF_BOOT_CPIN}, {10, PROF_BOOT_NETWORK}, {0, PROF_BOOT_END},
};

static const uint32_t mt2625_bauds[] = {4800, 9600, 57600, 115200, 230400, 460800, 921600, 0};
static const uint32_t bc260y_bauds[] = {2400,  4800,   9600,   19200,  38400,
                                        57600, 115200, 230400, 460800, 0};

/* The commands every model answers; the MT2625 models add the UART upload
 * (card 2 chapter 3), which card 1 does not have. */
#define COMMON_COMMANDS                                                                            \
    "I", "E", "&W", "+CGMI", "+CGMM", "+CGMR", "+CGSN", "+CMEE", "+IPR", "+CFUN", "+QRST",         \
        "+CPIN", "+CESQ", "+CSQ", "+CEREG", "+CREG", "+CGATT", "+CGPADDR", "+COPS", "+QFOTADL"
static const char *const common_commands[] = {COMMON_COMMANDS, NULL};
static const char *const mt2625_commands[] = {
    COMMON_COMMANDS, "+QFUPLEX",   "+QLWCONFIG", "+QLWREG",   "+QLWUPDATE",
    "+QLWDEREG",     "+QLWADDOBJ", "+QLWDELOBJ", "+QLWRDRSP", "+QLWWRRSP",
    "+QLWEXERSP",    "+QLWOBSRSP", "+QLWNOTIFY", NULL};

/* Flash: 4 KiB sectors; firmware, FOTA download area, scratch (a staging
 * sector and 15 stash slots), journal. Sizes are bcsim's choice: large enough
 * for the corpus images (about 600 KiB) and the packages the cards describe. */
#define FLASH_LAYOUT(fw_kib, fota_kib)                                                             \
    {                                                                                              \
        .sector_size = 4096, .fw_offset = 0, .fw_size = (fw_kib)*1024,                             \
        .fota_offset = (fw_kib)*1024, .fota_size = (fota_kib)*1024,                                \
        .scratch_offset = ((fw_kib) + (fota_kib)) * 1024, .scratch_size = 64 * 1024,               \
        .journal_offset = ((fw_kib) + (fota_kib) + 64) * 1024, .journal_size = 32 * 1024,          \
        .total_size = ((fw_kib) + (fota_kib) + 96) * 1024                                          \
    }

static const struct prof_revision bc66_revisions[] = {
    {"BC66NBR01A07", 0x66, 0}, {"BC66NBR01A08", 0x66, 1}, {"BC66NBR01A10", 0x66, 2}, {NULL, 0, 0}};
static const struct prof_revision bc66_na_revisions[] = {
    {"BC66NANBR01A02", 0x660a, 0}, {"BC66NANBR01A03", 0x660a, 1}, {NULL, 0, 0}};
/* R01 and R02 are separate baselines (card 1): separate lineages too. */
static const struct prof_revision bc260y_revisions[] = {{"BC260YCNAAR01A05", 0x2601, 3},
                                                        {"BC260YCNAAR02A02", 0x2602, 0},
                                                        {"BC260YCNAAR02A03", 0x2602, 1},
                                                        {NULL, 0, 0}};

/* Both cards: HTTP downloads report their progress; a URL without a port
 * means port 80. */
#define HTTP_TRANSPORT                                                                             \
    {                                                                                              \
        .urc_word = "HTTP", .progress = true, .default_port = 80                                   \
    }

/* Card 2 chapter 4: the LwM2M server hands the module a coap:// Package URI;
 * 5683 is CoAP's port (RFC 7252) when it names none. 512-byte blocks are
 * bcsim's choice: the card names no size. Section 6.3.5 shows the update
 * without a START line. */
#define LWM2M_COAP                                                                                 \
    {                                                                                              \
        .urc_word = "COAP", .progress = false, .default_port = 5683, .block_size = 512             \
    }

/* Card 2: <download_err> 0, 12 failed, 13 network deactivated, 20 network
 * activating; <update_err> 0, 1 unknown, 2 busy, 254 mismatch, 255 invalid.
 * Cases without a code of their own take the closest one (README).
 * AT+QFOTADL takes HTTP only: these models fetch over CoAP when an LwM2M
 * server drives the update (card 2 chapter 4), so a coap:// URL is an ERROR. */
#define BC66_FOTA                                                                                  \
    {                                                                                              \
        .test_reply = NULL, .transports = {[URL_HTTP] = HTTP_TRANSPORT}, .notsupport_urc = false,  \
        .lwm2m_transports =                                                                        \
            {[URL_COAP] = LWM2M_COAP, [URL_HTTP] = {.urc_word = "HTTP", .default_port = 80}},      \
        .lwm2m_start_urc = false, .dl_dns = 12, .dl_failed = 12, .dl_net_lost = 13,                \
        .dl_net_unavailable = 20, .dl_flash_write = 12, .dl_flash_full = 12, .dl_unknown = 12,     \
        .up_invalid = 255, .up_mismatch = 254, .up_busy = 2, .up_failed = 1, .step_ms = 120        \
    }

/* What every MT2625-based model shares: BC66 and BC66-NA run the same firmware
 * family and AT stack, and differ only in identity. */
#define MT2625_PLATFORM                                                                            \
    .manufacturer = "Quectel_Ltd", .svn = "01", .brom_lines = mt2625_brom, .boot = bc66_boot,      \
    .registration_ms = 2500, .pdn_ms = 500, .baud_rates = mt2625_bauds, .autobaud = true,          \
    .default_baud = 115200, .autosave = PROF_SAVE_IPR, .pdn_cid = 1, .quote_ip = false,            \
    .plmn = "46011", .tac = "5A1F", .cell = "0E6C2F41",                                            \
    .signal = {.rxlev = 47,                                                                        \
               .ber = 6,                                                                           \
               .rscp = 255,                                                                        \
               .ecno = 255,                                                                        \
               .rsrq = 0,                                                                          \
               .rsrp = 54,                                                                         \
               .rssi = 21,                                                                         \
               .csq_ber = 0},                                                                      \
    .fota = BC66_FOTA, .commands = mt2625_commands, .flash = FLASH_LAYOUT(1536, 768),              \
    .updater_ram = 64 * 1024, .factory = 0, .baselines_locked = false

static const struct profile bc66 = {
    .id = "bc66",
    .model = "Quectel_BC66",
    .revisions = bc66_revisions,
    .tac_prefix = "86772503",
    MT2625_PLATFORM,
};

/* BC66-NA is the BC66 for North American bands. */
static const struct profile bc66_na = {
    .id = "bc66-na",
    .model = "Quectel_BC66NA",
    .revisions = bc66_na_revisions,
    .tac_prefix = "86772504",
    MT2625_PLATFORM,
};

static const struct profile bc260y_cn = {
    .id = "bc260y-cn",
    .manufacturer = "Quectel_Ltd",
    .model = "Quectel_BC260Y-CN",
    .revisions = bc260y_revisions,
    .factory = 1,
    .baselines_locked = true,
    .flash = FLASH_LAYOUT(1024, 768),
    .updater_ram = 48 * 1024,
    .tac_prefix = "86274506",
    .svn = "02",
    .brom_lines = no_brom,
    .boot = bc260y_boot,
    .registration_ms = 2000,
    .pdn_ms = 400,
    .baud_rates = bc260y_bauds,
    .autobaud = true,
    .default_baud = 115200,
    .autosave = PROF_SAVE_ECHO | PROF_SAVE_CMEE | PROF_SAVE_IPR | PROF_SAVE_CEREG,
    .pdn_cid = 0,
    .quote_ip = true,
    .plmn = "46011",
    .tac = "5A1F",
    .cell = "0E6C2F41",
    .signal = {.rxlev = 99,
               .ber = 99,
               .rscp = 255,
               .ecno = 255,
               .rsrq = 23,
               .rsrp = 49,
               .rssi = 18,
               .csq_ber = 0},
    /* Card 1: <dl_err> 0, 1 unknown, 2 DNS, 12 failed, 13 network deactivated,
     * 99 network unavailable, 100 flash write, 101 flash full; <upgrade_err>
     * 0 and 255 only. */
    .fota = {.test_reply = "+QFOTADL=<URL>",
             /* Card 1 section 2.2: CoAP's default port is 80 too (not 5683), and
              * section 7.1 shows no progress URCs. Blocks of 256 bytes: small
              * RAM, and a 76 KB package then takes the 5-10 minutes that card 2
              * quotes for NB-IoT (README, "CoAP link model"). */
             .transports = {[URL_HTTP] = HTTP_TRANSPORT,
                            [URL_COAP] = {.urc_word = "COAP",
                                          .progress = false,
                                          .default_port = 80,
                                          .block_size = 256}},
             .notsupport_urc = true,
             .dl_dns = 2,
             .dl_failed = 12,
             .dl_net_lost = 13,
             .dl_net_unavailable = 99,
             .dl_flash_write = 100,
             .dl_flash_full = 101,
             .dl_unknown = 1,
             .up_invalid = 255,
             .up_mismatch = 255,
             .up_busy = -1,
             .up_failed = 255,
             .step_ms = 100},
    .commands = common_commands,
};

const struct profile *const prof_all[] = {&bc66, &bc66_na, &bc260y_cn, NULL};

const struct profile *prof_find(const char *id)
{
    for (int i = 0; prof_all[i]; i++)
        if (strcasecmp(prof_all[i]->id, id) == 0) /* "BC66" as printed on the module */
            return prof_all[i];
    return NULL;
}

const char *prof_factory_revision(const struct profile *p)
{
    return p->revisions[p->factory].name;
}

const struct prof_revision *prof_revision(const struct profile *p, const char *name)
{
    for (int i = 0; p->revisions[i].name; i++)
        if (strcmp(p->revisions[i].name, name) == 0)
            return &p->revisions[i];
    return NULL;
}

bool prof_has_command(const struct profile *p, const char *name)
{
    for (int i = 0; p->commands[i]; i++)
        if (strcmp(p->commands[i], name) == 0)
            return true;
    return false;
}

bool prof_baud_supported(const struct profile *p, uint32_t baud)
{
    if (baud == 0)
        return p->autobaud;
    for (int i = 0; p->baud_rates[i]; i++)
        if (p->baud_rates[i] == baud)
            return true;
    return false;
}
