/* A scenario's packages, servers and names. See scn_env.h. */
#include "tools/scenario/scn_env.h"

#include "tools/scenario/scn_pkg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LWM2M_START_MS 10000 /* for the LwM2M server to say where it listens */

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static uint16_t bound_port(const struct sockaddr_storage *ss)
{
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* ---- Faults -------------------------------------------------------------------- */

static int parse_faults(struct scn_srv *v, const char (*faults)[96], int n, char *why,
                        size_t why_size)
{
    for (int i = 0; i < n; i++) {
        const char *bad = NULL;
        int r = v->decl->kind == SCN_SERVER_HTTP
                    ? http_srv_fault_parse(faults[i], &v->http_faults[i], &bad)
                    : coap_srv_fault_parse(faults[i], &v->coap_faults[i], &bad);
        if (r != 0) {
            snprintf(why, why_size, "server %s: fault %s: %s", v->decl->name, faults[i], bad);
            return -1;
        }
    }
    v->nfaults = (size_t)n;
    return 0;
}

static void apply_faults(struct scn_srv *v)
{
    if (v->state != SCN_SRV_RUNNING)
        return; /* a server that starts again takes them then */
    if (v->decl->kind == SCN_SERVER_HTTP)
        http_srv_set_faults(&v->http, v->http_faults, v->nfaults);
    else
        coap_srv_set_faults(v->coap, v->coap_faults, v->nfaults);
}

/* ---- HTTP and CoAP servers --------------------------------------------------------- */

static int start_server(struct scn_srv *v, char *why, size_t why_size)
{
    struct scn_env *e = v->env;
    struct sockaddr_in addr = loopback(v->port);
    struct sockaddr_storage ss;
    const char *what = "";
    int err;
    if (v->decl->kind == SCN_SERVER_HTTP) {
        struct http_srv_config cfg = {.root = e->www,
                                      .addr = (const struct sockaddr *)&addr,
                                      .faults = v->http_faults,
                                      .nfaults = v->nfaults};
        err = http_srv_start(&v->http, e->loop, &cfg, &what); /* on failure its listener
                                                               * closes from the loop */
        if (!err)
            http_srv_address(&v->http, &ss);
    } else {
        struct coap_srv_config cfg = {.root = e->www,
                                      .addr = (const struct sockaddr *)&addr,
                                      .faults = v->coap_faults,
                                      .nfaults = v->nfaults,
                                      .seed = 1};
        err = coap_srv_start(&v->coap, e->loop, &cfg, &what);
        if (!err)
            coap_srv_address(v->coap, &ss);
    }
    if (err) {
        snprintf(why, why_size, "server %s: %s: %s", v->decl->name, what, uv_strerror(err));
        return -1;
    }
    v->port = bound_port(&ss);
    v->state = SCN_SRV_RUNNING;
    return 0;
}

static void server_closed(struct scn_srv *v)
{
    struct scn_env *e = v->env;
    v->state = SCN_SRV_STOPPED;
    if (v->decl->kind == SCN_SERVER_COAP)
        v->coap = NULL;
    if (v->start_when_closed) {
        v->start_when_closed = false;
        if (start_server(v, e->broken, sizeof e->broken) == 0)
            e->broken[0] = '\0';
    }
    if (--e->closing == 0 && e->closed)
        e->closed(e);
}

static void on_http_closed(struct http_srv *s)
{
    server_closed((struct scn_srv *)((char *)s - offsetof(struct scn_srv, http)));
}

static void on_coap_closed(void *arg)
{
    server_closed(arg);
}

static void stop_server(struct scn_srv *v)
{
    if (v->state != SCN_SRV_RUNNING)
        return;
    v->state = SCN_SRV_CLOSING;
    v->env->closing++;
    if (v->decl->kind == SCN_SERVER_HTTP)
        http_srv_close(&v->http, on_http_closed);
    else
        coap_srv_close(v->coap, on_coap_closed, v);
}

/* ---- The LwM2M server: a child process -------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct scn_srv *v = h->data;
    buf->base = v->out + v->out_len;
    buf->len = sizeof v->out - 1 - v->out_len;
}

static void on_child_output(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct scn_srv *v = s->data;
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    v->out_len += (size_t)n;
    v->out[v->out_len] = '\0';
    char *nl;
    while ((nl = strchr(v->out, '\n')) != NULL) {
        *nl = '\0';
        unsigned port;
        if (v->port == 0 && sscanf(v->out, "listening 127.0.0.1:%u", &port) == 1)
            v->port = (uint16_t)port;
        if (v->env->lwm2m_line)
            v->env->lwm2m_line(v->env->lwm2m_ctx, v->out);
        size_t used = (size_t)(nl + 1 - v->out);
        memmove(v->out, nl + 1, v->out_len - used + 1);
        v->out_len -= used;
    }
    if (v->out_len == sizeof v->out - 1) /* a line longer than the buffer: cut */
        v->out_len = 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct scn_srv *v = h->data;
    struct scn_env *e = v->env;
    if (--e->closing == 0 && e->closed)
        e->closed(e);
}

static void on_child_exit(uv_process_t *p, int64_t status, int signo)
{
    (void)status;
    (void)signo;
    struct scn_srv *v = p->data;
    v->state = SCN_SRV_STOPPED;
    uv_close((uv_handle_t *)p, on_handle_closed);
}

static void on_start_timeout(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void close_timer(uv_handle_t *h)
{
    (void)h;
}

static int start_lwm2m(struct scn_srv *v, const char *self, uint32_t seed, char *why,
                       size_t why_size)
{
    struct scn_env *e = v->env;
    char seed_text[16];
    snprintf(seed_text, sizeof seed_text, "%u", seed);
    char *args[] = {(char *)self, "lwm2m-server", "--port",  "0", "--address",
                    "127.0.0.1",  "--seed",       seed_text, NULL};
    uv_pipe_init(e->loop, &v->to_child, 0);
    uv_pipe_init(e->loop, &v->from_child, 0);
    v->to_child.data = v->from_child.data = v->proc.data = v;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&v->to_child},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&v->from_child},
        {.flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO},
    };
    uv_process_options_t opt = {
        .file = self, .args = args, .exit_cb = on_child_exit, .stdio = stdio, .stdio_count = 3};
    e->closing += 2; /* the pipes; the process once it has been spawned */
    int err = uv_spawn(e->loop, &v->proc, &opt);
    if (err) {
        snprintf(why, why_size, "server %s: cannot start %s lwm2m-server: %s", v->decl->name, self,
                 uv_strerror(err));
        uv_close((uv_handle_t *)&v->proc, NULL);
        return -1;
    }
    e->closing++;
    v->state = SCN_SRV_RUNNING;
    uv_read_start((uv_stream_t *)&v->from_child, on_alloc, on_child_output);
    /* Where it listens: its first line. */
    bool late = false;
    uv_timer_t t;
    uv_timer_init(e->loop, &t);
    t.data = &late;
    uv_timer_start(&t, on_start_timeout, LWM2M_START_MS, 0);
    while (v->port == 0 && !late && v->state == SCN_SRV_RUNNING)
        uv_run(e->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, close_timer);
    uv_run(e->loop, UV_RUN_NOWAIT);
    if (v->port == 0) {
        snprintf(why, why_size, "server %s: bcsim lwm2m-server did not start", v->decl->name);
        return -1;
    }
    return 0;
}

/* ---- `server closed`: a port where connections are refused ------------------------- */

static int start_closed(struct scn_srv *v, char *why, size_t why_size)
{
    v->closed_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (v->closed_fd < 0 || bind(v->closed_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(v->closed_fd, (struct sockaddr *)&a, &len) != 0) {
        snprintf(why, why_size, "server %s: %s", v->decl->name, strerror(errno));
        return -1;
    }
    v->port = ntohs(a.sin_port);
    v->state = SCN_SRV_RUNNING;
    return 0;
}

/* ---- The environment ------------------------------------------------------------------ */

static const struct scn_srv *find_server(const struct scn_env *e, const char *name)
{
    for (int i = 0; i < e->s->nservers; i++)
        if (strcmp(e->servers[i].decl->name, name) == 0)
            return &e->servers[i];
    return NULL;
}

static int copy_file(const char *from, const char *to)
{
    if (link(from, to) == 0)
        return 0;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    char buf[65536];
    ssize_t n = 0;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    int ok = in >= 0 && out >= 0 && n == 0;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int scn_env_make_packages(const struct scenario *s, const char *self, const char *cache_dir,
                          char *why, size_t why_size)
{
    for (int i = 0; i < s->npackages; i++) {
        char path[PATH_MAX];
        if (scn_pkg_make(self, cache_dir, s->model, &s->packages[i], path, sizeof path, why,
                         why_size) != 0)
            return -1;
    }
    return 0;
}

static int add_packages(struct scn_env *e, const char *self, const char *cache_dir, char *why,
                        size_t why_size)
{
    for (int i = 0; i < e->s->npackages; i++) {
        const struct scn_package *p = &e->s->packages[i];
        char made[PATH_MAX];
        if (scn_pkg_make(self, cache_dir, e->s->model, p, made, sizeof made, why, why_size) != 0)
            return -1;
        snprintf(e->pkg_path[i], sizeof e->pkg_path[i], "%.3900s/%s", e->www, p->name);
        struct stat st;
        if (copy_file(made, e->pkg_path[i]) != 0 || stat(e->pkg_path[i], &st) != 0) {
            snprintf(why, why_size, "package %s: cannot copy %s: %s", p->name, made,
                     strerror(errno));
            return -1;
        }
        e->pkg_size[i] = (long)st.st_size;
    }
    return 0;
}

static int add_resolves(struct scn_env *e, char *why, size_t why_size)
{
    for (int i = 0; i < e->s->nresolves; i++) {
        const struct scn_resolve *r = &e->s->resolves[i];
        char host[300], spec[512];
        if (r->port)
            snprintf(host, sizeof host, "%s:%u", r->host, r->port);
        else
            snprintf(host, sizeof host, "%s", r->host);
        if (r->server[0]) {
            const struct scn_srv *v = find_server(e, r->server);
            if (!v) {
                snprintf(why, why_size, "resolve %s: server %s is not declared", host, r->server);
                return -1;
            }
            snprintf(spec, sizeof spec, "%s=127.0.0.1:%u", host, v->port);
        } else {
            snprintf(spec, sizeof spec, "%s=%s", host, r->addr);
        }
        if (resolve_add(&e->resolver, spec, why, why_size) != 0)
            return -1;
    }
    return 0;
}

int scn_env_start(struct scn_env *e, uv_loop_t *loop, const struct scenario *s, const char *self,
                  const char *cache_dir, const char *dir, uint32_t seed, scn_env_line_fn lwm2m_line,
                  void *ctx, char *why, size_t why_size)
{
    memset(e, 0, sizeof *e);
    e->loop = loop;
    e->s = s;
    e->lwm2m_line = lwm2m_line;
    e->lwm2m_ctx = ctx;
    for (int i = 0; i < s->nservers; i++) {
        e->servers[i].env = e;
        e->servers[i].decl = &s->servers[i];
        e->servers[i].closed_fd = -1;
    }
    snprintf(e->www, sizeof e->www, "%s/www", dir);
    if (mkdir(e->www, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_size, "cannot make %s: %s", e->www, strerror(errno));
        return -1;
    }
    if (add_packages(e, self, cache_dir, why, why_size) != 0)
        return -1;
    for (int i = 0; i < s->nservers; i++) {
        struct scn_srv *v = &e->servers[i];
        int r = 0;
        switch (v->decl->kind) {
        case SCN_SERVER_HTTP:
        case SCN_SERVER_COAP:
            r = parse_faults(v, v->decl->faults, v->decl->nfaults, why, why_size);
            if (r == 0)
                r = start_server(v, why, why_size);
            break;
        case SCN_SERVER_LWM2M:
            r = start_lwm2m(v, self, seed, why, why_size);
            break;
        case SCN_SERVER_CLOSED:
            r = start_closed(v, why, why_size);
            break;
        }
        if (r != 0)
            return -1;
    }
    return add_resolves(e, why, why_size);
}

static struct scn_srv *server_of(struct scn_env *e, const char *name, char *why, size_t why_size)
{
    struct scn_srv *v = (struct scn_srv *)find_server(e, name);
    if (!v)
        snprintf(why, why_size, "server %s is not declared", name);
    else if (v->decl->kind != SCN_SERVER_HTTP && v->decl->kind != SCN_SERVER_COAP) {
        snprintf(why, why_size, "server %s is not an http or coap server", name);
        v = NULL;
    }
    return v;
}

int scn_env_server(struct scn_env *e, const struct scn_action *a, char *why, size_t why_size)
{
    struct scn_srv *v = server_of(e, a->server, why, why_size);
    if (!v)
        return -1;
    switch (a->kind) {
    case SCN_A_SERVER_FAULT:
        if (parse_faults(v, a->faults, a->nfaults, why, why_size) != 0)
            return -1;
        apply_faults(v);
        return 0;
    case SCN_A_SERVER_CLEAR:
        v->nfaults = 0;
        apply_faults(v);
        return 0;
    case SCN_A_SERVER_STOP:
        v->start_when_closed = false;
        stop_server(v);
        return 0;
    case SCN_A_SERVER_START:
        if (v->state == SCN_SRV_CLOSING) {
            v->start_when_closed = true;
            return 0;
        }
        if (v->state == SCN_SRV_RUNNING || start_server(v, why, why_size) == 0)
            return 0;
        snprintf(e->broken, sizeof e->broken, "%s", why); /* its port taken meanwhile */
        return -1;
    default:
        snprintf(why, why_size, "not a server action");
        return -1;
    }
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

int scn_env_lwm2m(struct scn_env *e, const char *line, char *why, size_t why_size)
{
    for (int i = 0; i < e->s->nservers; i++) {
        struct scn_srv *v = &e->servers[i];
        if (v->decl->kind != SCN_SERVER_LWM2M)
            continue;
        if (v->state != SCN_SRV_RUNNING) {
            snprintf(why, why_size, "server %s has exited", v->decl->name);
            return -1;
        }
        size_t n = strlen(line);
        uv_write_t *w = malloc(sizeof *w + n + 1);
        if (!w) {
            snprintf(why, why_size, "out of memory");
            return -1;
        }
        char *copy = (char *)(w + 1);
        memcpy(copy, line, n);
        copy[n] = '\n';
        uv_buf_t b = uv_buf_init(copy, (unsigned)n + 1);
        int err = uv_write(w, (uv_stream_t *)&v->to_child, &b, 1, on_written);
        if (err) {
            free(w);
            snprintf(why, why_size, "server %s: %s", v->decl->name, uv_strerror(err));
            return -1;
        }
        return 0;
    }
    snprintf(why, why_size, "no lwm2m server is declared");
    return -1;
}

int scn_env_var(const struct scn_env *e, const char *name, char *out, size_t size)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return -1;
    char base[SCN_NAME_MAX];
    snprintf(base, sizeof base, "%.*s", (int)(dot - name), name);
    const char *what = dot + 1;
    const struct scn_srv *v = find_server(e, base);
    if (v) {
        const char *scheme = v->decl->kind == SCN_SERVER_HTTP     ? "http"
                             : v->decl->kind == SCN_SERVER_CLOSED ? "http"
                                                                  : "coap";
        if (strcmp(what, "url") == 0)
            snprintf(out, size, "%s://127.0.0.1:%u", scheme, v->port);
        else if (strcmp(what, "host") == 0)
            snprintf(out, size, "127.0.0.1");
        else if (strcmp(what, "port") == 0)
            snprintf(out, size, "%u", v->port);
        else
            return -1;
        return 0;
    }
    for (int i = 0; i < e->s->npackages; i++)
        if (strcmp(e->s->packages[i].name, base) == 0 && strcmp(what, "size") == 0) {
            snprintf(out, size, "%ld", e->pkg_size[i]);
            return 0;
        }
    return -1;
}

int scn_env_expand(const struct scn_env *e, const char *in, char *out, size_t size,
                   scn_env_lookup_fn more, void *ctx, char *why, size_t why_size)
{
    size_t n = 0;
    for (const char *p = in; *p;) {
        char piece[SCN_TEXT_MAX];
        const char *add = p;
        size_t len = 1;
        if (p[0] == '$' && p[1] == '$') {
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            char name[SCN_NAME_MAX * 2];
            if (!end || (size_t)(end - p - 2) >= sizeof name) {
                snprintf(why, why_size, "unterminated ${ in \"%.200s\"", in);
                return -1;
            }
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 2), p + 2);
            if ((!more || more(ctx, name, piece, sizeof piece) != 0) &&
                scn_env_var(e, name, piece, sizeof piece) != 0) {
                snprintf(why, why_size, "unknown value ${%s}", name);
                return -1;
            }
            add = piece;
            len = strlen(piece);
            p = end + 1;
        } else {
            p++;
        }
        if (n + len >= size) {
            snprintf(why, why_size, "\"%.200s\" is too long once its values are in", in);
            return -1;
        }
        memcpy(out + n, add, len);
        n += len;
    }
    out[n] = '\0';
    return 0;
}

void scn_env_close(struct scn_env *e, void (*closed)(struct scn_env *e))
{
    e->closed = closed;
    e->closing++; /* held until every close below has been started */
    for (int i = 0; i < e->s->nservers; i++) {
        struct scn_srv *v = &e->servers[i];
        switch (v->decl->kind) {
        case SCN_SERVER_HTTP:
        case SCN_SERVER_COAP:
            v->start_when_closed = false;
            stop_server(v);
            break;
        case SCN_SERVER_LWM2M:
            if (uv_is_active((uv_handle_t *)&v->proc))
                uv_process_kill(&v->proc, SIGTERM);
            if (v->to_child.loop && !uv_is_closing((uv_handle_t *)&v->to_child)) {
                uv_close((uv_handle_t *)&v->to_child, on_handle_closed);
                uv_close((uv_handle_t *)&v->from_child, on_handle_closed);
            }
            break;
        case SCN_SERVER_CLOSED:
            if (v->closed_fd >= 0)
                close(v->closed_fd);
            v->closed_fd = -1;
            break;
        }
    }
    if (--e->closing == 0 && e->closed)
        e->closed(e);
}
