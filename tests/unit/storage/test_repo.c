/* storage/repo.c: opening and creating repositories, readonly handles, meta values,
 * transactions, the shard listing, and a full LMDB map (MDB_MAP_FULL). */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

/* --- open / create / reopen ------------------------------------------------------------ */

static void test_open_creates_dir_and_reopens(void **state)
{
    struct fx *f = *state;
    char sub[600], err[512] = "";
    struct store_repo *repo = NULL;
    struct store_txn *t;
    const uint8_t *val;
    size_t len;
    struct stat st;

    /* A directory that does not exist yet is created, private to the user. */
    snprintf(sub, sizeof sub, "%s/new-repo", f->dir);
    EXPECT_RC(store_open(sub, UINT64_C(8) << 20, false, &repo, err, sizeof err), 0,
              "store_open(create) %s", err);
    assert_non_null(repo);
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(sub, sizeof sub, "%s/new-repo/data.mdb", f->dir);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0); /* the data file is private too */
    snprintf(sub, sizeof sub, "%s/new-repo", f->dir);
    EXPECT_U64(store_map_size(repo), UINT64_C(8) << 20, "map size as asked");

    t = fx_begin(repo, true);
    EXPECT_RC(store_meta_get(t, "missing", &val, &len), TN_ERR_NOT_FOUND, "meta missing");
    EXPECT_RC(store_meta_put(t, "node.org", "mfr", 3), 0, "meta put");
    EXPECT_RC(store_meta_put(t, "empty", "", 0), 0, "meta put empty");
    EXPECT_RC(store_meta_get(t, "node.org", &val, &len), 0, "meta get in txn");
    assert_int_equal(len, 3);
    assert_memory_equal(val, "mfr", 3);
    fx_commit(t);

    /* Overwrite in a second transaction. */
    t = fx_begin(repo, true);
    EXPECT_RC(store_meta_put(t, "node.org", "asm-2", 5), 0, "meta overwrite");
    fx_commit(t);
    store_close(repo);
    repo = NULL;

    /* Reopen with map_size 0: the recorded size stays in force. */
    EXPECT_RC(store_open(sub, 0, false, &repo, err, sizeof err), 0, "reopen %s", err);
    EXPECT_U64(store_map_size(repo), UINT64_C(8) << 20, "map size kept on reopen");
    t = fx_begin(repo, false);
    EXPECT_RC(store_meta_get(t, "node.org", &val, &len), 0, "meta after reopen");
    assert_int_equal(len, 5);
    assert_memory_equal(val, "asm-2", 5);
    EXPECT_RC(store_meta_get(t, "empty", &val, &len), 0, "empty meta after reopen");
    assert_int_equal(len, 0);
    assert_int_not_equal(store_meta_put(t, "x", "y", 1), 0); /* read transaction */
    store_txn_abort(t);
    store_close(repo);
    repo = NULL;

    /* Readonly open of the same repository works and refuses write transactions. */
    EXPECT_RC(store_open(sub, 0, true, &repo, err, sizeof err), 0, "readonly open %s", err);
    t = NULL;
    EXPECT_RC(store_txn_begin(repo, true, &t), TN_ERR_INVALID, "write txn on readonly repo");
    assert_null(t);
    t = fx_begin(repo, false);
    EXPECT_RC(store_meta_get(t, "node.org", &val, &len), 0, "meta via readonly handle");
    assert_int_equal(len, 5);
    store_txn_abort(t);
    store_close(repo);
}

static void test_open_readonly_missing(void **state)
{
    struct fx *f = *state;
    char path[600], err[512] = "";
    struct store_repo *repo = (struct store_repo *)&repo; /* not NULL: must be reset */
    struct stat st;

    /* A directory that does not exist: NOT_FOUND, and nothing is created. */
    snprintf(path, sizeof path, "%s/nothing-here", f->dir);
    EXPECT_RC(store_open(path, 0, true, &repo, err, sizeof err), TN_ERR_NOT_FOUND,
              "readonly open of a missing dir");
    assert_null(repo);
    assert_true(err[0] != '\0');
    assert_int_not_equal(stat(path, &st), 0);

    /* An existing directory that holds no repository: also NOT_FOUND. */
    snprintf(path, sizeof path, "%s/empty-dir", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    err[0] = '\0';
    repo = (struct store_repo *)&repo;
    EXPECT_RC(store_open(path, 0, true, &repo, err, sizeof err), TN_ERR_NOT_FOUND,
              "readonly open of an empty dir");
    assert_null(repo);
    assert_true(err[0] != '\0');

    /* A writable open whose parent is missing cannot create it. */
    snprintf(path, sizeof path, "%s/no/such/parent", f->dir);
    repo = (struct store_repo *)&repo;
    assert_int_not_equal(store_open(path, 0, false, &repo, err, sizeof err), 0);
    assert_null(repo);

    /* NULL is a no-op for close and abort. */
    store_close(NULL);
    store_txn_abort(NULL);
}

static void test_open_unknown_format(void **state)
{
    struct fx *f = *state;
    struct store_repo *repo = NULL;
    struct store_txn *t;
    char err[512] = "";

    t = fx_begin(f->repo, true);
    EXPECT_RC(store_meta_put(t, "format", "tracenode-store-v999", 20), 0, "meta put format");
    fx_commit(t);
    fx_close(f);
    EXPECT_RC(store_open(f->dir, 0, false, &repo, err, sizeof err), TN_ERR_CORRUPT,
              "open of a repository with an unknown format");
    assert_null(repo);
    EXPECT_RC(store_open(f->dir, 0, true, &repo, err, sizeof err), TN_ERR_CORRUPT,
              "readonly open of a repository with an unknown format");
    assert_null(repo);
}

static void test_abort_discards(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct store_txn *t;
    struct store_shard s;
    uint8_t id[PROTO_ID_LEN];
    const uint8_t *val;
    size_t len;

    t = fx_begin(f->repo, true);
    EXPECT_RC(store_meta_put(t, "k", "v", 1), 0, "meta put");
    for (int i = 0; i < 5; i++)
        fx_add_commission(t, f, &c, "urn:test:abort", id);
    fx_expect_shard(t, "mfr", 5, id);
    store_txn_abort(t);

    t = fx_begin(f->repo, false);
    EXPECT_RC(store_meta_get(t, "k", &val, &len), TN_ERR_NOT_FOUND, "meta after abort");
    EXPECT_RC(store_shard_get(t, "mfr", &s), TN_ERR_NOT_FOUND, "shard after abort");
    assert_false(store_has_record(t, id));
    store_txn_abort(t);
}

/* --- shard listing ---------------------------------------------------------------------- */

struct shard_list {
    int n;
    int stop_at; /* return 1 on this call (1-based), 0: never */
    char orgs[8][PROTO_ID_MAX + 1];
    uint64_t sizes[8];
};

static int shard_cb(void *ctx, const char *org, const struct store_shard *s)
{
    struct shard_list *l = ctx;

    assert_true(l->n < 8);
    snprintf(l->orgs[l->n], sizeof l->orgs[0], "%s", org);
    l->sizes[l->n] = s->size;
    l->n++;
    return l->n == l->stop_at ? 1 : 0;
}

static void test_shard_each(void **state)
{
    struct fx *f = *state;
    struct fx_chain car = fx_chain_of(f, ORG_CAR), mfr = fx_chain_of(f, ORG_MFR);
    struct store_txn *t;
    struct shard_list l;
    uint8_t id[PROTO_ID_LEN], buf[PROTO_RECORD_MAX];
    struct proto_record r;
    const char *items[1] = {"urn:test:pallet"};
    size_t len;
    int rc;

    t = fx_begin(f->repo, false);
    memset(&l, 0, sizeof l);
    EXPECT_RC(store_shard_each(t, shard_cb, &l), 0, "shard_each on an empty repository");
    assert_int_equal(l.n, 0);
    store_txn_abort(t);

    /* Created in the order mfr, car; listed in org id order car, mfr. */
    t = fx_begin(f->repo, true);
    for (int i = 0; i < 3; i++)
        fx_add_commission(t, f, &mfr, "urn:test:pallet", id);
    fx_rec_init(&r, &car, PROTO_T_SHIP);
    r.items = items;
    r.n_items = 1;
    r.to = "op";
    len = fx_sign(&r, car.kp, buf);
    fx_append_ok(t, f, buf, len, id);
    fx_commit(t);

    t = fx_begin(f->repo, false);
    memset(&l, 0, sizeof l);
    EXPECT_RC(store_shard_each(t, shard_cb, &l), 0, "shard_each");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.orgs[0], "car");
    EXPECT_U64(l.sizes[0], 1, "car size");
    assert_string_equal(l.orgs[1], "mfr");
    EXPECT_U64(l.sizes[1], 3, "mfr size");

    /* Contract (storage/repo.h): "a non-zero return stops and is returned". A callback
     * may return any non-zero int, positive ones included. Checked after the transaction
     * ended, so a failure here leaks nothing. */
    memset(&l, 0, sizeof l);
    l.stop_at = 1;
    rc = store_shard_each(t, shard_cb, &l);
    store_txn_abort(t);
    assert_int_equal(l.n, 1);
    EXPECT_RC(rc, 1, "shard_each must return the callback's value 1");
}

/* A callback returning a negative project error stops the walk and is passed through. */
static int shard_cb_err(void *ctx, const char *org, const struct store_shard *s)
{
    (void)org;
    (void)s;
    ++*(int *)ctx;
    return TN_ERR_EXISTS;
}

static void test_shard_each_error_passthrough(void **state)
{
    struct fx *f = *state;
    struct fx_chain a = fx_chain_of(f, ORG_ASM), m = fx_chain_of(f, ORG_MFR);
    struct store_txn *t;
    uint8_t id[PROTO_ID_LEN], buf[PROTO_RECORD_MAX];
    struct proto_record r;
    struct proto_input in = {.item = "x", .has_rec = false};
    const char *outs[1] = {"y"};
    int calls = 0;
    size_t len;

    t = fx_begin(f->repo, true);
    fx_add_commission(t, f, &m, "x", id);
    fx_rec_init(&r, &a, PROTO_T_TRANSFORM);
    r.inputs = &in;
    r.n_inputs = 1;
    r.outputs = outs;
    r.n_outputs = 1;
    len = fx_sign(&r, a.kp, buf);
    fx_append_ok(t, f, buf, len, id);
    EXPECT_RC(store_shard_each(t, shard_cb_err, &calls), TN_ERR_EXISTS, "shard_each error");
    assert_int_equal(calls, 1);
    store_txn_abort(t);
}

/* --- MDB_MAP_FULL ------------------------------------------------------------------------ */

#define FULL_MAX 4000

struct committed {
    uint8_t id[PROTO_ID_LEN];
    uint8_t leaf[HL];
};

/* Checks the committed prefix: size, head, every record's bytes and position, and the
 * root over them against the one computed right after the last successful commit. */
static void check_committed(struct store_repo *repo, const struct committed *recs, uint64_t n,
                            const uint8_t root[HL])
{
    struct store_txn *t = fx_begin(repo, false);
    uint8_t got[HL], id[PROTO_ID_LEN];
    const uint8_t *bytes;
    size_t len;

    fx_expect_shard(t, "mfr", n, n ? recs[n - 1].id : NULL);
    for (uint64_t i = 0; i < n; i++) {
        EXPECT_RC(store_record_at(t, "mfr", i, id), 0, "record_at %" PRIu64, i);
        EXPECT_HASH(id, recs[i].id, "id at seq %" PRIu64, i);
        EXPECT_RC(store_record_get(t, id, &bytes, &len), 0, "record_get %" PRIu64, i);
        cry_sha256(got, bytes, len);
        EXPECT_HASH(got, recs[i].id, "bytes of seq %" PRIu64 " hash to the id", i);
    }
    EXPECT_RC(store_record_at(t, "mfr", n, id), TN_ERR_NOT_FOUND, "record_at past the end");
    EXPECT_RC(store_root(t, "mfr", n, got), 0, "store_root");
    EXPECT_HASH(got, root, "root of the committed records");
    store_txn_abort(t);
}

static void test_map_full(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR), saved;
    struct committed *recs = calloc(FULL_MAX, sizeof *recs);
    struct store_repo *ro = NULL;
    uint8_t buf[PROTO_RECORD_MAX], id[PROTO_ID_LEN], root[HL], got[HL];
    uint64_t n = 0; /* committed */
    char err[512], item[64];
    bool appended, full = false;
    int rc = 0;

    assert_non_null(recs);
    fx_open(f, UINT64_C(1) << 20, false, &f->repo);
    EXPECT_U64(store_map_size(f->repo), UINT64_C(1) << 20, "map size 1 MiB");

    /* Batches of 16 records; each batch commits or the map fills up. */
    while (!full) {
        struct store_txn *t = fx_begin(f->repo, true);
        uint64_t pending = n;
        saved = c;
        for (int i = 0; i < 16 && !full; i++) {
            size_t len;
            assert_true(pending < FULL_MAX);
            snprintf(item, sizeof item, "urn:test:full:%" PRIu64, pending);
            len = fx_commission(&c, item, buf);
            err[0] = '\0';
            rc = store_append(t, &f->eco, buf, len, NULL, 0, id, &appended, err, sizeof err);
            if (rc == TN_ERR_MAP_FULL) {
                print_message("append %" PRIu64 " returned TN_ERR_MAP_FULL (%s)\n", pending, err);
                full = true;
                break;
            }
            if (rc != 0)
                print_error("store_append: %s\n", err);
            EXPECT_RC(rc, 0, "append %" PRIu64, pending);
            assert_true(appended);
            memcpy(recs[pending].id, id, PROTO_ID_LEN);
            cry_merkle_leaf_hash(recs[pending].leaf, buf, len);
            fx_chain_next(&c, id);
            pending++;
        }
        if (full) {
            /* Contract: after TN_ERR_MAP_FULL the transaction must be aborted. */
            store_txn_abort(t);
            c = saved;
            break;
        }
        rc = store_txn_commit(t);
        if (rc == TN_ERR_MAP_FULL) {
            print_message("commit at %" PRIu64 " returned TN_ERR_MAP_FULL\n", pending);
            full = true;
            c = saved;
            break;
        }
        EXPECT_RC(rc, 0, "commit at %" PRIu64, pending);
        n = pending;
        t = fx_begin(f->repo, false);
        EXPECT_RC(store_root(t, "mfr", n, root), 0, "root after commit");
        store_txn_abort(t);
    }
    print_message("map full after %" PRIu64 " committed records\n", n);
    assert_true(n > 100); /* 1 MiB holds a few hundred small records */

    /* Same handle: everything committed is intact. */
    check_committed(f->repo, recs, n, root);

    /* The repository still opens (map size as recorded) and nothing was lost. */
    fx_reopen(f);
    EXPECT_U64(store_map_size(f->repo), UINT64_C(1) << 20, "map size after reopen");
    check_committed(f->repo, recs, n, root);

    /* A readonly handle opened now maps 1 MiB. */
    fx_open(f, 0, true, &ro);
    check_committed(ro, recs, n, root);

    /* With a larger map, appends work again and continue the same chain. */
    fx_close(f);
    fx_open(f, UINT64_C(8) << 20, false, &f->repo);
    EXPECT_U64(store_map_size(f->repo), UINT64_C(8) << 20, "map size after growing");
    {
        struct store_txn *t = fx_begin(f->repo, true);
        for (int i = 0; i < 200; i++) {
            size_t len;
            snprintf(item, sizeof item, "urn:test:full:%" PRIu64, n);
            len = fx_commission(&c, item, buf);
            fx_append_ok(t, f, buf, len, id);
            memcpy(recs[n].id, id, PROTO_ID_LEN);
            cry_merkle_leaf_hash(recs[n].leaf, buf, len);
            fx_chain_next(&c, id);
            n++;
        }
        fx_commit(t);
    }
    /* Root over all leaves, from the leaf hashes kept here. */
    {
        uint8_t(*leaves)[HL] = calloc(n, HL);
        struct cry_merkle_mem mem;
        struct cry_merkle_source src = {cry_merkle_mem_subtree, &mem};
        struct store_txn *t;
        assert_non_null(leaves);
        for (uint64_t i = 0; i < n; i++)
            memcpy(leaves[i], recs[i].leaf, HL);
        mem.leaves = (const uint8_t(*)[HL])leaves;
        mem.n = n;
        EXPECT_RC(cry_merkle_root(&src, n, root), 0, "mem root");
        t = fx_begin(f->repo, false);
        EXPECT_RC(store_root(t, "mfr", n, got), 0, "store_root after growing");
        store_txn_abort(t);
        EXPECT_HASH(got, root, "root after growing");
        free(leaves);
    }
    check_committed(f->repo, recs, n, root);
    /* The readonly handle still maps 1 MiB while the data now goes past it: beginning a
     * transaction adopts the new size (MDB_MAP_RESIZED) and sees everything. */
    check_committed(ro, recs, n, root);
    EXPECT_U64(store_map_size(ro), UINT64_C(8) << 20, "readonly handle adopted the new size");
    store_close(ro);
    free(recs);
}

/* --- durability ---------------------------------------------------------------------------- */

struct signed_rec {
    uint8_t bytes[512];
    size_t len;
    uint8_t id[PROTO_ID_LEN];
};

/* A child process commits 10 records, appends 5 more without committing and is killed
 * (SIGKILL) in the middle of that write transaction. The 10 are there, the 5 are not,
 * and the repository takes writes again. */
/* A process that exits inside a read transaction leaves its reader slot; the check frees
 * it (and only slots of processes that are gone). */
static void test_reader_check_frees_dead_readers(void **state)
{
    struct fx *f = *state;
    struct store_txn *mine;
    int status = 0, cleared = -1;
    pid_t pid;

    assert_int_equal(store_txn_begin(f->repo, false, &mine), 0); /* a live reader stays */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store_repo *repo;
        struct store_txn *t;
        char err[256];
        if (store_open(f->dir, FX_MAP_SIZE, true, &repo, err, sizeof err) != 0)
            _exit(10);
        if (store_txn_begin(repo, false, &t) != 0)
            _exit(11);
        _exit(0); /* as if killed: the read transaction is never ended */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(store_reader_check(f->repo, &cleared), 0);
    assert_int_equal(cleared, 1);
    assert_int_equal(store_reader_check(f->repo, &cleared), 0);
    assert_int_equal(cleared, 0);
    store_txn_abort(mine);
}

/* Resident KiB of this process's mappings of the repository's data.mdb (/proc/self/smaps). */
static long data_mapped_kb(void)
{
    char line[4352];
    long kb = 0, v;
    bool in = false;
    FILE *f = fopen("/proc/self/smaps", "r");

    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
            in = len >= 10 && strcmp(line + len - 10, "/data.mdb\n") == 0;
        else if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
            kb += v;
    }
    fclose(f);
    return kb;
}

static void test_release_map(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    static uint8_t ids[3000][PROTO_ID_LEN];
    static uint8_t copy[PROTO_RECORD_MAX];
    struct store_txn *t = fx_begin(f->repo, true);
    struct store_txn *r;
    long before, after;

    for (size_t i = 0; i < 3000; i++) {
        char item[64];
        snprintf(item, sizeof item, "urn:test:map.%zu", i);
        fx_add_commission(t, f, &c, item, ids[i]);
    }
    fx_commit(t);
    /* a reader that stays open across the release, as the node's loop thread may hold one */
    r = fx_begin(f->repo, false);
    for (size_t i = 0; i < 3000; i++) {
        const uint8_t *bytes;
        size_t len;
        assert_int_equal(store_record_get(r, ids[i], &bytes, &len), 0);
    }
    before = data_mapped_kb();
    assert_int_equal(store_release_map(f->repo), 0);
    after = data_mapped_kb();
    print_message("data.mdb mapped: %ld KiB after reading 3,000 records, %ld KiB after the "
                  "release\n", before, after);
    assert_true(before >= 256);
    assert_true(after < before / 8);
    /* the same reader reads on: every record comes back whole from the page cache */
    for (size_t i = 0; i < 3000; i++) {
        const uint8_t *bytes;
        size_t len;
        uint8_t id[PROTO_ID_LEN];
        assert_int_equal(store_record_get(r, ids[i], &bytes, &len), 0);
        assert_true(len <= sizeof copy);
        memcpy(copy, bytes, len);
        crypto_hash_sha256(id, copy, len);
        assert_memory_equal(id, ids[i], PROTO_ID_LEN);
    }
    store_txn_abort(r);
    t = fx_begin(f->repo, false);
    fx_expect_shard(t, "mfr", 3000, ids[2999]);
    store_txn_abort(t);
}

static void test_commit_survives_kill(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct signed_rec k[15];
    struct store_txn *t;
    uint8_t id[PROTO_ID_LEN];
    int status = 0;
    pid_t pid;

    for (int i = 0; i < 15; i++) {
        uint8_t buf[PROTO_RECORD_MAX];
        k[i].len = fx_commission(&c, "urn:test:kill", buf);
        assert_true(k[i].len <= sizeof k[i].bytes);
        memcpy(k[i].bytes, buf, k[i].len);
        crypto_hash_sha256(k[i].id, buf, k[i].len);
        fx_chain_next(&c, k[i].id);
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Child: plain checks and exit codes, no cmocka. */
        struct store_repo *repo;
        char err[256];
        bool app;
        if (store_open(f->dir, FX_MAP_SIZE, false, &repo, err, sizeof err) != 0)
            _exit(10);
        if (store_txn_begin(repo, true, &t) != 0)
            _exit(11);
        for (int i = 0; i < 10; i++)
            if (store_append(t, &f->eco, k[i].bytes, k[i].len, NULL, 0, id, &app, err,
                             sizeof err) != 0 ||
                !app)
                _exit(12);
        if (store_txn_commit(t) != 0)
            _exit(13);
        if (store_txn_begin(repo, true, &t) != 0)
            _exit(14);
        for (int i = 10; i < 15; i++)
            if (store_append(t, &f->eco, k[i].bytes, k[i].len, NULL, 0, id, &app, err,
                             sizeof err) != 0)
                _exit(15);
        raise(SIGKILL);
        _exit(16);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        print_error("child exited with %d instead of being killed\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    fx_open(f, 0, false, &f->repo);
    t = fx_begin(f->repo, false);
    fx_expect_shard(t, "mfr", 10, k[9].id);
    for (int i = 0; i < 15; i++)
        assert_true(store_has_record(t, k[i].id) == (i < 10));
    store_txn_abort(t);
    t = fx_begin(f->repo, true);
    for (int i = 10; i < 15; i++)
        fx_append_ok(t, f, k[i].bytes, k[i].len, id);
    fx_commit(t);
    t = fx_begin(f->repo, false);
    fx_expect_shard(t, "mfr", 15, k[14].id);
    store_txn_abort(t);
}

/* store_append in a read transaction fails and appends nothing. */
static void test_append_in_read_txn(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct store_txn *t;
    struct store_shard s;
    uint8_t buf[PROTO_RECORD_MAX], id[PROTO_ID_LEN];
    size_t len = fx_commission(&c, "urn:test:ro", buf);
    bool appended = true;
    char err[256] = "";

    t = fx_begin(f->repo, false);
    assert_int_not_equal(
        store_append(t, &f->eco, buf, len, NULL, 0, id, &appended, err, sizeof err), 0);
    assert_false(appended);
    store_txn_abort(t);
    t = fx_begin(f->repo, false);
    EXPECT_RC(store_shard_get(t, "mfr", &s), TN_ERR_NOT_FOUND, "no shard");
    store_txn_abort(t);
}

/* --- a readonly handle next to a writer -------------------------------------------------- */

static void test_readonly_sees_writer(void **state)
{
    struct fx *f = *state;
    struct fx_chain c = fx_chain_of(f, ORG_MFR);
    struct store_repo *ro = NULL;
    struct store_txn *w, *r, *old;
    uint8_t id1[PROTO_ID_LEN], id2[PROTO_ID_LEN], got[PROTO_ID_LEN];
    const uint8_t *val, *bytes;
    struct store_shard s;
    size_t len;

    w = fx_begin(f->repo, true);
    EXPECT_RC(store_meta_put(w, "seen", "1", 1), 0, "meta put");
    fx_add_commission(w, f, &c, "urn:test:ro", id1);
    fx_commit(w);

    /* The writer handle stays open; a readonly handle opens next to it. */
    fx_open(f, 0, true, &ro);
    r = fx_begin(ro, false);
    EXPECT_RC(store_meta_get(r, "seen", &val, &len), 0, "meta via readonly handle");
    fx_expect_shard(r, "mfr", 1, id1);
    EXPECT_RC(store_record_get(r, id1, &bytes, &len), 0, "record via readonly handle");
    store_txn_abort(r);

    /* A read transaction begun before the next commit keeps its snapshot... */
    old = fx_begin(ro, false);
    w = fx_begin(f->repo, true);
    fx_add_commission(w, f, &c, "urn:test:ro", id2);
    fx_commit(w);
    fx_expect_shard(old, "mfr", 1, id1);
    assert_false(store_has_record(old, id2));
    store_txn_abort(old);

    /* ...and a new one sees the commit. */
    r = fx_begin(ro, false);
    fx_expect_shard(r, "mfr", 2, id2);
    EXPECT_RC(store_record_at(r, "mfr", 1, got), 0, "record_at via readonly handle");
    EXPECT_HASH(got, id2, "second record via readonly handle");
    EXPECT_RC(store_item_last(r, "urn:test:ro", "mfr", got), 0, "item_last via readonly");
    EXPECT_HASH(got, id2, "item_last via readonly handle");
    store_txn_abort(r);

    /* Several read transactions at once on one handle (MDB_NOTLS). */
    r = fx_begin(ro, false);
    old = fx_begin(ro, false);
    EXPECT_RC(store_shard_get(r, "mfr", &s), 0, "shard_get r");
    EXPECT_RC(store_shard_get(old, "mfr", &s), 0, "shard_get old");
    store_txn_abort(old);
    store_txn_abort(r);
    store_close(ro);

    /* The writer is still fine after the readonly handle closed. */
    w = fx_begin(f->repo, true);
    fx_add_commission(w, f, &c, "urn:test:ro", id1);
    fx_commit(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_dir_and_reopens, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_readonly_missing, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_unknown_format, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_abort_discards, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_shard_each, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_shard_each_error_passthrough, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_map_full, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_survives_kill, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reader_check_frees_dead_readers, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_in_read_txn, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_release_map, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_readonly_sees_writer, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("storage/repo", tests, NULL, NULL);
}
