/* The Noise Protocol Framework (revision 34), pattern XX with X25519, ChaCha20-Poly1305
 * and SHA-256: Noise_XX_25519_ChaChaPoly_SHA256, built from libsodium primitives.
 *
 *   -> e
 *   <- e, ee, s, es
 *   -> s, se
 *
 * Node keys are Ed25519 (they are what the ecosystem file lists); Noise uses their
 * X25519 form (libsodium's birational map), and each side sends its Ed25519 public key
 * as handshake payload so the other can check it against the ecosystem and against the
 * static key the handshake authenticated. docs/PROTOCOL.md has the bytes. */
#ifndef TN_CRYPTO_NOISE_H
#define TN_CRYPTO_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "crypto/key.h"

#define CRY_NOISE_PROTOCOL "Noise_XX_25519_ChaChaPoly_SHA256"
#define CRY_NOISE_TAG 16
#define CRY_NOISE_MSG_MAX 65535 /* Noise's limit on one message */

/* One direction of transport encryption. */
struct cry_noise_cipher {
    uint8_t k[32];
    uint64_t n;
    bool has_key;
};

struct cry_noise_hs {
    bool initiator;
    int step; /* messages processed so far: 0..3 */
    uint8_t ck[32], h[32];
    struct cry_noise_cipher cs;
    uint8_t s_pk[32], s_sk[32]; /* local static, X25519 */
    uint8_t e_pk[32], e_sk[32]; /* local ephemeral */
    bool has_e;
    uint8_t rs[32], re[32]; /* remote static and ephemeral */
};

/* Starts a handshake. s_sk is the local static X25519 secret (cry_noise_static_from).
 * The prologue (e.g. "tracenode/1" and the network id) is bound into the handshake: two
 * sides with different prologues fail at the first encrypted message. */
void cry_noise_init(struct cry_noise_hs *hs, bool initiator, const uint8_t *prologue,
                    size_t prologue_len, const uint8_t s_sk[32]);

/* For known-answer tests only: fixes the ephemeral key instead of a random one. */
void cry_noise_set_ephemeral(struct cry_noise_hs *hs, const uint8_t e_sk[32]);

/* Writes the next handshake message carrying payload into out[0..cap). */
int cry_noise_write(struct cry_noise_hs *hs, const uint8_t *payload, size_t payload_len,
                    uint8_t *out, size_t cap, size_t *out_len) TN_MUST_CHECK;

/* Reads the next handshake message; the payload goes to payload[0..cap). TN_ERR_INVALID
 * on a malformed message, TN_ERR_BAD_SIGNATURE if authentication fails (wrong prologue,
 * tampering, bad keys). */
int cry_noise_read(struct cry_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                   size_t cap, size_t *payload_len) TN_MUST_CHECK;

/* true after all three messages. */
bool cry_noise_done(const struct cry_noise_hs *hs);

/* After the handshake: the transport ciphers (send, receive) for this side, and the
 * remote static X25519 key the handshake authenticated. Wipes the handshake state. */
void cry_noise_split(struct cry_noise_hs *hs, struct cry_noise_cipher *send,
                     struct cry_noise_cipher *recv, uint8_t remote_static[32]);

/* Wipes hs without splitting (a failed handshake). */
void cry_noise_release(struct cry_noise_hs *hs);

/* Transport encryption: out gets len + CRY_NOISE_TAG bytes. Fails (TN_ERR_INVALID) when
 * the nonce would wrap. */
int cry_noise_encrypt(struct cry_noise_cipher *c, const uint8_t *pt, size_t len,
                      uint8_t *out) TN_MUST_CHECK;

/* out gets len - CRY_NOISE_TAG bytes; TN_ERR_BAD_SIGNATURE if the tag does not verify
 * (tampered, replayed or reordered frame). */
int cry_noise_decrypt(struct cry_noise_cipher *c, const uint8_t *ct, size_t len,
                      uint8_t *out) TN_MUST_CHECK;

/* The X25519 static key of an Ed25519 node key pair / public key. */
int cry_noise_static_from(uint8_t x_sk[32], const struct cry_keypair *ed) TN_MUST_CHECK;
int cry_noise_static_pk(uint8_t x_pk[32], const uint8_t ed_pk[CRY_PK_LEN]) TN_MUST_CHECK;

#endif
