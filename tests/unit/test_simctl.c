/* The run-time control API on a real module in this process: the rules a
 * front end that is not the socket (a scenario file) gets, including the ones
 * the socket's own parsing never lets through. */
#include "tests/integration/suites.h"

#include "sim/control/api.h"
#include "sim/module.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rig {
    char dir[64], nvram[96], flash[96];
    uv_loop_t loop;
    struct clk clk;
    struct evt_bus events;
    struct module m;
    char last_event[EVT_LINE_MAX];
    int nevents;
};

static struct rig *rig; /* the test's fixture: one per forked test */

static void on_event(void *ctx, const char *line)
{
    struct rig *r = ctx;
    snprintf(r->last_event, sizeof r->last_event, "%s", line);
    r->nevents++;
}

static void setup(void)
{
    rig = calloc(1, sizeof *rig);
    ck_assert_ptr_nonnull(rig);
    snprintf(rig->dir, sizeof rig->dir, "/tmp/bcsim-simctl-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rig->dir));
    snprintf(rig->nvram, sizeof rig->nvram, "%s/nvram", rig->dir);
    snprintf(rig->flash, sizeof rig->flash, "%s/flash", rig->dir);
    ck_assert_int_eq(uv_loop_init(&rig->loop), 0);
    ck_assert_int_eq(clk_parse(&rig->clk, "fast"), 0);
    clk_start(&rig->clk, &rig->loop);
    rig->events.clk = &rig->clk;
    ck_assert_int_eq(evt_subscribe(&rig->events, on_event, rig), 0);
    struct mod_config cfg = {
        .prof = prof_find("bc66"),
        .clk = &rig->clk,
        .events = &rig->events,
        .nvram_path = rig->nvram,
        .flash_path = rig->flash,
    };
    char why[256] = "";
    ck_assert_msg(mod_open(&rig->m, &rig->loop, &cfg, why, sizeof why) == 0, "%s", why);
}

static void teardown(void)
{
    mod_close(&rig->m);
    uv_run(&rig->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&rig->loop), 0);
    unlink(rig->nvram);
    unlink(rig->flash);
    rmdir(rig->dir);
    free(rig);
}

/* ---- Flash faults ---------------------------------------------------------------- */

START_TEST(fault_values_out_of_range_change_nothing)
{
    struct flash *f = &rig->m.flash.flash;
    static const enum simctl_fault with_value[] = {
        SIMCTL_FAULT_FLASH_PROGRAM, SIMCTL_FAULT_FLASH_ERASE, SIMCTL_FAULT_FLASH_CAPACITY,
        SIMCTL_FAULT_FLASH_CUT,     SIMCTL_FAULT_FLASH_TEAR,
    };
    static const int64_t bad[] = {0, -1, INT64_MIN, (int64_t)UINT32_MAX + 1, INT64_MAX};
    struct flash_faults before = f->faults;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char why[256] = "";
            int events = rig->nevents;
            int rc = simctl_fault(&rig->m, with_value[k], bad[i], why, sizeof why);
            ck_assert_msg(rc == -ERANGE, "kind %d value %lld: %d", (int)with_value[k],
                          (long long)bad[i], rc);
            ck_assert_msg(strstr(why, "must be from 1 to 4294967295"), "%s", why);
            ck_assert_int_eq(memcmp(&f->faults, &before, sizeof before), 0);
            ck_assert_int_eq(rig->nevents, events);
        }
    }
    char why[256];
    ck_assert_int_eq(simctl_fault(&rig->m, (enum simctl_fault)99, 1, why, sizeof why), -EINVAL);
    ck_assert_int_eq(memcmp(&f->faults, &before, sizeof before), 0);
}
END_TEST

START_TEST(faults_arm_the_flash)
{
    struct flash *f = &rig->m.flash.flash;
    f->count.programs = 10;
    f->count.erases = 20;
    f->count.ops = 30;
    char why[256];
    ck_assert_int_eq(simctl_fault(&rig->m, SIMCTL_FAULT_FLASH_PROGRAM, 1, why, sizeof why), 0);
    ck_assert_uint_eq(f->faults.fail_program_at, 11);
    ck_assert_ptr_nonnull(strstr(rig->last_event, "\"type\":\"fault\",\"set\":\"flash-program\""));
    ck_assert_int_eq(simctl_fault(&rig->m, SIMCTL_FAULT_FLASH_ERASE, UINT32_MAX, why, sizeof why),
                     0);
    ck_assert_uint_eq(f->faults.fail_erase_at, 20 + (uint64_t)UINT32_MAX);
    ck_assert_int_eq(simctl_fault(&rig->m, SIMCTL_FAULT_FLASH_CAPACITY, 4096, why, sizeof why), 0);
    ck_assert_uint_eq(f->faults.fota_capacity, 4096);
    ck_assert_int_eq(simctl_fault(&rig->m, SIMCTL_FAULT_FLASH_TEAR, 5, why, sizeof why), 0);
    ck_assert_uint_eq(f->faults.cut_after, 35);
    ck_assert_int_eq(f->faults.cut_mode, FLASH_CUT_TORN);
    ck_assert_int_eq(simctl_fault(&rig->m, SIMCTL_FAULT_FLASH_CUT, 2, why, sizeof why), 0);
    ck_assert_uint_eq(f->faults.cut_after, 32);
    ck_assert_int_eq(f->faults.cut_mode, FLASH_CUT_CLEAN);
    ck_assert_int_eq(simctl_fault(&rig->m, SIMCTL_FAULT_FLASH_WORN, 3, why, sizeof why), 0);
    ck_assert_uint_eq(f->faults.worn_from, 33);
    ck_assert_int_ne(simctl_fault(&rig->m, SIMCTL_FAULT_FLASH_WORN, 0, why, sizeof why), 0);
    /* The kinds without a value ignore it, whatever it is. */
    ck_assert_int_eq(simctl_fault(&rig->m, SIMCTL_FAULT_CLEAR, -7, why, sizeof why), 0);
    struct flash_faults none = {0};
    ck_assert_int_eq(memcmp(&f->faults, &none, sizeof none), 0);
    ck_assert_ptr_nonnull(strstr(rig->last_event, "\"set\":\"clear\""));

    /* The descriptions the front ends parse by. */
    const struct simctl_fault_desc *d = simctl_fault_find("flash-capacity");
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->kind, SIMCTL_FAULT_FLASH_CAPACITY);
    ck_assert_str_eq(d->arg, "BYTES");
    ck_assert(!d->optional);
    ck_assert(simctl_fault_find("flash-program")->optional);
    ck_assert(simctl_fault_find("flash-worn")->optional);
    ck_assert_ptr_null(simctl_fault_find("clear")->arg);
    ck_assert_ptr_null(simctl_fault_find("flash"));
}
END_TEST

/* ---- Signal ------------------------------------------------------------------------ */

START_TEST(signal_ranges_and_lifetime)
{
    struct simctl_status st;
    const struct prof_signal *prof = &rig->m.prof->signal;
    simctl_status(&rig->m, &st);
    ck_assert_int_eq(memcmp(&st.signal, prof, sizeof *prof), 0);

    char why[256];
    struct prof_signal s = *prof;
    s.rsrq = 20;
    s.rsrp = 98; /* one bad field: none changes */
    ck_assert_int_eq(simctl_signal(&rig->m, &s, why, sizeof why), -ERANGE);
    ck_assert_str_eq(why, "signal rsrp: must be from 0 to 97, or 255 (not known), not 98");
    simctl_status(&rig->m, &st);
    ck_assert_int_eq(memcmp(&st.signal, prof, sizeof *prof), 0);
    for (const struct simctl_signal_field *f = simctl_signal_fields; f->name; f++) {
        ck_assert_ptr_eq(simctl_signal_field_find(f->name), f);
        const int bad[] = {-1, f->max + 1, f->unknown - 1, f->unknown + 1, INT_MIN, INT_MAX};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            s = *prof;
            simctl_signal_field_set(&s, f, bad[i]);
            ck_assert_msg(simctl_signal(&rig->m, &s, why, sizeof why) == -ERANGE, "%s=%d", f->name,
                          bad[i]);
        }
        const int good[] = {0, f->max, f->unknown};
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            s = *prof;
            simctl_signal_field_set(&s, f, good[i]);
            ck_assert_msg(simctl_signal(&rig->m, &s, why, sizeof why) == 0, "%s=%d: %s", f->name,
                          good[i], why);
            simctl_status(&rig->m, &st);
            ck_assert_int_eq(simctl_signal_field_get(&st.signal, f), good[i]);
        }
    }
    ck_assert_ptr_null(simctl_signal_field_find("snr"));

    /* The values are the radio's, not the module's: a power cycle keeps them. */
    s = *prof;
    s.rsrp = 12;
    ck_assert_int_eq(simctl_signal(&rig->m, &s, why, sizeof why), 0);
    simctl_power(&rig->m, SIMCTL_POWER_CYCLE);
    simctl_power(&rig->m, SIMCTL_POWER_CUT);
    simctl_status(&rig->m, &st);
    ck_assert_int_eq(st.signal.rsrp, 12);
    simctl_signal_reset(&rig->m);
    simctl_status(&rig->m, &st);
    ck_assert_int_eq(memcmp(&st.signal, prof, sizeof *prof), 0);
}
END_TEST

/* ---- Names, network, URCs, overrides, status ------------------------------------------- */

START_TEST(names_round_trip)
{
    for (int p = SIMCTL_POWER_ON; p <= SIMCTL_POWER_CUT; p++) {
        enum simctl_power got;
        ck_assert_int_eq(simctl_power_find(simctl_power_name((enum simctl_power)p), &got), 0);
        ck_assert_int_eq(got, p);
    }
    for (int n = SIMCTL_NET_ATTACH; n <= SIMCTL_NET_DENY; n++) {
        enum simctl_net got;
        ck_assert_int_eq(simctl_net_find(simctl_net_name((enum simctl_net)n), &got), 0);
        ck_assert_int_eq(got, n);
    }
    enum simctl_power p;
    enum simctl_net n;
    ck_assert_int_eq(simctl_power_find("On", &p), -EINVAL);
    ck_assert_int_eq(simctl_net_find("", &n), -EINVAL);
}
END_TEST

START_TEST(status_net_urc_overrides)
{
    struct simctl_status st;
    simctl_status(&rig->m, &st);
    ck_assert_str_eq(st.model, "bc66");
    ck_assert_str_eq(st.product, "Quectel_BC66");
    ck_assert_str_eq(st.power, "off");
    ck_assert_str_eq(st.network, "idle");
    ck_assert_str_eq(st.fota, "idle");
    ck_assert(st.cell);
    ck_assert(!st.bricked);
    ck_assert_uint_eq(strlen(st.imei), 15);
    ck_assert_str_eq(st.pty, rig->m.uart.pty.path);
    ck_assert_str_eq(st.speed, "fast");
    ck_assert_uint_eq(st.baud, 115200);

    simctl_net(&rig->m, SIMCTL_NET_DETACH);
    ck_assert_ptr_nonnull(strstr(rig->last_event, "\"type\":\"cell\",\"state\":\"detach\""));
    simctl_status(&rig->m, &st);
    ck_assert(!st.cell);
    simctl_net(&rig->m, SIMCTL_NET_DENY);
    simctl_status(&rig->m, &st);
    ck_assert(st.cell);

    char why[256] = "";
    ck_assert_int_eq(simctl_urc(&rig->m, "+X: 1", why, sizeof why), -ENODEV);
    ck_assert_str_eq(why, "the module is powered off");

    int added = 0;
    while (simctl_override_add(&rig->m, "AT+X", "OK", false, why, sizeof why) == 0)
        ck_assert_int_le(++added, 1000);
    ck_assert_int_eq(added, AT_OVERRIDES_MAX);
    ck_assert_str_eq(why, "too many overrides (clear them with: override clear)");
    simctl_override_clear(&rig->m);
    ck_assert_int_eq(simctl_override_add(&rig->m, "AT+X", "OK", true, why, sizeof why), 0);
}
END_TEST

Suite *simctl_suite(void)
{
    Suite *s = suite_create("simctl");
    TCase *tc = tcase_create("simctl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fault_values_out_of_range_change_nothing);
    tcase_add_test(tc, faults_arm_the_flash);
    tcase_add_test(tc, signal_ranges_and_lifetime);
    tcase_add_test(tc, names_round_trip);
    tcase_add_test(tc, status_net_urc_overrides);
    suite_add_tcase(s, tc);
    return s;
}
