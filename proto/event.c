#include "proto/event.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "proto/cbor.h"
#include "proto/fail.h"

static int ffail(char *err, size_t errlen, const char *field, const char *why)
{
    return proto_fail(err, errlen, "field '%s': %s", field, why);
}

static int copy_text(struct proto_event *ev, json_t *v, size_t max, const char **out)
{
    if (json_string_length(v) > max)
        return TN_ERR_TOO_BIG;
    *out = proto_arena_strndup(&ev->rec.arena, json_string_value(v), json_string_length(v));
    return *out ? 0 : TN_ERR_NOMEM;
}

static int parse_list(struct proto_event *ev, json_t *v, const char *field, const char ***out,
                      size_t *n, char *err, size_t errlen)
{
    json_t *x;
    size_t i;
    int rc;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return ffail(err, errlen, field, "must be a non-empty array of item ids");
    if (!(*out = proto_arena_alloc(&ev->rec.arena, json_array_size(v) * sizeof **out)))
        return TN_ERR_NOMEM;
    json_array_foreach(v, i, x) {
        if (!json_is_string(x))
            return ffail(err, errlen, field, "every item id must be a string");
        if ((rc = copy_text(ev, x, PROTO_ITEM_MAX, &(*out)[i])) == TN_ERR_TOO_BIG)
            return ffail(err, errlen, field, "item id over 1024 bytes");
        if (rc != 0)
            return rc;
    }
    *n = json_array_size(v);
    return 0;
}

static int parse_inputs(struct proto_event *ev, json_t *v, char *err, size_t errlen)
{
    struct proto_record *r = &ev->rec;
    json_t *x;
    size_t i;
    int rc;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return ffail(err, errlen, "inputs", "must be a non-empty array of item ids");
    if (!(r->inputs = proto_arena_alloc(&r->arena, json_array_size(v) * sizeof *r->inputs)))
        return TN_ERR_NOMEM;
    json_array_foreach(v, i, x) {
        json_t *item = x, *rec = NULL;
        if (json_is_object(x)) { /* {"item": ..., "rec": hex}: an explicit link */
            item = json_object_get(x, "item");
            rec = json_object_get(x, "rec");
            if (json_object_size(x) != 1u + (rec != NULL))
                return ffail(err, errlen, "inputs", "an object entry has only 'item' and 'rec'");
        }
        if (!json_is_string(item))
            return ffail(err, errlen, "inputs", "every entry must be an item id string");
        if ((rc = copy_text(ev, item, PROTO_ITEM_MAX, &r->inputs[i].item)) == TN_ERR_TOO_BIG)
            return ffail(err, errlen, "inputs", "item id over 1024 bytes");
        if (rc != 0)
            return rc;
        if (rec) {
            if (!json_is_string(rec) ||
                cry_unhex(r->inputs[i].rec, PROTO_ID_LEN, json_string_value(rec)) != 0)
                return ffail(err, errlen, "inputs.rec", "must be a 64-digit hex record id");
            r->inputs[i].has_rec = true;
        }
    }
    r->n_inputs = json_array_size(v);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return proto_cbor_key_cmp(x, strlen(x), y, strlen(y));
}

static int parse_attrs(struct proto_event *ev, json_t *v, char *err, size_t errlen)
{
    struct proto_record *r = &ev->rec;
    const char *k;
    json_t *x;
    size_t i = 0;

    if (!json_is_object(v))
        return ffail(err, errlen, "attrs", "must be an object");
    if (json_object_size(v) == 0)
        return 0;
    if (!(r->attrs = proto_arena_alloc(&r->arena, json_object_size(v) * sizeof *r->attrs)))
        return TN_ERR_NOMEM;
    json_object_foreach(v, k, x) {
        struct proto_attr *a = &r->attrs[i++];
        if (strlen(k) == 0 || strlen(k) > PROTO_NAME_MAX)
            return ffail(err, errlen, "attrs", "names must be 1-128 bytes");
        if (!(a->name = proto_arena_strndup(&r->arena, k, strlen(k))))
            return TN_ERR_NOMEM;
        if (json_is_string(x)) {
            a->kind = PROTO_VAL_TEXT;
            if (copy_text(ev, x, PROTO_TEXT_MAX, &a->text) != 0)
                return ffail(err, errlen, "attrs", "text values must be at most 4096 bytes");
        } else if (json_is_integer(x)) {
            a->kind = PROTO_VAL_INT;
            a->num = json_integer_value(x);
        } else if (json_is_boolean(x)) {
            a->kind = PROTO_VAL_BOOL;
            a->flag = json_is_true(x);
        } else {
            snprintf(err, errlen, "field 'attrs.%s': values must be strings, integers or booleans",
                     k);
            return TN_ERR_INVALID;
        }
    }
    r->n_attrs = i;
    /* name is the first member, so sorting by it sorts the structs. */
    qsort(r->attrs, r->n_attrs, sizeof *r->attrs, name_cmp);
    return 0;
}

static int parse_private(struct proto_event *ev, json_t *v, char *err, size_t errlen)
{
    const char *k;
    json_t *x;
    size_t i = 0;

    if (!json_is_object(v))
        return ffail(err, errlen, "private", "must be an object of strings");
    if (json_object_size(v) == 0)
        return 0;
    if (!(ev->priv = proto_arena_alloc(&ev->rec.arena, json_object_size(v) * sizeof *ev->priv)))
        return TN_ERR_NOMEM;
    json_object_foreach(v, k, x) {
        struct proto_private *p = &ev->priv[i++];
        if (strlen(k) == 0 || strlen(k) > PROTO_NAME_MAX)
            return ffail(err, errlen, "private", "names must be 1-128 bytes");
        if (!json_is_string(x) || json_string_length(x) > PROTO_TEXT_MAX)
            return ffail(err, errlen, "private", "values must be strings of at most 4096 bytes");
        p->name = proto_arena_strndup(&ev->rec.arena, k, strlen(k));
        p->value = proto_arena_strndup(&ev->rec.arena, json_string_value(x), json_string_length(x));
        if (!p->name || !p->value)
            return TN_ERR_NOMEM;
    }
    ev->n_priv = i;
    qsort(ev->priv, ev->n_priv, sizeof *ev->priv, name_cmp);
    return 0;
}

static int parse_mud(struct proto_event *ev, json_t *v, char *err, size_t errlen)
{
    struct proto_record *r = &ev->rec;
    struct proto_mud *m;
    json_t *x;

    if (!json_is_object(v))
        return ffail(err, errlen, "mud", "must be an object");
    {
        static const char *const ok[] = {"url", "sha256", "size", "last_update", "model",
                                         "mfg_name", "sig_sha256", NULL};
        const char *k;
        json_t *y;
        json_object_foreach(v, k, y) {
            bool known = false;
            for (size_t i = 0; ok[i]; i++)
                known |= strcmp(k, ok[i]) == 0;
            if (!known) {
                snprintf(err, errlen, "field 'mud.%s': unknown field", k);
                return TN_ERR_INVALID;
            }
        }
    }
    if (!(m = r->mud = proto_arena_alloc(&r->arena, sizeof *m)))
        return TN_ERR_NOMEM;
    if (!json_is_string(x = json_object_get(v, "url")) || copy_text(ev, x, 255, &m->url) != 0)
        return ffail(err, errlen, "mud.url", "must be a string of at most 255 bytes");
    if (!json_is_string(x = json_object_get(v, "sha256")) ||
        cry_unhex(m->sha256, 32, json_string_value(x)) != 0)
        return ffail(err, errlen, "mud.sha256", "must be 64 hex digits");
    if (!json_is_integer(x = json_object_get(v, "size")) || json_integer_value(x) < 0)
        return ffail(err, errlen, "mud.size", "must be a non-negative integer");
    m->size = (uint64_t)json_integer_value(x);
    if (!json_is_string(x = json_object_get(v, "last_update")) ||
        copy_text(ev, x, 64, &m->last_update) != 0)
        return ffail(err, errlen, "mud.last_update", "must be an RFC 3339 date-time string");
    if ((x = json_object_get(v, "model")) &&
        (!json_is_string(x) || copy_text(ev, x, PROTO_NAME_MAX, &m->model) != 0))
        return ffail(err, errlen, "mud.model", "must be a string of at most 128 bytes");
    if ((x = json_object_get(v, "mfg_name")) &&
        (!json_is_string(x) || copy_text(ev, x, PROTO_NAME_MAX, &m->mfg_name) != 0))
        return ffail(err, errlen, "mud.mfg_name", "must be a string of at most 128 bytes");
    if ((x = json_object_get(v, "sig_sha256"))) {
        if (!json_is_string(x) || cry_unhex(m->sig_sha256, 32, json_string_value(x)) != 0)
            return ffail(err, errlen, "mud.sig_sha256", "must be 64 hex digits");
        m->has_sig = true;
    }
    return 0;
}

static int parse_object(struct proto_event *ev, json_t *doc, char *err, size_t errlen)
{
    struct proto_record *r = &ev->rec;
    const char *k;
    json_t *v;
    int rc = 0;

    if (!json_is_object(doc))
        return ffail(err, errlen, "(event)", "an event must be a JSON object");
    v = json_object_get(doc, "type");
    if (!v)
        return ffail(err, errlen, "type", "missing (required)");
    if (!json_is_string(v) || proto_type_parse(json_string_value(v), &r->type) != 0) {
        snprintf(err, errlen,
                 "field 'type': unknown event type '%s' (commission, transform, aggregate, "
                 "disaggregate, ship, receive, inspect, decommission, mud-anchor, supersede)",
                 json_is_string(v) ? json_string_value(v) : "(not a string)");
        return TN_ERR_INVALID;
    }
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "type") == 0)
            continue;
        if (strcmp(k, "id") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                copy_text(ev, v, PROTO_EID_MAX, &r->eid) != 0)
                return ffail(err, errlen, "id", "must be a non-empty string of at most 256 bytes");
        } else if (strcmp(k, "time") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return ffail(err, errlen, "time", "must be an integer, ms since the epoch");
            r->time = (uint64_t)json_integer_value(v);
            ev->has_time = true;
        } else if (strcmp(k, "outputs") == 0) {
            rc = parse_list(ev, v, "outputs", &r->outputs, &r->n_outputs, err, errlen);
        } else if (strcmp(k, "items") == 0) {
            rc = parse_list(ev, v, "items", &r->items, &r->n_items, err, errlen);
        } else if (strcmp(k, "inputs") == 0) {
            rc = parse_inputs(ev, v, err, errlen);
        } else if (strcmp(k, "to") == 0 || strcmp(k, "from") == 0) {
            const char **dst = k[0] == 't' ? &r->to : &r->from;
            if (!json_is_string(v) || !proto_id_ok(json_string_value(v)))
                return ffail(err, errlen, k, "must be an org id");
            rc = copy_text(ev, v, PROTO_ID_MAX, dst);
        } else if (strcmp(k, "ref") == 0) {
            if (!json_is_string(v) || cry_unhex(r->ref, PROTO_ID_LEN, json_string_value(v)) != 0)
                return ffail(err, errlen, "ref", "must be a 64-digit hex record id");
            r->has_ref = true;
        } else if (strcmp(k, "attrs") == 0) {
            rc = parse_attrs(ev, v, err, errlen);
        } else if (strcmp(k, "private") == 0) {
            rc = parse_private(ev, v, err, errlen);
        } else if (strcmp(k, "mud") == 0) {
            rc = parse_mud(ev, v, err, errlen);
        } else {
            snprintf(err, errlen, "field '%s': unknown field", k);
            return TN_ERR_INVALID;
        }
        if (rc != 0)
            return rc;
    }
    for (size_t i = 1; i < ev->n_priv; i++)
        if (strcmp(ev->priv[i - 1].name, ev->priv[i].name) == 0)
            return ffail(err, errlen, "private", "duplicate name");
    /* The shape check wants a complete record; fill placeholders the node will replace.
     * Private fields become sealed commitments under the same names when the node signs,
     * so their names go through the record's rule here: a name the record refuses would
     * otherwise pass every check of tracectl submit and fail only at signing. */
    {
        struct proto_record probe = *r;
        struct proto_seal *seals = NULL;
        probe.v = PROTO_VERSION;
        probe.net = probe.org = "x";
        probe.seq = 0;
        probe.has_prev = false;
        if (ev->n_priv) {
            if (!(seals = calloc(ev->n_priv, sizeof *seals)))
                return TN_ERR_NOMEM;
            for (size_t i = 0; i < ev->n_priv; i++)
                seals[i].name = ev->priv[i].name;
            probe.sealed = seals;
            probe.n_sealed = ev->n_priv;
        }
        rc = proto_record_check(&probe, err, errlen);
        free(seals);
        if (rc != 0 && strncmp(err, "'sealed'", 8) == 0) {
            rc = ffail(err, errlen, "private",
                       "names must be printable UTF-8 (no control characters)");
        } else if (rc != 0 && strncmp(err, "'", 1) == 0) {
            /* "'field': why" -> "field 'field': why" */
            char tmp[512];
            snprintf(tmp, sizeof tmp, "field %s", err);
            snprintf(err, errlen, "%s", tmp);
        }
    }
    return rc;
}

int proto_event_parse(const char *text, size_t len, struct proto_event *ev, char *err,
                      size_t errlen)
{
    json_error_t jerr;
    json_t *doc;
    int rc;

    memset(ev, 0, sizeof *ev);
    proto_record_init(&ev->rec);
    if (len > PROTO_EVENT_MAX) {
        snprintf(err, errlen, "event over %d bytes", PROTO_EVENT_MAX);
        return TN_ERR_TOO_BIG;
    }
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(err, errlen, "malformed JSON at column %d: %s", jerr.column, jerr.text);
        return TN_ERR_INVALID;
    }
    rc = parse_object(ev, doc, err, errlen);
    json_decref(doc);
    return rc;
}

void proto_event_release(struct proto_event *ev)
{
    proto_record_release(&ev->rec);
}

int proto_event_check_context(const struct proto_event *ev, const struct proto_ecosystem *eco,
                              const char *org_id, char *err, size_t errlen)
{
    const struct proto_org *org = proto_ecosystem_org(eco, org_id);
    const struct proto_record *r = &ev->rec;

    if (!org) {
        snprintf(err, errlen, "org '%s' is not in the ecosystem", org_id);
        return TN_ERR_UNKNOWN_ORG;
    }
    if (!proto_roles_allow(org->roles, r->type)) {
        snprintf(err, errlen, "field 'type': org '%s' may not sign %s records (roles do not allow it)",
                 org_id, proto_type_name(r->type));
        return TN_ERR_ROLE;
    }
    if (r->to && !proto_ecosystem_org(eco, r->to)) {
        snprintf(err, errlen, "field 'to': unknown org '%s' (not in the ecosystem)", r->to);
        return TN_ERR_UNKNOWN_ORG;
    }
    if (r->from && !proto_ecosystem_org(eco, r->from)) {
        snprintf(err, errlen, "field 'from': unknown org '%s' (not in the ecosystem)", r->from);
        return TN_ERR_UNKNOWN_ORG;
    }
    return 0;
}

int proto_event_check_size(const struct proto_event *ev, const char *net, const char *org,
                           char *err, size_t errlen)
{
    struct proto_record r = ev->rec;
    struct proto_input inputs[64];
    struct proto_seal seals[64];
    struct proto_input *in = r.n_inputs <= 64 ? inputs : NULL;
    struct proto_seal *se = ev->n_priv <= 64 ? seals : NULL;
    size_t len = 0;
    int rc;

    /* Large lists: heap copies (bounded: the event text is at most PROTO_EVENT_MAX). */
    if (!in && !(in = malloc(r.n_inputs * sizeof *in)))
        return TN_ERR_NOMEM;
    if (!se && !(se = malloc(ev->n_priv * sizeof *se))) {
        if (in != inputs)
            free(in);
        return TN_ERR_NOMEM;
    }
    r.v = PROTO_VERSION;
    r.net = net;
    r.org = org;
    r.seq = UINT64_MAX;
    r.has_prev = true;
    if (!ev->has_time)
        r.time = UINT64_MAX;
    for (size_t i = 0; i < r.n_inputs; i++) {
        in[i] = r.inputs[i];
        in[i].has_rec = true;
    }
    r.inputs = in;
    for (size_t i = 0; i < ev->n_priv; i++) {
        se[i].name = ev->priv[i].name;
        memset(se[i].digest, 0xff, sizeof se[i].digest);
    }
    r.sealed = se;
    r.n_sealed = ev->n_priv;
    rc = proto_record_encoded_len(&r, &len);
    if (rc == TN_ERR_TOO_BIG)
        snprintf(err, errlen, "the record would be over the %d-byte limit", PROTO_RECORD_MAX);
    if (in != inputs)
        free(in);
    if (se != seals)
        free(se);
    return rc;
}
