#include "proto/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN 4096

struct proto_arena_chunk {
    struct proto_arena_chunk *next;
    size_t size, off;
    _Alignas(16) unsigned char mem[];
};

void proto_arena_init(struct proto_arena *a, size_t cap)
{
    a->head = NULL;
    a->used = 0;
    a->cap = cap;
    a->over_cap = false;
}

void proto_arena_release(struct proto_arena *a)
{
    struct proto_arena_chunk *c = a->head, *next;

    for (; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->used = 0;
}

void *proto_arena_alloc(struct proto_arena *a, size_t n)
{
    struct proto_arena_chunk *c = a->head;
    size_t need = (n + 15) & ~(size_t)15;
    void *p;

    if (need < n || need > a->cap - a->used) {
        a->over_cap = true;
        return NULL;
    }
    if (!c || c->size - c->off < need) {
        size_t size = need > CHUNK_MIN ? need : CHUNK_MIN;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->off = 0;
        c->next = a->head;
        a->head = c;
    }
    p = c->mem + c->off;
    c->off += need;
    a->used += need;
    memset(p, 0, need);
    return p;
}

char *proto_arena_strndup(struct proto_arena *a, const char *s, size_t n)
{
    char *p = proto_arena_alloc(a, n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}
