/* Equivocation evidence: both pieces, kept forever, and the shard frozen where they
 * disagree. Nothing already stored is ever changed. */
#include "storage/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* value: a_len (4) | a | b */
int store_evidence_put(struct store_txn *txn, const char *org, uint64_t at,
                       enum store_evidence_kind kind, const uint8_t *a, size_t a_len,
                       const uint8_t *b, size_t b_len, bool *is_new)
{
    struct store_shard s;
    uint8_t key[13 + CRY_HASH_LEN];
    crypto_hash_sha256_state st;
    MDB_val k = {sizeof key, key}, v;
    int rc;

    *is_new = false;
    if (a_len > PROTO_RECORD_MAX || b_len > PROTO_RECORD_MAX)
        return TN_ERR_TOO_BIG;
    /* Evidence may concern an org we hold nothing of yet: give it a shard. */
    if ((rc = store__shard_load(txn, org, true, &s)) != 0)
        return rc;
    store__put_be32(key, s.no);
    store__put_be64(key + 4, at);
    key[12] = (uint8_t)kind;
    /* The pair in a fixed order, so the same fork seen from both sides is one entry. */
    if (a_len > b_len || (a_len == b_len && memcmp(a, b, a_len) > 0)) {
        const uint8_t *t = a;
        size_t tl = a_len;
        a = b, a_len = b_len, b = t, b_len = tl;
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, a, a_len);
    crypto_hash_sha256_update(&st, b, b_len);
    crypto_hash_sha256_final(&st, key + 13);
    v.mv_size = 4 + a_len + b_len;
    v.mv_data = NULL;
    rc = mdb_put(txn->txn, txn->repo->evidence, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc == MDB_KEYEXIST)
        return 0;
    if (rc != 0)
        return store__err(rc);
    store__put_be32(v.mv_data, (uint32_t)a_len);
    memcpy((uint8_t *)v.mv_data + 4, a, a_len);
    memcpy((uint8_t *)v.mv_data + 4 + a_len, b, b_len);
    *is_new = true;
    if (!s.frozen || at < s.frozen_at) {
        s.frozen = true;
        s.frozen_at = at;
        if ((rc = store__shard_save(txn, org, &s)) != 0)
            return rc;
    }
    return 0;
}

int store_evidence_each(struct store_txn *txn, store_evidence_cb fn, void *ctx)
{
    MDB_cursor *c;
    MDB_val k, v;
    int mrc, rc = 0, op = MDB_FIRST;
    if ((mrc = mdb_cursor_open(txn->txn, txn->repo->evidence, &c)) != 0)
        return store__err(mrc);
    while (rc == 0 && (mrc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        const uint8_t *kp = k.mv_data, *vp = v.mv_data;
        char org[PROTO_ID_MAX + 1];
        uint32_t a_len;
        op = MDB_NEXT;
        if (k.mv_size != 13 + CRY_HASH_LEN || v.mv_size < 4 ||
            (a_len = store__get_be32(vp)) > v.mv_size - 4) {
            rc = TN_ERR_CORRUPT;
            break;
        }
        if ((rc = store__shard_org(txn, store__get_be32(kp), org)) != 0)
            break;
        rc = fn(ctx, org, store__get_be64(kp + 4), (enum store_evidence_kind)kp[12], vp + 4, a_len,
                vp + 4 + a_len, v.mv_size - 4 - a_len);
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__err(mrc);
    return rc;
}
