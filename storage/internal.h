/* Shared between the storage .c files; not part of the public interface. */
#ifndef TN_STORAGE_INTERNAL_H
#define TN_STORAGE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>

#include "storage/repo.h"

struct store_repo {
    MDB_env *env;
    bool readonly;
    MDB_dbi meta;        /* text key -> value */
    MDB_dbi shards;      /* org id -> shard state (shard_pack) */
    MDB_dbi records;     /* shard no (4) | seq (8) -> record id (32) | record bytes */
    MDB_dbi ids;         /* record id -> shard no (4) | seq (8) */
    MDB_dbi items;       /* item key (item_key) -> dup: lsn (8) | shard no (4) | role (1) | id */
    MDB_dbi consumers;   /* record id -> dup: id of a record whose inputs link to it */
    MDB_dbi refs;        /* record id -> dup: id of a record whose ref names it (supersede) */
    MDB_dbi eids;        /* shard no (4) | text key (text_key) of the client event id -> id */
    MDB_dbi merkle;      /* shard no (4) | post-order position (8) -> subtree hash */
    MDB_dbi checkpoints; /* shard no (4) | size (8) -> signed note */
    MDB_dbi evidence;    /* shard no (4) | at (8) | kind (1) | SHA-256(a || b) -> evidence */
    MDB_dbi mud;         /* text key of a MUD URL -> dup: shard no (4) | id of an anchor of it */
    MDB_dbi secrets;     /* record id | field name -> salt (32) | value */
    char upgraded_from[32]; /* the format this open upgraded, "" if none */
    pthread_mutex_t map_mu; /* the map is not moved (resized) while it is released */
};

struct store_txn {
    struct store_repo *repo;
    MDB_txn *txn;
    bool write;
};

#define SHARD_VAL_LEN 53
#define ITEM_VAL_LEN 45

/* Keys for text that can be longer than LMDB's 511-byte key limit: 0x00 || text when it
 * is at most TEXT_KEY_INLINE bytes, else 0x01 || SHA-256(text). Keeping short text as
 * itself keeps similar ids (serial numbers, event ids) on neighbouring B-tree pages, so
 * a batch dirties few pages; random hashes would dirty one page per record. */
#define TEXT_KEY_INLINE 400
#define TEXT_KEY_MAX (1 + TEXT_KEY_INLINE)
size_t store__text_key(uint8_t out[TEXT_KEY_MAX], const char *text);

/* LMDB return code -> enum tn_err. */
int store__err(int mdb_rc);

void store__put_be32(uint8_t *p, uint32_t v);
void store__put_be64(uint8_t *p, uint64_t v);
uint32_t store__get_be32(const uint8_t *p);
uint64_t store__get_be64(const uint8_t *p);

/* Shard lookup by org id, creating it (with the next shard number) when create. */
int store__shard_load(struct store_txn *txn, const char *org, bool create,
                      struct store_shard *s) TN_MUST_CHECK;
/* The org id of shard number no (a scan: for rare lookups). */
int store__shard_org(struct store_txn *txn, uint32_t no, char org[PROTO_ID_MAX + 1]) TN_MUST_CHECK;
int store__shard_save(struct store_txn *txn, const char *org,
                      const struct store_shard *s) TN_MUST_CHECK;

/* Merkle: adds leaf number index (= old size) with the given leaf hash. */
int store__merkle_add_leaf(struct store_txn *txn, uint32_t shard, uint64_t index,
                           const uint8_t leaf[CRY_HASH_LEN]) TN_MUST_CHECK;
/* The hash stored in the merkle database under key (any format's); TN_ERR_NOT_FOUND when
 * there is none. */
int store__merkle_read(struct store_txn *txn, const uint8_t *key, size_t key_len,
                       uint8_t out[CRY_HASH_LEN]) TN_MUST_CHECK;
/* The stored hash of the perfect subtree (level, index) of a shard; TN_ERR_NOT_FOUND when
 * it is not stored. */
int store__merkle_get(struct store_txn *txn, uint32_t shard, unsigned level, uint64_t index,
                      uint8_t out[CRY_HASH_LEN]) TN_MUST_CHECK;

/* Brings a v1 (from_v1) or v2 repository to the current format within txn; on failure a
 * reason goes to err and the caller aborts txn (upgrade.c). */
int store__upgrade(struct store_txn *txn, bool from_v1, char *err, size_t errlen) TN_MUST_CHECK;

/* Index maintenance for one appended record. */
int store__index_record(struct store_txn *txn, const struct store_shard *s,
                        const struct proto_record *rec,
                        const uint8_t id[PROTO_ID_LEN]) TN_MUST_CHECK;

/* Calls fn with the record id of every duplicate value of key in a dup-sorted database
 * whose values are a plen-byte prefix (at most 8) then a record id; with prefix, only the
 * values that start with it. */
int store__ids_each(struct store_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                    const uint8_t *prefix, size_t plen, store_id_cb fn,
                    void *ctx) TN_MUST_CHECK;

/* Adds a mud-anchor record of shard number shard to the URL index. */
int store__mud_index(struct store_txn *txn, uint32_t shard, const struct proto_record *rec,
                     const uint8_t id[PROTO_ID_LEN]) TN_MUST_CHECK;

#endif
