/* What a scenario declares around the module: its packages (in a directory
 * of its own), its servers on loopback ports the kernel picks (HTTP and CoAP
 * in this process, with bcsim serve's library, so that rules can change their
 * faults at once; the LwM2M server as a `bcsim lwm2m-server` child driven
 * through its stdin and stdout), the resolver that maps the scenario's names
 * to them, and the ${S.url} / ${P.size} values. */
#ifndef BCSIM_SCN_ENV_H
#define BCSIM_SCN_ENV_H

#include "proto/coap_server.h"
#include "proto/http_server.h"
#include "proto/resolve.h"
#include "sim/scenario/scn.h"

#include <limits.h>
#include <stdbool.h>
#include <uv.h>

enum scn_srv_state { SCN_SRV_STOPPED, SCN_SRV_RUNNING, SCN_SRV_CLOSING };

struct scn_env;

struct scn_srv {
    struct scn_env *env;
    const struct scn_server *decl;
    enum scn_srv_state state;
    bool start_when_closed; /* `start` came while it was still closing */
    uint16_t port;
    struct http_srv http;
    struct coap_srv *coap;
    struct http_srv_fault http_faults[SCN_FAULTS_MAX];
    struct coap_srv_fault coap_faults[SCN_FAULTS_MAX];
    size_t nfaults;
    int closed_fd;     /* `server closed`: a bound TCP socket that never listens */
    uv_process_t proc; /* lwm2m */
    uv_pipe_t to_child, from_child;
    char out[4096]; /* its stdout, up to the next newline */
    size_t out_len;
};

/* A line the LwM2M server printed. */
typedef void (*scn_env_line_fn)(void *ctx, const char *line);

struct scn_env {
    uv_loop_t *loop;
    const struct scenario *s;
    char www[PATH_MAX];
    struct scn_srv servers[SCN_SERVERS_MAX];
    struct resolver resolver;
    long pkg_size[SCN_PACKAGES_MAX];
    char pkg_path[SCN_PACKAGES_MAX][PATH_MAX]; /* in www */
    scn_env_line_fn lwm2m_line;
    void *lwm2m_ctx;
    int closing;
    void (*closed)(struct scn_env *e);
    char broken[256]; /* a server that could not start again: the run cannot go on */
};

/* Puts the packages (made into cache_dir beforehand) into DIR/www, starts the
 * servers and fills the resolver. self: the bcsim executable. Returns 0, or
 * -1 with a reason (then scn_env_close still has to be called). */
int scn_env_start(struct scn_env *e, uv_loop_t *loop, const struct scenario *s, const char *self,
                  const char *cache_dir, const char *dir, uint32_t seed, scn_env_line_fn lwm2m_line,
                  void *ctx, char *why, size_t why_size);

/* A server action of a rule or a `do` (SCN_A_SERVER_*). */
int scn_env_server(struct scn_env *e, const struct scn_action *a, char *why, size_t why_size);

/* A line to the LwM2M server's commands. */
int scn_env_lwm2m(struct scn_env *e, const char *line, char *why, size_t why_size);

/* ${S.url}, ${S.host}, ${S.port}, ${P.size}: 0 with the value, -1 unknown. */
int scn_env_var(const struct scn_env *e, const char *name, char *out, size_t size);

/* Replaces ${NAME} in `in` (and $$ by $): by `more` first (the caller's own
 * values; may be NULL), else scn_env_var. 0, or -1 with a reason. */
typedef int (*scn_env_lookup_fn)(void *ctx, const char *name, char *out, size_t size);
int scn_env_expand(const struct scn_env *e, const char *in, char *out, size_t size,
                   scn_env_lookup_fn more, void *ctx, char *why, size_t why_size);

/* Makes (or finds in cache_dir) every package of s. */
int scn_env_make_packages(const struct scenario *s, const char *self, const char *cache_dir,
                          char *why, size_t why_size);

/* Stops everything; closed runs from the loop when the last handle is gone. */
void scn_env_close(struct scn_env *e, void (*closed)(struct scn_env *e));

#endif
