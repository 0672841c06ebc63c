/* Records: COSE_Sign1 (RFC 9052, tag 18, alg EdDSA -8, kid = the signer's 32-byte
 * Ed25519 public key, protected) over a deterministic CBOR payload (RFC 8949 4.2.1).
 * See docs/FORMAT.md for the exact layout and a worked example.
 *
 * The record id is SHA-256 of the exact record bytes. Records are never re-serialized
 * to check a signature: decoding keeps the signed bytes. */
#ifndef TN_PROTO_RECORD_H
#define TN_PROTO_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/key.h"
#include "proto/arena.h"
#include "proto/types.h"

#define PROTO_RECORD_MAX 16384   /* whole COSE_Sign1, bytes */
#define PROTO_ITEM_MAX 1024      /* item id, bytes */
#define PROTO_EID_MAX 256        /* client event id, bytes */
#define PROTO_NAME_MAX 128       /* attribute / sealed field name, bytes */
#define PROTO_TEXT_MAX 4096      /* attribute text value, bytes */
#define PROTO_VERSION 1
#define PROTO_ID_LEN 32          /* record id: SHA-256 */

struct proto_input {
    const char *item;
    bool has_rec; /* false: the node knew no earlier record holding the item */
    uint8_t rec[PROTO_ID_LEN];
};

enum proto_value_kind { PROTO_VAL_TEXT = 1, PROTO_VAL_INT, PROTO_VAL_BOOL };

struct proto_attr {
    const char *name;
    enum proto_value_kind kind;
    const char *text;
    int64_t num;
    bool flag;
};

/* A sealed (controlled-disclosure) field: digest = SHA-256(salt || value). */
struct proto_seal {
    const char *name;
    uint8_t digest[CRY_HASH_LEN];
};

/* A MUD file anchor (RFC 8520), for type mud-anchor. */
struct proto_mud {
    const char *url;
    uint8_t sha256[CRY_HASH_LEN];
    uint64_t size;
    const char *last_update; /* RFC 3339 text as in the file */
    const char *model;       /* NULL if none */
    const char *mfg_name;    /* NULL if none */
    bool has_sig;
    uint8_t sig_sha256[CRY_HASH_LEN];
};

/* A node of an org added by governance. */
struct proto_gov_node {
    uint8_t key[CRY_PK_LEN];
    const char *addr; /* or NULL */
};

/* One record. Builders fill the fields and call proto_record_sign(); the decoder fills
 * them from bytes, with every string and array owned by 'arena'. attrs and sealed are
 * kept sorted by name in deterministic CBOR key order (proto_cbor_key_cmp). */
struct proto_record {
    uint64_t v;
    const char *net;
    const char *org;
    uint64_t seq;
    bool has_prev;
    uint8_t prev[PROTO_ID_LEN];
    uint64_t time; /* ms since the epoch */
    enum proto_type type;
    const char *eid; /* client event id, or NULL */
    const char **outputs;
    size_t n_outputs;
    struct proto_input *inputs;
    size_t n_inputs;
    const char **items;
    size_t n_items;
    const char *to;
    const char *from;
    bool has_ref;
    uint8_t ref[PROTO_ID_LEN];
    struct proto_attr *attrs;
    size_t n_attrs;
    struct proto_seal *sealed;
    size_t n_sealed;
    struct proto_mud *mud;
    /* governance records (gov-add-org, gov-revoke, gov-rotate) */
    const char *subject;      /* the org concerned */
    bool has_key;
    uint8_t key[CRY_PK_LEN];  /* add-org: its key; revoke: the key revoked; rotate: the new */
    bool has_effective;
    uint64_t effective;       /* ms since the epoch: when the change takes effect */
    const char *name;         /* add-org */
    const char **roles;       /* add-org */
    size_t n_roles;
    struct proto_gov_node *nodes; /* add-org */
    size_t n_nodes;

    /* Set by the decoder: */
    uint8_t signer[CRY_PK_LEN];
    uint8_t sig[CRY_SIG_LEN];
    const uint8_t *tbs; /* the COSE Sig_structure that was signed (arena) */
    size_t tbs_len;

    struct proto_arena arena;
};

/* Zeroes r and sets up its arena. No allocation. */
void proto_record_init(struct proto_record *r);

/* Frees what the arena holds; r can be reused after proto_record_init. */
void proto_record_release(struct proto_record *r);

/* Checks that the fields make a well-formed record of r->type (required and forbidden
 * fields, id syntax, sizes, seq/prev). On failure a reason naming the field goes to err. */
int proto_record_check(const struct proto_record *r, char *err, size_t errlen) TN_MUST_CHECK;

/* Checks r, encodes its payload deterministically, signs it with kp and writes the
 * COSE_Sign1 bytes to out[0..cap). TN_ERR_TOO_BIG if the record would exceed
 * PROTO_RECORD_MAX (or cap), TN_ERR_INVALID if r is malformed (reason in err). */
int proto_record_sign(const struct proto_record *r, const struct cry_keypair *kp, uint8_t *out,
                      size_t cap, size_t *len, char *err, size_t errlen) TN_MUST_CHECK;

/* The size r would have once signed (it must already pass proto_record_check).
 * TN_ERR_TOO_BIG if that is over PROTO_RECORD_MAX. */
int proto_record_encoded_len(const struct proto_record *r, size_t *len) TN_MUST_CHECK;

/* Decodes and checks record bytes strictly: tag 18, alg -8, kid of 32 bytes, empty
 * unprotected header, deterministic encodings throughout, no trailing bytes, at most
 * PROTO_RECORD_MAX bytes, and proto_record_check(). Does NOT verify the signature
 * (see proto_record_verify). r must be initialised; on failure it holds nothing.
 * The same checks for bytes read back from the repository: they cost little (no
 * allocation but r's arena), and a stored page can be corrupted (DESIGN section 7). */
int proto_record_decode(const uint8_t *bytes, size_t len, struct proto_record *r, char *err,
                        size_t errlen) TN_MUST_CHECK;

/* true if the decoded record's signature verifies with pk. */
bool proto_record_verify(const struct proto_record *r, const uint8_t pk[CRY_PK_LEN]);

/* Record id: SHA-256 of the exact bytes. */
void proto_record_id(uint8_t id[PROTO_ID_LEN], const uint8_t *bytes, size_t len);

/* Calls fn for every item id the record names (outputs, inputs, items), with its role:
 * 'o' output, 'i' input, 't' touched (items). */
typedef void (*proto_item_cb)(void *ctx, const char *item, char role);
void proto_record_each_item(const struct proto_record *r, proto_item_cb fn, void *ctx);

#endif
