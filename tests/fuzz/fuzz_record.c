/* Fuzz target: the record decoder (proto/record.c, proto/cbor.c) on arbitrary bytes.
 *
 * proto_record_decode is the one decoder, for peer bytes and stored bytes alike (a
 * corrupted database page is bad input too, DESIGN section 7).
 *
 * When the strict decoder accepts the bytes, the format is canonical (deterministic
 * CBOR, fixed COSE layout), so re-encoding must give the input back. The payload encoder
 * is only reachable through proto_record_sign, so the target signs the decoded record
 * with a fixed key and checks:
 *  - the output has the input's length (and proto_record_encoded_len agrees), and equals
 *    the input byte for byte once the kid and signature (the only parts that depend on
 *    the key) are put back: the payload and the protected header round-trip exactly;
 *  - decoding the re-signed bytes and signing again gives the same bytes (decode ->
 *    encode -> decode keeps every field; Ed25519 is deterministic), and the signature
 *    verifies with the fixed key;
 *  - proto_record_check passes and the id is SHA-256 of the bytes.
 * Built for libFuzzer by tests/fuzz/run; in the normal build it replays the corpus. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/record.h"
#include "tests/fuzz/fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Layout of a strictly decoded record: tag 18, array(4), bstr(38) protected header
 * {1: -8, 4: bstr(32) kid}, ..., bstr(64) signature at the very end. */
#define KID_OFF 10
#define SIG_TAIL (2 + CRY_SIG_LEN)

static struct cry_keypair fixed;
static uint8_t fixed_sk[crypto_sign_SECRETKEYBYTES];

static void setup_key(void)
{
    if (!fixed.sk)
        fuzz_fixed_key(&fixed, fixed_sk, -1);
}

/* A failed decode reports why and leaves nothing behind. */
static void check_failure(int rc, const struct proto_record *r, const char *err)
{
    if (rc != TN_ERR_INVALID && rc != TN_ERR_TOO_BIG && rc != TN_ERR_NOMEM)
        __builtin_trap();
    if (!err[0] || r->arena.head || r->arena.used || r->tbs)
        __builtin_trap();
}

/* Signs r with the fixed key into out (PROTO_RECORD_MAX bytes). */
static size_t resign(const struct proto_record *r, uint8_t *out)
{
    char err[256];
    size_t len = 0, want = 0;

    if (proto_record_sign(r, &fixed, out, PROTO_RECORD_MAX, &len, err, sizeof err) != 0)
        __builtin_trap();
    if (proto_record_encoded_len(r, &want) != 0 || want != len)
        __builtin_trap();
    return len;
}

static void check_accepted(const uint8_t *data, size_t size, const struct proto_record *r)
{
    static uint8_t out[PROTO_RECORD_MAX], again[PROTO_RECORD_MAX], patched[PROTO_RECORD_MAX];
    struct proto_record back;
    uint8_t id[PROTO_ID_LEN], h[PROTO_ID_LEN];
    char err[256];
    size_t len, len2;

    if (proto_record_check(r, err, sizeof err) != 0)
        __builtin_trap();
    if (size < KID_OFF + CRY_PK_LEN + SIG_TAIL ||
        memcmp(r->signer, data + KID_OFF, CRY_PK_LEN) != 0 ||
        memcmp(r->sig, data + size - CRY_SIG_LEN, CRY_SIG_LEN) != 0 || !r->tbs)
        __builtin_trap();
    /* The id is the hash of the exact bytes. */
    proto_record_id(id, data, size);
    cry_sha256(h, data, size);
    if (memcmp(id, h, PROTO_ID_LEN) != 0)
        __builtin_trap();
    /* The signature is checked only for coverage: arbitrary bytes rarely carry a good one. */
    (void)proto_record_verify(r, r->signer);

    /* Re-encode: everything but the kid and the signature is the input. */
    len = resign(r, out);
    if (len != size)
        __builtin_trap();
    memcpy(patched, out, len);
    memcpy(patched + KID_OFF, data + KID_OFF, CRY_PK_LEN);
    memcpy(patched + len - CRY_SIG_LEN, data + size - CRY_SIG_LEN, CRY_SIG_LEN);
    if (memcmp(patched, data, size) != 0)
        __builtin_trap();

    /* decode -> encode -> decode: the re-signed record decodes to the same fields. */
    proto_record_init(&back);
    if (proto_record_decode(out, len, &back, err, sizeof err) != 0 ||
        !proto_record_verify(&back, fixed.pk) ||
        memcmp(back.signer, fixed.pk, CRY_PK_LEN) != 0)
        __builtin_trap();
    len2 = resign(&back, again);
    if (len2 != len || memcmp(again, out, len) != 0)
        __builtin_trap();
    proto_record_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_record r;
    char err[256];
    int rc;

    setup_key();

    proto_record_init(&r);
    err[0] = '\0';
    rc = proto_record_decode(data, size, &r, err, sizeof err);
    if (rc == 0)
        check_accepted(data, size, &r);
    else
        check_failure(rc, &r, err);
    proto_record_release(&r);

    return 0;
}
