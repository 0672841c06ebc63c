/* Replication between peers (DESIGN section 5): clocks, consistency proofs, range fetches,
 * eager push and lazy announce, fork evidence. Runs on the loop thread; records from
 * peers are verified on the libuv thread pool (ingest) and stored by the writer thread.
 * docs/PROTOCOL.md describes the messages and the rules. */
#ifndef TN_NODE_GOSSIP_H
#define TN_NODE_GOSSIP_H

#include "node/daemon.h"
#include "proto/msg.h"

struct node_peer;

/* Peer lifecycle and messages, from peer.c. */
void gossip_peer_open(struct node_peer *p);
void gossip_peer_msg(struct node_peer *p, const struct proto_msg *m);
void gossip_peer_closed(struct node_peer *p);
void gossip_heartbeat(struct node *n);
/* The peer's send queue drained below the high-water mark: serve more of a range. */
void gossip_peer_writable(struct node_peer *p);

/* Peers by a stable number (a pointer may be freed while a job is in flight). */
uint64_t gossip_peer_id(const struct node_peer *p);
struct node_peer *gossip_peer_by_id(struct node *n, uint64_t id);
/* Ingest jobs in flight from p changed by delta: pauses or resumes reading p. */
void gossip_peer_jobs(struct node_peer *p, int delta);

/* The largest size any peer has claimed for org's shard (sync progress). */
size_t gossip_peer_max(struct node *n, const char *org);
/* Packs a map describing the shard's fetch state (status: why a shard is behind). */
void gossip_pack_fetch(struct node *n, const char *org, msgpack_packer *pk);
void gossip_free(struct node *n);

/* --- what the writer stores for replication (writer.c applies them) ----------------- */

enum repl_kind {
    REPL_RECORD,     /* a record verified on the thread pool */
    REPL_CHECKPOINT, /* an org-signed checkpoint, signature verified */
    REPL_EVIDENCE,   /* fork evidence, verified */
};

enum repl_result {
    REPL_PENDING,   /* not yet applied */
    REPL_APPENDED,  /* stored */
    REPL_DUPLICATE, /* already held */
    REPL_WAITING,   /* a record ahead of the shard: held until the gap fills */
    REPL_GAP,       /* its prev differs from our record seq-1: fetch the peer's seq-1 */
    REPL_FORK,      /* evidence stored, shard frozen */
    REPL_DROPPED,   /* frozen shard, no room, or not applicable */
    REPL_STORED_CP, /* checkpoint stored */
};

struct node_repl {
    enum repl_kind kind;
    enum repl_result result;
    uint64_t peer_id; /* where it came from (0: ourselves) */
    bool pushed;      /* it came in a PUSH (not fetched) */
    char org[PROTO_ID_MAX + 1];
    uint64_t seq;     /* record seq, checkpoint size, evidence position */
    /* REPL_RECORD */
    uint8_t *bytes;
    size_t len;
    struct proto_record *rec; /* decoded and verified */
    uint8_t id[PROTO_ID_LEN];
    /* REPL_CHECKPOINT */
    char *note;
    size_t note_len;
    uint8_t root[CRY_HASH_LEN];
    /* REPL_EVIDENCE (also filled by the writer when it finds a fork) */
    int ev_kind;
    uint8_t *a, *b;
    size_t a_len, b_len;
    /* imports through the local API: told the result after the commit, never held
     * waiting for a gap to fill */
    void (*done)(struct node_repl *r, void *ctx);
    void *ctx;
    size_t pos; /* position in the import request */
    bool no_wait;
    struct node_repl *next;
};

void node_repl_free(struct node_repl *r);

/* Hands verified operations to the writer (loop thread). */
void node_writer_replicate(struct node_writer *w, struct node_repl *list);

/* Replication operations queued for the writer, or taken by it and not yet back with
 * their results (loop thread reads it to stop reading peers while the writer catches up,
 * and not to fetch what is on its way). */
size_t node_writer_backlog(struct node_writer *w);
#define WRITER_BACKLOG_MAX 32768

/* Writer thread: applies replication operations in txn. Records may also come off the
 * writer's buffer of early arrivals. Returns 0 or a transaction-fatal error. */
int node_repl_apply(struct node *n, struct store_txn *txn, struct node_repl *list,
                    struct node_repl **done) TN_MUST_CHECK;

/* Loop thread, after a commit: what was appended (to push on), forks found (to relay),
 * gaps (to fetch), and our own new records (for push). Takes ownership of list. */
void gossip_committed(struct node *n, struct node_repl *list);

#endif
