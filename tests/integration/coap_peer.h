/* CoAP peers for the tests: libcoap's own coap-server-notls holding a file
 * stored with coap-client-notls, and UDP sockets of the test's own (silent,
 * or answering by a rule). Every one takes a port the kernel picks and is
 * checked to be the test's before it is used. */
#ifndef BCSIM_TESTS_COAP_PEER_H
#define BCSIM_TESTS_COAP_PEER_H

#include <stdbool.h>
#include <sys/types.h>

struct coap_peer {
    pid_t pid; /* the server process, or -1 */
    int fd;    /* a socket the test holds, or -1 */
    int port;
};

/* True if a UDP socket bound to loopback `port` exists and all of them are
 * pid's. */
bool coap_peer_udp_is(int port, pid_t pid);

/* coap-server-notls on a free loopback port, `loss` ("10%") or NULL, its
 * stderr in err_path; then `file` PUT as /`resource` and read back until the
 * server holds exactly its bytes (coap-client's exit status says nothing). */
void coap_peer_libcoap(struct coap_peer *p, const char *loss, const char *err_path,
                       const char *file, const char *resource);

/* A loopback UDP port with nothing bound: datagrams there get ICMP port
 * unreachable. */
int coap_peer_refused_port(void);

/* A socket the test binds and never reads: requests vanish without a trace. */
void coap_peer_silent(struct coap_peer *p);

/* How a scripted peer answers one request: fills out with the datagram to
 * send and returns its length, or 0 to send nothing. */
typedef size_t (*coap_peer_rule)(const unsigned char *req, size_t len, unsigned char *out,
                                 size_t size);

/* A child process on a free port answering every request by rule. */
void coap_peer_scripted(struct coap_peer *p, coap_peer_rule rule);

void coap_peer_stop(struct coap_peer *p);

#endif
