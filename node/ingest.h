/* Records from peers: verified on the libuv thread pool (both cores), in jobs of up to
 * INGEST_JOB records, then handed to the writer. A record that fails verification drops
 * the peer that sent it and everything else it sent that is still in flight. */
#ifndef TN_NODE_INGEST_H
#define TN_NODE_INGEST_H

#include <msgpack.h>

#include "node/daemon.h"

#define INGEST_JOB 256
#define INGEST_JOBS_PER_PEER 16 /* jobs in flight per peer before we stop reading it */

struct node_peer;

/* Queues every record of recs (a msgpack array of binaries) from peer p for verification.
 * Returns 0, or an error after closing p (malformed list). */
int ingest_records(struct node_peer *p, const msgpack_object *recs);

#endif
