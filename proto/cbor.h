/* Deterministic CBOR (RFC 8949 section 4.2.1) on top of libcbor.
 *
 * Writing: a bounded output buffer and typed writers built on libcbor's encoders, which
 * always pick the shortest argument encoding. Callers emit map keys in deterministic
 * order (bytewise order of the encoded keys).
 *
 * Reading: proto_cbor_load() parses with libcbor and then accepts the input only if it
 * is exactly the deterministic encoding of what was parsed: shortest integers and
 * lengths, definite lengths, map keys strictly ascending (so no duplicates), no floats,
 * no simple values other than false/true/null, no tags except where allowed. */
#ifndef TN_PROTO_CBOR_H
#define TN_PROTO_CBOR_H

#include <cbor.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "proto/utf8.h"

struct proto_cbuf {
    uint8_t *p;
    size_t len, cap;
    bool overflow; /* sticky: set by the first write that did not fit */
};

void proto_cbuf_init(struct proto_cbuf *b, uint8_t *mem, size_t cap);
void proto_cbor_uint(struct proto_cbuf *b, uint64_t v);
void proto_cbor_int(struct proto_cbuf *b, int64_t v);
void proto_cbor_text(struct proto_cbuf *b, const char *s, size_t n);
void proto_cbor_cstr(struct proto_cbuf *b, const char *s);
void proto_cbor_bytes(struct proto_cbuf *b, const uint8_t *p, size_t n);
void proto_cbor_array(struct proto_cbuf *b, size_t n);
void proto_cbor_map(struct proto_cbuf *b, size_t n);
void proto_cbor_tag(struct proto_cbuf *b, uint64_t tag);
void proto_cbor_bool(struct proto_cbuf *b, bool v);
void proto_cbor_null(struct proto_cbuf *b);

/* Parses p[0..len) as exactly one deterministic CBOR item with no tags (allow_tag = 0) or
 * only a top-level tag allow_tag (< 24, so its head is the single byte 0xc0 | tag). On success *out is a libcbor item the caller releases
 * with cbor_decref(). On failure a reason goes to err and nothing is returned:
 * TN_ERR_INVALID (malformed, trailing bytes, not deterministic) or TN_ERR_NOMEM. */
int proto_cbor_load(const uint8_t *p, size_t len, uint64_t allow_tag, cbor_item_t **out,
                    char *err, size_t errlen) TN_MUST_CHECK;

/* The same parse without the deterministic-encoding checks, for bytes this program checked
 * with proto_cbor_load when it stored them (its own database, taken on trust). */
int proto_cbor_load_stored(const uint8_t *p, size_t len, uint64_t allow_tag, cbor_item_t **out,
                           char *err, size_t errlen) TN_MUST_CHECK;

/* Comparison used to sort text map keys deterministically: shorter first, then bytewise. */
int proto_cbor_key_cmp(const char *a, size_t alen, const char *b, size_t blen);


#endif
