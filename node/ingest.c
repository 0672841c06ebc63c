/* Verification of peers' records off the event loop: see ingest.h. */
#include "node/ingest.h"

#include <stdlib.h>
#include <string.h>

#include "node/gossip.h"
#include "node/log.h"
#include "node/peer.h"

struct ingest_job {
    uv_work_t work;
    struct node *node;
    uint64_t peer_id;
    struct node_repl *items, **tail;
    size_t count;
    /* result of the work: the first record that failed, and why */
    int rc;
    char err[300];
};

static void verify_job(uv_work_t *w)
{
    struct ingest_job *job = w->data;
    const struct proto_ecosystem *eco = node_eco(job->node);
    struct store_txn *txn = NULL;

    /* A record we already hold (the same bytes: its id is their hash) was verified when
     * it was stored; it is decoded for its place (the writer files it as a duplicate) but
     * its signature is not checked again. Records reach a node from several peers, and
     * the signature is most of the work. Without a read transaction, everything is
     * checked. */
    if (store_txn_begin(job->node->repo, false, &txn) != 0)
        txn = NULL;
    for (struct node_repl *r = job->items; r && job->rc == 0; r = r->next) {
        char err[256] = "";
        if (!(r->rec = malloc(sizeof *r->rec))) {
            job->rc = TN_ERR_NOMEM;
            break;
        }
        proto_record_init(r->rec);
        proto_record_id(r->id, r->bytes, r->len);
        if ((job->rc = proto_record_decode(r->bytes, r->len, r->rec, err, sizeof err)) != 0 ||
            (!(txn && store_has_record(txn, r->id)) &&
             (job->rc = store_check_record(eco, r->rec, true, err, sizeof err)) != 0)) {
            snprintf(job->err, sizeof job->err, "sent a bad record: %s", err);
            break;
        }
        snprintf(r->org, sizeof r->org, "%s", r->rec->org);
        r->seq = r->rec->seq;
    }
    store_txn_abort(txn);
}

static void job_done(uv_work_t *w, int status)
{
    struct ingest_job *job = w->data;
    struct node *n = job->node;
    struct node_peer *p = gossip_peer_by_id(n, job->peer_id);

    if (p)
        gossip_peer_jobs(p, -1);
    if (status != 0 || n->stopping) {
        node_repl_free(job->items);
    } else if (job->rc == TN_ERR_NOMEM) {
        node_repl_free(job->items); /* ours, not the peer's fault: it will offer them again */
    } else if (job->rc != 0) {
        /* Nothing from a peer that sent a bad record is stored. */
        node_repl_free(job->items);
        if (p)
            node_peer_drop(p, "%s", job->err);
    } else if (!p && node_net_was_dropped(n, job->peer_id)) {
        /* the peer was dropped meanwhile for something it sent */
        node_repl_free(job->items);
    } else {
        /* verified records stand on their own signatures, even if their sender has since
         * gone away in good order */
        node_writer_replicate(n->writer, job->items);
    }
    free(job);
}

static void submit_job(struct node_peer *p, struct ingest_job *job)
{
    gossip_peer_jobs(p, +1);
    if (uv_queue_work(p->node->loop, &job->work, verify_job, job_done) != 0) {
        gossip_peer_jobs(p, -1);
        node_repl_free(job->items);
        free(job);
    }
}

int ingest_records(struct node_peer *p, const struct proto_wire_bin *recs, size_t n,
                   bool pushed)
{
    struct ingest_job *job = NULL;

    for (size_t i = 0; i < n; i++) {
        struct node_repl *r;
        if (!job) {
            if (!(job = calloc(1, sizeof *job)))
                return TN_ERR_NOMEM;
            job->node = p->node;
            job->peer_id = gossip_peer_id(p);
            job->tail = &job->items;
            job->work.data = job;
        }
        if (!(r = calloc(1, sizeof *r)) || !(r->bytes = malloc(recs[i].len))) {
            free(r);
            node_repl_free(job->items);
            free(job);
            return TN_ERR_NOMEM;
        }
        r->kind = REPL_RECORD;
        r->peer_id = job->peer_id;
        r->pushed = pushed;
        memcpy(r->bytes, recs[i].p, recs[i].len);
        r->len = recs[i].len;
        *job->tail = r;
        job->tail = &r->next;
        if (++job->count == INGEST_JOB) {
            submit_job(p, job);
            job = NULL;
        }
    }
    if (job)
        submit_job(p, job);
    return 0;
}
