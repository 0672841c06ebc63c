/* store_fsck on a real repository: clean after ordinary appends across orgs (items,
 * input links, refs, event ids, MUD anchors, checkpoints), then each kind of damage,
 * made with raw LMDB writes, is found and named. */
#include "fixture.h"

#include <lmdb.h>

struct seen {
    int n;
    char text[4096];
};

static void collect(void *ctx, const char *org, int64_t seq, const char *problem)
{
    struct seen *s = ctx;
    size_t len = strlen(s->text);
    s->n++;
    snprintf(s->text + len, sizeof s->text - len, "[%s %lld] %s\n", org ? org : "-",
             (long long)seq, problem);
}

/* Runs fsck on a fresh read transaction; returns the problems. */
static struct seen run_fsck(struct fx *f, struct store_fsck_stats *st)
{
    struct seen s = {0};
    struct store_txn *t = fx_begin(f->repo, false);

    EXPECT_RC(store_fsck(t, &f->eco, true, collect, &s, st), 0, "store_fsck");
    store_txn_abort(t);
    EXPECT_U64(st->problems, (uint64_t)s.n, "problems counted and reported");
    return s;
}

static void expect_problem(struct fx *f, const char *needle, const char *what)
{
    struct store_fsck_stats st;
    struct seen s = run_fsck(f, &st);

    if (s.n == 0 || !strstr(s.text, needle)) {
        print_error("%s: expected a problem mentioning '%s', got %d:\n%s", what, needle, s.n,
                    s.text);
        fail();
    }
}

/* Appends a small story to the repository; ids[] gets the records in order. */
static void build(struct fx *f, uint8_t ids[8][PROTO_ID_LEN])
{
    struct fx_chain mfr = fx_chain_of(f, ORG_MFR), asmb = fx_chain_of(f, ORG_ASM);
    struct store_txn *t = fx_begin(f->repo, true);
    static uint8_t b[PROTO_RECORD_MAX];
    struct proto_record r;
    struct proto_mud m = {.url = "https://mud.example.com/x", .size = 3,
                          .last_update = "2025-01-01T00:00:00Z"};
    const char *outs[2] = {"urn:item:a", "urn:item:b"}, *items[1] = {"urn:item:a"};
    struct proto_input in[1];
    size_t len;

    fx_rec_init(&r, &mfr, PROTO_T_COMMISSION);
    r.outputs = outs;
    r.n_outputs = 2;
    r.eid = "event-1";
    len = fx_sign(&r, mfr.kp, b);
    fx_append_ok(t, f, b, len, ids[0]);
    fx_chain_next(&mfr, ids[0]);

    fx_rec_init(&r, &mfr, PROTO_T_SHIP);
    r.items = items;
    r.n_items = 1;
    r.to = "asm";
    len = fx_sign(&r, mfr.kp, b);
    fx_append_ok(t, f, b, len, ids[1]);
    fx_chain_next(&mfr, ids[1]);

    fx_rec_init(&r, &mfr, PROTO_T_MUD_ANCHOR);
    memset(m.sha256, 7, sizeof m.sha256);
    r.mud = &m;
    len = fx_sign(&r, mfr.kp, b);
    fx_append_ok(t, f, b, len, ids[2]);
    fx_chain_next(&mfr, ids[2]);

    fx_rec_init(&r, &asmb, PROTO_T_RECEIVE);
    r.items = items;
    r.n_items = 1;
    r.from = "mfr";
    len = fx_sign(&r, asmb.kp, b);
    fx_append_ok(t, f, b, len, ids[3]);
    fx_chain_next(&asmb, ids[3]);

    fx_rec_init(&r, &asmb, PROTO_T_TRANSFORM);
    in[0] = (struct proto_input){.item = "urn:item:a", .has_rec = true};
    memcpy(in[0].rec, ids[3], PROTO_ID_LEN);
    r.inputs = in;
    r.n_inputs = 1;
    r.outputs = (const char *[]){"urn:item:c"};
    r.n_outputs = 1;
    len = fx_sign(&r, asmb.kp, b);
    fx_append_ok(t, f, b, len, ids[4]);
    fx_chain_next(&asmb, ids[4]);

    fx_rec_init(&r, &asmb, PROTO_T_SUPERSEDE);
    r.has_ref = true;
    memcpy(r.ref, ids[4], PROTO_ID_LEN);
    len = fx_sign(&r, asmb.kp, b);
    fx_append_ok(t, f, b, len, ids[5]);
    fx_chain_next(&asmb, ids[5]);

    /* checkpoints of both shards, signed by their orgs */
    for (int o = 0; o < 2; o++) {
        const char *org = o ? "asm" : "mfr";
        struct store_shard s;
        struct cry_checkpoint cp;
        char note[CRY_NOTE_MAX];
        size_t nlen;
        EXPECT_RC(store_shard_get(t, org, &s), 0, "shard");
        snprintf(cp.origin, sizeof cp.origin, "%s/%s", NET, org);
        cp.size = s.size;
        EXPECT_RC(store_root(t, org, s.size, cp.root), 0, "root");
        EXPECT_RC(cry_checkpoint_sign(&cp, &f->keys[o ? ORG_ASM : ORG_MFR], note, sizeof note,
                                      &nlen),
                  0, "sign checkpoint");
        EXPECT_RC(store_checkpoint_put(t, org, s.size, note, nlen), 0, "checkpoint put");
    }
    fx_commit(t);
}

/* Raw access to the environment, for damage: the repository is closed meanwhile. */
static MDB_dbi raw_open(struct fx *f, struct fx_raw *r, const char *db)
{
    fx_close(f);
    return fx_raw_open(r, f->dir, true, db);
}

static void raw_close(struct fx *f, struct fx_raw *r)
{
    fx_raw_close(r, true);
    fx_open(f, 0, false, &f->repo);
}

/* The first entry of db: its key and a private copy of its value. */
static void first_entry(struct fx_raw *r, MDB_dbi dbi, MDB_val *k, uint8_t *val, size_t *vlen)
{
    MDB_cursor *c;
    MDB_val v;

    assert_int_equal(mdb_cursor_open(r->txn, dbi, &c), 0);
    assert_int_equal(mdb_cursor_get(c, k, &v, MDB_FIRST), 0);
    memcpy(val, v.mv_data, v.mv_size);
    *vlen = v.mv_size;
    mdb_cursor_close(c);
}

static void test_clean(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN];
    struct store_fsck_stats st;
    struct seen s;

    build(f, ids);
    s = run_fsck(f, &st);
    if (s.n)
        print_error("%s", s.text);
    EXPECT_U64(st.problems, 0, "problems in a clean repository");
    EXPECT_U64(st.shards, 2, "shards");
    EXPECT_U64(st.records, 6, "records");
    EXPECT_U64(st.checkpoints, 2, "checkpoints");
    /* 3 + 3 leaves, plus 1 + 1 level-1 and 1 level-2 nodes (size 3: one pair each) */
    EXPECT_U64(st.merkle_nodes, 8, "Merkle nodes");
    assert_true(st.index_entries >= 6 + 7);
}

/* A flipped byte inside a stored record. */
static void test_record_bytes(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[PROTO_RECORD_MAX + 64];
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "records");
    first_entry(&r, dbi, &k, val, &vlen);
    val[vlen - 10] ^= 0x01; /* inside the signature */
    v = (MDB_val){vlen, val};
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_close(f, &r);
    expect_problem(f, "do not hash to the stored record id", "a flipped byte");
    /* and a reader is told, rather than shown the damaged record (the value is id, bytes) */
    {
        struct store_txn *t;
        struct proto_record rec;
        const uint8_t *bytes;
        size_t len;
        char err[256];
        uint8_t other[PROTO_ID_LEN];
        memcpy(other, val, PROTO_ID_LEN);
        assert_int_equal(store_txn_begin(f->repo, false, &t), 0);
        proto_record_init(&rec);
        EXPECT_RC(store_record_load(t, other, &bytes, &len, &rec, err, sizeof err),
                  TN_ERR_CORRUPT, "store_record_load of the damaged record");
        assert_non_null(strstr(err, "do not hash to its id"));
        proto_record_release(&rec);
        for (int i = 0; i < 6; i++) { /* the others load whole (build makes ids[0..5]) */
            if (memcmp(ids[i], other, PROTO_ID_LEN) == 0)
                continue;
            proto_record_init(&rec);
            EXPECT_RC(store_record_load(t, ids[i], &bytes, &len, &rec, err, sizeof err), 0,
                      "store_record_load of an intact record");
            assert_non_null(rec.org);
            proto_record_release(&rec);
        }
        store_txn_abort(t);
    }
}

static void test_missing_index_entry(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[64];
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "items");
    first_entry(&r, dbi, &k, val, &vlen);
    v = (MDB_val){vlen, val};
    assert_int_equal(mdb_del(r.txn, dbi, &k, &v), 0);
    raw_close(f, &r);
    expect_problem(f, "items index has", "an items entry removed");
}

static void test_misfiled_index_entry(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[64], key[32] = {0, 'u', 'r', 'n', ':', 'z'};
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "items");
    first_entry(&r, dbi, &k, val, &vlen);
    k = (MDB_val){6, key}; /* the same value filed under an item it does not name */
    v = (MDB_val){vlen, val};
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_close(f, &r);
    expect_problem(f, "does not name the item", "an items entry under the wrong item");
}

static void test_merkle_node(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[64];
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "merkle");
    first_entry(&r, dbi, &k, val, &vlen);
    val[0] ^= 0x80;
    v = (MDB_val){vlen, val};
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_close(f, &r);
    expect_problem(f, "Merkle node (level 0, index 0) is wrong", "a damaged Merkle node");
}

/* A node no shard's tree has (as a repository upgraded without dropping its old tree
 * would hold): counted against the nodes the records call for. */
static void test_stray_merkle_node(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[64], key[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0};
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "merkle");
    first_entry(&r, dbi, &k, val, &vlen);
    k = (MDB_val){sizeof key, key}; /* shard 0, position 4096 */
    v = (MDB_val){vlen, val};
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, MDB_NOOVERWRITE), 0);
    raw_close(f, &r);
    expect_problem(f, "merkle index has 9 entries; the records call for 8", "a stray node");
}

static void test_checkpoint(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[CRY_NOTE_MAX];
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "checkpoints");
    first_entry(&r, dbi, &k, val, &vlen);
    val[vlen - 5] ^= 0x01; /* inside the signature line */
    v = (MDB_val){vlen, val};
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_close(f, &r);
    expect_problem(f, "is not signed by the org", "a damaged checkpoint");
}

static void test_missing_record(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[PROTO_RECORD_MAX + 64];
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "records");
    first_entry(&r, dbi, &k, val, &vlen);
    assert_int_equal(mdb_del(r.txn, dbi, &k, NULL), 0);
    raw_close(f, &r);
    expect_problem(f, "record missing", "a record removed");
}

static void test_id_index(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN];
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k = {PROTO_ID_LEN, ids[1]};

    build(f, ids);
    dbi = raw_open(f, &r, "ids");
    assert_int_equal(mdb_del(r.txn, dbi, &k, NULL), 0);
    raw_close(f, &r);
    expect_problem(f, "the id index does not point at this record", "an id entry removed");
}

static void test_ref_and_mud_indexes(void **state)
{
    struct fx *f = *state;
    uint8_t ids[8][PROTO_ID_LEN], val[64];
    struct fx_raw r;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t vlen;

    build(f, ids);
    dbi = raw_open(f, &r, "refs");
    first_entry(&r, dbi, &k, val, &vlen);
    assert_int_equal(mdb_del(r.txn, dbi, &k, NULL), 0);
    raw_close(f, &r);
    expect_problem(f, "refs index has 0 entries; the records call for 1", "a refs entry removed");

    dbi = raw_open(f, &r, "mud");
    first_entry(&r, dbi, &k, val, &vlen);
    val[0] ^= 0x01; /* the shard number */
    v = (MDB_val){vlen, val};
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_close(f, &r);
    expect_problem(f, "mud index: the entry does not match", "a mud entry with the wrong shard");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_record_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_missing_index_entry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_misfiled_index_entry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_merkle_node, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stray_merkle_node, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_missing_record, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_id_index, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ref_and_mud_indexes, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
