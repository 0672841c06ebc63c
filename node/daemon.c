/* Start-up checks, the event loop, and clean shutdown of tracenode. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/encode.h"
#include "node/daemon.h"
#include "node/gossip.h"
#include "node/log.h"
#include "node/peer.h"

static int prepare_data_dir(struct node *n)
{
    struct stat st;

    if (mkdir(n->paths.dir, 0700) != 0 && errno != EEXIST) {
        node_error("cannot create data dir %s: %s", n->paths.dir, strerror(errno));
        return 4;
    }
    if (stat(n->paths.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        node_error("data dir %s is not a directory", n->paths.dir);
        return 2;
    }
    if ((st.st_mode & 077) && chmod(n->paths.dir, 0700) == 0)
        node_warn("data dir %s was accessible by other users; set it to 0700", n->paths.dir);
    n->lock_fd = open(n->paths.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (n->lock_fd < 0) {
        node_error("cannot open %s: %s", n->paths.lock, strerror(errno));
        return 4;
    }
    if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        node_error("another tracenode is already running on %s", n->paths.dir);
        return 2;
    }
    return 0;
}

static int load_identity(struct node *n, struct proto_ecosystem *file_eco)
{
    const struct node_config *cfg = n->cfg;
    char err[512];
    int rc;

    if (cry_keyfile_read(cfg->org_key_path, &n->org_key, err, sizeof err) != 0 ||
        cry_keyfile_read(cfg->node_key_path, &n->node_key, err, sizeof err) != 0) {
        node_error("%s", err);
        return 2;
    }
    if ((rc = proto_ecosystem_load(cfg->ecosystem_path, true, file_eco, &n->eco_raw,
                                   &n->eco_raw_len, err, sizeof err)) != 0) {
        node_error("%s: %s", cfg->ecosystem_path, err);
        return rc == TN_ERR_IO ? 4 : 2;
    }
    return 0;
}

/* That the org exists, --org-key is its current key and --node-key one of its nodes. */
static int check_identity(struct node *n, const struct proto_ecosystem *eco)
{
    const struct node_config *cfg = n->cfg;
    const struct proto_org *self = proto_ecosystem_org(eco, cfg->org);

    if (!self || strcmp(cfg->org, PROTO_GOV_ORG) == 0) {
        node_error("--org %s is not a member of the ecosystem", cfg->org);
        return 2;
    }
    if (memcmp(self->key, n->org_key.pk, CRY_PK_LEN) != 0) {
        node_error("--org-key is not org %s's signing key in the ecosystem", cfg->org);
        return 2;
    }
    if (memcmp(n->org_key.pk, n->node_key.pk, CRY_PK_LEN) == 0) {
        node_error("--node-key must differ from --org-key (node keys authenticate transport, "
                   "org keys sign records)");
        return 2;
    }
    if (self->n_nodes > 0) {
        bool listed = false;
        for (size_t i = 0; i < self->n_nodes; i++)
            listed |= memcmp(self->nodes[i].key, n->node_key.pk, CRY_PK_LEN) == 0;
        if (!listed) {
            node_error("--node-key is not listed among org %s's nodes in the ecosystem",
                       cfg->org);
            return 2;
        }
    }
    return 0;
}

/* --- the effective ecosystem ---------------------------------------------------------
 * The ecosystem file plus the governance shard. Every governance record appended makes a
 * new snapshot; readers on any thread take the current one with node_eco() and may keep
 * using it, because snapshots are only freed when the node stops. */

struct eco_snapshot {
    struct proto_ecosystem eco;
    struct eco_snapshot *older;
};

const struct proto_ecosystem *node_eco(struct node *n)
{
    struct eco_snapshot *s = __atomic_load_n(&n->eco_current, __ATOMIC_ACQUIRE);
    return &s->eco;
}

static void warn_gov(const char *why)
{
    node_warn("governance record without effect: %s", why);
}

int node_eco_reload(struct node *n)
{
    struct eco_snapshot *s = calloc(1, sizeof *s);
    struct store_txn *txn;
    char err[512];
    int rc;

    if (!s)
        return TN_ERR_NOMEM;
    if ((rc = store_txn_begin(n->repo, false, &txn)) != 0) {
        free(s);
        return rc;
    }
    rc = store_ecosystem_load(txn, n->eco_raw, n->eco_raw_len, &s->eco, warn_gov, err,
                              sizeof err);
    store_txn_abort(txn);
    if (rc != 0) {
        node_error("cannot build the ecosystem: %s", err);
        free(s);
        return rc;
    }
    s->older = n->eco_current;
    __atomic_store_n(&n->eco_current, s, __ATOMIC_RELEASE);
    return 0;
}

static void eco_free_all(struct node *n)
{
    struct eco_snapshot *s = n->eco_current, *older;

    for (; s; s = older) {
        older = s->older;
        proto_ecosystem_release(&s->eco);
        free(s);
    }
    n->eco_current = NULL;
}

/* The first start pins org, network and governance key in the repository; later starts
 * must agree, so a data dir cannot silently change hands or networks. */
static int pin_identity(struct node *n, const struct proto_ecosystem *file_eco)
{
    static const char *const keys[] = {NODE_META_ORG, NODE_META_NETWORK};
    const char *vals[] = {n->cfg->org, file_eco->network};
    struct store_txn *txn;
    const uint8_t *v;
    size_t len;
    int rc;

    if ((rc = store_txn_begin(n->repo, true, &txn)) != 0)
        goto io;
    for (int i = 0; i < 2; i++) {
        rc = store_meta_get(txn, keys[i], &v, &len);
        if (rc == 0 && (len != strlen(vals[i]) || memcmp(v, vals[i], len) != 0)) {
            node_error("data dir %s belongs to %s '%.*s', not '%s'", n->paths.dir,
                       i == 0 ? "org" : "network", (int)len, (const char *)v, vals[i]);
            store_txn_abort(txn);
            return 2;
        }
        if (rc == TN_ERR_NOT_FOUND)
            rc = store_meta_put(txn, keys[i], vals[i], strlen(vals[i]));
        if (rc != 0)
            goto io_abort;
    }
    rc = store_meta_get(txn, NODE_META_GOV_KEY, &v, &len);
    if (rc == 0 && (len != CRY_PK_LEN || memcmp(v, file_eco->gov_key, CRY_PK_LEN) != 0)) {
        node_error("the ecosystem's governance key differs from the one this node was first "
                   "started with; refusing it");
        store_txn_abort(txn);
        return 2;
    }
    if (rc == TN_ERR_NOT_FOUND)
        rc = store_meta_put(txn, NODE_META_GOV_KEY, file_eco->gov_key, CRY_PK_LEN);
    if (rc != 0)
        goto io_abort;
    /* Keep the exact, verified ecosystem file for offline tools (tracectl reads it). */
    if ((rc = store_meta_put(txn, NODE_META_ECOSYSTEM, n->eco_raw, n->eco_raw_len)) != 0)
        goto io_abort;
    if ((rc = store_txn_commit(txn)) != 0)
        goto io;
    return 0;
io_abort:
    store_txn_abort(txn);
io:
    node_error("cannot initialise the repository: %s%s", tn_strerror(rc),
               rc == TN_ERR_MAP_FULL ? " (use a larger --map-size)" : "");
    return 4;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

#define READER_CHECK_MS 30000

/* A tracectl killed inside a read transaction leaves its reader slot behind, and LMDB keeps
 * every page that transaction could see until the slot is freed: without this, the data
 * file would grow until the node restarts. */
static void check_readers(struct node *n)
{
    int cleared = 0;

    if (store_reader_check(n->repo, &cleared) != 0)
        node_warn("cannot check the repository's reader table");
    else if (cleared > 0)
        node_info("freed %d read transaction%s left by processes that exited", cleared,
                  cleared == 1 ? "" : "s");
}

static void on_readers_timer(uv_timer_t *t)
{
    check_readers(t->data);
}

#define TRIM_MS 1000
#define TRIM_SLACK_KB (32 * 1024) /* file pages mapped beyond the last trim's before another */

/* File-backed pages this process maps (RssFile + RssShmem, /proc/self/statm's third
 * field), in KiB; -1 if unreadable. */
static long mapped_kb(void)
{
    long size, resident, shared = -1;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld %ld", &size, &resident, &shared) != 3)
        shared = -1;
    fclose(f);
    return shared < 0 ? -1 : shared * (sysconf(_SC_PAGESIZE) / 1024);
}

/* LMDB reads the data file through a map, so every page the node reads or rewrites stays
 * mapped and counts in its resident memory: after a large load, the whole file. Whenever
 * the node maps TRIM_SLACK_KB more than after the last trim (a load, reads serving a peer),
 * it drops those mappings: the pages stay in the page cache, shared and reclaimable, and
 * the next read maps them again (a minor fault), so this is safe mid-commit too. Once the
 * writer has been idle for a whole tick after working, it also gives freed heap back. */
static void on_trim_timer(uv_timer_t *t)
{
    struct node *n = t->data;
    uint64_t rounds = node_writer_rounds(n->writer);
    bool quiet = rounds == n->trim_rounds && !node_writer_busy(n->writer);
    long mapped = mapped_kb();

    if (rounds != n->trim_rounds)
        n->trim_due = true;
    n->trim_rounds = rounds;
    if (mapped >= 0 && (mapped > n->mapped_base_kb + TRIM_SLACK_KB || (quiet && n->trim_due))) {
        int rc = store_release_map(n->repo);
        /* NOT_FOUND can be passing (LMDB's reader table full for a moment): say nothing */
        if (rc != 0 && rc != TN_ERR_NOT_FOUND && !n->trim_warned) {
            node_warn("cannot release the repository's mapped pages (%s); the node's "
                      "resident memory will include the data file's pages it has read",
                      tn_strerror(rc));
            n->trim_warned = true;
        }
        if ((mapped = mapped_kb()) >= 0)
            n->mapped_base_kb = mapped; /* what stays mapped (libraries) is not counted again */
    }
    if (quiet && n->trim_due) {
        n->trim_due = false;
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
}

/* Closes every handle so that uv_run returns: on a signal, or when the start failed. */
static void shut_down(struct node *n)
{
    if (n->stopping)
        return;
    n->stopping = true;
    node_api_stop(n);
    node_net_stop(n);
    node_writer_stop(n->writer);
    n->writer = NULL;
    uv_close((uv_handle_t *)&n->sigint, on_closed);
    uv_close((uv_handle_t *)&n->sigterm, on_closed);
    uv_close((uv_handle_t *)&n->readers, on_closed);
    uv_close((uv_handle_t *)&n->trim, on_closed);
    /* The write in progress finished inside node_writer_stop; nothing new can arrive. */
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct node *n = sig->data;

    if (n->stopping)
        return;
    node_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    shut_down(n);
}

int node_run(const struct node_config *cfg)
{
    struct proto_ecosystem file_eco = {0};
    struct node n;
    char err[512];
    int code, rc;

    memset(&n, 0, sizeof n);
    n.cfg = cfg;
    n.lock_fd = -1;
    if (node_paths_init(&n.paths, cfg->data_dir, err, sizeof err) != 0) {
        node_error("%s", err);
        return 2;
    }
    if (cry_init() != 0) {
        node_error("libsodium failed to initialise");
        return 4;
    }
    if ((code = load_identity(&n, &file_eco)) != 0)
        goto out;
    /* A first start that would be refused creates nothing: check against the file. */
    if (access(n.paths.db, F_OK) != 0 && (code = check_identity(&n, &file_eco)) != 0)
        goto out;
    if ((code = prepare_data_dir(&n)) != 0)
        goto out;
    if ((rc = store_open(n.paths.db, cfg->map_size ? cfg->map_size : STORE_DEFAULT_MAP_SIZE,
                         false, &n.repo, err, sizeof err)) != 0) {
        node_error("%s", err);
        code = 4;
        goto out;
    }
    if (store_upgraded_from(n.repo))
        node_info("upgraded the repository from %s to the current format",
                  store_upgraded_from(n.repo));
    if ((code = pin_identity(&n, &file_eco)) != 0)
        goto out;
    if (node_eco_reload(&n) != 0) {
        code = 4;
        goto out;
    }
    if ((code = check_identity(&n, node_eco(&n))) != 0)
        goto out;
    n.self = proto_ecosystem_org(node_eco(&n), cfg->org);

    signal(SIGPIPE, SIG_IGN);
    n.loop = uv_default_loop();
    uv_signal_init(n.loop, &n.sigint);
    uv_signal_init(n.loop, &n.sigterm);
    n.sigint.data = n.sigterm.data = &n;
    uv_signal_start(&n.sigint, on_signal, SIGINT);
    uv_signal_start(&n.sigterm, on_signal, SIGTERM);
    check_readers(&n);
    uv_timer_init(n.loop, &n.readers);
    n.readers.data = &n;
    uv_timer_start(&n.readers, on_readers_timer, READER_CHECK_MS, READER_CHECK_MS);
    n.mapped_base_kb = mapped_kb();
    uv_timer_init(n.loop, &n.trim);
    n.trim.data = &n;
    uv_timer_start(&n.trim, on_trim_timer, TRIM_MS, TRIM_MS);
    if (node_writer_new(&n, &n.writer) != 0 || node_api_start(&n) != 0 ||
        node_net_start(&n) != 0) {
        code = 4;
        node_info("could not start; shutting down");
        shut_down(&n);
        uv_run(n.loop, UV_RUN_DEFAULT);
        goto out;
    }
    {
        char pk[CRY_PK_TEXT_LEN];
        cry_pk_format(pk, n.node_key.pk);
        node_info("tracenode started: org %s, network %s, node key %s, data %s, api %s, "
                  "map size %llu bytes",
                  n.self->id, node_eco(&n)->network, pk, n.paths.dir, n.paths.sock,
                  (unsigned long long)store_map_size(n.repo));
    }
    uv_run(n.loop, UV_RUN_DEFAULT);
    code = 0;
    node_info("tracenode stopped cleanly");
out:
    if (n.loop) {
        uv_loop_close(n.loop);
        node_api_free(&n);
        node_net_free(&n);
        gossip_free(&n);
    }
    node_writer_stop(n.writer);
    store_close(n.repo);
    eco_free_all(&n);
    if (file_eco.network)
        proto_ecosystem_release(&file_eco);
    free(n.eco_raw);
    cry_keypair_release(&n.org_key);
    cry_keypair_release(&n.node_key);
    if (n.lock_fd >= 0)
        close(n.lock_fd);
    return code;
}
