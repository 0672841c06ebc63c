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
 * make us allocate, and every valid record must fit under it. The most arena per
 * encoded byte is an attribute of a 2-character name and an empty text: 4 bytes encoded,
 * 72 in the arena (a 40-byte proto_attr and two 16-byte strings), so 18 per byte; plus
 * the Sig_structure (the record's length + 32) and a few short strings. 24 covers that
 * with room; chunks are taken as needed, so a usual record uses 4 KiB. Since every valid
 * record fits, running past the cap proves the input invalid (a declared count larger
 * than its entries). */
#define ARENA_CAP (24 * PROTO_RECORD_MAX)

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

/* --- decoding -----------------------------------------------------------------------
 * Straight from the bytes with the pull reader (proto/cbor.h), which refuses every
 * non-deterministic head; what only the structure shows (key order, the fields each
 * place holds, no trailing bytes) is checked here. Nothing but the record's arena is
 * allocated, which is what makes a read cheap. */

struct dec {
    struct proto_record *r;
    struct proto_cbor_reader *rd;
    const char *part; /* which CBOR item rd reads, for errors */
    char *err;
    size_t errlen;
};

static int dfail(struct dec *d, const char *field, const char *why)
{
    snprintf(d->err, d->errlen, "record field '%s': %s", field, why);
    return TN_ERR_INVALID;
}

/* The next item of d's reader; a malformed or non-deterministic one is the error. */
static int next(struct dec *d, struct proto_cbor_item *it)
{
    if (proto_cbor_read(d->rd, it))
        return 0;
    snprintf(d->err, d->errlen, "CBOR (%s, byte %zu): %s", d->part, d->rd->off, d->rd->bad);
    return TN_ERR_INVALID;
}

/* The next item, which must be of kind with argument v (ANY: whatever it is); why is the
 * whole error otherwise. */
#define ANY UINT64_MAX
static int expect(struct dec *d, struct proto_cbor_item *it, enum proto_cbor_kind kind,
                  uint64_t v, const char *why)
{
    int rc = next(d, it);

    if (rc == 0 && (it->kind != kind || (v != ANY && it->v != v)))
        rc = proto_fail(d->err, d->errlen, "%s", why);
    return rc;
}

static int text_of(struct dec *d, const struct proto_cbor_item *it, const char *field,
                   size_t max, const char **out)
{
    if (it->kind != PROTO_CBOR_TEXT)
        return dfail(d, field, "not a text string");
    if (it->v > max)
        return dfail(d, field, "too long");
    if (!proto_utf8_ok((const char *)it->data, it->v))
        return dfail(d, field, "not valid UTF-8 text");
    if (!(*out = proto_arena_strndup(&d->r->arena, (const char *)it->data, it->v)))
        return TN_ERR_NOMEM;
    return 0;
}

static int id_of(struct dec *d, const struct proto_cbor_item *it, const char *field,
                 uint8_t out[PROTO_ID_LEN])
{
    if (it->kind != PROTO_CBOR_BYTES || it->v != PROTO_ID_LEN)
        return dfail(d, field, "not a 32-byte byte string");
    memcpy(out, it->data, PROTO_ID_LEN);
    return 0;
}

static int uint_of(struct dec *d, const struct proto_cbor_item *it, const char *field,
                   uint64_t *out)
{
    if (it->kind != PROTO_CBOR_UINT)
        return dfail(d, field, "not an unsigned integer");
    *out = it->v;
    return 0;
}

/* Reads the next item as text / an id: for values whose only form is that. */
static int dec_text(struct dec *d, const char *field, size_t max, const char **out)
{
    struct proto_cbor_item it;
    int rc = next(d, &it);
    return rc ? rc : text_of(d, &it, field, max, out);
}

static int dec_id(struct dec *d, const char *field, uint8_t out[PROTO_ID_LEN])
{
    struct proto_cbor_item it;
    int rc = next(d, &it);
    return rc ? rc : id_of(d, &it, field, out);
}

static int dec_uint(struct dec *d, const char *field, uint64_t *out)
{
    struct proto_cbor_item it;
    int rc = next(d, &it);
    return rc ? rc : uint_of(d, &it, field, out);
}

/* The next item as a map (pairs in *n, at least min of them); why names the expected
 * shape in the error. */
static int dec_map(struct dec *d, const char *field, size_t min, const char *why, size_t *n)
{
    struct proto_cbor_item it;
    int rc;

    if ((rc = next(d, &it)) != 0)
        return rc;
    if (it.kind != PROTO_CBOR_MAP || it.v < min)
        return dfail(d, field, why);
    *n = (size_t)it.v; /* the reader bounds it by the bytes left */
    return 0;
}

/* The next item as a non-empty array, with room for its elements in the arena. */
static int dec_array(struct dec *d, const char *field, size_t elem, void **out, size_t *n)
{
    struct proto_cbor_item it;
    int rc;

    if ((rc = next(d, &it)) != 0)
        return rc;
    if (it.kind != PROTO_CBOR_ARRAY || it.v == 0)
        return dfail(d, field, "not a non-empty array");
    *n = (size_t)it.v;
    if (!(*out = proto_arena_alloc(&d->r->arena, *n * elem)))
        return TN_ERR_NOMEM;
    return 0;
}

/* A text key that must come after *prev in deterministic order (RFC 8949 4.2.1); *key
 * is set to it. */
static int dec_key(struct dec *d, const char *field, struct proto_cbor_item *prev,
                   struct proto_cbor_item *key)
{
    int rc;

    if ((rc = next(d, key)) != 0)
        return rc;
    if (key->kind != PROTO_CBOR_TEXT)
        return dfail(d, field, "key is not text");
    if (prev->enc && proto_cbor_enc_cmp(prev->enc, prev->enc_len, key->enc, key->enc_len) >= 0)
        return dfail(d, field, "keys not in deterministic order, or repeated");
    *prev = *key;
    return 0;
}

static bool key_is(const struct proto_cbor_item *k, const char *name)
{
    size_t n = strlen(name);
    return k->v == n && memcmp(k->data, name, n) == 0;
}

/* A key that must be exactly name (maps of fixed keys, in their fixed order). */
static int dec_fixed_key(struct dec *d, const char *field, const char *name, const char *why)
{
    struct proto_cbor_item k;
    int rc;

    if ((rc = next(d, &k)) != 0)
        return rc;
    return k.kind == PROTO_CBOR_TEXT && key_is(&k, name) ? 0 : dfail(d, field, why);
}

static int dec_list(struct dec *d, const char *field, const char ***out, size_t *n)
{
    int rc;

    if ((rc = dec_array(d, field, sizeof **out, (void **)out, n)) != 0)
        return rc;
    for (size_t i = 0; i < *n; i++)
        if ((rc = dec_text(d, field, PROTO_ITEM_MAX, &(*out)[i])) != 0)
            return rc;
    return 0;
}

static int dec_inputs(struct dec *d)
{
    static const char shape[] = "entry is not a {rec, item} map";
    struct proto_record *r = d->r;
    struct proto_cbor_item v;
    size_t len, pairs;
    int rc;

    if ((rc = dec_array(d, "inputs", sizeof *r->inputs, (void **)&r->inputs, &len)) != 0)
        return rc;
    for (size_t i = 0; i < len; i++) {
        if ((rc = dec_map(d, "inputs", 2, shape, &pairs)) != 0)
            return rc;
        if (pairs != 2)
            return dfail(d, "inputs", shape);
        if ((rc = dec_fixed_key(d, "inputs", "rec", shape)) != 0 || (rc = next(d, &v)) != 0)
            return rc;
        r->inputs[i].has_rec = v.kind != PROTO_CBOR_NULL;
        if (r->inputs[i].has_rec && (rc = id_of(d, &v, "inputs.rec", r->inputs[i].rec)) != 0)
            return rc;
        if ((rc = dec_fixed_key(d, "inputs", "item", shape)) != 0 ||
            (rc = dec_text(d, "inputs.item", PROTO_ITEM_MAX, &r->inputs[i].item)) != 0)
            return rc;
    }
    r->n_inputs = len;
    return 0;
}

/* attrs and sealed: their names' order is proto_record_check's (it holds for records
 * being built too). */
static int dec_attrs(struct dec *d)
{
    struct proto_record *r = d->r;
    struct proto_cbor_item v;
    size_t len;
    int rc;

    if ((rc = dec_map(d, "attrs", 1, "not a non-empty map", &len)) != 0)
        return rc;
    if (!(r->attrs = proto_arena_alloc(&r->arena, len * sizeof *r->attrs)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        struct proto_attr *a = &r->attrs[i];
        if ((rc = dec_text(d, "attrs", PROTO_NAME_MAX, &a->name)) != 0 || (rc = next(d, &v)) != 0)
            return rc;
        switch (v.kind) {
        case PROTO_CBOR_TEXT:
            a->kind = PROTO_VAL_TEXT;
            if ((rc = text_of(d, &v, "attrs", PROTO_TEXT_MAX, &a->text)) != 0)
                return rc;
            break;
        case PROTO_CBOR_UINT:
        case PROTO_CBOR_NEGINT:
            if (v.v > INT64_MAX)
                return dfail(d, "attrs", "integer out of range");
            a->kind = PROTO_VAL_INT;
            a->num = v.kind == PROTO_CBOR_UINT ? (int64_t)v.v : -1 - (int64_t)v.v;
            break;
        case PROTO_CBOR_BOOL:
            a->kind = PROTO_VAL_BOOL;
            a->flag = v.v != 0;
            break;
        default:
            return dfail(d, "attrs", "value is not text, integer or boolean");
        }
    }
    r->n_attrs = len;
    return 0;
}

static int dec_sealed(struct dec *d)
{
    struct proto_record *r = d->r;
    size_t len;
    int rc;

    if ((rc = dec_map(d, "sealed", 1, "not a non-empty map", &len)) != 0)
        return rc;
    if (!(r->sealed = proto_arena_alloc(&r->arena, len * sizeof *r->sealed)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++)
        if ((rc = dec_text(d, "sealed", PROTO_NAME_MAX, &r->sealed[i].name)) != 0 ||
            (rc = dec_id(d, "sealed", r->sealed[i].digest)) != 0)
            return rc;
    r->n_sealed = len;
    return 0;
}

static int dec_mud(struct dec *d)
{
    struct proto_record *r = d->r;
    struct proto_cbor_item prev = {0}, k;
    struct proto_mud *m;
    bool have_sha = false, have_size = false;
    size_t len;
    int rc;

    if ((rc = dec_map(d, "mud", 0, "not a map", &len)) != 0)
        return rc;
    if (!(m = r->mud = proto_arena_alloc(&r->arena, sizeof *m)))
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        if ((rc = dec_key(d, "mud", &prev, &k)) != 0)
            return rc;
        if (key_is(&k, "url"))
            rc = dec_text(d, "mud.url", 255, &m->url);
        else if (key_is(&k, "size"))
            rc = dec_uint(d, "mud.size", &m->size), have_size = true;
        else if (key_is(&k, "model"))
            rc = dec_text(d, "mud.model", PROTO_NAME_MAX, &m->model);
        else if (key_is(&k, "sha256"))
            rc = dec_id(d, "mud.sha256", m->sha256), have_sha = true;
        else if (key_is(&k, "mfg_name"))
            rc = dec_text(d, "mud.mfg_name", PROTO_NAME_MAX, &m->mfg_name);
        else if (key_is(&k, "sig_sha256"))
            rc = dec_id(d, "mud.sig_sha256", m->sig_sha256), m->has_sig = true;
        else if (key_is(&k, "last_update"))
            rc = dec_text(d, "mud.last_update", 64, &m->last_update);
        else
            return dfail(d, "mud", "unknown key");
        if (rc != 0)
            return rc;
    }
    if (!have_sha || !have_size)
        return dfail(d, "mud", "sha256 and size are required");
    return 0;
}

static int dec_nodes(struct dec *d)
{
    static const char shape[] = "entry is not a {key, addr} map";
    struct proto_record *r = d->r;
    size_t len, pairs;
    int rc;

    if ((rc = dec_array(d, "nodes", sizeof *r->nodes, (void **)&r->nodes, &len)) != 0)
        return rc;
    for (size_t i = 0; i < len; i++) {
        if ((rc = dec_map(d, "nodes", 1, shape, &pairs)) != 0)
            return rc;
        if (pairs > 2)
            return dfail(d, "nodes", shape);
        if ((rc = dec_fixed_key(d, "nodes", "key", shape)) != 0 ||
            (rc = dec_id(d, "nodes.key", r->nodes[i].key)) != 0)
            return rc;
        if (pairs == 2 && ((rc = dec_fixed_key(d, "nodes", "addr", shape)) != 0 ||
                           (rc = dec_text(d, "nodes.addr", 255, &r->nodes[i].addr)) != 0))
            return rc;
    }
    r->n_nodes = len;
    return 0;
}

/* The payload fields every record has, as bits of dec_field's *seen. */
enum { V = 1, SEQ = 2, PREV = 4, TIME = 8, TYPE = 16, REQUIRED = 31 };

/* One payload field, by its key. */
static int dec_field(struct dec *d, const struct proto_cbor_item *k, unsigned *seen)
{
    struct proto_record *r = d->r;
    struct proto_cbor_item v;
    int rc;

    if (key_is(k, "v"))
        return *seen |= V, dec_uint(d, "v", &r->v);
    if (key_is(k, "to"))
        return dec_text(d, "to", PROTO_ID_MAX, &r->to);
    if (key_is(k, "eid"))
        return dec_text(d, "eid", PROTO_EID_MAX, &r->eid);
    if (key_is(k, "mud"))
        return dec_mud(d);
    if (key_is(k, "net"))
        return dec_text(d, "net", PROTO_ID_MAX, &r->net);
    if (key_is(k, "org"))
        return dec_text(d, "org", PROTO_ID_MAX, &r->org);
    if (key_is(k, "ref"))
        return r->has_ref = true, dec_id(d, "ref", r->ref);
    if (key_is(k, "seq"))
        return *seen |= SEQ, dec_uint(d, "seq", &r->seq);
    if (key_is(k, "from"))
        return dec_text(d, "from", PROTO_ID_MAX, &r->from);
    if (key_is(k, "prev")) {
        *seen |= PREV;
        if ((rc = next(d, &v)) != 0 || v.kind == PROTO_CBOR_NULL)
            return rc;
        r->has_prev = true;
        return id_of(d, &v, "prev", r->prev);
    }
    if (key_is(k, "time"))
        return *seen |= TIME, dec_uint(d, "time", &r->time);
    if (key_is(k, "type")) {
        const char *t = NULL;
        *seen |= TYPE;
        if ((rc = dec_text(d, "type", 32, &t)) == 0 && proto_type_parse(t, &r->type) != 0)
            return dfail(d, "type", "unknown record type");
        return rc;
    }
    if (key_is(k, "attrs"))
        return dec_attrs(d);
    if (key_is(k, "items"))
        return dec_list(d, "items", &r->items, &r->n_items);
    if (key_is(k, "inputs"))
        return dec_inputs(d);
    if (key_is(k, "sealed"))
        return dec_sealed(d);
    if (key_is(k, "outputs"))
        return dec_list(d, "outputs", &r->outputs, &r->n_outputs);
    if (key_is(k, "key"))
        return r->has_key = true, dec_id(d, "key", r->key);
    if (key_is(k, "name"))
        return dec_text(d, "name", 256, &r->name);
    if (key_is(k, "nodes"))
        return dec_nodes(d);
    if (key_is(k, "roles"))
        return dec_list(d, "roles", &r->roles, &r->n_roles);
    if (key_is(k, "subject"))
        return dec_text(d, "subject", PROTO_ID_MAX, &r->subject);
    if (key_is(k, "effective"))
        return r->has_effective = true, dec_uint(d, "effective", &r->effective);
    return dfail(d, "payload", "unknown field");
}

static int dec_payload(const struct dec *outer, const uint8_t *p, size_t len)
{
    struct proto_cbor_reader rd;
    struct dec sub = {outer->r, &rd, "payload", outer->err, outer->errlen}, *d = &sub;
    struct proto_cbor_item prev = {0}, k;
    unsigned seen = 0;
    size_t n;
    int rc;

    proto_cbor_reader_init(&rd, p, len);
    if ((rc = dec_map(d, "payload", 0, "not a map", &n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = dec_key(d, "payload", &prev, &k)) != 0 || (rc = dec_field(d, &k, &seen)) != 0)
            return rc;
    if (!proto_cbor_reader_done(&rd))
        return dfail(d, "payload", "trailing bytes after the map");
    if (seen != REQUIRED)
        return dfail(d, "payload", "missing one of v, seq, prev, time, type");
    return proto_record_check(d->r, d->err, d->errlen);
}

/* Protected header: exactly {1: -8 (EdDSA), 4: kid}, in that (deterministic) order. */
static int dec_protected(const struct dec *outer, const uint8_t *p, size_t len)
{
    struct proto_cbor_reader rd;
    struct dec sub = {outer->r, &rd, "protected header", outer->err, outer->errlen}, *d = &sub;
    struct proto_cbor_item k, v;
    int rc;

    static const char alg[] = "record field 'protected': alg is not EdDSA (-8)",
                      kid[] = "record field 'protected': kid is not a 32-byte Ed25519 public key";

    proto_cbor_reader_init(&rd, p, len);
    if ((rc = expect(d, &k, PROTO_CBOR_MAP, 2,
                     "record field 'protected': must hold exactly alg and kid")) != 0 ||
        (rc = expect(d, &k, PROTO_CBOR_UINT, COSE_HDR_ALG, alg)) != 0 ||
        (rc = expect(d, &v, PROTO_CBOR_NEGINT, (uint64_t)(-COSE_ALG_EDDSA - 1), alg)) != 0 ||
        (rc = expect(d, &k, PROTO_CBOR_UINT, COSE_HDR_KID, kid)) != 0 ||
        (rc = expect(d, &v, PROTO_CBOR_BYTES, CRY_PK_LEN, kid)) != 0)
        return rc;
    if (!proto_cbor_reader_done(&rd))
        return dfail(d, "protected", "trailing bytes after the header");
    memcpy(d->r->signer, v.data, CRY_PK_LEN);
    return 0;
}

/* COSE_Sign1 = 18([protected bstr, unprotected {}, payload bstr, signature bstr]). */
static int decode(const uint8_t *bytes, size_t len, struct proto_record *r, char *err,
                  size_t errlen)
{
    struct proto_cbor_reader rd;
    struct proto_cbor_item it, prot, payload;
    struct dec d = {r, &rd, "COSE_Sign1", err, errlen};
    struct proto_cbuf tb;
    uint8_t *tbs;
    int rc;

    if (len > PROTO_RECORD_MAX) {
        snprintf(err, errlen, "record of %zu bytes is over the %d-byte limit", len,
                 PROTO_RECORD_MAX);
        return TN_ERR_TOO_BIG;
    }
    proto_cbor_reader_init(&rd, bytes, len);
    if ((rc = expect(&d, &it, PROTO_CBOR_TAG, COSE_SIGN1_TAG,
                     "not a COSE_Sign1 record (tag 18 missing)")) != 0 ||
        (rc = expect(&d, &it, PROTO_CBOR_ARRAY, 4, "COSE_Sign1 is not an array of 4")) != 0 ||
        (rc = expect(&d, &prot, PROTO_CBOR_BYTES, ANY,
                     "record field 'protected': not a byte string")) != 0 ||
        (rc = expect(&d, &it, PROTO_CBOR_MAP, 0, "COSE unprotected header must be empty")) != 0 ||
        (rc = expect(&d, &payload, PROTO_CBOR_BYTES, ANY,
                     "COSE payload missing (detached payloads are not records)")) != 0 ||
        (rc = expect(&d, &it, PROTO_CBOR_BYTES, CRY_SIG_LEN, "COSE signature is not 64 bytes")) != 0)
        return rc;
    memcpy(r->sig, it.data, CRY_SIG_LEN);
    if (!proto_cbor_reader_done(&rd))
        return proto_fail(err, errlen, "%zu trailing bytes after the record", len - rd.off);
    if ((rc = dec_protected(&d, prot.data, prot.v)) != 0 ||
        (rc = dec_payload(&d, payload.data, payload.v)) != 0)
        return rc;

    /* Keep the Sig_structure so the signature can be checked against any key later. */
    if (!(tbs = proto_arena_alloc(&r->arena, len + 32)))
        return TN_ERR_NOMEM;
    proto_cbuf_init(&tb, tbs, len + 32);
    encode_tbs(&tb, prot.data, prot.v, payload.data, payload.v);
    if (tb.overflow)
        return TN_ERR_INVALID;
    r->tbs = tbs;
    r->tbs_len = tb.len;
    return 0;
}

int proto_record_decode(const uint8_t *bytes, size_t len, struct proto_record *r, char *err,
                        size_t errlen)
{
    int rc = decode(bytes, len, r, err, errlen);

    if (rc == TN_ERR_NOMEM && r->arena.over_cap)
        rc = proto_fail(err, errlen,
                        "record needs more than %d bytes to decode, more than any valid record "
                        "(it declares more entries than it holds)",
                        ARENA_CAP);
    else if (rc == TN_ERR_NOMEM)
        snprintf(err, errlen, "out of memory decoding a record");
    if (rc != 0) { /* on failure r holds nothing */
        proto_record_release(r);
        proto_record_init(r);
    }
    return rc;
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
