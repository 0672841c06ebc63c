/* bench_append: N events through the local API of a real tracenode, each signed and
 * durably committed, next to the ceilings measured in the same run: Ed25519 signing alone,
 * synced, batched LMDB puts alone, and SHA-256 (of record-sized messages and of 64 KiB
 * blocks). Prints medians of several runs; never fails
 * on a slow machine (exit 0 unless something is broken).
 *
 *   bench_append [--events N] [--runs R] [--port P] [--tracenode PATH]
 *
 * The events are bench_node.h's standard ones (records of about 300 bytes). The last line
 * of output is the figures as one JSON object (tests/bench/compare reads it).
 */
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_node.h"
#include "crypto/key.h"

#define WINDOW 8 /* requests in flight, as tracectl submit keeps them */
#define BATCH 1024

/* Ceiling 1: Ed25519 signatures of record-sized messages, one core. */
static double sign_rate(size_t n)
{
    struct cry_keypair kp;
    uint8_t msg[300] = {0}, sig[64];
    double t;

    if (cry_keypair_generate(&kp) != 0)
        bench_die("keygen");
    t = bench_now();
    for (size_t i = 0; i < n; i++) {
        memcpy(msg, &i, sizeof i);
        cry_sign(sig, msg, sizeof msg, &kp);
    }
    t = bench_now() - t;
    cry_keypair_release(&kp);
    return (double)n / t;
}

/* Ceiling 3: SHA-256 (libsodium's, as tracenode uses it for record ids and Merkle leaves)
 * in MB/s, over messages of msg_len bytes, for about `bytes` bytes in all. */
static double sha256_mb_per_s(size_t msg_len, size_t bytes)
{
    uint8_t *msg = calloc(1, msg_len), out[CRY_HASH_LEN];
    size_t n = bytes / msg_len;
    double t;

    if (!msg)
        bench_die("memory");
    t = bench_now();
    for (size_t i = 0; i < n; i++) {
        memcpy(msg, &i, sizeof i); /* a different message each time, as records are */
        cry_sha256(out, msg, msg_len);
    }
    t = bench_now() - t;
    free(msg);
    return (double)(n * msg_len) / t / 1e6;
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
        bench_die("lmdb open");
    t = bench_now();
    for (size_t i = 0; i < n;) {
        if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
            bench_die("lmdb txn");
        for (size_t j = 0; j < 1000 && i < n; j++, i++) {
            uint64_t key = __builtin_bswap64(i);
            MDB_val k = {sizeof key, &key}, v = {sizeof val, val};
            memcpy(val, &i, sizeof i);
            if (mdb_put(txn, dbi, &k, &v, 0))
                bench_die("lmdb put");
        }
        if (mdb_txn_commit(txn))
            bench_die("lmdb commit");
    }
    t = bench_now() - t;
    mdb_env_close(env);
    return (double)n / t;
}

/* One run: a fresh node and data dir, n events, seconds from first send to last ack. */
static double api_run(const char *bin, const char *dir, unsigned port, const struct api_event *ev,
                      size_t n, int run)
{
    char data[512], err[256];
    struct api_client c;
    size_t sent = 0, acked = 0, inflight = 0;
    pid_t pid;
    double t;

    snprintf(data, sizeof data, "%s/data%d", dir, run);
    pid = bench_node_start(bin, dir, data, port);
    if (bench_node_connect(&c, data) != 0)
        bench_die("tracenode did not start (see node.log)");
    t = bench_now();
    while (acked < n) {
        struct proto_msg m;
        while (inflight < WINDOW && sent < n) {
            size_t k = n - sent < BATCH ? n - sent : BATCH;
            if (api_client_send_submit(&c, ev + sent, k))
                bench_die("send");
            sent += k;
            inflight++;
        }
        if (api_client_recv(&c, &m, err, sizeof err) || m.type != PROTO_API_OK ||
            m.body->type != MSGPACK_OBJECT_ARRAY)
            bench_die("submit failed");
        acked += m.body->via.array.size;
        inflight--;
        proto_msg_release(&m);
    }
    t = bench_now() - t;
    api_client_close(&c);
    bench_node_stop(pid);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    int runs = 3;
    unsigned port = 7999;
    const char *bin = getenv("TN_TRACENODE");
    char dir[] = "/tmp/tn-bench-XXXXXX", cmd[600], sub[600];
    double sig[16], db[16], api[16], sha_rec[16], sha_bulk[16], share[16];
    struct api_event *ev;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--events") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--tracenode") == 0)
            bin = argv[i + 1];
    }
    if (runs < 1 || runs > 16 || n == 0 || port == 0 || port > 65535)
        bench_die("bad --runs, --events or --port");
    if (!bin)
        bench_die("give --tracenode PATH (or TN_TRACENODE)");
    if (cry_init() || !mkdtemp(dir))
        bench_die("setup");
    bench_ecosystem_one(dir, port);
    /* made before the clock starts: the figure is the node's, not snprintf's */
    if (!(ev = calloc(n, sizeof *ev)))
        bench_die("memory");
    for (size_t i = 0; i < n; i++) {
        char *text = malloc(256);
        if (!text)
            bench_die("memory");
        ev[i].len = bench_event_text(text, 256, i);
        ev[i].text = text;
    }
    /* Interleave the three measurements so load changes hit them alike. */
    for (int r = 0; r < runs; r++) {
        snprintf(sub, sizeof sub, "%s/lmdb%d", dir, r);
        mkdir(sub, 0700);
        double sign_before, sign_after;
        db[r] = lmdb_rate(sub, n);
        sha_rec[r] = sha256_mb_per_s(300, (size_t)64 << 20);
        sha_bulk[r] = sha256_mb_per_s((size_t)64 << 10, (size_t)256 << 20);
        /* The sign ceiling brackets the run it bounds (the mean of just before and just
         * after): this machine's speed drifts within seconds. */
        sign_before = sign_rate(n / 4 < 20000 ? 20000 : n / 4);
        api[r] = api_run(bin, dir, port, ev, n, r);
        sign_after = sign_rate(n / 4 < 20000 ? 20000 : n / 4);
        sig[r] = (sign_before + sign_after) / 2;
        fprintf(stderr,
                "run %d: sign %.0f/s (%.0f before, %.0f after), lmdb %.0f puts/s, sha-256 "
                "%.0f MB/s (300 B) %.0f MB/s (64 KiB), api %.0f records/s\n",
                r + 1, sig[r], sign_before, sign_after, db[r], sha_rec[r], sha_bulk[r], api[r]);
    }
    for (int r = 0; r < runs; r++) /* before the medians, which sort their arrays */
        share[r] = api[r] / sig[r]; /* within a run: the machine drifts between runs */
    double ms = bench_median(sig, runs), md = bench_median(db, runs), ma = bench_median(api, runs),
           mh = bench_median(sha_rec, runs), mhb = bench_median(sha_bulk, runs);
    printf("bench_append: %zu events, median of %d runs (2-core machine figures vary +-30%%)\n",
           n, runs);
    printf("  ceiling: Ed25519 sign alone                 %9.0f signatures/s\n", ms);
    printf("  ceiling: LMDB synced puts, batches of 1000  %9.0f puts/s\n", md);
    printf("  ceiling: SHA-256 of 300-byte messages       %9.0f MB/s (%.0f hashes/s)\n", mh,
           mh * 1e6 / 300);
    printf("  ceiling: SHA-256 of 64 KiB blocks           %9.0f MB/s\n", mhb);
    printf("  tracenode append via API (signed, durable)  %9.0f records/s  (%.0f%% of sign, "
           "median within a run)\n",
           ma, 100 * bench_median(share, runs));
    printf("{\"bench\":\"append\",\"events\":%zu,\"runs\":%d,\"sign_per_s\":%.0f,"
           "\"lmdb_puts_per_s\":%.0f,\"sha256_300b_mb_per_s\":%.1f,\"sha256_64k_mb_per_s\":%.1f,"
           "\"records_per_s\":%.0f}\n",
           n, runs, ms, md, mh, mhb, ma);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    for (size_t i = 0; i < n; i++)
        free((char *)ev[i].text);
    free(ev);
    return 0;
}
