/* Checkpoints (C2SP tlog-checkpoint) wrapped in signed notes (C2SP signed-note).
 *
 *     <origin>\n<size>\n<base64 root>\n
 *     \n
 *     — <key name> <base64(key id[4] || Ed25519 signature[64])>\n
 *
 * The signature covers the body (the first three lines, with their newlines). The key
 * name is the origin ("net/org"); key id = SHA-256(name || 0x0A || 0x01 || pk)[:4].
 * Unknown signature lines are ignored, as the spec requires (cosignatures). */
#ifndef TN_CRYPTO_CHECKPOINT_H
#define TN_CRYPTO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/key.h"

#define CRY_ORIGIN_MAX 160           /* bytes, excluding NUL */
#define CRY_NOTE_MAX 4096            /* whole signed note, bytes */
#define CRY_NOTE_MAX_SIGNATURES 32   /* spec: accept at least 16, cap the number */

struct cry_checkpoint {
    char origin[CRY_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t root[CRY_HASH_LEN];
};

/* Signs cp with kp under key name cp->origin. Writes the note into out[0..cap) with a
 * terminating NUL; *len gets the note length. TN_ERR_INVALID for an origin with
 * whitespace or '+', TN_ERR_TOO_BIG if cap is short. */
int cry_checkpoint_sign(const struct cry_checkpoint *cp, const struct cry_keypair *kp,
                        char *out, size_t cap, size_t *len) TN_MUST_CHECK;

/* Parses a signed note and verifies the signature by (origin, pk). Fills *cp on success.
 * TN_ERR_INVALID: malformed note or wrong origin; TN_ERR_BAD_SIGNATURE: the key's
 * signature is missing or fails. */
int cry_checkpoint_verify(const char *note, size_t len, const char *origin,
                          const uint8_t pk[CRY_PK_LEN], struct cry_checkpoint *cp) TN_MUST_CHECK;

/* Key id of an Ed25519 note key. */
void cry_note_key_id(uint8_t id[4], const char *name, const uint8_t pk[CRY_PK_LEN]);

#endif
