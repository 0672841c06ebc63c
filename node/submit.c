/* From event JSON to durable, signed records: fills what the node owns (net, org, seq,
 * prev, time, input links, sealed commitments), signs with the org key and appends. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto/checkpoint.h"
#include "node/daemon.h"
#include "node/log.h"
#include "proto/event.h"

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The record that last held item: this org's own latest record naming it, else the
 * latest record naming it in any shard held here. */
static void link_input(struct store_txn *txn, const char *org, struct proto_input *in)
{
    if (in->has_rec)
        return;
    if (store_item_last(txn, in->item, org, in->rec) == 0 ||
        store_item_last(txn, in->item, NULL, in->rec) == 0)
        in->has_rec = true;
}

static int append_event(struct node *n, struct store_txn *txn, struct proto_event *ev,
                        uint8_t id[PROTO_ID_LEN], char *err, size_t errlen)
{
    struct proto_record *r = &ev->rec;
    struct store_shard sh;
    uint8_t bytes[PROTO_RECORD_MAX];
    uint8_t (*salts)[32] = NULL;
    size_t len;
    bool appended;
    int rc;

    rc = store_shard_get(txn, n->self->id, &sh);
    if (rc == TN_ERR_NOT_FOUND)
        memset(&sh, 0, sizeof sh);
    else if (rc != 0)
        return rc;
    r->v = PROTO_VERSION;
    r->net = n->eco.network;
    r->org = n->self->id;
    r->seq = sh.size;
    r->has_prev = sh.size > 0;
    memcpy(r->prev, sh.head, PROTO_ID_LEN);
    if (!ev->has_time)
        r->time = now_ms();
    for (size_t i = 0; i < r->n_inputs; i++)
        link_input(txn, n->self->id, &r->inputs[i]);

    /* private fields: only salted commitments go into the record */
    if (ev->n_priv) {
        salts = sodium_malloc(ev->n_priv * 32);
        r->sealed = proto_arena_alloc(&r->arena, ev->n_priv * sizeof *r->sealed);
        if (!salts || !r->sealed) {
            rc = TN_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < ev->n_priv; i++) {
            crypto_hash_sha256_state st;
            randombytes_buf(salts[i], 32);
            crypto_hash_sha256_init(&st);
            crypto_hash_sha256_update(&st, salts[i], 32);
            crypto_hash_sha256_update(&st, (const uint8_t *)ev->priv[i].value,
                                      strlen(ev->priv[i].value));
            crypto_hash_sha256_final(&st, r->sealed[i].digest);
            r->sealed[i].name = ev->priv[i].name;
        }
        r->n_sealed = ev->n_priv;
    }
    memcpy(r->signer, n->org_key.pk, CRY_PK_LEN);
    if ((rc = proto_record_sign(r, &n->org_key, bytes, sizeof bytes, &len, err, errlen)) != 0)
        goto out;
    rc = store_append(txn, &n->eco, bytes, len, r, STORE_APPEND_SIGNED_HERE, id, &appended, err,
                      errlen);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < ev->n_priv; i++)
        if ((rc = store_secret_put(txn, id, ev->priv[i].name, salts[i], ev->priv[i].value)) != 0) {
            snprintf(err, errlen, "cannot store private field: %s", tn_strerror(rc));
            goto out;
        }
out:
    if (salts)
        sodium_free(salts);
    return rc;
}

int node_submit_check(struct node *n, const char *text, size_t len, struct proto_event *ev,
                      char *err, size_t errlen)
{
    int rc = proto_event_parse(text, len, ev, err, errlen);

    if (rc == 0)
        rc = proto_event_check_context(ev, &n->eco, n->self->id, err, errlen);
    if (rc == 0)
        rc = proto_event_check_size(ev, n->eco.network, n->self->id, err, errlen);
    return rc;
}

int node_submit_apply(struct node *n, struct store_txn *txn, struct node_submit *s,
                      size_t *appended)
{
    int rc;

    for (size_t i = 0; i < s->n; i++) {
        struct proto_event *ev = &s->evs[i];
        /* a client event id the org already used: the existing record, nothing new */
        if (ev->rec.eid && store_eid_get(txn, n->self->id, ev->rec.eid, s->ids[i]) == 0)
            continue;
        if ((rc = append_event(n, txn, ev, s->ids[i], s->err, sizeof s->err)) != 0) {
            s->rc = rc;
            s->err_index = i;
            return rc;
        }
        (*appended)++;
    }
    return 0;
}

int node_checkpoint_own(struct node *n, struct store_txn *txn)
{
    struct cry_checkpoint cp;
    struct store_shard sh;
    char note[CRY_NOTE_MAX];
    size_t len;
    int rc;

    if ((rc = store_shard_get(txn, n->self->id, &sh)) != 0)
        return rc == TN_ERR_NOT_FOUND ? 0 : rc;
    snprintf(cp.origin, sizeof cp.origin, "%s/%s", n->eco.network, n->self->id);
    cp.size = sh.size;
    if ((rc = store_root(txn, n->self->id, sh.size, cp.root)) != 0)
        return rc;
    if ((rc = cry_checkpoint_sign(&cp, &n->org_key, note, sizeof note, &len)) != 0)
        return rc;
    return store_checkpoint_put(txn, n->self->id, sh.size, note, len);
}
