/* Fuzz target: C2SP signed-note checkpoints (crypto/checkpoint.c), parsed and verified by
 * cry_checkpoint_verify with a fixed Ed25519 key (seed 00..1f, the key of the worked
 * example in docs/FORMAT.md, so its checkpoint is a valid seed).
 *
 * The first input byte picks the mode; the rest is text.
 *  - even: the text is a whole note, verified under the origin named by its first line
 *    (and once under a fixed origin and once with another key, for the refusals);
 *  - odd: the text up to its first blank line is a body that the target signs with the
 *    fixed key itself, so that bodies with a valid signature are reachable; the signature
 *    line is put before or after whatever followed the blank line (other signature lines).
 *
 * A verified note is canonical: Ed25519 is deterministic, so cry_checkpoint_sign of the
 * parsed checkpoint with the same key must give the note's body byte for byte and one of
 * its signature lines, and the whole note when it carries only that line; the re-signed
 * note verifies to the same checkpoint.
 * Built for libFuzzer by tests/fuzz/run; in the normal build it replays the corpus. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "tests/fuzz/fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EM_DASH "\xe2\x80\x94"
#define NOTE_CAP (2 * CRY_NOTE_MAX)

static struct cry_keypair fixed, other;
static uint8_t fixed_sk[crypto_sign_SECRETKEYBYTES], other_sk[crypto_sign_SECRETKEYBYTES];

static void setup_keys(void)
{
    if (fixed.sk)
        return;
    fuzz_fixed_key(&fixed, fixed_sk, -1);
    fuzz_fixed_key(&other, other_sk, 0x5a);
}

/* The note's first line as an origin, or NULL if it cannot be one (too long, NUL). */
static const char *first_line(const char *note, size_t len, char origin[CRY_ORIGIN_MAX + 1])
{
    const char *nl = memchr(note, '\n', len);
    size_t n = nl ? (size_t)(nl - note) : len;

    if (n > CRY_ORIGIN_MAX || memchr(note, '\0', n))
        return NULL;
    memcpy(origin, note, n);
    origin[n] = '\0';
    return origin;
}

/* true if line (with its newline) is one of the lines of text[0..len). */
static bool has_line(const char *text, size_t len, const char *line, size_t line_len)
{
    for (const char *p = text; p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(text + len - p);
        if (n == line_len && memcmp(p, line, n) == 0)
            return true;
        p += n;
    }
    return false;
}

static void check_verified(const char *note, size_t len, const char *origin,
                           const struct cry_checkpoint *cp)
{
    static char again[NOTE_CAP];
    struct cry_checkpoint back;
    size_t again_len = 0, body_len;
    const char *sig_line;

    if (strcmp(cp->origin, origin) != 0)
        __builtin_trap();
    if (cry_checkpoint_sign(cp, &fixed, again, sizeof again, &again_len) != 0 ||
        again_len != strlen(again) || again_len < 2)
        __builtin_trap();
    /* The body: everything up to and including the first "\n\n" of the re-signed note. */
    sig_line = strstr(again, "\n\n");
    if (!sig_line)
        __builtin_trap();
    body_len = (size_t)(sig_line - again) + 2;
    sig_line += 2;
    if (body_len > len || memcmp(again, note, body_len) != 0)
        __builtin_trap();
    if (!has_line(note + body_len, len - body_len, sig_line, again_len - body_len))
        __builtin_trap();
    /* One signature line: the note is exactly what signing gives. */
    if (memchr(note + body_len, '\n', len - body_len) == note + len - 1 &&
        (again_len != len || memcmp(again, note, len) != 0))
        __builtin_trap();
    if (cry_checkpoint_verify(again, again_len, origin, fixed.pk, &back) != 0 ||
        strcmp(back.origin, cp->origin) != 0 || back.size != cp->size ||
        memcmp(back.root, cp->root, CRY_HASH_LEN) != 0)
        __builtin_trap();
}

/* Verifies note with the fixed key (checking what verifies) and with another key, which
 * has signed nothing: the parse does not depend on the key, so when the fixed key's
 * signature verifies, the other key's is reported missing. */
static void verify(const char *note, size_t len, const char *origin)
{
    struct cry_checkpoint cp;
    int rc, rc_other;

    rc = cry_checkpoint_verify(note, len, origin, fixed.pk, &cp);
    if (rc == 0)
        check_verified(note, len, origin, &cp);
    else if (rc != TN_ERR_INVALID && rc != TN_ERR_BAD_SIGNATURE)
        __builtin_trap();
    rc_other = cry_checkpoint_verify(note, len, origin, other.pk, &cp);
    if (rc_other == 0 || (rc_other != TN_ERR_INVALID && rc_other != TN_ERR_BAD_SIGNATURE) ||
        (rc == 0 && rc_other != TN_ERR_BAD_SIGNATURE))
        __builtin_trap();
}

/* Signs body (up to and including its first "\n\n" minus one newline) with the fixed key
 * under the name of its first line, then appends the rest of the input before or after
 * the signature line. */
static size_t build_signed(const char *text, size_t len, bool sig_first, char *out,
                           size_t cap, char origin[CRY_ORIGIN_MAX + 1])
{
    const char *sep = NULL;
    uint8_t blob[4 + CRY_SIG_LEN];
    char b64[CRY_B64_LEN(sizeof blob)], line[CRY_ORIGIN_MAX + sizeof b64 + 8];
    size_t body_len, rest_len, line_len, n = 0;

    for (size_t i = 0; i + 1 < len; i++)
        if (text[i] == '\n' && text[i + 1] == '\n') {
            sep = text + i;
            break;
        }
    if (!sep || !first_line(text, len, origin))
        return 0;
    body_len = (size_t)(sep - text) + 1;
    rest_len = len - body_len - 1;
    cry_note_key_id(blob, origin, fixed.pk);
    cry_sign(blob + 4, (const uint8_t *)text, body_len, &fixed);
    cry_b64(b64, blob, sizeof blob);
    line_len = (size_t)snprintf(line, sizeof line, EM_DASH " %s %s\n", origin, b64);
    if (line_len >= sizeof line || body_len + 1 + line_len + rest_len > cap)
        return 0;
    memcpy(out, text, body_len + 1);
    n = body_len + 1;
    if (sig_first) {
        memcpy(out + n, line, line_len);
        memcpy(out + n + line_len, sep + 2, rest_len);
    } else {
        memcpy(out + n, sep + 2, rest_len);
        memcpy(out + n + rest_len, line, line_len);
    }
    return n + line_len + rest_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char built[NOTE_CAP];
    char origin[CRY_ORIGIN_MAX + 1];
    const char *text = (const char *)data + 1;
    size_t len;
    char *note;

    setup_keys();
    if (size < 1 || size - 1 > CRY_NOTE_MAX + 64)
        return 0;
    len = size - 1;
    if ((data[0] & 1) == 0) {
        /* straight from the input buffer, which ends at len: ASan sees any overread */
        verify(text, len, "demo-net/acme");
        if (first_line(text, len, origin))
            verify(text, len, origin);
        return 0;
    }
    if (!(len = build_signed(text, len, data[0] & 2, built, sizeof built, origin)))
        return 0;
    if (!(note = malloc(len)))
        return 0;
    memcpy(note, built, len);
    verify(note, len, origin);
    free(note);
    return 0;
}
