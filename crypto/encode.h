/* Text encodings used in every user-visible format: lowercase hex for ids and hashes,
 * standard base64 (RFC 4648 section 4, padded) for keys and signatures. Thin wrappers
 * over libsodium's constant-time codecs. */
#ifndef TN_CRYPTO_ENCODE_H
#define TN_CRYPTO_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

/* Buffer sizes including the terminating NUL. */
#define CRY_HEX_LEN(n) ((n) * 2 + 1)
#define CRY_B64_LEN(n) ((((n) + 2) / 3) * 4 + 1)

/* Writes lowercase hex of bin[0..len) into out (CRY_HEX_LEN(len) bytes). */
void cry_hex(char *out, const uint8_t *bin, size_t len);

/* Decodes exactly want bytes of hex (any case) from a NUL-terminated string.
 * TN_ERR_INVALID if the text is not exactly 2*want hex digits. */
int cry_unhex(uint8_t *out, size_t want, const char *hex) TN_MUST_CHECK;

/* Writes padded standard base64 of bin into out (CRY_B64_LEN(len) bytes). */
void cry_b64(char *out, const uint8_t *bin, size_t len);

/* Decodes padded standard base64 of exactly want bytes from text[0..text_len).
 * TN_ERR_INVALID on bad characters, bad padding or a different length. */
int cry_unb64(uint8_t *out, size_t want, const char *text, size_t text_len) TN_MUST_CHECK;

#endif
