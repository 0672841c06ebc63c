/* Shared fixture of the storage unit tests: a repository in a fresh temp dir, an
 * ecosystem of four orgs with fresh keys (plus one key that belongs to nobody), and a
 * record builder that continues an org's chain.
 *
 * Header-only (everything static inline) so each test executable gets its own copy and
 * unused helpers do not trip -Wunused-function. */
#ifndef TN_TEST_STORAGE_FIXTURE_H
#define TN_TEST_STORAGE_FIXTURE_H

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "../test_util.h"

#include "crypto/checkpoint.h"
#include "crypto/error.h"
#include "crypto/key.h"
#include "crypto/merkle.h"
#include "proto/ecosystem.h"
#include "proto/record.h"
#include "storage/repo.h"

#include <lmdb.h>

#define NET "testnet"
#define HL CRY_HASH_LEN
#define FX_MAP_SIZE (UINT64_C(64) << 20)

/* A failing check prints what was being checked and both codes with their text. */
#define EXPECT_RC(got, want, ...)                                                                  \
    do {                                                                                           \
        int got_ = (got), want_ = (want);                                                          \
        if (got_ != want_) {                                                                       \
            print_error(__VA_ARGS__);                                                              \
            print_error(": got %d (%s), want %d (%s)\n", got_, tn_strerror(got_), want_,           \
                        tn_strerror(want_));                                                       \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define EXPECT_U64(got, want, ...)                                                                 \
    do {                                                                                           \
        uint64_t got_ = (got), want_ = (want);                                                     \
        if (got_ != want_) {                                                                       \
            print_error(__VA_ARGS__);                                                              \
            print_error(": got %" PRIu64 ", want %" PRIu64 "\n", got_, want_);                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define EXPECT_HASH(got, want, ...)                                                                \
    do {                                                                                           \
        if (memcmp((got), (want), HL) != 0) {                                                      \
            print_error(__VA_ARGS__);                                                              \
            print_error(": hashes differ\n");                                                      \
            assert_memory_equal((got), (want), HL);                                                \
        }                                                                                          \
    } while (0)

/* The orgs of the test ecosystem. */
enum fx_org { ORG_MFR, ORG_ASM, ORG_OP, ORG_CAR, FX_N_ORGS };

static const char *const fx_org_id[FX_N_ORGS] = {"mfr", "asm", "op", "car"};
static const char *const fx_org_roles[FX_N_ORGS] = {"[\"manufacturer\"]", "[\"assembler\"]",
                                                    "[\"operator\"]", "[\"carrier\"]"};

struct fx {
    char *dir;
    struct store_repo *repo;
    struct proto_ecosystem eco;
    struct cry_keypair keys[FX_N_ORGS];
    struct cry_keypair stranger; /* in no org of the ecosystem */
    struct cry_keypair gov;
};

/* Where the next record of one org's shard goes. */
struct fx_chain {
    const char *org;
    const struct cry_keypair *kp;
    uint64_t seq;
    bool has_prev;
    uint8_t prev[PROTO_ID_LEN];
};

static inline void fx_open(struct fx *f, uint64_t map_size, bool readonly, struct store_repo **out)
{
    char err[512] = "";
    int rc = store_open(f->dir, map_size, readonly, out, err, sizeof err);

    if (rc != 0)
        print_error("store_open(%s): %s\n", f->dir, err);
    EXPECT_RC(rc, 0, "store_open");
    assert_non_null(*out);
}

/* Builds the ecosystem text and parses it (unsigned). */
static inline void fx_make_ecosystem(struct fx *f)
{
    char text[4096], pk[CRY_PK_TEXT_LEN], gov[CRY_PK_TEXT_LEN], err[512] = "";
    size_t n;
    int rc;

    cry_pk_format(gov, f->gov.pk);
    n = (size_t)snprintf(text, sizeof text,
                         "{\"network\": \"" NET "\", \"governance_key\": \"%s\", \"orgs\": [", gov);
    for (int i = 0; i < FX_N_ORGS; i++) {
        cry_pk_format(pk, f->keys[i].pk);
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "%s{\"id\": \"%s\", \"name\": \"Org %s\", \"key\": \"%s\", "
                              "\"roles\": %s}",
                              i ? ", " : "", fx_org_id[i], fx_org_id[i], pk, fx_org_roles[i]);
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "]}");
    assert_true(n < sizeof text);
    rc = proto_ecosystem_parse(text, n, false, &f->eco, err, sizeof err);
    if (rc != 0)
        print_error("ecosystem: %s\n%s\n", err, text);
    EXPECT_RC(rc, 0, "proto_ecosystem_parse");
    assert_int_equal(f->eco.n_orgs, FX_N_ORGS);
}

/* cmocka setup: keys, ecosystem, and a repository (FX_MAP_SIZE) in a fresh temp dir. */
static inline int fx_setup_map(void **state, uint64_t map_size)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    EXPECT_RC(cry_init(), 0, "cry_init");
    for (int i = 0; i < FX_N_ORGS; i++)
        EXPECT_RC(cry_keypair_generate(&f->keys[i]), 0, "keygen");
    EXPECT_RC(cry_keypair_generate(&f->stranger), 0, "keygen");
    EXPECT_RC(cry_keypair_generate(&f->gov), 0, "keygen");
    fx_make_ecosystem(f);
    f->dir = tn_test_mkdtemp();
    if (map_size)
        fx_open(f, map_size, false, &f->repo);
    *state = f;
    return 0;
}

static inline int fx_setup(void **state)
{
    return fx_setup_map(state, FX_MAP_SIZE);
}

/* Setup without opening a repository (tests that open it themselves). */
static inline int fx_setup_noopen(void **state)
{
    return fx_setup_map(state, 0);
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->repo);
    proto_ecosystem_release(&f->eco);
    for (int i = 0; i < FX_N_ORGS; i++)
        cry_keypair_release(&f->keys[i]);
    cry_keypair_release(&f->stranger);
    cry_keypair_release(&f->gov);
    tn_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* Closes and reopens f->repo (same dir, map size as recorded). */
/* Closes the fixture's repository (LMDB allows one environment per process at a time). */
static inline void fx_close(struct fx *f)
{
    store_close(f->repo);
    f->repo = NULL;
}

static inline void fx_reopen(struct fx *f)
{
    fx_close(f);
    fx_open(f, 0, false, &f->repo);
}

static inline struct fx_chain fx_chain_of(const struct fx *f, enum fx_org o)
{
    struct fx_chain c;

    memset(&c, 0, sizeof c);
    c.org = fx_org_id[o];
    c.kp = &f->keys[o];
    return c;
}

/* Moves c past the record with this id. */
static inline void fx_chain_next(struct fx_chain *c, const uint8_t id[PROTO_ID_LEN])
{
    c->seq++;
    c->has_prev = true;
    memcpy(c->prev, id, PROTO_ID_LEN);
}

/* The common fields of the record that continues c; the caller sets the type fields. */
static inline void fx_rec_init(struct proto_record *r, const struct fx_chain *c,
                               enum proto_type type)
{
    memset(r, 0, sizeof *r);
    r->v = PROTO_VERSION;
    r->net = NET;
    r->org = c->org;
    r->seq = c->seq;
    r->has_prev = c->has_prev;
    memcpy(r->prev, c->prev, PROTO_ID_LEN);
    r->time = UINT64_C(1700000000000) + c->seq;
    r->type = type;
}

/* Signs r with kp into out[PROTO_RECORD_MAX]; returns the length. */
static inline size_t fx_sign(const struct proto_record *r, const struct cry_keypair *kp,
                             uint8_t *out)
{
    char err[256] = "";
    size_t len = 0;
    int rc = proto_record_sign(r, kp, out, PROTO_RECORD_MAX, &len, err, sizeof err);

    if (rc != 0)
        print_error("proto_record_sign: %s\n", err);
    EXPECT_RC(rc, 0, "proto_record_sign");
    return len;
}

/* A commission of one item continuing c, signed with c's key. */
static inline size_t fx_commission(const struct fx_chain *c, const char *item, uint8_t *out)
{
    struct proto_record r;
    const char *outs[1] = {item};

    fx_rec_init(&r, c, PROTO_T_COMMISSION);
    r.outputs = outs;
    r.n_outputs = 1;
    return fx_sign(&r, c->kp, out);
}

/* store_append that must succeed and append; id gets the record id. */
static inline void fx_append_ok(struct store_txn *t, const struct fx *f, const uint8_t *bytes,
                                size_t len, uint8_t id[PROTO_ID_LEN])
{
    char err[512] = "";
    bool appended = false;
    int rc = store_append(t, &f->eco, bytes, len, NULL, 0, id, &appended, err, sizeof err);

    if (rc != 0)
        print_error("store_append: %s\n", err);
    EXPECT_RC(rc, 0, "store_append");
    assert_true(appended);
}

/* Builds a commission of item continuing c, appends it and advances c. */
static inline void fx_add_commission(struct store_txn *t, const struct fx *f, struct fx_chain *c,
                                     const char *item, uint8_t id[PROTO_ID_LEN])
{
    static uint8_t buf[PROTO_RECORD_MAX];
    size_t len = fx_commission(c, item, buf);

    fx_append_ok(t, f, buf, len, id);
    fx_chain_next(c, id);
}

static inline struct store_txn *fx_begin(struct store_repo *repo, bool write)
{
    struct store_txn *t = NULL;

    EXPECT_RC(store_txn_begin(repo, write, &t), 0, "store_txn_begin(write=%d)", write);
    assert_non_null(t);
    return t;
}

static inline void fx_commit(struct store_txn *t)
{
    EXPECT_RC(store_txn_commit(t), 0, "store_txn_commit");
}

/* Asserts org's shard has this size and head (head NULL: all zero). */
static inline void fx_expect_shard(struct store_txn *t, const char *org, uint64_t size,
                                   const uint8_t *head)
{
    static const uint8_t zero[PROTO_ID_LEN];
    struct store_shard s;

    EXPECT_RC(store_shard_get(t, org, &s), 0, "store_shard_get(%s)", org);
    EXPECT_U64(s.size, size, "shard %s size", org);
    EXPECT_HASH(s.head, head ? head : zero, "shard %s head", org);
    assert_false(s.frozen);
}

static inline double fx_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fixed-seed PRNG (splitmix64), so failures reproduce. */
struct fx_rng {
    uint64_t s;
};

static inline uint64_t fx_rng_next(struct fx_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t fx_rng_below(struct fx_rng *r, uint64_t n)
{
    return fx_rng_next(r) % n;
}

/* --- a repository read and written with LMDB directly ------------------------------ */

struct fx_raw {
    MDB_env *env;
    MDB_txn *txn;
};

/* The repository in dir, opened with LMDB itself (the repo must be closed: one
 * environment per process at a time). */
static inline MDB_dbi fx_raw_open(struct fx_raw *r, const char *dir, bool write, const char *db)
{
    MDB_dbi dbi;

    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
    assert_int_equal(mdb_env_open(r->env, dir, write ? 0 : MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, write ? 0 : MDB_RDONLY, &r->txn), 0);
    assert_int_equal(mdb_dbi_open(r->txn, db, 0, &dbi), 0);
    return dbi;
}

static inline void fx_raw_close(struct fx_raw *r, bool commit)
{
    if (commit)
        assert_int_equal(mdb_txn_commit(r->txn), 0);
    else
        mdb_txn_abort(r->txn);
    mdb_env_close(r->env);
}

/* The perfect subtrees of a tree of n leaves in the order appends complete them
 * (post-order), as (level, index) pairs; returns how many (2n - popcount(n)). */
static inline size_t fx_post_order(uint64_t n, unsigned *level, uint64_t *index)
{
    size_t k = 0;

    for (uint64_t leaf = 0; leaf < n; leaf++) {
        uint64_t i = leaf;
        unsigned l = 0;
        level[k] = 0;
        index[k++] = i;
        while (i & 1) {
            l++;
            i >>= 1;
            level[k] = l;
            index[k++] = i;
        }
    }
    return k;
}

/* Turns the (closed) repository in dir back into an older format (v1 or v2): its Merkle
 * nodes rewritten in their layout, shard (4) | level (1) | index (8), and the format named.
 * Each shard's nodes are in post-order under the current keys, which gives their (level,
 * index). */
static inline void fx_make_old_format(const char *dir, const char *format)
{
    struct fx_raw r;
    MDB_dbi merkle = fx_raw_open(&r, dir, true, "merkle"), meta;
    MDB_val k, v, fk = {6, "format"}, fv = {strlen(format), (void *)format};
    MDB_cursor *c;
    enum { MAX = 4096 };
    static uint8_t keys[MAX][12], vals[MAX][HL], old[MAX][13];
    static unsigned level[MAX];
    static uint64_t index[MAX];
    size_t n = 0, first = 0;

    assert_int_equal(mdb_cursor_open(r.txn, merkle, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        assert_true(n < MAX && k.mv_size == 12 && v.mv_size == HL);
        memcpy(keys[n], k.mv_data, 12);
        memcpy(vals[n], v.mv_data, HL);
    }
    mdb_cursor_close(c);
    assert_int_equal(mdb_drop(r.txn, merkle, 0), 0);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && memcmp(keys[i], keys[first], 4) == 0)
            continue;
        /* keys[first..i) are one shard's: count its leaves, then number them */
        uint64_t leaves = 0;
        while (2 * leaves - (uint64_t)__builtin_popcountll(leaves) < i - first)
            leaves++;
        assert_int_equal(fx_post_order(leaves, level + first, index + first), i - first);
        for (size_t j = first; j < i; j++) {
            memcpy(old[j], keys[j], 4);
            old[j][4] = (uint8_t)level[j];
            for (int b = 0; b < 8; b++)
                old[j][5 + b] = (uint8_t)(index[j] >> (56 - 8 * b));
            k = (MDB_val){13, old[j]};
            v = (MDB_val){HL, vals[j]};
            assert_int_equal(mdb_put(r.txn, merkle, &k, &v, 0), 0);
        }
        first = i;
    }
    assert_int_equal(mdb_dbi_open(r.txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_put(r.txn, meta, &fk, &fv, 0), 0);
    fx_raw_close(&r, true);
}

#endif
