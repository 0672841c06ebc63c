/* Fuzz target: the RFC 9162 proof verifiers of crypto/merkle.c, cry_merkle_verify_inclusion
 * (section 2.1.3.2) and cry_merkle_verify_consistency (section 2.1.4.2), against a tiny
 * reference written here from the definitions instead of the iterative algorithms: PATH
 * (2.1.3.1) and SUBPROOF (2.1.4.1) are recursions over the split point k, so a proof is
 * checked by the same recursion, rebuilding the roots from the bottom of the path. Any
 * disagreement between the two is a bug in one of them (__builtin_trap).
 *
 * The first byte picks how the claims start:
 *  - even: a tree of 1..256 leaves built from the input; cry_merkle_inclusion_proof and
 *    cry_merkle_consistency_proof give proofs for sizes and indexes from the input, which
 *    both verifiers must accept, with cry_merkle_root equal to a naive MTH;
 *  - odd: index, sizes up to 2^64 - 1 and path hashes from the input; the reference
 *    computes the roots such a path proves, and both verifiers must accept those.
 * Then the rest of the input is a list of mutations (indexes, sizes, path entries, roots
 * and leaves changed, dropped, swapped, duplicated, shifted), the verdicts compared after
 * each. Built for libFuzzer by tests/fuzz/run; in the normal build it replays the corpus. */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "crypto/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define H CRY_HASH_LEN
#define MAXP (CRY_MERKLE_MAX_PROOF + 8) /* paths may be longer than any valid proof */
#define MAX_LEAVES 256

/* ---- input cursor ------------------------------------------------------------------- */

struct in {
    const uint8_t *p;
    size_t left;
    uint64_t counter; /* for hashes past the end of the input */
};

static uint8_t u8(struct in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static uint64_t u64(struct in *in)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | u8(in);
    return v;
}

/* A hash: 32 input bytes if that many are left, else SHA-256 of a counter. */
static void hash_from(struct in *in, uint8_t out[H])
{
    if (in->left >= H) {
        memcpy(out, in->p, H);
        in->p += H;
        in->left -= H;
    } else {
        in->counter++;
        crypto_hash_sha256(out, (const uint8_t *)&in->counter, sizeof in->counter);
    }
}

/* ---- reference (RFC 9162 2.1.1, 2.1.3.1, 2.1.4.1) ------------------------------------ */

static void ref_node(uint8_t out[H], const uint8_t l[H], const uint8_t r[H])
{
    uint8_t buf[1 + 2 * H];

    buf[0] = 1;
    memcpy(buf + 1, l, H);
    memcpy(buf + 1 + H, r, H);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* The largest power of two smaller than n (n >= 2). */
static uint64_t ref_split(uint64_t n)
{
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* MTH(D[lo:lo+n]) over leaf hashes, n >= 1. */
static void ref_mth(const uint8_t (*leaves)[H], uint64_t lo, uint64_t n, uint8_t out[H])
{
    uint8_t l[H], r[H];
    uint64_t k;

    if (n == 1) {
        memcpy(out, leaves[lo], H);
        return;
    }
    k = ref_split(n);
    ref_mth(leaves, lo, k, l);
    ref_mth(leaves, lo + k, n - k, r);
    ref_node(out, l, r);
}

/* PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) or PATH(m - k, D[k:n]) : MTH(D[0:k]):
 * the last entry is the top sibling. Computes the root path[0..len) proves for the leaf
 * at m; false if the path has the wrong length for (m, n). */
static bool ref_incl(uint64_t m, uint64_t n, const uint8_t leaf[H], const uint8_t (*path)[H],
                     size_t len, uint8_t root[H])
{
    uint8_t sub[H];
    uint64_t k;

    if (n == 1) {
        memcpy(root, leaf, H);
        return len == 0;
    }
    if (len == 0)
        return false;
    k = ref_split(n);
    if (m < k) {
        if (!ref_incl(m, k, leaf, path, len - 1, sub))
            return false;
        ref_node(root, sub, path[len - 1]);
    } else {
        if (!ref_incl(m - k, n - k, leaf, path, len - 1, sub))
            return false;
        ref_node(root, path[len - 1], sub);
    }
    return true;
}

static size_t ref_incl_len(uint64_t m, uint64_t n)
{
    uint64_t k;

    if (n == 1)
        return 0;
    k = ref_split(n);
    return 1 + (m < k ? ref_incl_len(m, k) : ref_incl_len(m - k, n - k));
}

static bool ref_verify_incl(const uint8_t leaf[H], uint64_t index, uint64_t size,
                            const uint8_t (*path)[H], size_t len, const uint8_t root[H])
{
    uint8_t got[H];

    return index < size && ref_incl(index, size, leaf, path, len, got) &&
           memcmp(got, root, H) == 0;
}

/* SUBPROOF(m, D[n], b): with m == n it is {} if b, else {MTH(D[n])}; otherwise
 * SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) if m <= k, else
 * SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]). From path[0..len) it rebuilds the hash of
 * the old tree's part of this subtree (old) and of the subtree (new); old_root stands for
 * the part that is a whole subtree the verifier already knows (b). */
static bool ref_cons(uint64_t m, uint64_t n, bool b, const uint8_t old_root[H],
                     const uint8_t (*path)[H], size_t len, uint8_t old[H], uint8_t nw[H])
{
    uint8_t o[H], s[H];
    uint64_t k;

    if (m == n) {
        if (b) {
            memcpy(old, old_root, H);
            memcpy(nw, old_root, H);
            return len == 0;
        }
        if (len != 1)
            return false;
        memcpy(old, path[0], H);
        memcpy(nw, path[0], H);
        return true;
    }
    if (len == 0)
        return false;
    k = ref_split(n);
    if (m <= k) {
        if (!ref_cons(m, k, b, old_root, path, len - 1, o, s))
            return false;
        memcpy(old, o, H);
        ref_node(nw, s, path[len - 1]);
    } else {
        if (!ref_cons(m - k, n - k, false, old_root, path, len - 1, o, s))
            return false;
        ref_node(old, path[len - 1], o);
        ref_node(nw, path[len - 1], s);
    }
    return true;
}

static size_t ref_cons_len(uint64_t m, uint64_t n, bool b)
{
    uint64_t k;

    if (m == n)
        return b ? 0 : 1;
    k = ref_split(n);
    return 1 + (m <= k ? ref_cons_len(m, k, b) : ref_cons_len(m - k, n - k, false));
}

static bool ref_verify_cons(uint64_t old_size, uint64_t new_size, const uint8_t old_root[H],
                            const uint8_t new_root[H], const uint8_t (*path)[H], size_t len)
{
    uint8_t o[H], nw[H];

    return old_size > 0 && old_size <= new_size &&
           ref_cons(old_size, new_size, true, old_root, path, len, o, nw) &&
           memcmp(o, old_root, H) == 0 && memcmp(nw, new_root, H) == 0;
}

/* ---- claims and mutations ----------------------------------------------------------- */

struct incl {
    uint64_t index, size;
    uint8_t leaf[H], root[H];
    uint8_t path[MAXP][H];
    size_t len;
};

struct cons {
    uint64_t old_size, new_size;
    uint8_t old_root[H], new_root[H];
    uint8_t path[MAXP][H];
    size_t len;
};

static bool check_incl(const struct incl *c)
{
    bool got = cry_merkle_verify_inclusion(c->leaf, c->index, c->size,
                                           (const uint8_t(*)[H])c->path, c->len, c->root) == 0;
    bool want = ref_verify_incl(c->leaf, c->index, c->size, (const uint8_t(*)[H])c->path,
                                c->len, c->root);
    if (got != want)
        __builtin_trap();
    return got;
}

static bool check_cons(const struct cons *c)
{
    bool got = cry_merkle_verify_consistency(c->old_size, c->new_size, c->old_root, c->new_root,
                                             (const uint8_t(*)[H])c->path, c->len) == 0;
    bool want = ref_verify_cons(c->old_size, c->new_size, c->old_root, c->new_root,
                                (const uint8_t(*)[H])c->path, c->len);
    if (got != want)
        __builtin_trap();
    return got;
}

/* Small signed step from one byte: -8..7. */
static int64_t step(struct in *in)
{
    return (int64_t)(u8(in) & 15) - 8;
}

/* Edits a path: drop, duplicate, swap, flip a bit, truncate, append, rotate. */
static void mutate_path(struct in *in, uint8_t (*path)[H], size_t *len, unsigned op,
                        const uint8_t (*pool)[H], size_t npool)
{
    size_t i = *len ? u8(in) % *len : 0, j = *len ? u8(in) % *len : 0;
    uint8_t t[H];

    switch (op) {
    case 0: /* drop entry i */
        if (*len) {
            memmove(path[i], path[i + 1], (*len - i - 1) * H);
            (*len)--;
        }
        break;
    case 1: /* duplicate entry i */
        if (*len && *len < MAXP) {
            memmove(path[i + 1], path[i], (*len - i) * H);
            (*len)++;
        }
        break;
    case 2: /* swap i and j */
        if (*len) {
            memcpy(t, path[i], H);
            memcpy(path[i], path[j], H);
            memcpy(path[j], t, H);
        }
        break;
    case 3: /* flip one bit of entry i */
        if (*len)
            path[i][u8(in) % H] ^= (uint8_t)(1u << (u8(in) & 7));
        break;
    case 4: /* truncate */
        *len = *len ? u8(in) % (*len + 1) : 0;
        break;
    case 5: /* append a hash from the input */
        if (*len < MAXP)
            hash_from(in, path[(*len)++]);
        break;
    case 6: /* replace entry i by a known hash (leaf, roots, tree nodes) */
        if (*len && npool)
            memcpy(path[i], pool[u8(in) % npool], H);
        break;
    default: /* rotate by one */
        if (*len > 1) {
            memcpy(t, path[0], H);
            memmove(path[0], path[1], (*len - 1) * H);
            memcpy(path[*len - 1], t, H);
        }
        break;
    }
}

static void mutate(struct in *in, struct incl *ic, struct cons *cc, const uint8_t (*pool)[H],
                   size_t npool)
{
    while (in->left) {
        unsigned op = u8(in);
        bool on_incl = !(op & 0x80);

        op = (op & 0x7f) % 14; /* 0..5 claims, 6..13 the path */
        if (on_incl) {
            switch (op) {
            case 0: ic->index = u64(in); break;
            case 1: ic->size = u64(in); break;
            case 2: ic->index += (uint64_t)step(in); break;
            case 3: ic->size += (uint64_t)step(in); break;
            case 4:
                if (npool)
                    memcpy(ic->root, pool[u8(in) % npool], H);
                break;
            case 5:
                if (npool)
                    memcpy(ic->leaf, pool[u8(in) % npool], H);
                break;
            default: mutate_path(in, ic->path, &ic->len, op - 6, pool, npool); break;
            }
            (void)check_incl(ic);
        } else {
            switch (op) {
            case 0: cc->old_size = u64(in); break;
            case 1: cc->new_size = u64(in); break;
            case 2: cc->old_size += (uint64_t)step(in); break;
            case 3: cc->new_size += (uint64_t)step(in); break;
            case 4:
                if (npool)
                    memcpy(cc->old_root, pool[u8(in) % npool], H);
                break;
            case 5:
                if (npool)
                    memcpy(cc->new_root, pool[u8(in) % npool], H);
                break;
            default: mutate_path(in, cc->path, &cc->len, op - 6, pool, npool); break;
            }
            (void)check_cons(cc);
        }
    }
}

/* ---- the two starts ----------------------------------------------------------------- */

static struct incl ic;
static struct cons cc;
static uint8_t leaves[MAX_LEAVES][H];
static uint8_t pool[MAX_LEAVES + 2 * MAXP + 8][H];

static size_t pool_add(size_t n, const uint8_t h[H])
{
    if (n < sizeof pool / sizeof pool[0])
        memcpy(pool[n++], h, H);
    return n;
}

/* A tree of 1..256 leaves: the library's proofs verify in both verifiers. */
static size_t from_tree(struct in *in)
{
    struct cry_merkle_mem mem = {(const uint8_t(*)[H])leaves, 1 + (uint64_t)u8(in)};
    struct cry_merkle_source src = {cry_merkle_mem_subtree, &mem};
    uint8_t seed = u8(in), root[H], want[H];
    size_t npool = 0;

    for (uint64_t i = 0; i < mem.n; i++) {
        uint8_t leaf[2] = {(uint8_t)i, seed};
        cry_merkle_leaf_hash(leaves[i], leaf, sizeof leaf);
    }
    /* roots against the naive MTH: the empty tree's is SHA-256(""); the whole tree and
     * four sizes from the input (every size would cost O(n^2) hashes per input) */
    crypto_hash_sha256(want, NULL, 0);
    if (cry_merkle_root(&src, 0, root) != 0 || memcmp(root, want, H) != 0)
        __builtin_trap();
    for (int i = 0; i < 5; i++) {
        uint64_t n = i == 0 ? mem.n : 1 + u8(in) % mem.n;
        if (cry_merkle_root(&src, n, root) != 0)
            __builtin_trap();
        ref_mth((const uint8_t(*)[H])leaves, 0, n, want);
        if (memcmp(root, want, H) != 0)
            __builtin_trap();
        npool = pool_add(npool, root);
    }
    if (cry_merkle_root(&src, mem.n + 1, root) == 0) /* past the leaves: the source fails */
        __builtin_trap();

    ic.size = 1 + u8(in) % mem.n;
    ic.index = u8(in) % ic.size;
    memcpy(ic.leaf, leaves[ic.index], H);
    ref_mth((const uint8_t(*)[H])leaves, 0, ic.size, ic.root);
    if (cry_merkle_inclusion_proof(&src, ic.index, ic.size, ic.path, &ic.len) != 0 ||
        ic.len != ref_incl_len(ic.index, ic.size) || !check_incl(&ic))
        __builtin_trap();

    cc.new_size = 1 + u8(in) % mem.n;
    cc.old_size = 1 + u8(in) % cc.new_size;
    ref_mth((const uint8_t(*)[H])leaves, 0, cc.old_size, cc.old_root);
    ref_mth((const uint8_t(*)[H])leaves, 0, cc.new_size, cc.new_root);
    if (cry_merkle_consistency_proof(&src, cc.old_size, cc.new_size, cc.path, &cc.len) != 0 ||
        cc.len != ref_cons_len(cc.old_size, cc.new_size, true) || !check_cons(&cc))
        __builtin_trap();
    /* the generators refuse what has no proof */
    {
        uint8_t p[CRY_MERKLE_MAX_PROOF][H];
        size_t n;
        if (cry_merkle_inclusion_proof(&src, ic.size, ic.size, p, &n) == 0 ||
            cry_merkle_consistency_proof(&src, 0, cc.new_size, p, &n) == 0 ||
            (cc.old_size < cc.new_size &&
             cry_merkle_consistency_proof(&src, cc.new_size, cc.old_size, p, &n) == 0))
            __builtin_trap();
    }
    for (size_t i = 0; i < ic.len; i++)
        npool = pool_add(npool, ic.path[i]);
    for (size_t i = 0; i < cc.len; i++)
        npool = pool_add(npool, cc.path[i]);
    for (uint64_t i = 0; i < mem.n && i < 8; i++)
        npool = pool_add(npool, leaves[i]);
    return npool;
}

/* Any sizes up to 2^64 - 1: a path of the right length from the input, and the roots it
 * proves according to the reference; the library must accept them. */
static size_t synthetic(struct in *in)
{
    uint8_t o[H], nw[H];
    size_t npool = 0;

    ic.size = u64(in);
    if (ic.size == 0)
        ic.size = 1;
    ic.index = u64(in) % ic.size;
    hash_from(in, ic.leaf);
    ic.len = ref_incl_len(ic.index, ic.size);
    for (size_t i = 0; i < ic.len; i++)
        hash_from(in, ic.path[i]);
    if (!ref_incl(ic.index, ic.size, ic.leaf, (const uint8_t(*)[H])ic.path, ic.len, ic.root) ||
        !check_incl(&ic))
        __builtin_trap();

    cc.new_size = u64(in);
    if (cc.new_size == 0)
        cc.new_size = 1;
    cc.old_size = 1 + u64(in) % cc.new_size;
    hash_from(in, cc.old_root);
    cc.len = ref_cons_len(cc.old_size, cc.new_size, true);
    for (size_t i = 0; i < cc.len; i++)
        hash_from(in, cc.path[i]);
    /* Where the old tree is a whole subtree, the reference uses old_root as given;
     * elsewhere it rebuilds it from the path, and that is the root to claim. */
    if (!ref_cons(cc.old_size, cc.new_size, true, cc.old_root, (const uint8_t(*)[H])cc.path,
                  cc.len, o, nw))
        __builtin_trap();
    memcpy(cc.old_root, o, H);
    memcpy(cc.new_root, nw, H);
    if (!check_cons(&cc))
        __builtin_trap();

    npool = pool_add(npool, ic.leaf);
    npool = pool_add(npool, ic.root);
    npool = pool_add(npool, cc.old_root);
    npool = pool_add(npool, cc.new_root);
    for (size_t i = 0; i < ic.len; i++)
        npool = pool_add(npool, ic.path[i]);
    for (size_t i = 0; i < cc.len; i++)
        npool = pool_add(npool, cc.path[i]);
    return npool;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size, 0};
    size_t npool;

    if (sodium_init() < 0)
        __builtin_trap();
    npool = (u8(&in) & 1) ? synthetic(&in) : from_tree(&in);
    mutate(&in, &ic, &cc, (const uint8_t(*)[H])pool, npool);
    return 0;
}
