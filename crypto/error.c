#include "crypto/error.h"

const char *tn_strerror(int err)
{
    switch ((enum tn_err)err) {
    case TN_OK: return "success";
    case TN_ERR_NOMEM: return "out of memory";
    case TN_ERR_INVALID: return "invalid input";
    case TN_ERR_TOO_BIG: return "input too large";
    case TN_ERR_IO: return "I/O error";
    case TN_ERR_PERM: return "permissions too loose";
    case TN_ERR_BAD_SIGNATURE: return "bad signature";
    case TN_ERR_NOT_FOUND: return "not found";
    case TN_ERR_MAP_FULL: return "database full (LMDB map size reached)";
    case TN_ERR_CHAIN: return "record does not continue the shard (seq/prev)";
    case TN_ERR_ROLE: return "record type not allowed by the org's roles";
    case TN_ERR_UNKNOWN_ORG: return "org not in the ecosystem";
    case TN_ERR_PROOF: return "proof does not verify";
    case TN_ERR_FROZEN: return "shard is frozen after equivocation";
    case TN_ERR_EXISTS: return "already exists";
    case TN_ERR_UNREACHABLE: return "node unreachable";
    case TN_ERR_CORRUPT: return "stored data is inconsistent";
    case TN_ERR_UNKNOWN_KEY: return "signer key is not the org's key";
    }
    return "unknown error";
}
