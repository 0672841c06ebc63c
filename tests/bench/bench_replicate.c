/* bench_replicate: a fresh node syncs N records from one peer over loopback TCP (Noise
 * transport, every signature verified, every record stored durably), next to the Ed25519
 * verification ceiling measured in the same run (one core, and both cores). Prints the
 * median of several runs; never fails on a slow machine.
 *
 * The clock runs from the follower's start (a fresh data dir) until its own status shows
 * all N records, so it includes the node's start-up and the Noise handshake.
 *
 *   bench_replicate [--records N] [--runs R] [--port P] [--tracenode PATH]
 *
 * The maker listens on 127.0.0.1:P (default 7611), the follower on P+1. The events are
 * bench_node.h's standard ones (records of about 300 bytes). The last line of output is
 * the figures as one JSON object (tests/bench/compare reads it).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_node.h"
#include "crypto/key.h"
#include "proto/ecosystem.h"

struct verify_arg {
    const uint8_t *pk;
    const uint8_t *sig;
    size_t n;
};

static void *verify_loop(void *p)
{
    struct verify_arg *a = p;
    uint8_t msg[300] = {0};
    for (size_t i = 0; i < a->n; i++)
        if (!cry_verify(a->sig, msg, sizeof msg, a->pk))
            bench_die("verify");
    return NULL;
}

/* Ed25519 verifications per second of record-sized messages on `threads` threads. */
static double verify_rate(size_t n, int threads)
{
    struct cry_keypair kp;
    uint8_t msg[300] = {0}, sig[64];
    struct verify_arg a;
    pthread_t t[2];
    double start;

    if (cry_keypair_generate(&kp) != 0)
        bench_die("keygen");
    cry_sign(sig, msg, sizeof msg, &kp);
    a = (struct verify_arg){kp.pk, sig, n};
    start = bench_now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, verify_loop, &a);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    cry_keypair_release(&kp);
    return (double)n * threads / (bench_now() - start);
}

static void make_ecosystem(const char *dir)
{
    uint8_t gov[32], a[32], an[32], b[32], bn[32];
    struct cry_keypair gk;
    char path[512], err[256];
    json_t *doc;

    bench_keyfile(dir, "gov.key", gov);
    bench_keyfile(dir, "a.key", a);
    bench_keyfile(dir, "a-node.key", an);
    bench_keyfile(dir, "b.key", b);
    bench_keyfile(dir, "b-node.key", bn);
    snprintf(path, sizeof path, "%s/gov.key", dir);
    if (cry_keyfile_read(path, &gk, err, sizeof err))
        bench_die(err);
    doc = proto_ecosystem_doc_new("bench", gov);
    if (proto_ecosystem_doc_add_org(doc, "maker", "Maker", a, "manufacturer", an, NULL, err,
                                    sizeof err) ||
        proto_ecosystem_doc_add_org(doc, "follower", "Follower", b, "operator", bn, NULL, err,
                                    sizeof err) ||
        proto_ecosystem_doc_sign(doc, &gk, err, sizeof err))
        bench_die(err);
    snprintf(path, sizeof path, "%s/eco.json", dir);
    if (proto_ecosystem_doc_write(path, doc, err, sizeof err))
        bench_die(err);
    json_decref(doc);
    cry_keypair_release(&gk);
}

static pid_t start_node(const char *bin, const char *dir, const char *who, const char *data,
                        const char *listen, const char *peer)
{
    char eco[512], ok[512], nk[512], logp[512];
    pid_t pid;

    snprintf(eco, sizeof eco, "%s/eco.json", dir);
    snprintf(ok, sizeof ok, "%s/%s.key", dir, who[0] == 'm' ? "a" : "b");
    snprintf(nk, sizeof nk, "%s/%s-node.key", dir, who[0] == 'm' ? "a" : "b");
    snprintf(logp, sizeof logp, "%s/%s.log", dir, who);
    if ((pid = fork()) == 0) {
        if (!freopen(logp, "a", stderr))
            _exit(127);
        if (peer)
            execl(bin, bin, "--data", data, "--ecosystem", eco, "--org", who, "--org-key", ok,
                  "--node-key", nk, "--listen", listen, "--peer", peer, (char *)NULL);
        else
            execl(bin, bin, "--data", data, "--ecosystem", eco, "--org", who, "--org-key", ok,
                  "--node-key", nk, "--listen", listen, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Fills the maker's shard with events 0..n-1. */
static void fill(const char *data, size_t n)
{
    struct api_client c;

    if (bench_node_connect(&c, data) != 0)
        bench_die("maker node did not start");
    bench_node_fill(&c, 0, n, NULL);
    api_client_close(&c);
}

/* The follower's size of the maker's shard and bytes received from peers. */
static int follower_state(struct api_client *c, uint64_t *size, uint64_t *bytes)
{
    struct proto_msg m;
    char err[256];
    const msgpack_object *shards, *peers;

    if (api_client_call(c, PROTO_API_STATUS, &m, err, sizeof err) != 0)
        return -1;
    *size = 0;
    *bytes = 0;
    shards = proto_msg_map_get(m.body, "shards");
    peers = proto_msg_map_get(m.body, "peers");
    for (uint32_t i = 0; shards && i < shards->via.array.size; i++) {
        const msgpack_object *s = &shards->via.array.ptr[i];
        if (proto_msg_str_eq(proto_msg_map_get(s, "org"), "maker"))
            *size = proto_msg_map_get(s, "size")->via.u64;
    }
    for (uint32_t i = 0; peers && i < peers->via.array.size; i++)
        *bytes += proto_msg_map_get(&peers->via.array.ptr[i], "bytes_in")->via.u64;
    proto_msg_release(&m);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 200000;
    int runs = 3;
    const char *bin = getenv("TN_TRACENODE");
    unsigned port = 7611;
    char dir[] = "/tmp/tn-brep-XXXXXX", maker_data[600], cmd[700], maker_addr[32],
         follower_addr[32];
    double rate[16], v1[16], v2[16], wire[16], share[16];
    pid_t maker;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--records") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--tracenode") == 0)
            bin = argv[i + 1];
    }
    if (!bin || runs < 1 || runs > 16 || n == 0 || port == 0 || port > 65534)
        bench_die("usage: bench_replicate [--records N] [--runs R] [--port P] --tracenode PATH");
    snprintf(maker_addr, sizeof maker_addr, "127.0.0.1:%u", port);
    snprintf(follower_addr, sizeof follower_addr, "127.0.0.1:%u", port + 1);
    if (cry_init() || !mkdtemp(dir))
        bench_die("setup");
    make_ecosystem(dir);
    snprintf(maker_data, sizeof maker_data, "%s/maker", dir);
    maker = start_node(bin, dir, "maker", maker_data, maker_addr, NULL);
    fprintf(stderr, "filling the maker's shard with %zu records...\n", n);
    fill(maker_data, n);

    for (int r = 0; r < runs; r++) {
        char data[600];
        struct api_client c;
        uint64_t size = 0, bytes = 0;
        double t0;
        pid_t follower;

        double v1_after, v2_after;
        /* The ceilings bracket the sync they bound (the mean of just before and just
         * after): this machine's speed drifts within seconds. */
        v1[r] = verify_rate(20000, 1);
        v2[r] = verify_rate(20000, 2);
        snprintf(data, sizeof data, "%s/follower%d", dir, r);
        t0 = bench_now();
        follower = start_node(bin, dir, "follower", data, follower_addr, maker_addr);
        if (bench_node_connect(&c, data) != 0)
            bench_die("follower did not start");
        /* poll the follower's own status until it holds everything (or 10 minutes) */
        while (size < n && bench_now() - t0 < 600) {
            usleep(20000);
            if (follower_state(&c, &size, &bytes) != 0)
                bench_die("status");
        }
        rate[r] = (double)size / (bench_now() - t0);
        wire[r] = (double)bytes / (double)(size ? size : 1);
        api_client_close(&c);
        bench_node_stop(follower);
        v2_after = verify_rate(20000, 2);
        v1_after = verify_rate(20000, 1);
        fprintf(stderr, "run %d: %.0f records/s (%llu records, %.0f bytes/record on the wire), "
                        "verify ceiling %.0f/s one core, %.0f/s two (before), %.0f/s and %.0f/s "
                        "(after)\n",
                r + 1, rate[r], (unsigned long long)size, wire[r], v1[r], v2[r], v1_after,
                v2_after);
        v1[r] = (v1[r] + v1_after) / 2;
        v2[r] = (v2[r] + v2_after) / 2;
    }
    bench_node_stop(maker);
    for (int r = 0; r < runs; r++) /* before the medians, which sort their arrays */
        share[r] = rate[r] / v2[r]; /* within a run: the machine drifts between runs */
    {
        double mr = bench_median(rate, runs), m1 = bench_median(v1, runs), m2 = bench_median(v2, runs),
               mw = bench_median(wire, runs);
        printf("bench_replicate: %zu records, median of %d runs\n", n, runs);
        printf("  ceiling: Ed25519 verify, one core           %9.0f /s\n", m1);
        printf("  ceiling: Ed25519 verify, two threads        %9.0f /s\n", m2);
        printf("  fresh node sync over TCP, all verified      %9.0f records/s (%.0f%% of two-thread "
               "verify, median within a run)\n",
               mr, 100 * bench_median(share, runs));
        printf("  bytes on the wire per record (received)     %9.0f\n", mw);
        printf("{\"bench\":\"replicate\",\"records\":%zu,\"runs\":%d,\"records_per_s\":%.0f,"
               "\"verify_1core_per_s\":%.0f,\"verify_2threads_per_s\":%.0f,\"wire_bytes_per_"
               "record\":%.0f}\n",
               n, runs, mr, m1, m2, mw);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
