/* bench_append: N events through the local API of a real tracenode, each signed and
 * durably committed, next to the two ceilings measured in the same run: Ed25519 signing
 * alone and synced, batched LMDB puts alone. Prints medians of several runs; never fails
 * on a slow machine (exit 0 unless something is broken).
 *
 *   bench_append [--events N] [--runs R] [--tracenode PATH]
 */
#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/key.h"
#include "node/api_client.h"
#include "proto/ecosystem.h"

#define WINDOW 4
#define BATCH 1024

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_append: %s\n", what);
    exit(1);
}

/* Ceiling 1: Ed25519 signatures of record-sized messages, one core. */
static double sign_rate(size_t n)
{
    struct cry_keypair kp;
    uint8_t msg[300] = {0}, sig[64];
    double t;

    if (cry_keypair_generate(&kp) != 0)
        die("keygen");
    t = now();
    for (size_t i = 0; i < n; i++) {
        memcpy(msg, &i, sizeof i);
        cry_sign(sig, msg, sizeof msg, &kp);
    }
    t = now() - t;
    cry_keypair_release(&kp);
    return (double)n / t;
}

/* Ceiling 2: LMDB puts of 300-byte values under sequential keys (as records are
 * stored), committed with fsync every 1,000 puts. */
static double lmdb_rate(const char *dir, size_t n)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    uint8_t val[300] = {0};
    double t;

    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)1 << 30) ||
        mdb_env_open(env, dir, 0, 0600))
        die("lmdb open");
    t = now();
    for (size_t i = 0; i < n;) {
        if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
            die("lmdb txn");
        for (size_t j = 0; j < 1000 && i < n; j++, i++) {
            uint64_t key = __builtin_bswap64(i);
            MDB_val k = {sizeof key, &key}, v = {sizeof val, val};
            memcpy(val, &i, sizeof i);
            if (mdb_put(txn, dbi, &k, &v, 0))
                die("lmdb put");
        }
        if (mdb_txn_commit(txn))
            die("lmdb commit");
    }
    t = now() - t;
    mdb_env_close(env);
    return (double)n / t;
}

static void keyfile(const char *dir, const char *name, uint8_t pk[32])
{
    char path[512];
    struct cry_keypair kp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (cry_keypair_generate(&kp) || cry_keyfile_write(path, &kp))
        die("key file");
    memcpy(pk, kp.pk, 32);
    cry_keypair_release(&kp);
}

static void make_ecosystem(const char *dir)
{
    uint8_t gov[32], org[32], node[32];
    struct cry_keypair gk;
    char path[512], err[256];
    json_t *doc;

    keyfile(dir, "gov.key", gov);
    keyfile(dir, "org.key", org);
    keyfile(dir, "node.key", node);
    snprintf(path, sizeof path, "%s/gov.key", dir);
    if (cry_keyfile_read(path, &gk, err, sizeof err))
        die(err);
    doc = proto_ecosystem_doc_new("bench", gov);
    if (proto_ecosystem_doc_add_org(doc, "maker", "Maker Inc", org, "manufacturer", node,
                                    "127.0.0.1:7999", err, sizeof err) ||
        proto_ecosystem_doc_sign(doc, &gk, err, sizeof err))
        die(err);
    snprintf(path, sizeof path, "%s/eco.json", dir);
    if (proto_ecosystem_doc_write(path, doc, err, sizeof err))
        die(err);
    json_decref(doc);
    cry_keypair_release(&gk);
}

static pid_t start_node(const char *bin, const char *dir, const char *data)
{
    char eco[512], ok[512], nk[512], logp[512];
    pid_t pid;

    snprintf(eco, sizeof eco, "%s/eco.json", dir);
    snprintf(ok, sizeof ok, "%s/org.key", dir);
    snprintf(nk, sizeof nk, "%s/node.key", dir);
    snprintf(logp, sizeof logp, "%s/node.log", dir);
    if ((pid = fork()) == 0) {
        if (!freopen(logp, "a", stderr))
            _exit(127);
        execl(bin, bin, "--data", data, "--ecosystem", eco, "--org", "maker", "--org-key", ok,
              "--node-key", nk, "--listen", "127.0.0.1:7999", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop_node(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
}

static int connect_wait(struct api_client *c, const char *sock)
{
    char err[256];
    for (int i = 0; i < 2000; i++) { /* up to 20 s for the node to come up */
        if (api_client_connect(c, sock, err, sizeof err) == 0)
            return 0;
        usleep(10000);
    }
    return -1;
}

/* One run: a fresh node and data dir, n events, seconds from first send to last ack. */
static double api_run(const char *bin, const char *dir, const struct api_event *ev, size_t n,
                      int run)
{
    char data[512], sock[600], err[256];
    struct api_client c;
    size_t sent = 0, acked = 0, inflight = 0;
    pid_t pid;
    double t;

    snprintf(data, sizeof data, "%s/data%d", dir, run);
    snprintf(sock, sizeof sock, "%s/api.sock", data);
    pid = start_node(bin, dir, data);
    if (connect_wait(&c, sock) != 0)
        die("tracenode did not start (see node.log)");
    t = now();
    while (acked < n) {
        struct proto_msg m;
        while (inflight < WINDOW && sent < n) {
            size_t k = n - sent < BATCH ? n - sent : BATCH;
            if (api_client_send_submit(&c, ev + sent, k))
                die("send");
            sent += k;
            inflight++;
        }
        if (api_client_recv(&c, &m, err, sizeof err) || m.type != PROTO_API_OK ||
            m.body->type != MSGPACK_OBJECT_ARRAY)
            die("submit failed");
        acked += m.body->via.array.size;
        inflight--;
        proto_msg_release(&m);
    }
    t = now() - t;
    api_client_close(&c);
    stop_node(pid);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    int runs = 3;
    const char *bin = getenv("TN_TRACENODE");
    char dir[] = "/tmp/tn-bench-XXXXXX", cmd[600], sub[600];
    double sig[16], db[16], api[16];
    struct api_event *ev;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--events") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--tracenode") == 0)
            bin = argv[i + 1];
    }
    if (runs < 1 || runs > 16 || n == 0)
        die("bad --runs or --events");
    if (!bin)
        die("give --tracenode PATH (or TN_TRACENODE)");
    if (cry_init() || !mkdtemp(dir))
        die("setup");
    make_ecosystem(dir);
    if (!(ev = calloc(n, sizeof *ev)))
        die("memory");
    for (size_t i = 0; i < n; i++) {
        char *text = malloc(256);
        if (!text)
            die("memory");
        ev[i].len = (size_t)snprintf(text, 256,
                 "{\"type\":\"commission\",\"outputs\":[\"urn:epc:id:sgtin:0614141.107346.%zu\"],"
                 "\"attrs\":{\"lot\":\"L%zu\",\"model\":\"lightbulb2000\"}}",
                 i, i / 1000);
        ev[i].text = text;
    }
    /* Interleave the three measurements so load changes hit them alike. */
    for (int r = 0; r < runs; r++) {
        snprintf(sub, sizeof sub, "%s/lmdb%d", dir, r);
        mkdir(sub, 0700);
        sig[r] = sign_rate(n / 4 < 20000 ? 20000 : n / 4);
        db[r] = lmdb_rate(sub, n);
        api[r] = api_run(bin, dir, ev, n, r);
        fprintf(stderr, "run %d: sign %.0f/s, lmdb %.0f puts/s, api %.0f records/s\n", r + 1,
                sig[r], db[r], api[r]);
    }
    double ms = median(sig, runs), md = median(db, runs), ma = median(api, runs);
    printf("bench_append: %zu events, median of %d runs (2-core machine figures vary +-30%%)\n",
           n, runs);
    printf("  ceiling: Ed25519 sign alone                 %9.0f signatures/s\n", ms);
    printf("  ceiling: LMDB synced puts, batches of 1000  %9.0f puts/s\n", md);
    printf("  tracenode append via API (signed, durable)  %9.0f records/s  (%.0f%% of sign)\n",
           ma, 100 * ma / ms);
    printf("{\"bench\":\"append\",\"events\":%zu,\"runs\":%d,\"sign_per_s\":%.0f,"
           "\"lmdb_puts_per_s\":%.0f,\"records_per_s\":%.0f}\n",
           n, runs, ms, md, ma);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    for (size_t i = 0; i < n; i++)
        free((char *)ev[i].text);
    free(ev);
    return 0;
}
