/* Project-wide error codes. Every fallible function returns 0 on success or one of
 * these negative values; tn_strerror() turns them into text. Lives in the lowest
 * layer so that every layer shares one enum. */
#ifndef TN_CRYPTO_ERROR_H
#define TN_CRYPTO_ERROR_H

#define TN_MUST_CHECK __attribute__((warn_unused_result))

enum tn_err {
    TN_OK = 0,
    TN_ERR_NOMEM = -1,         /* allocation failed */
    TN_ERR_INVALID = -2,       /* malformed input: bad JSON, bad CBOR, bad argument */
    TN_ERR_TOO_BIG = -3,       /* input over a documented size limit */
    TN_ERR_IO = -4,            /* file or socket I/O failed */
    TN_ERR_PERM = -5,          /* file permissions too loose */
    TN_ERR_BAD_SIGNATURE = -6, /* a signature does not verify */
    TN_ERR_NOT_FOUND = -7,     /* no such record, org, key, ... */
    TN_ERR_MAP_FULL = -8,      /* the LMDB map is full */
    TN_ERR_CHAIN = -9,         /* seq or prev does not continue the shard */
    TN_ERR_ROLE = -10,         /* the org's roles do not allow this record type */
    TN_ERR_UNKNOWN_ORG = -11,  /* org not in the ecosystem */
    TN_ERR_PROOF = -12,        /* a Merkle proof does not verify */
    TN_ERR_FROZEN = -13,       /* shard frozen after equivocation */
    TN_ERR_EXISTS = -14,       /* would overwrite something that exists */
    TN_ERR_UNREACHABLE = -15,  /* node not running / cannot connect */
    TN_ERR_CORRUPT = -16,      /* stored data is inconsistent */
    TN_ERR_UNKNOWN_KEY = -17,  /* signer key not the org's key */
};

/* Static text for an error code; never NULL. */
const char *tn_strerror(int err);

#endif
