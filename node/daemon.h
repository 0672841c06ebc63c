/* The tracenode daemon: one libuv loop on the main thread; durable writes run on the
 * libuv thread pool, one write transaction at a time (LMDB has one writer). */
#ifndef TN_NODE_DAEMON_H
#define TN_NODE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/key.h"
#include "node/datadir.h"
#include "proto/ecosystem.h"
#include "proto/event.h"
#include "storage/repo.h"

struct node_config {
    const char *data_dir;
    const char *ecosystem_path;
    const char *org;
    const char *org_key_path;
    const char *node_key_path;
    const char *listen; /* HOST:PORT */
    const char **peers;
    size_t n_peers;
    uint64_t map_size; /* 0: default */
};

struct node_writer;
struct node_api;
struct node_net;
struct gossip;
struct eco_snapshot;

struct node {
    const struct node_config *cfg;
    struct node_paths paths;
    uv_loop_t *loop;
    struct store_repo *repo;
    struct eco_snapshot *eco_current; /* use node_eco() */
    char *eco_raw; /* the ecosystem file's bytes, as verified */
    size_t eco_raw_len;
    const struct proto_org *self; /* this node's org (in a snapshot that lives on) */
    struct cry_keypair org_key;
    struct cry_keypair node_key;
    struct node_writer *writer;
    struct node_api *api;
    struct node_net *net;   /* peers (peer.c) */
    struct gossip *gossip;  /* replication state (gossip.c) */
    uv_signal_t sigint, sigterm;
    uv_timer_t readers; /* frees the read slots of tracectl processes killed mid-command */
    uv_timer_t trim;    /* gives back mapped file pages, and freed heap once writes pause */
    uint64_t trim_rounds;  /* the writer's rounds at the last tick */
    bool trim_due;         /* the writer worked since the heap was last given back */
    bool trim_warned;      /* a failed release was logged */
    long mapped_base_kb;   /* file pages mapped after the last release (at first: at start) */
    int lock_fd;
    bool stopping;
};

/* The effective ecosystem (file + governance shard): a snapshot, valid until the node
 * stops, safe to use from any thread. */
const struct proto_ecosystem *node_eco(struct node *n);

/* Rebuilds the snapshot from the repository (after governance records were committed).
 * Writer thread or start-up only. */
int node_eco_reload(struct node *n) TN_MUST_CHECK;

/* Runs the daemon until SIGINT/SIGTERM. Returns a process exit code: 0 after a clean
 * shutdown, 2 for bad configuration, 4 for I/O errors. */
int node_run(const struct node_config *cfg);

/* --- writer (writer.c): group commit of submitted events ---------------------------- */

/* One SUBMIT request: parsed and validated events in, record ids (or an error) out. */
struct node_submit {
    struct proto_event *evs; /* owned; validated against the ecosystem and size limits */
    size_t n;
    size_t bytes; /* event text received, for the batch size limit */
    /* results, set by the writer */
    uint8_t (*ids)[PROTO_ID_LEN];
    int rc;
    size_t err_index; /* the failed event; n when none of this submission's failed */
    char err[512];
    /* completion, called on the loop thread */
    void (*done)(struct node_submit *s, void *ctx);
    void *ctx;
    struct node_submit *next;
};

/* Starts the writer and signer threads. */
int node_writer_new(struct node *n, struct node_writer **out) TN_MUST_CHECK;
/* Queues s; s->done runs on the loop thread once its records are durable or it failed. */
void node_writer_submit(struct node_writer *w, struct node_submit *s);
/* true while a batch is being written or submissions are queued. */
bool node_writer_busy(struct node_writer *w);
/* How many rounds of work (write transactions) the writer has begun: a count that has not
 * moved says the writer was quiet meanwhile. */
uint64_t node_writer_rounds(struct node_writer *w);
/* On the loop thread: lets the batch in progress finish, fails what is still queued,
 * completes everything, joins the threads and frees the writer (its uv_async closes
 * with the loop). NULL is a no-op. */
void node_writer_stop(struct node_writer *w);

/* --- submit logic (submit.c) -------------------------------------------------------- */

/* Checks one event text as the API receives it: parse, roles and orgs, size. */
int node_submit_check(struct node *n, const char *text, size_t len, struct proto_event *ev,
                      char *err, size_t errlen) TN_MUST_CHECK;

/* Signs a checkpoint over the node's own shard as it stands in txn and stores it. */
int node_checkpoint_own(struct node *n, struct store_txn *txn) TN_MUST_CHECK;

/* --- local API (api_server.c) ------------------------------------------------------- */

int node_api_start(struct node *n) TN_MUST_CHECK;
void node_api_stop(struct node *n);
/* After the loop has finished closing handles. */
void node_api_free(struct node *n);

#endif
