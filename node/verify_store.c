/* The verifier's record source over the node's repository (one read transaction). */
#include <string.h>

#include "node/verify.h"

static int s_get(void *ctx, const uint8_t id[PROTO_ID_LEN], const uint8_t **b, size_t *len)
{
    return store_record_get(ctx, id, b, len);
}

static int s_item_each(void *ctx, const char *item, store_item_cb fn, void *cbctx)
{
    return store_item_each(ctx, item, fn, cbctx);
}

static int s_at(void *ctx, const char *org, uint64_t seq, uint8_t id[PROTO_ID_LEN])
{
    return store_record_at(ctx, org, seq, id);
}

static int s_shard(void *ctx, const char *org, uint64_t *size, bool *frozen)
{
    struct store_shard sh;
    int rc = store_shard_get(ctx, org, &sh);

    if (rc == 0) {
        *size = sh.size;
        *frozen = sh.frozen;
    }
    return rc;
}

static int s_inclusion(void *ctx, const char *org, uint64_t seq, const char **note,
                       size_t *note_len, uint8_t (*path)[CRY_HASH_LEN], size_t *path_len)
{
    uint64_t size;
    int rc = store_checkpoint_get(ctx, org, &size, note, note_len);

    if (rc != 0)
        return rc;
    if (seq >= size)
        return TN_ERR_NOT_FOUND;
    return store_inclusion_proof(ctx, org, seq, size, path, path_len);
}

static int s_checkpoint(void *ctx, const char *org, const char **note, size_t *note_len)
{
    uint64_t size;
    return store_checkpoint_get(ctx, org, &size, note, note_len);
}

/* With --trust-store: a leaf is the root of the one-leaf tree at its position. */
static int s_leaf(void *ctx, const char *org, uint64_t seq, uint8_t out[CRY_HASH_LEN])
{
    return store_merkle_node(ctx, org, 0, seq, out);
}

static int s_root(void *ctx, const char *org, uint64_t size, uint8_t out[CRY_HASH_LEN])
{
    return store_root(ctx, org, size, out);
}

static int s_refs(void *ctx, const uint8_t id[PROTO_ID_LEN], store_id_cb fn, void *cbctx)
{
    return store_refs_each(ctx, id, fn, cbctx);
}

static int s_consumers(void *ctx, const uint8_t id[PROTO_ID_LEN], store_id_cb fn, void *cbctx)
{
    return store_consumers_each(ctx, id, fn, cbctx);
}

void vf_store_source(struct store_txn *txn, struct vf_source *src)
{
    *src = (struct vf_source){.ctx = txn,
                              .get = s_get,
                              .item_each = s_item_each,
                              .at = s_at,
                              .shard = s_shard,
                              .inclusion = s_inclusion,
                              .checkpoint = s_checkpoint,
                              .leaf = s_leaf,
                              .root = s_root,
                              .refs_each = s_refs,
                              .consumers_each = s_consumers};
}
