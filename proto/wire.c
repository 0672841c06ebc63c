/* The peer protocol's message bodies: see wire.h and docs/PROTOCOL.md "Messages".
 *
 * Decoding is in two steps: the map is walked once to find each known key (refusing
 * non-text keys and repeats), then every field is checked against its type and limits.
 * Nothing is handed out until the whole body has passed. */
#include "proto/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/noise.h"
#include "proto/utf8.h"

_Static_assert(PROTO_WIRE_HS_PAYLOAD == 33, "handshake payload is 1 + 32 bytes");

bool proto_wire_known(uint64_t type)
{
    switch (type) {
    case PROTO_WIRE_HELLO:
    case PROTO_WIRE_CLOCK:
    case PROTO_WIRE_CONS_REQ:
    case PROTO_WIRE_CONS:
    case PROTO_WIRE_RANGE_REQ:
    case PROTO_WIRE_RECORDS:
    case PROTO_WIRE_PUSH:
    case PROTO_WIRE_ANNOUNCE:
    case PROTO_WIRE_FORK:
    case PROTO_WIRE_ROOT_REQ:
    case PROTO_WIRE_ROOT:
    case PROTO_WIRE_PING:
    case PROTO_WIRE_PONG:
    case PROTO_WIRE_PRUNE:
    case PROTO_WIRE_ERROR:
        return true;
    }
    return false;
}

const char *proto_wire_name(uint64_t type)
{
    if (!proto_wire_known(type))
        return "unknown";
    switch ((enum proto_wire_type)type) {
    case PROTO_WIRE_HELLO: return "HELLO";
    case PROTO_WIRE_CLOCK: return "CLOCK";
    case PROTO_WIRE_CONS_REQ: return "CONS_REQ";
    case PROTO_WIRE_CONS: return "CONS";
    case PROTO_WIRE_RANGE_REQ: return "RANGE_REQ";
    case PROTO_WIRE_RECORDS: return "RECORDS";
    case PROTO_WIRE_PUSH: return "PUSH";
    case PROTO_WIRE_ANNOUNCE: return "ANNOUNCE";
    case PROTO_WIRE_FORK: return "FORK";
    case PROTO_WIRE_ROOT_REQ: return "ROOT_REQ";
    case PROTO_WIRE_ROOT: return "ROOT";
    case PROTO_WIRE_PING: return "PING";
    case PROTO_WIRE_PONG: return "PONG";
    case PROTO_WIRE_PRUNE: return "PRUNE";
    case PROTO_WIRE_ERROR: return "ERROR";
    }
    return "unknown";
}

void proto_wire_init(struct proto_wire_msg *w, enum proto_wire_type type, int64_t req_id)
{
    memset(w, 0, sizeof *w);
    w->type = type;
    w->req_id = req_id;
}

void proto_wire_release(struct proto_wire_msg *w)
{
    free(w->owned);
    w->owned = NULL;
}

/* --- field checks, shared by the decoder and the encoder ---------------------------------- */

static bool id_ok(const char *s, size_t len)
{
    char id[PROTO_ID_MAX + 1];

    if (len == 0 || len > PROTO_ID_MAX || memchr(s, '\0', len))
        return false;
    memcpy(id, s, len);
    id[len] = '\0';
    return proto_id_ok(id);
}

static bool bin_ok(const struct proto_wire_bin *b)
{
    return b->p && b->len >= 1 && b->len <= PROTO_WIRE_BIN_MAX;
}

/* UTF-8 on one line: a peer's text may end up quoted in a log line. */
static bool line_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return proto_utf8_ok(s, len);
}

static bool feature_ok(const char *s, size_t len)
{
    return len >= 1 && len <= PROTO_WIRE_FEATURE_MAX && line_ok(s, len);
}

/* Its content is checked by the one who verifies its signature (crypto/checkpoint.c). */
static bool note_ok(const char *s, size_t len)
{
    return s && len >= 1 && len <= PROTO_WIRE_NOTE_MAX;
}

static bool error_text_ok(const char *s, size_t len)
{
    return len <= PROTO_WIRE_ERROR_MAX && (len == 0 || line_ok(s, len));
}

/* --- decoding ----------------------------------------------------------------------------- */

struct dec {
    const char *name; /* message name, for errors */
    char *err;
    size_t errlen;
};

static int __attribute__((format(printf, 2, 3))) bad(struct dec *d, const char *fmt, ...)
{
    char why[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(d->err, d->errlen, "malformed %s: %s", d->name, why);
    return TN_ERR_INVALID;
}

/* Finds the known keys of a body map: vals[i] gets the value of keys[i] or NULL. */
static int find_keys(struct dec *d, const msgpack_object *body, const char *const *keys,
                     const msgpack_object **vals, size_t n)
{
    if (body->type != MSGPACK_OBJECT_MAP)
        return bad(d, "the body is not a map");
    for (size_t i = 0; i < n; i++)
        vals[i] = NULL;
    for (uint32_t e = 0; e < body->via.map.size; e++) {
        const msgpack_object *k = &body->via.map.ptr[e].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return bad(d, "a key is not text");
        for (size_t i = 0; i < n; i++) {
            if (k->via.str.size != strlen(keys[i]) ||
                memcmp(k->via.str.ptr, keys[i], k->via.str.size) != 0)
                continue;
            if (vals[i])
                return bad(d, "key '%s' appears twice", keys[i]);
            vals[i] = &body->via.map.ptr[e].val;
        }
    }
    return 0;
}

static int need_keys(struct dec *d, const char *const *keys, const msgpack_object **vals,
                     size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!vals[i])
            return bad(d, "no '%s'", keys[i]);
    return 0;
}

/* Every key of keys is required. */
static int take_keys(struct dec *d, const msgpack_object *body, const char *const *keys,
                     const msgpack_object **vals, size_t n)
{
    int rc = find_keys(d, body, keys, vals, n);
    return rc != 0 ? rc : need_keys(d, keys, vals, n);
}

static int get_uint(struct dec *d, const msgpack_object *o, const char *what, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return bad(d, "%s is not an unsigned integer", what);
    *out = o->via.u64;
    return 0;
}

static int get_id(struct dec *d, const msgpack_object *o, const char *what,
                  char out[PROTO_ID_MAX + 1])
{
    if (o->type != MSGPACK_OBJECT_STR || !id_ok(o->via.str.ptr, o->via.str.size))
        return bad(d, "%s is not an org id (1..%d of a-z 0-9 . _ -)", what, PROTO_ID_MAX);
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return 0;
}

static int get_hash(struct dec *d, const msgpack_object *o, const char *what,
                    uint8_t out[CRY_HASH_LEN])
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return bad(d, "%s is not binary", what);
    if (o->via.bin.size != CRY_HASH_LEN)
        return bad(d, "%s is %u bytes, not %d", what, o->via.bin.size, CRY_HASH_LEN);
    memcpy(out, o->via.bin.ptr, CRY_HASH_LEN);
    return 0;
}

static int get_bin(struct dec *d, const msgpack_object *o, const char *what,
                   struct proto_wire_bin *out)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return bad(d, "%s is not binary", what);
    out->p = (const uint8_t *)o->via.bin.ptr;
    out->len = o->via.bin.size;
    if (!bin_ok(out))
        return bad(d, "%s is %u bytes, not 1..%d", what, o->via.bin.size, PROTO_WIRE_BIN_MAX);
    return 0;
}

static int get_array(struct dec *d, const msgpack_object *o, const char *what, size_t max,
                     const msgpack_object **items, size_t *n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return bad(d, "%s is not an array", what);
    if (o->via.array.size > max)
        return bad(d, "%s has %u entries, over the limit of %zu", what, o->via.array.size, max);
    *items = o->via.array.ptr;
    *n = o->via.array.size;
    return 0;
}

/* The owned list of a message: n items of size each (n is bounded by the frame, which
 * msg.c's pre-scan checked against the bytes present). */
static int alloc_list(struct dec *d, struct proto_wire_msg *out, size_t n, size_t size)
{
    if (n == 0)
        return 0;
    if (!(out->owned = calloc(n, size))) {
        snprintf(d->err, d->errlen, "out of memory decoding %s", d->name);
        return TN_ERR_NOMEM;
    }
    return 0;
}

static int get_recs(struct dec *d, struct proto_wire_msg *out, const msgpack_object *o,
                    const struct proto_wire_bin **recs, size_t *n_recs)
{
    const msgpack_object *items = NULL;
    struct proto_wire_bin *list;
    size_t n = 0;
    int rc;

    if ((rc = get_array(d, o, "recs", SIZE_MAX, &items, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct proto_wire_bin b;
        char what[32];
        snprintf(what, sizeof what, "recs[%zu]", i);
        if ((rc = get_bin(d, &items[i], what, &b)) != 0)
            return rc;
    }
    if ((rc = alloc_list(d, out, n, sizeof *list)) != 0)
        return rc;
    list = out->owned;
    for (size_t i = 0; i < n; i++) {
        list[i].p = (const uint8_t *)items[i].via.bin.ptr;
        list[i].len = items[i].via.bin.size;
    }
    *recs = list;
    *n_recs = n;
    return 0;
}

static int dec_hello(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"v", "org", "features"};
    const msgpack_object *v[3], *items = NULL;
    struct proto_wire_hello *h = &out->u.hello;
    struct proto_wire_text *list;
    uint64_t version = 0;
    size_t n = 0;
    int rc;

    /* the version first: another version's HELLO may well have other keys */
    if ((rc = find_keys(d, body, keys, v, 3)) != 0 || (rc = need_keys(d, keys, v, 1)) != 0 ||
        (rc = get_uint(d, v[0], "v", &version)) != 0)
        return rc;
    if (version != PROTO_WIRE_VERSION) {
        snprintf(d->err, d->errlen, "speaks protocol version %llu, not %d",
                 (unsigned long long)version, PROTO_WIRE_VERSION);
        return TN_ERR_INVALID;
    }
    if ((rc = need_keys(d, keys, v, 3)) != 0 || (rc = get_id(d, v[1], "org", h->org)) != 0 ||
        (rc = get_array(d, v[2], "features", PROTO_WIRE_FEATURES_MAX, &items, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (items[i].type != MSGPACK_OBJECT_STR ||
            !feature_ok(items[i].via.str.ptr, items[i].via.str.size))
            return bad(d, "features[%zu] is not 1..%d bytes of text on one line", i,
                       PROTO_WIRE_FEATURE_MAX);
    if ((rc = alloc_list(d, out, n, sizeof *list)) != 0)
        return rc;
    list = out->owned;
    for (size_t i = 0; i < n; i++) {
        list[i].p = items[i].via.str.ptr;
        list[i].len = items[i].via.str.size;
    }
    h->features = list;
    h->n_features = n;
    return 0;
}

static int dec_clock(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"shards"};
    const msgpack_object *v[1], *items = NULL;
    struct proto_wire_shard *list;
    size_t n = 0;
    int rc;

    if ((rc = take_keys(d, body, keys, v, 1)) != 0 ||
        (rc = get_array(d, v[0], "shards", PROTO_WIRE_CLOCK_MAX, &items, &n)) != 0 ||
        (rc = alloc_list(d, out, n, sizeof *list)) != 0)
        return rc;
    list = out->owned;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *a;
        char what[48];
        if (items[i].type != MSGPACK_OBJECT_ARRAY || items[i].via.array.size != 4)
            return bad(d, "shards[%zu] is not [org, size, root, note]", i);
        a = items[i].via.array.ptr;
        snprintf(what, sizeof what, "shards[%zu] org", i);
        if ((rc = get_id(d, &a[0], what, list[i].org)) != 0)
            return rc;
        snprintf(what, sizeof what, "shards[%zu] size", i);
        if ((rc = get_uint(d, &a[1], what, &list[i].size)) != 0)
            return rc;
        snprintf(what, sizeof what, "shards[%zu] root", i);
        if ((rc = get_hash(d, &a[2], what, list[i].root)) != 0)
            return rc;
        if (a[3].type == MSGPACK_OBJECT_STR && note_ok(a[3].via.str.ptr, a[3].via.str.size)) {
            list[i].note = a[3].via.str.ptr;
            list[i].note_len = a[3].via.str.size;
        } else if (a[3].type != MSGPACK_OBJECT_NIL) {
            return bad(d, "shards[%zu] note is neither nil nor 1..%d bytes of text", i,
                       PROTO_WIRE_NOTE_MAX);
        }
    }
    out->u.clock.shards = list;
    out->u.clock.n_shards = n;
    return 0;
}

static int dec_cons_req(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"org", "old", "new"};
    const msgpack_object *v[3];
    struct proto_wire_cons_req *c = &out->u.cons_req;
    int rc;

    if ((rc = take_keys(d, body, keys, v, 3)) != 0 || (rc = get_id(d, v[0], "org", c->org)) != 0 ||
        (rc = get_uint(d, v[1], "old", &c->old)) != 0 ||
        (rc = get_uint(d, v[2], "new", &c->new_size)) != 0)
        return rc;
    return 0;
}

static int dec_cons(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"org", "old", "new", "root", "path"};
    const msgpack_object *v[5], *items = NULL;
    struct proto_wire_cons *c = &out->u.cons;
    uint8_t(*path)[CRY_HASH_LEN];
    size_t n = 0;
    int rc;

    if ((rc = take_keys(d, body, keys, v, 5)) != 0 || (rc = get_id(d, v[0], "org", c->org)) != 0 ||
        (rc = get_uint(d, v[1], "old", &c->old)) != 0 ||
        (rc = get_uint(d, v[2], "new", &c->new_size)) != 0 ||
        (rc = get_hash(d, v[3], "root", c->root)) != 0 ||
        (rc = get_array(d, v[4], "path", PROTO_WIRE_PATH_MAX, &items, &n)) != 0 ||
        (rc = alloc_list(d, out, n, CRY_HASH_LEN)) != 0)
        return rc;
    path = out->owned;
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "path[%zu]", i);
        if ((rc = get_hash(d, &items[i], what, path[i])) != 0)
            return rc;
    }
    c->path = (const uint8_t(*)[CRY_HASH_LEN])path;
    c->n_path = n;
    return 0;
}

static int dec_range_req(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"org", "from", "limit"};
    const msgpack_object *v[3];
    struct proto_wire_range_req *r = &out->u.range_req;
    int rc;

    if ((rc = take_keys(d, body, keys, v, 3)) != 0 || (rc = get_id(d, v[0], "org", r->org)) != 0 ||
        (rc = get_uint(d, v[1], "from", &r->from)) != 0 ||
        (rc = get_uint(d, v[2], "limit", &r->limit)) != 0)
        return rc;
    if (r->limit == 0 || r->limit > PROTO_WIRE_RANGE_MAX)
        return bad(d, "limit %llu is not 1..%d", (unsigned long long)r->limit,
                   PROTO_WIRE_RANGE_MAX);
    if (r->from > UINT64_MAX - r->limit)
        return bad(d, "from + limit is past the largest position");
    return 0;
}

static int dec_records(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"org", "from", "recs", "last"};
    const msgpack_object *v[4];
    struct proto_wire_records *r = &out->u.records;
    int rc;

    if ((rc = take_keys(d, body, keys, v, 4)) != 0 || (rc = get_id(d, v[0], "org", r->org)) != 0 ||
        (rc = get_uint(d, v[1], "from", &r->from)) != 0)
        return rc;
    if (v[3]->type != MSGPACK_OBJECT_BOOLEAN)
        return bad(d, "last is not a boolean");
    r->last = v[3]->via.boolean;
    return get_recs(d, out, v[2], &r->recs, &r->n_recs);
}

static int dec_push(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"recs"};
    const msgpack_object *v[1];
    int rc;

    if ((rc = take_keys(d, body, keys, v, 1)) != 0)
        return rc;
    return get_recs(d, out, v[0], &out->u.push.recs, &out->u.push.n_recs);
}

/* ANNOUNCE and ROOT_REQ share their shape: {org, size}. */
static int dec_org_size(struct dec *d, const msgpack_object *body, char org[PROTO_ID_MAX + 1],
                        uint64_t *size)
{
    static const char *const keys[] = {"org", "size"};
    const msgpack_object *v[2];
    int rc;

    if ((rc = take_keys(d, body, keys, v, 2)) != 0 || (rc = get_id(d, v[0], "org", org)) != 0 ||
        (rc = get_uint(d, v[1], "size", size)) != 0)
        return rc;
    return 0;
}

static int dec_fork(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"org", "at", "kind", "a", "b"};
    const msgpack_object *v[5];
    struct proto_wire_fork *f = &out->u.fork;
    int rc;

    if ((rc = take_keys(d, body, keys, v, 5)) != 0 || (rc = get_id(d, v[0], "org", f->org)) != 0 ||
        (rc = get_uint(d, v[1], "at", &f->at)) != 0 ||
        (rc = get_uint(d, v[2], "kind", &f->kind)) != 0 ||
        (rc = get_bin(d, v[3], "a", &f->a)) != 0 || (rc = get_bin(d, v[4], "b", &f->b)) != 0)
        return rc;
    return 0;
}

static int dec_root(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"org", "size", "root"};
    const msgpack_object *v[3];
    struct proto_wire_root *r = &out->u.root;
    int rc;

    if ((rc = take_keys(d, body, keys, v, 3)) != 0 || (rc = get_id(d, v[0], "org", r->org)) != 0 ||
        (rc = get_uint(d, v[1], "size", &r->size)) != 0)
        return rc;
    if (v[2]->type == MSGPACK_OBJECT_NIL)
        return 0;
    r->has_root = true;
    return get_hash(d, v[2], "root", r->root);
}

static int dec_error(struct dec *d, const msgpack_object *body, struct proto_wire_msg *out)
{
    static const char *const keys[] = {"msg"};
    const msgpack_object *v[1];
    int rc;

    if ((rc = take_keys(d, body, keys, v, 1)) != 0)
        return rc;
    if (v[0]->type != MSGPACK_OBJECT_STR ||
        !error_text_ok(v[0]->via.str.ptr, v[0]->via.str.size))
        return bad(d, "msg is not text (one line, at most %d bytes)", PROTO_WIRE_ERROR_MAX);
    out->u.error.msg.p = v[0]->via.str.ptr;
    out->u.error.msg.len = v[0]->via.str.size;
    return 0;
}

int proto_wire_decode(const struct proto_msg *m, struct proto_wire_msg *out, char *err,
                      size_t errlen)
{
    struct dec d = {proto_wire_name(m->type), err, errlen};
    const msgpack_object *body = m->body;
    int rc = TN_ERR_INVALID;

    memset(out, 0, sizeof *out);
    if (!proto_wire_known(m->type) || !body) {
        snprintf(err, errlen, "unknown message type %llu", (unsigned long long)m->type);
        return TN_ERR_INVALID;
    }
    out->type = (enum proto_wire_type)m->type;
    out->req_id = m->req_id;
    switch (out->type) {
    case PROTO_WIRE_HELLO: rc = dec_hello(&d, body, out); break;
    case PROTO_WIRE_CLOCK: rc = dec_clock(&d, body, out); break;
    case PROTO_WIRE_CONS_REQ: rc = dec_cons_req(&d, body, out); break;
    case PROTO_WIRE_CONS: rc = dec_cons(&d, body, out); break;
    case PROTO_WIRE_RANGE_REQ: rc = dec_range_req(&d, body, out); break;
    case PROTO_WIRE_RECORDS: rc = dec_records(&d, body, out); break;
    case PROTO_WIRE_PUSH: rc = dec_push(&d, body, out); break;
    case PROTO_WIRE_ANNOUNCE:
        rc = dec_org_size(&d, body, out->u.announce.org, &out->u.announce.size);
        break;
    case PROTO_WIRE_FORK: rc = dec_fork(&d, body, out); break;
    case PROTO_WIRE_ROOT_REQ:
        rc = dec_org_size(&d, body, out->u.root_req.org, &out->u.root_req.size);
        break;
    case PROTO_WIRE_ROOT: rc = dec_root(&d, body, out); break;
    case PROTO_WIRE_PING:
    case PROTO_WIRE_PONG:
    case PROTO_WIRE_PRUNE:
        /* {}: keys a later version may add are ignored */
        rc = take_keys(&d, body, NULL, NULL, 0);
        break;
    case PROTO_WIRE_ERROR: rc = dec_error(&d, body, out); break;
    }
    if (rc != 0) {
        proto_wire_release(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* --- encoding ------------------------------------------------------------------------------ */

static bool org_ok(const char *org)
{
    return id_ok(org, strnlen(org, PROTO_ID_MAX + 1));
}

static bool recs_ok(const struct proto_wire_bin *recs, size_t n)
{
    if (n > 0 && !recs)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!bin_ok(&recs[i]))
            return false;
    return true;
}

/* The decoder's rules, for a struct built by hand. */
static bool encodable(const struct proto_wire_msg *w)
{
    const struct proto_wire_hello *h = &w->u.hello;
    const struct proto_wire_clock *c = &w->u.clock;

    switch (w->type) {
    case PROTO_WIRE_HELLO:
        if (!org_ok(h->org) || h->n_features > PROTO_WIRE_FEATURES_MAX ||
            (h->n_features && !h->features))
            return false;
        for (size_t i = 0; i < h->n_features; i++)
            if (!h->features[i].p || !feature_ok(h->features[i].p, h->features[i].len))
                return false;
        return true;
    case PROTO_WIRE_CLOCK:
        if (c->n_shards > PROTO_WIRE_CLOCK_MAX || (c->n_shards && !c->shards))
            return false;
        for (size_t i = 0; i < c->n_shards; i++)
            if (!org_ok(c->shards[i].org) ||
                (c->shards[i].note && !note_ok(c->shards[i].note, c->shards[i].note_len)))
                return false;
        return true;
    case PROTO_WIRE_CONS_REQ: return org_ok(w->u.cons_req.org);
    case PROTO_WIRE_CONS:
        return org_ok(w->u.cons.org) && w->u.cons.n_path <= PROTO_WIRE_PATH_MAX &&
               (w->u.cons.n_path == 0 || w->u.cons.path);
    case PROTO_WIRE_RANGE_REQ:
        return org_ok(w->u.range_req.org) && w->u.range_req.limit >= 1 &&
               w->u.range_req.limit <= PROTO_WIRE_RANGE_MAX &&
               w->u.range_req.from <= UINT64_MAX - w->u.range_req.limit;
    case PROTO_WIRE_RECORDS:
        return org_ok(w->u.records.org) && recs_ok(w->u.records.recs, w->u.records.n_recs);
    case PROTO_WIRE_PUSH: return recs_ok(w->u.push.recs, w->u.push.n_recs);
    case PROTO_WIRE_ANNOUNCE: return org_ok(w->u.announce.org);
    case PROTO_WIRE_FORK:
        return org_ok(w->u.fork.org) && bin_ok(&w->u.fork.a) && bin_ok(&w->u.fork.b);
    case PROTO_WIRE_ROOT_REQ: return org_ok(w->u.root_req.org);
    case PROTO_WIRE_ROOT: return org_ok(w->u.root.org);
    case PROTO_WIRE_PING:
    case PROTO_WIRE_PONG:
    case PROTO_WIRE_PRUNE: return true;
    case PROTO_WIRE_ERROR:
        return (w->u.error.msg.p || w->u.error.msg.len == 0) &&
               error_text_ok(w->u.error.msg.p, w->u.error.msg.len);
    }
    return false;
}

static void pk_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str_with_body(pk, s, len);
}

static void pk_key(msgpack_packer *pk, const char *key)
{
    pk_str(pk, key, strlen(key));
}

static void pk_org(msgpack_packer *pk, const char *org)
{
    pk_key(pk, "org");
    pk_str(pk, org, strlen(org));
}

static void pk_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
    pk_key(pk, key);
    msgpack_pack_uint64(pk, v);
}

static void pk_bin(msgpack_packer *pk, const uint8_t *p, size_t len)
{
    msgpack_pack_bin_with_body(pk, p, len);
}

static void pk_recs(msgpack_packer *pk, const struct proto_wire_bin *recs, size_t n)
{
    pk_key(pk, "recs");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        pk_bin(pk, recs[i].p, recs[i].len);
}

/* Key order and integer forms are those the node has always sent (docs/PROTOCOL.md). */
int proto_wire_encode(msgpack_packer *pk, const struct proto_wire_msg *w)
{
    if (!proto_wire_known(w->type) || !encodable(w))
        return TN_ERR_INVALID;
    proto_msg_begin(pk, w->type, w->req_id);
    switch (w->type) {
    case PROTO_WIRE_HELLO:
        msgpack_pack_map(pk, 3);
        pk_uint(pk, "v", PROTO_WIRE_VERSION);
        pk_org(pk, w->u.hello.org);
        pk_key(pk, "features");
        msgpack_pack_array(pk, w->u.hello.n_features);
        for (size_t i = 0; i < w->u.hello.n_features; i++)
            pk_str(pk, w->u.hello.features[i].p, w->u.hello.features[i].len);
        break;
    case PROTO_WIRE_CLOCK:
        msgpack_pack_map(pk, 1);
        pk_key(pk, "shards");
        msgpack_pack_array(pk, w->u.clock.n_shards);
        for (size_t i = 0; i < w->u.clock.n_shards; i++) {
            const struct proto_wire_shard *s = &w->u.clock.shards[i];
            msgpack_pack_array(pk, 4);
            pk_str(pk, s->org, strlen(s->org));
            msgpack_pack_uint64(pk, s->size);
            pk_bin(pk, s->root, CRY_HASH_LEN);
            if (s->note)
                pk_str(pk, s->note, s->note_len);
            else
                msgpack_pack_nil(pk);
        }
        break;
    case PROTO_WIRE_CONS_REQ:
        msgpack_pack_map(pk, 3);
        pk_org(pk, w->u.cons_req.org);
        pk_uint(pk, "old", w->u.cons_req.old);
        pk_uint(pk, "new", w->u.cons_req.new_size);
        break;
    case PROTO_WIRE_CONS:
        msgpack_pack_map(pk, 5);
        pk_org(pk, w->u.cons.org);
        pk_uint(pk, "old", w->u.cons.old);
        pk_uint(pk, "new", w->u.cons.new_size);
        pk_key(pk, "root");
        pk_bin(pk, w->u.cons.root, CRY_HASH_LEN);
        pk_key(pk, "path");
        msgpack_pack_array(pk, w->u.cons.n_path);
        for (size_t i = 0; i < w->u.cons.n_path; i++)
            pk_bin(pk, w->u.cons.path[i], CRY_HASH_LEN);
        break;
    case PROTO_WIRE_RANGE_REQ:
        msgpack_pack_map(pk, 3);
        pk_org(pk, w->u.range_req.org);
        pk_uint(pk, "from", w->u.range_req.from);
        pk_uint(pk, "limit", w->u.range_req.limit);
        break;
    case PROTO_WIRE_RECORDS:
        msgpack_pack_map(pk, 4);
        pk_org(pk, w->u.records.org);
        pk_uint(pk, "from", w->u.records.from);
        pk_recs(pk, w->u.records.recs, w->u.records.n_recs);
        pk_key(pk, "last");
        if (w->u.records.last)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case PROTO_WIRE_PUSH:
        msgpack_pack_map(pk, 1);
        pk_recs(pk, w->u.push.recs, w->u.push.n_recs);
        break;
    case PROTO_WIRE_ANNOUNCE:
        msgpack_pack_map(pk, 2);
        pk_org(pk, w->u.announce.org);
        pk_uint(pk, "size", w->u.announce.size);
        break;
    case PROTO_WIRE_FORK:
        msgpack_pack_map(pk, 5);
        pk_org(pk, w->u.fork.org);
        pk_uint(pk, "at", w->u.fork.at);
        pk_uint(pk, "kind", w->u.fork.kind);
        pk_key(pk, "a");
        pk_bin(pk, w->u.fork.a.p, w->u.fork.a.len);
        pk_key(pk, "b");
        pk_bin(pk, w->u.fork.b.p, w->u.fork.b.len);
        break;
    case PROTO_WIRE_ROOT_REQ:
        msgpack_pack_map(pk, 2);
        pk_org(pk, w->u.root_req.org);
        pk_uint(pk, "size", w->u.root_req.size);
        break;
    case PROTO_WIRE_ROOT:
        msgpack_pack_map(pk, 3);
        pk_org(pk, w->u.root.org);
        pk_uint(pk, "size", w->u.root.size);
        pk_key(pk, "root");
        if (w->u.root.has_root)
            pk_bin(pk, w->u.root.root, CRY_HASH_LEN);
        else
            msgpack_pack_nil(pk);
        break;
    case PROTO_WIRE_PING:
    case PROTO_WIRE_PONG:
    case PROTO_WIRE_PRUNE:
        msgpack_pack_map(pk, 0);
        break;
    case PROTO_WIRE_ERROR:
        msgpack_pack_map(pk, 1);
        pk_key(pk, "msg");
        pk_str(pk, w->u.error.msg.p ? w->u.error.msg.p : "", w->u.error.msg.len);
        break;
    }
    return 0;
}

/* --- handshake payload --------------------------------------------------------------------- */

void proto_wire_hs_payload(uint8_t out[PROTO_WIRE_HS_PAYLOAD], const uint8_t node_pk[CRY_PK_LEN])
{
    out[0] = PROTO_WIRE_VERSION;
    memcpy(out + 1, node_pk, CRY_PK_LEN);
}

int proto_wire_hs_check(const uint8_t *payload, size_t len, const uint8_t rs[32],
                        uint8_t node_pk[CRY_PK_LEN], char *why, size_t whylen)
{
    uint8_t x[32];
    char text[CRY_PK_TEXT_LEN];

    if (len != PROTO_WIRE_HS_PAYLOAD || payload[0] != PROTO_WIRE_VERSION) {
        snprintf(why, whylen, "handshake payload is not tracenode protocol version %d",
                 PROTO_WIRE_VERSION);
        return TN_ERR_INVALID;
    }
    /* The static key is public: an ordinary comparison leaks nothing. */
    if (cry_noise_static_pk(x, payload + 1) != 0 || memcmp(x, rs, 32) != 0) {
        cry_pk_format(text, payload + 1);
        snprintf(why, whylen, "node key %s is not the key the handshake authenticated", text);
        return TN_ERR_BAD_SIGNATURE;
    }
    memcpy(node_pk, payload + 1, CRY_PK_LEN);
    return 0;
}
