/* Group commit on a writer thread. Submissions queue up from the loop thread; the
 * writer takes everything queued as one batch, writes it in one LMDB transaction with a
 * fresh checkpoint and commits with fsync. Only then are the submissions completed (back
 * on the loop thread, through a uv_async), so an id a client sees is durable.
 *
 * While a batch commits, the next one is already planned (in the same transaction, so it
 * sees the batch before it) and being signed on the signer thread (batch.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "node/batch.h"
#include "node/gossip.h"
#include "node/log.h"

struct node_writer {
    struct node *node;
    struct node_signer *signer;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t wake;
    struct node_submit *queue, **queue_tail; /* guarded by mu */
    struct node_submit *done, **done_tail;   /* guarded by mu */
    struct node_repl *repl, **repl_tail;     /* replication to apply, guarded by mu */
    size_t repl_queued;                      /* operations in repl, guarded by mu */
    size_t repl_taken;  /* taken from repl, results not yet with gossip, guarded by mu */
    size_t repl_handed; /* of those, handed back with repl_done, guarded by mu */
    struct node_repl *repl_done, **repl_done_tail; /* applied, for gossip, guarded by mu */
    bool stop, busy;
    uint64_t rounds; /* write transactions begun, guarded by mu */
    uv_async_t async;
};

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Takes queued submissions up to the batch limits (at least one). Called with mu held;
 * NULL if nothing is queued. */
static struct node_submit *take_locked(struct node_writer *w)
{
    struct node_submit *head = NULL, **tail = &head;
    size_t events = 0, bytes = 0;

    while (w->queue && (!head || (events + w->queue->n <= NODE_BATCH_MAX_EVENTS &&
                                  bytes + w->queue->bytes <= NODE_BATCH_MAX_BYTES))) {
        struct node_submit *s = w->queue;
        w->queue = s->next;
        s->next = NULL;
        *tail = s;
        tail = &s->next;
        events += s->n;
        bytes += s->bytes;
    }
    if (!w->queue)
        w->queue_tail = &w->queue;
    return head;
}

/* Takes up to NODE_BATCH_MAX_EVENTS queued replication operations (the rest wait for the
 * next round: one commit's dirty pages stay bounded, as for submissions). Called with mu
 * held; NULL if none is queued. */
static struct node_repl *take_repl_locked(struct node_writer *w, size_t *taken)
{
    struct node_repl *head = w->repl, *last = NULL, *r = head;
    size_t k = 0;

    for (; r && k < NODE_BATCH_MAX_EVENTS; k++) {
        last = r;
        r = r->next;
    }
    *taken = k;
    if (!head)
        return NULL;
    last->next = NULL;
    w->repl = r;
    if (!r)
        w->repl_tail = &w->repl;
    w->repl_queued -= k;
    w->repl_taken += k;
    return head;
}

/* Hands finished submissions to the loop thread. */
static void complete(struct node_writer *w, struct node_submit *subs)
{
    struct node_submit *last = subs;

    if (!subs)
        return;
    while (last->next)
        last = last->next;
    uv_mutex_lock(&w->mu);
    *w->done_tail = subs;
    w->done_tail = &last->next;
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

/* Hands a round's applied replication operations (and our own new records) to gossip on
 * the loop thread; taken: the operations the round took from the queue (some may wait in
 * the pending buffer instead of being in list). */
static void complete_repl(struct node_writer *w, struct node_repl *list, size_t taken)
{
    struct node_repl *last = list;

    if (!list && !taken)
        return;
    while (last && last->next)
        last = last->next;
    uv_mutex_lock(&w->mu);
    if (list) {
        *w->repl_done_tail = list;
        w->repl_done_tail = &last->next;
    }
    w->repl_handed += taken;
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}

static void fail_batch(struct node_writer *w, struct node_batch *b, int rc, const char *err)
{
    complete(w, node_batch_finish(b, rc, err));
}

/* A batch that was planned and posted but cannot be written; err says why. */
static void drop_batch(struct node_writer *w, struct node_batch *b, int rc, const char *err)
{
    node_batch_cancel(w->signer, b);
    fail_batch(w, b, rc, err);
}

/* Starts a batch from whatever is queued: plans it in txn and posts it to the signer.
 * NULL if nothing is queued (or on error, after failing the submissions). */
static struct node_batch *next_batch(struct node_writer *w, struct store_txn *txn)
{
    struct node_submit *subs;
    struct node_batch *b;
    int rc;

    uv_mutex_lock(&w->mu);
    subs = w->stop ? NULL : take_locked(w);
    uv_mutex_unlock(&w->mu);
    if (!subs)
        return NULL;
    if ((rc = node_batch_new(subs, &b)) != 0) {
        for (struct node_submit *s = subs; s; s = s->next) {
            s->rc = rc;
            snprintf(s->err, sizeof s->err, "out of memory");
        }
        complete(w, subs);
        return NULL;
    }
    if ((rc = node_batch_plan(w->node, txn, b)) != 0) {
        fail_batch(w, b, rc, NULL);
        return NULL;
    }
    node_signer_post(w->signer, b);
    return b;
}

static void writer_main(void *arg)
{
    struct node_writer *w = arg;
    struct node *n = w->node;
    struct node_batch *cur = NULL, *next;
    struct store_txn *txn = NULL;
    char err[512];

    prctl(PR_SET_NAME, "tn-writer"); /* as top -H and perf show it */
    for (;;) {
        struct node_repl *repl, *repl_done = NULL, *pushed = NULL;
        double t0, t1;
        size_t appended = 0, taken = 0;
        bool stop;
        int rc = 0;

        uv_mutex_lock(&w->mu);
        while (!cur && !w->queue && !w->repl && !w->stop) {
            w->busy = false;
            uv_cond_wait(&w->wake, &w->mu);
        }
        w->busy = true;
        w->rounds++;
        /* stopping: what peers sent is not applied; they offer it again after a restart */
        repl = w->stop ? NULL : take_repl_locked(w, &taken);
        stop = w->stop;
        uv_mutex_unlock(&w->mu);
        if (!cur && !repl && stop)
            break;
        t0 = mono_ms();
        if (!txn && (rc = store_txn_begin(n->repo, true, &txn)) != 0) {
            node_error("cannot begin a write transaction: %s", tn_strerror(rc));
            txn = NULL;
        }
        if (txn && !cur)
            cur = next_batch(w, txn);

        err[0] = '\0';
        if (rc == 0 && repl)
            rc = node_repl_apply(n, txn, repl, &repl_done);
        else if (repl) {
            for (struct node_repl *r = repl; r; r = r->next)
                r->result = REPL_DROPPED;
            repl_done = repl;
        }
        if (rc == 0 && cur)
            rc = node_batch_store(w->signer, txn, cur, &appended, &pushed, err, sizeof err);
        next = NULL;
        if (rc == 0 && appended > 0)
            rc = node_checkpoint_own(n, txn);
        if (rc == 0 && cur) /* plan the next batch before the commit waits for the disk */
            next = next_batch(w, txn);
        t1 = mono_ms();
        if (rc == 0 && txn)
            rc = store_txn_commit(txn);
        else
            store_txn_abort(txn);
        txn = NULL;
        if (rc == TN_ERR_MAP_FULL)
            snprintf(err, sizeof err,
                     "%s; nothing of this batch was written; restart tracenode with a larger "
                     "--map-size",
                     tn_strerror(rc));
        if (rc != 0) {
            node_warn("write not committed: %s", err[0] ? err : tn_strerror(rc));
            for (struct node_repl *r = repl_done; r; r = r->next)
                if (r->result != REPL_WAITING)
                    r->result = REPL_DROPPED; /* peers will offer them again */
            node_repl_free(pushed);
            pushed = NULL;
            if (cur)
                fail_batch(w, cur, rc, err);
            /* next was planned on top of the failed batch: it cannot stand either */
            if (next) {
                char why[600];
                snprintf(why, sizeof why, "not appended: it followed a commit that failed (%s)",
                         err[0] ? err : tn_strerror(rc));
                drop_batch(w, next, rc, why);
            }
            next = NULL;
        } else if (cur) {
            if (appended)
                node_info("committed %zu records to shard %s in %.1f ms (%.1f ms syncing)",
                          appended, n->self->id, mono_ms() - t0, mono_ms() - t1);
            complete(w, node_batch_finish(cur, 0, NULL));
        }
        /* governance records change who may sign what: rebuild the ecosystem snapshot */
        if (rc == 0) {
            bool gov = false;
            for (struct node_repl *r = repl_done; r; r = r->next)
                gov |= r->result == REPL_APPENDED && strcmp(r->org, PROTO_GOV_ORG) == 0;
            if (gov && node_eco_reload(n) == 0)
                node_info("governance records applied; the ecosystem now has %zu orgs",
                          node_eco(n)->n_orgs);
        }
        /* our own new records first, then what came from peers */
        if (pushed) {
            struct node_repl *last = pushed;
            while (last->next)
                last = last->next;
            last->next = repl_done;
            repl_done = pushed;
        }
        complete_repl(w, repl_done, taken);
        cur = next;
        if (cur && (rc = store_txn_begin(n->repo, true, &txn)) != 0) {
            drop_batch(w, cur, rc, "cannot begin a write transaction");
            cur = NULL;
            txn = NULL;
        }
    }
}

/* Loop thread: completes what the writer finished. */
static void on_done(uv_async_t *a)
{
    struct node_writer *w = a->data;
    struct node_submit *s, *next;
    struct node_repl *r;
    size_t handed;

    uv_mutex_lock(&w->mu);
    s = w->done;
    w->done = NULL;
    w->done_tail = &w->done;
    r = w->repl_done;
    w->repl_done = NULL;
    w->repl_done_tail = &w->repl_done;
    /* what those rounds took leaves the pipeline now: gossip learns the new sizes below,
     * on this thread, before anything else can look */
    handed = w->repl_handed;
    w->repl_taken -= handed;
    w->repl_handed = 0;
    uv_mutex_unlock(&w->mu);
    for (; s; s = next) {
        next = s->next;
        s->done(s, s->ctx);
    }
    /* also when a round's records all went to the pending buffer (no results, but the
     * pipeline emptied): a held fetch or a paused peer may go on now */
    if (w->node->stopping)
        node_repl_free(r);
    else if (r || handed)
        gossip_committed(w->node, r);
}

int node_writer_new(struct node *n, struct node_writer **out)
{
    struct node_writer *w = calloc(1, sizeof *w);
    int rc;

    if (!w)
        return TN_ERR_NOMEM;
    w->node = n;
    w->queue_tail = &w->queue;
    w->done_tail = &w->done;
    w->repl_tail = &w->repl;
    w->repl_done_tail = &w->repl_done;
    if ((rc = node_signer_start(n, &w->signer)) != 0) {
        free(w);
        return rc;
    }
    uv_mutex_init(&w->mu);
    uv_cond_init(&w->wake);
    uv_async_init(n->loop, &w->async, on_done);
    w->async.data = w;
    if (uv_thread_create(&w->thread, writer_main, w) != 0) {
        node_signer_stop(w->signer);
        uv_close((uv_handle_t *)&w->async, NULL);
        return TN_ERR_NOMEM;
    }
    *out = w;
    return 0;
}

void node_writer_submit(struct node_writer *w, struct node_submit *s)
{
    s->next = NULL;
    uv_mutex_lock(&w->mu);
    *w->queue_tail = s;
    w->queue_tail = &s->next;
    uv_cond_signal(&w->wake);
    uv_mutex_unlock(&w->mu);
}

void node_writer_replicate(struct node_writer *w, struct node_repl *list)
{
    struct node_repl *last = list;

    if (!list)
        return;
    while (last->next)
        last = last->next;
    uv_mutex_lock(&w->mu);
    *w->repl_tail = list;
    w->repl_tail = &last->next;
    for (struct node_repl *r = list; r; r = r->next)
        w->repl_queued++;
    uv_cond_signal(&w->wake);
    uv_mutex_unlock(&w->mu);
}

size_t node_writer_backlog(struct node_writer *w)
{
    size_t n;

    uv_mutex_lock(&w->mu);
    n = w->repl_queued + w->repl_taken;
    uv_mutex_unlock(&w->mu);
    return n;
}

uint64_t node_writer_rounds(struct node_writer *w)
{
    uint64_t n;

    uv_mutex_lock(&w->mu);
    n = w->rounds;
    uv_mutex_unlock(&w->mu);
    return n;
}

bool node_writer_busy(struct node_writer *w)
{
    bool busy;

    uv_mutex_lock(&w->mu);
    busy = w->busy || w->queue;
    uv_mutex_unlock(&w->mu);
    return busy;
}

static void on_async_closed(uv_handle_t *h)
{
    free(h->data);
}

void node_writer_stop(struct node_writer *w)
{
    struct node_submit *left;

    if (!w)
        return;
    /* The batch being written (and one planned) finish; nothing new starts. */
    uv_mutex_lock(&w->mu);
    w->stop = true;
    uv_cond_signal(&w->wake);
    uv_mutex_unlock(&w->mu);
    uv_thread_join(&w->thread);
    node_signer_stop(w->signer);
    uv_mutex_lock(&w->mu);
    left = w->queue;
    w->queue = NULL;
    w->queue_tail = &w->queue;
    uv_mutex_unlock(&w->mu);
    for (struct node_submit *s = left; s; s = s->next) {
        s->rc = TN_ERR_UNREACHABLE;
        snprintf(s->err, sizeof s->err, "the node is shutting down; not written");
    }
    complete(w, left);
    node_repl_free(w->repl); /* not applied: peers offer them again after a restart */
    w->repl = NULL;
    on_done(&w->async); /* completes everything still pending, on this (loop) thread */
    uv_mutex_destroy(&w->mu);
    uv_cond_destroy(&w->wake);
    uv_close((uv_handle_t *)&w->async, on_async_closed);
}
