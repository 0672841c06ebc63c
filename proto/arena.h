/* A bounded bump allocator: decoded records and events own their strings and arrays
 * through one arena, freed at once. The cap bounds what hostile input can make us
 * allocate. */
#ifndef TN_PROTO_ARENA_H
#define TN_PROTO_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct proto_arena_chunk;

struct proto_arena {
    struct proto_arena_chunk *head;
    size_t used; /* bytes handed out, all chunks */
    size_t cap;  /* maximum for used */
    bool over_cap; /* an allocation was refused for the cap (not for malloc) */
};

/* No allocation; cap is the most this arena will ever hand out. */
void proto_arena_init(struct proto_arena *a, size_t cap);

/* Frees every chunk; the arena can be reused afterwards. */
void proto_arena_release(struct proto_arena *a);

/* Zeroed, 16-byte aligned memory, or NULL when out of memory or over the cap (then
 * over_cap is set). */
void *proto_arena_alloc(struct proto_arena *a, size_t n);

/* NUL-terminated copy of s[0..n), or NULL. */
char *proto_arena_strndup(struct proto_arena *a, const char *s, size_t n);

#endif
