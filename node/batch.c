/* Planning, signing and storing a batch: see batch.h. */
#include "node/batch.h"

#include <sodium.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/gossip.h"
#include "node/log.h"

#define NO_REF SIZE_MAX
#define CHUNK (1u << 20) /* signed record bytes are kept in chunks that never move */
/* Records the writer waits for before it wakes, once it has caught up with the signer:
 * one wake-up per run instead of per record. */
#define STORE_STRIDE 64

enum plan_kind { PLAN_NEW, PLAN_DUP_STORED, PLAN_DUP_BATCH };

struct plan {
    struct proto_event *ev;
    uint8_t *id; /* the submission's id slot for this event */
    enum plan_kind kind;
    size_t dup_of;     /* PLAN_DUP_BATCH: the first event of the batch with this eid */
    size_t *input_ref; /* per input: position of the batch event holding it, or NO_REF */
    uint8_t (*salts)[32];
    const uint8_t *bytes; /* signed record (in a chunk), set by the signer */
    size_t len;
};

struct chunk {
    struct chunk *next;
    size_t used;
    uint8_t mem[CHUNK];
};

struct node_batch {
    struct node_submit *subs;
    struct plan *plans;
    size_t count;
    /* where the shard stands before this batch */
    uint64_t seq0;
    uint8_t prev0[PROTO_ID_LEN];
    bool has_prev0;
    /* signer progress and outcome, guarded by the signer's mutex */
    size_t signed_upto;
    size_t wanted; /* the writer sleeps until signed_upto reaches this (0: not waiting) */
    bool cancel, signer_done, posted;
    int sign_rc;
    char sign_err[400];
    struct chunk *chunks; /* owned by the signer until signer_done */
    struct node_batch *next; /* signer queue */
    size_t fail_k;           /* the event that failed the batch (SIZE_MAX: none of them) */
};

struct node_signer {
    struct node *n;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t changed;
    struct node_batch *queue, **tail;
    bool stop;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- batches ------------------------------------------------------------------------ */

/* Errors that are the node's (its disk, map or memory), whichever event met them. */
static bool error_of_node(int rc)
{
    return rc == TN_ERR_MAP_FULL || rc == TN_ERR_IO || rc == TN_ERR_NOMEM ||
           rc == TN_ERR_CORRUPT;
}

int node_batch_new(struct node_submit *subs, struct node_batch **out)
{
    struct node_batch *b = calloc(1, sizeof *b);
    size_t count = 0;

    if (!b)
        return TN_ERR_NOMEM;
    for (struct node_submit *s = subs; s; s = s->next)
        count += s->n;
    if (!(b->plans = calloc(count ? count : 1, sizeof *b->plans))) {
        free(b);
        return TN_ERR_NOMEM;
    }
    b->subs = subs;
    b->fail_k = SIZE_MAX;
    for (struct node_submit *s = subs; s; s = s->next)
        for (size_t i = 0; i < s->n; i++) {
            b->plans[b->count].ev = &s->evs[i];
            b->plans[b->count++].id = s->ids[i];
        }
    *out = b;
    return 0;
}

struct node_submit *node_batch_finish(struct node_batch *b, int rc, const char *err)
{
    struct node_submit *subs = b->subs;
    size_t first = 0; /* the batch position of s's first event */

    if (!err || !err[0])
        err = tn_strerror(rc);
    for (size_t k = 0; rc == 0 && k < b->count; k++)
        if (b->plans[k].kind == PLAN_DUP_BATCH) /* repeats take the first event's id */
            memcpy(b->plans[k].id, b->plans[b->plans[k].dup_of].id, PROTO_ID_LEN);
    /* The submission holding the event that failed gets its index; the others of the
     * batch get an index past their events (none of theirs failed) and say why. */
    for (struct node_submit *s = subs; s; first += s->n, s = s->next) {
        s->rc = rc;
        s->err_index = s->n;
        if (rc == 0)
            continue;
        if (b->fail_k >= first && b->fail_k - first < s->n) {
            s->err_index = b->fail_k - first;
            snprintf(s->err, sizeof s->err, "%s", err);
        } else if (b->fail_k != SIZE_MAX) {
            snprintf(s->err, sizeof s->err,
                     "not appended: it was committed together with an event that failed (%s)",
                     err);
        } else {
            snprintf(s->err, sizeof s->err, "%s", err);
        }
    }
    for (struct chunk *c = b->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(b->plans);
    free(b);
    return subs;
}

/* --- planning ----------------------------------------------------------------------- */

/* Open-addressing map from text to batch position (items, event ids). */
struct strmap {
    const char **keys;
    size_t *vals;
    size_t mask;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static int strmap_init(struct strmap *m, size_t entries)
{
    size_t cap = 16;
    while (cap < 2 * entries)
        cap <<= 1;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->mask = cap - 1;
    return m->keys && m->vals ? 0 : TN_ERR_NOMEM;
}

static void strmap_release(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
}

/* The value slot of key, or NULL (and *found false) if absent. */
static size_t *strmap_find(struct strmap *m, const char *key)
{
    size_t i = fnv1a(key) & m->mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & m->mask;
    return m->keys[i] ? &m->vals[i] : NULL;
}

static void strmap_set(struct strmap *m, const char *key, size_t val)
{
    size_t i = fnv1a(key) & m->mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & m->mask;
    m->keys[i] = key;
    m->vals[i] = val;
}

struct item_note {
    struct strmap *map;
    size_t pos;
};

static void note_item(void *ctx, const char *item, char role)
{
    struct item_note *in = ctx;
    (void)role;
    strmap_set(in->map, item, in->pos); /* the latest holder wins */
}

int node_batch_plan(struct node *n, struct store_txn *txn, struct node_batch *b)
{
    struct strmap items = {0}, eids = {0};
    struct store_shard sh;
    size_t total_items = 0;
    int rc;

    rc = store_shard_get(txn, n->self->id, &sh);
    if (rc == TN_ERR_NOT_FOUND)
        memset(&sh, 0, sizeof sh), rc = 0;
    if (rc != 0)
        return rc;
    b->seq0 = sh.size;
    b->has_prev0 = sh.size > 0;
    memcpy(b->prev0, sh.head, PROTO_ID_LEN);

    for (size_t k = 0; k < b->count; k++) {
        const struct proto_record *r = &b->plans[k].ev->rec;
        total_items += r->n_outputs + r->n_inputs + r->n_items;
    }
    if ((rc = strmap_init(&items, total_items)) != 0 || (rc = strmap_init(&eids, b->count)) != 0)
        goto out;
    for (size_t k = 0; k < b->count; k++) {
        struct plan *p = &b->plans[k];
        struct proto_record *r = &p->ev->rec;
        struct item_note note = {&items, k};
        size_t *pos;

        p->kind = PLAN_NEW;
        if (r->eid) {
            /* a client event id the org already used: the existing record, nothing new */
            if ((pos = strmap_find(&eids, r->eid))) {
                p->kind = PLAN_DUP_BATCH;
                p->dup_of = *pos;
                continue;
            }
            strmap_set(&eids, r->eid, k);
            if (store_eid_get(txn, n->self->id, r->eid, p->id) == 0) {
                p->kind = PLAN_DUP_STORED;
                continue;
            }
        }
        if (!(p->input_ref = proto_arena_alloc(&r->arena, (r->n_inputs + 1) * sizeof(size_t)))) {
            rc = TN_ERR_NOMEM;
            goto out;
        }
        /* The record that last held each input: an earlier event of this batch, else this
         * org's latest record naming it, else the latest one naming it on this node. */
        for (size_t i = 0; i < r->n_inputs; i++) {
            struct proto_input *in = &r->inputs[i];
            p->input_ref[i] = NO_REF;
            if (in->has_rec)
                continue;
            if ((pos = strmap_find(&items, in->item)))
                p->input_ref[i] = *pos;
            else if (store_item_last(txn, in->item, n->self->id, in->rec) == 0 ||
                     store_item_last(txn, in->item, NULL, in->rec) == 0)
                in->has_rec = true;
        }
        proto_record_each_item(r, note_item, &note);
    }
out:
    strmap_release(&items);
    strmap_release(&eids);
    return rc;
}

/* --- signing ------------------------------------------------------------------------ */

static int seal_private(struct plan *p)
{
    struct proto_event *ev = p->ev;
    struct proto_record *r = &ev->rec;

    if (!ev->n_priv)
        return 0;
    p->salts = proto_arena_alloc(&r->arena, ev->n_priv * sizeof *p->salts);
    r->sealed = proto_arena_alloc(&r->arena, ev->n_priv * sizeof *r->sealed);
    if (!p->salts || !r->sealed)
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < ev->n_priv; i++) {
        crypto_hash_sha256_state st;
        randombytes_buf(p->salts[i], 32);
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, p->salts[i], 32);
        crypto_hash_sha256_update(&st, (const uint8_t *)ev->priv[i].value,
                                  strlen(ev->priv[i].value));
        crypto_hash_sha256_final(&st, r->sealed[i].digest);
        r->sealed[i].name = ev->priv[i].name;
    }
    r->n_sealed = ev->n_priv;
    return 0;
}

/* Room for one more record of at most PROTO_RECORD_MAX bytes. */
static uint8_t *chunk_room(struct node_batch *b)
{
    struct chunk *c = b->chunks;

    if (!c || CHUNK - c->used < PROTO_RECORD_MAX) {
        if (!(c = malloc(sizeof *c)))
            return NULL;
        c->used = 0;
        c->next = b->chunks;
        b->chunks = c;
    }
    return c->mem + c->used;
}

/* Signs every new record of b in order, publishing progress after each. */
static void sign_batch(struct node_signer *sg, struct node_batch *b)
{
    struct node *n = sg->n;
    uint64_t seq = b->seq0;
    uint8_t prev[PROTO_ID_LEN];
    bool has_prev = b->has_prev0;
    int rc = 0;

    memcpy(prev, b->prev0, PROTO_ID_LEN);
    for (size_t k = 0; k < b->count && rc == 0; k++) {
        struct plan *p = &b->plans[k];
        struct proto_record *r = &p->ev->rec;
        uint8_t *out;
        bool cancel;

        if (p->kind == PLAN_NEW) {
            r->v = PROTO_VERSION;
            r->net = node_eco(n)->network;
            r->org = n->self->id;
            r->seq = seq;
            r->has_prev = has_prev;
            memcpy(r->prev, prev, PROTO_ID_LEN);
            if (!p->ev->has_time)
                r->time = now_ms();
            for (size_t i = 0; i < r->n_inputs; i++)
                if (p->input_ref[i] != NO_REF) {
                    /* an earlier event of this batch: signed already, its id is final */
                    memcpy(r->inputs[i].rec, b->plans[p->input_ref[i]].id, PROTO_ID_LEN);
                    r->inputs[i].has_rec = true;
                }
            memcpy(r->signer, n->org_key.pk, CRY_PK_LEN);
            if (!(out = chunk_room(b)))
                rc = TN_ERR_NOMEM;
            if (rc == 0)
                rc = seal_private(p);
            if (rc == 0)
                rc = proto_record_sign(r, &n->org_key, out, PROTO_RECORD_MAX, &p->len,
                                       b->sign_err, sizeof b->sign_err);
            if (rc == 0) {
                b->chunks->used += p->len;
                p->bytes = out;
                proto_record_id(p->id, out, p->len);
                memcpy(prev, p->id, PROTO_ID_LEN);
                has_prev = true;
                seq++;
            }
        }
        uv_mutex_lock(&sg->mu);
        if (rc == 0)
            b->signed_upto = k + 1;
        else
            b->sign_rc = rc;
        cancel = b->cancel;
        /* Wake the writer only when what it waits for is there: a wake-up per record
         * cost the signer a futex call each (the signer is what bounds appends). */
        if (rc != 0 || (b->wanted && b->signed_upto >= b->wanted))
            uv_cond_broadcast(&sg->changed);
        uv_mutex_unlock(&sg->mu);
        if (cancel)
            break;
    }
}

static void signer_main(void *arg)
{
    struct node_signer *sg = arg;

    prctl(PR_SET_NAME, "tn-signer"); /* as top -H and perf show it */

    uv_mutex_lock(&sg->mu);
    for (;;) {
        struct node_batch *b;
        while (!sg->queue && !sg->stop)
            uv_cond_wait(&sg->changed, &sg->mu);
        if (!sg->queue)
            break;
        b = sg->queue;
        uv_mutex_unlock(&sg->mu);
        if (!b->cancel)
            sign_batch(sg, b);
        uv_mutex_lock(&sg->mu);
        sg->queue = b->next;
        if (!sg->queue)
            sg->tail = &sg->queue;
        b->signer_done = true;
        uv_cond_broadcast(&sg->changed);
    }
    uv_mutex_unlock(&sg->mu);
}

int node_signer_start(struct node *n, struct node_signer **out)
{
    struct node_signer *sg = calloc(1, sizeof *sg);

    if (!sg)
        return TN_ERR_NOMEM;
    sg->n = n;
    sg->tail = &sg->queue;
    if (uv_mutex_init(&sg->mu) != 0) {
        free(sg);
        return TN_ERR_NOMEM;
    }
    if (uv_cond_init(&sg->changed) != 0) {
        uv_mutex_destroy(&sg->mu);
        free(sg);
        return TN_ERR_NOMEM;
    }
    if (uv_thread_create(&sg->thread, signer_main, sg) != 0) {
        uv_cond_destroy(&sg->changed);
        uv_mutex_destroy(&sg->mu);
        free(sg);
        return TN_ERR_NOMEM;
    }
    *out = sg;
    return 0;
}

void node_signer_stop(struct node_signer *sg)
{
    if (!sg)
        return;
    uv_mutex_lock(&sg->mu);
    sg->stop = true;
    uv_cond_broadcast(&sg->changed);
    uv_mutex_unlock(&sg->mu);
    uv_thread_join(&sg->thread);
    uv_cond_destroy(&sg->changed);
    uv_mutex_destroy(&sg->mu);
    free(sg);
}

void node_signer_post(struct node_signer *sg, struct node_batch *b)
{
    uv_mutex_lock(&sg->mu);
    b->next = NULL;
    b->posted = true;
    *sg->tail = b;
    sg->tail = &b->next;
    uv_cond_broadcast(&sg->changed);
    uv_mutex_unlock(&sg->mu);
}

static void wait_released(struct node_signer *sg, struct node_batch *b, bool cancel)
{
    uv_mutex_lock(&sg->mu);
    b->cancel |= cancel;
    uv_cond_broadcast(&sg->changed);
    while (b->posted && !b->signer_done)
        uv_cond_wait(&sg->changed, &sg->mu);
    uv_mutex_unlock(&sg->mu);
}

void node_batch_cancel(struct node_signer *sg, struct node_batch *b)
{
    wait_released(sg, b, true);
}

static void node_batch_release(struct node_signer *sg, struct node_batch *b)
{
    wait_released(sg, b, false);
}

/* --- storing ------------------------------------------------------------------------ */

/* A copy of a record we just stored, for gossip to push. */
static struct node_repl *pushed_copy(const struct node *n, const struct plan *p)
{
    struct node_repl *r = calloc(1, sizeof *r);

    if (!r || !(r->bytes = malloc(p->len))) {
        free(r);
        return NULL;
    }
    r->kind = REPL_RECORD;
    r->result = REPL_APPENDED;
    snprintf(r->org, sizeof r->org, "%s", n->self->id);
    r->seq = p->ev->rec.seq;
    memcpy(r->bytes, p->bytes, p->len);
    r->len = p->len;
    memcpy(r->id, p->id, PROTO_ID_LEN);
    return r;
}

int node_batch_store(struct node_signer *sg, struct store_txn *txn, struct node_batch *b,
                     size_t *appended, struct node_repl **pushed, char *err, size_t errlen)
{
    struct node *n = sg->n;
    struct node_repl **tail = pushed;
    size_t ready = 0;
    int rc = 0;

    *appended = 0;
    *pushed = NULL;
    for (size_t k = 0; k < b->count && rc == 0; k++) {
        struct plan *p = &b->plans[k];
        bool added;

        if (k >= ready) { /* wait for the signer: take everything it has done so far */
            uv_mutex_lock(&sg->mu);
            if (b->signed_upto <= k) /* asleep, take a run of records at once */
                b->wanted = k + STORE_STRIDE < b->count ? k + STORE_STRIDE : b->count;
            while (b->signed_upto < b->wanted && b->sign_rc == 0)
                uv_cond_wait(&sg->changed, &sg->mu);
            b->wanted = 0;
            ready = b->signed_upto;
            rc = b->signed_upto <= k ? b->sign_rc : 0;
            if (rc != 0) {
                b->fail_k = k; /* the signer stopped at k: everything before it is stored */
                snprintf(err, errlen, "%s", b->sign_err[0] ? b->sign_err : tn_strerror(rc));
            }
            uv_mutex_unlock(&sg->mu);
            if (rc != 0)
                break;
        }
        if (p->kind != PLAN_NEW)
            continue;
        rc = store_append(txn, node_eco(n), p->bytes, p->len, &p->ev->rec,
                          STORE_APPEND_VERIFIED | STORE_APPEND_ID_GIVEN, p->id, &added, err,
                          errlen);
        for (size_t i = 0; rc == 0 && i < p->ev->n_priv; i++)
            if ((rc = store_secret_put(txn, p->id, p->ev->priv[i].name, p->salts[i],
                                       p->ev->priv[i].value)) != 0)
                snprintf(err, errlen, "cannot store a private field: %s", tn_strerror(rc));
        if (p->salts)
            sodium_memzero(p->salts, p->ev->n_priv * sizeof *p->salts);
        if (rc != 0 && !error_of_node(rc))
            b->fail_k = k; /* the event's own fault, not the disk's or the memory's */
        if (rc == 0) {
            struct node_repl *r = pushed_copy(n, p);
            (*appended)++;
            if (r) { /* out of memory only costs the eager push; the clock still works */
                *tail = r;
                tail = &r->next;
            }
        }
    }
    /* On success this only waits for the signer to move past b; on error it stops it. */
    if (rc != 0)
        node_batch_cancel(sg, b);
    else
        node_batch_release(sg, b);
    return rc;
}
