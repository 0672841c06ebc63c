/* bench_reads: random reads of records by id from one org's shard of N records, one get
 * at a time. A real node makes the shard from N events through the local API and is
 * stopped; then, in this process, each get is what `tracectl get` does once it has the
 * repository open: a read transaction of its own and store_record_load by id (the bytes,
 * hashed against the id, and decoded with every check, as bytes from a peer are). This
 * is the figure to set beside Hypercore's,
 * which is core.get(i) one at a time in its own process: neither pays a process start.
 * Also printed, not compared: the fetch alone (no decode), the mean record size of the
 * shard, and with --tracectl the whole `tracectl get` command for a few hundred ids (a
 * process each, opening the repository and loading the ecosystem), which is what a user
 * at a shell pays. The page cache is warm (the shard was just written), as on Hypercore's
 * side. Medians of several runs; never fails on a slow machine.
 *
 *   bench_reads [--records N] [--reads R] [--runs K] [--port P] [--command-gets M]
 *               --tracenode PATH [--tracectl PATH]
 */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_node.h"
#include "crypto/encode.h"
#include "crypto/key.h"
#include "node/datadir.h"
#include "storage/repo.h"

struct shard {
    struct store_repo *repo;
    uint8_t (*ids)[32]; /* ids[seq] */
    size_t n;
};

/* Gets per second of `reads` random records, each in its own read transaction, loaded as
 * tracectl get loads them when decode is set (otherwise the fetch alone). */
static double get_rate(const struct shard *s, size_t reads, bool decode)
{
    uint32_t *pick = malloc(reads * sizeof *pick);
    double t;

    if (!pick)
        bench_die("out of memory");
    for (size_t i = 0; i < reads; i++)
        pick[i] = randombytes_uniform((uint32_t)s->n);
    t = bench_now();
    for (size_t i = 0; i < reads; i++) {
        struct store_txn *txn;
        struct proto_record r;
        const uint8_t *bytes;
        size_t len;
        char err[256];

        if (store_txn_begin(s->repo, false, &txn) != 0)
            bench_die("cannot begin a read transaction");
        proto_record_init(&r);
        if (decode ? store_record_load(txn, s->ids[pick[i]], &bytes, &len, &r, err, sizeof err)
                   : store_record_get(txn, s->ids[pick[i]], &bytes, &len))
            bench_die("a record the node acknowledged cannot be read");
        proto_record_release(&r);
        store_txn_abort(txn);
    }
    t = bench_now() - t;
    free(pick);
    return (double)reads / t;
}

/* `tracectl get --data DATA ID` as a user runs it, `gets` times with random ids, output
 * to /dev/null: commands per second. */
static double command_rate(const char *tracectl, const char *data, const struct shard *s,
                           size_t gets)
{
    double t = bench_now();

    for (size_t i = 0; i < gets; i++) {
        char hex[CRY_HEX_LEN(32)];
        pid_t pid;
        int st;

        cry_hex(hex, s->ids[randombytes_uniform((uint32_t)s->n)], 32);
        if ((pid = fork()) == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
                _exit(127);
            execl(tracectl, tracectl, "get", "--data", data, hex, (char *)NULL);
            _exit(127);
        }
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bench_die("tracectl get failed");
    }
    return (double)gets / (bench_now() - t);
}

/* Mean size in bytes of the records of the shard. */
static double mean_record_bytes(const struct shard *s)
{
    struct store_txn *txn;
    uint64_t total = 0;

    if (store_txn_begin(s->repo, false, &txn) != 0)
        bench_die("read transaction");
    for (size_t i = 0; i < s->n; i++) {
        const uint8_t *bytes;
        size_t len;
        if (store_record_get(txn, s->ids[i], &bytes, &len) != 0)
            bench_die("a record the node acknowledged cannot be read");
        total += len;
    }
    store_txn_abort(txn);
    return (double)total / (double)s->n;
}

int main(int argc, char **argv)
{
    size_t n = 100000, reads = 10000, command_gets = 200;
    int runs = 3;
    unsigned port = 7621;
    const char *bin = getenv("TN_TRACENODE"), *tracectl = NULL;
    char dir[] = "/tmp/tn-breads-XXXXXX", data[600], cmd[700], err[512];
    double get[16], fetch[16], command[16], record_bytes;
    struct node_paths paths;
    struct api_client c;
    struct shard s = {0};
    pid_t node;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--records") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reads") == 0)
            reads = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--command-gets") == 0)
            command_gets = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--tracenode") == 0)
            bin = argv[i + 1];
        else if (strcmp(argv[i], "--tracectl") == 0)
            tracectl = argv[i + 1];
        else
            bench_die("unknown option; see the comment at the top of bench_reads.c");
    }
    if (!bin || runs < 1 || runs > 16 || n == 0 || n > UINT32_MAX || reads == 0 ||
        command_gets == 0 || port == 0 || port > 65535)
        bench_die("usage: bench_reads [--records N] [--reads R] [--runs K] [--port P] "
                  "[--command-gets M] --tracenode PATH [--tracectl PATH]");
    if (cry_init() || !mkdtemp(dir))
        bench_die("setup");
    bench_ecosystem_one(dir, port);
    snprintf(data, sizeof data, "%s/data", dir);
    if (!(s.ids = malloc(n * sizeof *s.ids)))
        bench_die("out of memory");
    s.n = n;

    fprintf(stderr, "filling a shard with %zu records...\n", n);
    node = bench_node_start(bin, dir, data, port);
    if (bench_node_connect(&c, data) != 0)
        bench_die("tracenode did not start (see node.log in the temp dir)");
    bench_node_fill(&c, 0, n, s.ids);
    api_client_close(&c);
    bench_node_stop(node); /* the reads have the repository to themselves */

    if (node_paths_init(&paths, data, err, sizeof err) != 0 ||
        store_open(paths.db, 0, true, &s.repo, err, sizeof err) != 0)
        bench_die(err);
    record_bytes = mean_record_bytes(&s);
    for (int r = 0; r < runs; r++) {
        get[r] = get_rate(&s, reads, true);
        fetch[r] = get_rate(&s, reads, false);
        command[r] = tracectl ? command_rate(tracectl, data, &s, command_gets) : 0;
        fprintf(stderr, "run %d: %.0f gets/s (fetch, hash, decode), %.0f fetches/s", r + 1, get[r],
                fetch[r]);
        if (tracectl)
            fprintf(stderr, ", %.0f tracectl get commands/s", command[r]);
        fputc('\n', stderr);
    }
    store_close(s.repo);

    double mg = bench_median(get, runs), mf = bench_median(fetch, runs),
           mc = tracectl ? bench_median(command, runs) : 0;
    printf("bench_reads: %zu random gets by id from a shard of %zu records (mean %.0f bytes), "
           "one at a time, median of %d runs\n",
           reads, n, record_bytes, runs);
    printf("  get in-process: read txn, store_record_load         %9.0f gets/s\n", mg);
    printf("  fetch alone (no decode)                             %9.0f gets/s\n", mf);
    if (tracectl)
        printf("  `tracectl get` command, a process per get (%zu)     %9.0f gets/s\n", command_gets,
               mc);
    char command_json[32] = "null"; /* no --tracectl: not measured */
    if (tracectl)
        snprintf(command_json, sizeof command_json, "%.0f", mc);
    printf("{\"bench\":\"reads\",\"records\":%zu,\"reads\":%zu,\"runs\":%d,\"record_bytes_mean\":"
           "%.1f,\"gets_per_s\":%.0f,\"fetch_only_per_s\":%.0f,\"command_gets\":%zu,"
           "\"command_gets_per_s\":%s}\n",
           n, reads, runs, record_bytes, mg, mf, tracectl ? command_gets : 0, command_json);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(s.ids);
    return 0;
}
