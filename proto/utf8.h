/* UTF-8 (RFC 3629) as every parser here checks it: no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
#ifndef TN_PROTO_UTF8_H
#define TN_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length (1..4) of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
size_t proto_utf8_char_len(const uint8_t *s, size_t n);

/* true if s[0..n) is well-formed UTF-8 without NUL or other C0 controls except
 * tab/newline/carriage return. */
bool proto_utf8_ok(const char *s, size_t n);

/* Shortens the NUL-terminated s so that it does not end in the first bytes of a character
 * (what a byte-counted snprintf leaves when it truncates). */
void proto_utf8_trim(char *s);

#endif
