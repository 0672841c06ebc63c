/* mud verify: see mud_verify.h and docs/MUD.md.
 *
 * The anchors of the URL are checked like any record the verifier touches (signature,
 * inclusion in a signed checkpoint, the signer's key and role, chain, frozen shard); an
 * anchor that fails those checks does not count. Per org, the valid anchor with the
 * latest last-update is current, unless the org withdrew it with a supersede record;
 * a file whose bytes match an older anchor is SUPERSEDED. The exit code is worked out
 * from the findings as they are added, never from their JSON rendering. */
#include "node/mud_verify.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "crypto/key.h"
#include "node/record_json.h"
#include "node/verify.h"
#include "proto/datetime.h"
#include "proto/mud.h"
#include "proto/utf8.h"

struct anchor {
    uint8_t id[PROTO_ID_LEN];
    struct proto_record rec;
    struct proto_instant lu;
    bool valid;     /* decoded, and no error finding from the record checks */
    bool latest;    /* the valid anchor of its org with the latest last-update */
    bool withdrawn; /* a supersede record of the same org refs it */
    uint8_t withdrawn_by[PROTO_ID_LEN];
    bool current; /* latest and not withdrawn */
    bool counts;  /* valid, and by the org that counts (--org / the device's maker) */
};

struct verify {
    struct store_txn *txn;
    const struct node_mud_verify_opts *o;
    struct anchor *a;
    size_t n, cap;
    json_t *findings;
    size_t n_errors;
};

static int collect_anchor(void *ctx, const uint8_t id[PROTO_ID_LEN])
{
    struct verify *v = ctx;
    struct anchor *a;

    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        struct anchor *na = realloc(v->a, cap * sizeof *na);
        if (!na)
            return TN_ERR_NOMEM;
        v->a = na;
        v->cap = cap;
    }
    a = &v->a[v->n++];
    memset(a, 0, sizeof *a);
    memcpy(a->id, id, PROTO_ID_LEN);
    proto_record_init(&a->rec);
    return 0;
}

/* A finding: the error count is kept here; the detail is cut on a character boundary so
 * that it always renders. */
__attribute__((format(printf, 5, 6))) static void add_finding(struct verify *v, const char *code,
                                                              bool error, const uint8_t *rec,
                                                              const char *fmt, ...)
{
    char detail[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    proto_utf8_trim(detail);
    v->n_errors += error;
    json_array_append_new(v->findings,
                          json_pack("{s:s, s:s, s:o, s:s}", "code", code, "severity",
                                    error ? "error" : "warning", "record",
                                    rec ? node_json_hex(rec) : json_null(), "detail", detail));
}

static void add_vf_finding(struct verify *v, const struct vf_finding *f)
{
    add_finding(v, f->code, f->severity == VF_ERROR, f->has_record ? f->record : NULL, "%s",
                f->detail);
}

static json_t *anchor_json(const struct anchor *a)
{
    json_t *o = json_pack("{s:o, s:s, s:I, s:s, s:o, s:I, s:b, s:b}", "id", node_json_hex(a->id),
                          "org", a->rec.org, "seq", (json_int_t)a->rec.seq, "last_update",
                          a->rec.mud->last_update, "sha256",
                          node_json_hex(a->rec.mud->sha256), "size",
                          (json_int_t)a->rec.mud->size, "current", a->current, "withdrawn",
                          a->withdrawn);
    json_object_set_new(o, "model", a->rec.mud->model ? json_string(a->rec.mud->model)
                                                      : json_null());
    return o;
}

/* The file's own mud-url, if it is readable JSON with one (after a byte order mark,
 * which the validator allows with a warning). */
static char *file_url(const uint8_t *bytes, size_t len)
{
    size_t skip = len >= 3 && memcmp(bytes, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)bytes + skip, len - skip, JSON_REJECT_DUPLICATES,
                             &jerr);
    json_t *u = json_object_get(json_object_get(doc, PROTO_MUD_ROOT), "mud-url");
    char *out = json_is_string(u) ? strdup(json_string_value(u)) : NULL;

    json_decref(doc);
    return out;
}

/* --- the device ---------------------------------------------------------------------- */

struct creators {
    struct store_txn *txn;
    uint8_t (*ids)[PROTO_ID_LEN];
    size_t n, cap;
};

static int collect_creator(void *ctx, char role, const uint8_t id[PROTO_ID_LEN])
{
    struct creators *c = ctx;

    if (role != 'o')
        return 0;
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->ids[i], id, PROTO_ID_LEN) == 0)
            return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        void *n = realloc(c->ids, cap * PROTO_ID_LEN);
        if (!n)
            return TN_ERR_NOMEM;
        c->ids = n;
        c->cap = cap;
    }
    memcpy(c->ids[c->n++], id, PROTO_ID_LEN);
    return 0;
}

static const char *attr_text(const struct proto_record *r, const char *name)
{
    for (size_t i = 0; i < r->n_attrs; i++)
        if (strcmp(r->attrs[i].name, name) == 0 && r->attrs[i].kind == PROTO_VAL_TEXT)
            return r->attrs[i].text;
    return NULL;
}

/* The device's maker and model: the org and attrs.model of the record that made the
 * item -- a commission, or a transform or aggregate that output it. (A disaggregate or a
 * supersede naming it as an output unpacks or corrects it; it does not make it.) */
static int device_origin(struct verify *v, json_t *dev, char **maker, char **model)
{
    struct creators cr = {.txn = v->txn};
    const char *item = v->o->device;
    int rc = store_item_each(v->txn, item, collect_creator, &cr);

    if (rc != 0)
        goto out;
    for (size_t i = 0; i < cr.n; i++) {
        struct proto_record r;
        const uint8_t *b;
        size_t l;
        char why[200];
        const char *m;
        proto_record_init(&r);
        if (store_record_get(v->txn, cr.ids[i], &b, &l) == 0 &&
            proto_record_decode(b, l, &r, why, sizeof why) == 0 &&
            (r.type == PROTO_T_COMMISSION || r.type == PROTO_T_TRANSFORM ||
             r.type == PROTO_T_AGGREGATE)) {
            if (*maker && strcmp(*maker, r.org) != 0) {
                add_finding(v, "MUD_DEVICE_ORIGIN", true, cr.ids[i],
                            "%s is made by records of two orgs (%s and %s): its maker is "
                            "ambiguous", item, *maker, r.org);
            } else if (!*maker) {
                *maker = strdup(r.org);
                m = attr_text(&r, "model");
                *model = m ? strdup(m) : NULL;
                json_object_set_new(dev, "origin", node_json_hex(cr.ids[i]));
            }
        }
        proto_record_release(&r);
    }
    if (!*maker)
        add_finding(v, "MISSING_RECORD", false, NULL,
                    "no record held here makes %s (a commission, transform or aggregate)", item);
out:
    free(cr.ids);
    return rc;
}

/* --- the anchors ----------------------------------------------------------------------- */

struct withdrawal {
    struct store_txn *txn;
    struct anchor *a;
};

/* A supersede record of the anchor's own org that refs it withdraws it. */
static int find_withdrawal(void *ctx, const uint8_t id[PROTO_ID_LEN])
{
    struct withdrawal *w = ctx;
    struct proto_record r;
    const uint8_t *b;
    size_t l;
    char why[200];

    proto_record_init(&r);
    if (store_record_get(w->txn, id, &b, &l) == 0 &&
        proto_record_decode(b, l, &r, why, sizeof why) == 0 &&
        r.type == PROTO_T_SUPERSEDE && strcmp(r.org, w->a->rec.org) == 0) {
        w->a->withdrawn = true;
        memcpy(w->a->withdrawn_by, id, PROTO_ID_LEN);
    }
    proto_record_release(&r);
    return 0;
}

/* Checks every anchor of url and marks which are valid, latest, withdrawn and current. */
static int judge_anchors(struct verify *v, const struct proto_ecosystem *eco, const char *url,
                         struct vf_options *vopt, char *err, size_t errlen)
{
    struct vf_source src;
    struct vf_result vr;
    uint8_t (*ids)[PROTO_ID_LEN];
    int rc;

    if ((rc = store_mud_each(v->txn, url, collect_anchor, v)) != 0) {
        snprintf(err, errlen, "cannot read the anchors: %s", tn_strerror(rc));
        return rc;
    }
    if (v->n == 0)
        return 0;
    if (!(ids = malloc(v->n * PROTO_ID_LEN)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < v->n; i++)
        memcpy(ids[i], v->a[i].id, PROTO_ID_LEN);
    vf_store_source(v->txn, &src);
    rc = vf_check_records(&src, eco, (const uint8_t(*)[PROTO_ID_LEN])ids, v->n, vopt, &vr);
    free(ids);
    if (rc != 0) {
        snprintf(err, errlen, "cannot check the anchors: %s", tn_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < v->n; i++) {
        struct anchor *a = &v->a[i];
        struct withdrawal w = {v->txn, a};
        const uint8_t *b;
        size_t l;
        char why[200];
        a->valid = store_record_get(v->txn, a->id, &b, &l) == 0 &&
                   proto_record_decode(b, l, &a->rec, why, sizeof why) == 0 &&
                   a->rec.mud && strcmp(a->rec.mud->url, url) == 0 &&
                   proto_datetime_parse(a->rec.mud->last_update,
                                        strlen(a->rec.mud->last_update), &a->lu, why,
                                        sizeof why) == 0;
        for (size_t k = 0; k < vr.n_findings; k++) {
            const struct vf_finding *f = &vr.findings[k];
            if (!f->has_record || memcmp(f->record, a->id, PROTO_ID_LEN) != 0)
                continue;
            add_vf_finding(v, f);
            a->valid &= f->severity != VF_ERROR;
        }
        if (a->valid && (rc = store_refs_each(v->txn, a->id, find_withdrawal, &w)) != 0)
            break;
    }
    vf_result_release(&vr);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the anchors: %s", tn_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < v->n; i++) {
        struct anchor *a = &v->a[i];
        a->latest = a->valid;
        for (size_t k = 0; a->latest && k < v->n; k++) {
            const struct anchor *b = &v->a[k];
            int cmp;
            if (k == i || !b->valid || strcmp(b->rec.org, a->rec.org) != 0)
                continue;
            cmp = proto_instant_cmp(&b->lu, &a->lu);
            a->latest = cmp < 0 || (cmp == 0 && b->rec.seq < a->rec.seq);
        }
        a->current = a->latest && !a->withdrawn;
    }
    return 0;
}

/* The latest anchor of org among those that count (NULL if none). */
static struct anchor *latest_of(struct verify *v, const char *org)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->a[i].counts && v->a[i].latest && strcmp(v->a[i].rec.org, org) == 0)
            return &v->a[i];
    return NULL;
}

/* --- the verdict ----------------------------------------------------------------------- */

int node_mud_verify(struct store_txn *txn, const struct proto_ecosystem *eco,
                    const uint8_t *bytes, size_t len, const struct node_mud_verify_opts *o,
                    json_t **out, int *exit_code, char *err, size_t errlen)
{
    struct verify v = {.txn = txn, .o = o, .findings = json_array()};
    struct vf_options vopt = {.trust_store = o->trust_store, .threads = o->threads};
    uint8_t sha[CRY_HASH_LEN];
    char *furl = file_url(bytes, len), *maker = NULL, *model = NULL;
    const char *url = o->url ? o->url : furl, *pin = o->org, *status, *first_org = NULL;
    json_t *res = NULL, *dev = NULL, *anchors = json_array();
    struct anchor *match = NULL, *expect = NULL;
    bool contested = false, nobody = false, device_incomplete = false, any_other = false;
    int rc = 0;

    *out = NULL;
    if (!url) {
        snprintf(err, errlen, "the file has no readable mud-url (is it a MUD file?); give the "
                              "URL the device presented with --url");
        rc = TN_ERR_INVALID;
        goto done;
    }
    cry_sha256(sha, bytes, len);

    /* whose anchors count: --org, or the org that made the device */
    if (o->device) {
        dev = json_pack("{s:s}", "item", o->device);
        if ((rc = device_origin(&v, dev, &maker, &model)) != 0) {
            snprintf(err, errlen, "cannot read the device's records: %s", tn_strerror(rc));
            goto done;
        }
        json_object_set_new(dev, "maker", maker ? json_string(maker) : json_null());
        json_object_set_new(dev, "model", model ? json_string(model) : json_null());
        if (pin && maker && strcmp(pin, maker) != 0) {
            snprintf(err, errlen, "--org %s, but %s was made by %s", pin, o->device, maker);
            rc = TN_ERR_INVALID;
            goto done;
        }
        if (maker)
            pin = maker;
        else if (!pin)
            nobody = true; /* the maker is unknown: no anchor can be the right one */
        device_incomplete = !maker;
    }

    if ((rc = judge_anchors(&v, eco, url, &vopt, err, errlen)) != 0)
        goto done;
    for (size_t i = 0; i < v.n; i++) {
        struct anchor *a = &v.a[i];
        if (!a->valid)
            continue;
        a->counts = !nobody && (!pin || strcmp(a->rec.org, pin) == 0);
        if (!a->counts) {
            any_other = true;
            continue;
        }
        json_array_append_new(anchors, anchor_json(a));
        if (first_org && strcmp(first_org, a->rec.org) != 0)
            contested = true;
        first_org = first_org ? first_org : a->rec.org;
        if (memcmp(a->rec.mud->sha256, sha, CRY_HASH_LEN) == 0 &&
            (!match || (a->current && !match->current)))
            match = a;
        /* what MISMATCH expected: the newest current anchor (else the newest latest) */
        if (a->latest && (!expect || (a->current && !expect->current) ||
                          (a->current == expect->current &&
                           proto_instant_cmp(&a->lu, &expect->lu) > 0)))
            expect = a;
    }
    if (contested) /* pin the maker to say which org's file this is */
        add_finding(&v, "MUD_URL_CONTESTED", true, NULL,
                    "%s is anchored by more than one org; name the maker with --org or "
                    "--device", url);

    if (o->url && furl && strcmp(o->url, furl) != 0) {
        status = "URL_MISMATCH";
        add_finding(&v, "MUD_URL_MISMATCH", true, NULL,
                    "the device presented %s, but the file is the MUD file of %s", o->url, furl);
        match = NULL;
    } else if (match && match->current) {
        status = "VERIFIED";
    } else if (match) {
        struct anchor *newest = latest_of(&v, match->rec.org);
        char hex[CRY_HEX_LEN(PROTO_ID_LEN)];
        status = "SUPERSEDED";
        if (newest == match) {
            cry_hex(hex, match->withdrawn_by, PROTO_ID_LEN);
            add_finding(&v, "MUD_SUPERSEDED", true, match->id,
                        "%s withdrew this anchor (last-update %s) with record %s",
                        match->rec.org, match->rec.mud->last_update, hex);
        } else if (newest) {
            cry_hex(hex, newest->id, PROTO_ID_LEN);
            add_finding(&v, "MUD_SUPERSEDED", true, match->id,
                        "this is the version with last-update %s; %s anchored a newer one: "
                        "record %s, last-update %s%s",
                        match->rec.mud->last_update, match->rec.org, hex,
                        newest->rec.mud->last_update, newest->withdrawn ? " (withdrawn)" : "");
        }
    } else if (expect) {
        char want[CRY_HEX_LEN(CRY_HASH_LEN)], got[CRY_HEX_LEN(CRY_HASH_LEN)];
        cry_hex(want, expect->rec.mud->sha256, CRY_HASH_LEN);
        cry_hex(got, sha, CRY_HASH_LEN);
        status = "MISMATCH";
        add_finding(&v, "MUD_DIGEST_MISMATCH", true, expect->id,
                    "expected sha256 %s (%llu bytes, anchored by %s, last-update %s), the file "
                    "has sha256 %s (%zu bytes); digests cover the raw bytes, so even "
                    "whitespace counts", want, (unsigned long long)expect->rec.mud->size,
                    expect->rec.org, expect->rec.mud->last_update, got, len);
    } else {
        status = "NOT_ANCHORED";
        if (nobody)
            add_finding(&v, "MUD_NOT_ANCHORED", true, NULL,
                        "the maker of %s is not known here, so no anchor of %s can be taken "
                        "as its MUD file", o->device, url);
        else if (pin && any_other)
            add_finding(&v, "MUD_NOT_ANCHORED", true, NULL,
                        "%s is anchored here, but not by %s%s", url, pin,
                        o->device ? ", the device's maker" : "");
        else
            add_finding(&v, "MUD_NOT_ANCHORED", true, NULL, "no valid anchor of %s is held here",
                        url);
    }

    if (o->device && maker && match && strcmp(status, "VERIFIED") == 0) {
        const char *am = match->rec.mud->model;
        if (!am || !model || strcmp(am, model) != 0)
            add_finding(&v, "MUD_MODEL_MISMATCH", true, match->id,
                        "the anchor is for model %s%s%s, the device %s is %s%s%s",
                        am ? "'" : "", am ? am : "(none given)", am ? "'" : "", o->device,
                        model ? "'" : "", model ? model : "of no recorded model",
                        model ? "'" : "");
    }
    if (o->device && maker) {
        struct vf_source src;
        struct vf_result tr;
        json_t *tf = json_array();
        vf_store_source(txn, &src);
        if ((rc = vf_trace(&src, eco, o->device, &vopt, &tr)) != 0) {
            json_decref(tf);
            snprintf(err, errlen, "cannot trace %s: %s", o->device, tn_strerror(rc));
            goto done;
        }
        json_object_set_new(dev, "verdict", json_string(vf_verdict_name(tr.verdict)));
        json_object_set_new(dev, "records", json_integer((json_int_t)tr.n_recs));
        for (size_t k = 0; k < tr.n_findings; k++)
            json_array_append_new(tf, vf_finding_json(&tr.findings[k]));
        json_object_set_new(dev, "findings", tf);
        if (tr.verdict == VF_FAIL) {
            add_finding(&v, "MUD_DEVICE_PEDIGREE", true, NULL,
                        "the pedigree of %s fails (tracectl trace lists why)", o->device);
        } else if (tr.verdict == VF_INCOMPLETE) {
            add_finding(&v, "MUD_DEVICE_PEDIGREE", false, NULL,
                        "the pedigree of %s is incomplete here: records are missing",
                        o->device);
            device_incomplete = true;
        }
        vf_result_release(&tr);
    } else if (dev) {
        json_object_set_new(dev, "verdict", json_string("incomplete"));
    }

    res = json_pack("{s:s, s:s, s:o, s:o, s:I, s:o}", "status", status, "url", url, "file_url",
                    furl ? json_string(furl) : json_null(), "sha256", node_json_hex(sha),
                    "size", (json_int_t)len, "anchor",
                    match ? node_json_hex(match->id) : json_null());
    if (!res) {
        rc = TN_ERR_NOMEM;
        snprintf(err, errlen, "cannot render the result");
        goto done;
    }
    if (match) {
        json_object_set_new(res, "org", json_string(match->rec.org));
        json_object_set_new(res, "last_update", json_string(match->rec.mud->last_update));
        json_object_set_new(res, "model", match->rec.mud->model
                                              ? json_string(match->rec.mud->model)
                                              : json_null());
    }
    if (strcmp(status, "MISMATCH") == 0)
        json_object_set_new(res, "expected_sha256",
                            node_json_hex(expect->rec.mud->sha256));
    if (strcmp(status, "SUPERSEDED") == 0) {
        struct anchor *newest = latest_of(&v, match->rec.org);
        json_object_set_new(res, "superseded_by",
                            newest && newest != match ? node_json_hex(newest->id)
                                                      : node_json_hex(match->withdrawn_by));
    }
    json_object_set_new(res, "anchors", anchors);
    anchors = NULL;
    if (dev) {
        json_object_set_new(res, "device", dev);
        dev = NULL;
    }
    {
        bool fail = strcmp(status, "VERIFIED") != 0 || v.n_errors > 0;
        json_object_set_new(res, "verdict",
                            json_string(fail ? "fail" : device_incomplete ? "incomplete" : "ok"));
        *exit_code = fail ? 1 : device_incomplete ? 3 : 0;
    }
    json_object_set_new(res, "findings", v.findings);
    v.findings = NULL;
    *out = res;
    res = NULL;
done:
    for (size_t i = 0; i < v.n; i++)
        proto_record_release(&v.a[i].rec);
    free(v.a);
    json_decref(res);
    json_decref(v.findings);
    json_decref(anchors);
    json_decref(dev);
    free(furl);
    free(maker);
    free(model);
    return rc;
}

static const char *str(const json_t *o, const char *k, const char *dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

void node_mud_verify_text(const json_t *res, FILE *out)
{
    const json_t *dev = json_object_get(res, "device"), *f;
    const char *status = str(res, "status", "?"), *verdict = str(res, "verdict", "?");
    size_t i;

    fprintf(out, "%s  %s%s\n", status, str(res, "url", "?"),
            strcmp(status, "VERIFIED") == 0 && strcmp(verdict, "fail") == 0
                ? "   (but the verdict is fail: see the errors below)"
                : "");
    fprintf(out, "  file      sha256 %s, %lld bytes\n", str(res, "sha256", "?"),
            (long long)json_integer_value(json_object_get(res, "size")));
    if (json_is_string(json_object_get(res, "anchor")))
        fprintf(out, "  anchor    %s by %s, last-update %s, model %s\n", str(res, "anchor", "?"),
                str(res, "org", "?"), str(res, "last_update", "?"), str(res, "model", "(none)"));
    if (json_is_string(json_object_get(res, "expected_sha256")))
        fprintf(out, "  expected  sha256 %s\n", str(res, "expected_sha256", "?"));
    if (json_is_string(json_object_get(res, "superseded_by")))
        fprintf(out, "  superseded by %s\n", str(res, "superseded_by", "?"));
    if (dev)
        fprintf(out, "  device    %s: made by %s, model %s, pedigree %s\n", str(dev, "item", "?"),
                str(dev, "maker", "(unknown)"), str(dev, "model", "(none recorded)"),
                str(dev, "verdict", "?"));
    json_array_foreach(json_object_get(res, "findings"), i, f)
        fprintf(out, "  %s %s: %s\n",
                strcmp(str(f, "severity", ""), "error") == 0 ? "ERROR" : "warning",
                str(f, "code", "?"), str(f, "detail", ""));
    fprintf(out, "verdict: %s\n", verdict);
}
