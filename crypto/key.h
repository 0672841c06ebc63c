/* Ed25519 keys and key files.
 *
 * Key file format (text, mode 0600, see docs/FORMAT.md):
 *     # tracenode Ed25519 secret key -- keep private
 *     ed25519-secret:<standard base64 of the 32-byte seed>
 *     ed25519:<standard base64 of the 32-byte public key>
 * Lines starting with '#' are comments. The public line is informative; on load it
 * must match the key derived from the seed.
 *
 * Public keys print as "ed25519:" + base64 of 32 bytes everywhere. */
#ifndef TN_CRYPTO_KEY_H
#define TN_CRYPTO_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

#define CRY_PK_LEN 32
#define CRY_SIG_LEN 64
#define CRY_PK_TEXT_LEN (8 + 44 + 1) /* "ed25519:" + base64(32) + NUL */

/* A key pair. sk points into sodium_malloc memory (guarded, wiped on free). */
struct cry_keypair {
    uint8_t pk[CRY_PK_LEN];
    uint8_t *sk; /* crypto_sign_SECRETKEYBYTES, sodium_malloc */
};

/* Must be called once before anything else in this module (wraps sodium_init). */
int cry_init(void) TN_MUST_CHECK;

/* Generates a fresh key pair. */
int cry_keypair_generate(struct cry_keypair *kp) TN_MUST_CHECK;

/* Wipes and frees the secret part; safe on a zeroed or released struct. */
void cry_keypair_release(struct cry_keypair *kp);

/* Creates a new key file at path (O_EXCL: never overwrites), mode 0600, and writes kp.
 * TN_ERR_EXISTS if the file exists, TN_ERR_IO otherwise. */
int cry_keyfile_write(const char *path, const struct cry_keypair *kp) TN_MUST_CHECK;

/* Loads a key file. Refuses (TN_ERR_PERM) a file readable or writable by group or
 * others, and (TN_ERR_INVALID) a malformed one or a seed of the wrong size. On error a
 * one-line reason goes to err[0..errlen). kp is untouched on error. */
int cry_keyfile_read(const char *path, struct cry_keypair *kp, char *err,
                     size_t errlen) TN_MUST_CHECK;

/* "ed25519:<base64>" into out (CRY_PK_TEXT_LEN bytes). */
void cry_pk_format(char *out, const uint8_t pk[CRY_PK_LEN]);

/* Parses "ed25519:<base64 of 32 bytes>"; TN_ERR_INVALID otherwise. */
int cry_pk_parse(uint8_t pk[CRY_PK_LEN], const char *text) TN_MUST_CHECK;

/* Detached Ed25519 signature of msg. */
void cry_sign(uint8_t sig[CRY_SIG_LEN], const uint8_t *msg, size_t len,
              const struct cry_keypair *kp);

/* true if sig is a valid Ed25519 signature of msg by pk. */
bool cry_verify(const uint8_t sig[CRY_SIG_LEN], const uint8_t *msg, size_t len,
                const uint8_t pk[CRY_PK_LEN]);

/* SHA-256. */
#define CRY_HASH_LEN 32
void cry_sha256(uint8_t out[CRY_HASH_LEN], const uint8_t *data, size_t len);

#endif
