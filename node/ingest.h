/* Records from peers: verified on the libuv thread pool (both cores), in jobs of up to
 * INGEST_JOB records, then handed to the writer. A record that fails verification drops
 * the peer that sent it and everything else it sent that is still in flight. */
#ifndef TN_NODE_INGEST_H
#define TN_NODE_INGEST_H

#include "node/daemon.h"
#include "proto/wire.h"

#define INGEST_JOB 256
#define INGEST_JOBS_PER_PEER 16 /* jobs in flight per peer before we stop reading it */

struct node_peer;

/* Queues the records recs[0..n) from peer p (a PUSH, pushed true, or RECORDS body
 * proto_wire_decode checked; the bytes are copied) for verification. Returns 0, or
 * TN_ERR_NOMEM when some could not be queued (they are dropped; the peer will offer them
 * again). */
int ingest_records(struct node_peer *p, const struct proto_wire_bin *recs, size_t n,
                   bool pushed);

#endif
