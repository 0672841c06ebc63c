/* mud verify: see mud_verify.h.
 *
 * The anchors of the URL are checked like any record the verifier touches (signature,
 * inclusion in a signed checkpoint, the signer's key and role, chain, frozen shard); an
 * anchor that fails those checks does not count. Per org, the anchor with the latest
 * last-update is current; an older one the bytes match is SUPERSEDED. */
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

struct anchor {
    uint8_t id[PROTO_ID_LEN];
    struct proto_record rec;
    struct proto_instant lu;
    bool decoded, valid, current;
};

struct anchors {
    struct store_txn *txn;
    struct anchor *a;
    size_t n, cap;
};

static int collect_anchor(void *ctx, const uint8_t id[PROTO_ID_LEN])
{
    struct anchors *as = ctx;
    struct anchor *a;

    if (as->n == as->cap) {
        size_t cap = as->cap ? as->cap * 2 : 8;
        struct anchor *na = realloc(as->a, cap * sizeof *na);
        if (!na)
            return TN_ERR_NOMEM;
        as->a = na;
        as->cap = cap;
    }
    a = &as->a[as->n++];
    memset(a, 0, sizeof *a);
    memcpy(a->id, id, PROTO_ID_LEN);
    proto_record_init(&a->rec);
    return 0;
}

static void anchors_release(struct anchors *as)
{
    for (size_t i = 0; i < as->n; i++)
        proto_record_release(&as->a[i].rec);
    free(as->a);
}

/* The creator of an item: the records that name it as an output. */
struct creators {
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

__attribute__((format(printf, 5, 6))) static void add_finding(json_t *findings, const char *code,
                                                              bool error, const uint8_t *rec,
                                                              const char *fmt, ...)
{
    char detail[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_array_append_new(findings, json_pack("{s:s, s:s, s:o, s:s}", "code", code, "severity",
                                              error ? "error" : "warning", "record",
                                              rec ? node_json_hex(rec) : json_null(), "detail",
                                              detail));
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char hex[CRY_HEX_LEN(64)];
    cry_hex(hex, b, n);
    return json_string(hex);
}

static json_t *anchor_json(const struct anchor *a)
{
    json_t *o = json_pack("{s:o, s:s, s:I, s:s, s:o, s:I}", "id", node_json_hex(a->id), "org",
                          a->rec.org, "seq", (json_int_t)a->rec.seq, "last_update",
                          a->rec.mud->last_update, "sha256",
                          hex_json(a->rec.mud->sha256, CRY_HASH_LEN), "size",
                          (json_int_t)a->rec.mud->size);
    json_object_set_new(o, "model", a->rec.mud->model ? json_string(a->rec.mud->model)
                                                      : json_null());
    return o;
}

/* The file's own mud-url, if it is readable JSON with one. */
static char *file_url(const uint8_t *bytes, size_t len)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *u = json_object_get(json_object_get(doc, PROTO_MUD_ROOT), "mud-url");
    char *out = json_is_string(u) ? strdup(json_string_value(u)) : NULL;

    json_decref(doc);
    return out;
}

/* The device's maker and model from the record that created it. */
static int device_origin(struct store_txn *txn, const char *item, json_t *dev, json_t *findings,
                         char **maker, char **model)
{
    struct creators cr = {0};
    int rc = store_item_each(txn, item, collect_creator, &cr);

    if (rc != 0)
        goto out;
    if (cr.n == 0) {
        add_finding(findings, "MISSING_RECORD", false, NULL,
                    "no record held here creates %s (commission, transform or aggregate)", item);
        goto out;
    }
    for (size_t i = 0; i < cr.n; i++) {
        struct proto_record r;
        const uint8_t *b;
        size_t l;
        char why[200];
        const char *m;
        proto_record_init(&r);
        if (store_record_get(txn, cr.ids[i], &b, &l) == 0 &&
            proto_record_decode_stored(b, l, &r, why, sizeof why) == 0) {
            if (*maker && strcmp(*maker, r.org) != 0) {
                add_finding(findings, "MUD_DEVICE_ORIGIN", true, cr.ids[i],
                            "%s is created by records of two orgs (%s and %s): its maker is "
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
out:
    free(cr.ids);
    return rc;
}

int mud_verify(struct store_txn *txn, const struct proto_ecosystem *eco, const uint8_t *bytes,
               size_t len, const struct mud_verify_opts *o, json_t **out, int *exit_code,
               char *err, size_t errlen)
{
    struct anchors as = {.txn = txn};
    struct vf_source src;
    struct vf_options vopt = {.trust_store = o->trust_store, .threads = o->threads};
    struct vf_result vr;
    bool checked = false;
    uint8_t sha[CRY_HASH_LEN];
    char *furl = file_url(bytes, len), *maker = NULL, *model = NULL;
    const char *url = o->url ? o->url : furl, *pin = o->org, *status;
    json_t *res = json_object(), *findings = json_array(), *dev = NULL, *anchors = json_array();
    struct anchor *match = NULL, *cur = NULL;
    bool other_orgs = false, device_incomplete = false;
    int rc = 0;

    *out = NULL;
    if (!url) {
        snprintf(err, errlen, "the file has no readable mud-url (is it a MUD file?); give the "
                              "URL the device presented with --url");
        rc = TN_ERR_INVALID;
        goto done;
    }
    cry_sha256(sha, bytes, len);
    vf_store_source(txn, &src);

    if (o->device) {
        dev = json_pack("{s:s}", "item", o->device);
        if ((rc = device_origin(txn, o->device, dev, findings, &maker, &model)) != 0) {
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
        pin = maker;
        if (!maker)
            device_incomplete = true;
    }

    /* every anchor of the URL, checked like any record */
    if ((rc = store_mud_each(txn, url, collect_anchor, &as)) != 0) {
        snprintf(err, errlen, "cannot read the anchors: %s", tn_strerror(rc));
        goto done;
    }
    if (as.n > 0) {
        uint8_t (*ids)[PROTO_ID_LEN] = malloc(as.n * PROTO_ID_LEN);
        if (!ids) {
            rc = TN_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < as.n; i++)
            memcpy(ids[i], as.a[i].id, PROTO_ID_LEN);
        rc = vf_check_records(&src, eco, (const uint8_t(*)[PROTO_ID_LEN])ids, as.n, &vopt, &vr);
        free(ids);
        checked = rc == 0;
        if (rc != 0) {
            snprintf(err, errlen, "cannot check the anchors: %s", tn_strerror(rc));
            goto done;
        }
    }
    for (size_t i = 0; i < as.n; i++) {
        struct anchor *a = &as.a[i];
        const uint8_t *b;
        size_t l;
        char why[200];
        a->valid = true;
        for (size_t k = 0; checked && k < vr.n_findings; k++) {
            const struct vf_finding *f = &vr.findings[k];
            if (!f->has_record || memcmp(f->record, a->id, PROTO_ID_LEN) != 0)
                continue;
            json_array_append_new(findings, vf_finding_json(f));
            if (f->severity == VF_ERROR)
                a->valid = false;
        }
        a->decoded = store_record_get(txn, a->id, &b, &l) == 0 &&
                     proto_record_decode_stored(b, l, &a->rec, why, sizeof why) == 0 &&
                     a->rec.mud && strcmp(a->rec.mud->url, url) == 0 &&
                     proto_datetime_parse(a->rec.mud->last_update,
                                          strlen(a->rec.mud->last_update), &a->lu, why,
                                          sizeof why) == 0;
        a->valid &= a->decoded;
    }
    /* the current anchor of each org: the latest last-update (ties: the later seq) */
    for (size_t i = 0; i < as.n; i++) {
        struct anchor *a = &as.a[i];
        bool latest = a->valid;
        for (size_t k = 0; latest && k < as.n; k++) {
            struct anchor *b = &as.a[k];
            int cmp;
            if (k == i || !b->valid || strcmp(b->rec.org, a->rec.org) != 0)
                continue;
            cmp = proto_instant_cmp(&b->lu, &a->lu);
            latest = cmp < 0 || (cmp == 0 && b->rec.seq < a->rec.seq);
        }
        a->current = latest;
    }
    for (size_t i = 0; i < as.n; i++) {
        struct anchor *a = &as.a[i];
        json_t *j;
        if (!a->valid)
            continue;
        if (pin && strcmp(a->rec.org, pin) != 0) {
            other_orgs = true;
            continue;
        }
        j = anchor_json(a);
        json_object_set_new(j, "current", json_boolean(a->current));
        json_array_append_new(anchors, j);
        if (memcmp(a->rec.mud->sha256, sha, CRY_HASH_LEN) == 0 &&
            (!match || (a->current && !match->current)))
            match = a;
        /* the newest current anchor, for MISMATCH's "expected" */
        if (a->current && (!cur || proto_instant_cmp(&a->lu, &cur->lu) > 0))
            cur = a;
    }
    if (!pin) { /* more than one org anchoring one URL: say so, the operator must choose */
        const char *first = NULL;
        for (size_t i = 0; i < as.n; i++)
            if (as.a[i].valid && as.a[i].current) {
                if (first && strcmp(first, as.a[i].rec.org) != 0) {
                    add_finding(findings, "MUD_URL_CONTESTED", false, as.a[i].id,
                                "%s is anchored by more than one org (%s and %s); pin the maker "
                                "with --org or --device", url, first, as.a[i].rec.org);
                    break;
                }
                first = as.a[i].rec.org;
            }
    }

    if (o->url && furl && strcmp(o->url, furl) != 0) {
        status = "URL_MISMATCH";
        add_finding(findings, "MUD_URL_MISMATCH", true, NULL,
                    "the device presented %s, but the file is the MUD file of %s", o->url, furl);
        match = NULL;
    } else if (o->url && !furl) {
        status = cur ? "MISMATCH" : "NOT_ANCHORED";
        if (cur)
            add_finding(findings, "MUD_DIGEST_MISMATCH", true, cur->id,
                        "the file is not a readable MUD file, so not the anchored one");
        else
            add_finding(findings, "MUD_NOT_ANCHORED", true, NULL, "no anchor of %s is held here",
                        url);
    } else if (match && match->current) {
        status = "VERIFIED";
    } else if (match) {
        struct anchor *newer = NULL;
        for (size_t i = 0; i < as.n; i++)
            if (as.a[i].valid && as.a[i].current && strcmp(as.a[i].rec.org, match->rec.org) == 0)
                newer = &as.a[i];
        status = "SUPERSEDED";
        if (newer) {
            char hex[CRY_HEX_LEN(PROTO_ID_LEN)];
            cry_hex(hex, newer->id, PROTO_ID_LEN);
            add_finding(findings, "MUD_SUPERSEDED", true, match->id,
                        "this is the version with last-update %s; %s anchored a newer one: "
                        "record %s, last-update %s",
                        match->rec.mud->last_update, match->rec.org, hex,
                        newer->rec.mud->last_update);
            json_object_set_new(res, "superseded_by", node_json_hex(newer->id));
        }
    } else if (cur) {
        char want[CRY_HEX_LEN(CRY_HASH_LEN)], got[CRY_HEX_LEN(CRY_HASH_LEN)];
        cry_hex(want, cur->rec.mud->sha256, CRY_HASH_LEN);
        cry_hex(got, sha, CRY_HASH_LEN);
        status = "MISMATCH";
        add_finding(findings, "MUD_DIGEST_MISMATCH", true, cur->id,
                    "expected sha256 %s (%llu bytes, anchored by %s, last-update %s), the file "
                    "has sha256 %s (%zu bytes); digests cover the raw bytes, so even "
                    "whitespace counts", want, (unsigned long long)cur->rec.mud->size,
                    cur->rec.org, cur->rec.mud->last_update, got, len);
        json_object_set_new(res, "expected_sha256", hex_json(cur->rec.mud->sha256, CRY_HASH_LEN));
    } else {
        status = "NOT_ANCHORED";
        if (pin && other_orgs)
            add_finding(findings, "MUD_NOT_ANCHORED", true, NULL,
                        "%s is anchored here, but not by %s%s", url, pin,
                        o->device ? ", the device's maker" : "");
        else
            add_finding(findings, "MUD_NOT_ANCHORED", true, NULL,
                        "no valid anchor of %s is held here", url);
    }

    if (o->device && maker && match && strcmp(status, "VERIFIED") == 0) {
        const char *am = match->rec.mud->model;
        if (!am || !model || strcmp(am, model) != 0)
            add_finding(findings, "MUD_MODEL_MISMATCH", true, match->id,
                        "the anchor is for model %s%s%s, the device %s is %s%s%s",
                        am ? "'" : "", am ? am : "(none given)", am ? "'" : "", o->device,
                        model ? "'" : "", model ? model : "of no recorded model",
                        model ? "'" : "");
    }
    if (o->device && maker) {
        struct vf_result tr;
        if ((rc = vf_trace(&src, eco, o->device, &vopt, &tr)) != 0) {
            snprintf(err, errlen, "cannot trace %s: %s", o->device, tn_strerror(rc));
            goto done;
        }
        json_object_set_new(dev, "verdict", json_string(vf_verdict_name(tr.verdict)));
        json_object_set_new(dev, "records", json_integer((json_int_t)tr.n_recs));
        {
            json_t *tf = json_array();
            for (size_t k = 0; k < tr.n_findings; k++)
                json_array_append_new(tf, vf_finding_json(&tr.findings[k]));
            json_object_set_new(dev, "findings", tf);
        }
        if (tr.verdict == VF_FAIL)
            add_finding(findings, "MUD_DEVICE_PEDIGREE", true, NULL,
                        "the pedigree of %s fails (tracectl trace %s lists why)", o->device,
                        o->device);
        else if (tr.verdict == VF_INCOMPLETE) {
            add_finding(findings, "MUD_DEVICE_PEDIGREE", false, NULL,
                        "the pedigree of %s is incomplete here: records are missing",
                        o->device);
            device_incomplete = true;
        }
        vf_result_release(&tr);
    } else if (dev) {
        json_object_set_new(dev, "verdict", json_string("incomplete"));
    }

    json_object_set_new(res, "status", json_string(status));
    json_object_set_new(res, "url", json_string(url));
    json_object_set_new(res, "file_url", furl ? json_string(furl) : json_null());
    json_object_set_new(res, "sha256", hex_json(sha, CRY_HASH_LEN));
    json_object_set_new(res, "size", json_integer((json_int_t)len));
    json_object_set_new(res, "anchor", match ? node_json_hex(match->id) : json_null());
    if (match) {
        json_object_set_new(res, "org", json_string(match->rec.org));
        json_object_set_new(res, "last_update", json_string(match->rec.mud->last_update));
        json_object_set_new(res, "model", match->rec.mud->model
                                              ? json_string(match->rec.mud->model)
                                              : json_null());
    }
    json_object_set_new(res, "anchors", anchors);
    anchors = NULL;
    if (dev) {
        json_object_set_new(res, "device", dev);
        dev = NULL;
    }
    {
        bool error = strcmp(status, "VERIFIED") != 0;
        size_t i;
        json_t *f;
        json_array_foreach(findings, i, f)
            error |= strcmp(json_string_value(json_object_get(f, "severity")), "error") == 0;
        json_object_set_new(res, "verdict",
                            json_string(error ? "fail" : device_incomplete ? "incomplete" : "ok"));
        *exit_code = error ? 1 : device_incomplete ? 3 : 0;
    }
    json_object_set_new(res, "findings", findings);
    findings = NULL;
    *out = res;
    res = NULL;
done:
    if (checked)
        vf_result_release(&vr);
    anchors_release(&as);
    json_decref(res);
    json_decref(findings);
    json_decref(anchors);
    json_decref(dev);
    free(furl);
    free(maker);
    free(model);
    return rc;
}

void mud_verify_text(const json_t *res, FILE *out)
{
    const json_t *dev = json_object_get(res, "device"), *f;
    size_t i;

    fprintf(out, "%s  %s\n", json_string_value(json_object_get(res, "status")),
            json_string_value(json_object_get(res, "url")));
    fprintf(out, "  file      sha256 %s, %lld bytes\n",
            json_string_value(json_object_get(res, "sha256")),
            (long long)json_integer_value(json_object_get(res, "size")));
    if (json_is_string(json_object_get(res, "anchor")))
        fprintf(out, "  anchor    %s by %s, last-update %s, model %s\n",
                json_string_value(json_object_get(res, "anchor")),
                json_string_value(json_object_get(res, "org")),
                json_string_value(json_object_get(res, "last_update")),
                json_is_string(json_object_get(res, "model"))
                    ? json_string_value(json_object_get(res, "model"))
                    : "(none)");
    if (json_is_string(json_object_get(res, "expected_sha256")))
        fprintf(out, "  expected  sha256 %s\n",
                json_string_value(json_object_get(res, "expected_sha256")));
    if (json_is_string(json_object_get(res, "superseded_by")))
        fprintf(out, "  newer     %s\n", json_string_value(json_object_get(res, "superseded_by")));
    if (dev)
        fprintf(out, "  device    %s: made by %s, model %s, pedigree %s\n",
                json_string_value(json_object_get(dev, "item")),
                json_is_string(json_object_get(dev, "maker"))
                    ? json_string_value(json_object_get(dev, "maker"))
                    : "(unknown)",
                json_is_string(json_object_get(dev, "model"))
                    ? json_string_value(json_object_get(dev, "model"))
                    : "(none recorded)",
                json_string_value(json_object_get(dev, "verdict")));
    json_array_foreach(json_object_get(res, "findings"), i, f) {
        const char *sev = json_string_value(json_object_get(f, "severity"));
        fprintf(out, "  %s %s: %s\n", strcmp(sev, "error") == 0 ? "ERROR" : "warning",
                json_string_value(json_object_get(f, "code")),
                json_string_value(json_object_get(f, "detail")));
    }
    fprintf(out, "verdict: %s\n", json_string_value(json_object_get(res, "verdict")));
}
