/* storage/shard.c and storage/index.c: the append path (group commit, chains across
 * transactions, idempotent duplicates, every refusal of store_append() and its documented
 * order), reading records back, the item / consumer / event-id indexes and local
 * secrets. */
#include "fixture.h"

/* One appended record as the test remembers it. */
struct kept {
    uint8_t bytes[1024];
    size_t len;
    uint8_t id[PROTO_ID_LEN];
};

/* Appends n commissions continuing c (one item each, "urn:test:<org>:<seq>"), keeping them
 * in out[0..n). */
static void add_many(struct store_txn *t, const struct fx *f, struct fx_chain *c, struct kept *out,
                     int n)
{
    char item[64];

    for (int i = 0; i < n; i++) {
        snprintf(item, sizeof item, "urn:test:%s:%" PRIu64, c->org, c->seq);
        out[i].len = fx_commission(c, item, out[i].bytes);
        assert_true(out[i].len <= sizeof out[i].bytes);
        fx_append_ok(t, f, out[i].bytes, out[i].len, out[i].id);
        fx_chain_next(c, out[i].id);
    }
}

/* Every kept record is in org's shard at its position, byte-exact, hashing to its id. */
static void check_kept(struct store_txn *t, const char *org, const struct kept *k, uint64_t n)
{
    uint8_t id[PROTO_ID_LEN], h[HL];
    const uint8_t *bytes;
    size_t len;

    fx_expect_shard(t, org, n, n ? k[n - 1].id : NULL);
    for (uint64_t i = 0; i < n; i++) {
        EXPECT_RC(store_record_at(t, org, i, id), 0, "record_at(%s, %" PRIu64 ")", org, i);
        EXPECT_HASH(id, k[i].id, "id of %s seq %" PRIu64, org, i);
        assert_true(store_has_record(t, id));
        EXPECT_RC(store_record_get(t, id, &bytes, &len), 0, "record_get %" PRIu64, i);
        assert_int_equal(len, k[i].len);
        assert_memory_equal(bytes, k[i].bytes, len);
        crypto_hash_sha256(h, bytes, len); /* id = SHA-256 of the exact bytes */
        EXPECT_HASH(h, k[i].id, "SHA-256 of stored bytes of seq %" PRIu64, i);
    }
    EXPECT_RC(store_record_at(t, org, n, id), TN_ERR_NOT_FOUND, "record_at past the end");
    EXPECT_RC(store_record_at(t, org, UINT64_MAX, id), TN_ERR_NOT_FOUND, "record_at(max)");
}

/* --- the chain ---------------------------------------------------------------------------- */

static void test_group_commit(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct kept *k = calloc(64, sizeof *k);
    struct store_txn *t;
    struct store_shard s;
    uint8_t id[PROTO_ID_LEN], unknown[PROTO_ID_LEN];
    const uint8_t *bytes;
    size_t len;

    assert_non_null(k);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_shard_get(t, "mfr", &s), TN_ERR_NOT_FOUND, "no shard yet");
    EXPECT_RC(store_record_at(t, "mfr", 0, id), TN_ERR_NOT_FOUND, "record_at, no shard");
    store_txn_abort(t);

    /* One record alone, then 49 more, all in one write transaction. */
    t = fx_begin(f->repo, true);
    add_many(t, f, &c, k, 1);
    check_kept(t, "mfr", k, 1);
    add_many(t, f, &c, k + 1, 49);
    check_kept(t, "mfr", k, 50); /* a write transaction sees its own appends */
    fx_commit(t);

    t = fx_begin(f->repo, false);
    check_kept(t, "mfr", k, 50);
    memset(unknown, 0xab, sizeof unknown);
    assert_false(store_has_record(t, unknown));
    EXPECT_RC(store_record_get(t, unknown, &bytes, &len), TN_ERR_NOT_FOUND, "unknown id");
    EXPECT_RC(store_record_at(t, "asm", 0, id), TN_ERR_NOT_FOUND, "record_at, other org");
    store_txn_abort(t);

    /* Everything is still there after the environment is closed and reopened. */
    fx_reopen(f);
    t = fx_begin(f->repo, false);
    check_kept(t, "mfr", k, 50);
    store_txn_abort(t);
    free(k);
}

static void test_chain_across_txns(void **state)
{
    struct fx *f = *state;
    struct fx_chain m = fx_chain_of(f, ORG_MFR), a = fx_chain_of(f, ORG_CAR);
    struct kept *km = calloc(64, sizeof *km), *ka = calloc(64, sizeof *ka);
    struct store_txn *t;
    uint8_t buf[PROTO_RECORD_MAX];
    struct proto_record r;
    const char *items[1] = {"urn:test:crate"};
    int nm = 0, na = 0;

    assert_non_null(km);
    assert_non_null(ka);
    /* Ten transactions of 1..5 records for mfr, interleaved with a carrier's shard. */
    for (int i = 0; i < 10; i++) {
        int n = 1 + i % 5;
        t = fx_begin(f->repo, true);
        add_many(t, f, &m, km + nm, n);
        nm += n;
        fx_rec_init(&r, &a, PROTO_T_SHIP);
        r.items = items;
        r.n_items = 1;
        r.to = "op";
        ka[na].len = fx_sign(&r, a.kp, buf);
        memcpy(ka[na].bytes, buf, ka[na].len);
        fx_append_ok(t, f, ka[na].bytes, ka[na].len, ka[na].id);
        fx_chain_next(&a, ka[na].id);
        na++;
        fx_commit(t);
        if (i == 4)
            fx_reopen(f); /* the chain continues across a reopen too */
    }
    t = fx_begin(f->repo, false);
    check_kept(t, "mfr", km, (uint64_t)nm);
    check_kept(t, "car", ka, (uint64_t)na);
    store_txn_abort(t);
    fx_reopen(f);
    t = fx_begin(f->repo, false);
    check_kept(t, "mfr", km, (uint64_t)nm);
    check_kept(t, "car", ka, (uint64_t)na);
    store_txn_abort(t);
    free(km);
    free(ka);
}

struct item_hit {
    char role;
    uint8_t id[PROTO_ID_LEN];
};

struct item_list {
    int n, cap;
    int stop_at; /* return stop_rc on this call (1-based); 0: never */
    int stop_rc;
    struct item_hit *hits;
};

static int item_cb(void *ctx, char role, const uint8_t id[PROTO_ID_LEN])
{
    struct item_list *l = ctx;

    assert_true(l->n < l->cap);
    l->hits[l->n].role = role;
    memcpy(l->hits[l->n].id, id, PROTO_ID_LEN);
    l->n++;
    return l->n == l->stop_at ? l->stop_rc : 0;
}

static int count_item(struct store_txn *t, const char *item)
{
    struct item_hit hits[64];
    struct item_list l = {.cap = 64, .hits = hits};

    EXPECT_RC(store_item_each(t, item, item_cb, &l), 0, "item_each(%s)", item);
    return l.n;
}

static void test_duplicate_is_idempotent(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct kept k[4];
    struct store_txn *t;
    uint8_t id[PROTO_ID_LEN];
    bool appended;
    char err[256];
    struct proto_record dec;

    t = fx_begin(f->repo, true);
    add_many(t, f, &c, k, 3);
    /* Same bytes again in the same transaction: no error, nothing appended. */
    appended = true;
    memset(id, 0, sizeof id);
    EXPECT_RC(
        store_append(t, &f->eco, k[2].bytes, k[2].len, NULL, 0, id, &appended, err, sizeof err), 0,
        "duplicate of the head, same txn");
    assert_false(appended);
    EXPECT_HASH(id, k[2].id, "id of the duplicate");
    fx_expect_shard(t, "mfr", 3, k[2].id);
    fx_commit(t);

    /* In a later transaction, a duplicate of an old record (seq 0): still not a chain
     * error, since it is already stored. */
    t = fx_begin(f->repo, true);
    for (int i = 0; i < 3; i++) {
        appended = true;
        EXPECT_RC(
            store_append(t, &f->eco, k[i].bytes, k[i].len, NULL, 0, id, &appended, err, sizeof err),
            0, "duplicate of seq %d", i);
        assert_false(appended);
        EXPECT_HASH(id, k[i].id, "id of duplicate %d", i);
    }
    /* With a decoded form given and the signed-here flag: same answer. */
    proto_record_init(&dec);
    EXPECT_RC(proto_record_decode(k[1].bytes, k[1].len, &dec, err, sizeof err), 0, "decode");
    appended = true;
    EXPECT_RC(store_append(t, &f->eco, k[1].bytes, k[1].len, &dec, STORE_APPEND_VERIFIED, id,
                           &appended, err, sizeof err),
              0, "duplicate with rec given");
    assert_false(appended);
    proto_record_release(&dec);
    fx_expect_shard(t, "mfr", 3, k[2].id);
    /* The duplicates added no index entries. */
    assert_int_equal(count_item(t, "urn:test:mfr:0"), 1);
    assert_int_equal(count_item(t, "urn:test:mfr:2"), 1);
    /* And the chain goes on normally. */
    add_many(t, f, &c, k + 3, 1);
    fx_commit(t);

    t = fx_begin(f->repo, false);
    check_kept(t, "mfr", k, 4);
    store_txn_abort(t);
}

/* STORE_APPEND_ID_GIVEN (the writer's callers hold the id already): the record is stored
 * under the id given, as if store_append had hashed the bytes itself. */
static void test_append_id_given(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct kept k[2];
    struct store_txn *t;
    struct proto_record dec;
    bool appended = false;
    char err[256];

    t = fx_begin(f->repo, true);
    add_many(t, f, &c, k, 1);
    k[1].len = fx_commission(&c, "urn:test:mfr:given", k[1].bytes);
    proto_record_id(k[1].id, k[1].bytes, k[1].len);
    proto_record_init(&dec);
    EXPECT_RC(proto_record_decode(k[1].bytes, k[1].len, &dec, err, sizeof err), 0, "decode");
    EXPECT_RC(store_append(t, &f->eco, k[1].bytes, k[1].len, &dec,
                           STORE_APPEND_VERIFIED | STORE_APPEND_ID_GIVEN, k[1].id, &appended,
                           err, sizeof err),
              0, "append with the id given");
    assert_true(appended);
    proto_record_release(&dec);
    assert_int_equal(count_item(t, "urn:test:mfr:given"), 1);
    fx_commit(t);

    t = fx_begin(f->repo, false);
    check_kept(t, "mfr", k, 2); /* positions, bytes, and the bytes hash to the id */
    store_txn_abort(t);
}

/* --- refusals ----------------------------------------------------------------------------- */

/* store_append must fail with want, append nothing, say why, and leave org's shard at
 * (size, head) (size 0: the shard must not exist). */
static void refuse(struct store_txn *t, const struct fx *f, const uint8_t *bytes, size_t len,
                   const struct proto_record *given, unsigned flags, int want, const char *org,
                   uint64_t size, const uint8_t *head, const char *what)
{
    uint8_t id[PROTO_ID_LEN];
    char err[512] = "";
    bool appended = true;
    int rc = store_append(t, &f->eco, bytes, len, given, flags, id, &appended, err, sizeof err);

    EXPECT_RC(rc, want, "%s (err: %s)", what, err);
    assert_false(appended);
    if (err[0] == '\0') {
        print_error("%s: no reason given in err\n", what);
        fail();
    }
    if (len <= PROTO_RECORD_MAX) {
        uint8_t h[HL];
        crypto_hash_sha256(h, bytes, len);
        assert_false(store_has_record(t, h));
    }
    if (size == 0) {
        struct store_shard s;
        EXPECT_RC(store_shard_get(t, org, &s), TN_ERR_NOT_FOUND, "%s: no shard for %s", what, org);
    } else {
        fx_expect_shard(t, org, size, head);
    }
}

/* A commission in chain c's position with the given overrides, signed with kp. */
static size_t odd_commission(const struct fx_chain *c, const char *net, const char *org,
                             uint64_t seq, const uint8_t *prev, const char *item,
                             const struct cry_keypair *kp, uint8_t *out)
{
    struct proto_record r;
    const char *outs[1] = {item};

    fx_rec_init(&r, c, PROTO_T_COMMISSION);
    r.net = net;
    r.org = org;
    r.seq = seq;
    r.has_prev = prev != NULL;
    if (prev)
        memcpy(r.prev, prev, PROTO_ID_LEN);
    r.outputs = outs;
    r.n_outputs = 1;
    return fx_sign(&r, kp, out);
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR), op = fx_chain_of(f, ORG_OP);
    const struct cry_keypair *mk = &f->keys[ORG_MFR];
    struct kept k[4];
    struct store_txn *t;
    static uint8_t b[PROTO_RECORD_MAX + 64], good[PROTO_RECORD_MAX];
    uint8_t random_id[PROTO_ID_LEN], id[PROTO_ID_LEN];
    struct proto_record r, dec;
    const char *items[1] = {"urn:test:mfr:0"};
    char err[256];
    size_t len, good_len;

    t = fx_begin(f->repo, true);
    add_many(t, f, &c, k, 3);
    fx_commit(t);
    randombytes_buf(random_id, sizeof random_id);

    t = fx_begin(f->repo, true);
    /* seq: a gap, a replay of seq 1 and of seq 0 with other content. */
    len = odd_commission(&c, NET, "mfr", 4, k[2].id, "urn:test:gap", mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_CHAIN, "mfr", 3, k[2].id, "seq gap");
    len = odd_commission(&c, NET, "mfr", 1, k[0].id, "urn:test:replay", mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_CHAIN, "mfr", 3, k[2].id, "replay of seq 1");
    len = odd_commission(&c, NET, "mfr", 0, NULL, "urn:test:replay0", mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_CHAIN, "mfr", 3, k[2].id, "replay of seq 0");
    /* prev: the right seq after the wrong record, or after nothing we know. */
    len = odd_commission(&c, NET, "mfr", 3, k[1].id, "urn:test:prev", mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_CHAIN, "mfr", 3, k[2].id, "prev = seq 1");
    len = odd_commission(&c, NET, "mfr", 3, random_id, "urn:test:prev", mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_CHAIN, "mfr", 3, k[2].id, "prev = random");

    /* A bad signature: flip a byte of the 64-byte signature at the end; the bytes still
     * decode, only the signature fails. */
    good_len = odd_commission(&c, NET, "mfr", 3, k[2].id, "urn:test:mfr:3", mk, good);
    memcpy(b, good, good_len);
    b[good_len - 1] ^= 0x01;
    proto_record_init(&dec);
    EXPECT_RC(proto_record_decode(b, good_len, &dec, err, sizeof err), 0, "flipped sig decodes");
    assert_false(proto_record_verify(&dec, mk->pk));
    proto_record_release(&dec);
    refuse(t, f, b, good_len, NULL, 0, TN_ERR_BAD_SIGNATURE, "mfr", 3, k[2].id, "bad signature");
    memcpy(b, good, good_len);
    b[good_len - 40] ^= 0x80;
    refuse(t, f, b, good_len, NULL, 0, TN_ERR_BAD_SIGNATURE, "mfr", 3, k[2].id,
           "bad signature (middle byte)");

    /* Signed by a key that is not mfr's: a stranger's, or another member org's. */
    len = odd_commission(&c, NET, "mfr", 3, k[2].id, "urn:test:mfr:3", &f->stranger, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_UNKNOWN_KEY, "mfr", 3, k[2].id, "stranger's key");
    len = odd_commission(&c, NET, "mfr", 3, k[2].id, "urn:test:mfr:3", &f->keys[ORG_ASM], b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_UNKNOWN_KEY, "mfr", 3, k[2].id, "asm's key on mfr");

    /* An org the ecosystem does not list. */
    len = odd_commission(&c, NET, "ghost", 0, NULL, "urn:test:ghost", &f->stranger, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_UNKNOWN_ORG, "ghost", 0, NULL, "unknown org");

    /* Roles: an operator may not commission; a manufacturer may not decommission. */
    len = odd_commission(&op, NET, "op", 0, NULL, "urn:test:op", &f->keys[ORG_OP], b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_ROLE, "op", 0, NULL, "operator commissions");
    fx_rec_init(&r, &c, PROTO_T_DECOMMISSION);
    r.items = items;
    r.n_items = 1;
    len = fx_sign(&r, mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_ROLE, "mfr", 3, k[2].id, "manufacturer decommissions");

    /* Another network. */
    len = odd_commission(&c, "othernet", "mfr", 3, k[2].id, "urn:test:mfr:3", mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_INVALID, "mfr", 3, k[2].id, "other network");

    /* Bytes that are not a record. */
    randombytes_buf(b, 300);
    b[0] = 0xd2; /* even with the COSE_Sign1 tag in front */
    refuse(t, f, b, 300, NULL, 0, TN_ERR_INVALID, "mfr", 3, k[2].id, "random bytes");
    refuse(t, f, (const uint8_t *)"", 0, NULL, 0, TN_ERR_INVALID, "mfr", 3, k[2].id, "empty input");
    refuse(t, f, good, good_len - 1, NULL, 0, TN_ERR_INVALID, "mfr", 3, k[2].id,
           "truncated record");
    memcpy(b, good, good_len);
    b[good_len] = 0x00;
    refuse(t, f, b, good_len + 1, NULL, 0, TN_ERR_INVALID, "mfr", 3, k[2].id,
           "record with a trailing byte");

    /* Over 16 KiB: refused by size before anything else. */
    memset(b, 0, sizeof b);
    memcpy(b, good, good_len);
    refuse(t, f, b, PROTO_RECORD_MAX + 1, NULL, 0, TN_ERR_TOO_BIG, "mfr", 3, k[2].id, "16 KiB + 1");
    refuse(t, f, b, sizeof b, NULL, 0, TN_ERR_TOO_BIG, "mfr", 3, k[2].id, "16 KiB + 64");

    /* The transaction is still good: the right record goes on the chain. */
    fx_append_ok(t, f, good, good_len, id);
    fx_expect_shard(t, "mfr", 4, id);
    fx_commit(t);

    /* Nothing of the refused records reached the indexes. */
    t = fx_begin(f->repo, false);
    assert_int_equal(count_item(t, "urn:test:gap"), 0);
    assert_int_equal(count_item(t, "urn:test:replay"), 0);
    assert_int_equal(count_item(t, "urn:test:prev"), 0);
    assert_int_equal(count_item(t, "urn:test:ghost"), 0);
    assert_int_equal(count_item(t, "urn:test:op"), 0);
    assert_int_equal(count_item(t, "urn:test:mfr:0"), 1); /* the decommission was refused */
    assert_int_equal(count_item(t, "urn:test:mfr:3"), 1);
    fx_expect_shard(t, "mfr", 4, id);
    store_txn_abort(t);

    /* A refusal followed by an abort leaves the committed shard as it was. */
    t = fx_begin(f->repo, true);
    len = odd_commission(&c, NET, "mfr", 9, id, "urn:test:gap2", mk, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_CHAIN, "mfr", 4, id, "gap, then abort");
    store_txn_abort(t);
    fx_reopen(f);
    t = fx_begin(f->repo, false);
    fx_expect_shard(t, "mfr", 4, id);
    store_txn_abort(t);
}

/* The checks come in the documented order: size, decoding, network, org, signer key,
 * signature, role, frozen, seq/prev. A record failing two checks reports the first. */
static void test_refusal_order(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR), op = fx_chain_of(f, ORG_OP);
    const struct cry_keypair *mk = &f->keys[ORG_MFR];
    struct kept k[1];
    struct store_txn *t;
    uint8_t b[PROTO_RECORD_MAX];
    size_t len;

    t = fx_begin(f->repo, true);
    add_many(t, f, &c, k, 1);

    /* network before org */
    len = odd_commission(&c, "othernet", "ghost", 1, k[0].id, "x", &f->stranger, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_INVALID, "mfr", 1, k[0].id, "network + org");
    /* org before seq */
    len = odd_commission(&c, NET, "ghost", 7, k[0].id, "x", &f->stranger, b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_UNKNOWN_ORG, "mfr", 1, k[0].id, "org + seq");
    /* signer key before signature and role */
    len = odd_commission(&op, NET, "op", 0, NULL, "x", &f->stranger, b);
    b[len - 1] ^= 1;
    refuse(t, f, b, len, NULL, 0, TN_ERR_UNKNOWN_KEY, "op", 0, NULL, "key + sig + role");
    /* signature before role */
    len = odd_commission(&op, NET, "op", 0, NULL, "x", &f->keys[ORG_OP], b);
    b[len - 1] ^= 1;
    refuse(t, f, b, len, NULL, 0, TN_ERR_BAD_SIGNATURE, "op", 0, NULL, "sig + role");
    /* signature before seq */
    len = odd_commission(&c, NET, "mfr", 5, k[0].id, "x", mk, b);
    b[len - 1] ^= 1;
    refuse(t, f, b, len, NULL, 0, TN_ERR_BAD_SIGNATURE, "mfr", 1, k[0].id, "sig + seq");
    /* role before seq */
    len = odd_commission(&op, NET, "op", 3, k[0].id, "x", &f->keys[ORG_OP], b);
    refuse(t, f, b, len, NULL, 0, TN_ERR_ROLE, "op", 0, NULL, "role + seq");
    store_txn_abort(t);
}

/* STORE_APPEND_VERIFIED is the caller's statement that it signed these very bytes just
 * now with the org key it loaded and checked against the ecosystem. The contract
 * (storage/repo.h) is that the store then skips the Ed25519 verification, and only that:
 * a record with a broken signature IS stored under this flag. Every other check (network,
 * org, signer key = the org's key, role, chain) still applies. */
static void test_signed_here_skips_signature_only(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR), op = fx_chain_of(f, ORG_OP);
    const struct cry_keypair *mk = &f->keys[ORG_MFR];
    const unsigned here = STORE_APPEND_VERIFIED;
    struct store_txn *t;
    uint8_t b[PROTO_RECORD_MAX], id[PROTO_ID_LEN];
    const uint8_t *stored;
    size_t len, slen;
    bool appended = false;
    char err[256] = "";

    t = fx_begin(f->repo, true);
    len = fx_commission(&c, "urn:test:here", b);
    b[len - 1] ^= 0x01; /* the signature no longer verifies */
    refuse(t, f, b, len, NULL, 0, TN_ERR_BAD_SIGNATURE, "mfr", 0, NULL, "without the flag");
    EXPECT_RC(store_append(t, &f->eco, b, len, NULL, here, id, &appended, err, sizeof err), 0,
              "bad signature with STORE_APPEND_VERIFIED (%s)", err);
    assert_true(appended);
    fx_expect_shard(t, "mfr", 1, id);
    EXPECT_RC(store_record_get(t, id, &stored, &slen), 0, "record_get");
    assert_int_equal(slen, len);
    assert_memory_equal(stored, b, len); /* stored byte-exact, as given */
    fx_chain_next(&c, id);

    /* The other checks still apply under the flag. */
    len = odd_commission(&c, NET, "mfr", 1, id, "x", &f->stranger, b);
    refuse(t, f, b, len, NULL, here, TN_ERR_UNKNOWN_KEY, "mfr", 1, id, "flag + stranger key");
    len = odd_commission(&op, NET, "op", 0, NULL, "x", &f->keys[ORG_OP], b);
    refuse(t, f, b, len, NULL, here, TN_ERR_ROLE, "op", 0, NULL, "flag + role");
    len = odd_commission(&c, NET, "mfr", 2, id, "x", mk, b);
    refuse(t, f, b, len, NULL, here, TN_ERR_CHAIN, "mfr", 1, id, "flag + seq gap");
    len = odd_commission(&c, "othernet", "mfr", 1, id, "x", mk, b);
    refuse(t, f, b, len, NULL, here, TN_ERR_INVALID, "mfr", 1, id, "flag + network");
    len = odd_commission(&c, NET, "ghost", 0, NULL, "x", mk, b);
    refuse(t, f, b, len, NULL, here, TN_ERR_UNKNOWN_ORG, "ghost", 0, NULL, "flag + org");
    fx_commit(t);
}

/* rec given: the decoded form of the bytes is used instead of decoding them again; the
 * signature is still verified (from the decoded Sig_structure) without the flag. */
static void test_append_with_decoded_record(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct store_txn *t;
    uint8_t b[PROTO_RECORD_MAX], bad[PROTO_RECORD_MAX], id[PROTO_ID_LEN], h[HL];
    struct proto_record dec;
    size_t len;
    bool appended = false;
    char err[256] = "";

    t = fx_begin(f->repo, true);
    len = fx_commission(&c, "urn:test:given", b);
    memcpy(bad, b, len);
    bad[len - 1] ^= 0x01;
    proto_record_init(&dec);
    EXPECT_RC(proto_record_decode(bad, len, &dec, err, sizeof err), 0, "decode (bad sig)");
    refuse(t, f, bad, len, &dec, 0, TN_ERR_BAD_SIGNATURE, "mfr", 0, NULL, "given, bad sig");
    proto_record_release(&dec);

    proto_record_init(&dec);
    EXPECT_RC(proto_record_decode(b, len, &dec, err, sizeof err), 0, "decode");
    EXPECT_RC(store_append(t, &f->eco, b, len, &dec, 0, id, &appended, err, sizeof err), 0,
              "append with rec given (%s)", err);
    assert_true(appended);
    crypto_hash_sha256(h, b, len);
    EXPECT_HASH(id, h, "id with rec given");
    fx_expect_shard(t, "mfr", 1, id);
    assert_int_equal(count_item(t, "urn:test:given"), 1); /* indexed from the given form */
    proto_record_release(&dec);
    fx_commit(t);
}

/* A record of exactly PROTO_RECORD_MAX bytes is accepted. */
static void test_max_size_record(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    static char text[4][PROTO_TEXT_MAX + 1];
    static uint8_t b[PROTO_RECORD_MAX];
    struct proto_attr attrs[4];
    struct proto_record r;
    const char *outs[1] = {"urn:test:big"};
    const char *names[4] = {"a", "b", "c", "d"};
    struct store_txn *t;
    uint8_t id[PROTO_ID_LEN];
    const uint8_t *stored;
    size_t len = 0, len0, d, slen;
    char err[256];
    int rc;

    for (int i = 0; i < 4; i++) {
        memset(text[i], 'x', PROTO_TEXT_MAX);
        text[i][i < 3 ? PROTO_TEXT_MAX : 0] = '\0';
        attrs[i] = (struct proto_attr){.name = names[i], .kind = PROTO_VAL_TEXT, .text = text[i]};
    }
    fx_rec_init(&r, &c, PROTO_T_COMMISSION);
    r.outputs = outs;
    r.n_outputs = 1;
    r.attrs = attrs;
    r.n_attrs = 4;
    len = fx_sign(&r, c.kp, b);
    assert_true(len < PROTO_RECORD_MAX);
    len0 = len;
    /* Grow the last value until the record is exactly 16 KiB (headers may add bytes). */
    for (d = PROTO_RECORD_MAX - len0 - 3; d <= PROTO_RECORD_MAX - len0 && d <= PROTO_TEXT_MAX;
         d++) {
        memset(text[3], 'x', PROTO_TEXT_MAX);
        text[3][d] = '\0';
        rc = proto_record_sign(&r, c.kp, b, PROTO_RECORD_MAX, &len, err, sizeof err);
        if (rc == 0 && len == PROTO_RECORD_MAX)
            break;
    }
    assert_int_equal(len, PROTO_RECORD_MAX);
    t = fx_begin(f->repo, true);
    fx_append_ok(t, f, b, len, id);
    EXPECT_RC(store_record_get(t, id, &stored, &slen), 0, "record_get of a 16 KiB record");
    assert_int_equal(slen, PROTO_RECORD_MAX);
    assert_memory_equal(stored, b, slen);
    fx_commit(t);
}

/* --- indexes ------------------------------------------------------------------------------ */

struct id_set {
    int n;
    uint8_t ids[16][PROTO_ID_LEN];
};

static int id_cb(void *ctx, const uint8_t id[PROTO_ID_LEN])
{
    struct id_set *s = ctx;

    assert_true(s->n < 16);
    memcpy(s->ids[s->n++], id, PROTO_ID_LEN);
    return 0;
}

static bool id_set_has(const struct id_set *s, const uint8_t id[PROTO_ID_LEN])
{
    for (int i = 0; i < s->n; i++)
        if (memcmp(s->ids[i], id, PROTO_ID_LEN) == 0)
            return true;
    return false;
}

/* item_each(item) gives exactly these (role, id) pairs in this order. */
static void expect_items(struct store_txn *t, const char *item, int n, const char *roles,
                         const uint8_t *const *ids)
{
    struct item_hit hits[64];
    struct item_list l = {.cap = 64, .hits = hits};

    EXPECT_RC(store_item_each(t, item, item_cb, &l), 0, "item_each(%s)", item);
    if (l.n != n) {
        print_error("item_each(%s): %d records, want %d\n", item, l.n, n);
        fail();
    }
    for (int i = 0; i < n; i++) {
        if (hits[i].role != roles[i]) {
            print_error("item_each(%s)[%d]: role '%c', want '%c'\n", item, i, hits[i].role,
                        roles[i]);
            fail();
        }
        EXPECT_HASH(hits[i].id, ids[i], "item_each(%s)[%d]", item, i);
    }
}

static void expect_last(struct store_txn *t, const char *item, const char *org, const uint8_t *want)
{
    uint8_t id[PROTO_ID_LEN];

    if (!want) {
        EXPECT_RC(store_item_last(t, item, org, id), TN_ERR_NOT_FOUND, "item_last(%s, %s)", item,
                  org ? org : "NULL");
        return;
    }
    EXPECT_RC(store_item_last(t, item, org, id), 0, "item_last(%s, %s)", item, org ? org : "NULL");
    EXPECT_HASH(id, want, "item_last(%s, %s)", item, org ? org : "NULL");
}

struct scenario {
    uint8_t m0[PROTO_ID_LEN], m1[PROTO_ID_LEN], m2[PROTO_ID_LEN], m3[PROTO_ID_LEN];
    uint8_t a0[PROTO_ID_LEN], a1[PROTO_ID_LEN], a2[PROTO_ID_LEN];
    struct fx_chain m, a;
};

/* Builds, signs and appends r (chain c advanced). */
static void put(struct store_txn *t, const struct fx *f, struct proto_record *r, struct fx_chain *c,
                uint8_t id[PROTO_ID_LEN])
{
    uint8_t b[PROTO_RECORD_MAX];
    size_t len = fx_sign(r, c->kp, b);

    fx_append_ok(t, f, b, len, id);
    fx_chain_next(c, id);
}

/* Two orgs naming the same items:
 *   m0 mfr commission  outputs A B           eid evt-1
 *   m1 mfr ship        items A to asm
 *   -- commit --
 *   a0 asm receive     items A from mfr
 *   a1 asm transform   inputs A@m0           outputs C
 *   m2 mfr transform   inputs B@m0 B@m0      outputs D      eid evt-2
 *   m3 mfr commission  outputs E E           eid evt-1 (taken already)
 *   a2 asm transform   inputs C@a1 F@null    outputs G */
static void build_scenario(struct fx *f, struct scenario *s)
{
    struct store_txn *t;
    struct proto_record r;
    const char *ab[2] = {"A", "B"}, *a[1] = {"A"}, *cc[1] = {"C"}, *d[1] = {"D"},
               *ee[2] = {"E", "E"}, *g[1] = {"G"};
    struct proto_input in_a1[1], in_m2[2], in_a2[2];

    s->m = fx_chain_of(f, ORG_MFR);
    s->a = fx_chain_of(f, ORG_ASM);
    t = fx_begin(f->repo, true);
    fx_rec_init(&r, &s->m, PROTO_T_COMMISSION);
    r.outputs = ab;
    r.n_outputs = 2;
    r.eid = "evt-1";
    put(t, f, &r, &s->m, s->m0);
    fx_rec_init(&r, &s->m, PROTO_T_SHIP);
    r.items = a;
    r.n_items = 1;
    r.to = "asm";
    put(t, f, &r, &s->m, s->m1);
    fx_commit(t);

    t = fx_begin(f->repo, true);
    fx_rec_init(&r, &s->a, PROTO_T_RECEIVE);
    r.items = a;
    r.n_items = 1;
    r.from = "mfr";
    put(t, f, &r, &s->a, s->a0);
    fx_rec_init(&r, &s->a, PROTO_T_TRANSFORM);
    in_a1[0] = (struct proto_input){.item = "A", .has_rec = true};
    memcpy(in_a1[0].rec, s->m0, PROTO_ID_LEN);
    r.inputs = in_a1;
    r.n_inputs = 1;
    r.outputs = cc;
    r.n_outputs = 1;
    put(t, f, &r, &s->a, s->a1);
    fx_rec_init(&r, &s->m, PROTO_T_TRANSFORM);
    for (int i = 0; i < 2; i++) {
        in_m2[i] = (struct proto_input){.item = "B", .has_rec = true};
        memcpy(in_m2[i].rec, s->m0, PROTO_ID_LEN);
    }
    r.inputs = in_m2;
    r.n_inputs = 2;
    r.outputs = d;
    r.n_outputs = 1;
    r.eid = "evt-2";
    put(t, f, &r, &s->m, s->m2);
    fx_rec_init(&r, &s->m, PROTO_T_COMMISSION);
    r.outputs = ee;
    r.n_outputs = 2;
    r.eid = "evt-1";
    put(t, f, &r, &s->m, s->m3);
    fx_rec_init(&r, &s->a, PROTO_T_TRANSFORM);
    in_a2[0] = (struct proto_input){.item = "C", .has_rec = true};
    memcpy(in_a2[0].rec, s->a1, PROTO_ID_LEN);
    in_a2[1] = (struct proto_input){.item = "F", .has_rec = false};
    r.inputs = in_a2;
    r.n_inputs = 2;
    r.outputs = g;
    r.n_outputs = 1;
    put(t, f, &r, &s->a, s->a2);
    fx_commit(t);
}

static void check_item_index(struct store_txn *t, const struct scenario *s)
{
    const uint8_t *ids_a[] = {s->m0, s->m1, s->a0, s->a1};
    const uint8_t *ids_b[] = {s->m0, s->m2};
    const uint8_t *ids_c[] = {s->a1, s->a2};
    const uint8_t *ids_e[] = {s->m3};
    const uint8_t *ids_f[] = {s->a2};
    const uint8_t *ids_g[] = {s->a2};

    expect_items(t, "A", 4, "otti", ids_a);
    expect_items(t, "B", 2, "oi", ids_b);
    expect_items(t, "C", 2, "oi", ids_c);
    expect_items(t, "E", 1, "o", ids_e); /* named twice in one role: listed once */
    expect_items(t, "F", 1, "i", ids_f);
    expect_items(t, "G", 1, "o", ids_g);
    expect_items(t, "nothing-names-this", 0, "", NULL);
}

static void test_item_index(void **state)
{
    struct fx *f = *state;
    struct scenario s;
    struct store_txn *t;
    struct item_hit hits[8];
    struct item_list l = {.cap = 8, .hits = hits, .stop_at = 2, .stop_rc = TN_ERR_EXISTS};

    build_scenario(f, &s);
    t = fx_begin(f->repo, false);
    check_item_index(t, &s);
    /* A callback's non-zero return stops the walk and is passed back. */
    EXPECT_RC(store_item_each(t, "A", item_cb, &l), TN_ERR_EXISTS, "item_each stopped");
    assert_int_equal(l.n, 2);
    store_txn_abort(t);

    fx_reopen(f);
    t = fx_begin(f->repo, false);
    check_item_index(t, &s);
    store_txn_abort(t);
}

static void test_item_last(void **state)
{
    struct fx *f = *state;
    struct scenario s;
    struct store_txn *t;
    struct proto_record r;
    const char *a[1] = {"A"};
    uint8_t m4[PROTO_ID_LEN];

    build_scenario(f, &s);
    t = fx_begin(f->repo, false);
    expect_last(t, "A", NULL, s.a1);
    expect_last(t, "A", "mfr", s.m1);
    expect_last(t, "A", "asm", s.a1);
    expect_last(t, "B", NULL, s.m2);
    expect_last(t, "C", "asm", s.a2);
    expect_last(t, "A", "ghost", NULL); /* no such shard */
    expect_last(t, "A", "op", NULL);    /* a member org without a shard here */
    store_txn_abort(t);

    /* The index order continues across a reopen: a later record is the last one. */
    fx_reopen(f);
    t = fx_begin(f->repo, true);
    fx_rec_init(&r, &s.m, PROTO_T_SHIP);
    r.items = a;
    r.n_items = 1;
    r.to = "car";
    put(t, f, &r, &s.m, m4);
    fx_commit(t);
    t = fx_begin(f->repo, false);
    expect_last(t, "A", NULL, m4);
    expect_last(t, "A", "mfr", m4);
    expect_last(t, "A", "asm", s.a1);
    {
        const uint8_t *ids_a[] = {s.m0, s.m1, s.a0, s.a1, m4};
        expect_items(t, "A", 5, "ottit", ids_a);
    }
    store_txn_abort(t);
}

/* store_item_last must say TN_ERR_NOT_FOUND (its documented error) when no record names
 * the item, or none of org's records does. */
static void test_item_last_not_found(void **state)
{
    static const struct {
        const char *item, *org;
    } cases[] = {
        {"nothing-names-this", NULL},
        {"nothing-names-this", "mfr"},
        {"B", "asm"}, /* asm has a shard but never named B */
        {"G", "mfr"},
    };
    enum { NCASES = sizeof cases / sizeof cases[0] };
    struct fx *f = *state;
    struct scenario s;
    struct store_txn *t;
    uint8_t id[PROTO_ID_LEN];
    int rc[NCASES];

    build_scenario(f, &s);
    t = fx_begin(f->repo, false);
    for (int i = 0; i < NCASES; i++)
        rc[i] = store_item_last(t, cases[i].item, cases[i].org, id);
    store_txn_abort(t); /* before asserting: a failure leaks nothing */
    for (int i = 0; i < NCASES; i++)
        if (rc[i] != TN_ERR_NOT_FOUND)
            print_error("store_item_last(%s, %s): got %d (%s), want %d (%s)\n", cases[i].item,
                        cases[i].org ? cases[i].org : "NULL", rc[i], tn_strerror(rc[i]),
                        TN_ERR_NOT_FOUND, tn_strerror(TN_ERR_NOT_FOUND));
    for (int i = 0; i < NCASES; i++)
        EXPECT_RC(rc[i], TN_ERR_NOT_FOUND, "store_item_last case %d", i);
}

/* Many records from two shards naming one item, more than 256 of them (the order key
 * crosses a byte boundary): listed exactly in append order. */
static void test_item_order_many(void **state)
{
    struct fx *f = *state;
    struct fx_chain m = fx_chain_of(f, ORG_MFR), car = fx_chain_of(f, ORG_CAR);
    enum { N = 300 };
    uint8_t(*ids)[PROTO_ID_LEN] = calloc(N, PROTO_ID_LEN);
    struct item_hit *hits = calloc(N + 1, sizeof *hits);
    struct item_list l = {.cap = N + 1, .hits = hits};
    const char *x[1] = {"urn:test:many"};
    struct proto_record r;
    struct store_txn *t = NULL;

    assert_non_null(ids);
    assert_non_null(hits);
    for (int i = 0; i < N; i++) {
        if (i % 50 == 0) {
            if (t)
                fx_commit(t);
            t = fx_begin(f->repo, true);
        }
        if (i % 3 == 2) {
            fx_rec_init(&r, &car, PROTO_T_SHIP);
            r.items = x;
            r.n_items = 1;
            r.to = "op";
            put(t, f, &r, &car, ids[i]);
        } else {
            fx_add_commission(t, f, &m, x[0], ids[i]);
        }
    }
    fx_commit(t);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_item_each(t, x[0], item_cb, &l), 0, "item_each");
    assert_int_equal(l.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(hits[i].role, i % 3 == 2 ? 't' : 'o');
        EXPECT_HASH(hits[i].id, ids[i], "record %d in append order", i);
    }
    expect_last(t, x[0], NULL, ids[N - 1]);
    expect_last(t, x[0], "car", ids[N - 1]);
    expect_last(t, x[0], "mfr", ids[N - 2]);
    store_txn_abort(t);
    free(ids);
    free(hits);
}

/* Item and event ids of every length the record format allows (items up to 1024 bytes,
 * event ids up to 256), around any internal key-size threshold: ids that share a long
 * prefix, or where one is a prefix of another, are different items. */
static void test_long_ids(void **state)
{
    enum { NI = 9 };
    static char items[NI][PROTO_ITEM_MAX + 1];
    static const size_t lens[NI] = {1, 2, 399, 400, 401, 511, 512, 1024, 1024};
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    uint8_t ids[NI][PROTO_ID_LEN], id[PROTO_ID_LEN], b[PROTO_RECORD_MAX];
    char eid[PROTO_EID_MAX + 1], eid_short[PROTO_EID_MAX];
    struct proto_record r;
    const char *outs[1];
    struct store_txn *t;

    for (int i = 0; i < NI; i++) {
        memset(items[i], 'p', lens[i]); /* each a prefix of the longer ones */
        items[i][lens[i]] = '\0';
    }
    items[NI - 1][PROTO_ITEM_MAX - 1] = 'q'; /* differs from items[NI - 2] in the last byte */
    memset(eid, 'e', PROTO_EID_MAX);
    eid[PROTO_EID_MAX] = '\0';
    memcpy(eid_short, eid, PROTO_EID_MAX - 1);
    eid_short[PROTO_EID_MAX - 1] = '\0';

    t = fx_begin(f->repo, true);
    for (int i = 0; i < NI; i++) {
        fx_rec_init(&r, &c, PROTO_T_COMMISSION);
        outs[0] = items[i];
        r.outputs = outs;
        r.n_outputs = 1;
        if (i == NI - 1)
            r.eid = eid;
        fx_append_ok(t, f, b, fx_sign(&r, c.kp, b), ids[i]);
        fx_chain_next(&c, ids[i]);
    }
    fx_commit(t);

    fx_reopen(f);
    t = fx_begin(f->repo, false);
    for (int i = 0; i < NI; i++) {
        const uint8_t *one[1] = {ids[i]};
        expect_items(t, items[i], 1, "o", one);
        expect_last(t, items[i], "mfr", ids[i]);
        expect_last(t, items[i], NULL, ids[i]);
    }
    EXPECT_RC(store_eid_get(t, "mfr", eid, id), 0, "eid of 256 bytes");
    EXPECT_HASH(id, ids[NI - 1], "eid of 256 bytes");
    EXPECT_RC(store_eid_get(t, "mfr", eid_short, id), TN_ERR_NOT_FOUND, "eid prefix");
    store_txn_abort(t);
}

static void test_consumers(void **state)
{
    struct fx *f = *state;
    struct scenario s;
    struct store_txn *t;
    struct id_set set;
    uint8_t nobody[PROTO_ID_LEN];

    build_scenario(f, &s);
    t = fx_begin(f->repo, false);
    memset(&set, 0, sizeof set);
    EXPECT_RC(store_consumers_each(t, s.m0, id_cb, &set), 0, "consumers of m0");
    assert_int_equal(set.n, 2); /* m2 links to m0 twice: listed once */
    assert_true(id_set_has(&set, s.a1));
    assert_true(id_set_has(&set, s.m2));
    memset(&set, 0, sizeof set);
    EXPECT_RC(store_consumers_each(t, s.a1, id_cb, &set), 0, "consumers of a1");
    assert_int_equal(set.n, 1);
    assert_true(id_set_has(&set, s.a2));
    memset(&set, 0, sizeof set);
    EXPECT_RC(store_consumers_each(t, s.m1, id_cb, &set), 0, "consumers of m1");
    assert_int_equal(set.n, 0);
    memset(nobody, 0x5a, sizeof nobody);
    EXPECT_RC(store_consumers_each(t, nobody, id_cb, &set), 0, "consumers of an unknown id");
    assert_int_equal(set.n, 0);
    store_txn_abort(t);
}

static void test_eid(void **state)
{
    struct fx *f = *state;
    struct scenario s;
    struct store_txn *t;
    uint8_t id[PROTO_ID_LEN];

    build_scenario(f, &s);
    fx_reopen(f);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_eid_get(t, "mfr", "evt-1", id), 0, "eid evt-1");
    EXPECT_HASH(id, s.m0, "evt-1 stays with the first record that used it");
    EXPECT_RC(store_eid_get(t, "mfr", "evt-2", id), 0, "eid evt-2");
    EXPECT_HASH(id, s.m2, "evt-2");
    EXPECT_RC(store_eid_get(t, "mfr", "evt-3", id), TN_ERR_NOT_FOUND, "unused eid");
    EXPECT_RC(store_eid_get(t, "asm", "evt-1", id), TN_ERR_NOT_FOUND, "eid of another org");
    EXPECT_RC(store_eid_get(t, "ghost", "evt-1", id), TN_ERR_NOT_FOUND, "eid, no shard");
    store_txn_abort(t);
}

static void test_secrets(void **state)
{
    struct fx *f = *state;
    struct store_txn *t;
    uint8_t id[PROTO_ID_LEN], other[PROTO_ID_LEN], salt[32], salt2[32];
    const uint8_t *gsalt;
    const char *val;
    size_t vlen;
    char name[PROTO_NAME_MAX + 2], big[PROTO_TEXT_MAX + 2];

    randombytes_buf(id, sizeof id);
    randombytes_buf(other, sizeof other);
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(salt2, sizeof salt2);

    t = fx_begin(f->repo, true);
    EXPECT_RC(store_secret_put(t, id, "price", salt, "12.40"), 0, "secret put");
    EXPECT_RC(store_secret_put(t, id, "price2", salt2, "99"), 0, "secret put (longer name)");
    EXPECT_RC(store_secret_put(t, id, "note", salt2, ""), 0, "secret put (empty value)");
    EXPECT_RC(store_secret_get(t, id, "price", &gsalt, &val, &vlen), 0, "secret get in txn");
    assert_memory_equal(gsalt, salt, 32);
    assert_int_equal(vlen, 5);
    assert_memory_equal(val, "12.40", 5);
    /* Refused names and values. */
    EXPECT_RC(store_secret_put(t, id, "", salt, "v"), TN_ERR_INVALID, "empty name");
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0'; /* PROTO_NAME_MAX + 1 bytes */
    EXPECT_RC(store_secret_put(t, id, name, salt, "v"), TN_ERR_INVALID, "name too long");
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0'; /* PROTO_TEXT_MAX + 1 bytes */
    EXPECT_RC(store_secret_put(t, id, "big", salt, big), TN_ERR_TOO_BIG, "value too long");
    big[PROTO_TEXT_MAX] = '\0';
    EXPECT_RC(store_secret_put(t, id, "max", salt, big), 0, "value of PROTO_TEXT_MAX");
    name[PROTO_NAME_MAX] = '\0';
    EXPECT_RC(store_secret_put(t, id, name, salt, "n"), 0, "name of PROTO_NAME_MAX");
    fx_commit(t);

    fx_reopen(f);
    t = fx_begin(f->repo, true);
    EXPECT_RC(store_secret_get(t, id, "price", &gsalt, &val, &vlen), 0, "secret after reopen");
    assert_memory_equal(gsalt, salt, 32);
    assert_int_equal(vlen, 5);
    assert_memory_equal(val, "12.40", 5);
    EXPECT_RC(store_secret_get(t, id, "price2", &gsalt, &val, &vlen), 0, "price2");
    assert_memory_equal(gsalt, salt2, 32);
    assert_int_equal(vlen, 2);
    assert_memory_equal(val, "99", 2);
    EXPECT_RC(store_secret_get(t, id, "note", &gsalt, &val, &vlen), 0, "empty value");
    assert_int_equal(vlen, 0);
    EXPECT_RC(store_secret_get(t, id, "max", &gsalt, &val, &vlen), 0, "max value");
    assert_int_equal(vlen, PROTO_TEXT_MAX);
    EXPECT_RC(store_secret_get(t, id, name, &gsalt, &val, &vlen), 0, "max name");
    EXPECT_RC(store_secret_get(t, id, "pric", &gsalt, &val, &vlen), TN_ERR_NOT_FOUND, "prefix");
    EXPECT_RC(store_secret_get(t, id, "big", &gsalt, &val, &vlen), TN_ERR_NOT_FOUND,
              "refused value was not stored");
    EXPECT_RC(store_secret_get(t, other, "price", &gsalt, &val, &vlen), TN_ERR_NOT_FOUND,
              "other record");
    EXPECT_RC(store_secret_get(t, id, "", &gsalt, &val, &vlen), TN_ERR_INVALID, "empty name");
    /* Overwrite. */
    EXPECT_RC(store_secret_put(t, id, "price", salt2, "13.00"), 0, "overwrite");
    EXPECT_RC(store_secret_get(t, id, "price", &gsalt, &val, &vlen), 0, "after overwrite");
    assert_memory_equal(gsalt, salt2, 32);
    assert_int_equal(vlen, 5);
    assert_memory_equal(val, "13.00", 5);
    fx_commit(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_chain_across_txns, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_is_idempotent, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_id_given, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_signed_here_skips_signature_only, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_with_decoded_record, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_max_size_record, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_item_index, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_item_last, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_item_last_not_found, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_item_order_many, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_long_ids, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_consumers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_eid, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secrets, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("storage/append", tests, NULL, NULL);
}
