/* Replication between peers: see gossip.h and docs/PROTOCOL.md.
 *
 * Per shard, records are fetched from one peer at a time (clock partitioning, as in SSB
 * EBT): the peer claiming the most, once a consistency proof from what we hold to what it
 * claims has checked out. Ranges are requested one at a time per shard per peer, and only
 * while fewer than FETCH_CREDIT records are in flight (received, not yet stored). */
#include "node/gossip.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "node/ingest.h"
#include "node/log.h"
#include "node/peer.h"
#include "proto/wire.h"

#define RANGE_MAX PROTO_WIRE_RANGE_MAX /* records per range request */
#define FETCH_CREDIT 8192   /* records in flight per shard */
#define FETCH_STALL_MS 10000
#define PUSH_GRACE_MS 1000  /* a shard that pushes keep advancing is not fetched meanwhile */
#define PIPELINE_WAIT_MS 3000 /* longest a new fetch waits for records already received */
#define EAGER_PEERS 3       /* new records go in full to this many peers, announced to the rest */
#define FRAME_BUDGET (PROTO_WIRE_FRAME_MAX - 1024) /* room for the message around records */
#define CLOCK_PER_FRAME PROTO_WIRE_CLOCK_MAX

struct gview {
    char org[PROTO_ID_MAX + 1];
    uint64_t size;
    uint8_t root[CRY_HASH_LEN];
    bool has_root;
    bool cons_ok;      /* its history extends ours (consistency proof checked) */
    bool cons_pending;
    uint64_t cons_sent_ms; /* when the pending CONSISTENCY_REQ went out */
};

struct grange {
    char org[PROTO_ID_MAX + 1];
    uint64_t next, end;
};

struct gossip_peer {
    uint64_t id;
    struct node_peer *p;
    struct gview *views;
    size_t n_views;
    bool lazy;   /* it sent PRUNE: announce new records to it, do not push them */
    bool pruned; /* we sent it PRUNE */
    int jobs; /* ingest jobs in flight */
    uint64_t push_rx_ms; /* it last sent us a PUSH */
    /* ranges being served: one per shard (the peer may fetch several shards from us at
     * once), at most one per org of the ecosystem; served a frame each in turn */
    struct grange *ranges;
    size_t n_ranges, next_range;
    /* a fork being located: roots agree at lo, differ at hi */
    bool probing, probe_fetch;
    char pr_org[PROTO_ID_MAX + 1];
    uint64_t pr_lo, pr_hi;
};

struct gshard {
    char org[PROTO_ID_MAX + 1];
    uint64_t size; /* stored */
    bool frozen;
    uint64_t peer_max;
    /* fetching */
    uint64_t fetch_peer; /* gossip peer id, 0 if none */
    bool outstanding;    /* a range request is being answered */
    uint64_t upto;       /* records below this are stored or on their way */
    uint64_t progress_ms; /* the fetch peer last sent records of the range */
    uint64_t stored_ms;   /* records of this shard were last stored */
    uint64_t pushed_ms;   /* ... stored from a PUSH */
    uint64_t held_ms;     /* a fetch has waited since then for records already received */
    /* the newest org-signed checkpoint seen but not yet checkable (ahead of us) */
    char *note;
    size_t note_len;
    uint64_t note_size;
    uint8_t note_root[CRY_HASH_LEN];
    uint64_t cp_checked; /* largest checkpoint size handed to the writer */
    struct gshard *next;
};

struct gossip {
    uint64_t next_id;
    struct gshard *shards;
};

/* --- small helpers ---------------------------------------------------------------------- */

/* Encodes w (proto/wire.h) and sends it as one frame. */
static void send_msg(struct node_peer *p, const struct proto_wire_msg *w)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (proto_wire_encode(&pk, w) != 0)
        node_error("internal: a %s message that breaks its own rules", proto_wire_name(w->type));
    else
        node_peer_send(p, &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void set_org(char dst[PROTO_ID_MAX + 1], const char *org)
{
    snprintf(dst, PROTO_ID_MAX + 1, "%s", org);
}

static struct gossip *G(struct node *n)
{
    if (!n->gossip)
        n->gossip = calloc(1, sizeof *n->gossip);
    return n->gossip;
}

/* The loop's view of a shard, loaded from the repository the first time. */
static struct gshard *shard(struct node *n, const char *org)
{
    struct gossip *g = G(n);
    struct gshard *s;
    struct store_txn *txn;
    struct store_shard st;

    if (!g)
        return NULL;
    for (s = g->shards; s; s = s->next)
        if (strcmp(s->org, org) == 0)
            return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    snprintf(s->org, sizeof s->org, "%s", org);
    if (store_txn_begin(n->repo, false, &txn) == 0) {
        if (store_shard_get(txn, org, &st) == 0) {
            s->size = st.size;
            s->frozen = st.frozen;
        }
        store_txn_abort(txn);
    }
    s->upto = s->size;
    s->next = g->shards;
    g->shards = s;
    return s;
}

static struct gview *view(struct gossip_peer *g, const char *org)
{
    struct gview *v;

    for (size_t i = 0; i < g->n_views; i++)
        if (strcmp(g->views[i].org, org) == 0)
            return &g->views[i];
    /* one view per org of the ecosystem at most: bounded by the ecosystem */
    if (!(v = realloc(g->views, (g->n_views + 1) * sizeof *v)))
        return NULL;
    g->views = v;
    v = &g->views[g->n_views++];
    memset(v, 0, sizeof *v);
    snprintf(v->org, sizeof v->org, "%s", org);
    return v;
}

uint64_t gossip_peer_id(const struct node_peer *p)
{
    return p->g ? p->g->id : 0;
}

struct node_peer *gossip_peer_by_id(struct node *n, uint64_t id)
{
    for (struct node_peer *p = node_net_peers(n); p; p = p->next)
        if (p->state == PEER_OPEN && p->g && p->g->id == id)
            return p;
    return NULL;
}

/* Receiving backpressure: stop reading a peer whose records we cannot verify or store
 * fast enough, instead of buffering them; resume once both have caught up. */
static void flow(struct node_peer *p)
{
    size_t backlog = node_writer_backlog(p->node->writer);

    if (!p->g)
        return;
    if (p->g->jobs >= INGEST_JOBS_PER_PEER || backlog >= WRITER_BACKLOG_MAX)
        node_peer_pause(p, true);
    else if (p->g->jobs <= INGEST_JOBS_PER_PEER / 2 && backlog <= WRITER_BACKLOG_MAX / 2)
        node_peer_pause(p, false);
}

void gossip_peer_jobs(struct node_peer *p, int delta)
{
    if (!p->g)
        return;
    p->g->jobs += delta;
    flow(p);
}

/* After a commit or on the heartbeat: peers paused for the writer's sake may go on. */
static void flow_all(struct node *n)
{
    for (struct node_peer *p = node_net_peers(n); p; p = p->next)
        if (p->state == PEER_OPEN)
            flow(p);
}

static int our_root(struct node *n, const char *org, uint64_t size, uint8_t root[CRY_HASH_LEN])
{
    struct store_txn *txn;
    int rc;

    if ((rc = store_txn_begin(n->repo, false, &txn)) != 0)
        return rc;
    rc = store_root(txn, org, size, root);
    store_txn_abort(txn);
    return rc;
}

/* --- fetching --------------------------------------------------------------------------- */

static void send_range_req(struct node_peer *p, const char *org, uint64_t from, uint64_t limit)
{
    struct proto_wire_msg w;

    proto_wire_init(&w, PROTO_WIRE_RANGE_REQ, 0);
    set_org(w.u.range_req.org, org);
    w.u.range_req.from = from;
    w.u.range_req.limit = limit;
    send_msg(p, &w);
}

/* Records received from peers that are still being verified, or wait for the writer, or
 * are being committed (node_writer_backlog counts them until gossip has their results). */
static bool records_in_pipeline(struct node *n)
{
    for (struct node_peer *p = node_net_peers(n); p; p = p->next)
        if (p->g && p->g->jobs > 0)
            return true;
    return node_writer_backlog(n->writer) > 0;
}

/* Whether a new fetch of s from peer best should wait for records already received. A
 * peer's CLOCK can overtake the pushes it follows (they are still being verified or
 * committed when it arrives), and fetching what it claims then brings the same records a
 * second time. So the fetch waits while records are in the pipeline, if best has pushed
 * to us lately or pushes are how this shard has been arriving, for at most
 * PIPELINE_WAIT_MS (other shards' records may keep the pipeline busy). A shard that only
 * lazy links announce is fetched at once; so is the next range of a fetch under way.
 * held: when the wait under way began (0: none); a hold keeps it in s->held_ms. */
static bool hold_fetch(struct node *n, struct gshard *s, const struct node_peer *best,
                       uint64_t held)
{
    uint64_t now = node_now_ms(n);

    if (s->upto != s->size || (now - best->g->push_rx_ms >= PIPELINE_WAIT_MS &&
                               now - s->pushed_ms >= PIPELINE_WAIT_MS) ||
        !records_in_pipeline(n))
        return false;
    if (held && now - held >= PIPELINE_WAIT_MS)
        return false; /* waited long enough: fetch (held_ms stays 0 for the next wait) */
    s->held_ms = held ? held : now;
    return true;
}

/* Asks the best peer for the next range of a shard we are behind on, within the credit. */
static void pump(struct node *n, struct gshard *s)
{
    struct node_peer *best = NULL;
    uint64_t best_size = 0;
    uint64_t limit;
    uint64_t held = s->held_ms; /* a wait for the pipeline lasts only while hold_fetch says */

    s->held_ms = 0;
    if (s->frozen || s->outstanding || strcmp(s->org, n->self->id) == 0)
        return;
    if (s->upto < s->size)
        s->upto = s->size;
    /* Pushes are bringing this shard in order: a fetch now would bring the same records
     * a second time. If they stop, or leave a gap (the size stops moving), fetch. */
    if (s->upto == s->size && node_now_ms(n) - s->pushed_ms < PUSH_GRACE_MS)
        return;
    for (struct node_peer *p = node_net_peers(n); p; p = p->next) {
        if (p->state != PEER_OPEN || !p->g)
            continue;
        for (size_t i = 0; i < p->g->n_views; i++) {
            const struct gview *v = &p->g->views[i];
            if (strcmp(v->org, s->org) != 0 || v->size <= s->upto)
                continue;
            if (s->size > 0 && !v->cons_ok)
                continue; /* not yet shown to extend what we hold */
            /* stay with the current source while it has more; else take the largest */
            if (p->g->id == s->fetch_peer) {
                best = p;
                best_size = v->size;
                goto chosen;
            }
            if (!best || v->size > best_size) {
                best = p;
                best_size = v->size;
            }
        }
    }
chosen:
    if (!best || s->upto - s->size >= FETCH_CREDIT || hold_fetch(n, s, best, held))
        return;
    limit = best_size - s->upto;
    if (limit > RANGE_MAX)
        limit = RANGE_MAX;
    s->fetch_peer = best->g->id;
    s->outstanding = true;
    s->progress_ms = node_now_ms(n);
    send_range_req(best, s->org, s->upto, limit);
    s->upto += limit;
}

static void send_cons_req(struct node_peer *p, struct gview *v, uint64_t old, uint64_t new_size)
{
    struct proto_wire_msg w;

    v->cons_pending = true;
    v->cons_sent_ms = node_now_ms(p->node);
    proto_wire_init(&w, PROTO_WIRE_CONS_REQ, 0);
    set_org(w.u.cons_req.org, v->org);
    w.u.cons_req.old = old;
    w.u.cons_req.new_size = new_size;
    send_msg(p, &w);
}

static void send_root_req(struct node_peer *p, const char *org, uint64_t size)
{
    struct proto_wire_msg w;

    proto_wire_init(&w, PROTO_WIRE_ROOT_REQ, 0);
    set_org(w.u.root_req.org, org);
    w.u.root_req.size = size;
    send_msg(p, &w);
}

/* Locating a fork: roots agree at size lo, differ at hi. Binary search with ROOT_REQ, then
 * fetch the peer's record at lo: if it differs from ours, the writer stores both as
 * evidence; if it does not, the peer lied about its roots. */
static void probe_step(struct node_peer *p)
{
    struct gossip_peer *g = p->g;

    if (g->pr_hi - g->pr_lo > 1) {
        send_root_req(p, g->pr_org, g->pr_lo + (g->pr_hi - g->pr_lo) / 2);
        return;
    }
    g->probe_fetch = true;
    send_range_req(p, g->pr_org, g->pr_lo, 1);
}

static void probe_start(struct node_peer *p, const char *org, uint64_t differ_at)
{
    struct gossip_peer *g = p->g;

    if (g->probing || differ_at == 0)
        return;
    g->probing = true;
    g->probe_fetch = false;
    snprintf(g->pr_org, sizeof g->pr_org, "%s", org);
    g->pr_lo = 0;
    g->pr_hi = differ_at;
    node_info("peer %s (%s): shard %s differs from ours at or before size %llu; locating the "
              "fork",
              p->addr, p->org->id, org, (unsigned long long)differ_at);
    probe_step(p);
}

/* --- clocks and checkpoints ------------------------------------------------------------- */

/* Our clock: every shard we hold, CLOCK_PER_FRAME to a frame (at least one frame, empty
 * when we hold nothing: the peer may have something for us). */
struct clock_ctx {
    struct node_peer *p;
    struct store_txn *txn;
    struct proto_wire_shard shards[CLOCK_PER_FRAME]; /* notes point into txn */
    size_t in_frame, sent;
};

static void clock_flush(struct clock_ctx *c)
{
    struct proto_wire_msg w;

    proto_wire_init(&w, PROTO_WIRE_CLOCK, 0);
    w.u.clock.shards = c->shards;
    w.u.clock.n_shards = c->in_frame;
    send_msg(c->p, &w);
    c->sent += c->in_frame;
    c->in_frame = 0;
}

static int clock_entry(void *ctx, const char *org, const struct store_shard *s)
{
    struct clock_ctx *c = ctx;
    struct proto_wire_shard *e = &c->shards[c->in_frame];
    uint64_t cp_size;
    int rc;

    memset(e, 0, sizeof *e);
    set_org(e->org, org);
    e->size = s->size;
    if ((rc = store_root(c->txn, org, s->size, e->root)) != 0)
        return rc;
    if (store_checkpoint_get(c->txn, org, &cp_size, &e->note, &e->note_len) != 0) {
        e->note = NULL;
        e->note_len = 0;
    }
    if (++c->in_frame == CLOCK_PER_FRAME)
        clock_flush(c);
    return 0;
}

static void send_clock(struct node_peer *p)
{
    struct clock_ctx c = {.p = p};

    if (store_txn_begin(p->node->repo, false, &c.txn) != 0)
        return;
    /* a shard that cannot be read ends the clock there: the rest comes next heartbeat */
    if (store_shard_each(c.txn, clock_entry, &c) == 0 && (c.in_frame > 0 || c.sent == 0))
        clock_flush(&c);
    store_txn_abort(c.txn);
}

/* A checkpoint note from a peer: it must carry the org's signature (else the peer forged
 * it); if it is newer than what we checked, the writer compares it with our records. */
static int take_checkpoint(struct node_peer *p, const char *org_id, const char *note, size_t len)
{
    struct node *n = p->node;
    const struct proto_org *org = proto_ecosystem_org(node_eco(n), org_id);
    struct cry_checkpoint cp;
    char origin[CRY_ORIGIN_MAX + 1];
    struct gshard *s = shard(n, org_id);

    if (!org || !s)
        return 0;
    snprintf(origin, sizeof origin, "%s/%s", node_eco(n)->network, org_id);
    if (cry_checkpoint_verify(note, len, origin, org->key, &cp) != 0) {
        node_peer_drop(p, "sent a checkpoint for %s without a valid signature by the org",
                        org_id);
        return TN_ERR_BAD_SIGNATURE;
    }
    if (cp.size <= s->cp_checked && !(cp.size == s->note_size &&
                                       memcmp(cp.root, s->note_root, CRY_HASH_LEN) != 0))
        return 0;
    /* keep the newest one; it is checked once we hold that many records */
    if (cp.size >= s->note_size || memcmp(cp.root, s->note_root, CRY_HASH_LEN) != 0) {
        char *copy = malloc(len);
        if (!copy)
            return 0;
        memcpy(copy, note, len);
        free(s->note);
        s->note = copy;
        s->note_len = len;
        s->note_size = cp.size;
        memcpy(s->note_root, cp.root, CRY_HASH_LEN);
    }
    return 0;
}

/* Hands the pending note of s to the writer once we hold enough records to check it. */
static void check_note(struct node *n, struct gshard *s)
{
    struct node_repl *r;

    if (!s->note || s->note_size > s->size || s->note_size == 0)
        return;
    if (!(r = calloc(1, sizeof *r)))
        return;
    r->kind = REPL_CHECKPOINT;
    snprintf(r->org, sizeof r->org, "%s", s->org);
    r->seq = s->note_size;
    r->note = s->note;
    r->note_len = s->note_len;
    memcpy(r->root, s->note_root, CRY_HASH_LEN);
    s->cp_checked = s->note_size;
    s->note = NULL;
    node_writer_replicate(n->writer, r);
}

static void on_clock(struct node_peer *p, const struct proto_wire_clock *c)
{
    struct node *n = p->node;

    for (size_t i = 0; i < c->n_shards && p->state == PEER_OPEN; i++) {
        const struct proto_wire_shard *e = &c->shards[i];
        const char *org = e->org;
        struct gshard *s;
        struct gview *v;
        uint8_t ours[CRY_HASH_LEN];
        uint64_t size = e->size;

        if (!proto_ecosystem_org(node_eco(n), org))
            continue; /* not a member: nothing to replicate, no blame */
        if (!(s = shard(n, org)) || !(v = view(p->g, org)))
            continue;
        if (e->note && take_checkpoint(p, org, e->note, e->note_len) != 0)
            return;
        if (size != v->size)
            v->cons_ok = v->cons_ok && size > v->size; /* a longer history needs no recheck */
        v->size = size;
        memcpy(v->root, e->root, CRY_HASH_LEN);
        v->has_root = true;
        if (size > s->peer_max)
            s->peer_max = size;
        if (s->frozen || strcmp(org, n->self->id) == 0)
            continue;
        if (size > s->size) {
            if (s->size == 0)
                v->cons_ok = true;
            else if (!v->cons_ok && (!v->cons_pending ||
                                     node_now_ms(n) - v->cons_sent_ms > FETCH_STALL_MS))
                /* a request never answered (the peer could not prove it then) must not
                 * keep this peer out of the shard's fetches for good: ask again */
                send_cons_req(p, v, s->size, size);
            pump(n, s);
        } else if (size > 0 && our_root(n, org, size, ours) == 0 &&
                   memcmp(ours, v->root, CRY_HASH_LEN) != 0) {
            probe_start(p, org, size);
        }
        check_note(n, s);
    }
}

static void on_cons_req(struct node_peer *p, int64_t req_id, const struct proto_wire_cons_req *q)
{
    struct node *n = p->node;
    uint8_t path[CRY_MERKLE_MAX_PROOF][CRY_HASH_LEN];
    struct proto_wire_msg w;
    uint64_t new_size = q->new_size;
    struct store_txn *txn;
    struct store_shard st;
    size_t len = 0;
    int rc;

    proto_wire_init(&w, PROTO_WIRE_CONS, req_id);
    if (store_txn_begin(n->repo, false, &txn) != 0)
        return;
    rc = store_shard_get(txn, q->org, &st);
    if (rc == 0 && new_size > st.size)
        new_size = st.size; /* what we hold */
    if (rc == 0 && q->old > 0 && q->old <= new_size)
        rc = store_consistency_proof(txn, q->org, q->old, new_size, path, &len);
    else
        rc = TN_ERR_NOT_FOUND;
    if (rc == 0)
        rc = store_root(txn, q->org, new_size, w.u.cons.root);
    store_txn_abort(txn);
    if (rc != 0)
        return; /* nothing to prove from here; the asker will try again */
    set_org(w.u.cons.org, q->org);
    w.u.cons.old = q->old;
    w.u.cons.new_size = new_size;
    w.u.cons.path = (const uint8_t(*)[CRY_HASH_LEN])path;
    w.u.cons.n_path = len;
    send_msg(p, &w);
}

static void on_cons(struct node_peer *p, const struct proto_wire_cons *c)
{
    struct node *n = p->node;
    uint8_t ours[CRY_HASH_LEN];
    struct gview *v;
    struct gshard *s;

    if (!(v = view(p->g, c->org)) || !(s = shard(n, c->org)))
        return;
    v->cons_pending = false;
    if (our_root(n, c->org, c->old, ours) != 0)
        return;
    if (cry_merkle_verify_consistency(c->old, c->new_size, ours, c->root, c->path, c->n_path) !=
        0) {
        /* Their history does not extend ours: find where they part. */
        probe_start(p, c->org, c->old);
        return;
    }
    v->cons_ok = true;
    pump(n, s);
}

/* --- serving ranges --------------------------------------------------------------------- */

/* Sends one frame of records of range r (as many as fit, from r->next). A record that
 * cannot be read ends the range early: the RECORDS message still says `last`, so the
 * asker moves on at once instead of waiting for its stall timeout. */
static void serve_frame(struct node_peer *p, struct store_txn *txn, struct grange *r,
                        struct proto_wire_bin *recs)
{
    struct proto_wire_msg w;
    size_t bytes = 0, count = 0;
    uint64_t from = r->next, seq;

    /* what fits in one frame; the bytes stay valid until the transaction ends */
    for (seq = from; seq < r->end; seq++) {
        uint8_t id[PROTO_ID_LEN];
        const uint8_t *b;
        size_t len;
        if (store_record_at(txn, r->org, seq, id) != 0 || store_record_get(txn, id, &b, &len) != 0) {
            r->end = seq;
            break;
        }
        if (count > 0 && bytes + len + 5 > FRAME_BUDGET)
            break;
        bytes += len + 5;
        recs[count].p = b;
        recs[count].len = len;
        count++;
    }
    r->next = from + count;
    proto_wire_init(&w, PROTO_WIRE_RECORDS, 0);
    set_org(w.u.records.org, r->org);
    w.u.records.from = from;
    w.u.records.recs = recs;
    w.u.records.n_recs = count;
    w.u.records.last = r->next >= r->end;
    send_msg(p, &w);
}

/* Sends records of the ranges being served, a frame of each in turn, until the send
 * queue is above the high-water mark; on_written resumes it (gossip_peer_writable). */
static void serve(struct node_peer *p)
{
    struct gossip_peer *g = p->g;
    struct node *n = p->node;
    struct proto_wire_bin *recs;
    struct store_txn *txn;

    if (!g || g->n_ranges == 0)
        return;
    /* every record takes at least 5 bytes of the frame: this many always suffice */
    if (!(recs = malloc((FRAME_BUDGET / 5 + 1) * sizeof *recs)))
        return;
    if (store_txn_begin(n->repo, false, &txn) != 0) {
        free(recs);
        return;
    }
    while (p->state == PEER_OPEN && g->n_ranges > 0 && node_peer_queued(p) < PEER_SEND_HIGH) {
        size_t i = g->next_range % g->n_ranges;
        struct grange *r = &g->ranges[i];
        serve_frame(p, txn, r, recs);
        if (p->state != PEER_OPEN || p->g != g)
            break; /* the send closed the peer: g and its ranges are gone */
        if (r->next >= r->end) { /* done: the last one takes its place */
            g->ranges[i] = g->ranges[--g->n_ranges];
            g->next_range = i;
        } else {
            g->next_range = i + 1;
        }
    }
    store_txn_abort(txn);
    free(recs);
}

void gossip_peer_writable(struct node_peer *p)
{
    if (p->g && p->g->n_ranges > 0)
        serve(p);
}

static void on_range_req(struct node_peer *p, const struct proto_wire_range_req *q)
{
    struct gossip_peer *g = p->g;
    struct node *n = p->node;
    struct store_txn *txn;
    struct store_shard st;
    struct grange *r = NULL;
    uint64_t end;
    int rc;

    if (store_txn_begin(n->repo, false, &txn) != 0)
        return;
    rc = store_shard_get(txn, q->org, &st);
    store_txn_abort(txn);
    end = rc == 0 ? (q->from + q->limit < st.size ? q->from + q->limit : st.size) : q->from;
    /* A new request for a shard replaces the one being served for it; a request for
     * another shard is served beside it. Only shards we hold get a place: the list is
     * bounded by the ecosystem's orgs. */
    for (size_t i = 0; i < g->n_ranges && !r; i++)
        if (strcmp(g->ranges[i].org, q->org) == 0)
            r = &g->ranges[i];
    if (q->from >= end) { /* nothing here: say so, so the asker moves on */
        struct proto_wire_msg w;
        if (r) /* and the range it replaces ends */
            *r = g->ranges[--g->n_ranges];
        proto_wire_init(&w, PROTO_WIRE_RECORDS, 0);
        set_org(w.u.records.org, q->org);
        w.u.records.from = q->from;
        w.u.records.last = true;
        send_msg(p, &w);
        return;
    }
    if (!r) {
        struct grange *grown = realloc(g->ranges, (g->n_ranges + 1) * sizeof *grown);
        if (!grown) {
            node_peer_close(p, "out of memory serving its RANGE_REQ");
            return;
        }
        g->ranges = grown;
        r = &g->ranges[g->n_ranges++];
        set_org(r->org, q->org);
    }
    r->next = q->from;
    r->end = end;
    serve(p);
}

static void on_records(struct node_peer *p, const struct proto_wire_records *r)
{
    struct node *n = p->node;
    struct gshard *s;

    if (ingest_records(p, r->recs, r->n_recs, false) != 0)
        return;
    if (!(s = shard(n, r->org)) || s->fetch_peer != p->g->id)
        return;
    s->progress_ms = node_now_ms(n);
    if (r->last) {
        uint64_t end = r->from + r->n_recs;
        s->outstanding = false;
        if (end < s->upto) /* the range ended short: the rest is not on its way */
            s->upto = end > s->size ? end : s->size;
        if (r->n_recs == 0) { /* it has less than it claimed: not from it, until it says */
            struct gview *v = view(p->g, r->org);
            if (v && v->size > r->from)
                v->size = r->from;
        }
        pump(n, s);
    }
}

/* --- forks ------------------------------------------------------------------------------ */

static void send_fork(struct node_peer *p, const char *org, uint64_t at, int kind,
                      const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    struct proto_wire_msg w;

    proto_wire_init(&w, PROTO_WIRE_FORK, 0);
    set_org(w.u.fork.org, org);
    w.u.fork.at = at;
    w.u.fork.kind = (uint64_t)kind;
    w.u.fork.a = (struct proto_wire_bin){a, a_len};
    w.u.fork.b = (struct proto_wire_bin){b, b_len};
    send_msg(p, &w);
}

struct evidence_send {
    struct node_peer *p;
};

static int send_one_evidence(void *ctx, const char *org, uint64_t at,
                             enum store_evidence_kind kind, const uint8_t *a, size_t a_len,
                             const uint8_t *b, size_t b_len)
{
    struct evidence_send *e = ctx;
    send_fork(e->p, org, at, kind, a, a_len, b, b_len);
    return 0;
}

/* Evidence from a peer is checked from scratch before it freezes anything: two records
 * both validly signed by the org at one seq, or two org-signed checkpoints of one size. */
static void on_fork(struct node_peer *p, const struct proto_wire_fork *f)
{
    struct node *n = p->node;
    const char *org = f->org;
    const uint8_t *a = f->a.p, *b = f->b.p;
    size_t a_len = f->a.len, b_len = f->b.len;
    uint64_t at = f->at;
    char err[256];
    struct node_repl *r;
    bool ok = false;

    if (f->kind == STORE_EVIDENCE_RECORDS) {
        struct proto_record ra, rb;
        proto_record_init(&ra);
        proto_record_init(&rb);
        ok = proto_record_decode(a, a_len, &ra, err, sizeof err) == 0 &&
             proto_record_decode(b, b_len, &rb, err, sizeof err) == 0 &&
             strcmp(ra.org, org) == 0 && strcmp(rb.org, org) == 0 && ra.seq == at &&
             rb.seq == at && (a_len != b_len || memcmp(a, b, a_len) != 0) &&
             store_check_record(node_eco(n), &ra, true, err, sizeof err) == 0 &&
             store_check_record(node_eco(n), &rb, true, err, sizeof err) == 0;
        proto_record_release(&ra);
        proto_record_release(&rb);
    } else if (f->kind == STORE_EVIDENCE_CHECKPOINTS) {
        const struct proto_org *o = proto_ecosystem_org(node_eco(n), org);
        struct cry_checkpoint ca, cb;
        char origin[CRY_ORIGIN_MAX + 1];
        snprintf(origin, sizeof origin, "%s/%s", node_eco(n)->network, org);
        ok = o && cry_checkpoint_verify((const char *)a, a_len, origin, o->key, &ca) == 0 &&
             cry_checkpoint_verify((const char *)b, b_len, origin, o->key, &cb) == 0 &&
             ca.size == at && cb.size == at && memcmp(ca.root, cb.root, CRY_HASH_LEN) != 0;
    } else {
        /* checkpoint against records: only checkable with the shard; our own clock
         * exchange finds it if we hold it */
        return;
    }
    if (!ok) {
        node_peer_drop(p, "sent fork evidence that does not verify");
        return;
    }
    if (!(r = calloc(1, sizeof *r)) || !(r->a = malloc(a_len)) || !(r->b = malloc(b_len))) {
        node_repl_free(r);
        return;
    }
    r->kind = REPL_EVIDENCE;
    r->peer_id = p->g->id;
    snprintf(r->org, sizeof r->org, "%s", org);
    r->seq = at;
    r->ev_kind = (int)f->kind;
    memcpy(r->a, a, a_len);
    memcpy(r->b, b, b_len);
    r->a_len = a_len;
    r->b_len = b_len;
    node_writer_replicate(n->writer, r);
}

static void on_root_req(struct node_peer *p, int64_t req_id, const struct proto_wire_root_req *q)
{
    struct proto_wire_msg w;

    proto_wire_init(&w, PROTO_WIRE_ROOT, req_id);
    set_org(w.u.root.org, q->org);
    w.u.root.size = q->size;
    w.u.root.has_root = our_root(p->node, q->org, q->size, w.u.root.root) == 0;
    send_msg(p, &w);
}

static void on_root(struct node_peer *p, const struct proto_wire_root *r)
{
    struct gossip_peer *g = p->g;
    uint8_t ours[CRY_HASH_LEN];

    if (!g->probing || strcmp(r->org, g->pr_org) != 0 || r->size <= g->pr_lo ||
        r->size >= g->pr_hi)
        return; /* not asked for */
    if (!r->has_root || our_root(p->node, r->org, r->size, ours) != 0) {
        g->probing = false; /* it no longer has (or we no longer have) that size */
        return;
    }
    if (memcmp(ours, r->root, CRY_HASH_LEN) == 0)
        g->pr_lo = r->size;
    else
        g->pr_hi = r->size;
    probe_step(p);
}

/* --- messages ----------------------------------------------------------------------------- */

static void send_hello(struct node_peer *p)
{
    static const struct proto_wire_text features[] = {{"push", 4}, {"fork-evidence", 13}};
    struct proto_wire_msg w;

    proto_wire_init(&w, PROTO_WIRE_HELLO, 0);
    set_org(w.u.hello.org, p->node->self->id);
    w.u.hello.features = features;
    w.u.hello.n_features = 2;
    send_msg(p, &w);
}

void gossip_peer_open(struct node_peer *p)
{
    struct gossip *gs = G(p->node);
    struct evidence_send e = {p};
    struct store_txn *txn;

    if (!gs || !(p->g = calloc(1, sizeof *p->g))) {
        node_peer_close(p, "out of memory");
        return;
    }
    p->g->id = ++gs->next_id;
    p->g->p = p;
    send_hello(p);
    send_clock(p);
    /* Everyone learns of every fork we know, including peers that join late. */
    if (store_txn_begin(p->node->repo, false, &txn) == 0) {
        if (store_evidence_each(txn, send_one_evidence, &e) != 0)
            node_warn("cannot read stored evidence");
        store_txn_abort(txn);
    }
}

void gossip_peer_closed(struct node_peer *p)
{
    struct gossip *gs = p->node->gossip;

    if (!p->g)
        return;
    for (struct gshard *s = gs ? gs->shards : NULL; s; s = s->next)
        if (s->fetch_peer == p->g->id) {
            s->fetch_peer = 0;
            s->outstanding = false;
            s->upto = s->size; /* what it had in flight is asked of someone else */
        }
    free(p->g->views);
    free(p->g->ranges);
    free(p->g);
    p->g = NULL;
}

static void on_announce(struct node_peer *p, const struct proto_wire_announce *a)
{
    struct gview *v;
    struct gshard *s;

    if (!proto_ecosystem_org(node_eco(p->node), a->org) || !(v = view(p->g, a->org)) ||
        !(s = shard(p->node, a->org)))
        return;
    if (a->size > v->size) {
        v->size = a->size;
        v->has_root = false;
        if (a->size > s->peer_max)
            s->peer_max = a->size;
        if (v->cons_ok || s->size == 0)
            pump(p->node, s);
    }
}

/* Every body is decoded and checked whole (proto/wire.c) before a handler sees it. */
void gossip_peer_msg(struct node_peer *p, const struct proto_msg *m)
{
    struct proto_wire_msg w;
    char err[256];
    int rc;

    if (!p->g)
        return;
    if ((rc = proto_wire_decode(m, &w, err, sizeof err)) != 0) {
        if (rc == TN_ERR_NOMEM)
            node_peer_close(p, "out of memory reading its %s", proto_wire_name(m->type));
        else if (m->type % 2 == 0) /* (an optional one we cannot read is ignored) */
            node_peer_drop(p, "%s", err);
        return;
    }
    switch (w.type) {
    case PROTO_WIRE_HELLO:
        if (strcmp(w.u.hello.org, p->org->id) != 0)
            node_peer_drop(p, "says it is org '%s', but its node key is org %s's",
                           w.u.hello.org, p->org->id);
        break;
    case PROTO_WIRE_CLOCK: on_clock(p, &w.u.clock); break;
    case PROTO_WIRE_CONS_REQ: on_cons_req(p, w.req_id, &w.u.cons_req); break;
    case PROTO_WIRE_CONS: on_cons(p, &w.u.cons); break;
    case PROTO_WIRE_RANGE_REQ: on_range_req(p, &w.u.range_req); break;
    case PROTO_WIRE_RECORDS: on_records(p, &w.u.records); break;
    case PROTO_WIRE_PUSH:
        p->g->push_rx_ms = node_now_ms(p->node);
        (void)ingest_records(p, w.u.push.recs, w.u.push.n_recs, true);
        break;
    case PROTO_WIRE_PRUNE: p->g->lazy = true; break;
    case PROTO_WIRE_ANNOUNCE: on_announce(p, &w.u.announce); break;
    case PROTO_WIRE_FORK: on_fork(p, &w.u.fork); break;
    case PROTO_WIRE_ROOT_REQ: on_root_req(p, w.req_id, &w.u.root_req); break;
    case PROTO_WIRE_ROOT: on_root(p, &w.u.root); break;
    case PROTO_WIRE_PING: {
        struct proto_wire_msg pong;
        proto_wire_init(&pong, PROTO_WIRE_PONG, w.req_id);
        send_msg(p, &pong);
        break;
    }
    case PROTO_WIRE_PONG: break;
    case PROTO_WIRE_ERROR:
        node_peer_close(p, "it reported an error: %.*s", (int)w.u.error.msg.len,
                        w.u.error.msg.len ? w.u.error.msg.p : "");
        break;
    }
    proto_wire_release(&w);
}

void gossip_heartbeat(struct node *n)
{
    struct gossip *gs = G(n);
    uint64_t now = node_now_ms(n);

    for (struct node_peer *p = node_net_peers(n); p; p = p->next)
        if (p->state == PEER_OPEN && p->g)
            send_clock(p);
    flow_all(n);
    for (struct gshard *s = gs ? gs->shards : NULL; s; s = s->next) {
        /* No progress for a while — a request outstanding that the peer stopped
         * answering, or records counted as on their way that were never stored (their
         * credit would stop pump() for good): start again from what is stored.
         * Duplicates are idempotent. Records of the shard being stored (a slow writer, or
         * pushes from other peers) are progress, and so is time we were not reading the
         * peer: asking again then would only fetch the same records twice. */
        struct node_peer *fp = s->fetch_peer ? gossip_peer_by_id(n, s->fetch_peer) : NULL;
        uint64_t last = s->progress_ms > s->stored_ms ? s->progress_ms : s->stored_ms;
        if (fp && !fp->reading) /* we stopped reading it (backpressure): not its stall */
            last = s->progress_ms = now;
        if ((s->outstanding || s->upto > s->size) && now - last > FETCH_STALL_MS) {
            if (s->outstanding)
                node_info("fetch of shard %s stalled; asking again", s->org);
            else
                node_info("fetch of shard %s: %llu records asked for were not stored; asking "
                          "again", s->org, (unsigned long long)(s->upto - s->size));
            s->outstanding = false;
            s->fetch_peer = 0;
            s->upto = s->size;
        }
        pump(n, s);
        check_note(n, s);
    }
}

/* --- after a commit ----------------------------------------------------------------------- */

/* Sends the new records in full to a few peers (not back to where they came from) and
 * announces the new sizes to the others. */
static void push_records(struct node *n, struct node_repl *list)
{
    struct node_peer *peers[PEER_MAX];
    struct proto_wire_bin *recs = NULL;
    size_t np = 0, cap = 0;

    for (struct node_peer *p = node_net_peers(n); p && np < PEER_MAX; p = p->next)
        if (p->state == PEER_OPEN && p->g)
            peers[np++] = p;
    /* room for one frame's records: every record takes at least 5 bytes of it */
    for (struct node_repl *x = list; x && cap <= FRAME_BUDGET / 5; x = x->next)
        cap += x->kind == REPL_RECORD && x->result == REPL_APPENDED;
    if (np == 0 || cap == 0 || !(recs = malloc(cap * sizeof *recs)))
        cap = 0;
    for (size_t i = 0; i < np; i++) { /* a random order picks the eager peers */
        size_t j = i + randombytes_uniform((uint32_t)(np - i));
        struct node_peer *t = peers[i];
        peers[i] = peers[j];
        peers[j] = t;
    }
    for (size_t i = 0, n_eager = 0; i < np; i++) {
        struct node_peer *p = peers[i];
        bool eager = n_eager < EAGER_PEERS && !p->g->lazy && node_peer_queued(p) < PEER_SEND_HIGH;
        n_eager += eager;
        struct node_repl *r = list;
        if (cap == 0)
            eager = false; /* out of memory: announce instead */
        while (eager && r) {
            struct proto_wire_msg w;
            size_t count = 0, bytes = 0;
            struct node_repl *x;
            for (x = r; x && count < cap; x = x->next) {
                if (x->kind != REPL_RECORD || x->result != REPL_APPENDED ||
                    x->peer_id == p->g->id)
                    continue;
                if (count > 0 && bytes + x->len + 5 > FRAME_BUDGET)
                    break;
                bytes += x->len + 5;
                recs[count].p = x->bytes;
                recs[count].len = x->len;
                count++;
            }
            r = x;
            if (count == 0)
                break;
            proto_wire_init(&w, PROTO_WIRE_PUSH, 0);
            w.u.push.recs = recs;
            w.u.push.n_recs = count;
            send_msg(p, &w);
        }
        if (!eager) { /* lazy: the latest size per shard */
            for (struct node_repl *x = list; x; x = x->next) {
                struct proto_wire_msg w;
                if (x->kind != REPL_RECORD || x->result != REPL_APPENDED ||
                    (x->next && x->next->kind == REPL_RECORD && strcmp(x->next->org, x->org) == 0 &&
                     x->next->result == REPL_APPENDED))
                    continue;
                proto_wire_init(&w, PROTO_WIRE_ANNOUNCE, 0);
                set_org(w.u.announce.org, x->org);
                w.u.announce.size = x->seq + 1;
                send_msg(p, &w);
            }
        }
    }
    free(recs);
}

/* Peers whose pushes in this commit brought nothing new (every record they pushed was
 * already held: it reached us another way first) are asked to announce instead (PRUNE,
 * once a session). What stays pushed forms a tree, as in Plumtree (Leitao et al. 2007);
 * a pruned link still carries announcements, and what they announce is fetched. */
static void prune_redundant(struct node *n, const struct node_repl *list)
{
    struct {
        struct node_peer *p;
        size_t fresh, dup;
    } seen[PEER_MAX];
    size_t ns = 0, last = 0;

    for (struct node_peer *p = node_net_peers(n); p && ns < PEER_MAX; p = p->next)
        if (p->state == PEER_OPEN && p->g && !p->g->pruned) {
            seen[ns].p = p;
            seen[ns].fresh = seen[ns].dup = 0;
            ns++;
        }
    for (const struct node_repl *r = list; r && ns > 0; r = r->next) {
        size_t i = last; /* records come in runs from one peer */
        if (!r->pushed || r->kind != REPL_RECORD)
            continue;
        if (seen[i].p->g->id != r->peer_id)
            for (i = 0; i < ns && seen[i].p->g->id != r->peer_id; i++)
                ;
        if (i == ns)
            continue;
        last = i;
        /* our own records pushed back to us (a cycle) are as redundant as duplicates */
        if (r->result == REPL_DUPLICATE ||
            (r->result == REPL_DROPPED && strcmp(r->org, n->self->id) == 0))
            seen[i].dup++;
        else
            seen[i].fresh++;
    }
    for (size_t i = 0; i < ns; i++)
        if (seen[i].dup > 0 && seen[i].fresh == 0) {
            struct proto_wire_msg w;
            seen[i].p->g->pruned = true; /* before the send, which may close the peer */
            proto_wire_init(&w, PROTO_WIRE_PRUNE, 0);
            send_msg(seen[i].p, &w);
        }
}

void gossip_committed(struct node *n, struct node_repl *list)
{
    struct gossip *gs = G(n);

    for (struct node_repl *r = list; r; r = r->next) {
        struct gshard *s = shard(n, r->org);
        struct node_peer *src = r->peer_id ? gossip_peer_by_id(n, r->peer_id) : NULL;
        if (!s)
            continue;
        switch (r->result) {
        case REPL_APPENDED:
            if (r->seq + 1 > s->size)
                s->size = r->seq + 1;
            s->stored_ms = node_now_ms(n);
            s->held_ms = 0; /* the shard moves: wait afresh before fetching */
            if (r->pushed)
                s->pushed_ms = s->stored_ms;
            break;
        case REPL_GAP:
            /* its predecessor is not ours: fetch theirs to hold both records */
            if (src && src->g && !src->g->probing) {
                src->g->probing = true;
                src->g->probe_fetch = true;
                snprintf(src->g->pr_org, sizeof src->g->pr_org, "%s", r->org);
                src->g->pr_lo = r->seq - 1;
                src->g->pr_hi = r->seq;
                send_range_req(src, r->org, r->seq - 1, 1);
            }
            s->upto = s->size;
            break;
        case REPL_FORK:
            s->frozen = true;
            for (struct node_peer *p = node_net_peers(n); p; p = p->next)
                if (p->state == PEER_OPEN && p->g && p->g->id != r->peer_id)
                    send_fork(p, r->org, r->seq, r->ev_kind, r->a, r->a_len, r->b, r->b_len);
            if (src && src->g && src->g->probing && strcmp(src->g->pr_org, r->org) == 0)
                src->g->probing = false;
            break;
        case REPL_DUPLICATE:
            if (src && src->g && src->g->probing && src->g->probe_fetch &&
                r->kind == REPL_RECORD && strcmp(src->g->pr_org, r->org) == 0 &&
                r->seq == src->g->pr_lo) {
                /* it claimed different roots, then handed over the record we have */
                node_peer_drop(src, "its roots for shard %s disagree with the records it "
                                     "serves",
                                r->org);
            }
            break;
        case REPL_DROPPED:
            if (r->kind == REPL_RECORD)
                s->upto = s->size; /* ask again from where we are */
            break;
        case REPL_PENDING:
        case REPL_WAITING:
        case REPL_STORED_CP:
            break;
        }
    }
    bool own = false;
    for (struct node_repl *r = list; r; r = r->next) {
        if (r->done)
            r->done(r, r->ctx);
        own |= r->peer_id == 0 && r->result == REPL_APPENDED && strcmp(r->org, n->self->id) == 0;
    }
    prune_redundant(n, list);
    push_records(n, list);
    /* our own new checkpoint follows the records at once, not at the next heartbeat */
    if (own)
        for (struct node_peer *p = node_net_peers(n); p; p = p->next)
            if (p->state == PEER_OPEN && p->g && node_peer_queued(p) < PEER_SEND_HIGH)
                send_clock(p);
    flow_all(n);
    for (struct gshard *s = gs ? gs->shards : NULL; s; s = s->next) {
        pump(n, s);
        check_note(n, s);
    }
    node_repl_free(list);
}

size_t gossip_peer_max(struct node *n, const char *org)
{
    struct gossip *gs = n->gossip;

    for (struct gshard *s = gs ? gs->shards : NULL; s; s = s->next)
        if (strcmp(s->org, org) == 0)
            return s->peer_max;
    return 0;
}

/* Why a shard is (not) being fetched, for `tracectl status`: the peer asked, whether a
 * request is being answered, records counted as on their way, time since the last
 * progress, and how many open peers claim more than we hold — with their history shown
 * to extend ours (sources) or not yet (unproven). */
void gossip_pack_fetch(struct node *n, const char *org, msgpack_packer *pk)
{
    struct gossip *gs = n->gossip;
    struct gshard *s = NULL;
    struct node_peer *from = NULL;
    uint64_t sources = 0, unproven = 0, now = node_now_ms(n);

    for (s = gs ? gs->shards : NULL; s; s = s->next)
        if (strcmp(s->org, org) == 0)
            break;
    for (struct node_peer *p = node_net_peers(n); p && s; p = p->next) {
        const struct gview *v;
        if (p->state != PEER_OPEN || !p->g)
            continue;
        if (p->g->id == s->fetch_peer)
            from = p;
        for (size_t i = 0; i < p->g->n_views; i++) {
            v = &p->g->views[i];
            if (strcmp(v->org, org) == 0 && v->size > s->size) {
                if (v->cons_ok || s->size == 0)
                    sources++;
                else
                    unproven++;
            }
        }
    }
    msgpack_pack_map(pk, 6);
    msgpack_pack_str_with_body(pk, "from", 4);
    if (from)
        msgpack_pack_str_with_body(pk, from->addr, strlen(from->addr));
    else
        msgpack_pack_nil(pk);
    msgpack_pack_str_with_body(pk, "outstanding", 11);
    if (s && s->outstanding)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    msgpack_pack_str_with_body(pk, "in_flight", 9);
    msgpack_pack_uint64(pk, s && s->upto > s->size ? s->upto - s->size : 0);
    msgpack_pack_str_with_body(pk, "idle_ms", 7);
    msgpack_pack_uint64(pk, s && s->progress_ms && now > s->progress_ms ? now - s->progress_ms
                                                                        : 0);
    msgpack_pack_str_with_body(pk, "sources", 7);
    msgpack_pack_uint64(pk, sources);
    msgpack_pack_str_with_body(pk, "unproven", 8);
    msgpack_pack_uint64(pk, unproven);
}

void gossip_free(struct node *n)
{
    struct gossip *gs = n->gossip;
    struct gshard *s, *next;

    if (!gs)
        return;
    for (s = gs->shards; s; s = next) {
        next = s->next;
        free(s->note);
        free(s);
    }
    free(gs);
    n->gossip = NULL;
}
