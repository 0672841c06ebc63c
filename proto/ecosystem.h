/* The ecosystem file (DESIGN section 2): network id, member orgs with their signing keys,
 * roles, node keys and validity windows, and the governance key; signed by the
 * governance key. Human-editable JSON; see docs/FORMAT.md.
 *
 * The signature covers "tracenode-ecosystem-v1\n" followed by the document without its
 * "signature" member, serialized compactly with sorted keys (jansson JSON_COMPACT |
 * JSON_SORT_KEYS). Reals are refused, so the serialization is unambiguous. */
#ifndef TN_PROTO_ECOSYSTEM_H
#define TN_PROTO_ECOSYSTEM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/key.h"
#include "proto/arena.h"
#include "proto/record.h"
#include "proto/types.h"

#define PROTO_ECOSYSTEM_MAX (1024 * 1024) /* file size, bytes */
#define PROTO_ADDR_MAX 255
#define PROTO_ORG_NAME_MAX 256

struct proto_node_entry {
    uint8_t key[CRY_PK_LEN];
    const char *addr; /* "HOST:PORT" or NULL */
};

/* One signing key of an org and when it may sign: from <= time < until. */
struct proto_org_key {
    uint8_t pk[CRY_PK_LEN];
    uint64_t from;  /* ms since the epoch; 0: always */
    uint64_t until; /* ms since the epoch; 0: no end (not revoked, not rotated away) */
};

struct proto_org {
    const char *id;
    const char *name;
    uint8_t key[CRY_PK_LEN]; /* the current signing key */
    uint32_t roles;          /* enum proto_role bits */
    struct proto_node_entry *nodes;
    size_t n_nodes;
    uint64_t valid_from;  /* ms since the epoch; 0: always */
    uint64_t valid_until; /* ms since the epoch; 0: no end */
    struct proto_org_key *keys; /* every key the org has had, oldest first */
    size_t n_keys;
};

struct proto_ecosystem {
    const char *network;
    uint8_t gov_key[CRY_PK_LEN];
    struct proto_org *orgs;
    size_t n_orgs;
    size_t cap_orgs;
    /* The pseudo-org "governance": its shard holds governance records, its key is the
     * governance key, its only role PROTO_ROLE_GOVERNANCE. Not in orgs[]. */
    struct proto_org gov;
    bool is_signed; /* a signature was present and verified */
    struct proto_arena arena;
};

/* Parses and validates an ecosystem document. With require_signature, a missing or
 * failing signature is an error (TN_ERR_BAD_SIGNATURE). Errors name the member at fault
 * in err. eco must not be initialised; release it with proto_ecosystem_release. */
int proto_ecosystem_parse(const char *text, size_t len, bool require_signature,
                          struct proto_ecosystem *eco, char *err, size_t errlen) TN_MUST_CHECK;

/* Reads path (at most PROTO_ECOSYSTEM_MAX bytes) and parses it. If raw/raw_len are
 * non-NULL, *raw gets a malloc'd copy of the file bytes. */
int proto_ecosystem_load(const char *path, bool require_signature, struct proto_ecosystem *eco,
                         char **raw, size_t *raw_len, char *err, size_t errlen) TN_MUST_CHECK;

void proto_ecosystem_release(struct proto_ecosystem *eco);

/* Lookups; NULL if absent. proto_ecosystem_org also finds the governance pseudo-org. */
const struct proto_org *proto_ecosystem_org(const struct proto_ecosystem *eco, const char *id);
const struct proto_org *proto_ecosystem_org_by_node(const struct proto_ecosystem *eco,
                                                    const uint8_t node_key[CRY_PK_LEN]);

/* How a key relates to an org at a time. */
enum proto_key_status {
    PROTO_KEY_VALID,    /* one of the org's keys, valid at that time */
    PROTO_KEY_REVOKED,  /* one of the org's keys, but revoked or rotated away by then */
    PROTO_KEY_NOT_YET,  /* one of the org's keys, not yet valid then */
    PROTO_KEY_UNKNOWN,  /* never a key of the org */
};
enum proto_key_status proto_org_key_status(const struct proto_org *org,
                                           const uint8_t pk[CRY_PK_LEN], uint64_t time);

/* Applies a governance record (already verified as signed by the governance key) to eco:
 * gov-add-org adds an org, gov-revoke ends a key at its effective time, gov-rotate ends
 * the current key and starts the new one. Applying them in the governance shard's order
 * gives the effective ecosystem. A record that cannot apply (unknown org, an org added
 * twice) changes nothing and returns TN_ERR_INVALID with the reason. eco must not be in
 * use by others: pointers into eco->orgs may move. */
int proto_ecosystem_apply(struct proto_ecosystem *eco, const struct proto_record *rec, char *err,
                          size_t errlen) TN_MUST_CHECK;

/* --- editing (tracectl ecosystem ...) ---------------------------------------------- */

/* A new unsigned document. */
json_t *proto_ecosystem_doc_new(const char *network, const uint8_t gov_key[CRY_PK_LEN]);

/* Reads a document for editing, without requiring a signature but checking the rest. */
int proto_ecosystem_doc_read(const char *path, json_t **doc, char *err, size_t errlen) TN_MUST_CHECK;

/* Adds an org (fails with TN_ERR_EXISTS if the id is taken) and drops the signature,
 * since the content changed. roles is a comma-separated list. */
int proto_ecosystem_doc_add_org(json_t *doc, const char *id, const char *name,
                                const uint8_t key[CRY_PK_LEN], const char *roles,
                                const uint8_t *node_key, const char *addr, char *err,
                                size_t errlen) TN_MUST_CHECK;

/* Signs the document with the governance key (must match its governance_key). */
int proto_ecosystem_doc_sign(json_t *doc, const struct cry_keypair *gov, char *err,
                             size_t errlen) TN_MUST_CHECK;

/* Writes the document atomically (temp file, fsync, rename), pretty-printed. */
int proto_ecosystem_doc_write(const char *path, json_t *doc, char *err,
                              size_t errlen) TN_MUST_CHECK;

#endif
