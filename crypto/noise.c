#include "crypto/noise.h"

#include <sodium.h>
#include <string.h>

/* --- HKDF and the SymmetricState (Noise section 5.2) ------------------------------- */

static void hmac(uint8_t out[32], const uint8_t *key, size_t key_len, const uint8_t *a,
                 size_t a_len, const uint8_t *b, size_t b_len)
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, a, a_len);
    if (b_len)
        crypto_auth_hmacsha256_update(&st, b, b_len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* HKDF(chaining_key, input_key_material, 2) (Noise section 4.3). */
static void hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len, uint8_t out1[32],
                  uint8_t out2[32])
{
    uint8_t temp[32], one = 0x01, two = 0x02;

    hmac(temp, ck, 32, ikm, ikm_len, NULL, 0);
    hmac(out1, temp, 32, &one, 1, NULL, 0);
    hmac(out2, temp, 32, out1, 32, &two, 1);
    sodium_memzero(temp, sizeof temp);
}

static void mix_hash(struct cry_noise_hs *hs, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, 32);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, hs->h);
}

static void mix_key(struct cry_noise_hs *hs, const uint8_t dh[32])
{
    hkdf2(hs->ck, dh, 32, hs->ck, hs->cs.k);
    hs->cs.has_key = true;
    hs->cs.n = 0;
}

/* Nonce: 32 zero bits, then the counter as little-endian 64 bits (section 12.3). */
static void nonce(uint8_t out[12], uint64_t n)
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i));
}

static int aead_encrypt(struct cry_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                        const uint8_t *pt, size_t len, uint8_t *out)
{
    uint8_t iv[12];

    if (c->n == UINT64_MAX) /* 2^64-1 is reserved; never reuse a nonce */
        return TN_ERR_INVALID;
    nonce(iv, c->n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, ad_len, NULL, iv, c->k);
    c->n++;
    return 0;
}

static int aead_decrypt(struct cry_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                        const uint8_t *ct, size_t len, uint8_t *out)
{
    uint8_t iv[12];

    if (len < CRY_NOISE_TAG || c->n == UINT64_MAX)
        return TN_ERR_INVALID;
    nonce(iv, c->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, ad_len, iv,
                                                  c->k) != 0)
        return TN_ERR_BAD_SIGNATURE;
    c->n++;
    return 0;
}

/* EncryptAndHash: out gets len (+16 once a key is set) bytes. */
static int encrypt_and_hash(struct cry_noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out,
                            size_t *out_len)
{
    int rc;

    if (hs->cs.has_key) {
        if ((rc = aead_encrypt(&hs->cs, hs->h, 32, pt, len, out)) != 0)
            return rc;
        *out_len = len + CRY_NOISE_TAG;
    } else {
        if (len) /* an empty payload may come as NULL */
            memmove(out, pt, len);
        *out_len = len;
    }
    mix_hash(hs, out, *out_len);
    return 0;
}

static int decrypt_and_hash(struct cry_noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out,
                            size_t *out_len)
{
    int rc;

    if (hs->cs.has_key) {
        if ((rc = aead_decrypt(&hs->cs, hs->h, 32, ct, len, out)) != 0)
            return rc;
        *out_len = len - CRY_NOISE_TAG;
    } else {
        if (len)
            memmove(out, ct, len);
        *out_len = len;
    }
    mix_hash(hs, ct, len); /* the ciphertext, as received */
    return 0;
}

/* --- handshake ------------------------------------------------------------------------ */

void cry_noise_init(struct cry_noise_hs *hs, bool initiator, const uint8_t *prologue,
                    size_t prologue_len, const uint8_t s_sk[32])
{
    memset(hs, 0, sizeof *hs);
    hs->initiator = initiator;
    /* The protocol name is exactly 32 bytes: h is the name itself (section 5.2). */
    memcpy(hs->h, CRY_NOISE_PROTOCOL, 32);
    memcpy(hs->ck, hs->h, 32);
    mix_hash(hs, prologue, prologue_len);
    memcpy(hs->s_sk, s_sk, 32);
    crypto_scalarmult_base(hs->s_pk, hs->s_sk);
}

void cry_noise_set_ephemeral(struct cry_noise_hs *hs, const uint8_t e_sk[32])
{
    memcpy(hs->e_sk, e_sk, 32);
    crypto_scalarmult_base(hs->e_pk, hs->e_sk);
    hs->has_e = true;
}

static void new_ephemeral(struct cry_noise_hs *hs)
{
    if (!hs->has_e) {
        randombytes_buf(hs->e_sk, 32);
        crypto_scalarmult_base(hs->e_pk, hs->e_sk);
        hs->has_e = true;
    }
}

/* DH(priv, pub) then MixKey. X25519 with a low-order point gives all zeros, which
 * libsodium reports as an error: the handshake fails. */
static int dh_mix(struct cry_noise_hs *hs, const uint8_t priv[32], const uint8_t pub[32])
{
    uint8_t shared[32];

    if (crypto_scalarmult(shared, priv, pub) != 0)
        return TN_ERR_BAD_SIGNATURE;
    mix_key(hs, shared);
    sodium_memzero(shared, sizeof shared);
    return 0;
}

int cry_noise_write(struct cry_noise_hs *hs, const uint8_t *payload, size_t payload_len,
                    uint8_t *out, size_t cap, size_t *out_len)
{
    size_t off = 0, n;
    int rc;

    /* the largest message is e (32) + encrypted s (48) + payload + tag */
    if (payload_len > CRY_NOISE_MSG_MAX - 96 || cap < payload_len + 96)
        return TN_ERR_TOO_BIG;
    switch (hs->step) {
    case 0: /* -> e */
        if (!hs->initiator)
            return TN_ERR_INVALID;
        new_ephemeral(hs);
        memcpy(out, hs->e_pk, 32);
        mix_hash(hs, hs->e_pk, 32);
        off = 32;
        break;
    case 1: /* <- e, ee, s, es */
        if (hs->initiator)
            return TN_ERR_INVALID;
        new_ephemeral(hs);
        memcpy(out, hs->e_pk, 32);
        mix_hash(hs, hs->e_pk, 32);
        off = 32;
        if ((rc = dh_mix(hs, hs->e_sk, hs->re)) != 0)
            return rc;
        if ((rc = encrypt_and_hash(hs, hs->s_pk, 32, out + off, &n)) != 0)
            return rc;
        off += n;
        if ((rc = dh_mix(hs, hs->s_sk, hs->re)) != 0) /* es: responder's s, initiator's e */
            return rc;
        break;
    case 2: /* -> s, se */
        if (!hs->initiator)
            return TN_ERR_INVALID;
        if ((rc = encrypt_and_hash(hs, hs->s_pk, 32, out, &n)) != 0)
            return rc;
        off = n;
        if ((rc = dh_mix(hs, hs->s_sk, hs->re)) != 0) /* se: initiator's s, responder's e */
            return rc;
        break;
    default:
        return TN_ERR_INVALID;
    }
    if ((rc = encrypt_and_hash(hs, payload, payload_len, out + off, &n)) != 0)
        return rc;
    *out_len = off + n;
    hs->step++;
    return 0;
}

int cry_noise_read(struct cry_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                   size_t cap, size_t *payload_len)
{
    size_t off = 0, n, tag = hs->cs.has_key ? CRY_NOISE_TAG : 0;
    uint8_t s_pt[32];
    int rc;

    if (len > CRY_NOISE_MSG_MAX)
        return TN_ERR_TOO_BIG;
    switch (hs->step) {
    case 0: /* -> e */
        if (hs->initiator || len < 32)
            return TN_ERR_INVALID;
        memcpy(hs->re, msg, 32);
        mix_hash(hs, hs->re, 32);
        off = 32;
        tag = 0;
        break;
    case 1: /* <- e, ee, s, es */
        if (!hs->initiator || len < 32 + 48 + CRY_NOISE_TAG)
            return TN_ERR_INVALID;
        memcpy(hs->re, msg, 32);
        mix_hash(hs, hs->re, 32);
        if ((rc = dh_mix(hs, hs->e_sk, hs->re)) != 0)
            return rc;
        if ((rc = decrypt_and_hash(hs, msg + 32, 48, s_pt, &n)) != 0)
            return rc;
        memcpy(hs->rs, s_pt, 32);
        if ((rc = dh_mix(hs, hs->e_sk, hs->rs)) != 0) /* es */
            return rc;
        off = 80;
        tag = CRY_NOISE_TAG;
        break;
    case 2: /* -> s, se */
        if (hs->initiator || len < 48 + CRY_NOISE_TAG)
            return TN_ERR_INVALID;
        if ((rc = decrypt_and_hash(hs, msg, 48, s_pt, &n)) != 0)
            return rc;
        memcpy(hs->rs, s_pt, 32);
        if ((rc = dh_mix(hs, hs->e_sk, hs->rs)) != 0) /* se */
            return rc;
        off = 48;
        tag = CRY_NOISE_TAG;
        break;
    default:
        return TN_ERR_INVALID;
    }
    if (len - off < tag || len - off - tag > cap)
        return TN_ERR_TOO_BIG;
    if ((rc = decrypt_and_hash(hs, msg + off, len - off, payload, payload_len)) != 0)
        return rc;
    hs->step++;
    return 0;
}

bool cry_noise_done(const struct cry_noise_hs *hs)
{
    return hs->step == 3;
}

void cry_noise_split(struct cry_noise_hs *hs, struct cry_noise_cipher *send,
                     struct cry_noise_cipher *recv, uint8_t remote_static[32])
{
    uint8_t k1[32], k2[32];

    hkdf2(hs->ck, NULL, 0, k1, k2);
    memset(send, 0, sizeof *send);
    memset(recv, 0, sizeof *recv);
    memcpy(hs->initiator ? send->k : recv->k, k1, 32);
    memcpy(hs->initiator ? recv->k : send->k, k2, 32);
    send->has_key = recv->has_key = true;
    memcpy(remote_static, hs->rs, 32);
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    cry_noise_release(hs);
}

void cry_noise_release(struct cry_noise_hs *hs)
{
    sodium_memzero(hs, sizeof *hs);
}

int cry_noise_encrypt(struct cry_noise_cipher *c, const uint8_t *pt, size_t len, uint8_t *out)
{
    return aead_encrypt(c, NULL, 0, pt, len, out);
}

int cry_noise_decrypt(struct cry_noise_cipher *c, const uint8_t *ct, size_t len, uint8_t *out)
{
    return aead_decrypt(c, NULL, 0, ct, len, out);
}

int cry_noise_static_from(uint8_t x_sk[32], const struct cry_keypair *ed)
{
    return crypto_sign_ed25519_sk_to_curve25519(x_sk, ed->sk) == 0 ? 0 : TN_ERR_INVALID;
}

int cry_noise_static_pk(uint8_t x_pk[32], const uint8_t ed_pk[CRY_PK_LEN])
{
    return crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk) == 0 ? 0 : TN_ERR_INVALID;
}
