/* Rules: triggers read from the module's event stream, actions through the
 * control API. See scn_rules.h. */
#include "sim/scenario/scn_rules.h"

#include "sim/base/num.h"
#include "sim/control/api.h"
#include "sim/module.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One run of actions in progress: a rule that fired, or a host's `do`. */
struct run {
    struct scn_rules *r;
    const struct scn_action *a;
    int n, i;
    uv_timer_t timer;
    scn_done_fn done; /* a `do`'s caller, or NULL */
    void *done_ctx;
    int status;
    char why[512];
    struct run *next;
};

struct rule_state {
    bool fired;     /* a `once` rule is spent */
    uint64_t round; /* the transfer or update a `repeat` rule last fired in */
    bool cut_armed; /* flash-op N -> power cut: the flash cuts itself */
    uv_timer_t at;  /* `at` rules */
    bool at_started;
};

struct scn_rules {
    struct module *m;
    const struct scenario *s;
    struct scn_rules_ops ops;
    struct rule_state st[SCN_RULES_MAX];
    uint64_t flash_base;     /* flash operations when the rules started */
    uint64_t boots;          /* boots seen */
    uint64_t download_round; /* transfers started: each download ... */
    uint64_t update_round;   /* ... each update ... */
    uint64_t upload_round;   /* ... each upload (block 0) */
    uv_check_t poll;         /* flash-op rules: counted after each loop turn */
    bool polling;
    struct run *runs;
    char error[512];
    bool stopping;
    int closing; /* handles still to close before the rules are freed */
};

/* ---- Events: flat JSON objects, as sim/base/json writes them ---------------------- */

/* Decodes the JSON string at *p (after its opening quote) into out. */
static const char *json_string(const char *p, char *out, size_t size)
{
    size_t n = 0;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\' && *p) {
            char e = *p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4 && num_hex_digit(*p) >= 0; k++, p++)
                    v = v * 16 + (unsigned)num_hex_digit(*p);
                c = (char)(v & 0xff); /* the writer escapes bytes as \u00XX */
                break;
            }
            default:
                c = e;
                break;
            }
        }
        if (n + 1 < size)
            out[n++] = c;
    }
    out[n] = '\0';
    return *p == '"' ? p + 1 : p;
}

/* The value of `key` in the event (strings decoded, other values as written);
 * false if it has none. */
static bool field(const char *json, const char *key, char *out, size_t size)
{
    const char *p = strchr(json, '{');
    if (!p)
        return false;
    p++;
    char k[64];
    while (*p == '"') {
        p = json_string(p + 1, k, sizeof k);
        if (*p++ != ':')
            return false;
        bool want = strcmp(k, key) == 0;
        if (*p == '"') {
            char scratch[8];
            p = want ? json_string(p + 1, out, size) : json_string(p + 1, scratch, sizeof scratch);
        } else {
            size_t n = strcspn(p, ",}");
            if (want)
                snprintf(out, size, "%.*s", (int)n, p);
            p += n;
        }
        if (want)
            return true;
        if (*p == ',')
            p++;
    }
    return false;
}

/* ---- Actions -------------------------------------------------------------------- */

static void logf_(struct scn_rules *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct scn_rules *r, const char *fmt, ...)
{
    if (!r->ops.log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->ops.log(r->ops.ctx, line);
}

static int expand(struct scn_rules *r, const char *in, char *out, size_t size, char *why,
                  size_t why_size)
{
    if (r->ops.expand)
        return r->ops.expand(r->ops.ctx, in, out, size, why, why_size);
    if (strstr(in, "${")) {
        snprintf(why, why_size, "no ${} values here");
        return -1;
    }
    snprintf(out, size, "%s", in);
    return 0;
}

static int signal_action(struct scn_rules *r, const char *spec, char *why, size_t why_size)
{
    struct simctl_status st;
    simctl_status(r->m, &st);
    struct prof_signal sig = st.signal;
    char copy[SCN_TEXT_MAX];
    snprintf(copy, sizeof copy, "%s", spec);
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        if (!eq)
            continue; /* the parser checked the form */
        *eq = '\0';
        const struct simctl_signal_field *f = simctl_signal_field_find(w);
        if (f)
            simctl_signal_field_set(&sig, f, atoi(eq + 1));
    }
    return simctl_signal(r->m, &sig, why, why_size);
}

/* Runs one action that takes no time; 0 or -1 with why. */
static int act(struct scn_rules *r, const struct scn_action *a, char *why, size_t why_size)
{
    char text[SCN_TEXT_MAX], text2[SCN_TEXT_MAX];
    switch (a->kind) {
    case SCN_A_POWER: {
        enum simctl_power p;
        if (simctl_power_find(a->word, &p) != 0)
            break;
        simctl_power(r->m, p);
        return 0;
    }
    case SCN_A_NET: {
        enum simctl_net n;
        if (simctl_net_find(a->word, &n) != 0)
            break;
        simctl_net(r->m, n);
        return 0;
    }
    case SCN_A_DNS:
        simctl_dns(r->m, a->flag);
        return 0;
    case SCN_A_SIGNAL:
        return signal_action(r, a->text, why, why_size) == 0 ? 0 : -1;
    case SCN_A_SIGNAL_RESET:
        simctl_signal_reset(r->m);
        return 0;
    case SCN_A_FAULT: {
        const struct simctl_fault_desc *d = simctl_fault_find(a->word);
        if (!d)
            break;
        return simctl_fault(r->m, d->kind, a->n ? (int64_t)a->n : 1, why, why_size) == 0 ? 0 : -1;
    }
    case SCN_A_OVERRIDE:
        if (expand(r, a->text, text, sizeof text, why, why_size) != 0 ||
            expand(r, a->text2, text2, sizeof text2, why, why_size) != 0)
            return -1;
        return simctl_override_add(r->m, text, text2, a->flag, why, why_size) == 0 ? 0 : -1;
    case SCN_A_OVERRIDE_CLEAR:
        simctl_override_clear(r->m);
        return 0;
    case SCN_A_URC:
        if (expand(r, a->text, text, sizeof text, why, why_size) != 0)
            return -1;
        return simctl_urc(r->m, text, why, why_size) == 0 ? 0 : -1;
    case SCN_A_SERVER_FAULT:
    case SCN_A_SERVER_CLEAR:
    case SCN_A_SERVER_STOP:
    case SCN_A_SERVER_START:
        if (!r->ops.server) {
            snprintf(why, why_size, "server %s: no servers are running here", a->server);
            return -1;
        }
        return r->ops.server(r->ops.ctx, a, why, why_size);
    case SCN_A_LOG:
        if (expand(r, a->text, text, sizeof text, why, why_size) != 0)
            return -1;
        logf_(r, "log: %s", text);
        return 0;
    case SCN_A_WAIT:
        return 0;
    }
    snprintf(why, why_size, "unknown action");
    return -1;
}

static void run_next(struct run *run);

static void on_run_timer(uv_timer_t *t)
{
    run_next(t->data);
}

static void on_run_closed(uv_handle_t *h)
{
    free(h->data);
}

static void run_end(struct run *run)
{
    struct scn_rules *r = run->r;
    for (struct run **pp = &r->runs; *pp; pp = &(*pp)->next) {
        if (*pp == run) {
            *pp = run->next;
            break;
        }
    }
    if (run->done)
        run->done(run->done_ctx, run->status, run->why);
    uv_close((uv_handle_t *)&run->timer, on_run_closed);
}

static void run_next(struct run *run)
{
    struct scn_rules *r = run->r;
    while (run->i < run->n) {
        const struct scn_action *a = &run->a[run->i++];
        if (a->kind == SCN_A_WAIT) {
            clk_after(r->m->clk, &run->timer, on_run_timer, a->ms);
            return;
        }
        if (act(r, a, run->why, sizeof run->why) != 0) {
            run->status = -1;
            char msg[sizeof r->error];
            snprintf(msg, sizeof msg, "line %d: %.480s", a->pos.line, run->why);
            logf_(r, "action failed: %s", msg);
            if (!r->error[0])
                snprintf(r->error, sizeof r->error, "%s", msg);
            snprintf(run->why, sizeof run->why, "%.500s", msg);
            break;
        }
    }
    run_end(run);
}

static int run_start(struct scn_rules *r, const struct scn_action *a, int n, scn_done_fn done,
                     void *ctx)
{
    struct run *run = calloc(1, sizeof *run);
    if (!run)
        return -ENOMEM;
    run->r = r;
    run->a = a;
    run->n = n;
    run->done = done;
    run->done_ctx = ctx;
    uv_timer_init(r->m->loop, &run->timer);
    run->timer.data = run;
    run->next = r->runs;
    r->runs = run;
    /* From the loop, never inside the module's call that published the event. */
    uv_timer_start(&run->timer, on_run_timer, 0, 0);
    return 0;
}

/* ---- Triggers ------------------------------------------------------------------- */

static void fire(struct scn_rules *r, int i, int skip_actions)
{
    const struct scn_rule *rule = &r->s->rules[i];
    logf_(r, "rule at line %d fires", rule->pos.line);
    const struct scn_action *a = &r->s->actions[rule->first_action];
    if (run_start(r, a + skip_actions, rule->nactions - skip_actions, NULL, NULL) != 0 &&
        !r->error[0])
        snprintf(r->error, sizeof r->error, "line %d: out of memory", rule->pos.line);
}

/* The round a rule's trigger counts in: a `repeat` rule fires once a round. */
static uint64_t round_of(const struct scn_rules *r, enum scn_trigger_kind k)
{
    switch (k) {
    case SCN_T_DOWNLOAD:
        return r->download_round;
    case SCN_T_UPDATING:
        return r->update_round;
    case SCN_T_UPLOAD:
        return r->upload_round;
    default:
        return 0;
    }
}

/* The trigger happened: fire unless spent. Rounds keep a `repeat` progress
 * rule to once per transfer; every other `repeat` fires every time. */
static void happened(struct scn_rules *r, int i)
{
    const struct scn_rule *rule = &r->s->rules[i];
    struct rule_state *st = &r->st[i];
    if (!rule->repeat) {
        if (st->fired)
            return;
        st->fired = true;
    } else {
        uint64_t round = round_of(r, rule->trigger.kind);
        if (round) {
            if (st->round == round)
                return;
            st->round = round;
        }
    }
    fire(r, i, 0);
}

static bool pattern_matches(struct scn_rules *r, const struct scn_pattern *p, const char *line)
{
    char text[SCN_TEXT_MAX], why[256];
    int m = -1;
    if (expand(r, p->text, text, sizeof text, why, sizeof why) == 0)
        m = scn_match(p->regex, text, line, NULL, 0, why, sizeof why);
    if (m < 0 && !r->error[0])
        snprintf(r->error, sizeof r->error, "line %d: %s", p->pos.line, why);
    return m == 1;
}

static bool event_matches(const struct scn_trigger *t, const char *type, const char *json)
{
    if (strcmp(t->event_type, type) != 0)
        return false;
    for (int k = 0; k < t->nfields; k++) {
        char v[256];
        if (!field(json, t->fields[k].key, v, sizeof v) || strcmp(v, t->fields[k].value) != 0)
            return false;
    }
    return true;
}

static uint64_t number(const char *json, const char *key)
{
    char v[32];
    return field(json, key, v, sizeof v) ? strtoull(v, NULL, 10) : 0;
}

static uint64_t downloaded(struct scn_rules *r)
{
    struct simctl_status st;
    simctl_status(r->m, &st);
    return st.downloaded;
}

/* New rounds first, so that the trigger below counts in the new one. */
static void count_rounds(struct scn_rules *r, const char *type, const char *json)
{
    char v[256];
    if (strcmp(type, "fota") == 0 && field(json, "state", v, sizeof v)) {
        if (strcmp(v, "downloading") == 0)
            r->download_round++;
        else if (strcmp(v, "updating") == 0)
            r->update_round++;
    } else if (strcmp(type, "upload") == 0 && field(json, "block", v, sizeof v) &&
               strncmp(v, "block 0 ", 8) == 0 && strstr(v, ": written")) {
        r->upload_round++;
    } else if (strcmp(type, "power") == 0 && field(json, "state", v, sizeof v) &&
               strcmp(v, "booting") == 0) {
        r->boots++;
    }
}

/* Does the event meet rule i's trigger? */
static bool meets(struct scn_rules *r, const struct scn_trigger *t, const char *type,
                  const char *json)
{
    char v[SCN_TEXT_MAX];
    switch (t->kind) {
    case SCN_T_COMMAND:
        return strcmp(type, "command") == 0 && field(json, "line", v, sizeof v) &&
               pattern_matches(r, &t->pattern, v);
    case SCN_T_URC:
        return strcmp(type, "urc") == 0 && field(json, "delivered", v, sizeof v) &&
               strcmp(v, "true") == 0 && field(json, "text", v, sizeof v) &&
               pattern_matches(r, &t->pattern, v);
    case SCN_T_EVENT:
        return event_matches(t, type, json);
    case SCN_T_DOWNLOAD:
        if (strcmp(type, "download") != 0 || !field(json, "percent", v, sizeof v))
            return false;
        return t->percent ? strtoull(v, NULL, 10) >= t->n : downloaded(r) >= t->n;
    case SCN_T_UPLOAD: {
        if (strcmp(type, "upload") != 0 || !field(json, "block", v, sizeof v) ||
            !strstr(v, ": written"))
            return false;
        if (t->block)
            return strtoull(v + 6, NULL, 10) == t->n; /* "block N (...)" */
        return downloaded(r) >= t->n;
    }
    case SCN_T_UPDATING:
        return strcmp(type, "updating") == 0 && number(json, "percent") >= t->n;
    case SCN_T_BOOT:
        return strcmp(type, "power") == 0 && field(json, "state", v, sizeof v) &&
               strcmp(v, "booting") == 0 && r->boots >= t->n;
    case SCN_T_AT:
    case SCN_T_FLASH_OP:
        return false; /* timers and the flash counter */
    }
    return false;
}

static void on_event(void *ctx, const char *json)
{
    struct scn_rules *r = ctx;
    if (r->stopping)
        return;
    char type[32];
    if (!field(json, "type", type, sizeof type))
        return;
    count_rounds(r, type, json);
    for (int i = 0; i < r->s->nrules; i++)
        if (meets(r, &r->s->rules[i].trigger, type, json))
            happened(r, i);
}

static void on_at(uv_timer_t *t)
{
    struct scn_rules *r = t->data;
    for (int i = 0; i < r->s->nrules; i++)
        if (&r->st[i].at == t)
            happened(r, i);
}

static uint64_t flash_ops(struct scn_rules *r)
{
    struct simctl_status st;
    simctl_status(r->m, &st);
    return st.flash_ops - r->flash_base;
}

/* After each loop turn: the flash-op rules whose count has been reached. A
 * cut the flash made itself has run that rule's first action already. */
static void on_poll(uv_check_t *c)
{
    struct scn_rules *r = c->data;
    uint64_t ops = flash_ops(r);
    bool left = false;
    for (int i = 0; i < r->s->nrules; i++) {
        const struct scn_rule *rule = &r->s->rules[i];
        struct rule_state *st = &r->st[i];
        if (rule->trigger.kind != SCN_T_FLASH_OP || st->fired)
            continue;
        uint64_t n = rule->trigger.n;
        if (st->cut_armed ? ops > n : ops >= n) {
            st->fired = true;
            fire(r, i, st->cut_armed ? 1 : 0);
        } else {
            left = true;
        }
    }
    if (!left) {
        uv_check_stop(c);
        r->polling = false;
    }
}

static bool first_is_power_cut(const struct scenario *s, const struct scn_rule *rule)
{
    const struct scn_action *a = &s->actions[rule->first_action];
    return rule->nactions > 0 && a->kind == SCN_A_POWER && strcmp(a->word, "cut") == 0;
}

int scn_rules_start(struct scn_rules **out, struct module *m, const struct scenario *s,
                    const struct scn_rules_ops *ops, char *why, size_t why_size)
{
    struct scn_rules *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    r->m = m;
    r->s = s;
    if (ops)
        r->ops = *ops;
    if (evt_subscribe(m->events, on_event, r) != 0) {
        snprintf(why, why_size, "the event bus has no room for the rules");
        free(r);
        return -1;
    }
    r->flash_base = flash_ops(r);
    uv_check_init(m->loop, &r->poll);
    r->poll.data = r;
    for (int i = 0; i < s->nrules; i++) {
        const struct scn_rule *rule = &s->rules[i];
        struct rule_state *st = &r->st[i];
        uv_timer_init(m->loop, &st->at);
        st->at.data = r;
        if (rule->trigger.kind == SCN_T_AT) {
            clk_after(m->clk, &st->at, on_at, rule->trigger.ms);
        } else if (rule->trigger.kind == SCN_T_FLASH_OP) {
            /* The cut lands exactly: N operations complete, the next has no power. */
            if (first_is_power_cut(s, rule) && rule->trigger.n > 0 &&
                simctl_fault(m, SIMCTL_FAULT_FLASH_CUT, (int64_t)rule->trigger.n, why, why_size) ==
                    0)
                st->cut_armed = true;
            if (!r->polling) {
                uv_check_start(&r->poll, on_poll);
                r->polling = true;
            }
        }
    }
    *out = r;
    return 0;
}

int scn_rules_do(struct scn_rules *r, int first, int n, scn_done_fn done, void *ctx)
{
    return run_start(r, &r->s->actions[first], n, done, ctx);
}

const char *scn_rules_error(const struct scn_rules *r)
{
    return r->error;
}

static void on_rules_closed(uv_handle_t *h)
{
    struct scn_rules *r = h->data;
    if (--r->closing == 0)
        free(r);
}

void scn_rules_stop(struct scn_rules *r)
{
    if (!r)
        return;
    r->stopping = true;
    evt_unsubscribe(r->m->events, on_event, r);
    while (r->runs) {
        struct run *run = r->runs;
        run->done = NULL;
        run_end(run);
    }
    r->closing = r->s->nrules + 1;
    for (int i = 0; i < r->s->nrules; i++)
        uv_close((uv_handle_t *)&r->st[i].at, on_rules_closed);
    uv_close((uv_handle_t *)&r->poll, on_rules_closed);
}
