#include "crypto/merkle.h"

#include <sodium.h>
#include <string.h>

void cry_merkle_leaf_hash(uint8_t out[CRY_HASH_LEN], const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;
    const uint8_t prefix = 0x00;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void cry_merkle_node_hash(uint8_t out[CRY_HASH_LEN], const uint8_t left[CRY_HASH_LEN],
                          const uint8_t right[CRY_HASH_LEN])
{
    uint8_t buf[1 + 2 * CRY_HASH_LEN];

    buf[0] = 0x01;
    memcpy(buf + 1, left, CRY_HASH_LEN);
    memcpy(buf + 1 + CRY_HASH_LEN, right, CRY_HASH_LEN);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* Largest power of two strictly less than n (n >= 2): the RFC's split point k. */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;

    /* k < n - k is k * 2 < n without overflowing for n above 2^63 */
    while (k < n - k)
        k <<= 1;
    return k;
}

static unsigned log2_exact(uint64_t n)
{
    unsigned l = 0;

    while ((UINT64_C(1) << l) < n)
        l++;
    return l;
}

static bool is_pow2(uint64_t n)
{
    return n && !(n & (n - 1));
}

/* MTH(D[lo:lo+n]). Every range the RFC recursion visits starts at a multiple of the
 * largest power of two not above its length, so its left parts are stored subtrees; only
 * the right edge recurses. O(log n) source lookups. */
static int range_hash(const struct cry_merkle_source *src, uint64_t lo, uint64_t n,
                      uint8_t out[CRY_HASH_LEN])
{
    uint8_t left[CRY_HASH_LEN], right[CRY_HASH_LEN];
    uint64_t k;
    int rc;

    if (is_pow2(n)) {
        unsigned level = log2_exact(n);
        return src->get(src->ctx, level, lo >> level, out);
    }
    k = split_point(n);
    if ((rc = range_hash(src, lo, k, left)) != 0)
        return rc;
    if ((rc = range_hash(src, lo + k, n - k, right)) != 0)
        return rc;
    cry_merkle_node_hash(out, left, right);
    return 0;
}

int cry_merkle_root(const struct cry_merkle_source *src, uint64_t size,
                    uint8_t root[CRY_HASH_LEN])
{
    if (size == 0) {
        crypto_hash_sha256(root, NULL, 0);
        return 0;
    }
    return range_hash(src, 0, size, root);
}

static int push(uint8_t (*path)[CRY_HASH_LEN], size_t *len, const uint8_t h[CRY_HASH_LEN])
{
    if (*len >= CRY_MERKLE_MAX_PROOF)
        return TN_ERR_INVALID;
    memcpy(path[(*len)++], h, CRY_HASH_LEN);
    return 0;
}

/* PATH(m, D[lo:lo+n]), appended deepest-first as in RFC 9162 2.1.3.1. */
static int inclusion(const struct cry_merkle_source *src, uint64_t m, uint64_t lo, uint64_t n,
                     uint8_t (*path)[CRY_HASH_LEN], size_t *len)
{
    uint8_t h[CRY_HASH_LEN];
    uint64_t k;
    int rc;

    if (n == 1)
        return 0;
    k = split_point(n);
    if (m < k) {
        if ((rc = inclusion(src, m, lo, k, path, len)) != 0)
            return rc;
        if ((rc = range_hash(src, lo + k, n - k, h)) != 0)
            return rc;
    } else {
        if ((rc = inclusion(src, m - k, lo + k, n - k, path, len)) != 0)
            return rc;
        if ((rc = range_hash(src, lo, k, h)) != 0)
            return rc;
    }
    return push(path, len, h);
}

int cry_merkle_inclusion_proof(const struct cry_merkle_source *src, uint64_t index,
                               uint64_t size, uint8_t (*path)[CRY_HASH_LEN], size_t *path_len)
{
    *path_len = 0;
    if (index >= size)
        return TN_ERR_INVALID;
    return inclusion(src, index, 0, size, path, path_len);
}

/* SUBPROOF(m, D[lo:lo+n], b), RFC 9162 2.1.4.1. */
static int subproof(const struct cry_merkle_source *src, uint64_t m, uint64_t lo, uint64_t n,
                    bool b, uint8_t (*path)[CRY_HASH_LEN], size_t *len)
{
    uint8_t h[CRY_HASH_LEN];
    uint64_t k;
    int rc;

    if (m == n) {
        if (b)
            return 0;
        if ((rc = range_hash(src, lo, n, h)) != 0)
            return rc;
        return push(path, len, h);
    }
    k = split_point(n);
    if (m <= k) {
        if ((rc = subproof(src, m, lo, k, b, path, len)) != 0)
            return rc;
        if ((rc = range_hash(src, lo + k, n - k, h)) != 0)
            return rc;
    } else {
        if ((rc = subproof(src, m - k, lo + k, n - k, false, path, len)) != 0)
            return rc;
        if ((rc = range_hash(src, lo, k, h)) != 0)
            return rc;
    }
    return push(path, len, h);
}

int cry_merkle_consistency_proof(const struct cry_merkle_source *src, uint64_t old_size,
                                 uint64_t new_size, uint8_t (*path)[CRY_HASH_LEN],
                                 size_t *path_len)
{
    *path_len = 0;
    if (old_size == 0 || old_size > new_size)
        return TN_ERR_INVALID;
    return subproof(src, old_size, 0, new_size, true, path, path_len);
}

int cry_merkle_verify_inclusion(const uint8_t leaf_hash[CRY_HASH_LEN], uint64_t index,
                                uint64_t size, const uint8_t (*path)[CRY_HASH_LEN],
                                size_t path_len, const uint8_t root[CRY_HASH_LEN])
{
    uint8_t r[CRY_HASH_LEN];
    uint64_t fn, sn;
    size_t i;

    if (index >= size)
        return TN_ERR_PROOF;
    fn = index;
    sn = size - 1;
    memcpy(r, leaf_hash, CRY_HASH_LEN);
    for (i = 0; i < path_len; i++) {
        if (sn == 0)
            return TN_ERR_PROOF;
        if ((fn & 1) || fn == sn) {
            cry_merkle_node_hash(r, path[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cry_merkle_node_hash(r, r, path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(r, root, CRY_HASH_LEN) != 0)
        return TN_ERR_PROOF;
    return 0;
}

int cry_merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
                                  const uint8_t old_root[CRY_HASH_LEN],
                                  const uint8_t new_root[CRY_HASH_LEN],
                                  const uint8_t (*path)[CRY_HASH_LEN], size_t path_len)
{
    uint8_t fr[CRY_HASH_LEN], sr[CRY_HASH_LEN];
    uint64_t fn, sn;
    size_t i = 0;

    if (old_size == 0 || old_size > new_size)
        return TN_ERR_PROOF;
    if (old_size == new_size) {
        if (path_len != 0 || sodium_memcmp(old_root, new_root, CRY_HASH_LEN) != 0)
            return TN_ERR_PROOF;
        return 0;
    }
    if (path_len == 0)
        return TN_ERR_PROOF;
    /* Step 2: a power-of-two old tree is itself the first node of the proof. */
    if (is_pow2(old_size)) {
        memcpy(fr, old_root, CRY_HASH_LEN);
    } else {
        memcpy(fr, path[0], CRY_HASH_LEN);
        i = 1;
    }
    memcpy(sr, fr, CRY_HASH_LEN);
    fn = old_size - 1;
    sn = new_size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < path_len; i++) {
        if (sn == 0)
            return TN_ERR_PROOF;
        if ((fn & 1) || fn == sn) {
            cry_merkle_node_hash(fr, path[i], fr);
            cry_merkle_node_hash(sr, path[i], sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cry_merkle_node_hash(sr, sr, path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(fr, old_root, CRY_HASH_LEN) != 0 ||
        sodium_memcmp(sr, new_root, CRY_HASH_LEN) != 0)
        return TN_ERR_PROOF;
    return 0;
}

int cry_merkle_mem_subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[CRY_HASH_LEN])
{
    const struct cry_merkle_mem *m = ctx;
    uint8_t l[CRY_HASH_LEN], r[CRY_HASH_LEN];
    int rc;

    /* the subtree needs leaves up to (index + 1) << level <= n; shifting n down instead
     * of index up cannot overflow */
    if (level >= 64 || index >= (m->n >> level))
        return TN_ERR_INVALID;
    if (level == 0) {
        memcpy(out, m->leaves[index], CRY_HASH_LEN);
        return 0;
    }
    if ((rc = cry_merkle_mem_subtree(ctx, level - 1, index * 2, l)) != 0 ||
        (rc = cry_merkle_mem_subtree(ctx, level - 1, index * 2 + 1, r)) != 0)
        return rc;
    cry_merkle_node_hash(out, l, r);
    return 0;
}
