/* Fuzz target: the Noise XX handshake (crypto/noise.c) and the payload check a node makes
 * after it (proto_wire_hs_check), with the prologue and payloads node/peer.c uses. Keys and
 * ephemerals are fixed, so every run is reproducible and the three genuine handshake
 * messages are known. The first byte picks what the rest is fed to:
 *   0: message 1, to a responder that has read nothing yet;
 *   1: message 2, to an initiator that sent the genuine message 1;
 *   2: message 3, to a responder that read the genuine message 1 and sent message 2;
 *   3: a transport frame, to the responder once the genuine handshake is done;
 *   4: a handshake payload, to the check that it names the authenticated static key.
 * Nothing may crash or leak, and nothing but the genuine message may be accepted where
 * the message is authenticated (2, 3 and transport frames): a forgery would need the keys.
 * Built for libFuzzer by tests/fuzz/run; in the normal build it is linked with replay.c and
 * replays the corpus as a regression test. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/key.h"
#include "crypto/noise.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_handshake: check failed: %s (line %d)\n", #cond,           \
                    __LINE__);                                                                \
            __builtin_trap();                                                                 \
        }                                                                                     \
    } while (0)

#define MSG1_LEN 32
#define MSG2_LEN (32 + 48 + PROTO_WIRE_HS_PAYLOAD + CRY_NOISE_TAG)
#define MSG3_LEN (48 + PROTO_WIRE_HS_PAYLOAD + CRY_NOISE_TAG)
#define PAYLOAD_CAP 256 /* what node/peer.c gives cry_noise_read */

static const char transport_pt[] = "\x93\x16\x00\x80"; /* PING {} */

struct ref {
    uint8_t prologue[64];
    size_t prologue_len;
    uint8_t i_pk[CRY_PK_LEN], r_pk[CRY_PK_LEN]; /* Ed25519 node keys */
    uint8_t i_x[32], r_x[32];                   /* their X25519 secrets */
    uint8_t r_rs[32];                           /* the initiator's X25519 public key */
    uint8_t i_e[32], r_e[32];                   /* fixed ephemerals */
    uint8_t i_payload[PROTO_WIRE_HS_PAYLOAD], r_payload[PROTO_WIRE_HS_PAYLOAD];
    uint8_t msg1[MSG1_LEN], msg2[MSG2_LEN], msg3[MSG3_LEN];
    struct cry_noise_hs i_sent1; /* the initiator after writing message 1 */
    struct cry_noise_hs r_sent2; /* the responder after writing message 2 */
    struct cry_noise_cipher i_tx, i_rx, r_tx, r_rx;
    uint8_t frame[sizeof transport_pt - 1 + CRY_NOISE_TAG]; /* initiator -> responder */
};

static void keypair(uint8_t pk[CRY_PK_LEN], uint8_t x_sk[32], uint8_t seed_byte)
{
    uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
    struct cry_keypair kp = {.sk = sk};

    memset(seed, seed_byte, sizeof seed);
    CHECK(crypto_sign_seed_keypair(kp.pk, sk, seed) == 0);
    memcpy(pk, kp.pk, CRY_PK_LEN);
    CHECK(cry_noise_static_from(x_sk, &kp) == 0);
}

static void start(const struct ref *r, struct cry_noise_hs *hs, bool initiator)
{
    cry_noise_init(hs, initiator, r->prologue, r->prologue_len, initiator ? r->i_x : r->r_x);
    cry_noise_set_ephemeral(hs, initiator ? r->i_e : r->r_e);
}

/* The genuine handshake, once: what every input is compared with. */
static const struct ref *reference(void)
{
    static struct ref r;
    static bool done;
    struct cry_noise_hs i, s;
    uint8_t payload[PAYLOAD_CAP], rs[32], out[512]; /* cry_noise_write wants room for any */
    size_t len, plen;

    if (done)
        return &r;
    CHECK(sodium_init() >= 0);
    r.prologue_len = (size_t)snprintf((char *)r.prologue, sizeof r.prologue, "%sfuzz-net",
                                      PROTO_WIRE_PROLOGUE);
    keypair(r.i_pk, r.i_x, 0x11);
    keypair(r.r_pk, r.r_x, 0x22);
    CHECK(cry_noise_static_pk(r.r_rs, r.i_pk) == 0);
    memset(r.i_e, 0x33, 32);
    memset(r.r_e, 0x44, 32);
    proto_wire_hs_payload(r.i_payload, r.i_pk);
    proto_wire_hs_payload(r.r_payload, r.r_pk);

    start(&r, &i, true);
    start(&r, &s, false);
    CHECK(cry_noise_write(&i, NULL, 0, out, sizeof out, &len) == 0 && len == MSG1_LEN);
    memcpy(r.msg1, out, MSG1_LEN);
    r.i_sent1 = i;
    CHECK(cry_noise_read(&s, r.msg1, MSG1_LEN, payload, sizeof payload, &plen) == 0 && plen == 0);
    CHECK(cry_noise_write(&s, r.r_payload, sizeof r.r_payload, out, sizeof out, &len) == 0 &&
          len == MSG2_LEN);
    memcpy(r.msg2, out, MSG2_LEN);
    r.r_sent2 = s;
    CHECK(cry_noise_read(&i, r.msg2, MSG2_LEN, payload, sizeof payload, &plen) == 0 &&
          plen == PROTO_WIRE_HS_PAYLOAD && memcmp(payload, r.r_payload, plen) == 0);
    CHECK(cry_noise_write(&i, r.i_payload, sizeof r.i_payload, out, sizeof out, &len) == 0 &&
          len == MSG3_LEN);
    memcpy(r.msg3, out, MSG3_LEN);
    CHECK(cry_noise_read(&s, r.msg3, MSG3_LEN, payload, sizeof payload, &plen) == 0 &&
          plen == PROTO_WIRE_HS_PAYLOAD && memcmp(payload, r.i_payload, plen) == 0);
    CHECK(cry_noise_done(&i) && cry_noise_done(&s));
    cry_noise_split(&i, &r.i_tx, &r.i_rx, rs);
    cry_noise_split(&s, &r.r_tx, &r.r_rx, rs);
    CHECK(memcmp(rs, r.r_rs, 32) == 0);
    CHECK(memcmp(r.i_tx.k, r.r_rx.k, 32) == 0 && memcmp(r.i_rx.k, r.r_tx.k, 32) == 0);
    {
        struct cry_noise_cipher tx = r.i_tx;
        CHECK(cry_noise_encrypt(&tx, (const uint8_t *)transport_pt, sizeof transport_pt - 1,
                                r.frame) == 0);
    }
    done = true;
    return &r;
}

static bool same(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/* 0: message 1 to a fresh responder. Message 1 is not authenticated: any 32 bytes are an
 * ephemeral key; node/peer.c refuses a payload after them. */
static void message1(const struct ref *r, const uint8_t *msg, size_t len)
{
    struct cry_noise_hs s;
    uint8_t payload[PAYLOAD_CAP], out[512];
    size_t plen = 0, olen = 0;
    int rc;

    start(r, &s, false);
    rc = cry_noise_read(&s, msg, len, payload, sizeof payload, &plen);
    CHECK((rc == 0) == (len >= MSG1_LEN && len - MSG1_LEN <= sizeof payload));
    if (rc != 0) {
        CHECK(rc == TN_ERR_INVALID || rc == TN_ERR_TOO_BIG);
        CHECK(s.step == 0);
        goto out;
    }
    CHECK(plen == len - MSG1_LEN && memcmp(payload, msg + MSG1_LEN, plen) == 0);
    if (plen != 0)
        goto out; /* the node drops the peer here */
    /* the answer: a low-order ephemeral makes the DH fail, never a weak key */
    rc = cry_noise_write(&s, r->r_payload, sizeof r->r_payload, out, sizeof out, &olen);
    CHECK(rc == 0 || rc == TN_ERR_BAD_SIGNATURE);
    if (rc == 0)
        CHECK(olen == MSG2_LEN);
    if (same(msg, len, r->msg1, MSG1_LEN))
        CHECK(rc == 0 && same(out, olen, r->msg2, MSG2_LEN));
out:
    cry_noise_release(&s);
}

/* 1: message 2 to the initiator; 2: message 3 to the responder. */
static void message23(const struct ref *r, int which, const uint8_t *msg, size_t len)
{
    struct cry_noise_hs hs = which == 1 ? r->i_sent1 : r->r_sent2;
    const uint8_t *genuine = which == 1 ? r->msg2 : r->msg3;
    size_t genuine_len = which == 1 ? MSG2_LEN : MSG3_LEN;
    uint8_t payload[PAYLOAD_CAP], out[512], node_pk[CRY_PK_LEN], rs[32];
    struct cry_noise_cipher tx, rx;
    size_t plen = 0, olen = 0;
    char why[200] = "";
    int rc;

    rc = cry_noise_read(&hs, msg, len, payload, sizeof payload, &plen);
    if (rc != 0) {
        CHECK(!same(msg, len, genuine, genuine_len));
        CHECK(rc == TN_ERR_INVALID || rc == TN_ERR_TOO_BIG || rc == TN_ERR_BAD_SIGNATURE);
        CHECK(hs.step == which); /* a failed read does not advance */
        cry_noise_release(&hs);
        return;
    }
    /* accepted: it must be the genuine message, carrying the genuine payload */
    CHECK(same(msg, len, genuine, genuine_len));
    CHECK(proto_wire_hs_check(payload, plen, hs.rs, node_pk, why, sizeof why) == 0);
    CHECK(memcmp(node_pk, which == 1 ? r->r_pk : r->i_pk, CRY_PK_LEN) == 0);
    if (which == 1) {
        CHECK(cry_noise_write(&hs, r->i_payload, sizeof r->i_payload, out, sizeof out, &olen) == 0);
        CHECK(same(out, olen, r->msg3, MSG3_LEN));
    }
    CHECK(cry_noise_done(&hs));
    cry_noise_split(&hs, &tx, &rx, rs);
    CHECK(memcmp(tx.k, which == 1 ? r->i_tx.k : r->r_tx.k, 32) == 0);
    CHECK(memcmp(rx.k, which == 1 ? r->i_rx.k : r->r_rx.k, 32) == 0);
}

/* 3: a transport frame to the responder's receiving cipher (nonce 0). */
static void transport(const struct ref *r, const uint8_t *ct, size_t len)
{
    struct cry_noise_cipher rx = r->r_rx;
    uint8_t pt[PROTO_WIRE_FRAME_MAX + CRY_NOISE_TAG];
    int rc;

    if (len > sizeof pt)
        return; /* node/peer.c refuses the length prefix first */
    rc = cry_noise_decrypt(&rx, ct, len, pt);
    if (rc != 0) {
        CHECK(!same(ct, len, r->frame, sizeof r->frame));
        CHECK(rc == TN_ERR_INVALID || rc == TN_ERR_BAD_SIGNATURE);
        CHECK(rx.n == 0);
        return;
    }
    CHECK(same(ct, len, r->frame, sizeof r->frame));
    CHECK(memcmp(pt, transport_pt, sizeof transport_pt - 1) == 0 && rx.n == 1);
}

/* 4: a payload, checked against the initiator's static key as the responder does. The
 * X25519 form of an Ed25519 key keeps only y, so the key with the sign of x flipped names
 * the same static key: the ecosystem, which lists exact keys, tells them apart. */
static void payload_check(const struct ref *r, const uint8_t *p, size_t len)
{
    uint8_t node_pk[CRY_PK_LEN], flipped[CRY_PK_LEN];
    char why[200] = "";
    int rc = proto_wire_hs_check(p, len, r->r_rs, node_pk, why, sizeof why);

    if (rc != 0) {
        CHECK(why[0] != '\0' && (rc == TN_ERR_INVALID || rc == TN_ERR_BAD_SIGNATURE));
        return;
    }
    memcpy(flipped, r->i_pk, CRY_PK_LEN);
    flipped[31] ^= 0x80;
    CHECK(len == PROTO_WIRE_HS_PAYLOAD && p[0] == PROTO_WIRE_VERSION &&
          memcmp(node_pk, p + 1, CRY_PK_LEN) == 0);
    CHECK(memcmp(node_pk, r->i_pk, CRY_PK_LEN) == 0 || memcmp(node_pk, flipped, CRY_PK_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ref *r = reference();

    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0: message1(r, data + 1, size - 1); break;
    case 1: message23(r, 1, data + 1, size - 1); break;
    case 2: message23(r, 2, data + 1, size - 1); break;
    case 3: transport(r, data + 1, size - 1); break;
    case 4: payload_check(r, data + 1, size - 1); break;
    }
    return 0;
}
