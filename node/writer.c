/* Group commit. Submissions queue up on the loop thread; one worker at a time (LMDB has
 * a single writer) takes everything queued, applies it in one write transaction with a
 * fresh checkpoint, and commits with fsync. Only then are the submissions completed, so
 * an id the client sees is durable. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/daemon.h"
#include "node/log.h"

#define BATCH_MAX_EVENTS 65536 /* events per transaction, across submissions */

struct node_writer {
    struct node *node;
    uv_work_t work;
    bool running;
    struct node_submit *queue, **queue_tail;
    struct node_submit *batch; /* being written */
    size_t appended;
    double ms;
};

int node_writer_new(struct node *n, struct node_writer **out)
{
    struct node_writer *w = calloc(1, sizeof *w);

    if (!w)
        return TN_ERR_NOMEM;
    w->node = n;
    w->queue_tail = &w->queue;
    w->work.data = w;
    *out = w;
    return 0;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Worker thread: one write transaction for the whole batch. */
static void write_batch(uv_work_t *req)
{
    struct node_writer *w = req->data;
    struct node *n = w->node;
    struct store_txn *txn = NULL;
    struct node_submit *s;
    double t0 = mono_ms();
    int rc;

    w->appended = 0;
    if ((rc = store_txn_begin(n->repo, true, &txn)) == 0) {
        for (s = w->batch; s && rc == 0; s = s->next)
            rc = node_submit_apply(n, txn, s, &w->appended);
        if (rc == 0 && w->appended > 0)
            rc = node_checkpoint_own(n, txn);
        if (rc == 0)
            rc = store_txn_commit(txn);
        else
            store_txn_abort(txn);
    }
    if (rc != 0) {
        /* Nothing of this transaction is durable: fail every submission in it. */
        for (s = w->batch; s; s = s->next)
            if (s->rc == 0 || rc == TN_ERR_MAP_FULL) {
                s->rc = rc;
                s->err_index = 0;
                snprintf(s->err, sizeof s->err, "%s%s", tn_strerror(rc),
                         rc == TN_ERR_MAP_FULL
                             ? "; nothing of this batch was written; restart tracenode with a "
                               "larger --map-size"
                             : "");
            }
        w->appended = 0;
    }
    w->ms = mono_ms() - t0;
}

static void start(struct node_writer *w);

static void batch_done(uv_work_t *req, int status)
{
    struct node_writer *w = req->data;
    struct node_submit *s = w->batch, *next;
    size_t failed = 0;

    (void)status;
    w->batch = NULL;
    w->running = false;
    for (; s; s = next) {
        next = s->next;
        failed += s->rc != 0;
        if (s->rc != 0)
            node_warn("submit refused: event %zu: %s", s->err_index, s->err);
        s->done(s, s->ctx);
    }
    if (w->appended)
        node_info("committed %zu records to shard %s in %.1f ms", w->appended,
                  w->node->self->id, w->ms);
    (void)failed;
    if (w->queue)
        start(w);
}

static void start(struct node_writer *w)
{
    struct node_submit **tail = &w->batch;
    size_t events = 0;

    /* Take queued submissions until the batch is full (at least one). */
    while (w->queue && (events == 0 || events + w->queue->n <= BATCH_MAX_EVENTS)) {
        struct node_submit *s = w->queue;
        w->queue = s->next;
        s->next = NULL;
        *tail = s;
        tail = &s->next;
        events += s->n;
    }
    if (!w->queue)
        w->queue_tail = &w->queue;
    w->running = true;
    if (uv_queue_work(w->node->loop, &w->work, write_batch, batch_done) != 0) {
        /* Cannot happen with a valid loop; complete the batch as failed rather than hang. */
        for (struct node_submit *s = w->batch; s; s = s->next) {
            s->rc = TN_ERR_IO;
            snprintf(s->err, sizeof s->err, "cannot schedule the write");
        }
        batch_done(&w->work, 0);
    }
}

void node_writer_submit(struct node_writer *w, struct node_submit *s)
{
    s->next = NULL;
    *w->queue_tail = s;
    w->queue_tail = &s->next;
    if (!w->running)
        start(w);
}

bool node_writer_busy(const struct node_writer *w)
{
    return w->running || w->queue;
}

void node_writer_free(struct node_writer *w)
{
    free(w);
}
