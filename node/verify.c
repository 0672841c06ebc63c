/* The verifier: see verify.h.
 *
 * A walk keeps one summary per record it touches (decoded once), a queue of records to
 * visit, and the links found. Checks that need no other record are made when a record is
 * visited; custody is checked once the walk knows both ends of a link; signatures and
 * Merkle inclusion proofs are checked at the end, on every core. */
#include "node/verify.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "crypto/merkle.h"
#include "proto/cbor.h"

#define ARENA_CAP (512u << 20)

/* --- the walk's state ------------------------------------------------------------------ */

struct sum {
    uint8_t id[PROTO_ID_LEN];
    bool loaded, present, ok; /* looked up / held / decoded */
    bool hash_ok;
    const uint8_t *bytes;
    size_t len;
    struct proto_record rec;
    int superseded; /* -1 unknown, 0 no, 1 yes */
    size_t rec_index; /* in result->recs, or SIZE_MAX */
};

struct edge {
    size_t from, to;   /* result indexes: to is a parent (trace) / a child (where-used) */
    bool custody;      /* to must belong to from's org (an input it consumed) */
    const char *item;
};

struct walk {
    const struct vf_source *src;
    const struct proto_ecosystem *eco;
    const struct vf_options *opt;
    struct vf_result *res;
    struct sum **map; /* open addressing on the id */
    size_t map_mask, n_sums;
    size_t *queue, q_head, q_len, q_cap;
    struct edge *edges;
    size_t n_edges, cap_edges;
    size_t cap_recs;
    struct strset { const char **k; size_t mask, n; } items_seen, dc_seen;
    bool no_follow; /* check the records given, walk no links */
    int rc; /* first source error */
};

static uint64_t id_hash(const uint8_t id[PROTO_ID_LEN])
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return h;
}

static void *xalloc(struct walk *w, size_t n)
{
    void *p = proto_arena_alloc(&w->res->arena, n);
    if (!p && w->rc == 0)
        w->rc = TN_ERR_NOMEM;
    return p;
}

static const char *xstrdup(struct walk *w, const char *s)
{
    return s ? proto_arena_strndup(&w->res->arena, s, strlen(s)) : NULL;
}

/* Grows an array of elements of size el to hold at least need. */
static int grow(void **arr, size_t *cap, size_t need, size_t el)
{
    size_t c = *cap ? *cap : 64;
    void *p;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if (!(p = realloc(*arr, c * el)))
        return TN_ERR_NOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

/* A record's summary, loaded and decoded on first use. */
static struct sum *sum(struct walk *w, const uint8_t id[PROTO_ID_LEN])
{
    size_t i;
    struct sum *s;
    char err[200];

    if (w->n_sums * 2 >= w->map_mask) { /* rehash */
        size_t mask = w->map_mask ? w->map_mask * 2 + 1 : 1023;
        struct sum **m = calloc(mask + 1, sizeof *m);
        if (!m) {
            w->rc = TN_ERR_NOMEM;
            return NULL;
        }
        for (i = 0; w->map && i <= w->map_mask; i++)
            if (w->map[i]) {
                size_t j = id_hash(w->map[i]->id) & mask;
                while (m[j])
                    j = (j + 1) & mask;
                m[j] = w->map[i];
            }
        free(w->map);
        w->map = m;
        w->map_mask = mask;
    }
    for (i = id_hash(id) & w->map_mask; w->map[i]; i = (i + 1) & w->map_mask)
        if (memcmp(w->map[i]->id, id, PROTO_ID_LEN) == 0)
            return w->map[i];
    if (!(s = calloc(1, sizeof *s))) {
        w->rc = TN_ERR_NOMEM;
        return NULL;
    }
    memcpy(s->id, id, PROTO_ID_LEN);
    s->superseded = -1;
    s->rec_index = SIZE_MAX;
    proto_record_init(&s->rec);
    w->map[i] = s;
    w->n_sums++;
    s->loaded = true;
    if (w->src->get(w->src->ctx, id, &s->bytes, &s->len) == 0) {
        uint8_t h[PROTO_ID_LEN];
        s->present = true;
        proto_record_id(h, s->bytes, s->len);
        s->hash_ok = memcmp(h, id, PROTO_ID_LEN) == 0;
        s->ok = proto_record_decode(s->bytes, s->len, &s->rec, err, sizeof err) == 0;
    }
    return s;
}

static void finding(struct walk *w, const char *code, enum vf_severity sev, const uint8_t *rec,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void finding(struct walk *w, const char *code, enum vf_severity sev, const uint8_t *rec,
                    const char *fmt, ...)
{
    struct vf_result *r = w->res;
    struct vf_finding *f;
    va_list ap;

    if (grow((void **)&r->findings, &r->cap_findings, r->n_findings + 1, sizeof *f) != 0) {
        w->rc = TN_ERR_NOMEM;
        return;
    }
    f = &r->findings[r->n_findings++];
    memset(f, 0, sizeof *f);
    f->code = code;
    f->severity = sev;
    if (rec) {
        f->has_record = true;
        memcpy(f->record, rec, PROTO_ID_LEN);
    }
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
}

static void short_id(char out[17], const uint8_t id[PROTO_ID_LEN])
{
    cry_hex(out, id, 8);
}

/* The result entry of a record, created (and queued) on first sight. */
static size_t enter(struct walk *w, struct sum *s)
{
    struct vf_result *r = w->res;
    struct vf_record *v;

    if (s->rec_index != SIZE_MAX)
        return s->rec_index;
    if (grow((void **)&r->recs, &w->cap_recs, r->n_recs + 1, sizeof *v) != 0 ||
        grow((void **)&w->queue, &w->q_cap, w->q_len + 1, sizeof *w->queue) != 0) {
        w->rc = TN_ERR_NOMEM;
        return SIZE_MAX;
    }
    v = &r->recs[r->n_recs];
    memset(v, 0, sizeof *v);
    memcpy(v->id, s->id, PROTO_ID_LEN);
    s->rec_index = r->n_recs++;
    w->queue[w->q_len++] = s->rec_index;
    return s->rec_index;
}

static void link_to(struct walk *w, size_t from, struct sum *to, bool custody, const char *item)
{
    size_t t = enter(w, to);
    struct vf_record *v;

    if (t == SIZE_MAX || from == SIZE_MAX)
        return;
    v = &w->res->recs[from];
    for (size_t i = 0; i < v->n_parents; i++)
        if (v->parents[i] == t)
            return;
    if (grow((void **)&v->parents, &v->cap_parents, v->n_parents + 1, sizeof *v->parents) != 0 ||
        grow((void **)&w->edges, &w->cap_edges, w->n_edges + 1, sizeof *w->edges) != 0) {
        w->rc = TN_ERR_NOMEM;
        return;
    }
    v->parents[v->n_parents++] = t;
    w->edges[w->n_edges++] = (struct edge){from, t, custody, item};
}

/* A set of strings (items already handled). true if s was new. */
static bool set_add(struct walk *w, struct strset *set, const char *s)
{
    size_t i;
    uint64_t h = 1469598103934665603ULL;

    if (set->n * 2 >= set->mask) {
        size_t mask = set->mask ? set->mask * 2 + 1 : 255;
        const char **k = calloc(mask + 1, sizeof *k);
        if (!k) {
            w->rc = TN_ERR_NOMEM;
            return false;
        }
        for (i = 0; set->k && i <= set->mask; i++)
            if (set->k[i]) {
                uint64_t g = 1469598103934665603ULL;
                for (const char *p = set->k[i]; *p; p++)
                    g = (g ^ (uint8_t)*p) * 1099511628211ULL;
                size_t j = g & mask;
                while (k[j])
                    j = (j + 1) & mask;
                k[j] = set->k[i];
            }
        free(set->k);
        set->k = k;
        set->mask = mask;
    }
    for (const char *p = s; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    for (i = h & set->mask; set->k[i]; i = (i + 1) & set->mask)
        if (strcmp(set->k[i], s) == 0)
            return false;
    set->k[i] = s;
    set->n++;
    return true;
}

/* --- record queries ------------------------------------------------------------------ */

struct item_scan {
    struct walk *w;
    struct sum **hits;
    char *roles;
    size_t n, cap;
};

static int collect(void *ctx, char role, const uint8_t id[PROTO_ID_LEN])
{
    struct item_scan *sc = ctx;
    struct sum *s = sum(sc->w, id);

    if (!s)
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->hits[i] == s && sc->roles[i] == role)
            return 0;
    if (grow((void **)&sc->hits, &sc->cap, sc->n + 1, sizeof *sc->hits) != 0)
        return TN_ERR_NOMEM;
    sc->roles = realloc(sc->roles, sc->cap);
    if (!sc->roles)
        return TN_ERR_NOMEM;
    sc->hits[sc->n] = s;
    sc->roles[sc->n++] = role;
    return 0;
}

/* Every record naming item (decoded and usable). Free with scan_release. */
static void scan_item(struct walk *w, const char *item, struct item_scan *sc)
{
    int rc;

    memset(sc, 0, sizeof *sc);
    sc->w = w;
    if ((rc = w->src->item_each(w->src->ctx, item, collect, sc)) != 0 && w->rc == 0)
        w->rc = rc;
}

static void scan_release(struct item_scan *sc)
{
    free(sc->hits);
    free(sc->roles);
}

static bool names_item(const struct proto_record *r, const char *item)
{
    for (size_t i = 0; i < r->n_items; i++)
        if (strcmp(r->items[i], item) == 0)
            return true;
    return false;
}

struct ref_scan {
    struct walk *w;
    struct sum *by; /* a supersede of the same org */
    const char *org;
};

static int find_supersede(void *ctx, const uint8_t id[PROTO_ID_LEN])
{
    struct ref_scan *rs = ctx;
    struct sum *s = sum(rs->w, id);

    if (s && s->ok && s->rec.type == PROTO_T_SUPERSEDE && strcmp(s->rec.org, rs->org) == 0)
        rs->by = s;
    return 0;
}

/* The correction that replaces s, or NULL. */
static struct sum *superseded_by(struct walk *w, struct sum *s)
{
    struct ref_scan rs = {w, NULL, s->rec.org};

    if (!s->ok || !w->src->refs_each)
        return NULL;
    if (w->src->refs_each(w->src->ctx, s->id, find_supersede, &rs) != 0)
        return NULL;
    s->superseded = rs.by != NULL;
    return rs.by;
}

/* --- checks of one record -------------------------------------------------------------- */

static void check_record(struct walk *w, struct sum *s)
{
    const struct proto_record *r = &s->rec;
    const struct proto_org *org = proto_ecosystem_org(w->eco, r->org);
    uint64_t size;
    bool frozen;

    if (!org) {
        finding(w, "UNKNOWN_SIGNER", VF_ERROR, s->id, "org %s is not in the ecosystem", r->org);
        return;
    }
    switch (proto_org_key_status(org, r->signer, r->time)) {
    case PROTO_KEY_VALID: break;
    case PROTO_KEY_UNKNOWN:
        finding(w, "UNKNOWN_SIGNER", VF_ERROR, s->id, "signed by a key that was never org %s's",
                r->org);
        break;
    case PROTO_KEY_REVOKED:
        finding(w, "REVOKED_KEY", VF_ERROR, s->id,
                "signed by a key of org %s at a time it was revoked or rotated away", r->org);
        break;
    case PROTO_KEY_NOT_YET:
        finding(w, "REVOKED_KEY", VF_ERROR, s->id,
                "signed by a key of org %s before it became valid", r->org);
        break;
    }
    if (!proto_roles_allow(org->roles, r->type))
        finding(w, "UNAUTHORIZED_ROLE", VF_ERROR, s->id, "org %s may not sign %s records",
                r->org, proto_type_name(r->type));
    /* the chain: this record sits at its seq, and prev is the record before it */
    if (w->src->at) {
        uint8_t at[PROTO_ID_LEN];
        if (w->src->at(w->src->ctx, r->org, r->seq, at) == 0 &&
            memcmp(at, s->id, PROTO_ID_LEN) != 0)
            finding(w, "CHAIN_BROKEN", VF_ERROR, s->id,
                    "another record sits at seq %llu of shard %s", (unsigned long long)r->seq,
                    r->org);
        else if (r->seq > 0 && w->src->at(w->src->ctx, r->org, r->seq - 1, at) == 0 &&
                 memcmp(at, r->prev, PROTO_ID_LEN) != 0)
            finding(w, "CHAIN_BROKEN", VF_ERROR, s->id,
                    "its prev is not the record at seq %llu of shard %s",
                    (unsigned long long)(r->seq - 1), r->org);
    }
    if (w->src->shard(w->src->ctx, r->org, &size, &frozen) == 0 && frozen)
        finding(w, "EQUIVOCATION", VF_ERROR, s->id,
                "shard %s is frozen: its org signed conflicting records (evidence held)", r->org);
}

/* One item consumed by two transforms: the counterfeit signal. Reported once per item. */
static void check_double_consumption(struct walk *w, struct sum *s, const char *item)
{
    struct item_scan sc;
    struct sum *first = NULL, *second = NULL;
    size_t consumers = 0;

    if (!set_add(w, &w->dc_seen, item))
        return;
    scan_item(w, item, &sc);
    for (size_t i = 0; i < sc.n; i++) {
        struct sum *c = sc.hits[i];
        if (sc.roles[i] != 'i' || !c->ok ||
            (c->rec.type != PROTO_T_TRANSFORM && c->rec.type != PROTO_T_AGGREGATE &&
             c->rec.type != PROTO_T_DISAGGREGATE))
            continue;
        consumers++;
    }
    /* Only when there is more than one consumer does it matter whether one of them was
     * corrected away (a supersede): look that up just then. */
    if (consumers > 1) {
        consumers = 0;
        for (size_t i = 0; i < sc.n; i++) {
            struct sum *c = sc.hits[i];
            if (sc.roles[i] != 'i' || !c->ok ||
                (c->rec.type != PROTO_T_TRANSFORM && c->rec.type != PROTO_T_AGGREGATE &&
                 c->rec.type != PROTO_T_DISAGGREGATE))
                continue;
            if ((c->superseded == -1 ? superseded_by(w, c) != NULL : c->superseded == 1))
                continue;
            if (!first)
                first = c;
            else if (c != first && !second)
                second = c;
            consumers++;
        }
    }
    if (consumers > 1) {
        char a[17], b[17];
        short_id(a, first->id);
        short_id(b, second->id);
        finding(w, "DOUBLE_CONSUMPTION", VF_ERROR, s->id,
                "item %s is consumed by %zu records (%s.. of %s, %s.. of %s)", item, consumers, a,
                first->rec.org, b, second->rec.org);
    }
    scan_release(&sc);
}

/* --- trace: where a record's items came from ----------------------------------------- */

/* true if a shipment already linked from record idx names item (a receive of many items
 * usually matches one shipment: no need to look each item up). */
static bool shipped_here(struct walk *w, size_t idx, const char *item)
{
    const struct vf_record *v = &w->res->recs[idx];

    for (size_t k = 0; k < v->n_parents; k++) {
        struct sum *p = sum(w, w->res->recs[v->parents[k]].id);
        if (p && p->ok && p->rec.type == PROTO_T_SHIP && names_item(&p->rec, item))
            return true;
    }
    return false;
}

static void trace_parents(struct walk *w, size_t idx, struct sum *s)
{
    const struct proto_record *r = &s->rec;
    struct sum *by;

    if ((by = superseded_by(w, s))) {
        char b[17];
        short_id(b, by->id);
        w->res->recs[idx].superseded = true;
        finding(w, "SUPERSEDED", VF_WARNING, s->id, "replaced by %s.. (a correction by %s)", b,
                r->org);
        link_to(w, idx, by, false, NULL); /* the walk follows the replacement */
    }
    for (size_t i = 0; i < r->n_inputs; i++) {
        const struct proto_input *in = &r->inputs[i];
        check_double_consumption(w, s, in->item);
        if (!in->has_rec) {
            finding(w, "CUSTODY_BREAK", VF_ERROR, s->id,
                    "consumes %s with no record of %s holding it", in->item, r->org);
            continue;
        }
        link_to(w, idx, sum(w, in->rec), true, in->item);
    }
    for (size_t i = 0; i < r->n_items; i++) {
        const char *item = r->items[i];
        struct item_scan sc;
        struct sum *best = NULL;

        if (r->type == PROTO_T_RECEIVE && shipped_here(w, idx, item))
            continue; /* the shipment already linked names this item too */
        scan_item(w, item, &sc);
        if (r->type == PROTO_T_RECEIVE) {
            /* the matching shipment: from the sender, to us, naming the item */
            for (size_t j = 0; j < sc.n; j++) {
                struct sum *c = sc.hits[j];
                if (c->ok && c->rec.type == PROTO_T_SHIP && strcmp(c->rec.org, r->from) == 0 &&
                    c->rec.to && strcmp(c->rec.to, r->org) == 0 && names_item(&c->rec, item) &&
                    (!best || c->rec.time > best->rec.time))
                    best = c;
            }
            if (best) {
                link_to(w, idx, best, false, item);
            } else {
                uint64_t size;
                bool frozen;
                if (w->src->shard(w->src->ctx, r->from, &size, &frozen) == 0 && size > 0)
                    finding(w, "CUSTODY_BREAK", VF_ERROR, s->id,
                            "received %s from %s, whose shard has no shipment of it to %s", item,
                            r->from, r->org);
                else
                    finding(w, "MISSING_RECORD", VF_WARNING, s->id,
                            "the shipment of %s by %s is not held here (no shard of %s)", item,
                            r->from, r->from);
            }
        } else {
            /* custody: the org's own earlier record about the item */
            for (size_t j = 0; j < sc.n; j++) {
                struct sum *c = sc.hits[j];
                if (c != s && c->ok && strcmp(c->rec.org, r->org) == 0 && c->rec.seq < r->seq &&
                    c->rec.type != PROTO_T_INSPECT && (!best || c->rec.seq > best->rec.seq))
                    best = c;
            }
            if (best)
                link_to(w, idx, best, false, item);
            else if (r->type == PROTO_T_SHIP || r->type == PROTO_T_DECOMMISSION)
                finding(w, "CUSTODY_BREAK", VF_ERROR, s->id, "%s %s, which %s never held",
                        r->type == PROTO_T_SHIP ? "ships" : "decommissions", item, r->org);
        }
        scan_release(&sc);
    }
}

/* --- where-used: where a record's items went ------------------------------------------ */

static void follow_item(struct walk *w, size_t idx, const char *item)
{
    struct item_scan sc;

    if (!set_add(w, &w->items_seen, item))
        return;
    scan_item(w, item, &sc);
    for (size_t j = 0; j < sc.n; j++)
        if (sc.hits[j]->present && sc.hits[j]->rec_index != idx)
            link_to(w, idx, sc.hits[j], false, item);
    scan_release(&sc);
}

static void use_children(struct walk *w, size_t idx, struct sum *s)
{
    const struct proto_record *r = &s->rec;

    /* what consumed this record's items, and what they became */
    for (size_t i = 0; i < r->n_inputs; i++)
        check_double_consumption(w, s, r->inputs[i].item);
    for (size_t i = 0; i < r->n_outputs; i++)
        follow_item(w, idx, r->outputs[i]);
    for (size_t i = 0; i < r->n_items; i++)
        follow_item(w, idx, r->items[i]);
    for (size_t i = 0; i < r->n_inputs; i++)
        follow_item(w, idx, r->inputs[i].item);
}

/* --- signatures and inclusion, on every core ------------------------------------------- */

struct vjob {
    struct sum *s;
    bool sig_ok, incl_ok, incl_checked;
    uint8_t root[CRY_HASH_LEN];
    uint64_t size;
    uint8_t (*path)[CRY_HASH_LEN];
    size_t path_len;
};

struct vpool {
    struct vjob *jobs;
    size_t n;
    size_t next; /* shared cursor */
    uv_mutex_t mu;
    bool check_sigs;
};

static void verify_worker(void *arg)
{
    struct vpool *p = arg;

    for (;;) {
        size_t i;
        uv_mutex_lock(&p->mu);
        i = p->next++;
        uv_mutex_unlock(&p->mu);
        if (i >= p->n)
            return;
        struct vjob *j = &p->jobs[i];
        if (p->check_sigs)
            j->sig_ok = proto_record_verify(&j->s->rec, j->s->rec.signer);
        if (j->incl_checked) {
            uint8_t leaf[CRY_HASH_LEN];
            cry_merkle_leaf_hash(leaf, j->s->bytes, j->s->len);
            j->incl_ok = cry_merkle_verify_inclusion(leaf, j->s->rec.seq, j->size,
                                                     (const uint8_t(*)[CRY_HASH_LEN])j->path,
                                                     j->path_len, j->root) == 0;
        }
    }
}

/* Per org: its latest checkpoint, verified once. */
struct cp_cache {
    char org[PROTO_ID_MAX + 1];
    bool ok;
    struct cry_checkpoint cp;
    bool root_checked, root_ok;
};

static struct cp_cache *checkpoint_of(struct walk *w, struct cp_cache **cache, size_t *n,
                                      const char *org_id, const char *note, size_t len)
{
    const struct proto_org *org = proto_ecosystem_org(w->eco, org_id);
    char origin[CRY_ORIGIN_MAX + 1];
    struct cp_cache *c;

    for (size_t i = 0; i < *n; i++)
        if (strcmp((*cache)[i].org, org_id) == 0)
            return &(*cache)[i];
    if (!(c = realloc(*cache, (*n + 1) * sizeof *c)))
        return NULL;
    *cache = c;
    c = &c[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->org, sizeof c->org, "%s", org_id);
    snprintf(origin, sizeof origin, "%s/%s", w->eco->network, org_id);
    /* signed by one of the org's keys (it may have rotated since) */
    for (size_t k = 0; org && k < org->n_keys && !c->ok; k++)
        c->ok = cry_checkpoint_verify(note, len, origin, org->keys[k].pk, &c->cp) == 0;
    return c;
}

static void verify_all(struct walk *w)
{
    struct vf_result *res = w->res;
    struct vpool pool = {.check_sigs = !w->opt->trust_store};
    struct cp_cache *cps = NULL;
    size_t n_cps = 0;
    int threads = w->opt->threads > 0 ? w->opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    uv_thread_t tids[16];

    if (!(pool.jobs = calloc(res->n_recs ? res->n_recs : 1, sizeof *pool.jobs))) {
        w->rc = TN_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < res->n_recs; i++) {
        struct sum *s = sum(w, res->recs[i].id);
        uint8_t path[CRY_MERKLE_MAX_PROOF][CRY_HASH_LEN];
        struct vjob *j;
        const char *note;
        size_t note_len;
        struct cp_cache *c;
        if (!s || !s->ok)
            continue;
        j = &pool.jobs[pool.n++];
        j->s = s;
        if (w->opt->trust_store && w->src->leaf && w->src->root && w->src->checkpoint) {
            /* the store's Merkle nodes, taken as checked: the leaf must be this record's,
             * and the stored tree must have the root of the org's signed checkpoint */
            uint8_t leaf[CRY_HASH_LEN], stored[CRY_HASH_LEN];
            if (w->src->checkpoint(w->src->ctx, s->rec.org, &note, &note_len) != 0 ||
                !(c = checkpoint_of(w, &cps, &n_cps, s->rec.org, note, note_len)) ||
                s->rec.seq >= c->cp.size) {
                finding(w, "UNCHECKPOINTED", w->opt->require_checkpoints ? VF_ERROR : VF_WARNING,
                        s->id, "no signed checkpoint of shard %s covers seq %llu here", s->rec.org,
                        (unsigned long long)s->rec.seq);
                continue;
            }
            if (!c->ok) {
                finding(w, "HASH_MISMATCH", VF_ERROR, s->id,
                        "the checkpoint of shard %s does not carry a valid signature of the org",
                        s->rec.org);
                continue;
            }
            if (!c->root_checked) {
                uint8_t root[CRY_HASH_LEN];
                c->root_checked = true;
                c->root_ok = w->src->root(w->src->ctx, s->rec.org, c->cp.size, root) == 0 &&
                             memcmp(root, c->cp.root, CRY_HASH_LEN) == 0;
            }
            cry_merkle_leaf_hash(leaf, s->bytes, s->len);
            if (!c->root_ok || w->src->leaf(w->src->ctx, s->rec.org, s->rec.seq, stored) != 0 ||
                memcmp(leaf, stored, CRY_HASH_LEN) != 0)
                finding(w, "HASH_MISMATCH", VF_ERROR, s->id,
                        "not the record shard %s's signed checkpoint covers at seq %llu",
                        s->rec.org, (unsigned long long)s->rec.seq);
            continue;
        }
        /* inclusion in the org's latest signed checkpoint, checked on the workers */
        if (w->src->inclusion(w->src->ctx, s->rec.org, s->rec.seq, &note, &note_len, path,
                              &j->path_len) != 0) {
            finding(w, "UNCHECKPOINTED", w->opt->require_checkpoints ? VF_ERROR : VF_WARNING,
                    s->id, "no signed checkpoint of shard %s covers seq %llu here", s->rec.org,
                    (unsigned long long)s->rec.seq);
            continue;
        }
        if (!(c = checkpoint_of(w, &cps, &n_cps, s->rec.org, note, note_len)))
            continue;
        if (!c->ok) {
            finding(w, "HASH_MISMATCH", VF_ERROR, s->id,
                    "the checkpoint of shard %s does not carry a valid signature of the org",
                    s->rec.org);
            continue;
        }
        if (!(j->path = xalloc(w, (j->path_len + 1) * CRY_HASH_LEN)))
            break;
        memcpy(j->path, path, j->path_len * CRY_HASH_LEN);
        j->incl_checked = true;
        j->size = c->cp.size;
        memcpy(j->root, c->cp.root, CRY_HASH_LEN);
    }
    uv_mutex_init(&pool.mu);
    if (threads < 1)
        threads = 1;
    if (threads > 16)
        threads = 16;
    for (int t = 1; t < threads; t++)
        if (uv_thread_create(&tids[t], verify_worker, &pool) != 0)
            threads = t;
    verify_worker(&pool);
    for (int t = 1; t < threads; t++)
        uv_thread_join(&tids[t]);
    uv_mutex_destroy(&pool.mu);
    for (size_t i = 0; i < pool.n; i++) {
        struct vjob *j = &pool.jobs[i];
        if (pool.check_sigs && !j->sig_ok)
            finding(w, "BAD_SIGNATURE", VF_ERROR, j->s->id,
                    "the signature does not verify with the signer's key");
        if (j->incl_checked && !j->incl_ok)
            finding(w, "HASH_MISMATCH", VF_ERROR, j->s->id,
                    "not included at seq %llu in shard %s's signed checkpoint of size %llu",
                    (unsigned long long)j->s->rec.seq, j->s->rec.org,
                    (unsigned long long)j->size);
    }
    free(pool.jobs);
    free(cps);
}

/* --- the walk -------------------------------------------------------------------------- */

static void visit(struct walk *w, size_t idx)
{
    struct vf_record *v = &w->res->recs[idx];
    struct sum *s = sum(w, v->id);

    if (!s)
        return;
    if (!s->present) {
        finding(w, "MISSING_RECORD", VF_WARNING, s->id, "referenced, but not held here");
        return;
    }
    if (!s->hash_ok) {
        finding(w, "HASH_MISMATCH", VF_ERROR, s->id, "the bytes held do not hash to this id");
        return;
    }
    if (!s->ok) {
        finding(w, "BAD_SIGNATURE", VF_ERROR, s->id, "not a well-formed signed record");
        return;
    }
    v->held = true;
    v->org = s->rec.org;
    v->seq = s->rec.seq;
    v->time = s->rec.time;
    v->type = s->rec.type;
    v->n_items = s->rec.n_outputs + s->rec.n_inputs + s->rec.n_items;
    if ((v->items = xalloc(w, (v->n_items + 1) * sizeof *v->items))) {
        size_t k = 0;
        for (size_t i = 0; i < s->rec.n_outputs; i++)
            v->items[k++] = s->rec.outputs[i];
        for (size_t i = 0; i < s->rec.n_inputs; i++)
            v->items[k++] = s->rec.inputs[i].item;
        for (size_t i = 0; i < s->rec.n_items; i++)
            v->items[k++] = s->rec.items[i];
    }
    check_record(w, s);
    if (w->no_follow)
        return;
    if (w->res->forward)
        use_children(w, idx, s);
    else
        trace_parents(w, idx, s);
}

/* Custody along input links: a transform may consume only what its org held. */
static void check_custody(struct walk *w)
{
    for (size_t i = 0; i < w->n_edges; i++) {
        const struct edge *e = &w->edges[i];
        const struct vf_record *from = &w->res->recs[e->from], *to = &w->res->recs[e->to];
        if (!e->custody || !from->held || !to->held || strcmp(from->org, to->org) == 0)
            continue;
        finding(w, "CUSTODY_BREAK", VF_ERROR, from->id,
                "consumes %s, last held by %s, never received by %s", e->item, to->org,
                from->org);
    }
}

static void conclude(struct walk *w)
{
    struct vf_result *r = w->res;
    bool error = false, missing = false;

    for (size_t i = 0; i < r->n_findings; i++) {
        struct vf_finding *f = &r->findings[i];
        error |= f->severity == VF_ERROR;
        missing |= strcmp(f->code, "MISSING_RECORD") == 0;
        if (f->has_record)
            for (size_t k = 0; k < r->n_recs; k++)
                if (memcmp(r->recs[k].id, f->record, PROTO_ID_LEN) == 0) {
                    int lvl = f->severity == VF_ERROR ? 2 : 1;
                    if (r->recs[k].worst < lvl)
                        r->recs[k].worst = lvl;
                }
    }
    r->verdict = error ? VF_FAIL : missing ? VF_INCOMPLETE : VF_OK;
}

static void walk_free(struct walk *w)
{
    for (size_t i = 0; w->map && i <= w->map_mask; i++)
        if (w->map[i]) {
            proto_record_release(&w->map[i]->rec);
            free(w->map[i]);
        }
    free(w->map);
    free(w->queue);
    free(w->edges);
    free(w->items_seen.k);
    free(w->dc_seen.k);
}

/* Ends a walk: the result keeps strings of the summaries, so they are copied before the
 * summaries are freed. Returns the walk's error (the result is released then). */
static int finish(struct walk *w, struct vf_result *out)
{
    for (size_t i = 0; w->rc == 0 && i < out->n_recs; i++) {
        struct vf_record *v = &out->recs[i];
        if (!v->held)
            continue;
        v->org = xstrdup(w, v->org);
        for (size_t k = 0; k < v->n_items; k++)
            v->items[k] = xstrdup(w, v->items[k]);
    }
    for (size_t i = 0; w->rc == 0 && i < out->n_holders; i++)
        out->holders_item[i] = xstrdup(w, out->holders_item[i]);
    walk_free(w);
    if (w->rc != 0)
        vf_result_release(out);
    return w->rc;
}

static int run(const struct vf_source *src, const struct proto_ecosystem *eco, const char *item,
               const struct vf_options *opt, struct vf_result *out, bool forward)
{
    struct walk w = {.src = src, .eco = eco, .opt = opt, .res = out};
    struct item_scan sc;

    memset(out, 0, sizeof *out);
    proto_arena_init(&out->arena, ARENA_CAP);
    out->forward = forward;
    out->item = proto_arena_strndup(&out->arena, item, strlen(item));
    scan_item(&w, item, &sc);
    if (sc.n == 0 && w.rc == 0)
        finding(&w, "MISSING_RECORD", VF_WARNING, NULL, "no record naming %s is held here", item);
    if (forward) {
        set_add(&w, &w.items_seen, out->item);
        for (size_t i = 0; i < sc.n; i++)
            if (sc.hits[i]->present)
                enter(&w, sc.hits[i]);
    } else if (sc.n > 0) {
        /* the item's latest record: the newest by its time (ties: the last stored), so a
         * bundle and the repository it came from start at the same record */
        struct sum *start = sc.hits[0];
        for (size_t i = 1; i < sc.n; i++)
            if (sc.hits[i]->ok && (!start->ok || sc.hits[i]->rec.time >= start->rec.time))
                start = sc.hits[i];
        enter(&w, start);
    }
    scan_release(&sc);
    while (w.rc == 0 && w.q_head < w.q_len)
        visit(&w, w.queue[w.q_head++]);
    if (w.rc == 0) {
        check_custody(&w);
        verify_all(&w);
        conclude(&w);
    }
    if (forward && w.rc == 0) {
        /* who holds each item reached: the latest record naming it */
        size_t n = w.items_seen.n, k = 0;
        out->holders_item = xalloc(&w, (n + 1) * sizeof *out->holders_item);
        out->holders_rec = xalloc(&w, (n + 1) * sizeof *out->holders_rec);
        for (size_t i = 0; out->holders_item && out->holders_rec && i <= w.items_seen.mask; i++) {
            const char *it = w.items_seen.k ? w.items_seen.k[i] : NULL;
            struct sum *best = NULL;
            if (!it)
                continue;
            scan_item(&w, it, &sc);
            for (size_t j = 0; j < sc.n; j++)
                if (sc.hits[j]->ok && sc.hits[j]->rec_index != SIZE_MAX &&
                    (!best || sc.hits[j]->rec.time >= best->rec.time))
                    best = sc.hits[j];
            scan_release(&sc);
            if (best) {
                out->holders_item[k] = it;
                out->holders_rec[k++] = best->rec_index;
            }
        }
        out->n_holders = k;
    }
    return finish(&w, out);
}

int vf_check_records(const struct vf_source *src, const struct proto_ecosystem *eco,
                     const uint8_t (*ids)[PROTO_ID_LEN], size_t n, const struct vf_options *opt,
                     struct vf_result *out)
{
    struct walk w = {.src = src, .eco = eco, .opt = opt, .res = out, .no_follow = true};

    memset(out, 0, sizeof *out);
    proto_arena_init(&out->arena, ARENA_CAP);
    out->item = "";
    for (size_t i = 0; i < n && w.rc == 0; i++) {
        struct sum *s = sum(&w, ids[i]);
        if (s)
            enter(&w, s);
    }
    while (w.rc == 0 && w.q_head < w.q_len)
        visit(&w, w.queue[w.q_head++]);
    if (w.rc == 0) {
        verify_all(&w);
        conclude(&w);
    }
    return finish(&w, out);
}

int vf_trace(const struct vf_source *src, const struct proto_ecosystem *eco, const char *item,
             const struct vf_options *opt, struct vf_result *out)
{
    return run(src, eco, item, opt, out, false);
}

int vf_where_used(const struct vf_source *src, const struct proto_ecosystem *eco,
                  const char *item, const struct vf_options *opt, struct vf_result *out)
{
    return run(src, eco, item, opt, out, true);
}

void vf_result_release(struct vf_result *r)
{
    for (size_t i = 0; i < r->n_recs; i++)
        free(r->recs[i].parents);
    free(r->recs);
    free(r->findings);
    proto_arena_release(&r->arena);
    memset(r, 0, sizeof *r);
}
