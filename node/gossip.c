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

#define RANGE_MAX 4096      /* records per range request */
#define FETCH_CREDIT 8192   /* records in flight per shard */
#define FETCH_STALL_MS 10000
#define EAGER_PEERS 3       /* new records go in full to this many peers, announced to the rest */
#define FRAME_BUDGET (PROTO_WIRE_FRAME_MAX - 1024) /* room for the message around records */
#define CLOCK_PER_FRAME 100

struct gview {
    char org[PROTO_ID_MAX + 1];
    uint64_t size;
    uint8_t root[CRY_HASH_LEN];
    bool has_root;
    bool cons_ok;      /* its history extends ours (consistency proof checked) */
    bool cons_pending;
};

struct gossip_peer {
    uint64_t id;
    struct node_peer *p;
    struct gview *views;
    size_t n_views;
    int jobs; /* ingest jobs in flight */
    /* a range being served */
    bool serving;
    char s_org[PROTO_ID_MAX + 1];
    uint64_t s_next, s_end;
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
    uint64_t progress_ms;
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

struct out {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void out_begin(struct out *o, uint64_t type, int64_t req)
{
    msgpack_sbuffer_init(&o->sb);
    msgpack_packer_init(&o->pk, &o->sb, msgpack_sbuffer_write);
    proto_msg_begin(&o->pk, type, req);
}

static void out_send(struct node_peer *p, struct out *o)
{
    node_peer_send(p, &o->sb);
    msgpack_sbuffer_destroy(&o->sb);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pk_bin(msgpack_packer *pk, const uint8_t *b, size_t n)
{
    msgpack_pack_bin_with_body(pk, b, n);
}

/* Body accessors: false when absent or of the wrong type. */
static bool get_u64(const msgpack_object *body, const char *key, uint64_t *out)
{
    const msgpack_object *o = proto_msg_map_get(body, key);
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = o->via.u64;
    return true;
}

static bool get_id(const msgpack_object *body, const char *key, char out[PROTO_ID_MAX + 1])
{
    const msgpack_object *o = proto_msg_map_get(body, key);
    if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
        o->via.str.size > PROTO_ID_MAX)
        return false;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return proto_id_ok(out);
}

static bool get_bin(const msgpack_object *body, const char *key, const uint8_t **p, size_t *n)
{
    const msgpack_object *o = proto_msg_map_get(body, key);
    if (!o || o->type != MSGPACK_OBJECT_BIN)
        return false;
    *p = (const uint8_t *)o->via.bin.ptr;
    *n = o->via.bin.size;
    return true;
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

/* Asks the best peer for the next range of a shard we are behind on, within the credit. */
static void pump(struct node *n, struct gshard *s)
{
    struct node_peer *best = NULL;
    uint64_t best_size = 0;
    struct out o;
    uint64_t limit;

    if (s->frozen || s->outstanding || strcmp(s->org, n->self->id) == 0)
        return;
    if (s->upto < s->size)
        s->upto = s->size;
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
    if (!best || s->upto - s->size >= FETCH_CREDIT)
        return;
    limit = best_size - s->upto;
    if (limit > RANGE_MAX)
        limit = RANGE_MAX;
    s->fetch_peer = best->g->id;
    s->outstanding = true;
    s->progress_ms = node_now_ms(n);
    out_begin(&o, PROTO_WIRE_RANGE_REQ, 0);
    msgpack_pack_map(&o.pk, 3);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, s->org);
    pk_str(&o.pk, "from");
    msgpack_pack_uint64(&o.pk, s->upto);
    pk_str(&o.pk, "limit");
    msgpack_pack_uint64(&o.pk, limit);
    s->upto += limit;
    out_send(best, &o);
}

static void send_cons_req(struct node_peer *p, struct gview *v, uint64_t old, uint64_t new_size)
{
    struct out o;

    v->cons_pending = true;
    out_begin(&o, PROTO_WIRE_CONS_REQ, 0);
    msgpack_pack_map(&o.pk, 3);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, v->org);
    pk_str(&o.pk, "old");
    msgpack_pack_uint64(&o.pk, old);
    pk_str(&o.pk, "new");
    msgpack_pack_uint64(&o.pk, new_size);
    out_send(p, &o);
}

static void send_root_req(struct node_peer *p, const char *org, uint64_t size)
{
    struct out o;

    out_begin(&o, PROTO_WIRE_ROOT_REQ, 0);
    msgpack_pack_map(&o.pk, 2);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, org);
    pk_str(&o.pk, "size");
    msgpack_pack_uint64(&o.pk, size);
    out_send(p, &o);
}

static void send_range_req(struct node_peer *p, const char *org, uint64_t from, uint64_t limit)
{
    struct out o;

    out_begin(&o, PROTO_WIRE_RANGE_REQ, 0);
    msgpack_pack_map(&o.pk, 3);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, org);
    pk_str(&o.pk, "from");
    msgpack_pack_uint64(&o.pk, from);
    pk_str(&o.pk, "limit");
    msgpack_pack_uint64(&o.pk, limit);
    out_send(p, &o);
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

struct clock_ctx {
    struct node *n;
    struct node_peer *p;
    struct store_txn *txn;
    struct out o;
    size_t in_frame;
    size_t total, sent;
};

static int count_shard(void *ctx, const char *org, const struct store_shard *s)
{
    (void)org;
    (void)s;
    ((struct clock_ctx *)ctx)->total++;
    return 0;
}

static void clock_frame_begin(struct clock_ctx *c)
{
    size_t left = c->total - c->sent;
    out_begin(&c->o, PROTO_WIRE_CLOCK, 0);
    msgpack_pack_map(&c->o.pk, 1);
    pk_str(&c->o.pk, "shards");
    msgpack_pack_array(&c->o.pk, left < CLOCK_PER_FRAME ? left : CLOCK_PER_FRAME);
    c->in_frame = 0;
}

static int clock_entry(void *ctx, const char *org, const struct store_shard *s)
{
    struct clock_ctx *c = ctx;
    uint8_t root[CRY_HASH_LEN];
    const char *note;
    size_t note_len;
    uint64_t cp_size;
    int rc;

    if (c->in_frame == 0)
        clock_frame_begin(c);
    if ((rc = store_root(c->txn, org, s->size, root)) != 0)
        return rc;
    msgpack_pack_array(&c->o.pk, 4);
    pk_str(&c->o.pk, org);
    msgpack_pack_uint64(&c->o.pk, s->size);
    pk_bin(&c->o.pk, root, CRY_HASH_LEN);
    if (store_checkpoint_get(c->txn, org, &cp_size, &note, &note_len) == 0)
        msgpack_pack_str_with_body(&c->o.pk, note, note_len);
    else
        msgpack_pack_nil(&c->o.pk);
    c->sent++;
    if (++c->in_frame == CLOCK_PER_FRAME || c->sent == c->total) {
        out_send(c->p, &c->o);
        c->in_frame = 0;
    }
    return 0;
}

static void send_clock(struct node_peer *p)
{
    struct clock_ctx c = {.n = p->node, .p = p};

    if (store_txn_begin(p->node->repo, false, &c.txn) != 0)
        return;
    if (store_shard_each(c.txn, count_shard, &c) == 0 && c.total == 0) {
        clock_frame_begin(&c); /* nothing held: say so, the peer may have something */
        out_send(p, &c.o);
    } else if (c.total > 0 && store_shard_each(c.txn, clock_entry, &c) != 0 && c.in_frame) {
        msgpack_sbuffer_destroy(&c.o.sb);
    }
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

static void on_clock(struct node_peer *p, const msgpack_object *body)
{
    struct node *n = p->node;
    const msgpack_object *shards = proto_msg_map_get(body, "shards");

    if (!shards || shards->type != MSGPACK_OBJECT_ARRAY) {
        node_peer_drop(p, "malformed CLOCK");
        return;
    }
    for (uint32_t i = 0; i < shards->via.array.size && p->state == PEER_OPEN; i++) {
        const msgpack_object *e = &shards->via.array.ptr[i], *a;
        char org[PROTO_ID_MAX + 1];
        struct gshard *s;
        struct gview *v;
        uint8_t ours[CRY_HASH_LEN];
        uint64_t size;

        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4 ||
            (a = e->via.array.ptr)[0].type != MSGPACK_OBJECT_STR ||
            a[0].via.str.size == 0 || a[0].via.str.size > PROTO_ID_MAX ||
            a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[2].type != MSGPACK_OBJECT_BIN ||
            a[2].via.bin.size != CRY_HASH_LEN ||
            (a[3].type != MSGPACK_OBJECT_NIL && a[3].type != MSGPACK_OBJECT_STR)) {
            node_peer_drop(p, "malformed CLOCK entry");
            return;
        }
        memcpy(org, a[0].via.str.ptr, a[0].via.str.size);
        org[a[0].via.str.size] = '\0';
        if (!proto_id_ok(org) || !proto_ecosystem_org(node_eco(n), org))
            continue; /* not a member: nothing to replicate, no blame */
        size = a[1].via.u64;
        if (!(s = shard(n, org)) || !(v = view(p->g, org)))
            continue;
        if (a[3].type == MSGPACK_OBJECT_STR &&
            take_checkpoint(p, org, a[3].via.str.ptr, a[3].via.str.size) != 0)
            return;
        if (size != v->size)
            v->cons_ok = v->cons_ok && size > v->size; /* a longer history needs no recheck */
        v->size = size;
        memcpy(v->root, a[2].via.bin.ptr, CRY_HASH_LEN);
        v->has_root = true;
        if (size > s->peer_max)
            s->peer_max = size;
        if (s->frozen || strcmp(org, n->self->id) == 0)
            continue;
        if (size > s->size) {
            if (s->size == 0)
                v->cons_ok = true;
            else if (!v->cons_ok && !v->cons_pending)
                send_cons_req(p, v, s->size, size);
            pump(n, s);
        } else if (size > 0 && our_root(n, org, size, ours) == 0 &&
                   memcmp(ours, v->root, CRY_HASH_LEN) != 0) {
            probe_start(p, org, size);
        }
        check_note(n, s);
    }
}

static void on_cons_req(struct node_peer *p, const struct proto_msg *m)
{
    struct node *n = p->node;
    uint8_t path[CRY_MERKLE_MAX_PROOF][CRY_HASH_LEN], root[CRY_HASH_LEN];
    char org[PROTO_ID_MAX + 1];
    uint64_t old, new_size;
    struct store_txn *txn;
    struct store_shard st;
    size_t len = 0;
    struct out o;
    int rc;

    if (!get_id(m->body, "org", org) || !get_u64(m->body, "old", &old) ||
        !get_u64(m->body, "new", &new_size)) {
        node_peer_drop(p, "malformed CONS_REQ");
        return;
    }
    if (store_txn_begin(n->repo, false, &txn) != 0)
        return;
    rc = store_shard_get(txn, org, &st);
    if (rc == 0 && new_size > st.size)
        new_size = st.size; /* what we hold */
    if (rc == 0 && old > 0 && old <= new_size)
        rc = store_consistency_proof(txn, org, old, new_size, path, &len);
    else
        rc = TN_ERR_NOT_FOUND;
    if (rc == 0)
        rc = store_root(txn, org, new_size, root);
    store_txn_abort(txn);
    if (rc != 0)
        return; /* nothing to prove from here; the asker will try again */
    out_begin(&o, PROTO_WIRE_CONS, m->req_id);
    msgpack_pack_map(&o.pk, 5);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, org);
    pk_str(&o.pk, "old");
    msgpack_pack_uint64(&o.pk, old);
    pk_str(&o.pk, "new");
    msgpack_pack_uint64(&o.pk, new_size);
    pk_str(&o.pk, "root");
    pk_bin(&o.pk, root, CRY_HASH_LEN);
    pk_str(&o.pk, "path");
    msgpack_pack_array(&o.pk, len);
    for (size_t i = 0; i < len; i++)
        pk_bin(&o.pk, path[i], CRY_HASH_LEN);
    out_send(p, &o);
}

static void on_cons(struct node_peer *p, const struct proto_msg *m)
{
    struct node *n = p->node;
    uint8_t path[CRY_MERKLE_MAX_PROOF][CRY_HASH_LEN], ours[CRY_HASH_LEN];
    const msgpack_object *po = proto_msg_map_get(m->body, "path");
    const uint8_t *root;
    size_t root_len;
    char org[PROTO_ID_MAX + 1];
    uint64_t old, new_size;
    struct gview *v;
    struct gshard *s;

    if (!get_id(m->body, "org", org) || !get_u64(m->body, "old", &old) ||
        !get_u64(m->body, "new", &new_size) || !get_bin(m->body, "root", &root, &root_len) ||
        root_len != CRY_HASH_LEN || !po || po->type != MSGPACK_OBJECT_ARRAY ||
        po->via.array.size > CRY_MERKLE_MAX_PROOF) {
        node_peer_drop(p, "malformed CONS");
        return;
    }
    for (uint32_t i = 0; i < po->via.array.size; i++) {
        const msgpack_object *h = &po->via.array.ptr[i];
        if (h->type != MSGPACK_OBJECT_BIN || h->via.bin.size != CRY_HASH_LEN) {
            node_peer_drop(p, "malformed CONS path");
            return;
        }
        memcpy(path[i], h->via.bin.ptr, CRY_HASH_LEN);
    }
    if (!(v = view(p->g, org)) || !(s = shard(n, org)))
        return;
    v->cons_pending = false;
    if (our_root(n, org, old, ours) != 0)
        return;
    if (cry_merkle_verify_consistency(old, new_size, ours, root, (const uint8_t(*)[32])path,
                                      po->via.array.size) != 0) {
        /* Their history does not extend ours: find where they part. */
        probe_start(p, org, old);
        return;
    }
    v->cons_ok = true;
    pump(n, s);
}

/* --- serving ranges --------------------------------------------------------------------- */

/* Sends records of the range being served until the send queue is above the high-water
 * mark; on_written resumes it (gossip_peer_writable). */
static void serve(struct node_peer *p)
{
    struct gossip_peer *g = p->g;
    struct node *n = p->node;
    struct store_txn *txn;

    if (!g || !g->serving || store_txn_begin(n->repo, false, &txn) != 0)
        return;
    while (g->serving && p->state == PEER_OPEN && node_peer_queued(p) < PEER_SEND_HIGH) {
        struct out o;
        size_t bytes = 0, count = 0;
        uint64_t from = g->s_next, seq;
        /* count what fits in one frame */
        for (seq = from; seq < g->s_end; seq++) {
            uint8_t id[PROTO_ID_LEN];
            const uint8_t *b;
            size_t len;
            if (store_record_at(txn, g->s_org, seq, id) != 0 ||
                store_record_get(txn, id, &b, &len) != 0)
                break;
            if (count > 0 && bytes + len + 5 > FRAME_BUDGET)
                break;
            bytes += len + 5;
            count++;
        }
        if (count == 0) {
            g->serving = false;
            break;
        }
        g->s_next = from + count;
        out_begin(&o, PROTO_WIRE_RECORDS, 0);
        msgpack_pack_map(&o.pk, 4);
        pk_str(&o.pk, "org");
        pk_str(&o.pk, g->s_org);
        pk_str(&o.pk, "from");
        msgpack_pack_uint64(&o.pk, from);
        pk_str(&o.pk, "recs");
        msgpack_pack_array(&o.pk, count);
        for (seq = from; seq < from + count; seq++) {
            uint8_t id[PROTO_ID_LEN];
            const uint8_t *b;
            size_t len;
            if (store_record_at(txn, g->s_org, seq, id) == 0 &&
                store_record_get(txn, id, &b, &len) == 0)
                pk_bin(&o.pk, b, len);
        }
        pk_str(&o.pk, "last");
        if (g->s_next >= g->s_end) {
            msgpack_pack_true(&o.pk);
            g->serving = false;
        } else {
            msgpack_pack_false(&o.pk);
        }
        out_send(p, &o);
    }
    store_txn_abort(txn);
}

void gossip_peer_writable(struct node_peer *p)
{
    if (p->g && p->g->serving)
        serve(p);
}

static void on_range_req(struct node_peer *p, const struct proto_msg *m)
{
    struct gossip_peer *g = p->g;
    struct node *n = p->node;
    uint64_t from, limit;
    struct store_txn *txn;
    struct store_shard st;
    char org[PROTO_ID_MAX + 1];
    int rc;

    if (!get_id(m->body, "org", org) || !get_u64(m->body, "from", &from) ||
        !get_u64(m->body, "limit", &limit) || limit == 0 || limit > RANGE_MAX) {
        node_peer_drop(p, "malformed RANGE_REQ");
        return;
    }
    if (store_txn_begin(n->repo, false, &txn) != 0)
        return;
    rc = store_shard_get(txn, org, &st);
    store_txn_abort(txn);
    /* One range per peer at a time: a new request replaces the one being served. */
    snprintf(g->s_org, sizeof g->s_org, "%s", org);
    g->s_next = from;
    g->s_end = rc == 0 ? (from + limit < st.size ? from + limit : st.size) : from;
    g->serving = true;
    if (g->s_next >= g->s_end) { /* nothing here: say so, so the asker moves on */
        struct out o;
        g->serving = false;
        out_begin(&o, PROTO_WIRE_RECORDS, 0);
        msgpack_pack_map(&o.pk, 4);
        pk_str(&o.pk, "org");
        pk_str(&o.pk, org);
        pk_str(&o.pk, "from");
        msgpack_pack_uint64(&o.pk, from);
        pk_str(&o.pk, "recs");
        msgpack_pack_array(&o.pk, 0);
        pk_str(&o.pk, "last");
        msgpack_pack_true(&o.pk);
        out_send(p, &o);
        return;
    }
    serve(p);
}

static void on_records(struct node_peer *p, const struct proto_msg *m)
{
    struct node *n = p->node;
    const msgpack_object *recs = proto_msg_map_get(m->body, "recs"),
                         *last = proto_msg_map_get(m->body, "last");
    char org[PROTO_ID_MAX + 1];
    struct gshard *s;

    if (!get_id(m->body, "org", org) || !recs || !last ||
        last->type != MSGPACK_OBJECT_BOOLEAN) {
        node_peer_drop(p, "malformed RECORDS");
        return;
    }
    if (ingest_records(p, recs) != 0)
        return;
    if (!(s = shard(n, org)) || s->fetch_peer != p->g->id)
        return;
    s->progress_ms = node_now_ms(n);
    if (last->via.boolean) {
        s->outstanding = false;
        if (recs->via.array.size == 0) /* it had less than it claimed */
            s->upto = s->size;
        pump(n, s);
    }
}

/* --- forks ------------------------------------------------------------------------------ */

static void send_fork(struct node_peer *p, const char *org, uint64_t at, int kind,
                      const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    struct out o;

    out_begin(&o, PROTO_WIRE_FORK, 0);
    msgpack_pack_map(&o.pk, 5);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, org);
    pk_str(&o.pk, "at");
    msgpack_pack_uint64(&o.pk, at);
    pk_str(&o.pk, "kind");
    msgpack_pack_int(&o.pk, kind);
    pk_str(&o.pk, "a");
    pk_bin(&o.pk, a, a_len);
    pk_str(&o.pk, "b");
    pk_bin(&o.pk, b, b_len);
    out_send(p, &o);
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
static void on_fork(struct node_peer *p, const struct proto_msg *m)
{
    struct node *n = p->node;
    char org[PROTO_ID_MAX + 1], err[256];
    const uint8_t *a, *b;
    size_t a_len, b_len;
    uint64_t at, kind;
    struct node_repl *r;
    bool ok = false;

    if (!get_id(m->body, "org", org) || !get_u64(m->body, "at", &at) ||
        !get_u64(m->body, "kind", &kind) || !get_bin(m->body, "a", &a, &a_len) ||
        !get_bin(m->body, "b", &b, &b_len) || a_len > PROTO_RECORD_MAX ||
        b_len > PROTO_RECORD_MAX) {
        node_peer_drop(p, "malformed FORK");
        return;
    }
    if (kind == STORE_EVIDENCE_RECORDS) {
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
    } else if (kind == STORE_EVIDENCE_CHECKPOINTS) {
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
    r->ev_kind = (int)kind;
    memcpy(r->a, a, a_len);
    memcpy(r->b, b, b_len);
    r->a_len = a_len;
    r->b_len = b_len;
    node_writer_replicate(n->writer, r);
}

static void on_root_req(struct node_peer *p, const struct proto_msg *m)
{
    char org[PROTO_ID_MAX + 1];
    uint8_t root[CRY_HASH_LEN];
    uint64_t size;
    struct out o;
    bool have;

    if (!get_id(m->body, "org", org) || !get_u64(m->body, "size", &size)) {
        node_peer_drop(p, "malformed ROOT_REQ");
        return;
    }
    have = our_root(p->node, org, size, root) == 0;
    out_begin(&o, PROTO_WIRE_ROOT, m->req_id);
    msgpack_pack_map(&o.pk, 3);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, org);
    pk_str(&o.pk, "size");
    msgpack_pack_uint64(&o.pk, size);
    pk_str(&o.pk, "root");
    if (have)
        pk_bin(&o.pk, root, CRY_HASH_LEN);
    else
        msgpack_pack_nil(&o.pk);
    out_send(p, &o);
}

static void on_root(struct node_peer *p, const struct proto_msg *m)
{
    struct gossip_peer *g = p->g;
    char org[PROTO_ID_MAX + 1];
    uint8_t ours[CRY_HASH_LEN];
    const uint8_t *root;
    size_t root_len;
    uint64_t size;

    if (!get_id(m->body, "org", org) || !get_u64(m->body, "size", &size)) {
        node_peer_drop(p, "malformed ROOT");
        return;
    }
    if (!g->probing || strcmp(org, g->pr_org) != 0 || size <= g->pr_lo || size >= g->pr_hi)
        return; /* not asked for */
    if (!get_bin(m->body, "root", &root, &root_len) || root_len != CRY_HASH_LEN ||
        our_root(p->node, org, size, ours) != 0) {
        g->probing = false; /* it no longer has (or we no longer have) that size */
        return;
    }
    if (memcmp(ours, root, CRY_HASH_LEN) == 0)
        g->pr_lo = size;
    else
        g->pr_hi = size;
    probe_step(p);
}

/* --- messages ----------------------------------------------------------------------------- */

static void send_hello(struct node_peer *p)
{
    struct out o;

    out_begin(&o, PROTO_WIRE_HELLO, 0);
    msgpack_pack_map(&o.pk, 3);
    pk_str(&o.pk, "v");
    msgpack_pack_uint64(&o.pk, PROTO_WIRE_VERSION);
    pk_str(&o.pk, "org");
    pk_str(&o.pk, p->node->self->id);
    pk_str(&o.pk, "features");
    msgpack_pack_array(&o.pk, 2);
    pk_str(&o.pk, "push");
    pk_str(&o.pk, "fork-evidence");
    out_send(p, &o);
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
    free(p->g);
    p->g = NULL;
}

void gossip_peer_msg(struct node_peer *p, const struct proto_msg *m)
{
    struct out o;

    if (!p->g)
        return;
    if (m->body->type != MSGPACK_OBJECT_MAP && m->type != PROTO_WIRE_PING &&
        m->type != PROTO_WIRE_PONG) {
        node_peer_drop(p, "message %llu without a map body", (unsigned long long)m->type);
        return;
    }
    switch ((enum proto_wire_type)m->type) {
    case PROTO_WIRE_HELLO: {
        uint64_t v;
        char org[PROTO_ID_MAX + 1];
        if (!get_u64(m->body, "v", &v) || v != PROTO_WIRE_VERSION)
            node_peer_drop(p, "speaks another protocol version");
        else if (!get_id(m->body, "org", org) || strcmp(org, p->org->id) != 0)
            node_peer_drop(p, "says it is org '%s', but its node key is org %s's", org,
                            p->org->id);
        break;
    }
    case PROTO_WIRE_CLOCK: on_clock(p, m->body); break;
    case PROTO_WIRE_CONS_REQ: on_cons_req(p, m); break;
    case PROTO_WIRE_CONS: on_cons(p, m); break;
    case PROTO_WIRE_RANGE_REQ: on_range_req(p, m); break;
    case PROTO_WIRE_RECORDS: on_records(p, m); break;
    case PROTO_WIRE_PUSH: {
        const msgpack_object *recs = proto_msg_map_get(m->body, "recs");
        if (!recs)
            node_peer_drop(p, "malformed PUSH");
        else
            ingest_records(p, recs);
        break;
    }
    case PROTO_WIRE_ANNOUNCE: {
        char org[PROTO_ID_MAX + 1];
        uint64_t size;
        struct gview *v;
        struct gshard *s;
        if (!get_id(m->body, "org", org) || !get_u64(m->body, "size", &size))
            break; /* optional message: ignore what we do not understand */
        if (!proto_ecosystem_org(node_eco(p->node), org) || !(v = view(p->g, org)) ||
            !(s = shard(p->node, org)))
            break;
        if (size > v->size) {
            v->size = size;
            v->has_root = false;
            if (size > s->peer_max)
                s->peer_max = size;
            if (v->cons_ok || s->size == 0)
                pump(p->node, s);
        }
        break;
    }
    case PROTO_WIRE_FORK: on_fork(p, m); break;
    case PROTO_WIRE_ROOT_REQ: on_root_req(p, m); break;
    case PROTO_WIRE_ROOT: on_root(p, m); break;
    case PROTO_WIRE_PING:
        out_begin(&o, PROTO_WIRE_PONG, m->req_id);
        msgpack_pack_map(&o.pk, 0);
        out_send(p, &o);
        break;
    case PROTO_WIRE_PONG: break;
    case PROTO_WIRE_ERROR: {
        const msgpack_object *msg = proto_msg_map_get(m->body, "msg");
        node_peer_close(p, "it reported an error: %.*s",
                        msg && msg->type == MSGPACK_OBJECT_STR ? (int)msg->via.str.size : 0,
                        msg && msg->type == MSGPACK_OBJECT_STR ? msg->via.str.ptr : "");
        break;
    }
    }
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
        if (s->outstanding && now - s->progress_ms > FETCH_STALL_MS) {
            node_info("fetch of shard %s stalled; asking again", s->org);
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
    size_t np = 0;

    for (struct node_peer *p = node_net_peers(n); p && np < PEER_MAX; p = p->next)
        if (p->state == PEER_OPEN && p->g)
            peers[np++] = p;
    for (size_t i = 0; i < np; i++) { /* a random order picks the eager peers */
        size_t j = i + randombytes_uniform((uint32_t)(np - i));
        struct node_peer *t = peers[i];
        peers[i] = peers[j];
        peers[j] = t;
    }
    for (size_t i = 0; i < np; i++) {
        struct node_peer *p = peers[i];
        bool eager = i < EAGER_PEERS && node_peer_queued(p) < PEER_SEND_HIGH;
        struct node_repl *r = list;
        while (eager && r) {
            struct out o;
            size_t count = 0, bytes = 0;
            struct node_repl *start = r, *x;
            for (x = r; x; x = x->next) {
                if (x->kind != REPL_RECORD || x->result != REPL_APPENDED ||
                    x->peer_id == p->g->id)
                    continue;
                if (count > 0 && bytes + x->len + 5 > FRAME_BUDGET)
                    break;
                bytes += x->len + 5;
                count++;
            }
            r = x;
            if (count == 0)
                break;
            out_begin(&o, PROTO_WIRE_PUSH, 0);
            msgpack_pack_map(&o.pk, 1);
            pk_str(&o.pk, "recs");
            msgpack_pack_array(&o.pk, count);
            for (x = start; x != r; x = x->next)
                if (x->kind == REPL_RECORD && x->result == REPL_APPENDED &&
                    x->peer_id != p->g->id)
                    pk_bin(&o.pk, x->bytes, x->len);
            out_send(p, &o);
        }
        if (!eager) { /* lazy: the latest size per shard */
            for (struct node_repl *x = list; x; x = x->next) {
                struct out o;
                if (x->kind != REPL_RECORD || x->result != REPL_APPENDED ||
                    (x->next && x->next->kind == REPL_RECORD && strcmp(x->next->org, x->org) == 0 &&
                     x->next->result == REPL_APPENDED))
                    continue;
                out_begin(&o, PROTO_WIRE_ANNOUNCE, 0);
                msgpack_pack_map(&o.pk, 2);
                pk_str(&o.pk, "org");
                pk_str(&o.pk, x->org);
                pk_str(&o.pk, "size");
                msgpack_pack_uint64(&o.pk, x->seq + 1);
                out_send(p, &o);
            }
        }
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
