/* store_fsck: re-verifies a whole repository from its own bytes (see repo.h).
 *
 * Pass 1 walks every shard in order (decoding and signatures on every core): each record's bytes, id, strict decoding, place in
 * the chain, signer and signature (store_check_record, the same checks as at append),
 * its id index entry, and every stored Merkle node, recomputed the way appends build them
 * (so the roots the node serves are right); then every stored checkpoint of the shard
 * against its org's keys and the recomputed tree. It also counts the index entries the
 * records call for. Pass 2 walks every index and checks each entry against the record it
 * names; with the counts, that makes each index exactly the one the records imply. */
#include "storage/internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"

#define MAX_LEVELS 64

struct fsck {
    struct store_txn *txn;
    const struct proto_ecosystem *eco;
    bool signatures;
    store_fsck_cb fn;
    void *ctx;
    struct store_fsck_stats *st;
    /* index entries the records call for */
    uint64_t want_items, want_consumers, want_refs, want_mud;
};

__attribute__((format(printf, 4, 5))) static void problem(struct fsck *f, const char *org,
                                                          int64_t seq, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    f->st->problems++;
    f->fn(f->ctx, org, seq, msg);
}

/* --- pass 1: shards -------------------------------------------------------------------- */

/* Distinct (item, role) pairs of a record: what its items index entries are (one per
 * pair; the same item twice in one role is stored once). */
struct pairs {
    const char *item[PROTO_RECORD_MAX / 2];
    char role[PROTO_RECORD_MAX / 2];
    size_t n;
};

static void count_pair(void *ctx, const char *item, char role)
{
    struct pairs *p = ctx;
    for (size_t i = 0; i < p->n; i++)
        if (p->role[i] == role && strcmp(p->item[i], item) == 0)
            return;
    if (p->n < sizeof p->item / sizeof p->item[0]) {
        p->item[p->n] = item;
        p->role[p->n++] = role;
    }
}

static uint64_t distinct_input_links(const struct proto_record *r)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->n_inputs; i++) {
        bool seen = false;
        if (!r->inputs[i].has_rec)
            continue;
        for (size_t k = 0; k < i && !seen; k++)
            seen = r->inputs[k].has_rec &&
                   memcmp(r->inputs[k].rec, r->inputs[i].rec, PROTO_ID_LEN) == 0;
        n += !seen;
    }
    return n;
}

/* The Merkle frontier of a shard being re-read: the perfect subtrees still waiting for a
 * right sibling, by level (as store__merkle_add_leaf builds them). */
struct frontier {
    uint8_t h[MAX_LEVELS][CRY_HASH_LEN];
};

/* Adds leaf index, comparing every node it completes with the stored one. */
static int merkle_leaf(struct fsck *f, const char *org, const struct store_shard *s,
                       struct frontier *fr, uint64_t index, const uint8_t leaf[CRY_HASH_LEN])
{
    uint8_t h[CRY_HASH_LEN], stored[CRY_HASH_LEN];
    unsigned level = 0;
    int rc;

    memcpy(h, leaf, CRY_HASH_LEN);
    for (;;) {
        rc = store__merkle_get(f->txn, s->no, level, index, stored);
        if (rc == TN_ERR_NOT_FOUND || (rc == 0 && memcmp(stored, h, CRY_HASH_LEN) != 0))
            problem(f, org, (int64_t)(index << level),
                    "Merkle node (level %u, index %llu) is %s", level,
                    (unsigned long long)index, rc == 0 ? "wrong" : "missing");
        else if (rc != 0)
            return rc;
        f->st->merkle_nodes++;
        if (!(index & 1) || level + 1 >= MAX_LEVELS)
            break;
        cry_merkle_node_hash(h, fr->h[level], h);
        level++;
        index >>= 1;
    }
    memcpy(fr->h[level], h, CRY_HASH_LEN);
    return 0;
}

static void check_eid(struct fsck *f, const char *org, const struct store_shard *s,
                      const struct proto_record *r)
{
    uint8_t key[4 + TEXT_KEY_MAX], id[PROTO_ID_LEN];
    MDB_val k = {4 + store__text_key(key + 4, r->eid), key}, v;
    const uint8_t *b;
    size_t len;
    struct proto_record first;
    char why[200];

    store__put_be32(key, s->no);
    if (mdb_get(f->txn->txn, f->txn->repo->eids, &k, &v) != 0 || v.mv_size != PROTO_ID_LEN) {
        problem(f, org, (int64_t)r->seq, "event id '%s' is not indexed", r->eid);
        return;
    }
    memcpy(id, v.mv_data, PROTO_ID_LEN);
    /* the first record with the event id keeps it */
    proto_record_init(&first);
    if (store_record_get(f->txn, id, &b, &len) != 0 ||
        proto_record_decode(b, len, &first, why, sizeof why) != 0 || !first.eid ||
        strcmp(first.eid, r->eid) != 0 || strcmp(first.org, org) != 0 || first.seq > r->seq)
        problem(f, org, (int64_t)r->seq, "event id '%s' is indexed to the wrong record", r->eid);
    proto_record_release(&first);
}

static void check_checkpoints(struct fsck *f, const char *org, const struct store_shard *s)
{
    const struct proto_org *o = proto_ecosystem_org(f->eco, org);
    char origin[CRY_ORIGIN_MAX + 1];
    uint8_t key[12];
    MDB_val k = {sizeof key, key}, v;
    MDB_cursor *c;
    int rc;

    snprintf(origin, sizeof origin, "%s/%s", f->eco->network, org);
    store__put_be32(key, s->no);
    store__put_be64(key + 4, 0);
    if (mdb_cursor_open(f->txn->txn, f->txn->repo->checkpoints, &c) != 0)
        return;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        struct cry_checkpoint cp;
        uint64_t size;
        uint8_t root[CRY_HASH_LEN];
        bool ok = false;
        if (k.mv_size != 12 || store__get_be32(k.mv_data) != s->no)
            break;
        size = store__get_be64((const uint8_t *)k.mv_data + 4);
        f->st->checkpoints++;
        /* signed by one of the org's keys (it may have rotated since) */
        for (size_t i = 0; o && i < o->n_keys && !ok; i++)
            ok = cry_checkpoint_verify(v.mv_data, v.mv_size, origin, o->keys[i].pk, &cp) == 0;
        if (!ok) {
            problem(f, org, -1, "checkpoint of size %llu is not signed by the org",
                    (unsigned long long)size);
        } else if (cp.size != size || size > s->size) {
            problem(f, org, -1, "checkpoint of size %llu is stored under size %llu (shard size "
                    "%llu)", (unsigned long long)cp.size, (unsigned long long)size,
                    (unsigned long long)s->size);
        } else if (store_root(f->txn, org, size, root) != 0 ||
                   memcmp(root, cp.root, CRY_HASH_LEN) != 0) {
            problem(f, org, -1, "checkpoint of size %llu: its root is not the shard's root",
                    (unsigned long long)size);
        }
    }
    mdb_cursor_close(c);
}

/* The records of a shard are read in chunks: the main thread takes the bytes out of the
 * map (valid for the whole read transaction), worker threads decode and check each
 * (signatures dominate the cost), then the main thread checks the chain, the Merkle nodes
 * and the indexes in order. */
#define CHUNK 2048

struct slot {
    bool present, reported;
    const uint8_t *bytes, *stored_id;
    size_t len;
    uint8_t id[PROTO_ID_LEN];
    struct proto_record rec;
    bool decoded;
    char why[256];  /* decoding */
    char check[256]; /* store_check_record, "" when it passed */
};

struct chunk {
    struct fsck *f;
    struct slot *slots;
    size_t n;
    size_t next; /* the next slot to take, under mu */
    pthread_mutex_t mu;
};

static void *check_worker(void *arg)
{
    struct chunk *c = arg;

    for (;;) {
        struct slot *sl;
        size_t i;
        pthread_mutex_lock(&c->mu);
        i = c->next++;
        pthread_mutex_unlock(&c->mu);
        if (i >= c->n)
            return NULL;
        sl = &c->slots[i];
        if (!sl->present)
            continue;
        proto_record_id(sl->id, sl->bytes, sl->len);
        sl->decoded = proto_record_decode(sl->bytes, sl->len, &sl->rec, sl->why,
                                          sizeof sl->why) == 0;
        if (sl->decoded &&
            store_check_record(c->f->eco, &sl->rec, c->f->signatures, sl->check,
                               sizeof sl->check) == 0)
            sl->check[0] = '\0';
    }
}

static void check_chunk(struct chunk *c)
{
    pthread_t tids[8];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores, started = 0;

    c->next = 0;
    for (int t = 1; t < n; t++)
        if (pthread_create(&tids[started], NULL, check_worker, c) == 0)
            started++;
    check_worker(c);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* The checks that need the order of the shard and the repository, for one record. */
static int check_in_order(struct fsck *f, const char *org, const struct store_shard *s,
                          struct frontier *fr, struct pairs *pairs, struct slot *sl,
                          uint64_t seq, uint8_t prev[PROTO_ID_LEN])
{
    uint8_t pos[12], leaf[CRY_HASH_LEN];
    MDB_val ik = {PROTO_ID_LEN, sl->id}, iv;
    const struct proto_record *r = &sl->rec;
    int rc;

    store__put_be32(pos, s->no);
    store__put_be64(pos + 4, seq);
    if (memcmp(sl->id, sl->stored_id, PROTO_ID_LEN) != 0)
        problem(f, org, (int64_t)seq, "the bytes do not hash to the stored record id");
    cry_merkle_leaf_hash(leaf, sl->bytes, sl->len);
    if ((rc = merkle_leaf(f, org, s, fr, seq, leaf)) != 0)
        return rc;
    if (mdb_get(f->txn->txn, f->txn->repo->ids, &ik, &iv) != 0 || iv.mv_size != 12 ||
        memcmp(iv.mv_data, pos, 12) != 0)
        problem(f, org, (int64_t)seq, "the id index does not point at this record");
    if (!sl->decoded) {
        problem(f, org, (int64_t)seq, "not a well-formed record: %s", sl->why);
    } else {
        if (strcmp(r->org, org) != 0 || r->seq != seq)
            problem(f, org, (int64_t)seq, "the record says org %s seq %llu", r->org,
                    (unsigned long long)r->seq);
        if (seq == 0 ? r->has_prev : (!r->has_prev || memcmp(r->prev, prev, PROTO_ID_LEN) != 0))
            problem(f, org, (int64_t)seq, "prev does not name the record before it");
        if (sl->check[0])
            problem(f, org, (int64_t)seq, "%s", sl->check);
        pairs->n = 0;
        proto_record_each_item(r, count_pair, pairs);
        f->want_items += pairs->n;
        f->want_consumers += distinct_input_links(r);
        f->want_refs += r->has_ref;
        f->want_mud += r->type == PROTO_T_MUD_ANCHOR && r->mud;
        if (r->eid)
            check_eid(f, org, s, r);
    }
    memcpy(prev, sl->id, PROTO_ID_LEN);
    return 0;
}

static int check_shard(void *ctx, const char *org, const struct store_shard *s)
{
    struct fsck *f = ctx;
    struct frontier *fr = calloc(1, sizeof *fr);
    struct pairs *pairs = malloc(sizeof *pairs);
    struct chunk c = {.f = f, .slots = calloc(CHUNK, sizeof(struct slot))};
    uint8_t prev[PROTO_ID_LEN] = {0};
    int rc = 0;

    if (!fr || !pairs || !c.slots) {
        free(fr);
        free(pairs);
        free(c.slots);
        return TN_ERR_NOMEM;
    }
    pthread_mutex_init(&c.mu, NULL);
    f->st->shards++;
    for (uint64_t base = 0; base < s->size && rc == 0; base += CHUNK) {
        c.n = s->size - base < CHUNK ? (size_t)(s->size - base) : CHUNK;
        for (size_t i = 0; i < c.n; i++) {
            struct slot *sl = &c.slots[i];
            uint8_t pos[12];
            MDB_val k = {sizeof pos, pos}, v;
            int mrc;
            memset(sl, 0, sizeof *sl);
            proto_record_init(&sl->rec);
            store__put_be32(pos, s->no);
            store__put_be64(pos + 4, base + i);
            if ((mrc = mdb_get(f->txn->txn, f->txn->repo->records, &k, &v)) != 0) {
                if (mrc != MDB_NOTFOUND)
                    rc = store__err(mrc);
                continue;
            }
            if (v.mv_size <= PROTO_ID_LEN) {
                problem(f, org, (int64_t)(base + i), "stored value too short");
                sl->reported = true;
                continue;
            }
            sl->present = true;
            sl->stored_id = v.mv_data;
            sl->bytes = (const uint8_t *)v.mv_data + PROTO_ID_LEN;
            sl->len = v.mv_size - PROTO_ID_LEN;
        }
        if (rc == 0)
            check_chunk(&c);
        for (size_t i = 0; i < c.n; i++) {
            struct slot *sl = &c.slots[i];
            if (rc == 0 && sl->present) {
                f->st->records++;
                rc = check_in_order(f, org, s, fr, pairs, sl, base + i, prev);
            } else if (rc == 0 && !sl->reported) {
                problem(f, org, (int64_t)(base + i), "record missing (the shard has %llu)",
                        (unsigned long long)s->size);
                memset(prev, 0, sizeof prev);
            }
            proto_record_release(&sl->rec);
        }
    }
    if (rc == 0) {
        uint8_t pos[12];
        MDB_val k = {sizeof pos, pos}, v;
        static const uint8_t zero[PROTO_ID_LEN];
        if (memcmp(s->head, s->size ? prev : zero, PROTO_ID_LEN) != 0)
            problem(f, org, -1, "the shard's head is not its last record");
        store__put_be32(pos, s->no); /* nothing stored past the end */
        store__put_be64(pos + 4, s->size);
        if (mdb_get(f->txn->txn, f->txn->repo->records, &k, &v) == 0)
            problem(f, org, (int64_t)s->size, "a record is stored past the shard's end");
        check_checkpoints(f, org, s);
    }
    pthread_mutex_destroy(&c.mu);
    free(fr);
    free(pairs);
    free(c.slots);
    return rc;
}

/* --- pass 2: indexes ------------------------------------------------------------------- */

/* The record an index entry names, decoded; false (with a problem) if it is not held. */
static bool entry_record(struct fsck *f, const char *index, const uint8_t id[PROTO_ID_LEN],
                         struct proto_record *r)
{
    const uint8_t *b;
    size_t len;
    char why[200], hex[CRY_HEX_LEN(PROTO_ID_LEN)];

    if (store_record_get(f->txn, id, &b, &len) == 0 &&
        proto_record_decode(b, len, r, why, sizeof why) == 0)
        return true;
    cry_hex(hex, id, PROTO_ID_LEN);
    problem(f, NULL, -1, "%s index names record %s, which is not held", index, hex);
    return false;
}

/* Calls check for every (key, value) of an index; counts them. */
typedef void (*entry_cb)(struct fsck *f, const MDB_val *k, const MDB_val *v);

static int scan(struct fsck *f, MDB_dbi dbi, entry_cb check, uint64_t *count)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(f->txn->txn, dbi, &c)) != 0)
        return store__err(rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        (*count)++;
        f->st->index_entries++;
        if (check)
            check(f, &k, &v);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : store__err(rc);
}

struct item_match {
    const MDB_val *key;
    char role;
    bool found;
};

static void match_item(void *ctx, const char *item, char role)
{
    struct item_match *m = ctx;
    uint8_t key[TEXT_KEY_MAX];
    size_t n = store__text_key(key, item);
    if (role == m->role && n == m->key->mv_size && memcmp(key, m->key->mv_data, n) == 0)
        m->found = true;
}

static void check_item_entry(struct fsck *f, const MDB_val *k, const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    struct proto_record r;
    struct item_match m = {.key = k};

    if (v->mv_size != ITEM_VAL_LEN) {
        problem(f, NULL, -1, "items index: an entry of the wrong size");
        return;
    }
    m.role = (char)p[12];
    proto_record_init(&r);
    if (entry_record(f, "items", p + 13, &r)) {
        proto_record_each_item(&r, match_item, &m);
        if (!m.found)
            problem(f, r.org, (int64_t)r.seq, "items index: the record does not name the item "
                                              "the entry is filed under");
    }
    proto_record_release(&r);
}

static void check_consumer_entry(struct fsck *f, const MDB_val *k, const MDB_val *v)
{
    struct proto_record r;
    bool found = false;

    if (k->mv_size != PROTO_ID_LEN || v->mv_size != PROTO_ID_LEN) {
        problem(f, NULL, -1, "consumers index: an entry of the wrong size");
        return;
    }
    proto_record_init(&r);
    if (entry_record(f, "consumers", v->mv_data, &r)) {
        for (size_t i = 0; i < r.n_inputs && !found; i++)
            found = r.inputs[i].has_rec &&
                    memcmp(r.inputs[i].rec, k->mv_data, PROTO_ID_LEN) == 0;
        if (!found)
            problem(f, r.org, (int64_t)r.seq, "consumers index: the record has no input linking "
                                              "to the record it is filed under");
    }
    proto_record_release(&r);
}

static void check_ref_entry(struct fsck *f, const MDB_val *k, const MDB_val *v)
{
    struct proto_record r;

    if (k->mv_size != PROTO_ID_LEN || v->mv_size != PROTO_ID_LEN) {
        problem(f, NULL, -1, "refs index: an entry of the wrong size");
        return;
    }
    proto_record_init(&r);
    if (entry_record(f, "refs", v->mv_data, &r) &&
        (!r.has_ref || memcmp(r.ref, k->mv_data, PROTO_ID_LEN) != 0))
        problem(f, r.org, (int64_t)r.seq, "refs index: the record's ref is not the record it is "
                                          "filed under");
    proto_record_release(&r);
}

static void check_mud_entry(struct fsck *f, const MDB_val *k, const MDB_val *v)
{
    struct proto_record r;
    uint8_t key[TEXT_KEY_MAX];
    struct store_shard s;

    if (v->mv_size != 4 + PROTO_ID_LEN) {
        problem(f, NULL, -1, "mud index: an entry of the wrong size");
        return;
    }
    proto_record_init(&r);
    if (entry_record(f, "mud", (const uint8_t *)v->mv_data + 4, &r)) {
        size_t n = r.mud ? store__text_key(key, r.mud->url) : 0;
        if (!r.mud || n != k->mv_size || memcmp(key, k->mv_data, n) != 0 ||
            store_shard_get(f->txn, r.org, &s) != 0 ||
            s.no != store__get_be32(v->mv_data))
            problem(f, r.org, (int64_t)r.seq, "mud index: the entry does not match the anchor");
    }
    proto_record_release(&r);
}

static void check_eid_entry(struct fsck *f, const MDB_val *k, const MDB_val *v)
{
    struct proto_record r;
    uint8_t key[TEXT_KEY_MAX];
    struct store_shard s;

    if (k->mv_size < 4 || v->mv_size != PROTO_ID_LEN) {
        problem(f, NULL, -1, "eids index: an entry of the wrong size");
        return;
    }
    proto_record_init(&r);
    if (entry_record(f, "eids", v->mv_data, &r)) {
        size_t n = r.eid ? store__text_key(key, r.eid) : 0;
        if (!r.eid || n != k->mv_size - 4 || memcmp(key, (const uint8_t *)k->mv_data + 4, n) != 0 ||
            store_shard_get(f->txn, r.org, &s) != 0 || s.no != store__get_be32(k->mv_data))
            problem(f, r.org, (int64_t)r.seq, "eids index: the entry does not match the record");
    }
    proto_record_release(&r);
}

static void compare(struct fsck *f, const char *index, uint64_t have, uint64_t want)
{
    if (have != want)
        problem(f, NULL, -1, "%s index has %llu entries; the records call for %llu", index,
                (unsigned long long)have, (unsigned long long)want);
}

int store_fsck(struct store_txn *txn, const struct proto_ecosystem *eco, bool signatures,
               store_fsck_cb fn, void *ctx, struct store_fsck_stats *st)
{
    struct fsck f = {.txn = txn, .eco = eco, .signatures = signatures, .fn = fn, .ctx = ctx,
                     .st = st};
    struct store_repo *repo = txn->repo;
    uint64_t n_ids = 0, n_items = 0, n_cons = 0, n_refs = 0, n_mud = 0, n_eids = 0;
    int rc;

    memset(st, 0, sizeof *st);
    if ((rc = store_shard_each(txn, check_shard, &f)) != 0)
        return rc;
    if ((rc = scan(&f, repo->ids, NULL, &n_ids)) != 0 ||
        (rc = scan(&f, repo->items, check_item_entry, &n_items)) != 0 ||
        (rc = scan(&f, repo->consumers, check_consumer_entry, &n_cons)) != 0 ||
        (rc = scan(&f, repo->refs, check_ref_entry, &n_refs)) != 0 ||
        (rc = scan(&f, repo->mud, check_mud_entry, &n_mud)) != 0 ||
        (rc = scan(&f, repo->eids, check_eid_entry, &n_eids)) != 0)
        return rc;
    compare(&f, "id", n_ids, st->records);
    compare(&f, "items", n_items, f.want_items);
    compare(&f, "consumers", n_cons, f.want_consumers);
    compare(&f, "refs", n_refs, f.want_refs);
    compare(&f, "mud", n_mud, f.want_mud);
    {
        /* nodes no shard's tree has would never be read, so only their count shows them */
        MDB_stat ms;
        if ((rc = store__err(mdb_stat(txn->txn, repo->merkle, &ms))) != 0)
            return rc;
        compare(&f, "merkle", ms.ms_entries, st->merkle_nodes);
    }
    return 0;
}
