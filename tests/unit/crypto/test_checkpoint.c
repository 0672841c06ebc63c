/* Checkpoints in signed notes (C2SP tlog-checkpoint, C2SP signed-note).
 *
 * Notes under test are built here by hand (ref_*): key ids with libsodium's SHA-256,
 * signatures with libsodium's Ed25519, base64 with libsodium, so a malformed note carries a
 * valid signature and is refused for its shape alone. */
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>

#include "../test_util.h"

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "crypto/error.h"
#include "crypto/key.h"

#define EM_DASH "\xe2\x80\x94"
#define ORIGIN "example.net/org-a"
#define BLOB_LEN (4 + CRY_SIG_LEN)
#define BLOB_B64_LEN (CRY_B64_LEN(BLOB_LEN) - 1) /* 92 */

struct keys {
    struct cry_keypair a, b;
};

static struct keys *K(void **state)
{
    return *state;
}

static int group_setup(void **state)
{
    struct keys *k = calloc(1, sizeof *k);

    if (!k || cry_init() != 0 || cry_keypair_generate(&k->a) != 0 ||
        cry_keypair_generate(&k->b) != 0)
        return -1;
    *state = k;
    return 0;
}

static int group_teardown(void **state)
{
    struct keys *k = *state;

    cry_keypair_release(&k->a);
    cry_keypair_release(&k->b);
    free(k);
    return 0;
}

/* ---- reference note building --------------------------------------------------------- */

/* C2SP signed-note: key id = SHA-256(name || 0x0A || 0x01 || pk)[:4]. */
static void ref_key_id(uint8_t id[4], const char *name, const uint8_t pk[CRY_PK_LEN])
{
    uint8_t buf[512], h[crypto_hash_sha256_BYTES];
    size_t n = strlen(name);

    assert_true(n + 2 + CRY_PK_LEN <= sizeof buf);
    memcpy(buf, name, n);
    buf[n] = 0x0a;
    buf[n + 1] = 0x01;
    memcpy(buf + n + 2, pk, CRY_PK_LEN);
    crypto_hash_sha256(h, buf, n + 2 + CRY_PK_LEN);
    memcpy(id, h, 4);
}

static void ref_b64(char *out, size_t cap, const uint8_t *bin, size_t len)
{
    assert_true(cap >= sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

struct note {
    char s[16384];
    size_t len;
};

static void note_add(struct note *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note_add(struct note *n, const char *fmt, ...)
{
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(n->s + n->len, sizeof n->s - n->len, fmt, ap);
    va_end(ap);
    assert_true(w >= 0 && (size_t)w < sizeof n->s - n->len);
    n->len += (size_t)w;
}

static void note_add_bytes(struct note *n, const char *p, size_t len)
{
    assert_true(n->len + len < sizeof n->s);
    memcpy(n->s + n->len, p, len);
    n->len += len;
    n->s[n->len] = '\0';
}

/* Appends "— name base64(id || sig)\n": id for (name, id_pk), sig by sk over msg. */
static void note_add_sig(struct note *n, const char *name, const uint8_t id_pk[CRY_PK_LEN],
                         const uint8_t *sk, const char *msg, size_t msg_len)
{
    uint8_t blob[BLOB_LEN];
    char b64[BLOB_B64_LEN + 1];

    ref_key_id(blob, name, id_pk);
    assert_int_equal(crypto_sign_detached(blob + 4, NULL, (const uint8_t *)msg, msg_len, sk), 0);
    ref_b64(b64, sizeof b64, blob, sizeof blob);
    note_add(n, EM_DASH " %s %s\n", name, b64);
}

/* A signature line of an unknown signer: random id and signature bytes. */
static void note_add_unknown(struct note *n, const char *name)
{
    uint8_t blob[BLOB_LEN];
    char b64[BLOB_B64_LEN + 1];

    randombytes_buf(blob, sizeof blob);
    ref_b64(b64, sizeof b64, blob, sizeof blob);
    note_add(n, EM_DASH " %s %s\n", name, b64);
}

/* body + blank line + a valid signature of body by kp under ORIGIN. */
static void signed_body(struct note *n, const char *body, const struct cry_keypair *kp)
{
    n->len = 0;
    note_add(n, "%s\n", body);
    note_add_sig(n, ORIGIN, kp->pk, kp->sk, body, strlen(body));
}

static void body_of(char *out, size_t cap, const char *origin, const char *size,
                    const uint8_t root[CRY_HASH_LEN])
{
    char r64[CRY_B64_LEN(CRY_HASH_LEN)];
    int w;

    ref_b64(r64, sizeof r64, root, CRY_HASH_LEN);
    w = snprintf(out, cap, "%s\n%s\n%s\n", origin, size, r64);
    assert_true(w > 0 && (size_t)w < cap);
}

static int verify_note(const struct note *n, const char *origin, const uint8_t *pk,
                       struct cry_checkpoint *cp)
{
    /* an exact-size copy without a NUL, so an over-read shows under ASan */
    char *copy = malloc(n->len ? n->len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, n->s, n->len);
    rc = cry_checkpoint_verify(copy, n->len, origin, pk, cp);
    free(copy);
    return rc;
}

#define EXPECT_NOTE(n, origin, pk, want, what)                                                     \
    do {                                                                                           \
        struct cry_checkpoint cp_;                                                                 \
        int rc_ = verify_note((n), (origin), (pk), &cp_), want_ = (want);                          \
        if (rc_ != want_)                                                                          \
            fail_msg("%s: got %d (%s), want %d (%s); note:\n%s", (what), rc_, tn_strerror(rc_),    \
                     want_, tn_strerror(want_), (n)->s);                                           \
    } while (0)

static void sign_cp(const struct cry_checkpoint *cp, const struct cry_keypair *kp, struct note *n)
{
    int rc = cry_checkpoint_sign(cp, kp, n->s, sizeof n->s, &n->len);

    if (rc != 0)
        fail_msg("cry_checkpoint_sign(%s, %" PRIu64 ") = %d (%s)", cp->origin, cp->size, rc,
                 tn_strerror(rc));
}

static void make_cp(struct cry_checkpoint *cp, const char *origin, uint64_t size)
{
    memset(cp, 0, sizeof *cp);
    assert_true(strlen(origin) <= CRY_ORIGIN_MAX);
    memcpy(cp->origin, origin, strlen(origin) + 1);
    cp->size = size;
    randombytes_buf(cp->root, CRY_HASH_LEN);
}

/* ---- key ids ------------------------------------------------------------------------- */

static void test_key_id(void **state)
{
    struct keys *k = K(state);
    char long_name[CRY_ORIGIN_MAX + 1];
    const char *names[] = {"a", ORIGIN, "PeterNeumann", long_name, "caf\xc3\xa9/org"};
    uint8_t got[4], want[4], other[4];

    memset(long_name, 'n', CRY_ORIGIN_MAX);
    long_name[CRY_ORIGIN_MAX] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct cry_keypair *kps[2] = {&k->a, &k->b};
        for (int j = 0; j < 2; j++) {
            cry_note_key_id(got, names[i], kps[j]->pk);
            ref_key_id(want, names[i], kps[j]->pk);
            assert_memory_equal(got, want, 4);
        }
    }
    /* name and key both count */
    cry_note_key_id(got, ORIGIN, k->a.pk);
    cry_note_key_id(other, ORIGIN "x", k->a.pk);
    assert_memory_not_equal(got, other, 4);
    cry_note_key_id(other, ORIGIN, k->b.pk);
    assert_memory_not_equal(got, other, 4);

    /* published ids: golang.org/x/mod/sumdb/note (verifier keys name+id+base64(0x01||pk)) */
    {
        static const struct {
            const char *name, *id, *vkey;
        } v[] = {
            {"PeterNeumann", "c74f20a3", "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"},
            {"sum.golang.org", "033de0ae", "Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"},
        };
        for (size_t i = 0; i < 2; i++) {
            uint8_t vkey[33];
            assert_int_equal(cry_unb64(vkey, 33, v[i].vkey, strlen(v[i].vkey)), 0);
            assert_int_equal(vkey[0], 0x01);
            tn_test_unhex(want, 4, v[i].id);
            cry_note_key_id(got, v[i].name, vkey + 1);
            assert_memory_equal(got, want, 4);
        }
    }
}

/* The Go note package's documented example: key, text and signature line byte for byte. */
static void test_go_note_example(void **state)
{
    static const char text[] = "If you think cryptography is the answer to your problem,\n"
                               "then you don't know what your problem is.\n";
    static const char skey[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    static const char vkey[] = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    static const char sig64[] = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
                                "gKvqfqdngotpRZb6KE6RyyBwJnAM=";
    uint8_t seed[33], vk[33], want[BLOB_LEN], blob[BLOB_LEN];
    struct cry_keypair kp = {{0}, NULL};
    char got64[BLOB_B64_LEN + 1];

    (void)state;
    assert_int_equal(cry_unb64(seed, 33, skey, strlen(skey)), 0);
    assert_int_equal(cry_unb64(vk, 33, vkey, strlen(vkey)), 0);
    assert_int_equal(cry_unb64(want, BLOB_LEN, sig64, strlen(sig64)), 0);
    kp.sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    assert_non_null(kp.sk);
    assert_int_equal(crypto_sign_seed_keypair(kp.pk, kp.sk, seed + 1), 0);
    assert_memory_equal(kp.pk, vk + 1, CRY_PK_LEN);

    cry_note_key_id(blob, "PeterNeumann", kp.pk);
    cry_sign(blob + 4, (const uint8_t *)text, strlen(text), &kp);
    cry_b64(got64, blob, sizeof blob);
    assert_string_equal(got64, sig64);
    assert_true(cry_verify(want + 4, (const uint8_t *)text, strlen(text), vk + 1));
    cry_keypair_release(&kp);
}

/* ---- signing ------------------------------------------------------------------------- */

static void test_sign_exact_text(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp;
    struct note n, want;
    char body[512], r64[CRY_B64_LEN(CRY_HASH_LEN)];
    uint8_t id[4], blob[BLOB_LEN];
    const char *p, *line[6];
    size_t line_len[6], nlines = 0;

    make_cp(&cp, ORIGIN, 12345);
    memset(n.s, 'x', sizeof n.s);
    n.len = 999999;
    sign_cp(&cp, &k->a, &n);
    assert_int_equal(n.len, strlen(n.s));

    /* the whole text, built independently */
    body_of(body, sizeof body, ORIGIN, "12345", cp.root);
    want.len = 0;
    note_add(&want, "%s\n", body);
    note_add_sig(&want, ORIGIN, k->a.pk, k->a.sk, body, strlen(body));
    assert_string_equal(n.s, want.s);
    assert_int_equal(n.len, want.len);

    /* and its shape, line by line */
    for (p = n.s; *p && nlines < 6; nlines++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        line[nlines] = p;
        line_len[nlines] = (size_t)(nl - p);
        p = nl + 1;
    }
    assert_int_equal(*p, '\0'); /* ends with the newline of the signature line */
    assert_int_equal(nlines, 5);
    assert_int_equal(line_len[0], strlen(ORIGIN));
    assert_memory_equal(line[0], ORIGIN, strlen(ORIGIN));
    assert_int_equal(line_len[1], 5);
    assert_memory_equal(line[1], "12345", 5);
    ref_b64(r64, sizeof r64, cp.root, CRY_HASH_LEN);
    assert_int_equal(line_len[2], 44);
    assert_memory_equal(line[2], r64, 44);
    assert_int_equal(line_len[3], 0);
    {
        static const char prefix[] = EM_DASH " " ORIGIN " ";
        size_t pl = sizeof prefix - 1;
        size_t bin_len = 0;
        const char *end = NULL;

        /* U+2014 is e2 80 94 in UTF-8 */
        assert_int_equal((uint8_t)line[4][0], 0xe2);
        assert_int_equal((uint8_t)line[4][1], 0x80);
        assert_int_equal((uint8_t)line[4][2], 0x94);
        assert_int_equal(line_len[4], pl + BLOB_B64_LEN);
        assert_memory_equal(line[4], prefix, pl);
        assert_int_equal(sodium_base642bin(blob, sizeof blob, line[4] + pl, BLOB_B64_LEN, NULL,
                                           &bin_len, &end, sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(bin_len, BLOB_LEN);
        assert_ptr_equal(end, line[4] + pl + BLOB_B64_LEN);
    }
    ref_key_id(id, ORIGIN, k->a.pk);
    assert_memory_equal(blob, id, 4);
    /* the signature covers exactly the three body lines with their newlines */
    assert_int_equal(
        crypto_sign_verify_detached(blob + 4, (const uint8_t *)n.s, strlen(body), k->a.pk), 0);
    assert_int_not_equal(
        crypto_sign_verify_detached(blob + 4, (const uint8_t *)n.s, strlen(body) + 1, k->a.pk), 0);
}

static void test_sign_bad_origin(void **state)
{
    struct keys *k = K(state);
    static const char *const bad[] = {
        "",          "has space", "tab\there", "new\nline", "cr\rhere",
        "plus+sign", "del\x7f",   " lead",     "trail ",    "ctl\x01",
    };
    struct cry_checkpoint cp;
    char out[CRY_NOTE_MAX];
    size_t len;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        make_cp(&cp, bad[i], 1);
        rc = cry_checkpoint_sign(&cp, &k->a, out, sizeof out, &len);
        if (rc != TN_ERR_INVALID)
            fail_msg("origin \"%s\": got %d, want TN_ERR_INVALID", bad[i], rc);
    }
}

static void test_sign_buffer_too_small(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp;
    struct note full;
    char *buf;
    size_t len;

    make_cp(&cp, ORIGIN, 987654321);
    sign_cp(&cp, &k->a, &full);
    for (size_t cap = 0; cap <= full.len; cap++) {
        int rc;
        /* exactly cap bytes on the heap: a write past them shows under ASan */
        buf = malloc(cap ? cap : 1);
        assert_non_null(buf);
        rc = cry_checkpoint_sign(&cp, &k->a, buf, cap, &len);
        if (rc != TN_ERR_TOO_BIG)
            fail_msg("cap %zu (note is %zu bytes): got %d, want TN_ERR_TOO_BIG", cap, full.len, rc);
        free(buf);
    }
    buf = malloc(full.len + 1);
    assert_non_null(buf);
    assert_int_equal(cry_checkpoint_sign(&cp, &k->a, buf, full.len + 1, &len), 0);
    assert_int_equal(len, full.len);
    assert_string_equal(buf, full.s);
    free(buf);
}

/* ---- verifying good notes ------------------------------------------------------------ */

static void test_verify_roundtrip(void **state)
{
    struct keys *k = K(state);
    char long_origin[CRY_ORIGIN_MAX + 1];
    const char *origins[] = {ORIGIN, "a", "caf\xc3\xa9.example/log", long_origin};
    static const uint64_t sizes[] = {0,
                                     1,
                                     9,
                                     10,
                                     99,
                                     100,
                                     12345,
                                     UINT32_MAX,
                                     UINT64_C(9999999999999999999),
                                     UINT64_C(10000000000000000000),
                                     UINT64_C(18446744073709551609)};

    memset(long_origin, 'o', CRY_ORIGIN_MAX);
    long_origin[CRY_ORIGIN_MAX] = '\0';
    for (size_t o = 0; o < sizeof origins / sizeof origins[0]; o++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            struct cry_checkpoint cp, got;
            struct note n;
            int rc;

            make_cp(&cp, origins[o], sizes[s]);
            sign_cp(&cp, &k->a, &n);
            memset(&got, 0xa5, sizeof got);
            rc = verify_note(&n, origins[o], k->a.pk, &got);
            if (rc != 0)
                fail_msg("size %" PRIu64 ", origin %s: %d (%s)", sizes[s], origins[o], rc,
                         tn_strerror(rc));
            assert_string_equal(got.origin, cp.origin);
            assert_int_equal(got.size, cp.size);
            assert_memory_equal(got.root, cp.root, CRY_HASH_LEN);
        }
}

/* C2SP tlog-checkpoint: the size is a u64 in ASCII decimal, so every u64 signs and verifies. */
static void test_verify_largest_sizes(void **state)
{
    struct keys *k = K(state);
    bool bad = false;

    for (uint64_t d = 0; d <= 16; d++) {
        struct cry_checkpoint cp, got;
        struct note n;
        int rc;

        make_cp(&cp, ORIGIN, UINT64_MAX - d);
        sign_cp(&cp, &k->a, &n);
        rc = verify_note(&n, ORIGIN, k->a.pk, &got);
        if (rc != 0 || got.size != cp.size) {
            print_error("size %" PRIu64 " signs but does not verify: %d (%s)\n", cp.size, rc,
                        tn_strerror(rc));
            bad = true;
        }
    }
    assert_false(bad);
}

static void test_verify_wrong_key_or_origin(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp;
    struct note n;
    uint8_t zero[CRY_PK_LEN] = {0};

    make_cp(&cp, ORIGIN, 42);
    sign_cp(&cp, &k->a, &n);
    EXPECT_NOTE(&n, ORIGIN, k->a.pk, 0, "right key");
    EXPECT_NOTE(&n, ORIGIN, k->b.pk, TN_ERR_BAD_SIGNATURE, "wrong key");
    EXPECT_NOTE(&n, ORIGIN, zero, TN_ERR_BAD_SIGNATURE, "all-zero key");
    EXPECT_NOTE(&n, "example.net/org-b", k->a.pk, TN_ERR_INVALID, "wrong origin");
    EXPECT_NOTE(&n, ORIGIN "/", k->a.pk, TN_ERR_INVALID, "origin with suffix");
    EXPECT_NOTE(&n, "example.net/org", k->a.pk, TN_ERR_INVALID, "origin prefix");
    EXPECT_NOTE(&n, "", k->a.pk, TN_ERR_INVALID, "empty origin");
}

/* ---- tampering ----------------------------------------------------------------------- */

static void test_body_tampering(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp;
    struct note n, t;
    char body[512];
    size_t body_len;
    uint8_t root2[CRY_HASH_LEN];

    make_cp(&cp, ORIGIN, 12345);
    sign_cp(&cp, &k->a, &n);
    body_len = (size_t)(strstr(n.s, "\n\n") - n.s) + 1;

    /* every byte of the body, two different flips */
    for (size_t i = 0; i < body_len; i++) {
        static const uint8_t masks[] = {0x01, 0x40};
        for (size_t m = 0; m < 2; m++) {
            struct cry_checkpoint got;
            int rc;
            t = n;
            t.s[i] = (char)(t.s[i] ^ masks[m]);
            rc = verify_note(&t, ORIGIN, k->a.pk, &got);
            if (rc != TN_ERR_BAD_SIGNATURE && rc != TN_ERR_INVALID)
                fail_msg("byte %zu ^ 0x%02x: got %d (%s), want a failure", i, masks[m], rc,
                         tn_strerror(rc));
        }
    }
    /* a different but well-formed size or root: the signature no longer matches */
    body_of(body, sizeof body, ORIGIN, "12346", cp.root);
    t.len = 0;
    note_add(&t, "%s%s", body, n.s + body_len);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "size changed");
    randombytes_buf(root2, sizeof root2);
    body_of(body, sizeof body, ORIGIN, "12345", root2);
    t.len = 0;
    note_add(&t, "%s%s", body, n.s + body_len);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "root changed");
}

static void test_signature_tampering(void **state)
{
    struct keys *k = K(state);
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct cry_checkpoint cp;
    struct note n, t;
    size_t start;

    make_cp(&cp, ORIGIN, 7);
    sign_cp(&cp, &k->a, &n);
    start = n.len - 1 - BLOB_B64_LEN;
    /* any change to the base64 of id || signature: either the id no longer names our key
     * (the line is someone else's, ignored, so no signature of ours) or the signature
     * fails; both are a bad signature */
    for (size_t i = start; i < n.len - 2; i++) {
        t = n;
        t.s[i] = alpha[(strchr(alpha, n.s[i]) - alpha + 1 + (long)(i % 7)) % 64];
        EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "signature text changed");
    }
}

/* ---- several signatures -------------------------------------------------------------- */

static void test_unknown_signatures_ignored(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp, got;
    struct note n, t;
    char body[512];
    size_t body_len;

    make_cp(&cp, ORIGIN, 100);
    sign_cp(&cp, &k->a, &n);
    body_len = (size_t)(strstr(n.s, "\n\n") - n.s) + 1;
    memcpy(body, n.s, body_len);
    body[body_len] = '\0';

    /* another signer after ours */
    t = n;
    note_add_unknown(&t, "witness.example/w1");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, 0, "unknown signer after ours");
    assert_int_equal(verify_note(&t, ORIGIN, k->a.pk, &got), 0);
    assert_int_equal(got.size, 100);
    assert_memory_equal(got.root, cp.root, CRY_HASH_LEN);

    /* several before ours, of other lengths (other signature types) */
    t.len = 0;
    note_add(&t, "%s\n", body);
    note_add_unknown(&t, "witness.example/w1");
    note_add(&t, EM_DASH " short AAAA\n");
    note_add(&t, EM_DASH " long %0200d\n", 0);
    note_add(&t, EM_DASH " %s AAAA\n", ORIGIN); /* our name, not our key's line */
    note_add_bytes(&t, n.s + body_len + 1, n.len - body_len - 1);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, 0, "unknown signers before ours");

    /* a cosignature under the same name by another key: each key finds its own line */
    t = n;
    note_add_sig(&t, ORIGIN, k->b.pk, k->b.sk, body, body_len);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, 0, "same name, other key: key a");
    EXPECT_NOTE(&t, ORIGIN, k->b.pk, 0, "same name, other key: key b");

    /* our signature twice */
    t = n;
    note_add_sig(&t, ORIGIN, k->a.pk, k->a.sk, body, body_len);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, 0, "our signature twice");

    /* only unknown signers */
    t.len = 0;
    note_add(&t, "%s\n", body);
    note_add_unknown(&t, "witness.example/w1");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "only an unknown signer");
    t.len = 0;
    note_add(&t, "%s\n", body);
    note_add_sig(&t, ORIGIN, k->b.pk, k->b.sk, body, body_len);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "only another key, our name");
    /* our key, but signing under another name (a different key id) */
    t.len = 0;
    note_add(&t, "%s\n", body);
    note_add_sig(&t, "other.example/log", k->a.pk, k->a.sk, body, body_len);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "our key under another name");
    /* no signature lines at all */
    t.len = 0;
    note_add(&t, "%s\n", body);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "no signature lines");
}

/* A line carrying our key id whose signature fails sinks the note, even next to a good one
 * (as in Go's note.Open). */
static void test_bad_signature_of_our_key(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp;
    struct note n, t;
    char body[512], b64[BLOB_B64_LEN + 1];
    uint8_t blob[BLOB_LEN];
    size_t body_len;

    make_cp(&cp, ORIGIN, 5);
    sign_cp(&cp, &k->a, &n);
    body_len = (size_t)(strstr(n.s, "\n\n") - n.s) + 1;
    memcpy(body, n.s, body_len);
    body[body_len] = '\0';
    ref_key_id(blob, ORIGIN, k->a.pk);
    /* a real signature, but over other text */
    assert_int_equal(crypto_sign_detached(blob + 4, NULL, (const uint8_t *)"other", 5, k->a.sk), 0);
    ref_b64(b64, sizeof b64, blob, sizeof blob);

    t = n;
    note_add(&t, EM_DASH " %s %s\n", ORIGIN, b64);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "good then bad");
    t.len = 0;
    note_add(&t, "%s\n" EM_DASH " %s %s\n", body, ORIGIN, b64);
    note_add_bytes(&t, n.s + body_len + 1, n.len - body_len - 1);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, "bad then good");
}

static void test_signature_count_limit(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp;
    struct note n, t;
    size_t body_len;

    make_cp(&cp, ORIGIN, 64);
    sign_cp(&cp, &k->a, &n);
    body_len = (size_t)(strstr(n.s, "\n\n") - n.s) + 1;

    /* ours first, then ours last (total - 1 >= 2 here) */
    for (int total = CRY_NOTE_MAX_SIGNATURES - 1; total <= CRY_NOTE_MAX_SIGNATURES + 2; total++)
        for (int ours_at = 0; ours_at < total; ours_at += total - 1) {
            int want = total <= CRY_NOTE_MAX_SIGNATURES ? 0 : TN_ERR_INVALID;
            char what[64];

            t.len = 0;
            note_add_bytes(&t, n.s, body_len + 1);
            for (int i = 0; i < total; i++) {
                if (i == ours_at) {
                    note_add_bytes(&t, n.s + body_len + 1, n.len - body_len - 1);
                } else {
                    char name[16];
                    snprintf(name, sizeof name, "w%02d", i);
                    note_add_unknown(&t, name);
                }
            }
            /* the limit, not the note size, must be what refuses it */
            assert_true(t.len <= CRY_NOTE_MAX);
            snprintf(what, sizeof what, "%d signature lines, ours at %d", total, ours_at);
            EXPECT_NOTE(&t, ORIGIN, k->a.pk, want, what);
        }
}

/* ---- malformed notes (all carrying a valid signature of their body) ------------------ */

static void expect_body(const struct cry_keypair *kp, const char *body, int want, const char *what)
{
    struct note n;

    signed_body(&n, body, kp);
    EXPECT_NOTE(&n, ORIGIN, kp->pk, want, what);
}

static void test_malformed_bodies(void **state)
{
    struct keys *k = K(state);
    uint8_t root[CRY_HASH_LEN];
    char r64[CRY_B64_LEN(CRY_HASH_LEN)], body[1024], long_origin[CRY_ORIGIN_MAX + 2];
    static const char *const bad_sizes[] = {
        "012345",
        "00",
        "01",
        "0123",
        "12a45",
        "-1",
        "+1",
        " 1",
        "1 ",
        "",
        "0x10",
        "1e3",
        "1.0",
        "\xef\xbc\x91", /* fullwidth 1 */
        "123456789012345678901",
        "18446744073709551616",
        "99999999999999999999",
        "000000000000000000001",
    };

    randombytes_buf(root, sizeof root);
    ref_b64(r64, sizeof r64, root, sizeof root);

    /* controls: the same construction with good bodies verifies */
    body_of(body, sizeof body, ORIGIN, "12345", root);
    expect_body(&k->a, body, 0, "control");
    body_of(body, sizeof body, ORIGIN, "0", root);
    expect_body(&k->a, body, 0, "size 0");

    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        char what[96];
        body_of(body, sizeof body, ORIGIN, bad_sizes[i], root);
        snprintf(what, sizeof what, "size line \"%s\"", bad_sizes[i]);
        expect_body(&k->a, body, TN_ERR_INVALID, what);
    }

    /* an extension line after the root */
    snprintf(body, sizeof body, "%s\n5\n%s\nextension\n", ORIGIN, r64);
    expect_body(&k->a, body, TN_ERR_INVALID, "extension line");
    snprintf(body, sizeof body, "%s\n5\n%s\n%s\n", ORIGIN, r64, r64);
    expect_body(&k->a, body, TN_ERR_INVALID, "second root line");
    /* too few lines */
    snprintf(body, sizeof body, "%s\n5\n", ORIGIN);
    expect_body(&k->a, body, TN_ERR_INVALID, "no root line");
    snprintf(body, sizeof body, "%s\n", ORIGIN);
    expect_body(&k->a, body, TN_ERR_INVALID, "origin line only");
    /* root: not base64, short, long, hex, unpadded, trailing space */
    snprintf(body, sizeof body, "%s\n5\n%.43s*\n", ORIGIN, r64);
    expect_body(&k->a, body, TN_ERR_INVALID, "root not base64");
    snprintf(body, sizeof body, "%s\n5\n%.43s\n", ORIGIN, r64);
    expect_body(&k->a, body, TN_ERR_INVALID, "root without padding");
    snprintf(body, sizeof body, "%s\n5\n%s \n", ORIGIN, r64);
    expect_body(&k->a, body, TN_ERR_INVALID, "root with trailing space");
    snprintf(body, sizeof body, "%s\n5\nAAAA\n", ORIGIN);
    expect_body(&k->a, body, TN_ERR_INVALID, "root of 3 bytes");
    {
        char hex[CRY_HEX_LEN(CRY_HASH_LEN)];
        cry_hex(hex, root, CRY_HASH_LEN);
        snprintf(body, sizeof body, "%s\n5\n%s\n", ORIGIN, hex);
        expect_body(&k->a, body, TN_ERR_INVALID, "root in hex");
    }
    /* CRLF line ends */
    snprintf(body, sizeof body, "%s\r\n5\r\n%s\r\n", ORIGIN, r64);
    expect_body(&k->a, body, TN_ERR_INVALID, "CRLF");
    /* origin: empty, with a space, too long (the verifier is asked for that origin) */
    snprintf(body, sizeof body, "\n5\n%s\n", r64);
    expect_body(&k->a, body, TN_ERR_INVALID, "empty origin line");
    memset(long_origin, 'o', CRY_ORIGIN_MAX + 1);
    long_origin[CRY_ORIGIN_MAX + 1] = '\0';
    {
        struct note n;
        body_of(body, sizeof body, long_origin, "5", root);
        n.len = 0;
        note_add(&n, "%s\n", body);
        note_add_sig(&n, long_origin, k->a.pk, k->a.sk, body, strlen(body));
        EXPECT_NOTE(&n, long_origin, k->a.pk, TN_ERR_INVALID, "origin of 161 bytes");
        /* 160 is fine */
        long_origin[CRY_ORIGIN_MAX] = '\0';
        body_of(body, sizeof body, long_origin, "5", root);
        n.len = 0;
        note_add(&n, "%s\n", body);
        note_add_sig(&n, long_origin, k->a.pk, k->a.sk, body, strlen(body));
        EXPECT_NOTE(&n, long_origin, k->a.pk, 0, "origin of 160 bytes");
    }
}

static void test_malformed_notes(void **state)
{
    struct keys *k = K(state);
    struct cry_checkpoint cp;
    struct note n, t;
    size_t body_len;
    char body[512];

    make_cp(&cp, ORIGIN, 31337);
    sign_cp(&cp, &k->a, &n);
    body_len = (size_t)(strstr(n.s, "\n\n") - n.s) + 1;
    memcpy(body, n.s, body_len);
    body[body_len] = '\0';

    /* missing blank line between body and signatures */
    t.len = 0;
    note_add_bytes(&t, n.s, body_len);
    note_add_bytes(&t, n.s + body_len + 1, n.len - body_len - 1);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "no blank line");
    /* two blank lines */
    t.len = 0;
    note_add_bytes(&t, n.s, body_len + 1);
    note_add_bytes(&t, n.s + body_len, n.len - body_len);
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "two blank lines");
    /* missing final newline */
    t = n;
    t.s[--t.len] = '\0';
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "no final newline");
    /* an unknown signature line without its final newline */
    t = n;
    note_add(&t, EM_DASH " w AAAA");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "last unknown line without newline");
    /* a blank line among the signatures */
    t = n;
    note_add(&t, "\n");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "trailing blank line");
    /* signature lines that are not signature lines */
    t = n;
    note_add(&t, "- w AAAA\n");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "ASCII dash");
    t = n;
    note_add(&t, EM_DASH "w AAAA\n");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "no space after the dash");
    t = n;
    note_add(&t, EM_DASH "  AAAA\n");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "empty key name");
    t = n;
    note_add(&t, EM_DASH " nameonly\n");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "no signature after the name");
    /* empty, NUL inside, too big */
    t.len = 0;
    t.s[0] = '\0';
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "empty note");
    t = n;
    note_add(&t, EM_DASH " w AA");
    note_add_bytes(&t, "\0", 1);
    note_add(&t, "A\n");
    EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_INVALID, "NUL in a signature line");
    /* padded with one long unknown signature line to exactly CRY_NOTE_MAX bytes: fine;
     * one byte more: refused */
    for (size_t total = CRY_NOTE_MAX; total <= CRY_NOTE_MAX + 1; total++) {
        size_t room = total - n.len - strlen(EM_DASH " w ") - 1;
        char *pad = malloc(room + 1);
        struct cry_checkpoint got;
        int rc;

        assert_non_null(pad);
        memset(pad, 'A', room);
        pad[room] = '\0';
        t = n;
        note_add(&t, EM_DASH " w %s\n", pad);
        free(pad);
        assert_int_equal(t.len, total);
        rc = verify_note(&t, ORIGIN, k->a.pk, &got);
        if (total == CRY_NOTE_MAX && rc != 0)
            fail_msg("note of CRY_NOTE_MAX bytes: got %d (%s)", rc, tn_strerror(rc));
        /* INVALID per checkpoint.h ("malformed note"); TOO_BIG would also be honest */
        if (total > CRY_NOTE_MAX && rc != TN_ERR_INVALID && rc != TN_ERR_TOO_BIG)
            fail_msg("note of %zu bytes: got %d (%s), want a refusal", total, rc, tn_strerror(rc));
    }
}

/* libsodium 1.0.18's base64 decoder reads every byte from 0x80 up as the digit '/', so a
 * note with such a byte in place of a '/' in its root or signature verified: a second
 * spelling of the same signed checkpoint. Notes take the RFC 4648 alphabet only. Found by
 * tests/fuzz/fuzz_checkpoint.c. */
static void test_base64_alphabet_only(void **state)
{
    struct keys *k = K(state);
    uint8_t root[CRY_HASH_LEN];
    char r64[CRY_B64_LEN(CRY_HASH_LEN)], body[1024], what[96];
    struct cry_checkpoint cp;
    struct note n, t;
    const char *slash;

    memset(root, 0xff, sizeof root); /* base64 "//////...//8=" */
    ref_b64(r64, sizeof r64, root, sizeof root);
    body_of(body, sizeof body, ORIGIN, "5", root);
    expect_body(&k->a, body, 0, "control: root of 0xff bytes");
    for (unsigned c = 0x80; c <= 0xff; c++) {
        snprintf(body, sizeof body, "%s\n5\n%c%s\n", ORIGIN, (char)c, r64 + 1);
        snprintf(what, sizeof what, "root with byte 0x%02x for its first '/'", c);
        expect_body(&k->a, body, TN_ERR_INVALID, what);
    }

    /* a note whose signature's base64 has a '/' (found by trying sizes), that '/' spelled
     * with each high byte: no longer our signature line, so our signature is missing */
    make_cp(&cp, ORIGIN, 0);
    for (;;) {
        sign_cp(&cp, &k->a, &n);
        slash = memchr(n.s + n.len - 1 - BLOB_B64_LEN, '/', BLOB_B64_LEN);
        if (slash)
            break;
        cp.size++;
    }
    EXPECT_NOTE(&n, ORIGIN, k->a.pk, 0, "control: the signed note");
    for (unsigned c = 0x80; c <= 0xff; c++) {
        t = n;
        t.s[slash - n.s] = (char)c;
        snprintf(what, sizeof what, "signature with byte 0x%02x for a '/'", c);
        EXPECT_NOTE(&t, ORIGIN, k->a.pk, TN_ERR_BAD_SIGNATURE, what);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_go_note_example),
        cmocka_unit_test(test_sign_exact_text),
        cmocka_unit_test(test_sign_bad_origin),
        cmocka_unit_test(test_sign_buffer_too_small),
        cmocka_unit_test(test_verify_roundtrip),
        cmocka_unit_test(test_verify_largest_sizes),
        cmocka_unit_test(test_verify_wrong_key_or_origin),
        cmocka_unit_test(test_body_tampering),
        cmocka_unit_test(test_signature_tampering),
        cmocka_unit_test(test_unknown_signatures_ignored),
        cmocka_unit_test(test_bad_signature_of_our_key),
        cmocka_unit_test(test_signature_count_limit),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_malformed_notes),
        cmocka_unit_test(test_base64_alphabet_only),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
