#include "storage/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define FORMAT_KEY "format"
#define FORMAT_VALUE "tracenode-store-v3"
/* Older formats, upgraded when a node opens the repository for writing: */
#define FORMAT_V1 "tracenode-store-v1" /* no MUD URL index */
#define FORMAT_V2 "tracenode-store-v2" /* Merkle nodes keyed by (shard, level, index) */

int store__err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return TN_ERR_NOT_FOUND;
    case MDB_KEYEXIST: return TN_ERR_EXISTS;
    case MDB_MAP_FULL: return TN_ERR_MAP_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_TXN:
        return TN_ERR_CORRUPT;
    case ENOMEM: return TN_ERR_NOMEM;
    default: return TN_ERR_IO;
    }
}

size_t store__text_key(uint8_t out[TEXT_KEY_MAX], const char *text)
{
    size_t n = strlen(text);

    if (n <= TEXT_KEY_INLINE) {
        out[0] = 0x00;
        memcpy(out + 1, text, n);
        return 1 + n;
    }
    out[0] = 0x01;
    cry_sha256(out + 1, (const uint8_t *)text, n);
    return 1 + CRY_HASH_LEN;
}

void store__put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void store__put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint32_t store__get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t store__get_be64(const uint8_t *p)
{
    return ((uint64_t)store__get_be32(p) << 32) | store__get_be32(p + 4);
}

static const struct {
    const char *name;
    size_t off;
    unsigned flags;
} dbs[] = {
    {"meta", offsetof(struct store_repo, meta), 0},
    {"shards", offsetof(struct store_repo, shards), 0},
    {"records", offsetof(struct store_repo, records), 0},
    {"ids", offsetof(struct store_repo, ids), 0},
    {"items", offsetof(struct store_repo, items), MDB_DUPSORT | MDB_DUPFIXED},
    {"consumers", offsetof(struct store_repo, consumers), MDB_DUPSORT | MDB_DUPFIXED},
    {"refs", offsetof(struct store_repo, refs), MDB_DUPSORT | MDB_DUPFIXED},
    {"eids", offsetof(struct store_repo, eids), 0},
    {"merkle", offsetof(struct store_repo, merkle), 0},
    {"checkpoints", offsetof(struct store_repo, checkpoints), 0},
    {"evidence", offsetof(struct store_repo, evidence), 0},
    {"secrets", offsetof(struct store_repo, secrets), 0},
    {"mud", offsetof(struct store_repo, mud), MDB_DUPSORT | MDB_DUPFIXED},
};

static bool format_is(const MDB_val *v, const char *want)
{
    return v->mv_size == strlen(want) && memcmp(v->mv_data, want, v->mv_size) == 0;
}

static bool format_old(const MDB_val *v)
{
    return format_is(v, FORMAT_V1) || format_is(v, FORMAT_V2);
}

/* Brings a v1 or v2 repository to the current format (upgrade.c). */
static int upgrade(struct store_repo *repo, MDB_txn *mtxn, const MDB_val *from, char *err,
                   size_t errlen)
{
    struct store_txn t = {.repo = repo, .txn = mtxn, .write = true};
    char was[32], why[400]; /* from points into the map, which the upgrade writes to */
    int rc;

    snprintf(was, sizeof was, "%.*s", (int)from->mv_size, (const char *)from->mv_data);
    if ((rc = store__upgrade(&t, format_is(from, FORMAT_V1), why, sizeof why)) != 0)
        snprintf(err, errlen, "cannot upgrade the repository from %s: %s", was, why);
    else
        snprintf(repo->upgraded_from, sizeof repo->upgraded_from, "%s", was);
    return rc;
}

static int open_dbs(struct store_repo *repo, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = {strlen(FORMAT_KEY), FORMAT_KEY}, v;
    int rc;

    if ((rc = mdb_txn_begin(repo->env, NULL, repo->readonly ? MDB_RDONLY : 0, &txn)) != 0) {
        snprintf(err, errlen, "cannot open repository: %s", mdb_strerror(rc));
        return store__err(rc);
    }
    if ((rc = mdb_dbi_open(txn, "meta", repo->readonly ? 0 : MDB_CREATE, &repo->meta)) == 0 &&
        mdb_get(txn, repo->meta, &k, &v) == 0 && format_old(&v) && repo->readonly) {
        snprintf(err, errlen, "the repository has format %.*s: " STORE_UPGRADE_WAY_OUT " to %s",
                 (int)v.mv_size, (const char *)v.mv_data, FORMAT_VALUE);
        mdb_txn_abort(txn);
        return TN_ERR_CORRUPT;
    }
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        MDB_dbi *dbi = (MDB_dbi *)((char *)repo + dbs[i].off);
        rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | (repo->readonly ? 0 : MDB_CREATE), dbi);
        if (rc != 0) {
            snprintf(err, errlen,
                     rc == MDB_NOTFOUND ? "no tracenode repository here (database '%s' missing)"
                                        : "cannot open database '%s': %s",
                     dbs[i].name, mdb_strerror(rc));
            mdb_txn_abort(txn);
            return store__err(rc);
        }
    }
    rc = mdb_get(txn, repo->meta, &k, &v);
    if (rc == 0 && format_old(&v) && !repo->readonly) {
        if ((rc = upgrade(repo, txn, &v, err, errlen)) != 0) {
            mdb_txn_abort(txn);
            return rc;
        }
        rc = MDB_NOTFOUND; /* write the new format below */
    }
    if (rc == MDB_NOTFOUND && !repo->readonly) {
        v.mv_size = strlen(FORMAT_VALUE);
        v.mv_data = FORMAT_VALUE;
        rc = mdb_put(txn, repo->meta, &k, &v, 0);
    } else if (rc == 0 && !format_is(&v, FORMAT_VALUE)) {
        snprintf(err, errlen, "repository has an unknown format (%.*s)", (int)v.mv_size,
                 (const char *)v.mv_data);
        mdb_txn_abort(txn);
        return TN_ERR_CORRUPT;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot read repository format: %s", mdb_strerror(rc));
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? TN_ERR_NOT_FOUND : store__err(rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        snprintf(err, errlen, "cannot initialise repository: %s", mdb_strerror(rc));
        return store__err(rc);
    }
    return 0;
}

const char *store_upgraded_from(const struct store_repo *repo)
{
    return repo->upgraded_from[0] ? repo->upgraded_from : NULL;
}

int store_open(const char *dir, uint64_t map_size, bool readonly, struct store_repo **out,
               char *err, size_t errlen)
{
    struct store_repo *repo = calloc(1, sizeof *repo);
    struct stat st;
    int rc;

    *out = NULL;
    if (!repo)
        return TN_ERR_NOMEM;
    repo->readonly = readonly;
    pthread_mutex_init(&repo->map_mu, NULL);
    if (stat(dir, &st) != 0) {
        if (readonly || errno != ENOENT || mkdir(dir, 0700) != 0) {
            snprintf(err, errlen, "no repository at %s: %s", dir, strerror(errno));
            free(repo);
            return errno == ENOENT ? TN_ERR_NOT_FOUND : TN_ERR_IO;
        }
    }
    if ((rc = mdb_env_create(&repo->env)) != 0)
        goto lmdb_fail;
    if ((rc = mdb_env_set_maxdbs(repo->env, 16)) != 0)
        goto lmdb_fail;
    if (map_size && (rc = mdb_env_set_mapsize(repo->env, (size_t)map_size)) != 0)
        goto lmdb_fail;
    /* MDB_NOTLS: read transactions are not tied to threads, so the event loop and the
     * thread pool can each hold one. Durability: default sync mode (fsync at commit). */
    rc = mdb_env_open(repo->env, dir, MDB_NOTLS | (readonly ? MDB_RDONLY : 0), 0600);
    if (rc != 0) {
        snprintf(err, errlen, "cannot open repository %s: %s", dir,
                 rc == ENOENT ? "no repository there" : mdb_strerror(rc));
        mdb_env_close(repo->env);
        free(repo);
        return rc == ENOENT ? TN_ERR_NOT_FOUND : store__err(rc);
    }
    if ((rc = open_dbs(repo, err, errlen)) != 0) {
        mdb_env_close(repo->env);
        free(repo);
        return rc;
    }
    *out = repo;
    return 0;
lmdb_fail:
    snprintf(err, errlen, "cannot set up LMDB: %s", mdb_strerror(rc));
    if (repo->env)
        mdb_env_close(repo->env);
    free(repo);
    return store__err(rc);
}

void store_close(struct store_repo *repo)
{
    if (!repo)
        return;
    mdb_env_close(repo->env);
    pthread_mutex_destroy(&repo->map_mu);
    free(repo);
}

int store_reader_check(struct store_repo *repo, int *cleared)
{
    *cleared = 0;
    return store__err(mdb_reader_check(repo->env, cleared));
}

/* An address inside LMDB's map: where a read transaction finds the first meta value (the
 * repository always has some). 0 if there is none. */
static uintptr_t map_address(struct store_repo *repo)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uintptr_t at = 0;

    if (mdb_txn_begin(repo->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, repo->meta, &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0)
            at = (uintptr_t)v.mv_data;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return at;
}

int store_release_map(struct store_repo *repo)
{
    char line[512];
    bool line_start = true, found = false;
    uintptr_t at;
    FILE *maps;
    int rc = 0;

    if (!(maps = fopen("/proc/self/maps", "r")))
        return TN_ERR_IO;
    /* LMDB does not say where its map is (mdb_env_info's me_mapaddr is only set with
     * MDB_FIXEDMAP): the mapping that holds a value it returned is the map. */
    pthread_mutex_lock(&repo->map_mu);
    at = map_address(repo);
    while (at && !found && fgets(line, sizeof line, maps)) {
        bool head = line_start;
        unsigned long lo, hi;
        line_start = strchr(line, '\n') != NULL; /* a longer line goes on in the next read */
        if (!head || sscanf(line, "%lx-%lx ", &lo, &hi) != 2 || at < lo || at >= hi)
            continue;
        found = true;
        /* LMDB maps the file read-only and shared (no MDB_WRITEMAP) and writes with
         * pwrite: the page cache holds every byte, so dropping our mappings loses nothing.
         * A reader on another thread faults its page back in from the cache. */
        if (madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
            rc = TN_ERR_IO;
    }
    pthread_mutex_unlock(&repo->map_mu);
    fclose(maps);
    return rc != 0 ? rc : found ? 0 : TN_ERR_NOT_FOUND;
}

uint64_t store_map_size(const struct store_repo *repo)
{
    MDB_envinfo info;

    if (mdb_env_info(repo->env, &info) != 0)
        return 0;
    return info.me_mapsize;
}

int store_txn_begin(struct store_repo *repo, bool write, struct store_txn **out)
{
    struct store_txn *t = calloc(1, sizeof *t);
    int rc;

    *out = NULL;
    if (!t)
        return TN_ERR_NOMEM;
    if (write && repo->readonly) {
        free(t);
        return TN_ERR_INVALID;
    }
    rc = mdb_txn_begin(repo->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc == MDB_MAP_RESIZED) { /* another process grew the map: adopt its size */
        pthread_mutex_lock(&repo->map_mu);
        mdb_env_set_mapsize(repo->env, 0);
        pthread_mutex_unlock(&repo->map_mu);
        rc = mdb_txn_begin(repo->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    }
    if (rc != 0) {
        free(t);
        return store__err(rc);
    }
    t->repo = repo;
    t->write = write;
    *out = t;
    return 0;
}

int store_txn_commit(struct store_txn *txn)
{
    int rc = mdb_txn_commit(txn->txn);

    free(txn);
    return store__err(rc);
}

void store_txn_abort(struct store_txn *txn)
{
    if (!txn)
        return;
    mdb_txn_abort(txn->txn);
    free(txn);
}

int store_meta_get(struct store_txn *txn, const char *key, const uint8_t **val, size_t *len)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn->txn, txn->repo->meta, &k, &v);

    if (rc != 0)
        return store__err(rc);
    *val = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int store_meta_put(struct store_txn *txn, const char *key, const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

    return store__err(mdb_put(txn->txn, txn->repo->meta, &k, &v, 0));
}
