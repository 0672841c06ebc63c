/* RFC 9162 section 2.1 Merkle trees over SHA-256: tree hash, inclusion and consistency
 * proofs, and their verifiers.
 *
 * The tree is read through a source of *perfect subtree hashes*: (level, index) names the
 * subtree over leaves [index << level, (index + 1) << level). Storage keeps exactly those
 * nodes, so the hash of any range the RFC algorithms ask for costs O(log n) lookups and
 * a whole proof costs O(log n) lookups, never a rebuild. */
#ifndef TN_CRYPTO_MERKLE_H
#define TN_CRYPTO_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/key.h"

/* Longest proof for trees of up to 2^64 leaves (consistency proofs are at most
 * ~2 log2 n hashes). Proof buffers are this many hashes. */
#define CRY_MERKLE_MAX_PROOF 130

/* Fills out with the hash of the perfect subtree (level, index). Returns 0 or an error
 * (which aborts the computation and is passed through). */
typedef int (*cry_merkle_subtree_cb)(void *ctx, unsigned level, uint64_t index,
                                     uint8_t out[CRY_HASH_LEN]);

struct cry_merkle_source {
    cry_merkle_subtree_cb get;
    void *ctx;
};

/* Leaf hash SHA-256(0x00 || data). */
void cry_merkle_leaf_hash(uint8_t out[CRY_HASH_LEN], const uint8_t *data, size_t len);

/* Interior hash SHA-256(0x01 || left || right). */
void cry_merkle_node_hash(uint8_t out[CRY_HASH_LEN], const uint8_t left[CRY_HASH_LEN],
                          const uint8_t right[CRY_HASH_LEN]);

/* MTH of the first size leaves. size 0 gives SHA-256 of the empty string. */
int cry_merkle_root(const struct cry_merkle_source *src, uint64_t size,
                    uint8_t root[CRY_HASH_LEN]) TN_MUST_CHECK;

/* PATH(index, D[size]) (RFC 9162 2.1.3.1) into path[CRY_MERKLE_MAX_PROOF];
 * TN_ERR_INVALID if index >= size. */
int cry_merkle_inclusion_proof(const struct cry_merkle_source *src, uint64_t index,
                               uint64_t size, uint8_t (*path)[CRY_HASH_LEN],
                               size_t *path_len) TN_MUST_CHECK;

/* PROOF(old_size, D[new_size]) (RFC 9162 2.1.4.1); TN_ERR_INVALID unless
 * 0 < old_size <= new_size. old_size == new_size gives an empty proof. */
int cry_merkle_consistency_proof(const struct cry_merkle_source *src, uint64_t old_size,
                                 uint64_t new_size, uint8_t (*path)[CRY_HASH_LEN],
                                 size_t *path_len) TN_MUST_CHECK;

/* RFC 9162 2.1.3.2. 0 if leaf_hash is at index in the tree of size with this root,
 * TN_ERR_PROOF otherwise. */
int cry_merkle_verify_inclusion(const uint8_t leaf_hash[CRY_HASH_LEN], uint64_t index,
                                uint64_t size, const uint8_t (*path)[CRY_HASH_LEN],
                                size_t path_len, const uint8_t root[CRY_HASH_LEN]) TN_MUST_CHECK;

/* RFC 9162 2.1.4.2. 0 if the tree (old_size, old_root) is a prefix of
 * (new_size, new_root), TN_ERR_PROOF otherwise. */
int cry_merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
                                  const uint8_t old_root[CRY_HASH_LEN],
                                  const uint8_t new_root[CRY_HASH_LEN],
                                  const uint8_t (*path)[CRY_HASH_LEN],
                                  size_t path_len) TN_MUST_CHECK;

/* An in-memory source over an array of leaf hashes (tests, offline bundles).
 * Subtree hashes are computed on demand: O(2^level) work each. */
struct cry_merkle_mem {
    const uint8_t (*leaves)[CRY_HASH_LEN];
    uint64_t n;
};
int cry_merkle_mem_subtree(void *ctx, unsigned level, uint64_t index,
                           uint8_t out[CRY_HASH_LEN]) TN_MUST_CHECK;

#endif
