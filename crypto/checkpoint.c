#include "crypto/checkpoint.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "crypto/encode.h"

/* U+2014 EM DASH, which starts every signature line (C2SP signed-note). */
#define EM_DASH "\xe2\x80\x94"
#define SIG_B64_LEN (CRY_B64_LEN(4 + CRY_SIG_LEN) - 1)

static bool origin_ok(const char *o)
{
    size_t n = strlen(o);

    if (n == 0 || n > CRY_ORIGIN_MAX)
        return false;
    for (; *o; o++)
        if ((unsigned char)*o <= ' ' || *o == '+' || (unsigned char)*o == 0x7f)
            return false;
    return true;
}

/* libsodium 1.0.18's sodium_base642bin takes every byte from 0x80 up for a base64
 * digit, so a note with such a byte in its root or signature would verify as another
 * spelling of the same checkpoint. Notes are canonical: only the RFC 4648 alphabet and
 * '=' padding (cry_unb64 checks where the padding goes). */
static bool b64_alphabet(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return false;
    }
    return true;
}

void cry_note_key_id(uint8_t id[4], const char *name, const uint8_t pk[CRY_PK_LEN])
{
    crypto_hash_sha256_state st;
    uint8_t h[CRY_HASH_LEN];
    const uint8_t sep[2] = {0x0a, 0x01}; /* newline, then signature type 0x01 = Ed25519 */

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pk, CRY_PK_LEN);
    crypto_hash_sha256_final(&st, h);
    memcpy(id, h, 4);
}

static int format_body(const struct cry_checkpoint *cp, char *out, size_t cap, size_t *len)
{
    char root[CRY_B64_LEN(CRY_HASH_LEN)];
    int n;

    cry_b64(root, cp->root, CRY_HASH_LEN);
    n = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->size, root);
    if (n < 0 || (size_t)n >= cap)
        return TN_ERR_TOO_BIG;
    *len = (size_t)n;
    return 0;
}

int cry_checkpoint_sign(const struct cry_checkpoint *cp, const struct cry_keypair *kp,
                        char *out, size_t cap, size_t *len)
{
    uint8_t blob[4 + CRY_SIG_LEN];
    char b64[CRY_B64_LEN(sizeof blob)];
    size_t body_len;
    int rc, n;

    if (!origin_ok(cp->origin))
        return TN_ERR_INVALID;
    if ((rc = format_body(cp, out, cap, &body_len)) != 0)
        return rc;
    cry_note_key_id(blob, cp->origin, kp->pk);
    cry_sign(blob + 4, (const uint8_t *)out, body_len, kp);
    cry_b64(b64, blob, sizeof blob);
    n = snprintf(out + body_len, cap - body_len, "\n" EM_DASH " %s %s\n", cp->origin, b64);
    if (n < 0 || (size_t)n >= cap - body_len)
        return TN_ERR_TOO_BIG;
    *len = body_len + (size_t)n;
    return 0;
}

/* Parses the three body lines of a checkpoint. */
static int parse_body(const char *body, size_t len, struct cry_checkpoint *cp)
{
    const char *p = body, *end = body + len, *nl;
    char num[24];
    size_t n;

    /* origin */
    if (!(nl = memchr(p, '\n', (size_t)(end - p))) || (size_t)(nl - p) > CRY_ORIGIN_MAX)
        return TN_ERR_INVALID;
    memcpy(cp->origin, p, (size_t)(nl - p));
    cp->origin[nl - p] = '\0';
    if (!origin_ok(cp->origin))
        return TN_ERR_INVALID;
    p = nl + 1;
    /* size: decimal, no sign, no leading zeros (C2SP: ASCII decimal) */
    if (!(nl = memchr(p, '\n', (size_t)(end - p))) || nl == p || (size_t)(nl - p) > 20)
        return TN_ERR_INVALID;
    n = (size_t)(nl - p);
    memcpy(num, p, n);
    num[n] = '\0';
    if (num[0] == '0' && n > 1)
        return TN_ERR_INVALID;
    cp->size = 0;
    for (size_t i = 0; i < n; i++) {
        if (num[i] < '0' || num[i] > '9')
            return TN_ERR_INVALID;
        uint64_t digit = (uint64_t)(num[i] - '0');
        if (cp->size > (UINT64_MAX - digit) / 10)
            return TN_ERR_INVALID;
        cp->size = cp->size * 10 + digit;
    }
    p = nl + 1;
    /* root; extension lines are not allowed (C2SP: NOT RECOMMENDED, we refuse them) */
    if (!(nl = memchr(p, '\n', (size_t)(end - p))) || nl + 1 != end)
        return TN_ERR_INVALID;
    if (!b64_alphabet(p, (size_t)(nl - p)) ||
        cry_unb64(cp->root, CRY_HASH_LEN, p, (size_t)(nl - p)) != 0)
        return TN_ERR_INVALID;
    return 0;
}

int cry_checkpoint_verify(const char *note, size_t len, const char *origin,
                          const uint8_t pk[CRY_PK_LEN], struct cry_checkpoint *cp)
{
    const char *sep, *p, *end = note + len;
    uint8_t want_id[4];
    size_t body_len, prefix_len = strlen(EM_DASH) + 1, name_len = strlen(origin);
    unsigned nsig = 0;
    bool verified = false;
    int rc;

    if (len == 0 || len > CRY_NOTE_MAX || memchr(note, '\0', len))
        return TN_ERR_INVALID;
    /* The body ends at the first blank line. */
    sep = NULL;
    for (p = note; p + 1 < end; p++)
        if (p[0] == '\n' && p[1] == '\n') {
            sep = p;
            break;
        }
    if (!sep)
        return TN_ERR_INVALID;
    body_len = (size_t)(sep - note) + 1;
    if ((rc = parse_body(note, body_len, cp)) != 0)
        return rc;
    if (strcmp(cp->origin, origin) != 0)
        return TN_ERR_INVALID;
    cry_note_key_id(want_id, origin, pk);

    for (p = sep + 2; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *name, *sp;
        uint8_t blob[4 + CRY_SIG_LEN];

        if (!nl)
            return TN_ERR_INVALID; /* every line ends in a newline */
        if (++nsig > CRY_NOTE_MAX_SIGNATURES)
            return TN_ERR_INVALID;
        if ((size_t)(nl - p) < prefix_len || memcmp(p, EM_DASH " ", prefix_len) != 0)
            return TN_ERR_INVALID;
        name = p + prefix_len;
        sp = memchr(name, ' ', (size_t)(nl - name));
        if (!sp || sp == name)
            return TN_ERR_INVALID;
        if ((size_t)(sp - name) == name_len && memcmp(name, origin, name_len) == 0 &&
            (size_t)(nl - sp - 1) == SIG_B64_LEN && b64_alphabet(sp + 1, SIG_B64_LEN) &&
            cry_unb64(blob, sizeof blob, sp + 1, SIG_B64_LEN) == 0 &&
            memcmp(blob, want_id, 4) == 0) {
            /* Our key's signature: it must verify, or the whole note is rejected. */
            if (!cry_verify(blob + 4, (const uint8_t *)note, body_len, pk))
                return TN_ERR_BAD_SIGNATURE;
            verified = true;
        }
        p = nl + 1;
    }
    return verified ? 0 : TN_ERR_BAD_SIGNATURE;
}
