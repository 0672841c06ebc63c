/* Persisted Merkle nodes (RFC 9162 trees, one per shard) and checkpoints.
 *
 * Only complete ("perfect") subtrees are stored; they never change once written because
 * shards are append-only. Any RFC 9162 range hash is built from O(log n) of them
 * (crypto/merkle.h).
 *
 * A node is keyed by its shard and its position in post-order, the order in which appends
 * complete them: leaf 0, leaf 1, node (1,0), leaf 2, leaf 3, (1,1), (2,0), ... So every
 * node a shard gains goes after all of that shard's nodes, and LMDB leaves a page full when
 * the entry it splits for goes at the page's end. Format v2 keyed them by (shard, level,
 * index): each new leaf went between levels 0 and 1, every page split in the middle and
 * the database was half empty (230 bytes a record at 1,000,000 records in one shard, 111
 * now). With several shards growing, the page where one shard's range meets the next
 * still splits in the middle (docs/STORAGE.md). */
#include "storage/internal.h"

#include <string.h>

#include "crypto/checkpoint.h"

#define NODE_KEY_LEN 12

/* After m leaves a shard holds 2m - popcount(m) perfect subtrees. Subtree (level, index)
 * is completed by leaf m - 1 with m = (index + 1) * 2^level, after the subtrees of the
 * first m - 1 leaves and the `level` smaller ones leaf m - 1 completes on the way up. */
static bool node_key(uint8_t key[NODE_KEY_LEN], uint32_t shard, unsigned level, uint64_t index)
{
    uint64_t m, before;

    if (level > 62 || index >= (UINT64_C(1) << (62 - level)))
        return false; /* not a node of any shard that fits in a map */
    m = (index + 1) << level;
    before = 2 * (m - 1) - (uint64_t)__builtin_popcountll(m - 1);
    store__put_be32(key, shard);
    store__put_be64(key + 4, before + level);
    return true;
}

int store__merkle_read(struct store_txn *txn, const uint8_t *key, size_t key_len,
                       uint8_t out[CRY_HASH_LEN])
{
    MDB_val k = {key_len, (void *)key}, v;
    int rc;

    if ((rc = mdb_get(txn->txn, txn->repo->merkle, &k, &v)) != 0)
        return store__err(rc);
    if (v.mv_size != CRY_HASH_LEN)
        return TN_ERR_CORRUPT;
    memcpy(out, v.mv_data, CRY_HASH_LEN);
    return 0;
}

int store__merkle_get(struct store_txn *txn, uint32_t shard, unsigned level, uint64_t index,
                      uint8_t out[CRY_HASH_LEN])
{
    uint8_t key[NODE_KEY_LEN];

    if (!node_key(key, shard, level, index))
        return TN_ERR_NOT_FOUND;
    return store__merkle_read(txn, key, sizeof key, out);
}

/* A node the shard's size says is there: missing means the repository is damaged. */
static int node_get(struct store_txn *txn, uint32_t shard, unsigned level, uint64_t index,
                    uint8_t out[CRY_HASH_LEN])
{
    int rc = store__merkle_get(txn, shard, level, index, out);
    return rc == TN_ERR_NOT_FOUND ? TN_ERR_CORRUPT : rc;
}

static int node_put(struct store_txn *txn, uint32_t shard, unsigned level, uint64_t index,
                    const uint8_t h[CRY_HASH_LEN])
{
    uint8_t key[NODE_KEY_LEN];
    MDB_val k = {sizeof key, key}, v = {CRY_HASH_LEN, (void *)h};

    if (!node_key(key, shard, level, index))
        return TN_ERR_TOO_BIG;
    return store__err(mdb_put(txn->txn, txn->repo->merkle, &k, &v, 0));
}

int store__merkle_add_leaf(struct store_txn *txn, uint32_t shard, uint64_t index,
                           const uint8_t leaf[CRY_HASH_LEN])
{
    uint8_t h[CRY_HASH_LEN], left[CRY_HASH_LEN];
    unsigned level = 0;
    int rc;

    memcpy(h, leaf, CRY_HASH_LEN);
    if ((rc = node_put(txn, shard, 0, index, h)) != 0)
        return rc;
    /* Each odd index completes a subtree one level up with its left sibling. */
    while (index & 1) {
        if ((rc = node_get(txn, shard, level, index - 1, left)) != 0)
            return rc;
        cry_merkle_node_hash(h, left, h);
        level++;
        index >>= 1;
        if ((rc = node_put(txn, shard, level, index, h)) != 0)
            return rc;
    }
    return 0;
}

struct src_ctx {
    struct store_txn *txn;
    uint32_t shard;
};

static int src_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CRY_HASH_LEN])
{
    struct src_ctx *c = ctx;
    return node_get(c->txn, c->shard, level, index, out);
}

/* A source over org's shard, refusing sizes beyond what it holds. */
static int source(struct store_txn *txn, const char *org, uint64_t size, struct src_ctx *ctx)
{
    struct store_shard s;
    int rc;

    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc;
    if (size > s.size)
        return TN_ERR_NOT_FOUND;
    ctx->txn = txn;
    ctx->shard = s.no;
    return 0;
}

int store_merkle_node(struct store_txn *txn, const char *org, unsigned level, uint64_t index,
                      uint8_t out[CRY_HASH_LEN])
{
    struct store_shard s;
    int rc;

    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc;
    if (level >= 64 || index >= (s.size >> level))
        return TN_ERR_NOT_FOUND;
    return node_get(txn, s.no, level, index, out);
}

int store_root(struct store_txn *txn, const char *org, uint64_t size, uint8_t root[CRY_HASH_LEN])
{
    struct src_ctx ctx;
    struct cry_merkle_source src = {src_get, &ctx};
    int rc;

    if ((rc = source(txn, org, size, &ctx)) != 0)
        return rc;
    return cry_merkle_root(&src, size, root);
}

int store_inclusion_proof(struct store_txn *txn, const char *org, uint64_t index, uint64_t size,
                          uint8_t (*path)[CRY_HASH_LEN], size_t *path_len)
{
    struct src_ctx ctx;
    struct cry_merkle_source src = {src_get, &ctx};
    int rc;

    if ((rc = source(txn, org, size, &ctx)) != 0)
        return rc;
    return cry_merkle_inclusion_proof(&src, index, size, path, path_len);
}

int store_consistency_proof(struct store_txn *txn, const char *org, uint64_t old_size,
                            uint64_t new_size, uint8_t (*path)[CRY_HASH_LEN], size_t *path_len)
{
    struct src_ctx ctx;
    struct cry_merkle_source src = {src_get, &ctx};
    int rc;

    if ((rc = source(txn, org, new_size, &ctx)) != 0)
        return rc;
    return cry_merkle_consistency_proof(&src, old_size, new_size, path, path_len);
}

static void cp_key(uint8_t key[12], uint32_t shard, uint64_t size)
{
    store__put_be32(key, shard);
    store__put_be64(key + 4, size);
}

int store_checkpoint_put(struct store_txn *txn, const char *org, uint64_t size, const char *note,
                         size_t len)
{
    struct store_shard s;
    uint8_t key[12];
    MDB_val k = {sizeof key, key}, v = {len, (void *)note};
    int rc;

    if (len > CRY_NOTE_MAX)
        return TN_ERR_TOO_BIG;
    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc;
    cp_key(key, s.no, size);
    return store__err(mdb_put(txn->txn, txn->repo->checkpoints, &k, &v, 0));
}

int store_checkpoint_get(struct store_txn *txn, const char *org, uint64_t *size,
                         const char **note, size_t *len)
{
    struct store_shard s;
    uint8_t key[12];
    MDB_val k = {sizeof key, key}, v;
    MDB_cursor *c;
    int rc;

    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc;
    /* The latest is the last key of this shard: seek past it and step back. */
    cp_key(key, s.no + 1, 0);
    if ((rc = mdb_cursor_open(txn->txn, txn->repo->checkpoints, &c)) != 0)
        return store__err(rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = mdb_cursor_get(c, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    if (rc == 0 && (k.mv_size != 12 || store__get_be32(k.mv_data) != s.no))
        rc = MDB_NOTFOUND;
    if (rc == 0) {
        *size = store__get_be64((const uint8_t *)k.mv_data + 4);
        *note = v.mv_data;
        *len = v.mv_size;
    }
    mdb_cursor_close(c);
    return store__err(rc);
}

int store_checkpoint_at(struct store_txn *txn, const char *org, uint64_t size, const char **note,
                        size_t *len)
{
    struct store_shard s;
    uint8_t key[12];
    MDB_val k = {sizeof key, key}, v;
    int rc;

    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc;
    cp_key(key, s.no, size);
    if ((rc = mdb_get(txn->txn, txn->repo->checkpoints, &k, &v)) != 0)
        return store__err(rc);
    *note = v.mv_data;
    *len = v.mv_size;
    return 0;
}
