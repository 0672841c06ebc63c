/* Noise_XX_25519_ChaChaPoly_SHA256 against the known answers of an independent
 * implementation (flynn/noise's vectors.txt, Debian package golang-github-flynn-noise-dev),
 * then the failures that matter for a transport: wrong prologue (network), tampering,
 * replay, low-order keys. */
#include <sodium.h>

#include "../test_util.h"
#include "crypto/noise.h"

#ifndef TN_NOISE_VECTORS
#define TN_NOISE_VECTORS "/usr/share/gocode/src/github.com/flynn/noise/vectors.txt"
#endif

struct vec {
    uint8_t init_static[32], resp_static[32], init_e[32], resp_e[32];
    uint8_t prologue[256];
    size_t prologue_len;
    uint8_t payload[8][256], ct[8][512];
    size_t payload_len[8], ct_len[8];
    int n_msgs;
};

static size_t unhex_any(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex);
    while (n && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
        n--;
    assert_true(n % 2 == 0 && n / 2 <= cap);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

/* Reads every XX_25519_ChaChaPoly_SHA256 block of the file into v[]. */
static int load(struct vec *v, int max)
{
    FILE *f = fopen(TN_NOISE_VECTORS, "r");
    char line[4096];
    int count = 0;
    struct vec *cur = NULL;

    assert_non_null(f); /* the package is installed by tests/run; missing = failure */
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (strncmp(line, "handshake=", 10) == 0) {
            cur = NULL;
            if (strcmp(line, "handshake=" CRY_NOISE_PROTOCOL "\n") == 0 && count < max) {
                cur = &v[count++];
                memset(cur, 0, sizeof *cur);
            }
            continue;
        }
        if (!cur || !eq)
            continue;
        *eq = '\0';
        if (strcmp(line, "init_static") == 0)
            unhex_any(cur->init_static, 32, eq + 1);
        else if (strcmp(line, "resp_static") == 0)
            unhex_any(cur->resp_static, 32, eq + 1);
        else if (strcmp(line, "gen_init_ephemeral") == 0)
            unhex_any(cur->init_e, 32, eq + 1);
        else if (strcmp(line, "gen_resp_ephemeral") == 0)
            unhex_any(cur->resp_e, 32, eq + 1);
        else if (strcmp(line, "prologue") == 0)
            cur->prologue_len = unhex_any(cur->prologue, sizeof cur->prologue, eq + 1);
        else if (sscanf(line, "msg_%d_", &(int){0}) == 1) {
            int i = atoi(line + 4);
            assert_true(i >= 0 && i < 8);
            if (strstr(line, "payload"))
                cur->payload_len[i] = unhex_any(cur->payload[i], 256, eq + 1);
            else
                cur->ct_len[i] = unhex_any(cur->ct[i], 512, eq + 1);
            if (i + 1 > cur->n_msgs)
                cur->n_msgs = i + 1;
        }
    }
    fclose(f);
    return count;
}

static void test_known_answers(void **state)
{
    static struct vec v[8];
    int n = load(v, 8);
    (void)state;

    assert_int_equal(n, 4); /* the file has four blocks for this protocol */
    for (int t = 0; t < n; t++) {
        struct cry_noise_hs i, r;
        struct cry_noise_cipher isend, irecv, rsend, rrecv;
        uint8_t out[1024], pt[1024], rs_i[32], rs_r[32], want[32];
        size_t len, plen;

        cry_noise_init(&i, true, v[t].prologue, v[t].prologue_len, v[t].init_static);
        cry_noise_init(&r, false, v[t].prologue, v[t].prologue_len, v[t].resp_static);
        cry_noise_set_ephemeral(&i, v[t].init_e);
        cry_noise_set_ephemeral(&r, v[t].resp_e);
        for (int m = 0; m < 3; m++) {
            struct cry_noise_hs *w = m % 2 ? &r : &i, *rd = m % 2 ? &i : &r;
            assert_int_equal(cry_noise_write(w, v[t].payload[m], v[t].payload_len[m], out,
                                             sizeof out, &len),
                             0);
            assert_int_equal(len, v[t].ct_len[m]);
            assert_memory_equal(out, v[t].ct[m], len);
            assert_int_equal(cry_noise_read(rd, out, len, pt, sizeof pt, &plen), 0);
            assert_int_equal(plen, v[t].payload_len[m]);
            assert_memory_equal(pt, v[t].payload[m], plen);
        }
        assert_true(cry_noise_done(&i) && cry_noise_done(&r));
        cry_noise_split(&i, &isend, &irecv, rs_i);
        cry_noise_split(&r, &rsend, &rrecv, rs_r);
        crypto_scalarmult_base(want, v[t].resp_static);
        assert_memory_equal(rs_i, want, 32);
        crypto_scalarmult_base(want, v[t].init_static);
        assert_memory_equal(rs_r, want, 32);
        /* transport messages alternate, starting with the initiator (as flynn/noise writes its
         * vectors: the side that wrote the last handshake message sends first) */
        for (int m = 3; m < v[t].n_msgs; m++) {
            struct cry_noise_cipher *s = m % 2 ? &isend : &rsend, *d = m % 2 ? &rrecv : &irecv;
            assert_int_equal(cry_noise_encrypt(s, v[t].payload[m], v[t].payload_len[m], out), 0);
            assert_int_equal(v[t].payload_len[m] + CRY_NOISE_TAG, v[t].ct_len[m]);
            assert_memory_equal(out, v[t].ct[m], v[t].ct_len[m]);
            assert_int_equal(cry_noise_decrypt(d, out, v[t].ct_len[m], pt), 0);
            assert_memory_equal(pt, v[t].payload[m], v[t].payload_len[m]);
        }
    }
}

/* Runs a handshake between fresh keys; returns the first failing step's code. */
static int handshake(const char *pi, const char *pr, int tamper_msg, size_t tamper_byte)
{
    uint8_t si[32], sr[32], out[512], pt[512];
    struct cry_noise_hs i, r;
    size_t len, plen;
    int rc = 0;

    randombytes_buf(si, 32);
    randombytes_buf(sr, 32);
    cry_noise_init(&i, true, (const uint8_t *)pi, strlen(pi), si);
    cry_noise_init(&r, false, (const uint8_t *)pr, strlen(pr), sr);
    for (int m = 0; m < 3 && rc == 0; m++) {
        struct cry_noise_hs *w = m % 2 ? &r : &i, *rd = m % 2 ? &i : &r;
        assert_int_equal(cry_noise_write(w, (const uint8_t *)"hi", 2, out, sizeof out, &len), 0);
        if (m == tamper_msg)
            out[tamper_byte % len] ^= 0x01;
        rc = cry_noise_read(rd, out, len, pt, sizeof pt, &plen);
    }
    cry_noise_release(&i);
    cry_noise_release(&r);
    return rc;
}

static void test_failures(void **state)
{
    (void)state;
    assert_int_equal(handshake("tracenode/1 net-a", "tracenode/1 net-a", -1, 0), 0);
    /* another network: the prologue differs, the first encrypted field fails */
    assert_int_equal(handshake("tracenode/1 net-a", "tracenode/1 net-b", -1, 0),
                     TN_ERR_BAD_SIGNATURE);
    /* any flipped bit in messages 2 and 3 fails authentication; in message 1 (plain e)
     * it changes the keys, so message 2 fails instead */
    for (size_t b = 0; b < 82; b += 9) {
        assert_int_not_equal(handshake("p", "p", 1, b), 0);
        assert_int_not_equal(handshake("p", "p", 2, b), 0);
    }
    assert_int_not_equal(handshake("p", "p", 0, 5), 0);
}

static void test_low_order_and_truncation(void **state)
{
    uint8_t s[32], zero[32] = {0}, pt[64];
    struct cry_noise_hs r;
    size_t plen;
    (void)state;

    randombytes_buf(s, 32);
    cry_noise_init(&r, false, NULL, 0, s);
    /* -> e with the all-zero (low-order) point: accepted as bytes, but the responder's
     * DH with it fails when it writes message 2 */
    assert_int_equal(cry_noise_read(&r, zero, 32, pt, sizeof pt, &plen), 0);
    {
        uint8_t out[256];
        size_t len;
        assert_int_equal(cry_noise_write(&r, NULL, 0, out, sizeof out, &len),
                         TN_ERR_BAD_SIGNATURE);
    }
    cry_noise_release(&r);
    cry_noise_init(&r, false, NULL, 0, s);
    assert_int_equal(cry_noise_read(&r, zero, 31, pt, sizeof pt, &plen), TN_ERR_INVALID);
    cry_noise_release(&r);
}

static void test_transport_replay_and_order(void **state)
{
    struct cry_noise_cipher a = {.has_key = true}, b = {.has_key = true};
    uint8_t c1[64], c2[64], pt[64];
    (void)state;

    randombytes_buf(a.k, 32);
    memcpy(b.k, a.k, 32);
    assert_int_equal(cry_noise_encrypt(&a, (const uint8_t *)"one", 3, c1), 0);
    assert_int_equal(cry_noise_encrypt(&a, (const uint8_t *)"two", 3, c2), 0);
    /* out of order fails, in order works, a replay fails */
    assert_int_equal(cry_noise_decrypt(&b, c2, 3 + CRY_NOISE_TAG, pt), TN_ERR_BAD_SIGNATURE);
    assert_int_equal(cry_noise_decrypt(&b, c1, 3 + CRY_NOISE_TAG, pt), 0);
    assert_memory_equal(pt, "one", 3);
    assert_int_equal(cry_noise_decrypt(&b, c1, 3 + CRY_NOISE_TAG, pt), TN_ERR_BAD_SIGNATURE);
    assert_int_equal(cry_noise_decrypt(&b, c2, 3 + CRY_NOISE_TAG, pt), 0);
    assert_int_equal(cry_noise_decrypt(&b, c2, 15, pt), TN_ERR_INVALID);
}

static void test_ed25519_static(void **state)
{
    struct cry_keypair kp;
    uint8_t xsk[32], xpk[32], derived[32];
    (void)state;

    assert_int_equal(cry_keypair_generate(&kp), 0);
    assert_int_equal(cry_noise_static_from(xsk, &kp), 0);
    assert_int_equal(cry_noise_static_pk(xpk, kp.pk), 0);
    crypto_scalarmult_base(derived, xsk);
    assert_memory_equal(derived, xpk, 32);
    cry_keypair_release(&kp);
}

static int setup(void **state)
{
    (void)state;
    return cry_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_low_order_and_truncation),
        cmocka_unit_test(test_transport_replay_and_order),
        cmocka_unit_test(test_ed25519_static),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
