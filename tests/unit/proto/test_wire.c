/* The peer protocol's message bodies (proto/wire.h, docs/PROTOCOL.md "Messages"): every
 * message encodes to the bytes an independent msgpack implementation (Python's msgpack,
 * as tests/integration/lib/peer.py speaks it) gives for the documented body, decodes back
 * to the same struct and re-encodes to the same bytes; every malformed body is refused
 * with a reason naming the field; the encoder refuses what the decoder would; the
 * handshake payload check; the frame length prefix. */
#include "proto_test.h"

#include "crypto/key.h"
#include "crypto/noise.h"
#include "proto/wire.h"

/* ---- samples: one of each message, with the bytes Python's msgpack packs for it ---------- */

enum sample_id {
    S_HELLO,
    S_CLOCK,
    S_CONS_REQ,
    S_CONS,
    S_RANGE_REQ,
    S_RECORDS,
    S_PUSH,
    S_ANNOUNCE,
    S_FORK,
    S_ROOT_REQ,
    S_ROOT,
    S_ROOT_NIL,
    S_PING,
    S_PONG,
    S_ERROR,
    S_PRUNE,
    S_COUNT
};

/* msgpack.packb([type, req_id, body], use_bin_type=True).hex() */
static const char *const sample_hex[S_COUNT] = {
    /* HELLO {"v": 1, "org": "acme", "features": ["push", "fork-evidence"]} */
    "93020083a17601a36f7267a461636d65a8666561747572657392a470757368ad666f726b2d65766964656e63"
    "65",
    /* CLOCK {"shards": [["acme", 3, 0x11 * 32, note (40 bytes: str8)],
     *                   ["beta", 0, 0x22 * 32, None]]} */
    "93040081a67368617264739294a461636d6503c4201111111111111111111111111111111111111111111111"
    "111111111111111111d92861636d652d6e6f74653a206120636865636b706f696e742c20666f727479206279"
    "7465732e0a2e2e94a46265746100c42022222222222222222222222222222222222222222222222222222222"
    "22222222c0",
    /* CONS_REQ {"org": "acme", "old": 2, "new": 300} */
    "93060083a36f7267a461636d65a36f6c6402a36e6577cd012c",
    /* CONS, req 12 {"org": "acme", "old": 1, "new": 4, "root": 0x33 * 32,
     *               "path": [0x44 * 32, 0x55 * 32]} */
    "93080c85a36f7267a461636d65a36f6c6401a36e657704a4726f6f74c4203333333333333333333333333333"
    "333333333333333333333333333333333333a47061746892c420444444444444444444444444444444444444"
    "4444444444444444444444444444c42055555555555555555555555555555555555555555555555555555555"
    "55555555",
    /* RANGE_REQ {"org": "acme", "from": 70000, "limit": 4096} */
    "930a0083a36f7267a461636d65a466726f6dce00011170a56c696d6974cd1000",
    /* RECORDS {"org": "acme", "from": 5, "recs": [d2 84 01, 0xab * 40], "last": True} */
    "930c0084a36f7267a461636d65a466726f6d05a47265637392c403d28401c428abababababababababababab"
    "ababababababababababababababababababababababababababababa46c617374c3",
    /* PUSH {"recs": [b"xyz"]} */
    "930e0081a47265637391c40378797a",
    /* ANNOUNCE {"org": "acme", "size": 2**40} */
    "930f0082a36f7267a461636d65a473697a65cf0000010000000000",
    /* FORK {"org": "acme", "at": 7, "kind": 1, "a": b"aaa", "b": b"bbb"} */
    "93100085a36f7267a461636d65a2617407a46b696e6401a161c403616161a162c403626262",
    /* ROOT_REQ {"org": "acme", "size": 9} */
    "93120082a36f7267a461636d65a473697a6509",
    /* ROOT, req 3 {"org": "acme", "size": 9, "root": 0x66 * 32} */
    "93140383a36f7267a461636d65a473697a6509a4726f6f74c420666666666666666666666666666666666666"
    "6666666666666666666666666666",
    /* ROOT, req 3 {"org": "acme", "size": 9, "root": None} */
    "93140383a36f7267a461636d65a473697a6509a4726f6f74c0",
    /* PING, req -5 {} */
    "9316fb80",
    /* PONG, req -5 {} */
    "9318fb80",
    /* ERROR {"msg": "bye"} */
    "931a0081a36d7367a3627965",
    /* PRUNE {} */
    "93110080",
};

static const char note40[] = "acme-note: a checkpoint, forty bytes.\n..";

struct sample {
    struct proto_wire_msg w;
    struct proto_wire_text features[2];
    struct proto_wire_shard shards[2];
    uint8_t path[2][CRY_HASH_LEN];
    struct proto_wire_bin recs[2];
    uint8_t rec1[3], rec2[40];
};

static void sample(struct sample *s, enum sample_id id)
{
    struct proto_wire_msg *w = &s->w;

    memset(s, 0, sizeof *s);
    switch (id) {
    case S_HELLO:
        proto_wire_init(w, PROTO_WIRE_HELLO, 0);
        strcpy(w->u.hello.org, "acme");
        s->features[0] = (struct proto_wire_text){"push", 4};
        s->features[1] = (struct proto_wire_text){"fork-evidence", 13};
        w->u.hello.features = s->features;
        w->u.hello.n_features = 2;
        break;
    case S_CLOCK:
        proto_wire_init(w, PROTO_WIRE_CLOCK, 0);
        strcpy(s->shards[0].org, "acme");
        s->shards[0].size = 3;
        memset(s->shards[0].root, 0x11, CRY_HASH_LEN);
        s->shards[0].note = note40;
        s->shards[0].note_len = 40;
        strcpy(s->shards[1].org, "beta");
        memset(s->shards[1].root, 0x22, CRY_HASH_LEN);
        w->u.clock.shards = s->shards;
        w->u.clock.n_shards = 2;
        break;
    case S_CONS_REQ:
        proto_wire_init(w, PROTO_WIRE_CONS_REQ, 0);
        strcpy(w->u.cons_req.org, "acme");
        w->u.cons_req.old = 2;
        w->u.cons_req.new_size = 300;
        break;
    case S_CONS:
        proto_wire_init(w, PROTO_WIRE_CONS, 12);
        strcpy(w->u.cons.org, "acme");
        w->u.cons.old = 1;
        w->u.cons.new_size = 4;
        memset(w->u.cons.root, 0x33, CRY_HASH_LEN);
        memset(s->path[0], 0x44, CRY_HASH_LEN);
        memset(s->path[1], 0x55, CRY_HASH_LEN);
        w->u.cons.path = (const uint8_t(*)[CRY_HASH_LEN])s->path;
        w->u.cons.n_path = 2;
        break;
    case S_RANGE_REQ:
        proto_wire_init(w, PROTO_WIRE_RANGE_REQ, 0);
        strcpy(w->u.range_req.org, "acme");
        w->u.range_req.from = 70000;
        w->u.range_req.limit = 4096;
        break;
    case S_RECORDS:
        proto_wire_init(w, PROTO_WIRE_RECORDS, 0);
        strcpy(w->u.records.org, "acme");
        w->u.records.from = 5;
        memcpy(s->rec1, "\xd2\x84\x01", 3);
        memset(s->rec2, 0xab, sizeof s->rec2);
        s->recs[0] = (struct proto_wire_bin){s->rec1, 3};
        s->recs[1] = (struct proto_wire_bin){s->rec2, 40};
        w->u.records.recs = s->recs;
        w->u.records.n_recs = 2;
        w->u.records.last = true;
        break;
    case S_PUSH:
        proto_wire_init(w, PROTO_WIRE_PUSH, 0);
        memcpy(s->rec1, "xyz", 3);
        s->recs[0] = (struct proto_wire_bin){s->rec1, 3};
        w->u.push.recs = s->recs;
        w->u.push.n_recs = 1;
        break;
    case S_ANNOUNCE:
        proto_wire_init(w, PROTO_WIRE_ANNOUNCE, 0);
        strcpy(w->u.announce.org, "acme");
        w->u.announce.size = 1ull << 40;
        break;
    case S_FORK:
        proto_wire_init(w, PROTO_WIRE_FORK, 0);
        strcpy(w->u.fork.org, "acme");
        w->u.fork.at = 7;
        w->u.fork.kind = 1;
        w->u.fork.a = (struct proto_wire_bin){(const uint8_t *)"aaa", 3};
        w->u.fork.b = (struct proto_wire_bin){(const uint8_t *)"bbb", 3};
        break;
    case S_ROOT_REQ:
        proto_wire_init(w, PROTO_WIRE_ROOT_REQ, 0);
        strcpy(w->u.root_req.org, "acme");
        w->u.root_req.size = 9;
        break;
    case S_ROOT:
    case S_ROOT_NIL:
        proto_wire_init(w, PROTO_WIRE_ROOT, 3);
        strcpy(w->u.root.org, "acme");
        w->u.root.size = 9;
        w->u.root.has_root = id == S_ROOT;
        if (id == S_ROOT)
            memset(w->u.root.root, 0x66, CRY_HASH_LEN);
        break;
    case S_PING:
        proto_wire_init(w, PROTO_WIRE_PING, -5);
        break;
    case S_PONG:
        proto_wire_init(w, PROTO_WIRE_PONG, -5);
        break;
    case S_PRUNE:
        proto_wire_init(w, PROTO_WIRE_PRUNE, 0);
        break;
    case S_ERROR:
        proto_wire_init(w, PROTO_WIRE_ERROR, 0);
        w->u.error.msg = (struct proto_wire_text){"bye", 3};
        break;
    case S_COUNT:
        fail();
    }
}

/* ---- helpers -------------------------------------------------------------------------- */

struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void packed_init(struct packed *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void packed_release(struct packed *p)
{
    msgpack_sbuffer_destroy(&p->sb);
}

static void encode_ok(const struct proto_wire_msg *w, struct packed *out)
{
    packed_init(out);
    EXPECT_RC(proto_wire_encode(&out->pk, w), 0, "", "encode %s", proto_wire_name(w->type));
}

/* Decodes bytes as a whole message: rc of proto_msg_decode, then of proto_wire_decode. */
static int decode_bytes(const void *p, size_t len, struct proto_msg *m, struct proto_wire_msg *w,
                        char *err, size_t errlen)
{
    int rc = proto_msg_decode(p, len, m, err, errlen);
    if (rc != 0)
        return rc;
    if ((rc = proto_wire_decode(m, w, err, errlen)) != 0)
        proto_msg_release(m);
    return rc;
}

static bool text_eq(struct proto_wire_text a, struct proto_wire_text b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool bin_eq(struct proto_wire_bin a, struct proto_wire_bin b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static bool recs_eq(const struct proto_wire_bin *a, size_t na, const struct proto_wire_bin *b,
                    size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!bin_eq(a[i], b[i]))
            return false;
    return true;
}

/* Field by field: what was decoded is what was encoded. */
static void expect_same(const struct proto_wire_msg *a, const struct proto_wire_msg *b)
{
    const char *name = proto_wire_name(a->type);
    bool same = true;

    assert_int_equal(a->type, b->type);
    assert_int_equal(a->req_id, b->req_id);
    switch (a->type) {
    case PROTO_WIRE_HELLO:
        same = strcmp(a->u.hello.org, b->u.hello.org) == 0 &&
               a->u.hello.n_features == b->u.hello.n_features;
        for (size_t i = 0; same && i < a->u.hello.n_features; i++)
            same = text_eq(a->u.hello.features[i], b->u.hello.features[i]);
        break;
    case PROTO_WIRE_CLOCK:
        same = a->u.clock.n_shards == b->u.clock.n_shards;
        for (size_t i = 0; same && i < a->u.clock.n_shards; i++) {
            const struct proto_wire_shard *x = &a->u.clock.shards[i], *y = &b->u.clock.shards[i];
            same = strcmp(x->org, y->org) == 0 && x->size == y->size &&
                   memcmp(x->root, y->root, CRY_HASH_LEN) == 0 && !x->note == !y->note &&
                   x->note_len == y->note_len &&
                   (!x->note || memcmp(x->note, y->note, x->note_len) == 0);
        }
        break;
    case PROTO_WIRE_CONS_REQ:
        same = strcmp(a->u.cons_req.org, b->u.cons_req.org) == 0 &&
               a->u.cons_req.old == b->u.cons_req.old &&
               a->u.cons_req.new_size == b->u.cons_req.new_size;
        break;
    case PROTO_WIRE_CONS:
        same = strcmp(a->u.cons.org, b->u.cons.org) == 0 && a->u.cons.old == b->u.cons.old &&
               a->u.cons.new_size == b->u.cons.new_size &&
               memcmp(a->u.cons.root, b->u.cons.root, CRY_HASH_LEN) == 0 &&
               a->u.cons.n_path == b->u.cons.n_path &&
               (a->u.cons.n_path == 0 ||
                memcmp(a->u.cons.path, b->u.cons.path, a->u.cons.n_path * CRY_HASH_LEN) == 0);
        break;
    case PROTO_WIRE_RANGE_REQ:
        same = strcmp(a->u.range_req.org, b->u.range_req.org) == 0 &&
               a->u.range_req.from == b->u.range_req.from &&
               a->u.range_req.limit == b->u.range_req.limit;
        break;
    case PROTO_WIRE_RECORDS:
        same = strcmp(a->u.records.org, b->u.records.org) == 0 &&
               a->u.records.from == b->u.records.from && a->u.records.last == b->u.records.last &&
               recs_eq(a->u.records.recs, a->u.records.n_recs, b->u.records.recs,
                       b->u.records.n_recs);
        break;
    case PROTO_WIRE_PUSH:
        same = recs_eq(a->u.push.recs, a->u.push.n_recs, b->u.push.recs, b->u.push.n_recs);
        break;
    case PROTO_WIRE_ANNOUNCE:
        same = strcmp(a->u.announce.org, b->u.announce.org) == 0 &&
               a->u.announce.size == b->u.announce.size;
        break;
    case PROTO_WIRE_FORK:
        same = strcmp(a->u.fork.org, b->u.fork.org) == 0 && a->u.fork.at == b->u.fork.at &&
               a->u.fork.kind == b->u.fork.kind && bin_eq(a->u.fork.a, b->u.fork.a) &&
               bin_eq(a->u.fork.b, b->u.fork.b);
        break;
    case PROTO_WIRE_ROOT_REQ:
        same = strcmp(a->u.root_req.org, b->u.root_req.org) == 0 &&
               a->u.root_req.size == b->u.root_req.size;
        break;
    case PROTO_WIRE_ROOT:
        same = strcmp(a->u.root.org, b->u.root.org) == 0 && a->u.root.size == b->u.root.size &&
               a->u.root.has_root == b->u.root.has_root &&
               (!a->u.root.has_root ||
                memcmp(a->u.root.root, b->u.root.root, CRY_HASH_LEN) == 0);
        break;
    case PROTO_WIRE_PING:
    case PROTO_WIRE_PONG:
    case PROTO_WIRE_PRUNE:
        break;
    case PROTO_WIRE_ERROR:
        same = text_eq(a->u.error.msg, b->u.error.msg);
        break;
    }
    if (!same) {
        print_error("%s: the decoded body differs from the encoded one\n", name);
        fail();
    }
}

/* ---- round trips ------------------------------------------------------------------------ */

static void test_roundtrip_every_message(void **state)
{
    (void)state;
    for (int id = 0; id < S_COUNT; id++) {
        struct sample s;
        struct packed a, b;
        struct proto_msg m;
        struct proto_wire_msg w;
        uint8_t want[512];
        size_t want_len = pt_hex(want, sizeof want, sample_hex[id]);
        char err[256] = "";

        sample(&s, id);
        encode_ok(&s.w, &a);
        if (a.sb.size != want_len || memcmp(a.sb.data, want, want_len) != 0) {
            print_error("%s (sample %d): %zu bytes, not the %zu msgpack gives\n",
                        proto_wire_name(s.w.type), id, a.sb.size, want_len);
            fail();
        }
        EXPECT_RC(decode_bytes(a.sb.data, a.sb.size, &m, &w, err, sizeof err), 0, err,
                  "decode %s", proto_wire_name(s.w.type));
        expect_same(&s.w, &w);
        encode_ok(&w, &b);
        assert_int_equal(b.sb.size, a.sb.size);
        assert_memory_equal(b.sb.data, a.sb.data, a.sb.size);
        proto_wire_release(&w);
        proto_msg_release(&m);
        packed_release(&a);
        packed_release(&b);
    }
}

/* Limits are inclusive: a body right at each one is fine. */
static void test_roundtrip_at_limits(void **state)
{
    static uint8_t big[PROTO_WIRE_BIN_MAX], path[PROTO_WIRE_PATH_MAX][CRY_HASH_LEN];
    static char note[PROTO_WIRE_NOTE_MAX], text[PROTO_WIRE_ERROR_MAX], feat[PROTO_WIRE_FEATURE_MAX];
    static struct proto_wire_shard shards[PROTO_WIRE_CLOCK_MAX];
    struct proto_wire_text features[PROTO_WIRE_FEATURES_MAX];
    struct proto_wire_bin recs[2];
    struct proto_wire_msg cases[7];
    char org[PROTO_ID_MAX + 1];
    (void)state;

    memset(big, 0x5a, sizeof big);
    memset(note, 'n', sizeof note);
    memset(text, 't', sizeof text);
    memset(feat, 'f', sizeof feat);
    memset(org, 'o', PROTO_ID_MAX);
    org[PROTO_ID_MAX] = '\0';
    for (size_t i = 0; i < PROTO_WIRE_PATH_MAX; i++)
        memset(path[i], (int)i, CRY_HASH_LEN);
    for (size_t i = 0; i < PROTO_WIRE_CLOCK_MAX; i++) {
        snprintf(shards[i].org, sizeof shards[i].org, "org%zu", i);
        shards[i].size = i == 0 ? UINT64_MAX : i;
        memset(shards[i].root, (int)i, CRY_HASH_LEN);
        if (i == 0) {
            shards[i].note = note;
            shards[i].note_len = 100; /* all 100 with 4 KiB notes would not fit a frame */
        }
    }
    for (size_t i = 0; i < PROTO_WIRE_FEATURES_MAX; i++)
        features[i] = (struct proto_wire_text){feat, i + 1 < PROTO_WIRE_FEATURES_MAX ? 1 : sizeof feat};
    recs[0] = (struct proto_wire_bin){big, sizeof big};
    recs[1] = (struct proto_wire_bin){big, 1};

    proto_wire_init(&cases[0], PROTO_WIRE_HELLO, INT64_MAX);
    memcpy(cases[0].u.hello.org, org, sizeof org);
    cases[0].u.hello.features = features;
    cases[0].u.hello.n_features = PROTO_WIRE_FEATURES_MAX;
    proto_wire_init(&cases[1], PROTO_WIRE_CLOCK, INT64_MIN);
    cases[1].u.clock.shards = shards;
    cases[1].u.clock.n_shards = PROTO_WIRE_CLOCK_MAX;
    proto_wire_init(&cases[2], PROTO_WIRE_CONS, 0);
    strcpy(cases[2].u.cons.org, "a");
    cases[2].u.cons.path = (const uint8_t(*)[CRY_HASH_LEN])path;
    cases[2].u.cons.n_path = PROTO_WIRE_PATH_MAX;
    proto_wire_init(&cases[3], PROTO_WIRE_RANGE_REQ, 0);
    strcpy(cases[3].u.range_req.org, "0");
    cases[3].u.range_req.from = UINT64_MAX - PROTO_WIRE_RANGE_MAX;
    cases[3].u.range_req.limit = PROTO_WIRE_RANGE_MAX;
    proto_wire_init(&cases[4], PROTO_WIRE_PUSH, 0);
    cases[4].u.push.recs = recs;
    cases[4].u.push.n_recs = 2;
    proto_wire_init(&cases[5], PROTO_WIRE_ERROR, 0);
    cases[5].u.error.msg = (struct proto_wire_text){text, sizeof text};
    proto_wire_init(&cases[6], PROTO_WIRE_FORK, 0);
    strcpy(cases[6].u.fork.org, "z-9._");
    cases[6].u.fork.at = UINT64_MAX;
    cases[6].u.fork.kind = UINT64_MAX;
    cases[6].u.fork.a = recs[0];
    cases[6].u.fork.b = recs[1];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct packed a, b;
        struct proto_msg m;
        struct proto_wire_msg w;
        char err[256] = "";
        encode_ok(&cases[i], &a);
        assert_true(a.sb.size <= PROTO_WIRE_FRAME_MAX);
        EXPECT_RC(decode_bytes(a.sb.data, a.sb.size, &m, &w, err, sizeof err), 0, err,
                  "decode %s at its limits", proto_wire_name(cases[i].type));
        expect_same(&cases[i], &w);
        encode_ok(&w, &b);
        assert_int_equal(b.sb.size, a.sb.size);
        assert_memory_equal(b.sb.data, a.sb.data, a.sb.size);
        proto_wire_release(&w);
        proto_msg_release(&m);
        packed_release(&a);
        packed_release(&b);
    }
}

/* A frame packed with the smallest records there can be: the list is as long as the frame
 * allows, and decoding it allocates for no more. */
static void test_many_records_in_one_frame(void **state)
{
    static const uint8_t one = 0x42;
    size_t n = (PROTO_WIRE_FRAME_MAX - 16) / 3, got;
    struct proto_wire_bin *recs = calloc(n, sizeof *recs);
    struct proto_wire_msg w, d;
    struct packed a;
    struct proto_msg m;
    char err[256] = "";
    (void)state;

    assert_non_null(recs);
    for (size_t i = 0; i < n; i++)
        recs[i] = (struct proto_wire_bin){&one, 1};
    proto_wire_init(&w, PROTO_WIRE_PUSH, 0);
    w.u.push.recs = recs;
    w.u.push.n_recs = n;
    encode_ok(&w, &a);
    assert_true(a.sb.size <= PROTO_WIRE_FRAME_MAX);
    EXPECT_RC(decode_bytes(a.sb.data, a.sb.size, &m, &d, err, sizeof err), 0, err, "decode");
    got = d.u.push.n_recs;
    assert_int_equal(got, n);
    assert_int_equal(d.u.push.recs[n - 1].p[0], 0x42);
    proto_wire_release(&d);
    proto_msg_release(&m);
    packed_release(&a);
    free(recs);
}

/* ---- refusals ---------------------------------------------------------------------------- */

enum op {
    OP_SET,     /* the key's value replaced */
    OP_DROP,    /* the key left out */
    OP_DUP,     /* the key twice */
    OP_ADD,     /* an extra key */
    OP_ADD_INT, /* an extra key that is not text */
    OP_BODY,    /* the whole body replaced */
};

typedef void (*pack_fn)(msgpack_packer *pk);

static void pk_text(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str_with_body(pk, s, n);
}

static void pk_filled_bin(msgpack_packer *pk, size_t n, int c)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    memset(b, c, n);
    msgpack_pack_bin_with_body(pk, b, n);
    free(b);
}

static void pk_filled_str(msgpack_packer *pk, size_t n, int c)
{
    char *s = malloc(n ? n : 1);
    assert_non_null(s);
    memset(s, c, n);
    pk_text(pk, s, n);
    free(s);
}

static void v_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void v_true(msgpack_packer *pk) { msgpack_pack_true(pk); }
static void v_zero(msgpack_packer *pk) { msgpack_pack_uint64(pk, 0); }
static void v_two(msgpack_packer *pk) { msgpack_pack_uint64(pk, 2); }
static void v_neg(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void v_float(msgpack_packer *pk) { msgpack_pack_double(pk, 1.0); }
static void v_max(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT64_MAX); }
static void v_4097(msgpack_packer *pk) { msgpack_pack_uint64(pk, PROTO_WIRE_RANGE_MAX + 1); }
static void v_text(msgpack_packer *pk) { pk_text(pk, "acme", 4); }
static void v_empty_text(msgpack_packer *pk) { pk_text(pk, "", 0); }
static void v_upper(msgpack_packer *pk) { pk_text(pk, "Acme", 4); }
static void v_nul_id(msgpack_packer *pk) { pk_text(pk, "ac\0me", 5); }
static void v_long_id(msgpack_packer *pk) { pk_filled_str(pk, PROTO_ID_MAX + 1, 'a'); }
static void v_bin4(msgpack_packer *pk) { pk_filled_bin(pk, 4, 'a'); }
static void v_bin0(msgpack_packer *pk) { pk_filled_bin(pk, 0, 0); }
static void v_bin31(msgpack_packer *pk) { pk_filled_bin(pk, 31, 1); }
static void v_bin33(msgpack_packer *pk) { pk_filled_bin(pk, 33, 1); }
static void v_bin_big(msgpack_packer *pk) { pk_filled_bin(pk, PROTO_WIRE_BIN_MAX + 1, 1); }
static void v_empty_map(msgpack_packer *pk) { msgpack_pack_map(pk, 0); }
static void v_empty_array(msgpack_packer *pk) { msgpack_pack_array(pk, 0); }
static void v_long_error(msgpack_packer *pk) { pk_filled_str(pk, PROTO_WIRE_ERROR_MAX + 1, 'e'); }
static void v_bad_utf8(msgpack_packer *pk) { pk_text(pk, "bye \xff", 5); }
static void v_control(msgpack_packer *pk) { pk_text(pk, "bye \x1b[2J", 8); }
static void v_newline(msgpack_packer *pk) { pk_text(pk, "bye\n2025 forged log line", 24); }
static void v_del(msgpack_packer *pk) { pk_text(pk, "bye\x7f", 4); }

static void v_feature_tab(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pk_text(pk, "pu\tsh", 5);
}

static void v_features_many(msgpack_packer *pk)
{
    msgpack_pack_array(pk, PROTO_WIRE_FEATURES_MAX + 1);
    for (int i = 0; i <= PROTO_WIRE_FEATURES_MAX; i++)
        pk_text(pk, "push", 4);
}

static void v_feature_long(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_text(pk, "push", 4);
    pk_filled_str(pk, PROTO_WIRE_FEATURE_MAX + 1, 'f');
}

static void v_feature_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pk_filled_bin(pk, 4, 'p');
}

static void v_feature_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pk_text(pk, "", 0);
}

/* CLOCK entries: [org, size, root, note] with one part wrong. */
static void clock_entry(msgpack_packer *pk, pack_fn org, pack_fn size, pack_fn root, pack_fn note)
{
    msgpack_pack_array(pk, 4);
    (org ? org : v_text)(pk);
    (size ? size : v_two)(pk);
    if (root)
        root(pk);
    else
        pk_filled_bin(pk, 32, 7);
    (note ? note : v_nil)(pk);
}

static void v_clock_many(msgpack_packer *pk)
{
    msgpack_pack_array(pk, PROTO_WIRE_CLOCK_MAX + 1);
    for (int i = 0; i <= PROTO_WIRE_CLOCK_MAX; i++)
        clock_entry(pk, NULL, NULL, NULL, NULL);
}

static void v_clock_root31(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    clock_entry(pk, NULL, NULL, NULL, NULL);
    clock_entry(pk, NULL, NULL, v_bin31, NULL);
}

static void v_clock_root_text(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    clock_entry(pk, NULL, NULL, v_text, NULL);
}

static void v_clock_bad_org(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    clock_entry(pk, v_upper, NULL, NULL, NULL);
}

static void v_clock_neg_size(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    clock_entry(pk, NULL, v_neg, NULL, NULL);
}

static void v_note_big(msgpack_packer *pk) { pk_filled_str(pk, PROTO_WIRE_NOTE_MAX + 1, 'n'); }

static void v_clock_note_big(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    clock_entry(pk, NULL, NULL, NULL, v_note_big);
}

static void v_clock_note_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    clock_entry(pk, NULL, NULL, NULL, v_empty_text);
}

static void v_clock_note_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    clock_entry(pk, NULL, NULL, NULL, v_bin4);
}

static void v_clock_three(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    v_text(pk);
    v_two(pk);
    pk_filled_bin(pk, 32, 7);
}

static void v_clock_not_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    v_text(pk);
}

static void v_path_many(msgpack_packer *pk)
{
    msgpack_pack_array(pk, PROTO_WIRE_PATH_MAX + 1);
    for (int i = 0; i <= PROTO_WIRE_PATH_MAX; i++)
        pk_filled_bin(pk, 32, i);
}

static void v_path_short(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_filled_bin(pk, 32, 1);
    pk_filled_bin(pk, 31, 2);
}

static void v_recs_empty_entry(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_filled_bin(pk, 3, 1);
    pk_filled_bin(pk, 0, 0);
}

static void v_recs_big(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    v_bin_big(pk);
}

static void v_recs_text(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    v_text(pk);
}

struct refusal {
    enum sample_id sample;
    enum op op;
    const char *key;
    pack_fn value;
    const char *reason; /* what err must contain */
};

static const struct refusal refusals[] = {
    /* bodies */
    {S_HELLO, OP_BODY, NULL, v_nil, "malformed HELLO: the body is not a map"},
    {S_CLOCK, OP_BODY, NULL, v_empty_array, "malformed CLOCK: the body is not a map"},
    {S_PING, OP_BODY, NULL, v_nil, "malformed PING: the body is not a map"},
    {S_PONG, OP_BODY, NULL, v_text, "malformed PONG: the body is not a map"},
    {S_FORK, OP_ADD_INT, NULL, v_nil, "malformed FORK: a key is not text"},
    {S_PING, OP_ADD_INT, NULL, v_nil, "malformed PING: a key is not text"},
    {S_ROOT_REQ, OP_DUP, "org", NULL, "malformed ROOT_REQ: key 'org' appears twice"},
    {S_RECORDS, OP_DUP, "recs", NULL, "malformed RECORDS: key 'recs' appears twice"},
    /* HELLO */
    {S_HELLO, OP_DROP, "v", NULL, "malformed HELLO: no 'v'"},
    {S_HELLO, OP_DROP, "org", NULL, "malformed HELLO: no 'org'"},
    {S_HELLO, OP_DROP, "features", NULL, "malformed HELLO: no 'features'"},
    {S_HELLO, OP_SET, "v", v_two, "speaks protocol version 2, not 1"},
    {S_HELLO, OP_SET, "v", v_neg, "v is not an unsigned integer"},
    {S_HELLO, OP_SET, "v", v_float, "v is not an unsigned integer"},
    {S_HELLO, OP_SET, "org", v_long_id, "org is not an org id"},
    {S_HELLO, OP_SET, "org", v_upper, "org is not an org id"},
    {S_HELLO, OP_SET, "org", v_empty_text, "org is not an org id"},
    {S_HELLO, OP_SET, "org", v_nul_id, "org is not an org id"},
    {S_HELLO, OP_SET, "org", v_bin4, "org is not an org id"},
    {S_HELLO, OP_SET, "features", v_text, "features is not an array"},
    {S_HELLO, OP_SET, "features", v_features_many, "features has 17 entries, over the limit of 16"},
    {S_HELLO, OP_SET, "features", v_feature_long, "features[1] is not 1..64 bytes of text"},
    {S_HELLO, OP_SET, "features", v_feature_bin, "features[0] is not"},
    {S_HELLO, OP_SET, "features", v_feature_empty, "features[0] is not"},
    {S_HELLO, OP_SET, "features", v_feature_tab, "features[0] is not"},
    /* CLOCK */
    {S_CLOCK, OP_DROP, "shards", NULL, "malformed CLOCK: no 'shards'"},
    {S_CLOCK, OP_SET, "shards", v_empty_map, "shards is not an array"},
    {S_CLOCK, OP_SET, "shards", v_clock_many, "shards has 101 entries, over the limit of 100"},
    {S_CLOCK, OP_SET, "shards", v_clock_root31, "shards[1] root is 31 bytes, not 32"},
    {S_CLOCK, OP_SET, "shards", v_clock_root_text, "shards[0] root is not binary"},
    {S_CLOCK, OP_SET, "shards", v_clock_bad_org, "shards[0] org is not an org id"},
    {S_CLOCK, OP_SET, "shards", v_clock_neg_size, "shards[0] size is not an unsigned integer"},
    {S_CLOCK, OP_SET, "shards", v_clock_note_big, "shards[0] note is neither nil nor"},
    {S_CLOCK, OP_SET, "shards", v_clock_note_empty, "shards[0] note is neither nil nor"},
    {S_CLOCK, OP_SET, "shards", v_clock_note_bin, "shards[0] note is neither nil nor"},
    {S_CLOCK, OP_SET, "shards", v_clock_three, "shards[0] is not [org, size, root, note]"},
    {S_CLOCK, OP_SET, "shards", v_clock_not_array, "shards[0] is not [org, size, root, note]"},
    /* CONS_REQ, CONS */
    {S_CONS_REQ, OP_DROP, "new", NULL, "malformed CONS_REQ: no 'new'"},
    {S_CONS_REQ, OP_SET, "old", v_text, "old is not an unsigned integer"},
    {S_CONS_REQ, OP_SET, "org", v_nil, "org is not an org id"},
    {S_CONS, OP_DROP, "root", NULL, "malformed CONS: no 'root'"},
    {S_CONS, OP_SET, "root", v_bin31, "root is 31 bytes, not 32"},
    {S_CONS, OP_SET, "root", v_bin33, "root is 33 bytes, not 32"},
    {S_CONS, OP_SET, "root", v_nil, "root is not binary"},
    {S_CONS, OP_SET, "path", v_path_many, "path has 131 entries, over the limit of 130"},
    {S_CONS, OP_SET, "path", v_path_short, "path[1] is 31 bytes, not 32"},
    {S_CONS, OP_SET, "path", v_bin4, "path is not an array"},
    {S_CONS, OP_SET, "new", v_neg, "new is not an unsigned integer"},
    /* RANGE_REQ */
    {S_RANGE_REQ, OP_SET, "limit", v_zero, "limit 0 is not 1..4096"},
    {S_RANGE_REQ, OP_SET, "limit", v_4097, "limit 4097 is not 1..4096"},
    {S_RANGE_REQ, OP_SET, "from", v_max, "from + limit is past the largest position"},
    {S_RANGE_REQ, OP_DROP, "limit", NULL, "malformed RANGE_REQ: no 'limit'"},
    /* RECORDS, PUSH */
    {S_RECORDS, OP_DROP, "from", NULL, "malformed RECORDS: no 'from'"},
    {S_RECORDS, OP_DROP, "last", NULL, "malformed RECORDS: no 'last'"},
    {S_RECORDS, OP_SET, "last", v_nil, "last is not a boolean"},
    {S_RECORDS, OP_SET, "recs", v_empty_map, "recs is not an array"},
    {S_RECORDS, OP_SET, "recs", v_recs_empty_entry, "recs[1] is 0 bytes, not 1..16384"},
    {S_RECORDS, OP_SET, "recs", v_recs_big, "recs[0] is 16385 bytes, not 1..16384"},
    {S_RECORDS, OP_SET, "recs", v_recs_text, "recs[0] is not binary"},
    {S_PUSH, OP_DROP, "recs", NULL, "malformed PUSH: no 'recs'"},
    {S_PUSH, OP_SET, "recs", v_recs_empty_entry, "malformed PUSH: recs[1] is 0 bytes"},
    {S_PUSH, OP_SET, "recs", v_bin4, "malformed PUSH: recs is not an array"},
    /* ANNOUNCE, ROOT_REQ, ROOT */
    {S_ANNOUNCE, OP_DROP, "size", NULL, "malformed ANNOUNCE: no 'size'"},
    {S_ANNOUNCE, OP_SET, "org", v_long_id, "malformed ANNOUNCE: org is not an org id"},
    {S_ROOT_REQ, OP_SET, "size", v_text, "malformed ROOT_REQ: size is not an unsigned integer"},
    {S_ROOT, OP_DROP, "root", NULL, "malformed ROOT: no 'root'"},
    {S_ROOT, OP_SET, "root", v_bin31, "malformed ROOT: root is 31 bytes, not 32"},
    {S_ROOT, OP_SET, "root", v_true, "malformed ROOT: root is not binary"},
    /* FORK */
    {S_FORK, OP_SET, "a", v_bin0, "malformed FORK: a is 0 bytes, not 1..16384"},
    {S_FORK, OP_SET, "b", v_bin_big, "malformed FORK: b is 16385 bytes, not 1..16384"},
    {S_FORK, OP_SET, "b", v_text, "malformed FORK: b is not binary"},
    {S_FORK, OP_SET, "kind", v_neg, "malformed FORK: kind is not an unsigned integer"},
    {S_FORK, OP_DROP, "at", NULL, "malformed FORK: no 'at'"},
    /* ERROR */
    {S_ERROR, OP_DROP, "msg", NULL, "malformed ERROR: no 'msg'"},
    {S_ERROR, OP_SET, "msg", v_long_error, "malformed ERROR: msg is not text (one line, at most 1024 bytes)"},
    {S_ERROR, OP_SET, "msg", v_bad_utf8, "malformed ERROR: msg is not text"},
    {S_ERROR, OP_SET, "msg", v_control, "malformed ERROR: msg is not text"},
    {S_ERROR, OP_SET, "msg", v_newline, "malformed ERROR: msg is not text"},
    {S_ERROR, OP_SET, "msg", v_del, "malformed ERROR: msg is not text"},
    {S_ERROR, OP_SET, "msg", v_bin4, "malformed ERROR: msg is not text"},
};

/* The sample's message with its body changed by op; returns what decoding it gives. */
static int decode_changed(enum sample_id id, enum op op, const char *key, pack_fn value,
                          char *err, size_t errlen)
{
    struct sample s;
    struct packed a, b;
    struct proto_msg m, m2;
    struct proto_wire_msg w;
    const msgpack_object *body;
    uint32_t n;
    int rc;

    sample(&s, id);
    encode_ok(&s.w, &a);
    assert_int_equal(proto_msg_decode((const uint8_t *)a.sb.data, a.sb.size, &m, err, errlen), 0);
    body = m.body;
    assert_int_equal(body->type, MSGPACK_OBJECT_MAP);
    n = body->via.map.size;
    packed_init(&b);
    proto_msg_begin(&b.pk, m.type, m.req_id);
    if (op == OP_BODY) {
        value(&b.pk);
    } else {
        bool found = false;
        msgpack_pack_map(&b.pk, op == OP_DROP ? n - 1 : op == OP_SET ? n : n + 1);
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object_kv *kv = &body->via.map.ptr[i];
            bool match = key && proto_msg_str_eq(&kv->key, key);
            found |= match;
            if (match && op == OP_DROP)
                continue;
            msgpack_pack_object(&b.pk, kv->key);
            if (match && op == OP_SET)
                value(&b.pk);
            else
                msgpack_pack_object(&b.pk, kv->val);
            if (match && op == OP_DUP) {
                msgpack_pack_object(&b.pk, kv->key);
                msgpack_pack_object(&b.pk, kv->val);
            }
        }
        if (op == OP_ADD) {
            pk_text(&b.pk, key, strlen(key));
            value(&b.pk);
        } else if (op == OP_ADD_INT) {
            msgpack_pack_uint64(&b.pk, 1);
            value(&b.pk);
        } else {
            assert_true(found); /* the table names a key the sample has */
        }
    }
    rc = decode_bytes(b.sb.data, b.sb.size, &m2, &w, err, errlen);
    if (rc == 0) {
        proto_wire_release(&w);
        proto_msg_release(&m2);
    }
    proto_msg_release(&m);
    packed_release(&a);
    packed_release(&b);
    return rc;
}

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        char err[256] = "";
        EXPECT_RC(decode_changed(r->sample, r->op, r->key, r->value, err, sizeof err),
                  TN_ERR_INVALID, err, "refusal %zu (%s)", i, r->reason);
        EXPECT_CONTAINS(err, r->reason, "refusal %zu", i);
    }
}

/* Keys a later version may add are ignored, whatever their value. */
static void test_unknown_keys_ignored(void **state)
{
    (void)state;
    for (int id = 0; id < S_COUNT; id++) {
        char err[256] = "";
        EXPECT_RC(decode_changed(id, OP_ADD, "zz-later", v_clock_many, err, sizeof err), 0, err,
                  "sample %d with an unknown key", id);
        EXPECT_RC(decode_changed(id, OP_ADD, "", v_nil, err, sizeof err), 0, err,
                  "sample %d with an empty key", id);
    }
}

static void test_unknown_type(void **state)
{
    struct packed a;
    struct proto_msg m;
    struct proto_wire_msg w;
    char err[256] = "";
    (void)state;

    assert_false(proto_wire_known(1000));
    assert_false(proto_wire_known(1));
    assert_false(proto_wire_known(0));
    assert_string_equal(proto_wire_name(1000), "unknown");
    assert_string_equal(proto_wire_name(PROTO_WIRE_ANNOUNCE), "ANNOUNCE");
    packed_init(&a);
    proto_msg_begin(&a.pk, 1000, 0);
    msgpack_pack_map(&a.pk, 0);
    assert_int_equal(proto_msg_decode((const uint8_t *)a.sb.data, a.sb.size, &m, err, sizeof err), 0);
    EXPECT_RC(proto_wire_decode(&m, &w, err, sizeof err), TN_ERR_INVALID, err, "type 1000");
    EXPECT_CONTAINS(err, "unknown message type 1000", "type 1000");
    proto_msg_release(&m);
    packed_release(&a);
}

/* ---- the encoder keeps the decoder's rules ------------------------------------------------ */

static void test_encoder_refusals(void **state)
{
    static uint8_t big[PROTO_WIRE_BIN_MAX + 1];
    static const uint8_t path[PROTO_WIRE_PATH_MAX + 1][CRY_HASH_LEN];
    static struct proto_wire_shard shards[PROTO_WIRE_CLOCK_MAX + 1];
    static char long_text[PROTO_WIRE_ERROR_MAX + 1];
    struct proto_wire_text features[PROTO_WIRE_FEATURES_MAX + 1];
    struct proto_wire_msg bad[16];
    size_t n = 0;
    (void)state;

    for (size_t i = 0; i <= PROTO_WIRE_FEATURES_MAX; i++)
        features[i] = (struct proto_wire_text){"push", 4};
    for (size_t i = 0; i <= PROTO_WIRE_CLOCK_MAX; i++)
        strcpy(shards[i].org, "acme");
    memset(long_text, 'x', sizeof long_text);

    proto_wire_init(&bad[n++], PROTO_WIRE_ANNOUNCE, 0); /* no org */
    proto_wire_init(&bad[n], PROTO_WIRE_ROOT_REQ, 0);
    strcpy(bad[n++].u.root_req.org, "Acme");
    proto_wire_init(&bad[n], PROTO_WIRE_HELLO, 0);
    strcpy(bad[n].u.hello.org, "acme");
    bad[n].u.hello.features = features;
    bad[n++].u.hello.n_features = PROTO_WIRE_FEATURES_MAX + 1;
    proto_wire_init(&bad[n], PROTO_WIRE_CLOCK, 0);
    bad[n].u.clock.shards = shards;
    bad[n++].u.clock.n_shards = PROTO_WIRE_CLOCK_MAX + 1;
    proto_wire_init(&bad[n], PROTO_WIRE_CLOCK, 0);
    bad[n].u.clock.shards = shards;
    shards[PROTO_WIRE_CLOCK_MAX].note = "";
    bad[n].u.clock.shards = &shards[PROTO_WIRE_CLOCK_MAX]; /* a note of 0 bytes */
    bad[n++].u.clock.n_shards = 1;
    proto_wire_init(&bad[n], PROTO_WIRE_CONS, 0);
    strcpy(bad[n].u.cons.org, "acme");
    bad[n].u.cons.path = path;
    bad[n++].u.cons.n_path = PROTO_WIRE_PATH_MAX + 1;
    proto_wire_init(&bad[n], PROTO_WIRE_RANGE_REQ, 0);
    strcpy(bad[n++].u.range_req.org, "acme"); /* limit 0 */
    proto_wire_init(&bad[n], PROTO_WIRE_RANGE_REQ, 0);
    strcpy(bad[n].u.range_req.org, "acme");
    bad[n].u.range_req.limit = PROTO_WIRE_RANGE_MAX + 1;
    n++;
    proto_wire_init(&bad[n], PROTO_WIRE_PUSH, 0);
    bad[n++].u.push.n_recs = 1; /* no array */
    proto_wire_init(&bad[n], PROTO_WIRE_RECORDS, 0);
    strcpy(bad[n].u.records.org, "acme");
    bad[n].u.records.recs = &(const struct proto_wire_bin){big, sizeof big};
    bad[n++].u.records.n_recs = 1;
    proto_wire_init(&bad[n], PROTO_WIRE_FORK, 0);
    strcpy(bad[n].u.fork.org, "acme");
    bad[n].u.fork.a = (struct proto_wire_bin){big, 1};
    n++; /* b empty */
    proto_wire_init(&bad[n], PROTO_WIRE_ERROR, 0);
    bad[n++].u.error.msg = (struct proto_wire_text){long_text, sizeof long_text};
    proto_wire_init(&bad[n], PROTO_WIRE_ERROR, 0);
    bad[n++].u.error.msg = (struct proto_wire_text){"\xc0\x80", 2}; /* overlong NUL */
    proto_wire_init(&bad[n++], (enum proto_wire_type)1000, 0);

    for (size_t i = 0; i < n; i++) {
        struct packed a;
        packed_init(&a);
        EXPECT_RC(proto_wire_encode(&a.pk, &bad[i]), TN_ERR_INVALID, "", "bad message %zu (%s)",
                  i, proto_wire_name(bad[i].type));
        assert_int_equal(a.sb.size, 0); /* nothing packed */
        packed_release(&a);
    }
}

/* ---- handshake payload --------------------------------------------------------------------- */

static void test_hs_payload(void **state)
{
    struct cry_keypair a, b;
    uint8_t payload[PROTO_WIRE_HS_PAYLOAD + 1], rs_a[32], rs_b[32], got[CRY_PK_LEN];
    char why[200] = "";
    (void)state;

    assert_int_equal(cry_init(), 0);
    assert_int_equal(cry_keypair_generate(&a), 0);
    assert_int_equal(cry_keypair_generate(&b), 0);
    assert_int_equal(cry_noise_static_pk(rs_a, a.pk), 0);
    assert_int_equal(cry_noise_static_pk(rs_b, b.pk), 0);

    proto_wire_hs_payload(payload, a.pk);
    assert_int_equal(payload[0], PROTO_WIRE_VERSION);
    assert_memory_equal(payload + 1, a.pk, CRY_PK_LEN);
    EXPECT_RC(proto_wire_hs_check(payload, PROTO_WIRE_HS_PAYLOAD, rs_a, got, why, sizeof why), 0,
              why, "a's payload with a's static key");
    assert_memory_equal(got, a.pk, CRY_PK_LEN);

    /* another key than the handshake authenticated */
    memset(got, 0, sizeof got);
    EXPECT_RC(proto_wire_hs_check(payload, PROTO_WIRE_HS_PAYLOAD, rs_b, got, why, sizeof why),
              TN_ERR_BAD_SIGNATURE, why, "a's payload with b's static key");
    EXPECT_CONTAINS(why, "is not the key the handshake authenticated", "a's payload, b's key");
    assert_memory_equal(got, (uint8_t[CRY_PK_LEN]){0}, CRY_PK_LEN); /* nothing handed out */

    /* sizes and versions */
    EXPECT_RC(proto_wire_hs_check(payload, PROTO_WIRE_HS_PAYLOAD - 1, rs_a, got, why, sizeof why),
              TN_ERR_INVALID, why, "32 bytes");
    EXPECT_CONTAINS(why, "not tracenode protocol version 1", "32 bytes");
    payload[PROTO_WIRE_HS_PAYLOAD] = 0;
    EXPECT_RC(proto_wire_hs_check(payload, PROTO_WIRE_HS_PAYLOAD + 1, rs_a, got, why, sizeof why),
              TN_ERR_INVALID, why, "34 bytes");
    EXPECT_RC(proto_wire_hs_check(payload, 0, rs_a, got, why, sizeof why), TN_ERR_INVALID, why,
              "empty");
    payload[0] = 2;
    EXPECT_RC(proto_wire_hs_check(payload, PROTO_WIRE_HS_PAYLOAD, rs_a, got, why, sizeof why),
              TN_ERR_INVALID, why, "version 2");

    /* other bytes: not a usable point, or the identity (small order) */
    payload[0] = PROTO_WIRE_VERSION;
    memset(payload + 1, 0, CRY_PK_LEN);
    payload[1] = 2;
    EXPECT_RC(proto_wire_hs_check(payload, PROTO_WIRE_HS_PAYLOAD, rs_a, got, why, sizeof why),
              TN_ERR_BAD_SIGNATURE, why, "not a point");
    memset(payload + 1, 0, CRY_PK_LEN);
    payload[1] = 1; /* the identity */
    EXPECT_RC(proto_wire_hs_check(payload, PROTO_WIRE_HS_PAYLOAD, rs_a, got, why, sizeof why),
              TN_ERR_BAD_SIGNATURE, why, "identity point");
    cry_keypair_release(&a);
    cry_keypair_release(&b);
}

/* ---- frames -------------------------------------------------------------------------------- */

static void test_frame_peek(void **state)
{
    uint8_t buf[16] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0};
    size_t len = 99;
    bool whole = true;
    (void)state;

    for (size_t have = 0; have < PROTO_FRAME_HDR; have++) {
        assert_int_equal(proto_frame_peek(buf, have, 100, &len, &whole), 0);
        assert_false(whole);
    }
    for (size_t have = PROTO_FRAME_HDR; have < 9; have++) {
        assert_int_equal(proto_frame_peek(buf, have, 100, &len, &whole), 0);
        assert_int_equal(len, 5);
        assert_false(whole);
    }
    assert_int_equal(proto_frame_peek(buf, 9, 100, &len, &whole), 0);
    assert_true(whole);
    assert_int_equal(proto_frame_peek(buf, 11, 5, &len, &whole), 0); /* max is inclusive */
    assert_true(whole);
    assert_int_equal(proto_frame_peek(buf, 4, 4, &len, &whole), TN_ERR_TOO_BIG);
    /* an empty frame is whole at once */
    memset(buf, 0, 4);
    assert_int_equal(proto_frame_peek(buf, 4, 0, &len, &whole), 0);
    assert_int_equal(len, 0);
    assert_true(whole);
    /* the largest prefix, refused from the prefix alone */
    memset(buf, 0xff, 4);
    assert_int_equal(proto_frame_peek(buf, 4, PROTO_WIRE_FRAME_MAX + 16, &len, &whole),
                     TN_ERR_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_message),
        cmocka_unit_test(test_roundtrip_at_limits),
        cmocka_unit_test(test_many_records_in_one_frame),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_encoder_refusals),
        cmocka_unit_test(test_hs_payload),
        cmocka_unit_test(test_frame_peek),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
