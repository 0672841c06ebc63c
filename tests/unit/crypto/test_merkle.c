/* RFC 9162 Merkle trees: known-answer vectors, randomized trees checked against a naive
 * reference written here from the RFC text, tampered proofs, source errors and extreme
 * tree sizes.
 *
 * The reference side (ref_*) never calls the library: it hashes with libsodium directly,
 * splits with a different formula and verifies proofs by rebuilding the RFC 9162 2.1.3.1 /
 * 2.1.4.1 recursion instead of the bit-walking verifiers of 2.1.3.2 / 2.1.4.2. */
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"

#include "crypto/error.h"
#include "crypto/key.h"
#include "crypto/merkle.h"

#define HL CRY_HASH_LEN
#define VECTORS TN_VECTORS "/merkle-rfc9162.json"

/* A failing check prints what was being checked and both codes. */
#define EXPECT_RC(got, want, ...)                                                                  \
    do {                                                                                           \
        int got_ = (got), want_ = (want);                                                          \
        if (got_ != want_) {                                                                       \
            print_error(__VA_ARGS__);                                                              \
            print_error(": got %d (%s), want %d (%s)\n", got_, tn_strerror(got_), want_,           \
                        tn_strerror(want_));                                                       \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define EXPECT_HASH(got, want, ...)                                                                \
    do {                                                                                           \
        if (memcmp((got), (want), HL) != 0) {                                                      \
            print_error(__VA_ARGS__);                                                              \
            print_error(": hashes differ\n");                                                      \
            assert_memory_equal((got), (want), HL);                                                \
        }                                                                                          \
    } while (0)

typedef uint8_t hash_t[HL];

/* ---- fixed-seed PRNG (splitmix64) ---------------------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform enough in [0, n), n > 0. */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

/* ---- reference implementation -------------------------------------------------------- */

static void ref_leaf_hash(uint8_t out[HL], uint64_t i)
{
    char data[32];
    uint8_t buf[1 + sizeof data];
    int n = snprintf(data, sizeof data, "leaf-%" PRIu64, i);

    buf[0] = 0x00;
    memcpy(buf + 1, data, (size_t)n);
    crypto_hash_sha256(out, buf, 1 + (size_t)n);
}

static void ref_node_hash(uint8_t out[HL], const uint8_t l[HL], const uint8_t r[HL])
{
    uint8_t buf[1 + 2 * HL];

    buf[0] = 0x01;
    memcpy(buf + 1, l, HL);
    memcpy(buf + 1 + HL, r, HL);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* RFC 9162 2.1.1: k is the largest power of two smaller than n (n >= 2). Computed from the
 * top bit of n - 1, unlike the library's doubling loop. */
static uint64_t ref_split(uint64_t n)
{
    assert_true(n >= 2);
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* MTH(D[lo:lo+n]) over the reference leaf hashes. */
static void ref_mth(const hash_t *lh, uint64_t lo, uint64_t n, uint8_t out[HL])
{
    uint8_t l[HL], r[HL];
    uint64_t k;

    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        memcpy(out, lh[lo], HL);
        return;
    }
    k = ref_split(n);
    ref_mth(lh, lo, k, l);
    ref_mth(lh, lo + k, n - k, r);
    ref_node_hash(out, l, r);
}

/* PATH(m, D[lo:lo+n]), RFC 9162 2.1.3.1. */
static void ref_path(const hash_t *lh, uint64_t m, uint64_t lo, uint64_t n, hash_t *out,
                     size_t *len)
{
    uint64_t k;

    if (n == 1)
        return;
    k = ref_split(n);
    if (m < k) {
        ref_path(lh, m, lo, k, out, len);
        ref_mth(lh, lo + k, n - k, out[(*len)++]);
    } else {
        ref_path(lh, m - k, lo + k, n - k, out, len);
        ref_mth(lh, lo, k, out[(*len)++]);
    }
}

/* SUBPROOF(m, D[lo:lo+n], b), RFC 9162 2.1.4.1. */
static void ref_subproof(const hash_t *lh, uint64_t m, uint64_t lo, uint64_t n, bool b, hash_t *out,
                         size_t *len)
{
    uint64_t k;

    if (m == n) {
        if (!b)
            ref_mth(lh, lo, n, out[(*len)++]);
        return;
    }
    k = ref_split(n);
    if (m <= k) {
        ref_subproof(lh, m, lo, k, b, out, len);
        ref_mth(lh, lo + k, n - k, out[(*len)++]);
    } else {
        ref_subproof(lh, m - k, lo + k, n - k, false, out, len);
        ref_mth(lh, lo, k, out[(*len)++]);
    }
}

static size_t ref_path_len(uint64_t m, uint64_t n)
{
    uint64_t k;

    if (n <= 1)
        return 0;
    k = ref_split(n);
    return 1 + (m < k ? ref_path_len(m, k) : ref_path_len(m - k, n - k));
}

static size_t ref_subproof_len(uint64_t m, uint64_t n, bool b)
{
    uint64_t k;

    if (m == n)
        return b ? 0 : 1;
    k = ref_split(n);
    return 1 + (m <= k ? ref_subproof_len(m, k, b) : ref_subproof_len(m - k, n - k, false));
}

/* Rebuilds the root from a PATH by following the 2.1.3.1 recursion; false if the path has
 * the wrong number of entries for (m, n). */
static bool ref_incl_rec(uint64_t m, uint64_t n, const uint8_t leaf[HL], const hash_t *path,
                         size_t len, size_t *pos, uint8_t out[HL])
{
    uint8_t sub[HL];
    uint64_t k;

    if (n == 1) {
        memcpy(out, leaf, HL);
        return true;
    }
    k = ref_split(n);
    if (!(m < k ? ref_incl_rec(m, k, leaf, path, len, pos, sub)
                : ref_incl_rec(m - k, n - k, leaf, path, len, pos, sub)))
        return false;
    if (*pos >= len)
        return false;
    if (m < k)
        ref_node_hash(out, sub, path[*pos]);
    else
        ref_node_hash(out, path[*pos], sub);
    (*pos)++;
    return true;
}

static bool ref_verify_inclusion(const uint8_t leaf[HL], uint64_t m, uint64_t n, const hash_t *path,
                                 size_t len, const uint8_t root[HL])
{
    uint8_t r[HL];
    size_t pos = 0;

    if (m >= n)
        return false;
    return ref_incl_rec(m, n, leaf, path, len, &pos, r) && pos == len && memcmp(r, root, HL) == 0;
}

/* Rebuilds (old hash, new hash) of D[0:n] from a SUBPROOF, following 2.1.4.1. */
static bool ref_cons_rec(uint64_t m, uint64_t n, bool b, const uint8_t old_root[HL],
                         const hash_t *proof, size_t len, size_t *pos, uint8_t old_h[HL],
                         uint8_t new_h[HL])
{
    uint8_t o[HL], nw[HL];
    uint64_t k;

    if (m == n) {
        const uint8_t *h = old_root; /* b: this node is the whole old tree */
        if (!b) {
            if (*pos >= len)
                return false;
            h = proof[(*pos)++];
        }
        memcpy(old_h, h, HL);
        memcpy(new_h, h, HL);
        return true;
    }
    k = ref_split(n);
    if (m <= k) {
        if (!ref_cons_rec(m, k, b, old_root, proof, len, pos, o, nw) || *pos >= len)
            return false;
        memcpy(old_h, o, HL); /* the old tree lies inside the left subtree */
        ref_node_hash(new_h, nw, proof[(*pos)++]);
    } else {
        if (!ref_cons_rec(m - k, n - k, false, old_root, proof, len, pos, o, nw) || *pos >= len)
            return false;
        ref_node_hash(old_h, proof[*pos], o);
        ref_node_hash(new_h, proof[*pos], nw);
        (*pos)++;
    }
    return true;
}

static bool ref_verify_consistency(uint64_t m, uint64_t n, const uint8_t old_root[HL],
                                   const uint8_t new_root[HL], const hash_t *proof, size_t len)
{
    uint8_t o[HL], nw[HL];
    size_t pos = 0;

    if (m == 0 || m > n)
        return false;
    return ref_cons_rec(m, n, true, old_root, proof, len, &pos, o, nw) && pos == len &&
           memcmp(o, old_root, HL) == 0 && memcmp(nw, new_root, HL) == 0;
}

/* ---- trees fed to the library -------------------------------------------------------- */

struct tree {
    uint64_t n;
    hash_t *leaf;     /* cry_merkle_leaf_hash("leaf-i"): what the library sees */
    hash_t *ref_leaf; /* the same hashes computed by ref_leaf_hash */
};

static void tree_init(struct tree *t, uint64_t n)
{
    char data[32];

    t->n = n;
    t->leaf = calloc(n ? n : 1, HL);
    t->ref_leaf = calloc(n ? n : 1, HL);
    assert_non_null(t->leaf);
    assert_non_null(t->ref_leaf);
    for (uint64_t i = 0; i < n; i++) {
        int len = snprintf(data, sizeof data, "leaf-%" PRIu64, i);
        cry_merkle_leaf_hash(t->leaf[i], (const uint8_t *)data, (size_t)len);
        ref_leaf_hash(t->ref_leaf[i], i);
    }
}

static void tree_release(struct tree *t)
{
    free(t->leaf);
    free(t->ref_leaf);
    t->leaf = t->ref_leaf = NULL;
}

/* A source over exactly the first n leaves, so a request past the tree is an error. */
struct view {
    struct cry_merkle_mem mem;
    struct cry_merkle_source src;
};

static void view_init(struct view *v, const struct tree *t, uint64_t n)
{
    assert_true(n <= t->n);
    v->mem.leaves = (const uint8_t(*)[HL])t->leaf;
    v->mem.n = n;
    v->src.get = cry_merkle_mem_subtree;
    v->src.ctx = &v->mem;
}

static void lib_root(const struct tree *t, uint64_t n, uint8_t out[HL])
{
    struct view v;

    view_init(&v, t, n);
    EXPECT_RC(cry_merkle_root(&v.src, n, out), 0, "cry_merkle_root(size %" PRIu64 ")", n);
}

/* ---- known-answer vectors ------------------------------------------------------------ */

static uint64_t json_u64(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    assert_non_null(v);
    assert_true(json_is_integer(v));
    assert_true(json_integer_value(v) >= 0);
    return (uint64_t)json_integer_value(v);
}

/* Decodes a JSON array of hex hashes; returns its length. */
static size_t json_hashes(json_t *obj, const char *key, hash_t *out)
{
    json_t *arr = json_object_get(obj, key), *h;
    size_t i;

    assert_non_null(arr);
    assert_true(json_is_array(arr));
    assert_true(json_array_size(arr) <= CRY_MERKLE_MAX_PROOF);
    json_array_foreach(arr, i, h)
    {
        assert_true(json_is_string(h));
        tn_test_unhex(out[i], HL, json_string_value(h));
    }
    return json_array_size(arr);
}

static json_t *load_vectors(void)
{
    json_error_t jerr;
    json_t *doc = json_load_file(VECTORS, 0, &jerr);

    if (!doc)
        fail_msg("%s:%d: %s", VECTORS, jerr.line, jerr.text);
    assert_true(json_is_object(doc));
    return doc;
}

static json_t *vector_array(json_t *doc, const char *key)
{
    json_t *arr = json_object_get(doc, key);

    assert_non_null(arr);
    assert_true(json_is_array(arr));
    assert_true(json_array_size(arr) > 0);
    return arr;
}

/* Largest tree size any vector needs. */
static uint64_t vectors_max_size(json_t *doc)
{
    static const char *const arrays[3] = {"roots", "inclusion", "consistency"};
    static const char *const keys[3] = {"size", "size", "to"};
    uint64_t max = 0, s;
    json_t *arr, *e;
    size_t i;

    for (int a = 0; a < 3; a++) {
        arr = vector_array(doc, arrays[a]);
        json_array_foreach(arr, i, e) if ((s = json_u64(e, keys[a])) > max) max = s;
    }
    return max;
}

static void test_vectors_roots(void **state)
{
    json_t *doc = load_vectors(), *arr = vector_array(doc, "roots"), *e;
    struct tree t;
    size_t i, checked = 0;

    (void)state;
    tree_init(&t, vectors_max_size(doc));
    json_array_foreach(arr, i, e)
    {
        uint64_t size = json_u64(e, "size");
        uint8_t want[HL], got[HL], ref[HL];
        json_t *root = json_object_get(e, "root");

        assert_true(json_is_string(root));
        tn_test_unhex(want, HL, json_string_value(root));
        lib_root(&t, size, got);
        EXPECT_HASH(got, want, "vector root, size %" PRIu64, size);
        /* the vectors agree with the reference too, so the reference is trustworthy */
        ref_mth(t.ref_leaf, 0, size, ref);
        EXPECT_HASH(ref, want, "reference MTH vs vector, size %" PRIu64, size);
        checked++;
    }
    assert_int_equal(checked, json_array_size(arr));
    tree_release(&t);
    json_decref(doc);
}

static void test_vectors_inclusion(void **state)
{
    json_t *doc = load_vectors(), *arr = vector_array(doc, "inclusion"), *e;
    struct tree t;
    size_t i, checked = 0;

    (void)state;
    tree_init(&t, vectors_max_size(doc));
    json_array_foreach(arr, i, e)
    {
        uint64_t index = json_u64(e, "index"), size = json_u64(e, "size");
        hash_t want[CRY_MERKLE_MAX_PROOF], got[CRY_MERKLE_MAX_PROOF];
        size_t want_len = json_hashes(e, "path", want), got_len = 999;
        uint8_t root[HL];
        struct view v;

        view_init(&v, &t, size);
        EXPECT_RC(cry_merkle_inclusion_proof(&v.src, index, size, got, &got_len), 0,
                  "inclusion proof (%" PRIu64 ", %" PRIu64 ")", index, size);
        assert_int_equal(got_len, want_len);
        for (size_t j = 0; j < want_len; j++)
            EXPECT_HASH(got[j], want[j], "inclusion (%" PRIu64 ", %" PRIu64 ") entry %zu", index,
                        size, j);
        lib_root(&t, size, root);
        EXPECT_RC(cry_merkle_verify_inclusion(t.leaf[index], index, size,
                                              (const uint8_t(*)[HL])want, want_len, root),
                  0, "verify vector inclusion (%" PRIu64 ", %" PRIu64 ")", index, size);
        checked++;
    }
    assert_int_equal(checked, json_array_size(arr));
    tree_release(&t);
    json_decref(doc);
}

static void test_vectors_consistency(void **state)
{
    json_t *doc = load_vectors(), *arr = vector_array(doc, "consistency"), *e;
    struct tree t;
    size_t i, checked = 0;

    (void)state;
    tree_init(&t, vectors_max_size(doc));
    json_array_foreach(arr, i, e)
    {
        uint64_t from = json_u64(e, "from"), to = json_u64(e, "to");
        hash_t want[CRY_MERKLE_MAX_PROOF], got[CRY_MERKLE_MAX_PROOF];
        size_t want_len = json_hashes(e, "proof", want), got_len = 999;
        uint8_t old_root[HL], new_root[HL];
        struct view v;

        view_init(&v, &t, to);
        EXPECT_RC(cry_merkle_consistency_proof(&v.src, from, to, got, &got_len), 0,
                  "consistency proof (%" PRIu64 ", %" PRIu64 ")", from, to);
        assert_int_equal(got_len, want_len);
        for (size_t j = 0; j < want_len; j++)
            EXPECT_HASH(got[j], want[j], "consistency (%" PRIu64 ", %" PRIu64 ") entry %zu", from,
                        to, j);
        lib_root(&t, from, old_root);
        lib_root(&t, to, new_root);
        EXPECT_RC(cry_merkle_verify_consistency(from, to, old_root, new_root,
                                                (const uint8_t(*)[HL])want, want_len),
                  0, "verify vector consistency (%" PRIu64 ", %" PRIu64 ")", from, to);
        checked++;
    }
    assert_int_equal(checked, json_array_size(arr));
    tree_release(&t);
    json_decref(doc);
}

/* ---- hashing primitives -------------------------------------------------------------- */

static void test_leaf_and_node_hash(void **state)
{
    /* SHA-256("") and SHA-256(0x00) (RFC 9162: MTH({}) and the hash of an empty leaf) */
    static const char empty_sha[] =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static const char leaf_empty[] =
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d";
    uint8_t want[HL], got[HL], l[HL], r[HL];
    struct cry_merkle_source nosrc = {NULL, NULL};

    (void)state;
    tn_test_unhex(want, HL, leaf_empty);
    cry_merkle_leaf_hash(got, NULL, 0);
    assert_memory_equal(got, want, HL);

    /* the root of the empty tree never consults the source */
    tn_test_unhex(want, HL, empty_sha);
    memset(got, 0xaa, HL);
    assert_int_equal(cry_merkle_root(&nosrc, 0, got), 0);
    assert_memory_equal(got, want, HL);

    for (uint64_t i = 0; i < 50; i++) {
        char data[32];
        int n = snprintf(data, sizeof data, "leaf-%" PRIu64, i);

        ref_leaf_hash(want, i);
        cry_merkle_leaf_hash(got, (const uint8_t *)data, (size_t)n);
        assert_memory_equal(got, want, HL);
    }
    ref_leaf_hash(l, 1);
    ref_leaf_hash(r, 2);
    ref_node_hash(want, l, r);
    cry_merkle_node_hash(got, l, r);
    assert_memory_equal(got, want, HL);
    /* order matters */
    cry_merkle_node_hash(got, r, l);
    assert_memory_not_equal(got, want, HL);
}

/* ---- argument checks ----------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    struct tree t;
    struct view v;
    hash_t path[CRY_MERKLE_MAX_PROOF];
    uint8_t root[HL], other[HL];
    size_t len;

    (void)state;
    tree_init(&t, 8);
    view_init(&v, &t, 8);
    lib_root(&t, 8, root);

    assert_int_equal(cry_merkle_inclusion_proof(&v.src, 8, 8, path, &len), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_inclusion_proof(&v.src, 9, 8, path, &len), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_inclusion_proof(&v.src, 0, 0, path, &len), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_consistency_proof(&v.src, 0, 8, path, &len), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_consistency_proof(&v.src, 0, 0, path, &len), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_consistency_proof(&v.src, 8, 7, path, &len), TN_ERR_INVALID);

    /* old == new: empty proof */
    len = 99;
    assert_int_equal(cry_merkle_consistency_proof(&v.src, 8, 8, path, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(cry_merkle_verify_consistency(8, 8, root, root, NULL, 0), 0);

    /* size 1: the root is the leaf hash and the path is empty */
    lib_root(&t, 1, other);
    assert_memory_equal(other, t.ref_leaf[0], HL);
    len = 99;
    view_init(&v, &t, 1);
    assert_int_equal(cry_merkle_inclusion_proof(&v.src, 0, 1, path, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(cry_merkle_verify_inclusion(t.leaf[0], 0, 1, NULL, 0, other), 0);

    assert_int_equal(cry_merkle_verify_inclusion(t.leaf[0], 0, 0, NULL, 0, root), TN_ERR_PROOF);
    assert_int_equal(cry_merkle_verify_inclusion(t.leaf[0], 1, 1, NULL, 0, other), TN_ERR_PROOF);
    assert_int_equal(cry_merkle_verify_consistency(0, 8, root, root, NULL, 0), TN_ERR_PROOF);
    assert_int_equal(cry_merkle_verify_consistency(0, 0, root, root, NULL, 0), TN_ERR_PROOF);
    assert_int_equal(cry_merkle_verify_consistency(8, 7, root, root, NULL, 0), TN_ERR_PROOF);
    tree_release(&t);
}

/* ---- randomized trees ---------------------------------------------------------------- */

static void flip_bit(uint8_t h[HL], struct rng *r)
{
    unsigned bit = (unsigned)rng_below(r, HL * 8);

    h[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

struct counts {
    unsigned inclusion, consistency, tampered, forced_fail_sizes;
};

/* Checks every tampered variant of a valid inclusion proof: the library must agree with
 * the reference verifier, and the variants that cannot be valid must fail. */
static void tamper_inclusion(const struct tree *t, uint64_t i, uint64_t n, const hash_t *path,
                             size_t len, const uint8_t root[HL], struct rng *r, struct counts *c)
{
    hash_t p[CRY_MERKLE_MAX_PROOF + 1];
    uint8_t h[HL];
    const uint8_t(*pp)[HL] = (const uint8_t(*)[HL])p;

#define MUST_FAIL_INCL(leaf_, i_, n_, len_, root_, what)                                           \
    do {                                                                                           \
        assert_false(ref_verify_inclusion((leaf_), (i_), (n_), p, (len_), (root_)));               \
        EXPECT_RC(cry_merkle_verify_inclusion((leaf_), (i_), (n_), pp, (len_), (root_)),           \
                  TN_ERR_PROOF, "inclusion (%" PRIu64 ", %" PRIu64 ") %s", i, n, what);            \
        c->tampered++;                                                                             \
    } while (0)

    memcpy(p, path, len * HL);
    /* a flipped bit in any one entry */
    for (size_t j = 0; j < len; j++) {
        flip_bit(p[j], r);
        MUST_FAIL_INCL(t->leaf[i], i, n, len, root, "bit flip");
        memcpy(p[j], path[j], HL);
    }
    /* wrong index: another leaf's position, or one past the tree */
    if (n > 1) {
        uint64_t j = (i + 1 + rng_below(r, n - 1)) % n;
        MUST_FAIL_INCL(t->leaf[i], j, n, len, root, "wrong index");
        if ((i ^ 1) < n)
            MUST_FAIL_INCL(t->leaf[i], i ^ 1, n, len, root, "sibling index");
    }
    MUST_FAIL_INCL(t->leaf[i], n, n, len, root, "index == size");
    MUST_FAIL_INCL(t->leaf[i], UINT64_MAX, n, len, root, "index UINT64_MAX");
    /* wrong size. A size with a different path length can never verify; a size with the
     * same path shape can (e.g. index 0 in sizes 3 and 4 walks the same way), since
     * RFC 9162 leaves binding size to root to the signed checkpoint, so those are only
     * required to agree with the reference. */
    MUST_FAIL_INCL(t->leaf[i], i, 2 * n, len, root, "size doubled");
    MUST_FAIL_INCL(t->leaf[i], i, i, len, root, "size == index");
    MUST_FAIL_INCL(t->leaf[i], i, 0, len, root, "size 0");
    {
        uint64_t sizes[4] = {n - 1, n + 1, i + 1 + rng_below(r, 2 * n), n + 1 + rng_below(r, n)};
        for (size_t s = 0; s < 4; s++) {
            uint64_t n2 = sizes[s];
            bool want;
            int rc;
            if (n2 == n || n2 <= i)
                continue;
            want = ref_verify_inclusion(t->leaf[i], i, n2, p, len, root);
            rc = cry_merkle_verify_inclusion(t->leaf[i], i, n2, pp, len, root);
            EXPECT_RC(rc, want ? 0 : TN_ERR_PROOF,
                      "inclusion (%" PRIu64 ", %" PRIu64 ") checked as size %" PRIu64, i, n, n2);
            if (ref_path_len(i, n2) != len) {
                assert_false(want);
                c->forced_fail_sizes++;
            }
            c->tampered++;
        }
    }
    /* truncated: last entry dropped, first entry dropped */
    if (len > 0) {
        MUST_FAIL_INCL(t->leaf[i], i, n, len - 1, root, "truncated");
        memmove(p, p + 1, (len - 1) * HL);
        MUST_FAIL_INCL(t->leaf[i], i, n, len - 1, root, "first entry dropped");
        memcpy(p, path, len * HL);
    }
    /* an extra entry, random or repeating the last one */
    randombytes_buf(p[len], HL);
    MUST_FAIL_INCL(t->leaf[i], i, n, len + 1, root, "extra entry");
    if (len > 0) {
        memcpy(p[len], p[len - 1], HL);
        MUST_FAIL_INCL(t->leaf[i], i, n, len + 1, root, "repeated entry");
    }
    /* an extra entry and a root made to match it: the path is longer than any path in a
     * tree of this size, whatever it hashes to */
    randombytes_buf(p[len], HL);
    ref_node_hash(h, p[len], root);
    MUST_FAIL_INCL(t->leaf[i], i, n, len + 1, h, "extra entry, root to match (right)");
    ref_node_hash(h, root, p[len]);
    MUST_FAIL_INCL(t->leaf[i], i, n, len + 1, h, "extra entry, root to match (left)");
    /* wrong root, wrong leaf */
    memcpy(h, root, HL);
    flip_bit(h, r);
    MUST_FAIL_INCL(t->leaf[i], i, n, len, h, "wrong root");
    memcpy(h, t->leaf[i], HL);
    flip_bit(h, r);
    MUST_FAIL_INCL(h, i, n, len, root, "wrong leaf hash");
    if (n > 1)
        MUST_FAIL_INCL(t->leaf[(i + 1) % n], i, n, len, root, "another leaf");
#undef MUST_FAIL_INCL
}

static void tamper_consistency(uint64_t m, uint64_t n, const hash_t *proof, size_t len,
                               const uint8_t old_root[HL], const uint8_t new_root[HL],
                               struct rng *r, struct counts *c)
{
    hash_t p[CRY_MERKLE_MAX_PROOF + 1];
    uint8_t h[HL];
    const uint8_t(*pp)[HL] = (const uint8_t(*)[HL])p;

#define MUST_FAIL_CONS(m_, n_, o_, nw_, len_, what)                                                \
    do {                                                                                           \
        assert_false(ref_verify_consistency((m_), (n_), (o_), (nw_), p, (len_)));                  \
        EXPECT_RC(cry_merkle_verify_consistency((m_), (n_), (o_), (nw_), pp, (len_)),              \
                  TN_ERR_PROOF, "consistency (%" PRIu64 ", %" PRIu64 ") %s", m, n, what);          \
        c->tampered++;                                                                             \
    } while (0)

    memcpy(p, proof, len * HL);
    if (m == n) {
        assert_int_equal(len, 0);
        randombytes_buf(p[0], HL);
        MUST_FAIL_CONS(m, n, old_root, new_root, 1, "non-empty proof for equal sizes");
        memcpy(h, old_root, HL);
        flip_bit(h, r);
        MUST_FAIL_CONS(m, n, old_root, h, 0, "equal sizes, different roots");
        MUST_FAIL_CONS(m, n + 1, old_root, new_root, 0, "empty proof, bigger new size");
        return;
    }
    for (size_t j = 0; j < len; j++) {
        flip_bit(p[j], r);
        MUST_FAIL_CONS(m, n, old_root, new_root, len, "bit flip");
        memcpy(p[j], proof[j], HL);
    }
    MUST_FAIL_CONS(0, n, old_root, new_root, len, "old size 0");
    MUST_FAIL_CONS(n + 1, n, old_root, new_root, len, "old size > new size");
    MUST_FAIL_CONS(m, n, old_root, new_root, 0, "empty proof");
    /* wrong sizes: same rule as for inclusion */
    {
        uint64_t olds[3] = {m - 1, m + 1, 1 + rng_below(r, n)};
        uint64_t news[4] = {n - 1, n + 1, 2 * n, m + rng_below(r, 2 * n)};
        for (size_t s = 0; s < 3 + 4; s++) {
            uint64_t m2 = s < 3 ? olds[s] : m, n2 = s < 3 ? n : news[s - 3];
            bool want;
            if ((m2 == m && n2 == n) || m2 == 0 || m2 > n2)
                continue;
            want = ref_verify_consistency(m2, n2, old_root, new_root, p, len);
            EXPECT_RC(cry_merkle_verify_consistency(m2, n2, old_root, new_root, pp, len),
                      want ? 0 : TN_ERR_PROOF,
                      "consistency (%" PRIu64 ", %" PRIu64 ") checked as (%" PRIu64 ", %" PRIu64
                      ")",
                      m, n, m2, n2);
            if (ref_subproof_len(m2, n2, true) != len) {
                assert_false(want);
                c->forced_fail_sizes++;
            }
            c->tampered++;
        }
    }
    MUST_FAIL_CONS(m, n, old_root, new_root, len - 1, "truncated");
    memmove(p, p + 1, (len - 1) * HL);
    MUST_FAIL_CONS(m, n, old_root, new_root, len - 1, "first entry dropped");
    memcpy(p, proof, len * HL);
    randombytes_buf(p[len], HL);
    MUST_FAIL_CONS(m, n, old_root, new_root, len + 1, "extra entry");
    memcpy(p[len], p[len - 1], HL);
    MUST_FAIL_CONS(m, n, old_root, new_root, len + 1, "repeated entry");
    /* an extra entry and roots made to match it */
    {
        uint8_t o2[HL];
        randombytes_buf(p[len], HL);
        ref_node_hash(o2, p[len], old_root);
        ref_node_hash(h, p[len], new_root);
        MUST_FAIL_CONS(m, n, o2, h, len + 1, "extra entry, roots to match");
        MUST_FAIL_CONS(m, n, old_root, h, len + 1, "extra entry, new root to match");
        ref_node_hash(h, new_root, p[len]);
        MUST_FAIL_CONS(m, n, old_root, h, len + 1, "extra entry, new root to match (left)");
    }

    memcpy(h, old_root, HL);
    flip_bit(h, r);
    MUST_FAIL_CONS(m, n, h, new_root, len, "wrong old root");
    memcpy(h, new_root, HL);
    flip_bit(h, r);
    MUST_FAIL_CONS(m, n, old_root, h, len, "wrong new root");
    MUST_FAIL_CONS(m, n, new_root, old_root, len, "roots swapped");
#undef MUST_FAIL_CONS
}

static void check_inclusion(const struct tree *t, uint64_t i, uint64_t n, const uint8_t root[HL],
                            struct rng *r, struct counts *c)
{
    hash_t got[CRY_MERKLE_MAX_PROOF], want[CRY_MERKLE_MAX_PROOF];
    size_t got_len = 999, want_len = 0;
    struct view v;

    view_init(&v, t, n);
    EXPECT_RC(cry_merkle_inclusion_proof(&v.src, i, n, got, &got_len), 0,
              "inclusion proof (%" PRIu64 ", %" PRIu64 ")", i, n);
    ref_path(t->ref_leaf, i, 0, n, want, &want_len);
    assert_int_equal(got_len, want_len);
    assert_int_equal(got_len, ref_path_len(i, n));
    for (size_t j = 0; j < got_len; j++)
        EXPECT_HASH(got[j], want[j], "inclusion (%" PRIu64 ", %" PRIu64 ") entry %zu", i, n, j);
    assert_true(ref_verify_inclusion(t->ref_leaf[i], i, n, want, want_len, root));
    EXPECT_RC(
        cry_merkle_verify_inclusion(t->leaf[i], i, n, (const uint8_t(*)[HL])got, got_len, root), 0,
        "verify inclusion (%" PRIu64 ", %" PRIu64 ")", i, n);
    tamper_inclusion(t, i, n, got, got_len, root, r, c);
    c->inclusion++;
}

static void check_consistency(const struct tree *t, uint64_t m, uint64_t n,
                              const uint8_t new_root[HL], struct rng *r, struct counts *c)
{
    hash_t got[CRY_MERKLE_MAX_PROOF], want[CRY_MERKLE_MAX_PROOF];
    size_t got_len = 999, want_len = 0;
    uint8_t old_root[HL];
    struct view v;

    view_init(&v, t, n);
    EXPECT_RC(cry_merkle_consistency_proof(&v.src, m, n, got, &got_len), 0,
              "consistency proof (%" PRIu64 ", %" PRIu64 ")", m, n);
    ref_subproof(t->ref_leaf, m, 0, n, true, want, &want_len);
    assert_int_equal(got_len, want_len);
    assert_int_equal(got_len, ref_subproof_len(m, n, true));
    for (size_t j = 0; j < got_len; j++)
        EXPECT_HASH(got[j], want[j], "consistency (%" PRIu64 ", %" PRIu64 ") entry %zu", m, n, j);
    ref_mth(t->ref_leaf, 0, m, old_root);
    assert_true(ref_verify_consistency(m, n, old_root, new_root, want, want_len));
    EXPECT_RC(
        cry_merkle_verify_consistency(m, n, old_root, new_root, (const uint8_t(*)[HL])got, got_len),
        0, "verify consistency (%" PRIu64 ", %" PRIu64 ")", m, n);
    tamper_consistency(m, n, got, got_len, old_root, new_root, r, c);
    c->consistency++;
}

static void check_tree_size(const struct tree *t, uint64_t n, struct rng *r, struct counts *c)
{
    uint8_t root[HL], ref[HL];
    /* small trees: every index and every old size; bigger ones: the edges plus a sample */
    bool all = n <= 64;
    uint64_t picks = all ? n : 8;

    lib_root(t, n, root);
    ref_mth(t->ref_leaf, 0, n, ref);
    EXPECT_HASH(root, ref, "root of size %" PRIu64 " vs naive MTH", n);

    for (uint64_t j = 0; j < picks; j++) {
        uint64_t i = all ? j : j == 0 ? 0 : j == 1 ? n - 1 : rng_below(r, n);
        check_inclusion(t, i, n, root, r, c);
    }
    for (uint64_t j = 0; j < picks; j++) {
        uint64_t m = all ? j + 1 : j == 0 ? 1 : j == 1 ? n - 1 : j == 2 ? n : 1 + rng_below(r, n);
        check_consistency(t, m, n, root, r, c);
    }
}

static void test_random_trees(void **state)
{
    static const uint64_t big[] = {511, 512, 513, 1000, 1023, 1024, 1025, 4097};
    struct rng r = {UINT64_C(0x7472616365)};
    struct counts c = {0, 0, 0, 0};
    struct tree t;

    (void)state;
    tree_init(&t, 4097);
    for (uint64_t n = 1; n <= 300; n++)
        check_tree_size(&t, n, &r, &c);
    for (size_t k = 0; k < sizeof big / sizeof big[0]; k++)
        check_tree_size(&t, big[k], &r, &c);
    /* the loops really ran: exhaustive part 1..64 plus samples above */
    assert_int_equal(c.inclusion, 64 * 65 / 2 + (300 - 64 + 8) * 8);
    assert_int_equal(c.consistency, c.inclusion);
    assert_true(c.forced_fail_sizes > 1000);
    assert_true(c.tampered > 50000);
    tree_release(&t);
}

/* Consistency between random pairs (m, n) drawn from one big tree. */
static void test_random_pairs(void **state)
{
    struct rng r = {42};
    struct counts c = {0, 0, 0, 0};
    struct tree t;

    (void)state;
    tree_init(&t, 1100);
    for (int k = 0; k < 300; k++) {
        uint64_t n = 1 + rng_below(&r, 1100), m = 1 + rng_below(&r, n), i = rng_below(&r, n);
        uint8_t root[HL];

        lib_root(&t, n, root);
        check_inclusion(&t, i, n, root, &r, &c);
        check_consistency(&t, m, n, root, &r, &c);
    }
    assert_int_equal(c.inclusion, 300);
    assert_int_equal(c.consistency, 300);
    tree_release(&t);
}

/* ---- source errors ------------------------------------------------------------------- */

struct fault_src {
    struct cry_merkle_mem mem;
    unsigned calls;
    unsigned fail_at; /* the call that fails; UINT_MAX: none */
    int err;
};

static int fault_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
    struct fault_src *f = ctx;

    if (f->calls++ == f->fail_at)
        return f->err;
    return cry_merkle_mem_subtree(&f->mem, level, index, out);
}

enum op { OP_ROOT, OP_INCLUSION, OP_CONSISTENCY };

static int run_op(enum op op, struct fault_src *f, uint64_t a, uint64_t n)
{
    struct cry_merkle_source src = {fault_get, f};
    hash_t path[CRY_MERKLE_MAX_PROOF];
    uint8_t root[HL];
    size_t len;

    switch (op) {
    case OP_ROOT:
        return cry_merkle_root(&src, n, root);
    case OP_INCLUSION:
        return cry_merkle_inclusion_proof(&src, a, n, path, &len);
    case OP_CONSISTENCY:
        return cry_merkle_consistency_proof(&src, a, n, path, &len);
    }
    return -999;
}

static void test_source_error_propagates(void **state)
{
    static const int errs[] = {TN_ERR_IO, TN_ERR_CORRUPT, TN_ERR_NOT_FOUND, TN_ERR_NOMEM};
    static const struct {
        enum op op;
        uint64_t a, n;
    } cases[] = {
        {OP_ROOT, 0, 1},         {OP_ROOT, 0, 13},          {OP_ROOT, 0, 1000},
        {OP_INCLUSION, 0, 2},    {OP_INCLUSION, 5, 13},     {OP_INCLUSION, 999, 1000},
        {OP_INCLUSION, 12, 13},  {OP_CONSISTENCY, 1, 2},    {OP_CONSISTENCY, 3, 13},
        {OP_CONSISTENCY, 8, 13}, {OP_CONSISTENCY, 7, 1000}, {OP_CONSISTENCY, 512, 1000},
    };
    struct tree t;
    unsigned checked = 0;

    (void)state;
    tree_init(&t, 1000);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct fault_src f = {{(const uint8_t(*)[HL])t.leaf, cases[c].n}, 0, UINT_MAX, 0};
        unsigned total;

        assert_int_equal(run_op(cases[c].op, &f, cases[c].a, cases[c].n), 0);
        total = f.calls;
        assert_true(total > 0);
        for (unsigned k = 0; k < total; k++) {
            f.calls = 0;
            f.fail_at = k;
            f.err = errs[k % 4];
            EXPECT_RC(run_op(cases[c].op, &f, cases[c].a, cases[c].n), f.err,
                      "op %d (%" PRIu64 ", %" PRIu64 ") with lookup %u failing", (int)cases[c].op,
                      cases[c].a, cases[c].n, k);
            /* the first error aborts: no lookups after it */
            assert_int_equal(f.calls, k + 1);
            checked++;
        }
    }
    assert_true(checked > 50);
    tree_release(&t);
}

/* ---- the in-memory source ------------------------------------------------------------ */

static void test_mem_source(void **state)
{
    struct tree t;
    struct cry_merkle_mem mem;
    uint8_t h[HL], want[HL];

    (void)state;
    tree_init(&t, 6);
    mem.leaves = (const uint8_t(*)[HL])t.leaf;
    mem.n = 6;
    assert_int_equal(cry_merkle_mem_subtree(&mem, 0, 5, h), 0);
    assert_memory_equal(h, t.ref_leaf[5], HL);
    assert_int_equal(cry_merkle_mem_subtree(&mem, 1, 2, h), 0);
    ref_mth(t.ref_leaf, 4, 2, want);
    assert_memory_equal(h, want, HL);
    assert_int_equal(cry_merkle_mem_subtree(&mem, 2, 0, h), 0);
    ref_mth(t.ref_leaf, 0, 4, want);
    assert_memory_equal(h, want, HL);

    assert_int_equal(cry_merkle_mem_subtree(&mem, 0, 6, h), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_mem_subtree(&mem, 1, 3, h), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_mem_subtree(&mem, 2, 1, h), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_mem_subtree(&mem, 3, 0, h), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_mem_subtree(&mem, 64, 0, h), TN_ERR_INVALID);
    assert_int_equal(cry_merkle_mem_subtree(&mem, 200, 0, h), TN_ERR_INVALID);
    tree_release(&t);
}

/* Subtrees whose end (index + 1) << level does not fit in 64 bits are past any tree too.
 * Run in a child: a wrapped bounds check would read outside the leaf array. */
static int mem_far_child(unsigned level, uint64_t index)
{
    /* the leaves sit inside a bigger buffer so a read just before them is not a crash */
    static hash_t buf[8];
    struct cry_merkle_mem mem = {(const uint8_t(*)[HL]) & buf[4], 4};
    uint8_t h[HL];

    return cry_merkle_mem_subtree(&mem, level, index, h) == TN_ERR_INVALID ? 0 : 1;
}

/* Starts fn(a, b) in a child that is killed after a time limit. */
static pid_t child_start(int (*fn)(uint64_t, uint64_t), uint64_t a, uint64_t b, unsigned seconds)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(seconds);
        _exit(fn(a, b));
    }
    return pid;
}

/* Waits for a child_start child: "ok", or what went wrong. */
static const char *child_result(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 0 ? "ok" : "wrong result";
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return "did not return (timeout)";
    return "crashed";
}

static int mem_far_fn(uint64_t level, uint64_t index)
{
    return mem_far_child((unsigned)level, index);
}

static void test_mem_source_index_overflow(void **state)
{
    static const struct {
        unsigned level;
        uint64_t index;
    } cases[] = {
        {0, UINT64_MAX},        /* index + 1 wraps to 0 */
        {1, UINT64_C(1) << 63}, /* (index + 1) << 1 wraps to 2 */
        {2, UINT64_C(1) << 62}, /* (index + 1) << 2 wraps to 4 */
        {63, 1},                /* 2 << 63 wraps to 0 */
        {1, UINT64_MAX},        /* wraps to 0 */
    };
    const char *res[sizeof cases / sizeof cases[0]];
    bool bad = false;

    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        res[k] = child_result(child_start(mem_far_fn, cases[k].level, cases[k].index, 10));
        if (strcmp(res[k], "ok") != 0) {
            print_error("cry_merkle_mem_subtree(n=4, level %u, index %" PRIu64
                        "): want TN_ERR_INVALID, %s\n",
                        cases[k].level, cases[k].index, res[k]);
            bad = true;
        }
    }
    assert_false(bad);
}

/* ---- huge trees ---------------------------------------------------------------------- */

/* A source for a tree whose leaves all have the same hash, so perfect subtrees of one level
 * are all equal: P[0] = leaf, P[l] = H(P[l-1], P[l-1]). Lets proofs for 2^63-leaf trees be
 * built and checked without storing anything. */
static hash_t uniform[64];

static void uniform_init(void)
{
    static const uint8_t leaf[] = "\0uniform"; /* 0x00 || data, as a leaf hash */

    crypto_hash_sha256(uniform[0], leaf, sizeof leaf - 1);
    for (int l = 1; l < 64; l++)
        ref_node_hash(uniform[l], uniform[l - 1], uniform[l - 1]);
}

struct uniform_src {
    uint64_t n;
    unsigned calls;
};

static int uniform_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
    struct uniform_src *u = ctx;

    u->calls++;
    /* perfect subtree (level, index) lies inside the first n leaves */
    if (level >= 64 || index >= (u->n >> level))
        return TN_ERR_INVALID;
    memcpy(out, uniform[level], HL);
    return 0;
}

static void uniform_mth(uint64_t n, uint8_t out[HL])
{
    uint8_t r[HL];
    uint64_t k;

    if ((n & (n - 1)) == 0) {
        memcpy(out, uniform[__builtin_ctzll(n)], HL);
        return;
    }
    k = ref_split(n);
    uniform_mth(n - k, r);
    ref_node_hash(out, uniform[__builtin_ctzll(k)], r);
}

static void uniform_path(uint64_t m, uint64_t n, hash_t *out, size_t *len)
{
    uint64_t k;

    if (n == 1)
        return;
    k = ref_split(n);
    if (m < k) {
        uniform_path(m, k, out, len);
        uniform_mth(n - k, out[(*len)++]);
    } else {
        uniform_path(m - k, n - k, out, len);
        uniform_mth(k, out[(*len)++]);
    }
}

static void uniform_subproof(uint64_t m, uint64_t n, bool b, hash_t *out, size_t *len)
{
    uint64_t k;

    if (m == n) {
        if (!b)
            uniform_mth(n, out[(*len)++]);
        return;
    }
    k = ref_split(n);
    if (m <= k) {
        uniform_subproof(m, k, b, out, len);
        uniform_mth(n - k, out[(*len)++]);
    } else {
        uniform_subproof(m - k, n - k, false, out, len);
        uniform_mth(k, out[(*len)++]);
    }
}

static void test_huge_trees(void **state)
{
    static const uint64_t sizes[] = {
        (UINT64_C(1) << 32) + 1, (UINT64_C(1) << 40) + 12345, (UINT64_C(1) << 62) + 7,
        (UINT64_C(1) << 63) - 1, UINT64_C(1) << 63,
    };
    struct rng r = {7};

    (void)state;
    uniform_init();
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t n = sizes[s];
        struct uniform_src u = {n, 0};
        struct cry_merkle_source src = {uniform_get, &u};
        uint8_t root[HL], want[HL];
        hash_t got[CRY_MERKLE_MAX_PROOF], ref[CRY_MERKLE_MAX_PROOF];
        size_t got_len, ref_len;

        EXPECT_RC(cry_merkle_root(&src, n, root), 0, "root of huge size %" PRIu64, n);
        uniform_mth(n, want);
        EXPECT_HASH(root, want, "root of huge size %" PRIu64, n);
        /* O(log n) lookups, never a rebuild */
        assert_true(u.calls <= 64);

        for (int k = 0; k < 8; k++) {
            uint64_t i = k == 0 ? 0 : k == 1 ? n - 1 : rng_below(&r, n);
            uint64_t m = k == 0 ? 1 : k == 1 ? n - 1 : 1 + rng_below(&r, n);
            uint8_t old_root[HL];

            got_len = 999;
            ref_len = 0;
            EXPECT_RC(cry_merkle_inclusion_proof(&src, i, n, got, &got_len), 0,
                      "inclusion (%" PRIu64 ", %" PRIu64 ")", i, n);
            uniform_path(i, n, ref, &ref_len);
            assert_int_equal(got_len, ref_len);
            assert_memory_equal(got, ref, ref_len * HL);
            EXPECT_RC(cry_merkle_verify_inclusion(uniform[0], i, n, (const uint8_t(*)[HL])got,
                                                  got_len, root),
                      0, "verify inclusion (%" PRIu64 ", %" PRIu64 ")", i, n);
            /* a wrong size agrees with the reference (all leaves are equal here, so
             * shapes that differ only in direction can still verify) */
            EXPECT_RC(cry_merkle_verify_inclusion(uniform[0], i, n / 2 + 1,
                                                  (const uint8_t(*)[HL])got, got_len, root),
                      ref_verify_inclusion(uniform[0], i, n / 2 + 1, got, got_len, root)
                          ? 0
                          : TN_ERR_PROOF,
                      "inclusion (%" PRIu64 ", %" PRIu64 ") as size n/2+1", i, n);

            got_len = 999;
            ref_len = 0;
            EXPECT_RC(cry_merkle_consistency_proof(&src, m, n, got, &got_len), 0,
                      "consistency (%" PRIu64 ", %" PRIu64 ")", m, n);
            uniform_subproof(m, n, true, ref, &ref_len);
            assert_int_equal(got_len, ref_len);
            assert_memory_equal(got, ref, ref_len * HL);
            uniform_mth(m, old_root);
            EXPECT_RC(cry_merkle_verify_consistency(m, n, old_root, root, (const uint8_t(*)[HL])got,
                                                    got_len),
                      0, "verify consistency (%" PRIu64 ", %" PRIu64 ")", m, n);
        }
    }
}

/* The verifiers take sizes from peers, so sizes above 2^63 must work there too; the proofs
 * are built by the reference. */
static void test_huge_verify_above_2_63(void **state)
{
    static const uint64_t sizes[] = {(UINT64_C(1) << 63) + 1, UINT64_MAX - 1, UINT64_MAX};
    struct rng r = {9};

    (void)state;
    uniform_init();
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t n = sizes[s];
        uint8_t root[HL];

        uniform_mth(n, root);
        for (int k = 0; k < 6; k++) {
            uint64_t i = k == 0 ? 0 : k == 1 ? n - 1 : rng_below(&r, n);
            uint64_t m = k == 0 ? 1 : k == 1 ? n - 1 : 1 + rng_below(&r, n);
            hash_t p[CRY_MERKLE_MAX_PROOF];
            size_t len = 0;
            uint8_t old_root[HL];

            uniform_path(i, n, p, &len);
            EXPECT_RC(
                cry_merkle_verify_inclusion(uniform[0], i, n, (const uint8_t(*)[HL])p, len, root),
                0, "verify inclusion (%" PRIu64 ", %" PRIu64 ")", i, n);
            len = 0;
            uniform_subproof(m, n, true, p, &len);
            assert_true(len <= CRY_MERKLE_MAX_PROOF);
            uniform_mth(m, old_root);
            EXPECT_RC(
                cry_merkle_verify_consistency(m, n, old_root, root, (const uint8_t(*)[HL])p, len),
                0, "verify consistency (%" PRIu64 ", %" PRIu64 ")", m, n);
        }
    }
}

static int huge_op_child(uint64_t op, uint64_t n)
{
    struct uniform_src u = {n, 0};
    struct cry_merkle_source src = {uniform_get, &u};
    hash_t path[CRY_MERKLE_MAX_PROOF];
    uint8_t root[HL], want[HL];
    size_t len;

    uniform_init();
    switch (op) {
    case 0:
        if (cry_merkle_root(&src, n, root) != 0)
            return 1;
        uniform_mth(n, want);
        return memcmp(root, want, HL) != 0;
    case 1:
        if (cry_merkle_inclusion_proof(&src, n - 1, n, path, &len) != 0)
            return 1;
        uniform_mth(n, want);
        return cry_merkle_verify_inclusion(uniform[0], n - 1, n, (const uint8_t(*)[HL])path, len,
                                           want) != 0;
    default:
        if (cry_merkle_consistency_proof(&src, 3, n, path, &len) != 0)
            return 1;
        uniform_mth(n, want);
        uniform_mth(3, root);
        return cry_merkle_verify_consistency(3, n, root, want, (const uint8_t(*)[HL])path, len) !=
               0;
    }
}

/* merkle.h promises trees of up to 2^64 leaves. Run in children with a time limit: a
 * generator that loops forever must not hang the suite. */
static void test_huge_generate_above_2_63(void **state)
{
    static const char *const names[] = {"cry_merkle_root", "cry_merkle_inclusion_proof",
                                        "cry_merkle_consistency_proof"};
    static const uint64_t sizes[] = {(UINT64_C(1) << 63) + 1, UINT64_MAX};
    bool bad = false;

    pid_t pids[2][3];

    (void)state;
    /* all at once, so hanging ones cost one time limit, not six */
    for (size_t s = 0; s < 2; s++)
        for (uint64_t op = 0; op < 3; op++)
            pids[s][op] = child_start(huge_op_child, op, sizes[s], 5);
    for (size_t s = 0; s < 2; s++)
        for (uint64_t op = 0; op < 3; op++) {
            const char *res = child_result(pids[s][op]);
            if (strcmp(res, "ok") != 0) {
                print_error("%s at size %" PRIu64 ": %s\n", names[op], sizes[s], res);
                bad = true;
            }
        }
    assert_false(bad);
}

static int group_setup(void **state)
{
    (void)state;
    return cry_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_roots),
        cmocka_unit_test(test_vectors_inclusion),
        cmocka_unit_test(test_vectors_consistency),
        cmocka_unit_test(test_leaf_and_node_hash),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_random_trees),
        cmocka_unit_test(test_random_pairs),
        cmocka_unit_test(test_source_error_propagates),
        cmocka_unit_test(test_mem_source),
        cmocka_unit_test(test_mem_source_index_overflow),
        cmocka_unit_test(test_huge_trees),
        cmocka_unit_test(test_huge_verify_above_2_63),
        cmocka_unit_test(test_huge_generate_above_2_63),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
