/* Fixed signing keys for the fuzz targets: the same bytes on every run, so that whatever a
 * run finds reproduces from the input alone. Nothing here is secret, so plain memory. */
#ifndef TN_FUZZ_KEYS_H
#define TN_FUZZ_KEYS_H

#include <sodium.h>
#include <stdint.h>

#include "crypto/key.h"

/* kp from the seed 0, 1, 2, ..., 31 (fill < 0) or from 32 bytes of fill; sk is the
 * caller's buffer for the secret key. Starts libsodium; traps if it cannot. */
static inline void fuzz_fixed_key(struct cry_keypair *kp,
                                  uint8_t sk[crypto_sign_SECRETKEYBYTES], int fill)
{
    uint8_t seed[crypto_sign_SEEDBYTES];

    if (cry_init() != 0)
        __builtin_trap();
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = fill < 0 ? (uint8_t)i : (uint8_t)fill;
    crypto_sign_seed_keypair(kp->pk, sk, seed);
    kp->sk = sk;
}

#endif
