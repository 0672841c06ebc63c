/* bench_trace: the verifier over a synthetic pedigree of about 10,000 records across five
 * orgs (raw materials -> parts -> modules -> carrier -> final product), built straight into
 * a repository. Prints trace times, warm and cold (page cache dropped for the database
 * file), with every signature and inclusion proof checked again on every core, and with
 * --trust-store. Medians of several runs; never fails on a slow machine.
 *
 *   bench_trace [--raw N] [--runs R]       N raw items (default 4500: ~10,000 records)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "node/verify.h"

#define ORGS 5

static const char *const org_ids[ORGS] = {"mine", "parts", "modules", "carrier", "grid"};
static const char *const org_roles[ORGS] = {"supplier", "manufacturer", "assembler", "carrier",
                                            "operator,assembler"};

struct org {
    struct cry_keypair kp;
    uint64_t seq;
    uint8_t head[PROTO_ID_LEN];
};

static struct org orgs[ORGS];
static struct proto_ecosystem eco;
static struct store_repo *repo;
static struct store_txn *txn;
static size_t total;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_trace: %s\n", what);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Signs r as org o (filling the chain fields) and appends it; returns its id in id. */
static void put(int o, struct proto_record *r, uint8_t id[PROTO_ID_LEN])
{
    uint8_t bytes[PROTO_RECORD_MAX];
    size_t len;
    bool appended;
    char err[256];

    r->v = PROTO_VERSION;
    r->net = "bench";
    r->org = org_ids[o];
    r->seq = orgs[o].seq;
    r->has_prev = orgs[o].seq > 0;
    memcpy(r->prev, orgs[o].head, PROTO_ID_LEN);
    r->time = 1700000000000ULL + total;
    memcpy(r->signer, orgs[o].kp.pk, CRY_PK_LEN);
    if (proto_record_sign(r, &orgs[o].kp, bytes, sizeof bytes, &len, err, sizeof err) != 0 ||
        store_append(txn, &eco, bytes, len, r, STORE_APPEND_VERIFIED, id, &appended, err,
                     sizeof err) != 0)
        die(err);
    orgs[o].seq++;
    memcpy(orgs[o].head, id, PROTO_ID_LEN);
    total++;
    if (total % 2000 == 0) { /* commit in batches */
        if (store_txn_commit(txn) != 0 || store_txn_begin(repo, true, &txn) != 0)
            die("commit");
    }
}

static void checkpoint_all(void)
{
    for (int o = 0; o < ORGS; o++) {
        struct cry_checkpoint cp;
        char note[CRY_NOTE_MAX];
        size_t len;
        snprintf(cp.origin, sizeof cp.origin, "bench/%s", org_ids[o]);
        cp.size = orgs[o].seq;
        if (store_root(txn, org_ids[o], cp.size, cp.root) != 0 ||
            cry_checkpoint_sign(&cp, &orgs[o].kp, note, sizeof note, &len) != 0 ||
            store_checkpoint_put(txn, org_ids[o], cp.size, note, len) != 0)
            die("checkpoint");
    }
}

static char *item(char *buf, const char *kind, size_t i)
{
    snprintf(buf, 64, "urn:bench:%s:%zu", kind, i);
    return buf;
}

/* Moves items (up to 100 a shipment) from org a to org b; holder[i] gets b's receive. */
static void move(int a, int b, char **items, size_t n, uint8_t (*holder)[PROTO_ID_LEN])
{
    for (size_t i = 0; i < n; i += 100) {
        size_t k = n - i < 100 ? n - i : 100;
        struct proto_record r;
        uint8_t id[PROTO_ID_LEN];
        proto_record_init(&r);
        r.type = PROTO_T_SHIP;
        r.items = (const char **)items + i;
        r.n_items = k;
        r.to = org_ids[b];
        put(a, &r, id);
        proto_record_init(&r);
        r.type = PROTO_T_RECEIVE;
        r.items = (const char **)items + i;
        r.n_items = k;
        r.from = org_ids[a];
        put(b, &r, id);
        for (size_t j = 0; j < k; j++)
            memcpy(holder[i + j], id, PROTO_ID_LEN);
    }
}

static void build(size_t n_raw)
{
    size_t n_mod = (n_raw + 9) / 10;
    char **raw = calloc(n_raw, sizeof *raw), **parts = calloc(n_raw, sizeof *parts),
         **mods = calloc(n_mod, sizeof *mods);
    uint8_t (*h_raw)[PROTO_ID_LEN] = calloc(n_raw, PROTO_ID_LEN),
            (*h_part)[PROTO_ID_LEN] = calloc(n_raw, PROTO_ID_LEN),
            (*h_mod)[PROTO_ID_LEN] = calloc(n_mod, PROTO_ID_LEN);
    struct proto_input *in = calloc(n_mod > 10 ? n_mod : 10, sizeof *in);
    uint8_t id[PROTO_ID_LEN];

    if (!raw || !parts || !mods || !h_raw || !h_part || !h_mod || !in)
        die("memory");
    for (size_t i = 0; i < n_raw; i++) {
        struct proto_record r;
        raw[i] = item(malloc(64), "raw", i);
        parts[i] = item(malloc(64), "part", i);
        proto_record_init(&r);
        r.type = PROTO_T_COMMISSION;
        r.outputs = (const char **)&raw[i];
        r.n_outputs = 1;
        put(0, &r, id);
    }
    move(0, 1, raw, n_raw, h_raw);
    for (size_t i = 0; i < n_raw; i++) { /* one part from each raw item */
        struct proto_record r;
        proto_record_init(&r);
        r.type = PROTO_T_TRANSFORM;
        in[0] = (struct proto_input){.item = raw[i], .has_rec = true};
        memcpy(in[0].rec, h_raw[i], PROTO_ID_LEN);
        r.inputs = in;
        r.n_inputs = 1;
        r.outputs = (const char **)&parts[i];
        r.n_outputs = 1;
        put(1, &r, h_part[i]);
    }
    move(1, 2, parts, n_raw, h_part);
    for (size_t m = 0; m < n_mod; m++) { /* ten parts a module */
        struct proto_record r;
        size_t k = 0;
        mods[m] = item(malloc(64), "module", m);
        for (size_t i = m * 10; i < n_raw && i < m * 10 + 10; i++, k++) {
            in[k] = (struct proto_input){.item = parts[i], .has_rec = true};
            memcpy(in[k].rec, h_part[i], PROTO_ID_LEN);
        }
        proto_record_init(&r);
        r.type = PROTO_T_TRANSFORM;
        r.inputs = in;
        r.n_inputs = k;
        r.outputs = (const char **)&mods[m];
        r.n_outputs = 1;
        put(2, &r, h_mod[m]);
    }
    move(2, 3, mods, n_mod, h_mod);
    move(3, 4, mods, n_mod, h_mod);
    {
        /* ten modules a rack, then every rack into the product (a record holds at most
         * 16 KiB, so the fan-in stays modest) */
        size_t n_rack = (n_mod + 9) / 10;
        char **racks = calloc(n_rack, sizeof *racks);
        uint8_t (*h_rack)[PROTO_ID_LEN] = calloc(n_rack, PROTO_ID_LEN);
        struct proto_record r;
        const char *product = "urn:bench:product";
        if (!racks || !h_rack)
            die("memory");
        for (size_t k = 0; k < n_rack; k++) {
            size_t j = 0;
            racks[k] = item(malloc(64), "rack", k);
            for (size_t m = k * 10; m < n_mod && m < k * 10 + 10; m++, j++) {
                in[j] = (struct proto_input){.item = mods[m], .has_rec = true};
                memcpy(in[j].rec, h_mod[m], PROTO_ID_LEN);
            }
            proto_record_init(&r);
            r.type = PROTO_T_TRANSFORM;
            r.inputs = in;
            r.n_inputs = j;
            r.outputs = (const char **)&racks[k];
            r.n_outputs = 1;
            put(4, &r, h_rack[k]);
        }
        for (size_t k = 0; k < n_rack; k++) {
            in[k] = (struct proto_input){.item = racks[k], .has_rec = true};
            memcpy(in[k].rec, h_rack[k], PROTO_ID_LEN);
        }
        proto_record_init(&r);
        r.type = PROTO_T_AGGREGATE;
        r.inputs = in;
        r.n_inputs = n_rack;
        r.outputs = &product;
        r.n_outputs = 1;
        put(4, &r, id);
        for (size_t k = 0; k < n_rack; k++)
            free(racks[k]);
        free(racks);
        free(h_rack);
    }
    checkpoint_all();
    for (size_t i = 0; i < n_raw; i++) {
        free(raw[i]);
        free(parts[i]);
    }
    for (size_t m = 0; m < n_mod; m++)
        free(mods[m]);
    free(raw);
    free(parts);
    free(mods);
    free(h_raw);
    free(h_part);
    free(h_mod);
    free(in);
}

static double trace_once(const char *dir, bool cold, bool trust, size_t *n_recs, int *verdict)
{
    struct vf_options opt = {.trust_store = trust};
    struct vf_source src;
    struct vf_result res;
    struct store_txn *t;
    char err[256], path[600];
    double t0;

    if (cold) { /* drop the database file from the page cache */
        int fd;
        store_close(repo);
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        if ((fd = open(path, O_RDONLY)) >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
        if (store_open(dir, 0, true, &repo, err, sizeof err) != 0)
            die(err);
    }
    t0 = now();
    if (store_txn_begin(repo, false, &t) != 0)
        die("txn");
    vf_store_source(t, &src);
    if (vf_trace(&src, &eco, "urn:bench:product", &opt, &res) != 0)
        die("trace");
    t0 = now() - t0;
    *n_recs = res.n_recs;
    *verdict = res.verdict;
    vf_result_release(&res);
    store_txn_abort(t);
    return t0 * 1000;
}

int main(int argc, char **argv)
{
    size_t n_raw = 4500;
    int runs = 5;
    char dir[] = "/tmp/tn-btrace-XXXXXX", err[512], text[8192], cmd[600];
    double m[4][16];
    const char *names[4] = {"warm, all signatures checked", "cold, all signatures checked",
                            "warm, --trust-store", "cold, --trust-store"};
    size_t n_recs = 0;
    int verdict = 0, off;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--raw") == 0)
            n_raw = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (runs < 1 || runs > 16 || n_raw == 0)
        die("bad arguments");
    if (cry_init() != 0 || !mkdtemp(dir))
        die("setup");
    off = snprintf(text, sizeof text, "{\"network\":\"bench\",\"governance_key\":\"");
    {
        struct cry_keypair gov;
        char pk[CRY_PK_TEXT_LEN];
        if (cry_keypair_generate(&gov) != 0)
            die("key");
        cry_pk_format(pk, gov.pk);
        off += snprintf(text + off, sizeof text - (size_t)off, "%s\",\"orgs\":[", pk);
        cry_keypair_release(&gov);
    }
    for (int o = 0; o < ORGS; o++) {
        char pk[CRY_PK_TEXT_LEN], roles[128] = "";
        if (cry_keypair_generate(&orgs[o].kp) != 0)
            die("key");
        cry_pk_format(pk, orgs[o].kp.pk);
        for (const char *s = org_roles[o], *c; *s; s = c ? c + 1 : s + strlen(s)) {
            c = strchr(s, ',');
            size_t l = c ? (size_t)(c - s) : strlen(s);
            snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%s\"%.*s\"",
                     roles[0] ? "," : "", (int)l, s);
            if (!c)
                break;
        }
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "%s{\"id\":\"%s\",\"name\":\"%s\",\"key\":\"%s\",\"roles\":[%s]}",
                        o ? "," : "", org_ids[o], org_ids[o], pk, roles);
    }
    snprintf(text + off, sizeof text - (size_t)off, "]}");
    if (proto_ecosystem_parse(text, strlen(text), false, &eco, err, sizeof err) != 0)
        die(err);
    if (store_open(dir, UINT64_C(4) << 30, false, &repo, err, sizeof err) != 0 ||
        store_txn_begin(repo, true, &txn) != 0)
        die(err);
    fprintf(stderr, "building a pedigree from %zu raw items...\n", n_raw);
    build(n_raw);
    if (store_txn_commit(txn) != 0)
        die("commit");

    if (getenv("TN_BENCH_PROFILE")) { /* for profiling one mode: repeat it, print nothing */
        bool trust = strcmp(getenv("TN_BENCH_PROFILE"), "trust") == 0;
        for (int r = 0; r < 10; r++)
            trace_once(dir, false, trust, &n_recs, &verdict);
        return 0;
    }
    for (int r = 0; r < runs; r++) {
        trace_once(dir, false, false, &n_recs, &verdict); /* warm the cache */
        m[0][r] = trace_once(dir, false, false, &n_recs, &verdict);
        m[1][r] = trace_once(dir, true, false, &n_recs, &verdict);
        trace_once(dir, false, true, &n_recs, &verdict);
        m[2][r] = trace_once(dir, false, true, &n_recs, &verdict);
        m[3][r] = trace_once(dir, true, true, &n_recs, &verdict);
    }
    printf("bench_trace: pedigree of %zu records across %d orgs (%zu records in the repo), "
           "verdict %s, median of %d runs\n",
           n_recs, ORGS, total, verdict == VF_OK ? "ok" : "NOT OK", runs);
    for (int k = 0; k < 4; k++) {
        qsort(m[k], (size_t)runs, sizeof m[k][0], cmp_double);
        printf("  %-32s %8.1f ms\n", names[k], runs % 2 ? m[k][runs / 2] :
                                                  (m[k][runs / 2 - 1] + m[k][runs / 2]) / 2);
    }
    printf("{\"bench\":\"trace\",\"records\":%zu,\"warm_ms\":%.1f,\"cold_ms\":%.1f,"
           "\"warm_trust_ms\":%.1f,\"cold_trust_ms\":%.1f}\n",
           n_recs, m[0][runs / 2], m[1][runs / 2], m[2][runs / 2], m[3][runs / 2]);
    store_close(repo);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return verdict == VF_OK ? 0 : 1;
}
