/* Shard state and the append path: every check a record must pass before it is stored,
 * then the writes that store it. */
#include "storage/internal.h"

#include <stdio.h>
#include <string.h>

#define NEXT_SHARD_KEY "next_shard"

static void shard_pack(uint8_t out[SHARD_VAL_LEN], const struct store_shard *s)
{
    store__put_be32(out, s->no);
    store__put_be64(out + 4, s->size);
    memcpy(out + 12, s->head, PROTO_ID_LEN);
    out[44] = s->frozen ? 1 : 0;
    store__put_be64(out + 45, s->frozen_at);
}

int store__shard_load(struct store_txn *txn, const char *org, bool create, struct store_shard *s)
{
    MDB_val k = {strlen(org), (void *)org}, v;
    int rc = mdb_get(txn->txn, txn->repo->shards, &k, &v);

    if (rc == 0) {
        const uint8_t *p = v.mv_data;
        if (v.mv_size != SHARD_VAL_LEN)
            return TN_ERR_CORRUPT;
        s->no = store__get_be32(p);
        s->size = store__get_be64(p + 4);
        memcpy(s->head, p + 12, PROTO_ID_LEN);
        s->frozen = p[44] != 0;
        s->frozen_at = store__get_be64(p + 45);
        return 0;
    }
    if (rc != MDB_NOTFOUND || !create)
        return store__err(rc);

    /* A new shard takes the next shard number. */
    {
        const uint8_t *nv;
        size_t nlen;
        uint8_t next[4];
        memset(s, 0, sizeof *s);
        rc = store_meta_get(txn, NEXT_SHARD_KEY, &nv, &nlen);
        if (rc == 0 && nlen == 4)
            s->no = store__get_be32(nv);
        else if (rc != TN_ERR_NOT_FOUND)
            return rc == 0 ? TN_ERR_CORRUPT : rc;
        store__put_be32(next, s->no + 1);
        if ((rc = store_meta_put(txn, NEXT_SHARD_KEY, next, 4)) != 0)
            return rc;
        return store__shard_save(txn, org, s);
    }
}

int store__shard_save(struct store_txn *txn, const char *org, const struct store_shard *s)
{
    uint8_t buf[SHARD_VAL_LEN];
    MDB_val k = {strlen(org), (void *)org}, v = {sizeof buf, buf};

    shard_pack(buf, s);
    return store__err(mdb_put(txn->txn, txn->repo->shards, &k, &v, 0));
}

struct find_no {
    uint32_t no;
    char *org;
};

static int match_no(void *ctx, const char *org, const struct store_shard *s)
{
    struct find_no *f = ctx;
    if (s->no != f->no)
        return 0;
    snprintf(f->org, PROTO_ID_MAX + 1, "%s", org);
    return 1; /* found: stop */
}

int store__shard_org(struct store_txn *txn, uint32_t no, char org[PROTO_ID_MAX + 1])
{
    struct find_no f = {no, org};
    int rc = store_shard_each(txn, match_no, &f);

    return rc == 1 ? 0 : rc == 0 ? TN_ERR_CORRUPT : rc;
}

int store_shard_get(struct store_txn *txn, const char *org, struct store_shard *out)
{
    return store__shard_load(txn, org, false, out);
}

int store_shard_each(struct store_txn *txn, store_shard_cb fn, void *ctx)
{
    MDB_cursor *c;
    MDB_val k, v;
    int mrc, rc = 0, op = MDB_FIRST;

    if ((mrc = mdb_cursor_open(txn->txn, txn->repo->shards, &c)) != 0)
        return store__err(mrc);
    /* mrc holds LMDB's codes, rc ours and the callback's: they must not mix. */
    while (rc == 0 && (mrc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        char org[PROTO_ID_MAX + 1];
        struct store_shard s;
        op = MDB_NEXT;
        if (k.mv_size > PROTO_ID_MAX) {
            rc = TN_ERR_CORRUPT;
            break;
        }
        memcpy(org, k.mv_data, k.mv_size);
        org[k.mv_size] = '\0';
        if ((rc = store__shard_load(txn, org, false, &s)) == 0)
            rc = fn(ctx, org, &s);
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store__err(mrc);
    return rc;
}

int store_check_record(const struct proto_ecosystem *eco, const struct proto_record *rec,
                       bool verify, char *err, size_t errlen)
{
    const struct proto_org *org;

    if (strcmp(rec->net, eco->network) != 0) {
        snprintf(err, errlen, "record is for network '%s', not '%s'", rec->net, eco->network);
        return TN_ERR_INVALID;
    }
    if (!(org = proto_ecosystem_org(eco, rec->org))) {
        snprintf(err, errlen, "record org '%s' is not in the ecosystem", rec->org);
        return TN_ERR_UNKNOWN_ORG;
    }
    /* Any key the org has had: whether it was still valid at the record's time (not
     * revoked or rotated away) is the verifier's finding (REVOKED_KEY), not a reason to
     * refuse what the org provably signed. */
    if (proto_org_key_status(org, rec->signer, rec->time) == PROTO_KEY_UNKNOWN) {
        snprintf(err, errlen, "record is signed by a key that is not org '%s''s key", rec->org);
        return TN_ERR_UNKNOWN_KEY;
    }
    if (verify && !proto_record_verify(rec, rec->signer)) {
        snprintf(err, errlen, "record signature does not verify with org '%s''s key", rec->org);
        return TN_ERR_BAD_SIGNATURE;
    }
    if (!proto_roles_allow(org->roles, rec->type)) {
        snprintf(err, errlen, "org '%s' may not sign %s records (roles do not allow it)", rec->org,
                 proto_type_name(rec->type));
        return TN_ERR_ROLE;
    }
    return 0;
}

/* Everything about a record that can be judged without writing: the contract of
 * store_append(), checks in the documented order. */
static int check_record(struct store_txn *txn, const struct proto_ecosystem *eco,
                        const struct proto_record *rec, unsigned flags, struct store_shard *s,
                        bool *shard_exists, char *err, size_t errlen)
{
    int rc;

    if ((rc = store_check_record(eco, rec, !(flags & STORE_APPEND_VERIFIED), err, errlen)) != 0)
        return rc;
    rc = store__shard_load(txn, rec->org, false, s);
    if (rc == TN_ERR_NOT_FOUND) {
        memset(s, 0, sizeof *s);
        *shard_exists = false;
    } else if (rc != 0) {
        return rc;
    } else {
        *shard_exists = true;
    }
    if (s->frozen) {
        snprintf(err, errlen, "shard '%s' is frozen after equivocation", rec->org);
        return TN_ERR_FROZEN;
    }
    if (rec->seq != s->size) {
        snprintf(err, errlen, "record seq %llu does not continue shard '%s' of size %llu",
                 (unsigned long long)rec->seq, rec->org, (unsigned long long)s->size);
        return TN_ERR_CHAIN;
    }
    if (rec->has_prev && memcmp(rec->prev, s->head, PROTO_ID_LEN) != 0) {
        snprintf(err, errlen, "record prev does not match the id of seq %llu in shard '%s'",
                 (unsigned long long)(rec->seq - 1), rec->org);
        return TN_ERR_CHAIN;
    }
    if (rec->type == PROTO_T_MUD_ANCHOR)
        return store_mud_check(txn, rec, err, errlen);
    return 0;
}

int store_append(struct store_txn *txn, const struct proto_ecosystem *eco, const uint8_t *bytes,
                 size_t len, const struct proto_record *given, unsigned flags,
                 uint8_t id[PROTO_ID_LEN], bool *appended, char *err, size_t errlen)
{
    struct proto_record decoded;
    const struct proto_record *rec = given;
    struct store_shard s;
    uint8_t leaf[CRY_HASH_LEN], key[12];
    MDB_val k, v;
    bool exists = false;
    int rc;

    *appended = false;
    if (len > PROTO_RECORD_MAX) {
        snprintf(err, errlen, "record of %zu bytes is over the %d-byte limit", len,
                 PROTO_RECORD_MAX);
        return TN_ERR_TOO_BIG;
    }
    if (!(flags & STORE_APPEND_ID_GIVEN))
        proto_record_id(id, bytes, len);
    if (store_has_record(txn, id))
        return 0; /* duplicates are idempotent */
    proto_record_init(&decoded);
    if (!rec) {
        if ((rc = proto_record_decode(bytes, len, &decoded, err, errlen)) != 0)
            return rc;
        rec = &decoded;
    }
    if ((rc = check_record(txn, eco, rec, flags, &s, &exists, err, errlen)) != 0)
        goto out;
    if (!exists && (rc = store__shard_load(txn, rec->org, true, &s)) != 0)
        goto write_fail;

    /* Records sit in shard order, so appending fills pages sequentially. */
    store__put_be32(key, s.no);
    store__put_be64(key + 4, rec->seq);
    k.mv_size = sizeof key;
    k.mv_data = key;
    v.mv_size = PROTO_ID_LEN + len;
    v.mv_data = NULL;
    if ((rc = store__err(mdb_put(txn->txn, txn->repo->records, &k, &v,
                                 MDB_NOOVERWRITE | MDB_RESERVE))) != 0)
        goto write_fail;
    memcpy(v.mv_data, id, PROTO_ID_LEN);
    memcpy((uint8_t *)v.mv_data + PROTO_ID_LEN, bytes, len);
    k.mv_size = PROTO_ID_LEN;
    k.mv_data = id;
    v.mv_size = sizeof key;
    v.mv_data = key;
    if ((rc = store__err(mdb_put(txn->txn, txn->repo->ids, &k, &v, MDB_NOOVERWRITE))) != 0)
        goto write_fail;
    if ((rc = store__index_record(txn, &s, rec, id)) != 0)
        goto write_fail;
    cry_merkle_leaf_hash(leaf, bytes, len);
    if ((rc = store__merkle_add_leaf(txn, s.no, s.size, leaf)) != 0)
        goto write_fail;
    s.size++;
    memcpy(s.head, id, PROTO_ID_LEN);
    if ((rc = store__shard_save(txn, rec->org, &s)) != 0)
        goto write_fail;
    *appended = true;
    goto out;
write_fail:
    snprintf(err, errlen, "cannot store record: %s", tn_strerror(rc));
out:
    proto_record_release(&decoded);
    return rc;
}
