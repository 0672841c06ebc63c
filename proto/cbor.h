/* Deterministic CBOR (RFC 8949 section 4.2.1) on top of libcbor.
 *
 * Writing: a bounded output buffer and typed writers built on libcbor's encoders, which
 * always pick the shortest argument encoding. Callers emit map keys in deterministic
 * order (bytewise order of the encoded keys).
 *
 * Reading: a pull reader (proto_cbor_read) hands out one item head at a time, straight
 * from the bytes, and refuses whatever deterministic CBOR never contains: non-shortest
 * integers and lengths, indefinite lengths, floats, simple values other than
 * false/true/null, tags other than the one-byte tags 0..23, declared sizes the input
 * cannot hold. Map key order is the caller's to check (proto_cbor_enc_cmp), as only the
 * caller knows where a key ends. proto_cbor_load() checks a whole item that way (keys
 * strictly ascending, so no duplicates) and then builds libcbor's item tree. */
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

enum proto_cbor_kind {
    PROTO_CBOR_UINT,
    PROTO_CBOR_NEGINT, /* the value is -1 - v */
    PROTO_CBOR_BYTES,
    PROTO_CBOR_TEXT, /* not checked as UTF-8 here */
    PROTO_CBOR_ARRAY,
    PROTO_CBOR_MAP,
    PROTO_CBOR_TAG, /* followed by the one item it tags */
    PROTO_CBOR_BOOL,
    PROTO_CBOR_NULL,
};

struct proto_cbor_item {
    enum proto_cbor_kind kind;
    uint64_t v;          /* UINT, NEGINT, TAG: the argument; BYTES, TEXT: length; ARRAY:
                            elements; MAP: pairs; BOOL: 0 or 1 */
    const uint8_t *data; /* BYTES, TEXT: the contents (inside the input) */
    const uint8_t *enc;  /* the item's own encoding: its head, and for BYTES and TEXT */
    size_t enc_len;      /* the contents too (a whole map key when keys are scalars) */
};

struct proto_cbor_reader {
    const uint8_t *p;
    size_t len, off;
    uint64_t owed;   /* items still to come: 1 at the start, then what arrays, maps and
                        tags declare; 0 once one whole item has been read */
    const char *bad; /* why reading stopped (sticky) */
};

/* A reader of exactly one item in p[0..len). */
void proto_cbor_reader_init(struct proto_cbor_reader *rd, const uint8_t *p, size_t len);

/* Reads the next head (and a string's contents) into *it. false with rd->bad set on
 * malformed or non-deterministic input, or on a read past the one item. */
bool proto_cbor_read(struct proto_cbor_reader *rd, struct proto_cbor_item *it);

/* true once the one item has been read whole and no bytes follow it. */
bool proto_cbor_reader_done(const struct proto_cbor_reader *rd);

/* RFC 8949 4.2.1 order of two encodings: bytewise, a prefix first; 0 if equal. */
int proto_cbor_enc_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Parses p[0..len) as exactly one deterministic CBOR item with no tags (allow_tag = 0) or
 * only a top-level tag allow_tag (< 24, so its head is the single byte 0xc0 | tag). On
 * success *out is a libcbor item the caller releases with cbor_decref(). On failure a
 * reason goes to err and nothing is returned: TN_ERR_INVALID (malformed, trailing bytes,
 * not deterministic) or TN_ERR_NOMEM. For small, rarely read structures (bundles);
 * records are decoded with the reader alone. */
int proto_cbor_load(const uint8_t *p, size_t len, uint64_t allow_tag, cbor_item_t **out,
                    char *err, size_t errlen) TN_MUST_CHECK;

/* Comparison used to sort text map keys deterministically: shorter first, then bytewise. */
int proto_cbor_key_cmp(const char *a, size_t alen, const char *b, size_t blen);


#endif
