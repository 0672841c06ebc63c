/* Record bytes and the lookup indexes: item -> records, record -> consumers,
 * (org, client event id) -> record, and local secrets. */
#include "storage/internal.h"

#include <stdio.h>
#include <string.h>

#define LSN_KEY "lsn"

/* The record stored at (shard, seq): id and bytes point into the map. */
static int record_at_pos(struct store_txn *txn, const uint8_t pos[12], const uint8_t **id,
                         const uint8_t **bytes, size_t *len)
{
    MDB_val k = {12, (void *)pos}, v;
    int rc = mdb_get(txn->txn, txn->repo->records, &k, &v);

    if (rc != 0)
        return rc == MDB_NOTFOUND ? TN_ERR_CORRUPT : store__err(rc);
    if (v.mv_size <= PROTO_ID_LEN)
        return TN_ERR_CORRUPT;
    *id = v.mv_data;
    *bytes = (const uint8_t *)v.mv_data + PROTO_ID_LEN;
    *len = v.mv_size - PROTO_ID_LEN;
    return 0;
}

int store_record_get(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const uint8_t **bytes,
                     size_t *len)
{
    MDB_val k = {PROTO_ID_LEN, (void *)id}, v;
    const uint8_t *stored_id;
    int rc = mdb_get(txn->txn, txn->repo->ids, &k, &v);

    if (rc != 0)
        return store__err(rc);
    if (v.mv_size != 12)
        return TN_ERR_CORRUPT;
    if ((rc = record_at_pos(txn, v.mv_data, &stored_id, bytes, len)) != 0)
        return rc;
    return memcmp(stored_id, id, PROTO_ID_LEN) == 0 ? 0 : TN_ERR_CORRUPT;
}

int store_record_load(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const uint8_t **bytes,
                      size_t *len, struct proto_record *r, char *err, size_t errlen)
{
    uint8_t actual[PROTO_ID_LEN];
    int rc = store_record_get(txn, id, bytes, len);

    if (rc != 0) {
        snprintf(err, errlen, "%s", tn_strerror(rc));
        return rc;
    }
    proto_record_id(actual, *bytes, *len);
    if (memcmp(actual, id, PROTO_ID_LEN) != 0) {
        snprintf(err, errlen, "its stored bytes do not hash to its id (run tracectl fsck)");
        return TN_ERR_CORRUPT;
    }
    if (proto_record_decode(*bytes, *len, r, err, errlen) != 0)
        return TN_ERR_CORRUPT;
    return 0;
}

bool store_has_record(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN])
{
    MDB_val k = {PROTO_ID_LEN, (void *)id}, v;
    return mdb_get(txn->txn, txn->repo->ids, &k, &v) == 0;
}

int store_record_at(struct store_txn *txn, const char *org, uint64_t seq, uint8_t id[PROTO_ID_LEN])
{
    struct store_shard s;
    uint8_t pos[12];
    const uint8_t *stored_id, *bytes;
    size_t len;
    int rc;

    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc;
    if (seq >= s.size)
        return TN_ERR_NOT_FOUND;
    store__put_be32(pos, s.no);
    store__put_be64(pos + 4, seq);
    if ((rc = record_at_pos(txn, pos, &stored_id, &bytes, &len)) != 0)
        return rc;
    memcpy(id, stored_id, PROTO_ID_LEN);
    return 0;
}

/* --- items -------------------------------------------------------------------------- */

struct index_ctx {
    struct store_txn *txn;
    uint8_t val[ITEM_VAL_LEN]; /* lsn | shard | role | id, role filled per item */
    int rc;
};

static void index_item(void *ctx, const char *item, char role)
{
    struct index_ctx *c = ctx;
    uint8_t key[TEXT_KEY_MAX];
    MDB_val k = {store__text_key(key, item), key}, v = {ITEM_VAL_LEN, c->val};
    int rc;

    if (c->rc != 0)
        return;
    c->val[12] = (uint8_t)role;
    /* MDB_NODUPDATA: the same item twice in one role of one record is stored once. */
    rc = mdb_put(c->txn->txn, c->txn->repo->items, &k, &v, MDB_NODUPDATA);
    if (rc != 0 && rc != MDB_KEYEXIST)
        c->rc = store__err(rc);
}

int store__index_record(struct store_txn *txn, const struct store_shard *s,
                        const struct proto_record *rec, const uint8_t id[PROTO_ID_LEN])
{
    struct index_ctx c = {.txn = txn};
    const uint8_t *lv;
    size_t llen;
    uint64_t lsn = 0;
    uint8_t next[8];
    int rc;

    rc = store_meta_get(txn, LSN_KEY, &lv, &llen);
    if (rc == 0 && llen == 8)
        lsn = store__get_be64(lv);
    else if (rc != TN_ERR_NOT_FOUND)
        return rc == 0 ? TN_ERR_CORRUPT : rc;
    store__put_be64(next, lsn + 1);
    if ((rc = store_meta_put(txn, LSN_KEY, next, 8)) != 0)
        return rc;

    store__put_be64(c.val, lsn);
    store__put_be32(c.val + 8, s->no);
    memcpy(c.val + 13, id, PROTO_ID_LEN);
    proto_record_each_item(rec, index_item, &c);
    if (c.rc != 0)
        return c.rc;

    for (size_t i = 0; i < rec->n_inputs; i++) {
        MDB_val k = {PROTO_ID_LEN, (void *)rec->inputs[i].rec}, v = {PROTO_ID_LEN, (void *)id};
        if (!rec->inputs[i].has_rec)
            continue;
        rc = mdb_put(txn->txn, txn->repo->consumers, &k, &v, MDB_NODUPDATA);
        if (rc != 0 && rc != MDB_KEYEXIST)
            return store__err(rc);
    }

    if (rec->has_ref) {
        MDB_val k = {PROTO_ID_LEN, (void *)rec->ref}, v = {PROTO_ID_LEN, (void *)id};
        rc = mdb_put(txn->txn, txn->repo->refs, &k, &v, MDB_NODUPDATA);
        if (rc != 0 && rc != MDB_KEYEXIST)
            return store__err(rc);
    }
    if (rec->mud && (rc = store__mud_index(txn, s->no, rec, id)) != 0)
        return rc;
    if (rec->eid) {
        uint8_t key[4 + TEXT_KEY_MAX];
        MDB_val k = {4 + store__text_key(key + 4, rec->eid), key},
                v = {PROTO_ID_LEN, (void *)id};
        store__put_be32(key, s->no);
        /* The first record with an event id keeps it; later ones cannot take it over. */
        rc = mdb_put(txn->txn, txn->repo->eids, &k, &v, MDB_NOOVERWRITE);
        if (rc != 0 && rc != MDB_KEYEXIST)
            return store__err(rc);
    }
    return 0;
}

int store_item_each(struct store_txn *txn, const char *item, store_item_cb fn, void *ctx)
{
    uint8_t key[TEXT_KEY_MAX];
    MDB_val k = {store__text_key(key, item), key}, v;
    MDB_cursor *c;
    int mrc, rc = 0, op = MDB_SET_KEY;

    if ((mrc = mdb_cursor_open(txn->txn, txn->repo->items, &c)) != 0)
        return store__err(mrc);
    /* mrc holds LMDB's codes, rc ours and the callback's: they must not mix. */
    while (rc == 0 && (mrc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        const uint8_t *p = v.mv_data;
        op = MDB_NEXT_DUP;
        rc = v.mv_size != ITEM_VAL_LEN ? TN_ERR_CORRUPT : fn(ctx, (char)p[12], p + 13);
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__err(mrc);
    return rc;
}

int store_item_last(struct store_txn *txn, const char *item, const char *org,
                    uint8_t id[PROTO_ID_LEN])
{
    uint8_t key[TEXT_KEY_MAX];
    MDB_val k = {store__text_key(key, item), key}, v;
    MDB_cursor *c;
    struct store_shard s;
    int rc;

    if (org) {
        if ((rc = store_shard_get(txn, org, &s)) != 0)
            return rc;
    }
    if ((rc = mdb_cursor_open(txn->txn, txn->repo->items, &c)) != 0)
        return store__err(rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    if (rc == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST_DUP);
    while (rc == 0) {
        const uint8_t *p = v.mv_data;
        if (v.mv_size != ITEM_VAL_LEN) {
            mdb_cursor_close(c);
            return TN_ERR_CORRUPT;
        }
        if (!org || store__get_be32(p + 8) == s.no) {
            memcpy(id, p + 13, PROTO_ID_LEN);
            break;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_PREV_DUP);
    }
    mdb_cursor_close(c);
    return store__err(rc);
}

int store__ids_each(struct store_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                    const uint8_t *prefix, size_t plen, store_id_cb fn, void *ctx)
{
    uint8_t first[8 + PROTO_ID_LEN] = {0};
    MDB_val k = {klen, (void *)key}, v = {plen + PROTO_ID_LEN, first};
    MDB_cursor *c;
    int mrc, rc = 0, op = prefix ? MDB_GET_BOTH_RANGE : MDB_SET_KEY;

    if (plen > 8)
        return TN_ERR_INVALID;
    if (prefix) /* the first value at or after prefix || 00..00 */
        memcpy(first, prefix, plen);
    if ((mrc = mdb_cursor_open(txn->txn, dbi, &c)) != 0)
        return store__err(mrc);
    while (rc == 0 && (mrc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        op = MDB_NEXT_DUP;
        if (v.mv_size != plen + PROTO_ID_LEN) {
            rc = TN_ERR_CORRUPT;
            break;
        }
        if (prefix && memcmp(v.mv_data, prefix, plen) != 0)
            break;
        rc = fn(ctx, (const uint8_t *)v.mv_data + plen);
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__err(mrc);
    return rc;
}

int store_consumers_each(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], store_id_cb fn,
                         void *ctx)
{
    return store__ids_each(txn, txn->repo->consumers, id, PROTO_ID_LEN, NULL, 0, fn, ctx);
}

int store_refs_each(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], store_id_cb fn,
                    void *ctx)
{
    return store__ids_each(txn, txn->repo->refs, id, PROTO_ID_LEN, NULL, 0, fn, ctx);
}

int store_eid_get(struct store_txn *txn, const char *org, const char *eid, uint8_t id[PROTO_ID_LEN])
{
    struct store_shard s;
    uint8_t key[4 + TEXT_KEY_MAX];
    MDB_val k = {4 + store__text_key(key + 4, eid), key}, v;
    int rc;

    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc;
    store__put_be32(key, s.no);
    if ((rc = mdb_get(txn->txn, txn->repo->eids, &k, &v)) != 0)
        return store__err(rc);
    if (v.mv_size != PROTO_ID_LEN)
        return TN_ERR_CORRUPT;
    memcpy(id, v.mv_data, PROTO_ID_LEN);
    return 0;
}

/* --- secrets ------------------------------------------------------------------------ */

static int secret_key(uint8_t *key, size_t cap, const uint8_t id[PROTO_ID_LEN], const char *name,
                      size_t *len)
{
    size_t n = strlen(name);

    if (n == 0 || PROTO_ID_LEN + n > cap)
        return TN_ERR_INVALID;
    memcpy(key, id, PROTO_ID_LEN);
    memcpy(key + PROTO_ID_LEN, name, n);
    *len = PROTO_ID_LEN + n;
    return 0;
}

int store_secret_put(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const char *name,
                     const uint8_t salt[32], const char *value)
{
    uint8_t key[PROTO_ID_LEN + PROTO_NAME_MAX], val[32 + PROTO_TEXT_MAX];
    size_t klen, vlen = strlen(value);
    MDB_val k, v;
    int rc;

    if (vlen > PROTO_TEXT_MAX)
        return TN_ERR_TOO_BIG;
    if ((rc = secret_key(key, sizeof key, id, name, &klen)) != 0)
        return rc;
    memcpy(val, salt, 32);
    memcpy(val + 32, value, vlen);
    k.mv_size = klen;
    k.mv_data = key;
    v.mv_size = 32 + vlen;
    v.mv_data = val;
    return store__err(mdb_put(txn->txn, txn->repo->secrets, &k, &v, 0));
}

int store_secret_get(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const char *name,
                     const uint8_t **salt, const char **value, size_t *value_len)
{
    uint8_t key[PROTO_ID_LEN + PROTO_NAME_MAX];
    size_t klen;
    MDB_val k, v;
    int rc;

    if ((rc = secret_key(key, sizeof key, id, name, &klen)) != 0)
        return rc;
    k.mv_size = klen;
    k.mv_data = key;
    if ((rc = mdb_get(txn->txn, txn->repo->secrets, &k, &v)) != 0)
        return store__err(rc);
    if (v.mv_size < 32)
        return TN_ERR_CORRUPT;
    *salt = v.mv_data;
    *value = (const char *)v.mv_data + 32;
    *value_len = v.mv_size - 32;
    return 0;
}
