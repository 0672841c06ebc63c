/* Peer connections: see peer.h. */
#include "node/peer.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "node/gossip.h"
#include "node/log.h"
#include "proto/wire.h"

#define FRAME_HDR PROTO_FRAME_HDR
#define CIPHER_MAX (PROTO_WIRE_FRAME_MAX + CRY_NOISE_TAG)
#define HEARTBEAT_MS 1000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

struct peer_crypto {
    struct cry_noise_hs hs;
    struct cry_noise_cipher tx, rx;
};

/* An address we keep a connection to. */
struct peer_dial {
    struct node_net *net;
    char addr[80];
    bool has_expect; /* ecosystem addresses name the node key that must answer */
    uint8_t expect[CRY_PK_LEN];
    struct node_peer *peer; /* the connection made from this dial, if any */
    uv_timer_t retry;
    uv_getaddrinfo_t gai;
    unsigned backoff_ms;
    uint64_t next_ms;
    bool resolving;
    struct peer_dial *next;
};

struct node_net {
    struct node *node;
    uv_tcp_t listener;
    uv_timer_t heartbeat;
    struct node_peer *peers;
    struct peer_dial *dials;
    uint8_t *x_sk; /* this node's static X25519 key: 32 bytes of sodium_malloc memory,
                      read-only once derived, wiped by sodium_free */
    bool stopping;
    uint64_t dropped;        /* peers dropped for misbehaviour */
    uint64_t dropped_ids[64]; /* the latest of them (gossip ids), a ring */
};

struct frame_write {
    uv_write_t req;
    size_t len;
    uint8_t buf[];
};

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void process_frames(struct node_peer *p);
static void dial_schedule(struct peer_dial *d, bool failed);

uint64_t node_now_ms(struct node *n)
{
    return uv_now(n->loop);
}

struct node_peer *node_net_peers(struct node *n)
{
    return n->net ? n->net->peers : NULL;
}

size_t node_peer_queued(const struct node_peer *p)
{
    return p->state == PEER_CLOSED ? 0 : uv_stream_get_write_queue_size((uv_stream_t *)&p->tcp);
}

static void fmt_pk(char out[CRY_PK_TEXT_LEN], const uint8_t pk[CRY_PK_LEN])
{
    cry_pk_format(out, pk);
}

/* --- lifetime --------------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h)
{
    struct node_peer *p = h->data;

    free(p->rbuf);
    if (p->crypto)
        sodium_free(p->crypto);
    free(p);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct node_peer *p = h->data;
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

void node_peer_close(struct node_peer *p, const char *fmt, ...)
{
    struct node_net *net = p->node->net;
    char why[300], pk[CRY_PK_TEXT_LEN] = "";
    va_list ap;
    bool was_open = p->state == PEER_OPEN;

    if (p->state == PEER_CLOSED)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (p->org)
        fmt_pk(pk, p->node_pk);
    if (was_open || p->state == PEER_HANDSHAKE || p->inbound) /* inbound: refusals too */
        node_info("peer %s%s%s%s disconnected: %s", p->addr, p->org ? " (" : "",
                  p->org ? p->org->id : "", p->org ? ")" : "", why);
    else
        node_debug("peer %s: %s", p->addr, why);
    (void)pk;
    p->state = PEER_CLOSED;
    if (was_open)
        gossip_peer_closed(p);
    if (p->prev)
        p->prev->next = p->next;
    else
        net->peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (p->dial) {
        p->dial->peer = NULL;
        dial_schedule(p->dial, !was_open);
        p->dial = NULL;
    }
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
}

void node_peer_drop(struct node_peer *p, const char *fmt, ...)
{
    struct node_net *net = p->node->net;
    char why[300];
    va_list ap;

    if (p->state == PEER_CLOSED)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    net->dropped_ids[net->dropped % 64] = gossip_peer_id(p);
    net->dropped++;
    node_peer_close(p, "%s", why);
}

bool node_net_was_dropped(struct node *n, uint64_t peer_id)
{
    struct node_net *net = n->net;

    for (size_t i = 0; net && peer_id && i < 64 && i < net->dropped; i++)
        if (net->dropped_ids[i] == peer_id)
            return true;
    return false;
}

uint64_t node_net_dropped(struct node *n)
{
    return n->net ? n->net->dropped : 0;
}

static struct node_peer *peer_new(struct node_net *net, bool inbound)
{
    struct node_peer *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    p->node = net->node;
    p->inbound = inbound;
    p->state = PEER_CONNECTING;
    uv_tcp_init(net->node->loop, &p->tcp);
    uv_timer_init(net->node->loop, &p->timer);
    p->tcp.data = p->timer.data = p;
    p->next = net->peers;
    if (p->next)
        p->next->prev = p;
    net->peers = p;
    return p;
}

static bool pending_inbound(const struct node_peer *q)
{
    return q->inbound && q->state == PEER_HANDSHAKE;
}

/* Sessions (every connection but inbound handshakes under way), other than `except`. */
static size_t count_sessions(const struct node_net *net, const struct node_peer *except)
{
    size_t n = 0;

    for (const struct node_peer *q = net->peers; q; q = q->next)
        if (q != except && q->state != PEER_CLOSED && !pending_inbound(q))
            n++;
    return n;
}

/* --- frames --------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    struct frame_write *w = (struct frame_write *)req;
    struct node_peer *p = req->data;

    free(w);
    if (p->state == PEER_CLOSED)
        return;
    if (status != 0 && status != UV_ECANCELED)
        node_peer_close(p, "write failed: %s", uv_strerror(status));
    else if (p->state == PEER_OPEN && node_peer_queued(p) < PEER_SEND_HIGH / 2)
        gossip_peer_writable(p);
}

/* Queues one frame: 4-byte big-endian length, then body[0..len). */
static int write_frame(struct node_peer *p, const uint8_t *body, size_t len, bool encrypt)
{
    struct frame_write *w;
    uv_buf_t b;
    size_t clen = encrypt ? len + CRY_NOISE_TAG : len;
    int rc;

    if (p->state == PEER_CLOSED)
        return TN_ERR_UNREACHABLE;
    if (!(w = malloc(sizeof *w + FRAME_HDR + clen)))
        return TN_ERR_NOMEM;
    proto_frame_put_len(w->buf, (uint32_t)clen);
    if (encrypt) {
        if ((rc = cry_noise_encrypt(&p->crypto->tx, body, len, w->buf + FRAME_HDR)) != 0) {
            free(w);
            return rc;
        }
    } else {
        memcpy(w->buf + FRAME_HDR, body, len);
    }
    w->len = FRAME_HDR + clen;
    w->req.data = p;
    b = uv_buf_init((char *)w->buf, (unsigned)w->len);
    if ((rc = uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, on_written)) != 0) {
        free(w);
        node_peer_close(p, "write failed: %s", uv_strerror(rc));
        return TN_ERR_UNREACHABLE;
    }
    p->bytes_out += w->len;
    return 0;
}

int node_peer_send(struct node_peer *p, const msgpack_sbuffer *sb)
{
    size_t queued;

    if (p->state != PEER_OPEN)
        return TN_ERR_UNREACHABLE;
    if (sb->size > PROTO_WIRE_FRAME_MAX) {
        node_error("internal: message of %zu bytes over the frame limit", sb->size);
        return TN_ERR_TOO_BIG;
    }
    /* A peer that does not read cannot make us buffer without bound. */
    queued = node_peer_queued(p);
    if (queued > PEER_SEND_LIMIT) {
        node_peer_close(p, "slow peer: %zu bytes queued unsent", queued);
        return TN_ERR_UNREACHABLE;
    }
    return write_frame(p, (const uint8_t *)sb->data, sb->size, true);
}

void node_peer_pause(struct node_peer *p, bool pause)
{
    if (p->state == PEER_CLOSED || p->reading == !pause)
        return;
    p->reading = !pause;
    if (pause) {
        uv_read_stop((uv_stream_t *)&p->tcp);
        return;
    }
    if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0) {
        node_peer_close(p, "cannot read");
        return;
    }
    process_frames(p); /* frames that arrived before the pause */
}

/* --- handshake ------------------------------------------------------------------------ */

static void prologue(struct node *n, uint8_t *out, size_t *len)
{
    size_t a = strlen(PROTO_WIRE_PROLOGUE), b = strlen(node_eco(n)->network);

    memcpy(out, PROTO_WIRE_PROLOGUE, a);
    memcpy(out + a, node_eco(n)->network, b);
    *len = a + b;
}

/* Checks the node key a peer presented: the version and that it is the key the handshake
 * authenticated (proto_wire_hs_check), that the ecosystem lists it, that it is not
 * ourselves. */
static int check_remote(struct node_peer *p, const uint8_t *payload, size_t len,
                        const uint8_t rs[32], char *why, size_t whylen)
{
    struct node *n = p->node;
    char pk[CRY_PK_TEXT_LEN];
    int rc;

    if ((rc = proto_wire_hs_check(payload, len, rs, p->node_pk, why, whylen)) != 0)
        return rc;
    fmt_pk(pk, p->node_pk);
    if (memcmp(p->node_pk, n->node_key.pk, CRY_PK_LEN) == 0) {
        snprintf(why, whylen, "connected to itself");
        return TN_ERR_INVALID;
    }
    if (!(p->org = proto_ecosystem_org_by_node(node_eco(n), p->node_pk))) {
        snprintf(why, whylen, "node key %s is not in the ecosystem", pk);
        return TN_ERR_UNKNOWN_KEY;
    }
    if (p->dial && p->dial->has_expect && memcmp(p->dial->expect, p->node_pk, CRY_PK_LEN) != 0) {
        snprintf(why, whylen, "answered with node key %s, not the one the ecosystem lists there",
                 pk);
        p->org = NULL;
        return TN_ERR_UNKNOWN_KEY;
    }
    return 0;
}

/* Keeps one session per pair of nodes: when both dialed each other, the connection
 * dialed by the node with the smaller key survives (both sides reach the same answer).
 * Returns true if p is the one to drop. */
static bool duplicate_loses(struct node_peer *p)
{
    struct node *n = p->node;
    bool we_are_smaller = memcmp(n->node_key.pk, p->node_pk, CRY_PK_LEN) < 0;
    bool keep_p = we_are_smaller == !p->inbound; /* p was dialed by the smaller key */

    for (struct node_peer *q = n->net->peers; q; q = q->next) {
        if (q == p || q->state != PEER_OPEN || memcmp(q->node_pk, p->node_pk, CRY_PK_LEN) != 0)
            continue;
        if (!keep_p || q->inbound == p->inbound)
            return true; /* p is the wrong direction, or the same as the one we have */
        node_peer_close(q, "duplicate connection");
        return false;
    }
    return false;
}

static void session_open(struct node_peer *p)
{
    char pk[CRY_PK_TEXT_LEN];
    uint8_t rs[32];

    cry_noise_split(&p->crypto->hs, &p->crypto->tx, &p->crypto->rx, rs);
    if (p->inbound && count_sessions(p->node->net, p) >= PEER_MAX) {
        node_peer_close(p, "refused: already %d peers", PEER_MAX);
        return;
    }
    if (duplicate_loses(p)) {
        /* the key that answers at that address is checked: learn it, so that we do not
         * redial while the session they dialed is up (both sides list each other) */
        if (p->dial && !p->dial->has_expect) {
            p->dial->has_expect = true;
            memcpy(p->dial->expect, p->node_pk, CRY_PK_LEN);
        }
        node_peer_close(p, "duplicate connection");
        return;
    }
    p->state = PEER_OPEN;
    p->since_ms = node_now_ms(p->node);
    if (p->dial) {
        p->dial->backoff_ms = 0;
        /* learn who answers at a --peer address, so we do not redial while connected */
        p->dial->has_expect = true;
        memcpy(p->dial->expect, p->node_pk, CRY_PK_LEN);
    }
    uv_timer_stop(&p->timer);
    fmt_pk(pk, p->node_pk);
    node_info("peer %s (%s, node %s) connected, %s", p->addr, p->org->id, pk,
              p->inbound ? "inbound" : "outbound");
    gossip_peer_open(p);
}

static void handshake_frame(struct node_peer *p, const uint8_t *msg, size_t len)
{
    struct cry_noise_hs *hs = &p->crypto->hs;
    uint8_t payload[256], out[512], mine[PROTO_WIRE_HS_PAYLOAD];
    size_t plen, olen;
    char why[200];
    int rc;

    if ((rc = cry_noise_read(hs, msg, len, payload, sizeof payload, &plen)) != 0) {
        node_peer_drop(p, "handshake failed: %s",
                        rc == TN_ERR_BAD_SIGNATURE
                            ? "authentication failed (another network, or tampered)"
                            : "malformed handshake message");
        return;
    }
    proto_wire_hs_payload(mine, p->node->node_key.pk);
    if (!p->inbound) { /* we read message 2: check the responder, send message 3 */
        if (check_remote(p, payload, plen, hs->rs, why, sizeof why) != 0) {
            node_peer_drop(p, "refused: %s", why);
            return;
        }
        if (cry_noise_write(hs, mine, sizeof mine, out, sizeof out, &olen) != 0 ||
            write_frame(p, out, olen, false) != 0) {
            node_peer_close(p, "handshake failed: cannot write");
            return;
        }
        session_open(p);
    } else if (hs->step == 1) { /* we read message 1: answer with message 2 */
        if (plen != 0) {
            node_peer_drop(p, "handshake failed: unexpected payload in the first message");
            return;
        }
        if (cry_noise_write(hs, mine, sizeof mine, out, sizeof out, &olen) != 0 ||
            write_frame(p, out, olen, false) != 0) {
            node_peer_close(p, "handshake failed: cannot write");
            return;
        }
    } else { /* we read message 3: check the initiator */
        if (check_remote(p, payload, plen, hs->rs, why, sizeof why) != 0) {
            node_peer_drop(p, "refused: %s", why);
            return;
        }
        session_open(p);
    }
}

static void session_frame(struct node_peer *p, const uint8_t *ct, size_t len)
{
    uint8_t pt[PROTO_WIRE_FRAME_MAX];
    struct proto_msg m;
    char err[200];

    if (len < CRY_NOISE_TAG || cry_noise_decrypt(&p->crypto->rx, ct, len, pt) != 0) {
        node_peer_drop(p, "frame failed authentication (tampered, replayed or garbage)");
        return;
    }
    if (proto_msg_decode(pt, len - CRY_NOISE_TAG, &m, err, sizeof err) != 0) {
        node_peer_drop(p, "%s", err);
        return;
    }
    if (!proto_wire_known(m.type)) {
        if (m.type % 2 == 0)
            node_peer_drop(p, "unknown message type %llu (even: must be understood)",
                            (unsigned long long)m.type);
        proto_msg_release(&m);
        return;
    }
    gossip_peer_msg(p, &m);
    proto_msg_release(&m);
}

/* --- reading -------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct node_peer *p = h->data;
    size_t need = FRAME_HDR + CIPHER_MAX;

    (void)suggested;
    if (p->rcap < need) {
        uint8_t *nb = realloc(p->rbuf, need);
        if (nb) {
            p->rbuf = nb;
            p->rcap = need;
        }
    }
    buf->base = (char *)p->rbuf + p->rlen;
    buf->len = p->rcap - p->rlen;
}

/* Handles every complete frame in the read buffer, until the peer is closed or paused. */
static void process_frames(struct node_peer *p)
{
    size_t off = 0;

    while (p->state != PEER_CLOSED && p->reading && p->rlen - off >= FRAME_HDR) {
        size_t max = p->state == PEER_OPEN ? CIPHER_MAX : CRY_NOISE_MSG_MAX, len;
        bool whole;
        if (proto_frame_peek(p->rbuf + off, p->rlen - off, max, &len, &whole) != 0) {
            node_peer_drop(p, "frame length %u over the %zu-byte limit",
                           proto_frame_get_len(p->rbuf + off), max);
            return;
        }
        if (!whole)
            break;
        if (p->state == PEER_OPEN)
            session_frame(p, p->rbuf + off + FRAME_HDR, len);
        else
            handshake_frame(p, p->rbuf + off + FRAME_HDR, len);
        off += FRAME_HDR + len;
    }
    if (p->state == PEER_CLOSED || off == 0)
        return;
    memmove(p->rbuf, p->rbuf + off, p->rlen - off);
    p->rlen -= off;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct node_peer *p = s->data;

    (void)buf;
    if (nread < 0) {
        node_peer_close(p, "%s", nread == UV_EOF ? "connection closed by the peer"
                                                 : uv_strerror((int)nread));
        return;
    }
    p->rlen += (size_t)nread;
    p->bytes_in += (size_t)nread;
    p->last_recv_ms = node_now_ms(p->node);
    process_frames(p);
}

static void on_deadline(uv_timer_t *t)
{
    struct node_peer *p = t->data;

    if (p->state != PEER_OPEN)
        node_peer_close(p, "handshake not finished within %d s", PEER_HANDSHAKE_MS / 1000);
}

/* Both directions: the connection is up, start the handshake clock and reading. */
static void start_handshake(struct node_peer *p)
{
    struct node *n = p->node;
    uint8_t pro[128], out[128];
    size_t plen, olen;

    /* Only now: a connection refused at once costs no locked pages. */
    if (!(p->crypto = sodium_malloc(sizeof *p->crypto))) {
        node_peer_close(p, "out of memory for the handshake");
        return;
    }
    memset(p->crypto, 0, sizeof *p->crypto);
    p->state = PEER_HANDSHAKE;
    prologue(n, pro, &plen);
    cry_noise_init(&p->crypto->hs, !p->inbound, pro, plen, n->net->x_sk);
    uv_timer_start(&p->timer, on_deadline, PEER_HANDSHAKE_MS, 0);
    p->reading = true;
    uv_tcp_nodelay(&p->tcp, 1);
    if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0) {
        node_peer_close(p, "cannot read");
        return;
    }
    if (!p->inbound) {
        if (cry_noise_write(&p->crypto->hs, NULL, 0, out, sizeof out, &olen) != 0 ||
            write_frame(p, out, olen, false) != 0)
            node_peer_close(p, "handshake failed: cannot write");
    }
}

/* --- inbound -------------------------------------------------------------------------- */

/* Makes room for the new inbound connection p among the handshakes under way (the bounds in
 * peer.h), or says why it is refused (false). */
static bool admit_inbound(struct node_net *net, struct node_peer *p, char *why, size_t whylen)
{
    struct node_peer *oldest = NULL, *oldest_here = NULL, *victim = NULL;
    size_t pending = 0, here = 0;
    uint64_t now = node_now_ms(net->node);
    size_t counted;
    const char *scope;

    if (count_sessions(net, p) >= PEER_MAX) {
        snprintf(why, whylen, "refused: already %d peers", PEER_MAX);
        return false;
    }
    /* The list is newest first: the last match is the oldest. */
    for (struct node_peer *q = net->peers; q; q = q->next) {
        if (q == p || !pending_inbound(q))
            continue;
        pending++;
        oldest = q;
        if (strcmp(q->host, p->host) == 0) {
            here++;
            oldest_here = q;
        }
    }
    if (here >= PEER_PENDING_PER_HOST) {
        victim = oldest_here;
        counted = here;
        scope = "from this address";
    } else if (pending >= PEER_PENDING_MAX) {
        victim = oldest;
        counted = pending;
        scope = "in all";
    } else {
        return true;
    }
    if (now - victim->accepted_ms < PEER_PENDING_GRACE_MS) {
        snprintf(why, whylen, "refused: %zu handshakes under way %s", counted, scope);
        return false;
    }
    node_peer_close(victim, "handshake not finished in %.1f s, and a newer connection needs its place",
                    (double)(now - victim->accepted_ms) / 1000);
    return true;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct node_net *net = server->data;
    struct node_peer *p;
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    char why[128];

    if (status != 0 || net->stopping || !(p = peer_new(net, true)))
        return;
    if (uv_accept(server, (uv_stream_t *)&p->tcp) != 0) {
        node_peer_close(p, "accept failed");
        return;
    }
    p->accepted_ms = node_now_ms(net->node);
    if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, p->host, sizeof p->host);
            snprintf(p->addr, sizeof p->addr, "[%s]:%u", p->host,
                     ntohs(((struct sockaddr_in6 *)&sa)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&sa, p->host, sizeof p->host);
            snprintf(p->addr, sizeof p->addr, "%s:%u", p->host,
                     ntohs(((struct sockaddr_in *)&sa)->sin_port));
        }
    }
    if (!admit_inbound(net, p, why, sizeof why)) {
        node_peer_close(p, "%s", why);
        return;
    }
    start_handshake(p);
}

/* --- outbound ------------------------------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status)
{
    struct node_peer *p = req->data;

    free(req);
    if (p->state == PEER_CLOSED)
        return;
    if (status != 0) {
        node_peer_close(p, "cannot connect: %s", uv_strerror(status));
        return;
    }
    start_handshake(p);
}

static bool connected_to(struct node_net *net, const uint8_t pk[CRY_PK_LEN])
{
    for (struct node_peer *p = net->peers; p; p = p->next)
        if (p->state == PEER_OPEN && memcmp(p->node_pk, pk, CRY_PK_LEN) == 0)
            return true;
    return false;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct peer_dial *d = req->data;
    struct node_net *net = d->net;
    struct node_peer *p;
    uv_connect_t *c;

    d->resolving = false;
    if (net->stopping) {
        uv_freeaddrinfo(res);
        return;
    }
    if (status != 0 || !res) {
        node_debug("cannot resolve %s: %s", d->addr, uv_strerror(status));
        uv_freeaddrinfo(res);
        dial_schedule(d, true);
        return;
    }
    if (count_sessions(net, NULL) >= PEER_MAX || !(p = peer_new(net, false)) ||
        !(c = calloc(1, sizeof *c))) {
        uv_freeaddrinfo(res);
        dial_schedule(d, true);
        return;
    }
    snprintf(p->addr, sizeof p->addr, "%s", d->addr);
    p->dial = d;
    d->peer = p;
    c->data = p;
    if (uv_tcp_connect(c, &p->tcp, res->ai_addr, on_connect) != 0) {
        free(c);
        node_peer_close(p, "cannot connect");
    }
    uv_freeaddrinfo(res);
}

static void dial_now(struct peer_dial *d)
{
    struct node_net *net = d->net;
    char host[80], *colon;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};

    if (net->stopping || d->peer || d->resolving)
        return;
    if (d->has_expect && connected_to(net, d->expect)) {
        dial_schedule(d, false); /* already connected (they dialed us): look again later */
        return;
    }
    snprintf(host, sizeof host, "%s", d->addr);
    colon = strrchr(host, ':');
    *colon = '\0';
    if (host[0] == '[' && colon[-1] == ']') { /* [v6]:port */
        colon[-1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    d->resolving = true;
    d->gai.data = d;
    if (uv_getaddrinfo(net->node->loop, &d->gai, on_resolved, host, colon + 1, &hints) != 0) {
        d->resolving = false;
        dial_schedule(d, true);
    }
}

static void on_retry(uv_timer_t *t)
{
    dial_now(t->data);
}

/* After a failure the wait doubles (with jitter) up to BACKOFF_MAX_MS. */
static void dial_schedule(struct peer_dial *d, bool failed)
{
    unsigned wait;

    if (d->net->stopping)
        return;
    if (failed)
        d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
    else if (!d->backoff_ms)
        d->backoff_ms = BACKOFF_MIN_MS;
    if (d->backoff_ms > BACKOFF_MAX_MS)
        d->backoff_ms = BACKOFF_MAX_MS;
    wait = d->backoff_ms / 2 + randombytes_uniform(d->backoff_ms / 2 + 1);
    uv_timer_start(&d->retry, on_retry, wait, 0);
}

static int add_dial(struct node_net *net, const char *addr, const uint8_t *expect)
{
    struct peer_dial *d;

    for (d = net->dials; d; d = d->next)
        if (strcmp(d->addr, addr) == 0)
            return 0;
    if (!(d = calloc(1, sizeof *d)))
        return TN_ERR_NOMEM;
    d->net = net;
    snprintf(d->addr, sizeof d->addr, "%s", addr);
    if (expect) {
        d->has_expect = true;
        memcpy(d->expect, expect, CRY_PK_LEN);
    }
    uv_timer_init(net->node->loop, &d->retry);
    d->retry.data = d;
    d->next = net->dials;
    net->dials = d;
    uv_timer_start(&d->retry, on_retry, 0, 0);
    return 0;
}

/* --- heartbeat ------------------------------------------------------------------------ */

static void on_heartbeat(uv_timer_t *t)
{
    struct node_net *net = t->data;
    struct node *n = net->node;
    uint64_t now = node_now_ms(n);
    struct node_peer *p, *next;

    for (p = net->peers; p; p = next) {
        next = p->next;
        if (p->state != PEER_OPEN)
            continue;
        if (now - p->last_recv_ms > PEER_IDLE_MS) {
            node_peer_close(p, "silent for %d s", PEER_IDLE_MS / 1000);
            continue;
        }
        if (node_peer_queued(p) > PEER_SEND_HIGH) {
            if (!p->slow_since_ms)
                p->slow_since_ms = now;
            else if (now - p->slow_since_ms > PEER_SLOW_MS) {
                node_peer_close(p, "slow peer: %zu bytes unsent for %d s", node_peer_queued(p),
                                PEER_SLOW_MS / 1000);
                continue;
            }
        } else {
            p->slow_since_ms = 0;
        }
    }
    gossip_heartbeat(n);
}

/* --- start and stop ------------------------------------------------------------------- */

int node_net_start(struct node *n)
{
    struct node_net *net = calloc(1, sizeof *net);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    char host[80], *colon;
    int rc;

    if (!net)
        return TN_ERR_NOMEM;
    n->net = net;
    net->node = n;
    /* both handles first: node_net_stop closes them even when the start failed below */
    uv_tcp_init(n->loop, &net->listener);
    net->listener.data = net;
    uv_timer_init(n->loop, &net->heartbeat);
    net->heartbeat.data = net;
    if (!(net->x_sk = sodium_malloc(32)))
        return TN_ERR_NOMEM;
    if (cry_noise_static_from(net->x_sk, &n->node_key) != 0)
        return TN_ERR_INVALID;
    sodium_mprotect_readonly(net->x_sk);
    snprintf(host, sizeof host, "%s", n->cfg->listen);
    colon = strrchr(host, ':');
    *colon = '\0';
    if (host[0] == '[' && colon[-1] == ']') {
        colon[-1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    /* Resolving the listen address once at start is fine to do synchronously. */
    if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
        node_error("cannot resolve --listen %s: %s", n->cfg->listen, gai_strerror(rc));
        return TN_ERR_INVALID;
    }
    rc = uv_tcp_bind(&net->listener, res->ai_addr, 0);
    freeaddrinfo(res);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&net->listener, 128, on_connection);
    if (rc != 0) {
        node_error("cannot listen on %s: %s", n->cfg->listen, uv_strerror(rc));
        return TN_ERR_IO;
    }
    uv_timer_start(&net->heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
    for (size_t i = 0; i < n->cfg->n_peers; i++)
        if ((rc = add_dial(net, n->cfg->peers[i], NULL)) != 0)
            return rc;
    /* Every other node the ecosystem gives an address for. */
    for (size_t i = 0; i < node_eco(n)->n_orgs; i++)
        for (size_t j = 0; j < node_eco(n)->orgs[i].n_nodes; j++) {
            const struct proto_node_entry *e = &node_eco(n)->orgs[i].nodes[j];
            if (!e->addr || memcmp(e->key, n->node_key.pk, CRY_PK_LEN) == 0)
                continue;
            if ((rc = add_dial(net, e->addr, e->key)) != 0)
                return rc;
        }
    node_info("listening for peers on %s", n->cfg->listen);
    return 0;
}

static void on_dial_closed(uv_handle_t *h)
{
    free(h->data);
}

void node_net_stop(struct node *n)
{
    struct node_net *net = n->net;
    struct peer_dial *d, *next;

    if (!net || net->stopping)
        return;
    net->stopping = true;
    while (net->peers)
        node_peer_close(net->peers, "node shutting down");
    for (d = net->dials; d; d = next) {
        next = d->next;
        if (d->resolving)
            uv_cancel((uv_req_t *)&d->gai);
        uv_close((uv_handle_t *)&d->retry, on_dial_closed);
    }
    net->dials = NULL;
    uv_close((uv_handle_t *)&net->heartbeat, NULL);
    uv_close((uv_handle_t *)&net->listener, NULL);
}

void node_net_free(struct node *n)
{
    if (n->net && n->net->x_sk)
        sodium_free(n->net->x_sk); /* wipes it */
    free(n->net);
    n->net = NULL;
}

size_t node_net_pack_status(struct node *n, msgpack_packer *pk)
{
    struct node_net *net = n->net;
    size_t count = 0;

    if (!net)
        return 0;
    for (struct node_peer *p = net->peers; p; p = p->next) {
        static const char *const states[] = {"connecting", "handshake", "connected", "closed"};
        char key[CRY_PK_TEXT_LEN];
        count++;
        if (!pk)
            continue;
        msgpack_pack_map(pk, 7);
        msgpack_pack_str_with_body(pk, "node", 4);
        if (p->state == PEER_OPEN) {
            fmt_pk(key, p->node_pk);
            msgpack_pack_str_with_body(pk, key, strlen(key));
        } else {
            msgpack_pack_nil(pk);
        }
        msgpack_pack_str_with_body(pk, "org", 3);
        if (p->org && p->state == PEER_OPEN)
            msgpack_pack_str_with_body(pk, p->org->id, strlen(p->org->id));
        else
            msgpack_pack_nil(pk);
        msgpack_pack_str_with_body(pk, "addr", 4);
        msgpack_pack_str_with_body(pk, p->addr, strlen(p->addr));
        msgpack_pack_str_with_body(pk, "state", 5);
        msgpack_pack_str_with_body(pk, states[p->state], strlen(states[p->state]));
        msgpack_pack_str_with_body(pk, "direction", 9);
        msgpack_pack_str_with_body(pk, p->inbound ? "in" : "out", p->inbound ? 2 : 3);
        msgpack_pack_str_with_body(pk, "bytes_in", 8);
        msgpack_pack_uint64(pk, p->bytes_in);
        msgpack_pack_str_with_body(pk, "bytes_out", 9);
        msgpack_pack_uint64(pk, p->bytes_out);
    }
    return count;
}
