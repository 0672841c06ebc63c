/* Offline bundles: see bundle.h. */
#include "node/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/checkpoint.h"
#include "crypto/merkle.h"
#include "proto/cbor.h"

/* --- export ----------------------------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

/* Encodes with the bounded proto writers into a buffer that doubles until it fits. */
static int buf_grow(struct buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 1 << 16;
    uint8_t *p;

    while (cap < need)
        cap *= 2;
    if (cap > BUNDLE_MAX)
        return TN_ERR_TOO_BIG;
    if (cap == b->cap)
        return 0;
    if (!(p = realloc(b->p, cap)))
        return TN_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

struct collect {
    struct store_txn *txn;
    const char **orgs;
    size_t n_orgs;
};

static void note_org(struct collect *c, const char *org)
{
    for (size_t i = 0; i < c->n_orgs; i++)
        if (strcmp(c->orgs[i], org) == 0)
            return;
    c->orgs[c->n_orgs++] = org;
}

struct ev_list {
    struct proto_cbuf *b;
    const char **orgs;
    size_t n_orgs;
    size_t count;
    bool write;
};

static int each_evidence(void *ctx, const char *org, uint64_t at, enum store_evidence_kind kind,
                         const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    struct ev_list *e = ctx;
    bool ours = false;

    for (size_t i = 0; i < e->n_orgs; i++)
        ours |= strcmp(e->orgs[i], org) == 0;
    if (!ours)
        return 0;
    e->count++;
    if (e->write) {
        proto_cbor_array(e->b, 5);
        proto_cbor_cstr(e->b, org);
        proto_cbor_uint(e->b, at);
        proto_cbor_uint(e->b, (uint64_t)kind);
        proto_cbor_bytes(e->b, a, a_len);
        proto_cbor_bytes(e->b, b, b_len);
    }
    return 0;
}

/* The pedigree's records plus the governance shard: ids in *ids (malloc'd). */
static int gather(struct store_txn *txn, const struct vf_result *res, uint8_t (**ids)[32],
                  size_t *n)
{
    struct store_shard gov;
    size_t count = 0, cap;
    int rc;

    rc = store_shard_get(txn, PROTO_GOV_ORG, &gov);
    if (rc == TN_ERR_NOT_FOUND)
        gov.size = 0;
    else if (rc != 0)
        return rc;
    cap = res->n_recs + gov.size + 1;
    if (!(*ids = calloc(cap, sizeof **ids)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < res->n_recs; i++)
        if (res->recs[i].held && strcmp(res->recs[i].org, PROTO_GOV_ORG) != 0)
            memcpy((*ids)[count++], res->recs[i].id, 32);
    for (uint64_t s = 0; s < gov.size; s++)
        if ((rc = store_record_at(txn, PROTO_GOV_ORG, s, (*ids)[count++])) != 0)
            return rc;
    *n = count;
    return 0;
}

int bundle_export(struct store_txn *txn, const struct proto_ecosystem *eco, const char *eco_raw,
                  size_t eco_len, const char *item, const char *out, char *err, size_t errlen)
{
    struct vf_options opt = {.trust_store = true};
    struct vf_source src;
    struct vf_result res;
    struct buf buf = {0};
    struct proto_cbuf b;
    uint8_t (*ids)[32] = NULL;
    size_t n_ids = 0, n_orgs = 0;
    const char **orgs = NULL;
    struct ev_list ev = {0};
    int rc, fd;

    vf_store_source(txn, &src);
    if ((rc = vf_trace(&src, eco, item, &opt, &res)) != 0) {
        snprintf(err, errlen, "cannot walk the pedigree: %s", tn_strerror(rc));
        return rc;
    }
    if (res.n_recs == 0) {
        vf_result_release(&res);
        snprintf(err, errlen, "no record naming %s is held here", item);
        return TN_ERR_NOT_FOUND;
    }
    if ((rc = gather(txn, &res, &ids, &n_ids)) != 0 ||
        !(orgs = calloc(n_ids + 1, sizeof *orgs))) {
        rc = rc ? rc : TN_ERR_NOMEM;
        snprintf(err, errlen, "cannot gather the records: %s", tn_strerror(rc));
        goto out;
    }
    {
        struct collect c = {txn, orgs, 0};
        for (size_t i = 0; i < res.n_recs; i++)
            if (res.recs[i].held)
                note_org(&c, res.recs[i].org);
        if (n_ids > 0)
            note_org(&c, PROTO_GOV_ORG);
        n_orgs = c.n_orgs;
    }
    /* Encode; if the buffer was short, grow it and encode again. */
    for (size_t want = 1 << 16;;) {
        size_t n_proofs = 0, n_cps = 0;
        if ((rc = buf_grow(&buf, want)) != 0) {
            snprintf(err, errlen, "the bundle would be over %u bytes", BUNDLE_MAX);
            goto out;
        }
        proto_cbuf_init(&b, buf.p, buf.cap);
        for (size_t i = 0; i < n_ids; i++) {
            const uint8_t *rb;
            size_t rl;
            struct proto_record r;
            uint64_t cp_size;
            const char *note;
            size_t nl;
            proto_record_init(&r);
            if (store_record_get(txn, ids[i], &rb, &rl) == 0 &&
                proto_record_decode(rb, rl, &r, err, errlen) == 0 &&
                store_checkpoint_get(txn, r.org, &cp_size, &note, &nl) == 0 && r.seq < cp_size)
                n_proofs++;
            proto_record_release(&r);
        }
        for (size_t i = 0; i < n_orgs; i++) {
            uint64_t size;
            const char *note;
            size_t nl;
            n_cps += store_checkpoint_get(txn, orgs[i], &size, &note, &nl) == 0;
        }
        ev = (struct ev_list){.b = &b, .orgs = orgs, .n_orgs = n_orgs};
        /* keys in deterministic order: v item proofs records evidence ecosystem checkpoints */
        proto_cbor_map(&b, 7);
        proto_cbor_cstr(&b, "v");
        proto_cbor_uint(&b, 1);
        proto_cbor_cstr(&b, "item");
        proto_cbor_cstr(&b, item);
        proto_cbor_cstr(&b, "proofs");
        proto_cbor_array(&b, n_proofs);
        for (size_t i = 0; i < n_ids; i++) {
            const uint8_t *rb;
            size_t rl, pl;
            struct proto_record r;
            uint64_t cp_size;
            const char *note;
            size_t nl;
            uint8_t path[CRY_MERKLE_MAX_PROOF][CRY_HASH_LEN];
            proto_record_init(&r);
            if (store_record_get(txn, ids[i], &rb, &rl) == 0 &&
                proto_record_decode(rb, rl, &r, err, errlen) == 0 &&
                store_checkpoint_get(txn, r.org, &cp_size, &note, &nl) == 0 && r.seq < cp_size &&
                store_inclusion_proof(txn, r.org, r.seq, cp_size, path, &pl) == 0) {
                proto_cbor_array(&b, 3);
                proto_cbor_bytes(&b, ids[i], 32);
                proto_cbor_uint(&b, cp_size);
                proto_cbor_array(&b, pl);
                for (size_t k = 0; k < pl; k++)
                    proto_cbor_bytes(&b, path[k], CRY_HASH_LEN);
            }
            proto_record_release(&r);
        }
        proto_cbor_cstr(&b, "records");
        proto_cbor_array(&b, n_ids);
        for (size_t i = 0; i < n_ids; i++) {
            const uint8_t *rb;
            size_t rl;
            if ((rc = store_record_get(txn, ids[i], &rb, &rl)) != 0)
                goto out;
            proto_cbor_bytes(&b, rb, rl);
        }
        proto_cbor_cstr(&b, "evidence");
        ev.b = &b;
        ev.count = 0;
        {
            /* count, then write */
            struct ev_list cnt = {.orgs = orgs, .n_orgs = n_orgs};
            if ((rc = store_evidence_each(txn, each_evidence, &cnt)) != 0)
                goto out;
            proto_cbor_array(&b, cnt.count);
        }
        ev.write = true;
        if ((rc = store_evidence_each(txn, each_evidence, &ev)) != 0)
            goto out;
        proto_cbor_cstr(&b, "ecosystem");
        proto_cbor_bytes(&b, (const uint8_t *)eco_raw, eco_len);
        proto_cbor_cstr(&b, "checkpoints");
        proto_cbor_array(&b, n_cps);
        for (size_t i = 0; i < n_orgs; i++) {
            uint64_t size;
            const char *note;
            size_t nl;
            if (store_checkpoint_get(txn, orgs[i], &size, &note, &nl) == 0)
                proto_cbor_text(&b, note, nl);
        }
        if (!b.overflow)
            break;
        want = buf.cap * 2;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", out, strerror(errno));
        rc = errno == EEXIST ? TN_ERR_EXISTS : TN_ERR_IO;
        goto out;
    }
    if (write(fd, b.p, b.len) != (ssize_t)b.len || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", out, strerror(errno));
        close(fd);
        unlink(out);
        rc = TN_ERR_IO;
        goto out;
    }
    close(fd);
    rc = 0;
out:
    vf_result_release(&res);
    free(ids);
    free(orgs);
    free(buf.p);
    return rc;
}

/* --- verify ------------------------------------------------------------------------------ */

struct brec {
    uint8_t id[PROTO_ID_LEN];
    const uint8_t *bytes;
    size_t len;
    struct proto_record rec;
    bool ok;
    /* proof */
    bool has_proof;
    uint64_t size;
    uint8_t (*path)[CRY_HASH_LEN];
    size_t path_len;
};

struct bnote {
    char org[PROTO_ID_MAX + 1];
    const char *note;
    size_t len;
    uint64_t size;
};

struct bsrc {
    struct brec *recs;
    size_t n;
    struct bnote *notes;
    size_t n_notes;
    const char **frozen; /* orgs with verified evidence */
    size_t n_frozen;
};

static struct brec *by_id(struct bsrc *b, const uint8_t id[PROTO_ID_LEN])
{
    /* bundles hold one pedigree: a linear scan is short next to signature checks */
    for (size_t i = 0; i < b->n; i++)
        if (memcmp(b->recs[i].id, id, PROTO_ID_LEN) == 0)
            return &b->recs[i];
    return NULL;
}

static int b_get(void *ctx, const uint8_t id[PROTO_ID_LEN], const uint8_t **bytes, size_t *len)
{
    struct brec *r = by_id(ctx, id);

    if (!r)
        return TN_ERR_NOT_FOUND;
    *bytes = r->bytes;
    *len = r->len;
    return 0;
}

static int b_item_each(void *ctx, const char *item, store_item_cb fn, void *cbctx)
{
    struct bsrc *b = ctx;
    int rc;

    /* in bundle order, which is the exporter's walk order: the latest first is not
     * guaranteed, so records are offered in seq order per org then by time */
    for (size_t i = 0; i < b->n; i++) {
        const struct proto_record *r = &b->recs[i].rec;
        if (!b->recs[i].ok)
            continue;
        for (size_t k = 0; k < r->n_outputs; k++)
            if (strcmp(r->outputs[k], item) == 0 && (rc = fn(cbctx, 'o', b->recs[i].id)) != 0)
                return rc;
        for (size_t k = 0; k < r->n_inputs; k++)
            if (strcmp(r->inputs[k].item, item) == 0 && (rc = fn(cbctx, 'i', b->recs[i].id)) != 0)
                return rc;
        for (size_t k = 0; k < r->n_items; k++)
            if (strcmp(r->items[k], item) == 0 && (rc = fn(cbctx, 't', b->recs[i].id)) != 0)
                return rc;
    }
    return 0;
}

static int b_at(void *ctx, const char *org, uint64_t seq, uint8_t id[PROTO_ID_LEN])
{
    struct bsrc *b = ctx;

    for (size_t i = 0; i < b->n; i++)
        if (b->recs[i].ok && b->recs[i].rec.seq == seq && strcmp(b->recs[i].rec.org, org) == 0) {
            memcpy(id, b->recs[i].id, PROTO_ID_LEN);
            return 0;
        }
    return TN_ERR_NOT_FOUND;
}

static int b_shard(void *ctx, const char *org, uint64_t *size, bool *frozen)
{
    struct bsrc *b = ctx;
    bool found = false;

    *size = 0;
    *frozen = false;
    for (size_t i = 0; i < b->n_notes; i++)
        if (strcmp(b->notes[i].org, org) == 0) {
            *size = b->notes[i].size;
            found = true;
        }
    for (size_t i = 0; i < b->n_frozen; i++)
        if (strcmp(b->frozen[i], org) == 0)
            *frozen = found = true;
    return found ? 0 : TN_ERR_NOT_FOUND;
}

static int b_inclusion(void *ctx, const char *org, uint64_t seq, const char **note, size_t *nl,
                       uint8_t (*path)[CRY_HASH_LEN], size_t *path_len)
{
    struct bsrc *b = ctx;
    struct brec *r = NULL;
    uint8_t id[PROTO_ID_LEN];

    if (b_at(ctx, org, seq, id) != 0 || !(r = by_id(b, id)) || !r->has_proof)
        return TN_ERR_NOT_FOUND;
    for (size_t i = 0; i < b->n_notes; i++)
        if (strcmp(b->notes[i].org, org) == 0 && b->notes[i].size == r->size) {
            *note = b->notes[i].note;
            *nl = b->notes[i].len;
            memcpy(path, r->path, r->path_len * CRY_HASH_LEN);
            *path_len = r->path_len;
            return 0;
        }
    return TN_ERR_NOT_FOUND;
}

static int b_refs(void *ctx, const uint8_t id[PROTO_ID_LEN], store_id_cb fn, void *cbctx)
{
    struct bsrc *b = ctx;
    int rc;

    for (size_t i = 0; i < b->n; i++)
        if (b->recs[i].ok && b->recs[i].rec.has_ref &&
            memcmp(b->recs[i].rec.ref, id, PROTO_ID_LEN) == 0 &&
            (rc = fn(cbctx, b->recs[i].id)) != 0)
            return rc;
    return 0;
}

static int b_consumers(void *ctx, const uint8_t id[PROTO_ID_LEN], store_id_cb fn, void *cbctx)
{
    struct bsrc *b = ctx;
    int rc;

    for (size_t i = 0; i < b->n; i++)
        for (size_t k = 0; b->recs[i].ok && k < b->recs[i].rec.n_inputs; k++)
            if (b->recs[i].rec.inputs[k].has_rec &&
                memcmp(b->recs[i].rec.inputs[k].rec, id, PROTO_ID_LEN) == 0 &&
                (rc = fn(cbctx, b->recs[i].id)) != 0)
                return rc;
    return 0;
}

static bool key_is(const cbor_item_t *k, const char *name)
{
    size_t n = strlen(name);
    return cbor_isa_string(k) && cbor_string_length(k) == n &&
           memcmp(cbor_string_handle(k), name, n) == 0;
}

static const cbor_item_t *member(const cbor_item_t *map, const char *name)
{
    for (size_t i = 0; i < cbor_map_size(map); i++)
        if (key_is(cbor_map_handle(map)[i].key, name))
            return cbor_map_handle(map)[i].value;
    return NULL;
}

/* Evidence entries count only if they verify on their own, as a peer's would. */
static bool evidence_ok(const struct proto_ecosystem *eco, const cbor_item_t *e, const char **org_out,
                        struct proto_arena *arena)
{
    cbor_item_t **p;
    char org[PROTO_ID_MAX + 1], err[200];
    uint64_t at, kind;

    if (!cbor_isa_array(e) || cbor_array_size(e) != 5)
        return false;
    p = cbor_array_handle(e);
    if (!cbor_isa_string(p[0]) || cbor_string_length(p[0]) > PROTO_ID_MAX || !cbor_isa_uint(p[1]) ||
        !cbor_isa_uint(p[2]) || !cbor_isa_bytestring(p[3]) || !cbor_isa_bytestring(p[4]))
        return false;
    memcpy(org, cbor_string_handle(p[0]), cbor_string_length(p[0]));
    org[cbor_string_length(p[0])] = '\0';
    at = cbor_get_int(p[1]);
    kind = cbor_get_int(p[2]);
    if (kind == STORE_EVIDENCE_RECORDS) {
        struct proto_record a, b;
        bool ok;
        proto_record_init(&a);
        proto_record_init(&b);
        ok = proto_record_decode(cbor_bytestring_handle(p[3]), cbor_bytestring_length(p[3]), &a,
                                 err, sizeof err) == 0 &&
             proto_record_decode(cbor_bytestring_handle(p[4]), cbor_bytestring_length(p[4]), &b,
                                 err, sizeof err) == 0 &&
             strcmp(a.org, org) == 0 && strcmp(b.org, org) == 0 && a.seq == at && b.seq == at &&
             memcmp(a.sig, b.sig, CRY_SIG_LEN) != 0 &&
             store_check_record(eco, &a, true, err, sizeof err) == 0 &&
             store_check_record(eco, &b, true, err, sizeof err) == 0;
        proto_record_release(&a);
        proto_record_release(&b);
        if (!ok)
            return false;
    } else if (kind == STORE_EVIDENCE_CHECKPOINTS) {
        const struct proto_org *o = proto_ecosystem_org(eco, org);
        char origin[CRY_ORIGIN_MAX + 1];
        struct cry_checkpoint ca, cb;
        snprintf(origin, sizeof origin, "%s/%s", eco->network, org);
        if (!o ||
            cry_checkpoint_verify((const char *)cbor_bytestring_handle(p[3]),
                                  cbor_bytestring_length(p[3]), origin, o->key, &ca) != 0 ||
            cry_checkpoint_verify((const char *)cbor_bytestring_handle(p[4]),
                                  cbor_bytestring_length(p[4]), origin, o->key, &cb) != 0 ||
            ca.size != at || cb.size != at || memcmp(ca.root, cb.root, CRY_HASH_LEN) == 0)
            return false;
    } else {
        return false; /* needs the whole shard: not checkable offline */
    }
    *org_out = proto_arena_strndup(arena, org, strlen(org));
    return *org_out != NULL;
}

int bundle_verify(const uint8_t *bundle, size_t len, const char *eco_file, size_t eco_len,
                  const struct vf_options *opt, struct vf_result *res, char *err, size_t errlen)
{
    struct proto_ecosystem eco = {0};
    struct bsrc bs = {0};
    struct vf_source src = {.ctx = &bs,
                            .get = b_get,
                            .item_each = b_item_each,
                            .at = b_at,
                            .shard = b_shard,
                            .inclusion = b_inclusion,
                            .refs_each = b_refs,
                            .consumers_each = b_consumers};
    struct proto_arena arena;
    const cbor_item_t *v, *item, *proofs, *recs, *evidence, *ecosys, *cps;
    cbor_item_t *top = NULL;
    char item_s[PROTO_ITEM_MAX + 1];
    uint64_t gov_next = 0;
    int rc;

    proto_arena_init(&arena, 4 * BUNDLE_MAX);
    memset(res, 0, sizeof *res);
    if (len > BUNDLE_MAX) {
        snprintf(err, errlen, "bundle over %u bytes", BUNDLE_MAX);
        return TN_ERR_TOO_BIG;
    }
    if ((rc = proto_cbor_load(bundle, len, 0, &top, err, errlen)) != 0)
        return TN_ERR_INVALID;
    rc = TN_ERR_INVALID;
    if (!cbor_isa_map(top) || cbor_map_size(top) != 7 || !(v = member(top, "v")) ||
        !cbor_isa_uint(v) || cbor_get_int(v) != 1 || !(item = member(top, "item")) ||
        !cbor_isa_string(item) || cbor_string_length(item) > PROTO_ITEM_MAX ||
        !(proofs = member(top, "proofs")) || !cbor_isa_array(proofs) ||
        !(recs = member(top, "records")) || !cbor_isa_array(recs) ||
        !(evidence = member(top, "evidence")) || !cbor_isa_array(evidence) ||
        !(ecosys = member(top, "ecosystem")) || !cbor_isa_bytestring(ecosys) ||
        !(cps = member(top, "checkpoints")) || !cbor_isa_array(cps)) {
        snprintf(err, errlen, "not a tracenode bundle (version 1)");
        goto out;
    }
    /* The trust anchor is the ecosystem file the user gives: the bundle must carry it. */
    if (cbor_bytestring_length(ecosys) != eco_len ||
        memcmp(cbor_bytestring_handle(ecosys), eco_file, eco_len) != 0) {
        snprintf(err, errlen, "the bundle was made for another ecosystem file");
        goto out;
    }
    if ((rc = proto_ecosystem_parse(eco_file, eco_len, true, &eco, err, errlen)) != 0)
        goto out;
    memcpy(item_s, cbor_string_handle(item), cbor_string_length(item));
    item_s[cbor_string_length(item)] = '\0';

    rc = TN_ERR_NOMEM;
    if (!(bs.recs = calloc(cbor_array_size(recs) + 1, sizeof *bs.recs)) ||
        !(bs.notes = calloc(cbor_array_size(cps) + 1, sizeof *bs.notes)) ||
        !(bs.frozen = calloc(cbor_array_size(evidence) + 1, sizeof *bs.frozen)))
        goto out;
    for (size_t i = 0; i < cbor_array_size(recs); i++) {
        const cbor_item_t *r = cbor_array_handle(recs)[i];
        struct brec *b = &bs.recs[bs.n++];
        char why[200];
        rc = TN_ERR_INVALID;
        if (!cbor_isa_bytestring(r)) {
            snprintf(err, errlen, "record %zu is not a byte string", i);
            goto out;
        }
        b->bytes = cbor_bytestring_handle(r);
        b->len = cbor_bytestring_length(r);
        proto_record_id(b->id, b->bytes, b->len);
        proto_record_init(&b->rec);
        b->ok = proto_record_decode(b->bytes, b->len, &b->rec, why, sizeof why) == 0;
    }
    /* Governance first, in shard order, each checked before it changes anything. */
    for (bool more = true; more;) {
        more = false;
        for (size_t i = 0; i < bs.n; i++) {
            struct brec *b = &bs.recs[i];
            char why[200];
            if (!b->ok || strcmp(b->rec.org, PROTO_GOV_ORG) != 0 || b->rec.seq != gov_next)
                continue;
            if (store_check_record(&eco, &b->rec, true, why, sizeof why) != 0) {
                snprintf(err, errlen, "governance record %llu does not verify: %s",
                         (unsigned long long)gov_next, why);
                rc = TN_ERR_BAD_SIGNATURE;
                goto out;
            }
            (void)!proto_ecosystem_apply(&eco, &b->rec, why, sizeof why);
            gov_next++;
            more = true;
        }
    }
    for (size_t i = 0; i < cbor_array_size(cps); i++) {
        const cbor_item_t *c = cbor_array_handle(cps)[i];
        struct bnote *nt = &bs.notes[bs.n_notes];
        const char *nl, *slash;
        uint64_t size = 0;
        if (!cbor_isa_string(c) || cbor_string_length(c) > CRY_NOTE_MAX) {
            snprintf(err, errlen, "checkpoint %zu is not a note", i);
            rc = TN_ERR_INVALID;
            goto out;
        }
        nt->note = (const char *)cbor_string_handle(c);
        nt->len = cbor_string_length(c);
        /* origin "net/org", then the size; the signature is checked by the verifier */
        nl = memchr(nt->note, '\n', nt->len);
        slash = nl ? memchr(nt->note, '/', (size_t)(nl - nt->note)) : NULL;
        if (!slash || (size_t)(nl - slash - 1) > PROTO_ID_MAX) {
            snprintf(err, errlen, "checkpoint %zu has no origin", i);
            rc = TN_ERR_INVALID;
            goto out;
        }
        memcpy(nt->org, slash + 1, (size_t)(nl - slash - 1));
        nt->org[nl - slash - 1] = '\0';
        for (const char *p = nl + 1; p < nt->note + nt->len && *p >= '0' && *p <= '9'; p++)
            size = size * 10 + (uint64_t)(*p - '0');
        nt->size = size;
        bs.n_notes++;
    }
    for (size_t i = 0; i < cbor_array_size(proofs); i++) {
        const cbor_item_t *p = cbor_array_handle(proofs)[i];
        cbor_item_t **e;
        struct brec *b;
        rc = TN_ERR_INVALID;
        if (!cbor_isa_array(p) || cbor_array_size(p) != 3 || !cbor_isa_bytestring((e = cbor_array_handle(p))[0]) ||
            cbor_bytestring_length(e[0]) != PROTO_ID_LEN || !cbor_isa_uint(e[1]) ||
            !cbor_isa_array(e[2]) || cbor_array_size(e[2]) > CRY_MERKLE_MAX_PROOF) {
            snprintf(err, errlen, "proof %zu is malformed", i);
            goto out;
        }
        if (!(b = by_id(&bs, cbor_bytestring_handle(e[0]))) || b->has_proof) {
            snprintf(err, errlen, "proof %zu is of a record the bundle does not carry, or a "
                                  "second proof of one",
                     i);
            goto out;
        }
        b->size = cbor_get_int(e[1]);
        b->path_len = cbor_array_size(e[2]);
        if (!(b->path = proto_arena_alloc(&arena, (b->path_len + 1) * CRY_HASH_LEN))) {
            rc = TN_ERR_NOMEM;
            goto out;
        }
        for (size_t k = 0; k < b->path_len; k++) {
            const cbor_item_t *h = cbor_array_handle(e[2])[k];
            if (!cbor_isa_bytestring(h) || cbor_bytestring_length(h) != CRY_HASH_LEN) {
                snprintf(err, errlen, "proof %zu is malformed", i);
                goto out;
            }
            memcpy(b->path[k], cbor_bytestring_handle(h), CRY_HASH_LEN);
        }
        b->has_proof = true;
    }
    for (size_t i = 0; i < cbor_array_size(evidence); i++) {
        const char *org;
        if (!evidence_ok(&eco, cbor_array_handle(evidence)[i], &org, &arena)) {
            snprintf(err, errlen, "evidence %zu does not verify", i);
            rc = TN_ERR_BAD_SIGNATURE;
            goto out;
        }
        bs.frozen[bs.n_frozen++] = org;
    }
    /* Governance records are not in the walk: check their inclusion here. */
    for (size_t i = 0; i < bs.n; i++) {
        struct brec *b = &bs.recs[i];
        const char *note;
        size_t nl, pl;
        uint8_t path[CRY_MERKLE_MAX_PROOF][CRY_HASH_LEN], leaf[CRY_HASH_LEN];
        struct cry_checkpoint cp;
        char origin[CRY_ORIGIN_MAX + 1];
        if (!b->ok || strcmp(b->rec.org, PROTO_GOV_ORG) != 0)
            continue;
        snprintf(origin, sizeof origin, "%s/%s", eco.network, PROTO_GOV_ORG);
        cry_merkle_leaf_hash(leaf, b->bytes, b->len);
        if (b_inclusion(&bs, PROTO_GOV_ORG, b->rec.seq, &note, &nl, path, &pl) != 0 ||
            cry_checkpoint_verify(note, nl, origin, eco.gov_key, &cp) != 0 ||
            cry_merkle_verify_inclusion(leaf, b->rec.seq, cp.size, (const uint8_t(*)[32])path, pl,
                                        cp.root) != 0) {
            snprintf(err, errlen, "governance record %llu is not proven in the governance "
                                  "shard's signed checkpoint",
                     (unsigned long long)b->rec.seq);
            rc = TN_ERR_BAD_SIGNATURE;
            goto out;
        }
    }
    {
        struct vf_options strict = *opt;
        strict.require_checkpoints = true;
        rc = vf_trace(&src, &eco, item_s, &strict, res);
    }
    if (rc == 0) {
        /* A record in the bundle that the pedigree does not reach is unexplained content. */
        for (size_t i = 0; i < bs.n; i++) {
            bool reached = false;
            if (bs.recs[i].ok && strcmp(bs.recs[i].rec.org, PROTO_GOV_ORG) == 0)
                continue;
            for (size_t k = 0; k < res->n_recs && !reached; k++)
                reached = memcmp(res->recs[k].id, bs.recs[i].id, PROTO_ID_LEN) == 0;
            if (!reached) {
                vf_result_release(res);
                snprintf(err, errlen, "record %zu of the bundle is not part of the pedigree", i);
                rc = TN_ERR_INVALID;
                break;
            }
        }
    }
out:
    for (size_t i = 0; i < bs.n; i++)
        proto_record_release(&bs.recs[i].rec);
    free(bs.recs);
    free(bs.notes);
    free(bs.frozen);
    proto_arena_release(&arena);
    if (eco.network)
        proto_ecosystem_release(&eco);
    if (top)
        cbor_decref(&top);
    return rc;
}
