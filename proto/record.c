#include "proto/record.h"

#include <stdio.h>
#include <string.h>

#include "proto/cbor.h"
#include "proto/datetime.h"
#include "proto/fail.h"

#define COSE_SIGN1_TAG 18
#define COSE_ALG_EDDSA (-8)
#define COSE_HDR_ALG 1
#define COSE_HDR_KID 4
/* Decoded records hold copies of their strings; this bounds what a 16 KiB record can
 * make us allocate (every string at most once, plus arrays and the Sig_structure). */
#define ARENA_CAP (8 * PROTO_RECORD_MAX)

void proto_record_init(struct proto_record *r)
{
    memset(r, 0, sizeof *r);
    proto_arena_init(&r->arena, ARENA_CAP);
}

void proto_record_release(struct proto_record *r)
{
    proto_arena_release(&r->arena);
}

void proto_record_id(uint8_t id[PROTO_ID_LEN], const uint8_t *bytes, size_t len)
{
    cry_sha256(id, bytes, len);
}

/* --- shape ------------------------------------------------------------------------ */


/* Item ids: 1..PROTO_ITEM_MAX bytes of UTF-8, no control characters. */
static bool item_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > PROTO_ITEM_MAX || !proto_utf8_ok(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    return true;
}

static bool name_ok(const char *s)
{
    return s[0] && strlen(s) <= PROTO_NAME_MAX && item_ok(s);
}

static int check_list(const char *const *list, size_t n, const char *field, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!list[i] || strlen(list[i]) > PROTO_ITEM_MAX)
            return proto_fail(err, errlen, "'%s': item id over 1024 bytes", field);
        if (!item_ok(list[i]))
            return proto_fail(err, errlen, "'%s': item id empty or not printable UTF-8", field);
    }
    return 0;
}

/* Which of the type-dependent fields a type requires (R), allows (A) or forbids. */
enum {
    F_OUT = 1 << 0,
    F_IN = 1 << 1,
    F_ITEMS = 1 << 2,
    F_TO = 1 << 3,
    F_FROM = 1 << 4,
    F_REF = 1 << 5,
    F_MUD = 1 << 6,
    F_SUBJECT = 1 << 7,
    F_KEY = 1 << 8,
    F_EFFECTIVE = 1 << 9,
    F_NAME = 1 << 10,
    F_ROLES = 1 << 11,
    F_NODES = 1 << 12,
    N_FIELDS = 13,
};

static void type_fields(enum proto_type t, unsigned *req, unsigned *allow)
{
    *req = 0;
    *allow = 0;
    switch (t) {
    case PROTO_T_COMMISSION: *req = F_OUT; break;
    case PROTO_T_TRANSFORM:
    case PROTO_T_AGGREGATE:
    case PROTO_T_DISAGGREGATE: *req = F_IN | F_OUT; break;
    case PROTO_T_SHIP: *req = F_ITEMS | F_TO; break;
    case PROTO_T_RECEIVE: *req = F_ITEMS | F_FROM; break;
    case PROTO_T_INSPECT:
    case PROTO_T_DECOMMISSION: *req = F_ITEMS; break;
    case PROTO_T_MUD_ANCHOR: *req = F_MUD; *allow = F_REF; break;
    /* A correction names the record it replaces and restates the corrected content. */
    case PROTO_T_SUPERSEDE: *req = F_REF; *allow = F_OUT | F_IN | F_ITEMS | F_TO | F_FROM; break;
    case PROTO_T_GOV_ADD_ORG:
        *req = F_SUBJECT | F_KEY | F_EFFECTIVE | F_NAME | F_ROLES;
        *allow = F_NODES;
        break;
    case PROTO_T_GOV_REVOKE:
    case PROTO_T_GOV_ROTATE: *req = F_SUBJECT | F_KEY | F_EFFECTIVE; break;
    }
    *allow |= *req;
}

static const char *const field_names[N_FIELDS] = {
    "outputs", "inputs",    "items", "to",    "from",  "ref",  "mud",
    "subject", "key", "effective", "name", "roles", "nodes"};

int proto_record_check(const struct proto_record *r, char *err, size_t errlen)
{
    unsigned req, allow, have = 0;
    const char *tname = proto_type_name(r->type);
    int rc;

    if (r->v != PROTO_VERSION)
        return proto_fail(err, errlen, "'%s': unsupported record version", "v");
    if (!r->net || !proto_id_ok(r->net))
        return proto_fail(err, errlen, "'%s': missing or not a valid id", "net");
    if (!r->org || !proto_id_ok(r->org))
        return proto_fail(err, errlen, "'%s': missing or not a valid id", "org");
    if (!tname)
        return proto_fail(err, errlen, "'%s': unknown record type", "type");
    if (r->has_prev != (r->seq > 0))
        return proto_fail(err, errlen, "'%s': must be null exactly at seq 0", "prev");
    if (r->eid && (!r->eid[0] || strlen(r->eid) > PROTO_EID_MAX || !item_ok(r->eid)))
        return proto_fail(err, errlen, "'%s': event id empty, over 256 bytes or not printable", "id");

    have |= r->n_outputs ? F_OUT : 0;
    have |= r->n_inputs ? F_IN : 0;
    have |= r->n_items ? F_ITEMS : 0;
    have |= r->to ? F_TO : 0;
    have |= r->from ? F_FROM : 0;
    have |= r->has_ref ? F_REF : 0;
    have |= r->mud ? F_MUD : 0;
    have |= r->subject ? F_SUBJECT : 0;
    have |= r->has_key ? F_KEY : 0;
    have |= r->has_effective ? F_EFFECTIVE : 0;
    have |= r->name ? F_NAME : 0;
    have |= r->n_roles ? F_ROLES : 0;
    have |= r->n_nodes ? F_NODES : 0;
    type_fields(r->type, &req, &allow);
    for (unsigned i = 0; i < N_FIELDS; i++) {
        unsigned f = 1u << i;
        if ((req & f) && !(have & f)) {
            snprintf(err, errlen, "'%s': required for type %s", field_names[i], tname);
            return TN_ERR_INVALID;
        }
        if ((have & f) && !(allow & f)) {
            snprintf(err, errlen, "'%s': not allowed for type %s", field_names[i], tname);
            return TN_ERR_INVALID;
        }
    }
    if ((rc = check_list(r->outputs, r->n_outputs, "outputs", err, errlen)) != 0 ||
        (rc = check_list(r->items, r->n_items, "items", err, errlen)) != 0)
        return rc;
    for (size_t i = 0; i < r->n_inputs; i++)
        if ((rc = check_list(&r->inputs[i].item, 1, "inputs", err, errlen)) != 0)
            return rc;
    if (r->to && !proto_id_ok(r->to))
        return proto_fail(err, errlen, "'%s': not a valid org id", "to");
    if (r->from && !proto_id_ok(r->from))
        return proto_fail(err, errlen, "'%s': not a valid org id", "from");
    for (size_t i = 0; i < r->n_attrs; i++) {
        const struct proto_attr *a = &r->attrs[i];
        if (!name_ok(a->name))
            return proto_fail(err, errlen, "'%s': attribute name empty, too long or not printable",
                        "attrs");
        if (a->kind == PROTO_VAL_TEXT &&
            (strlen(a->text) > PROTO_TEXT_MAX || !proto_utf8_ok(a->text, strlen(a->text))))
            return proto_fail(err, errlen, "'%s': text value over 4096 bytes or not UTF-8", "attrs");
        if (i > 0 && proto_cbor_key_cmp(r->attrs[i - 1].name, strlen(r->attrs[i - 1].name),
                                        a->name, strlen(a->name)) >= 0)
            return proto_fail(err, errlen, "'%s': names not sorted or duplicated", "attrs");
    }
    for (size_t i = 0; i < r->n_sealed; i++) {
        if (!name_ok(r->sealed[i].name))
            return proto_fail(err, errlen, "'%s': field name empty, too long or not printable",
                        "sealed");
        if (i > 0 &&
            proto_cbor_key_cmp(r->sealed[i - 1].name, strlen(r->sealed[i - 1].name),
                               r->sealed[i].name, strlen(r->sealed[i].name)) >= 0)
            return proto_fail(err, errlen, "'%s': names not sorted or duplicated", "sealed");
    }
    if (r->subject && !proto_id_ok(r->subject))
        return proto_fail(err, errlen, "'%s': not a valid org id", "subject");
    if (r->name && (!r->name[0] || strlen(r->name) > 256 || !item_ok(r->name)))
        return proto_fail(err, errlen, "'%s': empty, over 256 bytes or not printable", "name");
    for (size_t i = 0; i < r->n_roles; i++) {
        enum proto_role role;
        if (!r->roles[i] || proto_role_parse(r->roles[i], &role) != 0)
            return proto_fail(err, errlen, "'%s': unknown role", "roles");
    }
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i].addr && (!r->nodes[i].addr[0] || strlen(r->nodes[i].addr) > 255 ||
                                 !item_ok(r->nodes[i].addr)))
            return proto_fail(err, errlen, "'%s': node address empty or over 255 bytes", "nodes");
    if (r->mud) {
        const struct proto_mud *m = r->mud;
        if (!m->url || !m->url[0] || strlen(m->url) > 255 || !item_ok(m->url))
            return proto_fail(err, errlen, "'%s': url missing or over 255 bytes", "mud");
        struct proto_instant t;
        char why[120];
        if (!m->last_update || strlen(m->last_update) > 64 ||
            proto_datetime_parse(m->last_update, strlen(m->last_update), &t, why,
                                 sizeof why) != 0)
            return proto_fail(err, errlen, "'%s': last_update is not an RFC 3339 date-time",
                              "mud");
        if ((m->model && (!item_ok(m->model) || strlen(m->model) > PROTO_NAME_MAX)) ||
            (m->mfg_name && (!item_ok(m->mfg_name) || strlen(m->mfg_name) > PROTO_NAME_MAX)))
            return proto_fail(err, errlen, "'%s': model or mfg_name not printable or too long", "mud");
    }
    return 0;
}

/* --- encoding ----------------------------------------------------------------------- */

static void put_id(struct proto_cbuf *b, const uint8_t id[PROTO_ID_LEN])
{
    proto_cbor_bytes(b, id, PROTO_ID_LEN);
}

static void put_list(struct proto_cbuf *b, const char *key, const char *const *list, size_t n)
{
    proto_cbor_cstr(b, key);
    proto_cbor_array(b, n);
    for (size_t i = 0; i < n; i++)
        proto_cbor_cstr(b, list[i]);
}

static void put_mud(struct proto_cbuf *b, const struct proto_mud *m)
{
    /* keys in deterministic order: url size model sha256 mfg_name sig_sha256 last_update */
    size_t n = 4 + (m->model != NULL) + (m->mfg_name != NULL) + m->has_sig;

    proto_cbor_map(b, n);
    proto_cbor_cstr(b, "url");
    proto_cbor_cstr(b, m->url);
    proto_cbor_cstr(b, "size");
    proto_cbor_uint(b, m->size);
    if (m->model) {
        proto_cbor_cstr(b, "model");
        proto_cbor_cstr(b, m->model);
    }
    proto_cbor_cstr(b, "sha256");
    put_id(b, m->sha256);
    if (m->mfg_name) {
        proto_cbor_cstr(b, "mfg_name");
        proto_cbor_cstr(b, m->mfg_name);
    }
    if (m->has_sig) {
        proto_cbor_cstr(b, "sig_sha256");
        put_id(b, m->sig_sha256);
    }
    proto_cbor_cstr(b, "last_update");
    proto_cbor_cstr(b, m->last_update);
}

/* The payload map, keys in deterministic order (shorter first, then bytewise):
 * v | to | eid key mud net org ref seq | from name prev time type |
 * attrs items nodes roles | inputs sealed | outputs subject | effective.
 * Absent optional fields are omitted; prev is null at seq 0. */
static void encode_payload(struct proto_cbuf *b, const struct proto_record *r)
{
    size_t n = 7; /* v net org seq prev time type */

    n += (r->to != NULL) + (r->eid != NULL) + (r->mud != NULL) + r->has_ref +
         (r->from != NULL) + (r->n_attrs > 0) + (r->n_items > 0) + (r->n_inputs > 0) +
         (r->n_sealed > 0) + (r->n_outputs > 0) + r->has_key + (r->name != NULL) +
         (r->n_nodes > 0) + (r->n_roles > 0) + (r->subject != NULL) + r->has_effective;
    proto_cbor_map(b, n);
    proto_cbor_cstr(b, "v");
    proto_cbor_uint(b, r->v);
    if (r->to) {
        proto_cbor_cstr(b, "to");
        proto_cbor_cstr(b, r->to);
    }
    if (r->eid) {
        proto_cbor_cstr(b, "eid");
        proto_cbor_cstr(b, r->eid);
    }
    if (r->has_key) {
        proto_cbor_cstr(b, "key");
        proto_cbor_bytes(b, r->key, CRY_PK_LEN);
    }
    if (r->mud) {
        proto_cbor_cstr(b, "mud");
        put_mud(b, r->mud);
    }
    proto_cbor_cstr(b, "net");
    proto_cbor_cstr(b, r->net);
    proto_cbor_cstr(b, "org");
    proto_cbor_cstr(b, r->org);
    if (r->has_ref) {
        proto_cbor_cstr(b, "ref");
        put_id(b, r->ref);
    }
    proto_cbor_cstr(b, "seq");
    proto_cbor_uint(b, r->seq);
    if (r->from) {
        proto_cbor_cstr(b, "from");
        proto_cbor_cstr(b, r->from);
    }
    if (r->name) {
        proto_cbor_cstr(b, "name");
        proto_cbor_cstr(b, r->name);
    }
    proto_cbor_cstr(b, "prev");
    if (r->has_prev)
        put_id(b, r->prev);
    else
        proto_cbor_null(b);
    proto_cbor_cstr(b, "time");
    proto_cbor_uint(b, r->time);
    proto_cbor_cstr(b, "type");
    proto_cbor_cstr(b, proto_type_name(r->type));
    if (r->n_attrs) {
        proto_cbor_cstr(b, "attrs");
        proto_cbor_map(b, r->n_attrs);
        for (size_t i = 0; i < r->n_attrs; i++) {
            const struct proto_attr *a = &r->attrs[i];
            proto_cbor_cstr(b, a->name);
            switch (a->kind) {
            case PROTO_VAL_TEXT: proto_cbor_cstr(b, a->text); break;
            case PROTO_VAL_INT: proto_cbor_int(b, a->num); break;
            case PROTO_VAL_BOOL: proto_cbor_bool(b, a->flag); break;
            }
        }
    }
    if (r->n_items)
        put_list(b, "items", r->items, r->n_items);
    if (r->n_nodes) {
        proto_cbor_cstr(b, "nodes");
        proto_cbor_array(b, r->n_nodes);
        for (size_t i = 0; i < r->n_nodes; i++) {
            proto_cbor_map(b, 1 + (r->nodes[i].addr != NULL)); /* key < addr */
            proto_cbor_cstr(b, "key");
            proto_cbor_bytes(b, r->nodes[i].key, CRY_PK_LEN);
            if (r->nodes[i].addr) {
                proto_cbor_cstr(b, "addr");
                proto_cbor_cstr(b, r->nodes[i].addr);
            }
        }
    }
    if (r->n_roles)
        put_list(b, "roles", r->roles, r->n_roles);
    if (r->n_inputs) {
        proto_cbor_cstr(b, "inputs");
        proto_cbor_array(b, r->n_inputs);
        for (size_t i = 0; i < r->n_inputs; i++) {
            proto_cbor_map(b, 2); /* rec < item */
            proto_cbor_cstr(b, "rec");
            if (r->inputs[i].has_rec)
                put_id(b, r->inputs[i].rec);
            else
                proto_cbor_null(b);
            proto_cbor_cstr(b, "item");
            proto_cbor_cstr(b, r->inputs[i].item);
        }
    }
    if (r->n_sealed) {
        proto_cbor_cstr(b, "sealed");
        proto_cbor_map(b, r->n_sealed);
        for (size_t i = 0; i < r->n_sealed; i++) {
            proto_cbor_cstr(b, r->sealed[i].name);
            put_id(b, r->sealed[i].digest);
        }
    }
    if (r->n_outputs)
        put_list(b, "outputs", r->outputs, r->n_outputs);
    if (r->subject) {
        proto_cbor_cstr(b, "subject");
        proto_cbor_cstr(b, r->subject);
    }
    if (r->has_effective) {
        proto_cbor_cstr(b, "effective");
        proto_cbor_uint(b, r->effective);
    }
}

/* Protected header {1: -8, 4: kid}. */
static void encode_protected(struct proto_cbuf *b, const uint8_t kid[CRY_PK_LEN])
{
    proto_cbor_map(b, 2);
    proto_cbor_uint(b, COSE_HDR_ALG);
    proto_cbor_int(b, COSE_ALG_EDDSA);
    proto_cbor_uint(b, COSE_HDR_KID);
    proto_cbor_bytes(b, kid, CRY_PK_LEN);
}

/* Sig_structure = ["Signature1", protected, external_aad = h'', payload] (RFC 9052 4.4). */
static void encode_tbs(struct proto_cbuf *b, const uint8_t *prot, size_t prot_len,
                       const uint8_t *payload, size_t payload_len)
{
    proto_cbor_array(b, 4);
    proto_cbor_cstr(b, "Signature1");
    proto_cbor_bytes(b, prot, prot_len);
    proto_cbor_bytes(b, NULL, 0);
    proto_cbor_bytes(b, payload, payload_len);
}

int proto_record_encoded_len(const struct proto_record *r, size_t *len)
{
    uint8_t payload[PROTO_RECORD_MAX];
    struct proto_cbuf pb;

    proto_cbuf_init(&pb, payload, sizeof payload);
    encode_payload(&pb, r);
    if (pb.overflow)
        return TN_ERR_TOO_BIG;
    /* tag, array head, protected bstr (2 + 38), empty map, payload bstr, signature bstr */
    *len = 1 + 1 + 40 + 1 + (pb.len < 24 ? 1 : pb.len < 256 ? 2 : 3) + pb.len + 2 + CRY_SIG_LEN;
    return *len > PROTO_RECORD_MAX ? TN_ERR_TOO_BIG : 0;
}

int proto_record_sign(const struct proto_record *r, const struct cry_keypair *kp, uint8_t *out,
                      size_t cap, size_t *len, char *err, size_t errlen)
{
    uint8_t payload[PROTO_RECORD_MAX], prot[64], tbs[PROTO_RECORD_MAX + 128];
    uint8_t sig[CRY_SIG_LEN];
    struct proto_cbuf pb, hb, tb, ob;
    int rc;

    if ((rc = proto_record_check(r, err, errlen)) != 0)
        return rc;
    proto_cbuf_init(&pb, payload, sizeof payload);
    encode_payload(&pb, r);
    proto_cbuf_init(&hb, prot, sizeof prot);
    encode_protected(&hb, kp->pk);
    proto_cbuf_init(&tb, tbs, sizeof tbs);
    encode_tbs(&tb, prot, hb.len, payload, pb.len);
    if (pb.overflow || tb.overflow)
        goto too_big;
    cry_sign(sig, tbs, tb.len, kp);

    proto_cbuf_init(&ob, out, cap < PROTO_RECORD_MAX ? cap : PROTO_RECORD_MAX);
    proto_cbor_tag(&ob, COSE_SIGN1_TAG);
    proto_cbor_array(&ob, 4);
    proto_cbor_bytes(&ob, prot, hb.len);
    proto_cbor_map(&ob, 0);
    proto_cbor_bytes(&ob, payload, pb.len);
    proto_cbor_bytes(&ob, sig, sizeof sig);
    if (ob.overflow)
        goto too_big;
    *len = ob.len;
    return 0;
too_big:
    snprintf(err, errlen, "record over %d bytes", PROTO_RECORD_MAX);
    return TN_ERR_TOO_BIG;
}

/* --- decoding ----------------------------------------------------------------------- */

struct dec {
    struct proto_record *r;
    char *err;
    size_t errlen;
};

static int dfail(struct dec *d, const char *field, const char *why)
{
    snprintf(d->err, d->errlen, "record field '%s': %s", field, why);
    return TN_ERR_INVALID;
}

static int dec_text(struct dec *d, const cbor_item_t *it, const char *field, size_t max,
                    const char **out)
{
    size_t n;

    if (!cbor_isa_string(it))
        return dfail(d, field, "not a text string");
    n = cbor_string_length(it);
    if (n > max)
        return dfail(d, field, "too long");
    if (!proto_utf8_ok((const char *)cbor_string_handle(it), n))
        return dfail(d, field, "not valid UTF-8 text");
    if (!(*out = proto_arena_strndup(&d->r->arena, (const char *)cbor_string_handle(it), n)))
        return TN_ERR_NOMEM;
    return 0;
}

static int dec_id(struct dec *d, const cbor_item_t *it, const char *field,
                  uint8_t out[PROTO_ID_LEN])
{
    if (!cbor_isa_bytestring(it) || cbor_bytestring_length(it) != PROTO_ID_LEN)
        return dfail(d, field, "not a 32-byte byte string");
    memcpy(out, cbor_bytestring_handle(it), PROTO_ID_LEN);
    return 0;
}

static int dec_uint(struct dec *d, const cbor_item_t *it, const char *field, uint64_t *out)
{
    if (!cbor_isa_uint(it))
        return dfail(d, field, "not an unsigned integer");
    *out = cbor_get_int(it);
    return 0;
}

static int dec_list(struct dec *d, const cbor_item_t *it, const char *field,
                    const char ***out, size_t *n)
{
    size_t len;
    int rc;

    if (!cbor_isa_array(it) || (len = cbor_array_size(it)) == 0)
        return dfail(d, field, "not a non-empty array");
    if (!(*out = proto_arena_alloc(&d->r->arena, len * sizeof **out)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++)
        if ((rc = dec_text(d, cbor_array_handle(it)[i], field, PROTO_ITEM_MAX, &(*out)[i])) != 0)
            return rc;
    *n = len;
    return 0;
}

static bool key_is(const cbor_item_t *k, const char *name)
{
    size_t n = strlen(name);
    return cbor_string_length(k) == n && memcmp(cbor_string_handle(k), name, n) == 0;
}

static int dec_inputs(struct dec *d, const cbor_item_t *it)
{
    struct proto_record *r = d->r;
    size_t len;
    int rc;

    if (!cbor_isa_array(it) || (len = cbor_array_size(it)) == 0)
        return dfail(d, "inputs", "not a non-empty array");
    if (!(r->inputs = proto_arena_alloc(&r->arena, len * sizeof *r->inputs)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        const cbor_item_t *m = cbor_array_handle(it)[i];
        struct cbor_pair *p;
        if (!cbor_isa_map(m) || cbor_map_size(m) != 2)
            return dfail(d, "inputs", "entry is not a {rec, item} map");
        p = cbor_map_handle(m);
        if (!cbor_isa_string(p[0].key) || !key_is(p[0].key, "rec") ||
            !cbor_isa_string(p[1].key) || !key_is(p[1].key, "item"))
            return dfail(d, "inputs", "entry is not a {rec, item} map");
        if (cbor_is_null(p[0].value)) {
            r->inputs[i].has_rec = false;
        } else {
            if ((rc = dec_id(d, p[0].value, "inputs.rec", r->inputs[i].rec)) != 0)
                return rc;
            r->inputs[i].has_rec = true;
        }
        if ((rc = dec_text(d, p[1].value, "inputs.item", PROTO_ITEM_MAX, &r->inputs[i].item)))
            return rc;
    }
    r->n_inputs = len;
    return 0;
}

static int dec_attrs(struct dec *d, const cbor_item_t *it)
{
    struct proto_record *r = d->r;
    size_t len;
    int rc;

    if (!cbor_isa_map(it) || (len = cbor_map_size(it)) == 0)
        return dfail(d, "attrs", "not a non-empty map");
    if (!(r->attrs = proto_arena_alloc(&r->arena, len * sizeof *r->attrs)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        struct cbor_pair *p = &cbor_map_handle(it)[i];
        struct proto_attr *a = &r->attrs[i];
        if ((rc = dec_text(d, p->key, "attrs", PROTO_NAME_MAX, &a->name)) != 0)
            return rc;
        if (cbor_isa_string(p->value)) {
            a->kind = PROTO_VAL_TEXT;
            if ((rc = dec_text(d, p->value, "attrs", PROTO_TEXT_MAX, &a->text)) != 0)
                return rc;
        } else if (cbor_isa_uint(p->value)) {
            if (cbor_get_int(p->value) > INT64_MAX)
                return dfail(d, "attrs", "integer out of range");
            a->kind = PROTO_VAL_INT;
            a->num = (int64_t)cbor_get_int(p->value);
        } else if (cbor_isa_negint(p->value)) {
            if (cbor_get_int(p->value) > INT64_MAX)
                return dfail(d, "attrs", "integer out of range");
            a->kind = PROTO_VAL_INT;
            a->num = -1 - (int64_t)cbor_get_int(p->value);
        } else if (cbor_is_bool(p->value)) {
            a->kind = PROTO_VAL_BOOL;
            a->flag = cbor_get_bool(p->value);
        } else {
            return dfail(d, "attrs", "value is not text, integer or boolean");
        }
    }
    r->n_attrs = len;
    return 0;
}

static int dec_sealed(struct dec *d, const cbor_item_t *it)
{
    struct proto_record *r = d->r;
    size_t len;
    int rc;

    if (!cbor_isa_map(it) || (len = cbor_map_size(it)) == 0)
        return dfail(d, "sealed", "not a non-empty map");
    if (!(r->sealed = proto_arena_alloc(&r->arena, len * sizeof *r->sealed)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        struct cbor_pair *p = &cbor_map_handle(it)[i];
        if ((rc = dec_text(d, p->key, "sealed", PROTO_NAME_MAX, &r->sealed[i].name)) != 0 ||
            (rc = dec_id(d, p->value, "sealed", r->sealed[i].digest)) != 0)
            return rc;
    }
    r->n_sealed = len;
    return 0;
}

static int dec_mud(struct dec *d, const cbor_item_t *it)
{
    struct proto_record *r = d->r;
    struct proto_mud *m;
    bool have_sha = false, have_size = false;
    int rc = 0;

    if (!cbor_isa_map(it))
        return dfail(d, "mud", "not a map");
    if (!(m = r->mud = proto_arena_alloc(&r->arena, sizeof *m)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < cbor_map_size(it) && rc == 0; i++) {
        struct cbor_pair *p = &cbor_map_handle(it)[i];
        if (!cbor_isa_string(p->key))
            return dfail(d, "mud", "key is not text");
        if (key_is(p->key, "url"))
            rc = dec_text(d, p->value, "mud.url", 255, &m->url);
        else if (key_is(p->key, "size"))
            rc = dec_uint(d, p->value, "mud.size", &m->size), have_size = true;
        else if (key_is(p->key, "model"))
            rc = dec_text(d, p->value, "mud.model", PROTO_NAME_MAX, &m->model);
        else if (key_is(p->key, "sha256"))
            rc = dec_id(d, p->value, "mud.sha256", m->sha256), have_sha = true;
        else if (key_is(p->key, "mfg_name"))
            rc = dec_text(d, p->value, "mud.mfg_name", PROTO_NAME_MAX, &m->mfg_name);
        else if (key_is(p->key, "sig_sha256"))
            rc = dec_id(d, p->value, "mud.sig_sha256", m->sig_sha256), m->has_sig = true;
        else if (key_is(p->key, "last_update"))
            rc = dec_text(d, p->value, "mud.last_update", 64, &m->last_update);
        else
            return dfail(d, "mud", "unknown key");
    }
    if (rc == 0 && (!have_sha || !have_size))
        return dfail(d, "mud", "sha256 and size are required");
    return rc;
}

static int dec_nodes(struct dec *d, const cbor_item_t *it)
{
    struct proto_record *r = d->r;
    size_t len;
    int rc;

    if (!cbor_isa_array(it) || (len = cbor_array_size(it)) == 0)
        return dfail(d, "nodes", "not a non-empty array");
    if (!(r->nodes = proto_arena_alloc(&r->arena, len * sizeof *r->nodes)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        const cbor_item_t *m = cbor_array_handle(it)[i];
        struct cbor_pair *p;
        size_t n;
        if (!cbor_isa_map(m) || (n = cbor_map_size(m)) < 1 || n > 2)
            return dfail(d, "nodes", "entry is not a {key, addr} map");
        p = cbor_map_handle(m);
        if (!cbor_isa_string(p[0].key) || !key_is(p[0].key, "key") ||
            (n == 2 && (!cbor_isa_string(p[1].key) || !key_is(p[1].key, "addr"))))
            return dfail(d, "nodes", "entry is not a {key, addr} map");
        if ((rc = dec_id(d, p[0].value, "nodes.key", r->nodes[i].key)) != 0)
            return rc;
        if (n == 2 && (rc = dec_text(d, p[1].value, "nodes.addr", 255, &r->nodes[i].addr)) != 0)
            return rc;
    }
    r->n_nodes = len;
    return 0;
}

static int dec_payload(struct dec *d, const cbor_item_t *map)
{
    struct proto_record *r = d->r;
    bool have_v = false, have_seq = false, have_prev = false, have_time = false,
         have_type = false;
    int rc = 0;

    if (!cbor_isa_map(map))
        return dfail(d, "payload", "not a map");
    for (size_t i = 0; i < cbor_map_size(map) && rc == 0; i++) {
        const cbor_item_t *k = cbor_map_handle(map)[i].key;
        const cbor_item_t *v = cbor_map_handle(map)[i].value;
        if (!cbor_isa_string(k))
            return dfail(d, "payload", "key is not text");
        if (key_is(k, "v")) {
            rc = dec_uint(d, v, "v", &r->v);
            have_v = true;
        } else if (key_is(k, "to")) {
            rc = dec_text(d, v, "to", PROTO_ID_MAX, &r->to);
        } else if (key_is(k, "eid")) {
            rc = dec_text(d, v, "eid", PROTO_EID_MAX, &r->eid);
        } else if (key_is(k, "mud")) {
            rc = dec_mud(d, v);
        } else if (key_is(k, "net")) {
            rc = dec_text(d, v, "net", PROTO_ID_MAX, &r->net);
        } else if (key_is(k, "org")) {
            rc = dec_text(d, v, "org", PROTO_ID_MAX, &r->org);
        } else if (key_is(k, "ref")) {
            rc = dec_id(d, v, "ref", r->ref);
            r->has_ref = true;
        } else if (key_is(k, "seq")) {
            rc = dec_uint(d, v, "seq", &r->seq);
            have_seq = true;
        } else if (key_is(k, "from")) {
            rc = dec_text(d, v, "from", PROTO_ID_MAX, &r->from);
        } else if (key_is(k, "prev")) {
            have_prev = true;
            if (!cbor_is_null(v)) {
                rc = dec_id(d, v, "prev", r->prev);
                r->has_prev = true;
            }
        } else if (key_is(k, "time")) {
            rc = dec_uint(d, v, "time", &r->time);
            have_time = true;
        } else if (key_is(k, "type")) {
            const char *t = NULL;
            have_type = true;
            if ((rc = dec_text(d, v, "type", 32, &t)) == 0 && proto_type_parse(t, &r->type) != 0)
                return dfail(d, "type", "unknown record type");
        } else if (key_is(k, "attrs")) {
            rc = dec_attrs(d, v);
        } else if (key_is(k, "items")) {
            rc = dec_list(d, v, "items", &r->items, &r->n_items);
        } else if (key_is(k, "inputs")) {
            rc = dec_inputs(d, v);
        } else if (key_is(k, "sealed")) {
            rc = dec_sealed(d, v);
        } else if (key_is(k, "outputs")) {
            rc = dec_list(d, v, "outputs", &r->outputs, &r->n_outputs);
        } else if (key_is(k, "key")) {
            rc = dec_id(d, v, "key", r->key);
            r->has_key = true;
        } else if (key_is(k, "name")) {
            rc = dec_text(d, v, "name", 256, &r->name);
        } else if (key_is(k, "nodes")) {
            rc = dec_nodes(d, v);
        } else if (key_is(k, "roles")) {
            rc = dec_list(d, v, "roles", &r->roles, &r->n_roles);
        } else if (key_is(k, "subject")) {
            rc = dec_text(d, v, "subject", PROTO_ID_MAX, &r->subject);
        } else if (key_is(k, "effective")) {
            rc = dec_uint(d, v, "effective", &r->effective);
            r->has_effective = true;
        } else {
            return dfail(d, "payload", "unknown field");
        }
    }
    if (rc != 0)
        return rc;
    if (!have_v || !have_seq || !have_prev || !have_time || !have_type)
        return dfail(d, "payload", "missing one of v, seq, prev, time, type");
    return proto_record_check(r, d->err, d->errlen);
}

static int dec_protected(struct dec *d, const cbor_item_t *bstr)
{
    cbor_item_t *hdr = NULL;
    struct cbor_pair *p;
    int rc;

    if (!cbor_isa_bytestring(bstr))
        return dfail(d, "protected", "not a byte string");
    rc = proto_cbor_load(cbor_bytestring_handle(bstr), cbor_bytestring_length(bstr), 0, &hdr,
                         d->err, d->errlen);
    if (rc != 0)
        return rc;
    rc = TN_ERR_INVALID;
    if (!cbor_isa_map(hdr) || cbor_map_size(hdr) != 2) {
        dfail(d, "protected", "must hold exactly alg and kid");
        goto out;
    }
    p = cbor_map_handle(hdr);
    if (!cbor_isa_uint(p[0].key) || cbor_get_int(p[0].key) != COSE_HDR_ALG ||
        !cbor_isa_negint(p[0].value) || cbor_get_int(p[0].value) != (uint64_t)(-COSE_ALG_EDDSA - 1)) {
        dfail(d, "protected", "alg is not EdDSA (-8)");
        goto out;
    }
    if (!cbor_isa_uint(p[1].key) || cbor_get_int(p[1].key) != COSE_HDR_KID ||
        !cbor_isa_bytestring(p[1].value) || cbor_bytestring_length(p[1].value) != CRY_PK_LEN) {
        dfail(d, "protected", "kid is not a 32-byte Ed25519 public key");
        goto out;
    }
    memcpy(d->r->signer, cbor_bytestring_handle(p[1].value), CRY_PK_LEN);
    rc = 0;
out:
    cbor_decref(&hdr);
    return rc;
}

static int decode(const uint8_t *bytes, size_t len, struct proto_record *r, char *err,
                  size_t errlen, bool strict)
{
    struct dec d = {r, err, errlen};
    cbor_item_t *top = NULL, *arr = NULL, *payload = NULL;
    cbor_item_t **parts;
    struct proto_cbuf tb;
    uint8_t *tbs;
    int rc;

    if (len > PROTO_RECORD_MAX) {
        snprintf(err, errlen, "record of %zu bytes is over the %d-byte limit", len,
                 PROTO_RECORD_MAX);
        return TN_ERR_TOO_BIG;
    }
    if ((rc = (strict ? proto_cbor_load : proto_cbor_load_stored)(bytes, len, COSE_SIGN1_TAG,
                                                                   &top, err, errlen)) != 0)
        return rc;
    rc = TN_ERR_INVALID;
    if (!cbor_isa_tag(top) || cbor_tag_value(top) != COSE_SIGN1_TAG) {
        snprintf(err, errlen, "not a COSE_Sign1 record (tag 18 missing)");
        goto out;
    }
    arr = cbor_tag_item(top);
    if (!cbor_isa_array(arr) || cbor_array_size(arr) != 4) {
        snprintf(err, errlen, "COSE_Sign1 is not an array of 4");
        goto out;
    }
    parts = cbor_array_handle(arr);
    if ((rc = dec_protected(&d, parts[0])) != 0)
        goto out;
    rc = TN_ERR_INVALID;
    if (!cbor_isa_map(parts[1]) || cbor_map_size(parts[1]) != 0) {
        snprintf(err, errlen, "COSE unprotected header must be empty");
        goto out;
    }
    if (!cbor_isa_bytestring(parts[2])) {
        snprintf(err, errlen, "COSE payload missing (detached payloads are not records)");
        goto out;
    }
    if (!cbor_isa_bytestring(parts[3]) || cbor_bytestring_length(parts[3]) != CRY_SIG_LEN) {
        snprintf(err, errlen, "COSE signature is not 64 bytes");
        goto out;
    }
    memcpy(r->sig, cbor_bytestring_handle(parts[3]), CRY_SIG_LEN);
    if ((rc = (strict ? proto_cbor_load : proto_cbor_load_stored)(
             cbor_bytestring_handle(parts[2]), cbor_bytestring_length(parts[2]), 0, &payload, err,
             errlen)) != 0)
        goto out;
    if ((rc = dec_payload(&d, payload)) != 0)
        goto out;

    /* Keep the Sig_structure so the signature can be checked against any key later. */
    if (!(tbs = proto_arena_alloc(&r->arena, len + 32))) {
        rc = TN_ERR_NOMEM;
        goto out;
    }
    proto_cbuf_init(&tb, tbs, len + 32);
    encode_tbs(&tb, cbor_bytestring_handle(parts[0]), cbor_bytestring_length(parts[0]),
               cbor_bytestring_handle(parts[2]), cbor_bytestring_length(parts[2]));
    if (tb.overflow) {
        rc = TN_ERR_INVALID;
        goto out;
    }
    r->tbs = tbs;
    r->tbs_len = tb.len;
    rc = 0;
out:
    if (payload)
        cbor_decref(&payload);
    if (arr)
        cbor_decref(&arr);
    cbor_decref(&top);
    if (rc != 0) {
        proto_record_release(r);
        proto_record_init(r);
    }
    return rc;
}

int proto_record_decode(const uint8_t *bytes, size_t len, struct proto_record *r, char *err,
                        size_t errlen)
{
    return decode(bytes, len, r, err, errlen, true);
}

int proto_record_decode_stored(const uint8_t *bytes, size_t len, struct proto_record *r,
                               char *err, size_t errlen)
{
    return decode(bytes, len, r, err, errlen, false);
}

bool proto_record_verify(const struct proto_record *r, const uint8_t pk[CRY_PK_LEN])
{
    return r->tbs && cry_verify(r->sig, r->tbs, r->tbs_len, pk);
}

void proto_record_each_item(const struct proto_record *r, proto_item_cb fn, void *ctx)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        fn(ctx, r->outputs[i], 'o');
    for (size_t i = 0; i < r->n_inputs; i++)
        fn(ctx, r->inputs[i].item, 'i');
    for (size_t i = 0; i < r->n_items; i++)
        fn(ctx, r->items[i], 't');
}
