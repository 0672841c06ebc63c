#include "crypto/key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/encode.h"

#define KEYFILE_MAX 4096
#define SECRET_PREFIX "ed25519-secret:"
#define PUBLIC_PREFIX "ed25519:"

int cry_init(void)
{
    return sodium_init() < 0 ? TN_ERR_IO : 0;
}

static int keypair_from_seed(struct cry_keypair *kp, const uint8_t seed[32])
{
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);

    if (!sk)
        return TN_ERR_NOMEM;
    crypto_sign_seed_keypair(kp->pk, sk, seed);
    kp->sk = sk;
    return 0;
}

int cry_keypair_generate(struct cry_keypair *kp)
{
    uint8_t *seed = sodium_malloc(32);
    int rc;

    if (!seed)
        return TN_ERR_NOMEM;
    randombytes_buf(seed, 32);
    rc = keypair_from_seed(kp, seed);
    sodium_free(seed); /* sodium_free wipes */
    return rc;
}

void cry_keypair_release(struct cry_keypair *kp)
{
    if (kp->sk)
        sodium_free(kp->sk);
    kp->sk = NULL;
}

int cry_keyfile_write(const char *path, const struct cry_keypair *kp)
{
    /* seed is the first 32 bytes of libsodium's 64-byte secret key. */
    char *text = sodium_malloc(512);
    char b64[CRY_B64_LEN(32)];
    char pk[CRY_PK_TEXT_LEN];
    int fd, n, rc = 0;

    if (!text)
        return TN_ERR_NOMEM;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? TN_ERR_EXISTS : TN_ERR_IO;
        goto out;
    }
    cry_b64(b64, kp->sk, 32);
    cry_pk_format(pk, kp->pk);
    n = snprintf(text, 512, "# tracenode Ed25519 secret key -- keep private\n" SECRET_PREFIX
                            "%s\n%s\n",
                 b64, pk);
    sodium_memzero(b64, sizeof b64);
    /* The mode given to open() is filtered by the umask; make 0600 explicit. */
    if (fchmod(fd, 0600) != 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0)
        rc = TN_ERR_IO;
    if (close(fd) != 0)
        rc = TN_ERR_IO;
    if (rc != 0)
        unlink(path);
out:
    sodium_free(text);
    return rc;
}

int cry_keyfile_read(const char *path, struct cry_keypair *kp, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    uint8_t *seed = NULL;
    uint8_t listed_pk[CRY_PK_LEN];
    struct cry_keypair loaded = {0};
    bool have_seed = false, have_pk = false;
    ssize_t got;
    int fd, rc = TN_ERR_INVALID;
    char *line, *save = NULL;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
        return TN_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "key file %s is not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "key file %s is accessible by group or others (mode %03o); run: chmod 600 %s",
                 path, (unsigned)(st.st_mode & 0777), path);
        rc = TN_ERR_PERM;
        goto out;
    }
    if (st.st_size <= 0 || st.st_size > KEYFILE_MAX) {
        snprintf(err, errlen, "key file %s has the wrong size (%lld bytes)", path,
                 (long long)st.st_size);
        goto out;
    }
    buf = sodium_malloc((size_t)st.st_size + 1);
    seed = sodium_malloc(32);
    if (!buf || !seed) {
        rc = TN_ERR_NOMEM;
        goto out;
    }
    got = read(fd, buf, (size_t)st.st_size);
    if (got != st.st_size) {
        snprintf(err, errlen, "cannot read key file %s", path);
        rc = TN_ERR_IO;
        goto out;
    }
    buf[got] = '\0';
    if (memchr(buf, '\0', (size_t)got)) {
        snprintf(err, errlen, "key file %s is not a text key file", path);
        goto out;
    }
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        if (strncmp(line, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0 && !have_seed) {
            const char *b = line + strlen(SECRET_PREFIX);
            if (cry_unb64(seed, 32, b, strlen(b)) != 0) {
                snprintf(err, errlen,
                         "key file %s: secret is not base64 of exactly 32 bytes (wrong size)",
                         path);
                goto out;
            }
            have_seed = true;
        } else if (strncmp(line, PUBLIC_PREFIX, strlen(PUBLIC_PREFIX)) == 0 && !have_pk) {
            if (cry_pk_parse(listed_pk, line) != 0) {
                snprintf(err, errlen, "key file %s: malformed public key line", path);
                goto out;
            }
            have_pk = true;
        } else {
            snprintf(err, errlen, "key file %s: unexpected line (not a tracenode key file)",
                     path);
            goto out;
        }
    }
    if (!have_seed) {
        snprintf(err, errlen, "key file %s has no ed25519-secret line", path);
        goto out;
    }
    if ((rc = keypair_from_seed(&loaded, seed)) != 0)
        goto out;
    if (have_pk && sodium_memcmp(listed_pk, loaded.pk, CRY_PK_LEN) != 0) {
        snprintf(err, errlen, "key file %s: public key line does not match the secret", path);
        cry_keypair_release(&loaded);
        rc = TN_ERR_INVALID;
        goto out;
    }
    *kp = loaded; /* only now: kp is untouched on every error path */
    rc = 0;
out:
    if (buf)
        sodium_free(buf);
    if (seed)
        sodium_free(seed);
    close(fd);
    return rc;
}

void cry_pk_format(char *out, const uint8_t pk[CRY_PK_LEN])
{
    memcpy(out, PUBLIC_PREFIX, 8);
    cry_b64(out + 8, pk, CRY_PK_LEN);
}

int cry_pk_parse(uint8_t pk[CRY_PK_LEN], const char *text)
{
    if (strncmp(text, PUBLIC_PREFIX, 8) != 0)
        return TN_ERR_INVALID;
    return cry_unb64(pk, CRY_PK_LEN, text + 8, strlen(text + 8));
}

void cry_sign(uint8_t sig[CRY_SIG_LEN], const uint8_t *msg, size_t len,
              const struct cry_keypair *kp)
{
    crypto_sign_detached(sig, NULL, msg, len, kp->sk);
}

bool cry_verify(const uint8_t sig[CRY_SIG_LEN], const uint8_t *msg, size_t len,
                const uint8_t pk[CRY_PK_LEN])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

void cry_sha256(uint8_t out[CRY_HASH_LEN], const uint8_t *data, size_t len)
{
    crypto_hash_sha256(out, data, len);
}
