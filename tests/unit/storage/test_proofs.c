/* storage/merkle_store.c: the persisted RFC 9162 tree of each shard, checked against a
 * reference computed here from the record bytes; inclusion and consistency proofs for
 * current and historic sizes; the cost of a proof in a large shard; checkpoints; the
 * nodes' key layout (post-order, so pages pack full) and the upgrade from format v2.
 *
 * The reference side (ref_*) does not call the library: it hashes with libsodium and
 * follows the RFC 9162 2.1.1 / 2.1.3.1 / 2.1.4.1 recursions literally (MTH, PATH,
 * SUBPROOF), recomputing every subtree from the leaves. */
#include "fixture.h"

typedef uint8_t hash_t[HL];

/* --- reference ------------------------------------------------------------------------- */

static void ref_leaf(uint8_t out[HL], const uint8_t *bytes, size_t len)
{
    crypto_hash_sha256_state st;
    const uint8_t zero = 0x00;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, bytes, len);
    crypto_hash_sha256_final(&st, out);
}

static void ref_node(uint8_t out[HL], const uint8_t l[HL], const uint8_t r[HL])
{
    uint8_t buf[1 + 2 * HL];

    buf[0] = 0x01;
    memcpy(buf + 1, l, HL);
    memcpy(buf + 1 + HL, r, HL);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* The largest power of two smaller than n (n >= 2), from the top bit of n - 1. */
static uint64_t ref_split(uint64_t n)
{
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* MTH(D[n]), RFC 9162 2.1.1. */
static void ref_mth(const hash_t *leaves, uint64_t n, uint8_t out[HL])
{
    uint8_t l[HL], r[HL];
    uint64_t k;

    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], HL);
        return;
    }
    k = ref_split(n);
    ref_mth(leaves, k, l);
    ref_mth(leaves + k, n - k, r);
    ref_node(out, l, r);
}

/* PATH(m, D[n]), RFC 9162 2.1.3.1, appended to path. */
static void ref_path(const hash_t *leaves, uint64_t m, uint64_t n, hash_t *path, size_t *len)
{
    uint64_t k;

    if (n == 1)
        return;
    k = ref_split(n);
    if (m < k) {
        ref_path(leaves, m, k, path, len);
        ref_mth(leaves + k, n - k, path[(*len)++]);
    } else {
        ref_path(leaves + k, m - k, n - k, path, len);
        ref_mth(leaves, k, path[(*len)++]);
    }
}

/* SUBPROOF(m, D[n], b), RFC 9162 2.1.4.1, appended to path. */
static void ref_subproof(const hash_t *leaves, uint64_t m, uint64_t n, bool b, hash_t *path,
                         size_t *len)
{
    uint64_t k;

    if (m == n) {
        if (!b)
            ref_mth(leaves, n, path[(*len)++]);
        return;
    }
    k = ref_split(n);
    if (m <= k) {
        ref_subproof(leaves, m, k, b, path, len);
        ref_mth(leaves + k, n - k, path[(*len)++]);
    } else {
        ref_subproof(leaves + k, m - k, n - k, false, path, len);
        ref_mth(leaves, k, path[(*len)++]);
    }
}

/* --- checks against the reference ------------------------------------------------------ */

/* Inclusion proof of index i in org's tree of size n: verifies against the reference root
 * with the reference leaf; with exact, it also equals the reference PATH. */
static void check_inclusion(struct store_txn *t, const char *org, const hash_t *leaves, uint64_t i,
                            uint64_t n, const uint8_t root[HL], bool exact)
{
    hash_t path[CRY_MERKLE_MAX_PROOF], want[CRY_MERKLE_MAX_PROOF];
    size_t len = 0, wlen = 0;

    EXPECT_RC(store_inclusion_proof(t, org, i, n, path, &len), 0,
              "inclusion proof %" PRIu64 " in %" PRIu64, i, n);
    EXPECT_RC(cry_merkle_verify_inclusion(leaves[i], i, n, (const hash_t *)path, len, root), 0,
              "verify inclusion %" PRIu64 " in %" PRIu64, i, n);
    if (!exact)
        return;
    ref_path(leaves, i, n, want, &wlen);
    EXPECT_U64(len, wlen, "PATH(%" PRIu64 ", %" PRIu64 ") length", i, n);
    for (size_t j = 0; j < len; j++)
        EXPECT_HASH(path[j], want[j], "PATH(%" PRIu64 ", %" PRIu64 ")[%zu]", i, n, j);
}

static void check_consistency(struct store_txn *t, const char *org, const hash_t *leaves,
                              uint64_t m, uint64_t n, bool exact)
{
    hash_t path[CRY_MERKLE_MAX_PROOF], want[CRY_MERKLE_MAX_PROOF];
    uint8_t old_root[HL], new_root[HL];
    size_t len = 0, wlen = 0;

    ref_mth(leaves, m, old_root);
    ref_mth(leaves, n, new_root);
    EXPECT_RC(store_consistency_proof(t, org, m, n, path, &len), 0,
              "consistency proof %" PRIu64 " -> %" PRIu64, m, n);
    EXPECT_RC(cry_merkle_verify_consistency(m, n, old_root, new_root, (const hash_t *)path, len), 0,
              "verify consistency %" PRIu64 " -> %" PRIu64, m, n);
    if (!exact)
        return;
    ref_subproof(leaves, m, n, true, want, &wlen);
    EXPECT_U64(len, wlen, "PROOF(%" PRIu64 ", %" PRIu64 ") length", m, n);
    for (size_t j = 0; j < len; j++)
        EXPECT_HASH(path[j], want[j], "PROOF(%" PRIu64 ", %" PRIu64 ")[%zu]", m, n, j);
}

static void check_root(struct store_txn *t, const char *org, const hash_t *leaves, uint64_t n)
{
    uint8_t got[HL], want[HL];

    ref_mth(leaves, n, want);
    EXPECT_RC(store_root(t, org, n, got), 0, "store_root(%s, %" PRIu64 ")", org, n);
    EXPECT_HASH(got, want, "root of %s at size %" PRIu64, org, n);
}

/* Appends a commission continuing c and records its reference leaf. */
static void add_leaf(struct store_txn *t, const struct fx *f, struct fx_chain *c, hash_t *leaves)
{
    static uint8_t b[PROTO_RECORD_MAX];
    uint8_t id[PROTO_ID_LEN];
    char item[64];
    size_t len;

    snprintf(item, sizeof item, "urn:test:%s:%" PRIu64, c->org, c->seq);
    len = fx_commission(c, item, b);
    fx_append_ok(t, f, b, len, id);
    ref_leaf(leaves[c->seq], b, len);
    fx_chain_next(c, id);
}

/* Appends a ship of one item continuing c (every org may ship) and records its leaf. */
static void add_ship_leaf(struct store_txn *t, const struct fx *f, struct fx_chain *c,
                          hash_t *leaves)
{
    static uint8_t b[PROTO_RECORD_MAX];
    const char *items[1] = {"urn:test:crate"};
    struct proto_record r;
    uint8_t id[PROTO_ID_LEN];
    size_t len;

    fx_rec_init(&r, c, PROTO_T_SHIP);
    r.items = items;
    r.n_items = 1;
    r.to = "op";
    len = fx_sign(&r, c->kp, b);
    fx_append_ok(t, f, b, len, id);
    ref_leaf(leaves[c->seq], b, len);
    fx_chain_next(c, id);
}

/* --- tests ------------------------------------------------------------------------------ */

/* Every size from 1 to 200 as the current size of a shard: root, all inclusion proofs,
 * and consistency proofs, while a second shard grows alongside (separate trees). */
static void test_small_trees(void **state)
{
    struct fx *f = *state;
    enum { N = 200, NC = 120 };
    struct fx_chain m = fx_chain_of(f, ORG_MFR), cm = fx_chain_of(f, ORG_CAR);
    hash_t *leaves = calloc(N, HL), *cleaves = calloc(NC, HL);
    hash_t path[CRY_MERKLE_MAX_PROOF];
    struct fx_rng rng = {42};
    struct store_txn *t = NULL;
    uint8_t root[HL], empty[HL], got[HL];
    size_t len;

    assert_non_null(leaves);
    assert_non_null(cleaves);
    crypto_hash_sha256(empty, NULL, 0);
    while (m.seq < N) {
        uint64_t n, batch = 1 + fx_rng_below(&rng, 9);
        t = fx_begin(f->repo, true);
        for (uint64_t b = 0; b < batch && m.seq < N; b++) {
            add_leaf(t, f, &m, leaves);
            n = m.seq;
            if (cm.seq < NC && n % 5 != 0)
                add_ship_leaf(t, f, &cm, cleaves); /* the carrier's shard grows alongside */
            ref_mth(leaves, n, root);
            EXPECT_RC(store_root(t, "mfr", n, got), 0, "store_root(%" PRIu64 ")", n);
            EXPECT_HASH(got, root, "root at current size %" PRIu64, n);
            for (uint64_t i = 0; i < n; i++)
                check_inclusion(t, "mfr", (const hash_t *)leaves, i, n, root,
                                n <= 70 || n == N || (n & (n - 1)) == 0);
            /* A proof for one leaf does not verify another. */
            if (n > 1) {
                EXPECT_RC(store_inclusion_proof(t, "mfr", 0, n, path, &len), 0, "proof");
                EXPECT_RC(
                    cry_merkle_verify_inclusion(leaves[1], 0, n, (const hash_t *)path, len, root),
                    TN_ERR_PROOF, "wrong leaf must not verify");
            }
            check_consistency(t, "mfr", (const hash_t *)leaves, n, n, true);
            check_consistency(t, "mfr", (const hash_t *)leaves, 1, n, true);
            for (int j = 0; j < 4; j++)
                check_consistency(t, "mfr", (const hash_t *)leaves, 1 + fx_rng_below(&rng, n), n,
                                  n <= 70 || j == 0);
            /* Out of range. */
            EXPECT_RC(store_root(t, "mfr", n + 1, got), TN_ERR_NOT_FOUND, "root past size");
            EXPECT_RC(store_inclusion_proof(t, "mfr", n, n, path, &len), TN_ERR_INVALID,
                      "inclusion index == size");
            EXPECT_RC(store_inclusion_proof(t, "mfr", 0, n + 1, path, &len), TN_ERR_NOT_FOUND,
                      "inclusion past size");
            EXPECT_RC(store_consistency_proof(t, "mfr", 0, n, path, &len), TN_ERR_INVALID,
                      "consistency from 0");
            EXPECT_RC(store_consistency_proof(t, "mfr", n, n + 1, path, &len), TN_ERR_NOT_FOUND,
                      "consistency past size");
        }
        fx_commit(t);
    }
    assert_int_equal(cm.seq, NC);

    /* After a reopen: the empty tree, every historic size of both shards, and proofs
     * for historic sizes. */
    fx_reopen(f);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_root(t, "mfr", 0, got), 0, "root of size 0");
    EXPECT_HASH(got, empty, "size 0 root = SHA-256 of nothing");
    EXPECT_RC(store_root(t, "ghost", 0, got), TN_ERR_NOT_FOUND, "root, no shard");
    for (uint64_t n = 1; n <= N; n++)
        check_root(t, "mfr", (const hash_t *)leaves, n);
    for (uint64_t n = 1; n <= NC; n++) {
        check_root(t, "car", (const hash_t *)cleaves, n);
        ref_mth(cleaves, n, root);
        for (uint64_t i = 0; i < n; i += 1 + n / 16)
            check_inclusion(t, "car", (const hash_t *)cleaves, i, n, root, true);
        check_consistency(t, "car", (const hash_t *)cleaves, 1 + fx_rng_below(&rng, n), n, true);
    }
    store_txn_abort(t);
    free(leaves);
    free(cleaves);
}

/* A shard of 1000 records: every historic root, and random proofs. */
static void test_tree_1000(void **state)
{
    struct fx *f = *state;
    enum { N = 1000 };
    struct fx_chain m = fx_chain_of(f, ORG_MFR);
    hash_t *leaves = calloc(N, HL);
    struct fx_rng rng = {1000};
    struct store_txn *t;
    uint8_t root[HL];

    assert_non_null(leaves);
    for (int b = 0; b < 10; b++) {
        t = fx_begin(f->repo, true);
        for (int i = 0; i < 100; i++)
            add_leaf(t, f, &m, leaves);
        fx_commit(t);
    }
    t = fx_begin(f->repo, false);
    fx_expect_shard(t, "mfr", N, m.prev);
    for (uint64_t n = 1; n <= N; n++)
        check_root(t, "mfr", (const hash_t *)leaves, n);
    ref_mth(leaves, N, root);
    for (uint64_t i = 0; i < N; i++)
        check_inclusion(t, "mfr", (const hash_t *)leaves, i, N, root, i % 20 == 0);
    for (int j = 0; j < 300; j++) {
        uint64_t n = 1 + fx_rng_below(&rng, N), i = fx_rng_below(&rng, n);
        uint8_t r[HL];
        ref_mth(leaves, n, r);
        check_inclusion(t, "mfr", (const hash_t *)leaves, i, n, r, j % 6 == 0);
    }
    for (int j = 0; j < 300; j++) {
        uint64_t n = 1 + fx_rng_below(&rng, N), mm = 1 + fx_rng_below(&rng, n);
        check_consistency(t, "mfr", (const hash_t *)leaves, mm, n, j % 6 == 0);
    }
    /* Edges around powers of two. */
    for (uint64_t p = 1; p <= 512; p <<= 1) {
        check_consistency(t, "mfr", (const hash_t *)leaves, p, N, true);
        check_consistency(t, "mfr", (const hash_t *)leaves, p, p + 1, true);
        if (p > 1)
            check_consistency(t, "mfr", (const hash_t *)leaves, p - 1, p, true);
    }
    store_txn_abort(t);
    free(leaves);
}

/* Proof cost. A proof must read O(log n) stored nodes, never rebuild the tree; that is not
 * observable directly without hooks into LMDB, so this checks the consequence: in a shard
 * of 100,000 records an inclusion proof takes well under a millisecond. The assertion is
 * a generous 5 ms average so it never flakes on a loaded or sanitized build. */
static void test_proof_cost_100k(void **state)
{
    struct fx *f = *state;
    enum { N = 100000, BATCH = 1000, PROOFS = 1000 };
    struct fx_chain m = fx_chain_of(f, ORG_MFR);
    hash_t *leaves = calloc(N, HL);
    uint64_t *idx = calloc(PROOFS, sizeof *idx);
    hash_t(*paths)[CRY_MERKLE_MAX_PROOF] = calloc(PROOFS, sizeof *paths);
    size_t *lens = calloc(PROOFS, sizeof *lens);
    static uint8_t b[PROTO_RECORD_MAX];
    struct fx_rng rng = {100000};
    struct store_txn *t;
    uint8_t root[HL], got[HL], id[PROTO_ID_LEN];
    double t0, t_build, t_incl, t_cons;
    char item[64], err[256];
    bool appended;

    assert_non_null(leaves);
    assert_non_null(idx);
    assert_non_null(paths);
    assert_non_null(lens);
    fx_close(f);
    fx_open(f, UINT64_C(1) << 30, false, &f->repo);

    /* Built in batches of 1000 per transaction. The records are signed here, so they are
     * appended with STORE_APPEND_VERIFIED (signature check skipped, the rest checked). */
    t0 = fx_now();
    for (int bno = 0; bno < N / BATCH; bno++) {
        t = fx_begin(f->repo, true);
        for (int i = 0; i < BATCH; i++) {
            size_t len;
            int rc;
            snprintf(item, sizeof item, "urn:test:big:%" PRIu64, m.seq);
            len = fx_commission(&m, item, b);
            rc = store_append(t, &f->eco, b, len, NULL, STORE_APPEND_VERIFIED, id, &appended,
                              err, sizeof err);
            if (rc != 0)
                print_error("store_append: %s\n", err);
            EXPECT_RC(rc, 0, "append %" PRIu64, m.seq);
            ref_leaf(leaves[m.seq], b, len);
            fx_chain_next(&m, id);
        }
        fx_commit(t);
    }
    t_build = fx_now() - t0;

    for (int j = 0; j < PROOFS; j++)
        idx[j] = fx_rng_below(&rng, N);
    t = fx_begin(f->repo, false);
    t0 = fx_now();
    for (int j = 0; j < PROOFS; j++)
        EXPECT_RC(store_inclusion_proof(t, "mfr", idx[j], N, paths[j], &lens[j]), 0, "proof");
    t_incl = (fx_now() - t0) / PROOFS;
    t0 = fx_now();
    for (int j = 0; j < PROOFS; j++) {
        hash_t path[CRY_MERKLE_MAX_PROOF];
        size_t len;
        EXPECT_RC(store_consistency_proof(t, "mfr", 1 + idx[j], N, path, &len), 0, "proof");
    }
    t_cons = (fx_now() - t0) / PROOFS;
    print_message("100k shard: built in %.2f s; inclusion proof %.1f us, consistency proof "
                  "%.1f us on average over %d\n",
                  t_build, t_incl * 1e6, t_cons * 1e6, PROOFS);
    assert_true(t_incl < 5e-3);
    assert_true(t_cons < 5e-3);

    /* The proofs are right, too. */
    ref_mth(leaves, N, root);
    EXPECT_RC(store_root(t, "mfr", N, got), 0, "store_root");
    EXPECT_HASH(got, root, "root of 100,000 records");
    fx_expect_shard(t, "mfr", N, m.prev);
    for (int j = 0; j < PROOFS; j++) {
        assert_true(lens[j] >= 1 && lens[j] <= 17); /* ceil(log2(100000)) = 17 */
        EXPECT_RC(cry_merkle_verify_inclusion(leaves[idx[j]], idx[j], N, (const hash_t *)paths[j],
                                              lens[j], root),
                  0, "verify inclusion of %" PRIu64, idx[j]);
    }
    for (int j = 0; j < 5; j++)
        check_consistency(t, "mfr", (const hash_t *)leaves, 1 + fx_rng_below(&rng, N), N, false);
    store_txn_abort(t);
    free(leaves);
    free(idx);
    free(paths);
    free(lens);
}

/* A checkpoint signed over store_root, stored, read back and verified. */
static void test_checkpoints(void **state)
{
    struct fx *f = *state;
    struct fx_chain m = fx_chain_of(f, ORG_MFR), c = fx_chain_of(f, ORG_CAR);
    hash_t leaves[16], cleaves[4];
    struct cry_checkpoint cp, got;
    struct store_txn *t;
    char note[CRY_NOTE_MAX + 16], note2[CRY_NOTE_MAX];
    const char *stored;
    size_t len, len2, slen;
    uint64_t size;
    hash_t path[CRY_MERKLE_MAX_PROOF];
    size_t plen;
    uint8_t root10[HL], root15[HL];

    t = fx_begin(f->repo, true);
    for (int i = 0; i < 10; i++)
        add_leaf(t, f, &m, leaves);
    add_ship_leaf(t, f, &c, cleaves);
    /* No checkpoint yet; none can be stored for an org without a shard. */
    EXPECT_RC(store_checkpoint_get(t, "mfr", &size, &stored, &slen), TN_ERR_NOT_FOUND,
              "no checkpoint yet");
    EXPECT_RC(store_checkpoint_put(t, "op", 0, "x", 1), TN_ERR_NOT_FOUND, "put, no shard");
    EXPECT_RC(store_checkpoint_get(t, "ghost", &size, &stored, &slen), TN_ERR_NOT_FOUND,
              "get, no shard");

    memset(&cp, 0, sizeof cp);
    snprintf(cp.origin, sizeof cp.origin, NET "/mfr");
    cp.size = 10;
    EXPECT_RC(store_root(t, "mfr", 10, cp.root), 0, "store_root");
    memcpy(root10, cp.root, HL);
    EXPECT_RC(cry_checkpoint_sign(&cp, m.kp, note, sizeof note, &len), 0, "sign checkpoint");
    EXPECT_RC(store_checkpoint_put(t, "mfr", 10, note, len), 0, "checkpoint put");
    /* The carrier's checkpoint is kept apart. */
    snprintf(cp.origin, sizeof cp.origin, NET "/car");
    cp.size = 1;
    EXPECT_RC(store_root(t, "car", 1, cp.root), 0, "store_root car");
    EXPECT_RC(cry_checkpoint_sign(&cp, c.kp, note2, sizeof note2, &len2), 0, "sign car");
    EXPECT_RC(store_checkpoint_put(t, "car", 1, note2, len2), 0, "checkpoint put car");
    fx_commit(t);

    fx_reopen(f);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_checkpoint_get(t, "mfr", &size, &stored, &slen), 0, "checkpoint get");
    EXPECT_U64(size, 10, "checkpoint size");
    assert_int_equal(slen, len);
    assert_memory_equal(stored, note, len);
    EXPECT_RC(cry_checkpoint_verify(stored, slen, NET "/mfr", f->keys[ORG_MFR].pk, &got), 0,
              "verify stored checkpoint");
    EXPECT_U64(got.size, 10, "verified size");
    EXPECT_HASH(got.root, root10, "verified root = store_root");
    {
        uint8_t want[HL];
        ref_mth((const hash_t *)leaves, 10, want);
        EXPECT_HASH(got.root, want, "verified root = reference root");
    }
    EXPECT_RC(cry_checkpoint_verify(stored, slen, NET "/mfr", f->keys[ORG_ASM].pk, &got),
              TN_ERR_BAD_SIGNATURE, "verify with another key");
    EXPECT_RC(store_checkpoint_get(t, "car", &size, &stored, &slen), 0, "car checkpoint");
    EXPECT_U64(size, 1, "car checkpoint size");
    EXPECT_RC(cry_checkpoint_verify(stored, slen, NET "/car", f->keys[ORG_CAR].pk, &got), 0,
              "verify car checkpoint");
    store_txn_abort(t);

    /* Five more records and a newer checkpoint, which replaces the old one; the old
     * checkpoint is a prefix of the new one by a consistency proof. */
    t = fx_begin(f->repo, true);
    for (int i = 0; i < 5; i++)
        add_leaf(t, f, &m, leaves);
    snprintf(cp.origin, sizeof cp.origin, NET "/mfr");
    cp.size = 15;
    EXPECT_RC(store_root(t, "mfr", 15, cp.root), 0, "store_root 15");
    memcpy(root15, cp.root, HL);
    EXPECT_RC(cry_checkpoint_sign(&cp, m.kp, note, sizeof note, &len), 0, "sign checkpoint 15");
    EXPECT_RC(store_checkpoint_put(t, "mfr", 15, note, len), 0, "checkpoint put 15");
    fx_commit(t);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_checkpoint_get(t, "mfr", &size, &stored, &slen), 0, "checkpoint get 15");
    EXPECT_U64(size, 15, "latest checkpoint size");
    EXPECT_RC(cry_checkpoint_verify(stored, slen, NET "/mfr", f->keys[ORG_MFR].pk, &got), 0,
              "verify checkpoint 15");
    EXPECT_HASH(got.root, root15, "checkpoint 15 root");
    EXPECT_RC(store_consistency_proof(t, "mfr", 10, 15, path, &plen), 0, "consistency 10->15");
    EXPECT_RC(cry_merkle_verify_consistency(10, 15, root10, got.root, (const hash_t *)path, plen),
              0, "checkpoint 10 is a prefix of checkpoint 15");
    store_txn_abort(t);

    /* A note over the size limit is refused. */
    t = fx_begin(f->repo, true);
    memset(note, 'n', sizeof note);
    EXPECT_RC(store_checkpoint_put(t, "mfr", 15, note, CRY_NOTE_MAX + 1), TN_ERR_TOO_BIG,
              "oversized note");
    store_txn_abort(t);
}

/* --- the stored layout, read with LMDB directly ---------------------------------------- */

/* The reference hash of perfect subtree (level, index). */
static void ref_subtree(const hash_t *leaves, unsigned level, uint64_t index, uint8_t out[HL])
{
    ref_mth(leaves + (index << level), UINT64_C(1) << level, out);
}

/* A shard's nodes are keyed in the order appends complete them, so in key order they are
 * the post-order sequence of its perfect subtrees; with one shard, every insert lands at
 * the end of the database, where LMDB leaves the pages full. Format v2 keyed them by
 * (level, index): each new leaf went in between levels 0 and 1 and half of every page
 * stayed empty, which the packing check below catches. */
static void test_nodes_in_post_order_pack_pages(void **state)
{
    struct fx *f = *state;
    enum { N = 5000, NODES = 2 * N };
    struct fx_chain m = fx_chain_of(f, ORG_MFR);
    hash_t *leaves = calloc(N, HL);
    unsigned *level = calloc(NODES, sizeof *level);
    uint64_t *index = calloc(NODES, sizeof *index);
    struct fx_raw r;
    MDB_dbi merkle;
    MDB_cursor *c;
    MDB_val k, v;
    MDB_stat st;
    size_t want, got = 0;
    struct store_txn *t;

    assert_true(leaves && level && index);
    for (int b = 0; b < N / 500; b++) {
        t = fx_begin(f->repo, true);
        for (int i = 0; i < 500; i++)
            add_leaf(t, f, &m, leaves);
        fx_commit(t);
    }
    fx_close(f);

    want = fx_post_order(N, level, index);
    assert_int_equal(want, 2 * N - (size_t)__builtin_popcountll(N));
    merkle = fx_raw_open(&r, f->dir, false, "merkle");
    assert_int_equal(mdb_cursor_open(r.txn, merkle, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), got++) {
        uint8_t h[HL];
        assert_true(got < want);
        assert_int_equal(k.mv_size, 12); /* shard (4) | position (8) */
        assert_int_equal(v.mv_size, HL);
        ref_subtree((const hash_t *)leaves, level[got], index[got], h);
        EXPECT_HASH(v.mv_data, h, "node %zu in key order = subtree (%u, %" PRIu64 ")", got,
                    level[got], index[got]);
    }
    EXPECT_U64(got, want, "stored nodes");
    assert_int_equal(mdb_stat(r.txn, merkle, &st), 0);
    /* a node takes 54 bytes of a page (8-byte node header, 12-byte key, 32-byte hash,
     * 2-byte slot); at least 80% of the leaf pages' room is used */
    assert_true((double)st.ms_leaf_pages * st.ms_psize * 0.8 <= (double)got * 54);
    mdb_cursor_close(c);
    fx_raw_close(&r, false);
    free(leaves);
    free(level);
    free(index);
}

/* A v2 repository is refused read-only (saying how to upgrade it) and upgraded by a
 * writable open, which rebuilds every shard's tree from its records in the new layout:
 * roots and proofs are then those of the reference, and a new record extends the tree. */
static void test_upgrade_from_v2(void **state)
{
    struct fx *f = *state;
    enum { N = 300, NC = 77 };
    struct fx_chain m = fx_chain_of(f, ORG_MFR), cm = fx_chain_of(f, ORG_CAR);
    hash_t leaves[N + 1], cleaves[NC];
    struct store_repo *ro = NULL;
    struct store_txn *t;
    char err[512] = "";
    uint8_t root[HL];

    t = fx_begin(f->repo, true);
    for (int i = 0; i < N; i++) {
        add_leaf(t, f, &m, leaves);
        if (i < NC)
            add_ship_leaf(t, f, &cm, cleaves);
    }
    fx_commit(t);
    fx_close(f);
    fx_make_old_format(f->dir, "tracenode-store-v2");

    EXPECT_RC(store_open(f->dir, 0, true, &ro, err, sizeof err), TN_ERR_CORRUPT, "read-only v2");
    assert_non_null(strstr(err, "tracenode-store-v2"));
    assert_non_null(strstr(err, "start tracenode on it once"));
    fx_open(f, 0, false, &f->repo);
    assert_non_null(store_upgraded_from(f->repo));
    assert_string_equal(store_upgraded_from(f->repo), "tracenode-store-v2");
    t = fx_begin(f->repo, true);
    for (uint64_t n = 1; n <= N; n++)
        check_root(t, "mfr", (const hash_t *)leaves, n);
    for (uint64_t n = 1; n <= NC; n++)
        check_root(t, "car", (const hash_t *)cleaves, n);
    ref_mth(leaves, N, root);
    for (uint64_t i = 0; i < N; i += 7)
        check_inclusion(t, "mfr", (const hash_t *)leaves, i, N, root, true);
    check_consistency(t, "car", (const hash_t *)cleaves, 13, NC, true);
    add_leaf(t, f, &m, leaves);
    check_root(t, "mfr", (const hash_t *)leaves, N + 1);
    fx_commit(t);
    fx_close(f);
    EXPECT_RC(store_open(f->dir, 0, true, &ro, err, sizeof err), 0, "read-only after the upgrade");
    assert_null(store_upgraded_from(ro)); /* current now: nothing to upgrade */
    store_close(ro);
    {
        /* only the new tree is left: every key the new layout's, as many as both shards'
         * perfect subtrees */
        struct fx_raw r;
        MDB_dbi merkle = fx_raw_open(&r, f->dir, false, "merkle");
        MDB_cursor *c;
        MDB_val k, v;
        uint64_t n = 0, want = 2 * (N + 1) - (uint64_t)__builtin_popcountll(N + 1) + 2 * NC -
                               (uint64_t)__builtin_popcountll(NC);
        assert_int_equal(mdb_cursor_open(r.txn, merkle, &c), 0);
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++)
            assert_int_equal(k.mv_size, 12);
        EXPECT_U64(n, want, "nodes after the upgrade");
        mdb_cursor_close(c);
        fx_raw_close(&r, false);
    }
}

/* Copies the file src to dst (the repository's data file, to damage it several ways). */
static void copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[1 << 16];
    size_t n;

    assert_true(in && out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(out), 0);
}

enum damage { DROP_MIDDLE, DROP_LAST, CHANGE_BYTE };

/* Damages mfr's records in the (closed, v2) repository in dir: the first shard's. */
static void damage(const char *dir, enum damage what)
{
    struct fx_raw r;
    MDB_dbi records = fx_raw_open(&r, dir, true, "records");
    MDB_cursor *c;
    MDB_val k, v;
    uint8_t copy[PROTO_RECORD_MAX + PROTO_ID_LEN];

    assert_int_equal(mdb_cursor_open(r.txn, records, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    if (what == DROP_MIDDLE) {
        assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_NEXT), 0); /* seq 1 */
        assert_int_equal(mdb_cursor_del(c, 0), 0);
    } else if (what == DROP_LAST) {
        for (int i = 0; i < 9; i++)
            assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_NEXT), 0); /* seq 9 */
        assert_int_equal(mdb_cursor_del(c, 0), 0);
    } else {
        assert_true(v.mv_size <= sizeof copy);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[v.mv_size - 1] ^= 0x01; /* the last byte of the signature */
        v.mv_data = copy;
        assert_int_equal(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
    }
    mdb_cursor_close(c);
    fx_raw_close(&r, true);
}

/* A v2 repository whose records do not make the tree it holds cannot be upgraded: a gap,
 * a missing last record, a changed record byte. The writable open fails with the reason
 * and leaves the repository as it was (still v2, its old tree in place). */
static void test_upgrade_refuses_damage(void **state)
{
    struct fx *f = *state;
    struct fx_chain m = fx_chain_of(f, ORG_MFR);
    static const struct {
        enum damage what;
        const char *reason;
    } cases[] = {
        {DROP_MIDDLE, "shard mfr: record 1 is missing"},
        {DROP_LAST, "shard mfr: 9 records stored where it holds 10"},
        {CHANGE_BYTE, "shard mfr: the tree rebuilt from its records has another root"},
    };
    hash_t leaves[10];
    struct store_repo *repo = NULL;
    struct store_txn *t;
    char err[512] = "", data[600], saved[600];

    t = fx_begin(f->repo, true);
    for (int i = 0; i < 10; i++)
        add_leaf(t, f, &m, leaves);
    fx_commit(t);
    fx_close(f);
    fx_make_old_format(f->dir, "tracenode-store-v2");
    snprintf(data, sizeof data, "%s/data.mdb", f->dir);
    snprintf(saved, sizeof saved, "%s/v2.mdb", f->dir);
    copy_file(data, saved);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fx_raw r;
        MDB_dbi merkle;
        MDB_stat st;

        copy_file(saved, data);
        damage(f->dir, cases[i].what);
        err[0] = '\0';
        EXPECT_RC(store_open(f->dir, 0, false, &repo, err, sizeof err), TN_ERR_CORRUPT,
                  "upgrade, case %zu", i);
        assert_non_null(strstr(err, "cannot upgrade the repository from tracenode-store-v2: "));
        if (!strstr(err, cases[i].reason))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].reason);
        EXPECT_RC(store_open(f->dir, 0, true, &repo, err, sizeof err), TN_ERR_CORRUPT,
                  "still v2 read-only, case %zu", i);
        assert_non_null(strstr(err, "tracenode-store-v2"));
        merkle = fx_raw_open(&r, f->dir, false, "merkle");
        assert_int_equal(mdb_stat(r.txn, merkle, &st), 0);
        EXPECT_U64(st.ms_entries, 2 * 10 - 2, "the old tree is still there, case %zu", i);
        fx_raw_close(&r, false);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_small_trees, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tree_1000, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_proof_cost_100k, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nodes_in_post_order_pack_pages, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v2, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_refuses_damage, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("storage/proofs", tests, NULL, NULL);
}
