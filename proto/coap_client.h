/* The CoAP transport of the download interface: confirmable GETs over UDP
 * with libcoap (one context per transfer, inside the libuv loop through
 * coap_loop), Uri-Path and Uri-Query from the URL's path, and Block2 (RFC
 * 7959): block 0 in the request's block size (512 by default), then each
 * next block in the size the server answered with, every GET with a token
 * of its own. bcsim asks for the blocks itself rather than in libcoap's
 * block mode: libcoap 4.3.1 expires a block-wise transfer MAX_TRANSMIT_WAIT
 * after its first request (block.c never refreshes lg_crcv->last_used for
 * Block2 answers), 46-105 s, shorter than any NB-IoT firmware download.
 * Each block goes to the sink as it arrives; the body is never held.
 *
 * Results: 2.05 with the last block -> DL_OK; any other code -> DL_ESTATUS
 * with class * 100 + detail (404, 503); retransmissions exhausted ->
 * DL_ETIMEOUT; ICMP unreachable -> DL_ECONNECT; RST -> DL_ERESET; another
 * ETag (or none) mid-transfer -> DL_ECHANGED; a block whose offset is not the bytes
 * received so far, or a block short of its size before the last -> DL_EBLOCKS
 * (an answer to an earlier request is skipped); fewer or
 * more bytes than Size2 -> DL_ESHORT / DL_ELONG; a datagram libcoap discarded
 * as not CoAP -> DL_EPROTO.
 *
 * Timing: libcoap retransmits a confirmable request after the ack timeout,
 * max(2 s, 2 * (rtt + block / rate)) so that the link model below never
 * causes a spurious retransmission, up to 4 times (RFC 7252); with neither a
 * rate nor an rtt (--speed fast) it is libcoap's minimum, 1 s. The request's
 * stall_ms (reset by every block) is raised to at least libcoap's
 * MAX_TRANSMIT_WAIT plus a second, so libcoap's verdict comes first.
 *
 * Link model: the answer to the first GET is delivered rtt after the GET
 * went out; every later block rtt + block / rate after the previous one was
 * delivered, "block" being the size of the block just delivered (the next
 * one is as large, except perhaps the last). A rate of 0 adds nothing, an rtt
 * of 0 neither. While a delivery waits, the datagram waits in the socket
 * (coap_uv_hold). */
#ifndef BCSIM_COAP_CLIENT_H
#define BCSIM_COAP_CLIENT_H

#include "proto/download.h"

extern const struct dl_backend coap_dl_backend;

#endif
