/* The writer thread's half of replication: storing verified records from peers in shard
 * order, holding early arrivals, turning conflicts into evidence, checking checkpoints
 * against the records held. */
#include <stdlib.h>
#include <string.h>

#include "crypto/checkpoint.h"
#include "node/gossip.h"
#include "node/log.h"

/* Records ahead of a shard wait here (per shard, seq - size < PENDING_WINDOW); the fetch
 * credit keeps fewer than this in flight, so only stray pushes fall outside. */
#define PENDING_WINDOW 16384

struct pending {
    char org[PROTO_ID_MAX + 1];
    uint64_t size;  /* shard size when last looked at */
    size_t count;
    struct node_repl **slot; /* slot[seq % PENDING_WINDOW] */
    struct pending *next;
};

/* Writer-thread state; lives as long as the node. */
static struct pending *pendings;

void node_repl_free(struct node_repl *r)
{
    while (r) {
        struct node_repl *next = r->next;
        free(r->bytes);
        if (r->rec) {
            proto_record_release(r->rec);
            free(r->rec);
        }
        free(r->note);
        free(r->a);
        free(r->b);
        free(r);
        r = next;
    }
}

static struct pending *pending_for(const char *org, bool create)
{
    struct pending *p;

    for (p = pendings; p; p = p->next)
        if (strcmp(p->org, org) == 0)
            return p;
    if (!create || !(p = calloc(1, sizeof *p)))
        return NULL;
    if (!(p->slot = calloc(PENDING_WINDOW, sizeof *p->slot))) {
        free(p);
        return NULL;
    }
    snprintf(p->org, sizeof p->org, "%s", org);
    p->next = pendings;
    pendings = p;
    return p;
}

static void push_done(struct node_repl ***tail, struct node_repl *r)
{
    r->next = NULL;
    **tail = r;
    *tail = &r->next;
}

static int copy_bytes(uint8_t **dst, size_t *dst_len, const uint8_t *src, size_t len)
{
    if (!(*dst = malloc(len ? len : 1)))
        return TN_ERR_NOMEM;
    memcpy(*dst, src, len);
    *dst_len = len;
    return 0;
}

/* Two validly signed records for one (org, seq): store both, freeze. r becomes the
 * evidence to relay (a = ours, b = theirs). */
static int record_fork(struct store_txn *txn, struct node_repl *r, const uint8_t *ours,
                       size_t ours_len)
{
    bool is_new;
    int rc;

    if ((rc = store_evidence_put(txn, r->org, r->seq, STORE_EVIDENCE_RECORDS, ours, ours_len,
                                 r->bytes, r->len, &is_new)) != 0)
        return rc;
    r->ev_kind = STORE_EVIDENCE_RECORDS;
    if ((rc = copy_bytes(&r->a, &r->a_len, ours, ours_len)) != 0 ||
        (rc = copy_bytes(&r->b, &r->b_len, r->bytes, r->len)) != 0)
        return rc;
    r->result = is_new ? REPL_FORK : REPL_DUPLICATE;
    if (is_new)
        node_warn("EQUIVOCATION: org %s signed two different records at seq %llu; shard frozen, "
                  "evidence stored",
                  r->org, (unsigned long long)r->seq);
    return 0;
}

static int apply_record(struct node *n, struct store_txn *txn, struct node_repl *r,
                        struct node_repl ***tail)
{
    struct store_shard sh;
    char err[300];
    bool appended;
    int rc;

    rc = store_shard_get(txn, r->org, &sh);
    if (rc == TN_ERR_NOT_FOUND)
        memset(&sh, 0, sizeof sh), rc = 0;
    if (rc != 0)
        return rc;
    /* Our own shard is written by us alone (a node never takes its own history back). */
    if (sh.frozen || strcmp(r->org, n->self->id) == 0) {
        r->result = REPL_DROPPED;
        push_done(tail, r);
        return 0;
    }
    if (r->seq < sh.size) {
        uint8_t id[PROTO_ID_LEN];
        const uint8_t *ours;
        size_t ours_len;
        if ((rc = store_record_at(txn, r->org, r->seq, id)) != 0 ||
            (rc = store_record_get(txn, id, &ours, &ours_len)) != 0)
            return rc;
        if (memcmp(id, r->id, PROTO_ID_LEN) == 0)
            r->result = REPL_DUPLICATE;
        else if ((rc = record_fork(txn, r, ours, ours_len)) != 0)
            return rc;
        push_done(tail, r);
        return 0;
    }
    if (r->seq > sh.size) {
        struct pending *p;
        if (r->no_wait || r->seq - sh.size >= PENDING_WINDOW ||
            !(p = pending_for(r->org, true))) {
            r->result = REPL_DROPPED;
            push_done(tail, r);
            return 0;
        }
        p->size = sh.size;
        if (p->slot[r->seq % PENDING_WINDOW]) { /* same seq again: keep the first */
            r->result = REPL_DUPLICATE;
            push_done(tail, r);
            return 0;
        }
        p->slot[r->seq % PENDING_WINDOW] = r;
        p->count++;
        r->result = REPL_WAITING;
        return 0;
    }
    if (r->seq > 0 && memcmp(r->rec->prev, sh.head, PROTO_ID_LEN) != 0) {
        /* Validly signed, yet its predecessor is not our record seq-1: the org signed two
         * records at seq-1. Gossip fetches the peer's one to hold both as evidence. */
        r->result = REPL_GAP;
        push_done(tail, r);
        return 0;
    }
    rc = store_append(txn, node_eco(n), r->bytes, r->len, r->rec,
                      STORE_APPEND_VERIFIED | STORE_APPEND_ID_GIVEN, r->id, &appended, err,
                      sizeof err);
    if (rc == TN_ERR_MAP_FULL || rc == TN_ERR_IO || rc == TN_ERR_NOMEM || rc == TN_ERR_CORRUPT)
        return rc;
    if (rc != 0)
        node_warn("record %s seq %llu not stored: %s", r->org, (unsigned long long)r->seq, err);
    r->result = rc == 0 ? (appended ? REPL_APPENDED : REPL_DUPLICATE) : REPL_DROPPED;
    push_done(tail, r);
    if (rc != 0)
        return 0;
    /* the gap may have closed for records waiting behind this one */
    {
        struct pending *p = pending_for(r->org, false);
        uint64_t next = r->seq + 1;
        while (p && p->count && p->slot[next % PENDING_WINDOW] &&
               p->slot[next % PENDING_WINDOW]->seq == next) {
            struct node_repl *w = p->slot[next % PENDING_WINDOW];
            p->slot[next % PENDING_WINDOW] = NULL;
            p->count--;
            if ((rc = apply_record(n, txn, w, tail)) != 0)
                return rc;
            if (w->result != REPL_APPENDED)
                break;
            next++;
        }
    }
    return 0;
}

static int apply_checkpoint(struct node *n, struct store_txn *txn, struct node_repl *r)
{
    struct store_shard sh;
    uint8_t root[CRY_HASH_LEN];
    const char *stored;
    size_t stored_len;
    bool is_new;
    int rc;

    (void)n;
    rc = store_shard_get(txn, r->org, &sh);
    if (rc == TN_ERR_NOT_FOUND || (rc == 0 && r->seq > sh.size) || r->seq == 0) {
        r->result = REPL_DROPPED; /* cannot check it yet: gossip offers it again later */
        return 0;
    }
    if (rc != 0)
        return rc;
    if ((rc = store_root(txn, r->org, r->seq, root)) != 0)
        return rc;
    rc = store_checkpoint_at(txn, r->org, r->seq, &stored, &stored_len);
    if (rc != 0 && rc != TN_ERR_NOT_FOUND)
        return rc;
    if (memcmp(root, r->root, CRY_HASH_LEN) == 0) {
        if (rc == TN_ERR_NOT_FOUND &&
            (rc = store_checkpoint_put(txn, r->org, r->seq, r->note, r->note_len)) != 0)
            return rc;
        r->result = rc == 0 ? REPL_STORED_CP : REPL_DUPLICATE;
        return 0;
    }
    /* The org signed a checkpoint its own records contradict. */
    if (rc == 0) {
        r->ev_kind = STORE_EVIDENCE_CHECKPOINTS;
        rc = copy_bytes(&r->a, &r->a_len, (const uint8_t *)stored, stored_len);
    } else {
        r->ev_kind = STORE_EVIDENCE_CHECKPOINT_RECORDS;
        rc = copy_bytes(&r->a, &r->a_len, root, CRY_HASH_LEN);
    }
    if (rc != 0 || (rc = copy_bytes(&r->b, &r->b_len, (const uint8_t *)r->note, r->note_len)) != 0)
        return rc;
    if ((rc = store_evidence_put(txn, r->org, r->seq, (enum store_evidence_kind)r->ev_kind, r->a,
                                 r->a_len, r->b, r->b_len, &is_new)) != 0)
        return rc;
    r->result = is_new ? REPL_FORK : REPL_DUPLICATE;
    if (is_new)
        node_warn("EQUIVOCATION: org %s signed a checkpoint of size %llu that its records "
                  "contradict; shard frozen, evidence stored",
                  r->org, (unsigned long long)r->seq);
    return 0;
}

int node_repl_apply(struct node *n, struct store_txn *txn, struct node_repl *list,
                    struct node_repl **done)
{
    struct node_repl **tail = done, *next;
    bool is_new;
    int rc = 0;

    *done = NULL;
    for (struct node_repl *r = list; r; r = next) {
        next = r->next;
        switch (r->kind) {
        case REPL_RECORD:
            rc = apply_record(n, txn, r, &tail);
            break;
        case REPL_CHECKPOINT:
            rc = apply_checkpoint(n, txn, r);
            push_done(&tail, r);
            break;
        case REPL_EVIDENCE:
            rc = store_evidence_put(txn, r->org, r->seq, (enum store_evidence_kind)r->ev_kind,
                                    r->a, r->a_len, r->b, r->b_len, &is_new);
            if (rc == 0 && is_new)
                node_warn("EQUIVOCATION by org %s at %llu (evidence from a peer, verified); "
                          "shard frozen",
                          r->org, (unsigned long long)r->seq);
            r->result = is_new ? REPL_FORK : REPL_DUPLICATE;
            push_done(&tail, r);
            break;
        }
        if (rc != 0) {
            /* the transaction fails: hand back everything not yet done as dropped */
            for (struct node_repl *x = next; x; x = next) {
                next = x->next;
                x->result = REPL_DROPPED;
                push_done(&tail, x);
            }
            break;
        }
    }
    return rc;
}
