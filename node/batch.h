/* A batch: the submissions written by one group commit, and the signing thread that
 * turns its events into records while the writer thread stores them (writer.c).
 *
 * A shard is a hash chain, so its records are signed strictly one after another; the
 * signer does only that (fill, encode, sign). The writer plans each batch in the write
 * transaction (repeated event ids, input links), posts it to the signer, and stores the
 * records as they come. It plans the next batch before committing the current one, so
 * the signer keeps working while the commit waits for the disk. */
#ifndef TN_NODE_BATCH_H
#define TN_NODE_BATCH_H

#include "node/daemon.h"

struct node_batch;
struct node_signer;

/* Most events and event bytes one batch takes from the queue. A commit's dirty pages are
 * held in memory until it ends (and LMDB keeps the largest commit's page buffers for
 * reuse), so a bigger batch costs memory for little: past a few thousand records the
 * commit's fixed costs (two syncs) are already spread thin. */
#define NODE_BATCH_MAX_EVENTS 4096
#define NODE_BATCH_MAX_BYTES (64u * 1024 * 1024)

int node_signer_start(struct node *n, struct node_signer **out) TN_MUST_CHECK;
/* Stops and joins the signing thread; no batch may be posted or unfinished. */
void node_signer_stop(struct node_signer *sg);

/* A batch over the submissions list subs (linked by next; the batch holds them until
 * node_batch_finish). */
int node_batch_new(struct node_submit *subs, struct node_batch **out) TN_MUST_CHECK;

/* Decides, in txn, which events repeat a client event id and which record each input
 * links to, and where the shard stands. Reads only. */
int node_batch_plan(struct node *n, struct store_txn *txn, struct node_batch *b) TN_MUST_CHECK;

/* Hands a planned batch to the signer, after any batch posted before it. */
void node_signer_post(struct node_signer *sg, struct node_batch *b);

struct node_repl;

/* Stores b's records in txn as the signer produces them; *appended gets the count and
 * *pushed a copy of each new record (for gossip to push once committed). On error
 * (reason in err) the signer has been told to stop working on b. */
int node_batch_store(struct node_signer *sg, struct store_txn *txn, struct node_batch *b,
                     size_t *appended, struct node_repl **pushed, char *err,
                     size_t errlen) TN_MUST_CHECK;

/* Stops the signer working on b (posted or not) and waits until it has let go. */
void node_batch_cancel(struct node_signer *sg, struct node_batch *b);

/* Ends b: on success fills every submission's ids; on failure sets rc and err on each.
 * Frees the batch and returns its submissions list. */
struct node_submit *node_batch_finish(struct node_batch *b, int rc, const char *err);

#endif
