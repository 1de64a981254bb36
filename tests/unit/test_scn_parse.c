/* The scenario parser: scenarios/README.md's language into struct scenario,
 * and its errors with their line and column. */
#include "tests/integration/suites.h"
#include "tests/integration/scratch.h"
#include "sim/scenario/scn.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct scenario *parse_ok(const char *text)
{
    struct scenario *s = scn_alloc();
    ck_assert_ptr_nonnull(s);
    struct scn_error err;
    int rc = scn_parse(s, "dir/test.scn", text, &err);
    ck_assert_msg(rc == 0, "%d:%d: %s", err.pos.line, err.pos.col, err.message);
    return s;
}

/* The README's first example, verbatim. */
START_TEST(readme_http_example)
{
    struct scenario *s =
        parse_ok("# Card 2, section 6.1: DFOTA over HTTP on the BC66, line for line.\n"
                 "scenario \"card 2 6.1: HTTP DFOTA on the BC66\"\n"
                 "model bc66\n"
                 "package update.bin from BC66NBR01A07 to BC66NBR01A10\n"
                 "server http www\n"
                 "resolve www.quectel.com:100 to www\n"
                 "\n"
                 "expect \"RDY\"\n"
                 "await \"+IP: *\" within 30s\n"
                 "send \"AT+QFOTADL=\\\"http://www.quectel.com:100/update.bin\\\"\"\n"
                 "expect \"AT+QFOTADL=\\\"http://www.quectel.com:100/update.bin\\\"\"\n"
                 "expect \"OK\"\n"
                 "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPSTART\\\"\"\n"
                 "lines /^\\+QIND: \"FOTA\",\"DOWNLOADING\",[0-9]+%$/\n"
                 "expect \"+QIND: \\\"FOTA\\\",\\\"HTTPEND\\\",0\"\n");
    ck_assert_str_eq(s->title, "card 2 6.1: HTTP DFOTA on the BC66");
    ck_assert_str_eq(s->path, "dir/test.scn");
    ck_assert_str_eq(s->model, "bc66");
    ck_assert_int_eq(s->npackages, 1);
    ck_assert_str_eq(s->packages[0].name, "update.bin");
    ck_assert_str_eq(s->packages[0].from, "BC66NBR01A07");
    ck_assert_str_eq(s->packages[0].to, "BC66NBR01A10");
    ck_assert_str_eq(s->packages[0].breakage, "");
    ck_assert_uint_eq(s->packages[0].size, 0);
    ck_assert_int_eq(s->nservers, 1);
    ck_assert_int_eq(s->servers[0].kind, SCN_SERVER_HTTP);
    ck_assert_str_eq(s->servers[0].name, "www");
    ck_assert_int_eq(s->servers[0].nfaults, 0);
    ck_assert_int_eq(s->nresolves, 1);
    ck_assert_str_eq(s->resolves[0].host, "www.quectel.com");
    ck_assert_uint_eq(s->resolves[0].port, 100);
    ck_assert_str_eq(s->resolves[0].server, "www");
    ck_assert_int_eq(s->nrules, 0);
    ck_assert_int_eq(s->nsteps, 8);
    ck_assert_int_eq(s->steps[0].kind, SCN_S_EXPECT);
    ck_assert_str_eq(s->steps[0].pattern.text, "RDY");
    ck_assert(!s->steps[0].pattern.regex);
    ck_assert_uint_eq(s->steps[0].ms, SCN_WITHIN_DEFAULT_MS);
    ck_assert_int_eq(s->steps[0].pos.line, 8);
    ck_assert_int_eq(s->steps[0].pos.col, 1);
    ck_assert_int_eq(s->steps[1].kind, SCN_S_AWAIT);
    ck_assert_str_eq(s->steps[1].pattern.text, "+IP: *");
    ck_assert_uint_eq(s->steps[1].ms, 30000);
    ck_assert_int_eq(s->steps[2].kind, SCN_S_SEND);
    ck_assert_str_eq(s->steps[2].text, "AT+QFOTADL=\"http://www.quectel.com:100/update.bin\"");
    ck_assert_uint_eq(s->steps[2].len, strlen(s->steps[2].text));
    ck_assert_int_eq(s->steps[6].kind, SCN_S_LINES);
    ck_assert(s->steps[6].pattern.regex);
    ck_assert_str_eq(s->steps[6].pattern.text, "^\\+QIND: \"FOTA\",\"DOWNLOADING\",[0-9]+%$");
    ck_assert_int_eq(s->steps[6].pattern.pos.line, 14);
    ck_assert_int_eq(s->steps[6].pattern.pos.col, 7);
    ck_assert_str_eq(s->steps[7].pattern.text, "+QIND: \"FOTA\",\"HTTPEND\",0");
    free(s);
}
END_TEST

/* The second example, with host steps in place of its "...". */
START_TEST(readme_power_cut_example)
{
    struct scenario *s =
        parse_ok("# A power cut at half of UPDATING: the update resumes at the next power-on.\n"
                 "model bc260y-cn\n"
                 "package up.pkg from BC260YCNAAR02A02 to BC260YCNAAR02A03\n"
                 "server http www\n"
                 "on updating 50% -> power cut; wait 2s; power on\n"
                 "\n"
                 "send \"ATE0\"\n"
                 "expect \"OK\"\n"
                 "send \"AT+QFOTADL=\\\"${www.url}/up.pkg\\\"\"\n");
    ck_assert_str_eq(s->title, "test.scn"); /* the file's base name */
    ck_assert_str_eq(s->model, "bc260y-cn");
    ck_assert_int_eq(s->nrules, 1);
    const struct scn_rule *r = &s->rules[0];
    ck_assert_int_eq(r->trigger.kind, SCN_T_UPDATING);
    ck_assert(r->trigger.percent);
    ck_assert_uint_eq(r->trigger.n, 50);
    ck_assert(!r->repeat);
    ck_assert_int_eq(r->pos.line, 5);
    ck_assert_int_eq(r->first_action, 0);
    ck_assert_int_eq(r->nactions, 3);
    ck_assert_int_eq(s->nactions, 3);
    ck_assert_int_eq(s->actions[0].kind, SCN_A_POWER);
    ck_assert_str_eq(s->actions[0].word, "cut");
    ck_assert_int_eq(s->actions[1].kind, SCN_A_WAIT);
    ck_assert_uint_eq(s->actions[1].ms, 2000);
    ck_assert_int_eq(s->actions[2].kind, SCN_A_POWER);
    ck_assert_str_eq(s->actions[2].word, "on");
    ck_assert_int_eq(s->actions[2].pos.col, 40);
    ck_assert_int_eq(s->nsteps, 3);
    ck_assert_str_eq(s->steps[2].text, "AT+QFOTADL=\"${www.url}/up.pkg\"");
    free(s);
}
END_TEST

/* The README's examples themselves, so that the reference stays true: each
 * fenced block that starts with a comment, its "..." line left out. */
START_TEST(readme_blocks)
{
    FILE *f = fopen(SOURCE_ROOT "/scenarios/README.md", "r");
    ck_assert_ptr_nonnull(f);
    static char readme[64 * 1024], block[8192];
    size_t n = fread(readme, 1, sizeof readme - 1, f);
    ck_assert(feof(f));
    fclose(f);
    readme[n] = '\0';
    struct scenario *s = scn_alloc();
    ck_assert_ptr_nonnull(s);
    int found = 0;
    for (const char *c = strstr(readme, "```\n#"); c; c = strstr(c, "```\n#")) {
        const char *start = c + 4, *end = strstr(start, "```");
        ck_assert_ptr_nonnull(end);
        size_t len = 0;
        for (const char *line = start; line < end;) {
            const char *nl = strchr(line, '\n');
            size_t l = (size_t)(nl - line) + 1;
            if (strncmp(line, "...\n", 4) != 0) {
                ck_assert_uint_lt(len + l, sizeof block);
                memcpy(block + len, line, l);
                len += l;
            }
            line = nl + 1;
        }
        block[len] = '\0';
        struct scn_error err;
        ck_assert_msg(scn_parse(s, "readme.scn", block, &err) == 0, "%d:%d: %s in\n%s",
                      err.pos.line, err.pos.col, err.message, block);
        found++;
        c = end + 3;
    }
    ck_assert_int_eq(found, 2);
    /* the last: the power cut */
    ck_assert_str_eq(s->model, "bc260y-cn");
    ck_assert_int_eq(s->nrules, 1);
    ck_assert_int_eq(s->rules[0].nactions, 3);
    free(s);
}
END_TEST

START_TEST(declarations)
{
    struct scenario *s = parse_ok("model BC66-NA\n"
                                  "speed 10\n"
                                  "seed 4294967295\n"
                                  "link rtt=50 downlink=0\n"
                                  "boot off\n"
                                  "package a from R1 to R2 break wrong-model size 4096\n"
                                  "package b from R1 to R2 size 1 break truncate force\n"
                                  "server http www status=503 reset=4096@/a chunked\n"
                                  "server coap c code=4.04 drop=3\n"
                                  "server lwm2m lw\n"
                                  "server closed down\n"
                                  "resolve h.example to 127.0.0.1:8080\n"
                                  "resolve h.example:5683 to c\n"
                                  "resolve x to [::1]:99\n");
    ck_assert_str_eq(s->model, "bc66-na");
    ck_assert_str_eq(s->speed, "10");
    ck_assert(s->has_seed);
    ck_assert_uint_eq(s->seed, 4294967295u);
    ck_assert(s->has_link);
    ck_assert_uint_eq(s->downlink, 0);
    ck_assert_uint_eq(s->rtt_ms, 50);
    ck_assert(s->boot_off);
    ck_assert_int_eq(s->npackages, 2);
    ck_assert_str_eq(s->packages[0].breakage, "wrong-model");
    ck_assert_uint_eq(s->packages[0].size, 4096);
    ck_assert_str_eq(s->packages[1].breakage, "truncate");
    ck_assert_uint_eq(s->packages[1].size, 1);
    ck_assert(!s->packages[0].force && s->packages[1].force);
    ck_assert_int_eq(s->nservers, 4);
    ck_assert_int_eq(s->servers[0].nfaults, 3);
    ck_assert_str_eq(s->servers[0].faults[1], "reset=4096@/a");
    ck_assert_int_eq(s->servers[1].kind, SCN_SERVER_COAP);
    ck_assert_int_eq(s->servers[1].nfaults, 2);
    ck_assert_str_eq(s->servers[1].faults[0], "code=4.04");
    ck_assert_int_eq(s->servers[2].kind, SCN_SERVER_LWM2M);
    ck_assert_int_eq(s->servers[3].kind, SCN_SERVER_CLOSED);
    ck_assert_int_eq(s->nresolves, 3);
    ck_assert_str_eq(s->resolves[0].host, "h.example");
    ck_assert_uint_eq(s->resolves[0].port, 0);
    ck_assert_str_eq(s->resolves[0].addr, "127.0.0.1:8080");
    ck_assert_str_eq(s->resolves[0].server, "");
    ck_assert_uint_eq(s->resolves[1].port, 5683);
    ck_assert_str_eq(s->resolves[1].server, "c");
    ck_assert_str_eq(s->resolves[2].addr, "[::1]:99");
    free(s);

    s = parse_ok("model bc66\nlink downlink=100\n");
    ck_assert_uint_eq(s->downlink, 100);
    ck_assert_uint_eq(s->rtt_ms, 1000); /* the default */
    ck_assert(!s->has_seed);
    ck_assert_str_eq(s->speed, "");
    free(s);
}
END_TEST

START_TEST(triggers)
{
    struct scenario *s =
        parse_ok("model bc66\n"
                 "on at 2m -> log \"a\"\n"
                 "on command \"AT+QFOTADL=*\" repeat -> net detach\n"
                 "on urc /^\\+QIND: \"FOTA\",\"DOWNLOADING\",([0-9]+)%$/ -> dns fail\n"
                 "on event fota state=updating result=0 -> dns ok\n"
                 "on event cell -> net attach\n"
                 "on download 40% repeat -> power off\n"
                 "on download 1024 bytes -> power cycle\n"
                 "on upload 512 bytes -> net deny\n"
                 "on upload block 3 repeat -> signal reset\n"
                 "on updating 100% -> power on\n"
                 "on flash-op 17 -> power cut\n"
                 "on boot 2 -> log \"second\"\n");
    ck_assert_int_eq(s->nrules, 12);
    const struct scn_trigger *t = &s->rules[0].trigger;
    ck_assert_int_eq(t->kind, SCN_T_AT);
    ck_assert_uint_eq(t->ms, 120000);
    t = &s->rules[1].trigger;
    ck_assert_int_eq(t->kind, SCN_T_COMMAND);
    ck_assert_str_eq(t->pattern.text, "AT+QFOTADL=*");
    ck_assert(s->rules[1].repeat);
    t = &s->rules[2].trigger;
    ck_assert_int_eq(t->kind, SCN_T_URC);
    ck_assert(t->pattern.regex);
    t = &s->rules[3].trigger;
    ck_assert_int_eq(t->kind, SCN_T_EVENT);
    ck_assert_str_eq(t->event_type, "fota");
    ck_assert_int_eq(t->nfields, 2);
    ck_assert_str_eq(t->fields[0].key, "state");
    ck_assert_str_eq(t->fields[0].value, "updating");
    ck_assert_str_eq(t->fields[1].key, "result");
    ck_assert_str_eq(t->fields[1].value, "0");
    ck_assert_int_eq(s->rules[4].trigger.nfields, 0);
    t = &s->rules[5].trigger;
    ck_assert_int_eq(t->kind, SCN_T_DOWNLOAD);
    ck_assert(t->percent);
    ck_assert_uint_eq(t->n, 40);
    ck_assert(s->rules[5].repeat);
    t = &s->rules[6].trigger;
    ck_assert_int_eq(t->kind, SCN_T_DOWNLOAD);
    ck_assert(!t->percent);
    ck_assert_uint_eq(t->n, 1024);
    t = &s->rules[7].trigger;
    ck_assert_int_eq(t->kind, SCN_T_UPLOAD);
    ck_assert(!t->block);
    ck_assert_uint_eq(t->n, 512);
    t = &s->rules[8].trigger;
    ck_assert(t->block);
    ck_assert_uint_eq(t->n, 3);
    ck_assert_int_eq(s->rules[9].trigger.kind, SCN_T_UPDATING);
    ck_assert_uint_eq(s->rules[9].trigger.n, 100);
    ck_assert_int_eq(s->rules[10].trigger.kind, SCN_T_FLASH_OP);
    ck_assert_uint_eq(s->rules[10].trigger.n, 17);
    ck_assert_int_eq(s->rules[11].trigger.kind, SCN_T_BOOT);
    ck_assert_uint_eq(s->rules[11].trigger.n, 2);
    ck_assert_int_eq(s->rules[11].first_action, 11);
    free(s);
}
END_TEST

START_TEST(actions)
{
    struct scenario *s =
        parse_ok("model bc66\n"
                 "server http www\n"
                 "server coap c\n"
                 "on at 1s -> power off; net detach; dns fail; signal rsrp=40 rssi=99; signal "
                 "reset; fault flash-cut 3; fault flash-worn; fault clear\n"
                 "on at 2s -> override \"AT+CSQ\" \"+CSQ: 6,99\\nOK\" once; override \"A\" \"B\"; "
                 "override clear; urc \"+CEREG: 0\"\n"
                 "on at 3s -> server www reset=10 status=500; server c block=16; server www "
                 "clear; server c stop; server c start; wait 500ms; log \"x;y\"\n");
    ck_assert_int_eq(s->nactions, 19);
    const struct scn_action *a = s->actions;
    ck_assert_int_eq(a[0].kind, SCN_A_POWER);
    ck_assert_int_eq(a[1].kind, SCN_A_NET);
    ck_assert_str_eq(a[1].word, "detach");
    ck_assert_int_eq(a[2].kind, SCN_A_DNS);
    ck_assert(a[2].flag);
    ck_assert_int_eq(a[3].kind, SCN_A_SIGNAL);
    ck_assert_str_eq(a[3].text, "rsrp=40 rssi=99");
    ck_assert_int_eq(a[4].kind, SCN_A_SIGNAL_RESET);
    ck_assert_int_eq(a[5].kind, SCN_A_FAULT);
    ck_assert_str_eq(a[5].word, "flash-cut");
    ck_assert_uint_eq(a[5].n, 3);
    ck_assert_str_eq(a[6].word, "flash-worn");
    ck_assert_uint_eq(a[6].n, 0);
    ck_assert_str_eq(a[7].word, "clear");
    ck_assert_int_eq(a[8].kind, SCN_A_OVERRIDE);
    ck_assert_str_eq(a[8].text, "AT+CSQ");
    ck_assert_str_eq(a[8].text2, "+CSQ: 6,99\nOK");
    ck_assert(a[8].flag);
    ck_assert(!a[9].flag);
    ck_assert_int_eq(a[10].kind, SCN_A_OVERRIDE_CLEAR);
    ck_assert_int_eq(a[11].kind, SCN_A_URC);
    ck_assert_str_eq(a[11].text, "+CEREG: 0");
    ck_assert_int_eq(a[12].kind, SCN_A_SERVER_FAULT);
    ck_assert_str_eq(a[12].server, "www");
    ck_assert_int_eq(a[12].nfaults, 2);
    ck_assert_str_eq(a[12].faults[1], "status=500");
    ck_assert_int_eq(a[13].kind, SCN_A_SERVER_FAULT);
    ck_assert_str_eq(a[13].faults[0], "block=16");
    ck_assert_int_eq(a[14].kind, SCN_A_SERVER_CLEAR);
    ck_assert_int_eq(a[15].kind, SCN_A_SERVER_STOP);
    ck_assert_int_eq(a[16].kind, SCN_A_SERVER_START);
    ck_assert_int_eq(a[17].kind, SCN_A_WAIT);
    ck_assert_uint_eq(a[17].ms, 500);
    ck_assert_int_eq(a[18].kind, SCN_A_LOG);
    ck_assert_str_eq(a[18].text, "x;y"); /* ';' in a string separates nothing */
    ck_assert_int_eq(s->rules[2].first_action, 12);
    ck_assert_int_eq(s->rules[2].nactions, 7);
    free(s);
}
END_TEST

START_TEST(steps)
{
    struct scenario *s = parse_ok("model bc66\n"
                                  "package p from R1 to R2\n"
                                  "server lwm2m lw\n"
                                  "send \"AT\"\n"
                                  "send-raw \"\\x00\\xff\\\"\\\\\\n\\r\\tA\"\n"
                                  "send-data p 0 1024\n"
                                  "send-data p 1024 10 crc-swapped\n"
                                  "send-data p 5 6 no-crc\n"
                                  "send-data p 5 6 crc\n"
                                  "expect /^OK$/ as ok within 1h\n"
                                  "await \"+QIND: *\" within 5s as line\n"
                                  "lines \"+QIND: \\\"FOTA\\\",\\\"DOWNLOADING\\\",*\" within 2m\n"
                                  "quiet 300ms\n"
                                  "absent \"ERROR\" for 2s\n"
                                  "wait 0s\n"
                                  "do power on; net attach\n"
                                  "assert \"${ok}\" == OK\n"
                                  "assert ${status.revision} != \"R1\"\n"
                                  "close\n"
                                  "open\n"
                                  "lwm2m \"exec EP /5/0/2\"\n"
                                  "lwm2m-expect /registered (.*)/ within 20s as ep\n");
    ck_assert_int_eq(s->nsteps, 19);
    const struct scn_step *st = s->steps;
    ck_assert_int_eq(st[0].kind, SCN_S_SEND);
    ck_assert_int_eq(st[1].kind, SCN_S_SEND_RAW);
    ck_assert_uint_eq(st[1].len, 8);
    ck_assert_mem_eq(st[1].text, "\x00\xff\"\\\n\r\tA", 9);
    ck_assert_int_eq(st[2].kind, SCN_S_SEND_DATA);
    ck_assert_str_eq(st[2].package, "p");
    ck_assert_uint_eq(st[2].offset, 0);
    ck_assert_uint_eq(st[2].length, 1024);
    ck_assert_int_eq(st[2].crc, SCN_CRC);
    ck_assert_uint_eq(st[3].offset, 1024);
    ck_assert_int_eq(st[3].crc, SCN_CRC_SWAPPED);
    ck_assert_int_eq(st[4].crc, SCN_CRC_NONE);
    ck_assert_int_eq(st[5].crc, SCN_CRC);
    ck_assert_int_eq(st[6].kind, SCN_S_EXPECT);
    ck_assert_str_eq(st[6].capture, "ok");
    ck_assert_uint_eq(st[6].ms, 3600000);
    ck_assert_int_eq(st[7].kind, SCN_S_AWAIT);
    ck_assert_str_eq(st[7].capture, "line");
    ck_assert_uint_eq(st[7].ms, 5000);
    ck_assert_int_eq(st[8].kind, SCN_S_LINES);
    ck_assert_uint_eq(st[8].ms, 120000);
    ck_assert_int_eq(st[9].kind, SCN_S_QUIET);
    ck_assert_uint_eq(st[9].ms, 300);
    ck_assert_int_eq(st[10].kind, SCN_S_ABSENT);
    ck_assert_str_eq(st[10].pattern.text, "ERROR");
    ck_assert_uint_eq(st[10].ms, 2000);
    ck_assert_int_eq(st[11].kind, SCN_S_WAIT);
    ck_assert_uint_eq(st[11].ms, 0);
    ck_assert_int_eq(st[12].kind, SCN_S_DO);
    ck_assert_int_eq(st[12].nactions, 2);
    ck_assert_int_eq(s->actions[st[12].first_action + 1].kind, SCN_A_NET);
    ck_assert_int_eq(st[13].kind, SCN_S_ASSERT);
    ck_assert(st[13].equal);
    ck_assert_str_eq(st[13].text, "${ok}");
    ck_assert_str_eq(st[13].text2, "OK");
    ck_assert(!st[14].equal);
    ck_assert_str_eq(st[14].text, "${status.revision}");
    ck_assert_int_eq(st[15].kind, SCN_S_CLOSE);
    ck_assert_int_eq(st[16].kind, SCN_S_OPEN);
    ck_assert_int_eq(st[17].kind, SCN_S_LWM2M);
    ck_assert_str_eq(st[17].text, "exec EP /5/0/2");
    ck_assert_int_eq(st[18].kind, SCN_S_LWM2M_EXPECT);
    ck_assert_str_eq(st[18].capture, "ep");
    ck_assert_str_eq(scn_step_name(SCN_S_LWM2M_EXPECT), "lwm2m-expect");
    ck_assert_str_eq(scn_step_name(SCN_S_SEND_RAW), "send-raw");
    free(s);
}
END_TEST

START_TEST(comments)
{
    struct scenario *s = parse_ok("  # an indented comment\n"
                                  "model bc66 # a comment after a statement\n"
                                  "send \"AT#QX\" #\n"
                                  "expect /a#b/\t# a regex keeps its #\r\n"
                                  "\t\n");
    ck_assert_str_eq(s->model, "bc66");
    ck_assert_int_eq(s->nsteps, 2);
    ck_assert_str_eq(s->steps[0].text, "AT#QX");
    ck_assert_str_eq(s->steps[1].pattern.text, "a#b");
    free(s);
    /* a regex with ${} is compiled when it runs, after the replacement */
    s = parse_ok("model bc66\nexpect /(${x}/\nawait /a\\/b\\\\/\n");
    ck_assert_str_eq(s->steps[0].pattern.text, "(${x}");
    ck_assert_str_eq(s->steps[1].pattern.text, "a/b\\\\");
    free(s);
}
END_TEST

/* Every error class: the exact position and a fragment of the message. */
static const struct {
    const char *text;
    int line, col;
    const char *message;
} errors[] = {
    {"model bc66\nwait 5\n", 2, 6, "expected a duration such as 5s or 500ms, got \"5\""},
    {"model bc66\nwait 99999999999s\n", 2, 6, "expected a duration"},
    {"model bc66\nwait\n", 2, 5,
     "expected a duration such as 5s or 500ms, got the end of the line"},
    {"model bc66\nexpct \"OK\"\n", 2, 1, "unknown statement \"expct\""},
    {"model bc66\n  do fault flash-cutt 3\n", 2, 12,
     "unknown fault \"flash-cutt\" (flash-program [N] | flash-erase [N] | "},
    {"model bc66\ndo fault flash-cut\n", 2, 19, "fault flash-cut's N (a number from 1 to"},
    {"model bc66\ndo fault flash-cut 0\n", 2, 20, "got \"0\""},
    {"model bc66\ndo fault clear 3\n", 2, 16, "expected \";\" or the end of the line, got \"3\""},
    {"model bc66\non at 5s repeat -> power cut\n", 2, 10, "repeat is not allowed with at"},
    {"model bc66\non flash-op 3 repeat -> power cut\n", 2, 15,
     "repeat is not allowed with flash-op"},
    {"model bc66\nresolve h to www\n", 2, 14, "server \"www\" is not declared"},
    {"model bc66\nresolve h to 1.2.3\n", 2, 14, "is not ADDR or ADDR:PORT"},
    {"model bc66\nresolve h:0 to 1.2.3.4\n", 2, 9, "is not a number from 1 to 65535"},
    {"model bc66\nresolve [::1 to 1.2.3.4\n", 2, 9, "resolve: "},
    {"model bc66\nserver http a\nresolve h to a ;\n", 3, 16, "the end of the line, got \";\""},
    {"model bc66\nserver http a ;\n", 2, 15, "the end of the line, got \";\""},
    {"model bc66\npackage p from A to B ;\n", 2, 23, "the end of the line, got \";\""},
    {"model bc66\nserver http a\nresolve h to a\nresolve h to 1.2.3.4\n", 4, 9, "already mapped"},
    {"model bc66\ndo server www stop\n", 2, 11, "server \"www\" is not declared"},
    {"model bc66\nsend \"abc\n", 2, 6, "unterminated string"},
    {"model bc66\nsend \"a\\qb\"\n", 2, 8, "unknown escape \\q"},
    {"model bc66\nsend \"a\\x4g\"\n", 2, 8, "expected two hex digits"},
    {"model bc66\nexpect /a/b/\n", 2, 11, "expected within DURATION, as NAME or the end"},
    {"model bc66\nexpect /ab\n", 2, 8, "unterminated regex"},
    {"model bc66\nexpect /a(b/\n", 2, 8, "bad regex: "},
    {"model bc66\nexpect \"x\" as 1x\n", 2, 15, "captured value's name"},
    {"model bc66\nexpect \"x\" within 1s within 2s\n", 2, 22, "got \"within\""},
    {"model bc66\nmodel bc66\n", 2, 1, "model is given twice"},
    {"model bc67\n", 1, 7, "expected bc66, bc66-na or bc260y-cn, got \"bc67\""},
    {"send \"AT\"\n", 1, 1, "missing model"},
    {"", 1, 1, "missing model"},
    {"model bc66\nspeed slow\n", 2, 7, "expected fast, realtime or a factor"},
    {"model bc66\nseed -1\n", 2, 6, "expected the seed (a number from 0 to 4294967295)"},
    {"model bc66\nseed 4294967296\n", 2, 6, "got \"4294967296\""},
    {"model bc66\nseed 0x10\n", 2, 6, "got \"0x10\""},
    {"model bc66\nlink downlink=x\n", 2, 15, "expected a number from 0 to 100000000"},
    {"model bc66\nlink rtt=1 rtt=2\n", 2, 12, "each once"},
    {"model bc66\nboot on\n", 2, 6, "expected \"off\""},
    {"model bc66\nscenario x\n", 2, 10, "the scenario's name (a string), got \"x\""},
    {"model bc66\non updating 101% -> power cut\n", 2, 13, "expected a percentage"},
    {"model bc66\non download 101% -> power cut\n", 2, 13, "a percentage from 0% to 100%"},
    {"model bc66\non download 5 -> power cut\n", 2, 15, "expected \"bytes\", got \"->\""},
    {"model bc66\non boot 1 power cut\n", 2, 11, "expected \"repeat\" or \"->\", got \"power\""},
    {"model bc66\non reboot 1 -> power cut\n", 2, 4, "unknown trigger \"reboot\""},
    {"model bc66\non at 1s ->\n", 2, 12, "expected an action"},
    {"model bc66\non at 1s -> power on;\n", 2, 22, "expected an action"},
    {"model bc66\non at 1s -> power up\n", 2, 19, "expected on, off, cycle or cut, got \"up\""},
    {"model bc66\ndo net gone\n", 2, 8, "expected attach, detach or deny"},
    {"model bc66\ndo dns maybe\n", 2, 8, "expected fail or ok"},
    {"model bc66\ndo signal rsrp=98\n", 2, 16, "rsrp from 0 to 97 or 255"},
    {"model bc66\ndo signal rsrp=255 snr=3\n", 2, 20, "unknown signal field \"snr\""},
    {"model bc66\ndo signal\n", 2, 10, "FIELD=VALUE"},
    {"model bc66\ndo override \"A\"\n", 2, 16, "the reply (a string)"},
    {"model bc66\ndo urc OK\n", 2, 8, "the URC (a string)"},
    {"model bc66\ndo explode\n", 2, 4, "unknown action \"explode\""},
    {"model bc66\nserver http www reset=x\n", 2, 17, "bad http server fault \"reset=x\""},
    {"model bc66\nserver coap c reset=10\n", 2, 15, "bad coap server fault"},
    {"model bc66\nserver http www\ndo server www code=4.04\n", 3, 15, "bad http server fault"},
    {"model bc66\nserver lwm2m l\ndo server l stop\n", 3, 11, "not an http or coap server"},
    {"model bc66\nserver closed d\ndo server d status=500\n", 3, 11, "not an http or coap"},
    {"model bc66\nserver lwm2m l 3\n", 2, 16, "a lwm2m server takes no faults"},
    {"model bc66\nserver ftp f\n", 2, 8, "expected http, coap, lwm2m or closed"},
    {"model bc66\nserver http a\nserver coap a\n", 3, 13, "server \"a\" is declared twice"},
    {"model bc66\nserver http 9a\n", 2, 13, "a server's name is"},
    {"model bc66\ndo server www\n", 2, 11, "not declared"},
    {"model bc66\nserver http www\ndo server www\n", 3, 14, "a server fault, clear, stop"},
    {"model bc66\npackage p from A to B\npackage p from A to B\n", 3, 9, "declared twice"},
    {"model bc66\npackage p from A to B break bent\n", 2, 29, "wrong-base, wrong-model, corrupt"},
    {"model bc66\npackage p from A to B size 0\n", 2, 28, "the size in bytes"},
    {"model bc66\npackage p from A to B force force\n", 2, 29, "break KIND, size BYTES, force"},
    {"model bc66\npackage p to B\n", 2, 11, "expected \"from\", got \"to\""},
    {"model bc66\npackage a/b from A to B\n", 2, 9, "a package's name is"},
    {"model bc66\nsend-data p 0 10\npackage p from A to B\n", 2, 11,
     "package \"p\" is not declared"},
    {"model bc66\npackage p from A to B\nsend-data p 0 10 crc16\n", 3, 18, "crc, crc-swapped"},
    {"model bc66\nlwm2m \"x\"\n", 2, 1, "lwm2m needs a \"server lwm2m NAME\""},
    {"model bc66\nlwm2m-expect \"x\"\n", 2, 1, "lwm2m-expect needs"},
    {"model bc66\nabsent \"x\" 2s\n", 2, 12, "expected \"for\""},
    {"model bc66\nassert a = b\n", 2, 10, "expected == or !="},
    {"model bc66\nclose now\n", 2, 7, "expected the end of the line, got \"now\""},
    {"model bc66\n\"AT\"\n", 2, 1, "expected a statement, got the string"},
    {"model bc66\nsend \"AT\"; send \"B\"\n", 2, 10, "expected the end of the line, got \";\""},
    {"model bc66\non event fota x -> log \"a\"\n", 2, 15, "expected KEY=VALUE"},
    {"model bc66\non event e a=1 b=2 c=3 d=4 e=5 -> log \"a\"\n", 2, 28, "more than 4 event"},
};

START_TEST(error_table)
{
    struct scenario *s = scn_alloc();
    ck_assert_ptr_nonnull(s);
    for (size_t k = 0; k < sizeof errors / sizeof errors[0]; k++) {
        struct scn_error err;
        int rc = scn_parse(s, "e.scn", errors[k].text, &err);
        ck_assert_msg(rc == -1, "case %zu parsed: %s", k, errors[k].text);
        ck_assert_msg(err.pos.line == errors[k].line && err.pos.col == errors[k].col &&
                          strstr(err.message, errors[k].message),
                      "case %zu (%s): got %d:%d: %s; wanted %d:%d: ...%s...", k, errors[k].text,
                      err.pos.line, err.pos.col, err.message, errors[k].line, errors[k].col,
                      errors[k].message);
    }
    free(s);
}
END_TEST

/* The limits of scn.h are errors at the statement that passes them. */
START_TEST(limits)
{
    struct scenario *s = scn_alloc();
    ck_assert_ptr_nonnull(s);
    size_t size = 64 * 1024;
    char *text = malloc(size);
    ck_assert_ptr_nonnull(text);
    struct scn_error err;

    int n = snprintf(text, size, "model bc66\n");
    for (int k = 0; k <= SCN_RULES_MAX; k++)
        n += snprintf(text + n, size - (size_t)n, "on boot %d -> power cut\n", k + 1);
    ck_assert_int_eq(scn_parse(s, "l", text, &err), -1);
    ck_assert_int_eq(err.pos.line, SCN_RULES_MAX + 2);
    ck_assert_ptr_nonnull(strstr(err.message, "more than 32 rules"));

    n = snprintf(text, size, "model bc66\ndo ");
    for (int k = 0; k <= SCN_ACTIONS_MAX; k++)
        n += snprintf(text + n, size - (size_t)n, "%spower on", k ? "; " : "");
    ck_assert_int_eq(scn_parse(s, "l", text, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "more than 8 actions"));

    n = snprintf(text, size, "model bc66\nsend \"");
    for (int k = 0; k < SCN_TEXT_MAX; k++)
        text[n++] = 'a';
    snprintf(text + n, size - (size_t)n, "\"\n");
    ck_assert_int_eq(scn_parse(s, "l", text, &err), -1);
    ck_assert_int_eq(err.pos.col, 6);
    ck_assert_ptr_nonnull(strstr(err.message, "string longer than 1023 bytes"));
    text[n - 1] = '"'; /* one byte shorter: fits */
    text[n] = '\0';
    ck_assert_int_eq(scn_parse(s, "l", text, &err), 0);
    ck_assert_uint_eq(s->steps[0].len, SCN_TEXT_MAX - 1);

    n = snprintf(text, size, "model bc66\n");
    for (int k = 0; k <= SCN_SERVERS_MAX; k++)
        n += snprintf(text + n, size - (size_t)n, "server closed s%d\n", k);
    ck_assert_int_eq(scn_parse(s, "l", text, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "more than 8 servers"));

    n = snprintf(text, size, "model bc66\nserver http w");
    for (int k = 0; k <= SCN_FAULTS_MAX; k++)
        n += snprintf(text + n, size - (size_t)n, " chunked");
    ck_assert_int_eq(scn_parse(s, "l", text, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "more than 8 server faults"));

    n = snprintf(text, size, "model bc66\n");
    for (int k = 0; k <= SCN_STEPS_MAX; k++)
        n += snprintf(text + n, size - (size_t)n, "close\n");
    ck_assert_int_eq(scn_parse(s, "l", text, &err), -1);
    ck_assert_int_eq(err.pos.line, SCN_STEPS_MAX + 2);
    free(text);
    free(s);
}
END_TEST

START_TEST(matching)
{
    char cap[16], why[128];
    ck_assert_int_eq(scn_match(false, "OK", "OK", NULL, 0, why, sizeof why), 1);
    ck_assert_int_eq(scn_match(false, "OK", "OK ", NULL, 0, why, sizeof why), 0);
    ck_assert_int_eq(scn_match(false, "OK", "xOK", NULL, 0, why, sizeof why), 0);
    ck_assert_int_eq(scn_match(false, "+IP: *", "+IP: 10.0.0.2", cap, sizeof cap, why, sizeof why),
                     1);
    ck_assert_str_eq(cap, "+IP: 10.0.0.2");
    ck_assert_int_eq(scn_match(false, "+IP: *", "+IP: ", NULL, 0, why, sizeof why), 1);
    ck_assert_int_eq(scn_match(false, "*", "", NULL, 0, why, sizeof why), 1);
    ck_assert_int_eq(scn_match(false, "a*b*c", "aXbYbZc", NULL, 0, why, sizeof why), 1);
    ck_assert_int_eq(scn_match(false, "a*b*c", "aXbYbZ", NULL, 0, why, sizeof why), 0);
    ck_assert_int_eq(scn_match(false, "*ab", "aab", NULL, 0, why, sizeof why), 1);
    ck_assert_int_eq(scn_match(false, "a.c", "abc", NULL, 0, why, sizeof why), 0); /* no regex */
    /* a regex is found anywhere; the first group is the capture, truncated */
    ck_assert_int_eq(scn_match(true, "DOWNLOADING\",([0-9]+)%",
                               "+QIND: \"FOTA\",\"DOWNLOADING\",42%", cap, sizeof cap, why,
                               sizeof why),
                     1);
    ck_assert_str_eq(cap, "42");
    ck_assert_int_eq(scn_match(true, "^OK$", "OK", cap, sizeof cap, why, sizeof why), 1);
    ck_assert_str_eq(cap, "OK");
    ck_assert_int_eq(scn_match(true, "^OK$", "NOK", cap, sizeof cap, why, sizeof why), 0);
    ck_assert_int_eq(scn_match(true, "a", "a very long line indeed", cap, 8, why, sizeof why), 1);
    ck_assert_str_eq(cap, "a very ");
    ck_assert_int_eq(scn_match(true, "x|(y)", "x", cap, sizeof cap, why, sizeof why), 1);
    ck_assert_str_eq(cap, ""); /* the group took no part */
    why[0] = '\0';
    ck_assert_int_eq(scn_match(true, "a(b", "ab", cap, sizeof cap, why, sizeof why), -1);
    ck_assert_int_ne(why[0], '\0');
}
END_TEST

/* Every prefix of a valid file parses or fails at a position inside it. */
START_TEST(prefixes)
{
    static const char text[] = "scenario \"p\"\n"
                               "model bc66\n"
                               "package up.bin from A to B size 100\n"
                               "server http www reset=10@/up.bin\n"
                               "server lwm2m lw\n"
                               "resolve h:100 to www\n"
                               "on download 50% repeat -> power cut; wait 2s; power on\n"
                               "on urc /^\\+QIND: (.*)$/ -> log \"u\\x41\" # c\n"
                               "send-raw \"AT\\r\"\n"
                               "expect \"OK\" within 1s as x\n"
                               "send-data up.bin 0 10 crc-swapped\n"
                               "do signal rsrp=40; fault flash-program 2\n"
                               "assert \"${x}\" != y\n"
                               "lwm2m-expect /reg/\n";
    struct scenario *s = scn_alloc();
    ck_assert_ptr_nonnull(s);
    char buf[sizeof text];
    int lines = 1;
    for (size_t n = 0; n < sizeof text; n++) {
        memcpy(buf, text, n);
        buf[n] = '\0';
        if (n && text[n - 1] == '\n')
            lines++;
        struct scn_error err;
        int rc = scn_parse(s, "p.scn", buf, &err);
        ck_assert(rc == 0 || rc == -1);
        if (rc == -1) {
            ck_assert_int_ge(err.pos.line, 1);
            ck_assert_int_le(err.pos.line, lines);
            ck_assert_int_ge(err.pos.col, 1);
            ck_assert_int_le(err.pos.col, (int)n + 1);
            ck_assert_int_ne(err.message[0], '\0');
        }
    }
    ck_assert_int_eq(s->nsteps, 6); /* the whole file, last */
    ck_assert_int_eq(s->nrules, 2);
    free(s);
}
END_TEST

START_TEST(load)
{
    char dir[128];
    scratch_make(dir, sizeof dir, "scn");
    struct scenario *s = scn_alloc();
    ck_assert_ptr_nonnull(s);
    struct scn_error err;
    ck_assert_int_eq(scn_load(s, scratch_path(dir, "none.scn"), &err), -1);
    ck_assert_int_eq(err.pos.line, 0);
    ck_assert_str_eq(err.message, "No such file or directory");

    const char *path = scratch_path(dir, "ok.scn");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("model bc66\nsend \"AT\"\n", f);
    fclose(f);
    ck_assert_int_eq(scn_load(s, path, &err), 0);
    ck_assert_str_eq(s->title, "ok.scn");
    ck_assert_int_eq(s->nsteps, 1);

    path = scratch_path(dir, "nul.scn");
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite("model bc66\nsend \"A\0\"\n", 1, 21, f);
    fclose(f);
    ck_assert_int_eq(scn_load(s, path, &err), -1);
    ck_assert_int_eq(err.pos.line, 2);
    ck_assert_int_eq(err.pos.col, 8);
    ck_assert_ptr_nonnull(strstr(err.message, "NUL"));

    path = scratch_path(dir, "big.scn");
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int k = 0; k < 1024 * 1024 / 8 + 1; k++)
        fputs("#comment\n", f);
    fclose(f);
    ck_assert_int_eq(scn_load(s, path, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "larger than"));

    ck_assert_int_eq(scn_load(s, dir, &err), -1); /* a directory: read fails */
    ck_assert_str_eq(err.message, "Is a directory");
    free(s);
    scratch_remove(dir);
}
END_TEST

Suite *scn_parse_suite(void)
{
    Suite *s = suite_create("scn_parse");
    TCase *tc = tcase_create("scn_parse");
    tcase_add_test(tc, readme_http_example);
    tcase_add_test(tc, readme_power_cut_example);
    tcase_add_test(tc, readme_blocks);
    tcase_add_test(tc, declarations);
    tcase_add_test(tc, triggers);
    tcase_add_test(tc, actions);
    tcase_add_test(tc, steps);
    tcase_add_test(tc, comments);
    tcase_add_test(tc, error_table);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, matching);
    tcase_add_test(tc, prefixes);
    tcase_add_test(tc, load);
    suite_add_tcase(s, tc);
    return s;
}
