/* The LMDB repository of one node: one append-only shard per org, the indexes the
 * verifier walks, persisted Merkle nodes, checkpoints and local secrets.
 * docs/STORAGE.md lists every database and key layout.
 *
 * All access goes through a transaction. Pointers returned by getters point into LMDB's
 * map and are valid only until the transaction ends (LMDB rule). A write transaction
 * is one group commit: everything appended in it becomes durable together at
 * store_txn_commit() (fsync, LMDB's default sync mode) or not at all. */
#ifndef TN_STORAGE_REPO_H
#define TN_STORAGE_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/merkle.h"
#include "proto/datetime.h"
#include "proto/ecosystem.h"
#include "proto/record.h"

#define STORE_DEFAULT_MAP_SIZE (UINT64_C(16) << 30) /* 16 GiB of address space */

struct store_repo;
struct store_txn;

/* Opens (and with !readonly, creates) the repository in directory dir (mode 0700).
 * map_size 0 keeps the size already recorded in the environment. A readonly open of a
 * directory that holds no repository fails with TN_ERR_NOT_FOUND. Reason in err. */
int store_open(const char *dir, uint64_t map_size, bool readonly, struct store_repo **out,
               char *err, size_t errlen) TN_MUST_CHECK;
/* What a readonly store_open of an older format says to do, in its err (the repository
 * is fine, only not upgraded yet). */
#define STORE_UPGRADE_WAY_OUT "start tracenode on it once to upgrade it"

/* Closes the environment; all transactions must have ended. NULL is a no-op. */
void store_close(struct store_repo *repo);

/* The older format store_open upgraded the repository from ("tracenode-store-v2", say),
 * or NULL when it was already current. */
const char *store_upgraded_from(const struct store_repo *repo);

/* The map size in force (bytes). */
uint64_t store_map_size(const struct store_repo *repo);

/* Frees the reader slots of processes that exited inside a read transaction (a tracectl
 * killed mid-command): until then LMDB keeps every page that transaction could see, so
 * the data file grows instead of reusing them. *cleared gets how many were freed. */
int store_reader_check(struct store_repo *repo, int *cleared) TN_MUST_CHECK;

/* Drops this process's mappings of the data file (madvise MADV_DONTNEED over LMDB's map).
 * The pages stay in the kernel's page cache; the next read maps them again (a minor fault).
 * Without it every page the process ever read or rewrote stays mapped, and counts in its
 * resident memory (VmRSS), until it exits. TN_ERR_NOT_FOUND if the map was not found in
 * /proc/self/maps, TN_ERR_IO if /proc is unreadable or madvise failed. */
int store_release_map(struct store_repo *repo) TN_MUST_CHECK;

int store_txn_begin(struct store_repo *repo, bool write, struct store_txn **out) TN_MUST_CHECK;

/* Commits (durably, for a write transaction) and frees txn. On error nothing of the
 * transaction is kept: TN_ERR_MAP_FULL when the map is full, TN_ERR_IO otherwise. */
int store_txn_commit(struct store_txn *txn) TN_MUST_CHECK;

/* Discards and frees txn. NULL is a no-op. */
void store_txn_abort(struct store_txn *txn);

/* --- meta: small named values (node settings, the ecosystem file) ------------------- */

int store_meta_get(struct store_txn *txn, const char *key, const uint8_t **val,
                   size_t *len) TN_MUST_CHECK;
int store_meta_put(struct store_txn *txn, const char *key, const void *val,
                   size_t len) TN_MUST_CHECK;

/* --- shards ------------------------------------------------------------------------- */

struct store_shard {
    uint32_t no;    /* internal shard number, used in index keys */
    uint64_t size;  /* number of records */
    uint8_t head[PROTO_ID_LEN]; /* id of record size-1 (zero when empty) */
    bool frozen;    /* equivocation seen: no further appends */
    uint64_t frozen_at; /* when frozen: the seq (or checkpoint size) where the fork is */
};

/* TN_ERR_NOT_FOUND if the org has no shard here yet. */
int store_shard_get(struct store_txn *txn, const char *org, struct store_shard *out) TN_MUST_CHECK;

/* Calls fn for each shard in org id order; a non-zero return stops and is returned. */
typedef int (*store_shard_cb)(void *ctx, const char *org, const struct store_shard *s);
int store_shard_each(struct store_txn *txn, store_shard_cb fn, void *ctx) TN_MUST_CHECK;

/* --- appending ---------------------------------------------------------------------- */

/* The caller has already verified the record's signature with the org's key from this
 * same ecosystem (a record this node just signed with the key it loaded and checked at
 * start, or a peer's record verified on the thread pool): do not verify it again. */
#define STORE_APPEND_VERIFIED 1u
/* id already holds the record id, which the caller computed from exactly these bytes (the
 * signer, or ingest on the thread pool): it is not hashed again on the writer thread. */
#define STORE_APPEND_ID_GIVEN 2u

/* The checks of a record that need no repository: network, org membership
 * (TN_ERR_UNKNOWN_ORG), signer key: any key the org has had (TN_ERR_UNKNOWN_KEY),
 * signature unless verify is false (TN_ERR_BAD_SIGNATURE), role (TN_ERR_ROLE). Peers' records are
 * checked with this on the thread pool before they reach store_append. */
int store_check_record(const struct proto_ecosystem *eco, const struct proto_record *rec,
                       bool verify, char *err, size_t errlen) TN_MUST_CHECK;

/* Appends one record to its org's shard after checking, in order: size, strict
 * decoding (unless rec, the already decoded form of exactly these bytes, is given),
 * network, org membership (TN_ERR_UNKNOWN_ORG), signer key (TN_ERR_UNKNOWN_KEY),
 * signature (TN_ERR_BAD_SIGNATURE), role (TN_ERR_ROLE), frozen shard (TN_ERR_FROZEN),
 * seq and prev (TN_ERR_CHAIN), and for a mud-anchor store_mud_check (TN_ERR_INVALID). Then stores the bytes and updates every index and the
 * Merkle nodes. A record already stored is not an error: *appended is false and
 * nothing changes. id gets the record id (or, with STORE_APPEND_ID_GIVEN, holds it). On error the transaction is unchanged except
 * for TN_ERR_MAP_FULL/TN_ERR_IO, after which it must be aborted. Reason in err. */
int store_append(struct store_txn *txn, const struct proto_ecosystem *eco, const uint8_t *bytes,
                 size_t len, const struct proto_record *rec, unsigned flags,
                 uint8_t id[PROTO_ID_LEN], bool *appended, char *err, size_t errlen) TN_MUST_CHECK;

/* --- reading records ---------------------------------------------------------------- */

int store_record_get(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const uint8_t **bytes,
                     size_t *len) TN_MUST_CHECK;
bool store_has_record(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN]);

/* store_record_get, then the bytes hashed against the id (a damaged page is
 * TN_ERR_CORRUPT, not a wrong answer) and decoded into *r (proto_record_decode, every
 * check): what a reader that shows a stored record needs. r is released by the caller on success; the reason is in err on error. */
int store_record_load(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const uint8_t **bytes,
                      size_t *len, struct proto_record *r, char *err, size_t errlen) TN_MUST_CHECK;

/* Id of record seq in org's shard; TN_ERR_NOT_FOUND past the end. */
int store_record_at(struct store_txn *txn, const char *org, uint64_t seq,
                    uint8_t id[PROTO_ID_LEN]) TN_MUST_CHECK;

/* Records naming an item, in the order this node stored them. role: 'o' output,
 * 'i' input, 't' touched (items). fn returning non-zero stops the walk. */
typedef int (*store_item_cb)(void *ctx, char role, const uint8_t id[PROTO_ID_LEN]);
int store_item_each(struct store_txn *txn, const char *item, store_item_cb fn,
                    void *ctx) TN_MUST_CHECK;

/* The most recently stored record naming item that belongs to org's shard (org NULL:
 * any shard). TN_ERR_NOT_FOUND if none. */
int store_item_last(struct store_txn *txn, const char *item, const char *org,
                    uint8_t id[PROTO_ID_LEN]) TN_MUST_CHECK;

/* Records whose inputs link to id. */
typedef int (*store_id_cb)(void *ctx, const uint8_t id[PROTO_ID_LEN]);
int store_consumers_each(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], store_id_cb fn,
                         void *ctx) TN_MUST_CHECK;

/* Records whose ref names id (corrections: supersede, and newer MUD anchors). */
int store_refs_each(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], store_id_cb fn,
                    void *ctx) TN_MUST_CHECK;

/* The record an org already created for client event id eid. */
int store_eid_get(struct store_txn *txn, const char *org, const char *eid,
                  uint8_t id[PROTO_ID_LEN]) TN_MUST_CHECK;

/* --- MUD anchors ------------------------------------------------------------------- */

/* Every mud-anchor record of url, of any org, in no particular order. */
int store_mud_each(struct store_txn *txn, const char *url, store_id_cb fn,
                   void *ctx) TN_MUST_CHECK;

/* An org's current anchor of a URL: the one with the latest last-update. */
struct store_mud_anchor {
    uint8_t id[PROTO_ID_LEN];
    uint8_t sha256[CRY_HASH_LEN];
    struct proto_instant last_update;
    char last_update_text[65];
};
int store_mud_current(struct store_txn *txn, const char *org, const char *url,
                      struct store_mud_anchor *out) TN_MUST_CHECK;

/* The rule every mud-anchor record meets before it is stored (store_append checks it,
 * for the node's own records and for peers' alike): an org's first anchor of a URL has
 * no ref; a later one has a later last-update than the org's current anchor of that URL
 * and refs it (it supersedes it). TN_ERR_INVALID with the reason in err otherwise. */
int store_mud_check(struct store_txn *txn, const struct proto_record *rec, char *err,
                    size_t errlen) TN_MUST_CHECK;

/* --- Merkle tree and checkpoints ---------------------------------------------------- */

/* A stored perfect-subtree hash (level 0: the leaf hash of record index). */
int store_merkle_node(struct store_txn *txn, const char *org, unsigned level, uint64_t index,
                      uint8_t out[CRY_HASH_LEN]) TN_MUST_CHECK;
int store_root(struct store_txn *txn, const char *org, uint64_t size,
               uint8_t root[CRY_HASH_LEN]) TN_MUST_CHECK;
int store_inclusion_proof(struct store_txn *txn, const char *org, uint64_t index, uint64_t size,
                          uint8_t (*path)[CRY_HASH_LEN], size_t *path_len) TN_MUST_CHECK;
int store_consistency_proof(struct store_txn *txn, const char *org, uint64_t old_size,
                            uint64_t new_size, uint8_t (*path)[CRY_HASH_LEN],
                            size_t *path_len) TN_MUST_CHECK;

/* Stores note (the caller has verified it) as org's checkpoint of that size; the one of
 * the largest size is the latest. */
int store_checkpoint_put(struct store_txn *txn, const char *org, uint64_t size, const char *note,
                         size_t len) TN_MUST_CHECK;
int store_checkpoint_get(struct store_txn *txn, const char *org, uint64_t *size,
                         const char **note, size_t *len) TN_MUST_CHECK;

/* The checkpoint of exactly this size, if one was stored. */
int store_checkpoint_at(struct store_txn *txn, const char *org, uint64_t size, const char **note,
                        size_t *len) TN_MUST_CHECK;

/* --- the effective ecosystem -------------------------------------------------------- */

/* Parses the ecosystem file raw[0..len) (signature required) and applies the
 * governance shard held in txn, in order: the ecosystem as of now. A governance record
 * that cannot apply is skipped with its reason in the log callback's place: warn (may be
 * NULL) is called with it. */
int store_ecosystem_load(struct store_txn *txn, const char *raw, size_t len,
                         struct proto_ecosystem *eco, void (*warn)(const char *why),
                         char *err, size_t errlen) TN_MUST_CHECK;

/* --- equivocation evidence ---------------------------------------------------------- */

/* Kinds of evidence: two records for one (org, seq); two checkpoints of one size with
 * different roots; a checkpoint whose root differs from the one the records give. */
enum store_evidence_kind {
    STORE_EVIDENCE_RECORDS = 1,
    STORE_EVIDENCE_CHECKPOINTS = 2,
    STORE_EVIDENCE_CHECKPOINT_RECORDS = 3,
};

/* Stores both pieces as evidence against org at position at (a seq or a checkpoint size)
 * and freezes the shard there (no further appends; nothing is removed). Storing the same
 * evidence again is a no-op; *is_new tells whether it was new. */
int store_evidence_put(struct store_txn *txn, const char *org, uint64_t at,
                       enum store_evidence_kind kind, const uint8_t *a, size_t a_len,
                       const uint8_t *b, size_t b_len, bool *is_new) TN_MUST_CHECK;

/* Calls fn for every piece of evidence held (pointers valid during the call). */
typedef int (*store_evidence_cb)(void *ctx, const char *org, uint64_t at,
                                 enum store_evidence_kind kind, const uint8_t *a, size_t a_len,
                                 const uint8_t *b, size_t b_len);
int store_evidence_each(struct store_txn *txn, store_evidence_cb fn, void *ctx) TN_MUST_CHECK;

/* --- local secrets for controlled disclosure (never replicated) --------------------- */

int store_secret_put(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const char *name,
                     const uint8_t salt[32], const char *value) TN_MUST_CHECK;
int store_secret_get(struct store_txn *txn, const uint8_t id[PROTO_ID_LEN], const char *name,
                     const uint8_t **salt, const char **value, size_t *value_len) TN_MUST_CHECK;

/* --- checking a whole repository ------------------------------------------------------ */

struct store_fsck_stats {
    uint64_t shards, records, merkle_nodes, checkpoints, index_entries, problems;
};

/* A problem found: org (NULL if none applies), seq (-1 if none) and what is wrong. */
typedef void (*store_fsck_cb)(void *ctx, const char *org, int64_t seq, const char *problem);

/* Re-verifies everything in txn's view of the repository against eco (the effective
 * ecosystem): every record's bytes, id, strict decoding, chain link, signer, role and (with
 * signatures) signature; every stored Merkle node, recomputed; every checkpoint's
 * signature and root; and every entry of every index against the records, and the number
 * of entries against what the records call for. Each problem goes to fn; st gets the
 * counts. Returns 0 when the check ran (problems or not), or an error that stopped it. */
int store_fsck(struct store_txn *txn, const struct proto_ecosystem *eco, bool signatures,
               store_fsck_cb fn, void *ctx, struct store_fsck_stats *st) TN_MUST_CHECK;

#endif
