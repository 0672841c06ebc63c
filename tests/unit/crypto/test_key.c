/* Ed25519 keys, key files, public key text, signatures, SHA-256 and the hex / base64
 * codecs. Known answers come from RFC 8032 section 7.1, RFC 4648 section 10 and
 * FIPS 180-2. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test_util.h"

#include "crypto/encode.h"
#include "crypto/error.h"
#include "crypto/key.h"

#define SEED_LEN 32

/* ---- fixtures ------------------------------------------------------------------------ */

struct fix {
    char *dir;
    char path[512]; /* scratch: a file inside dir */
};

static int group_setup(void **state)
{
    (void)state;
    return cry_init();
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = tn_test_mkdtemp();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    tn_test_rmdir(f->dir);
    free(f);
    return 0;
}

static const char *file_in(struct fix *f, const char *name)
{
    int n = snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);

    assert_true(n > 0 && (size_t)n < sizeof f->path);
    return f->path;
}

/* Writes exactly len bytes with exactly this mode (no umask). */
static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    if (len > 0)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text), 0600);
}

/* Reads a whole small file into buf (NUL-terminated). */
static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, cap - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_int_equal(close(fd), 0);
    return (size_t)n;
}

static void b64_of(char *out, size_t cap, const uint8_t *bin, size_t len)
{
    assert_true(cap >= CRY_B64_LEN(len));
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

/* A key file body from raw parts; the secret is base64 of seed[0..seed_len). */
static void key_text(char *out, size_t cap, const uint8_t *seed, size_t seed_len, const uint8_t *pk)
{
    char s64[128], p64[64];
    int n;

    b64_of(s64, sizeof s64, seed, seed_len);
    if (pk) {
        b64_of(p64, sizeof p64, pk, CRY_PK_LEN);
        n = snprintf(out, cap, "# test key\ned25519-secret:%s\ned25519:%s\n", s64, p64);
    } else {
        n = snprintf(out, cap, "# test key\ned25519-secret:%s\n", s64);
    }
    assert_true(n > 0 && (size_t)n < cap);
}

/* cry_keyfile_read must fail with want, give a reason containing needle (if any), and leave
 * a key pair that already holds a key exactly as it was. */
static void expect_read_fails(const char *path, int want, const char *needle)
{
    struct cry_keypair kp = {{0}, NULL};
    uint8_t pk[CRY_PK_LEN];
    uint8_t *sk;
    char err[512] = "";
    int rc;

    assert_int_equal(cry_keypair_generate(&kp), 0);
    memcpy(pk, kp.pk, CRY_PK_LEN);
    sk = kp.sk;
    rc = cry_keyfile_read(path, &kp, err, sizeof err);
    if (rc != want)
        fail_msg("cry_keyfile_read(%s) = %d (%s), want %d (%s); err: %s", path, rc, tn_strerror(rc),
                 want, tn_strerror(want), err);
    if (err[0] == '\0')
        fail_msg("cry_keyfile_read(%s) failed without a reason in err", path);
    if (strchr(err, '\n'))
        fail_msg("reason is not one line: %s", err);
    if (needle && !strstr(err, needle))
        fail_msg("reason \"%s\" does not mention \"%s\"", err, needle);
    /* "kp is untouched on error" (key.h) */
    if (memcmp(kp.pk, pk, CRY_PK_LEN) != 0 || kp.sk != sk)
        fail_msg("cry_keyfile_read(%s) failed (%s) but changed the caller's key pair: "
                 "pk %s, sk pointer %p -> %p",
                 path, err, memcmp(kp.pk, pk, CRY_PK_LEN) ? "overwritten" : "kept", (void *)sk,
                 (void *)kp.sk);
    cry_keypair_release(&kp);
}

/* ---- hex ----------------------------------------------------------------------------- */

static void test_hex(void **state)
{
    static const uint8_t bin[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
    char hex[CRY_HEX_LEN(sizeof bin)];
    uint8_t out[sizeof bin + 1];

    (void)state;
    memset(hex, 'x', sizeof hex);
    cry_hex(hex, bin, sizeof bin);
    assert_string_equal(hex, "00017f80abcdefff");
    cry_hex(hex, bin, 0);
    assert_string_equal(hex, "");

    memset(out, 0, sizeof out);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdefff"), 0);
    assert_memory_equal(out, bin, sizeof bin);
    /* any case */
    memset(out, 0, sizeof out);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017F80ABCDEFFF"), 0);
    assert_memory_equal(out, bin, sizeof bin);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80AbCdEfFf"), 0);
    assert_memory_equal(out, bin, sizeof bin);
    assert_int_equal(cry_unhex(out, 0, ""), 0);

    /* wrong lengths */
    assert_int_equal(cry_unhex(out, sizeof bin, ""), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdeff"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdef"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdefff0"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdefff00"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, 0, "00"), TN_ERR_INVALID);
    /* right length, not hex */
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdefgg"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "g0017f80abcdefff"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdef f"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, " 00017f80abcdeff"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "00:17f80abcdefff"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "0x017f80abcdefff"), TN_ERR_INVALID);
    assert_int_equal(cry_unhex(out, sizeof bin, "00017f80abcdeff\n"), TN_ERR_INVALID);

    /* round trip over every byte value */
    {
        uint8_t all[256], back[256];
        char text[CRY_HEX_LEN(256)];

        for (int i = 0; i < 256; i++)
            all[i] = (uint8_t)i;
        cry_hex(text, all, sizeof all);
        assert_int_equal(strlen(text), 512);
        for (size_t i = 0; i < 512; i++)
            assert_true((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'));
        assert_int_equal(cry_unhex(back, sizeof back, text), 0);
        assert_memory_equal(back, all, sizeof all);
    }
}

/* ---- base64 -------------------------------------------------------------------------- */

static void test_b64_rfc4648(void **state)
{
    /* RFC 4648 section 10 */
    static const struct {
        const char *bin, *b64;
    } v[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    char text[CRY_B64_LEN(6)];
    uint8_t out[8];

    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].bin);

        memset(text, 'x', sizeof text);
        cry_b64(text, (const uint8_t *)v[i].bin, n);
        assert_string_equal(text, v[i].b64);
        assert_int_equal(strlen(text), CRY_B64_LEN(n) - 1);
        memset(out, 0, sizeof out);
        assert_int_equal(cry_unb64(out, n, v[i].b64, strlen(v[i].b64)), 0);
        assert_memory_equal(out, v[i].bin, n);
    }
    /* '+' and '/' of the standard alphabet */
    {
        static const uint8_t b[] = {0xfb, 0xff, 0xbf};
        cry_b64(text, b, sizeof b);
        assert_string_equal(text, "+/+/");
        assert_int_equal(cry_unb64(out, 3, "+/+/", 4), 0);
        assert_memory_equal(out, b, 3);
    }
    /* text_len bounds the input: no NUL needed, bytes after it are not read */
    assert_int_equal(cry_unb64(out, 6, "Zm9vYmFyGARBAGE", 8), 0);
    assert_memory_equal(out, "foobar", 6);
}

static void test_b64_rejects(void **state)
{
    uint8_t out[64];

    (void)state;
    /* a different length than want */
    assert_int_equal(cry_unb64(out, 2, "Zg==", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 1, "Zm8=", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 3, "Zm9vYg==", 8), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 4, "Zm9v", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 1, "", 0), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 0, "Zg==", 4), TN_ERR_INVALID);
    /* missing or extra padding */
    assert_int_equal(cry_unb64(out, 1, "Zg", 2), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 1, "Zg=", 3), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 2, "Zm8", 3), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 1, "Zg===", 5), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 2, "Zm8==", 5), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 3, "Zm9v====", 8), TN_ERR_INVALID);
    /* padding in the middle */
    assert_int_equal(cry_unb64(out, 4, "Zg==Zm8=", 8), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 2, "Z=m8", 4), TN_ERR_INVALID);
    /* non-canonical: the unused low bits of the last character are not zero */
    assert_int_equal(cry_unb64(out, 1, "Zh==", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 1, "Zv==", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 2, "Zm9=", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 2, "Zm/=", 4), TN_ERR_INVALID);
    /* characters outside the standard alphabet: URL-safe, whitespace, junk, NUL */
    assert_int_equal(cry_unb64(out, 3, "-_-_", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 3, "Zm9*", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 3, "Zm 9", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 3, " Zm9", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 3, "Zm9\n", 4), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 3, "Zm\09", 4), TN_ERR_INVALID);
    /* trailing junk or a trailing newline inside text_len */
    assert_int_equal(cry_unb64(out, 6, "Zm9vYmFy\n", 9), TN_ERR_INVALID);
    assert_int_equal(cry_unb64(out, 6, "Zm9vYmFyZg==", 12), TN_ERR_INVALID);

    /* every non-canonical last character of a 32-byte value is refused */
    {
        uint8_t bin[32], back[32];
        char text[CRY_B64_LEN(32)];
        static const char alpha[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        unsigned ok = 0;

        randombytes_buf(bin, sizeof bin);
        cry_b64(text, bin, sizeof bin);
        assert_int_equal(strlen(text), 44);
        assert_int_equal(text[43], '=');
        /* the 43rd character carries 4 data bits and 2 zero bits */
        for (int c = 0; c < 64; c++) {
            text[42] = alpha[c];
            if (cry_unb64(back, 32, text, 44) == 0) {
                assert_int_equal(c & 3, 0);
                ok++;
            } else {
                assert_int_not_equal(c & 3, 0);
            }
        }
        assert_int_equal(ok, 16);
    }
}

static void test_b64_roundtrip(void **state)
{
    uint8_t bin[100], back[100];
    char text[CRY_B64_LEN(100)];

    (void)state;
    for (size_t n = 0; n <= sizeof bin; n++) {
        randombytes_buf(bin, n);
        cry_b64(text, bin, n);
        assert_int_equal(strlen(text), CRY_B64_LEN(n) - 1);
        assert_int_equal(cry_unb64(back, n, text, strlen(text)), 0);
        assert_memory_equal(back, bin, n);
        if (n > 0) /* one byte short or long is refused */
            assert_int_equal(cry_unb64(back, n - 1, text, strlen(text)), TN_ERR_INVALID);
        if (n < sizeof bin)
            assert_int_equal(cry_unb64(back, n + 1, text, strlen(text)), TN_ERR_INVALID);
    }
}

/* ---- SHA-256 ------------------------------------------------------------------------- */

static void test_sha256(void **state)
{
    uint8_t got[CRY_HASH_LEN], want[CRY_HASH_LEN];

    (void)state;
    cry_sha256(got, (const uint8_t *)"abc", 3);
    tn_test_unhex(want, CRY_HASH_LEN,
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_memory_equal(got, want, CRY_HASH_LEN);
    cry_sha256(got, NULL, 0);
    tn_test_unhex(want, CRY_HASH_LEN,
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_memory_equal(got, want, CRY_HASH_LEN);
    cry_sha256(got, (const uint8_t *)"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
               56);
    tn_test_unhex(want, CRY_HASH_LEN,
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assert_memory_equal(got, want, CRY_HASH_LEN);
}

/* ---- key pairs ----------------------------------------------------------------------- */

static void test_generate(void **state)
{
    struct cry_keypair a = {{0}, NULL}, b = {{0}, NULL}, zero = {{0}, NULL};
    uint8_t pk[CRY_PK_LEN];

    (void)state;
    assert_int_equal(cry_keypair_generate(&a), 0);
    assert_int_equal(cry_keypair_generate(&b), 0);
    assert_non_null(a.sk);
    assert_non_null(b.sk);
    assert_memory_not_equal(a.pk, b.pk, CRY_PK_LEN);
    assert_memory_not_equal(a.sk, b.sk, SEED_LEN);
    /* pk belongs to sk; libsodium's sk is seed || pk */
    assert_int_equal(crypto_sign_ed25519_sk_to_pk(pk, a.sk), 0);
    assert_memory_equal(pk, a.pk, CRY_PK_LEN);
    assert_memory_equal(a.sk + SEED_LEN, a.pk, CRY_PK_LEN);

    cry_keypair_release(&a);
    assert_null(a.sk);
    cry_keypair_release(&a); /* released twice */
    cry_keypair_release(&zero);
    cry_keypair_release(&b);
}

static void test_sign_verify(void **state)
{
    struct cry_keypair kp = {{0}, NULL}, other = {{0}, NULL};
    uint8_t msg[200], sig[CRY_SIG_LEN], sig2[CRY_SIG_LEN], bad[CRY_SIG_LEN];

    (void)state;
    assert_int_equal(cry_keypair_generate(&kp), 0);
    assert_int_equal(cry_keypair_generate(&other), 0);
    randombytes_buf(msg, sizeof msg);
    cry_sign(sig, msg, sizeof msg, &kp);
    assert_true(cry_verify(sig, msg, sizeof msg, kp.pk));
    /* Ed25519 is deterministic, and this is plain libsodium Ed25519 */
    cry_sign(sig2, msg, sizeof msg, &kp);
    assert_memory_equal(sig, sig2, CRY_SIG_LEN);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, kp.pk), 0);

    /* any flipped message byte */
    for (size_t i = 0; i < sizeof msg; i++) {
        msg[i] ^= 0x01;
        if (cry_verify(sig, msg, sizeof msg, kp.pk))
            fail_msg("signature still verifies with message byte %zu flipped", i);
        msg[i] ^= 0x01;
    }
    assert_true(cry_verify(sig, msg, sizeof msg, kp.pk));
    /* any flipped signature bit */
    for (size_t bit = 0; bit < CRY_SIG_LEN * 8; bit++) {
        memcpy(bad, sig, CRY_SIG_LEN);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (cry_verify(bad, msg, sizeof msg, kp.pk))
            fail_msg("signature still verifies with bit %zu flipped", bit);
    }
    /* shorter or longer message, another key */
    assert_false(cry_verify(sig, msg, sizeof msg - 1, kp.pk));
    assert_false(cry_verify(sig, msg, 0, kp.pk));
    assert_false(cry_verify(sig, msg, sizeof msg, other.pk));

    /* empty message */
    cry_sign(sig, msg, 0, &kp);
    assert_true(cry_verify(sig, msg, 0, kp.pk));
    assert_false(cry_verify(sig, msg, 1, kp.pk));
    cry_keypair_release(&kp);
    cry_keypair_release(&other);
}

/* ---- public key text ----------------------------------------------------------------- */

static void test_pk_format_parse(void **state)
{
    uint8_t pk[CRY_PK_LEN], back[CRY_PK_LEN];
    char text[CRY_PK_TEXT_LEN], b64[CRY_B64_LEN(CRY_PK_LEN)], buf[128];

    (void)state;
    for (int round = 0; round < 100; round++) {
        randombytes_buf(pk, sizeof pk);
        memset(text, 'x', sizeof text);
        cry_pk_format(text, pk);
        b64_of(b64, sizeof b64, pk, CRY_PK_LEN);
        assert_int_equal(strlen(text), CRY_PK_TEXT_LEN - 1);
        assert_int_equal(strncmp(text, "ed25519:", 8), 0);
        assert_string_equal(text + 8, b64);
        memset(back, 0, sizeof back);
        assert_int_equal(cry_pk_parse(back, text), 0);
        assert_memory_equal(back, pk, CRY_PK_LEN);
    }
    /* a fixed value */
    memset(pk, 0, sizeof pk);
    cry_pk_format(text, pk);
    assert_string_equal(text, "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");

    randombytes_buf(pk, sizeof pk);
    cry_pk_format(text, pk);
    b64_of(b64, sizeof b64, pk, CRY_PK_LEN);
#define REJECT(s) assert_int_equal(cry_pk_parse(back, (s)), TN_ERR_INVALID)
    REJECT("");
    REJECT("ed25519:");
    REJECT("ed25519");
    REJECT(b64); /* missing prefix */
    snprintf(buf, sizeof buf, "ED25519:%s", b64);
    REJECT(buf);
    snprintf(buf, sizeof buf, "ed25519 %s", b64);
    REJECT(buf);
    snprintf(buf, sizeof buf, "ed25519-secret:%s", b64);
    REJECT(buf);
    snprintf(buf, sizeof buf, " %s", text);
    REJECT(buf);
    snprintf(buf, sizeof buf, "ed25519: %s", b64);
    REJECT(buf);
    /* trailing junk */
    snprintf(buf, sizeof buf, "%s ", text);
    REJECT(buf);
    snprintf(buf, sizeof buf, "%s\n", text);
    REJECT(buf);
    snprintf(buf, sizeof buf, "%sAAAA", text);
    REJECT(buf);
    snprintf(buf, sizeof buf, "%sx", text);
    REJECT(buf);
    /* bad base64: a character outside the alphabet, URL-safe alphabet, no padding */
    snprintf(buf, sizeof buf, "%s", text);
    buf[20] = '*';
    REJECT(buf);
    snprintf(buf, sizeof buf, "%s", text);
    buf[20] = '-';
    REJECT(buf);
    snprintf(buf, sizeof buf, "%s", text);
    buf[strlen(buf) - 1] = '\0';
    REJECT(buf);
    /* non-canonical last character ('A' + 1 sets an unused bit) */
    {
        uint8_t z[CRY_PK_LEN] = {0};
        cry_pk_format(buf, z);
        buf[strlen(buf) - 2] = 'B';
        REJECT(buf);
    }
    /* wrong length: 31 and 33 bytes */
    {
        uint8_t b[33];
        char t[CRY_B64_LEN(33)];
        randombytes_buf(b, sizeof b);
        b64_of(t, sizeof t, b, 31);
        snprintf(buf, sizeof buf, "ed25519:%s", t);
        REJECT(buf);
        b64_of(t, sizeof t, b, 33);
        snprintf(buf, sizeof buf, "ed25519:%s", t);
        REJECT(buf);
    }
#undef REJECT
}

/* ---- key files ----------------------------------------------------------------------- */

static void test_keyfile_roundtrip(void **state)
{
    struct fix *f = *state;
    static const mode_t umasks[] = {022, 077, 0277, 0};
    char text[1024], want[1024], s64[CRY_B64_LEN(SEED_LEN)], pk_text[CRY_PK_TEXT_LEN];
    char err[256];

    for (size_t u = 0; u < sizeof umasks / sizeof umasks[0]; u++) {
        struct cry_keypair kp = {{0}, NULL}, back = {{0}, NULL};
        struct stat st;
        char name[32];
        const char *path;
        uint8_t sig[CRY_SIG_LEN];
        mode_t old;

        snprintf(name, sizeof name, "key%zu", u);
        path = file_in(f, name);
        assert_int_equal(cry_keypair_generate(&kp), 0);
        old = umask(umasks[u]);
        assert_int_equal(cry_keyfile_write(path, &kp), 0);
        umask(old);

        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        if ((st.st_mode & 07777) != 0600)
            fail_msg("umask %03o: key file mode %04o, want 0600", (unsigned)umasks[u],
                     (unsigned)(st.st_mode & 07777));

        /* the documented format, byte for byte */
        read_file(path, text, sizeof text);
        b64_of(s64, sizeof s64, kp.sk, SEED_LEN);
        cry_pk_format(pk_text, kp.pk);
        snprintf(want, sizeof want,
                 "# tracenode Ed25519 secret key -- keep private\ned25519-secret:%s\n%s\n", s64,
                 pk_text);
        assert_string_equal(text, want);

        err[0] = '\0';
        assert_int_equal(cry_keyfile_read(path, &back, err, sizeof err), 0);
        assert_non_null(back.sk);
        assert_memory_equal(back.pk, kp.pk, CRY_PK_LEN);
        assert_memory_equal(back.sk, kp.sk, crypto_sign_SECRETKEYBYTES);
        /* the loaded key signs for the original public key */
        cry_sign(sig, (const uint8_t *)"hello", 5, &back);
        assert_true(cry_verify(sig, (const uint8_t *)"hello", 5, kp.pk));
        cry_keypair_release(&back);
        cry_keypair_release(&kp);
    }
}

static void test_keyfile_no_overwrite(void **state)
{
    struct fix *f = *state;
    struct cry_keypair a = {{0}, NULL}, b = {{0}, NULL}, back = {{0}, NULL};
    char before[1024], after[1024], err[256], path[512];
    struct stat st;

    assert_int_equal(cry_keypair_generate(&a), 0);
    assert_int_equal(cry_keypair_generate(&b), 0);
    snprintf(path, sizeof path, "%s", file_in(f, "key"));
    assert_int_equal(cry_keyfile_write(path, &a), 0);
    read_file(path, before, sizeof before);

    assert_int_equal(cry_keyfile_write(path, &b), TN_ERR_EXISTS);
    assert_int_equal(cry_keyfile_write(path, &a), TN_ERR_EXISTS);
    read_file(path, after, sizeof after);
    assert_string_equal(after, before);
    assert_int_equal(cry_keyfile_read(path, &back, err, sizeof err), 0);
    assert_memory_equal(back.pk, a.pk, CRY_PK_LEN);
    cry_keypair_release(&back);

    /* a file someone else made is neither replaced nor removed */
    write_file(file_in(f, "other"), "x", 1, 0644);
    assert_int_equal(cry_keyfile_write(f->path, &a), TN_ERR_EXISTS);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, 1);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* not even through a symlink to a missing file (O_EXCL) */
    snprintf(path, sizeof path, "%s/target", f->dir);
    assert_int_equal(symlink(path, file_in(f, "link")), 0);
    assert_int_equal(cry_keyfile_write(f->path, &a), TN_ERR_EXISTS);
    assert_int_equal(access(path, F_OK), -1);

    /* other failures are I/O errors */
    assert_int_equal(cry_keyfile_write(file_in(f, "no/such/dir/key"), &a), TN_ERR_IO);
    cry_keypair_release(&a);
    cry_keypair_release(&b);
}

static void test_keyfile_loose_modes(void **state)
{
    struct fix *f = *state;
    static const mode_t loose[] = {0644, 0640, 0604, 0660, 0606,
                                   0620, 0602, 0666, 0777, 0700 | 040};
    static const mode_t fine[] = {0600, 0400};
    struct cry_keypair kp = {{0}, NULL};
    char path[512];

    assert_int_equal(cry_keypair_generate(&kp), 0);
    snprintf(path, sizeof path, "%s", file_in(f, "key"));
    assert_int_equal(cry_keyfile_write(path, &kp), 0);

    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        expect_read_fails(path, TN_ERR_PERM, "chmod");
    }
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        struct cry_keypair back = {{0}, NULL};
        char err[256] = "";

        assert_int_equal(chmod(path, fine[i]), 0);
        if (cry_keyfile_read(path, &back, err, sizeof err) != 0)
            fail_msg("mode %04o refused: %s", (unsigned)fine[i], err);
        assert_memory_equal(back.pk, kp.pk, CRY_PK_LEN);
        cry_keypair_release(&back);
    }
    cry_keypair_release(&kp);
}

static void test_keyfile_seed_sizes(void **state)
{
    struct fix *f = *state;
    uint8_t seed[40], pk[CRY_PK_LEN], sk[crypto_sign_SECRETKEYBYTES];
    char text[512], err[256];
    struct cry_keypair kp = {{0}, NULL};

    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);

    /* control: a hand-made file with the right seed size loads, with or without the
     * public line */
    key_text(text, sizeof text, seed, 32, pk);
    write_text(file_in(f, "ok"), text);
    assert_int_equal(cry_keyfile_read(f->path, &kp, err, sizeof err), 0);
    assert_memory_equal(kp.pk, pk, CRY_PK_LEN);
    cry_keypair_release(&kp);
    key_text(text, sizeof text, seed, 32, NULL);
    write_text(file_in(f, "ok-nopk"), text);
    assert_int_equal(cry_keyfile_read(f->path, &kp, err, sizeof err), 0);
    assert_memory_equal(kp.pk, pk, CRY_PK_LEN);
    cry_keypair_release(&kp);

    {
        static const size_t sizes[] = {31, 33, 0, 1, 16, 24, 30, 34, 40};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char name[32];
            snprintf(name, sizeof name, "seed%zu", sizes[i]);
            key_text(text, sizeof text, seed, sizes[i], pk);
            write_text(file_in(f, name), text);
            expect_read_fails(f->path, TN_ERR_INVALID, "wrong size");
            key_text(text, sizeof text, seed, sizes[i], NULL);
            write_text(f->path, text);
            expect_read_fails(f->path, TN_ERR_INVALID, "wrong size");
        }
    }
}

static void test_keyfile_malformed(void **state)
{
    struct fix *f = *state;
    uint8_t seed[32], pk[CRY_PK_LEN], sk[crypto_sign_SECRETKEYBYTES], junk[300];
    char text[8192], good[512], s64[CRY_B64_LEN(32)], p64[CRY_B64_LEN(32)];
    int n;

    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    b64_of(s64, sizeof s64, seed, 32);
    b64_of(p64, sizeof p64, pk, 32);
    key_text(good, sizeof good, seed, 32, pk);

    /* garbage: binary with NUL bytes, binary without, text */
    randombytes_buf(junk, sizeof junk);
    junk[10] = 0;
    write_file(file_in(f, "bin"), junk, sizeof junk, 0600);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(junk[i] | 0x80);
    write_file(file_in(f, "bin2"), junk, sizeof junk, 0600);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);
    write_text(file_in(f, "text"), "hello world\nthis is not a key\n");
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);
    /* a good key file with a NUL in the middle */
    memcpy(text, good, strlen(good));
    text[5] = '\0';
    write_file(file_in(f, "nul"), text, strlen(good), 0600);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);

    /* empty, comments only, blank lines only */
    write_file(file_in(f, "empty"), "", 0, 0600);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);
    write_text(file_in(f, "comments"), "# nothing here\n# at all\n");
    expect_read_fails(f->path, TN_ERR_INVALID, "ed25519-secret");
    write_text(file_in(f, "blank"), "\n\n\n");
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);

    /* public line only */
    snprintf(text, sizeof text, "ed25519:%s\n", p64);
    write_text(file_in(f, "pkonly"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, "ed25519-secret");

    /* secret not base64 */
    write_text(file_in(f, "notb64"),
               "ed25519-secret:********************************************\n");
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);
    /* secret with a trailing space */
    snprintf(text, sizeof text, "ed25519-secret:%s \n", s64);
    write_text(file_in(f, "trail"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);

    /* two secret lines (even the same one), two public lines */
    n = snprintf(text, sizeof text, "ed25519-secret:%s\ned25519-secret:%s\n", s64, s64);
    assert_true(n > 0);
    write_text(file_in(f, "twosecrets"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);
    snprintf(text, sizeof text, "ed25519-secret:%s\ned25519:%s\ned25519:%s\n", s64, p64, p64);
    write_text(file_in(f, "twopk"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);

    /* malformed public line */
    snprintf(text, sizeof text, "ed25519-secret:%s\ned25519:%.40s\n", s64, p64);
    write_text(file_in(f, "badpk"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);

    /* an unknown line after a good key */
    snprintf(text, sizeof text, "%sextra: 1\n", good);
    write_text(file_in(f, "extra"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);

    /* too big: a valid key padded with comments past 4096 bytes */
    n = snprintf(text, sizeof text, "%s", good);
    while (n < 5000)
        n += snprintf(text + n, sizeof text - (size_t)n, "# padding padding padding\n");
    write_text(file_in(f, "big"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, NULL);

    /* not a regular file, not there */
    expect_read_fails(f->dir, TN_ERR_INVALID, NULL);
    expect_read_fails(file_in(f, "missing"), TN_ERR_IO, NULL);

    /* comments and blank lines around a good key are fine */
    snprintf(text, sizeof text, "\n# a\n\n%s\n# b\n", good);
    write_text(file_in(f, "spaced"), text);
    {
        struct cry_keypair kp = {{0}, NULL};
        char err[256] = "";
        if (cry_keyfile_read(f->path, &kp, err, sizeof err) != 0)
            fail_msg("comments and blank lines refused: %s", err);
        assert_memory_equal(kp.pk, pk, CRY_PK_LEN);
        cry_keypair_release(&kp);
    }
}

static void test_keyfile_public_mismatch(void **state)
{
    struct fix *f = *state;
    uint8_t seed[32], pk[CRY_PK_LEN], sk[crypto_sign_SECRETKEYBYTES], other[CRY_PK_LEN];
    char text[512];

    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    memcpy(other, pk, CRY_PK_LEN);
    other[0] ^= 1;
    key_text(text, sizeof text, seed, 32, other);
    write_text(file_in(f, "mismatch"), text);
    {
        struct cry_keypair kp = {{0}, NULL};
        char err[256] = "";
        assert_int_equal(cry_keyfile_read(f->path, &kp, err, sizeof err), TN_ERR_INVALID);
        if (!strstr(err, "does not match"))
            fail_msg("reason \"%s\" does not say the public line does not match", err);
        assert_null(kp.sk);
    }
}

/* key.h: "kp is untouched on error", also when the error is found after the seed has been
 * turned into a key (public line not matching). The caller's existing key must survive. */
static void test_keyfile_mismatch_keeps_caller_key(void **state)
{
    struct fix *f = *state;
    uint8_t seed[32], pk[CRY_PK_LEN], sk[crypto_sign_SECRETKEYBYTES], other[CRY_PK_LEN];
    char text[512];

    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    memcpy(other, pk, CRY_PK_LEN);
    other[0] ^= 1;
    key_text(text, sizeof text, seed, 32, other);
    write_text(file_in(f, "mismatch"), text);
    expect_read_fails(f->path, TN_ERR_INVALID, "does not match");
}

/* RFC 8032 section 7.1, TEST 1 and TEST 2: a key file holding the RFC's secret key loads
 * to the RFC's public key and signs to the RFC's signature. */
static void test_keyfile_rfc8032(void **state)
{
    static const struct {
        const char *seed, *pk, *msg, *sig;
    } v[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    struct fix *f = *state;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t seed[32], pk[32], msg[1], want[64], sig[64];
        size_t msg_len = strlen(v[i].msg) / 2;
        struct cry_keypair kp = {{0}, NULL};
        char text[512], err[256] = "", name[16];

        tn_test_unhex(seed, 32, v[i].seed);
        tn_test_unhex(pk, 32, v[i].pk);
        tn_test_unhex(msg, msg_len, v[i].msg);
        tn_test_unhex(want, 64, v[i].sig);
        key_text(text, sizeof text, seed, 32, pk);
        snprintf(name, sizeof name, "rfc%zu", i);
        write_text(file_in(f, name), text);
        if (cry_keyfile_read(f->path, &kp, err, sizeof err) != 0)
            fail_msg("RFC 8032 key %zu refused: %s", i, err);
        assert_memory_equal(kp.pk, pk, 32);
        cry_sign(sig, msg, msg_len, &kp);
        assert_memory_equal(sig, want, 64);
        assert_true(cry_verify(want, msg, msg_len, pk));
        cry_keypair_release(&kp);
    }
}

/* A reason that does not fit is cut, never overflowed. */
static void test_keyfile_small_err_buffer(void **state)
{
    struct fix *f = *state;
    struct cry_keypair kp = {{0}, NULL};
    char err[9];

    memset(err, 'x', sizeof err);
    write_text(file_in(f, "bad"), "not a key\n");
    assert_int_equal(cry_keyfile_read(f->path, &kp, err, 8), TN_ERR_INVALID);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(err[8], 'x');
    assert_null(kp.sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_b64_rfc4648),
        cmocka_unit_test(test_b64_rejects),
        cmocka_unit_test(test_b64_roundtrip),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_pk_format_parse),
        cmocka_unit_test_setup_teardown(test_keyfile_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_no_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_loose_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_seed_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_public_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_mismatch_keeps_caller_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_rfc8032, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_small_err_buffer, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
