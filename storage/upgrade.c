/* Bringing an older repository to the current format, in the write transaction that opens
 * it, so an upgrade happens whole or not at all. Everything rebuilt is derived from the
 * stored records, and checked against what the old format held before it is replaced.
 *
 *   v1: no MUD URL index                    -> built from the mud-anchor records
 *   v1, v2: Merkle nodes keyed by (shard, level, index)
 *                                           -> rebuilt under post-order keys (merkle_store.c)
 */
#include "storage/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Format v1 had no MUD URL index: build it from the stored mud-anchor records. */
static int build_mud_index(struct store_txn *t, char *err, size_t errlen)
{
    MDB_cursor *c;
    MDB_val k, v;
    int mrc, rc = 0;

    if ((mrc = mdb_cursor_open(t->txn, t->repo->records, &c)) != 0)
        return store__err(mrc);
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        struct proto_record r;
        char why[200];
        if (k.mv_size != 12 || v.mv_size <= PROTO_ID_LEN) {
            snprintf(err, errlen, "a stored record has a malformed key or value");
            rc = TN_ERR_CORRUPT;
            break;
        }
        proto_record_init(&r);
        if (proto_record_decode((const uint8_t *)v.mv_data + PROTO_ID_LEN,
                                v.mv_size - PROTO_ID_LEN, &r, why, sizeof why) != 0) {
            snprintf(err, errlen, "a stored record does not decode: %s", why);
            rc = TN_ERR_CORRUPT;
        } else if (r.type == PROTO_T_MUD_ANCHOR && r.mud) {
            rc = store__mud_index(t, store__get_be32(k.mv_data), &r, v.mv_data);
        }
        proto_record_release(&r);
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = store__err(mrc);
    return rc;
}

/* --- the Merkle nodes ------------------------------------------------------------------ */

struct old_shard {
    char org[PROTO_ID_MAX + 1];
    uint32_t no;
    uint64_t size;
    uint8_t root[CRY_HASH_LEN]; /* under the old keys, at size */
    uint64_t held;              /* records found while rebuilding */
};

struct shards {
    struct store_txn *txn;
    struct old_shard *s;
    size_t n, cap;
    char *err;
    size_t errlen;
};

struct v2_tree {
    struct store_txn *txn;
    uint32_t no;
};

/* A node of shard no under format v2's key, shard (4) | level (1) | index (8). */
static int v2_node(void *ctx, unsigned level, uint64_t index, uint8_t out[CRY_HASH_LEN])
{
    const struct v2_tree *t = ctx;
    uint8_t key[13];
    int rc;

    store__put_be32(key, t->no);
    key[4] = (uint8_t)level;
    store__put_be64(key + 5, index);
    rc = store__merkle_read(t->txn, key, sizeof key, out);
    return rc == TN_ERR_NOT_FOUND ? TN_ERR_CORRUPT : rc;
}

/* Notes each shard and its root under the old keys. */
static int note_shard(void *ctx, const char *org, const struct store_shard *s)
{
    struct shards *sh = ctx;
    struct v2_tree tree = {sh->txn, s->no};
    struct cry_merkle_source src = {v2_node, &tree};
    struct old_shard *o;
    int rc;

    if (sh->n == sh->cap) {
        size_t cap = sh->cap ? 2 * sh->cap : 16;
        struct old_shard *grown = realloc(sh->s, cap * sizeof *grown);
        if (!grown)
            return TN_ERR_NOMEM;
        sh->s = grown;
        sh->cap = cap;
    }
    o = &sh->s[sh->n];
    snprintf(o->org, sizeof o->org, "%s", org);
    o->no = s->no;
    o->size = s->size;
    o->held = 0;
    if ((rc = cry_merkle_root(&src, s->size, o->root)) != 0) {
        snprintf(sh->err, sh->errlen, "shard %s: its Merkle tree of %llu records is %s", org,
                 (unsigned long long)s->size,
                 rc == TN_ERR_CORRUPT ? "incomplete" : tn_strerror(rc));
        return rc;
    }
    sh->n++;
    return 0;
}

static struct old_shard *shard_no(struct shards *sh, uint32_t no)
{
    for (size_t i = 0; i < sh->n; i++)
        if (sh->s[i].no == no)
            return &sh->s[i];
    return NULL;
}

/* Adds every stored record as a leaf of its shard's new tree, checking that each shard's
 * records are exactly its positions 0 .. size-1. */
static int add_leaves(struct shards *sh)
{
    struct store_txn *txn = sh->txn;
    struct old_shard *cur = NULL;
    MDB_cursor *c;
    MDB_val k, v;
    int mrc, rc;

    if ((rc = store__err(mdb_cursor_open(txn->txn, txn->repo->records, &c))) != 0)
        return rc;
    /* records are keyed shard (4) | seq (8), so the cursor walks each shard in order */
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint8_t leaf[CRY_HASH_LEN];
        uint32_t no;
        uint64_t seq;

        if (k.mv_size != 12 || v.mv_size <= PROTO_ID_LEN) {
            snprintf(sh->err, sh->errlen, "a stored record has a malformed key or value");
            rc = TN_ERR_CORRUPT;
            break;
        }
        no = store__get_be32(k.mv_data);
        seq = store__get_be64((const uint8_t *)k.mv_data + 4);
        if ((!cur || cur->no != no) && !(cur = shard_no(sh, no))) {
            snprintf(sh->err, sh->errlen, "records of shard number %u, which no org has",
                     (unsigned)no);
            rc = TN_ERR_CORRUPT;
            break;
        }
        if (seq != cur->held || seq >= cur->size) {
            snprintf(sh->err, sh->errlen, "shard %s: record %llu is %s", cur->org,
                     (unsigned long long)cur->held,
                     seq != cur->held ? "missing" : "past the shard's size");
            rc = TN_ERR_CORRUPT;
            break;
        }
        cur->held++;
        cry_merkle_leaf_hash(leaf, (const uint8_t *)v.mv_data + PROTO_ID_LEN,
                             v.mv_size - PROTO_ID_LEN);
        rc = store__merkle_add_leaf(txn, no, seq, leaf);
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = store__err(mrc);
    for (size_t i = 0; rc == 0 && i < sh->n; i++)
        if (sh->s[i].held != sh->s[i].size) {
            snprintf(sh->err, sh->errlen, "shard %s: %llu records stored where it holds %llu",
                     sh->s[i].org, (unsigned long long)sh->s[i].held,
                     (unsigned long long)sh->s[i].size);
            rc = TN_ERR_CORRUPT;
        }
    return rc;
}

/* v1 and v2 kept Merkle nodes under (shard, level, index): rebuilds them under post-order
 * keys from the records, and refuses unless every shard's records are exactly its size and
 * its rebuilt root equals the root of the tree it replaces. */
static int rekey_merkle(struct store_txn *txn, char *err, size_t errlen)
{
    struct shards sh = {.txn = txn, .err = err, .errlen = errlen};
    int rc;

    if ((rc = store_shard_each(txn, note_shard, &sh)) != 0)
        goto out;
    if ((rc = store__err(mdb_drop(txn->txn, txn->repo->merkle, 0))) != 0)
        goto out;
    if ((rc = add_leaves(&sh)) != 0)
        goto out;
    for (size_t i = 0; i < sh.n && rc == 0; i++) {
        uint8_t root[CRY_HASH_LEN];
        if ((rc = store_root(txn, sh.s[i].org, sh.s[i].size, root)) == 0 &&
            memcmp(root, sh.s[i].root, CRY_HASH_LEN) != 0) {
            snprintf(err, errlen,
                     "shard %s: the tree rebuilt from its records has another root than the "
                     "stored one at %llu records",
                     sh.s[i].org, (unsigned long long)sh.s[i].size);
            rc = TN_ERR_CORRUPT;
        }
    }
out:
    free(sh.s);
    return rc;
}

int store__upgrade(struct store_txn *txn, bool from_v1, char *err, size_t errlen)
{
    int rc = 0;

    err[0] = '\0';
    if (from_v1)
        rc = build_mud_index(txn, err, errlen);
    if (rc == 0)
        rc = rekey_merkle(txn, err, errlen);
    if (rc != 0 && !err[0])
        snprintf(err, errlen, "%s%s", tn_strerror(rc),
                 rc == TN_ERR_MAP_FULL ? " (the upgrade needs room for the old and the new "
                                         "Merkle tree at once: start tracenode with a larger "
                                         "--map-size)"
                                       : "");
    return rc;
}
