/* MUD anchors: the index from a MUD URL to the records anchoring it, and the rule that
 * keeps each org's anchors of one URL a line of versions (docs/STORAGE.md, docs/MUD.md).
 *
 * Index values are shard number || record id, so one org's anchors of a URL sit together:
 * checking a new anchor reads only its own org's earlier ones, and no other org can slow
 * that down by piling anchors onto the same URL. */
#include "storage/internal.h"

#include <stdio.h>
#include <string.h>

#include "crypto/encode.h"
#include "proto/datetime.h"

int store__mud_index(struct store_txn *txn, uint32_t shard, const struct proto_record *rec,
                     const uint8_t id[PROTO_ID_LEN])
{
    uint8_t key[TEXT_KEY_MAX], val[4 + PROTO_ID_LEN];
    MDB_val k = {store__text_key(key, rec->mud->url), key}, v = {sizeof val, val};
    int rc;

    store__put_be32(val, shard);
    memcpy(val + 4, id, PROTO_ID_LEN);
    rc = mdb_put(txn->txn, txn->repo->mud, &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : store__err(rc);
}

int store_mud_each(struct store_txn *txn, const char *url, store_id_cb fn, void *ctx)
{
    uint8_t key[TEXT_KEY_MAX];
    size_t klen = store__text_key(key, url);

    return store__ids_each(txn, txn->repo->mud, key, klen, NULL, 4, fn, ctx);
}

struct current {
    struct store_txn *txn;
    const char *url;
    bool found;
    uint64_t seq;
    struct store_mud_anchor *out;
};

static int consider(void *ctx, const uint8_t id[PROTO_ID_LEN])
{
    struct current *c = ctx;
    struct proto_record r;
    struct proto_instant t;
    const uint8_t *bytes;
    size_t len;
    char err[160];
    int rc, cmp;

    if ((rc = store_record_get(c->txn, id, &bytes, &len)) != 0)
        return rc == TN_ERR_NOT_FOUND ? TN_ERR_CORRUPT : rc;
    proto_record_init(&r);
    /* stored records were decoded strictly when they arrived */
    if (proto_record_decode(bytes, len, &r, err, sizeof err) != 0 || !r.mud ||
        strcmp(r.mud->url, c->url) != 0 ||
        proto_datetime_parse(r.mud->last_update, strlen(r.mud->last_update), &t, err,
                             sizeof err) != 0) {
        proto_record_release(&r);
        return TN_ERR_CORRUPT;
    }
    /* the rule makes last-updates strictly increase along an org's shard */
    cmp = c->found ? proto_instant_cmp(&t, &c->out->last_update) : 1;
    if (cmp > 0 || (cmp == 0 && r.seq > c->seq)) {
        c->found = true;
        c->seq = r.seq;
        memcpy(c->out->id, id, PROTO_ID_LEN);
        memcpy(c->out->sha256, r.mud->sha256, CRY_HASH_LEN);
        c->out->last_update = t;
        snprintf(c->out->last_update_text, sizeof c->out->last_update_text, "%s",
                 r.mud->last_update);
    }
    proto_record_release(&r);
    return 0;
}

int store_mud_current(struct store_txn *txn, const char *org, const char *url,
                      struct store_mud_anchor *out)
{
    struct current c = {.txn = txn, .url = url, .out = out};
    struct store_shard s;
    uint8_t key[TEXT_KEY_MAX], prefix[4];
    size_t klen = store__text_key(key, url);
    int rc;

    if ((rc = store_shard_get(txn, org, &s)) != 0)
        return rc; /* no shard: no anchor either (TN_ERR_NOT_FOUND) */
    store__put_be32(prefix, s.no);
    if ((rc = store__ids_each(txn, txn->repo->mud, key, klen, prefix, 4, consider, &c)) != 0)
        return rc;
    return c.found ? 0 : TN_ERR_NOT_FOUND;
}

int store_mud_check(struct store_txn *txn, const struct proto_record *rec, char *err,
                    size_t errlen)
{
    struct store_mud_anchor cur;
    struct proto_instant t;
    char hex[CRY_HEX_LEN(PROTO_ID_LEN)];
    int rc;

    if (!rec->mud || proto_datetime_parse(rec->mud->last_update, strlen(rec->mud->last_update),
                                          &t, err, errlen) != 0) {
        snprintf(err, errlen, "a mud-anchor needs a MUD URL and an RFC 3339 last_update");
        return TN_ERR_INVALID;
    }
    rc = store_mud_current(txn, rec->org, rec->mud->url, &cur);
    if (rc == TN_ERR_NOT_FOUND) {
        if (!rec->has_ref)
            return 0;
        snprintf(err, errlen, "this is org '%s''s first anchor of %s: it cannot supersede one",
                 rec->org, rec->mud->url);
        return TN_ERR_INVALID;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the MUD anchors: %s", tn_strerror(rc));
        return rc;
    }
    cry_hex(hex, cur.id, PROTO_ID_LEN);
    if (proto_instant_cmp(&t, &cur.last_update) <= 0) {
        snprintf(err, errlen,
                 "org '%s' already anchored %s with last-update %s (record %s); a new version "
                 "needs a later last-update",
                 rec->org, rec->mud->url, cur.last_update_text, hex);
        return TN_ERR_INVALID;
    }
    if (!rec->has_ref || memcmp(rec->ref, cur.id, PROTO_ID_LEN) != 0) {
        snprintf(err, errlen,
                 "a new anchor of %s must supersede org '%s''s current one: ref %s", rec->mud->url,
                 rec->org, hex);
        return TN_ERR_INVALID;
    }
    return 0;
}
