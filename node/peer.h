/* Peer connections: TCP over libuv, the Noise XX handshake (crypto/noise.h) with both
 * node keys checked against the ecosystem, then encrypted frames carrying msgpack
 * messages (proto/wire.h). Outbound peers come from --peer and the ecosystem's node
 * addresses and are redialed with backoff. Everything here runs on the loop thread.
 * docs/PROTOCOL.md describes the bytes. */
#ifndef TN_NODE_PEER_H
#define TN_NODE_PEER_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/noise.h"
#include "node/daemon.h"
#include "proto/msg.h"

#define PEER_MAX 64                    /* sessions, in and out (dials count from the start) */
#define PEER_HANDSHAKE_MS 10000        /* deadline from connect/accept to an open session */
/* Inbound connections still in their handshake are counted apart from sessions, so that
 * connections that never finish it cannot take the places of peers that do. When either
 * bound is reached, a new connection replaces the oldest handshake (of that address, or of
 * all) if it has had PEER_PENDING_GRACE_MS, and is refused otherwise: a handshake that
 * completes in time is never cut short by the ones that come after it. */
#define PEER_PENDING_MAX 128           /* inbound handshakes under way */
#define PEER_PENDING_PER_HOST 16       /* ... from one remote address */
#define PEER_PENDING_GRACE_MS 2000
#define PEER_IDLE_MS 30000             /* no frame for this long: the peer is gone */
#define PEER_SEND_HIGH (4u << 20)      /* queued bytes: stop producing for this peer */
#define PEER_SEND_LIMIT (32u << 20)    /* queued bytes: drop the peer */
#define PEER_SLOW_MS 30000             /* above the high-water mark this long: drop */

enum peer_state { PEER_CONNECTING, PEER_HANDSHAKE, PEER_OPEN, PEER_CLOSED };

struct peer_crypto; /* handshake and session keys, in sodium_malloc memory */
struct peer_dial;
struct gossip_peer;

struct node_peer {
    struct node *node;
    uv_tcp_t tcp;
    uv_timer_t timer;
    enum peer_state state;
    bool inbound;
    char addr[80]; /* remote HOST:PORT */
    char host[64]; /* inbound: the remote address alone */
    uint64_t accepted_ms; /* inbound: when the connection was accepted */
    struct peer_dial *dial; /* outbound: the address we keep dialing; NULL inbound */
    struct peer_crypto *crypto;
    uint8_t node_pk[CRY_PK_LEN]; /* the remote node key, once the handshake checked it */
    const struct proto_org *org;
    uint8_t *rbuf;
    size_t rlen, rcap;
    bool reading;
    uint64_t since_ms;       /* when the session opened */
    uint64_t last_recv_ms;
    uint64_t slow_since_ms;  /* first time over the high-water mark, 0 if not */
    uint64_t bytes_in, bytes_out;
    struct gossip_peer *g; /* replication state (gossip.c) */
    struct node_peer *next, *prev;
};

struct node_net;

/* Listens on --listen, starts dialing, and starts the heartbeat. */
int node_net_start(struct node *n) TN_MUST_CHECK;
/* Closes every connection and timer; the loop then finishes closing them. */
void node_net_stop(struct node *n);
void node_net_free(struct node *n);

/* Sends one message (msgpack already in sb, at most PROTO_WIRE_FRAME_MAX bytes) as an
 * encrypted frame. A failure closes the peer. */
int node_peer_send(struct node_peer *p, const msgpack_sbuffer *sb);

/* Bytes queued for sending and not yet written to the socket. */
size_t node_peer_queued(const struct node_peer *p);

/* Closes the connection with one log line giving the reason. */
void node_peer_close(struct node_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for a peer that broke the protocol or sent something that does not verify:
 * the connection closes, the misbehaviour is counted (status), and whatever it sent that is
 * still being verified is dropped. */
void node_peer_drop(struct node_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* true if the peer with this gossip id was dropped for misbehaviour (recently). */
bool node_net_was_dropped(struct node *n, uint64_t peer_id);

/* Peers dropped for misbehaviour since the node started. */
uint64_t node_net_dropped(struct node *n);

/* Stops / resumes reading from the peer (the receiving side of backpressure). */
void node_peer_pause(struct node_peer *p, bool pause);

/* Open peers, for iteration. */
struct node_peer *node_net_peers(struct node *n);

/* ms on the loop's clock. */
uint64_t node_now_ms(struct node *n);

/* Status of every peer (and dial target not connected) as msgpack array entries;
 * returns how many were packed, or with pk NULL just counts. */
size_t node_net_pack_status(struct node *n, msgpack_packer *pk);

#endif
