/* MUD anchors in the repository: the URL index and the versioning rule store_append
 * enforces on every mud-anchor record (an org's first anchor of a URL has no ref; a
 * later one has a later last-update and refs the org's current anchor of the URL). */
#include "fixture.h"

#include <lmdb.h>

#define URL "https://mud.example.com/t100"

/* A mud-anchor continuing c: url, last_update, a digest made from tag, ref if given. */
static size_t anchor(const struct fx_chain *c, const char *url, const char *last_update,
                     uint8_t tag, const uint8_t *ref, uint8_t *out)
{
    struct proto_record r;
    struct proto_mud m = {.url = url, .size = 100 + tag, .last_update = last_update,
                          .model = "T100"};

    memset(m.sha256, tag, sizeof m.sha256);
    fx_rec_init(&r, c, PROTO_T_MUD_ANCHOR);
    r.mud = &m;
    if (ref) {
        r.has_ref = true;
        memcpy(r.ref, ref, PROTO_ID_LEN);
    }
    return fx_sign(&r, c->kp, out);
}

/* store_append that must be refused with TN_ERR_INVALID, naming what in err. */
static void expect_refused(struct store_txn *t, const struct fx *f, const uint8_t *b, size_t len,
                           const char *what)
{
    uint8_t id[PROTO_ID_LEN];
    char err[512] = "";
    bool appended = true;
    int rc = store_append(t, &f->eco, b, len, NULL, 0, id, &appended, err, sizeof err);

    EXPECT_RC(rc, TN_ERR_INVALID, "%s", what);
    assert_false(appended);
    if (!strstr(err, URL)) {
        print_error("%s: the reason does not name the URL: %s\n", what, err);
        fail();
    }
}

struct ids {
    uint8_t ids[8][PROTO_ID_LEN];
    size_t n;
};

static int collect(void *ctx, const uint8_t id[PROTO_ID_LEN])
{
    struct ids *s = ctx;
    if (s->n < 8)
        memcpy(s->ids[s->n], id, PROTO_ID_LEN);
    s->n++;
    return 0;
}

static bool has_id(const struct ids *s, const uint8_t id[PROTO_ID_LEN])
{
    for (size_t i = 0; i < s->n && i < 8; i++)
        if (memcmp(s->ids[i], id, PROTO_ID_LEN) == 0)
            return true;
    return false;
}

static void test_versions(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct store_txn *t = fx_begin(f->repo, true);
    struct store_mud_anchor cur;
    static uint8_t b[PROTO_RECORD_MAX];
    uint8_t v1[PROTO_ID_LEN], v2[PROTO_ID_LEN], other[PROTO_ID_LEN];
    struct ids all = {0};
    size_t len;

    EXPECT_RC(store_mud_current(t, "mfr", URL, &cur), TN_ERR_NOT_FOUND, "no anchor yet");
    /* a first anchor cannot claim to supersede anything */
    len = anchor(&c, URL, "2025-03-01T09:00:00Z", 1, c.prev, b);
    expect_refused(t, f, b, len, "first anchor with a ref");
    len = anchor(&c, URL, "2025-03-01T09:00:00Z", 1, NULL, b);
    fx_append_ok(t, f, b, len, v1);
    fx_chain_next(&c, v1);
    EXPECT_RC(store_mud_current(t, "mfr", URL, &cur), 0, "current after v1");
    EXPECT_HASH(cur.id, v1, "current is v1");
    assert_string_equal(cur.last_update_text, "2025-03-01T09:00:00Z");

    /* older, equal (the same instant written with another offset) and later-but-no-ref
     * versions are refused; so is a ref to something else */
    len = anchor(&c, URL, "2025-01-01T00:00:00Z", 2, v1, b);
    expect_refused(t, f, b, len, "older last-update");
    len = anchor(&c, URL, "2025-03-01T10:00:00+01:00", 2, v1, b);
    expect_refused(t, f, b, len, "same instant, other offset");
    len = anchor(&c, URL, "2025-09-15T12:30:00+02:00", 2, NULL, b);
    expect_refused(t, f, b, len, "later version without ref");
    memcpy(other, v1, PROTO_ID_LEN);
    other[0] ^= 1;
    len = anchor(&c, URL, "2025-09-15T12:30:00+02:00", 2, other, b);
    expect_refused(t, f, b, len, "later version with a ref to another record");
    fx_expect_shard(t, "mfr", 1, v1);

    /* the later version that refs v1 supersedes it */
    len = anchor(&c, URL, "2025-09-15T12:30:00+02:00", 2, v1, b);
    fx_append_ok(t, f, b, len, v2);
    fx_chain_next(&c, v2);
    EXPECT_RC(store_mud_current(t, "mfr", URL, &cur), 0, "current after v2");
    EXPECT_HASH(cur.id, v2, "current is v2");
    len = anchor(&c, URL, "2025-06-01T00:00:00Z", 3, v1, b);
    expect_refused(t, f, b, len, "a version between v1 and v2 that refs v1");

    /* another URL is its own line of versions */
    len = anchor(&c, "https://mud.example.com/other", "2020-01-01T00:00:00Z", 4, NULL, b);
    fx_append_ok(t, f, b, len, other);
    fx_chain_next(&c, other);

    fx_commit(t);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_mud_each(t, URL, collect, &all), 0, "store_mud_each");
    EXPECT_U64(all.n, 2, "anchors of the URL");
    assert_true(has_id(&all, v1) && has_id(&all, v2));
    store_txn_abort(t);
}

/* Orgs without the manufacturer role cannot anchor at all, even a URL nobody else has. */
static void test_orgs_and_roles(void **state)
{
    struct fx *f = *state;
    struct fx_chain mfr = fx_chain_of(f, ORG_MFR), car = fx_chain_of(f, ORG_CAR);
    struct store_txn *t = fx_begin(f->repo, true);
    struct store_mud_anchor cur;
    static uint8_t b[PROTO_RECORD_MAX];
    uint8_t id[PROTO_ID_LEN];
    char err[512] = "";
    bool appended = true;
    size_t len;

    len = anchor(&mfr, URL, "2025-03-01T09:00:00Z", 1, NULL, b);
    fx_append_ok(t, f, b, len, id);
    len = anchor(&car, "https://mud.example.com/new", "2024-01-01T00:00:00Z", 2, NULL, b);
    EXPECT_RC(store_append(t, &f->eco, b, len, NULL, 0, id, &appended, err, sizeof err),
              TN_ERR_ROLE, "a carrier's anchor");
    assert_false(appended);
    EXPECT_RC(store_mud_current(t, "car", "https://mud.example.com/new", &cur), TN_ERR_NOT_FOUND,
              "no carrier anchor");
    store_txn_abort(t);
}

/* A malformed last-update cannot even be signed: the record check refuses it. */
static void test_last_update_must_be_a_date_time(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct proto_record r;
    struct proto_mud m = {.url = URL, .size = 1, .last_update = "2025-02-30T00:00:00Z"};
    uint8_t out[PROTO_RECORD_MAX];
    char err[256] = "";
    size_t len;

    fx_rec_init(&r, &c, PROTO_T_MUD_ANCHOR);
    r.mud = &m;
    EXPECT_RC(proto_record_sign(&r, c.kp, out, sizeof out, &len, err, sizeof err),
              TN_ERR_INVALID, "last_update 2025-02-30");
    assert_non_null(strstr(err, "last_update"));
}

/* Turns the repository in dir back into format v1: v2's Merkle layout, no MUD URL index. */
static void make_v1(const char *dir)
{
    struct fx_raw r;
    MDB_dbi mud;

    fx_make_old_format(dir, "tracenode-store-v1");
    mud = fx_raw_open(&r, dir, true, "mud");
    assert_int_equal(mdb_drop(r.txn, mud, 1), 0);
    fx_raw_close(&r, true);
}

/* A v1 repository is refused read-only (with the way out) and upgraded by a writable
 * open, which indexes the anchors it holds (the versioning rule then still holds) and
 * rebuilds the Merkle tree under the new keys. */
static void test_upgrade_from_v1(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct store_txn *t = fx_begin(f->repo, true);
    struct store_mud_anchor cur;
    struct store_repo *ro = NULL;
    static uint8_t b[PROTO_RECORD_MAX];
    uint8_t v1[PROTO_ID_LEN], item[PROTO_ID_LEN], root[HL], after[HL];
    char err[512] = "";
    size_t len;

    fx_add_commission(t, f, &c, "urn:x:1", item);
    len = anchor(&c, URL, "2025-03-01T09:00:00Z", 1, NULL, b);
    fx_append_ok(t, f, b, len, v1);
    fx_chain_next(&c, v1);
    EXPECT_RC(store_root(t, "mfr", 2, root), 0, "root before");
    fx_commit(t);
    fx_close(f);
    make_v1(f->dir);

    EXPECT_RC(store_open(f->dir, 0, true, &ro, err, sizeof err), TN_ERR_CORRUPT, "read-only v1");
    assert_non_null(strstr(err, "start tracenode on it once"));
    fx_open(f, 0, false, &f->repo);
    t = fx_begin(f->repo, true);
    EXPECT_RC(store_mud_current(t, "mfr", URL, &cur), 0, "the anchor is indexed again");
    EXPECT_HASH(cur.id, v1, "current is v1");
    EXPECT_RC(store_root(t, "mfr", 2, after), 0, "root after");
    EXPECT_HASH(after, root, "the rebuilt tree has the same root");
    len = anchor(&c, URL, "2025-01-01T00:00:00Z", 2, v1, b);
    expect_refused(t, f, b, len, "older last-update after the upgrade");
    store_txn_abort(t);
    fx_close(f);
    EXPECT_RC(store_open(f->dir, 0, true, &ro, err, sizeof err), 0, "read-only, now current");
    store_close(ro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_orgs_and_roles, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v1, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_last_update_must_be_a_date_time, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
